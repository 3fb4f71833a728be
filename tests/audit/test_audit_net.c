/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_audit_net.c - the egress proxy's audit events (issue 12, item 4),
 * written through the library's own hooks, petri__audit_net_conn() and
 * petri__audit_net_dns() (libpetri/audit_hooks.c), on a real sandbox whose
 * stream is a file, without the proxy: the tests call the hooks as the
 * proxy's thread does, with every field set.
 *
 *  conn_fields     connections allowed and refused (TLS, plain HTTP,
 *                  CONNECT with an upstream failure, the longest name and
 *                  path, bytes that are not UTF-8): read back with the
 *                  library's reader, every field; the chain verifies
 *  dns_fields      DNS exchanges (allowed A, refused TXT exfiltration,
 *                  AAAA without data, malformed, truncated non-UTF-8 name)
 *  exec_id         an event written while an exec runs carries its id and
 *                  comes between its start and end; one after it, none
 *  concurrent      four "proxy" threads emit while the sandbox runs execs:
 *                  nothing lost, the chain verifies, the counts add up
 *  no_stream       a sandbox without a stream: the hooks do nothing
 *  cli             `petri audit cat|json|verify` on that stream: the text
 *                  fields, the OCSF mapping (4001 Network Activity Open /
 *                  Refuse, 4002 HTTP Activity with http_request and
 *                  http_response, 4003 DNS Activity with query, rcode and
 *                  answers) parsed with json-c, U+FFFD for invalid bytes
 * With `--write FILE` it writes the stream of the cli case to FILE instead
 * (ctest then checks it with check_json.py and decode_independent.py).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <json-c/json.h>

#include "host.h"
#include "net/net.h"
#include "petri/audit.h"
#include "petri/audit/v1/audit.pb-c.h"
#include "petri_test.h"
#include "audit_stream.h"

typedef Petri__Audit__V1__Event Ev;
typedef Petri__Audit__V1__NetConnection Conn;
typedef Petri__Audit__V1__DnsQuery Dns;

#define ALLOWED PETRI__AUDIT__V1__NET_DECISION__NET_DECISION_ALLOWED
#define DENIED PETRI__AUDIT__V1__NET_DECISION__NET_DECISION_DENIED

static char stream_path[64];

static void cleanup(void)
{
	if (stream_path[0])
		unlink(stream_path);
}

/* A sandbox of the test context sending to the stream file @path, or to
 * a new temporary one (stream_path) when @path is NULL. */
static petri_sandbox *sandbox_with_stream_at(petri_audit **a, uint32_t queue_events,
					     const char *path)
{
	petri_audit_opts ao = PETRI_AUDIT_OPTS_INIT;
	petri_error *e = NULL;
	if (!path) {
		snprintf(stream_path, sizeof(stream_path), "/tmp/petri-audit-net-XXXXXX");
		int fd = mkstemp(stream_path);
		REQUIRE(fd >= 0);
		close(fd);
		atexit(cleanup);
		path = stream_path;
	}
	ao.sink = PETRI_AUDIT_SINK_FILE;
	ao.path = path;
	ao.queue_events = queue_events;
	REQUIRE(petri_audit_open(a, &ao, &e) == 0);
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.audit = *a;
	petri_sandbox *sb = NULL;
	int r = petri_sandbox_create(petri_test_ctx(), &so, &sb, &e);
	CHECK_MSG(r == 0, "create: %s", petri_error_message(e));
	petri_error_free(e);
	REQUIRE(r == 0 && sb);
	return sb;
}

static petri_sandbox *sandbox_with_stream(petri_audit **a, uint32_t queue_events)
{
	return sandbox_with_stream_at(a, queue_events, NULL);
}

static void destroy_and_close(petri_sandbox *sb, petri_audit *a)
{
	petri_error *e = NULL;
	petri_sandbox_destroy(sb);
	int r = petri_audit_close(a, &e);
	CHECK_MSG(r == 0, "close: %s", petri_error_message(e));
	petri_error_free(e);
}

/* ---- what the tests write ------------------------------------------------ */

#define T0 1765000000123456789ull /* a start time */

/* The longest host name (253: labels of 63, 63, 63, 61) and path (1023). */
static char long_name[254], long_path[PETRI_NET_PATH_MAX];

static void make_long(void)
{
	memset(long_name, 'a', 253);
	long_name[63] = long_name[127] = long_name[191] = '.';
	long_name[253] = '\0';
	long_path[0] = '/';
	memset(long_path + 1, 'p', sizeof(long_path) - 2);
	long_path[sizeof(long_path) - 1] = '\0';
}

static struct petri_net_addr v4(const char *s)
{
	struct petri_net_addr a = {.family = AF_INET};
	REQUIRE(inet_pton(AF_INET, s, a.a) == 1);
	return a;
}

static struct petri_net_addr v6(const char *s)
{
	struct petri_net_addr a = {.family = AF_INET6};
	REQUIRE(inet_pton(AF_INET6, s, a.a) == 1);
	return a;
}

