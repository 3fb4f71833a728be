/* SPDX-License-Identifier: Apache-2.0 */
/*
 * request.c - routing and body validation of petrid's requests, as pure
 * functions of (method, path, headers, body): no context, no config, no
 * I/O.  Every field a route takes is listed here with its type; anything
 * else is refused, naming the field.  JSON is parsed by json-c in strict
 * mode (no NaN, no comments, nothing after the value).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "petri/petri.h"
#include "request.h"

#define PD_MAX_PATH 4096
#define PD_MAX_ENTRIES 4096 /* argv, args, env, allow, secrets */
#define PD_MAX_TIMEOUT (7.0 * 24 * 3600)
/* The largest stdout_limit / stderr_limit: the captured output is held in
 * petrid's memory (then escaped into the result object, up to 6 bytes a
 * byte), so a tenant must not choose it unbounded. */
#define PD_MAX_CAPTURE (4ull << 20)

/* The length of the well-formed UTF-8 sequence at @p (of at most @n
 * bytes), or 0 when it is ill-formed or cut short. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	if (c < 0x80)
		return 1;
	size_t need = c >= 0xc2 && c <= 0xdf ? 2 :
		      c >= 0xe0 && c <= 0xef ? 3 :
		      c >= 0xf0 && c <= 0xf4 ? 4 :
					       0;
	if (!need || n < need)
		return 0;
	unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
	unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
	for (size_t i = 1; i < need; i++) {
		unsigned char min = i == 1 ? lo : 0x80, max = i == 1 ? hi : 0xbf;
		if (p[i] < min || p[i] > max)
			return 0;
	}
	return need;
}

int pd_fail(struct pd_err *e, unsigned status, const char *code, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	e->code = code;
	e->quota = NULL;
	e->allow = NULL;
	e->err_no = 0;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	/* The message goes into JSON and logs: one line of UTF-8 (a path or
	 * a library message may hold any bytes, and the cut above may split a
	 * character). */
	size_t len = strlen(e->message);
	for (size_t i = 0; i < len;) {
		unsigned char *p = (unsigned char *)e->message + i;
		size_t k = utf8_seq(p, len - i);
		if (k == 0 || *p < 0x20 || *p == 0x7f) {
			*p = '?';
			k = 1;
		}
		i += k;
	}
	return -1;
}

/* ---- string arrays ---- */

size_t pd_strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

void pd_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

char **pd_strv_dup(char *const *v)
{
	if (!v)
		return NULL;
	size_t n = pd_strv_len(v);
	char **c = calloc(n + 1, sizeof(*c));
	if (!c)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!(c[i] = strdup(v[i]))) {
			pd_strv_free(c);
			return NULL;
		}
	return c;
}

/* ---- routing ---- */

static enum pd_method method_of(const char *m)
{
	static const struct {
		const char *name;
		enum pd_method m;
	} t[] = {{"GET", PD_M_GET},
		 {"HEAD", PD_M_HEAD},
		 {"POST", PD_M_POST},
		 {"PUT", PD_M_PUT},
		 {"DELETE", PD_M_DELETE}};
	for (size_t i = 0; m && i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(m, t[i].name) == 0)
			return t[i].m;
	return PD_M_OTHER;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode @s into a new string; NULL (with @e) for a bad escape, an
 * encoded NUL, or a path too long. */
static char *decode_path(const char *s, struct pd_err *e)
{
	size_t n = strlen(s);
	if (n > 3 * PD_MAX_PATH) {
		pd_fail(e, 400, "invalid_argument", "file path too long");
		return NULL;
	}
	char *out = malloc(n + 1), *o = out;
	if (!out) {
		pd_fail(e, 500, "internal", "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		int hi = i + 2 < n + 1 ? hexval(s[i + 1]) : -1;
		int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			pd_fail(e, 400, "invalid_argument", "file path: bad percent-encoding");
			return NULL;
		}
		*o++ = (char)(hi * 16 + lo);
		i += 2;
	}
	*o = '\0';
	if ((size_t)(o - out) > PD_MAX_PATH) {
		free(out);
		pd_fail(e, 400, "invalid_argument", "file path too long");
		return NULL;
	}
	/* ".." is refused here too (the library refuses it as well). */
	for (const char *p = out; *p;) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			free(out);
			pd_fail(e, 400, "unsafe_path", "file path: a '..' component");
			return NULL;
		}
		p += len + (end ? 1 : 0);
	}
	return out;
}

