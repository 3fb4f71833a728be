/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_leak - "teardown leaves nothing behind", measured: 1000 cycles of
 * create -> exec(/bin/true) -> destroy in one context (200 under ASan, which
 * is slower and keeps freed memory in quarantine).  After a warm-up of 20
 * cycles, this process's fd count, mount count, thread count, petri
 * cgroup directories and /tmp entries named petri* do not grow; RSS grows by
 * less than 2 MiB (without ASan; with it, LeakSanitizer checks the heap at
 * exit); and no child process (zombie or alive) is left, also after
 * petri_ctx_free, which ends the context's threads.  Prints cycles per
 * second.
 */
#include <sched.h>
#include <sys/mount.h>
#include <sys/types.h>

#include "api_common.h"

#if defined(__SANITIZE_ADDRESS__)
#define PETRI_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PETRI_ASAN 1
#endif
#endif
/* Under ASan: fewer cycles, and no RSS bound (freed memory sits in ASan's
 * quarantine); LeakSanitizer checks the heap at exit instead. */
#ifdef PETRI_ASAN
#define CYCLES 200
#else
#define CYCLES 1000
#endif
#define WARMUP 20

/* Entries of /tmp named petri*; with @before, print those not in it. */
static int count_tmp_petri(char *names, size_t len, const char *before)
{
	DIR *d = opendir("/tmp");
	int n = 0;
	struct dirent *e;
	REQUIRE(d);
	if (names)
		names[0] = '\0';
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "petri", 5) != 0)
			continue;
		n++;
		if (names && strlen(names) + strlen(e->d_name) + 2 < len)
			strcat(strcat(names, e->d_name), "/");
		if (before) {
			char key[300];
			snprintf(key, sizeof(key), "%s/", e->d_name);
			if (!strstr(before, key))
				fprintf(stderr, "new in /tmp: %s\n", e->d_name);
		}
	}
	closedir(d);
	return n;
}

static void cycle(void)
{
	petri_sandbox *sb = api_sandbox(NULL);
	petri_result *r =
		api_run_argv(sb, (const char *const[]){"/bin/true", NULL}, 10000, __LINE__);
	if (petri_result_reason(r) != PETRI_REASON_EXITED || petri_result_exit_code(r) != 0) {
		fprintf(stderr, "/bin/true ended %s exit %d\n",
			petri_reason_name(petri_result_reason(r)), petri_result_exit_code(r));
		petri_test_failures++;
	}
	petri_result_free(r);
	petri_sandbox_destroy(sb);
}

/* As root, a private /tmp (own mount namespace, fresh tmpfs) so that files
 * other programs make in the host's /tmp meanwhile are not counted as ours:
 * whatever the library leaves in /tmp lands here.  Before any thread. */
static void private_tmp(void)
{
	if (geteuid() != 0)
		return;
	REQUIRE(unshare(CLONE_NEWNS) == 0);
	REQUIRE(mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) == 0);
	REQUIRE(mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") == 0);
}

/* petri_ctx_free ends the context's threads (@base_threads remain) and
 * leaves no child or cgroup. */
static void free_ctx_leaves_nothing(int base_threads)
{
	petri_test_ctx_free();
	CHECK_MSG(api_count_threads() == base_threads, "threads after petri_ctx_free: %d, want %d",
		  api_count_threads(), base_threads);
	CHECK(api_children(getpid(), NULL, NULL, "left child") == 0);
	CHECK(api_count_cgroups_of(getpid()) == 0);
}

/* Many cycles in one context leave nothing behind, and neither does the
 * context's end. */
static void test_cycles(void)
{
	int me = (int)getpid();
	int base_threads = api_base_threads();
	for (int i = 0; i < WARMUP; i++)
		cycle();
	int fds = petri_test_count_fds(), mounts = petri_test_count_mounts();
	static char tmp_names[65536];
	int cgs = api_count_cgroups_of(me), threads = api_count_threads();
	int tmp = count_tmp_petri(tmp_names, sizeof(tmp_names), NULL);
	long rss = petri_test_rss_kib();

	double t0 = api_now_s();
	for (int i = 0; i < CYCLES && petri_test_failures < 10; i++)
		cycle();
	double dt = api_now_s() - t0;
	fprintf(stderr, "%d cycles in %.2f s: %.0f cycles/s (%.2f ms each)\n", CYCLES, dt,
		CYCLES / dt, dt * 1000 / CYCLES);

	int fds2 = petri_test_count_fds(), mounts2 = petri_test_count_mounts();
	int cgs2 = api_count_cgroups_of(me), threads2 = api_count_threads();
	int tmp2 = count_tmp_petri(NULL, 0, tmp_names);
	long rss2 = petri_test_rss_kib();
	fprintf(stderr,
		"fds %d->%d mounts %d->%d cgroups %d->%d /tmp petri* %d->%d threads %d->%d "
		"rss %ld->%ld KiB\n",
		fds, fds2, mounts, mounts2, cgs, cgs2, tmp, tmp2, threads, threads2, rss, rss2);
	CHECK(fds2 <= fds);
	CHECK(mounts2 <= mounts);
	CHECK(cgs2 <= cgs && cgs2 == 0);
	CHECK(tmp2 <= tmp);
	CHECK(threads2 <= threads);
#ifndef PETRI_ASAN
	CHECK_MSG(rss2 - rss < 2048, "RSS grew by %ld KiB over %d cycles", rss2 - rss, CYCLES);
#endif
	CHECK(api_children(getpid(), NULL, NULL, "left child") == 0);
	/* The context's own things go with it too. */
	free_ctx_leaves_nothing(base_threads);
}

/* The same after only a few cycles. */
static void test_ctx_free(void)
{
	int base_threads = api_base_threads();
	for (int i = 0; i < WARMUP; i++)
		cycle();
	free_ctx_leaves_nothing(base_threads);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(cycles),
	PETRI_TEST_CASE(ctx_free),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	private_tmp(); /* before any thread; every case inherits it */
	return petri_test_main(argc, argv, cases);
}
