/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kaudit_sandbox.c - the kernel audit through a real sandbox and the
 * public API, decoded field by field.
 *
 * Network: a python program inside the sandbox (its own netns, only lo)
 * listens on 127.0.0.1 and ::1, connects to itself and accepts; it also
 * calls listen on a UDP socket (EOPNOTSUPP) and accept on a socket that
 * does not listen (EINVAL).  It prints the ports, fds and its pid, and each
 * listen/accept event must carry exactly those: addresses and ports from the
 * kernel's struct sock, the result, the syscall, and the OCSF JSON mapping.
 * Root only; under CI=true a kernel audit that does not load fails.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "petri/audit.h"
#include "petri/audit/v1/audit.pb-c.h"
#include "petri_test.h"

typedef Petri__Audit__V1__Event Ev;
typedef Petri__Audit__V1__NetworkActivity Net;

#define NET_OP(x) PETRI__AUDIT__V1__NETWORK_ACTIVITY__OP__OP_##x
#define SOURCE_SOCKET PETRI__AUDIT__V1__NETWORK_ACTIVITY__SOURCE__SOURCE_SOCKET

static char stream_path[] = "/tmp/petri-kaudit-sb-XXXXXX";

static petri_audit *open_stream(void)
{
	petri_audit_opts ao = PETRI_AUDIT_OPTS_INIT;
	petri_audit *a = NULL;
	petri_error *e = NULL;
	int fd = mkstemp(stream_path);

	REQUIRE(fd >= 0);
	close(fd);
	ao.sink = PETRI_AUDIT_SINK_FILE;
	ao.path = stream_path;
	ao.kernel_audit = 1;
	ao.queue_events = 1u << 16;
	REQUIRE(petri_audit_open(&a, &ao, &e) == 0);
	return a;
}

/* Every event of the stream (verified), unpacked, with its JSON line. */
struct events {
	Ev **ev;
	char **json;
	size_t n;
};

static struct events read_events(void)
{
	struct events es = {0};
	petri_audit_reader_opts ro = PETRI_AUDIT_READER_OPTS_INIT;
	petri_audit_reader *rd = NULL;
	petri_error *e = NULL;
	int r;

	ro.source = PETRI_AUDIT_SRC_PATH;
	ro.path = stream_path;
	REQUIRE(petri_audit_reader_open(&rd, &ro, &e) == 0);
	while ((r = petri_audit_reader_next(rd, &e)) == 1) {
		size_t len = 0;
		const void *raw = petri_audit_reader_raw(rd, &len);

		es.ev = realloc(es.ev, (es.n + 1) * sizeof(*es.ev));
		es.json = realloc(es.json, (es.n + 1) * sizeof(*es.json));
		REQUIRE(es.ev && es.json);
		es.ev[es.n] = petri__audit__v1__event__unpack(NULL, len, raw);
		REQUIRE(es.ev[es.n]);
		REQUIRE(petri_audit_reader_format(rd, PETRI_AUDIT_FORMAT_JSON, &es.json[es.n],
						  &e) == 0);
		es.n++;
	}
	CHECK_MSG(r == 0, "stream: %s", petri_error_message(e));
	petri_audit_reader_free(rd);

	rd = NULL;
	REQUIRE(petri_audit_reader_open(&rd, &ro, &e) == 0);
	CHECK_MSG(petri_audit_reader_verify(rd, NULL, &e) == 0, "verify: %s",
		  petri_error_message(e));
	petri_audit_reader_free(rd);
	petri_error_free(e);
	return es;
}

static void free_events(struct events *es)
{
	for (size_t i = 0; i < es->n; i++) {
		petri__audit__v1__event__free_unpacked(es->ev[i], NULL);
		petri_free(es->json[i]);
	}
	free(es->ev);
	free(es->json);
}

/* What the python program printed. */
struct net_facts {
	int pid, port4, client4, fd4, udp_errno, port6, client6, fd6, tport, accept_errno;
};

static const char net_code[] =
	"import os, socket\n"
	"s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(5)\n"
	"c = socket.create_connection(s.getsockname()); k, _ = s.accept()\n"
	"u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
	"try:\n    u.listen()\nexcept OSError as e:\n    ue = e.errno\n"
	"s6 = socket.socket(socket.AF_INET6); s6.bind(('::1', 0)); s6.listen()\n"
	"c6 = socket.create_connection(s6.getsockname()[:2]); k6, _ = s6.accept()\n"
	"t = socket.socket(); t.bind(('127.0.0.1', 0))\n"
	"try:\n    t.accept()\nexcept OSError as e:\n    te = e.errno\n"
	"print(os.getpid(), s.getsockname()[1], c.getsockname()[1], k.fileno(), ue,\n"
	"      s6.getsockname()[1], c6.getsockname()[1], k6.fileno(), t.getsockname()[1], te)\n";

