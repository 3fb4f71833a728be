/* SPDX-License-Identifier: Apache-2.0 */
/*
 * petrid.h - what petrid's files share: the process-wide state, the
 * sandbox registry, the worker pool, streams and the helpers each uses.
 *
 * The files are layers: each calls only those below it, never one above,
 * and no two call each other.  Where a lower layer must reach a higher one
 * (the transport dispatching a request, a stream or the registry cancelling
 * an exec), the higher one plugs in a function pointer; main.c does the
 * plugging at start.  From the top down:
 *
 *   main.c      options, host checks, the undertaker, the timer, signals,
 *               reload, drain; plugs the layers together
 *   routes.c    one handler per route (the dispatcher, pd_route)
 *   files.c     the files routes            exec.c     exec threads
 *   metrics.c   /metrics                    registry.c sandboxes by id, TTL
 *   http.c      libmicrohttpd: connections, bodies, auth, answers (transport)
 *   stream.c    SSE buffers                 audit.c    tenants' audit streams
 *   pool.c      workers, the watcher
 *   state.c     pd, the log, the clocks, config references, tenants' state
 *   config.c    the config file             request.c  routing, bodies (pure)
 *
 * Threads, all bounded: the main thread (signals), one libmicrohttpd
 * thread per listen address (epoll), PD_POOL_THREADS workers for create,
 * delete and files, one thread per running exec (at most max_execs), the
 * timer (TTL, heartbeats, cancels that must be repeated) and the watcher
 * (client disconnects of suspended connections).
 *
 * Locking: one mutex, pd.lock, guards the registry, the tenants' runtime
 * state and the counters; it is never held across a library call that can
 * block (create, exec, destroy, file I/O) - only petri_sandbox_cancel(),
 * which writes an eventfd.  A stream has its own lock, taken after pd.lock
 * when both are needed.
 */
#ifndef PETRID_H
#define PETRID_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "config.h"
#include "petri/audit.h"
#include "petri/petri.h"
#include "request.h"

#define PD_POOL_THREADS 4
#define PD_TOMBSTONE_MS (3600 * 1000LL)
#define PD_TOMBSTONES_MAX 10000
#define PD_HEARTBEAT_MS 5000
#define PD_STREAM_BACKLOG (4u << 20)
#define PD_HIST_BUCKETS 12

/* ---- state.c: logging (one line per event on stderr, never a secret) ---- */
void pd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- state.c: time ---- */
int64_t pd_now_ms(void);  /* wall clock, ms since the epoch */
int64_t pd_mono_ms(void); /* monotonic */
/* "2026-12-07T14:00:00.000Z" for @ms into @buf (>= 32 bytes). */
void pd_iso_time(int64_t ms, char *buf);

/* ---- tenants' runtime state: kept by name across reloads ---- */

/* A tenant's audit stream (audit.c), shared by the sandboxes that send to
 * it: closed when the last of them and the config are done with it. */
struct pd_audit;

enum {
	PD_DESTROY_DELETED,
	PD_DESTROY_EXPIRED,
	PD_DESTROY_DIED,
	PD_DESTROY_DRAINED,
	PD_DESTROY_N
};

struct pd_tenant_rt {
	char name[65];
	uint32_t live;          /* sandboxes alive (or being created) */
	uint64_t memory;        /* the sum of their memory limits */
	uint32_t execs_running; /* its execs now */
	uint64_t created, destroyed[PD_DESTROY_N];
	uint64_t execs_by_reason[16];
	uint64_t hist[PD_HIST_BUCKETS + 1]; /* exec durations (le buckets, +Inf) */
	double hist_sum;
	uint64_t hist_count;
	uint64_t egress[2];     /* egress proxy decisions of its destroyed sandboxes (the
				 * live ones' are summed at scrape time): allowed, refused */
	struct pd_audit *audit; /* its current stream, or NULL */
	struct pd_tenant_rt *next;
};

/* ---- the registry ---- */

enum pd_sb_state {
	PD_SB_IDLE,
	PD_SB_RUNNING,
	PD_SB_DEAD
};

struct pd_exec;

