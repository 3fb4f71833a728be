/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vault.h - TenantVault (README "Secrets"): secrets a sandbox's code can use
 * but never read.  The interface between vault.c (the secrets, their
 * placeholders, the sandbox's CA, request rewriting and scrubbing: pure
 * functions of bytes, no sockets, no threads of its own) and its users:
 * sandbox.c (creates and frees it, gives init the CA bundle and the
 * placeholders as env), exec.c (scrubs returned output), proxy.c
 * (terminates TLS for secret-bound hosts, rewrites requests, scrubs
 * responses), dns via proxy.c (placeholders in names are misuse).
 *
 * The values live in memory that is neither dumpable nor swappable
 * (memfd_secret(2) where the kernel has it, else mlock + MADV_DONTDUMP)
 * and are wiped by petri__vault_free.  Nothing here writes a value to a
 * log, an error or the audit stream.
 *
 * Data flows down: sandbox.c/exec.c/proxy.c -> vault.c -> policy.c (host
 * patterns), OpenSSL.  vault.c calls no sandbox, exec or proxy code.
 */
#ifndef PETRI_VAULT_H
#define PETRI_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "net.h"

#define PETRI_VAULT_PREFIX "petri-vault-"
#define PETRI_VAULT_TOKEN_LEN (sizeof(PETRI_VAULT_PREFIX) - 1 + 32) /* prefix + 128 bits hex */
#define PETRI_VAULT_MAX 64          /* secrets per sandbox */
#define PETRI_VAULT_VALUE_MAX 4096  /* bytes of one value */
#define PETRI_VAULT_BODY_MAX (1u << 20) /* request bodies rewritten up to this size */

struct petri_vault;

/*
 * Check and copy the caller's NULL-terminated @secrets (petri.h rules: sz,
 * flags 0, name, value 1..4096 bytes, hosts) into a new vault: values into
 * secret memory, a random placeholder each, and the sandbox's CA (an EC
 * P-256 key and a self-signed certificate, valid from an hour ago for 7
 * days, with name constraints permitting the secrets' host names only).
 * @upstream_ca: a PEM file of extra CAs for verifying upstreams, or NULL.
 * 0, or -errno with @err naming the secret (never its value): EINVAL for a
 * malformed entry, ENOENT/EACCES for @upstream_ca.
 */
int petri__vault_new(const struct petri_secret *const *secrets, const char *upstream_ca,
		     struct petri_vault **out, petri_error **err);
/* Wipe the values and free everything.  NULL: nothing. */
void petri__vault_free(struct petri_vault *v);

/* The number of secrets; the i-th's name and placeholder (NUL-terminated,
 * PETRI_VAULT_TOKEN_LEN characters).  The env a sandbox gets: NAME=token. */
size_t petri__vault_count(const struct petri_vault *v);
const char *petri__vault_name(const struct petri_vault *v, size_t i);
const char *petri__vault_placeholder(const struct petri_vault *v, size_t i);

/*
 * The allowlist entries the secrets' hosts add ("HOST:PORT", one per host
 * and port, the scheme dropped), NULL-terminated, owned by @v: the caller
 * parses them with .allow into one policy (sandbox.c).
 */
const char *const *petri__vault_allow(const struct petri_vault *v);

/* The CA certificate as PEM (owned by @v), for the sandbox's trust store:
 * /etc/ssl/certs/ca-certificates.crt = the host's bundle + this. */
const char *petri__vault_ca_pem(const struct petri_vault *v, size_t *len);

/*
 * Scope: the bit set (bit i: secret i) of the secrets that may be sent to
 * the normalised @host on @port; with @tls 0, only those whose host entry
 * was "http://".  Non-zero for (host, port, tls=1) means the proxy
 * intercepts that connection; zero means it is tunnelled untouched.
 */
uint64_t petri__vault_scope(const struct petri_vault *v, const char *host, uint16_t port,
			    int tls);

/*
 * TLS for an intercepted connection: a server SSL_CTX presenting a leaf
 * certificate for @host signed by the sandbox's CA (made once per name and
 * cached in @v; ALPN: http/1.1 only, so HTTP/2 is downgraded the same way
 * on every path), and the client SSL_CTX for upstreams (the host's trust
 * store + upstream_ca, TLS 1.2+, ALPN http/1.1; the caller sets SNI and
 * the host to verify on each SSL).  NULL with @err on failure.  Thread:
 * the proxy's only (not locked).
 */
SSL_CTX *petri__vault_server_ctx(struct petri_vault *v, const char *host, petri_error **err);
SSL_CTX *petri__vault_client_ctx(struct petri_vault *v, petri_error **err);

