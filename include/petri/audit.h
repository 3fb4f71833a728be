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
 * The conventions of petri.h apply: negative errno returns; a non-NULL
 * `petri_error **err` receives a message on failure (free it with
 * petri_error_free()); the one sz rule for every struct that begins with
 * `sz` (see petri.h); open/close for streams; output parameters are
 * untouched on failure; the library never prints.
 *
 * Threads: a petri_audit may be used from any number of threads at once
 * (emit, get_stats); close it once, after the last emit has returned.  A
 * petri_audit_reader is used by one thread at a time.
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
/* (31 is kept for signed checkpoints.)  The egress proxy's events
 * (PETRI_NET_PROXY): a connection, allowed or refused; a DNS exchange. */
#define PETRI_AUDIT_KIND_NET_CONNECTION 32
#define PETRI_AUDIT_KIND_DNS_QUERY 33
/* TenantVault: a placeholder sent where no value may go (refused).  Its
 * uses are PETRI_AUDIT_KIND_SECRET_USE. */
#define PETRI_AUDIT_KIND_SECRET_MISUSE 34

/** The name of a PETRI_AUDIT_KIND_* ("stream_header", "file_activity",
 *  ...: the body field's name in the schema), or "unknown" for any other
 *  @kind.  The string is static: never free it. */
PETRI_API const char *petri_audit_kind_name(int kind);

/* ------------------------------------------------------------------------
 * Writer
 * ---------------------------------------------------------------------- */

typedef struct petri_audit petri_audit;

#define PETRI_AUDIT_SINK_FILE 1     /* @path, created (0600) or truncated */
#define PETRI_AUDIT_SINK_FD 2       /* @fd, duplicated; the caller keeps its own */
#define PETRI_AUDIT_SINK_UNIX 3     /* SOCK_STREAM connect() to the socket at @path */
#define PETRI_AUDIT_SINK_CALLBACK 4 /* @sink_fn */

/** Callback sink: called on the stream's writer thread (never on an
 *  emitting thread) with one framed event at a time, in stream order:
 *  @data (@len bytes: the varint length, then the Event) is borrowed for the
 *  call only, @userdata is petri_audit_opts.sink_userdata.  Return 0, or a
 *  negative errno to report that the event was not taken: it is counted as
 *  lost (petri_audit_stats.lost_sink) and reported by a Loss event once
 *  the sink takes events again (the stream then has a gap, which verify
 *  reports).  After a failure the writer pauses (up to 500 ms) before the
 *  next call.  It must not close the stream: close waits for this thread. */
typedef int (*petri_audit_sink_fn)(const void *data, size_t len, void *userdata);

/** Options of petri_audit_open().  Initialise with PETRI_AUDIT_OPTS_INIT or
 *  petri_audit_opts_init(); the strings are read during the call only. */
typedef struct petri_audit_opts {
	uint32_t sz;
	uint32_t sink;               /* PETRI_AUDIT_SINK_* (required) */
	const char *path;            /* SINK_FILE, SINK_UNIX */
	int32_t fd;                  /* SINK_FD */
	uint32_t flags;              /* reserved, must be 0 */
	petri_audit_sink_fn sink_fn; /* SINK_CALLBACK */
	void *sink_userdata;         /* passed to sink_fn */
	uint32_t queue_events;       /* events the queue holds; default 4096 */
	uint32_t close_timeout_ms;   /* how long close waits for the sink; default 5000 */
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
	/* The most bytes the stream may hold, framing included (what a file
	 * sink's file grows to at most): 0 means PETRI_AUDIT_MAX_BYTES_DEFAULT
	 * (1 GiB), PETRI_AUDIT_MAX_BYTES_UNLIMITED no bound, anything else at
	 * least PETRI_AUDIT_MAX_BYTES_MIN.  What happens at the bound: see
	 * "Size bound" below. */
	uint64_t max_bytes;
} petri_audit_opts;

/* clang-format off */
#define PETRI_AUDIT_OPTS_INIT {sizeof(petri_audit_opts), 0, NULL, -1, 0, NULL, NULL, 0, 0, 0, 0, NULL, NULL, 0}
/* clang-format on */

