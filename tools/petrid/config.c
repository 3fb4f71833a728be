/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.c - reading petrid's JSON configuration.  Every key is known and
 * typed; anything else refuses the whole file with one line naming the key.
 * Tokens are kept as SHA-256 hashes only and compared in constant time;
 * secret values are read here (from a file or the environment) and wiped
 * when the config is freed.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "config.h"
#include "petri/petri.h"

#define CONFIG_MAX_BYTES (1 << 20)
#define SECRET_MAX_BYTES 4096

struct cfg_err {
	char *buf;
	size_t len;
};

static int bad(struct cfg_err *e, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad(struct cfg_err *e, const char *key, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(e->buf, e->len, "%s: ", key);
	if (n < 0 || (size_t)n >= e->len)
		return -1;
	va_start(ap, fmt);
	vsnprintf(e->buf + n, e->len - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int hex_hash(const char *s, uint8_t out[32])
{
	if (strlen(s) != 64)
		return -1;
	for (int i = 0; i < 32; i++) {
		unsigned v;
		char c0 = s[2 * i], c1 = s[2 * i + 1];
		if (!isxdigit((unsigned char)c0) || !isxdigit((unsigned char)c1) ||
		    isupper((unsigned char)c0) || isupper((unsigned char)c1))
			return -1;
		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	return 0;
}

static int get_uint(json_object *v, const char *key, uint64_t min, uint64_t max, uint64_t *out,
		    struct cfg_err *e)
{
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
		return bad(e, key, "must be a non-negative integer");
	uint64_t x = json_object_get_uint64(v);
	if (x < min || x > max)
		return bad(e, key, "must be %llu to %llu", (unsigned long long)min,
			   (unsigned long long)max);
	*out = x;
	return 0;
}

static int get_secs(json_object *v, const char *key, double *out, struct cfg_err *e)
{
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return bad(e, key, "must be a number of seconds");
	double d = json_object_get_double(v);
	if (!isfinite(d) || d <= 0 || d > 1e9)
		return bad(e, key, "must be above 0");
	*out = d;
	return 0;
}

static int get_bool(json_object *v, const char *key, bool *out, struct cfg_err *e)
{
	if (!json_object_is_type(v, json_type_boolean))
		return bad(e, key, "must be true or false");
	*out = json_object_get_boolean(v);
	return 0;
}

static int get_strv(json_object *v, const char *key, char ***out, struct cfg_err *e)
{
	if (!json_object_is_type(v, json_type_array))
		return bad(e, key, "must be an array of strings");
	size_t n = json_object_array_length(v);
	char **a = calloc(n + 1, sizeof(*a));
	if (!a)
		return bad(e, key, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(v, i);
		if (!json_object_is_type(s, json_type_string) || !*json_object_get_string(s) ||
		    !(a[i] = strdup(json_object_get_string(s)))) {
			pd_strv_free(a);
			return bad(e, key, "must be an array of non-empty strings");
		}
	}
	pd_strv_free(*out);
	*out = a;
	return 0;
}

static bool name_ok(const char *s, size_t max, bool upper)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) ||
		      (upper && (isupper((unsigned char)*s) || *s == '_' || *s == '-'))))
			return false;
	return true;
}

static int read_secret_file(const char *path, struct pd_secret_cfg *s)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char *buf = malloc(SECRET_MAX_BYTES + 2);
	ssize_t n = buf ? read(fd, buf, SECRET_MAX_BYTES + 1) : -1;
	int saved = errno;
	close(fd);
	if (!buf)
		return -ENOMEM;
	if (n < 0) {
		free(buf);
		return -saved;
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n == 0 || n > SECRET_MAX_BYTES) {
		OPENSSL_cleanse(buf, SECRET_MAX_BYTES + 2);
		free(buf);
		return -EMSGSIZE;
	}
	s->value = buf;
	s->value_len = (size_t)n;
	return 0;
}

