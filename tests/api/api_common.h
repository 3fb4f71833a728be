/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_common.h - small helpers shared by the API tests in this directory
 * (static inline, so each test executable takes only what it uses): making
 * sandboxes with options, running an exec with full options, comparing
 * captured output, and counting what a test must not leave behind.
 */
#ifndef PETRI_API_COMMON_H
#define PETRI_API_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "petri_test.h"

/* Create a sandbox with @o (NULL: defaults) in the shared context; the test
 * cannot go on without it. */
static inline petri_sandbox *api_sandbox(const petri_sandbox_opts *o)
{
	petri_sandbox *sb = NULL;
	petri_error *e = NULL;
	int r = petri_sandbox_create(petri_test_ctx(), o, &sb, &e);
	if (r < 0) {
		fprintf(stderr, "petri_sandbox_create: %d %s\n", r, petri_error_message(e));
		petri_error_free(e);
		exit(1);
	}
	return sb;
}

/* Run @o on @sb; the exec itself must start (rc 0).  Returns the result. */
static inline petri_result *api_exec_ok(petri_sandbox *sb, const petri_exec_opts *o, int line)
{
	petri_result *res = NULL;
	petri_error *e = NULL;
	int r = petri_sandbox_exec(sb, o, &res, &e);
	if (r < 0 || !res) {
		fprintf(stderr, "line %d: petri_sandbox_exec: %d %s\n", line, r,
			petri_error_message(e));
		petri_error_free(e);
		exit(1);
	}
	return res;
}
#define API_EXEC(sb, o) api_exec_ok((sb), (o), __LINE__)

/* Run argv (NULL-terminated list) with default options but @timeout_ms. */
static inline petri_result *api_run_argv(petri_sandbox *sb, const char *const *argv,
					 uint64_t timeout_ms, int line)
{
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.argv = argv;
	o.timeout_ms = timeout_ms;
	return api_exec_ok(sb, &o, line);
}
#define API_SH(sb, script)                                                                         \
	api_run_argv((sb), (const char *const[]){"/bin/sh", "-c", (script), NULL}, 30000, __LINE__)

/* Does the captured stream equal @want exactly (length included)? */
static inline int api_out_is(const petri_result *res, int stream, const char *want)
{
	size_t len = 0;
	const char *p = stream == PETRI_STREAM_STDERR ? petri_result_stderr(res, &len) :
							petri_result_stdout(res, &len);
	return len == strlen(want) && memcmp(p, want, len) == 0;
}

/* NUL-terminated copy of a captured stream (for messages); free() it. */
static inline char *api_out_str(const petri_result *res, int stream)
{
	size_t len = 0;
	const char *p = stream == PETRI_STREAM_STDERR ? petri_result_stderr(res, &len) :
							petri_result_stdout(res, &len);
	char *s = malloc(len + 1);
	if (!s)
		abort();
	memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

#define CHECK_OUT(res, stream, want)                                                               \
	do {                                                                                       \
		char *_got = api_out_str((res), (stream));                                         \
		CHECK_MSG(api_out_is((res), (stream), (want)), "%s is '%s', want '%s'",            \
			  (stream) == PETRI_STREAM_STDERR ? "stderr" : "stdout", _got, (want));    \
		free(_got);                                                                        \
	} while (0)

/* Contents of @dir/@name on the host (at most 4095 bytes, NUL-terminated,
 * malloc'd), or NULL if it cannot be read. */
static inline char *api_host_read(const char *dir, const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "re");
	if (!f)
		return NULL;
	char *buf = calloc(1, 4096);
	size_t n = buf ? fread(buf, 1, 4095, f) : 0;
	if (buf)
		buf[n] = '\0';
	fclose(f);
	return buf;
}

static inline double api_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Directories named "petri-<pid>-*" anywhere below @dir (depth-limited):
 * the cgroups of one host process, so that tests running in parallel do not
 * disturb each other's counts. */
static inline int api_count_cgroups_dir(const char *dir, const char *prefix, int depth)
{
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
			n++;
			continue;
		}
		if (depth < 6) {
			char p[4096];
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			n += api_count_cgroups_dir(p, prefix, depth + 1);
		}
	}
	closedir(d);
	return n;
}

static inline int api_count_cgroups_of(int pid)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "petri-%d-", pid);
	return api_count_cgroups_dir("/sys/fs/cgroup", prefix, 0);
}

/* Threads of this process, -1 when unreadable. */
static inline int api_count_threads(void)
{
	return (int)petri_test_status_field(0, "Threads");
}

static inline void *api_noop_thread(void *arg)
{
	return arg;
}

/* The threads this process has that are not the library's: 1, plus those
 * a sanitizer runtime starts with the first pthread_create (the
 * background threads of ThreadSanitizer).  Call it before the context
 * exists; "the context's threads are gone" is api_count_threads() ==
 * api_base_threads(). */
