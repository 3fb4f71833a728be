/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.c - petrid's HTTP side on libmicrohttpd: one daemon per listen
 * address, each with one epoll thread (never a thread per connection).
 *
 * A request goes through the access handler in three steps: its head
 * (route, auth and Content-Length are checked at once, so a 401, 404, 405
 * or 413 never waits for a body), its body (accumulated up to
 * max_body_bytes, within request_timeout from the first byte of the
 * request), and its end, where the dispatcher plugged in by main.c
 * (routes.c's pd_route) answers it or suspends it while an operation runs
 * elsewhere (pd_http_suspend / pd_http_finish).  Connections idle for
 * request_timeout are closed by MHD; heads are bounded by the
 * per-connection memory limit.  The transport calls nothing above it:
 * the dispatcher and the exec's client-gone hook come in pd_http_hooks.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "petrid.h"

#define PD_MAX_DAEMONS 16
#define PD_CONN_MEMORY (64 * 1024)

static struct MHD_Daemon *daemons[PD_MAX_DAEMONS];
static size_t ndaemons;
/* What the layers above plug in (pd_http_start). */
static struct pd_http_hooks hooks;

/* Every open connection, for the bound on how long a request may take to
 * arrive: libmicrohttpd only bounds idleness, so a head or body sent a byte
 * at a time would hold a connection forever.  The timer shuts down the
 * socket of a connection whose request is not all in after
 * request_timeout (counted from the connection's start or the end of its
 * previous request); MHD then closes it.  An entry leaves the list at the
 * CLOSED notification, under ct_lock, before MHD closes the fd, so a
 * shutdown never hits a reused fd. */
struct conntrack {
	int fd;
	int64_t start_mono;
	bool waiting; /* a request (head or body) is still arriving */
	bool shut;
	struct conntrack *next, *prev;
};
static pthread_mutex_t ct_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conntrack *conns;
static unsigned ct_timeout_s = 30;

static struct conntrack *conntrack_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

/* The request on @mc is all in (or answered): its clock stops. */
static void conntrack_arrived(struct MHD_Connection *mc)
{
	struct conntrack *t = conntrack_of(mc);
	if (!t)
		return;
	pthread_mutex_lock(&ct_lock);
	t->waiting = false;
	pthread_mutex_unlock(&ct_lock);
}

/* Connections open over all listen addresses, and the most allowed
 * (max_connections, read once).  One beyond is closed as soon as it is
 * accepted (accept_policy), rather than left waiting in the listen backlog
 * as libmicrohttpd does at its own limit (set a little higher, so that
 * ours is the one that acts). */
static unsigned open_conns, max_conns;

static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
	(void)cls;
	(void)addr;
	(void)len;
	/* The slot is taken here, not when MHD_CONNECTION_NOTIFY_STARTED comes:
	 * libmicrohttpd may accept several connections in one pass before it
	 * starts any, and counting at start let one beyond the bound in.  It is
	 * given back at MHD_CONNECTION_NOTIFY_CLOSED. */
	unsigned n = __atomic_load_n(&open_conns, __ATOMIC_RELAXED);
	do {
		if (n >= max_conns)
			return MHD_NO;
	} while (!__atomic_compare_exchange_n(&open_conns, &n, n + 1, false, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return MHD_YES;
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	(void)cls;
	if (code == MHD_CONNECTION_NOTIFY_CLOSED)
		__atomic_fetch_sub(&open_conns, 1, __ATOMIC_RELAXED);
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct conntrack *t = calloc(1, sizeof(*t));
		if (!t || !ci) {
			free(t);
			return;
		}
		t->fd = ci->connect_fd;
		t->start_mono = pd_mono_ms();
		t->waiting = true;
		pthread_mutex_lock(&ct_lock);
		t->next = conns;
		if (conns)
			conns->prev = t;
		conns = t;
		pthread_mutex_unlock(&ct_lock);
		*socket_context = t;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
		struct conntrack *t = *socket_context;
		pthread_mutex_lock(&ct_lock);
		if (t->prev)
			t->prev->next = t->next;
		else
			conns = t->next;
		if (t->next)
			t->next->prev = t->prev;
		pthread_mutex_unlock(&ct_lock);
		free(t);
		*socket_context = NULL;
	}
}

void pd_http_tick(void)
{
	int64_t now = pd_mono_ms();
	pthread_mutex_lock(&ct_lock);
	for (struct conntrack *t = conns; t; t = t->next)
		if (t->waiting && !t->shut && now - t->start_mono > (int64_t)ct_timeout_s * 1000) {
			/* MHD sees the end of the stream and closes it. */
			shutdown(t->fd, SHUT_RDWR);
			t->shut = true;
		}
	pthread_mutex_unlock(&ct_lock);
}

/* ---- answers ---- */

/* Bytes of answers held for clients that have not read them yet (file
 * GETs, listings, exec results; pd.lock). */
static uint64_t held_bytes;

struct held {
	void *data;
	size_t len;
	void (*free_data)(void *);
};

/* MHD is done with the answer: its bytes are no longer held. */
static void held_free(void *cls)
{
	struct held *h = cls;
	pthread_mutex_lock(&pd.lock);
	held_bytes -= h->len;
	pthread_mutex_unlock(&pd.lock);
	h->free_data(h->data);
	free(h);
}

bool pd_held_full(void)
{
	pthread_mutex_lock(&pd.lock);
	bool full = held_bytes >= PD_HELD_MAX;
	pthread_mutex_unlock(&pd.lock);
	return full;
}

void pd_fail_held(struct pd_err *e)
{
	pd_fail(e, 429, "unread_answers",
		"answers not yet read by their clients hold %llu MiB already",
		(unsigned long long)(PD_HELD_MAX >> 20));
}

struct MHD_Response *pd_held_response(void *data, size_t len, void (*free_data)(void *), bool force,
				      struct pd_err *e)
{
	struct held *h = malloc(sizeof(*h));
	if (!h) {
		free_data(data);
		pd_fail(e, 500, "internal", "out of memory");
		return NULL;
	}
	*h = (struct held){data, len, free_data};
	pthread_mutex_lock(&pd.lock);
	bool over = !force && held_bytes + len > PD_HELD_MAX;
	if (!over)
		held_bytes += len;
	pthread_mutex_unlock(&pd.lock);
	if (over) {
		free_data(data);
		free(h);
		pd_fail_held(e);
		return NULL;
	}
	struct MHD_Response *r =
		MHD_create_response_from_buffer_with_free_callback_cls(len, data, held_free, h);
	if (!r) {
		held_free(h);
		pd_fail(e, 500, "internal", "out of memory");
	}
	return r;
}

struct MHD_Response *pd_json_response(json_object *o)
{
	size_t len = 0;
	const char *text =
		o ? json_object_to_json_string_length(
			    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len) :
		    NULL;
	if (!text) {
		text = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
		len = strlen(text);
	}
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
	if (r)
		MHD_add_response_header(r, "Content-Type", "application/json");
	return r;
}

struct MHD_Response *pd_error_response(const struct pd_err *e)
{
	json_object *o = json_object_new_object(), *in = json_object_new_object();
	if (o && in) {
		json_object_object_add(in, "code", json_object_new_string(e->code));
		json_object_object_add(in, "message", json_object_new_string(e->message));
		if (e->quota)
			json_object_object_add(in, "quota", json_object_new_string(e->quota));
		const char *name = e->err_no > 0 ? strerrorname_np(e->err_no) : NULL;
		if (name)
			json_object_object_add(in, "errno", json_object_new_string(name));
		json_object_object_add(o, "error", in);
		in = NULL;
	}
	json_object_put(in);
	struct MHD_Response *r = pd_json_response(o);
	json_object_put(o);
	if (!r)
		return NULL;
	if (e->status == 401)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
	if (e->status == 405 && e->allow)
		MHD_add_response_header(r, "Allow", e->allow);
	if (e->status == 429 &&
	    (strcmp(e->code, "too_many_execs") == 0 || strcmp(e->code, "unread_answers") == 0))
		MHD_add_response_header(r, "Retry-After", "1");
	if (e->status == 503)
		MHD_add_response_header(r, "Connection", "close");
	return r;
}

static void count_status(unsigned status)
{
	pthread_mutex_lock(&pd.lock);
	if (status < 600)
		pd.http_by_code[status]++;
	pthread_mutex_unlock(&pd.lock);
}

enum MHD_Result pd_http_queue(struct pd_conn *c, unsigned status, struct MHD_Response *r)
{
	if (!r)
		return MHD_NO;
	c->responded = true;
	conntrack_arrived(c->mc);
	count_status(status);
	enum MHD_Result ret = MHD_queue_response(c->mc, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result pd_http_error(struct pd_conn *c, const struct pd_err *e)
{
	if (e->status >= 500 || e->status == 429)
		pd_log("%s %s: %u %s: %s", c->tenant ? c->tenant->name : "-",
		       c->rq.id[0] ? c->rq.id : "-", e->status, e->code, e->message);
	return pd_http_queue(c, e->status, pd_error_response(e));
}

static void on_hangup(void *arg);

void pd_http_suspend(struct pd_conn *c)
{
	c->async = 1;
	MHD_suspend_connection(c->mc);
	/* While suspended MHD does not see the client go away: the watcher
	 * does (an exec is then cancelled). */
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c->mc, MHD_CONNECTION_INFO_CONNECTION_FD);
	c->watch_slot = ci ? pd_watch_add(ci->connect_fd, on_hangup, c) : -1;
}

void pd_http_finish(struct pd_conn *c, unsigned status, struct MHD_Response *resp)
{
	if (c->watch_slot >= 0) {
		pd_watch_remove(c->watch_slot);
		c->watch_slot = -1;
	}
	c->status = status;
	c->resp = resp;
	c->async = 2;
	MHD_resume_connection(c->mc);
}

void pd_http_finish_error(struct pd_conn *c, const struct pd_err *e)
{
	if (e->status >= 500)
		pd_log("%s %s: %u %s: %s", c->tenant ? c->tenant->name : "-",
		       c->rq.id[0] ? c->rq.id : "-", e->status, e->code, e->message);
	pd_http_finish(c, e->status, pd_error_response(e));
}

void pd_http_finish_json(struct pd_conn *c, unsigned status, json_object *o)
{
	pd_http_finish(c, status, pd_json_response(o));
	json_object_put(o);
}

/* ---- the access handler ---- */

static const struct pd_tenant *authenticate(struct pd_conn *c)
{
	const char *h = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	/* Whitespace around a field value is not part of it (RFC 9110 5.5);
	 * libmicrohttpd keeps the trailing part. */
	size_t n = strlen(h);
	while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	if (h[n] == '\0')
		return pd_config_auth(c->cfg, h, &c->admin);
	char *token = strndup(h, n);
	if (!token)
		return NULL;
	const struct pd_tenant *t = pd_config_auth(c->cfg, token, &c->admin);
	explicit_bzero(token, n);
	free(token);
	return t;
}

/* Headers a request must not have twice (or together): a front proxy
 * that reads the other one would see another request than we do
 * (request smuggling), or another tenant. */
struct head_count {
	unsigned content_length, transfer_encoding, authorization;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	struct head_count *n = cls;
	(void)kind;
	(void)value;
	if (strcasecmp(key, "Content-Length") == 0)
		n->content_length++;
	else if (strcasecmp(key, "Transfer-Encoding") == 0)
		n->transfer_encoding++;
	else if (strcasecmp(key, "Authorization") == 0)
		n->authorization++;
	return MHD_YES;
}

/* 400 bad_request for a head whose framing or credentials are ambiguous,
 * closing the connection (what follows on it cannot be trusted). */
static const char *ambiguous_head(struct MHD_Connection *mc)
{
	struct head_count n = {0};
	MHD_get_connection_values(mc, MHD_HEADER_KIND, count_header, &n);
	if (n.content_length > 1)
		return "more than one Content-Length header";
	if (n.content_length && n.transfer_encoding)
		return "both Content-Length and Transfer-Encoding";
	if (n.transfer_encoding > 1)
		return "more than one Transfer-Encoding header";
	if (n.authorization > 1)
		return "more than one Authorization header";
	return NULL;
}

/* The head is in: route, auth, size.  MHD_YES to go on reading. */
static enum MHD_Result on_head(struct pd_conn *c, const char *url, const char *method)
{
	struct pd_err e;
	const char *mode = MHD_lookup_connection_value(c->mc, MHD_GET_ARGUMENT_KIND, "mode");
	const char *ambiguous = ambiguous_head(c->mc);

	if (ambiguous) {
		pd_fail(&e, 400, "bad_request", "%s", ambiguous);
		struct MHD_Response *r = pd_error_response(&e);
		if (r)
			MHD_add_response_header(r, "Connection", "close");
		return pd_http_queue(c, 400, r);
	}

	if (pd_route_match(method, url, mode, &c->rq, &e) < 0)
		return pd_http_error(c, &e);
	if (pd.draining && c->rq.route != PD_R_HEALTHZ) {
		pd_fail(&e, 503, "shutting_down", "petrid is shutting down");
		return pd_http_error(c, &e);
	}
	if (c->rq.route != PD_R_HEALTHZ) {
		c->tenant = authenticate(c);
		if (!c->tenant && !(c->admin && c->rq.route == PD_R_METRICS)) {
			pd_fail(&e, 401, "unauthorized", "missing or unknown bearer token");
			return pd_http_error(c, &e);
		}
	}
	const char *cl = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, "Content-Length");
	if (cl) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(cl, &end, 10);
		if (errno || *end || n > c->cfg->max_body) {
			pd_fail(&e, 413, "body_too_large", "the body is larger than %llu bytes",
				(unsigned long long)c->cfg->max_body);
			return pd_http_error(c, &e);
		}
		/* Memory follows the bytes that arrive, not what is announced. */
		if (n > 0) {
			size_t cap = n + 1 < 65536 ? (size_t)n + 1 : 65536;
			c->body = malloc(cap);
			if (!c->body)
				return MHD_NO;
			c->body_cap = cap;
		}
	}
	return MHD_YES;
}

