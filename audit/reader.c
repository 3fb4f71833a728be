/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reader.c - the hardened reader of audit streams: varint framing with
 * bounded lengths, protobuf-c decoding, and the checks that make the stream
 * evidence (gap-free seq from 0, header first, every record ending with its
 * hash field, hash = SHA-256(prev_hash || bytes before it), prev_hash equal
 * to the previous hash, StreamEnd last).  Also formats events as one text
 * line or one OCSF-style JSON object.  Input is untrusted: every length is
 * checked before it is used, and nothing here aborts.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "internal.h"
#include "audit_priv.h"

#define READ_CHUNK 65536

/* Indexed by PETRI_AUDIT_KIND_*: the body field's name in the schema. */
static const char *const kind_names[] = {
	[PETRI_AUDIT_KIND_STREAM_HEADER] = "stream_header",
	[PETRI_AUDIT_KIND_STREAM_END] = "stream_end",
	[PETRI_AUDIT_KIND_SANDBOX_CREATED] = "sandbox_created",
	[PETRI_AUDIT_KIND_SANDBOX_DESTROYED] = "sandbox_destroyed",
	[PETRI_AUDIT_KIND_EXEC_STARTED] = "exec_started",
	[PETRI_AUDIT_KIND_EXEC_ENDED] = "exec_ended",
	[PETRI_AUDIT_KIND_PROCESS_EXEC] = "process_exec",
	[PETRI_AUDIT_KIND_PROCESS_FORK] = "process_fork",
	[PETRI_AUDIT_KIND_PROCESS_EXIT] = "process_exit",
	[PETRI_AUDIT_KIND_FILE_ACTIVITY] = "file_activity",
	[PETRI_AUDIT_KIND_NETWORK_ACTIVITY] = "network_activity",
	[PETRI_AUDIT_KIND_POLICY_DENIAL] = "policy_denial",
	[PETRI_AUDIT_KIND_LIMIT_HIT] = "limit_hit",
	[PETRI_AUDIT_KIND_SECRET_USE] = "secret_use",
	[PETRI_AUDIT_KIND_LOSS] = "loss",
	[PETRI_AUDIT_KIND_NET_CONNECTION] = "net_connection",
	[PETRI_AUDIT_KIND_DNS_QUERY] = "dns_query",
	[PETRI_AUDIT_KIND_SECRET_MISUSE] = "secret_misuse",
};

/* Is @kind one this library knows? */
static int kind_known(int kind)
{
	return kind >= 0 && (size_t)kind < ARRAY_SIZE(kind_names) && kind_names[kind];
}

PETRI_API const char *petri_audit_kind_name(int kind)
{
	return kind_known(kind) ? kind_names[kind] : "unknown";
}

struct petri_audit_reader {
	uint32_t flags;
	uint32_t source;
	int fd;
	int own_fd;
	const uint8_t *mem; /* MEMORY source */
	size_t mem_len, mem_pos;
	uint8_t *rbuf; /* fd sources: read buffer */
	size_t rlen, rpos;
	uint64_t max_event;

	uint8_t *ev_buf; /* the current record */
	size_t ev_cap, ev_len;
	petri_pb_event *ev;

	uint64_t count; /* events decoded == the seq the next one must have */
	uint8_t prev_hash[PETRI_SHA256_LEN];
	petri__audit_hasher *hasher;
	int saw_end;
	int failed;
	uint64_t bad_seq;
	int last_error;
	char last_msg[400];
};

PETRI_API void petri_audit_reader_opts_init(petri_audit_reader_opts *opts)
{
	petri_audit_reader_opts d = PETRI_AUDIT_READER_OPTS_INIT;
	if (opts)
		*opts = d;
}