static inline int api_base_threads(void)
{
	pthread_t t;
	int before = api_count_threads();
	REQUIRE(pthread_create(&t, NULL, api_noop_thread, NULL) == 0);
	REQUIRE(pthread_join(t, NULL) == 0);
	/* pthread_join returns when the thread has cleared its tid, which is
	 * before the kernel drops it from /proc/self/task: wait for that
	 * (a CI run once counted it, then missed it at the end). */
	for (int i = 0; i < 1000 && api_count_threads() > before; i++)
		usleep(1000);
	return api_count_threads();
}

/* ---- watchdog ----
 * api_watchdog(seconds) forks: the child (in a process group of its own)
 * returns and runs the test; the parent waits and, after @seconds, reports
 * the step the test was at (API_STEP), kills the whole group (sandboxes go
 * with it) and fails.  A hang becomes a precise failure, not a ctest
 * timeout. */
static char *api_step_page;

static inline void api_step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void api_step(const char *fmt, ...)
{
	if (!api_step_page)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(api_step_page, 4096, fmt, ap);
	va_end(ap);
}
#define API_STEP(...) api_step(__VA_ARGS__)

static inline void api_watchdog(int seconds)
{
	api_step_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE(api_step_page != MAP_FAILED);
	strcpy(api_step_page, "start");
	pid_t child = fork();
	REQUIRE(child >= 0);
	if (child == 0) {
		setpgid(0, 0);
		return;
	}
	setpgid(child, child);
	double deadline = api_now_s() + seconds;
	int st;
	for (;;) {
		pid_t w = waitpid(child, &st, WNOHANG);
		if (w == child)
			break;
		if (api_now_s() > deadline) {
			fprintf(stderr, "WATCHDOG: test hung for %d s at step: %s\n", seconds,
				api_step_page);
			kill(-child, SIGKILL);
			waitpid(child, &st, 0);
			exit(1);
		}
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

/* One petri_error check: @rc is negative, equals -@want_errno when that is
 * non-zero, the error carries the same code, and its message is one
 * non-empty line that contains @needle (case-sensitive) when given. */
static inline void api_check_error(int rc, petri_error *err, int want_errno, const char *needle,
				   const char *what, int line)
{
	const char *msg = petri_error_message(err);
	if (getenv("PETRI_TEST_VERBOSE"))
		fprintf(stderr, "line %d: %s: rc %d: %s\n", line, what, rc, msg);
	if (rc >= 0) {
		fprintf(stderr, "line %d: %s: succeeded (rc %d), want failure\n", line, what, rc);
		petri_test_failures++;
		return;
	}
	if (want_errno && rc != -want_errno) {
		fprintf(stderr, "line %d: %s: rc %d (%s), want -%d (%s); message '%s'\n", line,
			what, rc, strerror(-rc), want_errno, strerror(want_errno), msg);
		petri_test_failures++;
	}
	if (!err) {
		fprintf(stderr, "line %d: %s: no petri_error\n", line, what);
		petri_test_failures++;
		return;
	}
	if (petri_error_code(err) != rc) {
		fprintf(stderr, "line %d: %s: error code %d != rc %d\n", line, what,
			petri_error_code(err), rc);
		petri_test_failures++;
	}
	if (!msg[0] || strchr(msg, '\n') || strchr(msg, '\r')) {
		fprintf(stderr, "line %d: %s: message is not one non-empty line: '%s'\n", line,
			what, msg);
		petri_test_failures++;
	}
	if (needle && !strstr(msg, needle)) {
		fprintf(stderr, "line %d: %s: message '%s' does not name '%s'\n", line, what, msg,
			needle);
		petri_test_failures++;
	}
}

/* From /proc/@pid/stat: the state letter, or 0 when the process is gone;
 * its parent in *@ppid and its name in @comm (@commlen bytes) when not
 * NULL.  The name may hold spaces and ')': it ends at the last ')'. */
static inline char api_proc_stat(int pid, int *ppid, char *comm, size_t commlen)
{
	char path[64], buf[512], state = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
	int pp = 0;
	if (!lp || !rp || rp < lp || sscanf(rp + 1, " %c %d", &state, &pp) != 2)
		return 0;
	if (ppid)
		*ppid = pp;
	if (comm && commlen) {
		size_t n = (size_t)(rp - lp - 1) < commlen - 1 ? (size_t)(rp - lp - 1) :
								 commlen - 1;
		memcpy(comm, lp + 1, n);
		comm[n] = '\0';
	}
	return state;
}

/* How many processes (zombies included) have @ppid as parent and, unless
 * @comm is NULL, that name; *@last (when not NULL) gets one of their pids.
 * With @report, each is printed to stderr under that label. */
static inline int api_children(int ppid, const char *comm, int *last, const char *report)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;
	REQUIRE(d);
	while ((de = readdir(d))) {
		int pid = atoi(de->d_name), pp = 0;
		char name[64], state;
		if (pid <= 0 || !(state = api_proc_stat(pid, &pp, name, sizeof(name))) ||
		    pp != ppid || (comm && strcmp(name, comm) != 0))
			continue;
		if (report)
			fprintf(stderr, "%s: pid %d state %c\n", report, pid, state);
		if (last)
			*last = pid;
		n++;
	}
	closedir(d);
	return n;
}

#endif
