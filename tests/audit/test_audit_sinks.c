/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_audit_sinks - each sink kind delivers a complete, verifiable stream
 * (file, inherited fd = a pipe read by a thread, unix socket served by a
 * thread of this test, callback), and loss is never silent:
 *  - a pipe nobody reads with a queue of 8: every emit returns quickly
 *    (bounded, never waits for the sink), drops are counted; once a reader
 *    appears, Loss events with the exact counts enter the stream, and
 *    events in the stream + counted losses == events emitted, exactly,
 *    and StreamEnd states the same totals;
 *  - a sink that never drains: close gives up after close_timeout_ms
 *    (-ETIMEDOUT) instead of hanging;
 *  - a sink whose reader is gone (EPIPE): the host survives (no SIGPIPE),
 *    close reports -EIO;
 *  - a callback that fails now and then: each event it refused is a Loss
 *    {where: SINK} in what it takes later, and StreamEnd's totals say so;
 *  - a callback too slow for close_timeout_ms: close stops calling it;
 *  - a callback that is down for a second (a collector restarting) while K
 *    events are emitted: exactly K are lost (stats, one Loss {where: SINK}
 *    once it is back, StreamEnd), the only break in the stream is their
 *    gap, and the writer thread does not spin meanwhile.
 */
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "petri_test.h"
#include "audit_sample.h"
#include "audit_stream.h"
#include "petri/audit/v1/audit.pb-c.h"

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct drain {
	int fd;
	struct mem_sink m;
	pthread_t t;
	int listen; /* accept first */
};

static void *drain_main(void *arg)
{
	struct drain *d = arg;
	int fd = d->fd;
	if (d->listen) {
		fd = accept4(d->fd, NULL, NULL, SOCK_CLOEXEC);
		REQUIRE(fd >= 0);
	}
	char buf[8192];
	ssize_t k;
	while ((k = read(fd, buf, sizeof(buf))) > 0)
		mem_sink_fn(buf, (size_t)k, &d->m);
	if (d->listen)
		close(fd);
	return NULL;
}

static void drain_start(struct drain *d, int fd, int listen)
{
	memset(&d->m, 0, sizeof(d->m));
	pthread_mutex_init(&d->m.mu, NULL);
	d->fd = fd;
	d->listen = listen;
	REQUIRE(pthread_create(&d->t, NULL, drain_main, d) == 0);
}

/* Verify @buf as a complete stream; returns the number of events. */
static size_t verify_count(const uint8_t *buf, size_t len)
{
	struct audit_events es = audit_read_mem(buf, len, 0);
	size_t n = es.n;
	audit_events_free(&es);
	return n;
}

static size_t verify_count_path(const char *path)
{
	struct audit_events es = audit_read_path(path, 0);
	size_t n = es.n;
	audit_events_free(&es);
	return n;
}

static petri_audit *open_sink(petri_audit_opts *o)
{
	petri_audit *a = NULL;
	petri_error *err = NULL;
	int r = petri_audit_open(&a, o, &err);
	CHECK_MSG(r == 0, "open sink %u: %s", o->sink, petri_error_message(err));
	petri_error_free(err);
	REQUIRE(a);
	return a;
}

static void emit_n(petri_audit *a, int n)
{
	for (int i = 0; i < n; i++)
		CHECK(petri_audit_emit_limit_hit(a, "sb", "ex", NULL, "pids", (uint64_t)i, 0,
						 NULL) == 0);
}

static void test_file(void)
{
	char path[] = "/tmp/petri-audit-test-XXXXXX";
	int fd = mkstemp(path);
	REQUIRE(fd >= 0);
	close(fd);
	petri_audit_opts o = PETRI_AUDIT_OPTS_INIT;
	o.sink = PETRI_AUDIT_SINK_FILE;
	o.path = path;
	petri_audit *a = open_sink(&o);
	emit_n(a, 1000);
	CHECK(petri_audit_close(a, NULL) == 0);
	/* Read back through the path source. */
	size_t n = verify_count_path(path);
	CHECK_MSG(n == 1002, "file: %zu events", n);
	unlink(path);
}