static enum MHD_Result on_body(struct pd_conn *c, const char *data, size_t len)
{
	if (pd_mono_ms() - c->start_mono > (int64_t)c->cfg->request_timeout * 1000) {
		pd_log("request body took over %u s: connection closed", c->cfg->request_timeout);
		return MHD_NO;
	}
	if (c->too_large) {
		/* Read on (and drop) at most as much again, then hang up. */
		c->body_dropped += len;
		return c->body_dropped > c->cfg->max_body ? MHD_NO : MHD_YES;
	}
	if (len > c->cfg->max_body - c->body_len) {
		/* Chunked (no Content-Length) and over the bound. */
		c->too_large = true;
		return MHD_YES;
	}
	if (c->body_len + len + 1 > c->body_cap) {
		size_t cap = c->body_cap ? c->body_cap : 4096;
		while (cap < c->body_len + len + 1)
			cap *= 2;
		if (cap > c->cfg->max_body + 1)
			cap = c->cfg->max_body + 1;
		char *b = realloc(c->body, cap);
		if (!b)
			return MHD_NO;
		c->body = b;
		c->body_cap = cap;
	}
	memcpy(c->body + c->body_len, data, len);
	c->body_len += len;
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct pd_conn *c = *con_cls;
	(void)cls;
	(void)version;

	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return MHD_NO;
		c->mc = mc;
		c->watch_slot = -1;
		c->start_mono = pd_mono_ms();
		c->cfg = pd_config_get();
		*con_cls = c;
		return on_head(c, url, method);
	}
	if (c->responded) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		enum MHD_Result r = on_body(c, upload, *upload_size);
		*upload_size = 0;
		return r;
	}
	if (c->async == 2) {
		struct MHD_Response *r = c->resp;
		c->resp = NULL;
		c->async = 0;
		return pd_http_queue(c, c->status, r);
	}
	if (c->async == 1)
		return MHD_YES;
	conntrack_arrived(mc);
	struct pd_err e;
	if (c->too_large) {
		pd_fail(&e, 413, "body_too_large", "the body is larger than %llu bytes",
			(unsigned long long)c->cfg->max_body);
		return pd_http_error(c, &e);
	}
	if (c->body)
		c->body[c->body_len] = '\0';
	if (pd_route_json_body(&c->rq) &&
	    pd_request_body(&c->rq,
			    MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Type"),
			    c->body, c->body_len, &e) < 0)
		return pd_http_error(c, &e);
	if (c->rq.route == PD_R_EXEC) {
		const char *accept = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Accept");
		c->rq.stream = accept && strstr(accept, "text/event-stream");
	}
	return hooks.route(c);
}

