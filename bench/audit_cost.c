/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_cost.c - the kernel audit's cost per event in a warm context (BPF
 * loaded once), side by side in one run: two sandboxes of one context, one
 * sending to an audit stream (a file), one not, and the same workload
 * exec'd in each, alternated, ROUNDS times.  For each workload it prints
 * the median wall time of each and their ratio, and per audited event:
 *  - bpf:      the audit programs' run time (kernel.bpf_stats, enabled here
 *              through BPF_ENABLE_STATS for the run), all petri_* programs;
 *  - consumer: CPU of the ring-buffer consumer thread and of the stream's
 *              writer thread ("petri-kaudit", "petri-audit-w": their
 *              schedstat run time, ns);
 *  - total:    (the exec's CPU + this process's CPU) with audit minus
 *              without, medians of the paired differences: everything the
 *              audit adds, the syscall tracepoints' slow path included.
 * Events: the stream's events emitted per audited exec.
 * With PETRI_EMPTY_PROBES=bench/empty_probes.bpf.o (built), each round
 * also runs the workload unaudited with two programs that do nothing
 * attached to sys_enter/sys_exit: the floor of any audit on those hooks.
 * Usage: audit_cost [ROUNDS [WORKLOAD...]]  (root; a WORKLOAD is a shell
 * command line; default: 20,000 open/close in python)
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <petri/audit.h>
#include <petri/petri.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static double self_cpu_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double *c = malloc((size_t)n * sizeof(*c));
	memcpy(c, v, (size_t)n * sizeof(*c));
	qsort(c, (size_t)n, sizeof(*c), cmp);
	double m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
	free(c);
	return m;
}

static void die(const char *what, petri_error *e)
{
	fprintf(stderr, "audit_cost: %s: %s\n", what, e ? petri_error_message(e) : strerror(errno));
	exit(1);
}

/* Runs and run time of the petri_* BPF programs, by name. */
#define MAXPROG 32
struct progstat {
	char name[16];
	double cnt, ns;
};

/* The BPF programs this process holds (their ids, from the prog_id line
 * of each fd's fdinfo): other processes' audits (a test suite running
 * beside the bench) load programs of the same names. */
static int own_prog(__u32 id)
{
	DIR *d = opendir("/proc/self/fdinfo");
	struct dirent *de;
	int found = 0;

	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		char p[300], line[128];
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/self/fdinfo/%s", de->d_name);
		if (!(f = fopen(p, "re")))
			continue;
		while (fgets(line, sizeof(line), f)) {
			unsigned v;
			if (sscanf(line, "prog_id: %u", &v) == 1 && v == id) {
				found = 1;
				break;
			}
		}
		fclose(f);
	}
	closedir(d);
	return found;
}

static int prog_stats(struct progstat *out)
{
	__u32 id = 0;
	int n = 0;

	while (n < MAXPROG && !bpf_prog_get_next_id(id, &id)) {
		int fd = bpf_prog_get_fd_by_id(id);
		struct bpf_prog_info info = {0};
		__u32 len = sizeof(info);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
		    strncmp(info.name, "petri_", 6) == 0 && own_prog(id)) {
			int i;
			for (i = 0; i < n && strcmp(out[i].name, info.name); i++)
				;
			if (i == n) {
				snprintf(out[n].name, sizeof(out[n].name), "%s", info.name);
				out[n].cnt = out[n].ns = 0;
				n++;
			}
			out[i].cnt += (double)info.run_cnt;
			out[i].ns += (double)info.run_time_ns;
		}
		close(fd);
	}
	return n;
}

static struct progstat acc[MAXPROG];
static int nacc;

