/* SPDX-License-Identifier: Apache-2.0 */
/* petri_test.c - shared helpers for the C tests (see petri_test.h). */
#include "petri_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int petri_test_failures;

void petri_test_skip(const char *why)
{
	const char *ci = getenv("CI");
	if (ci && strcmp(ci, "true") == 0) {
		fprintf(stderr, "SKIP is a failure under CI=true: %s\n", why);
		exit(1);
	}
	fprintf(stderr, "SKIP: %s\n", why);
	exit(77);
}

static void test_log(int level, const char *msg, void *ud)
{
	(void)ud;
	fprintf(stderr, "petri[%d]: %s\n", level, msg);
}

static petri_ctx *ctx;

petri_ctx *petri_test_ctx(void)
{
	if (!ctx) {
		petri_ctx_opts o = PETRI_CTX_OPTS_INIT;
		petri_error *e = NULL;
		o.log_fn = test_log;
		/* PETRI_TEST_WARM=1: the shared context has a warm pool of every
		 * language, so that the suites run against taken and recycled
		 * sandboxes (tests/security: the *_pool variants). */
		static const petri_warm warm[] = {
			{"sh", 2, 0}, {"python", 2, 0}, {"node", 1, 0}, {"go", 1, 0}, {NULL, 2, 0}};
		const char *w = getenv("PETRI_TEST_WARM");
		if (w && *w && strcmp(w, "0") != 0) {
			o.warm = warm;
			o.nwarm = sizeof(warm) / sizeof(warm[0]);
		}
		int r = petri_ctx_new(&ctx, &o, &e);
		if (r < 0) {
			fprintf(stderr, "petri_ctx_new: %s\n", petri_error_message(e));
			exit(1);
		}
	}
	return ctx;
}

void petri_test_ctx_free(void)
{
	petri_ctx_free(ctx);
	ctx = NULL;
}

static char *dup_bytes(const char *p, size_t n)
{
	char *s = malloc(n + 1);
	if (!s)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

struct petri_test_run petri_test_exec_opts(petri_sandbox *sb, const petri_exec_opts *o)
{
	struct petri_test_run run = {0};
	petri_result *res = NULL;
	petri_error *e = NULL;
	run.rc = petri_sandbox_exec(sb, o, &res, &e);
	if (run.rc < 0) {
		snprintf(run.errmsg, sizeof(run.errmsg), "%s", petri_error_message(e));
		petri_error_free(e);
		run.out = dup_bytes("", 0);
		run.err = dup_bytes("", 0);
		return run;
	}
	const char *p = petri_result_stdout(res, &run.out_len);
	run.out = dup_bytes(p, run.out_len);
	p = petri_result_stderr(res, &run.err_len);
	run.err = dup_bytes(p, run.err_len);
	run.reason = petri_result_reason(res);
	run.exit_code = petri_result_exit_code(res);
	run.signal = petri_result_signal(res);
	run.limits = petri_result_limits_hit(res);
	run.wall_ns = petri_result_wall_ns(res);
	run.out_total = petri_result_stdout_total(res);
	run.err_total = petri_result_stderr_total(res);
	run.out_trunc = petri_result_stdout_truncated(res);
	run.err_trunc = petri_result_stderr_truncated(res);
	petri_result_free(res);
	return run;
}

struct petri_test_run petri_test_exec(petri_sandbox *sb, const char *lang, const char *code,
				      const char *const *argv, uint64_t timeout_ms)
{
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.language = lang;
	o.code = code;
	o.argv = argv;
	o.timeout_ms = timeout_ms;
	return petri_test_exec_opts(sb, &o);
}

struct petri_test_run petri_test_run_code(const char *lang, const char *code, uint64_t timeout_ms)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	petri_sandbox *sb = NULL;
	petri_error *e = NULL;
	so.language = lang;
	int r = petri_sandbox_create(petri_test_ctx(), &so, &sb, &e);
	if (r < 0) {
		fprintf(stderr, "petri_sandbox_create: %s\n", petri_error_message(e));
		exit(1);
	}
	struct petri_test_run run = petri_test_exec(sb, lang, code, NULL, timeout_ms);
	petri_sandbox_destroy(sb);
	return run;
}

