/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_attack_id_range - on a root host every sandbox maps inside ids
 * 0..65535 onto a host range of its own, and having those ids gives the
 * code nothing.
 *
 * In one sandbox, attacks/id_range.py sees the map (0 START 65536 for uid
 * and gid, START = the sandbox user's host uid - 1000) and no capability in
 * any set; setuid/setgid/setgroups to root, nobody or another id, and
 * chown/chgrp of its own file to them, fail with EPERM (not EINVAL, which
 * would mean the id does not exist); Python's subprocess.run(user="nobody")
 * raises PermissionError; /etc/passwd and /etc/group name exactly root,
 * sandbox and nobody/nogroup; the host's /usr shows the overflow id 65534
 * (host root has no id inside).  From a host directory bound read-write it
 * can neither write nor chmod a file of host root or of the sandbox's own
 * root (host START), nor create in host root's directory; and set-user-ID,
 * set-group-ID copies of id(1) owned by either root still run as 1000
 * (nosuid, no_new_privs, and host root unmapped).
 *
 * Ranges: two sandboxes at once get disjoint ranges, host 0 in neither,
 * as the host reads them from /proc/PID/uid_map and gid_map.  Two host
 * processes whose first choice is the same range (the same explicit base
 * and serial) still get different ones -- the claim, not luck, keeps them
 * apart -- and a range a dead host held is free again.
 */
#include "sec_util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define RANGE 65536u

/* First line of /proc/@pid/@file as "inside host count"; 0 on success. */
static void need_root(void)
{
	if (geteuid() != 0)
		petri_test_skip("needs root: an unprivileged host maps uid 1000 only (EINVAL for "
				"other ids, see tests/conformance/README.md)");
}

static int read_map(int pid, const char *file, unsigned long long v[3])
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/%s", pid, file);
	FILE *f = fopen(p, "re");
	if (!f)
		return -1;
	int n = fscanf(f, "%llu %llu %llu", &v[0], &v[1], &v[2]);
	int more = fgetc(f) == '\n' && fgetc(f) != EOF; /* a second extent? */
	fclose(f);
	return n == 3 && !more ? 0 : -1;
}

/* The host range of @sb's uid and gid maps (they must agree); CHECKs the
 * shape: one extent 0 START 65536, host root outside it. */
static unsigned long long host_range(petri_sandbox *sb, const char *what)
{
	int init = petri_sandbox_init_pid(sb);
	unsigned long long u[3] = {0}, g[3] = {0};
	REQUIRE(init > 0);
	CHECK_MSG(read_map(init, "uid_map", u) == 0 && read_map(init, "gid_map", g) == 0,
		  "%s: cannot read one-extent maps of init %d", what, init);
	CHECK_MSG(u[0] == 0 && u[2] == RANGE, "%s: uid_map %llu %llu %llu, want 0 START 65536",
		  what, u[0], u[1], u[2]);
	CHECK_MSG(g[0] == u[0] && g[1] == u[1] && g[2] == u[2], "%s: gid_map differs from uid_map",
		  what);
	CHECK_MSG(u[1] > 0 && u[1] + RANGE - 1 <= 0xfffffffeull,
		  "%s: range [%llu, +65536) holds host root or the invalid id", what, u[1]);
	CHECK_MSG((unsigned long long)petri_sandbox_host_uid(sb) == u[1] + 1000,
		  "%s: host uid %lld is not START + 1000 (START %llu)", what,
		  (long long)petri_sandbox_host_uid(sb), u[1]);
	return u[1];
}

static int disjoint(unsigned long long a, unsigned long long b)
{
	return a + RANGE <= b || b + RANGE <= a;
}

static void put_file(const char *path, const void *data, size_t len, uid_t uid, gid_t gid,
		     mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, data, len) == (ssize_t)len);
	REQUIRE(fchown(fd, uid, gid) == 0);
	REQUIRE(fchmod(fd, mode) == 0); /* after fchown, which clears set-id bits */
	close(fd);
}

static char tmpdir[64];