/* Add the runs between @a (@na) and @b (@nb) to acc; their run time. */
static double prog_delta(const struct progstat *a, int na, const struct progstat *b, int nb)
{
	double total = 0;

	for (int j = 0; j < nb; j++) {
		double c = b[j].cnt, t = b[j].ns;
		for (int i = 0; i < na; i++)
			if (!strcmp(a[i].name, b[j].name)) {
				c -= a[i].cnt;
				t -= a[i].ns;
			}
		int k;
		for (k = 0; k < nacc && strcmp(acc[k].name, b[j].name); k++)
			;
		if (k == nacc && nacc < MAXPROG)
			acc[nacc++] = (struct progstat){.cnt = 0};
		if (k < MAXPROG) {
			memcpy(acc[k].name, b[j].name, sizeof(acc[k].name));
			acc[k].cnt += c;
			acc[k].ns += t;
		}
		total += t;
	}
	return total;
}

/* Run time (ns) of this process's threads named @a or @b (schedstat), or
 * with @switches their voluntary context switches (a sleep each: an epoll or
 * condition wait that had to be woken). */
static double threads_stat(const char *a, const char *b, int switches)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	double total = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char p[300], comm[32] = "";
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/self/task/%s/comm", de->d_name);
		if (!(f = fopen(p, "re")))
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
		comm[strcspn(comm, "\n")] = 0;
		if (strcmp(comm, a) != 0 && strcmp(comm, b) != 0)
			continue;
		unsigned long long run = 0;
		if (switches) {
			char line[128];
			snprintf(p, sizeof(p), "/proc/self/task/%s/status", de->d_name);
			if ((f = fopen(p, "re"))) {
				while (fgets(line, sizeof(line), f))
					if (sscanf(line, "voluntary_ctxt_switches: %llu", &run) ==
					    1)
						break;
				fclose(f);
			}
		} else {
			snprintf(p, sizeof(p), "/proc/self/task/%s/schedstat", de->d_name);
			if ((f = fopen(p, "re"))) {
				if (fscanf(f, "%llu", &run) != 1)
					run = 0;
				fclose(f);
			}
		}
		total += (double)run;
	}
	closedir(d);
	return total;
}

struct sample {
	double wall_ms, cpu_ns, exec_cpu_ns, bpf_ns, consumer_ns, wakeups;
	uint64_t events;
};

/* Wait until the writer has handed everything emitted to the file. */
static void settle(petri_audit *a)
{
	for (int i = 0; i < 2000; i++) {
		petri_audit_stats st = {.sz = sizeof(st)};
		if (petri_audit_get_stats(a, &st) == 0 && st.written + st.lost_sink >= st.emitted)
			return;
		usleep(1000);
	}
}

static petri_ctx *ctx;
static struct bpf_object *empty; /* bench/empty_probes.bpf.o, loaded */

/* Attach (@on) or detach the do-nothing sys_enter/sys_exit programs. */
static void floor_attach(int on)
{
	static struct bpf_link *links[2];
	struct bpf_program *p;
	int i = 0;

	bpf_object__for_each_program(p, empty)
	{
		if (i >= 2)
			break;
		if (on && !(links[i] = bpf_program__attach(p)))
			die("attach empty program", NULL);
		if (!on) {
			bpf_link__destroy(links[i]);
			links[i] = NULL;
		}
		i++;
	}
}

/* One exec of @cmd: in @sb, or, with @a, in a sandbox created for it that
 * sends to @a (created and destroyed outside the timed part, so that
 * during the unaudited execs no sandbox is watched and the syscall
 * programs are detached, as in a context that audits some sandboxes). */
static struct sample run_one(petri_sandbox *sb, petri_audit *a, const char *cmd)
{
	const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	petri_exec_opts eo = PETRI_EXEC_OPTS_INIT;
	petri_result *r = NULL;
	petri_error *e = NULL;
	petri_audit_stats s0 = {.sz = sizeof(s0)}, s1 = {.sz = sizeof(s1)};
	struct sample s;

