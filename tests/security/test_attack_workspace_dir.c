/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_attack_workspace_dir - code in a sandbox whose /workspace is a host
 * directory (workspace_dir) cannot leave privileged files on the host.
 *
 * attacks/workspace_suid.sh copies an interpreter into /workspace and makes
 * it set-user-ID, makes set-group-ID files and directories, and tries
 * mknod.  Seen from the host, no file the sandbox left behind may carry a
 * set-user-ID or set-group-ID bit: the host sees that directory through its
 * own mount, without nosuid, so such a file owned by root (or by any real
 * user) hands that identity to whoever runs it.  Checked for directories
 * owned by root or root's group (refusing them is a fine answer) and by an
 * ordinary uid (which must work).  Root hosts only: otherwise the files
 * belong to the caller anyway.
 */
#include "sec_util.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

/* Remove everything below @dir (one level of subdirectories), then @dir. */
static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[4300];
	while (d && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (unlink(p) < 0)
			rmdir(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* Every file below @dir: no set-user-ID or set-group-ID bit may be left. */
static void check_no_setid(const char *dir, const char *what)
{
	DIR *d = opendir(dir);
	REQUIRE(d != NULL);
	struct dirent *de;
	int files = 0;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char p[4300];
		struct stat st;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (lstat(p, &st) < 0)
			continue;
		files++;
		CHECK_MSG(!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode),
			  "%s: device node %s on the host", what, p);
		if (!(st.st_mode & (S_ISUID | S_ISGID)))
			continue;
		if (S_ISDIR(st.st_mode) && !(st.st_mode & S_ISUID)) {
			/* A set-group-ID directory only passes its group on. */
			CHECK_MSG(st.st_gid != 0,
				  "%s: set-group-ID directory %s of group root on the host", what,
				  p);
			continue;
		}
		CHECK_MSG(!(st.st_mode & (S_ISUID | S_ISGID)),
			  "%s: the sandbox left %s on the host with mode %04o, owner %u:%u%s", what,
			  p, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
			  (unsigned)st.st_gid,
			  st.st_uid == 0 && (st.st_mode & S_ISUID) ?
				  " -- a set-user-ID-root file: "
				  "any host user who can reach it "
				  "becomes root" :
				  "");
	}
	closedir(d);
	CHECK_MSG(files > 0, "%s: the attack left no files at all", what);
}

/* Returns 0 when the library refused the directory (nothing to attack). */
static int workspace_dir_setid(uid_t owner, gid_t group, const char *what)
{
	char dir[] = "/tmp/petri-sec-ws-XXXXXX";
	REQUIRE(mkdtemp(dir) != NULL);
	REQUIRE(chown(dir, owner, group) == 0 && chmod(dir, 0755) == 0);
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.workspace_dir = dir;
	petri_sandbox *sb = NULL;
	petri_error *e = NULL;
	int rc = petri_sandbox_create(petri_test_ctx(), &so, &sb, &e);
	if (rc < 0) {
		fprintf(stderr, "%s: refused: %s\n", what, petri_error_message(e));
		petri_error_free(e);
		rmdir(dir);
		return 0;
	}
	struct petri_test_run r = sec_exec_attack(sb, "workspace_suid.sh", NULL, 30000);
	CHECK_MSG(r.rc == 0 && r.exit_code == 0, "%s: workspace_suid.sh failed", what);
	sec_expect_no_escape(&r);
	sec_expect(&r, "mknod", "BLOCKED");
	fprintf(stderr, "%s: inside the sandbox: %s", what, r.out);
	petri_test_run_free(&r);
	petri_sandbox_destroy(sb);
	check_no_setid(dir, what);
	remove_tree(dir); /* never leave set-ID files behind */
	CHECK(access(dir, F_OK) < 0);
	return 1;
}

static void need_root(void)
{
	if (geteuid() != 0)
		petri_test_skip("not root: workspace_dir files belong to the caller anyway");
}

/* Refusing a directory owned by uid or gid 0 is a fine answer too. */
static void test_root_owned(void)
{
	need_root();
	workspace_dir_setid(0, 0, "root-owned workspace_dir");
}

static void test_root_uid(void)
{
	need_root();
	workspace_dir_setid(0, 4242, "workspace_dir of uid 0, gid 4242");
}

static void test_root_gid(void)
{
	need_root();
	workspace_dir_setid(4242, 0, "workspace_dir of uid 4242, gid 0");
}

static void test_ordinary_user(void)
{
	need_root();
	CHECK_MSG(workspace_dir_setid(4242, 4242, "workspace_dir of uid 4242"),
		  "an ordinary user's workspace_dir was refused");
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(root_owned),
	PETRI_TEST_CASE(root_uid),
	PETRI_TEST_CASE(root_gid),
	PETRI_TEST_CASE(ordinary_user),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
