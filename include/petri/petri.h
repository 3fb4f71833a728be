/* SPDX-License-Identifier: Apache-2.0 */
/*
 * petri.h - the public API of libpetri, an embeddable Linux sandbox.
 *
 * This header is the contract: anything not declared here is not API.
 *
 * Conventions
 *  - Functions return 0 (or a positive value where stated) on success and a
 *    negative errno on failure.  Where a function takes `petri_error **err`,
 *    a non-NULL pointer receives a heap-allocated error with a one-line human
 *    message naming the operation (free it with petri_error_free()).  There is
 *    no thread-local error state: callers from Go or Python never need to pin
 *    threads.
 *  - Output parameters are left untouched on failure.
 *  - Options structs begin with `sz`, the size the caller was compiled
 *    against; initialise them with the PETRI_*_OPTS_INIT macro or the
 *    petri_*_opts_init() function (for FFI callers).  Fields the caller does
 *    not know about take their defaults.  Integer fields left at 0 take the
 *    documented default.  Fields are fixed-width integers or pointers so the
 *    layout is the same from C, ctypes and cgo.
 *  - Strings passed in are copied; the library never keeps caller pointers
 *    after a call returns.  Objects returned through `**out` belong to the
 *    caller and are freed with the matching petri_*_free(), which accepts NULL.
 *  - The library never prints, aborts or exits; diagnostics go to the log
 *    callback installed in the context options.
 */
#ifndef PETRI_PETRI_H
#define PETRI_PETRI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(PETRI_BUILDING_LIBRARY) && defined(__GNUC__)
#define PETRI_API __attribute__((visibility("default")))
#else
#define PETRI_API
#endif

#define PETRI_VERSION_MAJOR 0
#define PETRI_VERSION_MINOR 1
#define PETRI_VERSION_PATCH 0
#define PETRI_VERSION_STRING "0.1.0"

/** The library's version as "MAJOR.MINOR.PATCH" (static storage). */
PETRI_API const char *petri_version(void);

/* ------------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------- */

typedef struct petri_error petri_error;

/** The human message, e.g. "mount /usr on /newroot/usr: Permission denied".
 *  Borrowed from @err; valid until petri_error_free(). NULL-safe ("" for NULL). */
PETRI_API const char *petri_error_message(const petri_error *err);
/** The negative errno carried by @err (0 for NULL). */
PETRI_API int petri_error_code(const petri_error *err);
/** Free an error; accepts NULL. */
PETRI_API void petri_error_free(petri_error *err);

/* ------------------------------------------------------------------------
 * Context: one per host application (or per tenant).  Owns the supervisor
 * thread that spawns sandboxes, the cached seccomp program and the cgroup
 * layout.  Thread-safe: sandboxes of one context may be used from different
 * threads, one thread per sandbox at a time.
 * ---------------------------------------------------------------------- */

typedef struct petri_ctx petri_ctx;

#define PETRI_LOG_ERROR 0
#define PETRI_LOG_WARN 1
#define PETRI_LOG_INFO 2
#define PETRI_LOG_DEBUG 3

/** Log callback; @msg is one line without a trailing newline. */
typedef void (*petri_log_fn)(int level, const char *msg, void *userdata);

typedef struct petri_ctx_opts {
	uint32_t sz;         /* sizeof(petri_ctx_opts) */
	uint32_t log_level;  /* highest level passed to log_fn; default PETRI_LOG_WARN */
	petri_log_fn log_fn; /* NULL: no logging */
	void *log_userdata;
	/* Where the host ids of sandboxes start when the host process is root.
	 * Each sandbox then maps its ids 0..65535 (uid and gid) onto a range of
	 * 65536 host ids of its own, START = base + k * 65536 (uid 1000 inside
	 * is START + 1000, see petri_sandbox_host_uid()); host root maps to no
	 * id inside.  A range is claimed while its sandbox lives (an OFD lock
	 * on /run/petri/host-ids.lock), so live sandboxes of any petri host
	 * processes never share ids; k is first tried from a hash of the host
	 * pid and a per-process serial (base 0) or serial % ranges (a base of
	 * your own), then the next free range.  0: 3355443200 (0xc8000000),
	 * which leaves 14335 ranges, none a real user's.  At most 0xfffeffff
	 * (petri_ctx_new() fails with -EINVAL above).  Ignored when not root:
	 * then the caller's own uid/gid is the sandbox user and the only id
	 * inside. */
	uint32_t host_uid_base;
	uint32_t flags; /* PETRI_CTX_F_* */
} petri_ctx_opts;

/* Refuse to create sandboxes when cgroup limits cannot be enforced (instead
 * of falling back to rlimits with a warning). */
