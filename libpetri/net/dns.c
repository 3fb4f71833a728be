/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dns.c - the sandbox's DNS server, minus the sockets (proxy.c owns those and
 * the TCP framing): one message in, one answer out, parsed and built with
 * libldns, and the table of synthetic addresses that answers hand out.
 *
 * The server is authoritative for everything and recursive for nothing: no
 * query, and no byte of one, ever leaves the host.  An allowed name gets an
 * A record with its own address in 127.80.0.0/16, the name proxy.c later
 * finds behind a connection to that address; every other name is NXDOMAIN.
 * That closes DNS as an exfiltration channel: whatever the sandbox encodes
 * in a name stops here, and is only written to the audit stream.
 */
#include <arpa/inet.h>
#include <ldns/ldns.h>

#include "net.h"

/* ---- the synthetic address table ---- */

/*
 * Names by address (names[i] has PETRI_NET_SYNTH_NET + 1 + i) and, for the
 * other direction, the same indices sorted by name (binary search).  A
 * sorted array rather than a hash table: a lookup costs at most 12 string
 * compares at the 4096-name limit, and names the sandbox picks cannot be
 * chosen to collide.  Addresses are never reused: the table only grows.
 */
struct petri_net_names {
	char **names;
	uint16_t *by_name;
	size_t n, cap;
};

struct petri_net_names *petri__net_names_new(void)
{
	return calloc(1, sizeof(struct petri_net_names));
}

void petri__net_names_free(struct petri_net_names *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->names[i]);
	free(t->names);
	free(t->by_name);
	free(t);
}

/* Where @name is in by_name (*found 1), or where it would go (*found 0). */
static size_t names_find(const struct petri_net_names *t, const char *name, int *found)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, t->names[t->by_name[mid]]);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*found = 0;
	return lo;
}

static int names_grow(struct petri_net_names *t)
{
	size_t cap = t->cap ? t->cap * 2 : 64;
	if (cap > PETRI_NET_SYNTH_MAX)
		cap = PETRI_NET_SYNTH_MAX;
	char **names = realloc(t->names, cap * sizeof(*names));
	if (!names)
		return -ENOMEM;
	t->names = names;
	uint16_t *by_name = realloc(t->by_name, cap * sizeof(*by_name));
	if (!by_name)
		return -ENOMEM;
	t->by_name = by_name;
	t->cap = cap;
	return 0;
}

int petri__net_names_assign(struct petri_net_names *t, const char *name, uint32_t *addr)
{
	if (!t || !name || !addr || !*name ||
	    strnlen(name, PETRI_NET_HOST_MAX) >= PETRI_NET_HOST_MAX)
		return -EINVAL;
	int found;
	size_t pos = names_find(t, name, &found);
	if (found) {
		*addr = PETRI_NET_SYNTH_NET + 1 + t->by_name[pos];
		return 0;
	}
	if (t->n >= PETRI_NET_SYNTH_MAX)
		return -ENOSPC;
	if (t->n == t->cap) {
		int r = names_grow(t);
		if (r < 0)
			return r;
	}
	char *copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	memmove(&t->by_name[pos + 1], &t->by_name[pos], (t->n - pos) * sizeof(*t->by_name));
	t->by_name[pos] = (uint16_t)t->n;
	t->names[t->n] = copy;
	*addr = PETRI_NET_SYNTH_NET + 1 + (uint32_t)t->n;
	t->n++;
	return 0;
}

const char *petri__net_names_lookup(const struct petri_net_names *t, uint32_t addr)
{
	if (!t || addr <= PETRI_NET_SYNTH_NET)
		return NULL;
	uint32_t i = addr - PETRI_NET_SYNTH_NET - 1;
	return i < t->n ? t->names[i] : NULL;
}

/* ---- one message, one answer ---- */

#define DNS_HEADER_LEN 12
#define DNS_TTL 60
#define DNS_LOCALHOST 0x7f000001u

/* What to answer, decided before the answer is built. */
struct verdict {
	int rcode;
	uint32_t a;              /* an A record with this address (host order), 0: none */
	const ldns_rr *question; /* to echo, NULL: none */
};

