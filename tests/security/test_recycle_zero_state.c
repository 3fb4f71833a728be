/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_recycle_zero_state - proof of zero state (issue 15, item 2): a
 * sandbox recycled by the warm pool cannot be told from a fresh one.
 *
 * A context keeps one "sh" sandbox warm (petri_warm).  Tenant A takes it
 * and leaves traces everywhere it can, through real execs of sh and Python
 * (attacks/recycle_plant.sh, attacks/recycle_tenant.py): files of every
 * kind in every writable place, poisoned dotfiles and Python user site,
 * modes, times and xattrs of the writable roots, System V and POSIX IPC
 * (the per-user POSIX queue bytes used up), sockets bound by background
 * processes that try to survive, an IPv6 flow label, tmpfs
 * memory charged to the cgroup, env given per sandbox and per exec,
 * exec-local umask, rlimits and cwd; keyrings, net sysctls and the
 * hostname are tried and must be denied.  A is destroyed; B is then taken
 * and must be A's own init, recycled (petri_sandbox_reuses() == 1, the
 * same init pid, the pool's "recycled" and "hits" counts), and B -- in its
 * FIRST exec, the one a stale prepared namespace would serve -- looks for
 * every trace and finds none.  The host looks too: no process of the
 * sandbox's ids but init and the exec it prepares, no trace under
 * /proc/PID/root of any of them, A's cgroup gone, B's limits those of a
 * default sandbox, B's cgroup not charged with A's memory.  Audit: A's
 * stream, still open, gets nothing of the tenants after A.
 *
 * The probe battery (attacks/recycle_probe.sh) prints a normalized picture
 * of a sandbox; run first in a recycled sandbox after such an A, in a fresh
 * one from a context with PETRI_CTX_F_NO_RECYCLE and in an unpooled one
 * (PETRI_SANDBOX_F_NO_POOL), the pictures must be the same line for line,
 * except the sections listed in by_design[] below, each with its reason.
 *
 * What must NOT be recycled: a sandbox whose network namespace still holds
 * a TCP connection in TIME_WAIT, an IPv6 flow label, or was used at all
 * (its counters and TCP metrics would reach the next tenant), and one whose init's pid namespace
 * holds a process init cannot kill (a host-root process that entered it,
 * as `nsenter -p` would); they are discarded (pool "discarded" grows) and the
 * next create gets a fresh sandbox (reuses 0).  Sockets kept alive only as
 * descriptors in flight inside an unreachable cycle of unix sockets must
 * not reach the next tenant either way.
 *
 * Bugs this suite found in the recycling, all fixed: the network's
 * counters and TCP metrics of a used namespace (discard_network_used), a
 * pool of one that never recycled (recycle_serial), an IPv6 flow label
 * that outlived its socket (discard_flowlabel), and the order of the
 * remade mounts in /proc/self/mountinfo (probe_battery's mountinfo).
 */
#include "sec_util.h"

#include "petri/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define TAG "petri-trace"
#define LANG "sh"
#define WAIT_MS 60000

/* ---- contexts and the pool ------------------------------------------- */

/*
 * Where the pool is made to recycle.  The pool recycles a destroyed
 * sandbox only when it has room for it, and its refill thread builds a
 * fresh one 1 s after a take emptied it: a tenant that works longer than
 * that finds the pool full again and its sandbox is discarded (by the
 * contract: "discarded ... or the pool was full").  To put every recycle
 * these tests need in the pool's way for certain, the recycling contexts
 * get a single host id range (base 0xfffe0000, the last one; a sandbox
 * claims its range while it lives): while tenant A lives, the refill
 * cannot build (the pool counts the failure and backs off), so A's init
 * is the only one that can refill the pool, and B is A recycled.
 */
#define ONE_RANGE_BASE 0xfffe0000u

/* Pool messages (why a sandbox was not recycled, failed builds other than
 * the expected lack of an id range), for the failure reports. */
static void on_log(int level, const char *msg, void *ud)
{
	(void)level;
	(void)ud;
	if (strstr(msg, "pool") && !strstr(msg, "every host id range"))
		fprintf(stderr, "petri log: %s\n", msg);
}

/* A context with one warm "sh" sandbox (@flags: PETRI_CTX_F_*), its pool
 * full.  @one_range: the single id range above; else this test's own
 * window (sec_private_uid_base), so a host uid scan sees our sandboxes
 * only. */
static petri_ctx *pool_ctx(uint32_t flags, int one_range)
{
	static const petri_warm warm[] = {{LANG, 1, 0}};
	petri_ctx_opts o = PETRI_CTX_OPTS_INIT;
	o.host_uid_base = one_range ? ONE_RANGE_BASE : sec_private_uid_base();
	o.flags = flags;
	o.warm = warm;
	o.nwarm = 1;
	o.log_fn = on_log;
	o.log_level = PETRI_LOG_DEBUG;
	petri_ctx *ctx = NULL;
	petri_error *e = NULL;
	int r = petri_ctx_new(&ctx, &o, &e);
	if (r < 0)
		fprintf(stderr, "petri_ctx_new (warm sh:1): %s\n", petri_error_message(e));
	petri_error_free(e);
	REQUIRE(r == 0);
	r = petri_ctx_pool_wait(ctx, WAIT_MS);
	if (r < 0)
		fprintf(stderr, "petri_ctx_pool_wait: %s%s\n", strerror(-r),
			one_range && r == -EAGAIN ? " (another sandbox on this host holds the id "
						    "range 0xfffe0000)" :
						    "");
	REQUIRE(r == 0);
	return ctx;
}

static petri_pool_stats stats(petri_ctx *ctx)
{
	petri_pool_stats st = {.sz = sizeof(st)};
	REQUIRE(petri_ctx_pool_stats(ctx, LANG, &st) == 0);
	return st;
}

static void print_stats(const char *when, const petri_pool_stats *s)
{
	fprintf(stderr,
		"pool %s: ready %u/%u hits %llu misses %llu created %llu recycled %llu "
		"discarded %llu failed %llu\n",
		when, s->ready, s->target, (unsigned long long)s->hits,
		(unsigned long long)s->misses, (unsigned long long)s->created,
		(unsigned long long)s->recycled, (unsigned long long)s->discarded,
		(unsigned long long)s->failed);
}

/* Take a sandbox from the pool: default "sh" options plus @env, @memory,
 * @pids.  CHECKs it was a hit. */
static petri_sandbox *take(petri_ctx *ctx, const char *const *env, uint64_t memory, uint32_t pids)
{
	petri_pool_stats before = stats(ctx);
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = LANG;
	so.env = env;
	so.memory_bytes = memory;
	so.pids_max = pids;
	petri_sandbox *sb = sec_sandbox_in(ctx, &so);
	petri_pool_stats after = stats(ctx);
	CHECK_MSG(after.hits == before.hits + 1, "the create was not served from the pool");
	if (after.hits != before.hits + 1) {
		print_stats("before", &before);
		print_stats("after", &after);
	}
	return sb;
}

/* Wait until the pool is full.  petri_ctx_pool_wait() answers at once with
 * the refill's last failure while the pool is not full (with one id range
 * the refill fails while a tenant lives; the range is free again once the
 * pool has dealt with it): poll until full. */
static void wait_full(petri_ctx *ctx)
{
	uint64_t deadline = sec_now_ms() + WAIT_MS;
	int r;
	while ((r = petri_ctx_pool_wait(ctx, 1000)) != 0) {
		if (sec_now_ms() > deadline) {
			petri_pool_stats st = stats(ctx);
			print_stats("never full", &st);
			fprintf(stderr, "petri_ctx_pool_wait: %s\n", strerror(-r));
			REQUIRE(!"the pool did not fill up again");
		}
		usleep(20000);
	}
}

/* Destroy @sb and wait until the pool has dealt with it (recycled or
 * discarded it) and is full again.  Returns the stats before. */
static petri_pool_stats give_back(petri_ctx *ctx, petri_sandbox *sb)
{
	petri_pool_stats before = stats(ctx);
	petri_sandbox_destroy(sb);
	uint64_t deadline = sec_now_ms() + WAIT_MS;
	for (;;) {
		petri_pool_stats now = stats(ctx);
		if (now.recycled + now.discarded > before.recycled + before.discarded)
			break;
		if (sec_now_ms() > deadline) {
			print_stats("stuck", &now);
			REQUIRE(!"the pool never dealt with the destroyed sandbox");
		}
		usleep(5000);
	}
	wait_full(ctx);
	return before;
}

/* ---- running the tenants ----------------------------------------------- */

static struct petri_test_run tenant(petri_sandbox *sb, const char *mode, const char *extra_env)
{
	char menv[64];
	snprintf(menv, sizeof(menv), "RECYCLE_MODE=%s", mode);
	const char *env[] = {menv, extra_env, NULL};
	char *code = sec_attack_source("recycle_tenant.py");
	struct sec_exec x = {.lang = "python", .code = code, .env = env, .timeout_ms = 60000};
	struct petri_test_run r = sec_exec(sb, &x);
	free(code);
	if (r.rc != 0 || r.reason != PETRI_REASON_EXITED || r.exit_code != 0)
		sec_dump(mode, &r);
	CHECK_MSG(r.rc == 0 && r.reason == PETRI_REASON_EXITED && r.exit_code == 0,
		  "recycle_tenant.py %s did not run to completion", mode);
	return r;
}

/* Tenant A: the shell half, then the Python half (with an exec env). */
static void plant_everything(petri_sandbox *a)
{
	const char *xenv[] = {"EXEC_A_SECRET=exec-secret-of-a", NULL};
	char *sh = sec_attack_source("recycle_plant.sh");
	struct sec_exec x = {.lang = "sh", .code = sh, .env = xenv, .timeout_ms = 60000};
	struct petri_test_run r = sec_exec(a, &x);
	free(sh);
	CHECK(r.rc == 0 && r.reason == PETRI_REASON_EXITED && r.exit_code == 0);
	static const char *const sh_traces[] = {"files_tmp",
						"files_workspace",
						"files_home_sandbox",
						"files_dev_shm",
						"dotfiles",
						"exec_local",
						"root_tmp",
						"root_workspace",
						"root_home_sandbox",
						"root_dev_shm",
						NULL};
	char name[64];
	for (int i = 0; sh_traces[i]; i++) {
		snprintf(name, sizeof(name), "plant_%s", sh_traces[i]);
		sec_expect(&r, name, "OK");
	}
	sec_expect(&r, "plant_env_sandbox", "sandbox-secret-of-a");
	sec_expect(&r, "plant_env_exec", "exec-secret-of-a");
	sec_expect_no_escape(&r);
	if (petri_test_failures)
		sec_dump("recycle_plant.sh", &r);
	petri_test_run_free(&r);

	r = tenant(a, "plant", "EXEC_A_SECRET=exec-secret-of-a");
	sec_expect(&r, "plant_env_sandbox", "sandbox-secret-of-a");
	sec_expect(&r, "plant_env_exec", "exec-secret-of-a");
	static const char *const ok[] = {"sysv_shm", "sysv_sem", "sysv_msg", "posix_shm", "xattr",
					 "memory",   "sockets",  "stubborn", "reforker",  "stopped",
					 "children", "ghosts",   NULL};
	for (int i = 0; ok[i]; i++) {
		snprintf(name, sizeof(name), "plant_%s", ok[i]);
		sec_expect(&r, name, "OK");
	}
	/* Landlock refuses to open a POSIX queue (EACCES), but only once the
	 * kernel has made it: the queue exists all the same (B's mq_open of it
	 * then fails with EACCES, not ENOENT, which the look reports). */
	sec_expect(&r, "plant_posix_mq", "OK|BLOCKED EACCES");
	sec_expect(&r, "plant_mq_quota", "OK");
	/* Denied to the code: then there is nothing to leave. */
	sec_expect(&r, "plant_keyring", "BLOCKED EPERM");
	sec_expect(&r, "plant_keyring_session", "BLOCKED EPERM");
	sec_expect(&r, "plant_hostname", "BLOCKED EPERM");
	sec_expect(&r, "plant_sysctl_ipv4_ping_group_range", "BLOCKED EROFS|BLOCKED EACCES");
	sec_expect(&r, "plant_sysctl_ipv4_ip_local_port_range", "BLOCKED EROFS|BLOCKED EACCES");
	sec_expect(&r, "plant_sysctl_ipv4_tcp_syncookies", "BLOCKED EROFS|BLOCKED EACCES");
	sec_expect(&r, "plant_sysctl_core_somaxconn", "BLOCKED EROFS|BLOCKED EACCES");
	sec_expect_no_escape(&r);
	if (petri_test_failures)
		sec_dump("recycle_tenant.py plant", &r);
	petri_test_run_free(&r);
}

/* ---- what the host sees -------------------------------------------------- */

/* The directory of @pid's cgroup for @controller ("memory", "pids", "cpu"):
 * the unified one on a v2 host, the controller's hierarchy on v1.  "" when
 * there is none. */
static void cgroup_dir(int pid, int mode, const char *controller, char *out, size_t outlen)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	out[0] = '\0';
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c1 = *c2 = '\0';
		const char *ctrls = c1 + 1, *cg = c2 + 1;
		if (mode == PETRI_CGROUP_V2 && strcmp(line, "0") == 0 && !ctrls[0]) {
			snprintf(out, outlen, "/sys/fs/cgroup%s", cg);
			break;
		}
		if (mode == PETRI_CGROUP_V1) {
			char list[128];
			snprintf(list, sizeof(list), ",%s,", ctrls);
			char want[64];
			snprintf(want, sizeof(want), ",%s,", controller);
			if (strstr(list, want)) {
				snprintf(out, outlen, "/sys/fs/cgroup/%s%s", ctrls, cg);
				break;
			}
		}
	}
	fclose(f);
}

