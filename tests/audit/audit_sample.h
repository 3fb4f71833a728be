/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_sample.h - a stream with one event of every kind and known field
 * values (shared by the round-trip, tamper, CLI tests and, through a file,
 * the independent Python decoder, which checks the same values), plus a
 * sink that collects the stream in memory.
 */
#ifndef AUDIT_SAMPLE_H
#define AUDIT_SAMPLE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "petri/audit.h"

struct mem_sink {
	pthread_mutex_t mu;
	uint8_t *p;
	size_t len, cap;
	size_t calls;
};

/* A petri_audit_sink_fn appending to a struct mem_sink. */
int mem_sink_fn(const void *data, size_t len, void *userdata);

/* Open a stream into @m (queue large enough never to drop). */
petri_audit *sample_open_mem(struct mem_sink *m);

/* Emit the sample events (every kind but header and end) into @a.
 * Returns the number emitted. */
int sample_emit_all(petri_audit *a);

/* Number of events of the full sample stream, header and end included. */
#define SAMPLE_EVENTS 17

/* Check @buf (a complete sample stream) event by event, field by field with
 * protobuf-c.  Counts failures with CHECK. */
void sample_check(const uint8_t *buf, size_t len);

/* Split a stream into frames: @offs[i] is where frame i starts (its length
 * prefix); offs[n] == len.  Returns n or -1. */
int sample_frames(const uint8_t *buf, size_t len, size_t *offs, int max);

#endif
