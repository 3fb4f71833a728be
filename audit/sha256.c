/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sha256.c - SHA-256 (FIPS 180-4) for the audit hash chain, so the library
 * needs no crypto dependency.  On x86-64 CPUs with the SHA extensions the
 * compression runs on them (about 10x faster: the chain hashes every event
 * of a stream); elsewhere in portable C.  Both are checked against the
 * FIPS/NIST vectors and each other in tests/audit/test_audit_sha256.c.
 */
#include <string.h>

#include "audit_priv.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_SHANI_CODE 1
#endif

/* clang-format off */
static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};
/* clang-format on */

static inline uint32_t ror(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

static void compress_c(uint32_t h[8], const uint8_t p[64])
{
	uint32_t w[64];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) +
			      K[i] + w[i];
		uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		hh = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += hh;
}

#ifdef HAVE_SHANI_CODE
/* One block with the SHA-NI instructions.  The state lives as ABEF/CDGH
 * (what sha256rnds2 wants); each group of 4 rounds adds K to 4 message
 * words, and words 16..63 come from sha256msg1/msg2:
 *   W[t..t+3] = msg2(msg1(W[t-16..], W[t-12..]) + W[t-7..t-4], W[t-4..]). */
__attribute__((target("sha,sse4.1,ssse3"))) static void compress_shani(uint32_t h[8],
								       const uint8_t p[64])
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
	__m128i t = _mm_loadu_si128((const __m128i *)&h[0]);   /* DCBA */
	__m128i st1 = _mm_loadu_si128((const __m128i *)&h[4]); /* HGFE */
	t = _mm_shuffle_epi32(t, 0xb1);                        /* CDAB */
	st1 = _mm_shuffle_epi32(st1, 0x1b);                    /* EFGH */
	__m128i st0 = _mm_alignr_epi8(t, st1, 8);              /* ABEF */
	st1 = _mm_blend_epi16(st1, t, 0xf0);                   /* CDGH */
	const __m128i abef = st0, cdgh = st1;
	__m128i m[4];

	for (int g = 0; g < 16; g++) {
		__m128i w;
		if (g < 4) {
			w = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), bswap);
		} else {
			w = _mm_sha256msg1_epu32(m[g & 3], m[(g + 1) & 3]);
			w = _mm_add_epi32(w, _mm_alignr_epi8(m[(g + 3) & 3], m[(g + 2) & 3], 4));
			w = _mm_sha256msg2_epu32(w, m[(g + 3) & 3]);
		}
		m[g & 3] = w;
		__m128i k = _mm_add_epi32(w, _mm_loadu_si128((const __m128i *)&K[4 * g]));
		st1 = _mm_sha256rnds2_epu32(st1, st0, k);
		st0 = _mm_sha256rnds2_epu32(st0, st1, _mm_shuffle_epi32(k, 0x0e));
	}
	st0 = _mm_add_epi32(st0, abef);
	st1 = _mm_add_epi32(st1, cdgh);
	t = _mm_shuffle_epi32(st0, 0x1b);    /* FEBA */
	st1 = _mm_shuffle_epi32(st1, 0xb1);  /* DCHG */
	st0 = _mm_blend_epi16(t, st1, 0xf0); /* DCBA */
	st1 = _mm_alignr_epi8(st1, t, 8);    /* HGFE */
	_mm_storeu_si128((__m128i *)&h[0], st0);
	_mm_storeu_si128((__m128i *)&h[4], st1);
}
#endif

/* 1: use the SHA extensions, 0: portable C; -1 until the first block. */
static int use_shani = -1;

void petri__sha256_set_portable(int portable)
{
	__atomic_store_n(&use_shani, portable ? 0 : -1, __ATOMIC_RELAXED);
}

static void compress(uint32_t h[8], const uint8_t p[64])
{
#ifdef HAVE_SHANI_CODE
	int u = __atomic_load_n(&use_shani, __ATOMIC_RELAXED);
	if (u < 0) {
		unsigned a, b, c, d;
		/* leaf 7 EBX bit 29: SHA; leaf 1 ECX bits 19, 9: SSE4.1, SSSE3 */
		u = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b >> 29 & 1) &&
		    __get_cpuid(1, &a, &b, &c, &d) && (c >> 19 & 1) && (c >> 9 & 1);
		__atomic_store_n(&use_shani, u, __ATOMIC_RELAXED);
	}
	if (u) {
		compress_shani(h, p);
		return;
	}
#endif
	compress_c(h, p);
}

void petri__sha256_init(struct petri_sha256 *s)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	memcpy(s->h, iv, sizeof(iv));
	s->len = 0;
	s->nbuf = 0;
}

void petri__sha256_update(struct petri_sha256 *s, const void *data, size_t len)
{
	const uint8_t *p = data;
	s->len += len;
	if (s->nbuf) {
		size_t take = 64 - s->nbuf < len ? 64 - s->nbuf : len;
		memcpy(s->buf + s->nbuf, p, take);
		s->nbuf += take;
		p += take;
		len -= take;
		if (s->nbuf < 64)
			return;
		compress(s->h, s->buf);
		s->nbuf = 0;
	}
	for (; len >= 64; p += 64, len -= 64)
		compress(s->h, p);
	if (len) {
		memcpy(s->buf, p, len);
		s->nbuf = len;
	}
}

void petri__sha256_final(struct petri_sha256 *s, uint8_t out[PETRI_SHA256_LEN])
{
	uint64_t bits = s->len * 8;
	uint8_t pad[72] = {0x80};
	size_t padlen = (s->nbuf < 56 ? 56 : 120) - s->nbuf;
	for (int i = 0; i < 8; i++)
		pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
	petri__sha256_update(s, pad, padlen + 8);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

void petri__sha256(const void *data, size_t len, uint8_t out[PETRI_SHA256_LEN])
{
	struct petri_sha256 s;
	petri__sha256_init(&s);
	petri__sha256_update(&s, data, len);
	petri__sha256_final(&s, out);
}

/* The audit chain: SHA-256(prev || body) (audit/README.md). */
void petri__audit_chain_hash(const uint8_t *prev, size_t prev_len, const uint8_t *body,
			     size_t body_len, uint8_t out[PETRI_SHA256_LEN])
{
	struct petri_sha256 s;
	petri__sha256_init(&s);
	petri__sha256_update(&s, prev, prev_len);
	petri__sha256_update(&s, body, body_len);
	petri__sha256_final(&s, out);
}