#define NCONN 7
static struct petri_net_conn_info conns[NCONN];

static void fill_conns(void)
{
	make_long();
	struct petri_net_conn_info *c = conns;
	memset(conns, 0, sizeof(conns));

	/* 0: allowed TLS to a synthetic address. */
	c[0].via = PETRI_NET_VIA_TRANSPARENT;
	c[0].protocol = PETRI_NET_PROTO_TLS;
	strcpy(c[0].name, "api.example.com");
	c[0].port = 443;
	strcpy(c[0].sni_host, "api.example.com");
	c[0].addr = v4("93.184.216.34");
	c[0].bytes_up = 1234;
	c[0].bytes_down = 56789;
	c[0].start_ns = T0;
	c[0].duration_ns = 1500000;
	c[0].allowed = 1;
	c[0].reason = "allowed";

	/* 1: allowed plain HTTP through the explicit proxy, IPv6 upstream. */
	c[1].via = PETRI_NET_VIA_PROXY;
	c[1].protocol = PETRI_NET_PROTO_HTTP;
	strcpy(c[1].name, "pypi.example.org");
	c[1].port = 8080;
	strcpy(c[1].sni_host, "pypi.example.org");
	strcpy(c[1].method, "POST");
	strcpy(c[1].path, "/upload?x=1&y=%20");
	c[1].addr = v6("2001:db8::5");
	c[1].bytes_up = 300;
	c[1].bytes_down = 20;
	c[1].start_ns = T0 + 1000;
	c[1].duration_ns = 7000000;
	c[1].allowed = 1;
	c[1].reason = "allowed";

	/* 2: a name not on the list, refused with a 403. */
	c[2].via = PETRI_NET_VIA_PROXY;
	c[2].protocol = PETRI_NET_PROTO_HTTP;
	strcpy(c[2].name, "evil.example");
	c[2].port = 80;
	strcpy(c[2].sni_host, "evil.example");
	strcpy(c[2].method, "GET");
	strcpy(c[2].path, "/steal?d=secret");
	c[2].bytes_up = 80;
	c[2].start_ns = T0 + 2000;
	c[2].duration_ns = 20000;
	c[2].allowed = 0;
	c[2].reason = "name not allowed";
	c[2].status = 403;

	/* 3: SNI that is not the name behind the address: refused. */
	c[3].via = PETRI_NET_VIA_TRANSPARENT;
	c[3].protocol = PETRI_NET_PROTO_TLS;
	strcpy(c[3].name, "api.example.com");
	c[3].port = 443;
	strcpy(c[3].sni_host, "fronted.example.net");
	c[3].bytes_up = 517;
	c[3].start_ns = T0 + 3000;
	c[3].duration_ns = 30000;
	c[3].allowed = 0;
	c[3].reason = "sni/host mismatch";

	/* 4: CONNECT allowed, the upstream refused the connection: 502. */
	c[4].via = PETRI_NET_VIA_PROXY;
	c[4].protocol = PETRI_NET_PROTO_OPAQUE;
	strcpy(c[4].name, "down.example.com");
	c[4].port = 443;
	c[4].addr = v4("198.51.100.7");
	c[4].start_ns = T0 + 4000;
	c[4].duration_ns = 900000;
	c[4].allowed = 1;
	c[4].reason = "allowed";
	c[4].status = 502;
	c[4].error = ECONNREFUSED;

	/* 5: the longest name and path. */
	c[5].via = PETRI_NET_VIA_PROXY;
	c[5].protocol = PETRI_NET_PROTO_HTTP;
	strcpy(c[5].name, long_name);
	c[5].port = 80;
	strcpy(c[5].sni_host, long_name);
	strcpy(c[5].method, "OPTIONS");
	strcpy(c[5].path, long_path);
	c[5].addr = v4("203.0.113.9");
	c[5].bytes_up = UINT64_MAX - 1;
	c[5].bytes_down = 1ull << 40;
	c[5].start_ns = T0 + 5000;
	c[5].duration_ns = 1;
	c[5].allowed = 1;
	c[5].reason = "allowed";

	/* 6: bytes that are not UTF-8 in the name, Host and path. */
	c[6].via = PETRI_NET_VIA_PROXY;
	c[6].protocol = PETRI_NET_PROTO_HTTP;
	strcpy(c[6].name, "bad\xffname.example");
	c[6].port = 80;
	strcpy(c[6].sni_host, "bad\xffname.example");
	strcpy(c[6].method, "PATCH");
	strcpy(c[6].path, "/x\xc3\x28y");
	c[6].start_ns = T0 + 6000;
	c[6].duration_ns = 10;
	c[6].allowed = 0;
	c[6].reason = "malformed";
	c[6].status = 400;
}

#define NDNS 5
static struct petri_net_dns_info dnss[NDNS];
static const int dns_tcp[NDNS] = {0, 1, 0, 0, 1};
/* A TXT lookup carrying data in a 63-byte label. */
#define EXFIL "mzxw6ytboi2dimjqgezdgnbvgy3tqojqgezdgnbvgy3tqojqgezdgnbvgy3tqoj.evil.example"