/*
 * Size bound (petri_audit_opts.max_bytes).  A program that floods file or
 * network calls makes the kernel half emit events as fast as it can make
 * the calls: up to ~0.4 GB/s with long paths (audit/README.md "Size
 * bound").  So a stream holds at most max_bytes bytes:
 *
 *  - Activity events, the ones the sandboxed code causes and can repeat at
 *    will (process exec/fork/exit, file and network activity, the egress
 *    proxy's connections and DNS queries, policy denials, secret uses and
 *    misuses,
 *    kinds this library does not know), stop when
 *    the next one would take the stream past
 *    max_bytes - PETRI_AUDIT_MAX_BYTES_RESERVE.  From then on every one is
 *    dropped and counted, and reported as Loss {where: SIZE_LIMIT} (one per
 *    kind, with the exact count) before the next event written, or by
 *    close.
 *  - Lifecycle events (sandbox created/destroyed, exec started/ended, limit
 *    hits, Loss records) go on into the reserve: 63 KiB of it, a few
 *    hundred such events, are theirs; past that they are dropped and
 *    counted like the others.
 *  - The rest of the reserve (at most 17 KiB) always holds what close
 *    writes: one Loss per (where, kind) still to report and the StreamEnd.
 *    So the stream ends cleanly, verifies, and its totals add up: for each
 *    kind, StreamEnd's written is what the stream holds and its lost the
 *    sum of the Loss counts.
 *
 * The default suits a file: far above what ordinary runs write (200,000
 * audited opens make ~35 MB) and reached within seconds by a flood, which
 * then stops filling the disk.  A long-lived stream to a socket or a
 * callback (a SIEM collector) that must never stop recording activity sets
 * PETRI_AUDIT_MAX_BYTES_UNLIMITED.
 */
#define PETRI_AUDIT_MAX_BYTES_DEFAULT (1ull << 30)
#define PETRI_AUDIT_MAX_BYTES_UNLIMITED UINT64_MAX
#define PETRI_AUDIT_MAX_BYTES_MIN (256ull << 10)
#define PETRI_AUDIT_MAX_BYTES_RESERVE (80ull << 10)
/** Set [out] @opts to PETRI_AUDIT_OPTS_INIT (for callers that cannot use
 *  the macro, e.g. through FFI).  NULL is ignored. */
PETRI_API void petri_audit_opts_init(petri_audit_opts *opts);

/**
 * Open a stream: connect the sink, start the writer thread and emit the
 * StreamHeader (seq 0).  A stream may serve several contexts: sandboxes of
 * any context send to it (petri_sandbox_opts.audit), and it needs none of
 * its own; close it after the sandboxes that send to it are destroyed.
 * Only when @opts->ctx is set does opening consult that context, to say in
 * the header whether the kernel half is on (loading it on first use).  When
 * the context has not loaded it yet, the load starts on a thread of its own
 * and this returns at once: the header (seq 0, with the time and ids of the
 * open) is then written, with the load's outcome, just before the first
 * other event (or at close), so a sandbox can be created while the BPF
 * programs load.  The context may be freed before the stream is closed.
 *
 * @out   [out] the stream, owned by the caller: close it with
 *        petri_audit_close() (which also frees it).
 * @opts  the sink and limits (required; read during the call only).
 * @err   [out, optional] the error message on failure.
 * Returns 0.  Errors: -EINVAL missing @out or @opts, a bad `sz` or an
 * unknown option (see petri.h), unknown flags, no or unknown sink,
 * queue_events outside [2, 2^24], max_bytes between 1 and
 * PETRI_AUDIT_MAX_BYTES_MIN - 1, a file or unix sink without a (usable)
 * path, a callback sink without sink_fn; -EBADF a SINK_FD with a negative
 * fd; the errno of open(), dup() or connect() for the sink; -ENOMEM;
 * -ENOSYS when libcrypto offers no SHA-256; the error of pthread_create().
 */
PETRI_API int petri_audit_open(petri_audit **out, const petri_audit_opts *opts, petri_error **err);

/**
 * Emit StreamEnd (totals per kind and of losses), wait up to
 * close_timeout_ms for the writer to hand everything to the sink, stop the
 * writer thread, close the sink and free @a.  Emits that race with close
 * return -EPIPE; no emit may start after close returned.
 *
 * @a    the stream, or NULL (then 0 is returned).  Freed in every case.
 * @err  [out, optional] the error message on failure.
 * Returns 0 when every event emitted was written or reported lost in the
 * stream.  Errors: -ETIMEDOUT the sink did not drain within
 * close_timeout_ms (the rest is lost, and the stream may lack its
 * StreamEnd); -EIO the sink failed to take some events, or the StreamEnd
 * could not be written.
 */
PETRI_API int petri_audit_close(petri_audit *a, petri_error **err);

/* Returned by the emit functions when the queue was full, or the stream
 * had reached its size bound (petri_audit_opts.max_bytes), and the event
 * was dropped (and counted; a Loss event will report it). */