PETRI_API int petri_audit_reader_open(petri_audit_reader **out, const petri_audit_reader_opts *opts,
				      petri_error **err)
{
	petri_audit_reader_opts o;
	if (!out || !opts)
		return petri__err(err, EINVAL, "audit reader: missing output or options");
	int rc = petri__opts_copy(&o, sizeof(o), opts, err, "petri_audit_reader_opts");
	if (rc < 0)
		return rc;
	if (opts->sz <= offsetof(petri_audit_reader_opts, fd))
		o.fd = -1; /* the default of a field the caller does not know */
	if (o.flags & ~PETRI_AUDIT_READER_F_NO_VERIFY)
		return petri__err(err, EINVAL, "audit reader: unknown flags 0x%x", o.flags);
	if (o.max_event_bytes == 0)
		o.max_event_bytes = PETRI_AUDIT_MAX_EVENT;
	if (o.max_event_bytes > PETRI_AUDIT_MAX_EVENT_CAP)
		return petri__err(err, EINVAL, "audit reader: max_event_bytes above %u",
				  PETRI_AUDIT_MAX_EVENT_CAP);
	petri_audit_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return petri__err(err, ENOMEM, "audit reader");
	r->flags = o.flags;
	r->source = o.source;
	r->max_event = o.max_event_bytes;
	r->fd = -1;
	switch (o.source) {
	case PETRI_AUDIT_SRC_PATH:
		if (!o.path) {
			free(r);
			return petri__err(err, EINVAL, "audit reader: no path");
		}
		r->fd = open(o.path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (r->fd < 0) {
			int e = errno;
			free(r);
			return petri__err(err, e, "open %s", o.path);
		}
		r->own_fd = 1;
		break;
	case PETRI_AUDIT_SRC_FD:
		if (o.fd < 0) {
			free(r);
			return petri__err(err, EBADF, "audit reader: fd %d", o.fd);
		}
		r->fd = o.fd;
		break;
	case PETRI_AUDIT_SRC_MEMORY:
		if (!o.data && o.data_len) {
			free(r);
			return petri__err(err, EINVAL, "audit reader: no data");
		}
		r->mem = o.data;
		r->mem_len = (size_t)o.data_len;
		break;
	default:
		free(r);
		return petri__err(err, EINVAL, "audit reader: unknown source %u", o.source);
	}
	if (r->fd >= 0 && !(r->rbuf = malloc(READ_CHUNK))) {
		petri_audit_reader_close(r);
		return petri__err(err, ENOMEM, "audit reader");
	}
	int hr = petri__audit_hasher_new(&r->hasher);
	if (hr < 0) {
		petri_audit_reader_close(r);
		return petri__err(err, -hr, "audit reader: SHA-256 from libcrypto");
	}
	*out = r;
	return 0;
}

PETRI_API void petri_audit_reader_free(petri_audit_reader *r)
{
	petri_audit_reader_close(r);
}

PETRI_API void petri_audit_reader_close(petri_audit_reader *r)
{
	if (!r)
		return;
	if (r->ev)
		petri__audit__v1__event__free_unpacked(r->ev, NULL);
	if (r->own_fd && r->fd >= 0)
		close(r->fd);
	petri__audit_hasher_free(r->hasher);
	free(r->rbuf);
	free(r->ev_buf);
	free(r);
}

/* Copy up to @n bytes of input into @dst; returns how many (short only at
 * the end of the input) or a negative errno. */
static ssize_t src_read(petri_audit_reader *r, uint8_t *dst, size_t n)
{
	if (r->source == PETRI_AUDIT_SRC_MEMORY) {
		size_t k = r->mem_len - r->mem_pos < n ? r->mem_len - r->mem_pos : n;
		if (k)
			memcpy(dst, r->mem + r->mem_pos, k);
		r->mem_pos += k;
		return (ssize_t)k;
	}
	size_t got = 0;
	while (got < n) {
		if (r->rpos == r->rlen) {
			ssize_t k = read(r->fd, r->rbuf, READ_CHUNK);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return -errno;
			if (k == 0)
				break;
			r->rlen = (size_t)k;
			r->rpos = 0;
		}
		size_t k = r->rlen - r->rpos < n - got ? r->rlen - r->rpos : n - got;
		memcpy(dst + got, r->rbuf + r->rpos, k);
		r->rpos += k;
		got += k;
	}
	return (ssize_t)got;
}

/* An error with @msg as is (petri__err would append strerror). */
static int set_err(petri_error **err, int code, const char *msg)
{
	if (err && !*err) {
		petri_error *e = calloc(1, sizeof(*e));
		if (e) {
			e->code = code;
			snprintf(e->msg, sizeof(e->msg), "%s", msg);
			*err = e;
		}
	}
	return code;
}

/* Record a failure at the current position and return @code. */
static int reader_fail(petri_audit_reader *r, petri_error **err, int code, const char *fmt, ...)
	_printf_(4, 5);
static int reader_fail(petri_audit_reader *r, petri_error **err, int code, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->failed = 1;
	r->bad_seq = r->count;
	r->last_error = code;
	snprintf(r->last_msg, sizeof(r->last_msg), "seq %" PRIu64 ": %s", r->count, msg);
	return set_err(err, code, r->last_msg);
}

static int same_hash(const ProtobufCBinaryData *b, const uint8_t *h)
{
	return b->len == PETRI_SHA256_LEN && memcmp(b->data, h, PETRI_SHA256_LEN) == 0;
}

/* The chain and sequence checks for the event just decoded. */
static int check_event(petri_audit_reader *r, petri_error **err)
{
	const petri_pb_event *ev = r->ev;
	const uint8_t *rec = r->ev_buf;
	size_t len = r->ev_len;

	if (r->saw_end)
		return reader_fail(r, err, -EBADMSG, "data after the StreamEnd");
	if (len < PETRI_AUDIT_HASH_TRAILER ||
	    rec[len - PETRI_AUDIT_HASH_TRAILER] != PETRI_AUDIT_HASH_KEY ||
	    rec[len - PETRI_AUDIT_HASH_TRAILER + 1] != PETRI_SHA256_LEN ||
	    !same_hash(&ev->hash, rec + len - PETRI_SHA256_LEN))
		return reader_fail(r, err, -EBADMSG, "record does not end with its hash field");
	uint8_t h[PETRI_SHA256_LEN];
	size_t body = len - PETRI_AUDIT_HASH_TRAILER;
	if (petri__audit_chain_hash(r->hasher, ev->prev_hash.data, ev->prev_hash.len, rec, body,
				    h) < 0)
		return reader_fail(r, err, -EIO, "SHA-256 (libcrypto) failed");
	if (memcmp(h, rec + body + 2, PETRI_SHA256_LEN) != 0)
		return reader_fail(r, err, -EBADMSG, "hash mismatch (the event was altered)");
	if (ev->seq != r->count)
		return reader_fail(r, err, -EBADMSG,
				   "found seq %" PRIu64
				   " (an event was removed, reordered or duplicated)",
				   ev->seq);
	if (r->count == 0 ? ev->prev_hash.len != 0 : !same_hash(&ev->prev_hash, r->prev_hash))
		return reader_fail(
			r, err, -EBADMSG,
			"prev_hash does not match the previous event (removed or reordered)");
	int header = ev->body_case == PETRI__AUDIT__V1__EVENT__BODY_STREAM_HEADER;
	if ((r->count == 0) != header)
		return reader_fail(r, err, -EBADMSG,
				   header ? "a second StreamHeader" :
					    "the stream does not begin with a StreamHeader");
	if (ev->body_case == PETRI__AUDIT__V1__EVENT__BODY_STREAM_END) {
		if (!ev->stream_end || ev->stream_end->total_written != ev->seq)
			return reader_fail(r, err, -EBADMSG,
					   "StreamEnd total_written does not match its seq");
		r->saw_end = 1;
	}
	memcpy(r->prev_hash, h, PETRI_SHA256_LEN);
	return 0;
}

PETRI_API int petri_audit_reader_next(petri_audit_reader *r, petri_error **err)
{
	if (!r)
		return petri__err(err, EINVAL, "audit reader: NULL");
	if (r->failed)
		return set_err(err, r->last_error, r->last_msg);
	if (r->ev) {
		petri__audit__v1__event__free_unpacked(r->ev, NULL);
		r->ev = NULL;
	}
	r->ev_len = 0;

	/* The length prefix: at most 10 bytes, and at most max_event. */
	uint64_t len = 0;
	int shift = 0;
	for (int i = 0;; i++) {
		uint8_t b;
		ssize_t k = src_read(r, &b, 1);
		if (k < 0)
			return reader_fail(r, err, (int)k, "read: %s", strerror((int)-k));
		if (k == 0) {
			if (i == 0)
				return 0; /* clean end of input */
			return reader_fail(r, err, -EBADMSG,
					   "stream truncated inside a length prefix");
		}
		if (i == 9 && b > 1)
			return reader_fail(r, err, -EBADMSG, "length prefix overflows 64 bits");
		len |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			break;
	}
	if (len > r->max_event)
		return reader_fail(r, err, -EFBIG,
				   "event length %" PRIu64 " exceeds the limit of %" PRIu64
				   " bytes",
				   len, r->max_event);
	if (len == 0)
		return reader_fail(r, err, -EBADMSG, "empty event");
	if (len > r->ev_cap) {
		uint8_t *nb = realloc(r->ev_buf, (size_t)len);
		if (!nb)
			return reader_fail(r, err, -ENOMEM, "out of memory");
		r->ev_buf = nb;
		r->ev_cap = (size_t)len;
	}
	ssize_t k = src_read(r, r->ev_buf, (size_t)len);
	if (k < 0)
		return reader_fail(r, err, (int)k, "read: %s", strerror((int)-k));
	if ((uint64_t)k < len)
		return reader_fail(r, err, -EBADMSG,
				   "stream truncated inside an event (%zd of %" PRIu64 " bytes)", k,
				   len);
	r->ev_len = (size_t)len;
	r->ev = petri__audit__v1__event__unpack(NULL, r->ev_len, r->ev_buf);
	if (!r->ev)
		return reader_fail(r, err, -EBADMSG, "not a valid petri.audit.v1.Event (%zu bytes)",
				   r->ev_len);
	if (!(r->flags & PETRI_AUDIT_READER_F_NO_VERIFY)) {
		int c = check_event(r, err);
		if (c < 0) {
			petri__audit__v1__event__free_unpacked(r->ev, NULL);
			r->ev = NULL;
			return c;
		}
	}
	r->count++;
	return 1;
}

PETRI_API uint64_t petri_audit_reader_seq(const petri_audit_reader *r)
{
	return r && r->ev ? r->ev->seq : 0;
}

PETRI_API int petri_audit_reader_kind(const petri_audit_reader *r)
{
	if (!r || !r->ev)
		return 0;
	int k = (int)r->ev->body_case;
	return kind_known(k) ? k : 0;
}

PETRI_API const void *petri_audit_reader_raw(const petri_audit_reader *r, size_t *len)
{
	if (!r || !r->ev) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = r->ev_len;
	return r->ev_buf;
}

PETRI_API uint64_t petri_audit_reader_first_bad_seq(const petri_audit_reader *r)
{
	return r && r->failed ? r->bad_seq : 0;
}

PETRI_API int petri_audit_reader_verify(petri_audit_reader *r, uint64_t *first_bad_seq,
					petri_error **err)
{
	if (!r)
		return petri__err(err, EINVAL, "audit verify: NULL reader");
	if (r->flags & PETRI_AUDIT_READER_F_NO_VERIFY)
		return petri__err(err, EINVAL, "audit verify: reader opened with NO_VERIFY");
	int n;
	while ((n = petri_audit_reader_next(r, err)) > 0) {
	}
	if (n == 0 && !r->saw_end)
		n = reader_fail(r, err, -EBADMSG,
				r->count == 0 ? "empty stream (no StreamHeader)" :
						"the stream ends without a StreamEnd (truncated)");
	if (n < 0 && first_bad_seq)
		*first_bad_seq = r->bad_seq;
	return n < 0 ? n : 0;
}

/* ---- formatting ---------------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
	int oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void putf(struct buf *b, const char *fmt, ...) _printf_(2, 3);
static void putf(struct buf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(tmp)) {
		put(b, tmp, (size_t)n);
	} else if (n > 0) {
		/* Longer than the stack buffer: never truncate silently. */
		char *big = malloc((size_t)n + 1);
		if (big && vsnprintf(big, (size_t)n + 1, fmt, ap2) == n)
			put(b, big, (size_t)n);
		else
			b->oom = 1;
		free(big);
	}
	va_end(ap2);
}