static bool valid_id(const char *s, size_t n)
{
	if (n == 0 || n > 48)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int method_check(struct pd_request *rq, const char *allow, struct pd_err *e)
{
	static const char *const names[] = {
		[PD_M_GET] = "GET", [PD_M_POST] = "POST", [PD_M_PUT] = "PUT", [PD_M_DELETE] = "DELETE"};
	if (rq->method != PD_M_OTHER && rq->method != PD_M_HEAD) {
		/* @allow is ", "-separated: look for the whole name. */
		const char *name = names[rq->method];
		size_t len = strlen(name);
		for (const char *p = allow; (p = strstr(p, name)); p += len)
			if ((p == allow || p[-1] == ' ') && (p[len] == ',' || p[len] == '\0'))
				return 0;
	}
	pd_fail(e, 405, "method_not_allowed", "%s is not allowed here (allowed: %s)",
		rq->method == PD_M_OTHER ? "this method" :
		names[rq->method]        ? names[rq->method] :
					   "HEAD",
		allow);
	e->allow = allow;
	return -1;
}

int pd_route_match(const char *method, const char *url, const char *mode_arg, struct pd_request *rq,
		   struct pd_err *e)
{
	static const char prefix[] = "/v1/sandboxes";

	rq->method = method_of(method);
	rq->route = PD_R_NONE;
	if (!url)
		url = "";
	if (strcmp(url, "/healthz") == 0) {
		rq->route = PD_R_HEALTHZ;
		return method_check(rq, "GET", e);
	}
	if (strcmp(url, "/metrics") == 0) {
		rq->route = PD_R_METRICS;
		return method_check(rq, "GET", e);
	}
	if (strncmp(url, prefix, sizeof(prefix) - 1) != 0)
		return pd_fail(e, 404, "not_found", "no such route");
	const char *p = url + sizeof(prefix) - 1;
	if (*p == '\0') {
		rq->route = PD_R_SANDBOXES;
		return method_check(rq, "GET, POST", e);
	}
	if (*p != '/')
		return pd_fail(e, 404, "not_found", "no such route");
	p++;
	const char *slash = strchr(p, '/');
	size_t idlen = slash ? (size_t)(slash - p) : strlen(p);
	if (idlen == 0)
		return pd_fail(e, 404, "not_found", "no such route");
	/* An id no sandbox can have is simply not found (after auth). */
	if (valid_id(p, idlen)) {
		memcpy(rq->id, p, idlen);
		rq->id[idlen] = '\0';
	} else {
		rq->id[0] = '\0';
	}
	if (!slash) {
		rq->route = PD_R_SANDBOX;
		return method_check(rq, "GET, DELETE", e);
	}
	const char *rest = slash + 1;
	if (strcmp(rest, "exec") == 0)
		rq->route = PD_R_EXEC;
	else if (strcmp(rest, "cancel") == 0)
		rq->route = PD_R_CANCEL;
	else if (strcmp(rest, "keepalive") == 0)
		rq->route = PD_R_KEEPALIVE;
	if (rq->route != PD_R_NONE)
		return method_check(rq, "POST", e);
	if (strcmp(rest, "files") == 0 || strcmp(rest, "files/") == 0) {
		rq->route = PD_R_FILES;
		if (method_check(rq, "GET", e) < 0)
			return -1;
		rq->path = strdup("");
		return rq->path ? 0 : pd_fail(e, 500, "internal", "out of memory");
	}
	if (strncmp(rest, "files/", 6) != 0)
		return pd_fail(e, 404, "not_found", "no such route");
	const char *fp = rest + 6;
	size_t fl = strlen(fp);
	rq->route = fp[fl - 1] == '/' ? PD_R_FILES : PD_R_FILE;
	if (method_check(rq, rq->route == PD_R_FILES ? "GET" : "GET, PUT, DELETE", e) < 0)
		return -1;
	if (!(rq->path = decode_path(fp, e)))
		return -1;
	if (rq->route == PD_R_FILE && rq->method == PD_M_PUT && mode_arg) {
		char *end;
		errno = 0;
		unsigned long m = strtoul(mode_arg, &end, 8);
		if (!*mode_arg || *end || errno || m > 07777 || *mode_arg == '-' ||
		    *mode_arg == '+' || *mode_arg == ' ')
			return pd_fail(e, 400, "invalid_argument",
				       "mode: an octal permission, e.g. 0755");
		rq->mode = (uint32_t)m;
	}
	return 0;
}

bool pd_route_json_body(const struct pd_request *rq)
{
	return (rq->route == PD_R_SANDBOXES && rq->method == PD_M_POST) || rq->route == PD_R_EXEC ||
	       rq->route == PD_R_KEEPALIVE;
}

/* ---- field types ---- */

/* A JSON string without NULs, copied; @name for messages. */
static int get_string(json_object *v, const char *name, char **out, struct pd_err *e)
{
	if (!json_object_is_type(v, json_type_string))
		return pd_fail(e, 400, "invalid_argument", "%s: must be a string", name);
	size_t n = (size_t)json_object_get_string_len(v);
	const char *s = json_object_get_string(v);
	if (memchr(s, '\0', n))
		return pd_fail(e, 400, "invalid_argument", "%s: contains a NUL", name);
	char *c = strdup(s);
	if (!c)
		return pd_fail(e, 500, "internal", "out of memory");
	free(*out);
	*out = c;
	return 0;
}

static int get_strv(json_object *v, const char *name, char ***out, struct pd_err *e)
{
	if (!json_object_is_type(v, json_type_array))
		return pd_fail(e, 400, "invalid_argument", "%s: must be an array of strings", name);
	size_t n = json_object_array_length(v);
	if (n > PD_MAX_ENTRIES)
		return pd_fail(e, 400, "invalid_argument", "%s: more than %d entries", name,
			       PD_MAX_ENTRIES);
	char **a = calloc(n + 1, sizeof(*a));
	if (!a)
		return pd_fail(e, 500, "internal", "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (get_string(json_object_array_get_idx(v, i), name, &a[i], e) < 0) {
			pd_strv_free(a);
			return -1;
		}
	}
	pd_strv_free(*out);
	*out = a;
	return 0;
}