/* A live sandbox (or, with @tomb, the tombstone of an expired one). */
struct pd_sandbox {
	char id[64];
	char tenant[65];
	bool tomb;          /* expired: answers 410 until @tomb_until */
	int64_t tomb_until; /* monotonic ms */
	petri_sandbox *sb;  /* NULL for a tombstone */
	int refs;           /* the registry's own + one per op using it */
	bool removed;       /* being destroyed: invisible to lookups */
	bool retiring;      /* pd_sandbox_retire() has it */
	bool linked;        /* in the hash map */
	enum pd_sb_state state;
	bool file_busy;       /* a file op runs (ops on one sandbox are one at a time) */
	struct pd_exec *exec; /* the running exec */
	int64_t created_ms, last_active_ms; /* wall clock */
	int64_t active_mono;                /* monotonic time of the last renewal */
	double timeout;                     /* idle TTL, seconds */
	/* what it was created with, for its JSON */
	char *language;
	int net;
	char **allow, **secrets;
	uint64_t memory, tmp_size, workspace_size;
	uint32_t pids, cpus_milli;
	/* usage */
	uint64_t execs;
	double cpu_ms;
	uint64_t peak_memory;
	struct pd_audit *audit;       /* the stream it sends to (a reference) */
	struct pd_sandbox *next;      /* hash chain */
	struct pd_sandbox *tomb_next; /* tombstones, oldest first */
};

/* ---- state.c: process-wide state ---- */
struct petrid {
	petri_ctx *ctx;
	pthread_mutex_t lock;
	pthread_cond_t cond;   /* refs dropped, execs ended, jobs done */
	struct pd_config *cfg; /* current config (pd.lock) */
	struct pd_tenant_rt *tenants;
	struct pd_sandbox *buckets[4096];
	struct pd_sandbox *tomb_head, *tomb_tail;
	size_t ntombs;
	uint32_t execs_running; /* over all tenants */
	uint32_t jobs;          /* pool jobs and exec threads in flight */
	volatile int draining;
	int64_t started_ms;
	uint64_t http_requests[6]; /* by status class: 1xx..5xx (index 1..5) */
	uint64_t http_by_code[600];
	char node[17];
	char **unix_paths; /* listen sockets to unlink at exit */
};
extern struct petrid pd;

/* Config references: the current one (ref taken) and its release. */
struct pd_config *pd_config_get(void);
void pd_config_put(struct pd_config *c);

/* The runtime state of tenant @name, created on first use (pd.lock held). */
struct pd_tenant_rt *pd_tenant_rt(const char *name);

/* ---- registry.c (pd.lock held unless said) ---- */
/* Look up @id for @tenant; with a live record returns it with a reference
 * taken; else NULL and [out] @expired tells 410 from 404. */
struct pd_sandbox *pd_registry_get(const char *tenant, const char *id, bool *expired);
void pd_registry_put(struct pd_sandbox *s); /* drop a reference */
void pd_registry_insert(struct pd_sandbox *s);
/* Unlink @s (already marked removed), leaving a tombstone when @expired. */
void pd_registry_unlink(struct pd_sandbox *s, bool expired);
/* Free a record (no lock needed: it is unreachable). */
void pd_sandbox_free(struct pd_sandbox *s);
/* The sandbox object (docs/petrid.md). */
json_object *pd_sandbox_json(struct pd_sandbox *s);
/* The state, seeing a dead init (pd.lock held). */
enum pd_sb_state pd_sandbox_state(struct pd_sandbox *s);
/* Renew the idle TTL. */
void pd_sandbox_touch(struct pd_sandbox *s);
/* Destroy @s, whose reference the caller holds and gives up (takes
 * pd.lock itself): makes it invisible, cancels a running exec, waits until
 * no one else uses it, destroys it, settles the quotas and counters.
 * false (only the reference dropped) when another caller is already
 * retiring it. */
bool pd_sandbox_retire(struct pd_sandbox *s, int why);
/* Plug in the cancel of a sandbox's running exec (exec.c's
 * pd_exec_cancel_locked, pd.lock held), which pd_sandbox_retire() calls:
 * set once by main.c before any thread starts. */
void pd_registry_set_exec_cancel(bool (*cancel_locked)(struct pd_sandbox *s));
/* Call @fn for every live record (tenant NULL: all). */
void pd_registry_each(const char *tenant, void (*fn)(struct pd_sandbox *, void *), void *arg);
/* The timer's work: expire idle sandboxes, drop old tombstones.  Takes
 * pd.lock itself. */
void pd_registry_expire(void);

/* ---- http.c ---- */
/* A connection's request (MHD's con_cls). */
struct pd_conn;
/* What the layers above plug into the transport (http.c calls neither
 * routes.c nor exec.c itself). */
struct pd_http_hooks {
	/* Answer a request whose head and body are in, or suspend it. */
	enum MHD_Result (*route)(struct pd_conn *c);
	/* The client of exec @x, on a suspended connection, went away
	 * (pd.lock held). */
	void (*client_gone_locked)(struct pd_exec *x);
};
/* Listen on @cfg's addresses; @hooks is copied. */
int pd_http_start(const struct pd_config *cfg, const struct pd_http_hooks *hooks);
void pd_http_stop(void);
/* The timer's work: hang up on requests slower than request_timeout. */
void pd_http_tick(void);
/* Queue @r (taken) with @status on a connection, from the MHD thread,
 * counting it for /metrics. */
