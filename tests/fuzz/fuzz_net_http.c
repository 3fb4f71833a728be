/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_net_http - libFuzzer target for the HTTP/1.x request stream of
 * libpetri/net/sniff.c.  The input's first 4 bytes seed the split points,
 * the rest is what a sandbox's client sends.  It is fed twice, whole and
 * in random pieces: both must report the same heads, the same data bytes
 * in the same order, and the same result (the stream must not depend on
 * how the bytes arrive).  Every head is rewritten for the origin server,
 * and the rewrite must itself be one valid head with the same method and
 * path.  An upgrade left pending at the end is answered (accepted or not,
 * by the seed) on both.  Any crash, leak, undefined behaviour or abort() is
 * a bug.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* policy.c's normaliser is not linked in (sniff.c is fuzzed alone); the
 * request stream does not call it. */
__attribute__((weak)) int petri__net_host_norm(const char *in, size_t len,
					       char out[PETRI_NET_HOST_MAX],
					       struct petri_net_addr *addr)
{
	if (len == 0 || len >= PETRI_NET_HOST_MAX)
		return -EINVAL;
	memcpy(out, in, len);
	out[len] = '\0';
	memset(addr, 0, sizeof(*addr));
	return 0;
}

struct log {
	uint8_t *p;
	size_t len, cap;
	int last_data;
	int nheads;
	int check_rewrite;
	struct petri_http_head first;
};

static void put(struct log *l, const void *p, size_t n)
{
	if (l->len + n > l->cap) {
		l->cap = (l->len + n) * 2 + 64;
		l->p = realloc(l->p, l->cap);
		if (!l->p)
			abort();
	}
	memcpy(l->p + l->len, p, n);
	l->len += n;
}

static int terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static int on_head_only(void *arg, const struct petri_http_head *h, const char *raw, size_t len)
{
	struct log *l = arg;
	if (l->nheads++ == 0)
		l->first = *h;
	return 0;
}

static int on_data_only(void *arg, const char *p, size_t n)
{
	return 0;
}

/* The rewrite of a head is one head, read the same way. */
static void check_rewrite(const struct petri_http_head *h, const char *raw, size_t len)
{
	static char out[2 * 65536 + 1024];
	struct log l2 = {0};
	struct petri_http_stream *s;
	ssize_t n = petri__http_head_to_origin(h, raw, len, out, sizeof(out));

	if (h->connect) {
		if (n != -EINVAL)
			abort();
		return;
	}
	if (n == -EINVAL) /* only for more than 32 Connection tokens */
		return;
	if (n <= 0)
		abort();
	s = petri__http_stream_new();
	if (!s)
		abort();
	if (petri__http_stream_feed(s, out, (size_t)n, on_head_only, on_data_only, &l2) != 0 ||
	    l2.nheads != 1 || l2.first.head_len != (size_t)n)
		abort();
	if (strcmp(l2.first.method, h->method) != 0 || l2.first.absolute || l2.first.connect ||
	    l2.first.upgrade != h->upgrade)
		abort();
	if (!h->path_truncated && strcmp(l2.first.path, h->path) != 0)
		abort();
	if (h->absolute && (!l2.first.has_host_header || strcmp(l2.first.host, h->host) != 0))
		abort();
	petri__http_stream_free(s);
}

static int on_head(void *arg, const struct petri_http_head *h, const char *raw, size_t len)
{
	struct log *l = arg;
	uint64_t n = len;

	if (h->head_len != len || len < 18 || memcmp(raw + len - 4, "\r\n\r\n", 4) != 0)
		abort();
	if (!terminated(h->method, sizeof(h->method)) || !terminated(h->host, sizeof(h->host)) ||
	    !terminated(h->host_header, sizeof(h->host_header)) ||
	    !terminated(h->path, sizeof(h->path)))
		abort();
	if (h->connect && (h->port == 0 || h->host[0] == '\0' || h->absolute))
		abort();
	if (h->absolute && h->host[0] == '\0')
		abort();
	put(l, "H", 1);
	put(l, &n, sizeof(n));
	put(l, raw, len);
	put(l, h, sizeof(*h)); /* zeroed before it is filled: padding included */
	l->last_data = 0;
	l->nheads++;
	if (l->check_rewrite)
		check_rewrite(h, raw, len);
	return 0;
}

static int on_data(void *arg, const char *p, size_t n)
{
	struct log *l = arg;

	if (n == 0)
		abort();
	if (!l->last_data)
		put(l, "D", 1);
	put(l, p, n);
	l->last_data = 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct log whole = {0}, split = {0};
	struct petri_http_stream *a, *b;
	uint32_t seed;
	size_t off;
	int ra, rb = 0;

	if (size < 4)
		return 0;
	memcpy(&seed, data, 4);
	data += 4;
	size -= 4;
	(void)petri__net_sniff_kind(data, size);

	a = petri__http_stream_new();
	b = petri__http_stream_new();
	if (!a || !b)
		abort();
	whole.check_rewrite = 1;
	ra = petri__http_stream_feed(a, (const char *)data, size, on_head, on_data, &whole);
	for (off = 0; off < size && rb == 0;) {
		size_t n;
		seed = seed * 1103515245u + 12345u;
		n = 1 + (seed >> 16) % ((seed & 0x100) ? 7 : 300);
		if (n > size - off)
			n = size - off;
		rb = petri__http_stream_feed(b, (const char *)data + off, n, on_head, on_data,
					     &split);
		off += n;
	}
	/* An upgrade left pending: the server's answer (a bit of the seed),
	 * the same for both; the held bytes then go the same way. */
	if (ra == 0 && rb == 0) {
		int acc = (int)(seed >> 30) & 1;
		ra = petri__http_stream_upgrade(a, acc, on_head, on_data, &whole);
		rb = petri__http_stream_upgrade(b, acc, on_head, on_data, &split);
		if (ra == -EINVAL && rb == -EINVAL)
			ra = rb = 0; /* none pending (or the held bytes were not HTTP) */
	}
	if (ra != rb || whole.len != split.len ||
	    (whole.len && memcmp(whole.p, split.p, whole.len)))
		abort();
	if (ra != 0 && ra != -EINVAL && ra != -E2BIG)
		abort();
	/* A stopped stream stays stopped. */
	if (ra && petri__http_stream_feed(a, "GET / HTTP/1.1\r\n\r\n", 18, on_head, on_data,
					  &whole) != ra)
		abort();
	petri__http_stream_free(a);
	petri__http_stream_free(b);
	free(whole.p);
	free(split.p);
	return 0;
}
