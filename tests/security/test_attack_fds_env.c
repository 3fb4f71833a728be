/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_attack_fds_env - nothing of the host process reaches the code: no fd
 * but 0, 1 and 2, no environment variable but the documented defaults and
 * what the caller passed, not the host's argv, not its hostname, no device
 * but null zero full random urandom tty (+ pts, shm and the fd links), no
 * /sys.
 *
 * The test re-executes itself with a secret in its argv and puts another
 * one in its environment (HOST_SECRET) and in a file it holds open (with and
 * without O_CLOEXEC), before the context and the sandbox exist.  Then:
 *  - attacks/probe.c `fds` lists the fds execve left it: exactly 0,1,2;
 *  - probe `env` prints its environment: only the expected keys, with the
 *    sandbox's and the exec's own variables;
 *  - attacks/fds_env.py reports hostname, /dev, /sys, and dumps every
 *    cmdline and environ it can read in /proc;
 * and no secret may appear anywhere in what the code printed.
 */
#include "sec_util.h"

#include <fcntl.h>
#include <unistd.h>

#define ARGV_SECRET "--petri-argv-secret=argv-7f3a91c2"
#define ENV_SECRET "petri-env-secret-4be18d07"
#define FILE_SECRET "petri-file-secret-90c2e6ab"

static const char *const expected_keys =
	"PATH,HOME,LANG,TMPDIR,USER,LOGNAME,SHELL,PYTHONDONTWRITEBYTECODE,GOCACHE,GOPATH,GOPROXY,"
	"GOTOOLCHAIN,GOFLAGS,SB_PASSED,EXEC_PASSED";

static void no_secrets(const struct petri_test_run *r, const char *what)
{
	static const char *const secrets[] = {"argv-7f3a91c2", ENV_SECRET, FILE_SECRET,
					      "HOST_SECRET"};
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		CHECK_MSG(!strstr(r->out, secrets[i]) && !strstr(r->err, secrets[i]),
			  "%s: the code saw the host's %s", what, secrets[i]);
	}
}

/* The sandbox (python, SB_PASSED in its env) with the probe installed,
 * made after the host's secrets are in place (main()). */
static petri_sandbox *probe_sandbox(void)
{
	const char *sb_env[] = {"SB_PASSED=sandbox", NULL};
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = "python";
	so.env = sb_env;
	petri_sandbox *sb = sec_sandbox(&so);
	sec_install_binary(sb, SEC_PROBE_BIN, "probe");
	return sb;
}

static void test_probe_fds(void)
{
	petri_sandbox *sb = probe_sandbox();
	/* fds as execve left them. */
	const char *fds_argv[] = {"/workspace/probe", "fds", NULL};
	struct sec_exec x = {.argv = fds_argv, .timeout_ms = 20000};
	struct petri_test_run r = sec_exec(sb, &x);
	CHECK(r.rc == 0 && r.exit_code == 0);
	sec_expect(&r, "fds", "LIST 0,1,2");
	no_secrets(&r, "probe fds");
	if (petri_test_failures)
		sec_dump("probe fds", &r);
	petri_test_run_free(&r);
	petri_sandbox_destroy(sb);
}

static void test_probe_env(void)
{
	petri_sandbox *sb = probe_sandbox();
	/* The environment. */
	const char *env_argv[] = {"/workspace/probe", "env", NULL};
	const char *exec_env[] = {"EXEC_PASSED=exec", NULL};
	struct sec_exec xe = {.argv = env_argv, .env = exec_env, .timeout_ms = 20000};
	struct petri_test_run r = sec_exec(sb, &xe);
	CHECK(r.rc == 0 && r.exit_code == 0);
	char keys[4096] = "";
	size_t kn = 0;
	for (const char *l = r.out; *l;) {
		const char *end = strchrnul(l, '\n');
		if (strncmp(l, "ENV ", 4) == 0) {
			const char *eq = memchr(l + 4, '=', (size_t)(end - l - 4));
			size_t klen = eq ? (size_t)(eq - l - 4) : (size_t)(end - l - 4);
			kn += (size_t)snprintf(keys + kn, sizeof(keys) - kn, "%s%.*s",
					       kn ? "," : "", (int)klen, l + 4);
		}
		l = *end ? end + 1 : end;
	}
	/* Reuse the LIST checker on the keys we collected. */
	char *listed = NULL;
	if (asprintf(&listed, "CHECK env_keys LIST %s\n", keys) > 0) {
		struct petri_test_run k = {.out = listed, .err = (char *)""};
		sec_expect_list(&k, "env_keys", expected_keys,
				"PATH,HOME,LANG,TMPDIR,SB_PASSED,EXEC_PASSED");
	}
	free(listed);
	CHECK(strstr(r.out, "ENV SB_PASSED=sandbox\n") != NULL);
	CHECK(strstr(r.out, "ENV EXEC_PASSED=exec\n") != NULL);
	CHECK(strstr(r.out, "ENV HOME=/home/sandbox\n") != NULL);
	CHECK(strstr(r.out, "ENV TMPDIR=/tmp\n") != NULL);
	no_secrets(&r, "probe env");
	if (petri_test_failures)
		sec_dump("probe env", &r);
	petri_test_run_free(&r);
	petri_sandbox_destroy(sb);
}

