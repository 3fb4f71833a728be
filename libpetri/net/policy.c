/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.c - the egress allowlist (PETRI_NET_PROXY): parsing its entries,
 * normalising host names and IP literals the way a client may write them,
 * matching a name and port against the rules, and the classes of addresses
 * the host never dials on a sandbox's behalf.
 *
 * Everything a sandbox says about where it wants to go (a CONNECT target,
 * an SNI, a Host header, a DNS question) goes through petri__net_host_norm
 * before it is compared with anything, and so do the allowlist's own
 * entries: two spellings of one destination ("Example.COM.", "example.com";
 * "2130706433", "0177.1", "127.0.0.1"; "bücher.example",
 * "xn--bcher-kva.example") always compare equal, and a spelling that is
 * not a host at all is refused rather than guessed at.
 *
 * No function here opens a socket, resolves a name or allocates outside
 * petri__net_policy_parse.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <strings.h>
#include <idn2.h>

#include "net.h"

/* The most entries an allowlist may have (a bound on what parse allocates). */
#define POLICY_MAX_RULES 4096
/* The longest input petri__net_host_norm looks at: IDNA may map many code
 * points to nothing (U+200B), so the bound is on the input, not the
 * result (which is at most 253). */
#define HOST_IN_MAX 1024

/* ---- IP literals ---- */

static int is_mapped_v4(const uint8_t a[16])
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	return memcmp(a, prefix, sizeof(prefix)) == 0;
}

/* @a with an IPv4-mapped IPv6 address turned into the IPv4 it carries. */
static struct petri_net_addr unmap(const struct petri_net_addr *a)
{
	struct petri_net_addr r = *a;
	if (r.family == AF_INET6 && is_mapped_v4(r.a)) {
		r.family = AF_INET;
		memmove(r.a, a->a + 12, 4);
		memset(r.a + 4, 0, 12);
	}
	return r;
}

static int addr_eq(const struct petri_net_addr *x, const struct petri_net_addr *y)
{
	struct petri_net_addr a = unmap(x), b = unmap(y);
	if (a.family != b.family || (a.family != AF_INET && a.family != AF_INET6))
		return 0;
	return memcmp(a.a, b.a, a.family == AF_INET ? 4 : 16) == 0;
}

static void addr_v4(struct petri_net_addr *a, uint32_t host_order)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	uint32_t be = htonl(host_order);
	memcpy(a->a, &be, 4);
}

static uint32_t v4_of(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* One part of an inet_aton-style IPv4 literal: "0x" hex (digits optional,
 * as browsers read it), a leading 0 octal, else decimal.  0 or -1. */
static int v4_part(const char *s, size_t n, uint64_t *out)
{
	unsigned base = 10;
	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		n -= 2;
	} else if (n >= 2 && s[0] == '0') {
		base = 8;
		s++;
		n--;
	} else if (n == 0) {
		return -1;
	}
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned d;
		char c = s[i];
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a') + 10;
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A') + 10;
		else
			return -1;
		if (d >= base)
			return -1;
		v = v * base + d;
		if (v > 0xffffffffu)
			return -1;
	}
	*out = v;
	return 0;
}

/* Does @s (@n bytes) read as a number in an IPv4 literal?  Then the whole
 * host must be one ("a name made only of digits and dots is an address"). */
static int numeric_label(const char *s, size_t n)
{
	size_t i = 0;
	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		for (i = 2; i < n; i++)
			if (!isxdigit((unsigned char)s[i]))
				return 0;
		return 1;
	}
	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* inet_aton's forms: a.b.c.d, a.b.c (c: 16 bits), a.b (b: 24 bits), a
 * (32 bits), each part decimal, octal or hex.  0 or -1. */
static int parse_v4_any(const char *s, size_t n, uint32_t *out)
{
	uint64_t part[4];
	size_t np = 0, start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (np == 4 || v4_part(s + start, i - start, &part[np]) < 0)
			return -1;
		np++;
		start = i + 1;
	}
	uint64_t v = 0;
	for (size_t i = 0; i + 1 < np; i++) {
		if (part[i] > 255)
			return -1;
		v |= part[i] << (24 - 8 * i);
	}
	uint64_t last_max = 0xffffffffu >> (8 * (np - 1));
	if (part[np - 1] > last_max)
		return -1;
	*out = (uint32_t)(v | part[np - 1]);
	return 0;
}

