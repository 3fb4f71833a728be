/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seccomp.c - the default seccomp profile: built once with libseccomp into a
 * classic BPF program, installed by each sandboxed command just before execve.
 *
 * Why it looks the way it does:
 *  - An allowlist, not a denylist: a syscall we have not thought about (and
 *    every syscall a future kernel adds) is refused.  The list follows the set
 *    Docker's default profile grants a container without added capabilities,
 *    minus what the isolation baseline in DESIGN.md takes away (io_uring,
 *    ptrace and friends, file handles, clock setting, namespaces) and a few
 *    calls no runtime we host needs (modify_ldt, fanotify_mark, memfd_secret),
 *    and native AIO (io_setup ...), whose contexts are a machine-wide count.
 *  - Refusals return EPERM, so runtimes take their "not permitted" path and
 *    carry on (native AIO: ENOSYS, see below).  clone3 alone returns ENOSYS: glibc then falls back to clone,
 *    whose flags (unlike clone3's, which sit in memory) a filter can read.
 *  - No set-user-ID or set-group-ID bits: chmod and the calls that create
 *    files are allowed only with mode & 06000 == 0.  Otherwise code could
 *    plant a setuid file in a host directory it was given (a workspace_dir or
 *    an rw bind), which any host user could run.  openat2 keeps its mode in
 *    memory a filter cannot read, so it fails with ENOSYS and libc falls back
 *    to openat.
 *  - Only clone, ioctl, socket, socketpair, personality and the mode-setting
 *    calls look at arguments.
 *    A rule that ignores arguments lets the kernel cache its verdict per
 *    syscall number, so read, write, futex, mmap and the rest cost next to
 *    nothing; a syscall with an argument test runs the whole filter each time.
 *  - Arguments the kernel reads as 32-bit ints are compared on their low 32
 *    bits only (masked tests), exactly as the kernel will read them: a test of
 *    all 64 bits is bypassed by setting the upper half (snapd's TIOCSTI bug).
 *  - Foreign ABIs are not filtered but killed: i386 (int 0x80) through the
 *    bad-arch action, x32 numbers (nr | 0x40000000) by the check libseccomp
 *    emits on an x86_64-only filter.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "internal.h"

struct syscall_entry {
	const char *name;
	int nr;
};

/* One row per topic reads better than one syscall per line. */
/* clang-format off */
#define SYS(name) { #name, SCMP_SYS(name) }
/*
 * Syscalls newer than the kernel headers and libseccomp of Debian 12.  Since
 * pidfd_send_signal (424) every architecture but alpha and mips numbers new
 * syscalls alike, so the numbers below hold for x86_64 and arm64.
 */
#define SYS_NEW(name, nr) { #name, nr }

/* Allowed whatever their arguments: the verdict is cached by the kernel. */
static const struct syscall_entry allowed[] = {
	/* files and file descriptors */
	SYS(read), SYS(write), SYS(readv), SYS(writev), SYS(pread64), SYS(pwrite64),
	SYS(preadv), SYS(pwritev), SYS(preadv2), SYS(pwritev2),
	SYS(close), SYS(close_range),
	SYS(dup), SYS(dup2), SYS(dup3), SYS(lseek), SYS(fcntl), SYS(flock),
	SYS(fsync), SYS(fdatasync), SYS(sync), SYS(syncfs), SYS(sync_file_range),
	SYS(fadvise64), SYS(readahead), SYS(fallocate), SYS(truncate), SYS(ftruncate),
	SYS(sendfile), SYS(splice), SYS(tee), SYS(vmsplice), SYS(copy_file_range),
	SYS(pipe), SYS(pipe2),
	SYS(stat), SYS(fstat), SYS(lstat), SYS(newfstatat), SYS(statx),
	SYS(statfs), SYS(fstatfs), SYS(access), SYS(faccessat), SYS(faccessat2),
	SYS(readlink), SYS(readlinkat), SYS(getdents), SYS(getdents64),
	SYS(getcwd), SYS(chdir), SYS(fchdir),
	SYS(rmdir),
	SYS(rename), SYS(renameat), SYS(renameat2),
	SYS(link), SYS(linkat), SYS(symlink), SYS(symlinkat), SYS(unlink), SYS(unlinkat),
	SYS(chown), SYS(fchown), SYS(lchown),
	SYS(fchownat), SYS(umask), SYS(utime), SYS(utimes), SYS(utimensat), SYS(futimesat),
	SYS(getxattr), SYS(lgetxattr), SYS(fgetxattr), SYS(setxattr), SYS(lsetxattr),
	SYS(fsetxattr), SYS(listxattr), SYS(llistxattr), SYS(flistxattr),
	SYS(removexattr), SYS(lremovexattr), SYS(fremovexattr),
	SYS(inotify_init), SYS(inotify_init1), SYS(inotify_add_watch),
	SYS(inotify_rm_watch),
	SYS_NEW(cachestat, 451),
	SYS_NEW(setxattrat, 463), SYS_NEW(getxattrat, 464), SYS_NEW(listxattrat, 465),
	SYS_NEW(removexattrat, 466), SYS_NEW(file_getattr, 468), SYS_NEW(file_setattr, 469),

	/* memory */
	SYS(brk), SYS(mmap), SYS(munmap), SYS(mremap), SYS(mprotect), SYS(madvise),
	SYS(mincore), SYS(msync), SYS(remap_file_pages), SYS(membarrier), SYS(memfd_create),
	SYS(mlock), SYS(mlock2), SYS(munlock), SYS(mlockall), SYS(munlockall),
	SYS(pkey_alloc), SYS(pkey_free), SYS(pkey_mprotect), SYS(process_mrelease),
	SYS_NEW(map_shadow_stack, 453), SYS_NEW(mseal, 462),

	/* processes and threads (clone is below, with its flags test) */
	SYS(fork), SYS(vfork), SYS(execve), SYS(execveat), SYS(exit), SYS(exit_group),
	SYS(wait4), SYS(waitid), SYS(pidfd_open), SYS(pidfd_send_signal),
	SYS(arch_prctl), SYS(prctl), SYS(set_tid_address), SYS(get_thread_area),
	SYS(set_thread_area), SYS(set_robust_list), SYS(get_robust_list), SYS(rseq),
	SYS(futex), SYS(futex_waitv),
	SYS_NEW(futex_wake, 454), SYS_NEW(futex_wait, 455), SYS_NEW(futex_requeue, 456),
	SYS(getpid), SYS(getppid), SYS(gettid), SYS(getpgid), SYS(setpgid), SYS(getpgrp),
	SYS(getsid), SYS(setsid),
	SYS(sched_yield), SYS(sched_getaffinity), SYS(sched_setaffinity),
	SYS(sched_getparam), SYS(sched_setparam), SYS(sched_getscheduler),
	SYS(sched_setscheduler), SYS(sched_get_priority_max), SYS(sched_get_priority_min),
	SYS(sched_rr_get_interval), SYS(sched_getattr), SYS(sched_setattr),
	SYS(getpriority), SYS(setpriority), SYS(ioprio_get), SYS(ioprio_set), SYS(getcpu),

	/* signals */
	SYS(rt_sigaction), SYS(rt_sigprocmask), SYS(rt_sigreturn), SYS(rt_sigpending),
	SYS(rt_sigsuspend), SYS(rt_sigtimedwait), SYS(rt_sigqueueinfo),
	SYS(rt_tgsigqueueinfo), SYS(sigaltstack), SYS(signalfd), SYS(signalfd4),
	SYS(kill), SYS(tkill), SYS(tgkill), SYS(pause), SYS(restart_syscall),

	/* time (reading it; setting it is refused) */
	SYS(clock_gettime), SYS(clock_getres), SYS(clock_nanosleep), SYS(gettimeofday),
	SYS(time), SYS(nanosleep), SYS(alarm), SYS(getitimer), SYS(setitimer),
	SYS(timer_create), SYS(timer_settime), SYS(timer_gettime), SYS(timer_getoverrun),
	SYS(timer_delete), SYS(timerfd_create), SYS(timerfd_settime), SYS(timerfd_gettime),

	/* waiting for events */
	SYS(select), SYS(pselect6), SYS(poll), SYS(ppoll),
	SYS(epoll_create), SYS(epoll_create1), SYS(epoll_ctl), SYS(epoll_wait),
	SYS(epoll_pwait), SYS(epoll_pwait2), SYS(eventfd), SYS(eventfd2),
	/* Not the native AIO calls (io_setup, io_submit, ...): their contexts are
	 * counted for the whole machine (fs.aio-nr against fs.aio-max-nr, no
	 * per-user or per-namespace bound), so two io_setup(32767) in one
	 * sandbox left none to the host.  glibc's POSIX aio uses threads, not
	 * these; the reaper answers ENOSYS (init.c), what a kernel without AIO
	 * says, on which libaio users fall back to threads or plain I/O. */

	/* sockets (socket and socketpair are below, with their family test) */
	SYS(bind), SYS(listen), SYS(accept), SYS(accept4), SYS(connect), SYS(shutdown),
	SYS(getsockname), SYS(getpeername), SYS(getsockopt), SYS(setsockopt),
	SYS(sendto), SYS(recvfrom), SYS(sendmsg), SYS(recvmsg), SYS(sendmmsg),
	SYS(recvmmsg),

	/* System V and POSIX IPC: private to the sandbox's IPC namespace */
	SYS(msgget), SYS(msgsnd), SYS(msgrcv), SYS(msgctl),
	SYS(semget), SYS(semop), SYS(semtimedop), SYS(semctl),
	SYS(shmget), SYS(shmat), SYS(shmdt), SYS(shmctl),
	SYS(mq_open), SYS(mq_unlink), SYS(mq_timedsend), SYS(mq_timedreceive),
	SYS(mq_notify), SYS(mq_getsetattr),

	/* identity and limits: without capabilities these only keep or drop */
	SYS(getuid), SYS(geteuid), SYS(getgid), SYS(getegid), SYS(getresuid),
	SYS(getresgid), SYS(getgroups), SYS(setuid), SYS(setgid), SYS(setreuid),
	SYS(setregid), SYS(setresuid), SYS(setresgid), SYS(setfsuid), SYS(setfsgid),
	SYS(setgroups), SYS(capget), SYS(capset),
	SYS(getrlimit), SYS(setrlimit), SYS(getrusage), SYS(times),
	SYS(sysinfo), SYS(uname), SYS(getrandom),

	/* calls that can only narrow what the caller may do */
	SYS(seccomp), SYS(landlock_create_ruleset), SYS(landlock_add_rule),
	SYS(landlock_restrict_self),
};
/* clang-format on */

/*
 * Namespace flags clone may not carry.  CLONE_NEWTIME is absent on purpose:
 * clone() reads that bit as part of the exit signal, so a new time namespace
 * can only be asked for through clone3 or unshare, and both are refused.
 */
#define CLONE_NS_FLAGS                                                                             \
	(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |             \
	 CLONE_NEWPID | CLONE_NEWNET)

/*
 * Socket families a sandbox may open: local and IP sockets, and netlink,
 * which getaddrinfo() and interface listing need.  An allowlist rather than
 * Docker's "all but AF_VSOCK": vsock reaches the host through any network
 * namespace (this is how a microVM talks to its host), and the rarer
 * families (packet, TIPC, RDS, CAN, ALG...) are where socket bugs have lived.
 */
static const uint32_t socket_families[] = {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK};

/* Docker's list: plain Linux, 32-bit, uname26, both, and the query. */
static const uint32_t personalities[] = {
	PER_LINUX, PER_LINUX32, UNAME26, UNAME26 | PER_LINUX32, 0xffffffff,
};

/*
 * TIOCSTI pushes bytes into a terminal's input queue, for the shell that
 * owns the terminal to read (the classic escape through an inherited tty);
 * TIOCLINUX drives the virtual console, including pasting its selection.
 */
static const uint32_t denied_ioctls[] = {TIOCSTI, TIOCLINUX};

static void seccomp_ctx_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

static int set_attrs(scmp_filter_ctx ctx, petri_error **err)
{
	static const struct {
		enum scmp_filter_attr attr;
		uint32_t value;
		const char *what;
	} attrs[] = {
		/* real errnos from libseccomp instead of -ECANCELED */
		{SCMP_FLTATR_API_SYSRAWRC, 1, "raw return codes"},
		{SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS, "bad-arch action"},
		/* the caller sets no_new_privs itself, before Landlock */
		{SCMP_FLTATR_CTL_NNP, 0, "no_new_privs"},
		/* a binary search over ~290 syscalls instead of a linear scan */
		{SCMP_FLTATR_CTL_OPTIMIZE, 2, "binary tree"},
	};
	size_t i;
	int r;

	for (i = 0; i < ARRAY_SIZE(attrs); i++) {
		r = seccomp_attr_set(ctx, attrs[i].attr, attrs[i].value);
		if (r < 0)
			return petri__err(err, -r, "seccomp: set %s", attrs[i].what);
	}
	return 0;
}

static int allow_all(scmp_filter_ctx ctx, petri_error **err)
{
	size_t i;
	int r;

	for (i = 0; i < ARRAY_SIZE(allowed); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i].nr, 0);
		if (r < 0)
			return petri__err(err, -r, "seccomp: allow %s", allowed[i].name);
	}
	return 0;
}

