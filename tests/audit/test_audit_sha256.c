/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_audit_sha256 - libpetri's own SHA-256 (libpetri/sha256.c) gives the
 * FIPS 180-4 / NIST CAVP answers, whole and fed in odd-sized pieces, and
 * the chain hash is SHA-256(prev || body).
 */
#include "petri_test.h"
#include "audit_priv.h"

static void hexof(const uint8_t *h, char *out)
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

static void check(const char *msg, size_t len, size_t reps, const char *want)
{
	struct petri_sha256 s;
	uint8_t h[32];
	char got[65];
	petri__sha256_init(&s);
	for (size_t i = 0; i < reps; i++)
		petri__sha256_update(&s, msg, len);
	petri__sha256_final(&s, h);
	hexof(h, got);
	CHECK_MSG(strcmp(got, want) == 0, "sha256(%.20s x%zu) = %s, want %s", msg, reps, got, want);
	/* Byte by byte and in 7-byte pieces give the same. */
	if (reps == 1) {
		for (size_t step = 1; step <= 7; step += 6) {
			petri__sha256_init(&s);
			for (size_t i = 0; i < len; i += step)
				petri__sha256_update(&s, msg + i, len - i < step ? len - i : step);
			petri__sha256_final(&s, h);
			hexof(h, got);
			CHECK_MSG(strcmp(got, want) == 0, "piecewise (%zu) sha256 = %s", step, got);
		}
	}
}

static void vectors(void)
{
	check("", 0, 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check("abc", 3, 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	check(m448, strlen(m448), 1,
	      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	const char *m896 =
		"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklm"
		"nopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	check(m896, strlen(m896), 1,
	      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
	check("a", 1, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	/* 55, 56 and 64 bytes: the padding boundaries. */
	char a64[65];
	memset(a64, 'a', 64);
	a64[64] = 0;
	check(a64, 55, 1, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
	check(a64, 56, 1, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
	check(a64, 64, 1, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

/* The CPU's SHA extensions (when it has them) and the portable code agree
 * on every length 0..300 of pseudo-random bytes. */
static void both_agree(void)
{
	uint8_t data[300], a[32], b[32];
	uint32_t x = 12345;
	for (size_t i = 0; i < sizeof(data); i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (uint8_t)(x >> 16);
	}
	for (size_t n = 0; n <= sizeof(data); n++) {
		petri__sha256_set_portable(1);
		petri__sha256(data, n, a);
		petri__sha256_set_portable(0);
		petri__sha256(data, n, b);
		CHECK_MSG(memcmp(a, b, 32) == 0, "portable and CPU SHA-256 differ at length %zu",
			  n);
	}
}

int main(void)
{
	petri__sha256_set_portable(1);
	vectors();
	petri__sha256_set_portable(0);
	vectors();
	both_agree();

	uint8_t h1[32], h2[32];
	petri__audit_chain_hash((const uint8_t *)"ab", 2, (const uint8_t *)"c", 1, h1);
	petri__sha256("abc", 3, h2);
	CHECK(memcmp(h1, h2, 32) == 0);
	petri__audit_chain_hash(NULL, 0, (const uint8_t *)"abc", 3, h1);
	CHECK(memcmp(h1, h2, 32) == 0);
	return petri_test_done();
}
