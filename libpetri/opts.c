/* SPDX-License-Identifier: Apache-2.0 */
/*
 * opts.c - the one rule for copying a caller's options struct (see
 * petri__opts_copy in internal.h).
 */
#include "internal.h"

int petri__opts_copy(void *dst, size_t dst_sz, const void *src, petri_error **err, const char *what)
{
	memset(dst, 0, dst_sz);
	if (!src)
		return 0;
	uint32_t sz = *(const uint32_t *)src;
	if (sz < sizeof(uint32_t) * 2 || sz > 4096)
		return petri__err(err, EINVAL, "%s: sz field is %u (use the _OPTS_INIT macro)",
				  what, sz);
	if (sz > dst_sz) {
		/* A newer caller: accept only if the fields we do not know are 0. */
		const unsigned char *extra = (const unsigned char *)src + dst_sz;
		for (size_t i = 0; i < sz - dst_sz; i++)
			if (extra[i])
				return petri__err(err, EINVAL,
						  "%s: unknown option set (library too old)", what);
		sz = (uint32_t)dst_sz;
	}
	memcpy(dst, src, sz);
	return 0;
}
