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
 * Unix sockets: listen/accept name the sun_path of struct unix_sock (path
 * and abstract names).  connect/bind/sendto carry the call's real result
 * (ECONNREFUSED, EADDRINUSE, bytes sent) with the hook's address.
 *
 * Identity: two execs in one sandbox; every kernel event carries the id of
 * the exec its process belonged to, the uid inside the sandbox (1000, not
 * the host uid), and the header (asked of the context) says kernel audit
 * is on.
 * Order: each exec's kernel events come between its ExecStarted and its
 * ExecEnded, and petri's own processes (init, reapers, the command before
 * its execve) leave no file or network events.
 * Deferred header: a stream opened with a context whose kernel half is not
 * loaded yet returns at once (the load runs on a thread while the sandbox
 * is created); its StreamHeader is still seq 0 with the load's outcome,
 * the sandbox's kernel events are all there, and the stream verifies:
 * also when nothing is ever sent to it, and when the context is freed
 * before the stream is closed (the load may still be running).
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
#include "audit_stream.h"

typedef Petri__Audit__V1__Event Ev;
typedef Petri__Audit__V1__NetworkActivity Net;

#define NET_OP(x) PETRI__AUDIT__V1__NETWORK_ACTIVITY__OP__OP_##x
#define SOURCE_SOCKET PETRI__AUDIT__V1__NETWORK_ACTIVITY__SOURCE__SOURCE_SOCKET

static char stream_path[64];

/* A new stream whose header asks @ctx about kernel audit (or, without
 * @ctx, states it is on). */
static petri_audit *open_stream_ctx(petri_ctx *ctx)
{
	petri_audit_opts ao = PETRI_AUDIT_OPTS_INIT;
	petri_audit *a = NULL;
	petri_error *e = NULL;

	if (stream_path[0])
		unlink(stream_path);
	snprintf(stream_path, sizeof(stream_path), "/tmp/petri-kaudit-sb-XXXXXX");
	int fd = mkstemp(stream_path);

	REQUIRE(fd >= 0);
	close(fd);
	ao.sink = PETRI_AUDIT_SINK_FILE;
	ao.path = stream_path;
	ao.kernel_audit = ctx ? 0 : 1;
	ao.ctx = ctx;
	ao.queue_events = 1u << 16;
	REQUIRE(petri_audit_open(&a, &ao, &e) == 0);
	return a;
}

static petri_audit *open_stream(void)
{
	return open_stream_ctx(NULL);
}

/* Create the sandbox of a case; it cannot go on without it (the error says
 * why). */
static void create_sandbox(petri_ctx *ctx, const petri_sandbox_opts *so, petri_sandbox **sb)
{
	petri_error *e = NULL;
	int r = petri_sandbox_create(ctx, so, sb, &e);
	if (r < 0)
		fprintf(stderr, "petri_sandbox_create: %d %s\n", r, petri_error_message(e));
	petri_error_free(e);
	REQUIRE(r == 0);
}

/* Every event of the stream (verified), unpacked, with its JSON line. */
static struct audit_events read_events(void)
{
	return audit_read_path(stream_path, AUDIT_READ_JSON);
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

static void check_listen_accept(petri_ctx *ctx)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	petri_sandbox *sb = NULL;
	petri_error *e = NULL;
	petri_audit *a = open_stream();

	so.language = "python";
	so.id = "kaudit-net";
	so.audit = a;
	create_sandbox(ctx, &so, &sb);
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

	struct audit_events es = read_events();
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
		audit_events_free(&es);
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
	audit_events_free(&es);
}

#define FILE_OP(x) PETRI__AUDIT__V1__FILE_ACTIVITY__OP__OP_##x
#define SOURCE_HOOK PETRI__AUDIT__V1__NETWORK_ACTIVITY__SOURCE__SOURCE_CGROUP_HOOK
#define BODY(x) PETRI__AUDIT__V1__EVENT__BODY_##x

