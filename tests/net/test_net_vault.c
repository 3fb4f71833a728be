/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_net_vault - libpetri/net/vault.c (TenantVault), pure functions:
 *  - placeholders: format, 128 random bits, distinct per secret and vault;
 *  - bad secrets: each refused with its own error, naming the secret and
 *    never its value; upstream_ca missing, a directory, without a cert;
 *  - the values' memory: a secretmem mapping, or locked + dontdump +
 *    dontcopy (/proc/self/smaps), gone after free;
 *  - the CA and leaves, verified by OpenSSL with the CA as the only trust
 *    anchor; the name constraints refuse another name (a test CA carrying
 *    the vault CA's constraints signs it); a TLS handshake in memory with
 *    ALPN (http/1.1 chosen, h2 alone refused); upstream_ca loaded;
 *  - scope and the allowlist entries;
 *  - scan: raw, any case, percent-encoded (both hex cases, twice), base64
 *    (both alphabets, each offset), in scope, foreign tokens;
 *  - rewrite of heads (target, header, Basic auth round trip, encoded
 *    placeholder, Accept-Encoding, Proxy-*, misuse, unsafe values) and
 *    bodies (raw, form, too large), and re-framing;
 *  - the scrubber: every encoding, every way of cutting the input into
 *    feeds, the window bound, overlapping and self-prefix values; its
 *    cost is linear (4 MiB vs 1 MiB: quadratic would be 16 x, linear 4 x
 *    with some noise on a shared machine, the bound is 8 x), does not grow
 *    with the number of secrets (64 vs 1) nor with small feeds; its speed,
 *    the largest vault's size and the CA/leaf generation time are printed;
 *  - without memfd_secret (seccomp makes it ENOSYS): the fallback mapping.
 */
#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include <seccomp.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "net/vault.h"
#include "petri_test.h"

static const char VALUE[] = "s3cr3t-VALUE_42";

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A vault of one secret API_KEY=@value for @hosts. */
static struct petri_vault *vault1(const void *value, size_t len, const char *const *hosts)
{
	petri_secret s = PETRI_SECRET_INIT;
	s.name = "API_KEY";
	s.value = value;
	s.value_len = len;
	s.hosts = hosts;
	const struct petri_secret *list[] = {&s, NULL};
	struct petri_vault *v = NULL;
	petri_error *err = NULL;
	int rc = petri__vault_new(list, NULL, &v, &err);
	if (rc < 0)
		fprintf(stderr, "vault_new: %s\n", petri_error_message(err));
	petri_error_free(err);
	REQUIRE(rc == 0 && v);
	return v;
}

static const char *const API_HOSTS[] = {"api.example.com", NULL};

/* ---- placeholders ------------------------------------------------------ */

static void test_placeholders(void)
{
	petri_secret a = PETRI_SECRET_INIT, b = PETRI_SECRET_INIT;
	a.name = "A";
	a.value = "one";
	a.value_len = 3;
	a.hosts = API_HOSTS;
	b = a;
	b.name = "B_2";
	const struct petri_secret *list[] = {&a, &b, NULL};
	struct petri_vault *v1 = NULL, *v2 = NULL;
	REQUIRE(petri__vault_new(list, NULL, &v1, NULL) == 0);
	REQUIRE(petri__vault_new(list, NULL, &v2, NULL) == 0);
	CHECK(petri__vault_count(v1) == 2);
	CHECK(strcmp(petri__vault_name(v1, 0), "A") == 0);
	CHECK(strcmp(petri__vault_name(v1, 1), "B_2") == 0);
	CHECK(petri__vault_name(v1, 2) == NULL);
	const char *t[4] = {petri__vault_placeholder(v1, 0), petri__vault_placeholder(v1, 1),
			    petri__vault_placeholder(v2, 0), petri__vault_placeholder(v2, 1)};
	for (int i = 0; i < 4; i++) {
		REQUIRE(t[i]);
		CHECK(strlen(t[i]) == PETRI_VAULT_TOKEN_LEN);
		CHECK(strncmp(t[i], PETRI_VAULT_PREFIX, strlen(PETRI_VAULT_PREFIX)) == 0);
		const char *hx = t[i] + strlen(PETRI_VAULT_PREFIX);
		CHECK(strspn(hx, "0123456789abcdef") == 32);
		for (int j = 0; j < i; j++)
			CHECK(strcmp(t[i], t[j]) != 0);
	}
	/* entropy: over 64 tokens, every hex digit position takes many values
	 * and the bits are about half ones */
	long ones = 0;
	for (int k = 0; k < 32; k++) {
		struct petri_vault *v = NULL;
		REQUIRE(petri__vault_new(list, NULL, &v, NULL) == 0);
		for (int i = 0; i < 2; i++) {
			const char *hx = petri__vault_placeholder(v, (size_t)i) + 12;
			for (int j = 0; j < 32; j++) {
				int d = hx[j] <= '9' ? hx[j] - '0' : hx[j] - 'a' + 10;
				ones += __builtin_popcount((unsigned)d);
			}
		}
		petri__vault_free(v);
	}
	double frac = (double)ones / (64.0 * 128);
	CHECK_MSG(frac > 0.45 && frac < 0.55, "fraction of one bits %.3f", frac);
	petri__vault_free(v1);
	petri__vault_free(v2);
	petri__vault_free(NULL);
}

/* ---- bad secrets ---------------------------------------------------------- */

struct bad {
	const char *what;
	const char *expect; /* a substring of the message */
	int rc;
};

static void check_bad(const struct petri_secret *const *list, const char *ca, const struct bad *b)
{
	struct petri_vault *v = (struct petri_vault *)0x1;
	petri_error *err = NULL;
	int rc = petri__vault_new(list, ca, &v, &err);
	const char *msg = err ? petri_error_message(err) : "";
	CHECK_MSG(rc == b->rc, "%s: rc %d, expected %d (%s)", b->what, rc, b->rc, msg);
	CHECK_MSG(strstr(msg, b->expect) != NULL, "%s: message '%s' lacks '%s'", b->what, msg,
		  b->expect);
	CHECK_MSG(!strstr(msg, VALUE), "%s: the value is in the message '%s'", b->what, msg);
	CHECK_MSG(rc == 0 || v == (struct petri_vault *)0x1, "%s: out was touched", b->what);
	if (rc == 0)
		petri__vault_free(v);
	petri_error_free(err);
}

static void test_bad_secrets(void)
{
	petri_secret s;
	const struct petri_secret *list[] = {&s, NULL, NULL};
	struct {
		petri_secret s;
		char extra[8];
	} big;
#define RESET()                                                                                    \
	do {                                                                                       \
		petri_secret i_ = PETRI_SECRET_INIT;                                               \
		s = i_;                                                                            \
		s.name = "API_KEY";                                                                \
		s.value = VALUE;                                                                   \
		s.value_len = strlen(VALUE);                                                       \
		s.hosts = API_HOSTS;                                                               \
	} while (0)
	RESET();
	check_bad(list, NULL, &(struct bad){"good", "", 0});
	s.sz = 4;
	check_bad(list, NULL, &(struct bad){"sz 4", "secrets[0]: sz is 4", -EINVAL});
	RESET();
	s.sz = 16; /* covers name, not value: value NULL */
	check_bad(list, NULL, &(struct bad){"sz short", "'API_KEY': the value must be", -EINVAL});
	memset(&big, 0, sizeof(big));
	RESET();
	big.s = s;
	big.s.sz = sizeof(big);
	list[0] = &big.s;
	check_bad(list, NULL, &(struct bad){"sz bigger, zeros", "", 0});
	big.extra[3] = 1;
	check_bad(list, NULL, &(struct bad){"sz bigger, set", "unknown option", -EINVAL});
	list[0] = &s;
	RESET();
	s.flags = 2;
	check_bad(list, NULL, &(struct bad){"flags", "secret 'API_KEY': unknown flags", -EINVAL});
	const char *names[] = {
		NULL,  "",    "1A",
		"A-B", "A B", "A1234567890123456789012345678901234567890123456789012345678901234"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		RESET();
		s.name = names[i];
		check_bad(list, NULL,
			  &(struct bad){"name", "secrets[0]: name must match", -EINVAL});
	}
	RESET();
	s.name = "A123456789012345678901234567890123456789012345678901234567890123";
	check_bad(list, NULL, &(struct bad){"name of 64", "", 0});
	RESET();
	s.value = NULL;
	check_bad(list, NULL, &(struct bad){"value NULL", "1 to 4096 bytes", -EINVAL});
	RESET();
	s.value_len = 0;
	check_bad(list, NULL, &(struct bad){"value empty", "1 to 4096 bytes", -EINVAL});
	static char huge[4097];
	memset(huge, 'x', sizeof(huge));
	RESET();
	s.value = huge;
	s.value_len = 4097;
	check_bad(list, NULL, &(struct bad){"value 4097", "(it has 4097)", -EINVAL});
	s.value_len = 4096;
	check_bad(list, NULL, &(struct bad){"value 4096", "", 0});
	RESET();
	s.hosts = NULL;
	check_bad(list, NULL, &(struct bad){"hosts NULL", "'API_KEY': no hosts", -EINVAL});
	const char *none[] = {NULL};
	s.hosts = none;
	check_bad(list, NULL, &(struct bad){"hosts empty", "'API_KEY': no hosts", -EINVAL});
	struct {
		const char *host, *expect;
	} hosts[] = {
		{"https://api.example.com", "hosts[0]: the only scheme is 'http://'"},
		{"ftp://api.example.com", "the only scheme"},
		{"api.example.com=1.2.3.4", "'=ADDR' belongs in .allow"},
		{"api.example.com/x", "a path"},
		{"api.example.com:53", "port 53"},
		{"api.example.com:0", "port out of range"},
		{"*.com", "top-level domain"},
		{"a b", "spaces"},
		{"", "empty host"},
		{"http://", "empty host"},
		{"[::1", "unterminated"},
	};
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		RESET();
		const char *hl[] = {hosts[i].host, NULL};
		s.hosts = hl;
		check_bad(list, NULL, &(struct bad){hosts[i].host, hosts[i].expect, -EINVAL});
	}
	/* two secrets with one name; 65 secrets */
	RESET();
	list[1] = &s;
	check_bad(list, NULL,
		  &(struct bad){"dup", "'API_KEY': two secrets have this name", -EINVAL});
	list[1] = NULL;
	const struct petri_secret *many[PETRI_VAULT_MAX + 2];
	petri_secret ms[PETRI_VAULT_MAX + 1];
	char mn[PETRI_VAULT_MAX + 1][16];
	for (int i = 0; i <= PETRI_VAULT_MAX; i++) {
		RESET();
		ms[i] = s;
		snprintf(mn[i], sizeof(mn[i]), "S%d", i);
		ms[i].name = mn[i];
		many[i] = &ms[i];
	}
	many[PETRI_VAULT_MAX + 1] = NULL;
	check_bad(many, NULL, &(struct bad){"65 secrets", "more than 64", -EINVAL});
	many[PETRI_VAULT_MAX] = NULL;
	check_bad(many, NULL, &(struct bad){"64 secrets", "", 0});
	/* upstream_ca */
	RESET();
	check_bad(list, "/nonexistent/ca.pem", &(struct bad){"ca missing", "upstream_ca", -ENOENT});
	check_bad(list, "/", &(struct bad){"ca dir", "not a regular file", -EINVAL});
	check_bad(list, "/etc/hostname",
		  &(struct bad){"ca no cert", "no PEM certificate", -EINVAL});
	const struct petri_secret *empty[] = {NULL};
	check_bad(empty, NULL, &(struct bad){"no secrets", "empty", -EINVAL});
#undef RESET
}

