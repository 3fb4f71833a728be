/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_audit_max.c - the size bound of an audit stream
 * (petri_audit_opts.max_bytes, `petri run --audit-max`).
 *
 * A stream pushed past a small max_bytes must: stay within max_bytes (the
 * file's size); stop its activity events (the kinds the sandboxed code
 * causes) at max_bytes - PETRI_AUDIT_MAX_BYTES_RESERVE, once and for all;
 * count every dropped event in Loss {where: SIZE_LIMIT} records, so that
 * for each kind the events in the stream equal StreamEnd's `written` and
 * the Loss counts its `lost`, and written + lost is what was emitted;
 * still hold the lifecycle events (exec end, destroy) and end with its
 * StreamEnd; and verify.  The worst case for the reserve (lifecycle events
 * flooding too, losses pending in every kind at close) must still end
 * cleanly within max_bytes.  Bad bounds are refused with a message (API)
 * or one line and status 125 (CLI).  The kernel case floods real failed
 * opens inside a sandbox through the CLI: its file_activity written + lost
 * equals the opens the program counted.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "petri/audit.h"
#include "petri/audit/v1/audit.pb-c.h"
#include "petri_test.h"
#include "audit_stream.h"

typedef Petri__Audit__V1__Event Ev;

#define K_FIRST PETRI_AUDIT_KIND_STREAM_HEADER
#define K_LAST PETRI_AUDIT_KIND_DNS_QUERY
#define NK (K_LAST - K_FIRST + 2) /* + one slot for unknown kinds (31 has one, unused) */
#define WHERE_SIZE PETRI__AUDIT__V1__LOSS__WHERE__WHERE_SIZE_LIMIT

static int kidx(int kind)
{
	return kind >= K_FIRST && kind <= K_LAST ? kind - K_FIRST : NK - 1;
}

/* A kind of the schema (31, kept for checkpoints, is none). */
static int is_kind(int kind)
{
	return strcmp(petri_audit_kind_name(kind), "unknown") != 0;
}

static int is_lifecycle(int kind)
{
	return kind == PETRI_AUDIT_KIND_STREAM_HEADER || kind == PETRI_AUDIT_KIND_STREAM_END ||
	       kind == PETRI_AUDIT_KIND_SANDBOX_CREATED ||
	       kind == PETRI_AUDIT_KIND_SANDBOX_DESTROYED ||
	       kind == PETRI_AUDIT_KIND_EXEC_STARTED || kind == PETRI_AUDIT_KIND_EXEC_ENDED ||
	       kind == PETRI_AUDIT_KIND_LIMIT_HIT || kind == PETRI_AUDIT_KIND_LOSS;
}

static char stream_path[64];

static void cleanup(void)
{
	if (stream_path[0])
		unlink(stream_path);
}

static const char *new_path(void)
{
	snprintf(stream_path, sizeof(stream_path), "/tmp/petri-audit-max-XXXXXX");
	int fd = mkstemp(stream_path);
	REQUIRE(fd >= 0);
	close(fd);
	atexit(cleanup);
	return stream_path;
}

static petri_audit *open_file(const char *path, uint64_t max_bytes)
{
	petri_audit_opts o = PETRI_AUDIT_OPTS_INIT;
	petri_audit *a = NULL;
	petri_error *e = NULL;
	o.sink = PETRI_AUDIT_SINK_FILE;
	o.path = path;
	o.max_bytes = max_bytes;
	o.queue_events = 1u << 16; /* the flood outruns no queue: size is what drops */
	int r = petri_audit_open(&a, &o, &e);
	CHECK_MSG(r == 0, "open: %d %s", r, petri_error_message(e));
	petri_error_free(e);
	REQUIRE(a);
	return a;
}

static void close_ok(petri_audit *a)
{
	petri_error *e = NULL;
	int r = petri_audit_close(a, &e);
	CHECK_MSG(r == 0, "close: %d %s", r, petri_error_message(e));
	petri_error_free(e);
}

