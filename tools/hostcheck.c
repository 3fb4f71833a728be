/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hostcheck.c - which isolation layers really work on this host (hostcheck.h):
 * the checks behind `petri doctor`, which petrid runs at start too.
 *
 * Each check tries the thing itself rather than reading version numbers:
 *   user_namespaces  a child unshares a user namespace and gets the mapping
 *                    the library would write (65536 ids as root, its own id
 *                    otherwise), then switches to uid 1000 inside
 *   namespaces       the same child unshares mount, pid, net, uts, ipc and
 *                    cgroup namespaces, mounts a tmpfs, brings lo up
 *   seccomp          a child installs a filter with a user-notification
 *                    listener (how the library audits each denial) and sees
 *                    a denied call fail with EPERM
 *   landlock         the ABI version, and a child restricted by a ruleset
 *                    is refused a write
 *   memfd_exec       /bin/true copied into a memfd and fexecve'd by a child
 *   cgroups, kernel_audit, egress_proxy, sandbox
 *                    the library's own verdicts (petri_ctx_cgroup_mode,
 *                    petri_ctx_kernel_audit) and real sandboxes created
 *                    with limits, a CPU quota and the egress proxy, so that
 *                    doctor and the library never disagree; plus raw loads
 *                    of each BPF program type for the detail line.
 *
 * The children only make system calls between fork and _exit (no stdio, no
 * malloc), so running the checks in a multi-threaded process is safe; they
 * report numbers over a pipe and the parent writes the sentences.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "hostcheck.h"
#include "petri/petri.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3 */
#endif
/* enum bpf_attach_type of Linux 6.7 (Debian 12's headers are older). */
#define HC_BPF_CGROUP_UNIX_CONNECT 49

#if defined(__x86_64__)
#define HC_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define HC_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "hostcheck.c: add this architecture's AUDIT_ARCH"
#endif

#define CHILD_TIMEOUT_MS 10000 /* a probe child that hangs is killed */

/* The library places a root host's sandboxes at 0xc8000000 + k * 65536
 * (petri_ctx_opts.host_uid_base); the probe maps the last of those ranges,
 * the one least likely to be in use, for the instant it lives. */
#define PROBE_ID_BASE (0xc8000000u + 14334u * 65536u)

const char *const hostcheck_layers[] = {
	HC_USERNS,     HC_NAMESPACES,   HC_CGROUPS, HC_SECCOMP, HC_LANDLOCK,
	HC_MEMFD_EXEC, HC_KERNEL_AUDIT, HC_EGRESS,  HC_SANDBOX, NULL,
};

const char *const hostcheck_default_required[] = {HC_USERNS, HC_NAMESPACES, HC_SECCOMP, HC_SANDBOX,
						  NULL};

const char *hostcheck_state_name(int state)
{
	return state == HC_OK ? "ok" : state == HC_DEGRADED ? "degraded" : "missing";
}

static struct hostcheck_item *item(struct hostcheck_report *r, const char *layer)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->items[i].layer, layer) == 0)
			return &r->items[i];
	return NULL;
}

__attribute__((format(printf, 3, 4))) static void set(struct hostcheck_item *it, int state,
						      const char *fmt, ...)
{
	va_list ap;
	it->state = state;
	va_start(ap, fmt);
	vsnprintf(it->detail, sizeof(it->detail), fmt, ap);
	va_end(ap);
	for (char *c = it->detail; *c; c++)
		if (*c == '\n' || *c == '\r' || *c == '\t')
			*c = ' ';
}

/* Append to @it's detail. */
__attribute__((format(printf, 2, 3))) static void add(struct hostcheck_item *it, const char *fmt,
						      ...)
{
	size_t len = strlen(it->detail);
	if (len + 1 >= sizeof(it->detail))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(it->detail + len, sizeof(it->detail) - len, fmt, ap);
	va_end(ap);
}

