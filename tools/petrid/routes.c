/* SPDX-License-Identifier: Apache-2.0 */
/*
 * routes.c - one handler per route of docs/petrid.md.  A handler runs on
 * the MHD thread: what is quick (lookups, quotas, keepalive, cancel, the
 * list, metrics) is answered there; what blocks on a sandbox (create,
 * delete, files; execs on their own threads) suspends the connection and
 * runs elsewhere.  Tenant policy is checked here: languages, the egress
 * allowlist, secrets and every quota (429 naming it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "petrid.h"

/* Library defaults, for the sandbox object and the memory quota. */
#define LIB_MEMORY (512ull << 20)
#define LIB_PIDS 256
#define LIB_TMP (64ull << 20)
#define LIB_WORKSPACE (256ull << 20)

static enum MHD_Result fail(struct pd_conn *c, unsigned status, const char *code, const char *msg)
{
	struct pd_err e;
	pd_fail(&e, status, code, "%s", msg);
	return pd_http_error(c, &e);
}

/* 429 naming quota @name, whose value is @v (@unit appended). */
static enum MHD_Result quota(struct pd_conn *c, const char *name, double v, const char *unit)
{
	struct pd_err e;
	pd_fail(&e, 429, "quota_exceeded", "tenant %s: %s is %g%s", c->tenant->name, name, v, unit);
	e.quota = name;
	return pd_http_error(c, &e);
}

/* The caller's sandbox @c->rq.id with a reference, or NULL with the 404 or
 * 410 answered. */
static struct pd_sandbox *lookup(struct pd_conn *c, enum MHD_Result *r)
{
	bool expired = false;
	struct pd_sandbox *s = NULL;

	pthread_mutex_lock(&pd.lock);
	if (c->rq.id[0])
		s = pd_registry_get(c->tenant->name, c->rq.id, &expired);
	pthread_mutex_unlock(&pd.lock);
	if (!s)
		*r = expired ? fail(c, 410, "sandbox_expired", "the sandbox expired") :
			       fail(c, 404, "sandbox_not_found", "no such sandbox");
	return s;
}

static void put(struct pd_sandbox *s)
{
	pthread_mutex_lock(&pd.lock);
	pd_registry_put(s);
	pthread_mutex_unlock(&pd.lock);
}

/* ---- GET /healthz, GET /metrics ---- */

static enum MHD_Result healthz(struct pd_conn *c)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "status",
			       json_object_new_string(pd.draining ? "draining" : "ok"));
	json_object_object_add(o, "node", json_object_new_string(pd.node));
	json_object_object_add(o, "version", json_object_new_string(petri_version()));
	/* With a warm pool ("warm" in the config): whether every pool is full
	 * now.  Readiness only: creates work either way (a miss builds). */
	petri_pool_stats ps = {.sz = sizeof(ps)};
	bool pooled = false;
	for (uint32_t i = 0; !pooled; i++) {
		const char *l = petri_language_name(i);
		pooled = petri_ctx_pool_stats(pd.ctx, l, &ps) == 0;
		if (!l)
			break;
	}
	if (pooled)
		json_object_object_add(o, "pool_full",
				       json_object_new_boolean(petri_ctx_pool_wait(pd.ctx, 0) ==
							       0));
	struct MHD_Response *r = pd_json_response(o);
	json_object_put(o);
	if (!r)
		return MHD_NO;
	return pd_http_queue(c, pd.draining ? 503 : 200, r);
}

static enum MHD_Result metrics(struct pd_conn *c)
{
	size_t len = 0;
	char *text =
		pd_metrics_text(c->tenant && !c->admin ? c->tenant->name : NULL, c->admin, &len);
	if (!text)
		return fail(c, 500, "internal", "out of memory");
	struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
	return pd_http_queue(c, 200, r);
}

/* ---- GET /v1/sandboxes[/{id}] ---- */

static void list_one(struct pd_sandbox *s, void *arg)
{
	json_object_array_add(arg, pd_sandbox_json(s));
}

static enum MHD_Result answer_json(struct pd_conn *c, unsigned status, json_object *o)
{
	struct MHD_Response *r = pd_json_response(o);
	json_object_put(o);
	return pd_http_queue(c, status, r);
}

static enum MHD_Result list(struct pd_conn *c)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	pthread_mutex_lock(&pd.lock);
	pd_registry_each(c->tenant->name, list_one, a);
	pthread_mutex_unlock(&pd.lock);
	json_object_object_add(o, "sandboxes", a);
	return answer_json(c, 200, o);
}

