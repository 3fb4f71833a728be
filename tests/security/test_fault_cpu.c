/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fault_cpu.c - CPU a sandbox can take from the host (issue 11,
 * finding 8).
 *
 * Denials: every syscall the seccomp profile denies is reported to the host,
 * which audits it.  That work runs in the host process, outside the
 * sandbox's cgroup, so it must cost little and a bounded amount per denial:
 * a flood of denials from many threads once made the host search /proc for
 * every one (75 us of host CPU per denial, 1.7 ms per audited one, with the
 * host pid still wrong for threads).  These cases check the host's CPU per
 * denial, that each denial names the right host pid, and that every denial
 * is an event or counted in a Loss.
 *
 * CPU limit: petri_sandbox_opts.cpus_milli (`petri run --cpus N`) caps the
 * CPU time a sandbox's processes together get per wall second.  Timing
 * checks here are one-sided (a loaded machine only gives the sandbox less),
 * so they cannot fail because other work shares the machine.
 *
 * The load is attacks/cpu_hog.c, a static binary copied into /workspace.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "petri/audit.h"
#include "sec_util.h"

/* ---- the audit stream, watched live through a callback sink ---- */

struct watch {
	pthread_mutex_t lock;
	int check_pids;   /* look each denial's host pid up while it lives */
	uint64_t denials; /* PolicyDenial events */
	uint64_t lost;    /* counted in Loss records of kind policy_denial */
	uint64_t checked; /* host pids looked at */
	uint64_t right;   /* ... whose NSpid ends with the pid inside */
	uint64_t wrong;   /* ... that name another task */
	uint64_t zero;    /* denials without a host pid */
	char first_wrong[256];
};

/* The last pid of /proc/@pid/status's NSpid line and how many it has. */
static long nspid_last(long pid, int *levels)
{
	char path[64], line[512];
	long last = -1;
	*levels = 0;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "NSpid:", 6) != 0)
			continue;
		char *save = NULL;
		for (char *t = strtok_r(line + 6, " \t\n", &save); t;
		     t = strtok_r(NULL, " \t\n", &save)) {
			last = atol(t);
			(*levels)++;
		}
		break;
	}
	fclose(f);
	return last;
}

static long json_number_after(const char *json, const char *key)
{
	const char *p = strstr(json, key);
	return p ? atol(p + strlen(key)) : -1;
}

/* One framed event: decode it alone (no chain to check) and count it. */
static int watch_sink(const void *data, size_t len, void *userdata)
{
	struct watch *w = userdata;
	petri_audit_reader_opts ro = PETRI_AUDIT_READER_OPTS_INIT;
	petri_audit_reader *r = NULL;
	char *json = NULL;

	ro.source = PETRI_AUDIT_SRC_MEMORY;
	ro.flags = PETRI_AUDIT_READER_F_NO_VERIFY;
	ro.data = data;
	ro.data_len = len;
	if (petri_audit_reader_open(&r, &ro, NULL) < 0)
		return 0;
	int kind = petri_audit_reader_next(r, NULL) == 1 ? petri_audit_reader_kind(r) : 0;
	if ((kind == PETRI_AUDIT_KIND_POLICY_DENIAL || kind == PETRI_AUDIT_KIND_LOSS) &&
	    petri_audit_reader_format(r, PETRI_AUDIT_FORMAT_JSON, &json, NULL) == 0) {
		pthread_mutex_lock(&w->lock);
		if (kind == PETRI_AUDIT_KIND_LOSS) {
			long n = json_number_after(
				json, "\"loss\":{\"kind\":\"policy_denial\",\"count\":");
			if (n > 0)
				w->lost += (uint64_t)n;
		} else {
			long inside = json_number_after(json, "\"pid_inside\":");
			long host = json_number_after(json, "\"pid_host\":");
			w->denials++;
			if (host <= 0)
				w->zero++;
			else if (w->check_pids && w->checked < 3000) {
				int levels;
				long seen = nspid_last(host, &levels);
				w->checked++;
				/* host, sandbox, exec: the denier is 3 levels deep. */
				if (seen == inside && levels == 3) {
					w->right++;
				} else {
					if (!w->wrong)
						snprintf(
							w->first_wrong, sizeof(w->first_wrong),
							"pid_host %ld: NSpid ends %ld (%d levels), "
							"pid_inside %ld",
							host, seen, levels, inside);
					w->wrong++;
				}
			}
		}
		pthread_mutex_unlock(&w->lock);
		petri_free(json);
	}
	petri_audit_reader_close(r);
	return 0;
}

