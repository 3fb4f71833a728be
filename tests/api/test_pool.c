/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_pool - the warm pool's mechanism (petri_warm in petri.h): option
 * checks, filling, hits and misses, which creates bypass the pool, what a
 * take applies (id, env, cgroup limits, audit stream), recycling and
 * petri_sandbox_reuses(), PETRI_CTX_F_NO_RECYCLE, a dirty sandbox
 * discarded (a TCP TIME_WAIT left in its network namespace), petri_ctx_free
 * with a full pool and with recycles in flight (nothing left: processes,
 * cgroups, threads), and a pooled init killed while it waits.  Whether a
 * recycled sandbox keeps nothing of its last user is the zero-state suite's
 * job; here only a few traces are looked for.
 */
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "api_common.h"
#include "petri/audit.h"

#define WAIT_MS 60000

static petri_ctx *pool_ctx(const petri_warm *warm, uint32_t nwarm, uint32_t flags)
{
	petri_ctx_opts o = PETRI_CTX_OPTS_INIT;
	petri_ctx *ctx = NULL;
	petri_error *e = NULL;
	o.warm = warm;
	o.nwarm = nwarm;
	o.flags = flags;
	if (petri_ctx_new(&ctx, &o, &e) < 0) {
		fprintf(stderr, "petri_ctx_new: %s\n", petri_error_message(e));
		exit(1);
	}
	return ctx;
}

static petri_pool_stats stats(petri_ctx *ctx, const char *lang)
{
	petri_pool_stats s = {.sz = sizeof(s)};
	REQUIRE(petri_ctx_pool_stats(ctx, lang, &s) == 0);
	return s;
}

static void wait_full(petri_ctx *ctx)
{
	int r = petri_ctx_pool_wait(ctx, WAIT_MS);
	if (r != 0)
		fprintf(stderr, "petri_ctx_pool_wait: %s\n", strerror(-r));
	REQUIRE(r == 0);
}

/* Wait until the pool of @lang has settled @n destroys (recycled or
 * discarded, counting from 0) and is full again.  (Builds wait 1 s after a
 * take, so a destroy that follows within that time is what refills it; a
 * build that lands while a recycle is in flight is torn down, never the
 * recycled sandbox.) */
static void wait_settled(petri_ctx *ctx, const char *lang, uint64_t n)
{
	for (int i = 0; i < 1200; i++) {
		petri_pool_stats s = stats(ctx, lang);
		if (s.recycled + s.discarded >= n)
			break;
		usleep(50000);
	}
	wait_full(ctx);
}

static petri_sandbox *create(petri_ctx *ctx, const petri_sandbox_opts *o)
{
	petri_sandbox *sb = NULL;
	petri_error *e = NULL;
	if (petri_sandbox_create(ctx, o, &sb, &e) < 0) {
		fprintf(stderr, "petri_sandbox_create: %s\n", petri_error_message(e));
		exit(1);
	}
	return sb;
}

static petri_sandbox *create_lang(petri_ctx *ctx, const char *lang)
{
	petri_sandbox_opts o = PETRI_SANDBOX_OPTS_INIT;
	o.language = lang;
	return create(ctx, &o);
}

/* Run @script with /bin/sh; its stdout (malloc'd), exit code 0 checked. */
static char *sh(petri_sandbox *sb, const char *script)
{
	petri_result *r = API_SH(sb, script);
	CHECK_MSG(petri_result_exit_code(r) == 0, "exit %d for: %s", petri_result_exit_code(r),
		  script);
	char *out = api_out_str(r, 1);
	petri_result_free(r);
	return out;
}

/* ---- options ---- */