static int is_kernel_event(const Ev *ev)
{
	switch (ev->body_case) {
	case BODY(PROCESS_EXEC):
	case BODY(PROCESS_FORK):
	case BODY(PROCESS_EXIT):
	case BODY(FILE_ACTIVITY):
	case BODY(NETWORK_ACTIVITY):
		return 1;
	default:
		return 0;
	}
}

static const char *comm_of(const Ev *ev)
{
	return ev->process && ev->process->comm ? ev->process->comm : "";
}

/* Two execs in one sandbox: each kernel event names the exec whose process
 * made it, and the uid inside the sandbox. */
static void check_exec_ids_and_uid(petri_ctx *ctx)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	petri_sandbox *sb = NULL;
	petri_error *e = NULL;
	petri_audit *a = open_stream_ctx(ctx);
	const char *argv1[] = {"sh", "-c", "echo one > /workspace/one; cat /workspace/one; exit 3",
			       NULL};
	const char *argv2[] = {"sh", "-c", "echo two > /workspace/two; cat /workspace/two; exit 4",
			       NULL};

	so.language = "sh";
	so.id = "kaudit-ids";
	so.audit = a;
	create_sandbox(ctx, &so, &sb);
	int64_t host_uid = petri_sandbox_host_uid(sb);
	struct petri_test_run r1 = petri_test_exec(sb, NULL, NULL, argv1, 20000);
	struct petri_test_run r2 = petri_test_exec(sb, NULL, NULL, argv2, 7000);
	petri_sandbox_destroy(sb);
	CHECK(petri_audit_close(a, &e) == 0);
	CHECK_MSG(r1.rc == 0 && r1.exit_code == 3, "exec 1: %d %d %s", r1.rc, r1.exit_code,
		  r1.errmsg);
	CHECK_MSG(r2.rc == 0 && r2.exit_code == 4, "exec 2: %d %d %s", r2.rc, r2.exit_code,
		  r2.errmsg);
	CHECK(host_uid > 0 && host_uid != 1000);
	petri_test_run_free(&r1);
	petri_test_run_free(&r2);

	struct audit_events es = read_events();
	REQUIRE(es.n > 0 && es.ev[0]->body_case == BODY(STREAM_HEADER));
	/* The header asked the context: kernel audit is on (it said off when
	 * the host did not set kernel_audit itself). */
	CHECK(es.ev[0]->stream_header->kernel_audit);
	CHECK(strcmp(es.ev[0]->stream_header->kernel_audit_reason, "") == 0);

	const char *id1 = "kaudit-ids:1", *id2 = "kaudit-ids:2";
	size_t started = 0, sh_exec[3] = {0}, cat_exec[3] = {0}, opens[3] = {0}, sh_exit[3] = {0};
	size_t reaper_exit[3] = {0}, nkernel = 0;

	for (size_t i = 0; i < es.n; i++) {
		const Ev *ev = es.ev[i];

		if (ev->body_case == BODY(EXEC_STARTED)) {
			const char *want = started == 0 ? id1 : id2;
			CHECK_MSG(strcmp(ev->exec_id, want) == 0, "exec_started %s, want %s",
				  ev->exec_id, want);
			CHECK_MSG(ev->exec_started->timeout_ms == (started == 0 ? 20000u : 7000u),
				  "timeout_ms %llu",
				  (unsigned long long)ev->exec_started->timeout_ms);
			CHECK(ev->exec_started->n_argv == 3 &&
			      strcmp(ev->exec_started->argv[2],
				     started == 0 ? argv1[2] : argv2[2]) == 0);
			started++;
			continue;
		}
		if (!is_kernel_event(ev))
			continue;
		nkernel++;
		const char *comm = comm_of(ev);
		int which = strcmp(ev->exec_id, id1) == 0 ? 1 :
			    strcmp(ev->exec_id, id2) == 0 ? 2 :
							    0;

		CHECK_MSG(ev->process && ev->process->uid == 1000,
			  "seq %llu (%s): uid %u, want 1000 inside (host uid %lld)",
			  (unsigned long long)ev->seq, comm, ev->process ? ev->process->uid : 0,
			  (long long)host_uid);
		CHECK(strcmp(ev->sandbox_id, "kaudit-ids") == 0);
		/* Only init and a reaper waiting for its request belong to no
		 * exec; nothing belongs to an exec that did not run. */
		CHECK_MSG(which || (!ev->exec_id[0] && (strcmp(comm, "petri-init") == 0 ||
							strcmp(comm, "petri-exec") == 0)),
			  "seq %llu comm %s: exec_id \"%s\"", (unsigned long long)ev->seq, comm,
			  ev->exec_id);
		if (ev->body_case == BODY(PROCESS_EXEC)) {
			const Petri__Audit__V1__ProcessExec *x = ev->process_exec;

			if (strcmp(comm, "sh") == 0 && x->n_argv == 3) {
				int w = strcmp(x->argv[2], argv1[2]) == 0 ? 1 :
					strcmp(x->argv[2], argv2[2]) == 0 ? 2 :
									    0;
				CHECK_MSG(w && w == which, "exec of sh (%s) in exec \"%s\"",
					  x->argv[2], ev->exec_id);
				sh_exec[w]++;
			}
			if (strcmp(comm, "cat") == 0 && x->n_argv == 2) {
				int w = strcmp(x->argv[1], "/workspace/one") == 0 ? 1 :
					strcmp(x->argv[1], "/workspace/two") == 0 ? 2 :
										    0;
				CHECK_MSG(w && w == which, "exec of cat %s in exec \"%s\"",
					  x->argv[1], ev->exec_id);
				cat_exec[w]++;
			}
		}
		if (ev->body_case == BODY(FILE_ACTIVITY) &&
		    ev->file_activity->op == FILE_OP(OPEN)) {
			const char *path = ev->file_activity->path;
			int w = strcmp(path, "/workspace/one") == 0 ? 1 :
				strcmp(path, "/workspace/two") == 0 ? 2 :
								      0;
			if (w) {
				CHECK_MSG(w == which, "open of %s in exec \"%s\"", path,
					  ev->exec_id);
				opens[w]++;
			}
		}
		if (ev->body_case == BODY(PROCESS_EXIT)) {
			const Petri__Audit__V1__ProcessExit *x = ev->process_exit;

			if (strcmp(comm, "sh") == 0 && (x->exit_code == 3 || x->exit_code == 4)) {
				CHECK_MSG(which == x->exit_code - 2, "sh exit %d in exec \"%s\"",
					  x->exit_code, ev->exec_id);
				sh_exit[x->exit_code - 2]++;
			}
			/* Each exec's reaper, pid 1 of the exec's namespace. */
			if (strcmp(comm, "petri-exec") == 0 && which)
				reaper_exit[which] += ev->process->pid_inside == 1;
		}
	}
	CHECK(started == 2);
	CHECK(nkernel > 10);
	for (int w = 1; w <= 2; w++) {
		CHECK_MSG(sh_exec[w] == 1, "exec %d: %zu execs of sh", w, sh_exec[w]);
		CHECK_MSG(cat_exec[w] == 1, "exec %d: %zu execs of cat", w, cat_exec[w]);
		CHECK_MSG(opens[w] == 2, "exec %d: %zu opens of its file (sh's, cat's)", w,
			  opens[w]);
		CHECK_MSG(sh_exit[w] == 1, "exec %d: %zu exits of sh", w, sh_exit[w]);
		CHECK_MSG(reaper_exit[w] == 1, "exec %d: %zu exits of its reaper", w,
			  reaper_exit[w]);
	}
	audit_events_free(&es);
}

