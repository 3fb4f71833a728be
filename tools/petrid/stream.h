/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stream.h - the Server-Sent Events of a streaming exec: a bounded buffer
 * of formatted events between the exec's thread (producer) and the MHD
 * thread (content reader), which suspends the connection when there is
 * nothing to send and is resumed when there is.
 */
#ifndef PETRID_STREAM_H
#define PETRID_STREAM_H

#include <stddef.h>

#include <microhttpd.h>

struct pd_stream;
struct pd_exec;

/* A stream for @exec on connection @mc, and the MHD response reading it
 * (the response holds one reference, the caller the other).  When the
 * client goes away before the final event, @client_gone_locked(@exec) is
 * called with pd.lock held (exec.c sits above: it passes its own). */
struct pd_stream *pd_stream_new(struct pd_exec *exec,
				void (*client_gone_locked)(struct pd_exec *exec),
				struct MHD_Connection *mc, struct MHD_Response **resp);
/* Output of the exec (petri_output_fn's arguments): 0, or 1 when the
 * client is gone (the exec is then stopped). */
int pd_stream_output(struct pd_stream *st, int stream, const char *data, size_t len);
/* The final event (@event "result" or "error", @json its data); the
 * stream ends once it is sent.  The exec no longer belongs to it. */
void pd_stream_finish(struct pd_stream *st, const char *event, const char *json, size_t len);
/* Drop the caller's reference. */
void pd_stream_put(struct pd_stream *st);
/* How many streams are still open. */
size_t pd_stream_count(void);
/* Heartbeats for streams quiet for PD_HEARTBEAT_MS (the timer). */
void pd_stream_tick(void);

#endif /* PETRID_STREAM_H */
