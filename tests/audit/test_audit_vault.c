/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_audit_vault.c - TenantVault's audit events (issue 13, item 5),
 * written through the library's own hooks, petri__audit_vault_use() and
 * petri__audit_vault_misuse() (libpetri/audit_hooks.c), on a real sandbox
 * with a secret whose stream is a file, without the proxy: the tests call
 * the hooks as the proxy's thread does.
 *
 *  use_fields      SecretUse: one event per use, with the secret's name,
 *                  host, port, method, path, destination, exec_id empty
 *                  (no exec running); an index outside the vault writes
 *                  nothing; round trip through the library's reader; the
 *                  chain verifies
 *  misuse_fields   SecretMisuse of each kind (host, plain HTTP, foreign
 *                  token with an empty name, DNS: no host, port 53)
 *  never_the_value the hooks get the value itself in the path and host (as
 *                  if a proxy bug passed it): the stream's
 *                  bytes hold it nowhere, the fields hold '*' instead
 *  no_stream       a sandbox without a stream: the hooks do nothing
 *  cli             `petri audit json`: SecretUse is OCSF HTTP Activity 4002
 *                  (http_request with the https URL, the secret's name in
 *                  enrichments), SecretMisuse Detection Finding 2004
 *                  (finding_info, severity High, action Denied)
 * With `--write FILE` it writes the stream of the cli case to FILE (ctest
 * then checks it with check_json.py).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "host.h"
#include "net/vault.h"
#include "petri/audit.h"
#include "petri/audit/v1/audit.pb-c.h"
#include "petri_test.h"
#include "audit_stream.h"

typedef Petri__Audit__V1__Event Ev;

#define VALUE "petri-audit-vault-value-51c0"
#define STARS "****************************" /* strlen(VALUE) */
#define REFUSED "request refused: nothing was sent"

static char stream_path[64];

static void cleanup(void)
{
	if (stream_path[0])
		unlink(stream_path);
}

/* A sandbox with two secrets (API_KEY, DB_PASS) sending to the stream
 * file @path, or to a new temporary one when @path is NULL; @audit 0: no
 * stream at all. */
static petri_sandbox *vault_sandbox(petri_audit **a, const char *path, int audit)
{
	petri_error *e = NULL;
	*a = NULL;
	if (audit) {
		petri_audit_opts ao = PETRI_AUDIT_OPTS_INIT;
		if (!path) {
			snprintf(stream_path, sizeof(stream_path), "/tmp/petri-audit-vault-XXXXXX");
			int fd = mkstemp(stream_path);
			REQUIRE(fd >= 0);
			close(fd);
			atexit(cleanup);
			path = stream_path;
		}
		ao.sink = PETRI_AUDIT_SINK_FILE;
		ao.path = path;
		REQUIRE(petri_audit_open(a, &ao, &e) == 0);
	}
	petri_secret s1 = PETRI_SECRET_INIT, s2 = PETRI_SECRET_INIT;
	s1.name = "API_KEY";
	s1.value = VALUE;
	s1.value_len = strlen(VALUE);
	s1.hosts = (const char *const[]){"api.example.test", NULL};
	s2.name = "DB_PASS";
	s2.value = "another-value-entirely";
	s2.value_len = strlen("another-value-entirely");
	s2.hosts = (const char *const[]){"api.example.test", "db.example.test:8443", NULL};
	const petri_secret *list[] = {&s1, &s2, NULL};
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.audit = *a;
	so.net = PETRI_NET_PROXY;
	so.secrets = list;
	petri_sandbox *sb = NULL;
	int r = petri_sandbox_create(petri_test_ctx(), &so, &sb, &e);
	CHECK_MSG(r == 0, "create: %s", petri_error_message(e));
	petri_error_free(e);
	REQUIRE(r == 0 && sb);
	return sb;
}

static void destroy_and_close(petri_sandbox *sb, petri_audit *a)
{
	petri_error *e = NULL;
	petri_sandbox_destroy(sb);
	if (!a)
		return;
	int r = petri_audit_close(a, &e);
	CHECK_MSG(r == 0, "close: %s", petri_error_message(e));
	petri_error_free(e);
}