/* The network events of one exec, by source, in stream order. */
static size_t net_events(const struct audit_events *es, int source, const Net **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < es->n; i++) {
		const Ev *ev = es->ev[i];

		if (ev->body_case != BODY(NETWORK_ACTIVITY) ||
		    (int)ev->network_activity->source != source)
			continue;
		if (n < max)
			out[n] = ev->network_activity;
		n++;
	}
	return n;
}

static const char hook_code[] =
	"import errno, os, socket\n"
	"s = socket.socket(); s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]; s.close()\n"
	"c = socket.socket()\n"
	"try:\n    c.connect(('127.0.0.1', port))\nexcept OSError as e:\n    ce = e.errno\n"
	"a = socket.socket(); a.bind(('127.0.0.1', 0)); ap = a.getsockname()[1]\n"
	"b = socket.socket()\n"
	"try:\n    b.bind(('127.0.0.1', ap))\nexcept OSError as e:\n    be = e.errno\n"
	"u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
	"n = u.sendto(b'hello', ('127.0.0.1', 9))\n"
	"print(os.getpid(), port, ce, ap, be, n)\n";

static void check_hook_event(const Net *n, int op, const char *syscall, uint32_t port,
			     int32_t result, uint32_t type)
{
	uint8_t lo[4] = {127, 0, 0, 1};

	CHECK_MSG((int)n->op == op, "op %d, want %d", n->op, op);
	CHECK_MSG(strcmp(n->syscall, syscall) == 0, "syscall %s, want %s", n->syscall, syscall);
	CHECK(n->family == AF_INET);
	CHECK(n->address.len == 4 && memcmp(n->address.data, lo, 4) == 0);
	CHECK(strcmp(n->address_text, "127.0.0.1") == 0);
	CHECK_MSG(n->port == port, "%s port %u, want %u", syscall, n->port, port);
	CHECK_MSG(n->result == result, "%s result %d, want %d", syscall, n->result, result);
	CHECK(n->socket_type == type);
	CHECK(n->protocol == (type == SOCK_DGRAM ? 17u : 6u));
	CHECK(!n->denied);
	CHECK(n->local_address.len == 0 && n->local_port == 0);
}

