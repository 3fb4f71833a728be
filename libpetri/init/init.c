/* SPDX-License-Identifier: Apache-2.0 */
/*
 * init.c - the sandbox's init process and what it forks for each exec.
 *
 * init is started by the host's supervisor thread in new namespaces: as a
 * small static executable embedded in the library (init_main.c, the usual
 * way: a fork of a big host would copy its page tables for every sandbox and
 * every exec) or, where the kernel refuses to execute it, as a fork of the
 * host.  It builds the root filesystem, brings up lo, then serves the
 * control socket.
 * For each exec it forks a *reaper* into a new pid and mount namespace: the
 * reaper is pid 1 there, mounts a /proc that shows only the exec's processes,
 * forks the command, and exits when the command does, which makes the kernel
 * kill every process the exec started (double forks and setsid included).
 *
 * init may be a fork of a multi-threaded host, so it never calls malloc or
 * stdio: stack buffers, mmap and raw syscalls only.
 */
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "init_priv.h"

enum petri_stage {
	STAGE_NONE = 0,
	STAGE_SYNC,
	STAGE_GROUPS,
	STAGE_ROOTFS,
	STAGE_HOSTNAME,
	STAGE_NET,
	STAGE_LANDLOCK,
	STAGE_REQUEST,
	STAGE_FORK,
	STAGE_PROC,
	STAGE_CODE,
	STAGE_CWD,
	STAGE_RLIMIT,
	STAGE_CAPS,
	STAGE_NNP,
	STAGE_SECCOMP,
	STAGE_EXEC,
	STAGE_RESET,
};

/* The seccomp program: in the host's memory (reached through the fork) or
 * in init's mapping of its configuration. */
static const struct petri_seccomp_prog *init_seccomp;

/* Landlock: the paths the code may write below (NULL-terminated), set by
 * init; each reaper builds its ruleset after mounting the exec's own /proc,
 * whose inodes a ruleset made earlier would not cover. */
static const char *landlock_writable[PETRI_MAX_BINDS + 8];
static int landlock_enabled;
static int landlock_fd = -1;
static int notify_fd = -1; /* seccomp listener of the reaper's filter */
/* unix_broker.c: the code's connect() and sendto() (and, without the
 * host's cgroup programs, sendmsg() and sendmmsg()) go to the reaper,
 * which therefore has no filter itself; the command installs init_seccomp
 * (the profile behind the guard's prefix) and leaves the listener in the
 * fd table it shares with the reaper until execve. */
static int unix_guard;
static struct petri_seccomp_prog guard_prog;
/* Per-exec rlimits on per-user kernel counts (the sandbox's options). */
static uint64_t limit_sigpending, limit_msgqueue;
/* Our configuration, for PETRI_MSG_RESET. */
static const struct petri_init_cfg *init_cfg;

static void send_setup_error(int ctl, int stage, int err, const char *text)
{
	struct petri_msg m = {.type = PETRI_MSG_SETUP_ERROR, .stage = stage, .err = err};
	snprintf(m.text, sizeof(m.text), "%s", text);
	petri__msg_send(ctl, &m, NULL, 0);
}

/*
 * Bring lo up.  @proxy (network mode proxy): also give it 127.0.0.2, so
 * that resolvers asking with AI_ADDRCONFIG (getaddrinfo ignores 127.0.0.1
 * when it decides which families the host has) see IPv4 and look names up
 * in the sandbox's DNS server (libpetri/net), as A records only.
 */
static int loopback_up(int proxy)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	int r = ioctl(s, SIOCGIFFLAGS, &ifr);
	if (r == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		r = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	if (r == 0 && proxy) {
		struct ifreq alias = {0};
		struct sockaddr_in a = {.sin_family = AF_INET};
		memcpy(&a.sin_addr, (const uint8_t[]){127, 0, 0, 2}, 4);
		snprintf(alias.ifr_name, sizeof(alias.ifr_name), "lo:petri");
		memcpy(&alias.ifr_addr, &a, sizeof(a));
		r = ioctl(s, SIOCSIFADDR, &alias);
	}
	int e = errno;
	close(s);
	return r < 0 ? -e : 0;
}

/*
 * A forked init and its reapers never execve, so their /proc/PID/cmdline
 * (readable by anyone who can see the pid, whatever dumpable says) would
 * show the host's argv.  Wipe our copy of the host's argv and environment
 * strings; the addresses come from /proc/self/stat.
 */
static void scrub_host_args(const char *name)
{
	char buf[1024];
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	unsigned long long v[52] = {0};
	/* Field 3 (state) follows ") "; fields 48-51 are arg_start, arg_end,
	 * env_start, env_end. */
	for (int field = 3; p && field <= 51; field++) {
		p = strchr(p, ' ');
		if (!p)
			return;
		p++;
		if (field >= 48)
			v[field] = strtoull(p, NULL, 10);
	}
	if (v[48] && v[49] > v[48])
		memset((void *)(uintptr_t)v[48], 0, v[49] - v[48]);
	if (v[50] && v[51] > v[50])
		memset((void *)(uintptr_t)v[50], 0, v[51] - v[50]);
	if (v[48] && v[49] > v[48] + strlen(name))
		memcpy((void *)(uintptr_t)v[48], name, strlen(name));
	prctl(PR_SET_NAME, name, 0, 0, 0);
}

/*
 * The per-user counts of our user namespace (/proc/sys/user, which applies
 * to the namespace of whoever writes it, and which we may write while we
 * hold CAP_SYS_RESOURCE in it).  The code runs as one uid, so these are the
 * sandbox's limits; on a root host the same use is also counted one level
 * up against the host's per-user limits, on an id of the sandbox's own
 * (spawn.c).  New user, cgroup, IPC, time and UTS namespaces: none, as the
 * seccomp profile already says (defence in depth); pid and mount ones are
 * what every exec's reaper is made with, network ones what we were made
 * with.  fanotify: seccomp refuses it, and so do these (0).  Called by the
 * network namespace's maker, off init's path (net_start), through the
 * host's /proc; else, or when that failed, by init after the pivot: our own
 * /proc, never read-only like a container host's may be.
 */
static int set_user_counts(const struct petri_init_cfg *cfg, char *msg, size_t msglen)
{
	const struct {
		const char *name;
		uint64_t value;
	} counts[] = {
		{"max_inotify_instances", cfg->inotify_instances},
		{"max_inotify_watches", cfg->inotify_watches},
		{"max_fanotify_groups", 0},
		{"max_fanotify_marks", 0},
		{"max_user_namespaces", 0},
		{"max_cgroup_namespaces", 0},
		{"max_ipc_namespaces", 0},
		{"max_time_namespaces", 0},
		{"max_uts_namespaces", 0},
	};
	char path[64], val[24];
	for (size_t i = 0; i < ARRAY_SIZE(counts); i++) {
		snprintf(path, sizeof(path), "/proc/sys/user/%s", counts[i].name);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			continue; /* a kernel without that count (fanotify, time) */
		int r = fd < 0 ? -errno : 0;
		if (r == 0) {
			snprintf(val, sizeof(val), "%llu", (unsigned long long)counts[i].value);
			r = petri__write_all(fd, val, strlen(val));
			close(fd);
		}
		if (r < 0) {
			snprintf(msg, msglen, "write %s", path);
			return r;
		}
	}
	return 0;
}

/* ---- the command: the last steps before execve, in order ---- */

struct exec_ctx {
	const struct petri_exec_req *req;
	char *const *argv;
	char *const *envp;
	const char *cwd;
	int err_fd;
	int guard;     /* unix_guard: we share the reaper's fd table until execve */
	int *listener; /* ... and leave the filter's listener there, its number here */
};

static int parse_request(int memfd, struct exec_ctx *x, const char **code, void **map,
			 size_t *maplen);

static _Noreturn void child_fail(int err_fd, int stage, int err, const char *what)
{
	struct petri_msg m = {.type = PETRI_MSG_SETUP_ERROR, .stage = stage, .err = err};
	snprintf(m.text, sizeof(m.text), "%s", what);
	ssize_t w = write(err_fd, &m, sizeof(m));
	(void)w;
	_exit(127);
}

static int drop_capabilities(void)
{
	/* Bounding and ambient sets first (they need CAP_SETPCAP), then lock
	 * the securebits so a uid change can never bring capabilities back,
	 * then empty the permitted/effective/inheritable sets. */
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
					     SECBIT_NO_SETUID_FIXUP_LOCKED |
					     SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
					     SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED) < 0)
		return -errno;
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {{0}};
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	return 0;
}

static int set_limit(int res, uint64_t v)
{
	struct rlimit rl = {.rlim_cur = v, .rlim_max = v};
	return setrlimit(res, &rl) < 0 ? -errno : 0;
}

