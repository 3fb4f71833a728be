/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vault.c - TenantVault (vault.h): the secrets of one sandbox, their
 * placeholders, the sandbox's CA and leaf certificates, the scope of each
 * secret (policy.c's matching), finding placeholders in bytes that go
 * where no value may go, rewriting request heads and bodies, and a
 * streaming scrubber of values and their encodings (one Aho-Corasick
 * automaton over every pattern: linear in the input, whatever it holds).
 *
 * Pure functions of bytes: no sockets, no threads, no logging.  No value
 * is ever formatted into a message.
 */
#include <ctype.h>
#include <pthread.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "vault.h"

#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif

#define NAME_MAX_LEN 64
#define HOSTS_MAX 256 /* host entries of one secret */
#define LEAVES_MAX 64 /* leaf certificates cached per vault */
#define PREFIX_LEN (sizeof(PETRI_VAULT_PREFIX) - 1)
#define B64_MIN 4        /* shorter base64 patterns are not masked (noise) */
#define VARIANTS_MAX 512 /* values up to this many bytes get every encoding variant */

struct vsecret {
	char name[NAME_MAX_LEN + 1];
	char token[PETRI_VAULT_TOKEN_LEN + 1];
	uint8_t rnd[16];
	unsigned char *value; /* in the vault's secret mapping */
	size_t len;
	int header_unsafe;             /* CR, LF or NUL in the value */
	struct petri_net_policy all;   /* every host entry, with its port */
	struct petri_net_policy plain; /* the http:// entries (n may be 0) */
};

struct leaf {
	char host[PETRI_NET_HOST_MAX];
	SSL_CTX *ctx;
	uint64_t used;
};

/* The scrubber's automaton (see build_ac). */
struct ac_node {
	uint32_t fail;
	uint32_t edge_off;
	uint16_t edge_n;
	uint16_t best;  /* the longest pattern ending here (0: none) */
	uint8_t before; /* that pattern is base64 with a partial char before it */
	uint8_t after;  /* some pattern ending here has a partial char after it */
};
struct ac {
	struct ac_node *nodes;
	size_t n, cap;
	uint8_t *edge_c;
	uint32_t *edge_to;
	size_t nedges;
	uint32_t root_next[256]; /* the root's goto, complete */
	size_t maxlen;
};

/* Memory that is not dumpable, not swappable, not inherited by fork. */
struct smap {
	void *p;
	size_t len;
	int secretmem; /* memfd_secret(2)'s, else mlock + MADV_DONTDUMP */
};

struct petri_vault {
	size_t n;
	struct vsecret s[PETRI_VAULT_MAX];
	struct smap vals;  /* the values */
	struct smap edges; /* the scrubber's edge bytes: they spell the values out */
	char **allow;      /* NULL-terminated */
	EVP_PKEY *ca_key;
	X509 *ca;
	char *ca_pem;
	size_t ca_pem_len;
	SSL_CTX *client;
	struct leaf leaves[LEAVES_MAX];
	uint64_t tick;
	struct ac ac;
};

/* ---- small encoders ------------------------------------------------------ */

static const char B64_STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

static int hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int buf_reserve(struct petri_vault_buf *b, size_t more)
{
	if (b->cap - b->len >= more)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < more) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	char *p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int buf_put(struct petri_vault_buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n + 1) < 0)
		return -ENOMEM;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int buf_putc(struct petri_vault_buf *b, char c)
{
	return buf_put(b, &c, 1);
}

/* Percent-encode @p: every byte but the unreserved ones (RFC 3986) and
 * those in @safe (may be NULL), hex in @hexs; @plus: space as '+'. */
