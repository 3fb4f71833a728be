/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_stream.h - the audit tests' one way to read a whole stream with the
 * library's reader (petri_audit_reader_*): every event decoded, unpacked
 * with protobuf-c for field checks, optionally formatted, and the stream
 * verified in a second pass.  Failures are counted with CHECK/REQUIRE.
 */
#ifndef AUDIT_STREAM_H
#define AUDIT_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "petri/audit.h"
#include "petri/audit/v1/audit.pb-c.h"

/* Format every event with petri_audit_reader_format(): JSON into json[],
 * text into text[]. */
#define AUDIT_READ_JSON (1u << 0)
#define AUDIT_READ_TEXT (1u << 1)
/* A damaged stream: read with PETRI_AUDIT_READER_F_NO_VERIFY, and neither
 * require a clean end nor run petri_audit_reader_verify(). */
#define AUDIT_READ_NO_VERIFY (1u << 2)

/* The events of a stream, in order: n of each array (json/text NULL
 * unless asked for). */
struct audit_events {
	Petri__Audit__V1__Event **ev; /* unpacked from the reader's raw bytes */
	uint64_t *seq;                /* petri_audit_reader_seq() */
	int *kind;                    /* petri_audit_reader_kind() */
	size_t *raw_len;              /* petri_audit_reader_raw()'s length */
	char **json, **text;
	size_t n;
};

/* Read the stream at @path / in @data[0..@len) to its end.  Unless
 * AUDIT_READ_NO_VERIFY, CHECKs that the reader ends cleanly (0, not an
 * error) and that petri_audit_reader_verify() accepts the whole stream.
 * Free the result with audit_events_free(). */
struct audit_events audit_read_path(const char *path, unsigned flags);
struct audit_events audit_read_mem(const void *data, size_t len, unsigned flags);
void audit_events_free(struct audit_events *es);

#endif
