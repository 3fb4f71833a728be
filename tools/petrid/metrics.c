/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.c - GET /metrics in the Prometheus text format 0.0.4.  Every
 * series carries a tenant label; a tenant's token sees only its own, the
 * admin token every tenant's and the HTTP counters.  Counters live in the
 * tenants' runtime state (pd.lock).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "petrid.h"

static const double buckets[PD_HIST_BUCKETS] = {0.01, 0.05, 0.1, 0.25, 0.5, 1,
						2.5,  5,    10,  30,   60,  300};

void pd_metrics_exec(struct pd_tenant_rt *t, int reason, double seconds)
{
	if (reason >= 0 && reason < 16)
		t->execs_by_reason[reason]++;
	size_t i = 0;
	while (i < PD_HIST_BUCKETS && seconds > buckets[i])
		i++;
	t->hist[i]++;
	t->hist_sum += seconds;
	t->hist_count++;
}

static void help(FILE *f, const char *name, const char *type, const char *text)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/* pd_registry_each: add a live sandbox's egress counts to @arg (two
 * uint64_t: allowed, refused).  Under pd.lock, so it is not destroyed
 * meanwhile (pd_sandbox_retire takes it out of the registry first). */
static void add_egress(struct pd_sandbox *s, void *arg)
{
	uint64_t *sum = arg;
	petri_net_stats ns = {.sz = sizeof(ns)};
	if (s->sb && petri_sandbox_net_stats(s->sb, &ns) == 0) {
		sum[0] += ns.allowed;
		sum[1] += ns.refused;
	}
}

/* The node's warm pool, one series per pool the library context has:
 * every language it knows, then NULL (label language=""). */
static void pool_metrics(FILE *f)
{
	static const struct {
		const char *name, *type, *help;
	} series[] = {
		{"petrid_pool_ready", "gauge", "Sandboxes ready in the node's warm pool."},
		{"petrid_pool_target", "gauge",
		 "Sandboxes the warm pool keeps ready (config warm)."},
		{"petrid_pool_hits_total", "counter", "Creates served from the warm pool."},
		{"petrid_pool_misses_total", "counter",
		 "Poolable creates that found the pool empty."},
		{"petrid_pool_created_total", "counter", "Sandboxes the pool's refill built."},
		{"petrid_pool_recycled_total", "counter",
		 "Deleted sandboxes reset, proven clean and put back."},
		{"petrid_pool_discarded_total", "counter",
		 "Deleted sandboxes torn down instead of recycled."},
		{"petrid_pool_failed_total", "counter", "Refill builds or resets that failed."},
	};
	petri_pool_stats st[17];
	const char *lang[17];
	size_t n = 0;
	for (uint32_t i = 0; n < 16; i++) {
		const char *l = petri_language_name(i);
		st[n] = (petri_pool_stats){.sz = sizeof(st[n])};
		if (petri_ctx_pool_stats(pd.ctx, l, &st[n]) == 0)
			lang[n++] = l;
		if (!l)
			break;
	}
	if (!n)
		return;
	for (size_t k = 0; k < sizeof(series) / sizeof(series[0]); k++) {
		help(f, series[k].name, series[k].type, series[k].help);
		for (size_t i = 0; i < n; i++) {
			const uint64_t v[] = {st[i].ready,     st[i].target,  st[i].hits,
					      st[i].misses,    st[i].created, st[i].recycled,
					      st[i].discarded, st[i].failed};
			fprintf(f, "%s{language=\"%s\"} %llu\n", series[k].name,
				lang[i] ? lang[i] : "", (unsigned long long)v[k]);
		}
	}
}

struct view {
	struct pd_tenant_rt *t[1024];
	size_t n;
};

