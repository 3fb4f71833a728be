/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unix_broker.c - the code's connect() and sendto() to a pathname unix
 * socket, made on its behalf by a broker the reaper forks.
 *
 * A writable host directory (an rw bind, the workspace directory) or a
 * custom root shows the code host files, and some of them may be the unix
 * sockets of host daemons; a read-only mount would not stop connect() to
 * them, and a writable one cannot be the overlay that hides them in
 * read-only binds (mounts.c).  In such a sandbox (petri_init_cfg.unix_guard)
 * the code's filter makes connect(), and sendto() with an address, a
 * notification to its reaper, which:
 *
 *  - lets the call go on (SECCOMP_USER_NOTIF_FLAG_CONTINUE) when the address
 *    it reads is not a pathname unix address.  Another thread may rewrite
 *    the address after we read it; the host's cgroup hooks (unix_guard.c)
 *    refuse every pathname unix address from a task under seccomp, so a
 *    rewritten call fails with EPERM in the kernel, with the kernel's own
 *    copy of the address.  They also refuse sendmsg() to a pathname, which
 *    the filter cannot tell apart (its address is behind msg_name); without
 *    them (PETRI_UNIX_GUARD_ALONE) the reaper reads the addresses of
 *    sendmsg() and sendmmsg() itself and refuses a pathname (check_msgs);
 *  - otherwise forks a broker, which has no seccomp filter (what the hook
 *    lets through): it takes the caller's socket (pidfd_getfd), becomes the
 *    code's ids in the caller's working directory, resolves the path as the
 *    kernel would for the caller, and connects (or sends a copy of the
 *    caller's bytes) only when the socket is the sandbox's own -- bound by
 *    a socket of this network namespace whose owner is a sandbox uid
 *    (sock_diag) -- or lies on a bind with the "sockets" option.  It addresses /proc/self/fd/N, the very inode it
 *    checked, so no rename or symlink can swap the file in between.
 *
 * A broker may block (a full backlog): the reaper goes on answering other
 * notifications and answers this one when the broker exits, with the
 * result the broker left in its slot (a shared page).  Runs inside init's
 * rules (README.md): no malloc, no libc beyond init_rt.c, raw syscalls.
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/seccomp.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "init_priv.h"

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#endif

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

#define BROKER_MAX PETRI_BROKER_MAX

/* The most a sendto() copies: a datagram is at most the socket's send
 * buffer, which net.core.wmem_max caps. */
#define BROKER_SEND_MAX (4u << 20)

struct broker {
	pid_t pid; /* 0: free */
	int pidfd;
	uint64_t id;  /* the notification it answers */
	uint32_t tid; /* the caller, in the reaper's pid namespace */
	uint32_t nr;  /* connect or sendto */
	/* Written by the broker: */
	int64_t val; /* the call's return value */
	int err;     /* its errno, or 0 */
	int refused; /* not a socket the sandbox may reach */
};

/* MAP_SHARED: the brokers leave their results here. */
static struct broker *brokers;
/* PETRI_UNIX_GUARD_*: with or without the host's cgroup programs. */
static int guard_mode;

int petri__broker_takes(const struct seccomp_data *d)
{
#ifdef NATIVE_ARCH
	if (d->arch != NATIVE_ARCH)
		return 0;
	if (d->nr == __NR_sendmsg || d->nr == __NR_sendmmsg)
		return guard_mode == PETRI_UNIX_GUARD_ALONE;
	return d->nr == __NR_connect || d->nr == __NR_sendto;
#else
	(void)d;
	return 0;
#endif
}

uint32_t petri__broker_arch(void)
{
#ifdef NATIVE_ARCH
	return NATIVE_ARCH;
#else
	return 0;
#endif
}

int petri__guard_filter(const struct petri_seccomp_prog *in, int mode,
			struct petri_seccomp_prog *out)
{
#ifdef NATIVE_ARCH
	/* The profile, behind a prefix that sends the native connect(), and
	 * sendto() with an address (args[4], 64 bits), to the listener; and,
	 * without the host's cgroup programs (which refuse them otherwise),
	 * every sendmsg() and sendmmsg(), whose addresses a filter cannot
	 * read.  A foreign ABI's call falls through to the profile, which
	 * kills it. */
	const uint32_t a4 = offsetof(struct seccomp_data, args[4]);
	const uint8_t msgs = mode == PETRI_UNIX_GUARD_ALONE; /* 1: jump to 11 */
	const struct sock_filter prefix[] = {
		/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 0, 10),
		/* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		/* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_connect, 7, 0),
		/* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sendmsg, msgs ? 6 : 0, 0),
		/* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sendmmsg, msgs ? 5 : 0, 0),
		/* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sendto, 0, 5),
		/* 7 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, a4),
		/* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2),
		/* 9 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, a4 + 4),
		/* 10 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
		/* 11 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		/* 12: the profile */
	};
	size_t n = ARRAY_SIZE(prefix), len = n + in->fprog.len;

	if (!in->fprog.filter || len > BPF_MAXINSNS)
		return -EINVAL;
	struct sock_filter *f = mmap(NULL, len * sizeof(*f), PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (f == MAP_FAILED)
		return -errno;
	memcpy(f, prefix, sizeof(prefix));
	memcpy(f + n, in->fprog.filter, in->fprog.len * sizeof(*f));
	guard_mode = mode;
	out->fprog.len = (unsigned short)len;
	out->fprog.filter = f;
	return 0;
#else
	(void)in;
	(void)mode;
	(void)out;
	return -EOPNOTSUPP;
#endif
}

int petri__broker_table(void)
{
	void *t = mmap(NULL, BROKER_MAX * sizeof(*brokers), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED)
		return -errno;
	brokers = t;
	return 0;
}

/* @len bytes at @from in the caller @pid's memory into @to: how many were
 * read (process_vm_readv), or -1. */
static long read_caller(uint32_t pid, void *to, uint64_t from, size_t len)
{
	struct iovec local = {.iov_base = to, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)from, .iov_len = len};
	return syscall(SYS_process_vm_readv, pid, &local, 1, &remote, 1, 0);
}