void petri_test_run_free(struct petri_test_run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

int petri_test_cli(const char *const *args, char **out, char **err)
{
	const char *cli = getenv("PETRI_CLI");
	int po[2], pe[2];
	if (!cli || pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)
		return -1;
	size_t n = 0;
	while (args[n])
		n++;
	const char **argv = calloc(n + 2, sizeof(char *));
	argv[0] = cli;
	memcpy(argv + 1, args, n * sizeof(char *));
	pid_t pid = fork();
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		int devnull = open("/dev/null", O_RDONLY);
		dup2(devnull, 0);
		execv(cli, (char *const *)argv);
		_exit(126);
	}
	free(argv);
	close(po[1]);
	close(pe[1]);
	/* Read both pipes without deadlocking on a full one. */
	char *bufs[2] = {NULL, NULL};
	int fds[2] = {po[0], pe[0]};
	size_t lens[2] = {0, 0}, caps[2] = {0, 0};
	int open_n = 2;
	while (open_n > 0) {
		struct pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (lens[i] + 65537 > caps[i]) {
				caps[i] = caps[i] ? caps[i] * 2 : 131072;
				bufs[i] = realloc(bufs[i], caps[i]);
			}
			ssize_t r = read(fds[i], bufs[i] + lens[i], 65536);
			if (r > 0) {
				lens[i] += (size_t)r;
			} else if (r == 0 || errno != EINTR) {
				close(fds[i]);
				fds[i] = -1;
				p[i].fd = -1;
				open_n--;
			}
		}
	}
	for (int i = 0; i < 2; i++) {
		if (!bufs[i])
			bufs[i] = malloc(1);
		bufs[i][lens[i]] = '\0';
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (out)
		*out = bufs[0];
	else
		free(bufs[0]);
	if (err)
		*err = bufs[1];
	else
		free(bufs[1]);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int petri_test_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 3; /* ".", "..", and the dir's own fd */
}

int petri_test_count_mounts(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int n = 0, c;
	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static int count_petri_dirs(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (strncmp(e->d_name, "petri-", 6) == 0 &&
		    strncmp(e->d_name, "petri-host", 10) != 0)
			n++;
		else if (depth < 6)
			n += count_petri_dirs(p, depth + 1);
	}
	closedir(d);
	return n;
}

int petri_test_count_petri_cgroups(void)
{
	return count_petri_dirs("/sys/fs/cgroup", 0);
}