/* An IPv6 literal (no brackets; zone ids refused).  0 or a static reason. */
static const char *parse_v6(const char *s, size_t n, struct petri_net_addr *a)
{
	char buf[INET6_ADDRSTRLEN + 8];
	if (memchr(s, '%', n))
		return "IPv6 zone ids ('%') are not allowed";
	if (n == 0 || n >= sizeof(buf))
		return "invalid IPv6 address";
	memcpy(buf, s, n);
	buf[n] = '\0';
	struct in6_addr in6;
	if (inet_pton(AF_INET6, buf, &in6) != 1)
		return "invalid IPv6 address";
	memset(a, 0, sizeof(*a));
	a->family = AF_INET6;
	memcpy(a->a, &in6, 16);
	*a = unmap(a);
	return NULL;
}

const char *petri__net_addr_str(const struct petri_net_addr *a, char *buf, size_t cap)
{
	if (!buf || cap == 0)
		return "";
	buf[0] = '\0';
	if (a && (a->family == AF_INET || a->family == AF_INET6) &&
	    !inet_ntop(a->family, a->a, buf, (socklen_t)(cap > 256 ? 256 : cap)))
		buf[0] = '\0';
	return buf;
}

/* ---- names ---- */

static int host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Append one label of the input to @out (at *@len, NUL kept), through IDNA
 * when it is not plain ASCII or claims to be an A-label already ("xn--",
 * which is checked to be one).  ASCII labels are only lowered: IDNA's
 * rules for U-labels ("--" in positions 3-4, no leading hyphen) would
 * refuse real names such as "r3---sn-x.googlevideo.com".  0 or a reason. */
static const char *append_label(const char *s, size_t n, char *out, size_t *len)
{
	int ascii = 1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			ascii = 0;
	int alabel = n >= 4 && strncasecmp(s, "xn--", 4) == 0;
	if (ascii && !alabel) {
		if (*len + n >= PETRI_NET_HOST_MAX)
			return "name longer than 253 characters";
		for (size_t i = 0; i < n; i++)
			out[(*len)++] = (char)tolower((unsigned char)s[i]);
		out[*len] = '\0';
		return NULL;
	}
	char label[HOST_IN_MAX + 1];
	memcpy(label, s, n);
	label[n] = '\0';
	uint8_t *a = NULL;
	int r = idn2_lookup_u8((const uint8_t *)label, &a, IDN2_NONTRANSITIONAL);
	if (r != IDN2_OK) {
		static __thread char why[160];
		snprintf(why, sizeof(why), "not a valid internationalised name (IDNA 2008: %s)",
			 idn2_strerror(r));
		return why;
	}
	size_t an = strlen((const char *)a);
	if (*len + an >= PETRI_NET_HOST_MAX) {
		idn2_free(a);
		return "name longer than 253 characters";
	}
	for (size_t i = 0; i < an; i++)
		out[(*len)++] = (char)tolower(a[i]);
	out[*len] = '\0';
	idn2_free(a);
	return NULL;
}

/* petri__net_host_norm with the reason of a refusal. */
static const char *host_norm(const char *in, size_t len, char out[PETRI_NET_HOST_MAX],
			     struct petri_net_addr *addr)
{
	char buf[PETRI_NET_HOST_MAX];
	struct petri_net_addr a = {0};

	if (!in || len == 0)
		return "empty host";
	if (len > HOST_IN_MAX)
		return "host longer than 1024 bytes";
	if (memchr(in, '\0', len))
		return "NUL byte in host";

	/* IPv6, bracketed or not: a name never has ':'. */
	if (in[0] == '[' || memchr(in, ':', len)) {
		const char *s = in;
		size_t n = len;
		if (in[0] == '[') {
			if (len < 2 || in[len - 1] != ']')
				return "unterminated '[' in IPv6 literal";
			s++;
			n -= 2;
		}
		const char *why = parse_v6(s, n, &a);
		if (why)
			return why;
		goto literal;
	}

