/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox_priv.h - the context, sandbox and result objects, and the wire
 * protocol between the host and a sandbox's init process.
 */
#ifndef PETRI_SANDBOX_PRIV_H
#define PETRI_SANDBOX_PRIV_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

#include "internal.h"

/* Defaults of an exec's limits.  exec.c applies them and defines the same
 * macros itself; an identical redefinition is allowed, a different one is a
 * "redefined" warning (-Werror), so the audit's LimitHit values (which need
 * them: audit_hooks.c) cannot drift from what exec.c applies. */
#define DEFAULT_TIMEOUT_MS 30000ull
#define DEFAULT_OUTPUT_MAX (1ull << 20)
#define DEFAULT_OUTPUT_KILL (64ull << 20)
#define DEFAULT_FSIZE (1ull << 30)

/* The CPU limit of an exec in ms: @o->cpu_ms, or by default more than the
 * wall timeout allows on every CPU (exec.c's default_cpu_ms()). */
static inline uint64_t petri__exec_cpu_ms(const petri_exec_opts *o, uint64_t timeout_ms)
{
	if (o->cpu_ms)
		return o->cpu_ms;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	return timeout_ms * (uint64_t)(ncpu > 0 ? ncpu : 1) + 1000;
}

#define PETRI_SANDBOX_UID 1000
#define PETRI_SANDBOX_GID 1000
#define PETRI_ID_MAX 48
#define PETRI_MAX_BINDS 64
#define PETRI_PATH_MAX 4096

struct petri_spawn_req;

struct petri_ctx {
	uint32_t log_level;
	petri_log_fn log_fn;
	void *log_userdata;
	uint32_t flags;
	uid_t host_uid_base;
	int default_uid_base;
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
};

/* One bind, parsed on the host. */
struct petri_bind {
	char src[PETRI_PATH_MAX];
	char dst[PETRI_PATH_MAX];
	int rw;
};

/*
 * Everything init needs.  An exec'd init gets it as a memfd holding this
 * struct (pointers zeroed), then nbinds binds, then seccomp_len filter
 * instructions; a forked one reads the host's copy.  Either way init never
 * allocates.
 */
#define PETRI_INIT_CFG_MAGIC 0x50494e31u
struct petri_init_cfg {
	uint32_t magic;
	uint32_t seccomp_len; /* instructions following the binds (memfd form) */
	int execed;           /* init runs the embedded executable, not a fork */
	char id[PETRI_ID_MAX + 1];
	char hostname[65];
	char rootfs[PETRI_PATH_MAX]; /* "" = host /usr etc. */
	char workspace_dir[PETRI_PATH_MAX];
	struct petri_bind *binds;
	int nbinds;
	uint64_t tmp_bytes;
	uint64_t workspace_bytes;
	uint32_t net;
	uint32_t flags;
	int landlock;
	int host_is_root;
	int sync_fd;  /* read: host says go (uid maps written) */
	int ctl_fd;   /* init's end of the control socket */
	int close_fd; /* host's end, closed in the child */
	int drop_groups;
	const struct petri_seccomp_prog *seccomp;
	int workspace_tree_fd; /* detached idmapped mount of workspace_dir made by the host, or -1 */
};

