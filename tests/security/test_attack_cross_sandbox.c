/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_attack_cross_sandbox - one sandbox cannot reach another that runs at
 * the same time, even when both run as the same host uid.
 *
 * Two contexts with the default uid base give their first sandboxes the
 * same host uid (0xc8000000 + 1): the worst case for isolation by
 * namespaces alone.  In one, attacks/cross_victim.py puts a secret in each
 * of its tmpfs mounts and in System V shared memory, listens on
 * 127.0.0.1:47123 and on an abstract unix socket, and waits.  Meanwhile, in
 * the other, attacks/cross_attacker.py searches its own mounts for the
 * secret, attaches the shared memory key, connects to both servers and
 * signals every pid up to 4096.  Nothing may be found or reached, and the
 * victim must find its secrets intact and no connection accepted.
 */
#include "sec_util.h"

#include <pthread.h>
#include <unistd.h>

struct victim {
	petri_sandbox *sb;
	int ready_pipe;
	struct sec_run r;
};

static int on_victim_output(int stream, const char *data, size_t len, void *ud)
{
	struct victim *v = ud;
	if (stream == PETRI_STREAM_STDOUT && memmem(data, len, "READY", 5) && v->ready_pipe >= 0) {
		if (write(v->ready_pipe, "r", 1) != 1)
			return 0;
		close(v->ready_pipe);
		v->ready_pipe = -1;
	}
	return 0;
}

static void *victim_main(void *arg)
{
	struct victim *v = arg;
	char *code = sec_attack_source("cross_victim.py");
	const char *env[] = {"VICTIM_WAIT=4", NULL};
	struct sec_exec x = {.lang = "python", .code = code, .env = env, .timeout_ms = 30000,
			     .on_output = on_victim_output, .userdata = v};
	v->r = sec_exec(v->sb, &x);
	free(code);
	if (v->ready_pipe >= 0)
		close(v->ready_pipe);
	return NULL;
}

int main(void)
{
	petri_ctx *ctx2 = NULL;
	petri_error *e = NULL;
	REQUIRE(petri_ctx_new(&ctx2, NULL, &e) == 0);
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = "python";
	petri_sandbox *attacker = sec_sandbox(&so);              /* first of the test context */
	petri_sandbox *victim_sb = sec_sandbox_in(ctx2, &so);    /* first of the second one */
	pid_t ia = petri_sandbox_init_pid(attacker), iv = petri_sandbox_init_pid(victim_sb);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)ia);
	char *sa = sec_read_host_file(path, NULL);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)iv);
	char *sv = sec_read_host_file(path, NULL);
	const char *ua = sa ? strstr(sa, "\nUid:") : NULL, *uv = sv ? strstr(sv, "\nUid:") : NULL;
	fprintf(stderr, "attacker init %d%.*s, victim init %d%.*s\n", (int)ia,
		ua ? (int)strcspn(ua + 1, "\n") + 1 : 0, ua ? ua : "", (int)iv,
		uv ? (int)strcspn(uv + 1, "\n") + 1 : 0, uv ? uv : "");
	free(sa);
	free(sv);

	int p[2];
	REQUIRE(pipe(p) == 0);
	struct victim v = {.sb = victim_sb, .ready_pipe = p[1]};
	pthread_t th;
	REQUIRE(pthread_create(&th, NULL, victim_main, &v) == 0);
	char c;
	REQUIRE(read(p[0], &c, 1) == 1); /* the victim is set up */
	close(p[0]);

	struct sec_run r = sec_exec_attack(attacker, "cross_attacker.py", NULL, 30000);
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
	sec_run_free(&r);

	pthread_join(th, NULL);
	CHECK_MSG(v.r.rc == 0 && v.r.reason == PETRI_REASON_EXITED && v.r.exit_code == 0,
		  "the victim did not run to completion");
	sec_expect_no_escape(&v.r);
	sec_expect(&v.r, "victim", "OK");
	if (petri_test_failures)
		sec_dump("cross_victim.py", &v.r);
	sec_run_free(&v.r);

	petri_sandbox_destroy(attacker);
	petri_sandbox_destroy(victim_sb);
	petri_ctx_free(ctx2);
	return petri_test_done();
}
