/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_exec_basic - petri_sandbox_exec does what petri.h says for ordinary
 * programs: one sandbox runs many execs; stdout and stderr are captured
 * apart and exactly; exit codes come back; stdin bytes (binary, larger than
 * a pipe buffer) reach the program, and no stdin means EOF; the environment
 * is the defaults + sandbox env + exec env (later wins) and nothing of the
 * host's; the default cwd is /workspace; /workspace persists across execs;
 * python, node, sh and go each run hello world; the streaming callback gets
 * every byte in order (also past the capture cap) and returning non-zero
 * from it kills the exec (reason "killed"); petri_sandbox_cancel from
 * another thread stops `sleep 60` quickly (reason "killed") and the sandbox
 * keeps working afterwards; the code starts with a clean signal state (no
 * signal blocked or ignored), whatever the host blocks or ignores; after an
 * exec flagged PETRI_EXEC_LAST init keeps no reaper ready and ends, the
 * workspace stays readable and a further exec fails with ESRCH.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "api_common.h"

static void test_output_and_exit_codes(void)
{
	petri_sandbox *sb = api_sandbox(NULL);
	petri_result *r = api_run_argv(sb, (const char *const[]){"/bin/echo", "hello", NULL}, 10000,
				       __LINE__);
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "hello\n");
	CHECK_OUT(r, PETRI_STREAM_STDERR, "");
	CHECK(petri_result_exit_code(r) == 0);
	CHECK(petri_result_signal(r) == 0);
	CHECK(petri_result_reason(r) == PETRI_REASON_EXITED);
	CHECK(petri_result_stdout_total(r) == 6);
	CHECK(!petri_result_stdout_truncated(r) && !petri_result_stderr_truncated(r));
	CHECK(petri_result_wall_ns(r) > 0);
	petri_result_free(r);

	/* argv[0] without a slash is looked up in PATH inside. */
	r = api_run_argv(sb, (const char *const[]){"echo", "path", "lookup", NULL}, 10000,
			 __LINE__);
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "path lookup\n");
	petri_result_free(r);

	r = API_SH(sb, "printf out1; printf err1 >&2; printf out2; printf 'err2\\n' >&2; exit 5");
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "out1out2");
	CHECK_OUT(r, PETRI_STREAM_STDERR, "err1err2\n");
	CHECK(petri_result_exit_code(r) == 5);
	CHECK(petri_result_reason(r) == PETRI_REASON_EXITED);
	CHECK(petri_result_stderr_total(r) == 9);
	petri_result_free(r);

	r = API_SH(sb, "exit 255");
	CHECK(petri_result_exit_code(r) == 255);
	petri_result_free(r);
	petri_sandbox_destroy(sb);
}

static void test_stdin(void)
{
	petri_sandbox *sb = api_sandbox(NULL);
	/* 200 KiB with every byte value, NULs included: more than a pipe holds,
	 * so the library must feed stdin while it drains stdout. */
	size_t n = 200 * 1024;
	unsigned char *in = malloc(n);
	REQUIRE(in);
	for (size_t i = 0; i < n; i++)
		in[i] = (unsigned char)(i * 7 + i / 256);
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.argv = (const char *const[]){"cat", NULL};
	o.stdin_data = in;
	o.stdin_len = n;
	o.timeout_ms = 20000;
	petri_result *r = API_EXEC(sb, &o);
	size_t len = 0;
	const char *out = petri_result_stdout(r, &len);
	CHECK_MSG(len == n && memcmp(out, in, n) == 0, "cat echoed %zu of %zu bytes (or different)",
		  len, n);
	CHECK(petri_result_reason(r) == PETRI_REASON_EXITED && petri_result_exit_code(r) == 0);
	petri_result_free(r);

	/* Through an interpreter, reading sys.stdin. */
	o = (petri_exec_opts)PETRI_EXEC_OPTS_INIT;
	o.code = "import sys\nd = sys.stdin.buffer.read()\nprint(len(d), d.count(b'\\0'), d[:5])\n";
	o.language = "python";
	o.stdin_data = "ab\0cd\0";
	o.stdin_len = 6;
	o.timeout_ms = 20000;
	r = API_EXEC(sb, &o);
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "6 2 b'ab\\x00cd'\n");
	petri_result_free(r);

	/* No stdin: EOF at once, not a hang. */
	o = (petri_exec_opts)PETRI_EXEC_OPTS_INIT;
	o.argv = (const char *const[]){"cat", NULL};
	o.timeout_ms = 5000;
	r = API_EXEC(sb, &o);
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "");
	CHECK_MSG(petri_result_reason(r) == PETRI_REASON_EXITED, "cat without stdin ended %s",
		  petri_reason_name(petri_result_reason(r)));
	petri_result_free(r);
	free(in);
	petri_sandbox_destroy(sb);
}