/* ---- memory ------------------------------------------------------------------ */

/* ASan's mlock() interceptor does nothing (sanitizer_common), so under it
 * the mapping is not locked: the flag is not asked for there. */
#if defined(__SANITIZE_ADDRESS__)
#define MLOCK_IS_NOOP 1
#else
#define MLOCK_IS_NOOP 0
#endif

/* Mappings that hold values: secretmem ones (counted), and the kB of
 * anonymous ones locked ("lo"), not dumped ("dd") and not copied on fork
 * ("dc") -- in kB, since the kernel may merge two such mappings that
 * happen to be adjacent into one (it does under ASan's allocator). */
static void count_maps(int *secretmem, int *locked_kb)
{
	int size_kb = 0;
	*secretmem = *locked_kb = 0;
	FILE *f = fopen("/proc/self/smaps", "re");
	REQUIRE(f);
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "secretmem"))
			(*secretmem)++;
		if (strncmp(line, "Size:", 5) == 0)
			size_kb = atoi(line + 5);
		if (strncmp(line, "VmFlags:", 8) == 0 && (strstr(line, " lo") || MLOCK_IS_NOOP) &&
		    strstr(line, " dd") && strstr(line, " dc"))
			*locked_kb += size_kb;
	}
	fclose(f);
}

static void test_memory(void)
{
	int s0, l0, s1, l1, s2, l2;
	count_maps(&s0, &l0);
	struct petri_vault *v = vault1(VALUE, strlen(VALUE), API_HOSTS);
	count_maps(&s1, &l1);
	int fd = (int)syscall(447, 0);
	int have = fd >= 0;
	if (fd >= 0)
		close(fd);
	printf("memfd_secret %s: secretmem mappings %d -> %d, locked+dontdump %d -> %d kB\n",
	       have ? "available" : "unavailable", s0, s1, l0, l1);
	/* two mappings: the values, and the scrubber's bytes (which spell
	 * the values' encodings out) */
	if (have)
		CHECK(s1 == s0 + 2);
	else
		CHECK(l1 > l0);
	petri__vault_free(v);
	count_maps(&s2, &l2);
	CHECK(s2 == s0 && l2 == l0);
	/* the value is nowhere in the vault's own readable data: the CA PEM
	 * and the allowlist */
	v = vault1(VALUE, strlen(VALUE), API_HOSTS);
	size_t n;
	const char *pem = petri__vault_ca_pem(v, &n);
	CHECK(pem && n > 0 && !memmem(pem, n, VALUE, strlen(VALUE)));
	petri__vault_free(v);
}

/* Without memfd_secret (an older kernel, or secretmem disabled): the
 * fallback mapping, locked, not dumped, not copied on fork.  The case runs
 * in a child of its own, so the filter that makes memfd_secret fail with
 * ENOSYS stays there. */
static void test_memory_fallback(void)
{
	scmp_filter_ctx sc = seccomp_init(SCMP_ACT_ALLOW);
	REQUIRE(sc);
	REQUIRE(seccomp_rule_add(sc, SCMP_ACT_ERRNO(ENOSYS), 447 /* memfd_secret */, 0) == 0);
	REQUIRE(seccomp_load(sc) == 0);
	seccomp_release(sc);
	CHECK(syscall(447, 0) < 0 && errno == ENOSYS);
	int s0, l0, s1, l1, s2, l2;
	count_maps(&s0, &l0);
	struct petri_vault *v = vault1(VALUE, strlen(VALUE), API_HOSTS);
	count_maps(&s1, &l1);
	CHECK(s1 == s0);
	CHECK(l1 >= l0 + 8); /* two mappings of at least a page each */
	petri__vault_free(v);
	count_maps(&s2, &l2);
	CHECK(s2 == s0 && l2 == l0);
}

/* ---- CA and leaves ------------------------------------------------------------ */

static X509 *pem_cert(const char *pem, size_t n)
{
	BIO *b = BIO_new_mem_buf(pem, (int)n);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	return x;
}

