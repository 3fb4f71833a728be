/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stream.c - Server-Sent Events for streaming execs (docs/petrid.md
 * "Streaming").
 *
 * The exec's thread formats each chunk as an event into the stream's
 * buffer; MHD's content reader copies it out.  When the buffer is empty the
 * reader suspends the connection (returning 0 without suspending would make
 * MHD's epoll thread spin) and the next event resumes it, so an idle stream
 * costs nothing.  While suspended, the watcher (pool.c) looks for the
 * client hanging up, which cancels the exec.
 *
 * Chunks are UTF-8 text: the incomplete multi-byte sequence at the end of a
 * chunk is held back until the next chunk of that stream, ill-formed bytes
 * become U+FFFD.  At most PD_STREAM_BACKLOG bytes wait to be sent: chunks
 * beyond are dropped and counted, and a `gap` event says how many bytes
 * before the next chunk that fits.  The final event is always added.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "petrid.h"
#include "result_json.h"
#include "stream.h"

struct pd_stream {
	pthread_mutex_t lock;
	int refs;
	struct MHD_Connection *mc;
	bool suspended;
	int watch_slot;
	char *buf;
	size_t off, len, cap;
	unsigned char hold[3][4]; /* by PETRI_STREAM_*: an incomplete UTF-8 tail */
	size_t hold_len[3];
	uint64_t dropped[3];
	bool finished; /* the final event is in the buffer */
	bool closed;   /* MHD is done with the response */
	int64_t start_mono, last_event_mono;
	struct pd_exec *exec;          /* until finish */
	struct pd_stream *next, *prev; /* the open streams, for heartbeats */
};

static pthread_mutex_t streams_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pd_stream *streams;

static void on_hangup(void *arg)
{
	struct pd_stream *st = arg;
	/* Called with the watcher's lock held: st cannot be freed meanwhile
	 * (its slot is removed before it is resumed or freed). */
	pthread_mutex_lock(&pd.lock);
	/* st->exec is read without st->lock (the reader holds st->lock while
	 * it takes the watcher's lock): it is atomic, and the exec it names
	 * is freed only after finish cleared it and removed this slot. */
	struct pd_exec *x = __atomic_load_n(&st->exec, __ATOMIC_ACQUIRE);
	if (x) {
		pd_log("stream client went away: cancelling its exec");
		pd_exec_client_gone_locked(x);
	}
	pthread_mutex_unlock(&pd.lock);
}

/* Resume the connection if the reader suspended it (st->lock held). */
static void wake(struct pd_stream *st)
{
	if (!st->suspended)
		return;
	st->suspended = false;
	if (st->watch_slot >= 0) {
		pd_watch_remove(st->watch_slot);
		st->watch_slot = -1;
	}
	MHD_resume_connection(st->mc);
}

static int append(struct pd_stream *st, const char *data, size_t n)
{
	if (st->off > 0 && st->off == st->len)
		st->off = st->len = 0;
	if (st->len + n > st->cap) {
		if (st->off > 0) {
			memmove(st->buf, st->buf + st->off, st->len - st->off);
			st->len -= st->off;
			st->off = 0;
		}
		size_t cap = st->cap ? st->cap : 16384;
		while (cap < st->len + n)
			cap *= 2;
		char *b = realloc(st->buf, cap);
		if (!b)
			return -1;
		st->buf = b;
		st->cap = cap;
	}
	memcpy(st->buf + st->len, data, n);
	st->len += n;
	return 0;
}

/* "event: NAME\ndata: JSON\n\n" */
static int append_event(struct pd_stream *st, const char *name, const char *json, size_t n)
{
	char head[32];
	int h = snprintf(head, sizeof(head), "event: %s\ndata: ", name);
	if (append(st, head, (size_t)h) < 0 || append(st, json, n) < 0 || append(st, "\n\n", 2) < 0)
		return -1;
	st->last_event_mono = pd_mono_ms();
	return 0;
}

static const char *stream_name(int stream)
{
	return stream == PETRI_STREAM_STDERR ? "stderr" : "stdout";
}

static void append_gap(struct pd_stream *st, int stream)
{
	char j[96];
	int n = snprintf(j, sizeof(j), "{\"stream\":\"%s\",\"dropped_bytes\":%llu}",
			 stream_name(stream), (unsigned long long)st->dropped[stream]);
	if (append_event(st, "gap", j, (size_t)n) == 0)
		st->dropped[stream] = 0;
}

/* Emit @n bytes of text as one chunk event, or count them dropped. */
static void emit_chunk(struct pd_stream *st, int stream, const char *text, size_t n, bool force)
{
	if (n == 0)
		return;
	json_object *o = json_object_new_object();
	json_object *s = json_bytes(text, n);
	if (!o || !s) {
		json_object_put(o);
		json_object_put(s);
		st->dropped[stream] += n;
		return;
	}
	json_object_object_add(o, "data", s);
	size_t jl = 0;
	const char *j = json_object_to_json_string_length(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &jl);
	size_t waiting = st->len - st->off;
	if (!force && waiting + jl + 128 > PD_STREAM_BACKLOG) {
		st->dropped[stream] += n;
	} else {
		if (st->dropped[stream])
			append_gap(st, stream);
		if (append_event(st, stream_name(stream), j, jl) < 0)
			st->dropped[stream] += n;
	}
	json_object_put(o);
}

int pd_stream_output(struct pd_stream *st, int stream, const char *data, size_t len)
{
	if (stream != PETRI_STREAM_STDOUT && stream != PETRI_STREAM_STDERR)
		return 0;
	pthread_mutex_lock(&st->lock);
	if (st->closed) {
		pthread_mutex_unlock(&st->lock);
		return 1;
	}
	/* Join the held tail and the new bytes; hold the new incomplete tail. */
	size_t hl = st->hold_len[stream];
	char *text = malloc(hl + len);
	if (!text) {
		st->dropped[stream] += len;
		pthread_mutex_unlock(&st->lock);
		return 0;
	}
	memcpy(text, st->hold[stream], hl);
	memcpy(text + hl, data, len);
	size_t n = hl + len;
	size_t tail = utf8_incomplete_tail((const unsigned char *)text, n);
	memcpy(st->hold[stream], text + n - tail, tail);
	st->hold_len[stream] = tail;
	emit_chunk(st, stream, text, n - tail, false);
	free(text);
	wake(st);
	pthread_mutex_unlock(&st->lock);
	return 0;
}

void pd_stream_finish(struct pd_stream *st, const char *event, const char *json, size_t len)
{
	pthread_mutex_lock(&st->lock);
	for (int s = PETRI_STREAM_STDOUT; s <= PETRI_STREAM_STDERR; s++) {
		/* A tail that never completed: its bytes as U+FFFD. */
		emit_chunk(st, s, (const char *)st->hold[s], st->hold_len[s], true);
		st->hold_len[s] = 0;
		if (st->dropped[s])
			append_gap(st, s);
	}
	append_event(st, event, json, len);
	st->finished = true;
	__atomic_store_n(&st->exec, NULL, __ATOMIC_RELEASE);
	wake(st);
	pthread_mutex_unlock(&st->lock);
}

void pd_stream_tick(void)
{
	int64_t now = pd_mono_ms();
	pthread_mutex_lock(&streams_lock);
	for (struct pd_stream *st = streams; st; st = st->next) {
		pthread_mutex_lock(&st->lock);
		if (!st->finished && !st->closed && now - st->last_event_mono >= PD_HEARTBEAT_MS) {
			char j[48];
			int n = snprintf(j, sizeof(j), "{\"t_ms\":%lld",
					 (long long)(now - st->start_mono));
			j[n++] = '}';
			append_event(st, "heartbeat", j, (size_t)n);
			wake(st);
		}
		pthread_mutex_unlock(&st->lock);
	}
	pthread_mutex_unlock(&streams_lock);
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct pd_stream *st = cls;
	(void)pos;
	pthread_mutex_lock(&st->lock);
	if (st->off < st->len) {
		size_t n = st->len - st->off < max ? st->len - st->off : max;
		memcpy(buf, st->buf + st->off, n);
		st->off += n;
		pthread_mutex_unlock(&st->lock);
		return (ssize_t)n;
	}
	if (st->finished) {
		pthread_mutex_unlock(&st->lock);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	/* Nothing yet: sleep until the producer or the timer wakes us. */
	st->suspended = true;
	MHD_suspend_connection(st->mc);
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(st->mc, MHD_CONNECTION_INFO_CONNECTION_FD);
	st->watch_slot = ci ? pd_watch_add(ci->connect_fd, on_hangup, st) : -1;
	pthread_mutex_unlock(&st->lock);
	return 0;
}

static void release(struct pd_stream *st)
{
	pthread_mutex_lock(&streams_lock);
	pthread_mutex_lock(&st->lock);
	bool last = --st->refs == 0;
	pthread_mutex_unlock(&st->lock);
	if (last) {
		if (st->prev)
			st->prev->next = st->next;
		else
			streams = st->next;
		if (st->next)
			st->next->prev = st->prev;
	}
	pthread_mutex_unlock(&streams_lock);
	if (last) {
		pthread_mutex_destroy(&st->lock);
		free(st->buf);
		free(st);
	}
}

/* MHD is done with the response: the client read it all or went away. */
static void reader_free(void *cls)
{
	struct pd_stream *st = cls;
	pthread_mutex_lock(&st->lock);
	st->closed = true;
	if (st->watch_slot >= 0) {
		pd_watch_remove(st->watch_slot);
		st->watch_slot = -1;
	}
	struct pd_exec *x = __atomic_load_n(&st->exec, __ATOMIC_ACQUIRE);
	if (!st->finished && x) {
		pthread_mutex_lock(&pd.lock);
		pd_log("stream closed before its result: cancelling its exec");
		pd_exec_client_gone_locked(x);
		pthread_mutex_unlock(&pd.lock);
	}
	pthread_mutex_unlock(&st->lock);
	release(st);
}

struct pd_stream *pd_stream_new(struct pd_exec *exec, struct MHD_Connection *mc,
				struct MHD_Response **resp)
{
	struct pd_stream *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	pthread_mutex_init(&st->lock, NULL);
	st->refs = 2;
	st->mc = mc;
	st->watch_slot = -1;
	st->exec = exec;
	st->start_mono = st->last_event_mono = pd_mono_ms();
	*resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, reader, st,
						  reader_free);
	if (!*resp) {
		pthread_mutex_destroy(&st->lock);
		free(st);
		return NULL;
	}
	MHD_add_response_header(*resp, "Content-Type", "text/event-stream");
	MHD_add_response_header(*resp, "Cache-Control", "no-cache");
	MHD_add_response_header(*resp, "X-Accel-Buffering", "no");
	pthread_mutex_lock(&streams_lock);
	st->next = streams;
	if (streams)
		streams->prev = st;
	streams = st;
	pthread_mutex_unlock(&streams_lock);
	return st;
}

void pd_stream_put(struct pd_stream *st)
{
	release(st);
}

size_t pd_stream_count(void)
{
	size_t n = 0;
	pthread_mutex_lock(&streams_lock);
	for (struct pd_stream *st = streams; st; st = st->next)
		n++;
	pthread_mutex_unlock(&streams_lock);
	return n;
}
