/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_unix_guard.c - the unix socket guard (libpetri/unix_guard.c) on a
 * cgroup of the test's own, below its cgroup in the unified hierarchy:
 * processes in it under seccomp cannot connect or send to a pathname unix
 * address (EPERM) while abstract, unnamed and socketpair sockets work;
 * processes without a filter, and any in a sibling cgroup, are not
 * touched; the programs go away with the cgroup and leave no fd behind;
 * and a sandbox whose filesystem can hold host sockets gets the guard.
 * Needs root and Linux 6.7 (skipped otherwise, failed under CI=true).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "host.h"
#include "kaudit_cgroup.h"
#include "petri_test.h"

#define UNIX_CONNECT 49 /* BPF_CGROUP_UNIX_CONNECT */
#define UNIX_SENDMSG 50 /* BPF_CGROUP_UNIX_SENDMSG */

/* ---- cgroups of the test's own -------------------------------------------- */

static char cg_paths[2][512];

static void remove_cgroups(void)
{
	for (int i = 0; i < 2; i++)
		if (cg_paths[i][0])
			rmdir(cg_paths[i]);
}

/* "petri-ug-@tag-PID" below our own cgroup of the unified hierarchy (the
 * "0::" line of /proc/self/cgroup; mounted at /sys/fs/cgroup/unified on a
 * hybrid host), removed at exit: an O_PATH fd of it, as cgroup.c opens a
 * sandbox's.  @slot: which of two it is. */
static int make_cgroup(int slot, const char *tag)
{
	const char *roots[] = {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"};
	char line[512], own[400] = "";
	struct statfs sf;

	FILE *f = fopen("/proc/self/cgroup", "re");
	REQUIRE(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "0::", 3) == 0)
			snprintf(own, sizeof(own), "%s", line + 3);
	fclose(f);
	own[strcspn(own, "\n")] = 0;
	for (size_t i = 0; i < 2; i++) {
		if (statfs(roots[i], &sf) || sf.f_type != CGROUP2_SUPER_MAGIC)
			continue;
		snprintf(cg_paths[slot], sizeof(cg_paths[slot]), "%s%s/petri-ug-%s-%d", roots[i],
			 strcmp(own, "/") == 0 ? "" : own, tag, (int)getpid());
		if (mkdir(cg_paths[slot], 0755) && errno != EEXIST) {
			cg_paths[slot][0] = 0;
			break;
		}
		atexit(remove_cgroups);
		int fd = open(cg_paths[slot], O_PATH | O_DIRECTORY | O_CLOEXEC);
		REQUIRE(fd >= 0);
		return fd;
	}
	petri_test_skip("no writable cgroup v2 hierarchy below our cgroup");
}

/* The guard attached to @cgfd through a context of this case; skipped
 * where the host cannot have it. */
static void attach(int cgfd)
{
	petri_error *err = NULL;
	if (geteuid() != 0)
		petri_test_skip("the unix socket guard needs root");
	int r = petri__unix_guard_attach(petri_test_ctx(), cgfd, &err);
	if (r == -EOPNOTSUPP) {
		char why[600];
		snprintf(why, sizeof(why), "%s", petri_error_message(err));
		petri_test_skip(why);
	}
	CHECK_MSG(r == 0, "%s", petri_error_message(err));
	REQUIRE(r == 0);
	petri_error_free(err);
}

/* How many programs are attached to @cgfd for @type (not inherited ones). */
static unsigned attached(int cgfd, int type, uint32_t *ids, unsigned max)
{
	uint32_t n = max, flags = 0;
	REQUIRE(bpf_prog_query(cgfd, (enum bpf_attach_type)type, 0, &flags, ids, &n) == 0);
	return n;
}

/* ---- what a child in the cgroup tries -------------------------------------- */

static void allow_all_filter(void)
{
	struct sock_filter f[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_fprog p = {1, f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p))
		_exit(100);
}

/* A unix address: @name a path, or with @abstract the name after the
 * leading NUL.  Its length through *@len. */
static struct sockaddr_un addr(const char *name, int abstract, socklen_t *len)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	size_t n = strlen(name);
	memcpy(a.sun_path + !!abstract, name, n);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + !!abstract + n + !abstract);
	return a;
}

