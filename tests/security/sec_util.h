/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sec_util.h - helpers of the attack and fault suites (tests/security).
 *
 * An attack is an untrusted program (a file under tests/security/attacks/,
 * or the C probe built from attacks/probe.c) run INSIDE a sandbox.  It
 * reports what it observed, one fact per line:
 *
 *     CHECK <name> <verdict> [detail]
 *
 * where the verdict is e.g. "BLOCKED EPERM" (the call failed with EPERM),
 * "OK ..." (something that must work worked), "ESCAPED ..." (something that
 * must fail succeeded), "LIST a,b,c" or "EMPTY"/"ABSENT".  The attack never
 * judges itself: the C test compares each named line with the verdicts it
 * accepts (sec_expect), so a check that is missing, or an attack that died
 * half-way, fails the test too.  Every attack ends with "DONE".
 */
#ifndef PETRI_SEC_UTIL_H
#define PETRI_SEC_UTIL_H

#include <stdint.h>
#include <sys/types.h>

#include "petri_test.h"

/* Result of one exec, with NUL-terminated copies of the captured output. */

/* Everything an attack exec may need; zero fields take the library's defaults. */
struct sec_exec {
	const char *lang; /* with code */
	const char *code; /* or argv */
	const char *const *argv;
	const char *const *env;
	uint64_t timeout_ms;
	uint64_t output_kill_bytes;
	uint64_t stdout_max;
	const void *stdin_data;
	uint64_t stdin_len;
	petri_output_fn on_output;
	void *userdata;
	uint32_t nofile_max; /* 0: the default */
};

/* Read tests/security/attacks/@name (REQUIREs success; malloc'd, NUL-terminated);
 * a .py attack comes with attacks/attack_common.py in front (its helpers). */
char *sec_attack_source(const char *name);
/* Read a whole host file (NULL on error); [out] @len when non-NULL. */
char *sec_read_host_file(const char *path, size_t *len);

/* Create a sandbox with @opts (NULL: defaults) in the shared test context;
 * REQUIREs success. */
petri_sandbox *sec_sandbox(const petri_sandbox_opts *opts);
/* The same in context @ctx. */
petri_sandbox *sec_sandbox_in(petri_ctx *ctx, const petri_sandbox_opts *opts);

struct petri_test_run sec_exec(petri_sandbox *sb, const struct sec_exec *x);
/* Run attack file @name (language from its extension: .py python, .sh sh). */
struct petri_test_run sec_exec_attack(petri_sandbox *sb, const char *name, const char *const *env,
				      uint64_t timeout_ms);
/* Copy the host binary @host_path to /workspace/@name (mode 0755) with
 * petri_sandbox_write_file(); where that fails (a library bug, reported by
 * the API tests), say so and copy it through an exec's stdin instead, so
 * the attacks still run. */
void sec_install_binary(petri_sandbox *sb, const char *host_path, const char *name);
/* Print a run (reason, exit, output) to stderr, for failing tests. */
void sec_dump(const char *what, const struct petri_test_run *r);

/*
 * The verdict of check @name in @out ("BLOCKED EPERM", ...), copied into
 * @buf; NULL when the attack printed no such line.
 */
const char *sec_verdict(const char *out, const char *name, char *buf, size_t buflen);
/*
 * CHECK that check @name reported one of the '|'-separated verdicts in
 * @accepted; a verdict matches when it equals an alternative or starts with
 * it followed by a space ("BLOCKED EPERM" matches "BLOCKED EPERM fd=3").
 */
#define sec_expect(run, name, accepted) sec_expect_at(__FILE__, __LINE__, (run), (name), (accepted))
void sec_expect_at(const char *file, int line, const struct petri_test_run *r, const char *name,
		   const char *accepted);
/*
 * CHECK that check @name reported "LIST a,b,..." where every item is one of
 * the ','-separated @allowed and every one of @required is there.
 */
#define sec_expect_list(run, name, allowed, required)                                              \
	sec_expect_list_at(__FILE__, __LINE__, (run), (name), (allowed), (required))
void sec_expect_list_at(const char *file, int line, const struct petri_test_run *r,
			const char *name, const char *allowed, const char *required);
/* CHECK that the attack finished ("DONE") and that no line says ESCAPED. */
#define sec_expect_no_escape(run) sec_expect_no_escape_at(__FILE__, __LINE__, (run), 1)
/* The same for an attack that is meant to be killed (no DONE needed). */
#define sec_expect_no_escape_killed(run) sec_expect_no_escape_at(__FILE__, __LINE__, (run), 0)
void sec_expect_no_escape_at(const char *file, int line, const struct petri_test_run *r,
			     int need_done);

/* Host-side observations. */
int sec_pid_alive(pid_t pid); /* exists and is not a zombie */
/* Processes (thread-group leaders) whose real, effective, saved or fs uid
 * (as the host sees it) lies in [lo, hi]; their pids are appended to @pids
 * (up to @max) when non-NULL. */
int sec_count_uid_procs(uid_t lo, uid_t hi, pid_t *pids, int max);
/* Wait up to @ms for sec_count_uid_procs(lo, hi) to reach 0; returns the last count. */
int sec_wait_uid_procs_gone(uid_t lo, uid_t hi, int ms);
/* A distinct host uid base for this test process (> 0xc8000000, never the
 * library's default 0xc8000000), the start of a window of SEC_PRIVATE_RANGES
 * 65536-id ranges: parallel tests then (almost always: pid % 222 picks the
 * window) use disjoint host ids, so a uid scan sees our sandboxes only. */
#define SEC_PRIVATE_RANGES 64u
uint32_t sec_private_uid_base(void);
/* The last host id of that window. */
uid_t sec_private_uid_last(void);
/* A context using sec_private_uid_base(); REQUIREs success. */
petri_ctx *sec_private_ctx(void);
/* Host uid of the sandbox user (1000 inside) of the n-th sandbox (1-based)
 * this process created, when it was created in sec_private_ctx() (when
 * root: the library claims range base + n * 65536 unless another live
 * sandbox holds it). */
uid_t sec_private_uid(unsigned n);

uint64_t sec_now_ms(void);

#endif
