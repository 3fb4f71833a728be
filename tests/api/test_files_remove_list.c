/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_files_remove_list - petri_sandbox_remove_file / petri_sandbox_list_dir
 * follow the same symlink-safe rules as write/read:
 *  - remove: a file (gone for the code too), a symlink (itself: its target,
 *    on the host or inside, is untouched), an empty directory; a non-empty
 *    one is ENOTEMPTY and keeps its content; a missing entry is ENOENT;
 *    "..", /workspace itself, empty paths are refused; a symlinked parent
 *    planted by the code (to a host directory or inside) is ELOOP and the
 *    file behind it stays;
 *  - list: one level, sorted bytewise, "." and ".." left out, with type,
 *    mode, size and mtime of the entry itself (a symlink is reported as a
 *    symlink, never followed); "", NULL, "/", "/workspace" all name the
 *    workspace; max keeps the first entries by name and sets truncated;
 *    a file is ENOTDIR, a missing directory ENOENT, a symlinked directory
 *    ELOOP; outputs are untouched on failure;
 *  - both answer ESRCH once the sandbox is dead.
 */
#include <signal.h>
#include <sys/stat.h>

#include "api_common.h"

static petri_sandbox *sb;

static int rm(const char *path)
{
	petri_error *e = NULL;
	int r = petri_sandbox_remove_file(sb, path, &e);
	if (r < 0 && getenv("PETRI_TEST_VERBOSE"))
		fprintf(stderr, "  remove_file(%s): %d %s\n", path ? path : "(null)", r,
			petri_error_message(e));
	if (r < 0 && (!e || petri_error_code(e) != r)) {
		fprintf(stderr, "  remove_file(%s): rc %d without a matching petri_error\n",
			path ? path : "(null)", r);
		petri_test_failures++;
	}
	petri_error_free(e);
	return r;
}

static int sh_ok(const char *script)
{
	petri_result *r = API_SH(sb, script);
	int ok = petri_result_reason(r) == PETRI_REASON_EXITED && petri_result_exit_code(r) == 0;
	if (!ok) {
		char *err = api_out_str(r, PETRI_STREAM_STDERR);
		fprintf(stderr, "  sh '%s': exit %d: %s\n", script, petri_result_exit_code(r), err);
		free(err);
	}
	petri_result_free(r);
	return ok;
}

static char *sh_out(const char *script)
{
	petri_result *r = API_SH(sb, script);
	char *s = api_out_str(r, PETRI_STREAM_STDOUT);
	petri_result_free(r);
	return s;
}

/* Does the code see @path (lstat, so a symlink counts as itself)? */
static int exists_inside(const char *path)
{
	char script[512];
	snprintf(script, sizeof(script), "test -e '%s' || test -L '%s'", path, path);
	petri_result *r = API_SH(sb, script);
	int yes = petri_result_exit_code(r) == 0;
	petri_result_free(r);
	return yes;
}

