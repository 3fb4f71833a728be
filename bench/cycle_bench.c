/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cycle_bench.c - in-process costs through the C API, side by side with a
 * bare fork+exec in the same run: create+exec+destroy of a sandbox, exec in
 * an existing sandbox, and the bare baseline.  Prints medians and ratios.
 * Usage: cycle_bench [ROUNDS]
 */
#include <petri/petri.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what, petri_error *e)
{
	fprintf(stderr, "%s: %s\n", what, petri_error_message(e));
	exit(1);
}

static double bare_fork_exec(void)
{
	double t = now_ms();
	pid_t p = fork();
	if (p == 0) {
		char *av[] = {"/bin/true", NULL};
		execv(av[0], av);
		_exit(127);
	}
	int st;
	waitpid(p, &st, 0);
	return now_ms() - t;
}

static double run_exec(petri_sandbox *sb, uint32_t flags)
{
	static const char *const argv[] = {"/bin/true", NULL};
	petri_exec_opts eo = PETRI_EXEC_OPTS_INIT;
	petri_result *r = NULL;
	petri_error *e = NULL;
	eo.argv = argv;
	eo.flags = flags;
	double t = now_ms();
	if (petri_sandbox_exec(sb, &eo, &r, &e) < 0)
		die("exec", e);
	double d = now_ms() - t;
	if (petri_result_exit_code(r) != 0) {
		fprintf(stderr, "exec: /bin/true failed\n");
		exit(1);
	}
	petri_result_free(r);
	return d;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 200;
	if (n < 5)
		n = 5;
	double *bare = calloc((size_t)n, sizeof(double));
	double *cycle = calloc((size_t)n, sizeof(double));
	double *exec = calloc((size_t)n, sizeof(double));
	double *create = calloc((size_t)n, sizeof(double));
	double *last = calloc((size_t)n, sizeof(double));
	petri_ctx *ctx;
	petri_error *e = NULL;
	if (!bare || !cycle || !exec || !create || !last)
		return 1;
	if (petri_ctx_new(&ctx, NULL, &e) < 0)
		die("petri_ctx_new", e);

	petri_sandbox *warm;
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	if (petri_sandbox_create(ctx, &so, &warm, &e) < 0)
		die("create", e);
	for (int i = 0; i < 10; i++) { /* warm-up */
		bare_fork_exec();
		run_exec(warm, 0);
	}
	/* Interleave the three measurements so noise hits them alike. */
	for (int i = 0; i < n; i++) {
		bare[i] = bare_fork_exec();
		exec[i] = run_exec(warm, 0);
		petri_sandbox *sb;
		double t = now_ms();
		if (petri_sandbox_create(ctx, &so, &sb, &e) < 0)
			die("create", e);
		create[i] = now_ms() - t;
		run_exec(sb, 0);
		petri_sandbox_destroy(sb);
		cycle[i] = now_ms() - t;
		/* A one-shot host says so (what `petri run` does). */
		t = now_ms();
		if (petri_sandbox_create(ctx, &so, &sb, &e) < 0)
			die("create", e);
		run_exec(sb, PETRI_EXEC_LAST);
		petri_sandbox_destroy(sb);
		last[i] = now_ms() - t;
	}
	petri_sandbox_destroy(warm);
	petri_ctx_free(ctx);

	double mb = median(bare, n), me = median(exec, n), mc = median(cycle, n),
	       mcr = median(create, n), ml = median(last, n);
	printf("rounds: %d\n", n);
	printf("bare fork+exec /bin/true:           median %.3f ms\n", mb);
	printf("exec /bin/true in existing sandbox: median %.3f ms  (%.2fx bare)\n", me, me / mb);
	printf("create (alone):                     median %.3f ms\n", mcr);
	printf("create+exec+destroy cycle:          median %.3f ms  (%.2fx bare)\n", mc, mc / mb);
	printf("same, exec flagged PETRI_EXEC_LAST: median %.3f ms  (%.2fx bare)\n", ml, ml / mb);
	free(bare);
	free(cycle);
	free(exec);
	free(create);
	free(last);
	return 0;
}
