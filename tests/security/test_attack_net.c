/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_attack_net - code in a sandbox (network "none") reaches nothing of
 * the host's network.
 *
 * The test listens on the host: a TCP server and a UDP socket on a random
 * port of every local address, an abstract unix socket with a random name,
 * and a unix socket by path.  attacks/net.py connects and sends to each of
 * the host's OWN interface addresses (never another machine), the abstract
 * name and the path; lists the interfaces (only lo); checks that lo is up
 * (a server of its own on 127.0.0.1 works); and tries raw, packet and vsock
 * sockets and interface reconfiguration.  The host then checks that it
 * accepted and received nothing.
 *
 * Control: the same TCP connect from a PETRI_NET_HOST sandbox arrives, so a
 * sandbox that could reach the host would be seen.
 */
#include "sec_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int listen_any(int type, int *port)
{
	int s = socket(AF_INET6, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int v6 = s >= 0;
	if (s >= 0) {
		int off = 0;
		setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
		struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = in6addr_any};
		if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
			close(s);
			s = -1;
		}
	}
	if (s < 0) {
		v6 = 0;
		s = socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_addr.s_addr = htonl(INADDR_ANY)};
		REQUIRE(s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0);
	}
	if (type == SOCK_STREAM)
		REQUIRE(listen(s, 16) == 0);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	REQUIRE(getsockname(s, (struct sockaddr *)&ss, &sl) == 0);
	*port = v6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
		     ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return s;
}

static int listen_unix(const char *name, int abstract, socklen_t *len_out)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	size_t n = strlen(name);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	REQUIRE(s >= 0 && n + 2 < sizeof(a.sun_path));
	memcpy(a.sun_path + (abstract ? 1 : 0), name, n);
	socklen_t len =
		(socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (abstract ? 1 : 0));
	REQUIRE(bind(s, (struct sockaddr *)&a, len) == 0 && listen(s, 16) == 0);
	if (len_out)
		*len_out = len;
	return s;
}

/* The host's own interface addresses (link-local IPv6 left out: it needs a
 * scope), ','-separated, loopback ones first. */
static void host_addrs(char *buf, size_t len, int *nloop, int *ntotal)
{
	struct ifaddrs *ifa = NULL, *i;
	size_t n = 0;
	*nloop = *ntotal = 0;
	buf[0] = '\0';
	REQUIRE(getifaddrs(&ifa) == 0);
	for (int pass = 0; pass < 2; pass++) {
		for (i = ifa; i; i = i->ifa_next) {
			if (!i->ifa_addr || !(i->ifa_flags & IFF_UP))
				continue;
			int lo = (i->ifa_flags & IFF_LOOPBACK) != 0;
			if (lo != (pass == 0))
				continue;
			char a[INET6_ADDRSTRLEN];
			if (i->ifa_addr->sa_family == AF_INET) {
				inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr,
					  a, sizeof(a));
			} else if (i->ifa_addr->sa_family == AF_INET6) {
				struct in6_addr *x =
					&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
				if (IN6_IS_ADDR_LINKLOCAL(x))
					continue;
				inet_ntop(AF_INET6, x, a, sizeof(a));
			} else {
				continue;
			}
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "", a);
			*nloop += lo;
			(*ntotal)++;
		}
	}
	freeifaddrs(ifa);
}

static int accepted_any(int s)
{
	int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
	if (c >= 0) {
		close(c);
		return 1;
	}
	return 0;
}

/* The host's listeners (TCP and UDP on every address, abstract and path
 * unix sockets) and the environment that tells net.py where they are. */
static int tcp_port, udp_port, tcp, udp, uabs, upath, nloop, ntotal;
static char path[128];
static char e_tcp[64], e_udp[64], e_addrs[4200], e_abs[128], e_path[200];
static const char *env[] = {e_tcp, e_udp, e_addrs, e_abs, e_path, NULL};

static void listen_on_host(void)
{
	tcp = listen_any(SOCK_STREAM, &tcp_port);
	udp = listen_any(SOCK_DGRAM, &udp_port);
	char abstract[64];
	snprintf(abstract, sizeof(abstract), "petri-sec-net-%d-%u", (int)getpid(),
		 (unsigned)sec_now_ms());
	snprintf(path, sizeof(path), "/tmp/petri-sec-net-%d.sock", (int)getpid());
	unlink(path);
	uabs = listen_unix(abstract, 1, NULL);
	upath = listen_unix(path, 0, NULL);
	chmod(path, 0777);

	char addrs[4096];
	host_addrs(addrs, sizeof(addrs), &nloop, &ntotal);
	REQUIRE(nloop > 0);
	fprintf(stderr, "host addresses: %s (tcp %d, udp %d)\n", addrs, tcp_port, udp_port);
	snprintf(e_tcp, sizeof(e_tcp), "SEC_TCP_PORT=%d", tcp_port);
	snprintf(e_udp, sizeof(e_udp), "SEC_UDP_PORT=%d", udp_port);
	snprintf(e_addrs, sizeof(e_addrs), "SEC_HOST_ADDRS=%s", addrs);
	snprintf(e_abs, sizeof(e_abs), "SEC_ABSTRACT=%s", abstract);
	snprintf(e_path, sizeof(e_path), "SEC_UNIX_PATH=%s", path);
}

