/* SPDX-License-Identifier: Apache-2.0 */
/*
 * host.h - the host's own objects: the context, the sandbox and the
 * result, and the interfaces between the host library's files.  What the
 * host shares with init is in init/protocol.h.
 */
#ifndef PETRI_HOST_H
#define PETRI_HOST_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

#include "internal.h"
#include "defaults.h"

/*
 * The limits of one exec, worked out once per exec from its petri_exec_opts,
 * the sandbox and the defaults (defaults.h) by exec.c's exec_limits(): the
 * request to init, the pump loop, the reason classification and the audit
 * hooks all read them here, and none applies a default of its own.
 */
struct petri_exec_limits {
	uint64_t timeout_ms;        /* wall clock */
	uint64_t cpu_ms;            /* CPU time per process, as asked or defaulted */
	uint64_t cpu_s;             /* RLIMIT_CPU in force: cpu_ms rounded up to seconds */
	uint64_t output_max[2];     /* capture caps of stdout, stderr */
	uint64_t output_kill_bytes; /* total output after which the exec is killed */
	uint64_t file_size_max;     /* RLIMIT_FSIZE */
	uint32_t nofile_max;        /* RLIMIT_NOFILE */
	uint32_t nproc;             /* RLIMIT_NPROC (no cgroup: pids_max per uid), or 0: none */
	/* The sandbox's own, which the exec runs under (cgroup). */
	uint64_t memory_bytes;
	uint32_t pids_max;
};

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
	uid_t userns_owner; /* host euid to create the user namespace with; 0: ours */
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

struct petri_ctx {
	uint32_t log_level;
	petri_log_fn log_fn;
	void *log_userdata;
	uint32_t flags;
	uid_t host_uid_base;
	int default_uid_base;
	int host_ids_lock_warned; /* said once that ranges are hashed only */
	int is_root;
	uid_t uid;
	gid_t gid;
	struct petri_cgroup_layout cgroups;
	struct petri_seccomp_prog seccomp;
	uint32_t landlock_abi; /* 0: none */

	/* Kernel (eBPF) audit, loaded on first need; kaudit_tried says whether
	 * that happened, kaudit_reason why it is off. */
	struct petri_kaudit *kaudit;
	int kaudit_tried;
	char kaudit_reason[256];
	/* A load running on its own thread (audit_hooks.c), NULL: none. */
	struct petri__kaudit_load *kaudit_load;

	/* The unix socket guard's BPF programs (unix_guard.c), loaded on the
	 * first sandbox that needs them, under unix_guard_mu (not lock: the
	 * load takes up to ~20 ms).  A failed load is not retried:
	 * unix_guard_err (negative errno) and unix_guard_reason say why. */
	pthread_mutex_t unix_guard_mu;
	struct petri_unix_guard_bpf *unix_guard;
	int unix_guard_err;
	char unix_guard_reason[256];

	pthread_mutex_t lock;
	struct petri_sandbox *sandboxes; /* list of live sandboxes */

	/* The supervisor thread forks every init, so PR_SET_PDEATHSIG (which
	 * fires when the forking *thread* exits) lasts as long as the context. */
	pthread_t supervisor;
	int supervisor_running;
	pthread_cond_t cond;
	struct petri_spawn_req *pending;
	int stopping;
	int init_mode;     /* INIT_EXEC or INIT_FORK (sandbox.c; atomic) */
	int init_image_fd; /* sealed memfd of the init executable, or -1 */

	/* The egress proxy's thread and event loop (net/proxy.c), started by
	 * the first PETRI_NET_PROXY sandbox; NULL until then.  Under lock. */
	struct petri_proxy *proxy;

	/* The warm pool and its refill thread (pool.c); NULL without
	 * petri_ctx_opts.warm. */
	struct petri_pools *pools;
};

