/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spawn.c - how a sandbox's init comes to life on the host side: the
 * supervisor thread that forks every init (so PR_SET_PDEATHSIG lasts as long
 * as the context), clone3 into the new namespaces and the sandbox's cgroups,
 * executing the embedded init image (or forking the host where that is
 * refused), and the uid/gid maps written for it.  sandbox.c decides *what*
 * to start; this file only starts it.
 */
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "init/clone_asm.h"
#include "host.h"

#define PETRI_MFD_EXEC 0x0010U /* MFD_EXEC, Linux 6.3 */

static int load_init_image(petri_ctx *ctx)
{
	size_t len = (size_t)(petri__init_image_end - petri__init_image);
	if (len == 0)
		return -ENOENT;
	int fd = memfd_create("petri-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | PETRI_MFD_EXEC);
	if (fd < 0 && errno == EINVAL) /* before 6.3: no MFD_EXEC, always executable */
		fd = memfd_create("petri-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	int r = petri__write_all(fd, petri__init_image, len);
	if (r == 0 &&
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	ctx->init_image_fd = fd;
	return 0;
}

struct init_exec_args {
	int image_fd;
	int keep[5]; /* fds init needs: made inheritable in the child only */
	char *const *argv;
	int err;         /* set by the child when a step failed */
	int exec_failed; /* ... and that step was the execveat itself */
};

/*
 * Runs in the new namespaces, on the supervisor's memory (CLONE_VM |
 * CLONE_VFORK) until the execveat: syscalls only.  We run as host root,
 * which has no id in the sandbox's user namespace (a root host maps inside
 * 0..65535 onto a range of unused host ids, an unprivileged one only 1000),
 * so we are not that namespace's root, and execve would not let init keep
 * the capabilities it needs to build the root; raise them into the ambient
 * set, which execve preserves for a file without capabilities of its own.
 * init empties the ambient and inheritable sets first thing (init_main.c),
 * and the code it starts has none in any set (init.c, drop_capabilities).
 * Raw syscalls: no wrapper or sanitizer hook may run on the shared memory.
 */
__attribute__((no_sanitize("address", "undefined"))) static int init_exec_child(void *arg)
{
	struct init_exec_args *a = arg;
	static char *const envp[] = {NULL};
	for (int i = 0; i < 5; i++)
		if (a->keep[i] >= 0 && syscall(SYS_fcntl, a->keep[i], F_SETFD, 0) < 0)
			goto fail;
	if (syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		goto fail;
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) < 0)
		goto fail;
	data[0].inheritable = data[0].permitted;
	data[1].inheritable = data[1].permitted;
	if (syscall(SYS_capset, &hdr, data) < 0)
		goto fail;
	for (long cap = 0; cap <= 63; cap++)
		if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 &&
		    errno == EINVAL)
			break; /* past the last capability; EPERM: not in the bounding set */
	syscall(SYS_execveat, a->image_fd, "", a->argv, envp, AT_EMPTY_PATH);
	a->exec_failed = 1;
fail:
	a->err = errno;
	return 127;
}

#if defined(__x86_64__)
/*
 * clone3 for a child that runs @fn(@arg) on its own stack and exits with
 * its return value: libc has no clone3 wrapper, and clone() cannot take
 * CLONE_INTO_CGROUP.  Joining a cgroup at clone time matters: moving a
 * process later through cgroup.procs waits for an RCU grace period on the
 * cgroup2 hierarchy (~20 ms here).  After the syscall the child has every
 * register but rax, rcx and r11, and the stack args->stack + stack_size.
 */
static long clone3_run(struct clone_args *args, int (*fn)(void *), void *arg)
{
	long ret;
	__asm__ volatile(PETRI_CLONE_RUN_ASM
			 : "=a"(ret)
			 : "a"((long)SYS_clone3), "D"(args),
			   "S"(sizeof(*args)), [fn] "r"(fn), [arg] "r"(arg), [nr_exit] "i"(SYS_exit)
			 : "rcx", "r11", "memory");
	return ret;
}
#endif

static int spawn_init_exec(petri_ctx *ctx, struct petri_spawn_req *req, int *exec_failed)
{
	char fdarg[16];
	snprintf(fdarg, sizeof(fdarg), "%d", req->cfg_fd);
	char *argv[] = {"petri-init", fdarg, NULL};
	struct init_exec_args a = {
		.image_fd = ctx->init_image_fd,
		.keep = {req->cfg_fd, req->cfg->sync_fd, req->cfg->ctl_fd,
			 req->cfg->workspace_tree_fd, req->cfg->ca_fd},
		.argv = argv,
	};
	/* The child runs on this frame's array while we are suspended. */
	_Alignas(16) char stack[32768];
	int pidfd = -1;
	long pid;
	req->in_cgroup = 0;
#if defined(__x86_64__)
	struct clone_args args = {
		.flags = req->clone_flags | CLONE_VM | CLONE_VFORK | CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)&pidfd,
		.exit_signal = SIGCHLD,
		.stack = (uint64_t)(uintptr_t)stack,
		.stack_size = sizeof(stack),
	};
	if (req->cgroup_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)req->cgroup_fd;
	}
	pid = clone3_run(&args, init_exec_child, &a);
	if (pid == -EBUSY && req->cgroup_fd >= 0) {
		/* A v2 cgroup with controllers of its own may refuse: the host
		 * moves init there instead. */
		args.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
		pid = clone3_run(&args, init_exec_child, &a);
	}
	req->in_cgroup = (args.flags & CLONE_INTO_CGROUP) != 0;
	if (pid == -ENOSYS) /* a container's seccomp profile may refuse clone3 */
