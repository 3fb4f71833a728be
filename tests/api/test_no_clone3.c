/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_no_clone3 - a host whose own seccomp profile refuses clone3 with
 * ENOSYS (Docker's default profile did, and glibc falls back to clone for
 * it too) can still create sandboxes, with init executed from its image
 * and with init forked from the host.  The filter goes on a child process:
 * filters cannot be removed.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "api_common.h"

static int no_clone3(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
	if (geteuid() != 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

static void run_one(const char *mode)
{
	petri_ctx *ctx = NULL;
	petri_error *e = NULL;
	REQUIRE(petri_ctx_new(&ctx, NULL, &e) == 0);
	petri_sandbox *sb = NULL;
	int r = petri_sandbox_create(ctx, NULL, &sb, &e);
	CHECK_MSG(r == 0, "%s init, no clone3: create: %d %s", mode, r, petri_error_message(e));
	if (r == 0) {
		petri_result *res = API_SH(sb, "echo ok; cat /proc/self/oom_score_adj");
		CHECK_MSG(api_out_is(res, PETRI_STREAM_STDOUT, "ok\n1000\n"), "%s init: '%s'", mode,
			  api_out_str(res, PETRI_STREAM_STDOUT));
		petri_result_free(res);
		petri_sandbox_destroy(sb);
	}
	petri_error_free(e);
	petri_ctx_free(ctx);
}

static int child(void)
{
	REQUIRE(no_clone3() == 0);
	errno = 0;
	REQUIRE(syscall(SYS_clone3, NULL, 0) < 0 && errno == ENOSYS);
	run_one("exec'd");
	REQUIRE(setenv("PETRI_INIT", "fork", 1) == 0);
	run_one("forked");
	return petri_test_done();
}

int main(void)
{
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0)
		_exit(child());
	int st = 0;
	REQUIRE(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