/*
 * The question's name as text into @out, for matching: the labels joined by
 * dots, no trailing dot.  Only letters, digits, '-' and '_' are taken (a
 * name with anything else is no host name: a dot inside a label, spaces,
 * binary); -EINVAL then.  @out holds at most 255 characters (a wire name is
 * at most 255 bytes, so its text is shorter).
 */
static int qname_text(const ldns_rdf *dname, char out[PETRI_NET_HOST_MAX])
{
	const uint8_t *p = ldns_rdf_data(dname);
	size_t size = ldns_rdf_size(dname), i = 0, o = 0;
	while (i < size && p[i] != 0) {
		size_t len = p[i++];
		if (len > 63 || i + len > size)
			return -EINVAL;
		if (o && o < PETRI_NET_HOST_MAX - 1)
			out[o++] = '.';
		for (size_t k = 0; k < len; k++) {
			uint8_t c = p[i + k];
			int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				 (c >= '0' && c <= '9') || c == '-' || c == '_';
			if (!ok)
				return -EINVAL;
			if (o < PETRI_NET_HOST_MAX - 1)
				out[o++] = (char)c;
		}
		i += len;
	}
	out[o] = '\0';
	return 0;
}

/*
 * The question's name as the audit stream shows it when it is not a host
 * name: lower case, every byte outside [a-z0-9-_] as \DDD (a dot inside a
 * label too), cut to fit (*truncated).
 */
static void qname_escaped(const ldns_rdf *dname, char out[PETRI_NET_HOST_MAX], int *truncated)
{
	const uint8_t *p = ldns_rdf_data(dname);
	size_t size = ldns_rdf_size(dname), i = 0, o = 0;
	*truncated = 0;
	while (i < size && p[i] != 0) {
		size_t len = p[i++];
		if (i + len > size)
			len = size - i;
		char piece[5];
		for (size_t k = 0; k <= len; k++) {
			size_t n;
			if (k == len) {
				if (i + len >= size || p[i + len] == 0)
					break;
				piece[0] = '.';
				n = 1;
			} else {
				uint8_t c = p[i + k];
				if (c >= 'A' && c <= 'Z')
					c = (uint8_t)(c - 'A' + 'a');
				if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
				    c == '_') {
					piece[0] = (char)c;
					n = 1;
				} else {
					snprintf(piece, sizeof(piece), "\\%03u", c);
					n = 4;
				}
			}
			if (o + n > PETRI_NET_HOST_MAX - 1) {
				*truncated = 1;
				out[o] = '\0';
				return;
			}
			memcpy(out + o, piece, n);
			o += n;
		}
		i += len;
	}
	out[o] = '\0';
}

static int is_localhost(const char *name)
{
	size_t n = strlen(name);
	static const char suffix[] = ".localhost";
	return strcmp(name, "localhost") == 0 ||
	       (n > sizeof(suffix) - 1 && strcmp(name + n - (sizeof(suffix) - 1), suffix) == 0);
}

/*
 * Decide the answer to the one question @qrr (class IN): its name checked,
 * normalised and matched, an address assigned for an allowed A query.
 */
static void answer_question(const ldns_rr *qrr, struct petri_net_names *names,
			    petri_net_name_allowed_fn allowed, void *arg,
			    struct petri_net_dns_info *info, struct verdict *v)
{
	char text[PETRI_NET_HOST_MAX];
	struct petri_net_addr lit = {0};
	const ldns_rdf *owner = ldns_rr_owner(qrr);
	int qtype = info->qtype;