/* X509_verify_cert of @leaf with @ca the only anchor, for @host. */
static int verify(X509 *ca, X509 *leaf, const char *host)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_add_cert(st, ca);
	X509_STORE_CTX *c = X509_STORE_CTX_new();
	X509_STORE_CTX_init(c, st, leaf, NULL);
	X509_STORE_CTX_set_purpose(c, X509_PURPOSE_SSL_SERVER);
	X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(c);
	if (host) {
		if (strchr(host, ':') || (host[0] >= '0' && host[0] <= '9'))
			X509_VERIFY_PARAM_set1_ip_asc(p, host);
		else
			X509_VERIFY_PARAM_set1_host(p, host, 0);
	}
	int ok = X509_verify_cert(c);
	int e = ok == 1 ? 0 : X509_STORE_CTX_get_error(c);
	X509_STORE_CTX_free(c);
	X509_STORE_free(st);
	return e;
}

static X509 *sign_leaf(EVP_PKEY *cakey, X509 *ca, const char *san)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_set_issuer_name(x, X509_get_subject_name(ca));
	X509V3_CTX c;
	X509V3_set_ctx_nodb(&c);
	X509V3_set_ctx(&c, ca, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &c, NID_subject_alt_name, san);
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	X509_sign(x, cakey, EVP_sha256());
	EVP_PKEY_free(k);
	return x;
}

static void test_ca_and_leaves(void)
{
	static const char *const hosts[] = {"api.example.com", "*.wild.example.org:8443",
					    "127.0.0.1:9443", NULL};
	/* the first vault of a process also loads the host's trust store */
	double tf = now_s();
	petri__vault_free(vault1(VALUE, strlen(VALUE), hosts));
	double t0 = now_s();
	struct petri_vault *v = vault1(VALUE, strlen(VALUE), hosts);
	double t1 = now_s();
	size_t n;
	const char *pem = petri__vault_ca_pem(v, &n);
	X509 *ca = pem_cert(pem, n);
	REQUIRE(ca);
	CHECK(X509_check_ca(ca) >= 1);
	CHECK(X509_get_extension_flags(ca) & EXFLAG_CA);
	CHECK(X509_get_key_usage(ca) & KU_KEY_CERT_SIGN);
	int crit = -1;
	NAME_CONSTRAINTS *nc = X509_get_ext_d2i(ca, NID_name_constraints, &crit, NULL);
	REQUIRE(nc);
	CHECK(crit == 1);
	CHECK(sk_GENERAL_SUBTREE_num(nc->permittedSubtrees) == 3);
	NAME_CONSTRAINTS_free(nc);
	/* self-signed, valid from an hour ago for 7 days */
	CHECK(X509_verify(ca, X509_get0_pubkey(ca)) == 1);
	int days, secs;
	ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(ca), X509_get0_notAfter(ca));
	CHECK(days == 7 && secs == 3600);

	double t2 = now_s();
	petri_error *err = NULL;
	SSL_CTX *sc = petri__vault_server_ctx(v, "api.example.com", &err);
	double t3 = now_s();
	REQUIRE(sc);
	CHECK(petri__vault_server_ctx(v, "api.example.com", NULL) == sc); /* cached */
	X509 *leaf = SSL_CTX_get0_certificate(sc);
	CHECK(verify(ca, leaf, "api.example.com") == 0);
	CHECK(ASN1_TIME_compare(X509_get0_notAfter(leaf), X509_get0_notAfter(ca)) <= 0);
	CHECK(verify(ca, leaf, "other.example.com") == X509_V_ERR_HOSTNAME_MISMATCH);
	SSL_CTX *wc = petri__vault_server_ctx(v, "a.wild.example.org", NULL);
	REQUIRE(wc);
	CHECK(verify(ca, SSL_CTX_get0_certificate(wc), "a.wild.example.org") == 0);
	SSL_CTX *ic = petri__vault_server_ctx(v, "127.0.0.1", NULL);
	REQUIRE(ic);
	CHECK(verify(ca, SSL_CTX_get0_certificate(ic), "127.0.0.1") == 0);
	/* not bound to a secret: no certificate */
	CHECK(petri__vault_server_ctx(v, "evil.example.net", &err) == NULL);
	CHECK(err && strstr(petri_error_message(err), "no secret is bound"));
	petri_error_free(err);
	CHECK(petri__vault_server_ctx(v, "wild.example.org", NULL) == NULL);
	/* untrusted by anyone else: a leaf does not verify without the CA */
	{
		X509 *other = pem_cert(pem, n);
		EVP_PKEY *k = EVP_EC_gen("P-256");
		X509_set_pubkey(other, k); /* same name, another key */
		X509_sign(other, k, EVP_sha256());
		CHECK(verify(other, leaf, "api.example.com") != 0);
		EVP_PKEY_free(k);
		X509_free(other);
	}
	/* the constraints: a CA with the same extension, signing other names */
	{
		EVP_PKEY *k = EVP_EC_gen("P-256");
		X509 *tca = X509_dup(ca);
		X509_set_pubkey(tca, k);
		X509_sign(tca, k, EVP_sha256());
		X509 *good = sign_leaf(k, tca, "DNS:api.example.com");
		X509 *bad = sign_leaf(k, tca, "DNS:evil.example.net");
		X509 *bad_ip = sign_leaf(k, tca, "IP:10.0.0.1");
		X509 *bad_wild = sign_leaf(k, tca, "DNS:wild.example.org");
		X509 *good_wild = sign_leaf(k, tca, "DNS:x.wild.example.org");
		CHECK(verify(tca, good, "api.example.com") == 0);
		CHECK(verify(tca, good_wild, "x.wild.example.org") == 0);
		CHECK(verify(tca, bad, "evil.example.net") == X509_V_ERR_PERMITTED_VIOLATION);
		CHECK(verify(tca, bad_ip, "10.0.0.1") == X509_V_ERR_PERMITTED_VIOLATION);
		CHECK(verify(tca, bad_wild, "wild.example.org") == X509_V_ERR_PERMITTED_VIOLATION);
		X509_free(good);
		X509_free(bad);
		X509_free(bad_ip);
		X509_free(bad_wild);
		X509_free(good_wild);
		X509_free(tca);
		EVP_PKEY_free(k);
	}
	printf("vault_new (CA key + certificate): first of the process %.2f ms, then %.2f ms; "
	       "leaf %.2f ms\n",
	       (t0 - tf) * 1e3, (t1 - t0) * 1e3, (t3 - t2) * 1e3);
	X509_free(ca);
	petri__vault_free(v);
}

/* IP-only secrets: DNS names are excluded whole. */
static void test_ca_ip_only(void)
{
	static const char *const hosts[] = {"[::1]:8443", NULL};
	struct petri_vault *v = vault1(VALUE, strlen(VALUE), hosts);
	size_t n;
	const char *pem = petri__vault_ca_pem(v, &n);
	X509 *ca = pem_cert(pem, n);
	REQUIRE(ca);
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *tca = X509_dup(ca);
	X509_set_pubkey(tca, k);
	X509_sign(tca, k, EVP_sha256());
	X509 *dns = sign_leaf(k, tca, "DNS:anything.example");
	X509 *ip6 = sign_leaf(k, tca, "IP:::1");
	X509 *ip4 = sign_leaf(k, tca, "IP:127.0.0.1");
	CHECK(verify(tca, ip6, "::1") == 0);
	CHECK(verify(tca, dns, "anything.example") == X509_V_ERR_EXCLUDED_VIOLATION);
	int e4 = verify(tca, ip4, "127.0.0.1");
	CHECK(e4 == X509_V_ERR_EXCLUDED_VIOLATION || e4 == X509_V_ERR_PERMITTED_VIOLATION);
	SSL_CTX *sc = petri__vault_server_ctx(v, "::1", NULL);
	REQUIRE(sc);
	CHECK(verify(ca, SSL_CTX_get0_certificate(sc), "::1") == 0);
	X509_free(dns);
	X509_free(ip6);
	X509_free(ip4);
	X509_free(tca);
	X509_free(ca);
	EVP_PKEY_free(k);
	petri__vault_free(v);
}