static char *host_slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char *buf = calloc(1, 4096);
	REQUIRE(buf);
	size_t n = fread(buf, 1, 4095, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_remove_file(void)
{
	sb = api_sandbox(NULL);
	REQUIRE(petri_sandbox_write_file(sb, "host.txt", "h", 1, 0644, NULL) == 0);
	REQUIRE(sh_ok("mkdir -p d/e && echo code > d/e/code.txt"));
	CHECK(rm("host.txt") == 0);
	CHECK(!exists_inside("host.txt"));
	CHECK(rm("/workspace/d/e/code.txt") == 0);
	CHECK(!exists_inside("d/e/code.txt"));
	CHECK(exists_inside("d/e")); /* only the file went */

	/* Gone is ENOENT, as is a missing parent. */
	CHECK(rm("host.txt") == -ENOENT);
	CHECK(rm("missing.txt") == -ENOENT);
	CHECK(rm("nodir/missing.txt") == -ENOENT);

	/* A trailing slash asks for a directory. */
	REQUIRE(sh_ok("echo x > plain"));
	CHECK(rm("plain/") == -ENOTDIR);
	CHECK(exists_inside("plain"));
	petri_sandbox_destroy(sb);
	sb = NULL;
}

static void test_remove_symlink(void)
{
	sb = api_sandbox(NULL);
	char decoy[] = "/tmp/petri-rm-decoy-XXXXXX";
	int fd = mkstemp(decoy);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, "decoy\n", 6) == 6);
	close(fd);
	char decoydir[] = "/tmp/petri-rm-decoydir-XXXXXX";
	REQUIRE(mkdtemp(decoydir));

	char script[512];
	snprintf(script, sizeof(script),
		 "echo inside > real.txt && ln -s real.txt inner && ln -s %s hostlink && "
		 "ln -s %s hostdir && ln -s /nonexistent dangling",
		 decoy, decoydir);
	REQUIRE(sh_ok(script));

	CHECK(rm("inner") == 0);
	CHECK(rm("hostlink") == 0);
	CHECK(rm("dangling") == 0);
	/* rmdir of a symlink to a directory is not a directory removal. */
	CHECK(rm("hostdir/") == -ENOTDIR);
	CHECK(rm("hostdir") == 0);

	char *s = sh_out("ls -A; cat real.txt");
	CHECK_MSG(strcmp(s, "real.txt\ninside\n") == 0, "after removing the links: '%s'", s);
	free(s);
	char *d = host_slurp(decoy);
	CHECK_MSG(d && strcmp(d, "decoy\n") == 0, "host file %s behind the symlink: '%s'", decoy,
		  d ? d : "(gone)");
	free(d);
	struct stat st;
	CHECK_MSG(stat(decoydir, &st) == 0 && S_ISDIR(st.st_mode), "host dir %s is gone", decoydir);
	unlink(decoy);
	rmdir(decoydir);
	petri_sandbox_destroy(sb);
	sb = NULL;
}

static void test_remove_dirs(void)
{
	sb = api_sandbox(NULL);
	REQUIRE(sh_ok("mkdir empty emptier full && echo keep > full/keep.txt"));
	CHECK(rm("empty") == 0);
	CHECK(!exists_inside("empty"));
	CHECK(rm("emptier/") == 0);
	CHECK(!exists_inside("emptier"));
	CHECK(rm("full") == -ENOTEMPTY);
	CHECK(rm("full/") == -ENOTEMPTY);
	char *s = sh_out("cat full/keep.txt");
	CHECK_MSG(strcmp(s, "keep\n") == 0, "full/keep.txt after refused removal: '%s'", s);
	free(s);
	CHECK(rm("full/keep.txt") == 0 && rm("full") == 0);
	CHECK(!exists_inside("full"));
	petri_sandbox_destroy(sb);
	sb = NULL;
}