/* The first line of a small file (/proc/sys/...), or "" when unreadable. */
static void read_line(const char *path, char *buf, size_t size)
{
	buf[0] = '\0';
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	if (!fgets(buf, (int)size, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

static long read_long(const char *path, long fallback)
{
	char buf[64];
	read_line(path, buf, sizeof(buf));
	char *end;
	errno = 0;
	long v = strtol(buf, &end, 10);
	return buf[0] && !errno && end != buf ? v : fallback;
}

/* --- probe children ------------------------------------------------------ */

/* What a probe child reports: up to 16 numbers (meaning per probe). */
struct probe_out {
	int done; /* the child got to its end */
	int v[16];
};

/* Read exactly @len bytes from @fd within the child timeout; 0 or -errno
 * (-EPIPE: the child closed early, -ETIMEDOUT). */
static int read_timed(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int n = poll(&p, 1, CHILD_TIMEOUT_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? -ETIMEDOUT : -errno;
		ssize_t r = read(fd, (char *)buf + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? -EPIPE : -errno;
		got += (size_t)r;
	}
	return 0;
}

/* Wait for @pid; its wait status, or -1. */
static int reap(pid_t pid)
{
	int status;
	for (;;) {
		if (waitpid(pid, &status, 0) == pid)
			return status;
		if (errno != EINTR)
			return -1;
	}
}

static void child_report(int fd, const struct probe_out *o)
{
	const char *p = (const char *)o;
	size_t left = sizeof(*o);
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		p += n;
		left -= (size_t)n;
	}
}

/* --- user namespaces and the others ------------------------------------- */

enum {
	UN_UNSHARE,  /* errno of unshare(CLONE_NEWUSER) */
	UN_IDS,      /* 0: setresuid(1000) inside worked (root: 65536 mapped), else errno */
	UN_NS_MOUNT, /* errno of unshare(CLONE_NEWNS), ... */
	UN_NS_PID,   /* (UN_NS_MOUNT + i follows ns_flags[i]) */
	UN_NS_NET,
	UN_NS_UTS,
	UN_NS_IPC,
	UN_NS_CGROUP,
	UN_NS_TIME,
	UN_TMPFS, /* errno of mounting a tmpfs in the new mount namespace */
	UN_LO,    /* errno of bringing lo up in the new network namespace */
};

static const struct {
	int flag;
	const char *name;
	int required; /* the library's init needs it */
} ns_flags[] = {
	{CLONE_NEWNS, "mount", 1},  {CLONE_NEWPID, "pid", 1}, {CLONE_NEWNET, "net", 1},
	{CLONE_NEWUTS, "uts", 1},   {CLONE_NEWIPC, "ipc", 1}, {CLONE_NEWCGROUP, "cgroup", 1},
	{CLONE_NEWTIME, "time", 0},
};

static int lo_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return errno;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	int e = 0;
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		e = errno;
	ifr.ifr_flags |= IFF_UP;
	if (!e && ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		e = errno;
	close(s);
	return e;
}

/* In the child: the user namespace first, wait for the parent's maps, then
 * each other namespace. */
static void userns_child(int rep, int go, bool root)
{
	struct probe_out o = {0};
	if (unshare(CLONE_NEWUSER) < 0) {
		o.v[UN_UNSHARE] = errno;
		o.done = 1;
		child_report(rep, &o);
		_exit(0);
	}
	child_report(rep, &o); /* "unshared": the parent writes the maps */
	char c;
	if (read(go, &c, 1) != 1)
		_exit(1);
	for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++)
		o.v[UN_NS_MOUNT + (int)i] = unshare(ns_flags[i].flag) < 0 ? errno : 0;
	o.v[UN_TMPFS] = -1;
	if (o.v[UN_NS_MOUNT] == 0) {
		o.v[UN_TMPFS] = 0;
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") < 0)
			o.v[UN_TMPFS] = errno;
	}
	o.v[UN_LO] = o.v[UN_NS_NET] == 0 ? lo_up() : -1;
	/* Ids last: dropping to 1000 gives up the namespace's capabilities. */
	o.v[UN_IDS] = -1;
	if (root) {
		o.v[UN_IDS] = 0;
		if (setgroups(0, NULL) < 0 || setresgid(1000, 1000, 1000) < 0 ||
		    setresuid(1000, 1000, 1000) < 0)
			o.v[UN_IDS] = errno;
	}
	o.done = 1;
	child_report(rep, &o);
	_exit(0);
}

static int write_proc(pid_t pid, const char *file, const char *text)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, text, strlen(text));
	int e = n < 0 ? -errno : 0;
	close(fd);
	return e;
}

/* Write the maps the library would: a 65536-id range as root, else the
 * caller's own id (after "deny" to setgroups, which the kernel demands). */
static int write_maps(pid_t pid, bool root, char *why, size_t whylen)
{
	char map[64];
	int r;
	if (root) {
		snprintf(map, sizeof(map), "0 %u 65536\n", PROBE_ID_BASE);
		if ((r = write_proc(pid, "uid_map", map)) == 0)
			r = write_proc(pid, "gid_map", map);
	} else {
		if ((r = write_proc(pid, "setgroups", "deny")) < 0 && r != -ENOENT) {
			snprintf(why, whylen, "write setgroups: %s", strerror(-r));
			return r;
		}
		snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)geteuid());
		if ((r = write_proc(pid, "uid_map", map)) == 0) {
			snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)getegid());
			r = write_proc(pid, "gid_map", map);
		}
	}
	if (r < 0)
		snprintf(why, whylen, "write the id maps (%s): %s",
			 root ? "65536 ids" : "the caller's id", strerror(-r));
	return r;
}

