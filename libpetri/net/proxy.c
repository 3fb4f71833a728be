/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy.c - the egress engine of PETRI_NET_PROXY (net.h has the design):
 * one thread per context running a libevent loop that serves every proxied
 * sandbox of the context, on the sockets init made in each sandbox's
 * network namespace:
 *
 *   DNS, UDP and TCP      one query in, petri__net_dns_answer out
 *   the explicit proxy    the first request head decides: CONNECT host:port
 *                         (200, then a tunnel whose TLS SNI must name the
 *                         same host) or an absolute-URI request (forwarded
 *                         in origin form, Connection: close)
 *   the transparent ports the name is the one behind the synthetic address
 *                         the client connected to; its first bytes must
 *                         agree (TLS SNI, the Host of every HTTP request)
 *
 * Every decision is the policy's (policy.c) and is made before a byte of
 * the sandbox's reaches an upstream; the host resolves names itself and
 * dials only addresses petri__net_dial_check accepts.  Everything is
 * non-blocking: a slow or stuck peer holds only its own connection, whose
 * buffers are bounded by watermarks and whose life by timeouts.
 *
 * Nothing of a transparent client's goes upstream, and no upstream
 * connection is made, before its first bytes are judged: the ClientHello's
 * SNI, or the first request head's Host.  On a connection to a name (the
 * transparent path; plain HTTP inside a CONNECT tunnel) every request is
 * judged: its absolute-form target and its Host must both name the
 * connection's name and port (an absolute form that does goes up in origin
 * form), a CONNECT is refused (400), a mismatch 421 (later requests: the
 * connection ends after the answers before them).  The first bytes are
 * HTTP whenever they could be a request line (any method, leading empty
 * lines); only what cannot be, nor TLS, passes unread ("opaque"), never on
 * port 80.  A ClientHello without SNI passes only for an IP-literal rule.
 * An upgrade becomes a tunnel only when the upstream's first status line
 * says 101, and only for a connection's first request; until then the
 * client's later bytes are held, and on any other answer they are read as
 * requests again.  A client silent for
 * SERVER_FIRST_MS is taken to speak second (SSH, SMTP): the upstream is
 * dialled then, and the client's first bytes are still judged when they
 * come.  A CONNECT tunnel's first bytes are judged the same way (its
 * upstream is dialled first, as the 200 must say it answered).
 *
 * TenantVault (vault.h; the section "intercepted connections" below): a
 * sandbox with secrets has its connections to a secret's hosts relayed,
 * not tunnelled (TLS terminated with the sandbox's CA, requests rewritten,
 * responses scrubbed), and placeholders looked for in what goes anywhere
 * else.  A sandbox without secrets (s->vault NULL) takes none of it.
 *
 * Audit: one NetConnection per connection when it ends or is refused,
 * with its byte counts; each plain-HTTP request on a transparent
 * connection gets one of its own when its head is judged (method, path,
 * no bytes), except a refused first request, whose event is the
 * connection's.  An absolute-URI connection carries one request, so one
 * event.  One DnsQuery per DNS message answered.
 *
 * Threads: attach, detach and stop come from the library's callers; they
 * queue a command, wake the loop (an eventfd) and wait for it to be done,
 * so every libevent object is touched by the loop thread alone and libevent
 * needs no locking of its own.
 *
 * The host's own name resolution is libevent's evdns (evdns_getaddrinfo):
 * asynchronous on the same loop, reads /etc/resolv.conf and /etc/hosts, A
 * and AAAA; no second event library or thread is needed for it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "../defaults.h"
#include "../host.h"
#include "net.h"
#include "vault.h"

/* A side's output beyond HIGH pauses reading from the other side until it
 * drains to LOW: per connection at most about 2 x (HIGH + SINGLE_IO)
 * buffered, 384 KiB: what a client that never reads pins of the host's
 * memory in user space (REDTEAM 6; it was 1.5 MiB).  Big transfers do not
 * feel it: past ZC_MIN they are spliced. */
#define SPLICE_HIGH (128u << 10)
#define SPLICE_LOW (32u << 10)
#define SINGLE_IO (64u << 10)  /* the most one read or write moves */
#define SNIFF_MAX (64u << 10)  /* a ClientHello or request head must fit */
#define FLUSH_TIMEOUT_MS 5000u /* a refused or finished client gets this long to read */
/* After an answer of the proxy's own is written and our side shut, what the
 * client still sends is read and dropped this long at most: closing with
 * unread bytes would reset the connection, and the answer with it. */
#define LINGER_MS 1000u
#define DNS_TCP_IDLE_MS NET_HEAD_TIMEOUT_MS
#define DNS_UDP_BURST 64 /* datagrams per wakeup, then the others get a turn */
/* A transparent connection whose client says nothing this long is for a
 * protocol where the server speaks first (SSH, SMTP): dialled then, its
 * client's first bytes judged whenever they come. */
#define SERVER_FIRST_MS 1000u
#define MAX_CANDIDATES 16
/* A connection that has moved this much goes over to splice(2) through a
 * pipe per direction (no copy through user space): both directions of a
 * tunnel (TLS, opaque), the answers of a plain-HTTP one (whose requests the
 * parser still reads).  Smaller ones never cost the pipes' fds. */
#define ZC_MIN (256u << 10)
#define ZC_PIPE (512u << 10)
/* SO_SNDBUF and SO_RCVBUF of the proxy's socket to a client (the kernel
 * doubles it for its bookkeeping). */
#define CLIENT_SOCKBUF (256u << 10)
/* The audit budget of a sandbox's proxy events (NetConnection, DnsQuery):
 * a token bucket of AUDIT_BURST events refilled at AUDIT_RATE a second.
 * Beyond it each event is counted, not written, and the counts go into
 * the stream as Loss {where: RATE_LIMIT} at most once per AUDIT_LOSS_MS
 * (and when the sandbox is detached).  A package manager's install makes
 * a few hundred events over tens of seconds: within the burst; a sandbox
 * churning refused connections or DNS queries made 35,000 a second (tens
 * of MB of audit) before this. */
/*
 * An allowlist wildcard without =ADDR ("*.example.com") makes the host's
 * resolver look up names the sandbox chose: <data>.example.com carries
 * data out with the query.  That channel is bounded: the labels before
 * the wildcard's name at most WILDCARD_LABELS_MAX characters, and at most
 * WILDCARD_NAMES_MAX distinct such names resolved over a sandbox's life
 * (about 2 KB in all); others are refused (audited) without a lookup.
 * A pinned wildcard is never looked up.  (32: CDN and bucket names such
 * as d1234abcd.cloudfront.net or objects.githubusercontent.com fit.)
 */
#define WILDCARD_LABELS_MAX 32u
#define WILDCARD_NAMES_MAX 64u
#define AUDIT_RATE 100u
#define AUDIT_BURST 500u
#define AUDIT_LOSS_MS 1000u
/* TenantVault (intercepted connections, below). */
#define V_PIPELINE 64 /* requests sent whose answers have not all come */
#define V_IO 16384    /* plaintext moved per SSL_read */
/* Bytes of a streamed body kept to scan with the next piece: a placeholder
 * percent-encoded is at most three times its length. */
#define V_TAIL (3 * PETRI_VAULT_TOKEN_LEN + 8)

/* ---- the objects ---- */

enum cmd_kind {
	CMD_ATTACH,
	CMD_DETACH,
	CMD_STOP
};

struct cmd {
	int kind;
	struct petri_proxy_sb *s;
	int done;
	int err;
	struct cmd *next;
};

struct petri_proxy {
	struct petri_ctx *ctx;
	pthread_t thread;
	struct event_base *base;
	struct evdns_base *dns;
	int wake_fd;
	struct event *wake_ev;
	pthread_mutex_t lock; /* cmds, done */
	pthread_cond_t cond;
	struct cmd *cmds;
	struct petri_proxy_sb *sbs; /* loop thread only */
};

enum lsn_kind {
	L_DNS_TCP,
	L_PROXY,
	L_TRANSPARENT
};

/* One listener of a sandbox. */
struct lsn {
	struct petri_proxy_sb *s;
	int kind;
	uint16_t port;
	int fd; /* until the loop owns it */
	struct evconnlistener *l;
	struct event *retry; /* accept failed (EMFILE): try again soon */
};

struct conn;

/* One proxied sandbox. */
struct petri_proxy_sb {
	struct petri_proxy *px;
	struct petri_sandbox *sb; /* for the audit hooks; outlives us */
	struct petri_net_policy policy;
	struct petri_net_names *names;
	struct petri_vault *vault; /* the sandbox's secrets (borrowed), NULL: none */
	struct petri_net_addr *own;
	size_t n_own;
	uint32_t max_conns;
	uint64_t max_bytes;
	uint32_t nconns;
	uint64_t bytes;         /* both ways, over its life */
	uint64_t audit_milli;   /* the audit budget: tokens x 1000 */
	uint64_t audit_ms;      /* when it was last refilled (monotonic) */
	uint64_t audit_lost[2]; /* events counted, not written: [0] conn, [1] DNS */
	/* Every decision, audited or not (petri_sandbox_net_stats(); atomic:
	 * read from other threads): connections allowed, refused; DNS. */
	uint64_t decided[2], dns_answered;
	struct event *audit_flush;            /* reports audit_lost */
	char (*wc_names)[PETRI_NET_HOST_MAX]; /* wildcard names resolved (WILDCARD_NAMES_MAX) */
	size_t n_wc;
	int udp_fd;
	struct event *udp_ev;
	struct lsn *lsn;
	size_t nlsn;
	struct conn *conns;
	struct petri_proxy_sb *next;
};

enum conn_kind {
	K_DNS,
	K_PROXY,
	K_TRANSPARENT
};

enum conn_state {
	S_HEAD,    /* waiting for what decides: a request head, the first bytes */
	S_DIAL,    /* resolving or connecting upstream */
	S_SPLICE,  /* both ways */
	S_CLOSING, /* flushing what is left to the client, then closed */
};

enum sniffed {
	SNIFF_NONE = 0,
	SNIFF_TLS,
	SNIFF_HTTP,
	SNIFF_OPAQUE
};

struct conn;

/* One direction of a zero-copy connection: from -> pipe -> to. */
struct zdir {
	struct conn *c;
	int on; /* this direction is spliced, its bufferevent sides idle */
	int up; /* sandbox -> upstream */
	int from, to;
	int pipe[2];
	size_t cap; /* the pipe's size: never more in it, so a full pipe is never polled */
	size_t inpipe;
	struct event *rd, *wr;
};

struct resolve {
	struct conn *c; /* NULL: the connection is gone */
	int starting;   /* inside evdns_getaddrinfo */
	int done;
	int result;
	struct evutil_addrinfo *ai;
	struct evdns_getaddrinfo_request *req;
};

struct conn {
	struct petri_proxy_sb *s;
	struct conn *prev, *next;
	int kind;
	int state;
	struct bufferevent *cl, *up;
	struct event *timer;
	uint64_t t0_mono;          /* ns */
	uint64_t last_ms;          /* last byte either way, monotonic ms */
	int dialed;                /* dial() has begun */
	uint64_t head_deadline_ms; /* the client's first bytes must be complete by then */
	int up_connected;          /* the upstream answered */
	int tunnel;                /* explicit CONNECT */
	int absolute;              /* explicit absolute-URI request */
	int sniffed;               /* SNIFF_* of the client's first bytes, once known */
	int decided;               /* the client's bytes may flow upstream */
	int eof_cl, eof_up;        /* that side sent its FIN */
	int shut_cl, shut_up;
	int paused_cl, paused_up; /* reading stopped: the other side's output is full */
	int heads;                /* HTTP request heads seen */
	int inner_http;           /* a CONNECT tunnel carrying plain HTTP: judged per request */
	int upg_wait; /* an upgrade head went up: its answer's status line decides (2: an
		       * HTTP/2 upgrade, taken out of the head: never a tunnel) */
	char st[16];  /* the start of that answer */
	size_t st_n;
	struct petri_http_stream *hs;
	struct petri_tls_scan tls; /* the ClientHello in c->sniff, read so far */
	struct evbuffer *sniff;    /* the client's first bytes, undecided */
	struct evbuffer *pend;     /* decided bytes for an upstream not connected yet */
	const struct petri_net_rule *rule;
	char host[PETRI_NET_HOST_MAX];
	uint16_t port;
	struct petri_net_addr cand[MAX_CANDIDATES];
	size_t ncand, icand;
	const char *deny_why; /* a candidate the dial check refused */
	int tried;            /* candidates connected to */
	struct resolve *res;
	struct petri_net_conn_info info;
	int audited;
	int zombie;         /* ended: freed on the loop's next turn (conn_kill) */
	struct zdir z[2];   /* [0] sandbox -> upstream, [1] back; zero copy */
	struct vconn *v;    /* intercepted (TenantVault), NULL: not */
	char vtail[V_TAIL]; /* plain HTTP body with secrets about: the end of the */
	size_t vtail_n;     /* last piece, scanned again with the next */
	/* A plain-HTTP request with a body, on a sandbox with secrets: the
	 * head and body are held (not sent) until the body is whole and
	 * scanned, so a placeholder in it is refused before anything left. */
	struct evbuffer *vheld; /* non-NULL: holding */
	uint64_t vhold_left;    /* Content-Length bytes still to come */
	int vhold_chunked;      /* chunked: until the last chunk */
};

struct vconn;
static void vconn_free(struct vconn *v);

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void arm(struct conn *c, uint64_t ms)
{
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
			     .tv_usec = (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(c->timer, &tv);
}

/* ---- the audit budget ---- */

/* Report the events @s counted instead of writing. */
static void audit_report_lost(struct petri_proxy_sb *s)
{
	for (int dns = 0; dns < 2; dns++) {
		if (s->audit_lost[dns])
			petri__audit_net_suppressed(s->sb, dns, s->audit_lost[dns]);
		s->audit_lost[dns] = 0;
	}
}

static void audit_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	audit_report_lost(arg);
}

/* May @s write one more proxy event?  1, or 0: counted instead. */
static int audit_admit(struct petri_proxy_sb *s, int dns)
{
	uint64_t now = mono_ms(), full = (uint64_t)AUDIT_BURST * 1000u;
	s->audit_milli += (now - s->audit_ms) * AUDIT_RATE;
	if (s->audit_milli > full)
		s->audit_milli = full;
	s->audit_ms = now;
	if (s->audit_milli >= 1000u) {
		s->audit_milli -= 1000u;
		return 1;
	}
	s->audit_lost[dns]++;
	if (s->audit_flush && !evtimer_pending(s->audit_flush, NULL)) {
		struct timeval tv = {.tv_sec = AUDIT_LOSS_MS / 1000,
				     .tv_usec = (AUDIT_LOSS_MS % 1000) * 1000};
		evtimer_add(s->audit_flush, &tv);
	}
	return 0;
}

static void audit_emit_conn(struct petri_proxy_sb *s, const struct petri_net_conn_info *info)
{
	__atomic_fetch_add(&s->decided[info->allowed ? 0 : 1], 1, __ATOMIC_RELAXED);
	if (audit_admit(s, 0))
		petri__audit_net_conn(s->sb, info);
}

static void audit_emit_dns(struct petri_proxy_sb *s, const struct petri_net_dns_info *info, int tcp)
{
	__atomic_fetch_add(&s->dns_answered, 1, __ATOMIC_RELAXED);
	if (audit_admit(s, 1))
		petri__audit_net_dns(s->sb, info, tcp);
}

/* ---- ending a connection ---- */