struct petri_sandbox {
	struct petri_ctx *ctx;
	struct petri_sandbox *next;
	char id[PETRI_ID_MAX + 1];
	char language[16];
	int pid;
	int pidfd;
	int ctl_fd;
	int workspace_fd; /* O_PATH of /workspace inside, sent by init */
	int cancel_fd;    /* eventfd: petri_sandbox_cancel() */
	int dead;
	int finished; /* ran an exec flagged PETRI_EXEC_LAST (under busy) */
	int killed;   /* destruction began: init was sent SIGKILL */
	int died;     /* init had died before destruction began */
	int busy;
	uid_t host_uid;
	gid_t host_gid;
	char **env; /* NULL-terminated copy of opts->env */
	uint32_t pids_max;
	uint64_t memory_bytes;
	uint64_t exec_serial;
	uint64_t running_exec; /* exec_serial of the exec running, or 0 (atomic) */
	uint64_t cancel_for;   /* exec a petri_sandbox_cancel() aimed at (atomic) */
	struct petri_cgroup cgroup;
	struct petri_audit *audit; /* borrowed, or NULL */
	int kwatched;              /* the kernel audit watches our cgroup */
	/* The last seccomp denial's process (audit_hooks.c): a flood from one
	 * process looks its host pid up once. */
	uint64_t denial_exec;
	int denial_inside;
	uint32_t denial_host;
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

/* ---- wire protocol (SOCK_SEQPACKET; one struct per message) ---- */

enum petri_msg_type {
	PETRI_MSG_READY = 1,   /* init -> host, with the /workspace fd */
	PETRI_MSG_SETUP_ERROR, /* init -> host */
	PETRI_MSG_EXEC,        /* host -> init, with the request memfd + stdio fds;
				* stage = 1: the last exec, prepare no next one */
	PETRI_MSG_STARTED,     /* init -> host */
	PETRI_MSG_DONE,        /* init -> host */
	PETRI_MSG_KILL,        /* host -> init */
	PETRI_MSG_DENIAL,      /* reaper -> host: stage = syscall nr, status = pid inside,
				* exec_id = audit arch, cpu_ns = denials not reported before */
	PETRI_MSG_LISTEN,      /* host -> init, with a reply socket: stage = address
			      * family, status = port; answered on the reply socket
			      * by LISTENING with the fd, or SETUP_ERROR */
	PETRI_MSG_LISTENING,   /* init -> host */
};

#define PETRI_STAGE_MSG_MAX 256

struct petri_msg {
	uint32_t type;
	uint32_t stage; /* which setup step failed (SETUP_ERROR, DONE) */
	int32_t err;    /* errno of the failure, 0 if none */
	int32_t status; /* wait status of the main process (DONE) */
	uint64_t exec_id;
	uint64_t cpu_ns; /* rusage of the exec's whole process tree */
	uint64_t maxrss; /* bytes */
	char text[PETRI_STAGE_MSG_MAX];
};

/* The exec request, serialised into a memfd: this header, then argc+envc
 * NUL-terminated strings, cwd, then code_len bytes of code. */
struct petri_exec_req {
	uint32_t magic;
	uint32_t argc;
	uint32_t envc;
	uint32_t flags;
	uint64_t code_len;
	uint64_t cpu_s;
	uint64_t fsize;
	uint64_t nofile;
	uint64_t nproc;     /* 0: no RLIMIT_NPROC (cgroup pids in force) */
	char code_name[32]; /* file name for the code under /run/petri, or "" */
};
#define PETRI_EXEC_REQ_MAGIC 0x50455831u

/* Library-side audit events (no-ops without an audit stream or when the
 * build has no audit layer).  audit_hooks.c */
void petri__audit_sandbox_created(const struct petri_sandbox *sb);
void petri__audit_sandbox_destroyed(const struct petri_sandbox *sb, int died);
void petri__audit_exec_started(const struct petri_sandbox *sb, const petri_exec_opts *o,
			       const char *cwd, const char *language);
void petri__audit_exec_ended(const struct petri_sandbox *sb, const petri_exec_opts *o,
			     const struct petri_result *res);
/* The exec audited as started could not run (petri_sandbox_exec fails):
 * its ExecEnded, reason "failed", after @wall_ns. */
void petri__audit_exec_failed(const struct petri_sandbox *sb, const petri_exec_opts *o,
			      uint64_t wall_ns);
/* @m: the reaper's PETRI_MSG_DENIAL (syscall, arch, pid and who it is). */
void petri__audit_seccomp_denial(struct petri_sandbox *sb, const struct petri_msg *m);
/* @count denials the reaper counted but could not report one by one. */
void petri__audit_denials_unreported(const struct petri_sandbox *sb, uint64_t count);
/* Load the kernel audit once per context (1: on, 0: off with
 * ctx->kaudit_reason); start/stop watching a sandbox's cgroup. */
int petri__kaudit_ensure(struct petri_ctx *ctx);
void petri__kaudit_watch_sandbox(struct petri_sandbox *sb);
void petri__kaudit_unwatch_sandbox(struct petri_sandbox *sb);
void petri__kaudit_close_ctx(struct petri_ctx *ctx);

/* A TCP socket listening on the loopback address of @family (AF_INET or
 * AF_INET6) and @port (0: any) inside @sb's network namespace, made by init
 * and handed to the host, which accepts on it: the seam for the host-side
 * egress proxy (DESIGN.md "Network").  The fd (close-on-exec) or -errno. */
int petri__sandbox_listen(struct petri_sandbox *sb, int family, uint16_t port, petri_error **err);

/* init.c */
_Noreturn void petri__init_main(const struct petri_init_cfg *cfg);

/* The init executable (init_main.c), embedded at build time (init_image.S);
 * absent (equal symbols) in a build without it. */
extern const unsigned char petri__init_image[];
extern const unsigned char petri__init_image_end[];

/* mounts.c (run inside init, malloc-free) */
int petri__rootfs_build(const struct petri_init_cfg *cfg, char *msg, size_t msglen);
int petri__proc_mount(const char *target, char *msg, size_t msglen);

/* lang.c */
struct petri_lang {
	const char *name;
	const char *file;        /* code file name */
	const char *const *argv; /* argv prefix before the code file */
};
const struct petri_lang *petri__lang_find(const char *name);

/* Send/receive a message with up to @nfds fds. */
int petri__msg_send(int sock, const struct petri_msg *m, const int *fds, int nfds);
int petri__msg_recv(int sock, struct petri_msg *m, int *fds, int *nfds);

#endif /* PETRI_SANDBOX_PRIV_H */