#define PETRI_CTX_F_REQUIRE_CGROUPS (1u << 0)

/* clang-format off */
#define PETRI_CTX_OPTS_INIT {sizeof(petri_ctx_opts), PETRI_LOG_WARN, NULL, NULL, 0, 0}
/* clang-format on */
PETRI_API void petri_ctx_opts_init(petri_ctx_opts *opts);

/** Create a context. @opts may be NULL for defaults.  [out] @out. */
PETRI_API int petri_ctx_new(petri_ctx **out, const petri_ctx_opts *opts, petri_error **err);
/** Destroy a context and every sandbox still open in it; accepts NULL. */
PETRI_API void petri_ctx_free(petri_ctx *ctx);

/* How the context enforces memory and pids limits. */
#define PETRI_CGROUP_NONE 0 /* no writable cgroup: rlimit fallbacks only */
#define PETRI_CGROUP_V1 1   /* v1 controllers (hybrid hosts) */
#define PETRI_CGROUP_V2 2   /* unified hierarchy with controllers */
/**
 * Whether the kernel (eBPF) half of the audit layer is on for this context:
 * loads it on first call (it needs root or CAP_BPF+CAP_PERFMON and a kernel
 * with BTF).  Returns 1 when on, 0 when off with [out] @reason (borrowed
 * from @ctx) saying why, -EINVAL for NULL.  Sandboxes with an audit stream
 * get kernel events (process exec/fork/exit, file and network activity)
 * only when it is on; library-side events flow either way.
 */
PETRI_API int petri_ctx_kernel_audit(petri_ctx *ctx, const char **reason);

/** Which cgroup mode the context uses (PETRI_CGROUP_*). */
PETRI_API int petri_ctx_cgroup_mode(const petri_ctx *ctx);

/* ------------------------------------------------------------------------
 * Sandboxes
 * ---------------------------------------------------------------------- */

typedef struct petri_sandbox petri_sandbox;

#define PETRI_NET_NONE 0  /* own network namespace with only lo (default) */
#define PETRI_NET_HOST 1  /* share the host's network (trusted code only) */
#define PETRI_NET_PROXY 2 /* reserved: egress through the host proxy */

typedef struct petri_sandbox_opts {
	uint32_t sz;
	uint32_t flags;       /* PETRI_SANDBOX_F_* */
	const char *language; /* "python", "node", "go", "sh" or NULL */
	const char *id;       /* [a-zA-Z0-9_-]{1,48}; NULL: generated "sb_<hex>" */
	const char *hostname; /* NULL: "petri" */
	const char *rootfs;   /* custom root directory, bound read-only; NULL: host /usr etc. */
	const char *workspace_dir; /* host dir bound read-write at /workspace; NULL: private tmpfs */
	const char *const *binds;  /* NULL-terminated "SRC:DST[:rw|:ro]", read-only by default */
	const char *const *env;    /* NULL-terminated "K=V", passed to every exec */
	uint64_t memory_bytes;     /* cgroup memory limit; default 512 MiB */
	uint64_t tmp_bytes;        /* size of /tmp (tmpfs); default 64 MiB */
	uint64_t workspace_bytes;  /* size of the /workspace tmpfs; default 256 MiB;
				    * 0 with workspace_dir (else EINVAL) */
	uint32_t pids_max;         /* processes+threads; default 256 */
	uint32_t net;              /* PETRI_NET_*; default none */
	/* Audit stream (petri/audit.h) that receives this sandbox's lifecycle,
	 * exec and limit events; borrowed: must outlive the sandbox.  NULL:
	 * none. */
	struct petri_audit *audit;
} petri_sandbox_opts;

/* Do not apply Landlock even where the kernel offers it (debugging only). */
#define PETRI_SANDBOX_F_NO_LANDLOCK (1u << 0)

/* clang-format off */
#define PETRI_SANDBOX_OPTS_INIT {sizeof(petri_sandbox_opts), 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, NULL}
/* clang-format on */
PETRI_API void petri_sandbox_opts_init(petri_sandbox_opts *opts);

/**
 * Create a sandbox: a cgroup, and an init process in new user, pid, mount,
 * net, uts, ipc and cgroup namespaces holding a fresh minimal root.
 * Returns 0 and [out] @out, or a negative errno:
 *  -EINVAL bad options (message says which), -ENOENT a bind source or the
 *  rootfs is missing, -EPERM the kernel refused a namespace, ...
 */
PETRI_API int petri_sandbox_create(petri_ctx *ctx, const petri_sandbox_opts *opts,
				   petri_sandbox **out, petri_error **err);

/**
 * Destroy a sandbox: kill every process in it, reap init, remove its cgroup
 * and workspace.  Nothing remains.  Accepts NULL.  Must not race with an
 * exec on the same sandbox from another thread.
 */
