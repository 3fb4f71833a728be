/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.c - petrid's sandboxes by id: a hash map of records holding the
 * library's handle, its tenant, a reference count, its state and times.
 *
 * A record is looked up by (tenant, id): another tenant's id and an id
 * that never existed take the same path to the same 404.  Every operation
 * takes a reference; a sandbox is destroyed only by pd_sandbox_retire(),
 * which first makes it invisible, cancels its exec and waits until no
 * operation uses it.  An expired sandbox leaves a tombstone (410) for an
 * hour, at most PD_TOMBSTONES_MAX of them (the oldest go first).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "petrid.h"
#include "result_json.h"

static unsigned bucket_of(const char *id)
{
	uint32_t h = 2166136261u;
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % (sizeof(pd.buckets) / sizeof(pd.buckets[0]));
}

struct pd_sandbox *pd_registry_get(const char *tenant, const char *id, bool *expired)
{
	*expired = false;
	for (struct pd_sandbox *s = pd.buckets[bucket_of(id)]; s; s = s->next) {
		if (strcmp(s->id, id) != 0)
			continue;
		bool mine = strcmp(s->tenant, tenant) == 0;
		if (s->tomb) {
			*expired = mine && s->tomb_until > pd_mono_ms();
			return NULL;
		}
		if (!mine || s->removed)
			return NULL;
		s->refs++;
		return s;
	}
	return NULL;
}

void pd_registry_put(struct pd_sandbox *s)
{
	if (--s->refs <= 1)
		pthread_cond_broadcast(&pd.cond);
}

void pd_registry_insert(struct pd_sandbox *s)
{
	unsigned b = bucket_of(s->id);
	s->next = pd.buckets[b];
	pd.buckets[b] = s;
	s->linked = true;
}

static void unlink_node(struct pd_sandbox *s)
{
	for (struct pd_sandbox **pp = &pd.buckets[bucket_of(s->id)]; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			s->next = NULL;
			s->linked = false;
			return;
		}
}

static void drop_oldest_tomb(void)
{
	struct pd_sandbox *t = pd.tomb_head;
	pd.tomb_head = t->tomb_next;
	if (!pd.tomb_head)
		pd.tomb_tail = NULL;
	pd.ntombs--;
	unlink_node(t);
	free(t);
}

void pd_registry_unlink(struct pd_sandbox *s, bool expired)
{
	unlink_node(s);
	if (!expired)
		return;
	struct pd_sandbox *t = calloc(1, sizeof(*t));
	if (!t)
		return; /* then it is merely 404 */
	memcpy(t->id, s->id, sizeof(t->id));
	memcpy(t->tenant, s->tenant, sizeof(t->tenant));
	t->tomb = true;
	t->tomb_until = pd_mono_ms() + PD_TOMBSTONE_MS;
	pd_registry_insert(t);
	if (pd.tomb_tail)
		pd.tomb_tail->tomb_next = t;
	else
		pd.tomb_head = t;
	pd.tomb_tail = t;
	if (++pd.ntombs > PD_TOMBSTONES_MAX)
		drop_oldest_tomb();
}

void pd_sandbox_free(struct pd_sandbox *s)
{
	if (!s)
		return;
	free(s->language);
	pd_strv_free(s->allow);
	pd_strv_free(s->secrets);
	free(s);
}

void pd_sandbox_touch(struct pd_sandbox *s)
{
	s->last_active_ms = pd_now_ms();
	s->active_mono = pd_mono_ms();
}

static json_object *strv_json(char **v)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; a && v && v[i]; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static json_object *time_json(int64_t ms)
{
	char buf[40];
	pd_iso_time(ms, buf);
	return json_object_new_string(buf);
}

enum pd_sb_state pd_sandbox_state(struct pd_sandbox *s)
{
	/* init may die between execs, or just after an exec it took down
	 * (the library then sees the exec's end before init's). */
	if (s->state == PD_SB_IDLE && s->sb && petri_sandbox_init_pid(s->sb) < 0)
		s->state = PD_SB_DEAD;
	return s->state;
}

