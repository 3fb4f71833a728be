/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cgroup_leaf - PETRI_CTX_F_CGROUP_LEAF, the cgroup v2 "no internal
 * processes" rule and the host's move into "<own>/petri-host".
 *
 * The v2 half of the layout detection (petri__cgroup_v2_parent, internal:
 * linked from the static library) is pointed at a scratch cgroup S below
 * this process's own cgroup in the cgroup2 hierarchy, with a host process
 * (a forked child) inside S.  The controllers it enables are a test choice:
 * on a hybrid host (this project's test machine) memory and pids belong to
 * v1 and the cgroup2 mount has none of them, so the test uses a controller
 * the cgroup2 mount does have (hugetlb here) and enables it in our own
 * cgroup for S's sake, which only works where our cgroup may hold processes
 * and controllers at once: the root (restored at the end).  The kernel's
 * EBUSY is then real, and so are the move and the enabling after it:
 *  - without the flag: -EBUSY, the exact warning naming the flag, no move;
 *  - with it: the whole process (a second thread too) moves into
 *    S/petri-host, the controller is enabled in S, S is the sandboxes'
 *    parent, a new child of S gets the controller, the sweep of S keeps
 *    petri-host (and removes a stale petri-<deadpid>-* beside it), and a
 *    second detection from inside the leaf keeps S as the parent;
 *  - a process that is no petri host stays in S: -EBUSY after the move, the
 *    warning says so, the host stays in the leaf;
 *  - two hosts in S at once both end up in the one shared leaf, both OK;
 *  - a petri-host of another uid is refused (-EPERM), no move;
 *  - petri_ctx_new() takes the flag, and on a hybrid host moves nothing.
 * What this cannot show: memory and pids themselves on a pure v2 host.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "api_common.h"

int petri__cgroup_v2_parent(struct petri_ctx *ctx, const char *own, const char *ctrls, int leaf,
			    char **parent, int *cpu, char *why, size_t whylen);
void petri__cgroup_sweep(struct petri_ctx *ctx, const char *parent, int v2);
void petri__cgroup_name(char *buf, size_t size, uint64_t serial);

static char g_mount[PATH_MAX]; /* the cgroup2 mount point */
static char g_own[PATH_MAX];   /* our cgroup's directory there */
static char g_ctrl[64];        /* the controller the cases enable, or "" */
static char g_skip[512];       /* why there is none */
static int g_enabled;          /* we enabled g_ctrl in g_own: disable at the end */

/* --- small helpers ------------------------------------------------------ */

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, s, strlen(s));
	int r = n < 0 ? -errno : 0;
	close(fd);
	return r;
}

static void read_str(const char *path, char *buf, size_t size)
{
	buf[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, size - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	buf[strcspn(buf, "\n")] = '\0';
}

static bool word_in(const char *list, const char *word)
{
	char copy[1024], *save = NULL;
	snprintf(copy, sizeof(copy), "%s", list);
	for (char *t = strtok_r(copy, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
		if (strcmp(t, word) == 0)
			return true;
	return false;
}

static bool exists(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

/* The cgroup2 directory of task @tid of this process (0: the process). */
static void cgroup_of(int tid, char *out, size_t size)
{
	char path[64], line[PATH_MAX];
	if (tid)
		snprintf(path, sizeof(path), "/proc/self/task/%d/cgroup", tid);
	else
		snprintf(path, sizeof(path), "/proc/self/cgroup");
	out[0] = '\0';
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "0::", 3) == 0)
			snprintf(out, size, "%s%s", g_mount, strcmp(line + 3, "/") ? line + 3 : "");
	}
	fclose(f);
}

static void find_own(void)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char root[PATH_MAX], point[PATH_MAX];
		const char *dash = strstr(line, " - cgroup2 ");
		if (dash && sscanf(line, "%*s %*s %*s %4095s %4095s", root, point) == 2 &&
		    strcmp(root, "/") == 0) {
			snprintf(g_mount, sizeof(g_mount), "%s", point);
			break;
		}
	}
	fclose(f);
	if (*g_mount)
		cgroup_of(0, g_own, sizeof(g_own));
}