PETRI_API void petri_sandbox_destroy(petri_sandbox *sb);

/** The sandbox id (borrowed). */
PETRI_API const char *petri_sandbox_id(const petri_sandbox *sb);
/** Host pid of the sandbox's init, or -1 once it has died. */
PETRI_API int petri_sandbox_init_pid(const petri_sandbox *sb);
/** Host uid the sandbox's user (uid 1000 inside) runs as, or -1 for NULL.
 * On a root host the sandbox's ids 0..65535 map from this value - 1000. */
PETRI_API int64_t petri_sandbox_host_uid(const petri_sandbox *sb);
/** cgroup v2 inode id of the sandbox (for BPF filtering), or 0 if none. */
PETRI_API uint64_t petri_sandbox_cgroup_id(const petri_sandbox *sb);

/* ------------------------------------------------------------------------
 * Exec
 * ---------------------------------------------------------------------- */

#define PETRI_STREAM_STDOUT 1
#define PETRI_STREAM_STDERR 2

/** Streaming callback, called on the exec's thread as output arrives, for
 *  every byte up to output_kill_bytes (captured or not).  Return 0 to go
 *  on, non-zero to kill the exec (reason "killed"). */
typedef int (*petri_output_fn)(int stream, const char *data, size_t len, void *userdata);

typedef struct petri_exec_opts {
	uint32_t sz;
	uint32_t flags; /* PETRI_EXEC_* below, or 0 */
	/* Exactly one of argv and code.  argv[0] is looked up in PATH inside. */
	const char *const *argv; /* NULL-terminated; argv and env together at most
				  * 4096 entries and 1 MiB (else E2BIG) */
	const char *code;        /* source in the sandbox's language (or opts language);
				  * at most 8 MiB (else E2BIG) */
	const char *language;    /* overrides the sandbox's language for @code */
	const char *const *env;  /* NULL-terminated "K=V", on top of the sandbox env */
	const char *cwd;         /* default /workspace */
	const void *stdin_data;  /* bytes fed to stdin, then EOF; NULL: /dev/null-like EOF */
	uint64_t stdin_len;
	uint64_t timeout_ms; /* wall clock; default 30000 */
	uint64_t cpu_ms; /* CPU time per process (RLIMIT_CPU); default: more than the timeout allows */
	uint64_t stdout_max;        /* bytes captured; default 1 MiB */
	uint64_t stderr_max;        /* bytes captured; default 1 MiB */
	uint64_t output_kill_bytes; /* total output after which the exec is killed; default 64 MiB */
	uint64_t file_size_max;     /* RLIMIT_FSIZE; default 1 GiB */
	uint32_t nofile_max;        /* RLIMIT_NOFILE; default 1024 */
	uint32_t reserved0;
	petri_output_fn on_output;
	void *userdata;
} petri_exec_opts;

/* This is the sandbox's last exec: its init prepares no namespace for a next
 * one and exits as soon as this exec is over, so that destroy has nothing
 * left to wait for (a create+exec+destroy cycle took ~0.8 ms less, 4.1 ms
 * instead of 4.9, on a 2-CPU machine; `petri run` sets it).
 * Afterwards files in /workspace can still be read and written; a further
 * exec fails with ESRCH. */
#define PETRI_EXEC_LAST (1u << 0)

/* Every process an exec starts lives in the exec's own pid namespace and
 * dies when the exec's main process exits: nothing outlives an exec. */

/* clang-format off */
#define PETRI_EXEC_OPTS_INIT {sizeof(petri_exec_opts), 0, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL}
/* clang-format on */
PETRI_API void petri_exec_opts_init(petri_exec_opts *opts);

/* Why an exec ended (petri_result_reason()). */
#define PETRI_REASON_EXITED 0        /* main process exited by itself */
#define PETRI_REASON_SIGNALED 1      /* killed by a signal it received or raised */
#define PETRI_REASON_TIMEOUT 2       /* wall-clock timeout */
#define PETRI_REASON_MEMORY 3        /* cgroup OOM killer */
#define PETRI_REASON_PIDS 4          /* pids limit hit and the exec failed */
#define PETRI_REASON_OUTPUT_LIMIT 5  /* output_kill_bytes exceeded */
#define PETRI_REASON_KILLED 6        /* killed by the host (cancel, callback) */
#define PETRI_REASON_SECCOMP 7       /* killed by the seccomp filter (SIGSYS) */
#define PETRI_REASON_CPU 8           /* CPU time limit */
#define PETRI_REASON_FILE_SIZE 9     /* file size limit (SIGXFSZ) */
#define PETRI_REASON_SANDBOX_DIED 10 /* the sandbox's init died under it */
#define PETRI_REASON_FAILED                                                                        \
	11 /* audit streams only: the exec could not run
				      * (petri_sandbox_exec returned an error) */

