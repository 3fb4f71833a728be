/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_bad_input_opts - every sz-versioned struct the library takes in
 * follows the one copy rule (libpetri/opts.c), whichever function takes it:
 *  - sz below 8 or above 4096: EINVAL, one line naming the struct and sz;
 *  - a newer caller's bigger struct with a byte this library does not know
 *    set: EINVAL, one line naming the struct and "unknown option";
 *  - a newer caller's bigger struct whose extra bytes are all 0 (up to the
 *    4096 bound): accepted;
 *  - an older caller's smaller struct: accepted, and nothing past its sz is
 *    read (the bytes there are garbage here), the fields it lacks taking
 *    their defaults (an fd's -1 included);
 *  - NULL: the defaults where the function documents it, else EINVAL.
 * petri_audit_get_stats (a struct the library fills) keeps the same sz
 * bounds and sets the fields it does not know to 0.
 */
#include <stddef.h>

#include "api_common.h"
#include "petri/audit.h"

/* A caller's struct of any size: the real one at the start of a buffer
 * larger than the largest sz accepted. */
#define BUF_SIZE 4200
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
static _Alignas(16) unsigned char buf[BUF_SIZE];

static petri_sandbox *sb;   /* for exec */
static petri_audit *stream; /* for petri_audit_emit_exec_ended */

static int discard(const void *data, size_t len, void *userdata)
{
	(void)data, (void)len, (void)userdata;
	return 0;
}

/* One struct: how to make a valid one and how to pass it to its function.
 * call() releases whatever the call made and returns its rc. */
struct kind {
	const char *name; /* the struct, as the message names it */
	size_t size;      /* its size in this header */
	size_t min_ok;    /* smallest sz that still holds what fill() sets */
	int null_ok;      /* NULL means defaults (else EINVAL) */
	void (*fill)(void *p);
	int (*call)(const void *p, petri_error **err);
};

static void fill_ctx(void *p)
{
	*(petri_ctx_opts *)p = (petri_ctx_opts)PETRI_CTX_OPTS_INIT;
}
static int call_ctx(const void *p, petri_error **err)
{
	petri_ctx *ctx = NULL;
	int r = petri_ctx_new(&ctx, p, err);
	petri_ctx_free(ctx);
	return r;
}

static void fill_sandbox(void *p)
{
	*(petri_sandbox_opts *)p = (petri_sandbox_opts)PETRI_SANDBOX_OPTS_INIT;
}
static int call_sandbox(const void *p, petri_error **err)
{
	petri_sandbox *s = NULL;
	int r = petri_sandbox_create(petri_test_ctx(), p, &s, err);
	petri_sandbox_destroy(s);
	return r;
}

static const char *const true_argv[] = {"true", NULL};
static void fill_exec(void *p)
{
	petri_exec_opts *o = p;
	*o = (petri_exec_opts)PETRI_EXEC_OPTS_INIT;
	o->argv = true_argv;
}
static int call_exec(const void *p, petri_error **err)
{
	petri_result *res = NULL;
	int r = petri_sandbox_exec(sb, p, &res, err);
	if (r == 0)
		CHECK_MSG(petri_result_exit_code(res) == 0, "exec of true: exit %d",
			  petri_result_exit_code(res));
	petri_result_free(res);
	return r;
}

static void fill_audit(void *p)
{
	petri_audit_opts *o = p;
	*o = (petri_audit_opts)PETRI_AUDIT_OPTS_INIT;
	o->sink = PETRI_AUDIT_SINK_CALLBACK;
	o->sink_fn = discard;
}
static int call_audit(const void *p, petri_error **err)
{
	petri_audit *a = NULL;
	int r = petri_audit_open(&a, p, err);
	if (r == 0)
		CHECK(petri_audit_close(a, NULL) == 0);
	return r;
}

static void fill_reader(void *p)
{
	petri_audit_reader_opts *o = p;
	*o = (petri_audit_reader_opts)PETRI_AUDIT_READER_OPTS_INIT;
	o->source = PETRI_AUDIT_SRC_MEMORY; /* empty input */
}
static int call_reader(const void *p, petri_error **err)
{
	petri_audit_reader *r = NULL;
	int rc = petri_audit_reader_open(&r, p, err);
	if (rc == 0)
		CHECK(petri_audit_reader_next(r, NULL) == 0); /* at the end at once */
	petri_audit_reader_close(r);
	return rc;
}

static void fill_exec_result(void *p)
{
	petri_audit_exec_result *x = p;
	memset(x, 0, sizeof(*x));
	x->sz = sizeof(*x);
	x->reason = PETRI_REASON_EXITED;
}
static int call_exec_result(const void *p, petri_error **err)
{
	int r = petri_audit_emit_exec_ended(stream, "sb_opts", "sb_opts:1", NULL, p, err);
	return r == PETRI_AUDIT_DROPPED ? 0 : r;
}

static const struct kind kinds[] = {
	{"petri_ctx_opts", sizeof(petri_ctx_opts), 8, 1, fill_ctx, call_ctx},
	{"petri_sandbox_opts", sizeof(petri_sandbox_opts), 8, 1, fill_sandbox, call_sandbox},
	{"petri_exec_opts", sizeof(petri_exec_opts), offsetof(petri_exec_opts, code), 0, fill_exec,
	 call_exec},
	{"petri_audit_opts", sizeof(petri_audit_opts), offsetof(petri_audit_opts, sink_userdata), 0,
	 fill_audit, call_audit},
	{"petri_audit_reader_opts", sizeof(petri_audit_reader_opts), 8, 0, fill_reader,
	 call_reader},
	{"petri_audit_exec_result", sizeof(petri_audit_exec_result), 8, 0, fill_exec_result,
	 call_exec_result},
};

/* A valid struct of @k with sz = @sz, then @tail in every byte from @from to
 * the end of the buffer. */
static void prepare(const struct kind *k, uint32_t sz, size_t from, unsigned char tail)
{
	memset(buf, 0, sizeof(buf));
	k->fill(buf);
	memset(buf + from, tail, sizeof(buf) - from);
	memcpy(buf, &sz, sizeof(sz));
}

/* The call fails with EINVAL and a message naming the struct and @needle. */
static void expect_refused(const struct kind *k, const char *needle, const char *what, int line)
{
	petri_error *e = NULL;
	int r = k->call(buf, &e);
	char label[160];
	snprintf(label, sizeof(label), "%s: %s", k->name, what);
	api_check_error(r, e, EINVAL, k->name, label, line);
	if (r < 0 && !strstr(petri_error_message(e), needle))
		CHECK_MSG(0, "line %d: %s: message '%s' does not say '%s'", line, label,
			  petri_error_message(e), needle);
	petri_error_free(e);
}

static void expect_accepted(const struct kind *k, const char *what, int line)
{
	petri_error *e = NULL;
	int r = k->call(buf, &e);
	CHECK_MSG(r == 0, "line %d: %s: %s refused: %d %s", line, k->name, what, r,
		  petri_error_message(e));
	petri_error_free(e);
}

static void test_kind(const struct kind *k)
{
	char what[96];

	/* Not a size. */
	static const uint32_t bad_sz[] = {0, 1, 4, 7, 4097, 65536, 0x7fffffff, 0xffffffff};
	for (size_t i = 0; i < ARRAY_LEN(bad_sz); i++) {
		prepare(k, bad_sz[i], k->size, 0);
		snprintf(what, sizeof(what), "sz %u", bad_sz[i]);
		expect_refused(k, "sz", what, __LINE__);
	}

	/* This header's own size. */
	prepare(k, (uint32_t)k->size, k->size, 0);
	expect_accepted(k, "sz = sizeof", __LINE__);

	/* A newer caller who set a field this library does not know: the
	 * first, a middle and the last extra byte. */
	const size_t extra = 24;
	const size_t at[] = {0, extra / 2, extra - 1};
	for (size_t i = 0; i < ARRAY_LEN(at); i++) {
		prepare(k, (uint32_t)(k->size + extra), k->size, 0);
		buf[k->size + at[i]] = 0x01;
		snprintf(what, sizeof(what), "extra byte %zu of %zu set", at[i], extra);
		expect_refused(k, "unknown option", what, __LINE__);
	}
	/* ... and the largest sz, its very last byte set. */
	prepare(k, 4096, k->size, 0);
	buf[4095] = 0x80;
	expect_refused(k, "unknown option", "byte 4095 set", __LINE__);

	/* A newer caller who left the fields it knows and we do not at 0;
	 * bytes past its sz are not read. */
	prepare(k, (uint32_t)(k->size + extra), k->size + extra, 0xff);
	expect_accepted(k, "bigger, extra bytes 0", __LINE__);
	prepare(k, 4096, 4096, 0xff);
	expect_accepted(k, "sz 4096, extra bytes 0", __LINE__);

	/* An older caller's smaller struct: the bytes past its sz are garbage
	 * here and must not be read. */
	prepare(k, (uint32_t)k->min_ok, k->min_ok, 0xff);
	snprintf(what, sizeof(what), "older caller, sz %zu", k->min_ok);
	expect_accepted(k, what, __LINE__);
	if (k->min_ok < k->size) {
		/* Just short of the whole struct too. */
		size_t sz = k->size - sizeof(uint32_t);
		prepare(k, (uint32_t)sz, sz, 0xff);
		/* The last field of each struct takes 0 as its default. */
		expect_accepted(k, "older caller, sz - 4", __LINE__);
	}

	/* NULL. */
	petri_error *e = NULL;
	int r = k->call(NULL, &e);
	if (k->null_ok)
		CHECK_MSG(r == 0, "%s: NULL (defaults) refused: %s", k->name,
			  petri_error_message(e));
	else
		api_check_error(r, e, EINVAL, NULL, k->name, __LINE__);
	petri_error_free(e);
}

/* A field whose default is not 0 (an fd's -1) takes that default when the
 * caller's sz stops before it: it does not become fd 0 (stdin). */
static void test_fd_defaults(void)
{
	petri_error *e = NULL;
	petri_audit_reader_opts ro = PETRI_AUDIT_READER_OPTS_INIT;
	ro.source = PETRI_AUDIT_SRC_FD;
	ro.fd = 0; /* beyond sz: must not be read */
	ro.sz = (uint32_t)offsetof(petri_audit_reader_opts, fd);
	petri_audit_reader *rd = NULL;
	int r = petri_audit_reader_open(&rd, &ro, &e);
	api_check_error(r, e, EBADF, "fd -1", "reader, sz before fd", __LINE__);
	petri_audit_reader_close(rd);
	petri_audit_reader_close(NULL);
	petri_error_free(e);

	e = NULL;
	petri_audit_opts ao = PETRI_AUDIT_OPTS_INIT;
	ao.sink = PETRI_AUDIT_SINK_FD;
	ao.fd = 0;
	ao.sz = (uint32_t)offsetof(petri_audit_opts, fd);
	petri_audit *a = NULL;
	r = petri_audit_open(&a, &ao, &e);
	api_check_error(r, e, EBADF, "fd -1", "audit, sz before fd", __LINE__);
	if (r == 0)
		petri_audit_close(a, NULL);
	petri_error_free(e);
}

/* petri_audit_get_stats fills the caller's struct: same sz bounds, fields
 * it does not know set to 0, nothing written past sz. */
static void test_stats(void)
{
	static const uint32_t bad_sz[] = {0, 4, 7, 4097, 0xffffffff};
	for (size_t i = 0; i < ARRAY_LEN(bad_sz); i++) {
		memset(buf, 0, sizeof(buf));
		memcpy(buf, &bad_sz[i], sizeof(uint32_t));
		CHECK_MSG(petri_audit_get_stats(stream, (petri_audit_stats *)buf) == -EINVAL,
			  "stats sz %u accepted", bad_sz[i]);
	}
	const size_t n = sizeof(petri_audit_stats);
	uint32_t sz = (uint32_t)(n + 16);
	memset(buf, 0xff, sizeof(buf));
	memcpy(buf, &sz, sizeof(sz));
	CHECK(petri_audit_get_stats(stream, (petri_audit_stats *)buf) == 0);
	petri_audit_stats st;
	memcpy(&st, buf, n);
	CHECK(st.sz == sz && st.reserved0 == 0);
	CHECK_MSG(st.emitted >= 1 && st.emitted < 1000000, "emitted %llu",
		  (unsigned long long)st.emitted);
	for (size_t i = n; i < n + 16; i++)
		CHECK_MSG(buf[i] == 0, "stats byte %zu (unknown to the library) is 0x%02x", i,
			  buf[i]);
	CHECK_MSG(buf[n + 16] == 0xff, "stats wrote past sz");

	/* An older caller: only the first 16 bytes (sz, reserved0, emitted). */
	sz = 16;
	memset(buf, 0xff, sizeof(buf));
	memcpy(buf, &sz, sizeof(sz));
	CHECK(petri_audit_get_stats(stream, (petri_audit_stats *)buf) == 0);
	uint64_t emitted;
	memcpy(&emitted, buf + 8, sizeof(emitted));
	CHECK(emitted >= 1 && emitted < 1000000);
	CHECK_MSG(buf[16] == 0xff, "stats wrote past an older caller's sz");
}

int main(void)
{
	sb = api_sandbox(NULL);
	petri_audit_opts ao = PETRI_AUDIT_OPTS_INIT;
	ao.sink = PETRI_AUDIT_SINK_CALLBACK;
	ao.sink_fn = discard;
	petri_error *e = NULL;
	if (petri_audit_open(&stream, &ao, &e) < 0) {
		fprintf(stderr, "petri_audit_open: %s\n", petri_error_message(e));
		return 1;
	}

	for (size_t i = 0; i < ARRAY_LEN(kinds); i++)
		test_kind(&kinds[i]);
	test_fd_defaults();
	test_stats();

	CHECK(petri_audit_close(stream, NULL) == 0);
	petri_sandbox_destroy(sb);
	petri_ctx_free(petri_test_ctx());
	return petri_test_done();
}