/* A cgroup knob of @sb's init (v2 name, v1 name), trimmed; "" when absent. */
static void cgroup_knob(petri_ctx *ctx, petri_sandbox *sb, const char *controller, const char *v2,
			const char *v1, char *out, size_t outlen)
{
	int mode = petri_ctx_cgroup_mode(ctx);
	char dir[512], path[700];
	cgroup_dir(petri_sandbox_init_pid(sb), mode, controller, dir, sizeof(dir));
	out[0] = '\0';
	if (!dir[0])
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, mode == PETRI_CGROUP_V2 ? v2 : v1);
	char *s = sec_read_host_file(path, NULL);
	if (s) {
		s[strcspn(s, "\n")] = '\0';
		snprintf(out, outlen, "%s", s);
		free(s);
	}
}

/*
 * Nothing of A on the host side: no process of the sandbox user, and under
 * the root of every process of the sandbox's id range (init, and whatever
 * it keeps ready for the next exec, in mount namespaces of their own) no
 * trace file in any writable place.
 */
static int ppid_of(int pid)
{
	long long v = petri_test_status_field(pid, "PPid");
	return (int)v;
}

static void comm_of(int pid, char *out, size_t outlen)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	char *s = sec_read_host_file(path, NULL);
	snprintf(out, outlen, "%s", s ? s : "?");
	out[strcspn(out, "\n")] = '\0';
	free(s);
}

