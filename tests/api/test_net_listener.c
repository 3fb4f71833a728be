/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_net_listener - the seam for the host-side egress proxy (DESIGN.md
 * "Network"): init makes a TCP socket listening on the loopback of the
 * sandbox's own network namespace and hands it to the host.  Code inside
 * connects to 127.0.0.1:PORT (and [::1]:PORT) and talks to the host, which
 * accepts on that fd; the same port on the host's own loopback is not that
 * socket.  Bad families are refused.  An internal function: linked against
 * the static library.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

#include "api_common.h"

int petri__sandbox_listen(petri_sandbox *sb, int family, uint16_t port, petri_error **err);

/* Accept one connection, read "ping", answer "pong". */
static void *serve_one(void *arg)
{
	int lfd = (int)(intptr_t)arg;
	int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return (void *)(intptr_t)-1;
	char buf[8] = "";
	ssize_t n = read(c, buf, 4);
	intptr_t ok = n == 4 && memcmp(buf, "ping", 4) == 0;
	if (ok && write(c, "pong", 4) != 4)
		ok = 0;
	close(c);
	return (void *)ok;
}

static uint16_t local_port(int fd, int family)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	REQUIRE(getsockname(fd, (struct sockaddr *)&ss, &len) == 0);
	REQUIRE(ss.ss_family == family);
	if (family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
		CHECK(a->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
		return ntohs(a->sin_port);
	}
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&ss;
	CHECK(memcmp(&a6->sin6_addr, &in6addr_loopback, sizeof(in6addr_loopback)) == 0);
	return ntohs(a6->sin6_port);
}

static void talk(petri_sandbox *sb, int family, uint16_t want_port)
{
	petri_error *e = NULL;
	int lfd = petri__sandbox_listen(sb, family, want_port, &e);
	CHECK_MSG(lfd >= 0, "listen (family %d): %d %s", family, lfd, petri_error_message(e));
	petri_error_free(e);
	if (lfd < 0)
		return;
	uint16_t port = local_port(lfd, family);
	CHECK(want_port == 0 ? port != 0 : port == want_port);

	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, serve_one, (void *)(intptr_t)lfd) == 0);
	char code[512];
	snprintf(code, sizeof(code),
		 "import socket\n"
		 "s = socket.create_connection(('%s', %u), timeout=10)\n"
		 "s.sendall(b'ping')\n"
		 "print(s.recv(4).decode())\n",
		 family == AF_INET ? "127.0.0.1" : "::1", (unsigned)port);
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.code = code;
	o.language = "python";
	o.timeout_ms = 30000;
	petri_result *res = API_EXEC(sb, &o);
	void *ok = NULL;
	pthread_join(t, &ok);
	CHECK_MSG(api_out_is(res, PETRI_STREAM_STDOUT, "pong\n"), "family %d: stdout '%s'", family,
		  api_out_str(res, PETRI_STREAM_STDOUT));
	CHECK(ok == (void *)1);
	petri_result_free(res);

	/* The host's own loopback port is another socket: not this one. */
	int c = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	REQUIRE(c >= 0);
	struct sockaddr_storage ss = {0};
	socklen_t len = sizeof(ss);
	REQUIRE(getsockname(lfd, (struct sockaddr *)&ss, &len) == 0);
	int r = connect(c, (struct sockaddr *)&ss, len);
	CHECK(r == 0 || errno == EINPROGRESS || errno == ECONNREFUSED);
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	CHECK_MSG(poll(&p, 1, 200) == 0, "a host connection reached the sandbox's listener");
	close(c);
	close(lfd);
}

int main(void)
{
	petri_sandbox *sb = api_sandbox(NULL);
	talk(sb, AF_INET, 0);
	talk(sb, AF_INET6, 0);
	talk(sb, AF_INET, 8080); /* a fixed port: the proxy's well-known one */

	petri_error *e = NULL;
	CHECK(petri__sandbox_listen(sb, AF_UNIX, 0, &e) == -EAFNOSUPPORT);
	CHECK(e && strstr(petri_error_message(e), "address family"));
	petri_error_free(e);
	e = NULL;
	CHECK(petri__sandbox_listen(NULL, AF_INET, 0, &e) == -EINVAL);
	petri_error_free(e);

	/* A port already taken inside: a clear error, and init lives on. */
	int held = petri__sandbox_listen(sb, AF_INET, 8081, NULL);
	CHECK(held >= 0);
	e = NULL;
	int r = petri__sandbox_listen(sb, AF_INET, 8081, &e);
	CHECK_MSG(r == -EADDRINUSE, "second listen on 8081: %d %s", r, petri_error_message(e));
	petri_error_free(e);
	if (held >= 0)
		close(held);
	petri_result *res = API_SH(sb, "echo alive");
	CHECK(api_out_is(res, PETRI_STREAM_STDOUT, "alive\n"));
	petri_result_free(res);

	petri_sandbox_destroy(sb);
	petri_ctx_free(petri_test_ctx());
	return petri_test_done();
}
