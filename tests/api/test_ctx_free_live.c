/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ctx_free_live - petri_ctx_free on a context whose sandboxes are
 * still alive destroys them all and leaves nothing: one idle, one after an
 * exec (its next reaper ready), one after an exec flagged PETRI_EXEC_LAST
 * (its init ending by itself).  Afterwards every init
 * is gone, no child of ours is left (alive or zombie), the context's
 * cgroups are removed and its threads have ended.  (petri_ctx_free kills
 * every init first and ends its supervisor thread while they die.)
 */
#include <signal.h>

#include "api_common.h"

static petri_sandbox *create(petri_ctx *ctx)
{
	petri_sandbox *sb = NULL;
	petri_error *e = NULL;
	if (petri_sandbox_create(ctx, NULL, &sb, &e) < 0) {
		fprintf(stderr, "petri_sandbox_create: %s\n", petri_error_message(e));
		exit(1);
	}
	return sb;
}

static void run(petri_sandbox *sb, const char *script, uint32_t flags)
{
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.argv = (const char *const[]){"/bin/sh", "-c", script, NULL};
	o.flags = flags;
	o.timeout_ms = 30000;
	petri_result *r = API_EXEC(sb, &o);
	CHECK_MSG(petri_result_exit_code(r) == 0, "exit code %d", petri_result_exit_code(r));
	petri_result_free(r);
}

static void test_ctx_free_live(void)
{
	int base_threads = api_base_threads();
	petri_ctx *ctx = NULL;
	petri_error *e = NULL;
	REQUIRE(petri_ctx_new(&ctx, NULL, &e) == 0);
	petri_sandbox *sb[3];
	int init_pid[3];
	for (int i = 0; i < 3; i++) {
		sb[i] = create(ctx);
		init_pid[i] = petri_sandbox_init_pid(sb[i]);
		REQUIRE(init_pid[i] > 0);
	}
	API_STEP("exec in sandboxes 1 and 2");
	run(sb[1], "echo hi > /workspace/f", 0);
	run(sb[2], "true", PETRI_EXEC_LAST);
	CHECK(api_count_threads() > base_threads); /* the supervisor */

	API_STEP("petri_ctx_free");
	petri_ctx_free(ctx);

	for (int i = 0; i < 3; i++)
		CHECK_MSG(kill(init_pid[i], 0) < 0 && errno == ESRCH,
			  "init %d of sandbox %d is still there", init_pid[i], i);
	CHECK(api_children(getpid(), NULL, NULL, "left child") == 0);
	CHECK_MSG(api_count_cgroups_of(getpid()) == 0, "%d cgroups left",
		  api_count_cgroups_of(getpid()));
	CHECK_MSG(api_count_threads() == base_threads, "threads after petri_ctx_free: %d, want %d",
		  api_count_threads(), base_threads);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(ctx_free_live),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	api_watchdog(60);
	return petri_test_main(argc, argv, cases);
}
