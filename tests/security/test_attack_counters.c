/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_attack_counters - kernel counters kept per user or per machine: a
 * sandbox that takes all it can of one leaves the host and other sandboxes
 * what they had; and what /proc tells about the host's boot.
 *
 * Each counter case runs attacks/counters.c ("hog") in a small sandbox A
 * (--pids 4 --memory 64M) until the kernel refuses it more, and while it
 * holds that, takes one unit of the same counter as host root (this test
 * process, through the same code) and in a second sandbox B.  Both must
 * succeed.  Before the fix they did not: the kernel charges a user
 * namespace's per-user counts (ucounts) at each parent level to the
 * namespace's owner, which was host root for every sandbox, and AIO
 * contexts are counted machine-wide (fs.aio-nr).
 */
#define COUNTERS_NO_MAIN
#include "attacks/counters.c"

#include <pthread.h>
#include <regex.h>
#include <sys/prctl.h>

#include "sec_util.h"

struct hog {
	petri_sandbox *sb;
	const char *what;
	struct petri_test_run run;
	pthread_mutex_t lock;
	char out[256];
	size_t len;
};

static int hog_output(int stream, const char *data, size_t len, void *userdata)
{
	struct hog *h = userdata;
	pthread_mutex_lock(&h->lock);
	if (stream == PETRI_STREAM_STDOUT)
		for (size_t i = 0; i < len && h->len + 1 < sizeof(h->out); i++)
			h->out[h->len++] = data[i];
	pthread_mutex_unlock(&h->lock);
	return 0;
}

static void *hog_thread(void *arg)
{
	struct hog *h = arg;
	const char *argv[] = {"/workspace/counters", "hog", h->what, NULL};
	struct sec_exec x = {
		.argv = argv, .timeout_ms = 60000, .on_output = hog_output, .userdata = h};
	h->run = sec_exec(h->sb, &x);
	return NULL;
}

/* The hog's "HELD n ERR" line, once it has printed it (else NULL). */
static const char *hog_held(struct hog *h, char *buf, size_t buflen)
{
	pthread_mutex_lock(&h->lock);
	h->out[h->len] = '\0';
	const char *p = strstr(h->out, "HELD ");
	const char *nl = p ? strchr(p, '\n') : NULL;
	if (nl)
		snprintf(buf, buflen, "%.*s", (int)(nl - p), p);
	pthread_mutex_unlock(&h->lock);
	return nl ? buf : NULL;
}

static petri_sandbox *counters_sandbox(uint64_t memory, uint32_t pids, uint32_t flags)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.flags = flags;
	so.memory_bytes = memory;
	so.pids_max = pids;
	petri_sandbox *sb = sec_sandbox(&so);
	sec_install_binary(sb, SEC_COUNTERS_BIN, "counters");
	return sb;
}

/* "TRY OK" or "TRY <errno>" from `counters try @what` in @sb. */
static void sandbox_try(petri_sandbox *sb, const char *what, char *verdict, size_t len)
{
	const char *argv[] = {"/workspace/counters", "try", what, NULL};
	struct sec_exec x = {.argv = argv, .timeout_ms = 20000};
	struct petri_test_run r = sec_exec(sb, &x);
	const char *p = r.out ? strstr(r.out, "TRY ") : NULL;
	snprintf(verdict, len, "%.*s", p ? (int)strcspn(p + 4, "\n") : 7, p ? p + 4 : "NOTHING");
	if (!p)
		sec_dump("counters try", &r);
	petri_test_run_free(&r);
}

/*
 * Hog @what in sandbox A; meanwhile host root takes one unit of @host_what
 * and sandbox B one of @what.  @hog_min: the least A must have held (0 for
 * a counter no sandbox may use; then @hog_err is the refusal expected, and
 * B must get that same refusal, not another).  @flags: A's and B's.
 */
static void check_counter(const char *what, const char *host_what, long hog_min,
			  const char *hog_err, uint32_t flags)
{
	counters_block(); /* before any thread: queued SIGRTMIN stay pending */
	struct hog h = {.what = what, .lock = PTHREAD_MUTEX_INITIALIZER};
	h.sb = counters_sandbox(64ull << 20, 4, flags);
	petri_sandbox *b = counters_sandbox(0, 0, flags);

	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, hog_thread, &h) == 0);
	char held[128];
	uint64_t t0 = sec_now_ms();
	while (!hog_held(&h, held, sizeof(held)) && sec_now_ms() - t0 < 40000)
		usleep(20000);
	CHECK_MSG(hog_held(&h, held, sizeof(held)) != NULL, "%s: the hog never reported", what);
	fprintf(stderr, "%s: sandbox A: %s\n", what, held);

	int host = counters_take(host_what, 1);
	if (host == 0 && strcmp(what, "sigpending") == 0)
		host = counters_take("timer", 1);
	char bv[64];
	sandbox_try(b, what, bv, sizeof(bv));
	fprintf(stderr, "%s: host root: %s, sandbox B: %s\n", what, counters_errname(host), bv);
	CHECK_MSG(host == 0,
		  "%s: host root's own %s failed with %s while sandbox A holds %s: A's use is "
		  "charged to host root (or to the whole machine)",
		  what, host_what, counters_errname(host), held);
	const char *b_expect = hog_err && hog_min == 0 ? hog_err : "OK";
	CHECK_MSG(strcmp(bv, b_expect) == 0,
		  "%s: another sandbox got %s (not %s) while sandbox A holds %s", what, bv,
		  b_expect, held);

	petri_sandbox_cancel(h.sb);
	pthread_join(t, NULL);
	long n = -1;
	char err[32] = "";
	CHECK(sscanf(held, "HELD %ld %31s", &n, err) == 2);
	CHECK_MSG(n >= hog_min, "%s: sandbox A held only %ld", what, n);
	if (hog_err)
		CHECK_MSG(strcmp(err, hog_err) == 0, "%s: A was refused with %s, not %s", what, err,
			  hog_err);
	if (petri_test_failures)
		sec_dump("counters hog", &h.run);
	petri_test_run_free(&h.run);
	petri_sandbox_destroy(h.sb);
	petri_sandbox_destroy(b);
}

