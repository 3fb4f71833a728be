/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_files - petri_sandbox_write_file / petri_sandbox_read_file move bytes
 * in and out of /workspace exactly, and nothing else:
 *  - roundtrips: binary with NULs, 0 bytes, 5 MiB; the sandboxed code sees
 *    the same bytes (it copies the file, the host reads the copy back);
 *  - parent directories are created, mode bits are applied, and a file or
 *    directory the host wrote can be changed by the code (ownership);
 *  - a file the code created can be read;
 *  - attacks by the code: symlinks to host files (/etc/passwd,
 *    /proc/1/root/etc/shadow, a dangling one to a host path), a directory
 *    symlink to /, a relative ../ symlink, "../" paths, a FIFO: every read
 *    and write fails (or returns at once), and the host files are untouched;
 *  - the max argument of read_file is honoured (EFBIG).
 */
#include <signal.h>
#include <sys/stat.h>

#include "api_common.h"

static petri_sandbox *sb;

static int write_file(const char *path, const void *data, size_t len, uint32_t mode, char *msg,
		      size_t msglen)
{
	petri_error *e = NULL;
	int r = petri_sandbox_write_file(sb, path, data, len, mode, &e);
	if (msg)
		snprintf(msg, msglen, "%s", petri_error_message(e));
	if (r < 0)
		fprintf(stderr, "  write_file(%s): %d %s\n", path, r, petri_error_message(e));
	petri_error_free(e);
	return r;
}

