/* SPDX-License-Identifier: Apache-2.0 */
/*
 * internal.h - helpers shared by the library's files: cleanup attributes,
 * error construction, and the interfaces between the modules.  Nothing here
 * is API.
 */
#ifndef PETRI_INTERNAL_H
#define PETRI_INTERNAL_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/filter.h>

#include "petri/petri.h"
#include "init/protocol.h"

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

static inline void petri__freep(void *p)
{
	free(*(void **)p);
}
static inline void petri__closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
#define _cleanup_free_ _cleanup_(petri__freep)
#define _cleanup_close_ _cleanup_(petri__closep)

/* Hand ownership out of a cleanup variable. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p = (p);                                                            \
		(p) = NULL;                                                                        \
		_p;                                                                                \
	})
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _fd = (fd);                                                                    \
		(fd) = -1;                                                                         \
		_fd;                                                                               \
	})

/* error.c ------------------------------------------------------------------ */

struct petri_error {
	int code; /* negative errno */
	char msg[512];
};

/* Set *err (if err is non-NULL) to a new error "<formatted>: <strerror>" when
 * errnum != 0, or just "<formatted>" when errnum == 0.  Returns -abs(errnum)
 * or -EINVAL when errnum == 0, so callers can `return petri__err(...)`. */
int petri__err(petri_error **err, int errnum, const char *fmt, ...) _printf_(3, 4);

/* Log through the context's callback. */
struct petri_ctx;
void petri__log(const struct petri_ctx *ctx, int level, const char *fmt, ...) _printf_(3, 4);

/* Nanoseconds of CLOCK_MONOTONIC. */
uint64_t petri__now_ns(void);

/* opts.c ------------------------------------------------------------------- */

/* The one copy rule for every sz-versioned struct a caller passes in: copy
 * @src (its first field is its size, sz) into @dst of @dst_sz bytes,
 * zero-filling what an older caller's struct lacks.  NULL @src: @dst is
 * zeroed and 0 returned (the caller decides whether NULL means defaults or
 * EINVAL).  EINVAL (with @what, the struct's name, in the message) when sz
 * is below 8 or above 4096, or when a newer caller set a field this library
 * does not know (a non-zero byte past @dst_sz); extra bytes that are all 0
 * are accepted.  A field whose default is not 0 (an fd's -1) is the
 * caller's to set when sz does not reach it. */
int petri__opts_copy(void *dst, size_t dst_sz, const void *src, petri_error **err,
		     const char *what);

/* seccomp.c ---------------------------------------------------------------- */

/* The default profile: the program compiled at build time when the build
 * embedded one, else compiled now.  0 or a negative errno with *err set. */
int petri__seccomp_build(struct petri_seccomp_prog *out, petri_error **err);
/* Compile the default profile with libseccomp now. */
int petri__seccomp_compile(struct petri_seccomp_prog *out, petri_error **err);
void petri__seccomp_release(struct petri_seccomp_prog *prog);

/* cgroup.c ----------------------------------------------------------------- */

/*
 * Cgroups of one sandbox.  The context detects the layout once: pure v2 with
 * memory and pids controllers, or v1 controllers (hybrid hosts) plus the
 * unified hierarchy for the BPF cgroup id.  Every cgroup is created below the
 * host process's own cgroup in that hierarchy, named "petri-<hostpid>-<serial>".
 */
struct petri_cgroup_layout {
	int mode;               /* PETRI_CGROUP_* */
	char *v2_parent;        /* dir for sandboxes in the unified hierarchy, or NULL */
	char *v1_memory_parent; /* v1: dir under the memory controller, or NULL */
	char *v1_pids_parent;   /* v1: dir under the pids controller, or NULL */
	char *v1_cpu_parent;    /* v1: dir under the cpu controller, or NULL (no CPU limits) */
	int v2_cpu;             /* v2: the cpu controller is enabled for our children */
};

struct petri_cgroup {
	int mode;
	char *v2_dir; /* unified cgroup of the sandbox (both modes, if any) */
	char *v1_memory_dir;
	char *v1_pids_dir;
	char *v1_cpu_dir; /* only for a sandbox with a CPU limit */
	int v2_dirfd;     /* O_PATH|O_DIRECTORY of v2_dir for CLONE_INTO_CGROUP, or -1 */
	uint64_t id;      /* inode number of v2_dir (the BPF cgroup id), or 0 */
	int v2_peak_fd;   /* v2: memory.peak, kept open because its reset is per fd; or -1 */
};

/* Counters read before and after an exec to attribute its end. */
struct petri_cgroup_stats {
	uint64_t oom_kills;     /* memory.events oom_kill (v2) / memory.oom_control oom_kill (v1) */
	uint64_t pids_max_hits; /* pids.events max */
	uint64_t peak_memory;   /* memory.peak / memory.max_usage_in_bytes */
	uint64_t cpu_ns;        /* cpu.stat usage_usec*1000 (v2) or 0 */
};

