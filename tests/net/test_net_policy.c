/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_net_policy - the egress allowlist (libpetri/net/policy.c), as pure
 * functions: no socket is opened and no name resolved.
 *  - parsing: every accepted form (names, wildcards, IPv4/IPv6 literals,
 *    ports, =ADDR pins) gives the expected rule; every malformed entry is
 *    -EINVAL with a one-line message naming the entry and the fault, and
 *    leaves the policy empty; the list of ports is exact and bounded;
 *  - normalisation: the odd spellings of an address (decimal, octal, hex,
 *    short, IPv4-mapped, bracketed, trailing dot, upper case, full-width)
 *    and internationalised names come out canonical, and normalising
 *    twice changes nothing; what is not a host is refused, output untouched;
 *  - matching: exact, wildcard (subdomains only), literals, ports, the most
 *    specific rule;
 *  - address classes, including metadata, NAT64/6to4 embedding, mapped
 *    IPv6 and the host's own; dial checks with pins and literals.
 * Internal functions: linked against the static library.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>

#include "petri_test.h"
#include "net/net.h"

/* ---- helpers ---- */

static struct petri_net_addr v4(const char *s)
{
	struct petri_net_addr a = {0};
	a.family = AF_INET;
	REQUIRE(inet_pton(AF_INET, s, a.a) == 1);
	return a;
}

static struct petri_net_addr v6(const char *s)
{
	struct petri_net_addr a = {0};
	a.family = AF_INET6;
	REQUIRE(inet_pton(AF_INET6, s, a.a) == 1);
	return a;
}

static int addr_is(const struct petri_net_addr *a, const struct petri_net_addr *b)
{
	return a->family == b->family && memcmp(a->a, b->a, a->family == AF_INET ? 4 : 16) == 0;
}

/* Parse a list; on failure print the message.  Returns the rc; the error
 * message (or "") goes to @msg. */
static int parse(struct petri_net_policy *p, const char *const *allow, char *msg, size_t cap)
{
	petri_error *e = NULL;
	int rc = petri__net_policy_parse(p, allow, &e);
	if (msg)
		snprintf(msg, cap, "%s", petri_error_message(e));
	if (rc == 0 && e)
		fprintf(stderr, "  parse succeeded but set an error: %s\n", petri_error_message(e));
	if (rc < 0 && petri_error_code(e) != rc)
		fprintf(stderr, "  error code %d != rc %d\n", petri_error_code(e), rc);
	petri_error_free(e);
	return rc;
}

/* One entry, which must parse: its rule. */
static struct petri_net_rule parse1(const char *entry)
{
	const char *allow[] = {entry, NULL};
	struct petri_net_policy p;
	char msg[512];
	int rc = parse(&p, allow, msg, sizeof(msg));
	CHECK_MSG(rc == 0, "'%s': %d %s", entry, rc, msg);
	REQUIRE(rc == 0 && p.n == 1);
	struct petri_net_rule r = p.rules[0];
	petri__net_policy_free(&p);
	return r;
}

/* ---- parsing ---- */

static void test_parse_name(void)
{
	struct petri_net_rule r = parse1("Example.COM.");
	CHECK(strcmp(r.host, "example.com") == 0);
	CHECK(!r.wildcard && !r.literal && !r.pinned);
	CHECK(r.port == 0);

	r = parse1("api.example.com:8443");
	CHECK(strcmp(r.host, "api.example.com") == 0);
	CHECK(r.port == 8443);
	CHECK(!r.pinned);

	/* IDNA: the rule holds the A-label. */
	r = parse1("bücher.example:443");
	CHECK(strcmp(r.host, "xn--bcher-kva.example") == 0);
	CHECK(r.port == 443);
}

static void test_parse_wildcard(void)
{
	struct petri_net_rule r = parse1("*.Example.com");
	CHECK(strcmp(r.host, "example.com") == 0);
	CHECK(r.wildcard && !r.literal);
	r = parse1("*.co.uk:8080");
	CHECK(strcmp(r.host, "co.uk") == 0 && r.wildcard && r.port == 8080);
	/* A wildcard may be pinned (curl --resolve '*.example.com:...'). */
	r = parse1("*.test.example=127.0.0.1");
	CHECK(r.wildcard && r.pinned);
	struct petri_net_addr lo = v4("127.0.0.1");
	CHECK(addr_is(&r.pin, &lo));
}

static void test_parse_literals(void)
{
	struct petri_net_rule r = parse1("1.2.3.4:443");
	struct petri_net_addr a = v4("1.2.3.4");
	CHECK(strcmp(r.host, "1.2.3.4") == 0);
	CHECK(r.literal && !r.wildcard && r.port == 443);
	CHECK(addr_is(&r.literal_addr, &a));

	r = parse1("[2001:DB8:0:0::1]:443");
	a = v6("2001:db8::1");
	CHECK(strcmp(r.host, "2001:db8::1") == 0);
	CHECK(r.literal && r.port == 443);
	CHECK(addr_is(&r.literal_addr, &a));

	r = parse1("[2001:db8::2]");
	CHECK(strcmp(r.host, "2001:db8::2") == 0 && r.literal && r.port == 0);

	/* Odd forms of an IPv4 literal become the canonical one. */
	r = parse1("2130706433:8080");
	a = v4("127.0.0.1");
	CHECK(strcmp(r.host, "127.0.0.1") == 0 && r.literal && r.port == 8080);
	CHECK(addr_is(&r.literal_addr, &a));
	r = parse1("[::ffff:10.1.2.3]");
	a = v4("10.1.2.3");
	CHECK(strcmp(r.host, "10.1.2.3") == 0 && r.literal);
	CHECK(addr_is(&r.literal_addr, &a));
}

