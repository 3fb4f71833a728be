/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_audit_sandbox_fields.c - the library's own events carry real values,
 * checked field by field against what the API reports:
 *
 *  - SandboxCreated: language, cgroup id, init pid, host uid, network mode
 *    ("none" with its own netns, "host" when shared), memory and pids limits
 *    (given, and the defaults 512 MiB / 256).
 *  - LimitHit, one exec per limit, each with the limit configured (value)
 *    and the usage the result reports (observed): timeout (ms, wall), cpu
 *    (ms), output (capture cap and kill cap, bytes), file_size (bytes), pids
 *    and memory; none for an exec that hits no limit.
 * Each is a case with a sandbox and a stream of its own.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "petri/audit.h"
#include "petri/audit/v1/audit.pb-c.h"
#include "petri_test.h"
#include "audit_stream.h"

typedef Petri__Audit__V1__Event Ev;

static char stream_path[] = "/tmp/petri-audit-fields-XXXXXX";

/* What one exec should have produced. */
struct want_hit {
	const char *limit;
	uint64_t value, observed;
	char exec_id[96];
};

static struct want_hit want[16];
static size_t nwant;

static petri_result *run(petri_sandbox *sb, petri_exec_opts *o)
{
	petri_result *res = NULL;
	petri_error *e = NULL;
	int r = petri_sandbox_exec(sb, o, &res, &e);

	CHECK_MSG(r == 0, "exec: %s", petri_error_message(e));
	petri_error_free(e);
	REQUIRE(res);
	return res;
}

static void expect(petri_sandbox *sb, int serial, const char *limit, uint64_t value,
		   uint64_t observed)
{
	REQUIRE(nwant < 16);
	want[nwant].limit = limit;
	want[nwant].value = value;
	want[nwant].observed = observed;
	snprintf(want[nwant].exec_id, sizeof(want[nwant].exec_id), "%s:%d", petri_sandbox_id(sb),
		 serial);
	nwant++;
}

struct created {
	char id[64];
	uint64_t cgroup_id;
	uint32_t init_pid, host_uid, pids;
	uint64_t memory;
	const char *language, *network;
};

static void check_created(Ev **ev, size_t n, const struct created *c)
{
	int found = 0;

	for (size_t i = 0; i < n; i++) {
		if (ev[i]->body_case != PETRI__AUDIT__V1__EVENT__BODY_SANDBOX_CREATED ||
		    strcmp(ev[i]->sandbox_id, c->id) != 0)
			continue;
		const Petri__Audit__V1__SandboxCreated *b = ev[i]->sandbox_created;

		found++;
		CHECK_MSG(strcmp(b->language, c->language) == 0, "language %s", b->language);
		CHECK(b->cgroup_id == c->cgroup_id && b->cgroup_id != 0);
		CHECK(b->init_pid_host == c->init_pid && b->init_pid_host > 0);
		CHECK_MSG(b->host_uid == c->host_uid, "host_uid %u want %u", b->host_uid,
			  c->host_uid);
		CHECK_MSG(strcmp(b->network, c->network) == 0, "network %s want %s", b->network,
			  c->network);
		CHECK_MSG(b->memory_limit_bytes == c->memory, "memory %llu want %llu",
			  (unsigned long long)b->memory_limit_bytes, (unsigned long long)c->memory);
		CHECK_MSG(b->pids_limit == c->pids, "pids %u want %u", b->pids_limit, c->pids);
	}
	CHECK_MSG(found == 1, "%d sandbox_created events for %s", found, c->id);
}

static void fill_created(struct created *c, petri_sandbox *sb, const char *language,
			 const char *network, uint64_t memory, uint32_t pids)
{
	snprintf(c->id, sizeof(c->id), "%s", petri_sandbox_id(sb));
	c->cgroup_id = petri_sandbox_cgroup_id(sb);
	c->init_pid = (uint32_t)petri_sandbox_init_pid(sb);
	c->host_uid = (uint32_t)petri_sandbox_host_uid(sb);
	c->language = language;
	c->network = network;
	/* Without a cgroup, nothing caps memory: the event says 0. */
	c->memory = petri_ctx_cgroup_mode(petri_test_ctx()) == PETRI_CGROUP_NONE ? 0 : memory;
	c->pids = pids;
}

/* The sandbox of a case, its stream, and what SandboxCreated should say. */
static petri_audit *audit;
static petri_sandbox *sb;
static struct created created;
static int serial;

static void begin(const petri_sandbox_opts *so, const char *network, uint64_t memory, uint32_t pids)
{
	petri_audit_opts ao = PETRI_AUDIT_OPTS_INIT;
	petri_error *e = NULL;
	int fd = mkstemp(stream_path);

	REQUIRE(fd >= 0);
	close(fd);
	ao.sink = PETRI_AUDIT_SINK_FILE;
	ao.path = stream_path;
	ao.queue_events = 1u << 16;
	REQUIRE(petri_audit_open(&audit, &ao, &e) == 0);
	if (petri_ctx_cgroup_mode(petri_test_ctx()) == PETRI_CGROUP_NONE) {
		unlink(stream_path);
		petri_test_skip("no cgroups: the pids and memory limits cannot be hit");
	}
	petri_sandbox_opts o = *so;
	o.audit = audit;
	int r = petri_sandbox_create(petri_test_ctx(), &o, &sb, &e);
	CHECK_MSG(r == 0, "create: %s", petri_error_message(e));
	petri_error_free(e);
	REQUIRE(r == 0);
	fill_created(&created, sb, o.language, network, memory, pids);
	serial = 0;
}

