/* SPDX-License-Identifier: Apache-2.0 */
/* audit_sample.c - see audit_sample.h. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "petri_test.h"
#include "audit_sample.h"
#include "petri/audit/v1/audit.pb-c.h"

int mem_sink_fn(const void *data, size_t len, void *userdata)
{
	struct mem_sink *m = userdata;
	pthread_mutex_lock(&m->mu);
	if (m->len + len > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 4096;
		while (cap < m->len + len)
			cap *= 2;
		uint8_t *np = realloc(m->p, cap);
		REQUIRE(np);
		m->p = np;
		m->cap = cap;
	}
	memcpy(m->p + m->len, data, len);
	m->len += len;
	m->calls++;
	pthread_mutex_unlock(&m->mu);
	return 0;
}

petri_audit *sample_open_mem(struct mem_sink *m)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->mu, NULL);
	petri_audit_opts o = PETRI_AUDIT_OPTS_INIT;
	o.sink = PETRI_AUDIT_SINK_CALLBACK;
	o.sink_fn = mem_sink_fn;
	o.sink_userdata = m;
	o.kernel_audit_reason = "test: no BPF";
	petri_audit *a = NULL;
	petri_error *err = NULL;
	int r = petri_audit_open(&a, &o, &err);
	CHECK_MSG(r == 0, "petri_audit_open: %s", petri_error_message(err));
	petri_error_free(err);
	REQUIRE(a);
	return a;
}

static const petri_audit_process PROC = {7, 4242, 1, 1000, "python3", "/usr/bin/python3"};

/* Emit an event built with protoc-c through petri_audit_emit_encoded():
 * a kernel-side kind (with the process "sh"), or with @no_process one of
 * the egress proxy's (which has none). */
static void emit_pb_as(petri_audit *a, Petri__Audit__V1__Event *ev, int no_process)
{
	Petri__Audit__V1__Process p = PETRI__AUDIT__V1__PROCESS__INIT;
	p.pid_inside = 9;
	p.pid_host = 5151;
	p.ppid = 7;
	p.uid = 1000;
	p.comm = "sh";
	p.executable = "/bin/sh";
	ev->sandbox_id = "sb_test";
	ev->exec_id = "ex_2";
	ev->process = no_process ? NULL : &p;
	ev->time_unix_nano = 1700000000123456789ull;
	size_t n = petri__audit__v1__event__get_packed_size(ev);
	uint8_t *buf = malloc(n ? n : 1);
	REQUIRE(buf);
	petri__audit__v1__event__pack(ev, buf);
	petri_error *err = NULL;
	int r = petri_audit_emit_encoded(a, buf, n, &err);
	CHECK_MSG(r == 0, "emit_encoded kind %d: %d %s", (int)ev->body_case, r,
		  petri_error_message(err));
	petri_error_free(err);
	free(buf);
}

static void emit_pb(petri_audit *a, Petri__Audit__V1__Event *ev)
{
	emit_pb_as(a, ev, 0);
}

