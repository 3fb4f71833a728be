/* SPDX-License-Identifier: Apache-2.0 */
/*
 * petri_test.h - the few helpers every C test uses: checks that report the
 * line and keep going, a shared context, running code in a fresh sandbox,
 * and running the CLI.  A test's main() returns petri_test_done().
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

/* Stop the test: something it needs is broken. */
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

/* The process-wide context (created on first use; REQUIREs success). */
petri_ctx *petri_test_ctx(void);

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

int petri_test_done(void);

#endif