/* Set a limit to @v, or keep the host's if it is lower (raising needs a
 * privilege the sandbox does not have). */
static int lower_limit(int res, uint64_t v)
{
	struct rlimit rl;
	if (getrlimit(res, &rl) < 0)
		return -errno;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < v)
		v = rl.rlim_max;
	return set_limit(res, v);
}

/*
 * execve argv[0], searched for in the PATH of the exec's own environment
 * (execvpe would search the PATH of init's, that is of nobody in
 * particular); like execvp, a file the kernel will not execute is run by
 * /bin/sh.  Returns only on failure, with errno set.
 */
/*
 * execve, tried again a few times while it fails with ETXTBSY: some process
 * outside the sandbox may hold a transient copy of an fd that has the file
 * open for writing (a fork of a threaded host between its open and its
 * exec; the library's own writes are settled, host.h petri__write_settle).
 * Up to ~30 ms in all; a file that stays open for writing still fails.
 */
static void execve_settled(const char *path, char *const *argv, char *const *envp)
{
	for (int i = 0;; i++) {
		execve(path, argv, envp);
		if (errno != ETXTBSY || i == 5)
			return;
		poll(NULL, 0, 1 << i); /* 1, 2, 4, 8, 16 ms */
	}
}

static void exec_search(char *const *argv, char *const *envp)
{
	const char *file = argv[0];
	if (!*file) {
		errno = ENOENT;
		return;
	}
	if (strchr(file, '/')) {
		execve_settled(file, argv, envp);
		return;
	}
	const char *path = "/usr/local/bin:/usr/bin:/bin";
	for (char *const *e = envp; *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	size_t flen = strlen(file);
	int eacces = 0;
	for (const char *p = path;; p++) {
		const char *end = strchr(p, ':');
		size_t dlen = end ? (size_t)(end - p) : strlen(p);
		char full[PETRI_PATH_MAX];
		if (dlen + flen + 2 <= sizeof(full)) {
			memcpy(full, p, dlen);
			size_t k = dlen;
			if (k == 0)
				full[k++] = '.'; /* an empty entry is the cwd */
			full[k++] = '/';
			memcpy(full + k, file, flen + 1);
			execve_settled(full, argv, envp);
			if (errno == ENOEXEC) {
				size_t argc = 0;
				while (argv[argc])
					argc++;
				size_t len = (argc + 2) * sizeof(char *);
				char **sh = mmap(NULL, len, PROT_READ | PROT_WRITE,
						 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
				if (sh == MAP_FAILED)
					return;
				sh[0] = "/bin/sh";
				sh[1] = full;
				memcpy(sh + 2, argv + 1, argc * sizeof(char *)); /* with NULL */
				execve("/bin/sh", sh, envp);
				return;
			}
			if (errno == EACCES)
				eacces = 1;
			else if (errno != ENOENT && errno != ENOTDIR && errno != ENAMETOOLONG)
				return;
		}
		if (!end)
			break;
		p = end;
	}
	errno = eacces ? EACCES : ENOENT;
}

static int install_guard_seccomp(void);

static _Noreturn void command_main(const struct exec_ctx *x, const int *stdio)
{
	const struct petri_exec_req *req = x->req;
	int r;

	/* 1. A session of its own: no controlling terminal, no job control
	 *    games with anything outside the exec.  (Signal dispositions and
	 *    mask were reset by the reaper, and seccomp is already in force:
	 *    the reaper installed it before the request came -- except with
	 *    unix_guard, step 8.) */
	setsid();

	/* 2. Only fds 0, 1, 2 survive execve. */
	for (int i = 0; i < 3; i++)
		if (dup2(stdio[i], i) < 0)
			child_fail(x->err_fd, STAGE_EXEC, errno, "dup2 stdio");
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);

	/* 3. Working directory. */
	if (chdir(x->cwd) < 0) {
		char m[PETRI_STAGE_MSG_MAX];
		snprintf(m, sizeof(m), "chdir %s", x->cwd);
		child_fail(x->err_fd, STAGE_CWD, errno, m);
	}

	/* 4. The code is the OOM killer's first choice, not the reaper or init
	 *    (before the rlimits: this open must not meet a low RLIMIT_NOFILE).
	 *    Our /proc files belong to root while the mm (the reaper's, shared
	 *    until execve) is undumpable: the root of the namespace that mm
	 *    was made in, if mapped, else host root -- host root's whenever
	 *    init was forked from the host or the sandbox maps no uid 0 (an
	 *    unprivileged host), and our capabilities, valid in the sandbox's
	 *    namespace only, do not reach those.  Make it dumpable just for
	 *    the write.  Nothing can watch meanwhile: the reaper waits for
	 *    our execve and no other process of the exec exists yet. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	int oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	int oom_err = oom < 0 || write(oom, "1000", 4) != 4 ? errno : 0;
	if (oom >= 0)
		close(oom);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (oom_err)
		child_fail(x->err_fd, STAGE_RLIMIT, oom_err, "set oom_score_adj");

	/*    Resource limits that are per process.  Memory is the cgroup's
	 *    job: RLIMIT_AS would break V8 and Go, which reserve big ranges.
	 *    With unix_guard, RLIMIT_NOFILE comes after step 8: the filter's
	 *    listener takes the lowest fd free in the table we share with the
	 *    reaper, above the reaper's own. */
	struct rlimit cpu = {.rlim_cur = req->cpu_s, .rlim_max = req->cpu_s + 1};
	if ((r = setrlimit(RLIMIT_CPU, &cpu) < 0 ? -errno : 0) < 0 ||
	    (r = set_limit(RLIMIT_FSIZE, req->fsize)) < 0 ||
	    (!x->guard && (r = set_limit(RLIMIT_NOFILE, req->nofile)) < 0) ||
	    (r = set_limit(RLIMIT_CORE, 0)) < 0 ||
	    (req->nproc && (r = set_limit(RLIMIT_NPROC, req->nproc)) < 0) ||
	    (r = set_limit(RLIMIT_RTPRIO, 0)) < 0 || (r = set_limit(RLIMIT_NICE, 0)) < 0 ||
	    (r = lower_limit(RLIMIT_MEMLOCK, 8u << 20)) < 0 ||
	    (r = lower_limit(RLIMIT_SIGPENDING, limit_sigpending)) < 0 ||
	    (r = lower_limit(RLIMIT_MSGQUEUE, limit_msgqueue)) < 0)
		child_fail(x->err_fd, STAGE_RLIMIT, -r, "setrlimit");

	/* 5. Same unprivileged uid everywhere, no capabilities left. */
	if (syscall(SYS_setresgid, PETRI_SANDBOX_GID, PETRI_SANDBOX_GID, PETRI_SANDBOX_GID) < 0 ||
	    syscall(SYS_setresuid, PETRI_SANDBOX_UID, PETRI_SANDBOX_UID, PETRI_SANDBOX_UID) < 0)
		child_fail(x->err_fd, STAGE_CAPS, errno, "setresuid");
	if ((r = drop_capabilities()) < 0)
		child_fail(x->err_fd, STAGE_CAPS, -r, "drop capabilities");
	/* Not PR_SET_DUMPABLE: we share the reaper's mm until execve, and the
	 * reaper (a copy of the host's memory) must stay undumpable.  execve
	 * makes the new image dumpable by itself. */

	/* 6. No privilege through execve ever again (setuid bits, file caps). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(x->err_fd, STAGE_NNP, errno, "no_new_privs");

	/* 7. Landlock: writes only below the writable mounts. */
	if (landlock_fd >= 0 && (r = petri__landlock_restrict(landlock_fd)) < 0)
		child_fail(x->err_fd, STAGE_LANDLOCK, -r, "landlock_restrict_self");

	/* 8. With unix_guard, seccomp: the reaper serves our connect()s, so
	 *    it has no filter to pass on.  Its listener stays in the fd table
	 *    we share with the reaper (close-on-exec: the copy execve gives
	 *    the new program drops it; no call a filter may catch is needed
	 *    to hand it over). */
	if (x->guard) {
		if ((r = install_guard_seccomp()) < 0)
			child_fail(x->err_fd, STAGE_SECCOMP, -r, "seccomp");
		*x->listener = r;
		/* setrlimit is prlimit64 on ourselves, which the profile allows
		 * (nothing here may be a call the reaper would have to answer:
		 * it waits for our execve). */
		if ((r = set_limit(RLIMIT_NOFILE, req->nofile)) < 0)
			child_fail(x->err_fd, STAGE_RLIMIT, -r, "setrlimit");
	}

	exec_search(x->argv, x->envp);
	char m[PETRI_STAGE_MSG_MAX];
	snprintf(m, sizeof(m), "execve %s", x->argv[0]);
	child_fail(x->err_fd, STAGE_EXEC, errno, m);
}

struct command_args {
	const struct exec_ctx *x;
	const int *stdio;
};

static int command_trampoline(void *arg)
{
	const struct command_args *a = arg;
	command_main(a->x, a->stdio);
}

/* ---- the reaper: pid 1 of the exec's own pid namespace ---- */

/* A writable clone of /run/petri, detached: the attached one is read-only. */
static int code_dir_fd = -1;

static int write_code(const struct petri_exec_req *req, const char *code)
{
	int fd = openat(code_dir_fd, req->code_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0)
		return -errno;
	int r = petri__write_all(fd, code, req->code_len);
	close(fd);
	return r;
}

/*
 * Everything an exec needs that does not depend on its request, done ahead
 * of time by a pre-forked reaper: its pid and mount namespace, its /proc,
 * a tmpfs for the code, the Landlock ruleset, default signal handling, and
 * the seccomp filter (which the command inherits through the vfork).  A
 * failure is kept and reported once a request brings the report channel.
 */
struct reaper_prep {
	int stage;
	int err;
	char msg[PETRI_STAGE_MSG_MAX];
};

/* Install @prog with a listener for its USER_NOTIF returns, and @flags;
 * the listener fd or -errno.  A reaper holds CAP_SYS_ADMIN in the sandbox's
 * user namespace, so needs no no_new_privs yet (the command sets it). */
static int install_seccomp(const struct petri_seccomp_prog *prog, unsigned long flags)
{
	if (!prog->fprog.filter || prog->fprog.len == 0)
		return -EINVAL;
	long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			  SECCOMP_FILTER_FLAG_NEW_LISTENER | flags, &prog->fprog);
	return fd < 0 ? -errno : (int)fd;
}

