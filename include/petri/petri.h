/* SPDX-License-Identifier: Apache-2.0 */
/*
 * petri.h - the public API of libpetri, an embeddable Linux sandbox.
 *
 * This header is the contract: anything not declared here is not API.
 *
 * Conventions
 *  - Lifecycle verbs, one rule for every handle:
 *      new / free        a plain object the caller owns: petri_ctx_new() /
 *                        petri_ctx_free().  Objects the library hands out
 *                        through an [out] pointer (petri_result,
 *                        petri_error) are freed with their own *_free(),
 *                        memory it returns as void * or char * with
 *                        petri_free();
 *      create / destroy  an object with processes behind it, the sandbox:
 *                        petri_sandbox_create() / petri_sandbox_destroy();
 *      open / close      a stream (petri/audit.h): petri_audit_open() /
 *                        petri_audit_close(), petri_audit_reader_open() /
 *                        petri_audit_reader_close().
 *    Every free, destroy and close accepts NULL.  A *_opts_init() function
 *    only fills a struct the caller owns.
 *  - Functions return 0 (or a positive value where stated) on success and a
 *    negative errno on failure.  Where a function takes `petri_error **err`,
 *    a non-NULL pointer receives a heap-allocated error with a one-line human
 *    message naming the operation (free it with petri_error_free()); with a
 *    NULL @err the errno is still returned.  There is no thread-local error
 *    state: callers from Go or Python never need to pin threads.
 *  - Output parameters are left untouched on failure.
 *  - Options structs begin with `sz`, the size of the struct the caller was
 *    compiled against; initialise them with the PETRI_*_OPTS_INIT macro or
 *    the petri_*_opts_init() function (for FFI callers).  One rule holds for
 *    every sz-versioned struct the library reads (here and in
 *    petri/audit.h): sz below 8 or above 4096 is -EINVAL; an older caller's
 *    smaller struct is read up to its sz only, and the fields it lacks take
 *    their defaults; a newer caller's bigger struct is accepted when every
 *    byte past the fields this library knows is 0, and refused with -EINVAL
 *    ("unknown option") otherwise, never silently half-applied.  Integer
 *    fields left at 0 take the documented default.  Fields are fixed-width
 *    integers or pointers so the layout is the same from C, ctypes and cgo.
 *  - NULL options: all defaults where the function says so
 *    (petri_ctx_new, petri_sandbox_create); -EINVAL where the options carry
 *    something required (petri_sandbox_exec: the command).
 *  - Strings and arrays passed in are copied or used during the call only;
 *    the library keeps no caller pointer after a call returns, except the
 *    ones documented as borrowed (petri_sandbox_opts.audit, the log
 *    callback and its userdata).  Pointers a
 *    getter returns are borrowed from their parent object and valid until
 *    it is freed.
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

/** The library's version as "MAJOR.MINOR.PATCH", the PETRI_VERSION_STRING
 *  the library was built with (static storage; compare it with the
 *  header's to detect a mismatch). */
PETRI_API const char *petri_version(void);

/* ------------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------- */

typedef struct petri_error petri_error;

/* An error is made by the library (through a `petri_error **err` argument)
 * and belongs to the caller, who frees it with petri_error_free(). */

/** The one-line human message of @err, e.g. "mount /usr on /newroot/usr:
 *  Permission denied".  Borrowed from @err: valid until petri_error_free().
 *  "" for NULL. */
PETRI_API const char *petri_error_message(const petri_error *err);
/** The negative errno carried by @err, the same value the failing call
 *  returned; 0 for NULL. */
PETRI_API int petri_error_code(const petri_error *err);
/** Free an error made by the library; accepts NULL. */
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

/** Log callback: @level is a PETRI_LOG_* value, @msg one line without a
 *  trailing newline (borrowed for the call only), @userdata the context
 *  options' log_userdata.  Called on whichever library thread logs (the
 *  caller's, or the context's supervisor thread): it must be thread-safe
 *  and must not call back into the library. */
typedef void (*petri_log_fn)(int level, const char *msg, void *userdata);

typedef struct petri_ctx_opts {
	uint32_t sz;         /* sizeof(petri_ctx_opts) */
	uint32_t log_level;  /* highest level passed to log_fn; PETRI_LOG_WARN in the
			      * _INIT macro and with NULL opts (0 is PETRI_LOG_ERROR) */
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
	/* Warm pool (README "Warm pool and recycling"): @nwarm entries, each
	 * a language and how many sandboxes of it to keep ready.  Copied.
	 * NULL/0 (the default): no pool; every create builds a sandbox and
	 * every destroy tears it down, as without these fields. */
	const struct petri_warm *warm;
	uint32_t nwarm;     /* at most 16; each language at most once (else EINVAL) */
	uint32_t reserved0; /* must be 0 */
} petri_ctx_opts;

