/* SPDX-License-Identifier: Apache-2.0 */
/*
 * writer.c - the audit stream writer: builds petri.audit.v1.Event messages,
 * gives them gap-free sequence numbers, chains them with SHA-256, frames
 * them (varint length prefix) and queues them for the writer thread, which
 * hands them to the sink (sink.c).  The queue is bounded: when it is
 * full an event is dropped and counted, and a Loss event with the exact
 * count enters the stream as soon as there is room.  Emitting never waits
 * for the sink.  Events the sink fails are lost (their seqs make a gap)
 * and reported by one Loss per (where, kind) once it takes events again;
 * while it fails the writer pauses between tries (writer_main).
 *
 * Sequence numbers and hashes are assigned under the lock at the moment an
 * event enters the queue, so queue order == seq order == chain order, and a
 * dropped event never consumes a seq.
 *
 * The stream's size is bounded too (max_bytes, audit.h "Size bound"): the
 * bytes of every sealed record are counted, activity events stop at
 * max_bytes - PETRI_AUDIT_MAX_BYTES_RESERVE, lifecycle events and Loss
 * records at max_bytes - end_reserve, and close's Loss records and
 * StreamEnd fit in end_reserve, the most they can take.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "audit_priv.h"
#include "events.h"

/* The per-kind counters: one slot per kind this library knows (16..30,
 * then 32..34: 31 is kept for checkpoints and has no slot, so that the
 * end reserve holds no Loss for it), and a last one for kinds it does not
 * know.  kind_index() and index_kind() convert. */
#define KIND_FIRST PETRI_AUDIT_KIND_STREAM_HEADER
#define KIND_LAST_DENSE PETRI_AUDIT_KIND_LOSS
#define NKINDS_DENSE (KIND_LAST_DENSE - KIND_FIRST + 1)
#define KIND_NET_FIRST PETRI_AUDIT_KIND_NET_CONNECTION
#define KIND_NET_LAST PETRI_AUDIT_KIND_SECRET_MISUSE
#define NKINDS (NKINDS_DENSE + (KIND_NET_LAST - KIND_NET_FIRST + 1) + 1)

/* The writer waits up to LINGER_US for LINGER_EVENTS to gather (see
 * writer_main). */
#define LINGER_US 1000
#define LINGER_EVENTS 256

/* Losses not yet reported by a Loss event, per (where, kind). */
struct pending_loss {
	uint64_t count;
	uint64_t first_time, last_time;
	uint64_t after_seq;
	uint64_t first_kseq, last_kseq; /* kernel losses */
};

struct qitem {
	uint8_t *data; /* varint length + record */
	size_t len;
	int kind;     /* its event kind (a sink that fails it: a Loss of that kind) */
	uint64_t seq; /* its seq (a Loss of it is after seq - 1) */
	/* A Loss record made from pending losses (flush_losses_upto): what it
	 * reports, at pending[where][idx].  Should the sink fail it, that goes
	 * back to pending for the next Loss: a Loss nobody received is not an
	 * event lost, its counts are still to report. */
	struct pending_loss *loss;
	int where, idx;
};

/* Where a pending loss happened: the writer's queue, the kernel's ring
 * buffer (reported by the kernel half, petri__audit_report_loss()), an
 * exec's report pipe (petri__audit_report_unreported()), or the sink (the
 * writer: sealed events it failed to deliver). */
#define PENDING_QUEUE 0
#define PENDING_KERNEL 1
#define PENDING_REPORT 2
#define PENDING_SINK 3
#define PENDING_SIZE 4 /* the stream reached max_bytes */
#define PENDING_RATE 5 /* a producer's rate budget (petri__audit_report_rate_limited) */
#define NPENDING 6
#define RATE_KINDS                                                                                 \
	4 /* the kinds PENDING_RATE takes: NetConnection, DnsQuery,
		      * SecretUse, SecretMisuse */

struct petri_audit {
	pthread_mutex_t mu;
	pthread_cond_t cv_work;  /* writer: items queued or closing */
	pthread_cond_t cv_space; /* close: an item left the queue */
	struct qitem *q;
	uint32_t cap, head, count;
	uint32_t writer_busy; /* items being written now */
	int lingering;        /* the writer waits for a batch to gather */
	uint8_t *wbuf;        /* the writer's batch (fd sinks) */
	size_t wbuf_cap;
	int closing;      /* no more emits */
	int stalled;      /* a wait for room timed out: no more waits (drops, counted)
		      * until the writer has emptied half the queue */
	int stop;         /* writer: exit when the queue is empty */
	atomic_int abort; /* the writer gives up: read without mu */
	pthread_t thread;
	int thread_started;

	uint64_t next_seq;
	uint8_t last_hash[PETRI_SHA256_LEN];
	petri__audit_hasher *hasher; /* used under mu */

	uint64_t written_kind[NKINDS]; /* entered the stream */
	uint64_t lost_kind[NKINDS];    /* lost anywhere (all Loss counts + pending) */
	struct pending_loss pending[NPENDING][NKINDS];
	/* Some pending[][] count may be non-zero: set whenever one grows,
	 * cleared by any_pending() when it finds none, so that the emit path
	 * does not scan the 6 KiB table per event (it was 5% of the
	 * consumer's CPU). */
	int pending_maybe;
	uint64_t total_lost;

	/* Size bound: bytes sealed into the stream, and the limits of each
	 * class of event (UINT64_MAX: unbounded). */
	uint64_t bytes;
	uint64_t max_bytes;
	uint64_t activity_limit;  /* activity events: max_bytes - RESERVE */
	uint64_t lifecycle_limit; /* lifecycle events, Loss: max_bytes - end_reserve */
	int activity_full;        /* an activity event did not fit: no more of them */
	int final;                /* close's own records: up to max_bytes */

	struct petri_audit_stats st;
	uint32_t close_timeout_ms;
	struct petri_audit_sink sink;
	/* The sink failed the last write: the writer backs off, and makes no
	 * Loss records on its own until a write succeeds (each would fail in
	 * turn); emits still put one per (where, kind) before their event. */
	int sink_down;
	uint32_t loss_queued[NPENDING][NKINDS]; /* Loss records of pending[w][k] queued */

	/* The StreamHeader, built at open; sealed then, or, deferred
	 * (header_pending), by the first thing to enter the stream once the
	 * kernel half's state is known (header_ready()). */
	struct {
		char host[256], boot[64], sid[33];
		uint64_t time_ns, monotonic_ns, max_bytes;
		uint32_t writer_pid;
	} hdr;
	atomic_int header_pending;
	struct petri__audit_header_wait header_wait;
};

static int kind_index(int kind)
{
	if (kind >= KIND_FIRST && kind <= KIND_LAST_DENSE)
		return kind - KIND_FIRST;
	if (kind >= KIND_NET_FIRST && kind <= KIND_NET_LAST)
		return NKINDS_DENSE + kind - KIND_NET_FIRST;
	return NKINDS - 1;
}

/* The kind of slot @i, as Loss.kind and KindCount.kind say it (0 for the
 * slot of unknown kinds). */
static Petri__Audit__V1__EventKind index_kind(int i)
{
	if (i < NKINDS_DENSE)
		return (Petri__Audit__V1__EventKind)(i + KIND_FIRST);
	if (i < NKINDS - 1)
		return (Petri__Audit__V1__EventKind)(i - NKINDS_DENSE + KIND_NET_FIRST);
	return PETRI__AUDIT__V1__EVENT_KIND__EVENT_KIND_UNSPECIFIED;
}

/* Lifecycle events: the library's own, a few per sandbox and exec, which
 * the size bound lets into its reserve.  Every other kind is activity the
 * sandboxed code causes and can repeat at will. */
static int is_lifecycle(int kind)
{
	switch (kind) {
	case PETRI_AUDIT_KIND_STREAM_HEADER:
	case PETRI_AUDIT_KIND_STREAM_END:
	case PETRI_AUDIT_KIND_SANDBOX_CREATED:
	case PETRI_AUDIT_KIND_SANDBOX_DESTROYED:
	case PETRI_AUDIT_KIND_EXEC_STARTED:
	case PETRI_AUDIT_KIND_EXEC_ENDED:
	case PETRI_AUDIT_KIND_LIMIT_HIT:
	case PETRI_AUDIT_KIND_LOSS:
		return 1;
	default:
		return 0;
	}
}

/* Does a record of @len bytes (framing included) of @kind fit the size
 * bound? */
static int size_fits_locked(const petri_audit *a, int kind, size_t len)
{
	uint64_t limit = a->final           ? a->max_bytes :
			 is_lifecycle(kind) ? a->lifecycle_limit :
					      a->activity_limit;
	return limit == UINT64_MAX || (len <= limit && a->bytes <= limit - len);
}

