/* SPDX-License-Identifier: Apache-2.0 */
/*
 * error.c - error objects with context, the log hook and small utilities
 * every other file uses.
 */
#include <stdio.h>
#include <time.h>

#include "internal.h"
#include "host.h"

int petri__err(petri_error **err, int errnum, const char *fmt, ...)
{
	int code = errnum > 0 ? -errnum : errnum;
	if (code == 0)
		code = -EINVAL;
	if (err && !*err) {
		petri_error *e = calloc(1, sizeof(*e));
		if (e) {
			va_list ap;
			va_start(ap, fmt);
			int n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
			va_end(ap);
			if (errnum != 0 && n >= 0 && (size_t)n < sizeof(e->msg))
				snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(-code));
			e->code = code;
			*err = e;
		}
	}
	return code;
}

PETRI_API const char *petri_error_message(const petri_error *err)
{
	return err ? err->msg : "";
}

PETRI_API int petri_error_code(const petri_error *err)
{
	return err ? err->code : 0;
}

PETRI_API void petri_error_free(petri_error *err)
{
	free(err);
}

PETRI_API void petri_free(void *p)
{
	free(p);
}

PETRI_API const char *petri_version(void)
{
	return PETRI_VERSION_STRING;
}

void petri__log(const struct petri_ctx *ctx, int level, const char *fmt, ...)
{
	if (!ctx || !ctx->log_fn || level > (int)ctx->log_level)
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ctx->log_fn(level, buf, ctx->log_userdata);
}

uint64_t petri__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