/* A controller of our cgroup enabled for its children: one already there,
 * or the first available one we may enable (the root cgroup may, holding
 * processes). */
static void setup_controller(void)
{
	char path[PATH_MAX], buf[1024], *save = NULL;
	find_own();
	if (!*g_own) {
		snprintf(g_skip, sizeof(g_skip), "no cgroup2 mount holding our cgroup");
		return;
	}
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", g_own);
	read_str(path, buf, sizeof(buf));
	char *t = strtok_r(buf, " ", &save);
	if (t) {
		snprintf(g_ctrl, sizeof(g_ctrl), "%s", t);
		return;
	}
	snprintf(path, sizeof(path), "%s/cgroup.controllers", g_own);
	read_str(path, buf, sizeof(buf));
	t = strtok_r(buf, " ", &save);
	if (!t) {
		snprintf(g_skip, sizeof(g_skip), "%s has no controller to enable", g_own);
		return;
	}
	char plus[80];
	snprintf(plus, sizeof(plus), "+%s", t);
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", g_own);
	int r = write_str(path, plus);
	if (r < 0) {
		snprintf(g_skip, sizeof(g_skip), "write %s to %s: %s", plus, path, strerror(-r));
		return;
	}
	snprintf(g_ctrl, sizeof(g_ctrl), "%s", t);
	g_enabled = 1;
}

static void restore_controller(void)
{
	char path[PATH_MAX], minus[80];
	if (!g_enabled)
		return;
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", g_own);
	snprintf(minus, sizeof(minus), "-%s", g_ctrl);
	write_str(path, minus);
}

/* --- the scratch cgroup and its processes ------------------------------- */

static void make_scratch(char *s, size_t size)
{
	if (!*g_ctrl)
		petri_test_skip(g_skip);
	snprintf(s, size, "%s/petri-leaftest-%d", g_own, (int)getpid());
	REQUIRE(mkdir(s, 0755) == 0);
}

/* Move this process into @dir. */
static void enter(const char *dir)
{
	char path[PATH_MAX], num[16];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(num, sizeof(num), "%d", (int)getpid());
	REQUIRE(write_str(path, num) == 0);
}

/* rmdir the sub-cgroups of @dir, deepest first (a failed case may leave a
 * sandbox's cgroup or a leaf inside the leaf). */
static void remove_children(const char *dir, int depth)
{
	DIR *d = depth < 4 ? opendir(dir) : NULL;
	if (!d)
		return;
	for (struct dirent *de; (de = readdir(d));) {
		char path[PATH_MAX];
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		remove_children(path, depth + 1);
		rmdir(path);
	}
	closedir(d);
}

/* rmdir @s and what is below it, waiting for exiting processes to leave. */
static void remove_scratch(const char *s)
{
	for (int i = 0; i < 200; i++) {
		remove_children(s, 0);
		if (rmdir(s) == 0)
			return;
		if (errno != EBUSY)
			break;
		usleep(10 * 1000);
	}
	fprintf(stderr, "cannot remove %s: %s\n", s, strerror(errno));
	petri_test_failures++;
}

/* Run @fn(@arg) in a child; its CHECKs count there: the child's exit
 * status says whether they all held. */
static pid_t start(void (*fn)(const char *), const char *arg)
{
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		petri_test_failures = 0;
		fn(arg);
		_exit(petri_test_failures ? 1 : 0);
	}
	return pid;
}

static void finish(pid_t pid, const char *what)
{
	int st = 0;
	REQUIRE(waitpid(pid, &st, 0) == pid);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: status 0x%x", what, st);
}

/* The log of the host's context, one "LEVEL message" a line. */
static char g_log[16384];