char *pd_metrics_text(const char *tenant, bool admin, size_t *len)
{
	static const char *const whys[PD_DESTROY_N] = {"deleted", "expired", "died", "drained"};
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	struct view v = {.n = 0};

	if (!f)
		return NULL;
	pthread_mutex_lock(&pd.lock);
	if (!admin && tenant)
		pd_tenant_rt(tenant); /* its series exist from its first request */
	for (struct pd_tenant_rt *t = pd.tenants; t && v.n < 1024; t = t->next)
		if (admin || (tenant && strcmp(t->name, tenant) == 0))
			v.t[v.n++] = t;

	help(f, "petrid_sandboxes_live", "gauge", "Sandboxes alive.");
	for (size_t i = 0; i < v.n; i++)
		fprintf(f, "petrid_sandboxes_live{tenant=\"%s\"} %u\n", v.t[i]->name, v.t[i]->live);
	help(f, "petrid_sandboxes_created_total", "counter", "Sandboxes created.");
	for (size_t i = 0; i < v.n; i++)
		fprintf(f, "petrid_sandboxes_created_total{tenant=\"%s\"} %llu\n", v.t[i]->name,
			(unsigned long long)v.t[i]->created);
	help(f, "petrid_sandboxes_destroyed_total", "counter", "Sandboxes destroyed, by reason.");
	for (size_t i = 0; i < v.n; i++)
		for (int w = 0; w < PD_DESTROY_N; w++)
			fprintf(f,
				"petrid_sandboxes_destroyed_total{tenant=\"%s\",reason=\"%s\"} "
				"%llu\n",
				v.t[i]->name, whys[w], (unsigned long long)v.t[i]->destroyed[w]);
	help(f, "petrid_execs_running", "gauge", "Execs running.");
	for (size_t i = 0; i < v.n; i++)
		fprintf(f, "petrid_execs_running{tenant=\"%s\"} %u\n", v.t[i]->name,
			v.t[i]->execs_running);
	help(f, "petrid_execs_total", "counter", "Execs ended, by reason.");
	for (size_t i = 0; i < v.n; i++)
		for (int r = 0; r <= PETRI_REASON_FAILED; r++)
			fprintf(f, "petrid_execs_total{tenant=\"%s\",reason=\"%s\"} %llu\n",
				v.t[i]->name, petri_reason_name(r),
				(unsigned long long)v.t[i]->execs_by_reason[r]);
	help(f, "petrid_exec_duration_seconds", "histogram", "Wall time of execs.");
	for (size_t i = 0; i < v.n; i++) {
		uint64_t cum = 0;
		for (int b = 0; b <= PD_HIST_BUCKETS; b++) {
			cum += v.t[i]->hist[b];
			if (b < PD_HIST_BUCKETS)
				fprintf(f,
					"petrid_exec_duration_seconds_bucket{tenant=\"%s\",le=\"%g\"} "
					"%llu\n",
					v.t[i]->name, buckets[b], (unsigned long long)cum);
			else
				fprintf(f,
					"petrid_exec_duration_seconds_bucket{tenant=\"%s\",le=\"+Inf\"} "
					"%llu\n",
					v.t[i]->name, (unsigned long long)cum);
		}
		fprintf(f, "petrid_exec_duration_seconds_sum{tenant=\"%s\"} %.6f\n", v.t[i]->name,
			v.t[i]->hist_sum);
		fprintf(f, "petrid_exec_duration_seconds_count{tenant=\"%s\"} %llu\n", v.t[i]->name,
			(unsigned long long)v.t[i]->hist_count);
	}
	help(f, "petrid_audit_events_total", "counter",
	     "Audit events written to the tenant's stream.");
	for (size_t i = 0; i < v.n; i++) {
		uint64_t ev = 0, lost = 0;
		pd_audit_stats(v.t[i]->audit, &ev, &lost);
		fprintf(f, "petrid_audit_events_total{tenant=\"%s\"} %llu\n", v.t[i]->name,
			(unsigned long long)ev);
	}
	help(f, "petrid_audit_lost_total", "counter", "Audit events lost.");
	for (size_t i = 0; i < v.n; i++) {
		uint64_t ev = 0, lost = 0;
		pd_audit_stats(v.t[i]->audit, &ev, &lost);
		fprintf(f, "petrid_audit_lost_total{tenant=\"%s\"} %llu\n", v.t[i]->name,
			(unsigned long long)lost);
	}
	help(f, "petrid_egress_decisions_total", "counter",
	     "Egress proxy decisions: connections and requests allowed or refused.");
	for (size_t i = 0; i < v.n; i++) {
		uint64_t sum[2] = {v.t[i]->egress[0], v.t[i]->egress[1]};
		pd_registry_each(v.t[i]->name, add_egress, sum);
		fprintf(f,
			"petrid_egress_decisions_total{tenant=\"%s\",decision=\"allowed\"} %llu\n",
			v.t[i]->name, (unsigned long long)sum[0]);
		fprintf(f,
			"petrid_egress_decisions_total{tenant=\"%s\",decision=\"refused\"} %llu\n",
			v.t[i]->name, (unsigned long long)sum[1]);
	}
	if (admin) {
		help(f, "petrid_http_requests_total", "counter", "HTTP answers, by status.");
		for (int code = 100; code < 600; code++)
			if (pd.http_by_code[code])
				fprintf(f, "petrid_http_requests_total{code=\"%d\"} %llu\n", code,
					(unsigned long long)pd.http_by_code[code]);
		/* The pool is the node's, shared by every tenant: admin only. */
		pool_metrics(f);
	}
	pthread_mutex_unlock(&pd.lock);
	help(f, "petrid_build_info", "gauge", "petrid's version.");
	fprintf(f, "petrid_build_info{version=\"%s\",node=\"%s\"} 1\n", petri_version(), pd.node);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