/* Why an unprivileged unshare may be refused: the sysctls that say so. */
static void userns_refusal_hint(struct hostcheck_item *it)
{
	long v = read_long("/proc/sys/kernel/unprivileged_userns_clone", -1);
	if (v == 0)
		add(it, "; kernel.unprivileged_userns_clone is 0 (run as root, or set it to 1)");
	v = read_long("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", -1);
	if (v == 1)
		add(it, "; kernel.apparmor_restrict_unprivileged_userns is 1 (AppArmor "
			"confines unprivileged user namespaces: run as root or give petri a "
			"profile with 'userns,')");
}

static void check_namespaces(struct hostcheck_report *rep)
{
	struct hostcheck_item *un = item(rep, HC_USERNS), *ns = item(rep, HC_NAMESPACES);
	bool root = geteuid() == 0;
	long max_userns = read_long("/proc/sys/user/max_user_namespaces", -1);
	int rp[2], gp[2];
	if (pipe2(rp, O_CLOEXEC) < 0 || pipe2(gp, O_CLOEXEC) < 0) {
		set(un, HC_MISSING, "cannot run the check: pipe: %s", strerror(errno));
		set(ns, HC_MISSING, "not checked: user namespaces could not be checked");
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(rp[0]);
		close(gp[1]);
		userns_child(rp[1], gp[0], root);
	}
	close(rp[1]);
	close(gp[0]);
	struct probe_out o = {0};
	char why[256] = "";
	int r = pid < 0 ? -errno : read_timed(rp[0], &o, sizeof(o));
	if (r == 0 && !o.done)
		r = write_maps(pid, root, why, sizeof(why));
	if (r == 0 && !o.done) {
		if (write(gp[1], "g", 1) != 1)
			r = -errno;
		else
			r = read_timed(rp[0], &o, sizeof(o));
	}
	close(gp[1]);
	close(rp[0]);
	if (pid > 0) {
		if (r == -ETIMEDOUT)
			kill(pid, SIGKILL);
		reap(pid);
	}

	char limit[96] = "";
	if (max_userns >= 0)
		snprintf(limit, sizeof(limit), "; user.max_user_namespaces=%ld", max_userns);
	if (r < 0 && !why[0])
		snprintf(why, sizeof(why), "probe child: %s", strerror(-r));
	if (why[0]) {
		set(un, HC_MISSING, "%s%s", why, limit);
	} else if (o.v[UN_UNSHARE]) {
		int e = o.v[UN_UNSHARE];
		set(un, HC_MISSING, "unshare(CLONE_NEWUSER): %s%s", strerror(e), limit);
		if (max_userns == 0)
			add(un,
			    " (user namespaces are switched off: sysctl user.max_user_namespaces)");
		else if (e == ENOSPC || e == EUSERS)
			add(un, " (the limit is reached)");
		if (!root)
			userns_refusal_hint(un);
	} else if (root && o.v[UN_IDS] != 0) {
		set(un, HC_DEGRADED, "65536 ids mapped but setresuid(1000) inside failed: %s%s",
		    strerror(o.v[UN_IDS]), limit);
	} else if (root) {
		set(un, HC_OK,
		    "root: each sandbox gets 65536 ids of its own (uid 1000 inside, setuid/chown "
		    "inside work as on any system)%s",
		    limit);
	} else {
		set(un, HC_DEGRADED,
		    "unprivileged: 1 id mapped (the caller's own, uid %u); the code runs as it, "
		    "and chown/setuid to any other id fail with EINVAL (as root: 65536 ids)%s",
		    (unsigned)geteuid(), limit);
	}
	if (max_userns > 0 && max_userns < 64 && un->state == HC_OK)
		set(un, HC_DEGRADED,
		    "user.max_user_namespaces=%ld: at most that many sandboxes at once",
		    max_userns);

	if (un->state == HC_MISSING) {
		set(ns, HC_MISSING,
		    "not checked: they are made inside a user namespace, which failed");
		return;
	}
	int missing = 0, state = HC_OK;
	char ok[128] = "", bad[256] = "";
	for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++) {
		int e = o.v[UN_NS_MOUNT + (int)i];
		char *dst = e ? bad : ok;
		size_t len = strlen(dst), cap = e ? sizeof(bad) : sizeof(ok);
		if (e)
			snprintf(dst + len, cap - len, "%s%s (%s)%s", len ? ", " : "",
				 ns_flags[i].name, strerror(e),
				 ns_flags[i].required ? "" : " optional");
		else
			snprintf(dst + len, cap - len, "%s%s", len ? " " : "", ns_flags[i].name);
		if (e && ns_flags[i].required)
			missing = 1;
	}
	if (missing)
		state = HC_MISSING;
	set(ns, state, "unshared: %s", ok[0] ? ok : "none");
	if (bad[0])
		add(ns, "; refused: %s", bad);
	if (o.v[UN_TMPFS] > 0) {
		add(ns, "; tmpfs mount in the new mount namespace: %s", strerror(o.v[UN_TMPFS]));
		ns->state = HC_MISSING;
	} else if (o.v[UN_TMPFS] == 0) {
		add(ns, "; tmpfs mounts");
	}
	if (o.v[UN_LO] > 0) {
		add(ns, "; lo up in the new network namespace: %s", strerror(o.v[UN_LO]));
		ns->state = HC_MISSING;
	} else if (o.v[UN_LO] == 0) {
		add(ns, "; lo comes up");
	}
}