/* {"K": "V", ...} into "K=V" strings. */
static int get_env(json_object *v, const char *name, char ***out, struct pd_err *e)
{
	if (!json_object_is_type(v, json_type_object))
		return pd_fail(e, 400, "invalid_argument", "%s: must be an object of strings",
			       name);
	size_t n = (size_t)json_object_object_length(v), i = 0;
	if (n > PD_MAX_ENTRIES)
		return pd_fail(e, 400, "invalid_argument", "%s: more than %d entries", name,
			       PD_MAX_ENTRIES);
	char **a = calloc(n + 1, sizeof(*a));
	if (!a)
		return pd_fail(e, 500, "internal", "out of memory");
	json_object_object_foreach(v, key, val)
	{
		char *value = NULL;
		if (!*key || strchr(key, '=')) {
			pd_strv_free(a);
			return pd_fail(e, 400, "invalid_argument", "%s: bad variable name", name);
		}
		if (get_string(val, name, &value, e) < 0) {
			pd_strv_free(a);
			return -1;
		}
		size_t len = strlen(key) + strlen(value) + 2;
		a[i] = malloc(len);
		if (a[i])
			snprintf(a[i], len, "%s=%s", key, value);
		free(value);
		if (!a[i++]) {
			pd_strv_free(a);
			return pd_fail(e, 500, "internal", "out of memory");
		}
	}
	pd_strv_free(*out);
	*out = a;
	return 0;
}