int petri__audit_utf8_valid(const char *s, size_t n)
{
	size_t i = 0;

	/* ASCII a word at a time first: nearly every path and argv is. */
	for (; i + 8 <= n; i += 8) {
		uint64_t v;
		memcpy(&v, s + i, 8);
		if (v & 0x8080808080808080ull)
			break;
	}
	while (i < n) {
		size_t k = petri__audit_utf8_len((const unsigned char *)s + i, n - i);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

char *petri__audit_utf8_repair(const char *s, size_t n, size_t *len)
{
	char *out = malloc(3 * n + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t k = petri__audit_utf8_len((const unsigned char *)s + i, n - i);
		if (!k) {
			memcpy(o, "\xef\xbf\xbd", 3); /* U+FFFD */
			o += 3;
			i++;
		} else {
			memcpy(o, s + i, k);
			o += k;
			i += k;
		}
	}
	*o = '\0';
	*len = (size_t)(o - out);
	return out;
}

size_t petri__audit_utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t k;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		k = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		k = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		k = 4, cp = c & 0x07;
	else
		return 0;
	if (n < k)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((k == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (k == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return k;
}

/* A quoted text string: printable ASCII as is, everything else \xNN. */
static void text_str(struct buf *b, const char *s, size_t n)
{
	puts_(b, "\"");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			putf(b, "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			put(b, (const char *)&c, 1);
		else
			putf(b, "\\x%02x", c);
	}
	puts_(b, "\"");
}

/* @n bytes of @p as lower-case hex into @out (2 * @n + 1 bytes). */
static void hex_to(char *out, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* "OP_OPEN" of enum Op -> "open"; "PATH_SOURCE_KERNEL_FILE" of PathSource
 * -> "kernel_file": the value's name without its enum's prefix, into @out;
 * the number for a value the schema does not name. */
static const char *enum_name(const ProtobufCEnumDescriptor *d, int v, char out[64])
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
	if (!ev) {
		snprintf(out, 64, "%d", v);
		return out;
	}
	char prefix[64];
	size_t k = 0;
	for (const char *s = d->short_name; *s && k + 3 < sizeof(prefix); s++) {
		if (*s >= 'A' && *s <= 'Z' && s != d->short_name)
			prefix[k++] = '_';
		prefix[k++] = (char)(*s >= 'a' && *s <= 'z' ? *s - 32 : *s);
	}
	prefix[k++] = '_';
	prefix[k] = '\0';
	const char *name = ev->name;
	if (strncmp(name, prefix, k) == 0 && name[k])
		name += k;
	size_t i = 0;
	for (; name[i] && i + 1 < 64; i++)
		out[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
	out[i] = '\0';
	return out;
}

static size_t type_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	default:
		return 4;
	}
}

static int is_zero_value(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		return !s || !*s;
	}
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)p)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(void *const *)p == NULL;
	default: {
		static const uint8_t zero[8];
		return memcmp(p, zero, type_size(f->type)) == 0;
	}
	}
}

static void iso_time(char out[48], uint64_t ns)
{
	time_t s = (time_t)(ns / 1000000000ull);
	struct tm tm;
	char t[32] = "1970-01-01T00:00:00";
	if (gmtime_r(&s, &tm))
		strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 48, "%s.%09" PRIu64 "Z", t, (uint64_t)(ns % 1000000000u));
}

/* The body message of @ev (NULL when none or unknown). */
static const ProtobufCMessage *body_of(const petri_pb_event *ev)
{
	const ProtobufCMessageDescriptor *d = ev->base.descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && f->id == ev->body_case)
			return *(ProtobufCMessage *const *)((const char *)ev + f->offset);
	}
	return NULL;
}

/* ---- text ------------------------------------------------------------------ */

/* One scalar/message value of @f at @p, as text. */
static void text_message(struct buf *b, const ProtobufCMessage *m);