/* --- seccomp --------------------------------------------------------------- */

enum {
	SC_NNP,      /* errno of PR_SET_NO_NEW_PRIVS */
	SC_LISTENER, /* errno of installing a filter with a notification listener */
	SC_DENIED,   /* errno getppid() failed with under the filter (want EPERM), 0 if it ran */
};

static void seccomp_child(int rep, void *arg)
{
	(void)arg;
	struct probe_out o = {0};
	/* Deny getppid with EPERM, hand acct to the listener, allow the rest;
	 * a foreign architecture is killed, as in the library's profile. */
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, HC_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_acct, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
	o.v[SC_NNP] = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? errno : 0;
	long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
			  &prog);
	o.v[SC_LISTENER] = fd < 0 ? errno : 0;
	if (fd >= 0)
		o.v[SC_DENIED] = syscall(SYS_getppid) < 0 ? errno : 0;
	o.done = 1;
	child_report(rep, &o);
	_exit(0);
}

/* Fork @fn(report fd, @arg) and collect its report; 0 or -errno (-EPIPE:
 * it exited or exec'd without reporting).  *@status: its wait status, or -1
 * when it could not be had (the caller ignores SIGCHLD, say). */
static int run_probe(void (*fn)(int, void *), void *arg, struct probe_out *o, int *status)
{
	*status = -1;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		fn(p[1], arg);
		_exit(1);
	}
	close(p[1]);
	int r = pid < 0 ? -errno : read_timed(p[0], o, sizeof(*o));
	close(p[0]);
	if (pid > 0) {
		if (r == -ETIMEDOUT)
			kill(pid, SIGKILL);
		*status = reap(pid);
		if (r == -EPIPE && *status != -1 && WIFSIGNALED(*status))
			r = -EINTR; /* killed: by the filter, say */
	}
	return r;
}

static void check_seccomp(struct hostcheck_report *rep)
{
	struct hostcheck_item *it = item(rep, HC_SECCOMP);
	struct probe_out o = {0};
	char actions[160];
	read_line("/proc/sys/kernel/seccomp/actions_avail", actions, sizeof(actions));
	int st;
	int r = run_probe(seccomp_child, NULL, &o, &st);
	if (r < 0) {
		set(it, HC_MISSING, "probe child: %s", r == -EINTR ? "killed" : strerror(-r));
	} else if (o.v[SC_NNP]) {
		set(it, HC_MISSING, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(o.v[SC_NNP]));
	} else if (o.v[SC_LISTENER]) {
		set(it, HC_MISSING,
		    "seccomp filter with a user-notification listener (how each denial is "
		    "audited): %s",
		    strerror(o.v[SC_LISTENER]));
		if (o.v[SC_LISTENER] == EINVAL)
			add(it, " (SECCOMP_FILTER_FLAG_NEW_LISTENER needs Linux 5.0)");
	} else if (o.v[SC_DENIED] != EPERM) {
		set(it, HC_MISSING, "a denied call %s under the filter",
		    o.v[SC_DENIED] ? strerror(o.v[SC_DENIED]) : "ran");
	} else {
		set(it, HC_OK,
		    "filters install with a notification listener (each denial audited); a "
		    "denied call fails with EPERM");
	}
	if (actions[0])
		add(it, "; actions: %s", actions);
}

/* --- Landlock ---------------------------------------------------------------- */

#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif

enum {
	LL_CREATE,   /* errno of creating a ruleset */
	LL_RESTRICT, /* errno of landlock_restrict_self */
	LL_WRITE,    /* errno of opening /dev/null for writing under it (want EACCES) */
	LL_READ,     /* errno of opening it for reading (want 0) */
};

static void landlock_child(int rep, void *arg)
{
	(void)arg;
	struct probe_out o = {0};
	struct landlock_ruleset_attr attr = {.handled_access_fs = LANDLOCK_ACCESS_FS_WRITE_FILE};
	int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	o.v[LL_CREATE] = rs < 0 ? errno : 0;
	if (rs >= 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    syscall(SYS_landlock_restrict_self, rs, 0) < 0)
			o.v[LL_RESTRICT] = errno;
	}
	if (rs >= 0 && !o.v[LL_RESTRICT]) {
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		o.v[LL_WRITE] = fd < 0 ? errno : 0;
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		o.v[LL_READ] = fd < 0 ? errno : 0;
	}
	o.done = 1;
	child_report(rep, &o);
	_exit(0);
}

