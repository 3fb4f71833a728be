/* SPDX-License-Identifier: Apache-2.0 */
/*
 * petri_test.h - the few helpers every C test uses: checks that report the
 * line and keep going, named cases run one by one, a shared context,
 * running code in a fresh sandbox, and running the CLI.
 *
 * A test program is a table of named cases:
 *
 *	static void test_timeout_kills(void) { ... CHECK(...); REQUIRE(...); ... }
 *	static void test_stdin(void) { ... }
 *
 *	static const struct petri_test_case cases[] = {
 *		PETRI_TEST_CASE(timeout_kills), // runs test_timeout_kills
 *		PETRI_TEST_CASE(stdin),
 *		{NULL, NULL},
 *	};
 *	int main(int argc, char **argv) { return petri_test_main(argc, argv, cases); }
 *
 * petri_test_main() runs each case in a child process of its own (fork), so
 * a case that fails a CHECK, stops at a REQUIRE, skips, or crashes is
 * reported under its name and the next case still runs from a clean state.
 * The child makes its own petri_test_ctx() and frees it when the case
 * returns (main() must not create it before petri_test_main(): that is
 * refused), and dies with the runner (a ctest timeout).  It prints
 * one line per case and a closing line such as
 * "test_exec_basic: 12 passed, 1 failed".
 *
 *	./test_exec_basic                      every case, in table order
 *	./test_exec_basic timeout_kills stdin  only these cases
 *	PETRI_TEST_CASE=timeout_kills,stdin ctest -R test_exec_basic
 *	                                       the same through ctest (names
 *	                                       separated by commas or spaces)
 *	./test_exec_basic --list               the case names, one a line
 *	PETRI_TEST_NOFORK=1 ./test_exec_basic  no fork (to debug one case in
 *	                                       gdb); a REQUIRE then ends it all
 *
 * Exit status: 1 when a case failed, else 77 (ctest SKIP_RETURN_CODE) when
 * a case skipped (petri_test_skip()), else 0; 2 for a bad command line.
 * Under CI=true a skip is a failure of its case.  A case's own exit status:
 * 0 passed, 77 skipped, anything else (or a signal) failed.
 *
 * Old style (tests/audit): a main() that calls the checks and returns
 * petri_test_done().  Both styles use the same CHECK/REQUIRE.
 */
#ifndef PETRI_TEST_H
#define PETRI_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "petri/petri.h"

extern int petri_test_failures;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
			petri_test_failures++;                                                     \
		}                                                                                  \
	} while (0)

#define CHECK_MSG(cond, ...)                                                                       \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);   \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			petri_test_failures++;                                                     \
		}                                                                                  \
	} while (0)

/* Stop the case (the whole program in the old style): something it needs
 * is broken. */
#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

/* A feature the machine lacks: exit 77 (ctest SKIP_RETURN_CODE), but under
 * CI=true a skip is a failure (exit 1). */
void petri_test_skip(const char *why) __attribute__((noreturn));

/* The process-wide context (created on first use; REQUIRE-like: exits 1
 * when it cannot be made).  In petri_test_main() each case has its own. */
petri_ctx *petri_test_ctx(void);
/* Free the context petri_test_ctx() made, if any (a later petri_test_ctx()
 * makes a new one).  Never free it with petri_ctx_free() directly. */
void petri_test_ctx_free(void);

/* Result of running something, with NUL-terminated copies of the output. */
struct petri_test_run {
	int rc; /* petri_sandbox_exec's return */
	int reason;
	int exit_code;
	int signal;
	uint32_t limits;
	uint64_t wall_ns;
	uint64_t out_total, err_total; /* bytes written, captured or not */
	char *out;
	char *err;
	size_t out_len, err_len;
	int out_trunc, err_trunc;
	char errmsg[512]; /* library error message when rc < 0 */
};

/* Run @o in the existing sandbox and copy out everything about the result. */
struct petri_test_run petri_test_exec_opts(petri_sandbox *sb, const petri_exec_opts *o);
/* Exec code in @lang (or argv when lang is NULL) in the existing sandbox. */
struct petri_test_run petri_test_exec(petri_sandbox *sb, const char *lang, const char *code,
				      const char *const *argv, uint64_t timeout_ms);
/* Fresh sandbox (default options but @lang), run @code, destroy. */
struct petri_test_run petri_test_run_code(const char *lang, const char *code, uint64_t timeout_ms);
void petri_test_run_free(struct petri_test_run *r);

/* Run the petri CLI (path from $PETRI_CLI) with @args, capture stdout and
 * stderr (each NUL-terminated, malloc'd), return its exit status (or -1). */
int petri_test_cli(const char *const *args, char **out, char **err);

/* Counts for leak checks: open fds of this process, mounts visible in our
 * mount namespace, petri-* cgroup directories anywhere below /sys/fs/cgroup,
 * and our RSS in KiB. */
int petri_test_count_fds(void);
int petri_test_count_mounts(void);
int petri_test_count_petri_cgroups(void);
long petri_test_rss_kib(void);
/* The first number of field @key ("Uid", "Threads"...) of /proc/PID/status
 * (@pid 0: this process), or -1. */
long long petri_test_status_field(int pid, const char *key);

/* Old style: report and return main()'s exit status (1 if a CHECK failed). */
int petri_test_done(void);

/* One named case of a test program; a table of them ends with {NULL, NULL}. */
struct petri_test_case {
	const char *name; /* what --list prints and the command line selects */
	void (*fn)(void);
};
/* The table entry of case @name, run by the function test_@name. */
#define PETRI_TEST_CASE(name)                                                                      \
	{                                                                                          \
#name, test_##name                                                                 \
	}

/* Run the cases of @cases selected by @argv (or $PETRI_TEST_CASE; all when
 * none), each in a child process; see the top of this file.  Returns
 * main()'s exit status. */
int petri_test_main(int argc, char **argv, const struct petri_test_case *cases);

#endif
