/* SPDX-License-Identifier: Apache-2.0 */
/*
 * encode.c - a hand-written protobuf encoder for the event kinds produced
 * in bulk: the kernel half's (process exec/fork/exit, file and network
 * activity) and the egress proxy's (net connection, DNS query), used
 * instead of protobuf-c's reflective get_packed_size + pack (a descriptor
 * walk per field, twice) on the consumer's and the proxy's hot paths.
 *
 * It writes exactly what protobuf_c_message_pack() writes for the same
 * message (fields in number order, proto3 zero values omitted, negative
 * int32 as ten-byte varints, sub-messages length-prefixed with the minimal
 * varint), with every string made valid UTF-8 on the way (each invalid
 * byte becomes U+FFFD, as petri__audit_emit_event() does) -
 * tests/audit/test_audit_enc.c compares the two on randomized events.
 */
#include <stdint.h>
#include <string.h>

#include "audit_priv.h"

/* A bounded output buffer; @over is set (and nothing more is written) when
 * a write would pass @end. */
struct pbw {
	uint8_t *p, *end;
	int over;
};

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static void put_raw(struct pbw *w, const void *s, size_t n)
{
	if (w->over || (size_t)(w->end - w->p) < n) {
		w->over = 1;
		return;
	}
	memcpy(w->p, s, n);
	w->p += n;
}

