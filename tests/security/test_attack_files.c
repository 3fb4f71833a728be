/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_attack_files - code in a sandbox cannot turn the host's own file
 * handling against the host.
 *
 * 1. Traps for the file API.  attacks/files_plant.sh leaves FIFOs, absolute
 *    and relative symlinks to /etc/shadow, symlinks to a host file and a
 *    host directory (by their host paths), a /proc/self/root magic link and
 *    a ".." symlink in /workspace.  The host then calls
 *    petri_sandbox_read_file / petri_sandbox_write_file on each, in a child
 *    process with a deadline: every call must fail promptly (a FIFO must not
 *    hang the host), none may return /etc/shadow or the host file, and the
 *    host file and directory must be unchanged.  A plain file still works.
 *
 * 2. A host directory as /workspace (workspace_dir).  attacks/workspace_suid.sh
 *    copies an interpreter there and makes it set-user-ID, makes set-group-ID
 *    files and directories, and tries mknod.  Seen from the host, no file the
 *    sandbox left behind may carry a set-user-ID or set-group-ID bit: the host
 *    mounts that directory without nosuid, so such a file owned by root (or by
 *    any real user) would hand that identity to whoever runs it.  Checked for
 *    a root-owned directory and for one owned by an ordinary uid.
 */
#include "sec_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum api_outcome { REFUSED = 0, ACCEPTED = 1, LEAKED = 2, HUNG = 3, CRASHED = 4 };

static const char *outcome_name(int o)
{
	static const char *const n[] = {"refused", "accepted", "leaked host data", "hung",
					"crashed"};
	return o >= 0 && o <= 4 ? n[o] : "?";
}

/* Run one file-API call in a child with a 5 s deadline. */
static int api_call(petri_sandbox *sb, int write, const char *path, const char *leak_marker)
{
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		petri_error *e = NULL;
		int r;
		if (write) {
			r = petri_sandbox_write_file(sb, path, "pwned\n", 6, 0644, &e);
			_exit(r < 0 ? REFUSED : ACCEPTED);
		}
		void *data = NULL;
		size_t len = 0;
		r = petri_sandbox_read_file(sb, path, 0, &data, &len, &e);
		if (r < 0)
			_exit(REFUSED);
		_exit(leak_marker && memmem(data, len, leak_marker, strlen(leak_marker)) ? LEAKED
											  : ACCEPTED);
	}
	uint64_t deadline = sec_now_ms() + 5000;
	int st;
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		if (sec_now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return HUNG;
		}
		usleep(10000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : CRASHED;
}

#define EXPECT_API(sb, write, path, leak, want)                                                    \
	do {                                                                                       \
		int _o = api_call((sb), (write), (path), (leak));                                  \
		CHECK_MSG(_o == (want), "%s_file(\"%s\"): %s, want %s", (write) ? "write" : "read", \
			  (path), outcome_name(_o), outcome_name(want));                            \
	} while (0)