static int put_pct(struct petri_vault_buf *b, const unsigned char *p, size_t n, const char *hexs,
		   const char *safe, int plus)
{
	for (size_t i = 0; i < n; i++) {
		char e[3] = {'%', hexs[p[i] >> 4], hexs[p[i] & 15]};
		int keep = unreserved(p[i]) || (safe && p[i] && strchr(safe, p[i]));
		int rc = keep                ? buf_putc(b, (char)p[i]) :
			 plus && p[i] == ' ' ? buf_putc(b, '+') :
					       buf_put(b, e, 3);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int put_b64(struct petri_vault_buf *b, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i += 3) {
		uint32_t w = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			w |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			w |= p[i + 2];
		char o[4] = {B64_STD[w >> 18], B64_STD[(w >> 12) & 63],
			     i + 1 < n ? B64_STD[(w >> 6) & 63] : '=',
			     i + 2 < n ? B64_STD[w & 63] : '='};
		if (buf_put(b, o, 4) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Decode base64 (either alphabet, padding optional) into @out (at least
 * n*3/4+3 bytes); the length, or -1 when @p is not base64. */
static ssize_t b64_decode(const unsigned char *p, size_t n, unsigned char *out)
{
	while (n > 0 && p[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return -1;
	size_t o = 0;
	uint32_t w = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64_val(p[i]);
		if (v < 0)
			return -1;
		w = (w << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(w >> bits);
		}
	}
	return (ssize_t)o;
}

/* ---- creation: checks ------------------------------------------------------ */

static int name_ok(const char *s)
{
	if (!s || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	size_t i = 1;
	for (; s[i]; i++)
		if (i >= NAME_MAX_LEN || !(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return 0;
	return 1;
}

/* "secret 'NAME'" or "secrets[i]" (when the name itself is bad). */
static const char *who(const struct petri_secret *s, size_t i, char buf[96])
{
	if (name_ok(s->name))
		snprintf(buf, 96, "secret '%s'", s->name);
	else
		snprintf(buf, 96, "secrets[%zu]", i);
	return buf;
}

/* One host entry "[http://]HOST[:PORT]" to the allowlist entry
 * "HOST:PORT" in @out; @plain set for http://.  NULL or why not. */
static const char *host_entry(const char *h, char *out, size_t cap, int *plain)
{
	*plain = 0;
	if (strncasecmp(h, "http://", 7) == 0) {
		*plain = 1;
		h += 7;
	} else if (strstr(h, "://")) {
		return "the only scheme is 'http://' (HOST[:PORT] alone means HTTPS)";
	}
	if (!*h)
		return "empty host";
	if (strchr(h, '='))
		return "'=ADDR' belongs in .allow (an entry for the same name and port)";
	if (strpbrk(h, "/?#"))
		return "a path, query or fragment is not allowed";
	/* Does it carry a port?  "[v6]:P", "name:P". */
	const char *close = h[0] == '[' ? strchr(h, ']') : NULL;
	int has_port = close ? close[1] == ':' : strchr(h, ':') != NULL;
	int n = has_port ? snprintf(out, cap, "%s", h) :
			   snprintf(out, cap, "%s:%u", h, *plain ? 80u : 443u);
	if (n < 0 || (size_t)n >= cap)
		return "longer than 1024 bytes";
	return NULL;
}

static int parse_hosts(const struct petri_secret *s, size_t idx, struct vsecret *vs,
		       petri_error **err)
{
	char w[96];
	size_t n = 0;
	while (s->hosts && s->hosts[n] && n <= HOSTS_MAX)
		n++;
	if (n == 0)
		return petri__err(err, 0, "%s: no hosts (give at least one [http://]HOST[:PORT])",
				  who(s, idx, w));
	if (n > HOSTS_MAX)
		return petri__err(err, 0, "%s: more than %d hosts", who(s, idx, w), HOSTS_MAX);
	char **all = calloc(n + 1, sizeof(*all));
	char **plain = calloc(n + 1, sizeof(*plain));
	int rc = 0;
	size_t np = 0;
	if (!all || !plain) {
		rc = petri__err(err, ENOMEM, "%s", who(s, idx, w));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char e[1100];
		int pl;
		const char *why = host_entry(s->hosts[i], e, sizeof(e), &pl);
		petri_error *perr = NULL;
		struct petri_net_policy one;
		const char *list[2] = {e, NULL};
		if (!why && petri__net_policy_parse(&one, list, &perr) == 0) {
			petri__net_policy_free(&one);
		} else if (!why) {
			rc = petri__err(err, 0, "%s: hosts[%zu]: %s", who(s, idx, w), i,
					perr ? perr->msg : "invalid");
			petri_error_free(perr);
			goto out;
		}
		if (why) {
			rc = petri__err(err, 0, "%s: hosts[%zu]: %s", who(s, idx, w), i, why);
			goto out;
		}
		if (!(all[i] = strdup(e)) || (pl && !(plain[np++] = strdup(e)))) {
			rc = petri__err(err, ENOMEM, "%s", who(s, idx, w));
			goto out;
		}
	}
	petri_error *perr = NULL;
	if (petri__net_policy_parse(&vs->all, (const char *const *)all, &perr) < 0 ||
	    (np && petri__net_policy_parse(&vs->plain, (const char *const *)plain, &perr) < 0)) {
		rc = petri__err(err, 0, "%s: %s", who(s, idx, w),
				perr ? perr->msg : "invalid hosts");
		petri_error_free(perr);
		petri__net_policy_free(&vs->all);
	}
out:
	for (size_t i = 0; all && all[i]; i++)
		free(all[i]);
	for (size_t i = 0; plain && plain[i]; i++)
		free(plain[i]);
	free(all);
	free(plain);
	return rc;
}

/* ---- secret memory ------------------------------------------------------- */

/* A mapping of @len bytes that is not dumpable, not swappable and not
 * inherited by fork (init may be a fork of the host): memfd_secret(2)
 * (removed from the kernel's direct map too), else anonymous memory with
 * mlock + MADV_DONTDUMP + MADV_DONTFORK. */
static int secret_map(struct smap *m, size_t len, const char *what, petri_error **err)
{
	long pg = sysconf(_SC_PAGESIZE);
	len = (len + (size_t)pg - 1) / (size_t)pg * (size_t)pg;
	int fd = (int)syscall(SYS_memfd_secret, (unsigned)O_CLOEXEC);
	if (fd >= 0) {
		void *p = MAP_FAILED;
		if (ftruncate(fd, (off_t)len) == 0)
			p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (p != MAP_FAILED) {
			madvise(p, len, MADV_DONTFORK);
			m->p = p;
			m->len = len;
			m->secretmem = 1;
			return 0;
		}
		/* e.g. RLIMIT_MEMLOCK: the fallback below says so if it fails too */
	}
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return petri__err(err, errno, "%s: mmap %zu bytes", what, len);
	if (mlock(p, len) < 0) {
		int e = errno;
		munmap(p, len);
		return petri__err(err, e,
				  "%s: mlock %zu bytes (values must not be swapped; raise "
				  "RLIMIT_MEMLOCK)",
				  what, len);
	}
	if (madvise(p, len, MADV_DONTDUMP) < 0 || madvise(p, len, MADV_DONTFORK) < 0) {
		int e = errno;
		munlock(p, len);
		munmap(p, len);
		return petri__err(err, e, "%s: madvise", what);
	}
	m->p = p;
	m->len = len;
	return 0;
}

static void secret_unmap(struct smap *m)
{
	if (!m->p)
		return;
	explicit_bzero(m->p, m->len);
	if (!m->secretmem)
		munlock(m->p, m->len);
	munmap(m->p, m->len);
	memset(m, 0, sizeof(*m));
}

/* ---- the CA and leaves ---------------------------------------------------- */

static int ssl_err(petri_error **err, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return petri__err(err, 0, "%s: %s", what, e ? buf : "OpenSSL failed");
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX c;
	X509V3_set_ctx_nodb(&c);
	X509V3_set_ctx(&c, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &c, nid, value);
	if (!ext)
		return -1;
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* A certificate for @key with a random serial, valid from an hour ago for
 * 7 days, subject CN @cn (may be NULL), issuer @issuer (NULL: itself). */
static X509 *cert_new(EVP_PKEY *key, const char *cn, X509 *issuer)
{
	X509 *x = X509_new();
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	if (!x || getrandom(serial, sizeof(serial), 0) != sizeof(serial))
		goto fail;
	serial[0] &= 0x7f;
	serial[0] |= 0x40;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	X509_NAME *name = X509_get_subject_name(x);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) || !X509_set_version(x, 2) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 7L * 86400) || !X509_set_pubkey(x, key) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
					(const unsigned char *)"petri sandbox", -1, -1, 0) ||
	    (cn && !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn,
					       -1, -1, 0)) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name))
		goto fail;
	BN_free(bn);
	return x;
fail:
	BN_free(bn);
	X509_free(x);
	return NULL;
}

static int nc_push(STACK_OF(GENERAL_SUBTREE) * sk, int type, const void *data, int len)
{
	GENERAL_SUBTREE *st = GENERAL_SUBTREE_new();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_STRING *s = type == GEN_DNS ? ASN1_IA5STRING_new() : ASN1_OCTET_STRING_new();
	if (!st || !gn || !s || !ASN1_STRING_set(s, data, len))
		goto fail;
	GENERAL_NAME_set0_value(gn, type, s);
	s = NULL;
	GENERAL_NAME_free(st->base);
	st->base = gn;
	gn = NULL;
	if (!sk_GENERAL_SUBTREE_push(sk, st))
		goto fail;
	return 0;
fail:
	ASN1_STRING_free(s);
	GENERAL_NAME_free(gn);
	GENERAL_SUBTREE_free(st);
	return -1;
}

/*
 * nameConstraints: the secrets' names (an exact name permits it and, by
 * RFC 5280's rule, its subdomains; "*.x.y" permits ".x.y", subdomains
 * only) and IP literals (with an all-ones mask).  A name type with no
 * permitted entry would be unconstrained, so it is excluded whole (DNS
 * "", IP 0/0 and ::/0).  Every host a secret can name is a normalised
 * A-label name or an IP literal, so there is no name that cannot be
 * constrained.
 */
static int ca_constraints(struct petri_vault *v, X509 *x)
{
	NAME_CONSTRAINTS *nc = NAME_CONSTRAINTS_new();
	int rc = -1, dns = 0, ip4 = 0, ip6 = 0;
	if (!nc || !(nc->permittedSubtrees = sk_GENERAL_SUBTREE_new_null()) ||
	    !(nc->excludedSubtrees = sk_GENERAL_SUBTREE_new_null()))
		goto out;
	for (size_t i = 0; i < v->n; i++) {
		const struct petri_net_policy *p = &v->s[i].all;
		for (size_t j = 0; j < p->n; j++) {
			const struct petri_net_rule *r = &p->rules[j];
			if (r->literal) {
				uint8_t b[32];
				int l = r->literal_addr.family == AF_INET ? 4 : 16;
				memcpy(b, r->literal_addr.a, (size_t)l);
				memset(b + l, 0xff, (size_t)l);
				if (nc_push(nc->permittedSubtrees, GEN_IPADD, b, 2 * l) < 0)
					goto out;
				*(l == 4 ? &ip4 : &ip6) = 1;
			} else {
				char d[PETRI_NET_HOST_MAX + 1];
				snprintf(d, sizeof(d), "%s%s", r->wildcard ? "." : "", r->host);
				if (nc_push(nc->permittedSubtrees, GEN_DNS, d, (int)strlen(d)) < 0)
					goto out;
				dns = 1;
			}
		}
	}
	static const uint8_t zero[32];
	if ((!dns && nc_push(nc->excludedSubtrees, GEN_DNS, "", 0) < 0) ||
	    (!ip4 && nc_push(nc->excludedSubtrees, GEN_IPADD, zero, 8) < 0) ||
	    (!ip6 && nc_push(nc->excludedSubtrees, GEN_IPADD, zero, 32) < 0))
		goto out;
	if (sk_GENERAL_SUBTREE_num(nc->excludedSubtrees) == 0) {
		sk_GENERAL_SUBTREE_free(nc->excludedSubtrees);
		nc->excludedSubtrees = NULL;
	}
	rc = X509_add1_ext_i2d(x, NID_name_constraints, nc, 1, X509V3_ADD_DEFAULT) == 1 ? 0 : -1;
out:
	NAME_CONSTRAINTS_free(nc);
	return rc;
}

static int ca_make(struct petri_vault *v, petri_error **err)
{
	v->ca_key = EVP_EC_gen("P-256");
	if (!v->ca_key)
		return ssl_err(err, "secrets: CA key");
	X509 *x = cert_new(v->ca_key, "petri sandbox CA", NULL);
	if (!x || add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
	    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(x, x, NID_subject_key_identifier, "hash") < 0 || ca_constraints(v, x) < 0 ||
	    !X509_sign(x, v->ca_key, EVP_sha256())) {
		X509_free(x);
		return ssl_err(err, "secrets: CA certificate");
	}
	v->ca = x;
	BIO *b = BIO_new(BIO_s_mem());
	BUF_MEM *m;
	if (!b || !PEM_write_bio_X509(b, x) || BIO_get_mem_ptr(b, &m) <= 0 ||
	    !(v->ca_pem = malloc(m->length + 1))) {
		BIO_free(b);
		return ssl_err(err, "secrets: CA PEM");
	}
	memcpy(v->ca_pem, m->data, m->length);
	v->ca_pem[m->length] = '\0';
	v->ca_pem_len = m->length;
	BIO_free(b);
	return 0;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	static const unsigned char h11[] = "\x08http/1.1";
	unsigned char *o;
	if (SSL_select_next_proto(&o, outlen, h11, sizeof(h11) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL; /* no_application_protocol */
	*out = o;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *leaf_ctx(struct petri_vault *v, const char *host, petri_error **err)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	struct petri_net_addr a;
	char norm[PETRI_NET_HOST_MAX], san[PETRI_NET_HOST_MAX + 8];
	X509 *x = NULL;
	SSL_CTX *ctx = NULL;
	if (petri__net_host_norm(host, strlen(host), norm, &a) < 0) {
		EVP_PKEY_free(key);
		petri__err(err, 0, "secrets: leaf certificate: not a host name");
		return NULL;
	}
	snprintf(san, sizeof(san), "%s:%s", a.family ? "IP" : "DNS", norm);
	/* CN: the name when it fits (64); none for an address, whose CN
	 * OpenSSL would check against the DNS constraints */
	const char *cn = !a.family && strlen(norm) <= 64 ? norm : NULL;
	if (!key || !(x = cert_new(key, cn, v->ca)) ||
	    add_ext(x, v->ca, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, v->ca, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(x, v->ca, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(x, v->ca, NID_authority_key_identifier, "keyid") < 0 ||
	    add_ext(x, v->ca, NID_subject_alt_name, san) < 0 ||
	    /* never past the CA's own end (a leaf made late in a sandbox's life) */
	    (ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(v->ca)) > 0 &&
	     !X509_set1_notAfter(x, X509_get0_notAfter(v->ca))) ||
	    !X509_sign(x, v->ca_key, EVP_sha256()) || !(ctx = SSL_CTX_new(TLS_server_method())) ||
	    !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_add1_chain_cert(ctx, v->ca) != 1) {
		ssl_err(err, "secrets: leaf certificate");
		SSL_CTX_free(ctx);
		ctx = NULL;
	} else {
		SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	}
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

SSL_CTX *petri__vault_server_ctx(struct petri_vault *v, const char *host, petri_error **err)
{
	if (!v || !host)
		return petri__err(err, 0, "secrets: no host"), NULL;
	int bound = 0;
	for (size_t i = 0; i < v->n && !bound; i++)
		bound = petri__net_policy_match(&v->s[i].all, host, 0) != NULL;
	if (!bound) {
		petri__err(err, 0, "secrets: no secret is bound to this host");
		return NULL;
	}
	struct leaf *lru = &v->leaves[0];
	for (size_t i = 0; i < LEAVES_MAX; i++) {
		struct leaf *l = &v->leaves[i];
		if (l->ctx && strcmp(l->host, host) == 0) {
			l->used = ++v->tick;
			return l->ctx;
		}
		if (!l->ctx || (lru->ctx && l->used < lru->used))
			lru = l;
	}
	SSL_CTX *ctx = leaf_ctx(v, host, err);
	if (!ctx)
		return NULL;
	SSL_CTX_free(lru->ctx);
	snprintf(lru->host, sizeof(lru->host), "%s", host);
	lru->ctx = ctx;
	lru->used = ++v->tick;
	return ctx;
}

/*
 * The host's trust store (SSL_CERT_FILE/SSL_CERT_DIR or OpenSSL's default
 * paths), loaded once per process: parsing the system bundle costs about
 * 20 ms, too much for every sandbox.  A change of the host's bundle is
 * seen by the next process.  NULL when it could not be made.
 */
static X509_STORE *host_store;
static void host_store_load(void)
{
	X509_STORE *st = X509_STORE_new();
	if (st && X509_STORE_set_default_paths(st) != 1) {
		X509_STORE_free(st);
		st = NULL;
	}
	ERR_clear_error();
	host_store = st;
}

/* A store of @shared's certificates (references, no parsing) to which
 * upstream_ca's are added. */
static X509_STORE *store_copy(X509_STORE *shared)
{
	X509_STORE *st = X509_STORE_new();
	STACK_OF(X509) *all = st ? X509_STORE_get1_all_certs(shared) : NULL;
	int ok = st && all;
	for (int i = 0; ok && i < sk_X509_num(all); i++)
		ok = X509_STORE_add_cert(st, sk_X509_value(all, i));
	/* the default directory, looked up lazily by hash, as in the shared store */
	X509_LOOKUP *dir = ok ? X509_STORE_add_lookup(st, X509_LOOKUP_hash_dir()) : NULL;
	if (dir)
		X509_LOOKUP_add_dir(dir, NULL, X509_FILETYPE_DEFAULT);
	sk_X509_pop_free(all, X509_free);
	if (!ok) {
		X509_STORE_free(st);
		return NULL;
	}
	return st;
}

/* The upstream TLS client: the host's trust store plus @upstream_ca. */
static int client_make(struct petri_vault *v, const char *upstream_ca, petri_error **err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, host_store_load);
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	if (!c || !host_store || !SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) ||
	    SSL_CTX_set_alpn_protos(c, (const unsigned char *)"\x08http/1.1", 9) != 0) {
		SSL_CTX_free(c);
		return ssl_err(err, "secrets: upstream TLS (the host's trust store)");
	}
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	v->client = c;
	if (!upstream_ca) {
		SSL_CTX_set1_cert_store(c, host_store);
		return 0;
	}
	int fd = open(upstream_ca, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return petri__err(err, errno, "upstream_ca '%s'", upstream_ca);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return petri__err(err, 0, "upstream_ca '%s': not a regular file", upstream_ca);
	}
	BIO *b = BIO_new_fd(fd, BIO_CLOSE);
	X509_STORE *store = store_copy(host_store);
	if (!b || !store) {
		if (b)
			BIO_free(b);
		else
			close(fd);
		X509_STORE_free(store);
		return ssl_err(err, "upstream_ca");
	}
	SSL_CTX_set_cert_store(c, store); /* owned by c now */
	int count = 0;
	X509 *x;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
		int ok = X509_STORE_add_cert(store, x);
		X509_free(x);
		if (!ok) {
			BIO_free(b);
			return ssl_err(err, "upstream_ca");
		}
		count++;
	}
	ERR_clear_error(); /* the end of the file */
	BIO_free(b);
	if (count == 0)
		return petri__err(err, 0, "upstream_ca '%s': no PEM certificate in it",
				  upstream_ca);
	return 0;
}

SSL_CTX *petri__vault_client_ctx(struct petri_vault *v, petri_error **err)
{
	if (!v || !v->client)
		return petri__err(err, 0, "secrets: no upstream TLS context"), NULL;
	return v->client;
}

/* ---- the scrubber's automaton --------------------------------------------- */

struct pat {
	struct petri_vault_buf b;
	int before, after;
};
struct pats {
	struct pat *p;
	size_t n, cap;
};

static struct pat *pat_add(struct pats *ps)
{
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 64;
		struct pat *p = realloc(ps->p, cap * sizeof(*p));
		if (!p)
			return NULL;
		ps->p = p;
		ps->cap = cap;
	}
	struct pat *p = &ps->p[ps->n++];
	memset(p, 0, sizeof(*p));
	return p;
}

/* The base64 characters of @v (@n bytes) preceded by @k unknown bytes
 * that the value alone determines. */
static int pat_b64(struct pats *ps, const unsigned char *v, size_t n, int k, const char *alpha)
{
	size_t bits = 8 * (n + (size_t)k);
	size_t j0 = (8 * (size_t)k + 5) / 6, j1 = bits / 6;
	if (j1 < j0 + B64_MIN)
		return 0;
	struct pat *p = pat_add(ps);
	if (!p)
		return -ENOMEM;
	p->before = (8 * k) % 6 != 0;
	p->after = bits % 6 != 0;
	for (size_t j = j0; j < j1; j++) {
		unsigned c = 0;
		for (size_t b = 6 * j; b < 6 * j + 6; b++) {
			size_t byte = b / 8 - (size_t)k;
			c = (c << 1) | ((v[byte] >> (7 - b % 8)) & 1);
		}
		if (buf_putc(&p->b, alpha[c]) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* The UTF-8 code point at @p (of @n), its length in *@l; -1: not UTF-8. */
static long utf8_cp(const unsigned char *p, size_t n, size_t *l)
{
	unsigned c = p[0];
	size_t k = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
	if (k == 0 || k > n)
		return -1;
	long cp = (long)(c & (0x7f >> k));
	for (size_t i = 1; i < k; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*l = k;
	return cp;
}

/* JSON string escaping; @ascii: every non-ASCII code point as \uXXXX
 * (Python's default); @slash: '/' as "\/" (PHP's default); -EINVAL when
 * @ascii and the value is not UTF-8. */
static int put_json(struct petri_vault_buf *b, const unsigned char *v, size_t n, int ascii,
		    int slash)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = v[i];
		char e[16];
		int rc;
		if (c == '"' || c == '\\' || (c == '/' && slash)) {
			e[0] = '\\', e[1] = (char)c;
			rc = buf_put(b, e, 2);
		} else if (c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') {
			e[0] = '\\';
			e[1] = c == '\n' ? 'n' :
			       c == '\r' ? 'r' :
			       c == '\t' ? 't' :
			       c == '\b' ? 'b' :
					   'f';
			rc = buf_put(b, e, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(e, sizeof(e), "\\u00%c%c", hx[c >> 4], hx[c & 15]);
			rc = buf_put(b, e, 6);
		} else if (c >= 0x80 && ascii) {
			size_t l;
			long cp = utf8_cp(v + i, n - i, &l);
			if (cp < 0)
				return -EINVAL;
			i += l - 1;
			if (cp >= 0x10000) {
				long u = cp - 0x10000;
				snprintf(e, sizeof(e), "\\u%04lx\\u%04lx", 0xd800 + (u >> 10),
					 0xdc00 + (u & 0x3ff));
				rc = buf_put(b, e, 12);
			} else {
				snprintf(e, sizeof(e), "\\u%04lx", cp);
				rc = buf_put(b, e, 6);
			}
		} else {
			rc = buf_putc(b, (char)c);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * The patterns of one value, as the automaton matches them (folded: see
 * fold_table, so one case of hex and one base64 alphabet suffice): as is;
 * hex; percent-encoded with only the unreserved characters kept (and, for
 * values up to VARIANTS_MAX bytes, also with the reserved characters that
 * common encoders keep: see safe[]), space also as '+'; JSON-escaped (also with non-ASCII as \uXXXX, and, up to
 * VARIANTS_MAX, with "\/"); base64 at the three alignments,
 * the characters the value alone determines (the partial ones beside them
 * are masked when they are there, see scrub_byte).
 */
static int secret_patterns(struct pats *ps, const unsigned char *v, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	/* the reserved characters common encoders keep: none, Python's
	 * quote(), encodeURIComponent, Go's url.PathEscape, Go's URL path
	 * (EscapedPath), encodeURI, RFC 3986's pchar (path segments) */
	static const char *const safe[] = {
		NULL, "/", "!'()*", "$&+:=@", "$&+,/:;=@", "!#$&'()*+,/:;=?@", "!$&'()*+,;=:@"};
	struct pat *p;
	/* each variant is a path of its own in the automaton from its first
	 * difference on: for long (binary, key file) values only the main ones */
	int variants = n <= VARIANTS_MAX;
	int has_space = memchr(v, ' ', n) != NULL;
	int has_slash = variants && memchr(v, '/', n) != NULL;
	if (!(p = pat_add(ps)) || buf_put(&p->b, v, n) < 0)
		return -ENOMEM;
	if (!(p = pat_add(ps)))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char e[2] = {hx[v[i] >> 4], hx[v[i] & 15]};
		if (buf_put(&p->b, e, 2) < 0)
			return -ENOMEM;
	}
	for (size_t k = 0; k < (variants ? sizeof(safe) / sizeof(safe[0]) : 1); k++)
		for (int plus = 0; plus <= has_space; plus++)
			if (!(p = pat_add(ps)) || put_pct(&p->b, v, n, hx, safe[k], plus) < 0)
				return -ENOMEM;
	for (int ascii = 0; ascii < 2; ascii++)
		for (int slash = 0; slash <= has_slash; slash++) {
			if (!(p = pat_add(ps)))
				return -ENOMEM;
			int rc = put_json(&p->b, v, n, ascii, slash);
			if (rc == -EINVAL)
				ps->n--, free(p->b.p);
			else if (rc < 0)
				return rc;
		}
	for (int k = 0; k < 3; k++)
		if (pat_b64(ps, v, n, k, B64_STD) < 0)
			return -ENOMEM;
	return 0;
}

/* Patterns that are the same string (after folding) once, their flags
 * merged. */
static void pats_dedup(struct pats *ps)
{
	size_t o = 0;
	for (size_t i = 0; i < ps->n; i++) {
		struct pat *q = o ? &ps->p[o - 1] : NULL;
		if (q && q->b.len == ps->p[i].b.len &&
		    memcmp(q->b.p, ps->p[i].b.p, q->b.len) == 0) {
			q->before |= ps->p[i].before;
			q->after |= ps->p[i].after;
			if (ps->p[i].b.p)
				explicit_bzero(ps->p[i].b.p, ps->p[i].b.cap);
			free(ps->p[i].b.p);
			continue;
		}
		ps->p[o++] = ps->p[i];
	}
	ps->n = o;
}

static int ac_node_new(struct ac *a)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 1024;
		struct ac_node *p = realloc(a->nodes, cap * sizeof(*p));
		if (!p)
			return -1;
		a->nodes = p;
		a->cap = cap;
	}
	memset(&a->nodes[a->n], 0, sizeof(a->nodes[0]));
	return (int)a->n++;
}

static uint32_t ac_child(const struct ac *a, uint32_t node, uint8_t c)
{
	if (node == 0)
		return a->root_next[c];
	const struct ac_node *nd = &a->nodes[node];
	const uint8_t *ec = a->edge_c + nd->edge_off;
	size_t lo = 0, hi = nd->edge_n;
	while (lo < hi) { /* sorted */
		size_t mid = (lo + hi) / 2;
		if (ec[mid] == c)
			return a->edge_to[nd->edge_off + mid];
		if (ec[mid] < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	return UINT32_MAX;
}

static uint32_t ac_step(const struct ac *a, uint32_t s, uint8_t c)
{
	for (;;) {
		uint32_t t = ac_child(a, s, c);
		if (t != UINT32_MAX)
			return t;
		s = a->nodes[s].fail; /* the root's goto is complete: ends there */
	}
}

static int cmp_pat(const void *x, const void *y)
{
	const struct pat *a = x, *b = y;
	size_t n = a->b.len < b->b.len ? a->b.len : b->b.len;
	int c = memcmp(a->b.p, b->b.p, n);
	return c ? c : a->b.len < b->b.len ? -1 : a->b.len > b->b.len;
}

/*
 * Matching folds the alphabet: ASCII letters to lower case, and base64's
 * URL-safe '-' and '_' to '+' and '/'.  So hex and percent-encoding in
 * either case, and base64 in either alphabet, are one pattern each (the
 * largest vault's automaton shrinks by half), and a case variant of a
 * value is masked too (more masking, never less).
 */
static uint8_t fold_table[256];
static void fold_init(void)
{
	for (int c = 0; c < 256; c++)
		fold_table[c] = (uint8_t)(c >= 'A' && c <= 'Z' ? c + 32 :
					  c == '-'             ? '+' :
					  c == '_'             ? '/' :
								 c);
}

static inline uint8_t fold(uint8_t c)
{
	return fold_table[c];
}

/* The trie while it is built: first child and next sibling per node. */
struct trie {
	uint32_t *child, *sib;
	uint8_t *byte;
	size_t cap;
};

static int trie_grow(struct trie *t, size_t n)
{
	if (n <= t->cap)
		return 0;
	size_t cap = t->cap ? t->cap : 1024;
	while (cap < n)
		cap *= 2;
	uint32_t *c = realloc(t->child, cap * sizeof(*c));
	if (!c)
		return -1;
	t->child = c;
	uint32_t *s = realloc(t->sib, cap * sizeof(*s));
	if (!s)
		return -1;
	t->sib = s;
	uint8_t *b = realloc(t->byte, cap);
	if (!b)
		return -1;
	t->byte = b;
	for (size_t z = t->cap; z < cap; z++)
		t->child[z] = t->sib[z] = 0, t->byte[z] = 0;
	t->cap = cap;
	return 0;
}

/*
 * Aho-Corasick over every pattern (folded).  The trie is built from the
 * sorted patterns, so each node's children are made in byte order and,
 * laid out breadth first, a node's edges (edge_c/edge_to[edge_off ..
 * +edge_n]) are sorted.  Per input byte: amortised O(1) failure moves,
 * each a binary search of at most 8 steps; the root's goto is a table.
 */
static int ac_build(struct ac *a, struct pats *ps, struct smap *edges, petri_error **err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, fold_init);
	for (size_t i = 0; i < ps->n; i++)
		for (size_t j = 0; j < ps->p[i].b.len; j++)
			ps->p[i].b.p[j] = (char)fold((uint8_t)ps->p[i].b.p[j]);
	qsort(ps->p, ps->n, sizeof(*ps->p), cmp_pat);
	pats_dedup(ps);
	struct trie t = {0};
	int rc = -ENOMEM, reported = 0;
	if (ac_node_new(a) < 0 || trie_grow(&t, a->cap) < 0)
		goto out;
	for (size_t i = 0; i < ps->n; i++) {
		const struct pat *p = &ps->p[i];
		uint32_t s = 0;
		for (size_t j = 0; j < p->b.len; j++) {
			uint8_t c = (uint8_t)p->b.p[j];
			uint32_t x = t.child[s], prev = 0;
			while (x && t.byte[x] != c)
				prev = x, x = t.sib[x];
			if (!x) {
				int nn = ac_node_new(a);
				if (nn < 0 || trie_grow(&t, a->n) < 0)
					goto out;
				x = (uint32_t)nn;
				t.byte[x] = c;
				if (prev)
					t.sib[prev] = x;
				else
					t.child[s] = x;
			}
			s = x;
		}
		struct ac_node *nd = &a->nodes[s];
		if (p->b.len > 0) {
			nd->best = (uint16_t)p->b.len;
			nd->before |= (uint8_t)p->before;
			nd->after |= (uint8_t)p->after;
		}
		if (p->b.len > a->maxlen)
			a->maxlen = p->b.len;
	}
	/* edges laid out breadth first; failure links */
	size_t cnt = a->n ? a->n : 1;
	uint32_t *queue = malloc(cnt * sizeof(uint32_t));
	a->edge_to = malloc(cnt * sizeof(uint32_t));
	if (!a->edge_to || !queue) {
		free(queue);
		goto out;
	}
	if ((rc = secret_map(edges, cnt, "secrets: scrubber", err)) < 0) {
		reported = 1;
		free(queue);
		goto out;
	}
	a->edge_c = edges->p;
	size_t qh = 0, qt = 0;
	for (uint32_t x = t.child[0]; x; x = t.sib[x]) {
		a->root_next[t.byte[x]] = x;
		queue[qt++] = x;
	}
	while (qh < qt) {
		uint32_t s = queue[qh++];
		struct ac_node *nd = &a->nodes[s];
		nd->edge_off = (uint32_t)a->nedges;
		for (uint32_t x = t.child[s]; x; x = t.sib[x]) {
			a->edge_c[a->nedges] = t.byte[x];
			a->edge_to[a->nedges++] = x;
			nd->edge_n++;
		}
		for (uint32_t x = t.child[s]; x; x = t.sib[x]) {
			uint32_t f = ac_step(a, nd->fail, t.byte[x]);
			struct ac_node *xn = &a->nodes[x];
			const struct ac_node *fn = &a->nodes[f];
			xn->fail = f;
			if (!xn->best) {
				xn->best = fn->best;
				xn->before = fn->before;
			}
			xn->after |= fn->after;
			queue[qt++] = x;
		}
	}
	free(queue);
	rc = 0;
out:
	if (rc < 0 && !reported)
		petri__err(err, ENOMEM, "secrets: scrubber");
	if (t.byte)
		explicit_bzero(t.byte, t.cap);
	free(t.child);
	free(t.sib);
	free(t.byte);
	return rc;
}

static void ac_free(struct ac *a)
{
	free(a->nodes); /* edge_c: in the vault's secret memory */
	free(a->edge_to);
	memset(a, 0, sizeof(*a));
}

static int scrub_build(struct petri_vault *v, petri_error **err)
{
	struct pats ps = {0};
	int rc = 0;
	for (size_t i = 0; i < v->n && rc == 0; i++)
		rc = secret_patterns(&ps, v->s[i].value, v->s[i].len);
	if (rc < 0)
		rc = petri__err(err, ENOMEM, "secrets: scrubber");
	else
		rc = ac_build(&v->ac, &ps, &v->edges, err);
	for (size_t i = 0; i < ps.n; i++) {
		if (ps.p[i].b.p)
			explicit_bzero(ps.p[i].b.p, ps.p[i].b.cap);
		free(ps.p[i].b.p);
	}
	free(ps.p);
	return rc;
}

/* ---- new / free / getters -------------------------------------------------- */

static int allow_build(struct petri_vault *v)
{
	size_t total = 0;
	for (size_t i = 0; i < v->n; i++)
		total += v->s[i].all.n;
	v->allow = calloc(total + 1, sizeof(char *));
	if (!v->allow)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < v->n; i++) {
		const struct petri_net_policy *p = &v->s[i].all;
		for (size_t j = 0; j < p->n; j++) {
			const struct petri_net_rule *r = &p->rules[j];
			int v6 = r->literal && r->literal_addr.family == AF_INET6;
			char e[PETRI_NET_HOST_MAX + 16];
			snprintf(e, sizeof(e), "%s%s%s%s:%u", r->wildcard ? "*." : "",
				 v6 ? "[" : "", r->host, v6 ? "]" : "", r->port);
			int dup = 0;
			for (size_t m = 0; m < k && !dup; m++)
				dup = strcmp(v->allow[m], e) == 0;
			if (!dup && !(v->allow[k++] = strdup(e)))
				return -ENOMEM;
		}
	}
	return 0;
}

int petri__vault_new(const struct petri_secret *const *secrets, const char *upstream_ca,
		     struct petri_vault **out, petri_error **err)
{
	size_t n = 0;
	while (secrets && secrets[n] && n <= PETRI_VAULT_MAX)
		n++;
	if (n == 0)
		return petri__err(err, 0, "secrets: the list is empty");
	if (n > PETRI_VAULT_MAX)
		return petri__err(err, 0, "secrets: more than %d", PETRI_VAULT_MAX);
	struct petri_vault *v = calloc(1, sizeof(*v));
	if (!v)
		return petri__err(err, ENOMEM, "secrets");
	int rc = 0;
	size_t total = 0;
	char w[96];
	for (size_t i = 0; i < n; i++) {
		struct petri_secret s;
		char what[40];
		snprintf(what, sizeof(what), "secrets[%zu]", i);
		if ((rc = petri__opts_copy(&s, sizeof(s), secrets[i], err, what)) < 0)
			goto fail;
		if (!name_ok(s.name)) {
			rc = petri__err(err, 0,
					"secrets[%zu]: name must match [A-Za-z_][A-Za-z0-9_]{0,63}",
					i);
			goto fail;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(v->s[j].name, s.name) == 0) {
				rc = petri__err(err, 0, "%s: two secrets have this name",
						who(&s, i, w));
				goto fail;
			}
		if (s.flags) {
			rc = petri__err(err, 0, "%s: unknown flags 0x%x", who(&s, i, w), s.flags);
			goto fail;
		}
		if (!s.value || s.value_len == 0 || s.value_len > PETRI_VAULT_VALUE_MAX) {
			rc = petri__err(err, 0, "%s: the value must be 1 to %d bytes (it has %zu)",
					who(&s, i, w), PETRI_VAULT_VALUE_MAX,
					s.value ? s.value_len : 0);
			goto fail;
		}
		struct vsecret *vs = &v->s[i];
		snprintf(vs->name, sizeof(vs->name), "%s", s.name);
		vs->len = s.value_len;
		if ((rc = parse_hosts(&s, i, vs, err)) < 0)
			goto fail;
		v->n++;
		total += s.value_len;
	}
	if ((rc = secret_map(&v->vals, total, "secrets", err)) < 0)
		goto fail;
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		struct vsecret *vs = &v->s[i];
		vs->value = (unsigned char *)v->vals.p + off;
		memcpy(vs->value, secrets[i]->value, vs->len);
		off += vs->len;
		vs->header_unsafe = memchr(vs->value, '\r', vs->len) ||
				    memchr(vs->value, '\n', vs->len) ||
				    memchr(vs->value, 0, vs->len);
		if (getrandom(vs->rnd, sizeof(vs->rnd), 0) != sizeof(vs->rnd)) {
			rc = petri__err(err, errno, "secrets: getrandom");
			goto fail;
		}
		memcpy(vs->token, PETRI_VAULT_PREFIX, PREFIX_LEN);
		for (size_t j = 0; j < 16; j++)
			snprintf(vs->token + PREFIX_LEN + 2 * j, 3, "%02x", vs->rnd[j]);
	}
	if (allow_build(v) < 0) {
		rc = petri__err(err, ENOMEM, "secrets");
		goto fail;
	}
	if ((rc = scrub_build(v, err)) < 0)
		goto fail;
	if ((rc = ca_make(v, err)) < 0 || (rc = client_make(v, upstream_ca, err)) < 0)
		goto fail;
	*out = v;
	return 0;
fail:
	petri__vault_free(v);
	return rc < 0 ? rc : -EINVAL;
}

void petri__vault_free(struct petri_vault *v)
{
	if (!v)
		return;
	secret_unmap(&v->vals);
	for (size_t i = 0; i < PETRI_VAULT_MAX; i++) {
		petri__net_policy_free(&v->s[i].all);
		petri__net_policy_free(&v->s[i].plain);
	}
	for (size_t i = 0; v->allow && v->allow[i]; i++)
		free(v->allow[i]);
	free(v->allow);
	ac_free(&v->ac);
	secret_unmap(&v->edges); /* the automaton's bytes spell the values out */
	for (size_t i = 0; i < LEAVES_MAX; i++)
		SSL_CTX_free(v->leaves[i].ctx);
	SSL_CTX_free(v->client);
	X509_free(v->ca);
	EVP_PKEY_free(v->ca_key);
	free(v->ca_pem);
	explicit_bzero(v, sizeof(*v));
	free(v);
}

size_t petri__vault_count(const struct petri_vault *v)
{
	return v ? v->n : 0;
}

const char *petri__vault_name(const struct petri_vault *v, size_t i)
{
	return v && i < v->n ? v->s[i].name : NULL;
}

const char *petri__vault_placeholder(const struct petri_vault *v, size_t i)
{
	return v && i < v->n ? v->s[i].token : NULL;
}

const char *const *petri__vault_allow(const struct petri_vault *v)
{
	return v ? (const char *const *)v->allow : NULL;
}

const char *petri__vault_ca_pem(const struct petri_vault *v, size_t *len)
{
	if (len)
		*len = v ? v->ca_pem_len : 0;
	return v ? v->ca_pem : NULL;
}

uint64_t petri__vault_scope(const struct petri_vault *v, const char *host, uint16_t port, int tls)
{
	uint64_t bits = 0;
	if (!v || !host || port == 0)
		return 0;
	for (size_t i = 0; i < v->n; i++) {
		const struct petri_net_policy *p = tls ? &v->s[i].all : &v->s[i].plain;
		if (p->n && petri__net_policy_match(p, host, port))
			bits |= 1ull << i;
	}
	return bits;
}

/* ---- finding placeholders -------------------------------------------------- */

/* Is there a token at @p (@n bytes left), with each character as is or
 * (@pct) as %XX?  Case-insensitive.  Its 16 random bytes into @rnd, its
 * length in *@end, and whether any character was percent-encoded. */
static int token_at(const unsigned char *p, size_t n, int pct, uint8_t rnd[16], size_t *end,
		    int *encoded)
{
	size_t i = 0;
	*encoded = 0;
	for (size_t k = 0; k < PETRI_VAULT_TOKEN_LEN; k++) {
		if (i >= n)
			return 0;
		int c = p[i];
		if (pct && c == '%' && i + 2 < n && hex_val(p[i + 1]) >= 0 &&
		    hex_val(p[i + 2]) >= 0) {
			c = hex_val(p[i + 1]) * 16 + hex_val(p[i + 2]);
			i += 3;
			*encoded = 1;
		} else {
			i++;
		}
		if (k < PREFIX_LEN) {
			if (tolower(c) != PETRI_VAULT_PREFIX[k])
				return 0;
		} else {
			int h = hex_val((unsigned char)c);
			if (h < 0)
				return 0;
			size_t j = k - PREFIX_LEN;
			rnd[j / 2] = (uint8_t)(j % 2 ? (rnd[j / 2] | h) : h << 4);
		}
	}
	*end = i;
	return 1;
}

static int token_index(const struct petri_vault *v, const uint8_t rnd[16])
{
	for (size_t i = 0; i < v->n; i++)
		if (memcmp(v->s[i].rnd, rnd, 16) == 0)
			return (int)i;
	return -1;
}

/* The first token in @p that @scope does not allow; 0 or the misuse. */
static enum petri_vault_misuse scan_plain(const struct petri_vault *v, uint64_t scope,
					  const unsigned char *p, size_t n,
					  struct petri_vault_finding *f)
{
	for (size_t i = 0; i + PETRI_VAULT_TOKEN_LEN <= n; i++) {
		uint8_t rnd[16];
		size_t end;
		int enc;
		if ((p[i] | 0x20) != 'p' || !token_at(p + i, n - i, 0, rnd, &end, &enc))
			continue;
		int idx = token_index(v, rnd);
		if (idx < 0) {
			f->misuse = PETRI_VAULT_MISUSE_FOREIGN;
			f->secret = -1;
			return f->misuse;
		}
		if (!(scope & (1ull << idx))) {
			f->misuse = PETRI_VAULT_MISUSE_HOST;
			f->secret = idx;
			return f->misuse;
		}
	}
	return PETRI_VAULT_OK;
}

/* Percent-decode @p into @out (either hex case); the length. */
static size_t pct_decode(const unsigned char *p, size_t n, unsigned char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '%' && i + 2 < n && hex_val(p[i + 1]) >= 0 && hex_val(p[i + 2]) >= 0) {
			out[o++] = (unsigned char)(hex_val(p[i + 1]) * 16 + hex_val(p[i + 2]));
			i += 2;
		} else {
			out[o++] = p[i];
		}
	}
	return o;
}

/* Every maximal base64 run (either alphabet) decoded at each of its four
 * starting offsets, scanned. */
static enum petri_vault_misuse scan_b64(const struct petri_vault *v, uint64_t scope,
					const unsigned char *p, size_t n, unsigned char *tmp,
					struct petri_vault_finding *f)
{
	size_t min = (PETRI_VAULT_TOKEN_LEN * 4 + 2) / 3;
	for (size_t i = 0; i < n;) {
		if (b64_val(p[i]) < 0) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && b64_val(p[j]) >= 0)
			j++;
		for (size_t k = 0; k < 4 && j - i >= min + k; k++) {
			size_t len = (j - i - k) / 4 * 4; /* whole groups */
			size_t rest = (j - i - k) % 4;
			len += rest >= 2 ? rest : 0;
			ssize_t d = b64_decode(p + i + k, len, tmp);
			if (d > 0 &&
			    (scan_plain(v, scope, tmp, (size_t)d, f) ||
			     scan_plain(v, scope, tmp, pct_decode(tmp, (size_t)d, tmp), f)))
				return f->misuse;
		}
		i = j;
	}
	return PETRI_VAULT_OK;
}

enum petri_vault_misuse petri__vault_scan(const struct petri_vault *v, uint64_t scope,
					  const void *p, size_t n, struct petri_vault_finding *f)
{
	memset(f, 0, sizeof(*f));
	f->secret = -1;
	f->where = "data";
	if (!v || !p || n < PETRI_VAULT_TOKEN_LEN)
		return PETRI_VAULT_OK;
	if (scan_plain(v, scope, p, n, f))
		return f->misuse;
	/* decoded copies: percent-decoding up to three times (a server may
	 * decode twice), base64 of the raw and the decoded bytes */
	unsigned char *a = malloc(n + 4), *t = malloc(n + 4);
	if (!a || !t) {
		/* cannot look deeper: refuse rather than let it pass */
		free(a);
		free(t);
		f->misuse = PETRI_VAULT_MISUSE_TOO_LARGE;
		return f->misuse;
	}
	const unsigned char *cur = p;
	size_t len = n;
	enum petri_vault_misuse m = scan_b64(v, scope, cur, len, t, f);
	for (int round = 0; round < 3 && !m; round++) {
		size_t d = pct_decode(cur, len, a); /* in place after the first round */
		if (d == len)
			break;
		len = d;
		cur = a;
		m = scan_plain(v, scope, cur, len, f);
		if (!m)
			m = scan_b64(v, scope, cur, len, t, f);
	}
	free(a);
	free(t);
	return m;
}

/* ---- rewriting -------------------------------------------------------------- */

/* How a substituted value is written where its placeholder was. */
enum sub_mode {
	SUB_RAW, /* as is: a header, a body */
	SUB_PCT, /* percent-encoded: a request target, a form body */
};

/*
 * Copy @p to @out with every placeholder (as is or percent-encoded) of a
 * secret in @scope replaced by its value (@mode, or percent-encoded where
 * the placeholder was); @header: the value is going into a header.
 * Foreign or out-of-scope tokens: misuse.
 */
static int substitute(const struct petri_vault *v, uint64_t scope, const unsigned char *p, size_t n,
		      enum sub_mode mode, int header, const char *where,
		      struct petri_vault_buf *out, struct petri_vault_finding *f)
{
	size_t i = 0, from = 0;
	while (i < n) {
		uint8_t rnd[16];
		size_t end;
		int enc;
		if (!((p[i] | 0x20) == 'p' || p[i] == '%') ||
		    !token_at(p + i, n - i, 1, rnd, &end, &enc)) {
			i++;
			continue;
		}
		int idx = token_index(v, rnd);
		f->where = where;
		if (idx < 0 || !(scope & (1ull << idx))) {
			f->misuse = idx < 0 ? PETRI_VAULT_MISUSE_FOREIGN : PETRI_VAULT_MISUSE_HOST;
			f->secret = idx;
			return f->misuse;
		}
		const struct vsecret *s = &v->s[idx];
		int pct = mode == SUB_PCT || enc;
		if (!pct && header && s->header_unsafe) {
			f->misuse = PETRI_VAULT_MISUSE_UNSAFE;
			f->secret = idx;
			return f->misuse;
		}
		if (buf_put(out, p + from, i - from) < 0 ||
		    (pct ? put_pct(out, s->value, s->len, "0123456789ABCDEF", NULL, 0) :
			   buf_put(out, s->value, s->len)) < 0)
			return -ENOMEM;
		f->used |= 1ull << idx;
		i += end;
		from = i;
	}
	return buf_put(out, p + from, n - from) < 0 ? -ENOMEM : 0;
}

static int hname_is(const char *line, size_t n, const char *name)
{
	size_t l = strlen(name);
	return n > l && line[l] == ':' && strncasecmp(line, name, l) == 0;
}

/* "Authorization: Basic <b64>": substitute inside the credentials.  1:
 * done (appended), 0: not Basic credentials, or <0 / misuse. */
static int basic_auth(const struct petri_vault *v, uint64_t scope, const char *val, size_t n,
		      struct petri_vault_buf *out, struct petri_vault_finding *f)
{
	size_t i = 0;
	while (i < n && (val[i] == ' ' || val[i] == '\t'))
		i++;
	if (n - i < 6 || strncasecmp(val + i, "basic", 5) != 0 || val[i + 5] != ' ')
		return 0;
	size_t b = i + 6;
	while (b < n && val[b] == ' ')
		b++;
	size_t e = n;
	while (e > b && (val[e - 1] == ' ' || val[e - 1] == '\t'))
		e--;
	unsigned char *dec = malloc((e - b) / 4 * 3 + 4);
	struct petri_vault_buf creds = {0}, enc = {0};
	int rc = 0;
	if (!dec)
		return -ENOMEM;
	ssize_t d = b64_decode((const unsigned char *)val + b, e - b, dec);
	if (d < 0)
		goto out; /* not base64: the caller treats it as text */
	struct petri_vault_finding g = {.secret = -1};
	rc = substitute(v, scope, dec, (size_t)d, SUB_RAW, 0, "basic auth", &creds, &g);
	if (rc != 0 || g.misuse) {
		f->misuse = g.misuse;
		f->secret = g.secret;
		f->where = g.where;
		goto out;
	}
	if (!g.used)
		goto out; /* nothing in it: the caller leaves the header as it was */
	f->used |= g.used;
	f->where = g.where;
	if (put_b64(&enc, (const unsigned char *)creds.p, creds.len) < 0 ||
	    buf_put(out, val, b) < 0 || buf_put(out, enc.p, enc.len) < 0 ||
	    buf_put(out, val + e, n - e) < 0)
		rc = -ENOMEM;
	else
		rc = 1;
out:
	if (creds.p)
		explicit_bzero(creds.p, creds.cap);
	if (enc.p)
		explicit_bzero(enc.p, enc.cap);
	explicit_bzero(dec, (e - b) / 4 * 3 + 4);
	free(dec);
	free(creds.p);
	free(enc.p);
	return rc;
}

int petri__vault_rewrite_head(const struct petri_vault *v, uint64_t scope,
			      const struct petri_http_head *h, const char *raw, size_t len,
			      struct petri_vault_buf *out, struct petri_vault_finding *f)
{
	(void)h;
	memset(f, 0, sizeof(*f));
	f->secret = -1;
	f->where = "request line";
	if (!v || !raw || !out)
		return -EINVAL;
	/* misuse in any encoding first (base64 not in Basic auth included) */
	struct petri_vault_finding sf;
	if (petri__vault_scan(v, scope, raw, len, &sf)) {
		*f = sf;
		f->where = "head";
		return f->misuse;
	}
	struct petri_vault_buf o = {0};
	const char *p = raw, *end = raw + len;
	int rc = 0, first = 1;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;
		size_t ln = (size_t)((eol ? eol : end) - p);
		if (ln && p[ln - 1] == '\r')
			ln--;
		if (ln == 0) { /* the empty line: the end of the head */
			if (buf_put(&o, "Accept-Encoding: identity\r\n\r\n", 29) < 0)
				rc = -ENOMEM;
			break;
		}
		if (first) {
			first = 0;
			/* METHOD SP target SP version: the target gets encoded values
			 * (a placeholder in the method or version, which sniff.c would
			 * have refused, is treated the same: none passes as it is) */
			rc = substitute(v, scope, (const unsigned char *)p, ln, SUB_PCT, 0,
					"request line", &o, f);
		} else if (strncasecmp(p, "proxy-", 6) == 0 || hname_is(p, ln, "accept-encoding") ||
			   hname_is(p, ln, "te")) {
			/* dropped: TE too, which would ask for a compressed
			 * transfer-coding ("TE: gzip") the scrubber cannot read */
			p = next;
			continue;
		} else {
			/* the whole line: a placeholder in a name (sniff.c would have
			 * refused it) passes no more than one in a value */
			size_t nl = sizeof("authorization:") - 1;
			rc = 0;
			if (hname_is(p, ln, "authorization")) {
				size_t mark = o.len;
				rc = buf_put(&o, p, nl) < 0 ?
					     -ENOMEM :
					     basic_auth(v, scope, p + nl, ln - nl, &o, f);
				if (rc == 0)
					o.len = mark; /* not Basic credentials: as any header */
			}
			if (rc == 0)
				rc = substitute(v, scope, (const unsigned char *)p, ln, SUB_RAW, 1,
						"header", &o, f);
			else if (rc == 1)
				rc = 0;
		}
		if (rc != 0)
			break;
		if (buf_put(&o, "\r\n", 2) < 0) {
			rc = -ENOMEM;
			break;
		}
		p = next;
	}
	if (rc == 0 && f->misuse == PETRI_VAULT_OK)
		rc = buf_put(out, o.p ? o.p : "", o.len) < 0 ? -ENOMEM : 0;
	if (o.p)
		explicit_bzero(o.p, o.cap);
	free(o.p);
	if (rc < 0)
		return rc;
	if (!f->used && !f->misuse)
		f->where = NULL;
	return f->misuse;
}

int petri__vault_rewrite_body(const struct petri_vault *v, uint64_t scope, const void *body,
			      size_t n, int form_urlencoded, struct petri_vault_buf *out,
			      struct petri_vault_finding *f)
{
	memset(f, 0, sizeof(*f));
	f->secret = -1;
	f->where = "body";
	if (!v || (!body && n) || !out)
		return -EINVAL;
	struct petri_vault_finding sf;
	enum petri_vault_misuse m =
		petri__vault_scan(v, n > PETRI_VAULT_BODY_MAX ? 0 : scope, body, n, &sf);
	if (m) {
		*f = sf;
		f->where = "body";
		if (n > PETRI_VAULT_BODY_MAX && m == PETRI_VAULT_MISUSE_HOST)
			f->misuse = PETRI_VAULT_MISUSE_TOO_LARGE;
		return f->misuse;
	}
	if (n > PETRI_VAULT_BODY_MAX)
		return buf_put(out, body, n) < 0 ? -ENOMEM : 0;
	size_t mark = out->len;
	int rc = substitute(v, scope, body, n, form_urlencoded ? SUB_PCT : SUB_RAW, 0, "body", out,
			    f);
	if (rc != 0) {
		if (out->p) {
			explicit_bzero(out->p + mark, out->len - mark);
			out->p[mark] = '\0';
		}
		out->len = mark;
	}
	if (!f->used && !f->misuse)
		f->where = NULL;
	return rc;
}

int petri__vault_head_set_length(struct petri_vault_buf *b, size_t off, uint64_t len)
{
	if (!b || off > b->len || b->len - off < 4 || memcmp(b->p + b->len - 4, "\r\n\r\n", 4) != 0)
		return -EINVAL;
	struct petri_vault_buf o = {0};
	const char *p = b->p + off, *end = b->p + b->len - 2; /* before the empty line */
	int first = 1;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;
		size_t ln = (size_t)(next - p);
		if (first ||
		    !(hname_is(p, ln, "content-length") || hname_is(p, ln, "transfer-encoding"))) {
			if (buf_put(&o, p, ln) < 0) {
				free(o.p);
				return -ENOMEM;
			}
		}
		first = 0;
		p = next;
	}
	char cl[48];
	int k = snprintf(cl, sizeof(cl), "Content-Length: %llu\r\n\r\n", (unsigned long long)len);
	if (buf_put(&o, cl, (size_t)k) < 0) {
		free(o.p);
		return -ENOMEM;
	}
	b->len = off;
	int rc = buf_put(b, o.p, o.len);
	explicit_bzero(o.p, o.cap);
	free(o.p);
	return rc;
}

