/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit.c - each tenant's audit stream (its config's "audit"): a file or a
 * unix socket of protobuf frames (as `petri run --audit` writes), or a
 * unix socket of JSON lines, one event per line, formatted by the library's
 * reader from each framed event, for syslog pipelines.  All three go
 * through a callback sink, which also counts the egress proxy's decisions
 * for /metrics.
 *
 * A stream is shared by the tenant's sandboxes, which borrow it: it is
 * reference counted (the tenant's current config holds one, each sandbox
 * one) and closed, with its StreamEnd, when the last goes.  A reload that
 * keeps a tenant's destination keeps its stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "petrid.h"

struct pd_audit {
	int refs; /* audit_lock */
	petri_audit *a;
	char key[600]; /* the destination, to keep the stream across reloads */
	char tenant[65];
	struct pd_tenant_rt *rt; /* its egress counters (never freed) */
	bool jsonl, file;
	int fd; /* the file or socket (used by the writer thread only) */
	char path[108];
};

static pthread_mutex_t audit_lock = PTHREAD_MUTEX_INITIALIZER;

struct pd_audit *pd_audit_ref(struct pd_audit *a)
{
	if (a) {
		pthread_mutex_lock(&audit_lock);
		a->refs++;
		pthread_mutex_unlock(&audit_lock);
	}
	return a;
}

void pd_audit_unref(struct pd_audit *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&audit_lock);
	bool last = --a->refs == 0;
	pthread_mutex_unlock(&audit_lock);
	if (!last)
		return;
	petri_error *err = NULL;
	if (petri_audit_close(a->a, &err) < 0)
		pd_log("audit stream of %s: %s", a->tenant, petri_error_message(err));
	else
		pd_log("audit stream of %s closed", a->tenant);
	petri_error_free(err);
	if (a->fd >= 0)
		close(a->fd);
	free(a);
}

petri_audit *pd_audit_stream(struct pd_audit *a)
{
	return a ? a->a : NULL;
}

