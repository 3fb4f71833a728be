/* TEMPORARY stand-ins for sniff.c and the audit hooks
 * (wt-proxy's own testing only; deleted before the branch is done). */
#include <arpa/inet.h>
#include <ctype.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

#pragma GCC diagnostic ignored "-Wmissing-prototypes"

/* ---- sniff ---- */
struct petri_http_stream {
	char head[65536];
	size_t hl;
	uint64_t body_left;
	int tunnel;
};
struct petri_http_stream *petri__http_stream_new(void)
{
	return calloc(1, sizeof(struct petri_http_stream));
}
void petri__http_stream_free(struct petri_http_stream *s)
{
	free(s);
}

static void split_hostport(const char *v, size_t n, char *host, uint16_t *port)
{
	const char *c = memrchr(v, ':', n);
	if (v[0] == '[') {
		const char *e = memchr(v, ']', n);
		if (e && c < e)
			c = NULL;
	}
	size_t hl = c ? (size_t)(c - v) : n;
	if (hl >= PETRI_NET_HOST_MAX)
		hl = PETRI_NET_HOST_MAX - 1;
	memcpy(host, v, hl);
	host[hl] = 0;
	*port = c ? (uint16_t)atoi(c + 1) : 0;
}

static int parse_head(struct petri_http_stream *s, struct petri_http_head *h)
{
	memset(h, 0, sizeof(*h));
	h->head_len = s->hl;
	char *line_end = memmem(s->head, s->hl, "\r\n", 2);
	char *sp1 = memchr(s->head, ' ', (size_t)(line_end - s->head));
	if (!sp1)
		return -EINVAL;
	char *sp2 = memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1));
	if (!sp2 || (size_t)(sp1 - s->head) >= sizeof(h->method))
		return -EINVAL;
	memcpy(h->method, s->head, (size_t)(sp1 - s->head));
	char *t = sp1 + 1;
	size_t tl = (size_t)(sp2 - t);
	if (strcmp(h->method, "CONNECT") == 0) {
		h->connect = 1;
		split_hostport(t, tl, h->host, &h->port);
	} else if (tl > 7 && strncmp(t, "http://", 7) == 0) {
		h->absolute = 1;
		char *p = memchr(t + 7, '/', tl - 7);
		size_t al = p ? (size_t)(p - t - 7) : tl - 7;
		split_hostport(t + 7, al, h->host, &h->port);
		snprintf(h->path, sizeof(h->path), "%.*s", p ? (int)(sp2 - p) : 1, p ? p : "/");
	} else
		snprintf(h->path, sizeof(h->path), "%.*s", (int)tl, t);
	for (char *l = line_end + 2; l < s->head + s->hl - 2;) {
		char *e = memmem(l, (size_t)(s->head + s->hl - l), "\r\n", 2);
		char *c = memchr(l, ':', (size_t)(e - l));
		if (c) {
			char *v = c + 1;
			while (*v == ' ')
				v++;
			if (strncasecmp(l, "host:", 5) == 0) {
				h->has_host_header = 1;
				split_hostport(v, (size_t)(e - v), h->host_header,
					       &h->host_header_port);
			} else if (strncasecmp(l, "content-length:", 15) == 0)
				s->body_left = strtoull(v, NULL, 10);
		}
		l = e + 2;
	}
	if (!h->connect && !h->absolute)
		snprintf(h->host, sizeof(h->host), "%s", h->host_header);
	return 0;
}

int petri__http_stream_feed(struct petri_http_stream *s, const char *data, size_t len,
			    petri_http_head_fn on_head, petri_http_data_fn on_data, void *arg)
{
	while (len) {
		if (s->tunnel)
			return on_data(arg, data, len);
		if (s->body_left) {
			size_t n = len < s->body_left ? len : s->body_left;
			s->body_left -= n;
			int r = on_data(arg, data, n);
			if (r)
				return r;
			data += n;
			len -= n;
			continue;
		}
		if (s->hl == 0 && !(data[0] >= 'A' && data[0] <= 'Z'))
			return -EINVAL;
		if (s->hl >= sizeof(s->head))
			return -E2BIG;
		s->head[s->hl++] = *data++;
		len--;
		if (s->hl >= 4 && memcmp(s->head + s->hl - 4, "\r\n\r\n", 4) == 0) {
			struct petri_http_head h;
			if (parse_head(s, &h) < 0)
				return -EINVAL;
			if (h.connect)
				s->tunnel = 1;
			size_t hl = s->hl;
			s->hl = 0;
			int r = on_head(arg, &h, s->head, hl);
			if (r)
				return r;
		}
	}
	return 0;
}