static int parse_secret(json_object *v, const char *key, struct pd_secret_cfg *s, struct cfg_err *e)
{
	char k[256];
	const char *file = NULL, *env = NULL;

	if (!json_object_is_type(v, json_type_object))
		return bad(e, key, "must be an object");
	json_object_object_foreach(v, sk, sv)
	{
		snprintf(k, sizeof(k), "%s.%s", key, sk);
		if (strcmp(sk, "value_file") == 0 || strcmp(sk, "value_env") == 0) {
			if (!json_object_is_type(sv, json_type_string) ||
			    !*json_object_get_string(sv))
				return bad(e, k, "must be a non-empty string");
			*(sk[6] == 'f' ? &file : &env) = json_object_get_string(sv);
		} else if (strcmp(sk, "hosts") == 0) {
			if (get_strv(sv, k, &s->hosts, e) < 0)
				return -1;
		} else {
			return bad(e, k, "unknown key");
		}
	}
	if (!file == !env)
		return bad(e, key, "needs exactly one of value_file and value_env");
	if (!s->hosts || !s->hosts[0])
		return bad(e, key, "needs a non-empty hosts list");
	if (file) {
		int r = read_secret_file(file, s);
		if (r < 0)
			return bad(e, key, "value_file %s: %s", file,
				   r == -EMSGSIZE ? "empty or over 4096 bytes" : strerror(-r));
	} else {
		const char *val = getenv(env);
		if (!val || !*val || strlen(val) > SECRET_MAX_BYTES)
			return bad(e, key, "value_env %s: unset, empty or over 4096 bytes", env);
		s->value_len = strlen(val);
		if (!(s->value = malloc(s->value_len + 1)))
			return bad(e, key, "out of memory");
		memcpy(s->value, val, s->value_len + 1);
	}
	if (memchr(s->value, '\0', s->value_len) || memchr(s->value, '\n', s->value_len) ||
	    memchr(s->value, '\r', s->value_len))
		return bad(e, key, "the value holds a NUL, CR or LF");
	return 0;
}

static int parse_audit(json_object *v, const char *key, struct pd_audit_cfg *a, struct cfg_err *e)
{
	char k[256];
	if (!json_object_is_type(v, json_type_object))
		return bad(e, key, "must be an object");
	json_object_object_foreach(v, ak, av)
	{
		snprintf(k, sizeof(k), "%s.%s", key, ak);
		if (!json_object_is_type(av, json_type_string) || !*json_object_get_string(av))
			return bad(e, k, "must be a non-empty string");
		const char *s = json_object_get_string(av);
		if (strcmp(ak, "file") == 0 || strcmp(ak, "unix") == 0) {
			if (s[0] != '/')
				return bad(e, k, "must be an absolute path");
			char **dst = ak[0] == 'f' ? &a->file : &a->unix_path;
			free(*dst);
			if (!(*dst = strdup(s)))
				return bad(e, k, "out of memory");
		} else if (strcmp(ak, "format") == 0) {
			if (strcmp(s, "jsonl") == 0)
				a->jsonl = true;
			else if (strcmp(s, "protobuf") != 0)
				return bad(e, k, "must be \"protobuf\" or \"jsonl\"");
		} else {
			return bad(e, k, "unknown key");
		}
	}
	if (!a->file == !a->unix_path)
		return bad(e, key, "needs exactly one of file and unix");
	if (a->jsonl && !a->unix_path)
		return bad(e, key, "format jsonl needs unix");
	return 0;
}

