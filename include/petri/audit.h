/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit.h - the audit stream of libpetri: a tamper-evident, loss-accounted
 * sequence of protobuf events (schema audit/proto/petri/audit/v1/audit.proto,
 * framing and hash chain described there and in audit/README.md).
 *
 * Two halves:
 *  - a writer (petri_audit): assigns gap-free sequence numbers, chains every
 *    event to the previous one with SHA-256, and hands the framed bytes to a
 *    sink (file, inherited fd, unix socket, callback) through a bounded queue
 *    and a writer thread.  Emitting never waits for the sink: when the queue
 *    is full the event is dropped and counted, and a Loss event with the
 *    exact count enters the stream as soon as there is room.
 *  - a reader (petri_audit_reader): a hardened decoder that checks framing,
 *    sizes, the sequence and the chain, and formats events as text or JSON
 *    lines (OCSF-style).
 *
 * The conventions of petri.h apply (negative errno returns, petri_error **,
 * the one sz rule for every struct that begins with `sz`, open/close for
 * streams, no printing).
 */
#ifndef PETRI_AUDIT_H
#define PETRI_AUDIT_H

#include "petri/petri.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Event kinds: the field number of the body in petri.audit.v1.Event. */
#define PETRI_AUDIT_KIND_STREAM_HEADER 16
#define PETRI_AUDIT_KIND_STREAM_END 17
#define PETRI_AUDIT_KIND_SANDBOX_CREATED 18
#define PETRI_AUDIT_KIND_SANDBOX_DESTROYED 19
#define PETRI_AUDIT_KIND_EXEC_STARTED 20
#define PETRI_AUDIT_KIND_EXEC_ENDED 21
#define PETRI_AUDIT_KIND_PROCESS_EXEC 22
#define PETRI_AUDIT_KIND_PROCESS_FORK 23
#define PETRI_AUDIT_KIND_PROCESS_EXIT 24
#define PETRI_AUDIT_KIND_FILE_ACTIVITY 25
#define PETRI_AUDIT_KIND_NETWORK_ACTIVITY 26
#define PETRI_AUDIT_KIND_POLICY_DENIAL 27
#define PETRI_AUDIT_KIND_LIMIT_HIT 28
#define PETRI_AUDIT_KIND_SECRET_USE 29
#define PETRI_AUDIT_KIND_LOSS 30

/** "stream_header", "file_activity", ... for a PETRI_AUDIT_KIND_*;
 *  "unknown" otherwise (static storage). */
PETRI_API const char *petri_audit_kind_name(int kind);

/* ------------------------------------------------------------------------
 * Writer
 * ---------------------------------------------------------------------- */

typedef struct petri_audit petri_audit;

#define PETRI_AUDIT_SINK_FILE 1     /* @path, created (0600) or truncated */
#define PETRI_AUDIT_SINK_FD 2       /* @fd, duplicated; the caller keeps its own */
#define PETRI_AUDIT_SINK_UNIX 3     /* SOCK_STREAM connect() to the socket at @path */
#define PETRI_AUDIT_SINK_CALLBACK 4 /* @sink_fn */

/** Callback sink: called on the writer thread with one framed event (varint
 *  length + Event bytes) at a time, in order.  Return 0, or a negative errno
 *  to report that the event was not taken (it is counted as lost). */
typedef int (*petri_audit_sink_fn)(const void *data, size_t len, void *userdata);

typedef struct petri_audit_opts {
	uint32_t sz;
	uint32_t sink; /* PETRI_AUDIT_SINK_* (required) */
	const char *path;
	int32_t fd;
	uint32_t flags; /* reserved, must be 0 */
	petri_audit_sink_fn sink_fn;
	void *sink_userdata;
	uint32_t queue_events;     /* events the queue holds; default 4096 */
	uint32_t close_timeout_ms; /* how long close waits for the sink; default 5000 */
	/* What the StreamHeader says about the kernel (eBPF) half. */
	uint32_t kernel_audit; /* 1: kernel events are in this stream */
	uint32_t reserved0;
	const char *kernel_audit_reason; /* why not (NULL: "not enabled") */
	/* The context whose sandboxes will send to this stream (borrowed for
	 * the call only), or NULL.  With kernel_audit 0, the header then says
	 * what petri_ctx_kernel_audit(@ctx) says (loading the kernel half if
	 * it was not yet): on, or off and why.  Without it the header can
	 * only repeat kernel_audit, which a host that never set it left 0
	 * even when its sandboxes' kernel events were in the stream. */
	petri_ctx *ctx;
} petri_audit_opts;

/* clang-format off */
#define PETRI_AUDIT_OPTS_INIT {sizeof(petri_audit_opts), 0, NULL, -1, 0, NULL, NULL, 0, 0, 0, 0, NULL, NULL}
/* clang-format on */
PETRI_API void petri_audit_opts_init(petri_audit_opts *opts);

