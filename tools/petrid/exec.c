/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exec.c - execs run on threads of their own, one per running exec, at
 * most max_execs of them (routes.c refuses beyond with 429).  The answer
 * is the CLI's --json object (result_json.c), either as the body of a
 * suspended connection resumed at the end, or as the last event of a
 * stream (stream.c).
 *
 * Cancelling (DELETE, cancel, a client gone, drain) goes through
 * pd_exec_cancel_locked() under pd.lock, while the exec holds its sandbox
 * reference; the timer repeats a cancel until the exec ends, since the
 * library only aims at an exec it has already accepted.  The layers below
 * reach these through function pointers: the registry through the hook
 * main.c sets, the transport through pd_http_hooks, a stream through the
 * one it is created with.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "petrid.h"
#include "result_json.h"
#include "stream.h"

#define PD_EXEC_STACK (256 * 1024)

struct pd_exec {
	struct pd_sandbox *s;   /* reference, until the exec returns (pd.lock) */
	struct pd_conn *c;      /* non-streaming: the suspended connection */
	struct pd_stream *st;   /* streaming */
	struct pd_exec_req req; /* moved from the request */
	char tenant[65];
	bool cancel_requested;
	bool client_gone;
	struct pd_exec *next, *prev; /* running execs (pd.lock) */
};

static struct pd_exec *running;

void pd_exec_client_gone_locked(struct pd_exec *x)
{
	x->client_gone = true;
	if (x->s) {
		x->cancel_requested = true;
		petri_sandbox_cancel(x->s->sb);
	}
}

bool pd_exec_cancel_locked(struct pd_sandbox *s)
{
	if (!s->exec)
		return false;
	s->exec->cancel_requested = true;
	petri_sandbox_cancel(s->sb);
	return true;
}

void pd_exec_tick(void)
{
	pthread_mutex_lock(&pd.lock);
	for (struct pd_exec *x = running; x; x = x->next)
		if (x->cancel_requested && x->s)
			petri_sandbox_cancel(x->s->sb);
	pthread_mutex_unlock(&pd.lock);
}

static int on_output(int stream, const char *data, size_t len, void *userdata)
{
	struct pd_exec *x = userdata;
	return pd_stream_output(x->st, stream, data, len);
}

static void free_exec(struct pd_exec *x)
{
	struct pd_exec_req *r = &x->req;
	free(r->code);
	free(r->language);
	free(r->cwd);
	free(r->stdin_data);
	pd_strv_free(r->argv);
	pd_strv_free(r->args);
	pd_strv_free(r->env);
	free(x);
}

static uint64_t ms_of(double seconds)
{
	return (uint64_t)ceil(seconds * 1000);
}

