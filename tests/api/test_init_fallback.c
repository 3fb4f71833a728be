/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_init_fallback - where the kernel refuses to execute a memfd
 * (vm.memfd_noexec=2), sandboxes still work: the library says why once and
 * forks init from the host instead.  The sysctl is per pid namespace, so
 * the test sets it in a pid namespace of its own and leaves the machine's
 * setting alone.
 */
#include <sched.h>
#include <sys/mount.h>

#include "api_common.h"

static int saw_fallback;

static void log_fn(int level, const char *msg, void *ud)
{
	(void)ud;
	if (strstr(msg, "cannot execute the init image"))
		saw_fallback = 1;
	fprintf(stderr, "petri[%d]: %s\n", level, msg);
}

static int child(void)
{
	/* Our own /proc, so that pids we see name the right processes. */
	REQUIRE(unshare(CLONE_NEWNS) == 0);
	REQUIRE(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	REQUIRE(mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0);
	int fd = open("/proc/sys/vm/memfd_noexec", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		petri_test_skip("no vm.memfd_noexec (Linux < 6.3)");
	REQUIRE(write(fd, "2", 1) == 1);
	close(fd);

	petri_ctx_opts co = PETRI_CTX_OPTS_INIT;
	co.log_level = PETRI_LOG_INFO;
	co.log_fn = log_fn;
	petri_ctx *ctx = NULL;
	petri_error *e = NULL;
	REQUIRE(petri_ctx_new(&ctx, &co, &e) == 0);
	for (int i = 0; i < 2; i++) {
		petri_sandbox *sb = NULL;
		int r = petri_sandbox_create(ctx, NULL, &sb, &e);
		CHECK_MSG(r == 0, "create with memfd_noexec=2: %d %s", r, petri_error_message(e));
		if (r < 0)
			break;
		char path[64], exe[PATH_MAX] = "", self[PATH_MAX] = "";
		snprintf(path, sizeof(path), "/proc/%d/exe", petri_sandbox_init_pid(sb));
		CHECK(readlink(path, exe, sizeof(exe) - 1) > 0);
		CHECK(readlink("/proc/self/exe", self, sizeof(self) - 1) > 0);
		CHECK_MSG(strcmp(exe, self) == 0, "init's exe is %s", exe);
		petri_result *res = API_SH(sb, "echo fallback");
		CHECK(api_out_is(res, PETRI_STREAM_STDOUT, "fallback\n"));
		petri_result_free(res);
		petri_sandbox_destroy(sb);
	}
	CHECK(saw_fallback);
	petri_ctx_free(ctx);
	return petri_test_done();
}

/* Fork, wait, and pass on how the child ended. */
static int run_child(int (*fn)(void))
{
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0)
		_exit(fn());
	int st = 0;
	REQUIRE(waitpid(pid, &st, 0) == pid);
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	fprintf(stderr, "child died: status 0x%x\n", st);
	return 1;
}

/* The pid namespace is unshared in a child: a process whose children go to
 * another pid namespace cannot create threads (LeakSanitizer's at exit). */
static int in_new_pidns(void)
{
	REQUIRE(unshare(CLONE_NEWPID) == 0);
	return run_child(child);
}

int main(void)
{
	if (geteuid() != 0)
		petri_test_skip("needs root to set vm.memfd_noexec in a pid namespace");
	return run_child(in_new_pidns);
}