/* Allow @nr when its argument @arg, read as 32 bits, is one of @values. */
static int allow_arg_in(scmp_filter_ctx ctx, int nr, const char *name, unsigned int arg,
			const uint32_t *values, size_t n, petri_error **err)
{
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				     SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, 0xffffffff, values[i]));
		if (r < 0)
			return petri__err(err, -r, "seccomp: allow %s with arg%u 0x%x", name, arg,
					  values[i]);
	}
	return 0;
}

/*
 * Allow ioctl for every command (the low 32 bits of arg1) not in
 * denied_ioctls.  libseccomp 2.5 has no 32-bit "not equal", takes one test
 * per argument per rule, and will not add a rule whose action is the default
 * one, so we allow the complement instead.  Walk the 32 bits from the top,
 * keeping the prefix some denied command shares: where no denied command
 * continues the prefix, allow the whole subtree with one masked test.  That
 * is at most 32 rules per denied command (34 for the two we have).
 */
static int allow_ioctl_subtree(scmp_filter_ctx ctx, uint32_t prefix, int bits, petri_error **err)
{
	uint32_t mask = bits ? ~0u << (32 - bits) : 0;
	bool denied_below = false;
	size_t i;
	int r;

	for (i = 0; i < ARRAY_SIZE(denied_ioctls); i++)
		if ((denied_ioctls[i] & mask) == prefix)
			denied_below = true;

	if (!denied_below) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ, mask, prefix));
		if (r < 0)
			return petri__err(err, -r, "seccomp: allow ioctl 0x%x/%d", prefix, bits);
		return 0;
	}
	if (bits == 32)
		return 0; /* a denied command: left to the default action */

	r = allow_ioctl_subtree(ctx, prefix, bits + 1, err);
	if (r < 0)
		return r;
	return allow_ioctl_subtree(ctx, prefix | 1u << (31 - bits), bits + 1, err);
}

