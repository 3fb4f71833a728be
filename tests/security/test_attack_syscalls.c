/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_attack_syscalls - the seccomp profile refuses every syscall class
 * the isolation baseline denies, with EPERM (clone3: ENOSYS, so glibc falls
 * back to clone), and kills foreign-ABI syscalls with SIGSYS.
 *
 * attacks/probe.c (built static, copied into /workspace) makes each call
 * with arguments that would be harmless if it got through -- and that for
 * most calls would *not* give EPERM without the filter (unshare(0),
 * process_vm_readv of itself, pidfd_getfd of itself, kcmp, name_to_handle_at,
 * personality(ADDR_NO_RANDOMIZE), open_tree without CLONE, a userfaultfd in
 * user mode, perf_event_open on itself, AF_VSOCK/AF_ALG sockets, syscall
 * 1000, TIOCSTI on its own controlling pty (with and without bits above
 * 32 set) ...), so EPERM shows the filter answered.  It also checks that
 * ordinary calls still work.  Then `probe int80` (i386 getpid through int
 * 0x80) and `probe x32` (getpid | 0x40000000) must each be killed by
 * SIGSYS, which the result reports as reason "seccomp"; the sandbox must
 * run the next exec after that.
 */
#include "sec_util.h"

#include <signal.h>

/* One row per topic reads better than one name per line. */
/* clang-format off */
static const char *const denied[] = {
	"bpf", "perf_event_open", "io_uring_setup", "io_uring_enter", "io_uring_register",
	"userfaultfd", "keyctl", "add_key", "request_key", "kexec_load", "kexec_file_load",
	"init_module", "finit_module", "delete_module", "memfd_secret", "modify_ldt", "uselib",
	"lookup_dcookie", "quotactl", "vhangup", "fanotify_init", "unknown_syscall_1000",
	/* mounts and namespaces */
	"mount", "mount_remount_root_rw", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig",
	"fsmount", "fspick", "open_tree", "move_mount", "mount_setattr", "setns", "unshare_0",
	"unshare_newuser", "unshare_newns", "unshare_newnet", "clone_newuser", "clone_newns",
	"clone_newpid", "clone_newnet",
	/* other processes */
	"ptrace_traceme", "ptrace_attach_1", "process_vm_readv", "process_vm_writev",
	"pidfd_getfd", "process_madvise", "kcmp", "name_to_handle_at", "open_by_handle_at",
	/* the machine */
	"reboot", "swapon", "swapoff", "syslog", "acct", "settimeofday", "clock_settime",
	"adjtimex", "clock_adjtime", "sethostname", "setdomainname", "iopl", "ioperm",
	"personality_addr_no_randomize", "personality_read_implies_exec",
	/* sockets and terminals */
	"socket_packet", "socket_vsock", "socket_alg", "socket_key", "socketpair_tipc",
	"ioctl_tiocsti", "ioctl_tiocsti_highbits", "ioctl_tioclinux",
};
/* clang-format on */

static const char *const allowed[] = {
	"allowed_getpid",
	"allowed_pipe",
	"allowed_ioctl_fionread",
	"allowed_socket_unix",
	"allowed_socket_inet",
	"allowed_fork",
	"allowed_personality_query",
	"allowed_pidfd_open_self",
	"allowed_pty",
	"allowed_ioctl_tiocgwinsz",
};

static struct petri_test_run probe(petri_sandbox *sb, const char *mode)
{
	const char *argv[] = {"/workspace/probe", mode, NULL};
	struct sec_exec x = {.argv = argv, .timeout_ms = 30000};
	return sec_exec(sb, &x);
}

/* A foreign-ABI syscall: the probe must die of SIGSYS right after saying
 * it started, and the result must say "seccomp". */
static void expect_killed(petri_sandbox *sb, const char *mode)
{
	char start[64];
	snprintf(start, sizeof(start), "%s_start", mode);
	struct petri_test_run r = probe(sb, mode);
	CHECK_MSG(r.rc == 0, "probe %s: %s", mode, r.errmsg);
	sec_expect(&r, start, "OK");
	char buf[256];
	CHECK_MSG(!sec_verdict(r.out, mode, buf, sizeof(buf)), "probe %s survived: %s", mode, buf);
	CHECK_MSG(r.reason == PETRI_REASON_SECCOMP, "probe %s: reason %s, want seccomp", mode,
		  petri_reason_name(r.reason));
	CHECK_MSG(r.signal == SIGSYS, "probe %s: signal %d, want SIGSYS", mode, r.signal);
	CHECK(r.exit_code == -1);
	if (petri_test_failures)
		sec_dump(mode, &r);
	petri_test_run_free(&r);
}

/* A sandbox with the probe installed. */
static petri_sandbox *probe_sandbox(void)
{
	petri_sandbox *sb = sec_sandbox(NULL);
	sec_install_binary(sb, SEC_PROBE_BIN, "probe");
	return sb;
}

static void test_syscalls(void)
{
	petri_sandbox *sb = probe_sandbox();
	struct petri_test_run r = probe(sb, "syscalls");
	CHECK_MSG(r.rc == 0 && r.reason == PETRI_REASON_EXITED && r.exit_code == 0,
		  "probe syscalls did not run to completion");
	sec_expect_no_escape(&r);
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
		sec_expect(&r, denied[i], "BLOCKED EPERM");
	sec_expect(&r, "clone3", "BLOCKED ENOSYS");
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		sec_expect(&r, allowed[i], "OK");
	if (petri_test_failures)
		sec_dump("probe syscalls", &r);
	petri_test_run_free(&r);
	petri_sandbox_destroy(sb);
}

/* The foreign ABI @mode kills the probe; the sandbox survives its code
 * being killed by the filter. */
static void killed_then_alive(const char *mode)
{
	petri_sandbox *sb = probe_sandbox();
	expect_killed(sb, mode);
	const char *argv[] = {"/bin/echo", "alive", NULL};
	struct sec_exec x = {.argv = argv, .timeout_ms = 20000};
	struct petri_test_run r = sec_exec(sb, &x);
	CHECK(r.rc == 0 && r.reason == PETRI_REASON_EXITED && strcmp(r.out, "alive\n") == 0);
	petri_test_run_free(&r);
	petri_sandbox_destroy(sb);
}

static void test_int80(void)
{
	killed_then_alive("int80");
}

static void test_x32(void)
{
	killed_then_alive("x32");
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(syscalls),
	PETRI_TEST_CASE(int80),
	PETRI_TEST_CASE(x32),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