static enum MHD_Result get(struct pd_conn *c)
{
	enum MHD_Result r;
	struct pd_sandbox *s = lookup(c, &r);
	if (!s)
		return r;
	pthread_mutex_lock(&pd.lock);
	json_object *o = pd_sandbox_json(s);
	pd_registry_put(s);
	pthread_mutex_unlock(&pd.lock);
	return answer_json(c, 200, o);
}

/* ---- POST /v1/sandboxes/{id}/keepalive, /cancel ---- */

static enum MHD_Result keepalive(struct pd_conn *c)
{
	enum MHD_Result r;
	if (c->rq.keepalive_has_timeout && c->rq.keepalive_timeout > c->tenant->max_ttl)
		return quota(c, "max_ttl", c->tenant->max_ttl, " s");
	struct pd_sandbox *s = lookup(c, &r);
	if (!s)
		return r;
	pthread_mutex_lock(&pd.lock);
	if (c->rq.keepalive_has_timeout)
		s->timeout = c->rq.keepalive_timeout;
	pd_sandbox_touch(s);
	json_object *o = pd_sandbox_json(s);
	pd_registry_put(s);
	pthread_mutex_unlock(&pd.lock);
	return answer_json(c, 200, o);
}

static enum MHD_Result cancel(struct pd_conn *c)
{
	enum MHD_Result r;
	struct pd_sandbox *s = lookup(c, &r);
	if (!s)
		return r;
	pthread_mutex_lock(&pd.lock);
	bool cancelled = pd_exec_cancel_locked(s);
	pd_registry_put(s);
	pthread_mutex_unlock(&pd.lock);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "cancelled", json_object_new_boolean(cancelled));
	return answer_json(c, 200, o);
}

/* ---- DELETE /v1/sandboxes/{id} ---- */

struct del_job {
	struct pd_conn *c;
	struct pd_sandbox *s;
};

static void delete_job(void *arg)
{
	struct del_job *j = arg;
	if (pd_sandbox_retire(j->s, PD_DESTROY_DELETED)) {
		struct MHD_Response *r =
			MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		pd_http_finish(j->c, 204, r);
	} else {
		struct pd_err e;
		pd_fail(&e, 404, "sandbox_not_found", "no such sandbox");
		pd_http_finish_error(j->c, &e);
	}
	free(j);
}

static enum MHD_Result delete (struct pd_conn *c) {
	enum MHD_Result r; struct pd_sandbox *s = lookup(c, &r); if (!s) return r;
		struct del_job *j = malloc(sizeof(*j));
		if (!j){put(s); return fail(c, 500, "internal", "out of memory");
}
*j = (struct del_job){c, s};
pd_http_suspend(c);
if (pd_pool_submit(delete_job, j) < 0)
	delete_job(j); /* no worker: do it here rather than leak it */
return MHD_YES;
}

/* ---- POST /v1/sandboxes ---- */

/* The create fields: the request's, else the tenant's defaults. */
struct create_job {
	struct pd_conn *c;
	struct pd_create req; /* merged */
	uint64_t memory;
	double timeout;
	struct pd_sandbox *rec;
};

static void merge_defaults(struct pd_create *m, const struct pd_create *d)
{
	uint32_t missing = ~m->set & d->set;
	if ((missing & PD_C_LANGUAGE) && d->language)
		m->language = strdup(d->language);
	if (missing & PD_C_MEMORY)
		m->memory = d->memory;
	if (missing & PD_C_TMP)
		m->tmp_size = d->tmp_size;
	if (missing & PD_C_WORKSPACE)
		m->workspace_size = d->workspace_size;
	if (missing & PD_C_NET_MAX_BYTES)
		m->net_max_bytes = d->net_max_bytes;
	if (missing & PD_C_PIDS)
		m->pids = d->pids;
	if (missing & PD_C_NET_MAX_CONNS)
		m->net_max_conns = d->net_max_conns;
	if (missing & PD_C_CPUS)
		m->cpus_milli = d->cpus_milli;
	if (missing & PD_C_TIMEOUT)
		m->timeout = d->timeout;
	if (missing & PD_C_NET)
		m->net = d->net;
	if (missing & PD_C_ALLOW)
		m->allow = pd_strv_dup(d->allow);
	if (missing & PD_C_SECRETS)
		m->secrets = pd_strv_dup(d->secrets);
	if (missing & PD_C_ENV)
		m->env = pd_strv_dup(d->env);
	if ((missing & PD_C_HOSTNAME) && d->hostname)
		m->hostname = strdup(d->hostname);
	m->set |= d->set;
}