static void audit_conn(struct conn *c)
{
	if (c->audited || c->kind == K_DNS)
		return;
	c->audited = 1;
	c->info.duration_ns = mono_ns() - c->t0_mono;
	if (!c->info.reason)
		c->info.reason = c->info.allowed ? "allowed" : "refused";
	audit_emit_conn(c->s, &c->info);
}

static void resolve_drop(struct conn *c)
{
	struct resolve *r = c->res;
	if (!r)
		return;
	c->res = NULL;
	r->c = NULL;
	/* The callback runs once whatever happens (with EVUTIL_EAI_CANCEL
	 * here) and frees r. */
	if (r->req && !r->done)
		evdns_getaddrinfo_cancel(r->req);
}

static void conn_free(struct conn *c)
{
	struct petri_proxy_sb *s = c->s;
	audit_conn(c);
	resolve_drop(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	if (c->cl)
		bufferevent_free(c->cl);
	if (c->up)
		bufferevent_free(c->up);
	if (c->timer)
		event_free(c->timer);
	if (c->hs)
		petri__http_stream_free(c->hs);
	if (c->sniff)
		evbuffer_free(c->sniff);
	if (c->pend)
		evbuffer_free(c->pend);
	if (c->vheld)
		evbuffer_free(c->vheld);
	vconn_free(c->v);
	for (int i = 0; i < 2; i++) {
		if (!c->z[i].on)
			continue;
		if (c->z[i].rd)
			event_free(c->z[i].rd);
		if (c->z[i].wr)
			event_free(c->z[i].wr);
		close(c->z[i].pipe[0]);
		close(c->z[i].pipe[1]);
	}
	free(c);
}

/*
 * End @c: audited and silenced now, freed on the loop's next turn, so that
 * no caller up the stack (a parser callback, a bufferevent callback) is
 * left holding freed memory.  Every path that may end a connection checks
 * c->zombie after it.
 */
static void conn_kill(struct conn *c)
{
	if (c->zombie)
		return;
	c->zombie = 1;
	audit_conn(c);
	resolve_drop(c);
	if (c->cl)
		bufferevent_disable(c->cl, EV_READ | EV_WRITE);
	if (c->up)
		bufferevent_disable(c->up, EV_READ | EV_WRITE);
	for (int i = 0; i < 2; i++) {
		if (c->z[i].rd)
			event_del(c->z[i].rd);
		if (c->z[i].wr)
			event_del(c->z[i].wr);
	}
	event_active(c->timer, EV_TIMEOUT, 1);
}

/* The client has read all it was sent: shut our side, and read (and drop)
 * what it still sends until it closes or LINGER_MS passes. */
static void conn_linger(struct conn *c)
{
	if (!c->shut_cl) {
		shutdown(bufferevent_getfd(c->cl), SHUT_WR);
		c->shut_cl = 1;
	}
	if (c->eof_cl) {
		conn_kill(c);
		return;
	}
	bufferevent_enable(c->cl, EV_READ); /* client_read drops it */
	arm(c, LINGER_MS);
}

/* Stop forwarding the client's bytes, let it read what it has been sent
 * (for FLUSH_TIMEOUT_MS at most), then close: at once if the proxy said
 * nothing of its own, else after a linger (conn_linger). */
static void conn_close_after_flush(struct conn *c)
{
	if (c->zombie)
		return;
	audit_conn(c);
	resolve_drop(c);
	if (c->up) {
		bufferevent_free(c->up);
		c->up = NULL;
	}
	c->state = S_CLOSING;
	bufferevent_disable(c->cl, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->cl)) == 0) {
		if (c->info.status)
			conn_linger(c);
		else
			conn_kill(c);
		return;
	}
	bufferevent_setwatermark(c->cl, EV_WRITE, 0, 0);
	arm(c, FLUSH_TIMEOUT_MS);
}

/* The text of an answer of the proxy's own into @buf: its length. */
static int refusal_text(const struct conn *c, int status, const char *reason, char *buf, size_t cap)
{
	static const char *const texts[][2] = {
		{"400", "Bad Request"},         {"403", "Forbidden"},
		{"405", "Method Not Allowed"},  {"408", "Request Timeout"},
		{"421", "Misdirected Request"}, {"429", "Too Many Requests"},
		{"501", "Not Implemented"},     {"502", "Bad Gateway"},
		{"504", "Gateway Timeout"},
	};
	const char *text = "Error";
	char code[8];
	snprintf(code, sizeof(code), "%d", status);
	for (size_t i = 0; i < ARRAY_SIZE(texts); i++)
		if (strcmp(texts[i][0], code) == 0)
			text = texts[i][1];
	char body[PETRI_NET_HOST_MAX + 128];
	int bl = snprintf(body, sizeof(body), "petri proxy: %s%s%s\n", reason,
			  c->host[0] ? ": " : "", c->host);
	int n = snprintf(buf, cap,
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
			 "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
			 status, text, bl, body);
	return n < 0 ? 0 : (size_t)n >= cap ? (int)cap - 1 : n;
}

static void v_refuse(struct conn *c, int status, const char *reason, int allowed);

/* Refuse: an HTTP answer (status 0: none, the connection is just closed),
 * audited as refused by the policy (@allowed 0) or failed upstream.  An
 * intercepted connection always gets an answer, over its TLS. */
static void conn_refuse(struct conn *c, int status, const char *reason, int allowed)
{
	if (c->zombie || c->state == S_CLOSING)
		return;
	if (c->v) {
		v_refuse(c, status ? status : allowed ? 502 : 403, reason, allowed);
		return;
	}
	c->info.allowed = allowed;
	c->info.reason = reason;
	c->info.status = status;
	if (status) {
		char msg[PETRI_NET_HOST_MAX + 512];
		int n = refusal_text(c, status, reason, msg, sizeof(msg));
		evbuffer_add(bufferevent_get_output(c->cl), msg, (size_t)n);
	}
	conn_close_after_flush(c);
}

/* Close now, the way the connection stands (allowed connections that end,
 * or fail midway). */
static void conn_end(struct conn *c, const char *reason)
{
	if (reason && !c->info.reason)
		c->info.reason = reason;
	conn_kill(c);
}

/* Count @n bytes (@up: sandbox to upstream) against the sandbox's budget:
 * 0, or -1 when it is spent (the connection is closed). */
static int charge(struct conn *c, int up, size_t n)
{
	struct petri_proxy_sb *s = c->s;
	if (s->bytes + n > s->max_bytes) {
		s->bytes = s->max_bytes;
		c->info.reason = "byte limit";
		conn_kill(c);
		return -1;
	}
	s->bytes += n;
	if (up)
		c->info.bytes_up += n;
	else
		c->info.bytes_down += n;
	c->last_ms = mono_ms();
	return 0;
}

/* ---- moving bytes ---- */

/* Bytes for the upstream: to it, or held until it is connected.  0 or -1
 * (closed). */
static int to_upstream(struct conn *c, const void *p, size_t n)
{
	if (c->zombie)
		return -1;
	if (c->vheld) {
		if (evbuffer_add(c->vheld, p, n) < 0) {
			conn_end(c, "out of memory");
			return -1;
		}
		return 0;
	}
	if (!c->up_connected) {
		evbuffer_add(c->pend, p, n);
		if (evbuffer_get_length(c->pend) > SPLICE_HIGH)
			bufferevent_disable(c->cl, EV_READ); /* resumed on connect */
		return 0;
	}
	if (charge(c, 1, n) < 0)
		return -1;
	bufferevent_write(c->up, p, n);
	return 0;
}

/*
 * A plain-HTTP request head (@raw, @len) with a body, on a sandbox with
 * secrets: hold what goes upstream from here (this head included) until
 * the body is whole, so that a placeholder in it is refused (403) before
 * any byte of the request left.  Bodies over PETRI_VAULT_BODY_MAX are not
 * held: they go as they come and the connection is cut at a placeholder.
 * 0, or -1 (closed).
 */
static int v_hold_start(struct conn *c, const char *raw, size_t len)
{
	uint64_t cl = 0;
	int chunked = 0;
	const char *p = memchr(raw, '\n', len), *end = raw + len;

	if (!c->s->vault || c->vheld)
		return 0;
	while (p && ++p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((eol ? eol : end) - p);
		if (n > 15 && strncasecmp(p, "content-length:", 15) == 0) {
			const char *d = p + 15;
			while (d < p + n && (*d == ' ' || *d == '\t'))
				d++;
			for (; d < p + n && *d >= '0' && *d <= '9' && cl <= UINT32_MAX; d++)
				cl = cl * 10 + (uint64_t)(*d - '0');
		} else if (n > 18 && strncasecmp(p, "transfer-encoding:", 18) == 0) {
			chunked = 1;
		}
		p = eol;
	}
	if ((!cl && !chunked) || cl > PETRI_VAULT_BODY_MAX)
		return 0;
	if (!(c->vheld = evbuffer_new())) {
		conn_end(c, "out of memory");
		return -1;
	}
	c->vhold_left = cl;
	c->vhold_chunked = chunked;
	return 0;
}

/* Send what was held.  0, or -1 (closed). */
static int v_hold_release(struct conn *c)
{
	struct evbuffer *b = c->vheld;
	int r = 0;

	if (!b)
		return 0;
	c->vheld = NULL;
	size_t n = evbuffer_get_length(b);
	if (n)
		r = to_upstream(c, evbuffer_pullup(b, -1), n);
	evbuffer_free(b);
	return r;
}

/* @n more body bytes were held: release once the body is whole (or over
 * the bound: then it streams on).  0, or -1 (closed). */
static int v_hold_body(struct conn *c, size_t n)
{
	if (!c->vheld)
		return 0;
	size_t held = evbuffer_get_length(c->vheld);
	if (c->vhold_chunked) {
		char t[5];
		if (held > PETRI_VAULT_BODY_MAX)
			return v_hold_release(c);
		struct evbuffer_ptr at;
		if (held >= 5 && evbuffer_ptr_set(c->vheld, &at, held - 5, EVBUFFER_PTR_SET) == 0 &&
		    evbuffer_copyout_from(c->vheld, &at, t, 5) == 5 &&
		    memcmp(t, "0\r\n\r\n", 5) == 0)
			return v_hold_release(c);
		return 0;
	}
	c->vhold_left = n >= c->vhold_left ? 0 : c->vhold_left - n;
	return c->vhold_left ? 0 : v_hold_release(c);
}

static void flow_pause(struct bufferevent *from, struct bufferevent *to, int *paused)
{
	if (evbuffer_get_length(bufferevent_get_output(to)) >= SPLICE_HIGH) {
		bufferevent_disable(from, EV_READ);
		*paused = 1;
	}
}

/* Move everything @from has read to @to.  0 or -1 (closed). */
static int pump(struct conn *c, int up)
{
	struct bufferevent *from = up ? c->cl : c->up, *to = up ? c->up : c->cl;
	struct evbuffer *in = bufferevent_get_input(from);
	size_t n = evbuffer_get_length(in);
	if (!n)
		return 0;
	if (charge(c, up, n) < 0)
		return -1;
	evbuffer_add_buffer(bufferevent_get_output(to), in);
	flow_pause(from, to, up ? &c->paused_cl : &c->paused_up);
	return 0;
}

/* A side's FIN travels on once everything before it has: shut the other
 * side's writing when its output is empty.  Both done: close. */
static void half_close(struct conn *c)
{
	/* (A spliced direction shuts its side itself: zdir_run.) */
	if (c->eof_cl && c->up_connected && !c->shut_up && !c->z[0].on &&
	    evbuffer_get_length(bufferevent_get_output(c->up)) == 0 &&
	    (!c->pend || evbuffer_get_length(c->pend) == 0)) {
		shutdown(bufferevent_getfd(c->up), SHUT_WR);
		c->shut_up = 1;
	}
	if (c->eof_up && !c->shut_cl && !c->z[1].on &&
	    evbuffer_get_length(bufferevent_get_output(c->cl)) == 0) {
		shutdown(bufferevent_getfd(c->cl), SHUT_WR);
		c->shut_cl = 1;
	}
	if (c->shut_up && c->shut_cl)
		conn_end(c, NULL);
}

/* ---- dialling ---- */

static void dial_next(struct conn *c);
static void client_read(struct bufferevent *bev, void *arg);
static void v_up_read(struct conn *c);
static void v_cl_read(struct conn *c);
static void v_up_start(struct conn *c);
static int v_scan(struct conn *c, uint64_t scope, const void *p, size_t n, const char *where);
static int v_plain_body(struct conn *c, const char *p, size_t n);
static int v_plain_start(struct conn *c, uint64_t scope);
static int v_on_head(void *arg, const struct petri_http_head *h, const char *raw, size_t len);
static int v_on_data(void *arg, const char *p, size_t n);
static int sniff_decide(struct conn *c);
static int name_allowed(void *arg, const char *name);

/* ---- zero copy ---- */

/* Move what one direction can, and wait for what it needs next. */
static void zdir_run(struct zdir *z)
{
	struct conn *c = z->c;
	int *eof = z->up ? &c->eof_cl : &c->eof_up, *shut = z->up ? &c->shut_up : &c->shut_cl;
	if (c->zombie)
		return;
	if (!*eof && z->inpipe < z->cap) {
		ssize_t n = splice(z->from, NULL, z->pipe[1], NULL, z->cap - z->inpipe,
				   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n > 0) {
			if (charge(c, z->up, (size_t)n) < 0)
				return;
			z->inpipe += (size_t)n;
		} else if (n == 0) {
			*eof = 1;
		} else if (errno != EAGAIN) {
			c->info.error = errno;
			conn_end(c, z->up ? "client error" : "upstream error");
			return;
		}
	}
	if (z->inpipe) {
		ssize_t n = splice(z->pipe[0], NULL, z->to, NULL, z->inpipe,
				   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n > 0) {
			z->inpipe -= (size_t)n;
		} else if (n < 0 && errno != EAGAIN) {
			c->info.error = errno;
			conn_end(c, z->up ? "upstream error" : "client error");
			return;
		}
	}
	/* Read while the pipe has room; write while it holds something. */
	if (!*eof && z->inpipe < z->cap)
		event_add(z->rd, NULL);
	else
		event_del(z->rd);
	if (z->inpipe)
		event_add(z->wr, NULL);
	else
		event_del(z->wr);
	if (*eof && !z->inpipe && !*shut) {
		shutdown(z->to, SHUT_WR);
		*shut = 1;
	}
	if (c->shut_up && c->shut_cl)
		conn_end(c, NULL);
}

static void zdir_cb(evutil_socket_t fd, short what, void *arg)
{
	zdir_run(arg);
}

/* Splice direction @i (0: sandbox -> upstream) from now on: 0, or -1
 * when it cannot (no pipe: out of fds; it stays with the bufferevents). */