/* A sink that takes each event and does nothing with it: what the host
 * then spends is the library's own work. */
static int null_sink(const void *data, size_t len, void *userdata)
{
	(void)data;
	(void)len;
	(void)userdata;
	return 0;
}

/* @w NULL: a null sink. */
static petri_audit *open_watch(struct watch *w)
{
	petri_audit_opts ao = PETRI_AUDIT_OPTS_INIT;
	petri_audit *a = NULL;
	petri_error *e = NULL;
	ao.sink = PETRI_AUDIT_SINK_CALLBACK;
	ao.sink_fn = w ? watch_sink : null_sink;
	ao.sink_userdata = w;
	int r = petri_audit_open(&a, &ao, &e);
	CHECK_MSG(r == 0, "petri_audit_open: %s", petri_error_message(e));
	petri_error_free(e);
	REQUIRE(r == 0);
	return a;
}

static double cpu_seconds_self(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

/* Run /workspace/cpu_hog with @args in @sb; the result (REQUIREd). */
static petri_result *run_hog(petri_sandbox *sb, const char *const *args, uint64_t timeout_ms)
{
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	petri_result *res = NULL;
	petri_error *e = NULL;
	o.argv = args;
	o.timeout_ms = timeout_ms;
	int r = petri_sandbox_exec(sb, &o, &res, &e);
	CHECK_MSG(r == 0, "exec cpu_hog %s: %s", args[1], petri_error_message(e));
	petri_error_free(e);
	REQUIRE(r == 0 && res);
	return res;
}

/* A sandbox for the denial floods: room for 20 x 3 tasks. */
static petri_sandbox *flood_sandbox(petri_audit *a)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.audit = a;
	so.pids_max = 512;
	petri_sandbox *sb = sec_sandbox(&so);
	sec_install_binary(sb, SEC_CPU_HOG_BIN, "cpu_hog");
	return sb;
}

/*
 * Each denial's host pid is the denying task's own (threads included: their
 * tids were never found before), checked while the tasks still live; and
 * every denial is in the stream, as an event or in a Loss.
 */
static void test_denial_host_pid(void)
{
	struct watch w = {.lock = PTHREAD_MUTEX_INITIALIZER, .check_pids = 1};
	petri_audit *a = open_watch(&w);
	petri_sandbox *sb = flood_sandbox(a);
	/* 8 processes x 3 threads deny for 0.8 s, then linger 3 s. */
	const char *args[] = {"/workspace/cpu_hog", "deny", "8", "3", "800", "3000", NULL};
	petri_result *res = run_hog(sb, args, 30000);
	uint64_t denials = petri_result_seccomp_denials(res);
	CHECK(petri_result_reason(res) == PETRI_REASON_EXITED && petri_result_exit_code(res) == 0);
	petri_result_free(res);
	petri_sandbox_destroy(sb);
	REQUIRE(petri_audit_close(a, NULL) == 0);

	fprintf(stderr,
		"denials %llu: %llu events + %llu lost; host pids checked %llu, right %llu, "
		"wrong %llu, missing %llu\n",
		(unsigned long long)denials, (unsigned long long)w.denials,
		(unsigned long long)w.lost, (unsigned long long)w.checked,
		(unsigned long long)w.right, (unsigned long long)w.wrong,
		(unsigned long long)w.zero);
	CHECK(denials >= 100);
	CHECK_MSG(w.denials + w.lost == denials, "events %llu + lost %llu != denials %llu",
		  (unsigned long long)w.denials, (unsigned long long)w.lost,
		  (unsigned long long)denials);
	CHECK_MSG(w.zero == 0, "%llu denials without a host pid", (unsigned long long)w.zero);
	CHECK_MSG(w.wrong == 0, "%llu wrong host pids, first: %s", (unsigned long long)w.wrong,
		  w.first_wrong);
	CHECK(w.checked >= 100 && w.right == w.checked);
}

