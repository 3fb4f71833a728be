/* SPDX-License-Identifier: Apache-2.0 */
/*
 * events.h - library-internal emitters for events whose fields the
 * public petri_audit_emit_*() functions do not all take, for the hooks of
 * audit_hooks.c (which is built without the generated protobuf headers).
 * Implemented in audit.c.  Nothing here is API.
 */
#ifndef PETRI_AUDIT_EVENTS_H
#define PETRI_AUDIT_EVENTS_H

#include <stdint.h>

#include "petri/audit.h"

/* @count events of @kind that an exec's reaper counted instead of sending
 * (its report pipe was full: seccomp denials): a pending loss, reported as
 * {where: EXEC_REPORT} like the kernel's.  0, or -EINVAL. */
int petri__audit_report_unreported(petri_audit *a, int kind, uint64_t count);

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

#endif /* PETRI_AUDIT_EVENTS_H */