static void cleanup_tmp(void)
{
	static const char *const names[] = {
		"suid/id_hostroot",     "suid/id_insideroot", "suid",          "host/root_file",
		"host/insideroot_file", "host/root_dir/new",  "host/root_dir", "host"};
	char p[128];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", tmpdir, names[i]);
		if (unlink(p) < 0)
			rmdir(p);
	}
	rmdir(tmpdir);
}

/* The attack, in a sandbox of the private context whose range is predicted
 * (sec_private_uid), so files of its inside root can be made beforehand. */
static void test_attack(void)
{
	need_root();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/petri-idrange-XXXXXX");
	REQUIRE(mkdtemp(tmpdir) != NULL);
	REQUIRE(chmod(tmpdir, 0755) == 0);
	atexit(cleanup_tmp);
	/* The first sandbox this process creates (serial 1). */
	uid_t start = sec_private_uid(1) - 1000;
	char p[128], suid[128], host[128];
	snprintf(suid, sizeof(suid), "%s/suid", tmpdir);
	snprintf(host, sizeof(host), "%s/host", tmpdir);
	REQUIRE(mkdir(suid, 0755) == 0 && mkdir(host, 0755) == 0);
	size_t idlen = 0;
	char *id = sec_read_host_file("/usr/bin/id", &idlen);
	REQUIRE(id != NULL);
	snprintf(p, sizeof(p), "%s/id_hostroot", suid);
	put_file(p, id, idlen, 0, 0, 06755);
	snprintf(p, sizeof(p), "%s/id_insideroot", suid);
	put_file(p, id, idlen, start, start, 06755);
	free(id);
	snprintf(p, sizeof(p), "%s/root_file", host);
	put_file(p, "root", 4, 0, 0, 0644);
	snprintf(p, sizeof(p), "%s/insideroot_file", host);
	put_file(p, "inside root", 11, start, start, 0644);
	snprintf(p, sizeof(p), "%s/root_dir", host);
	REQUIRE(mkdir(p, 0755) == 0);
	/* The bound directory itself is writable by all (as /tmp would be), so
	 * only each file's own owner and mode decide. */
	REQUIRE(chmod(host, 01777) == 0);

	char bind_suid[160], bind_host[160];
	snprintf(bind_suid, sizeof(bind_suid), "%s:/suid", suid);
	snprintf(bind_host, sizeof(bind_host), "%s:/hostdir:rw", host);
	const char *binds[] = {bind_suid, bind_host, NULL};
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = "python";
	so.binds = binds;
	petri_sandbox *sb = sec_sandbox_in(sec_private_ctx(), &so);
	unsigned long long got = host_range(sb, "attack sandbox");
	REQUIRE(got == start); /* else another live sandbox held our range: rerun */

	struct petri_test_run r = sec_exec_attack(sb, "id_range.py", NULL, 60000);
	CHECK_MSG(r.rc == 0 && r.reason == PETRI_REASON_EXITED && r.exit_code == 0,
		  "id_range.py did not run to completion");
	sec_expect_no_escape(&r);
	char want[96];
	snprintf(want, sizeof(want), "VALUE 0 %u 65536", (unsigned)start);
	sec_expect(&r, "uid_map", want);
	sec_expect(&r, "gid_map", want);
	sec_expect(&r, "setgroups_file", "VALUE allow");
	sec_expect(&r, "caps",
		   "VALUE 0000000000000000 0000000000000000 0000000000000000 "
		   "0000000000000000 0000000000000000");

	static const char *const eperm[] = {"setuid_0",
					    "setuid_65534",
					    "setuid_1001",
					    "setreuid_65534",
					    "seteuid_0",
					    "setresuid_0",
					    "setgid_0",
					    "setgid_65534",
					    "setregid_65534",
					    "setgroups_empty",
					    "setgroups_1000",
					    "setgroups_0",
					    "chown_0",
					    "chown_65534",
					    "chown_1001",
					    "chgrp_0",
					    "chgrp_65534",
					    "lchown_0",
					    "hostroot_file_chmod",
					    "insideroot_file_chmod"};
	for (size_t i = 0; i < sizeof(eperm) / sizeof(eperm[0]); i++)
		sec_expect(&r, eperm[i], "BLOCKED EPERM");
	sec_expect(&r, "fsuid_after_setfsuid_0", "VALUE 1000");
	sec_expect(&r, "chown_self", "OK");
	sec_expect(&r, "file_owner", "VALUE 1000 1000");
	sec_expect(&r, "subprocess_user_nobody", "BLOCKED EPERM PermissionError");
	sec_expect(&r, "subprocess_group_nogroup", "BLOCKED EPERM PermissionError");
	sec_expect(&r, "subprocess_extra_groups", "BLOCKED EPERM PermissionError");
	sec_expect(&r, "subprocess_user_root", "BLOCKED EPERM PermissionError");

	sec_expect(&r, "passwd_root", "VALUE 0 0 /root");
	sec_expect(&r, "passwd_sandbox", "VALUE 1000 1000 /home/sandbox");
	sec_expect(&r, "passwd_nobody", "VALUE 65534 65534 /nonexistent");
	sec_expect(&r, "group_root", "VALUE 0");
	sec_expect(&r, "group_sandbox", "VALUE 1000");
	sec_expect(&r, "group_nogroup", "VALUE 65534");
	sec_expect_list(&r, "passwd_ids", "0,1000,65534", "0,1000,65534");
	sec_expect_list(&r, "group_ids", "0,1000,65534", "0,1000,65534");
	sec_expect(&r, "id", "VALUE uid=1000(sandbox)_gid=1000(sandbox)_groups=1000(sandbox)");
	sec_expect(&r, "usr_owner", "VALUE 65534 65534");

	sec_expect(&r, "hostroot_file_write", "BLOCKED EACCES");
	sec_expect(&r, "hostroot_dir_create", "BLOCKED EACCES");
	sec_expect(&r, "insideroot_file_write", "BLOCKED EACCES");
	sec_expect(&r, "owner_root_file", "VALUE 65534 65534");
	sec_expect(&r, "owner_insideroot_file", "VALUE 0 0");
	/* The set-id bits are there to see (the mount's nosuid and the no_new_privs
	 * make execve ignore them); id prints no euid= or egid=. */
	sec_expect(&r, "suid_id_hostroot",
		   "VALUE mode=6755 owner=65534:65534 "
		   "uid=1000(sandbox)_gid=1000(sandbox)_groups=1000(sandbox)");
	sec_expect(&r, "suid_id_insideroot",
		   "VALUE mode=6755 owner=0:0 "
		   "uid=1000(sandbox)_gid=1000(sandbox)_groups=1000(sandbox)");
	if (petri_test_failures)
		sec_dump("id_range.py", &r);
	petri_test_run_free(&r);
	petri_sandbox_destroy(sb);

	/* The host's files are untouched. */
	struct stat st;
	snprintf(p, sizeof(p), "%s/root_file", host);
	CHECK(stat(p, &st) == 0 && st.st_uid == 0 && (st.st_mode & 07777) == 0644 &&
	      st.st_size == 4);
	snprintf(p, sizeof(p), "%s/insideroot_file", host);
	CHECK(stat(p, &st) == 0 && st.st_uid == start && (st.st_mode & 07777) == 0644 &&
	      st.st_size == 11);
	snprintf(p, sizeof(p), "%s/root_dir/new", host);
	CHECK(access(p, F_OK) < 0);
}