struct petri_sandbox {
	struct petri_ctx *ctx;
	struct petri_sandbox *next;
	char id[PETRI_ID_MAX + 1];
	char language[16];
	int custom_root; /* a rootfs was given: no /etc/petri inside (init/mounts.c) */
	int pid;
	int pidfd;
	int ctl_fd;
	int workspace_fd; /* O_PATH of /workspace inside, sent by init */
	int cancel_fd;    /* eventfd: petri_sandbox_cancel() */
	int dead;
	int finished; /* ran an exec flagged PETRI_EXEC_LAST (under busy) */
	int one_exec; /* PETRI_SANDBOX_F_ONE_EXEC: init is the exec's reaper */
	int killed;   /* destruction began: init was sent SIGKILL */
	int died;     /* init had died before destruction began */
	int busy;
	uid_t host_uid; /* of the sandbox user: host_ids_start + 1000 on a root host */
	gid_t host_gid;
	uint32_t host_ids_start; /* root host: inside ids 0..65535 map from here */
	int host_ids_lock_fd;    /* holds the claim on that range (sandbox.c), or -1 */
	char **env;              /* NULL-terminated copy of opts->env */
	uint32_t pids_max;
	uint32_t cpus_milli; /* CPU limit in thousandths of a CPU, 0: none */
	uint64_t memory_bytes;
	uint64_t exec_serial;
	uint64_t running_exec; /* exec_serial of the exec running, or 0 (atomic) */
	uint64_t cancel_for;   /* exec a petri_sandbox_cancel() aimed at (atomic) */
	struct petri_cgroup cgroup;
	struct petri_audit *audit; /* borrowed, or NULL */
	int kwatched;              /* the kernel audit watches our cgroup */
	/* Network (PETRI_NET_*); with PETRI_NET_PROXY the allowlist as given
	 * (NULL-terminated copy), the limits with defaults applied, and what
	 * the proxy serves the sandbox with (net/proxy.c), NULL when none. */
	uint32_t net;
	char **allow;
	uint32_t net_max_conns;
	uint64_t net_max_bytes;
	struct petri_proxy_sb *proxy;
	/* TenantVault: the sandbox's secrets (net/vault.h), NULL: none. */
	struct petri_vault *vault;
	/* Warm pool (pool.c): the index of the context's pool whose options
	 * the sandbox was created with, or -1 (none, or PETRI_SANDBOX_F_NO_POOL):
	 * only those are recycled.  reuses: recycles of this init so far. */
	int pool;
	uint64_t reuses;
};

struct petri_result {
	int reason;
	int exit_code;
	int signal;
	uint32_t limits_hit;
	uint64_t wall_ns;
	uint64_t cpu_ns;
	uint64_t peak_memory;
	char *out[2];
	size_t out_len[2];
	size_t out_cap[2];
	uint64_t out_total[2];
	int truncated[2];
	uint64_t seccomp_denials;
};

/* Library-side audit events (no-ops without an audit stream or when the
 * build has no audit layer).  audit_hooks.c */
void petri__audit_sandbox_created(const struct petri_sandbox *sb);
void petri__audit_sandbox_destroyed(const struct petri_sandbox *sb, int died);
void petri__audit_exec_started(const struct petri_sandbox *sb, const char *const *argv,
			       const char *cwd, const char *language,
			       const struct petri_exec_limits *lim);
void petri__audit_exec_ended(const struct petri_sandbox *sb, const struct petri_exec_limits *lim,
			     const struct petri_result *res);
/* The exec audited as started could not run (petri_sandbox_exec fails):
 * its ExecEnded, reason "failed", after @wall_ns. */
void petri__audit_exec_failed(const struct petri_sandbox *sb, const struct petri_exec_limits *lim,
			      uint64_t wall_ns);
/* @m: the reaper's PETRI_MSG_DENIAL (syscall, arch, pid and who it is);
 * @pid_host: the denying task's pid in the host's pid namespace, 0: unknown. */
void petri__audit_seccomp_denial(struct petri_sandbox *sb, const struct petri_msg *m,
				 uint32_t pid_host);
/* @count denials the reaper counted but could not report one by one. */
void petri__audit_denials_unreported(const struct petri_sandbox *sb, uint64_t count);
/* Load the kernel audit once per context (1: on, 0: off with
 * ctx->kaudit_reason); start/stop watching a sandbox's cgroup. */
int petri__kaudit_ensure(struct petri_ctx *ctx);
void petri__kaudit_watch_sandbox(struct petri_sandbox *sb);
void petri__kaudit_unwatch_sandbox(struct petri_sandbox *sb);
void petri__kaudit_close_ctx(struct petri_ctx *ctx);