/* A handshake in memory: client @alpn (wire format) against the leaf. */
static int handshake(struct petri_vault *v, const char *host, const unsigned char *alpn,
		     unsigned alen, char proto[32])
{
	size_t n;
	const char *pem = petri__vault_ca_pem(v, &n);
	X509 *ca = pem_cert(pem, n);
	SSL_CTX *cc = SSL_CTX_new(TLS_client_method());
	X509_STORE_add_cert(SSL_CTX_get_cert_store(cc), ca);
	SSL_CTX_set_verify(cc, SSL_VERIFY_PEER, NULL);
	SSL_CTX *sc = petri__vault_server_ctx(v, host, NULL);
	REQUIRE(sc);
	SSL *c = SSL_new(cc), *s = SSL_new(sc);
	BIO *b1, *b2;
	BIO_new_bio_pair(&b1, 0, &b2, 0);
	SSL_set_bio(c, b1, b1);
	SSL_set_bio(s, b2, b2);
	SSL_set_tlsext_host_name(c, host);
	SSL_set1_host(c, host);
	if (alpn)
		SSL_set_alpn_protos(c, alpn, alen);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	int rc = -1;
	for (int i = 0; i < 20; i++) {
		int a = SSL_do_handshake(c), b = SSL_do_handshake(s);
		if (a == 1 && b == 1) {
			rc = 0;
			break;
		}
		if ((a != 1 && SSL_get_error(c, a) != SSL_ERROR_WANT_READ) ||
		    (b != 1 && SSL_get_error(s, b) != SSL_ERROR_WANT_READ))
			break;
	}
	proto[0] = '\0';
	const unsigned char *p;
	unsigned pl;
	SSL_get0_alpn_selected(c, &p, &pl);
	if (rc == 0 && pl && pl < 32) {
		memcpy(proto, p, pl);
		proto[pl] = '\0';
	}
	ERR_clear_error();
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cc);
	X509_free(ca);
	return rc;
}

static void test_tls_alpn(void)
{
	struct petri_vault *v = vault1(VALUE, strlen(VALUE), API_HOSTS);
	char proto[32];
	static const unsigned char both[] = "\x02h2\x08http/1.1", h2[] = "\x02h2";
	CHECK(handshake(v, "api.example.com", both, sizeof(both) - 1, proto) == 0);
	CHECK(strcmp(proto, "http/1.1") == 0);
	CHECK(handshake(v, "api.example.com", NULL, 0, proto) == 0);
	CHECK(proto[0] == '\0');
	CHECK(handshake(v, "api.example.com", h2, sizeof(h2) - 1, proto) < 0);
	/* the upstream client: verification on, TLS 1.2 at least */
	SSL_CTX *cc = petri__vault_client_ctx(v, NULL);
	REQUIRE(cc);
	CHECK(SSL_CTX_get_verify_mode(cc) == SSL_VERIFY_PEER);
	CHECK(SSL_CTX_get_min_proto_version(cc) == TLS1_2_VERSION);
	petri__vault_free(v);

	/* upstream_ca: the vault's own CA written to a file is then trusted */
	v = vault1(VALUE, strlen(VALUE), API_HOSTS);
	size_t n;
	const char *pem = petri__vault_ca_pem(v, &n);
	char path[] = "/tmp/test_net_vault_ca_XXXXXX";
	int fd = mkstemp(path);
	REQUIRE(fd >= 0 && write(fd, pem, n) == (ssize_t)n);
	close(fd);
	petri_secret s = PETRI_SECRET_INIT;
	s.name = "K";
	s.value = VALUE;
	s.value_len = strlen(VALUE);
	s.hosts = API_HOSTS;
	const struct petri_secret *list[] = {&s, NULL};
	struct petri_vault *w = NULL;
	REQUIRE(petri__vault_new(list, path, &w, NULL) == 0);
	unlink(path);
	X509 *ca = pem_cert(pem, n);
	X509_STORE *st = SSL_CTX_get_cert_store(petri__vault_client_ctx(w, NULL));
	X509_STORE_CTX *c = X509_STORE_CTX_new();
	X509_STORE_CTX_init(
		c, st,
		SSL_CTX_get0_certificate(petri__vault_server_ctx(v, "api.example.com", NULL)),
		NULL);
	CHECK(X509_verify_cert(c) == 1);
	X509_STORE_CTX_free(c);
	X509_free(ca);
	petri__vault_free(w);
	petri__vault_free(v);
}

/* ---- scope -------------------------------------------------------------------- */

static void test_scope(void)
{
	petri_secret a = PETRI_SECRET_INIT, b = PETRI_SECRET_INIT;
	static const char *const ah[] = {"api.example.com", "http://plain.example.com",
					 "*.wild.example.com:8443", "[::1]:9443", NULL};
	static const char *const bh[] = {"api.example.com", "http://plain.example.com:8080", NULL};
	a.name = "A";
	a.value = "va";
	a.value_len = 2;
	a.hosts = ah;
	b.name = "B";
	b.value = "vb";
	b.value_len = 2;
	b.hosts = bh;
	const struct petri_secret *list[] = {&a, &b, NULL};
	struct petri_vault *v = NULL;
	REQUIRE(petri__vault_new(list, NULL, &v, NULL) == 0);
	CHECK(petri__vault_scope(v, "api.example.com", 443, 1) == 3);
	CHECK(petri__vault_scope(v, "api.example.com", 443, 0) == 0);
	CHECK(petri__vault_scope(v, "api.example.com", 80, 0) == 0);
	CHECK(petri__vault_scope(v, "api.example.com", 8443, 1) == 0);
	CHECK(petri__vault_scope(v, "plain.example.com", 80, 0) == 1);
	CHECK(petri__vault_scope(v, "plain.example.com", 80, 1) == 1);
	CHECK(petri__vault_scope(v, "plain.example.com", 8080, 0) == 2);
	CHECK(petri__vault_scope(v, "plain.example.com", 443, 1) == 0);
	CHECK(petri__vault_scope(v, "x.wild.example.com", 8443, 1) == 1);
	CHECK(petri__vault_scope(v, "wild.example.com", 8443, 1) == 0);
	CHECK(petri__vault_scope(v, "x.wild.example.com", 443, 1) == 0);
	CHECK(petri__vault_scope(v, "::1", 9443, 1) == 1);
	CHECK(petri__vault_scope(v, "evil.example.com", 443, 1) == 0);
	CHECK(petri__vault_scope(v, "api.example.com.evil", 443, 1) == 0);
	const char *const *al = petri__vault_allow(v);
	const char *want[] = {"api.example.com:443", "plain.example.com:80",
			      "*.wild.example.com:8443", "[::1]:9443", "plain.example.com:8080"};
	size_t k = 0;
	for (; al && al[k]; k++)
		CHECK_MSG(k < 5 && strcmp(al[k], want[k]) == 0, "allow[%zu] = %s", k, al[k]);
	CHECK(k == 5);
	petri__vault_free(v);
}

/* ---- scan ------------------------------------------------------------------------ */

static void b64(const void *p, size_t n, char *out, int url)
{
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	if (url)
		for (char *c = out; *c; c++)
			*c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
}

static void pct_all(const char *s, char *out, int upper)
{
	for (; *s; s++)
		out += sprintf(out, upper ? "%%%02X" : "%%%02x", (unsigned char)*s);
}

static enum petri_vault_misuse scan_str(struct petri_vault *v, uint64_t scope, const char *s,
					struct petri_vault_finding *f)
{
	return petri__vault_scan(v, scope, s, strlen(s), f);
}

