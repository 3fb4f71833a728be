/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vault_plumb - what a sandbox with secrets (TenantVault) looks like
 * from inside, and what the library returns from it, through the public
 * API only:
 *  - each secret's env var holds a placeholder ("petri-vault-" + 32 hex
 *    digits), different in two sandboxes; the caller's exec env may
 *    override it;
 *  - SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, GIT_SSL_CAINFO
 *    name /etc/ssl/certs/ca-certificates.crt and NODE_EXTRA_CA_CERTS
 *    /etc/petri/vault-ca.pem; that bundle is /etc/petri/ca-certificates.crt
 *    (the system's CAs + the vault's CA), read-only; openssl and Python's
 *    ssl both trust the vault's CA through it, and the system's CAs stay;
 *  - a custom root (rootfs "/": its own /etc) gets the bundle over its own
 *    ca-certificates.crt, and NODE_EXTRA_CA_CERTS names that (no /etc/petri);
 *  - the value (given to the code on stdin only, so it is in no file or
 *    environment of its own) is in none of /proc/self/environ,
 *    /proc/1/environ, the CA files, the environment;
 *  - stdout and stderr the library returns (buffered and streamed, also
 *    when the code writes one byte at a time) have the value masked, while
 *    the output counts stay the raw byte counts.
 */
#include <stddef.h>

#include "api_common.h"

#define VALUE "petri-test-vault-value-3b9d1f"

static petri_sandbox *vault_sandbox(const char *name)
{
	petri_secret s = PETRI_SECRET_INIT;
	s.name = name;
	s.value = VALUE;
	s.value_len = strlen(VALUE);
	s.hosts = (const char *const[]){"api.example.test", NULL};
	const petri_secret *list[] = {&s, NULL};
	petri_sandbox_opts o = PETRI_SANDBOX_OPTS_INIT;
	o.language = "python";
	o.net = PETRI_NET_PROXY; /* no .allow: the secret's host is the allowlist */
	o.secrets = list;
	return api_sandbox(&o);
}

static int is_placeholder(const char *s)
{
	static const char prefix[] = "petri-vault-";
	if (strncmp(s, prefix, sizeof(prefix) - 1) != 0)
		return 0;
	s += sizeof(prefix) - 1;
	size_t n = strspn(s, "0123456789abcdef");
	return n == 32 && (s[n] == '\0' || s[n] == '\n');
}

/* Run a shell script with @stdin_data. */
static petri_result *sh_in(petri_sandbox *sb, const char *script, const char *stdin_data)
{
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.argv = (const char *const[]){"/bin/sh", "-c", script, NULL};
	o.timeout_ms = 30000;
	o.stdin_data = stdin_data;
	o.stdin_len = stdin_data ? strlen(stdin_data) : 0;
	return API_EXEC(sb, &o);
}

static void test_placeholder_env(void)
{
	petri_sandbox *a = vault_sandbox("API_TOKEN"), *b = vault_sandbox("API_TOKEN");
	petri_result *ra = API_SH(a, "printf '%s\\n' \"$API_TOKEN\"");
	petri_result *rb = API_SH(b, "printf '%s\\n' \"$API_TOKEN\"");
	char *pa = api_out_str(ra, PETRI_STREAM_STDOUT), *pb = api_out_str(rb, PETRI_STREAM_STDOUT);
	CHECK_MSG(is_placeholder(pa), "API_TOKEN inside is '%s', want a placeholder", pa);
	CHECK_MSG(is_placeholder(pb), "API_TOKEN inside is '%s', want a placeholder", pb);
	CHECK_MSG(strcmp(pa, pb) != 0, "two sandboxes share the placeholder %s", pa);
	free(pa);
	free(pb);
	petri_result_free(ra);
	petri_result_free(rb);

	/* The caller's env is the caller's choice. */
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.argv = (const char *const[]){"/bin/sh", "-c", "printf %s \"$API_TOKEN\"", NULL};
	o.env = (const char *const[]){"API_TOKEN=mine", NULL};
	petri_result *r = API_EXEC(a, &o);
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "mine");
	petri_result_free(r);

	/* The trust variables. */
	r = API_SH(a, "printf '%s|%s|%s|%s|%s' \"$SSL_CERT_FILE\" \"$REQUESTS_CA_BUNDLE\" "
		      "\"$CURL_CA_BUNDLE\" \"$GIT_SSL_CAINFO\" \"$NODE_EXTRA_CA_CERTS\"");
	CHECK_OUT(r, PETRI_STREAM_STDOUT,
		  "/etc/ssl/certs/ca-certificates.crt|/etc/ssl/certs/ca-certificates.crt|"
		  "/etc/ssl/certs/ca-certificates.crt|/etc/ssl/certs/ca-certificates.crt|"
		  "/etc/petri/vault-ca.pem");
	petri_result_free(r);
	petri_sandbox_destroy(a);
	petri_sandbox_destroy(b);

	/* Without secrets: none of them. */
	petri_sandbox *plain = api_sandbox(NULL);
	r = API_SH(plain, "env | grep -c -e '^SSL_CERT_FILE=' -e '^NODE_EXTRA_CA_CERTS=' "
			  "-e petri-vault-; ls /etc/petri 2>&1 >/dev/null | grep -c 'No such'");
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "0\n1\n");
	petri_result_free(r);
	petri_sandbox_destroy(plain);
}

