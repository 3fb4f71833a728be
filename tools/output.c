/* SPDX-License-Identifier: Apache-2.0 */
/*
 * output.c - everything `petri` writes: its own one-line errors, the
 * program's output passed through live, and the result, which is the exit
 * status and, with --json, one JSON object on stdout.
 *
 * The result object is built by result_json.c, which petrid shares, so
 * that `petri run --json` and petrid's exec answer are the same bytes.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "result_json.h"

/* ------------------------------------------------------------------------
 * Messages.  Every failure of petri itself is one line "petri: <reason>";
 * text from the command line or the library is made single-line first.
 * ---------------------------------------------------------------------- */

int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			/* Inherited O_NONBLOCK (a terminal or pipe shared with
			 * someone who set it): wait instead of dropping output. */
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			poll(&pfd, 1, -1);
			continue;
		}
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void make_single_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

int fail(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	memcpy(line, "petri: ", 7);
	va_start(ap, fmt);
	int n = vsnprintf(line + 7, sizeof(line) - 8, fmt, ap);
	va_end(ap);
	if (n < 0)
		line[7] = '\0';
	make_single_line(line);
	size_t len = strlen(line);
	line[len++] = '\n';
	write_all(STDERR_FILENO, line, len);
	return -1;
}

int library_failure(int rc, petri_error *err, int status)
{
	const char *msg = petri_error_message(err);

	fail("%s", *msg ? msg : strerror(-rc));
	petri_error_free(err);
	return status;
}

/* ------------------------------------------------------------------------
 * Live output.
 * ---------------------------------------------------------------------- */

int on_output(int stream, const char *data, size_t len, void *userdata)
{
	struct stream_state *st = userdata;
	int fd = stream == PETRI_STREAM_STDERR ? STDERR_FILENO : STDOUT_FILENO;

	if (st->dead[fd])
		return 0;
	int r = write_all(fd, data, len);
	if (r == -EPIPE) {
		/* What SIGPIPE would have done to the program writing there. */
		st->broken_pipe = true;
		return 1;
	}
	if (r < 0) {
		st->dead[fd] = true;
		st->write_errno[fd] = -r;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * JSON (built in result_json.c, shared with petrid).
 * ---------------------------------------------------------------------- */

/* The object as one line on stdout.  0 or -errno. */
static int print_json_result(const struct result_json *j, const petri_sandbox *sb)
{
	json_object *o = result_json_object(j, petri_sandbox_id(sb));
	size_t len = 0;
	const char *text = o ? result_json_text(o, &len) : NULL;
	int r = text ? write_all(STDOUT_FILENO, text, len) : -ENOMEM;
	if (r == 0)
		r = write_all(STDOUT_FILENO, "\n", 1);
	json_object_put(o);
	return r;
}

/* ------------------------------------------------------------------------
 * The result.
 * ---------------------------------------------------------------------- */

/* The exit status for a result (see the usage text), or -1 when there is
 * none to give (the sandbox died under the program). */
static int result_status(const petri_result *res, const struct stream_state *st)
{
	int reason = petri_result_reason(res);
	int sig = petri_result_signal(res), code = petri_result_exit_code(res);

	if (reason == PETRI_REASON_TIMEOUT)
		return EXIT_TIMEOUT;
	if (reason == PETRI_REASON_KILLED && st->broken_pipe)
		return 128 + SIGPIPE;
	if (sig > 0)
		return 128 + sig;
	if (code >= 0)
		return code;
	return -1;
}

int report_result(const petri_result *res, const petri_sandbox *sb, bool json,
		  const struct stream_state *st)
{
	int werr = st->write_errno[STDOUT_FILENO];

	if (json) {
		struct result_json j;
		result_json_fill(&j, res);
		werr = -print_json_result(&j, sb);
	}
	if (werr == EPIPE)
		return 128 + SIGPIPE;
	if (werr == ENOMEM && json) {
		fail("cannot build the JSON result: out of memory (or output over 2 GiB)");
		return EXIT_PETRI;
	}
	if (werr != 0) {
		fail("write to stdout: %s", strerror(werr));
		return EXIT_PETRI;
	}
	int status = result_status(res, st);
	if (status < 0) {
		fail("sandbox %s died during the exec (%s)", petri_sandbox_id(sb),
		     petri_reason_name(petri_result_reason(res)));
		return EXIT_PETRI;
	}
	return status;
}

void report_failed_json(const petri_sandbox *sb, int status, const char *msg, double wall_ms)
{
	struct result_json j = {
		.exit_code = status, .reason = "failed", .error = msg, .wall_ms = wall_ms};

	print_json_result(&j, sb);
}