static void check_addr(const Net *n, int family, const char *text, int local)
{
	const ProtobufCBinaryData *a = local ? &n->local_address : &n->address;
	const char *t = local ? n->local_address_text : n->address_text;
	uint8_t want[16];

	CHECK_MSG(strcmp(t, text) == 0, "%s address %s, want %s", local ? "local" : "peer", t,
		  text);
	CHECK(inet_pton(family, text, want) == 1);
	CHECK(a->len == (family == AF_INET6 ? 16u : 4u));
	CHECK(a->len && memcmp(a->data, want, a->len) == 0);
}

/* The common part of every listen/accept event of the program. */
static void check_socket_event(const Ev *ev, const struct net_facts *f, const char *syscall)
{
	const Net *n = ev->network_activity;

	CHECK(strncmp(ev->sandbox_id, "kaudit-net", 10) == 0);
	CHECK(ev->process && ev->process->pid_inside == (uint32_t)f->pid);
	CHECK(ev->process && ev->process->pid_host > 0 &&
	      ev->process->pid_host != ev->process->pid_inside);
	CHECK(ev->process && strcmp(ev->process->comm, "python3") == 0);
	CHECK(n->source == SOURCE_SOCKET);
	CHECK_MSG(strcmp(n->syscall, syscall) == 0, "syscall %s, want %s", n->syscall, syscall);
	CHECK(!n->denied);
	CHECK(n->protocol == (n->socket_type == SOCK_DGRAM ? 17u : 6u));
}

static void check_json_has(const char *json, const char *what)
{
	CHECK_MSG(strstr(json, what) != NULL, "JSON lacks %s: %s", what, json);
}