/* connect/bind/sendto: the kernel's copy of the address (cgroup hook) and
 * the call's own result (sys_exit). */
static void check_hook_results(petri_ctx *ctx)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	petri_sandbox *sb = NULL;
	petri_error *e = NULL;
	petri_audit *a = open_stream();

	so.language = "python";
	so.id = "kaudit-hook";
	so.audit = a;
	create_sandbox(ctx, &so, &sb);
	struct petri_test_run run = petri_test_exec(sb, "python", hook_code, NULL, 20000);
	petri_sandbox_destroy(sb);
	CHECK(petri_audit_close(a, &e) == 0);
	CHECK_MSG(run.rc == 0 && run.exit_code == 0, "exec %d exit %d: %s %s", run.rc,
		  run.exit_code, run.errmsg, run.err);
	int pid = 0, port = 0, ce = 0, ap = 0, be = 0, sent = 0;
	CHECK_MSG(sscanf(run.out, "%d %d %d %d %d %d", &pid, &port, &ce, &ap, &be, &sent) == 6,
		  "program printed: %s", run.out);
	CHECK(ce == ECONNREFUSED && be == EADDRINUSE && sent == 5);
	petri_test_run_free(&run);

	struct audit_events es = read_events();
	const Net *n[8];
	size_t k = net_events(&es, SOURCE_HOOK, n, 8);

	CHECK_MSG(k == 5, "%zu cgroup hook events, want 5", k);
	if (k == 5) {
		check_hook_event(n[0], NET_OP(BIND), "bind", 0, 0, SOCK_STREAM);
		check_hook_event(n[1], NET_OP(CONNECT), "connect", (uint32_t)port, -ECONNREFUSED,
				 SOCK_STREAM);
		check_hook_event(n[2], NET_OP(BIND), "bind", 0, 0, SOCK_STREAM);
		check_hook_event(n[3], NET_OP(BIND), "bind", (uint32_t)ap, -EADDRINUSE,
				 SOCK_STREAM);
		check_hook_event(n[4], NET_OP(SENDTO), "sendto", 9, 5, SOCK_DGRAM);
	}
	for (size_t i = 0; i < es.n; i++)
		if (es.ev[i]->body_case == BODY(NETWORK_ACTIVITY)) {
			CHECK(es.ev[i]->process->pid_inside == (uint32_t)pid);
			CHECK(strcmp(es.ev[i]->exec_id, "kaudit-hook:1") == 0);
		}
	audit_events_free(&es);
}