/*
 * One pool of a context's warm pool: @count sandboxes of @language kept
 * ready by the context's refill thread.
 *
 * Which creates take one: petri_sandbox_create() with options that differ
 * from a default sandbox of that language only in what can be given to a
 * ready sandbox without rebuilding it: id, env, audit, memory_bytes,
 * pids_max and cpus_milli (cgroup limits, written at take; on a cgroup v1
 * host a CPU limit needs a cgroup the pooled sandboxes do not have, so a
 * create with cpus_milli builds its own there).  Anything else
 * (flags, hostname, rootfs, workspace_dir, binds, a size, a per-user
 * count, net other than PETRI_NET_NONE, allow, secrets) builds a sandbox
 * as without a pool.  A take never blocks on the refill: an empty pool is
 * a miss and the create builds one itself.
 *
 * Recycling: petri_sandbox_destroy() of a sandbox whose options match a
 * pool (taken from it or not; not PETRI_SANDBOX_F_NO_POOL, no
 * PETRI_EXEC_LAST exec, init alive) emits its SandboxDestroyed, detaches
 * its audit stream, kills every process of it and hands it to the refill
 * thread, which resets it (fresh /tmp, /workspace, /home/sandbox, /dev/shm
 * and /dev/pts, new IPC and cgroup namespaces, a new cgroup, a new boot id;
 * the next take gives a new id) and puts it back only when it proves
 * clean: no process but init, no socket or TIME_WAIT left in its network
 * namespace, every reset step succeeded.  Anything else is destroyed and
 * replaced by a fresh one.  A destroy that finds the pool full (with the
 * recycles in flight) tears down as without a pool.  With
 * PETRI_CTX_F_NO_RECYCLE destroy always tears down, and the pool holds
 * only fresh sandboxes.
 */
typedef struct petri_warm {
	const char *language; /* petri_language_name(), or NULL: no language */
	uint32_t count;       /* sandboxes kept ready, 1 to 1024 */
	uint32_t reserved;    /* must be 0 */
} petri_warm;

/* Refuse to create sandboxes when cgroup limits cannot be enforced (instead
 * of falling back to rlimits with a warning). */
#define PETRI_CTX_F_REQUIRE_CGROUPS (1u << 0)

/* Pure cgroup v2 only (hybrid hosts use the v1 controllers; there it does
 * nothing).  cgroup v2 enables controllers only for the children of a cgroup
 * that holds no processes, so a host process in its own cgroup (a service,
 * e.g. a systemd unit with Delegate=yes) cannot give its sandboxes memory
 * and pids limits from there: writing "+memory +pids" to its
 * cgroup.subtree_control fails with EBUSY.  With this flag petri_ctx_new()
 * then moves the whole process (every thread) into the leaf
 * "<own cgroup>/petri-host", creating it or joining the one other petri
 * hosts in the same cgroup made (it must belong to the caller's euid),
 * enables the controllers in <own cgroup> and creates the sandboxes' cgroups
 * there, beside the leaf: the systemd convention for delegated cgroups.
 * A host already in a "petri-host" leaf (an earlier context of the process)
 * uses its parent the same way.  The library never removes the leaf (the
 * service manager does, with the service's cgroup) and touches nothing
 * outside <own cgroup>.  When processes that are not petri hosts stay in
 * <own cgroup>, the process remains in the leaf and the context falls back
 * as without cgroups (a warning; PETRI_CTX_F_REQUIRE_CGROUPS: -EPERM).
 * Without this flag the library never moves its host: the EBUSY is a
 * warning and the fallback. */
#define PETRI_CTX_F_CGROUP_LEAF (1u << 1)

/* Warm pool: never recycle a destroyed sandbox; the pool is refilled with
 * fresh ones only. */
#define PETRI_CTX_F_NO_RECYCLE (1u << 2)

/* Start each sandbox's init from the thread that calls
 * petri_sandbox_create() instead of the context's supervisor thread: one
 * thread fewer, and no hand-off to it per create or at petri_ctx_free().
 * The kernel may kill an init when the THREAD that started it exits
 * (PR_SET_PDEATHSIG; whether it still applies after init changes its ids
 * depends on the host's), so use it only when every creating thread
 * outlives its sandboxes, e.g. the main thread of a program that returns
 * from main only when done (`petri run` sets it).  Signals are blocked in
 * that thread while it starts init. */
#define PETRI_CTX_F_CALLER_THREAD (1u << 3)

/* clang-format off */
#define PETRI_CTX_OPTS_INIT {sizeof(petri_ctx_opts), PETRI_LOG_WARN, NULL, NULL, 0, 0, NULL, 0, 0}
/* clang-format on */
/** Fill @opts with the defaults, as PETRI_CTX_OPTS_INIT does (for callers
 *  that cannot use the macro, e.g. over FFI).  NULL: does nothing. */
PETRI_API void petri_ctx_opts_init(petri_ctx_opts *opts);

/**
 * Create a context: detect the cgroup layout and Landlock, and compile the
 * seccomp profile once for all its sandboxes.
 *  @out   [out] the new context, owned by the caller: free it with
 *         petri_ctx_free() (which destroys the sandboxes still open in it).
 *  @opts  NULL for all defaults (log level PETRI_LOG_WARN, no callback).
 *         Copied; the context keeps log_fn and log_userdata.
 *  @err   [out] optional, see Conventions.
 * With PETRI_CTX_F_CGROUP_LEAF it may move the calling process into another
 * cgroup (see there); without, it never does.
 * Returns 0, or -EINVAL (NULL @out, bad sz or an unknown option or flag),
 * -EPERM (PETRI_CTX_F_REQUIRE_CGROUPS and no usable cgroup), -ENOMEM, or
 * the errno of building the seccomp profile or of reading the cgroup
 * layout.
 */
PETRI_API int petri_ctx_new(petri_ctx **out, const petri_ctx_opts *opts, petri_error **err);
/** Free a context: destroy every sandbox still open in it (their handles
 *  become invalid, as after petri_sandbox_destroy()), stop its supervisor
 *  thread and release what it detected.  Accepts NULL.  No other call on
 *  the context or its sandboxes may run at the same time. */