/* Is every line of @env one of the allowed "K=" prefixes, each at most once? */
static void check_env_lines(const char *env, const char *const *allowed_keys)
{
	char *copy = strdup(env), *save = NULL;
	int seen[64] = {0};
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		int ok = 0;
		for (int i = 0; allowed_keys[i]; i++) {
			size_t k = strlen(allowed_keys[i]);
			if (strncmp(l, allowed_keys[i], k) == 0 && l[k] == '=') {
				ok = 1;
				seen[i]++;
				CHECK_MSG(seen[i] == 1, "variable %s appears twice",
					  allowed_keys[i]);
			}
		}
		CHECK_MSG(ok, "unexpected variable in the sandbox: %s", l);
	}
	free(copy);
}

static void test_env(void)
{
	/* Something the host has that must not reach the sandbox. */
	setenv("PETRI_TEST_HOST_SECRET", "leaked", 1);
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.env = (const char *const[]){"SB_ONLY=sandbox", "BOTH=sandbox", "LANG=C", NULL};
	petri_sandbox *sb = api_sandbox(&so);

	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.argv = (const char *const[]){"/usr/bin/env", NULL};
	o.env = (const char *const[]){"BOTH=exec", "EXEC_ONLY=exec", "HOME=/tmp/home",
				      "EMPTY=", NULL};
	o.timeout_ms = 10000;
	petri_result *r = API_EXEC(sb, &o);
	char *env = api_out_str(r, PETRI_STREAM_STDOUT);
	fprintf(stderr, "sandbox env:\n%s", env);
	CHECK(strstr(env, "SB_ONLY=sandbox\n") != NULL);
	CHECK(strstr(env, "BOTH=exec\n") != NULL);
	CHECK(strstr(env, "BOTH=sandbox") == NULL);
	CHECK(strstr(env, "EXEC_ONLY=exec\n") != NULL);
	CHECK(strstr(env, "EMPTY=\n") != NULL);
	CHECK(strstr(env, "HOME=/tmp/home\n") != NULL); /* exec env overrides a default */
	CHECK(strstr(env, "LANG=C\n") != NULL);         /* sandbox env overrides a default */
	CHECK(strstr(env, "PATH=") != NULL);
	CHECK(strstr(env, "TMPDIR=") != NULL);
	CHECK(strstr(env, "PETRI_TEST_HOST_SECRET") == NULL);
	/* Only what was given plus sane defaults (DESIGN.md "Environment"). */
	static const char *const allowed[] = {"SB_ONLY",     "BOTH",    "EXEC_ONLY",
					      "EMPTY",       "PATH",    "HOME",
					      "LANG",        "TMPDIR",  "USER",
					      "LOGNAME",     "SHELL",   "PYTHONDONTWRITEBYTECODE",
					      "GOCACHE",     "GOPATH",  "GOPROXY",
					      "GOTOOLCHAIN", "GOFLAGS", NULL};
	check_env_lines(env, allowed);
	free(env);
	petri_result_free(r);

	/* The exec env of one exec does not stick to the next. */
	o.env = NULL;
	r = API_EXEC(sb, &o);
	env = api_out_str(r, PETRI_STREAM_STDOUT);
	CHECK(strstr(env, "EXEC_ONLY") == NULL);
	CHECK(strstr(env, "BOTH=sandbox\n") != NULL);
	CHECK(strstr(env, "HOME=/tmp/home") == NULL);
	free(env);
	petri_result_free(r);
	petri_sandbox_destroy(sb);
	unsetenv("PETRI_TEST_HOST_SECRET");
}