static int parse_tenant(json_object *v, const char *name, struct pd_tenant *t, struct cfg_err *e)
{
	char key[256], k[320];
	uint64_t u;

	snprintf(key, sizeof(key), "tenants.%s", name);
	if (!name_ok(name, 64, true))
		return bad(e, key, "a tenant name is [A-Za-z0-9_-]{1,64}");
	if (!json_object_is_type(v, json_type_object))
		return bad(e, key, "must be an object");
	if (!(t->name = strdup(name)))
		return bad(e, key, "out of memory");
	t->max_sandboxes = 10;
	t->max_memory = 8ull << 30;
	t->max_exec_timeout = 300;
	t->max_execs = 4;
	t->max_ttl = 3600;
	t->defaults.net = PD_NET_UNSET;
	json_object_object_foreach(v, tk, tv)
	{
		snprintf(k, sizeof(k), "%s.%s", key, tk);
		int r = 0;
		if (strcmp(tk, "token_sha256") == 0) {
			size_t n = json_object_is_type(tv, json_type_array) ?
					   json_object_array_length(tv) :
					   1;
			if (n == 0 || n > 64)
				return bad(e, k, "must be a hash or a list of 1 to 64");
			free(t->tokens);
			if (!(t->tokens = calloc(n, 32)))
				return bad(e, k, "out of memory");
			t->ntokens = n;
			for (size_t i = 0; i < n; i++) {
				json_object *h = json_object_is_type(tv, json_type_array) ?
							 json_object_array_get_idx(tv, i) :
							 tv;
				if (!json_object_is_type(h, json_type_string) ||
				    hex_hash(json_object_get_string(h), t->tokens[i]) < 0)
					return bad(e, k, "must be 64 lowercase hex digits");
			}
		} else if (strcmp(tk, "max_sandboxes") == 0) {
			r = get_uint(tv, k, 0, 1000000, &u, e);
			t->max_sandboxes = (uint32_t)u;
		} else if (strcmp(tk, "max_memory") == 0) {
			if (pd_parse_size(tv, &t->max_memory) < 0)
				r = bad(e, k, "must be bytes or a size like \"8G\"");
		} else if (strcmp(tk, "max_exec_timeout") == 0) {
			r = get_secs(tv, k, &t->max_exec_timeout, e);
		} else if (strcmp(tk, "max_execs") == 0) {
			r = get_uint(tv, k, 0, 100000, &u, e);
			t->max_execs = (uint32_t)u;
		} else if (strcmp(tk, "max_ttl") == 0) {
			r = get_secs(tv, k, &t->max_ttl, e);
		} else if (strcmp(tk, "languages") == 0) {
			r = get_strv(tv, k, &t->languages, e);
			for (size_t i = 0; r == 0 && t->languages[i]; i++) {
				bool known = false;
				for (uint32_t j = 0; petri_language_name(j); j++)
					known |= strcmp(petri_language_name(j), t->languages[i]) ==
						 0;
				if (!known)
					r = bad(e, k, "unknown language %s", t->languages[i]);
			}
		} else if (strcmp(tk, "defaults") == 0) {
			struct pd_err pe;
			if (!json_object_is_type(tv, json_type_object))
				r = bad(e, k, "must be an object");
			else if (pd_parse_create(tv, &t->defaults, k, &pe) < 0)
				r = bad(e, k, "%s", pe.message);
		} else if (strcmp(tk, "allow") == 0) {
			r = get_strv(tv, k, &t->allow, e);
		} else if (strcmp(tk, "allow_host_net") == 0) {
			r = get_bool(tv, k, &t->allow_host_net, e);
		} else if (strcmp(tk, "secrets") == 0) {
			if (!json_object_is_type(tv, json_type_object))
				return bad(e, k, "must be an object");
			size_t n = (size_t)json_object_object_length(tv);
			if (!(t->secrets = calloc(n ? n : 1, sizeof(*t->secrets))))
				return bad(e, k, "out of memory");
			json_object_object_foreach(tv, sn, sv)
			{
				char sk[400];
				snprintf(sk, sizeof(sk), "%s.%s", k, sn);
				struct pd_secret_cfg *s = &t->secrets[t->nsecrets++];
				if (!(s->name = strdup(sn)))
					return bad(e, sk, "out of memory");
				if (!(isalpha((unsigned char)sn[0]) || sn[0] == '_') ||
				    strlen(sn) > 64 ||
				    strspn(sn,
					   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
					    strlen(sn))
					return bad(e, sk,
						   "a secret name is [A-Za-z_][A-Za-z0-9_]{0,63}");
				if (parse_secret(sv, sk, s, e) < 0)
					return -1;
			}
		} else if (strcmp(tk, "audit") == 0) {
			r = parse_audit(tv, k, &t->audit, e);
			t->has_audit = r == 0;
		} else {
			return bad(e, k, "unknown key");
		}
		if (r < 0)
			return -1;
	}
	if (!t->tokens)
		return bad(e, key, "token_sha256 is required");
	if (!t->allow && !(t->allow = calloc(1, sizeof(char *))))
		return bad(e, key, "out of memory");
	if (!(t->defaults.set & PD_C_TIMEOUT)) {
		t->defaults.timeout = t->max_ttl < 600 ? t->max_ttl : 600;
		t->defaults.set |= PD_C_TIMEOUT;
	}
	if (t->defaults.timeout > t->max_ttl)
		return bad(e, key, "defaults.timeout is above max_ttl");
	if ((t->defaults.set & PD_C_LANGUAGE) && !pd_tenant_language(t, t->defaults.language))
		return bad(e, key, "defaults.language is not one of languages");
	return 0;
}

/* "warm": {"python": 4, "sh": 8, "": 2}: a language the library knows ("":
 * sandboxes without one) -> sandboxes kept ready, the limits of petri_warm. */
static int parse_warm(json_object *v, struct pd_config *c, struct cfg_err *e)
{
	if (!json_object_is_type(v, json_type_object))
		return bad(e, "warm",
			   "must be an object {\"LANGUAGE\": COUNT}, e.g. {\"python\": 4}");
	size_t n = (size_t)json_object_object_length(v);
	if (n > 16)
		return bad(e, "warm", "at most 16 languages, got %zu", n);
	if (!(c->warm = calloc(n ? n : 1, sizeof(*c->warm))))
		return bad(e, "warm", "out of memory");
	json_object_object_foreach(v, lang, cv)
	{
		char key[96];
		uint64_t u;
		snprintf(key, sizeof(key), "warm.%s", *lang ? lang : "\"\"");
		if (*lang) {
			bool known = false;
			for (uint32_t i = 0; !known && petri_language_name(i); i++)
				known = strcmp(petri_language_name(i), lang) == 0;
			if (!known)
				return bad(
					e, key,
					"unknown language (python, node, go, sh, or \"\" for none)");
		}
		if (get_uint(cv, key, 1, 1024, &u, e) < 0)
			return -1;
		struct pd_warm_cfg *w = &c->warm[c->nwarm++];
		w->count = (uint32_t)u;
		if (*lang && !(w->language = strdup(lang)))
			return bad(e, key, "out of memory");
	}
	return 0;
}

bool pd_config_same_pool(const struct pd_config *a, const struct pd_config *b)
{
	if (a->recycle != b->recycle || a->nwarm != b->nwarm)
		return false;
	for (size_t i = 0; i < a->nwarm; i++) { /* each language once: as sets */
		const struct pd_warm_cfg *x = &a->warm[i];
		bool found = false;
		for (size_t j = 0; !found && j < b->nwarm; j++) {
			const struct pd_warm_cfg *y = &b->warm[j];
			found = x->count == y->count && !x->language == !y->language &&
				(!x->language || strcmp(x->language, y->language) == 0);
		}
		if (!found)
			return false;
	}
	return true;
}

static int parse_root(json_object *root, struct pd_config *c, struct cfg_err *e)
{
	uint64_t u;

	if (!json_object_is_type(root, json_type_object))
		return bad(e, "config", "must be a JSON object");
	snprintf(c->node, sizeof(c->node), "n1");
	c->max_connections = 1024;
	c->max_body = 16u << 20;
	c->request_timeout = 30;
	c->max_execs = 64;
	c->drain_timeout = 10;
	c->recycle = true;
	json_object *tenants = NULL;
	json_object_object_foreach(root, k, v)
	{
		int r = 0;
		if (strcmp(k, "node") == 0) {
			if (!json_object_is_type(v, json_type_string) ||
			    !name_ok(json_object_get_string(v), 16, false))
				return bad(e, k, "must match [a-z0-9]{1,16}");
			snprintf(c->node, sizeof(c->node), "%s", json_object_get_string(v));
		} else if (strcmp(k, "listen") == 0) {
			r = get_strv(v, k, &c->listen, e);
			if (r == 0 && !c->listen[0])
				r = bad(e, k, "must not be empty");
		} else if (strcmp(k, "admin_token_sha256") == 0) {
			if (!json_object_is_type(v, json_type_string) ||
			    hex_hash(json_object_get_string(v), c->admin) < 0)
				return bad(e, k, "must be 64 lowercase hex digits");
			c->has_admin = true;
		} else if (strcmp(k, "max_connections") == 0) {
			r = get_uint(v, k, 1, 1000000, &u, e);
			c->max_connections = (uint32_t)u;
		} else if (strcmp(k, "max_body_bytes") == 0) {
			if (pd_parse_size(v, &c->max_body) < 0 || c->max_body > (1u << 30))
				r = bad(e, k, "must be a size of at most 1 GiB");
		} else if (strcmp(k, "request_timeout") == 0) {
			r = get_uint(v, k, 1, 86400, &u, e);
			c->request_timeout = (unsigned)u;
		} else if (strcmp(k, "max_execs") == 0) {
			r = get_uint(v, k, 1, 10000, &u, e);
			c->max_execs = (uint32_t)u;
		} else if (strcmp(k, "drain_timeout") == 0) {
			r = get_uint(v, k, 0, 86400, &u, e);
			c->drain_timeout = (unsigned)u;
		} else if (strcmp(k, "require_kernel_audit") == 0) {
			r = get_bool(v, k, &c->require_kernel_audit, e);
		} else if (strcmp(k, "warm") == 0) {
			r = parse_warm(v, c, e);
		} else if (strcmp(k, "recycle") == 0) {
			r = get_bool(v, k, &c->recycle, e);
		} else if (strcmp(k, "tenants") == 0) {
			tenants = v;
		} else {
			return bad(e, k, "unknown key");
		}
		if (r < 0)
			return -1;
	}
	if (!c->listen)
		return bad(e, "listen", "is required");
	if (!tenants || !json_object_is_type(tenants, json_type_object))
		return bad(e, "tenants", "is required (an object)");
	size_t n = (size_t)json_object_object_length(tenants);
	if (!(c->tenants = calloc(n ? n : 1, sizeof(*c->tenants))))
		return bad(e, "tenants", "out of memory");
	json_object_object_foreach(tenants, name, tv)
	{
		if (parse_tenant(tv, name, &c->tenants[c->ntenants++], e) < 0)
			return -1;
	}
	return 0;
}

struct pd_config *pd_config_load(const char *path, char *err, size_t errlen)
{
	struct cfg_err e = {err, errlen};
	struct pd_config *c = calloc(1, sizeof(*c));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = NULL;
	json_object *root = NULL;

	err[0] = '\0';
	if (!c) {
		bad(&e, path, "out of memory");
		goto fail;
	}
	c->refs = 1;
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		bad(&e, path, "%s", strerror(errno));
		goto fail;
	}
	if (st.st_size > CONFIG_MAX_BYTES) {
		bad(&e, path, "larger than 1 MiB");
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	ssize_t n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	if (n < 0) {
		bad(&e, path, "%s", strerror(errno));
		goto fail;
	}
	json_tokener *tok = json_tokener_new();
	if (!tok) {
		bad(&e, path, "out of memory");
		goto fail;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, buf, (int)n);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	json_tokener_free(tok);
	if (!root || jerr != json_tokener_success) {
		bad(&e, path, "not JSON: %s", json_tokener_error_desc(jerr));
		goto fail;
	}
	if (parse_root(root, c, &e) < 0)
		goto fail;
	json_object_put(root);
	free(buf);
	close(fd);
	return c;
fail:
	json_object_put(root);
	free(buf);
	if (fd >= 0)
		close(fd);
	pd_config_free(c);
	return NULL;
}

void pd_config_free(struct pd_config *c)
{
	if (!c)
		return;
	pd_strv_free(c->listen);
	for (size_t i = 0; i < c->ntenants; i++) {
		struct pd_tenant *t = &c->tenants[i];
		free(t->name);
		free(t->tokens);
		pd_strv_free(t->languages);
		pd_create_clear(&t->defaults);
		pd_strv_free(t->allow);
		for (size_t j = 0; j < t->nsecrets; j++) {
			struct pd_secret_cfg *s = &t->secrets[j];
			if (s->value)
				OPENSSL_cleanse(s->value, s->value_len);
			free(s->value);
			free(s->name);
			pd_strv_free(s->hosts);
		}
		free(t->secrets);
		free(t->audit.file);
		free(t->audit.unix_path);
	}
	free(c->tenants);
	for (size_t i = 0; i < c->nwarm; i++)
		free(c->warm[i].language);
	free(c->warm);
	OPENSSL_cleanse(c->admin, sizeof(c->admin));
	free(c);
}

const struct pd_tenant *pd_config_auth(const struct pd_config *c, const char *token, bool *admin)
{
	uint8_t h[32];
	const struct pd_tenant *found = NULL;

	*admin = false;
	if (!token || !*token)
		return NULL;
	SHA256((const unsigned char *)token, strlen(token), h);
	/* Every hash is compared, found or not: the time says nothing. */
	for (size_t i = 0; i < c->ntenants; i++)
		for (size_t j = 0; j < c->tenants[i].ntokens; j++)
			if (CRYPTO_memcmp(h, c->tenants[i].tokens[j], 32) == 0)
				found = &c->tenants[i];
	if (c->has_admin && CRYPTO_memcmp(h, c->admin, 32) == 0)
		*admin = true;
	OPENSSL_cleanse(h, sizeof(h));
	return found;
}

const struct pd_tenant *pd_config_tenant(const struct pd_config *c, const char *name)
{
	for (size_t i = 0; c && i < c->ntenants; i++)
		if (strcmp(c->tenants[i].name, name) == 0)
			return &c->tenants[i];
	return NULL;
}

/* Split "HOST[:PORT][=ADDR]" (HOST may be "[v6]"): host length, port text. */
static void split_entry(const char *s, size_t *hostlen, const char **port, const char **addr)
{
	const char *eq = strchr(s, '=');
	size_t n = eq ? (size_t)(eq - s) : strlen(s);
	const char *colon = NULL;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (close && (size_t)(close + 1 - s) < n && close[1] == ':')
			colon = close + 1;
	} else {
		colon = memchr(s, ':', n);
	}
	*hostlen = colon ? (size_t)(colon - s) : n;
	*port = colon ? colon + 1 : NULL;
	*addr = eq ? eq + 1 : NULL;
}

