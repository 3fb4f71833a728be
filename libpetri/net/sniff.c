/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sniff.c - what a sandbox's client says first, read without trusting it.
 *
 *  - HTTP/1.x request streams: http-parser finds where each head and body
 *    ends (Content-Length, chunked, pipelining, CONNECT and upgrades); each
 *    complete head is then read again here, line by line and strictly.  A
 *    proxy is where request smuggling happens: anything two HTTP
 *    implementations could read differently (a lone CR or LF, obs-fold, a
 *    space before the colon, two Host headers, Content-Length with
 *    Transfer-Encoding, control characters) is refused rather than guessed.
 *  - The rewrite of a head for the origin server (origin-form target,
 *    hop-by-hop headers dropped, "Connection: close").
 *  - What a connection's first bytes are (TLS, HTTP or neither).
 *  - The server name of a TLS ClientHello: the record and handshake
 *    headers are read here as bytes come, and once the declared hello is
 *    all there OpenSSL reads the records and the hello (a server SSL
 *    object on a memory BIO, stopped in its client_hello callback); we
 *    read the one extension.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include <http_parser.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "net.h"

/* The longest head a stream buffers (request line through the empty line). */
#define HEAD_MAX (64 * 1024)

/* ---- reading a complete head ------------------------------------------- */

/* Output with a bound: what does not fit is cut and remembered. */
struct sink {
	char *p;
	size_t cap, len;
	int cut;
};