/* Two sandboxes of the default context at once. */
static void test_two_at_once(void)
{
	need_root();
	petri_sandbox *a = sec_sandbox(NULL), *b = sec_sandbox(NULL);
	unsigned long long ra = host_range(a, "first"), rb = host_range(b, "second");
	CHECK_MSG(disjoint(ra, rb), "two live sandboxes share host ids: [%llu..] and [%llu..]", ra,
		  rb);
	fprintf(stderr, "default base: ranges start at %llu and %llu\n", ra, rb);
	petri_sandbox_destroy(a);
	petri_sandbox_destroy(b);
}

/* A host process with a context of base @base: creates one sandbox, writes
 * its range start to @out and holds it until it is killed, without
 * destroying anything (the kernel frees its claim). */
static _Noreturn void holder(uint32_t base, int out)
{
	petri_ctx *ctx = NULL;
	petri_ctx_opts o = PETRI_CTX_OPTS_INIT;
	o.host_uid_base = base;
	petri_error *e = NULL;
	if (petri_ctx_new(&ctx, &o, &e) < 0) {
		fprintf(stderr, "holder: petri_ctx_new: %s\n", petri_error_message(e));
		_exit(2);
	}
	petri_sandbox *sb = NULL;
	if (petri_sandbox_create(ctx, NULL, &sb, &e) < 0) {
		fprintf(stderr, "holder: petri_sandbox_create: %s\n", petri_error_message(e));
		_exit(2);
	}
	int64_t start = petri_sandbox_host_uid(sb) - 1000;
	if (write(out, &start, sizeof(start)) != (ssize_t)sizeof(start))
		_exit(3);
	for (;;)
		pause();
}