static uint64_t file_size(const char *path)
{
	struct stat st;
	REQUIRE(stat(path, &st) == 0);
	return (uint64_t)st.st_size;
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Emit an event of @kind from its encoding, its sandbox_id @pad bytes of
 * 'x' (to make it big); the body is the kind's message with default
 * fields, found through the schema's descriptor.  Returns the emit's
 * return. */
static int emit_kind(petri_audit *a, int kind, size_t pad)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
		&petri__audit__v1__event__descriptor, (unsigned)kind);
	REQUIRE(f && f->type == PROTOBUF_C_TYPE_MESSAGE);
	const ProtobufCMessageDescriptor *d = f->descriptor;
	void *body = calloc(1, d->sizeof_message);
	REQUIRE(body);
	protobuf_c_message_init(d, body);
	if (kind == PETRI_AUDIT_KIND_LIMIT_HIT)
		((Petri__Audit__V1__LimitHit *)body)->limit = "memory";
	Ev ev = PETRI__AUDIT__V1__EVENT__INIT;
	char *sid = malloc(pad + 1);
	REQUIRE(sid);
	memset(sid, 'x', pad);
	sid[pad] = '\0';
	ev.sandbox_id = sid;
	ev.body_case = (Petri__Audit__V1__Event__BodyCase)kind;
	*(void **)((char *)&ev + f->offset) = body;
	size_t n = protobuf_c_message_get_packed_size(&ev.base);
	uint8_t *buf = malloc(n);
	REQUIRE(buf);
	protobuf_c_message_pack(&ev.base, buf);
	petri_error *e = NULL;
	int r = petri_audit_emit_encoded(a, buf, n, &e);
	CHECK_MSG(r == 0 || r == PETRI_AUDIT_DROPPED, "emit %s: %d %s", petri_audit_kind_name(kind),
		  r, petri_error_message(e));
	petri_error_free(e);
	free(buf);
	free(sid);
	free(body);
	return r;
}

/* What a stream holds, per kind (kidx). */
struct totals {
	uint64_t in_stream[NK]; /* events of the kind in the stream */
	uint64_t loss_sum[NK];  /* sum of the Loss counts naming the kind */
	uint64_t size_loss[NK]; /* ... of those with where SIZE_LIMIT */
	uint64_t end_written[NK], end_lost[NK];
	uint64_t activity_bytes; /* framed bytes up to the last activity event */
	uint64_t header_max;     /* StreamHeader.max_bytes */
	size_t first_size_loss;  /* index of the first SIZE_LIMIT Loss, or n */
	size_t last_activity;    /* index of the last activity event, or 0 */
	int kernel_audit;
};

/* Read and verify the stream at @path, and check its own totals add up:
 * for every kind, the events in the stream == StreamEnd written, and the
 * Loss counts == StreamEnd lost; total_lost is their sum; nothing is
 * lost_unreported; the last event is the StreamEnd. */
static struct totals read_totals(const char *path, struct audit_events *es)
{
	struct totals t;
	memset(&t, 0, sizeof(t));
	*es = audit_read_path(path, 0);
	REQUIRE(es->n >= 2);
	REQUIRE(es->kind[0] == PETRI_AUDIT_KIND_STREAM_HEADER);
	t.header_max = es->ev[0]->stream_header->max_bytes;
	t.kernel_audit = es->ev[0]->stream_header->kernel_audit;
	t.first_size_loss = es->n;
	uint64_t bytes = 0, total_loss = 0;
	for (size_t i = 0; i < es->n; i++) {
		int k = es->kind[i];
		bytes += varint_len(es->raw_len[i]) + es->raw_len[i];
		t.in_stream[kidx(k)]++;
		if (!is_lifecycle(k)) {
			t.activity_bytes = bytes;
			t.last_activity = i;
		}
		if (k == PETRI_AUDIT_KIND_LOSS) {
			const Petri__Audit__V1__Loss *l = es->ev[i]->loss;
			t.loss_sum[kidx((int)l->kind)] += l->count;
			total_loss += l->count;
			if (l->where == WHERE_SIZE) {
				t.size_loss[kidx((int)l->kind)] += l->count;
				if (t.first_size_loss == es->n)
					t.first_size_loss = i;
			}
		}
	}
	REQUIRE(es->kind[es->n - 1] == PETRI_AUDIT_KIND_STREAM_END);
	const Petri__Audit__V1__StreamEnd *end = es->ev[es->n - 1]->stream_end;
	for (size_t i = 0; i < end->n_kinds; i++) {
		t.end_written[kidx((int)end->kinds[i]->kind)] = end->kinds[i]->written;
		t.end_lost[kidx((int)end->kinds[i]->kind)] = end->kinds[i]->lost;
	}
	for (int i = 0; i < NK; i++) {
		CHECK_MSG(t.in_stream[i] == t.end_written[i],
			  "kind %d: %llu in the stream, %llu written", i + K_FIRST,
			  (unsigned long long)t.in_stream[i], (unsigned long long)t.end_written[i]);
		CHECK_MSG(t.loss_sum[i] == t.end_lost[i], "kind %d: Loss counts %llu, lost %llu",
			  i + K_FIRST, (unsigned long long)t.loss_sum[i],
			  (unsigned long long)t.end_lost[i]);
	}
	CHECK(end->total_lost == total_loss);
	CHECK(end->lost_unreported == 0);
	CHECK(end->total_written == es->n - 1);
	return t;
}

