/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe.c - an untrusted program: copied into a sandbox's /workspace and run
 * there by the security tests.  Built static and without sanitizers, so it
 * depends on nothing and makes no syscall of its own that the tests do not
 * ask for.
 *
 *   probe syscalls   try every syscall class the seccomp profile denies
 *   probe int80      make an i386 (int 0x80) syscall: must be killed (SIGSYS)
 *   probe x32        make an x32 syscall (nr | 0x40000000): must be killed
 *   probe fds        list the open fds as execve left them
 *   probe env        print the environment
 *
 * Output: "CHECK <name> <verdict> [detail]" lines and a final "DONE" (see
 * tests/security/sec_util.h).  A denied call prints "BLOCKED <ERRNO NAME>";
 * a call that worked prints "ESCAPED ret=<value>"; calls that must work
 * print "OK".  Arguments are chosen so that every denied call would be
 * harmless if it got through, and so that most of them would *not* fail
 * with EPERM without the filter (they would succeed or fail differently):
 * an EPERM then proves seccomp, not a missing capability, refused them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#define KCMP_VM 1

static void report(const char *name, long ret, int err)
{
	if (ret == -1)
		printf("CHECK %s BLOCKED %s\n", name,
		       strerrorname_np(err) ? strerrorname_np(err) : "?");
	else
		printf("CHECK %s ESCAPED ret=%ld\n", name, ret);
	fflush(stdout);
}

/* Call, then report; errno is captured right after the call. */
#define TRY(name, call)                                                                            \
	do {                                                                                       \
		errno = 0;                                                                         \
		long _r = (long)(call);                                                            \
		report(name, _r, errno);                                                           \
	} while (0)

static void ok(const char *name, int good, const char *detail)
{
	printf("CHECK %s %s %s\n", name, good ? "OK" : "FAILED", detail);
	fflush(stdout);
}

/* clone with @flags: like fork; the child (if any) leaves at once. */
static long try_clone(unsigned long flags)
{
	long r = syscall(SYS_clone, flags | SIGCHLD, 0, NULL, NULL, 0);
	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	return r;
}

static long try_clone3(void)
{
	struct clone_args a = {.exit_signal = SIGCHLD};
	long r = syscall(SYS_clone3, &a, sizeof(a));
	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	return r;
}

/* A pty whose slave is our controlling terminal, for the TIOCSTI tests. */
static int open_ctty(void)
{
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return -1;
	if (grantpt(m) < 0 || unlockpt(m) < 0)
		return -1;
	char *name = ptsname(m);
	if (!name)
		return -1;
	int s = open(name, O_RDWR | O_CLOEXEC);
	if (s < 0)
		return -1;
	/* We are a session leader already (petri calls setsid); make it ours. */
	ioctl(s, TIOCSCTTY, 0);
	return s;
}

