/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_host_death - "a host process that dies must take its sandboxes with
 * it" (DESIGN.md "Process model").  A forked host process creates a context
 * and a sandbox and runs `sleep 1000` in it; this test then SIGKILLs the
 * host (no destroy runs) and checks that within 2 s the sandbox's init and
 * every process below it (the exec's reaper and the sleep) are gone, and no
 * process is left in the sandbox's pid namespaces; then that the host's cgroup
 * directories (petri-<hostpid>-*) are removed by the stale sweep of the next
 * petri_ctx_new.
 * Two cases, each with a host of its own: the processes go, and the
 * cgroups are swept.
 * This process is a child subreaper while it runs, so the orphans are
 * reparented to it and "gone" means reaped, not a zombie someone else owes.
 */
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "api_common.h"

#define MAX_PIDS 64

struct report {
	int init_pid;
	int started;
};

static int out_fd;

static int on_output(int stream, const char *data, size_t len, void *ud)
{
	(void)stream;
	(void)ud;
	if (memmem(data, len, "started", 7)) {
		struct report rep = {0, 1};
		if (write(out_fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
			_exit(3);
	}
	return 0;
}

static _Noreturn void host_main(int fd)
{
	out_fd = fd;
	petri_sandbox *sb = api_sandbox(NULL);
	struct report rep = {petri_sandbox_init_pid(sb), 0};
	if (write(fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
		_exit(3);
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.argv = (const char *const[]){"/bin/sh", "-c", "echo started; exec sleep 1000", NULL};
	o.timeout_ms = 1000000;
	o.on_output = on_output;
	petri_result *r = API_EXEC(sb, &o);
	petri_result_free(r);
	_exit(4); /* never: we get SIGKILLed first */
}

/* @pid and every descendant (through /proc/PID/task/TID/children). */
static int collect_tree(int pid, int *pids, int n)
{
	if (n >= MAX_PIDS)
		return n;
	pids[n++] = pid;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return n;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char cp[128];
		snprintf(cp, sizeof(cp), "/proc/%d/task/%s/children", pid, e->d_name);
		FILE *f = fopen(cp, "re");
		if (!f)
			continue;
		int c;
		while (fscanf(f, "%d", &c) == 1)
			n = collect_tree(c, pids, n);
		fclose(f);
	}
	closedir(d);
	return n;
}

static long long status_uid(int pid)
{
	return petri_test_status_field(pid, "Uid");
}

/* The pid namespace a process is in ("pid:[4026532xyz]"), or "" if gone. */
static void pid_ns(int pid, char *buf, size_t len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", pid);
	ssize_t n = readlink(path, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
}

/* Processes (any state) in one of the @n pid namespaces @ns. */
static int count_ns_processes(char ns[][64], int n)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int count = 0;
	REQUIRE(d);
	while ((e = readdir(d))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		char mine[64];
		pid_ns(atoi(e->d_name), mine, sizeof(mine));
		for (int i = 0; i < n && mine[0]; i++)
			if (strcmp(mine, ns[i]) == 0) {
				fprintf(stderr, "process %s is still in sandbox pid namespace %s\n",
					e->d_name, mine);
				count++;
				break;
			}
	}
	closedir(d);
	return count;
}

static int read_report(int fd, struct report *rep, int timeout_ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	return read(fd, rep, sizeof(*rep)) == (ssize_t)sizeof(*rep) ? 0 : -1;
}

/* A forked host creates a sandbox, runs `sleep 1000` in it and is
 * SIGKILLed; wait (up to 2 s) for the sandbox's processes to go.  With
 * @check, CHECK that they all went.  Returns the dead host's pid. */
static pid_t host_dies(int check)
{
	REQUIRE(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0);
	int p[2];
	REQUIRE(pipe(p) == 0);
	pid_t host = fork();
	REQUIRE(host >= 0);
	if (host == 0) {
		close(p[0]);
		host_main(p[1]);
	}
	close(p[1]);

	struct report rep;
	REQUIRE(read_report(p[0], &rep, 15000) == 0 && rep.init_pid > 0);
	int init = rep.init_pid;
	REQUIRE(read_report(p[0], &rep, 15000) == 0 && rep.started);

	int pids[MAX_PIDS];
	int n = collect_tree(init, pids, 0);
	long long uid = status_uid(init);
	char ns[MAX_PIDS][64];
	int nns = 0;
	for (int i = 0; i < n; i++) {
		char cur[64];
		pid_ns(pids[i], cur, sizeof(cur));
		int seen = !cur[0];
		for (int j = 0; j < nns; j++)
			seen |= strcmp(ns[j], cur) == 0;
		if (!seen)
			snprintf(ns[nns++], sizeof(ns[0]), "%s", cur);
	}
	CHECK_MSG(nns >= 2, "expected the sandbox's and the exec's pid namespaces, found %d", nns);
	fprintf(stderr, "host %d, sandbox init %d (host uid %lld), %d processes in the tree\n",
		(int)host, init, uid, n);
	CHECK_MSG(n >= 3, "expected init, the exec's reaper and sleep; found %d processes", n);
	int pidfds[MAX_PIDS];
	for (int i = 0; i < n; i++)
		pidfds[i] = (int)syscall(SYS_pidfd_open, pids[i], 0);
	int cg_before = api_count_cgroups_of((int)host);
	fprintf(stderr, "cgroup dirs of host %d before its death: %d\n", (int)host, cg_before);

	/* The host dies without a chance to clean up. */
	double t0 = api_now_s();
	REQUIRE(kill(host, SIGKILL) == 0);
	int st;
	REQUIRE(waitpid(host, &st, 0) == host);

	int alive = n;
	while (api_now_s() - t0 < 2.0) {
		while (waitpid(-1, &st, WNOHANG) > 0)
			; /* orphans reparented to us */
		alive = 0;
		for (int i = 0; i < n; i++) {
			struct pollfd pp = {pidfds[i], POLLIN, 0};
			char path[64];
			snprintf(path, sizeof(path), "/proc/%d", pids[i]);
			int exited = pidfds[i] < 0 || poll(&pp, 1, 0) == 1;
			if (!exited || access(path, F_OK) == 0)
				alive++;
		}
		if (alive == 0)
			break;
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "sandbox processes gone after %.3f s\n", api_now_s() - t0);
	if (!check) {
		for (int i = 0; i < n; i++)
			if (pidfds[i] >= 0)
				close(pidfds[i]);
		return host;
	}
	CHECK_MSG(alive == 0, "%d sandbox process(es) still there 2 s after the host died", alive);
	for (int i = 0; i < n; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d", pids[i]);
		CHECK_MSG(access(path, F_OK) < 0, "process %d of the sandbox remains", pids[i]);
		if (pidfds[i] >= 0)
			close(pidfds[i]);
	}
	CHECK(count_ns_processes(ns, nns) == 0);

	return host;
}

static void test_sandbox_dies_with_host(void)
{
	host_dies(1);
}

static void test_stale_cgroups_swept(void)
{
	pid_t host = host_dies(0);
	/* The next context's stale sweep removes what the dead host left. */
	petri_test_ctx();
	int cg_after = api_count_cgroups_of((int)host);
	fprintf(stderr, "cgroup dirs of host %d after a new context: %d\n", (int)host, cg_after);
	CHECK_MSG(cg_after == 0, "%d cgroup dir(s) petri-%d-* remain", cg_after, (int)host);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(sandbox_dies_with_host),
	PETRI_TEST_CASE(stale_cgroups_swept),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