static void test_remove_refused(void)
{
	sb = api_sandbox(NULL);
	REQUIRE(sh_ok("mkdir a && echo x > a/x && echo y > y"));
	static const struct {
		const char *path;
		int want;
	} bad[] = {
		{"..", EPERM},
		{"../etc/passwd", EPERM},
		{"a/../y", EPERM},
		{"/workspace/../etc/hostname", EPERM},
		{"a/..", EPERM},
		{"/workspace", EISDIR},
		{"/workspace/", EINVAL},
		{"/", EINVAL},
		{"", EINVAL},
		{NULL, EINVAL},
		{".", EINVAL},
		{"a/.", EINVAL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		petri_error *e = NULL;
		int r = petri_sandbox_remove_file(sb, bad[i].path, &e);
		api_check_error(r, e, bad[i].want, NULL, bad[i].path ? bad[i].path : "(null)",
				__LINE__);
		petri_error_free(e);
	}
	petri_error *e = NULL;
	int r = petri_sandbox_remove_file(NULL, "y", &e);
	api_check_error(r, e, EINVAL, NULL, "NULL sandbox", __LINE__);
	petri_error_free(e);
	/* Everything is still there, the workspace included. */
	char *s = sh_out("cat a/x y && pwd");
	CHECK_MSG(strcmp(s, "x\ny\n/workspace\n") == 0, "after refused removals: '%s'", s);
	free(s);
	struct stat st;
	CHECK(stat("/etc/passwd", &st) == 0 && stat("/etc/hostname", &st) == 0);
	petri_sandbox_destroy(sb);
	sb = NULL;
}

/* The code plants a symlink where a parent directory should be: to a host
 * directory holding a victim file, and to a directory of its own.  The
 * removal must stop at the symlink (ELOOP) and remove nothing. */
static void test_remove_symlinked_parent(void)
{
	sb = api_sandbox(NULL);
	char hostdir[] = "/tmp/petri-rm-parent-XXXXXX";
	REQUIRE(mkdtemp(hostdir));
	REQUIRE(chmod(hostdir, 0777) == 0); /* the sandbox user could write there */
	char victim[256];
	snprintf(victim, sizeof(victim), "%s/victim", hostdir);
	FILE *f = fopen(victim, "we");
	REQUIRE(f);
	fputs("victim\n", f);
	fclose(f);
	REQUIRE(chmod(victim, 0666) == 0);

	char script[512];
	snprintf(script, sizeof(script),
		 "ln -s %s out && mkdir -p real/sub && echo in > real/sub/f && "
		 "ln -s real/sub inlink && ln -s ../real real/loop",
		 hostdir);
	REQUIRE(sh_ok(script));

	static const char *const paths[] = {"out/victim", "/workspace/out/victim", "inlink/f",
					    "real/loop/sub/f", NULL};
	for (int i = 0; paths[i]; i++) {
		petri_error *e = NULL;
		int r = petri_sandbox_remove_file(sb, paths[i], &e);
		api_check_error(r, e, ELOOP, NULL, paths[i], __LINE__);
		petri_error_free(e);
	}
	struct stat st;
	CHECK_MSG(stat(victim, &st) == 0, "host file %s was removed through a planted symlink",
		  victim);
	CHECK(exists_inside("real/sub/f"));
	CHECK(exists_inside("out") && exists_inside("inlink"));
	unlink(victim);
	rmdir(hostdir);
	petri_sandbox_destroy(sb);
	sb = NULL;
}

/* --- listing ------------------------------------------------------------ */

struct listing {
	int rc;
	petri_dirent *e;
	size_t n;
	int truncated;
};

static struct listing ls(const char *path, uint32_t max)
{
	struct listing l = {.truncated = -1};
	petri_error *e = NULL;
	l.rc = petri_sandbox_list_dir(sb, path, max, &l.e, &l.n, &l.truncated, &e);
	if (l.rc < 0 && getenv("PETRI_TEST_VERBOSE"))
		fprintf(stderr, "  list_dir(%s): %d %s\n", path ? path : "(null)", l.rc,
			petri_error_message(e));
	petri_error_free(e);
	return l;
}

static const petri_dirent *find(const struct listing *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->e[i].name, name) == 0)
			return &l->e[i];
	return NULL;
}

