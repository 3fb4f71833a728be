/* SPDX-License-Identifier: Apache-2.0 */
/*
 * net.h - controlled egress (PETRI_NET_PROXY; DESIGN.md "Network"): the
 * interfaces between the pieces under libpetri/net/ and the rest of the host
 * library.
 *
 *   policy.c  the allowlist: parsing, name and address normalisation,
 *             matching, the classes of addresses the host never dials
 *   dns.c     the sandbox's DNS server: one message in, one answer out
 *             (libldns), and the table of synthetic addresses
 *   sniff.c   what a client says first: HTTP/1.x request heads
 *             (http-parser) and the TLS ClientHello's SNI (OpenSSL)
 *   proxy.c   the engine: one event loop thread per context (libevent)
 *             serving every proxied sandbox of the context
 *
 * Data flows one way: sandbox.c -> proxy.c -> policy/dns/sniff, and
 * proxy.c -> the audit hooks.  Nothing here calls sandbox or exec code:
 * sandbox.c has init make the sockets petri__proxy_sockets lists and
 * hands them to petri__proxy_attach.
 *
 * How a sandbox reaches the outside (all on its own loopback; init makes
 * the sockets inside the network namespace and hands them to the host):
 *   127.0.0.1:53 UDP+TCP   DNS: an allowed name gets its own synthetic
 *                          address in PETRI_NET_SYNTH_NET (A only; AAAA
 *                          and other types: no data); others NXDOMAIN
 *   127.0.0.1:3128 TCP     the explicit proxy (HTTP_PROXY, HTTPS_PROXY):
 *                          CONNECT host:port and absolute-URI requests
 *   0.0.0.0:PORT TCP       one per port of the allowlist: connections to a
 *                          synthetic address, for clients that ignore
 *                          proxy variables; the name is the one behind the
 *                          address, checked against the SNI or Host
 */
#ifndef PETRI_NET_H
#define PETRI_NET_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "../internal.h"

/* The longest host name (RFC 1035: 253 characters as text) plus NUL. */
#define PETRI_NET_HOST_MAX 256
/* The proxy's own ports on the sandbox's loopback: not allowed as
 * allowlist ports (they would collide with the listeners). */
#define PETRI_NET_DNS_PORT 53
#define PETRI_NET_PROXY_PORT 3128
/* Synthetic addresses handed out by the DNS server: 127.80.0.1 and up
 * (127.80.0.0/16), one per name, never reused within a sandbox's life. */
#define PETRI_NET_SYNTH_NET 0x7f500000u /* host order */
#define PETRI_NET_SYNTH_MAX 4096u

/* An address: AF_INET (4 bytes used) or AF_INET6; family 0: none. */
struct petri_net_addr {
	int family;
	uint8_t a[16];
};

/* ---- policy.c ---- */

/* One allowlist entry, HOST[:PORT][=ADDR]. */
struct petri_net_rule {
	char host[PETRI_NET_HOST_MAX]; /* normalised (see petri__net_host_norm);
					* for "*.example.com": "example.com" */
	int wildcard;                  /* subdomains of host only, not host */
	int literal;                   /* host is an IP literal (addr below) */
	struct petri_net_addr literal_addr;
	uint16_t port; /* 0: the default ports, 80 and 443 */
	int pinned;    /* =ADDR given: the host dials pin, whatever its class */
	struct petri_net_addr pin;
};

/* The most distinct ports an allowlist may name. */
#define PETRI_NET_MAX_PORTS 64

struct petri_net_policy {
	struct petri_net_rule *rules;
	size_t n;
	uint16_t ports[PETRI_NET_MAX_PORTS]; /* the distinct ports the rules allow, ascending */
	size_t nports;
};