static void test_trust_store(void)
{
	petri_sandbox *sb = vault_sandbox("TOKEN");
	const char *script =
		"set -e; B=/etc/ssl/certs/ca-certificates.crt\n"
		"cmp $B /etc/petri/ca-certificates.crt && echo same\n"
		"openssl verify -CAfile $B /etc/petri/vault-ca.pem\n"
		/* the system's CAs are still there: more than the vault's one */
		"test $(grep -c 'BEGIN CERTIFICATE' $B) -gt 1 && echo system\n"
		"test $(grep -c 'BEGIN CERTIFICATE' /etc/petri/vault-ca.pem) -eq 1 && echo one\n"
		"tail -c $(wc -c < /etc/petri/vault-ca.pem) $B | cmp - /etc/petri/vault-ca.pem && "
		"echo last\n"
		"if echo x >> $B 2>/dev/null; then echo writable; else echo ro; fi\n";
	petri_result *r = API_SH(sb, script);
	char *got = api_out_str(r, PETRI_STREAM_STDOUT), *e = api_out_str(r, PETRI_STREAM_STDERR);
	CHECK_MSG(strcmp(got, "same\n/etc/petri/vault-ca.pem: OK\nsystem\none\nlast\nro\n") == 0,
		  "trust store: stdout '%s' stderr '%s'", got, e);
	free(got);
	free(e);
	petri_result_free(r);

	/* Python's default context (what urllib and requests' ssl use) trusts
	 * the vault's CA, found through SSL_CERT_FILE. */
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.code = "import ssl\n"
		 "pem = open('/etc/petri/vault-ca.pem').read()\n"
		 "der = ssl.PEM_cert_to_DER_cert(pem)\n"
		 "ctx = ssl.create_default_context()\n"
		 "print(der in ctx.get_ca_certs(binary_form=True))\n";
	o.timeout_ms = 30000;
	r = API_EXEC(sb, &o);
	got = api_out_str(r, PETRI_STREAM_STDOUT);
	e = api_out_str(r, PETRI_STREAM_STDERR);
	CHECK_MSG(strcmp(got, "True\n") == 0, "python ssl: stdout '%s' stderr '%s'", got, e);
	free(got);
	free(e);
	petri_result_free(r);
	petri_sandbox_destroy(sb);
}

static void test_custom_root(void)
{
	petri_secret s = PETRI_SECRET_INIT;
	s.name = "TOKEN";
	s.value = VALUE;
	s.value_len = strlen(VALUE);
	s.hosts = (const char *const[]){"api.example.test", NULL};
	const petri_secret *list[] = {&s, NULL};
	petri_sandbox_opts o = PETRI_SANDBOX_OPTS_INIT;
	o.net = PETRI_NET_PROXY;
	o.secrets = list;
	o.rootfs = "/";
	petri_sandbox *sb = api_sandbox(&o);
	FILE *f = fopen("/etc/ssl/certs/ca-certificates.crt", "re");
	if (!f) {
		petri_sandbox_destroy(sb);
		petri_test_skip("the host has no /etc/ssl/certs/ca-certificates.crt");
	}
	int host_certs = 0;
	char line[256];
	while (fgets(line, sizeof(line), f))
		host_certs += strncmp(line, "-----BEGIN CERTIFICATE", 22) == 0;
	fclose(f);
	petri_result *r = API_SH(
		sb, "echo $NODE_EXTRA_CA_CERTS; grep -c 'BEGIN CERTIFICATE' "
		    "/etc/ssl/certs/ca-certificates.crt; test -e /etc/petri || echo no-etc-petri");
	char want[128];
	snprintf(want, sizeof(want), "/etc/ssl/certs/ca-certificates.crt\n%d\nno-etc-petri\n",
		 host_certs + 1);
	CHECK_OUT(r, PETRI_STREAM_STDOUT, want);
	petri_result_free(r);
	petri_sandbox_destroy(sb);
}