/* ---- scrubbing ----------------------------------------------------------- */

/*
 * The automaton reports, at each byte e, the longest pattern ending there:
 * the bytes [lo, e] are to be masked (lo one lower for the partial base64
 * character before it, and [e+1] too for the one after, when they are
 * base64).  A byte q is masked iff some reported [lo, e] has lo <= q <= e.
 * It is decided when q leaves the window (no later match reaches back to
 * it): the minimum lo over the reports at positions >= q, a sliding-window
 * minimum kept in a monotonic deque.  O(1) amortised per byte, whatever
 * the matches and however they overlap.
 */
struct petri_vault_scrub {
	const struct ac *ac;
	uint32_t state;
	uint64_t pos;             /* bytes taken in */
	uint64_t after;           /* mask this position if it is base64 (UINT64_MAX: none) */
	unsigned char *ring;      /* the held bytes (as they came), positions pos-held .. pos-1 */
	size_t cap, held;         /* cap: a power of two > hold */
	size_t hold;              /* bytes held back: the longest pattern + 1 */
	uint64_t *dq_pos, *dq_lo; /* the deque (a ring of cap): lo increasing */
	size_t dq_head, dq_n;
	size_t masked; /* bytes masked so far */
	char out[4096];
	size_t outn;
};

size_t petri__vault_scrub_window(const struct petri_vault *v)
{
	return v ? v->ac.maxlen + 2 : 1;
}