/*
 * Parse a NULL-terminated allowlist into @p (zeroed first; free it with
 * petri__net_policy_free).  Each entry HOST[:PORT][=ADDR]: an exact name, a
 * "*.NAME" wildcard, an IPv4 literal or a bracketed IPv6 literal ("[::1]:443");
 * PORT 1..65535 (not 53 or 3128); ADDR an IPv4 or IPv6 literal (brackets
 * optional).  0, or -EINVAL with @err naming the entry and what is wrong;
 * an empty list is -EINVAL too.  Also refused: '*' anywhere but a whole
 * first label, a wildcard over one label ("*.com") or an address, =ADDR on
 * an IP literal or to an unspecified/multicast/broadcast address, URLs,
 * user info, paths, spaces, two entries for the same host and port with
 * different addresses, more than 64 distinct ports, more than 4096 entries.
 */
int petri__net_policy_parse(struct petri_net_policy *p, const char *const *allow,
			    petri_error **err);
void petri__net_policy_free(struct petri_net_policy *p);

/*
 * Normalise a host as a client wrote it (CONNECT authority without the
 * port, SNI, Host header without the port, a DNS name): lower case, one
 * trailing dot dropped, an internationalised name to its A-label (IDNA
 * 2008), and any IP literal form (dotted, decimal "2130706433", octal
 * "0177.0.0.1", hex, short "127.1", bracketed or IPv4-mapped IPv6) to its
 * canonical text, with @addr set (family 0 when it is a name).  @len bytes
 * of @in (no NUL needed).  0, or -EINVAL (empty, too long, a label over 63,
 * a character no host name has).
 */
int petri__net_host_norm(const char *in, size_t len, char out[PETRI_NET_HOST_MAX],
			 struct petri_net_addr *addr);

/* The rule that allows the normalised @host on @port (port 0: any port;
 * for DNS), or NULL.  The most specific rule wins: an exact one, else the
 * wildcard with the longest name. */
const struct petri_net_rule *petri__net_policy_match(const struct petri_net_policy *p,
						     const char *host, uint16_t port);

enum petri_net_addr_class {
	PETRI_NET_ADDR_PUBLIC = 0,
	PETRI_NET_ADDR_LOOPBACK,
	PETRI_NET_ADDR_PRIVATE,     /* RFC 1918, fc00::/7, 100.64/10 CGNAT */
	PETRI_NET_ADDR_LINK_LOCAL,  /* 169.254/16, fe80::/10 */
	PETRI_NET_ADDR_METADATA,    /* 169.254.169.254, fd00:ec2::254 */
	PETRI_NET_ADDR_MULTICAST,   /* 224/4, ff00::/8 */
	PETRI_NET_ADDR_UNSPECIFIED, /* 0.0.0.0/8, :: */
	PETRI_NET_ADDR_BROADCAST,   /* 255.255.255.255 */
	PETRI_NET_ADDR_RESERVED,    /* 240/4, documentation, benchmarking, ... */
	PETRI_NET_ADDR_HOST_OWN,    /* one of the host's own interface addresses */
};
/* The class of @a (IPv4-mapped IPv6 is classed as its IPv4; NAT64
 * 64:ff9b::/96 and 6to4 2002::/16 as the IPv4 they carry), or -EINVAL for
 * family 0.  @own: the host's own addresses (n of them), may be NULL; an
 * address in it is HOST_OWN unless it is loopback or unspecified. */
int petri__net_addr_class(const struct petri_net_addr *a, const struct petri_net_addr *own,
			  size_t n_own);
const char *petri__net_addr_class_name(int cls); /* "private", ... */
/*
 * May the host dial @a for a connection @rule allowed?  Yes for a public
 * address, and for any address that is the rule's pin or its literal;
 * otherwise no.  0, or -EACCES with *@why set to a static reason
 * ("address is private", ...).
 */
int petri__net_dial_check(const struct petri_net_rule *rule, const struct petri_net_addr *a,
			  const struct petri_net_addr *own, size_t n_own, const char **why);
/* Text of @a (no brackets) into @buf (INET6_ADDRSTRLEN). */
const char *petri__net_addr_str(const struct petri_net_addr *a, char *buf, size_t cap);
/*
 * The host's own interface addresses (getifaddrs: every IPv4 and IPv6
 * address of every interface, lo included), the @own list of the two
 * functions above.  Into @out (@cap of them): the count, or -ENOBUFS when
 * there are more than @cap (@out NULL and @cap 0: just count), or -errno
 * of getifaddrs.
 */