static int zdir_start(struct conn *c, int i)
{
	struct zdir *z = &c->z[i];
	struct bufferevent *from = i == 0 ? c->cl : c->up, *to = i == 0 ? c->up : c->cl;
	if (pipe2(z->pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	fcntl(z->pipe[1], F_SETPIPE_SZ, (int)ZC_PIPE); /* best effort */
	int cap = fcntl(z->pipe[1], F_GETPIPE_SZ);
	z->cap = cap > 0 ? (size_t)cap : 4096;
	z->c = c;
	z->up = i == 0;
	z->from = bufferevent_getfd(from);
	z->to = bufferevent_getfd(to);
	z->inpipe = 0;
	z->rd = event_new(c->s->px->base, z->from, EV_READ, zdir_cb, z);
	z->wr = event_new(c->s->px->base, z->to, EV_WRITE, zdir_cb, z);
	z->on = 1;
	if (!z->rd || !z->wr) {
		conn_end(c, "out of memory");
		return 0;
	}
	bufferevent_disable(from, EV_READ);
	bufferevent_disable(to, EV_WRITE);
	zdir_run(z);
	return 0;
}

/* Go over to splice(2) for what can be spliced of @c, once it has moved
 * ZC_MIN and nothing of that direction is buffered (else later, or never:
 * the bufferevents serve as before). */
static void zc_maybe(struct conn *c)
{
	if (c->zombie || c->v || !c->decided || !c->up_connected || c->state != S_SPLICE ||
	    c->info.bytes_up + c->info.bytes_down < ZC_MIN)
		return;
	/* Down: the upstream's bytes are never parsed (but for the status
	 * line of an upgrade's answer). */
	if (!c->z[1].on && !c->eof_up && !c->paused_up && !c->upg_wait &&
	    !evbuffer_get_length(bufferevent_get_input(c->up)) &&
	    !evbuffer_get_length(bufferevent_get_output(c->cl)) && zdir_start(c, 1) < 0)
		return;
	/* Up: only when no parser reads the client's bytes. */
	if (!c->zombie && !c->z[0].on && !c->hs && !c->eof_cl && !c->paused_cl &&
	    !evbuffer_get_length(bufferevent_get_input(c->cl)) &&
	    !evbuffer_get_length(bufferevent_get_output(c->up)) &&
	    (!c->pend || !evbuffer_get_length(c->pend)))
		zdir_start(c, 0);
}

static petri_http_head_fn head_fn(const struct conn *c);
static int to_upstream_cb(void *arg, const char *p, size_t n);

/*
 * The start of the answer to an upgrade head (c->upg_wait): "HTTP/1.x 101"
 * and the stream becomes a tunnel; anything else, and the client's held
 * bytes are read as requests again (each judged).  0: decided or still
 * waiting for the status line; -1: the connection is ending.
 */
static int upgrade_answer(struct conn *c)
{
	static const char want[] = "HTTP/1.x 101 ";
	const size_t need = sizeof(want) - 1;
	ev_ssize_t got =
		evbuffer_copyout(bufferevent_get_input(c->up), c->st + c->st_n, need - c->st_n);
	int match = 1, r;

	if (got > 0)
		c->st_n += (size_t)got;
	for (size_t i = 0; i < c->st_n && match; i++) {
		char ch = c->st[i];
		if (i == 7)
			match = ch == '0' || ch == '1';
		else if (i == need - 1)
			match = ch == ' ' || ch == '\r';
		else
			match = ch == want[i];
	}
	if (match && c->st_n < need)
		return 0;
	if (c->upg_wait == 2)
		match = 0; /* a 101 to an upgrade it was not asked for */
	c->upg_wait = 0;
	r = petri__http_stream_upgrade(c->hs, match, head_fn(c), to_upstream_cb, c);
	if (r < 0 && !c->zombie)
		conn_refuse(c, 0, r == -E2BIG ? "request head too large" : "malformed HTTP", 0);
	return c->zombie || c->state == S_CLOSING ? -1 : 0;
}

static void up_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	if (c->zombie || c->state == S_CLOSING)
		return;
	if (c->v) {
		v_up_read(c);
		return;
	}
	if (c->upg_wait && upgrade_answer(c) < 0)
		return;
	pump(c, 0);
}

static void up_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	if (c->zombie)
		return;
	if (c->paused_cl && c->state != S_CLOSING) {
		c->paused_cl = 0;
		if (!c->eof_cl)
			bufferevent_enable(c->cl, EV_READ);
	}
	if (c->v)
		return;
	if (c->eof_cl)
		half_close(c);
	else
		zc_maybe(c);
}

static void on_connected(struct conn *c)
{
	c->up_connected = 1;
	c->info.error = 0;
	int one = 1;
	setsockopt(bufferevent_getfd(c->up), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	bufferevent_enable(c->up, EV_READ | EV_WRITE);
	c->last_ms = mono_ms();
	if (c->v) {
		/* Intercepted (transparent path): TLS to the upstream now. */
		c->state = S_SPLICE;
		arm(c, NET_IDLE_TIMEOUT_MS);
		v_up_start(c);
		return;
	}
	if (c->tunnel) {
		/* The client's next bytes are its ClientHello, if TLS: held
		 * until its SNI is seen to name c->host. */
		evbuffer_add_printf(bufferevent_get_output(c->cl),
				    "HTTP/1.1 200 Connection established\r\n\r\n");
	}
	size_t n = evbuffer_get_length(c->pend);
	if (n) {
		if (charge(c, 1, n) < 0)
			return;
		bufferevent_write_buffer(c->up, c->pend);
	}
	/* A tunnel's first bytes, if the client did not wait for the 200. */
	if (c->sniff && !c->decided && evbuffer_get_length(c->sniff) && sniff_decide(c))
		return;
	if (c->decided) {
		c->state = S_SPLICE;
		arm(c, NET_IDLE_TIMEOUT_MS);
	} else {
		/* Still waiting for the client's first bytes (a tunnel, a
		 * server-first protocol): idle until they start, then
		 * c->head_deadline_ms. */
		c->state = S_HEAD;
		uint64_t now = mono_ms();
		arm(c, evbuffer_get_length(c->sniff) && c->head_deadline_ms > now ?
			       c->head_deadline_ms - now :
			       NET_IDLE_TIMEOUT_MS);
	}
	if (!c->eof_cl)
		bufferevent_enable(c->cl, EV_READ);
	/* What the client sent while we dialled. */
	if (evbuffer_get_length(bufferevent_get_input(c->cl)))
		client_read(c->cl, c);
	else if (c->eof_cl)
		half_close(c);
}

static void up_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	if (c->zombie)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		on_connected(c);
		return;
	}
	if (!c->up_connected) {
		/* This address failed: the next one. */
		c->info.error = EVUTIL_SOCKET_ERROR() ? EVUTIL_SOCKET_ERROR() : ECONNREFUSED;
		bufferevent_free(c->up);
		c->up = NULL;
		dial_next(c);
		return;
	}
	if ((what & BEV_EVENT_EOF) && c->v) {
		c->eof_up = 1;
		v_up_read(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		if (pump(c, 0) < 0)
			return;
		c->eof_up = 1;
		if (c->absolute) {
			/* Connection: close: the response is complete. */
			c->info.reason = "allowed";
			conn_close_after_flush(c);
			return;
		}
		half_close(c);
		return;
	}
	c->info.error = EVUTIL_SOCKET_ERROR();
	conn_end(c, "upstream error");
}

static void dial_next(struct conn *c)
{
	struct petri_proxy_sb *s = c->s;
	while (c->icand < c->ncand) {
		const struct petri_net_addr *a = &c->cand[c->icand++];
		const char *why = NULL;
		if (petri__net_dial_check(c->rule, a, s->own, s->n_own, &why) < 0) {
			c->deny_why = why ? why : "address not allowed";
			continue;
		}
		struct sockaddr_storage ss = {0};
		socklen_t len;
		if (a->family == AF_INET) {
			struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
			v4->sin_family = AF_INET;
			v4->sin_port = htons(c->port);
			memcpy(&v4->sin_addr, a->a, 4);
			len = sizeof(*v4);
		} else {
			struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
			v6->sin6_family = AF_INET6;
			v6->sin6_port = htons(c->port);
			memcpy(&v6->sin6_addr, a->a, 16);
			len = sizeof(*v6);
		}
		c->info.addr = *a;
		c->tried++;
		int fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			c->info.error = errno;
			continue;
		}
		c->up = bufferevent_socket_new(s->px->base, fd, BEV_OPT_CLOSE_ON_FREE);
		if (!c->up) {
			close(fd);
			c->info.error = ENOMEM;
			continue;
		}
		bufferevent_setcb(c->up, up_read, up_write, up_event, c);
		bufferevent_setwatermark(c->up, EV_WRITE, SPLICE_LOW, 0);
		bufferevent_set_max_single_read(c->up, SINGLE_IO);
		bufferevent_set_max_single_write(c->up, SINGLE_IO);
		if (bufferevent_socket_connect(c->up, (struct sockaddr *)&ss, (int)len) < 0) {
			c->info.error = errno ? errno : ECONNREFUSED;
			bufferevent_free(c->up);
			c->up = NULL;
			continue;
		}
		arm(c, NET_CONNECT_TIMEOUT_MS);
		return;
	}
	/* Nothing left to try. */
	if (!c->tried && c->deny_why) {
		conn_refuse(c, c->kind == K_PROXY ? 403 : 0, c->deny_why, 0);
		return;
	}
	c->info.allowed = 1;
	if (!c->info.error)
		c->info.error = EHOSTUNREACH;
	conn_refuse(c, c->kind == K_PROXY ? 502 : 0, "upstream connect failed", 1);
}

static void resolved(struct conn *c, int result, struct evutil_addrinfo *ai)
{
	if (result != 0) {
		c->info.allowed = 1;
		c->info.error = result == EVUTIL_EAI_NONAME ? ENOENT : EHOSTUNREACH;
		conn_refuse(c, c->kind == K_PROXY ? 502 : 0, "name resolution failed", 1);
		return;
	}
	for (struct evutil_addrinfo *i = ai; i && c->ncand < MAX_CANDIDATES; i = i->ai_next) {
		struct petri_net_addr *a = &c->cand[c->ncand];
		memset(a, 0, sizeof(*a));
		if (i->ai_family == AF_INET) {
			a->family = AF_INET;
			memcpy(a->a, &((struct sockaddr_in *)i->ai_addr)->sin_addr, 4);
		} else if (i->ai_family == AF_INET6) {
			a->family = AF_INET6;
			memcpy(a->a, &((struct sockaddr_in6 *)i->ai_addr)->sin6_addr, 16);
		} else {
			continue;
		}
		int dup = 0;
		for (size_t k = 0; k < c->ncand; k++)
			dup |= memcmp(&c->cand[k], a, sizeof(*a)) == 0;
		if (!dup)
			c->ncand++;
	}
	dial_next(c);
}

static void resolve_cb(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct resolve *r = arg;
	r->done = 1;
	if (r->starting) { /* answered before evdns_getaddrinfo returned */
		r->result = result;
		r->ai = ai;
		return;
	}
	struct conn *c = r->c;
	if (c) {
		c->res = NULL;
		resolved(c, result, ai);
	}
	if (ai)
		evutil_freeaddrinfo(ai);
	free(r);
}

/* Is the host's resolver to be asked for @host, which @rule allows?  NULL,
 * or why not: for an unpinned wildcard, the bounds above. */
static const char *wildcard_check(struct petri_proxy_sb *s, const struct petri_net_rule *rule,
				  const char *host)
{
	size_t n = strlen(host), base = strlen(rule->host);
	if (!rule->wildcard || rule->pinned || rule->literal)
		return NULL;
	if (n <= base + 1 || n - base - 1 > WILDCARD_LABELS_MAX)
		return "wildcard name too long";
	for (size_t i = 0; i < s->n_wc; i++)
		if (strcmp(s->wc_names[i], host) == 0)
			return NULL;
	if (s->n_wc == WILDCARD_NAMES_MAX)
		return "wildcard name limit";
	if (!s->wc_names && !(s->wc_names = calloc(WILDCARD_NAMES_MAX, sizeof(*s->wc_names))))
		return "out of memory";
	snprintf(s->wc_names[s->n_wc++], PETRI_NET_HOST_MAX, "%s", host);
	return NULL;
}

/* Find the addresses of c->host and connect to the first one that passes
 * the dial check and answers.  c->rule allows the connection. */
static void dial(struct conn *c)
{
	const struct petri_net_rule *rule = c->rule;
	c->state = S_DIAL;
	c->dialed = 1;
	c->info.allowed = 1;
	if (rule->pinned || rule->literal) {
		c->cand[0] = rule->pinned ? rule->pin : rule->literal_addr;
		c->ncand = 1;
		dial_next(c);
		return;
	}
	const char *why = wildcard_check(c->s, rule, c->host);
	if (why) {
		conn_refuse(c, c->kind == K_PROXY ? 403 : 0, why, 0);
		return;
	}
	if (!c->s->px->dns) {
		c->info.error = ENOSYS;
		conn_refuse(c, c->kind == K_PROXY ? 502 : 0, "no resolver", 1);
		return;
	}
	struct resolve *r = calloc(1, sizeof(*r));
	if (!r) {
		c->info.error = ENOMEM;
		conn_refuse(c, c->kind == K_PROXY ? 502 : 0, "out of memory", 1);
		return;
	}
	struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	r->c = c;
	r->starting = 1;
	c->res = r;
	arm(c, NET_CONNECT_TIMEOUT_MS);
	r->req = evdns_getaddrinfo(c->s->px->dns, c->host, NULL, &hints, resolve_cb, r);
	r->starting = 0;
	if (!r->req && !r->done) { /* not started, and not said why */
		r->done = 1;
		r->result = EVUTIL_EAI_FAIL;
	}
	if (r->done) { /* synchronous: /etc/hosts, or an error */
		c->res = NULL;
		struct evutil_addrinfo *ai = r->ai;
		int result = r->result;
		free(r);
		resolved(c, result, ai);
		if (ai)
			evutil_freeaddrinfo(ai);
	}
}

/* ---- the decisions ---- */

/* Is @host (normalised) allowed on @port?  The rule, or NULL with
 * c->info.reason saying why not. */
static const struct petri_net_rule *policy_check(struct conn *c, const char *host, uint16_t port)
{
	const struct petri_net_rule *r = petri__net_policy_match(&c->s->policy, host, port);
	if (!r)
		c->info.reason = petri__net_policy_match(&c->s->policy, host, 0) ?
					 "port not allowed" :
					 "name not allowed";
	return r;
}