#endif
	{
		req->in_cgroup = 0;
		pid = clone(init_exec_child, stack + sizeof(stack),
			    (int)req->clone_flags | CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD,
			    &a, &pidfd);
		if (pid < 0)
			pid = -errno;
	}
	if (pid < 0)
		return (int)pid;
	if (a.err) {
		siginfo_t si;
		while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 && errno == EINTR)
			;
		close(pidfd);
		*exec_failed = a.exec_failed;
		return -a.err;
	}
	req->pid = (int)pid;
	req->pidfd = pidfd;
	return 0;
}

static int spawn_init_fork(struct petri_spawn_req *req)
{
	int pidfd = -1;
	struct clone_args args = {
		.flags = req->clone_flags | CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)&pidfd,
		.exit_signal = SIGCHLD,
	};
	if (req->cgroup_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)req->cgroup_fd;
	}
	long pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0 && errno == EBUSY && req->cgroup_fd >= 0) {
		args.flags &= ~(uint64_t)CLONE_INTO_CGROUP; /* as above */
		pid = syscall(SYS_clone3, &args, sizeof(args));
	}
	if (pid < 0 && errno == ENOSYS) { /* as above: clone(2), a fork */
		args.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
		pid = syscall(SYS_clone, (unsigned long)(req->clone_flags | CLONE_PIDFD | SIGCHLD),
			      NULL, &pidfd, NULL, 0);
	}
	if (pid < 0)
		return -errno;
	if (pid == 0)
		petri__init_main(req->cfg);
	req->pid = (int)pid;
	req->pidfd = pidfd;
	req->in_cgroup = (args.flags & CLONE_INTO_CGROUP) != 0;
	return 0;
}

static int spawn_init_as(petri_ctx *ctx, struct petri_spawn_req *req);

/*
 * The dumpable flag is the process's (its mm's), but the supervisor threads
 * of several contexts switch at once: the first switch in saves it, the
 * last one out restores it.  Each reading and restoring it alone made the
 * host undumpable for good when two switches overlapped (the second read
 * the 0 the first switch had set).
 */
static pthread_mutex_t owned_lock = PTHREAD_MUTEX_INITIALIZER;
static int owned_switches; /* supervisor threads switched now */
static int owned_dumpable; /* the flag before the first of them */

static void owned_enter(void)
{
	pthread_mutex_lock(&owned_lock);
	if (owned_switches++ == 0)
		owned_dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	pthread_mutex_unlock(&owned_lock);
}

static void owned_leave(void)
{
	pthread_mutex_lock(&owned_lock);
	if (--owned_switches == 0 && owned_dumpable > 0)
		prctl(PR_SET_DUMPABLE, owned_dumpable, 0, 0, 0);
	pthread_mutex_unlock(&owned_lock);
}