int sample_emit_all(petri_audit *a)
{
	int n = 0;
	petri_error *err = NULL;
	const char *argv[] = {"python3", "-c", "print(1)", NULL};
	CHECK(petri_audit_emit_sandbox_created(a, "sb_test", "python", 12345, 4000, &err) == 0);
	n++;
	CHECK(petri_audit_emit_exec_started(a, "sb_test", "ex_1", &PROC, argv, "/workspace",
					    "python", &err) == 0);
	n++;
	{
		Petri__Audit__V1__Event ev = PETRI__AUDIT__V1__EVENT__INIT;
		Petri__Audit__V1__ProcessExec b = PETRI__AUDIT__V1__PROCESS_EXEC__INIT;
		char *av[] = {"sh", "-c", "echo hi"};
		b.n_argv = 3;
		b.argv = av;
		b.cwd = "/workspace";
		b.filename = "/bin/sh";
		ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_PROCESS_EXEC;
		ev.process_exec = &b;
		emit_pb(a, &ev);
		n++;
	}
	{
		Petri__Audit__V1__Event ev = PETRI__AUDIT__V1__EVENT__INIT;
		Petri__Audit__V1__ProcessFork b = PETRI__AUDIT__V1__PROCESS_FORK__INIT;
		b.child_pid_inside = 10;
		b.child_pid_host = 5152;
		ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_PROCESS_FORK;
		ev.process_fork = &b;
		emit_pb(a, &ev);
		n++;
	}
	{
		Petri__Audit__V1__Event ev = PETRI__AUDIT__V1__EVENT__INIT;
		Petri__Audit__V1__FileActivity b = PETRI__AUDIT__V1__FILE_ACTIVITY__INIT;
		b.op = PETRI__AUDIT__V1__FILE_ACTIVITY__OP__OP_RENAME;
		b.path = "/workspace/a\n\"b\"";
		b.path2 = "/workspace/\xff\xfe";
		b.flags = 0x80241;
		b.mode = 0644;
		b.result = -13;
		b.path_source =
			PETRI__AUDIT__V1__FILE_ACTIVITY__PATH_SOURCE__PATH_SOURCE_KERNEL_FILE;
		b.path2_source =
			PETRI__AUDIT__V1__FILE_ACTIVITY__PATH_SOURCE__PATH_SOURCE_USER_MEMORY;
		b.syscall = "renameat2";
		ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_FILE_ACTIVITY;
		ev.file_activity = &b;
		emit_pb(a, &ev);
		n++;
	}
	{
		Petri__Audit__V1__Event ev = PETRI__AUDIT__V1__EVENT__INIT;
		Petri__Audit__V1__NetworkActivity b = PETRI__AUDIT__V1__NETWORK_ACTIVITY__INIT;
		static uint8_t addr[4] = {93, 184, 216, 34};
		b.op = PETRI__AUDIT__V1__NETWORK_ACTIVITY__OP__OP_CONNECT;
		b.family = 2;
		b.address.len = 4;
		b.address.data = addr;
		b.address_text = "93.184.216.34";
		b.port = 443;
		b.protocol = 6;
		b.result = -1;
		b.denied = 1;
		ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_NETWORK_ACTIVITY;
		ev.network_activity = &b;
		emit_pb(a, &ev);
		n++;
	}
	{
		Petri__Audit__V1__Event ev = PETRI__AUDIT__V1__EVENT__INIT;
		Petri__Audit__V1__NetConnection b = PETRI__AUDIT__V1__NET_CONNECTION__INIT;
		b.via = PETRI__AUDIT__V1__NET_CONNECTION__VIA__VIA_PROXY;
		b.protocol = PETRI__AUDIT__V1__NET_CONNECTION__PROTOCOL__PROTOCOL_HTTP;
		b.name = "pypi.example.org";
		b.port = 8080;
		b.sni_or_host = "pypi.example.org";
		b.http_method = "GET";
		b.http_path = "/simple/\xffpkg/";
		b.address = "127.0.0.1";
		b.bytes_up = 120;
		b.bytes_down = 5000;
		b.start_time_unix_nano = 1700000000000000000ull;
		b.duration_ns = 2500000;
		b.decision = PETRI__AUDIT__V1__NET_DECISION__NET_DECISION_ALLOWED;
		b.reason = "allowed";
		ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_NET_CONNECTION;
		ev.net_connection = &b;
		emit_pb_as(a, &ev, 1);
		n++;
	}
	{
		Petri__Audit__V1__Event ev = PETRI__AUDIT__V1__EVENT__INIT;
		Petri__Audit__V1__DnsQuery b = PETRI__AUDIT__V1__DNS_QUERY__INIT;
		b.qname = "exfil.evil.example";
		b.qtype = 16;
		b.rcode = 3;
		b.decision = PETRI__AUDIT__V1__NET_DECISION__NET_DECISION_DENIED;
		b.reason = "name not allowed";
		b.transport = PETRI__AUDIT__V1__DNS_QUERY__TRANSPORT__TRANSPORT_UDP;
		ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_DNS_QUERY;
		ev.dns_query = &b;
		emit_pb_as(a, &ev, 1);
		n++;
	}
	CHECK(petri_audit_emit_denial(a, "sb_test", "ex_1", &PROC, PETRI_AUDIT_DENIAL_SECCOMP,
				      "ptrace", 101, "blocked by the default profile", &err) == 0);
	n++;
	CHECK(petri_audit_emit_limit_hit(a, "sb_test", "ex_1", &PROC, "memory", 268435456,
					 268439552, &err) == 0);
	n++;
	CHECK(petri_audit_emit_secret_use(a, "sb_test", "ex_1", "OPENAI_KEY", "api.openai.com:443",
					  1, &err) == 0);
	n++;
	{
		Petri__Audit__V1__Event ev = PETRI__AUDIT__V1__EVENT__INIT;
		Petri__Audit__V1__ProcessExit b = PETRI__AUDIT__V1__PROCESS_EXIT__INIT;
		b.exit_code = 3;
		b.signal = 0;
		ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_PROCESS_EXIT;
		ev.process_exit = &b;
		emit_pb(a, &ev);
		n++;
	}
	{
		Petri__Audit__V1__Event ev = PETRI__AUDIT__V1__EVENT__INIT;
		Petri__Audit__V1__Loss b = PETRI__AUDIT__V1__LOSS__INIT;
		b.kind = PETRI__AUDIT__V1__EVENT_KIND__EVENT_KIND_FILE_ACTIVITY;
		b.count = 17;
		b.where = PETRI__AUDIT__V1__LOSS__WHERE__WHERE_KERNEL_RINGBUF;
		b.first_kseq = 100;
		b.last_kseq = 116;
		ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_LOSS;
		ev.loss = &b;
		emit_pb(a, &ev);
		n++;
	}
	petri_audit_exec_result res = {sizeof(res),
				       -1,
				       9,
				       PETRI_REASON_MEMORY,
				       PETRI_LIMIT_MEMORY | PETRI_LIMIT_CPU,
				       0,
				       1500000000,
				       900000000,
				       268435456};
	CHECK(petri_audit_emit_exec_ended(a, "sb_test", "ex_1", &PROC, &res, &err) == 0);
	n++;
	CHECK(petri_audit_emit_sandbox_destroyed(a, "sb_test", "destroyed", &err) == 0);
	n++;
	petri_error_free(err);
	return n;
}