static void text_value(struct buf *b, const ProtobufCFieldDescriptor *f, const void *p)
{
	char name[64];
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		putf(b, "%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		putf(b, "%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		putf(b, "%" PRId64, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		putf(b, "%" PRIu64, *(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		puts_(b, *(const protobuf_c_boolean *)p ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_ENUM:
		puts_(b, enum_name(f->descriptor, *(const int *)p, name));
		break;
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		s = s ? s : "";
		text_str(b, s, strlen(s));
		break;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *d = p;
		char two[3];
		for (size_t i = 0; i < d->len; i++) {
			hex_to(two, d->data + i, 1);
			put(b, two, 2);
		}
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
		if (sub)
			text_message(b, sub);
		else
			puts_(b, "{}");
		break;
	}
	default:
		puts_(b, "?");
	}
}

/* The non-default fields of @m: "name=value ...". */
static void text_message(struct buf *b, const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	int first = 1;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *p = (const char *)m + f->offset;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
			const char *arr = *(char *const *)p;
			if (n == 0)
				continue;
			putf(b, "%s%s=[", first ? "" : " ", f->name);
			for (size_t k = 0; k < n && arr; k++) {
				if (k)
					puts_(b, " ");
				text_value(b, f, arr + k * type_size(f->type));
			}
			puts_(b, "]");
		} else {
			if (is_zero_value(f, p))
				continue;
			putf(b, "%s%s=", first ? "" : " ", f->name);
			text_value(b, f, p);
		}
		first = 0;
	}
}

static void format_text(struct buf *b, const petri_pb_event *ev)
{
	char t[48];
	iso_time(t, ev->time_unix_nano);
	putf(b, "%" PRIu64 " %s %s", ev->seq, t, petri_audit_kind_name((int)ev->body_case));
	if (ev->sandbox_id && *ev->sandbox_id) {
		puts_(b, " sandbox=");
		text_str(b, ev->sandbox_id, strlen(ev->sandbox_id));
	}
	if (ev->exec_id && *ev->exec_id) {
		puts_(b, " exec=");
		text_str(b, ev->exec_id, strlen(ev->exec_id));
	}
	if (ev->process) {
		const Petri__Audit__V1__Process *p = ev->process;
		putf(b, " pid=%" PRIu32 "/%" PRIu32 " ppid=%" PRIu32 " uid=%" PRIu32, p->pid_inside,
		     p->pid_host, p->ppid, p->uid);
		if (p->comm && *p->comm) {
			puts_(b, " comm=");
			text_str(b, p->comm, strlen(p->comm));
		}
		if (p->executable && *p->executable) {
			puts_(b, " exe=");
			text_str(b, p->executable, strlen(p->executable));
		}
	}
	const ProtobufCMessage *body = body_of(ev);
	if (body) {
		struct buf inner = {0};
		text_message(&inner, body);
		if (inner.oom)
			b->oom = 1;
		if (inner.len) {
			puts_(b, " ");
			put(b, inner.p, inner.len);
		}
		free(inner.p);
	}
}

/* ---- JSON (json-c) --------------------------------------------------------
 * The event is built as a json-c tree and serialised by json-c: no JSON is
 * written by hand here.  json-c escapes '"', '\\' and control characters
 * but copies other bytes as they are, so strings are made valid UTF-8
 * first (jstr()): the text is then valid JSON whatever bytes a decoded
 * string holds (our writer repairs strings on the way in, but a stream is
 * untrusted input and may come from another writer). */

/* Building state: any allocation that failed sets @oom. */
struct jb {
	int oom;
};

static json_object *jcheck(struct jb *j, json_object *o)
{
	if (!o)
		j->oom = 1;
	return o;
}

/* Add @val under @key (a static string) to @obj; takes @val in any case. */
static void jset(struct jb *j, json_object *obj, const char *key, json_object *val)
{
	if (!obj || !val) {
		j->oom = 1;
		json_object_put(val);
		return;
	}
	if (json_object_object_add_ex(obj, key, val,
				      JSON_C_OBJECT_ADD_KEY_IS_NEW |
					      JSON_C_OBJECT_ADD_CONSTANT_KEY) < 0) {
		j->oom = 1;
		json_object_put(val); /* json-c keeps it only on success */
	}
}

static void jpush(struct jb *j, json_object *arr, json_object *val)
{
	if (!arr || !val || json_object_array_add(arr, val) < 0) {
		j->oom = 1;
		json_object_put(val);
	}
}

/* A JSON string of @s[0..@n): every byte that does not begin a valid UTF-8
 * sequence becomes U+FFFD (as the writer does on the way in). */
static json_object *jstr_n(struct jb *j, const char *s, size_t n)
{
	if (petri__audit_utf8_valid(s, n))
		return jcheck(j, json_object_new_string_len(s, (int)n));
	size_t len;
	char *fixed = petri__audit_utf8_repair(s, n, &len);
	if (!fixed)
		return jcheck(j, NULL);
	json_object *r = json_object_new_string_len(fixed, (int)len);
	free(fixed);
	return jcheck(j, r);
}

static json_object *jstr(struct jb *j, const char *s)
{
	return jstr_n(j, s ? s : "", s ? strlen(s) : 0);
}

static json_object *jhex(struct jb *j, const uint8_t *p, size_t n)
{
	char small[2 * 64 + 1], *h = n <= 64 ? small : malloc(2 * n + 1);
	if (!h)
		return jcheck(j, NULL);
	hex_to(h, p, n);
	json_object *r = json_object_new_string_len(h, (int)(2 * n));
	if (h != small)
		free(h);
	return jcheck(j, r);
}

static json_object *json_message(struct jb *j, const ProtobufCMessage *m);

/* One scalar/message value of @f at @p. */
static json_object *json_value(struct jb *j, const ProtobufCFieldDescriptor *f, const void *p)
{
	char name[64];
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return jcheck(j, json_object_new_int(*(const int32_t *)p));
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return jcheck(j, json_object_new_int64(*(const uint32_t *)p));
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return jcheck(j, json_object_new_int64(*(const int64_t *)p));
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return jcheck(j, json_object_new_uint64(*(const uint64_t *)p));
	case PROTOBUF_C_TYPE_BOOL:
		return jcheck(j, json_object_new_boolean(*(const protobuf_c_boolean *)p != 0));
	case PROTOBUF_C_TYPE_ENUM:
		return jcheck(
			j, json_object_new_string(enum_name(f->descriptor, *(const int *)p, name)));
	case PROTOBUF_C_TYPE_STRING:
		return jstr(j, *(char *const *)p);
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *d = p;
		return jhex(j, d->data, d->len);
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
		return sub ? json_message(j, sub) : jcheck(j, json_object_new_object());
	}
	default:
		return NULL; /* not reached: json_message() handles the rest */
	}
}

/* Every field of @m, proto3 defaults included (so the shape is stable). */
static json_object *json_message(struct jb *j, const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	json_object *o = jcheck(j, json_object_new_object());
	for (unsigned i = 0; o && i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *p = (const char *)m + f->offset;
		json_object *v;
		if (f->type == PROTOBUF_C_TYPE_FLOAT || f->type == PROTOBUF_C_TYPE_DOUBLE) {
			/* Not in the schema: JSON null (a NULL value to json-c). */
			if (json_object_object_add_ex(o, f->name, NULL,
						      JSON_C_OBJECT_ADD_KEY_IS_NEW |
							      JSON_C_OBJECT_ADD_CONSTANT_KEY) < 0)
				j->oom = 1;
			continue;
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
			const char *arr = *(char *const *)p;
			v = jcheck(j, json_object_new_array_ext((int)n));
			for (size_t k = 0; v && k < n && arr; k++)
				jpush(j, v, json_value(j, f, arr + k * type_size(f->type)));
		} else {
			v = json_value(j, f, p);
		}
		jset(j, o, f->name, v);
	}
	return o;
}
#define NET_DENIED PETRI__AUDIT__V1__NET_DECISION__NET_DECISION_DENIED
#define NET_ALLOWED PETRI__AUDIT__V1__NET_DECISION__NET_DECISION_ALLOWED

/* A plain HTTP request (OCSF HTTP Activity), rather than a connection? */
static int is_http_request(const Petri__Audit__V1__NetConnection *c)
{
	return c && c->protocol == PETRI__AUDIT__V1__NET_CONNECTION__PROTOCOL__PROTOCOL_HTTP &&
	       c->http_method && *c->http_method;
}

/* OCSF mapping: class, category and activity of an event. */
struct ocsf {
	int class_uid;
	const char *class_name;
	int category_uid;
	const char *category_name;
	int activity_id;
	const char *activity_name;
};

/* HTTP Activity's activity for @method (OCSF 1.1.0 names eight methods;
 * any other, PATCH included, is 99 Other). */
static void http_activity(const char *method, struct ocsf *o)
{
	static const char *const methods[] = {NULL,      "CONNECT", "DELETE", "GET",  "HEAD",
					      "OPTIONS", "POST",    "PUT",    "TRACE"};
	static const char *const names[] = {NULL,      "Connect", "Delete", "Get",  "Head",
					    "Options", "Post",    "Put",    "Trace"};
	o->activity_id = 99;
	o->activity_name = "Other";
	for (size_t i = 1; i < ARRAY_SIZE(methods); i++) {
		if (strcmp(method, methods[i]) == 0) {
			o->activity_id = (int)i;
			o->activity_name = names[i];
		}
	}
}