static int b64ch(unsigned char c)
{
	return b64_val(c) >= 0;
}

static void dq_push(struct petri_vault_scrub *s, uint64_t pos, uint64_t lo)
{
	while (s->dq_n && s->dq_lo[(s->dq_head + s->dq_n - 1) & (s->cap - 1)] >= lo)
		s->dq_n--;
	size_t i = (s->dq_head + s->dq_n++) & (s->cap - 1);
	s->dq_pos[i] = pos;
	s->dq_lo[i] = lo;
}

/* Take byte @c in. */
static void scrub_byte(struct petri_vault_scrub *s, unsigned char c)
{
	uint64_t e = s->pos++;
	s->ring[e & (s->cap - 1)] = c;
	s->held++;
	uint64_t lo = UINT64_MAX;
	if (s->after == e) {
		if (b64ch(c))
			lo = e;
		s->after = UINT64_MAX;
	}
	s->state = ac_step(s->ac, s->state, fold(c));
	const struct ac_node *nd = &s->ac->nodes[s->state];
	if (nd->best) {
		uint64_t l = e + 1 - nd->best;
		if (nd->before && l > 0 && e - (l - 1) < s->held &&
		    b64ch(s->ring[(l - 1) & (s->cap - 1)]))
			l--;
		if (l < lo)
			lo = l;
	}
	if (nd->after)
		s->after = e + 1;
	if (lo != UINT64_MAX)
		dq_push(s, e, lo);
}