/* @warm rejected with EINVAL and a one-line message naming @word. */
static void refused(const petri_warm *warm, uint32_t nwarm, uint32_t reserved0, const char *word)
{
	petri_ctx_opts o = PETRI_CTX_OPTS_INIT;
	petri_ctx *ctx = NULL;
	petri_error *e = NULL;
	o.warm = warm;
	o.nwarm = nwarm;
	o.reserved0 = reserved0;
	int r = petri_ctx_new(&ctx, &o, &e);
	CHECK_MSG(r == -EINVAL, "want -EINVAL, got %d (%s)", r, word);
	CHECK(ctx == NULL);
	const char *m = petri_error_message(e);
	CHECK_MSG(m && strstr(m, word) && !strchr(m, '\n'), "message '%s' (want '%s')",
		  m ? m : "(null)", word);
	/* One line, the cause said once (not "...: Invalid argument: Invalid
	 * argument", as an unknown language's was). */
	const char *cause = m ? strstr(m, ": Invalid argument") : NULL;
	CHECK_MSG(!cause || !strstr(cause + 1, ": Invalid argument"), "message '%s' says it twice",
		  m);
	petri_error_free(e);
	if (ctx)
		petri_ctx_free(ctx);
}

static void test_bad_options(void)
{
	petri_warm many[17];
	static const char *const langs[] = {"sh", "python", "node", "go"};
	for (int i = 0; i < 17; i++)
		many[i] = (petri_warm){langs[i % 4], 1, 0};
	refused(many, 17, 0, "nwarm 17");
	refused(NULL, 1, 0, "warm is NULL");
	refused((const petri_warm[]){{"cobol", 1, 0}}, 1, 0, "cobol");
	refused((const petri_warm[]){{"sh", 0, 0}}, 1, 0, "count 0");
	refused((const petri_warm[]){{"sh", 1025, 0}}, 1, 0, "count 1025");
	refused((const petri_warm[]){{"sh", 1, 7}}, 1, 0, "reserved");
	refused((const petri_warm[]){{"sh", 1, 0}, {"python", 1, 0}, {"sh", 2, 0}}, 3, 0,
		"language sh has a pool already");
	refused((const petri_warm[]){{NULL, 1, 0}, {NULL, 1, 0}}, 2, 0, "has a pool already");
	refused((const petri_warm[]){{"sh", 1, 0}}, 1, 1, "reserved0");

	/* petri_ctx_pool_stats/_wait argument checks. */
	petri_ctx *ctx = pool_ctx((const petri_warm[]){{"sh", 1, 0}}, 1, 0);
	petri_pool_stats s = {.sz = sizeof(s)};
	CHECK(petri_ctx_pool_stats(NULL, "sh", &s) == -EINVAL);
	CHECK(petri_ctx_pool_stats(ctx, "sh", NULL) == -EINVAL);
	s.sz = 3;
	CHECK(petri_ctx_pool_stats(ctx, "sh", &s) == -EINVAL);
	s.sz = sizeof(s);
	CHECK(petri_ctx_pool_stats(ctx, "node", &s) == -ENOENT);
	CHECK(petri_ctx_pool_stats(ctx, NULL, &s) == -ENOENT);
	CHECK(petri_ctx_pool_wait(NULL, 0) == -EINVAL);
	CHECK(petri_sandbox_reuses(NULL) == -1);
	petri_ctx_free(ctx);
	/* No pool: nothing to wait for. */
	ctx = pool_ctx(NULL, 0, 0);
	CHECK(petri_ctx_pool_wait(ctx, 0) == 0);
	CHECK(petri_ctx_pool_stats(ctx, "sh", &s) == -ENOENT);
	petri_ctx_free(ctx);
}

/* ---- filling, hits and misses ---- */

static void test_fill(void)
{
	petri_ctx *ctx =
		pool_ctx((const petri_warm[]){{"sh", 3, 0}, {"python", 1, 0}, {NULL, 1, 0}}, 3, 0);
	wait_full(ctx);
	petri_pool_stats sh = stats(ctx, "sh"), py = stats(ctx, "python"), none = stats(ctx, NULL);
	CHECK(sh.ready == 3 && sh.target == 3 && sh.created == 3);
	CHECK(py.ready == 1 && py.target == 1 && py.created == 1);
	CHECK(none.ready == 1 && none.created == 1);
	CHECK(sh.hits == 0 && sh.misses == 0 && sh.failed == 0);
	/* Each pool holds sandboxes of its own language. */
	petri_sandbox *sb = create_lang(ctx, "python");
	CHECK(stats(ctx, "python").hits == 1 && stats(ctx, "sh").hits == 0);
	petri_exec_opts eo = PETRI_EXEC_OPTS_INIT;
	eo.code = "print(6 * 7)";
	eo.timeout_ms = 30000;
	petri_result *r = API_EXEC(sb, &eo);
	CHECK_OUT(r, 1, "42\n");
	petri_result_free(r);
	petri_sandbox_destroy(sb);
	sb = create(ctx, NULL); /* no language: the NULL pool */
	CHECK(stats(ctx, NULL).hits == 1);
	petri_sandbox_destroy(sb);
	petri_ctx_free(ctx);
}