static void check_landlock(struct hostcheck_report *rep)
{
	struct hostcheck_item *it = item(rep, HC_LANDLOCK);
	int abi =
		(int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0) {
		int e = errno;
		set(it, HC_MISSING, "landlock_create_ruleset: %s", strerror(e));
		if (e == EOPNOTSUPP)
			add(it, " (built in but not enabled: add landlock to the lsm= boot "
				"parameter)");
		else if (e == ENOSYS)
			add(it, " (kernel built without CONFIG_SECURITY_LANDLOCK)");
		add(it, "; sandboxes run without this second wall behind the read-only mounts");
		return;
	}
	struct probe_out o = {0};
	int st;
	int r = run_probe(landlock_child, NULL, &o, &st);
	if (r < 0 || o.v[LL_CREATE] || o.v[LL_RESTRICT] || o.v[LL_WRITE] != EACCES ||
	    o.v[LL_READ]) {
		set(it, HC_MISSING, "ABI %d, but a restricted child %s", abi,
		    r < 0                   ? strerror(-r) :
		    o.v[LL_CREATE]          ? "could not create a ruleset" :
		    o.v[LL_RESTRICT]        ? "could not restrict itself" :
		    o.v[LL_WRITE] != EACCES ? "could still write" :
					      "could not read");
		return;
	}
	if (abi >= 6) {
		set(it, HC_OK,
		    "ABI %d: filesystem rights enforced, plus signal and abstract "
		    "unix socket scoping",
		    abi);
		return;
	}
	set(it, HC_DEGRADED, "ABI %d enforced; the library uses up to 6, missing here:", abi);
	if (abi < 2)
		add(it, " refer (ABI 2: cross-directory links and renames not handled),");
	if (abi < 3)
		add(it, " truncate (ABI 3),");
	if (abi < 5)
		add(it, " ioctl on devices (ABI 5),");
	add(it, " signal and abstract unix socket scoping (ABI 6: the seccomp filter and the "
		"pid namespace still isolate them)");
}

/* --- memfd exec ------------------------------------------------------------- */

static void memfd_child(int rep, void *arg)
{
	struct probe_out o = {0};
	char *const argv[] = {"true", NULL}, *const envp[] = {NULL};
	fexecve(*(int *)arg, argv, envp);
	o.v[0] = errno;
	o.done = 1;
	child_report(rep, &o);
	_exit(127);
}