static struct ocsf ocsf_of(const petri_pb_event *ev)
{
	struct ocsf o = {0, "Base Event", 0, "Uncategorized", 99, "Other"};
	static const struct ocsf proc = {1007, "Process Activity", 1, "System Activity", 0, NULL};
	static const struct ocsf file = {1001, "File System Activity", 1, "System Activity", 0,
					 NULL};
	static const struct ocsf net = {4001, "Network Activity", 4, "Network Activity", 0, NULL};
	static const struct ocsf app = {6002, "Application Lifecycle", 6, "Application Activity", 0,
					NULL};
	switch (ev->body_case) {
	case PETRI__AUDIT__V1__EVENT__BODY_PROCESS_EXEC:
	case PETRI__AUDIT__V1__EVENT__BODY_PROCESS_FORK:
	case PETRI__AUDIT__V1__EVENT__BODY_EXEC_STARTED:
		o = proc;
		o.activity_id = 1;
		o.activity_name = "Launch";
		break;
	case PETRI__AUDIT__V1__EVENT__BODY_PROCESS_EXIT:
	case PETRI__AUDIT__V1__EVENT__BODY_EXEC_ENDED:
		o = proc;
		o.activity_id = 2;
		o.activity_name = "Terminate";
		break;
	case PETRI__AUDIT__V1__EVENT__BODY_SANDBOX_CREATED:
		o = app;
		o.activity_id = 3;
		o.activity_name = "Start";
		break;
	case PETRI__AUDIT__V1__EVENT__BODY_SANDBOX_DESTROYED:
		o = app;
		o.activity_id = 4;
		o.activity_name = "Stop";
		break;
	case PETRI__AUDIT__V1__EVENT__BODY_FILE_ACTIVITY: {
		/* clang-format off */
		static const struct { int id; const char *name; } acts[] = {
			{99, "Other"}, {14, "Open"}, {1, "Create"}, {4, "Delete"}, {5, "Rename"},
			{1, "Create"}, {4, "Delete"}, {7, "Set Security"}, {7, "Set Security"},
			{3, "Update"}, {1, "Create"}, {1, "Create"}, {1, "Create"},
			{6, "Set Attributes"},
		};
		/* clang-format on */
		unsigned op = ev->file_activity ? (unsigned)ev->file_activity->op : 0;
		o = file;
		o.activity_id = acts[op < ARRAY_SIZE(acts) ? op : 0].id;
		o.activity_name = acts[op < ARRAY_SIZE(acts) ? op : 0].name;
		break;
	}
	case PETRI__AUDIT__V1__EVENT__BODY_NETWORK_ACTIVITY: {
		/* clang-format off */
		static const struct { int id; const char *name; } acts[] = {
			{99, "Other"}, {1, "Open"}, {99, "Bind"}, {7, "Listen"}, {1, "Open"},
			{6, "Traffic"}, {6, "Traffic"},
		};
		/* clang-format on */
		unsigned op = ev->network_activity ? (unsigned)ev->network_activity->op : 0;
		o = net;
		o.activity_id = acts[op < ARRAY_SIZE(acts) ? op : 0].id;
		o.activity_name = acts[op < ARRAY_SIZE(acts) ? op : 0].name;
		if (ev->network_activity && ev->network_activity->denied) {
			o.activity_id = 5;
			o.activity_name = "Refuse";
		}
		break;
	}
	case PETRI__AUDIT__V1__EVENT__BODY_NET_CONNECTION: {
		const Petri__Audit__V1__NetConnection *c = ev->net_connection;
		if (is_http_request(c)) {
			static const struct ocsf http = {
				4002, "HTTP Activity", 4, "Network Activity", 0, NULL};
			o = http;
			http_activity(c->http_method, &o);
		} else {
			o = net;
			o.activity_id = c && c->decision == NET_DENIED ? 5 : 1;
			o.activity_name = o.activity_id == 5 ? "Refuse" : "Open";
		}
		break;
	}
	case PETRI__AUDIT__V1__EVENT__BODY_DNS_QUERY: {
		/* One exchange: the query and the answer it got. */
		static const struct ocsf dns = {4003, "DNS Activity", 4, "Network Activity",
						6,    "Traffic"};
		o = dns;
		break;
	}
	case PETRI__AUDIT__V1__EVENT__BODY_SECRET_USE: {
		/* A request the proxy sent with the secret in it: an HTTP
		 * request (over the TLS it terminated); the secret's name in
		 * enrichments (json_secret_use). */
		static const struct ocsf http = {4002, "HTTP Activity", 4, "Network Activity", 0,
						 NULL};
		o = http;
		http_activity(ev->secret_use && ev->secret_use->http_method ?
				      ev->secret_use->http_method :
				      "",
			      &o);
		break;
	}
	case PETRI__AUDIT__V1__EVENT__BODY_SECRET_MISUSE: {
		/* Not activity but a finding: code tried to move a secret
		 * where it may not go (a prompt-injected model exfiltrating,
		 * typically), which the proxy refused. */
		static const struct ocsf finding = {2004,    "Detection Finding", 2, "Findings", 1,
						    "Create"};
		o = finding;
		break;
	}
	case PETRI__AUDIT__V1__EVENT__BODY_POLICY_DENIAL:
		if (ev->policy_denial &&
		    ev->policy_denial->kind ==
			    PETRI__AUDIT__V1__POLICY_DENIAL__KIND__KIND_NETWORK) {
			o = net;
			o.activity_id = 5;
			o.activity_name = "Refuse";
		} else {
			o.activity_name = "Policy Denial";
		}
		break;
	default:
		break;
	}
	return o;
}

/* {"pid":..,"name":..,"file":{"path":..},"user":{"uid":".."},
 *  "parent_process":{"pid":..}} */
static json_object *json_process(struct jb *j, const Petri__Audit__V1__Process *p)
{
	char uid[16];
	json_object *o = jcheck(j, json_object_new_object());
	json_object *file = jcheck(j, json_object_new_object());
	json_object *user = jcheck(j, json_object_new_object());
	json_object *parent = jcheck(j, json_object_new_object());
	snprintf(uid, sizeof(uid), "%" PRIu32, p->uid);
	jset(j, o, "pid", jcheck(j, json_object_new_int64(p->pid_host)));
	jset(j, o, "name", jstr(j, p->comm));
	jset(j, file, "path", jstr(j, p->executable));
	jset(j, o, "file", file);
	jset(j, user, "uid", jcheck(j, json_object_new_string(uid)));
	jset(j, o, "user", user);
	jset(j, parent, "pid", jcheck(j, json_object_new_int64(p->ppid)));
	jset(j, o, "parent_process", parent);
	return o;
}

/* {"ip":@ip,"port":@port} */
static json_object *json_endpoint(struct jb *j, const char *ip, uint32_t port)
{
	json_object *o = jcheck(j, json_object_new_object());
	jset(j, o, "ip", jstr(j, ip));
	jset(j, o, "port", jcheck(j, json_object_new_int64(port)));
	return o;
}