static void test_parse_pins(void)
{
	struct petri_net_rule r = parse1("pkg.test:8080=127.0.0.1");
	struct petri_net_addr a = v4("127.0.0.1");
	CHECK(r.pinned && r.port == 8080 && !r.literal);
	CHECK(addr_is(&r.pin, &a));

	a = v6("::1");
	r = parse1("pkg.test=[::1]");
	CHECK(r.pinned && addr_is(&r.pin, &a));
	r = parse1("pkg.test=::1");
	CHECK(r.pinned && addr_is(&r.pin, &a));
	r = parse1("pkg.test:443=[2001:db8::7]");
	a = v6("2001:db8::7");
	CHECK(r.pinned && r.port == 443 && addr_is(&r.pin, &a));
	/* A mapped pin is the IPv4 it carries. */
	r = parse1("pkg.test=::ffff:192.0.2.1");
	a = v4("192.0.2.1");
	CHECK(r.pinned && addr_is(&r.pin, &a));
	/* Identical duplicates are harmless. */
	const char *dup[] = {"a.test=127.0.0.1", "a.test=127.0.0.1", NULL};
	struct petri_net_policy p;
	CHECK(parse(&p, dup, NULL, 0) == 0 && p.n == 2);
	petri__net_policy_free(&p);
}

/* Every malformed entry: -EINVAL, the message names the entry and says
 * what is wrong (@why), on one line; the policy is left empty. */
static void expect_refused(const char *const *allow, const char *entry, const char *why)
{
	struct petri_net_policy p;
	memset(&p, 0xa5, sizeof(p));
	char msg[512];
	int rc = parse(&p, allow, msg, sizeof(msg));
	CHECK_MSG(rc == -EINVAL, "'%s': rc %d, message '%s'", entry ? entry : "(list)", rc, msg);
	if (entry) {
		/* The entry as quoted: control bytes and 0xff (never UTF-8; the
		 * other entries here are well-formed) as '?'. */
		char want[256], q[128];
		size_t i;
		for (i = 0; entry[i] && i < 80; i++) {
			unsigned char c = (unsigned char)entry[i];
			q[i] = c < 0x20 || c == 0x7f || c == 0xff ? '?' : entry[i];
		}
		q[i] = '\0';
		snprintf(want, sizeof(want), "allow entry '%s%s': ", q, entry[i] ? "..." : "");
		CHECK_MSG(strstr(msg, want) == msg, "'%s': message '%s' does not start with \"%s\"",
			  entry, msg, want);
	}
	CHECK_MSG(strstr(msg, why) != NULL, "'%s': message '%s' does not say '%s'",
		  entry ? entry : "(list)", msg, why);
	CHECK_MSG(!strchr(msg, '\n'), "message '%s' is not one line", msg);
	CHECK(p.rules == NULL && p.n == 0 && p.nports == 0);
	if (rc == 0)
		petri__net_policy_free(&p);
}

static void refuse(const char *entry, const char *why)
{
	/* After a good entry: the bad one is named, not the first. */
	const char *allow[] = {"good.example", entry, NULL};
	expect_refused(allow, entry, why);
}

static void test_parse_errors_ports(void)
{
	refuse("x.test:99999", "port out of range");
	refuse("x.test:65536", "port out of range");
	refuse("x.test:0", "port out of range");
	refuse("x.test:", "empty port");
	refuse("x.test:http", "not a decimal number");
	refuse("x.test:-1", "not a decimal number");
	refuse("x.test:+80", "not a decimal number");
	refuse("x.test:53", "port 53");
	refuse("x.test:3128", "port 3128");
	refuse("x.test:80:80", "more than one ':'");
	refuse("[2001:db8::1]:", "empty port");
	refuse("[2001:db8::1]:99999", "port out of range");
}

static void test_parse_errors_wildcards(void)
{
	refuse("*", "wildcard is a whole first label");
	refuse("*.", "wildcard is a whole first label");
	refuse("*example.com", "wildcard is a whole first label");
	refuse("a.*.com", "only allowed as a whole first label");
	refuse("*.*.example.com", "only allowed as a whole first label");
	refuse("a*.example.com", "only allowed as a whole first label");
	refuse("*.com", "top-level domain");
	refuse("*.COM.", "top-level domain");
	refuse("*.10.0.0.1", "wildcard over an IP address");
	refuse("*.2130706433", "wildcard over an IP address");
}

static void test_parse_errors_hosts(void)
{
	refuse("", "empty entry");
	refuse(":443", "empty host");
	refuse("=127.0.0.1", "empty host");
	refuse("a b.test", "spaces");
	refuse(" a.test", "spaces");
	refuse("a.test\t", "spaces");
	refuse("a.test\n", "control");
	refuse("user@a.test", "user info");
	refuse("user:pw@a.test", "user info");
	refuse("http://a.test", "URL");
	refuse("a.test/path", "path");
	refuse("a.test?q", "path, query");
	refuse("a.test#f", "fragment");
	refuse("a..test", "empty label");
	refuse(".a.test", "empty label");
	refuse("a.test..", "empty label");
	refuse("a%2etest", "character not allowed");
	refuse("a!.test", "character not allowed");
	char label64[80];
	memset(label64, 'a', 64);
	strcpy(label64 + 64, ".test");
	refuse(label64, "label longer than 63");
	char long_name[300];
	/* 50 labels of "abcd." = 250, + "test" = 254 characters. */
	long_name[0] = '\0';
	for (int i = 0; i < 50; i++)
		strcat(long_name, "abcd.");
	strcat(long_name, "test");
	REQUIRE(strlen(long_name) == 254);
	refuse(long_name, "longer than 253");
	/* Invalid IDNA: bad UTF-8, a disallowed code point, bad punycode,
	 * a hyphen at a U-label's end. */
	refuse("\xff.test", "internationalised");
	refuse("\xe2\x98\x83.net", "internationalised"); /* U+2603 SNOWMAN */
	refuse("xn--zz.test", "internationalised");
	refuse("b\xc3\xbc"
	       "cher-.test",
	       "internationalised");
	/* IPv4 forms that are not addresses: never a name either. */
	refuse("1.2.3.256", "invalid IPv4");
	refuse("1.2.3.4.5", "invalid IPv4");
	refuse("08.1.2.3", "invalid IPv4");
	refuse("4294967296", "invalid IPv4");
	refuse("example.123", "invalid IPv4");
}

static void test_parse_errors_ipv6(void)
{
	refuse("2001:db8::1", "needs brackets");
	refuse("::1", "needs brackets");
	refuse("[2001:db8::1", "unterminated '['");
	refuse("[2001:db8::1]x", "after ']'");
	refuse("[1.2.3.4]", "brackets are for IPv6");
	refuse("[example.com]", "brackets are for IPv6");
	refuse("[fe80::1%eth0]", "zone");
	refuse("[2001:db8::g]", "invalid IPv6");
	refuse("[]", "brackets are for IPv6");
}