/* unix_guard.c: the cgroup BPF backstop of the brokered unix connects
 * (petri_init_cfg.unix_guard).  _wanted: 1 when the sandbox's filesystem
 * can hold host unix sockets (a custom root, a workspace directory, a
 * writable bind not marked sockets), else 0.  _attach:
 * load the programs once per context and attach them to the cgroup2
 * directory @cgroup_v2_dirfd (BPF_F_ALLOW_MULTI; they stay until the
 * cgroup is removed); 0, -EOPNOTSUPP when this host cannot load them (no
 * CAP_BPF/CAP_PERFMON, no BTF, a kernel before 6.7), else -errno.
 * _close_ctx: free what the context loaded. */
int petri__unix_guard_wanted(const struct petri_init_cfg *cfg);
int petri__unix_guard_attach(struct petri_ctx *ctx, int cgroup_v2_dirfd, petri_error **err);
void petri__unix_guard_close_ctx(struct petri_ctx *ctx);

/* TenantVault (the use and misuse hooks are declared in net/vault.h):
 * @count SecretUse (@misuse 0) or SecretMisuse events the proxy counted
 * instead of writing, its audit budget spent: Loss {where: RATE_LIMIT}. */
void petri__audit_vault_suppressed(const struct petri_sandbox *sb, int misuse, uint64_t count);

/* spawn.c: start init for @req in the supervisor thread (started on first
 * use; with PETRI_CTX_F_CALLER_THREAD in the calling thread) and wait for
 * it; 0 or -errno.  petri__spawn_stop ends that thread. */
int petri__spawn_init(petri_ctx *ctx, struct petri_spawn_req *req);
void petri__spawn_stop(petri_ctx *ctx);
/*
 * The host's files open for writing, against the clones of init: a child
 * cloned without CLONE_FILES holds a copy of every fd of the process until
 * it executes init's image (close-on-exec), closes them or exits, and a
 * copy of a file open for writing makes every execve of that file fail
 * with ETXTBSY meanwhile.  The library's clones (init in exec mode, the
 * idmap helper) are counted while they may hold such copies, and
 * petri_sandbox_write_file() calls this after its close: it returns once
 * no clone is in flight, so no copy of the file's fd is left when the
 * caller runs it.  Creates never wait for writes.  (A fork-mode init keeps
 * copies until it closes the host's fds: not covered, README limits.)
 */
void petri__write_settle(void);

/* Write init's uid/gid maps (and setgroups) once it is cloned. */
int petri__spawn_write_id_maps(const petri_sandbox *sb, int pid, petri_error **err);
/* A root host's workspace directory as a detached idmapped mount for init
 * to attach: the fd, or -errno. */
int petri__spawn_workspace_tree(const petri_sandbox *sb, const char *dir, petri_error **err);

/* sandbox.c: petri_sandbox_create()'s options, copied (petri__opts_copy)
 * into @o and checked; 0 or -EINVAL with the message. */
int petri__sandbox_opts_read(petri_sandbox_opts *o, const petri_sandbox_opts *opts,
			     petri_error **err);
/* Build a sandbox for @o (read by petri__sandbox_opts_read) and publish it
 * (in the context's list, SandboxCreated); @pool: the pool whose options
 * it matches (its destroy may recycle it), or -1.  0 or -errno with
 * nothing left behind. */
int petri__sandbox_build(petri_ctx *ctx, const petri_sandbox_opts *o, int pool, petri_sandbox **out,
			 petri_error **err);
/* Take @sb out of its context's list (the first step of a destroy). */
void petri__sandbox_unlink(petri_sandbox *sb);
/* sandbox.c: close init's control socket and SIGKILL it, without waiting. */
void petri__sandbox_kill_init(petri_sandbox *sb);
/* sandbox.c, for the warm pool: build a default sandbox of @language (NULL:
 * none) as petri_sandbox_create() would, but not yet visible (not in the
 * context's list, no audit, no id the caller chose); 0 or -errno. */
int petri__sandbox_build_warm(petri_ctx *ctx, const char *language, petri_sandbox **out,
			      petri_error **err);