static void test_list_types_sorted(void)
{
	sb = api_sandbox(NULL);
	REQUIRE(sh_ok("printf hello > b.txt && chmod 0640 b.txt && "
		      "touch -d @1700000000 b.txt && mkdir adir && chmod 0711 adir && "
		      "echo x > adir/inner && ln -s /etc/passwd zlink && ln -s adir dlink && "
		      "mkfifo fifo && echo h > .hidden && echo B > B.txt"));
	static const char *const roots[] = {"", "/", "/workspace", "/workspace/", "//", NULL};
	struct listing l = ls(NULL, 0);
	REQUIRE(l.rc == 0);
	/* Bytewise order: '.' < 'B' < 'a' < 'b' < 'd' < 'f' < 'z'. */
	static const char *const want[] = {".hidden", "B.txt", "adir", "b.txt",
					   "dlink",   "fifo",  "zlink"};
	CHECK_MSG(l.n == 7, "%zu entries, want 7", l.n);
	for (size_t i = 0; i < l.n && i < 7; i++)
		CHECK_MSG(strcmp(l.e[i].name, want[i]) == 0, "entry %zu is '%s', want '%s'", i,
			  l.e[i].name, want[i]);
	CHECK(l.truncated == 0);

	const petri_dirent *b = find(&l, "b.txt");
	CHECK(b && b->type == PETRI_DIRENT_FILE && b->size == 5 && b->mode == 0640 &&
	      b->mtime_ns == 1700000000ll * 1000000000ll);
	const petri_dirent *a = find(&l, "adir");
	CHECK(a && a->type == PETRI_DIRENT_DIR && a->mode == 0711);
	/* Symlinks are themselves: the size is their target's length. */
	const petri_dirent *z = find(&l, "zlink");
	CHECK_MSG(z && z->type == PETRI_DIRENT_SYMLINK && z->size == strlen("/etc/passwd"),
		  "zlink: type %u size %llu", z ? z->type : 0,
		  z ? (unsigned long long)z->size : 0ull);
	const petri_dirent *dl = find(&l, "dlink");
	CHECK(dl && dl->type == PETRI_DIRENT_SYMLINK && dl->size == 4);
	const petri_dirent *fi = find(&l, "fifo");
	CHECK(fi && fi->type == PETRI_DIRENT_OTHER);
	/* The names live in the block, after the entries. */
	for (size_t i = 0; i < l.n; i++)
		CHECK((const char *)l.e[i].name >= (const char *)(l.e + l.n));

	for (int i = 0; roots[i]; i++) {
		struct listing r = ls(roots[i], 0);
		CHECK_MSG(r.rc == 0 && r.n == l.n, "list_dir('%s'): rc %d, %zu entries", roots[i],
			  r.rc, r.n);
		petri_free(r.e);
	}
	petri_free(l.e);

	/* A subdirectory, with or without the trailing slash or prefix. */
	static const char *const subs[] = {"adir", "adir/", "/workspace/adir", NULL};
	for (int i = 0; subs[i]; i++) {
		struct listing s = ls(subs[i], 0);
		CHECK_MSG(s.rc == 0 && s.n == 1 && strcmp(s.e[0].name, "inner") == 0 &&
				  s.e[0].type == PETRI_DIRENT_FILE && s.e[0].size == 2,
			  "list_dir(%s): rc %d n %zu", subs[i], s.rc, s.n);
		petri_free(s.e);
	}

	/* An empty directory: no entries, a block to free all the same. */
	REQUIRE(sh_ok("mkdir nothing"));
	struct listing e = ls("nothing", 0);
	CHECK(e.rc == 0 && e.n == 0 && e.e != NULL && e.truncated == 0);
	petri_free(e.e);
	petri_sandbox_destroy(sb);
	sb = NULL;
}

static void test_list_truncation(void)
{
	sb = api_sandbox(NULL);
	/* 50 files made in descending order, so directory order is no help. */
	REQUIRE(sh_ok("mkdir many && cd many && i=49; while [ $i -ge 0 ]; do "
		      "touch $(printf f%02d $i); i=$((i-1)); done"));
	struct listing l = ls("many", 10);
	REQUIRE(l.rc == 0);
	CHECK_MSG(l.n == 10 && l.truncated == 1, "max 10: %zu entries, truncated %d", l.n,
		  l.truncated);
	for (size_t i = 0; i < l.n; i++) {
		char want[8];
		snprintf(want, sizeof(want), "f%02zu", i);
		CHECK_MSG(strcmp(l.e[i].name, want) == 0, "entry %zu is '%s', want '%s'", i,
			  l.e[i].name, want);
	}
	petri_free(l.e);

	l = ls("many", 1);
	CHECK(l.rc == 0 && l.n == 1 && l.truncated == 1 && strcmp(l.e[0].name, "f00") == 0);
	petri_free(l.e);
	l = ls("many", 50);
	CHECK_MSG(l.rc == 0 && l.n == 50 && l.truncated == 0, "max 50: %zu, truncated %d", l.n,
		  l.truncated);
	CHECK(l.n == 50 && strcmp(l.e[49].name, "f49") == 0);
	petri_free(l.e);
	l = ls("many", 0);
	CHECK(l.rc == 0 && l.n == 50 && l.truncated == 0);
	petri_free(l.e);

	/* truncated is optional. */
	petri_dirent *e = NULL;
	size_t n = 0;
	CHECK(petri_sandbox_list_dir(sb, "many", 5, &e, &n, NULL, NULL) == 0 && n == 5);
	petri_free(e);
	petri_sandbox_destroy(sb);
	sb = NULL;
}