static void test_cwd_and_state(void)
{
	petri_sandbox *sb = api_sandbox(NULL);
	petri_result *r = api_run_argv(sb, (const char *const[]){"pwd", NULL}, 10000, __LINE__);
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "/workspace\n");
	petri_result_free(r);

	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.argv = (const char *const[]){"pwd", NULL};
	o.cwd = "/tmp";
	r = API_EXEC(sb, &o);
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "/tmp\n");
	petri_result_free(r);

	/* State persists: exec 1 writes (relative to the default cwd), exec 2
	 * reads by absolute path. */
	r = API_SH(sb, "mkdir -p sub && echo persisted > sub/state.txt");
	CHECK(petri_result_exit_code(r) == 0);
	petri_result_free(r);
	r = API_SH(sb, "cat /workspace/sub/state.txt");
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "persisted\n");
	petri_result_free(r);
	r = API_SH(sb, "echo again >> /workspace/sub/state.txt; cat sub/state.txt");
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "persisted\nagain\n");
	petri_result_free(r);
	petri_sandbox_destroy(sb);
}

static void test_languages(void)
{
	static const struct {
		const char *lang, *code, *want;
		uint64_t timeout_ms;
	} cases[] = {
		{"python", "import sys\nprint('hello from python', sys.version_info[0])\n",
		 "hello from python 3\n", 30000},
		{"node", "console.log('hello from node', typeof process.version)\n",
		 "hello from node string\n", 30000},
		{"sh", "echo hello from sh\n", "hello from sh\n", 30000},
		{"go",
		 "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hello from "
		 "go\")\n}\n",
		 "hello from go\n", 120000},
	};
	/* The sandbox's language is the default for code; exec opts override it. */
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = "python";
	petri_sandbox *sb = api_sandbox(&so);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
		o.code = cases[i].code;
		o.language = cases[i].lang;
		o.timeout_ms = cases[i].timeout_ms;
		double t0 = api_now_s();
		petri_result *r = API_EXEC(sb, &o);
		char *err = api_out_str(r, PETRI_STREAM_STDERR);
		fprintf(stderr, "%s: %.2f s\n", cases[i].lang, api_now_s() - t0);
		CHECK_MSG(petri_result_reason(r) == PETRI_REASON_EXITED &&
				  petri_result_exit_code(r) == 0,
			  "%s: reason %s exit %d stderr %s", cases[i].lang,
			  petri_reason_name(petri_result_reason(r)), petri_result_exit_code(r),
			  err);
		CHECK_OUT(r, PETRI_STREAM_STDOUT, cases[i].want);
		free(err);
		petri_result_free(r);
	}
	/* Without o.language, the sandbox's language (python) runs the code. */
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.code = "print(6 * 7)";
	petri_result *r = API_EXEC(sb, &o);
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "42\n");
	petri_result_free(r);
	petri_sandbox_destroy(sb);
}

/* args reach code and code_file after the source file, in each language,
 * also ones that look like the interpreter's options; an exec built
 * against the struct before args and code_file existed (a smaller sz)
 * still runs. */