static void stop_listening(void)
{
	close(tcp);
	close(udp);
	close(uabs);
	close(upath);
	unlink(path);
}

static void test_net_attack(void)
{
	listen_on_host();
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = "python";
	petri_sandbox *sb = sec_sandbox(&so);
	struct petri_test_run r = sec_exec_attack(sb, "net.py", env, 60000);
	CHECK_MSG(r.rc == 0 && r.reason == PETRI_REASON_EXITED && r.exit_code == 0,
		  "net.py did not run to completion");
	sec_expect_no_escape(&r);
	for (int i = 0; i < ntotal; i++) {
		char name[32];
		snprintf(name, sizeof(name), "tcp_%d", i);
		/* lo in here is not the host's lo: nobody listens on it */
		sec_expect(&r, name,
			   i < nloop ? "BLOCKED ECONNREFUSED" :
				       "BLOCKED ENETUNREACH|BLOCKED EHOSTUNREACH");
		snprintf(name, sizeof(name), "udp_%d", i);
		sec_expect(&r, name,
			   i < nloop ? "SENT" : "BLOCKED ENETUNREACH|BLOCKED EHOSTUNREACH");
	}
	sec_expect_list(&r, "ifaces", "lo", "lo");
	sec_expect_list(&r, "proc_net_dev", "lo", "lo");
	sec_expect(&r, "lo_works", "OK");
	sec_expect(&r, "connect_own_tcp_port", "BLOCKED ECONNREFUSED");
	sec_expect(&r, "raw_socket", "BLOCKED EPERM");
	sec_expect(&r, "raw_socket6", "BLOCKED EPERM");
	sec_expect(&r, "packet_socket", "BLOCKED EPERM");
	sec_expect(&r, "vsock_socket", "BLOCKED EPERM");
	sec_expect(&r, "siocsifflags_lo_down", "BLOCKED EPERM");
	sec_expect(&r, "siocsifaddr_lo", "BLOCKED EPERM");
	sec_expect(&r, "bind_privileged_port", "BLOCKED EACCES|BLOCKED EPERM");
	sec_expect(&r, "abstract_unix", "BLOCKED ECONNREFUSED|BLOCKED EPERM");
	sec_expect(&r, "path_unix", "BLOCKED ENOENT");
	if (petri_test_failures)
		sec_dump("net.py", &r);
	petri_test_run_free(&r);
	petri_sandbox_destroy(sb);

	/* Nothing arrived on the host. */
	CHECK_MSG(!accepted_any(tcp),
		  "the host's TCP server accepted a connection from the sandbox");
	CHECK_MSG(!accepted_any(uabs), "the host's abstract unix socket accepted a connection");
	CHECK_MSG(!accepted_any(upath), "the host's unix socket accepted a connection");
	char dg[64];
	ssize_t got = recv(udp, dg, sizeof(dg), MSG_DONTWAIT);
	CHECK_MSG(got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK),
		  "the host's UDP socket received %zd bytes from the sandbox", got);
	stop_listening();
}

static void test_host_net_control(void)
{
	listen_on_host();
	/* Control: from the host's network the same connect arrives. */
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.net = PETRI_NET_HOST;
	so.language = "sh";
	petri_sandbox *sb = sec_sandbox(&so);
	char cmd[256];
	snprintf(
		cmd, sizeof(cmd),
		"exec python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", %d), 5).close()'",
		tcp_port);
	struct sec_exec x = {.lang = "sh", .code = cmd, .timeout_ms = 20000};
	struct petri_test_run r = sec_exec(sb, &x);
	CHECK_MSG(r.rc == 0 && r.exit_code == 0,
		  "control connect from a host-network sandbox failed");
	petri_test_run_free(&r);
	petri_sandbox_destroy(sb);
	int seen = 0;
	for (int i = 0; i < 100 && !seen; i++) {
		seen = accepted_any(tcp);
		if (!seen)
			usleep(10000);
	}
	CHECK_MSG(seen, "control: the server never saw the host-network sandbox's connection");
	stop_listening();
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(net_attack),
	PETRI_TEST_CASE(host_net_control),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