/**
 * Open a stream: connect the sink, start the writer thread and emit the
 * StreamHeader (seq 0).  [out] @out.  A stream outlives no context it is
 * attached to and may serve several: sandboxes of any context send to it
 * (petri_sandbox_opts.audit), and it needs none of its own.  Only when
 * @opts->ctx is set does opening consult that context, to say in the header
 * whether the kernel half is on (loading it on first use).
 * @opts is required (NULL is -EINVAL: there is no default sink).
 * Errors: -EINVAL bad options (bad sz, an unknown option: see petri.h); the
 * errno of open()/connect() for the sink.
 */
PETRI_API int petri_audit_open(petri_audit **out, const petri_audit_opts *opts, petri_error **err);

/**
 * Emit StreamEnd (totals per kind and of losses), wait up to
 * close_timeout_ms for the writer to hand everything to the sink, close the
 * sink and free @a.  Accepts NULL.  Returns 0 when every event emitted was
 * written or reported lost in the stream; -ETIMEDOUT when the sink did not
 * drain in time; -EIO when the sink failed (see petri_audit_stats()).  @a
 * is freed in every case.
 */
PETRI_API int petri_audit_close(petri_audit *a, petri_error **err);

/* Returned by the emit functions when the queue was full and the event was
 * dropped (and counted; a Loss event will report it). */
#define PETRI_AUDIT_DROPPED 1

/** The process an event is about; any field may be 0/NULL. */
typedef struct petri_audit_process {
	uint32_t pid_inside;
	uint32_t pid_host;
	uint32_t ppid;
	uint32_t uid;
	const char *comm;
	const char *executable;
} petri_audit_process;

/* The emit functions return 0 when the event is queued, PETRI_AUDIT_DROPPED
 * when it was dropped and counted, -EINVAL for bad arguments, -EPIPE after
 * close began.  Strings are copied.  @proc may be NULL.  They never wait for
 * the sink. */

PETRI_API int petri_audit_emit_sandbox_created(petri_audit *a, const char *sandbox_id,
					       const char *language, uint64_t cgroup_id,
					       uint32_t init_pid_host, petri_error **err);
PETRI_API int petri_audit_emit_sandbox_destroyed(petri_audit *a, const char *sandbox_id,
						 const char *reason, petri_error **err);
/** @argv NULL-terminated (may be NULL when @language and code were given). */
PETRI_API int petri_audit_emit_exec_started(petri_audit *a, const char *sandbox_id,
					    const char *exec_id, const petri_audit_process *proc,
					    const char *const *argv, const char *cwd,
					    const char *language, petri_error **err);
/** The result of an exec: the fields of petri_result (reason PETRI_REASON_*,
 *  limits_hit PETRI_LIMIT_* bits).  sz-versioned like an options struct
 *  (petri.h); @res of petri_audit_emit_exec_ended() is required. */
typedef struct petri_audit_exec_result {
	uint32_t sz;
	int32_t exit_code;
	int32_t signal;
	int32_t reason;
	uint32_t limits_hit;
	uint32_t reserved0;
	uint64_t wall_ns;
	uint64_t cpu_ns;
	uint64_t peak_memory_bytes;
} petri_audit_exec_result;
PETRI_API int petri_audit_emit_exec_ended(petri_audit *a, const char *sandbox_id,
					  const char *exec_id, const petri_audit_process *proc,
					  const petri_audit_exec_result *res, petri_error **err);
/** @limit: "memory", "pids", "timeout", "cpu", "output", "file_size", ... */
PETRI_API int petri_audit_emit_limit_hit(petri_audit *a, const char *sandbox_id,
					 const char *exec_id, const petri_audit_process *proc,
					 const char *limit, uint64_t value, uint64_t observed,
					 petri_error **err);

#define PETRI_AUDIT_DENIAL_SECCOMP 1
#define PETRI_AUDIT_DENIAL_NETWORK 2
#define PETRI_AUDIT_DENIAL_FILESYSTEM 3
/** A policy denial: @syscall_name/@syscall_nr (-1 when not a syscall). */
PETRI_API int petri_audit_emit_denial(petri_audit *a, const char *sandbox_id, const char *exec_id,
				      const petri_audit_process *proc, uint32_t kind,
				      const char *syscall_name, int32_t syscall_nr,
				      const char *detail, petri_error **err);
/** A secret was used: its name and destination, never its value. */
PETRI_API int petri_audit_emit_secret_use(petri_audit *a, const char *sandbox_id,
					  const char *exec_id, const char *name,
					  const char *destination, uint32_t allowed,
					  petri_error **err);
/**
 * Emit any event kind from its protobuf encoding (a petri.audit.v1.Event,
 * e.g. built with protoc-generated code): the library sets seq, prev_hash
 * and hash, and time_unix_nano when it is 0.  StreamHeader and StreamEnd are
 * refused (-EINVAL): the stream owns them.  A Loss event's count is added to
 * the stream's totals.  -EBADMSG when @data is not a valid Event; -E2BIG
 * when larger than 1 MiB.
 */
PETRI_API int petri_audit_emit_encoded(petri_audit *a, const void *data, size_t len,
				       petri_error **err);

