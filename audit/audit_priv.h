/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_priv.h - what the audit files (writer.c, sink.c,
 * reader.c, chain.c, encode.c) share, and the seam for the kernel (eBPF) half:
 * it builds a Petri__Audit__V1__Event and calls petri__audit_emit_event().
 * Nothing here is API.
 */
#ifndef PETRI_AUDIT_PRIV_H
#define PETRI_AUDIT_PRIV_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "petri/audit.h"
#include "petri/audit/v1/audit.pb-c.h"

typedef Petri__Audit__V1__Event petri_pb_event;

/* chain.c: the chain's hash, SHA-256 from libcrypto ----------------------- */

#define PETRI_SHA256_LEN 32

/* A reusable SHA-256 context (opaque; one user at a time). */
typedef struct petri__audit_hasher petri__audit_hasher;

/* [out] @out, freed with petri__audit_hasher_free().  0, -ENOMEM, or
 * -ENOSYS when libcrypto offers no SHA-256 (a provider configuration
 * without it). */
int petri__audit_hasher_new(petri__audit_hasher **out);
/* Accepts NULL. */
void petri__audit_hasher_free(petri__audit_hasher *h);
/* hash = SHA-256(prev || body) into @out: the chain's one hash function
 * (writer and reader).  @prev may be NULL when @prev_len is 0 (the header).
 * 0, or -EIO when libcrypto fails. */
int petri__audit_chain_hash(petri__audit_hasher *h, const uint8_t *prev, size_t prev_len,
			    const uint8_t *body, size_t body_len, uint8_t out[PETRI_SHA256_LEN]);

/* Framing and chain (writer.c) --------------------------------------------- */

/* The key of Event.hash (field 7, length-delimited) and its length byte: a
 * record is B || AUDIT_HASH_KEY AUDIT_HASH_LEN_BYTE || hash[32]. */
#define PETRI_AUDIT_HASH_KEY 0x3a
#define PETRI_AUDIT_HASH_TRAILER (2 + PETRI_SHA256_LEN)
#define PETRI_AUDIT_MAX_EVENT (1u << 20)      /* what the writer accepts */
#define PETRI_AUDIT_MAX_EVENT_CAP (64u << 20) /* largest a reader may allow */
#define PETRI_AUDIT_SCHEMA_VERSION 1

/* Encode @v as a varint into @out (>= 10 bytes); returns the length. */
size_t petri__audit_put_varint(uint8_t *out, uint64_t v);

/* Emit a fully built event (the kernel side's entry point).  The function
 * sets seq, prev_hash, hash and (when 0) time_unix_nano; it does not keep
 * @ev.  Same returns as petri_audit_emit_*().  The kinds encode.c
 * encodes by hand (the kernel half's: process exec/fork/exit, file and
 * network activity; the egress proxy's: net connection, DNS query) skip
 * protobuf-c's reflection and the UTF-8 copy: one
 * allocation per event (the queued record). */
int petri__audit_emit_event(petri_audit *a, petri_pb_event *ev, petri_error **err);

/* petri__audit_emit_event() (no error message) that, when the queue is
 * full, waits up to @wait_ms for the writer to make room before it drops
 * @ev: for the kernel half's consumer, which has the ring buffer behind it
 * (library events never wait for the sink). */
int petri__audit_emit_event_wait(petri_audit *a, petri_pb_event *ev, uint32_t wait_ms);

/* Benchmarks: non-zero sends every event through protobuf-c (the path
 * before encode.c), for a side-by-side measurement. */
extern int petri__audit_no_fast;

/* encode.c: does it encode @ev's kind? */
int petri__audit_enc_supported(const petri_pb_event *ev);
/* Encode @ev's fields 2..5 (time - @time_unix_nano in place of ev's -,
 * sandbox_id, exec_id, process), then its body, into @out (@cap bytes),
 * exactly as protobuf-c packs them, strings repaired to valid UTF-8;
 * *@mid_len: the bytes of the first part.  Returns the total length, or -1
 * (kind not supported, or no room). */