static const char unix_code[] =
	"import os, socket\n"
	"u = socket.socket(socket.AF_UNIX); u.bind('/tmp/u.sock'); u.listen()\n"
	"v = socket.socket(socket.AF_UNIX); v.bind('/tmp/v.sock'); v.connect('/tmp/u.sock')\n"
	"k, _ = u.accept()\n"
	"w = socket.socket(socket.AF_UNIX); w.bind('\\0petri\\0abs'); w.listen()\n"
	"x = socket.socket(socket.AF_UNIX); x.connect('\\0petri\\0abs'); y, _ = w.accept()\n"
	"print(os.getpid(), k.fileno(), y.fileno())\n";

static void check_unix(const ProtobufCBinaryData *a, const char *text, const char *bytes,
		       size_t len, const char *have_text)
{
	CHECK_MSG(strcmp(have_text, text) == 0, "unix address \"%s\", want \"%s\"", have_text,
		  text);
	CHECK_MSG(a->len == len && (!len || memcmp(a->data, bytes, len) == 0),
		  "unix address bytes (%zu, want %zu)", a->len, len);
}

/* listen/accept on unix sockets: sun_path from the kernel's struct unix_sock,
 * abstract names marked. */
static void check_unix_sockets(petri_ctx *ctx)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	petri_sandbox *sb = NULL;
	petri_error *e = NULL;
	petri_audit *a = open_stream();

	so.language = "python";
	so.id = "kaudit-unix";
	so.audit = a;
	create_sandbox(ctx, &so, &sb);
	struct petri_test_run run = petri_test_exec(sb, "python", unix_code, NULL, 20000);
	petri_sandbox_destroy(sb);
	CHECK(petri_audit_close(a, &e) == 0);
	CHECK_MSG(run.rc == 0 && run.exit_code == 0, "exec %d exit %d: %s %s", run.rc,
		  run.exit_code, run.errmsg, run.err);
	int pid = 0, kfd = 0, yfd = 0;
	CHECK_MSG(sscanf(run.out, "%d %d %d", &pid, &kfd, &yfd) == 3, "program printed: %s",
		  run.out);
	petri_test_run_free(&run);

	struct audit_events es = read_events();
	const Net *n[8];
	size_t k = net_events(&es, SOURCE_SOCKET, n, 8);
	static const char abs_name[] = "\0petri\0abs";
	size_t abs_len = sizeof(abs_name) - 1;

	CHECK_MSG(k == 4, "%zu listen/accept events, want 4", k);
	if (k == 4) {
		for (size_t i = 0; i < 4; i++) {
			CHECK(n[i]->family == AF_UNIX && n[i]->socket_type == SOCK_STREAM);
			CHECK(n[i]->port == 0 && n[i]->local_port == 0);
		}
		CHECK(n[0]->op == NET_OP(LISTEN) && strcmp(n[0]->syscall, "listen") == 0);
		CHECK(n[0]->result == 0);
		check_unix(&n[0]->address, "/tmp/u.sock", "/tmp/u.sock", 11, n[0]->address_text);
		check_unix(&n[0]->local_address, "/tmp/u.sock", "/tmp/u.sock", 11,
			   n[0]->local_address_text);
		CHECK(n[1]->op == NET_OP(ACCEPT) && strcmp(n[1]->syscall, "accept4") == 0);
		CHECK_MSG(n[1]->result == kfd, "accept result %d, want %d", n[1]->result, kfd);
		check_unix(&n[1]->address, "/tmp/v.sock", "/tmp/v.sock", 11, n[1]->address_text);
		check_unix(&n[1]->local_address, "/tmp/u.sock", "/tmp/u.sock", 11,
			   n[1]->local_address_text);
		CHECK(n[2]->op == NET_OP(LISTEN) && n[2]->result == 0);
		check_unix(&n[2]->address, "@petri@abs", abs_name, abs_len, n[2]->address_text);
		check_unix(&n[2]->local_address, "@petri@abs", abs_name, abs_len,
			   n[2]->local_address_text);
		CHECK(n[3]->op == NET_OP(ACCEPT) && n[3]->result == yfd);
		check_unix(&n[3]->address, "", "", 0, n[3]->address_text); /* x is unbound */
		check_unix(&n[3]->local_address, "@petri@abs", abs_name, abs_len,
			   n[3]->local_address_text);
	}
	audit_events_free(&es);
}