/* The command's half of unix_guard: install the filter with a listener
 * whose waits only a fatal signal interrupts once the reaper has taken the
 * call (a broker's connect cannot be undone, so its caller must not restart
 * it).  The listener's fd (close-on-exec), or -errno. */
static int install_guard_seccomp(void)
{
	int r = install_seccomp(init_seccomp, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
	return r == -EINVAL ? install_seccomp(init_seccomp, 0) : r; /* before Linux 5.19 */
}

static void exec_prepare(struct reaper_prep *f);

static void reaper_prepare(struct reaper_prep *f)
{
	int r;

	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
		*f = (struct reaper_prep){STAGE_PROC, errno, "make / slave"};
		return;
	}
	/* Stack a new procfs over the sandbox-wide one (which must stay: the
	 * kernel only lets a user namespace mount proc where one is visible). */
	if ((r = petri__proc_mount("/proc", f->msg, sizeof(f->msg))) < 0) {
		f->stage = STAGE_PROC;
		f->err = -r;
		return;
	}
	exec_prepare(f);
}

/* What follows the exec's masked /proc: shared by a reaper and the init of
 * a one-exec sandbox (one_exec_main). */
static void exec_prepare(struct reaper_prep *f)
{
	int r;

	if (mount("tmpfs", "/run/petri", "tmpfs", MS_NOSUID | MS_NODEV,
		  "size=16m,mode=0755,uid=1000,gid=1000") < 0) {
		*f = (struct reaper_prep){STAGE_CODE, errno, "mount /run/petri"};
		return;
	}
	/* The code goes in after seccomp forbids remounting: keep a detached
	 * writable clone for us, and make the mount the code sees read-only. */
	code_dir_fd = (int)syscall(SYS_open_tree, AT_FDCWD, "/run/petri",
				   1 /* OPEN_TREE_CLONE */ | O_CLOEXEC);
	if (code_dir_fd < 0 ||
	    mount(NULL, "/run/petri", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
		  NULL) < 0) {
		*f = (struct reaper_prep){STAGE_CODE, errno, "prepare /run/petri"};
		return;
	}
	if (landlock_enabled) {
		landlock_fd = petri__landlock_ruleset(landlock_writable);
		if (landlock_fd < 0 && landlock_fd != -EOPNOTSUPP) {
			*f = (struct reaper_prep){STAGE_LANDLOCK, -landlock_fd, "landlock ruleset"};
			return;
		}
	}
	/* The host's supervisor thread blocks every signal and a host may
	 * ignore some (SIGPIPE): both would survive execve. */
	for (int sig = 1; sig < _NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* seccomp last (with unix_guard, the command's: install_guard_seccomp). */
	if (init_seccomp && !unix_guard) {
		r = install_seccomp(init_seccomp, 0);
		if (r < 0)
			*f = (struct reaper_prep){STAGE_SECCOMP, -r, "seccomp"};
		else
			notify_fd = r;
	}
}

/*
 * Who made the denied call, from our /proc (the exec's pid namespace) while
 * it waits for the answer: @m->text gets "comm\0executable", @m->err the
 * parent pid, @m->maxrss the uid + 1 (0: unknown).
 */
static void denial_identity(pid_t pid, struct petri_msg *m)
{
	char p[64], buf[256];
	size_t off = 0;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n > 0) {
		buf[n] = '\0';
		/* "pid (comm) S ppid ...": comm may hold ')' itself. */
		char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
		if (lp && rp && rp > lp && rp[1] == ' ' && rp[2] && rp[3] == ' ') {
			size_t len = (size_t)(rp - lp - 1);
			off = len < 15 ? len : 15;
			memcpy(m->text, lp + 1, off);
			m->err = (int32_t)strtol(rp + 4, NULL, 10);
		}
	}
	m->text[off++] = '\0';
	snprintf(p, sizeof(p), "/proc/%d/exe", (int)pid);
	n = readlinkat(AT_FDCWD, p, m->text + off, sizeof(m->text) - off - 1);
	m->text[off + (n > 0 ? (size_t)n : 0)] = '\0';
	struct stat st;
	snprintf(p, sizeof(p), "/proc/%d", (int)pid);
	if (stat(p, &st) == 0)
		m->maxrss = (uint64_t)st.st_uid + 1;
}

/*
 * The errno a denied call gets: EPERM, but ENOSYS for native AIO (seccomp.c
 * says why it is denied), what a kernel built without it answers: libaio
 * users check for that and fall back, not for EPERM.  prlimit64 on a pid
 * that names no process gets the kernel's ESRCH, which callers test for
 * (CPython's test_resource): a negative pid never names one, and kill(pid,
 * 0) from here (our pid namespace is the caller's) tells whether another
 * does -- what the caller could ask kill() itself, so nothing is revealed.
 */
static int denial_errno(const struct seccomp_data *d)
{
	switch (d->nr) {
	case SYS_io_setup:
	case SYS_io_destroy:
	case SYS_io_submit:
	case SYS_io_cancel:
	case SYS_io_getevents:
	case SYS_io_pgetevents:
		return ENOSYS;
	case SYS_prlimit64: {
		int32_t pid = (int32_t)d->args[0]; /* the kernel reads a pid_t */
		if (pid < 0 || (syscall(SYS_kill, pid, 0) < 0 && errno == ESRCH))
			return ESRCH;
		return EPERM;
	}
	default:
		return EPERM;
	}
}

/*
 * Send the DENIAL @m with SCM_CREDENTIALS naming @pid, the denying task: the
 * kernel translates that pid into the host's pid namespace when the host
 * receives it (SO_PASSCRED on its end), which is how the host learns the
 * task's host pid without searching /proc.  Naming a pid other than our own
 * takes CAP_SYS_ADMIN over our pid namespace, which we hold (it belongs to
 * the sandbox's user namespace); should the kernel refuse, the message goes
 * without the flag and the host records the host pid as unknown.
 */
static ssize_t send_denial(int report_fd, struct petri_msg *m, int32_t pid)
{
	m->exec_id |= PETRI_DENIAL_PID_IN_CREDS;
	ssize_t w = petri__msg_send_cred(report_fd, m, pid);
	if (w < 0 && w != -EAGAIN && w != -EWOULDBLOCK) {
		m->exec_id &= ~PETRI_DENIAL_PID_IN_CREDS;
		w = write(report_fd, m, sizeof(*m));
	}
	return w;
}

/*
 * Tell the host that @pid (in our pid namespace) was denied syscall @nr of
 * @arch, while it still waits for the answer to notification @id: the
 * kernel pins its struct pid in the message, so the host gets its own pid
 * for it.  The report channel is non-blocking here: when it is full the
 * denial is counted and the count sent with the next one, never waited for.
 */
static void report_denial(int report_fd, uint32_t nr, uint32_t arch, uint32_t pid, uint64_t id,
			  uint64_t *unreported)
{
	struct petri_msg m = {.type = PETRI_MSG_DENIAL,
			      .stage = nr,
			      .status = (int32_t)pid,
			      .exec_id = arch,
			      .cpu_ns = *unreported};
	denial_identity((pid_t)pid, &m);
	/* Still the same task (its pid cannot have been reused while it
	 * waits)?  Else what was read is someone else's. */
	if (ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0) {
		memset(m.text, 0, sizeof(m.text));
		m.err = 0;
		m.maxrss = 0;
	}
	if (send_denial(report_fd, &m, (int32_t)pid) == (ssize_t)sizeof(m))
		*unreported = 0;
	else
		(*unreported)++;
}

/*
 * A process of the exec made a syscall the filter denies: answer EPERM (what
 * the filter would have returned) and tell the host, which audits it.  With
 * unix_guard, the calls the guard's prefix notifies are unix_broker.c's.
 */
static void answer_notification(int report_fd, uint64_t *unreported)
{
	struct seccomp_notif req;
	memset(&req, 0, sizeof(req));
	if (ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
		return; /* the task died meanwhile, or a spurious wake-up */
	if (unix_guard && petri__broker_takes(&req.data)) {
		int r = petri__broker_start(notify_fd, &req, init_cfg);
		if (r < 0) {
			struct seccomp_notif_resp resp = {.id = req.id, .error = r};
			ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
		}
		return;
	}
	report_denial(report_fd, (uint32_t)req.data.nr, req.data.arch, req.pid, req.id, unreported);
	struct seccomp_notif_resp resp = {.id = req.id, .error = -denial_errno(&req.data)};
	ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

/* A broker (unix_broker.c) ended: answer its caller, after reporting a
 * refusal as a denial of its call. */
static void broker_ended(int report_fd, pid_t pid, uint64_t *unreported)
{
	struct petri_broker_end end;
	if (!petri__broker_reaped(pid, &end))
		return; /* an orphan of the exec */
	if (end.refused)
		report_denial(report_fd, end.nr, petri__broker_arch(), end.tid, end.id, unreported);
	petri__broker_answer(notify_fd, &end);
}

/* fds: request memfd, stdin, stdout, stderr, report channel (a socket to the host). */
static _Noreturn void run_exec(int *fds, const struct reaper_prep *prep, int ctl, uint64_t exec_id);

static _Noreturn void reaper_main(int sock)
{
	struct reaper_prep prep = {0};
	int r;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	prctl(PR_SET_NAME, "petri-exec", 0, 0, 0);
	reaper_prepare(&prep);

	/* Wait for the request init forwards. */
	struct petri_msg m;
	int fds[5], nfds = 5;
	do
		r = petri__msg_recv(sock, &m, fds, &nfds);
	while (r == -EINTR);
	if (r <= 0 || m.type != PETRI_MSG_EXEC)
		_exit(1);
	close(sock);
	if (nfds != 5)
		_exit(1);
	run_exec(fds, &prep, -1, 0);
}

static void one_exec_control(int ctl, uint64_t exec_id);

/*
 * Run the request whose fds (request memfd, stdin, stdout, stderr, report
 * channel) came in @fds: the command is our child, and when it ends we
 * report and exit, which takes down every process left in our pid
 * namespace.  @ctl: -1 in a reaper; the control socket in the init of a
 * one-exec sandbox, which serves it meanwhile (one_exec_control).
 */
static _Noreturn void run_exec(int *fds, const struct reaper_prep *prep, int ctl, uint64_t exec_id)
{
	int listener = -1;
	struct exec_ctx x = {.guard = unix_guard, .listener = &listener};
	const char *code = NULL;
	void *map = NULL;
	size_t maplen = 0;
	int r;

	x.err_fd = fds[4];
	if (prep->stage)
		child_fail(x.err_fd, prep->stage, prep->err, prep->msg);
	r = parse_request(fds[0], &x, &code, &map, &maplen);
	if (r < 0)
		child_fail(x.err_fd, STAGE_REQUEST, -r, "malformed exec request");
	close(fds[0]);
	if (x.req->code_name[0] && (r = write_code(x.req, code)) < 0)
		child_fail(x.err_fd, STAGE_CODE, -r, "write code to /run/petri");
	if (unix_guard && (r = petri__broker_table()) < 0)
		child_fail(x.err_fd, STAGE_SECCOMP, -r, "map the unix guard's brokers");

	/* CLONE_VM | CLONE_VFORK: the command shares our memory until it
	 * execs, so no page tables are copied. */
	size_t stack_len = 256 * 1024;
	char *stack = mmap(NULL, stack_len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		child_fail(x.err_fd, STAGE_FORK, errno, "mmap command stack");
	/* With unix_guard the command also shares our fd table (CLONE_FILES)
	 * until its execve, to leave us its filter's listener: its dup2()s of
	 * the exec's stdio land on our 0, 1 and 2, so keep ours aside. */
	int saved[3] = {-1, -1, -1};
	for (int i = 0; unix_guard && i < 3; i++)
		saved[i] = fcntl(i, F_DUPFD_CLOEXEC, 3);
	struct command_args args = {.x = &x, .stdio = fds + 1};
	int child_pidfd = -1;
	pid_t child = clone(command_trampoline, stack + stack_len,
			    CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD |
				    (unix_guard ? CLONE_FILES : 0),
			    &args, &child_pidfd);
	if (child < 0)
		child_fail(x.err_fd, STAGE_FORK, errno, "fork command");
	munmap(stack, stack_len);
	for (int i = 1; i < 4; i++)
		close(fds[i]);
	for (int i = 0; unix_guard && i < 3; i++) {
		if (saved[i] >= 0) {
			dup2(saved[i], i);
			close(saved[i]);
		} else {
			close(i);
		}
	}
	if (listener >= 0)
		notify_fd = listener; /* the command has exec'd (or failed, and said so) */
	/* code_dir_fd stays open: dropping the last reference to the detached
	 * writable /run/petri unmounts it, which waits for an RCU grace period
	 * (1-10 ms) that neither the command nor its DONE report should wait
	 * for.  Our exit drops it, with our mount namespace.  The command never
	 * had it (close on exec). */

	/* Answer the filter's notifications and reap everything; when the
	 * command itself ends, report straight to the host and leave: our exit
	 * takes down every process left in this namespace. */
	int fl = fcntl(x.err_fd, F_GETFL);
	fcntl(x.err_fd, F_SETFL, fl | O_NONBLOCK);
	uint64_t unreported = 0;
	for (;;) {
		/* The brokers' pidfds wake us when one ends. */
		struct pollfd p[3 + PETRI_BROKER_MAX] = {{.fd = notify_fd, .events = POLLIN},
							 {.fd = child_pidfd, .events = POLLIN},
							 {.fd = ctl, .events = POLLIN}};
		int np =
			3 + (unix_guard ? petri__broker_pollfds(p + 3, (int)ARRAY_SIZE(p) - 3) : 0);
		int n = poll(p, (nfds_t)np, 1000);
		if (n > 0 && (p[0].revents & POLLIN))
			answer_notification(x.err_fd, &unreported);
		if (n > 0 && ctl >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR)))
			one_exec_control(ctl, exec_id);
		int st;
		pid_t pid;
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
			if (pid != child) {
				if (unix_guard)
					broker_ended(x.err_fd, pid, &unreported);
				continue; /* else an orphan of the exec */
			}
			struct rusage ru = {0};
			getrusage(RUSAGE_CHILDREN, &ru);
			struct petri_msg done = {.type = PETRI_MSG_DONE,
						 .status = st,
						 .maxrss = (uint64_t)ru.ru_maxrss * 1024,
						 .exec_id = unreported};
			done.cpu_ns =
				((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) *
					1000000000ull +
				((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) *
					1000ull;
			fcntl(x.err_fd, F_SETFL, fl); /* the end must not be dropped */
			ssize_t w = write(x.err_fd, &done, sizeof(done));
			(void)w;
			_exit(0);
		}
		if (pid < 0 && errno == ECHILD)
			_exit(0); /* cannot happen: the command is ours until reaped */
	}
}

/* ---- init: one exec at a time, one reaper always ready ---- */

struct reaper {
	int pidfd; /* -1: none */
	int sock;  /* init's end of the request socket (warm reaper only) */
	uint64_t exec_id;
};

pid_t petri__clone_pidfd(uint64_t flags, int *pidfd)
{
	struct clone_args args = {
		.flags = flags | CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)pidfd,
		.exit_signal = SIGCHLD,
	};
	long pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0 && errno == ENOSYS) /* the host's seccomp profile refuses clone3 */
		pid = syscall(SYS_clone, (unsigned long)(flags | CLONE_PIDFD | SIGCHLD), NULL,
			      pidfd, NULL, 0);
	return (pid_t)pid;
}

/* Parse the request memfd into argv/envp pointer arrays (mmap'd). */
static int parse_request(int memfd, struct exec_ctx *x, const char **code, void **map,
			 size_t *maplen)
{
	struct stat st;
	if (fstat(memfd, &st) < 0)
		return -errno;
	if ((size_t)st.st_size < sizeof(struct petri_exec_req))
		return -EBADMSG;
	size_t len = (size_t)st.st_size;
	char *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, memfd, 0);
	if (p == MAP_FAILED)
		return -errno;
	const struct petri_exec_req *req = (const void *)p;
	if (req->magic != PETRI_EXEC_REQ_MAGIC || req->argc == 0 || req->argc > 65536 ||
	    req->envc > 65536 || req->code_len > len) {
		munmap(p, len);
		return -EBADMSG;
	}
	size_t nptr = (size_t)req->argc + req->envc + 2;
	size_t ptrlen = nptr * sizeof(char *);
	char **ptrs =
		mmap(NULL, ptrlen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ptrs == MAP_FAILED) {
		munmap(p, len);
		return -errno;
	}
	char *s = p + sizeof(*req), *end = p + len - req->code_len;
	size_t k = 0;
	for (uint32_t i = 0; i < req->argc + req->envc + 1; i++) {
		char *nul = memchr(s, '\0', (size_t)(end - s));
		if (!nul) {
			munmap(ptrs, ptrlen);
			munmap(p, len);
			return -EBADMSG;
		}
		if (i == req->argc)
			ptrs[k++] = NULL;
		if (i < req->argc + req->envc)
			ptrs[k++] = s;
		else
			x->cwd = s;
		s = nul + 1;
	}
	ptrs[k] = NULL;
	x->req = req;
	x->argv = ptrs;
	x->envp = ptrs + req->argc + 1;
	*code = end;
	*map = p;
	*maplen = len;
	return 0;
}