/* A copy of /bin/true in a memfd, as the library's init image is; fd or -errno. */
static int memfd_true(bool *mfd_exec)
{
	int fd = memfd_create("petri-doctor", MFD_CLOEXEC | MFD_EXEC);
	*mfd_exec = fd >= 0;
	if (fd < 0 && errno == EINVAL)
		fd = memfd_create("petri-doctor", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	int in = open("/bin/true", O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	char buf[65536];
	ssize_t n;
	int r = 0;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n) {
			r = -EIO;
			break;
		}
	if (n < 0)
		r = -errno;
	close(in);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static void check_memfd(struct hostcheck_report *rep)
{
	struct hostcheck_item *it = item(rep, HC_MEMFD_EXEC);
	bool mfd_exec = false;
	long noexec = read_long("/proc/sys/vm/memfd_noexec", -1);
	int fd = memfd_true(&mfd_exec);
	if (fd < 0) {
		set(it, HC_MISSING,
		    "memfd_create with a copy of /bin/true: %s (without memfds no sandbox can be "
		    "created: the library hands their configuration and requests over in them)",
		    strerror(-fd));
		if (noexec >= 0)
			add(it, "; vm.memfd_noexec=%ld", noexec);
		return;
	} else {
		struct probe_out o = {0};
		int st;
		/* A successful exec closes the pipe without a report. */
		int r = run_probe(memfd_child, &fd, &o, &st);
		close(fd);
		if (r == 0)
			set(it, HC_MISSING, "fexecve of a memfd: %s", strerror(o.v[0]));
		else if (r != -EPIPE)
			set(it, HC_MISSING, "probe child: %s", strerror(-r));
		else if (st != -1 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
			set(it, HC_MISSING, "/bin/true exec'd from a memfd ended with status 0x%x",
			    (unsigned)st);
		else
			set(it, HC_OK, "a memfd executes (%s)",
			    mfd_exec ? "MFD_EXEC" : "before Linux 6.3, every memfd may");
	}
	if (noexec >= 0)
		add(it, "; vm.memfd_noexec=%ld", noexec);
	if (noexec == 2)
		add(it, " (2: no memfd may be executed)");
	if (it->state == HC_MISSING)
		add(it, "; the library forks init from the host instead (PETRI_INIT=fork: about "
			"a millisecond more per create)");
}

/* --- BPF program types -------------------------------------------------------- */

struct bpf_probe {
	const char *name;
	enum bpf_prog_type type;
	int attach_type;     /* expected_attach_type, or -1 */
	const char *btf;     /* attach BTF: a typedef (tp_btf) or a function, or NULL */
	int btf_kind;        /* BTF_KIND_* of it */
	int ret;             /* the program's return value */
	int attach;          /* 1: attach with raw_tracepoint_open, 2: link_create */
	const char *tp;      /* raw_tp: the tracepoint to attach to */
	const char *used_by; /* what uses it, for the detail */
};

static const struct bpf_probe bpf_probes[] = {
	{"raw_tp", BPF_PROG_TYPE_RAW_TRACEPOINT, -1, NULL, 0, 0, 1, "sched_process_exec",
	 "the audit"},
	{"tracepoint", BPF_PROG_TYPE_TRACEPOINT, -1, NULL, 0, 0, 0, NULL, NULL},
	{"tp_btf", BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP, "btf_trace_sched_process_exec",
	 BTF_KIND_TYPEDEF, 0, 1, NULL, NULL},
	{"cgroup/connect4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT, NULL, 0, 1, 0,
	 NULL, "the audit"},
	{"cgroup/connect_unix", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, HC_BPF_CGROUP_UNIX_CONNECT, NULL, 0,
	 1, 0, NULL, NULL},
	{"fentry", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, "vfs_read", BTF_KIND_FUNC, 0, 1, NULL,
	 NULL},
	{"lsm", BPF_PROG_TYPE_LSM, BPF_LSM_MAC, "bpf_lsm_file_open", BTF_KIND_FUNC, 0, 2, NULL,
	 NULL},
};

static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

/* Load (and attach where that is the test) a two-instruction program of
 * @p's type; 0 or -errno. */
static int bpf_try(const struct bpf_probe *p, struct btf *vmlinux)
{
	struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = p->ret},
		{.code = BPF_JMP | BPF_EXIT},
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts);
	if (p->attach_type >= 0)
		opts.expected_attach_type = (enum bpf_attach_type)p->attach_type;
	if (p->btf) {
		if (!vmlinux)
			return -ENOENT;
		int id = btf__find_by_name_kind(vmlinux, p->btf, p->btf_kind);
		if (id < 0)
			return -ENOENT;
		opts.attach_btf_id = (unsigned)id;
	}
	int fd = bpf_prog_load(p->type, "petri_doctor", "GPL", insns, 2, &opts);
	if (fd < 0)
		return fd == -1 ? -errno : fd;
	int r = 0;
	if (p->attach == 1) {
		int l = bpf_raw_tracepoint_open(p->tp, fd);
		r = l < 0 ? (l == -1 ? -errno : l) : 0;
		if (l >= 0)
			close(l);
	} else if (p->attach == 2) {
		int l = bpf_link_create(fd, 0, (enum bpf_attach_type)p->attach_type, NULL);
		r = l < 0 ? (l == -1 ? -errno : l) : 0;
		if (l >= 0)
			close(l);
	}
	close(fd);
	return r;
}

/* "raw_tp tracepoint ... load; fentry (EPERM) refused" into @it. */
static void bpf_types(struct hostcheck_item *it)
{
	libbpf_print_fn_t old = libbpf_set_print(silent_print);
	struct btf *vmlinux = btf__load_vmlinux_btf(); /* NULL: no BTF */
	char ok[160] = "", bad[256] = "";
	for (size_t i = 0; i < sizeof(bpf_probes) / sizeof(bpf_probes[0]); i++) {
		int r = bpf_try(&bpf_probes[i], vmlinux);
		char *dst = r == 0 ? ok : bad;
		size_t len = strlen(dst), cap = r == 0 ? sizeof(ok) : sizeof(bad);
		if (r == 0)
			snprintf(dst + len, cap - len, "%s%s", len ? " " : "", bpf_probes[i].name);
		else
			snprintf(dst + len, cap - len, "%s%s (%s)", len ? ", " : "",
				 bpf_probes[i].name,
				 r == -ENOENT && bpf_probes[i].btf ? "no BTF for it" :
				 r == -EINVAL                      ? "unknown to this kernel" :
								     strerror(-r));
	}
	btf__free(vmlinux);
	libbpf_set_print(old);
	add(it, "; BPF types that load: %s", ok[0] ? ok : "none");
	if (bad[0])
		add(it, "; refused: %s", bad);
}

/* --- through the library -------------------------------------------------------- */

/* The library's warnings during the checks (why cgroups are off, ...). */
struct lib_log {
	char text[400];
};

static void on_log(int level, const char *msg, void *userdata)
{
	struct lib_log *l = userdata;
	if (level > PETRI_LOG_WARN || l->text[0])
		return;
	snprintf(l->text, sizeof(l->text), "%s", msg);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Create a sandbox with @o, run @argv, destroy it; 0 when it exited 0 (and
 * the output in @out when given), else -errno with @why. */
static int sandbox_try(petri_ctx *ctx, const petri_sandbox_opts *o, const char *const *argv,
		       char *out, size_t outlen, char *why, size_t whylen)
{
	petri_sandbox *sb = NULL;
	petri_error *err = NULL;
	int r = petri_sandbox_create(ctx, o, &sb, &err);
	if (r < 0) {
		snprintf(why, whylen, "create: %s", err ? petri_error_message(err) : strerror(-r));
		petri_error_free(err);
		return r;
	}
	petri_exec_opts eo = PETRI_EXEC_OPTS_INIT;
	eo.argv = argv;
	eo.timeout_ms = 10000;
	petri_result *res = NULL;
	r = petri_sandbox_exec(sb, &eo, &res, &err);
	if (r < 0) {
		snprintf(why, whylen, "exec %s: %s", argv[0],
			 err ? petri_error_message(err) : strerror(-r));
		petri_error_free(err);
	} else if (petri_result_reason(res) != PETRI_REASON_EXITED ||
		   petri_result_exit_code(res) != 0) {
		size_t n = 0;
		const char *e = petri_result_stderr(res, &n);
		snprintf(why, whylen, "%s ended: %s, exit %d: %.*s", argv[0],
			 petri_reason_name(petri_result_reason(res)), petri_result_exit_code(res),
			 (int)(n > 120 ? 120 : n), e ? e : "");
		r = -EIO;
	} else if (out) {
		size_t n = 0;
		const char *s = petri_result_stdout(res, &n);
		snprintf(out, outlen, "%.*s", (int)n, s ? s : "");
	}
	petri_result_free(res);
	petri_sandbox_destroy(sb);
	return r;
}

static void check_sandbox(struct hostcheck_item *it, petri_ctx *ctx)
{
	char why[400] = "";
	double t0 = now_ms();
	const char *const argv[] = {"/bin/true", NULL};
	if (sandbox_try(ctx, NULL, argv, NULL, 0, why, sizeof(why)) < 0)
		set(it, HC_MISSING, "a default sandbox failed: %s", why);
	else
		set(it, HC_OK,
		    "a default sandbox was created, ran /bin/true and was destroyed in "
		    "%.1f ms",
		    now_ms() - t0);
}

/* Our own cgroup in each hierarchy that matters, for the detail. */
static void own_cgroups(char *buf, size_t size)
{
	buf[0] = '\0';
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		const char *ctl = c1 + 1, *path = c2 + 1;
		if (!*ctl)
			ctl = "unified";
		else if (strcmp(ctl, "memory") && strcmp(ctl, "pids") && strcmp(ctl, "cpu") &&
			 strcmp(ctl, "cpu,cpuacct"))
			continue;
		size_t len = strlen(buf);
		snprintf(buf + len, size - len, "%s%s:%s", len ? " " : "", ctl, path);
	}
	fclose(f);
}

static void check_cgroups(struct hostcheck_item *it, petri_ctx *ctx, const struct lib_log *log)
{
	int mode = petri_ctx_cgroup_mode(ctx);
	char where[256];
	own_cgroups(where, sizeof(where));
	if (mode == PETRI_CGROUP_NONE) {
		set(it, HC_MISSING,
		    "no usable cgroup: memory and pids limits fall back to rlimits (per "
		    "process, not per sandbox), no CPU limits, no peak memory%s%s",
		    log->text[0] ? "; the library says: " : "", log->text);
		return;
	}
	const char *const argv[] = {"/bin/true", NULL};
	char why[400] = "";
	petri_sandbox_opts o = PETRI_SANDBOX_OPTS_INIT;
	o.memory_bytes = 64u << 20;
	o.pids_max = 32;
	if (sandbox_try(ctx, &o, argv, NULL, 0, why, sizeof(why)) < 0) {
		set(it, HC_MISSING, "%s mode, but a sandbox with memory and pids limits failed: %s",
		    mode == PETRI_CGROUP_V2 ? "v2" : "v1", why);
		return;
	}
	o.cpus_milli = 500;
	int cpu = sandbox_try(ctx, &o, argv, NULL, 0, why, sizeof(why));
	set(it, cpu == 0 ? HC_OK : HC_DEGRADED, "%s: memory, pids%s usable below our cgroup (%s)",
	    mode == PETRI_CGROUP_V2 ? "v2 (unified)" : "v1 (hybrid host)", cpu == 0 ? ", cpu" : "",
	    where);
	if (cpu < 0)
		add(it, "; no cpu controller: CPU limits (--cpus) refused: %s", why);
}

static void check_kernel_audit(struct hostcheck_item *it, petri_ctx *ctx)
{
	const char *reason = NULL;
	double t0 = now_ms();
	int on = petri_ctx_kernel_audit(ctx, &reason);
	if (on == 1)
		set(it, HC_OK, "the audit's BPF programs load and attach (%.0f ms)", now_ms() - t0);
	else
		set(it, HC_MISSING,
		    "off: %s; sandboxes still run, and audit streams carry only the library's "
		    "own events (lifecycle, exec results, seccomp denials)",
		    reason && *reason ? reason : "unknown reason");
	bpf_types(it);
}

static void check_egress(struct hostcheck_item *it, petri_ctx *ctx)
{
	const char *const allow[] = {"doctor.petri.test", NULL};
	petri_sandbox_opts o = PETRI_SANDBOX_OPTS_INIT;
	o.net = PETRI_NET_PROXY;
	o.allow = allow;
	/* The DNS server on the sandbox's loopback hands an allowed name a
	 * synthetic 127.80.x.y (no lookup upstream yet) and refuses others. */
	const char *const argv[] = {
		"/bin/sh", "-c",
		"getent hosts doctor.petri.test; getent hosts other.petri.test; "
		"echo other=$?",
		NULL};
	char out[256] = "", why[400] = "";
	if (sandbox_try(ctx, &o, argv, out, sizeof(out), why, sizeof(why)) < 0) {
		set(it, HC_MISSING, "a sandbox with --net proxy failed: %s", why);
		return;
	}
	if (strncmp(out, "127.80.", 7) != 0 || !strstr(out, "doctor.petri.test") ||
	    !strstr(out, "other=2")) {
		char *nl;
		while ((nl = strchr(out, '\n')))
			*nl = ' ';
		set(it, HC_MISSING,
		    "the sandbox's DNS did not answer as the allowlist says (got '%s')", out);
		return;
	}
	set(it, HC_OK,
	    "a --net proxy sandbox resolves allowed names on its own 127.0.0.1:53 and "
	    "not others; needs only the network namespace (no veth, no iptables, no BPF) "
	    "and, to reach upstreams, the host's DNS and routes");
}

/* --- the report ------------------------------------------------------------- */

void hostcheck_run(struct hostcheck_report *r)
{
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; hostcheck_layers[i] && r->n < sizeof(r->items) / sizeof(r->items[0]);
	     i++) {
		r->items[r->n].layer = hostcheck_layers[i];
		set(&r->items[r->n], HC_MISSING, "not checked");
		r->n++;
	}
	check_namespaces(r);
	check_seccomp(r);
	check_landlock(r);
	check_memfd(r);

	struct lib_log log = {{0}};
	petri_ctx_opts co = PETRI_CTX_OPTS_INIT;
	co.log_fn = on_log;
	co.log_userdata = &log;
	petri_ctx *ctx = NULL;
	petri_error *err = NULL;
	int rc = petri_ctx_new(&ctx, &co, &err);
	if (rc < 0) {
		const char *m = err ? petri_error_message(err) : strerror(-rc);
		static const char *const lib_layers[] = {HC_CGROUPS, HC_KERNEL_AUDIT, HC_EGRESS,
							 HC_SANDBOX};
		for (size_t i = 0; i < 4; i++)
			set(item(r, lib_layers[i]), HC_MISSING, "the library's context failed: %s",
			    m);
		petri_error_free(err);
	} else {
		check_sandbox(item(r, HC_SANDBOX), ctx);
		check_cgroups(item(r, HC_CGROUPS), ctx, &log);
		check_kernel_audit(item(r, HC_KERNEL_AUDIT), ctx);
		check_egress(item(r, HC_EGRESS), ctx);
		petri_ctx_free(ctx);
	}
}

