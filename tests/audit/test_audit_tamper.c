/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_audit_tamper - petri_audit_reader_verify() rejects every kind of
 * tampering and names the first bad seq:
 *  - a flipped bit in EVERY byte of the stream (length prefixes included):
 *    first bad seq = the event holding that byte;
 *  - an event removed, two swapped, one duplicated: the position of the
 *    first deviation;
 *  - truncation inside every event and at every event boundary, and a
 *    missing StreamEnd: the seq of the first missing event;
 *  - data after the StreamEnd, a stream that does not begin with a header,
 *    an empty stream.
 * The intact stream verifies.
 */
#include <errno.h>

#include "petri_test.h"
#include "audit_sample.h"

static int verify(const uint8_t *buf, size_t len, uint64_t *bad)
{
	petri_audit_reader_opts o = PETRI_AUDIT_READER_OPTS_INIT;
	o.source = PETRI_AUDIT_SRC_MEMORY;
	o.data = buf;
	o.data_len = len;
	petri_audit_reader *r;
	REQUIRE(petri_audit_reader_open(&r, &o, NULL) == 0);
	petri_error *err = NULL;
	*bad = (uint64_t)-1;
	int rc = petri_audit_reader_verify(r, bad, &err);
	if (rc < 0) {
		char want[32];
		snprintf(want, sizeof(want), "seq %llu:", (unsigned long long)*bad);
		CHECK_MSG(strncmp(petri_error_message(err), want, strlen(want)) == 0,
			  "message '%s' does not start with '%s'", petri_error_message(err), want);
		CHECK(petri_audit_reader_first_bad_seq(r) == *bad);
	}
	petri_error_free(err);
	petri_audit_reader_close(r);
	return rc;
}

#define EXPECT_BAD(buf, len, want, what)                                                           \
	do {                                                                                       \
		uint64_t bad_;                                                                     \
		int rc_ = verify(buf, len, &bad_);                                                 \
		CHECK_MSG(rc_ < 0 && bad_ == (uint64_t)(want),                                     \
			  "%s: rc %d first bad seq %lld, want %d", what, rc_, (long long)bad_,     \
			  (int)(want));                                                            \
	} while (0)

/* Rebuild a stream from frames in the order of @order (length @n). */
static size_t assemble(const uint8_t *src, const size_t *offs, const int *order, int n,
		       uint8_t *dst)
{
	size_t len = 0;
	for (int i = 0; i < n; i++) {
		size_t fl = offs[order[i] + 1] - offs[order[i]];
		memcpy(dst + len, src + offs[order[i]], fl);
		len += fl;
	}
	return len;
}

/* The sample stream, its frame offsets, and room for a tampered copy: each
 * case makes its own. */
static struct mem_sink m;
static const uint8_t *s;
static size_t len;
static size_t offs[64];
static int n;
static uint8_t *t;

static void setup(void)
{
	petri_audit *a = sample_open_mem(&m);
	sample_emit_all(a);
	REQUIRE(petri_audit_close(a, NULL) == 0);
	s = m.p;
	len = m.len;
	n = sample_frames(s, len, offs, 63);
	REQUIRE(n == SAMPLE_EVENTS);
	t = malloc(2 * len + 16);
	REQUIRE(t);
}

static void teardown(void)
{
	free(t);
	free(m.p);
}

/* The untouched stream verifies. */
static void test_intact(void)
{
	setup();
	uint64_t bad;
	CHECK(verify(s, len, &bad) == 0);
	teardown();
}

/* Every byte, every one of 3 bit positions. */
static void test_bit_flips(void)
{
	setup();
	int flips = 0;
	for (int ev = 0; ev < n; ev++) {
		for (size_t i = offs[ev]; i < offs[ev + 1]; i++) {
			for (int bit = 0; bit < 8; bit += 3) {
				memcpy(t, s, len);
				t[i] ^= (uint8_t)(1u << bit);
				char what[64];
				snprintf(what, sizeof(what), "flip byte %zu bit %d", i, bit);
				EXPECT_BAD(t, len, ev, what);
				flips++;
			}
		}
	}
	fprintf(stderr, "%d flips detected\n", flips);
	teardown();
}

/* Remove each event. */
static void test_remove_event(void)
{
	setup();
	int order[64];
	for (int k = 0; k < n; k++) {
		int j = 0;
		for (int i = 0; i < n; i++)
			if (i != k)
				order[j++] = i;
		size_t l = assemble(s, offs, order, n - 1, t);
		char what[64];
		snprintf(what, sizeof(what), "remove event %d", k);
		EXPECT_BAD(t, l, k, what);
	}
	teardown();
}

/* Swap neighbours. */
static void test_swap_neighbours(void)
{
	setup();
	int order[64];
	for (int k = 0; k + 1 < n; k++) {
		for (int i = 0; i < n; i++)
			order[i] = i;
		order[k] = k + 1;
		order[k + 1] = k;
		size_t l = assemble(s, offs, order, n, t);
		char what[64];
		snprintf(what, sizeof(what), "swap %d and %d", k, k + 1);
		EXPECT_BAD(t, l, k, what);
	}
	teardown();
}

/* Duplicate each event (the copy right after the original). */
static void test_duplicate_event(void)
{
	setup();
	int order[64];
	for (int k = 0; k < n; k++) {
		int j = 0;
		for (int i = 0; i < n; i++) {
			order[j++] = i;
			if (i == k)
				order[j++] = i;
		}
		size_t l = assemble(s, offs, order, n + 1, t);
		char what[64];
		snprintf(what, sizeof(what), "duplicate event %d", k);
		EXPECT_BAD(t, l, k + 1, what);
	}
	teardown();
}

/* Truncate at every length (boundaries and inside events). */
static void test_truncate(void)
{
	setup();
	for (size_t l = 0; l < len; l++) {
		int ev = 0;
		while (offs[ev + 1] <= l)
			ev++;
		char what[64];
		snprintf(what, sizeof(what), "truncate at %zu", l);
		EXPECT_BAD(s, l, ev, what);
	}
	teardown();
}

/* Data after the end: another copy of the last event, or junk. */
static void test_data_after_end(void)
{
	setup();
	memcpy(t, s, len);
	memcpy(t + len, s + offs[n - 1], len - offs[n - 1]);
	EXPECT_BAD(t, len + (len - offs[n - 1]), n, "event after StreamEnd");
	memcpy(t, s, len);
	t[len] = 0x00;
	EXPECT_BAD(t, len + 1, n, "zero byte after StreamEnd");
	teardown();
}

/* A stream that starts after its header (header removed). */
static void test_no_header(void)
{
	setup();
	EXPECT_BAD(s + offs[1], len - offs[1], 0, "no header");
	teardown();
}

/* An oversized length prefix: a clear error, no allocation of it. */
static void test_oversized_length(void)
{
	setup();
	memcpy(t, "\xff\xff\xff\xff\x0f", 5);
	EXPECT_BAD(t, 5, 0, "4 GiB length");
	memcpy(t, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10);
	EXPECT_BAD(t, 10, 0, "varint overflow");
	memcpy(t, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 12);
	EXPECT_BAD(t, 12, 0, "11-byte varint");
	teardown();
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(intact),           PETRI_TEST_CASE(bit_flips),
	PETRI_TEST_CASE(remove_event),     PETRI_TEST_CASE(swap_neighbours),
	PETRI_TEST_CASE(duplicate_event),  PETRI_TEST_CASE(truncate),
	PETRI_TEST_CASE(data_after_end),   PETRI_TEST_CASE(no_header),
	PETRI_TEST_CASE(oversized_length), {NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