enum MHD_Result pd_http_queue(struct pd_conn *c, unsigned status, struct MHD_Response *r);
/* Queue an error answer on a connection, from the MHD thread. */
enum MHD_Result pd_http_error(struct pd_conn *c, const struct pd_err *e);
/* Answer a suspended connection from another thread: takes @resp. */
void pd_http_finish(struct pd_conn *c, unsigned status, struct MHD_Response *resp);
void pd_http_finish_error(struct pd_conn *c, const struct pd_err *e);
void pd_http_finish_json(struct pd_conn *c, unsigned status, json_object *o);
/* Answers held in memory until their clients read them (file GETs,
 * listings, exec results) hold at most PD_HELD_MAX bytes over all clients,
 * so that clients who never read cannot grow petrid without bound. */
#define PD_HELD_MAX (256ull << 20)
/* An answer of @len bytes at @data (taken: freed with @free_data), counted
 * while MHD has it.  NULL with @e set (@data freed): 429 unread_answers
 * when it would pass PD_HELD_MAX (unless @force: an exec's result, whose
 * exec was let start), or out of memory.  Takes pd.lock. */
struct MHD_Response *pd_held_response(void *data, size_t len, void (*free_data)(void *), bool force,
				      struct pd_err *e);
/* Whether the held answers are at PD_HELD_MAX already (takes pd.lock). */
bool pd_held_full(void);
/* @e: 429 unread_answers. */
void pd_fail_held(struct pd_err *e);
struct MHD_Response *pd_json_response(json_object *o);
struct MHD_Response *pd_error_response(const struct pd_err *e);
/* Suspend @c (the op answers it later with pd_http_finish*). */
void pd_http_suspend(struct pd_conn *c);

/* What a connection carries into a handler. */
struct pd_conn {
	struct MHD_Connection *mc;
	struct pd_config *cfg; /* reference */
	const struct pd_tenant *tenant;
	bool admin;
	struct pd_request rq;
	char *body;
	size_t body_len, body_cap;
	uint64_t body_dropped; /* past max_body_bytes (chunked), dropped */
	bool too_large, timed_out, responded;
	int64_t start_mono;
	int async; /* 0: none, 1: suspended, an op runs; 2: answer ready */
	unsigned status;
	struct MHD_Response *resp;
	int watch_slot;       /* watcher slot while suspended, or -1 */
	struct pd_exec *exec; /* a non-streaming exec on this connection */
};

/* ---- routes.c ---- */
/* Handle a request whose head and body are in: answer it, or suspend it. */
enum MHD_Result pd_route(struct pd_conn *c);
/* Build petri_sandbox_opts, check quotas etc. (used by create). */

/* ---- pool.c ---- */
int pd_pool_start(void);
void pd_pool_stop(void);
/* Run @fn(@arg) on a worker. */
int pd_pool_submit(void (*fn)(void *), void *arg);
/* The watcher: call @fn(@arg) once when @fd's peer hangs up.  Returns a
 * slot (>= 0) to pass to pd_watch_remove(), or -1. */
int pd_watch_add(int fd, void (*fn)(void *), void *arg);
void pd_watch_remove(int slot);
int pd_watch_start(void);
void pd_watch_stop(void);

/* ---- exec.c ---- */
/* Start an exec for @c on @s (reference held, state set running). */
enum MHD_Result pd_exec_start(struct pd_conn *c, struct pd_sandbox *s);
/* The client of exec @x went away: cancel it (pd.lock held). */
void pd_exec_client_gone_locked(struct pd_exec *x);
/* Cancel @s's running exec, if any (pd.lock held). */
bool pd_exec_cancel_locked(struct pd_sandbox *s);
/* The timer's work: repeat cancels not yet taken; heartbeats. */
void pd_exec_tick(void);

/* ---- files.c ---- */
enum MHD_Result pd_files_route(struct pd_conn *c, struct pd_sandbox *s);

/* ---- metrics.c ---- */
char *pd_metrics_text(const char *tenant, bool admin, size_t *len);
void pd_metrics_exec(struct pd_tenant_rt *t, int reason, double seconds);

/* ---- audit.c ---- */
/* Open or reuse the audit stream of each tenant of @cfg (at load). */
int pd_audit_apply(struct pd_config *cfg, char *err, size_t errlen);
struct pd_audit *pd_audit_ref(struct pd_audit *a);
void pd_audit_unref(struct pd_audit *a);
petri_audit *pd_audit_stream(struct pd_audit *a);
void pd_audit_close_all(void);
void pd_audit_stats(struct pd_audit *a, uint64_t *events, uint64_t *lost);

#endif /* PETRID_H */