uint64_t petri__audit_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

size_t petri__audit_put_varint(uint8_t *out, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		out[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t)v;
	return n;
}

PETRI_API void petri_audit_opts_init(petri_audit_opts *opts)
{
	petri_audit_opts d = PETRI_AUDIT_OPTS_INIT;
	if (opts)
		*opts = d;
}

/* ---- sealing: seq, chain, framing ---------------------------------------- */

/* The end of a record: @body bytes of event at @buf + @vlen (after its
 * varint length), then the hash trailer chaining it to @prev; the record
 * becomes @out and the stream's last hash, seq and counts move on.  On
 * failure (-EIO from libcrypto) nothing moves and @buf is freed. */
static int seal_finish(petri_audit *a, int kind, const uint8_t *prev, size_t prevlen, uint8_t *buf,
		       size_t vlen, size_t body, struct qitem *out)
{
	uint8_t *b = buf + vlen;
	uint8_t h[PETRI_SHA256_LEN];
	int r = petri__audit_chain_hash(a->hasher, prev, prevlen, b, body, h);
	if (r < 0) {
		free(buf);
		return r;
	}
	b[body] = PETRI_AUDIT_HASH_KEY;
	b[body + 1] = PETRI_SHA256_LEN;
	memcpy(b + body + 2, h, PETRI_SHA256_LEN);
	memcpy(a->last_hash, h, PETRI_SHA256_LEN);
	out->data = buf;
	out->len = vlen + body + PETRI_AUDIT_HASH_TRAILER;
	out->kind = kind;
	out->seq = a->next_seq;
	out->loss = NULL;
	a->written_kind[kind_index(kind)]++;
	a->next_seq++;
	a->bytes += out->len;
	return 0;
}

/* Give @ev the next seq and the chain, encode and frame it into @out.  The
 * caller holds the lock and has checked there is room in the queue;
 * -ENOSPC when the record does not fit the size bound (nothing moves).
 * @ev's seq, hash fields and time are restored before returning (they may
 * point into @a). */
static int seal_locked(petri_audit *a, petri_pb_event *ev, struct qitem *out)
{
	uint64_t seq0 = ev->seq, time0 = ev->time_unix_nano;
	ProtobufCBinaryData prev0 = ev->prev_hash, hash0 = ev->hash;
	int r = 0;

	ev->seq = a->next_seq;
	if (ev->time_unix_nano == 0)
		ev->time_unix_nano = petri__audit_now_ns();
	ev->prev_hash.len = a->next_seq ? PETRI_SHA256_LEN : 0;
	ev->prev_hash.data = a->next_seq ? a->last_hash : NULL;
	ev->hash.len = 0;
	ev->hash.data = NULL;

	size_t body = protobuf_c_message_get_packed_size(&ev->base);
	size_t rec = body + PETRI_AUDIT_HASH_TRAILER;
	if (rec > PETRI_AUDIT_MAX_EVENT) {
		r = -E2BIG;
		goto out;
	}
	uint8_t vl[10];
	if (!size_fits_locked(a, (int)ev->body_case, petri__audit_put_varint(vl, rec) + rec)) {
		r = -ENOSPC;
		goto out;
	}
	uint8_t *buf = malloc(10 + rec);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	size_t vlen = petri__audit_put_varint(buf, rec);
	uint8_t *b = buf + vlen;
	if (protobuf_c_message_pack(&ev->base, b) != body) {
		free(buf);
		r = -EIO;
		goto out;
	}
	r = seal_finish(a, (int)ev->body_case, ev->prev_hash.data, ev->prev_hash.len, buf, vlen,
			body, out);
out:
	ev->seq = seq0;
	ev->time_unix_nano = time0;
	ev->prev_hash = prev0;
	ev->hash = hash0;
	return r;
}

/* Seal an event encoded by encode.c (@enc: @mid bytes of fields 2..5,
 * then @rest bytes of the body) into @out: the record is seq (field 1),
 * fields 2..5, prev_hash (6), the body, then the hash - the same bytes
 * seal_locked() makes of the same event.  -ENOSPC as seal_locked(). */
static int seal_raw_locked(petri_audit *a, int kind, const uint8_t *enc, size_t mid, size_t rest,
			   struct qitem *out)
{
	uint64_t seq = a->next_seq;
	uint8_t sv[10];
	size_t svl = petri__audit_put_varint(sv, seq);
	size_t body = (seq ? 1 + svl + 2 + PETRI_SHA256_LEN : 0) + mid + rest;
	size_t rec = body + PETRI_AUDIT_HASH_TRAILER;

	if (rec > PETRI_AUDIT_MAX_EVENT)
		return -E2BIG;
	uint8_t vl[10];
	if (!size_fits_locked(a, kind, petri__audit_put_varint(vl, rec) + rec))
		return -ENOSPC;
	uint8_t *buf = malloc(10 + rec);
	if (!buf)
		return -ENOMEM;
	size_t vlen = petri__audit_put_varint(buf, rec);
	uint8_t *b = buf + vlen, *p = b;
	if (seq) {
		*p++ = 0x08;
		memcpy(p, sv, svl);
		p += svl;
	}
	memcpy(p, enc, mid);
	p += mid;
	if (seq) {
		*p++ = 0x32;
		*p++ = PETRI_SHA256_LEN;
		memcpy(p, a->last_hash, PETRI_SHA256_LEN);
		p += PETRI_SHA256_LEN;
	}
	memcpy(p, enc + mid, rest);
	return seal_finish(a, kind, seq ? a->last_hash : NULL, seq ? PETRI_SHA256_LEN : 0, buf,
			   vlen, body, out);
}

static void enqueue_locked(petri_audit *a, const struct qitem *it)
{
	a->q[(a->head + a->count) % a->cap] = *it;
	a->count++;
	a->st.emitted++;
	/* The writer only sleeps on an empty queue: wake it for the first
	 * item, not for every one (a futex wake per event was a large part of
	 * the audit's cost under load). */
	if (a->count == 1 || (a->lingering && a->count == LINGER_EVENTS) || a->count == a->cap)
		pthread_cond_signal(&a->cv_work);
}

static int push_locked(petri_audit *a, petri_pb_event *ev)
{
	struct qitem it;
	int r = seal_locked(a, ev, &it);
	if (r < 0)
		return r;
	enqueue_locked(a, &it);
	return 0;
}

/* Turn pending losses into Loss events while the queue holds fewer than
 * @limit.  Returns 1 when nothing is pending any more, -ENOSPC when the
 * size bound stopped it, 0 when the queue filled first (or encoding
 * failed).  The losses were counted in lost_kind and total_lost when they
 * happened. */
static int flush_losses_upto(petri_audit *a, uint32_t limit)
{
	for (int w = 0; w < NPENDING; w++) {
		for (int i = 0; i < NKINDS; i++) {
			struct pending_loss *p = &a->pending[w][i];
			if (!p->count)
				continue;
			/* The sink is down and a Loss of these is queued already:
			 * another would only fail too (and burn a seq); the counts
			 * wait for the next one. */
			if (a->sink_down && a->loss_queued[w][i] && !a->closing)
				continue;
			if (a->count >= limit)
				return 0;
			Petri__Audit__V1__Event ev = PETRI__AUDIT__V1__EVENT__INIT;
			Petri__Audit__V1__Loss loss = PETRI__AUDIT__V1__LOSS__INIT;
			loss.kind = index_kind(i);
			loss.count = p->count;
			loss.where = w == PENDING_KERNEL ?
					     PETRI__AUDIT__V1__LOSS__WHERE__WHERE_KERNEL_RINGBUF :
				     w == PENDING_REPORT ?
					     PETRI__AUDIT__V1__LOSS__WHERE__WHERE_EXEC_REPORT :
				     w == PENDING_SINK ?
					     PETRI__AUDIT__V1__LOSS__WHERE__WHERE_SINK :
				     w == PENDING_SIZE ?
					     PETRI__AUDIT__V1__LOSS__WHERE__WHERE_SIZE_LIMIT :
				     w == PENDING_RATE ?
					     PETRI__AUDIT__V1__LOSS__WHERE__WHERE_RATE_LIMIT :
					     PETRI__AUDIT__V1__LOSS__WHERE__WHERE_USER_QUEUE;
			loss.first_time_unix_nano = p->first_time;
			loss.last_time_unix_nano = p->last_time;
			loss.after_seq = p->after_seq;
			loss.first_kseq = p->first_kseq;
			loss.last_kseq = p->last_kseq;
			ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_LOSS;
			ev.loss = &loss;
			struct pending_loss *saved = malloc(sizeof(*saved));
			if (!saved)
				return 0;
			struct qitem it;
			int r = seal_locked(a, &ev, &it);
			if (r < 0) {
				free(saved);
				return r == -ENOSPC ? -ENOSPC : 0;
			}
			*saved = *p;
			it.loss = saved;
			it.where = w;
			it.idx = i;
			enqueue_locked(a, &it);
			a->loss_queued[w][i]++;
			a->st.loss_events++;
			memset(p, 0, sizeof(*p));
		}
	}
	return 1;
}