static void log_line(int level, const char *msg, void *ud)
{
	(void)ud;
	static const char *names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
	size_t len = strlen(g_log);
	snprintf(g_log + len, sizeof(g_log) - len, "%s %s\n", names[level & 3], msg);
}

static petri_ctx *host_ctx(void)
{
	petri_ctx *ctx = NULL;
	petri_ctx_opts o = PETRI_CTX_OPTS_INIT;
	o.log_level = PETRI_LOG_INFO;
	o.log_fn = log_line;
	REQUIRE(petri_ctx_new(&ctx, &o, NULL) == 0);
	g_log[0] = '\0'; /* only what the calls below log */
	return ctx;
}

static bool logged(const char *line)
{
	char want[4096];
	snprintf(want, sizeof(want), "%s\n", line);
	return strstr(g_log, want) != NULL;
}

/* --- the host processes ------------------------------------------------- */

static void host_without_flag(const char *s)
{
	petri_ctx *ctx = host_ctx();
	char *parent = NULL, why[512] = "", cg[PATH_MAX], want[4096], sub[1024], path[PATH_MAX];
	int cpu = 0;
	enter(s);
	int r = petri__cgroup_v2_parent(ctx, s, g_ctrl, 0, &parent, &cpu, why, sizeof(why));
	CHECK_MSG(r == -EBUSY, "r=%d (%s)", r, why);
	CHECK(parent == NULL);
	snprintf(want, sizeof(want),
		 "WARN cannot enable %s in %s/cgroup.subtree_control: our cgroup holds processes "
		 "(cgroup v2 allows controllers only for cgroups without them); set "
		 "PETRI_CTX_F_CGROUP_LEAF to move this process into %s/petri-host beside its "
		 "sandboxes, or run the host in a leaf of a delegated cgroup, e.g. systemd-run -p "
		 "Delegate=yes",
		 g_ctrl, s, s);
	CHECK_MSG(logged(want), "log:\n%s", g_log);
	snprintf(want, sizeof(want), "write +%s to %s/cgroup.subtree_control: %s", g_ctrl, s,
		 strerror(EBUSY));
	CHECK_MSG(strcmp(why, want) == 0, "why: %s", why);
	cgroup_of(0, cg, sizeof(cg));
	CHECK_MSG(strcmp(cg, s) == 0, "moved to %s", cg); /* never moved without the flag */
	CHECK(!exists(s, "petri-host"));
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", s);
	read_str(path, sub, sizeof(sub));
	CHECK(!word_in(sub, g_ctrl));
	free(parent);
	petri_ctx_free(ctx);
}

static void *park(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char c;
	(void)!read(fd, &c, 1);
	return NULL;
}