static void test_scan(void)
{
	struct petri_vault *v = vault1(VALUE, strlen(VALUE), API_HOSTS);
	const char *tok = petri__vault_placeholder(v, 0);
	struct petri_vault_finding f;
	char buf[1024], enc[512];
	CHECK(scan_str(v, 0, "GET /nothing HTTP/1.1", &f) == PETRI_VAULT_OK);
	snprintf(buf, sizeof(buf), "x=%s&y", tok);
	CHECK(scan_str(v, 0, buf, &f) == PETRI_VAULT_MISUSE_HOST && f.secret == 0);
	CHECK(scan_str(v, 1, buf, &f) == PETRI_VAULT_OK);
	/* any case (DNS) */
	for (char *c = buf; *c; c++)
		*c = (char)toupper(*c);
	CHECK(scan_str(v, 0, buf, &f) == PETRI_VAULT_MISUSE_HOST);
	snprintf(buf, sizeof(buf), "%s.evil.example", tok);
	CHECK(scan_str(v, 0, buf, &f) == PETRI_VAULT_MISUSE_HOST);
	/* percent-encoded, whole and in part, both cases, twice */
	for (int up = 0; up < 2; up++) {
		pct_all(tok, enc, up);
		snprintf(buf, sizeof(buf), "/q?a=%s", enc);
		CHECK(scan_str(v, 0, buf, &f) == PETRI_VAULT_MISUSE_HOST);
	}
	snprintf(buf, sizeof(buf), "petri%%2Dvault%%2d%s", tok + 12);
	CHECK(scan_str(v, 0, buf, &f) == PETRI_VAULT_MISUSE_HOST);
	snprintf(buf, sizeof(buf), "petri%%252Dvault-%s", tok + 12);
	CHECK(scan_str(v, 0, buf, &f) == PETRI_VAULT_MISUSE_HOST);
	/* base64, both alphabets, each offset */
	for (int url = 0; url < 2; url++)
		for (int off = 0; off < 3; off++) {
			char raw[128];
			snprintf(raw, sizeof(raw), "%.*s%s??", off, "ab", tok);
			b64(raw, strlen(raw), enc, url);
			snprintf(buf, sizeof(buf), "Authorization: Bearer %s", enc);
			CHECK_MSG(scan_str(v, 0, buf, &f) == PETRI_VAULT_MISUSE_HOST,
				  "base64 url=%d off=%d", url, off);
			CHECK(scan_str(v, 1, buf, &f) == PETRI_VAULT_OK);
		}
	/* base64 of the percent-encoded token */
	pct_all(tok, enc, 0);
	char e2[1024];
	b64(enc, strlen(enc), e2, 0);
	CHECK(scan_str(v, 0, e2, &f) == PETRI_VAULT_MISUSE_HOST);
	/* a foreign token (another sandbox's), even in scope */
	CHECK(scan_str(v, 1, "a petri-vault-0123456789abcdef0123456789abcdef b", &f) ==
	      PETRI_VAULT_MISUSE_FOREIGN);
	CHECK(f.secret == -1);
	/* almost tokens */
	CHECK(scan_str(v, 0, "petri-vault-0123456789abcdef0123456789abcde", &f) == PETRI_VAULT_OK);
	CHECK(scan_str(v, 0, "petri-vault-0123456789abcdef0123456789abcdeg", &f) == PETRI_VAULT_OK);
	petri__vault_free(v);
}

/* ---- rewrite ---------------------------------------------------------------------- */

static int rw_head(struct petri_vault *v, uint64_t scope, const char *raw,
		   struct petri_vault_buf *o, struct petri_vault_finding *f)
{
	memset(o, 0, sizeof(*o));
	return petri__vault_rewrite_head(v, scope, NULL, raw, strlen(raw), o, f);
}

