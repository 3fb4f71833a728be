/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_doctor - `petri doctor` says which layers work, and exits by them:
 *  - here every layer is "ok" (a layer that is not fails under CI=true,
 *    else skips naming it), the text report has one line per layer, the
 *    exit status is 0, and doctor agrees with the library itself
 *    (petri_ctx_cgroup_mode, petri_ctx_kernel_audit);
 *  - bad command lines (--require of an unknown layer, a missing list, an
 *    unknown option) are one line on stderr, nothing on stdout, exit 2;
 *  - forced-missing: the case process installs a seccomp filter that makes
 *    the kernel refuse one thing, as a host without it would (seccomp(),
 *    landlock_create_ruleset, executing a memfd (execveat), memfd_create,
 *    bpf, or user namespaces through clone/unshare), then runs doctor under
 *    it.  The layer must be reported
 *    "missing" with the reason, the layers that do not depend on it stay
 *    ok, and the exit status follows --require: 1 with one stderr line per
 *    missing required layer, 0 when only optional layers are missing.
 */
#include <json-c/json.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "api_common.h"

#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

static const char *const layers[] = {"user_namespaces", "namespaces",   "cgroups",
				     "seccomp",         "landlock",     "memfd_exec",
				     "kernel_audit",    "egress_proxy", "sandbox"};
#define NLAYERS (sizeof(layers) / sizeof(layers[0]))

struct doctor {
	int status;
	char *out, *err;
	json_object *json; /* parsed stdout with --json, else NULL */
};

static struct doctor doctor(const char *const *args, int want_json)
{
	struct doctor d = {0};
	d.status = petri_test_cli(args, &d.out, &d.err);
	REQUIRE(d.out && d.err);
	if (want_json) {
		d.json = json_tokener_parse(d.out);
		CHECK_MSG(d.json && json_object_is_type(d.json, json_type_object),
			  "doctor --json printed no JSON object: '%.300s' (stderr '%.300s')", d.out,
			  d.err);
	}
	return d;
}

static void doctor_free(struct doctor *d)
{
	free(d->out);
	free(d->err);
	json_object_put(d->json);
}

/* layers.@name.@field of the report, or "" */
static const char *field(const struct doctor *d, const char *name, const char *fieldname)
{
	json_object *ls, *l, *f;
	if (!d->json || !json_object_object_get_ex(d->json, "layers", &ls) ||
	    !json_object_object_get_ex(ls, name, &l) ||
	    !json_object_object_get_ex(l, fieldname, &f))
		return "";
	return json_object_get_string(f);
}

