/* SPDX-License-Identifier: Apache-2.0 */
/*
 * files.c - the files routes (PUT/GET/DELETE .../files/{path}, listings)
 * on the library's symlink-safe calls, run on a pool worker.  Operations on
 * one sandbox run one at a time (the library's rule): a file operation
 * waits for another file operation, and an exec running is 409
 * sandbox_busy.  PUT and DELETE renew the TTL; GET and listings do not.
 *
 * A file GET's answer (up to the library's 64 MiB read) and a listing's
 * stay in memory until the client has read them: a client that never
 * reads would hold them for as long as it likes, one per connection.  So
 * the bytes of such answers not yet sent are counted over all clients, and
 * beyond PD_HELD_MAX a GET is 429 unread_answers (http.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "petrid.h"
#include "result_json.h"

#define PD_LIST_MAX 10000

struct files_job {
	struct pd_conn *c;
	struct pd_sandbox *s;
};

static void map_error(int rc, petri_error *err, struct pd_err *e)
{
	const char *msg = *petri_error_message(err) ? petri_error_message(err) : strerror(-rc);
	switch (rc) {
	case -ENOENT:
		pd_fail(e, 404, "file_not_found", "%s", msg);
		break;
	case -EPERM:
	case -ELOOP:
	case -EXDEV:
		pd_fail(e, 400, "unsafe_path", "%s", msg);
		break;
	case -ESRCH:
		pd_fail(e, 409, "sandbox_dead", "the sandbox's init died; only DELETE is left");
		break;
	case -EFBIG:
	case -ENOSPC:
		pd_fail(e, 413, "body_too_large", "%s", msg);
		break;
	case -EINVAL:
	case -ENXIO: /* a PUT onto a FIFO the code made (opened without blocking) */
	case -EISDIR:
	case -ENOTDIR:
	case -ENOTEMPTY:
	case -ENAMETOOLONG:
		pd_fail(e, 400, "invalid_argument", "%s", msg);
		break;
	default:
		pd_fail(e, 500, "internal", "%s", msg);
	}
	if (rc != -ESRCH)
		e->err_no = -rc;
}

static json_object *listing_json(const char *path, const petri_dirent *d, size_t n, int truncated)
{
	static const char *const types[] = {"other", "file", "dir", "symlink", "other"};
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	/* Names are bytes: ill-formed UTF-8 becomes U+FFFD, as in output. */
	json_object_object_add(o, "path", json_bytes(path, strlen(path)));
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_new_object();
		json_object_object_add(e, "name", json_bytes(d[i].name, strlen(d[i].name)));
		json_object_object_add(
			e, "type", json_object_new_string(types[d[i].type <= 4 ? d[i].type : 0]));
		json_object_object_add(e, "size", json_object_new_uint64(d[i].size));
		json_object_object_add(e, "mode", json_object_new_int((int)d[i].mode));
		json_object_object_add(e, "mtime",
				       json_object_new_double((double)d[i].mtime_ns / 1e9));
		json_object_array_add(a, e);
	}
	json_object_object_add(o, "entries", a);
	json_object_object_add(o, "truncated", json_object_new_boolean(truncated != 0));
	return o;
}

