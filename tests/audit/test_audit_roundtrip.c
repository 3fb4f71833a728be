/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_audit_roundtrip - every event kind survives encode -> stream ->
 * decode field by field (checked with protobuf-c on the raw frames), the
 * library's reader verifies the chain and reports seq and kind of each
 * event, both formats render every event, and bad arguments are refused.
 * A stream written by someone else, whose strings hold bytes that are not
 * UTF-8, still formats to valid JSON (each such byte as U+FFFD).
 * With `--write FILE` it checks the sample stream and writes it to FILE
 * (for the independent Python decoder and the CLI tests) instead of
 * running the cases.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "petri_test.h"
#include "audit_sample.h"
#include "audit_stream.h"
#include "petri/audit/v1/audit.pb-c.h"

#include <json-c/json.h>

static void check_reader(const uint8_t *buf, size_t len)
{
	static const int kinds[SAMPLE_EVENTS] = {16, 18, 20, 22, 23, 25, 26, 32, 33,
						 27, 28, 29, 24, 30, 21, 19, 17};
	/* Read (and verify) with the reader, every event formatted both ways. */
	struct audit_events es = audit_read_mem(buf, len, AUDIT_READ_JSON | AUDIT_READ_TEXT);
	CHECK_MSG(es.n == SAMPLE_EVENTS, "%zu events", es.n);
	for (int n = 0; n < (int)es.n && n < SAMPLE_EVENTS; n++) {
		CHECK(es.seq[n] == (uint64_t)n);
		CHECK_MSG(es.kind[n] == kinds[n], "event %d kind %d", n, es.kind[n]);
		CHECK(es.raw_len[n] > 34);
		const char *text = es.text[n], *json = es.json[n];
		if (text && json) {
			char want[64];
			snprintf(want, sizeof(want), "\"sequence\":%d,", n);
			CHECK_MSG(strstr(json, want) != NULL, "json lacks %s: %s", want, json);
			CHECK(strchr(json, '\n') == NULL && strchr(text, '\n') == NULL);
			CHECK(strstr(text, petri_audit_kind_name(kinds[n])) != NULL);
			if (kinds[n] == PETRI_AUDIT_KIND_FILE_ACTIVITY) {
				CHECK(strstr(json, "\"class_uid\":1001") != NULL);
				CHECK(strstr(json, "\"activity_name\":\"Rename\"") != NULL);
				/* Quotes and newlines are escaped; invalid UTF-8
				 * became U+FFFD when the event was written. */
				CHECK(strstr(json, "/workspace/a\\n\\\"b\\\"") != NULL);
				CHECK(strstr(json, "/workspace/\xef\xbf\xbd\xef\xbf\xbd") != NULL);
				CHECK(strstr(json, "\"path_source\":\"kernel_file\"") != NULL);
				CHECK(strstr(text, "op=rename") != NULL);
				CHECK(strstr(text,
					     "path2=\"/workspace/\\xef\\xbf\\xbd\\xef\\xbf\\xbd\"") !=
				      NULL);
			}
			if (kinds[n] == PETRI_AUDIT_KIND_NETWORK_ACTIVITY) {
				CHECK(strstr(json, "\"class_uid\":4001") != NULL);
				CHECK(strstr(json, "\"activity_name\":\"Refuse\"") != NULL);
				CHECK(strstr(json,
					     "\"dst_endpoint\":{\"ip\":\"93.184.216.34\",\"port\":443}") !=
				      NULL);
				CHECK(strstr(json, "\"address\":\"5db8d822\"") != NULL);
			}
			if (kinds[n] == PETRI_AUDIT_KIND_NET_CONNECTION) {
				/* A plain HTTP request: HTTP Activity, Get. */
				CHECK(strstr(json, "\"class_uid\":4002") != NULL);
				CHECK(strstr(json, "\"type_uid\":400203") != NULL);
				CHECK(strstr(json, "\"http_method\":\"GET\"") != NULL);
				CHECK(strstr(json, "\"path\":\"/simple/\xef\xbf\xbdpkg/\"") !=
				      NULL);
				CHECK(strstr(text, "decision=allowed") != NULL);
				CHECK(strstr(text, "via=proxy protocol=http") != NULL);
			}
			if (kinds[n] == PETRI_AUDIT_KIND_DNS_QUERY) {
				CHECK(strstr(json, "\"class_uid\":4003") != NULL);
				CHECK(strstr(json, "\"rcode\":\"NXDomain\"") != NULL);
				CHECK(strstr(json, "\"type\":\"TXT\"") != NULL);
				CHECK(strstr(text, "qtype=16 rcode=3 decision=denied") != NULL);
				CHECK(strstr(text, "transport=udp") != NULL);
			}
			if (kinds[n] == PETRI_AUDIT_KIND_PROCESS_EXEC)
				CHECK(strstr(json, "\"class_uid\":1007") != NULL &&
				      strstr(json, "\"activity_name\":\"Launch\"") != NULL);
			if (kinds[n] == PETRI_AUDIT_KIND_SECRET_USE)
				CHECK(strstr(json, "OPENAI_KEY") != NULL);
		}
	}
	audit_events_free(&es);

	/* verify() leaves first_bad_seq alone on success. */
	petri_audit_reader_opts o = PETRI_AUDIT_READER_OPTS_INIT;
	o.source = PETRI_AUDIT_SRC_MEMORY;
	o.data = buf;
	o.data_len = len;
	petri_audit_reader *r = NULL;
	petri_error *err = NULL;
	REQUIRE(petri_audit_reader_open(&r, &o, &err) == 0);
	uint64_t bad = 99;
	CHECK_MSG(petri_audit_reader_verify(r, &bad, &err) == 0, "verify: %s",
		  petri_error_message(err));
	CHECK(bad == 99); /* untouched on success */
	petri_audit_reader_close(r);
	petri_error_free(err);
}