static size_t count_kind(const struct audit_events *es, int kind)
{
	size_t n = 0;
	for (size_t i = 0; i < es->n; i++)
		n += es->kind[i] == kind;
	return n;
}

/* Policy denials (activity) past a 256 KiB bound, then an exec's end and a
 * destroy: the bound holds, the denials stop once and are all accounted
 * for, the lifecycle events are there after the Loss. */
static void test_activity_flood(void)
{
	enum {
		N = 4000
	};
	const uint64_t max = PETRI_AUDIT_MAX_BYTES_MIN;
	const char *path = new_path();
	petri_audit *a = open_file(path, max);
	char detail[240];
	memset(detail, 'd', sizeof(detail) - 1);
	detail[sizeof(detail) - 1] = '\0';
	uint64_t dropped = 0;
	for (int i = 0; i < N; i++) {
		int r = petri_audit_emit_denial(a, "sb_max", "sb_max:1", NULL,
						PETRI_AUDIT_DENIAL_SECCOMP, "keyctl", 250, detail,
						NULL);
		CHECK(r == 0 || r == PETRI_AUDIT_DROPPED);
		dropped += r == PETRI_AUDIT_DROPPED;
	}
	/* After the bound: activity still drops, lifecycle still goes in. */
	CHECK(emit_kind(a, PETRI_AUDIT_KIND_FILE_ACTIVITY, 10) == PETRI_AUDIT_DROPPED);
	petri_audit_exec_result res = {.sz = sizeof(res), .exit_code = 3};
	CHECK(petri_audit_emit_exec_ended(a, "sb_max", "sb_max:1", NULL, &res, NULL) == 0);
	CHECK(petri_audit_emit_sandbox_destroyed(a, "sb_max", "destroyed", NULL) == 0);
	petri_audit_stats st = {.sz = sizeof(st)};
	REQUIRE(petri_audit_get_stats(a, &st) == 0);
	CHECK(st.lost_size == dropped + 1);
	CHECK(st.lost_queue == 0);
	CHECK(st.bytes <= max);
	close_ok(a);

	uint64_t size = file_size(path);
	CHECK_MSG(size <= max, "stream of %llu bytes, bound %llu", (unsigned long long)size,
		  (unsigned long long)max);
	CHECK(size > max - PETRI_AUDIT_MAX_BYTES_RESERVE - 4096); /* it did fill up */
	struct audit_events es;
	struct totals t = read_totals(path, &es);
	int den = kidx(PETRI_AUDIT_KIND_POLICY_DENIAL);
	CHECK(t.header_max == max);
	CHECK(dropped > 0 && dropped < N);
	CHECK(t.in_stream[den] + t.end_lost[den] == N);
	CHECK(t.end_lost[den] == dropped);
	CHECK(t.size_loss[den] == dropped);
	CHECK(t.size_loss[kidx(PETRI_AUDIT_KIND_FILE_ACTIVITY)] == 1);
	/* Activity stopped at max - RESERVE, once: none after the first Loss. */
	CHECK_MSG(t.activity_bytes <= max - PETRI_AUDIT_MAX_BYTES_RESERVE,
		  "activity up to byte %llu", (unsigned long long)t.activity_bytes);
	CHECK(t.first_size_loss < es.n && t.last_activity < t.first_size_loss);
	/* The Loss says where the drops began: after the last denial. */
	CHECK(es.ev[t.first_size_loss]->loss->after_seq == es.seq[t.last_activity]);
	/* The lifecycle events, after the Loss records. */
	REQUIRE(count_kind(&es, PETRI_AUDIT_KIND_EXEC_ENDED) == 1);
	REQUIRE(count_kind(&es, PETRI_AUDIT_KIND_SANDBOX_DESTROYED) == 1);
	CHECK(es.kind[es.n - 3] == PETRI_AUDIT_KIND_EXEC_ENDED);
	CHECK(es.ev[es.n - 3]->exec_ended->result->exit_code == 3);
	CHECK(es.kind[es.n - 2] == PETRI_AUDIT_KIND_SANDBOX_DESTROYED);
	audit_events_free(&es);
}