/*
 * The kernel counts what a user may hold (inotify instances and watches,
 * fanotify groups and marks, queued signals, POSIX message queue bytes,
 * locked shared memory, processes, namespaces: "ucounts") in every user
 * namespace up the chain, and at each parent level charges the count to
 * the uid that OWNS the child namespace, against that level's limit.  A
 * namespace created by host root charges host root: one sandbox holding
 * 128 inotify instances or 96k queued signals left none to host root and to
 * every other sandbox.  So a root host creates each sandbox's user
 * namespace with its effective uid set to the host id of the sandbox user
 * (1000 inside, in the sandbox's own range, unused on the host): the
 * host-level charge of everything the sandbox does lands on an id of its
 * own, bounded per sandbox by the host's per-user limits.  Not the range's
 * first id (root inside): init would then be its namespace's root, and its
 * setresuid to the sandbox user would drop the capabilities it still needs
 * to build the root; as the sandbox user from the start it keeps them, and
 * it becomes that user after the maps anyway (init.c).
 *
 * Thread-local: the raw setresuid changes this thread's credentials only
 * (glibc's setuid would change every thread of the host).  The real and
 * saved uids stay 0, so the permitted capabilities stay and we switch back
 * freely; the fsuid goes back to 0 at once, which gives back the file
 * capabilities, so joining the cgroup (a permission check on cgroup.procs)
 * works as before.  A change of euid makes the process undumpable
 * (commit_creds): owned_leave restores what it was.
 */
static int spawn_init_owned(petri_ctx *ctx, struct petri_spawn_req *req, uid_t owner)
{
	owned_enter();
	if (syscall(SYS_setresuid, -1, owner, -1) < 0) {
		int e = errno;
		owned_leave();
		return -e;
	}
	syscall(SYS_setfsuid, 0);
	int r = spawn_init_as(ctx, req);
	if (syscall(SYS_setresuid, -1, 0, -1) < 0) {
		/* Cannot happen (the real uid is 0); going on as another uid
		 * would break everything after, so say it loudly. */
		petri__log(ctx, PETRI_LOG_ERROR, "the supervisor thread cannot return to uid 0: %s",
			   strerror(errno));
	}
	owned_leave();
	return r;
}

static int spawn_init_chosen(petri_ctx *ctx, struct petri_spawn_req *req)
{
	if (req->userns_owner)
		return spawn_init_owned(ctx, req, req->userns_owner);
	return spawn_init_as(ctx, req);
}

/*
 * In the supervisor thread.  On v1 hierarchies a process joins cgroups by
 * a move, and moving another process waits for an RCU grace period when no
 * move happened lately (cgroup_threadgroup_rwsem; 10-25 ms here, more than
 * the rest of a sandbox's creation).  A thread moving itself does not: the
 * supervisor steps into the sandbox's v1 cgroups, starts init there and
 * steps back.
 */
static int spawn_init(petri_ctx *ctx, struct petri_spawn_req *req)
{
	const struct petri_cgroup *cg = req->cgroup;
	if (!cg || (!cg->v1_memory_dir && !cg->v1_pids_dir))
		return spawn_init_chosen(ctx, req);
	int in = petri__cgroup_move_self_v1(cg->v1_memory_dir, cg->v1_pids_dir, cg->v1_cpu_dir);
	int r = in == 0 ? spawn_init_chosen(ctx, req) : 0;
	int out = petri__cgroup_move_self_v1(ctx->cgroups.v1_memory_parent,
					     ctx->cgroups.v1_pids_parent,
					     cg->v1_cpu_dir ? ctx->cgroups.v1_cpu_parent : NULL);
	if (out < 0)
		petri__log(ctx, PETRI_LOG_ERROR,
			   "the supervisor thread cannot leave sandbox cgroups: %s",
			   strerror(-out));
	if (in < 0)
		return spawn_init_chosen(ctx, req); /* the host moves init instead */
	req->in_v1 = r == 0;
	return r;
}

/*
 * host.h: petri__write_settle.  The clones in flight that may hold copies
 * of the host's fds, counted under a mutex: a write waits, after its close,
 * until none is left, which takes one clone3 call at most per clone (no
 * create ever waits for a write).
 */
static pthread_mutex_t clone_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t clone_cv = PTHREAD_COND_INITIALIZER;
static unsigned clones;

static void clone_begin(void)
{
	pthread_mutex_lock(&clone_mu);
	clones++;
	pthread_mutex_unlock(&clone_mu);
}

static void clone_end(void)
{
	pthread_mutex_lock(&clone_mu);
	if (--clones == 0)
		pthread_cond_broadcast(&clone_cv);
	pthread_mutex_unlock(&clone_mu);
}

void petri__write_settle(void)
{
	pthread_mutex_lock(&clone_mu);
	while (clones)
		pthread_cond_wait(&clone_cv, &clone_mu);
	pthread_mutex_unlock(&clone_mu);
}

/* A fork of the host (an application's own fork(), not our clones) copies
 * the count as it is, with the threads that would have dropped it left
 * behind: the child's first petri_sandbox_write_file() would wait forever.
 * The fork takes the mutex (so the count is consistent), and the child
 * starts with no clone in flight. */
static void clone_prepare(void)
{
	pthread_mutex_lock(&clone_mu);
}