int sample_frames(const uint8_t *buf, size_t len, size_t *offs, int max)
{
	size_t pos = 0;
	int n = 0;
	while (pos < len) {
		if (n >= max)
			return -1;
		offs[n++] = pos;
		uint64_t l = 0;
		int shift = 0;
		while (pos < len && (buf[pos] & 0x80)) {
			l |= (uint64_t)(buf[pos++] & 0x7f) << shift;
			shift += 7;
		}
		if (pos >= len)
			return -1;
		l |= (uint64_t)buf[pos++] << shift;
		pos += l;
	}
	if (pos != len)
		return -1;
	offs[n] = len;
	return n;
}

#define STR_EQ(a, b) CHECK_MSG((a) && strcmp((a), (b)) == 0, "%s = '%s', want '%s'", #a, (a), (b))

static void check_proc(const Petri__Audit__V1__Process *p, int kernel)
{
	REQUIRE(p);
	CHECK(p->pid_inside == (kernel ? 9u : 7u));
	CHECK(p->pid_host == (kernel ? 5151u : 4242u));
	CHECK(p->ppid == (kernel ? 7u : 1u));
	CHECK(p->uid == 1000);
	STR_EQ(p->comm, kernel ? "sh" : "python3");
	STR_EQ(p->executable, kernel ? "/bin/sh" : "/usr/bin/python3");
}

