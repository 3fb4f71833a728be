/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_bad_input_api - every public function refuses bad input cleanly:
 * it returns the documented negative errno, fills a petri_error with the same
 * code and a one-line, non-empty message that names the problem, leaves its
 * output parameters untouched, and leaves nothing behind (fd count, mount
 * count and this process's petri cgroups unchanged after each failing call).
 * Also: every destructor and getter accepts NULL, a NULL petri_error **
 * still gets the errno, a second exec while one runs gets -EBUSY, and after
 * all the refused calls the same sandbox still runs an exec.
 * (Use of a destroyed handle is undefined behaviour and is not tested.)
 */
#include <pthread.h>
#include <signal.h>
#include <stddef.h>

#include "api_common.h"

static int base_fds, base_mounts, base_cgroups;
static unsigned char base_open[1024];

/* Which fd numbers are open (below 1024). */
static void open_fds(unsigned char *open)
{
	memset(open, 0, 1024);
	for (int fd = 0; fd < 1024; fd++)
		open[fd] = fcntl(fd, F_GETFD) >= 0;
}

static void baseline(void)
{
	open_fds(base_open);
	base_fds = petri_test_count_fds();
	base_mounts = petri_test_count_mounts();
	base_cgroups = api_count_cgroups_of(getpid());
}

static void check_nothing_left(const char *what, int line)
{
	int fds = petri_test_count_fds(), mounts = petri_test_count_mounts(),
	    cgs = api_count_cgroups_of(getpid());
	if (fds != base_fds || mounts != base_mounts || cgs != base_cgroups) {
		fprintf(stderr,
			"line %d: %s left something: fds %d->%d mounts %d->%d cgroups %d->%d\n",
			line, what, base_fds, fds, base_mounts, mounts, base_cgroups, cgs);
		unsigned char now[1024];
		open_fds(now);
		for (int fd = 0; fd < 1024; fd++)
			if (now[fd] != base_open[fd])
				fprintf(stderr, "  fd %d was %s\n", fd,
					now[fd] ? "left open" :
						  "closed by the library (not its own)");
		petri_test_failures++;
		baseline();
	}
}

#define SENTINEL ((void *)0x5e5e5e5e)

/* The sandbox the exec and file cases use. */
static petri_sandbox *sb;

/* Before each case: the context, its supervisor thread and one sandbox
 * exist before counting, so lazily made things are not counted as leaks. */
static void setup(void)
{
	sb = api_sandbox(NULL);
	petri_result *r = API_SH(sb, "true");
	petri_result_free(r);
	baseline();
}

/* After each case: nothing is left behind; the sandbox goes. */
static void teardown(const char *what)
{
	check_nothing_left(what, __LINE__);
	petri_sandbox_destroy(sb);
	sb = NULL;
}

/* ---- contexts ---- */

static void ctx_fail(const petri_ctx_opts *o, int want, const char *needle, const char *what,
		     int line)
{
	petri_ctx *ctx = SENTINEL;
	petri_error *e = NULL;
	int r = petri_ctx_new(&ctx, o, &e);
	api_check_error(r, e, want, needle, what, line);
	if (r == 0)
		petri_ctx_free(ctx);
	else if (ctx != SENTINEL)
		fprintf(stderr, "line %d: %s: *out changed on failure\n", line, what),
			petri_test_failures++;
	petri_error_free(e);
	check_nothing_left(what, line);
}

static void test_ctx(void)
{
	setup();
	petri_error *e = NULL;
	int r = petri_ctx_new(NULL, NULL, &e);
	api_check_error(r, e, EINVAL, "out", "petri_ctx_new(out NULL)", __LINE__);
	petri_error_free(e);

	petri_ctx_opts o = PETRI_CTX_OPTS_INIT;
	o.sz = 0;
	ctx_fail(&o, EINVAL, "sz", "ctx opts sz 0", __LINE__);
	o.sz = 3;
	ctx_fail(&o, EINVAL, "sz", "ctx opts sz 3", __LINE__);
	o.sz = 0xdeadbeef;
	ctx_fail(&o, EINVAL, "sz", "ctx opts sz garbage", __LINE__);
	o = (petri_ctx_opts)PETRI_CTX_OPTS_INIT;
	o.flags = 1u << 30;
	ctx_fail(&o, EINVAL, "flags", "ctx unknown flags", __LINE__);
	/* A base that leaves no room below 2^32 - 1 for a range of 65536 ids. */
	o = (petri_ctx_opts)PETRI_CTX_OPTS_INIT;
	o.host_uid_base = 0xffff0000u;
	ctx_fail(&o, EINVAL, "host_uid_base", "ctx host_uid_base too high", __LINE__);
	o.host_uid_base = 0xfffeffffu; /* the highest that fits: accepted */
	petri_ctx *top = NULL;
	CHECK(petri_ctx_new(&top, &o, NULL) == 0);
	petri_ctx_free(top);

	/* A newer caller's bigger struct: unknown fields set → refused; all
	 * zero → accepted (forward compatibility). */
	struct {
		petri_ctx_opts o;
		uint64_t future;
	} big;
	memset(&big, 0, sizeof(big));
	big.o = (petri_ctx_opts)PETRI_CTX_OPTS_INIT;
	big.o.sz = sizeof(big);
	big.future = 1;
	ctx_fail(&big.o, EINVAL, NULL, "ctx opts with an unknown field set", __LINE__);
	big.future = 0;
	petri_ctx *ctx = NULL;
	e = NULL;
	r = petri_ctx_new(&ctx, &big.o, &e);
	CHECK_MSG(r == 0, "bigger ctx opts with zero tail refused: %s", petri_error_message(e));
	petri_error_free(e);
	petri_ctx_free(ctx);
	check_nothing_left("ctx new/free", __LINE__);

	/* NULL err: the errno still comes back. */
	o = (petri_ctx_opts)PETRI_CTX_OPTS_INIT;
	o.sz = 1;
	ctx = SENTINEL;
	CHECK(petri_ctx_new(&ctx, &o, NULL) == -EINVAL);
	CHECK(ctx == SENTINEL);
	teardown("ctx");
}

/* ---- sandboxes ---- */

static void create_fail(const petri_sandbox_opts *o, int want, const char *needle, const char *what,
			int line)
{
	petri_sandbox *made = SENTINEL;
	petri_error *e = NULL;
	int r = petri_sandbox_create(petri_test_ctx(), o, &made, &e);
	api_check_error(r, e, want, needle, what, line);
	if (r == 0)
		petri_sandbox_destroy(made);
	else if (made != SENTINEL)
		fprintf(stderr, "line %d: %s: *out changed on failure\n", line, what),
			petri_test_failures++;
	petri_error_free(e);
	check_nothing_left(what, line);
}

#define CREATE_FAIL(field, value, want, needle)                                                    \
	do {                                                                                       \
		petri_sandbox_opts _o = PETRI_SANDBOX_OPTS_INIT;                                   \
		_o.field = value;                                                                  \
		create_fail(&_o, want, needle, #field " = " #value, __LINE__);                     \
	} while (0)

/* A proxied sandbox with a one-entry allowlist the library must refuse
 * (EINVAL), naming the entry; nothing left behind (the list is checked
 * before anything starts). */
#define PROXY_FAIL(entry, needle)                                                                  \
	do {                                                                                       \
		petri_sandbox_opts _o = PETRI_SANDBOX_OPTS_INIT;                                   \
		_o.net = PETRI_NET_PROXY;                                                          \
		_o.allow = (const char *const[]){entry, NULL};                                     \
		create_fail(&_o, EINVAL, needle, "allow " entry, __LINE__);                        \
	} while (0)

#define BIND_FAIL(spec, want, needle)                                                              \
	do {                                                                                       \
		petri_sandbox_opts _o = PETRI_SANDBOX_OPTS_INIT;                                   \
		_o.binds = (const char *const[]){spec, NULL};                                      \
		create_fail(&_o, want, needle, "bind " spec, __LINE__);                            \
	} while (0)

static void test_create(void)
{
	setup();
	petri_error *e = NULL;
	petri_sandbox *made = SENTINEL;
	int r = petri_sandbox_create(NULL, NULL, &made, &e);
	api_check_error(r, e, EINVAL, "ctx", "create(ctx NULL)", __LINE__);
	CHECK(made == SENTINEL);
	petri_error_free(e);
	e = NULL;
	r = petri_sandbox_create(petri_test_ctx(), NULL, NULL, &e);
	api_check_error(r, e, EINVAL, "out", "create(out NULL)", __LINE__);
	petri_error_free(e);
	check_nothing_left("create NULLs", __LINE__);

	CREATE_FAIL(sz, 0, EINVAL, "sz");
	CREATE_FAIL(sz, 2, EINVAL, "sz");
	CREATE_FAIL(sz, 0x7fffffff, EINVAL, "sz");
	CREATE_FAIL(flags, 1u << 31, EINVAL, "flags");
	CREATE_FAIL(language, "cobol", EINVAL, "cobol");
	CREATE_FAIL(language, "", EINVAL, "language");
	CREATE_FAIL(id, "", EINVAL, "id");
	CREATE_FAIL(id, "bad id!", EINVAL, "bad id!");
	CREATE_FAIL(id, "../escape", EINVAL, "../escape");
	CREATE_FAIL(id, "a123456789012345678901234567890123456789012345678", EINVAL, "id");
	CREATE_FAIL(hostname, "bad_host!", EINVAL, "bad_host!");
	CREATE_FAIL(hostname, "", EINVAL, "hostname");
	CREATE_FAIL(hostname, "-leadingdash", EINVAL, "-leadingdash");
	CREATE_FAIL(hostname, "h234567890123456789012345678901234567890123456789012345678901234",
		    EINVAL, "hostname");
	CREATE_FAIL(workspace_dir, "/nonexistent/petri-ws", ENOENT, "/nonexistent/petri-ws");
	CREATE_FAIL(workspace_dir, "relative/ws", EINVAL, "relative/ws");
	CREATE_FAIL(workspace_dir, "/etc/hostname", ENOTDIR, "/etc/hostname");
	CREATE_FAIL(rootfs, "/nonexistent/petri-rootfs", ENOENT, "/nonexistent/petri-rootfs");
	CREATE_FAIL(memory_bytes, 1ull << 20, EINVAL, "memory");
	CREATE_FAIL(memory_bytes, 1, EINVAL, "memory");
	CREATE_FAIL(pids_max, 1, EINVAL, "pids");
	CREATE_FAIL(tmp_bytes, 100, EINVAL, "tmp");
	CREATE_FAIL(workspace_bytes, 100, EINVAL, "workspace");
	CREATE_FAIL(net, PETRI_NET_PROXY, EINVAL, "allowlist");
	PROXY_FAIL("exa mple.test", "exa mple.test");
	PROXY_FAIL("example.test:99999", "99999");
	PROXY_FAIL("example.test:53", "53");
	PROXY_FAIL("*.com", "*.com");
	PROXY_FAIL("example.test=not-an-address", "not-an-address");
	PROXY_FAIL("http://example.test/", "http://example.test/");
	PROXY_FAIL("", "allow");
	CREATE_FAIL(allow, ((const char *const[]){"example.com", NULL}), EINVAL, "proxy");
	CREATE_FAIL(net_max_conns, 10, EINVAL, "proxy");
	CREATE_FAIL(net_max_bytes, 1000, EINVAL, "proxy");
	CREATE_FAIL(reserved3, 1, EINVAL, "reserved3");
	CREATE_FAIL(net, 99, EINVAL, "network");
	CREATE_FAIL(env, ((const char *const[]){"GOOD=1", "NOEQUALS", NULL}), EINVAL, "NOEQUALS");
	CREATE_FAIL(env, ((const char *const[]){"=value", NULL}), EINVAL, "=value");

	BIND_FAIL("/nonexistent/petri-src:/data", ENOENT, "/nonexistent/petri-src");
	BIND_FAIL("relative/src:/data", EINVAL, "relative/src");
	BIND_FAIL("/tmp:/proc", EINVAL, "/proc");
	BIND_FAIL("/tmp:/proc/sys", EINVAL, "/proc/sys");
	BIND_FAIL("/tmp:/dev/x", EINVAL, "/dev/x");
	BIND_FAIL("/tmp:/data/../etc", EINVAL, "/data/../etc");
	BIND_FAIL("/tmp:/..", EINVAL, "/..");
	BIND_FAIL("/tmp:relative", EINVAL, "relative");
	BIND_FAIL("/tmp:", EINVAL, "/tmp:");
	BIND_FAIL("/tmp", EINVAL, "/tmp");
	BIND_FAIL(":/data", EINVAL, ":/data");
	BIND_FAIL("/tmp:/data:rx", EINVAL, "rx");
	BIND_FAIL("/tmp:/", EINVAL, "/tmp:/");
	BIND_FAIL("/tmp:/usr/lib", EINVAL, "/usr/lib");

	/* More binds than the library takes. */
	const char *many[80];
	for (int i = 0; i < 79; i++)
		many[i] = "/tmp:/data";
	many[79] = NULL;
	petri_sandbox_opts o = PETRI_SANDBOX_OPTS_INIT;
	o.binds = many;
	create_fail(&o, E2BIG, "binds", "79 binds", __LINE__);

	/* A size for a workspace that is a host directory: not silently ignored. */
	o = (petri_sandbox_opts)PETRI_SANDBOX_OPTS_INIT;
	o.workspace_dir = "/tmp";
	o.workspace_bytes = 10 << 20;
	create_fail(&o, EINVAL, "host workspace directory", "workspace_dir + workspace_bytes",
		    __LINE__);

	/* An older caller's smaller struct: the fields it lacks take defaults. */
	o = (petri_sandbox_opts)PETRI_SANDBOX_OPTS_INIT;
	o.sz = (uint32_t)offsetof(petri_sandbox_opts, memory_bytes);
	o.memory_bytes = 1; /* beyond sz: must be ignored, not refused */
	petri_sandbox *old = NULL;
	e = NULL;
	r = petri_sandbox_create(petri_test_ctx(), &o, &old, &e);
	CHECK_MSG(r == 0, "create with an older, smaller opts struct: %s", petri_error_message(e));
	petri_error_free(e);
	petri_sandbox_destroy(old);
	check_nothing_left("create/destroy with a smaller opts struct", __LINE__);

	/* NULL err. */
	o = (petri_sandbox_opts)PETRI_SANDBOX_OPTS_INIT;
	o.language = "cobol";
	made = SENTINEL;
	CHECK(petri_sandbox_create(petri_test_ctx(), &o, &made, NULL) == -EINVAL);
	CHECK(made == SENTINEL);
	check_nothing_left("create with NULL err", __LINE__);
	teardown("create");
}

/* ---- secrets (TenantVault) ---- */

/* A distinctive value: no error message may ever hold it. */
#define SECRET_VALUE "petri-test-value-7c1e9a"

/* Create with @o (secrets set) fails with @want naming @needle, never the
 * value; nothing left behind. */
static void secret_fail(const petri_sandbox_opts *o, int want, const char *needle, const char *what,
			int line)
{
	petri_sandbox *made = SENTINEL;
	petri_error *e = NULL;
	int r = petri_sandbox_create(petri_test_ctx(), o, &made, &e);
	api_check_error(r, e, want, needle, what, line);
	const char *msg = petri_error_message(e);
	if (msg && strstr(msg, SECRET_VALUE)) {
		fprintf(stderr, "line %d: %s: the error shows the secret's value: %s\n", line, what,
			msg);
		petri_test_failures++;
	}
	if (r == 0)
		petri_sandbox_destroy(made);
	else if (made != SENTINEL)
		fprintf(stderr, "line %d: %s: *out changed on failure\n", line, what),
			petri_test_failures++;
	petri_error_free(e);
	check_nothing_left(what, line);
}

/* SECRET_FAIL(errno, needle, statements changing o (opts) and s (the one
 * secret, TOKEN@api.example.test, proxied) ...) */
#define SECRET_FAIL(want, needle, ...)                                                             \
	do {                                                                                       \
		petri_secret s = PETRI_SECRET_INIT;                                                \
		s.name = "TOKEN";                                                                  \
		s.value = SECRET_VALUE;                                                            \
		s.value_len = strlen(SECRET_VALUE);                                                \
		s.hosts = (const char *const[]){"api.example.test", NULL};                         \
		const petri_secret *list[] = {&s, NULL};                                           \
		petri_sandbox_opts o = PETRI_SANDBOX_OPTS_INIT;                                    \
		o.net = PETRI_NET_PROXY;                                                           \
		o.secrets = list;                                                                  \
		__VA_ARGS__;                                                                       \
		secret_fail(&o, want, needle, #__VA_ARGS__, __LINE__);                             \
	} while (0)

static void test_secrets(void)
{
	static char big[4097]; /* one byte over PETRI_VAULT_VALUE_MAX */
	memset(big, 'x', sizeof(big));
	setup();
	/* The sandbox.c rules. */
	SECRET_FAIL(EINVAL, "secrets need net proxy", o.net = PETRI_NET_NONE);
	SECRET_FAIL(EINVAL, "secrets need net proxy", o.net = PETRI_NET_HOST);
	SECRET_FAIL(EINVAL, "upstream_ca", o.secrets = NULL, o.upstream_ca = "/etc/hostname");
	SECRET_FAIL(EINVAL, "upstream_ca", o.net = PETRI_NET_PROXY,
		    o.allow = (const char *const[]){"example.test", NULL},
		    o.secrets = (const petri_secret *const[]){NULL},
		    o.upstream_ca = "/etc/hostname");
	SECRET_FAIL(ENOENT, "/nonexistent/petri-ca.pem",
		    o.upstream_ca = "/nonexistent/petri-ca.pem");
	/* The allowlist beside secrets is still checked. */
	SECRET_FAIL(EINVAL, "exa mple.test",
		    o.allow = (const char *const[]){"exa mple.test", NULL});
	/* Each secret (vault.c): the message names the secret, never the value. */
	SECRET_FAIL(EINVAL, "TOKEN", s.hosts = (const char *const[]){NULL});
	SECRET_FAIL(EINVAL, "TOKEN", s.hosts = NULL);
	SECRET_FAIL(EINVAL, "TOKEN", s.hosts = (const char *const[]){"exa mple.test", NULL});
	SECRET_FAIL(EINVAL, "TOKEN", s.value_len = 0);
	SECRET_FAIL(EINVAL, "TOKEN", s.value = NULL);
	SECRET_FAIL(EINVAL, "TOKEN", s.value_len = sizeof(big), s.value = big);
	SECRET_FAIL(EINVAL, "TOKEN", s.flags = 1);
	SECRET_FAIL(EINVAL, "sz", s.sz = 3); /* no name to trust then */
	SECRET_FAIL(EINVAL, "name", s.name = NULL);
	SECRET_FAIL(EINVAL, "name", s.name = "");
	SECRET_FAIL(EINVAL, "name", s.name = "BAD-NAME");
	SECRET_FAIL(EINVAL, "name", s.name = "1TOKEN");
	/* Two secrets of one name. */
	SECRET_FAIL(EINVAL, "TOKEN", o.secrets = (const petri_secret *const[]){&s, &s, NULL});
	teardown("secrets");
}

/* ---- exec ---- */

static void exec_fail(const petri_exec_opts *o, int want, const char *needle, const char *what,
		      int line)
{
	petri_result *res = SENTINEL;
	petri_error *e = NULL;
	int r = petri_sandbox_exec(sb, o, &res, &e);
	api_check_error(r, e, want, needle, what, line);
	if (r == 0)
		petri_result_free(res);
	else if (res != SENTINEL)
		fprintf(stderr, "line %d: %s: *out changed on failure\n", line, what),
			petri_test_failures++;
	petri_error_free(e);
	check_nothing_left(what, line);
}

/* EXEC_FAIL(errno, needle, statements changing o...) */
#define EXEC_FAIL(want, needle, ...)                                                               \
	do {                                                                                       \
		petri_exec_opts o = PETRI_EXEC_OPTS_INIT;                                          \
		o.argv = (const char *const[]){"true", NULL};                                      \
		__VA_ARGS__;                                                                       \
		exec_fail(&o, want, needle, #__VA_ARGS__, __LINE__);                               \
	} while (0)

static void test_exec(void)
{
	setup();
	petri_exec_opts ok = PETRI_EXEC_OPTS_INIT;
	ok.argv = (const char *const[]){"true", NULL};
	petri_error *e = NULL;
	petri_result *res = SENTINEL;
	int r = petri_sandbox_exec(NULL, &ok, &res, &e);
	api_check_error(r, e, EINVAL, "sandbox", "exec(sb NULL)", __LINE__);
	CHECK(res == SENTINEL);
	petri_error_free(e);
	e = NULL;
	r = petri_sandbox_exec(sb, &ok, NULL, &e);
	api_check_error(r, e, EINVAL, "out", "exec(out NULL)", __LINE__);
	petri_error_free(e);
	e = NULL;
	r = petri_sandbox_exec(sb, NULL, &res, &e);
	api_check_error(r, e, EINVAL, "opts", "exec(opts NULL)", __LINE__);
	petri_error_free(e);
	check_nothing_left("exec NULLs", __LINE__);

	EXEC_FAIL(EINVAL, "sz", o.sz = 0);
	EXEC_FAIL(EINVAL, "sz", o.sz = 7);
	EXEC_FAIL(EINVAL, "sz", o.sz = 0xffffffff);
	EXEC_FAIL(EINVAL, "flags", o.flags = 4);
	EXEC_FAIL(EINVAL, "argv", o.code = "print(1)"; o.language = "python");
	EXEC_FAIL(EINVAL, "argv", o.argv = NULL);
	EXEC_FAIL(EINVAL, "argv", o.argv = (const char *const[]){NULL});
	EXEC_FAIL(EINVAL, "NOEQUALS", o.env = (const char *const[]){"NOEQUALS", NULL});
	EXEC_FAIL(EINVAL, "=x", o.env = (const char *const[]){"=x", NULL});
	EXEC_FAIL(EINVAL, "cwd", o.cwd = "relative/dir");
	EXEC_FAIL(EINVAL, "stdin", o.stdin_len = 5);
	EXEC_FAIL(EINVAL, "timeout", o.timeout_ms = 30ull * 24 * 3600 * 1000);
	EXEC_FAIL(EINVAL, "language", o.argv = NULL; o.code = "x = 1");
	EXEC_FAIL(EINVAL, "cobol", o.argv = NULL; o.code = "x = 1"; o.language = "cobol");
	EXEC_FAIL(EINVAL, "cobol", o.language = "cobol");
	/* The error lists the languages there are. */
	EXEC_FAIL(EINVAL, "python, node, go or sh", o.argv = NULL; o.code = "1"; o.language = "x");
	EXEC_FAIL(EINVAL, "args", o.args = (const char *const[]){"x", NULL});
	EXEC_FAIL(EINVAL, "code_file", o.argv = NULL; o.code_file = "/workspace/a.py"; o.code = "1";
		  o.language = "python");
	EXEC_FAIL(EINVAL, "code_file", o.code_file = "/workspace/a.py"; o.language = "python");
	EXEC_FAIL(EINVAL, "absolute", o.argv = NULL; o.code_file = "a.py"; o.language = "python");
	EXEC_FAIL(EINVAL, "language", o.argv = NULL; o.code_file = "/workspace/a.py");

	/* Too many arguments, too many bytes of them. */
	const char **argv = calloc(5002, sizeof(char *));
	for (int i = 0; i < 5001; i++)
		argv[i] = "x";
	EXEC_FAIL(E2BIG, "argv", o.argv = argv);
	EXEC_FAIL(E2BIG, "args", o.argv = NULL; o.code = "1"; o.language = "sh"; o.args = argv);
	char *huge = malloc(2u << 20);
	memset(huge, 'a', (2u << 20) - 1);
	huge[(2u << 20) - 1] = '\0';
	const char *huge_argv[] = {"echo", huge, NULL};
	EXEC_FAIL(E2BIG, "argv", o.argv = huge_argv);
	free(huge);
	free(argv);

	/* Could not be started inside: the program is missing or not
	 * executable, the cwd does not exist. */
	EXEC_FAIL(ENOENT, "petri-no-such-program",
		  o.argv = (const char *const[]){"petri-no-such-program", NULL});
	EXEC_FAIL(ENOENT, "/nonexistent/prog",
		  o.argv = (const char *const[]){"/nonexistent/prog", NULL});
	EXEC_FAIL(EACCES, "/etc/passwd", o.argv = (const char *const[]){"/etc/passwd", NULL});
	EXEC_FAIL(ENOENT, "/nonexistent-dir", o.cwd = "/nonexistent-dir");

	/* NULL err. */
	petri_exec_opts bad = PETRI_EXEC_OPTS_INIT;
	CHECK(petri_sandbox_exec(sb, &bad, &res, NULL) == -EINVAL);
	check_nothing_left("exec with NULL err", __LINE__);

	/* After all that, the sandbox still works. */
	petri_result *good = API_SH(sb, "echo ok");
	CHECK_OUT(good, PETRI_STREAM_STDOUT, "ok\n");
	petri_result_free(good);
	teardown("exec");
}

/* -EBUSY for a second exec while one runs. */
static void *run_sleep(void *arg)
{
	(void)arg;
	petri_result *r =
		api_run_argv(sb, (const char *const[]){"sleep", "2", NULL}, 10000, __LINE__);
	petri_result_free(r);
	return NULL;
}

static void test_busy(void)
{
	setup();
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, run_sleep, NULL) == 0);
	struct timespec ts = {0, 500 * 1000000L};
	nanosleep(&ts, NULL);
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.argv = (const char *const[]){"true", NULL};
	petri_result *res = SENTINEL;
	petri_error *e = NULL;
	int r = petri_sandbox_exec(sb, &o, &res, &e);
	api_check_error(r, e, EBUSY, "sb_", "exec while another runs", __LINE__);
	CHECK(res == SENTINEL);
	petri_error_free(e);
	pthread_join(t, NULL);
	teardown("busy");
}

/* ---- files ---- */

static void test_files(void)
{
	setup();
	petri_error *e = NULL;
	int r = petri_sandbox_write_file(NULL, "x", "x", 1, 0644, &e);
	api_check_error(r, e, EINVAL, "sandbox", "write_file(sb NULL)", __LINE__);
	petri_error_free(e);
	e = NULL;
	r = petri_sandbox_write_file(sb, NULL, "x", 1, 0644, &e);
	api_check_error(r, e, EINVAL, "path", "write_file(path NULL)", __LINE__);
	petri_error_free(e);
	e = NULL;
	r = petri_sandbox_write_file(sb, "", "x", 1, 0644, &e);
	api_check_error(r, e, EINVAL, "path", "write_file(path \"\")", __LINE__);
	petri_error_free(e);
	e = NULL;
	r = petri_sandbox_write_file(sb, "/workspace/", "x", 1, 0644, &e);
	api_check_error(r, e, EINVAL, "path", "write_file(\"/workspace/\")", __LINE__);
	petri_error_free(e);
	e = NULL;
	r = petri_sandbox_write_file(sb, "x", NULL, 5, 0644, &e);
	api_check_error(r, e, EINVAL, "data", "write_file(data NULL, len 5)", __LINE__);
	petri_error_free(e);
	e = NULL;
	r = petri_sandbox_write_file(sb, "../x", "x", 1, 0644, &e);
	api_check_error(r, e, 0, "../x", "write_file(\"../x\")", __LINE__);
	petri_error_free(e);

	void *data = SENTINEL;
	size_t len = 77;
	e = NULL;
	r = petri_sandbox_read_file(NULL, "x", 0, &data, &len, &e);
	api_check_error(r, e, EINVAL, NULL, "read_file(sb NULL)", __LINE__);
	petri_error_free(e);
	e = NULL;
	r = petri_sandbox_read_file(sb, "x", 0, NULL, &len, &e);
	api_check_error(r, e, EINVAL, NULL, "read_file(data NULL)", __LINE__);
	petri_error_free(e);
	e = NULL;
	r = petri_sandbox_read_file(sb, "x", 0, &data, NULL, &e);
	api_check_error(r, e, EINVAL, NULL, "read_file(len NULL)", __LINE__);
	petri_error_free(e);
	e = NULL;
	r = petri_sandbox_read_file(sb, NULL, 0, &data, &len, &e);
	api_check_error(r, e, EINVAL, "path", "read_file(path NULL)", __LINE__);
	petri_error_free(e);
	e = NULL;
	r = petri_sandbox_read_file(sb, "no-such-file", 0, &data, &len, &e);
	api_check_error(r, e, ENOENT, "no-such-file", "read_file(missing)", __LINE__);
	petri_error_free(e);
	e = NULL;
	r = petri_sandbox_read_file(sb, "../etc/passwd", 0, &data, &len, &e);
	api_check_error(r, e, 0, "../etc/passwd", "read_file(\"../etc/passwd\")", __LINE__);
	petri_error_free(e);
	CHECK(data == SENTINEL && len == 77);
	check_nothing_left("file calls", __LINE__);
	teardown("files");
}

/* ---- NULL everywhere it is allowed ---- */

static void test_nulls(void)
{
	setup();
	petri_ctx_free(NULL);
	petri_sandbox_destroy(NULL);
	petri_result_free(NULL);
	petri_error_free(NULL);
	petri_free(NULL);
	petri_ctx_opts_init(NULL);
	petri_sandbox_opts_init(NULL);
	petri_exec_opts_init(NULL);
	CHECK(strcmp(petri_error_message(NULL), "") == 0);
	CHECK(petri_error_code(NULL) == 0);
	CHECK(petri_ctx_cgroup_mode(NULL) == PETRI_CGROUP_NONE);
	CHECK(petri_sandbox_id(NULL) != NULL);
	CHECK(petri_sandbox_init_pid(NULL) == -1);
	CHECK(petri_sandbox_cgroup_id(NULL) == 0);
	CHECK(petri_sandbox_cancel(NULL) == -EINVAL);
	CHECK(petri_result_signal(NULL) == 0);
	CHECK(petri_result_limits_hit(NULL) == 0);
	CHECK(petri_result_wall_ns(NULL) == 0);
	size_t len = 5;
	CHECK(petri_result_stdout(NULL, &len) != NULL && len == 0);
	len = 5;
	CHECK(petri_result_stderr(NULL, &len) != NULL && len == 0);
	CHECK(petri_result_stdout_truncated(NULL) == 0);
	CHECK(petri_result_stdout_total(NULL) == 0);
	CHECK(strcmp(petri_reason_name(-1), "unknown") == 0);
	CHECK(strcmp(petri_reason_name(1000), "unknown") == 0);
	CHECK(strcmp(petri_reason_name(PETRI_REASON_SANDBOX_DIED), "sandbox_died") == 0);

	/* The *_init functions match the macros (for FFI callers). */
	petri_ctx_opts c1 = PETRI_CTX_OPTS_INIT, c2;
	memset(&c2, 0xff, sizeof(c2));
	petri_ctx_opts_init(&c2);
	CHECK(memcmp(&c1, &c2, sizeof(c1)) == 0);
	petri_sandbox_opts s1 = PETRI_SANDBOX_OPTS_INIT, s2;
	memset(&s2, 0xff, sizeof(s2));
	petri_sandbox_opts_init(&s2);
	CHECK(s2.sz == sizeof(s2) && memcmp(&s1, &s2, sizeof(s1)) == 0);
	petri_exec_opts e1 = PETRI_EXEC_OPTS_INIT, e2;
	memset(&e2, 0xff, sizeof(e2));
	petri_exec_opts_init(&e2);
	CHECK(e2.sz == sizeof(e2) && memcmp(&e1, &e2, sizeof(e1)) == 0);
	teardown("nulls");
}

/* ---- signals ---- */

static void on_usr2(int sig)
{
	(void)sig;
}

struct pester {
	pthread_t target;
	int stop; /* atomic */
	unsigned long sent;
};

static void *pester_main(void *arg)
{
	struct pester *p = arg;
	while (!__atomic_load_n(&p->stop, __ATOMIC_RELAXED)) {
		pthread_kill(p->target, SIGUSR2);
		p->sent++;
	}
	return NULL;
}

/*
 * A caller whose thread takes signals (handled, SA_RESTART) while it
 * creates sandboxes with limits: every create succeeds.  The memory
 * controller's limit write gives up with EINTR when a signal is pending
 * (v1 memory.limit_in_bytes); the library must write again, not fail the
 * create (petrid's soak saw "write .../memory.limit_in_bytes: EINTR").
 */
static void test_signals(void)
{
	struct sigaction sa = {.sa_handler = on_usr2, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	REQUIRE(sigaction(SIGUSR2, &sa, NULL) == 0);
	struct pester p = {.target = pthread_self()};
	pthread_t th;
	REQUIRE(pthread_create(&th, NULL, pester_main, &p) == 0);
	int failed = 0;
	char why[256] = "";
	for (int i = 0; i < 40; i++) {
		petri_sandbox_opts o = PETRI_SANDBOX_OPTS_INIT;
		o.memory_bytes = (64u + (unsigned)i) << 20;
		o.pids_max = 32;
		petri_sandbox *s = NULL;
		petri_error *e = NULL;
		int r = petri_sandbox_create(petri_test_ctx(), &o, &s, &e);
		if (r < 0 && !failed++)
			snprintf(why, sizeof(why), "%d: %s", r, petri_error_message(e));
		petri_error_free(e);
		petri_sandbox_destroy(s);
	}
	__atomic_store_n(&p.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	CHECK_MSG(failed == 0, "%d of 40 creates failed under %lu signals, the first: %s", failed,
		  p.sent, why);
	signal(SIGUSR2, SIG_DFL);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(nulls),   PETRI_TEST_CASE(ctx),     PETRI_TEST_CASE(create),
	PETRI_TEST_CASE(exec),    PETRI_TEST_CASE(busy),    PETRI_TEST_CASE(files),
	PETRI_TEST_CASE(secrets), PETRI_TEST_CASE(signals), {NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