static void test_rewrite_head(void)
{
	static const char val[] = "k/y+1 z";
	struct petri_vault *v = vault1(val, strlen(val), API_HOSTS);
	const char *tok = petri__vault_placeholder(v, 0);
	struct petri_vault_finding f;
	struct petri_vault_buf o;
	char raw[2048], creds[256], enc[512];
	snprintf(creds, sizeof(creds), "user:%s", tok);
	b64(creds, strlen(creds), enc, 0);
	char ptok[256];
	pct_all(tok, ptok, 1);
	snprintf(raw, sizeof(raw),
		 "GET /v1/x?key=%s&p=%s HTTP/1.1\r\nHost: api.example.com\r\nX-Key: %s\r\n"
		 "Authorization: Basic %s\r\nCookie: c=%s\r\nAccept-Encoding: gzip, br\r\n"
		 "Proxy-Authorization: Basic eDp5\r\nProxy-Connection: keep-alive\r\n"
		 "TE: gzip, deflate\r\nContent-Length: 3\r\n\r\n",
		 tok, ptok, tok, enc, ptok);
	CHECK(rw_head(v, 1, raw, &o, &f) == PETRI_VAULT_OK);
	REQUIRE(o.p);
	CHECK(f.used == 1);
	CHECK(strstr(o.p, "GET /v1/x?key=k%2Fy%2B1%20z&p=k%2Fy%2B1%20z HTTP/1.1\r\n") == o.p);
	CHECK(strstr(o.p, "\r\nX-Key: k/y+1 z\r\n"));
	CHECK(strstr(o.p, "\r\nCookie: c=k%2Fy%2B1%20z\r\n"));
	CHECK(strstr(o.p, "\r\nHost: api.example.com\r\n"));
	CHECK(strstr(o.p, "\r\nContent-Length: 3\r\n"));
	/* Accept-Encoding, TE (a compressed transfer-coding) and Proxy-* gone */
	CHECK(!strstr(o.p, "gzip") && !strstr(o.p, "deflate") && !strstr(o.p, "\r\nTE:") &&
	      !strstr(o.p, "Proxy-"));
	CHECK(strstr(o.p, "\r\nAccept-Encoding: identity\r\n\r\n"));
	CHECK(!strstr(o.p, "petri-vault-"));
	/* Basic auth round trip */
	char want[256];
	snprintf(want, sizeof(want), "user:%s", val);
	b64(want, strlen(want), enc, 0);
	char line[600];
	snprintf(line, sizeof(line), "\r\nAuthorization: Basic %s\r\n", enc);
	CHECK_MSG(strstr(o.p, line), "%s", o.p);
	/* re-framed for a body of 12 bytes */
	CHECK(petri__vault_head_set_length(&o, 0, 12) == 0);
	CHECK(strstr(o.p, "\r\nContent-Length: 12\r\n\r\n") && !strstr(o.p, "Content-Length: 3"));
	CHECK(strstr(o.p, "GET /v1/x?key=") == o.p);
	free(o.p);

	/* outside the scope: misuse, nothing appended */
	CHECK(rw_head(v, 0, raw, &o, &f) == PETRI_VAULT_MISUSE_HOST);
	CHECK(o.len == 0 && f.secret == 0);
	free(o.p);
	snprintf(raw, sizeof(raw), "GET /?a=%s HTTP/1.1\r\nHost: x\r\n\r\n", ptok);
	CHECK(rw_head(v, 0, raw, &o, &f) == PETRI_VAULT_MISUSE_HOST && o.len == 0);
	free(o.p);
	snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n\r\n",
		 enc);
	snprintf(creds, sizeof(creds), "u:%s", tok);
	b64(creds, strlen(creds), enc, 0);
	snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n\r\n",
		 enc);
	CHECK(rw_head(v, 0, raw, &o, &f) == PETRI_VAULT_MISUSE_HOST && o.len == 0);
	free(o.p);
	CHECK(rw_head(v, 1,
		      "GET / HTTP/1.1\r\nX: petri-vault-00000000000000000000000000000000\r\n\r\n",
		      &o, &f) == PETRI_VAULT_MISUSE_FOREIGN);
	free(o.p);
	/* nothing to substitute: the head as it was, but Accept-Encoding */
	CHECK(rw_head(v, 1, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", &o, &f) == 0);
	CHECK(f.used == 0 && f.where == NULL);
	CHECK(strcmp(o.p, "GET / HTTP/1.1\r\nHost: a\r\nAccept-Encoding: identity\r\n\r\n") == 0);
	free(o.p);
	petri__vault_free(v);

	/* a value with CR LF: not in a header, but fine percent-encoded */
	static const char bad[] = "a\r\nX-Injected: 1";
	v = vault1(bad, strlen(bad), API_HOSTS);
	tok = petri__vault_placeholder(v, 0);
	snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nX-Key: %s\r\n\r\n", tok);
	CHECK(rw_head(v, 1, raw, &o, &f) == PETRI_VAULT_MISUSE_UNSAFE && o.len == 0);
	CHECK(strcmp(f.where, "header") == 0);
	free(o.p);
	snprintf(raw, sizeof(raw), "GET /?k=%s HTTP/1.1\r\n\r\n", tok);
	CHECK(rw_head(v, 1, raw, &o, &f) == 0);
	CHECK(strstr(o.p, "GET /?k=a%0D%0AX-Injected%3A%201 HTTP/1.1\r\n") == o.p);
	free(o.p);
	/* in Basic credentials the value is base64 again: safe */
	snprintf(creds, sizeof(creds), "u:%s", tok);
	b64(creds, strlen(creds), enc, 0);
	snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nAuthorization: Basic %s\r\n\r\n", enc);
	CHECK(rw_head(v, 1, raw, &o, &f) == 0 && f.used == 1);
	CHECK(!strstr(o.p, "X-Injected"));
	free(o.p);
	petri__vault_free(v);
}

static void test_rewrite_body(void)
{
	static const char val[] = "p@ss word";
	struct petri_vault *v = vault1(val, strlen(val), API_HOSTS);
	const char *tok = petri__vault_placeholder(v, 0);
	struct petri_vault_finding f;
	struct petri_vault_buf o = {0};
	char body[512], ptok[256];
	snprintf(body, sizeof(body), "{\"key\":\"%s\"}", tok);
	CHECK(petri__vault_rewrite_body(v, 1, body, strlen(body), 0, &o, &f) == 0);
	CHECK(o.p && strcmp(o.p, "{\"key\":\"p@ss word\"}") == 0 && f.used == 1);
	free(o.p);
	memset(&o, 0, sizeof(o));
	pct_all(tok, ptok, 0);
	snprintf(body, sizeof(body), "a=%s&b=%s", tok, ptok);
	CHECK(petri__vault_rewrite_body(v, 1, body, strlen(body), 1, &o, &f) == 0);
	CHECK(o.p && strcmp(o.p, "a=p%40ss%20word&b=p%40ss%20word") == 0);
	free(o.p);
	memset(&o, 0, sizeof(o));
	CHECK(petri__vault_rewrite_body(v, 0, body, strlen(body), 1, &o, &f) ==
	      PETRI_VAULT_MISUSE_HOST);
	CHECK(o.len == 0);
	free(o.p);
	memset(&o, 0, sizeof(o));
	/* over the bound: unchanged without a placeholder, else too large */
	size_t big = PETRI_VAULT_BODY_MAX + 10;
	char *b = calloc(1, big);
	memset(b, 'x', big);
	CHECK(petri__vault_rewrite_body(v, 1, b, big, 0, &o, &f) == 0 && o.len == big);
	free(o.p);
	memset(&o, 0, sizeof(o));
	memcpy(b + 100, tok, strlen(tok));
	CHECK(petri__vault_rewrite_body(v, 1, b, big, 0, &o, &f) == PETRI_VAULT_MISUSE_TOO_LARGE);
	CHECK(o.len == 0);
	free(o.p);
	free(b);
	petri__vault_free(v);
}

/* ---- scrubber ---------------------------------------------------------------------- */

struct sink {
	char *p;
	size_t len, cap;
};

static int sink_put(void *arg, const char *p, size_t n)
{
	struct sink *s = arg;
	if (s->len + n + 1 > s->cap) {
		s->cap = (s->len + n + 1) * 2;
		s->p = realloc(s->p, s->cap);
		REQUIRE(s->p);
	}
	memcpy(s->p + s->len, p, n);
	s->len += n;
	s->p[s->len] = '\0';
	return 0;
}

/* @in fed in pieces of @k bytes (k 0: pseudo-random sizes from @seed),
 * checking the holdback bound after each feed. */
static void scrub_feeds(struct petri_vault *v, const char *in, size_t n, size_t k, unsigned seed,
			struct sink *out)
{
	struct petri_vault_scrub *s = petri__vault_scrub_new(v);
	REQUIRE(s);
	size_t w = petri__vault_scrub_window(v);
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n;) {
		size_t m = k ? k : 1 + (size_t)(rand_r(&seed) % 97);
		if (m > n - i)
			m = n - i;
		REQUIRE(petri__vault_scrub_feed(s, in + i, m, sink_put, out) == 0);
		i += m;
		CHECK_MSG(out->len + (w - 1) >= i, "held %zu > window-1 %zu", i - out->len, w - 1);
	}
	REQUIRE(petri__vault_scrub_end(s, sink_put, out) == 0);
	CHECK(out->len == n);
	petri__vault_scrub_free(s);
}

/* Scrub @in whole, in place, and in every piece size 1..n: the same. */
static char *scrub_all_ways(struct petri_vault *v, const char *in)
{
	size_t n = strlen(in);
	char *whole = strdup(in);
	petri__vault_scrub_buf(v, whole, n);
	for (size_t k = 1; k <= n; k++) {
		struct sink o;
		scrub_feeds(v, in, n, k, 0, &o);
		CHECK_MSG(o.len == n && memcmp(o.p, whole, n) == 0, "feeds of %zu:\n%s\nvs\n%s", k,
			  o.p, whole);
		free(o.p);
	}
	for (unsigned seed = 1; seed < 20; seed++) {
		struct sink o;
		scrub_feeds(v, in, n, 0, seed, &o);
		CHECK(o.len == n && memcmp(o.p, whole, n) == 0);
		free(o.p);
	}
	return whole;
}

/* @in scrubbed: the part between "<" and ">" all '*', the rest as it was. */
static void check_masked(struct petri_vault *v, const char *in, int edges)
{
	char *out = scrub_all_ways(v, in);
	const char *lt = strchr(in, '<'), *gt = strrchr(in, '>');
	REQUIRE(lt && gt);
	size_t a = (size_t)(lt - in) + 1, b = (size_t)(gt - in);
	for (size_t i = 0; i < strlen(in); i++) {
		int want = i >= a && i < b;
		/* base64: the partial characters next to it may go too */
		if (edges && (i + 1 == a || i == b))
			continue;
		if (want)
			CHECK_MSG(out[i] == '*', "%s -> %s: byte %zu not masked", in, out, i);
		else
			CHECK_MSG(out[i] == in[i], "%s -> %s: byte %zu changed", in, out, i);
	}
	free(out);
}