static void test_code_args(void)
{
	static const char *const args[] = {"-c", "--version", "", "y z", NULL};
	/* want: "@" stands for the source file. */
	static const struct {
		const char *lang, *file, *code, *want;
	} cases[] = {
		{"python", "a.py", "import sys; print(sys.argv)",
		 "['@', '-c', '--version', '', 'y z']\n"},
		{"node", "a.js", "console.log(JSON.stringify(process.argv))",
		 "[\"/usr/bin/node\",\"@\",\"-c\",\"--version\",\"\",\"y z\"]\n"},
		{"sh", "a.sh", "printf '%s|' \"$0\" \"$@\"; echo", "@|-c|--version||y z|\n"},
		/* os.Args[0] is the built program, whichever way. */
		{"go", "a.go",
		 "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() {\n\t"
		 "fmt.Println(os.Args[0] == \"/home/sandbox/.cache/petri-go/main\")\n\t"
		 "fmt.Printf(\"%q\\n\", os.Args[1:])\n\tos.Exit(3)\n}\n",
		 "true\n[\"-c\" \"--version\" \"\" \"y z\"]\n"},
	};
	petri_sandbox *sb = api_sandbox(NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool go = strcmp(cases[i].lang, "go") == 0;
		const char *code = cases[i].code;
		char path[64];
		snprintf(path, sizeof(path), "/workspace/%s", cases[i].file);
		REQUIRE(petri_sandbox_write_file(sb, path, code, strlen(code), 0644, NULL) == 0);
		for (int by_file = 0; by_file < 2; by_file++) {
			char main_file[64], want[256];
			snprintf(main_file, sizeof(main_file), "/run/petri/main%s",
				 strrchr(cases[i].file, '.'));
			const char *at = strchr(cases[i].want, '@');
			if (at)
				snprintf(want, sizeof(want), "%.*s%s%s", (int)(at - cases[i].want),
					 cases[i].want, by_file ? path : main_file, at + 1);
			else
				snprintf(want, sizeof(want), "%s", cases[i].want);
			petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
			o.language = cases[i].lang;
			o.code = by_file ? NULL : code;
			o.code_file = by_file ? path : NULL;
			o.args = args;
			o.timeout_ms = go ? 120000 : 30000;
			petri_result *r = API_EXEC(sb, &o);
			CHECK_MSG(petri_result_exit_code(r) == (go ? 3 : 0), "%s %s: exit %d",
				  cases[i].lang, by_file ? "code_file" : "code",
				  petri_result_exit_code(r));
			CHECK_OUT(r, PETRI_STREAM_STDOUT, want);
			petri_result_free(r);
		}
	}

	/* sz of a caller that knows no args or code_file: whatever lies
	 * beyond is not read. */
	struct {
		petri_exec_opts o;
		char poison[64];
	} old;
	memset(&old, 0x5a, sizeof(old));
	petri_exec_opts_init(&old.o);
	old.o.sz = (uint32_t)offsetof(petri_exec_opts, args);
	memset((char *)&old.o + old.o.sz, 0x5a, sizeof(old.o) - old.o.sz);
	old.o.argv = (const char *const[]){"echo", "old", NULL};
	petri_result *r = API_EXEC(sb, &old.o);
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "old\n");
	petri_result_free(r);
	petri_sandbox_destroy(sb);
}

/* ---- streaming ---- */

struct sink {
	char *buf[3];
	size_t len[3];
	int calls;
	int bad_stream;
	int stop_after; /* return non-zero on this call (0: never) */
};

static int on_output(int stream, const char *data, size_t len, void *ud)
{
	struct sink *s = ud;
	if (stream != PETRI_STREAM_STDOUT && stream != PETRI_STREAM_STDERR) {
		s->bad_stream++;
		return 0;
	}
	s->buf[stream] = realloc(s->buf[stream], s->len[stream] + len + 1);
	memcpy(s->buf[stream] + s->len[stream], data, len);
	s->len[stream] += len;
	s->buf[stream][s->len[stream]] = '\0';
	s->calls++;
	return s->stop_after && s->calls >= s->stop_after;
}