	/* A name, label by label through IDNA where needed. */
	size_t olen = 0;
	buf[0] = '\0';
	for (size_t start = 0, i = 0; i <= len; i++) {
		if (i < len && in[i] != '.')
			continue;
		const char *why = append_label(in + start, i - start, buf, &olen);
		if (why)
			return why;
		if (i < len) {
			if (olen + 1 >= PETRI_NET_HOST_MAX)
				return "name longer than 253 characters";
			buf[olen++] = '.';
			buf[olen] = '\0';
		}
		start = i + 1;
	}
	/* IDNA may have mapped a full-width stop ("。") to the trailing dot. */
	if (olen > 0 && buf[olen - 1] == '.')
		buf[--olen] = '\0';
	if (olen == 0)
		return "empty host";

	/* Digits and dots, or hex: an IPv4 literal in one of inet_aton's forms
	 * (what a resolver would make of it), never a name. */
	const char *last = strrchr(buf, '.');
	last = last ? last + 1 : buf;
	if (numeric_label(last, strlen(last))) {
		uint32_t v4;
		if (parse_v4_any(buf, olen, &v4) < 0)
			return "invalid IPv4 address";
		addr_v4(&a, v4);
		goto literal;
	}

	if (olen > 253)
		return "name longer than 253 characters";
	for (size_t start = 0, i = 0; i <= olen; i++) {
		if (i < olen && buf[i] != '.') {
			if (!host_char(buf[i]))
				return "character not allowed in a host name";
			continue;
		}
		if (i == start)
			return "empty label";
		if (i - start > 63)
			return "label longer than 63 characters";
		start = i + 1;
	}
	memcpy(out, buf, olen + 1);
	if (addr)
		memset(addr, 0, sizeof(*addr));
	return NULL;

literal:
	if (!inet_ntop(a.family, a.a, buf, sizeof(buf)))
		return "invalid address";
	strcpy(out, buf);
	if (addr)
		*addr = a;
	return NULL;
}

int petri__net_host_norm(const char *in, size_t len, char out[PETRI_NET_HOST_MAX],
			 struct petri_net_addr *addr)
{
	/* host_norm writes @out and @addr only when it succeeds. */
	return out && !host_norm(in, len, out, addr) ? 0 : -EINVAL;
}

/* ---- the allowlist ---- */

/* The length of the well-formed UTF-8 sequence (not a C1 control) at
 * @s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n = c >= 0xc2 && c <= 0xdf ? 2 :
		   c >= 0xe0 && c <= 0xef ? 3 :
		   c >= 0xf0 && c <= 0xf4 ? 4 :
					    0;
	if (n == 0 || (c == 0xc2 && s[1] < 0xa0))
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0) ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
		return 0; /* overlong, surrogate, beyond U+10FFFF */
	return n;
}

/* An entry as it may be quoted in a one-line message: at most 80 bytes,
 * printable ASCII and well-formed UTF-8 as is, any other byte as '?'. */
static const char *entry_quote(const char *e, char buf[96])
{
	const unsigned char *u = (const unsigned char *)e;
	size_t i = 0, o = 0;
	while (u[i] && o < 80) {
		size_t n = u[i] >= 0x20 && u[i] < 0x7f ? 1 : u[i] >= 0x80 ? utf8_len(u + i) : 0;
		if (n == 0) {
			buf[o++] = '?';
			i++;
			continue;
		}
		if (o + n > 80)
			break;
		memcpy(buf + o, e + i, n);
		o += n;
		i += n;
	}
	buf[o] = '\0';
	if (u[i])
		strcpy(buf + o, "...");
	return buf;
}

/* -EINVAL with "allow entry 'ENTRY': WHY". */
static int entry_err(petri_error **err, const char *entry, const char *why)
{
	char q[96];
	return petri__err(err, 0, "allow entry '%s': %s", entry_quote(entry, q), why);
}

/* A port: 1..65535 in decimal, not one of the proxy's own.  0 or a reason. */
static const char *parse_port(const char *s, size_t n, uint16_t *port)
{
	if (n == 0)
		return "empty port after ':'";
	uint32_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return "port is not a decimal number";
		v = v * 10 + (uint32_t)(s[i] - '0');
		if (v > 65535)
			return "port out of range (1-65535)";
	}
	if (v == 0)
		return "port out of range (1-65535)";
	if (v == PETRI_NET_DNS_PORT)
		return "port 53 is the sandbox's DNS server (names on the list are resolved "
		       "without it)";
	if (v == PETRI_NET_PROXY_PORT)
		return "port 3128 is the sandbox's proxy";
	*port = (uint16_t)v;
	return NULL;
}

