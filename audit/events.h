/* SPDX-License-Identifier: Apache-2.0 */
/*
 * events.h - library-internal emitters for events whose fields the
 * public petri_audit_emit_*() functions do not all take, or that have no
 * public emit function, for the hooks of libpetri/audit_hooks.c: plain C
 * structs, so that the library's side needs nothing of protobuf-c.
 * Implemented in writer.c.  Nothing here is API.
 */
#ifndef PETRI_AUDIT_EVENTS_H
#define PETRI_AUDIT_EVENTS_H

#include <stdint.h>

#include "petri/audit.h"

/* @count events of @kind that an exec's reaper counted instead of sending
 * (its report pipe was full: seccomp denials): a pending loss, reported as
 * {where: EXEC_REPORT} like the kernel's.  0, or -EINVAL. */
int petri__audit_report_unreported(petri_audit *a, int kind, uint64_t count);
/* @count events of @kind that a producer counted instead of emitting, as
 * its rate budget was spent (the egress proxy: libpetri/net/proxy.c): a
 * pending loss, reported as {where: RATE_LIMIT}.  0, or -EINVAL. */
int petri__audit_report_rate_limited(petri_audit *a, int kind, uint64_t count);

/* Every field of petri.audit.v1.SandboxCreated. */
struct petri__sandbox_created {
	const char *language;
	uint64_t cgroup_id;
	uint32_t init_pid_host;
	uint32_t host_uid;
	const char *network; /* "none", "host", "proxy" */
	uint64_t memory_limit_bytes;
	uint32_t pids_limit;
};

/* Same returns as petri_audit_emit_sandbox_created(). */
int petri__audit_emit_sandbox_created(petri_audit *a, const char *sandbox_id,
				      const struct petri__sandbox_created *c);

/* ExecStarted with every field (petri_audit_emit_exec_started() has no
 * timeout); same returns. */
int petri__audit_emit_exec_started(petri_audit *a, const char *sandbox_id, const char *exec_id,
				   const char *const *argv, const char *cwd, const char *language,
				   uint64_t timeout_ms);

/*
 * Every field of petri.audit.v1.NetConnection: one connection (or plain-HTTP
 * request) of a proxied sandbox, allowed or refused.  Enums are the schema's
 * values (NetConnection.Via, NetConnection.Protocol, NetDecision).  Strings
 * may be NULL (written as empty) and hold any bytes: those of name,
 * sni_or_host and http_path that are not valid UTF-8 are written with
 * U+FFFD for each invalid byte and kept exactly in the *_raw field.
 */
struct petri__net_connection {
	int via;      /* 1 proxy, 2 transparent */
	int protocol; /* 1 opaque, 2 tls, 3 http */
	const char *name;
	uint32_t port;
	const char *sni_or_host;
	const char *http_method;
	const char *http_path;
	const char *address; /* dialled, as text */
	uint64_t bytes_up, bytes_down;
	uint64_t start_time_unix_nano, duration_ns;
	int decision; /* 1 allowed, 2 denied */
	const char *reason;
	uint32_t http_status;
	int32_t upstream_errno;
};

/* Every field of petri.audit.v1.DnsQuery (as above; qname's invalid
 * UTF-8 is kept in qname_raw). */
struct petri__dns_query {
	const char *qname;
	int qname_truncated;
	uint32_t qtype;
	uint32_t rcode;
	int decision; /* 1 allowed, 2 denied */
	const char *reason;
	const char *answer_address; /* as text, NULL or "": none */
	int transport;              /* 1 udp, 2 tcp */
};

/* NetConnection / DnsQuery events of @sandbox_id (@exec_id: the exec
 * running, or NULL), with no process; same returns as the public emit
 * functions.  Thread-safe like them: the proxy's thread calls them while
 * other threads emit to the same stream. */
int petri__audit_emit_net_connection(petri_audit *a, const char *sandbox_id, const char *exec_id,
				     const struct petri__net_connection *c);
int petri__audit_emit_dns_query(petri_audit *a, const char *sandbox_id, const char *exec_id,
				const struct petri__dns_query *d);

/*
 * TenantVault (libpetri/net/vault.h): one substitution of a secret into a
 * request (SecretUse, fields 4..8 with destination "host:port" and allowed
 * set), and one refusal (SecretMisuse; kind: SecretMisuse.Kind, the values
 * of enum petri_vault_misuse).  Never a value: http_path is the target as
 * the code sent it.  Strings may be NULL; invalid UTF-8 as above.  Same
 * returns and threading as the emitters above (-EINVAL: no @u, or a use
 * without a name).
 */
#define PETRI__AUDIT_HOST_MAX 256
struct petri__secret_use {
	const char *name;
	const char *host;
	uint32_t port;
	const char *http_method;
	const char *http_path;
};
struct petri__secret_misuse {
	const char *name; /* NULL or "": foreign */
	int kind;
	const char *host;
	uint32_t port;
	const char *where;
	const char *detail;
};
int petri__audit_emit_secret_use(petri_audit *a, const char *sandbox_id, const char *exec_id,
				 const struct petri__secret_use *u);
int petri__audit_emit_secret_misuse(petri_audit *a, const char *sandbox_id, const char *exec_id,
				    const struct petri__secret_misuse *m);

#endif /* PETRI_AUDIT_EVENTS_H */