static void host_with_flag(const char *s)
{
	petri_ctx *ctx = host_ctx();
	char *parent = NULL, why[512] = "", cg[PATH_MAX], want[4096], buf[1024], path[PATH_MAX];
	char leaf[PATH_MAX], stale[PATH_MAX], sandbox[PATH_MAX];
	int cpu = 0, pfd[2];
	snprintf(leaf, sizeof(leaf), "%s/petri-host", s);

	/* A second thread: the move takes every thread of the process. */
	REQUIRE(pipe2(pfd, O_CLOEXEC) == 0);
	pthread_t th;
	REQUIRE(pthread_create(&th, NULL, park, (void *)(intptr_t)pfd[0]) == 0);
	int tid = 0;
	for (int i = 0; i < 100 && !tid; i++) { /* its tid: the task that is not us */
		char dpath[64];
		snprintf(dpath, sizeof(dpath), "/proc/self/task");
		DIR *d = opendir(dpath);
		REQUIRE(d);
		for (struct dirent *de; (de = readdir(d));)
			if (atoi(de->d_name) > 0 && atoi(de->d_name) != getpid())
				tid = atoi(de->d_name);
		closedir(d);
	}
	REQUIRE(tid > 0);
	enter(s);
	cgroup_of(tid, cg, sizeof(cg));
	REQUIRE(strcmp(cg, s) == 0);

	int r = petri__cgroup_v2_parent(ctx, s, g_ctrl, 1, &parent, &cpu, why, sizeof(why));
	CHECK_MSG(r == 0, "r=%d (%s)\nlog:\n%s", r, why, g_log);
	CHECK_MSG(parent && strcmp(parent, s) == 0, "parent %s", parent ? parent : "(null)");
	cgroup_of(0, cg, sizeof(cg));
	CHECK_MSG(strcmp(cg, leaf) == 0, "process in %s", cg);
	cgroup_of(tid, cg, sizeof(cg));
	CHECK_MSG(strcmp(cg, leaf) == 0, "thread in %s", cg);
	snprintf(path, sizeof(path), "%s/cgroup.procs", s);
	read_str(path, buf, sizeof(buf));
	CHECK_MSG(buf[0] == '\0', "still in S: %s", buf);
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", s);
	read_str(path, buf, sizeof(buf));
	CHECK_MSG(word_in(buf, g_ctrl), "subtree_control: %s", buf);
	snprintf(want, sizeof(want),
		 "INFO moved this process (pid %d) into %s to enable %s for the sandboxes' "
		 "cgroups in %s",
		 (int)getpid(), leaf, g_ctrl, s);
	CHECK_MSG(logged(want), "log:\n%s", g_log);

	/* A sandbox's cgroup in the parent gets the controller. */
	snprintf(sandbox, sizeof(sandbox), "%s/petri-%d-1", s, (int)getpid());
	CHECK(mkdir(sandbox, 0755) == 0);
	snprintf(path, sizeof(path), "%s/cgroup.controllers", sandbox);
	read_str(path, buf, sizeof(buf));
	CHECK_MSG(word_in(buf, g_ctrl), "sandbox controllers: %s", buf);
	CHECK(rmdir(sandbox) == 0);

	/* The sweep takes a dead host's cgroup and keeps the live leaf. */
	pid_t dead = fork();
	REQUIRE(dead >= 0);
	if (dead == 0)
		_exit(0);
	REQUIRE(waitpid(dead, NULL, 0) == dead);
	snprintf(stale, sizeof(stale), "%s/petri-%d-1", s, (int)dead);
	REQUIRE(mkdir(stale, 0755) == 0);
	petri__cgroup_sweep(ctx, s, 1);
	CHECK(!exists(stale, "."));
	CHECK(exists(leaf, "."));
	rmdir(stale);

	/* Names carry the pid namespace their pid means something in.  One
	 * of ours with a dead pid goes; one made in another pid namespace
	 * (where that pid may well be a live host, its cgroup just made and
	 * still empty) is never ours to judge. */
	struct stat ns;
	REQUIRE(stat("/proc/self/ns/pid", &ns) == 0);
	char mine[PATH_MAX], foreign[PATH_MAX], made[64];
	snprintf(mine, sizeof(mine), "%s/petri-%d-7-%llu", s, (int)dead,
		 (unsigned long long)ns.st_ino);
	snprintf(foreign, sizeof(foreign), "%s/petri-%d-7-%llu", s, (int)dead,
		 (unsigned long long)ns.st_ino + 1);
	REQUIRE(mkdir(mine, 0755) == 0);
	REQUIRE(mkdir(foreign, 0755) == 0);
	petri__cgroup_sweep(ctx, s, 1);
	CHECK_MSG(!exists(mine, "."), "%s kept", mine);
	CHECK_MSG(exists(foreign, "."), "%s (another pid namespace's) removed", foreign);
	rmdir(mine);
	rmdir(foreign);
	/* And the library names its cgroups that way. */
	petri__cgroup_name(made, sizeof(made), 42);
	snprintf(want, sizeof(want), "petri-%d-42-%llu", (int)getpid(),
		 (unsigned long long)ns.st_ino);
	CHECK_MSG(strcmp(made, want) == 0, "name %s, want %s", made, want);

	/* A second context of this process, now in the leaf: S again, no
	 * leaf inside the leaf. */
	free(parent);
	parent = NULL;
	r = petri__cgroup_v2_parent(ctx, leaf, g_ctrl, 1, &parent, &cpu, why, sizeof(why));
	CHECK_MSG(r == 0, "from the leaf: r=%d (%s)", r, why);
	CHECK_MSG(parent && strcmp(parent, s) == 0, "from the leaf: parent %s",
		  parent ? parent : "(null)");
	CHECK(!exists(leaf, "petri-host"));
	cgroup_of(0, cg, sizeof(cg));
	CHECK_MSG(strcmp(cg, leaf) == 0, "process in %s", cg);
	/* Without the flag the leaf is just our cgroup, holding processes. */
	free(parent);
	parent = NULL;
	r = petri__cgroup_v2_parent(ctx, leaf, g_ctrl, 0, &parent, &cpu, why, sizeof(why));
	CHECK_MSG(r == -EBUSY, "leaf without the flag: r=%d (%s)", r, why);
	CHECK(parent == NULL);
	CHECK(!exists(leaf, "petri-host"));

	close(pfd[1]);
	pthread_join(th, NULL);
	close(pfd[0]);
	free(parent);
	petri_ctx_free(ctx);
}

