/* SPDX-License-Identifier: Apache-2.0 */
/*
 * defaults.h - the default of every limit and size the caller leaves at 0,
 * in one place.  sandbox.c applies the sandbox's; exec.c applies an exec's
 * once per exec (struct petri_exec_limits, sandbox_priv.h), and everything
 * else (the pump loop, the reason, the audit hooks) reads that struct.
 */
#ifndef PETRI_DEFAULTS_H
#define PETRI_DEFAULTS_H

/* A sandbox (petri_sandbox_opts). */
#define DEFAULT_MEMORY (512ull << 20)
#define DEFAULT_TMP (64ull << 20)
#define DEFAULT_WORKSPACE (256ull << 20)
#define DEFAULT_PIDS 256
/* No CPU limit by default: the wall timeout and RLIMIT_CPU already bound an
 * exec's CPU time, and a fixed fraction would slow every sandbox's honest
 * work on a large host as much as a runaway one on a small host.  A host
 * that runs sandboxes side by side sets petri_sandbox_opts.cpus_milli. */
#define DEFAULT_CPUS_MILLI 0u
/* The smallest CPU limit: cgroups refuse a CFS quota below 1 ms per 100 ms
 * period, i.e. 0.01 CPU. */
#define CPUS_MILLI_MIN 10u
/* A root host maps each sandbox's ids 0..65535 onto a range at or above the
 * base (sandbox.c, choose_host_ids): ranges start at base + k * 65536 and the
 * last id of the last one stays below 2^32 - 1, so at most 0xfffeffff as a
 * base; the default leaves 14335 ranges. */
#define DEFAULT_UID_BASE 0xc8000000u
/* Per-user kernel counts, per sandbox (README "Limits of this design").
 * inotify instances: the kernel's own default; watches: half of a
 * common host limit, far above what an editor-like tool or a test
 * runner watching a project uses; queued signals: far above what a
 * runtime queues (Go's and Node's signal handling queue none), low
 * enough that the kernel memory they pin stays small; message queue
 * bytes: the kernel's default RLIMIT_MSGQUEUE. */
#define DEFAULT_INOTIFY_INSTANCES 128u
#define DEFAULT_INOTIFY_WATCHES 65536u
#define DEFAULT_SIGPENDING 4096u
#define DEFAULT_MSGQUEUE 819200ull
#define DEFAULT_UID_BASE_MAX 0xfffeffffu

/* An exec (petri_exec_opts); the CPU limit's default follows from the wall
 * timeout (exec.c's exec_limits()). */
#define DEFAULT_TIMEOUT_MS 30000ull
#define DEFAULT_OUTPUT_MAX (1ull << 20)
#define DEFAULT_OUTPUT_KILL (64ull << 20)
#define DEFAULT_FSIZE (1ull << 30)
#define DEFAULT_NOFILE 1024u

/* The egress proxy (PETRI_NET_PROXY), per sandbox: connections open at
 * once; bytes both ways over its life; how long a client may take to send
 * its request head (slowloris), an upstream to accept, and a connection to
 * stay silent both ways. */
#define DEFAULT_NET_MAX_CONNS 256u
#define DEFAULT_NET_MAX_BYTES (16ull << 30)
#define NET_HEAD_TIMEOUT_MS 10000u
#define NET_CONNECT_TIMEOUT_MS 10000u
#define NET_IDLE_TIMEOUT_MS 300000u

/* petri_sandbox_read_file() with max 0. */
#define DEFAULT_READ_MAX (64ull << 20)
/* petri_sandbox_list_dir() with max 0. */
#define DEFAULT_LIST_MAX 10000u

#endif /* PETRI_DEFAULTS_H */