static void host_sees_nothing(petri_sandbox *sb)
{
	/* The processes of the sandbox's id range between two execs: init and
	 * the namespace it prepares for the next exec (a "petri-exec" child of
	 * init with no child of its own).  Anything else is a leftover. */
	uid_t user = (uid_t)petri_sandbox_host_uid(sb);
	int init = petri_sandbox_init_pid(sb);
	pid_t pids[64];
	int k = 0, bad = 0;
	uint64_t deadline = sec_now_ms() + 5000;
	for (;;) {
		k = sec_count_uid_procs(user - 1000, user - 1000 + 65535, pids, 64);
		bad = 0;
		for (int i = 0; i < k && i < 64; i++) {
			char comm[32];
			comm_of(pids[i], comm, sizeof(comm));
			int ok = pids[i] == init ||
				 (ppid_of(pids[i]) == init && strcmp(comm, "petri-exec") == 0);
			if (!ok && sec_pid_alive(pids[i]))
				bad++;
		}
		if (!bad || sec_now_ms() > deadline)
			break;
		usleep(20000);
	}
	CHECK_MSG(k >= 1, "no process of the sandbox's id range (its init?)");
	for (int i = 0; bad && i < k && i < 64; i++) {
		char comm[32];
		comm_of(pids[i], comm, sizeof(comm));
		fprintf(stderr, "process %d (%s, parent %d) of the sandbox's ids; init is %d\n",
			(int)pids[i], comm, ppid_of(pids[i]), init);
	}
	CHECK_MSG(bad == 0,
		  "%d processes of the sandbox's ids are left besides init and its "
		  "prepared exec",
		  bad);
	/* Under the root of each of them (init's mount namespace and the
	 * prepared exec's own), no file of A. */
	static const char *const dirs[] = {"tmp", "workspace", "home/sandbox", "dev/shm"};
	for (int i = 0; i < k && i < 64; i++)
		for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
			char path[128];
			struct stat st;
			snprintf(path, sizeof(path), "/proc/%d/root/%s/" TAG, (int)pids[i],
				 dirs[d]);
			int seen = lstat(path, &st) == 0;
			CHECK_MSG(!seen,
				  "%s exists: a mount namespace of the sandbox still holds A's /%s",
				  path, dirs[d]);
		}
}

/* ---- cases --------------------------------------------------------------- */

/* The identity of a recycle: B is A's init, recycled once, with a new id
 * and a new cgroup; A's cgroup is gone. */
static void check_recycled(petri_ctx *ctx, int a_init, const char *a_id, const char *a_cgroup,
			   const petri_pool_stats *before, petri_sandbox *b)
{
	petri_pool_stats after = stats(ctx);
	CHECK_MSG(petri_sandbox_reuses(b) == 1, "B's reuses is %lld, not 1: B is not A recycled",
		  (long long)petri_sandbox_reuses(b));
	CHECK_MSG(petri_sandbox_init_pid(b) == a_init, "B's init %d is not A's %d",
		  petri_sandbox_init_pid(b), a_init);
	CHECK_MSG(after.recycled == before->recycled + 1, "the pool did not count a recycle");
	CHECK_MSG(after.discarded == before->discarded, "the pool discarded a sandbox");
	CHECK_MSG(strcmp(petri_sandbox_id(b), a_id) != 0, "B kept A's id %s", a_id);
	char b_cgroup[512];
	cgroup_dir(petri_sandbox_init_pid(b), petri_ctx_cgroup_mode(ctx), "memory", b_cgroup,
		   sizeof(b_cgroup));
	if (a_cgroup[0]) {
		struct stat st;
		CHECK_MSG(strcmp(a_cgroup, b_cgroup) != 0, "B is still in A's cgroup %s", a_cgroup);
		CHECK_MSG(stat(a_cgroup, &st) < 0 && errno == ENOENT, "A's cgroup %s is left",
			  a_cgroup);
	}
	if (petri_test_failures) {
		print_stats("before", before);
		print_stats("after", &after);
	}
}

/* A line with LEAKED that is not one of the look's own CHECK lines (those
 * are judged one by one): output of something A planted that B ran. */
static int leak_outside_checks(const char *out)
{
	for (const char *p = out; (p = strstr(p, "LEAKED")); p++) {
		const char *bol = p;
		while (bol > out && bol[-1] != '\n')
			bol--;
		if (strncmp(bol, "CHECK trace_", 12) != 0)
			return 1;
	}
	return 0;
}

/* CHECK that the look found every trace of A gone (each one by name: a
 * trace the look forgot to report fails too). */
static void expect_look_clean(const struct petri_test_run *r)
{
	static const char *const traces[] = {"env",
					     "files_tmp",
					     "files_workspace",
					     "files_home_sandbox",
					     "files_dev_shm",
					     "root_modes",
					     "root_times",
					     "xattr",
					     "mq_quota",
					     "sysv_ipc",
					     "posix_mq",
					     "posix_shm",
					     "net_sockets",
					     "net_names",
					     "net_connect",
					     "processes",
					     "ghosts",
					     "keyring",
					     "umask",
					     "rlimit_nofile",
					     "cwd",
					     "hostname",
					     "net_counters",
					     "tcp_metrics",
					     NULL};
	char name[64];
	for (int i = 0; traces[i]; i++) {
		snprintf(name, sizeof(name), "trace_%s", traces[i]);
		sec_expect(r, name, "CLEAN");
	}
	sec_expect(r, "trace_sysctls",
		   "VALUES core/somaxconn=4096;ipv4/ip_local_port_range=32768 60999;"
		   "ipv4/ping_group_range=65534 65534;ipv4/tcp_syncookies=1");
	sec_expect(r, "trace_ip6_flowlabel", "CLEAN");
	sec_expect_no_escape(r);
	CHECK_MSG(!leak_outside_checks(r->out) && !strstr(r->err, "LEAKED"),
		  "B's Python or shell ran something A left");
}