long long petri_test_status_field(int pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long long v = -1;
	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%d/status", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtoll(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

long petri_test_rss_kib(void)
{
	return (long)petri_test_status_field(0, "VmRSS");
}

int petri_test_done(void)
{
	if (petri_test_failures) {
		fprintf(stderr, "%d check(s) failed\n", petri_test_failures);
		return 1;
	}
	return 0;
}

/* ---- named cases ---- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const struct petri_test_case *find_case(const struct petri_test_case *cases,
					       const char *name, size_t len)
{
	for (const struct petri_test_case *c = cases; c->name; c++)
		if (strlen(c->name) == len && strncmp(c->name, name, len) == 0)
			return c;
	return NULL;
}

/* The case's body, in the process that reports it: its exit status. */
static int run_case_here(const struct petri_test_case *c)
{
	petri_test_failures = 0;
	c->fn();
	petri_test_ctx_free();
	if (petri_test_failures)
		fprintf(stderr, "%s: %d check(s) failed\n", c->name, petri_test_failures);
	return petri_test_failures ? 1 : 0;
}

/* Run @c in a child; returns 0 passed, 77 skipped, 1 failed (@why says how). */
static int run_case(const struct petri_test_case *c, int nofork, char *why, size_t whylen)
{
	snprintf(why, whylen, "exit status 1");
	if (nofork)
		return run_case_here(c);
	fflush(NULL); /* nothing buffered is written twice */
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		/* A runner killed by ctest's timeout takes the case with it. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(1);
		exit(run_case_here(c));
	}
	int st;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			snprintf(why, whylen, "waitpid: %s", strerror(errno));
			return 1;
		}
	}
	if (WIFSIGNALED(st)) {
		snprintf(why, whylen, "killed by signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
		return 1;
	}
	int rc = WEXITSTATUS(st);
	snprintf(why, whylen, "exit status %d", rc);
	return rc == 0 || rc == 77 ? rc : 1;
}

int petri_test_main(int argc, char **argv, const struct petri_test_case *cases)
{
	const char *prog = argc > 0 && argv[0] ? strrchr(argv[0], '/') : NULL;
	prog = prog ? prog + 1 : (argc > 0 && argv[0] ? argv[0] : "test");
	size_t ncases = 0;
	while (cases[ncases].name)
		ncases++;
	if (ctx) {
		fprintf(stderr,
			"%s: petri_test_ctx() was made before petri_test_main(): each case "
			"makes its own\n",
			prog);
		return 2;
	}

	/* Which cases: the command line, else $PETRI_TEST_CASE, else all. */
	char *selected = calloc(ncases ? ncases : 1, 1);
	if (!selected)
		abort();
	int any = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--list") == 0) {
			for (size_t k = 0; k < ncases; k++)
				printf("%s\n", cases[k].name);
			free(selected);
			return 0;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: %s [--list] [CASE...]  (or PETRI_TEST_CASE=CASE,... "
			       "PETRI_TEST_NOFORK=1)\n",
			       prog);
			free(selected);
			return 0;
		}
		const struct petri_test_case *c = find_case(cases, argv[i], strlen(argv[i]));
		if (!c) {
			fprintf(stderr, "%s: no case named \"%s\" (--list lists them)\n", prog,
				argv[i]);
			free(selected);
			return 2;
		}
		selected[c - cases] = 1;
		any = 1;
	}
	const char *env = getenv("PETRI_TEST_CASE");
	if (!any && env && *env) {
		for (const char *p = env + strspn(env, ", \t"); *p;) {
			size_t k = strcspn(p, ", \t");
			const struct petri_test_case *c = find_case(cases, p, k);
			if (!c) {
				fprintf(stderr,
					"%s: PETRI_TEST_CASE names no case \"%.*s\" (--list lists "
					"them)\n",
					prog, (int)k, p);
				free(selected);
				return 2;
			}
			selected[c - cases] = 1;
			p += k;
			p += strspn(p, ", \t");
		}
		any = 1;
	}

	const char *nf = getenv("PETRI_TEST_NOFORK");
	int nofork = nf && *nf && strcmp(nf, "0") != 0;
	int passed = 0, failed = 0, skipped = 0;
	for (size_t k = 0; k < ncases; k++) {
		if (any && !selected[k])
			continue;
		fprintf(stderr, "[ RUN  ] %s\n", cases[k].name);
		double t0 = now_s();
		char why[128];
		int rc = run_case(&cases[k], nofork, why, sizeof(why));
		double dt = now_s() - t0;
		if (rc == 0) {
			passed++;
			fprintf(stderr, "[  OK  ] %s (%.2f s)\n", cases[k].name, dt);
		} else if (rc == 77) {
			skipped++;
			fprintf(stderr, "[ SKIP ] %s (%.2f s)\n", cases[k].name, dt);
		} else {
			failed++;
			fprintf(stderr, "[ FAIL ] %s (%.2f s): %s\n", cases[k].name, dt, why);
		}
	}
	free(selected);
	if (skipped)
		fprintf(stderr, "%s: %d passed, %d failed, %d skipped\n", prog, passed, failed,
			skipped);
	else
		fprintf(stderr, "%s: %d passed, %d failed\n", prog, passed, failed);
	return failed ? 1 : skipped ? 77 : 0;
}