static void make_id(char *out, size_t size)
{
	unsigned char b[12];
	size_t got = 0;
	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if (n > 0)
			got += (size_t)n;
	}
	int o = snprintf(out, size, "sb_%s_", pd.node);
	for (size_t i = 0; i < sizeof(b) && o > 0 && (size_t)o + 2 < size; i++)
		o += snprintf(out + o, size - (size_t)o, "%02x", b[i]);
}

static void unreserve(const char *tenant, uint64_t memory)
{
	pthread_mutex_lock(&pd.lock);
	struct pd_tenant_rt *t = pd_tenant_rt(tenant);
	if (t) {
		t->live--;
		t->memory -= memory;
	}
	pthread_mutex_unlock(&pd.lock);
}

static void create_job(void *arg)
{
	struct create_job *j = arg;
	struct pd_conn *c = j->c;
	const struct pd_tenant *t = c->tenant;
	struct pd_create *m = &j->req;
	struct pd_sandbox *rec = calloc(1, sizeof(*rec));
	const struct petri_secret **secrets = NULL;
	struct petri_secret *sv = NULL;
	petri_error *err = NULL;
	struct pd_err e;
	size_t ns = pd_strv_len(m->secrets);

	if (pd.draining) {
		pd_fail(&e, 503, "shutting_down", "petrid is shutting down");
		goto fail;
	}
	if (!rec || (ns && (!(secrets = calloc(ns + 1, sizeof(*secrets))) ||
			    !(sv = calloc(ns, sizeof(*sv)))))) {
		pd_fail(&e, 500, "internal", "out of memory");
		goto fail;
	}
	make_id(rec->id, sizeof(rec->id));
	snprintf(rec->tenant, sizeof(rec->tenant), "%s", t->name);
	for (size_t i = 0; i < ns; i++) {
		const struct pd_secret_cfg *sc = pd_tenant_secret(t, m->secrets[i]);
		sv[i] = (struct petri_secret)PETRI_SECRET_INIT;
		sv[i].name = sc->name;
		sv[i].value = sc->value;
		sv[i].value_len = sc->value_len;
		sv[i].hosts = (const char *const *)sc->hosts;
		secrets[i] = &sv[i];
	}
	petri_sandbox_opts o = PETRI_SANDBOX_OPTS_INIT;
	o.id = rec->id;
	o.language = m->language;
	o.hostname = m->hostname;
	o.env = (const char *const *)m->env;
	o.memory_bytes = m->memory;
	o.tmp_bytes = m->tmp_size;
	o.workspace_bytes = m->workspace_size;
	o.pids_max = m->pids;
	o.cpus_milli = m->cpus_milli;
	o.net = (uint32_t)(m->net == PD_NET_UNSET ? PETRI_NET_NONE : m->net);
	o.allow = (const char *const *)m->allow;
	o.net_max_conns = m->net_max_conns;
	o.net_max_bytes = m->net_max_bytes;
	o.secrets = ns ? secrets : NULL;

	pthread_mutex_lock(&pd.lock);
	struct pd_tenant_rt *trt = pd_tenant_rt(t->name);
	rec->audit = trt ? pd_audit_ref(trt->audit) : NULL;
	pthread_mutex_unlock(&pd.lock);
	o.audit = pd_audit_stream(rec->audit);

	int64_t t0 = pd_mono_ms();
	petri_sandbox *sb = NULL;
	int rc = petri_sandbox_create(pd.ctx, &o, &sb, &err);
	if (rc < 0) {
		const char *msg = *petri_error_message(err) ? petri_error_message(err) :
							      strerror(-rc);
		if (rc == -EINVAL || rc == -EOPNOTSUPP || rc == -E2BIG)
			pd_fail(&e, 400, "invalid_argument", "%s", msg);
		else
			pd_fail(&e, 500, "internal", "%s", msg);
		e.err_no = -rc;
		goto fail;
	}
	rec->sb = sb;
	rec->refs = 1;
	rec->state = PD_SB_IDLE;
	rec->created_ms = pd_now_ms();
	pd_sandbox_touch(rec);
	rec->timeout = j->timeout;
	rec->language = m->language ? strdup(m->language) : NULL;
	rec->net = (int)o.net;
	rec->allow = m->allow ? pd_strv_dup(m->allow) : NULL;
	rec->secrets = m->secrets ? pd_strv_dup(m->secrets) : NULL;
	rec->memory = j->memory;
	rec->tmp_size = m->tmp_size ? m->tmp_size : LIB_TMP;
	rec->workspace_size = m->workspace_size ? m->workspace_size : LIB_WORKSPACE;
	rec->pids = m->pids ? m->pids : LIB_PIDS;
	rec->cpus_milli = m->cpus_milli;

	pthread_mutex_lock(&pd.lock);
	pd_registry_insert(rec);
	trt = pd_tenant_rt(t->name);
	if (trt)
		trt->created++;
	json_object *obj = pd_sandbox_json(rec);
	pthread_mutex_unlock(&pd.lock);
	pd_log("sandbox %s created for %s (%lld ms)", rec->id, t->name,
	       (long long)(pd_mono_ms() - t0));
	free(secrets);
	free(sv);
	pd_create_clear(&j->req);
	free(j);
	pd_http_finish_json(c, 201, obj);
	return;
fail:
	petri_error_free(err);
	if (rec)
		pd_audit_unref(rec->audit);
	pd_sandbox_free(rec);
	free(secrets);
	free(sv);
	unreserve(t->name, j->memory);
	pd_create_clear(&j->req);
	free(j);
	pd_http_finish_error(c, &e);
}