PETRI_API void petri_ctx_free(petri_ctx *ctx);

/* How the context enforces memory and pids limits. */
#define PETRI_CGROUP_NONE 0 /* no writable cgroup: rlimit fallbacks only */
#define PETRI_CGROUP_V1 1   /* v1 controllers (hybrid hosts) */
#define PETRI_CGROUP_V2 2   /* unified hierarchy with controllers */
/**
 * Whether the kernel (eBPF) half of the audit layer is on for this context:
 * loads it on first call (it needs root or CAP_BPF+CAP_PERFMON and a kernel
 * with BTF); later calls answer at once.  Thread-safe.
 *  @reason  [out] optional: "" when on, else why it is off; borrowed from
 *           @ctx, valid until petri_ctx_free().
 * Returns 1 when on, 0 when off, -EINVAL for a NULL @ctx.  Sandboxes with
 * an audit stream get kernel events (process exec/fork/exit, file and
 * network activity) only when it is on; library-side events flow either
 * way.
 */
PETRI_API int petri_ctx_kernel_audit(petri_ctx *ctx, const char **reason);

/** Which cgroup mode the context uses (PETRI_CGROUP_*); PETRI_CGROUP_NONE
 *  for NULL. */
PETRI_API int petri_ctx_cgroup_mode(const petri_ctx *ctx);

/* The counts of one pool of a context (petri_ctx_opts.warm), since the
 * context was made. */
typedef struct petri_pool_stats {
	uint32_t sz;     /* sizeof(petri_pool_stats), set by the caller */
	uint32_t ready;  /* sandboxes ready in the pool now */
	uint32_t target; /* the pool's count */
	uint32_t reserved0;
	uint64_t hits;      /* creates served from the pool */
	uint64_t misses;    /* matching creates that found it empty */
	uint64_t created;   /* sandboxes the refill thread built */
	uint64_t recycled;  /* destroyed sandboxes reset and put back */
	uint64_t discarded; /* sandboxes of the pool torn down instead: a destroyed
			     * one not proven clean (or whose reset failed) or
			     * that found the pool full, a build that landed in
			     * a full pool, a ready one whose init died */
	uint64_t failed;    /* refill builds or resets that failed (a reset that
			     * failed is also counted in discarded) */
} petri_pool_stats;

/**
 * The counts of @ctx's pool of @language (NULL: the pool without a
 * language) into [out] @out; @out->sz as for petri_sandbox_net_stats().
 * Returns 0, -EINVAL (NULL @ctx or @out, bad sz), -ENOENT (no such pool).
 */
PETRI_API int petri_ctx_pool_stats(petri_ctx *ctx, const char *language, petri_pool_stats *out);

/**
 * Wait until every pool of @ctx is full (ready == target) or @timeout_ms
 * passes (0: do not wait, just check).  For start-up, tests and benchmarks;
 * creates never need it.  Returns 0 when full (and for a context without a
 * pool), -ETIMEDOUT, -EINVAL (NULL @ctx), or the errno of the refill's last
 * failure when a pool is not full and its last build failed (e.g. -EPERM:
 * the kernel refuses a namespace; the refill thread retries, backing off
 * from 100 ms to 5 s).
 */
PETRI_API int petri_ctx_pool_wait(petri_ctx *ctx, uint64_t timeout_ms);

/* ------------------------------------------------------------------------
 * Sandboxes
 * ---------------------------------------------------------------------- */

typedef struct petri_sandbox petri_sandbox;

/**
 * The languages code can be written in, for petri_sandbox_opts.language and
 * petri_exec_opts.language: the name of the @i-th ("python", "node", "go",
 * "sh"), for i = 0, 1, ... until it returns NULL (static storage).  Any
 * other name is refused with -EINVAL.
 */
PETRI_API const char *petri_language_name(uint32_t i);

#define PETRI_NET_NONE 0  /* own network namespace with only lo (default) */
#define PETRI_NET_HOST 1  /* share the host's network (trusted code only) */
#define PETRI_NET_PROXY 2 /* only lo, and egress through the host's proxy to .allow */

struct petri_secret;