/* The kernel's dev_t, as sock_diag reports it, from a user-space st_dev. */
static uint32_t kernel_dev(uint64_t dev)
{
	uint32_t major = (uint32_t)(((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfffull));
	uint32_t minor = (uint32_t)((dev & 0xff) | ((dev >> 12) & ~0xffull));
	return major << 20 | minor;
}

/*
 * Is @st bound by a unix socket of our network namespace whose owner is
 * one of the sandbox's ids?  A host daemon's socket lives in the host's
 * namespace (or, with the host's network, belongs to an id the sandbox's
 * user namespace does not map): 0.  1, 0, or -errno.
 */
static int own_socket(const struct stat *st)
{
	struct {
		struct nlmsghdr nh;
		struct unix_diag_req r;
	} q = {
		.nh = {.nlmsg_len = sizeof(q),
		       .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
		.r = {.sdiag_family = AF_UNIX,
		      .udiag_states = ~0u,
		      .udiag_show = UDIAG_SHOW_VFS | UDIAG_SHOW_UID},
	};
	uint32_t dev = kernel_dev(st->st_dev);
	int found = 0, done = 0;
	long buf[2048];

	int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0)
		return -errno;
	if (syscall(SYS_sendto, nl, &q, sizeof(q), 0, NULL, 0) < 0) {
		int e = errno;
		close(nl);
		return -e;
	}
	while (!done) {
		ssize_t len = syscall(SYS_recvfrom, nl, buf, sizeof(buf), 0, NULL, NULL);
		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0) {
			int e = len < 0 ? errno : EIO;
			close(nl);
			return -e;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				close(nl);
				return -EIO;
			}
			struct unix_diag_msg *m = NLMSG_DATA(h);
			struct rtattr *a = (struct rtattr *)(m + 1);
			int alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
			const struct unix_diag_vfs *vfs = NULL;
			const uint32_t *uid = NULL;
			for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
				if (a->rta_type == UNIX_DIAG_VFS &&
				    RTA_PAYLOAD(a) >= (int)sizeof(struct unix_diag_vfs))
					vfs = RTA_DATA(a);
				else if (a->rta_type == UNIX_DIAG_UID &&
					 RTA_PAYLOAD(a) >= (int)sizeof(uint32_t))
					uid = RTA_DATA(a);
			}
			/* The uid as our user namespace sees it: the code's or
			 * init's; anything unmapped reads as the overflow id. */
			if (vfs && uid && vfs->udiag_vfs_ino == st->st_ino &&
			    vfs->udiag_vfs_dev == dev && (*uid == PETRI_SANDBOX_UID || *uid == 0))
				found = 1;
		}
	}
	close(nl);
	return found;
}