static int flush_losses_locked(petri_audit *a)
{
	return flush_losses_upto(a, a->cap);
}

static int any_pending(petri_audit *a)
{
	if (!a->pending_maybe)
		return 0;
	for (int w = 0; w < NPENDING; w++)
		for (int i = 0; i < NKINDS; i++)
			if (a->pending[w][i].count)
				return 1;
	a->pending_maybe = 0;
	return 0;
}

static void note_pending(petri_audit *a, struct pending_loss *p, uint64_t count,
			 uint64_t first_time, uint64_t last_time)
{
	if (!p->count) {
		p->first_time = first_time;
		p->after_seq = a->next_seq - 1;
	}
	p->last_time = last_time;
	p->count += count;
	a->pending_maybe = 1;
}

/* Drop an event of @kind made at @when (0: now): @size 1 because of the
 * size bound (from the first activity event that does not fit, no other
 * will), 0 because the queue was full. */
static void drop_locked(petri_audit *a, int kind, uint64_t when, int size)
{
	int i = kind_index(kind);
	uint64_t t = when ? when : petri__audit_now_ns();
	note_pending(a, &a->pending[size ? PENDING_SIZE : PENDING_QUEUE][i], 1, t, t);
	a->lost_kind[i]++;
	a->total_lost++;
	if (size) {
		a->st.lost_size++;
		if (!is_lifecycle(kind))
			a->activity_full = 1;
	} else {
		a->st.lost_queue++;
	}
}

/* Once the size bound has stopped activity events, pending losses are
 * written only before a lifecycle event and by close, never on their own
 * (by the writer thread or a kernel loss report): a Loss per writer batch
 * during a flood would eat the lifecycle events' reserve. */
static int may_flush_alone(const petri_audit *a)
{
	return !a->closing && !a->activity_full && !a->sink_down;
}

/* A Loss record of @it the sink did not take: what it reported is pending
 * again (merged with what came since), for the next Loss written. */
static void loss_unsent_locked(petri_audit *a, const struct qitem *it)
{
	struct pending_loss *p = &a->pending[it->where][it->idx], *l = it->loss;
	a->pending_maybe = 1;
	if (!p->count) {
		*p = *l;
		return;
	}
	p->count += l->count;
	if (l->first_time < p->first_time)
		p->first_time = l->first_time;
	if (l->last_time > p->last_time)
		p->last_time = l->last_time;
	if (l->after_seq < p->after_seq)
		p->after_seq = l->after_seq;
	if (l->first_kseq && (!p->first_kseq || l->first_kseq < p->first_kseq))
		p->first_kseq = l->first_kseq;
	if (l->last_kseq > p->last_kseq)
		p->last_kseq = l->last_kseq;
}

/* ---- UTF-8 ------------------------------------------------------------------
 * proto3 `string` fields must hold valid UTF-8: other decoders (Python, Go,
 * Java) refuse the whole event otherwise.  Paths and argv on Linux are bytes,
 * so an event whose strings are not valid UTF-8 is copied with every invalid
 * byte replaced by U+FFFD (the kernel side can keep the exact bytes in the
 * *_raw fields where the schema has them). */

static char *str_utf8_fix(const char *s)
{
	size_t len;
	return petri__audit_utf8_repair(s, strlen(s), &len);
}

/* Walk every string of @m (nested messages, repeated fields, the active
 * oneof member).  @fix 0: return 1 when all are valid.  @fix 1: replace
 * invalid ones in place (@m was allocated by protobuf-c's default
 * allocator, i.e. malloc); return 1, or 0 when out of memory. */
static int walk_utf8(ProtobufCMessage *m, int fix)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		char *member = (char *)m + f->offset;
		size_t n = 1;
		void **items = (void **)member;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(size_t *)((char *)m + f->quantifier_offset);
			items = *(void ***)member;
		} else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			if (*(uint32_t *)((char *)m + f->quantifier_offset) != f->id)
				continue;
		}
		for (size_t k = 0; k < n && items; k++) {
			if (!items[k])
				continue;
			if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
				if (!walk_utf8(items[k], fix))
					return 0;
			} else if (!petri__audit_utf8_valid(items[k], strlen(items[k]))) {
				if (!fix)
					return 0;
				char *fixed = str_utf8_fix(items[k]);
				if (!fixed)
					return 0;
				free(items[k]);
				items[k] = fixed;
			}
		}
	}
	return 1;
}

/* A copy of @ev with valid UTF-8 strings (free with free_unpacked). */
static petri_pb_event *utf8_copy(const petri_pb_event *ev)
{
	size_t n = protobuf_c_message_get_packed_size(&ev->base);
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		return NULL;
	protobuf_c_message_pack(&ev->base, buf);
	petri_pb_event *copy = petri__audit__v1__event__unpack(NULL, n, buf);
	free(buf);
	if (copy && !walk_utf8(&copy->base, 1)) {
		petri__audit__v1__event__free_unpacked(copy, NULL);
		copy = NULL;
	}
	return copy;
}

#define NOT_ENCODED 2 /* emit_fast(): the general path must do it */

int petri__audit_no_fast;

static int emit_checked(petri_audit *a, petri_pb_event *ev, petri_error **err);
static int emit_fast(petri_audit *a, const petri_pb_event *ev, uint32_t wait_ms, petri_error **err);

int petri__audit_emit_event_wait(petri_audit *a, petri_pb_event *ev, uint32_t wait_ms)
{
	if (!a || !ev)
		return -EINVAL;
	if (!petri__audit_no_fast && petri__audit_enc_supported(ev)) {
		int r = emit_fast(a, ev, wait_ms, NULL);
		if (r != NOT_ENCODED)
			return r;
	}
	return petri__audit_emit_event(a, ev, NULL);
}

int petri__audit_emit_event(petri_audit *a, petri_pb_event *ev, petri_error **err)
{
	if (!a || !ev)
		return petri__err(err, EINVAL, "audit emit: no stream or event");
	if (!petri__audit_no_fast && petri__audit_enc_supported(ev)) {
		int r = emit_fast(a, ev, 0, err);
		if (r != NOT_ENCODED)
			return r;
	}
	if (walk_utf8(&ev->base, 0))
		return emit_checked(a, ev, err);
	petri_pb_event *copy = utf8_copy(ev);
	if (!copy)
		return petri__err(err, ENOMEM, "audit emit: UTF-8 copy");
	int r = emit_checked(a, copy, err);
	petri__audit__v1__event__free_unpacked(copy, NULL);
	return r;
}

/* Seal the StreamHeader saved at open, with the kernel half's state. */
static int push_header_locked(petri_audit *a, int kernel_audit, const char *reason)
{
	Petri__Audit__V1__Event ev = PETRI__AUDIT__V1__EVENT__INIT;
	Petri__Audit__V1__StreamHeader h = PETRI__AUDIT__V1__STREAM_HEADER__INIT;
	h.schema_version = PETRI_AUDIT_SCHEMA_VERSION;
	h.host_name = a->hdr.host;
	h.boot_id = a->hdr.boot;
	h.library_version = (char *)petri_version();
	h.kernel_audit = kernel_audit != 0;
	h.kernel_audit_reason = kernel_audit ? "" : (char *)(reason ? reason : "not enabled");
	h.hash_algorithm = "sha-256";
	h.stream_id = a->hdr.sid;
	h.monotonic_ns = a->hdr.monotonic_ns;
	h.writer_pid = a->hdr.writer_pid;
	h.max_bytes = a->hdr.max_bytes;
	ev.time_unix_nano = a->hdr.time_ns;
	ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_STREAM_HEADER;
	ev.stream_header = &h;
	return push_locked(a, &ev);
}

/* A deferred header goes in before anything else does: wait for the
 * kernel half's state (outside the lock: the load may take tens of ms) and
 * seal it, once.  0, or the error of sealing it (nothing may enter the
 * stream before its header). */
static int header_ready(petri_audit *a)
{
	if (!atomic_load(&a->header_pending))
		return 0;
	int on = 0, r = 0;
	char reason[256] = "";
	a->header_wait.state(a->header_wait.arg, &on, reason, sizeof(reason));
	pthread_mutex_lock(&a->mu);
	if (atomic_load(&a->header_pending)) {
		r = push_header_locked(a, on, reason);
		if (r == 0)
			atomic_store(&a->header_pending, 0);
	}
	pthread_mutex_unlock(&a->mu);
	return r;
}