static int flush_out(struct petri_vault_scrub *s, petri_vault_emit_fn emit, void *arg)
{
	int rc = 0;
	if (s->outn && emit)
		rc = emit(arg, s->out, s->outn);
	s->outn = 0;
	return rc;
}

/* Emit the oldest held bytes until @keep are held. */
static int emit_front(struct petri_vault_scrub *s, size_t keep, petri_vault_emit_fn emit, void *arg)
{
	while (s->held > keep) {
		if (s->outn == sizeof(s->out)) {
			int rc = flush_out(s, emit, arg);
			if (rc)
				return rc;
		}
		uint64_t q = s->pos - s->held;
		while (s->dq_n && s->dq_pos[s->dq_head] < q) {
			s->dq_head = (s->dq_head + 1) & (s->cap - 1);
			s->dq_n--;
		}
		int mask = s->dq_n && s->dq_lo[s->dq_head] <= q;
		unsigned char *b = &s->ring[q & (s->cap - 1)];
		s->out[s->outn++] = mask ? '*' : (char)*b;
		s->masked += (size_t)mask;
		*b = 0;
		s->held--;
	}
	return 0;
}

struct petri_vault_scrub *petri__vault_scrub_new(const struct petri_vault *v)
{
	if (!v)
		return NULL;
	struct petri_vault_scrub *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->ac = &v->ac;
	s->hold = v->ac.maxlen + 1;
	s->cap = 64;
	while (s->cap <= s->hold + 2)
		s->cap *= 2;
	s->ring = calloc(1, s->cap);
	s->dq_pos = malloc(s->cap * sizeof(uint64_t));
	s->dq_lo = malloc(s->cap * sizeof(uint64_t));
	if (!s->ring || !s->dq_pos || !s->dq_lo) {
		petri__vault_scrub_free(s);
		return NULL;
	}
	s->after = UINT64_MAX;
	return s;
}

