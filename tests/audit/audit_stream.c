/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_stream.c - read a whole audit stream for the tests (audit_stream.h).
 */
#include <stdlib.h>

#include "petri_test.h"
#include "audit_stream.h"

#define GROW(arr, n) REQUIRE(((arr) = realloc((arr), ((n) + 1) * sizeof(*(arr)))) != NULL)

static struct audit_events read_all(const petri_audit_reader_opts *o, unsigned flags)
{
	struct audit_events es = {0};
	petri_audit_reader *rd = NULL;
	petri_error *e = NULL;
	int r;

	REQUIRE(petri_audit_reader_open(&rd, o, &e) == 0);
	while ((r = petri_audit_reader_next(rd, &e)) == 1) {
		size_t len = 0;
		const void *raw = petri_audit_reader_raw(rd, &len);

		GROW(es.ev, es.n);
		GROW(es.seq, es.n);
		GROW(es.kind, es.n);
		GROW(es.raw_len, es.n);
		es.ev[es.n] = petri__audit__v1__event__unpack(NULL, len, raw);
		REQUIRE(es.ev[es.n]);
		es.seq[es.n] = petri_audit_reader_seq(rd);
		es.kind[es.n] = petri_audit_reader_kind(rd);
		es.raw_len[es.n] = len;
		if (flags & AUDIT_READ_JSON) {
			GROW(es.json, es.n);
			REQUIRE(petri_audit_reader_format(rd, PETRI_AUDIT_FORMAT_JSON,
							  &es.json[es.n], &e) == 0);
		}
		if (flags & AUDIT_READ_TEXT) {
			GROW(es.text, es.n);
			REQUIRE(petri_audit_reader_format(rd, PETRI_AUDIT_FORMAT_TEXT,
							  &es.text[es.n], &e) == 0);
		}
		es.n++;
	}
	if (!(flags & AUDIT_READ_NO_VERIFY))
		CHECK_MSG(r == 0, "reading the stream: %s", petri_error_message(e));
	petri_audit_reader_close(rd);
	petri_error_free(e);
	e = NULL;

	if (!(flags & AUDIT_READ_NO_VERIFY)) {
		rd = NULL;
		REQUIRE(petri_audit_reader_open(&rd, o, &e) == 0);
		CHECK_MSG(petri_audit_reader_verify(rd, NULL, &e) == 0, "verify: %s",
			  petri_error_message(e));
		petri_audit_reader_close(rd);
		petri_error_free(e);
	}
	return es;
}

struct audit_events audit_read_path(const char *path, unsigned flags)
{
	petri_audit_reader_opts o = PETRI_AUDIT_READER_OPTS_INIT;
	o.source = PETRI_AUDIT_SRC_PATH;
	o.path = path;
	o.flags = flags & AUDIT_READ_NO_VERIFY ? PETRI_AUDIT_READER_F_NO_VERIFY : 0;
	return read_all(&o, flags);
}

struct audit_events audit_read_mem(const void *data, size_t len, unsigned flags)
{
	petri_audit_reader_opts o = PETRI_AUDIT_READER_OPTS_INIT;
	o.source = PETRI_AUDIT_SRC_MEMORY;
	o.data = data;
	o.data_len = len;
	o.flags = flags & AUDIT_READ_NO_VERIFY ? PETRI_AUDIT_READER_F_NO_VERIFY : 0;
	return read_all(&o, flags);
}

void audit_events_free(struct audit_events *es)
{
	for (size_t i = 0; i < es->n; i++) {
		petri__audit__v1__event__free_unpacked(es->ev[i], NULL);
		if (es->json)
			petri_free(es->json[i]);
		if (es->text)
			petri_free(es->text[i]);
	}
	free(es->ev);
	free(es->seq);
	free(es->kind);
	free(es->raw_len);
	free(es->json);
	free(es->text);
	*es = (struct audit_events){0};
}