	if (a) {
		petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
		so.audit = a;
		if (petri_sandbox_create(ctx, &so, &sb, &e) < 0)
			die("create (audited)", e);
		settle(a);
		petri_audit_get_stats(a, &s0);
	}
	eo.argv = argv;
	eo.timeout_ms = 120000;
	struct progstat p0[MAXPROG], p1[MAXPROG];
	int np0 = prog_stats(p0);
	double c0 = threads_stat("petri-kaudit", "petri-audit-w", 0);
	double k0 = threads_stat("petri-kaudit", "petri-audit-w", 1);
	double u0 = self_cpu_ns(), t0 = now_ns();
	if (petri_sandbox_exec(sb, &eo, &r, &e) < 0)
		die("exec", e);
	s.wall_ms = (now_ns() - t0) / 1e6;
	if (a)
		settle(a);
	s.exec_cpu_ns = (double)petri_result_cpu_ns(r);
	s.cpu_ns = self_cpu_ns() - u0 + s.exec_cpu_ns;
	s.consumer_ns = threads_stat("petri-kaudit", "petri-audit-w", 0) - c0;
	s.wakeups = threads_stat("petri-kaudit", "petri-audit-w", 1) - k0;
	int np1 = prog_stats(p1);
	s.bpf_ns = a ? prog_delta(p0, np0, p1, np1) : 0;
	s.events = 0;
	if (a) {
		petri_audit_get_stats(a, &s1);
		s.events = s1.emitted - s0.emitted;
	}
	if (petri_result_exit_code(r) != 0) {
		size_t n;
		const char *err = petri_result_stderr(r, &n);
		fprintf(stderr, "audit_cost: '%s' failed: %.*s\n", cmd, (int)n, err);
		exit(1);
	}
	petri_result_free(r);
	if (a)
		petri_sandbox_destroy(sb);
	return s;
}

