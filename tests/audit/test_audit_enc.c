/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_audit_enc.c - the hand-written encoder (audit/encode.c) of the
 * kernel half's event kinds and the egress proxy's (net connection, DNS
 * query) against protobuf-c, on randomized events: for every kind it
 * encodes, random field values (zeros, negative int32s,
 * large varints, empty and NULL strings, multi-byte UTF-8, invalid bytes,
 * bytes fields, repeated argv with empty entries, long strings whose
 * sub-message lengths need multi-byte varints) must give exactly the
 * bytes protobuf_c_message_pack() gives for the same event - after the
 * strings are repaired to valid UTF-8 by this test's own repair (each
 * invalid byte -> U+FFFD) - and protobuf-c must decode them back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_priv.h"
#include "petri_test.h"

typedef Petri__Audit__V1__Event Ev;

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint32_t rnd_u32(void)
{
	switch (rnd() % 4) {
	case 0:
		return 0;
	case 1:
		return (uint32_t)(rnd() % 128);
	case 2:
		return (uint32_t)(rnd() % 100000);
	default:
		return (uint32_t)rnd();
	}
}

static int32_t rnd_i32(void)
{
	switch (rnd() % 4) {
	case 0:
		return 0;
	case 1:
		return -(int32_t)(rnd() % 200);
	case 2:
		return (int32_t)(rnd() % 70000);
	default:
		return (int32_t)(uint32_t)rnd();
	}
}

