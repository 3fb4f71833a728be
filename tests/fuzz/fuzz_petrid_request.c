/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_petrid_request - libFuzzer target for petrid's request handling
 * (tools/petrid/request.c): routing of a method and raw URL, the ?mode=
 * argument, and the JSON bodies of create, exec and keepalive, all pure
 * functions that the daemon calls before touching anything.
 *
 * Input: byte 0 picks the method, byte 1 the Content-Type; then the URL up
 * to the first '\n', the mode argument up to the next (empty: none), and
 * the rest is the body.  Besides crashes, leaks and undefined behaviour,
 * it aborts when a property breaks:
 *  - an error has a status of the contract's table for its step, a code,
 *    a one-line message, and 405 comes with its Allow list;
 *  - a matched file path is at most 4096 bytes, without NUL and without a
 *    ".." component; an id is [A-Za-z0-9_-]{0,48};
 *  - an accepted exec body has exactly one of code and argv, a timeout in
 *    (0, one week], and args only with code.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_petrid_request: %s\n", what);
		abort();
	}
}

static void check_err(const struct pd_err *e, const unsigned *ok, size_t n)
{
	int found = 0;
	for (size_t i = 0; i < n; i++)
		found |= e->status == ok[i];
	must(found, "unexpected status");
	must(e->code && *e->code, "no code");
	for (const char *p = e->message; *p; p++)
		must((unsigned char)*p >= 0x20 && *p != 0x7f, "message not one line");
	if (e->status == 405)
		must(e->allow && *e->allow, "405 without Allow");
}

/* The next '\n'-terminated piece of @*p as a new string. */
static char *piece(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	char *s = malloc(n + 1);
	memcpy(s, *p, n);
	s[n] = '\0';
	*p += n + (nl ? 1 : 0);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"};
	static const char *const types[] = {NULL, "application/json", "text/plain",
					    "application/merge-patch+json; charset=utf-8"};
	if (size < 2)
		return 0;
	const char *method = methods[data[0] % 6];
	const char *ctype = types[data[1] % 4];
	const uint8_t *p = data + 2, *end = data + size;
	char *url = piece(&p, end);
	char *mode = piece(&p, end);
	struct pd_request rq;
	struct pd_err e;
	memset(&rq, 0, sizeof(rq));

	/* A URL holds no NUL (MHD stops at it): it is a C string here too. */
	if (pd_route_match(method, url, *mode ? mode : NULL, &rq, &e) < 0) {
		static const unsigned ok[] = {400, 404, 405, 500};
		check_err(&e, ok, sizeof(ok) / sizeof(ok[0]));
		goto out;
	}
	must(rq.route != PD_R_NONE, "matched without a route");
	must(strlen(rq.id) <= 48 &&
		     strspn(rq.id,
			    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
			     strlen(rq.id),
	     "bad id");
	if (rq.route == PD_R_FILE || rq.route == PD_R_FILES) {
		must(rq.path != NULL, "file route without a path");
		must(strlen(rq.path) <= 4096, "path too long");
		for (const char *c = rq.path; *c;) {
			size_t n = strcspn(c, "/");
			must(!(n == 2 && c[0] == '.' && c[1] == '.'), "'..' in a path");
			c += n + (c[n] ? 1 : 0);
		}
	}
	if (pd_request_body(&rq, ctype, (const char *)p, (size_t)(end - p), &e) < 0) {
		static const unsigned ok[] = {400, 413, 415, 500};
		check_err(&e, ok, sizeof(ok) / sizeof(ok[0]));
		goto out;
	}
	if (rq.route == PD_R_EXEC) {
		must(!rq.exec.code != !rq.exec.argv, "exec without exactly one of code, argv");
		must(rq.exec.timeout > 0 && rq.exec.timeout <= 7 * 24 * 3600.0, "exec timeout");
		must(!rq.exec.args || rq.exec.code, "args without code");
		for (size_t i = 0; rq.exec.argv && rq.exec.argv[i]; i++)
			must(i < 4096, "argv too long");
	}
	for (size_t i = 0; rq.create.env && rq.create.env[i]; i++)
		must(strchr(rq.create.env[i], '=') != NULL, "env entry without '='");
out:
	pd_request_clear(&rq);
	free(url);
	free(mode);
	return 0;
}