/** "exited", "signaled", "timeout", "memory", "pids", "output_limit",
 *  "killed", "seccomp", "cpu", "file_size", "sandbox_died", "failed";
 *  "unknown" otherwise (static storage). */
PETRI_API const char *petri_reason_name(int reason);

/* Limits hit during the exec (bits of petri_result_limits_hit()). */
#define PETRI_LIMIT_MEMORY (1u << 0)
#define PETRI_LIMIT_PIDS (1u << 1)
#define PETRI_LIMIT_OUTPUT (1u << 2) /* a capture cap truncated output, or output_kill_bytes hit */
#define PETRI_LIMIT_TIMEOUT (1u << 3)
#define PETRI_LIMIT_CPU (1u << 4)
#define PETRI_LIMIT_FILE_SIZE (1u << 5)

/** "memory", "pids", "output", "timeout", "cpu", "file_size" for one
 *  PETRI_LIMIT_* bit; NULL for any other value (static storage). */
PETRI_API const char *petri_limit_name(uint32_t bit);

typedef struct petri_result petri_result;

/**
 * Run a command or code in the sandbox and wait for it.  Files written to
 * /workspace persist for later execs of the same sandbox.
 * Returns 0 with [out] @out when the command ran (whatever its exit status);
 * a negative errno when it could not be started: -EINVAL bad options,
 * -ENOENT program not found, -EACCES not executable, -ESRCH the sandbox is
 * dead, -EBUSY another exec is running on the sandbox.
 */
PETRI_API int petri_sandbox_exec(petri_sandbox *sb, const petri_exec_opts *opts, petri_result **out,
				 petri_error **err);

/**
 * Kill the exec running on @sb, if any (reason "killed").  Safe to call from
 * any thread and from a signal-free context while petri_sandbox_exec() runs.
 */
PETRI_API int petri_sandbox_cancel(petri_sandbox *sb);

PETRI_API void petri_result_free(petri_result *res);
PETRI_API int petri_result_reason(const petri_result *res);
/** Exit code (0-255), or -1 when the main process was killed by a signal. */
PETRI_API int petri_result_exit_code(const petri_result *res);
/** Terminating signal, or 0. */
PETRI_API int petri_result_signal(const petri_result *res);
PETRI_API uint32_t petri_result_limits_hit(const petri_result *res);
PETRI_API uint64_t petri_result_wall_ns(const petri_result *res);
PETRI_API uint64_t petri_result_cpu_ns(const petri_result *res);
PETRI_API uint64_t petri_result_peak_memory_bytes(const petri_result *res);
/** Captured output (borrowed, not NUL-terminated; may contain NULs). */
PETRI_API const char *petri_result_stdout(const petri_result *res, size_t *len);
PETRI_API const char *petri_result_stderr(const petri_result *res, size_t *len);
/** 1 when output beyond the capture cap was dropped. */
PETRI_API int petri_result_stdout_truncated(const petri_result *res);
PETRI_API int petri_result_stderr_truncated(const petri_result *res);
/** Total bytes the process wrote to the stream (captured or not). */
PETRI_API uint64_t petri_result_stdout_total(const petri_result *res);
PETRI_API uint64_t petri_result_stderr_total(const petri_result *res);
/** How many syscalls the seccomp filter denied (with EPERM) during the exec;
 *  each is also an audit event when the sandbox has an audit stream. */
PETRI_API uint64_t petri_result_seccomp_denials(const petri_result *res);

/* ------------------------------------------------------------------------
 * Files in and out of /workspace.  Paths are relative to /workspace (a
 * leading "/workspace/" or "/" is accepted); ".." components, symlinks and
 * mount crossings planted by sandboxed code are refused (openat2
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV).
 * ---------------------------------------------------------------------- */

/** Write @len bytes to @path (created or truncated, mode & 07777; parent
 *  directories are created). */
PETRI_API int petri_sandbox_write_file(petri_sandbox *sb, const char *path, const void *data,
				       size_t len, uint32_t mode, petri_error **err);
/** Read the whole file at @path (at most @max bytes; 0 = 64 MiB).  [out]
 *  @data is malloc'd (free with petri_free()), [out] @len its length. */
PETRI_API int petri_sandbox_read_file(petri_sandbox *sb, const char *path, uint64_t max,
				      void **data, size_t *len, petri_error **err);
/** Free memory the library returned. */
PETRI_API void petri_free(void *p);

#ifdef __cplusplus
}
#endif
#endif /* PETRI_PETRI_H */