/* Python, 64 MiB, 32 pids, its own network; an exec that hits no limit
 * first (no LimitHit for it, and the limit's exec is the second). */
static void begin_python(void)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = "python";
	so.memory_bytes = 64u << 20;
	so.pids_max = 32;
	begin(&so, "none", 64u << 20, 32);
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	const char *argv[] = {"true", NULL};
	o.argv = argv;
	petri_result *res = run(sb, &o);
	serial++;
	CHECK(petri_result_reason(res) == PETRI_REASON_EXITED && petri_result_limits_hit(res) == 0);
	petri_result_free(res);
}

/* Destroy the sandbox, close the stream, and check it: SandboxCreated, and
 * the LimitHit events, in exec order, each with its values (none other). */
static void finish(void)
{
	petri_error *e = NULL;
	petri_sandbox_destroy(sb);
	CHECK(petri_audit_close(audit, &e) == 0);
	petri_error_free(e);

	struct audit_events es = audit_read_path(stream_path, 0);
	Ev **ev = es.ev;
	size_t n = es.n;
	check_created(ev, n, &created);

	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (ev[i]->body_case != PETRI__AUDIT__V1__EVENT__BODY_LIMIT_HIT)
			continue;
		const Petri__Audit__V1__LimitHit *h = ev[i]->limit_hit;

		if (k >= nwant) {
			CHECK_MSG(0, "unexpected limit_hit %s in %s", h->limit, ev[i]->exec_id);
			k++;
			continue;
		}
		const struct want_hit *w = &want[k++];
		CHECK_MSG(strcmp(ev[i]->exec_id, w->exec_id) == 0, "exec %s want %s",
			  ev[i]->exec_id, w->exec_id);
		CHECK_MSG(strcmp(h->limit, w->limit) == 0, "limit %s want %s", h->limit, w->limit);
		CHECK_MSG(h->value == w->value, "%s value %llu want %llu", w->limit,
			  (unsigned long long)h->value, (unsigned long long)w->value);
		CHECK_MSG(h->observed == w->observed, "%s observed %llu want %llu", w->limit,
			  (unsigned long long)h->observed, (unsigned long long)w->observed);
	}
	CHECK_MSG(k == nwant, "%zu limit_hit events, want %zu", k, nwant);

	audit_events_free(&es);
	if (getenv("PETRI_KAUDIT_KEEP"))
		printf("stream kept: %s\n", stream_path);
	else
		unlink(stream_path);
}

/* Given limits, its own network namespace. */
static void test_created_given_limits(void)
{
	begin_python();
	finish();
}

/* Defaults, the host's network. */
static void test_created_defaults(void)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = "sh";
	so.net = PETRI_NET_HOST;
	begin(&so, "host", 512u << 20, 256);
	finish();
}

/* Egress through the proxy: the mode is "proxy" (its namespace is its own,
 * as with "none", so the mode cannot be read from the namespace alone). */
static void test_created_proxy(void)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = "sh";
	so.net = PETRI_NET_PROXY;
	so.allow = (const char *const[]){"example.test", NULL};
	begin(&so, "proxy", 512u << 20, 256);
	finish();
}

/* timeout: 300 ms, observed the wall time */
static void test_limit_timeout(void)
{
	begin_python();
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	const char *argv[] = {"sleep", "5", NULL};
	o.argv = argv;
	o.timeout_ms = 300;
	petri_result *res = run(sb, &o);
	serial++;
	CHECK(petri_result_reason(res) == PETRI_REASON_TIMEOUT);
	expect(sb, serial, "timeout", 300, petri_result_wall_ns(res) / 1000000u);
	petri_result_free(res);
	finish();
}

/* output: a 1000-byte stdout cap, observed every byte written */
static void test_limit_stdout_cap(void)
{
	begin_python();
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.code = "print('x' * 4999)";
	o.stdout_max = 1000;
	petri_result *res = run(sb, &o);
	serial++;
	CHECK(petri_result_stdout_truncated(res) && petri_result_stdout_total(res) == 5000);
	expect(sb, serial, "output", 1000, 5000);
	petri_result_free(res);
	finish();
}

/* output: the stderr cap (default 1 MiB: the default applied) */
static void test_limit_stderr_cap(void)
{
	begin_python();
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.code = "import sys\nsys.stderr.write('y' * (1 << 20) + 'z' * 10)";
	petri_result *res = run(sb, &o);
	serial++;
	CHECK(petri_result_stderr_truncated(res));
	expect(sb, serial, "output", 1u << 20, petri_result_stderr_total(res));
	CHECK(petri_result_stderr_total(res) == (1u << 20) + 10);
	petri_result_free(res);
	finish();
}