static void syscalls(void)
{
	char buf[4096];
	pid_t self = getpid();

	/* Sanity: the profile allows what ordinary programs need. */
	ok("allowed_getpid", self > 0, "");
	int pfd[2];
	ok("allowed_pipe", pipe(pfd) == 0, "");
	int avail = -1;
	ok("allowed_ioctl_fionread", ioctl(pfd[0], FIONREAD, &avail) == 0 && avail == 0, "");
	int us = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ok("allowed_socket_unix", us >= 0, "");
	int is = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ok("allowed_socket_inet", is >= 0, "");
	pid_t c = fork();
	if (c == 0)
		_exit(7);
	int st = 0;
	ok("allowed_fork",
	   c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 7, "");
	ok("allowed_personality_query", personality(0xffffffff) >= 0, "");

	/* Kernel attack surface no sandboxed program needs. */
	union {
		char b[128];
	} attr = {{0}};
	TRY("bpf", syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, &attr, sizeof(attr)));
	struct perf_event_attr pe = {.type = PERF_TYPE_SOFTWARE,
				     .size = sizeof(pe),
				     .config = PERF_COUNT_SW_CPU_CLOCK,
				     .disabled = 1,
				     .exclude_kernel = 1,
				     .exclude_hv = 1};
	TRY("perf_event_open", syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0));
	char params[120] = {0};
	TRY("io_uring_setup", syscall(SYS_io_uring_setup, 1, params));
	TRY("io_uring_enter", syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0));
	TRY("io_uring_register", syscall(SYS_io_uring_register, -1, 0, NULL, 0));
	TRY("userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY));
	TRY("keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
	TRY("add_key",
	    syscall(SYS_add_key, "user", "petri-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING));
	TRY("request_key", syscall(SYS_request_key, "user", "petri-probe-none", NULL, 0));
	TRY("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
	TRY("kexec_file_load", syscall(SYS_kexec_file_load, -1, -1, 0, "", 0));
	TRY("init_module", syscall(SYS_init_module, NULL, 0, ""));
	TRY("finit_module", syscall(SYS_finit_module, -1, "", 0));
	TRY("delete_module", syscall(SYS_delete_module, "petri_probe_none", O_NONBLOCK));
	TRY("memfd_secret", syscall(SYS_memfd_secret, 0));
	char ldt[16];
	TRY("modify_ldt", syscall(SYS_modify_ldt, 0, ldt, sizeof(ldt)));
	TRY("uselib", syscall(SYS_uselib, "/nonexistent"));
	TRY("lookup_dcookie", syscall(SYS_lookup_dcookie, 0, buf, sizeof(buf)));
	TRY("quotactl", syscall(SYS_quotactl, 0x800005 /* Q_GETINFO */, "/dev/null", 0, buf));
	TRY("vhangup", syscall(SYS_vhangup));
	TRY("fanotify_init", syscall(SYS_fanotify_init, 0, 0));
	TRY("unknown_syscall_1000", syscall(1000, 0, 0, 0));

	/* Mounts and namespaces. */
	TRY("mount", mount("none", "/tmp", "tmpfs", 0, NULL));
	TRY("mount_remount_root_rw", mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL));
	TRY("umount2", umount2("/tmp", MNT_DETACH));
	TRY("pivot_root", syscall(SYS_pivot_root, ".", "."));
	TRY("chroot", chroot("/tmp"));
	TRY("fsopen", syscall(SYS_fsopen, "tmpfs", 0));
	TRY("fsconfig", syscall(SYS_fsconfig, -1, 0, NULL, NULL, 0));
	TRY("fsmount", syscall(SYS_fsmount, -1, 0, 0));
	TRY("fspick", syscall(SYS_fspick, AT_FDCWD, "/tmp", 0));
	TRY("open_tree", syscall(SYS_open_tree, AT_FDCWD, "/tmp", O_CLOEXEC));
	TRY("move_mount", syscall(SYS_move_mount, -1, "", AT_FDCWD, "/tmp", 0));
	uint64_t mattr[4] = {0};
	TRY("mount_setattr", syscall(SYS_mount_setattr, AT_FDCWD, "/tmp", 0, mattr, sizeof(mattr)));
	int nsfd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
	TRY("setns", syscall(SYS_setns, nsfd, 0));
	TRY("unshare_0", unshare(0));
	TRY("unshare_newuser", unshare(CLONE_NEWUSER));
	TRY("unshare_newns", unshare(CLONE_NEWNS));
	TRY("unshare_newnet", unshare(CLONE_NEWNET));
	TRY("clone_newuser", try_clone(CLONE_NEWUSER));
	TRY("clone_newns", try_clone(CLONE_NEWNS));
	TRY("clone_newpid", try_clone(CLONE_NEWPID));
	TRY("clone_newnet", try_clone(CLONE_NEWNET));
	TRY("clone3", try_clone3());

	/* Other processes' memory and files. */
	TRY("ptrace_traceme", ptrace(PTRACE_TRACEME, 0, NULL, NULL));
	TRY("ptrace_attach_1", ptrace(PTRACE_ATTACH, 1, NULL, NULL));
	char src[16] = "petri", dst[16] = {0};
	struct iovec lv = {dst, sizeof(dst)}, rv = {src, sizeof(src)};
	TRY("process_vm_readv", syscall(SYS_process_vm_readv, self, &lv, 1, &rv, 1, 0));
	TRY("process_vm_writev", syscall(SYS_process_vm_writev, self, &rv, 1, &lv, 1, 0));
	int selfpid = (int)syscall(SYS_pidfd_open, self, 0);
	ok("allowed_pidfd_open_self", selfpid >= 0, "");
	TRY("pidfd_getfd", syscall(SYS_pidfd_getfd, selfpid, 1, 0));
	TRY("process_madvise", syscall(SYS_process_madvise, selfpid, &lv, 1, MADV_COLD, 0));
	TRY("kcmp", syscall(SYS_kcmp, self, self, KCMP_VM, 0, 0));
	struct {
		unsigned int bytes;
		int type;
		unsigned char h[128];
	} fh = {.bytes = 128};
	int mnt_id;
	TRY("name_to_handle_at", syscall(SYS_name_to_handle_at, AT_FDCWD, "/tmp", &fh, &mnt_id, 0));
	/* The "shocker" handle: ext4 inode 2 (the root of the host fs). */
	struct {
		unsigned int bytes;
		int type;
		uint32_t ino, gen;
	} shock = {.bytes = 8, .type = 1, .ino = 2, .gen = 0};
	int usr = open("/usr", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	TRY("open_by_handle_at", syscall(SYS_open_by_handle_at, usr, &shock, O_RDONLY));

	/* The machine. */
	TRY("reboot", syscall(SYS_reboot, 0xfee1dead, 0, 0 /* bad magic2 */, NULL));
	TRY("swapon", syscall(SYS_swapon, "/tmp/petri-no-swap", 0));
	TRY("swapoff", syscall(SYS_swapoff, "/tmp/petri-no-swap"));
	TRY("syslog", syscall(SYS_syslog, 10 /* SIZE_BUFFER */, NULL, 0));
	TRY("acct", syscall(SYS_acct, NULL));
	TRY("settimeofday", syscall(SYS_settimeofday, NULL, NULL));
	TRY("clock_settime", syscall(SYS_clock_settime, CLOCK_REALTIME, NULL));
	struct timex tx = {0};
	TRY("adjtimex", syscall(SYS_adjtimex, &tx));
	TRY("clock_adjtime", syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx));
	TRY("sethostname", syscall(SYS_sethostname, "pwned", 5));
	TRY("setdomainname", syscall(SYS_setdomainname, "pwned", 5));
	TRY("iopl", syscall(SYS_iopl, 3));
	TRY("ioperm", syscall(SYS_ioperm, 0x80, 1, 1));
	TRY("personality_addr_no_randomize", personality(ADDR_NO_RANDOMIZE));
	TRY("personality_read_implies_exec", personality(READ_IMPLIES_EXEC));

	/* Socket families outside the allowlist (no traffic is ever sent). */
	TRY("socket_packet", socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
	TRY("socket_vsock", socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
	TRY("socket_alg", socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
	TRY("socket_key", socket(15 /* AF_KEY */, SOCK_RAW | SOCK_CLOEXEC, 2));
	TRY("socketpair_tipc", socketpair(30 /* AF_TIPC */, SOCK_SEQPACKET, 0, pfd));

	/* Terminal injection, on a pty that is our controlling terminal. */
	int tty = open_ctty();
	ok("allowed_pty", tty >= 0, "");
	char ch = '\n';
	TRY("ioctl_tiocsti", syscall(SYS_ioctl, tty, TIOCSTI, &ch));
	TRY("ioctl_tiocsti_highbits", syscall(SYS_ioctl, tty, 0x100000000ul | TIOCSTI, &ch));
	char sub = 0;
	TRY("ioctl_tioclinux", syscall(SYS_ioctl, tty, TIOCLINUX, &sub));
	struct winsize ws;
	ok("allowed_ioctl_tiocgwinsz", ioctl(tty, TIOCGWINSZ, &ws) == 0, "");
	printf("DONE\n");
}

static void int80(void)
{
	printf("CHECK int80_start OK\n");
	fflush(stdout);
	long ret;
	/* i386 getpid (20) through the 32-bit entry point. */
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory", "r8", "r9", "r10", "r11");
	printf("CHECK int80 ESCAPED ret=%ld\n", ret);
	printf("DONE\n");
}

static void x32(void)
{
	printf("CHECK x32_start OK\n");
	fflush(stdout);
	errno = 0;
	long ret = syscall(0x40000000L | SYS_getpid);
	printf("CHECK x32 ESCAPED ret=%ld errno=%s\n", ret, strerrorname_np(errno));
	printf("DONE\n");
}

static void fds(void)
{
	char list[8192] = "";
	size_t n = 0;
	/* Before anything else opens an fd. */
	for (int fd = 0; fd < 65536; fd++) {
		if (fcntl(fd, F_GETFD) < 0)
			continue;
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%d", n ? "," : "", fd);
		if (n >= sizeof(list) - 16)
			break;
	}
	printf("CHECK fds LIST %s\n", list);
	printf("DONE\n");
}

static void env(void)
{
	extern char **environ;
	for (char **e = environ; *e; e++)
		printf("ENV %s\n", *e);
	printf("DONE\n");
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (strcmp(mode, "fds") == 0)
		fds();
	else if (strcmp(mode, "syscalls") == 0)
		syscalls();
	else if (strcmp(mode, "int80") == 0)
		int80();
	else if (strcmp(mode, "x32") == 0)
		x32();
	else if (strcmp(mode, "env") == 0)
		env();
	else {
		fprintf(stderr, "usage: probe syscalls|int80|x32|fds|env\n");
		return 2;
	}
	return 0;
}