static void test_value_nowhere_inside(void)
{
	petri_sandbox *sb = vault_sandbox("TOKEN");
	/* The value comes in on stdin (not argv, not env): any file or
	 * environment holding it is the library's doing. */
	const char *script =
		"read -r V\n"
		"for f in /proc/self/environ /proc/1/environ /proc/$$/environ "
		"/etc/petri/ca-certificates.crt /etc/petri/vault-ca.pem "
		"/etc/ssl/certs/ca-certificates.crt; do\n"
		"  if [ -r $f ]; then grep -qF \"$V\" $f && echo \"FOUND in $f\"; echo \"read $f\"; fi\n"
		"done\n"
		"env | grep -qF \"$V\" && echo 'FOUND in env'\n"
		"echo done\n";
	petri_result *r = sh_in(sb, script, VALUE "\n");
	char *got = api_out_str(r, PETRI_STREAM_STDOUT);
	CHECK_MSG(!strstr(got, "FOUND"), "the value is inside: %s", got);
	CHECK_MSG(strstr(got, "read /proc/self/environ") &&
			  strstr(got, "read /etc/petri/vault-ca.pem") && strstr(got, "done\n"),
		  "the checks did not run: %s", got);
	free(got);
	petri_result_free(r);
	petri_sandbox_destroy(sb);
}

struct chunks {
	char buf[2][4096];
	size_t len[2];
	size_t calls;
};

static int collect(int stream, const char *data, size_t len, void *userdata)
{
	struct chunks *c = userdata;
	int i = stream == PETRI_STREAM_STDERR;
	c->calls++;
	if (c->len[i] + len < sizeof(c->buf[i])) {
		memcpy(c->buf[i] + c->len[i], data, len);
		c->len[i] += len;
	}
	return 0;
}

static int has_value(const char *p, size_t n)
{
	return memmem(p, n, VALUE, strlen(VALUE)) != NULL;
}

static void test_output_scrubbed(void)
{
	petri_sandbox *sb = vault_sandbox("TOKEN");
	const char *stars = "*****************************"; /* strlen(VALUE) */
	CHECK(strlen(stars) == strlen(VALUE));

	/* Buffered: the test put the value into the code (the code never
	 * gets it from the vault); what comes back is masked, same length. */
	petri_result *r = API_SH(sb, "printf 'a " VALUE " b\\n'; printf '" VALUE "' >&2");
	char want[128];
	snprintf(want, sizeof(want), "a %s b\n", stars);
	CHECK_OUT(r, PETRI_STREAM_STDOUT, want);
	CHECK_OUT(r, PETRI_STREAM_STDERR, stars);
	CHECK(petri_result_stdout_total(r) == strlen(want));
	petri_result_free(r);

	/* Streamed, the value one byte per write (so mostly one per read
	 * and feed), with 1000 bytes on each side: more than the scrubber
	 * holds back, so output reaches the callback while the value is
	 * being written.  No chunk boundary lets the value through. */
	struct chunks c = {0};
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.code = "import os, sys, time\n"
		 "for fd in (1, 2):\n"
		 "    os.write(fd, b'A' * 1000); time.sleep(0.02)\n"
		 "    for b in b'<" VALUE ">':\n"
		 "        os.write(fd, bytes([b])); time.sleep(0.002)\n"
		 "    os.write(fd, b'B' * 1000)\n";
	o.on_output = collect;
	o.userdata = &c;
	o.timeout_ms = 30000;
	r = API_EXEC(sb, &o);
	static char big[2100];
	memset(big, 'A', 1000);
	snprintf(big + 1000, sizeof(big) - 1000, "<%s>", stars);
	memset(big + 1000 + strlen(stars) + 2, 'B', 1000);
	big[2000 + strlen(stars) + 2] = '\0';
	size_t n = strlen(big);
	for (int i = 0; i < 2; i++)
		CHECK_MSG(c.len[i] == n && memcmp(c.buf[i], big, n) == 0,
			  "streamed %s: %zu bytes '%.*s', want %zu", i ? "stderr" : "stdout",
			  c.len[i], (int)c.len[i], c.buf[i], n);
	CHECK(!has_value(c.buf[0], c.len[0]) && !has_value(c.buf[1], c.len[1]));
	CHECK_OUT(r, PETRI_STREAM_STDOUT, big);
	CHECK_OUT(r, PETRI_STREAM_STDERR, big);
	CHECK(petri_result_stdout_total(r) == n && petri_result_stderr_total(r) == n);
	CHECK_MSG(c.calls > 4, "only %zu callbacks: the output came in one piece", c.calls);
	petri_result_free(r);
	petri_sandbox_destroy(sb);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(placeholder_env), PETRI_TEST_CASE(trust_store),
	PETRI_TEST_CASE(custom_root),     PETRI_TEST_CASE(value_nowhere_inside),
	PETRI_TEST_CASE(output_scrubbed), {NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
