/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_attack_proc_signals - code in a sandbox cannot see, signal, trace or
 * read any process but its own.
 *
 * attacks/proc_signals.py lists /proc (only pid 1, the exec's reaper, and
 * itself may be there: not the sandbox's init, not the host's processes),
 * tries the host's pids by number (a `sleep` this test owns, the test
 * itself, the sandbox's init), signals, ptraces, process_vm_readv's,
 * pidfd_getfd's pid 1 and its own child, prlimit's pid 1, the host's pids
 * and -1 (refused: EPERM for a process that exists, ESRCH for one that does
 * not, as the kernel says), and finally kill(-1, SIGKILL)s.
 *
 * The host checks that its sleep and the sandbox's init survived, and that
 * the sandbox still runs the next exec, also after an exec whose main
 * process is the one doing kill(-1, SIGKILL).
 */
#include "sec_util.h"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, 1u /* VERSION */);
	return abi < 0 ? 0 : (int)abi;
}

/* A `sleep` of the host's, for the attacks to aim at. */
static pid_t start_sleeper(void)
{
	pid_t sleeper = fork();
	REQUIRE(sleeper >= 0);
	if (sleeper == 0) {
		execl("/bin/sleep", "sleep", "1000", (char *)NULL);
		_exit(127);
	}
	return sleeper;
}

static void stop_sleeper(pid_t sleeper)
{
	CHECK(sec_pid_alive(sleeper));
	kill(sleeper, SIGKILL);
	waitpid(sleeper, NULL, 0);
}

static void test_proc_signals(void)
{
	pid_t sleeper = start_sleeper();
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = "python";
	petri_sandbox *sb = sec_sandbox(&so);
	int init_pid = petri_sandbox_init_pid(sb);
	REQUIRE(init_pid > 0);

	char pids[128];
	snprintf(pids, sizeof(pids), "SEC_HOST_PIDS=%d,%d,%d", (int)sleeper, (int)getpid(),
		 init_pid);
	const char *env[] = {pids, NULL};
	struct petri_test_run r = sec_exec_attack(sb, "proc_signals.py", env, 60000);
	CHECK_MSG(r.rc == 0 && r.reason == PETRI_REASON_EXITED && r.exit_code == 0,
		  "proc_signals.py did not run to completion");
	sec_expect_no_escape(&r);

	/* Only the reaper (pid 1) and the attack itself exist in here. */
	char buf[256], allowed[64];
	const char *self = sec_verdict(r.out, "self_pid", buf, sizeof(buf));
	snprintf(allowed, sizeof(allowed), "1,%s",
		 self && strncmp(self, "PID ", 4) == 0 ? self + 4 : "?");
	sec_expect_list(&r, "visible_pids", allowed, allowed);
	sec_expect(&r, "pid1", "PPID 0 NSPID 1");
	for (int i = 0; i < 3; i++) {
		char name[64];
		snprintf(name, sizeof(name), "host_pid_%d_visible", i);
		sec_expect(&r, name, "NO");
		snprintf(name, sizeof(name), "host_pid_%d_kill0", i);
		sec_expect(&r, name, "BLOCKED ESRCH");
		snprintf(name, sizeof(name), "host_pid_%d_pidfd_open", i);
		sec_expect(&r, name, "BLOCKED ESRCH");
		snprintf(name, sizeof(name), "host_pid_%d_prlimit", i);
		sec_expect(&r, name, "BLOCKED ESRCH");
	}

	/* pid 1: signals are refused by Landlock's signal scope (ABI 6+). */
	if (landlock_abi() >= 6) {
		sec_expect(&r, "kill_pid1_sigkill", "BLOCKED EPERM");
		sec_expect(&r, "kill_pid1_sig0", "BLOCKED EPERM");
		sec_expect(&r, "pidfd_send_signal_1", "BLOCKED EPERM");
	} else {
		fprintf(stderr, "note: Landlock ABI < 6: signals to pid 1 are only ignored\n");
	}
	sec_expect(&r, "pidfd_open_1", "OK|BLOCKED EPERM");
	sec_expect(&r, "pidfd_getfd_1", "BLOCKED EPERM");
	sec_expect(&r, "ptrace_attach_1", "BLOCKED EPERM");
	sec_expect(&r, "ptrace_seize_1", "BLOCKED EPERM");
	sec_expect(&r, "process_vm_readv_1", "BLOCKED EPERM");
	sec_expect(&r, "read_proc1_mem", "BLOCKED EACCES");
	sec_expect(&r, "read_proc1_environ", "BLOCKED EACCES");
	sec_expect(&r, "prlimit_raise_1", "BLOCKED EPERM");
	sec_expect(&r, "prlimit_lower_1", "BLOCKED EPERM");
	sec_expect(&r, "prlimit_read_1", "BLOCKED EPERM");
	/* ... and a pid that names no process gets the kernel's answer. */
	sec_expect(&r, "prlimit_minus1", "BLOCKED ESRCH");
	sec_expect(&r, "ptrace_attach_child", "BLOCKED EPERM");
	sec_expect(&r, "process_vm_readv_child", "BLOCKED EPERM");
	sec_expect(&r, "pidfd_getfd_child", "BLOCKED EPERM");
	sec_expect(&r, "kill_minus1", "OK");
	sec_expect(&r, "kill_minus1_sleepers", "KILLED");
	sec_expect(&r, "pid1_after", "ALIVE");
	if (petri_test_failures)
		sec_dump("proc_signals.py", &r);
	petri_test_run_free(&r);

	/* The host is untouched and the sandbox lives on. */
	CHECK_MSG(sec_pid_alive(sleeper), "the host's sleep %d died", (int)sleeper);
	CHECK_MSG(sec_pid_alive(init_pid), "the sandbox's init %d died", init_pid);
	CHECK(petri_sandbox_init_pid(sb) == init_pid);

	petri_sandbox_destroy(sb);
	stop_sleeper(sleeper);
}

static void test_kill_minus_one(void)
{
	pid_t sleeper = start_sleeper();
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = "python";
	petri_sandbox *sb = sec_sandbox(&so);
	int init_pid = petri_sandbox_init_pid(sb);
	REQUIRE(init_pid > 0);
	struct petri_test_run r;
	/* An exec whose main process runs kill -9 -1: it takes down its own
	 * exec (itself excepted) and nothing else. */
	const char *killall[] = {"/bin/sh", "-c", "sleep 30 & sleep 30 & kill -9 -1; echo survived",
				 NULL};
	struct sec_exec x = {.argv = killall, .timeout_ms = 20000};
	r = sec_exec(sb, &x);
	CHECK(r.rc == 0 && r.reason == PETRI_REASON_EXITED && r.exit_code == 0);
	CHECK(strcmp(r.out, "survived\n") == 0);
	if (petri_test_failures)
		sec_dump("kill -9 -1", &r);
	petri_test_run_free(&r);
	CHECK_MSG(sec_pid_alive(sleeper), "the host's sleep %d died", (int)sleeper);
	CHECK_MSG(sec_pid_alive(init_pid), "the sandbox's init %d died", init_pid);

	const char *next[] = {"/bin/echo", "next", NULL};
	struct sec_exec nx = {.argv = next, .timeout_ms = 20000};
	r = sec_exec(sb, &nx);
	CHECK(r.rc == 0 && r.reason == PETRI_REASON_EXITED && r.exit_code == 0);
	CHECK(strcmp(r.out, "next\n") == 0);
	petri_test_run_free(&r);

	petri_sandbox_destroy(sb);
	stop_sleeper(sleeper);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(proc_signals),
	PETRI_TEST_CASE(kill_minus_one),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