/* A plants everything, B (A recycled) finds nothing, its first exec. */
static void test_recycle_traces(void)
{
	petri_ctx *ctx = pool_ctx(0, 1);
	const char *aenv[] = {"TENANT_A_SECRET=sandbox-secret-of-a", NULL};
	petri_sandbox *a = take(ctx, aenv, 0, 0);
	CHECK(petri_sandbox_reuses(a) == 0);
	plant_everything(a);
	int a_init = petri_sandbox_init_pid(a);
	char a_id[64], a_cg[512];
	snprintf(a_id, sizeof(a_id), "%s", petri_sandbox_id(a));
	cgroup_dir(a_init, petri_ctx_cgroup_mode(ctx), "memory", a_cg, sizeof(a_cg));

	petri_pool_stats before = give_back(ctx, a);
	const char *benv[] = {"TENANT_B=1", NULL};
	petri_sandbox *b = take(ctx, benv, 0, 0);
	check_recycled(ctx, a_init, a_id, a_cg, &before, b);
	host_sees_nothing(b);

	struct petri_test_run r = tenant(b, "look", NULL);
	expect_look_clean(&r);
	if (petri_test_failures)
		sec_dump("recycle_tenant.py look", &r);
	petri_test_run_free(&r);

	/* B's own env arrived (options given at take). */
	r = petri_test_exec(b, "sh", "echo \"B=$TENANT_B A=${TENANT_A_SECRET:-none}\"", NULL,
			    10000);
	CHECK_MSG(r.rc == 0 && strcmp(r.out, "B=1 A=none\n") == 0, "B's env: %s", r.out);
	petri_test_run_free(&r);
	petri_sandbox_destroy(b);
	petri_ctx_free(ctx);
}

/* ---- the probe battery --------------------------------------------------- */

struct section_note {
	const char *section;
	const char *reason;
};

/* Sections of the battery that differ by design between any two sandboxes
 * (never only between a recycled and a fresh one), and why. */
static const struct section_note by_design[] = {
	{"boot_id", "a new boot id per exec (libpetri/init/mounts.c, BOOT_ID_FILE): "
		    "two execs never share one, recycled or not"},
	{"net_sockstat_host", "the TCP and UDP \"alloc\" and \"mem\" of /proc/net/sockstat are "
			      "the host's own (the protocols' global counters, not the network "
			      "namespace's): they move with every socket on the host"},
	{NULL, NULL},
};

static int in_sections(const struct section_note *l, const char *line)
{
	for (int i = 0; l[i].section; i++) {
		size_t n = strlen(l[i].section);
		if (strncmp(line, l[i].section, n) == 0 && line[n] == ':')
			return 1;
	}
	return 0;
}

/* Which lines a comparison looks at: every one but the by-design sections. */
static int compared(const char *line)
{
	return !in_sections(by_design, line);
}

static void print_notes(void)
{
	fprintf(stderr, "by design, these sections may differ:\n");
	for (int i = 0; by_design[i].section; i++)
		fprintf(stderr, "  %s: %s\n", by_design[i].section, by_design[i].reason);
}

struct battery {
	char *out;
	uint64_t trivial_peak; /* peak memory of an exec of /bin/true after it */
	char *look;            /* the look's output after the battery (recycled only) */
};

static struct battery run_battery(petri_sandbox *sb, const char *who)
{
	char *code = sec_attack_source("recycle_probe.sh");
	struct sec_exec x = {.lang = "sh", .code = code, .timeout_ms = 60000};
	struct petri_test_run r = sec_exec(sb, &x);
	free(code);
	CHECK_MSG(r.rc == 0 && r.reason == PETRI_REASON_EXITED && r.exit_code == 0,
		  "the battery did not run to completion in the %s sandbox", who);
	CHECK_MSG(r.out_len > 0 && strstr(r.out, "\nDONE\n"),
		  "the battery in the %s sandbox "
		  "did not finish",
		  who);
	CHECK_MSG(!r.out_trunc, "the battery's output was truncated");
	if (r.err_len)
		fprintf(stderr, "battery (%s) stderr:\n%s\n", who, r.err);
	struct battery b = {.out = r.out};
	r.out = NULL;
	petri_test_run_free(&r);

	petri_exec_opts eo = PETRI_EXEC_OPTS_INIT;
	const char *argv[] = {"/bin/true", NULL};
	eo.argv = argv;
	petri_result *res = NULL;
	REQUIRE(petri_sandbox_exec(sb, &eo, &res, NULL) == 0);
	b.trivial_peak = petri_result_peak_memory_bytes(res);
	petri_result_free(res);
	return b;
}

/* The lines of @text compared, split in place: [out] @lines (at
 * most @max), returns how many. */
static int split_lines(char *text, char **lines, int max)
{
	int n = 0;
	char *save = NULL;
	for (char *l = strtok_r(text, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save))
		if (compared(l))
			lines[n++] = l;
	return n;
}

static size_t section_len(const char *line)
{
	const char *c = strchr(line, ':');
	return c ? (size_t)(c - line) : strlen(line);
}

static int in_section(const char *line, const char *sec, size_t n)
{
	return section_len(line) == n && strncmp(line, sec, n) == 0;
}

/*
 * CHECK that two pictures are the same but in the by-design sections
 * (which must be in both), section by section, line by line
 * within each: a line more in one section shows as that section's
 * difference only.
 */
static void compare_batteries(const char *an, const char *a, const char *bn, const char *b)
{
	for (int i = 0; by_design[i].section; i++) {
		char key[64];
		snprintf(key, sizeof(key), "\n%s: ", by_design[i].section);
		CHECK_MSG(strstr(a, key) && strstr(b, key), "section %s missing",
			  by_design[i].section);
	}
	enum {
		MAXL = 8192
	};
	static char *la[MAXL], *lb[MAXL];
	char *ca = strdup(a), *cb = strdup(b);
	REQUIRE(ca && cb);
	int na = split_lines(ca, la, MAXL), nb = split_lines(cb, lb, MAXL);
	int shown = 0, differ = 0, lines = 0;
	/* Each section, in the order it first appears in either picture. */
	for (int k = 0; k < na + nb; k++) {
		const char *first = k < na ? la[k] : lb[k - na];
		size_t n = section_len(first);
		int seen = 0;
		for (int q = 0; q < k && !seen; q++)
			seen = in_section(q < na ? la[q] : lb[q - na], first, n);
		if (seen)
			continue;
		int ia = 0, ib = 0;
		for (;;) {
			while (ia < na && !in_section(la[ia], first, n))
				ia++;
			while (ib < nb && !in_section(lb[ib], first, n))
				ib++;
			if (ia >= na && ib >= nb)
				break;
			const char *x = ia < na ? la[ia] : NULL, *y = ib < nb ? lb[ib] : NULL;
			lines++;
			if (!x || !y || strcmp(x, y) != 0) {
				differ++;
				if (shown++ < 60)
					fprintf(stderr,
						"battery differs:\n  %-9s| %s\n  %-9s| %s\n", an,
						x ? x : "<none>", bn, y ? y : "<none>");
			}
			ia += ia < na;
			ib += ib < nb;
		}
	}
	CHECK_MSG(differ == 0, "%s and %s sandboxes differ in %d of %d lines of the battery", an,
		  bn, differ, lines);
	CHECK_MSG(lines > 500, "the battery printed only %d lines", lines);
	free(ca);
	free(cb);
}