long petri__audit_enc_parts(const petri_pb_event *ev, uint64_t time_unix_nano, uint8_t *out,
			    size_t cap, size_t *mid_len);

/* Account @count events of @kind (PETRI_AUDIT_KIND_*) lost in the kernel's
 * ring buffer (kernel sequence numbers @first_kseq..@last_kseq, 0 when
 * unknown): added to the stream's totals at once, and reported by a Loss
 * {where: KERNEL_RINGBUF} event as soon as the queue has room — before any
 * later event, or by close; StreamEnd counts what close could not report as
 * lost_unreported.  Never dropped, unlike an emitted Loss event, which a full
 * queue would drop.  0, or -EINVAL. */
int petri__audit_report_loss(petri_audit *a, int kind, uint64_t count, uint64_t first_kseq,
			     uint64_t last_kseq);

/* Length of the valid UTF-8 sequence at @s (@n bytes left), or 0 when
 * it is not valid (reader.c). */
size_t petri__audit_utf8_len(const unsigned char *s, size_t n);
/* Is s[0..n) valid UTF-8 (what protobuf's string fields require)? */
int petri__audit_utf8_valid(const char *s, size_t n);
/* A NUL-terminated copy of s[0..n) in which every byte that does not begin
 * a valid UTF-8 sequence is U+FFFD; its length in *@len.  malloc'd (free()),
 * or NULL when out of memory. */
char *petri__audit_utf8_repair(const char *s, size_t n, size_t *len);

/* Wall clock in ns. */
uint64_t petri__audit_now_ns(void);

/* sink.c ------------------------------------------------------------------- */

struct petri_audit_sink {
	uint32_t kind; /* PETRI_AUDIT_SINK_* */
	int fd;        /* -1 for callbacks */
	int is_socket;
	int is_pipe; /* FIFO or tty: write at most PIPE_BUF after POLLOUT */
	petri_audit_sink_fn fn;
	void *userdata;
};

/* Connect the sink of @opts. */
int petri__audit_sink_open(struct petri_audit_sink *s, const petri_audit_opts *opts,
			   petri_error **err);
/* Write all of @data, waiting for the sink in steps of at most 100 ms and
 * giving up when *@abort becomes non-zero.  0, or a negative errno
 * (-ECANCELED when aborted). */
int petri__audit_sink_write(struct petri_audit_sink *s, const uint8_t *data, size_t len,
			    const atomic_int *abort);
void petri__audit_sink_close(struct petri_audit_sink *s);

/* Open a stream with options already copied to full size (sz checked) and
 * with the header's kernel_audit fields decided: petri_audit_open (in the
 * library's audit hooks, which ask the context) calls this. */
int petri__audit_open_stream(petri_audit **out, const petri_audit_opts *opts, petri_error **err);
/* The kernel half's state for a deferred StreamHeader: blocks until it is
 * known, then sets *@on and @reason (@n bytes, "" when on).  @release
 * drops the stream's hold on @arg (when the stream is freed). */
struct petri__audit_header_wait {
	void (*state)(void *arg, int *on, char *reason, size_t n);
	void (*release)(void *arg);
	void *arg;
};
/* petri__audit_open_stream(), except that the StreamHeader's kernel_audit
 * and kernel_audit_reason come from @w (opts->kernel_audit* are ignored):
 * the header is built now (its time, monotonic_ns, ids) and sealed, seq 0,
 * by the first emit, loss report or close, which wait for @w->state.  The
 * stream holds @w->arg until it is freed (also on failure). */
int petri__audit_open_stream_deferred(petri_audit **out, const petri_audit_opts *opts,
				      const struct petri__audit_header_wait *w, petri_error **err);

#endif /* PETRI_AUDIT_PRIV_H */
