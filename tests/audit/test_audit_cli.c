/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_audit_cli - `petri audit cat|json|verify`:
 *  - an intact stream: verify exits 0; cat prints one line per event; json
 *    prints one JSON object per line with metadata.sequence = seq;
 *  - tampered streams (flipped byte, removed, reordered, truncated, no end):
 *    verify exits 1 with "first bad seq N" naming the right N;
 *  - garbage and hostile input (empty, random bytes, huge length prefix,
 *    a directory, a missing file, bad usage): a non-zero exit with exactly
 *    one line on stderr, never a signal.
 * Runs the standalone build of tools/audit.c ($PETRI_AUDIT_CLI) and
 * `petri audit` ($PETRI_CLI), each a case of its own per part.
 */
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "petri_test.h"
#include "audit_sample.h"

static char dir[] = "/tmp/petri-audit-cli-XXXXXX";

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	REQUIRE(f);
	char *buf = calloc(1, 1 << 22);
	REQUIRE(buf);
	size_t n = fread(buf, 1, (1 << 22) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Run @argv; return the exit status, or 1000+signal when killed. */
static int run(const char *const *argv, char **out, char **err)
{
	char o[256], e[256];
	snprintf(o, sizeof(o), "%s/out", dir);
	snprintf(e, sizeof(e), "%s/err", dir);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		int fo = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int fe = open(e, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fo, 1);
		dup2(fe, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	int st;
	REQUIRE(waitpid(pid, &st, 0) == pid);
	*out = slurp(o);
	*err = slurp(e);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void write_file(const char *path, const void *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, p, len) == (ssize_t)len);
	close(fd);
}

/* argv prefix: {cli} or {cli, "audit"} */
static int audit(const char *cli, int with_audit, const char *cmd, const char *file, char **out,
		 char **err)
{
	const char *argv[6];
	int i = 0;
	argv[i++] = cli;
	if (with_audit)
		argv[i++] = "audit";
	argv[i++] = cmd;
	if (file)
		argv[i++] = file;
	argv[i] = NULL;
	return run(argv, out, err);
}

static void expect_bad(const char *cli, int wa, const char *file, int seq, const char *what)
{
	char *out, *err;
	int st = audit(cli, wa, "verify", file, &out, &err);
	CHECK_MSG(st == 1, "%s: verify exit %d", what, st);
	char want[64];
	snprintf(want, sizeof(want), "first bad seq %d:", seq);
	CHECK_MSG(strstr(err, want) != NULL, "%s: stderr '%s' lacks '%s'", what, err, want);
	CHECK_MSG(count_lines(err) == 1, "%s: %d lines on stderr", what, count_lines(err));
	free(out);
	free(err);
	/* cat stops at the same place with an error. */
	st = audit(cli, wa, "cat", file, &out, &err);
	CHECK_MSG(st == 1 && count_lines(err) == 1 && count_lines(out) <= seq, "%s: cat exit %d",
		  what, st);
	free(out);
	free(err);
}

static void expect_garbage(const char *cli, int wa, const char *cmd, const char *file,
			   const char *what)
{
	char *out, *err;
	int st = audit(cli, wa, cmd, file, &out, &err);
	CHECK_MSG(st >= 1 && st < 128, "%s (%s): exit %d", what, cmd, st);
	CHECK_MSG(count_lines(err) == 1, "%s (%s): stderr '%s'", what, cmd, err);
	free(out);
	free(err);
}

/* The sample stream, and the intact copy of it in @dir: each case makes its
 * own (cleanup() removes them). */
static struct mem_sink m;
static char good[256];

static void setup(void)
{
	REQUIRE(mkdtemp(dir));
	petri_audit *a = sample_open_mem(&m);
	sample_emit_all(a);
	REQUIRE(petri_audit_close(a, NULL) == 0);
	snprintf(good, sizeof(good), "%s/good.audit", dir);
	write_file(good, m.p, m.len);
}

static void cleanup(void)
{
	const char *names[] = {"out", "err", "good.audit", "bad.audit"};
	char p[300];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
	free(m.p);
}

/* The CLI under test: the standalone build of tools/audit.c
 * ($PETRI_AUDIT_CLI, @wa 0), or `petri audit` ($PETRI_CLI, @wa 1). */
static const char *cli_path(int wa)
{
	const char *cli = getenv(wa ? "PETRI_CLI" : "PETRI_AUDIT_CLI");
	if (!cli)
		fprintf(stderr, "%s is not set\n", wa ? "PETRI_CLI" : "PETRI_AUDIT_CLI");
	REQUIRE(cli);
	return cli;
}

/* The intact stream: verify says so; cat, json and stdin read it whole. */
static void check_intact(int wa)
{
	setup();
	const char *cli = cli_path(wa);
	char *out, *err;

	CHECK(audit(cli, wa, "verify", good, &out, &err) == 0);
	CHECK(strstr(out, "intact") != NULL);
	free(out);
	free(err);
	CHECK(audit(cli, wa, "cat", good, &out, &err) == 0);
	CHECK_MSG(count_lines(out) == SAMPLE_EVENTS, "cat: %d lines", count_lines(out));
	CHECK(strstr(out, "0 ") == out && strstr(out, "stream_header") != NULL);
	CHECK(strstr(out, "file_activity") && strstr(out, "op=rename"));
	free(out);
	free(err);
	CHECK(audit(cli, wa, "json", good, &out, &err) == 0);
	CHECK(count_lines(out) == SAMPLE_EVENTS);
	int seq = 0;
	for (char *line = out; *line; seq++) {
		char *nl = strchr(line, '\n');
		REQUIRE(nl);
		*nl = '\0';
		char want[48];
		snprintf(want, sizeof(want), "\"sequence\":%d,", seq);
		CHECK_MSG(line[0] == '{' && nl[-1] == '}' && strstr(line, want), "json line %d: %s",
			  seq, line);
		CHECK(strstr(line, "\"product\":{\"name\":\"libpetri\"") != NULL);
		line = nl + 1;
	}
	free(out);
	free(err);
	/* stdin. */
	{
		pid_t pid = fork();
		REQUIRE(pid >= 0);
		if (pid == 0) {
			int fd = open(good, O_RDONLY);
			dup2(fd, 0);
			int dn = open("/dev/null", O_WRONLY);
			dup2(dn, 1);
			if (wa)
				execl(cli, cli, "audit", "verify", "-", (char *)NULL);
			else
				execl(cli, cli, "verify", "-", (char *)NULL);
			_exit(127);
		}
		int st;
		waitpid(pid, &st, 0);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	cleanup();
}

/* Tampered streams: verify and cat stop at the first bad seq. */
static void check_tampered(int wa)
{
	setup();
	const char *cli = cli_path(wa);
	const uint8_t *s = m.p;
	size_t len = m.len;
	char f[256];
	size_t offs[64];
	int n = sample_frames(s, len, offs, 63);
	REQUIRE(n == SAMPLE_EVENTS);
	uint8_t *t = malloc(len + 64);
	REQUIRE(t);
	snprintf(f, sizeof(f), "%s/bad.audit", dir);

	memcpy(t, s, len); /* a flipped byte in event 5 */
	t[offs[5] + 9] ^= 0x01;
	write_file(f, t, len);
	expect_bad(cli, wa, f, 5, "flipped byte");
	/* event 3 removed */
	memcpy(t, s, offs[3]);
	memcpy(t + offs[3], s + offs[4], len - offs[4]);
	write_file(f, t, len - (offs[4] - offs[3]));
	expect_bad(cli, wa, f, 3, "removed event");
	/* events 6 and 7 swapped */
	memcpy(t, s, offs[6]);
	memcpy(t + offs[6], s + offs[7], offs[8] - offs[7]);
	memcpy(t + offs[6] + (offs[8] - offs[7]), s + offs[6], offs[7] - offs[6]);
	memcpy(t + offs[8], s + offs[8], len - offs[8]);
	write_file(f, t, len);
	expect_bad(cli, wa, f, 6, "reordered");
	/* truncated inside event 9, at the boundary before 9, no end */
	write_file(f, s, offs[9] + 5);
	expect_bad(cli, wa, f, 9, "truncated inside");
	write_file(f, s, offs[9]);
	expect_bad(cli, wa, f, 9, "truncated at boundary");
	write_file(f, s, offs[n - 1]);
	expect_bad(cli, wa, f, n - 1, "missing end");
	free(t);
	cleanup();
}

/* Garbage and hostile input: one line on stderr, an exit status, no signal. */
static void check_garbage(int wa)
{
	setup();
	const char *cli = cli_path(wa);
	char f[256];
	uint8_t t[64];
	snprintf(f, sizeof(f), "%s/bad.audit", dir);
	const char *cmds[] = {"verify", "cat", "json"};
	for (int c = 0; c < 3; c++) {
		write_file(f, "", 0);
		expect_garbage(cli, wa, cmds[c], f, "empty");
		for (int i = 0; i < 64; i++)
			t[i] = (uint8_t)(i * 37 + 11);
		write_file(f, t, 64);
		expect_garbage(cli, wa, cmds[c], f, "random bytes");
		write_file(f, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);
		expect_garbage(cli, wa, cmds[c], f, "huge length");
		write_file(f, "\x05\x08\x01\x10\x02\x00", 6);
		expect_garbage(cli, wa, cmds[c], f, "not an event");
		write_file(f, "{\"seq\": 1}\n", 11);
		expect_garbage(cli, wa, cmds[c], f, "json text");
		expect_garbage(cli, wa, cmds[c], "/nonexistent/x.audit", "missing file");
		expect_garbage(cli, wa, cmds[c], dir, "a directory");
		expect_garbage(cli, wa, cmds[c], NULL, "no file");
	}
	expect_garbage(cli, wa, "frobnicate", good, "unknown command");
	cleanup();
}

static void test_standalone_intact(void)
{
	check_intact(0);
}

static void test_standalone_tampered(void)
{
	check_tampered(0);
}

static void test_standalone_garbage(void)
{
	check_garbage(0);
}

/* `petri audit` itself: the subcommand is there (its --help names verify),
 * then the same checks. */
static void test_petri_audit_help(void)
{
	setup();
	char *out, *err;
	int st = audit(cli_path(1), 1, "--help", NULL, &out, &err);
	CHECK_MSG(st == 0 && strstr(out, "petri audit verify"), "petri audit --help: exit %d: %s%s",
		  st, out, err);
	free(out);
	free(err);
	cleanup();
}

static void test_petri_intact(void)
{
	check_intact(1);
}

static void test_petri_tampered(void)
{
	check_tampered(1);
}

static void test_petri_garbage(void)
{
	check_garbage(1);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(standalone_intact),  PETRI_TEST_CASE(standalone_tampered),
	PETRI_TEST_CASE(standalone_garbage), PETRI_TEST_CASE(petri_audit_help),
	PETRI_TEST_CASE(petri_intact),       PETRI_TEST_CASE(petri_tampered),
	PETRI_TEST_CASE(petri_garbage),      {NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
