/* SPDX-License-Identifier: Apache-2.0 */
/*
 * header_c99.c - compiled by the test_header_c99 ctest with
 * -std=c99 -pedantic -Werror -Wall -Wextra -fsyntax-only: the public header
 * must stand alone (only this include) and be strict C99, and its
 * *_OPTS_INIT macros must initialise every field (-Wmissing-field-initializers).
 */
#include <petri/petri.h>

int petri_header_c99_use(void);

int petri_header_c99_use(void)
{
	petri_ctx_opts c = PETRI_CTX_OPTS_INIT;
	petri_sandbox_opts s = PETRI_SANDBOX_OPTS_INIT;
	petri_exec_opts e = PETRI_EXEC_OPTS_INIT;
	return (int)(c.sz + s.sz + e.sz);
}
