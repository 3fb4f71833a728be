/* SPDX-License-Identifier: Apache-2.0 */
/*
 * result_json.c - the result object of an exec, built with json-c: what
 * `petri run --json` prints and petrid answers.  One implementation for
 * both, so that the two stay byte-for-byte the same.
 *
 * The program's output is bytes, JSON strings are Unicode: ill-formed UTF-8
 * is replaced by U+FFFD, one per maximal ill-formed subpart (what Unicode
 * recommends, and what Python's bytes.decode("utf-8", "replace") does), so
 * that the object is valid UTF-8 JSON whatever the program printed.
 * Well-formed text, NULs and control characters included, comes through
 * unchanged (json-c escapes the control characters).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "result_json.h"

/* Length of the well-formed UTF-8 sequence at @s, or 0 with [out] @bad the
 * number of bytes one U+FFFD replaces (the maximal ill-formed subpart).
 * Overlongs, surrogates and code points above U+10FFFF are ill-formed.
 * [out] @need (may be NULL) the length the lead byte announces. */
static size_t utf8_sequence(const unsigned char *s, size_t n, size_t *bad, size_t *need_out)
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
	if (need_out)
		*need_out = need;
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

size_t utf8_incomplete_tail(const unsigned char *s, size_t n)
{
	for (size_t k = n < 3 ? n : 3; k > 0; k--) {
		size_t bad = 0, need = 0;
		const unsigned char *p = s + n - k;
		if (*p < 0xc2 || *p > 0xf4)
			continue;
		if (utf8_sequence(p, k, &bad, &need) == 0 && need > k && bad == k)
			return k; /* every byte so far fits: the rest may follow */
	}
	return 0;
}

json_object *json_bytes(const char *data, size_t len)
{
	static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
	const unsigned char *s = (const unsigned char *)data;
	size_t i = 0, bad = 0;

	if (!data)
		return json_object_new_string("");
	while (i < len) {
		size_t n = utf8_sequence(s + i, len - i, &bad, NULL);
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
		size_t n = utf8_sequence(s + i, len - i, &bad, NULL);
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

void result_json_fill(struct result_json *j, const petri_result *res)
{
	int sig = petri_result_signal(res);

	*j = (struct result_json){
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
	j->out = petri_result_stdout(res, &j->out_len);
	j->err = petri_result_stderr(res, &j->err_len);
}

json_object *result_json_object(const struct result_json *j, const char *sandbox_id)
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
	ok = ok && add(o, "sandbox_id", json_text(sandbox_id));
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

const char *result_json_text(json_object *o, size_t *len)
{
	return json_object_to_json_string_length(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
}