/* Start holder(@base), a fork of this process as it is now (so its next
 * sandbox serial follows ours); [out] its range start. */
static pid_t start_holder(uint32_t base, int64_t *start)
{
	int up[2];
	REQUIRE(pipe2(up, O_CLOEXEC) == 0);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		close(up[0]);
		holder(base, up[1]);
	}
	close(up[1]);
	REQUIRE(read(up[0], start, sizeof(*start)) == (ssize_t)sizeof(*start));
	close(up[0]);
	return pid;
}

static void kill_holder(pid_t pid)
{
	int st;
	kill(pid, SIGKILL);
	REQUIRE(waitpid(pid, &st, 0) == pid);
}

/*
 * With a caller-chosen base, the sandbox of process-wide serial n first
 * tries range base + n * 65536.  Run before this process creates any
 * sandbox, so every holder (a fork) creates serial 1 and tries X + 65536
 * first, with X two ranges into this test's private window.  Holder A gets
 * it.  Holder B, with the same base and the same serial, tries it too:
 * without the claim it would share A's ids; it must get another range.
 * Then A dies, and holder C (same base, same serial) gets it back.
 */
static void test_claims_across_processes(void)
{
	need_root();
	uint32_t x = sec_private_uid_base() + 2 * RANGE;
	int64_t first = (int64_t)x + RANGE, sa, sb, sc;
	pid_t a = start_holder(x, &sa), b = start_holder(x, &sb);
	CHECK_MSG(sa == first, "holder A got range %lld, want %lld (its first choice)",
		  (long long)sa, (long long)first);
	CHECK_MSG(sb != sa && disjoint((unsigned long long)sa, (unsigned long long)sb),
		  "two host processes with the same first choice share ids: %lld and %lld",
		  (long long)sa, (long long)sb);
	CHECK_MSG(sb > 0 && (sb - x) % RANGE == 0, "holder B got unaligned range %lld",
		  (long long)sb);
	kill_holder(a); /* a host that dies, without destroying anything */
	pid_t c = start_holder(x, &sc);
	CHECK_MSG(sc == sa, "after holder A died, holder C got %lld, not A's free range %lld",
		  (long long)sc, (long long)sa);
	kill_holder(b);
	kill_holder(c);
}

/* A sandbox of @ctx, whose base leaves one range.  A sandbox of another
 * test running meanwhile may hold it: the default base hashes sandboxes
 * over every range up to the last, this one included.  Wait for it (5 s). */
static petri_sandbox *last_range_sandbox(petri_ctx *ctx)
{
	for (int i = 0;; i++) {
		petri_sandbox *sb = NULL;
		petri_error *e = NULL;
		int r = petri_sandbox_create(ctx, NULL, &sb, &e);
		if (r == -EAGAIN && i < 100) {
			petri_error_free(e);
			usleep(50 * 1000);
			continue;
		}
		CHECK_MSG(r == 0, "the last range: %s", petri_error_message(e));
		petri_error_free(e);
		REQUIRE(r == 0 && sb);
		return sb;
	}
}