int petri__net_host_addrs(struct petri_net_addr *out, size_t cap);

/* ---- dns.c ---- */

/* The synthetic addresses of one sandbox: name <-> 127.80.x.y. */
struct petri_net_names;
struct petri_net_names *petri__net_names_new(void);
void petri__net_names_free(struct petri_net_names *t);
/* The address (host order) given to @name, assigning the next one if it
 * has none: 0, or -ENOSPC when PETRI_NET_SYNTH_MAX names have one. */
int petri__net_names_assign(struct petri_net_names *t, const char *name, uint32_t *addr);
/* The name behind @addr (host order), or NULL. */
const char *petri__net_names_lookup(const struct petri_net_names *t, uint32_t addr);

/*
 * What one DNS exchange was, for the audit stream.  rcode -1: no answer was
 * sent.  allowed: also 1 for localhost.  reason, one of: "allowed" (an A),
 * "type not served" (allowed, no data), "localhost", "name not allowed",
 * "bad name" (not a host name: binary, spaces, the root), "class not served"
 * (not IN: REFUSED), "malformed" (FORMERR; under a header: no answer), "not a
 * query" (another opcode: NOTIMP; a response: no answer), "names exhausted"
 * and "out of memory" (SERVFAIL).
 */
struct petri_net_dns_info {
	char qname[PETRI_NET_HOST_MAX]; /* normalised when it could be; "" if none */
	int qname_truncated;            /* longer than fits: cut */
	uint16_t qtype;                 /* 1 A, 28 AAAA, 16 TXT, ... */
	int rcode;          /* the answer's: 0 NOERROR, 3 NXDOMAIN, 5 REFUSED, 1 FORMERR */
	int allowed;        /* the name is on the allowlist */
	uint32_t answer;    /* A given (host order), 0: none */
	const char *reason; /* static: "allowed", "name not allowed", "malformed", ... */
};
/* Is the normalised @name allowed (on any port)?  1 or 0. */
typedef int (*petri_net_name_allowed_fn)(void *arg, const char *name);
/*
 * Answer one DNS message @q (@qlen bytes; for TCP without the 2-byte
 * length) into @out (@cap bytes; 512 is always enough for UDP answers,
 * which are truncated with TC set beyond that).  Only standard queries
 * with one question are answered; anything else gets FORMERR/NOTIMP, and
 * input that is not a DNS header at all gets no answer (returns 0).
 * Returns the answer's length, 0: send nothing, or -errno.
 */
ssize_t petri__net_dns_answer(const uint8_t *q, size_t qlen, uint8_t *out, size_t cap,
			      struct petri_net_names *names, petri_net_name_allowed_fn allowed,
			      void *arg, struct petri_net_dns_info *info);

/* ---- sniff.c ---- */

#define PETRI_NET_PATH_MAX 1024

/* One HTTP/1.x request head. */
struct petri_http_head {
	char method[24];
	int connect;                   /* CONNECT host:port */
	int absolute;                  /* the target was absolute-form (http://host[:port]/p) */
	char host[PETRI_NET_HOST_MAX]; /* of the target if absolute or CONNECT, else of
					* the Host header; raw text, port removed */
	uint16_t port;                 /* given with it, or 0 */
	int has_host_header;
	char host_header[PETRI_NET_HOST_MAX]; /* Host header, port removed; "" if none */
	uint16_t host_header_port;
	char path[PETRI_NET_PATH_MAX]; /* origin-form target ("/x?y"), cut to fit */
	int path_truncated;
	int upgrade;     /* Connection: upgrade (see petri__http_stream_upgrade) */
	int upgrade_h2;  /* its Upgrade names HTTP/2 ("h2c", "h2", "HTTP/2..."): requests
			  * of their own inside, so never a tunnel */
	size_t head_len; /* bytes of the head, request line to the empty line */
};

