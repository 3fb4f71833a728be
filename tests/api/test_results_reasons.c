/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_results_reasons - every way an exec can end is reported with the
 * right reason, exit code / signal and limits_hit bits (DESIGN.md "Limits
 * and results"): exited (0 and 3), signaled (SIGTERM and SIGKILL raised by
 * the program itself), timeout (and close to the limit), cpu, memory (and
 * the sandbox survives it), pids (fork and threads), output capture cap
 * (truncated, exactly the cap captured, the total counted, still "exited"),
 * output_limit (kill), file_size; and a call the seccomp filter denies with
 * EPERM is not a reason at all: the program goes on and exits normally.
 * Also the numbers: CPU time, wall time and peak memory (per exec) are
 * reported and plausible.
 */
#include <signal.h>

#include "api_common.h"

#define REASON_IS(r, want)                                                                         \
	CHECK_MSG(petri_result_reason(r) == (want), "reason %s, want %s (exit %d, signal %d)",     \
		  petri_reason_name(petri_result_reason(r)), petri_reason_name(want),              \
		  petri_result_exit_code(r), petri_result_signal(r))

static petri_result *run_code(petri_sandbox *sb, const char *lang, const char *code,
			      petri_exec_opts *o, int line)
{
	petri_exec_opts def = PETRI_EXEC_OPTS_INIT;
	if (!o)
		o = &def;
	o->code = code;
	o->language = lang;
	if (!o->timeout_ms)
		o->timeout_ms = 30000;
	return api_exec_ok(sb, o, line);
}
#define RUN_PY(sb, code, o) run_code((sb), "python", (code), (o), __LINE__)

static void test_exit_and_signals(void)
{
	petri_sandbox *sb = api_sandbox(NULL);
	petri_result *r = API_SH(sb, "exit 0");
	REASON_IS(r, PETRI_REASON_EXITED);
	CHECK(petri_result_exit_code(r) == 0 && petri_result_signal(r) == 0);
	CHECK(petri_result_limits_hit(r) == 0);
	petri_result_free(r);

	r = API_SH(sb, "exit 3");
	REASON_IS(r, PETRI_REASON_EXITED);
	CHECK(petri_result_exit_code(r) == 3 && petri_result_signal(r) == 0);
	CHECK(petri_result_limits_hit(r) == 0);
	petri_result_free(r);

	r = API_SH(sb, "kill -TERM $$");
	REASON_IS(r, PETRI_REASON_SIGNALED);
	CHECK_MSG(petri_result_signal(r) == SIGTERM, "signal %d", petri_result_signal(r));
	CHECK(petri_result_exit_code(r) == -1);
	CHECK(petri_result_limits_hit(r) == 0);
	petri_result_free(r);

	/* A SIGKILL the program sends itself is neither memory nor cpu. */
	r = API_SH(sb, "kill -KILL $$");
	REASON_IS(r, PETRI_REASON_SIGNALED);
	CHECK(petri_result_signal(r) == SIGKILL && petri_result_exit_code(r) == -1);
	CHECK(petri_result_limits_hit(r) == 0);
	petri_result_free(r);
	petri_sandbox_destroy(sb);
}