/* The highest base leaves exactly one range, up to 0xfffffffe (the kernel
 * refuses (uid_t)-1): the first sandbox gets it, a second one a clear error
 * instead of a shared range, and the range is free again once destroyed. */
static void test_last_range(void)
{
	need_root();
	petri_ctx *ctx = NULL;
	petri_ctx_opts o = PETRI_CTX_OPTS_INIT;
	o.host_uid_base = 0xfffeffffu;
	REQUIRE(petri_ctx_new(&ctx, &o, NULL) == 0);
	petri_sandbox *a = last_range_sandbox(ctx), *b = NULL;
	CHECK(host_range(a, "last range") == 0xfffeffffull);
	petri_error *e = NULL;
	int r = petri_sandbox_create(ctx, NULL, &b, &e);
	CHECK_MSG(r == -EAGAIN && b == NULL && strstr(petri_error_message(e), "host id range"),
		  "a second sandbox with no range left: %d %s", r, petri_error_message(e));
	petri_error_free(e);
	petri_sandbox_destroy(a);
	a = last_range_sandbox(ctx);
	CHECK(host_range(a, "last range again") == 0xfffeffffull);
	petri_ctx_free(ctx);
}

/*
 * The lock file is left readable by others (root made it with umask 022,
 * say, or a tmpfiles.d line with 0644): a local user who takes a READ lock
 * on all of it must not stop root's sandboxes.  Before the fix only group
 * and other write bits made the library ignore the file; nobody's read
 * lock then took every range and petri_sandbox_create failed with EAGAIN
 * ("every host id range ... is in use").  In a mount namespace of this
 * case's own, with a tmpfs on /run/petri, so the host's real lock file and
 * the other tests' ranges are untouched.
 */
static void test_lock_file_readable(void)
{
	need_root();
	REQUIRE(unshare(CLONE_NEWNS) == 0);
	REQUIRE(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	mkdir("/run/petri", 0755);
	REQUIRE(mount("tmpfs", "/run/petri", "tmpfs", 0, "mode=0755,size=64k") == 0);
	int fd = open("/run/petri/host-ids.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	REQUIRE(fd >= 0 && fchmod(fd, 0644) == 0);
	close(fd);

	int ready[2];
	REQUIRE(pipe2(ready, O_CLOEXEC) == 0);
	pid_t holder = fork();
	REQUIRE(holder >= 0);
	if (holder == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(2);
		int lf = open("/run/petri/host-ids.lock", O_RDONLY | O_CLOEXEC);
		struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
		if (lf < 0 || fcntl(lf, F_OFD_SETLK, &fl) < 0)
			_exit(3);
		if (write(ready[1], "x", 1) != 1)
			_exit(4);
		pause();
		_exit(0);
	}
	close(ready[1]);
	char c;
	CHECK_MSG(read(ready[0], &c, 1) == 1, "nobody could not read-lock the lock file");
	close(ready[0]);

	petri_ctx *ctx = NULL;
	REQUIRE(petri_ctx_new(&ctx, NULL, NULL) == 0);
	petri_sandbox *sb = NULL;
	petri_error *e = NULL;
	int r = petri_sandbox_create(ctx, NULL, &sb, &e);
	CHECK_MSG(r == 0, "nobody's read lock on a 0644 lock file stops root's sandboxes: %d %s", r,
		  petri_error_message(e));
	petri_error_free(e);
	if (sb)
		petri_sandbox_destroy(sb);
	petri_ctx_free(ctx);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(claims_across_processes),
	PETRI_TEST_CASE(attack),
	PETRI_TEST_CASE(two_at_once),
	PETRI_TEST_CASE(last_range),
	PETRI_TEST_CASE(lock_file_readable),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