/* The source of each bind with the "sockets" option, noted by init as it
 * attached them, before any code ran. */
static struct sockets_bind {
	uint32_t dev_major, dev_minor;
	uint64_t ino;
	int noted;
} sockets_binds[PETRI_MAX_BINDS];

int petri__broker_sockets_bind(int i, int fd)
{
	struct statx sx;

	if (i < 0 || i >= PETRI_MAX_BINDS)
		return -EINVAL;
	if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_INO, &sx) < 0)
		return -errno;
	sockets_binds[i] = (struct sockets_bind){.dev_major = sx.stx_dev_major,
						 .dev_minor = sx.stx_dev_minor,
						 .ino = sx.stx_ino,
						 .noted = 1};
	return 0;
}

/*
 * Is @fd on one of the binds the host made with the "sockets" option?  The
 * mount at a bind's destination is what we compare with, but the code may
 * own a directory above that destination (/home/sandbox/.ssh for
 * .../.ssh/agent.sock) and replace it with a symlink or another directory:
 * the destination must still lead to the root of a mount, and that root
 * must be the very source init bound there.
 */
static int on_sockets_bind(int fd, const struct petri_init_cfg *cfg)
{
	struct statx sx;

	if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &sx) < 0 ||
	    !(sx.stx_mask & STATX_MNT_ID))
		return 0;
	for (int i = 0; i < cfg->nbinds && i < PETRI_MAX_BINDS; i++) {
		const struct sockets_bind *s = &sockets_binds[i];
		struct statx b;
		if (!cfg->binds[i].sockets || !s->noted ||
		    syscall(SYS_statx, AT_FDCWD, cfg->binds[i].dst,
			    AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, STATX_INO | STATX_MNT_ID,
			    &b) < 0)
			continue;
		if (!(b.stx_mask & STATX_MNT_ID) || !(b.stx_mask & STATX_INO) ||
		    !(b.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) ||
		    !(b.stx_attributes & STATX_ATTR_MOUNT_ROOT) || b.stx_ino != s->ino ||
		    b.stx_dev_major != s->dev_major || b.stx_dev_minor != s->dev_minor)
			continue;
		if (b.stx_mnt_id == sx.stx_mnt_id)
			return 1;
	}
	return 0;
}

/* What a broker does: the caller's call, its address read already. */
struct broker_call {
	const struct seccomp_data *d;
	uint32_t tid;
	const struct sockaddr_un *sa;
	socklen_t len;
};

/*
 * sendto()'s bytes, copied into *@buf (*@n of them) while we are still the
 * reaper's child with its capabilities: once we have the code's ids and
 * none, process_vm_readv would need the caller dumpable and, with Yama's
 * ptrace_scope 1, us its ancestor (we are its sibling).  0 or an errno.
 */