#define SUID_SGID 06000u
#define PETRI_O_TMPFILE_BIT 020000000u

/* (syscall, index of its mode argument, index of its flags argument or -1) */
static const struct mode_rule {
	const char *name;
	int nr;
	unsigned int mode_arg;
	int flags_arg;
} mode_rules[] = {
	{"chmod", SCMP_SYS(chmod), 1, -1},       {"fchmod", SCMP_SYS(fchmod), 1, -1},
	{"fchmodat", SCMP_SYS(fchmodat), 2, -1}, {"fchmodat2", 452, 2, -1},
	{"creat", SCMP_SYS(creat), 1, -1},       {"mkdir", SCMP_SYS(mkdir), 1, -1},
	{"mkdirat", SCMP_SYS(mkdirat), 2, -1},   {"mknod", SCMP_SYS(mknod), 1, -1},
	{"mknodat", SCMP_SYS(mknodat), 2, -1},   {"open", SCMP_SYS(open), 2, 1},
	{"openat", SCMP_SYS(openat), 3, 2},
};

/* Allow each mode-setting call when the mode has no setuid/setgid bit, and
 * opens that create nothing whatever their (then unused) mode argument. */
static int add_mode_rules(scmp_filter_ctx ctx, petri_error **err)
{
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(mode_rules); i++) {
		const struct mode_rule *m = &mode_rules[i];
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, m->nr, 1,
				     SCMP_CMP(m->mode_arg, SCMP_CMP_MASKED_EQ, SUID_SGID, 0));
		if (r < 0)
			return petri__err(err, -r, "seccomp: allow %s without setuid bits",
					  m->name);
		if (m->flags_arg < 0)
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, m->nr, 1,
				     SCMP_CMP((unsigned int)m->flags_arg, SCMP_CMP_MASKED_EQ,
					      O_CREAT | PETRI_O_TMPFILE_BIT, 0));
		if (r < 0)
			return petri__err(err, -r, "seccomp: allow %s without O_CREAT", m->name);
	}
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(openat2), 0);
	if (r < 0)
		return petri__err(err, -r, "seccomp: make openat2 fail with ENOSYS");
	return 0;
}