static void put(struct sink *o, const char *s, size_t n)
{
	size_t room = o->cap - o->len;
	if (n > room) {
		n = room;
		o->cut = 1;
	}
	if (n == 0) /* o->p may be NULL (cap 0) */
		return;
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void puts_(struct sink *o, const char *s)
{
	put(o, s, strlen(s));
}

static int is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int ieq(const char *a, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(a, lit, n) == 0;
}

/*
 * The next line of @raw (@len bytes) from *@off: *@line and *@n (without
 * its CRLF), *@off moved past it.  Every line ends in CRLF: a lone CR or LF
 * is -EINVAL (servers split such heads differently).
 */
static int next_line(const char *raw, size_t len, size_t *off, const char **line, size_t *n)
{
	const char *start = raw + *off;
	const char *lf = memchr(start, '\n', len - *off);

	if (!lf || lf == start || lf[-1] != '\r')
		return -EINVAL;
	if (memchr(start, '\r', (size_t)(lf - 1 - start)))
		return -EINVAL;
	*line = start;
	*n = (size_t)(lf - 1 - start);
	*off = (size_t)(lf + 1 - raw);
	return 0;
}

enum {
	FORM_ORIGIN,
	FORM_ASTERISK,
	FORM_ABSOLUTE,
	FORM_AUTHORITY
};

/* A head's request line and target, pointing into the raw head. */
struct head_view {
	const char *method, *target, *version;
	size_t method_n, target_n, version_n;
	int form;         /* FORM_* */
	const char *host; /* of the target (absolute or authority form) */
	size_t host_n;
	uint16_t port;            /* of the target, 0: none given */
	const char *path, *query; /* absolute form; NULL: none */
	size_t path_n, query_n;
	size_t headers; /* offset of the first header line */
};

/* "METHOD SP target SP HTTP/1.x": one space each, nothing else. */
static int parse_request_line(const char *l, size_t n, struct head_view *v)
{
	const char *sp1 = memchr(l, ' ', n), *sp2, *end = l + n;
	size_t i;

	if (!sp1 || sp1 == l)
		return -EINVAL;
	v->method = l;
	v->method_n = (size_t)(sp1 - l);
	for (i = 0; i < v->method_n; i++)
		if (!is_tchar((unsigned char)l[i]))
			return -EINVAL;
	v->target = sp1 + 1;
	sp2 = memchr(v->target, ' ', (size_t)(end - v->target));
	if (!sp2 || sp2 == v->target)
		return -EINVAL;
	v->target_n = (size_t)(sp2 - v->target);
	for (i = 0; i < v->target_n; i++) {
		unsigned char c = (unsigned char)v->target[i];
		if (c <= ' ' || c == 0x7f)
			return -EINVAL;
	}
	v->version = sp2 + 1;
	v->version_n = (size_t)(end - v->version);
	if (v->version_n != 8 || memcmp(v->version, "HTTP/1.", 7) != 0 ||
	    (v->version[7] != '0' && v->version[7] != '1'))
		return -EINVAL;
	return 0;
}

/* "name: value" (OWS around the value trimmed).  A name must be a token:
 * no space before the colon, and no obs-fold (a line starting with SP). */
static int split_header(const char *l, size_t n, const char **name, size_t *name_n,
			const char **value, size_t *value_n)
{
	const char *colon = memchr(l, ':', n), *v, *e = l + n;
	size_t i;

	if (!colon || colon == l)
		return -EINVAL;
	for (i = 0; i < (size_t)(colon - l); i++)
		if (!is_tchar((unsigned char)l[i]))
			return -EINVAL;
	for (v = colon + 1; v < e; v++) {
		unsigned char c = (unsigned char)*v;
		if ((c < ' ' && c != '\t') || c == 0x7f)
			return -EINVAL;
	}
	v = colon + 1;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*name = l;
	*name_n = (size_t)(colon - l);
	*value = v;
	*value_n = (size_t)(e - v);
	return 0;
}

/* @n bytes of decimal digits as a port, 1..65535. */
static int parse_port(const char *s, size_t n, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || n > 5)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static int copy_host(char dst[PETRI_NET_HOST_MAX], const char *s, size_t n)
{
	if (n >= PETRI_NET_HOST_MAX)
		return -EINVAL;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* A Host header's value: "name", "name:port", "[v6]" or "[v6]:port";
 * an empty value is allowed (no host), an unbracketed IPv6 is not. */
static int parse_host_header(const char *v, size_t n, char host[PETRI_NET_HOST_MAX], uint16_t *port)
{
	const char *h = v, *colon;
	size_t hn = n;

	*port = 0;
	if (n && v[0] == '[') {
		const char *rb = memchr(v, ']', n);
		if (!rb || rb == v + 1)
			return -EINVAL;
		h = v + 1;
		hn = (size_t)(rb - h);
		/* Brackets are for an IPv6 address, not for a name.  The head
		 * is not NUL-terminated: every scan is bounded by hn. */
		if (!memchr(h, ':', hn))
			return -EINVAL;
		for (size_t i = 0; i < hn; i++)
			if (!isxdigit((unsigned char)h[i]) && h[i] != ':' && h[i] != '.')
				return -EINVAL;
		if (rb + 1 < v + n) {
			if (rb[1] != ':')
				return -EINVAL;
			if (parse_port(rb + 2, (size_t)(v + n - rb - 2), port) < 0)
				return -EINVAL;
		}
	} else if ((colon = memchr(v, ':', n))) {
		if (colon == v || memchr(colon + 1, ':', (size_t)(v + n - colon - 1)))
			return -EINVAL;
		hn = (size_t)(colon - v);
		if (parse_port(colon + 1, (size_t)(v + n - colon - 1), port) < 0)
			return -EINVAL;
	}
	return copy_host(host, h, hn);
}

/* The request target: origin form "/p?q", "*" (OPTIONS), authority form
 * "host:port" (CONNECT only) or absolute form "http://host[:port][/p][?q]". */
static int parse_target(struct head_view *v, int connect)
{
	struct http_parser_url u;

	if (connect) {
		http_parser_url_init(&u);
		if (http_parser_parse_url(v->target, v->target_n, 1, &u) != 0 ||
		    !(u.field_set & (1 << UF_HOST)) || !(u.field_set & (1 << UF_PORT)) ||
		    u.port == 0)
			return -EINVAL;
		v->form = FORM_AUTHORITY;
		v->host = v->target + u.field_data[UF_HOST].off;
		v->host_n = u.field_data[UF_HOST].len;
		v->port = u.port;
		return v->host_n ? 0 : -EINVAL;
	}
	if (v->target[0] == '/') {
		v->form = FORM_ORIGIN;
		return 0;
	}
	if (v->target_n == 1 && v->target[0] == '*') {
		v->form = FORM_ASTERISK;
		return ieq(v->method, v->method_n, "OPTIONS") ? 0 : -EINVAL;
	}
	http_parser_url_init(&u);
	if (http_parser_parse_url(v->target, v->target_n, 0, &u) != 0 ||
	    !(u.field_set & (1 << UF_SCHEMA)) || !(u.field_set & (1 << UF_HOST)) ||
	    !ieq(v->target + u.field_data[UF_SCHEMA].off, u.field_data[UF_SCHEMA].len, "http") ||
	    u.field_data[UF_HOST].len == 0)
		return -EINVAL;
	v->form = FORM_ABSOLUTE;
	v->host = v->target + u.field_data[UF_HOST].off;
	v->host_n = u.field_data[UF_HOST].len;
	if (u.field_set & (1 << UF_PORT)) {
		if (u.port == 0)
			return -EINVAL;
		v->port = u.port;
	}
	if (u.field_set & (1 << UF_PATH)) {
		v->path = v->target + u.field_data[UF_PATH].off;
		v->path_n = u.field_data[UF_PATH].len;
	}
	if (u.field_set & (1 << UF_QUERY)) {
		v->query = v->target + u.field_data[UF_QUERY].off;
		v->query_n = u.field_data[UF_QUERY].len;
	}
	return 0;
}

/* The target in origin form ("/" for an absolute URL without a path). */
static void put_origin_target(struct sink *o, const struct head_view *v)
{
	if (v->form != FORM_ABSOLUTE) {
		put(o, v->target, v->target_n);
		return;
	}
	if (v->path)
		put(o, v->path, v->path_n);
	else
		puts_(o, "/");
	if (v->query) {
		puts_(o, "?");
		put(o, v->query, v->query_n);
	}
}

/* Does the Upgrade value @v (@n bytes: "proto[/version], ...") name a
 * version of HTTP 2 (h2c, h2, HTTP/2.0)? */
static int names_http2(const char *v, size_t n)
{
	const char *p = v, *e = v + n;

	while (p < e) {
		const char *comma = memchr(p, ',', (size_t)(e - p)), *te = comma ? comma : e;
		while (p < te && (*p == ' ' || *p == '\t'))
			p++;
		if ((te - p >= 2 && strncasecmp(p, "h2", 2) == 0) ||
		    (te - p >= 6 && strncasecmp(p, "http/2", 6) == 0))
			return 1;
		p = comma ? comma + 1 : e;
	}
	return 0;
}

/*
 * Read the complete head @raw (@len bytes, ending in the empty line) into
 * @h and @v.  0 or -EINVAL.  h->upgrade is left 0: whether the stream
 * turns into another protocol is the framing parser's call.
 */
static int analyse_head(const char *raw, size_t len, struct petri_http_head *h, struct head_view *v)
{
	const char *line, *name, *value;
	size_t off = 0, n, name_n, value_n;
	int hosts = 0, lengths = 0, codings = 0, r;
	struct sink path;

	memset(h, 0, sizeof(*h));
	memset(v, 0, sizeof(*v));
	if ((r = next_line(raw, len, &off, &line, &n)) < 0 ||
	    (r = parse_request_line(line, n, v)) < 0)
		return r;
	if (v->method_n >= sizeof(h->method))
		return -EINVAL;
	memcpy(h->method, v->method, v->method_n);
	h->connect = ieq(v->method, v->method_n, "CONNECT");
	v->headers = off;
	for (;;) {
		if ((r = next_line(raw, len, &off, &line, &n)) < 0)
			return r;
		if (n == 0)
			break;
		if ((r = split_header(line, n, &name, &name_n, &value, &value_n)) < 0)
			return r;
		if (ieq(name, name_n, "host")) {
			/* Two Host headers: which one a server believes is how
			 * requests get past a check on the other. */
			if (++hosts > 1)
				return -EINVAL;
			h->has_host_header = 1;
			r = parse_host_header(value, value_n, h->host_header, &h->host_header_port);
			if (r < 0)
				return r;
		} else if (ieq(name, name_n, "content-length")) {
			lengths++;
		} else if (ieq(name, name_n, "transfer-encoding")) {
			codings++;
		} else if (ieq(name, name_n, "upgrade")) {
			h->upgrade_h2 |= names_http2(value, value_n);
		}
	}
	if (off != len)
		return -EINVAL;
	/* Two lengths, or a length and a coding: the framing is ambiguous. */
	if (lengths > 1 || (lengths && codings))
		return -EINVAL;
	if ((r = parse_target(v, h->connect)) < 0)
		return r;
	if (v->form == FORM_ABSOLUTE || v->form == FORM_AUTHORITY) {
		h->absolute = v->form == FORM_ABSOLUTE;
		if ((r = copy_host(h->host, v->host, v->host_n)) < 0)
			return r;
		h->port = v->port;
	} else {
		memcpy(h->host, h->host_header, sizeof(h->host));
		h->port = h->host_header_port;
	}
	if (v->form != FORM_AUTHORITY) {
		path = (struct sink){h->path, sizeof(h->path) - 1, 0, 0};
		put_origin_target(&path, v);
		h->path[path.len] = '\0';
		h->path_truncated = path.cut;
	}
	h->head_len = len;
	return 0;
}

/* ---- the request stream ------------------------------------------------- */

enum {
	MODE_HEAD,
	MODE_BODY,
	MODE_UPGRADE, /* after an upgrade head: held until the server's answer */
	MODE_TUNNEL
};

/*
 * The chunked framing of a body, checked strictly as it passes (RFC 9112
 * 7.1): http-parser takes any two bytes for the CRLF after chunk data
 * ("5\r\nhelloXX0\r\n\r\n") and whitespace before a chunk extension,
 * which a server behind the proxy may read differently (smuggling).
 */
enum {
	CK_SIZE0,    /* the first hex digit of a chunk size */
	CK_SIZE,     /* more digits, ';' or CR */
	CK_EXT,      /* a chunk extension, up to CR */
	CK_SIZE_LF,  /* the LF after the size line */
	CK_DATA,     /* chunk data: left bytes */
	CK_DATA_CR,  /* the CR after chunk data */
	CK_DATA_LF,  /* its LF */
	CK_TRAILER0, /* the start of a trailer line, or the final CR */
	CK_TRAILER,  /* a trailer line, up to CR */
	CK_TRAILER_LF,
	CK_END_LF, /* the final LF */
	CK_DONE
};

struct chunk_check {
	int st;
	unsigned digits;
	uint64_t size, left;
};

static int hexval(unsigned char c)
{
	return c >= '0' && c <= '9' ? c - '0' :
	       c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 :
				      -1;
}

/* Check @len bytes of a chunked body: *@ok the bytes that are right (up to
 * the end of the message, CK_DONE, or the first wrong one).  0, or -EINVAL
 * at the wrong byte. */
static int chunk_check(struct chunk_check *k, const char *data, size_t len, size_t *ok)
{
	size_t i = 0;

	while (i < len && k->st != CK_DONE) {
		unsigned char c = (unsigned char)data[i];
		int h;

		switch (k->st) {
		case CK_SIZE0:
		case CK_SIZE:
			if ((h = hexval(c)) >= 0) {
				if (++k->digits > 15) /* 2^60: far past any byte budget */
					goto bad;
				k->size = k->size << 4 | (uint64_t)h;
				k->st = CK_SIZE;
			} else if (k->st == CK_SIZE && c == ';') {
				k->st = CK_EXT;
			} else if (k->st == CK_SIZE && c == '\r') {
				k->st = CK_SIZE_LF;
			} else {
				goto bad;
			}
			break;
		case CK_EXT:
			if (c == '\r')
				k->st = CK_SIZE_LF;
			else if ((c < ' ' && c != '\t') || c == 0x7f)
				goto bad;
			break;
		case CK_SIZE_LF:
			if (c != '\n')
				goto bad;
			k->st = k->size ? CK_DATA : CK_TRAILER0;
			k->left = k->size;
			k->size = 0;
			k->digits = 0;
			break;
		case CK_DATA: {
			size_t take = len - i < k->left ? len - i : (size_t)k->left;
			k->left -= take;
			i += take;
			if (!k->left)
				k->st = CK_DATA_CR;
			continue;
		}
		case CK_DATA_CR:
			if (c != '\r')
				goto bad;
			k->st = CK_DATA_LF;
			break;
		case CK_DATA_LF:
			if (c != '\n')
				goto bad;
			k->st = CK_SIZE0;
			break;
		case CK_TRAILER0:
			k->st = c == '\r' ? CK_END_LF : CK_TRAILER;
			if (c == '\n')
				goto bad;
			break;
		case CK_TRAILER:
			if (c == '\r')
				k->st = CK_TRAILER_LF;
			else if (c == '\n')
				goto bad;
			break;
		case CK_TRAILER_LF:
		case CK_END_LF:
			if (c != '\n')
				goto bad;
			k->st = k->st == CK_END_LF ? CK_DONE : CK_TRAILER0;
			break;
		}
		i++;
	}
	*ok = i;
	return 0;
bad:
	*ok = i;
	return -EINVAL;
}

struct petri_http_stream {
	http_parser parser;
	int mode;      /* MODE_*: what the next byte is part of */
	int err;       /* once a feed failed or was stopped, every later one returns it */
	int head_done; /* on_headers_complete ran (and paused the parser) */
	int msg_done;  /* on_message_complete ran (and paused the parser) */
	char *buf;     /* the head so far, or (MODE_UPGRADE) the bytes held: buf[0..len) */
	size_t len, cap;
	struct petri_http_head head;
	int chunked; /* the body being read is chunked: ck checks its framing */
	struct chunk_check ck;
};

/* The parser stops at the end of each head and each message: the bytes
 * before are one thing (head or body), the bytes after another. */
static int on_headers_complete(http_parser *p)
{
	struct petri_http_stream *s = p->data;

	if (s->mode != MODE_HEAD)
		return -1; /* not a head: an error */
	s->head_done = 1;
	http_parser_pause(p, 1);
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct petri_http_stream *s = p->data;

	s->msg_done = 1;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings parser_settings = {
	.on_headers_complete = on_headers_complete,
	.on_message_complete = on_message_complete,
};

struct petri_http_stream *petri__http_stream_new(void)
{
	struct petri_http_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	http_parser_init(&s->parser, HTTP_REQUEST);
	s->parser.data = s;
	return s;
}

void petri__http_stream_free(struct petri_http_stream *s)
{
	if (!s)
		return;
	free(s->buf);
	free(s);
}

static int parser_failed(const http_parser *p)
{
	return HTTP_PARSER_ERRNO(p) == HPE_HEADER_OVERFLOW ? -E2BIG : -EINVAL;
}

static int head_reserve(struct petri_http_stream *s, size_t need)
{
	size_t cap = s->cap ? s->cap : 1024;
	char *b;

	if (need <= s->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if (cap > HEAD_MAX)
		cap = HEAD_MAX;
	if (!(b = realloc(s->buf, cap)))
		return -ENOMEM;
	s->buf = b;
	s->cap = cap;
	return 0;
}

/* Bytes of a head: buffered until the empty line, then read and handed to
 * @on_head.  *@used: how many of @data this took. */
static int feed_head(struct petri_http_stream *s, const char *data, size_t len, size_t *used,
		     petri_http_head_fn on_head, void *arg)
{
	size_t k, n, skip = 0, head_len;
	int r;

	*used = 0;
	if (s->len == 0) {
		/* Empty lines before a request line are ignored (RFC 9112
		 * 2.2), as the parser does: they are in neither a head nor
		 * a body, and not forwarded. */
		while (skip < len && (data[skip] == '\r' || data[skip] == '\n'))
			skip++;
		*used = skip;
		if (skip == len)
			return 0;
		data += skip;
		len -= skip;
	}
	if (s->len >= HEAD_MAX)
		return -E2BIG;
	k = len < HEAD_MAX - s->len ? len : HEAD_MAX - s->len;
	if ((r = head_reserve(s, s->len + k)) < 0)
		return r;
	memcpy(s->buf + s->len, data, k);
	n = http_parser_execute(&s->parser, &parser_settings, s->buf + s->len, k);
	if (!s->head_done) {
		if (HTTP_PARSER_ERRNO(&s->parser) != HPE_OK || n != k)
			return parser_failed(&s->parser);
		s->len += k;
		*used += k;
		return 0;
	}
	/* Paused at the head's last byte, the LF of the empty line. */
	if (HTTP_PARSER_ERRNO(&s->parser) != HPE_PAUSED || n >= k || s->buf[s->len + n] != '\n')
		return -EINVAL;
	head_len = s->len + n + 1;
	s->head_done = 0;
	http_parser_pause(&s->parser, 0);
	/* That LF once more, unpaused: the parser decides what follows (the
	 * next head, a body, or another protocol). */
	n = http_parser_execute(&s->parser, &parser_settings, s->buf + head_len - 1, 1);
	if (n != 1 || (HTTP_PARSER_ERRNO(&s->parser) != HPE_OK &&
		       HTTP_PARSER_ERRNO(&s->parser) != HPE_PAUSED))
		return parser_failed(&s->parser);
	if ((r = analyse_head(s->buf, head_len, &s->head, &(struct head_view){0})) < 0)
		return r;
	if (s->parser.upgrade && s->head.connect) {
		s->mode = MODE_TUNNEL;
	} else if (s->parser.upgrade) {
		/* Another protocol only if the server agrees (101): until it
		 * says, later bytes are held (petri__http_stream_upgrade).  An
		 * upgrade with a body: when would the other protocol begin? */
		if (!s->msg_done)
			return -EINVAL;
		s->head.upgrade = 1;
		s->mode = MODE_UPGRADE;
	} else if (s->msg_done) {
		s->mode = MODE_HEAD;
	} else {
		s->mode = MODE_BODY;
		s->chunked = (s->parser.flags & F_CHUNKED) != 0;
		memset(&s->ck, 0, sizeof(s->ck));
	}
	if (s->msg_done) {
		s->msg_done = 0;
		http_parser_pause(&s->parser, 0);
	}
	*used += head_len - s->len;
	s->len = 0;
	r = on_head(arg, &s->head, s->buf, head_len);
	if (s->mode == MODE_TUNNEL) {
		free(s->buf); /* no more heads */
		s->buf = NULL;
		s->cap = 0;
	}
	return r;
}

/* Bytes after an upgrade head, before the server's answer: held (in buf,
 * free since the head went out), HEAD_MAX at most. */
static int feed_held(struct petri_http_stream *s, const char *data, size_t len, size_t *used)
{
	int r;

	if (len > HEAD_MAX - s->len)
		return -E2BIG;
	if ((r = head_reserve(s, s->len + len)) < 0)
		return r;
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	*used = len;
	return 0;
}

/* Bytes of a body (raw, chunk framing and all) up to the end of its message. */
static int feed_body(struct petri_http_stream *s, const char *data, size_t len, size_t *used,
		     petri_http_data_fn on_data, void *arg)
{
	size_t ok = len, n;
	int bad = s->chunked && chunk_check(&s->ck, data, len, &ok) < 0;

	if (ok == 0) /* (no bytes is EOF to http-parser) */
		return -EINVAL;
	/* The parser reads no further than the framing was found right: up
	 * to a wrong byte, or the end of the chunked message. */
	n = http_parser_execute(&s->parser, &parser_settings, data, ok);
	enum http_errno e = HTTP_PARSER_ERRNO(&s->parser);

	if (bad && (e == HPE_OK || e == HPE_PAUSED) && n == ok && !s->msg_done) {
		int r = n ? on_data(arg, data, n) : 0;
		return r ? r : -EINVAL;
	}
	/* The framing ended the message where the parser did not: they
	 * disagree, which is what smuggling needs. */
	if (s->chunked && s->ck.st == CK_DONE && !s->msg_done && e == HPE_OK) {
		int r = n ? on_data(arg, data, n) : 0;
		return r ? r : -EINVAL;
	}
	if (s->msg_done && e == HPE_PAUSED && n > 0) {
		s->msg_done = 0;
		http_parser_pause(&s->parser, 0);
		s->mode = MODE_HEAD;
	} else if (e != HPE_OK || n != len) {
		/* The bytes before the bad one were body, however the stream
		 * was cut into feeds: they go out, then the error. */
		int r = n && n < len ? on_data(arg, data, n) : 0;
		return r ? r : parser_failed(&s->parser);
	}
	*used = n;
	return on_data(arg, data, n);
}

int petri__http_stream_feed(struct petri_http_stream *s, const char *data, size_t len,
			    petri_http_head_fn on_head, petri_http_data_fn on_data, void *arg)
{
	if (!s || (!data && len) || !on_head || !on_data)
		return -EINVAL;
	if (s->err)
		return s->err;
	while (len > 0) {
		size_t used = 0;
		int r;

		if (s->mode == MODE_HEAD) {
			r = feed_head(s, data, len, &used, on_head, arg);
		} else if (s->mode == MODE_BODY) {
			r = feed_body(s, data, len, &used, on_data, arg);
		} else if (s->mode == MODE_UPGRADE) {
			r = feed_held(s, data, len, &used);
		} else {
			used = len;
			r = on_data(arg, data, len);
		}
		if (r) {
			s->err = r;
			return r;
		}
		data += used;
		len -= used;
	}
	return 0;
}

int petri__http_stream_upgrade(struct petri_http_stream *s, int accepted,
			       petri_http_head_fn on_head, petri_http_data_fn on_data, void *arg)
{
	char *held;
	size_t n;
	int r;

	if (!s || !on_head || !on_data)
		return -EINVAL;
	if (s->err)
		return s->err;
	if (s->mode != MODE_UPGRADE)
		return -EINVAL;
	held = s->buf;
	n = s->len;
	s->buf = NULL;
	s->len = s->cap = 0;
	if (accepted) {
		s->mode = MODE_TUNNEL;
		r = n ? on_data(arg, held, n) : 0;
		if (r)
			s->err = r;
	} else {
		/* Requests again, from a parser that forgot the upgrade. */
		http_parser_init(&s->parser, HTTP_REQUEST);
		s->parser.data = s;
		s->mode = MODE_HEAD;
		r = petri__http_stream_feed(s, held, n, on_head, on_data, arg);
	}
	free(held);
	return r;
}

/* ---- responses (intercepted connections, proxy.c) ---------------------- */

struct petri_http_resp {
	http_parser parser;
	int err;
	int in_body;   /* between a head and the end of its message */
	int head_done; /* on_headers_complete ran (and paused the parser) */
	int msg_done;  /* on_message_complete ran (and paused the parser) */
	char *buf;     /* the head so far: buf[0..len) */
	size_t len, cap;
	struct petri_http_resp_head head;
	petri_http_data_fn on_body; /* of the feed under way */
	void *arg;
	int body_err; /* on_body's non-zero return */
};

static int resp_headers_complete(http_parser *p)
{
	struct petri_http_resp *r = p->data;

	r->head_done = 1;
	http_parser_pause(p, 1);
	return 0;
}

static int resp_message_complete(http_parser *p)
{
	struct petri_http_resp *r = p->data;

	r->msg_done = 1;
	http_parser_pause(p, 1);
	return 0;
}

static int resp_body(http_parser *p, const char *at, size_t n)
{
	struct petri_http_resp *r = p->data;
	int e = r->on_body ? r->on_body(r->arg, at, n) : 0;

	if (e) {
		r->body_err = e;
		return -1;
	}
	return 0;
}

static const http_parser_settings resp_settings = {
	.on_headers_complete = resp_headers_complete,
	.on_message_complete = resp_message_complete,
	.on_body = resp_body,
};

struct petri_http_resp *petri__http_resp_new(void)
{
	struct petri_http_resp *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	http_parser_init(&r->parser, HTTP_RESPONSE);
	r->parser.data = r;
	return r;
}

void petri__http_resp_free(struct petri_http_resp *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r);
}

/* Is every coding in the list @v (@n bytes) chunked or identity? */
static int te_plain(const char *v, size_t n)
{
	const char *end = v + n;

	while (v < end) {
		const char *c = memchr(v, ',', (size_t)(end - v));
		const char *a = v, *z = c ? c : end;
		while (a < z && (*a == ' ' || *a == '\t'))
			a++;
		while (z > a && (z[-1] == ' ' || z[-1] == '\t' || z[-1] == '\r'))
			z--;
		if (z > a && !ieq(a, (size_t)(z - a), "chunked") &&
		    !ieq(a, (size_t)(z - a), "identity"))
			return 0;
		v = c ? c + 1 : end;
	}
	return 1;
}

/* What the head says that http-parser does not keep: a payload the
 * scrubber could not read, i.e. a Content-Encoding other than identity,
 * a transfer-coding other than chunked ("Transfer-Encoding: gzip,
 * chunked": http-parser de-chunks it, the gzip stays), or a folded line
 * (obs-fold: "Content-Encoding:" with its value on the next line, which
 * clients may still read as one).  (Its lines are CRLF or LF ended: a
 * server's.) */
static void resp_analyse(const char *raw, size_t len, struct petri_http_resp_head *h)
{
	static const char ce[] = "content-encoding:", te[] = "transfer-encoding:";
	const char *p = memchr(raw, '\n', len), *end = raw + len;

	while (p && ++p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((lf ? lf : end) - p);
		if (n > 0 && (*p == ' ' || *p == '\t'))
			h->encoded = 1; /* obs-fold */
		if (n >= sizeof(te) - 1 && strncasecmp(p, te, sizeof(te) - 1) == 0 &&
		    !te_plain(p + sizeof(te) - 1, n - (sizeof(te) - 1)))
			h->encoded = 1;
		if (n >= sizeof(ce) - 1 && strncasecmp(p, ce, sizeof(ce) - 1) == 0) {
			const char *v = p + sizeof(ce) - 1, *ve = p + n;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			if (!ieq(v, (size_t)(ve - v), "identity") && ve > v)
				h->encoded = 1;
		}
		p = lf;
	}
}

static int resp_failed(struct petri_http_resp *r)
{
	if (r->body_err)
		return r->body_err;
	return HTTP_PARSER_ERRNO(&r->parser) == HPE_HEADER_OVERFLOW ? -E2BIG : -EINVAL;
}

static int resp_feed_head(struct petri_http_resp *r, const char *data, size_t len, size_t *used,
			  petri_http_resp_head_fn on_head, petri_http_resp_end_fn on_end)
{
	size_t k, n, head_len;
	int e;

	*used = 0;
	if (r->len >= HEAD_MAX)
		return -E2BIG;
	k = len < HEAD_MAX - r->len ? len : HEAD_MAX - r->len;
	if (r->len + k > r->cap) {
		size_t cap = r->cap ? r->cap : 1024;
		char *b;
		while (cap < r->len + k)
			cap *= 2;
		if (cap > HEAD_MAX)
			cap = HEAD_MAX;
		if (!(b = realloc(r->buf, cap)))
			return -ENOMEM;
		r->buf = b;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, data, k);
	n = http_parser_execute(&r->parser, &resp_settings, r->buf + r->len, k);
	if (!r->head_done) {
		if (HTTP_PARSER_ERRNO(&r->parser) != HPE_OK || n != k)
			return resp_failed(r);
		r->len += k;
		*used = k;
		return 0;
	}
	/* Paused at the head's last byte, the LF of the empty line. */
	if (HTTP_PARSER_ERRNO(&r->parser) != HPE_PAUSED || n >= k || r->buf[r->len + n] != '\n')
		return -EINVAL;
	head_len = r->len + n + 1;
	r->head_done = 0;
	memset(&r->head, 0, sizeof(r->head));
	r->head.status = r->parser.status_code;
	r->head.chunked = (r->parser.flags & F_CHUNKED) != 0;
	r->head.keep_alive = http_should_keep_alive(&r->parser);
	r->head.head_len = head_len;
	resp_analyse(r->buf, head_len, &r->head);
	if (r->head.status == 101)
		return -EPROTO; /* no upgrade was asked for */
	e = on_head(r->arg, &r->head, r->buf, head_len);
	if (e < 0)
		return e;
	if (e == 1 || r->head.status < 200 || r->head.status == 204 || r->head.status == 304) {
		r->head.no_body = 1;
		r->head.chunked = 0;
		r->parser.flags |= F_SKIPBODY;
	}
	http_parser_pause(&r->parser, 0);
	/* That LF once more, unpaused: the parser decides on the body. */
	n = http_parser_execute(&r->parser, &resp_settings, r->buf + head_len - 1, 1);
	if (n != 1 || (HTTP_PARSER_ERRNO(&r->parser) != HPE_OK &&
		       HTTP_PARSER_ERRNO(&r->parser) != HPE_PAUSED))
		return resp_failed(r);
	*used = head_len - r->len;
	r->len = 0;
	if (r->msg_done) {
		r->msg_done = 0;
		http_parser_pause(&r->parser, 0);
		return on_end(r->arg, &r->head);
	}
	r->in_body = 1;
	return 0;
}

static int resp_feed_body(struct petri_http_resp *r, const char *data, size_t len, size_t *used,
			  petri_http_resp_end_fn on_end)
{
	size_t n = http_parser_execute(&r->parser, &resp_settings, data, len);
	enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);

	if (r->msg_done && e == HPE_PAUSED) {
		/* (Paused on the message's last byte, which was taken.) */
		r->msg_done = 0;
		r->in_body = 0;
		http_parser_pause(&r->parser, 0);
		*used = n;
		return on_end(r->arg, &r->head);
	}
	if (e != HPE_OK || n != len)
		return resp_failed(r);
	*used = n;
	return 0;
}

int petri__http_resp_feed(struct petri_http_resp *r, const char *data, size_t len,
			  petri_http_resp_head_fn on_head, petri_http_data_fn on_body,
			  petri_http_resp_end_fn on_end, void *arg)
{
	if (!r || (!data && len) || !on_head || !on_body || !on_end)
		return -EINVAL;
	if (r->err)
		return r->err;
	r->on_body = on_body;
	r->arg = arg;
	while (len > 0) {
		size_t used = 0;
		int e = r->in_body ? resp_feed_body(r, data, len, &used, on_end) :
				     resp_feed_head(r, data, len, &used, on_head, on_end);
		if (e) {
			r->err = e;
			return e;
		}
		data += used;
		len -= used;
	}
	return 0;
}

int petri__http_resp_eof(struct petri_http_resp *r, petri_http_data_fn on_body,
			 petri_http_resp_end_fn on_end, void *arg)
{
	if (!r || !on_body || !on_end)
		return -EINVAL;
	if (r->err)
		return r->err;
	if (!r->in_body)
		return r->len ? (r->err = -EPIPE) : 0;
	r->on_body = on_body;
	r->arg = arg;
	http_parser_execute(&r->parser, &resp_settings, NULL, 0);
	if (r->msg_done) {
		r->msg_done = 0;
		r->in_body = 0;
		return on_end(arg, &r->head);
	}
	return r->err = -EPIPE;
}

/* ---- the head for the origin server ------------------------------------ */

#define CONN_TOKENS_MAX 32

/* The tokens of every Connection header: the headers they name are
 * hop-by-hop too (RFC 9110 7.6.1).  -EINVAL beyond CONN_TOKENS_MAX. */
static int connection_tokens(const char *raw, size_t len, size_t off, const char **tok,
			     size_t *tok_n, size_t *ntok)
{
	const char *line, *name, *value;
	size_t n, name_n, value_n;

	*ntok = 0;
	while (next_line(raw, len, &off, &line, &n) == 0 && n > 0) {
		const char *p, *e;
		if (split_header(line, n, &name, &name_n, &value, &value_n) < 0)
			return -EINVAL;
		if (!ieq(name, name_n, "connection"))
			continue;
		for (p = value, e = value + value_n; p < e;) {
			const char *comma = memchr(p, ',', (size_t)(e - p));
			const char *t = p, *te = comma ? comma : e;
			while (t < te && (*t == ' ' || *t == '\t'))
				t++;
			while (te > t && (te[-1] == ' ' || te[-1] == '\t'))
				te--;
			if (te > t) {
				if (*ntok == CONN_TOKENS_MAX)
					return -EINVAL;
				tok[*ntok] = t;
				tok_n[(*ntok)++] = (size_t)(te - t);
			}
			p = comma ? comma + 1 : e;
		}
	}
	return 0;
}

/* Is the header @name not for the origin server? */
static int hop_by_hop(const char *name, size_t n, int absolute, int upgrade, const char **tok,
		      const size_t *tok_n, size_t ntok)
{
	size_t i;

	if (ieq(name, n, "proxy-connection") || ieq(name, n, "proxy-authorization") ||
	    ieq(name, n, "connection") || ieq(name, n, "keep-alive"))
		return 1;
	/* For an absolute URL the Host header is the URL's (written first). */
	if (ieq(name, n, "host"))
		return absolute;
	/* The framing is never dropped (the body follows as it came), nor an
	 * upgrade's Upgrade header. */
	if (ieq(name, n, "content-length") || ieq(name, n, "transfer-encoding") ||
	    (upgrade && ieq(name, n, "upgrade")))
		return 0;
	for (i = 0; i < ntok; i++)
		if (tok_n[i] == n && strncasecmp(tok[i], name, n) == 0)
			return 1;
	return 0;
}

ssize_t petri__http_head_to_origin(const struct petri_http_head *h, const char *raw, size_t len,
				   char *out, size_t cap)
{
	struct petri_http_head chk;
	struct head_view v;
	const char *tok[CONN_TOKENS_MAX], *line, *name, *value;
	size_t tok_n[CONN_TOKENS_MAX], ntok, off, n, name_n, value_n;
	struct sink o = {out, cap, 0, 0};
	int absolute, r;

	if (!h || !raw || (!out && cap))
		return -EINVAL;
	if ((r = analyse_head(raw, len, &chk, &v)) < 0)
		return r;
	if (chk.connect)
		return -EINVAL;
	absolute = v.form == FORM_ABSOLUTE;
	if ((r = connection_tokens(raw, len, v.headers, tok, tok_n, &ntok)) < 0)
		return r;

	put(&o, v.method, v.method_n);
	puts_(&o, " ");
	put_origin_target(&o, &v);
	puts_(&o, " ");
	put(&o, v.version, v.version_n);
	puts_(&o, "\r\n");
	if (absolute) {
		char port[8];
		int v6 = memchr(v.host, ':', v.host_n) != NULL;
		puts_(&o, v6 ? "Host: [" : "Host: ");
		put(&o, v.host, v.host_n);
		if (v6)
			puts_(&o, "]");
		if (v.port && v.port != 80) {
			snprintf(port, sizeof(port), ":%u", v.port);
			puts_(&o, port);
		}
		puts_(&o, "\r\n");
	}
	off = v.headers;
	while (next_line(raw, len, &off, &line, &n) == 0 && n > 0) {
		if (split_header(line, n, &name, &name_n, &value, &value_n) < 0)
			return -EINVAL;
		if (hop_by_hop(name, name_n, absolute, h->upgrade, tok, tok_n, ntok))
			continue;
		put(&o, line, n);
		puts_(&o, "\r\n");
	}
	puts_(&o, h->upgrade ? "Connection: upgrade\r\n\r\n" : "Connection: close\r\n\r\n");
	return o.cut ? -ENOSPC : (ssize_t)o.len;
}

/* ---- what the first bytes are ------------------------------------------ */

/* Empty-line bytes (CR, LF) a client may send before its first request line
 * for the sniffer to look past; beyond them it answers "HTTP" and the
 * request stream (which drops them) judges what follows. */
#define SNIFF_CRLF_MAX 32

/* Is @l (@n bytes, one line without its LF) "token SP-or-HTAB ..." with an
 * HTTP version after a later space, or one of the common methods (so
 * "GET target", HTTP/0.9, too)?  Any
 * method token counts (RFC 9110 9.1: methods are extensible), and an
 * unexpected version ("PRI * HTTP/2.0") too: the request stream refuses
 * what is not HTTP/1.x, but it is judged, never passed on unread. */
static int looks_like_request_line(const uint8_t *l, size_t n, size_t tok)
{
	static const char *const methods[] = {"GET",     "POST",  "PUT",   "HEAD",   "DELETE",
					      "OPTIONS", "PATCH", "TRACE", "CONNECT"};
	size_t i;

	/* The common methods need not wait for the rest of the line. */
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strlen(methods[i]) == tok && memcmp(l, methods[i], tok) == 0)
			return 1;

	for (i = tok; i + 5 <= n; i++)
		if ((l[i - 1] == ' ' || l[i - 1] == '\t') &&
		    strncasecmp((const char *)l + i, "HTTP/", 5) == 0)
			return 1;
	return 0;
}

int petri__net_sniff_kind(const uint8_t *p, size_t n)
{
	const uint8_t *l, *lf;
	size_t skip = 0, tok = 0, ln;

	if (!p && n)
		return -EINVAL;
	if (n == 0)
		return -EAGAIN;
	if (p[0] == 0x16) /* a handshake record of TLS 1.x (SSL 3: 0x03 0x00) */
		return n < 2 ? -EAGAIN : p[1] == 0x03 ? PETRI_NET_PROTO_TLS : 0;
	/* Empty lines before a request line are skipped by servers (RFC 9112
	 * 2.2): so here too. */
	while (skip < n && (p[skip] == '\r' || p[skip] == '\n'))
		if (++skip > SNIFF_CRLF_MAX)
			return PETRI_NET_PROTO_HTTP;
	if (skip == n)
		return -EAGAIN;
	l = p + skip;
	ln = n - skip;
	while (tok < ln && is_tchar(l[tok]))
		tok++;
	if (tok == 0)
		return 0; /* no method: not a request line */
	if (tok == ln)
		return ln >= HEAD_MAX ? PETRI_NET_PROTO_HTTP : -EAGAIN;
	if (l[tok] != ' ' && l[tok] != '\t')
		return 0; /* a token not followed by a space: not a method */
	/* The rest of the first line says: an HTTP version after a space. */
	lf = memchr(l, '\n', ln);
	if (lf)
		return looks_like_request_line(l, (size_t)(lf - l), tok) ? PETRI_NET_PROTO_HTTP : 0;
	if (looks_like_request_line(l, ln, tok))
		return PETRI_NET_PROTO_HTTP;
	/* No end of line yet: a request line may still come, up to the
	 * longest head a stream takes; past it, judged (and refused). */
	return ln >= HEAD_MAX ? PETRI_NET_PROTO_HTTP : -EAGAIN;
}

/* ---- the TLS ClientHello's server name --------------------------------- */

/*
 * The ClientHello is read as its bytes come (RFC 8446 5.1 and 4): records
 * of type handshake, 1..2^14 bytes each, whose bodies carry the hello's
 * 4-byte header (type 1, a 24-bit length) and then its body.  Only the
 * headers are looked at until the declared hello is all there; OpenSSL
 * reads it once, then.  (Running OpenSSL on the whole buffer at every
 * read was quadratic: a client trickling a huge hello stalled the
 * proxy's thread.)
 */
#define TLS_RECORD_MAX 16384 /* a plaintext record's body (RFC 8446 5.1) */
/* The whole hello, header included: real ones are under 2 KiB (Chrome's
 * with a post-quantum key share about 1.8 KB). */
#define TLS_HELLO_MAX (16 * 1024)
/* Record bytes read for one hello: its records, their headers included
 * (a hello cut into tiny records stops here). */
#define TLS_STREAM_MAX (64 * 1024)

struct sni_probe {
	int called; /* the hello callback ran: the hello was read */
	int rc;     /* then: 1, 0 or -EINVAL */
	char name[PETRI_NET_HOST_MAX];
};

/* The server_name extension's body (RFC 6066 3): a list of (type, name);
 * the one host_name entry, normalised.  1, 0 (no host_name) or -EINVAL. */
static int sni_from_ext(const unsigned char *e, size_t n, char out[PETRI_NET_HOST_MAX])
{
	const unsigned char *name = NULL;
	size_t off, name_n = 0;
	struct petri_net_addr addr;

	if (n < 2 || ((size_t)e[0] << 8 | e[1]) != n - 2 || n == 2)
		return -EINVAL;
	for (off = 2; off < n;) {
		size_t len;
		unsigned type;
		if (n - off < 3)
			return -EINVAL;
		type = e[off];
		len = (size_t)e[off + 1] << 8 | e[off + 2];
		off += 3;
		if (len > n - off)
			return -EINVAL;
		if (type == TLSEXT_NAMETYPE_host_name) {
			if (name) /* which one would the server use? */
				return -EINVAL;
			name = e + off;
			name_n = len;
		}
		off += len;
	}
	if (!name)
		return 0;
	if (petri__net_host_norm((const char *)name, name_n, out, &addr) < 0)
		return -EINVAL;
	return 1;
}

/* Runs once OpenSSL has read the whole ClientHello: take the name and
 * suspend the handshake (no error, no alert). */
static int sni_hello_cb(SSL *ssl, int *alert, void *arg)
{
	struct sni_probe *pr = SSL_get_app_data(ssl);
	const unsigned char *ext;
	size_t n;

	pr->called = 1;
	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &n))
		pr->rc = sni_from_ext(ext, n, pr->name);
	else
		pr->rc = 0;
	return SSL_CLIENT_HELLO_RETRY;
}