static void clone_parent(void)
{
	pthread_mutex_unlock(&clone_mu);
}

static void clone_child(void)
{
	clones = 0;
	pthread_cond_init(&clone_cv, NULL);
	pthread_mutex_unlock(&clone_mu);
}

__attribute__((constructor)) static void clone_atfork(void)
{
	pthread_atfork(clone_prepare, clone_parent, clone_child);
}

static int spawn_init_as(petri_ctx *ctx, struct petri_spawn_req *req)
{
	if (req->cfg_fd >= 0 && __atomic_load_n(&ctx->init_mode, __ATOMIC_RELAXED) == INIT_EXEC) {
		int r = ctx->init_image_fd >= 0 ? 0 : load_init_image(ctx);
		int exec_failed = 0;
		if (r == 0) {
			clone_begin();
			r = spawn_init_exec(ctx, req, &exec_failed);
			clone_end();
		}
		if (r == 0 || (r < 0 && ctx->init_image_fd >= 0 && !exec_failed))
			return r;
		petri__log(ctx, PETRI_LOG_INFO,
			   "cannot execute the init image (%s): sandboxes fork init from the host",
			   strerror(-r));
		__atomic_store_n(&ctx->init_mode, INIT_FORK, __ATOMIC_RELAXED);
	}
	return spawn_init_fork(req);
}

static void *supervisor_main(void *arg)
{
	petri_ctx *ctx = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	prctl(PR_SET_NAME, "petri-supervisor", 0, 0, 0);

	pthread_mutex_lock(&ctx->lock);
	for (;;) {
		while (!ctx->pending && !ctx->stopping)
			pthread_cond_wait(&ctx->cond, &ctx->lock);
		if (ctx->stopping)
			break;
		struct petri_spawn_req *req = ctx->pending;
		ctx->pending = req->next;
		pthread_mutex_unlock(&ctx->lock);
		req->err = spawn_init(ctx, req);
		pthread_mutex_lock(&ctx->lock);
		req->done = 1;
		pthread_cond_broadcast(&ctx->cond);
	}
	pthread_mutex_unlock(&ctx->lock);
	return NULL;
}

/* PETRI_CTX_F_CALLER_THREAD: in the calling thread, with every signal
 * blocked as in the supervisor thread (init is a vfork child on this
 * thread's memory until its execveat: no handler of the host's may run
 * there, and init starts with the mask it would have had). */
static int spawn_init_here(petri_ctx *ctx, struct petri_spawn_req *req)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = spawn_init(ctx, req);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

int petri__spawn_init(petri_ctx *ctx, struct petri_spawn_req *req)
{
	if (ctx->flags & PETRI_CTX_F_CALLER_THREAD)
		return spawn_init_here(ctx, req);
	pthread_mutex_lock(&ctx->lock);
	if (!ctx->supervisor_running) {
		int r = pthread_create(&ctx->supervisor, NULL, supervisor_main, ctx);
		if (r != 0) {
			pthread_mutex_unlock(&ctx->lock);
			return -r;
		}
		ctx->supervisor_running = 1;
	}
	req->next = NULL;
	struct petri_spawn_req **tail = &ctx->pending;
	while (*tail)
		tail = &(*tail)->next;
	*tail = req;
	pthread_cond_broadcast(&ctx->cond);
	while (!req->done)
		pthread_cond_wait(&ctx->cond, &ctx->lock);
	pthread_mutex_unlock(&ctx->lock);
	return req->err;
}

/* ---- create / destroy ---- */