static void test_parse_errors_pins(void)
{
	refuse("a.test=", "empty address");
	refuse("a.test=localhost", "not an IPv4 or IPv6 address");
	refuse("a.test=127.1", "not an IPv4 or IPv6 address");
	refuse("a.test=1.2.3.4=5", "not an IPv4 or IPv6 address");
	refuse("a.test=[::1", "unterminated '['");
	refuse("a.test=fe80::1%eth0", "zone");
	refuse("a.test=0.0.0.0", "cannot be connected to");
	refuse("a.test=[::]", "cannot be connected to");
	refuse("a.test=224.0.0.1", "cannot be connected to");
	refuse("a.test=255.255.255.255", "cannot be connected to");
	refuse("1.2.3.4=5.6.7.8", "already an address");
	refuse("[2001:db8::1]=::1", "already an address");
}

static void test_parse_errors_lists(void)
{
	expect_refused(NULL, NULL, "allowlist is empty");
	const char *empty[] = {NULL};
	expect_refused(empty, NULL, "allowlist is empty");

	/* The same destination with two addresses: refused, both named. */
	const char *c1[] = {"a.test=127.0.0.1", "a.test:443=127.0.0.2", NULL};
	expect_refused(c1, "a.test:443=127.0.0.2", "conflicts with entry 'a.test=127.0.0.1'");
	const char *c2[] = {"*.a.test", "*.A.test.=::1", NULL};
	expect_refused(c2, "*.A.test.=::1", "conflicts with entry '*.a.test'");
	/* ... but other ports, or exact vs wildcard, do not conflict. */
	const char *ok[] = {"a.test=127.0.0.1", "a.test:8080=127.0.0.2", "*.a.test=127.0.0.3",
			    "a.test:8443", NULL};
	struct petri_net_policy p;
	CHECK(parse(&p, ok, NULL, 0) == 0 && p.n == 4);
	petri__net_policy_free(&p);

	/* UTF-8 is quoted as written; bytes that are not, as '?'. */
	const char *u8[] = {"b\xc3\xbc"
			    "cher.test:0",
			    NULL};
	char msg[512];
	CHECK(parse(&p, u8, msg, sizeof(msg)) == -EINVAL);
	CHECK_MSG(strstr(msg, "allow entry 'b\xc3\xbc"
			      "cher.test:0': port out of range") == msg,
		  "message '%s'", msg);
	const char *bad8[] = {"b\xc3"
			      "cher.test:0",
			      NULL};
	CHECK(parse(&p, bad8, msg, sizeof(msg)) == -EINVAL);
	CHECK_MSG(strstr(msg, "allow entry 'b?cher.test:0'") == msg, "message '%s'", msg);

	/* A long or unprintable entry is quoted on one line, shortened. */
	char longbad[200];
	memset(longbad, 'a', sizeof(longbad) - 1);
	longbad[sizeof(longbad) - 1] = '\0';
	longbad[10] = '\n';
	const char *lb[] = {longbad, NULL};
	CHECK(parse(&p, lb, msg, sizeof(msg)) == -EINVAL);
	CHECK_MSG(strstr(msg, "allow entry 'aaaaaaaaaa?aaa") == msg && strstr(msg, "...'") &&
			  !strchr(msg, '\n') && strlen(msg) < 200,
		  "message '%s'", msg);
}

static void test_parse_ports(void)
{
	const char *allow[] = {"a.test:8080", "b.test:443",  "c.test",
			       "d.test:22",   "e.test:8080", NULL};
	struct petri_net_policy p;
	REQUIRE(parse(&p, allow, NULL, 0) == 0);
	static const uint16_t want[] = {22, 80, 443, 8080};
	CHECK(p.n == 5);
	CHECK_MSG(p.nports == 4, "%zu ports", p.nports);
	for (size_t i = 0; i < 4 && i < p.nports; i++)
		CHECK_MSG(p.ports[i] == want[i], "ports[%zu] = %u, want %u", i, p.ports[i],
			  want[i]);
	petri__net_policy_free(&p);
	CHECK(p.rules == NULL && p.n == 0 && p.nports == 0);

	/* No default ports when every rule names its own. */
	const char *one[] = {"a.test:9000", "[::1]:9001", NULL};
	REQUIRE(parse(&p, one, NULL, 0) == 0);
	CHECK(p.nports == 2 && p.ports[0] == 9000 && p.ports[1] == 9001);
	petri__net_policy_free(&p);

	/* 64 distinct ports fit; the 65th is refused, naming its entry. */
	static char entries[66][32];
	const char *many[67];
	for (int i = 0; i < 65; i++) {
		snprintf(entries[i], sizeof(entries[i]), "h%d.test:%d", i, 10000 + i);
		many[i] = entries[i];
	}
	many[64] = NULL;
	REQUIRE(parse(&p, many, NULL, 0) == 0);
	CHECK(p.nports == 64 && p.ports[0] == 10000 && p.ports[63] == 10063);
	petri__net_policy_free(&p);
	many[64] = entries[64];
	many[65] = NULL;
	expect_refused(many, "h64.test:10064", "more than 64 distinct ports");
	/* A repeated port does not count twice. */
	snprintf(entries[64], sizeof(entries[64]), "again.test:10000");
	REQUIRE(parse(&p, many, NULL, 0) == 0);
	CHECK(p.nports == 64);
	petri__net_policy_free(&p);
}

/* ---- normalisation ---- */

struct norm_case {
	const char *in;
	const char *out;
	int family; /* of the address set, 0: a name */
};

