/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kernel.h - the kernel (eBPF) half of the audit layer, internal.
 *
 * One petri_kaudit per host process: it loads audit/bpf/petri_audit.bpf.c,
 * attaches the tracing programs (exec/fork/exit, file syscalls) once, and
 * runs a consumer thread that turns ring-buffer records into events of the
 * watched sandbox's audit stream (petri__audit_emit_event()).  Each sandbox
 * is watched by its cgroup v2 id; the cgroup socket hooks (connect, sendmsg,
 * bind) are attached to its cgroup directory for as long as it is watched.
 * Kernel losses become Loss{where: KERNEL_RINGBUF} events with exact counts.
 */
#ifndef PETRI_AUDIT_BPF_H
#define PETRI_AUDIT_BPF_H

#include <stddef.h>
#include <stdint.h>

#include "petri/audit.h"

struct petri_kaudit;

/**
 * Load and attach the programs and start the consumer thread.  [out] @out.
 * Errors: -EPERM (no CAP_BPF/CAP_PERFMON, locked-down kernel) or
 * -EOPNOTSUPP (the kernel lacks BTF or a program type) with a message that
 * says kernel audit is off and why; -ENOMEM.  Callers keep running without
 * kernel events in that case (degraded mode).
 */
int petri__kaudit_open(struct petri_kaudit **out, petri_error **err);

/**
 * petri__kaudit_open() with a ring buffer of @ringbuf_bytes (a power of two,
 * at least the page size; 0: the default 8 MiB).  For tests that need the
 * kernel to drop records.
 */
int petri__kaudit_open_sized(struct petri_kaudit **out, uint32_t ringbuf_bytes, petri_error **err);

/* Tests: non-zero makes the next opens relocate against the whole vmlinux
 * BTF, as on a kernel other than the build's. */
extern int petri__kaudit_no_min_btf;

/* Around a BPF object's open and load: libbpf's messages are captured (the
 * last warning of the calling thread, for the error) instead of printed,
 * and other loads wait meanwhile (libbpf's print hook is process-wide). */
void petri__bpf_capture_begin(void);
void petri__bpf_capture_end(void);
const char *petri__bpf_last_warning(void);

/* A memfd holding @btf, the minimal BTF of a BPF object's CO-RE relocations
 * made at build time (a NAME_btf.h of audit/bpf/gen_min_btf.cmake), when
 * the running kernel is the one it was cut from (/sys/kernel/notes, i.e.
 * build id, equal to @notes), else -1: libbpf then relocates against the
 * whole vmlinux BTF, which costs ~15-25 ms more per load.  For
 * bpf_object_open_opts.btf_custom_path ("/proc/self/fd/N"); the caller
 * closes it after the load. */
int petri__bpf_min_btf_fd(const unsigned char *btf, size_t btf_len, const unsigned char *notes,
			  size_t notes_len);

/* What the consumer needs to know about a sandbox to fill the fields the
 * kernel cannot: the uid inside its user namespace and the exec an event
 * belongs to. */
struct petri_kaudit_sandbox {
	/* The sandbox's uid map, one extent: @inside_uid -> @host_uid.  Kernel
	 * uids are translated through it in the consumer (not in BPF: the map
	 * is ours, so the copy in the kernel's user_namespace need not be
	 * read on every event); every other uid becomes the overflow uid
	 * (/proc/sys/kernel/overflowuid, 65534), as the kernel shows unmapped
	 * ids inside a namespace. */
	uint32_t inside_uid;
	uint32_t host_uid;
	/* Level of the sandbox's init's pid namespace (0: the initial one).
	 * Each exec runs in a pid namespace one level below, of its own: its
	 * records carry that namespace's inum, which the consumer binds to the
	 * exec id (petri__kaudit_exec_begin/_end). */
	uint32_t init_pidns_level;
};

/**
 * Send the kernel events of every task in cgroup @cgroup_id (the cgroup v2
 * inode id) to @audit (borrowed until petri__kaudit_unwatch() returns),
 * tagged with @sandbox_id (copied).  @cgroup_dirfd is an fd of that cgroup's
 * v2 directory (borrowed; used to attach the socket hooks).  @sb (copied;
 * NULL: the kernel's uids as they are, and no exec ids) describes the
 * sandbox.
 * Errors: -EEXIST already watched; -ENOSPC all slots in use; the errno of
 * attaching a cgroup program.
 */
int petri__kaudit_watch(struct petri_kaudit *k, uint64_t cgroup_id, int cgroup_dirfd,
			struct petri_audit *audit, const char *sandbox_id,
			const struct petri_kaudit_sandbox *sb, petri_error **err);

/**
 * The exec numbered @serial of the sandbox watched as @cgroup_id begins
 * (before its request is sent) or has ended (after its result came): its
 * kernel events get the exec id "<sandbox_id>:<serial>".  An exec's events
 * are those of the processes in its own pid namespace (bound to the exec
 * when the first of them is seen: the namespaces are used in the order
 * they are created, one per exec), and those of init while it runs.
 */
void petri__kaudit_exec_begin(struct petri_kaudit *k, uint64_t cgroup_id, uint64_t serial);
void petri__kaudit_exec_end(struct petri_kaudit *k, uint64_t cgroup_id, uint64_t serial);
/* Deliver every record the kernel has submitted so far (the consumer drains
 * the ring buffer; returns when it has). */
void petri__kaudit_sync(struct petri_kaudit *k);

/**
 * Stop watching @cgroup_id: detach its socket hooks, deliver every record
 * already in the ring buffer and report its outstanding losses, then forget
 * the stream.  Returns 0, or -ENOENT when it was not watched.
 */
int petri__kaudit_unwatch(struct petri_kaudit *k, uint64_t cgroup_id);

/** Unwatch everything, stop the consumer and unload.  Accepts NULL. */
void petri__kaudit_close(struct petri_kaudit *k);

/** Records lost in the kernel so far (all sandboxes, all kinds). */
uint64_t petri__kaudit_lost(struct petri_kaudit *k);

#endif /* PETRI_AUDIT_BPF_H */