#define STR_EQ(a, b)                                                                               \
	CHECK_MSG((a) && strcmp((a), (b)) == 0, "%s = '%.80s', want '%.80s'", #a, (a), (b))

/* The events of @kind of a stream, in order. */
static size_t pick(const struct audit_events *es, int kind, const Ev **out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < es->n; i++)
		if (es->kind[i] == kind && n < cap)
			out[n++] = es->ev[i];
	return n;
}

/* What the tests write, as the proxy calls the hooks: one request carrying
 * both secrets (one use each), one carrying DB_PASS, and four misuses. */
static void write_events(petri_sandbox *sb)
{
	const char *path = "/v1/chat?key=petri-vault-00112233445566778899aabbccddeeff";
	petri__audit_vault_use(sb, 0, "api.example.test", 443, "POST", path);
	petri__audit_vault_use(sb, 1, "api.example.test", 443, "POST", path);
	petri__audit_vault_use(sb, 1, "db.example.test", 8443, "GET", "/");
	petri__audit_vault_use(sb, 2, "db.example.test", 8443, "GET", "/"); /* no such secret */
	petri__audit_vault_use(sb, -1, "db.example.test", 8443, "GET", "/");

	struct petri_vault_finding m[] = {
		{PETRI_VAULT_MISUSE_HOST, 0, 0, "header"},
		{PETRI_VAULT_MISUSE_PLAIN_HTTP, 1, 0, "request line"},
		{PETRI_VAULT_MISUSE_FOREIGN, -1, 0, "body"},
		{PETRI_VAULT_MISUSE_DNS, 0, 0, "dns"},
	};
	petri__audit_vault_misuse(sb, &m[0], "evil.example", 443);
	petri__audit_vault_misuse(sb, &m[1], "api.example.test", 80);
	petri__audit_vault_misuse(sb, &m[2], "api.example.test", 443);
	petri__audit_vault_misuse(sb, &m[3], "", 53);
}

static void test_use_fields(void)
{
	petri_audit *a;
	petri_sandbox *sb = vault_sandbox(&a, NULL, 1);
	char id[PETRI_ID_MAX + 1];
	snprintf(id, sizeof(id), "%s", petri_sandbox_id(sb));
	write_events(sb);
	destroy_and_close(sb, a);

	struct audit_events es = audit_read_path(stream_path, 0);
	const Ev *u[8];
	size_t n = pick(&es, PETRI_AUDIT_KIND_SECRET_USE, u, 8);
	REQUIRE(n == 3); /* indexes outside the vault write nothing */
	const char *names[] = {"API_KEY", "DB_PASS", "DB_PASS"};
	for (size_t i = 0; i < n; i++) {
		const Petri__Audit__V1__SecretUse *s = u[i]->secret_use;
		REQUIRE(s);
		STR_EQ(u[i]->sandbox_id, id);
		STR_EQ(u[i]->exec_id, "");
		CHECK(u[i]->process == NULL);
		STR_EQ(s->name, names[i]);
		CHECK(s->allowed);
	}
	const Petri__Audit__V1__SecretUse *s = u[0]->secret_use;
	STR_EQ(s->host, "api.example.test");
	CHECK(s->port == 443);
	STR_EQ(s->destination, "api.example.test:443");
	STR_EQ(s->http_method, "POST");
	STR_EQ(s->http_path, "/v1/chat?key=petri-vault-00112233445566778899aabbccddeeff");
	s = u[2]->secret_use;
	STR_EQ(s->destination, "db.example.test:8443");
	STR_EQ(s->http_method, "GET");
	CHECK(s->http_path_raw.len == 0);
	audit_events_free(&es);
}