static int add_argument_rules(scmp_filter_ctx ctx, petri_error **err)
{
	int r;

	r = add_mode_rules(ctx, err);
	if (r < 0)
		return r;

	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
			     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NS_FLAGS, 0));
	if (r < 0)
		return petri__err(err, -r, "seccomp: allow clone without namespace flags");

	r = allow_arg_in(ctx, SCMP_SYS(socket), "socket", 0, socket_families,
			 ARRAY_SIZE(socket_families), err);
	if (r < 0)
		return r;
	/* socketpair too: TIPC implements it */
	r = allow_arg_in(ctx, SCMP_SYS(socketpair), "socketpair", 0, socket_families,
			 ARRAY_SIZE(socket_families), err);
	if (r < 0)
		return r;
	/* prlimit64 on the caller only (pid 0, what setrlimit/getrlimit pass):
	 * another process's limits may be set by anyone with its ids, and the
	 * exec's reaper (and a one-exec sandbox's init) runs with the code's
	 * uid: a limit lowered there (RLIMIT_NOFILE 0) blinds its denial
	 * reports, or kills it (RLIMIT_CPU).  A pid that names no process
	 * gets ESRCH, not EPERM, as from the kernel (init.c, denial_errno). */
	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1,
			     SCMP_CMP(0, SCMP_CMP_MASKED_EQ, 0xffffffff, 0));
	if (r < 0)
		return petri__err(err, -r, "seccomp: allow prlimit64 on the caller");
	r = allow_arg_in(ctx, SCMP_SYS(personality), "personality", 0, personalities,
			 ARRAY_SIZE(personalities), err);
	if (r < 0)
		return r;
	return allow_ioctl_subtree(ctx, 0, 0, err);
}

