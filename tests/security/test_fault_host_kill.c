/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fault_host_kill - a host process that is SIGKILLed takes its
 * sandboxes, and everything running in them, with it.
 *
 * A forked host process creates two sandboxes, runs `sleep 1000` in both
 * at once (one exec from the main thread, one from a second thread) and
 * tells this test, through a pipe, the init pids and when both sleeps have
 * started.  The test SIGKILLs the host (no destroy, no atexit) and checks
 * that within 3 s both inits and every process with one of the sandboxes'
 * host uids are gone (the host used a uid base private to this test, so the
 * scan sees nothing else).  This test is a child subreaper meanwhile, so
 * the orphans are reparented to it and "gone" means reaped, not a zombie.
 */
#include "sec_util.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int report_fd;

struct msg {
	int kind; /* 1: init pid, 2: exec started */
	int value;
};

static void report(int kind, int value)
{
	struct msg m = {kind, value};
	if (write(report_fd, &m, sizeof(m)) != (ssize_t)sizeof(m))
		_exit(3);
}

static int on_output(int stream, const char *data, size_t len, void *ud)
{
	(void)stream;
	(void)ud;
	if (memmem(data, len, "started", 7))
		report(2, 0);
	return 0;
}

static void *run_sleep(void *arg)
{
	petri_sandbox *sb = arg;
	struct sec_exec x = {.lang = "sh",
			     .code = "echo started; exec sleep 1000",
			     .timeout_ms = 600000,
			     .on_output = on_output};
	struct petri_test_run r = sec_exec(sb, &x);
	(void)r;
	_exit(4); /* never reached: we are killed first */
}

static _Noreturn void host_main(void)
{
	petri_ctx *ctx = sec_private_ctx();
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = "sh";
	petri_sandbox *a = sec_sandbox_in(ctx, &so);
	petri_sandbox *b = sec_sandbox_in(ctx, &so);
	report(1, petri_sandbox_init_pid(a));
	report(1, petri_sandbox_init_pid(b));
	pthread_t th;
	if (pthread_create(&th, NULL, run_sleep, a) != 0)
		_exit(5);
	run_sleep(b);
	_exit(6);
}

/* cgroup directories "petri-<host>-*" anywhere below /sys/fs/cgroup. */
static int count_cgroups_of(const char *dir, pid_t host, int depth)
{
	char prefix[32];
	snprintf(prefix, sizeof(prefix), "petri-%d-", (int)host);
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
		else if (depth < 6)
			n += count_cgroups_of(p, host, depth + 1);
	}
	if (d)
		closedir(d);
	return n;
}

static void reap_orphans(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static void test_host_kill(void)
{
	if (geteuid() != 0)
		petri_test_skip("needs root: the uid scan relies on per-sandbox host uids");
	REQUIRE(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0);
	uint32_t base = sec_private_uid_base(); /* fixed before the fork: the host uses it too */
	int p[2];
	REQUIRE(pipe(p) == 0);
	pid_t host = fork();
	REQUIRE(host >= 0);
	if (host == 0) {
		close(p[0]);
		report_fd = p[1];
		host_main();
	}
	close(p[1]);

	int inits[2] = {0, 0}, ninit = 0, started = 0;
	uint64_t deadline = sec_now_ms() + 20000;
	while ((ninit < 2 || started < 2) && sec_now_ms() < deadline) {
		struct msg m;
		ssize_t n = read(p[0], &m, sizeof(m));
		if (n != (ssize_t)sizeof(m))
			break;
		if (m.kind == 1 && ninit < 2)
			inits[ninit++] = m.value;
		else if (m.kind == 2)
			started++;
	}
	REQUIRE(ninit == 2 && started == 2);
	pid_t procs[64];
	int before = sec_count_uid_procs(base, sec_private_uid_last(), procs, 64);
	fprintf(stderr, "host %d: inits %d %d, %d sandbox processes\n", (int)host, inits[0],
		inits[1], before);
	/* init + reaper + sleep, twice */
	CHECK_MSG(before >= 6, "only %d sandbox processes before the kill", before);

	REQUIRE(kill(host, SIGKILL) == 0);
	int st;
	REQUIRE(waitpid(host, &st, 0) == host && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	uint64_t t0 = sec_now_ms();
	int left = -1;
	while (sec_now_ms() - t0 < 3000) {
		reap_orphans();
		left = sec_count_uid_procs(base, sec_private_uid_last(), NULL, 0);
		if (left == 0)
			break;
		usleep(10000);
	}
	fprintf(stderr, "all gone after %llu ms\n", (unsigned long long)(sec_now_ms() - t0));
	CHECK_MSG(left == 0, "%d sandbox processes survived their host by 3 s", left);
	for (int i = 0; i < 2; i++)
		CHECK_MSG(!sec_pid_alive(inits[i]), "init %d survived its host", inits[i]);
	for (int i = 0; i < before && i < 64; i++)
		CHECK_MSG(!sec_pid_alive(procs[i]), "sandbox process %d survived its host",
			  (int)procs[i]);
	close(p[0]);

	/* The dead host's cgroups go with the next context's stale sweep. */
	fprintf(stderr, "cgroup dirs of the dead host: %d\n",
		count_cgroups_of("/sys/fs/cgroup", host, 0));
	petri_ctx *ctx = NULL;
	REQUIRE(petri_ctx_new(&ctx, NULL, NULL) == 0);
	CHECK_MSG(count_cgroups_of("/sys/fs/cgroup", host, 0) == 0,
		  "cgroup directories petri-%d-* of the dead host remain", (int)host);
	petri_ctx_free(ctx);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(host_kill),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