static void fill_dns(void)
{
	struct petri_net_dns_info *d = dnss;
	memset(dnss, 0, sizeof(dnss));
	strcpy(d[0].qname, "api.example.com");
	d[0].qtype = 1;
	d[0].rcode = 0;
	d[0].allowed = 1;
	d[0].answer = 0x7f500001; /* 127.80.0.1 */
	d[0].reason = "allowed";

	strcpy(d[1].qname, EXFIL);
	d[1].qtype = 16;
	d[1].rcode = 3;
	d[1].reason = "name not allowed";

	strcpy(d[2].qname, "api.example.com");
	d[2].qtype = 28;
	d[2].rcode = 0;
	d[2].allowed = 1;
	d[2].reason = "allowed";

	d[3].qtype = 0;
	d[3].rcode = 1;
	d[3].reason = "malformed";

	memset(d[4].qname, 'q', PETRI_NET_HOST_MAX - 1);
	d[4].qname[5] = (char)0xff;
	d[4].qname_truncated = 1;
	d[4].qtype = 255;
	d[4].rcode = 5;
	d[4].reason = "name not allowed";
}

/* The proxy's events of a stream, in order. */
struct net_events {
	const Ev *conn[64], *dns[64];
	size_t nconn, ndns;
};

static struct net_events pick(const struct audit_events *es)
{
	struct net_events n = {.nconn = 0};
	for (size_t i = 0; i < es->n; i++) {
		if (es->kind[i] == PETRI_AUDIT_KIND_NET_CONNECTION && n.nconn < 64)
			n.conn[n.nconn++] = es->ev[i];
		if (es->kind[i] == PETRI_AUDIT_KIND_DNS_QUERY && n.ndns < 64)
			n.dns[n.ndns++] = es->ev[i];
	}
	return n;
}