/* =ADDR: an IPv4 or IPv6 address (brackets optional), one that can be
 * connected to.  0 or a reason. */
static const char *parse_pin(const char *s, struct petri_net_addr *pin)
{
	size_t n = strlen(s);
	if (n == 0)
		return "empty address after '='";
	if (s[0] == '[') {
		if (n < 2 || s[n - 1] != ']')
			return "unterminated '[' in the address after '='";
		s++;
		n -= 2;
	}
	char buf[INET6_ADDRSTRLEN + 8];
	if (n >= sizeof(buf))
		return "the address after '=' is not an IPv4 or IPv6 address";
	memcpy(buf, s, n);
	buf[n] = '\0';
	struct in_addr in4;
	if (inet_pton(AF_INET, buf, &in4) == 1) {
		addr_v4(pin, ntohl(in4.s_addr));
	} else if (strchr(buf, ':')) {
		const char *why = parse_v6(buf, n, pin);
		if (why)
			return strchr(buf, '%') ? why :
						  "the address after '=' is not an IPv4 or IPv6 "
						  "address";
	} else {
		return "the address after '=' is not an IPv4 or IPv6 address (give dotted decimal "
		       "or IPv6)";
	}
	int cls = petri__net_addr_class(pin, NULL, 0);
	if (cls == PETRI_NET_ADDR_UNSPECIFIED || cls == PETRI_NET_ADDR_MULTICAST ||
	    cls == PETRI_NET_ADDR_BROADCAST)
		return "the address after '=' cannot be connected to (unspecified, multicast or "
		       "broadcast)";
	return NULL;
}

/* Parse one entry into @r.  0 or -EINVAL with @err. */
static int parse_entry(const char *entry, struct petri_net_rule *r, petri_error **err)
{
	size_t n = strlen(entry);
	const char *why = NULL;

	memset(r, 0, sizeof(*r));
	if (n == 0)
		return entry_err(err, entry, "empty entry (expected HOST[:PORT][=ADDR])");
	if (n > HOST_IN_MAX)
		return entry_err(err, entry, "longer than 1024 bytes");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)entry[i] <= 0x20 || entry[i] == 0x7f)
			return entry_err(err, entry,
					 "spaces and control characters are not allowed");
	if (strstr(entry, "://"))
		return entry_err(err, entry,
				 "a URL is not an entry: give HOST[:PORT][=ADDR] without a scheme");
	if (strchr(entry, '@'))
		return entry_err(err, entry, "user info ('user@') is not allowed");
	if (strpbrk(entry, "/?#"))
		return entry_err(err, entry, "a path, query or fragment is not allowed");

	/* HOST[:PORT] '=' ADDR: neither host nor port has an '='. */
	const char *eq = strchr(entry, '=');
	size_t hp = eq ? (size_t)(eq - entry) : n;
	if (eq) {
		if ((why = parse_pin(eq + 1, &r->pin)))
			return entry_err(err, entry, why);
		r->pinned = 1;
	}

	/* HOST and PORT. */
	const char *host = entry;
	size_t hn = hp;
	const char *colon = NULL;
	if (entry[0] == '[') {
		const char *close = memchr(entry, ']', hp);
		if (!close)
			return entry_err(err, entry, "unterminated '[' in IPv6 literal");
		hn = (size_t)(close - entry) + 1;
		if (hn < hp && entry[hn] != ':')
			return entry_err(err, entry,
					 "unexpected text after ']' (expected ':PORT')");
		if (hn < hp)
			colon = entry + hn;
	} else {
		colon = memchr(entry, ':', hp);
		if (colon && memchr(colon + 1, ':', hp - (size_t)(colon + 1 - entry))) {
			struct petri_net_addr tmp;
			if (!parse_v6(entry, hp, &tmp))
				return entry_err(
					err, entry,
					"an IPv6 literal needs brackets: [ADDR] or [ADDR]:PORT");
			return entry_err(err, entry, "more than one ':'");
		}
		if (colon)
			hn = (size_t)(colon - entry);
	}
	if (colon && (why = parse_port(colon + 1, hp - (size_t)(colon + 1 - entry), &r->port)))
		return entry_err(err, entry, why);
	if (hn == 0)
		return entry_err(err, entry, "empty host");

	/* "*.NAME": subdomains of NAME, and '*' nowhere else. */
	if (host[0] == '*') {
		if (hn < 3 || host[1] != '.')
			return entry_err(err, entry,
					 "a wildcard is a whole first label: '*.example.com'");
		r->wildcard = 1;
		host += 2;
		hn -= 2;
	}
	if (memchr(host, '*', hn))
		return entry_err(err, entry,
				 "'*' is only allowed as a whole first label: '*.example.com'");
	if (entry[0] == '[' && host[0] == '[' && !memchr(host, ':', hn))
		return entry_err(err, entry, "brackets are for IPv6 literals only");

	struct petri_net_addr lit;
	if ((why = host_norm(host, hn, r->host, &lit))) {
		char q[96];
		return petri__err(err, 0, "allow entry '%s': invalid host: %s",
				  entry_quote(entry, q), why);
	}
	if (lit.family) {
		if (r->wildcard)
			return entry_err(err, entry, "a wildcard over an IP address");
		if (r->pinned)
			return entry_err(err, entry,
					 "'=ADDR' pins the address of a name; this entry is "
					 "already an address");
		r->literal = 1;
		r->literal_addr = lit;
	} else if (r->wildcard && !strchr(r->host, '.')) {
		return entry_err(err, entry,
				 "a wildcard over a top-level domain ('*.com') is not allowed");
	}
	return 0;
}

