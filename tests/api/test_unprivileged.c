/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_unprivileged - the library works for an ordinary user, not only for
 * root (DESIGN.md "Run as root or not").  As root, the test makes sure the
 * system user petri-test-user exists, then runs itself again (execve, so the
 * child starts like any program that user would run: dumpable, no
 * capabilities, libpetri loaded fresh) as that user with no supplementary
 * groups.  The child then checks, one case each:
 *  - petri_ctx_new, create, exec and destroy succeed;
 *  - the code runs as uid 1000 inside, and the sandbox's processes run as
 *    the caller's own uid on the host;
 *  - only uid/gid 1000 is mapped: setuid(65534) and chown to 0 fail with
 *    EINVAL (no such id inside), setgroups with EPERM; /etc/passwd names
 *    sandbox and nobody only;
 *  - python runs; the wall timeout still works; write_file/read_file
 *    round-trip;
 *  - the cgroup mode is reported consistently: PETRI_CTX_F_REQUIRE_CGROUPS
 *    fails with -EPERM exactly when the mode is PETRI_CGROUP_NONE.
 * Run directly as a non-root user, it runs the child checks only.
 */
#include <grp.h>
#include <pwd.h>
#include <sys/wait.h>

#include "api_common.h"

#define USER "petri-test-user"

static int host_uid_of(int pid)
{
	return (int)petri_test_status_field(pid, "Uid");
}

/* A context and a python sandbox of an ordinary user (the case cannot go
 * on without them). */
static petri_sandbox *user_sandbox(petri_ctx **ctx)
{
	petri_error *e = NULL;
	int r = petri_ctx_new(ctx, NULL, &e);
	if (r < 0)
		fprintf(stderr, "petri_ctx_new as an ordinary user: %s\n", petri_error_message(e));
	REQUIRE(r == 0);
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = "python";
	petri_sandbox *sb = NULL;
	r = petri_sandbox_create(*ctx, &so, &sb, &e);
	if (r < 0)
		fprintf(stderr, "petri_sandbox_create as an ordinary user: %s\n",
			petri_error_message(e));
	REQUIRE(r == 0);
	return sb;
}

/* PETRI_CTX_F_REQUIRE_CGROUPS agrees with the cgroup mode. */
static void test_require_cgroups(void)
{
	petri_ctx_opts co = PETRI_CTX_OPTS_INIT;
	petri_ctx *ctx = NULL;
	petri_error *e = NULL;
	int r = petri_ctx_new(&ctx, &co, &e);
	if (r < 0)
		fprintf(stderr, "petri_ctx_new as an ordinary user: %s\n", petri_error_message(e));
	REQUIRE(r == 0);
	int mode = petri_ctx_cgroup_mode(ctx);
	fprintf(stderr, "cgroup mode as an ordinary user: %d\n", mode);

	petri_ctx *strict = NULL;
	co.flags = PETRI_CTX_F_REQUIRE_CGROUPS;
	petri_error *e2 = NULL;
	r = petri_ctx_new(&strict, &co, &e2);
	if (mode == PETRI_CGROUP_NONE)
		api_check_error(r, e2, EPERM, "cgroup", "REQUIRE_CGROUPS without cgroups",
				__LINE__);
	else
		CHECK_MSG(r == 0, "REQUIRE_CGROUPS refused with mode %d: %s", mode,
			  petri_error_message(e2));
	petri_error_free(e2);
	petri_ctx_free(strict);
	petri_ctx_free(ctx);
}

/* The sandbox's processes run as the caller on the host, as 1000 inside,
 * and destroy ends them. */
static void test_runs_as_caller(void)
{
	petri_ctx *ctx = NULL;
	petri_sandbox *sb = user_sandbox(&ctx);
	int init = petri_sandbox_init_pid(sb);
	CHECK_MSG(host_uid_of(init) == (int)getuid(), "sandbox init runs as host uid %d, caller %d",
		  host_uid_of(init), (int)getuid());

	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.argv = (const char *const[]){"id", "-u", NULL};
	o.timeout_ms = 10000;
	petri_result *res = NULL;
	petri_error *e = NULL;
	int r = petri_sandbox_exec(sb, &o, &res, &e);
	CHECK_MSG(r == 0, "exec id -u: %s", petri_error_message(e));
	if (r == 0) {
		CHECK_OUT(res, PETRI_STREAM_STDOUT, "1000\n");
		petri_result_free(res);
	}
	petri_error_free(e);
	petri_sandbox_destroy(sb);
	CHECK_MSG(kill(init, 0) < 0, "sandbox init %d survived destroy", init);
	petri_ctx_free(ctx);
}

static void test_python(void)
{
	petri_ctx *ctx = NULL;
	petri_sandbox *sb = user_sandbox(&ctx);
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.code = "import os\nprint('hello', os.getuid())\n";
	o.timeout_ms = 20000;
	petri_result *res = NULL;
	petri_error *e = NULL;
	int r = petri_sandbox_exec(sb, &o, &res, &e);
	CHECK_MSG(r == 0, "exec python: %s", petri_error_message(e));
	if (r == 0) {
		CHECK_OUT(res, PETRI_STREAM_STDOUT, "hello 1000\n");
		CHECK(petri_result_reason(res) == PETRI_REASON_EXITED);
		petri_result_free(res);
	}
	petri_error_free(e);
	petri_sandbox_destroy(sb);
	petri_ctx_free(ctx);
}