static void test_misuse_fields(void)
{
	petri_audit *a;
	petri_sandbox *sb = vault_sandbox(&a, NULL, 1);
	write_events(sb);
	destroy_and_close(sb, a);

	struct audit_events es = audit_read_path(stream_path, 0);
	const Ev *m[8];
	size_t n = pick(&es, PETRI_AUDIT_KIND_SECRET_MISUSE, m, 8);
	REQUIRE(n == 4);
	const struct {
		const char *name;
		int kind;
		const char *host;
		uint32_t port;
		const char *where, *detail;
	} want[] = {
		{"API_KEY", PETRI__AUDIT__V1__SECRET_MISUSE__KIND__KIND_HOST, "evil.example", 443,
		 "header", REFUSED},
		{"DB_PASS", PETRI__AUDIT__V1__SECRET_MISUSE__KIND__KIND_PLAIN_HTTP,
		 "api.example.test", 80, "request line", REFUSED},
		{"", PETRI__AUDIT__V1__SECRET_MISUSE__KIND__KIND_FOREIGN, "api.example.test", 443,
		 "body", REFUSED},
		{"API_KEY", PETRI__AUDIT__V1__SECRET_MISUSE__KIND__KIND_DNS, "", 53, "dns",
		 "query refused: nothing was sent"},
	};
	for (size_t i = 0; i < n; i++) {
		const Petri__Audit__V1__SecretMisuse *x = m[i]->secret_misuse;
		REQUIRE(x);
		STR_EQ(x->name, want[i].name);
		CHECK_MSG((int)x->kind == want[i].kind, "misuse %zu: kind %d", i, (int)x->kind);
		STR_EQ(x->host, want[i].host);
		CHECK(x->port == want[i].port);
		STR_EQ(x->where, want[i].where);
		STR_EQ(x->detail, want[i].detail);
	}
	audit_events_free(&es);
}

static void test_never_the_value(void)
{
	petri_audit *a;
	petri_sandbox *sb = vault_sandbox(&a, NULL, 1);
	petri__audit_vault_use(sb, 0, "h" VALUE ".example", 443, "GET", "/?k=" VALUE);
	struct petri_vault_finding m = {PETRI_VAULT_MISUSE_HOST, 0, 0, "header"};
	petri__audit_vault_misuse(sb, &m, VALUE, 443);
	destroy_and_close(sb, a);

	FILE *fp = fopen(stream_path, "rb");
	REQUIRE(fp);
	static char buf[1 << 20];
	size_t len = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	CHECK_MSG(!memmem(buf, len, VALUE, strlen(VALUE)), "the stream holds the value");
	struct audit_events es = audit_read_path(stream_path, 0);
	const Ev *u[2], *x[2];
	REQUIRE(pick(&es, PETRI_AUDIT_KIND_SECRET_USE, u, 2) == 1);
	REQUIRE(pick(&es, PETRI_AUDIT_KIND_SECRET_MISUSE, x, 2) == 1);
	STR_EQ(u[0]->secret_use->http_path, "/?k=" STARS);
	STR_EQ(u[0]->secret_use->host, "h" STARS ".example");
	STR_EQ(x[0]->secret_misuse->host, STARS);
	audit_events_free(&es);
}

static void test_no_stream(void)
{
	petri_audit *a;
	petri_sandbox *sb = vault_sandbox(&a, NULL, 0);
	write_events(sb); /* nothing to write to: no crash, nothing done */
	petri__audit_vault_suppressed(sb, 1, 5);
	destroy_and_close(sb, a);
}

/* ---- the CLI ------------------------------------------------------------- */

static json_object *jget(json_object *o, const char *path)
{
	char key[64];
	while (o && *path) {
		size_t n = strcspn(path, ".");
		REQUIRE(n < sizeof(key));
		memcpy(key, path, n);
		key[n] = '\0';
		if (json_object_is_type(o, json_type_array)) {
			o = json_object_array_get_idx(o, (size_t)atoi(key));
		} else if (!json_object_object_get_ex(o, key, &o)) {
			return NULL;
		}
		path += n + (path[n] == '.');
	}
	return o;
}

#define J_INT(o, path, want)                                                                       \
	do {                                                                                       \
		json_object *v_ = jget((o), (path));                                               \
		CHECK_MSG(v_ &&json_object_get_int64(v_) == (int64_t)(want), "%s = %s, want %lld", \
			  (path), v_ ? json_object_to_json_string(v_) : "none",                    \
			  (long long)(want));                                                      \
	} while (0)
#define J_STR(o, path, want)                                                                       \
	do {                                                                                       \
		json_object *v_ = jget((o), (path));                                               \
		CHECK_MSG(v_ &&json_object_is_type(v_, json_type_string) &&                        \
				  strcmp(json_object_get_string(v_), (want)) == 0,                 \
			  "%s = %.120s, want %.120s", (path),                                      \
			  v_ ? json_object_to_json_string(v_) : "none", (want));                   \
	} while (0)