/* clang-format off */
static const struct norm_case norm_ok[] = {
	{"example.com", "example.com", 0},
	{"EXAMPLE.Com", "example.com", 0},
	{"example.com.", "example.com", 0},
	{"_dmarc.example.com", "_dmarc.example.com", 0},
	{"r3---sn-5hne6n.googlevideo.com", "r3---sn-5hne6n.googlevideo.com", 0},
	{"1password.com", "1password.com", 0},
	{"localhost", "localhost", 0},
	{"b\xc3\xbc" "cher.example", "xn--bcher-kva.example", 0},
	{"B\xc3\x9c" "CHER.Example.", "xn--bcher-kva.example", 0},
	{"xn--BCHER-kva.example", "xn--bcher-kva.example", 0},
	{"fa\xc3\x9f.de", "xn--fa-hia.de", 0},                       /* IDNA 2008: ß stays */
	{"\xef\xbc\xa5\xef\xbc\xb8.com", "ex.com", 0},             /* full-width EX */
	{"mixed.b\xc3\xbc" "cher.r3---sn.com", "mixed.xn--bcher-kva.r3---sn.com", 0},
	{"2130706433", "127.0.0.1", AF_INET},
	{"0177.0.0.1", "127.0.0.1", AF_INET},
	{"0x7f.1", "127.0.0.1", AF_INET},
	{"0X7F000001", "127.0.0.1", AF_INET},
	{"127.1", "127.0.0.1", AF_INET},
	{"127.0.1", "127.0.0.1", AF_INET},
	{"127.0.0.1", "127.0.0.1", AF_INET},
	{"127.0.0.1.", "127.0.0.1", AF_INET},
	{"0", "0.0.0.0", AF_INET},
	{"0x", "0.0.0.0", AF_INET},
	{"169.254.43518", "169.254.169.254", AF_INET},
	{"0xa9.0376.0xa9fe", "169.254.169.254", AF_INET},
	{"255.255.255.255", "255.255.255.255", AF_INET},
	{"4294967295", "255.255.255.255", AF_INET},
	{"\xef\xbc\x91\xef\xbc\x92\xef\xbc\x97\xe3\x80\x82\xef\xbc\x90\xe3\x80\x82\xef\xbc\x90"
	 "\xe3\x80\x82\xef\xbc\x91", "127.0.0.1", AF_INET},          /* １２７。０。０。１ */
	{"[::1]", "::1", AF_INET6},
	{"::1", "::1", AF_INET6},
	{"[2001:DB8:0:0:0:0:0:1]", "2001:db8::1", AF_INET6},
	{"[::ffff:127.0.0.1]", "127.0.0.1", AF_INET},
	{"::FFFF:7f00:1", "127.0.0.1", AF_INET},
	{"[::ffff:169.254.169.254]", "169.254.169.254", AF_INET},
	{"[64:ff9b::7f00:1]", "64:ff9b::7f00:1", AF_INET6},
	{"fd00:ec2::254", "fd00:ec2::254", AF_INET6},
};
/* clang-format on */

static void test_norm_forms(void)
{
	for (size_t i = 0; i < sizeof(norm_ok) / sizeof(norm_ok[0]); i++) {
		const struct norm_case *c = &norm_ok[i];
		char out[PETRI_NET_HOST_MAX];
		struct petri_net_addr a;
		memset(&a, 0xa5, sizeof(a));
		int rc = petri__net_host_norm(c->in, strlen(c->in), out, &a);
		CHECK_MSG(rc == 0, "'%s': %d", c->in, rc);
		if (rc != 0)
			continue;
		CHECK_MSG(strcmp(out, c->out) == 0, "'%s' -> '%s', want '%s'", c->in, out, c->out);
		CHECK_MSG(a.family == c->family, "'%s': family %d, want %d", c->in, a.family,
			  c->family);
		if (c->family) {
			/* The address set is the one the text says. */
			struct petri_net_addr want = c->family == AF_INET ? v4(c->out) : v6(c->out);
			CHECK_MSG(addr_is(&a, &want), "'%s': address differs from '%s'", c->in,
				  c->out);
			char buf[INET6_ADDRSTRLEN];
			CHECK(strcmp(petri__net_addr_str(&a, buf, sizeof(buf)), c->out) == 0);
		}
		/* Normalising again changes nothing. */
		char again[PETRI_NET_HOST_MAX];
		struct petri_net_addr a2;
		CHECK_MSG(petri__net_host_norm(out, strlen(out), again, &a2) == 0 &&
				  strcmp(again, out) == 0 && a2.family == a.family,
			  "'%s' is not stable", out);
		/* @len is honoured: trailing bytes past it are not read. */
		char padded[PETRI_NET_HOST_MAX * 2];
		snprintf(padded, sizeof(padded), "%s.evil", c->in);
		CHECK_MSG(petri__net_host_norm(padded, strlen(c->in), again, NULL) == 0 &&
				  strcmp(again, c->out) == 0,
			  "'%s' with trailing bytes past len", c->in);
	}
	/* A NULL @addr is allowed. */
	char out[PETRI_NET_HOST_MAX];
	CHECK(petri__net_host_norm("a.test", 6, out, NULL) == 0 && strcmp(out, "a.test") == 0);
	/* The longest name and label fit exactly. */
	char name[300] = "";
	for (int i = 0; i < 3; i++) {
		memset(name + strlen(name), 'a', 63);
		name[64 * i + 63] = '.';
		name[64 * i + 64] = '\0';
	}
	memset(name + 192, 'b', 61); /* 192 + 61 = 253 */
	name[253] = '\0';
	CHECK(petri__net_host_norm(name, 253, out, NULL) == 0 && strcmp(out, name) == 0);
	name[253] = '.'; /* with the trailing dot: 254 bytes, still 253 */
	CHECK(petri__net_host_norm(name, 254, out, NULL) == 0 && strlen(out) == 253);
}

static const char *const norm_bad[] = {
	"",
	".",
	"..",
	"a..b",
	".a",
	"a.b..",
	"a b",
	"a\tb",
	"a/b",
	"a@b",
	"a%b",
	"a:b",
	"*.example.com",
	"[::1",
	"::1]",
	"[::1]:443",
	"[fe80::1%eth0]",
	"fe80::1%25eth0",
	"[example.com]",
	"1.2.3.4.5",
	"256.1.1.1",
	"1.2.3.0400",
	"1.2.65536",
	"1.16777216",
	"4294967296",
	"0x100000000",
	"08",
	"example.123",
	"example.0x1",
	"\xff.example",
	"\xe2\x98\x83.net",
	"xn--n3h.net", /* the snowman as an A-label: disallowed too */
	"xn--zz.example",
	"xn--.example",
	"a\xe2\x80\x8d"
	"b.example", /* ZWJ outside its context */
};