static void host_beside_stranger(const char *s)
{
	petri_ctx *ctx = host_ctx();
	char *parent = NULL, why[512] = "", cg[PATH_MAX], want[4096], leaf[PATH_MAX];
	int cpu = 0;
	snprintf(leaf, sizeof(leaf), "%s/petri-host", s);
	enter(s);
	int r = petri__cgroup_v2_parent(ctx, s, g_ctrl, 1, &parent, &cpu, why, sizeof(why));
	CHECK_MSG(r == -EBUSY, "r=%d (%s)", r, why);
	CHECK(parent == NULL);
	snprintf(want, sizeof(want),
		 "WARN cannot enable %s in %s/cgroup.subtree_control: processes that are not "
		 "petri hosts are still in %s after this one moved into %s (cgroup v2 allows "
		 "controllers only for cgroups without them); run the host in a cgroup of its "
		 "own, e.g. systemd-run -p Delegate=yes",
		 g_ctrl, s, s, leaf);
	CHECK_MSG(logged(want), "log:\n%s", g_log);
	cgroup_of(0, cg, sizeof(cg));
	CHECK_MSG(strcmp(cg, leaf) == 0, "process in %s", cg); /* stays in the leaf */
	free(parent);
	petri_ctx_free(ctx);
}

static void host_shared(const char *s)
{
	petri_ctx *ctx = host_ctx();
	char *parent = NULL, why[512] = "", cg[PATH_MAX], leaf[PATH_MAX];
	int cpu = 0;
	snprintf(leaf, sizeof(leaf), "%s/petri-host", s);
	int r = petri__cgroup_v2_parent(ctx, s, g_ctrl, 1, &parent, &cpu, why, sizeof(why));
	CHECK_MSG(r == 0, "pid %d: r=%d (%s)\nlog:\n%s", (int)getpid(), r, why, g_log);
	CHECK_MSG(parent && strcmp(parent, s) == 0, "parent %s", parent ? parent : "(null)");
	cgroup_of(0, cg, sizeof(cg));
	CHECK_MSG(strcmp(cg, leaf) == 0, "process in %s", cg);
	free(parent);
	petri_ctx_free(ctx);
}

static void host_not_ours(const char *s)
{
	petri_ctx *ctx = host_ctx();
	char *parent = NULL, why[512] = "", cg[PATH_MAX], want[1024];
	int cpu = 0;
	enter(s);
	int r = petri__cgroup_v2_parent(ctx, s, g_ctrl, 1, &parent, &cpu, why, sizeof(why));
	CHECK_MSG(r == -EPERM, "r=%d (%s)", r, why);
	snprintf(want, sizeof(want), "%s/petri-host exists and is not a cgroup of uid %u", s,
		 (unsigned)geteuid());
	CHECK_MSG(strcmp(why, want) == 0, "why: %s", why);
	cgroup_of(0, cg, sizeof(cg));
	CHECK_MSG(strcmp(cg, s) == 0, "moved to %s", cg);
	free(parent);
	petri_ctx_free(ctx);
}