static void test_hits_misses(void)
{
	petri_ctx *ctx = pool_ctx((const petri_warm[]){{"sh", 1, 0}}, 1, PETRI_CTX_F_NO_RECYCLE);
	wait_full(ctx);
	petri_sandbox *a = create_lang(ctx, "sh");
	/* The pool is empty now, and a build takes milliseconds: a miss. */
	petri_sandbox *b = create_lang(ctx, "sh");
	petri_pool_stats s = stats(ctx, "sh");
	CHECK_MSG(s.hits == 1 && s.misses == 1, "hits %llu misses %llu", (unsigned long long)s.hits,
		  (unsigned long long)s.misses);
	CHECK(petri_sandbox_reuses(a) == 0 && petri_sandbox_reuses(b) == 0);
	char *out = sh(b, "echo miss-ok");
	CHECK(strcmp(out, "miss-ok\n") == 0);
	free(out);
	petri_sandbox_destroy(a);
	petri_sandbox_destroy(b);
	wait_full(ctx);
	petri_ctx_free(ctx);
}

/* Options a take cannot apply build a sandbox of their own: neither a hit
 * nor a miss, and their destroy recycles nothing. */
static void test_bypass(void)
{
	petri_ctx *ctx = pool_ctx((const petri_warm[]){{"sh", 2, 0}}, 1, 0);
	wait_full(ctx);
	petri_sandbox_opts o[5];
	for (int i = 0; i < 5; i++) {
		o[i] = (petri_sandbox_opts)PETRI_SANDBOX_OPTS_INIT;
		o[i].language = "sh";
	}
	o[0].hostname = "other";
	o[1].flags = PETRI_SANDBOX_F_NO_POOL;
	o[2].tmp_bytes = 1 << 20;
	o[3].flags = PETRI_SANDBOX_F_NO_LANDLOCK;
	o[4].language = "node"; /* no pool of that language */
	for (int i = 0; i < 5; i++) {
		petri_sandbox *sb = create(ctx, &o[i]);
		CHECK_MSG(stats(ctx, "sh").ready == 2, "case %d took from the pool", i);
		char *out = sh(sb, "echo ok");
		CHECK(strcmp(out, "ok\n") == 0);
		free(out);
		petri_sandbox_destroy(sb);
	}
	petri_pool_stats s = stats(ctx, "sh");
	CHECK(s.hits == 0 && s.misses == 0 && s.recycled == 0 && s.discarded == 0);
	/* A default create of the language that was built while the pool was
	 * empty is recycled all the same: it matches. */
	petri_sandbox *t[3];
	for (int i = 0; i < 3; i++)
		t[i] = create_lang(ctx, "sh");
	s = stats(ctx, "sh");
	CHECK(s.hits == 2 && s.misses == 1);
	for (int i = 0; i < 3; i++)
		petri_sandbox_destroy(t[i]);
	wait_full(ctx);
	s = stats(ctx, "sh");
	/* Two back, the third torn down (the pool was full, or a build
	 * landed first). */
	CHECK_MSG(s.recycled + s.created >= 3 && s.ready == 2, "recycled %llu created %llu",
		  (unsigned long long)s.recycled, (unsigned long long)s.created);
	petri_ctx_free(ctx);
}

/* ---- a take ---- */

/* @file of the cgroup of @pid for @controller (v1) or the unified one. */
static long long cgroup_value(int pid, const char *controller, const char *file)
{
	char path[256], line[512], want[64];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	snprintf(want, sizeof(want), ":%s:", controller ? controller : "");
	FILE *f = fopen(path, "r");
	REQUIRE(f);
	long long v = -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, want);
		if (!p || (!controller && strncmp(line, "0::", 3) != 0))
			continue;
		p += strlen(want);
		p[strcspn(p, "\n")] = '\0';
		const char *roots[] = {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"};
		for (size_t i = 0; i < 2 && v < 0; i++) {
			char full[1024];
			if (controller)
				snprintf(full, sizeof(full), "/sys/fs/cgroup/%s%s/%s", controller,
					 p, file);
			else
				snprintf(full, sizeof(full), "%s%s/%s", roots[i], p, file);
			char *s = api_host_read("/", full + 1);
			if (s)
				v = atoll(s);
			free(s);
		}
		break;
	}
	fclose(f);
	return v;
}

