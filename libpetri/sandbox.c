/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox.c - the context and the sandbox lifecycle on the host side:
 * option checking, the supervisor thread that forks every init, uid/gid maps,
 * cgroups, the READY handshake, and teardown that leaves nothing behind.
 */
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "clone_asm.h"
#include "sandbox_priv.h"

#define DEFAULT_MEMORY (512ull << 20)
#define DEFAULT_TMP (64ull << 20)
#define DEFAULT_WORKSPACE (256ull << 20)
#define DEFAULT_PIDS 256
#define DEFAULT_UID_BASE 0xc8000000u
#define READY_TIMEOUT_MS 10000
#define PETRI_MFD_EXEC 0x0010U /* MFD_EXEC, Linux 6.3 */

/* ---- context ---- */

PETRI_API void petri_ctx_opts_init(petri_ctx_opts *opts)
{
	if (opts)
		*opts = (petri_ctx_opts)PETRI_CTX_OPTS_INIT;
}

PETRI_API void petri_sandbox_opts_init(petri_sandbox_opts *opts)
{
	if (opts)
		*opts = (petri_sandbox_opts)PETRI_SANDBOX_OPTS_INIT;
}

/* Copy a caller's options struct of size opts->sz into a full-size one with
 * defaults for the fields the caller's version does not have. */
static int copy_opts(void *dst, size_t dst_sz, const void *src, petri_error **err, const char *what)
{
	memset(dst, 0, dst_sz);
	if (!src)
		return 0;
	uint32_t sz = *(const uint32_t *)src;
	if (sz < sizeof(uint32_t) * 2 || sz > 4096)
		return petri__err(err, EINVAL, "%s: sz field is %u (use the _OPTS_INIT macro)",
				  what, sz);
	if (sz > dst_sz) {
		/* A newer caller: accept only if the fields we do not know are 0. */
		const unsigned char *extra = (const unsigned char *)src + dst_sz;
		for (size_t i = 0; i < sz - dst_sz; i++)
			if (extra[i])
				return petri__err(err, EINVAL,
						  "%s: unknown option set (library too old)", what);
		sz = (uint32_t)dst_sz;
	}
	memcpy(dst, src, sz);
	return 0;
}

static int landlock_abi(void)
{
	int abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, 1u);
	return abi < 0 ? 0 : abi;
}

struct petri_spawn_req {
	const struct petri_init_cfg *cfg;
	uint64_t clone_flags;
	int cgroup_fd; /* CLONE_INTO_CGROUP target, or -1 */
	int cfg_fd;    /* the configuration as a memfd for an exec'd init, or -1 */
	int done;
	int pid;
	int pidfd;
	int in_cgroup;                     /* born in cgroup_fd */
	const struct petri_cgroup *cgroup; /* its v1 cgroups, if any */
	int in_v1;                         /* born in them */
	int err;
	struct petri_spawn_req *next;
};

/*
 * How init starts: by default the supervisor executes the init image
 * embedded in the library (init_main.c) from a sealed memfd, so init's cost
 * does not grow with the host's memory.  Where the kernel refuses to execute
 * a memfd (vm.memfd_noexec=2, an LSM), or PETRI_INIT=fork asks for it (to
 * debug or to compare), init is a fork of the host instead.
 */
enum {
	INIT_EXEC = 0,
	INIT_FORK = 1
};

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
	int keep[4]; /* fds init needs: made inheritable in the child only */
	char *const *argv;
	int err;         /* set by the child when a step failed */
	int exec_failed; /* ... and that step was the execveat itself */
};

/*
 * Runs in the new namespaces, on the supervisor's memory (CLONE_VM |
 * CLONE_VFORK) until the execveat: syscalls only.  The sandbox's user
 * namespace has no uid 0 mapping, so execve would not let init keep the
 * capabilities it needs to build the root; raise them into the ambient set,
 * which execve preserves for a file without capabilities of its own.  Raw
 * syscalls: no wrapper or sanitizer hook may run on the shared memory.
 */