static void test_timeout(void)
{
	petri_sandbox *sb = api_sandbox(NULL);
	petri_result *r =
		api_run_argv(sb, (const char *const[]){"sleep", "30", NULL}, 500, __LINE__);
	REASON_IS(r, PETRI_REASON_TIMEOUT);
	CHECK(petri_result_limits_hit(r) & PETRI_LIMIT_TIMEOUT);
	double wall = (double)petri_result_wall_ns(r) / 1e9;
	CHECK_MSG(wall >= 0.5 && wall < 3.0, "timeout 500 ms took %.3f s", wall);
	CHECK(petri_result_exit_code(r) == -1 && petri_result_signal(r) != 0);
	petri_result_free(r);

	/* Children of the exec die with it: a background sleeper does not
	 * hold the exec open past its timeout. */
	r = api_run_argv(sb, (const char *const[]){"/bin/sh", "-c", "sleep 30 & sleep 30", NULL},
			 300, __LINE__);
	REASON_IS(r, PETRI_REASON_TIMEOUT);
	wall = (double)petri_result_wall_ns(r) / 1e9;
	CHECK_MSG(wall < 3.0, "timeout 300 ms with a background child took %.3f s", wall);
	petri_result_free(r);

	/* A killed exec still reports the CPU it used (its rusage dies with
	 * it; the sandbox cgroup's counter does not).  The program itself says
	 * when it has used 0.3 s (its own exact CPU clock), then waits for the
	 * kill: how much CPU a busy loop gets before a wall timeout depends on
	 * how busy the machine is, this does not. */
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.timeout_ms = 4000;
	r = RUN_PY(sb,
		   "import time\n"
		   "while time.process_time() < 0.3:\n"
		   "    pass\n"
		   "print('burned', flush=True)\n"
		   "time.sleep(60)\n",
		   &o);
	REASON_IS(r, PETRI_REASON_TIMEOUT);
	REQUIRE(api_out_is(r, PETRI_STREAM_STDOUT, "burned\n"));
	double cpu = (double)petri_result_cpu_ns(r) / 1e9;
	CHECK_MSG(cpu >= 0.3, "an exec killed after 0.3 s of CPU reports %.3f s", cpu);
	petri_result_free(r);
	petri_sandbox_destroy(sb);
}

/* The CPU time reported is only near the limit: RLIMIT_CPU counts scheduler
 * ticks, each charged whole to whichever process runs at that moment, while
 * the time reported is the exact run time.  On busy shared cores the ticks
 * over-charge a busy loop (SIGXCPU at 0.8 s of real CPU for a 1 s limit,
 * seen here under load without any sandbox).  So the limit in force is
 * checked exactly where the kernel shows it, /proc/self/limits in the exec
 * (soft: cpu_ms rounded up to seconds; hard: one more), and then three
 * runs: attributing the end to the CPU limit must not depend on luck. */
static void test_cpu(void)
{
	petri_sandbox *sb = api_sandbox(NULL);
	static const struct {
		uint64_t cpu_ms;
		const char *line;
	} in_force[] = {
		{1000,
		 "Max cpu time              1                    2                    seconds"},
		{1200,
		 "Max cpu time              2                    3                    seconds"},
	};
	for (size_t i = 0; i < sizeof(in_force) / sizeof(in_force[0]); i++) {
		petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
		const char *argv[] = {"grep", "^Max cpu time", "/proc/self/limits", NULL};
		o.argv = argv;
		o.cpu_ms = in_force[i].cpu_ms;
		petri_result *r = API_EXEC(sb, &o);
		REASON_IS(r, PETRI_REASON_EXITED);
		const char *out = petri_result_stdout(r, NULL);
		CHECK_MSG(strncmp(out, in_force[i].line, strlen(in_force[i].line)) == 0,
			  "cpu_ms %llu: %s", (unsigned long long)in_force[i].cpu_ms, out);
		petri_result_free(r);
	}
	for (int i = 0; i < 3; i++) {
		petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
		o.cpu_ms = 1000;
		o.timeout_ms = 20000;
		double t0 = api_now_s();
		petri_result *r = RUN_PY(sb, "while True:\n    pass\n", &o);
		double dt = api_now_s() - t0;
		double cpu = (double)petri_result_cpu_ns(r) / 1e9;
		fprintf(stderr, "cpu run %d: %.3f s of CPU, %.3f s of wall, signal %d, reason %s\n",
			i, cpu, dt, petri_result_signal(r),
			petri_reason_name(petri_result_reason(r)));
		REASON_IS(r, PETRI_REASON_CPU);
		CHECK(petri_result_limits_hit(r) & PETRI_LIMIT_CPU);
		CHECK(!(petri_result_limits_hit(r) & PETRI_LIMIT_TIMEOUT));
		CHECK_MSG(cpu >= 0.5 && cpu < 5.0, "cpu time %.2f s for a 1 s CPU limit", cpu);
		CHECK_MSG(dt < 10.0, "cpu-limited exec took %.1f s of wall time", dt);
		CHECK_MSG(petri_result_signal(r) == SIGXCPU, "signal %d", petri_result_signal(r));
		petri_result_free(r);
	}
	petri_sandbox_destroy(sb);
}

