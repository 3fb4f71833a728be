/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fault_membomb - memory and tmpfs exhaustion stay inside the sandbox.
 *
 * A sandbox with a 64 MiB memory limit and 16 MiB tmpfs sizes:
 *  - attacks/membomb.py grows a buffer towards 1 GiB: the exec ends with
 *    reason "memory" (the memory limit reported as hit) well before that;
 *  - attacks/fill.sh fills /tmp, /dev/shm, /home/sandbox and /workspace
 *    (16 MiB too) with dd: each stops at ENOSPC at about its size, and
 *    the exec ends normally;
 * meanwhile the host's memory use does not move, and the next exec in the
 * same sandbox works.
 */
#include "sec_util.h"

#include <stdlib.h>
#include <unistd.h>

static void fill(petri_sandbox *sb, const char *dir, const char *name)
{
	char e_dir[128], e_name[64], check[64], size[64];
	snprintf(e_dir, sizeof(e_dir), "FILL_DIR=%s", dir);
	snprintf(e_name, sizeof(e_name), "FILL_NAME=%s", name);
	const char *env[] = {e_dir, e_name, NULL};
	struct petri_test_run r = sec_exec_attack(sb, "fill.sh", env, 30000);
	CHECK_MSG(r.rc == 0 && r.reason == PETRI_REASON_EXITED && r.exit_code == 0,
		  "fill %s did not end normally", dir);
	sec_expect_no_escape(&r);
	snprintf(check, sizeof(check), "fill_%s", name);
	sec_expect(&r, check, "BLOCKED ENOSPC");
	snprintf(size, sizeof(size), "fill_%s_size", name);
	char buf[128];
	const char *v = sec_verdict(r.out, size, buf, sizeof(buf));
	long kb = v && strncmp(v, "KB ", 3) == 0 ? atol(v + 3) : -1;
	CHECK_MSG(kb > 8 * 1024 && kb <= 16 * 1024, "fill %s: %ld KiB written, want about 16 MiB",
		  dir, kb);
	if (petri_test_failures)
		sec_dump(dir, &r);
	petri_test_run_free(&r);
}

/* The sandbox: 64 MiB of memory, 16 MiB tmpfs sizes. */
static petri_sandbox *small_sandbox(void)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = "python";
	so.memory_bytes = 64ull << 20;
	so.tmp_bytes = 16ull << 20;
	so.workspace_bytes = 16ull << 20;
	return sec_sandbox(&so);
}

/* The host did not pay for what the code did (its RSS was @rss0), and the
 * sandbox goes on; then it goes. */
static void still_here(petri_sandbox *sb, long rss0)
{
	/* The host did not pay for any of it, and the sandbox goes on. */
	long rss1 = petri_test_rss_kib();
	CHECK_MSG(rss1 - rss0 < 32 * 1024, "host RSS grew from %ld to %ld KiB", rss0, rss1);
	struct sec_exec x = {.lang = "python", .code = "print('still here')", .timeout_ms = 20000};
	struct petri_test_run r = sec_exec(sb, &x);
	CHECK(r.rc == 0 && r.reason == PETRI_REASON_EXITED && strcmp(r.out, "still here\n") == 0);
	petri_test_run_free(&r);
	petri_sandbox_destroy(sb);
}

static void test_membomb(void)
{
	long rss0 = petri_test_rss_kib();
	petri_sandbox *sb = small_sandbox();
	uint64_t t0 = sec_now_ms();
	struct petri_test_run r = sec_exec_attack(sb, "membomb.py", NULL, 60000);
	CHECK_MSG(r.rc == 0, "membomb: %s", r.errmsg);
	sec_expect_no_escape_killed(&r);
	CHECK_MSG(r.reason == PETRI_REASON_MEMORY, "membomb: reason %s, want memory",
		  petri_reason_name(r.reason));
	CHECK(r.limits & PETRI_LIMIT_MEMORY);
	CHECK(r.signal == 9);
	CHECK_MSG(sec_now_ms() - t0 < 30000, "membomb took %llu ms",
		  (unsigned long long)(sec_now_ms() - t0));
	/* It got somewhere, but not far past the limit. */
	CHECK_MSG(strstr(r.out, "MiB 16\n") != NULL, "membomb never allocated 16 MiB");
	CHECK_MSG(strstr(r.out, "MiB 128\n") == NULL,
		  "membomb allocated 128 MiB under a 64 MiB limit");
	if (petri_test_failures)
		sec_dump("membomb.py", &r);
	petri_test_run_free(&r);
	still_here(sb, rss0);
}

static void test_fill_tmpfs(void)
{
	long rss0 = petri_test_rss_kib();
	petri_sandbox *sb = small_sandbox();
	fill(sb, "/tmp", "tmp");
	fill(sb, "/dev/shm", "dev_shm");
	fill(sb, "/home/sandbox", "home");
	fill(sb, "/workspace", "workspace");
	still_here(sb, rss0);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(membomb),
	PETRI_TEST_CASE(fill_tmpfs),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