/* The worst case for the reserve: every activity kind dropped, then
 * lifecycle events flooding until they drop too, then one more drop of
 * every kind so that close has a Loss to write for each: the stream still
 * ends cleanly within the bound and every count adds up. */
static void test_reserve_worst_case(void)
{
	const uint64_t max = PETRI_AUDIT_MAX_BYTES_MIN;
	const char *path = new_path();
	petri_audit *a = open_file(path, max);
	uint64_t emitted[NK] = {0}, dropped[NK] = {0};
	int k;

#define EMIT(kind, pad)                                                                            \
	do {                                                                                       \
		int r_ = emit_kind(a, (kind), (pad));                                              \
		emitted[kidx(kind)]++;                                                             \
		dropped[kidx(kind)] += r_ == PETRI_AUDIT_DROPPED;                                  \
	} while (0)

	/* Activity of every kind until it drops. */
	for (int i = 0; i < 2000; i++)
		for (k = PETRI_AUDIT_KIND_PROCESS_EXEC; k <= K_LAST; k++)
			if (is_kind(k) && !is_lifecycle(k))
				EMIT(k, 100);
	/* Lifecycle events until they drop too (the reserve is 64 KiB). */
	for (int i = 0; i < 600; i++)
		for (k = PETRI_AUDIT_KIND_SANDBOX_CREATED; k <= PETRI_AUDIT_KIND_LOSS; k++)
			if (is_lifecycle(k))
				EMIT(k, 200);
	/* One more of every kind: a pending Loss in each at close. */
	for (k = PETRI_AUDIT_KIND_SANDBOX_CREATED; k <= K_LAST; k++)
		if (is_kind(k))
			EMIT(k, 60000);
#undef EMIT
	close_ok(a);

	uint64_t size = file_size(path);
	CHECK_MSG(size <= max, "stream of %llu bytes, bound %llu", (unsigned long long)size,
		  (unsigned long long)max);
	struct audit_events es;
	struct totals t = read_totals(path, &es);
	for (k = PETRI_AUDIT_KIND_SANDBOX_CREATED; k <= K_LAST; k++) {
		int i = kidx(k);
		if (!is_kind(k))
			continue;
		CHECK_MSG(dropped[i] > 0, "%s never dropped", petri_audit_kind_name(k));
		CHECK_MSG(t.size_loss[i] == dropped[i], "%s: %llu dropped, SIZE_LIMIT Loss %llu",
			  petri_audit_kind_name(k), (unsigned long long)dropped[i],
			  (unsigned long long)t.size_loss[i]);
		/* What was emitted is written or lost.  Loss: the stream's
		 * own Loss records name a where, ours (count 0) none. */
		uint64_t written = t.in_stream[i];
		if (k == PETRI_AUDIT_KIND_LOSS) {
			written = 0;
			for (size_t j = 0; j < es.n; j++)
				written += es.kind[j] == k && es.ev[j]->loss->where == 0;
		}
		CHECK_MSG(written + t.end_lost[i] == emitted[i], "%s: %llu + %llu != %llu",
			  petri_audit_kind_name(k), (unsigned long long)written,
			  (unsigned long long)t.end_lost[i], (unsigned long long)emitted[i]);
	}
	/* Lifecycle events went on into the reserve after activity stopped. */
	CHECK(t.first_size_loss < es.n);
	size_t lifecycle_after = 0;
	for (size_t i = t.first_size_loss; i < es.n; i++)
		lifecycle_after += es.kind[i] == PETRI_AUDIT_KIND_EXEC_STARTED;
	CHECK(lifecycle_after > 10);
	CHECK(t.activity_bytes <= max - PETRI_AUDIT_MAX_BYTES_RESERVE);
	audit_events_free(&es);
}

/* Once activity has stopped, its drops are reported before the next
 * lifecycle event and at close, not on their own: a Loss per writer batch
 * while a flood goes on would eat the lifecycle events' reserve.  Activity
 * drops trickle in for 300 ms after a lifecycle event woke the writer. */