/* A number (integer or not), finite, in (0, @max]. */
static int get_seconds(json_object *v, const char *name, double max, double *out, struct pd_err *e)
{
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return pd_fail(e, 400, "invalid_argument", "%s: must be a number", name);
	double d = json_object_get_double(v);
	if (!isfinite(d) || d <= 0 || d > max)
		return pd_fail(e, 400, "invalid_argument", "%s: must be above 0 and at most %g",
			       name, max);
	*out = d;
	return 0;
}

static int get_u32(json_object *v, const char *name, uint32_t min, uint32_t max, uint32_t *out,
		   struct pd_err *e)
{
	if (!json_object_is_type(v, json_type_int))
		return pd_fail(e, 400, "invalid_argument", "%s: must be an integer", name);
	int64_t x = json_object_get_int64(v);
	if (x < min || x > max)
		return pd_fail(e, 400, "invalid_argument", "%s: must be %u to %u", name, min, max);
	*out = (uint32_t)x;
	return 0;
}

int pd_parse_size_text(const char *s, uint64_t *out)
{
	if (!s || *s < '0' || *s > '9')
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	unsigned shift = 0;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	case '\0':
		break;
	default:
		if (strcmp(end, "B") != 0)
			return -1;
	}
	if (shift) {
		end++;
		if (*end == 'i')
			end++;
		if (*end == 'B')
			end++;
	} else if (*end == 'B') {
		end++;
	}
	if (*end)
		return -1;
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

int pd_parse_size(json_object *v, uint64_t *out)
{
	if (json_object_is_type(v, json_type_int)) {
		if (json_object_get_int64(v) < 0)
			return -1;
		errno = 0;
		uint64_t x = json_object_get_uint64(v);
		if (errno)
			return -1;
		*out = x;
		return 0;
	}
	if (json_object_is_type(v, json_type_string))
		return pd_parse_size_text(json_object_get_string(v), out);
	return -1;
}

static int get_size(json_object *v, const char *name, uint64_t *out, struct pd_err *e)
{
	if (pd_parse_size(v, out) < 0)
		return pd_fail(e, 400, "invalid_argument",
			       "%s: must be a number of bytes or a size like \"512M\"", name);
	return 0;
}

/* A capture limit: a size, at most PD_MAX_CAPTURE. */
static int get_capture(json_object *v, const char *name, uint64_t *out, struct pd_err *e)
{
	if (get_size(v, name, out, e) < 0)
		return -1;
	if (*out > PD_MAX_CAPTURE)
		return pd_fail(e, 400, "invalid_argument", "%s: at most %llu bytes", name,
			       (unsigned long long)PD_MAX_CAPTURE);
	return 0;
}

/* ---- bodies ---- */

/* "where.key" for messages about a nested object (tenant defaults). */
static const char *field_name(char *buf, size_t size, const char *where, const char *key)
{
	if (!where)
		return key;
	snprintf(buf, size, "%s.%s", where, key);
	return buf;
}