const struct hostcheck_item *hostcheck_find(const struct hostcheck_report *r, const char *layer)
{
	for (size_t i = 0; layer && i < r->n; i++)
		if (strcmp(r->items[i].layer, layer) == 0)
			return &r->items[i];
	return NULL;
}

void hostcheck_print(const struct hostcheck_report *r, FILE *f)
{
	for (size_t i = 0; i < r->n; i++)
		fprintf(f, "%-9s %-16s %s\n", hostcheck_state_name(r->items[i].state),
			r->items[i].layer, r->items[i].detail);
}

json_object *hostcheck_json(const struct hostcheck_report *r)
{
	json_object *root = json_object_new_object(), *layers = json_object_new_object();
	if (!root || !layers)
		goto oom;
	bool all = true;
	for (size_t i = 0; i < r->n; i++) {
		json_object *o = json_object_new_object();
		if (!o || json_object_object_add(layers, r->items[i].layer, o) < 0) {
			json_object_put(o);
			goto oom;
		}
		if (json_object_object_add(
			    o, "state",
			    json_object_new_string(hostcheck_state_name(r->items[i].state))) < 0 ||
		    json_object_object_add(o, "detail",
					   json_object_new_string(r->items[i].detail)) < 0)
			goto oom;
		all = all && r->items[i].state != HC_MISSING;
	}
	if (json_object_object_add(root, "layers", layers) < 0)
		goto oom;
	if (json_object_object_add(root, "ok", json_object_new_boolean(all)) < 0) {
		json_object_put(root); /* holds layers now */
		return NULL;
	}
	return root;
oom:
	json_object_put(layers);
	json_object_put(root);
	return NULL;
}