/* src_endpoint/dst_endpoint and connection_info of a network event. */
static void json_network(struct jb *j, json_object *root,
			 const Petri__Audit__V1__NetworkActivity *n)
{
	const char *t = n->address_text ? n->address_text : "";
	const char *lt = n->local_address_text ? n->local_address_text : "";
	/* OCSF: src is the initiator, dst the responder.  An accepted
	 * connection came from the peer (src) to our socket (dst). */
	int accept = n->op == PETRI__AUDIT__V1__NETWORK_ACTIVITY__OP__OP_ACCEPT;
	int inbound = accept || n->op == PETRI__AUDIT__V1__NETWORK_ACTIVITY__OP__OP_LISTEN;
	int outbound = n->op == PETRI__AUDIT__V1__NETWORK_ACTIVITY__OP__OP_CONNECT ||
		       n->op == PETRI__AUDIT__V1__NETWORK_ACTIVITY__OP__OP_SENDTO ||
		       n->op == PETRI__AUDIT__V1__NETWORK_ACTIVITY__OP__OP_SENDMSG;
	if (accept) {
		if (*t) /* a failed accept has no peer */
			jset(j, root, "src_endpoint", json_endpoint(j, t, n->port));
		jset(j, root, "dst_endpoint", json_endpoint(j, lt, n->local_port));
	} else {
		jset(j, root, "dst_endpoint", json_endpoint(j, t, n->port));
	}
	json_object *ci = jcheck(j, json_object_new_object());
	jset(j, ci, "protocol_num", jcheck(j, json_object_new_int64(n->protocol)));
	if (inbound || outbound) {
		jset(j, ci, "direction_id", jcheck(j, json_object_new_int(inbound ? 1 : 2)));
		jset(j, ci, "direction",
		     jcheck(j, json_object_new_string(inbound ? "Inbound" : "Outbound")));
	}
	jset(j, root, "connection_info", ci);
}

/* connection_info of the proxy's events: outbound, TCP or UDP. */
static json_object *json_conn_info(struct jb *j, int udp)
{
	json_object *ci = jcheck(j, json_object_new_object());
	jset(j, ci, "protocol_num", jcheck(j, json_object_new_int(udp ? 17 : 6)));
	jset(j, ci, "protocol_name", jcheck(j, json_object_new_string(udp ? "udp" : "tcp")));
	jset(j, ci, "direction_id", jcheck(j, json_object_new_int(2)));
	jset(j, ci, "direction", jcheck(j, json_object_new_string("Outbound")));
	return ci;
}

/* The OCSF fields of a NetConnection (Network or HTTP Activity): the
 * upstream as dst_endpoint (the name asked for, the address dialled),
 * traffic, the time span, TLS's SNI, and for a plain HTTP request its
 * method and URL and the status the proxy answered itself. */
static void json_net_connection(struct jb *j, json_object *root,
				const Petri__Audit__V1__NetConnection *c, uint64_t end_ns)
{
	json_object *dst = jcheck(j, json_object_new_object());
	jset(j, dst, "hostname", jstr(j, c->name));
	if (c->address && *c->address)
		jset(j, dst, "ip", jstr(j, c->address));
	jset(j, dst, "port", jcheck(j, json_object_new_int64(c->port)));
	jset(j, root, "dst_endpoint", dst);
	jset(j, root, "connection_info", json_conn_info(j, 0));

	json_object *tr = jcheck(j, json_object_new_object());
	jset(j, tr, "bytes_out", jcheck(j, json_object_new_uint64(c->bytes_up)));
	jset(j, tr, "bytes_in", jcheck(j, json_object_new_uint64(c->bytes_down)));
	uint64_t sum = c->bytes_up + c->bytes_down;
	if (sum < c->bytes_up) /* (saturated rather than wrapped) */
		sum = UINT64_MAX;
	jset(j, tr, "bytes", jcheck(j, json_object_new_uint64(sum)));
	jset(j, root, "traffic", tr);

	if (c->start_time_unix_nano) {
		jset(j, root, "start_time",
		     jcheck(j, json_object_new_uint64(c->start_time_unix_nano / 1000000u)));
		jset(j, root, "end_time",
		     jcheck(j, json_object_new_uint64((c->start_time_unix_nano + c->duration_ns) /
						      1000000u)));
	} else {
		jset(j, root, "end_time", jcheck(j, json_object_new_uint64(end_ns / 1000000u)));
	}
	jset(j, root, "duration", jcheck(j, json_object_new_uint64(c->duration_ns / 1000000u)));
	jset(j, root, "status_detail", jstr(j, c->reason));
	if (c->upstream_errno) {
		const char *name = strerrorname_np(c->upstream_errno);
		char num[16];
		snprintf(num, sizeof(num), "%" PRId32, c->upstream_errno);
		jset(j, root, "status_code", jcheck(j, json_object_new_string(name ? name : num)));
	}
	if (c->protocol == PETRI__AUDIT__V1__NET_CONNECTION__PROTOCOL__PROTOCOL_TLS &&
	    c->sni_or_host && *c->sni_or_host) {
		json_object *tls = jcheck(j, json_object_new_object());
		jset(j, tls, "sni", jstr(j, c->sni_or_host));
		jset(j, root, "tls", tls);
	}
	if (!is_http_request(c))
		return;
	/* The URL of the request: the name the policy judged (the absolute
	 * URI's host, or the name behind the synthetic address, which the
	 * Host header had to match), its port and the origin-form path. */
	const char *host = c->name && *c->name ? c->name : c->sni_or_host ? c->sni_or_host : "";
	const char *path = c->http_path ? c->http_path : "";
	json_object *req = jcheck(j, json_object_new_object());
	json_object *url = jcheck(j, json_object_new_object());
	jset(j, req, "http_method", jstr(j, c->http_method));
	jset(j, url, "scheme", jcheck(j, json_object_new_string("http")));
	jset(j, url, "hostname", jstr(j, host));
	jset(j, url, "port", jcheck(j, json_object_new_int64(c->port)));
	jset(j, url, "path", jstr(j, path));
	size_t cap = strlen(host) + strlen(path) + 32;
	char *text = malloc(cap);
	if (text) {
		if (c->port && c->port != 80)
			snprintf(text, cap, "http://%s:%" PRIu32 "%s", host, c->port, path);
		else
			snprintf(text, cap, "http://%s%s", host, path);
		jset(j, url, "url_string", jstr(j, text));
		free(text);
	} else {
		j->oom = 1;
	}
	jset(j, req, "url", url);
	jset(j, root, "http_request", req);
	if (c->http_status) {
		json_object *resp = jcheck(j, json_object_new_object());
		jset(j, resp, "code", jcheck(j, json_object_new_int64(c->http_status)));
		jset(j, root, "http_response", resp);
	}
}

/* A DNS type's mnemonic ("A", "AAAA"), or RFC 3597's "TYPE65" into @buf. */
static const char *dns_type_name(uint32_t t, char buf[16])
{
	static const struct {
		uint32_t t;
		const char *name;
	} types[] = {{1, "A"},    {2, "NS"},     {5, "CNAME"},   {6, "SOA"},   {12, "PTR"},
		     {15, "MX"},  {16, "TXT"},   {28, "AAAA"},   {33, "SRV"},  {35, "NAPTR"},
		     {43, "DS"},  {46, "RRSIG"}, {48, "DNSKEY"}, {64, "SVCB"}, {65, "HTTPS"},
		     {99, "SPF"}, {252, "AXFR"}, {255, "ANY"},   {257, "CAA"}};
	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if (types[i].t == t)
			return types[i].name;
	snprintf(buf, 16, "TYPE%" PRIu32, t);
	return buf;
}

