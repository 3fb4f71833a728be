/* SPDX-License-Identifier: Apache-2.0 */
/*
 * output.c - everything `petri` writes: its own one-line errors, the
 * program's output passed through live, and the result, which is the exit
 * status and, with --json, one JSON object on stdout.
 *
 * Every JSON the CLI writes is built with json-c here.  The program's
 * output is bytes, JSON strings are Unicode: ill-formed UTF-8 is replaced
 * by U+FFFD, one per maximal ill-formed subpart (what Unicode recommends,
 * and what Python's bytes.decode("utf-8", "replace") does), so that the
 * object is valid UTF-8 JSON whatever the program printed.  Well-formed
 * text, NULs and control characters included, comes through unchanged
 * (json-c escapes the control characters).
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
 * JSON.
 * ---------------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at @s, or 0 with [out] @bad the
 * number of bytes one U+FFFD replaces (the maximal ill-formed subpart).
 * Overlongs, surrogates and code points above U+10FFFF are ill-formed. */
static size_t utf8_sequence(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned char c0 = s[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (c0 < 0x80)
		return 1;
	if (c0 >= 0xc2 && c0 <= 0xdf) {
		need = 2;
	} else if (c0 >= 0xe0 && c0 <= 0xef) {
		need = 3;
		lo = c0 == 0xe0 ? 0xa0 : 0x80;
		hi = c0 == 0xed ? 0x9f : 0xbf;
	} else if (c0 >= 0xf0 && c0 <= 0xf4) {
		need = 4;
		lo = c0 == 0xf0 ? 0x90 : 0x80;
		hi = c0 == 0xf4 ? 0x8f : 0xbf;
	} else {
		*bad = 1;
		return 0;
	}
	for (i = 1; i < need && i < n; i++) {
		unsigned char min = i == 1 ? lo : 0x80, max = i == 1 ? hi : 0xbf;
		if (s[i] < min || s[i] > max)
			break;
	}
	if (i == need)
		return need;
	*bad = i;
	return 0;
}

/* A JSON string of @len bytes, ill-formed UTF-8 replaced by U+FFFD; NULL
 * when out of memory or too long for json-c (2 GiB). */
static json_object *json_bytes(const char *data, size_t len)
{
	static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
	const unsigned char *s = (const unsigned char *)data;
	size_t i = 0, bad = 0;

	if (!data)
		return json_object_new_string("");
	while (i < len) {
		size_t n = utf8_sequence(s + i, len - i, &bad);
		if (n == 0)
			break;
		i += n;
	}
	if (i == len) /* well-formed: as it is */
		return len <= INT_MAX ? json_object_new_string_len(data, (int)len) : NULL;

	/* Each replaced byte grows to at most three. */
	if (len > INT_MAX / 3)
		return NULL;
	char *clean = malloc(len * 3);
	if (!clean)
		return NULL;
	memcpy(clean, data, i);
	size_t o = i;
	while (i < len) {
		size_t n = utf8_sequence(s + i, len - i, &bad);
		if (n == 0) {
			memcpy(clean + o, replacement, 3);
			o += 3;
			i += bad;
		} else {
			memcpy(clean + o, s + i, n);
			o += n;
			i += n;
		}
	}
	json_object *j = json_object_new_string_len(clean, (int)o);
	free(clean);
	return j;
}

static json_object *json_text(const char *s)
{
	return json_bytes(s ? s : "", s ? strlen(s) : 0);
}

/* A number of milliseconds, written with three decimals (to the µs). */
static json_object *json_ms(double ms)
{
	char text[64];

	snprintf(text, sizeof(text), "%.3f", ms);
	return json_object_new_double_s(ms, text);
}

static json_object *json_limits(uint32_t hit)
{
	json_object *a = json_object_new_array();

	for (uint32_t bit = 1; a && bit; bit <<= 1)
		if ((hit & bit) && petri_limit_name(bit))
			json_object_array_add(a, json_object_new_string(petri_limit_name(bit)));
	return a;
}

/* What --json prints: an exec's result, or (@error set) a program that
 * could not be started. */
struct json_result {
	int exit_code; /* -1: null */
	int signal;    /* 0: null */
	const char *reason, *error;
	double wall_ms, cpu_ms;
	uint64_t peak_memory, out_total, err_total, denials;
	const char *out, *err;
	size_t out_len, err_len;
	bool out_truncated, err_truncated;
	uint32_t limits_hit;
};

/* Add @key: @val to @obj; false (and @val freed) when @val is NULL because
 * building it failed. */
static bool add(json_object *obj, const char *key, json_object *val)
{
	if (!val)
		return false;
	if (json_object_object_add(obj, key, val) < 0) {
		json_object_put(val);
		return false;
	}
	return true;
}

/* The object as one line on stdout.  0 or -errno. */
static int print_json_result(const struct json_result *j, const petri_sandbox *sb)
{
	json_object *o = json_object_new_object();
	bool ok = o != NULL;

	/* null values: json-c writes a NULL member as null. */
	ok = ok &&
	     json_object_object_add(o, "exit_code",
				    j->exit_code < 0 ? NULL : json_object_new_int(j->exit_code)) ==
		     0;
	ok = ok && json_object_object_add(
			   o, "signal", j->signal > 0 ? json_object_new_int(j->signal) : NULL) == 0;
	ok = ok && add(o, "reason", json_text(j->reason));
	if (j->error)
		ok = ok && add(o, "error", json_text(j->error));
	ok = ok && add(o, "wall_ms", json_ms(j->wall_ms));
	ok = ok && add(o, "cpu_ms", json_ms(j->cpu_ms));
	ok = ok && add(o, "peak_memory_bytes", json_object_new_uint64(j->peak_memory));
	ok = ok && add(o, "stdout", json_bytes(j->out, j->out_len));
	ok = ok && add(o, "stderr", json_bytes(j->err, j->err_len));
	ok = ok && add(o, "stdout_truncated", json_object_new_boolean(j->out_truncated));
	ok = ok && add(o, "stderr_truncated", json_object_new_boolean(j->err_truncated));
	ok = ok && add(o, "stdout_total_bytes", json_object_new_uint64(j->out_total));
	ok = ok && add(o, "stderr_total_bytes", json_object_new_uint64(j->err_total));
	ok = ok && add(o, "limits_hit", json_limits(j->limits_hit));
	ok = ok && add(o, "seccomp_denials", json_object_new_uint64(j->denials));
	ok = ok && add(o, "sandbox_id", json_text(petri_sandbox_id(sb)));

	size_t len = 0;
	const char *text =
		ok ? json_object_to_json_string_length(
			     o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len) :
		     NULL;
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
		int sig = petri_result_signal(res);
		struct json_result j = {
			.exit_code = sig > 0 ? -1 : petri_result_exit_code(res),
			.signal = sig,
			.reason = petri_reason_name(petri_result_reason(res)),
			.wall_ms = (double)petri_result_wall_ns(res) / 1e6,
			.cpu_ms = (double)petri_result_cpu_ns(res) / 1e6,
			.peak_memory = petri_result_peak_memory_bytes(res),
			.out_total = petri_result_stdout_total(res),
			.err_total = petri_result_stderr_total(res),
			.denials = petri_result_seccomp_denials(res),
			.out_truncated = petri_result_stdout_truncated(res),
			.err_truncated = petri_result_stderr_truncated(res),
			.limits_hit = petri_result_limits_hit(res),
		};
		j.out = petri_result_stdout(res, &j.out_len);
		j.err = petri_result_stderr(res, &j.err_len);
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
	struct json_result j = {
		.exit_code = status, .reason = "failed", .error = msg, .wall_ms = wall_ms};

	print_json_result(&j, sb);
}