/* The explicit proxy's first head. */
static int proxy_head(struct conn *c, const struct petri_http_head *h, const char *raw, size_t len)
{
	struct petri_net_addr lit;
	snprintf(c->info.method, sizeof(c->info.method), "%s", h->method);
	/* (A CONNECT's Host header is the client's say only: the field waits
	 * for what the tunnel carries, an SNI or a checked Host.) */
	if (!h->connect)
		snprintf(c->info.sni_host, sizeof(c->info.sni_host), "%s", h->host_header);
	if (!h->connect && !h->absolute) {
		c->info.protocol = PETRI_NET_PROTO_HTTP;
		snprintf(c->info.path, sizeof(c->info.path), "%s", h->path);
		conn_refuse(c, 400, "not a proxy request (no absolute URI)", 0);
		return 1;
	}
	c->tunnel = h->connect;
	c->absolute = h->absolute;
	c->info.protocol = h->connect ? PETRI_NET_PROTO_OPAQUE : PETRI_NET_PROTO_HTTP;
	if (h->absolute)
		snprintf(c->info.path, sizeof(c->info.path), "%s", h->path);
	c->port = h->port ? h->port : (h->connect ? 0 : 80);
	c->info.port = c->port;
	if (petri__net_host_norm(h->host, strlen(h->host), c->host, &lit) < 0 || !c->port) {
		snprintf(c->info.name, sizeof(c->info.name), "%s", h->host);
		c->host[0] = '\0';
		conn_refuse(c, 400, "malformed target", 0);
		return 1;
	}
	snprintf(c->info.name, sizeof(c->info.name), "%s", c->host);
	/* A placeholder in a CONNECT target, or in a plain-HTTP request to a
	 * host its secret may not go to in the clear: the request never
	 * leaves (the target is scanned as the client wrote it). */
	if (c->s->vault &&
	    (h->connect ? v_scan(c, 0, h->host, strlen(h->host), "connect") :
			  v_scan(c, petri__vault_scope(c->s->vault, c->host, c->port, 0), raw, len,
				 "plain http")) < 0) {
		conn_refuse(c, 403, "secret misuse", 0);
		return 1;
	}
	if (!(c->rule = policy_check(c, c->host, c->port))) {
		conn_refuse(c, 403, c->info.reason, 0);
		return 1;
	}
	char hh[PETRI_NET_HOST_MAX];
	if (h->absolute && h->has_host_header &&
	    (petri__net_host_norm(h->host_header, strlen(h->host_header), hh, NULL) < 0 ||
	     strcmp(hh, c->host) != 0)) {
		/* The origin would read the Host header: it must be the name
		 * the policy allowed (no fronting behind an allowed URI). */
		conn_refuse(c, 421, "host mismatch", 0);
		return 1;
	}
	uint64_t plain = h->absolute && c->s->vault ?
				 petri__vault_scope(c->s->vault, c->host, c->port, 0) :
				 0;
	if (plain) {
		/* A host a secret may go to in the clear: relayed (rewritten,
		 * scrubbed) as intercepted TLS is, this request first (its
		 * target stays absolute, which origin servers accept). */
		if (v_plain_start(c, plain))
			return 1;
		c->decided = 1;
		c->heads = 0;
		evtimer_del(c->timer);
		return v_on_head(c, h, raw, len);
	}
	if (h->absolute) {
		/* The request as the origin expects it. */
		char out[8192];
		struct petri_http_head o = *h;
		o.upgrade = h->upgrade && !h->upgrade_h2; /* (h2c: as transparent_on_head) */
		ssize_t n = petri__http_head_to_origin(&o, raw, len, out, sizeof(out));
		if (n < 0) {
			conn_refuse(c, 400, "request head too large", 0);
			return 1;
		}
		c->decided = 1;
		if (v_hold_start(c, raw, len) < 0)
			return 1;
		evbuffer_add(c->vheld ? c->vheld : c->pend, out, (size_t)n);
		if (h->upgrade) {
			c->upg_wait = h->upgrade_h2 ? 2 : 1;
			c->st_n = 0;
		}
	} else {
		c->sniff = evbuffer_new();
		if (!c->sniff) {
			conn_refuse(c, 502, "out of memory", 1);
			return 1;
		}
	}
	evtimer_del(c->timer);
	dial(c);
	return 0;
}

/* The client's first bytes begin: they must be complete within
 * NET_HEAD_TIMEOUT_MS (slowloris). */
static void start_head_deadline(struct conn *c)
{
	if (evbuffer_get_length(c->sniff) || c->decided)
		return;
	c->head_deadline_ms = mono_ms() + NET_HEAD_TIMEOUT_MS;
	if (c->state == S_HEAD)
		arm(c, NET_HEAD_TIMEOUT_MS);
}

static int proxy_on_head(void *arg, const struct petri_http_head *h, const char *raw, size_t len)
{
	struct conn *c = arg;
	if (c->zombie || c->state == S_CLOSING)
		return 1;
	if (c->v)
		return v_on_head(arg, h, raw, len);
	if (c->heads++ == 0)
		return proxy_head(c, h, raw, len) || c->zombie || c->state == S_CLOSING ? 1 : 0;
	/* A second request on an absolute-URI connection: it is closed
	 * after the first response; the client retries elsewhere. */
	bufferevent_disable(c->cl, EV_READ);
	return 1;
}

static int to_upstream_cb(void *arg, const char *p, size_t n)
{
	struct conn *c = arg;
	if (c->zombie || c->state == S_CLOSING)
		return 1;
	if (c->v)
		return v_on_data(arg, p, n);
	if (c->sniff && !c->decided) {
		if (evbuffer_get_length(c->sniff) + n > SNIFF_MAX) {
			conn_refuse(c, 0, "first bytes undecidable", 0);
			return 1;
		}
		start_head_deadline(c);
		evbuffer_add(c->sniff, p, n);
		return 0;
	}
	/* (Request bodies of plain HTTP.) */
	if (c->s->vault && v_plain_body(c, p, n) < 0)
		return 1;
	if (to_upstream(c, p, n) < 0 || v_hold_body(c, n) < 0)
		return 1;
	return 0;
}

/*
 * Does the request @h name c->host on c->port, the connection's name?
 * NULL if so, else why not.  Both the target (absolute form; its port
 * defaults to 80) and the Host header (its port, when given) must, since
 * the origin believes one or the other (RFC 9112 3.2.2); one of them must
 * be there.  A CONNECT is never one.
 */
static const char *request_mismatch(const struct conn *c, const struct petri_http_head *h)
{
	char host[PETRI_NET_HOST_MAX];

	if (h->connect)
		return "CONNECT in a connection to a name";
	if (h->absolute && (petri__net_host_norm(h->host, strlen(h->host), host, NULL) < 0 ||
			    strcmp(host, c->host) != 0 || (h->port ? h->port : 80) != c->port))
		return "host mismatch";
	if (h->has_host_header &&
	    (petri__net_host_norm(h->host_header, strlen(h->host_header), host, NULL) < 0 ||
	     strcmp(host, c->host) != 0 || (h->host_header_port && h->host_header_port != c->port)))
		return "host mismatch";
	if (!h->has_host_header && !h->absolute)
		return "no host header";
	return NULL;
}

/* A request on a connection to a name (transparent, or plain HTTP in a
 * CONNECT tunnel): what it names must be the connection's name. */
static int transparent_on_head(void *arg, const struct petri_http_head *h, const char *raw,
			       size_t len)
{
	struct conn *c = arg;
	if (c->zombie || c->state == S_CLOSING)
		return 1;
	if (c->v)
		return v_on_head(arg, h, raw, len);
	/* A new head: the body before it is whole. */
	if (v_hold_release(c) < 0)
		return 1;
	int first = c->heads++ == 0;
	const char *why = request_mismatch(c, h);
	/* Plain HTTP (this path never sees inside TLS): a placeholder may
	 * only go to a host its secret allows in the clear ("http://"). */
	if (!why && c->s->vault &&
	    v_scan(c, petri__vault_scope(c->s->vault, c->host, c->port, 0), raw, len,
		   "plain http") < 0) {
		snprintf(c->info.method, sizeof(c->info.method), "%s", h->method);
		snprintf(c->info.path, sizeof(c->info.path), "%s", h->path);
		conn_refuse(c, 403, "secret misuse", 0);
		return 1;
	}
	/* Another protocol is only followed when it is the answer to the
	 * connection's first request (so the upstream's first status line
	 * is that answer's): an upgrade behind other requests is refused. */
	if (!why && h->upgrade && (!first || c->info.bytes_down))
		why = "upgrade after other requests";
	struct petri_net_conn_info req = c->info;
	req.protocol = PETRI_NET_PROTO_HTTP;
	snprintf(req.method, sizeof(req.method), "%s", h->method);
	snprintf(req.path, sizeof(req.path), "%s", h->path);
	snprintf(req.sni_host, sizeof(req.sni_host), "%s",
		 h->absolute || !h->has_host_header ? h->host : h->host_header);
	req.bytes_up = req.bytes_down = 0;
	req.duration_ns = 0;
	req.allowed = !why;
	req.reason = why ? why : "allowed";
	req.status = !why || !first ? 0 : h->connect ? 400 : 421;
	if (why && first) {
		/* Refused before anything went upstream: the connection's own
		 * event is the request's (one event, not two). */
		memcpy(c->info.method, req.method, sizeof(req.method));
		memcpy(c->info.path, req.path, sizeof(req.path));
	} else {
		audit_emit_conn(c->s, &req);
	}
	if (first)
		memcpy(c->info.sni_host, req.sni_host, sizeof(req.sni_host));
	if (why) {
		/* Nothing of this connection's reached the upstream yet if it
		 * is the first: say so; later, just close. */
		if (first) {
			conn_refuse(c, req.status, why, 0);
		} else {
			/* The requests before it get their answers; then the
			 * connection ends as if the client had closed it. */
			c->info.reason = why;
			c->eof_cl = 1;
			bufferevent_disable(c->cl, EV_READ);
			half_close(c);
		}
		return 1;
	}
	/* HTTP/2 inside (h2c) would carry requests of its own, for any
	 * authority: the upgrade is taken out of the head (the origin answers
	 * in HTTP/1.1, as it may) and never tunnelled. */
	int h2 = h->upgrade && h->upgrade_h2;
	if (v_hold_start(c, raw, len) < 0)
		return 1;
	if (h->absolute || h2) {
		/* The origin gets the origin form (with the Host the target
		 * names, which is the connection's). */
		struct petri_http_head o = *h;
		o.upgrade = h->upgrade && !h2;
		char *out = malloc(len + PETRI_NET_HOST_MAX + 64);
		ssize_t n = out ? petri__http_head_to_origin(&o, raw, len, out,
							     len + PETRI_NET_HOST_MAX + 64) :
				  -ENOMEM;
		int r = n < 0 ? -1 : to_upstream(c, out, (size_t)n);
		free(out);
		if (n < 0) {
			c->info.reason = "request head too large";
			conn_end(c, NULL);
		}
		if (r < 0)
			return 1;
	} else if (to_upstream(c, raw, len) < 0) {
		return 1;
	}
	if (h->upgrade) {
		c->upg_wait = h2 ? 2 : 1;
		c->st_n = 0;
	}
	if (!c->dialed)
		dial(c); /* the first request is judged: now the upstream */
	return c->zombie || c->state == S_CLOSING;
}

/* ---- TenantVault: intercepted connections (vault.h) ---- */

/*
 * A connection to a host a secret is bound to (petri__vault_scope with
 * tls 1) is not tunnelled: the proxy is the TLS server the client talks
 * to (a leaf for the name, signed by the sandbox's CA) and the TLS client
 * of the upstream (verified against the host's trust store and
 * upstream_ca, SNI and the checked name both the connection's name), and
 * relays HTTP/1.1 between them (ALPN offers nothing else), each request
 * rewritten by the vault and each response scrubbed.
 *
 * Both TLS ends are OpenSSL objects over memory BIOs fed from and to the
 * plain bufferevents the connection already has: the ClientHello the
 * proxy read to judge the SNI is simply written into the server side's
 * input BIO first, no byte is read twice, and everything that ends a
 * connection (flush, linger, limits, timeouts, byte budget) works on the
 * raw sockets as for every other connection.  (libevent's openssl filter
 * would need the hello pushed back under it and its own close path.)
 */

enum {
	VB_NONE,
	VB_BUFFER,
	VB_STREAM
};
enum {
	DC_SIZE,
	DC_DATA,
	DC_DATA_END,
	DC_TRAILER_START,
	DC_TRAILER,
	DC_DONE
};

struct vtls {
	SSL *ssl;
	BIO *rb, *wb; /* the ciphertext in and out; owned by ssl */
	int ready;    /* handshake done */
};

struct vconn {
	uint64_t scope;
	int plain; /* plain HTTP to a host a secret allows in the clear: no TLS */
	struct vtls cl, up;
	struct evbuffer *up_pend; /* plaintext for the upstream before its handshake */
	struct petri_http_resp *resp;
	struct petri_vault_scrub *scrub; /* of the response body under way */
	int resp_chunked;                /* its payload is framed again here */
	int resp_open;                   /* its head went to the client, not its end */
	uint8_t fifo[V_PIPELINE];        /* requests sent: 1 for a HEAD */
	unsigned fifo_r, fifo_n;
	/* The request body being read. */
	int body;      /* VB_* */
	int chunked;   /* it came chunked: de-chunked here (dc_*) */
	int form;      /* application/x-www-form-urlencoded */
	uint64_t left; /* Content-Length bytes still to come */
	int dc, dc_ext;
	uint64_t dc_left;
	struct petri_vault_buf head; /* the rewritten head, waiting for its body */
	struct evbuffer *buf;        /* the body so far (VB_BUFFER) */
	char tail[V_TAIL];           /* VB_STREAM: the last bytes, scanned again */
	size_t tail_n;
	int fail_status; /* an answer waiting for the client's handshake */
	const char *fail_reason;
	int fail_allowed;
};

static void vtls_free(struct vtls *t)
{
	if (t->ssl)
		SSL_free(t->ssl);
	memset(t, 0, sizeof(*t));
}

static void vconn_free(struct vconn *v)
{
	if (!v)
		return;
	vtls_free(&v->cl);
	vtls_free(&v->up);
	if (v->up_pend)
		evbuffer_free(v->up_pend);
	if (v->buf)
		evbuffer_free(v->buf);
	petri__http_resp_free(v->resp);
	petri__vault_scrub_free(v->scrub);
	free(v->head.p);
	free(v);
}

static int vtls_init(struct vtls *t, SSL_CTX *ctx)
{
	if (!ctx || !(t->ssl = SSL_new(ctx)))
		return -1;
	t->rb = BIO_new(BIO_s_mem());
	t->wb = BIO_new(BIO_s_mem());
	if (!t->rb || !t->wb) {
		BIO_free(t->rb);
		BIO_free(t->wb);
		t->rb = t->wb = NULL;
		return -1;
	}
	BIO_set_mem_eof_return(t->rb, -1); /* empty: "retry", not EOF */
	BIO_set_mem_eof_return(t->wb, -1);
	SSL_set_bio(t->ssl, t->rb, t->wb);
	return 0;
}

/* What OpenSSL wrote, to @to's socket. */
static void vtls_flush(struct vtls *t, struct bufferevent *to)
{
	char *p;
	if (!t->ssl)
		return; /* plain */
	long n = BIO_get_mem_data(t->wb, &p);
	if (n > 0 && to) {
		bufferevent_write(to, p, (size_t)n);
	}
	(void)BIO_reset(t->wb);
}

static void v_refuse(struct conn *c, int status, const char *reason, int allowed);

/* Plaintext to the client (its handshake is done). */
static int v_cl_send(struct conn *c, const char *p, size_t n)
{
	if (c->zombie || c->state == S_CLOSING)
		return -1;
	if (!n)
		return 0;
	if (charge(c, 0, n) < 0)
		return -1;
	if (!c->v->cl.ssl) {
		bufferevent_write(c->cl, p, n);
	} else if (SSL_write(c->v->cl.ssl, p, (int)n) <= 0) {
		conn_end(c, "client TLS error");
		return -1;
	} else {
		vtls_flush(&c->v->cl, c->cl);
	}
	if (c->up)
		flow_pause(c->up, c->cl, &c->paused_up);
	return 0;
}

/* Plaintext to the upstream, or held until its handshake is done. */
static int v_up_send(struct conn *c, const char *p, size_t n)
{
	struct vconn *v = c->v;
	if (c->zombie || c->state == S_CLOSING)
		return -1;
	if (!n)
		return 0;
	if (!v->up.ready) {
		if (evbuffer_add(v->up_pend, p, n) < 0) {
			conn_end(c, "out of memory");
			return -1;
		}
		if (evbuffer_get_length(v->up_pend) > SPLICE_HIGH)
			bufferevent_disable(c->cl, EV_READ); /* resumed by the handshake */
		return 0;
	}
	if (charge(c, 1, n) < 0)
		return -1;
	if (!v->up.ssl) {
		bufferevent_write(c->up, p, n);
	} else if (SSL_write(v->up.ssl, p, (int)n) <= 0) {
		conn_end(c, "upstream TLS error");
		return -1;
	} else {
		vtls_flush(&v->up, c->up);
	}
	flow_pause(c->cl, c->up, &c->paused_cl);
	return 0;
}

static void v_misuse(struct conn *c, const struct petri_vault_finding *f)
{
	petri__audit_vault_misuse(c->s->sb, f, c->host, c->port);
}