json_object *pd_sandbox_json(struct pd_sandbox *s)
{
	static const char *const states[] = {"idle", "running", "dead"};
	static const char *const nets[] = {"none", "host", "proxy"};
	json_object *o = json_object_new_object(), *l, *u;
	char ms[32];

	if (!o)
		return NULL;
	json_object_object_add(o, "id", json_object_new_string(s->id));
	json_object_object_add(o, "node", json_object_new_string(pd.node));
	json_object_object_add(o, "language",
			       s->language ? json_object_new_string(s->language) : NULL);
	json_object_object_add(o, "state", json_object_new_string(states[pd_sandbox_state(s)]));
	json_object_object_add(o, "created", time_json(s->created_ms));
	json_object_object_add(o, "last_active", time_json(s->last_active_ms));
	json_object_object_add(o, "expires",
			       time_json(s->last_active_ms + (int64_t)(s->timeout * 1000)));
	json_object_object_add(o, "timeout", json_object_new_double(s->timeout));
	json_object_object_add(o, "net", json_object_new_string(nets[s->net % 3]));
	json_object_object_add(o, "allow", strv_json(s->allow));
	json_object_object_add(o, "secrets", strv_json(s->secrets));
	json_object_object_add(o, "limits", l = json_object_new_object());
	if (l) {
		json_object_object_add(l, "memory", json_object_new_uint64(s->memory));
		json_object_object_add(l, "pids", json_object_new_int64(s->pids));
		json_object_object_add(l, "cpus", json_object_new_double(s->cpus_milli / 1000.0));
		json_object_object_add(l, "tmp_size", json_object_new_uint64(s->tmp_size));
		json_object_object_add(l, "workspace_size",
				       json_object_new_uint64(s->workspace_size));
	}
	json_object_object_add(o, "usage", u = json_object_new_object());
	if (u) {
		json_object_object_add(u, "execs", json_object_new_uint64(s->execs));
		snprintf(ms, sizeof(ms), "%.3f", s->cpu_ms);
		json_object_object_add(u, "cpu_ms", json_object_new_double_s(s->cpu_ms, ms));
		json_object_object_add(u, "peak_memory_bytes",
				       json_object_new_uint64(s->peak_memory));
	}
	return o;
}

void pd_registry_each(const char *tenant, void (*fn)(struct pd_sandbox *, void *), void *arg)
{
	for (size_t b = 0; b < sizeof(pd.buckets) / sizeof(pd.buckets[0]); b++)
		for (struct pd_sandbox *s = pd.buckets[b]; s; s = s->next)
			if (!s->tomb && !s->removed && (!tenant || strcmp(s->tenant, tenant) == 0))
				fn(s, arg);
}

bool pd_sandbox_retire(struct pd_sandbox *s, int why)
{
	static const char *const whys[] = {"deleted", "expired", "died", "drained"};

	pthread_mutex_lock(&pd.lock);
	if (s->retiring) {
		/* Another DELETE (or the drain) got there first: it destroys it. */
		pd_registry_put(s);
		pthread_mutex_unlock(&pd.lock);
		return false;
	}
	s->retiring = true;
	s->removed = true;
	if (s->linked) {
		pd_registry_unlink(s, why == PD_DESTROY_EXPIRED);
		s->refs--; /* the registry's own */
	}
	pd_exec_cancel_locked(s);
	while (s->refs > 1)
		pthread_cond_wait(&pd.cond, &pd.lock);
	pthread_mutex_unlock(&pd.lock);

	int64_t t0 = pd_mono_ms();
	petri_sandbox_destroy(s->sb);
	s->sb = NULL;

	pthread_mutex_lock(&pd.lock);
	struct pd_tenant_rt *t = pd_tenant_rt(s->tenant);
	if (t) {
		t->live--;
		t->memory -= s->memory;
		t->destroyed[why]++;
	}
	pthread_mutex_unlock(&pd.lock);
	pd_log("sandbox %s of %s destroyed (%s, %lld ms)", s->id, s->tenant, whys[why],
	       (long long)(pd_mono_ms() - t0));
	pd_audit_unref(s->audit);
	pd_sandbox_free(s);
	return true;
}

struct expire_scan {
	int64_t now;
	struct pd_sandbox *due[64];
	size_t n;
};

static void expire_one(struct pd_sandbox *s, void *arg)
{
	struct expire_scan *x = arg;
	if (x->n == sizeof(x->due) / sizeof(x->due[0]) || s->state == PD_SB_RUNNING ||
	    s->refs > 1 || s->file_busy)
		return;
	if (x->now - s->active_mono < (int64_t)(s->timeout * 1000))
		return;
	s->refs++;
	x->due[x->n++] = s;
}

void pd_registry_expire(void)
{
	struct expire_scan x = {.now = pd_mono_ms()};

	pthread_mutex_lock(&pd.lock);
	while (pd.tomb_head && pd.tomb_head->tomb_until <= x.now)
		drop_oldest_tomb();
	pd_registry_each(NULL, expire_one, &x);
	for (size_t i = 0; i < x.n; i++)
		x.due[i]->removed = true;
	pthread_mutex_unlock(&pd.lock);
	for (size_t i = 0; i < x.n; i++)
		pd_sandbox_retire(x.due[i], PD_DESTROY_EXPIRED);
}