static int ports_overlap(uint16_t a, uint16_t b)
{
	if (a == b)
		return 1;
	if (a == 0)
		return b == 80 || b == 443;
	if (b == 0)
		return a == 80 || a == 443;
	return 0;
}

/* Two entries that name the same destination (host, kind, a port in
 * common) must agree on its address: the first would silently win. */
static const struct petri_net_rule *conflict(const struct petri_net_rule *rules, size_t n,
					     const struct petri_net_rule *r)
{
	for (size_t i = 0; i < n; i++) {
		const struct petri_net_rule *o = &rules[i];
		if (o->wildcard != r->wildcard || strcmp(o->host, r->host) != 0 ||
		    !ports_overlap(o->port, r->port))
			continue;
		if (o->pinned != r->pinned || (r->pinned && !addr_eq(&o->pin, &r->pin)))
			return o;
	}
	return NULL;
}

static int add_port(struct petri_net_policy *p, uint16_t port)
{
	size_t i = 0;
	while (i < p->nports && p->ports[i] < port)
		i++;
	if (i < p->nports && p->ports[i] == port)
		return 0;
	if (p->nports == sizeof(p->ports) / sizeof(p->ports[0]))
		return -1;
	memmove(&p->ports[i + 1], &p->ports[i], (p->nports - i) * sizeof(p->ports[0]));
	p->ports[i] = port;
	p->nports++;
	return 0;
}

int petri__net_policy_parse(struct petri_net_policy *p, const char *const *allow, petri_error **err)
{
	if (!p)
		return petri__err(err, 0, "allow: no policy to parse into");
	memset(p, 0, sizeof(*p));
	size_t n = 0;
	while (allow && allow[n] && n <= POLICY_MAX_RULES)
		n++;
	if (n == 0)
		return petri__err(err, 0,
				  "allow: the allowlist is empty (network mode proxy needs at "
				  "least one HOST[:PORT][=ADDR])");
	if (n > POLICY_MAX_RULES)
		return petri__err(err, 0, "allow: more than %d entries", POLICY_MAX_RULES);

	struct petri_net_policy q = {0};
	q.rules = calloc(n, sizeof(*q.rules));
	if (!q.rules)
		return petri__err(err, ENOMEM, "allow: %zu entries", n);
	for (size_t i = 0; i < n; i++) {
		struct petri_net_rule *r = &q.rules[i];
		int rc = parse_entry(allow[i], r, err);
		const struct petri_net_rule *o = rc == 0 ? conflict(q.rules, i, r) : NULL;
		if (o) {
			char q1[96], q2[96];
			rc = petri__err(
				err, 0,
				"allow entry '%s': conflicts with entry '%s' (same host and "
				"port, another address)",
				entry_quote(allow[i], q1), entry_quote(allow[o - q.rules], q2));
		}
		int full = 0;
		if (rc == 0 && r->port == 0)
			full = add_port(&q, 80) < 0 || add_port(&q, 443) < 0;
		else if (rc == 0)
			full = add_port(&q, r->port) < 0;
		if (full) {
			char q1[96];
			rc = petri__err(err, 0,
					"allow entry '%s': more than %zu distinct ports in the "
					"allowlist",
					entry_quote(allow[i], q1),
					sizeof(q.ports) / sizeof(q.ports[0]));
		}
		if (rc < 0) {
			free(q.rules);
			return rc;
		}
		q.n++;
	}
	*p = q;
	return 0;
}

