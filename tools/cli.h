/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli.h - what the files of the `petri` command share: exit statuses, the
 * one-line error messages, and the result output (output.c).
 *
 *   main.c    argument dispatch: run, audit, --help, --version
 *   run.c     petri run
 *   audit.c   petri audit cat|json|verify
 *   doctor.c  petri doctor (the checks: hostcheck.c)
 *   output.c  messages, live output, the result (exit status and --json)
 */
#ifndef PETRI_CLI_H
#define PETRI_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "petri/petri.h"

/* Exit statuses of `petri run` (DESIGN.md "CLI"): the program's own
 * otherwise, 128+N when a signal N killed it. */
#define EXIT_TIMEOUT 124
#define EXIT_PETRI 125
#define EXIT_NOEXEC 126
#define EXIT_NOTFOUND 127

#define _printf_(a, b) __attribute__((format(printf, a, b)))

/* usage.c */
void print_usage(void);
void print_version(void);
/* The library's languages as "python, node, go or sh" in @buf. */
void language_list(char *buf, size_t size);

/* Commands: argv[0] is the command's name; they return the exit status. */
int cmd_run(int argc, char **argv);   /* run.c */
int cmd_audit(int argc, char **argv); /* audit.c */
/* petri doctor: exits 0, 1 (a required layer missing) or 2 (usage). */
int cmd_doctor(int argc, char **argv); /* doctor.c */

/* ---- output.c: messages ---- */

/* Write all of @data to @fd (waiting out EINTR and an inherited
 * O_NONBLOCK).  0 or -errno. */
int write_all(int fd, const void *data, size_t len);
/* Replace control characters in @s so that a message stays on one line. */
void make_single_line(char *s);
/* Print "petri: <message>" as one line on stderr; returns -1, so that
 * parsers can `return fail(...)`. */
int fail(const char *fmt, ...) _printf_(1, 2);
/* One line for a library error (@err's message, else strerror(-@rc));
 * frees @err and returns @status. */
int library_failure(int rc, petri_error *err, int status);

/* ---- output.c: the program's output and result ---- */

/* What live output forwarding has seen (the userdata of on_output()). */
struct stream_state {
	bool broken_pipe;   /* a reader went away: the exec was stopped */
	bool dead[3];       /* by fd: forwarding failed, dropped since */
	int write_errno[3]; /* by fd: the first error other than EPIPE */
};

/* petri_output_fn: pass the program's output through to petri's stdout and
 * stderr as it comes.  Stops the exec (returns 1) when a reader went away. */
int on_output(int stream, const char *data, size_t len, void *userdata);

/* Report an exec's result: with @json one JSON object on stdout (else the
 * output went out live through on_output()).  Returns the exit status. */
int report_result(const petri_result *res, const petri_sandbox *sb, bool json,
		  const struct stream_state *st);

/* --json for a program that could not be started (status 126 or 127): the
 * same object, exit_code @status, reason "failed" and error @msg. */
void report_failed_json(const petri_sandbox *sb, int status, const char *msg, double wall_ms);

#endif /* PETRI_CLI_H */
