/* SPDX-License-Identifier: Apache-2.0 */
/*
 * context.c - the context: what is detected once per process that uses the
 * library (cgroup layout, Landlock, the compiled seccomp profile), the
 * supervisor thread's lifetime, and the caller's log callback.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>

#include "defaults.h"
#include "host.h"
#include "net/net.h"

PETRI_API void petri_ctx_opts_init(petri_ctx_opts *opts)
{
	if (opts)
		*opts = (petri_ctx_opts)PETRI_CTX_OPTS_INIT;
}

static int landlock_abi(void)
{
	int abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, 1u);
	return abi < 0 ? 0 : abi;
}

PETRI_API int petri_ctx_new(petri_ctx **out, const petri_ctx_opts *opts, petri_error **err)
{
	petri_ctx_opts o;
	if (!out)
		return petri__err(err, EINVAL, "petri_ctx_new: out is NULL");
	int r = petri__opts_copy(&o, sizeof(o), opts, err, "petri_ctx_opts");
	if (r < 0)
		return r;
	if (!opts)
		petri_ctx_opts_init(&o);
	if (o.host_uid_base > DEFAULT_UID_BASE_MAX)
		return petri__err(
			err, EINVAL,
			"petri_ctx_opts: host_uid_base 0x%x leaves no room for a range of "
			"65536 ids (at most 0x%x)",
			o.host_uid_base, DEFAULT_UID_BASE_MAX);
	if (o.flags & ~(PETRI_CTX_F_REQUIRE_CGROUPS | PETRI_CTX_F_CGROUP_LEAF |
			PETRI_CTX_F_CALLER_THREAD | PETRI_CTX_F_NO_RECYCLE))
		return petri__err(err, EINVAL, "petri_ctx_opts: unknown flags 0x%x", o.flags);
	if (o.reserved0)
		return petri__err(err, EINVAL, "petri_ctx_opts: reserved0 must be 0");
	/* Found before any work, like every other bad option. */
	if ((r = petri__warm_check(o.warm, o.nwarm, err)) < 0)
		return r;

	petri_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return petri__err(err, ENOMEM, "petri_ctx_new");
	ctx->log_level = o.log_level;
	ctx->log_fn = o.log_fn;
	ctx->log_userdata = o.log_userdata;
	ctx->flags = o.flags;
	ctx->uid = geteuid();
	ctx->gid = getegid();
	ctx->is_root = ctx->uid == 0;
	ctx->host_uid_base = o.host_uid_base ? o.host_uid_base : DEFAULT_UID_BASE;
	ctx->default_uid_base = o.host_uid_base == 0;
	ctx->init_image_fd = -1;
	const char *mode = secure_getenv("PETRI_INIT");
	ctx->init_mode = mode && strcmp(mode, "fork") == 0 ? INIT_FORK : INIT_EXEC;
	if (mode && *mode && strcmp(mode, "fork") != 0 && strcmp(mode, "exec") != 0)
		petri__log(ctx, PETRI_LOG_WARN, "PETRI_INIT=%.32s ignored (fork or exec)", mode);
	pthread_mutex_init(&ctx->lock, NULL);
	pthread_mutex_init(&ctx->unix_guard_mu, NULL);
	pthread_cond_init(&ctx->cond, NULL);

	r = petri__seccomp_build(&ctx->seccomp, err);
	if (r < 0)
		goto fail;
	r = petri__cgroup_layout_detect(ctx, !!(ctx->flags & PETRI_CTX_F_CGROUP_LEAF),
					&ctx->cgroups);
	if (r < 0) {
		r = petri__err(err, r, "detect cgroups");
		goto fail;
	}
	if (ctx->cgroups.mode == PETRI_CGROUP_NONE && (ctx->flags & PETRI_CTX_F_REQUIRE_CGROUPS)) {
		r = petri__err(err, EPERM,
			       "no writable cgroup with memory and pids controllers below ours");
		goto fail;
	}
	ctx->landlock_abi = (uint32_t)landlock_abi();
	/* Last: the refill thread starts building at once. */
	r = petri__pools_new(ctx, o.warm, o.nwarm, err);
	if (r < 0)
		goto fail;
	*out = ctx;
	return 0;
fail:
	petri__seccomp_release(&ctx->seccomp);
	petri__cgroup_layout_release(&ctx->cgroups);
	pthread_mutex_destroy(&ctx->lock);
	pthread_mutex_destroy(&ctx->unix_guard_mu);
	pthread_cond_destroy(&ctx->cond);
	free(ctx);
	return r;
}

PETRI_API void petri_ctx_free(petri_ctx *ctx)
{
	if (!ctx)
		return;
	/* The refill thread ends first (it finishes the build or reset it is
	 * doing), so that every later destroy tears down.  Then every init is
	 * killed, and the supervisor thread (their parent) ends while they
	 * die: the kernel tears their namespaces down beside its exit instead
	 * of before it. */
	petri__pools_stop(ctx);
	for (petri_sandbox *sb = ctx->sandboxes; sb; sb = sb->next)
		petri__sandbox_kill_init(sb);
	petri__pools_kill(ctx);
	petri__spawn_stop(ctx);
	while (ctx->sandboxes)
		petri_sandbox_destroy(ctx->sandboxes);
	petri__pools_free(ctx);
	petri__proxy_stop(ctx);
	petri__kaudit_close_ctx(ctx);
	petri__unix_guard_close_ctx(ctx);
	if (ctx->init_image_fd >= 0)
		close(ctx->init_image_fd);
	petri__seccomp_release(&ctx->seccomp);
	petri__cgroup_layout_release(&ctx->cgroups);
	pthread_mutex_destroy(&ctx->lock);
	pthread_mutex_destroy(&ctx->unix_guard_mu);
	pthread_cond_destroy(&ctx->cond);
	free(ctx);
}

PETRI_API int petri_ctx_kernel_audit(petri_ctx *ctx, const char **reason)
{
	if (!ctx)
		return -EINVAL;
	int on = petri__kaudit_ensure(ctx);
	if (reason)
		*reason = on ? "" : ctx->kaudit_reason;
	return on;
}

PETRI_API int petri_ctx_cgroup_mode(const petri_ctx *ctx)
{
	return ctx ? ctx->cgroups.mode : PETRI_CGROUP_NONE;
}