/* Take a->mu for an event of @kind (time @t): 0 with the lock held, or,
 * unlocked, the refusal of a closing stream or PETRI_AUDIT_DROPPED once
 * the size bound stopped activity events (counted as lost). */
static int lock_and_admit(petri_audit *a, int kind, uint64_t t, petri_error **err)
{
	int h = header_ready(a);
	if (h < 0)
		return petri__err(err, -h, "audit emit: sealing the stream header");
	pthread_mutex_lock(&a->mu);
	if (a->closing) {
		pthread_mutex_unlock(&a->mu);
		return petri__err(err, EPIPE, "audit emit: stream is closing");
	}
	if (a->activity_full && !is_lifecycle(kind)) {
		drop_locked(a, kind, t, 1);
		pthread_mutex_unlock(&a->mu);
		return PETRI_AUDIT_DROPPED;
	}
	return 0;
}

static int emit_checked(petri_audit *a, petri_pb_event *ev, petri_error **err)
{
	if (ev->body_case == PETRI__AUDIT__V1__EVENT__BODY__NOT_SET)
		return petri__err(err, EINVAL, "audit emit: event has no body");
	int kind = (int)ev->body_case;
	int g = lock_and_admit(a, kind, ev->time_unix_nano, err);
	if (g != 0)
		return g;
	/* Loss events first (so the stream says what was lost before what
	 * follows), then this event if there is still room. */
	int f = any_pending(a) ? flush_losses_locked(a) : 1;
	if (f <= 0 || a->count >= a->cap) {
		drop_locked(a, kind, ev->time_unix_nano, f == -ENOSPC);
		pthread_mutex_unlock(&a->mu);
		return PETRI_AUDIT_DROPPED;
	}
	int r = push_locked(a, ev);
	if (r == 0 && kind == PETRI_AUDIT_KIND_LOSS && ev->loss) {
		/* Losses reported by someone else (the kernel ring buffer). */
		int i = kind_index((int)ev->loss->kind);
		a->lost_kind[i] += ev->loss->count;
		a->total_lost += ev->loss->count;
	}
	if (r == -ENOSPC) {
		drop_locked(a, kind, ev->time_unix_nano, 1);
		pthread_mutex_unlock(&a->mu);
		return PETRI_AUDIT_DROPPED;
	}
	pthread_mutex_unlock(&a->mu);
	if (r == -E2BIG)
		return petri__err(err, E2BIG, "audit emit %s: event larger than %u bytes",
				  petri_audit_kind_name((int)ev->body_case), PETRI_AUDIT_MAX_EVENT);
	if (r < 0)
		return petri__err(err, -r, "audit emit %s",
				  petri_audit_kind_name((int)ev->body_case));
	return 0;
}

/* Room for a kernel event on the stack (larger ones, e.g. long argv with
 * many bytes to repair, take the general path). */
#define FAST_BUF (16u << 10)

/* Emit @ev through encode.c when it encodes its kind: NOT_ENCODED when
 * it does not (or the event does not fit FAST_BUF). */
static int emit_fast(petri_audit *a, const petri_pb_event *ev, uint32_t wait_ms, petri_error **err)
{
	uint8_t enc[FAST_BUF];
	size_t mid = 0;
	uint64_t t = ev->time_unix_nano ? ev->time_unix_nano : petri__audit_now_ns();
	long n = petri__audit_enc_parts(ev, t, enc, sizeof(enc), &mid);

	if (n < 0)
		return NOT_ENCODED;
	int kind = (int)ev->body_case;
	int g = lock_and_admit(a, kind, t, err);
	if (g != 0)
		return g;
	/* The kernel's events (they may wait) leave the last sixteenth of the
	 * queue to the library's own (an exec's end, a destroy) and to Loss
	 * records: a flood of kernel events cannot crowd those out. */
	uint32_t cap = wait_ms ? a->cap - a->cap / 16 : a->cap;
	if (a->stalled && a->count <= a->cap / 2)
		a->stalled = 0;
	if (wait_ms && a->count >= cap && !a->stalled) {
		/* The kernel half waits for the writer rather than dropping: its
		 * ring buffer (megabytes, losses counted in the kernel) holds
		 * what arrives meanwhile.  Once per stall: a sink that does not
		 * move within @wait_ms makes the following events drop (counted,
		 * reported as Loss) instead of holding the consumer, and with it
		 * the exec's end and destroy, for @wait_ms each. */
		struct timespec dl;
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
		dl.tv_sec += wait_ms / 1000 + dl.tv_nsec / 1000000000L;
		dl.tv_nsec %= 1000000000L;
		while (a->count >= cap && !a->closing &&
		       pthread_cond_timedwait(&a->cv_space, &a->mu, &dl) != ETIMEDOUT)
			;
		if (a->count >= cap)
			a->stalled = 1;
	}
	int f = any_pending(a) ? flush_losses_upto(a, cap) : 1;
	if (f <= 0 || a->count >= cap || a->closing) {
		drop_locked(a, kind, t, f == -ENOSPC);
		pthread_mutex_unlock(&a->mu);
		return PETRI_AUDIT_DROPPED;
	}
	struct qitem it;
	int r = seal_raw_locked(a, kind, enc, mid, (size_t)n - mid, &it);
	if (r == 0)
		enqueue_locked(a, &it);
	if (r == -ENOSPC) {
		drop_locked(a, kind, t, 1);
		pthread_mutex_unlock(&a->mu);
		return PETRI_AUDIT_DROPPED;
	}
	pthread_mutex_unlock(&a->mu);
	if (r < 0)
		return petri__err(err, -r, "audit emit %s",
				  petri_audit_kind_name((int)ev->body_case));
	return 0;
}

/* Count @count losses of @kind that happened @where (a PENDING_* other than
 * the queue's own), with kernel sequence numbers when known, and report
 * them now when there is room (and the stream is open), else by the next
 * emit, the writer or close: never dropped. */
static int report_pending(petri_audit *a, int where, int kind, uint64_t count, uint64_t first_kseq,
			  uint64_t last_kseq)
{
	if (!a || !count)
		return -EINVAL;
	int i = kind_index(kind);
	uint64_t now = petri__audit_now_ns();
	header_ready(a); /* (failed: the losses stay pending for close) */
	pthread_mutex_lock(&a->mu);
	a->lost_kind[i] += count;
	a->total_lost += count;
	struct pending_loss *p = &a->pending[where][i];
	note_pending(a, p, count, now, now);
	if (first_kseq && !p->first_kseq)
		p->first_kseq = first_kseq;
	if (last_kseq > p->last_kseq)
		p->last_kseq = last_kseq;
	if (may_flush_alone(a))
		flush_losses_locked(a);
	pthread_mutex_unlock(&a->mu);
	return 0;
}

int petri__audit_report_loss(petri_audit *a, int kind, uint64_t count, uint64_t first_kseq,
			     uint64_t last_kseq)
{
	return report_pending(a, PENDING_KERNEL, kind, count, first_kseq, last_kseq);
}

int petri__audit_report_unreported(petri_audit *a, int kind, uint64_t count)
{
	return report_pending(a, PENDING_REPORT, kind, count, 0, 0);
}

int petri__audit_report_rate_limited(petri_audit *a, int kind, uint64_t count)
{
	/* Only the egress proxy's kinds: end_reserve() counts RATE_KINDS slots. */
	if (kind != PETRI_AUDIT_KIND_NET_CONNECTION && kind != PETRI_AUDIT_KIND_DNS_QUERY &&
	    kind != PETRI_AUDIT_KIND_SECRET_USE && kind != PETRI_AUDIT_KIND_SECRET_MISUSE)
		return -EINVAL;
	return report_pending(a, PENDING_RATE, kind, count, 0, 0);
}

/* ---- the writer thread --------------------------------------------------- */

/* Events handed to an fd sink in one write: every one queued, up to these. */
#define BATCH_EVENTS 1024
#define BATCH_BYTES (256u << 10)
/* The pause after a failed write: from BACKOFF_MIN_MS, doubling, up to
 * BACKOFF_MAX_MS (close ends it at once). */
#define BACKOFF_MIN_MS 10
#define BACKOFF_MAX_MS 500

/* Write @n items: one sink write of their concatenation for fd sinks, one
 * call each for a callback (its contract: one framed event per call).
 * Returns how many the sink took; sets *@err on a failure. */
/* Write @n items to the sink one by one (close's timeout stops a slow
 * callback between them); the count written.  Each item not delivered gets
 * len 0. */
