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
#include <seccomp.h>

#include "audit_bpf.h"
#include "petri/audit.h"

int petri__kaudit_ensure(struct petri_ctx *ctx)
{
	pthread_mutex_lock(&ctx->lock);
	if (!ctx->kaudit_tried) {
		petri_error *e = NULL;
		ctx->kaudit_tried = 1;
		if (petri__kaudit_open(&ctx->kaudit, &e) < 0) {
			ctx->kaudit = NULL;
			snprintf(ctx->kaudit_reason, sizeof(ctx->kaudit_reason), "%s",
				 petri_error_message(e));
			petri__log(ctx, PETRI_LOG_WARN, "%s", ctx->kaudit_reason);
			petri_error_free(e);
		}
	}
	int on = ctx->kaudit != NULL;
	pthread_mutex_unlock(&ctx->lock);
	return on;
}

void petri__kaudit_close_ctx(struct petri_ctx *ctx)
{
	petri__kaudit_close(ctx->kaudit);
	ctx->kaudit = NULL;
}

/* Once the sandbox is ready: every exec's processes are in the cgroup. */
void petri__kaudit_watch_sandbox(struct petri_sandbox *sb)
{
	petri_error *e = NULL;
	if (!sb->audit || !sb->cgroup.id || !petri__kaudit_ensure(sb->ctx))
		return;
	if (petri__kaudit_watch(sb->ctx->kaudit, sb->cgroup.id, sb->cgroup.v2_dirfd, sb->audit,
				sb->id, &e) < 0) {
		petri__log(sb->ctx, PETRI_LOG_WARN, "sandbox %s: kernel audit: %s", sb->id,
			   petri_error_message(e));
		petri_error_free(e);
		return;
	}
	sb->kwatched = 1;
}

/* After the sandbox's processes are reaped, so that their exits are in. */
void petri__kaudit_unwatch_sandbox(struct petri_sandbox *sb)
{
	if (sb->kwatched)
		petri__kaudit_unwatch(sb->ctx->kaudit, sb->cgroup.id);
	sb->kwatched = 0;
}

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

void petri__audit_sandbox_destroyed(const struct petri_sandbox *sb, int died)
{
	if (sb->audit)
		petri_audit_emit_sandbox_destroyed(sb->audit, sb->id, died ? "died" : "destroyed",
						   NULL);
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

void petri__audit_seccomp_denial(const struct petri_sandbox *sb, int pid_inside, int nr,
				 uint32_t arch)
{
	char id[PETRI_ID_MAX + 24];
	if (!sb->audit)
		return;
	exec_id(sb, id, sizeof(id));
	char *name = seccomp_syscall_resolve_num_arch(arch, nr);
	petri_audit_process proc = {.pid_inside = (uint32_t)pid_inside};
	petri_audit_emit_denial(sb->audit, sb->id, id, &proc, PETRI_AUDIT_DENIAL_SECCOMP,
				name ? name : "unknown", nr, "denied by the seccomp filter (EPERM)",
				NULL);
	free(name);
}

void petri__audit_exec_ended(const struct petri_sandbox *sb, const struct petri_result *res)
{
	char id[PETRI_ID_MAX + 24];
	if (!sb->audit)
		return;
	exec_id(sb, id, sizeof(id));
	for (uint32_t bit = 1; bit; bit <<= 1)
		if ((res->limits_hit & bit) && petri_limit_name(bit))
			petri_audit_emit_limit_hit(sb->audit, sb->id, id, NULL,
						   petri_limit_name(bit), 0, 0, NULL);
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
void petri__audit_seccomp_denial(const struct petri_sandbox *sb, int pid_inside, int nr,
				 uint32_t arch)
{
	(void)sb;
	(void)pid_inside;
	(void)nr;
	(void)arch;
}

int petri__kaudit_ensure(struct petri_ctx *ctx)
{
	snprintf(ctx->kaudit_reason, sizeof(ctx->kaudit_reason), "built without the audit layer");
	return 0;
}

void petri__kaudit_close_ctx(struct petri_ctx *ctx)
{
	(void)ctx;
}

void petri__kaudit_watch_sandbox(struct petri_sandbox *sb)
{
	(void)sb;
}

void petri__kaudit_unwatch_sandbox(struct petri_sandbox *sb)
{
	(void)sb;
}

void petri__audit_sandbox_created(const struct petri_sandbox *sb)
{
	(void)sb;
}

void petri__audit_sandbox_destroyed(const struct petri_sandbox *sb, int died)
{
	(void)sb;
	(void)died;
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