void petri__net_policy_free(struct petri_net_policy *p)
{
	if (!p)
		return;
	free(p->rules);
	memset(p, 0, sizeof(*p));
}

const struct petri_net_rule *petri__net_policy_match(const struct petri_net_policy *p,
						     const char *host, uint16_t port)
{
	if (!p || !host)
		return NULL;
	size_t hl = strlen(host);
	const struct petri_net_rule *best = NULL;
	size_t best_len = 0;
	for (size_t i = 0; i < p->n; i++) {
		const struct petri_net_rule *r = &p->rules[i];
		if (port != 0 && !(r->port == 0 ? port == 80 || port == 443 : port == r->port))
			continue;
		if (!r->wildcard) {
			if (strcmp(host, r->host) == 0)
				return r; /* an exact rule beats any wildcard */
			continue;
		}
		size_t rl = strlen(r->host);
		if (hl > rl + 1 && host[hl - rl - 1] == '.' &&
		    strcmp(host + hl - rl, r->host) == 0 && rl > best_len) {
			best = r; /* the longest suffix is the most specific */
			best_len = rl;
		}
	}
	return best;
}

/* ---- address classes ---- */

struct v4_range {
	uint32_t net;
	int bits;
	int cls;
};

/* In order: the first range that holds the address decides. */
/* clang-format off */
static const struct v4_range v4_ranges[] = {
	{0x00000000u, 8, PETRI_NET_ADDR_UNSPECIFIED}, /* 0.0.0.0/8 "this network" */
	{0x7f000000u, 8, PETRI_NET_ADDR_LOOPBACK},    /* 127/8 */
	{0xa9fea9feu, 32, PETRI_NET_ADDR_METADATA},   /* 169.254.169.254 */
	{0x0a000000u, 8, PETRI_NET_ADDR_PRIVATE},     /* 10/8 */
	{0xac100000u, 12, PETRI_NET_ADDR_PRIVATE},    /* 172.16/12 */
	{0xc0a80000u, 16, PETRI_NET_ADDR_PRIVATE},    /* 192.168/16 */
	{0x64400000u, 10, PETRI_NET_ADDR_PRIVATE},    /* 100.64/10 CGNAT */
	{0xa9fe0000u, 16, PETRI_NET_ADDR_LINK_LOCAL}, /* 169.254/16 */
	{0xe0000000u, 4, PETRI_NET_ADDR_MULTICAST},   /* 224/4 */
	{0xffffffffu, 32, PETRI_NET_ADDR_BROADCAST},  /* 255.255.255.255 */
	{0xf0000000u, 4, PETRI_NET_ADDR_RESERVED},    /* 240/4 */
	{0xc0000000u, 24, PETRI_NET_ADDR_RESERVED},   /* 192.0.0/24 IETF protocol assignments */
	{0xc0000200u, 24, PETRI_NET_ADDR_RESERVED},   /* 192.0.2/24 TEST-NET-1 */
	{0xc0586300u, 24, PETRI_NET_ADDR_RESERVED},   /* 192.88.99/24 6to4 relay (deprecated) */
	{0xc6120000u, 15, PETRI_NET_ADDR_RESERVED},   /* 198.18/15 benchmarking */
	{0xc6336400u, 24, PETRI_NET_ADDR_RESERVED},   /* 198.51.100/24 TEST-NET-2 */
	{0xcb007100u, 24, PETRI_NET_ADDR_RESERVED},   /* 203.0.113/24 TEST-NET-3 */
};
/* clang-format on */