void pd_audit_stats(struct pd_audit *a, uint64_t *events, uint64_t *lost)
{
	petri_audit_stats st = {.sz = sizeof(st)};
	*events = *lost = 0;
	if (!a || petri_audit_get_stats(a->a, &st) < 0)
		return;
	*events = st.written;
	*lost = st.lost_queue + st.lost_sink + st.lost_size;
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static int send_all(int fd, const void *data, size_t n, bool file)
{
	const char *p = data;
	while (n > 0) {
		ssize_t w = file ? write(fd, p, n) : send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Count an egress decision of a NetConnection event (@json, the reader's
 * JSON form): the value of its "decision" key, wherever it is nested. */
static const char *find_decision(json_object *o, int depth)
{
	if (depth > 8 || !json_object_is_type(o, json_type_object))
		return NULL;
	json_object_object_foreach(o, k, v)
	{
		if (strcmp(k, "decision") == 0 && json_object_is_type(v, json_type_string))
			return json_object_get_string(v);
		const char *d = find_decision(v, depth + 1);
		if (d)
			return d;
	}
	return NULL;
}

static void count_egress(struct pd_audit *a, const char *line)
{
	json_object *o = json_tokener_parse(line);
	const char *d = o ? find_decision(o, 0) : NULL;
	if (d && strcasestr(d, "allowed"))
		__atomic_fetch_add(&a->rt->egress[0], 1, __ATOMIC_RELAXED);
	else if (d && strcasestr(d, "denied"))
		__atomic_fetch_add(&a->rt->egress[1], 1, __ATOMIC_RELAXED);
	json_object_put(o);
}

/* The sink of every tenant stream: one framed event in; the frame to the
 * file or socket (protobuf), or one JSON line (jsonl).  Egress decisions are
 * counted on the way for /metrics. */
static int tenant_sink(const void *data, size_t len, void *userdata)
{
	struct pd_audit *a = userdata;
	petri_audit_reader_opts ro = PETRI_AUDIT_READER_OPTS_INIT;
	petri_audit_reader *r = NULL;
	char *line = NULL;
	int rc;

	ro.source = PETRI_AUDIT_SRC_MEMORY;
	ro.flags = PETRI_AUDIT_READER_F_NO_VERIFY;
	ro.data = data;
	ro.data_len = len;
	rc = petri_audit_reader_open(&r, &ro, NULL);
	if (rc == 0 && (rc = petri_audit_reader_next(r, NULL)) == 1) {
		bool net = petri_audit_reader_kind(r) == PETRI_AUDIT_KIND_NET_CONNECTION;
		rc = 0;
		if (a->jsonl || net)
			rc = petri_audit_reader_format(r, PETRI_AUDIT_FORMAT_JSON, &line, NULL);
		if (rc == 0 && net)
			count_egress(a, line);
	} else if (rc == 0) {
		rc = -EBADMSG;
	}
	petri_audit_reader_close(r);
	if (rc < 0) {
		petri_free(line);
		return rc;
	}
	if (!a->jsonl) {
		petri_free(line);
		return a->fd >= 0 && send_all(a->fd, data, len, a->file) == 0 ? 0 : -EIO;
	}
	size_t n = strlen(line);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (a->fd < 0)
			a->fd = connect_unix(a->path);
		if (a->fd >= 0 && send_all(a->fd, line, n, false) == 0 &&
		    send_all(a->fd, "\n", 1, false) == 0) {
			petri_free(line);
			return 0;
		}
		if (a->fd >= 0)
			close(a->fd);
		a->fd = -1; /* the collector went away: reconnect once (lines stand alone) */
	}
	petri_free(line);
	return -EIO;
}

static struct pd_audit *open_stream(const struct pd_tenant *t, const char *key, char *err,
				    size_t errlen)
{
	struct pd_audit *a = calloc(1, sizeof(*a));
	petri_audit_opts o = PETRI_AUDIT_OPTS_INIT;
	petri_error *perr = NULL;
	const char *path = t->audit.file ? t->audit.file : t->audit.unix_path;

	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->refs = 1;
	a->fd = -1;
	a->jsonl = t->audit.jsonl;
	a->file = t->audit.file != NULL;
	snprintf(a->key, sizeof(a->key), "%s", key);
	snprintf(a->tenant, sizeof(a->tenant), "%s", t->name);
	pthread_mutex_lock(&pd.lock);
	a->rt = pd_tenant_rt(t->name);
	pthread_mutex_unlock(&pd.lock);
	if (!a->rt || strlen(path) >= sizeof(a->path)) {
		snprintf(err, errlen, "tenants.%s.audit: %s", t->name,
			 a->rt ? "path too long" : "out of memory");
		free(a);
		return NULL;
	}
	snprintf(a->path, sizeof(a->path), "%s", path);
	if (a->file)
		a->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	else
		a->fd = connect_unix(path);
	if (a->fd < 0) {
		snprintf(err, errlen, "tenants.%s.audit.%s: %s %s: %s", t->name,
			 a->file ? "file" : "unix", a->file ? "open" : "connect", path,
			 strerror(errno));
		free(a);
		return NULL;
	}
	o.ctx = pd.ctx;
	o.sink = PETRI_AUDIT_SINK_CALLBACK;
	o.sink_fn = tenant_sink;
	o.sink_userdata = a;
	/* A socket feeds a collector that must never stop recording; a file
	 * keeps the library's bound against floods. */
	if (!a->file)
		o.max_bytes = PETRI_AUDIT_MAX_BYTES_UNLIMITED;
	int rc = petri_audit_open(&a->a, &o, &perr);
	if (rc < 0) {
		snprintf(err, errlen, "tenants.%s.audit: %s", t->name,
			 *petri_error_message(perr) ? petri_error_message(perr) : strerror(-rc));
		petri_error_free(perr);
		close(a->fd);
		free(a);
		return NULL;
	}
	pd_log("audit stream of %s opened (%s)", t->name, key);
	return a;
}

static void key_of(const struct pd_tenant *t, char *key, size_t size)
{
	if (t->audit.file)
		snprintf(key, size, "file:%s", t->audit.file);
	else
		snprintf(key, size, "unix:%s:%s", t->audit.unix_path,
			 t->audit.jsonl ? "jsonl" : "protobuf");
}

int pd_audit_apply(struct pd_config *cfg, char *err, size_t errlen)
{
	struct pd_audit **fresh = calloc(cfg->ntenants + 1, sizeof(*fresh));
	if (!fresh) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* Open what is new first: a failure leaves everything as it was. */
	for (size_t i = 0; i < cfg->ntenants; i++) {
		const struct pd_tenant *t = &cfg->tenants[i];
		char key[600];
		if (!t->has_audit)
			continue;
		key_of(t, key, sizeof(key));
		pthread_mutex_lock(&pd.lock);
		struct pd_tenant_rt *rt = pd_tenant_rt(t->name);
		bool same = rt && rt->audit && strcmp(rt->audit->key, key) == 0;
		pthread_mutex_unlock(&pd.lock);
		if (same)
			continue;
		if (!(fresh[i] = open_stream(t, key, err, errlen))) {
			for (size_t k = 0; k < i; k++)
				pd_audit_unref(fresh[k]);
			free(fresh);
			return -1;
		}
	}
	struct pd_audit *old[1024];
	size_t nold = 0;
	pthread_mutex_lock(&pd.lock);
	for (struct pd_tenant_rt *rt = pd.tenants; rt; rt = rt->next) {
		const struct pd_tenant *t = pd_config_tenant(cfg, rt->name);
		size_t i = t ? (size_t)(t - cfg->tenants) : 0;
		if (t && fresh[i]) {
			if (rt->audit && nold < 1024)
				old[nold++] = rt->audit;
			rt->audit = fresh[i];
			fresh[i] = NULL;
		} else if ((!t || !t->has_audit) && rt->audit && nold < 1024) {
			old[nold++] = rt->audit;
			rt->audit = NULL;
		}
	}
	pthread_mutex_unlock(&pd.lock);
	for (size_t i = 0; i < nold; i++)
		pd_audit_unref(old[i]);
	for (size_t i = 0; i < cfg->ntenants; i++)
		pd_audit_unref(fresh[i]); /* (none left: every tenant has its rt) */
	free(fresh);
	return 0;
}

void pd_audit_close_all(void)
{
	struct pd_audit *old[1024];
	size_t nold = 0;
	pthread_mutex_lock(&pd.lock);
	for (struct pd_tenant_rt *rt = pd.tenants; rt; rt = rt->next)
		if (rt->audit && nold < 1024) {
			old[nold++] = rt->audit;
			rt->audit = NULL;
		}
	pthread_mutex_unlock(&pd.lock);
	for (size_t i = 0; i < nold; i++)
		pd_audit_unref(old[i]);
}