#define PETRI_AUDIT_DROPPED 1

/** The process an event is about; any field may be 0/NULL (NULL strings
 *  are written as empty). */
typedef struct petri_audit_process {
	uint32_t pid_inside;
	uint32_t pid_host;
	uint32_t ppid;
	uint32_t uid;
	const char *comm;
	const char *executable;
} petri_audit_process;

/*
 * The emit functions: each builds one event, gives it the next sequence
 * number, the wall-clock time and its place in the hash chain, and queues
 * it for the sink.  They never wait for the sink, and may be called from
 * any thread.
 *
 * Common parameters:
 *  @a           the stream (required).
 *  @sandbox_id, @exec_id  the ids the event belongs to; NULL is written as
 *               empty.
 *  @proc        the process the event is about, or NULL.
 *  @err         [out, optional] the error message on failure.
 * Strings are copied into the event before the call returns (none is kept);
 * bytes that are not valid UTF-8 are written as U+FFFD, since protobuf
 * `string` fields must be UTF-8.
 *
 * Common returns: 0 the event is queued; PETRI_AUDIT_DROPPED (1) the queue
 * was full or the stream had reached its size bound ("Size bound" above),
 * the event was dropped and counted, and a Loss event will report it.  Errors: -EINVAL a NULL @a or a bad argument named below; -EPIPE
 * close has begun; -E2BIG the encoded event is larger than 1 MiB; -ENOMEM;
 * -EIO libcrypto or the encoder failed.  Nothing is queued on an error.
 */

/** SandboxCreated: the sandbox @sandbox_id started, for @language (may be
 *  NULL), in cgroup @cgroup_id, its init being host pid @init_pid_host. */
PETRI_API int petri_audit_emit_sandbox_created(petri_audit *a, const char *sandbox_id,
					       const char *language, uint64_t cgroup_id,
					       uint32_t init_pid_host, petri_error **err);
/** SandboxDestroyed: the sandbox @sandbox_id is gone, for @reason (free
 *  text, e.g. "destroyed"; may be NULL). */
PETRI_API int petri_audit_emit_sandbox_destroyed(petri_audit *a, const char *sandbox_id,
						 const char *reason, petri_error **err);
/** ExecStarted: exec @exec_id of @sandbox_id began, running @argv
 *  (NULL-terminated; may be NULL when code in @language was given) in @cwd
 *  (may be NULL). */
PETRI_API int petri_audit_emit_exec_started(petri_audit *a, const char *sandbox_id,
					    const char *exec_id, const petri_audit_process *proc,
					    const char *const *argv, const char *cwd,
					    const char *language, petri_error **err);
/** The result of an exec: the fields of petri_result (reason PETRI_REASON_*,
 *  limits_hit PETRI_LIMIT_* bits).  sz-versioned like an options struct
 *  (petri.h): set sz to sizeof(petri_audit_exec_result). */
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
/** ExecEnded: exec @exec_id of @sandbox_id ended with @res (read during the
 *  call only; reason and limit bits are written by name).  -EINVAL when @res
 *  is NULL or its sz is smaller than offsetof(wall_ns). */
PETRI_API int petri_audit_emit_exec_ended(petri_audit *a, const char *sandbox_id,
					  const char *exec_id, const petri_audit_process *proc,
					  const petri_audit_exec_result *res, petri_error **err);
/** LimitHit: a resource limit ended or constrained the exec.  @limit names
 *  it ("memory", "pids", "timeout", "cpu", "output", "file_size", ...;
 *  required, -EINVAL when NULL or empty), @value is the limit and @observed
 *  the usage seen (0 when unknown). */
PETRI_API int petri_audit_emit_limit_hit(petri_audit *a, const char *sandbox_id,
					 const char *exec_id, const petri_audit_process *proc,
					 const char *limit, uint64_t value, uint64_t observed,
					 petri_error **err);

#define PETRI_AUDIT_DENIAL_SECCOMP 1
#define PETRI_AUDIT_DENIAL_NETWORK 2
#define PETRI_AUDIT_DENIAL_FILESYSTEM 3
/** PolicyDenial: the policy refused something.  @kind is a
 *  PETRI_AUDIT_DENIAL_* (-EINVAL otherwise); @syscall_name (may be NULL)
 *  and @syscall_nr (-1 when not a syscall) name the call; @detail is free
 *  text (may be NULL). */