static void test_no_loss_trickle(void)
{
	const char *path = new_path();
	petri_audit *a = open_file(path, PETRI_AUDIT_MAX_BYTES_MIN);
	while (emit_kind(a, PETRI_AUDIT_KIND_FILE_ACTIVITY, 1000) == 0)
		;
	CHECK(petri_audit_emit_sandbox_destroyed(a, "sb_max", "destroyed", NULL) == 0);
	for (int i = 0; i < 1500; i++) {
		CHECK(emit_kind(a, PETRI_AUDIT_KIND_FILE_ACTIVITY, 10) == PETRI_AUDIT_DROPPED);
		usleep(200);
	}
	close_ok(a);
	struct audit_events es;
	struct totals t = read_totals(path, &es);
	/* One Loss before the destroy, one at close. */
	CHECK_MSG(t.in_stream[kidx(PETRI_AUDIT_KIND_LOSS)] == 2, "%llu Loss records",
		  (unsigned long long)t.in_stream[kidx(PETRI_AUDIT_KIND_LOSS)]);
	CHECK(t.size_loss[kidx(PETRI_AUDIT_KIND_FILE_ACTIVITY)] == 1501);
	audit_events_free(&es);
}

/* No bound: a stream many times PETRI_AUDIT_MAX_BYTES_MIN loses nothing,
 * and its header says 0 (none). */
static void test_unlimited(void)
{
	const char *path = new_path();
	petri_audit *a = open_file(path, PETRI_AUDIT_MAX_BYTES_UNLIMITED);
	for (int i = 0; i < 3000; i++)
		CHECK(emit_kind(a, PETRI_AUDIT_KIND_FILE_ACTIVITY, 400) == 0);
	close_ok(a);
	CHECK(file_size(path) > 4 * PETRI_AUDIT_MAX_BYTES_MIN);
	struct audit_events es;
	struct totals t = read_totals(path, &es);
	CHECK(t.header_max == 0);
	CHECK(t.in_stream[kidx(PETRI_AUDIT_KIND_FILE_ACTIVITY)] == 3000);
	CHECK(t.in_stream[kidx(PETRI_AUDIT_KIND_LOSS)] == 0);
	audit_events_free(&es);
}

/* max_bytes 0 is the default (also for a caller built before the field
 * existed); below the minimum is refused with a message naming it. */
static void test_bad_and_default_max(void)
{
	const char *path = new_path();
	const uint64_t bad[] = {1, 4096, PETRI_AUDIT_MAX_BYTES_MIN - 1};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		petri_audit_opts o = PETRI_AUDIT_OPTS_INIT;
		petri_audit *a = NULL;
		petri_error *e = NULL;
		o.sink = PETRI_AUDIT_SINK_FILE;
		o.path = path;
		o.max_bytes = bad[i];
		CHECK(petri_audit_open(&a, &o, &e) == -EINVAL);
		CHECK(a == NULL);
		CHECK(e && strstr(petri_error_message(e), "max_bytes"));
		petri_error_free(e);
	}
	/* An older caller's struct, which ends before max_bytes. */
	petri_audit_opts o = PETRI_AUDIT_OPTS_INIT;
	o.sz = offsetof(petri_audit_opts, max_bytes);
	o.sink = PETRI_AUDIT_SINK_FILE;
	o.path = path;
	petri_audit *a = NULL;
	REQUIRE(petri_audit_open(&a, &o, NULL) == 0);
	close_ok(a);
	struct audit_events es;
	struct totals t = read_totals(path, &es);
	CHECK(t.header_max == PETRI_AUDIT_MAX_BYTES_DEFAULT);
	audit_events_free(&es);
	/* The smallest bound is accepted. */
	a = open_file(path, PETRI_AUDIT_MAX_BYTES_MIN);
	close_ok(a);
}

/* `petri run --audit-max`: bad values are one line and status 125. */
static void test_cli_bad_audit_max(void)
{
	const char *bad[] = {"0", "-1", "abc", "1X", "100K", "255K", "", "18446744073709551615"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *args[] = {"run",         "--audit", "/tmp/petri-audit-max-never",
				      "--audit-max", bad[i],    "--",
				      "/bin/true",   NULL};
		char *out = NULL, *err = NULL;
		int st = petri_test_cli(args, &out, &err);
		CHECK_MSG(st == 125, "--audit-max '%s': status %d", bad[i], st);
		CHECK_MSG(err && strncmp(err, "petri: --audit-max: ", 20) == 0 &&
				  strchr(err, '\n') == err + strlen(err) - 1,
			  "--audit-max '%s': stderr '%s'", bad[i], err ? err : "(null)");
		free(out);
		free(err);
	}
	CHECK(access("/tmp/petri-audit-max-never", F_OK) < 0);
	const char *args[] = {"run", "--audit-max", "1M", "--", "/bin/true", NULL};
	char *out = NULL, *err = NULL;
	CHECK(petri_test_cli(args, &out, &err) == 125);
	CHECK(err && strcmp(err, "petri: --audit-max needs --audit PATH\n") == 0);
	free(out);
	free(err);
}

