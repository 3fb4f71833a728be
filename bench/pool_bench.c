/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pool_bench.c - the warm pool (issue 15), side by side in one run:
 *
 *   cycles/s of create + exec(/bin/true) + destroy
 *     - bare fork+exec(/bin/true) from 1 and 2 threads (the floor of any
 *       cycle that starts a process),
 *     - exec(/bin/true) in a sandbox that stays (no create, no recycle),
 *       from 1 and 2 threads (the floor of a sandboxed cycle),
 *     - the pool-less cycle (a context without warm pool), 1 thread,
 *     - the pooled cycle (take, exec, recycle) from 1 and 2 threads;
 *   the exec of python3 -c 'print(1)' in a sandbox taken from the pool vs a
 *   bare fork+exec of it from this process (alternated, medians, ratio);
 *   the memory of an idle pooled sandbox (init and its pre-forked warm
 *   reaper): PSS of its processes and what its memory cgroup is charged.
 *
 * Each round runs every variant once, in the same order; the figures are
 * medians over the rounds.  CPU per cycle is the machine's busy time
 * (/proc/stat) over the run divided by the cycles: other jobs on the
 * machine count too (the load average is printed with it).
 *
 * Usage: pool_bench [ROUNDS [CYCLES]]   (defaults 7 and 400)
 */
#include <petri/petri.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POOL_COUNT 8
#define NVAR 7

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
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
	fprintf(stderr, "%s: %s\n", what, e ? petri_error_message(e) : "failed");
	exit(1);
}