static uint32_t write_each(petri_audit *a, struct qitem *items, uint32_t n, int *err)
{
	uint32_t ok = 0;
	for (uint32_t i = 0; i < n; i++) {
		int r = atomic_load(&a->abort) ? -ECANCELED :
						 petri__audit_sink_write(&a->sink, items[i].data,
									 items[i].len, &a->abort);
		if (r < 0) {
			*err = r;
			items[i].len = 0;
		} else {
			ok++;
		}
	}
	return ok;
}

/* Write @n items to the sink; the count written.  Each item not delivered
 * gets len 0. */
static uint32_t write_batch(petri_audit *a, struct qitem *items, uint32_t n, int *err)
{
	if (atomic_load(&a->abort) || a->sink.kind == PETRI_AUDIT_SINK_CALLBACK || n == 1)
		return write_each(a, items, n, err);
	size_t total = 0;
	for (uint32_t i = 0; i < n; i++)
		total += items[i].len;
	if (total > a->wbuf_cap) {
		uint8_t *b = realloc(a->wbuf, total);
		if (!b) /* no batch buffer: one write per event */
			return write_each(a, items, n, err);
		a->wbuf = b;
		a->wbuf_cap = total;
	}
	size_t off = 0;
	for (uint32_t i = 0; i < n; i++) {
		memcpy(a->wbuf + off, items[i].data, items[i].len);
		off += items[i].len;
	}
	int r = petri__audit_sink_write(&a->sink, a->wbuf, total, &a->abort);
	if (r < 0) {
		*err = r;
		/* how much of it reached the sink is unknown: all lost */
		for (uint32_t i = 0; i < n; i++)
			items[i].len = 0;
		return 0;
	}
	return n;
}

static void *writer_main(void *arg)
{
	petri_audit *a = arg;
	pthread_setname_np(pthread_self(), "petri-audit-w"); /* for top, perf, bench */
	struct qitem *batch = malloc(BATCH_EVENTS * sizeof(*batch));
	uint32_t max = batch ? BATCH_EVENTS : 1;
	struct qitem one;
	uint32_t backoff_ms = 0;
	if (!batch)
		batch = &one;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		while (a->count == 0 && !a->stop)
			pthread_cond_wait(&a->cv_work, &a->mu);
		if (a->count == 0)
			break;
		/* A few events only: let more come (up to LINGER_US) before the
		 * write.  Waking for every few events made the emitting thread
		 * and this one trade the CPU (futex wake, context switch, lock
		 * hand-over) about once per event under a steady flow.  Close
		 * (stop) and a filling queue end the wait at once. */
		if (a->count < LINGER_EVENTS && !a->stop && !a->closing) {
			struct timespec dl;
			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_nsec += LINGER_US * 1000L;
			if (dl.tv_nsec >= 1000000000L) {
				dl.tv_sec++;
				dl.tv_nsec -= 1000000000L;
			}
			a->lingering = 1;
			while (a->count < LINGER_EVENTS && !a->stop && !a->closing &&
			       pthread_cond_timedwait(&a->cv_work, &a->mu, &dl) != ETIMEDOUT)
				;
			a->lingering = 0;
		}
		/* Everything queued, in order: one write instead of one per event. */
		uint32_t n = 0;
		size_t bytes = 0;
		while (a->count && n < max &&
		       (n == 0 || bytes + a->q[a->head].len <= BATCH_BYTES)) {
			batch[n] = a->q[a->head];
			bytes += batch[n].len;
			n++;
			a->head = (a->head + 1) % a->cap;
			a->count--;
		}
		a->writer_busy = n;
		pthread_mutex_unlock(&a->mu);

		int err = 0;
		uint32_t ok = write_batch(a, batch, n, &err);
		uint64_t now = ok < n ? petri__audit_now_ns() : 0;
		for (uint32_t i = 0; i < n; i++)
			free(batch[i].data);

		pthread_mutex_lock(&a->mu);
		a->writer_busy = 0;
		a->st.written += ok;
		if (n > ok && err != -ECANCELED)
			a->st.sink_errors++;
		/* Sealed events the sink did not take are not in the stream: a
		 * Loss {where: SINK} says so when the sink takes events again
		 * (their gap in seq remains: verify reports the stream broken).
		 * A Loss record it did not take is not counted lost: what it
		 * reported is pending again, for the next Loss that gets through. */
		for (uint32_t i = 0; i < n; i++) {
			if (batch[i].loss)
				a->loss_queued[batch[i].where][batch[i].idx]--;
			if (batch[i].len) {
				free(batch[i].loss);
				continue;
			}
			int k = kind_index(batch[i].kind);
			a->written_kind[k]--;
			if (batch[i].loss) {
				/* Nor an event emitted (emitted stays written +
				 * lost_sink + queued), nor a Loss event. */
				loss_unsent_locked(a, &batch[i]);
				free(batch[i].loss);
				a->st.emitted--;
				a->st.loss_events--;
				continue;
			}
			a->st.lost_sink++;
			a->lost_kind[k]++;
			a->total_lost++;
			struct pending_loss *p = &a->pending[PENDING_SINK][k];
			if (!p->count) /* after the last event before it, not the last sealed */
				p->after_seq = batch[i].seq - 1;
			p->first_time = p->count ? p->first_time : now;
			p->last_time = now;
			p->count++;
			a->pending_maybe = 1;
		}
		/* The sink is down while its last write fails.  Then no Loss record
		 * on our own (it would fail, be made again, fail...: a busy loop
		 * that burnt a seq per turn), and a pause, doubling up to
		 * BACKOFF_MAX_MS, before the next write: events gather meanwhile
		 * and the sink sees one try per pause, not one per event. */
		a->sink_down = n > ok && !batch[n - 1].len && err != -ECANCELED;
		if (may_flush_alone(a))
			flush_losses_locked(a);
		pthread_cond_broadcast(&a->cv_space);
		if (a->sink_down && !a->stop) {
			backoff_ms = backoff_ms ? backoff_ms * 2 : BACKOFF_MIN_MS;
			if (backoff_ms > BACKOFF_MAX_MS)
				backoff_ms = BACKOFF_MAX_MS;
			struct timespec dl;
			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_nsec += (long)backoff_ms * 1000000L;
			dl.tv_sec += dl.tv_nsec / 1000000000L;
			dl.tv_nsec %= 1000000000L;
			while (!a->stop && !atomic_load(&a->abort) &&
			       pthread_cond_timedwait(&a->cv_work, &a->mu, &dl) != ETIMEDOUT)
				;
		} else if (!a->sink_down) {
			backoff_ms = 0;
		}
	}
	pthread_mutex_unlock(&a->mu);
	if (batch != &one)
		free(batch);
	return NULL;
}

/* ---- open / close -------------------------------------------------------- */