static void test_scrub_encodings(void)
{
	static const char val[] = "Tok/en+ \"q\"\\\xc3\xa9=!";
	size_t L = strlen(val);
	struct petri_vault *v = vault1(val, L, API_HOSTS);
	char in[1024], enc[512];
	snprintf(in, sizeof(in), "raw: <%s> end", val);
	check_masked(v, in, 0);
	/* hex both cases */
	for (int up = 0; up < 2; up++) {
		char *o = enc;
		for (size_t i = 0; i < L; i++)
			o += sprintf(o, up ? "%02X" : "%02x", (unsigned char)val[i]);
		snprintf(in, sizeof(in), "hex <%s> .", enc);
		check_masked(v, in, 0);
	}
	/* percent-encoded: minimal, as Python's quote() (keeps '/'), as
	 * encodeURIComponent (keeps !'()*), as Go's url.PathEscape (keeps
	 * $&+:=@; a server that puts a credential into a path segment), as
	 * Go's URL path, encodeURI and RFC 3986's pchar; both hex cases; '+'
	 * for space; and mixed hex case (one hex digit upper, the next lower) */
	static const char *const safe[] = {
		"", "/", "!'()*", "$&+:=@", "$&+,/:;=@", "!#$&'()*+,/:;=?@", "!$&'()*+,;=:@"};
	for (int k = 0; k < (int)(sizeof(safe) / sizeof(safe[0])); k++)
		for (int up = 0; up < 3; up++)
			for (int plus = 0; plus < 2; plus++) {
				char *o = enc;
				for (size_t i = 0; i < L; i++) {
					unsigned char c = (unsigned char)val[i];
					if (isalnum(c) || strchr("-._~", c) ||
					    (c && strchr(safe[k], c)))
						*o++ = (char)c;
					else if (c == ' ' && plus)
						*o++ = '+';
					else
						o += sprintf(o,
							     up == 1 || (up == 2 && i % 2) ?
								     "%%%02X" :
								     "%%%02x",
							     c);
				}
				*o = '\0';
				snprintf(in, sizeof(in), "q=<%s>&", enc);
				check_masked(v, in, 0);
			}
	/* JSON with "\/" (PHP) */
	snprintf(in, sizeof(in), "{\"k\":\"<Tok\\/en+ \\\"q\\\"\\\\\xc3\xa9=!>\"}");
	check_masked(v, in, 0);
	/* a case variant of the value is masked too (the matching folds case) */
	snprintf(in, sizeof(in), "<TOK/EN+ \"Q\"\\\xc3\xa9=!>");
	check_masked(v, in, 0);
	/* JSON: as escapes go, and with \u00e9 (ensure_ascii) */
	snprintf(in, sizeof(in), "{\"k\":\"<Tok/en+ \\\"q\\\"\\\\\xc3\xa9=!>\"}");
	check_masked(v, in, 0);
	snprintf(in, sizeof(in), "{\"k\":\"<Tok/en+ \\\"q\\\"\\\\\\u00e9=!>\"}");
	check_masked(v, in, 0);
	/* base64 at each alignment, both alphabets: the characters that the
	 * value determines masked (the partial ones beside them may be) */
	for (int url = 0; url < 2; url++)
		for (int k = 0; k < 3; k++) {
			char raw[128];
			memcpy(raw, "\x01\x02", (size_t)k);
			memcpy(raw + k, val, L);
			memcpy(raw + k + L, "\x03\x04\x05", 3);
			b64(raw, (size_t)k + L + 3, enc, url);
			/* the determined characters: [ceil(8k/6), floor(8(k+L)/6)) */
			size_t j0 = (size_t)(8 * k + 5) / 6, j1 = (size_t)(8 * (k + (int)L)) / 6;
			snprintf(in, sizeof(in), "b64 %.*s<%.*s>%s !", (int)j0, enc, (int)(j1 - j0),
				 enc + j0, enc + j1);
			check_masked(v, in, 1);
			/* and the partial characters beside it are masked too */
			snprintf(in, sizeof(in), "b64 %s !", enc);
			char *out = scrub_all_ways(v, in);
			size_t a = 4 + j0, z = 4 + j1;
			CHECK_MSG(out[a - 1] == (8 * k % 6 ? '*' : in[a - 1]), "url %d k %d: %s",
				  url, k, out);
			CHECK_MSG(out[z] == ((8 * (k + (int)L)) % 6 ? '*' : in[z]),
				  "url %d k %d: %s", url, k, out);
			CHECK(out[z + 1] == in[z + 1] && (a < 2 || out[a - 2] == in[a - 2]));
			free(out);
		}
	/* nothing else touched; the window holds the longest pattern */
	snprintf(in, sizeof(in), "<> nothing to see: Tok/en+ \"q\" 546f6b2f");
	char *out = scrub_all_ways(v, in);
	CHECK(strcmp(out, in) == 0);
	free(out);
	CHECK(petri__vault_scrub_window(v) >= 2 * L + 2);
	petri__vault_free(v);
}

static void test_scrub_overlaps(void)
{
	/* a value that is a prefix of itself repeated */
	static const char *const vals[] = {"abab", "aaaa", "abcab"};
	static const char *const ins[] = {"x<abababab>y<ababa>bab", "z<aaaaaaa>aaz",
					  "<abcabcab>c."};
	for (int i = 0; i < 3; i++) {
		struct petri_vault *v = vault1(vals[i], strlen(vals[i]), API_HOSTS);
		char *out = scrub_all_ways(v, ins[i]);
		/* every byte inside an occurrence masked; the '<' '>' kept */
		const char *in = ins[i];
		for (size_t j = 0; in[j]; j++) {
			int inside = 0;
			for (size_t a = 0; a + strlen(vals[i]) <= strlen(in); a++)
				if (memcmp(in + a, vals[i], strlen(vals[i])) == 0 && j >= a &&
				    j < a + strlen(vals[i]))
					inside = 1;
			CHECK_MSG(inside ? out[j] == '*' : out[j] == in[j], "%s: %s -> %s at %zu",
				  vals[i], in, out, j);
		}
		free(out);
		petri__vault_free(v);
	}
	/* two secrets, one inside the other's encoding */
	petri_secret a = PETRI_SECRET_INIT, b = PETRI_SECRET_INIT;
	a.name = "A";
	a.value = "needle";
	a.value_len = 6;
	a.hosts = API_HOSTS;
	b = a;
	b.name = "B";
	b.value = "haystack-needle-x";
	b.value_len = strlen(b.value);
	const struct petri_secret *list[] = {&a, &b, NULL};
	struct petri_vault *v = NULL;
	REQUIRE(petri__vault_new(list, NULL, &v, NULL) == 0);
	char *out = scrub_all_ways(v, "1 haystack-needle-x 2 needle 3 haystack-needle");
	CHECK(strcmp(out, "1 ***************** 2 ****** 3 haystack-******") == 0);
	free(out);
	char sc[64] = "needle needle";
	CHECK(petri__vault_scrub_buf(v, sc, strlen(sc)) == 12);
	CHECK(strcmp(sc, "****** ******") == 0);
	petri__vault_free(v);
}

/* The best of three runs of @n bytes through a scrubber, in 16 KiB feeds
 * (the machine is shared: the best run is the least disturbed one). */
static int emit_fail(void *arg, const char *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	return -EPIPE;
}

/* A scrubber is ready for a new stream after end (nothing of the old one
 * carries over), and an emit callback's error is returned. */
static void test_scrub_reuse(void)
{
	struct petri_vault *v = vault1(VALUE, strlen(VALUE), API_HOSTS);
	struct petri_vault_scrub *s = petri__vault_scrub_new(v);
	REQUIRE(s);
	struct sink o = {0};
	/* the first stream ends in the middle of the value */
	CHECK(petri__vault_scrub_feed(s, "x s3cr3t-VAL", 12, sink_put, &o) == 0);
	CHECK(petri__vault_scrub_end(s, sink_put, &o) == 0);
	CHECK(o.len == 12 && memcmp(o.p, "x s3cr3t-VAL", 12) == 0);
	o.len = 0;
	/* the second: its start does not complete the first's prefix */
	CHECK(petri__vault_scrub_feed(s, "UE_42 y s3cr3t-VALUE_42!", 24, sink_put, &o) == 0);
	CHECK(petri__vault_scrub_end(s, sink_put, &o) == 0);
	CHECK(o.len == 24 && memcmp(o.p, "UE_42 y ***************!", 24) == 0);
	/* an error from emit */
	static char big[8192];
	memset(big, 'z', sizeof(big));
	CHECK(petri__vault_scrub_feed(s, big, sizeof(big), emit_fail, NULL) == -EPIPE);
	petri__vault_scrub_free(s);
	petri__vault_scrub_free(NULL);
	free(o.p);
	petri__vault_free(v);
}

