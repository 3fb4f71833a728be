/* SPDX-License-Identifier: Apache-2.0 */
/*
 * opts.c - the one rule for copying a caller's sz-versioned struct (see
 * petri__opts_copy in internal.h).  Every options struct the library
 * receives goes through it: petri_ctx_opts, petri_sandbox_opts,
 * petri_exec_opts, petri_audit_opts, petri_audit_reader_opts and
 * petri_audit_exec_result.
 */
#include "internal.h"

/* The bounds of sz: the size field and one more 32-bit field at least, and
 * nothing a struct of this library could grow to (a bigger value is a
 * pointer or garbage, not a size). */
#define OPTS_SZ_MIN (2 * sizeof(uint32_t))
#define OPTS_SZ_MAX 4096u

int petri__opts_copy(void *dst, size_t dst_sz, const void *src, petri_error **err, const char *what)
{
	memset(dst, 0, dst_sz);
	if (!src)
		return 0;
	uint32_t sz = *(const uint32_t *)src;
	if (sz < OPTS_SZ_MIN || sz > OPTS_SZ_MAX)
		return petri__err(err, EINVAL,
				  "%s: sz is %u, not a size (set it to sizeof(%s), e.g. with "
				  "the _INIT macro; %zu to %u accepted)",
				  what, sz, what, OPTS_SZ_MIN, OPTS_SZ_MAX);
	if (sz > dst_sz) {
		/* A newer caller: accept only if the fields we do not know are 0. */
		const unsigned char *extra = (const unsigned char *)src + dst_sz;
		for (size_t i = 0; i < sz - dst_sz; i++)
			if (extra[i])
				return petri__err(err, EINVAL,
						  "%s: unknown option: byte %zu is set, past the "
						  "%zu bytes libpetri %s knows (built against a "
						  "newer header?)",
						  what, dst_sz + i, dst_sz, PETRI_VERSION_STRING);
		sz = (uint32_t)dst_sz;
	}
	memcpy(dst, src, sz);
	return 0;
}