static void test_streaming(void)
{
	petri_sandbox *sb = api_sandbox(NULL);
	/* 3000 numbered lines on stdout (~ 30 KB) and 300 on stderr, with a
	 * capture cap far below that: the callback still sees every byte. */
	struct sink s = {0};
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.argv = (const char *const[]){
		"/bin/sh", "-c",
		"i=1; while [ $i -le 3000 ]; do echo line$i; if [ $((i % 10)) = 0 ]; then echo "
		"err$i >&2; fi; i=$((i+1)); done",
		NULL};
	o.stdout_max = 100;
	o.on_output = on_output;
	o.userdata = &s;
	o.timeout_ms = 30000;
	petri_result *r = API_EXEC(sb, &o);
	size_t want_len = 0;
	char *want = NULL, *want_err = NULL;
	size_t want_err_len = 0;
	FILE *f = open_memstream(&want, &want_len);
	FILE *fe = open_memstream(&want_err, &want_err_len);
	for (int i = 1; i <= 3000; i++) {
		fprintf(f, "line%d\n", i);
		if (i % 10 == 0)
			fprintf(fe, "err%d\n", i);
	}
	fclose(f);
	fclose(fe);
	CHECK(s.bad_stream == 0);
	CHECK_MSG(s.len[1] == want_len && s.buf[1] && memcmp(s.buf[1], want, want_len) == 0,
		  "callback stdout: %zu bytes, want %zu in order", s.len[1], want_len);
	CHECK_MSG(s.len[2] == want_err_len && s.buf[2] &&
			  memcmp(s.buf[2], want_err, want_err_len) == 0,
		  "callback stderr: %zu bytes, want %zu in order", s.len[2], want_err_len);
	/* The capture is the first 100 bytes, flagged. */
	size_t len = 0;
	const char *out = petri_result_stdout(r, &len);
	CHECK(len == 100 && memcmp(out, want, 100) == 0);
	CHECK(petri_result_stdout_truncated(r));
	CHECK(petri_result_stdout_total(r) == want_len);
	CHECK(petri_result_reason(r) == PETRI_REASON_EXITED && petri_result_exit_code(r) == 0);
	petri_result_free(r);
	free(want);
	free(want_err);
	for (int i = 0; i < 3; i++)
		free(s.buf[i]);

	/* Returning non-zero kills the exec: "killed", and fast. */
	struct sink k = {.stop_after = 1};
	o = (petri_exec_opts)PETRI_EXEC_OPTS_INIT;
	o.argv = (const char *const[]){"/bin/sh", "-c", "echo first; sleep 60; echo never", NULL};
	o.on_output = on_output;
	o.userdata = &k;
	o.timeout_ms = 90000;
	double t0 = api_now_s();
	r = API_EXEC(sb, &o);
	double dt = api_now_s() - t0;
	CHECK_MSG(petri_result_reason(r) == PETRI_REASON_KILLED, "callback stop: reason %s",
		  petri_reason_name(petri_result_reason(r)));
	CHECK_MSG(dt < 5.0, "callback stop took %.1f s", dt);
	CHECK(k.buf[1] && strcmp(k.buf[1], "first\n") == 0);
	CHECK(petri_result_exit_code(r) == -1 && petri_result_signal(r) == SIGKILL);
	CHECK((petri_result_limits_hit(r) & PETRI_LIMIT_TIMEOUT) == 0);
	petri_result_free(r);
	free(k.buf[1]);
	free(k.buf[2]);
	petri_sandbox_destroy(sb);
}

/* ---- cancel ---- */

struct canceller {
	petri_sandbox *sb;
	int delay_ms;
	int rc;
};

static void *cancel_later(void *arg)
{
	struct canceller *c = arg;
	struct timespec ts = {c->delay_ms / 1000, (c->delay_ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	c->rc = petri_sandbox_cancel(c->sb);
	return NULL;
}

static void test_cancel(void)
{
	petri_sandbox *sb = api_sandbox(NULL);
	struct canceller c = {sb, 500, -1};
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, cancel_later, &c) == 0);
	double t0 = api_now_s();
	petri_result *r =
		api_run_argv(sb, (const char *const[]){"sleep", "60", NULL}, 120000, __LINE__);
	double dt = api_now_s() - t0;
	pthread_join(t, NULL);
	CHECK(c.rc == 0);
	CHECK_MSG(petri_result_reason(r) == PETRI_REASON_KILLED, "cancel: reason %s",
		  petri_reason_name(petri_result_reason(r)));
	CHECK_MSG(dt >= 0.4 && dt < 5.0, "cancelled exec took %.2f s", dt);
	CHECK((petri_result_limits_hit(r) & PETRI_LIMIT_TIMEOUT) == 0);
	petri_result_free(r);

	/* The sandbox survives; a cancel between execs does not kill the next. */
	CHECK(petri_sandbox_cancel(sb) == 0);
	r = api_run_argv(sb, (const char *const[]){"/bin/sh", "-c", "sleep 0.3; echo alive", NULL},
			 10000, __LINE__);
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "alive\n");
	CHECK(petri_result_reason(r) == PETRI_REASON_EXITED);
	petri_result_free(r);
	petri_sandbox_destroy(sb);
}