PETRI_API int petri_audit_emit_denial(petri_audit *a, const char *sandbox_id, const char *exec_id,
				      const petri_audit_process *proc, uint32_t kind,
				      const char *syscall_name, int32_t syscall_nr,
				      const char *detail, petri_error **err);
/** SecretUse: the secret @name (required, -EINVAL when NULL or empty) was
 *  sent, or refused (@allowed 0), to @destination (host[:port]; may be
 *  NULL).  Never pass the value: the event has no field for it. */
PETRI_API int petri_audit_emit_secret_use(petri_audit *a, const char *sandbox_id,
					  const char *exec_id, const char *name,
					  const char *destination, uint32_t allowed,
					  petri_error **err);
/**
 * Emit any event kind from its protobuf encoding: @data (@len bytes, read
 * during the call only) is a petri.audit.v1.Event, e.g. built with
 * protoc-generated code.  The library sets seq, prev_hash and hash (any
 * values in @data are replaced), and time_unix_nano when it is 0; invalid
 * UTF-8 in its strings becomes U+FFFD.  A Loss event's count is added to
 * the stream's totals.  Returns as the other emit functions; errors also:
 * -EINVAL @data NULL with @len > 0, an event without a body, or a
 * StreamHeader or StreamEnd (the stream owns them); -EBADMSG @data is not a
 * valid Event; -E2BIG @len is larger than 1 MiB.
 */
PETRI_API int petri_audit_emit_encoded(petri_audit *a, const void *data, size_t len,
				       petri_error **err);

/** Counters of a stream (petri_audit_get_stats()). */
typedef struct petri_audit_stats {
	uint32_t sz;
	uint32_t reserved0;
	uint64_t emitted;     /* events accepted (queued) including header, Loss and end;
			       * a Loss record the sink refused is taken back (its counts
			       * go to the next Loss), so emitted = written + lost_sink +
			       * queued */
	uint64_t written;     /* events the sink took */
	uint64_t lost_queue;  /* events dropped because the queue was full */
	uint64_t lost_sink;   /* queued events the sink failed to take */
	uint64_t loss_events; /* Loss events emitted */
	uint64_t queued;      /* events waiting now */
	uint64_t sink_errors;
	uint64_t lost_size; /* events dropped because the stream reached max_bytes */
	uint64_t bytes;     /* bytes sealed into the stream, framing included (what
			     * max_bytes bounds) */
} petri_audit_stats;
/** Snapshot of @a's counters into @out, whose sz the caller sets (8 to
 *  4096): the library writes at most sz bytes, and sets to 0 the fields of
 *  a newer caller's bigger struct that it does not know.  Returns 0, or
 *  -EINVAL when @a or @out is NULL or out->sz is out of bounds. */
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

/** Options of petri_audit_reader_open().  Initialise with
 *  PETRI_AUDIT_READER_OPTS_INIT or petri_audit_reader_opts_init(). */
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
/** Set [out] @opts to PETRI_AUDIT_READER_OPTS_INIT (for FFI callers).
 *  NULL is ignored. */
PETRI_API void petri_audit_reader_opts_init(petri_audit_reader_opts *opts);

/**
 * Open a reader on a stream: a file (SRC_PATH, opened O_CLOEXEC and closed
 * by petri_audit_reader_close()), an fd (SRC_FD, borrowed: read from its
 * current offset to its end, never closed) or memory (SRC_MEMORY, borrowed
 * until petri_audit_reader_close()).  Nothing is read yet.
 *
 * @out   [out] the reader, owned by the caller: close it with
 *        petri_audit_reader_close().
 * @opts  the source (required; read during the call only; @opts->path is
 *        not kept).
 * @err   [out, optional] the error message on failure.
 * Returns 0.  Errors: -EINVAL missing @out or @opts, a bad sz or an unknown
 * option (see petri.h), unknown flags or source, no path, NULL data with
 * data_len > 0, max_event_bytes above 64 MiB; -EBADF a negative fd; the
 * errno of open(); -ENOMEM; -ENOSYS when libcrypto offers no SHA-256.
 */
PETRI_API int petri_audit_reader_open(petri_audit_reader **out, const petri_audit_reader_opts *opts,
				      petri_error **err);
/** Close @r (NULL is accepted): free it and close the file it opened (an fd
 *  source stays the caller's).  Invalidates what petri_audit_reader_raw()
 *  returned. */
PETRI_API void petri_audit_reader_close(petri_audit_reader *r);
/** The same as petri_audit_reader_close(), under the name this library
 *  first exported (kept for the ABI; new code uses the close verb). */