static double scrub_time_feeds(struct petri_vault *v, const char *in, size_t n, size_t feed)
{
	double best = 1e9;
	for (int r = 0; r < 3; r++) {
		struct petri_vault_scrub *s = petri__vault_scrub_new(v);
		REQUIRE(s);
		double t0 = now_s();
		for (size_t i = 0; i < n; i += feed)
			REQUIRE(petri__vault_scrub_feed(s, in + i, n - i < feed ? n - i : feed,
							NULL, NULL) == 0);
		REQUIRE(petri__vault_scrub_end(s, NULL, NULL) == 0);
		double t = now_s() - t0;
		petri__vault_scrub_free(s);
		if (t < best)
			best = t;
	}
	return best;
}

static double scrub_time(struct petri_vault *v, const char *in, size_t n)
{
	return scrub_time_feeds(v, in, n, 16384);
}

static void test_scrub_cost(void)
{
	/* 64 secrets of 40 printable bytes sharing long prefixes (the hardest
	 * case for a naive matcher), and an input made of near misses. */
	petri_secret ss[64];
	const struct petri_secret *list[65];
	char names[64][8], vals[64][41];
	for (int i = 0; i < 64; i++) {
		petri_secret s = PETRI_SECRET_INIT;
		memset(vals[i], 'a', 40);
		vals[i][39] = (char)('A' + i % 26);
		vals[i][38] = (char)('A' + i / 26);
		vals[i][40] = '\0';
		snprintf(names[i], sizeof(names[i]), "S%d", i);
		s.name = names[i];
		s.value = vals[i];
		s.value_len = 40;
		s.hosts = API_HOSTS;
		ss[i] = s;
		list[i] = &ss[i];
	}
	list[64] = NULL;
	struct petri_vault *v = NULL;
	double t0 = now_s();
	REQUIRE(petri__vault_new(list, NULL, &v, NULL) == 0);
	printf("vault of 64 secrets: %.1f ms\n", (now_s() - t0) * 1e3);
	size_t n4 = 4u << 20, n1 = 1u << 20;
	char *in = malloc(n4);
	REQUIRE(in);
	for (size_t i = 0; i < n4; i++)
		in[i] = (i % 45) < 39 ? 'a' : "6162AYWFh%61"[i % 12]; /* near misses, encodings */
	double t1 = scrub_time(v, in, n1), t4 = scrub_time(v, in, n4);
	/* the same with one secret: the cost must not grow with the patterns
	 * (a matcher that tries each pattern at each byte would be 64 x) */
	const struct petri_secret *one[] = {list[0], NULL};
	struct petri_vault *v1 = NULL;
	REQUIRE(petri__vault_new(one, NULL, &v1, NULL) == 0);
	double t4one = scrub_time(v1, in, n4);
	petri__vault_free(v1);
	/* one byte per feed: no work per feed that grows with what is held */
	double f1 = scrub_time_feeds(v, in, n1, 1), f4 = scrub_time_feeds(v, in, n4, 1);
	printf("scrubber: 64 secrets / 1 secret %.2f; 1-byte feeds 1 MiB %.1f ms, 4 MiB %.1f ms "
	       "(ratio %.2f)\n",
	       t4 / t4one, f1 * 1e3, f4 * 1e3, f4 / f1);
	CHECK_MSG(t4 / t4one < 8.0, "64 secrets cost %.1f x one", t4 / t4one);
	CHECK_MSG(f4 / f1 < 8.0, "1-byte feeds: 4 MiB took %.2f x the time of 1 MiB", f4 / f1);
	/* and plain text */
	for (size_t i = 0; i < n4; i++)
		in[i] = "The quick brown fox jumps over the lazy dog. "[i % 45];
	double tp = scrub_time(v, in, n4);
	printf("scrubber, 64 secrets: near misses 1 MiB %.1f ms, 4 MiB %.1f ms (ratio %.2f, "
	       "%.0f MB/s); text %.0f MB/s\n",
	       t1 * 1e3, t4 * 1e3, t4 / t1, 4.0 * 1.048576 / t4, 4.0 * 1.048576 / tp);
	CHECK_MSG(t4 / t1 < 8.0, "4 MiB took %.2f x the time of 1 MiB", t4 / t1);
	free(in);
	petri__vault_free(v);
}

/* The largest vault: 64 secrets of 4096 random bytes (every encoding at
 * its longest).  What it costs to make, hold and run is printed; the
 * scrubber stays linear. */
static void test_scrub_largest(void)
{
	static petri_secret ss[64];
	const struct petri_secret *list[65];
	static unsigned char vals[64][4096];
	char names[64][8];
	REQUIRE(RAND_bytes(&vals[0][0], sizeof(vals)) == 1);
	for (int i = 0; i < 64; i++) {
		petri_secret s = PETRI_SECRET_INIT;
		snprintf(names[i], sizeof(names[i]), "S%d", i);
		s.name = names[i];
		s.value = vals[i];
		s.value_len = 4096;
		s.hosts = API_HOSTS;
		ss[i] = s;
		list[i] = &ss[i];
	}
	list[64] = NULL;
	long r0 = petri_test_rss_kib();
	double t0 = now_s();
	struct petri_vault *v = NULL;
	REQUIRE(petri__vault_new(list, NULL, &v, NULL) == 0);
	double t1 = now_s();
	long r1 = petri_test_rss_kib();
	size_t n = 4u << 20;
	char *in = malloc(n);
	REQUIRE(in);
	/* the values' hex, over and over: long partial matches everywhere */
	for (size_t i = 0; i < n; i++)
		in[i] = "0123456789abcdef"[(vals[i / 8192 % 64][i / 2 % 4096] >> (i % 2 ? 0 : 4)) &
					   15];
	double ts1 = scrub_time(v, in, n / 4), ts4 = scrub_time(v, in, n);
	printf("64 x 4096-byte secrets: vault_new %.0f ms, +%ld KiB, window %zu; scrubber 1 MiB "
	       "%.1f ms, 4 MiB %.1f ms (ratio %.2f)\n",
	       (t1 - t0) * 1e3, r1 - r0, petri__vault_scrub_window(v), ts1 * 1e3, ts4 * 1e3,
	       ts4 / ts1);
	CHECK_MSG(ts4 / ts1 < 8.0, "4 MiB took %.2f x the time of 1 MiB", ts4 / ts1);
	/* the hex of every value was masked whole */
	char *cp = malloc(n);
	memcpy(cp, in, n);
	CHECK(petri__vault_scrub_buf(v, cp, n) > 0);
	CHECK(cp[0] == '*' && cp[n - 1] == '*');
	free(cp);
	/* scan, 1 MiB: one base64 run, and percent-encoded near misses */
	struct petri_vault_finding f;
	memset(in, 'A', n / 4);
	double a = now_s();
	CHECK(petri__vault_scan(v, 0, in, n / 4, &f) == PETRI_VAULT_OK);
	double b = now_s();
	for (size_t i = 0; i < n / 4; i++)
		in[i] = "%70etri-vault-0"[i % 15];
	CHECK(petri__vault_scan(v, 0, in, n / 4, &f) == PETRI_VAULT_OK);
	double c = now_s();
	printf("scan of 1 MiB: base64 run %.1f ms, percent-encoded near misses %.1f ms\n",
	       (b - a) * 1e3, (c - b) * 1e3);
	free(in);
	petri__vault_free(v);
}

/* clang-format off */
static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(placeholders),
	PETRI_TEST_CASE(bad_secrets),
	PETRI_TEST_CASE(memory),
	PETRI_TEST_CASE(memory_fallback),
	PETRI_TEST_CASE(ca_and_leaves),
	PETRI_TEST_CASE(ca_ip_only),
	PETRI_TEST_CASE(tls_alpn),
	PETRI_TEST_CASE(scope),
	PETRI_TEST_CASE(scan),
	PETRI_TEST_CASE(rewrite_head),
	PETRI_TEST_CASE(rewrite_body),
	PETRI_TEST_CASE(scrub_encodings),
	PETRI_TEST_CASE(scrub_overlaps),
	PETRI_TEST_CASE(scrub_reuse),
	PETRI_TEST_CASE(scrub_cost),
	PETRI_TEST_CASE(scrub_largest),
	{NULL, NULL},
};
/* clang-format on */

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