/* The memory and pids reasons need the cgroup controllers. */
static void need_cgroups(const char *what)
{
	if (petri_ctx_cgroup_mode(petri_test_ctx()) == PETRI_CGROUP_NONE)
		petri_test_skip(what);
}

static void test_memory(void)
{
	need_cgroups("no cgroup memory controller: the memory reason is untested");
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.memory_bytes = 64ull << 20;
	petri_sandbox *sb = api_sandbox(&so);
	/* 10 MiB of touched pages at a time, up to 500 MiB. */
	petri_result *r = RUN_PY(sb,
				 "chunks = []\n"
				 "for i in range(50):\n"
				 "    chunks.append(b'x' * (10 << 20))\n"
				 "print('allocated 500 MiB in a 64 MiB sandbox')\n",
				 NULL);
	REASON_IS(r, PETRI_REASON_MEMORY);
	CHECK(petri_result_limits_hit(r) & PETRI_LIMIT_MEMORY);
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "");
	CHECK(petri_result_exit_code(r) != 0);
	uint64_t peak = petri_result_peak_memory_bytes(r);
	fprintf(stderr, "memory: peak %llu bytes, signal %d\n", (unsigned long long)peak,
		petri_result_signal(r));
	CHECK_MSG(peak <= (80ull << 20), "peak memory %llu above a 64 MiB limit",
		  (unsigned long long)peak);
	petri_result_free(r);

	/* The OOM kill took the exec, not the sandbox. */
	r = API_SH(sb, "echo still here");
	REASON_IS(r, PETRI_REASON_EXITED);
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "still here\n");
	CHECK(!(petri_result_limits_hit(r) & PETRI_LIMIT_MEMORY));
	petri_result_free(r);
	petri_sandbox_destroy(sb);
}

static void test_pids(void)
{
	need_cgroups("no cgroup pids controller: the pids reason is untested");
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.pids_max = 16;
	petri_sandbox *sb = api_sandbox(&so);
	petri_result *r = RUN_PY(sb,
				 "import os, time\n"
				 "for i in range(100):\n"
				 "    if os.fork() == 0:\n"
				 "        time.sleep(10)\n"
				 "        os._exit(0)\n"
				 "print('forked 100')\n",
				 NULL);
	REASON_IS(r, PETRI_REASON_PIDS);
	CHECK(petri_result_limits_hit(r) & PETRI_LIMIT_PIDS);
	CHECK(petri_result_exit_code(r) != 0);
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "");
	petri_result_free(r);

	r = RUN_PY(sb,
		   "import threading, time\n"
		   "ts = [threading.Thread(target=time.sleep, args=(10,), daemon=True) for i in "
		   "range(100)]\n"
		   "for t in ts:\n"
		   "    t.start()\n"
		   "print('started 100 threads')\n",
		   NULL);
	REASON_IS(r, PETRI_REASON_PIDS);
	CHECK(petri_result_limits_hit(r) & PETRI_LIMIT_PIDS);
	CHECK(petri_result_exit_code(r) != 0);
	petri_result_free(r);

	/* Below the limit nothing is flagged. */
	r = RUN_PY(sb,
		   "import os\n"
		   "pids = [os.fork() for _ in range(1)]\n"
		   "if pids[0] == 0:\n"
		   "    os._exit(0)\n"
		   "os.waitpid(pids[0], 0)\n"
		   "print('ok')\n",
		   NULL);
	REASON_IS(r, PETRI_REASON_EXITED);
	CHECK(!(petri_result_limits_hit(r) & PETRI_LIMIT_PIDS));
	petri_result_free(r);
	petri_sandbox_destroy(sb);
}