/* What a rewrite or a scan found wrong (never the value). */
enum petri_vault_misuse {
	PETRI_VAULT_OK = 0,
	PETRI_VAULT_MISUSE_HOST,       /* a placeholder toward a host outside its scope */
	PETRI_VAULT_MISUSE_PLAIN_HTTP, /* a placeholder over plain HTTP to a TLS-only host */
	PETRI_VAULT_MISUSE_FOREIGN,    /* a token with the prefix that is not this sandbox's */
	PETRI_VAULT_MISUSE_DNS,        /* a placeholder in a DNS name */
	PETRI_VAULT_MISUSE_UNSAFE,     /* the value cannot go where the placeholder is
					* (CR/LF/NUL into a header) */
	PETRI_VAULT_MISUSE_TOO_LARGE,  /* a body over PETRI_VAULT_BODY_MAX holding one */
};
struct petri_vault_finding {
	enum petri_vault_misuse misuse;
	int secret;         /* index of the secret concerned, -1: none or foreign */
	uint64_t used;      /* bits of the secrets substituted (rewrite) */
	const char *where;  /* static: "request line", "header", "basic auth", "body", "dns" */
};

/*
 * Find placeholders in @p (@n bytes) as they are, percent-decoded (either
 * hex case), inside any base64 (standard or URL alphabet) run, and
 * case-insensitively (DNS names): the first one that @scope does not
 * allow, or a foreign token, is reported in @f (PETRI_VAULT_OK: none).
 * For bytes that go anywhere no value may go: plain HTTP to unscoped
 * hosts (@scope 0), DNS names, CONNECT targets, SNI.  Returns f->misuse.
 */
enum petri_vault_misuse petri__vault_scan(const struct petri_vault *v, uint64_t scope,
					  const void *p, size_t n, struct petri_vault_finding *f);

/* A growable byte buffer for rewrites (free with free(b->p)). */
struct petri_vault_buf {
	char *p;
	size_t len, cap;
};

/*
 * Rewrite one request head (@raw, @len bytes, as sniff.c delivered it;
 * @h its parse) going to @host:@port (@tls: over TLS) for the secrets in
 * @scope: each of their placeholders in the request target is replaced by
 * the percent-encoded value, in a header by the value (in
 * "Authorization: Basic" inside the base64-decoded credentials, then
 * encoded again), and the head is appended to @out with
 * "Accept-Encoding: identity" in place of any Accept-Encoding (so a
 * response can be scrubbed) and without Proxy-* headers.  A placeholder
 * outside @scope, a foreign token, or a value that cannot go there is
 * misuse: nothing is appended.  Returns f->misuse, or -ENOMEM.
 */
int petri__vault_rewrite_head(const struct petri_vault *v, uint64_t scope,
			      const struct petri_http_head *h, const char *raw, size_t len,
			      struct petri_vault_buf *out, struct petri_vault_finding *f);

/*
 * Rewrite a whole request body (de-chunked by the caller, at most
 * PETRI_VAULT_BODY_MAX) for @scope: placeholders as they are and
 * percent-encoded (form bodies: value percent-encoded) replaced.  Appended
 * to @out.  Returns f->misuse, or -ENOMEM.
 */
int petri__vault_rewrite_body(const struct petri_vault *v, uint64_t scope, const void *body,
			      size_t n, int form_urlencoded, struct petri_vault_buf *out,
			      struct petri_vault_finding *f);

/*
 * A scrubber: a byte stream with every value of @v masked, as it is and in
 * its simple encodings (base64 standard and URL-safe at each of the three
 * alignments, hex in either case, percent-encoded, JSON-escaped), each
 * occurrence replaced by as many '*' as it has bytes (the length stays, so
 * a response's framing does), however the stream is cut into feeds.  It
 * holds back at most petri__vault_scrub_window(v) - 1 bytes until more
 * come or the end.  @emit gets the output in order; a non-zero return
 * from it is returned.  Used for response heads and bodies (proxy.c) and
 * for the stdout/stderr the library returns (exec.c).
 */
struct petri_vault_scrub;
typedef int (*petri_vault_emit_fn)(void *arg, const char *p, size_t n);
struct petri_vault_scrub *petri__vault_scrub_new(const struct petri_vault *v);
int petri__vault_scrub_feed(struct petri_vault_scrub *s, const void *p, size_t n,
			    petri_vault_emit_fn emit, void *arg);
int petri__vault_scrub_end(struct petri_vault_scrub *s, petri_vault_emit_fn emit, void *arg);
void petri__vault_scrub_free(struct petri_vault_scrub *s);
size_t petri__vault_scrub_window(const struct petri_vault *v);
/* Scrub @n bytes in place (whole, e.g. a response head); the count masked. */
size_t petri__vault_scrub_buf(const struct petri_vault *v, char *p, size_t n);

/*
 * Audit (audit_hooks.c): a secret substituted into a request (@secret its
 * index; @method and @path the request's, never the value), and a
 * misuse the proxy refused (@f says which; @host and @port where it was
 * going: a name, or "" for DNS).
 */
struct petri_sandbox;
void petri__audit_vault_use(const struct petri_sandbox *sb, int secret, const char *host,
			    uint16_t port, const char *method, const char *path);
void petri__audit_vault_misuse(const struct petri_sandbox *sb, const struct petri_vault_finding *f,
			       const char *host, uint16_t port);

#endif /* PETRI_VAULT_H */