/* Give a ready sandbox from the pool what @o asks (id, env, audit, cgroup
 * limits) and make it visible as a created one (SandboxCreated, kernel
 * audit); 0 or -errno (then @sb is still the caller's to free). */
int petri__sandbox_take(petri_sandbox *sb, const petri_sandbox_opts *o, petri_error **err);
/* Does @o differ from a default sandbox of its language only in what a
 * take applies (petri_warm)? */
int petri__sandbox_opts_poolable(const petri_ctx *ctx, const petri_sandbox_opts *o);
/* Reset a destroyed sandbox for its next user (see petri_warm), in two
 * halves so that the pool can have several in flight: _start drops what
 * the host kept of the last user, gives init a new cgroup (the old one in
 * [out] @old) and sends PETRI_MSG_RESET; _finish (once sb->ctl_fd is
 * readable, or it waits) reads init's answer, checks that @old lists no
 * process and removes it.  0 each: clean and ready; -errno with @err: not
 * proven clean (after _start fails, _finish is not called; @old is then
 * removed by petri__cgroup_destroy, which accepts an empty one). */
int petri__sandbox_reset_start(petri_sandbox *sb, struct petri_cgroup *old, petri_error **err);
int petri__sandbox_reset_finish(petri_sandbox *sb, struct petri_cgroup *old, petri_error **err);
/* Kill, reap and free a sandbox; @created: emit its SandboxDestroyed. */
void petri__sandbox_free(petri_sandbox *sb, int created);

/* pool.c */
/* petri_ctx_opts.warm/nwarm as petri_ctx_new() accepts them: 0 or -EINVAL
 * with a one-line message naming the entry. */
int petri__warm_check(const petri_warm *warm, uint32_t nwarm, petri_error **err);
int petri__pools_new(petri_ctx *ctx, const petri_warm *warm, uint32_t nwarm, petri_error **err);
/* Stop the refill thread (it finishes what it is doing) and make every
 * later destroy tear down; then petri__pools_free destroys the pool's
 * sandboxes (after their inits were killed by petri__pools_kill). */
void petri__pools_stop(petri_ctx *ctx);
void petri__pools_kill(petri_ctx *ctx);
void petri__pools_free(petri_ctx *ctx);
/* pool.c also holds petri_sandbox_create() and petri_sandbox_destroy():
 * a create takes from a pool or builds (sandbox.c), a destroy recycles or
 * tears down.  The pool calls into sandbox.c, never the other way. */

/* A TCP socket listening on the loopback address of @family (AF_INET or
 * AF_INET6) and @port (0: any) inside @sb's network namespace, made by init
 * and handed to the host, which accepts on it: the seam for the host-side
 * egress proxy (DESIGN.md "Network").  The fd (close-on-exec) or -errno. */
int petri__sandbox_listen(struct petri_sandbox *sb, int family, uint16_t port, petri_error **err);
/* The same with PETRI_LISTEN_* @flags (init/protocol.h): a UDP socket, or
 * bound to the unspecified address instead of loopback. */
int petri__sandbox_socket(struct petri_sandbox *sb, int family, uint16_t port, uint32_t flags,
			  petri_error **err);
/* @n of them at once (one wake-up of init's): into @fds[0..n), or -errno
 * with none left open. */
struct petri_sock_req {
	int family;
	uint16_t port;
	uint32_t flags; /* PETRI_LISTEN_* */
};
int petri__sandbox_sockets(struct petri_sandbox *sb, size_t n, const struct petri_sock_req *reqs,
			   int *fds, petri_error **err);

/* lang.c */
struct petri_lang {
	const char *name;
	const char *file;        /* code file name under /run/petri */
	const char *const *argv; /* argv prefix before the source file */
	const char *const *env;  /* "K=V" its toolchain needs (every exec gets them) */
};
/* The language called @name; NULL with @err set (EINVAL, "unknown language
 * 'x' (expected python, node, go or sh)") for another name or NULL. */
const struct petri_lang *petri__lang_find(const char *name, petri_error **err);
/* The @i-th language, NULL past the last. */
const struct petri_lang *petri__lang_at(size_t i);

#endif /* PETRI_HOST_H */
