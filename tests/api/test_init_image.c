/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_init_image - a sandbox's init starts from the library's own small
 * executable, not as a copy of the host (sandbox.c, init_main.c).  With
 * 256 MiB touched in the host: init's executable is the sealed memfd, it
 * maps neither libpetri.so nor the host's memory (and so neither does the
 * reaper it forks for the next exec), it holds no ambient or inheritable
 * capabilities, its command line is its own, and code runs.  Then the
 * fallback, PETRI_INIT=fork: init is the host's copy (which the same
 * checks must tell apart) and code still runs.  In both, a bare command
 * name is searched for in the PATH the exec passes (not init's), and a
 * script without "#!" runs through /bin/sh, as execvp does.
 */
#include "api_common.h"

#define HOST_BYTES (256u << 20)

/* The value of "Key:" in /proc/PID/status in @base, or -1. */
static long status_field(int pid, const char *key, int base)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long v = -1;
	size_t n = strlen(key);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, n) == 0 && line[n] == ':') {
			v = strtol(line + n + 1, NULL, base);
			break;
		}
	fclose(f);
	return v;
}

static int maps_mention(int pid, const char *what)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	int found = 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, what))
			found = 1;
	fclose(f);
	return found;
}

/* init's ready reaper: its child named petri-exec (init has other children
 * for a moment: the helper that makes its network namespace), or -1. */
static int reaper_of(int pid)
{
	int reaper = -1;
	for (int tries = 0; tries < 200; tries++) {
		if (api_children(pid, "petri-exec", &reaper, NULL) > 0)
			return reaper;
		usleep(10000);
	}
	return -1;
}

static void check_runs(petri_sandbox *sb)
{
	petri_result *res =
		API_SH(sb, "echo ran; cat /proc/self/oom_score_adj /proc/1/oom_score_adj");
	CHECK(petri_result_reason(res) == PETRI_REASON_EXITED);
	/* The code, not its reaper (pid 1 here), is the OOM killer's choice. */
	CHECK_MSG(api_out_is(res, PETRI_STREAM_STDOUT, "ran\n1000\n0\n"), "got '%s'",
		  api_out_str(res, PETRI_STREAM_STDOUT));
	petri_result_free(res);

	static const char script[] = "echo found \"$@\"\n"; /* no #! line */
	petri_error *e = NULL;
	CHECK(petri_sandbox_write_file(sb, "bin/petri-probe", script, sizeof(script) - 1, 0755,
				       &e) == 0);
	petri_error_free(e);
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.argv = (const char *const[]){"petri-probe", "a b", NULL};
	o.env = (const char *const[]){"PATH=/nonexistent:/workspace/bin:/usr/bin:/bin", NULL};
	o.timeout_ms = 30000;
	res = API_EXEC(sb, &o);
	CHECK_MSG(petri_result_reason(res) == PETRI_REASON_EXITED &&
			  petri_result_exit_code(res) == 0 &&
			  api_out_is(res, PETRI_STREAM_STDOUT, "found a b\n"),
		  "PATH search: reason %d exit %d", petri_result_reason(res),
		  petri_result_exit_code(res));
	petri_result_free(res);
	/* Not on the default PATH: the exec fails with ENOENT. */
	o.env = NULL;
	res = NULL;
	int r = petri_sandbox_exec(sb, &o, &res, &e);
	CHECK_MSG(r == -ENOENT, "exec of a command off PATH: %d", r);
	petri_result_free(res);
	petri_error_free(e);
}