static void test_listen_accept(petri_ctx *ctx)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	petri_sandbox *sb = NULL;
	petri_error *e = NULL;
	petri_audit *a = open_stream();

	so.language = "python";
	so.id = "kaudit-net";
	so.audit = a;
	REQUIRE(petri_sandbox_create(ctx, &so, &sb, &e) == 0);
	struct petri_test_run run = petri_test_exec(sb, "python", net_code, NULL, 20000);
	petri_sandbox_destroy(sb);
	CHECK(petri_audit_close(a, &e) == 0);
	CHECK_MSG(run.rc == 0 && run.exit_code == 0, "exec %d exit %d: %s %s", run.rc,
		  run.exit_code, run.errmsg, run.err);

	struct net_facts f = {0};
	CHECK_MSG(sscanf(run.out, "%d %d %d %d %d %d %d %d %d %d", &f.pid, &f.port4, &f.client4,
			 &f.fd4, &f.udp_errno, &f.port6, &f.client6, &f.fd6, &f.tport,
			 &f.accept_errno) == 10,
		  "program printed: %s", run.out);
	CHECK(f.udp_errno == EOPNOTSUPP && f.accept_errno == EINVAL);
	petri_test_run_free(&run);

	struct events es = read_events();
	/* The six listen/accept calls, in the order the program made them. */
	const Ev *sock_ev[8];
	const char *sock_json[8];
	size_t nsock = 0;

	for (size_t i = 0; i < es.n; i++) {
		const Ev *ev = es.ev[i];

		if (ev->body_case != PETRI__AUDIT__V1__EVENT__BODY_NETWORK_ACTIVITY ||
		    ev->network_activity->source != SOURCE_SOCKET)
			continue;
		if (nsock < 8) {
			sock_ev[nsock] = ev;
			sock_json[nsock] = es.json[i];
		}
		nsock++;
	}
	CHECK_MSG(nsock == 6, "%zu listen/accept events, want 6", nsock);
	if (nsock != 6) {
		free_events(&es);
		return;
	}
	const Net *n;

	/* 1. listen on 127.0.0.1:port4 */
	check_socket_event(sock_ev[0], &f, "listen");
	n = sock_ev[0]->network_activity;
	CHECK(n->op == NET_OP(LISTEN));
	CHECK(n->family == AF_INET && n->socket_type == SOCK_STREAM);
	CHECK(n->result == 0);
	check_addr(n, AF_INET, "127.0.0.1", 0);
	check_addr(n, AF_INET, "127.0.0.1", 1);
	CHECK(n->port == (uint32_t)f.port4 && n->local_port == (uint32_t)f.port4);
	check_json_has(sock_json[0], "\"class_uid\":4001");
	check_json_has(sock_json[0], "\"activity_id\":7,\"activity_name\":\"Listen\"");
	check_json_has(sock_json[0], "\"type_uid\":400107");
	check_json_has(sock_json[0], "\"status_id\":1");
	char want[160];
	snprintf(want, sizeof(want), "\"dst_endpoint\":{\"ip\":\"127.0.0.1\",\"port\":%d}",
		 f.port4);
	check_json_has(sock_json[0], want);

	/* 2. accept of the connection from 127.0.0.1:client4: the new fd */
	check_socket_event(sock_ev[1], &f, "accept4");
	n = sock_ev[1]->network_activity;
	CHECK(n->op == NET_OP(ACCEPT));
	CHECK(n->family == AF_INET && n->socket_type == SOCK_STREAM);
	CHECK_MSG(n->result == f.fd4, "accept result %d, want fd %d", n->result, f.fd4);
	check_addr(n, AF_INET, "127.0.0.1", 0);
	check_addr(n, AF_INET, "127.0.0.1", 1);
	CHECK(n->port == (uint32_t)f.client4);
	CHECK(n->local_port == (uint32_t)f.port4);
	check_json_has(sock_json[1], "\"activity_id\":1,\"activity_name\":\"Open\"");
	check_json_has(sock_json[1], "\"type_uid\":400101");
	snprintf(want, sizeof(want),
		 "\"src_endpoint\":{\"ip\":\"127.0.0.1\",\"port\":%d},"
		 "\"dst_endpoint\":{\"ip\":\"127.0.0.1\",\"port\":%d}",
		 f.client4, f.port4);
	check_json_has(sock_json[1], want);
	check_json_has(sock_json[1], "\"direction_id\":1");

	/* 3. listen on a UDP socket: EOPNOTSUPP, the socket's (unbound) address */
	check_socket_event(sock_ev[2], &f, "listen");
	n = sock_ev[2]->network_activity;
	CHECK(n->op == NET_OP(LISTEN));
	CHECK(n->family == AF_INET && n->socket_type == SOCK_DGRAM);
	CHECK(n->result == -EOPNOTSUPP);
	check_addr(n, AF_INET, "0.0.0.0", 1);
	CHECK(n->port == 0 && n->local_port == 0);
	check_json_has(sock_json[2], "\"status_id\":2");

	/* 4. listen on [::1]:port6 */
	check_socket_event(sock_ev[3], &f, "listen");
	n = sock_ev[3]->network_activity;
	CHECK(n->op == NET_OP(LISTEN));
	CHECK(n->family == AF_INET6 && n->socket_type == SOCK_STREAM);
	CHECK(n->result == 0);
	check_addr(n, AF_INET6, "::1", 0);
	check_addr(n, AF_INET6, "::1", 1);
	CHECK(n->port == (uint32_t)f.port6 && n->local_port == (uint32_t)f.port6);

	/* 5. accept from [::1]:client6 */
	check_socket_event(sock_ev[4], &f, "accept4");
	n = sock_ev[4]->network_activity;
	CHECK(n->op == NET_OP(ACCEPT));
	CHECK(n->family == AF_INET6);
	CHECK(n->result == f.fd6);
	check_addr(n, AF_INET6, "::1", 0);
	check_addr(n, AF_INET6, "::1", 1);
	CHECK(n->port == (uint32_t)f.client6 && n->local_port == (uint32_t)f.port6);

	/* 6. accept on a socket that does not listen: EINVAL, no peer, the
	 *    socket's own address */
	check_socket_event(sock_ev[5], &f, "accept4");
	n = sock_ev[5]->network_activity;
	CHECK(n->op == NET_OP(ACCEPT));
	CHECK(n->family == AF_INET);
	CHECK(n->result == -EINVAL);
	CHECK(n->address.len == 0 && n->address_text[0] == 0 && n->port == 0);
	check_addr(n, AF_INET, "127.0.0.1", 1);
	CHECK(n->local_port == (uint32_t)f.tport);
	check_json_has(sock_json[5], "\"status_id\":2");
	check_json_has(sock_json[5], "\"result\":-22");
	free_events(&es);
}

int main(void)
{
	if (geteuid() != 0)
		petri_test_skip("kernel audit needs root");
	petri_ctx *ctx = petri_test_ctx();
	const char *why = NULL;

	if (petri_ctx_kernel_audit(ctx, &why) != 1) {
		char msg[512];
		snprintf(msg, sizeof(msg), "kernel audit off: %s", why ? why : "?");
		petri_test_skip(msg);
	}
	test_listen_accept(ctx);
	if (getenv("PETRI_KAUDIT_KEEP"))
		printf("stream kept: %s\n", stream_path);
	else
		unlink(stream_path);
	return petri_test_done();
}