/* Wait for a reaper (and so its whole pid namespace) to be gone. */
static void reap(struct reaper *rp)
{
	siginfo_t si;
	while (rp->pidfd >= 0 && waitid((idtype_t)P_PIDFD, (id_t)rp->pidfd, &si, WEXITED) < 0 &&
	       errno == EINTR)
		;
	if (rp->pidfd >= 0)
		close(rp->pidfd);
	if (rp->sock >= 0)
		close(rp->sock);
	*rp = (struct reaper){.pidfd = -1, .sock = -1};
}

/* Fork the next reaper; it prepares itself and waits for a request. */
static void spawn_warm(struct reaper *warm, int ctl)
{
	int sp[2];
	if (warm->pidfd >= 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return;
	int pidfd = -1;
	pid_t pid = petri__clone_pidfd(CLONE_NEWPID | CLONE_NEWNS, &pidfd);
	if (pid == 0) {
		close(sp[0]);
		close(ctl);
		reaper_main(sp[1]);
	}
	close(sp[1]);
	if (pid < 0) {
		close(sp[0]);
		return;
	}
	*warm = (struct reaper){.pidfd = pidfd, .sock = sp[0]};
}

static void fail_request(const int *fds, int nfds, int stage, int err, const char *text)
{
	struct petri_msg fail = {.type = PETRI_MSG_SETUP_ERROR, .stage = stage, .err = err};
	snprintf(fail.text, sizeof(fail.text), "%s", text);
	if (nfds == 5) {
		ssize_t w = write(fds[4], &fail, sizeof(fail));
		(void)w;
	}
}

/* Hand the request (and its fds) to the warm reaper, which becomes the
 * running one. */
static void start_exec(int ctl, const struct petri_msg *m, const int *fds, int nfds,
		       struct reaper *warm, struct reaper *run)
{
	reap(run);
	if (nfds != 5) {
		fail_request(fds, nfds, STAGE_REQUEST, EBADMSG, "exec request without its fds");
		goto out;
	}
	spawn_warm(warm, ctl);
	if (warm->pidfd < 0) {
		fail_request(fds, nfds, STAGE_FORK, errno ? errno : EAGAIN, "clone exec namespace");
		goto out;
	}
	if (petri__msg_send(warm->sock, m, fds, nfds) < 0) {
		fail_request(fds, nfds, STAGE_FORK, EPIPE, "the exec's reaper died");
		syscall(SYS_pidfd_send_signal, warm->pidfd, SIGKILL, NULL, 0);
		reap(warm);
		goto out;
	}
	close(warm->sock);
	*run = (struct reaper){.pidfd = warm->pidfd, .sock = -1, .exec_id = m->exec_id};
	*warm = (struct reaper){.pidfd = -1, .sock = -1};
out:
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
}

/* PETRI_MSG_LISTEN: a socket in our network namespace (by default a TCP
 * one listening on the loopback address; see PETRI_LISTEN_*), sent back
 * on the request's own reply socket. */
static void open_listener(const struct petri_msg *m, const int *fds, int nfds)
{
	struct petri_msg out = {.type = PETRI_MSG_LISTENING};
	int s = -1;
	if (nfds != 1)
		goto close_fds;
	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} a;
	memset(&a, 0, sizeof(a));
	socklen_t len;
	uint16_t port = (uint16_t)m->status;
	int udp = (m->exec_id & PETRI_LISTEN_UDP) != 0;
	int any = (m->exec_id & PETRI_LISTEN_ANY) != 0;
	/* Network byte order by hand: no libc (htons) in petri-init. */
	uint16_t nport = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? __builtin_bswap16(port) : port;
	if (m->exec_id & ~(uint64_t)(PETRI_LISTEN_UDP | PETRI_LISTEN_ANY)) {
		errno = EINVAL;
		goto fail;
	}
	if (m->stage == AF_INET) {
		a.v4.sin_family = AF_INET;
		a.v4.sin_port = nport;
		if (!any)
			memcpy(&a.v4.sin_addr, (const uint8_t[]){127, 0, 0, 1}, 4);
		len = sizeof(a.v4);
	} else if (m->stage == AF_INET6) {
		a.v6.sin6_family = AF_INET6;
		a.v6.sin6_port = nport;
		if (!any)
			a.v6.sin6_addr.s6_addr[15] = 1; /* ::1 */
		len = sizeof(a.v6);
	} else {
		errno = EAFNOSUPPORT;
		goto fail;
	}
	int one = 1;
	s = socket((int)m->stage, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	/* The backlog is capped by the namespace's net.core.somaxconn. */
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s, (struct sockaddr *)&a, len) < 0 || (!udp && listen(s, 4096) < 0))
		goto fail;
	petri__msg_send(fds[0], &out, &s, 1);
	close(s);
	goto close_fds;