static void test_take_applies(void)
{
	petri_ctx *ctx = pool_ctx((const petri_warm[]){{"sh", 1, 0}}, 1, 0);
	int mode = petri_ctx_cgroup_mode(ctx);
	if (mode == PETRI_CGROUP_NONE)
		petri_test_skip("no cgroups: no limits to apply");
	wait_full(ctx);
	petri_sandbox_opts o = PETRI_SANDBOX_OPTS_INIT;
	o.language = "sh";
	o.id = "tenant-7";
	o.memory_bytes = 96ull << 20;
	o.pids_max = 33;
	o.env = (const char *const[]){"GREETING=hello from the pool", NULL};
	petri_sandbox *sb = create(ctx, &o);
	CHECK(stats(ctx, "sh").hits == 1);
	CHECK(strcmp(petri_sandbox_id(sb), "tenant-7") == 0);
	int init = petri_sandbox_init_pid(sb);
	REQUIRE(init > 0);
	if (mode == PETRI_CGROUP_V1) {
		CHECK(cgroup_value(init, "memory", "memory.limit_in_bytes") == 96ll << 20);
		CHECK(cgroup_value(init, "pids", "pids.max") == 33);
	} else {
		CHECK(cgroup_value(init, NULL, "memory.max") == 96ll << 20);
		CHECK(cgroup_value(init, NULL, "pids.max") == 33);
	}
	char *out = sh(sb, "echo \"$GREETING\"");
	CHECK(strcmp(out, "hello from the pool\n") == 0);
	free(out);
	/* The limit holds: 40 sleepers do not fit under 33 pids. */
	petri_result *r =
		API_SH(sb, "i=0; while [ $i -lt 40 ]; do sleep 5 & i=$((i+1)); done; wait");
	CHECK_MSG(petri_result_limits_hit(r) & PETRI_LIMIT_PIDS, "limits hit 0x%x, reason %s",
		  petri_result_limits_hit(r), petri_reason_name(petri_result_reason(r)));
	petri_result_free(r);
	petri_sandbox_destroy(sb);
	petri_ctx_free(ctx);
}

/* The events of a stream file: counts per kind, and how many name @id. */
struct stream_view {
	int kinds[64];
	int naming; /* events other than the header and end that name the id */
	int others; /* events other than the header and end that do not */
};

static struct stream_view read_stream(const char *path, const char *id)
{
	struct stream_view v;
	memset(&v, 0, sizeof(v));
	petri_audit_reader_opts ro = PETRI_AUDIT_READER_OPTS_INIT;
	petri_audit_reader *rd = NULL;
	ro.source = PETRI_AUDIT_SRC_PATH;
	ro.path = path;
	REQUIRE(petri_audit_reader_open(&rd, &ro, NULL) == 0);
	int r;
	while ((r = petri_audit_reader_next(rd, NULL)) == 1) {
		int k = petri_audit_reader_kind(rd);
		if (k > 0 && k < 64)
			v.kinds[k]++;
		if (k == PETRI_AUDIT_KIND_STREAM_HEADER || k == PETRI_AUDIT_KIND_STREAM_END)
			continue;
		char *text = NULL;
		REQUIRE(petri_audit_reader_format(rd, PETRI_AUDIT_FORMAT_TEXT, &text, NULL) == 0);
		if (strstr(text, id))
			v.naming++;
		else
			v.others++;
		petri_free(text);
	}
	CHECK(r == 0);
	petri_audit_reader_close(rd);
	return v;
}