static unsigned long netns_of(int pid)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	return stat(path, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

/* Network namespaces: every sandbox gets its own, never the host's, and a
 * host-network sandbox made between them gets the host's. */
static void test_netns(void)
{
	unsigned long host = netns_of(getpid());
	REQUIRE(host != 0);
	petri_sandbox *a = api_sandbox(NULL), *b = api_sandbox(NULL);
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.net = PETRI_NET_HOST;
	petri_sandbox *h = api_sandbox(&so), *c = api_sandbox(NULL);
	unsigned long na = netns_of(petri_sandbox_init_pid(a)),
		      nb = netns_of(petri_sandbox_init_pid(b));
	unsigned long nh = netns_of(petri_sandbox_init_pid(h)),
		      nc = netns_of(petri_sandbox_init_pid(c));
	CHECK(na && nb && nc && na != host && nb != host && nc != host);
	CHECK(na != nb && nb != nc && na != nc);
	CHECK_MSG(nh == host, "host-network sandbox in netns %lu, host's is %lu", nh, host);
	/* lo is up. */
	petri_result *res = API_SH(c,
				   "exec /usr/bin/python3 -c 'import socket; s = socket.socket(); "
				   "s.bind((\"127.0.0.1\", 0)); s.listen(); "
				   "socket.create_connection(s.getsockname(), timeout=5)'");
	CHECK_MSG(petri_result_exit_code(res) == 0, "loopback connect inside: exit %d",
		  petri_result_exit_code(res));
	petri_result_free(res);
	petri_sandbox_destroy(a);
	petri_sandbox_destroy(b);
	petri_sandbox_destroy(h);
	petri_sandbox_destroy(c);
}

/* init is the library's image: memfd, small, no libpetri, no host memory. */
static void test_image(void)
{
	petri_sandbox *sb = api_sandbox(NULL);
	int init = petri_sandbox_init_pid(sb);
	REQUIRE(init > 0);
	char exe[PATH_MAX] = "";
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/exe", init);
	CHECK(readlink(path, exe, sizeof(exe) - 1) > 0);
	CHECK_MSG(strncmp(exe, "/memfd:petri-init", 17) == 0, "init's exe is %s", exe);
	CHECK_MSG(maps_mention(init, "libpetri") == 0, "init maps libpetri.so");
	long size_kib = status_field(init, "VmSize", 10);
	CHECK_MSG(size_kib > 0 && size_kib < 64 * 1024, "init's VmSize is %ld kB", size_kib);
	CHECK(status_field(init, "CapAmb", 16) == 0);
	CHECK(status_field(init, "CapInh", 16) == 0);

	char cmdline[128] = "";
	snprintf(path, sizeof(path), "/proc/%d/cmdline", init);
	FILE *f = fopen(path, "re");
	REQUIRE(f);
	size_t n = fread(cmdline, 1, sizeof(cmdline) - 1, f);
	fclose(f);
	CHECK_MSG(n > 11 && strcmp(cmdline, "petri-init") == 0, "init's argv[0] is '%s'", cmdline);

	int reaper = reaper_of(init);
	CHECK(reaper > 0);
	if (reaper > 0) {
		long rs = status_field(reaper, "VmSize", 10);
		CHECK_MSG(rs > 0 && rs < 64 * 1024, "the reaper's VmSize is %ld kB", rs);
	}
	check_runs(sb);
	petri_sandbox_destroy(sb);
}

/* The fallback: init forked from the host. */
static void test_fork_fallback(void)
{
	REQUIRE(setenv("PETRI_INIT", "fork", 1) == 0);
	int fds = petri_test_count_fds();
	petri_ctx *ctx = NULL;
	petri_error *e = NULL;
	REQUIRE(petri_ctx_new(&ctx, NULL, &e) == 0);
	petri_sandbox *fsb = NULL;
	REQUIRE(petri_sandbox_create(ctx, NULL, &fsb, &e) == 0);
	int init = petri_sandbox_init_pid(fsb);
	REQUIRE(init > 0);
	char self[PATH_MAX] = "";
	CHECK(readlink("/proc/self/exe", self, sizeof(self) - 1) > 0);
	char exe[PATH_MAX] = "", path[64];
	snprintf(path, sizeof(path), "/proc/%d/exe", init);
	CHECK(readlink(path, exe, sizeof(exe) - 1) > 0);
	CHECK_MSG(strcmp(exe, self) == 0, "forked init's exe is %s", exe);
	CHECK(maps_mention(init, "libpetri") == 1);
	long size_kib = status_field(init, "VmSize", 10);
	CHECK_MSG(size_kib > (long)(HOST_BYTES >> 10), "forked init's VmSize is %ld kB", size_kib);
	check_runs(fsb);
	petri_sandbox_destroy(fsb);
	petri_ctx_free(ctx);
	CHECK_MSG(petri_test_count_fds() == fds, "a context left fds open: %d -> %d", fds,
		  petri_test_count_fds());
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(image),
	PETRI_TEST_CASE(netns),
	PETRI_TEST_CASE(fork_fallback),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	/* 256 MiB touched in the host (every case, a fork, inherits it). */
	char *host =
		mmap(NULL, HOST_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(host != MAP_FAILED);
	memset(host, 0x5a, HOST_BYTES);
	int rc = petri_test_main(argc, argv, cases);
	munmap(host, HOST_BYTES);
	return rc;
}
