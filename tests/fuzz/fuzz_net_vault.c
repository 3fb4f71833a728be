/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_net_vault - libFuzzer target for libpetri/net/vault.c: what a
 * sandbox's client sends (scan, request head and body rewriting) and what
 * a server or the code prints (the scrubber).  One vault of three secrets
 * is made once; its placeholders are random, so the input names them: the
 * two bytes "\x01" N (N '0'..'2') stand for secret N's placeholder.  The
 * first 4 input bytes seed the split points, the 5th is the scope.
 * Properties (abort() when broken):
 *  - scan with scope 0 that finds nothing: no placeholder of ours is in
 *    the bytes as they are;
 *  - a head or body rewrite that succeeds leaves no placeholder of ours
 *    in its output (substituted, or the rewrite refused);
 *  - the scrubber gives the same bytes whole (in place) and fed at random
 *    split points, of the same length, holding back at most window-1
 *    bytes, and no value survives it as is or in lower-case hex.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/vault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct petri_vault *vault;
static const char *const values[3] = {"tok3n/+ v=alue", "a\r\nb\"c", "xyzzy-42"};

static void init(void)
{
	static const char *const h0[] = {"api.example.com", NULL};
	static const char *const h1[] = {"*.example.org:8443", NULL};
	static const char *const h2[] = {"http://plain.example.net", NULL};
	static const char *const *hosts[3] = {h0, h1, h2};
	static petri_secret s[3];
	static const char *names[3] = {"A", "B", "C"};
	const struct petri_secret *list[4];
	for (int i = 0; i < 3; i++) {
		petri_secret x = PETRI_SECRET_INIT;
		x.name = names[i];
		x.value = values[i];
		x.value_len = strlen(values[i]);
		x.hosts = hosts[i];
		s[i] = x;
		list[i] = &s[i];
	}
	list[3] = NULL;
	if (petri__vault_new(list, NULL, &vault, NULL) < 0)
		abort();
}

/* @p with "\x01N" expanded; malloc'd, length in *@n. */
static char *expand(const uint8_t *p, size_t len, size_t *n)
{
	char *o = malloc(len * PETRI_VAULT_TOKEN_LEN / 2 + 2);
	size_t k = 0;
	if (!o)
		abort();
	for (size_t i = 0; i < len; i++) {
		if (p[i] == 1 && i + 1 < len && p[i + 1] >= '0' && p[i + 1] <= '2') {
			memcpy(o + k, petri__vault_placeholder(vault, p[i + 1] - '0'),
			       PETRI_VAULT_TOKEN_LEN);
			k += PETRI_VAULT_TOKEN_LEN;
			i++;
		} else {
			o[k++] = (char)p[i];
		}
	}
	*n = k;
	return o;
}

static int has_token(const char *p, size_t n)
{
	for (size_t i = 0; i < 3; i++)
		if (memmem(p, n, petri__vault_placeholder(vault, i), PETRI_VAULT_TOKEN_LEN))
			return 1;
	return 0;
}

struct sink {
	char *p;
	size_t len;
};

static int put(void *arg, const char *p, size_t n)
{
	struct sink *s = arg;
	memcpy(s->p + s->len, p, n);
	s->len += n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!vault)
		init();
	if (size < 5)
		return 0;
	uint32_t seed;
	memcpy(&seed, data, 4);
	uint64_t scope = data[4] & 7;
	size_t n;
	char *in = expand(data + 5, size - 5, &n);

	struct petri_vault_finding f;
	if (petri__vault_scan(vault, 0, in, n, &f) == PETRI_VAULT_OK && has_token(in, n))
		abort();

	struct petri_vault_buf o = {0};
	int rc = petri__vault_rewrite_head(vault, scope, NULL, in, n, &o, &f);
	if (rc == 0 && o.p && has_token(o.p, o.len))
		abort();
	if (rc != 0 && o.len != 0)
		abort();
	free(o.p);
	memset(&o, 0, sizeof(o));
	rc = petri__vault_rewrite_body(vault, scope, in, n, seed & 1, &o, &f);
	if (rc == 0 && o.p && has_token(o.p, o.len))
		abort();
	free(o.p);

	/* the scrubber: whole vs split */
	char *whole = malloc(n + 1);
	struct sink s = {malloc(n + 1), 0};
	if (!whole || !s.p)
		abort();
	memcpy(whole, in, n);
	petri__vault_scrub_buf(vault, whole, n);
	struct petri_vault_scrub *sc = petri__vault_scrub_new(vault);
	if (!sc)
		abort();
	size_t w = petri__vault_scrub_window(vault);
	for (size_t i = 0; i < n;) {
		size_t m = 1 + (seed % 37);
		seed = seed * 1103515245u + 12345u;
		if (m > n - i)
			m = n - i;
		if (petri__vault_scrub_feed(sc, in + i, m, put, &s) != 0)
			abort();
		i += m;
		if (s.len + (w - 1) < i)
			abort();
	}
	if (petri__vault_scrub_end(sc, put, &s) != 0 || s.len != n || memcmp(s.p, whole, n) != 0)
		abort();
	petri__vault_scrub_free(sc);
	for (int i = 0; i < 3; i++) {
		char hex[64];
		size_t l = strlen(values[i]);
		for (size_t j = 0; j < l; j++)
			snprintf(hex + 2 * j, 3, "%02x", (unsigned char)values[i][j]);
		if (memmem(whole, n, values[i], l) || memmem(whole, n, hex, 2 * l))
			abort();
	}
	free(whole);
	free(s.p);
	free(in);
	return 0;
}