/* inotify instances: fs.inotify.max_user_instances (128) per user. */
static void test_inotify_instances(void)
{
	check_counter("inotify", "inotify", 16, NULL, 0);
}

/* Queued signals (RLIMIT_SIGPENDING): what sigqueue and timer_create use.
 * A holds its own limit's worth (PETRI_DEFAULT_SIGPENDING). */
static void test_pending_signals(void)
{
	check_counter("sigpending", "sigpending", 64, NULL, 0);
}

/* POSIX message queue bytes (RLIMIT_MSGQUEUE).  Landlock refuses to open a
 * queue (its file is beneath no allowed directory), so the sandboxes run
 * without it, as a caller may ask (PETRI_SANDBOX_F_NO_LANDLOCK). */
static void test_mqueue_bytes(void)
{
	check_counter("mqueue", "mqueue", 4, NULL, PETRI_SANDBOX_F_NO_LANDLOCK);
}

/* AIO contexts are counted for the whole machine (fs.aio-nr against
 * fs.aio-max-nr): no sandbox may take any, and each is told ENOSYS, what a
 * kernel without AIO says; host root keeps what it had. */
static void test_aio_contexts(void)
{
	check_counter("aio", "aio1", 0, "ENOSYS", 0);
}

/* `counters count @what` in @sb: how many units it got. */
static long sandbox_count(petri_sandbox *sb, const char *what)
{
	const char *argv[] = {"/workspace/counters", "count", what, NULL};
	struct sec_exec x = {.argv = argv, .timeout_ms = 20000};
	struct petri_test_run r = sec_exec(sb, &x);
	const char *p = r.out ? strstr(r.out, "HELD ") : NULL;
	long n = p ? atol(p + 5) : -1;
	if (!p)
		sec_dump("counters count", &r);
	petri_test_run_free(&r);
	return n;
}

/* The sandbox's own limits (petri_sandbox_opts) are the ones in force
 * inside, and the defaults are defaults.h's. */
static void test_own_limits(void)
{
	counters_block();
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.inotify_instances_max = 8;
	so.sigpending_max = 100;
	so.msgqueue_bytes = 64 << 10;
	so.flags = PETRI_SANDBOX_F_NO_LANDLOCK; /* for mq_open, see mqueue_bytes */
	petri_sandbox *sb = sec_sandbox(&so);
	sec_install_binary(sb, SEC_COUNTERS_BIN, "counters");
	long ino = sandbox_count(sb, "inotify"), sig = sandbox_count(sb, "sigpending");
	long mq = sandbox_count(sb, "mqueue");
	fprintf(stderr, "limited: inotify %ld, signals %ld, queues %ld\n", ino, sig, mq);
	CHECK_MSG(ino == 8, "inotify instances: %ld, not the 8 asked for", ino);
	CHECK_MSG(sig > 90 && sig <= 100, "queued signals: %ld, not about the 100 asked for", sig);
	/* A queue of 10 x 1 KiB messages counts ~10.5 KiB: 64 KiB holds 6. */
	CHECK_MSG(mq >= 4 && mq <= 6, "message queues: %ld in 64 KiB", mq);
	petri_sandbox_destroy(sb);

	sb = counters_sandbox(0, 0, 0);
	ino = sandbox_count(sb, "inotify");
	sig = sandbox_count(sb, "sigpending");
	fprintf(stderr, "defaults: inotify %ld, signals %ld\n", ino, sig);
	CHECK_MSG(ino == 128, "inotify instances by default: %ld, not 128", ino);
	CHECK_MSG(sig > 4000 && sig <= 4096, "queued signals by default: %ld, not ~4096", sig);
	petri_sandbox_destroy(sb);
}