/* `petri run --audit-max`: sizes as --memory takes them, and "unlimited";
 * the header states the bound (0: none). */
static void test_cli_audit_max_values(void)
{
	const struct {
		const char *arg;
		uint64_t header;
	} ok[] = {
		{"256K", 256u << 10},
		{"1.5M", 3u << 19},
		{"2GiB", 2ull << 30},
		{"unlimited", 0},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		const char *path = new_path();
		const char *args[] = {"run",     "--audit", path,        "--audit-max",
				      ok[i].arg, "--",      "/bin/true", NULL};
		char *out = NULL, *err = NULL;
		int st = petri_test_cli(args, &out, &err);
		CHECK_MSG(st == 0, "--audit-max %s: status %d: %s", ok[i].arg, st, err ? err : "");
		free(out);
		free(err);
		struct audit_events es;
		struct totals t = read_totals(path, &es);
		CHECK_MSG(t.header_max == ok[i].header, "--audit-max %s: header %llu", ok[i].arg,
			  (unsigned long long)t.header_max);
		audit_events_free(&es);
		unlink(path);
	}
}

/* The kernel half flooding: two threads of failed opens with 2 KB paths
 * in a sandbox, through `petri run --audit-max 1M`. */
static void test_cli_kernel_flood(void)
{
	const char *flood = getenv("PETRI_AUDIT_FLOOD");
	REQUIRE(flood);
	char dir[512], bind[600], prog[600];
	snprintf(dir, sizeof(dir), "%s", flood);
	REQUIRE(strrchr(dir, '/'));
	*strrchr(dir, '/') = '\0';
	snprintf(bind, sizeof(bind), "%s:/opt/petri-flood", dir);
	snprintf(prog, sizeof(prog), "/opt/petri-flood/%s", strrchr(flood, '/') + 1);
	const char *path = new_path();
	const char *args[] = {"run", "--audit", path, "--audit-max", "1M",   "--bind",
			      bind,  "--",      prog, "2",           "2040", NULL};
	char *out = NULL, *err = NULL;
	int st = petri_test_cli(args, &out, &err);
	CHECK_MSG(st == 0, "status %d: %s", st, err ? err : "");
	REQUIRE(out);
	unsigned long long opens = strtoull(out, NULL, 10);
	free(out);
	free(err);

	uint64_t size = file_size(path);
	CHECK_MSG(size <= (1u << 20), "stream of %llu bytes, bound 1 MiB",
		  (unsigned long long)size);
	struct audit_events es;
	struct totals t = read_totals(path, &es);
	if (!t.kernel_audit) {
		audit_events_free(&es);
		petri_test_skip("kernel audit is off (no BPF here)");
	}
	int fa = kidx(PETRI_AUDIT_KIND_FILE_ACTIVITY);
	fprintf(stderr, "kernel flood: %llu opens, %llu written, %llu lost, %llu bytes\n", opens,
		(unsigned long long)t.in_stream[fa], (unsigned long long)t.end_lost[fa],
		(unsigned long long)size);
	CHECK(opens > 10000);
	CHECK_MSG(t.in_stream[fa] + t.end_lost[fa] == opens, "%llu + %llu != %llu opens",
		  (unsigned long long)t.in_stream[fa], (unsigned long long)t.end_lost[fa], opens);
	CHECK(t.size_loss[fa] > 0);
	CHECK(t.header_max == (1u << 20));
	CHECK(t.activity_bytes <= (1u << 20) - PETRI_AUDIT_MAX_BYTES_RESERVE);
	CHECK(count_kind(&es, PETRI_AUDIT_KIND_EXEC_ENDED) == 1);
	CHECK(count_kind(&es, PETRI_AUDIT_KIND_SANDBOX_DESTROYED) == 1);
	CHECK(es.kind[es.n - 2] == PETRI_AUDIT_KIND_SANDBOX_DESTROYED);
	audit_events_free(&es);
}

/* clang-format off */
static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(activity_flood),
	PETRI_TEST_CASE(reserve_worst_case),
	PETRI_TEST_CASE(no_loss_trickle),
	PETRI_TEST_CASE(unlimited),
	PETRI_TEST_CASE(bad_and_default_max),
	PETRI_TEST_CASE(cli_bad_audit_max),
	PETRI_TEST_CASE(cli_audit_max_values),
	PETRI_TEST_CASE(cli_kernel_flood),
	{NULL, NULL},
};
/* clang-format on */

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
