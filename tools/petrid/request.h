/* SPDX-License-Identifier: Apache-2.0 */
/*
 * request.h - petrid's requests as pure data: the route a method and URL
 * name, and the validated body of each route.  Nothing here touches a
 * sandbox, a context, the config or the network, so the fuzz target
 * (tests/fuzz/fuzz_petrid_request.c) calls it as it is.  Tenant policy
 * (quotas, languages, the egress allowlist) is checked later, in routes.c.
 */
#ifndef PETRID_REQUEST_H
#define PETRID_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* An error answer: HTTP status, the stable code of docs/petrid.md
 * "Errors", a one-line message, and the extras some codes carry. */
struct pd_err {
	unsigned status;
	const char *code;  /* static string, e.g. "unknown_field" */
	const char *quota; /* 429 quota_exceeded: the quota's name */
	const char *allow; /* 405: the Allow header */
	int err_no;        /* a library call's failure: its errno (> 0), sent as
			    * "errno": "ENOTEMPTY" (docs/petrid.md); 0: none */
	char message[256];
};

/* Set @e and return -1 (so parsers can `return pd_fail(...)`). */
int pd_fail(struct pd_err *e, unsigned status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

enum pd_method {
	PD_M_OTHER = 0,
	PD_M_GET,
	PD_M_HEAD,
	PD_M_POST,
	PD_M_PUT,
	PD_M_DELETE
};

enum pd_route {
	PD_R_NONE = 0,
	PD_R_HEALTHZ,   /* GET /healthz */
	PD_R_METRICS,   /* GET /metrics */
	PD_R_SANDBOXES, /* GET (list), POST (create) /v1/sandboxes */
	PD_R_SANDBOX,   /* GET, DELETE /v1/sandboxes/{id} */
	PD_R_EXEC,      /* POST .../exec */
	PD_R_CANCEL,    /* POST .../cancel */
	PD_R_KEEPALIVE, /* POST .../keepalive */
	PD_R_FILE,      /* PUT, GET, DELETE .../files/{path} */
	PD_R_FILES,     /* GET .../files or .../files/{dir}/ */
};

#define PD_NET_UNSET (-1)

/* POST /v1/sandboxes (also a tenant's "defaults"): the fields given.  Each
 * PD_C_* bit in @set says the field was present. */
struct pd_create {
	uint32_t set;
	char *language;
	uint64_t memory, tmp_size, workspace_size, net_max_bytes;
	uint32_t pids, net_max_conns;
	uint32_t cpus_milli;
	double timeout; /* idle TTL, seconds */
	int net;        /* PETRI_NET_* or PD_NET_UNSET */
	char **allow;   /* NULL-terminated */
	char **secrets; /* NULL-terminated names */
	char **env;     /* NULL-terminated "K=V" */
	char *hostname;
};
#define PD_C_LANGUAGE (1u << 0)
#define PD_C_MEMORY (1u << 1)
#define PD_C_TMP (1u << 2)
#define PD_C_WORKSPACE (1u << 3)
#define PD_C_NET_MAX_BYTES (1u << 4)
#define PD_C_PIDS (1u << 5)
#define PD_C_NET_MAX_CONNS (1u << 6)
#define PD_C_CPUS (1u << 7)
#define PD_C_TIMEOUT (1u << 8)
#define PD_C_NET (1u << 9)
#define PD_C_ALLOW (1u << 10)
#define PD_C_SECRETS (1u << 11)
#define PD_C_ENV (1u << 12)
#define PD_C_HOSTNAME (1u << 13)

/* POST .../exec. */
struct pd_exec_req {
	char *code;
	char **argv, **args, **env; /* NULL-terminated, or NULL */
	char *language, *cwd;
	char *stdin_data; /* bytes (decoded from stdin_b64), may hold NULs */
	size_t stdin_len;
	double timeout; /* seconds; 30 when not given */
	bool timeout_set;
	double cpu; /* seconds; 0: not given */
	uint64_t stdout_limit, stderr_limit, output_kill, file_size;
	uint32_t nofile;
};

/* One request, as far as it can be known without a context. */
struct pd_request {
	enum pd_method method;
	enum pd_route route;
	char id[64];   /* the {id} of /v1/sandboxes/{id}... */
	char *path;    /* PD_R_FILE, PD_R_FILES: percent-decoded, "" for the root */
	bool stream;   /* exec with Accept: text/event-stream */
	uint32_t mode; /* PUT file: ?mode= (0: default) */
	bool has_body; /* a JSON body was given (keepalive, create) */
	struct pd_create create;
	struct pd_exec_req exec;
	bool keepalive_has_timeout;
	double keepalive_timeout;
};

/* Match @method and the raw (not yet percent-decoded) path @url: fills
 * rq->method, route, id, path.  @mode_arg is the raw ?mode= value or NULL.
 * Returns 0, or -1 with @e set: 404 not_found (no such route), 404
 * sandbox_not_found (an id no sandbox can have), 405 method_not_allowed
 * (e->allow set), 400 unsafe_path / invalid_argument (a bad file path or
 * mode). */
int pd_route_match(const char *method, const char *url, const char *mode_arg, struct pd_request *rq,
		   struct pd_err *e);

/* Whether the route takes a JSON body (create, exec, keepalive). */
bool pd_route_json_body(const struct pd_request *rq);

/* Validate the body of a JSON route: @content_type the header (NULL when
 * absent), @body/@len the bytes (any bytes).  Fills rq->create / exec /
 * keepalive.  Returns 0, or -1 with @e set (400 bad_json, unknown_field,
 * invalid_argument; 415 unsupported_media_type). */
int pd_request_body(struct pd_request *rq, const char *content_type, const char *body, size_t len,
		    struct pd_err *e);

/* The fields of a create object @o (a body, or a tenant's defaults: then
 * @where is the key path for messages, e.g. "tenants.acme.defaults"). */
int pd_parse_create(json_object *o, struct pd_create *c, const char *where, struct pd_err *e);

/* A size: a non-negative integer of bytes, or a string "512M" (K, M, G, T:
 * powers of 1024; an optional B or iB after).  0 or -1. */
int pd_parse_size(json_object *v, uint64_t *out);
int pd_parse_size_text(const char *s, uint64_t *out);

/* Free what a request holds (the struct itself is the caller's). */
void pd_request_clear(struct pd_request *rq);
void pd_create_clear(struct pd_create *c);

/* A NULL-terminated copy of a NULL-terminated string array (NULL: NULL);
 * and its free. */
char **pd_strv_dup(char *const *v);
void pd_strv_free(char **v);
size_t pd_strv_len(char *const *v);

#endif /* PETRID_REQUEST_H */