static void test_fd(void)
{
	int p[2];
	REQUIRE(pipe2(p, O_CLOEXEC) == 0);
	struct drain d;
	drain_start(&d, p[0], 0);
	petri_audit_opts o = PETRI_AUDIT_OPTS_INIT;
	o.sink = PETRI_AUDIT_SINK_FD;
	o.fd = p[1];
	petri_audit *a = open_sink(&o);
	close(p[1]); /* the stream holds its own duplicate */
	emit_n(a, 3000);
	CHECK(petri_audit_close(a, NULL) == 0);
	pthread_join(d.t, NULL);
	close(p[0]);
	CHECK_MSG(verify_count(d.m.p, d.m.len) == 3002, "fd sink");
	free(d.m.p);
}

static void test_unix_socket(void)
{
	char dir[] = "/tmp/petri-audit-sock-XXXXXX";
	REQUIRE(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/s", dir);
	int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	REQUIRE(bind(ls, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(ls, 1) == 0);
	struct drain d;
	drain_start(&d, ls, 1);
	petri_audit_opts o = PETRI_AUDIT_OPTS_INIT;
	o.sink = PETRI_AUDIT_SINK_UNIX;
	o.path = path;
	petri_audit *a = open_sink(&o);
	emit_n(a, 3000);
	CHECK(petri_audit_close(a, NULL) == 0);
	pthread_join(d.t, NULL);
	close(ls);
	CHECK_MSG(verify_count(d.m.p, d.m.len) == 3002, "unix sink");
	free(d.m.p);
	unlink(path);
	rmdir(dir);
	/* Nobody listening: a clear error. */
	petri_error *err = NULL;
	CHECK(petri_audit_open(&a, &o, &err) == -ENOENT);
	CHECK(err && strstr(petri_error_message(err), "connect") != NULL);
	petri_error_free(err);
}

static void test_callback(void)
{
	struct mem_sink m;
	petri_audit *a = sample_open_mem(&m);
	emit_n(a, 500);
	CHECK(petri_audit_close(a, NULL) == 0);
	CHECK(m.calls == 502);
	CHECK(verify_count(m.p, m.len) == 502);
	free(m.p);
}

static void test_loss_accounting(void)
{
	int p[2];
	REQUIRE(pipe2(p, O_CLOEXEC) == 0);
	petri_audit_opts o = PETRI_AUDIT_OPTS_INIT;
	o.sink = PETRI_AUDIT_SINK_FD;
	o.fd = p[1];
	o.queue_events = 8;
	o.close_timeout_ms = 10000;
	petri_audit *a = open_sink(&o);
	close(p[1]);

	/* Phase 1: nobody reads.  The pipe (64 KiB) fills, then the queue,
	 * then events are dropped; no emit may wait for the sink. */
	const int N = 20000;
	uint64_t worst = 0, dropped = 0;
	for (int i = 0; i < N; i++) {
		uint64_t t0 = now_ms();
		int r = petri_audit_emit_limit_hit(a, "sb", "ex", NULL, "pids", (uint64_t)i, 0,
						   NULL);
		uint64_t dt = now_ms() - t0;
		worst = dt > worst ? dt : worst;
		CHECK(r == 0 || r == PETRI_AUDIT_DROPPED);
		dropped += r == PETRI_AUDIT_DROPPED;
	}
	CHECK_MSG(worst < 200, "an emit took %llu ms", (unsigned long long)worst);
	CHECK_MSG(dropped > 0, "nothing was dropped with a blocked sink");
	petri_audit_stats st = {.sz = sizeof(st)};
	CHECK(petri_audit_get_stats(a, &st) == 0);
	CHECK(st.lost_queue == dropped);

	/* Phase 2: a reader appears; more events, then close. */
	struct drain d;
	drain_start(&d, p[0], 0);
	usleep(100 * 1000);
	for (int i = 0; i < 100; i++) {
		int r = petri_audit_emit_limit_hit(a, "sb", "ex", NULL, "pids", 7, 0, NULL);
		dropped += r == PETRI_AUDIT_DROPPED;
		if (i % 10 == 0)
			usleep(1000);
	}
	CHECK(petri_audit_get_stats(a, &st) == 0);
	uint64_t lost = st.lost_queue;
	CHECK(lost == dropped);
	petri_error *err = NULL;
	CHECK_MSG(petri_audit_close(a, &err) == 0, "close: %s", petri_error_message(err));
	petri_error_free(err);
	pthread_join(d.t, NULL);
	close(p[0]);

	/* Count events per kind and sum the Loss counts. */
	uint64_t kinds[64] = {0}, loss_sum = 0;
	const Petri__Audit__V1__StreamEnd *end = NULL;
	struct audit_events es = audit_read_mem(d.m.p, d.m.len, 0); /* verified */
	int n = (int)es.n;
	for (size_t i = 0; i < es.n; i++) {
		const Petri__Audit__V1__Event *ev = es.ev[i];
		kinds[es.kind[i]]++;
		if (es.kind[i] == PETRI_AUDIT_KIND_LOSS) {
			CHECK(ev->loss->where == PETRI__AUDIT__V1__LOSS__WHERE__WHERE_USER_QUEUE);
			CHECK(ev->loss->kind == PETRI__AUDIT__V1__EVENT_KIND__EVENT_KIND_LIMIT_HIT);
			CHECK(ev->loss->first_time_unix_nano <= ev->loss->last_time_unix_nano);
			CHECK(ev->loss->after_seq < ev->seq);
			loss_sum += ev->loss->count;
		}
		if (es.kind[i] == PETRI_AUDIT_KIND_STREAM_END)
			end = ev->stream_end;
	}
	fprintf(stderr, "loss: emitted %d, in stream %llu, lost %llu in %llu Loss events\n",
		N + 100, (unsigned long long)kinds[PETRI_AUDIT_KIND_LIMIT_HIT],
		(unsigned long long)loss_sum, (unsigned long long)kinds[PETRI_AUDIT_KIND_LOSS]);
	CHECK(n > 0);
	CHECK(kinds[PETRI_AUDIT_KIND_LOSS] >= 1);
	CHECK_MSG(kinds[PETRI_AUDIT_KIND_LIMIT_HIT] + loss_sum == (uint64_t)N + 100,
		  "written %llu + lost %llu != %d",
		  (unsigned long long)kinds[PETRI_AUDIT_KIND_LIMIT_HIT],
		  (unsigned long long)loss_sum, N + 100);
	CHECK(loss_sum == lost);
	REQUIRE(end);
	CHECK(end->total_lost == lost);
	CHECK(end->lost_unreported == 0);
	CHECK(end->total_written == (uint64_t)n - 1);
	for (size_t k = 0; k < end->n_kinds; k++) {
		if (end->kinds[k]->kind == PETRI_AUDIT_KIND_LIMIT_HIT) {
			CHECK(end->kinds[k]->written == kinds[PETRI_AUDIT_KIND_LIMIT_HIT]);
			CHECK(end->kinds[k]->lost == lost);
		}
	}
	audit_events_free(&es);
	free(d.m.p);
}

/* Close @a (close_timeout_ms 300) on a sink that cannot keep up: it gives
 * up with -ETIMEDOUT well within 2 s. */
static void check_close_times_out(petri_audit *a)
{
	uint64_t t0 = now_ms();
	petri_error *err = NULL;
	int r = petri_audit_close(a, &err);
	uint64_t dt = now_ms() - t0;
	CHECK_MSG(r == -ETIMEDOUT, "close: %d %s", r, petri_error_message(err));
	CHECK_MSG(dt < 2000, "close took %llu ms with a 300 ms timeout", (unsigned long long)dt);
	petri_error_free(err);
}

static void test_never_drains(void)
{
	int p[2];
	REQUIRE(pipe2(p, O_CLOEXEC) == 0);
	/* Fill the pipe first: not one byte more will fit. */
	REQUIRE(fcntl(p[1], F_SETFL, O_NONBLOCK) == 0);
	char junk[4096] = {0};
	while (write(p[1], junk, sizeof(junk)) > 0) {
	}
	while (write(p[1], junk, 1) > 0) {
	}
	REQUIRE(fcntl(p[1], F_SETFL, 0) == 0);
	petri_audit_opts o = PETRI_AUDIT_OPTS_INIT;
	o.sink = PETRI_AUDIT_SINK_FD;
	o.fd = p[1];
	o.queue_events = 16;
	o.close_timeout_ms = 300;
	petri_audit *a = open_sink(&o);
	for (int i = 0; i < 5000; i++)
		petri_audit_emit_limit_hit(a, "sb", "ex", NULL, "pids", 1, 0, NULL);
	check_close_times_out(a);
	close(p[0]);
	close(p[1]);
}

static void test_reader_gone(void)
{
	int p[2];
	REQUIRE(pipe2(p, O_CLOEXEC) == 0);
	close(p[0]);
	petri_audit_opts o = PETRI_AUDIT_OPTS_INIT;
	o.sink = PETRI_AUDIT_SINK_FD;
	o.fd = p[1];
	petri_audit *a = open_sink(&o);
	emit_n(a, 10);
	petri_error *err = NULL;
	CHECK(petri_audit_close(a, &err) == -EIO); /* and we are still alive */
	CHECK(err && strstr(petri_error_message(err), "sink") != NULL);
	petri_error_free(err);
	close(p[1]);
}

struct flaky {
	struct mem_sink m;
	int calls;
};

/* Refuses every 10th event (not the header). */
static int flaky_fn(const void *data, size_t len, void *userdata)
{
	struct flaky *f = userdata;
	if (++f->calls % 10 == 0)
		return -EAGAIN;
	return mem_sink_fn(data, len, &f->m);
}

static void test_flaky_callback(void)
{
	struct flaky f = {0};
	pthread_mutex_init(&f.m.mu, NULL);
	petri_audit_opts o = PETRI_AUDIT_OPTS_INIT;
	o.sink = PETRI_AUDIT_SINK_CALLBACK;
	o.sink_fn = flaky_fn;
	o.sink_userdata = &f;
	petri_audit *a = open_sink(&o);
	/* A stream that lives a while: the writer meets the failures while
	 * the stream is open (those of its final drain, after the StreamEnd,
	 * can only be in close's error). */
	for (int i = 0; i < 20; i++) {
		emit_n(a, 10);
		usleep(5000);
	}
	petri_error *err = NULL;
	CHECK(petri_audit_close(a, &err) == -EIO); /* the stream has gaps */
	petri_error_free(err);

	/* Walk what arrived without verifying (the gaps break the chain). */
	uint64_t got = 0, sink_lost = 0, end_lost = 0;
	int have_end = 0;
	struct audit_events es = audit_read_mem(f.m.p, f.m.len, AUDIT_READ_NO_VERIFY);
	for (size_t i = 0; i < es.n; i++) {
		const Petri__Audit__V1__Event *ev = es.ev[i];
		if (ev->body_case == PETRI__AUDIT__V1__EVENT__BODY_LIMIT_HIT)
			got++;
		if (ev->body_case == PETRI__AUDIT__V1__EVENT__BODY_LOSS &&
		    ev->loss->where == PETRI__AUDIT__V1__LOSS__WHERE__WHERE_SINK)
			sink_lost += ev->loss->count;
		if (ev->body_case == PETRI__AUDIT__V1__EVENT__BODY_STREAM_END) {
			have_end = 1;
			end_lost = ev->stream_end->total_lost;
		}
	}
	audit_events_free(&es);
	CHECK_MSG(got < 200, "the callback refused events, yet %llu arrived",
		  (unsigned long long)got);
	/* The refused events are accounted: the limit hits that arrived plus the
	 * sink losses reported cover the 200, but for the last few (refused in
	 * the final drain, or Loss records refused in turn). */
	CHECK_MSG(sink_lost > 0 && got + sink_lost >= 190, "%llu arrived + %llu reported lost",
		  (unsigned long long)got, (unsigned long long)sink_lost);
	CHECK_MSG(!have_end || end_lost >= sink_lost, "StreamEnd total_lost %llu < %llu",
		  (unsigned long long)end_lost, (unsigned long long)sink_lost);
	free(f.m.p);
}

static int slow_fn(const void *data, size_t len, void *userdata)
{
	(void)data;
	(void)len;
	(void)userdata;
	usleep(50 * 1000);
	return 0;
}

static void test_slow_callback_close(void)
{
	petri_audit_opts o = PETRI_AUDIT_OPTS_INIT;
	o.sink = PETRI_AUDIT_SINK_CALLBACK;
	o.sink_fn = slow_fn;
	o.close_timeout_ms = 300;
	petri_audit *a = open_sink(&o);
	emit_n(a, 100); /* 5 s of callbacks */
	check_close_times_out(a);
}

struct outage {
	struct mem_sink m;
	atomic_int down;       /* fail every call while set */
	atomic_uint refused;   /* calls failed */
	atomic_int have_clock; /* cpu: the writer thread's CPU clock */
	clockid_t cpu;
};

static int outage_fn(const void *data, size_t len, void *userdata)
{
	struct outage *o = userdata;
	if (!atomic_load(&o->have_clock) && pthread_getcpuclockid(pthread_self(), &o->cpu) == 0)
		atomic_store(&o->have_clock, 1);
	if (atomic_load(&o->down)) {
		atomic_fetch_add(&o->refused, 1);
		return -EIO;
	}
	return mem_sink_fn(data, len, &o->m);
}

static double cpu_s(clockid_t c)
{
	struct timespec ts;
	REQUIRE(clock_gettime(c, &ts) == 0);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait (up to 5 s) for the writer to have taken every queued event. */
static void wait_drained(petri_audit *a)
{
	petri_audit_stats st = {.sz = sizeof(st)};
	uint64_t t0 = now_ms();
	do {
		REQUIRE(petri_audit_get_stats(a, &st) == 0);
		if (!st.queued)
			return;
		usleep(2000);
	} while (now_ms() - t0 < 5000);
	CHECK_MSG(0, "the writer did not drain: %llu queued", (unsigned long long)st.queued);
}

/* A sink down for a second loses exactly the events emitted meanwhile:
 * a Loss record that cannot be written is not itself a lost event (it
 * used to be counted, and made again at once: a busy loop of "losses"
 * nobody emitted, ~1 per sink call, while the sink was down). */
static void test_sink_outage(void)
{
	enum {
		BEFORE = 5,
		K = 10,
		AFTER = 3
	};
	struct outage f = {0};
	pthread_mutex_init(&f.m.mu, NULL);
	petri_audit_opts o = PETRI_AUDIT_OPTS_INIT;
	o.sink = PETRI_AUDIT_SINK_CALLBACK;
	o.sink_fn = outage_fn;
	o.sink_userdata = &f;
	petri_audit *a = open_sink(&o);

	emit_n(a, BEFORE); /* header + seq 1..BEFORE delivered */
	wait_drained(a);
	REQUIRE(atomic_load(&f.have_clock));

	atomic_store(&f.down, 1);
	uint64_t t0 = now_ms();
	double c0 = cpu_s(f.cpu);
	for (int i = 0; i < K; i++) {
		emit_n(a, 1);
		usleep(50 * 1000);
	}
	while (now_ms() - t0 < 1000)
		usleep(10 * 1000);
	double burnt = cpu_s(f.cpu) - c0;
	CHECK_MSG(burnt < 0.2, "the writer thread used %.3f s of CPU in a 1 s outage", burnt);
	CHECK_MSG(atomic_load(&f.refused) <= 2 * K + 2,
		  "%u sink calls during the outage for %d events", atomic_load(&f.refused), K);
	printf("sink_outage: 1 s down, %d events: writer thread CPU %.3f s, %u sink calls\n", K,
	       burnt, atomic_load(&f.refused));
	petri_audit_stats st = {.sz = sizeof(st)};
	REQUIRE(petri_audit_get_stats(a, &st) == 0);
	CHECK_MSG(st.lost_sink == K, "lost_sink %llu during the outage, %d emitted",
		  (unsigned long long)st.lost_sink, K);

	atomic_store(&f.down, 0);
	emit_n(a, AFTER);
	wait_drained(a);
	REQUIRE(petri_audit_get_stats(a, &st) == 0);
	CHECK_MSG(st.lost_sink == K && st.lost_queue == 0, "lost_sink %llu, lost_queue %llu",
		  (unsigned long long)st.lost_sink, (unsigned long long)st.lost_queue);
	CHECK_MSG(st.loss_events == 1 && st.emitted == st.written + st.lost_sink + st.queued,
		  "loss_events %llu, emitted %llu, written %llu",
		  (unsigned long long)st.loss_events, (unsigned long long)st.emitted,
		  (unsigned long long)st.written);
	petri_error *err = NULL;
	CHECK(petri_audit_close(a, &err) == -EIO); /* the sink failed some events */
	petri_error_free(err);

	/* What arrived: one gap (the K events and the Loss records that could
	 * not be written, at most one per event), right after it the one Loss
	 * that reports exactly K, the chain whole on either side, and
	 * StreamEnd's totals adding up. */
	struct audit_events es = audit_read_mem(f.m.p, f.m.len, AUDIT_READ_NO_VERIFY);
	uint64_t hits = 0, losses = 0, loss_count = 0, gaps = 0, gap_at = 0;
	for (size_t i = 0; i < es.n; i++) {
		const Petri__Audit__V1__Event *ev = es.ev[i];
		hits += ev->body_case == PETRI__AUDIT__V1__EVENT__BODY_LIMIT_HIT;
		if (ev->body_case == PETRI__AUDIT__V1__EVENT__BODY_LOSS) {
			losses++;
			loss_count += ev->loss->count;
			CHECK(ev->loss->where == PETRI__AUDIT__V1__LOSS__WHERE__WHERE_SINK);
			CHECK(ev->loss->kind == (int)PETRI_AUDIT_KIND_LIMIT_HIT);
			CHECK_MSG(ev->loss->after_seq == BEFORE, "Loss after_seq %llu",
				  (unsigned long long)ev->loss->after_seq);
		}
		if (i && es.seq[i] != es.seq[i - 1] + 1) {
			gaps++;
			gap_at = i;
			CHECK_MSG(es.seq[i] - es.seq[i - 1] - 1 <= 2 * K, "gap of %llu seqs",
				  (unsigned long long)(es.seq[i] - es.seq[i - 1] - 1));
		} else if (i) {
			CHECK_MSG(ev->prev_hash.len == 32 && es.ev[i - 1]->hash.len == 32 &&
					  !memcmp(ev->prev_hash.data, es.ev[i - 1]->hash.data, 32),
				  "chain broken at seq %llu", (unsigned long long)es.seq[i]);
		}
	}
	CHECK_MSG(hits == BEFORE + AFTER, "%llu limit hits arrived", (unsigned long long)hits);
	CHECK_MSG(losses == 1 && loss_count == K, "%llu Loss records, count %llu (want 1, %d)",
		  (unsigned long long)losses, (unsigned long long)loss_count, K);
	CHECK_MSG(gaps == 1 && es.seq[gap_at - 1] == BEFORE &&
			  es.kind[gap_at] == PETRI_AUDIT_KIND_LOSS,
		  "%llu gaps, the first after seq %llu", (unsigned long long)gaps,
		  gap_at ? (unsigned long long)es.seq[gap_at - 1] : 0ull);
	REQUIRE(es.n > 0 && es.kind[es.n - 1] == PETRI_AUDIT_KIND_STREAM_END);
	const Petri__Audit__V1__StreamEnd *end = es.ev[es.n - 1]->stream_end;
	CHECK_MSG(end->total_lost == K && end->lost_unreported == 0,
		  "StreamEnd total_lost %llu, lost_unreported %llu",
		  (unsigned long long)end->total_lost, (unsigned long long)end->lost_unreported);
	CHECK(end->total_written == es.seq[es.n - 1]);
	for (size_t k = 0; k < end->n_kinds; k++) {
		const Petri__Audit__V1__KindCount *kc = end->kinds[k];
		uint64_t in_stream = 0;
		for (size_t i = 0; i < es.n; i++)
			in_stream += es.kind[i] == (int)kc->kind;
		CHECK_MSG(kc->written == in_stream,
			  "%s: StreamEnd written %llu, %llu in the stream",
			  petri_audit_kind_name((int)kc->kind), (unsigned long long)kc->written,
			  (unsigned long long)in_stream);
		uint64_t want_lost = kc->kind == (int)PETRI_AUDIT_KIND_LIMIT_HIT ? K : 0;
		CHECK_MSG(kc->lost == want_lost, "%s: StreamEnd lost %llu, want %llu",
			  petri_audit_kind_name((int)kc->kind), (unsigned long long)kc->lost,
			  (unsigned long long)want_lost);
	}
	audit_events_free(&es);

	/* verify: the stream is broken exactly where the lost events were. */
	petri_audit_reader_opts ro = PETRI_AUDIT_READER_OPTS_INIT;
	ro.source = PETRI_AUDIT_SRC_MEMORY;
	ro.data = f.m.p;
	ro.data_len = f.m.len;
	petri_audit_reader *rd = NULL;
	REQUIRE(petri_audit_reader_open(&rd, &ro, NULL) == 0);
	uint64_t bad = 0;
	CHECK(petri_audit_reader_verify(rd, &bad, NULL) == -EBADMSG);
	CHECK_MSG(bad == BEFORE + 1, "verify: first bad seq %llu, want %d", (unsigned long long)bad,
		  BEFORE + 1);
	petri_audit_reader_close(rd);
	free(f.m.p);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(file),
	PETRI_TEST_CASE(fd),
	PETRI_TEST_CASE(unix_socket),
	PETRI_TEST_CASE(callback),
	PETRI_TEST_CASE(loss_accounting),
	PETRI_TEST_CASE(never_drains),
	PETRI_TEST_CASE(reader_gone),
	PETRI_TEST_CASE(flaky_callback),
	PETRI_TEST_CASE(slow_callback_close),
	PETRI_TEST_CASE(sink_outage),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