/* Detect the layout; never fails hard: mode NONE when nothing is writable
 * (the reason is logged).  @leaf: PETRI_CTX_F_CGROUP_LEAF (see
 * petri__cgroup_v2_parent).  Also removes stale petri-<pid>-* cgroups whose
 * host pid is gone. */
int petri__cgroup_layout_detect(struct petri_ctx *ctx, int leaf, struct petri_cgroup_layout *out);
void petri__cgroup_layout_release(struct petri_cgroup_layout *layout);
/*
 * The v2 half of the detection, given @own, the directory of our cgroup in a
 * cgroup2 hierarchy: make the space-separated controllers @ctrls ("memory
 * pids") available to the sandboxes' cgroups and set *@parent (malloc'd) to
 * the directory they go in.  *@cpu: the cpu controller is enabled there too.
 * When @own holds processes (EBUSY) and @leaf (PETRI_CTX_F_CGROUP_LEAF), move
 * this process into "@own/petri-host" (made, or shared with other hosts) and
 * enable the controllers in @own, which becomes the parent; an @own that
 * already is such a leaf has its parent as the parent.  Without @leaf,
 * EBUSY is logged as a warning that names the flag.  Returns 0, or a
 * negative errno with the reason in @why.  The layout detection calls it
 * with "memory pids"; tests call it with a scratch cgroup and a controller
 * of their own (tests/api/test_cgroup_leaf.c).
 */
int petri__cgroup_v2_parent(struct petri_ctx *ctx, const char *own, const char *ctrls, int leaf,
			    char **parent, int *cpu, char *why, size_t whylen);
/* Remove the "petri-<pid>-*" cgroups below @parent whose host pid is gone
 * (done by the detection; exposed for tests). */
void petri__cgroup_sweep(struct petri_ctx *ctx, const char *parent, int v2);
/* The name of a sandbox cgroup of this process: "petri-<pid>-<serial>-<ns>",
 * <ns> the inode number of our pid namespace, in which <pid> means
 * something (a sweep judges only names of its own namespace). */
void petri__cgroup_name(char *buf, size_t size, uint64_t serial);

/* Create the sandbox's cgroups, without limits yet; @with_cpu: also the v1
 * cpu controller's (a sandbox with a CPU limit on a v1 host).  On failure
 * nothing is left behind. */
int petri__cgroup_create(const struct petri_cgroup_layout *layout, const char *name, int with_cpu,
			 struct petri_cgroup *out, petri_error **err);
/* Can @layout limit CPU time?  0, or -EOPNOTSUPP with the reason in @err. */
int petri__cgroup_cpu_supported(const struct petri_cgroup_layout *layout, petri_error **err);
/* Set memory.max / pids.max / cpu.max (v2) or memory.limit_in_bytes (+memsw
 * when present) / pids.max / cpu.cfs_quota_us (v1).  @cpus_milli: CPUs x
 * 1000 (0: no CPU limit).  Done while init builds the sandbox's root: no code
 * runs there before petri_sandbox_create returns. */
int petri__cgroup_set_limits(const struct petri_cgroup *cg, uint64_t memory_bytes,
			     uint32_t pids_max, uint32_t cpus_milli, petri_error **err);
/* Move @pid into the v1 cgroups when @v1, and into the unified one when
 * @v2 (a child born there is in already).  Such a move waits for an RCU
 * grace period when none happened lately (10-25 ms): petri__cgroup_move_self_v1()
 * is what the library uses for v1, this the fallback. */
int petri__cgroup_attach(const struct petri_cgroup *cg, int pid, int v2, int v1, petri_error **err);
/* Move the calling *thread* into the v1 cgroups (NULL: leave that one).  A
 * thread moving itself takes no global lock and no grace period, so the
 * supervisor steps into a sandbox's v1 cgroups, clones init there and steps
 * back out. */
int petri__cgroup_move_self_v1(const char *memory_dir, const char *pids_dir, const char *cpu_dir);
/* Reset the peak-memory watermark (best effort). */
void petri__cgroup_reset_peak(const struct petri_cgroup *cg);
int petri__cgroup_read_stats(const struct petri_cgroup *cg, struct petri_cgroup_stats *out);
/* Kill whatever is left, then rmdir every directory (retrying briefly while
 * the kernel finishes tearing tasks down).  Frees the strings, closes fds. */
void petri__cgroup_destroy(struct petri_cgroup *cg);
/* How many processes the sandbox's cgroups list (all hierarchies), or -errno. */
int petri__cgroup_populated(const struct petri_cgroup *cg);

#endif /* PETRI_INTERNAL_H */