bool pd_allow_covered(const struct pd_tenant *t, const char *entry)
{
	size_t hl;
	const char *port, *addr;
	split_entry(entry, &hl, &port, &addr);
	size_t pl = port ? strcspn(port, "=") : 0;
	for (size_t i = 0; t->allow[i]; i++) {
		const char *a = t->allow[i];
		if (strcasecmp(a, entry) == 0)
			return true;
		size_t ahl;
		const char *aport, *aaddr;
		split_entry(a, &ahl, &aport, &aaddr);
		if (addr || aaddr)
			continue; /* a pinned address is only granted exactly */
		if (aport && (!port || strcspn(aport, "=") != pl || strncmp(aport, port, pl) != 0))
			continue;
		if (ahl == hl && strncasecmp(a, entry, hl) == 0)
			return true;
		/* "*.NAME" covers "*.NAME", "x.NAME", "*.x.NAME", "y.x.NAME" */
		if (ahl > 2 && a[0] == '*' && a[1] == '.') {
			size_t suf = ahl - 1; /* ".NAME" */
			if (hl > suf && strncasecmp(entry + hl - suf, a + 1, suf) == 0)
				return true;
		}
	}
	return false;
}

const struct pd_secret_cfg *pd_tenant_secret(const struct pd_tenant *t, const char *name)
{
	for (size_t i = 0; i < t->nsecrets; i++)
		if (strcmp(t->secrets[i].name, name) == 0)
			return &t->secrets[i];
	return NULL;
}

bool pd_tenant_language(const struct pd_tenant *t, const char *language)
{
	if (!t->languages) {
		for (uint32_t j = 0; petri_language_name(j); j++)
			if (strcmp(petri_language_name(j), language) == 0)
				return true;
		return false;
	}
	for (size_t i = 0; t->languages[i]; i++)
		if (strcmp(t->languages[i], language) == 0)
			return true;
	return false;
}