static void test_norm_invalid(void)
{
	for (size_t i = 0; i < sizeof(norm_bad) / sizeof(norm_bad[0]); i++) {
		const char *in = norm_bad[i];
		char out[PETRI_NET_HOST_MAX] = "untouched";
		struct petri_net_addr a = {.family = 77};
		int rc = petri__net_host_norm(in, strlen(in), out, &a);
		CHECK_MSG(rc == -EINVAL, "'%s': %d, '%s'", in, rc, out);
		CHECK_MSG(strcmp(out, "untouched") == 0 && a.family == 77,
			  "'%s': output changed on failure", in);
	}
	char out[PETRI_NET_HOST_MAX];
	/* An embedded NUL, within len. */
	CHECK(petri__net_host_norm("a\0b.test", 8, out, NULL) == -EINVAL);
	/* Labels and names too long. */
	char big[1100];
	memset(big, 'a', 64);
	CHECK(petri__net_host_norm(big, 64, out, NULL) == -EINVAL);
	CHECK(petri__net_host_norm(big, 63, out, NULL) == 0);
	for (int i = 0; i < 1100; i++)
		big[i] = i % 10 == 9 ? '.' : 'a';
	CHECK(petri__net_host_norm(big, 254, out, NULL) == -EINVAL);
	CHECK(petri__net_host_norm(big, 1025, out, NULL) == -EINVAL);
	CHECK(petri__net_host_norm(NULL, 0, out, NULL) == -EINVAL);
	CHECK(petri__net_host_norm("a", 1, NULL, NULL) == -EINVAL);
}

/* ---- matching ---- */

static struct petri_net_policy policy(const char *const *allow)
{
	struct petri_net_policy p;
	char msg[512];
	int rc = parse(&p, allow, msg, sizeof(msg));
	CHECK_MSG(rc == 0, "%s", msg);
	REQUIRE(rc == 0);
	return p;
}

/* Normalise @host as a client wrote it and match it on @port. */
static const struct petri_net_rule *match(const struct petri_net_policy *p, const char *host,
					  uint16_t port)
{
	char norm[PETRI_NET_HOST_MAX];
	if (petri__net_host_norm(host, strlen(host), norm, NULL) < 0)
		return NULL;
	return petri__net_policy_match(p, norm, port);
}

static void test_match_exact(void)
{
	const char *allow[] = {"example.com", "api.test:8443", NULL};
	struct petri_net_policy p = policy(allow);
	CHECK(match(&p, "example.com", 443) == &p.rules[0]);
	CHECK(match(&p, "EXAMPLE.COM.", 80) == &p.rules[0]);
	CHECK(match(&p, "www.example.com", 443) == NULL);
	CHECK(match(&p, "example.co", 443) == NULL);
	CHECK(match(&p, "example.com.evil", 443) == NULL);
	CHECK(match(&p, "xexample.com", 443) == NULL);
	CHECK(match(&p, "api.test", 8443) == &p.rules[1]);
	CHECK(match(&p, "api.test", 443) == NULL);
	petri__net_policy_free(&p);
}

static void test_match_wildcard(void)
{
	const char *allow[] = {"*.example.com", NULL};
	struct petri_net_policy p = policy(allow);
	CHECK(match(&p, "a.example.com", 443) == &p.rules[0]);
	CHECK(match(&p, "a.b.example.com", 80) == &p.rules[0]);
	CHECK(match(&p, "A.Example.Com.", 443) == &p.rules[0]);
	CHECK(match(&p, "_x.example.com", 443) == &p.rules[0]);
	/* Subdomains only, on label boundaries. */
	CHECK(match(&p, "example.com", 443) == NULL);
	CHECK(match(&p, "badexample.com", 443) == NULL);
	CHECK(match(&p, ".example.com", 443) == NULL);
	CHECK(match(&p, "a.example.com.evil.net", 443) == NULL);
	CHECK(match(&p, "example.com.a", 443) == NULL);
	/* The raw function on a name that is not normalised does not match. */
	CHECK(petri__net_policy_match(&p, "A.EXAMPLE.COM", 443) == NULL);
	CHECK(petri__net_policy_match(&p, ".example.com", 443) == NULL);
	petri__net_policy_free(&p);
}

static void test_match_ports(void)
{
	const char *allow[] = {"d.test", "p.test:8080", "both.test:443", "both.test:9000", NULL};
	struct petri_net_policy p = policy(allow);
	CHECK(match(&p, "d.test", 80) == &p.rules[0]);
	CHECK(match(&p, "d.test", 443) == &p.rules[0]);
	CHECK(match(&p, "d.test", 8080) == NULL);
	CHECK(match(&p, "d.test", 22) == NULL);
	CHECK(match(&p, "p.test", 8080) == &p.rules[1]);
	CHECK(match(&p, "p.test", 80) == NULL);
	CHECK(match(&p, "p.test", 443) == NULL);
	CHECK(match(&p, "both.test", 443) == &p.rules[2]);
	CHECK(match(&p, "both.test", 9000) == &p.rules[3]);
	CHECK(match(&p, "both.test", 80) == NULL);
	/* Port 0 (DNS): any rule for the name. */
	CHECK(match(&p, "p.test", 0) == &p.rules[1]);
	CHECK(match(&p, "d.test", 0) == &p.rules[0]);
	CHECK(match(&p, "nope.test", 0) == NULL);
	petri__net_policy_free(&p);
}

static void test_match_literals(void)
{
	const char *allow[] = {"127.0.0.1:8080", "[2001:db8::1]", NULL};
	struct petri_net_policy p = policy(allow);
	/* Every spelling of the address matches the literal rule. */
	CHECK(match(&p, "127.0.0.1", 8080) == &p.rules[0]);
	CHECK(match(&p, "2130706433", 8080) == &p.rules[0]);
	CHECK(match(&p, "0177.1", 8080) == &p.rules[0]);
	CHECK(match(&p, "[::ffff:127.0.0.1]", 8080) == &p.rules[0]);
	CHECK(match(&p, "127.0.0.2", 8080) == NULL);
	CHECK(match(&p, "127.0.0.1", 80) == NULL);
	CHECK(match(&p, "[2001:DB8:0::1]", 443) == &p.rules[1]);
	CHECK(match(&p, "2001:db8::1", 80) == &p.rules[1]);
	CHECK(match(&p, "[2001:db8::2]", 443) == NULL);
	petri__net_policy_free(&p);
}

