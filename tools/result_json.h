/* SPDX-License-Identifier: Apache-2.0 */
/*
 * result_json.h - the JSON object of an exec's result, as `petri run
 * --json` prints it and petrid answers it (the same bytes: both build it
 * here), and the UTF-8 helpers behind it.
 */
#ifndef PETRI_TOOLS_RESULT_JSON_H
#define PETRI_TOOLS_RESULT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "petri/petri.h"

/* An exec's result, or (@error set) a program that could not be started. */
struct result_json {
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

/* Fill @j from @res (borrowing its output: valid while @res lives). */
void result_json_fill(struct result_json *j, const petri_result *res);

/* The result object, keys in the CLI's order, "sandbox_id" @sandbox_id.
 * Owned by the caller (json_object_put); NULL on ENOMEM. */
json_object *result_json_object(const struct result_json *j, const char *sandbox_id);

/* The object as compact text: what `--json` prints (without the newline).
 * [out] @len its length; the text belongs to @o. */
const char *result_json_text(json_object *o, size_t *len);

/* A JSON string of @len bytes, ill-formed UTF-8 replaced by U+FFFD (one per
 * maximal ill-formed subpart); NULL on ENOMEM or over 2 GiB. */
json_object *json_bytes(const char *data, size_t len);

/* How many bytes at the end of @s (@n bytes) begin a UTF-8 sequence that is
 * well-formed so far but incomplete (0 to 3): what a stream holds back
 * until the next chunk completes it. */
size_t utf8_incomplete_tail(const unsigned char *s, size_t n);

#endif /* PETRI_TOOLS_RESULT_JSON_H */
