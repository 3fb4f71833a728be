/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_net_dns - libFuzzer target for the sandbox's DNS server
 * (libpetri/net/dns.c): arbitrary bytes as one DNS message, answered into
 * a 512-byte buffer and into one as small as the input's last byte says.
 * Besides crashes, leaks and undefined behaviour, these are bugs:
 *  - an answer longer than the buffer, or that libldns cannot parse back;
 *  - an answer whose ID is not the query's, or with QR clear;
 *  - an A record given for a name the allowlist refuses, or whose address
 *    is not the one the table has for that name;
 *  - an answer to a response (QR set) or to less than a header;
 *  - a different answer for the same input in a fresh table.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <ldns/ldns.h>

#include "net/net.h"

/* Allowed: example.com and below, and every name of even length (so that
 * both branches are reached whatever the name). */
static int allow(void *arg, const char *name)
{
	size_t n = strlen(name);
	(void)arg;
	return (n % 2) == 0 || strcmp(name, "example.com") == 0 ||
	       (n > 12 && strcmp(name + n - 12, ".example.com") == 0);
}

static ssize_t answer(const uint8_t *q, size_t n, uint8_t *out, size_t cap,
		      struct petri_net_dns_info *info)
{
	struct petri_net_names *t = petri__net_names_new();
	if (!t)
		abort();
	ssize_t r = petri__net_dns_answer(q, n, out, cap, t, allow, NULL, info);
	if (r > 0 && info->answer && info->answer != 0x7f000001u) {
		/* The address is the name's, and the allowlist (asked again
		 * here, not trusting info->allowed) allows that name. */
		const char *name = petri__net_names_lookup(t, info->answer);
		if (!name || strcmp(name, info->qname) != 0 || !allow(NULL, name) || !info->allowed)
			abort();
	}
	petri__net_names_free(t);
	return r;
}

static void check(const uint8_t *q, size_t n, const uint8_t *out, ssize_t r, size_t cap,
		  const struct petri_net_dns_info *info)
{
	if (r < 0) {
		if (r != -ENOSPC || cap >= 12)
			abort();
		return;
	}
	if ((size_t)r > cap)
		abort();
	if (r == 0) {
		if (n >= 12 && !(q[2] & 0x80))
			abort(); /* a query left without an answer */
		return;
	}
	if (n < 12 || (q[2] & 0x80))
		abort();
	if (out[0] != q[0] || out[1] != q[1] || !(out[2] & 0x80))
		abort();
	ldns_pkt *p = NULL;
	if (ldns_wire2pkt(&p, out, (size_t)r) != LDNS_STATUS_OK)
		abort();
	if ((int)ldns_pkt_get_rcode(p) != info->rcode)
		abort();
	if (ldns_pkt_ancount(p) > 1 || (ldns_pkt_ancount(p) == 1 && !info->answer))
		abort();
	if (ldns_pkt_ancount(p) == 1) {
		/* The A record carries the address info reports. */
		const ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(p), 0);
		const ldns_rdf *rd = ldns_rr_rd_count(rr) == 1 ? ldns_rr_rdf(rr, 0) : NULL;
		uint32_t be;
		if (!info->allowed || ldns_rr_get_type(rr) != LDNS_RR_TYPE_A || !rd ||
		    ldns_rdf_size(rd) != 4)
			abort();
		memcpy(&be, ldns_rdf_data(rd), 4);
		if (ntohl(be) != info->answer)
			abort();
	}
	ldns_pkt_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[512], again[512];
	struct petri_net_dns_info info, info2;

	ssize_t r = answer(data, size, out, sizeof(out), &info);
	check(data, size, out, r, sizeof(out), &info);
	ssize_t r2 = answer(data, size, again, sizeof(again), &info2);
	if (r2 != r || (r > 0 && memcmp(out, again, (size_t)r) != 0) ||
	    strcmp(info.qname, info2.qname) != 0 || info.rcode != info2.rcode)
		abort();

	/* A small buffer: the truncated forms. */
	size_t cap = size ? data[size - 1] % 64 : 0;
	r = answer(data, size, out, cap, &info);
	check(data, size, out, r, cap, &info);
	return 0;
}