/* output: the kill cap, observed both streams together */
static void test_limit_output_kill(void)
{
	begin_python();
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.code = "import sys\nwhile True: sys.stdout.write('x' * 4096)";
	o.stdout_max = 1024;
	o.output_kill_bytes = 65536;
	petri_result *res = run(sb, &o);
	serial++;
	CHECK(petri_result_reason(res) == PETRI_REASON_OUTPUT_LIMIT);
	expect(sb, serial, "output", 65536,
	       petri_result_stdout_total(res) + petri_result_stderr_total(res));
	CHECK(petri_result_stdout_total(res) > 65536);
	petri_result_free(res);
	finish();
}

/* cpu: 1000 ms, observed the exec's CPU time.  The wall timeout (20 s) is
 * out of reach: the CPU limit is what ends it.  The CPU time is only near
 * the limit: RLIMIT_CPU counts scheduler ticks, each charged whole to
 * whichever process runs at that moment, while the time reported is the
 * exact run time; on busy shared cores the ticks over-charge a busy loop
 * (SIGXCPU at 0.8 s of real CPU for a 1 s limit, seen under load without
 * any sandbox).  test_results_reasons checks the rlimit in force exactly. */
static void test_limit_cpu(void)
{
	begin_python();
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.code = "while True: pass";
	o.cpu_ms = 1000;
	o.timeout_ms = 20000;
	petri_result *res = run(sb, &o);
	serial++;
	CHECK_MSG(petri_result_reason(res) == PETRI_REASON_CPU, "reason %s",
		  petri_reason_name(petri_result_reason(res)));
	CHECK_MSG(petri_result_signal(res) == SIGXCPU, "signal %d", petri_result_signal(res));
	fprintf(stderr, "cpu limit 1000 ms: %llu ms of CPU, %llu ms of wall\n",
		(unsigned long long)(petri_result_cpu_ns(res) / 1000000u),
		(unsigned long long)(petri_result_wall_ns(res) / 1000000u));
	expect(sb, serial, "cpu", 1000, petri_result_cpu_ns(res) / 1000000u);
	CHECK_MSG(petri_result_cpu_ns(res) >= 500000000ull &&
			  petri_result_cpu_ns(res) < 5000000000ull,
		  "cpu limit 1000 ms, reported %llu ms",
		  (unsigned long long)(petri_result_cpu_ns(res) / 1000000u));
	petri_result_free(res);
	finish();
}

/* file_size: 4096 bytes (the size reached is not known: 0) */
static void test_limit_file_size(void)
{
	begin_python();
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	const char *argv[] = {"sh", "-c", "exec head -c 8192 /dev/zero > /tmp/big", NULL};
	o.argv = argv;
	o.file_size_max = 4096;
	petri_result *res = run(sb, &o);
	serial++;
	CHECK_MSG(petri_result_reason(res) == PETRI_REASON_FILE_SIZE, "reason %s",
		  petri_reason_name(petri_result_reason(res)));
	expect(sb, serial, "file_size", 4096, 0);
	petri_result_free(res);
	finish();
}

/* pids: the sandbox's 32 */
static void test_limit_pids(void)
{
	begin_python();
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	const char *argv[] = {"sh", "-c", "for i in $(seq 64); do sleep 1 & done; wait", NULL};
	o.argv = argv;
	petri_result *res = run(sb, &o);
	serial++;
	CHECK(petri_result_limits_hit(res) & PETRI_LIMIT_PIDS);
	expect(sb, serial, "pids", 32, 32);
	petri_result_free(res);
	finish();
}

/* memory: the sandbox's 64 MiB, observed the peak */
static void test_limit_memory(void)
{
	begin_python();
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.code = "b = []\nwhile True: b.append(bytearray(1 << 20))";
	o.timeout_ms = 20000;
	petri_result *res = run(sb, &o);
	serial++;
	CHECK_MSG(petri_result_reason(res) == PETRI_REASON_MEMORY, "reason %s",
		  petri_reason_name(petri_result_reason(res)));
	uint64_t peak = petri_result_peak_memory_bytes(res);
	CHECK_MSG(peak > (32u << 20) && peak <= (64u << 20), "peak %llu", (unsigned long long)peak);
	expect(sb, serial, "memory", 64u << 20, peak);
	petri_result_free(res);
	finish();
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(created_given_limits), PETRI_TEST_CASE(created_defaults),
	PETRI_TEST_CASE(created_proxy),        PETRI_TEST_CASE(limit_timeout),
	PETRI_TEST_CASE(limit_stdout_cap),     PETRI_TEST_CASE(limit_stderr_cap),
	PETRI_TEST_CASE(limit_output_kill),    PETRI_TEST_CASE(limit_cpu),
	PETRI_TEST_CASE(limit_file_size),      PETRI_TEST_CASE(limit_pids),
	PETRI_TEST_CASE(limit_memory),         {NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