/*
 * The host's own CPU (all of this process's threads: the exec's pump, the
 * audit writer with a sink that does nothing, the supervisor; not the
 * sandbox) per denial stays small during a flood from 20 processes x 3
 * threads.  Before the fix it was
 * ~75 us per denial with 60 x 3 tasks; now ~9 us on the 2-core development
 * machine (under load), so 40 us leaves room for sanitizers and slow hosts.
 */
static void test_denial_flood_host_cpu(void)
{
	petri_audit *a = open_watch(NULL);
	petri_sandbox *sb = flood_sandbox(a);
	const char *args[] = {"/workspace/cpu_hog", "deny", "20", "3", "1500", "0", NULL};
	double t0 = cpu_seconds_self();
	petri_result *res = run_hog(sb, args, 30000);
	double host_s = cpu_seconds_self() - t0;
	uint64_t denials = petri_result_seccomp_denials(res);
	double sandbox_s = (double)petri_result_cpu_ns(res) / 1e9;
	petri_result_free(res);
	petri_sandbox_destroy(sb);
	REQUIRE(petri_audit_close(a, NULL) == 0);

	double us = denials ? host_s * 1e6 / (double)denials : 0;
	fprintf(stderr,
		"denial flood: %llu denials, host CPU %.3f s = %.1f us per denial; sandbox CPU "
		"%.3f s\n",
		(unsigned long long)denials, host_s, us, sandbox_s);
	CHECK_MSG(denials >= 1000, "only %llu denials", (unsigned long long)denials);
	CHECK_MSG(us < 40.0, "host CPU per denial %.1f us (limit 40)", us);
}

/* ---- the CPU limit ---- */

/* Our sandboxes' cgroup directories are named petri-<our pid>-<serial>. */
static int ours(const char *name)
{
	char prefix[32];
	snprintf(prefix, sizeof(prefix), "petri-%d-", (int)getpid());
	return strncmp(name, prefix, strlen(prefix)) == 0;
}

/* Count our cgroup directories below @dir; the first one holding @file
 * (NULL: any) goes to @found. */
static int walk_ours(const char *dir, int depth, const char *file, char *found, size_t len)
{
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char p[4096];
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (ours(e->d_name)) {
			char f[4200];
			n++;
			snprintf(f, sizeof(f), "%s/%s", p, file ? file : "");
			if (found && !found[0] && file && access(f, R_OK) == 0)
				snprintf(found, len, "%s", f);
		} else if (depth < 6) {
			n += walk_ours(p, depth + 1, file, found, len);
		}
	}
	closedir(d);
	return n;
}

/* The content of our sandbox's cgroup file @file (first line), or "" when
 * none of our cgroups has one. */