/* The writer repairs UTF-8 on the way in, but a stream from elsewhere need
 * not: protobuf-c packs a `string` as the bytes it holds.  A crafted event
 * with invalid UTF-8 (lone, truncated, overlong, surrogate), control
 * characters, quotes and valid multi-byte text in its strings formats to
 * JSON that json-c parses back, valid UTF-8, every invalid byte as one
 * U+FFFD and every other character as it was. */
#define FFFD "\xef\xbf\xbd"
static void check_json_bytes(void)
{
	static const char bad[] = "a\xff"
				  "b\xe2\x82"
				  "c\xc0\xaf"
				  "d\xed\xa0\x80"
				  "e\x01\x1f\x7f\"\\/ \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
	static const char want[] = "a" FFFD "b" FFFD FFFD "c" FFFD FFFD "d" FFFD FFFD FFFD
				   "e\x01\x1f\x7f\"\\/ \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
	Petri__Audit__V1__Event ev = PETRI__AUDIT__V1__EVENT__INIT;
	Petri__Audit__V1__Process p = PETRI__AUDIT__V1__PROCESS__INIT;
	Petri__Audit__V1__ProcessExec x = PETRI__AUDIT__V1__PROCESS_EXEC__INIT;
	char *argv[] = {(char *)bad, (char *)"ok"};
	ev.seq = 3;
	ev.sandbox_id = (char *)bad;
	p.comm = (char *)bad;
	ev.process = &p;
	x.filename = (char *)bad;
	x.n_argv = 2;
	x.argv = argv;
	ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_PROCESS_EXEC;
	ev.process_exec = &x;
	uint8_t buf[1024];
	size_t n = petri__audit__v1__event__get_packed_size(&ev);
	REQUIRE(n + 2 <= sizeof(buf) && n < 16384);
	buf[0] = (uint8_t)(n | 0x80);
	buf[1] = (uint8_t)(n >> 7);
	petri__audit__v1__event__pack(&ev, buf + 2);

	/* One event, no chain: read without verifying. */
	struct audit_events es = audit_read_mem(
		buf, n + 2, AUDIT_READ_NO_VERIFY | AUDIT_READ_JSON | AUDIT_READ_TEXT);
	REQUIRE(es.n == 1);
	const char *json = es.json[0], *text = es.text[0];
	CHECK_MSG(strstr(json, "\xff") == NULL && strstr(json, "\xc0") == NULL, "raw bytes: %s",
		  json);
	json_tokener *tok = json_tokener_new();
	REQUIRE(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	json_object *root = json_tokener_parse_ex(tok, json, (int)strlen(json));
	CHECK_MSG(root && json_tokener_get_error(tok) == json_tokener_success,
		  "not strict UTF-8 JSON (%s): %s",
		  json_tokener_error_desc(json_tokener_get_error(tok)), json);
	json_object *pe = NULL, *v = NULL;
	const char *paths[][4] = {
		{"unmapped", "petri", "sandbox_id", NULL},
		{"actor", "process", "name", NULL},
		{"unmapped", "petri", "process", "comm"},
		{"unmapped", "petri", "process_exec", "filename"},
	};
	for (size_t i = 0; root && i < sizeof(paths) / sizeof(paths[0]); i++) {
		v = root;
		for (int k = 0; k < 4 && paths[i][k] && v; k++)
			v = json_object_object_get_ex(v, paths[i][k], &v) ? v : NULL;
		CHECK_MSG(v && strcmp(json_object_get_string(v), want) == 0, "%s.%s: %s",
			  paths[i][1], paths[i][2], v ? json_object_get_string(v) : "(missing)");
	}
	if (root && json_object_object_get_ex(root, "unmapped", &pe) &&
	    json_object_object_get_ex(pe, "petri", &pe) &&
	    json_object_object_get_ex(pe, "process_exec", &pe) &&
	    json_object_object_get_ex(pe, "argv", &v)) {
		CHECK(json_object_array_length(v) == 2);
		CHECK(strcmp(json_object_get_string(json_object_array_get_idx(v, 0)), want) == 0);
		CHECK(strcmp(json_object_get_string(json_object_array_get_idx(v, 1)), "ok") == 0);
	} else {
		CHECK_MSG(0, "no unmapped.petri.process_exec.argv: %s", json);
	}
	/* The text format shows the exact bytes, escaped. */
	CHECK_MSG(strstr(text, "comm=\"a\\xffb\\xe2\\x82c") != NULL, "text: %s", text);
	json_object_put(root);
	json_tokener_free(tok);
	audit_events_free(&es);
}

static void check_bad_args(void)
{
	petri_audit *a = NULL;
	petri_error *err = NULL;
	CHECK(petri_audit_open(&a, NULL, NULL) == -EINVAL);
	petri_audit_opts o = PETRI_AUDIT_OPTS_INIT;
	CHECK(petri_audit_open(&a, &o, &err) == -EINVAL); /* no sink */
	CHECK(err && strstr(petri_error_message(err), "sink") != NULL);
	petri_error_free(err);
	err = NULL;
	o.sink = PETRI_AUDIT_SINK_FILE;
	o.path = "/nonexistent-dir/x.audit";
	CHECK(petri_audit_open(&a, &o, &err) == -ENOENT);
	CHECK(err && strstr(petri_error_message(err), "/nonexistent-dir/x.audit") != NULL);
	petri_error_free(err);
	err = NULL;
	o.sink = PETRI_AUDIT_SINK_FD;
	o.fd = -1;
	CHECK(petri_audit_open(&a, &o, NULL) == -EBADF);
	CHECK(a == NULL);
	CHECK(petri_audit_close(NULL, NULL) == 0);
	petri_audit_reader_free(NULL);

	struct mem_sink m;
	a = sample_open_mem(&m);
	CHECK(petri_audit_emit_encoded(a, "\xff\xff\xff", 3, &err) == -EBADMSG);
	petri_error_free(err);
	err = NULL;
	/* A StreamHeader cannot be injected. */
	Petri__Audit__V1__Event ev = PETRI__AUDIT__V1__EVENT__INIT;
	Petri__Audit__V1__StreamHeader h = PETRI__AUDIT__V1__STREAM_HEADER__INIT;
	ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_STREAM_HEADER;
	ev.stream_header = &h;
	uint8_t buf[64];
	size_t n = petri__audit__v1__event__pack(&ev, buf);
	CHECK(petri_audit_emit_encoded(a, buf, n, NULL) == -EINVAL);
	CHECK(petri_audit_emit_encoded(a, "", 0, NULL) == -EINVAL); /* no body */
	CHECK(petri_audit_emit_denial(a, "s", "e", NULL, 99, "x", 1, "", NULL) == -EINVAL);
	CHECK(petri_audit_emit_limit_hit(a, "s", "e", NULL, NULL, 1, 1, NULL) == -EINVAL);
	/* Too big. */
	char *big = malloc(2 << 20);
	REQUIRE(big);
	memset(big, 'a', (2 << 20) - 1);
	big[(2 << 20) - 1] = '\0';
	CHECK(petri_audit_emit_sandbox_destroyed(a, "sb", big, NULL) == -E2BIG);
	free(big);
	petri_audit_stats st = {.sz = sizeof(st)};
	CHECK(petri_audit_get_stats(a, &st) == 0);
	CHECK(st.emitted == 1 && st.lost_queue == 0);
	CHECK(petri_audit_close(a, NULL) == 0);
	/* The refused events left the chain intact. */
	petri_audit_reader_opts ro = PETRI_AUDIT_READER_OPTS_INIT;
	ro.source = PETRI_AUDIT_SRC_MEMORY;
	ro.data = m.p;
	ro.data_len = m.len;
	petri_audit_reader *r;
	REQUIRE(petri_audit_reader_open(&r, &ro, NULL) == 0);
	CHECK(petri_audit_reader_verify(r, NULL, NULL) == 0);
	petri_audit_reader_close(r);
	free(m.p);

	ro.source = 77;
	CHECK(petri_audit_reader_open(&r, &ro, NULL) == -EINVAL);
	ro.source = PETRI_AUDIT_SRC_PATH;
	ro.path = "/nonexistent";
	CHECK(petri_audit_reader_open(&r, &ro, NULL) == -ENOENT);
}

/* The sample stream (every kind), written to memory and checked: frames
 * decoded with protobuf-c field by field, then read back by the reader. */
static void write_sample(struct mem_sink *m)
{
	petri_audit *a = sample_open_mem(m);
	CHECK(sample_emit_all(a) == SAMPLE_EVENTS - 2);
	petri_error *err = NULL;
	CHECK_MSG(petri_audit_close(a, &err) == 0, "close: %s", petri_error_message(err));
	petri_error_free(err);
	CHECK(m->calls == SAMPLE_EVENTS); /* one callback per framed event */
	sample_check(m->p, m->len);
	check_reader(m->p, m->len);
}

static void test_sample_stream(void)
{
	struct mem_sink m;
	write_sample(&m);
	free(m.p);
}

static void test_json_bytes(void)
{
	check_json_bytes();
}

static void test_bad_args(void)
{
	check_bad_args();
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(sample_stream),
	PETRI_TEST_CASE(json_bytes),
	PETRI_TEST_CASE(bad_args),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	/* `--write FILE`: check the sample stream and write it to FILE (the
	 * other audit tests' input); exit status 1 if a check failed. */
	if (argc == 3 && strcmp(argv[1], "--write") == 0) {
		struct mem_sink m;
		write_sample(&m);
		int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		REQUIRE(fd >= 0);
		REQUIRE(write(fd, m.p, m.len) == (ssize_t)m.len);
		close(fd);
		free(m.p);
		return petri_test_done();
	}
	return petri_test_main(argc, argv, cases);
}