static void test_match_most_specific(void)
{
	const char *allow[] = {"*.x.test", "*.b.x.test=127.0.0.2", "a.b.x.test=127.0.0.1", NULL};
	struct petri_net_policy p = policy(allow);
	CHECK(match(&p, "a.b.x.test", 443) == &p.rules[2]);
	CHECK(match(&p, "c.b.x.test", 443) == &p.rules[1]);
	CHECK(match(&p, "z.c.b.x.test", 443) == &p.rules[1]);
	CHECK(match(&p, "b.x.test", 443) == &p.rules[0]);
	CHECK(match(&p, "z.x.test", 443) == &p.rules[0]);
	CHECK(match(&p, "x.test", 443) == NULL);
	petri__net_policy_free(&p);

	/* Whatever the order of the list. */
	const char *rev[] = {"a.b.x.test=127.0.0.1", "*.b.x.test=127.0.0.2", "*.x.test", NULL};
	p = policy(rev);
	CHECK(match(&p, "a.b.x.test", 443) == &p.rules[0]);
	CHECK(match(&p, "c.b.x.test", 443) == &p.rules[1]);
	CHECK(match(&p, "b.x.test", 443) == &p.rules[2]);
	petri__net_policy_free(&p);
}

/* ---- address classes ---- */

struct class_case {
	const char *addr;
	int cls;
};

/* clang-format off */
static const struct class_case classes[] = {
	{"8.8.8.8", PETRI_NET_ADDR_PUBLIC},
	{"1.1.1.1", PETRI_NET_ADDR_PUBLIC},
	{"172.15.255.255", PETRI_NET_ADDR_PUBLIC},
	{"172.32.0.0", PETRI_NET_ADDR_PUBLIC},
	{"100.63.255.255", PETRI_NET_ADDR_PUBLIC},
	{"100.128.0.0", PETRI_NET_ADDR_PUBLIC},
	{"169.253.255.255", PETRI_NET_ADDR_PUBLIC},
	{"223.255.255.255", PETRI_NET_ADDR_PUBLIC},
	{"127.0.0.1", PETRI_NET_ADDR_LOOPBACK},
	{"127.255.255.254", PETRI_NET_ADDR_LOOPBACK},
	{"10.0.0.1", PETRI_NET_ADDR_PRIVATE},
	{"10.255.255.255", PETRI_NET_ADDR_PRIVATE},
	{"172.16.0.1", PETRI_NET_ADDR_PRIVATE},
	{"172.31.255.255", PETRI_NET_ADDR_PRIVATE},
	{"192.168.1.1", PETRI_NET_ADDR_PRIVATE},
	{"100.64.0.1", PETRI_NET_ADDR_PRIVATE},
	{"100.127.255.255", PETRI_NET_ADDR_PRIVATE},
	{"169.254.0.1", PETRI_NET_ADDR_LINK_LOCAL},
	{"169.254.169.253", PETRI_NET_ADDR_LINK_LOCAL},
	{"169.254.169.254", PETRI_NET_ADDR_METADATA},
	{"224.0.0.1", PETRI_NET_ADDR_MULTICAST},
	{"239.255.255.255", PETRI_NET_ADDR_MULTICAST},
	{"0.0.0.0", PETRI_NET_ADDR_UNSPECIFIED},
	{"0.1.2.3", PETRI_NET_ADDR_UNSPECIFIED},
	{"255.255.255.255", PETRI_NET_ADDR_BROADCAST},
	{"240.0.0.1", PETRI_NET_ADDR_RESERVED},
	{"255.255.255.254", PETRI_NET_ADDR_RESERVED},
	{"192.0.0.8", PETRI_NET_ADDR_RESERVED},
	{"192.0.2.1", PETRI_NET_ADDR_RESERVED},
	{"198.18.0.1", PETRI_NET_ADDR_RESERVED},
	{"198.19.255.255", PETRI_NET_ADDR_RESERVED},
	{"198.51.100.7", PETRI_NET_ADDR_RESERVED},
	{"203.0.113.9", PETRI_NET_ADDR_RESERVED},
	{"192.88.99.1", PETRI_NET_ADDR_RESERVED},
	{"2606:4700::1111", PETRI_NET_ADDR_PUBLIC},
	{"2a00:1450:4001::1", PETRI_NET_ADDR_PUBLIC},
	{"::1", PETRI_NET_ADDR_LOOPBACK},
	{"::", PETRI_NET_ADDR_UNSPECIFIED},
	{"fc00::1", PETRI_NET_ADDR_PRIVATE},
	{"fd12:3456::1", PETRI_NET_ADDR_PRIVATE},
	{"fec0::1", PETRI_NET_ADDR_PRIVATE},
	{"fe80::1", PETRI_NET_ADDR_LINK_LOCAL},
	{"febf::1", PETRI_NET_ADDR_LINK_LOCAL},
	{"fd00:ec2::254", PETRI_NET_ADDR_METADATA},
	{"fd00:ec2::253", PETRI_NET_ADDR_PRIVATE},
	{"ff02::1", PETRI_NET_ADDR_MULTICAST},
	{"2001:db8::1", PETRI_NET_ADDR_RESERVED},
	{"3fff::1", PETRI_NET_ADDR_RESERVED},
	{"2001::1", PETRI_NET_ADDR_RESERVED},
	{"100::1", PETRI_NET_ADDR_RESERVED},
	{"::7f00:1", PETRI_NET_ADDR_RESERVED},       /* IPv4-compatible */
	{"::808:808", PETRI_NET_ADDR_RESERVED},
	{"4000::1", PETRI_NET_ADDR_RESERVED},        /* outside 2000::/3 */
	/* IPv4-mapped: the IPv4's class. */
	{"::ffff:127.0.0.1", PETRI_NET_ADDR_LOOPBACK},
	{"::ffff:10.0.0.1", PETRI_NET_ADDR_PRIVATE},
	{"::ffff:169.254.169.254", PETRI_NET_ADDR_METADATA},
	{"::ffff:8.8.8.8", PETRI_NET_ADDR_PUBLIC},
	/* NAT64 and 6to4: the embedded IPv4's class. */
	{"64:ff9b::7f00:1", PETRI_NET_ADDR_LOOPBACK},
	{"64:ff9b::a9fe:a9fe", PETRI_NET_ADDR_METADATA},
	{"64:ff9b::c0a8:101", PETRI_NET_ADDR_PRIVATE},
	{"64:ff9b::808:808", PETRI_NET_ADDR_PUBLIC},
	{"64:ff9b:1::808:808", PETRI_NET_ADDR_RESERVED},
	{"2002:7f00:1::", PETRI_NET_ADDR_LOOPBACK},
	{"2002:a9fe:a9fe::1", PETRI_NET_ADDR_METADATA},
	{"2002:a00:1::", PETRI_NET_ADDR_PRIVATE},
	{"2002:808:808::1", PETRI_NET_ADDR_PUBLIC},
};
/* clang-format on */