/* The value of header @name in @raw (@len bytes, CRLF lines), or NULL. */
static const char *head_value(const char *raw, size_t len, const char *name, size_t *vn)
{
	size_t nl = strlen(name);
	const char *p = memchr(raw, '\n', len), *end = raw + len;
	while (p && ++p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((lf ? lf : end) - p);
		if (n > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
			const char *v = p + nl + 1, *ve = p + n;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			*vn = (size_t)(ve - v);
			return v;
		}
		p = lf;
	}
	return NULL;
}

/* @head (a rewritten request head) without Content-Length and
 * Transfer-Encoding, and with "Content-Length: @n", to the upstream. */
static int v_send_head_length(struct conn *c, const char *head, size_t len, size_t n)
{
	struct evbuffer *b = evbuffer_new();
	const char *p = head, *end = head + len;
	int r = -1;
	if (!b) {
		conn_end(c, "out of memory");
		return -1;
	}
	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t ln = (size_t)((lf ? lf + 1 : end) - p);
		if (ln <= 2 && p[0] == '\r') { /* the empty line */
			evbuffer_add_printf(b, "Content-Length: %zu\r\n", n);
			evbuffer_add(b, p, ln);
			break;
		}
		if (!(ln > 15 && strncasecmp(p, "content-length:", 15) == 0) &&
		    !(ln > 18 && strncasecmp(p, "transfer-encoding:", 18) == 0))
			evbuffer_add(b, p, ln);
		p += ln;
	}
	size_t bn = evbuffer_get_length(b);
	r = v_up_send(c, (const char *)evbuffer_pullup(b, -1), bn);
	evbuffer_free(b);
	return r;
}

/* A piece of a body too big to rewrite: scanned (with the end of the one
 * before) and sent as it is, framed again if it came chunked.  A
 * placeholder in it: the connection is cut, the misuse audited. */
static int v_stream_piece(struct conn *c, const char *p, size_t n)
{
	struct vconn *v = c->v;
	struct petri_vault_finding f = {0};
	char *scan = malloc(v->tail_n + n);
	if (!scan) {
		conn_end(c, "out of memory");
		return -1;
	}
	memcpy(scan, v->tail, v->tail_n);
	memcpy(scan + v->tail_n, p, n);
	size_t all = v->tail_n + n;
	petri__vault_scan(c->s->vault, 0, scan, all, &f);
	v->tail_n = all < V_TAIL ? all : V_TAIL;
	memcpy(v->tail, scan + all - v->tail_n, v->tail_n);
	free(scan);
	if (f.misuse != PETRI_VAULT_OK) {
		if (f.misuse != PETRI_VAULT_MISUSE_FOREIGN)
			f.misuse = PETRI_VAULT_MISUSE_TOO_LARGE;
		f.where = "body";
		v_misuse(c, &f);
		c->info.reason = "secret misuse";
		conn_end(c, NULL);
		return -1;
	}
	if (v->chunked) {
		char sz[24];
		int k = snprintf(sz, sizeof(sz), "%zx\r\n", n);
		if (v_up_send(c, sz, (size_t)k) < 0 || v_up_send(c, p, n) < 0 ||
		    v_up_send(c, "\r\n", 2) < 0)
			return -1;
		return 0;
	}
	return v_up_send(c, p, n);
}

/* From buffering to streaming: the head as rewritten, then what was held. */
static int v_go_stream(struct conn *c)
{
	struct vconn *v = c->v;
	v->body = VB_STREAM;
	v->tail_n = 0;
	if (v_up_send(c, v->head.p, v->head.len) < 0)
		return -1;
	v->head.len = 0;
	size_t n = v->buf ? evbuffer_get_length(v->buf) : 0;
	if (n) {
		int r = v_stream_piece(c, (const char *)evbuffer_pullup(v->buf, -1), n);
		evbuffer_drain(v->buf, n);
		return r;
	}
	return 0;
}

static int v_body_piece(struct conn *c, const char *p, size_t n)
{
	struct vconn *v = c->v;
	if (!n)
		return 0;
	if (v->body == VB_STREAM)
		return v_stream_piece(c, p, n);
	if (evbuffer_get_length(v->buf) + n > PETRI_VAULT_BODY_MAX) {
		if (v_go_stream(c) < 0)
			return -1;
		return v_stream_piece(c, p, n);
	}
	if (evbuffer_add(v->buf, p, n) < 0) {
		conn_end(c, "out of memory");
		return -1;
	}
	return 0;
}

/* The request's body is complete. */
static int v_body_end(struct conn *c)
{
	struct vconn *v = c->v;
	int r = 0;
	if (v->body == VB_STREAM) {
		if (v->chunked)
			r = v_up_send(c, "0\r\n\r\n", 5);
	} else if (v->body == VB_BUFFER) {
		struct petri_vault_buf out = {0};
		struct petri_vault_finding f = {0};
		size_t n = evbuffer_get_length(v->buf);
		int e = petri__vault_rewrite_body(c->s->vault, v->scope,
						  n ? (const void *)evbuffer_pullup(v->buf, -1) :
						      (const void *)"",
						  n, v->form, &out, &f);
		evbuffer_drain(v->buf, n);
		if (e < 0) {
			free(out.p);
			conn_end(c, "out of memory");
			return -1;
		}
		if (e != PETRI_VAULT_OK) {
			free(out.p);
			v_misuse(c, &f);
			v_refuse(c, 403, "secret misuse", 0);
			return -1;
		}
		for (int i = 0; i < 64; i++)
			if (f.used >> i & 1)
				petri__audit_vault_use(c->s->sb, i, c->host, c->port,
						       c->info.method, c->info.path);
		r = v_send_head_length(c, v->head.p, v->head.len, out.len);
		if (r == 0)
			r = v_up_send(c, out.p ? out.p : "", out.len);
		free(out.p);
	}
	v->head.len = 0;
	v->body = VB_NONE;
	return r;
}

/* Body bytes as the request stream gives them (chunk framing and all). */
static int v_on_data(void *arg, const char *p, size_t n)
{
	struct conn *c = arg;
	struct vconn *v = c->v;
	if (c->zombie || c->state == S_CLOSING)
		return 1;
	if (v->body == VB_NONE)
		return 1; /* (no body expected: the stream says otherwise) */
	if (!v->chunked) {
		size_t k = n < v->left ? n : (size_t)v->left;
		v->left -= k;
		if (v_body_piece(c, p, k) < 0)
			return 1;
		if (!v->left && v_body_end(c) < 0)
			return 1;
		return 0;
	}
	/* De-chunked here: the stream checked the framing is RFC 9112's. */
	for (size_t i = 0; i < n;) {
		char ch = p[i];
		switch (v->dc) {
		case DC_SIZE:
			if (ch == '\n') {
				v->dc = v->dc_left ? DC_DATA : DC_TRAILER_START;
				v->dc_ext = 0;
			} else if (ch == ';') {
				v->dc_ext = 1;
			} else if (!v->dc_ext && isxdigit((unsigned char)ch)) {
				v->dc_left =
					v->dc_left * 16 +
					(uint64_t)(isdigit((unsigned char)ch) ?
							   ch - '0' :
							   (tolower((unsigned char)ch) - 'a' + 10));
			}
			i++;
			break;
		case DC_DATA: {
			size_t k = n - i < v->dc_left ? n - i : (size_t)v->dc_left;
			if (v_body_piece(c, p + i, k) < 0)
				return 1;
			v->dc_left -= k;
			i += k;
			if (!v->dc_left)
				v->dc = DC_DATA_END;
			break;
		}
		case DC_DATA_END:
			if (ch == '\n')
				v->dc = DC_SIZE;
			i++;
			break;
		case DC_TRAILER_START: /* trailers are dropped (never sent) */
			v->dc = ch == '\n' ? DC_DONE : ch == '\r' ? DC_TRAILER_START : DC_TRAILER;
			i++;
			if (v->dc == DC_DONE) {
				if (v_body_end(c) < 0)
					return 1;
				v->dc = DC_SIZE;
				if (i < n)
					return 1; /* (the stream ends a message here) */
			}
			break;
		case DC_TRAILER:
			if (ch == '\n')
				v->dc = DC_TRAILER_START;
			i++;
			break;
		}
	}
	return 0;
}

/* One request head on an intercepted connection (origin form). */
static int v_head(void *arg, const struct petri_http_head *h, const char *raw, size_t len)
{
	struct conn *c = arg;
	struct vconn *v = c->v;
	if (c->zombie || c->state == S_CLOSING)
		return 1;
	const char *why = request_mismatch(c, h);
	int status = h->connect ? 400 : why ? 421 : 0;
	if (!why && strcmp(h->method, "TRACE") == 0) {
		why = "TRACE refused";
		status = 405;
	} else if (!why && h->upgrade) {
		/* The vault cannot see inside another protocol. */
		why = "upgrade refused on an intercepted connection";
		status = 501;
	} else if (!why && v->fifo_n == V_PIPELINE) {
		why = "too many pipelined requests";
		status = 429;
	}
	snprintf(c->info.method, sizeof(c->info.method), "%s", h->method);
	snprintf(c->info.path, sizeof(c->info.path), "%s", h->path);
	c->info.protocol = PETRI_NET_PROTO_HTTP;
	if (c->heads++ == 0)
		snprintf(c->info.sni_host, sizeof(c->info.sni_host), "%s", h->host_header);
	if (why) {
		v_refuse(c, status, why, 0);
		return 1;
	}
	struct petri_vault_finding f = {0};
	v->head.len = 0;
	int e = petri__vault_rewrite_head(c->s->vault, v->scope, h, raw, len, &v->head, &f);
	if (e < 0) {
		conn_end(c, "out of memory");
		return 1;
	}
	if (e != PETRI_VAULT_OK) {
		v_misuse(c, &f);
		v_refuse(c, 403, "secret misuse", 0);
		return 1;
	}
	/* Each request is an event of its own (as on transparent
	 * connections); the uses of secrets too, never their values. */
	struct petri_net_conn_info req = c->info;
	req.bytes_up = req.bytes_down = 0;
	req.duration_ns = 0;
	req.allowed = 1;
	req.reason = "allowed";
	audit_emit_conn(c->s, &req);
	for (int i = 0; i < 64; i++)
		if (f.used >> i & 1)
			petri__audit_vault_use(c->s->sb, i, c->host, c->port, h->method, h->path);
	v->fifo[(v->fifo_r + v->fifo_n++) % V_PIPELINE] = strcmp(h->method, "HEAD") == 0;
	/* The body: as the head says (the stream refused both framings). */
	size_t vn;
	const char *te = head_value(raw, len, "transfer-encoding", &vn);
	const char *cl = te ? NULL : head_value(raw, len, "content-length", &vn);
	const char *ct;
	size_t ctn;
	v->chunked = te != NULL;
	v->left = 0;
	if (cl) {
		for (size_t i = 0; i < vn && v->left < (1ull << 60); i++)
			v->left = v->left * 10 + (uint64_t)(cl[i] - '0');
	}
	ct = head_value(raw, len, "content-type", &ctn);
	v->form = ct && ctn >= 33 && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
	v->dc = DC_SIZE;
	v->dc_left = 0;
	v->dc_ext = 0;
	v->tail_n = 0;
	if (!v->chunked && !v->left) {
		v->body = VB_NONE;
		if (v_up_send(c, v->head.p, v->head.len) < 0)
			return 1;
		v->head.len = 0;
	} else if (!v->chunked && v->left > PETRI_VAULT_BODY_MAX) {
		if (v_go_stream(c) < 0)
			return 1;
	} else {
		v->body = VB_BUFFER;
		/* The head waits for its body here: a client waiting for
		 * "100 Continue" first gets it from us (when nothing else is
		 * owed to it before; a second one from the upstream is one
		 * more 1xx, which clients take). */
		const char *ex = head_value(raw, len, "expect", &vn);
		if (ex && vn == 12 && strncasecmp(ex, "100-continue", 12) == 0 && v->fifo_n == 1 &&
		    !v->resp_open && v_cl_send(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0)
			return 1;
	}
	if (!c->dialed && !c->zombie && c->state != S_CLOSING)
		dial(c); /* (plain HTTP: the first request is judged) */
	return c->zombie || c->state == S_CLOSING;
}

static int v_copy_head(void *arg, const struct petri_http_head *h, const char *raw, size_t len)
{
	*(struct petri_http_head *)arg = *h;
	return 1;
}

static int v_no_data(void *arg, const char *p, size_t n)
{
	return 1;
}

/* One request head: an absolute-form target (explicit proxy) goes to the
 * origin in origin form, as elsewhere, and is read again as such. */
static int v_on_head(void *arg, const struct petri_http_head *h, const char *raw, size_t len)
{
	struct conn *c = arg;
	if (!h->absolute || h->connect || request_mismatch(c, h))
		return v_head(arg, h, raw, len);
	size_t cap = len + PETRI_NET_HOST_MAX + 64;
	char *o = malloc(cap);
	struct petri_http_stream *st = petri__http_stream_new();
	struct petri_http_head oh;
	ssize_t on = o && st ? petri__http_head_to_origin(h, raw, len, o, cap) : -ENOMEM;
	int r = on > 0 ? petri__http_stream_feed(st, o, (size_t)on, v_copy_head, v_no_data, &oh) :
			 -EINVAL;
	petri__http_stream_free(st);
	if (r == 1)
		r = v_head(arg, &oh, o, (size_t)on);
	else if (!c->zombie && c->state != S_CLOSING)
		v_refuse(c, 400, "request head too large", 0);
	free(o);
	return r == 1 || r == 0 ? r : 1;
}

/* ---- responses ---- */

static int v_emit(void *arg, const char *p, size_t n)
{
	struct conn *c = arg;
	if (!n)
		return 0;
	if (c->v->resp_chunked) {
		char sz[24];
		int k = snprintf(sz, sizeof(sz), "%zx\r\n", n);
		if (v_cl_send(c, sz, (size_t)k) < 0 || v_cl_send(c, p, n) < 0 ||
		    v_cl_send(c, "\r\n", 2) < 0)
			return -1;
		return 0;
	}
	return v_cl_send(c, p, n) < 0 ? -1 : 0;
}

static int v_resp_head(void *arg, const struct petri_http_resp_head *h, char *raw, size_t len)
{
	struct conn *c = arg;
	struct vconn *v = c->v;
	if (c->zombie || c->state == S_CLOSING)
		return -1;
	if (!v->fifo_n) {
		c->info.reason = "response without a request";
		conn_end(c, NULL);
		return -1;
	}
	if (h->encoded) {
		/* Compressed bytes cannot be scrubbed (identity was asked for,
		 * and no transfer-coding), nor can a head whose folded lines
		 * a client may read otherwise. */
		c->info.error = EPROTO;
		v_refuse(c, 502, "response encoding refused", 1);
		return -1;
	}
	int head_req = v->fifo[v->fifo_r];
	if (h->status >= 200) {
		v->fifo_r = (v->fifo_r + 1) % V_PIPELINE;
		v->fifo_n--;
	}
	petri__vault_scrub_buf(c->s->vault, raw, len);
	petri__vault_scrub_free(v->scrub);
	v->scrub = NULL;
	int nobody = head_req || h->status < 200 || h->status == 204 || h->status == 304;
	v->resp_chunked = h->chunked && !nobody;
	if (!nobody && !(v->scrub = petri__vault_scrub_new(c->s->vault))) {
		conn_end(c, "out of memory");
		return -1;
	}
	if (v_cl_send(c, raw, len) < 0)
		return -1;
	v->resp_open = h->status >= 200;
	return head_req ? 1 : 0;
}

static int v_resp_body(void *arg, const char *p, size_t n)
{
	struct conn *c = arg;
	struct vconn *v = c->v;
	if (c->zombie || c->state == S_CLOSING || !v->scrub)
		return -1;
	return petri__vault_scrub_feed(v->scrub, p, n, v_emit, c) ? -1 : 0;
}

static int v_resp_end(void *arg, const struct petri_http_resp_head *h)
{
	struct conn *c = arg;
	struct vconn *v = c->v;
	if (c->zombie || c->state == S_CLOSING)
		return -1;
	if (v->scrub && petri__vault_scrub_end(v->scrub, v_emit, c))
		return -1;
	petri__vault_scrub_free(v->scrub);
	v->scrub = NULL;
	if (v->resp_chunked && v_cl_send(c, "0\r\n\r\n", 5) < 0)
		return -1;
	v->resp_chunked = 0;
	v->resp_open = 0;
	return 0;
}

/* An answer of the proxy's own, over the client's TLS, then close. */
static void v_refuse(struct conn *c, int status, const char *reason, int allowed)
{
	struct vconn *v = c->v;
	if (c->zombie || c->state == S_CLOSING)
		return;
	if (!v->cl.ready) {
		/* Said once the client's handshake is done. */
		if (!v->fail_status) {
			v->fail_status = status;
			v->fail_reason = reason;
			v->fail_allowed = allowed;
		}
		/* Nothing more upstream; the client gets this long to finish
		 * its handshake. */
		resolve_drop(c);
		if (c->up) {
			bufferevent_free(c->up);
			c->up = NULL;
		}
		c->state = S_SPLICE;
		c->last_ms = mono_ms() - (NET_IDLE_TIMEOUT_MS - NET_HEAD_TIMEOUT_MS);
		arm(c, NET_HEAD_TIMEOUT_MS);
		return;
	}
	c->info.allowed = allowed;
	c->info.reason = reason;
	if (v->resp_open) {
		/* Inside a response: an answer now would be read as part of
		 * it.  The connection just ends (the client sees it cut). */
		conn_end(c, NULL);
		return;
	}
	/* The answer to the oldest request without one; the later ones
	 * (pipelined) get none, and the close says so. */
	c->info.status = status;
	char msg[PETRI_NET_HOST_MAX + 512];
	int n = refusal_text(c, status, reason, msg, sizeof(msg));
	if (!v->cl.ssl) {
		evbuffer_add(bufferevent_get_output(c->cl), msg, (size_t)n);
	} else {
		if (SSL_write(v->cl.ssl, msg, n) > 0)
			SSL_shutdown(v->cl.ssl);
		vtls_flush(&v->cl, c->cl);
	}
	conn_close_after_flush(c);
}

/* The upstream's TLS handshake is done: what waited goes. */
static void v_up_ready(struct conn *c)
{
	struct vconn *v = c->v;
	v->up.ready = 1;
	size_t n = evbuffer_get_length(v->up_pend);
	if (n) {
		const char *p = (const char *)evbuffer_pullup(v->up_pend, -1);
		if (charge(c, 1, n) < 0)
			return;
		if (!v->up.ssl) {
			bufferevent_write_buffer(c->up, v->up_pend);
		} else if (SSL_write(v->up.ssl, p, (int)n) <= 0) {
			conn_end(c, "upstream TLS error");
			return;
		}
		evbuffer_drain(v->up_pend, n);
		vtls_flush(&v->up, c->up);
	}
	if (!c->eof_cl && c->state != S_CLOSING)
		bufferevent_enable(c->cl, EV_READ);
}

/* Drive the upstream's handshake: 0 going on or done, -1 ended. */
static int v_up_handshake(struct conn *c)
{
	struct vconn *v = c->v;
	ERR_clear_error();
	int r = SSL_do_handshake(v->up.ssl);
	vtls_flush(&v->up, c->up);
	if (r == 1) {
		v_up_ready(c);
		return c->zombie || c->state == S_CLOSING ? -1 : 0;
	}
	int e = SSL_get_error(v->up.ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	long vr = SSL_get_verify_result(v->up.ssl);
	c->info.error = vr != X509_V_OK ? EPERM : EPROTO;
	ERR_clear_error();
	v_refuse(c, 502,
		 vr != X509_V_OK ? "upstream certificate not trusted" : "upstream TLS failed", 1);
	return -1;
}

/* The upstream is connected: the TLS client starts (SNI and the name it
 * must prove are the connection's). */
static void v_up_start(struct conn *c)
{
	struct vconn *v = c->v;
	petri_error *err = NULL;
	if (v->plain) {
		v_up_ready(c);
		return;
	}
	SSL_CTX *ctx = petri__vault_client_ctx(c->s->vault, &err);
	petri_error_free(err);
	if (vtls_init(&v->up, ctx) < 0) {
		c->info.error = ENOMEM;
		v_refuse(c, 502, "upstream TLS setup failed", 1);
		return;
	}
	SSL_set_connect_state(v->up.ssl);
	SSL_set_verify(v->up.ssl, SSL_VERIFY_PEER, NULL);
	if (c->rule && c->rule->literal) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(v->up.ssl), c->host);
	} else {
		SSL_set_tlsext_host_name(v->up.ssl, c->host);
		SSL_set1_host(v->up.ssl, c->host);
	}
	v_up_handshake(c);
}