static int add_rules(scmp_filter_ctx ctx, petri_error **err)
{
	int r;

	r = allow_all(ctx, err);
	if (r < 0)
		return r;
	r = add_argument_rules(ctx, err);
	if (r < 0)
		return r;
	/* "not implemented" makes glibc (2.34+) retry with clone */
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (r < 0)
		return petri__err(err, -r, "seccomp: make clone3 fail with ENOSYS");
	return 0;
}

static int read_exact(int fd, void *buf, size_t size)
{
	size_t done = 0;
	ssize_t n;

	while (done < size) {
		n = pread(fd, (char *)buf + done, size - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* libseccomp 2.5 exports only to a file descriptor: go through a memfd. */
static int export_bpf(scmp_filter_ctx ctx, struct sock_fprog *out, petri_error **err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ struct sock_filter *insns = NULL;
	struct stat st;
	size_t len;
	int r;

	fd = memfd_create("petri-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return petri__err(err, errno, "seccomp: memfd_create");
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return petri__err(err, -r, "seccomp: export BPF");
	if (fstat(fd, &st) < 0)
		return petri__err(err, errno, "seccomp: stat the exported BPF");

	len = (size_t)st.st_size / sizeof(*insns);
	if (st.st_size <= 0 || (size_t)st.st_size % sizeof(*insns) != 0 || len > BPF_MAXINSNS)
		return petri__err(err, 0,
				  "seccomp: exported BPF has %lld bytes, not 1 to %d instructions",
				  (long long)st.st_size, BPF_MAXINSNS);

	insns = malloc(len * sizeof(*insns));
	if (!insns)
		return petri__err(err, ENOMEM, "seccomp: allocate %zu BPF instructions", len);
	r = read_exact(fd, insns, len * sizeof(*insns));
	if (r < 0)
		return petri__err(err, -r, "seccomp: read the exported BPF back");

	/* Every "deny with EPERM" becomes "ask the supervisor": the exec's
	 * reaper answers EPERM itself and reports the denial, so each one is
	 * audited (libseccomp takes no notify default action with a listener
	 * we could hand to another process). */
	for (size_t i = 0; i < len; i++)
		if (insns[i].code == (BPF_RET | BPF_K) && insns[i].k == (SECCOMP_RET_ERRNO | EPERM))
			insns[i].k = SECCOMP_RET_USER_NOTIF;
	out->len = (unsigned short)len;
	out->filter = TAKE_PTR(insns);
	return 0;
}

int petri__seccomp_compile(struct petri_seccomp_prog *out, petri_error **err)
{
	_cleanup_(seccomp_ctx_releasep) scmp_filter_ctx ctx = NULL;
	struct sock_fprog fprog;
	int r;

	ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	if (!ctx)
		return petri__err(err, ENOMEM, "seccomp: seccomp_init");
	r = set_attrs(ctx, err);
	if (r < 0)
		return r;
	r = add_rules(ctx, err);
	if (r < 0)
		return r;
	r = export_bpf(ctx, &fprog, err);
	if (r < 0)
		return r;

	out->fprog = fprog;
	return 0;
}

#ifdef PETRI_SECCOMP_PREBUILT
/* The same program, compiled by libseccomp at build time (gen_seccomp.c):
 * compiling it costs ~2 ms, which every `petri run` would otherwise pay. */
#include "petri_seccomp_default.h"

int petri__seccomp_build(struct petri_seccomp_prog *out, petri_error **err)
{
	size_t n = ARRAY_SIZE(petri_seccomp_default);
	struct sock_filter *insns = malloc(n * sizeof(*insns));
	if (!insns)
		return petri__err(err, ENOMEM, "seccomp: copy the default program");
	memcpy(insns, petri_seccomp_default, n * sizeof(*insns));
	out->fprog.len = (unsigned short)n;
	out->fprog.filter = insns;
	return 0;
}
#else
int petri__seccomp_build(struct petri_seccomp_prog *out, petri_error **err)
{
	return petri__seccomp_compile(out, err);
}
#endif

void petri__seccomp_release(struct petri_seccomp_prog *prog)
{
	if (!prog)
		return;
	free(prog->fprog.filter);
	prog->fprog.filter = NULL;
	prog->fprog.len = 0;
}
