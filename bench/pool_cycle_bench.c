/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pool_cycle_bench.c - the C API's figure for the binding benchmarks
 * (bench/python_pool.py, bench/go_cycle): create + exec(/bin/true) +
 * destroy cycles per second with a warm pool of language-less sandboxes,
 * from THREADS threads.  Each run makes its own context, waits for the
 * pool to fill, does a few warm-up cycles, then times N cycles (split over
 * the threads) and prints one line (host_cpu_us: this process's CPU per
 * cycle, every thread, in microseconds):
 *   cycles/s 1234.5 host_cpu_us 321.0 threads 2 n 400 warm 8 hits 398 misses 2
 * Usage: pool_cycle_bench [-n N] [-t THREADS] [-w WARM] [-R (no recycle)]
 */
#include <petri/petri.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static petri_ctx *ctx;
static int per_thread;

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* CPU seconds of this process (every thread: the callers, the library's
 * supervisor and refill threads) so far. */
static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int cycle(void)
{
	static const char *const argv[] = {"/bin/true", NULL};
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	petri_exec_opts eo = PETRI_EXEC_OPTS_INIT;
	petri_sandbox *sb = NULL;
	petri_result *r = NULL;
	petri_error *e = NULL;
	eo.argv = argv;
	if (petri_sandbox_create(ctx, &so, &sb, &e) < 0) {
		fprintf(stderr, "create: %s\n", petri_error_message(e));
		return -1;
	}
	int rc = petri_sandbox_exec(sb, &eo, &r, &e);
	if (rc < 0)
		fprintf(stderr, "exec: %s\n", petri_error_message(e));
	else if (petri_result_exit_code(r) != 0)
		rc = -1;
	petri_result_free(r);
	petri_error_free(e);
	petri_sandbox_destroy(sb);
	return rc;
}

static void *worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < per_thread; i++)
		if (cycle() < 0)
			exit(1);
	return NULL;
}

int main(int argc, char **argv)
{
	int n = 400, threads = 1, warm = 8, opt;
	bool recycle = true;
	while ((opt = getopt(argc, argv, "n:t:w:R")) != -1) {
		switch (opt) {
		case 'n':
			n = atoi(optarg);
			break;
		case 't':
			threads = atoi(optarg);
			break;
		case 'w':
			warm = atoi(optarg);
			break;
		case 'R':
			recycle = false;
			break;
		default:
			fprintf(stderr,
				"usage: pool_cycle_bench [-n N] [-t THREADS] [-w WARM] [-R]\n");
			return 2;
		}
	}
	if (n < 1 || threads < 1 || threads > 64 || warm < 0 || warm > 1024) {
		fprintf(stderr, "pool_cycle_bench: bad -n, -t or -w\n");
		return 2;
	}
	struct petri_warm w = {.language = NULL, .count = (uint32_t)warm};
	petri_ctx_opts co = PETRI_CTX_OPTS_INIT;
	co.warm = warm ? &w : NULL;
	co.nwarm = warm ? 1 : 0;
	co.flags = recycle ? 0 : PETRI_CTX_F_NO_RECYCLE;
	petri_error *e = NULL;
	if (petri_ctx_new(&ctx, &co, &e) < 0) {
		fprintf(stderr, "context: %s\n", petri_error_message(e));
		return 1;
	}
	if (petri_ctx_pool_wait(ctx, 120000) < 0) {
		fprintf(stderr, "the pool did not fill\n");
		return 1;
	}
	for (int i = 0; i < 5; i++)
		if (cycle() < 0)
			return 1;
	petri_ctx_pool_wait(ctx, 120000);
	petri_pool_stats s0 = {.sz = sizeof(s0)}, s1 = {.sz = sizeof(s1)};
	if (warm)
		petri_ctx_pool_stats(ctx, NULL, &s0);
	per_thread = (n + threads - 1) / threads;
	pthread_t t[64];
	double c0 = cpu_s();
	double t0 = now_s();
	for (int i = 0; i < threads; i++)
		if (pthread_create(&t[i], NULL, worker, NULL) != 0)
			return 1;
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	double dt = now_s() - t0;
	double dc = cpu_s() - c0;
	if (warm)
		petri_ctx_pool_stats(ctx, NULL, &s1);
	printf("cycles/s %.1f host_cpu_us %.1f threads %d n %d warm %d hits %llu misses %llu\n",
	       per_thread * threads / dt, dc * 1e6 / (per_thread * threads), threads,
	       per_thread * threads, warm, (unsigned long long)(s1.hits - s0.hits),
	       (unsigned long long)(s1.misses - s0.misses));
	petri_ctx_free(ctx);
	return 0;
}