	if (qname_text(owner, text) < 0 ||
	    petri__net_host_norm(text, strlen(text), info->qname, &lit) < 0) {
		/* Not a host name (binary, spaces, a label over 63, the root):
		 * nothing to resolve. */
		qname_escaped(owner, info->qname, &info->qname_truncated);
		v->rcode = LDNS_RCODE_NXDOMAIN;
		info->reason = "bad name";
		return;
	}
	if (is_localhost(info->qname)) {
		/* Clients look it up (and /etc/hosts may not be consulted):
		 * the sandbox's own loopback, never the table. */
		info->allowed = 1;
		info->reason = "localhost";
		if (qtype == LDNS_RR_TYPE_A)
			v->a = DNS_LOCALHOST;
		return;
	}
	/* An address written as a name ("1.2.3.4", "2130706433"): no client
	 * asks DNS for one; nothing of ours to answer. */
	if (lit.family != 0 || !allowed || !allowed(arg, info->qname)) {
		v->rcode = LDNS_RCODE_NXDOMAIN;
		info->reason = "name not allowed";
		return;
	}
	info->allowed = 1;
	if (qtype != LDNS_RR_TYPE_A) {
		/* AAAA included: the synthetic addresses are IPv4 only, and
		 * NODATA makes every client fall back to the A answer. */
		info->reason = "type not served";
		return;
	}
	uint32_t addr;
	int r = petri__net_names_assign(names, info->qname, &addr);
	if (r < 0) {
		v->rcode = LDNS_RCODE_SERVFAIL;
		info->reason = r == -ENOSPC ? "names exhausted" : "out of memory";
		return;
	}
	v->a = addr;
	info->reason = "allowed";
}

static ldns_rr *a_record(const ldns_rr *question, uint32_t addr)
{
	ldns_rr *rr = ldns_rr_new();
	ldns_rdf *owner = ldns_rdf_clone(ldns_rr_owner(question));
	uint32_t be = htonl(addr);
	ldns_rdf *rdata = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, sizeof(be), &be);
	if (!rr || !owner || !rdata) {
		ldns_rr_free(rr);
		ldns_rdf_deep_free(owner);
		ldns_rdf_deep_free(rdata);
		return NULL;
	}
	/* The owner is the question's name as the client wrote it, case
	 * included (resolvers that randomise the case check it). */
	ldns_rr_set_owner(rr, owner);
	ldns_rr_set_type(rr, LDNS_RR_TYPE_A);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, DNS_TTL);
	if (!ldns_rr_push_rdf(rr, rdata)) {
		ldns_rdf_deep_free(rdata);
		ldns_rr_free(rr);
		return NULL;
	}
	return rr;
}

/*
 * The answer to the query whose header is @q, as @v says, into @out: the
 * question echoed unless @with_question is 0 (or there is none), the A
 * record unless @with_answer is 0, TC if @tc.  Returns the wire length
 * (possibly over @cap: nothing is copied then), or -ENOMEM.
 */
static ssize_t build(const uint8_t *q, const struct verdict *v, int with_question, int with_answer,
		     int tc, uint8_t *out, size_t cap)
{
	ldns_pkt *pkt = ldns_pkt_new();
	if (!pkt)
		return -ENOMEM;
	ldns_pkt_set_id(pkt, (uint16_t)(q[0] << 8 | q[1]));
	ldns_pkt_set_qr(pkt, true);
	ldns_pkt_set_opcode(pkt, (ldns_pkt_opcode)((q[2] >> 3) & 0xf));
	ldns_pkt_set_aa(pkt, v->rcode == LDNS_RCODE_NOERROR || v->rcode == LDNS_RCODE_NXDOMAIN);
	ldns_pkt_set_tc(pkt, tc);
	ldns_pkt_set_rd(pkt, q[2] & 0x01);
	ldns_pkt_set_ra(pkt, true);
	ldns_pkt_set_cd(pkt, q[3] & 0x10);
	ldns_pkt_set_rcode(pkt, (uint8_t)v->rcode);

	ssize_t ret = -ENOMEM;
	if (with_question && v->question) {
		ldns_rr *qc = ldns_rr_clone(v->question);
		if (!qc || !ldns_pkt_push_rr(pkt, LDNS_SECTION_QUESTION, qc)) {
			ldns_rr_free(qc);
			goto out;
		}
		if (with_answer && v->a) {
			ldns_rr *a = a_record(v->question, v->a);
			if (!a || !ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, a)) {
				ldns_rr_free(a);
				goto out;
			}
		}
	}
	uint8_t *wire = NULL;
	size_t len = 0;
	if (ldns_pkt2wire(&wire, pkt, &len) != LDNS_STATUS_OK)
		goto out;
	if (len <= cap)
		memcpy(out, wire, len);
	free(wire);
	ret = (ssize_t)len;