typedef struct petri_sandbox_opts {
	uint32_t sz;
	uint32_t flags;       /* PETRI_SANDBOX_F_* */
	const char *language; /* "python", "node", "go", "sh" or NULL */
	const char *id;       /* [a-zA-Z0-9_-]{1,48}; NULL: generated "sb_<hex>" */
	const char *hostname; /* NULL: "petri" */
	const char *rootfs;   /* custom root directory, bound read-only; NULL: host /usr etc. */
	const char *workspace_dir; /* host dir bound read-write at /workspace; NULL: private tmpfs */
	/* NULL-terminated "SRC:DST[:OPT[,OPT]]", OPT one of ro (default), rw,
	 * sockets: e.g. "/run:/hostrun:ro,sockets", "/data:/data:rw".  Without
	 * sockets, a read-only directory bind is shown through an overlay, on
	 * which connect/sendto to a unix socket of the host fail with
	 * ECONNREFUSED (sockets the code creates elsewhere are unaffected);
	 * with sockets it is a plain bind and host sockets in it answer.  An rw
	 * bind is a plain bind; without sockets it (like workspace_dir and
	 * rootfs) turns on the unix guard: the code's connect/sendto to a
	 * pathname socket is performed by the exec's reaper only when the
	 * socket is the sandbox's own (else ECONNREFUSED), and sendmsg to a
	 * pathname fails with EPERM (README, "Security model").  A source
	 * that is itself a socket needs sockets (else EACCES).  EINVAL for an
	 * unknown option or both ro and rw. */
	const char *const *binds;
	const char *const *env;   /* NULL-terminated "K=V", passed to every exec */
	uint64_t memory_bytes;    /* cgroup memory limit; default 512 MiB */
	uint64_t tmp_bytes;       /* size of /tmp (tmpfs); default 64 MiB */
	uint64_t workspace_bytes; /* size of the /workspace tmpfs; default 256 MiB;
				    * 0 with workspace_dir (else EINVAL) */
	uint32_t pids_max;        /* processes+threads; default 256 */
	uint32_t net;             /* PETRI_NET_*; default none */
	/* Audit stream (petri/audit.h) that receives this sandbox's lifecycle,
	 * exec and limit events; borrowed: must outlive the sandbox.  NULL:
	 * none. */
	struct petri_audit *audit;
	/* Kernel counts kept per user (README "Limits of this design"): the
	 * sandbox's own, in its user namespace.  On a root host a sandbox's
	 * use is also charged, one level up, to a host id of its own, so the
	 * host's per-user limits (e.g. fs.inotify.max_user_instances) bound
	 * each sandbox separately and never host root or another sandbox. */
	uint32_t inotify_instances_max; /* inotify instances; default 128 */
	uint32_t inotify_watches_max;   /* inotify watches; default 65536 */
	uint32_t sigpending_max;        /* queued signals incl. POSIX timers (RLIMIT_SIGPENDING);
				  * default 4096 */
	uint32_t reserved1;             /* must be 0 */
	uint64_t msgqueue_bytes; /* POSIX message queue bytes (RLIMIT_MSGQUEUE); default 800 KiB */
	/* CPU limit in thousandths of a CPU (500: half a CPU, 2000: two CPUs),
	 * the CPU time the sandbox's processes together may use per wall
	 * second (cgroup v2 cpu.max, or the v1 CFS quota; period 100 ms).
	 * 0 (the default): no limit, as many CPUs as the host lets it have.
	 * 10 (0.01 CPU) to 1000 x the host's online CPUs; a limit needs the
	 * cpu controller (-EOPNOTSUPP without it). */
	uint32_t cpus_milli;
	uint32_t reserved2; /* must be 0 */
	/* PETRI_NET_PROXY (README "Network egress"): the NULL-terminated
	 * allowlist, entries "HOST[:PORT][=ADDR]": an exact name, "*.NAME"
	 * (subdomains of NAME only), an IPv4 or bracketed IPv6 literal; PORT
	 * 1-65535 except 53 and 3128 (default: 80 and 443); =ADDR the address
	 * the host dials for that name, whatever its class (as curl --resolve).
	 * Required (non-empty) with PETRI_NET_PROXY, refused (EINVAL) with any
	 * other mode. */
	const char *const *allow;
	uint32_t net_max_conns; /* proxy: connections open at once; default 256 */
	uint32_t reserved3;     /* must be 0 */
	uint64_t net_max_bytes; /* proxy: bytes both ways over the sandbox's life;
				  * default 16 GiB */
	/* TenantVault (README "Secrets"): NULL-terminated list of secrets the
	 * code can use but never read.  Each secret's hosts are allowed as if
	 * listed in .allow (which may then be empty).  Needs PETRI_NET_PROXY
	 * (else EINVAL).  Copied at create; the caller may wipe its copy. */
	const struct petri_secret *const *secrets;
	/* PEM file of extra CAs trusted for the upstreams of intercepted
	 * (secret-bound) hosts, beside the host's trust store; read at create.
	 * NULL: the trust store only.  Needs secrets (else EINVAL). */
	const char *upstream_ca;
} petri_sandbox_opts;

/*
 * A secret (TenantVault).  Inside the sandbox, env var @name holds a
 * placeholder ("petri-vault-" and 32 hex digits, random per sandbox); the
 * proxy puts @value in its place only in requests to @hosts, over TLS that
 * it terminates with a CA of the sandbox's own.  @value never enters the
 * sandbox, the audit stream, logs, errors or returned output.
 */
typedef struct petri_secret {
	uint32_t sz;       /* sizeof(petri_secret) */
	uint32_t flags;    /* none yet: 0 */
	const char *name;  /* [A-Za-z_][A-Za-z0-9_]{0,63}; unique in the sandbox */
	const void *value; /* @value_len bytes, 1 to 4096, not all of them text-safe
			    * in a header (CR, LF, NUL: refused in headers, 400) */
	size_t value_len;
	/* NULL-terminated, non-empty: "[http://]HOST[:PORT]", HOST as in
	 * .allow (exact, "*.NAME", IP literal); PORT default 443 (with http://:
	 * 80).  "http://" also lets the value go over plain HTTP to that host;
	 * else plain HTTP carrying the placeholder is refused.  An address to
	 * dial (=ADDR) comes from an .allow entry for the same name and port. */
	const char *const *hosts;
} petri_secret;
/* clang-format off */
#define PETRI_SECRET_INIT {sizeof(petri_secret), 0, NULL, NULL, 0, NULL}
/* clang-format on */

/* Do not apply Landlock even where the kernel offers it (debugging only). */
#define PETRI_SANDBOX_F_NO_LANDLOCK (1u << 0)
/* Never from the warm pool, never recycled: built for this create and torn
 * down by its destroy. */