__attribute__((no_sanitize("address", "undefined"))) static int init_exec_child(void *arg)
{
	struct init_exec_args *a = arg;
	static char *const envp[] = {NULL};
	for (int i = 0; i < 4; i++)
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
			 req->cfg->workspace_tree_fd},
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
static void kill_init(petri_sandbox *sb);

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
		return spawn_init_as(ctx, req);
	int in = petri__cgroup_move_self_v1(cg->v1_memory_dir, cg->v1_pids_dir);
	int r = in == 0 ? spawn_init_as(ctx, req) : 0;
	int out = petri__cgroup_move_self_v1(ctx->cgroups.v1_memory_parent,
					     ctx->cgroups.v1_pids_parent);
	if (out < 0)
		petri__log(ctx, PETRI_LOG_ERROR,
			   "the supervisor thread cannot leave sandbox cgroups: %s",
			   strerror(-out));
	if (in < 0)
		return spawn_init_as(ctx, req); /* the host moves init instead */
	req->in_v1 = r == 0;
	return r;
}

static int spawn_init_as(petri_ctx *ctx, struct petri_spawn_req *req)
{
	if (req->cfg_fd >= 0 && __atomic_load_n(&ctx->init_mode, __ATOMIC_RELAXED) == INIT_EXEC) {
		int r = ctx->init_image_fd >= 0 ? 0 : load_init_image(ctx);
		int exec_failed = 0;
		if (r == 0)
			r = spawn_init_exec(ctx, req, &exec_failed);
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

static int supervisor_spawn(petri_ctx *ctx, struct petri_spawn_req *req)
{
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

PETRI_API int petri_ctx_new(petri_ctx **out, const petri_ctx_opts *opts, petri_error **err)
{
	petri_ctx_opts o;
	if (!out)
		return petri__err(err, EINVAL, "petri_ctx_new: out is NULL");
	int r = copy_opts(&o, sizeof(o), opts, err, "petri_ctx_opts");
	if (r < 0)
		return r;
	if (!opts)
		petri_ctx_opts_init(&o);
	if (o.flags & ~PETRI_CTX_F_REQUIRE_CGROUPS)
		return petri__err(err, EINVAL, "petri_ctx_opts: unknown flags 0x%x", o.flags);

	petri_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return petri__err(err, ENOMEM, "petri_ctx_new");
	ctx->log_level = o.log_level;
	ctx->log_fn = o.log_fn;
	ctx->log_userdata = o.log_userdata;
	ctx->flags = o.flags;
	ctx->uid = geteuid();
	ctx->gid = getegid();
	ctx->is_root = ctx->uid == 0;
	ctx->host_uid_base = o.host_uid_base ? o.host_uid_base : DEFAULT_UID_BASE;
	ctx->default_uid_base = o.host_uid_base == 0;
	ctx->init_image_fd = -1;
	const char *mode = secure_getenv("PETRI_INIT");
	ctx->init_mode = mode && strcmp(mode, "fork") == 0 ? INIT_FORK : INIT_EXEC;
	if (mode && *mode && strcmp(mode, "fork") != 0 && strcmp(mode, "exec") != 0)
		petri__log(ctx, PETRI_LOG_WARN, "PETRI_INIT=%.32s ignored (fork or exec)", mode);
	pthread_mutex_init(&ctx->lock, NULL);
	pthread_cond_init(&ctx->cond, NULL);

	r = petri__seccomp_build(&ctx->seccomp, err);
	if (r < 0)
		goto fail;
	r = petri__cgroup_layout_detect(ctx, &ctx->cgroups);
	if (r < 0) {
		r = petri__err(err, r, "detect cgroups");
		goto fail;
	}
	if (ctx->cgroups.mode == PETRI_CGROUP_NONE && (ctx->flags & PETRI_CTX_F_REQUIRE_CGROUPS)) {
		r = petri__err(err, EPERM,
			       "no writable cgroup with memory and pids controllers below ours");
		goto fail;
	}
	ctx->landlock_abi = (uint32_t)landlock_abi();
	*out = ctx;
	return 0;
fail:
	petri__seccomp_release(&ctx->seccomp);
	petri__cgroup_layout_release(&ctx->cgroups);
	pthread_mutex_destroy(&ctx->lock);
	pthread_cond_destroy(&ctx->cond);
	free(ctx);
	return r;
}

PETRI_API void petri_ctx_free(petri_ctx *ctx)
{
	if (!ctx)
		return;
	/* Every init is killed first, and the supervisor thread (their
	 * parent) ends while they die: the kernel tears their namespaces down
	 * beside its exit instead of before it. */
	for (petri_sandbox *sb = ctx->sandboxes; sb; sb = sb->next)
		kill_init(sb);
	if (ctx->supervisor_running) {
		pthread_mutex_lock(&ctx->lock);
		ctx->stopping = 1;
		pthread_cond_broadcast(&ctx->cond);
		pthread_mutex_unlock(&ctx->lock);
		pthread_join(ctx->supervisor, NULL);
	}
	while (ctx->sandboxes)
		petri_sandbox_destroy(ctx->sandboxes);
	petri__kaudit_close_ctx(ctx);
	if (ctx->init_image_fd >= 0)
		close(ctx->init_image_fd);
	petri__seccomp_release(&ctx->seccomp);
	petri__cgroup_layout_release(&ctx->cgroups);
	pthread_mutex_destroy(&ctx->lock);
	pthread_cond_destroy(&ctx->cond);
	free(ctx);
}

PETRI_API int petri_ctx_kernel_audit(petri_ctx *ctx, const char **reason)
{
	if (!ctx)
		return -EINVAL;
	int on = petri__kaudit_ensure(ctx);
	if (reason)
		*reason = on ? "" : ctx->kaudit_reason;
	return on;
}

PETRI_API int petri_ctx_cgroup_mode(const petri_ctx *ctx)
{
	return ctx ? ctx->cgroups.mode : PETRI_CGROUP_NONE;
}

/* ---- option checks ---- */

static int valid_id(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > PETRI_ID_MAX)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static int valid_hostname(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || *s == '-')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-'))
			return 0;
	return 1;
}

/* An absolute path inside the sandbox: no "..", ".", "//" and not one of
 * the mounts petri owns. */
static int valid_inside_path(const char *p)
{
	size_t n = strlen(p);
	if (p[0] != '/' || n < 2 || n >= PETRI_PATH_MAX - 16)
		return 0;
	for (const char *c = p; *c;) {
		if (*c == '/') {
			c++;
			continue;
		}
		const char *e = strchrnul(c, '/');
		size_t l = (size_t)(e - c);
		if ((l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		c = e;
	}
	if (strstr(p, "//") || p[n - 1] == '/')
		return 0;
	static const char *const reserved[] = {"/proc", "/dev", "/run/petri", "/usr", "/etc",
					       "/bin",  "/lib", "/lib64",     "/sbin"};
	for (size_t i = 0; i < ARRAY_SIZE(reserved); i++) {
		size_t rl = strlen(reserved[i]);
		if (strncmp(p, reserved[i], rl) == 0 && (p[rl] == '\0' || p[rl] == '/'))
			return 0;
	}
	return 1;
}

static int parse_bind(const char *spec, struct petri_bind *b, petri_error **err)
{
	if (strlen(spec) >= PETRI_PATH_MAX)
		return petri__err(err, ENAMETOOLONG, "bind '%.64s...'", spec);
	char tmp[PETRI_PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", spec);
	char *dst = strchr(tmp, ':');
	if (!dst || dst == tmp)
		return petri__err(err, EINVAL, "bind '%s': expected SRC:DST[:rw|:ro]", spec);
	*dst++ = '\0';
	char *mode = strchr(dst, ':');
	b->rw = 0;
	if (mode) {
		*mode++ = '\0';
		if (strcmp(mode, "rw") == 0)
			b->rw = 1;
		else if (strcmp(mode, "ro") != 0)
			return petri__err(err, EINVAL, "bind '%s': mode must be rw or ro", spec);
	}
	if (tmp[0] != '/')
		return petri__err(err, EINVAL, "bind '%s': source must be an absolute path", spec);
	if (!valid_inside_path(dst))
		return petri__err(err, EINVAL,
				  "bind '%s': destination must be a clean absolute path outside "
				  "/proc, /dev, /usr, /etc and /run/petri",
				  spec);
	struct stat st;
	if (stat(tmp, &st) < 0)
		return petri__err(err, errno, "bind source %s", tmp);
	snprintf(b->src, sizeof(b->src), "%s", tmp);
	snprintf(b->dst, sizeof(b->dst), "%s", dst);
	return 0;
}

static int check_dir(const char *what, const char *path, petri_error **err)
{
	struct stat st;
	if (path[0] != '/')
		return petri__err(err, EINVAL, "%s %s: must be an absolute path", what, path);
	if (strlen(path) >= PETRI_PATH_MAX)
		return petri__err(err, ENAMETOOLONG, "%s", what);
	if (stat(path, &st) < 0)
		return petri__err(err, errno, "%s %s", what, path);
	if (!S_ISDIR(st.st_mode))
		return petri__err(err, ENOTDIR, "%s %s", what, path);
	return 0;
}

static char **copy_strv(const char *const *v, int check_env, petri_error **err, int *r)
{
	size_t n = 0;
	*r = 0;
	for (; v && v[n]; n++) {
		if (n >= 4096) {
			*r = petri__err(err, E2BIG, "too many environment entries");
			return NULL;
		}
		if (check_env) {
			const char *eq = strchr(v[n], '=');
			if (!eq || eq == v[n]) {
				*r = petri__err(err, EINVAL, "env entry '%.64s': expected K=V",
						v[n]);
				return NULL;
			}
		}
	}
	char **out = calloc(n + 1, sizeof(char *));
	if (!out) {
		*r = -ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		out[i] = strdup(v[i]);
		if (!out[i]) {
			for (size_t j = 0; j < i; j++)
				free(out[j]);
			free(out);
			*r = -ENOMEM;
			return NULL;
		}
	}
	return out;
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* ---- create / destroy ---- */

#define PETRI_MOUNT_ATTR_NOSUID 0x00000002
#define PETRI_MOUNT_ATTR_NODEV 0x00000004
#define PETRI_MOUNT_ATTR_IDMAP 0x00100000

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
	pid_t pid = clone(idmap_child, stack + sizeof(stack), CLONE_NEWUSER | SIGCHLD, p);
	if (pid < 0) {
		int e = errno;
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
static int prepare_workspace_tree(petri_sandbox *sb, const char *dir, petri_error **err)
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

static int write_id_maps(petri_sandbox *sb, int pid, petri_error **err)
{
	char buf[64];
	int r;
	if (!sb->ctx->is_root) {
		r = write_proc_file(pid, "setgroups", "deny");
		if (r < 0)
			return petri__err(err, r, "write /proc/%d/setgroups", pid);
	}
	snprintf(buf, sizeof(buf), "%d %u 1\n", PETRI_SANDBOX_UID, (unsigned)sb->host_uid);
	r = write_proc_file(pid, "uid_map", buf);
	if (r < 0)
		return petri__err(err, r, "write /proc/%d/uid_map", pid);
	snprintf(buf, sizeof(buf), "%d %u 1\n", PETRI_SANDBOX_GID, (unsigned)sb->host_gid);
	r = write_proc_file(pid, "gid_map", buf);
	if (r < 0)
		return petri__err(err, r, "write /proc/%d/gid_map", pid);
	return 0;
}

static const char *stage_name(uint32_t stage)
{
	static const char *const names[] = {"",         "sync",    "groups",  "rootfs",
					    "hostname", "network", "landlock"};
	return stage < ARRAY_SIZE(names) ? names[stage] : "setup";
}

static int wait_ready(petri_sandbox *sb, petri_error **err)
{
	struct pollfd p = {.fd = sb->ctl_fd, .events = POLLIN};
	int n;
	do
		n = poll(&p, 1, READY_TIMEOUT_MS);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return petri__err(err, ETIMEDOUT, "sandbox init did not become ready");
	struct petri_msg m;
	int fds[1], nfds = 1;
	int r = petri__msg_recv(sb->ctl_fd, &m, fds, &nfds);
	if (r <= 0)
		return petri__err(err, r == 0 ? ECHILD : r, "sandbox init died during setup");
	if (m.type == PETRI_MSG_SETUP_ERROR) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		m.text[sizeof(m.text) - 1] = '\0';
		return petri__err(err, m.err ? m.err : EIO, "sandbox %s: %s", stage_name(m.stage),
				  m.text);
	}
	if (m.type != PETRI_MSG_READY || nfds != 1) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		return petri__err(err, EPROTO, "sandbox init sent an unexpected message");
	}
	sb->workspace_fd = fds[0];
	return 0;
}

static void unlink_sandbox(petri_sandbox *sb)
{
	petri_ctx *ctx = sb->ctx;
	pthread_mutex_lock(&ctx->lock);
	for (petri_sandbox **p = &ctx->sandboxes; *p; p = &(*p)->next) {
		if (*p == sb) {
			*p = sb->next;
			break;
		}
	}
	pthread_mutex_unlock(&ctx->lock);
}

/* Close the control socket (init exits) and kill init (the kernel takes
 * the whole pid namespace with it), without waiting.  Whether the sandbox
 * had died before is decided first, for its SandboxDestroyed. */
static void kill_init(petri_sandbox *sb)
{
	if (sb->killed)
		return;
	/* After a PETRI_EXEC_LAST exec init ends by itself; a death an exec
	 * saw (sb->dead) counts either way. */
	sb->died = sb->dead || (!sb->finished && petri_sandbox_init_pid(sb) < 0);
	if (sb->ctl_fd >= 0)
		close(sb->ctl_fd);
	sb->ctl_fd = -1;
	if (sb->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, sb->pidfd, SIGKILL, NULL, 0);
	sb->killed = 1;
}

/* Kill and reap init, remove the cgroups, free. */
static void free_sandbox(petri_sandbox *sb, int created)
{
	kill_init(sb);
	if (sb->pidfd >= 0) {
		siginfo_t si;
		while (waitid((idtype_t)P_PIDFD, (id_t)sb->pidfd, &si, WEXITED) < 0 &&
		       errno == EINTR)
			;
		close(sb->pidfd);
		sb->pidfd = -1;
	}
	sb->pid = -1;
	sb->dead = 1;
	petri__kaudit_unwatch_sandbox(sb);
	if (created)
		petri__audit_sandbox_destroyed(sb, sb->died);
	petri__cgroup_destroy(&sb->cgroup);
	if (sb->workspace_fd >= 0)
		close(sb->workspace_fd);
	if (sb->cancel_fd >= 0)
		close(sb->cancel_fd);
	free_strv(sb->env);
	free(sb);
}

PETRI_API void petri_sandbox_destroy(petri_sandbox *sb)
{
	if (!sb)
		return;
	unlink_sandbox(sb);
	free_sandbox(sb, 1);
}

static int fill_init_cfg(petri_ctx *ctx, const petri_sandbox_opts *o, struct petri_init_cfg *cfg,
			 struct petri_bind **binds, petri_error **err)
{
	if (o->hostname && !valid_hostname(o->hostname))
		return petri__err(err, EINVAL, "hostname '%.64s' is not a valid host name",
				  o->hostname);
	snprintf(cfg->hostname, sizeof(cfg->hostname), "%s", o->hostname ? o->hostname : "petri");
	int r;
	if (o->rootfs) {
		if ((r = check_dir("rootfs", o->rootfs, err)) < 0)
			return r;
		snprintf(cfg->rootfs, sizeof(cfg->rootfs), "%s", o->rootfs);
	}
	if (o->workspace_dir) {
		if ((r = check_dir("workspace", o->workspace_dir, err)) < 0)
			return r;
		snprintf(cfg->workspace_dir, sizeof(cfg->workspace_dir), "%s", o->workspace_dir);
	}
	size_t nb = 0;
	while (o->binds && o->binds[nb])
		nb++;
	if (nb > PETRI_MAX_BINDS)
		return petri__err(err, E2BIG, "too many binds (%zu, at most %d)", nb,
				  PETRI_MAX_BINDS);
	if (nb) {
		*binds = calloc(nb, sizeof(**binds));
		if (!*binds)
			return petri__err(err, ENOMEM, "binds");
		for (size_t i = 0; i < nb; i++)
			if ((r = parse_bind(o->binds[i], &(*binds)[i], err)) < 0)
				return r;
	}
	cfg->binds = *binds;
	cfg->nbinds = (int)nb;
	cfg->tmp_bytes = o->tmp_bytes ? o->tmp_bytes : DEFAULT_TMP;
	cfg->workspace_bytes = o->workspace_bytes ? o->workspace_bytes : DEFAULT_WORKSPACE;
	cfg->net = o->net;
	cfg->flags = o->flags;
	cfg->landlock = ctx->landlock_abi > 0 && !(o->flags & PETRI_SANDBOX_F_NO_LANDLOCK);
	cfg->host_is_root = ctx->is_root;
	cfg->drop_groups = ctx->is_root;
	return 0;
}

/* init's configuration as a sealed memfd for an exec'd init (see
 * struct petri_init_cfg); the fd or -errno. */
static int init_cfg_memfd(const struct petri_init_cfg *cfg, const petri_ctx *ctx, petri_error **err)
{
	struct petri_init_cfg flat = *cfg;
	flat.magic = PETRI_INIT_CFG_MAGIC;
	flat.seccomp_len = ctx->seccomp.fprog.len;
	flat.binds = NULL;
	flat.seccomp = NULL;
	_cleanup_close_ int fd = memfd_create("petri-init-cfg", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return petri__err(err, errno, "memfd for the sandbox configuration");
	int r = petri__write_all(fd, &flat, sizeof(flat));
	if (r == 0 && cfg->nbinds)
		r = petri__write_all(fd, cfg->binds, (size_t)cfg->nbinds * sizeof(*cfg->binds));
	if (r == 0 && flat.seccomp_len)
		r = petri__write_all(fd, ctx->seccomp.fprog.filter,
				     flat.seccomp_len * sizeof(struct sock_filter));
	if (r == 0 && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
		r = -errno;
	if (r < 0)
		return petri__err(err, r, "write the sandbox configuration");
	return TAKE_FD(fd);
}

static int check_sandbox_opts(const petri_sandbox_opts *o, petri_error **err)
{
	if (o->flags & ~PETRI_SANDBOX_F_NO_LANDLOCK)
		return petri__err(err, EINVAL, "sandbox options: unknown flags 0x%x", o->flags);
	if (o->language && !petri__lang_find(o->language))
		return petri__err(err, EINVAL,
				  "unknown language '%.32s' (expected python, node, go or sh)",
				  o->language);
	if (o->id && !valid_id(o->id))
		return petri__err(err, EINVAL, "sandbox id '%.64s': use 1-48 of [A-Za-z0-9_-]",
				  o->id);
	if (o->net == PETRI_NET_PROXY)
		return petri__err(err, EOPNOTSUPP, "network mode proxy is not available yet");
	if (o->net > PETRI_NET_PROXY)
		return petri__err(err, EINVAL, "unknown network mode %u", o->net);
	if (o->memory_bytes && o->memory_bytes < (4ull << 20))
		return petri__err(err, EINVAL, "memory limit %llu is below the 4 MiB minimum",
				  (unsigned long long)o->memory_bytes);
	if (o->tmp_bytes && o->tmp_bytes < 4096)
		return petri__err(err, EINVAL, "tmp size below 4 KiB");
	if (o->workspace_bytes && o->workspace_bytes < 4096)
		return petri__err(err, EINVAL, "workspace size below 4 KiB");
	if (o->workspace_bytes && o->workspace_dir)
		return petri__err(err, EINVAL,
				  "a workspace size applies to the tmpfs workspace, not to a host "
				  "workspace directory (limit that with the host's filesystem)");
	if (o->pids_max && o->pids_max < 4)
		return petri__err(err, EINVAL, "pids limit %u is below the minimum of 4",
				  o->pids_max);
	return 0;
}

PETRI_API int petri_sandbox_create(petri_ctx *ctx, const petri_sandbox_opts *opts,
				   petri_sandbox **out, petri_error **err)
{
	petri_sandbox_opts o;
	struct petri_init_cfg cfg = {.workspace_tree_fd = -1};
	_cleanup_free_ struct petri_bind *binds = NULL;
	int sync_pipe[2] = {-1, -1}, sp[2] = {-1, -1};
	int r;

	if (!ctx || !out)
		return petri__err(err, EINVAL, "petri_sandbox_create: %s is NULL",
				  ctx ? "out" : "ctx");
	if ((r = copy_opts(&o, sizeof(o), opts, err, "petri_sandbox_opts")) < 0)
		return r;
	if ((r = check_sandbox_opts(&o, err)) < 0)
		return r;
	if ((r = fill_init_cfg(ctx, &o, &cfg, &binds, err)) < 0)
		return r;

	petri_sandbox *sb = calloc(1, sizeof(*sb));
	if (!sb)
		return petri__err(err, ENOMEM, "petri_sandbox_create");
	sb->ctx = ctx;
	sb->pid = -1;
	sb->pidfd = sb->ctl_fd = sb->workspace_fd = sb->cancel_fd = -1;
	sb->cgroup.v2_dirfd = -1;
	sb->audit = o.audit;
	sb->memory_bytes = o.memory_bytes ? o.memory_bytes : DEFAULT_MEMORY;
	sb->pids_max = o.pids_max ? o.pids_max : DEFAULT_PIDS;
	snprintf(sb->language, sizeof(sb->language), "%s", o.language ? o.language : "");
	sb->env = copy_strv(o.env, 1, err, &r);
	if (!sb->env) {
		r = r ? r : petri__err(err, ENOMEM, "env");
		goto fail;
	}

	/* Process-wide: cgroup names petri-<pid>-<serial> must not collide
	 * between two contexts of one process. */
	static uint64_t process_serial;
	uint64_t serial = __atomic_add_fetch(&process_serial, 1, __ATOMIC_RELAXED);
	if (o.id)
		snprintf(sb->id, sizeof(sb->id), "%s", o.id);
	else
		snprintf(sb->id, sizeof(sb->id), "sb_%08x%04llx", (unsigned)getpid(),
			 (unsigned long long)(serial & 0xffff));
	snprintf(cfg.id, sizeof(cfg.id), "%s", sb->id);
	if (ctx->is_root) {
		/* With the default base, spread sandboxes of different host
		 * processes over 2^24 ids so concurrent hosts rarely share one
		 * (per-user kernel accounting; isolation does not rest on it).
		 * A caller-chosen base gets base + serial % 65536. */
		uint32_t slot =
			ctx->default_uid_base ?
				(((uint32_t)getpid() * 2654435761u + (uint32_t)serial) & 0xffffff) :
				(uint32_t)(serial % 65536);
		sb->host_uid = ctx->host_uid_base + slot;
		sb->host_gid = ctx->host_uid_base + slot;
	} else {
		sb->host_uid = ctx->uid;
		sb->host_gid = ctx->gid;
	}

	sb->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sb->cancel_fd < 0) {
		r = petri__err(err, errno, "eventfd");
		goto fail;
	}
	char cgname[64];
	snprintf(cgname, sizeof(cgname), "petri-%d-%llu", (int)getpid(),
		 (unsigned long long)serial);
	r = petri__cgroup_create(&ctx->cgroups, cgname, &sb->cgroup, err);
	if (r < 0)
		goto fail;

	if (pipe2(sync_pipe, O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		r = petri__err(err, errno, "create sandbox control channel");
		goto fail;
	}
	cfg.sync_fd = sync_pipe[0];
	cfg.ctl_fd = sp[1];
	cfg.close_fd = sp[0];
	cfg.seccomp = &ctx->seccomp;
	cfg.workspace_tree_fd = -1;
	if (ctx->is_root && cfg.workspace_dir[0]) {
		r = prepare_workspace_tree(sb, cfg.workspace_dir, err);
		if (r < 0)
			goto fail;
		cfg.workspace_tree_fd = r;
	}

	/* Not CLONE_NEWNET: init unshares its network namespace itself (the
	 * slowest to create, ~0.6 ms) while we write its id maps. */
	uint64_t flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC |
			 CLONE_NEWCGROUP;
	struct petri_spawn_req req = {.cfg = &cfg,
				      .clone_flags = flags,
				      .cgroup_fd = sb->cgroup.v2_dirfd,
				      .cfg_fd = -1,
				      .cgroup = &sb->cgroup};
	if (__atomic_load_n(&ctx->init_mode, __ATOMIC_RELAXED) == INIT_EXEC) {
		if ((r = init_cfg_memfd(&cfg, ctx, err)) < 0)
			goto fail;
		req.cfg_fd = r;
	}
	r = supervisor_spawn(ctx, &req);
	if (req.cfg_fd >= 0)
		close(req.cfg_fd);
	if (r < 0) {
		r = petri__err(err, r, "clone sandbox init");
		goto fail;
	}
	sb->pid = req.pid;
	sb->pidfd = req.pidfd;
	if (cfg.workspace_tree_fd >= 0)
		close(cfg.workspace_tree_fd);
	cfg.workspace_tree_fd = -1;
	close(sync_pipe[0]);
	close(sp[1]);
	sync_pipe[0] = sp[1] = -1;
	sb->ctl_fd = TAKE_FD(sp[0]);

	if ((r = write_id_maps(sb, sb->pid, err)) < 0)
		goto fail;
	if ((r = petri__cgroup_attach(&sb->cgroup, sb->pid, !req.in_cgroup, !req.in_v1, err)) < 0)
		goto fail;
	if (write(sync_pipe[1], "g", 1) != 1) {
		r = petri__err(err, errno, "start sandbox init");
		goto fail;
	}
	close(sync_pipe[1]);
	sync_pipe[1] = -1;
	/* While init builds the root: nothing of the code's runs before we
	 * return, and init's own use is small. */
	if ((r = petri__cgroup_set_limits(&sb->cgroup, sb->memory_bytes, sb->pids_max, err)) < 0)
		goto fail;
	if ((r = wait_ready(sb, err)) < 0)
		goto fail;

	pthread_mutex_lock(&ctx->lock);
	sb->next = ctx->sandboxes;
	ctx->sandboxes = sb;
	pthread_mutex_unlock(&ctx->lock);
	petri__audit_sandbox_created(sb);
	/* From here on: init's own setup (the library's, not the code's
	 * actions) stays out of the stream; init never execs anything. */
	petri__kaudit_watch_sandbox(sb);
	petri__log(ctx, PETRI_LOG_DEBUG, "sandbox %s: init pid %d, cgroup id %llu", sb->id, sb->pid,
		   (unsigned long long)sb->cgroup.id);
	*out = sb;
	return 0;

fail:
	if (cfg.workspace_tree_fd >= 0)
		close(cfg.workspace_tree_fd);
	for (int i = 0; i < 2; i++) {
		if (sync_pipe[i] >= 0)
			close(sync_pipe[i]);
		if (sp[i] >= 0)
			close(sp[i]);
	}
	free_sandbox(sb, 0);
	return r;
}

int petri__sandbox_listen(petri_sandbox *sb, int family, uint16_t port, petri_error **err)
{
	if (!sb)
		return petri__err(err, EINVAL, "petri__sandbox_listen: sb is NULL");
	if (family != AF_INET && family != AF_INET6)
		return petri__err(err, EAFNOSUPPORT,
				  "listen: address family %d (AF_INET or AF_INET6)", family);
	if (sb->dead || petri_sandbox_init_pid(sb) < 0)
		return petri__err(err, ECHILD, "sandbox %s: init is gone", sb->id);
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return petri__err(err, errno, "listen: reply channel");
	struct petri_msg m = {.type = PETRI_MSG_LISTEN, .stage = (uint32_t)family, .status = port};
	int r = petri__msg_send(sb->ctl_fd, &m, &sp[1], 1);
	close(sp[1]);
	if (r == -EPIPE) { /* the last exec has ended: init is on its way out */
		close(sp[0]);
		return petri__err(err, ECHILD, "sandbox %s: init is gone", sb->id);
	}
	if (r < 0) {
		close(sp[0]);
		return petri__err(err, r, "sandbox %s: send the listen request", sb->id);
	}
	struct pollfd p = {.fd = sp[0], .events = POLLIN};
	int n;
	do
		n = poll(&p, 1, READY_TIMEOUT_MS);
	while (n < 0 && errno == EINTR);
	int fd = -1, nfds = 1;
	struct petri_msg reply;
	r = n > 0 ? petri__msg_recv(sp[0], &reply, &fd, &nfds) : -ETIMEDOUT;
	close(sp[0]);
	if (r == 0)
		r = -ECHILD; /* init closed the channel without an answer */
	if (r < 0)
		return petri__err(err, r, "sandbox %s: no answer to the listen request", sb->id);
	if (reply.type == PETRI_MSG_LISTENING && nfds == 1)
		return fd;
	if (nfds == 1)
		close(fd);
	reply.text[sizeof(reply.text) - 1] = '\0';
	return petri__err(err, reply.err ? reply.err : EPROTO, "sandbox %s: %s", sb->id,
			  reply.type == PETRI_MSG_SETUP_ERROR ? reply.text : "unexpected answer");
}

PETRI_API const char *petri_sandbox_id(const petri_sandbox *sb)
{
	return sb ? sb->id : "";
}

PETRI_API int petri_sandbox_init_pid(const petri_sandbox *sb)
{
	if (!sb || sb->dead || sb->pidfd < 0)
		return -1;
	/* A pidfd polls readable once its process has exited. */
	struct pollfd p = {.fd = sb->pidfd, .events = POLLIN};
	return poll(&p, 1, 0) == 0 ? sb->pid : -1;
}

PETRI_API int64_t petri_sandbox_host_uid(const petri_sandbox *sb)
{
	return sb ? (int64_t)sb->host_uid : -1;
}

PETRI_API uint64_t petri_sandbox_cgroup_id(const petri_sandbox *sb)
{
	return sb ? sb->cgroup.id : 0;
}