/* Nothing of the host's signal state reaches the code: neither the mask of
 * the library's threads nor what the host ignores (CPython, and so the
 * Python binding's host, ignores SIGPIPE; shells start background jobs with
 * SIGINT ignored). */
static void test_signal_state(void)
{
	petri_sandbox *sb = api_sandbox(NULL);
	petri_result *r = API_SH(sb, "grep -E '^Sig(Blk|Ign)' /proc/self/status");
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
	petri_result_free(r);
	/* And so a signal the code sends itself takes effect. */
	r = API_SH(sb, "kill -INT $$; echo survived");
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "");
	CHECK_MSG(petri_result_signal(r) == SIGINT, "sh -c 'kill -INT $$': signal %d, exit %d",
		  petri_result_signal(r), petri_result_exit_code(r));
	petri_result_free(r);
	petri_sandbox_destroy(sb);
}

/* Wait up to 2 s for init to have @want idle reapers (petri-exec). */
static int reapers_settle(int init, int want)
{
	int n = -1;
	for (int i = 0; i < 200 && (n = api_children(init, "petri-exec", NULL, NULL)) != want; i++)
		usleep(10000);
	return n;
}

/* PETRI_EXEC_LAST: init prepares no namespace for a next exec and ends by
 * itself; the workspace stays readable and a further exec is refused. */
static void test_last_exec(void)
{
	petri_sandbox *sb = api_sandbox(NULL);
	int init = 0;
	CHECK(api_children(getpid(), "petri-init", &init, NULL) == 1);

	petri_result *r = API_SH(sb, "echo one > state");
	CHECK(petri_result_exit_code(r) == 0);
	petri_result_free(r);
	CHECK(reapers_settle(init, 1) == 1); /* the next exec's, ready */

	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.argv = (const char *const[]){"/bin/sh", "-c", "echo two >> state", NULL};
	o.flags = PETRI_EXEC_LAST;
	r = API_EXEC(sb, &o);
	CHECK(petri_result_exit_code(r) == 0);
	petri_result_free(r);
	/* init is done: it ends by itself, with no reaper made. */
	int gone = 0;
	for (int i = 0; i < 200 && !gone; i++) {
		char state = api_proc_stat(init, NULL, NULL, 0);
		gone = state == 0 || state == 'Z';
		if (!gone)
			usleep(10000);
	}
	CHECK_MSG(gone, "init %d still runs after the last exec", init);
	CHECK(api_children(init, "petri-exec", NULL, NULL) == 0);

	/* The workspace stays readable; a further exec is refused. */
	void *data = NULL;
	size_t len = 0;
	CHECK(petri_sandbox_read_file(sb, "state", 1024, &data, &len, NULL) == 0);
	CHECK(len == 8 && data && memcmp(data, "one\ntwo\n", 8) == 0);
	petri_free(data);
	petri_error *e = NULL;
	o.flags = 0;
	CHECK(petri_sandbox_exec(sb, &o, &r, &e) == -ESRCH);
	CHECK(e && strstr(petri_error_message(e), "last exec"));
	petri_error_free(e);
	petri_sandbox_destroy(sb);
}

/*
 * PETRI_SANDBOX_F_ONE_EXEC (`petri run`): init is the one exec's reaper.
 * The command sees what it would see under a reaper: itself as pid 2 under
 * pid 1, a /proc that shows only the exec's processes, with the masks,
 * seccomp and no capabilities; a background process it leaves dies with
 * it; init forks no reaper.  An exec not flagged PETRI_EXEC_LAST is
 * refused.
 */