static void test_output_caps(void)
{
	petri_sandbox *sb = api_sandbox(NULL);
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.stdout_max = 1000;
	o.stderr_max = 10;
	petri_result *r = RUN_PY(sb,
				 "import sys\n"
				 "sys.stdout.write('x' * 100000)\n"
				 "sys.stderr.write('e' * 50)\n",
				 &o);
	REASON_IS(r, PETRI_REASON_EXITED);
	CHECK(petri_result_exit_code(r) == 0);
	size_t len = 0;
	const char *out = petri_result_stdout(r, &len);
	CHECK_MSG(len == 1000, "captured %zu bytes with stdout_max 1000", len);
	int all_x = 1;
	for (size_t i = 0; i < len; i++)
		all_x &= out[i] == 'x';
	CHECK(all_x);
	CHECK(petri_result_stdout_truncated(r));
	CHECK(petri_result_stdout_total(r) == 100000);
	CHECK_OUT(r, PETRI_STREAM_STDERR, "eeeeeeeeee");
	CHECK(petri_result_stderr_truncated(r));
	CHECK(petri_result_stderr_total(r) == 50);
	CHECK(petri_result_limits_hit(r) & PETRI_LIMIT_OUTPUT);
	petri_result_free(r);

	/* At the cap exactly: nothing dropped, nothing flagged. */
	o = (petri_exec_opts)PETRI_EXEC_OPTS_INIT;
	o.stdout_max = 1000;
	r = RUN_PY(sb, "import sys\nsys.stdout.write('y' * 1000)\n", &o);
	CHECK(!petri_result_stdout_truncated(r));
	CHECK(!(petri_result_limits_hit(r) & PETRI_LIMIT_OUTPUT));
	petri_result_free(r);

	/* output_kill_bytes: `yes` is stopped soon after 1 MiB.  Once the kill is
	 * decided the pump stops reading until the reaper reports, so what yes
	 * writes while the kill travels is at most a pipe (64 KiB), however
	 * slow the kill: well under 2 MiB in all. */
	o = (petri_exec_opts)PETRI_EXEC_OPTS_INIT;
	o.argv = (const char *const[]){"yes", NULL};
	o.output_kill_bytes = 1ull << 20;
	o.timeout_ms = 30000;
	double t0 = api_now_s();
	r = API_EXEC(sb, &o);
	double dt = api_now_s() - t0;
	REASON_IS(r, PETRI_REASON_OUTPUT_LIMIT);
	uint64_t total = petri_result_stdout_total(r);
	CHECK_MSG(total > (1ull << 20) && total < (2ull << 20), "yes wrote %llu bytes",
		  (unsigned long long)total);
	CHECK_MSG(dt < 10.0, "output kill took %.1f s", dt);
	CHECK(petri_result_exit_code(r) == -1 && petri_result_signal(r) != 0);
	CHECK(petri_result_limits_hit(r) & PETRI_LIMIT_OUTPUT);
	petri_result_free(r);
	petri_sandbox_destroy(sb);
}

static void test_file_size(void)
{
	petri_sandbox *sb = api_sandbox(NULL);
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.argv = (const char *const[]){"dd",    "if=/dev/zero", "of=/workspace/big",
				       "bs=1M", "count=10",     NULL};
	o.file_size_max = 1ull << 20;
	o.timeout_ms = 30000;
	petri_result *r = API_EXEC(sb, &o);
	REASON_IS(r, PETRI_REASON_FILE_SIZE);
	CHECK(petri_result_limits_hit(r) & PETRI_LIMIT_FILE_SIZE);
	CHECK_MSG(petri_result_signal(r) == SIGXFSZ, "signal %d", petri_result_signal(r));
	petri_result_free(r);
	r = API_SH(sb, "stat -c %s /workspace/big");
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "1048576\n");
	petri_result_free(r);
	petri_sandbox_destroy(sb);
}

/* A program that sends itself SIGXCPU has not hit the CPU limit: the
 * result says it was signalled (it once read "cpu", limits_hit CPU, after
 * a millisecond of CPU time). */
