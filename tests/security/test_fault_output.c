/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fault_output - floods, endless loops and daemons cannot hold the
 * host or outlive their exec.
 *
 *  - 2 GiB on stdout (head -c 2G /dev/zero): with the default kill
 *    threshold the exec is ended with reason "output_limit"; with a
 *    threshold above 2 GiB all of it streams through, the result counts
 *    every byte, keeps the 1 MiB cap and says "truncated".  Either way the
 *    host's RSS grows by less than 100 MiB.  The same on stderr (yes >&2).
 *  - A CPU-bound endless loop with a 1.5 s timeout ends with reason
 *    "timeout" in about that time.
 *  - attacks/daemon.sh double-forks a setsid daemon that ignores HUP/TERM
 *    and keeps the exec's stdout open, then exits: the exec returns at once,
 *    the next exec sees no process but pid 1 and itself, and on the host no
 *    process of the sandbox's uid is left but its init.  Also with the
 *    daemon's stdio detached.
 */
#include "sec_util.h"

#include <unistd.h>

#define GIB (1ull << 30)

static void flood(petri_sandbox *sb, const char *cmd, uint64_t kill_bytes, int stream)
{
	long rss0 = petri_test_rss_kib();
	const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	struct sec_exec x = {.argv = argv, .timeout_ms = 60000, .output_kill_bytes = kill_bytes};
	uint64_t t0 = sec_now_ms();
	struct petri_test_run r = sec_exec(sb, &x);
	uint64_t took = sec_now_ms() - t0;
	long rss1 = petri_test_rss_kib();
	uint64_t total = stream == 1 ? r.out_total : r.err_total;
	size_t kept = stream == 1 ? r.out_len : r.err_len;
	int trunc = stream == 1 ? r.out_trunc : r.err_trunc;

	CHECK_MSG(r.rc == 0, "%s: %s", cmd, r.errmsg);
	CHECK_MSG(rss1 - rss0 < 100 * 1024, "%s: host RSS grew from %ld to %ld KiB", cmd, rss0,
		  rss1);
	CHECK_MSG(kept == 1u << 20, "%s: kept %zu bytes, want the 1 MiB cap", cmd, kept);
	CHECK_MSG(trunc, "%s: not flagged truncated", cmd);
	CHECK(r.limits & PETRI_LIMIT_OUTPUT);
	if (kill_bytes == 0) {
		CHECK_MSG(r.reason == PETRI_REASON_OUTPUT_LIMIT, "%s: reason %s, want output_limit",
			  cmd, petri_reason_name(r.reason));
		CHECK_MSG(total >= 64ull << 20 && total < GIB, "%s: %llu bytes seen", cmd,
			  (unsigned long long)total);
	} else {
		CHECK_MSG(r.reason == PETRI_REASON_EXITED && r.exit_code == 0,
			  "%s: reason %s exit %d, want exited 0", cmd, petri_reason_name(r.reason),
			  r.exit_code);
		CHECK_MSG(total == 2 * GIB, "%s: %llu bytes counted, want 2 GiB", cmd,
			  (unsigned long long)total);
	}
	CHECK_MSG(took < 40000, "%s: took %llu ms", cmd, (unsigned long long)took);
	if (petri_test_failures)
		sec_dump(cmd, &r);
	petri_test_run_free(&r);
}

static int uid_procs(void)
{
	return geteuid() == 0 ?
		       sec_count_uid_procs(sec_private_uid(1), sec_private_uid(1), NULL, 0) :
		       -1;
}