static int own_match(const struct petri_net_addr *a, const struct petri_net_addr *own, size_t n_own)
{
	for (size_t i = 0; own && i < n_own; i++)
		if (addr_eq(a, &own[i]))
			return 1;
	return 0;
}

static int class_v4(uint32_t v, const struct petri_net_addr *own, size_t n_own)
{
	struct petri_net_addr a;
	addr_v4(&a, v);
	/* Loopback first: it is in every host's list (lo), and "loopback" is
	 * the better reason. */
	if ((v >> 24) == 127)
		return PETRI_NET_ADDR_LOOPBACK;
	if (own_match(&a, own, n_own))
		return PETRI_NET_ADDR_HOST_OWN;
	for (size_t i = 0; i < sizeof(v4_ranges) / sizeof(v4_ranges[0]); i++) {
		uint32_t mask = 0xffffffffu << (32 - v4_ranges[i].bits);
		if ((v & mask) == v4_ranges[i].net)
			return v4_ranges[i].cls;
	}
	return PETRI_NET_ADDR_PUBLIC;
}

static int v6_in(const uint8_t a[16], const uint8_t *net, int bits)
{
	int bytes = bits / 8, rest = bits % 8;
	if (memcmp(a, net, (size_t)bytes) != 0)
		return 0;
	if (rest == 0)
		return 1;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[bytes] & mask) == (net[bytes] & mask);
}

static int class_v6(const struct petri_net_addr *a, const struct petri_net_addr *own, size_t n_own)
{
	static const uint8_t zero[16] = {0};
	static const uint8_t loop[16] = {[15] = 1};
	static const uint8_t metadata[16] = {0xfd, 0x00, 0x0e, 0xc2, [14] = 0x02, [15] = 0x54};
	static const uint8_t nat64[16] = {0, 0x64, 0xff, 0x9b};
	static const uint8_t nat64_local[16] = {0, 0x64, 0xff, 0x9b, 0, 1};
	static const uint8_t sixto4[16] = {0x20, 0x02};
	static const uint8_t ula[16] = {0xfc};
	static const uint8_t site_local[16] = {0xfe, 0xc0};
	static const uint8_t link_local[16] = {0xfe, 0x80};
	static const uint8_t mcast[16] = {0xff};
	static const uint8_t doc[16] = {0x20, 0x01, 0x0d, 0xb8};
	static const uint8_t doc2[16] = {0x3f, 0xff};
	static const uint8_t teredo[16] = {0x20, 0x01};
	static const uint8_t bench[16] = {0x20, 0x01, 0, 0x02};
	static const uint8_t discard[16] = {0x01};
	static const uint8_t global[16] = {0x20};
	const uint8_t *b = a->a;

	if (memcmp(b, zero, 16) == 0)
		return PETRI_NET_ADDR_UNSPECIFIED;
	if (memcmp(b, loop, 16) == 0)
		return PETRI_NET_ADDR_LOOPBACK;
	if (own_match(a, own, n_own))
		return PETRI_NET_ADDR_HOST_OWN;
	if (memcmp(b, metadata, 16) == 0)
		return PETRI_NET_ADDR_METADATA;
	/* Addresses that carry an IPv4 the traffic ends up at: its class. */
	if (v6_in(b, nat64, 96))
		return class_v4(v4_of(b + 12), own, n_own);
	if (v6_in(b, sixto4, 16))
		return class_v4(v4_of(b + 2), own, n_own);
	if (v6_in(b, zero, 96)) /* ::a.b.c.d, IPv4-compatible (deprecated) */
		return PETRI_NET_ADDR_RESERVED;
	if (v6_in(b, mcast, 8))
		return PETRI_NET_ADDR_MULTICAST;
	if (v6_in(b, link_local, 10))
		return PETRI_NET_ADDR_LINK_LOCAL;
	if (v6_in(b, ula, 7) || v6_in(b, site_local, 10))
		return PETRI_NET_ADDR_PRIVATE;
	if (v6_in(b, nat64_local, 48) || v6_in(b, doc, 32) || v6_in(b, doc2, 20) ||
	    v6_in(b, teredo, 32) || v6_in(b, bench, 48) || v6_in(b, discard, 64))
		return PETRI_NET_ADDR_RESERVED;
	/* Only 2000::/3 is global unicast. */
	if (!v6_in(b, global, 3))
		return PETRI_NET_ADDR_RESERVED;
	return PETRI_NET_ADDR_PUBLIC;
}