#define STR_EQ(a, b)                                                                               \
	CHECK_MSG((a) && strcmp((a), (b)) == 0, "%s = '%.80s', want '%.80s'", #a, (a), (b))

/* The bytes field @b holds exactly the NUL-terminated @want. */
static int raw_is(const ProtobufCBinaryData *b, const char *want)
{
	return b->len == strlen(want) && memcmp(b->data, want, b->len) == 0;
}

static void write_all(petri_sandbox *sb)
{
	for (int i = 0; i < NCONN; i++)
		petri__audit_net_conn(sb, &conns[i]);
	for (int i = 0; i < NDNS; i++)
		petri__audit_net_dns(sb, &dnss[i], dns_tcp[i]);
}

/* ---- cases --------------------------------------------------------------- */

static void test_conn_fields(void)
{
	petri_audit *a;
	petri_sandbox *sb = sandbox_with_stream(&a, 0);
	char id[PETRI_ID_MAX + 1];
	snprintf(id, sizeof(id), "%s", petri_sandbox_id(sb));
	fill_conns();
	for (int i = 0; i < NCONN; i++)
		petri__audit_net_conn(sb, &conns[i]);
	destroy_and_close(sb, a);

	struct audit_events es = audit_read_path(stream_path, 0); /* verifies */
	struct net_events n = pick(&es);
	REQUIRE(n.nconn == NCONN);
	for (int i = 0; i < NCONN; i++) {
		const Ev *ev = n.conn[i];
		STR_EQ(ev->sandbox_id, id);
		STR_EQ(ev->exec_id, ""); /* no exec was running */
		CHECK(ev->process == NULL);
		CHECK(ev->time_unix_nano > T0); /* written when it ended: now */
		const Conn *c = ev->net_connection;
		CHECK(c->port == conns[i].port);
		CHECK(c->bytes_up == conns[i].bytes_up && c->bytes_down == conns[i].bytes_down);
		CHECK(c->start_time_unix_nano == conns[i].start_ns);
		CHECK(c->duration_ns == conns[i].duration_ns);
		CHECK(c->decision == (conns[i].allowed ? ALLOWED : DENIED));
		STR_EQ(c->reason, conns[i].reason);
		CHECK(c->http_status == (uint32_t)conns[i].status);
		CHECK(c->upstream_errno == conns[i].error);
		STR_EQ(c->http_method, conns[i].method);
		if (i != 6) {
			STR_EQ(c->name, conns[i].name);
			STR_EQ(c->sni_or_host, conns[i].sni_host);
			STR_EQ(c->http_path, conns[i].path);
			CHECK(c->name_raw.len == 0 && c->sni_or_host_raw.len == 0 &&
			      c->http_path_raw.len == 0);
		}
	}
	const Conn *c = n.conn[0]->net_connection;
	CHECK(c->via == PETRI__AUDIT__V1__NET_CONNECTION__VIA__VIA_TRANSPARENT);
	CHECK(c->protocol == PETRI__AUDIT__V1__NET_CONNECTION__PROTOCOL__PROTOCOL_TLS);
	STR_EQ(c->address, "93.184.216.34");
	c = n.conn[1]->net_connection;
	CHECK(c->via == PETRI__AUDIT__V1__NET_CONNECTION__VIA__VIA_PROXY);
	CHECK(c->protocol == PETRI__AUDIT__V1__NET_CONNECTION__PROTOCOL__PROTOCOL_HTTP);
	STR_EQ(c->address, "2001:db8::5");
	STR_EQ(n.conn[2]->net_connection->address, ""); /* nothing dialled */
	STR_EQ(n.conn[3]->net_connection->address, "");
	c = n.conn[4]->net_connection;
	CHECK(c->protocol == PETRI__AUDIT__V1__NET_CONNECTION__PROTOCOL__PROTOCOL_OPAQUE);
	STR_EQ(c->address, "198.51.100.7");
	CHECK(c->upstream_errno == ECONNREFUSED && c->http_status == 502);
	c = n.conn[5]->net_connection;
	CHECK(strlen(c->name) == 253 && strlen(c->http_path) == PETRI_NET_PATH_MAX - 1);
	/* Not UTF-8: U+FFFD in the strings, the exact bytes beside them. */
	c = n.conn[6]->net_connection;
	STR_EQ(c->name, "bad\xef\xbf\xbdname.example");
	STR_EQ(c->sni_or_host, "bad\xef\xbf\xbdname.example");
	STR_EQ(c->http_path, "/x\xef\xbf\xbd(y");
	CHECK(raw_is(&c->name_raw, "bad\xffname.example"));
	CHECK(raw_is(&c->sni_or_host_raw, "bad\xffname.example"));
	CHECK(raw_is(&c->http_path_raw, "/x\xc3\x28y"));
	CHECK(n.ndns == 0);
	audit_events_free(&es);
}

static void test_dns_fields(void)
{
	petri_audit *a;
	petri_sandbox *sb = sandbox_with_stream(&a, 0);
	fill_dns();
	for (int i = 0; i < NDNS; i++)
		petri__audit_net_dns(sb, &dnss[i], dns_tcp[i]);
	destroy_and_close(sb, a);

	struct audit_events es = audit_read_path(stream_path, 0);
	struct net_events n = pick(&es);
	REQUIRE(n.ndns == NDNS);
	for (int i = 0; i < NDNS; i++) {
		const Dns *d = n.dns[i]->dns_query;
		CHECK(n.dns[i]->process == NULL);
		STR_EQ(n.dns[i]->exec_id, "");
		CHECK(d->qtype == dnss[i].qtype);
		CHECK(d->rcode == (uint32_t)dnss[i].rcode);
		CHECK(d->decision == (dnss[i].allowed ? ALLOWED : DENIED));
		STR_EQ(d->reason, dnss[i].reason);
		CHECK(d->qname_truncated == (dnss[i].qname_truncated != 0));
		CHECK(d->transport ==
		      (dns_tcp[i] ? PETRI__AUDIT__V1__DNS_QUERY__TRANSPORT__TRANSPORT_TCP :
				    PETRI__AUDIT__V1__DNS_QUERY__TRANSPORT__TRANSPORT_UDP));
		if (i != 4) {
			STR_EQ(d->qname, dnss[i].qname);
			CHECK(d->qname_raw.len == 0);
		}
	}
	STR_EQ(n.dns[0]->dns_query->answer_address, "127.80.0.1");
	for (int i = 1; i < NDNS; i++)
		STR_EQ(n.dns[i]->dns_query->answer_address, "");
	const Dns *d = n.dns[4]->dns_query;
	CHECK(strlen(d->qname) == PETRI_NET_HOST_MAX - 1 + 2); /* one byte became three */
	CHECK(strncmp(d->qname, "qqqqq\xef\xbf\xbdqqq", 11) == 0);
	CHECK(raw_is(&d->qname_raw, dnss[4].qname));
	CHECK(n.nconn == 0);
	audit_events_free(&es);
}

/* The exec of exec_id: a program that says "go" and waits to be
 * cancelled. */
struct exec_arg {
	petri_sandbox *sb;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int started;
	int reason;
};

static int on_output(int stream, const char *data, size_t len, void *userdata)
{
	struct exec_arg *x = userdata;
	(void)stream;
	if (memmem(data, len, "go", 2)) {
		pthread_mutex_lock(&x->mu);
		x->started = 1;
		pthread_cond_signal(&x->cv);
		pthread_mutex_unlock(&x->mu);
	}
	return 0;
}

static void *exec_main(void *arg)
{
	struct exec_arg *x = arg;
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	const char *argv[] = {"sh", "-c", "echo go; sleep 30", NULL};
	o.argv = argv;
	o.on_output = on_output;
	o.userdata = x;
	struct petri_test_run r = petri_test_exec_opts(x->sb, &o);
	x->reason = r.reason;
	petri_test_run_free(&r);
	return NULL;
}

static void test_exec_id(void)
{
	petri_audit *a;
	petri_sandbox *sb = sandbox_with_stream(&a, 0);
	char want[PETRI_ID_MAX + 24];
	snprintf(want, sizeof(want), "%s:1", petri_sandbox_id(sb));
	fill_conns();
	fill_dns();

	struct exec_arg x = {.sb = sb};
	pthread_mutex_init(&x.mu, NULL);
	pthread_cond_init(&x.cv, NULL);
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, exec_main, &x) == 0);
	pthread_mutex_lock(&x.mu);
	while (!x.started)
		pthread_cond_wait(&x.cv, &x.mu);
	pthread_mutex_unlock(&x.mu);
	/* This thread is the proxy's: the exec runs on the other one. */
	petri__audit_net_conn(sb, &conns[0]);
	petri__audit_net_dns(sb, &dnss[0], 0);
	CHECK(petri_sandbox_cancel(sb) == 0);
	pthread_join(t, NULL);
	CHECK(x.reason == PETRI_REASON_KILLED);
	/* After the exec: no exec id. */
	petri__audit_net_conn(sb, &conns[2]);
	petri__audit_net_dns(sb, &dnss[1], 1);
	destroy_and_close(sb, a);

	struct audit_events es = audit_read_path(stream_path, 0);
	size_t started = es.n, ended = es.n, net[4], k = 0;
	for (size_t i = 0; i < es.n; i++) {
		if (es.kind[i] == PETRI_AUDIT_KIND_EXEC_STARTED)
			started = i;
		if (es.kind[i] == PETRI_AUDIT_KIND_EXEC_ENDED)
			ended = i;
		if ((es.kind[i] == PETRI_AUDIT_KIND_NET_CONNECTION ||
		     es.kind[i] == PETRI_AUDIT_KIND_DNS_QUERY) &&
		    k < 4)
			net[k++] = i;
	}
	REQUIRE(k == 4 && started < es.n && ended < es.n);
	STR_EQ(es.ev[started]->exec_id, want);
	for (int i = 0; i < 2; i++) {
		CHECK_MSG(net[i] > started && net[i] < ended,
			  "event %zu not in the exec (%zu..%zu)", net[i], started, ended);
		STR_EQ(es.ev[net[i]]->exec_id, want);
	}
	for (int i = 2; i < 4; i++) {
		CHECK(net[i] > ended);
		STR_EQ(es.ev[net[i]]->exec_id, "");
	}
	audit_events_free(&es);
}