static petri_audit *open_stream(petri_ctx *ctx, char *path)
{
	petri_audit_opts ao = PETRI_AUDIT_OPTS_INIT;
	petri_audit *a = NULL;
	strcpy(path, "/tmp/petri-pool-audit-XXXXXX");
	int fd = mkstemp(path);
	REQUIRE(fd >= 0);
	close(fd);
	ao.sink = PETRI_AUDIT_SINK_FILE;
	ao.path = path;
	ao.ctx = ctx;
	REQUIRE(petri_audit_open(&a, &ao, NULL) == 0);
	return a;
}

/* Two users of one init, each with a stream of its own: each stream has
 * its own SandboxCreated, kernel events and SandboxDestroyed, all naming
 * its own id, and nothing of the other. */
static void test_audit_at_take(void)
{
	petri_ctx *ctx = pool_ctx((const petri_warm[]){{"sh", 1, 0}}, 1, 0);
	const char *why = NULL;
	int kernel = petri_ctx_kernel_audit(ctx, &why) == 1;
	if (!kernel)
		fprintf(stderr, "kernel audit off (%s): lifecycle events only\n", why);
	wait_full(ctx);
	const char *ids[2] = {"audited-first", "audited-second"};
	char path[2][64];
	for (int i = 0; i < 2; i++) {
		petri_audit *a = open_stream(ctx, path[i]);
		petri_sandbox_opts o = PETRI_SANDBOX_OPTS_INIT;
		o.language = "sh";
		o.id = ids[i];
		o.audit = a;
		petri_sandbox *sb = create(ctx, &o);
		CHECK(stats(ctx, "sh").hits == (uint64_t)i + 1);
		CHECK(petri_sandbox_reuses(sb) == i);
		char *out = sh(sb, "cat /etc/hostname > /dev/null; echo done");
		free(out);
		petri_sandbox_destroy(sb);
		REQUIRE(petri_audit_close(a, NULL) == 0);
		wait_settled(ctx, "sh", (uint64_t)i + 1);
	}
	CHECK(stats(ctx, "sh").recycled == 2);
	for (int i = 0; i < 2; i++) {
		struct stream_view v = read_stream(path[i], ids[i]);
		CHECK_MSG(v.kinds[PETRI_AUDIT_KIND_SANDBOX_CREATED] == 1 &&
				  v.kinds[PETRI_AUDIT_KIND_SANDBOX_DESTROYED] == 1,
			  "stream %d: created %d destroyed %d", i,
			  v.kinds[PETRI_AUDIT_KIND_SANDBOX_CREATED],
			  v.kinds[PETRI_AUDIT_KIND_SANDBOX_DESTROYED]);
		CHECK(v.kinds[PETRI_AUDIT_KIND_EXEC_STARTED] == 1 &&
		      v.kinds[PETRI_AUDIT_KIND_EXEC_ENDED] == 1);
		if (kernel)
			CHECK_MSG(v.kinds[PETRI_AUDIT_KIND_PROCESS_EXEC] >= 1 &&
					  v.kinds[PETRI_AUDIT_KIND_FILE_ACTIVITY] >= 1,
				  "stream %d: %d process execs, %d file events", i,
				  v.kinds[PETRI_AUDIT_KIND_PROCESS_EXEC],
				  v.kinds[PETRI_AUDIT_KIND_FILE_ACTIVITY]);
		CHECK_MSG(v.others == 0, "stream %d: %d events do not name %s", i, v.others,
			  ids[i]);
		struct stream_view x = read_stream(path[i], ids[1 - i]);
		CHECK_MSG(x.naming == 0, "stream %d names the other tenant", i);
		unlink(path[i]);
	}
	petri_ctx_free(ctx);
}

/* ---- recycling ---- */