int pd_parse_create(json_object *o, struct pd_create *c, const char *where, struct pd_err *e)
{
	char nb[160];

	json_object_object_foreach(o, key, v)
	{
		const char *n = field_name(nb, sizeof(nb), where, key);
		int r;
		if (strcmp(key, "language") == 0) {
			r = get_string(v, n, &c->language, e);
			c->set |= PD_C_LANGUAGE;
		} else if (strcmp(key, "memory") == 0) {
			r = get_size(v, n, &c->memory, e);
			c->set |= PD_C_MEMORY;
		} else if (strcmp(key, "tmp_size") == 0) {
			r = get_size(v, n, &c->tmp_size, e);
			c->set |= PD_C_TMP;
		} else if (strcmp(key, "workspace_size") == 0) {
			r = get_size(v, n, &c->workspace_size, e);
			c->set |= PD_C_WORKSPACE;
		} else if (strcmp(key, "net_max_bytes") == 0) {
			r = get_size(v, n, &c->net_max_bytes, e);
			c->set |= PD_C_NET_MAX_BYTES;
		} else if (strcmp(key, "pids") == 0) {
			r = get_u32(v, n, 1, 1u << 22, &c->pids, e);
			c->set |= PD_C_PIDS;
		} else if (strcmp(key, "net_max_conns") == 0) {
			r = get_u32(v, n, 1, 1u << 20, &c->net_max_conns, e);
			c->set |= PD_C_NET_MAX_CONNS;
		} else if (strcmp(key, "cpus") == 0) {
			double cpus = 0;
			r = get_seconds(v, n, 1e6, &cpus, e);
			if (r == 0 && cpus * 1000 < 1)
				r = pd_fail(e, 400, "invalid_argument", "%s: too small", n);
			c->cpus_milli = r == 0 ? (uint32_t)llround(cpus * 1000) : 0;
			c->set |= PD_C_CPUS;
		} else if (strcmp(key, "timeout") == 0) {
			r = get_seconds(v, n, 1e9, &c->timeout, e);
			c->set |= PD_C_TIMEOUT;
		} else if (strcmp(key, "net") == 0) {
			const char *s = json_object_get_string(v);
			r = 0;
			if (!json_object_is_type(v, json_type_string))
				r = pd_fail(e, 400, "invalid_argument", "%s: must be a string", n);
			else if (strcmp(s, "none") == 0)
				c->net = PETRI_NET_NONE;
			else if (strcmp(s, "proxy") == 0)
				c->net = PETRI_NET_PROXY;
			else if (strcmp(s, "host") == 0)
				c->net = PETRI_NET_HOST;
			else
				r = pd_fail(e, 400, "invalid_argument",
					    "%s: must be \"none\", \"proxy\" or \"host\"", n);
			c->set |= PD_C_NET;
		} else if (strcmp(key, "allow") == 0) {
			r = get_strv(v, n, &c->allow, e);
			c->set |= PD_C_ALLOW;
		} else if (strcmp(key, "secrets") == 0) {
			r = get_strv(v, n, &c->secrets, e);
			c->set |= PD_C_SECRETS;
		} else if (strcmp(key, "env") == 0) {
			r = get_env(v, n, &c->env, e);
			c->set |= PD_C_ENV;
		} else if (strcmp(key, "hostname") == 0) {
			r = get_string(v, n, &c->hostname, e);
			c->set |= PD_C_HOSTNAME;
		} else {
			return pd_fail(e, 400, "unknown_field", "unknown field: %s", n);
		}
		if (r < 0)
			return -1;
	}
	return 0;
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Standard or URL-safe base64, padding optional. */
static int b64_decode(const char *s, size_t n, char **out, size_t *outlen)
{
	while (n > 0 && s[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return -1;
	char *o = malloc(n / 4 * 3 + 3 + 1);
	if (!o)
		return -1;
	size_t k = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64val((unsigned char)s[i]);
		if (v < 0) {
			free(o);
			return -1;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[k++] = (char)((acc >> bits) & 0xff);
		}
	}
	o[k] = '\0';
	*out = o;
	*outlen = k;
	return 0;
}

static int parse_exec(json_object *o, struct pd_exec_req *x, struct pd_err *e)
{
	bool has_stdin = false;

	json_object_object_foreach(o, key, v)
	{
		int r;
		if (strcmp(key, "code") == 0) {
			r = get_string(v, key, &x->code, e);
		} else if (strcmp(key, "argv") == 0) {
			r = get_strv(v, key, &x->argv, e);
			if (r == 0 && !x->argv[0])
				r = pd_fail(e, 400, "invalid_argument", "argv: must not be empty");
		} else if (strcmp(key, "args") == 0) {
			r = get_strv(v, key, &x->args, e);
		} else if (strcmp(key, "language") == 0) {
			r = get_string(v, key, &x->language, e);
		} else if (strcmp(key, "stdin") == 0 || strcmp(key, "stdin_b64") == 0) {
			if (has_stdin)
				return pd_fail(e, 400, "invalid_argument",
					       "stdin, stdin_b64: at most one of them");
			has_stdin = true;
			if (!json_object_is_type(v, json_type_string))
				return pd_fail(e, 400, "invalid_argument", "%s: must be a string",
					       key);
			const char *s = json_object_get_string(v);
			size_t n = (size_t)json_object_get_string_len(v);
			if (key[5] == '\0') {
				x->stdin_data = malloc(n + 1);
				if (!x->stdin_data)
					return pd_fail(e, 500, "internal", "out of memory");
				memcpy(x->stdin_data, s, n + 1);
				x->stdin_len = n;
				r = 0;
			} else {
				r = b64_decode(s, n, &x->stdin_data, &x->stdin_len) < 0 ?
					    pd_fail(e, 400, "invalid_argument",
						    "stdin_b64: not base64") :
					    0;
			}
		} else if (strcmp(key, "env") == 0) {
			r = get_env(v, key, &x->env, e);
		} else if (strcmp(key, "cwd") == 0) {
			r = get_string(v, key, &x->cwd, e);
		} else if (strcmp(key, "timeout") == 0) {
			r = get_seconds(v, key, PD_MAX_TIMEOUT, &x->timeout, e);
			x->timeout_set = true;
		} else if (strcmp(key, "cpu") == 0) {
			r = get_seconds(v, key, PD_MAX_TIMEOUT, &x->cpu, e);
		} else if (strcmp(key, "stdout_limit") == 0) {
			r = get_capture(v, key, &x->stdout_limit, e);
		} else if (strcmp(key, "stderr_limit") == 0) {
			r = get_capture(v, key, &x->stderr_limit, e);
		} else if (strcmp(key, "output_kill") == 0) {
			r = get_size(v, key, &x->output_kill, e);
		} else if (strcmp(key, "file_size") == 0) {
			r = get_size(v, key, &x->file_size, e);
		} else if (strcmp(key, "nofile") == 0) {
			r = get_u32(v, key, 1, 1u << 20, &x->nofile, e);
		} else {
			return pd_fail(e, 400, "unknown_field", "unknown field: %s", key);
		}
		if (r < 0)
			return -1;
	}
	if (!x->code == !x->argv)
		return pd_fail(e, 400, "invalid_argument", "exactly one of code and argv");
	if (x->args && !x->code)
		return pd_fail(e, 400, "invalid_argument", "args: only with code");
	return 0;
}

/* ---- strict JSON syntax (RFC 8259) ----
 * json-c accepts more than JSON even in strict mode (single quotes, NaN),
 * so the text is checked here first: one value, whitespace around it,
 * UTF-8 strings, no extensions.  Depth-bounded (64), no allocation. */

struct jscan {
	const unsigned char *p, *end;
	bool nul;     /* the last string scanned has a \u0000 */
	bool key_nul; /* an object key has one (json-c would cut it there) */
	/* The top-level key being scanned (its raw text, quotes excluded), and
	 * the one the first key with a NUL sits under (length 0: at the top). */
	const unsigned char *top, *nul_top;
	size_t top_len, nul_top_len;
};

static void jws(struct jscan *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static bool jlit(struct jscan *j, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
		return false;
	j->p += n;
	return true;
}

static bool jdigits(struct jscan *j)
{
	const unsigned char *start = j->p;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > start;
}

static bool jnumber(struct jscan *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (!jdigits(j))
		return false;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (!jdigits(j))
			return false;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!jdigits(j))
			return false;
	}
	return true;
}

static bool jstring(struct jscan *j)
{
	j->nul = false;
	j->p++; /* the opening quote */
	while (j->p < j->end) {
		unsigned char c = *j->p;
		if (c == '"') {
			j->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (++j->p >= j->end)
				return false;
			c = *j->p++;
			if (c == 'u') {
				int v = 0;
				for (int i = 0; i < 4; i++, j->p++) {
					if (j->p >= j->end || hexval((char)*j->p) < 0)
						return false;
					v = v * 16 + hexval((char)*j->p);
				}
				if (v == 0)
					j->nul = true;
			} else if (!strchr("\"\\/bfnrt", c) || c == '\0') {
				return false;
			}
			continue;
		}
		if (c < 0x80) {
			j->p++;
			continue;
		}
		/* UTF-8: a well-formed sequence, no overlong or surrogate. */
		size_t need = c >= 0xc2 && c <= 0xdf ? 2 :
			      c >= 0xe0 && c <= 0xef ? 3 :
			      c >= 0xf0 && c <= 0xf4 ? 4 :
						       0;
		if (!need || (size_t)(j->end - j->p) < need)
			return false;
		unsigned char lo = 0x80, hi = 0xbf;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		else if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		for (size_t i = 1; i < need; i++) {
			unsigned char min = i == 1 ? lo : 0x80, max = i == 1 ? hi : 0xbf;
			if (j->p[i] < min || j->p[i] > max)
				return false;
		}
		j->p += need;
	}
	return false;
}

static bool jvalue(struct jscan *j, int depth)
{
	if (depth > 64)
		return false;
	jws(j);
	if (j->p >= j->end)
		return false;
	switch (*j->p) {
	case '{':
	case '[': {
		bool obj = *j->p == '{';
		char close = obj ? '}' : ']';
		j->p++;
		jws(j);
		if (j->p < j->end && *j->p == close) {
			j->p++;
			return true;
		}
		for (;;) {
			if (obj) {
				jws(j);
				const unsigned char *k = j->p + 1;
				if (j->p >= j->end || *j->p != '"' || !jstring(j))
					return false;
				if (depth == 0) {
					j->top = k;
					j->top_len = (size_t)(j->p - k) - 1;
				}
				if (j->nul && !j->key_nul) {
					j->nul_top = depth == 0 ? NULL : j->top;
					j->nul_top_len = depth == 0 ? 0 : j->top_len;
				}
				j->key_nul |= j->nul;
				jws(j);
				if (j->p >= j->end || *j->p++ != ':')
					return false;
			}
			if (!jvalue(j, depth + 1))
				return false;
			jws(j);
			if (j->p >= j->end)
				return false;
			if (*j->p == close) {
				j->p++;
				return true;
			}
			if (*j->p++ != ',')
				return false;
		}
	}
	case '"':
		return jstring(j);
	case 't':
		return jlit(j, "true");
	case 'f':
		return jlit(j, "false");
	case 'n':
		return jlit(j, "null");
	default:
		return jnumber(j);
	}
}

/* Whether @s is one JSON value; [out] @key_nul: an object key holds a
 * NUL (json-c keeps keys as C strings: "A\u0000B" would silently be "A"),
 * and [out] @field/@field_len the top-level key it is under (length 0: it
 * is a top-level key itself). */
static bool json_valid(const char *s, size_t n, bool *key_nul, const char **field,
		       size_t *field_len)
{
	struct jscan j = {.p = (const unsigned char *)s, .end = (const unsigned char *)s + n};
	if (!jvalue(&j, 0))
		return false;
	jws(&j);
	*key_nul = j.key_nul;
	*field = (const char *)j.nul_top;
	*field_len = j.nul_top_len;
	return j.p == j.end;
}

/* Whether @o holds a NaN or an infinity (json-c reads them even in strict
 * mode; JSON has neither). */
static bool has_nonfinite(json_object *o)
{
	if (json_object_is_type(o, json_type_double))
		return !isfinite(json_object_get_double(o));
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if (has_nonfinite(json_object_array_get_idx(o, i)))
				return true;
	} else if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v)
		{
			(void)k;
			if (has_nonfinite(v))
				return true;
		}
	}
	return false;
}