/* The watcher saw the client of a suspended connection go away. */
static void on_hangup(void *arg)
{
	struct pd_conn *c = arg;
	pthread_mutex_lock(&pd.lock);
	if (c->exec) {
		pd_log("client went away: cancelling its exec");
		hooks.client_gone_locked(c->exec);
	}
	pthread_mutex_unlock(&pd.lock);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct pd_conn *c = *con_cls;
	(void)cls;
	(void)toe;
	/* The next request on this connection starts its clock now. */
	struct conntrack *t = conntrack_of(mc);
	if (t) {
		pthread_mutex_lock(&ct_lock);
		t->waiting = true;
		t->start_mono = pd_mono_ms();
		pthread_mutex_unlock(&ct_lock);
	}
	if (!c)
		return;
	*con_cls = NULL;
	if (c->resp)
		MHD_destroy_response(c->resp);
	pd_config_put(c->cfg);
	pd_request_clear(&c->rq);
	free(c->body);
	free(c);
}

/* Keep the path as it came: request.c decodes it (and refuses %00). */
static size_t unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	pd_log("http: %s", line);
}

/* ---- listening ---- */

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		pd_log("listen unix:%s: path too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* A socket file nobody answers on is stale: replace it.  Anything
	 * else at the path is not ours to remove. */
	struct stat st;
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		pd_log("listen unix:%s: exists and is not a socket", path);
		close(fd);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		pd_log("listen unix:%s: another server answers there", path);
		close(fd);
		return -1;
	}
	close(fd);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0660) < 0 ||
	    listen(fd, 128) < 0) {
		pd_log("listen unix:%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int listen_tcp(const char *spec)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof(host)) {
		pd_log("listen %s: expected HOST:PORT", spec);
		return -1;
	}
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai;
	int r = getaddrinfo(host, colon + 1, &hints, &ai);
	if (r != 0) {
		pd_log("listen %s: %s", spec, gai_strerror(r));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		pd_log("listen %s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	return fd;
}

int pd_http_start(const struct pd_config *cfg, const struct pd_http_hooks *h)
{
	size_t n = pd_strv_len(cfg->listen);
	if (n > PD_MAX_DAEMONS) {
		pd_log("listen: at most %d addresses", PD_MAX_DAEMONS);
		return -1;
	}
	hooks = *h;
	ct_timeout_s = cfg->request_timeout;
	max_conns = (unsigned)cfg->max_connections;
	pd.unix_paths = calloc(PD_MAX_DAEMONS + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		const char *spec = cfg->listen[i];
		bool unx = strncmp(spec, "unix:", 5) == 0;
		int fd = unx ? listen_unix(spec + 5) : listen_tcp(spec);
		if (fd < 0)
			return -1;
		if (unx && pd.unix_paths)
			pd.unix_paths[i] = strdup(spec + 5);
		struct MHD_Daemon *d = MHD_start_daemon(
			MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME |
				MHD_USE_ERROR_LOG,
			0, accept_policy, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER,
			mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_TIMEOUT,
			(unsigned)cfg->request_timeout, MHD_OPTION_CONNECTION_LIMIT,
			(unsigned)cfg->max_connections + 2 * PD_MAX_DAEMONS,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)PD_CONN_MEMORY,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
			MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
			MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, NULL, MHD_OPTION_END);
		if (!d) {
			pd_log("listen %s: libmicrohttpd would not start", spec);
			close(fd);
			return -1;
		}
		daemons[ndaemons++] = d;
		pd_log("listening on %s", spec);
	}
	return 0;
}

void pd_http_stop(void)
{
	for (size_t i = 0; i < ndaemons; i++)
		MHD_stop_daemon(daemons[i]);
	ndaemons = 0;
	for (size_t i = 0; pd.unix_paths && i < PD_MAX_DAEMONS; i++) {
		if (!pd.unix_paths[i])
			continue;
		unlink(pd.unix_paths[i]);
		free(pd.unix_paths[i]);
	}
	free(pd.unix_paths);
	pd.unix_paths = NULL;
}