static void test_forged_cpu_signal(void)
{
	petri_sandbox *sb = api_sandbox(NULL);
	petri_result *r = API_SH(sb, "kill -XCPU $$");
	REASON_IS(r, PETRI_REASON_SIGNALED);
	CHECK(!(petri_result_limits_hit(r) & PETRI_LIMIT_CPU));
	CHECK_MSG(petri_result_signal(r) == SIGXCPU, "signal %d", petri_result_signal(r));
	petri_result_free(r);
	petri_sandbox_destroy(sb);
}

/* The numbers of a result: CPU time, wall time and peak memory. */
static void test_usage(void)
{
	petri_sandbox *sb = api_sandbox(NULL);
	petri_result *r = RUN_PY(sb,
				 "import time\n"
				 "b = bytearray(100 << 20)\n"
				 "for i in range(0, len(b), 4096):\n"
				 "    b[i] = 1\n"
				 "t = time.process_time()\n"
				 "while time.process_time() - t < 0.3:\n"
				 "    pass\n"
				 "time.sleep(0.2)\n",
				 NULL);
	REASON_IS(r, PETRI_REASON_EXITED);
	double cpu = (double)petri_result_cpu_ns(r) / 1e9;
	double wall = (double)petri_result_wall_ns(r) / 1e9;
	uint64_t peak = petri_result_peak_memory_bytes(r);
	fprintf(stderr, "usage: cpu %.3f s, wall %.3f s, peak %llu bytes\n", cpu, wall,
		(unsigned long long)peak);
	CHECK_MSG(cpu >= 0.3 && cpu < 5.0, "cpu %.3f s for >= 0.3 s of work", cpu);
	CHECK_MSG(wall >= 0.5 && wall < 10.0, "wall %.3f s for 0.3 s of work + 0.2 s of sleep",
		  wall);
	CHECK_MSG(peak >= (100ull << 20) && peak < (400ull << 20),
		  "peak memory %llu for 100 MiB touched", (unsigned long long)peak);
	petri_result_free(r);

	/* The peak is per exec, not the sandbox's high-water mark so far. */
	r = API_SH(sb, "true");
	peak = petri_result_peak_memory_bytes(r);
	CHECK_MSG(peak < (50ull << 20), "peak memory of `true` after a 100 MiB exec: %llu",
		  (unsigned long long)peak);
	petri_result_free(r);
	petri_sandbox_destroy(sb);
}

static void test_seccomp_eperm_is_not_a_reason(void)
{
	petri_sandbox *sb = api_sandbox(NULL);
	/* bpf(2), userfaultfd(2), io_uring_setup(2), keyctl(2), unshare(CLONE_NEWUSER):
	 * the profile denies them with EPERM; the program sees the error and goes on. */
	petri_result *r = RUN_PY(sb,
				 "import ctypes, os\n"
				 "libc = ctypes.CDLL(None, use_errno=True)\n"
				 "res = []\n"
				 "for nr, args in ((321, (0, 0, 0)), (323, (0,)), (425, (1, 0)),\n"
				 "                 (250, (0, 0)), (272, (0x10000000,))):\n"
				 "    rc = libc.syscall(nr, *args)\n"
				 "    res.append('%d:%d:%d' % (nr, rc, ctypes.get_errno()))\n"
				 "print(' '.join(res))\n"
				 "print('alive')\n",
				 NULL);
	REASON_IS(r, PETRI_REASON_EXITED);
	CHECK(petri_result_exit_code(r) == 0 && petri_result_signal(r) == 0);
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "321:-1:1 323:-1:1 425:-1:1 250:-1:1 272:-1:1\nalive\n");
	petri_result_free(r);
	petri_sandbox_destroy(sb);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(exit_and_signals),
	PETRI_TEST_CASE(timeout),
	PETRI_TEST_CASE(cpu),
	PETRI_TEST_CASE(forged_cpu_signal),
	PETRI_TEST_CASE(output_caps),
	PETRI_TEST_CASE(file_size),
	PETRI_TEST_CASE(seccomp_eperm_is_not_a_reason),
	PETRI_TEST_CASE(usage),
	PETRI_TEST_CASE(memory),
	PETRI_TEST_CASE(pids),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