/*
 * A request stream (client to server) split into heads and the rest:
 * petri__http_stream_feed calls @on_head for each request head once it is
 * complete, with its raw bytes (which the caller forwards rewritten, as is,
 * or not at all) and @on_data for every other byte (bodies raw, chunk
 * framing included, in order; the caller forwards them as is).  Empty
 * lines between requests are dropped.  What is reported does not depend
 * on how the bytes are cut into feeds.  A non-zero return from either
 * stops the feed and is returned.  After a CONNECT head every later byte
 * is data.  After an upgrade head (h->upgrade) later bytes are held, 64 KiB
 * at most (beyond: -E2BIG), until petri__http_stream_upgrade says how the
 * server answered.  -EINVAL: not HTTP/1.x, or a head two servers
 * could read differently (a lone CR or LF, obs-fold, a space before a
 * colon, control characters, two Host headers, Content-Length with
 * Transfer-Encoding, an upgrade with a body), chunk framing not exactly
 * RFC 9112's (CRLF after the size line, the data and each trailer; no
 * whitespace in the size line; at most 15 hex digits); in a body, the
 * bytes before the bad one went to @on_data first.  -E2BIG: a head over
 * 64 KiB.  -ENOMEM.  Once a feed
 * failed or was stopped, every later one returns the same.  One stream is
 * used by one thread at a time.
 */
struct petri_http_stream;
struct petri_http_stream *petri__http_stream_new(void);
void petri__http_stream_free(struct petri_http_stream *s);
typedef int (*petri_http_head_fn)(void *arg, const struct petri_http_head *h, const char *raw,
				  size_t len);
typedef int (*petri_http_data_fn)(void *arg, const char *p, size_t n);
int petri__http_stream_feed(struct petri_http_stream *s, const char *data, size_t len,
			    petri_http_head_fn on_head, petri_http_data_fn on_data, void *arg);
/*
 * The server's answer to the pending upgrade head: @accepted 1 (it said
 * 101 Switching Protocols): the held bytes, then every later byte, are
 * data (@on_data); 0 (any other answer): the held bytes are read as
 * requests again, as petri__http_stream_feed would.  Returns as that does;
 * -EINVAL when no upgrade is pending.
 */
int petri__http_stream_upgrade(struct petri_http_stream *s, int accepted,
			       petri_http_head_fn on_head, petri_http_data_fn on_data, void *arg);
/*
 * The head @raw (@len bytes, as given to on_head) rewritten for the origin
 * server: the request line in origin form, Proxy-Connection,
 * Proxy-Authorization, Connection, Keep-Alive and the headers Connection
 * names dropped (never Host, Content-Length or Transfer-Encoding) and
 * "Connection: close" added ("Connection: upgrade" for an upgrade, whose
 * Upgrade header stays).  For an absolute URL, Host is the URL's, written
 * first (a Host header there is replaced, RFC 9112 3.2.2), with its port
 * unless 80.  Into @out (@cap): its length, or -ENOSPC; -EINVAL for a
 * CONNECT head or @raw not one head.
 */
ssize_t petri__http_head_to_origin(const struct petri_http_head *h, const char *raw, size_t len,
				   char *out, size_t cap);
/*
 * A response stream (server to client) of an intercepted connection
 * (proxy.c, TenantVault), read with http-parser: @on_head gets each
 * response head once complete, raw and writable (the caller scrubs it in
 * place and forwards it), @on_body the payload (de-chunked: chunk framing
 * and trailers are not passed on; the caller frames it again), @on_end the
 * end of each message (the next bytes are the next response's).
 * @on_head's return: 1 the response has no body whatever it says (it
 * answers a HEAD), 0 go on, < 0 stop.  1xx, 204 and 304 have none either;
 * a 101 is -EPROTO (no upgrade is ever asked for on these connections).
 * What is reported does not depend on how the bytes are cut into feeds.
 * A non-zero return of a callback stops the feed and is returned; -EINVAL
 * malformed, -E2BIG a head over 64 KiB, -ENOMEM.  Once failed, every
 * later call returns the same.  petri__http_resp_eof: the server closed;
 * ends a body read until close (0), -EPIPE when a message was cut short.
 */