static void test_recycle(void)
{
	petri_ctx *ctx = pool_ctx((const petri_warm[]){{"sh", 1, 0}}, 1, 0);
	wait_full(ctx);
	petri_sandbox *sb = create_lang(ctx, "sh");
	CHECK(petri_sandbox_reuses(sb) == 0);
	uint64_t cg1 = petri_sandbox_cgroup_id(sb);
	char *boot1 =
		sh(sb, "for d in /tmp /workspace /home/sandbox /dev/shm; do echo trace > $d/left; "
		       "done; cat /proc/sys/kernel/random/boot_id");
	petri_sandbox_destroy(sb);
	wait_settled(ctx, "sh", 1);
	petri_pool_stats s = stats(ctx, "sh");
	CHECK_MSG(s.recycled == 1 && s.failed == 0, "recycled %llu discarded %llu failed %llu",
		  (unsigned long long)s.recycled, (unsigned long long)s.discarded,
		  (unsigned long long)s.failed);
	/* Any build beside the recycle (a machine slow enough to reach the
	 * build delay) was torn down. */
	CHECK(s.discarded == s.created - 1);

	sb = create_lang(ctx, "sh");
	CHECK(petri_sandbox_reuses(sb) == 1);
	CHECK(stats(ctx, "sh").hits == 2);
	if (cg1)
		CHECK(petri_sandbox_cgroup_id(sb) != cg1);
	char *left = sh(sb, "for d in /tmp /workspace /home/sandbox /dev/shm; do ls -A $d; done; "
			    "cat /proc/self/cgroup | grep -v ':/$' ; true");
	CHECK_MSG(strcmp(left, "") == 0, "left over: %s", left);
	char *boot2 = sh(sb, "cat /proc/sys/kernel/random/boot_id");
	CHECK(strlen(boot1) > 30 && strcmp(boot1, boot2) != 0);
	free(left);
	free(boot1);
	free(boot2);
	petri_sandbox_destroy(sb);
	wait_settled(ctx, "sh", 2);
	CHECK(stats(ctx, "sh").recycled == 2);
	petri_ctx_free(ctx);
}

/* Takes less than BUILD_DELAY_MS apart whose sandboxes never come back
 * (PETRI_CTX_F_NO_RECYCLE): the pool is refilled all the same.  (Each take
 * used to push the next build a second further: the pool stayed empty.) */
static void test_refill_under_load(void)
{
	petri_ctx *ctx = pool_ctx((const petri_warm[]){{"sh", 2, 0}}, 1, PETRI_CTX_F_NO_RECYCLE);
	wait_full(ctx);
	for (int i = 0; i < 16; i++) {
		petri_sandbox_destroy(create_lang(ctx, "sh"));
		usleep(300 * 1000);
	}
	petri_pool_stats s = stats(ctx, "sh");
	fprintf(stderr, "refill_under_load: created %llu hits %llu misses %llu\n",
		(unsigned long long)s.created, (unsigned long long)s.hits,
		(unsigned long long)s.misses);
	CHECK(s.created > 2 && s.hits > 2);
	petri_ctx_free(ctx);
}

static void test_no_recycle(void)
{
	petri_ctx *ctx = pool_ctx((const petri_warm[]){{"sh", 1, 0}}, 1, PETRI_CTX_F_NO_RECYCLE);
	wait_full(ctx);
	for (int i = 0; i < 3; i++) {
		petri_sandbox *sb = create_lang(ctx, "sh");
		CHECK(petri_sandbox_reuses(sb) == 0);
		free(sh(sb, "true"));
		petri_sandbox_destroy(sb);
		wait_full(ctx);
	}
	petri_pool_stats s = stats(ctx, "sh");
	CHECK(s.recycled == 0 && s.hits == 3 && s.created == 4);
	petri_ctx_free(ctx);

	/* PETRI_SANDBOX_F_NO_POOL: its destroy never recycles either (and its
	 * create never takes: test_bypass). */
	ctx = pool_ctx((const petri_warm[]){{"sh", 1, 0}}, 1, 0);
	wait_full(ctx);
	petri_sandbox_opts o = PETRI_SANDBOX_OPTS_INIT;
	o.language = "sh";
	o.flags = PETRI_SANDBOX_F_NO_POOL;
	petri_sandbox *b = create(ctx, &o);
	petri_sandbox *a = create_lang(ctx, "sh"); /* empties the pool */
	petri_sandbox_destroy(b);                  /* the pool has room: still not recycled */
	CHECK(stats(ctx, "sh").recycled == 0 && stats(ctx, "sh").discarded == 0);
	petri_sandbox_destroy(a);
	wait_settled(ctx, "sh", 1);
	CHECK(stats(ctx, "sh").recycled == 1);
	/* An exec flagged PETRI_EXEC_LAST ends init: not recycled. */
	petri_sandbox *c = create_lang(ctx, "sh");
	petri_exec_opts eo = PETRI_EXEC_OPTS_INIT;
	eo.argv = (const char *const[]){"/bin/true", NULL};
	eo.flags = PETRI_EXEC_LAST;
	petri_result_free(API_EXEC(c, &eo));
	petri_sandbox_destroy(c);
	wait_full(ctx);
	CHECK(stats(ctx, "sh").recycled == 1);
	petri_ctx_free(ctx);
}

