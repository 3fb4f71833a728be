/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_creator_thread_exit - a sandbox outlives the host *thread* that
 * created it (DESIGN.md "Process model": PR_SET_PDEATHSIG fires when the
 * thread that forked init exits, so a multi-threaded host such as any Go
 * program needs init forked from a thread that lives as long as the
 * sandbox).  Short-lived threads create the context and sandboxes and exit;
 * afterwards the main thread runs execs in them and finds the same init,
 * still alive.
 */
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "api_common.h"

#define N 3

static petri_sandbox *sbs[N];

static void *create_and_exit(void *arg)
{
	int i = (int)(intptr_t)arg;
	/* The first thread also creates the context (and its supervisor). */
	sbs[i] = api_sandbox(NULL);
	return NULL;
}

static void test_creator_thread_exit(void)
{
	int inits[N];
	for (int i = 0; i < N; i++) {
		pthread_t t;
		REQUIRE(pthread_create(&t, NULL, create_and_exit, (void *)(intptr_t)i) == 0);
		REQUIRE(pthread_join(t, NULL) == 0);
		inits[i] = petri_sandbox_init_pid(sbs[i]);
		CHECK(inits[i] > 0);
	}
	/* Give a death signal time to arrive and the kernel time to act. */
	struct timespec ts = {0, 300 * 1000000L};
	nanosleep(&ts, NULL);

	for (int i = 0; i < N; i++) {
		CHECK_MSG(kill(inits[i], 0) == 0,
			  "init %d of sandbox %d died with its creator thread", inits[i], i);
		petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
		o.argv = (const char *const[]){"echo", "alive", NULL};
		o.timeout_ms = 10000;
		petri_result *res = NULL;
		petri_error *e = NULL;
		int r = petri_sandbox_exec(sbs[i], &o, &res, &e);
		CHECK_MSG(r == 0, "exec in sandbox %d after its creator thread exited: %d %s", i, r,
			  petri_error_message(e));
		if (r == 0) {
			CHECK_OUT(res, PETRI_STREAM_STDOUT, "alive\n");
			CHECK(petri_result_reason(res) == PETRI_REASON_EXITED);
		}
		CHECK(petri_sandbox_init_pid(sbs[i]) == inits[i]);
		petri_result_free(res);
		petri_error_free(e);
		petri_sandbox_destroy(sbs[i]);
	}
	petri_test_ctx_free();
}

/* PETRI_CTX_F_CALLER_THREAD: no supervisor thread; init is started by
 * the creating thread and works as with one. */
static void test_caller_thread(void)
{
	petri_ctx_opts co = PETRI_CTX_OPTS_INIT;
	co.flags = PETRI_CTX_F_CALLER_THREAD;
	petri_ctx *ctx = NULL;
	petri_sandbox *sb = NULL;
	petri_error *e = NULL;
	REQUIRE(petri_ctx_new(&ctx, &co, &e) == 0);
	int threads = api_count_threads();
	REQUIRE(petri_sandbox_create(ctx, NULL, &sb, &e) == 0);
	CHECK_MSG(api_count_threads() == threads, "threads %d, before the create %d",
		  api_count_threads(), threads);
	int init = 0;
	CHECK(api_children(getpid(), "petri-init", &init, NULL) == 1);
	CHECK(init == petri_sandbox_init_pid(sb));
	petri_result *res =
		api_run_argv(sb, (const char *const[]){"echo", "alive", NULL}, 10000, __LINE__);
	CHECK_OUT(res, PETRI_STREAM_STDOUT, "alive\n");
	petri_result_free(res);
	petri_sandbox_destroy(sb);
	CHECK(api_count_threads() == threads);
	petri_ctx_free(ctx);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(creator_thread_exit),
	PETRI_TEST_CASE(caller_thread),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
