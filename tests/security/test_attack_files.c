/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_attack_files - code in a sandbox cannot turn the host's file API
 * (petri_sandbox_read_file / petri_sandbox_write_file) against the host.
 *
 * attacks/files_plant.sh leaves FIFOs, absolute and relative symlinks to
 * /etc/shadow, symlinks to a host file and a host directory (by their host
 * paths), a /proc/self/root magic link and a ".." symlink in /workspace.
 * The host then calls read_file / write_file on each, in a child process
 * with a deadline: every call must fail promptly (a FIFO must not hang the
 * host), none may return /etc/shadow or the host file, and the host file
 * and directory must be unchanged.  A plain file still works both ways.
 * attacks/lease.py holds a write lease on a workspace file meanwhile: the
 * host's read and write of that file must not wait for it.
 *
 * (Files the code leaves in a host workspace_dir: test_attack_workspace_dir.)
 */
#include "sec_util.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum api_outcome {
	REFUSED = 0,
	ACCEPTED = 1,
	LEAKED = 2,
	HUNG = 3,
	CRASHED = 4
};

static const char *outcome_name(int o)
{
	static const char *const n[] = {"refused", "accepted", "leaked host data", "hung",
					"crashed"};
	return o >= 0 && o <= 4 ? n[o] : "?";
}

/* Run one file-API call in a child with a 5 s deadline. */
static int api_call(petri_sandbox *sb, int write, const char *path, const char *leak_marker)
{
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		petri_error *e = NULL;
		int r;
		if (write) {
			r = petri_sandbox_write_file(sb, path, "pwned\n", 6, 0644, &e);
			_exit(r < 0 ? REFUSED : ACCEPTED);
		}
		void *data = NULL;
		size_t len = 0;
		r = petri_sandbox_read_file(sb, path, 0, &data, &len, &e);
		if (r < 0)
			_exit(REFUSED);
		_exit(leak_marker && memmem(data, len, leak_marker, strlen(leak_marker)) ?
			      LEAKED :
			      ACCEPTED);
	}
	uint64_t deadline = sec_now_ms() + 5000;
	int st;
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		if (sec_now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return HUNG;
		}
		usleep(10000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : CRASHED;
}

#define EXPECT_API(sb, write, path, leak, want)                                                    \
	do {                                                                                       \
		int _o = api_call((sb), (write), (path), (leak));                                  \
		CHECK_MSG(_o == (want), "%s_file(\"%s\"): %s, want %s",                            \
			  (write) ? "write" : "read", (path), outcome_name(_o),                    \
			  outcome_name(want));                                                     \
	} while (0)