static SSL_CTX *sni_ctx;
static pthread_once_t sni_once = PTHREAD_ONCE_INIT;

static void sni_ctx_init(void)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());

	if (!c)
		return;
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_client_hello_cb(c, sni_hello_cb, NULL);
	sni_ctx = c; /* for the process's life */
}

/* Read the record and handshake headers in p[st->off..n): 0 when the
 * declared hello is all there (st->off: the end of its last record),
 * -EAGAIN or -EINVAL. */
static int hello_scan(struct petri_tls_scan *st, const uint8_t *p, size_t n)
{
	while (!st->need || st->hs_seen < st->need) {
		if (st->rec_left == 0) {
			const uint8_t *h = p + st->off;
			size_t len;
			if (n - st->off < 5)
				return -EAGAIN;
			len = (size_t)h[3] << 8 | h[4];
			/* Handshake records only, never empty (5.1: no
			 * zero-length handshake fragments), none too long. */
			if (h[0] != 0x16 || h[1] != 0x03 || len == 0 || len > TLS_RECORD_MAX ||
			    st->off + 5 + len > TLS_STREAM_MAX)
				return -EINVAL;
			st->off += 5;
			st->rec_left = len;
		}
		size_t k = n - st->off < st->rec_left ? n - st->off : st->rec_left, i = 0;
		if (k == 0)
			return -EAGAIN;
		while (i < k && st->hs_seen < 4)
			st->hs[st->hs_seen++] = p[st->off + i++];
		st->hs_seen += k - i;
		st->off += k;
		st->rec_left -= k;
		if (!st->need && st->hs_seen >= 4) {
			size_t body = (size_t)st->hs[1] << 16 | (size_t)st->hs[2] << 8 | st->hs[3];
			if (st->hs[0] != 1 /* client_hello */ || 4 + body > TLS_HELLO_MAX)
				return -EINVAL;
			st->need = 4 + body;
		}
	}
	return 0;
}