static const char *state(const struct doctor *d, const char *name)
{
	return field(d, name, "state");
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_all_ok_here(void)
{
	struct doctor d = doctor((const char *const[]){"doctor", "--json", NULL}, 1);
	REQUIRE(d.json);
	CHECK_MSG(d.status == 0, "doctor --json exit %d; stderr: %s", d.status, d.err);
	CHECK_MSG(d.err[0] == '\0', "stderr: %s", d.err);
	json_object *ok, *req, *ls;
	CHECK(json_object_object_get_ex(d.json, "ok", &ok) && json_object_get_boolean(ok));
	CHECK(json_object_object_get_ex(d.json, "required", &req) &&
	      json_object_array_length(req) == 4);
	REQUIRE(json_object_object_get_ex(d.json, "layers", &ls));
	CHECK_MSG(json_object_object_length(ls) == (int)NLAYERS, "%d layers reported",
		  json_object_object_length(ls));
	char missing[512] = "";
	for (size_t i = 0; i < NLAYERS; i++) {
		const char *st = state(&d, layers[i]);
		CHECK_MSG(!strcmp(st, "ok") || !strcmp(st, "degraded") || !strcmp(st, "missing"),
			  "%s: state '%s'", layers[i], st);
		CHECK_MSG(strlen(field(&d, layers[i], "detail")) > 10, "%s: detail '%s'", layers[i],
			  field(&d, layers[i], "detail"));
		if (strcmp(st, "ok") != 0) {
			size_t len = strlen(missing);
			snprintf(missing + len, sizeof(missing) - len, " %s (%s: %s)", layers[i],
				 st, field(&d, layers[i], "detail"));
		}
	}

	/* Doctor and the library agree. */
	petri_ctx *ctx = petri_test_ctx();
	int mode = petri_ctx_cgroup_mode(ctx);
	CHECK_MSG((mode != PETRI_CGROUP_NONE) == (strcmp(state(&d, "cgroups"), "missing") != 0),
		  "library cgroup mode %d, doctor says cgroups %s", mode, state(&d, "cgroups"));
	const char *why = NULL;
	int kaudit = petri_ctx_kernel_audit(ctx, &why);
	CHECK_MSG((kaudit == 1) == (strcmp(state(&d, "kernel_audit"), "ok") == 0),
		  "library kernel audit %d (%s), doctor says %s", kaudit, why ? why : "",
		  state(&d, "kernel_audit"));
	doctor_free(&d);

	/* The text report: one line per layer, each starting with its state. */
	d = doctor((const char *const[]){"doctor", NULL}, 0);
	CHECK_MSG(d.status == 0, "doctor exit %d; stderr: %s", d.status, d.err);
	CHECK_MSG(count_lines(d.out) == (int)NLAYERS, "%d lines: %s", count_lines(d.out), d.out);
	for (size_t i = 0; i < NLAYERS; i++) {
		char needle[64];
		snprintf(needle, sizeof(needle), " %s ", layers[i]);
		CHECK_MSG(strstr(d.out, needle), "no line for %s in: %s", layers[i], d.out);
	}
	doctor_free(&d);

	/* This machine has every layer: under CI a missing one is a failure. */
	if (missing[0])
		petri_test_skip(missing);
}

static void expect_usage_error(const char *const *args, const char *needle)
{
	struct doctor d = doctor(args, 0);
	CHECK_MSG(d.status == 2, "%s: exit %d, want 2", needle, d.status);
	CHECK_MSG(d.out[0] == '\0', "%s: stdout '%s'", needle, d.out);
	CHECK_MSG(count_lines(d.err) == 1 && strncmp(d.err, "petri: doctor: ", 15) == 0 &&
			  strstr(d.err, needle),
		  "stderr is not one line with '%s': '%s'", needle, d.err);
	doctor_free(&d);
}

static void test_usage_errors(void)
{
	expect_usage_error((const char *const[]){"doctor", "--require", "bogus", NULL},
			   "unknown layer 'bogus'");
	expect_usage_error((const char *const[]){"doctor", "--require", "seccomp,nope", NULL},
			   "unknown layer 'nope'");
	expect_usage_error((const char *const[]){"doctor", "--require", NULL},
			   "needs a list of layers");
	expect_usage_error((const char *const[]){"doctor", "--require", ",", NULL},
			   "needs a list of layers");
	expect_usage_error((const char *const[]){"doctor", "--frob", NULL},
			   "unknown option '--frob'");
	expect_usage_error((const char *const[]){"doctor", "extra", NULL},
			   "unexpected argument 'extra'");
	struct doctor d = doctor((const char *const[]){"doctor", "--help", NULL}, 0);
	CHECK(d.status == 0 && strstr(d.out, "--require") && d.err[0] == '\0');
	doctor_free(&d);
}

/* --- forced-missing --------------------------------------------------------- */

struct deny {
	long nr;
	int err;
	uint32_t arg0_mask; /* 0: always; else only when arg0 & mask */
};

/* Make the kernel refuse the calls of @rules for this process and what it
 * runs (the filter is inherited across fork and exec). */
static void install_denials(const struct deny *rules, size_t n)
{
	struct sock_filter f[64];
	size_t k = 0;
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	for (size_t i = 0; i < n; i++) {
		REQUIRE(k + 6 < sizeof(f) / sizeof(f[0]));
		uint32_t ret = SECCOMP_RET_ERRNO | (uint32_t)rules[i].err;
		if (!rules[i].arg0_mask) {
			f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
							      (uint32_t)rules[i].nr, 0, 1);
			f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, ret);
		} else {
			f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
							      (uint32_t)rules[i].nr, 0, 4);
			f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
							      offsetof(struct seccomp_data, args));
			f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K,
							      rules[i].arg0_mask, 0, 1);
			f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, ret);
			f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
							      offsetof(struct seccomp_data, nr));
		}
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = {.len = (unsigned short)k, .filter = f};
	REQUIRE(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	REQUIRE(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0);
}

/* Run doctor --json (with @require, or the default) under the denials. */
static struct doctor forced(const struct deny *rules, size_t n, const char *require)
{
	install_denials(rules, n);
	if (require)
		return doctor((const char *const[]){"doctor", "--json", "--require", require, NULL},
			      1);
	return doctor((const char *const[]){"doctor", "--json", NULL}, 1);
}

static void expect_state(const struct doctor *d, const char *layer, const char *want,
			 const char *detail_needle)
{
	CHECK_MSG(!strcmp(state(d, layer), want), "%s is '%s', want '%s' (%s)", layer,
		  state(d, layer), want, field(d, layer, "detail"));
	if (detail_needle)
		CHECK_MSG(strstr(field(d, layer, "detail"), detail_needle),
			  "%s detail lacks '%s': %s", layer, detail_needle,
			  field(d, layer, "detail"));
}

/* The exit status and stderr say which required layers are missing. */
static void expect_exit(const struct doctor *d, int status, const char *missing_layer)
{
	CHECK_MSG(d->status == status, "exit %d, want %d; stderr: %s", d->status, status, d->err);
	if (missing_layer) {
		char needle[96];
		snprintf(needle, sizeof(needle),
			 "petri: doctor: required layer %s is missing: ", missing_layer);
		CHECK_MSG(strstr(d->err, needle), "stderr lacks '%s': %s", needle, d->err);
	} else {
		CHECK_MSG(d->err[0] == '\0', "stderr: %s", d->err);
	}
	json_object *ok;
	CHECK(d->json && json_object_object_get_ex(d->json, "ok", &ok) &&
	      json_object_get_boolean(ok) == (status == 0));
}