struct petri_mount_attr_full {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

static int idmap_child(void *arg)
{
	const int *p = arg;
	char c;
	close(p[1]);
	ssize_t n = read(p[0], &c, 1); /* until the host has opened our userns */
	(void)n;
	_exit(0);
}

static int write_proc_file(int pid, const char *name, const char *content);

/* A user namespace that maps @from_uid/@from_gid (on disk) to @to_uid/@to_gid. */
static int make_idmap_userns(uid_t from_uid, gid_t from_gid, uid_t to_uid, gid_t to_gid,
			     petri_error **err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return petri__err(err, errno, "pipe");
	/* A tiny stack: the child only blocks in read(2) and exits. */
	static __thread char stack[16384] __attribute__((aligned(16)));
	clone_begin(); /* it holds copies of our fds until it exits */
	pid_t pid = clone(idmap_child, stack + sizeof(stack), CLONE_NEWUSER | SIGCHLD, p);
	if (pid < 0) {
		int e = errno;
		clone_end();
		close(p[0]);
		close(p[1]);
		return petri__err(err, e, "clone idmap user namespace");
	}
	char buf[64];
	int r = 0, fd = -1;
	snprintf(buf, sizeof(buf), "%u %u 1\n", (unsigned)from_uid, (unsigned)to_uid);
	if ((r = write_proc_file(pid, "uid_map", buf)) == 0) {
		snprintf(buf, sizeof(buf), "%u %u 1\n", (unsigned)from_gid, (unsigned)to_gid);
		r = write_proc_file(pid, "gid_map", buf);
	}
	if (r == 0) {
		snprintf(buf, sizeof(buf), "/proc/%d/ns/user", (int)pid);
		fd = open(buf, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			r = -errno;
	}
	close(p[1]);
	close(p[0]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	clone_end();
	if (r < 0)
		return petri__err(err, r, "write the workspace id map");
	return fd;
}

/*
 * A root host's workspace dir is shown to the sandbox through an idmapped
 * mount: its owner on disk appears as the sandbox user and files the code
 * creates land on disk owned by that owner.  Only the host can idmap a host
 * filesystem, so it prepares the detached mount and init attaches it.
 */
int petri__spawn_workspace_tree(const petri_sandbox *sb, const char *dir, petri_error **err)
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return petri__err(err, errno, "workspace %s", dir);
	/* Mapping disk uid/gid 0 would let the code create root-owned setuid
	 * or setgid files on the host: refuse rather than hand that out. */
	if (st.st_uid == 0 || st.st_gid == 0)
		return petri__err(
			err, EPERM,
			"workspace %s is owned by root (uid or gid 0); give the sandbox a "
			"directory owned by an unprivileged user",
			dir);
	_cleanup_close_ int tree =
		(int)syscall(SYS_open_tree, AT_FDCWD, dir, 1 /* OPEN_TREE_CLONE */ | O_CLOEXEC);
	if (tree < 0)
		return petri__err(err, errno, "open_tree %s", dir);
	_cleanup_close_ int userns =
		make_idmap_userns(st.st_uid, st.st_gid, sb->host_uid, sb->host_gid, err);
	if (userns < 0)
		return userns;
	struct petri_mount_attr_full a = {.attr_set = PETRI_MOUNT_ATTR_IDMAP |
						      PETRI_MOUNT_ATTR_NOSUID |
						      PETRI_MOUNT_ATTR_NODEV,
					  .userns_fd = (uint64_t)userns};
	if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
		return petri__err(err, errno, "idmap workspace %s", dir);
	return TAKE_FD(tree);
}

static int write_proc_file(int pid, const char *name, const char *content)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t n = strlen(content);
	if (write(fd, content, n) != (ssize_t)n)
		return -errno;
	return 0;
}

/*
 * A root host maps the sandbox's ids 0..65535 onto its claimed range
 * (sandbox.c, choose_host_ids): uid 1000 is host_ids_start + 1000, host
 * root is in no map, and setgroups stays allowed so init can drop its
 * supplementary groups (the code, without CAP_SETGID, gets EPERM).  An
 * unprivileged host may map its own uid/gid only, as 1000, and must deny
 * setgroups before it may write gid_map.
 */
int petri__spawn_write_id_maps(const petri_sandbox *sb, int pid, petri_error **err)
{
	char buf[64];
	int r;
	if (!sb->ctx->is_root) {
		r = write_proc_file(pid, "setgroups", "deny");
		if (r < 0)
			return petri__err(err, r, "write /proc/%d/setgroups", pid);
	}
	static const char *const files[] = {"uid_map", "gid_map"};
	for (int i = 0; i < 2; i++) {
		if (sb->ctx->is_root)
			snprintf(buf, sizeof(buf), "0 %u 65536\n", (unsigned)sb->host_ids_start);
		else
			snprintf(buf, sizeof(buf), "%d %u 1\n",
				 i == 0 ? PETRI_SANDBOX_UID : PETRI_SANDBOX_GID,
				 i == 0 ? (unsigned)sb->host_uid : (unsigned)sb->host_gid);
		r = write_proc_file(pid, files[i], buf);
		if (r < 0)
			return petri__err(err, r, "write /proc/%d/%s", pid, files[i]);
	}
	return 0;
}

void petri__spawn_stop(petri_ctx *ctx)
{
	if (!ctx->supervisor_running)
		return;
	pthread_mutex_lock(&ctx->lock);
	ctx->stopping = 1;
	pthread_cond_broadcast(&ctx->cond);
	pthread_mutex_unlock(&ctx->lock);
	pthread_join(ctx->supervisor, NULL);
	ctx->supervisor_running = 0;
}