static void daemon_case(petri_sandbox *sb, int detach)
{
	const char *env[] = {detach ? "DAEMON_DETACH=1" : "DAEMON_DETACH=0", NULL};
	uint64_t t0 = sec_now_ms();
	struct petri_test_run r = sec_exec_attack(sb, "daemon.sh", env, 20000);
	uint64_t took = sec_now_ms() - t0;
	CHECK(r.rc == 0 && r.reason == PETRI_REASON_EXITED && r.exit_code == 0);
	sec_expect(&r, "daemon_started", "OK");
	CHECK_MSG(took < 3000, "daemon (detach=%d): the exec took %llu ms to return", detach,
		  (unsigned long long)took);
	if (petri_test_failures)
		sec_dump("daemon.sh", &r);
	petri_test_run_free(&r);

	/* On the host: the sandbox's init and its idle pre-forked reaper (the
	 * next exec's), nothing else of its uid. */
	if (geteuid() == 0) {
		int n = 0;
		for (int i = 0; i < 100; i++) {
			n = uid_procs();
			if (n == 2)
				break;
			usleep(10000);
		}
		CHECK_MSG(n == 2,
			  "daemon (detach=%d): %d processes of the sandbox's uid on the host, "
			  "want 2 (init and the idle reaper)",
			  detach, n);
	}

	/* Inside: the next exec sees only pid 1 and itself. */
	r = sec_exec_attack(sb, "pids.sh", NULL, 20000);
	char buf[64], allowed[80];
	const char *self = sec_verdict(r.out, "self", buf, sizeof(buf));
	snprintf(allowed, sizeof(allowed), "1,%s",
		 self && strncmp(self, "PID ", 4) == 0 ? self + 4 : "?");
	sec_expect_list(&r, "pids", allowed, allowed);
	if (petri_test_failures)
		sec_dump("pids.sh", &r);
	petri_test_run_free(&r);
}

/* A sh sandbox of the private context (its uid is sec_private_uid(1)). */
static petri_sandbox *sh_sandbox(void)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = "sh";
	return sec_sandbox_in(sec_private_ctx(), &so);
}

/* Destroy @sb: no process of its uid is left on the host. */
static void done(petri_sandbox *sb)
{
	petri_sandbox_destroy(sb);
	if (geteuid() == 0)
		CHECK(sec_wait_uid_procs_gone(sec_private_uid(1), sec_private_uid(1), 3000) == 0);
	petri_ctx_free(sec_private_ctx());
}

static void test_stdout_flood_killed(void)
{
	petri_sandbox *sb = sh_sandbox();
	flood(sb, "head -c 2G /dev/zero", 0, 1);
	done(sb);
}

static void test_stdout_flood_streamed(void)
{
	petri_sandbox *sb = sh_sandbox();
	flood(sb, "head -c 2G /dev/zero", 3 * GIB, 1);
	done(sb);
}

static void test_stderr_flood_killed(void)
{
	petri_sandbox *sb = sh_sandbox();
	flood(sb, "exec yes petri >&2", 0, 2);
	done(sb);
}

static void test_spin_timeout(void)
{
	petri_sandbox *sb = sh_sandbox();
	/* An endless loop meets its wall-clock timeout. */
	char *spin = sec_attack_source("spin.py");
	struct sec_exec x = {.lang = "python", .code = spin, .timeout_ms = 1500};
	uint64_t t0 = sec_now_ms();
	struct petri_test_run r = sec_exec(sb, &x);
	uint64_t took = sec_now_ms() - t0;
	free(spin);
	CHECK(r.rc == 0);
	CHECK_MSG(r.reason == PETRI_REASON_TIMEOUT, "spin: reason %s, want timeout",
		  petri_reason_name(r.reason));
	CHECK(r.limits & PETRI_LIMIT_TIMEOUT);
	CHECK_MSG(took >= 1400 && took < 5000, "spin: ended after %llu ms",
		  (unsigned long long)took);
	petri_test_run_free(&r);
	done(sb);
}

static void test_daemon(void)
{
	petri_sandbox *sb = sh_sandbox();
	daemon_case(sb, 0);
	done(sb);
}

static void test_daemon_detached(void)
{
	petri_sandbox *sb = sh_sandbox();
	daemon_case(sb, 1);
	done(sb);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(stdout_flood_killed),
	PETRI_TEST_CASE(stdout_flood_streamed),
	PETRI_TEST_CASE(stderr_flood_killed),
	PETRI_TEST_CASE(spin_timeout),
	PETRI_TEST_CASE(daemon),
	PETRI_TEST_CASE(daemon_detached),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