static void bench(petri_sandbox *off, petri_audit *a, const char *cmd, int rounds)
{
	double *w_fl = calloc((size_t)rounds, sizeof(double)),
	       *x_fl = calloc((size_t)rounds, sizeof(double)),
	       *w_off = calloc((size_t)rounds, sizeof(double)),
	       *w_on = calloc((size_t)rounds, sizeof(double)),
	       *ratio = calloc((size_t)rounds, sizeof(double)),
	       *bpf = calloc((size_t)rounds, sizeof(double)),
	       *cons = calloc((size_t)rounds, sizeof(double)),
	       *tot = calloc((size_t)rounds, sizeof(double)),
	       *xcpu = calloc((size_t)rounds, sizeof(double)),
	       *wk = calloc((size_t)rounds, sizeof(double)),
	       *ev = calloc((size_t)rounds, sizeof(double));

	run_one(off, NULL, cmd); /* warm-up: page cache, pyc */
	run_one(NULL, a, cmd);
	for (int i = 0; i < rounds; i++) {
		struct sample x, y;
		if (i % 2) {
			y = run_one(NULL, a, cmd);
			x = run_one(off, NULL, cmd);
		} else {
			x = run_one(off, NULL, cmd);
			y = run_one(NULL, a, cmd);
		}
		double n = y.events ? (double)y.events : 1;
		if (empty) {
			floor_attach(1);
			struct sample f = run_one(off, NULL, cmd);
			floor_attach(0);
			w_fl[i] = f.wall_ms;
			x_fl[i] = (f.exec_cpu_ns - x.exec_cpu_ns) / n;
		}
		w_off[i] = x.wall_ms;
		w_on[i] = y.wall_ms;
		ratio[i] = y.wall_ms / x.wall_ms;
		bpf[i] = y.bpf_ns / n;
		cons[i] = y.consumer_ns / n;
		tot[i] = (y.cpu_ns - x.cpu_ns) / n;
		xcpu[i] = (y.exec_cpu_ns - x.exec_cpu_ns) / n;
		wk[i] = y.wakeups / n;
		ev[i] = (double)y.events;
	}
	printf("workload: %s\n", cmd);
	printf("  wall ms, audit off / on (medians of %d, alternated): %.1f / %.1f; "
	       "ratio %.3f (median of per-round ratios %.3f)\n",
	       rounds, median(w_off, rounds), median(w_on, rounds),
	       median(w_on, rounds) / median(w_off, rounds), median(ratio, rounds));
	if (empty)
		printf("  floor, two empty programs on sys_enter/sys_exit: wall %.1f ms, ratio %.3f; "
		       "the exec's own CPU added per audited event %.0f ns\n",
		       median(w_fl, rounds), median(w_fl, rounds) / median(w_off, rounds),
		       median(x_fl, rounds));
	printf("  events per audited exec: %.0f; consumer+writer sleeps (voluntary context "
	       "switches) per event: %.4f\n",
	       median(ev, rounds), median(wk, rounds));
	double evs = 0;
	for (int i = 0; i < rounds; i++)
		evs += ev[i];
	printf("  bpf_stats by program over the audited execs (runs anywhere on the host while "
	       "attached):");
	for (int k = 0; k < nacc; k++)
		if (acc[k].cnt)
			printf(" %s %.0f ns/run x %.2f runs/event;", acc[k].name,
			       acc[k].ns / acc[k].cnt, acc[k].cnt / (evs ? evs : 1));
	printf("\n");
	nacc = 0;
	printf("  per event (ns, medians): bpf_stats %.0f + consumer/writer threads %.0f = %.0f; "
	       "the exec's own CPU added %.0f; all CPU added (exec + this process) %.0f\n",
	       median(bpf, rounds), median(cons, rounds),
	       median(bpf, rounds) + median(cons, rounds), median(xcpu, rounds),
	       median(tot, rounds));
	fflush(stdout);
	free(w_fl);
	free(x_fl);
	free(w_off);
	free(w_on);
	free(ratio);
	free(bpf);
	free(cons);
	free(tot);
	free(xcpu);
	free(wk);
	free(ev);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 15;
	const char *def[] = {
		"exec python3 -c 'for i in range(20000): open(\"/etc/hostname\").close()'"};
	const char *const *work = argc > 2 ? (const char *const *)argv + 2 : def;
	int nwork = argc > 2 ? argc - 2 : 1;
	petri_error *e = NULL;
	petri_audit *a = NULL;
	petri_sandbox *off = NULL;
	char path[] = "/tmp/petri-audit-cost-XXXXXX";

	if (rounds < 1) {
		fprintf(stderr, "usage: audit_cost [ROUNDS [WORKLOAD...]]\n");
		return 2;
	}
	const char *fl = getenv("PETRI_EMPTY_PROBES"); /* bench/empty_probes.bpf.o */
	if (fl && *fl) {
		empty = bpf_object__open_file(fl, NULL);
		if (!empty || bpf_object__load(empty))
			die("load PETRI_EMPTY_PROBES", NULL);
	}
	int stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0)
		fprintf(stderr, "audit_cost: cannot enable bpf stats (%s): bpf column is 0\n",
			strerror(errno));
	if (petri_ctx_new(&ctx, NULL, &e) < 0)
		die("context", e);
	const char *why = NULL;
	if (petri_ctx_kernel_audit(ctx, &why) != 1) {
		fprintf(stderr, "audit_cost: kernel audit off: %s\n", why ? why : "?");
		return 1;
	}
	int fd = mkstemp(path);
	if (fd < 0)
		die("mkstemp", NULL);
	close(fd);
	petri_audit_opts ao = PETRI_AUDIT_OPTS_INIT;
	ao.sink = PETRI_AUDIT_SINK_FILE;
	ao.path = path;
	ao.ctx = ctx;
	ao.max_bytes = PETRI_AUDIT_MAX_BYTES_UNLIMITED;
	if (petri_audit_open(&a, &ao, &e) < 0)
		die("audit open", e);
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	if (petri_sandbox_create(ctx, &so, &off, &e) < 0)
		die("create", e);
	for (int i = 0; i < nwork; i++)
		bench(off, a, work[i], rounds);
	petri_sandbox_destroy(off);
	petri_audit_close(a, NULL);
	petri_ctx_free(ctx);
	unlink(path);
	if (stats_fd >= 0)
		close(stats_fd);
	return 0;
}