static void api_traps(void)
{
	char dir[] = "/tmp/petri-sec-files-XXXXXX";
	REQUIRE(mkdtemp(dir) != NULL);
	char host_file[4200], host_dir[4200], p[4300];
	snprintf(host_file, sizeof(host_file), "%s/host.txt", dir);
	snprintf(host_dir, sizeof(host_dir), "%s/hostdir", dir);
	int fd = open(host_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	REQUIRE(fd >= 0 && write(fd, "original host data\n", 19) == 19);
	close(fd);
	REQUIRE(mkdir(host_dir, 0755) == 0);

	petri_sandbox *sb = sec_sandbox(NULL);
	char e1[4300], e2[4300];
	snprintf(e1, sizeof(e1), "SEC_HOST_FILE=%s", host_file);
	snprintf(e2, sizeof(e2), "SEC_HOST_DIR=%s", host_dir);
	const char *env[] = {e1, e2, NULL};
	struct sec_run r = sec_exec_attack(sb, "files_plant.sh", env, 30000);
	CHECK(r.rc == 0 && r.exit_code == 0);
	sec_expect_no_escape(&r);
	static const char *const planted[] = {
		"plant_fifo",		     "plant_abs_symlink", "plant_rel_symlink",
		"plant_host_file_symlink", "plant_host_dir_symlink", "plant_magic_link",
		"plant_dotdot_link"};
	for (size_t i = 0; i < sizeof(planted) / sizeof(planted[0]); i++)
		sec_expect(&r, planted[i], "OK");
	if (petri_test_failures)
		sec_dump("files_plant.sh", &r);
	sec_run_free(&r);

	EXPECT_API(sb, 0, "fifo_read", NULL, REFUSED);
	EXPECT_API(sb, 1, "fifo_write", NULL, REFUSED);
	EXPECT_API(sb, 0, "leak_shadow", "root:", REFUSED);
	EXPECT_API(sb, 0, "leak_up", "root:", REFUSED);
	EXPECT_API(sb, 0, "/workspace/leak_shadow", "root:", REFUSED);
	EXPECT_API(sb, 0, "host_file", "original host data", REFUSED);
	EXPECT_API(sb, 1, "host_file", NULL, REFUSED);
	EXPECT_API(sb, 1, "host_dir/planted", NULL, REFUSED);
	EXPECT_API(sb, 0, "proc_root/etc/passwd", "root:", REFUSED);
	EXPECT_API(sb, 1, "sub/up/escaped", NULL, REFUSED);
	EXPECT_API(sb, 0, "../../etc/passwd", "root:", REFUSED);
	EXPECT_API(sb, 1, "sub/../../escaped", NULL, REFUSED);
	/* Control: ordinary files still go both ways. */
	EXPECT_API(sb, 1, "fine/ok.txt", NULL, ACCEPTED);
	EXPECT_API(sb, 0, "fine/ok.txt", "pwned", LEAKED /* = found what we wrote */);

	/* The host's file and directory are as they were. */
	char *data = sec_read_host_file(host_file, NULL);
	CHECK(data && strcmp(data, "original host data\n") == 0);
	free(data);
	snprintf(p, sizeof(p), "%s/planted", host_dir);
	CHECK_MSG(access(p, F_OK) < 0, "%s was created on the host", p);
	CHECK(access("/escaped", F_OK) < 0);
	petri_sandbox_destroy(sb);

	unlink(host_file);
	rmdir(host_dir);
	rmdir(dir);
}

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
		CHECK_MSG(!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode), "%s: device node %s on the host",
			  what, p);
		if (!(st.st_mode & (S_ISUID | S_ISGID)))
			continue;
		if (S_ISDIR(st.st_mode) && !(st.st_mode & S_ISUID)) {
			/* A set-group-ID directory only passes its group on. */
			CHECK_MSG(st.st_gid != 0, "%s: set-group-ID directory %s of group root on the host",
				  what, p);
			continue;
		}
		CHECK_MSG(!(st.st_mode & (S_ISUID | S_ISGID)),
			  "%s: the sandbox left %s on the host with mode %04o, owner %u:%u%s", what, p,
			  (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid,
			  st.st_uid == 0 && (st.st_mode & S_ISUID) ? " -- a set-user-ID-root file: "
								   "any host user who can reach it "
								   "becomes root"
								 : "");
	}
	closedir(d);
	CHECK_MSG(files > 0, "%s: the attack left no files at all", what);
}

static void workspace_dir_setid(uid_t owner, gid_t group, const char *what)
{
	char dir[] = "/tmp/petri-sec-ws-XXXXXX";
	REQUIRE(mkdtemp(dir) != NULL);
	REQUIRE(chown(dir, owner, group) == 0 && chmod(dir, 0755) == 0);
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.workspace_dir = dir;
	petri_sandbox *sb = sec_sandbox(&so);
	struct sec_run r = sec_exec_attack(sb, "workspace_suid.sh", NULL, 30000);
	CHECK_MSG(r.rc == 0 && r.exit_code == 0, "%s: workspace_suid.sh failed", what);
	sec_expect_no_escape(&r);
	sec_expect(&r, "mknod", "BLOCKED");
	fprintf(stderr, "%s: inside the sandbox: %s", what, r.out);
	sec_run_free(&r);
	petri_sandbox_destroy(sb);
	check_no_setid(dir, what);
	remove_tree(dir); /* never leave set-ID files behind */
	CHECK(access(dir, F_OK) < 0);
}

int main(void)
{
	api_traps();
	if (geteuid() == 0) {
		workspace_dir_setid(0, 0, "root-owned workspace_dir");
		workspace_dir_setid(4242, 4242, "workspace_dir of uid 4242");
	} else {
		fprintf(stderr, "note: not root: workspace_dir files belong to the caller anyway\n");
		char dir[] = "/tmp/petri-sec-ws-XXXXXX";
		REQUIRE(mkdtemp(dir) != NULL);
		rmdir(dir);
	}
	return petri_test_done();
}