static void test_cli(void)
{
	REQUIRE(getenv("PETRI_CLI")); /* (ctest sets it) */
	petri_audit *a;
	petri_sandbox *sb = vault_sandbox(&a, NULL, 1);
	write_events(sb);
	destroy_and_close(sb, a);

	char *out = NULL, *err = NULL;
	const char *json[] = {"audit", "json", stream_path, NULL};
	int rc = petri_test_cli(json, &out, &err);
	CHECK_MSG(rc == 0, "json: %d %s", rc, err);
	json_object *use[3] = {NULL}, *mis[4] = {NULL};
	size_t nu = 0, nm = 0;
	for (char *save = NULL, *line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		json_object *o = json_tokener_parse(line);
		CHECK_MSG(o != NULL, "not JSON: %.200s", line);
		json_object *kind = jget(o, "unmapped.petri.kind");
		const char *k = kind ? json_object_get_string(kind) : "";
		if (strcmp(k, "secret_use") == 0 && nu < 3)
			use[nu++] = o;
		else if (strcmp(k, "secret_misuse") == 0 && nm < 4)
			mis[nm++] = o;
		else
			json_object_put(o);
	}
	REQUIRE(nu == 3 && nm == 4);

	J_INT(use[0], "class_uid", 4002);
	J_STR(use[0], "class_name", "HTTP Activity");
	J_INT(use[0], "category_uid", 4);
	J_INT(use[0], "activity_id", 6);
	J_STR(use[0], "activity_name", "Post");
	J_INT(use[0], "type_uid", 400206);
	J_INT(use[0], "status_id", 1);
	J_STR(use[0], "http_request.http_method", "POST");
	J_STR(use[0], "http_request.url.url_string",
	      "https://api.example.test/v1/chat?key=petri-vault-00112233445566778899aabbccddeeff");
	J_STR(use[0], "dst_endpoint.hostname", "api.example.test");
	J_INT(use[0], "dst_endpoint.port", 443);
	J_STR(use[0], "enrichments.0.name", "secret");
	J_STR(use[0], "enrichments.0.value", "API_KEY");
	J_STR(use[0], "enrichments.0.data.destination", "api.example.test:443");
	J_STR(use[1], "enrichments.0.value", "DB_PASS");
	J_STR(use[2], "http_request.url.url_string", "https://db.example.test:8443/");
	J_INT(use[2], "activity_id", 3);
	J_STR(use[0], "unmapped.petri.secret_use.name", "API_KEY");

	J_INT(mis[0], "class_uid", 2004);
	J_STR(mis[0], "class_name", "Detection Finding");
	J_INT(mis[0], "category_uid", 2);
	J_STR(mis[0], "category_name", "Findings");
	J_INT(mis[0], "activity_id", 1);
	J_INT(mis[0], "type_uid", 200401);
	J_INT(mis[0], "severity_id", 4);
	J_INT(mis[0], "action_id", 2);
	J_INT(mis[0], "disposition_id", 2);
	J_STR(mis[0], "finding_info.title", "secret placeholder refused: host API_KEY");
	J_STR(mis[0], "finding_info.types.0", "petri.vault.misuse.host");
	J_STR(mis[0], "finding_info.desc", REFUSED);
	CHECK(jget(mis[0], "finding_info.uid") &&
	      strlen(json_object_get_string(jget(mis[0], "finding_info.uid"))) == 64);
	J_STR(mis[0], "dst_endpoint.hostname", "evil.example");
	J_STR(mis[0], "enrichments.0.value", "API_KEY");
	J_STR(mis[1], "finding_info.types.0", "petri.vault.misuse.plain_http");
	J_STR(mis[2], "finding_info.title", "secret placeholder refused: foreign");
	J_STR(mis[3], "finding_info.types.0", "petri.vault.misuse.dns");
	J_INT(mis[3], "dst_endpoint.port", 53);
	J_STR(mis[3], "unmapped.petri.secret_misuse.kind", "dns");
	for (int i = 0; i < 3; i++)
		json_object_put(use[i]);
	for (int i = 0; i < 4; i++)
		json_object_put(mis[i]);
	free(out);
	free(err);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(use_fields),
	PETRI_TEST_CASE(misuse_fields),
	PETRI_TEST_CASE(never_the_value),
	PETRI_TEST_CASE(no_stream),
	PETRI_TEST_CASE(cli),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write") == 0) {
		petri_audit *a;
		petri_sandbox *sb = vault_sandbox(&a, argv[2], 1);
		write_events(sb);
		destroy_and_close(sb, a);
		return petri_test_failures ? 1 : 0;
	}
	return petri_test_main(argc, argv, cases);
}