fail:
	out = (struct petri_msg){.type = PETRI_MSG_SETUP_ERROR, .err = errno};
	snprintf(out.text, sizeof(out.text), "%s port %d of the sandbox's %s address",
		 udp ? "bind a UDP socket to" : "listen on", (int)port,
		 any ? "unspecified" : "loopback");
	petri__msg_send(fds[0], &out, NULL, 0);
	if (s >= 0)
		close(s);
close_fds:
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
}

/* ---- a one-exec sandbox: init is the exec's reaper ---- */

/*
 * A message on the control socket of a one-exec init while its command
 * runs.  KILL (of this exec) and the host's end of the socket end the
 * exec as a reaper's death does: we exit, and the kernel kills every
 * process of our pid namespace (the host reads "killed, status lost").
 */
static void one_exec_control(int ctl, uint64_t exec_id)
{
	struct petri_msg m;
	int fds[5], nfds = 5;
	int r = petri__msg_recv(ctl, &m, fds, &nfds);
	if (r == 0 || (r < 0 && r != -EINTR && r != -EAGAIN))
		_exit(0);
	if (r < 0)
		return;
	if (m.type == PETRI_MSG_KILL && m.exec_id == exec_id)
		_exit(0);
	if (m.type == PETRI_MSG_LISTEN) {
		open_listener(&m, fds, nfds);
		return;
	}
	if (m.type == PETRI_MSG_EXEC) /* the host allows one */
		fail_request(fds, nfds, STAGE_REQUEST, EBUSY, "a one-exec sandbox runs one exec");
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
}

/*
 * PETRI_SANDBOX_F_ONE_EXEC: the sandbox runs one exec, its last.  No
 * reaper is forked for it: init is pid 1 of the pid namespace the command
 * runs in, and prepares itself as a reaper would (reaper_prepare), in its
 * own mount namespace: the masks go on the sandbox-wide /proc (which then
 * shows just this exec's processes, init as pid 1 like a reaper), then
 * /run/petri, the Landlock ruleset, default signals and seccomp last, on
 * init itself, which from here on only answers the host, starts the
 * command and reports its end.  It exits then, as a reaper does, taking
 * every process left with it.  Saved per sandbox: a process, a pid and a
 * mount namespace, a procfs, and their teardown.  @stray: the network
 * namespace's maker (net_start), done by now.
 */