static bool json_content_type(const char *ct)
{
	if (!ct)
		return true; /* a body without a type: taken as JSON */
	size_t n = strcspn(ct, ";");
	while (n > 0 && ct[n - 1] == ' ')
		n--;
	if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
		return true;
	return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
	       strncasecmp(ct + n - 5, "+json", 5) == 0;
}

int pd_request_body(struct pd_request *rq, const char *content_type, const char *body, size_t len,
		    struct pd_err *e)
{
	rq->exec.timeout = 30;
	rq->create.net = PD_NET_UNSET;
	if (!pd_route_json_body(rq))
		return 0;
	if (len == 0) {
		if (rq->route == PD_R_EXEC)
			return pd_fail(e, 400, "invalid_argument", "exactly one of code and argv");
		return 0;
	}
	if (!json_content_type(content_type))
		return pd_fail(e, 415, "unsupported_media_type",
			       "the body must be application/json");
	if (len > INT32_MAX)
		return pd_fail(e, 413, "body_too_large", "body too large");
	/* Only an object is a body: say so of any other value, the same way
	 * for all (json-c waits for the end of a bare number or literal such as
	 * "null", and said "the body is not JSON: continue"). */
	size_t first = 0;
	while (first < len && body[first] && strchr(" \t\r\n", body[first]))
		first++;
	if (first == len || body[first] != '{')
		return pd_fail(e, 400, "bad_json", "the body must be a JSON object");
	bool key_nul = false;
	const char *field = NULL;
	size_t field_len = 0;
	if (!json_valid(body, len, &key_nul, &field, &field_len))
		return pd_fail(e, 400, "bad_json", "the body is not JSON");
	if (key_nul && field_len == 0)
		return pd_fail(e, 400, "invalid_argument", "a field name contains a NUL");
	if (key_nul)
		return pd_fail(e, 400, "invalid_argument", "%.*s: a name in it contains a NUL",
			       (int)(field_len < 64 ? field_len : 64), field);
	json_tokener *tok = json_tokener_new_ex(64);
	if (!tok)
		return pd_fail(e, 500, "internal", "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	json_object *o = json_tokener_parse_ex(tok, body, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	/* Whitespace may follow the value; anything else is an error. */
	while (o && used < len && strchr(" \t\r\n", body[used]) && body[used])
		used++;
	if (!o || jerr != json_tokener_success || used != len || has_nonfinite(o)) {
		json_object_put(o);
		return pd_fail(e, 400, "bad_json", "the body is not JSON%s%s",
			       jerr != json_tokener_success ? ": " : "",
			       jerr != json_tokener_success ? json_tokener_error_desc(jerr) : "");
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return pd_fail(e, 400, "bad_json", "the body must be a JSON object");
	}
	int r = 0;
	rq->has_body = true;
	if (rq->route == PD_R_SANDBOXES) {
		r = pd_parse_create(o, &rq->create, NULL, e);
	} else if (rq->route == PD_R_EXEC) {
		r = parse_exec(o, &rq->exec, e);
	} else {
		json_object_object_foreach(o, key, v)
		{
			if (strcmp(key, "timeout") != 0) {
				r = pd_fail(e, 400, "unknown_field", "unknown field: %s", key);
				break;
			}
			r = get_seconds(v, key, 1e9, &rq->keepalive_timeout, e);
			rq->keepalive_has_timeout = r == 0;
			if (r < 0)
				break;
		}
	}
	json_object_put(o);
	return r;
}

void pd_create_clear(struct pd_create *c)
{
	free(c->language);
	free(c->hostname);
	pd_strv_free(c->allow);
	pd_strv_free(c->secrets);
	pd_strv_free(c->env);
	memset(c, 0, sizeof(*c));
	c->net = PD_NET_UNSET;
}

void pd_request_clear(struct pd_request *rq)
{
	struct pd_exec_req *x = &rq->exec;

	free(rq->path);
	pd_create_clear(&rq->create);
	free(x->code);
	free(x->language);
	free(x->cwd);
	free(x->stdin_data);
	pd_strv_free(x->argv);
	pd_strv_free(x->args);
	pd_strv_free(x->env);
	memset(rq, 0, sizeof(*rq));
}