static void read_boot_id(char *out, size_t n)
{
	out[0] = '\0';
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t k = read(fd, out, n - 1);
	close(fd);
	if (k < 0)
		k = 0;
	out[k] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

static void random_hex(char *out, size_t bytes)
{
	uint8_t b[32] = {0};
	if (bytes > sizeof(b))
		bytes = sizeof(b);
	if (getrandom(b, bytes, 0) != (ssize_t)bytes) {
		uint64_t t = petri__audit_now_ns() ^ ((uint64_t)getpid() << 32);
		for (size_t i = 0; i < bytes; i++)
			b[i] = (uint8_t)(t >> (8 * (i % 8))) ^ (uint8_t)i;
	}
	for (size_t i = 0; i < bytes; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* The framed size of @ev at its largest: seq and time at their widest, a
 * previous hash, and the hash trailer. */
static size_t worst_framed(Petri__Audit__V1__Event *ev)
{
	static uint8_t zero_hash[PETRI_SHA256_LEN];
	uint8_t vl[10];
	ev->seq = UINT64_MAX;
	ev->time_unix_nano = UINT64_MAX;
	ev->prev_hash.len = PETRI_SHA256_LEN;
	ev->prev_hash.data = zero_hash;
	size_t rec = protobuf_c_message_get_packed_size(&ev->base) + PETRI_AUDIT_HASH_TRAILER;
	return petri__audit_put_varint(vl, rec) + rec;
}

/* What close may have to write after every other event: one Loss per
 * (where, kind) slot at the largest a Loss can be, and the largest
 * StreamEnd (every kind listed, every count at its widest): 16,958 bytes
 * with the 18 kinds and the unknown-kind slot (5 x 19 Loss slots, and 4
 * for RATE_LIMIT, which only the proxy's four kinds use). */
static uint64_t end_reserve(void)
{
	Petri__Audit__V1__Event ev = PETRI__AUDIT__V1__EVENT__INIT;
	Petri__Audit__V1__Loss loss = PETRI__AUDIT__V1__LOSS__INIT;
	loss.kind = PETRI__AUDIT__V1__EVENT_KIND__EVENT_KIND_LOSS;
	loss.count = loss.first_time_unix_nano = loss.last_time_unix_nano = UINT64_MAX;
	loss.after_seq = loss.first_kseq = loss.last_kseq = UINT64_MAX;
	loss.where = PETRI__AUDIT__V1__LOSS__WHERE__WHERE_SIZE_LIMIT;
	ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_LOSS;
	ev.loss = &loss;
	uint64_t total = ((uint64_t)(NPENDING - 1) * NKINDS + RATE_KINDS) * worst_framed(&ev);

	Petri__Audit__V1__Event eev = PETRI__AUDIT__V1__EVENT__INIT;
	Petri__Audit__V1__StreamEnd end = PETRI__AUDIT__V1__STREAM_END__INIT;
	Petri__Audit__V1__KindCount kc[NKINDS], *kcp[NKINDS];
	for (int i = 0; i < NKINDS; i++) {
		Petri__Audit__V1__KindCount k = PETRI__AUDIT__V1__KIND_COUNT__INIT;
		k.kind = PETRI__AUDIT__V1__EVENT_KIND__EVENT_KIND_LOSS;
		k.written = k.lost = UINT64_MAX;
		kc[i] = k;
		kcp[i] = &kc[i];
	}
	end.n_kinds = NKINDS;
	end.kinds = kcp;
	end.total_written = end.total_lost = end.lost_unreported = UINT64_MAX;
	eev.body_case = PETRI__AUDIT__V1__EVENT__BODY_STREAM_END;
	eev.stream_end = &end;
	return total + worst_framed(&eev);
}

static void audit_free(petri_audit *a)
{
	if (!a)
		return;
	while (a->count) {
		free(a->q[a->head].data);
		free(a->q[a->head].loss);
		a->head = (a->head + 1) % a->cap;
		a->count--;
	}
	free(a->q);
	free(a->wbuf);
	if (a->header_wait.release)
		a->header_wait.release(a->header_wait.arg);
	petri__audit_hasher_free(a->hasher);
	petri__audit_sink_close(&a->sink);
	pthread_cond_destroy(&a->cv_work);
	pthread_cond_destroy(&a->cv_space);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

static int open_stream(petri_audit **out, const petri_audit_opts *opts,
		       const struct petri__audit_header_wait *w, petri_error **err);

int petri__audit_open_stream(petri_audit **out, const petri_audit_opts *opts, petri_error **err)
{
	return open_stream(out, opts, NULL, err);
}

int petri__audit_open_stream_deferred(petri_audit **out, const petri_audit_opts *opts,
				      const struct petri__audit_header_wait *w, petri_error **err)
{
	int r = open_stream(out, opts, w, err);
	if (r < 0 && w->release)
		w->release(w->arg);
	return r;
}

/* Open a stream; with @w, its header waits for @w (held from the return
 * on: the caller releases it on failure). */
static int open_stream(petri_audit **out, const petri_audit_opts *opts,
		       const struct petri__audit_header_wait *w, petri_error **err)
{
	petri_audit_opts o = *opts;
	if (o.flags)
		return petri__err(err, EINVAL, "audit open: unknown flags 0x%x", o.flags);
	if (o.queue_events == 0)
		o.queue_events = 4096;
	if (o.queue_events < 2 || o.queue_events > (1u << 24))
		return petri__err(err, EINVAL, "audit open: queue_events %u out of range [2, 2^24]",
				  o.queue_events);
	if (o.close_timeout_ms == 0)
		o.close_timeout_ms = 5000;
	if (o.max_bytes == 0)
		o.max_bytes = PETRI_AUDIT_MAX_BYTES_DEFAULT;
	if (o.max_bytes < PETRI_AUDIT_MAX_BYTES_MIN)
		return petri__err(err, EINVAL,
				  "audit open: max_bytes %llu is below the minimum of %llu "
				  "(256 KiB)",
				  (unsigned long long)o.max_bytes,
				  (unsigned long long)PETRI_AUDIT_MAX_BYTES_MIN);

	petri_audit *a = calloc(1, sizeof(*a));
	if (!a)
		return petri__err(err, ENOMEM, "audit open");
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv_work, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cv_space, &ca);
	pthread_condattr_destroy(&ca);
	a->sink.fd = -1;
	a->cap = o.queue_events;
	a->close_timeout_ms = o.close_timeout_ms;
	a->max_bytes = o.max_bytes;
	if (o.max_bytes == PETRI_AUDIT_MAX_BYTES_UNLIMITED) {
		a->activity_limit = a->lifecycle_limit = UINT64_MAX;
	} else {
		/* MIN (256 KiB) > RESERVE (80 KiB), whose last 17 KiB hold
		 * end_reserve() (~16.6 KiB). */
		a->activity_limit = o.max_bytes - PETRI_AUDIT_MAX_BYTES_RESERVE;
		a->lifecycle_limit = o.max_bytes - end_reserve();
	}
	a->q = calloc(a->cap, sizeof(*a->q));
	if (!a->q) {
		audit_free(a);
		return petri__err(err, ENOMEM, "audit open");
	}
	int r = petri__audit_hasher_new(&a->hasher);
	if (r < 0) {
		audit_free(a);
		return petri__err(err, -r, "audit open: SHA-256 from libcrypto");
	}
	r = petri__audit_sink_open(&a->sink, &o, err);
	if (r < 0) {
		audit_free(a);
		return r;
	}

	gethostname(a->hdr.host, sizeof(a->hdr.host) - 1);
	read_boot_id(a->hdr.boot, sizeof(a->hdr.boot));
	random_hex(a->hdr.sid, 16);
	a->hdr.time_ns = petri__audit_now_ns();
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	a->hdr.monotonic_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	a->hdr.writer_pid = (uint32_t)getpid();
	a->hdr.max_bytes = o.max_bytes == PETRI_AUDIT_MAX_BYTES_UNLIMITED ? 0 : o.max_bytes;
	if (!w) {
		r = push_header_locked(a, o.kernel_audit, o.kernel_audit_reason);
		if (r < 0) { /* (no thread yet: no lock needed) */
			audit_free(a);
			return petri__err(err, -r, "audit open: encode the stream header");
		}
	}
	/* The writer thread starts with every signal blocked: the host's
	 * handlers never run on it, and SIGPIPE cannot kill the host. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&a->thread, NULL, writer_main, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		audit_free(a);
		return petri__err(err, r, "audit open: start the writer thread");
	}
	a->thread_started = 1;
	if (w) {
		a->header_wait = *w;
		atomic_store(&a->header_pending, 1);
	}
	*out = a;
	return 0;
}

static int wait_space_until(petri_audit *a, const struct timespec *deadline)
{
	return pthread_cond_timedwait(&a->cv_space, &a->mu, deadline) == ETIMEDOUT;
}

PETRI_API int petri_audit_close(petri_audit *a, petri_error **err)
{
	if (!a)
		return 0;
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += a->close_timeout_ms / 1000;
	dl.tv_nsec += (long)(a->close_timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	int timed_out = 0, r = 0;

	/* A stream nothing was sent to still gets its header (and a
	 * StreamEnd); should sealing it fail, the stream is incomplete. */
	int hr = header_ready(a);
	pthread_mutex_lock(&a->mu);
	a->closing = 1;
	a->final = 1; /* what follows fits in the end reserve */
	/* Room for the pending Loss events and the StreamEnd.  (The size
	 * bound cannot stop them; were it to, what is pending counts as
	 * lost_unreported.) */
	for (;;) {
		int f = flush_losses_locked(a);
		if ((f == 1 && a->count < a->cap) || f < 0 || timed_out)
			break;
		timed_out = wait_space_until(a, &dl);
	}
	uint64_t unreported = 0;
	for (int w = 0; w < NPENDING; w++)
		for (int i = 0; i < NKINDS; i++)
			unreported += a->pending[w][i].count;

	int end_written = 0;
	if (a->count < a->cap) {
		Petri__Audit__V1__Event ev = PETRI__AUDIT__V1__EVENT__INIT;
		Petri__Audit__V1__StreamEnd end = PETRI__AUDIT__V1__STREAM_END__INIT;
		Petri__Audit__V1__KindCount kc[NKINDS], *kcp[NKINDS];
		size_t n = 0;
		/* Count the StreamEnd itself among the written ones. */
		a->written_kind[kind_index(PETRI_AUDIT_KIND_STREAM_END)]++;
		for (int i = 0; i < NKINDS; i++) {
			if (!a->written_kind[i] && !a->lost_kind[i])
				continue;
			Petri__Audit__V1__KindCount k = PETRI__AUDIT__V1__KIND_COUNT__INIT;
			k.kind = index_kind(i);
			k.written = a->written_kind[i];
			k.lost = a->lost_kind[i];
			kc[n] = k;
			kcp[n] = &kc[n];
			n++;
		}
		a->written_kind[kind_index(PETRI_AUDIT_KIND_STREAM_END)]--;
		end.n_kinds = n;
		end.kinds = kcp;
		end.total_written = a->next_seq;
		end.total_lost = a->total_lost;
		end.lost_unreported = unreported;
		ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_STREAM_END;
		ev.stream_end = &end;
		end_written = push_locked(a, &ev) == 0;
	}
	/* Let the writer drain. */
	a->stop = 1;
	pthread_cond_signal(&a->cv_work);
	while ((a->count || a->writer_busy) && !timed_out)
		timed_out = wait_space_until(a, &dl);
	if (timed_out)
		atomic_store(&a->abort,
			     1); /* the writer gives up within 100 ms, counting the rest as lost */
	pthread_mutex_unlock(&a->mu);
	if (a->thread_started)
		pthread_join(a->thread, NULL);

	if (timed_out)
		r = petri__err(err, ETIMEDOUT,
			       "audit close: the sink did not take the stream within %u ms "
			       "(%llu events lost%s)",
			       a->close_timeout_ms, (unsigned long long)a->st.lost_sink,
			       end_written ? "" : ", no StreamEnd");
	else if (a->st.sink_errors)
		r = petri__err(err, EIO, "audit close: the sink failed to take %llu events",
			       (unsigned long long)a->st.lost_sink);
	else if (hr < 0)
		r = petri__err(err, -hr, "audit close: could not write the StreamHeader");
	else if (!end_written)
		r = petri__err(err, EIO, "audit close: could not write the StreamEnd");
	audit_free(a);
	return r;
}

PETRI_API int petri_audit_get_stats(petri_audit *a, petri_audit_stats *out)
{
	/* The sz bounds of petri__opts_copy; a newer caller's fields that this
	 * library does not know come back 0. */
	if (!a || !out || out->sz < 2 * sizeof(uint32_t) || out->sz > 4096)
		return -EINVAL;
	pthread_mutex_lock(&a->mu);
	petri_audit_stats s = a->st;
	s.queued = a->count + (uint64_t)a->writer_busy;
	s.bytes = a->bytes;
	pthread_mutex_unlock(&a->mu);
	size_t n = out->sz < sizeof(s) ? out->sz : sizeof(s);
	s.sz = out->sz;
	if (out->sz > sizeof(s))
		memset((char *)out + sizeof(s), 0, out->sz - sizeof(s));
	memcpy(out, &s, n);
	return 0;
}

/* ---- library-side events ------------------------------------------------- */

static char *S(const char *s)
{
	return (char *)(s ? s : "");
}

static void set_common(Petri__Audit__V1__Event *ev, Petri__Audit__V1__Process *pp,
		       const char *sandbox_id, const char *exec_id, const petri_audit_process *proc)
{
	ev->sandbox_id = S(sandbox_id);
	ev->exec_id = S(exec_id);
	if (proc) {
		pp->pid_inside = proc->pid_inside;
		pp->pid_host = proc->pid_host;
		pp->ppid = proc->ppid;
		pp->uid = proc->uid;
		pp->comm = S(proc->comm);
		pp->executable = S(proc->executable);
		ev->process = pp;
	}
}

#define EMIT_BEGIN(sandbox_id, exec_id, proc)                                                      \
	Petri__Audit__V1__Event ev = PETRI__AUDIT__V1__EVENT__INIT;                                \
	Petri__Audit__V1__Process pp = PETRI__AUDIT__V1__PROCESS__INIT;                            \
	set_common(&ev, &pp, sandbox_id, exec_id, proc)

static int emit_sandbox_created(petri_audit *a, const char *sandbox_id,
				const struct petri__sandbox_created *c, petri_error **err)
{
	EMIT_BEGIN(sandbox_id, NULL, NULL);
	Petri__Audit__V1__SandboxCreated b = PETRI__AUDIT__V1__SANDBOX_CREATED__INIT;
	b.language = S(c->language);
	b.cgroup_id = c->cgroup_id;
	b.init_pid_host = c->init_pid_host;
	b.host_uid = c->host_uid;
	b.network = S(c->network);
	b.memory_limit_bytes = c->memory_limit_bytes;
	b.pids_limit = c->pids_limit;
	ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_SANDBOX_CREATED;
	ev.sandbox_created = &b;
	return petri__audit_emit_event(a, &ev, err);
}

int petri__audit_emit_sandbox_created(petri_audit *a, const char *sandbox_id,
				      const struct petri__sandbox_created *c)
{
	return emit_sandbox_created(a, sandbox_id, c, NULL);
}

PETRI_API int petri_audit_emit_sandbox_created(petri_audit *a, const char *sandbox_id,
					       const char *language, uint64_t cgroup_id,
					       uint32_t init_pid_host, petri_error **err)
{
	struct petri__sandbox_created c = {
		.language = language, .cgroup_id = cgroup_id, .init_pid_host = init_pid_host};
	return emit_sandbox_created(a, sandbox_id, &c, err);
}

PETRI_API int petri_audit_emit_sandbox_destroyed(petri_audit *a, const char *sandbox_id,
						 const char *reason, petri_error **err)
{
	EMIT_BEGIN(sandbox_id, NULL, NULL);
	Petri__Audit__V1__SandboxDestroyed b = PETRI__AUDIT__V1__SANDBOX_DESTROYED__INIT;
	b.reason = S(reason);
	ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_SANDBOX_DESTROYED;
	ev.sandbox_destroyed = &b;
	return petri__audit_emit_event(a, &ev, err);
}

static int emit_exec_started(petri_audit *a, const char *sandbox_id, const char *exec_id,
			     const petri_audit_process *proc, const char *const *argv,
			     const char *cwd, const char *language, uint64_t timeout_ms,
			     petri_error **err)
{
	EMIT_BEGIN(sandbox_id, exec_id, proc);
	Petri__Audit__V1__ExecStarted b = PETRI__AUDIT__V1__EXEC_STARTED__INIT;
	size_t n = 0;
	while (argv && argv[n])
		n++;
	b.n_argv = n;
	b.argv = (char **)argv;
	b.cwd = S(cwd);
	b.language = S(language);
	b.timeout_ms = timeout_ms;
	ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_EXEC_STARTED;
	ev.exec_started = &b;
	return petri__audit_emit_event(a, &ev, err);
}

int petri__audit_emit_exec_started(petri_audit *a, const char *sandbox_id, const char *exec_id,
				   const char *const *argv, const char *cwd, const char *language,
				   uint64_t timeout_ms)
{
	return emit_exec_started(a, sandbox_id, exec_id, NULL, argv, cwd, language, timeout_ms,
				 NULL);
}

PETRI_API int petri_audit_emit_exec_started(petri_audit *a, const char *sandbox_id,
					    const char *exec_id, const petri_audit_process *proc,
					    const char *const *argv, const char *cwd,
					    const char *language, petri_error **err)
{
	return emit_exec_started(a, sandbox_id, exec_id, proc, argv, cwd, language, 0, err);
}

PETRI_API int petri_audit_emit_exec_ended(petri_audit *a, const char *sandbox_id,
					  const char *exec_id, const petri_audit_process *proc,
					  const petri_audit_exec_result *res, petri_error **err)
{
	petri_audit_exec_result rr;
	if (!res)
		return petri__err(err, EINVAL, "audit exec_ended: missing result");
	int rc = petri__opts_copy(&rr, sizeof(rr), res, err, "petri_audit_exec_result");
	if (rc < 0)
		return rc;

	EMIT_BEGIN(sandbox_id, exec_id, proc);
	Petri__Audit__V1__ExecEnded b = PETRI__AUDIT__V1__EXEC_ENDED__INIT;
	Petri__Audit__V1__ExecResult r = PETRI__AUDIT__V1__EXEC_RESULT__INIT;
	char *names[32];
	size_t n = 0;
	for (uint32_t bit = 1; bit; bit <<= 1)
		if ((rr.limits_hit & bit) && petri_limit_name(bit))
			names[n++] = (char *)petri_limit_name(bit);
	r.exit_code = rr.exit_code;
	r.signal = rr.signal;
	r.reason = (char *)petri_reason_name(rr.reason);
	r.wall_ns = rr.wall_ns;
	r.cpu_ns = rr.cpu_ns;
	r.peak_memory_bytes = rr.peak_memory_bytes;
	r.n_limits_hit = n;
	r.limits_hit = names;
	b.result = &r;
	ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_EXEC_ENDED;
	ev.exec_ended = &b;
	return petri__audit_emit_event(a, &ev, err);
}

PETRI_API int petri_audit_emit_limit_hit(petri_audit *a, const char *sandbox_id,
					 const char *exec_id, const petri_audit_process *proc,
					 const char *limit, uint64_t value, uint64_t observed,
					 petri_error **err)
{
	if (!limit || !*limit)
		return petri__err(err, EINVAL, "audit limit_hit: missing limit name");
	EMIT_BEGIN(sandbox_id, exec_id, proc);
	Petri__Audit__V1__LimitHit b = PETRI__AUDIT__V1__LIMIT_HIT__INIT;
	b.limit = (char *)limit;
	b.value = value;
	b.observed = observed;
	ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_LIMIT_HIT;
	ev.limit_hit = &b;
	return petri__audit_emit_event(a, &ev, err);
}

PETRI_API int petri_audit_emit_denial(petri_audit *a, const char *sandbox_id, const char *exec_id,
				      const petri_audit_process *proc, uint32_t kind,
				      const char *syscall_name, int32_t syscall_nr,
				      const char *detail, petri_error **err)
{
	if (kind < PETRI_AUDIT_DENIAL_SECCOMP || kind > PETRI_AUDIT_DENIAL_FILESYSTEM)
		return petri__err(err, EINVAL, "audit denial: unknown kind %u", kind);
	EMIT_BEGIN(sandbox_id, exec_id, proc);
	Petri__Audit__V1__PolicyDenial b = PETRI__AUDIT__V1__POLICY_DENIAL__INIT;
	b.kind = (Petri__Audit__V1__PolicyDenial__Kind)kind;
	b.syscall = S(syscall_name);
	b.syscall_nr = syscall_nr;
	b.detail = S(detail);
	ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_POLICY_DENIAL;
	ev.policy_denial = &b;
	return petri__audit_emit_event(a, &ev, err);
}

PETRI_API int petri_audit_emit_secret_use(petri_audit *a, const char *sandbox_id,
					  const char *exec_id, const char *name,
					  const char *destination, uint32_t allowed,
					  petri_error **err)
{
	if (!name || !*name)
		return petri__err(err, EINVAL, "audit secret_use: missing secret name");
	EMIT_BEGIN(sandbox_id, exec_id, NULL);
	Petri__Audit__V1__SecretUse b = PETRI__AUDIT__V1__SECRET_USE__INIT;
	b.name = (char *)name;
	b.destination = S(destination);
	b.allowed = allowed != 0;
	ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_SECRET_USE;
	ev.secret_use = &b;
	return petri__audit_emit_event(a, &ev, err);
}

/* @s's bytes as a *_raw companion when they are not valid UTF-8 (the
 * string field then holds them repaired); else empty. */
static ProtobufCBinaryData raw_if_invalid(const char *s)
{
	ProtobufCBinaryData b = {0, NULL};
	size_t n = s ? strlen(s) : 0;
	if (n && !petri__audit_utf8_valid(s, n)) {
		b.len = n;
		b.data = (uint8_t *)s;
	}
	return b;
}

int petri__audit_emit_net_connection(petri_audit *a, const char *sandbox_id, const char *exec_id,
				     const struct petri__net_connection *c)
{
	if (!c)
		return -EINVAL;
	EMIT_BEGIN(sandbox_id, exec_id, NULL);
	Petri__Audit__V1__NetConnection b = PETRI__AUDIT__V1__NET_CONNECTION__INIT;
	b.via = (Petri__Audit__V1__NetConnection__Via)c->via;
	b.protocol = (Petri__Audit__V1__NetConnection__Protocol)c->protocol;
	b.name = S(c->name);
	b.port = c->port;
	b.sni_or_host = S(c->sni_or_host);
	b.http_method = S(c->http_method);
	b.http_path = S(c->http_path);
	b.address = S(c->address);
	b.bytes_up = c->bytes_up;
	b.bytes_down = c->bytes_down;
	b.start_time_unix_nano = c->start_time_unix_nano;
	b.duration_ns = c->duration_ns;
	b.decision = (Petri__Audit__V1__NetDecision)c->decision;
	b.reason = S(c->reason);
	b.http_status = c->http_status;
	b.upstream_errno = c->upstream_errno;
	b.name_raw = raw_if_invalid(c->name);
	b.sni_or_host_raw = raw_if_invalid(c->sni_or_host);
	b.http_path_raw = raw_if_invalid(c->http_path);
	ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_NET_CONNECTION;
	ev.net_connection = &b;
	return petri__audit_emit_event(a, &ev, NULL);
}

int petri__audit_emit_secret_use(petri_audit *a, const char *sandbox_id, const char *exec_id,
				 const struct petri__secret_use *u)
{
	if (!u || !u->name || !*u->name)
		return -EINVAL;
	char dest[PETRI__AUDIT_HOST_MAX + 8];
	snprintf(dest, sizeof(dest), "%s:%" PRIu32, u->host ? u->host : "", u->port);
	EMIT_BEGIN(sandbox_id, exec_id, NULL);
	Petri__Audit__V1__SecretUse b = PETRI__AUDIT__V1__SECRET_USE__INIT;
	b.name = (char *)u->name;
	b.destination = dest;
	b.allowed = 1;
	b.host = S(u->host);
	b.port = u->port;
	b.http_method = S(u->http_method);
	b.http_path = S(u->http_path);
	b.http_path_raw = raw_if_invalid(u->http_path);
	ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_SECRET_USE;
	ev.secret_use = &b;
	return petri__audit_emit_event(a, &ev, NULL);
}

int petri__audit_emit_secret_misuse(petri_audit *a, const char *sandbox_id, const char *exec_id,
				    const struct petri__secret_misuse *m)
{
	if (!m)
		return -EINVAL;
	EMIT_BEGIN(sandbox_id, exec_id, NULL);
	Petri__Audit__V1__SecretMisuse b = PETRI__AUDIT__V1__SECRET_MISUSE__INIT;
	b.name = S(m->name);
	b.kind = (Petri__Audit__V1__SecretMisuse__Kind)m->kind;
	b.host = S(m->host);
	b.port = m->port;
	b.where = S(m->where);
	b.detail = S(m->detail);
	b.host_raw = raw_if_invalid(m->host);
	ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_SECRET_MISUSE;
	ev.secret_misuse = &b;
	return petri__audit_emit_event(a, &ev, NULL);
}

int petri__audit_emit_dns_query(petri_audit *a, const char *sandbox_id, const char *exec_id,
				const struct petri__dns_query *d)
{
	if (!d)
		return -EINVAL;
	EMIT_BEGIN(sandbox_id, exec_id, NULL);
	Petri__Audit__V1__DnsQuery b = PETRI__AUDIT__V1__DNS_QUERY__INIT;
	b.qname = S(d->qname);
	b.qname_truncated = d->qname_truncated != 0;
	b.qtype = d->qtype;
	b.rcode = d->rcode;
	b.decision = (Petri__Audit__V1__NetDecision)d->decision;
	b.reason = S(d->reason);
	b.answer_address = S(d->answer_address);
	b.transport = (Petri__Audit__V1__DnsQuery__Transport)d->transport;
	b.qname_raw = raw_if_invalid(d->qname);
	ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_DNS_QUERY;
	ev.dns_query = &b;
	return petri__audit_emit_event(a, &ev, NULL);
}

PETRI_API int petri_audit_emit_encoded(petri_audit *a, const void *data, size_t len,
				       petri_error **err)
{
	if (!a || (!data && len))
		return petri__err(err, EINVAL, "audit emit: no stream or data");
	if (len > PETRI_AUDIT_MAX_EVENT)
		return petri__err(err, E2BIG, "audit emit: event of %zu bytes is larger than %u",
				  len, PETRI_AUDIT_MAX_EVENT);
	petri_pb_event *ev = petri__audit__v1__event__unpack(NULL, len, data);
	if (!ev)
		return petri__err(err, EBADMSG, "audit emit: not a petri.audit.v1.Event");
	int r;
	if (ev->body_case == PETRI__AUDIT__V1__EVENT__BODY_STREAM_HEADER ||
	    ev->body_case == PETRI__AUDIT__V1__EVENT__BODY_STREAM_END)
		r = petri__err(err, EINVAL, "audit emit: %s events belong to the stream",
			       petri_audit_kind_name((int)ev->body_case));
	else
		r = petri__audit_emit_event(a, ev, err);
	petri__audit__v1__event__free_unpacked(ev, NULL);
	return r;
}