static void v_up_read(struct conn *c)
{
	struct vconn *v = c->v;
	struct evbuffer *in = bufferevent_get_input(c->up);
	size_t n;
	while (v->plain && (n = evbuffer_get_contiguous_space(in)) > 0) {
		int e = petri__http_resp_feed(v->resp,
					      (const char *)evbuffer_pullup(in, (ev_ssize_t)n), n,
					      v_resp_head, v_resp_body, v_resp_end, c);
		if (c->zombie || c->state == S_CLOSING)
			return;
		evbuffer_drain(in, n);
		if (e) {
			c->info.error = EPROTO;
			v_refuse(c, 502, "malformed response", 1);
			return;
		}
	}
	while (!v->plain && (n = evbuffer_get_contiguous_space(in)) > 0) {
		BIO_write(v->up.rb, evbuffer_pullup(in, (ev_ssize_t)n), (int)n);
		evbuffer_drain(in, n);
	}
	if (!v->up.ready && v_up_handshake(c) < 0)
		return;
	if (!v->up.ready)
		return;
	char buf[V_IO];
	for (; !v->plain;) {
		int r = SSL_read(v->up.ssl, buf, sizeof(buf));
		if (r <= 0) {
			int e = SSL_get_error(v->up.ssl, r);
			vtls_flush(&v->up, c->up); /* (post-handshake messages) */
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				break;
			if (e == SSL_ERROR_ZERO_RETURN) {
				c->eof_up = 1;
				break;
			}
			ERR_clear_error();
			c->info.error = EPROTO;
			conn_end(c, "upstream TLS error");
			return;
		}
		int e = petri__http_resp_feed(v->resp, buf, (size_t)r, v_resp_head, v_resp_body,
					      v_resp_end, c);
		if (c->zombie || c->state == S_CLOSING)
			return;
		if (e) {
			c->info.error = EPROTO;
			v_refuse(c, 502, "malformed response", 1);
			return;
		}
	}
	if (c->eof_up) {
		int e = petri__http_resp_eof(v->resp, v_resp_body, v_resp_end, c);
		if (c->zombie || c->state == S_CLOSING)
			return;
		if (v->cl.ssl && v->cl.ready)
			SSL_shutdown(v->cl.ssl);
		vtls_flush(&v->cl, c->cl);
		c->info.reason = e ? "upstream closed midway" : "allowed";
		conn_close_after_flush(c);
	}
}

static void v_cl_read(struct conn *c)
{
	struct vconn *v = c->v;
	struct evbuffer *in = bufferevent_get_input(c->cl);
	size_t n;
	while (v->plain && (n = evbuffer_get_contiguous_space(in)) > 0) {
		int e = petri__http_stream_feed(c->hs,
						(const char *)evbuffer_pullup(in, (ev_ssize_t)n), n,
						v_on_head, v_on_data, c);
		if (c->zombie || c->state == S_CLOSING)
			return;
		evbuffer_drain(in, n);
		if (e < 0) {
			v_refuse(c, 400, e == -E2BIG ? "request head too large" : "malformed HTTP",
				 0);
			return;
		}
		if (e > 0)
			return;
	}
	if (v->plain)
		return;
	while ((n = evbuffer_get_contiguous_space(in)) > 0) {
		BIO_write(v->cl.rb, evbuffer_pullup(in, (ev_ssize_t)n), (int)n);
		evbuffer_drain(in, n);
	}
	if (!v->cl.ready) {
		ERR_clear_error();
		int r = SSL_do_handshake(v->cl.ssl);
		vtls_flush(&v->cl, c->cl);
		if (r != 1) {
			int e = SSL_get_error(v->cl.ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return;
			ERR_clear_error();
			conn_end(c, "client TLS handshake failed");
			return;
		}
		v->cl.ready = 1;
		if (v->fail_status) {
			v_refuse(c, v->fail_status, v->fail_reason, v->fail_allowed);
			return;
		}
	}
	char buf[V_IO];
	for (;;) {
		int r = SSL_read(v->cl.ssl, buf, sizeof(buf));
		if (r <= 0) {
			int e = SSL_get_error(v->cl.ssl, r);
			vtls_flush(&v->cl, c->cl);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return;
			ERR_clear_error();
			conn_end(c,
				 e == SSL_ERROR_ZERO_RETURN ? "client closed" : "client TLS error");
			return;
		}
		int e = petri__http_stream_feed(c->hs, buf, (size_t)r, v_on_head, v_on_data, c);
		if (c->zombie || c->state == S_CLOSING)
			return;
		if (e < 0) {
			v_refuse(c, 400, e == -E2BIG ? "request head too large" : "malformed HTTP",
				 0);
			return;
		}
		if (e > 0)
			return;
	}
}

/*
 * Intercept @c, whose ClientHello (@p, @n bytes, its SNI the connection's
 * name) is in hand: the client's TLS is ours from here.  0, or 1 when the
 * connection is ending.
 */
static int v_start(struct conn *c, uint64_t scope, const uint8_t *p, size_t n)
{
	petri_error *err = NULL;
	struct vconn *v = calloc(1, sizeof(*v));
	SSL_CTX *ctx = v ? petri__vault_server_ctx(c->s->vault, c->host, &err) : NULL;
	petri_error_free(err);
	c->v = v;
	if (!v || vtls_init(&v->cl, ctx) < 0 || !(v->up_pend = evbuffer_new()) ||
	    !(v->buf = evbuffer_new()) || !(v->resp = petri__http_resp_new())) {
		c->info.error = ENOMEM;
		conn_end(c, "interception setup failed");
		return 1;
	}
	v->scope = scope;
	SSL_set_accept_state(v->cl.ssl);
	petri__http_stream_free(c->hs);
	if (!(c->hs = petri__http_stream_new())) {
		conn_end(c, "out of memory");
		return 1;
	}
	c->heads = 0;
	c->decided = 1;
	/* The hello straight into OpenSSL (a bufferevent's input takes
	 * nothing but what it reads). */
	if (n && BIO_write(v->cl.rb, p, (int)n) != (int)n) {
		conn_end(c, "out of memory");
		return 1;
	}
	if (c->sniff) {
		evbuffer_free(c->sniff);
		c->sniff = NULL;
	}
	/* The hello first, then whatever came after it. */
	v_cl_read(c);
	if (c->zombie || c->state == S_CLOSING)
		return 1;
	if (c->up_connected) {
		/* (A CONNECT's upstream, dialled before the 200.) */
		c->state = S_SPLICE;
		arm(c, NET_IDLE_TIMEOUT_MS);
		v_up_start(c);
	} else if (!c->dialed) {
		dial(c);
	}
	return c->zombie || c->state == S_CLOSING;
}

/*
 * Plain HTTP to a host a secret allows in the clear ("http://"): the same
 * relay without TLS on either side, from the request being judged (the
 * first head, whose bytes the caller feeds to v_on_head).  0, or 1 when
 * the connection is ending.
 */
static int v_plain_start(struct conn *c, uint64_t scope)
{
	struct vconn *v = calloc(1, sizeof(*v));
	c->v = v;
	if (!v || !(v->up_pend = evbuffer_new()) || !(v->buf = evbuffer_new()) ||
	    !(v->resp = petri__http_resp_new())) {
		c->info.error = ENOMEM;
		conn_end(c, "out of memory");
		return 1;
	}
	v->plain = 1;
	v->scope = scope;
	v->cl.ready = 1;
	if (c->up_connected)
		v_up_ready(c); /* (a CONNECT tunnel carrying plain HTTP) */
	return c->zombie || c->state == S_CLOSING;
}

/* ---- TenantVault: everywhere else ---- */

/* @p (@n bytes) going where @scope's secrets only may go (0: none):
 * 0, or -1 with the misuse audited. */
static int v_scan(struct conn *c, uint64_t scope, const void *p, size_t n, const char *where)
{
	struct petri_vault_finding f = {0};
	if (petri__vault_scan(c->s->vault, scope, p, n, &f) == PETRI_VAULT_OK)
		return 0;
	if (!f.where)
		f.where = where;
	v_misuse(c, &f);
	return -1;
}

/* A plain-HTTP body piece (explicit absolute URI, transparent HTTP): scanned
 * with the end of the piece before.  0, or -1: cut, audited. */
static int v_plain_body(struct conn *c, const char *p, size_t n)
{
	uint64_t scope = petri__vault_scope(c->s->vault, c->host, c->port, 0);
	size_t all = c->vtail_n + n;
	char *b = malloc(all);
	int r;
	if (!b) {
		conn_end(c, "out of memory");
		return -1;
	}
	memcpy(b, c->vtail, c->vtail_n);
	memcpy(b + c->vtail_n, p, n);
	r = v_scan(c, scope, b, all, "plain http");
	c->vtail_n = all < V_TAIL ? all : V_TAIL;
	memcpy(c->vtail, b + all - c->vtail_n, c->vtail_n);
	free(b);
	if (r < 0 && c->vheld) {
		/* Nothing of the request left: refused. */
		evbuffer_free(c->vheld);
		c->vheld = NULL;
		conn_refuse(c, 403, "secret misuse", 0);
	} else if (r < 0) {
		c->info.reason = "secret misuse";
		conn_end(c, NULL);
	}
	return r;
}

/* Decide on the client's first bytes (c->sniff): 0 decided (or still
 * waiting), 1 the connection is ending. */
static int sniff_decide(struct conn *c)
{
	if (c->zombie || c->state == S_CLOSING)
		return 1;
	size_t n = evbuffer_get_length(c->sniff);
	const uint8_t *p = evbuffer_pullup(c->sniff, -1);
	int kind = c->sniffed;
	if (!kind) {
		int k = n ? petri__net_sniff_kind(p, n) : -EAGAIN;
		if (k == -EAGAIN && n < SNIFF_MAX)
			return 0;
		/* (Still undecided at the limit: judged as HTTP, and refused.) */
		kind = k == 1 ? SNIFF_TLS : k == 0 ? SNIFF_OPAQUE : SNIFF_HTTP;
	}
	/* Port 80 is plain HTTP's: anything else there is either a request a
	 * lenient server might still read or nothing it wants. */
	if (kind == SNIFF_OPAQUE && c->port == 80) {
		c->info.protocol = PETRI_NET_PROTO_OPAQUE;
		conn_refuse(c, 0, "not HTTP on port 80", 0);
		return 1;
	}
	if (kind == SNIFF_TLS) {
		char sni[PETRI_NET_HOST_MAX] = "";
		int r = petri__net_tls_sni_scan(&c->tls, p, n, sni);
		if (r == -EAGAIN && n < SNIFF_MAX)
			return 0;
		c->info.protocol = PETRI_NET_PROTO_TLS;
		if (r < 0) {
			conn_refuse(c, 0, "malformed TLS ClientHello", 0);
			return 1;
		}
		if (r == 1) {
			snprintf(c->info.sni_host, sizeof(c->info.sni_host), "%s", sni);
			if (c->s->vault && v_scan(c, 0, sni, strlen(sni), "sni") < 0) {
				conn_refuse(c, 0, "secret misuse", 0);
				return 1;
			}
			if (strcmp(sni, c->host) != 0) {
				conn_refuse(c, 0, "sni mismatch", 0);
				return 1;
			}
			uint64_t scope =
				c->s->vault ? petri__vault_scope(c->s->vault, c->host, c->port, 1) :
					      0;
			if (scope) {
				c->sniffed = kind;
				return v_start(c, scope, p, n);
			}
		} else if (!c->rule->literal) {
			/* Which of the upstream's names would it be for?  Only an
			 * address-literal rule has no name to send. */
			conn_refuse(c, 0, "no sni", 0);
			return 1;
		}
	} else if (kind == SNIFF_HTTP) {
		c->info.protocol = PETRI_NET_PROTO_HTTP;
		if (c->tunnel) {
			/* The CONNECT head is behind us; the tunnel's requests
			 * are judged one by one, as on the transparent path. */
			petri__http_stream_free(c->hs);
			c->hs = NULL;
			c->inner_http = 1;
			c->heads = 0;
		}
		c->hs = petri__http_stream_new();
		if (!c->hs) {
			conn_refuse(c, 0, "out of memory", 1);
			return 1;
		}
		/* A host a secret may go to in the clear: relayed (rewritten,
		 * scrubbed) as intercepted TLS is. */
		uint64_t plain =
			c->s->vault ? petri__vault_scope(c->s->vault, c->host, c->port, 0) : 0;
		if (plain && v_plain_start(c, plain))
			return 1;
	} else {
		c->info.protocol = PETRI_NET_PROTO_OPAQUE;
	}
	c->sniffed = kind;
	c->decided = 1;
	if (c->tunnel && c->hs && !c->inner_http) {
		/* The CONNECT head is behind us: the rest is the tunnel's. */
		petri__http_stream_free(c->hs);
		c->hs = NULL;
	}
	struct evbuffer *b = c->sniff;
	c->sniff = NULL;
	int r = 0;
	if (kind == SNIFF_HTTP) {
		r = petri__http_stream_feed(c->hs, (const char *)p, n, transparent_on_head,
					    to_upstream_cb, c);
		if (r < 0)
			conn_refuse(c, 400,
				    r == -E2BIG ? "request head too large" : "malformed HTTP", 0);
	} else if (n) {
		r = to_upstream(c, p, n);
	}
	evbuffer_free(b);
	/* (r > 0 from the feed: it stopped taking the client's bytes, and
	 * what it took still goes upstream.) */
	if (r < 0 || c->zombie || c->state == S_CLOSING)
		return 1;
	if (c->up_connected) {
		c->state = S_SPLICE;
		arm(c, NET_IDLE_TIMEOUT_MS);
	} else if (!c->dialed && kind != SNIFF_HTTP) {
		/* Judged: only now is an upstream connection made (for HTTP,
		 * once the first request's Host is: transparent_on_head). */
		dial(c);
		return c->zombie || c->state == S_CLOSING;
	}
	return 0;
}

/* ---- the client side ---- */

/* DNS over TCP: 2-byte length, message; as many as the client sends. */
static void dns_tcp_read(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->cl);
	struct evbuffer *out = bufferevent_get_output(c->cl);
	while (!c->zombie) {
		uint8_t lb[2];
		if (evbuffer_copyout(in, lb, 2) < 2)
			return;
		size_t qlen = (size_t)lb[0] << 8 | lb[1];
		if (evbuffer_get_length(in) < 2 + qlen)
			return;
		const uint8_t *q = evbuffer_pullup(in, (ev_ssize_t)(2 + qlen)) + 2;
		uint8_t ans[2 + 65535];
		struct petri_net_dns_info info;
		memset(&info, 0, sizeof(info));
		ssize_t n = petri__net_dns_answer(q, qlen, ans + 2, sizeof(ans) - 2, c->s->names,
						  name_allowed, c->s, &info);
		evbuffer_drain(in, 2 + qlen);
		audit_emit_dns(c->s, &info, 1);
		if (n <= 0) { /* not DNS: nothing more to say to it */
			conn_end(c, NULL);
			return;
		}
		ans[0] = (uint8_t)(n >> 8);
		ans[1] = (uint8_t)n;
		evbuffer_add(out, ans, (size_t)n + 2);
		arm(c, DNS_TCP_IDLE_MS);
		if (evbuffer_get_length(out) >= SPLICE_HIGH) {
			/* It asks and does not read: wait until it does. */
			bufferevent_disable(c->cl, EV_READ);
			c->paused_cl = 1;
			return;
		}
	}
}

