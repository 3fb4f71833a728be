/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_hooks.c - the events the library itself knows about, sent to the
 * sandbox's audit stream: lifecycle, exec start and end with the result,
 * and each limit the exec hit.  The kernel (eBPF) events join the same
 * stream through the audit layer.  Emitting never waits for the sink; a
 * full queue is counted and reported in the stream as a Loss.
 */
#include <stdio.h>

#include "sandbox_priv.h"

#ifdef PETRI_HAVE_AUDIT
#include "petri/audit.h"

static void exec_id(const struct petri_sandbox *sb, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%llu", sb->id, (unsigned long long)sb->exec_serial);
}

void petri__audit_sandbox_created(const struct petri_sandbox *sb)
{
	if (sb->audit)
		petri_audit_emit_sandbox_created(sb->audit, sb->id, sb->language, sb->cgroup.id,
						 (uint32_t)sb->pid, NULL);
}

void petri__audit_sandbox_destroyed(const struct petri_sandbox *sb)
{
	if (sb->audit)
		petri_audit_emit_sandbox_destroyed(sb->audit, sb->id,
						   sb->dead ? "died" : "destroyed", NULL);
}

void petri__audit_exec_started(const struct petri_sandbox *sb, const char *const *argv,
			       const char *cwd, const char *language)
{
	char id[PETRI_ID_MAX + 24];
	if (!sb->audit)
		return;
	exec_id(sb, id, sizeof(id));
	petri_audit_emit_exec_started(sb->audit, sb->id, id, NULL, argv, cwd, language, NULL);
}

void petri__audit_exec_ended(const struct petri_sandbox *sb, const struct petri_result *res)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} limits[] = {
		{PETRI_LIMIT_MEMORY, "memory"}, {PETRI_LIMIT_PIDS, "pids"},
		{PETRI_LIMIT_OUTPUT, "output"}, {PETRI_LIMIT_TIMEOUT, "timeout"},
		{PETRI_LIMIT_CPU, "cpu"},       {PETRI_LIMIT_FILE_SIZE, "file_size"},
	};
	char id[PETRI_ID_MAX + 24];
	if (!sb->audit)
		return;
	exec_id(sb, id, sizeof(id));
	for (size_t i = 0; i < ARRAY_SIZE(limits); i++)
		if (res->limits_hit & limits[i].bit)
			petri_audit_emit_limit_hit(sb->audit, sb->id, id, NULL, limits[i].name, 0,
						   0, NULL);
	petri_audit_exec_result r = {
		.sz = sizeof(r),
		.exit_code = res->exit_code,
		.signal = res->signal,
		.reason = res->reason,
		.limits_hit = res->limits_hit,
		.wall_ns = res->wall_ns,
		.cpu_ns = res->cpu_ns,
		.peak_memory_bytes = res->peak_memory,
	};
	petri_audit_emit_exec_ended(sb->audit, sb->id, id, NULL, &r, NULL);
}
#else
void petri__audit_sandbox_created(const struct petri_sandbox *sb)
{
	(void)sb;
}

void petri__audit_sandbox_destroyed(const struct petri_sandbox *sb)
{
	(void)sb;
}

void petri__audit_exec_started(const struct petri_sandbox *sb, const char *const *argv,
			       const char *cwd, const char *language)
{
	(void)sb;
	(void)argv;
	(void)cwd;
	(void)language;
}

void petri__audit_exec_ended(const struct petri_sandbox *sb, const struct petri_result *res)
{
	(void)sb;
	(void)res;
}
#endif