static void *exec_thread(void *arg)
{
	struct pd_exec *x = arg;
	struct pd_exec_req *q = &x->req;
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	petri_result *res = NULL;
	petri_error *err = NULL;
	struct pd_err e = {0};
	json_object *obj = NULL;

	o.argv = (const char *const *)q->argv;
	o.code = q->code;
	o.args = (const char *const *)q->args;
	o.language = q->language;
	o.env = (const char *const *)q->env;
	o.cwd = q->cwd;
	o.stdin_data = q->stdin_data;
	o.stdin_len = q->stdin_len;
	o.timeout_ms = ms_of(q->timeout);
	o.cpu_ms = q->cpu > 0 ? ms_of(q->cpu) : 0;
	o.stdout_max = q->stdout_limit;
	o.stderr_max = q->stderr_limit;
	o.output_kill_bytes = q->output_kill;
	o.file_size_max = q->file_size;
	o.nofile_max = q->nofile;
	if (x->st) {
		o.on_output = on_output;
		o.userdata = x;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = petri_sandbox_exec(x->s->sb, &o, &res, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	const char *msg = *petri_error_message(err) ? petri_error_message(err) : strerror(-rc);
	int reason = PETRI_REASON_FAILED;

	if (rc == 0) {
		struct result_json j;
		result_json_fill(&j, res);
		reason = petri_result_reason(res);
		/* init killed under the exec: the library may see the exec's
		 * processes die (SIGKILL, the pid namespace going) before init's
		 * own end; the exec ended because its sandbox died. */
		if (reason == PETRI_REASON_SIGNALED && petri_result_signal(res) == SIGKILL) {
			for (int i = 0; i < 20 && petri_sandbox_init_pid(x->s->sb) >= 0; i++)
				usleep(5000);
			if (petri_sandbox_init_pid(x->s->sb) < 0) {
				reason = PETRI_REASON_SANDBOX_DIED;
				j.reason = petri_reason_name(reason);
			}
		}
		obj = result_json_object(&j, x->s->id);
		if (!obj)
			pd_fail(&e, 500, "internal", "out of memory");
	} else if (rc == -ENOENT || rc == -EACCES) {
		/* The program could not be started: the CLI's "failed" object. */
		struct result_json j = {.exit_code = rc == -ENOENT ? 127 : 126,
					.reason = "failed",
					.error = msg,
					.wall_ms = secs * 1000};
		obj = result_json_object(&j, x->s->id);
	} else if (rc == -ESRCH) {
		pd_fail(&e, 409, "sandbox_dead", "the sandbox's init died; only DELETE is left");
	} else if (rc == -EBUSY) {
		pd_fail(&e, 409, "sandbox_busy", "another exec is running in the sandbox");
	} else if (rc == -EINVAL || rc == -E2BIG) {
		pd_fail(&e, 400, "invalid_argument", "%s", msg);
		e.err_no = -rc;
	} else {
		pd_fail(&e, 500, "internal", "%s", msg);
		e.err_no = -rc;
	}

	pthread_mutex_lock(&pd.lock);
	struct pd_sandbox *s = x->s;
	struct pd_tenant_rt *t = pd_tenant_rt(x->tenant);
	if (rc == -ESRCH || reason == PETRI_REASON_SANDBOX_DIED ||
	    petri_sandbox_init_pid(s->sb) < 0)
		s->state = PD_SB_DEAD;
	else
		s->state = PD_SB_IDLE;
	s->exec = NULL;
	s->execs++;
	if (res) {
		s->cpu_ms += (double)petri_result_cpu_ns(res) / 1e6;
		if (petri_result_peak_memory_bytes(res) > s->peak_memory)
			s->peak_memory = petri_result_peak_memory_bytes(res);
	}
	pd_sandbox_touch(s);
	pd.execs_running--;
	if (t) {
		t->execs_running--;
		pd_metrics_exec(t, reason, secs);
	}
	pd_registry_put(s);
	x->s = NULL;
	if (x->c)
		x->c->exec = NULL;
	if (x->prev)
		x->prev->next = x->next;
	else
		running = x->next;
	if (x->next)
		x->next->prev = x->prev;
	pthread_mutex_unlock(&pd.lock);

	if (x->st) {
		if (obj) {
			size_t len = 0;
			const char *text = result_json_text(obj, &len);
			pd_stream_finish(x->st, "result", text, len);
		} else {
			struct MHD_Response *unused = NULL;
			(void)unused;
			json_object *eo = json_object_new_object(), *in = json_object_new_object();
			json_object_object_add(in, "code", json_object_new_string(e.code));
			json_object_object_add(in, "message", json_object_new_string(e.message));
			json_object_object_add(eo, "error", in);
			size_t len = 0;
			const char *text = result_json_text(eo, &len);
			pd_stream_finish(x->st, "error", text ? text : "{}", text ? len : 2);
			json_object_put(eo);
		}
		pd_stream_put(x->st);
	} else if (obj) {
		/* Held until the client reads it: counted (never refused: the
		 * exec ran; exec() refused to start it when the count was full). */
		size_t len = 0;
		const char *text = result_json_text(obj, &len);
		char *copy = text ? strndup(text, len) : NULL;
		struct MHD_Response *resp = copy ? pd_held_response(copy, len, free, true, &e) :
						   NULL;
		if (resp) {
			MHD_add_response_header(resp, "Content-Type", "application/json");
			pd_http_finish(x->c, 200, resp);
		} else {
			if (!copy)
				pd_fail(&e, 500, "internal", "out of memory");
			pd_http_finish_error(x->c, &e);
		}
	} else {
		pd_http_finish_error(x->c, &e);
	}
	json_object_put(obj);
	petri_result_free(res);
	petri_error_free(err);
	free_exec(x);

	pthread_mutex_lock(&pd.lock);
	pd.jobs--;
	pthread_cond_broadcast(&pd.cond);
	pthread_mutex_unlock(&pd.lock);
	return NULL;
}

enum MHD_Result pd_exec_start(struct pd_conn *c, struct pd_sandbox *s)
{
	struct pd_exec *x = calloc(1, sizeof(*x));
	struct MHD_Response *resp = NULL;
	struct pd_err e;
	double exec_timeout = c->rq.exec.timeout;

	if (x) {
		x->s = s;
		x->req = c->rq.exec;
		memset(&c->rq.exec, 0, sizeof(c->rq.exec));
		snprintf(x->tenant, sizeof(x->tenant), "%s", s->tenant);
		if (c->rq.stream)
			x->st = pd_stream_new(x, pd_exec_client_gone_locked, c->mc, &resp);
		else
			x->c = c;
	}
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, PD_EXEC_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_t tid;

	pthread_mutex_lock(&pd.lock);
	bool ok = x && (!c->rq.stream || x->st);
	if (ok) {
		s->exec = x;
		x->next = running;
		if (running)
			running->prev = x;
		running = x;
		pd.jobs++;
		if (!c->rq.stream)
			c->exec = x;
	}
	pthread_mutex_unlock(&pd.lock);
	if (ok && !c->rq.stream)
		pd_http_suspend(c);
	if (ok && pthread_create(&tid, &attr, exec_thread, x) != 0) {
		ok = false;
		pthread_mutex_lock(&pd.lock);
		s->exec = NULL;
		running = x->next;
		if (running)
			running->prev = NULL;
		pd.jobs--;
		c->exec = NULL;
		pthread_mutex_unlock(&pd.lock);
	}
	pthread_attr_destroy(&attr);
	if (!ok) {
		pthread_mutex_lock(&pd.lock);
		struct pd_tenant_rt *t = pd_tenant_rt(s->tenant);
		s->state = PD_SB_IDLE;
		pd.execs_running--;
		if (t)
			t->execs_running--;
		pd_registry_put(s);
		pthread_mutex_unlock(&pd.lock);
		if (x && x->st) {
			/* Both references: the response is never queued. */
			MHD_destroy_response(resp);
			pd_stream_put(x->st);
		}
		if (x)
			free_exec(x);
		pd_fail(&e, 500, "internal", "cannot start the exec's thread");
		if (c->async == 1) {
			pd_http_finish_error(c, &e);
			return MHD_YES;
		}
		return pd_http_error(c, &e);
	}
	if (!c->rq.stream)
		return MHD_YES;
	/* A stream is not an idle connection: it may wait for its reader as
	 * long as the exec runs, and a minute and request_timeout more. */
	MHD_set_connection_option(c->mc, MHD_CONNECTION_OPTION_TIMEOUT,
				  (unsigned)(exec_timeout + 60 + c->cfg->request_timeout));
	MHD_add_response_header(resp, "Connection", "close");
	return pd_http_queue(c, 200, resp);
}