/* The battery in a recycled sandbox (after an A that left everything), a
 * fresh one from a pool that never recycles, and an unpooled one. */
struct trio {
	struct battery rec, fresh, unpooled;
};

static struct trio battery_trio(void)
{
	petri_ctx *ctx = pool_ctx(0, 1);
	const char *aenv[] = {"TENANT_A_SECRET=sandbox-secret-of-a", NULL};
	petri_sandbox *a = take(ctx, aenv, 0, 0);
	plant_everything(a);
	int a_init = petri_sandbox_init_pid(a);
	char a_id[64], a_cg[512];
	snprintf(a_id, sizeof(a_id), "%s", petri_sandbox_id(a));
	cgroup_dir(a_init, petri_ctx_cgroup_mode(ctx), "memory", a_cg, sizeof(a_cg));
	petri_pool_stats before = give_back(ctx, a);
	petri_sandbox *b = take(ctx, NULL, 0, 0);
	check_recycled(ctx, a_init, a_id, a_cg, &before, b);
	struct trio t;
	t.rec = run_battery(b, "recycled");
	/* (B's second exec: the namespace's counters, as the look sees them.) */
	struct petri_test_run r = tenant(b, "look", NULL);
	t.rec.look = r.out;
	r.out = NULL;
	petri_test_run_free(&r);

	petri_ctx *fctx = pool_ctx(PETRI_CTX_F_NO_RECYCLE, 0);
	petri_sandbox *f = take(fctx, NULL, 0, 0);
	CHECK(petri_sandbox_reuses(f) == 0);
	t.fresh = run_battery(f, "fresh");
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = LANG;
	so.flags = PETRI_SANDBOX_F_NO_POOL;
	petri_sandbox *u = sec_sandbox_in(fctx, &so);
	t.unpooled = run_battery(u, "unpooled");
	petri_sandbox_destroy(b);
	petri_sandbox_destroy(f);
	petri_sandbox_destroy(u);
	petri_ctx_free(ctx);
	petri_ctx_free(fctx);
	REQUIRE(t.rec.out && t.fresh.out && t.unpooled.out);
	return t;
}

static void free_trio(struct trio *t)
{
	struct battery *all[] = {&t->rec, &t->fresh, &t->unpooled};
	for (int i = 0; i < 3; i++) {
		free(all[i]->out);
		free(all[i]->look);
	}
}

static void test_probe_battery(void)
{
	struct trio t = battery_trio();
	compare_batteries("recycled", t.rec.out, "fresh", t.fresh.out);
	compare_batteries("fresh", t.fresh.out, "unpooled", t.unpooled.out);
	/* Memory: a trivial exec's peak (the cgroup's, reset at its start)
	 * carries none of the 80 MiB A held in tmpfs.  Not equal to the byte
	 * (page cache and slab vary), within 8 MiB of the fresh one. */
	fprintf(stderr, "trivial exec peak: recycled %llu, fresh %llu, unpooled %llu bytes\n",
		(unsigned long long)t.rec.trivial_peak, (unsigned long long)t.fresh.trivial_peak,
		(unsigned long long)t.unpooled.trivial_peak);
	CHECK_MSG(t.rec.trivial_peak < t.fresh.trivial_peak + (8u << 20),
		  "a trivial exec in the recycled sandbox peaks at %llu bytes, the fresh one at "
		  "%llu",
		  (unsigned long long)t.rec.trivial_peak, (unsigned long long)t.fresh.trivial_peak);
	if (petri_test_failures)
		print_notes();
	free_trio(&t);
}

/* Limits given at take and the memory A held: B gets a default sandbox's
 * cgroup limits (not A's), and its cgroup is not charged with A's tmpfs. */
static void test_recycle_cgroup(void)
{
	petri_ctx *ctx = pool_ctx(0, 1);
	int mode = petri_ctx_cgroup_mode(ctx);
	if (mode == PETRI_CGROUP_NONE)
		petri_test_skip("no writable cgroup: limits are rlimits only");
	petri_sandbox *a = take(ctx, NULL, 160u << 20, 48);
	char a_mem[64], a_pids[64];
	cgroup_knob(ctx, a, "memory", "memory.max", "memory.limit_in_bytes", a_mem, sizeof(a_mem));
	cgroup_knob(ctx, a, "pids", "pids.max", "pids.max", a_pids, sizeof(a_pids));
	CHECK_MSG(strtoull(a_mem, NULL, 10) == 160u << 20, "A's memory limit is %s", a_mem);
	CHECK_MSG(strcmp(a_pids, "48") == 0, "A's pids limit is %s", a_pids);
	struct petri_test_run r = tenant(a, "plant", NULL);
	sec_expect(&r, "plant_memory", "OK");
	petri_test_run_free(&r);
	char a_use[64];
	cgroup_knob(ctx, a, "memory", "memory.current", "memory.usage_in_bytes", a_use,
		    sizeof(a_use));
	int a_init = petri_sandbox_init_pid(a);
	char a_id[64], a_cg[512];
	snprintf(a_id, sizeof(a_id), "%s", petri_sandbox_id(a));
	cgroup_dir(a_init, mode, "memory", a_cg, sizeof(a_cg));
	petri_pool_stats before = give_back(ctx, a);
	petri_sandbox *b = take(ctx, NULL, 0, 0);
	check_recycled(ctx, a_init, a_id, a_cg, &before, b);

	/* The reference: a fresh default sandbox (of a context without a
	 * pool: the pool's context has no id range to spare). */
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = LANG;
	petri_sandbox *f = sec_sandbox_in(sec_private_ctx(), &so);
	struct {
		const char *ctrl, *v2, *v1;
	} knobs[] = {{"memory", "memory.max", "memory.limit_in_bytes"},
		     {"pids", "pids.max", "pids.max"},
		     {"cpu", "cpu.max", "cpu.cfs_quota_us"},
		     {"memory", "memory.swap.max", "memory.memsw.limit_in_bytes"}};
	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		char bv[64], fv[64];
		cgroup_knob(ctx, b, knobs[i].ctrl, knobs[i].v2, knobs[i].v1, bv, sizeof(bv));
		cgroup_knob(ctx, f, knobs[i].ctrl, knobs[i].v2, knobs[i].v1, fv, sizeof(fv));
		CHECK_MSG(strcmp(bv, fv) == 0, "%s: recycled \"%s\", fresh \"%s\"",
			  mode == PETRI_CGROUP_V2 ? knobs[i].v2 : knobs[i].v1, bv, fv);
	}
	char b_use[64], f_use[64];
	cgroup_knob(ctx, b, "memory", "memory.current", "memory.usage_in_bytes", b_use,
		    sizeof(b_use));
	cgroup_knob(ctx, f, "memory", "memory.current", "memory.usage_in_bytes", f_use,
		    sizeof(f_use));
	fprintf(stderr, "cgroup memory: A after its plant %s, B %s, fresh %s bytes\n", a_use, b_use,
		f_use);
	CHECK_MSG(strtoull(a_use, NULL, 10) >= 80ull << 20,
		  "A's cgroup does not hold the 80 MiB A wrote (%s): the check below proves "
		  "nothing",
		  a_use);
	CHECK_MSG(strtoull(b_use, NULL, 10) < strtoull(f_use, NULL, 10) + (16ull << 20),
		  "B's cgroup holds %s bytes, a fresh one %s", b_use, f_use);
	/* And from inside: B's df shows empty tmpfs mounts. */
	r = petri_test_exec(b, "sh",
			    "df -P /tmp /workspace /home/sandbox /dev/shm | "
			    "awk 'NR > 1 { print $3 }' | tr '\\n' ' '",
			    NULL, 10000);
	CHECK_MSG(r.rc == 0 && strcmp(r.out, "0 0 0 0 ") == 0, "B's tmpfs use (KiB): %s", r.out);
	petri_test_run_free(&r);
	petri_sandbox_destroy(f);
	petri_sandbox_destroy(b);
	petri_ctx_free(ctx);
}