/* A listener (SOCK_STREAM) or a bound SOCK_DGRAM socket at @name. */
static int server(int type, const char *name, int abstract)
{
	socklen_t len;
	struct sockaddr_un a = addr(name, abstract, &len);
	int s = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	REQUIRE(s >= 0);
	if (!abstract)
		unlink(name);
	REQUIRE(bind(s, (struct sockaddr *)&a, len) == 0);
	if (type == SOCK_STREAM)
		REQUIRE(listen(s, 8) == 0);
	return s;
}

/* 0 or the errno of a connect() of a new @type socket to @name. */
static int try_connect(int type, const char *name, int abstract)
{
	socklen_t len;
	struct sockaddr_un a = addr(name, abstract, &len);
	int c = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (c < 0)
		return errno;
	int r = connect(c, (struct sockaddr *)&a, len) < 0 ? errno : 0;
	close(c);
	return r;
}

/* 0 or the errno of a sendto() (@msg 0) or sendmsg() (@msg 1) of one byte
 * to the datagram socket at @name. */
static int try_send(const char *name, int abstract, int msg)
{
	socklen_t len;
	struct sockaddr_un a = addr(name, abstract, &len);
	int c = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		return errno;
	ssize_t n;
	if (msg) {
		struct iovec iov = {.iov_base = "x", .iov_len = 1};
		struct msghdr mh = {
			.msg_name = &a, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1};
		n = sendmsg(c, &mh, 0);
	} else {
		n = sendto(c, "x", 1, 0, (struct sockaddr *)&a, len);
	}
	int r = n == 1 ? 0 : n < 0 ? errno : EIO;
	close(c);
	return r;
}

static int socketpair_works(int type)
{
	int sv[2];
	char c = 0;
	if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv))
		return 0;
	int ok = send(sv[0], "y", 1, 0) == 1 && recv(sv[1], &c, 1, 0) == 1 && c == 'y';
	close(sv[0]);
	close(sv[1]);
	return ok;
}

/* Bits of a child's exit status: which tries did not go as expected. */
enum {
	BAD_STREAM = 1,
	BAD_DGRAM_CONNECT = 2,
	BAD_SENDTO = 4,
	BAD_SENDMSG = 8,
	BAD_ABSTRACT = 16,
	BAD_ABSTRACT_SEND = 32,
	BAD_PAIRS = 64,
};

static char dir[64];
static char stream_path[96], dgram_path[96], abs_name[64];

/* Servers in a directory of ours (and abstract ones) for the children. */
static void servers(int *fds)
{
	snprintf(dir, sizeof(dir), "/tmp/petri-ug-%d", (int)getpid());
	REQUIRE(mkdir(dir, 0700) == 0 || errno == EEXIST);
	snprintf(stream_path, sizeof(stream_path), "%s/stream", dir);
	snprintf(dgram_path, sizeof(dgram_path), "%s/dgram", dir);
	snprintf(abs_name, sizeof(abs_name), "petri-ug-%d", (int)getpid());
	fds[0] = server(SOCK_STREAM, stream_path, 0);
	fds[1] = server(SOCK_DGRAM, dgram_path, 0);
	fds[2] = server(SOCK_STREAM, abs_name, 1);
	fds[3] = server(SOCK_DGRAM, abs_name, 1);
}

static void servers_close(int *fds)
{
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	unlink(stream_path);
	unlink(dgram_path);
	rmdir(dir);
}

/* In a child of the cgroup @cgfd, with an allow-all filter when @filtered:
 * pathname connects and sends give @want (0 or an errno); abstract ones
 * and socketpairs always work.  Returns the BAD_* bits. */