static enum MHD_Result create(struct pd_conn *c)
{
	const struct pd_tenant *t = c->tenant;
	struct create_job *j = calloc(1, sizeof(*j));
	struct pd_err e;

	if (!j)
		return fail(c, 500, "internal", "out of memory");
	j->c = c;
	j->req = c->rq.create;
	memset(&c->rq.create, 0, sizeof(c->rq.create));
	struct pd_create *m = &j->req;
	merge_defaults(m, &t->defaults);

	int rr = 0;
	if (m->language && !pd_tenant_language(t, m->language))
		rr = pd_fail(&e, 400, "invalid_argument",
			     "language: unknown language '%s' (not one of this tenant's)",
			     m->language);
	if (!rr && (m->allow || m->secrets) && m->net == PD_NET_UNSET)
		m->net = PETRI_NET_PROXY;
	if (!rr && m->net == PETRI_NET_HOST && !t->allow_host_net)
		rr = pd_fail(&e, 400, "invalid_argument",
			     "net: \"host\" is not allowed for this tenant");
	if (!rr && m->net == PETRI_NET_PROXY && !(m->allow && m->allow[0]) &&
	    !(m->secrets && m->secrets[0]))
		rr = pd_fail(&e, 400, "invalid_argument", "net: \"proxy\" needs allow or secrets");
	if (!rr && (m->allow || m->secrets) && m->net != PETRI_NET_PROXY &&
	    ((m->allow && m->allow[0]) || (m->secrets && m->secrets[0])))
		rr = pd_fail(&e, 400, "invalid_argument", "allow and secrets need net \"proxy\"");
	for (size_t i = 0; !rr && m->allow && m->allow[i]; i++)
		if (!pd_allow_covered(t, m->allow[i]))
			rr = pd_fail(&e, 400, "invalid_argument",
				     "allow: %s is not covered by this tenant's allowlist",
				     m->allow[i]);
	for (size_t i = 0; !rr && m->secrets && m->secrets[i]; i++)
		if (!pd_tenant_secret(t, m->secrets[i]))
			rr = pd_fail(&e, 400, "invalid_argument", "secrets: no secret named %s",
				     m->secrets[i]);
	if (rr) {
		pd_create_clear(m);
		free(j);
		return pd_http_error(c, &e);
	}
	j->timeout = m->timeout;
	j->memory = m->memory ? m->memory : LIB_MEMORY;
	if (j->timeout > t->max_ttl) {
		pd_create_clear(m);
		free(j);
		return quota(c, "max_ttl", t->max_ttl, " s");
	}
	/* Reserve its share of the quotas now (given back if create fails). */
	pthread_mutex_lock(&pd.lock);
	struct pd_tenant_rt *trt = pd_tenant_rt(t->name);
	const char *over = NULL;
	if (!trt)
		over = "internal";
	else if (trt->live >= t->max_sandboxes)
		over = "max_sandboxes";
	else if (trt->memory > t->max_memory || j->memory > t->max_memory - trt->memory)
		over = "max_memory";
	if (!over) {
		trt->live++;
		trt->memory += j->memory;
	}
	pthread_mutex_unlock(&pd.lock);
	if (over) {
		pd_create_clear(m);
		free(j);
		if (strcmp(over, "max_sandboxes") == 0)
			return quota(c, over, t->max_sandboxes, "");
		if (strcmp(over, "max_memory") == 0)
			return quota(c, over, (double)t->max_memory, " bytes");
		return fail(c, 500, "internal", "out of memory");
	}
	pd_http_suspend(c);
	if (pd_pool_submit(create_job, j) < 0)
		create_job(j);
	return MHD_YES;
}