/* Who judges the heads of @c's request stream. */
static petri_http_head_fn head_fn(const struct conn *c)
{
	return c->kind == K_PROXY && !c->inner_http ? proxy_on_head : transparent_on_head;
}

/* Feed the client's bytes to its request parser (explicit proxy heads,
 * transparent HTTP); each head is judged as it completes. */
static void client_feed(struct conn *c, struct evbuffer *in)
{
	petri_http_head_fn on_head = head_fn(c);
	while (evbuffer_get_length(in) && !c->zombie && c->state != S_CLOSING) {
		size_t n = evbuffer_get_contiguous_space(in);
		char *p = (char *)evbuffer_pullup(in, (ev_ssize_t)n);
		int r = petri__http_stream_feed(c->hs, p, n, on_head, to_upstream_cb, c);
		evbuffer_drain(in, n);
		if (r < 0 && !c->zombie) {
			if (c->heads == 0 || c->kind == K_TRANSPARENT || c->inner_http)
				conn_refuse(c, c->heads ? 0 : 400,
					    r == -E2BIG ? "request head too large" :
							  "malformed HTTP",
					    0);
			else
				conn_end(c, "malformed HTTP");
		}
		if (r)
			return;
		if (c->up_connected && c->up)
			flow_pause(c->cl, c->up, &c->paused_cl);
	}
}

static void client_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	if (c->zombie)
		return;
	c->last_ms = mono_ms();
	if (c->state == S_CLOSING) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	if (c->kind == K_DNS) {
		dns_tcp_read(c);
		return;
	}
	if (c->v) {
		v_cl_read(c);
		return;
	}
	if (c->hs && (!c->tunnel || !c->decided || c->inner_http)) {
		client_feed(c, in);
		/* A tunnel's first bytes, once the upstream is there. */
		if (!c->zombie && c->sniff && !c->decided && c->up_connected)
			sniff_decide(c);
		return;
	}
	if (c->decided && c->up_connected) {
		pump(c, 1); /* the common case: a tunnel, a decided stream */
		return;
	}
	if (c->decided) {
		/* Dialling still: held, within bounds. */
		evbuffer_add_buffer(c->pend, in);
		if (evbuffer_get_length(c->pend) > SPLICE_HIGH)
			bufferevent_disable(bev, EV_READ); /* resumed on connect */
		return;
	}
	/* Undecided: the first bytes of a transparent connection, or of a
	 * tunnel whose CONNECT head has been parsed. */
	if (evbuffer_get_length(c->sniff) + evbuffer_get_length(in) > SNIFF_MAX) {
		conn_refuse(c, 0, "first bytes undecidable", 0);
		return;
	}
	start_head_deadline(c);
	/* Copied, not moved: appended into c->sniff's last chain, which
	 * sniff_decide's pullup then finds contiguous (a moved chain made
	 * every read copy the whole buffer again). */
	size_t len = evbuffer_get_length(in);
	if (evbuffer_add(c->sniff, evbuffer_pullup(in, -1), len) < 0) {
		conn_refuse(c, 0, "out of memory", 1);
		return;
	}
	evbuffer_drain(in, len);
	if (c->up_connected || c->kind == K_TRANSPARENT)
		sniff_decide(c);
}

static void client_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	if (c->zombie)
		return;
	if (c->state == S_CLOSING) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
			if (c->info.status && !c->shut_cl)
				conn_linger(c);
			else
				conn_kill(c);
		}
		return;
	}
	if (c->kind == K_DNS) {
		if (c->paused_cl) {
			c->paused_cl = 0;
			bufferevent_enable(c->cl, EV_READ);
			dns_tcp_read(c);
		}
		return;
	}
	if (c->paused_up) {
		c->paused_up = 0;
		if (!c->eof_up && c->up)
			bufferevent_enable(c->up, EV_READ);
	}
	if (c->v)
		return;
	if (c->eof_up)
		half_close(c);
	else
		zc_maybe(c);
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	if (c->zombie)
		return;
	if ((what & BEV_EVENT_EOF) && c->v && c->state != S_CLOSING) {
		/* (TLS clients end with close_notify; a FIN alone ends it too.) */
		if (evbuffer_get_length(bufferevent_get_input(bev)))
			client_read(bev, c);
		if (!c->zombie && c->state != S_CLOSING)
			conn_end(c, "client closed");
		return;
	}
	if ((what & BEV_EVENT_EOF) && c->state != S_CLOSING && c->kind != K_DNS) {
		if (evbuffer_get_length(bufferevent_get_input(bev)))
			client_read(bev, c);
		if (c->zombie || c->state == S_CLOSING)
			return;
		c->eof_cl = 1;
		if (!c->decided) {
			/* Gone before it said what it wanted. */
			conn_end(c, c->rule ? "client closed" : "client closed before a request");
			return;
		}
		if (c->up_connected)
			half_close(c);
		return;
	}
	if (c->state == S_CLOSING || c->kind == K_DNS)
		conn_kill(c);
	else
		conn_end(c, what & BEV_EVENT_EOF ? "client closed" : "client error");
}

static void conn_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	if (c->zombie) {
		conn_free(c);
		return;
	}
	switch (c->state) {
	case S_CLOSING:
		conn_kill(c);
		return;
	case S_HEAD: {
		uint64_t now = mono_ms();
		if (c->kind == K_DNS) {
			conn_kill(c);
		} else if (c->kind == K_PROXY && !c->tunnel) {
			conn_refuse(c, 408, "request head timeout", 0);
		} else if (c->sniff && evbuffer_get_length(c->sniff) == 0) {
			/* The client waits for the server (SSH, SMTP): dial;
			 * its first bytes are judged when they come. */
			if (!c->dialed)
				dial(c);
			else if (now - c->last_ms >= NET_IDLE_TIMEOUT_MS)
				conn_end(c, "idle timeout");
			else
				arm(c, NET_IDLE_TIMEOUT_MS - (now - c->last_ms));
		} else if (now < c->head_deadline_ms) {
			arm(c, c->head_deadline_ms - now);
		} else {
			conn_refuse(c, 0, "head timeout", 0);
		}
		return;
	}
	case S_DIAL:
		if (c->res) {
			resolve_drop(c);
			c->info.error = ETIMEDOUT;
			conn_refuse(c, c->kind == K_PROXY ? 504 : 0, "name resolution timeout", 1);
			return;
		}
		if (c->up) {
			bufferevent_free(c->up);
			c->up = NULL;
		}
		c->info.error = ETIMEDOUT;
		dial_next(c);
		return;
	case S_SPLICE: {
		uint64_t idle = mono_ms() - c->last_ms;
		if (idle >= NET_IDLE_TIMEOUT_MS)
			conn_end(c, "idle timeout");
		else
			arm(c, NET_IDLE_TIMEOUT_MS - idle);
		return;
	}
	}
}

static void wall_now(struct conn *c)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	c->info.start_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	c->t0_mono = mono_ns();
}

static struct conn *conn_new(struct petri_proxy_sb *s, int kind, evutil_socket_t fd)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return NULL;
	}
	c->s = s;
	c->kind = kind;
	c->state = S_HEAD;
	wall_now(c);
	c->last_ms = mono_ms();
	c->info.via = kind == K_TRANSPARENT ? PETRI_NET_VIA_TRANSPARENT : PETRI_NET_VIA_PROXY;
	c->cl = bufferevent_socket_new(s->px->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(s->px->base, conn_timer, c);
	c->pend = evbuffer_new();
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	if (!c->cl || !c->timer || !c->pend) {
		if (!c->cl)
			close(fd);
		c->audited = 1;
		conn_free(c);
		return NULL;
	}
	int one = 1, kbuf = (int)CLIENT_SOCKBUF;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* The kernel's buffers on the client's side, fixed (no autotuning to
	 * megabytes): a client that never reads pins CLIENT_SOCKBUF here,
	 * not ~2 MB of host memory.  Its peer is on the same loopback, where
	 * this much keeps a transfer at full speed. */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kbuf, sizeof(kbuf));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kbuf, sizeof(kbuf));
	bufferevent_setcb(c->cl, client_read, client_write, client_event, c);
	bufferevent_setwatermark(c->cl, EV_WRITE, SPLICE_LOW, 0);
	bufferevent_set_max_single_read(c->cl, SINGLE_IO);
	bufferevent_set_max_single_write(c->cl, SINGLE_IO);
	bufferevent_enable(c->cl, EV_READ | EV_WRITE);
	return c;
}

/* A transparent connection: the name is the one behind the address the
 * client dialled. */
static void transparent_start(struct conn *c, uint16_t port)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	c->port = port;
	c->info.port = port;
	if (getsockname(bufferevent_getfd(c->cl), (struct sockaddr *)&a, &len) < 0 ||
	    a.sin_family != AF_INET) {
		conn_refuse(c, 0, "unknown address", 0);
		return;
	}
	const char *name = petri__net_names_lookup(c->s->names, ntohl(a.sin_addr.s_addr));
	if (!name) {
		/* Not one the DNS server gave out: the name is the address. */
		inet_ntop(AF_INET, &a.sin_addr, c->info.name, sizeof(c->info.name));
		conn_refuse(c, 0, "unknown address", 0);
		return;
	}
	snprintf(c->host, sizeof(c->host), "%s", name);
	snprintf(c->info.name, sizeof(c->info.name), "%s", name);
	if (!(c->rule = policy_check(c, c->host, port))) {
		conn_refuse(c, 0, c->info.reason, 0);
		return;
	}
	c->sniff = evbuffer_new();
	if (!c->sniff) {
		conn_refuse(c, 0, "out of memory", 1);
		return;
	}
	/* No upstream connection before the client's first bytes are judged
	 * (sniff_decide dials), or it has kept silent for SERVER_FIRST_MS. */
	arm(c, SERVER_FIRST_MS);
}

static void retry_accept(evutil_socket_t fd, short what, void *arg)
{
	struct lsn *l = arg;
	evconnlistener_enable(l->l);
}

static void accept_error(struct evconnlistener *el, void *arg)
{
	struct lsn *l = arg;
	/* Out of fds, most likely: pause a little rather than spin. */
	evconnlistener_disable(el);
	struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
	evtimer_add(l->retry, &tv);
}

