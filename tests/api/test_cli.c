/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cli - the `petri` command line keeps the contract of DESIGN.md "CLI":
 *  - output passes through; exit status is the program's own, 128+N for
 *    signal N, 124 on timeout, 126 not executable, 127 not found;
 *  - --json prints one JSON object (valid UTF-8, valid for Python's json
 *    module) with exit_code, signal, reason, wall_ms, cpu_ms,
 *    peak_memory_bytes, stdout, stderr, stdout_truncated, stderr_truncated,
 *    of the right types and values, also for signals, timeouts, memory and
 *    pids, and for output that is not UTF-8 (ill-formed sequences become
 *    U+FFFD as Python's decode(errors="replace") does);
 *  - --lang python|node|go|sh with -c CODE (ARGS after -- reach the code as
 *    its arguments) or FILE ARGS (FILE copied into /workspace, run there);
 *    an unknown --lang names the library's languages;
 *  - --env, --stdin, --bind SRC:DST (read-only) and SRC:DST:rw,
 *    --workspace DIR, --memory, --pids;
 *  - every bad invocation exits 125 with nothing on stdout and exactly one
 *    line "petri: <reason naming the problem>" on stderr.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include "api_common.h"

#define PY "/usr/bin/python3"

static char *out, *err;

static int cli(const char *const *args)
{
	char what[512] = "petri";
	for (int i = 0; args[i]; i++)
		snprintf(what + strlen(what), sizeof(what) - strlen(what), " %s", args[i]);
	API_STEP("%s", what);
	free(out);
	free(err);
	out = err = NULL;
	int st = petri_test_cli(args, &out, &err);
	REQUIRE(st >= 0 && out && err);
	return st;
}
#define CLI(...) cli((const char *const[]){__VA_ARGS__, NULL})

/* The program's stderr as petri passed it on: petri may put its own
 * diagnostics first ("petri: warning: ..." lines, e.g. about cgroups), and
 * nothing else. */
static const char *program_stderr(const char *e)
{
	while (strncmp(e, "petri: ", 7) == 0 && strchr(e, '\n'))
		e = strchr(e, '\n') + 1;
	return e;
}

#define CHECK_RUN(want_status, want_out, ...)                                                      \
	do {                                                                                       \
		int _st = CLI(__VA_ARGS__);                                                        \
		CHECK_MSG(_st == (want_status) && strcmp(out, (want_out)) == 0,                    \
			  "petri %s: status %d (want %d), stdout '%s' (want '%s'), stderr '%s'",   \
			  #__VA_ARGS__, _st, (want_status), out, (want_out), err);                 \
	} while (0)

/* Run a Python check on @json (its stdin); @expect is a JSON object of
 * key: value pairs the result must have.  0 when every check holds. */
static int json_check(const char *json, const char *expect)
{
	static const char script[] =
		"import json, sys\n"
		"text = sys.stdin.buffer.read().decode('utf-8')  # strict: valid UTF-8 only\n"
		"assert text.endswith('\\n') and text.count('\\n') == 1, 'not one line: %r' % text\n"
		"d = json.loads(text)\n"
		"assert isinstance(d, dict), 'not an object'\n"
		"req = ['exit_code', 'signal', 'reason', 'wall_ms', 'cpu_ms', 'peak_memory_bytes',\n"
		"       'stdout', 'stderr', 'stdout_truncated', 'stderr_truncated']\n"
		"missing = [k for k in req if k not in d]\n"
		"assert not missing, 'missing keys %s' % missing\n"
		"num = (int, float)\n"
		"assert d['exit_code'] is None or type(d['exit_code']) is int, d['exit_code']\n"
		"assert d['signal'] is None or type(d['signal']) is int, d['signal']\n"
		"assert (d['exit_code'] is None) != (d['signal'] is None), 'exit_code xor signal'\n"
		"assert isinstance(d['reason'], str) and d['reason'], d['reason']\n"
		"assert isinstance(d['wall_ms'], num) and not isinstance(d['wall_ms'], bool) and d['wall_ms'] > 0\n"
		"assert isinstance(d['cpu_ms'], num) and not isinstance(d['cpu_ms'], bool) and d['cpu_ms'] >= 0\n"
		"assert type(d['peak_memory_bytes']) is int and d['peak_memory_bytes'] >= 0\n"
		"assert isinstance(d['stdout'], str) and isinstance(d['stderr'], str)\n"
		"assert type(d['stdout_truncated']) is bool and type(d['stderr_truncated']) is bool\n"
		"for k, v in json.loads(sys.argv[1]).items():\n"
		"    assert d[k] == v, '%s is %r, want %r' % (k, d[k], v)\n";
	int in[2];
	REQUIRE(pipe(in) == 0);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		dup2(in[0], 0);
		close(in[0]);
		close(in[1]);
		execl(PY, PY, "-c", script, expect, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	size_t len = strlen(json);
	REQUIRE(write(in[1], json, len) == (ssize_t)len);
	close(in[1]);
	int st;
	REQUIRE(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define CHECK_JSON(expect)                                                                         \
	CHECK_MSG(json_check(out, (expect)) == 0, "json %s does not match %s (stderr %s)", out,    \
		  (expect), err)

/* A bad invocation: 125, no stdout, one "petri: " line naming @needle. */
static void bad(const char *needle, const char *const *args)
{
	int st = cli(args);
	char what[512] = "";
	for (int i = 0; args[i]; i++)
		snprintf(what + strlen(what), sizeof(what) - strlen(what), " %s", args[i]);
	if (getenv("PETRI_TEST_VERBOSE"))
		fprintf(stderr, "petri%s -> %d: %s", what, st, err);
	CHECK_MSG(st == 125, "petri%s: status %d, want 125", what, st);
	CHECK_MSG(out[0] == '\0', "petri%s: printed on stdout: %s", what, out);
	size_t n = strlen(err);
	int one_line = n > 8 && strncmp(err, "petri: ", 7) == 0 && err[n - 1] == '\n' &&
		       strchr(err, '\n') == err + n - 1;
	CHECK_MSG(one_line, "petri%s: stderr is not one 'petri: ' line: '%s'", what, err);
	CHECK_MSG(strstr(err, needle) != NULL, "petri%s: message '%s' does not name '%s'", what,
		  err, needle);
}
#define BAD(needle, ...) bad((needle), (const char *const[]){__VA_ARGS__, NULL})

static void test_status(void)
{
	CHECK_RUN(0, "hi\n", "run", "--", "/bin/echo", "hi");
	CHECK_MSG(program_stderr(err)[0] == '\0', "stderr '%s'", err);
	CHECK_RUN(7, "", "run", "--", "sh", "-c", "exit 7");
	CHECK_RUN(0, "out\n", "run", "--", "sh", "-c", "echo out; echo err >&2");
	CHECK_MSG(strcmp(program_stderr(err), "err\n") == 0, "stderr '%s'", err);
	CHECK_RUN(143, "", "run", "--", "sh", "-c", "kill -TERM $$");
	CHECK_RUN(137, "", "run", "--", "sh", "-c", "kill -KILL $$");
	double t0 = api_now_s();
	CHECK_RUN(124, "", "run", "--timeout", "0.5", "--", "sleep", "10");
	double dt = api_now_s() - t0;
	CHECK_MSG(dt < 5.0, "--timeout 0.5 took %.1f s", dt);

	/* Cannot run: not found 127, not executable 126 (stderr says why). */
	int st = CLI("run", "--", "petri-no-such-program");
	CHECK_MSG(st == 127 && strncmp(err, "petri: ", 7) == 0, "not found: %d %s", st, err);
	st = CLI("run", "--", "/nonexistent/prog");
	CHECK_MSG(st == 127, "not found (absolute): %d %s", st, err);
	st = CLI("run", "--", "/etc/passwd");
	CHECK_MSG(st == 126 && strncmp(err, "petri: ", 7) == 0, "not executable: %d %s", st, err);

	st = CLI("--version");
	CHECK_MSG(st == 0 && strstr(out, PETRI_VERSION_STRING), "--version: %d %s", st, out);
}

static void test_json(void)
{
	int st = CLI("run", "--json", "--", "/bin/echo", "hi");
	CHECK(st == 0);
	CHECK_JSON(
		"{\"exit_code\": 0, \"signal\": null, \"reason\": \"exited\", \"stdout\": \"hi\\n\","
		" \"stderr\": \"\", \"stdout_truncated\": false, \"stderr_truncated\": false}");

	st = CLI("run", "--json", "--", "sh", "-c", "echo e >&2; exit 3");
	CHECK(st == 3);
	CHECK_JSON("{\"exit_code\": 3, \"reason\": \"exited\", \"stderr\": \"e\\n\"}");

	/* Binary output stays valid JSON: NUL escaped, invalid UTF-8 replaced. */
	st = CLI("run", "--json", "--", "printf", "\\000\\377\"\\\\\\n\\t");
	CHECK(st == 0);
	CHECK_JSON("{\"stdout\": \"\\u0000\\ufffd\\\"\\\\\\n\\t\"}");

	/* Odd bytes: overlong, surrogate, truncated, above U+10FFFF, a byte that
	 * is never UTF-8; well-formed text and control characters around them. */
	st = CLI(
		"run", "--json", "--", "printf",
		"\\300\\257|\\355\\240\\200|\\342\\202|\\364\\220\\200\\200|"
		"\\303\\251\\342\\202\\254\\360\\237\\230\\200|\\001\\033\\177/|\\370\\200|\\342\\202");
	CHECK(st == 0);
	CHECK_JSON("{\"stdout\": \"\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd|"
		   "\\ufffd\\ufffd\\ufffd\\ufffd|\\u00e9\\u20ac\\ud83d\\ude00|"
		   "\\u0001\\u001b\\u007f/|\\ufffd\\ufffd|\\ufffd\", \"stdout_total_bytes\": 35}");
	/* The same on stderr, and a capture cut in the middle of a character. */
	st = CLI("run", "--json", "--output-limit", "4", "--", "sh", "-c",
		 "printf '\\342\\202\\254\\342\\202\\254'; printf '\\377x' >&2");
	CHECK(st == 0);
	CHECK_JSON("{\"stdout\": \"\\u20ac\\ufffd\", \"stdout_truncated\": true,"
		   " \"stderr\": \"\\ufffdx\", \"stderr_truncated\": false}");

	st = CLI("run", "--json", "--", "sh", "-c", "kill -TERM $$");
	CHECK_MSG(st == 143, "status %d", st);
	CHECK_JSON("{\"exit_code\": null, \"signal\": 15, \"reason\": \"signaled\"}");

	st = CLI("run", "--json", "--timeout", "300ms", "--", "sleep", "10");
	CHECK_MSG(st == 124, "status %d", st);
	CHECK_JSON("{\"reason\": \"timeout\"}");

	st = CLI("run", "--json", "--output-limit", "10", "--", "sh", "-c",
		 "echo 0123456789abcdef");
	CHECK(st == 0);
	CHECK_JSON("{\"stdout\": \"0123456789\", \"stdout_truncated\": true}");

	/* A program that cannot start still gets its object (and the status). */
	st = CLI("run", "--json", "--", "/nonexistent/program");
	CHECK_MSG(st == 127, "status %d", st);
	CHECK_JSON(
		"{\"exit_code\": 127, \"signal\": null, \"reason\": \"failed\", \"stdout\": \"\"}");
	CHECK(strstr(out, "/nonexistent/program") != NULL);
	/* The library's message, with the bytes of the path, is valid too. */
	st = CLI("run", "--json", "--", "/nonexistent/\xff");
	CHECK_MSG(st == 127, "status %d", st);
	CHECK_JSON("{\"exit_code\": 127, \"reason\": \"failed\"}");
	CHECK_MSG(strstr(out, "\"error\":") && strstr(out, "/nonexistent/\xef\xbf\xbd"),
		  "error does not hold the path: %s", out);
	st = CLI("run", "--json", "--", "/etc/hostname");
	CHECK_MSG(st == 126, "status %d", st);
	CHECK_JSON("{\"exit_code\": 126, \"reason\": \"failed\"}");
}

static void test_limits(void)
{
	/* --memory and --pids need the cgroup controllers. */
	int mode = petri_ctx_cgroup_mode(petri_test_ctx());
	petri_test_ctx_free();
	if (mode == PETRI_CGROUP_NONE)
		petri_test_skip("no cgroup memory/pids controllers: --memory and --pids untested");
	int st = CLI("run", "--json", "--memory", "64M", "--lang", "python", "-c",
		     "chunks = []\nfor i in range(50):\n    chunks.append(b'x' * (10 << 20))\n");
	CHECK_MSG(st == 137, "memory bomb: status %d (stderr %s)", st, err);
	CHECK_JSON("{\"reason\": \"memory\", \"signal\": 9}");

	st = CLI("run", "--json", "--pids", "16", "--lang", "python", "-c",
		 "import os, time\nfor i in range(100):\n    if os.fork() == 0:\n"
		 "        time.sleep(10)\n        os._exit(0)\n");
	CHECK_MSG(st == 1, "fork bomb: status %d (stderr %s)", st, err);
	CHECK_JSON("{\"reason\": \"pids\", \"exit_code\": 1}");
}

static char *write_tmp(const char *suffix, const char *content)
{
	char *path = malloc(64);
	snprintf(path, 64, "/tmp/petri-cli-XXXXXX%s", suffix);
	int fd = mkstemps(path, (int)strlen(suffix));
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, content, strlen(content)) == (ssize_t)strlen(content));
	fchmod(fd, 0644);
	close(fd);
	return path;
}

static void test_lang(void)
{
	CHECK_RUN(0, "2\n", "run", "--lang", "python", "-c", "print(1 + 1)");
	CHECK_RUN(0, "['x', 'y z']\n", "run", "--lang", "python", "-c",
		  "import sys; print(sys.argv[1:])", "--", "x", "y z");
	CHECK_RUN(0, "sh ok\n", "run", "--lang", "sh", "-c", "echo sh ok");
	CHECK_RUN(0, "a b\n", "run", "--lang", "sh", "-c", "echo $1 $2", "--", "a", "b");
	CHECK_RUN(0, "3\n", "run", "--lang", "node", "-c", "console.log(1 + 2)");

	/* -c CODE -- ARGS: each language's code gets ARGS as its arguments,
	 * after its own file, also ARGS that look like the interpreter's
	 * options, empty ones and ones with spaces. */
	CHECK_RUN(0, "['/run/petri/main.py', '-c', '--version', '', 'y z']\n", "run", "--lang",
		  "python", "-c", "import sys; print(sys.argv)", "--", "-c", "--version", "",
		  "y z");
	CHECK_RUN(0, "[\"/run/petri/main.js\",\"-e\",\"--version\",\"\",\"y z\"]\n", "run",
		  "--lang", "node", "-c", "console.log(JSON.stringify(process.argv.slice(1)))",
		  "--", "-e", "--version", "", "y z");
	CHECK_RUN(0, "/run/petri/main.sh 4 [-x] [--version] [] [y z]\n", "run", "--lang", "sh",
		  "-c", "printf '%s %s' \"$0\" $#; printf ' [%s]' \"$@\"; echo", "--", "-x",
		  "--version", "", "y z");
	/* No ARGS after --: none. */
	CHECK_RUN(0, "['/run/petri/main.py']\n", "run", "--lang", "python", "-c",
		  "import sys; print(sys.argv)", "--");

	char *py = write_tmp(".py", "import os, sys\nprint(sys.argv[1:])\nprint(os.getcwd())\n");
	CHECK_RUN(0, "['a', 'b c']\n/workspace\n", "run", "--lang", "python", py, "a", "b c");
	char *sh = write_tmp(".sh", "echo \"sh file $#: $1\"\n");
	CHECK_RUN(0, "sh file 1: arg\n", "run", "--lang", "sh", sh, "arg");
	unlink(sh);
	free(sh);
	/* FILE runs from /workspace, under its own name, alone there. */
	char want[256];
	sh = write_tmp(".sh", "echo \"$0\" $(ls /workspace)\n");
	snprintf(want, sizeof(want), "/workspace/%s %s\n", strrchr(sh, '/') + 1,
		 strrchr(sh, '/') + 1);
	CHECK_RUN(0, want, "run", "--lang", "sh", sh);
	char *js = write_tmp(".js", "console.log(JSON.stringify(process.argv.slice(1)))\n");
	snprintf(want, sizeof(want), "[\"/workspace/%s\",\"--version\"]\n", strrchr(js, '/') + 1);
	CHECK_RUN(0, want, "run", "--lang", "node", js, "--version");
	unlink(py);
	unlink(sh);
	unlink(js);
	free(py);
	free(sh);
	free(js);

	/* Empty code is a program that does nothing. */
	CHECK_RUN(0, "", "run", "--lang", "python", "-c", "");
	CHECK_RUN(0, "", "run", "--lang", "sh", "-c", "");
	CHECK_RUN(0, "", "run", "--lang", "node", "-c", "");

	/* A Go program's exit status, signal and arguments are its own (not
	 * `go run`'s status 1), by each path: code, code with ARGS, FILE. */
	static const char go_exit[] =
		"package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t"
		"\"syscall\"\n)\n\nfunc main() {\n\tfmt.Printf(\"%q\\n\", "
		"os.Args[1:])\n\tif len(os.Args) > 1 && os.Args[1] == \"kill\" "
		"{\n\t\tsyscall.Kill(os.Getpid(), syscall.SIGKILL)\n\t}\n\t"
		"os.Exit(5)\n}\n";
	CHECK_RUN(5, "[]\n", "run", "--lang", "go", "-c", go_exit);
	CHECK_RUN(5, "[\"x\" \"y z\"]\n", "run", "--lang", "go", "-c", go_exit, "--", "x", "y z");
	CHECK_RUN(128 + 9, "[\"kill\"]\n", "run", "--lang", "go", "-c", go_exit, "--", "kill");
	CHECK_RUN(5, "[\"-x\" \"\" \"--\"]\n", "run", "--lang", "go", "-c", go_exit, "--", "-x", "",
		  "--");
	char *go = write_tmp(".go", go_exit);
	CHECK_RUN(5, "[\"a\" \"b c\"]\n", "run", "--lang", "go", go, "a", "b c");
	CHECK_RUN(128 + 9, "[\"kill\"]\n", "run", "--lang", "go", go, "kill");
	CHECK(strstr(err, "exit status") == NULL && strstr(err, "signal: killed") == NULL);
	unlink(go);
	free(go);
}

static void test_env_stdin(void)
{
	setenv("PETRI_CLI_HOST_SECRET", "leaked", 1);
	int st = CLI("run", "--env", "FOO=bar", "-e", "BAZ=a=b", "--", "/usr/bin/env");
	CHECK(st == 0);
	CHECK_MSG(strstr(out, "FOO=bar\n") && strstr(out, "BAZ=a=b\n"), "env: %s", out);
	CHECK_MSG(!strstr(out, "PETRI_CLI_HOST_SECRET"), "host env leaked: %s", out);
	unsetenv("PETRI_CLI_HOST_SECRET");

	char *in = write_tmp(".txt", "line one\nline two\n");
	CHECK_RUN(0, "line one\nline two\n", "run", "--stdin", in, "--", "cat");
	unlink(in);
	free(in);
}

static void test_bind_workspace(void)
{
	/* World-writable, so that only the mount decides whether the sandbox
	 * (another uid) can write. */
	char dir[] = "/tmp/petri-cli-bind-XXXXXX";
	REQUIRE(mkdtemp(dir));
	REQUIRE(chmod(dir, 0777) == 0);
	char p[128];
	snprintf(p, sizeof(p), "%s/f", dir);
	FILE *f = fopen(p, "we");
	REQUIRE(f);
	fputs("bound\n", f);
	fclose(f);
	chmod(p, 0644);

	char spec[128];
	snprintf(spec, sizeof(spec), "%s:/data", dir);
	CHECK_RUN(0, "bound\nREFUSED\n", "run", "--bind", spec, "--", "sh", "-c",
		  "cat /data/f; if echo x > /data/new 2>/dev/null; then echo WROTE; else echo "
		  "REFUSED; fi");
	char *s = api_host_read(dir, "new");
	CHECK_MSG(!s, "read-only bind was written on the host");
	free(s);
	snprintf(spec, sizeof(spec), "%s:/data:ro", dir);
	CHECK_RUN(0, "REFUSED\n", "run", "--bind", spec, "--", "sh", "-c",
		  "if echo x > /data/new 2>/dev/null; then echo WROTE; else echo REFUSED; fi");

	snprintf(spec, sizeof(spec), "%s:/data:rw", dir);
	CHECK_RUN(0, "", "run", "--bind", spec, "--", "sh", "-c", "echo written > /data/new");
	s = api_host_read(dir, "new");
	CHECK_MSG(s && strcmp(s, "written\n") == 0, "rw bind: host sees '%s'", s ? s : "(none)");
	free(s);

	/* --workspace: a directory of an ordinary user (as root: 4242:4243,
	 * mode 0755): host files inside, files of the code on the host. */
	char ws[] = "/tmp/petri-cli-ws-XXXXXX";
	REQUIRE(mkdtemp(ws));
	REQUIRE(chmod(ws, 0755) == 0);
	snprintf(p, sizeof(p), "%s/f", ws);
	f = fopen(p, "we");
	REQUIRE(f);
	fputs("in workspace\n", f);
	fclose(f);
	if (geteuid() == 0) {
		/* A root-owned one is refused (root's files are not the code's). */
		BAD("root", "run", "--workspace", ws, "--", "true");
		REQUIRE(chown(ws, 4242, 4243) == 0 && chown(p, 4242, 4243) == 0);
	}
	CHECK_RUN(0, "in workspace\n", "run", "--workspace", ws, "--", "sh", "-c",
		  "cat f && echo made > made.txt");
	s = api_host_read(ws, "made.txt");
	CHECK_MSG(s && strcmp(s, "made\n") == 0, "--workspace: host sees '%s'", s ? s : "(none)");
	free(s);
	char rm[128];
	snprintf(rm, sizeof(rm), "rm -rf '%s'", ws);
	CHECK(system(rm) == 0);

	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

static void test_bad_input(void)
{
	char *file = write_tmp(".py", "print(1)\n");
	BAD("bogus", "run", "--bogus", "--", "true");
	BAD("timeout", "run", "--timeout");
	BAD("abc", "run", "--memory", "abc", "--", "true");
	BAD("timeout", "run", "--timeout", "abc", "--", "true");
	BAD("timeout", "run", "--timeout", "0", "--", "true");
	BAD("timeout", "run", "--timeout", "-1", "--", "true");
	BAD("pids", "run", "--pids", "0", "--", "true");
	BAD("pids", "run", "--pids", "-3", "--", "true");
	BAD("memory", "run", "--memory", "0", "--", "true");
	BAD("memory", "run", "--memory", "1M", "--", "true"); /* below the library's minimum */
	BAD("cobol", "run", "--lang", "cobol", "-c", "x");
	/* ... and the message names every language the library knows. */
	for (uint32_t i = 0; petri_language_name(i); i++)
		CHECK_MSG(strstr(err, petri_language_name(i)), "--lang cobol: '%s' lacks %s", err,
			  petri_language_name(i));
	CHECK_MSG(petri_language_name(3) && !petri_language_name(4), "not four languages");
	BAD("FILE", "run", "--lang", "python");
	BAD("/nonexistent/petri.py", "run", "--lang", "python", "/nonexistent/petri.py");
	BAD("-c", "run", "--lang", "python", "-c", "print(1)", file);
	BAD("--lang", "run", "-c", "print(1)");
	BAD("/nonexistent/petri-src", "run", "--bind", "/nonexistent/petri-src:/data", "--",
	    "true");
	BAD("/proc", "run", "--bind", "/tmp:/proc", "--", "true");
	BAD("NOEQUALS", "run", "--env", "NOEQUALS", "--", "true");
	BAD("/nonexistent/petri-ws", "run", "--workspace", "/nonexistent/petri-ws", "--", "true");
	BAD("bad!", "run", "--hostname", "bad!", "--", "true");
	BAD("bad id", "run", "--id", "bad id", "--", "true");
	BAD("--allow", "run", "--net", "proxy", "--", "true");
	BAD("--net proxy", "run", "--allow", "example.com", "--", "true");
	BAD("--net proxy", "run", "--net-max-conns", "5", "--", "true");
	BAD("bogus", "run", "--net", "bogus", "--", "true");
	BAD("/nonexistent/dir", "run", "--cwd", "/nonexistent/dir", "--", "true");
	BAD("/etc/hostname", "run", "--cwd", "/etc/hostname", "--", "true");
	BAD("workspace size", "run", "--workspace", "/tmp", "--workspace-size", "10M", "--",
	    "true");
	BAD("json", "run", "--json=yes", "--", "true");
	BAD("program", "run");
	BAD("program", "run", "--");
	BAD("program", "run", "--json");
	BAD("frobnicate", "frobnicate");
	unlink(file);
	free(file);

	/* No command at all. */
	const char *const none[] = {NULL};
	int st = cli(none);
	CHECK_MSG(st == 125 && strncmp(err, "petri: ", 7) == 0 &&
			  strchr(err, '\n') == err + strlen(err) - 1,
		  "no command: %d '%s'", st, err);
}

/* --secret and --upstream-ca (README "Secrets"): the value comes from the
 * environment or a file, never shows in errors, --json or the output, and
 * every mistake is one line and 125. */
#define CLI_SECRET "petri-cli-secret-value-8d2f"
static void test_secrets(void)
{
	REQUIRE(setenv("PETRI_TEST_TOKEN", CLI_SECRET, 1) == 0);
	unsetenv("PETRI_TEST_UNSET");
	REQUIRE(setenv("PETRI_TEST_EMPTY", "", 1) == 0);
	char *empty = write_tmp(".key", "");
	char *nl = write_tmp(".key", "file-value-42\n");

	BAD("--net proxy", "run", "--net", "none", "--secret", "PETRI_TEST_TOKEN@api.example.test",
	    "--", "true");
	BAD("--net proxy", "run", "--net", "host", "--secret", "PETRI_TEST_TOKEN@api.example.test",
	    "--", "true");
	BAD("--secret", "run", "--net", "proxy", "--upstream-ca", "/etc/hostname", "--", "true");
	BAD("PETRI_TEST_UNSET", "run", "--net", "proxy", "--secret",
	    "PETRI_TEST_UNSET@api.example.test", "--", "true");
	BAD("PETRI_TEST_EMPTY", "run", "--net", "proxy", "--secret",
	    "PETRI_TEST_EMPTY@api.example.test", "--", "true");
	BAD("NAME@HOST", "run", "--net", "proxy", "--secret", "PETRI_TEST_TOKEN", "--", "true");
	BAD("NAME@HOST", "run", "--net", "proxy", "--secret", "@api.example.test", "--", "true");
	BAD("NAME@HOST", "run", "--net", "proxy", "--secret", "PETRI_TEST_TOKEN@", "--", "true");
	BAD("empty HOST", "run", "--net", "proxy", "--secret", "PETRI_TEST_TOKEN@a.test,,b.test",
	    "--", "true");
	BAD("FILE", "run", "--net", "proxy", "--secret", "PETRI_TEST_TOKEN@a.test=@", "--", "true");
	BAD("/nonexistent/petri.key", "run", "--net", "proxy", "--secret",
	    "K@a.test=@/nonexistent/petri.key", "--", "true");
	char spec[600];
	snprintf(spec, sizeof(spec), "K@a.test=@%s", empty);
	BAD("is empty", "run", "--net", "proxy", "--secret", spec, "--", "true");
	unlink(empty);
	free(empty);
	BAD("BAD-NAME", "run", "--net", "proxy", "--secret", "BAD-NAME@a.test=@/etc/hostname", "--",
	    "true");
	BAD("1X", "run", "--net", "proxy", "--secret", "1X@a.test=@/etc/hostname", "--", "true");
	/* The library's checks, through the CLI: the hosts, the CA file. */
	BAD("exa mple.test", "run", "--net", "proxy", "--secret", "PETRI_TEST_TOKEN@exa mple.test",
	    "--", "true");
	BAD("/nonexistent/ca.pem", "run", "--net", "proxy", "--secret",
	    "PETRI_TEST_TOKEN@api.example.test", "--upstream-ca", "/nonexistent/ca.pem", "--",
	    "true");
	CHECK_MSG(!strstr(err, CLI_SECRET), "an error shows the value: %s", err);

	/* Inside: the placeholder; the value printed by the code is masked in
	 * what petri prints and in --json. */
	int st = CLI("run", "--net", "proxy", "--secret", "PETRI_TEST_TOKEN@api.example.test", "--",
		     "sh", "-c", "printf '%s|' \"$PETRI_TEST_TOKEN\"; printf " CLI_SECRET);
	CHECK_MSG(st == 0 && strncmp(out, "petri-vault-", 12) == 0 && !strstr(out, CLI_SECRET) &&
			  strstr(out, "|***************************") != NULL,
		  "secret run: %d '%s' '%s'", st, out, err);
	/* Without --net, --secret means --net proxy (the only way a secret is
	 * ever sent). */
	st = CLI("run", "--secret", "PETRI_TEST_TOKEN@api.example.test", "--", "sh", "-c",
		 "printf '%s' \"$HTTPS_PROXY\"");
	CHECK_MSG(st == 0 && strcmp(out, "http://127.0.0.1:3128") == 0,
		  "implied proxy: %d '%s' '%s'", st, out, err);
	st = CLI("run", "--json", "--net", "proxy", "--secret", "PETRI_TEST_TOKEN@api.example.test",
		 "--", "sh", "-c", "printf " CLI_SECRET);
	CHECK(st == 0);
	CHECK_JSON("{\"stdout\": \"***************************\"}");
	CHECK_MSG(!strstr(out, CLI_SECRET) && !strstr(err, CLI_SECRET), "--json shows the value");
	/* From a file: its one trailing newline is not part of the value. */
	snprintf(spec, sizeof(spec), "FILE_KEY@api.example.test=@%s", nl);
	st = CLI("run", "--net", "proxy", "--secret", spec, "--", "sh", "-c",
		 "printf 'file-value-42\\n'");
	CHECK_MSG(st == 0 && strcmp(out, "*************\n") == 0, "file secret: %d '%s' '%s'", st,
		  out, err);
	unlink(nl);
	free(nl);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(status),    PETRI_TEST_CASE(json),           PETRI_TEST_CASE(lang),
	PETRI_TEST_CASE(env_stdin), PETRI_TEST_CASE(bind_workspace), PETRI_TEST_CASE(bad_input),
	PETRI_TEST_CASE(limits),    PETRI_TEST_CASE(secrets),        {NULL, NULL},
};

int main(int argc, char **argv)
{
	api_watchdog(150);
	REQUIRE(getenv("PETRI_CLI"));
	REQUIRE(access(PY, X_OK) == 0);
	return petri_test_main(argc, argv, cases);
}