static void read_own_cgroup_file(const char *file, char *buf, size_t len)
{
	char path[4096] = "";
	buf[0] = '\0';
	walk_ours("/sys/fs/cgroup", 0, file, path, sizeof(path));
	FILE *f = path[0] ? fopen(path, "re") : NULL;
	if (f) {
		if (!fgets(buf, (int)len, f))
			buf[0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
}

/* The quota the kernel holds for our one sandbox: "QUOTA PERIOD" from
 * cpu.max (v2) or from cpu.cfs_quota_us / cpu.cfs_period_us (v1); "" when
 * there is no cpu cgroup of ours. */
static void own_cpu_quota(char *buf, size_t len)
{
	char q[64], p[64];
	read_own_cgroup_file("cpu.max", buf, len);
	if (buf[0])
		return;
	read_own_cgroup_file("cpu.cfs_quota_us", q, sizeof(q));
	read_own_cgroup_file("cpu.cfs_period_us", p, sizeof(p));
	if (q[0])
		snprintf(buf, len, "%s %s", q, p);
}

struct spin {
	double wall_s, cpu_s;
	char quota[64];
};

/* Two threads spin for 2 s of wall time in a sandbox with @cpus_milli. */
static struct spin spin_two(uint32_t cpus_milli)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	struct spin s = {0};
	so.cpus_milli = cpus_milli;
	petri_sandbox *sb = sec_sandbox(&so);
	sec_install_binary(sb, SEC_CPU_HOG_BIN, "cpu_hog");
	own_cpu_quota(s.quota, sizeof(s.quota));
	const char *args[] = {"/workspace/cpu_hog", "spin", "2", "2000", NULL};
	petri_result *res = run_hog(sb, args, 30000);
	CHECK(petri_result_reason(res) == PETRI_REASON_EXITED && petri_result_exit_code(res) == 0);
	s.wall_s = (double)petri_result_wall_ns(res) / 1e9;
	s.cpu_s = (double)petri_result_cpu_ns(res) / 1e9;
	petri_result_free(res);
	petri_sandbox_destroy(sb);
	fprintf(stderr,
		"cpus %u.%03u: 2 busy threads, wall %.2f s, CPU %.2f s (%.2f CPUs); quota '%s'\n",
		cpus_milli / 1000, cpus_milli % 1000, s.wall_s, s.cpu_s,
		s.wall_s > 0 ? s.cpu_s / s.wall_s : 0.0, s.quota);
	return s;
}

/* Half a CPU: about 1 s of CPU in 2 s, never much more. */
static void test_cpus_half(void)
{
	struct spin s = spin_two(500);
	CHECK_MSG(strcmp(s.quota, "50000 100000") == 0, "quota '%s'", s.quota);
	CHECK(s.wall_s >= 1.9);
	CHECK_MSG(s.cpu_s <= 0.7 * s.wall_s, "%.2f s of CPU in %.2f s", s.cpu_s, s.wall_s);
}

/* One CPU: two busy threads share it. */
static void test_cpus_one_two_threads(void)
{
	struct spin s = spin_two(1000);
	CHECK_MSG(strcmp(s.quota, "100000 100000") == 0, "quota '%s'", s.quota);
	CHECK(s.wall_s >= 1.9);
	CHECK_MSG(s.cpu_s <= 1.2 * s.wall_s, "%.2f s of CPU in %.2f s", s.cpu_s, s.wall_s);
}

/*
 * No option, no limit: no quota in the kernel (cpu.max "max" where the v2
 * controller is on; no cpu cgroup of ours at all on v1).  How much CPU the
 * threads then get depends on what else runs: more than one CPU on an idle
 * machine with two or more, which is printed, not asserted (the check would
 * only be one that a busy machine makes fail).
 */
static void test_no_cpus_unlimited(void)
{
	struct spin s = spin_two(0);
	CHECK_MSG(s.quota[0] == '\0' || strncmp(s.quota, "max ", 4) == 0, "quota '%s'", s.quota);
	CHECK(s.wall_s >= 1.9);
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	if (online >= 2 && s.cpu_s <= 1.0 * s.wall_s)
		fprintf(stderr,
			"note: %.2f CPUs without a limit on %ld CPUs: the machine is busy (not "
			"an error)\n",
			s.cpu_s / s.wall_s, online);
}

static int create_err(uint32_t cpus_milli, uint32_t reserved2, char *msg, size_t len)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	petri_sandbox *sb = NULL;
	petri_error *e = NULL;
	so.cpus_milli = cpus_milli;
	so.reserved2 = reserved2;
	int r = petri_sandbox_create(petri_test_ctx(), &so, &sb, &e);
	snprintf(msg, len, "%s", petri_error_message(e));
	petri_error_free(e);
	if (sb)
		petri_sandbox_destroy(sb);
	return r;
}