#define PETRI_SANDBOX_F_NO_POOL (1u << 1)
/* The sandbox runs one exec, flagged PETRI_EXEC_LAST (any other exec fails
 * with -EINVAL; `petri run` sets this).  Its init is then that exec's
 * reaper: pid 1 of the pid namespace the command runs in, instead of
 * forking a reaper into a pid and mount namespace of its own, which saves
 * a process, two namespaces and a procfs per sandbox.  The isolation is
 * the same: the command sees the same masked /proc (init as pid 1, as a
 * reaper would be), the same mounts, seccomp profile, Landlock rules,
 * limits and ids, and every process it starts dies when it ends.  Never
 * from the warm pool. */
#define PETRI_SANDBOX_F_ONE_EXEC (1u << 2)

/* clang-format off */
#define PETRI_SANDBOX_OPTS_INIT {sizeof(petri_sandbox_opts), 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, NULL, 0, 0, 0, 0, 0, 0, 0, NULL, 0, 0, 0, NULL, NULL}
/* clang-format on */
/** Fill @opts with the defaults, as PETRI_SANDBOX_OPTS_INIT does (for FFI
 *  callers).  NULL: does nothing. */
PETRI_API void petri_sandbox_opts_init(petri_sandbox_opts *opts);

/**
 * Create a sandbox: a cgroup, and an init process in new user, pid, mount,
 * net, uts, ipc and cgroup namespaces holding a fresh minimal root.  It is
 * ready for petri_sandbox_exec() when this returns.
 *  @ctx   the context; it must outlive the sandbox (petri_ctx_free()
 *         destroys the sandboxes still open in it).
 *  @opts  NULL for all defaults.  Strings and arrays are copied; only
 *         @opts->audit is borrowed (it must outlive the sandbox).
 *  @out   [out] the sandbox, owned by the caller: destroy it with
 *         petri_sandbox_destroy().
 *  @err   [out] optional, see Conventions.
 * Returns 0, or a negative errno with nothing left behind (no process,
 * cgroup, mount or fd):
 *  -EINVAL      NULL @ctx or @out, bad sz, an unknown option or flag, or a
 *               bad value (language, id, hostname, bind, env entry, a size
 *               below its minimum, workspace_bytes with workspace_dir, a
 *               CPU limit below 10 or above 1000 x the online CPUs): the
 *               message says which;
 *  -ENOENT, -ENOTDIR  a bind source, the rootfs or the workspace_dir is
 *               missing or not a directory;
 *  -E2BIG       more than 64 binds;
 *  -EOPNOTSUPP  a CPU limit on a host whose cgroups offer no cpu
 *               controller;
 *  -EPERM       the kernel refused a namespace or a cgroup;
 *  -ETIMEDOUT   init did not report ready in time;
 *  -ENOMEM, or the errno of the failing system call, with the message
 *  naming it.
 */
PETRI_API int petri_sandbox_create(petri_ctx *ctx, const petri_sandbox_opts *opts,
				   petri_sandbox **out, petri_error **err);

/**
 * Destroy a sandbox: kill every process in it, reap init, remove its cgroup
 * and workspace (a workspace_dir on the host stays, with its files), and
 * free @sb, which is invalid afterwards.  Nothing remains.  Its audit
 * stream, if any, gets SandboxDestroyed.  Accepts NULL.  Must not race with
 * any other call on the same sandbox (an exec, a file call, a getter) from
 * another thread: to end a running exec first, petri_sandbox_cancel() it
 * and let its petri_sandbox_exec() return.  With a warm pool the sandbox
 * may be recycled instead (petri_warm): every process of it is killed and
 * reaped before this returns, and a later create may return the same
 * pointer for the next user, so a call on @sb after this one is not just
 * invalid but may act on another user's sandbox.
 */
PETRI_API void petri_sandbox_destroy(petri_sandbox *sb);

/** The sandbox id (petri_sandbox_opts.id, or the generated "sb_<hex>");
 *  borrowed from @sb, valid until petri_sandbox_destroy().  "" for NULL. */
PETRI_API const char *petri_sandbox_id(const petri_sandbox *sb);
/** Host pid of the sandbox's init; -1 once it has exited (it dies with the
 *  sandbox, or after a PETRI_EXEC_LAST exec) or for NULL. */
PETRI_API int petri_sandbox_init_pid(const petri_sandbox *sb);
/** Host uid the sandbox's user (uid 1000 inside) runs as, or -1 for NULL.
 * On a root host the sandbox's ids 0..65535 map from this value - 1000. */
PETRI_API int64_t petri_sandbox_host_uid(const petri_sandbox *sb);
/** cgroup v2 inode id of the sandbox (what BPF programs see as its cgroup
 *  id), or 0 when it has none in the unified hierarchy, or for NULL. */
PETRI_API uint64_t petri_sandbox_cgroup_id(const petri_sandbox *sb);
/** How many earlier users the sandbox's init served before this one: 0 for
 *  a sandbox built fresh (by this create or by the pool's refill), n after
 *  n recycles (see petri_warm).  -1 for NULL. */
PETRI_API int64_t petri_sandbox_reuses(const petri_sandbox *sb);

/* What the egress proxy decided for a sandbox (PETRI_NET_PROXY), since it
 * was created: every connection and plain-HTTP request it judged, whether
 * or not an audit stream recorded it (the audit's rate limit does not
 * apply to these counts). */