static int run_child(int cgfd, int filtered, int want)
{
	pid_t pid = kaudit_test_fork(cgfd);
	if (pid == 0) {
		if (filtered)
			allow_all_filter();
		int bad = 0;
		if (try_connect(SOCK_STREAM, stream_path, 0) != want)
			bad |= BAD_STREAM;
		if (try_connect(SOCK_DGRAM, dgram_path, 0) != want)
			bad |= BAD_DGRAM_CONNECT;
		if (try_send(dgram_path, 0, 0) != want)
			bad |= BAD_SENDTO;
		if (try_send(dgram_path, 0, 1) != want)
			bad |= BAD_SENDMSG;
		if (try_connect(SOCK_STREAM, abs_name, 1) != 0)
			bad |= BAD_ABSTRACT;
		if (try_send(abs_name, 1, 0) != 0)
			bad |= BAD_ABSTRACT_SEND;
		if (!socketpair_works(SOCK_STREAM) || !socketpair_works(SOCK_DGRAM) ||
		    !socketpair_works(SOCK_SEQPACKET))
			bad |= BAD_PAIRS;
		_exit(bad);
	}
	int st = -1;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	REQUIRE(WIFEXITED(st));
	REQUIRE(WEXITSTATUS(st) != 100); /* its filter */
	return WEXITSTATUS(st);
}

/* ---- cases ------------------------------------------------------------------ */

/* A child (under a filter or not: @filtered) in a guarded cgroup of our
 * own: its pathname calls must end with @want (0: success). */
static void guarded_child(int filtered, int want)
{
	int fds[4];
	int cg = make_cgroup(0, "a");
	attach(cg);
	servers(fds);
	int bad = run_child(cg, filtered, want);
	CHECK_MSG(bad == 0, "unexpected outcomes, bits 0x%x", bad);
	servers_close(fds);
	close(cg);
}

/* Under seccomp in the guarded cgroup: every pathname connect and send is
 * EPERM; abstract names and socketpairs work. */
static void test_filtered_refused(void)
{
	guarded_child(1, EPERM);
}

/* Without a filter (init, the reaper, its brokers) everything passes. */
static void test_unfiltered_pass(void)
{
	guarded_child(0, 0);
}

/* A sibling cgroup without the guard: a filtered process there connects. */
static void test_sibling_unaffected(void)
{
	int fds[4];
	int cg = make_cgroup(0, "a");
	int sib = make_cgroup(1, "b");
	attach(cg);
	servers(fds);
	CHECK(attached(sib, UNIX_CONNECT, NULL, 0) == 0);
	int bad = run_child(sib, 1, 0);
	CHECK_MSG(bad == 0, "unexpected outcomes, bits 0x%x", bad);
	/* ... while the guarded one is refused at the same time. */
	CHECK(run_child(cg, 1, EPERM) == 0);
	servers_close(fds);
	close(sib);
	close(cg);
}

/* Each hook has our one program, beside another (ALLOW_MULTI) of a second
 * context on the same cgroup; once the contexts are freed and the cgroup
 * removed, the kernel releases the programs. */
static void test_gone_with_cgroup(void)
{
	uint32_t ids[4] = {0};
	int cg = make_cgroup(0, "a");
	attach(cg);
	CHECK(attached(cg, UNIX_CONNECT, ids, 4) == 1);
	CHECK(attached(cg, UNIX_SENDMSG, ids + 2, 2) == 1);
	petri_ctx *other = NULL;
	REQUIRE(petri_ctx_new(&other, NULL, NULL) == 0);
	REQUIRE(petri__unix_guard_attach(other, cg, NULL) == 0);
	CHECK(attached(cg, UNIX_CONNECT, NULL, 0) == 2);
	CHECK(attached(cg, UNIX_SENDMSG, NULL, 0) == 2);
	petri_ctx_free(other);
	petri_test_ctx_free();
	/* The attachments hold the programs still. */
	int fd = bpf_prog_get_fd_by_id(ids[0]);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	close(cg);
	REQUIRE(rmdir(cg_paths[0]) == 0);
	cg_paths[0][0] = 0;
	/* The kernel releases a removed cgroup's programs from a work item. */
	int gone = 0;
	for (int i = 0; i < 500 && !gone; i++) {
		int a = bpf_prog_get_fd_by_id(ids[0]), b = bpf_prog_get_fd_by_id(ids[2]);
		gone = a < 0 && b < 0;
		if (a >= 0)
			close(a);
		if (b >= 0)
			close(b);
		if (!gone)
			usleep(10000);
	}
	CHECK_MSG(gone, "programs %u and %u still exist 5 s after the cgroup went", ids[0], ids[2]);
}