static _Noreturn void one_exec_main(int ctl, int ws, int stray)
{
	struct reaper_prep prep = {0};
	int r;

	/* The maker was pid 2: reaped before the command is cloned, it hands
	 * that pid back to the command, as in a reaper's namespace
	 * (ns_last_pid: the next pid is 2; we hold CAP_SYS_ADMIN over this
	 * namespace, and make no other process).  Before the masks, which
	 * make /proc/sys read-only. */
	if (stray >= 0) {
		int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t w = write(fd, "1", 1);
			(void)w;
			close(fd);
		}
	}
	if ((r = petri__proc_mask("/proc", prep.msg, sizeof(prep.msg))) < 0) {
		prep.stage = STAGE_PROC;
		prep.err = -r;
	} else {
		exec_prepare(&prep);
	}
	struct petri_msg ready = {.type = PETRI_MSG_READY};
	if (petri__msg_send(ctl, &ready, &ws, 1) < 0)
		_exit(1);
	close(ws);
	for (;;) {
		struct pollfd p = {.fd = ctl, .events = POLLIN};
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		struct petri_msg m;
		int fds[5], nfds = 5;
		r = petri__msg_recv(ctl, &m, fds, &nfds);
		if (r == 0 || (r < 0 && r != -EINTR && r != -EAGAIN))
			_exit(0); /* host closed the socket: we are done */
		if (r < 0)
			continue;
		if (m.type == PETRI_MSG_EXEC && nfds == 5) {
			struct reaper rp = {.pidfd = stray, .sock = -1};
			reap(&rp); /* gone long ago: it exits once it has reported */
			run_exec(fds, &prep, ctl, m.exec_id);
		}
		if (m.type == PETRI_MSG_EXEC)
			fail_request(fds, nfds, STAGE_REQUEST, EBADMSG,
				     "exec request without its fds");
		else if (m.type == PETRI_MSG_LISTEN) {
			open_listener(&m, fds, nfds);
			continue;
		}
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
	}
}

/* ---- PETRI_MSG_RESET: the sandbox as a new user must find it ---- */

/* The namespace counts set_user_counts() holds at 0, for our own unshare:
 * the kernel counts the new namespace against them before the old one is
 * freed. */