static struct petri_net_addr any_addr(const char *s)
{
	return strchr(s, ':') ? v6(s) : v4(s);
}

static void test_addr_classes(void)
{
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		struct petri_net_addr a = any_addr(classes[i].addr);
		int cls = petri__net_addr_class(&a, NULL, 0);
		CHECK_MSG(cls == classes[i].cls, "%s: %s, want %s", classes[i].addr,
			  petri__net_addr_class_name(cls),
			  petri__net_addr_class_name(classes[i].cls));
	}
	struct petri_net_addr none = {0};
	CHECK(petri__net_addr_class(&none, NULL, 0) == -EINVAL);
	CHECK(petri__net_addr_class(NULL, NULL, 0) == -EINVAL);

	/* Each class has its own name. */
	const char *names[PETRI_NET_ADDR_HOST_OWN + 1];
	for (int c = 0; c <= PETRI_NET_ADDR_HOST_OWN; c++) {
		names[c] = petri__net_addr_class_name(c);
		REQUIRE(names[c] && *names[c]);
		CHECK_MSG(strcmp(names[c], "invalid") != 0, "class %d has no name", c);
		for (int d = 0; d < c; d++)
			CHECK_MSG(strcmp(names[c], names[d]) != 0, "classes %d and %d: '%s'", c, d,
				  names[c]);
	}
	CHECK(strcmp(petri__net_addr_class_name(PETRI_NET_ADDR_PRIVATE), "private") == 0);
	CHECK(strcmp(petri__net_addr_class_name(PETRI_NET_ADDR_METADATA), "metadata") == 0);
	CHECK(strcmp(petri__net_addr_class_name(-EINVAL), "invalid") == 0);
}

static void test_addr_host_own(void)
{
	struct petri_net_addr own[] = {v4("203.0.113.50"), v4("8.8.4.4"), v4("10.9.8.7"),
				       v6("2a01:4f8::5"), v4("127.0.0.1")};
	size_t n = sizeof(own) / sizeof(own[0]);
	struct petri_net_addr a = v4("8.8.4.4");
	CHECK(petri__net_addr_class(&a, NULL, 0) == PETRI_NET_ADDR_PUBLIC);
	CHECK(petri__net_addr_class(&a, own, n) == PETRI_NET_ADDR_HOST_OWN);
	/* Before its range's class. */
	a = v4("10.9.8.7");
	CHECK(petri__net_addr_class(&a, own, n) == PETRI_NET_ADDR_HOST_OWN);
	a = v4("203.0.113.50");
	CHECK(petri__net_addr_class(&a, own, n) == PETRI_NET_ADDR_HOST_OWN);
	/* Mapped, NAT64 and 6to4 forms of an own IPv4. */
	a = v6("::ffff:8.8.4.4");
	CHECK(petri__net_addr_class(&a, own, n) == PETRI_NET_ADDR_HOST_OWN);
	a = v6("64:ff9b::808:404");
	CHECK(petri__net_addr_class(&a, own, n) == PETRI_NET_ADDR_HOST_OWN);
	a = v6("2002:808:404::1");
	CHECK(petri__net_addr_class(&a, own, n) == PETRI_NET_ADDR_HOST_OWN);
	a = v6("2a01:4f8::5");
	CHECK(petri__net_addr_class(&a, own, n) == PETRI_NET_ADDR_HOST_OWN);
	/* An own list given in mapped form still matches the IPv4. */
	struct petri_net_addr own6 = v6("::ffff:8.8.4.4");
	a = v4("8.8.4.4");
	CHECK(petri__net_addr_class(&a, &own6, 1) == PETRI_NET_ADDR_HOST_OWN);
	/* Neighbours are not own. */
	a = v4("8.8.4.5");
	CHECK(petri__net_addr_class(&a, own, n) == PETRI_NET_ADDR_PUBLIC);
	a = v6("2a01:4f8::6");
	CHECK(petri__net_addr_class(&a, own, n) == PETRI_NET_ADDR_PUBLIC);
	/* Loopback keeps its own (better) name, though lo is in the list. */
	a = v4("127.0.0.1");
	CHECK(petri__net_addr_class(&a, own, n) == PETRI_NET_ADDR_LOOPBACK);
}

/* ---- dial checks ---- */