static char *sandbox_cat(petri_sandbox *sb, const char *path, int *exit_code)
{
	const char *argv[] = {"/bin/cat", path, NULL};
	struct sec_exec x = {.argv = argv, .timeout_ms = 20000};
	struct petri_test_run r = sec_exec(sb, &x);
	REQUIRE(r.rc == 0);
	*exit_code = r.exit_code;
	char *out = strdup(r.out ? r.out : "");
	petri_test_run_free(&r);
	return out;
}

/* /proc/cmdline is the host's boot configuration: nothing of it inside. */
static void test_proc_cmdline(void)
{
	size_t len = 0;
	char *host = sec_read_host_file("/proc/cmdline", &len);
	REQUIRE(host && len > 1); /* else the check below proves nothing */
	petri_sandbox *sb = sec_sandbox(NULL);
	int ec;
	char *in = sandbox_cat(sb, "/proc/cmdline", &ec);
	CHECK_MSG(in[0] == '\0', "the sandbox reads the host's /proc/cmdline: %s", in);
	free(in);
	free(host);
	petri_sandbox_destroy(sb);
}

static int is_uuid(const char *s)
{
	regex_t re;
	REQUIRE(regcomp(&re,
			"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n$",
			REG_EXTENDED | REG_NOSUB) == 0);
	int ok = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

/* boot_id: a random (version 4) UUID of the sandbox's own, in the kernel's
 * format, the same for every exec of a sandbox. */
static void test_boot_id(void)
{
	const char *path = "/proc/sys/kernel/random/boot_id";
	char *host = sec_read_host_file(path, NULL);
	REQUIRE(host != NULL);
	petri_sandbox *a = sec_sandbox(NULL), *b = sec_sandbox(NULL);
	int ec1, ec2, ec3;
	char *a1 = sandbox_cat(a, path, &ec1), *a2 = sandbox_cat(a, path, &ec2);
	char *b1 = sandbox_cat(b, path, &ec3);
	fprintf(stderr, "host %s  A %s  B %s", host, a1, b1);
	CHECK(ec1 == 0 && ec2 == 0 && ec3 == 0);
	CHECK_MSG(strcmp(a1, host) != 0, "the sandbox reads the host's boot_id");
	CHECK_MSG(strcmp(a1, b1) != 0, "two sandboxes share a boot_id");
	CHECK_MSG(strcmp(a1, a2) == 0, "a sandbox's boot_id changes between execs");
	CHECK_MSG(is_uuid(a1) && is_uuid(b1), "not a random UUID: %s / %s", a1, b1);
	free(a1);
	free(a2);
	free(b1);
	free(host);
	petri_sandbox_destroy(a);
	petri_sandbox_destroy(b);
}

/*
 * The switch of owner (spawn.c) changes the process's dumpable flag, which
 * is one for all threads: sandboxes created at once in several contexts
 * (one supervisor thread each) leave it as it was.  Before the fix each
 * switch saved and restored it alone, and a switch that began while
 * another was in progress saved its 0: the host stayed undumpable for good
 * (no core dumps, /proc/PID files root's), every run of this case.
 */
#define DUMPABLE_THREADS 3
#define DUMPABLE_ROUNDS 30

static void *dumpable_creator(void *arg)
{
	int *failed = arg;
	petri_ctx *ctx = NULL;
	petri_error *err = NULL;
	if (petri_ctx_new(&ctx, NULL, &err) < 0) {
		fprintf(stderr, "petri_ctx_new: %s\n", petri_error_message(err));
		petri_error_free(err);
		*failed = 1;
		return NULL;
	}
	for (int i = 0; i < DUMPABLE_ROUNDS; i++) {
		petri_sandbox *sb = NULL;
		int r = petri_sandbox_create(ctx, NULL, &sb, &err);
		if (r < 0) {
			fprintf(stderr, "round %d: petri_sandbox_create: %d %s\n", i, r,
				petri_error_message(err));
			petri_error_free(err);
			*failed = 1;
			break;
		}
		petri_sandbox_destroy(sb);
	}
	petri_ctx_free(ctx);
	return NULL;
}

static void test_dumpable_concurrent(void)
{
	REQUIRE(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == 0);
	pthread_t t[DUMPABLE_THREADS];
	int failed[DUMPABLE_THREADS] = {0};
	for (int i = 0; i < DUMPABLE_THREADS; i++)
		REQUIRE(pthread_create(&t[i], NULL, dumpable_creator, &failed[i]) == 0);
	for (int i = 0; i < DUMPABLE_THREADS; i++) {
		pthread_join(t[i], NULL);
		CHECK_MSG(!failed[i], "thread %d could not create its sandboxes", i);
	}
	int d = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	CHECK_MSG(d == 1, "the host is left with dumpable %d after %d x %d concurrent creations", d,
		  DUMPABLE_THREADS, DUMPABLE_ROUNDS);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(inotify_instances),
	PETRI_TEST_CASE(pending_signals),
	PETRI_TEST_CASE(mqueue_bytes),
	PETRI_TEST_CASE(aio_contexts),
	PETRI_TEST_CASE(own_limits),
	PETRI_TEST_CASE(proc_cmdline),
	PETRI_TEST_CASE(boot_id),
	PETRI_TEST_CASE(dumpable_concurrent),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