static void test_ids(void)
{
	petri_ctx *ctx = NULL;
	petri_sandbox *sb = user_sandbox(&ctx);
	/* One id only (an unprivileged host may map its own uid alone): other
	 * ids do not exist inside, so changing to one fails with EINVAL, not
	 * the EPERM of a root host's full range; setgroups is denied (EPERM);
	 * /etc/passwd names sandbox and the overflow id nobody, not root. */
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.code = "import errno, os, pwd\n"
		 "def err(f):\n"
		 "    try:\n"
		 "        f()\n"
		 "        return 'OK'\n"
		 "    except OSError as e:\n"
		 "        return errno.errorcode[e.errno]\n"
		 "open('/tmp/f', 'w').close()\n"
		 "print(' '.join(open('/proc/self/uid_map').read().split()),\n"
		 "      err(lambda: os.setuid(65534)), err(lambda: os.setgroups([])),\n"
		 "      err(lambda: os.chown('/tmp/f', 0, -1)),\n"
		 "      ','.join(sorted(p.pw_name for p in pwd.getpwall())))\n";
	o.timeout_ms = 20000;
	petri_result *res = NULL;
	petri_error *e = NULL;
	int r = petri_sandbox_exec(sb, &o, &res, &e);
	CHECK_MSG(r == 0, "exec python ids: %s", petri_error_message(e));
	if (r == 0) {
		char want[128];
		snprintf(want, sizeof(want), "1000 %d 1 EINVAL EPERM EINVAL nobody,sandbox\n",
			 (int)getuid());
		CHECK_OUT(res, PETRI_STREAM_STDOUT, want);
		petri_result_free(res);
	}

	petri_error_free(e);
	petri_sandbox_destroy(sb);
	petri_ctx_free(ctx);
}

static void test_timeout(void)
{
	petri_ctx *ctx = NULL;
	petri_sandbox *sb = user_sandbox(&ctx);
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.argv = (const char *const[]){"sleep", "30", NULL};
	o.timeout_ms = 500;
	petri_result *res = NULL;
	petri_error *e = NULL;
	int r = petri_sandbox_exec(sb, &o, &res, &e);
	CHECK_MSG(r == 0, "exec sleep: %s", petri_error_message(e));
	if (r == 0) {
		CHECK_MSG(petri_result_reason(res) == PETRI_REASON_TIMEOUT, "sleep 30: %s",
			  petri_reason_name(petri_result_reason(res)));
		CHECK(petri_result_wall_ns(res) < 3000000000ull);
		petri_result_free(res);
	}
	petri_error_free(e);
	petri_sandbox_destroy(sb);
	petri_ctx_free(ctx);
}

static void test_files(void)
{
	petri_ctx *ctx = NULL;
	petri_sandbox *sb = user_sandbox(&ctx);
	petri_error *e = NULL;
	int r = petri_sandbox_write_file(sb, "dir/in.bin", "a\0b", 3, 0600, &e);
	CHECK_MSG(r == 0, "write_file: %s", petri_error_message(e));
	petri_error_free(e);
	e = NULL;
	void *data = NULL;
	size_t len = 0;
	r = petri_sandbox_read_file(sb, "dir/in.bin", 0, &data, &len, &e);
	CHECK_MSG(r == 0 && len == 3 && memcmp(data, "a\0b", 3) == 0, "read_file: %s",
		  petri_error_message(e));
	petri_free(data);
	petri_error_free(e);
	petri_sandbox_destroy(sb);
	petri_ctx_free(ctx);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(require_cgroups),
	PETRI_TEST_CASE(runs_as_caller),
	PETRI_TEST_CASE(python),
	PETRI_TEST_CASE(timeout),
	PETRI_TEST_CASE(files),
	PETRI_TEST_CASE(ids),
	{NULL, NULL},
};

/* The cases, as the ordinary user this process is. */
static int child_main(int argc, char **argv)
{
	fprintf(stderr, "child: uid %d gid %d euid %d\n", (int)getuid(), (int)getgid(),
		(int)geteuid());
	REQUIRE(geteuid() != 0);
	return petri_test_main(argc, argv, cases);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--child") == 0) {
		argv[1] = argv[0]; /* the cases named after --child */
		return child_main(argc - 1, argv + 1);
	}
	if (geteuid() != 0)
		return child_main(argc, argv);
	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-') /* --list, --help: nothing to run */
			return petri_test_main(argc, argv, cases);
	struct passwd *pw = getpwnam(USER);
	if (!pw) {
		int st = system("useradd --system --no-create-home --home-dir /nonexistent "
				"--shell /usr/sbin/nologin " USER " >/dev/null 2>&1");
		pw = getpwnam(USER);
		if (!pw) {
			fprintf(stderr, "useradd " USER " failed (status %d)\n", st);
			return 1;
		}
	}
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	REQUIRE(uid != 0);

	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0) {
			perror("drop to " USER);
			_exit(1);
		}
		/* From a directory anyone may enter. */
		if (chdir("/") < 0)
			_exit(1);
		char **cargv = calloc((size_t)argc + 2, sizeof(char *));
		if (!cargv)
			_exit(1);
		cargv[0] = argv[0];
		cargv[1] = "--child";
		for (int i = 1; i < argc; i++)
			cargv[i + 1] = argv[i];
		execv("/proc/self/exe", cargv);
		perror("re-exec as " USER);
		_exit(1);
	}
	int st;
	REQUIRE(waitpid(pid, &st, 0) == pid);
	/* Its exit status is the cases' (0, 1 or 77). */
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	fprintf(stderr, "child as %s: killed by signal %d\n", USER, WTERMSIG(st));
	return 1;
}