static void on_accept(struct evconnlistener *el, evutil_socket_t fd, struct sockaddr *sa, int len,
		      void *arg)
{
	struct lsn *l = arg;
	struct petri_proxy_sb *s = l->s;
	int kind = l->kind == L_DNS_TCP ? K_DNS : l->kind == L_PROXY ? K_PROXY : K_TRANSPARENT;
	if (s->nconns >= s->max_conns || s->bytes >= s->max_bytes) {
		/* Closed at once, and said so. */
		struct petri_net_conn_info info = {
			.via = kind == K_TRANSPARENT ? PETRI_NET_VIA_TRANSPARENT :
						       PETRI_NET_VIA_PROXY,
			.port = l->port,
			.reason = s->nconns >= s->max_conns ? "connection limit" : "byte limit",
		};
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		info.start_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		if (kind != K_DNS)
			audit_emit_conn(s, &info);
		close(fd);
		return;
	}
	struct conn *c = conn_new(s, kind, fd);
	if (!c)
		return;
	if (kind == K_DNS) {
		c->audited = 1; /* each exchange is */
		arm(c, DNS_TCP_IDLE_MS);
	} else if (kind == K_PROXY) {
		c->hs = petri__http_stream_new();
		if (!c->hs) {
			conn_end(c, "out of memory");
			return;
		}
		arm(c, NET_HEAD_TIMEOUT_MS);
	} else {
		transparent_start(c, l->port);
	}
}

/* ---- DNS ---- */

static int name_allowed(void *arg, const char *name)
{
	struct petri_proxy_sb *s = arg;
	struct petri_vault_finding f = {0};
	/* A placeholder in a name would leave with the query (a resolver
	 * upstream, or the dial's): no address, and audited. */
	if (s->vault && petri__vault_scan(s->vault, 0, name, strlen(name), &f) != PETRI_VAULT_OK) {
		f.misuse = f.misuse == PETRI_VAULT_MISUSE_FOREIGN ? f.misuse :
								    PETRI_VAULT_MISUSE_DNS;
		f.where = "dns";
		petri__audit_vault_misuse(s->sb, &f, "", PETRI_NET_DNS_PORT);
		return 0;
	}
	const struct petri_net_rule *r = petri__net_policy_match(&s->policy, name, 0);
	/* A wildcard name too long to be resolved on the host gets no
	 * address either (the limit on how many is the dial's). */
	return r && !(r->wildcard && !r->pinned &&
		      strlen(name) - strlen(r->host) - 1 > WILDCARD_LABELS_MAX);
}

static void dns_udp(evutil_socket_t fd, short what, void *arg)
{
	struct petri_proxy_sb *s = arg;
	for (int i = 0; i < DNS_UDP_BURST; i++) {
		uint8_t q[4096], out[512];
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t n =
			recvfrom(fd, q, sizeof(q), MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
		if (n < 0)
			return;
		struct petri_net_dns_info info;
		memset(&info, 0, sizeof(info));
		ssize_t a = petri__net_dns_answer(q, (size_t)n, out, sizeof(out), s->names,
						  name_allowed, s, &info);
		if (a > 0)
			sendto(fd, out, (size_t)a, MSG_DONTWAIT, (struct sockaddr *)&from, flen);
		audit_emit_dns(s, &info, 0);
	}
}

/* ---- the loop thread ---- */

static void sb_start(struct petri_proxy *px, struct petri_proxy_sb *s, struct cmd *cmd)
{
	s->audit_milli = (uint64_t)AUDIT_BURST * 1000u;
	s->audit_ms = mono_ms();
	s->audit_flush = evtimer_new(px->base, audit_flush_cb, s);
	s->udp_ev = event_new(px->base, s->udp_fd, EV_READ | EV_PERSIST, dns_udp, s);
	if (!s->audit_flush || !s->udp_ev || event_add(s->udp_ev, NULL) < 0) {
		cmd->err = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < s->nlsn; i++) {
		struct lsn *l = &s->lsn[i];
		l->retry = evtimer_new(px->base, retry_accept, l);
		l->l = l->retry ? evconnlistener_new(px->base, on_accept, l,
						     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
						     0, l->fd) :
				  NULL;
		if (!l->l) {
			cmd->err = -ENOMEM;
			return;
		}
		l->fd = -1; /* the listener's now */
		evconnlistener_set_error_cb(l->l, accept_error);
	}
	s->next = px->sbs;
	px->sbs = s;
}

/* Drop everything of @s the loop holds (its connections audited). */
static void sb_stop(struct petri_proxy *px, struct petri_proxy_sb *s)
{
	for (struct petri_proxy_sb **p = &px->sbs; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	while (s->conns) {
		struct conn *c = s->conns;
		if (!c->info.reason)
			c->info.reason = "sandbox destroyed";
		conn_free(c);
	}
	if (s->udp_ev)
		event_free(s->udp_ev);
	s->udp_ev = NULL;
	/* After its connections' last events: what was counted, said. */
	audit_report_lost(s);
	if (s->audit_flush)
		event_free(s->audit_flush);
	s->audit_flush = NULL;
	for (size_t i = 0; i < s->nlsn; i++) {
		if (s->lsn[i].l)
			evconnlistener_free(s->lsn[i].l);
		if (s->lsn[i].retry)
			event_free(s->lsn[i].retry);
		s->lsn[i].l = NULL;
		s->lsn[i].retry = NULL;
	}
}

static void wake(evutil_socket_t fd, short what, void *arg)
{
	struct petri_proxy *px = arg;
	uint64_t v;
	if (read(px->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&px->lock);
	struct cmd *list = px->cmds;
	px->cmds = NULL;
	pthread_mutex_unlock(&px->lock);
	while (list) {
		struct cmd *cmd = list;
		list = cmd->next;
		if (cmd->kind == CMD_ATTACH) {
			sb_start(px, cmd->s, cmd);
			if (cmd->err)
				sb_stop(px, cmd->s);
		} else if (cmd->kind == CMD_DETACH) {
			sb_stop(px, cmd->s);
		} else {
			event_base_loopbreak(px->base);
		}
		pthread_mutex_lock(&px->lock);
		cmd->done = 1;
		pthread_cond_broadcast(&px->cond);
		pthread_mutex_unlock(&px->lock);
	}
}

static void *proxy_thread(void *arg)
{
	struct petri_proxy *px = arg;
	pthread_setname_np(pthread_self(), "petri-proxy");
	event_base_loop(px->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* Hand @cmd to the loop and wait until it is done: its err. */
static int run_cmd(struct petri_proxy *px, struct cmd *cmd)
{
	pthread_mutex_lock(&px->lock);
	cmd->next = NULL;
	struct cmd **p = &px->cmds;
	while (*p)
		p = &(*p)->next;
	*p = cmd;
	pthread_mutex_unlock(&px->lock);
	uint64_t one = 1;
	while (write(px->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&px->lock);
	while (!cmd->done)
		pthread_cond_wait(&px->cond, &px->lock);
	pthread_mutex_unlock(&px->lock);
	return cmd->err;
}

static void proxy_free(struct petri_proxy *px)
{
	if (px->dns)
		evdns_base_free(px->dns, 1);
	if (px->wake_ev)
		event_free(px->wake_ev);
	if (px->base)
		event_base_free(px->base);
	if (px->wake_fd >= 0)
		close(px->wake_fd);
	pthread_mutex_destroy(&px->lock);
	pthread_cond_destroy(&px->cond);
	free(px);
}

/* The host's resolver on the loop: /etc/resolv.conf and /etc/hosts; short
 * timeouts, as a client waits behind each lookup.  NULL when none can be
 * had (names then fail with 502; pinned and literal rules work). */
static struct evdns_base *make_resolver(struct petri_proxy *px)
{
	struct evdns_base *d = evdns_base_new(px->base, 0);
	if (!d)
		return NULL;
	/* No search domains: an allowed name is resolved as written, never
	 * as NAME.some-search-domain. */
	int opts = DNS_OPTION_NAMESERVERS | DNS_OPTION_MISC | DNS_OPTION_HOSTSFILE;
	if (evdns_base_resolv_conf_parse(d, opts, "/etc/resolv.conf") != 0)
		evdns_base_load_hosts(d, NULL);
	evdns_base_set_option(d, "timeout:", "3");
	evdns_base_set_option(d, "attempts:", "2");
	return d;
}

/* The context's proxy, started if it is not running. */
static struct petri_proxy *proxy_get(struct petri_ctx *ctx, petri_error **err)
{
	pthread_mutex_lock(&ctx->lock);
	struct petri_proxy *px = ctx->proxy;
	if (px) {
		pthread_mutex_unlock(&ctx->lock);
		return px;
	}
	int r = -ENOMEM;
	px = calloc(1, sizeof(*px));
	if (!px)
		goto fail_unlock;
	px->ctx = ctx;
	px->wake_fd = -1;
	pthread_mutex_init(&px->lock, NULL);
	pthread_cond_init(&px->cond, NULL);
	struct event_config *cfg = event_config_new();
	if (cfg) {
		/* Only the loop thread touches it (run_cmd): no locks. */
		event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
		px->base = event_base_new_with_config(cfg);
		event_config_free(cfg);
	}
	if (!px->base)
		goto fail;
	px->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (px->wake_fd < 0) {
		r = -errno;
		goto fail;
	}
	px->wake_ev = event_new(px->base, px->wake_fd, EV_READ | EV_PERSIST, wake, px);
	if (!px->wake_ev || event_add(px->wake_ev, NULL) < 0)
		goto fail;
	px->dns = make_resolver(px);
	if (!px->dns)
		petri__log(ctx, PETRI_LOG_WARN,
			   "egress proxy: no resolver (names that are not pinned will fail)");
	/* The loop thread takes no signal of the host's. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&px->thread, NULL, proxy_thread, px);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		goto fail;
	ctx->proxy = px;
	pthread_mutex_unlock(&ctx->lock);
	return px;
fail:
	proxy_free(px);
fail_unlock:
	pthread_mutex_unlock(&ctx->lock);
	petri__err(err, -r, "start the egress proxy");
	return NULL;
}

static void sb_free(struct petri_proxy_sb *s)
{
	if (!s)
		return;
	if (s->udp_fd >= 0)
		close(s->udp_fd);
	for (size_t i = 0; s->lsn && i < s->nlsn; i++)
		if (s->lsn[i].fd >= 0)
			close(s->lsn[i].fd);
	free(s->lsn);
	petri__net_policy_free(&s->policy);
	petri__net_names_free(s->names);
	free(s->wc_names);
	free(s->own);
	free(s);
}

/* The host's addresses, at attach: the ones it has while the sandbox
 * lives are what it had then (an interface added later is not known). */
static int own_addrs(struct petri_proxy_sb *s)
{
	for (int tries = 0; tries < 4; tries++) {
		int n = petri__net_host_addrs(NULL, 0);
		if (n < 0)
			return n;
		free(s->own);
		s->own = calloc((size_t)n + 1, sizeof(*s->own));
		if (!s->own)
			return -ENOMEM;
		n = petri__net_host_addrs(s->own, (size_t)n + 1);
		if (n >= 0) {
			s->n_own = (size_t)n;
			return 0;
		}
		if (n != -ENOBUFS)
			return n;
	}
	return -EAGAIN;
}

size_t petri__proxy_sockets(const struct petri_net_policy *policy, struct petri_sock_req *reqs)
{
	size_t n = 3 + policy->nports;

	for (size_t i = 0; i < n; i++) {
		reqs[i].family = AF_INET;
		reqs[i].port = i == 0 || i == 1 ? PETRI_NET_DNS_PORT :
			       i == 2           ? PETRI_NET_PROXY_PORT :
						  policy->ports[i - 3];
		reqs[i].flags = i == 0 ? PETRI_LISTEN_UDP : i >= 3 ? PETRI_LISTEN_ANY : 0;
	}
	return n;
}

int petri__proxy_attach(struct petri_sandbox *sb, struct petri_net_policy *policy, int *fds,
			size_t nfds, petri_error **err)
{
	struct petri_sock_req reqs[PETRI_PROXY_MAX_SOCKETS];
	size_t want = petri__proxy_sockets(policy, reqs);
	struct petri_proxy_sb *s = NULL;
	int r = 0;

	if (nfds != want)
		r = petri__err(err, EINVAL, "egress proxy: %zu sockets, %zu wanted", nfds, want);
	else if (!(s = calloc(1, sizeof(*s))))
		r = petri__err(err, ENOMEM, "egress proxy");
	if (r < 0) {
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		petri__net_policy_free(policy);
		return r;
	}
	s->sb = sb;
	s->vault = sb->vault;
	s->policy = *policy;
	memset(policy, 0, sizeof(*policy));
	s->udp_fd = -1;
	s->max_conns = sb->net_max_conns ? sb->net_max_conns : DEFAULT_NET_MAX_CONNS;
	s->max_bytes = sb->net_max_bytes ? sb->net_max_bytes : DEFAULT_NET_MAX_BYTES;
	s->names = petri__net_names_new();
	s->lsn = calloc(nfds, sizeof(*s->lsn));
	if (!s->lsn) {
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		r = petri__err(err, ENOMEM, "egress proxy");
		goto fail;
	}
	/* From here the fds are s's (sb_free closes them). */
	for (size_t i = 0; i < nfds; i++)
		if (evutil_make_socket_nonblocking(fds[i]) < 0 && r == 0)
			r = -errno;
	s->udp_fd = fds[0];
	for (size_t i = 1; i < nfds; i++) {
		struct lsn *l = &s->lsn[s->nlsn++];
		l->s = s;
		l->kind = i == 1 ? L_DNS_TCP : i == 2 ? L_PROXY : L_TRANSPARENT;
		l->port = reqs[i].port;
		l->fd = fds[i];
	}
	if (r < 0) {
		r = petri__err(err, -r, "egress proxy: sockets of sandbox %s", sb->id);
		goto fail;
	}
	if (!s->names) {
		r = petri__err(err, ENOMEM, "egress proxy");
		goto fail;
	}
	if ((r = own_addrs(s)) < 0) {
		r = petri__err(err, -r, "egress proxy: the host's own addresses");
		goto fail;
	}
	struct petri_proxy *px = proxy_get(sb->ctx, err);
	if (!px) {
		r = -ENOMEM;
		goto fail;
	}
	s->px = px;
	struct cmd cmd = {.kind = CMD_ATTACH, .s = s};
	if ((r = run_cmd(px, &cmd)) < 0) {
		r = petri__err(err, -r, "egress proxy: serve sandbox %s", sb->id);
		goto fail;
	}
	sb->proxy = s;
	return 0;
fail:
	sb_free(s);
	return r;
}

void petri__proxy_detach(struct petri_sandbox *sb)
{
	struct petri_proxy_sb *s = sb ? sb->proxy : NULL;
	if (!s)
		return;
	struct cmd cmd = {.kind = CMD_DETACH, .s = s};
	run_cmd(s->px, &cmd);
	sb->proxy = NULL;
	sb_free(s);
}

void petri__proxy_counts(const struct petri_sandbox *sb, uint64_t *allowed, uint64_t *refused,
			 uint64_t *dns)
{
	const struct petri_proxy_sb *s = sb->proxy;
	*allowed = s ? __atomic_load_n(&s->decided[0], __ATOMIC_RELAXED) : 0;
	*refused = s ? __atomic_load_n(&s->decided[1], __ATOMIC_RELAXED) : 0;
	*dns = s ? __atomic_load_n(&s->dns_answered, __ATOMIC_RELAXED) : 0;
}

void petri__proxy_stop(struct petri_ctx *ctx)
{
	pthread_mutex_lock(&ctx->lock);
	struct petri_proxy *px = ctx->proxy;
	ctx->proxy = NULL;
	pthread_mutex_unlock(&ctx->lock);
	if (!px)
		return;
	struct cmd cmd = {.kind = CMD_STOP};
	run_cmd(px, &cmd);
	pthread_join(px->thread, NULL);
	proxy_free(px);
}
