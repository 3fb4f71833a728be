/* SPDX-License-Identifier: Apache-2.0 */
/* The public audit header on its own is strict C99 and its *_OPTS_INIT
 * macros initialise every field (compiled with -Wmissing-field-initializers). */
#include "petri/audit.h"

int main(void);

int main(void)
{
	petri_audit_opts o = PETRI_AUDIT_OPTS_INIT;
	petri_audit_reader_opts r = PETRI_AUDIT_READER_OPTS_INIT;
	return (int)(o.sz + r.sz == 0);
}
