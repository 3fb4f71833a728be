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
	     "Egress proxy decisions (counted from the tenant's audit stream).");
	for (size_t i = 0; i < v.n; i++) {
		fprintf(f,
			"petrid_egress_decisions_total{tenant=\"%s\",decision=\"allowed\"} %llu\n",
			v.t[i]->name,
			(unsigned long long)__atomic_load_n(&v.t[i]->egress[0], __ATOMIC_RELAXED));
		fprintf(f,
			"petrid_egress_decisions_total{tenant=\"%s\",decision=\"refused\"} %llu\n",
			v.t[i]->name,
			(unsigned long long)__atomic_load_n(&v.t[i]->egress[1], __ATOMIC_RELAXED));
	}
	if (admin) {
		help(f, "petrid_http_requests_total", "counter", "HTTP answers, by status.");
		for (int code = 100; code < 600; code++)
			if (pd.http_by_code[code])
				fprintf(f, "petrid_http_requests_total{code=\"%d\"} %llu\n", code,
					(unsigned long long)pd.http_by_code[code]);
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