static void put_varint(struct pbw *w, uint64_t v)
{
	if (w->over || w->end - w->p < 10) {
		w->over = 1;
		return;
	}
	while (v >= 0x80) {
		*w->p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*w->p++ = (uint8_t)v;
}

static void put_tag(struct pbw *w, uint32_t field, uint32_t wire)
{
	put_varint(w, (uint64_t)field << 3 | wire);
}

static void put_u64(struct pbw *w, uint32_t field, uint64_t v)
{
	if (!v)
		return;
	put_tag(w, field, 0);
	put_varint(w, v);
}

/* int32 and enums: negative values sign-extended to 64 bits. */
static void put_i32(struct pbw *w, uint32_t field, int32_t v)
{
	if (!v)
		return;
	put_tag(w, field, 0);
	put_varint(w, (uint64_t)(int64_t)v);
}

static void put_bool(struct pbw *w, uint32_t field, protobuf_c_boolean v)
{
	if (!v)
		return;
	put_tag(w, field, 0);
	put_varint(w, 1);
}

static void put_bytes(struct pbw *w, uint32_t field, const ProtobufCBinaryData *b)
{
	if (!b->len)
		return;
	put_tag(w, field, 2);
	put_varint(w, b->len);
	put_raw(w, b->data, b->len);
}

/* Bytes of @s (@n) once each invalid byte is replaced by U+FFFD. */
static size_t fixed_len(const unsigned char *s, size_t n)
{
	size_t out = 0;
	for (size_t i = 0; i < n;) {
		size_t k = petri__audit_utf8_len(s + i, n - i);
		out += k ? k : 3;
		i += k ? k : 1;
	}
	return out;
}

/* A string field (@s NUL-terminated or NULL), valid UTF-8 on the wire.
 * Returns 0 when @s was not valid UTF-8 (and was repaired). */
static int put_string(struct pbw *w, uint32_t field, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	const unsigned char *u = (const unsigned char *)s;

	if (!n)
		return 1;
	put_tag(w, field, 2);
	if (petri__audit_utf8_valid(s, n)) { /* (ASCII a word at a time) */
		put_varint(w, n);
		put_raw(w, s, n);
		return 1;
	}
	put_varint(w, fixed_len(u, n));
	for (size_t i = 0; i < n;) {
		size_t k = petri__audit_utf8_len(u + i, n - i);
		if (k) {
			put_raw(w, u + i, k);
			i += k;
		} else {
			put_raw(w, "\xef\xbf\xbd", 3);
			i++;
		}
	}
	return 0;
}

/* Start a length-delimited sub-message: room for a one-byte length, which
 * end_msg() widens (moving the content) when the content needs more. */
static uint8_t *begin_msg(struct pbw *w, uint32_t field)
{
	put_tag(w, field, 2);
	uint8_t *mark = w->p;
	put_raw(w, "", 1);
	return mark;
}

static void end_msg(struct pbw *w, uint8_t *mark)
{
	if (w->over)
		return;
	size_t len = (size_t)(w->p - mark - 1);
	size_t vl = varint_len(len);
	if (vl > 1) {
		if ((size_t)(w->end - w->p) < vl - 1) {
			w->over = 1;
			return;
		}
		memmove(mark + vl, mark + 1, len);
		w->p += vl - 1;
	}
	for (size_t i = 0; i < vl; i++) {
		mark[i] = (uint8_t)(len | (i + 1 < vl ? 0x80 : 0));
		len >>= 7;
	}
}

static void put_process(struct pbw *w, const Petri__Audit__V1__Process *p)
{
	uint8_t *m = begin_msg(w, 5);
	put_u64(w, 1, p->pid_inside);
	put_u64(w, 2, p->pid_host);
	put_u64(w, 3, p->ppid);
	put_u64(w, 4, p->uid);
	put_string(w, 5, p->comm);
	put_string(w, 6, p->executable);
	end_msg(w, m);
}

static void put_body(struct pbw *w, const petri_pb_event *ev)
{
	uint8_t *m = begin_msg(w, (uint32_t)ev->body_case);

	switch (ev->body_case) {
	case PETRI__AUDIT__V1__EVENT__BODY_PROCESS_EXEC: {
		const Petri__Audit__V1__ProcessExec *b = ev->process_exec;
		for (size_t i = 0; i < b->n_argv; i++) {
			/* (repeated: empty strings are kept) */
			if (b->argv[i] && b->argv[i][0]) {
				put_string(w, 1, b->argv[i]);
			} else {
				put_tag(w, 1, 2);
				put_varint(w, 0);
			}
		}
		put_string(w, 2, b->cwd);
		put_string(w, 3, b->filename);
		put_bool(w, 4, b->argv_truncated);
		put_string(w, 5, b->executable);
		put_bool(w, 6, b->filename_truncated);
		put_bool(w, 7, b->executable_truncated);
		break;
	}
	case PETRI__AUDIT__V1__EVENT__BODY_PROCESS_FORK: {
		const Petri__Audit__V1__ProcessFork *b = ev->process_fork;
		put_u64(w, 1, b->child_pid_inside);
		put_u64(w, 2, b->child_pid_host);
		put_bool(w, 3, b->is_thread);
		break;
	}
	case PETRI__AUDIT__V1__EVENT__BODY_PROCESS_EXIT: {
		const Petri__Audit__V1__ProcessExit *b = ev->process_exit;
		put_i32(w, 1, b->exit_code);
		put_i32(w, 2, b->signal);
		put_bool(w, 3, b->core_dumped);
		break;
	}
	case PETRI__AUDIT__V1__EVENT__BODY_FILE_ACTIVITY: {
		const Petri__Audit__V1__FileActivity *b = ev->file_activity;
		put_i32(w, 1, (int32_t)b->op);
		put_string(w, 2, b->path);
		put_string(w, 3, b->path2);
		put_u64(w, 4, b->flags);
		put_u64(w, 5, b->mode);
		put_i32(w, 6, b->result);
		put_i32(w, 7, (int32_t)b->path_source);
		put_i32(w, 8, (int32_t)b->path2_source);
		put_string(w, 9, b->syscall);
		put_u64(w, 10, b->uid);
		put_u64(w, 11, b->gid);
		put_bool(w, 12, b->path_truncated);
		put_bytes(w, 13, &b->path_raw);
		put_bytes(w, 14, &b->path2_raw);
		put_bool(w, 15, b->path2_truncated);
		put_bool(w, 16, b->path_raced);
		put_bool(w, 17, b->path2_raced);
		put_string(w, 18, b->path_given);
		put_string(w, 19, b->path2_given);
		break;
	}
	case PETRI__AUDIT__V1__EVENT__BODY_NETWORK_ACTIVITY: {
		const Petri__Audit__V1__NetworkActivity *b = ev->network_activity;
		put_i32(w, 1, (int32_t)b->op);
		put_u64(w, 2, b->family);
		put_bytes(w, 3, &b->address);
		put_string(w, 4, b->address_text);
		put_u64(w, 5, b->port);
		put_u64(w, 6, b->protocol);
		put_i32(w, 7, b->result);
		put_bool(w, 8, b->denied);
		put_bytes(w, 9, &b->local_address);
		put_string(w, 10, b->local_address_text);
		put_u64(w, 11, b->local_port);
		put_string(w, 12, b->syscall);
		put_i32(w, 13, (int32_t)b->source);
		put_u64(w, 14, b->socket_type);
		put_bool(w, 15, b->address_from_user);
		break;
	}
	case PETRI__AUDIT__V1__EVENT__BODY_NET_CONNECTION: {
		const Petri__Audit__V1__NetConnection *b = ev->net_connection;
		put_i32(w, 1, (int32_t)b->via);
		put_i32(w, 2, (int32_t)b->protocol);
		put_string(w, 3, b->name);
		put_u64(w, 4, b->port);
		put_string(w, 5, b->sni_or_host);
		put_string(w, 6, b->http_method);
		put_string(w, 7, b->http_path);
		put_string(w, 8, b->address);
		put_u64(w, 9, b->bytes_up);
		put_u64(w, 10, b->bytes_down);
		put_u64(w, 11, b->start_time_unix_nano);
		put_u64(w, 12, b->duration_ns);
		put_i32(w, 13, (int32_t)b->decision);
		put_string(w, 14, b->reason);
		put_u64(w, 15, b->http_status);
		put_i32(w, 16, b->upstream_errno);
		put_bytes(w, 17, &b->name_raw);
		put_bytes(w, 18, &b->sni_or_host_raw);
		put_bytes(w, 19, &b->http_path_raw);
		break;
	}
	case PETRI__AUDIT__V1__EVENT__BODY_DNS_QUERY: {
		const Petri__Audit__V1__DnsQuery *b = ev->dns_query;
		put_string(w, 1, b->qname);
		put_bool(w, 2, b->qname_truncated);
		put_u64(w, 3, b->qtype);
		put_u64(w, 4, b->rcode);
		put_i32(w, 5, (int32_t)b->decision);
		put_string(w, 6, b->reason);
		put_string(w, 7, b->answer_address);
		put_i32(w, 8, (int32_t)b->transport);
		put_bytes(w, 9, &b->qname_raw);
		break;
	}
	default:
		w->over = 1;
		return;
	}
	end_msg(w, m);
}

int petri__audit_enc_supported(const petri_pb_event *ev)
{
	switch (ev->body_case) {
	case PETRI__AUDIT__V1__EVENT__BODY_PROCESS_EXEC:
		return ev->process_exec != NULL;
	case PETRI__AUDIT__V1__EVENT__BODY_PROCESS_FORK:
		return ev->process_fork != NULL;
	case PETRI__AUDIT__V1__EVENT__BODY_PROCESS_EXIT:
		return ev->process_exit != NULL;
	case PETRI__AUDIT__V1__EVENT__BODY_FILE_ACTIVITY:
		return ev->file_activity != NULL;
	case PETRI__AUDIT__V1__EVENT__BODY_NETWORK_ACTIVITY:
		return ev->network_activity != NULL;
	case PETRI__AUDIT__V1__EVENT__BODY_NET_CONNECTION:
		return ev->net_connection != NULL;
	case PETRI__AUDIT__V1__EVENT__BODY_DNS_QUERY:
		return ev->dns_query != NULL;
	default:
		return 0;
	}
}

long petri__audit_enc_parts(const petri_pb_event *ev, uint64_t time_unix_nano, uint8_t *out,
			    size_t cap, size_t *mid_len)
{
	struct pbw w = {.p = out, .end = out + cap};

	if (!petri__audit_enc_supported(ev))
		return -1;
	put_u64(&w, 2, time_unix_nano);
	put_string(&w, 3, ev->sandbox_id);
	put_string(&w, 4, ev->exec_id);
	if (ev->process)
		put_process(&w, ev->process);
	*mid_len = (size_t)(w.p - out);
	put_body(&w, ev);
	return w.over ? -1 : (long)(w.p - out);
}