int petri__vault_scrub_feed(struct petri_vault_scrub *s, const void *p, size_t n,
			    petri_vault_emit_fn emit, void *arg)
{
	const unsigned char *u = p;
	for (size_t i = 0; i < n; i++) {
		scrub_byte(s, u[i]);
		if (s->held > s->hold) {
			int rc = emit_front(s, s->hold, emit, arg);
			if (rc)
				return rc;
		}
	}
	return flush_out(s, emit, arg);
}

int petri__vault_scrub_end(struct petri_vault_scrub *s, petri_vault_emit_fn emit, void *arg)
{
	int rc = emit_front(s, 0, emit, arg);
	if (!rc)
		rc = flush_out(s, emit, arg);
	explicit_bzero(s->out, sizeof(s->out));
	s->state = 0;
	s->pos = 0;
	s->held = 0;
	s->dq_n = s->dq_head = 0;
	s->after = UINT64_MAX;
	return rc;
}

void petri__vault_scrub_free(struct petri_vault_scrub *s)
{
	if (!s)
		return;
	if (s->ring)
		explicit_bzero(s->ring, s->cap);
	explicit_bzero(s->out, sizeof(s->out));
	free(s->ring);
	free(s->dq_pos);
	free(s->dq_lo);
	free(s);
}

/* The in-place scrub's output: written back over what was read. */
struct inplace {
	char *p;
	size_t w;
};
static int inplace_put(void *arg, const char *p, size_t n)
{
	struct inplace *ip = arg;
	memcpy(ip->p + ip->w, p, n);
	ip->w += n;
	return 0;
}

size_t petri__vault_scrub_buf(const struct petri_vault *v, char *p, size_t n)
{
	if (!v || !p || n == 0)
		return 0;
	struct petri_vault_scrub *s = petri__vault_scrub_new(v);
	if (!s) {
		/* no memory to look: mask everything rather than let a value by */
		memset(p, '*', n);
		return n;
	}
	struct inplace ip = {p, 0};
	/* the output never overtakes the input: the ring holds what was read */
	petri__vault_scrub_feed(s, p, n, inplace_put, &ip);
	petri__vault_scrub_end(s, inplace_put, &ip);
	size_t masked = s->masked;
	petri__vault_scrub_free(s);
	return masked;
}