out:
	ldns_pkt_free(pkt);
	return ret;
}

/* The answer, or a truncated one (TC, fewer sections) when it does not fit
 * @cap: for UDP, the client asks again over TCP.  *@whole: it is complete. */
static ssize_t emit(const uint8_t *q, const struct verdict *v, uint8_t *out, size_t cap, int *whole)
{
	ssize_t n = build(q, v, 1, 1, 0, out, cap);
	*whole = n >= 0 && (size_t)n <= cap;
	if (n < 0 || (size_t)n <= cap)
		return n;
	n = build(q, v, 1, 0, 1, out, cap);
	if (n < 0 || (size_t)n <= cap)
		return n;
	n = build(q, v, 0, 0, 1, out, cap);
	return n < 0 || (size_t)n <= cap ? n : -ENOSPC;
}

ssize_t petri__net_dns_answer(const uint8_t *q, size_t qlen, uint8_t *out, size_t cap,
			      struct petri_net_names *names, petri_net_name_allowed_fn allowed,
			      void *arg, struct petri_net_dns_info *info)
{
	struct petri_net_dns_info scratch;
	if (!info)
		info = &scratch;
	memset(info, 0, sizeof(*info));
	info->rcode = -1;
	if (!q || (!out && cap) || !names)
		return -EINVAL;
	if (qlen < DNS_HEADER_LEN) {
		/* Not a DNS message: there is no ID to answer to. */
		info->reason = "malformed";
		return 0;
	}
	if (q[2] & 0x80) {
		/* A response: answering it could loop two servers forever. */
		info->reason = "not a query";
		return 0;
	}
	if (cap < DNS_HEADER_LEN)
		return -ENOSPC;

	struct verdict v = {.rcode = LDNS_RCODE_NOERROR};
	ldns_pkt *pkt = NULL, *parsed = NULL;
	int opcode = (q[2] >> 3) & 0xf;
	if (opcode == LDNS_PACKET_QUERY && ldns_wire2pkt(&parsed, q, qlen) == LDNS_STATUS_OK)
		pkt = parsed; /* (on failure, ldns has freed what it made) */
	if (opcode != LDNS_PACKET_QUERY) {
		v.rcode = LDNS_RCODE_NOTIMPL;
		info->reason = "not a query";
	} else if (!pkt || ldns_pkt_qdcount(pkt) != 1) {
		/* Cut short, bad names or pointers, or not exactly one
		 * question: answer with the ID and nothing else. */
		v.rcode = LDNS_RCODE_FORMERR;
		info->reason = "malformed";
		if (pkt && ldns_pkt_qdcount(pkt) > 1) {
			/* Still, what the first one asked, for the audit. */
			const ldns_rr *first = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
			info->qtype = (uint16_t)ldns_rr_get_type(first);
			qname_escaped(ldns_rr_owner(first), info->qname, &info->qname_truncated);
		}
	} else {
		v.question = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
		info->qtype = (uint16_t)ldns_rr_get_type(v.question);
		if (ldns_rr_get_class(v.question) != LDNS_RR_CLASS_IN) {
			/* CHAOS (version.bind) and the rest: we serve IN only. */
			qname_escaped(ldns_rr_owner(v.question), info->qname,
				      &info->qname_truncated);
			v.rcode = LDNS_RCODE_REFUSED;
			info->reason = "class not served";
		} else {
			answer_question(v.question, names, allowed, arg, info, &v);
		}
	}
	int whole;
	ssize_t n = emit(q, &v, out, cap, &whole);
	ldns_pkt_free(pkt);
	if (n < 0)
		return n;
	info->rcode = v.rcode;
	info->answer = whole ? v.a : 0;
	return n;
}