/* Index of the event of @type for exec @id, or (size_t)-1. */
static size_t find_exec_event(const struct audit_events *es, Petri__Audit__V1__Event__BodyCase type,
			      const char *id)
{
	for (size_t i = 0; i < es->n; i++)
		if (es->ev[i]->body_case == type && strcmp(es->ev[i]->exec_id, id) == 0)
			return i;
	return (size_t)-1;
}

/* Order and attribution: every kernel event of an exec lies between its
 * ExecStarted and its ExecEnded; petri's own processes (init and each
 * exec's reaper, pid 1 inside; the command before its execve, pid 2) leave
 * no file or network events: masking /proc, writing the code file and
 * Landlock's paths are the library's set-up, not the code's. */
static void check_order_and_library_quiet(petri_ctx *ctx)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	petri_sandbox *sb = NULL;
	petri_error *e = NULL;
	petri_audit *a = open_stream_ctx(ctx);
	const char *argv[] = {"sh", "-c", "cat /etc/hostname; ls /tmp > /dev/null", NULL};

	so.language = "sh";
	so.id = "kaudit-order";
	so.audit = a;
	create_sandbox(ctx, &so, &sb);
	for (int i = 0; i < 3; i++) {
		struct petri_test_run r = petri_test_exec(sb, NULL, NULL, argv, 20000);
		CHECK_MSG(r.rc == 0 && r.exit_code == 0, "exec %d: %d %d %s", i + 1, r.rc,
			  r.exit_code, r.errmsg);
		petri_test_run_free(&r);
	}
	/* The code, not the library, writes this file: its events stay. */
	petri_exec_opts eo = PETRI_EXEC_OPTS_INIT;
	eo.code = "cat /run/petri/* > /dev/null";
	petri_result *res = NULL;
	CHECK(petri_sandbox_exec(sb, &eo, &res, &e) == 0);
	petri_result_free(res);
	petri_sandbox_destroy(sb);
	CHECK(petri_audit_close(a, &e) == 0);

	struct audit_events es = read_events();
	size_t files = 0, code_file_reads = 0;
	for (int x = 1; x <= 4; x++) {
		char id[64];
		snprintf(id, sizeof(id), "kaudit-order:%d", x);
		size_t start = find_exec_event(&es, BODY(EXEC_STARTED), id);
		size_t end = find_exec_event(&es, BODY(EXEC_ENDED), id);
		REQUIRE(start != (size_t)-1 && end != (size_t)-1 && start < end);
		int cmd_execd = 0;
		for (size_t i = 0; i < es.n; i++) {
			const Ev *ev = es.ev[i];
			if (!is_kernel_event(ev) || strcmp(ev->exec_id, id) != 0)
				continue;
			CHECK_MSG(start < i && i < end,
				  "%s: %s event of %s at seq %llu, outside [%llu, %llu]", id,
				  es.json[i], comm_of(ev), (unsigned long long)ev->seq,
				  (unsigned long long)es.ev[start]->seq,
				  (unsigned long long)es.ev[end]->seq);
			uint32_t pid = ev->process ? ev->process->pid_inside : 0;
			if (ev->body_case == BODY(PROCESS_EXEC) && pid == 2)
				cmd_execd = 1;
			if (ev->body_case != BODY(FILE_ACTIVITY) &&
			    ev->body_case != BODY(NETWORK_ACTIVITY))
				continue;
			files++;
			CHECK_MSG(pid > 2 || (pid == 2 && cmd_execd),
				  "%s: a library action in the stream: %s", id, es.json[i]);
			if (x == 4 && strstr(es.json[i], "/run/petri/"))
				code_file_reads++;
		}
	}
	/* And nothing of the library's without an exec id either (init). */
	for (size_t i = 0; i < es.n; i++) {
		const Ev *ev = es.ev[i];
		if ((ev->body_case == BODY(FILE_ACTIVITY) ||
		     ev->body_case == BODY(NETWORK_ACTIVITY)) &&
		    ev->exec_id[0] == '\0')
			CHECK_MSG(0, "a file or network event of no exec: %s", es.json[i]);
	}
	CHECK_MSG(files >= 12, "only %zu file events from four execs", files);
	CHECK_MSG(code_file_reads >= 1, "the code's own read of /run/petri is missing");
	audit_events_free(&es);
}