/* OpenSSL reads the complete hello in p[0..n). */
static int hello_read(const uint8_t *p, size_t n, char sni[PETRI_NET_HOST_MAX])
{
	struct sni_probe pr = {0};
	SSL *ssl = NULL;
	BIO *rb = NULL, *wb = NULL;
	int r;

	pthread_once(&sni_once, sni_ctx_init);
	if (!sni_ctx)
		return -ENOMEM;
	ERR_set_mark(); /* leave the thread's OpenSSL error queue as it was */
	ssl = SSL_new(sni_ctx);
	rb = BIO_new_mem_buf(p, (int)n);
	wb = BIO_new(BIO_s_null()); /* an alert, if OpenSSL sends one, goes nowhere */
	if (!ssl || !rb || !wb) {
		BIO_free(rb);
		BIO_free(wb);
		r = -ENOMEM;
		goto out;
	}
	BIO_set_mem_eof_return(rb, -1);
	SSL_set_bio(ssl, rb, wb);
	SSL_set_app_data(ssl, &pr);
	(void)SSL_accept(ssl);
	/* The whole hello was there: anything but the callback is a refusal. */
	r = pr.called ? pr.rc : -EINVAL;
out:
	SSL_free(ssl);
	ERR_pop_to_mark();
	if (r == 1)
		memcpy(sni, pr.name, PETRI_NET_HOST_MAX);
	else if (r == 0)
		sni[0] = '\0';
	return r;
}

int petri__net_tls_sni_scan(struct petri_tls_scan *st, const uint8_t *p, size_t n,
			    char sni[PETRI_NET_HOST_MAX])
{
	int r;

	if (!st || (!p && n) || !sni || n < st->off)
		return -EINVAL;
	if (st->spent)
		return -EINVAL;
	r = hello_scan(st, p, n);
	if (r == 0) {
		st->openssl_calls++;
		r = hello_read(p, st->off, sni);
	}
	if (r != -EAGAIN)
		st->spent = 1;
	return r;
}

int petri__net_tls_sni(const uint8_t *p, size_t n, char sni[PETRI_NET_HOST_MAX])
{
	struct petri_tls_scan st = {0};

	return petri__net_tls_sni_scan(&st, p, n, sni);
}