/* --- the cases ---------------------------------------------------------- */

/* Without the flag: EBUSY, the warning that names the flag, no move. */
static void test_busy_without_flag(void)
{
	char s[PATH_MAX];
	make_scratch(s, sizeof(s));
	finish(start(host_without_flag, s), "host without the flag");
	remove_scratch(s);
}

/* With it: the process moves into S/petri-host, S is the parent. */
static void test_leaf_move(void)
{
	char s[PATH_MAX];
	make_scratch(s, sizeof(s));
	finish(start(host_with_flag, s), "host with the flag");
	remove_scratch(s);
}

/* A process that is no petri host stays in S: the controllers cannot be
 * enabled, the host stays in its leaf, the stranger where it was. */
static void test_stranger_in_cgroup(void)
{
	char s[PATH_MAX];
	make_scratch(s, sizeof(s));
	int gate[2];
	REQUIRE(pipe2(gate, O_CLOEXEC) == 0);
	pid_t stranger = fork();
	REQUIRE(stranger >= 0);
	if (stranger == 0) {
		enter(s);
		(void)!write(gate[1], "r", 1);
		for (;;)
			pause();
	}
	char c;
	REQUIRE(read(gate[0], &c, 1) == 1);
	finish(start(host_beside_stranger, s), "host beside a stranger");
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)stranger);
	FILE *f = fopen(path, "re");
	REQUIRE(f);
	char line[PATH_MAX], want[PATH_MAX];
	snprintf(want, sizeof(want), "0::%s", s + strlen(g_mount));
	bool found = false;
	while (fgets(line, sizeof(line), f))
		found |= strncmp(line, want, strlen(want)) == 0 && line[strlen(want)] == '\n';
	fclose(f);
	CHECK_MSG(found, "the stranger left %s", s);
	kill(stranger, SIGKILL);
	waitpid(stranger, NULL, 0);
	close(gate[0]);
	close(gate[1]);
	remove_scratch(s);
}

/* Is @pid listed in @dir/cgroup.procs? */
static bool in_procs(const char *dir, pid_t pid)
{
	char path[PATH_MAX], buf[4096], *save = NULL;
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	for (char *t = strtok_r(buf, "\n", &save); t; t = strtok_r(NULL, "\n", &save))
		if (atoi(t) == pid)
			return true;
	return false;
}

/* Two hosts in one delegated cgroup (two petrids, say): the first moves
 * into the leaf and finds the second still in S (EBUSY); the second, let go
 * only then, joins the same leaf and enables the controller; the first,
 * waiting, sees it enabled.  Both OK, one leaf. */
static void test_two_hosts_share_leaf(void)
{
	char s[PATH_MAX], leaf[PATH_MAX];
	make_scratch(s, sizeof(s));
	snprintf(leaf, sizeof(leaf), "%s/petri-host", s);
	int gate[2][2], ready[2];
	REQUIRE(pipe2(ready, O_CLOEXEC) == 0);
	pid_t hosts[2];
	for (int i = 0; i < 2; i++) {
		REQUIRE(pipe2(gate[i], O_CLOEXEC) == 0);
		hosts[i] = fork();
		REQUIRE(hosts[i] >= 0);
		if (hosts[i] == 0) {
			char c;
			enter(s);
			(void)!write(ready[1], "r", 1);
			if (read(gate[i][0], &c, 1) != 1)
				_exit(3);
			petri_test_failures = 0;
			host_shared(s);
			_exit(petri_test_failures ? 1 : 0);
		}
	}
	char c;
	for (int i = 0; i < 2; i++)
		REQUIRE(read(ready[0], &c, 1) == 1); /* both in S */
	REQUIRE(write(gate[0][1], "g", 1) == 1);
	for (int i = 0; i < 2000 && !in_procs(leaf, hosts[0]); i++)
		usleep(1000);
	CHECK_MSG(in_procs(leaf, hosts[0]), "the first host did not move into %s", leaf);
	REQUIRE(write(gate[1][1], "g", 1) == 1);
	finish(hosts[0], "first host");
	finish(hosts[1], "second host");
	for (int i = 0; i < 2; i++) {
		close(gate[i][0]);
		close(gate[i][1]);
	}
	close(ready[0]);
	close(ready[1]);
	remove_scratch(s);
}