/*
 * Tenant A, in its own sandbox, runs recycle_tenant.py's @mode, whose
 * plant_* lines (NULL-terminated @plants, each "NAME=VALUE") must say so;
 * then its sandbox must be discarded, not recycled, for @why, and the next
 * sandbox must be fresh: not A's init, which is gone.  Returns that next
 * sandbox for the caller's own look; the caller destroys it and @ctx.
 */
static petri_sandbox *discarded_after(petri_ctx *ctx, const char *mode, const char *const *plants,
				      const char *why)
{
	petri_sandbox *a = take(ctx, NULL, 0, 0);
	struct petri_test_run r = tenant(a, mode, NULL);
	for (int i = 0; plants[i]; i++) {
		char name[64];
		const char *eq = strchr(plants[i], '=');
		snprintf(name, sizeof(name), "%.*s", (int)(eq - plants[i]), plants[i]);
		sec_expect(&r, name, eq + 1);
	}
	petri_test_run_free(&r);
	int a_init = petri_sandbox_init_pid(a);
	petri_pool_stats before = give_back(ctx, a);
	petri_pool_stats after = stats(ctx);
	CHECK_MSG(after.discarded == before.discarded + 1, "a sandbox %s was not discarded", why);
	CHECK_MSG(after.recycled == before.recycled, "a sandbox %s was recycled", why);
	petri_sandbox *b = take(ctx, NULL, 0, 0);
	CHECK_MSG(petri_sandbox_reuses(b) == 0 && petri_sandbox_init_pid(b) != a_init,
		  "the next sandbox is A's init (reuses %lld)", (long long)petri_sandbox_reuses(b));
	CHECK_MSG(!sec_pid_alive(a_init), "A's init %d is still alive", a_init);
	if (petri_test_failures) {
		print_stats("before", &before);
		print_stats("after", &after);
	}
	return b;
}

/* A sandbox that still has a TCP connection in TIME_WAIT is not recycled. */
static void test_discard_time_wait(void)
{
	petri_ctx *ctx = pool_ctx(0, 1);
	static const char *const plants[] = {"plant_timewait=OK", NULL};
	petri_sandbox *b = discarded_after(ctx, "timewait", plants, "with a TIME_WAIT socket");
	struct petri_test_run r =
		petri_test_exec(b, "sh", "awk 'FNR > 1' /proc/net/tcp /proc/net/tcp6", NULL, 10000);
	CHECK_MSG(r.rc == 0 && r.out_len == 0, "the next sandbox sees sockets: %s", r.out);
	petri_test_run_free(&r);
	petri_sandbox_destroy(b);
	petri_ctx_free(ctx);
}

/*
 * A sandbox whose network namespace was used is not recycled, even when
 * the tenant left no socket and no TIME_WAIT (it removed its TIME_WAIT
 * with a SYN from the same port, RFC 1337): the namespace keeps lo's and
 * the protocols' counters and a TCP metrics entry, which the next tenant
 * would read.  The next sandbox is fresh and sees none of it.  (Against
 * wt-pool 7de4f99 such a sandbox was recycled and B read A's traffic.)
 */
static void test_discard_network_used(void)
{
	petri_ctx *ctx = pool_ctx(0, 1);
	static const char *const plants[] = {"plant_traffic=OK", "plant_tcp_metrics=OK tw=0", NULL};
	petri_sandbox *b = discarded_after(ctx, "network", plants, "whose network was used");
	struct petri_test_run r = tenant(b, "look", NULL);
	sec_expect(&r, "trace_net_counters", "CLEAN");
	sec_expect(&r, "trace_tcp_metrics", "CLEAN");
	petri_test_run_free(&r);
	petri_sandbox_destroy(b);
	petri_ctx_free(ctx);
}

/*
 * An IPv6 flow label lingers in the network namespace after its socket
 * (IPV6_FL_S_ANY, 150 s, no privilege needed), moves no counter and is no
 * socket: the next tenant would read it in /proc/net/ip6_flowlabel and
 * could not take the label.  The sandbox must be discarded.
 */
static void test_discard_flowlabel(void)
{
	petri_ctx *ctx = pool_ctx(0, 1);
	static const char *const plants[] = {"plant_flowlabel=OK", NULL};
	petri_sandbox *b = discarded_after(ctx, "flowlabel", plants, "holding an IPv6 flow label");
	struct petri_test_run r = tenant(b, "look", NULL);
	sec_expect(&r, "trace_ip6_flowlabel", "CLEAN");
	petri_test_run_free(&r);
	petri_sandbox_destroy(b);
	petri_ctx_free(ctx);
}

/*
 * A process in init's pid namespace that init cannot kill: a host-root
 * process that entered it (setns CLONE_NEWPID, as `nsenter -p -t INIT`
 * would) keeps its host credentials, which init's capabilities (in the
 * sandbox's user namespace) do not cover.  The sandbox must be discarded,
 * not recycled; its teardown (the pid namespace dies with init) kills the
 * intruder.
 */