/* The OCSF fields of a DnsQuery (DNS Activity): query, rcode, answers. */
static void json_dns_query(struct jb *j, json_object *root, const Petri__Audit__V1__DnsQuery *d)
{
	/* OCSF's rcode_id names 0..11 and 16..23; others are 99 Other. */
	static const char *const rcodes[] = {"NoError",     "FormError", "ServError", "NXDomain",
					     "NotImp",      "Refused",   "YXDomain",  "YXRRSet",
					     "NXRRSet",     "NotAuth",   "NotZone",   "DSOTYPENI",
					     NULL,          NULL,        NULL,        NULL,
					     "BADSIG_VERS", "BADKEY",    "BADTIME",   "BADMODE",
					     "BADNAME",     "BADALG",    "BADTRUNC",  "BADCOOKIE"};
	char tbuf[16];
	const char *type = dns_type_name(d->qtype, tbuf);
	int known = d->rcode < ARRAY_SIZE(rcodes) && rcodes[d->rcode];

	json_object *q = jcheck(j, json_object_new_object());
	jset(j, q, "hostname", jstr(j, d->qname));
	jset(j, q, "type", jcheck(j, json_object_new_string(type)));
	jset(j, q, "class", jcheck(j, json_object_new_string("IN")));
	jset(j, root, "query", q);
	jset(j, root, "rcode_id", jcheck(j, json_object_new_int64(known ? d->rcode : 99)));
	jset(j, root, "rcode",
	     jcheck(j, json_object_new_string(known ? rcodes[d->rcode] : "Other")));
	json_object *answers = jcheck(j, json_object_new_array());
	if (d->answer_address && *d->answer_address) {
		json_object *a = jcheck(j, json_object_new_object());
		jset(j, a, "rdata", jstr(j, d->answer_address));
		jset(j, a, "type", jcheck(j, json_object_new_string("A")));
		jset(j, a, "class", jcheck(j, json_object_new_string("IN")));
		jpush(j, answers, a);
	}
	jset(j, root, "answers", answers);
	jset(j, root, "connection_info",
	     json_conn_info(j,
			    d->transport == PETRI__AUDIT__V1__DNS_QUERY__TRANSPORT__TRANSPORT_UDP));
	jset(j, root, "status_detail", jstr(j, d->reason));
}

/* The name of a SecretMisuse kind ("host", "plain_http", ...). */
static const char *misuse_kind_name(int kind)
{
	static const char *const names[] = {"unspecified", "host",   "plain_http", "foreign",
					    "dns",         "unsafe", "too_large"};
	return kind >= 0 && (size_t)kind < ARRAY_SIZE(names) ? names[kind] : "unknown";
}

/* OCSF HTTP Activity fields of a SecretUse: the request (method and URL
 * as the code sent them, with the placeholder), the upstream, and the
 * secret's name as an enrichment (OCSF has no field for it). */
static void json_secret_use(struct jb *j, json_object *root, const Petri__Audit__V1__SecretUse *u)
{
	const char *host = u->host && *u->host ? u->host : u->destination ? u->destination : "";
	const char *path = u->http_path ? u->http_path : "";
	json_object *dst = jcheck(j, json_object_new_object());
	jset(j, dst, "hostname", jstr(j, host));
	if (u->port)
		jset(j, dst, "port", jcheck(j, json_object_new_int64(u->port)));
	jset(j, root, "dst_endpoint", dst);
	if (u->http_method && *u->http_method) {
		json_object *req = jcheck(j, json_object_new_object());
		json_object *url = jcheck(j, json_object_new_object());
		jset(j, req, "http_method", jstr(j, u->http_method));
		jset(j, url, "scheme", jcheck(j, json_object_new_string("https")));
		jset(j, url, "hostname", jstr(j, host));
		jset(j, url, "port", jcheck(j, json_object_new_int64(u->port)));
		jset(j, url, "path", jstr(j, path));
		size_t cap = strlen(host) + strlen(path) + 32;
		char *text = malloc(cap);
		if (text) {
			if (u->port && u->port != 443)
				snprintf(text, cap, "https://%s:%" PRIu32 "%s", host, u->port,
					 path);
			else
				snprintf(text, cap, "https://%s%s", host, path);
			jset(j, url, "url_string", jstr(j, text));
			free(text);
		} else {
			j->oom = 1;
		}
		jset(j, req, "url", url);
		jset(j, root, "http_request", req);
	}
	json_object *en = jcheck(j, json_object_new_object());
	json_object *data = jcheck(j, json_object_new_object());
	jset(j, en, "name", jcheck(j, json_object_new_string("secret")));
	jset(j, en, "value", jstr(j, u->name));
	jset(j, en, "type", jcheck(j, json_object_new_string("petri.vault.secret")));
	jset(j, data, "destination", jstr(j, u->destination));
	jset(j, en, "data", data);
	json_object *ens = jcheck(j, json_object_new_array());
	jpush(j, ens, en);
	jset(j, root, "enrichments", ens);
}

/* OCSF Detection Finding fields of a SecretMisuse: what was found (the
 * kind, the secret's name), where it was going, and that it was blocked. */
static void json_secret_misuse(struct jb *j, json_object *root,
			       const Petri__Audit__V1__SecretMisuse *m, const char *uid)
{
	const char *kind = misuse_kind_name((int)m->kind);
	char title[160];
	snprintf(title, sizeof(title), "secret placeholder refused: %s%s%s", kind,
		 m->name && *m->name ? " " : "", m->name && *m->name ? m->name : "");
	json_object *fi = jcheck(j, json_object_new_object());
	jset(j, fi, "uid", jstr(j, uid));
	jset(j, fi, "title", jstr(j, title));
	jset(j, fi, "desc", jstr(j, m->detail));
	json_object *types = jcheck(j, json_object_new_array());
	char type[64];
	snprintf(type, sizeof(type), "petri.vault.misuse.%s", kind);
	jpush(j, types, jstr(j, type));
	jset(j, fi, "types", types);
	jset(j, root, "finding_info", fi);
	json_object *dst = jcheck(j, json_object_new_object());
	jset(j, dst, "hostname", jstr(j, m->host));
	if (m->port)
		jset(j, dst, "port", jcheck(j, json_object_new_int64(m->port)));
	jset(j, root, "dst_endpoint", dst);
	jset(j, root, "action_id", jcheck(j, json_object_new_int(2)));
	jset(j, root, "action", jcheck(j, json_object_new_string("Denied")));
	jset(j, root, "disposition_id", jcheck(j, json_object_new_int(2)));
	jset(j, root, "disposition", jcheck(j, json_object_new_string("Blocked")));
	jset(j, root, "status_detail", jstr(j, m->where));
	json_object *en = jcheck(j, json_object_new_object());
	jset(j, en, "name", jcheck(j, json_object_new_string("secret")));
	jset(j, en, "value", jstr(j, m->name));
	jset(j, en, "type", jcheck(j, json_object_new_string("petri.vault.secret")));
	json_object *ens = jcheck(j, json_object_new_array());
	jpush(j, ens, en);
	jset(j, root, "enrichments", ens);
}

static int status_failed(const petri_pb_event *ev)
{
	switch (ev->body_case) {
	case PETRI__AUDIT__V1__EVENT__BODY_FILE_ACTIVITY:
		return ev->file_activity && ev->file_activity->result < 0;
	case PETRI__AUDIT__V1__EVENT__BODY_NETWORK_ACTIVITY:
		return ev->network_activity &&
		       (ev->network_activity->result < 0 || ev->network_activity->denied);
	case PETRI__AUDIT__V1__EVENT__BODY_POLICY_DENIAL:
		return 1;
	case PETRI__AUDIT__V1__EVENT__BODY_NET_CONNECTION:
		/* refused, the upstream failed, or the proxy answered an error */
		return ev->net_connection && (ev->net_connection->decision != NET_ALLOWED ||
					      ev->net_connection->upstream_errno != 0 ||
					      ev->net_connection->http_status >= 400);
	case PETRI__AUDIT__V1__EVENT__BODY_DNS_QUERY:
		return ev->dns_query &&
		       (ev->dns_query->decision != NET_ALLOWED || ev->dns_query->rcode != 0);
	case PETRI__AUDIT__V1__EVENT__BODY_EXEC_ENDED:
		/* the exec could not run */
		return ev->exec_ended && ev->exec_ended->result && ev->exec_ended->result->reason &&
		       strcmp(ev->exec_ended->result->reason, "failed") == 0;
	default:
		return 0;
	}
}