typedef struct petri_audit_stats {
	uint32_t sz;
	uint32_t reserved0;
	uint64_t emitted;     /* events accepted (queued) including header, Loss and end */
	uint64_t written;     /* events the sink took */
	uint64_t lost_queue;  /* events dropped because the queue was full */
	uint64_t lost_sink;   /* queued events the sink failed to take */
	uint64_t loss_events; /* Loss events emitted */
	uint64_t queued;      /* events waiting now */
	uint64_t sink_errors;
} petri_audit_stats;
/** Snapshot of the counters into @out, whose sz the caller sets (8 to
 *  4096): the library writes at most sz bytes, and sets to 0 the fields of
 *  a newer caller's bigger struct that it does not know.  0, or -EINVAL for
 *  NULL or a bad sz. */
PETRI_API int petri_audit_get_stats(petri_audit *a, petri_audit_stats *out);

/* ------------------------------------------------------------------------
 * Reader
 * ---------------------------------------------------------------------- */

typedef struct petri_audit_reader petri_audit_reader;

#define PETRI_AUDIT_SRC_PATH 1   /* @path */
#define PETRI_AUDIT_SRC_FD 2     /* @fd (borrowed; read to its end) */
#define PETRI_AUDIT_SRC_MEMORY 3 /* @data/@data_len (borrowed until free) */

/* Decode without checking sequence and chain (to look at a damaged stream). */
#define PETRI_AUDIT_READER_F_NO_VERIFY (1u << 0)

typedef struct petri_audit_reader_opts {
	uint32_t sz;
	uint32_t source; /* PETRI_AUDIT_SRC_* (required) */
	uint32_t flags;  /* PETRI_AUDIT_READER_F_* */
	int32_t fd;
	const char *path;
	const void *data;
	uint64_t data_len;
	uint64_t max_event_bytes; /* larger events are errors; default 1 MiB, at most 64 MiB */
} petri_audit_reader_opts;

/* clang-format off */
#define PETRI_AUDIT_READER_OPTS_INIT {sizeof(petri_audit_reader_opts), 0, 0, -1, NULL, NULL, 0, 0}
/* clang-format on */
PETRI_API void petri_audit_reader_opts_init(petri_audit_reader_opts *opts);

/** Open a reader on the source @opts names (required: NULL is -EINVAL).
 *  [out] @out, owned by the caller: close it with petri_audit_reader_close().
 *  Errors: -EINVAL bad options (bad sz, an unknown option or flag, no
 *  source), -EBADF a bad fd, the errno of open() for a path. */
PETRI_API int petri_audit_reader_open(petri_audit_reader **out, const petri_audit_reader_opts *opts,
				      petri_error **err);
/** Close a reader: free it, and close the fd it opened for a path (an fd
 *  source stays the caller's).  Accepts NULL. */
PETRI_API void petri_audit_reader_close(petri_audit_reader *r);
/** The same as petri_audit_reader_close(), under the name this library
 *  first exported (kept for the ABI; new code uses the close verb). */
PETRI_API void petri_audit_reader_free(petri_audit_reader *r);

/**
 * Decode the next event.  Returns 1 with an event current, 0 at the end of
 * the input, or a negative errno: -EBADMSG for a malformed, out-of-sequence
 * or unchained event (message "seq N: ..."; see
 * petri_audit_reader_first_bad_seq()), -EFBIG for an event larger than
 * max_event_bytes, or the errno of read().  After an error the reader stays
 * failed.
 */
PETRI_API int petri_audit_reader_next(petri_audit_reader *r, petri_error **err);
/** Sequence number of the current event. */
PETRI_API uint64_t petri_audit_reader_seq(const petri_audit_reader *r);
/** PETRI_AUDIT_KIND_* of the current event (0 for a kind this library
 *  does not know). */
PETRI_API int petri_audit_reader_kind(const petri_audit_reader *r);
/** The current event's bytes, without the length prefix (borrowed until the
 *  next call). */
PETRI_API const void *petri_audit_reader_raw(const petri_audit_reader *r, size_t *len);
/** After a failure: the sequence number at which the stream stops being a
 *  valid chain (the seq the bad or missing event should have had). */
PETRI_API uint64_t petri_audit_reader_first_bad_seq(const petri_audit_reader *r);

#define PETRI_AUDIT_FORMAT_TEXT 1 /* one human-readable line */
#define PETRI_AUDIT_FORMAT_JSON 2 /* one JSON object (OCSF-style), no newline */
/** Format the current event.  [out] @out is malloc'd and NUL-terminated
 *  (free with petri_free()). */
PETRI_API int petri_audit_reader_format(const petri_audit_reader *r, uint32_t format, char **out,
					petri_error **err);

/**
 * Read the rest of the stream and check that it is intact and complete:
 * header first, gap-free seq, every hash chained, StreamEnd last with
 * nothing after it.  Returns 0, or -EBADMSG (or the error of next()) with
 * [out] @first_bad_seq (may be NULL) set and a message in @err.
 */
PETRI_API int petri_audit_reader_verify(petri_audit_reader *r, uint64_t *first_bad_seq,
					petri_error **err);

#ifdef __cplusplus
}
#endif
#endif /* PETRI_AUDIT_H */