typedef struct petri_net_stats {
	uint32_t sz; /* sizeof(petri_net_stats), set by the caller */
	uint32_t reserved0;
	uint64_t allowed;     /* connections and requests the policy let through */
	uint64_t refused;     /* refused: a name, address or port not allowed, a
			       * secret's misuse, a malformed request */
	uint64_t dns_queries; /* queries its DNS resolver answered (any answer) */
} petri_net_stats;
/** The egress counts of @sb into [out] @out (all 0 for a sandbox without the
 *  proxy).  @out->sz says how much of it the caller has: an older caller's
 *  smaller struct gets what fits, a newer caller's fields this library does
 *  not know come back 0.  May run while an exec runs on another thread, not
 *  with petri_sandbox_destroy().  Returns 0, or -EINVAL for NULL @sb or
 *  @out, or an @out->sz below 8 or above 4096. */
PETRI_API int petri_sandbox_net_stats(const petri_sandbox *sb, petri_net_stats *out);

/* ------------------------------------------------------------------------
 * Exec
 * ---------------------------------------------------------------------- */

#define PETRI_STREAM_STDOUT 1
#define PETRI_STREAM_STDERR 2

/** Streaming callback, called on the thread running petri_sandbox_exec()
 *  as output arrives, for every byte up to output_kill_bytes (captured or
 *  not).  @stream is PETRI_STREAM_STDOUT or _STDERR; @data (@len bytes, not
 *  NUL-terminated) is borrowed for the call only; @userdata is the exec
 *  options' userdata.  Return 0 to go on, non-zero to kill the exec (reason
 *  "killed"); it is not called again for that exec.  It must not call
 *  petri_sandbox_exec() or petri_sandbox_destroy() on the same sandbox. */
typedef int (*petri_output_fn)(int stream, const char *data, size_t len, void *userdata);

typedef struct petri_exec_opts {
	uint32_t sz;
	uint32_t flags; /* PETRI_EXEC_* below, or 0 */
	/* Exactly one of argv, code and code_file (below).  argv[0] is looked up
	 * in PATH inside. */
	const char *const *argv; /* NULL-terminated; argv, args and env each at most
				  * 4096 entries, together at most 1 MiB (else E2BIG) */
	const char *code;        /* source in the sandbox's language (or opts language);
				  * at most 8 MiB (else E2BIG) */
	const char *language;    /* overrides the sandbox's language for @code, @code_file */
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
	/*
	 * NULL-terminated arguments for @code or @code_file (EINVAL with argv).
	 * The program sees them after its source file, FILE below, which is
	 * /run/petri/main.py (.js, .go, .sh) for @code, or @code_file:
	 *   python  sys.argv     == [FILE, *args]
	 *   node    process.argv == ["/usr/bin/node", FILE, *args]
	 *   sh      $0 == FILE, "$@" == args
	 *   go      os.Args      == [the built program, *args]; the exit status
	 *           and signal are the program's own (not `go run`'s status 1)
	 */
	const char *const *args;
	/* Absolute path inside the sandbox of a source file in the language
	 * (e.g. one put in /workspace with petri_sandbox_write_file()), run the
	 * way @code is run, instead of @code.  A missing file is the
	 * language's own error (python: status 2), not this call's. */
	const char *code_file;
} petri_exec_opts;

/* This is the sandbox's last exec: its init prepares no namespace for a next
 * one and exits as soon as this exec is over, so that destroy has nothing
 * left to wait for (`petri run` sets it; what it saves is in
 * bench/RESULTS.md).  Afterwards files in /workspace can still be read and
 * written; a further exec fails with ESRCH. */
#define PETRI_EXEC_LAST (1u << 0)

/* Every process an exec starts lives in the exec's own pid namespace and
 * dies when the exec's main process exits: nothing outlives an exec. */

/* clang-format off */
#define PETRI_EXEC_OPTS_INIT {sizeof(petri_exec_opts), 0, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL}
/* clang-format on */
/** Fill @opts with the defaults, as PETRI_EXEC_OPTS_INIT does (for FFI
 *  callers).  NULL: does nothing. */
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

/** The name of a PETRI_REASON_* value, as the CLI's JSON, the bindings and
 *  the audit stream spell it: "exited", "signaled", "timeout", "memory",
 *  "pids", "output_limit", "killed", "seccomp", "cpu", "file_size",
 *  "sandbox_died", "failed"; "unknown" for any other value.  Never NULL;
 *  static storage (do not free). */
PETRI_API const char *petri_reason_name(int reason);

/* Limits hit during the exec (bits of petri_result_limits_hit()). */
#define PETRI_LIMIT_MEMORY (1u << 0)
#define PETRI_LIMIT_PIDS (1u << 1)
#define PETRI_LIMIT_OUTPUT (1u << 2) /* a capture cap truncated output, or output_kill_bytes hit */
#define PETRI_LIMIT_TIMEOUT (1u << 3)
#define PETRI_LIMIT_CPU (1u << 4)
#define PETRI_LIMIT_FILE_SIZE (1u << 5)

/** The name of one PETRI_LIMIT_* bit: "memory", "pids", "output",
 *  "timeout", "cpu", "file_size".  NULL for 0, for several bits at once and
 *  for an unknown bit (test each bit of petri_result_limits_hit() on its
 *  own).  Static storage (do not free). */
PETRI_API const char *petri_limit_name(uint32_t bit);