/* A connection the sandbox closed first leaves a TIME_WAIT socket in its
 * network namespace for a minute: not clean, so torn down. */
static void test_dirty_discarded(void)
{
	petri_ctx *ctx = pool_ctx((const petri_warm[]){{"python", 1, 0}}, 1, 0);
	wait_full(ctx);
	petri_sandbox *sb = create_lang(ctx, "python");
	petri_exec_opts eo = PETRI_EXEC_OPTS_INIT;
	eo.code = "import socket\n"
		  "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
		  "c = socket.create_connection(s.getsockname())\n"
		  "a, _ = s.accept()\n"
		  "a.close()\n" /* the accepting side closes first: its TIME_WAIT */
		  "c.recv(1); c.close(); s.close()\n"
		  "print(open('/proc/net/tcp').read().count(' 06 '))\n";
	eo.timeout_ms = 30000;
	petri_result *r = API_EXEC(sb, &eo);
	CHECK_OUT(r, 1, "1\n"); /* the TIME_WAIT is there */
	petri_result_free(r);
	petri_sandbox_destroy(sb);
	wait_settled(ctx, "python", 1);
	petri_pool_stats s = stats(ctx, "python");
	CHECK_MSG(s.recycled == 0 && s.discarded >= 1 && s.failed == 0,
		  "recycled %llu discarded %llu failed %llu", (unsigned long long)s.recycled,
		  (unsigned long long)s.discarded, (unsigned long long)s.failed);
	/* The dirty one and any build that raced it, replaced by one build. */
	CHECK(s.discarded == s.created - 1);
	sb = create_lang(ctx, "python");
	CHECK(petri_sandbox_reuses(sb) == 0);
	petri_sandbox_destroy(sb);
	petri_ctx_free(ctx);
}

/* Traffic on lo leaves no socket, but moves the network namespace's
 * counters (/proc/net/dev, snmp) for good: not clean either. */
static void test_used_network_discarded(void)
{
	petri_ctx *ctx = pool_ctx((const petri_warm[]){{"python", 1, 0}}, 1, 0);
	wait_full(ctx);
	petri_sandbox *sb = create_lang(ctx, "python");
	petri_exec_opts eo = PETRI_EXEC_OPTS_INIT;
	eo.code = "import socket\n"
		  "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
		  "s.sendto(b'x', ('127.0.0.1', 9)); s.close()\n"
		  "print('sent')\n";
	eo.timeout_ms = 30000;
	petri_result *r = API_EXEC(sb, &eo);
	CHECK_OUT(r, 1, "sent\n");
	petri_result_free(r);
	petri_sandbox_destroy(sb);
	wait_settled(ctx, "python", 1);
	petri_pool_stats s = stats(ctx, "python");
	CHECK_MSG(s.recycled == 0 && s.discarded >= 1 && s.discarded == s.created - 1 &&
			  s.failed == 0,
		  "recycled %llu discarded %llu created %llu failed %llu",
		  (unsigned long long)s.recycled, (unsigned long long)s.discarded,
		  (unsigned long long)s.created, (unsigned long long)s.failed);
	/* A tenant that did not touch the network is recycled: the check is
	 * not a false alarm. */
	sb = create_lang(ctx, "python");
	eo.code = "print(sum(range(10)))";
	r = API_EXEC(sb, &eo);
	CHECK_OUT(r, 1, "45\n");
	petri_result_free(r);
	petri_sandbox_destroy(sb);
	wait_settled(ctx, "python", 2);
	CHECK(stats(ctx, "python").recycled == 1);
	petri_ctx_free(ctx);
}

/* ---- teardown ---- */

