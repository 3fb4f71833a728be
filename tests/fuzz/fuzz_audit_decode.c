/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_audit_decode - libFuzzer target for the audit stream decoder
 * (libpetri/audit_decode.c): arbitrary bytes through the verifying reader,
 * the non-verifying reader, and both formatters.  Any crash, leak, or
 * undefined behaviour is a bug; errors are the expected outcome.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "petri/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run(const uint8_t *data, size_t size, uint32_t flags)
{
	petri_audit_reader_opts o = PETRI_AUDIT_READER_OPTS_INIT;
	o.source = PETRI_AUDIT_SRC_MEMORY;
	o.data = data;
	o.data_len = size;
	o.flags = flags;
	o.max_event_bytes = 65536;
	petri_audit_reader *r = NULL;
	if (petri_audit_reader_open(&r, &o, NULL) < 0)
		abort();
	petri_error *err = NULL;
	while (petri_audit_reader_next(r, &err) > 0) {
		char *s = NULL;
		if (petri_audit_reader_format(r, PETRI_AUDIT_FORMAT_TEXT, &s, NULL) == 0)
			petri_free(s);
		if (petri_audit_reader_format(r, PETRI_AUDIT_FORMAT_JSON, &s, NULL) == 0)
			petri_free(s);
	}
	petri_error_free(err);
	petri_audit_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run(data, size, PETRI_AUDIT_READER_F_NO_VERIFY);
	run(data, size, 0);
	petri_audit_reader_opts o = PETRI_AUDIT_READER_OPTS_INIT;
	o.source = PETRI_AUDIT_SRC_MEMORY;
	o.data = data;
	o.data_len = size;
	petri_audit_reader *r = NULL;
	if (petri_audit_reader_open(&r, &o, NULL) == 0) {
		uint64_t bad;
		petri_audit_reader_verify(r, &bad, NULL);
		petri_audit_reader_close(r);
	}
	return 0;
}