struct petri_http_resp_head {
	int status;
	int chunked;    /* Transfer-Encoding: chunked (the payload is de-chunked) */
	int no_body;    /* set once on_head returned: HEAD, 1xx, 204, 304 */
	int keep_alive; /* the server keeps the connection after this one */
	int encoded;    /* not readable as it is: a Content-Encoding other than
			 * identity, a transfer-coding other than chunked, or a
			 * folded (obs-fold) header line */
	size_t head_len;
};
struct petri_http_resp;
typedef int (*petri_http_resp_head_fn)(void *arg, const struct petri_http_resp_head *h, char *raw,
				       size_t len);
typedef int (*petri_http_resp_end_fn)(void *arg, const struct petri_http_resp_head *h);
struct petri_http_resp *petri__http_resp_new(void);
void petri__http_resp_free(struct petri_http_resp *r);
int petri__http_resp_feed(struct petri_http_resp *r, const char *data, size_t len,
			  petri_http_resp_head_fn on_head, petri_http_data_fn on_body,
			  petri_http_resp_end_fn on_end, void *arg);
int petri__http_resp_eof(struct petri_http_resp *r, petri_http_data_fn on_body,
			 petri_http_resp_end_fn on_end, void *arg);
/*
 * Do the first bytes @p (@n) look like a TLS handshake (1), an HTTP request
 * (2), or neither (0)?  -EAGAIN: too few bytes to say.  HTTP: after up to
 * 32 CR/LF (more: HTTP), a first line "token SP ... SP HTTP/..." with any
 * method token and any version (the request stream refuses what is not
 * 1.x), or one of the nine common methods and a space (no need to wait
 * for the version; "GET target" is HTTP/0.9).  A line without its end yet
 * that could still be one: -EAGAIN until 64 KiB, then HTTP.  Neither: a
 * first byte that is no method's, a method not followed by a space, or a
 * whole first line without an HTTP version.
 */
int petri__net_sniff_kind(const uint8_t *p, size_t n);
/*
 * The server name of the TLS ClientHello at the start of @p (@n bytes),
 * normalised, into @sni.  1: found; 0: a complete ClientHello with no SNI
 * (@sni ""); -EAGAIN: more bytes needed (the hello may span records);
 * -EINVAL: not a ClientHello (a record that is not a handshake, empty or
 * over 2^14 bytes; another handshake type), a hello declared over 16 KiB
 * or spread over more than 64 KiB of records, a malformed hello or
 * server_name list, two host_name entries, or a name petri__net_host_norm
 * refuses; -ENOMEM.  Stateless and thread-safe: call it again with more
 * bytes (each call reads the headers from the start; a connection uses
 * petri__net_tls_sni_scan instead).
 */
int petri__net_tls_sni(const uint8_t *p, size_t n, char sni[PETRI_NET_HOST_MAX]);
/* A ClientHello read as its bytes come (zero it to start). */
struct petri_tls_scan {
	size_t off;             /* bytes of the stream read */
	size_t rec_left;        /* of the current record's body, still to come */
	size_t hs_seen;         /* handshake bytes seen (record bodies) */
	uint8_t hs[4];          /* the hello's header: type, 24-bit length */
	size_t need;            /* 4 + the declared length; 0: not known yet */
	int spent;              /* a result other than -EAGAIN was given */
	unsigned openssl_calls; /* times OpenSSL read a hello: at most 1 */
};
/*
 * petri__net_tls_sni for a stream whose bytes come in pieces: @p (@n bytes)
 * is everything received so far (the bytes of the previous call, then
 * more).  Only what is new is read: the record and handshake headers, and
 * OpenSSL once, when the declared hello is all there, so a hello trickled
 * in costs O(its length) in all.  The same results; once one other than
 * -EAGAIN was given, @st is spent and later calls are -EINVAL (as is @n
 * shorter than before).  One @st per stream, one thread at a time.
 */