static void test_api_traps(void)
{
	char dir[] = "/tmp/petri-sec-files-XXXXXX";
	REQUIRE(mkdtemp(dir) != NULL);
	char host_file[4200], host_dir[4200], p[4300];
	snprintf(host_file, sizeof(host_file), "%s/host.txt", dir);
	snprintf(host_dir, sizeof(host_dir), "%s/hostdir", dir);
	int fd = open(host_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	REQUIRE(fd >= 0 && write(fd, "original host data\n", 19) == 19);
	close(fd);
	REQUIRE(mkdir(host_dir, 0755) == 0);

	petri_sandbox *sb = sec_sandbox(NULL);
	char e1[4300], e2[4300];
	snprintf(e1, sizeof(e1), "SEC_HOST_FILE=%s", host_file);
	snprintf(e2, sizeof(e2), "SEC_HOST_DIR=%s", host_dir);
	const char *env[] = {e1, e2, NULL};
	struct petri_test_run r = sec_exec_attack(sb, "files_plant.sh", env, 30000);
	CHECK(r.rc == 0 && r.exit_code == 0);
	sec_expect_no_escape(&r);
	static const char *const planted[] = {"plant_fifo",
					      "plant_abs_symlink",
					      "plant_rel_symlink",
					      "plant_host_file_symlink",
					      "plant_host_dir_symlink",
					      "plant_magic_link",
					      "plant_dotdot_link"};
	for (size_t i = 0; i < sizeof(planted) / sizeof(planted[0]); i++)
		sec_expect(&r, planted[i], "OK");
	if (petri_test_failures)
		sec_dump("files_plant.sh", &r);
	petri_test_run_free(&r);

	EXPECT_API(sb, 0, "fifo_read", NULL, REFUSED);
	EXPECT_API(sb, 1, "fifo_write", NULL, REFUSED);
	EXPECT_API(sb, 0, "leak_shadow", "root:", REFUSED);
	EXPECT_API(sb, 0, "leak_up", "root:", REFUSED);
	EXPECT_API(sb, 0, "/workspace/leak_shadow", "root:", REFUSED);
	EXPECT_API(sb, 0, "host_file", "original host data", REFUSED);
	EXPECT_API(sb, 1, "host_file", NULL, REFUSED);
	EXPECT_API(sb, 1, "host_dir/planted", NULL, REFUSED);
	EXPECT_API(sb, 0, "proc_root/etc/passwd", "root:", REFUSED);
	EXPECT_API(sb, 1, "sub/up/escaped", NULL, REFUSED);
	EXPECT_API(sb, 0, "../../etc/passwd", "root:", REFUSED);
	EXPECT_API(sb, 1, "sub/../../escaped", NULL, REFUSED);
	/* Control: ordinary files still go both ways. */
	EXPECT_API(sb, 1, "fine/ok.txt", NULL, ACCEPTED);
	EXPECT_API(sb, 0, "fine/ok.txt", "pwned", LEAKED /* = found what we wrote */);

	/* The host's file and directory are as they were. */
	char *data = sec_read_host_file(host_file, NULL);
	CHECK(data && strcmp(data, "original host data\n") == 0);
	free(data);
	snprintf(p, sizeof(p), "%s/planted", host_dir);
	CHECK_MSG(access(p, F_OK) < 0, "%s was created on the host", p);
	CHECK(access("/escaped", F_OK) < 0);
	petri_sandbox_destroy(sb);

	unlink(host_file);
	rmdir(host_dir);
	rmdir(dir);
}

/* A lease held by the code must not stall the host's file calls. */
struct lease_exec {
	petri_sandbox *sb;
	int ready;
	struct petri_test_run r;
};

static int on_lease_output(int stream, const char *data, size_t len, void *ud)
{
	struct lease_exec *l = ud;
	(void)stream;
	if (memmem(data, len, "READY", 5) && l->ready >= 0) {
		if (write(l->ready, "r", 1) != 1)
			return 1;
		close(l->ready);
		l->ready = -1;
	}
	return 0;
}

static void *lease_main(void *arg)
{
	struct lease_exec *l = arg;
	char *code = sec_attack_source("lease.py");
	struct sec_exec x = {.lang = "python",
			     .code = code,
			     .timeout_ms = 30000,
			     .on_output = on_lease_output,
			     .userdata = l};
	l->r = sec_exec(l->sb, &x);
	free(code);
	if (l->ready >= 0)
		close(l->ready);
	return NULL;
}

static void test_lease_trap(void)
{
	petri_sandbox *sb = sec_sandbox(NULL);
	int p[2];
	REQUIRE(pipe(p) == 0);
	struct lease_exec l = {.sb = sb, .ready = p[1]};
	pthread_t th;
	REQUIRE(pthread_create(&th, NULL, lease_main, &l) == 0);
	char c;
	int ready = read(p[0], &c, 1) == 1;
	close(p[0]);
	CHECK_MSG(ready, "lease.py never got ready");
	if (ready) {
		int w = api_call(sb, 1, "leased", NULL);
		CHECK_MSG(w != HUNG && w != CRASHED, "write_file on a leased file: %s",
			  outcome_name(w));
		int rd = api_call(sb, 0, "leased", NULL);
		CHECK_MSG(rd != HUNG && rd != CRASHED, "read_file on a leased file: %s",
			  outcome_name(rd));
	}
	petri_sandbox_cancel(sb);
	pthread_join(th, NULL);
	sec_expect(&l.r, "lease", "OK|BLOCKED");
	petri_test_run_free(&l.r);
	petri_sandbox_destroy(sb);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(api_traps),
	PETRI_TEST_CASE(lease_trap),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