static void test_discard_unkillable(void)
{
	petri_ctx *ctx = pool_ctx(0, 1);
	petri_sandbox *a = take(ctx, NULL, 0, 0);
	int a_init = petri_sandbox_init_pid(a);
	int pfd = (int)syscall(SYS_pidfd_open, a_init, 0);
	REQUIRE(pfd >= 0);
	int p[2];
	REQUIRE(pipe(p) == 0);
	pid_t c = fork();
	REQUIRE(c >= 0);
	if (c == 0) {
		close(p[0]);
		if (setns(pfd, CLONE_NEWPID) < 0) {
			perror("setns CLONE_NEWPID");
			_exit(2);
		}
		pid_t g = fork();
		if (g == 0) {
			for (;;)
				pause();
		}
		if (write(p[1], &g, sizeof(g)) != (ssize_t)sizeof(g))
			_exit(3);
		_exit(g > 0 ? 0 : 4);
	}
	close(p[1]);
	close(pfd);
	int st = 0;
	REQUIRE(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	pid_t intruder = 0;
	REQUIRE(read(p[0], &intruder, sizeof(intruder)) == (ssize_t)sizeof(intruder));
	close(p[0]);
	REQUIRE(intruder > 0 && sec_pid_alive(intruder));
	/* It is in init's pid namespace, and init cannot signal it. */
	char a_ns[64], i_ns[64], path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", a_init);
	ssize_t n1 = readlink(path, a_ns, sizeof(a_ns) - 1);
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)intruder);
	ssize_t n2 = readlink(path, i_ns, sizeof(i_ns) - 1);
	REQUIRE(n1 > 0 && n2 > 0);
	a_ns[n1] = i_ns[n2] = '\0';
	REQUIRE(strcmp(a_ns, i_ns) == 0);

	petri_pool_stats before = give_back(ctx, a);
	petri_pool_stats after = stats(ctx);
	CHECK_MSG(after.discarded == before.discarded + 1,
		  "a sandbox with a process init cannot kill was not discarded");
	CHECK_MSG(after.recycled == before.recycled,
		  "a sandbox with a process init cannot kill was recycled");
	petri_sandbox *b = take(ctx, NULL, 0, 0);
	CHECK_MSG(petri_sandbox_reuses(b) == 0, "the next sandbox has reuses %lld",
		  (long long)petri_sandbox_reuses(b));
	CHECK_MSG(petri_sandbox_init_pid(b) != a_init, "the next sandbox is A's init");
	uint64_t deadline = sec_now_ms() + 10000;
	while (sec_pid_alive(intruder) && sec_now_ms() < deadline)
		usleep(10000);
	CHECK_MSG(!sec_pid_alive(intruder), "the intruder %d outlived the discarded sandbox",
		  (int)intruder);
	if (sec_pid_alive(intruder))
		kill(intruder, SIGKILL);
	if (petri_test_failures) {
		print_stats("before", &before);
		print_stats("after", &after);
	}
	petri_sandbox_destroy(b);
	petri_ctx_free(ctx);
}

/* Sockets alive only as descriptors in flight in an unreachable cycle of
 * unix sockets: whether the pool recycles the sandbox (the kernel's
 * garbage collector freed them) or discards it, the next tenant finds the
 * port and the abstract name free. */
static void test_recycle_inflight_sockets(void)
{
	petri_ctx *ctx = pool_ctx(0, 1);
	petri_sandbox *a = take(ctx, NULL, 0, 0);
	struct petri_test_run r = tenant(a, "inflight", NULL);
	sec_expect(&r, "plant_inflight", "OK");
	petri_test_run_free(&r);
	give_back(ctx, a);
	petri_sandbox *b = take(ctx, NULL, 0, 0);
	fprintf(stderr, "after sockets in flight, the next sandbox has reuses %lld\n",
		(long long)petri_sandbox_reuses(b));
	r = tenant(b, "look", NULL);
	sec_expect(&r, "trace_net_sockets", "CLEAN");
	sec_expect(&r, "trace_net_names", "CLEAN");
	sec_expect(&r, "trace_net_connect", "CLEAN");
	if (petri_test_failures)
		sec_dump("look after inflight", &r);
	petri_test_run_free(&r);
	petri_sandbox_destroy(b);
	petri_ctx_free(ctx);
}

/* ---- audit streams across a recycle ------------------------------------- */

static petri_audit *open_stream(petri_ctx *ctx, char *path)
{
	petri_audit_opts ao = PETRI_AUDIT_OPTS_INIT;
	petri_audit *a = NULL;
	strcpy(path, "/tmp/petri-recycle-audit-XXXXXX");
	int fd = mkstemp(path);
	REQUIRE(fd >= 0);
	close(fd);
	ao.sink = PETRI_AUDIT_SINK_FILE;
	ao.path = path;
	ao.ctx = ctx;
	REQUIRE(petri_audit_open(&a, &ao, NULL) == 0);
	return a;
}

/* How many events of the stream at @path mention @needle (text form), and
 * how many come after its SandboxDestroyed (the end of stream aside). */
static int stream_mentions(const char *path, const char *needle, int *after_destroyed)
{
	petri_audit_reader_opts ro = PETRI_AUDIT_READER_OPTS_INIT;
	petri_audit_reader *rd = NULL;
	ro.source = PETRI_AUDIT_SRC_PATH;
	ro.path = path;
	REQUIRE(petri_audit_reader_open(&rd, &ro, NULL) == 0);
	int n = 0, r, destroyed = 0;
	if (after_destroyed)
		*after_destroyed = 0;
	while ((r = petri_audit_reader_next(rd, NULL)) == 1) {
		int k = petri_audit_reader_kind(rd);
		if (k == PETRI_AUDIT_KIND_STREAM_END)
			continue;
		if (destroyed && after_destroyed)
			(*after_destroyed)++;
		if (k == PETRI_AUDIT_KIND_SANDBOX_DESTROYED)
			destroyed = 1;
		char *text = NULL;
		REQUIRE(petri_audit_reader_format(rd, PETRI_AUDIT_FORMAT_TEXT, &text, NULL) == 0);
		if (strstr(text, needle))
			n++;
		petri_free(text);
	}
	CHECK(r == 0);
	petri_audit_reader_close(rd);
	return n;
}

static petri_sandbox *take_audited(petri_ctx *ctx, const char *id, petri_audit *a)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = LANG;
	so.id = id;
	so.audit = a;
	return sec_sandbox_in(ctx, &so);
}

static void run_sh(petri_sandbox *sb, const char *code)
{
	struct petri_test_run r = petri_test_exec(sb, "sh", code, NULL, 10000);
	CHECK_MSG(r.rc == 0 && r.exit_code == 0, "%s: rc %d exit %d %s", code, r.rc, r.exit_code,
		  r.err);
	petri_test_run_free(&r);
}

/*
 * A's audit stream stays open while B (A recycled, no stream) and then C
 * (B recycled, a stream of its own) run: nothing of B or C reaches A's
 * stream, nothing follows A's SandboxDestroyed there, and nothing of A or
 * B reaches C's, which (kernel audit on) records C's own file activity.
 */