static int set_ns_counts(const char *value)
{
	static const char *const names[] = {"/proc/sys/user/max_ipc_namespaces",
					    "/proc/sys/user/max_cgroup_namespaces"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		int fd = open(names[i], O_WRONLY | O_CLOEXEC);
		int r = fd < 0 ? -errno : petri__write_all(fd, value, strlen(value));
		if (fd >= 0)
			close(fd);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Does /proc (our pid namespace's) list a process other than us? */
static int other_process(char *msg, size_t msglen)
{
	char buf[4096];
	int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		if (n < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		for (long off = 0; off < n;) {
			struct dirent64_min {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *d = (struct dirent64_min *)(buf + off);
			off += d->reclen;
			if (d->name[0] < '0' || d->name[0] > '9' || strcmp(d->name, "1") == 0)
				continue;
			snprintf(msg, msglen, "process %s is still in the sandbox", d->name);
			close(fd);
			return -EBUSY;
		}
	}
	close(fd);
	return 0;
}

/* @key in @text, or NULL (petri-init's runtime has no strstr). */
static const char *find(const char *text, const char *key)
{
	size_t n = strlen(key);
	for (; *text; text++)
		if (strncmp(text, key, n) == 0)
			return text;
	return NULL;
}

/* The value after @key in @text ("sockets: used 3" -> 3), or -1. */
static long field_after(const char *text, const char *key)
{
	const char *p = find(text, key);
	if (!p)
		return -1;
	p += strlen(key);
	while (*p == ' ')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	return strtol(p, NULL, 10);
}

/*
 * Any socket left in our network namespace makes the sandbox unclean: a
 * socket of any family a process of it made and the kernel has not freed
 * yet (a listener, an abstract unix name, an orphaned TCP connection still
 * closing: /proc/net/sockstat "sockets: used" counts every socket made in
 * the namespace by a process, not the kernel's own), and a TCP TIME_WAIT
 * (not a socket any more, counted apart as "tw", IPv4 and IPv6).  These
 * are per-namespace counts: reading them costs nothing like a walk of the
 * host's socket tables (/proc/net/tcp does that).  Sockets whose last close
 * the kernel finishes after an RCU grace period (netlink, unix) may still
 * be counted just after their process died: a few short waits first.
 */
static int socket_left(char *msg, size_t msglen)
{
	char buf[1024];
	long used = -1, tw = -1;
	for (int attempt = 0; attempt < 6; attempt++) {
		if (attempt)
			poll(NULL, 0, 1 << (attempt - 1)); /* 1..16 ms */
		int fd = open("/proc/self/net/sockstat", O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			snprintf(msg, msglen, "read /proc/net/sockstat");
			return -errno;
		}
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		int e = errno;
		close(fd);
		if (n <= 0) {
			snprintf(msg, msglen, "read /proc/net/sockstat");
			return n < 0 ? -e : -EIO;
		}
		buf[n] = '\0';
		used = field_after(buf, "sockets: used");
		const char *tcp = find(buf, "TCP:");
		tw = tcp ? field_after(tcp, "tw") : -1;
		if (used < 0 || tw < 0) {
			snprintf(msg, msglen, "/proc/net/sockstat: unexpected format");
			return -EPROTO;
		}
		if (tw > 0 || used == 0)
			break; /* a TIME_WAIT lasts a minute: no use waiting */
	}
	if (tw > 0) {
		snprintf(msg, msglen, "%ld TCP TIME_WAIT socket(s) left in the network namespace",
			 tw);
		return -EBUSY;
	}
	if (used > 0) {
		snprintf(msg, msglen, "%ld socket(s) left in the network namespace", used);
		return -EBUSY;
	}
	return 0;
}

/*
 * The network namespace's counters (interface statistics, the SNMP and
 * netstat MIBs) are the namespace's for its whole life: a tenant's traffic
 * on lo moves them for good, and the next one would see it.  init keeps
 * them as they were when it was first ready; a reset finds them moved, or
 * cannot read them, and the sandbox is not clean.  (A fresh sandbox's are
 * all at rest: nothing of petri's own uses the network of a sandbox that
 * can be pooled.)
 */
static const char *const net_counters[] = {"/proc/self/net/dev", "/proc/self/net/snmp",
					   "/proc/self/net/snmp6", "/proc/self/net/netstat",
					   "/proc/self/net/ip6_flowlabel"};
#define NET_COUNTERS_MAX 8192
static char net_snapshot[ARRAY_SIZE(net_counters)][NET_COUNTERS_MAX];
static ssize_t net_snapshot_len[ARRAY_SIZE(net_counters)];

/* The whole of the small file @path into @buf: its length, or -errno
 * (-EFBIG when it does not fit). */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t have = 0;
	for (;;) {
		if (have == len) {
			close(fd);
			return -EFBIG;
		}
		ssize_t n = read(fd, buf + have, len - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	return (ssize_t)have;
}

static void net_counters_keep(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(net_counters); i++)
		net_snapshot_len[i] =
			read_small(net_counters[i], net_snapshot[i], NET_COUNTERS_MAX);
}

static int net_counters_moved(char *msg, size_t msglen)
{
	char buf[NET_COUNTERS_MAX];
	for (size_t i = 0; i < ARRAY_SIZE(net_counters); i++) {
		ssize_t n = read_small(net_counters[i], buf, sizeof(buf));
		/* A file this kernel lacks is missing both times. */
		if (n == -ENOENT && net_snapshot_len[i] == -ENOENT)
			continue;
		if (n < 0 || net_snapshot_len[i] < 0) {
			snprintf(msg, msglen, "read %s", net_counters[i]);
			return n < 0 ? (int)n : (int)net_snapshot_len[i];
		}
		if (n != net_snapshot_len[i] || memcmp(buf, net_snapshot[i], (size_t)n) != 0) {
			snprintf(msg, msglen,
				 "the network namespace was used: its counters in %s moved",
				 net_counters[i] + strlen("/proc/self"));
			return -EBUSY;
		}
	}
	return 0;
}

/*
 * Everything of the last user goes (the reapers were killed and reaped by
 * the caller, and with them every process of every exec): new IPC and
 * cgroup namespaces (SysV objects and POSIX message queues go with the
 * old IPC one; the host has moved us into a new cgroup, which the new
 * cgroup namespace makes our root), fresh writable mounts and boot id, the
 * host name again, and then the proof: no other process, no socket.
 */
static int reset_sandbox(char *msg, size_t msglen)
{
	int r = set_ns_counts("16");
	if (r < 0) {
		snprintf(msg, msglen, "reset: allow our own namespaces");
		return r;
	}
	int u = syscall(SYS_unshare, CLONE_NEWIPC | CLONE_NEWCGROUP) < 0 ? -errno : 0;
	r = set_ns_counts("0");
	if (u < 0) {
		snprintf(msg, msglen, "reset: new IPC and cgroup namespaces");
		return u;
	}
	if (r < 0) {
		snprintf(msg, msglen, "reset: forbid namespaces again");
		return r;
	}
	if ((r = petri__rootfs_reset(init_cfg, msg, msglen)) < 0)
		return r;
	if (sethostname(init_cfg->hostname, strlen(init_cfg->hostname)) < 0 ||
	    setdomainname("petri", 5) < 0) {
		snprintf(msg, msglen, "reset: sethostname");
		return -errno;
	}
	if ((r = other_process(msg, msglen)) < 0) {
		if (r != -EBUSY)
			snprintf(msg, msglen, "reset: read /proc");
		return r;
	}
	if ((r = socket_left(msg, msglen)) < 0)
		return r;
	return net_counters_moved(msg, msglen);
}

/* Kill the reapers (the tenant's processes die with their namespaces),
 * reset, and answer READY with the new /workspace, or SETUP_ERROR. */
static void quiesce(struct reaper *warm, struct reaper *run)
{
	for (struct reaper *rp = run; rp; rp = rp == run ? warm : NULL)
		if (rp->pidfd >= 0)
			syscall(SYS_pidfd_send_signal, rp->pidfd, SIGKILL, NULL, 0);
	reap(run);
	reap(warm);
}

static void serve_reset(int ctl, struct reaper *warm, struct reaper *run, int *stray)
{
	char msg[PETRI_STAGE_MSG_MAX] = "reset";
	quiesce(warm, run);
	if (*stray >= 0) {
		struct reaper r = {.pidfd = *stray, .sock = -1};
		reap(&r);
		*stray = -1;
	}
	int r = reset_sandbox(msg, sizeof(msg));
	int ws = r < 0 ? -1 : open("/workspace", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (r == 0 && ws < 0) {
		r = -errno;
		snprintf(msg, sizeof(msg), "reset: open /workspace");
	}
	if (r < 0) {
		send_setup_error(ctl, STAGE_RESET, -r, msg);
		return;
	}
	spawn_warm(warm, ctl);
	struct petri_msg ready = {.type = PETRI_MSG_READY};
	petri__msg_send(ctl, &ready, &ws, 1);
	close(ws);
}

#define WARM_DEFER_MS 2

/* @stray: a pidfd of a helper child to reap when it is gone, or -1. */
static _Noreturn void serve(int ctl, struct reaper warm, int stray)
{
	struct reaper run = {.pidfd = -1, .sock = -1};
	int last = 0;  /* the host said the running exec is the sandbox's last */
	int defer = 0; /* PETRI_EXEC_STAGE_DEFER_WARM of the running exec */
	/* An exec of a warm pool's sandbox ended: the next reaper is forked
	 * WARM_DEFER_MS later unless a message comes first.  A destroy
	 * usually follows the last exec at once, and for such a sandbox it is
	 * a RESET, which would kill that reaper unused (its preparation is
	 * most of an exec's cost); an EXEC forks it on demand. */
	int warm_due = 0;

	for (;;) {
		struct pollfd pfd[4] = {{.fd = ctl, .events = POLLIN},
					{.fd = run.pidfd, .events = POLLIN},
					{.fd = warm.pidfd, .events = POLLIN},
					{.fd = stray, .events = POLLIN}};
		int n = poll(pfd, 4, warm_due ? WARM_DEFER_MS : -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (n == 0 && warm_due) {
			warm_due = 0;
			spawn_warm(&warm, ctl);
			continue;
		}
		if (stray >= 0 && (pfd[3].revents & POLLIN)) {
			struct reaper r = {.pidfd = stray, .sock = -1};
			reap(&r);
			stray = -1;
		}
		if (run.pidfd >= 0 && (pfd[1].revents & POLLIN)) {
			reap(&run);
			if (last)
				_exit(0); /* the sandbox's work is done: destroy finds
					   * nothing left to wait for */
			if (defer)
				warm_due = 1;
			else
				spawn_warm(&warm, ctl);
		}
		if (warm.pidfd >= 0 && (pfd[2].revents & POLLIN))
			reap(&warm); /* died while idle (killed): respawned on demand */
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			struct petri_msg m;
			int fds[5], nfds = 5;
			int r = petri__msg_recv(ctl, &m, fds, &nfds);
			if (r == 0 || (r < 0 && r != -EINTR && r != -EAGAIN))
				_exit(0); /* host closed the socket: we are done */
			if (r < 0)
				continue;
			if (m.type == PETRI_MSG_EXEC || m.type == PETRI_MSG_RESET)
				warm_due = 0; /* each forks the reaper it needs */
			if (m.type == PETRI_MSG_EXEC) {
				last = (m.stage & PETRI_EXEC_STAGE_LAST) != 0;
				defer = (m.stage & PETRI_EXEC_STAGE_DEFER_WARM) != 0;
				start_exec(ctl, &m, fds, nfds, &warm, &run);
			} else if (m.type == PETRI_MSG_KILL) {
				if (run.pidfd >= 0 && m.exec_id == run.exec_id)
					syscall(SYS_pidfd_send_signal, run.pidfd, SIGKILL, NULL, 0);
			} else if (m.type == PETRI_MSG_LISTEN) {
				open_listener(&m, fds, nfds);
			} else if (m.type == PETRI_MSG_RESET) {
				for (int i = 0; i < nfds; i++)
					close(fds[i]);
				last = 0;
				if (m.stage == PETRI_RESET_QUIESCE) {
					quiesce(&warm, &run);
					struct petri_msg q = {.type = PETRI_MSG_READY,
							      .stage = PETRI_RESET_QUIESCE};
					petri__msg_send(ctl, &q, NULL, 0);
				} else
					serve_reset(ctl, &warm, &run, &stray);
			} else {
				for (int i = 0; i < nfds; i++)
					close(fds[i]);
			}
		}
	}
}

/* init holds copies of every host fd that was not close-on-exec (every fd
 * at all when forked): keep only the ones it needs. */
static void close_host_fds(const struct petri_init_cfg *cfg)
{
	int keep[4] = {cfg->sync_fd, cfg->ctl_fd, cfg->workspace_tree_fd, cfg->ca_fd};
	for (int i = 0; i < 4; i++) /* sort the four */
		for (int j = i + 1; j < 4; j++)
			if (keep[j] < keep[i]) {
				int t = keep[i];
				keep[i] = keep[j];
				keep[j] = t;
			}
	unsigned lo = 0;
	for (int i = 0; i < 4; i++) {
		if (keep[i] < 0)
			continue;
		if ((unsigned)keep[i] > lo)
			syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0);
		lo = (unsigned)keep[i] + 1;
	}
	syscall(SYS_close_range, lo, ~0U, 0);
	/* Occupy 0-2 so that no fd of ours lands where an exec's stdio goes. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			_exit(1);
}

/*
 * Creating a network namespace costs ~0.3-0.6 ms of kernel work (sysctl
 * tables, per-namespace protocol state): a child of ours makes it while we
 * build the root filesystem.  It shares our fd table, opens its new
 * namespace there, reports the fd (or -errno) on a pipe and exits; we join
 * the namespace after the root filesystem is built and reap the child
 * whenever it is gone (serve()).  If anything fails, net_join() makes the
 * namespace itself, as before.
 */
struct net_maker {
	int pidfd;   /* -1: none */
	int done_fd; /* read end: a struct net_word */
	int tell_fd; /* the child's write end: in our shared table, so it is
		      * closed only once the child has written */
};
/* How long we wait for the maker to be gone once it has given its word. */
#define NET_MAKER_EXIT_MS 500
#define NET_MAKER_NONE ((struct net_maker){.pidfd = -1, .done_fd = -1, .tell_fd = -1})

/* What the child reports: the namespace's fd or -errno, whether it
 * brought lo up in it (0) or not (-errno, or 1: not asked), and whether it
 * wrote the per-user counts of our user namespace (0) or not. */
struct net_word {
	int fd;
	int lo;
	int counts;
};

/* What lo gets: 1 up (none), 2 up with the proxy's extra address. */
static int net_lo_mode(const struct petri_init_cfg *cfg)
{
	return cfg->net == PETRI_NET_PROXY ? 2 : 1;
}

/* @lo_up: net_lo_mode(), or 0 to leave lo down. */
static struct net_maker net_start(int lo_up, const struct petri_init_cfg *cfg)
{
	struct net_maker nm = NET_MAKER_NONE;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return nm;
	int pidfd = -1;
	pid_t pid = petri__clone_pidfd(CLONE_FILES, &pidfd);
	if (pid == 0) {
		struct net_word w = {.fd = -EINVAL, .lo = 1, .counts = 1};
		if (syscall(SYS_unshare, CLONE_NEWNET) < 0) {
			w.fd = -errno;
		} else {
			if (lo_up)
				w.lo = loopback_up(lo_up == 2);
			if ((w.fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
				w.fd = -errno;
		}
		/* Off init's path too: the counts of the user namespace we
		 * share with init, through the host's /proc (the kernel picks
		 * the table of the writer's user namespace).  Where that /proc
		 * is read-only (a container host) init writes them after the
		 * pivot, in its own. */
		char msg[PETRI_STAGE_MSG_MAX];
		w.counts = set_user_counts(cfg, msg, sizeof(msg));
		/* The raw exit: where init is a fork of the host (PETRI_INIT=fork)
		 * a sanitizer's _exit may run its exit-time checks here. */
		syscall(SYS_exit_group, write(p[1], &w, sizeof(w)) == (ssize_t)sizeof(w) ? 0 : 1);
		_exit(1);
	}
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return nm;
	}
	nm.pidfd = pidfd;
	nm.done_fd = p[0];
	nm.tell_fd = p[1];
	return nm;
}

/* Join the namespace the child made (or make one here), with lo up as
 * @lo_up says (net_lo_mode): 0 or -errno, and *@step says which step
 * failed.  The child's pidfd stays in @nm for the caller to reap. */
static int net_join(struct net_maker *nm, int lo_up, const char **step, int *counts)
{
	struct net_word w = {.fd = -1, .lo = 1, .counts = 1};
	if (nm->done_fd >= 0) {
		/* We hold the write end too (one fd table): wait for the
		 * child's word or its end, not for EOF. */
		struct pollfd p[2] = {{.fd = nm->done_fd, .events = POLLIN},
				      {.fd = nm->pidfd, .events = POLLIN}};
		while (poll(p, 2, -1) < 0 && errno == EINTR)
			;
		if (!(p[0].revents & POLLIN) ||
		    read(nm->done_fd, &w, sizeof(w)) != (ssize_t)sizeof(w))
			w = (struct net_word){.fd = -1, .lo = 1, .counts = 1};
		close(nm->done_fd);
		close(nm->tell_fd);
		nm->done_fd = nm->tell_fd = -1;
		/* Wait until it has exited (it does right after its word; at
		 * most NET_MAKER_EXIT_MS, should its exit ever stall).  It
		 * runs with the host's uid, having started before our maps
		 * were written: once we are ready, the host may watch our
		 * cgroup for audit, and an exit landing then would be recorded
		 * as a process of the sandbox with an unmapped uid.  The
		 * zombie is reaped later (serve(), one_exec_main()). */
		struct pollfd x = {.fd = nm->pidfd, .events = POLLIN};
		while (nm->pidfd >= 0 && poll(&x, 1, NET_MAKER_EXIT_MS) < 0 && errno == EINTR)
			;
	}
	*counts = w.counts;
	int joined = 0;
	if (w.fd >= 0) {
		joined = syscall(SYS_setns, w.fd, CLONE_NEWNET) == 0;
		close(w.fd);
	}
	*step = "unshare the network namespace";
	if (!joined && syscall(SYS_unshare, CLONE_NEWNET) < 0)
		return -errno;
	*step = "bring up lo";
	if (lo_up && (!joined || w.lo != 0))
		return loopback_up(lo_up == 2);
	return 0;
}

_Noreturn void petri__init_main(const struct petri_init_cfg *cfg)
{
	char msg[PETRI_STAGE_MSG_MAX] = "";
	int ctl = cfg->ctl_fd;
	char c;

	init_seccomp = cfg->seccomp;
	init_cfg = cfg;
	if (cfg->unix_guard && cfg->seccomp) {
		int r = petri__guard_filter(cfg->seccomp, cfg->unix_guard, &guard_prog);
		if (r < 0) {
			send_setup_error(ctl, STAGE_SECCOMP, -r, "seccomp: the connect() prefix");
			_exit(1);
		}
		init_seccomp = &guard_prog;
		unix_guard = 1;
	}
	limit_sigpending = cfg->sigpending;
	limit_msgqueue = cfg->msgqueue_bytes;
	/* Die with the host's supervisor thread; then wait until the host has
	 * written our uid/gid maps and joined us to the v1 cgroups. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	close_host_fds(cfg);
	if (!cfg->execed)
		scrub_host_args("petri-init");
	/* Our own network namespace, owned by our user namespace as if cloned
	 * with us, made by a child while the host writes our maps and we
	 * build the root filesystem. */
	struct net_maker nm = NET_MAKER_NONE;
	if (cfg->net != PETRI_NET_HOST)
		nm = net_start(net_lo_mode(cfg), cfg);
	if (read(cfg->sync_fd, &c, 1) != 1)
		_exit(1);
	close(cfg->sync_fd);

	/* Keep /proc/1 of the sandbox out of reach of the code we run. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* Raw syscalls: glibc's setxid broadcast would wait for threads of the
	 * host that do not exist in this forked copy. */
	if (syscall(SYS_setresgid, PETRI_SANDBOX_GID, PETRI_SANDBOX_GID, PETRI_SANDBOX_GID) < 0 ||
	    syscall(SYS_setresuid, PETRI_SANDBOX_UID, PETRI_SANDBOX_UID, PETRI_SANDBOX_UID) < 0) {
		send_setup_error(ctl, STAGE_GROUPS, errno, "setresuid to the sandbox user");
		_exit(1);
	}
	if (cfg->drop_groups && syscall(SYS_setgroups, 0, NULL) < 0) {
		send_setup_error(ctl, STAGE_GROUPS, errno, "drop supplementary groups");
		_exit(1);
	}

	int r = petri__rootfs_build(cfg, msg, sizeof(msg));
	if (r < 0) {
		send_setup_error(ctl, STAGE_ROOTFS, -r, msg);
		_exit(1);
	}
	const char *net_step = "";
	int counts = 1; /* written by the network namespace's maker: 0 */
	if (cfg->net != PETRI_NET_HOST &&
	    (r = net_join(&nm, net_lo_mode(cfg), &net_step, &counts)) < 0) {
		send_setup_error(ctl, STAGE_NET, -r, net_step);
		_exit(1);
	}
	if (counts != 0 && (r = set_user_counts(cfg, msg, sizeof(msg))) < 0) {
		send_setup_error(ctl, STAGE_ROOTFS, -r, msg);
		_exit(1);
	}
	if (sethostname(cfg->hostname, strlen(cfg->hostname)) < 0 ||
	    setdomainname("petri", 5) < 0) {
		send_setup_error(ctl, STAGE_HOSTNAME, errno, "sethostname");
		_exit(1);
	}
	if (cfg->landlock) {
		/* Not /proc: its writable files are kernel knobs, and nothing a
		 * runtime needs (stdio reopened through /proc/self/fd resolves
		 * to the pipe, which Landlock does not restrict). */
		static const char *const writable[] = {"/tmp", "/workspace", "/home/sandbox",
						       "/dev", NULL};
		int k = 0;
		for (; writable[k]; k++)
			landlock_writable[k] = writable[k];
		for (int i = 0; i < cfg->nbinds; i++)
			if (cfg->binds[i].rw)
				landlock_writable[k++] = cfg->binds[i].dst;
		landlock_writable[k] = NULL;
		landlock_enabled = 1;
	}

	int ws = open("/workspace", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ws < 0) {
		send_setup_error(ctl, STAGE_ROOTFS, errno, "open /workspace");
		_exit(1);
	}
	/* What the network's counters are at rest (PETRI_MSG_RESET). */
	if (cfg->poolable && cfg->net == PETRI_NET_NONE)
		net_counters_keep();
	if (cfg->flags & PETRI_SANDBOX_F_ONE_EXEC)
		one_exec_main(ctl, ws, nm.pidfd);
	/* The first exec's namespace gets ready while the host hears we are. */
	struct reaper warm = {.pidfd = -1, .sock = -1};
	spawn_warm(&warm, ctl);
	struct petri_msg ready = {.type = PETRI_MSG_READY};
	if (petri__msg_send(ctl, &ready, &ws, 1) < 0)
		_exit(1);
	close(ws);
	serve(ctl, warm, nm.pidfd);
}