static void test_fds_env_py(void)
{
	petri_sandbox *sb = probe_sandbox();
	/* Hostname, devices, /sys, and everything readable in /proc. */
	struct petri_test_run r = sec_exec_attack(sb, "fds_env.py", NULL, 30000);
	CHECK_MSG(r.rc == 0 && r.reason == PETRI_REASON_EXITED && r.exit_code == 0,
		  "fds_env.py did not run to completion");
	sec_expect_no_escape(&r);
	static const char *const names[] = {"hostname", "uname_nodename", "proc_hostname",
					    "etc_hostname"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		sec_expect(&r, names[i], "NAME petri");
	sec_expect_list(&r, "dev",
			"null,zero,full,random,urandom,tty,pts,shm,fd,stdin,stdout,stderr,ptmx",
			"null,zero,full,random,urandom,tty,pts,shm");
	sec_expect_list(&r, "dev_pts", "ptmx", "");
	sec_expect(&r, "write_dev_null", "OK");
	sec_expect(&r, "read_dev_zero", "OK");
	sec_expect(&r, "read_dev_urandom", "OK");
	sec_expect(&r, "write_dev_full", "BLOCKED ENOSPC");
	static const char *const absent[] = {"dev_mem",   "dev_kmem", "dev_port",    "dev_sda",
					     "dev_vda",   "dev_kmsg", "dev_console", "dev_tty0",
					     "dev_vsock", "dev_kvm"};
	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
		sec_expect(&r, absent[i], "ABSENT");
	sec_expect(&r, "sys", "ABSENT|EMPTY");
	sec_expect(&r, "dev_tty_open", "BLOCKED ENXIO");
	/* python's own fds: 0, 1, 2 and the one listing /proc/self/fd */
	sec_expect(&r, "own_fds", "LIST 0,1,2,3");
	no_secrets(&r, "fds_env.py");
	if (petri_test_failures)
		sec_dump("fds_env.py", &r);
	petri_test_run_free(&r);
	petri_sandbox_destroy(sb);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(probe_fds),
	PETRI_TEST_CASE(probe_env),
	PETRI_TEST_CASE(fds_env_py),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], ARGV_SECRET) != 0) {
		/* Again, with a secret on the command line (as hosts that take
		 * API keys as flags have), before the case names. */
		char **args = calloc((size_t)argc + 2, sizeof(char *));
		REQUIRE(args);
		args[0] = argv[0];
		args[1] = (char *)ARGV_SECRET;
		for (int i = 1; i < argc; i++)
			args[i + 1] = argv[i];
		execv("/proc/self/exe", args);
		perror("re-exec");
		return 1;
	}
	setenv("HOST_SECRET", ENV_SECRET, 1);
	char path[] = "/tmp/petri-sec-fdsecret-XXXXXX";
	int fd = mkstemp(path); /* not O_CLOEXEC */
	REQUIRE(fd >= 0 && write(fd, FILE_SECRET "\n", strlen(FILE_SECRET) + 1) > 0);
	int fd2 = open(path, O_RDONLY | O_CLOEXEC);
	REQUIRE(fd2 >= 0);

	argv[1] = argv[0]; /* the secret stays in /proc/self/cmdline */
	int rc = petri_test_main(argc - 1, argv + 1, cases);
	close(fd);
	close(fd2);
	unlink(path);
	return rc;
}