static void test_dial_check(void)
{
	const char *allow[] = {"pub.test",      "pinned.test=127.0.0.1", "pinned6.test=[::1]",
			       "10.1.2.3:8080", "[fd00::5]:443",         NULL};
	struct petri_net_policy p = policy(allow);
	const struct petri_net_rule *pub = &p.rules[0], *pinned = &p.rules[1];
	const struct petri_net_rule *pinned6 = &p.rules[2], *lit = &p.rules[3], *lit6 = &p.rules[4];
	struct petri_net_addr own[] = {v4("8.8.4.4")};
	const char *why;
	struct petri_net_addr a;

#define DENY(rule, addr, reason)                                                                   \
	do {                                                                                       \
		a = any_addr(addr);                                                                \
		why = NULL;                                                                        \
		CHECK_MSG(petri__net_dial_check(rule, &a, own, 1, &why) == -EACCES, "%s allowed",  \
			  addr);                                                                   \
		CHECK_MSG(why &&strcmp(why, reason) == 0, "%s: why '%s', want '%s'", addr,         \
			  why ? why : "(null)", reason);                                           \
	} while (0)
#define ALLOW(rule, addr)                                                                          \
	do {                                                                                       \
		a = any_addr(addr);                                                                \
		why = "untouched";                                                                 \
		CHECK_MSG(petri__net_dial_check(rule, &a, own, 1, &why) == 0, "%s refused: %s",    \
			  addr, why);                                                              \
		CHECK(strcmp(why, "untouched") == 0);                                              \
	} while (0)

	ALLOW(pub, "93.184.216.34");
	ALLOW(pub, "2606:2800:220:1:248:1893:25c8:1946");
	ALLOW(NULL, "93.184.216.34");
	DENY(pub, "10.0.0.1", "address is private");
	DENY(pub, "127.0.0.1", "address is loopback");
	DENY(pub, "::1", "address is loopback");
	DENY(pub, "169.254.169.254", "address is the cloud metadata service");
	DENY(pub, "fd00:ec2::254", "address is the cloud metadata service");
	DENY(pub, "64:ff9b::a9fe:a9fe", "address is the cloud metadata service");
	DENY(pub, "169.254.1.1", "address is link-local");
	DENY(pub, "fe80::1", "address is link-local");
	DENY(pub, "224.0.0.251", "address is multicast");
	DENY(pub, "0.0.0.0", "address is unspecified");
	DENY(pub, "255.255.255.255", "address is broadcast");
	DENY(pub, "192.0.2.1", "address is reserved");
	DENY(pub, "8.8.4.4", "address is the host's own");
	DENY(pub, "::ffff:8.8.4.4", "address is the host's own");
	DENY(NULL, "10.0.0.1", "address is private");

	/* A pin allows that address, and only it. */
	ALLOW(pinned, "127.0.0.1");
	ALLOW(pinned, "::ffff:127.0.0.1");
	DENY(pinned, "127.0.0.2", "address is loopback");
	DENY(pinned, "::1", "address is loopback");
	DENY(pinned, "10.0.0.1", "address is private");
	ALLOW(pinned, "93.184.216.34");
	ALLOW(pinned6, "::1");
	DENY(pinned6, "127.0.0.1", "address is loopback");

	/* A literal rule allows its own address, and only it. */
	ALLOW(lit, "10.1.2.3");
	DENY(lit, "10.1.2.4", "address is private");
	ALLOW(lit6, "fd00::5");
	DENY(lit6, "fd00::6", "address is private");

	/* No address at all. */
	struct petri_net_addr none = {0};
	why = NULL;
	CHECK(petri__net_dial_check(pub, &none, NULL, 0, &why) == -EACCES && why);
	CHECK(petri__net_dial_check(pinned, NULL, NULL, 0, &why) == -EACCES);
#undef DENY
#undef ALLOW
	petri__net_policy_free(&p);
}

static void test_addr_str(void)
{
	char buf[INET6_ADDRSTRLEN];
	struct petri_net_addr a = v4("192.0.2.33");
	CHECK(strcmp(petri__net_addr_str(&a, buf, sizeof(buf)), "192.0.2.33") == 0);
	a = v6("2001:DB8:0::1");
	CHECK(strcmp(petri__net_addr_str(&a, buf, sizeof(buf)), "2001:db8::1") == 0);
	struct petri_net_addr none = {0};
	CHECK(strcmp(petri__net_addr_str(&none, buf, sizeof(buf)), "") == 0);
	/* Too small a buffer: empty, not cut. */
	char small[4];
	CHECK(strcmp(petri__net_addr_str(&a, small, sizeof(small)), "") == 0);
}

/* The host's own addresses: getifaddrs, read only (nothing is sent). */
static void test_host_addrs(void)
{
	int n = petri__net_host_addrs(NULL, 0);
	CHECK_MSG(n >= 0, "count: %d", n);
	if (n <= 0)
		return;
	struct petri_net_addr *a = calloc((size_t)n + 4, sizeof(*a));
	REQUIRE(a);
	int m = petri__net_host_addrs(a, (size_t)n + 4);
	CHECK_MSG(m == n, "%d addresses, counted %d", m, n);
	int lo = 0;
	for (int i = 0; i < m; i++) {
		CHECK(a[i].family == AF_INET || a[i].family == AF_INET6);
		char buf[INET6_ADDRSTRLEN];
		petri__net_addr_str(&a[i], buf, sizeof(buf));
		lo |= strcmp(buf, "127.0.0.1") == 0;
		/* Every address of the host is refused, whatever its range. */
		const char *why = NULL;
		CHECK_MSG(petri__net_dial_check(NULL, &a[i], a, (size_t)m, &why) == -EACCES,
			  "own address %s may be dialled", buf);
	}
	/* The test host has lo up (CI does too). */
	CHECK_MSG(lo, "127.0.0.1 is not among the host's %d addresses", m);
	/* Too small: -ENOBUFS, not a short list. */
	CHECK(petri__net_host_addrs(a, (size_t)n - 1) == -ENOBUFS);
	free(a);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(parse_name),         PETRI_TEST_CASE(parse_wildcard),
	PETRI_TEST_CASE(parse_literals),     PETRI_TEST_CASE(parse_pins),
	PETRI_TEST_CASE(parse_errors_ports), PETRI_TEST_CASE(parse_errors_wildcards),
	PETRI_TEST_CASE(parse_errors_hosts), PETRI_TEST_CASE(parse_errors_ipv6),
	PETRI_TEST_CASE(parse_errors_pins),  PETRI_TEST_CASE(parse_errors_lists),
	PETRI_TEST_CASE(parse_ports),        PETRI_TEST_CASE(norm_forms),
	PETRI_TEST_CASE(norm_invalid),       PETRI_TEST_CASE(match_exact),
	PETRI_TEST_CASE(match_wildcard),     PETRI_TEST_CASE(match_ports),
	PETRI_TEST_CASE(match_literals),     PETRI_TEST_CASE(match_most_specific),
	PETRI_TEST_CASE(addr_classes),       PETRI_TEST_CASE(addr_host_own),
	PETRI_TEST_CASE(dial_check),         PETRI_TEST_CASE(addr_str),
	PETRI_TEST_CASE(host_addrs),         {NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