static void check_nothing_left(int base_threads, int mounts)
{
	CHECK(api_children(getpid(), NULL, NULL, "left child") == 0);
	CHECK_MSG(api_count_cgroups_of(getpid()) == 0, "%d cgroups left",
		  api_count_cgroups_of(getpid()));
	CHECK_MSG(api_count_threads() == base_threads, "threads: %d, want %d", api_count_threads(),
		  base_threads);
	CHECK_MSG(petri_test_count_mounts() == mounts, "mounts: %d, want %d",
		  petri_test_count_mounts(), mounts);
}

static void test_free_full(void)
{
	int base = api_base_threads(), mounts = petri_test_count_mounts();
	petri_ctx *ctx = pool_ctx((const petri_warm[]){{"sh", 3, 0}, {NULL, 2, 0}}, 2, 0);
	wait_full(ctx);
	CHECK(api_count_cgroups_of(getpid()) > 0);
	petri_ctx_free(ctx);
	check_nothing_left(base, mounts);
}

static void test_free_recycling(void)
{
	int base = api_base_threads(), mounts = petri_test_count_mounts();
	petri_ctx *ctx = pool_ctx((const petri_warm[]){{"sh", 4, 0}}, 1, 0);
	wait_full(ctx);
	petri_sandbox *sb[4];
	for (int i = 0; i < 4; i++) {
		sb[i] = create_lang(ctx, "sh");
		free(sh(sb[i], "echo x > /tmp/x; sleep 0.01"));
	}
	for (int i = 0; i < 4; i++)
		petri_sandbox_destroy(sb[i]); /* queued for recycling */
	petri_ctx_free(ctx);                  /* while they are being reset */
	check_nothing_left(base, mounts);
}

/* Kill @pid and wait until it has exited (not reaped: the library's). */
static void kill_and_wait(int pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	REQUIRE(fd >= 0);
	REQUIRE(syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) == 0);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	REQUIRE(poll(&p, 1, 30000) == 1);
	close(fd);
}

/* A pooled init that dies while it waits is not handed out: the take (or
 * the refill thread's scan) finds it dead, and the pool is refilled. */
static void test_killed_init(void)
{
	petri_ctx *ctx = pool_ctx((const petri_warm[]){{"sh", 1, 0}}, 1, 0);
	wait_full(ctx);
	int init = 0;
	CHECK(api_children(getpid(), NULL, &init, NULL) == 1);
	REQUIRE(init > 0);
	kill_and_wait(init);
	/* The create does not get the dead one. */
	petri_sandbox *sb = create_lang(ctx, "sh");
	CHECK(petri_sandbox_init_pid(sb) != init);
	char *out = sh(sb, "echo alive");
	CHECK(strcmp(out, "alive\n") == 0);
	free(out);
	petri_sandbox_destroy(sb);
	wait_full(ctx);
	petri_pool_stats s = stats(ctx, "sh");
	CHECK_MSG(s.discarded == 1 && s.ready == 1, "discarded %llu ready %u",
		  (unsigned long long)s.discarded, s.ready);

	/* With no create at all: the refill thread's scan (once a second). */
	CHECK(api_children(getpid(), NULL, &init, NULL) == 1);
	kill_and_wait(init);
	for (int i = 0; i < 200 && stats(ctx, "sh").discarded < 2; i++)
		usleep(50000);
	wait_full(ctx);
	s = stats(ctx, "sh");
	CHECK_MSG(s.discarded == 2 && s.ready == 1, "discarded %llu ready %u",
		  (unsigned long long)s.discarded, s.ready);
	petri_ctx_free(ctx);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(bad_options),
	PETRI_TEST_CASE(fill),
	PETRI_TEST_CASE(hits_misses),
	PETRI_TEST_CASE(bypass),
	PETRI_TEST_CASE(take_applies),
	PETRI_TEST_CASE(audit_at_take),
	PETRI_TEST_CASE(recycle),
	PETRI_TEST_CASE(no_recycle),
	PETRI_TEST_CASE(dirty_discarded),
	PETRI_TEST_CASE(used_network_discarded),
	PETRI_TEST_CASE(free_full),
	PETRI_TEST_CASE(free_recycling),
	PETRI_TEST_CASE(killed_init),
	PETRI_TEST_CASE(refill_under_load),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	api_watchdog(300);
	return petri_test_main(argc, argv, cases);
}
