/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unix_guard.c - the cgroup BPF backstop of the brokered unix connects: the
 * programs of libpetri/bpf/petri_unix_guard.bpf.c, loaded once per context
 * and attached to the cgroup of each sandbox whose filesystem can hold host
 * unix sockets.  They refuse every pathname unix address that a task under
 * seccomp connects or sends to; the brokers the exec's reaper forks (no
 * filter) make the connects and sends it allows on the code's behalf
 * (init/unix_broker.c).
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <pthread.h>
#include <stdio.h>

#include "host.h"
#include "kernel.h"
/* clang-format off */
#include "petri_unix_guard.skel.h"
/* clang-format on */
#include "petri_unix_guard_btf.h"

/* enum bpf_attach_type of Linux 6.7, newer than the uapi headers of some
 * build hosts (Debian 12's). */
#define PETRI_CGROUP_UNIX_CONNECT ((enum bpf_attach_type)49)
#define PETRI_CGROUP_UNIX_SENDMSG ((enum bpf_attach_type)50)

int petri__unix_guard_wanted(const struct petri_init_cfg *cfg)
{
	if (cfg->rootfs[0] || cfg->workspace_dir[0])
		return 1;
	for (int i = 0; i < cfg->nbinds; i++)
		if (cfg->binds[i].rw && !cfg->binds[i].sockets)
			return 1;
	return 0;
}

/* Open and load the programs: 0 and *@out, or -errno and why in @why. */
static int load(struct petri_unix_guard_bpf **out, char *why, size_t why_len)
{
	struct petri_unix_guard_bpf *g;
	char btf_path[64] = "";
	int r;

	petri__bpf_capture_begin();
	int btf_fd = petri__bpf_min_btf_fd(petri_min_btf, petri_min_btf_len, petri_min_btf_notes,
					   petri_min_btf_notes_len);
	if (btf_fd >= 0)
		snprintf(btf_path, sizeof(btf_path), "/proc/self/fd/%d", btf_fd);
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = btf_fd >= 0 ? btf_path : NULL);
	g = petri_unix_guard_bpf__open_opts(&oo);
	if (!g) {
		r = -errno;
	} else {
		/* The sections say connect4/sendmsg4 (see the .bpf.c). */
		bpf_program__set_expected_attach_type(g->progs.petri_unix_connect,
						      PETRI_CGROUP_UNIX_CONNECT);
		bpf_program__set_expected_attach_type(g->progs.petri_unix_sendmsg,
						      PETRI_CGROUP_UNIX_SENDMSG);
		r = petri_unix_guard_bpf__load(g);
	}
	if (btf_fd >= 0)
		close(btf_fd);
	const char *libbpf = petri__bpf_last_warning();
	if (r)
		snprintf(why, why_len,
			 "unix socket guard: loading its BPF programs: %s%s%.120s (needs "
			 "CAP_BPF+CAP_PERFMON, BTF and Linux 6.7)",
			 strerror(r < 0 ? -r : EINVAL), libbpf[0] ? ": " : "", libbpf);
	petri__bpf_capture_end();
	if (r) {
		petri_unix_guard_bpf__destroy(g);
		return r < 0 ? r : -EINVAL;
	}
	*out = g;
	return 0;
}

/* The programs' fds, loading them on first use: 0, or -EOPNOTSUPP (the
 * host cannot load them; remembered) or -ENOMEM. */
static int progs(struct petri_ctx *ctx, int *connect_fd, int *sendmsg_fd, petri_error **err)
{
	char why[sizeof(ctx->unix_guard_reason)];
	int r = 0;

	pthread_mutex_lock(&ctx->unix_guard_mu);
	if (!ctx->unix_guard && !ctx->unix_guard_err) {
		r = load(&ctx->unix_guard, why, sizeof(why));
		/* Whatever else the kernel refused (privilege, BTF, the
		 * attach types of 6.7), this host cannot have the guard. */
		if (r < 0 && r != -ENOMEM) {
			r = ctx->unix_guard_err = -EOPNOTSUPP;
			snprintf(ctx->unix_guard_reason, sizeof(ctx->unix_guard_reason), "%s", why);
			petri__log(ctx, PETRI_LOG_WARN, "%s", why);
		}
	} else if (ctx->unix_guard_err) {
		r = ctx->unix_guard_err;
		snprintf(why, sizeof(why), "%s", ctx->unix_guard_reason);
	}
	if (!r) {
		*connect_fd = bpf_program__fd(ctx->unix_guard->progs.petri_unix_connect);
		*sendmsg_fd = bpf_program__fd(ctx->unix_guard->progs.petri_unix_sendmsg);
	}
	pthread_mutex_unlock(&ctx->unix_guard_mu);
	return r < 0 ? petri__err(err, r, "%s", why) : 0;
}

int petri__unix_guard_attach(struct petri_ctx *ctx, int cgroup_v2_dirfd, petri_error **err)
{
	int cfd, sfd;
	int r = progs(ctx, &cfd, &sfd, err);
	if (r < 0)
		return r;
	/* The programs live as long as the context (freed after its last
	 * sandbox), and an attachment holds its program: nothing per sandbox
	 * to keep or close; the kernel detaches both when the cgroup goes.
	 * BPF_F_ALLOW_MULTI: beside any other program of these hooks. */
	if (bpf_prog_attach(cfd, cgroup_v2_dirfd, PETRI_CGROUP_UNIX_CONNECT, BPF_F_ALLOW_MULTI) < 0)
		return petri__err(err, errno, "unix socket guard: attaching the connect hook");
	if (bpf_prog_attach(sfd, cgroup_v2_dirfd, PETRI_CGROUP_UNIX_SENDMSG, BPF_F_ALLOW_MULTI) <
	    0) {
		r = -errno;
		bpf_prog_detach2(cfd, cgroup_v2_dirfd, PETRI_CGROUP_UNIX_CONNECT);
		return petri__err(err, r, "unix socket guard: attaching the sendmsg hook");
	}
	return 0;
}

void petri__unix_guard_close_ctx(struct petri_ctx *ctx)
{
	petri_unix_guard_bpf__destroy(ctx->unix_guard);
	ctx->unix_guard = NULL;
}