/* Attaching to many cgroups keeps no fd: the load's are the context's. */
static void test_no_fd_per_attach(void)
{
	int cg = make_cgroup(0, "a");
	attach(cg); /* loads */
	int before = petri_test_count_fds();
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 20; i++) {
		char p[600];
		snprintf(p, sizeof(p), "%s/c%d", cg_paths[0], i);
		REQUIRE(mkdir(p, 0755) == 0);
		int fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
		REQUIRE(fd >= 0);
		CHECK(petri__unix_guard_attach(petri_test_ctx(), fd, NULL) == 0);
		close(fd);
		CHECK(rmdir(p) == 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(petri_test_count_fds() == before);
	fprintf(stderr, "20 x (mkdir, attach, rmdir): %.1f us each\n",
		((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 20e3);
	close(cg);
}

/* Which sandboxes want the guard. */
static void test_wanted(void)
{
	struct petri_bind b[2] = {{.rw = 0}, {.rw = 1, .sockets = 1}};
	struct petri_init_cfg cfg = {.binds = b, .nbinds = 2};
	CHECK(petri__unix_guard_wanted(&cfg) == 0); /* read-only, or sockets asked for */
	b[1].sockets = 0;
	CHECK(petri__unix_guard_wanted(&cfg) == 1); /* writable bind */
	b[1].rw = 0;
	CHECK(petri__unix_guard_wanted(&cfg) == 0);
	snprintf(cfg.workspace_dir, sizeof(cfg.workspace_dir), "/srv/w");
	CHECK(petri__unix_guard_wanted(&cfg) == 1);
	cfg.workspace_dir[0] = 0;
	snprintf(cfg.rootfs, sizeof(cfg.rootfs), "/srv/root");
	CHECK(petri__unix_guard_wanted(&cfg) == 1);
}

/* Through petri_sandbox_create: a sandbox with a workspace directory has
 * the programs on its cgroup, a default one has none. */
static void test_sandbox_gets_guard(void)
{
	if (geteuid() != 0)
		petri_test_skip("the unix socket guard needs root");
	petri_ctx *ctx = petri_test_ctx();
	if (ctx->cgroups.mode == PETRI_CGROUP_NONE)
		petri_test_skip("no cgroups for sandboxes here");
	char ws[] = "/tmp/petri-ug-ws-XXXXXX";
	REQUIRE(mkdtemp(ws));
	REQUIRE(chown(ws, 1000, 1000) == 0); /* a workspace may not be root's */
	petri_sandbox_opts o = PETRI_SANDBOX_OPTS_INIT;
	o.workspace_dir = ws;
	petri_sandbox *sb = NULL, *plain = NULL;
	petri_error *err = NULL;
	int r = petri_sandbox_create(ctx, &o, &sb, &err);
	CHECK_MSG(r == 0, "%s", petri_error_message(err));
	petri_error_free(err);
	err = NULL;
	if (r == 0) {
		CHECK(sb->cgroup.v2_dirfd >= 0);
		if (sb->cgroup.v2_dirfd >= 0) {
			CHECK(attached(sb->cgroup.v2_dirfd, UNIX_CONNECT, NULL, 0) == 1);
			CHECK(attached(sb->cgroup.v2_dirfd, UNIX_SENDMSG, NULL, 0) == 1);
		}
		petri_sandbox_destroy(sb);
	}
	petri_sandbox_opts d = PETRI_SANDBOX_OPTS_INIT;
	r = petri_sandbox_create(ctx, &d, &plain, &err);
	CHECK_MSG(r == 0, "%s", petri_error_message(err));
	petri_error_free(err);
	if (r == 0) {
		if (plain->cgroup.v2_dirfd >= 0)
			CHECK(attached(plain->cgroup.v2_dirfd, UNIX_CONNECT, NULL, 0) == 0);
		petri_sandbox_destroy(plain);
	}
	rmdir(ws);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(wanted),
	PETRI_TEST_CASE(filtered_refused),
	PETRI_TEST_CASE(unfiltered_pass),
	PETRI_TEST_CASE(sibling_unaffected),
	PETRI_TEST_CASE(gone_with_cgroup),
	PETRI_TEST_CASE(no_fd_per_attach),
	PETRI_TEST_CASE(sandbox_gets_guard),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
