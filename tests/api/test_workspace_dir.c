/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_workspace_dir - petri_sandbox_opts.workspace_dir is "a host dir bound
 * read-write at /workspace" (petri.h).
 *  - For a root host, a directory owned by root is refused (-EPERM, a
 *    one-line message naming it, nothing left behind): showing disk uid 0
 *    as the sandbox user would let the code plant root-owned files.
 *  - A directory owned by an ordinary user (here 4242:4243, mode 0755; the
 *    caller's own uid when the test does not run as root): the owner appears
 *    as the sandbox user inside; files the host put there are visible; the
 *    code creates files there and they appear on the host owned by the
 *    directory's owner; write_file / read_file work on it; destroy leaves
 *    the directory and its files in place.
 */
#include <sys/stat.h>

#include "api_common.h"

#define OWNER_UID 4242
#define OWNER_GID 4243

static char dir[64];

static void check_host_owner(const char *name, uid_t uid, gid_t gid)
{
	char p[256];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (stat(p, &st) < 0) {
		CHECK_MSG(0, "%s: %s", p, strerror(errno));
		return;
	}
	CHECK_MSG(st.st_uid == uid && st.st_gid == gid,
		  "%s is owned by %u:%u on the host, not by the directory's owner %u:%u", name,
		  (unsigned)st.st_uid, (unsigned)st.st_gid, (unsigned)uid, (unsigned)gid);
}

static void test_root_owned_refused(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "not root: a root-owned directory is the caller's own, nothing to "
				"refuse\n");
		return;
	}
	API_STEP("root-owned workspace_dir");
	char rootdir[] = "/tmp/petri-wsdir-root-XXXXXX";
	REQUIRE(mkdtemp(rootdir));
	REQUIRE(chmod(rootdir, 0755) == 0);
	petri_ctx *ctx = petri_test_ctx(); /* before counting: a context holds fds */
	int fds = petri_test_count_fds(), cgs = api_count_cgroups_of(getpid());
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.workspace_dir = rootdir;
	petri_sandbox *sb = (petri_sandbox *)0x1;
	petri_error *e = NULL;
	int r = petri_sandbox_create(ctx, &so, &sb, &e);
	api_check_error(r, e, EPERM, rootdir, "root-owned workspace_dir", __LINE__);
	CHECK(sb == (petri_sandbox *)0x1);
	petri_error_free(e);
	CHECK(petri_test_count_fds() == fds);
	CHECK(api_count_cgroups_of(getpid()) == cgs);
	rmdir(rootdir);
}

/* A host directory owned by an ordinary user. */
static void test_user_owned_dir(void)
{
	int root = geteuid() == 0;
	uid_t uid = root ? OWNER_UID : getuid();
	gid_t gid = root ? OWNER_GID : getgid();
	snprintf(dir, sizeof(dir), "/tmp/petri-wsdir-XXXXXX");
	REQUIRE(mkdtemp(dir));
	REQUIRE(chmod(dir, 0755) == 0); /* what mkdir(1) makes with umask 022 */
	char p[256];
	snprintf(p, sizeof(p), "%s/from_host.txt", dir);
	FILE *f = fopen(p, "we");
	REQUIRE(f);
	fputs("host data\n", f);
	fclose(f);
	REQUIRE(chmod(p, 0644) == 0);
	if (root) {
		REQUIRE(chown(dir, uid, gid) == 0);
		REQUIRE(chown(p, uid, gid) == 0);
	}

	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.workspace_dir = dir;
	API_STEP("create a sandbox with workspace_dir %s", dir);
	petri_sandbox *sb = api_sandbox(&so);

	/* 1. Host files are visible; the owner is the sandbox user inside. */
	petri_result *r = API_SH(sb, "cat /workspace/from_host.txt; stat -c %u:%g . from_host.txt");
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "host data\n1000:1000\n1000:1000\n");
	petri_result_free(r);

	/* 2. The code writes; the host sees it, owned by the directory's owner. */
	API_STEP("exec: the code writes to /workspace");
	r = API_SH(sb,
		   "echo from code > /workspace/from_code.txt && mkdir -p sub && echo x > sub/y");
	char *err = api_out_str(r, PETRI_STREAM_STDERR);
	CHECK_MSG(petri_result_exit_code(r) == 0,
		  "the code cannot write to its read-write workspace %s (mode 0755, owner %u): %s",
		  dir, (unsigned)uid, err);
	free(err);
	petri_result_free(r);
	char *s = api_host_read(dir, "from_code.txt");
	CHECK_MSG(s && strcmp(s, "from code\n") == 0, "host sees from_code.txt as '%s'",
		  s ? s : "(missing)");
	free(s);
	check_host_owner("from_code.txt", uid, gid);
	check_host_owner("sub", uid, gid);

	/* 3. write_file / read_file. */
	API_STEP("write_file / read_file");
	petri_error *e = NULL;
	int rc = petri_sandbox_write_file(sb, "api/written.txt", "via api\n", 8, 0644, &e);
	CHECK_MSG(rc == 0, "write_file into workspace_dir: %s", petri_error_message(e));
	petri_error_free(e);
	s = api_host_read(dir, "api/written.txt");
	CHECK_MSG(s && strcmp(s, "via api\n") == 0, "host sees api/written.txt as '%s'",
		  s ? s : "(missing)");
	free(s);
	check_host_owner("api/written.txt", uid, gid);
	e = NULL;
	void *data = NULL;
	size_t len = 0;
	rc = petri_sandbox_read_file(sb, "from_host.txt", 0, &data, &len, &e);
	CHECK_MSG(rc == 0 && len == 10 && memcmp(data, "host data\n", 10) == 0,
		  "read_file from workspace_dir: %d %s", rc, petri_error_message(e));
	petri_free(data);
	petri_error_free(e);

	/* 4. Destroy does not take the host's directory with it. */
	API_STEP("destroy");
	petri_sandbox_destroy(sb);
	s = api_host_read(dir, "from_host.txt");
	CHECK_MSG(s && strcmp(s, "host data\n") == 0,
		  "destroy removed or changed the host's files");
	free(s);
	s = api_host_read(dir, "from_code.txt");
	CHECK_MSG(s != NULL, "destroy removed the files the code made in the host's directory");
	free(s);
	struct stat st;
	CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));

	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(root_owned_refused),
	PETRI_TEST_CASE(user_owned_dir),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	api_watchdog(40);
	return petri_test_main(argc, argv, cases);
}