static void test_list_errors(void)
{
	sb = api_sandbox(NULL);
	REQUIRE(sh_ok("echo x > file && mkdir d && ln -s d dlink && ln -s / rootlink"));
	static const struct {
		const char *path;
		int want;
	} bad[] = {
		{"file", ENOTDIR}, {"missing", ENOENT}, {"d/missing", ENOENT},
		{"dlink", ELOOP},  {"dlink/", ELOOP},   {"rootlink/etc", ELOOP},
		{"..", EPERM},     {"../etc", EPERM},   {"d/..", EPERM},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		petri_error *e = NULL;
		petri_dirent *ent = (petri_dirent *)0x1;
		size_t n = 77;
		int trunc = 42;
		int r = petri_sandbox_list_dir(sb, bad[i].path, 0, &ent, &n, &trunc, &e);
		api_check_error(r, e, bad[i].want, NULL, bad[i].path, __LINE__);
		CHECK_MSG(ent == (petri_dirent *)0x1 && n == 77 && trunc == 42,
			  "list_dir(%s): outputs changed on failure", bad[i].path);
		petri_error_free(e);
	}
	petri_dirent *ent = NULL;
	size_t n = 0;
	petri_error *e = NULL;
	int r = petri_sandbox_list_dir(sb, "", 0, NULL, &n, NULL, &e);
	api_check_error(r, e, EINVAL, NULL, "NULL entries", __LINE__);
	petri_error_free(e);
	e = NULL;
	r = petri_sandbox_list_dir(sb, "", 0, &ent, NULL, NULL, &e);
	api_check_error(r, e, EINVAL, NULL, "NULL n", __LINE__);
	petri_error_free(e);
	e = NULL;
	r = petri_sandbox_list_dir(NULL, "", 0, &ent, &n, NULL, &e);
	api_check_error(r, e, EINVAL, NULL, "NULL sandbox", __LINE__);
	petri_error_free(e);
	petri_sandbox_destroy(sb);
	sb = NULL;
}

/* Once init is dead (killed, and an exec noticed), neither touches the
 * workspace any more. */
static void test_dead_sandbox(void)
{
	sb = api_sandbox(NULL);
	REQUIRE(sh_ok("echo x > file"));
	int pid = petri_sandbox_init_pid(sb);
	REQUIRE(pid > 0);
	REQUIRE(kill(pid, SIGKILL) == 0);
	petri_result *res = NULL;
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.argv = (const char *const[]){"/bin/true", NULL};
	for (int i = 0; i < 50; i++) { /* until an exec sees init gone */
		int r = petri_sandbox_exec(sb, &o, &res, NULL);
		petri_result_free(res);
		res = NULL;
		if (r == -ESRCH)
			break;
		usleep(20000);
	}
	petri_error *e = NULL;
	int r = petri_sandbox_remove_file(sb, "file", &e);
	api_check_error(r, e, ESRCH, NULL, "remove_file on a dead sandbox", __LINE__);
	petri_error_free(e);
	e = NULL;
	petri_dirent *ent = NULL;
	size_t n = 0;
	r = petri_sandbox_list_dir(sb, "", 0, &ent, &n, NULL, &e);
	api_check_error(r, e, ESRCH, NULL, "list_dir on a dead sandbox", __LINE__);
	petri_error_free(e);
	petri_sandbox_destroy(sb);
	sb = NULL;
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(remove_file),
	PETRI_TEST_CASE(remove_symlink),
	PETRI_TEST_CASE(remove_dirs),
	PETRI_TEST_CASE(remove_refused),
	PETRI_TEST_CASE(remove_symlinked_parent),
	PETRI_TEST_CASE(list_types_sorted),
	PETRI_TEST_CASE(list_truncation),
	PETRI_TEST_CASE(list_errors),
	PETRI_TEST_CASE(dead_sandbox),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