/* A petri-host that another uid made is not joined. */
static void test_leaf_not_ours(void)
{
	char s[PATH_MAX], leaf[PATH_MAX];
	make_scratch(s, sizeof(s));
	snprintf(leaf, sizeof(leaf), "%s/petri-host", s);
	REQUIRE(mkdir(leaf, 0755) == 0);
	REQUIRE(chown(leaf, geteuid() + 4242, (gid_t)-1) == 0);
	finish(start(host_not_ours, s), "host and a foreign leaf");
	remove_scratch(s);
}

/* petri_ctx_new() takes the flag; on a hybrid host (memory and pids are
 * v1's) it moves nothing and the mode is that of a context without it.  On
 * pure v2 the process ends in its cgroup or in "<it>/petri-host". */
static void host_ctx_flag(const char *own)
{
	char before[PATH_MAX], after[PATH_MAX], leaf[PATH_MAX], path[PATH_MAX], ctrls[1024];
	petri_ctx *ctx = NULL, *plain = NULL;
	petri_ctx_opts o = PETRI_CTX_OPTS_INIT;
	cgroup_of(0, before, sizeof(before));
	snprintf(leaf, sizeof(leaf), "%s/petri-host", before);
	o.flags = PETRI_CTX_F_CGROUP_LEAF;
	int r = petri_ctx_new(&ctx, &o, NULL);
	REQUIRE(r == 0);
	cgroup_of(0, after, sizeof(after));
	REQUIRE(petri_ctx_new(&plain, NULL, NULL) == 0);
	snprintf(path, sizeof(path), "%s/cgroup.controllers", own);
	read_str(path, ctrls, sizeof(ctrls));
	if (!word_in(ctrls, "memory")) { /* hybrid */
		CHECK_MSG(strcmp(after, before) == 0, "moved from %s to %s", before, after);
		CHECK_MSG(petri_ctx_cgroup_mode(ctx) == petri_ctx_cgroup_mode(plain),
			  "mode %d, without the flag %d", petri_ctx_cgroup_mode(ctx),
			  petri_ctx_cgroup_mode(plain));
	} else {
		CHECK_MSG(strcmp(after, before) == 0 || strcmp(after, leaf) == 0,
			  "moved from %s to %s", before, after);
	}
	petri_ctx_free(plain);
	petri_ctx_free(ctx);
}

static void test_ctx_flag(void)
{
	if (!*g_own)
		petri_test_skip(g_skip);
	char leaf[PATH_MAX];
	snprintf(leaf, sizeof(leaf), "%s/petri-host", g_own);
	bool had_leaf = exists(leaf, ".");
	finish(start(host_ctx_flag, g_own), "petri_ctx_new with the flag");
	if (!had_leaf)
		rmdir(leaf); /* pure v2: the one this test's host made */
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(busy_without_flag),
	PETRI_TEST_CASE(leaf_move),
	PETRI_TEST_CASE(stranger_in_cgroup),
	PETRI_TEST_CASE(two_hosts_share_leaf),
	PETRI_TEST_CASE(leaf_not_ours),
	PETRI_TEST_CASE(ctx_flag),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	setup_controller();
	int rc = petri_test_main(argc, argv, cases);
	restore_controller();
	return rc;
}