/* The event as one OCSF-style object (audit/README.md "JSON"); the record
 * @rec (@len bytes) ends with the event's hash, its metadata.uid. */
static json_object *json_event(struct jb *j, const petri_pb_event *ev, const uint8_t *rec,
			       size_t len)
{
	struct ocsf o = ocsf_of(ev);
	char t[48];
	json_object *root = jcheck(j, json_object_new_object());

	jset(j, root, "class_uid", jcheck(j, json_object_new_int(o.class_uid)));
	jset(j, root, "class_name", jcheck(j, json_object_new_string(o.class_name)));
	jset(j, root, "category_uid", jcheck(j, json_object_new_int(o.category_uid)));
	jset(j, root, "category_name", jcheck(j, json_object_new_string(o.category_name)));
	jset(j, root, "activity_id", jcheck(j, json_object_new_int(o.activity_id)));
	jset(j, root, "activity_name", jcheck(j, json_object_new_string(o.activity_name)));
	jset(j, root, "type_uid",
	     jcheck(j, json_object_new_int(o.class_uid * 100 + o.activity_id)));
	/* Loss: Medium; a secret sent where it may not go: High; else Informational. */
	jset(j, root, "severity_id",
	     jcheck(j, json_object_new_int(
			       ev->body_case == PETRI__AUDIT__V1__EVENT__BODY_LOSS          ? 3 :
			       ev->body_case == PETRI__AUDIT__V1__EVENT__BODY_SECRET_MISUSE ? 4 :
											      1)));
	jset(j, root, "status_id", jcheck(j, json_object_new_int(status_failed(ev) ? 2 : 1)));
	jset(j, root, "time", jcheck(j, json_object_new_uint64(ev->time_unix_nano / 1000000u)));
	iso_time(t, ev->time_unix_nano);
	jset(j, root, "time_dt", jcheck(j, json_object_new_string(t)));

	json_object *md = jcheck(j, json_object_new_object());
	json_object *product = jcheck(j, json_object_new_object());
	jset(j, md, "version", jcheck(j, json_object_new_string("1.1.0")));
	jset(j, md, "sequence", jcheck(j, json_object_new_uint64(ev->seq)));
	jset(j, md, "log_name", jcheck(j, json_object_new_string("petri.audit.v1")));
	jset(j, product, "name", jcheck(j, json_object_new_string("libpetri")));
	jset(j, product, "vendor_name", jcheck(j, json_object_new_string("petri")));
	jset(j, product, "version", jcheck(j, json_object_new_string(petri_version())));
	jset(j, md, "product", product);
	jset(j, md, "uid",
	     len >= PETRI_SHA256_LEN ? jhex(j, rec + len - PETRI_SHA256_LEN, PETRI_SHA256_LEN) :
				       jstr(j, ""));
	jset(j, root, "metadata", md);

	if (ev->process) {
		json_object *actor = jcheck(j, json_object_new_object());
		jset(j, actor, "process", json_process(j, ev->process));
		jset(j, root, "actor", actor);
	}
	if (ev->body_case == PETRI__AUDIT__V1__EVENT__BODY_FILE_ACTIVITY && ev->file_activity) {
		json_object *file = jcheck(j, json_object_new_object());
		jset(j, file, "path", jstr(j, ev->file_activity->path));
		jset(j, root, "file", file);
	}
	if (ev->body_case == PETRI__AUDIT__V1__EVENT__BODY_NETWORK_ACTIVITY && ev->network_activity)
		json_network(j, root, ev->network_activity);
	if (ev->body_case == PETRI__AUDIT__V1__EVENT__BODY_NET_CONNECTION && ev->net_connection)
		json_net_connection(j, root, ev->net_connection, ev->time_unix_nano);
	if (ev->body_case == PETRI__AUDIT__V1__EVENT__BODY_DNS_QUERY && ev->dns_query)
		json_dns_query(j, root, ev->dns_query);
	if (ev->body_case == PETRI__AUDIT__V1__EVENT__BODY_SECRET_USE && ev->secret_use)
		json_secret_use(j, root, ev->secret_use);
	if (ev->body_case == PETRI__AUDIT__V1__EVENT__BODY_SECRET_MISUSE && ev->secret_misuse) {
		json_object *uid = NULL;
		json_object_object_get_ex(md, "uid", &uid);
		json_secret_misuse(j, root, ev->secret_misuse,
				   uid ? json_object_get_string(uid) : "");
	}

	/* The petri event itself, every field. */
	json_object *petri = jcheck(j, json_object_new_object());
	jset(j, petri, "kind",
	     jcheck(j, json_object_new_string(petri_audit_kind_name((int)ev->body_case))));
	jset(j, petri, "seq", jcheck(j, json_object_new_uint64(ev->seq)));
	jset(j, petri, "time_unix_nano", jcheck(j, json_object_new_uint64(ev->time_unix_nano)));
	jset(j, petri, "sandbox_id", jstr(j, ev->sandbox_id));
	jset(j, petri, "exec_id", jstr(j, ev->exec_id));
	if (ev->process)
		jset(j, petri, "process", json_message(j, &ev->process->base));
	jset(j, petri, "prev_hash", jhex(j, ev->prev_hash.data, ev->prev_hash.len));
	jset(j, petri, "hash", jhex(j, ev->hash.data, ev->hash.len));
	const ProtobufCMessage *body = body_of(ev);
	if (body)
		jset(j, petri, petri_audit_kind_name((int)ev->body_case), json_message(j, body));
	json_object *unmapped = jcheck(j, json_object_new_object());
	jset(j, unmapped, "petri", petri);
	jset(j, root, "unmapped", unmapped);
	return root;
}

/* The JSON text of @ev (malloc'd), or NULL when out of memory. */
static char *format_json(const petri_pb_event *ev, const uint8_t *rec, size_t len)
{
	struct jb j = {0};
	json_object *root = json_event(&j, ev, rec, len);
	char *out = NULL;
	if (root && !j.oom) {
		const char *s = json_object_to_json_string_ext(
			root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		out = s ? strdup(s) : NULL;
	}
	json_object_put(root);
	return out;
}

PETRI_API int petri_audit_reader_format(const petri_audit_reader *r, uint32_t format, char **out,
					petri_error **err)
{
	if (!r || !r->ev || !out)
		return petri__err(err, EINVAL, "audit format: no current event");
	if (format != PETRI_AUDIT_FORMAT_TEXT && format != PETRI_AUDIT_FORMAT_JSON)
		return petri__err(err, EINVAL, "audit format: unknown format %u", format);
	if (format == PETRI_AUDIT_FORMAT_JSON) {
		char *s = format_json(r->ev, r->ev_buf, r->ev_len);
		if (!s)
			return petri__err(err, ENOMEM, "audit format");
		*out = s;
		return 0;
	}
	struct buf b = {0};
	format_text(&b, r->ev);
	if (b.oom || !b.p) {
		free(b.p);
		return petri__err(err, ENOMEM, "audit format");
	}
	*out = b.p;
	return 0;
}