/* The context of a case, with kernel audit on (else the case is skipped;
 * under CI=true that fails). */
static petri_ctx *kaudit_ctx(void)
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
	return ctx;
}

/* A stream opened with a fresh context (kernel audit not loaded): the
 * header is sealed when the first event comes, seq 0, saying kernel audit
 * is on, and the exec's open of /etc/hostname (resolved from the kernel's
 * struct file) is in the stream: the load overlapped the sandbox's
 * creation, and nothing ran before the sandbox was watched. */
static void check_deferred_header(petri_ctx *ctx)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	petri_sandbox *sb = NULL;
	petri_error *e = NULL;
	petri_audit *a = open_stream_ctx(ctx);
	const char *argv[] = {"cat", "/etc/hostname", NULL};

	so.id = "kaudit-deferred";
	so.audit = a;
	create_sandbox(ctx, &so, &sb);
	struct petri_test_run r = petri_test_exec(sb, NULL, NULL, argv, 20000);
	CHECK_MSG(r.rc == 0 && r.exit_code == 0, "exec: %d %d %s", r.rc, r.exit_code, r.errmsg);
	petri_test_run_free(&r);
	petri_sandbox_destroy(sb);
	CHECK(petri_audit_close(a, &e) == 0);

	const char *why = NULL;
	if (petri_ctx_kernel_audit(ctx, &why) != 1) {
		char msg[512];
		snprintf(msg, sizeof(msg), "kernel audit off: %s", why ? why : "?");
		petri_test_skip(msg);
	}
	struct audit_events es = read_events();
	REQUIRE(es.n > 2 && es.ev[0]->body_case == BODY(STREAM_HEADER));
	CHECK(es.seq[0] == 0);
	CHECK_MSG(es.ev[0]->stream_header->kernel_audit, "header: %s", es.json[0]);
	CHECK_MSG(es.ev[1]->body_case == BODY(SANDBOX_CREATED), "after the header: %s", es.json[1]);
	CHECK(es.ev[0]->time_unix_nano <= es.ev[1]->time_unix_nano);
	int opened = 0;
	for (size_t i = 0; i < es.n; i++) {
		const Ev *ev = es.ev[i];
		if (i)
			CHECK_MSG(ev->body_case != BODY(STREAM_HEADER), "a second header: %s",
				  es.json[i]);
		if (ev->body_case == BODY(FILE_ACTIVITY) &&
		    !strcmp(ev->file_activity->path, "/etc/hostname") &&
		    ev->file_activity->path_source ==
			    PETRI__AUDIT__V1__FILE_ACTIVITY__PATH_SOURCE__PATH_SOURCE_KERNEL_FILE &&
		    !strcmp(ev->exec_id, "kaudit-deferred:1"))
			opened = 1;
	}
	CHECK_MSG(opened, "the exec's open of /etc/hostname is missing");
	audit_events_free(&es);
}

