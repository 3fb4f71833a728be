/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fault_forkbomb - a fork bomb stays inside its sandbox's pids limit.
 *
 * A sandbox with pids_max 64 runs the classic sh bomb `:(){ :|:& };:`, and
 * another a Python os.fork() loop (one case each), with a 4 s timeout.  Each exec must end
 * (reason pids or timeout, with the pids limit reported as hit) in about
 * its timeout; meanwhile and afterwards the host can still fork; the next
 * exec in the same sandbox works; and once the sandbox is destroyed no
 * process with its host uid is left (the context uses a uid base private
 * to this test, so parallel tests cannot blur the count).
 */
#include "sec_util.h"

#include <sys/wait.h>
#include <unistd.h>

static int host_can_fork(void)
{
	pid_t p = fork();
	if (p < 0)
		return 0;
	if (p == 0)
		_exit(42);
	int st;
	return waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 42;
}

static void bomb(petri_sandbox *sb, const char *lang, const char *name)
{
	char *code = sec_attack_source(name);
	struct sec_exec x = {.lang = lang, .code = code, .timeout_ms = 4000};
	uint64_t t0 = sec_now_ms();
	struct petri_test_run r = sec_exec(sb, &x);
	uint64_t took = sec_now_ms() - t0;
	free(code);
	CHECK_MSG(r.rc == 0, "%s: exec failed: %s", name, r.errmsg);
	CHECK_MSG(r.reason == PETRI_REASON_PIDS || r.reason == PETRI_REASON_TIMEOUT,
		  "%s: reason %s, want pids or timeout", name, petri_reason_name(r.reason));
	CHECK_MSG(r.limits & PETRI_LIMIT_PIDS, "%s: the pids limit was not reported as hit (0x%x)",
		  name, r.limits);
	CHECK_MSG(took < 10000, "%s: the exec took %llu ms", name, (unsigned long long)took);
	if (petri_test_failures)
		sec_dump(name, &r);
	petri_test_run_free(&r);
	CHECK_MSG(host_can_fork(), "the host cannot fork after %s", name);

	/* The sandbox is usable again at once. */
	const char *argv[] = {"/bin/echo", "after", NULL};
	struct sec_exec nx = {.argv = argv, .timeout_ms = 10000};
	r = sec_exec(sb, &nx);
	CHECK_MSG(r.rc == 0 && r.reason == PETRI_REASON_EXITED && strcmp(r.out, "after\n") == 0,
		  "the exec after %s failed", name);
	if (r.rc != 0 || strcmp(r.out, "after\n") != 0)
		sec_dump("echo after the bomb", &r);
	petri_test_run_free(&r);
}

/* Bomb @name in a fresh sandbox (pids_max 64) of the private context; once
 * it is destroyed, none of its processes is left and the host can fork. */
static void bomb_alone(const char *lang, const char *name)
{
	petri_ctx *ctx = sec_private_ctx();
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.pids_max = 64;
	petri_sandbox *sb = sec_sandbox_in(ctx, &so);
	uid_t uid = sec_private_uid(1);

	bomb(sb, lang, name);

	petri_sandbox_destroy(sb);
	if (geteuid() == 0) {
		int left = sec_wait_uid_procs_gone(uid, uid, 3000);
		CHECK_MSG(left == 0, "%d processes of the destroyed sandbox (host uid %u) remain",
			  left, (unsigned)uid);
		left = sec_wait_uid_procs_gone(sec_private_uid_base(), sec_private_uid_last(),
					       3000);
		CHECK_MSG(left == 0, "%d processes with this test's sandbox uids remain", left);
	}
	CHECK(host_can_fork());
	petri_ctx_free(ctx);
}

static void test_sh_bomb(void)
{
	bomb_alone("sh", "forkbomb.sh");
}

static void test_python_bomb(void)
{
	bomb_alone("python", "forkbomb.py");
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(sh_bomb),
	PETRI_TEST_CASE(python_bomb),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