typedef struct petri_result petri_result;

/**
 * Run a command or code in the sandbox and wait for it to end (at most the
 * wall timeout, then it is killed).  Files written to /workspace persist
 * for later execs of the same sandbox.  One exec at a time per sandbox.
 *  @sb    the sandbox.
 *  @opts  required (NULL is -EINVAL: there is no default command).  Read
 *         during the call only; on_output is called on this thread.
 *         cpu_ms is enforced as RLIMIT_CPU, in whole seconds rounded up.
 *  @out   [out] the result, owned by the caller: free it with
 *         petri_result_free().
 *  @err   [out] optional, see Conventions.
 * Returns 0 with @out set when the command ran, whatever its exit status or
 * the limit that ended it (see petri_result_reason()); a negative errno
 * when it could not be started:
 *  -EINVAL   NULL @sb, @out or @opts, bad sz, an unknown option or flag,
 *            not exactly one of argv and code, an empty argv, an env entry
 *            without '=', a relative cwd, stdin_len without stdin_data, a
 *            timeout over a week, code without a language or an unknown
 *            language: the message says which;
 *  -E2BIG    argv and env over 4096 entries or 1 MiB, code over 8 MiB;
 *  -ENOENT   the program or the cwd does not exist inside;
 *  -EACCES   the program is not executable;
 *  -ESRCH    the sandbox is dead, or already ran its PETRI_EXEC_LAST exec;
 *  -EBUSY    another exec is running on the sandbox;
 *  -ENOMEM, or the errno of the failing step, with the message naming it.
 */
PETRI_API int petri_sandbox_exec(petri_sandbox *sb, const petri_exec_opts *opts, petri_result **out,
				 petri_error **err);

/**
 * Kill the exec running on @sb, if any: its petri_sandbox_exec() then
 * returns 0 with a result whose reason is PETRI_REASON_KILLED.  Safe to call
 * from any thread while petri_sandbox_exec() runs on another (not with
 * petri_sandbox_destroy()).  It aims at the exec running when it is called
 * (from the moment petri_sandbox_exec() has accepted its options); with no
 * exec running it does nothing, and never kills a later exec.
 * Returns 0 (also when nothing was running), -EINVAL for NULL, or the
 * negative errno of signalling the exec's thread (write(2) on an eventfd).
 */
PETRI_API int petri_sandbox_cancel(petri_sandbox *sb);

/* The result of an exec.  Getters borrow nothing from the caller and
 * accept NULL (they then return the value stated, as for an empty result);
 * pointers they return are borrowed from @res and valid until
 * petri_result_free(). */

/** Free a result and the output it holds; accepts NULL. */
PETRI_API void petri_result_free(petri_result *res);
/** Why the exec ended: a PETRI_REASON_* value (name: petri_reason_name());
 *  -1 for NULL. */
PETRI_API int petri_result_reason(const petri_result *res);
/** Exit code (0-255) of the exec's main process when it exited; -1 when it
 *  was killed by a signal (see petri_result_signal()) or for NULL. */
PETRI_API int petri_result_exit_code(const petri_result *res);
/** The signal that killed the main process, or 0 when it exited (or
 *  NULL). */
PETRI_API int petri_result_signal(const petri_result *res);
/** PETRI_LIMIT_* bits of every limit hit during the exec (several may be
 *  set; the reason says which one ended it); 0 for NULL. */
PETRI_API uint32_t petri_result_limits_hit(const petri_result *res);
/** Wall-clock time of the exec in nanoseconds, from the request to init
 *  until its end was seen; 0 for NULL. */
PETRI_API uint64_t petri_result_wall_ns(const petri_result *res);
/** CPU time (user + system) of the exec's processes in nanoseconds: the
 *  larger of their resource usage and what the sandbox's cgroup counted
 *  (cgroup v2; it includes processes killed before they were reaped); 0
 *  for NULL. */
PETRI_API uint64_t petri_result_cpu_ns(const petri_result *res);
/** Peak memory of the sandbox during the exec in bytes: the cgroup's peak,
 *  reset when the exec starts; without one, the largest resident set of
 *  the exec's processes.  0 for NULL. */
PETRI_API uint64_t petri_result_peak_memory_bytes(const petri_result *res);
/** Captured stdout, at most stdout_max bytes: [out] @len (may be NULL) gets
 *  its length.  The bytes may contain NULs and are followed by a NUL that
 *  *@len does not count.  "" with *@len 0 when nothing was captured or for
 *  NULL. */
PETRI_API const char *petri_result_stdout(const petri_result *res, size_t *len);
/** Captured stderr, at most stderr_max bytes; as petri_result_stdout(). */
PETRI_API const char *petri_result_stderr(const petri_result *res, size_t *len);
/** 1 when stdout beyond the capture cap (stdout_max) was dropped, else 0
 *  (0 for NULL). */
PETRI_API int petri_result_stdout_truncated(const petri_result *res);
/** 1 when stderr beyond the capture cap (stderr_max) was dropped, else 0
 *  (0 for NULL). */
PETRI_API int petri_result_stderr_truncated(const petri_result *res);
/** Total bytes the exec wrote to stdout, captured or not (up to where an
 *  exec killed for output_kill_bytes was stopped); 0 for NULL. */