static void test_recycle_audit(void)
{
	petri_ctx *ctx = pool_ctx(0, 1);
	const char *why = NULL;
	int kernel = petri_ctx_kernel_audit(ctx, &why) == 1;
	if (!kernel)
		fprintf(stderr, "kernel audit off (%s): lifecycle events only\n", why);
	char pa[64], pc[64];
	petri_audit *sa = open_stream(ctx, pa);
	petri_sandbox *a = take_audited(ctx, "tenant-a-audited", sa);
	run_sh(a, "echo a > /tmp/a-marker-7f3e; cat /tmp/a-marker-7f3e");
	give_back(ctx, a);
	petri_sandbox *b = take_audited(ctx, "tenant-b-quiet", NULL);
	CHECK(petri_sandbox_reuses(b) == 1);
	run_sh(b, "echo b > /tmp/b-marker-91c2; cat /tmp/b-marker-91c2 /etc/passwd > /dev/null");
	give_back(ctx, b);
	petri_audit *sc = open_stream(ctx, pc);
	petri_sandbox *c = take_audited(ctx, "tenant-c-audited", sc);
	CHECK(petri_sandbox_reuses(c) == 2);
	run_sh(c, "echo c > /tmp/c-marker-55d0; cat /tmp/c-marker-55d0");
	petri_sandbox_destroy(c);
	REQUIRE(petri_audit_close(sa, NULL) == 0);
	REQUIRE(petri_audit_close(sc, NULL) == 0);

	int after = 0;
	CHECK_MSG(stream_mentions(pa, "tenant-a-audited", &after) >= 3, "A's stream lacks A");
	CHECK_MSG(after == 0, "%d events follow A's SandboxDestroyed in A's stream", after);
	static const char *const not_a[] = {"tenant-b", "b-marker", "tenant-c", "c-marker", NULL};
	for (int i = 0; not_a[i]; i++)
		CHECK_MSG(stream_mentions(pa, not_a[i], NULL) == 0, "A's stream names %s",
			  not_a[i]);
	static const char *const not_c[] = {"tenant-a", "a-marker", "tenant-b", "b-marker", NULL};
	for (int i = 0; not_c[i]; i++)
		CHECK_MSG(stream_mentions(pc, not_c[i], NULL) == 0, "C's stream names %s",
			  not_c[i]);
	CHECK_MSG(stream_mentions(pc, "tenant-c-audited", NULL) >= 3, "C's stream lacks C");
	if (kernel) {
		CHECK_MSG(stream_mentions(pa, "a-marker-7f3e", NULL) >= 1,
			  "kernel audit is on, but A's stream has no file event of A's marker");
		CHECK_MSG(stream_mentions(pc, "c-marker-55d0", NULL) >= 1,
			  "kernel audit is on, but C's stream (a recycled init) has no file event "
			  "of C's marker");
	}
	if (!petri_test_failures) {
		unlink(pa);
		unlink(pc);
	} else {
		fprintf(stderr, "streams kept: %s (A), %s (C)\n", pa, pc);
	}
	petri_ctx_free(ctx);
}

/* Recycled twice: reuses counts, and the second tenant's traces are gone
 * as well as the first's. */
static void test_recycle_twice(void)
{
	petri_ctx *ctx = pool_ctx(0, 1);
	petri_sandbox *sb = take(ctx, NULL, 0, 0);
	int init = petri_sandbox_init_pid(sb);
	for (int round = 1; round <= 2; round++) {
		struct petri_test_run r = tenant(sb, "plant", NULL);
		sec_expect(&r, "plant_sysv_shm", "OK");
		sec_expect(&r, "plant_sockets", "OK");
		petri_test_run_free(&r);
		r = petri_test_exec(sb, "sh", "echo x > /tmp/" TAG " && echo x > /workspace/" TAG,
				    NULL, 10000);
		CHECK(r.rc == 0 && r.exit_code == 0);
		petri_test_run_free(&r);
		give_back(ctx, sb);
		sb = take(ctx, NULL, 0, 0);
		CHECK_MSG(petri_sandbox_reuses(sb) == round, "round %d: reuses %lld", round,
			  (long long)petri_sandbox_reuses(sb));
		CHECK_MSG(petri_sandbox_init_pid(sb) == init, "round %d: not the same init", round);
		r = tenant(sb, "look", NULL);
		expect_look_clean(&r);
		if (petri_test_failures)
			fprintf(stderr, "round %d\n", round);
		petri_test_run_free(&r);
	}
	petri_sandbox_destroy(sb);
	petri_ctx_free(ctx);
}

/*
 * The serial loop the pool is for: create + a short exec + destroy, with
 * warm {"sh": 1} and nothing else in the way.  The second create must get
 * the first one's init back, recycled.  (The refill defers its build by
 * 1 s after a take, so a tenant that comes back sooner finds room.
 * Against an early pool that built at once when a take emptied it, this
 * case failed.)
 */
static void test_recycle_serial(void)
{
	petri_ctx *ctx = pool_ctx(0, 0);
	petri_sandbox *a = take(ctx, NULL, 0, 0);
	int a_init = petri_sandbox_init_pid(a);
	struct petri_test_run r =
		petri_test_exec(a, NULL, NULL, (const char *[]){"true", NULL}, 10000);
	CHECK(r.rc == 0 && r.exit_code == 0);
	petri_test_run_free(&r);
	petri_pool_stats before = give_back(ctx, a);
	petri_pool_stats after = stats(ctx);
	petri_sandbox *b = take(ctx, NULL, 0, 0);
	CHECK_MSG(petri_sandbox_reuses(b) == 1 && petri_sandbox_init_pid(b) == a_init,
		  "the second create of a serial loop got reuses %lld (init %d, the first's %d): "
		  "the first sandbox was not recycled",
		  (long long)petri_sandbox_reuses(b), petri_sandbox_init_pid(b), a_init);
	CHECK_MSG(after.recycled == before.recycled + 1, "the pool did not count a recycle");
	if (petri_test_failures) {
		print_stats("before", &before);
		print_stats("after", &after);
	}
	petri_sandbox_destroy(b);
	petri_ctx_free(ctx);
}

/* What the pool must leave alone: PETRI_SANDBOX_F_NO_POOL and options the
 * pool cannot give (a hostname) are built for the create and torn down by
 * the destroy; the pool counts none of them. */
static void test_unpooled_untouched(void)
{
	petri_ctx *ctx = pool_ctx(0, 0);
	petri_pool_stats s0 = stats(ctx);
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = LANG;
	so.flags = PETRI_SANDBOX_F_NO_POOL;
	petri_sandbox *n = sec_sandbox_in(ctx, &so);
	so.flags = 0;
	so.hostname = "elsewhere";
	petri_sandbox *h = sec_sandbox_in(ctx, &so);
	CHECK(petri_sandbox_reuses(n) == 0 && petri_sandbox_reuses(h) == 0);
	int ni = petri_sandbox_init_pid(n), hi = petri_sandbox_init_pid(h);
	petri_sandbox_destroy(n);
	petri_sandbox_destroy(h);
	petri_pool_stats s1 = stats(ctx);
	CHECK_MSG(s1.hits == s0.hits && s1.misses == s0.misses && s1.recycled == s0.recycled &&
			  s1.discarded == s0.discarded,
		  "the pool counted creates or destroys it must not see");
	CHECK_MSG(!sec_pid_alive(ni) && !sec_pid_alive(hi), "an unpooled init outlived its "
							    "destroy");
	if (petri_test_failures) {
		print_stats("before", &s0);
		print_stats("after", &s1);
	}
	petri_ctx_free(ctx);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(recycle_traces),
	PETRI_TEST_CASE(probe_battery),
	PETRI_TEST_CASE(recycle_cgroup),
	PETRI_TEST_CASE(discard_time_wait),
	PETRI_TEST_CASE(discard_network_used),
	PETRI_TEST_CASE(discard_flowlabel),
	PETRI_TEST_CASE(discard_unkillable),
	PETRI_TEST_CASE(recycle_inflight_sockets),
	PETRI_TEST_CASE(recycle_audit),
	PETRI_TEST_CASE(recycle_twice),
	PETRI_TEST_CASE(recycle_serial),
	PETRI_TEST_CASE(unpooled_untouched),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