static void test_one_exec(void)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.flags = PETRI_SANDBOX_F_ONE_EXEC;
	petri_sandbox *sb = api_sandbox(&so);
	int init = 0;
	CHECK(api_children(getpid(), "petri-init", &init, NULL) == 1);

	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.argv = (const char *const[]){"/bin/true", NULL};
	petri_result *r = NULL;
	petri_error *e = NULL;
	CHECK(petri_sandbox_exec(sb, &o, &r, &e) == -EINVAL);
	CHECK(e && strstr(petri_error_message(e), "PETRI_EXEC_LAST"));
	petri_error_free(e);
	usleep(100000); /* a reaper would be ready by now */
	CHECK(api_children(init, "petri-exec", NULL, NULL) == 0);

	/* The survivor's pid goes to the host through a file in /workspace:
	 * `sleep` would keep the output pipe open, which the exec waits for. */
	const char *script =
		"echo pid=$$ ppid=$PPID; cat /proc/1/comm; ls /proc | grep -E '^[0-9]+$' | wc -l; "
		"wc -c < /proc/kallsyms; cat /proc/cmdline | wc -c; "
		"echo x 2>/dev/null > /proc/sys/kernel/hostname || echo sys-ro; "
		"grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status; "
		"sleep 60 </dev/null >/dev/null 2>&1 & echo $! > bg; "
		"python3 -c 'import ctypes,os; l=ctypes.CDLL(None,use_errno=True); "
		"print(\"unshare\", l.unshare(0x10000000), os.strerror(ctypes.get_errno()))'";
	o.argv = (const char *const[]){"/bin/sh", "-c", script, NULL};
	o.flags = PETRI_EXEC_LAST;
	double t0 = api_now_s();
	r = API_EXEC(sb, &o);
	CHECK_MSG(api_now_s() - t0 < 30, "the exec waited for its background process");
	CHECK(petri_result_exit_code(r) == 0);
	/* 1 (init), 2 (sh), the pipeline's ls, grep and wc: 5 numeric entries */
	CHECK_OUT(r, PETRI_STREAM_STDOUT,
		  "pid=2 ppid=1\npetri-init\n5\n0\n0\nsys-ro\nCapEff:\t0000000000000000\n"
		  "NoNewPrivs:\t1\nSeccomp:\t2\nunshare -1 Operation not permitted\n");
	CHECK(petri_result_seccomp_denials(r) == 1);
	petri_result_free(r);

	/* init is gone, and so is the background process (the pid namespace
	 * went with init); its pid inside was 2 + the pipeline's 3 + 1. */
	int gone = 0;
	for (int i = 0; i < 200 && !gone; i++) {
		char state = api_proc_stat(init, NULL, NULL, 0);
		gone = state == 0 || state == 'Z';
		if (!gone)
			usleep(10000);
	}
	CHECK_MSG(gone, "init %d still runs after the one exec", init);
	void *data = NULL;
	size_t len = 0;
	CHECK(petri_sandbox_read_file(sb, "bg", 64, &data, &len, NULL) == 0);
	/* The file's bytes, not a string: no NUL after them. */
	char bg[65] = "";
	if (data && len < sizeof(bg))
		memcpy(bg, data, len);
	CHECK_MSG(len > 1 && atoi(bg) > 2, "the background process's pid: '%s'", bg);
	petri_free(data);
	CHECK(api_count_cgroups_of(getpid()) > 0);
	petri_sandbox_destroy(sb);
	CHECK(api_count_cgroups_of(getpid()) == 0);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(one_exec),
	PETRI_TEST_CASE(signal_state),
	PETRI_TEST_CASE(output_and_exit_codes),
	PETRI_TEST_CASE(stdin),
	PETRI_TEST_CASE(cwd_and_state),
	PETRI_TEST_CASE(streaming),
	PETRI_TEST_CASE(cancel),
	PETRI_TEST_CASE(last_exec),
	PETRI_TEST_CASE(env),
	PETRI_TEST_CASE(languages),
	PETRI_TEST_CASE(code_args),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	/* Host signal state the sandbox must not inherit (set before any
	 * context exists, as a host would at startup; every case inherits it). */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	sigset_t usr;
	sigemptyset(&usr);
	sigaddset(&usr, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr, NULL);
	return petri_test_main(argc, argv, cases);
}
