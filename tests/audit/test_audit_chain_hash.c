/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_audit_chain_hash - the audit chain's hash function
 * (petri__audit_chain_hash, audit/chain.c: SHA-256(prev || body), what the
 * writer seals and the reader verifies every event with) gives the FIPS
 * 180-4 / NIST CAVP answers, for every split of the message between its
 * two inputs (prev, body); and a hasher reused for many digests, as the
 * writer and reader reuse theirs, starts afresh each time.  A wrong
 * algorithm, a swapped or dropped input, or state leaking from one event's
 * hash into the next fails here.
 */
#include "petri_test.h"
#include "audit_priv.h"

static petri__audit_hasher *H;

static void hexof(const uint8_t *h, char *out)
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

/* SHA-256(@msg[0..@len)) == @want, with the message split at every
 * offset from 0 (all body) to @len (all prev), or at 0 and @len only for
 * long messages. */
static void check(const uint8_t *msg, size_t len, const char *want)
{
	uint8_t h[32];
	char got[65];
	size_t step = len > 300 ? len : 1;
	for (size_t cut = 0; cut <= len; cut += step) {
		memset(h, 0, sizeof(h));
		CHECK(petri__audit_chain_hash(H, cut ? msg : NULL, cut, msg + cut, len - cut, h) ==
		      0);
		hexof(h, got);
		CHECK_MSG(strcmp(got, want) == 0,
			  "sha256(%.20s.. %zu bytes, prev %zu) = %s, want %s", (const char *)msg,
			  len, cut, got, want);
		if (cut == len)
			break;
		if (cut + step > len)
			cut = len - step; /* the last round: all of it in prev */
	}
}

static void checks(const char *msg, const char *want)
{
	check((const uint8_t *)msg, strlen(msg), want);
}

/* A hasher of the case's own (each case runs in a process of its own). */
static void hasher_new(void)
{
	REQUIRE(petri__audit_hasher_new(&H) == 0);
}

static void hasher_free(void)
{
	petri__audit_hasher_free(H);
	H = NULL;
}

/* FIPS 180-4 examples and NIST CAVP short messages, one hasher for all. */
static void test_fips_short(void)
{
	hasher_new();
	checks("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	checks("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	checks("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	checks("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklm"
	       "nopqklmnopqrlmnopqrsmnopqrstnopqrstu",
	       "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
	hasher_free();
}

static uint8_t a[1000000];

/* 55, 56 and 64 bytes: the padding boundaries. */
static void test_padding_boundaries(void)
{
	hasher_new();
	memset(a, 'a', sizeof(a));
	check(a, 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
	check(a, 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
	check(a, 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
	hasher_free();
}

/* One million 'a' (FIPS 180-2 appendix B.3), then "abc" once more: a
 * reused hasher keeps nothing of the long one. */
static void test_million_a_then_reuse(void)
{
	hasher_new();
	memset(a, 'a', sizeof(a));
	check(a, sizeof(a), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	checks("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	hasher_free();
}

/* A second hasher agrees with the first, interleaved; freeing NULL is a
 * no-op. */
static void test_two_hashers(void)
{
	hasher_new();
	petri__audit_hasher *h2 = NULL;
	uint8_t x[32], y[32];
	REQUIRE(petri__audit_hasher_new(&h2) == 0);
	CHECK(petri__audit_chain_hash(H, (const uint8_t *)"ab", 2, (const uint8_t *)"c", 1, x) ==
	      0);
	CHECK(petri__audit_chain_hash(h2, NULL, 0, (const uint8_t *)"abc", 3, y) == 0);
	CHECK(memcmp(x, y, 32) == 0);
	petri__audit_hasher_free(h2);
	hasher_free();
	petri__audit_hasher_free(NULL);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(fips_short),
	PETRI_TEST_CASE(padding_boundaries),
	PETRI_TEST_CASE(million_a_then_reuse),
	PETRI_TEST_CASE(two_hashers),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
