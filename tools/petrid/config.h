/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.h - petrid's configuration file (docs/petrid.md "Configuration"):
 * parsed and checked as a whole, then used read-only and shared by
 * reference count, so that a SIGHUP reload swaps it atomically while
 * requests in flight keep the one they started with.
 */
#ifndef PETRID_CONFIG_H
#define PETRID_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"

/* A TenantVault secret, its value read at (re)load.  Never logged. */
struct pd_secret_cfg {
	char *name;
	char *value; /* value_len bytes (wiped on free) */
	size_t value_len;
	char **hosts; /* NULL-terminated */
};

/* A tenant's audit destination. */
struct pd_audit_cfg {
	char *file;      /* protobuf frames to this file, or NULL */
	char *unix_path; /* a unix stream socket, or NULL */
	bool jsonl;      /* with unix_path: one JSON event per line */
};

struct pd_tenant {
	char *name;
	uint8_t (*tokens)[32]; /* SHA-256 of each accepted token */
	size_t ntokens;
	uint32_t max_sandboxes;
	uint64_t max_memory;
	double max_exec_timeout;
	uint32_t max_execs;
	double max_ttl;
	char **languages;          /* NULL-terminated; NULL: all the library knows */
	struct pd_create defaults; /* timeout always set */
	char **allow;              /* NULL-terminated, never NULL */
	bool allow_host_net;
	struct pd_secret_cfg *secrets;
	size_t nsecrets;
	bool has_audit;
	struct pd_audit_cfg audit;
};

/* One pool of the node's warm pool (docs/petrid.md "warm"). */
struct pd_warm_cfg {
	char *language; /* NULL: sandboxes without a language (key "") */
	uint32_t count;
};

struct pd_config {
	int refs; /* guarded by the holder's lock (config_get/config_put) */
	char node[17];
	char **listen; /* NULL-terminated, non-empty */
	bool has_admin;
	uint8_t admin[32];
	uint32_t max_connections;
	uint64_t max_body;
	unsigned request_timeout;
	uint32_t max_execs;
	unsigned drain_timeout;
	bool require_kernel_audit;
	struct pd_warm_cfg *warm; /* the node's warm pool, read at start only */
	size_t nwarm;
	bool recycle; /* default true */
	struct pd_tenant *tenants;
	size_t ntenants;
};

/* Read and check the config at @path.  Returns the config (refs 1), or NULL
 * with a one-line reason in @err ("tenants.acme.max_memory: ..."). */
struct pd_config *pd_config_load(const char *path, char *err, size_t errlen);
void pd_config_free(struct pd_config *c);

/* Whether @a and @b ask for the same warm pool ("warm" and "recycle"). */
bool pd_config_same_pool(const struct pd_config *a, const struct pd_config *b);

/* The tenant whose token is @token (compared as SHA-256 hashes in constant
 * time over every tenant), or NULL; [out] @admin true when it is the admin
 * token. */
const struct pd_tenant *pd_config_auth(const struct pd_config *c, const char *token, bool *admin);
/* The tenant named @name, or NULL. */
const struct pd_tenant *pd_config_tenant(const struct pd_config *c, const char *name);
/* Whether a sandbox's allowlist entry @entry is covered by the tenant's. */
bool pd_allow_covered(const struct pd_tenant *t, const char *entry);
/* The secret named @name of @t, or NULL. */
const struct pd_secret_cfg *pd_tenant_secret(const struct pd_tenant *t, const char *name);
/* Whether @t may use @language. */
bool pd_tenant_language(const struct pd_tenant *t, const char *language);

#endif /* PETRID_CONFIG_H */