/* The test's own UTF-8 check of the sequence at @s (@n bytes left): its
 * length, or 0 when invalid (RFC 3629: no overlongs, no surrogates, at
 * most U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	uint32_t c;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return len;
}

/* A copy of @s with each invalid byte replaced by U+FFFD. */
static char *repaired(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(3 * n + 1), *o = out;

	REQUIRE(out);
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq((const unsigned char *)s + i, n - i);
		if (k) {
			memcpy(o, s + i, k);
			o += k;
			i += k;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	*o = 0;
	return out;
}

/* Strings of the event, kept to free them: the raw ones and the repaired. */
struct pool {
	char *s[4096];
	size_t n;
};

static char *keep(struct pool *p, char *s)
{
	REQUIRE(p->n < sizeof(p->s) / sizeof(p->s[0]));
	p->s[p->n++] = s;
	return s;
}

static const char *const pieces[] = {"/",
				     "etc",
				     "hostname",
				     "a",
				     "\xc3\xa9",
				     "\xe2\x82\xac",
				     "\xf0\x9f\x90\x8d",
				     "\xff",
				     "\xc0\xaf",
				     "\xed\xa0\x80",
				     "\xf4\x90\x80\x80",
				     "\xe2\x82",
				     "x y",
				     "\x7f",
				     "..",
				     "\xc3"};

/* A random string (empty sometimes), and in *@fixed the same repaired.
 * (Never NULL: protobuf-c's get_packed_size does not take NULL strings.) */
static char *rnd_str(struct pool *p, char **fixed, size_t max_pieces)
{
	size_t n = rnd() % 4 == 0 ? 0 : rnd() % (max_pieces + 1);
	char *s = keep(p, calloc(1, n * 8 + 1));

	for (size_t i = 0; i < n; i++)
		strcat(s, pieces[rnd() % (sizeof(pieces) / sizeof(pieces[0]))]);
	*fixed = keep(p, repaired(s));
	return s;
}

static ProtobufCBinaryData rnd_bytes(struct pool *p)
{
	ProtobufCBinaryData b = {0, NULL};
	if (rnd() % 3 == 0)
		return b;
	b.len = 1 + rnd() % 40;
	b.data = (uint8_t *)keep(p, malloc(b.len));
	for (size_t i = 0; i < b.len; i++)
		b.data[i] = (uint8_t)rnd();
	return b;
}

/* Bodies with raw strings (@raw) and with repaired ones (@fix). */
struct bodies {
	Petri__Audit__V1__ProcessExec exec[2];
	Petri__Audit__V1__ProcessFork fork;
	Petri__Audit__V1__ProcessExit exit;
	Petri__Audit__V1__FileActivity file[2];
	Petri__Audit__V1__NetworkActivity net[2];
	Petri__Audit__V1__NetConnection conn[2];
	Petri__Audit__V1__DnsQuery dns[2];
	Petri__Audit__V1__Process proc[2];
	char *argv[2][64];
};

#define STR2(field, maxp)                                                                          \
	do {                                                                                       \
		char *f_;                                                                          \
		raw->field = rnd_str(p, &f_, maxp);                                                \
		fix->field = f_;                                                                   \
		if (!raw->field) /* protobuf-c packs NULL as "" (absent) */                        \
			raw->field = fix->field = NULL;                                            \
	} while (0)

static void fill_event(Ev *ev_raw, Ev *ev_fix, struct bodies *b, struct pool *p, int kind)
{
	ev_raw->time_unix_nano = rnd() % 4 ? rnd() : 0;
	{
		Ev *raw = ev_raw, *fix = ev_fix;
		STR2(sandbox_id, 6);
		STR2(exec_id, 6);
	}
	if (rnd() % 6) {
		Petri__Audit__V1__Process *raw = &b->proc[0], *fix = &b->proc[1];
		petri__audit__v1__process__init(raw);
		raw->pid_inside = rnd_u32();
		raw->pid_host = rnd_u32();
		raw->ppid = rnd_u32();
		raw->uid = rnd_u32();
		*fix = *raw;
		STR2(comm, 4);
		STR2(executable, rnd() % 4 ? 8 : 60);
		ev_raw->process = raw;
		ev_fix->process = fix;
	}
	ev_raw->body_case = (Petri__Audit__V1__Event__BodyCase)kind;
	switch (kind) {
	case PETRI__AUDIT__V1__EVENT__BODY_PROCESS_EXEC: {
		Petri__Audit__V1__ProcessExec *raw = &b->exec[0], *fix = &b->exec[1];
		petri__audit__v1__process_exec__init(raw);
		size_t n = rnd() % 64;
		for (size_t i = 0; i < n; i++) {
			char *f;
			b->argv[0][i] = rnd_str(p, &f, rnd() % 10 ? 3 : 200);
			b->argv[1][i] = f;
		}
		raw->n_argv = n;
		raw->argv = b->argv[0];
		STR2(cwd, 10);
		STR2(filename, 10);
		raw->argv_truncated = rnd() % 2;
		STR2(executable, 10);
		raw->filename_truncated = rnd() % 2;
		raw->executable_truncated = rnd() % 2;
		*fix = *raw;
		fix->argv = b->argv[1];
		fix->executable = raw->executable ? keep(p, repaired(raw->executable)) : NULL;
		fix->cwd = raw->cwd ? keep(p, repaired(raw->cwd)) : NULL;
		fix->filename = raw->filename ? keep(p, repaired(raw->filename)) : NULL;
		ev_raw->process_exec = raw;
		ev_fix->process_exec = fix;
		break;
	}
	case PETRI__AUDIT__V1__EVENT__BODY_PROCESS_FORK:
		petri__audit__v1__process_fork__init(&b->fork);
		b->fork.child_pid_inside = rnd_u32();
		b->fork.child_pid_host = rnd_u32();
		b->fork.is_thread = rnd() % 2;
		ev_raw->process_fork = ev_fix->process_fork = &b->fork;
		break;
	case PETRI__AUDIT__V1__EVENT__BODY_PROCESS_EXIT:
		petri__audit__v1__process_exit__init(&b->exit);
		b->exit.exit_code = rnd_i32();
		b->exit.signal = rnd_i32();
		b->exit.core_dumped = rnd() % 2;
		ev_raw->process_exit = ev_fix->process_exit = &b->exit;
		break;
	case PETRI__AUDIT__V1__EVENT__BODY_FILE_ACTIVITY: {
		Petri__Audit__V1__FileActivity *raw = &b->file[0], *fix = &b->file[1];
		petri__audit__v1__file_activity__init(raw);
		raw->op = (Petri__Audit__V1__FileActivity__Op)(rnd() % 14);
		STR2(path, rnd() % 8 ? 12 : 900);
		STR2(path2, 6);
		raw->flags = rnd_u32();
		raw->mode = rnd_u32();
		raw->result = rnd_i32();
		raw->path_source = (Petri__Audit__V1__FileActivity__PathSource)(rnd() % 3);
		raw->path2_source = (Petri__Audit__V1__FileActivity__PathSource)(rnd() % 3);
		STR2(syscall, 2);
		raw->uid = rnd_u32();
		raw->gid = rnd_u32();
		raw->path_truncated = rnd() % 2;
		raw->path_raw = rnd_bytes(p);
		raw->path2_raw = rnd_bytes(p);
		raw->path2_truncated = rnd() % 2;
		raw->path_raced = rnd() % 2;
		raw->path2_raced = rnd() % 2;
		STR2(path_given, 6);
		STR2(path2_given, 6);
		*fix = *raw;
		fix->path_given = raw->path_given ? keep(p, repaired(raw->path_given)) : NULL;
		fix->path2_given = raw->path2_given ? keep(p, repaired(raw->path2_given)) : NULL;
		fix->path = raw->path ? keep(p, repaired(raw->path)) : NULL;
		fix->path2 = raw->path2 ? keep(p, repaired(raw->path2)) : NULL;
		fix->syscall = raw->syscall ? keep(p, repaired(raw->syscall)) : NULL;
		ev_raw->file_activity = raw;
		ev_fix->file_activity = fix;
		break;
	}
	case PETRI__AUDIT__V1__EVENT__BODY_NETWORK_ACTIVITY: {
		Petri__Audit__V1__NetworkActivity *raw = &b->net[0], *fix = &b->net[1];
		petri__audit__v1__network_activity__init(raw);
		raw->op = (Petri__Audit__V1__NetworkActivity__Op)(rnd() % 7);
		raw->family = rnd_u32();
		raw->address = rnd_bytes(p);
		STR2(address_text, 5);
		raw->port = rnd_u32();
		raw->protocol = rnd_u32();
		raw->result = rnd_i32();
		raw->denied = rnd() % 2;
		raw->local_address = rnd_bytes(p);
		STR2(local_address_text, 5);
		raw->local_port = rnd_u32();
		STR2(syscall, 2);
		raw->source = (Petri__Audit__V1__NetworkActivity__Source)(rnd() % 4);
		raw->socket_type = rnd_u32();
		raw->address_from_user = rnd() % 2;
		*fix = *raw;
		fix->address_text = raw->address_text ? keep(p, repaired(raw->address_text)) : NULL;
		fix->local_address_text =
			raw->local_address_text ? keep(p, repaired(raw->local_address_text)) : NULL;
		fix->syscall = raw->syscall ? keep(p, repaired(raw->syscall)) : NULL;
		ev_raw->network_activity = raw;
		ev_fix->network_activity = fix;
		break;
	}
	case PETRI__AUDIT__V1__EVENT__BODY_NET_CONNECTION: {
		Petri__Audit__V1__NetConnection *raw = &b->conn[0], *fix = &b->conn[1];
		petri__audit__v1__net_connection__init(raw);
		raw->via = (Petri__Audit__V1__NetConnection__Via)(rnd() % 3);
		raw->protocol = (Petri__Audit__V1__NetConnection__Protocol)(rnd() % 4);
		STR2(name, rnd() % 8 ? 6 : 40);
		raw->port = rnd_u32();
		STR2(sni_or_host, 6);
		STR2(http_method, 1);
		STR2(http_path, rnd() % 8 ? 12 : 200);
		STR2(address, 3);
		raw->bytes_up = rnd() % 2 ? rnd() : rnd_u32();
		raw->bytes_down = rnd() % 2 ? rnd() : rnd_u32();
		raw->start_time_unix_nano = rnd() % 4 ? rnd() : 0;
		raw->duration_ns = rnd() % 2 ? rnd() : rnd_u32();
		raw->decision = (Petri__Audit__V1__NetDecision)(rnd() % 3);
		STR2(reason, 3);
		raw->http_status = rnd_u32();
		raw->upstream_errno = rnd_i32();
		raw->name_raw = rnd_bytes(p);
		raw->sni_or_host_raw = rnd_bytes(p);
		raw->http_path_raw = rnd_bytes(p);
		*fix = *raw;
		fix->name = raw->name ? keep(p, repaired(raw->name)) : NULL;
		fix->sni_or_host = raw->sni_or_host ? keep(p, repaired(raw->sni_or_host)) : NULL;
		fix->http_method = raw->http_method ? keep(p, repaired(raw->http_method)) : NULL;
		fix->http_path = raw->http_path ? keep(p, repaired(raw->http_path)) : NULL;
		fix->address = raw->address ? keep(p, repaired(raw->address)) : NULL;
		fix->reason = raw->reason ? keep(p, repaired(raw->reason)) : NULL;
		ev_raw->net_connection = raw;
		ev_fix->net_connection = fix;
		break;
	}
	case PETRI__AUDIT__V1__EVENT__BODY_DNS_QUERY: {
		Petri__Audit__V1__DnsQuery *raw = &b->dns[0], *fix = &b->dns[1];
		petri__audit__v1__dns_query__init(raw);
		STR2(qname, rnd() % 8 ? 6 : 40);
		raw->qname_truncated = rnd() % 2;
		raw->qtype = rnd_u32();
		raw->rcode = rnd_u32();
		raw->decision = (Petri__Audit__V1__NetDecision)(rnd() % 3);
		STR2(reason, 3);
		STR2(answer_address, 2);
		raw->transport = (Petri__Audit__V1__DnsQuery__Transport)(rnd() % 3);
		raw->qname_raw = rnd_bytes(p);
		*fix = *raw;
		fix->qname = raw->qname ? keep(p, repaired(raw->qname)) : NULL;
		fix->reason = raw->reason ? keep(p, repaired(raw->reason)) : NULL;
		fix->answer_address = raw->answer_address ? keep(p, repaired(raw->answer_address)) :
							    NULL;
		ev_raw->dns_query = raw;
		ev_fix->dns_query = fix;
		break;
	}
	}
	ev_fix->time_unix_nano = ev_raw->time_unix_nano;
	ev_fix->body_case = ev_raw->body_case;
}

static const int kinds[] = {PETRI__AUDIT__V1__EVENT__BODY_PROCESS_EXEC,
			    PETRI__AUDIT__V1__EVENT__BODY_PROCESS_FORK,
			    PETRI__AUDIT__V1__EVENT__BODY_PROCESS_EXIT,
			    PETRI__AUDIT__V1__EVENT__BODY_FILE_ACTIVITY,
			    PETRI__AUDIT__V1__EVENT__BODY_NETWORK_ACTIVITY,
			    PETRI__AUDIT__V1__EVENT__BODY_NET_CONNECTION,
			    PETRI__AUDIT__V1__EVENT__BODY_DNS_QUERY};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static uint8_t enc[1 << 17], ref[1 << 17];

/* 35000 random events of the seven kinds, byte for byte against protobuf-c. */
static void test_randomized(void)
{
	size_t nfix = 0, nlong = 0, per_kind[NKINDS] = {0};

	for (int iter = 0; iter < 35000; iter++) {
		struct pool p = {.n = 0};
		struct bodies b;
		Ev raw = PETRI__AUDIT__V1__EVENT__INIT, fix = PETRI__AUDIT__V1__EVENT__INIT;
		int kind = kinds[iter % NKINDS];

		memset(&b, 0, sizeof(b));
		fill_event(&raw, &fix, &b, &p, kind);
		size_t mid = 0;
		long n = petri__audit_enc_parts(&raw, raw.time_unix_nano, enc, sizeof(enc), &mid);
		size_t want = protobuf_c_message_get_packed_size(&fix.base);

		REQUIRE(want <= sizeof(ref));
		REQUIRE(protobuf_c_message_pack(&fix.base, ref) == want);
		CHECK_MSG(n == (long)want && memcmp(enc, ref, want) == 0,
			  "iteration %d kind %d: %ld bytes vs protobuf-c's %zu", iter, kind, n,
			  want);
		/* The body starts with its field's tag, right after fields 2..5. */
		CHECK(n > 0 && mid < (size_t)n && enc[mid] == (uint8_t)((kind << 3 | 2) | 0x80));
		Ev *back = petri__audit__v1__event__unpack(NULL, n > 0 ? (size_t)n : 0, enc);
		CHECK(back && (int)back->body_case == kind);
		if (back)
			petri__audit__v1__event__free_unpacked(back, NULL);
		/* (how much of the space the randomization covered) */
		nfix += raw.sandbox_id && fix.sandbox_id && strcmp(raw.sandbox_id, fix.sandbox_id);
		nlong += want > 300;
		per_kind[iter % NKINDS] += n == (long)want && memcmp(enc, ref, want) == 0;
		for (size_t i = 0; i < p.n; i++)
			free(p.s[i]);
		if (petri_test_failures > 20)
			break;
	}
	CHECK(nfix > 100 && nlong > 100);
	for (size_t k = 0; k < NKINDS; k++)
		CHECK_MSG(per_kind[k] == 5000, "kind %d: %zu of 5000 identical", kinds[k],
			  per_kind[k]);
}

/* Every field of the proxy's kinds set (none at its default), invalid
 * UTF-8 and long strings: the hand encoder, protobuf-c and the writer's
 * emit path (through a stream) agree on every byte. */
static void test_net_kinds_full(void)
{
	char path[1100], name[300];
	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	memcpy(name + 10, "\xff\xfe", 2);
	uint8_t rawb[3] = {1, 2, 3};
	Petri__Audit__V1__NetConnection c = PETRI__AUDIT__V1__NET_CONNECTION__INIT;
	c.via = PETRI__AUDIT__V1__NET_CONNECTION__VIA__VIA_TRANSPARENT;
	c.protocol = PETRI__AUDIT__V1__NET_CONNECTION__PROTOCOL__PROTOCOL_TLS;
	c.name = name;
	c.port = 65535;
	c.sni_or_host = "sni.example";
	c.http_method = "PATCH";
	c.http_path = path;
	c.address = "2001:db8::1";
	c.bytes_up = UINT64_MAX;
	c.bytes_down = 1ull << 40;
	c.start_time_unix_nano = 1700000000000000001ull;
	c.duration_ns = 3;
	c.decision = PETRI__AUDIT__V1__NET_DECISION__NET_DECISION_DENIED;
	c.reason = "sni/host mismatch";
	c.http_status = 421;
	c.upstream_errno = -1;
	c.name_raw.len = c.sni_or_host_raw.len = c.http_path_raw.len = 3;
	c.name_raw.data = c.sni_or_host_raw.data = c.http_path_raw.data = rawb;
	Petri__Audit__V1__DnsQuery d = PETRI__AUDIT__V1__DNS_QUERY__INIT;
	d.qname = name;
	d.qname_truncated = 1;
	d.qtype = 65535;
	d.rcode = 5;
	d.decision = PETRI__AUDIT__V1__NET_DECISION__NET_DECISION_ALLOWED;
	d.reason = "allowed";
	d.answer_address = "127.80.0.1";
	d.transport = PETRI__AUDIT__V1__DNS_QUERY__TRANSPORT__TRANSPORT_TCP;
	d.qname_raw = c.name_raw;

	for (int k = 0; k < 2; k++) {
		Ev raw = PETRI__AUDIT__V1__EVENT__INIT;
		raw.sandbox_id = "sb";
		raw.exec_id = "sb:1";
		if (k == 0) {
			raw.body_case = PETRI__AUDIT__V1__EVENT__BODY_NET_CONNECTION;
			raw.net_connection = &c;
		} else {
			raw.body_case = PETRI__AUDIT__V1__EVENT__BODY_DNS_QUERY;
			raw.dns_query = &d;
		}
		size_t mid = 0;
		long n = petri__audit_enc_parts(&raw, 42, enc, sizeof(enc), &mid);
		/* protobuf-c on the same event with its strings repaired. */
		char *fixed = repaired(name);
		Ev fix = raw;
		Petri__Audit__V1__NetConnection fc = c;
		Petri__Audit__V1__DnsQuery fd = d;
		fc.name = fixed;
		fd.qname = fixed;
		if (k == 0) /* (one member of the body's union) */
			fix.net_connection = &fc;
		else
			fix.dns_query = &fd;
		fix.time_unix_nano = 42;
		size_t want = protobuf_c_message_get_packed_size(&fix.base);
		REQUIRE(want <= sizeof(ref));
		protobuf_c_message_pack(&fix.base, ref);
		CHECK_MSG(n == (long)want && memcmp(enc, ref, want) == 0,
			  "kind %d: %ld bytes vs protobuf-c's %zu", (int)raw.body_case, n, want);
		Ev *back = petri__audit__v1__event__unpack(NULL, want, ref);
		REQUIRE(back);
		if (k == 0) {
			CHECK(back->net_connection->bytes_up == UINT64_MAX);
			CHECK(back->net_connection->upstream_errno == -1);
			CHECK(strlen(back->net_connection->http_path) == sizeof(path) - 1);
			CHECK(strstr(back->net_connection->name, "\xef\xbf\xbd\xef\xbf\xbd"));
		} else {
			CHECK(back->dns_query->qtype == 65535 && back->dns_query->qname_truncated);
		}
		petri__audit__v1__event__free_unpacked(back, NULL);
		free(fixed);
	}
}

/* Kinds it does not encode are left to protobuf-c. */
static void test_other_kinds(void)
{
	Ev other = PETRI__AUDIT__V1__EVENT__INIT;
	Petri__Audit__V1__LimitHit lh = PETRI__AUDIT__V1__LIMIT_HIT__INIT;
	other.body_case = PETRI__AUDIT__V1__EVENT__BODY_LIMIT_HIT;
	other.limit_hit = &lh;
	size_t mid;
	CHECK(petri__audit_enc_parts(&other, 1, enc, sizeof(enc), &mid) == -1);
}

/* No room: -1, never a write past the end. */
static void test_no_room(void)
{
	size_t mid;
	Ev small = PETRI__AUDIT__V1__EVENT__INIT;
	Petri__Audit__V1__ProcessFork f = PETRI__AUDIT__V1__PROCESS_FORK__INIT;
	small.body_case = PETRI__AUDIT__V1__EVENT__BODY_PROCESS_FORK;
	small.process_fork = &f;
	small.sandbox_id = "sandbox";
	memset(enc, 0xaa, 16);
	CHECK(petri__audit_enc_parts(&small, 1, enc, 5, &mid) == -1);
	CHECK(enc[5] == 0xaa);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(randomized),
	PETRI_TEST_CASE(net_kinds_full),
	PETRI_TEST_CASE(other_kinds),
	PETRI_TEST_CASE(no_room),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