PETRI_API void petri_audit_reader_free(petri_audit_reader *r);

/**
 * Decode the next event and make it current (the previous one is
 * released).  Unless the reader was opened with
 * PETRI_AUDIT_READER_F_NO_VERIFY, the event is checked before it becomes
 * current: the hash trailer, the hash itself, seq, prev_hash, the header
 * first and nothing after the StreamEnd.
 *
 * @r    the reader.
 * @err  [out, optional] the error message ("seq N: ...") on failure.
 * Returns 1 with an event current, 0 at the clean end of the input (no
 * event current).  Errors: -EINVAL @r is NULL; -EBADMSG a malformed,
 * truncated, out-of-sequence or unchained event (see
 * petri_audit_reader_first_bad_seq()); -EFBIG an event larger than
 * max_event_bytes; -ENOMEM; -EIO libcrypto failed; the errno of read().
 * After an error no event is current and the reader stays failed: every
 * later call returns the same error.
 */
PETRI_API int petri_audit_reader_next(petri_audit_reader *r, petri_error **err);
/** Sequence number of the current event (0 when none is current or @r is
 *  NULL). */
PETRI_API uint64_t petri_audit_reader_seq(const petri_audit_reader *r);
/** PETRI_AUDIT_KIND_* of the current event; 0 for a kind this library does
 *  not know, when no event is current, or when @r is NULL. */
PETRI_API int petri_audit_reader_kind(const petri_audit_reader *r);
/** The current event's bytes (a serialised petri.audit.v1.Event, without
 *  the length prefix), borrowed from @r: valid until the next call of
 *  petri_audit_reader_next()/_verify() or petri_audit_reader_close().  [out]
 *  @len (may be NULL) receives their length.  NULL (and *@len 0) when no
 *  event is current. */
PETRI_API const void *petri_audit_reader_raw(const petri_audit_reader *r, size_t *len);
/** After a failure of next() or verify(): the sequence number at which the
 *  stream stops being a valid chain (the seq the bad or missing event
 *  should have had).  0 while the reader has not failed. */
PETRI_API uint64_t petri_audit_reader_first_bad_seq(const petri_audit_reader *r);

/* Output formats of petri_audit_reader_format(). */
#define PETRI_AUDIT_FORMAT_TEXT 1 /* one human-readable line, no newline */
#define PETRI_AUDIT_FORMAT_JSON 2 /* one JSON object (OCSF-style), no newline */
/**
 * Format the current event.  TEXT: "SEQ TIME KIND" and the non-default
 * fields as name=value; string bytes other than printable ASCII appear as
 * \xNN, exactly as stored.  JSON: one object (audit/README.md "JSON":
 * the OCSF class, activity, time, metadata and actor, with every field of
 * the event under unmapped.petri), serialised by json-c.  JSON text is
 * UTF-8, so a string of the event that is not valid UTF-8 (possible in a
 * stream from another writer) has every byte that does not begin a valid
 * UTF-8 sequence replaced by U+FFFD; the output is valid JSON whatever the
 * bytes.
 *
 * @r       the reader, with an event current.
 * @format  PETRI_AUDIT_FORMAT_TEXT or PETRI_AUDIT_FORMAT_JSON.
 * @out     [out] the NUL-terminated line, owned by the caller: free it with
 *          petri_free().
 * @err     [out, optional] the error message on failure.
 * Returns 0.  Errors: -EINVAL @r or @out NULL, no event current, unknown
 * @format; -ENOMEM.
 */
PETRI_API int petri_audit_reader_format(const petri_audit_reader *r, uint32_t format, char **out,
					petri_error **err);

/**
 * Read the rest of the stream (from the reader's position) and check that
 * it is intact and complete: header first, gap-free seq, every hash
 * chained, StreamEnd last with nothing after it.  Leaves no event current.
 *
 * @r              the reader (not opened with NO_VERIFY).
 * @first_bad_seq  [out, optional] on failure, the seq at which the chain
 *                 breaks (as petri_audit_reader_first_bad_seq()); untouched
 *                 on success.
 * @err            [out, optional] the error message on failure.
 * Returns 0.  Errors: -EINVAL @r NULL or opened with NO_VERIFY; -EBADMSG a
 * damaged, truncated (no StreamEnd) or empty stream; the other errors of
 * petri_audit_reader_next().
 */
PETRI_API int petri_audit_reader_verify(petri_audit_reader *r, uint64_t *first_bad_seq,
					petri_error **err);

#ifdef __cplusplus
}
#endif
#endif /* PETRI_AUDIT_H */