PETRI_API uint64_t petri_result_stdout_total(const petri_result *res);
/** Total bytes the exec wrote to stderr; as petri_result_stdout_total(). */
PETRI_API uint64_t petri_result_stderr_total(const petri_result *res);
/** How many syscalls the seccomp filter denied (with EPERM) during the exec;
 *  each is also an audit event when the sandbox has an audit stream.  0 for
 *  NULL. */
PETRI_API uint64_t petri_result_seccomp_denials(const petri_result *res);

/* ------------------------------------------------------------------------
 * Files in and out of /workspace.  Paths are relative to /workspace (a
 * leading "/workspace/" or "/" is accepted); ".." components, symlinks and
 * mount crossings planted by sandboxed code are refused (openat2
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV).  The host works
 * there as the sandbox's user, so files it writes belong to the code.
 * All four work after a PETRI_EXEC_LAST exec; none takes options (nothing
 * sz-versioned).  Errors common to all: -EINVAL a NULL or empty path
 * ("", "/", "/workspace/"), -EISDIR the path /workspace itself, -EPERM a
 * ".." component, -ELOOP a symlink on the way, -EXDEV a mount crossing,
 * -ENAMETOOLONG, -ESRCH the sandbox is dead, -ENOMEM, or the errno of
 * opening the file, with the message naming the path.
 * ---------------------------------------------------------------------- */

/**
 * Write @len bytes of @data to @path, created (parent directories too,
 * mode 0755) or truncated.  A failed write leaves no partial file.
 *  @data  read during the call only; may be NULL when @len is 0.
 *  @mode  permission bits of the file (& 07777); 0 means 0644.
 *  @err   [out] optional, see Conventions.
 * Returns 0, or a negative errno: -EINVAL NULL @sb, NULL @data with a
 * non-zero @len, or @path names something other than a regular file;
 * -EISDIR @path ends with '/'; the errno of writing
 * (-ENOSPC a full workspace, -EFBIG), or see the section above.
 */
PETRI_API int petri_sandbox_write_file(petri_sandbox *sb, const char *path, const void *data,
				       size_t len, uint32_t mode, petri_error **err);
/**
 * Read the whole file at @path.
 *  @max   the largest size accepted; 0 means 64 MiB.
 *  @data  [out] the bytes, malloc'd by the library and owned by the caller:
 *         free them with petri_free().
 *  @len   [out] their length.
 *  @err   [out] optional, see Conventions.
 * Returns 0, or a negative errno (@data and @len untouched): -EINVAL NULL
 * @sb, @data or @len, or @path is not a regular file; -ENOENT no such file;
 * -EFBIG larger than @max; or see the section above.
 */
PETRI_API int petri_sandbox_read_file(petri_sandbox *sb, const char *path, uint64_t max,
				      void **data, size_t *len, petri_error **err);
/**
 * Remove @path: a file, a symlink (itself, never what it points to) or an
 * empty directory.  The path rules of this section apply to every
 * component but the last, which is removed without being followed.  A
 * trailing '/' ("dir/") asks for a directory.
 *  @err   [out] optional, see Conventions.
 * Returns 0, or a negative errno: -ENOENT no such entry; -ENOTEMPTY a
 * directory that is not empty; -ENOTDIR a trailing '/' on something else;
 * -EINVAL NULL @sb, or a last component "."; or see the section above.
 */
PETRI_API int petri_sandbox_remove_file(petri_sandbox *sb, const char *path, petri_error **err);

/* Types of petri_dirent.type. */
#define PETRI_DIRENT_FILE 1
#define PETRI_DIRENT_DIR 2
#define PETRI_DIRENT_SYMLINK 3
#define PETRI_DIRENT_OTHER 4

/* One entry of a directory listing (lstat of the entry: a symlink is
 * reported as itself, never followed). */
typedef struct petri_dirent {
	const char *name; /* the entry's name (no '/'), in the listing's block */
	uint32_t type;    /* PETRI_DIRENT_* */
	uint32_t mode;    /* permission bits (& 07777) */
	uint64_t size;    /* st_size (a symlink: its target's length) */
	int64_t mtime_ns; /* modification time, ns since the epoch */
} petri_dirent;

/**
 * List one level of the directory @path ("", "/" or NULL: /workspace
 * itself), sorted by name (bytewise), "." and ".." left out.  Memory is
 * bounded by @max, however large the directory; an entry removed while it
 * is being listed (the code may be running) is left out.
 *  @max        the most entries returned; 0 means 10000.  A directory with
 *              more gives the first @max by name and sets *@truncated.
 *  @entries    [out] the entries, one block malloc'd by the library (names
 *              included): free it with petri_free().
 *  @n          [out] how many.
 *  @truncated  [out] optional: 1 when entries were left out, else 0.
 *  @err        [out] optional, see Conventions.
 * Returns 0, or a negative errno (the outputs untouched): -EINVAL NULL @sb,
 * @entries or @n; -ENOENT no such directory; -ENOTDIR @path is not a
 * directory; or see the section above (except that the empty path and
 * /workspace itself are accepted here).
 */
PETRI_API int petri_sandbox_list_dir(petri_sandbox *sb, const char *path, uint32_t max,
				     petri_dirent **entries, size_t *n, int *truncated,
				     petri_error **err);
/** Free memory the library returned as plain bytes (petri_sandbox_read_file()'s
 *  data, petri_audit_reader_format()'s text); accepts NULL.  Objects with a
 *  free function of their own (petri_result, petri_error) use it. */
PETRI_API void petri_free(void *p);

#ifdef __cplusplus
}
#endif
#endif /* PETRI_PETRI_H */