static void test_forced_no_seccomp(void)
{
	const struct deny rules[] = {{SYS_seccomp, ENOSYS, 0}};
	struct doctor d = forced(rules, 1, NULL);
	expect_state(&d, "seccomp", "missing", "Function not implemented");
	/* The library cannot filter its sandboxes either: it says so. */
	expect_state(&d, "sandbox", "missing", "seccomp");
	expect_state(&d, "user_namespaces", "ok", NULL);
	expect_state(&d, "landlock", "ok", NULL);
	expect_exit(&d, 1, "seccomp");
	CHECK(strstr(d.err, "required layer sandbox is missing"));
	CHECK_MSG(count_lines(d.err) == 2, "stderr: %s", d.err);
	doctor_free(&d);
}

static void test_forced_no_landlock(void)
{
	const struct deny rules[] = {{SYS_landlock_create_ruleset, ENOSYS, 0}};
	struct doctor d = forced(rules, 1, NULL);
	expect_state(&d, "landlock", "missing", "CONFIG_SECURITY_LANDLOCK");
	/* Sandboxes run without it: not required by default. */
	expect_state(&d, "sandbox", "ok", NULL);
	expect_exit(&d, 0, NULL);
	doctor_free(&d);
}

static void test_forced_no_landlock_required(void)
{
	const struct deny rules[] = {{SYS_landlock_create_ruleset, ENOSYS, 0}};
	struct doctor d = forced(rules, 1, "landlock,seccomp");
	expect_state(&d, "landlock", "missing", NULL);
	expect_exit(&d, 1, "landlock");
	CHECK_MSG(count_lines(d.err) == 1, "stderr: %s", d.err);
	doctor_free(&d);
}

/* Executing a memfd refused (as vm.memfd_noexec=2 or an LSM would): the
 * library forks init instead, so sandboxes still run. */
static void test_forced_no_memfd_exec(void)
{
	const struct deny rules[] = {{SYS_execveat, EACCES, 0}};
	struct doctor d = forced(rules, 1, NULL);
	expect_state(&d, "memfd_exec", "missing", "PETRI_INIT=fork");
	expect_state(&d, "sandbox", "ok", NULL);
	expect_exit(&d, 0, NULL);
	doctor_free(&d);
}

/* No memfds at all: the library cannot hand a sandbox its configuration,
 * and both layers say so. */
static void test_forced_no_memfd(void)
{
	const struct deny rules[] = {{SYS_memfd_create, ENOSYS, 0}};
	struct doctor d = forced(rules, 1, NULL);
	expect_state(&d, "memfd_exec", "missing", "without memfds no sandbox");
	expect_state(&d, "sandbox", "missing", "memfd");
	expect_exit(&d, 1, "sandbox");
	doctor_free(&d);
}

static void test_forced_no_bpf(void)
{
	const struct deny rules[] = {{SYS_bpf, EPERM, 0}};
	struct doctor d = forced(rules, 1, "kernel_audit");
	expect_state(&d, "kernel_audit", "missing", "refused: raw_tp");
	expect_state(&d, "sandbox", "ok", NULL);
	expect_exit(&d, 1, "kernel_audit");
	doctor_free(&d);
}

static void test_forced_no_userns(void)
{
	/* clone3's flags are behind a pointer: refuse it as an old kernel
	 * would (ENOSYS), so that everything falls back to clone, whose flags
	 * the filter can see. */
	const struct deny rules[] = {{SYS_clone3, ENOSYS, 0},
				     {SYS_clone, EPERM, CLONE_NEWUSER},
				     {SYS_unshare, EPERM, CLONE_NEWUSER}};
	struct doctor d = forced(rules, 3, NULL);
	expect_state(&d, "user_namespaces", "missing", "unshare(CLONE_NEWUSER)");
	expect_state(&d, "namespaces", "missing", "not checked");
	expect_state(&d, "sandbox", "missing", NULL);
	expect_state(&d, "seccomp", "ok", NULL);
	expect_exit(&d, 1, "user_namespaces");
	doctor_free(&d);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(all_ok_here),
	PETRI_TEST_CASE(usage_errors),
	PETRI_TEST_CASE(forced_no_seccomp),
	PETRI_TEST_CASE(forced_no_landlock),
	PETRI_TEST_CASE(forced_no_landlock_required),
	PETRI_TEST_CASE(forced_no_memfd_exec),
	PETRI_TEST_CASE(forced_no_memfd),
	PETRI_TEST_CASE(forced_no_bpf),
	PETRI_TEST_CASE(forced_no_userns),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