static void files_job(void *arg)
{
	struct files_job *j = arg;
	struct pd_conn *c = j->c;
	struct pd_sandbox *s = j->s;
	struct pd_request *rq = &c->rq;
	petri_error *err = NULL;
	struct pd_err e;
	int rc = 0;
	struct MHD_Response *resp = NULL;
	unsigned status = 204;
	int held_err = 0; /* the answer could not be made: @e says why */

	pthread_mutex_lock(&pd.lock);
	while (s->file_busy && s->state != PD_SB_RUNNING)
		pthread_cond_wait(&pd.cond, &pd.lock);
	const char *busy = s->removed                        ? "sandbox_not_found" :
			   s->state == PD_SB_RUNNING         ? "sandbox_busy" :
			   pd_sandbox_state(s) == PD_SB_DEAD ? "sandbox_dead" :
							       NULL;
	if (!busy)
		s->file_busy = true;
	pthread_mutex_unlock(&pd.lock);
	if (busy) {
		if (strcmp(busy, "sandbox_not_found") == 0)
			pd_fail(&e, 404, busy, "no such sandbox");
		else
			pd_fail(&e, 409, busy, "%s",
				busy[8] == 'b' ? "an exec is running in the sandbox" :
						 "the sandbox's init died; only DELETE is left");
		goto done;
	}

	bool renew = false;
	if (rq->route == PD_R_FILES) {
		char *path = rq->path;
		size_t n = strlen(path);
		while (n > 0 && path[n - 1] == '/')
			path[--n] = '\0';
		petri_dirent *d = NULL;
		size_t count = 0;
		int truncated = 0;
		rc = petri_sandbox_list_dir(s->sb, path, PD_LIST_MAX, &d, &count, &truncated, &err);
		if (rc == 0) {
			json_object *o = listing_json(path, d, count, truncated);
			size_t len = 0;
			const char *text =
				o ? json_object_to_json_string_length(
					    o,
					    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
					    &len) :
				    NULL;
			char *copy = text ? strndup(text, len) : NULL;
			json_object_put(o);
			if (!copy)
				held_err = pd_fail(&e, 500, "internal", "out of memory");
			else if ((resp = pd_held_response(copy, len, free, false, &e)))
				MHD_add_response_header(resp, "Content-Type", "application/json");
			else
				held_err = -1;
			status = 200;
		}
		petri_free(d);
	} else if (rq->method == PD_M_PUT) {
		rc = petri_sandbox_write_file(s->sb, rq->path, c->body ? c->body : "", c->body_len,
					      rq->mode, &err);
		renew = rc == 0;
	} else if (rq->method == PD_M_DELETE) {
		rc = petri_sandbox_remove_file(s->sb, rq->path, &err);
		renew = rc == 0;
	} else {
		void *data = NULL;
		size_t len = 0;
		rc = petri_sandbox_read_file(s->sb, rq->path, 0, &data, &len, &err);
		if (rc == 0) {
			resp = pd_held_response(data, len, petri_free, false, &e);
			if (resp)
				MHD_add_response_header(resp, "Content-Type",
							"application/octet-stream");
			else
				held_err = -1;
			status = 200;
		}
	}
	if (rc < 0)
		map_error(rc, err, &e);
	else if (!resp && status == 204)
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	petri_error_free(err);

	pthread_mutex_lock(&pd.lock);
	s->file_busy = false;
	if (renew)
		pd_sandbox_touch(s);
	pthread_cond_broadcast(&pd.cond);
	pthread_mutex_unlock(&pd.lock);
done:
	pthread_mutex_lock(&pd.lock);
	pd_registry_put(s);
	pthread_mutex_unlock(&pd.lock);
	free(j);
	if (rc < 0 || busy || held_err)
		pd_http_finish_error(c, &e);
	else if (!resp)
		pd_http_finish_error(c, (pd_fail(&e, 500, "internal", "out of memory"), &e));
	else
		pd_http_finish(c, status, resp);
}

enum MHD_Result pd_files_route(struct pd_conn *c, struct pd_sandbox *s)
{
	struct files_job *j = malloc(sizeof(*j));
	if (!j) {
		pthread_mutex_lock(&pd.lock);
		pd_registry_put(s);
		pthread_mutex_unlock(&pd.lock);
		struct pd_err e;
		pd_fail(&e, 500, "internal", "out of memory");
		return pd_http_error(c, &e);
	}
	*j = (struct files_job){c, s};
	pd_http_suspend(c);
	if (pd_pool_submit(files_job, j) < 0)
		files_job(j);
	return MHD_YES;
}