/* ---- POST /v1/sandboxes/{id}/exec ---- */

static enum MHD_Result exec(struct pd_conn *c)
{
	const struct pd_tenant *t = c->tenant;
	struct pd_exec_req *x = &c->rq.exec;
	enum MHD_Result r;

	/* The default (30 s) never exceeds the tenant's largest. */
	if (!x->timeout_set && x->timeout > t->max_exec_timeout)
		x->timeout = t->max_exec_timeout;
	if (x->timeout > t->max_exec_timeout)
		return quota(c, "max_exec_timeout", t->max_exec_timeout, " s");
	if (x->language && !pd_tenant_language(t, x->language)) {
		struct pd_err e;
		pd_fail(&e, 400, "invalid_argument",
			"language: unknown language '%s' (not one of this tenant's)", x->language);
		return pd_http_error(c, &e);
	}
	/* Its result would be held for its client: not while such answers
	 * hold PD_HELD_MAX already (a stream has its own bound). */
	if (!c->rq.stream && pd_held_full()) {
		struct pd_err e;
		pd_fail_held(&e);
		return pd_http_error(c, &e);
	}
	struct pd_sandbox *s = lookup(c, &r);
	if (!s)
		return r;
	pthread_mutex_lock(&pd.lock);
	struct pd_tenant_rt *trt = pd_tenant_rt(t->name);
	/* (a DELETE may have begun since the lookup) */
	const char *busy = s->removed                                ? "sandbox_not_found" :
			   pd_sandbox_state(s) == PD_SB_DEAD         ? "sandbox_dead" :
			   s->state == PD_SB_RUNNING || s->file_busy ? "sandbox_busy" :
			   !trt                                      ? "internal" :
			   pd.execs_running >= c->cfg->max_execs     ? "too_many_execs" :
			   trt->execs_running >= t->max_execs        ? "max_execs" :
								       NULL;
	if (!busy) {
		s->state = PD_SB_RUNNING;
		pd_sandbox_touch(s);
		pd.execs_running++;
		trt->execs_running++;
	} else {
		pd_registry_put(s);
	}
	pthread_mutex_unlock(&pd.lock);
	if (!busy)
		return pd_exec_start(c, s);
	if (strcmp(busy, "sandbox_not_found") == 0)
		return fail(c, 404, busy, "no such sandbox");
	if (strcmp(busy, "sandbox_dead") == 0)
		return fail(c, 409, busy, "the sandbox's init died; only DELETE is left");
	if (strcmp(busy, "sandbox_busy") == 0)
		return fail(c, 409, busy, "another operation is running in the sandbox");
	if (strcmp(busy, "too_many_execs") == 0) {
		struct pd_err e;
		pd_fail(&e, 429, busy, "petrid runs max_execs (%u) execs already",
			c->cfg->max_execs);
		return pd_http_error(c, &e);
	}
	if (strcmp(busy, "max_execs") == 0)
		return quota(c, "max_execs", t->max_execs, "");
	return fail(c, 500, "internal", "out of memory");
}

/* ---- files ---- */

static enum MHD_Result files(struct pd_conn *c)
{
	enum MHD_Result r;
	struct pd_sandbox *s = lookup(c, &r);
	if (!s)
		return r;
	return pd_files_route(c, s);
}

enum MHD_Result pd_route(struct pd_conn *c)
{
	/* A request whose head came before the drain began is refused here. */
	if (pd.draining && c->rq.route != PD_R_HEALTHZ)
		return fail(c, 503, "shutting_down", "petrid is shutting down");
	switch (c->rq.route) {
	case PD_R_HEALTHZ:
		return healthz(c);
	case PD_R_METRICS:
		return metrics(c);
	case PD_R_SANDBOXES:
		return c->rq.method == PD_M_POST ? create(c) : list(c);
	case PD_R_SANDBOX:
		return c->rq.method == PD_M_DELETE ? delete (c) : get(c);
	case PD_R_EXEC:
		return exec(c);
	case PD_R_CANCEL:
		return cancel(c);
	case PD_R_KEEPALIVE:
		return keepalive(c);
	case PD_R_FILE:
	case PD_R_FILES:
		return files(c);
	default:
		return fail(c, 404, "not_found", "no such route");
	}
}