void sample_check(const uint8_t *buf, size_t len)
{
	size_t offs[64];
	int n = sample_frames(buf, len, offs, 63);
	CHECK_MSG(n == SAMPLE_EVENTS, "%d frames, want %d", n, SAMPLE_EVENTS);
	if (n != SAMPLE_EVENTS)
		return;
	static const int kinds[SAMPLE_EVENTS] = {16, 18, 20, 22, 23, 25, 26, 32, 33,
						 27, 28, 29, 24, 30, 21, 19, 17};
	for (int i = 0; i < n; i++) {
		size_t p = offs[i];
		while (buf[p] & 0x80)
			p++;
		p++;
		Petri__Audit__V1__Event *ev =
			petri__audit__v1__event__unpack(NULL, offs[i + 1] - p, buf + p);
		REQUIRE(ev);
		CHECK_MSG((int)ev->body_case == kinds[i], "event %d kind %d want %d", i,
			  (int)ev->body_case, kinds[i]);
		CHECK(ev->seq == (uint64_t)i);
		CHECK(ev->hash.len == 32);
		CHECK(ev->prev_hash.len == (i ? 32u : 0u));
		CHECK(ev->time_unix_nano > 1600000000000000000ull);
		switch (ev->body_case) {
		case PETRI__AUDIT__V1__EVENT__BODY_STREAM_HEADER: {
			const Petri__Audit__V1__StreamHeader *h = ev->stream_header;
			CHECK(h->schema_version == 1);
			STR_EQ(h->library_version, petri_version());
			STR_EQ(h->hash_algorithm, "sha-256");
			CHECK(!h->kernel_audit);
			STR_EQ(h->kernel_audit_reason, "test: no BPF");
			CHECK(strlen(h->stream_id) == 32);
			CHECK(strlen(h->boot_id) == 36);
			CHECK(h->host_name[0] != '\0');
			CHECK(h->writer_pid == (uint32_t)getpid());
			break;
		}
		case PETRI__AUDIT__V1__EVENT__BODY_SANDBOX_CREATED:
			STR_EQ(ev->sandbox_id, "sb_test");
			STR_EQ(ev->sandbox_created->language, "python");
			CHECK(ev->sandbox_created->cgroup_id == 12345);
			CHECK(ev->sandbox_created->init_pid_host == 4000);
			CHECK(ev->process == NULL);
			break;
		case PETRI__AUDIT__V1__EVENT__BODY_EXEC_STARTED: {
			const Petri__Audit__V1__ExecStarted *b = ev->exec_started;
			STR_EQ(ev->exec_id, "ex_1");
			check_proc(ev->process, 0);
			CHECK(b->n_argv == 3);
			if (b->n_argv == 3) {
				STR_EQ(b->argv[0], "python3");
				STR_EQ(b->argv[2], "print(1)");
			}
			STR_EQ(b->cwd, "/workspace");
			STR_EQ(b->language, "python");
			break;
		}
		case PETRI__AUDIT__V1__EVENT__BODY_PROCESS_EXEC: {
			const Petri__Audit__V1__ProcessExec *b = ev->process_exec;
			check_proc(ev->process, 1);
			STR_EQ(ev->exec_id, "ex_2");
			CHECK(ev->time_unix_nano == 1700000000123456789ull);
			CHECK(b->n_argv == 3);
			if (b->n_argv == 3)
				STR_EQ(b->argv[2], "echo hi");
			STR_EQ(b->cwd, "/workspace");
			STR_EQ(b->filename, "/bin/sh");
			break;
		}
		case PETRI__AUDIT__V1__EVENT__BODY_PROCESS_FORK:
			CHECK(ev->process_fork->child_pid_inside == 10);
			CHECK(ev->process_fork->child_pid_host == 5152);
			CHECK(!ev->process_fork->is_thread);
			break;
		case PETRI__AUDIT__V1__EVENT__BODY_FILE_ACTIVITY: {
			const Petri__Audit__V1__FileActivity *b = ev->file_activity;
			CHECK(b->op == PETRI__AUDIT__V1__FILE_ACTIVITY__OP__OP_RENAME);
			STR_EQ(b->path, "/workspace/a\n\"b\"");
			STR_EQ(b->path2, "/workspace/\xef\xbf\xbd\xef\xbf\xbd");
			CHECK(b->flags == 0x80241);
			CHECK(b->mode == 0644);
			CHECK(b->result == -13);
			CHECK(b->path_source ==
			      PETRI__AUDIT__V1__FILE_ACTIVITY__PATH_SOURCE__PATH_SOURCE_KERNEL_FILE);
			CHECK(b->path2_source ==
			      PETRI__AUDIT__V1__FILE_ACTIVITY__PATH_SOURCE__PATH_SOURCE_USER_MEMORY);
			STR_EQ(b->syscall, "renameat2");
			break;
		}
		case PETRI__AUDIT__V1__EVENT__BODY_NETWORK_ACTIVITY: {
			const Petri__Audit__V1__NetworkActivity *b = ev->network_activity;
			CHECK(b->op == PETRI__AUDIT__V1__NETWORK_ACTIVITY__OP__OP_CONNECT);
			CHECK(b->family == 2);
			CHECK(b->address.len == 4 &&
			      memcmp(b->address.data, "\x5d\xb8\xd8\x22", 4) == 0);
			STR_EQ(b->address_text, "93.184.216.34");
			CHECK(b->port == 443);
			CHECK(b->protocol == 6);
			CHECK(b->result == -1);
			CHECK(b->denied);
			break;
		}
		case PETRI__AUDIT__V1__EVENT__BODY_NET_CONNECTION: {
			const Petri__Audit__V1__NetConnection *b = ev->net_connection;
			CHECK(ev->process == NULL);
			STR_EQ(ev->exec_id, "ex_2");
			CHECK(b->via == PETRI__AUDIT__V1__NET_CONNECTION__VIA__VIA_PROXY);
			CHECK(b->protocol ==
			      PETRI__AUDIT__V1__NET_CONNECTION__PROTOCOL__PROTOCOL_HTTP);
			STR_EQ(b->name, "pypi.example.org");
			CHECK(b->port == 8080);
			STR_EQ(b->sni_or_host, "pypi.example.org");
			STR_EQ(b->http_method, "GET");
			STR_EQ(b->http_path, "/simple/\xef\xbf\xbdpkg/");
			STR_EQ(b->address, "127.0.0.1");
			CHECK(b->bytes_up == 120 && b->bytes_down == 5000);
			CHECK(b->start_time_unix_nano == 1700000000000000000ull);
			CHECK(b->duration_ns == 2500000);
			CHECK(b->decision == PETRI__AUDIT__V1__NET_DECISION__NET_DECISION_ALLOWED);
			STR_EQ(b->reason, "allowed");
			CHECK(b->http_status == 0 && b->upstream_errno == 0);
			break;
		}
		case PETRI__AUDIT__V1__EVENT__BODY_DNS_QUERY: {
			const Petri__Audit__V1__DnsQuery *b = ev->dns_query;
			CHECK(ev->process == NULL);
			STR_EQ(b->qname, "exfil.evil.example");
			CHECK(b->qtype == 16 && b->rcode == 3);
			CHECK(b->decision == PETRI__AUDIT__V1__NET_DECISION__NET_DECISION_DENIED);
			STR_EQ(b->reason, "name not allowed");
			CHECK(b->transport ==
			      PETRI__AUDIT__V1__DNS_QUERY__TRANSPORT__TRANSPORT_UDP);
			CHECK(!b->answer_address || !*b->answer_address);
			break;
		}
		case PETRI__AUDIT__V1__EVENT__BODY_POLICY_DENIAL: {
			const Petri__Audit__V1__PolicyDenial *b = ev->policy_denial;
			check_proc(ev->process, 0);
			CHECK(b->kind == PETRI__AUDIT__V1__POLICY_DENIAL__KIND__KIND_SECCOMP);
			STR_EQ(b->syscall, "ptrace");
			CHECK(b->syscall_nr == 101);
			STR_EQ(b->detail, "blocked by the default profile");
			break;
		}
		case PETRI__AUDIT__V1__EVENT__BODY_LIMIT_HIT:
			STR_EQ(ev->limit_hit->limit, "memory");
			CHECK(ev->limit_hit->value == 268435456);
			CHECK(ev->limit_hit->observed == 268439552);
			break;
		case PETRI__AUDIT__V1__EVENT__BODY_SECRET_USE:
			STR_EQ(ev->secret_use->name, "OPENAI_KEY");
			STR_EQ(ev->secret_use->destination, "api.openai.com:443");
			CHECK(ev->secret_use->allowed);
			break;
		case PETRI__AUDIT__V1__EVENT__BODY_PROCESS_EXIT:
			CHECK(ev->process_exit->exit_code == 3);
			CHECK(ev->process_exit->signal == 0);
			break;
		case PETRI__AUDIT__V1__EVENT__BODY_LOSS:
			CHECK(ev->loss->kind ==
			      PETRI__AUDIT__V1__EVENT_KIND__EVENT_KIND_FILE_ACTIVITY);
			CHECK(ev->loss->count == 17);
			CHECK(ev->loss->where ==
			      PETRI__AUDIT__V1__LOSS__WHERE__WHERE_KERNEL_RINGBUF);
			CHECK(ev->loss->first_kseq == 100 && ev->loss->last_kseq == 116);
			break;
		case PETRI__AUDIT__V1__EVENT__BODY_EXEC_ENDED: {
			const Petri__Audit__V1__ExecResult *r = ev->exec_ended->result;
			REQUIRE(r);
			check_proc(ev->process, 0);
			CHECK(r->exit_code == -1);
			CHECK(r->signal == 9);
			STR_EQ(r->reason, "memory");
			CHECK(r->wall_ns == 1500000000);
			CHECK(r->cpu_ns == 900000000);
			CHECK(r->peak_memory_bytes == 268435456);
			CHECK(r->n_limits_hit == 2);
			if (r->n_limits_hit == 2) {
				STR_EQ(r->limits_hit[0], "memory");
				STR_EQ(r->limits_hit[1], "cpu");
			}
			break;
		}
		case PETRI__AUDIT__V1__EVENT__BODY_SANDBOX_DESTROYED:
			STR_EQ(ev->sandbox_destroyed->reason, "destroyed");
			break;
		case PETRI__AUDIT__V1__EVENT__BODY_STREAM_END: {
			const Petri__Audit__V1__StreamEnd *e = ev->stream_end;
			CHECK(e->total_written == SAMPLE_EVENTS - 1);
			CHECK(e->total_lost == 17);
			CHECK(e->lost_unreported == 0);
			uint64_t w = 0, l = 0;
			for (size_t k = 0; k < e->n_kinds; k++) {
				w += e->kinds[k]->written;
				l += e->kinds[k]->lost;
				if (e->kinds[k]->kind == 25)
					CHECK(e->kinds[k]->written == 1 && e->kinds[k]->lost == 17);
			}
			CHECK_MSG(w == SAMPLE_EVENTS, "kinds written %llu", (unsigned long long)w);
			CHECK(l == 17);
			CHECK(e->n_kinds == SAMPLE_EVENTS);
			break;
		}
		default:
			CHECK_MSG(0, "unexpected kind %d", (int)ev->body_case);
		}
		petri__audit__v1__event__free_unpacked(ev, NULL);
	}
}
