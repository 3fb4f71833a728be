/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cancel_race - cancels fired at moments around the start of an exec
 * (from 0 to 1 ms after petri_sandbox_exec() was called, i.e. before and
 * while the command starts) always end it with reason "killed" within a
 * bounded time, and a cancel while nothing runs is a no-op that does not
 * kill the next exec (the old start-of-exec drain made both unreliable).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "petri_test.h"

/* One exec in a thread.  The main thread polls @started and @done while
 * the thread runs; it reads @run only after pthread_join. */
struct job {
	petri_sandbox *sb;
	struct petri_test_run run;
	atomic_int started; /* the thread is about to call petri_sandbox_exec */
	atomic_int done;    /* petri_sandbox_exec has returned */
};

static void *exec_sleep(void *arg)
{
	struct job *j = arg;
	static const char *const argv[] = {"sleep", "30", NULL};
	atomic_store(&j->started, 1);
	j->run = petri_test_exec(j->sb, NULL, NULL, argv, 20000);
	atomic_store(&j->done, 1);
	return NULL;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static petri_sandbox *make_sandbox(void)
{
	petri_sandbox *sb = NULL;
	petri_error *e = NULL;
	REQUIRE(petri_sandbox_create(petri_test_ctx(), NULL, &sb, &e) == 0);
	return sb;
}

/* A cancel with nothing running must not kill the next exec. */
static void test_idle_cancel(void)
{
	petri_sandbox *sb = make_sandbox();
	CHECK(petri_sandbox_cancel(sb) == 0);
	static const char *const echo[] = {"echo", "alive", NULL};
	struct petri_test_run r = petri_test_exec(sb, NULL, NULL, echo, 10000);
	CHECK_MSG(r.rc == 0 && r.reason == PETRI_REASON_EXITED && strcmp(r.out, "alive\n") == 0,
		  "exec after an idle cancel: rc %d reason %s out '%s'", r.rc,
		  petri_reason_name(r.reason), r.out);
	petri_test_run_free(&r);
	petri_sandbox_destroy(sb);
}

/* Cancels at moments around the start of the exec. */
static void test_cancel_at_start(void)
{
	petri_sandbox *sb = make_sandbox();
	for (int i = 0; i < 40; i++) {
		struct job j = {.sb = sb, .started = 0, .done = 0};
		pthread_t t;
		double t0 = now_s();
		REQUIRE(pthread_create(&t, NULL, exec_sleep, &j) == 0);
		while (!atomic_load(&j.started))
			;
		usleep((useconds_t)(i % 8) * 150); /* 0 .. 1 ms after the call began */
		/* Keep cancelling until the exec has returned: a cancel sent
		 * before the exec registered itself is a legitimate no-op. */
		for (int k = 0; k < 2000 && !atomic_load(&j.done); k++) {
			petri_sandbox_cancel(sb);
			if (k == 0)
				usleep(200000);
			else
				usleep(1000);
		}
		pthread_join(t, NULL);
		double took = now_s() - t0;
		CHECK_MSG(j.run.rc == 0 && j.run.reason == PETRI_REASON_KILLED,
			  "round %d: rc %d reason %s (%s)", i, j.run.rc,
			  petri_reason_name(j.run.reason), j.run.errmsg);
		CHECK_MSG(took < 3.0, "round %d: cancel took %.2f s", i, took);
		petri_test_run_free(&j.run);
	}
	petri_sandbox_destroy(sb);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(idle_cancel),
	PETRI_TEST_CASE(cancel_at_start),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