/* Bad values are refused with a message that says why, and leave nothing. */
static void test_cpus_bad_input_api(void)
{
	char msg[512];
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	REQUIRE(online > 0);
	CHECK(create_err(9, 0, msg, sizeof(msg)) == -EINVAL && strstr(msg, "minimum"));
	CHECK(create_err((uint32_t)online * 1000u + 1u, 0, msg, sizeof(msg)) == -EINVAL &&
	      strstr(msg, "online"));
	CHECK(create_err(UINT32_MAX, 0, msg, sizeof(msg)) == -EINVAL);
	CHECK(create_err(500, 1, msg, sizeof(msg)) == -EINVAL && strstr(msg, "reserved2"));
	/* The boundaries themselves are fine. */
	CHECK_MSG(create_err(10, 0, msg, sizeof(msg)) == 0, "%s", msg);
	CHECK_MSG(create_err((uint32_t)online * 1000u, 0, msg, sizeof(msg)) == 0, "%s", msg);
	CHECK(walk_ours("/sys/fs/cgroup", 0, NULL, NULL, 0) == 0);
}

/* `petri run --cpus`: a bad value is exit 125 with one line on stderr. */
static void test_cpus_bad_input_cli(void)
{
	const char *bad[] = {"0", "-1", "abc", "0.5x", "1e3", "", "0.001", "100000", NULL};
	for (int i = 0; bad[i]; i++) {
		const char *args[] = {"run", "--cpus", bad[i], "--", "/bin/true", NULL};
		char *out = NULL, *err = NULL;
		int st = petri_test_cli(args, &out, &err);
		size_t lines = 0;
		for (const char *p = err ? err : ""; *p; p++)
			lines += *p == '\n';
		CHECK_MSG(st == 125 && lines == 1 && strncmp(err, "petri: ", 7) == 0,
			  "--cpus '%s': exit %d, stderr '%s'", bad[i], st, err ? err : "");
		free(out);
		free(err);
	}
	const char *good[] = {"run", "--cpus", "0.5", "--", "/bin/true", NULL};
	char *out = NULL, *err = NULL;
	CHECK_MSG(petri_test_cli(good, &out, &err) == 0, "--cpus 0.5: %s", err ? err : "");
	free(out);
	free(err);
}

/* The cpu cgroup of a limited sandbox exists while it lives and is gone
 * after destroy, in every hierarchy (v1: cpu beside memory and pids). */
static void test_cpus_teardown(void)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	char quota[64];
	so.cpus_milli = 250;
	petri_sandbox *sb = sec_sandbox(&so);
	own_cpu_quota(quota, sizeof(quota));
	CHECK_MSG(strcmp(quota, "25000 100000") == 0, "quota '%s'", quota);
	int during = walk_ours("/sys/fs/cgroup", 0, NULL, NULL, 0);
	CHECK(during >= 1);
	petri_sandbox_destroy(sb);
	int after = walk_ours("/sys/fs/cgroup", 0, NULL, NULL, 0);
	CHECK_MSG(after == 0, "%d of our cgroups left (%d while it lived)", after, during);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(denial_host_pid),
	PETRI_TEST_CASE(denial_flood_host_cpu),
	PETRI_TEST_CASE(cpus_half),
	PETRI_TEST_CASE(cpus_one_two_threads),
	PETRI_TEST_CASE(no_cpus_unlimited),
	PETRI_TEST_CASE(cpus_bad_input_api),
	PETRI_TEST_CASE(cpus_bad_input_cli),
	PETRI_TEST_CASE(cpus_teardown),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