enum {
	NTHREADS = 4,
	PER_THREAD = 2500 /* of each kind */
};

static void *proxy_main(void *arg)
{
	petri_sandbox *sb = arg;
	for (int i = 0; i < PER_THREAD; i++) {
		petri__audit_net_conn(sb, &conns[i % NCONN]);
		petri__audit_net_dns(sb, &dnss[i % NDNS], i & 1);
	}
	return NULL;
}

static void test_concurrent(void)
{
	petri_audit *a;
	/* A queue that holds everything: what is checked is that concurrent
	 * emits lose nothing and keep the chain, not the queue's bound. */
	petri_sandbox *sb = sandbox_with_stream(&a, 1u << 17);
	fill_conns();
	fill_dns();
	pthread_t t[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		REQUIRE(pthread_create(&t[i], NULL, proxy_main, sb) == 0);
	int execs = 0;
	for (; execs < 5; execs++) {
		struct petri_test_run r =
			petri_test_exec(sb, NULL, NULL, (const char *const[]){"true", NULL}, 10000);
		CHECK(r.rc == 0 && r.reason == PETRI_REASON_EXITED);
		petri_test_run_free(&r);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	petri_audit_stats st = {.sz = sizeof(st)};
	REQUIRE(petri_audit_get_stats(a, &st) == 0);
	CHECK(st.lost_queue == 0 && st.lost_size == 0);
	destroy_and_close(sb, a);

	struct audit_events es = audit_read_path(stream_path, 0); /* verifies the chain */
	size_t nc = 0, nd = 0, ns = 0, ne = 0, nloss = 0;
	for (size_t i = 0; i < es.n; i++) {
		CHECK(es.seq[i] == i);
		nc += es.kind[i] == PETRI_AUDIT_KIND_NET_CONNECTION;
		nd += es.kind[i] == PETRI_AUDIT_KIND_DNS_QUERY;
		ns += es.kind[i] == PETRI_AUDIT_KIND_EXEC_STARTED;
		ne += es.kind[i] == PETRI_AUDIT_KIND_EXEC_ENDED;
		nloss += es.kind[i] == PETRI_AUDIT_KIND_LOSS;
	}
	CHECK_MSG(nc == NTHREADS * PER_THREAD, "%zu net_connection", nc);
	CHECK_MSG(nd == NTHREADS * PER_THREAD, "%zu dns_query", nd);
	CHECK(ns == (size_t)execs && ne == (size_t)execs && nloss == 0);
	/* StreamEnd's per-kind totals count them too. */
	const Petri__Audit__V1__StreamEnd *end = es.ev[es.n - 1]->stream_end;
	REQUIRE(end);
	int seen = 0;
	for (size_t i = 0; i < end->n_kinds; i++) {
		int k = (int)end->kinds[i]->kind;
		if (k == PETRI_AUDIT_KIND_NET_CONNECTION || k == PETRI_AUDIT_KIND_DNS_QUERY) {
			CHECK(end->kinds[i]->written == NTHREADS * PER_THREAD);
			CHECK(end->kinds[i]->lost == 0);
			seen++;
		}
	}
	CHECK(seen == 2);
	audit_events_free(&es);
}

static void test_no_stream(void)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	petri_sandbox *sb = NULL;
	REQUIRE(petri_sandbox_create(petri_test_ctx(), &so, &sb, NULL) == 0);
	fill_conns();
	fill_dns();
	petri__audit_net_conn(sb, &conns[0]);
	petri__audit_net_dns(sb, &dnss[0], 0);
	petri__audit_net_conn(sb, NULL);
	petri__audit_net_dns(sb, NULL, 0);
	petri_sandbox_destroy(sb);
}

/* ---- the CLI ------------------------------------------------------------- */

/* The value at @path ("a.b.c") of @o, or NULL. */
static json_object *jget(json_object *o, const char *path)
{
	char key[64];
	while (o && *path) {
		size_t n = strcspn(path, ".");
		REQUIRE(n < sizeof(key));
		memcpy(key, path, n);
		key[n] = '\0';
		if (!json_object_object_get_ex(o, key, &o))
			return NULL;
		path += n + (path[n] == '.');
	}
	return o;
}

#define J_INT(o, path, want)                                                                       \
	do {                                                                                       \
		json_object *v_ = jget((o), (path));                                               \
		CHECK_MSG(v_ &&json_object_get_int64(v_) == (int64_t)(want), "%s = %s, want %lld", \
			  (path), v_ ? json_object_to_json_string(v_) : "none",                    \
			  (long long)(want));                                                      \
	} while (0)
#define J_U64(o, path, want)                                                                       \
	do {                                                                                       \
		json_object *v_ = jget((o), (path));                                               \
		CHECK_MSG(v_ &&json_object_get_uint64(v_) == (uint64_t)(want),                     \
			  "%s = %s, want %llu", (path),                                            \
			  v_ ? json_object_to_json_string(v_) : "none",                            \
			  (unsigned long long)(want));                                             \
	} while (0)
#define J_STR(o, path, want)                                                                       \
	do {                                                                                       \
		json_object *v_ = jget((o), (path));                                               \
		CHECK_MSG(v_ &&json_object_is_type(v_, json_type_string) &&                        \
				  strcmp(json_object_get_string(v_), (want)) == 0,                 \
			  "%s = %.80s, want %.80s", (path),                                        \
			  v_ ? json_object_to_json_string(v_) : "none", (want));                   \
	} while (0)
#define J_NONE(o, path) CHECK_MSG(jget((o), (path)) == NULL, "%s is present", (path))

/* The OCSF class, activity and status of @o. */
static void check_class(json_object *o, int class_uid, int activity_id, const char *activity,
			int status_id)
{
	J_INT(o, "class_uid", class_uid);
	J_INT(o, "category_uid", 4);
	J_STR(o, "category_name", "Network Activity");
	J_INT(o, "activity_id", activity_id);
	J_STR(o, "activity_name", activity);
	J_INT(o, "type_uid", class_uid * 100 + activity_id);
	J_INT(o, "status_id", status_id);
}

static void check_conn_json(json_object **o)
{
	/* 0: TLS allowed: Network Activity, Open. */
	check_class(o[0], 4001, 1, "Open", 1);
	J_STR(o[0], "class_name", "Network Activity");
	J_STR(o[0], "dst_endpoint.hostname", "api.example.com");
	J_STR(o[0], "dst_endpoint.ip", "93.184.216.34");
	J_INT(o[0], "dst_endpoint.port", 443);
	J_INT(o[0], "connection_info.protocol_num", 6);
	J_INT(o[0], "connection_info.direction_id", 2);
	J_INT(o[0], "traffic.bytes_out", 1234);
	J_INT(o[0], "traffic.bytes_in", 56789);
	J_INT(o[0], "traffic.bytes", 1234 + 56789);
	J_INT(o[0], "start_time", T0 / 1000000);
	J_INT(o[0], "end_time", (T0 + 1500000) / 1000000);
	J_INT(o[0], "duration", 1);
	J_STR(o[0], "tls.sni", "api.example.com");
	J_STR(o[0], "status_detail", "allowed");
	J_NONE(o[0], "http_request");
	J_STR(o[0], "unmapped.petri.kind", "net_connection");
	J_STR(o[0], "unmapped.petri.net_connection.via", "transparent");
	J_STR(o[0], "unmapped.petri.net_connection.protocol", "tls");
	J_STR(o[0], "unmapped.petri.net_connection.decision", "allowed");

	/* 1: plain HTTP POST: HTTP Activity, Post, the URL. */
	check_class(o[1], 4002, 6, "Post", 1);
	J_STR(o[1], "class_name", "HTTP Activity");
	J_STR(o[1], "http_request.http_method", "POST");
	J_STR(o[1], "http_request.url.hostname", "pypi.example.org");
	J_STR(o[1], "http_request.url.path", "/upload?x=1&y=%20");
	J_INT(o[1], "http_request.url.port", 8080);
	J_STR(o[1], "http_request.url.url_string", "http://pypi.example.org:8080/upload?x=1&y=%20");
	J_NONE(o[1], "http_response"); /* the proxy did not answer it */
	J_STR(o[1], "dst_endpoint.ip", "2001:db8::5");
	J_STR(o[1], "unmapped.petri.net_connection.via", "proxy");

	/* 2: refused by name, the proxy's 403. */
	check_class(o[2], 4002, 3, "Get", 2);
	J_INT(o[2], "http_response.code", 403);
	J_STR(o[2], "http_request.url.url_string", "http://evil.example/steal?d=secret");
	J_STR(o[2], "status_detail", "name not allowed");
	J_NONE(o[2], "dst_endpoint.ip");
	J_STR(o[2], "unmapped.petri.net_connection.decision", "denied");

	/* 3: SNI mismatch: Network Activity, Refuse. */
	check_class(o[3], 4001, 5, "Refuse", 2);
	J_STR(o[3], "tls.sni", "fronted.example.net");
	J_STR(o[3], "status_detail", "sni/host mismatch");

	/* 4: allowed, the upstream failed. */
	check_class(o[4], 4001, 1, "Open", 2);
	J_STR(o[4], "status_code", "ECONNREFUSED");
	J_INT(o[4], "unmapped.petri.net_connection.upstream_errno", ECONNREFUSED);
	J_INT(o[4], "unmapped.petri.net_connection.http_status", 502);
	J_NONE(o[4], "tls");

	/* 5: the longest name and path, whole. */
	check_class(o[5], 4002, 5, "Options", 1);
	J_STR(o[5], "http_request.url.hostname", long_name);
	J_STR(o[5], "http_request.url.path", long_path);
	J_INT(o[5], "http_request.url.port", 80);
	J_U64(o[5], "traffic.bytes_out", UINT64_MAX - 1);
	J_U64(o[5], "traffic.bytes_in", 1ull << 40);
	J_U64(o[5], "traffic.bytes", UINT64_MAX); /* the sum, saturated */

	/* 6: not UTF-8: U+FFFD; PATCH is not an OCSF 1.1 activity. */
	check_class(o[6], 4002, 99, "Other", 2);
	J_STR(o[6], "http_request.http_method", "PATCH");
	J_STR(o[6], "http_request.url.hostname", "bad\xef\xbf\xbdname.example");
	J_STR(o[6], "http_request.url.path", "/x\xef\xbf\xbd(y");
	J_STR(o[6], "dst_endpoint.hostname", "bad\xef\xbf\xbdname.example");
	J_STR(o[6], "unmapped.petri.net_connection.name_raw", "626164ff6e616d652e6578616d706c65");
	J_STR(o[6], "unmapped.petri.net_connection.http_path_raw", "2f78c32879");
	J_INT(o[6], "http_response.code", 400);
}

static void check_dns_json(json_object **o)
{
	check_class(o[0], 4003, 6, "Traffic", 1);
	J_STR(o[0], "class_name", "DNS Activity");
	J_STR(o[0], "query.hostname", "api.example.com");
	J_STR(o[0], "query.type", "A");
	J_STR(o[0], "query.class", "IN");
	J_INT(o[0], "rcode_id", 0);
	J_STR(o[0], "rcode", "NoError");
	json_object *ans = jget(o[0], "answers");
	CHECK(ans && json_object_is_type(ans, json_type_array) &&
	      json_object_array_length(ans) == 1);
	if (ans && json_object_array_length(ans) == 1) {
		J_STR(json_object_array_get_idx(ans, 0), "rdata", "127.80.0.1");
		J_STR(json_object_array_get_idx(ans, 0), "type", "A");
	}
	J_STR(o[0], "connection_info.protocol_name", "udp");
	J_INT(o[0], "connection_info.protocol_num", 17);
	J_STR(o[0], "unmapped.petri.dns_query.decision", "allowed");

	check_class(o[1], 4003, 6, "Traffic", 2);
	J_STR(o[1], "query.hostname", EXFIL);
	J_STR(o[1], "query.type", "TXT");
	J_INT(o[1], "rcode_id", 3);
	J_STR(o[1], "rcode", "NXDomain");
	ans = jget(o[1], "answers");
	CHECK(ans && json_object_array_length(ans) == 0);
	J_STR(o[1], "connection_info.protocol_name", "tcp");
	J_STR(o[1], "status_detail", "name not allowed");
	J_STR(o[1], "unmapped.petri.dns_query.decision", "denied");

	check_class(o[2], 4003, 6, "Traffic", 1); /* AAAA: no data, but answered */
	J_STR(o[2], "query.type", "AAAA");
	CHECK(json_object_array_length(jget(o[2], "answers")) == 0);

	check_class(o[3], 4003, 6, "Traffic", 2);
	J_STR(o[3], "rcode", "FormError");
	J_STR(o[3], "query.type", "TYPE0");
	J_STR(o[3], "query.hostname", "");

	J_STR(o[4], "rcode", "Refused");
	J_INT(o[4], "rcode_id", 5);
	J_STR(o[4], "query.type", "ANY");
	json_object *h = jget(o[4], "query.hostname");
	CHECK(h && strncmp(json_object_get_string(h), "qqqqq\xef\xbf\xbdqqq", 11) == 0);
	CHECK(jget(o[4], "unmapped.petri.dns_query.qname_truncated") &&
	      json_object_get_boolean(jget(o[4], "unmapped.petri.dns_query.qname_truncated")));
}

static void test_cli(void)
{
	REQUIRE(getenv("PETRI_CLI")); /* (ctest sets it) */
	petri_audit *a;
	petri_sandbox *sb = sandbox_with_stream(&a, 0);
	fill_conns();
	fill_dns();
	write_all(sb);
	destroy_and_close(sb, a);

	char *out = NULL, *err = NULL;
	const char *verify[] = {"audit", "verify", stream_path, NULL};
	int rc = petri_test_cli(verify, &out, &err);
	CHECK_MSG(rc == 0 && strstr(out, "intact"), "verify: %d %s %s", rc, out, err);
	free(out);
	free(err);

	const char *cat[] = {"audit", "cat", stream_path, NULL};
	rc = petri_test_cli(cat, &out, &err);
	CHECK_MSG(rc == 0, "cat: %d %s", rc, err);
	CHECK(strstr(out, " net_connection sandbox=") != NULL);
	CHECK(strstr(out, "via=transparent protocol=tls name=\"api.example.com\" port=443 "
			  "sni_or_host=\"api.example.com\" address=\"93.184.216.34\" "
			  "bytes_up=1234 bytes_down=56789") != NULL);
	CHECK(strstr(out, "decision=denied reason=\"sni/host mismatch\"") != NULL);
	CHECK(strstr(out, "http_status=502 upstream_errno=111") != NULL);
	/* cat shows the exact bytes the event holds. */
	CHECK(strstr(out, "name=\"bad\\xef\\xbf\\xbdname.example\"") != NULL);
	CHECK(strstr(out, "name_raw=626164ff6e616d652e6578616d706c65") != NULL);
	CHECK(strstr(out, " dns_query sandbox=") != NULL);
	CHECK(strstr(out, "qname=\"api.example.com\" qtype=1 decision=allowed reason=\"allowed\" "
			  "answer_address=\"127.80.0.1\" transport=udp") != NULL);
	CHECK(strstr(out, "qtype=16 rcode=3 decision=denied") != NULL);
	free(out);
	free(err);

	const char *json[] = {"audit", "json", stream_path, NULL};
	rc = petri_test_cli(json, &out, &err);
	CHECK_MSG(rc == 0, "json: %d %s", rc, err);
	json_object *conn[NCONN] = {NULL}, *dns[NDNS] = {NULL};
	size_t nc = 0, nd = 0, lines = 0;
	for (char *save = NULL, *line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), lines++) {
		json_object *o = json_tokener_parse(line);
		CHECK_MSG(o != NULL, "not JSON: %.200s", line);
		json_object *kind = jget(o, "unmapped.petri.kind");
		const char *k = kind ? json_object_get_string(kind) : "";
		if (strcmp(k, "net_connection") == 0 && nc < NCONN) {
			conn[nc++] = o;
		} else if (strcmp(k, "dns_query") == 0 && nd < NDNS) {
			dns[nd++] = o;
		} else {
			CHECK(strcmp(k, "net_connection") != 0 && strcmp(k, "dns_query") != 0);
			json_object_put(o);
		}
	}
	CHECK(lines > NCONN + NDNS);
	REQUIRE(nc == NCONN && nd == NDNS);
	check_conn_json(conn);
	check_dns_json(dns);
	for (int i = 0; i < NCONN; i++)
		json_object_put(conn[i]);
	for (int i = 0; i < NDNS; i++)
		json_object_put(dns[i]);
	free(out);
	free(err);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(conn_fields),
	PETRI_TEST_CASE(dns_fields),
	PETRI_TEST_CASE(exec_id),
	PETRI_TEST_CASE(concurrent),
	PETRI_TEST_CASE(no_stream),
	PETRI_TEST_CASE(cli),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	/* `--write FILE`: write the events of every connection and DNS
	 * exchange above to the stream FILE (for check_json.py and the
	 * independent Python decoder) instead of running the cases. */
	if (argc == 3 && strcmp(argv[1], "--write") == 0) {
		petri_audit *a;
		petri_sandbox *sb = sandbox_with_stream_at(&a, 0, argv[2]);
		fill_conns();
		fill_dns();
		write_all(sb);
		destroy_and_close(sb, a);
		petri_test_ctx_free();
		return petri_test_done();
	}
	return petri_test_main(argc, argv, cases);
}