/* Busy and total jiffies of the machine (/proc/stat "cpu" line). */
static void cpu_jiffies(unsigned long long *busy, unsigned long long *total)
{
	unsigned long long v[10] = {0};
	FILE *f = fopen("/proc/stat", "r");
	if (!f || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			 &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		die("read /proc/stat", NULL);
	fclose(f);
	*total = 0;
	for (int i = 0; i < 8; i++)
		*total += v[i];
	*busy = *total - v[3] - v[4];
}

static void bare(const char *const *argv)
{
	pid_t p = fork();
	if (p == 0) {
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	int st;
	waitpid(p, &st, 0);
}

static void exec_in(petri_sandbox *sb, const char *const *argv)
{
	petri_exec_opts eo = PETRI_EXEC_OPTS_INIT;
	petri_result *r = NULL;
	petri_error *e = NULL;
	eo.argv = argv;
	if (petri_sandbox_exec(sb, &eo, &r, &e) < 0)
		die("exec", e);
	if (petri_result_exit_code(r) != 0) {
		size_t n;
		const char *err = petri_result_stderr(r, &n);
		fprintf(stderr, "exit %d: %.*s\n", petri_result_exit_code(r), (int)n, err);
		exit(1);
	}
	petri_result_free(r);
}

static petri_sandbox *create(petri_ctx *ctx)
{
	petri_sandbox_opts o = PETRI_SANDBOX_OPTS_INIT;
	petri_sandbox *sb = NULL;
	petri_error *e = NULL;
	o.language = "sh";
	if (petri_sandbox_create(ctx, &o, &sb, &e) < 0)
		die("create", e);
	return sb;
}

static const char *const true_argv[] = {"/bin/true", NULL};
static const char *const py_argv[] = {"/usr/bin/python3", "-c", "print(1)", NULL};

enum kind {
	BARE,
	HELD,
	CYCLE
};
struct job {
	enum kind kind;
	petri_ctx *ctx;
	petri_sandbox *held;
	int n;
};

static void *run_job(void *arg)
{
	struct job *j = arg;
	for (int i = 0; i < j->n; i++) {
		if (j->kind == BARE) {
			bare(true_argv);
		} else if (j->kind == HELD) {
			exec_in(j->held, true_argv);
		} else {
			petri_sandbox *sb = create(j->ctx);
			exec_in(sb, true_argv);
			petri_sandbox_destroy(sb);
		}
	}
	return NULL;
}

/* Cycles per second of @threads jobs of @n cycles each. */
static double rate(enum kind kind, petri_ctx *ctx, petri_sandbox **held, int threads, int n)
{
	pthread_t t[2];
	struct job j[2];
	double t0 = now_s();
	for (int i = 0; i < threads; i++) {
		j[i] = (struct job){kind, ctx, held ? held[i] : NULL, n};
		pthread_create(&t[i], NULL, run_job, &j[i]);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	return threads * n / (now_s() - t0);
}

/* ---- CPU of this process and its sandboxes ----
 * The benchmark moves itself into a cgroup of its own in the unified
 * hierarchy before any context exists; the library makes every sandbox's
 * cgroup below the host's, so that cgroup's cpu.stat counts exactly the
 * CPU of this process, its inits, reapers and commands (not the kernel
 * threads' deferred work: namespace and cgroup teardown in kworkers). */
static char own_cg[256];

static void own_cgroup_enter(void)
{
	static const char *const roots[] = {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"};
	for (size_t i = 0; i < 2; i++) {
		char probe[300], procs[300];
		snprintf(probe, sizeof(probe), "%s/cgroup.procs", roots[i]);
		if (access(probe, W_OK) != 0)
			continue;
		snprintf(own_cg, sizeof(own_cg), "%s/pool-bench-%d", roots[i], (int)getpid());
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", own_cg);
		FILE *f = NULL;
		if (mkdir(own_cg, 0755) == 0 && (f = fopen(procs, "w")) &&
		    fprintf(f, "%d\n", (int)getpid()) > 0 && fclose(f) == 0)
			return;
		if (f)
			fclose(f);
		rmdir(own_cg);
		own_cg[0] = '\0';
	}
}

static void own_cgroup_leave(void)
{
	if (!own_cg[0])
		return;
	char up[300];
	snprintf(up, sizeof(up), "%s/../cgroup.procs", own_cg);
	FILE *f = fopen(up, "w");
	if (f) {
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
	rmdir(own_cg);
}

/* usec of CPU of our cgroup, or 0 without one. */
static double own_cpu_ms(void)
{
	char p[300], line[128];
	double v = 0;
	if (!own_cg[0])
		return 0;
	snprintf(p, sizeof(p), "%s/cpu.stat", own_cg);
	FILE *f = fopen(p, "r");
	if (!f)
		return 0;
	unsigned long long us;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "usage_usec %llu", &us) == 1)
			v = (double)us / 1000.0;
	fclose(f);
	return v;
}

/* ---- idle memory ---- */

static long long smaps_pss_kib(int pid)
{
	char p[64], line[256];
	long long kib = -1;
	snprintf(p, sizeof(p), "/proc/%d/smaps_rollup", pid);
	FILE *f = fopen(p, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pss: %lld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* The children of @pid (all its threads'), into @out; their count. */
static int children(int pid, int *out, int max)
{
	char p[64];
	int n = 0;
	snprintf(p, sizeof(p), "/proc/%d/task", pid);
	FILE *ls = NULL;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "cat %s/*/children 2>/dev/null", p);
	ls = popen(cmd, "r");
	if (!ls)
		return 0;
	while (n < max && fscanf(ls, "%d", &out[n]) == 1)
		n++;
	pclose(ls);
	return n;
}

/* Memory charged to the cgroup of @pid (v1 memory.usage_in_bytes or v2
 * memory.current), bytes, or -1. */
static long long cgroup_charged(int pid)
{
	char p[64], line[512];
	snprintf(p, sizeof(p), "/proc/%d/cgroup", pid);
	FILE *f = fopen(p, "r");
	long long v = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f) && v < 0) {
		char *c = strchr(line, ':');
		char *path = c ? strchr(c + 1, ':') : NULL;
		if (!path)
			continue;
		path[strcspn(path, "\n")] = '\0';
		char file[1024];
		if (strncmp(c, ":memory:", 8) == 0)
			snprintf(file, sizeof(file),
				 "/sys/fs/cgroup/memory%s/memory.usage_in_bytes", path + 1);
		else if (strncmp(line, "0::", 3) == 0)
			snprintf(file, sizeof(file), "/sys/fs/cgroup%s/memory.current", path + 1);
		else
			continue;
		FILE *m = fopen(file, "r");
		if (m) {
			if (fscanf(m, "%lld", &v) != 1)
				v = -1;
			fclose(m);
		}
	}
	fclose(f);
	return v;
}

static void idle_memory(void)
{
	petri_warm w[] = {{"sh", 16, 0}};
	petri_ctx_opts co = PETRI_CTX_OPTS_INIT;
	petri_ctx *ctx = NULL;
	petri_error *e = NULL;
	co.warm = w;
	co.nwarm = 1;
	if (petri_ctx_new(&ctx, &co, &e) < 0)
		die("ctx", e);
	if (petri_ctx_pool_wait(ctx, 120000) < 0)
		die("pool_wait", NULL);
	usleep(300000); /* the warm reapers are forked once READY is sent */
	int inits[64], n = children(getpid(), inits, 64);
	double pss[64], charged[64];
	int m = 0;
	for (int i = 0; i < n; i++) {
		int kids[8], k = children(inits[i], kids, 8);
		long long s = smaps_pss_kib(inits[i]);
		for (int j = 0; j < k; j++)
			s += smaps_pss_kib(kids[j]);
		pss[m] = (double)s / 1024.0;
		charged[m] = (double)cgroup_charged(inits[i]) / 1048576.0;
		m++;
	}
	if (m) {
		printf("idle pooled sandbox (%d measured, init + warm reaper): PSS median %.3f MiB; "
		       "memory cgroup charged median %.3f MiB\n",
		       m, median(pss, m), median(charged, m));
	}
	petri_ctx_free(ctx);
}

/* ---- python: a pooled sandbox vs bare ---- */

static void python_ratio(int rounds)
{
	petri_warm w[] = {{"python", 2, 0}};
	petri_ctx_opts co = PETRI_CTX_OPTS_INIT;
	petri_ctx *ctx = NULL;
	petri_error *e = NULL;
	co.warm = w;
	co.nwarm = 1;
	if (petri_ctx_new(&ctx, &co, &e) < 0)
		die("ctx", e);
	if (petri_ctx_pool_wait(ctx, 120000) < 0)
		die("pool_wait", NULL);
	int n = rounds * 5;
	double *sbx = calloc((size_t)n, sizeof(double)), *b = calloc((size_t)n, sizeof(double));
	double *ratio = calloc((size_t)n, sizeof(double));
	petri_sandbox_opts o = PETRI_SANDBOX_OPTS_INIT;
	o.language = "python";
	for (int i = 0; i < n; i++) {
		petri_sandbox *sb = NULL;
		if (petri_sandbox_create(ctx, &o, &sb, &e) < 0)
			die("create", e);
		double t0 = now_s();
		exec_in(sb, py_argv);
		sbx[i] = (now_s() - t0) * 1e3;
		petri_sandbox_destroy(sb);
		t0 = now_s();
		bare(py_argv);
		b[i] = (now_s() - t0) * 1e3;
		ratio[i] = sbx[i] / b[i];
		petri_ctx_pool_wait(ctx, 10000);
	}
	petri_pool_stats s = {.sz = sizeof(s)};
	petri_ctx_pool_stats(ctx, "python", &s);
	printf("python3 -c 'print(1)' (%d pairs): pooled sandbox exec %.2f ms, bare fork+exec %.2f ms, "
	       "ratio (median of pairs) %.3fx  [hits %llu, recycled %llu]\n",
	       n, median(sbx, n), median(b, n), median(ratio, n), (unsigned long long)s.hits,
	       (unsigned long long)s.recycled);
	free(sbx);
	free(b);
	free(ratio);
	petri_ctx_free(ctx);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 7;
	int cycles = argc > 2 ? atoi(argv[2]) : 400;
	if (rounds < 1 || cycles < 1) {
		fprintf(stderr, "usage: pool_bench [ROUNDS [CYCLES]]\n");
		return 2;
	}
	double la[3] = {0};
	if (getloadavg(la, 3) < 0)
		la[0] = -1;
	printf("pool_bench: %d rounds, %d cycles per variant per round, load average %.2f %.2f "
	       "%.2f\n",
	       rounds, cycles, la[0], la[1], la[2]);

	own_cgroup_enter();
	printf("CPU per cycle: %s\n",
	       own_cg[0] ? "cpu.stat of the benchmark's own cgroup (this process, "
			   "its sandboxes)" :
			   "(no cgroup of our own: not measured)");
	petri_error *e = NULL;
	petri_ctx *plain = NULL, *pooled = NULL;
	if (petri_ctx_new(&plain, NULL, &e) < 0)
		die("ctx", e);
	petri_warm w[] = {{"sh", POOL_COUNT, 0}};
	petri_ctx_opts co = PETRI_CTX_OPTS_INIT;
	co.warm = w;
	co.nwarm = 1;
	if (petri_ctx_new(&pooled, &co, &e) < 0)
		die("ctx", e);
	if (petri_ctx_pool_wait(pooled, 120000) < 0)
		die("pool_wait", NULL);
	petri_sandbox *held[2] = {create(plain), create(plain)};

	static const char *const names[NVAR] = {
		"bare fork+exec, 1 thread",         "bare fork+exec, 2 threads",
		"exec in a held sandbox, 1 thread", "exec in a held sandbox, 2 threads",
		"pool-less cycle, 1 thread",        "pooled cycle, 1 thread",
		"pooled cycle, 2 threads"};
	double *r[NVAR], cpu_ms[NVAR] = {0}, own_ms[NVAR] = {0};
	unsigned long long ncycles[NVAR] = {0};
	for (int v = 0; v < NVAR; v++)
		r[v] = calloc((size_t)rounds, sizeof(double));
	for (int k = 0; k < rounds; k++) {
		for (int v = 0; v < NVAR; v++) {
			int threads = (v == 1 || v == 3 || v == 6) ? 2 : 1;
			int n = v == 4 ? cycles / 4 : cycles / threads;
			unsigned long long b0, t0, b1, t1;
			cpu_jiffies(&b0, &t0);
			double o0 = own_cpu_ms();
			if (v <= 1)
				r[v][k] = rate(BARE, NULL, NULL, threads, n);
			else if (v <= 3)
				r[v][k] = rate(HELD, NULL, held, threads, n);
			else
				r[v][k] = rate(CYCLE, v == 4 ? plain : pooled, NULL, threads, n);
			if (v >= 5) /* the refill thread's work of the round lands too */
				petri_ctx_pool_wait(pooled, 10000);
			cpu_jiffies(&b1, &t1);
			own_ms[v] += own_cpu_ms() - o0;
			cpu_ms[v] += (double)(b1 - b0) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
			ncycles[v] += (unsigned long long)(threads * n);
		}
	}
	double base = 0;
	printf("| variant | cycles/s (median) | min | max | vs bare 1 thread | own CPU ms per cycle "
	       "| machine CPU ms per cycle |\n|---|---|---|---|---|---|---|\n");
	for (int v = 0; v < NVAR; v++) {
		double lo = 1e18, hi = 0;
		for (int k = 0; k < rounds; k++) {
			lo = r[v][k] < lo ? r[v][k] : lo;
			hi = r[v][k] > hi ? r[v][k] : hi;
		}
		double m = median(r[v], rounds);
		if (v == 0)
			base = m;
		printf("| %s | %.0f | %.0f | %.0f | %.3f | %.3f | %.3f |\n", names[v], m, lo, hi,
		       m / base, own_ms[v] / (double)ncycles[v], cpu_ms[v] / (double)ncycles[v]);
	}
	petri_pool_stats s = {.sz = sizeof(s)};
	petri_ctx_pool_stats(pooled, "sh", &s);
	printf("pool: hits %llu misses %llu created %llu recycled %llu discarded %llu failed %llu\n",
	       (unsigned long long)s.hits, (unsigned long long)s.misses,
	       (unsigned long long)s.created, (unsigned long long)s.recycled,
	       (unsigned long long)s.discarded, (unsigned long long)s.failed);
	petri_sandbox_destroy(held[0]);
	petri_sandbox_destroy(held[1]);
	petri_ctx_free(pooled);
	petri_ctx_free(plain);

	python_ratio(rounds);
	idle_memory();
	if (getloadavg(la, 3) < 0)
		la[0] = -1;
	printf("load average at the end %.2f %.2f %.2f\n", la[0], la[1], la[2]);
	own_cgroup_leave();
	return 0;
}
