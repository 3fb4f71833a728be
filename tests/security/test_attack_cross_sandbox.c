/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_attack_cross_sandbox - one sandbox cannot reach another that runs at
 * the same time, even when both run as the same host uid.
 *
 * Two host processes with a context each and the default uid base.  (Their
 * sandboxes get disjoint host id ranges, claimed through a lock file --
 * test_attack_id_range proves that; where that file cannot be used they are
 * only hashed apart, and may share ids: the isolation below must not rest
 * on ids.)  In one, attacks/cross_victim.py puts a
 * secret in each of its tmpfs mounts and in System V shared memory, listens
 * on 127.0.0.1:47123 and on an abstract unix socket, and waits.  Meanwhile,
 * in the other, attacks/cross_attacker.py searches its own mounts for the
 * secret, attaches the shared memory key, connects to both servers and
 * signals every pid up to 4096.  Nothing may be found or reached, and the
 * victim must find its secrets intact and no connection accepted.
 * host_file_locks: a lock a sandbox takes on a host file it can read does
 * not reach the host's processes (nor, so, another sandbox).
 *
 * (The victim runs in a second process, not a second context of this one:
 * two contexts of one process name their cgroups alike and the second
 * context's first sandbox fails with EEXIST -- a library bug of its own.)
 */
#include "sec_util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

static int ready_fd = -1;

static int on_victim_output(int stream, const char *data, size_t len, void *ud)
{
	(void)ud;
	if (stream == PETRI_STREAM_STDOUT && memmem(data, len, "READY", 5) && ready_fd >= 0) {
		if (write(ready_fd, "r", 1) != 1)
			_exit(3);
		close(ready_fd);
		ready_fd = -1;
	}
	return 0;
}

/* In a forked host process (@who, for messages): a context of its own and a
 * sandbox of @lang in it; exits 2 if the context cannot be made. */
static petri_sandbox *forked_host_sandbox(const char *who, const char *lang, petri_ctx **ctx)
{
	petri_error *e = NULL;
	if (petri_ctx_new(ctx, NULL, &e) < 0) {
		fprintf(stderr, "%s: petri_ctx_new: %s\n", who, petri_error_message(e));
		_exit(2);
	}
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = lang;
	return sec_sandbox_in(*ctx, &so);
}

/* The victim's host: sends its sandbox's init pid, then "r" once the victim
 * is set up, then the victim's exit code and output. */
static _Noreturn void victim_host(int ready, int result)
{
	petri_ctx *ctx = NULL;
	petri_sandbox *sb = forked_host_sandbox("victim host", "python", &ctx);
	int init = petri_sandbox_init_pid(sb);
	if (write(ready, &init, sizeof(init)) != (ssize_t)sizeof(init))
		_exit(3);
	ready_fd = ready;
	char *code = sec_attack_source("cross_victim.py");
	const char *env[] = {"VICTIM_WAIT=4", NULL};
	struct sec_exec x = {.lang = "python",
			     .code = code,
			     .env = env,
			     .timeout_ms = 30000,
			     .on_output = on_victim_output};
	struct petri_test_run r = sec_exec(sb, &x);
	int st = r.rc == 0 && r.reason == PETRI_REASON_EXITED ? r.exit_code : 100;
	if (st != 0)
		sec_dump("cross_victim.py", &r);
	if (write(result, &st, sizeof(st)) != (ssize_t)sizeof(st) ||
	    write(result, r.out, r.out_len) != (ssize_t)r.out_len)
		_exit(3);
	petri_sandbox_destroy(sb);
	petri_ctx_free(ctx);
	_exit(0);
}

static void print_uid(const char *who, int pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	char *s = sec_read_host_file(path, NULL);
	const char *u = s ? strstr(s, "\nUid:") : NULL;
	fprintf(stderr, "%s init %d, host uids:%.*s\n", who, pid, u ? (int)strcspn(u + 5, "\n") : 0,
		u ? u + 5 : "");
	free(s);
}

static void test_cross_sandbox(void)
{
	int ready[2], result[2];
	REQUIRE(pipe(ready) == 0 && pipe(result) == 0);
	pid_t host = fork();
	REQUIRE(host >= 0);
	if (host == 0) {
		close(ready[0]);
		close(result[0]);
		victim_host(ready[1], result[1]);
	}
	close(ready[1]);
	close(result[1]);
	int victim_init = 0;
	char c;
	REQUIRE(read(ready[0], &victim_init, sizeof(victim_init)) == (ssize_t)sizeof(victim_init));
	if (read(ready[0], &c, 1) != 1) {
		int st = 0;
		waitpid(host, &st, 0);
		fprintf(stderr,
			"the victim's host died before the victim was ready (status 0x%x)\n", st);
		REQUIRE(0);
	}
	close(ready[0]);

	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = "python";
	petri_sandbox *attacker = sec_sandbox(&so);
	print_uid("victim", victim_init);
	print_uid("attacker", petri_sandbox_init_pid(attacker));

	struct petri_test_run r = sec_exec_attack(attacker, "cross_attacker.py", NULL, 30000);
	CHECK_MSG(r.rc == 0 && r.reason == PETRI_REASON_EXITED && r.exit_code == 0,
		  "cross_attacker.py did not run to completion");
	sec_expect_no_escape(&r);
	sec_expect(&r, "files", "NOTFOUND");
	sec_expect(&r, "sysv_shm", "BLOCKED ENOENT");
	sec_expect(&r, "tcp", "BLOCKED ECONNREFUSED");
	sec_expect(&r, "abstract", "BLOCKED ECONNREFUSED");
	char buf[64], allowed[80];
	const char *self = sec_verdict(r.out, "self", buf, sizeof(buf));
	const char *sp = self && strncmp(self, "PID ", 4) == 0 ? self + 4 : "?";
	snprintf(allowed, sizeof(allowed), "1,%s", sp);
	sec_expect_list(&r, "pids_alive", allowed, sp);
	if (petri_test_failures)
		sec_dump("cross_attacker.py", &r);
	petri_test_run_free(&r);
	petri_sandbox_destroy(attacker);

	/* The victim's own account. */
	int vst = -1;
	REQUIRE(read(result[0], &vst, sizeof(vst)) == (ssize_t)sizeof(vst));
	static char out[65536];
	size_t n = 0;
	ssize_t k;
	while (n < sizeof(out) - 1 && (k = read(result[0], out + n, sizeof(out) - 1 - n)) > 0)
		n += (size_t)k;
	out[n] = '\0';
	close(result[0]);
	struct petri_test_run v = {.out = out, .err = (char *)"", .out_len = n};
	CHECK_MSG(vst == 0, "the victim did not run to completion (%d)", vst);
	sec_expect_no_escape(&v);
	sec_expect(&v, "victim", "OK");
	if (petri_test_failures)
		fprintf(stderr, "--- victim stdout:\n%s\n", out);
	int st;
	REQUIRE(waitpid(host, &st, 0) == host);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/*
 * File locks on the host's own files.  /usr was a bind of the host's: a
 * sandbox that opened /usr/bin/env read-only could flock() it, and the lock
 * was on the host's inode.  It must not be: a host process (or another
 * sandbox) that flocks the same file would be blocked by the sandbox (a
 * host program that locks itself, the "flock -n $0" idiom of cron scripts,
 * would not run), and two sandboxes would have a channel (one holds, the
 * other tries).  The holder runs in a child of ours (its exec blocks); we
 * try the lock on the host while it holds it.
 *
 * Failed on main up to ea60e44 (found by a red-team pass); /usr is now a
 * read-only overlay of the host's (mounts.c, attach_host_dir), whose inodes
 * are the sandbox's own.
 */
#define LOCKED_FILE "/usr/bin/env"

static _Noreturn void lock_holder(int ready)
{
	petri_ctx *ctx = NULL;
	petri_sandbox *sb = forked_host_sandbox("holder", "sh", &ctx);
	ready_fd = ready; /* on_victim_output writes "r" at READY */
	struct sec_exec x = {.lang = "sh",
			     .code = "exec 9<" LOCKED_FILE "; flock -x 9 && echo READY; sleep 3",
			     .timeout_ms = 30000,
			     .on_output = on_victim_output};
	struct petri_test_run r = sec_exec(sb, &x);
	petri_test_run_free(&r);
	petri_sandbox_destroy(sb);
	petri_ctx_free(ctx);
	_exit(0);
}

static void test_host_file_locks(void)
{
	int ready[2];
	REQUIRE(pipe(ready) == 0);
	pid_t holder = fork();
	REQUIRE(holder >= 0);
	if (holder == 0) {
		close(ready[0]);
		lock_holder(ready[1]);
	}
	close(ready[1]);
	char c;
	int got = read(ready[0], &c, 1) == 1;
	close(ready[0]);
	CHECK_MSG(got, "the sandbox did not take its lock on " LOCKED_FILE);
	if (got) {
		int fd = open(LOCKED_FILE, O_RDONLY | O_CLOEXEC);
		REQUIRE(fd >= 0);
		int r = flock(fd, LOCK_EX | LOCK_NB);
		CHECK_MSG(r == 0,
			  "the host cannot flock its own " LOCKED_FILE
			  " while a sandbox holds a lock on it: %s",
			  r < 0 ? strerror(errno) : "");
		close(fd);
	}
	int st;
	REQUIRE(waitpid(holder, &st, 0) == holder);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(cross_sandbox),
	PETRI_TEST_CASE(host_file_locks),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