static int read_file(const char *path, uint64_t max, char **data, size_t *len)
{
	petri_error *e = NULL;
	void *p = NULL;
	size_t n = 0;
	int r = petri_sandbox_read_file(sb, path, max, &p, &n, &e);
	if (r < 0)
		fprintf(stderr, "  read_file(%s): %d %s\n", path, r, petri_error_message(e));
	else if (data) {
		*data = p;
		*len = n;
	} else {
		petri_free(p);
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

/* Write @data through the sandbox: host write, code copies, host reads copy. */
static void roundtrip(const char *name, const char *data, size_t len)
{
	char script[256], copy[128];
	if (write_file(name, data, len, 0644, NULL, 0) != 0) {
		CHECK_MSG(0, "write_file %s (%zu bytes) failed", name, len);
		return;
	}
	char *back = NULL;
	size_t blen = 0;
	CHECK(read_file(name, 0, &back, &blen) == 0);
	CHECK_MSG(back && blen == len && memcmp(back, data, len) == 0,
		  "%s: read back %zu bytes, wrote %zu", name, blen, len);
	petri_free(back);

	snprintf(copy, sizeof(copy), "%s.copy", name);
	snprintf(script, sizeof(script), "cp /workspace/%s /workspace/%s", name, copy);
	CHECK(sh_ok(script));
	back = NULL;
	CHECK(read_file(copy, 0, &back, &blen) == 0);
	CHECK_MSG(back && blen == len && memcmp(back, data, len) == 0,
		  "%s: the code's copy has %zu bytes, wrote %zu", name, blen, len);
	petri_free(back);
}

static void test_roundtrips(void)
{
	sb = api_sandbox(NULL);
	char bin[1024];
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (char)(i % 256); /* NULs every 256 bytes, every byte value */
	roundtrip("binary.bin", bin, sizeof(bin));
	roundtrip("empty.txt", "", 0);

	size_t big = 5u << 20;
	char *data = malloc(big);
	REQUIRE(data);
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < big; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		data[i] = (char)x;
	}
	roundtrip("big.bin", data, big);
	free(data);

	/* Overwrite truncates. */
	if (write_file("over.txt", "long content", 12, 0, NULL, 0) == 0 &&
	    write_file("over.txt", "short", 5, 0, NULL, 0) == 0) {
		char *back = NULL;
		size_t n = 0;
		CHECK(read_file("over.txt", 0, &back, &n) == 0);
		CHECK(back && n == 5 && memcmp(back, "short", 5) == 0);
		petri_free(back);
	} else {
		CHECK_MSG(0, "write_file over.txt failed");
	}
	petri_sandbox_destroy(sb);
	sb = NULL;
}

static void test_dirs_modes_owner(void)
{
	sb = api_sandbox(NULL);
	/* Nested parents; the "/workspace/" and "/" prefixes are accepted. */
	CHECK(write_file("a/b/c/deep.txt", "deep\n", 5, 0, NULL, 0) == 0);
	CHECK(write_file("/workspace/w/x.txt", "ws\n", 3, 0, NULL, 0) == 0);
	CHECK(write_file("/rooted.txt", "rooted\n", 7, 0, NULL, 0) == 0);
	char *s = sh_out("cat a/b/c/deep.txt w/x.txt /workspace/rooted.txt");
	CHECK_MSG(strcmp(s, "deep\nws\nrooted\n") == 0, "contents seen inside: '%s'", s);
	free(s);

	/* Mode bits. */
	const char script[] = "#!/bin/sh\necho script ran\n";
	CHECK(write_file("run.sh", script, sizeof(script) - 1, 0755, NULL, 0) == 0);
	CHECK(write_file("secret.txt", "s", 1, 0600, NULL, 0) == 0);
	CHECK(write_file("default.txt", "d", 1, 0, NULL, 0) == 0);
	s = sh_out("stat -c %a run.sh secret.txt default.txt");
	CHECK_MSG(strcmp(s, "755\n600\n644\n") == 0, "modes: '%s'", s);
	free(s);
	s = sh_out("./run.sh");
	CHECK_MSG(strcmp(s, "script ran\n") == 0, "./run.sh printed '%s'", s);
	free(s);

	/* Ownership: the code (uid 1000) owns what the host put in, so it can
	 * change it, and create files in the directories the host made. */
	s = sh_out("stat -c %u:%g a a/b/c a/b/c/deep.txt secret.txt");
	CHECK_MSG(strcmp(s, "1000:1000\n1000:1000\n1000:1000\n1000:1000\n") == 0, "owners: '%s'",
		  s);
	free(s);
	CHECK(sh_ok(
		"echo more >> a/b/c/deep.txt && chmod 0640 secret.txt && cat secret.txt >/dev/null"));
	CHECK(sh_ok("touch a/b/c/new && mkdir a/b/c/newdir && rm a/b/c/new"));
	char *back = NULL;
	size_t n = 0;
	CHECK(read_file("a/b/c/deep.txt", 0, &back, &n) == 0);
	CHECK(back && n == 10 && memcmp(back, "deep\nmore\n", 10) == 0);
	petri_free(back);
	petri_sandbox_destroy(sb);
	sb = NULL;
}

static void test_read_code_files(void)
{
	sb = api_sandbox(NULL);
	CHECK(sh_ok("mkdir -p out/dir && printf 'made by code' > out/dir/made.txt"));
	char *back = NULL;
	size_t n = 0;
	CHECK(read_file("out/dir/made.txt", 0, &back, &n) == 0);
	CHECK(back && n == 12 && memcmp(back, "made by code", 12) == 0);
	petri_free(back);
	back = NULL;
	CHECK(read_file("/workspace/out/dir/made.txt", 0, &back, &n) == 0);
	petri_free(back);
	/* A directory is not a file. */
	CHECK(read_file("out/dir", 0, NULL, NULL) < 0);
	CHECK(read_file("nonexistent.txt", 0, NULL, NULL) == -ENOENT);
	petri_sandbox_destroy(sb);
	sb = NULL;
}

/* ---- attacks ---- */

struct host_file {
	const char *path;
	char *data;
	size_t len;
	struct stat st;
};

static void snapshot(struct host_file *h)
{
	FILE *f = fopen(h->path, "re");
	REQUIRE(f);
	REQUIRE(fstat(fileno(f), &h->st) == 0);
	h->data = malloc((size_t)h->st.st_size + 1);
	h->len = fread(h->data, 1, (size_t)h->st.st_size, f);
	fclose(f);
}

/* Did the attacks reach @h?  They write "pwned\n" (after a truncation), so
 * damage is that text, an emptied file, or a changed owner or mode; then the
 * file is restored (the test failed already) so that a broken library
 * cannot leave the host damaged.  Other changes (useradd by a test running
 * alongside) are not ours and are left alone. */
static void check_unchanged(struct host_file *h)
{
	struct stat st;
	FILE *f = fopen(h->path, "re");
	REQUIRE(f);
	REQUIRE(fstat(fileno(f), &st) == 0);
	char *now = malloc((size_t)st.st_size + 1);
	size_t n = fread(now, 1, (size_t)st.st_size, f);
	fclose(f);
	int damaged = memmem(now, n, "pwned", 5) != NULL || (n == 0 && h->len != 0) ||
		      st.st_mode != h->st.st_mode || st.st_uid != h->st.st_uid ||
		      st.st_gid != h->st.st_gid;
	CHECK_MSG(!damaged, "host file %s was modified through the sandbox", h->path);
	if (damaged) {
		FILE *w = fopen(h->path, "we");
		if (w) {
			fwrite(h->data, 1, h->len, w);
			fclose(w);
		}
		if (chmod(h->path, h->st.st_mode & 07777) < 0 ||
		    chown(h->path, h->st.st_uid, h->st.st_gid) < 0)
			fprintf(stderr, "could not restore %s: %s\n", h->path, strerror(errno));
	}
	free(now);
}

static void expect_refused(const char *path, const char *why)
{
	char *data = NULL;
	size_t n = 0;
	int r = read_file(path, 0, &data, &n);
	CHECK_MSG(r < 0, "read_file(%s) succeeded (%s): got %zu bytes: %.40s", path, why, n,
		  data ? data : "");
	if (r == 0)
		petri_free(data);
	r = write_file(path, "pwned\n", 6, 0644, NULL, 0);
	CHECK_MSG(r < 0, "write_file(%s) succeeded (%s)", path, why);
}

static void test_symlink_attacks(void)
{
	sb = api_sandbox(NULL);
	struct host_file passwd = {.path = "/etc/passwd"}, hostname = {.path = "/etc/hostname"};
	snapshot(&passwd);
	snapshot(&hostname);
	char decoy[] = "/tmp/petri-files-decoy-XXXXXX";
	int dfd = mkstemp(decoy);
	REQUIRE(dfd >= 0);
	REQUIRE(write(dfd, "decoy\n", 6) == 6);
	close(dfd);
	struct host_file dec = {.path = decoy};
	snapshot(&dec);
	char dangling[64];
	snprintf(dangling, sizeof(dangling), "/tmp/petri-files-created-%d", (int)getpid());
	unlink(dangling);

	char script[1024];
	snprintf(script, sizeof(script),
		 "ln -s /etc/passwd evil && ln -s /proc/1/root/etc/shadow shadow && "
		 "ln -s / d && ln -s ../../../../../../etc/passwd rel && "
		 "ln -s %s decoy && ln -s %s dangling && ln -s /tmp tmpdir && "
		 "echo inside > real.txt && ln -s real.txt inner",
		 decoy, dangling);
	REQUIRE(sh_ok(script));

	expect_refused("evil", "symlink to /etc/passwd");
	expect_refused("/workspace/evil", "symlink to /etc/passwd");
	expect_refused("shadow", "symlink to /proc/1/root/etc/shadow");
	expect_refused("d/etc/hostname", "directory symlink to /");
	expect_refused("d/etc/passwd", "directory symlink to /");
	expect_refused("rel", "relative ../ symlink");
	expect_refused("decoy", "symlink to a host file");
	expect_refused("dangling", "dangling symlink to a host path");
	expect_refused("tmpdir/petri-files-escape/x", "directory symlink, parents to create");
	/* Symlinks are refused even when they stay inside. */
	expect_refused("inner", "symlink within /workspace");

	check_unchanged(&passwd);
	check_unchanged(&hostname);
	check_unchanged(&dec);
	struct stat st;
	CHECK_MSG(lstat(dangling, &st) < 0, "write_file created host file %s", dangling);
	CHECK_MSG(lstat("/tmp/petri-files-escape", &st) < 0,
		  "write_file created host directory /tmp/petri-files-escape");
	unlink(dangling);
	rmdir("/tmp/petri-files-escape/x");
	rmdir("/tmp/petri-files-escape");
	unlink(decoy);
	free(passwd.data);
	free(hostname.data);
	free(dec.data);

	/* The planted symlink itself was not replaced by a regular file, and
	 * the target inside was not written either. */
	char *s = sh_out("readlink evil; cat real.txt");
	CHECK_MSG(strcmp(s, "/etc/passwd\ninside\n") == 0, "after the attacks: '%s'", s);
	free(s);
	petri_sandbox_destroy(sb);
	sb = NULL;
}

static void test_dotdot(void)
{
	sb = api_sandbox(NULL);
	static const char *const paths[] = {"../etc/passwd",
					    "..",
					    "a/../../etc/passwd",
					    "/workspace/../etc/passwd",
					    "x/..",
					    "../workspace/x",
					    "a/b/../../../x",
					    NULL};
	for (int i = 0; paths[i]; i++) {
		petri_error *e = NULL;
		void *p = NULL;
		size_t n = 0;
		int r = petri_sandbox_read_file(sb, paths[i], 0, &p, &n, &e);
		api_check_error(r, e, 0, NULL, paths[i], __LINE__);
		petri_error_free(e);
		e = NULL;
		r = petri_sandbox_write_file(sb, paths[i], "x", 1, 0644, &e);
		api_check_error(r, e, 0, NULL, paths[i], __LINE__);
		petri_error_free(e);
	}
	struct stat st;
	CHECK(stat("/etc/x", &st) < 0);
	CHECK(stat("/workspace/x", &st) < 0);
	petri_sandbox_destroy(sb);
	sb = NULL;
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char m[] = "test_files: read_file/write_file on a FIFO hung\n";
	ssize_t w = write(2, m, sizeof(m) - 1);
	(void)w;
	_exit(1);
}

static void test_fifo(void)
{
	sb = api_sandbox(NULL);
	REQUIRE(sh_ok("mkfifo fifo"));
	signal(SIGALRM, on_alarm);
	alarm(5);
	double t0 = api_now_s();
	CHECK_MSG(read_file("fifo", 0, NULL, NULL) < 0, "read_file on a FIFO succeeded");
	CHECK_MSG(api_now_s() - t0 < 2.0, "read_file on a FIFO took %.1f s", api_now_s() - t0);
	t0 = api_now_s();
	CHECK_MSG(write_file("fifo", "x", 1, 0644, NULL, 0) < 0, "write_file on a FIFO succeeded");
	CHECK_MSG(api_now_s() - t0 < 2.0, "write_file on a FIFO took %.1f s", api_now_s() - t0);
	alarm(0);
	petri_sandbox_destroy(sb);
	sb = NULL;
}

static void test_max(void)
{
	sb = api_sandbox(NULL);
	REQUIRE(sh_ok("head -c 2000 /dev/zero > two_k"));
	petri_error *e = NULL;
	void *p = (void *)0x1;
	size_t n = 77;
	int r = petri_sandbox_read_file(sb, "two_k", 1000, &p, &n, &e);
	api_check_error(r, e, EFBIG, "two_k", "read_file max 1000 of 2000", __LINE__);
	CHECK(p == (void *)0x1 && n == 77); /* outputs untouched on failure */
	petri_error_free(e);
	e = NULL;
	r = petri_sandbox_read_file(sb, "two_k", 1999, &p, &n, &e);
	api_check_error(r, e, EFBIG, NULL, "read_file max 1999 of 2000", __LINE__);
	petri_error_free(e);
	char *d = NULL;
	CHECK(read_file("two_k", 2000, &d, &n) == 0 && n == 2000);
	petri_free(d);
	petri_sandbox_destroy(sb);
	sb = NULL;
}

/* Errors say what is wrong: a planted directory symlink is ELOOP for a
 * write as for a read; /workspace itself and "dir/" are directories; a
 * write that fails (the workspace is full) leaves no partial file. */
static void test_error_kinds(void)
{
	sb = api_sandbox(NULL);
	REQUIRE(sh_ok("ln -s /etc dirlink"));
	CHECK(write_file("dirlink/x", "x", 1, 0644, NULL, 0) == -ELOOP);
	CHECK(read_file("dirlink/x", 0, NULL, NULL) == -ELOOP);
	CHECK(read_file("/workspace", 0, NULL, NULL) == -EISDIR);
	CHECK(write_file("/workspace", "x", 1, 0644, NULL, 0) == -EISDIR);
	CHECK(write_file("newdir/", "x", 1, 0644, NULL, 0) == -EISDIR);
	char *s = sh_out("ls -A");
	CHECK_MSG(strstr(s, "newdir") == NULL, "write_file(newdir/) left: %s", s);
	free(s);

	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.workspace_bytes = 1 << 20;
	petri_sandbox *small = api_sandbox(&so);
	size_t big = 2 << 20;
	char *data = calloc(1, big);
	REQUIRE(data);
	petri_error *e = NULL;
	int r = petri_sandbox_write_file(small, "big", data, big, 0644, &e);
	api_check_error(r, e, ENOSPC, "big", "write 2 MiB into a 1 MiB workspace", __LINE__);
	petri_error_free(e);
	free(data);
	petri_result *res = API_SH(small, "ls -A /workspace");
	CHECK_OUT(res, PETRI_STREAM_STDOUT, "");
	petri_result_free(res);
	petri_sandbox_destroy(small);
	petri_sandbox_destroy(sb);
	sb = NULL;
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(roundtrips),
	PETRI_TEST_CASE(dirs_modes_owner),
	PETRI_TEST_CASE(read_code_files),
	PETRI_TEST_CASE(symlink_attacks),
	PETRI_TEST_CASE(dotdot),
	PETRI_TEST_CASE(max),
	PETRI_TEST_CASE(error_kinds),
	PETRI_TEST_CASE(fifo),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