int petri__net_addr_class(const struct petri_net_addr *a, const struct petri_net_addr *own,
			  size_t n_own)
{
	if (!a)
		return -EINVAL;
	struct petri_net_addr u = unmap(a);
	if (u.family == AF_INET)
		return class_v4(v4_of(u.a), own, n_own);
	if (u.family == AF_INET6)
		return class_v6(&u, own, n_own);
	return -EINVAL;
}

const char *petri__net_addr_class_name(int cls)
{
	switch (cls) {
	case PETRI_NET_ADDR_PUBLIC:
		return "public";
	case PETRI_NET_ADDR_LOOPBACK:
		return "loopback";
	case PETRI_NET_ADDR_PRIVATE:
		return "private";
	case PETRI_NET_ADDR_LINK_LOCAL:
		return "link-local";
	case PETRI_NET_ADDR_METADATA:
		return "metadata";
	case PETRI_NET_ADDR_MULTICAST:
		return "multicast";
	case PETRI_NET_ADDR_UNSPECIFIED:
		return "unspecified";
	case PETRI_NET_ADDR_BROADCAST:
		return "broadcast";
	case PETRI_NET_ADDR_RESERVED:
		return "reserved";
	case PETRI_NET_ADDR_HOST_OWN:
		return "host-own";
	}
	return "invalid";
}

static const char *class_why(int cls)
{
	switch (cls) {
	case PETRI_NET_ADDR_LOOPBACK:
		return "address is loopback";
	case PETRI_NET_ADDR_PRIVATE:
		return "address is private";
	case PETRI_NET_ADDR_LINK_LOCAL:
		return "address is link-local";
	case PETRI_NET_ADDR_METADATA:
		return "address is the cloud metadata service";
	case PETRI_NET_ADDR_MULTICAST:
		return "address is multicast";
	case PETRI_NET_ADDR_UNSPECIFIED:
		return "address is unspecified";
	case PETRI_NET_ADDR_BROADCAST:
		return "address is broadcast";
	case PETRI_NET_ADDR_RESERVED:
		return "address is reserved";
	case PETRI_NET_ADDR_HOST_OWN:
		return "address is the host's own";
	}
	return "no valid address";
}

int petri__net_dial_check(const struct petri_net_rule *rule, const struct petri_net_addr *a,
			  const struct petri_net_addr *own, size_t n_own, const char **why)
{
	int cls = petri__net_addr_class(a, own, n_own);
	if (cls < 0) {
		if (why)
			*why = class_why(cls);
		return -EACCES;
	}
	if (rule && rule->pinned && addr_eq(a, &rule->pin))
		return 0;
	if (rule && rule->literal && addr_eq(a, &rule->literal_addr))
		return 0;
	if (cls == PETRI_NET_ADDR_PUBLIC)
		return 0;
	if (why)
		*why = class_why(cls);
	return -EACCES;
}

int petri__net_host_addrs(struct petri_net_addr *out, size_t cap)
{
	struct ifaddrs *ifs = NULL;
	if (getifaddrs(&ifs) < 0)
		return -errno;
	size_t n = 0;
	int overflow = 0;
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		struct petri_net_addr a = {0};
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			const struct sockaddr_in *s = (const struct sockaddr_in *)i->ifa_addr;
			a.family = AF_INET;
			memcpy(a.a, &s->sin_addr, 4);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)i->ifa_addr;
			a.family = AF_INET6;
			memcpy(a.a, &s->sin6_addr, 16);
		} else {
			continue;
		}
		if (out && n < cap)
			out[n] = a;
		else if (out || cap)
			overflow = 1;
		n++;
	}
	freeifaddrs(ifs);
	if (overflow)
		return -ENOBUFS;
	return n > INT32_MAX ? -ENOBUFS : (int)n;
}