int petri__net_tls_sni_scan(struct petri_tls_scan *st, const uint8_t *p, size_t n,
			    char sni[PETRI_NET_HOST_MAX]);

/* ---- what the audit stream is told (audit_hooks.c) ---- */

enum {
	PETRI_NET_VIA_PROXY = 1,       /* the explicit proxy: CONNECT or absolute URI */
	PETRI_NET_VIA_TRANSPARENT = 2, /* a connection to a synthetic address */
};
enum {
	PETRI_NET_PROTO_OPAQUE = 0,
	PETRI_NET_PROTO_TLS = 1,
	PETRI_NET_PROTO_HTTP = 2,
};

/* One connection (or one plain-HTTP request), allowed or refused, once it ended. */
struct petri_net_conn_info {
	int via;                       /* PETRI_NET_VIA_* */
	int protocol;                  /* PETRI_NET_PROTO_* */
	char name[PETRI_NET_HOST_MAX]; /* what the client asked for */
	uint16_t port;
	char sni_host[PETRI_NET_HOST_MAX]; /* SNI or Host header, "" if none */
	char method[24];                   /* plain HTTP */
	char path[PETRI_NET_PATH_MAX];
	struct petri_net_addr addr;     /* the address dialled, family 0: none */
	uint64_t bytes_up, bytes_down;  /* sandbox -> upstream, upstream -> sandbox */
	uint64_t start_ns, duration_ns; /* wall clock start, and how long */
	int allowed;                    /* the policy allowed it */
	const char *reason;             /* static: "allowed", "name not allowed", ... */
	int status;                     /* HTTP status the proxy answered itself, 0: none */
	int error;                      /* errno of an upstream failure, 0: none */
};
void petri__audit_net_conn(const struct petri_sandbox *sb, const struct petri_net_conn_info *c);
void petri__audit_net_dns(const struct petri_sandbox *sb, const struct petri_net_dns_info *d,
			  int tcp);
/* @count NetConnection (@dns 0) or DnsQuery (@dns 1) events of @sb that
 * the proxy counted instead of writing (its audit budget was spent):
 * reported as Loss {where: RATE_LIMIT, kind, count}. */
void petri__audit_net_suppressed(const struct petri_sandbox *sb, int dns, uint64_t count);

/* ---- proxy.c (sandbox.c calls these) ---- */

/* At most this many sockets: DNS over UDP and TCP, the explicit proxy,
 * one transparent listener per allowed port. */
#define PETRI_PROXY_MAX_SOCKETS (3 + PETRI_NET_MAX_PORTS)
struct petri_sock_req;
/*
 * The listeners @policy's proxy serves in the sandbox's network namespace,
 * into @reqs (PETRI_PROXY_MAX_SOCKETS of them): DNS over UDP, DNS over
 * TCP, the explicit proxy, then one transparent listener per allowed port.
 * Returns how many.  The caller has init make them (sandbox.c).
 */
size_t petri__proxy_sockets(const struct petri_net_policy *policy, struct petri_sock_req *reqs);
/*
 * Serve @sb's egress under @policy (moved into the proxy: @policy is
 * zeroed) on @fds, the sockets petri__proxy_sockets listed, in its order
 * (always taken: closed on failure): start the context's proxy thread if
 * it is not running, and register them.  0 or -errno with @err.
 */
int petri__proxy_attach(struct petri_sandbox *sb, struct petri_net_policy *policy, int *fds,
			size_t nfds, petri_error **err);
/* Stop serving @sb: close its listeners and every connection, write their
 * audit events, and return once the proxy thread holds nothing of @sb. */
void petri__proxy_detach(struct petri_sandbox *sb);
/* The proxy's decisions for @sb so far (petri_sandbox_net_stats()): all 0
 * without a proxy.  Any thread; not during detach. */
void petri__proxy_counts(const struct petri_sandbox *sb, uint64_t *allowed, uint64_t *refused,
			 uint64_t *dns);
/* End the context's proxy thread (petri_ctx_free). */
void petri__proxy_stop(struct petri_ctx *ctx);

#endif /* PETRI_NET_H */