/* Streams opened with a context still loading: one closed with nothing
 * sent to it (the header waits for the load, then StreamEnd), one whose
 * context is freed first (the load finishes, the stream keeps its
 * outcome).  Both verify and hold exactly a header and a StreamEnd. */
static void check_deferred_header_alone(void)
{
	for (int ctx_first = 0; ctx_first < 2; ctx_first++) {
		petri_ctx *ctx = NULL;
		petri_error *e = NULL;
		REQUIRE(petri_ctx_new(&ctx, NULL, &e) == 0);
		petri_audit *a = open_stream_ctx(ctx);
		int on = -1;
		if (ctx_first) {
			petri_ctx_free(ctx);
		} else {
			CHECK(petri_audit_close(a, &e) == 0);
			a = NULL;
			on = petri_ctx_kernel_audit(ctx, NULL);
			petri_ctx_free(ctx);
		}
		if (a)
			CHECK_MSG(petri_audit_close(a, &e) == 0, "close: %s",
				  petri_error_message(e));
		struct audit_events es = read_events();
		REQUIRE(es.n == 2);
		CHECK(es.ev[0]->body_case == BODY(STREAM_HEADER) && es.seq[0] == 0);
		CHECK(es.ev[1]->body_case == BODY(STREAM_END));
		if (on >= 0)
			CHECK_MSG(es.ev[0]->stream_header->kernel_audit == (on == 1), "header: %s",
				  es.json[0]);
		if (!es.ev[0]->stream_header->kernel_audit)
			CHECK_MSG(es.ev[0]->stream_header->kernel_audit_reason[0],
				  "off without a reason: %s", es.json[0]);
		audit_events_free(&es);
	}
}

/* The last stream of a case is left for a look with PETRI_KAUDIT_KEEP. */
static void done_with_stream(void)
{
	if (!stream_path[0])
		return;
	if (getenv("PETRI_KAUDIT_KEEP"))
		printf("stream kept: %s\n", stream_path);
	else
		unlink(stream_path);
}

static void test_listen_accept(void)
{
	check_listen_accept(kaudit_ctx());
	done_with_stream();
}

static void test_exec_ids_and_uid(void)
{
	check_exec_ids_and_uid(kaudit_ctx());
	done_with_stream();
}

static void test_hook_results(void)
{
	check_hook_results(kaudit_ctx());
	done_with_stream();
}

static void test_unix_sockets(void)
{
	check_unix_sockets(kaudit_ctx());
	done_with_stream();
}

static void test_order_and_library_quiet(void)
{
	check_order_and_library_quiet(kaudit_ctx());
	done_with_stream();
}

static void test_deferred_header(void)
{
	if (geteuid() != 0)
		petri_test_skip("kernel audit needs root");
	check_deferred_header(petri_test_ctx());
	done_with_stream();
}

static void test_deferred_header_alone(void)
{
	if (geteuid() != 0)
		petri_test_skip("kernel audit needs root");
	check_deferred_header_alone();
	done_with_stream();
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(listen_accept),
	PETRI_TEST_CASE(exec_ids_and_uid),
	PETRI_TEST_CASE(hook_results),
	PETRI_TEST_CASE(unix_sockets),
	PETRI_TEST_CASE(order_and_library_quiet),
	PETRI_TEST_CASE(deferred_header),
	PETRI_TEST_CASE(deferred_header_alone),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