ssize_t petri__http_head_to_origin(const struct petri_http_head *h, const char *raw, size_t len,
				   char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s %s HTTP/1.1\r\n", h->method, h->path);
	const char *l = memmem(raw, len, "\r\n", 2) + 2;
	while (l < raw + len - 2) {
		const char *e = memmem(l, (size_t)(raw + len - l), "\r\n", 2);
		if (strncasecmp(l, "proxy-", 6) != 0 && strncasecmp(l, "connection:", 11) != 0 &&
		    strncasecmp(l, "keep-alive:", 11) != 0)
			n += snprintf(out + n, cap - (size_t)n, "%.*s\r\n", (int)(e - l), l);
		l = e + 2;
	}
	n += snprintf(out + n, cap - (size_t)n, "Connection: close\r\n\r\n");
	return (size_t)n >= cap ? -ENOSPC : n;
}

int petri__net_sniff_kind(const uint8_t *p, size_t n)
{
	if (n < 3)
		return -EAGAIN;
	if (p[0] == 0x16 && p[1] == 3)
		return 1;
	size_t i = 0;
	while (i < n && p[i] >= 'A' && p[i] <= 'Z')
		i++;
	if (i == n)
		return -EAGAIN;
	return i > 0 && p[i] == ' ' ? 2 : 0;
}

int petri__net_tls_sni(const uint8_t *p, size_t n, char sni[PETRI_NET_HOST_MAX])
{
	if (n < 5)
		return -EAGAIN;
	if (p[0] != 0x16)
		return -EINVAL;
	size_t rl = (size_t)(p[3] << 8 | p[4]);
	if (n < 5 + rl)
		return -EAGAIN;
	const uint8_t *h = p + 5, *end = p + 5 + rl;
	if (h[0] != 1)
		return -EINVAL;
	h += 4 + 2 + 32;
	h += 1 + h[0];
	h += 2 + (h[0] << 8 | h[1]);
	h += 1 + h[0];
	if (h + 2 > end)
		return 0;
	const uint8_t *ee = h + 2 + (h[0] << 8 | h[1]);
	h += 2;
	while (h + 4 <= ee && ee <= end) {
		size_t t = (size_t)(h[0] << 8 | h[1]), l = (size_t)(h[2] << 8 | h[3]);
		h += 4;
		if (t == 0) {
			size_t nl = (size_t)(h[3] << 8 | h[4]);
			if (petri__net_host_norm((const char *)h + 5, nl, sni, NULL) < 0)
				return -EINVAL;
			return 1;
		}
		h += l;
	}
	return 0;
}

/* ---- audit ---- */
void petri__audit_net_conn(const struct petri_sandbox *sb, const struct petri_net_conn_info *c)
{
	if (getenv("STANDIN_AUDIT")) {
		char a[64];
		fprintf(stderr,
			"AUDIT conn via=%d proto=%d name=%s port=%u sni=%s %s %s addr=%s up=%llu "
			"down=%llu allowed=%d reason=%s status=%d err=%d\n",
			c->via, c->protocol, c->name, c->port, c->sni_host, c->method, c->path,
			petri__net_addr_str(&c->addr, a, sizeof(a)),
			(unsigned long long)c->bytes_up, (unsigned long long)c->bytes_down,
			c->allowed, c->reason, c->status, c->error);
	}
}
void petri__audit_net_dns(const struct petri_sandbox *sb, const struct petri_net_dns_info *d,
			  int tcp)
{
	if (getenv("STANDIN_AUDIT"))
		fprintf(stderr, "AUDIT dns %s type=%u rcode=%d allowed=%d reason=%s tcp=%d\n",
			d->qname, d->qtype, d->rcode, d->allowed, d->reason, tcp);
}
