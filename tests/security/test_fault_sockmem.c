/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fault_sockmem - kernel socket buffers count against the sandbox's
 * memory limit.
 *
 * attacks/sockmem.py, in a sandbox limited to 64 MiB, opens loopback TCP
 * connections inside its own network namespace and fills each until send()
 * would block, with a receiver that never reads -- up to 256 MiB, four
 * times the limit.  Memory a sandbox makes the kernel hold for it must be
 * bounded by its limit: the exec must be stopped (reason "memory") or its
 * sends refused well before that.  Where socket memory is not charged to
 * the sandbox's memory cgroup (cgroup v1 charges TCP buffers only when
 * memory.kmem.tcp.limit_in_bytes is set), the 256 MiB land in the host's
 * global TCP memory instead: scaled up (nothing stops the code from doing
 * so), the host's own TCP connections hit tcp_mem and start failing.
 */
#include "sec_util.h"

#include <stdlib.h>

static void test_sockmem(void)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = "python";
	so.memory_bytes = 64ull << 20;
	petri_sandbox *sb = sec_sandbox(&so);
	const char *env[] = {"SOCKMEM_CAP_MIB=256", NULL};
	struct petri_test_run r = sec_exec_attack(sb, "sockmem.py", env, 60000);
	CHECK_MSG(r.rc == 0, "sockmem: %s", r.errmsg);
	sec_expect_no_escape_killed(&r);
	char buf[256];
	const char *v = sec_verdict(r.out, "sockmem", buf, sizeof(buf));
	long mib = v && strncmp(v, "QUEUED ", 7) == 0 ? atol(v + 7) : -1;
	if (r.reason == PETRI_REASON_MEMORY) {
		CHECK(r.limits & PETRI_LIMIT_MEMORY);
	} else {
		CHECK_MSG(mib >= 0, "sockmem reported nothing (reason %s)",
			  petri_reason_name(r.reason));
		CHECK_MSG(
			mib < 128,
			"a sandbox limited to 64 MiB of memory queued %ld MiB in kernel socket buffers "
			"(cgroup mode %d): socket memory is not charged to its memory limit",
			mib, petri_ctx_cgroup_mode(petri_test_ctx()));
	}
	if (petri_test_failures)
		sec_dump("sockmem.py", &r);
	petri_test_run_free(&r);
	petri_sandbox_destroy(sb);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(sockmem),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