static int copy_bytes(const struct broker_call *c, void **buf, size_t *n)
{
	*n = (size_t)c->d->args[2];
	*buf = NULL;
	if (*n > BROKER_SEND_MAX)
		return EMSGSIZE;
	if (!*n)
		return 0;
	void *p = mmap(NULL, *n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return ENOBUFS;
	if (read_caller(c->tid, p, c->d->args[1], *n) != (long)*n)
		return EFAULT;
	*buf = p;
	return 0;
}

/* SIGPIPE to the thread @tid (in our pid namespace), as the kernel would
 * send it to a sender whose stream peer is gone. */
static void sigpipe_caller(uint32_t tid)
{
	char p[64], buf[512];
	snprintf(p, sizeof(p), "/proc/%u/status", tid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t len = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (len <= 0)
		return;
	buf[len] = '\0';
	for (const char *l = buf; l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (strncmp(l, "Tgid:", 5) == 0) {
			syscall(SYS_tgkill, (pid_t)strtol(l + 5, NULL, 10), (pid_t)tid, SIGPIPE);
			return;
		}
}

/* The caller's call on @sock (its socket), addressed to @via: connect, or
 * sendto of @buf (copy_bytes).  The result goes in @b. */
static void broker_do(const struct broker_call *c, int sock, const void *buf, size_t n,
		      const void *via, socklen_t vlen, struct broker *b)
{
	long r;

	if (c->d->nr == __NR_connect) {
		r = syscall(SYS_connect, sock, via, vlen);
	} else {
		/* A stream whose peer is gone raises SIGPIPE in the sender: the
		 * caller's, not ours (ours would kill us), unless it asked for
		 * none. */
		int flags = (int)c->d->args[3];
		r = syscall(SYS_sendto, sock, buf, n, flags | MSG_NOSIGNAL, via, vlen);
		if (r < 0 && errno == EPIPE && !(flags & MSG_NOSIGNAL)) {
			sigpipe_caller(c->tid);
			errno = EPIPE;
		}
	}
	b->val = r < 0 ? -1 : r;
	b->err = r < 0 ? errno : 0;
}

/*
 * The broker: the caller's call, to the pathname in @c as the caller would
 * reach it, when the socket there is one the sandbox may reach.  The
 * result goes in @b; a broker that dies first leaves ESRCH there (or the
 * errno of the step that failed last).
 */
static _Noreturn void broker_main(const struct broker_call *c, const struct petri_init_cfg *cfg,
				  struct broker *b)
{
	char p[64];

	/* Nothing of the reaper's: our /proc/self/fd must hold only what we
	 * open here. */
	syscall(SYS_close_range, 3, ~0U, 0);
	b->err = ESRCH;
	int pidfd = (int)syscall(SYS_pidfd_open, c->tid, PIDFD_THREAD);
	if (pidfd < 0 && errno == EINVAL)
		pidfd = (int)syscall(SYS_pidfd_open, c->tid, 0);
	if (pidfd < 0)
		_exit(0);
	int sock = (int)syscall(SYS_pidfd_getfd, pidfd, (int)c->d->args[0], 0);
	if (sock < 0) {
		b->err = errno == EBADF ? EBADF : ESRCH;
		_exit(0);
	}
	close(pidfd);
	void *buf = NULL;
	size_t n = 0;
	int e = c->d->nr == __NR_sendto ? copy_bytes(c, &buf, &n) : 0;
	if (e) {
		b->err = e;
		_exit(0);
	}

	/* The caller's working directory (its root is ours), opened while we
	 * may still read its /proc entries. */
	snprintf(p, sizeof(p), "/proc/%u/cwd", c->tid);
	int cwd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0)
		_exit(0);

	/* The caller's ids and none of our capabilities, for every call we
	 * make: the path's search permissions and the socket's write
	 * permission are checked for the code, by the kernel.  Empty
	 * permitted and effective sets are enough (the ambient set goes with
	 * them): we never execve, so the bounding set and the securebits the
	 * command locks cannot matter. */
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct none[2] = {{0}};
	if (syscall(SYS_setresgid, PETRI_SANDBOX_GID, PETRI_SANDBOX_GID, PETRI_SANDBOX_GID) < 0 ||
	    syscall(SYS_setresuid, PETRI_SANDBOX_UID, PETRI_SANDBOX_UID, PETRI_SANDBOX_UID) < 0 ||
	    syscall(SYS_capset, &hdr, none) < 0) {
		b->err = EPERM;
		_exit(0);
	}
	if (syscall(SYS_fchdir, cwd) < 0)
		_exit(0);
	close(cwd);

	/* A socket of another family: whatever the kernel answers it for a
	 * unix address (no unix hook runs for it, and we have no filter). */
	int domain = 0;
	socklen_t dlen = sizeof(domain);
	if (syscall(SYS_getsockopt, sock, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) < 0) {
		b->err = errno;
		_exit(0);
	}
	/* And a sendto() on a connected unix stream or seqpacket socket:
	 * the kernel ignores the address, or refuses any. */
	int type = 0;
	socklen_t tlen = sizeof(type);
	if (domain == AF_UNIX && c->d->nr == __NR_sendto &&
	    syscall(SYS_getsockopt, sock, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0) {
		b->err = errno;
		_exit(0);
	}
	if (domain != AF_UNIX || (c->d->nr == __NR_sendto && type != SOCK_DGRAM)) {
		broker_do(c, sock, buf, n, c->sa, c->len, b);
		_exit(0);
	}

	/* The kernel ends the path at the address's length or its first NUL. */
	char path[sizeof(c->sa->sun_path) + 1];
	size_t plen = c->len - offsetof(struct sockaddr_un, sun_path);
	memcpy(path, c->sa->sun_path, plen);
	path[plen] = '\0';
	int file = open(path, O_PATH | O_CLOEXEC);
	struct stat st;
	if (file < 0 || fstat(file, &st) < 0) {
		b->err = errno;
		_exit(0);
	}
	if (!S_ISSOCK(st.st_mode)) {
		b->err = ECONNREFUSED;
		_exit(0);
	}
	if (own_socket(&st) != 1 && !on_sockets_bind(file, cfg)) {
		b->err = ECONNREFUSED;
		b->refused = 1;
		_exit(0);
	}

	struct sockaddr_un via = {.sun_family = AF_UNIX};
	int vn = snprintf(via.sun_path, sizeof(via.sun_path), "/proc/self/fd/%d", file);
	broker_do(c, sock, buf, n, &via,
		  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)vn + 1), b);
	_exit(0);
}

static void answer(int notify_fd, uint64_t id, int64_t val, int err, uint32_t flags)
{
	struct seccomp_notif_resp resp = {.id = id, .val = val, .error = -err, .flags = flags};
	ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

/* Is @m's destination a pathname unix address?  (It is read from the
 * caller, which may change it after we looked: see petri__broker_start.) */
static int msg_to_pathname(uint32_t pid, const struct msghdr *m)
{
	struct sockaddr_un sa;
	size_t len = m->msg_namelen < sizeof(sa) ? m->msg_namelen : sizeof(sa);

	if (!m->msg_name || len <= offsetof(struct sockaddr_un, sun_path))
		return 0;
	if (read_caller(pid, &sa, (uintptr_t)m->msg_name, len) != (long)len)
		return 0; /* the kernel answers EFAULT */
	return sa.sun_family == AF_UNIX && sa.sun_path[0] != '\0';
}

/*
 * Without the host's cgroup programs, sendmsg() and sendmmsg() come here
 * too: refused (EPERM, as the programs would) when a message is addressed
 * to a pathname, else they go on.  A thread that rewrites msg_name after
 * we read it wins, which the README says of such hosts.
 */
static int check_msgs(int notify_fd, const struct seccomp_notif *req)
{
	const int mmsg = req->data.nr == __NR_sendmmsg;
	uint64_t vlen = mmsg ? req->data.args[2] : 1;
	uintptr_t at = (uintptr_t)req->data.args[1];
	struct mmsghdr v[16];

	if (vlen > UIO_MAXIOV) /* the kernel's cap: it sends no more */
		vlen = UIO_MAXIOV;
	for (uint64_t i = 0; i < vlen;) {
		size_t n = vlen - i < ARRAY_SIZE(v) ? (size_t)(vlen - i) : ARRAY_SIZE(v);
		size_t each = mmsg ? sizeof(v[0]) : sizeof(v[0].msg_hdr);
		long got = read_caller(req->pid, v, at + i * each, n * each);
		/* A short read: the kernel reads each header on its own and
		 * sends the messages before the first it cannot read (then
		 * answers with their count), so each whole header read is
		 * checked, and the rest is the kernel's EFAULT. */
		size_t whole = got < (long)sizeof(v[0].msg_hdr) ?
				       0 :
				       ((size_t)got - sizeof(v[0].msg_hdr)) / each + 1;
		if (whole < n) {
			n = whole;
			vlen = i + n; /* the last round */
		}
		for (size_t k = 0; k < n; k++) {
			const struct msghdr *m =
				mmsg ? &v[k].msg_hdr :
				       (const struct msghdr *)((char *)v + k * each);
			if (msg_to_pathname(req->pid, m))
				return -EPERM;
		}
		i += n;
	}
	answer(notify_fd, req->id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
	return 0;
}

int petri__broker_start(int notify_fd, const struct seccomp_notif *req,
			const struct petri_init_cfg *cfg)
{
	if (req->data.nr == __NR_sendmsg || req->data.nr == __NR_sendmmsg)
		return check_msgs(notify_fd, req);

	struct sockaddr_un sa;
	int send = req->data.nr == __NR_sendto;
	uint64_t addr = req->data.args[send ? 4 : 1];
	socklen_t len = (socklen_t)req->data.args[send ? 5 : 2];

	/* Not a pathname unix address (or one the kernel rejects anyway):
	 * the kernel goes on; the cgroup hooks stand behind a rewrite.  One
	 * byte of sun_path is a pathname when it is not NUL: the kernel ends
	 * the path at the address's length ("s", 3 bytes). */
	if (len <= offsetof(struct sockaddr_un, sun_path) || len > sizeof(sa) ||
	    read_caller(req->pid, &sa, addr, len) != (long)len || sa.sun_family != AF_UNIX ||
	    sa.sun_path[0] == '\0') {
		answer(notify_fd, req->id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
		return 0;
	}
	/* What we read is the caller's only if it still waits. */
	if (ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) < 0)
		return 0;

	struct broker *b = NULL;
	for (int i = 0; i < BROKER_MAX && !b; i++)
		if (!brokers[i].pid)
			b = &brokers[i];
	if (!b)
		return -EAGAIN; /* as many calls in flight as we serve */
	*b = (struct broker){.val = -1, .err = EINTR};
	int pidfd = -1;
	pid_t pid = petri__clone_pidfd(0, &pidfd);
	if (pid < 0)
		return -EAGAIN;
	if (pid == 0) {
		struct broker_call c = {.d = &req->data, .tid = req->pid, .sa = &sa, .len = len};
		broker_main(&c, cfg, b);
	}
	b->pid = pid;
	b->pidfd = pidfd;
	b->id = req->id;
	b->tid = req->pid;
	b->nr = (uint32_t)req->data.nr;
	return 0;
}

int petri__broker_pollfds(struct pollfd *p, int max)
{
	int n = 0;
	for (int i = 0; i < BROKER_MAX && n < max; i++)
		if (brokers[i].pid)
			p[n++] = (struct pollfd){.fd = brokers[i].pidfd, .events = POLLIN};
	return n;
}

int petri__broker_reaped(pid_t pid, struct petri_broker_end *end)
{
	for (int i = 0; i < BROKER_MAX; i++) {
		struct broker *b = &brokers[i];
		if (b->pid != pid)
			continue;
		*end = (struct petri_broker_end){.id = b->id,
						 .tid = b->tid,
						 .nr = b->nr,
						 .val = b->val,
						 .err = b->err,
						 .refused = b->refused};
		close(b->pidfd);
		*b = (struct broker){0};
		return 1;
	}
	return 0;
}

void petri__broker_answer(int notify_fd, const struct petri_broker_end *end)
{
	answer(notify_fd, end->id, end->val, end->err, 0);
}
