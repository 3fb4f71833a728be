/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_net_proxy - PETRI_NET_PROXY end to end (libpetri/net/net.h): servers
 * on the host's own loopback (plain HTTP, TLS), sandboxes whose allowlists
 * pin test names to 127.0.0.1 ("allowed.test:PORT=127.0.0.1"), and real
 * clients inside (curl, Python), with the proxy variables and without them
 * (the transparent path).  Allowed fetches return the server's body; every
 * kind of refusal is refused; a sandbox's only ways out are the proxy's;
 * resource faults (1,000 connections, slowloris, a silent upstream) hold
 * one sandbox's connections only; nothing is left behind after destroy.
 * No packet goes anywhere but loopback: no name here is resolved by the
 * host's resolver except "localhost" (from /etc/hosts).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "petri/audit.h"
#include "petri_test.h"

/* ---- a plain HTTP server on the host's 127.0.0.1 ---- */

/*
 * One thread, poll over every connection: answers each request head with
 * 200 and the body "hello HOST PATH\n" (HOST from the Host header), keeps
 * the connection for more until the client closes.  silent: accept and
 * never answer.  Counts the connections it accepted.
 */
#define SRV_MAX 4096
struct srv {
	int lfd;
	uint16_t port;
	int silent; /* 1: never answer; 2: speak first ("220 hi"), then echo */
	int stop_pipe[2];
	pthread_t thread;
	int accepted; /* atomic */
};

struct srv_conn {
	int fd;
	char buf[4096];
	size_t len;
	int echo; /* GET /upgrade was answered 101: from then on an echo */
};

/* GET /big: BIG_BYTES of "%015x\n" lines (the line's number: a chunk out
 * of place or lost shows), written blocking (one client at a time). */
#define BIG_BYTES (8u << 20)
static void srv_big(int fd)
{
	char head[128], block[(1 << 16) + 1]; /* (+1: snprintf's NUL after the last line) */
	int n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n",
			 BIG_BYTES);
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	int ok = write(fd, head, (size_t)n) == n;
	for (unsigned line = 0; ok && line < BIG_BYTES / 16;) {
		size_t len = 0;
		for (; len < sizeof(block) - 1 && line < BIG_BYTES / 16; len += 16, line++)
			snprintf(block + len, 17, "%015x\n", line);
		for (size_t off = 0; ok && off < len;) {
			ssize_t w = write(fd, block + off, len - off);
			ok = w > 0;
			off += ok ? (size_t)w : 0;
		}
	}
	fcntl(fd, F_SETFL, fl);
}

static void srv_answer(struct srv_conn *c)
{
	for (;;) {
		char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
		if (!end)
			return;
		size_t hl = (size_t)(end - c->buf) + 4;
		char host[256] = "-", path[512] = "-";
		size_t body = 0;
		for (char *l = c->buf; l < end; l++)
			if ((l == c->buf || l[-1] == '\n') &&
			    strncasecmp(l, "content-length:", 15) == 0)
				body = strtoul(l + 15, NULL, 10);
		if (body > 256 || c->len < hl + body)
			return; /* (a test's bodies are small) */
		char *sp = memchr(c->buf, ' ', hl);
		if (sp) {
			char *sp2 = memchr(sp + 1, ' ', hl - (size_t)(sp + 1 - c->buf));
			if (sp2 && (size_t)(sp2 - sp - 1) < sizeof(path))
				snprintf(path, sizeof(path), "%.*s", (int)(sp2 - sp - 1), sp + 1);
		}
		for (char *l = c->buf; l < end; l++) {
			if ((l == c->buf || l[-1] == '\n') && strncasecmp(l, "host:", 5) == 0) {
				char *v = l + 5;
				while (*v == ' ')
					v++;
				char *e = strstr(v, "\r\n");
				if (e && (size_t)(e - v) < sizeof(host))
					snprintf(host, sizeof(host), "%.*s", (int)(e - v), v);
			}
		}
		if (strncmp(path, "/upgrade", 8) == 0) {
			static const char sw[] = "HTTP/1.1 101 Switching Protocols\r\n"
						 "Upgrade: echo\r\nConnection: Upgrade\r\n\r\n";
			if (write(c->fd, sw, sizeof(sw) - 1) < 0) {
				/* gone; poll sees it */
			}
			memmove(c->buf, c->buf + hl + body, c->len - hl - body);
			c->len -= hl + body;
			c->echo = 1;
			return;
		}
		if (strncmp(path, "/big", 4) == 0) {
			srv_big(c->fd);
			memmove(c->buf, c->buf + hl + body, c->len - hl - body);
			c->len -= hl + body;
			continue;
		}
		char resp[1024];
		char text[800];
		int bl = snprintf(text, sizeof(text), "hello %s %s%s%.*s\n", host, path,
				  body ? " " : "", (int)body, c->buf + hl);
		int n = snprintf(resp, sizeof(resp),
				 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
				 "%d\r\n\r\n%s",
				 bl, text);
		if (write(c->fd, resp, (size_t)n) < 0) {
			/* the client went away; poll sees it */
		}
		memmove(c->buf, c->buf + hl + body, c->len - hl - body);
		c->len -= hl + body;
	}
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	struct srv_conn *conns = calloc(SRV_MAX, sizeof(*conns));
	struct pollfd *pfd = calloc(SRV_MAX + 2, sizeof(*pfd));
	REQUIRE(conns && pfd);
	size_t n = 0;
	for (;;) {
		pfd[0] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = s->stop_pipe[0], .events = POLLIN};
		for (size_t i = 0; i < n; i++)
			pfd[i + 2] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
		if (poll(pfd, n + 2, -1) < 0)
			continue;
		if (pfd[1].revents)
			break;
		for (size_t i = n; i-- > 0;) {
			if (!pfd[i + 2].revents)
				continue;
			struct srv_conn *c = &conns[i];
			ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
			if (r <= 0 || c->len + (size_t)r >= sizeof(c->buf)) {
				close(c->fd);
				conns[i] = conns[--n];
				continue;
			}
			c->len += (size_t)r;
			if (s->silent == 2 || c->echo) {
				if (write(c->fd, c->buf, c->len) < 0) {
					/* gone; poll sees it */
				}
				c->len = 0;
			} else if (!s->silent) {
				srv_answer(c);
				if (c->echo && c->len) { /* what came with the upgrade */
					if (write(c->fd, c->buf, c->len) < 0) {
						/* gone; poll sees it */
					}
					c->len = 0;
				}
			}
		}
		if (pfd[0].revents & POLLIN) {
			int fd;
			while ((fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >=
			       0) {
				__atomic_add_fetch(&s->accepted, 1, __ATOMIC_RELAXED);
				if (n == SRV_MAX) {
					close(fd);
					continue;
				}
				conns[n++] = (struct srv_conn){.fd = fd};
				if (s->silent == 2 && write(fd, "220 hi\r\n", 8) != 8)
					fprintf(stderr, "banner not sent\n");
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		close(conns[i].fd);
	free(conns);
	free(pfd);
	return NULL;
}

static int listen_loopback(uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	REQUIRE(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	REQUIRE(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	REQUIRE(listen(fd, 4096) == 0);
	REQUIRE(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Connections @s has accepted so far (its thread counts them). */
static int accepted(struct srv *s)
{
	return __atomic_load_n(&s->accepted, __ATOMIC_RELAXED);
}

static void srv_start(struct srv *s, int silent)
{
	memset(s, 0, sizeof(*s));
	s->silent = silent;
	s->lfd = listen_loopback(&s->port);
	REQUIRE(pipe2(s->stop_pipe, O_CLOEXEC) == 0);
	REQUIRE(pthread_create(&s->thread, NULL, srv_main, s) == 0);
}

static void srv_stop(struct srv *s)
{
	if (write(s->stop_pipe[1], "x", 1) != 1)
		return;
	pthread_join(s->thread, NULL);
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
	close(s->lfd);
}

/* ---- what the sandboxes see at /t: certificates and a Python helper ---- */

/* Certificates for allowed.test (and evil.test, the same key) and nt.py,
 * in a directory bound read-only at /t in every sandbox of a case. */
static char tdir[] = "/tmp/petri-net-test-XXXXXX";
static int tdir_made;

static const char nt_py[] =
	"import errno, socket, ssl, struct\n"
	"def proxy_connect(target, host=None):\n"
	"    # CONNECT target through the explicit proxy: (socket, status)\n"
	"    s = socket.create_connection(('127.0.0.1', 3128), timeout=20)\n"
	"    s.sendall(('CONNECT %s HTTP/1.1\\r\\nHost: %s\\r\\n\\r\\n' % (target, host or "
	"target)).encode())\n"
	"    d = b''\n"
	"    while b'\\r\\n\\r\\n' not in d:  # byte by byte: what follows is the tunnel's\n"
	"        b = s.recv(1)\n"
	"        if not b:\n"
	"            break\n"
	"        d += b\n"
	"    return s, (d.split(b' ')[1].decode() if d else 'closed')\n"
	"def https_get(s, name):\n"
	"    # TLS with SNI name over s, GET /: the status line, or closed\n"
	"    c = ssl.create_default_context(cafile='/t/cert.pem')\n"
	"    try:\n"
	"        t = c.wrap_socket(s, server_hostname=name)\n"
	"        t.sendall(b'GET / HTTP/1.1\\r\\nHost: allowed.test\\r\\nConnection: "
	"close\\r\\n\\r\\n')\n"
	"        return t.recv(4096).split(b'\\r\\n')[0].decode()\n"
	"    except (ssl.SSLError, OSError):\n"
	"        return 'closed'\n"
	"def tls_nosni(s):\n"
	"    # TLS without SNI over s, GET /: the status line, or closed\n"
	"    c = ssl.create_default_context()\n"
	"    c.check_hostname = False\n"
	"    c.verify_mode = ssl.CERT_NONE\n"
	"    try:\n"
	"        t = c.wrap_socket(s)\n"
	"        t.sendall(b'GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n')\n"
	"        return t.recv(4096).split(b'\\r\\n')[0].decode()\n"
	"    except (ssl.SSLError, OSError):\n"
	"        return 'closed'\n"
	"def upgrade(s, head, after=b'ping'):\n"
	"    # an upgrade head over s, its answer, then after: 'STATUS ECHO'\n"
	"    s.sendall(head)\n"
	"    d = b''\n"
	"    while b'\\r\\n\\r\\n' not in d:\n"
	"        b = s.recv(1)\n"
	"        if not b:\n"
	"            return 'closed'\n"
	"        d += b\n"
	"    s.sendall(after)\n"
	"    return '%s %s' % (d.split(b' ')[1].decode(), s.recv(64).decode())\n"
	"def raw(host, port, data, family=socket.AF_INET):\n"
	"    # send data, read until EOF: the bytes, or the errno name\n"
	"    s = socket.socket(family, socket.SOCK_STREAM)\n"
	"    s.settimeout(20)\n"
	"    try:\n"
	"        s.connect((host, port))\n"
	"        s.sendall(data)\n"
	"        d = b''\n"
	"        while True:\n"
	"            b = s.recv(65536)\n"
	"            if not b:\n"
	"                return d\n"
	"            d += b\n"
	"    except OSError as e:\n"
	"        return errno.errorcode.get(e.errno, str(e))\n"
	"def connect(host, port, family=socket.AF_INET):\n"
	"    s = socket.socket(family, socket.SOCK_STREAM)\n"
	"    s.settimeout(5)\n"
	"    try:\n"
	"        s.connect((host, port))\n"
	"        return 'connected'\n"
	"    except OSError as e:\n"
	"        return errno.errorcode.get(e.errno, str(e))\n"
	"def udp(host, port, family=socket.AF_INET):\n"
	"    s = socket.socket(family, socket.SOCK_DGRAM)\n"
	"    s.settimeout(3)\n"
	"    try:\n"
	"        s.connect((host, port))\n"
	"        s.send(b'x')\n"
	"        s.recv(512)\n"
	"        return 'reply'\n"
	"    except socket.timeout:\n"
	"        return 'timeout'\n"
	"    except OSError as e:\n"
	"        return errno.errorcode.get(e.errno, str(e))\n"
	"def query(name, qtype):\n"
	"    return struct.pack('>HHHHHH', 0x1234, 0x0100, 1, 0, 0, 0) + b''.join(\n"
	"        bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\\0' + "
	"struct.pack('>HH', qtype, 1)\n"
	"def answer(a):\n"
	"    # rcode, answer count, and the last A record's address or -\n"
	"    an = struct.unpack('>H', a[6:8])[0]\n"
	"    ip = socket.inet_ntoa(a[-4:]) if an and a[-6:-4] == b'\\0\\4' else '-'\n"
	"    return '%d %d %s' % (a[3] & 15, an, ip)\n"
	"def dns_udp(name, qtype=1):\n"
	"    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
	"    s.settimeout(10)\n"
	"    s.sendto(query(name, qtype), ('127.0.0.1', 53))\n"
	"    return answer(s.recv(4096))\n"
	"def dns_tcp(names, qtype=1):\n"
	"    # every query on one connection: their answers\n"
	"    s = socket.create_connection(('127.0.0.1', 53), timeout=10)\n"
	"    for n in names:\n"
	"        q = query(n, qtype)\n"
	"        s.sendall(struct.pack('>H', len(q)) + q)\n"
	"    out = []\n"
	"    f = s.makefile('rb')\n"
	"    for n in names:\n"
	"        l = struct.unpack('>H', f.read(2))[0]\n"
	"        out.append(answer(f.read(l)))\n"
	"    return ' / '.join(out)\n";

static void rm_tdir(void)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tdir);
}

static void make_tdir(void)
{
	if (tdir_made)
		return;
	REQUIRE(mkdtemp(tdir));
	tdir_made = 1;
	atexit(rm_tdir);
	REQUIRE(chmod(tdir, 0755) == 0);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=allowed.test "
		 "-addext subjectAltName=DNS:allowed.test,DNS:evil.test "
		 "-keyout %s/key.pem -out %s/cert.pem 2>/dev/null && chmod 644 %s/*.pem",
		 tdir, tdir, tdir);
	REQUIRE(system(cmd) == 0);
	char path[256];
	snprintf(path, sizeof(path), "%s/nt.py", tdir);
	FILE *f = fopen(path, "w");
	REQUIRE(f && fputs(nt_py, f) >= 0 && fclose(f) == 0);
}

/* Python inside with nt.py imported: print(EXPR). */
#define PY(expr)                                                                                   \
	"PYTHONDONTWRITEBYTECODE=1 python3 -c \"import sys; sys.path.insert(0, '/t'); "            \
	"import nt, socket; print(" expr ")\""

/* ---- a TLS server (Python's ssl) ---- */

struct tls_srv {
	pid_t pid;
	uint16_t port;
};

/* An HTTPS server answering "tls hello SNI\n" to every request. */
static void tls_start(struct tls_srv *t)
{
	static const char prog[] =
		"import http.server, os, ssl, sys\n"
		"class H(http.server.BaseHTTPRequestHandler):\n"
		"    def do_GET(self):\n"
		"        b = ('tls hello %s\\n' % self.headers.get('Host', '-')).encode()\n"
		"        if self.path == '/big':\n"
		"            b = b''.join(b'%015x\\n' % i for i in range(524288))\n" /* BIG_BYTES / 16 */
		"        self.send_response(200)\n"
		"        self.send_header('Content-Length', str(len(b)))\n"
		"        self.end_headers()\n"
		"        self.wfile.write(b)\n"
		"    def log_message(self, *a):\n"
		"        pass\n"
		"s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)\n"
		"c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
		"c.load_cert_chain(sys.argv[1] + '/cert.pem', sys.argv[1] + '/key.pem')\n"
		"s.socket = c.wrap_socket(s.socket, server_side=True)\n"
		"os.write(1, b'%d\\n' % s.server_address[1])\n"
		"os.close(1)\n"
		"s.serve_forever()\n";
	int p[2];
	REQUIRE(pipe2(p, O_CLOEXEC) == 0);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl("/usr/bin/python3", "python3", "-c", prog, tdir, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char buf[16] = "";
	ssize_t n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	REQUIRE(n > 0);
	t->pid = pid;
	t->port = (uint16_t)atoi(buf);
	REQUIRE(t->port);
}

static void tls_stop(struct tls_srv *t)
{
	kill(t->pid, SIGKILL);
	waitpid(t->pid, NULL, 0);
}

/* ---- sandboxes ---- */

static petri_sandbox *proxy_sandbox(const char *const *allow, uint32_t max_conns,
				    struct petri_audit *audit)
{
	make_tdir();
	char bind[128];
	snprintf(bind, sizeof(bind), "%s:/t", tdir);
	const char *binds[] = {bind, NULL};
	petri_sandbox_opts o = PETRI_SANDBOX_OPTS_INIT;
	o.net = PETRI_NET_PROXY;
	o.allow = allow;
	o.net_max_conns = max_conns;
	o.audit = audit;
	o.binds = binds;
	petri_sandbox *sb = NULL;
	petri_error *e = NULL;
	int r = petri_sandbox_create(petri_test_ctx(), &o, &sb, &e);
	if (r < 0)
		fprintf(stderr, "create: %s\n", petri_error_message(e));
	petri_error_free(e);
	REQUIRE(r == 0);
	return sb;
}

/* Run shell @code in @sb; the result (free it). */
static struct petri_test_run sh(petri_sandbox *sb, const char *code)
{
	struct petri_test_run r = petri_test_exec(sb, "sh", code, NULL, 60000);
	if (r.rc < 0)
		fprintf(stderr, "exec: %s\n", r.errmsg);
	return r;
}

/* @code's stdout, which must be @want (else a failed check showing both). */
#define SH_IS(sb, want, ...)                                                                       \
	do {                                                                                       \
		char code_[4096];                                                                  \
		snprintf(code_, sizeof(code_), __VA_ARGS__);                                       \
		struct petri_test_run r_ = sh(sb, code_);                                          \
		CHECK_MSG(r_.out &&strcmp(r_.out, want) == 0,                                      \
			  "%s\n want '%s'\n got  '%s' (exit %d)\n stderr: %s", code_, want,        \
			  r_.out ? r_.out : "", r_.exit_code, r_.err ? r_.err : "");               \
		petri_test_run_free(&r_);                                                          \
	} while (0)

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	char *s = NULL;
	REQUIRE(vasprintf(&s, f, ap) >= 0);
	va_end(ap);
	return s;
}

/* The fd count of this process must come back to @before: the sandbox's
 * sockets and connections are closed promptly, but a peer's close may take
 * a moment to be seen. */
static void check_fds(int before)
{
	int now = petri_test_count_fds();
	for (int i = 0; i < 50 && now != before; i++) {
		usleep(20000);
		now = petri_test_count_fds();
	}
	CHECK_MSG(now == before, "fds: %d before, %d after", before, now);
}

/* ---- cases ---- */

/* The environment and resolv.conf point at the proxy; the caller's env
 * wins; mode none has neither. */
static void test_env_and_resolv(void)
{
	const char *allow[] = {"allowed.test", NULL};
	petri_sandbox *sb = proxy_sandbox(allow, 0, NULL);
	SH_IS(sb,
	      "http://127.0.0.1:3128 http://127.0.0.1:3128 http://127.0.0.1:3128 "
	      "http://127.0.0.1:3128 localhost,127.0.0.1,::1 localhost,127.0.0.1,::1\n",
	      "echo $HTTP_PROXY $HTTPS_PROXY $http_proxy $https_proxy $NO_PROXY $no_proxy");
	SH_IS(sb, "nameserver 127.0.0.1\n", "grep ^nameserver /etc/resolv.conf");
	petri_sandbox_destroy(sb);

	const char *env[] = {"HTTPS_PROXY=http://mine:1", NULL};
	petri_sandbox_opts o = PETRI_SANDBOX_OPTS_INIT;
	o.net = PETRI_NET_PROXY;
	o.allow = allow;
	o.env = env;
	REQUIRE(petri_sandbox_create(petri_test_ctx(), &o, &sb, NULL) == 0);
	SH_IS(sb, "http://mine:1 http://127.0.0.1:3128\n", "echo $HTTPS_PROXY $HTTP_PROXY");
	petri_sandbox_destroy(sb);

	/* A custom root keeps its /etc, but not its resolv.conf (covered,
	 * read-only). */
	o.env = NULL;
	o.rootfs = "/";
	REQUIRE(petri_sandbox_create(petri_test_ctx(), &o, &sb, NULL) == 0);
	SH_IS(sb, "nameserver 127.0.0.1\nno\n",
	      "grep ^nameserver /etc/resolv.conf; (echo x >> /etc/resolv.conf) 2>/dev/null && echo "
	      "yes || echo no");
	petri_sandbox_destroy(sb);

	petri_sandbox_opts none = PETRI_SANDBOX_OPTS_INIT;
	REQUIRE(petri_sandbox_create(petri_test_ctx(), &none, &sb, NULL) == 0);
	SH_IS(sb, "-0\n", "echo \"${HTTP_PROXY}-$(grep -c ^nameserver /etc/resolv.conf)\"");
	petri_sandbox_destroy(sb);
}

/* Bad allowlists: EINVAL with a message, nothing left behind. */
static void test_bad_options(void)
{
	petri_test_ctx();
	int fds = petri_test_count_fds();
	const char *empty[] = {NULL};
	const char *bad[] = {"allowed.test", "bad host!", NULL};
	const char *port53[] = {"allowed.test:53", NULL};
	const char *ok[] = {"allowed.test", NULL};
	struct {
		uint32_t net;
		const char *const *allow;
		const char *msg;
	} cases[] = {
		{PETRI_NET_PROXY, NULL, "allowlist"}, {PETRI_NET_PROXY, empty, "allowlist"},
		{PETRI_NET_PROXY, bad, "bad host!"},  {PETRI_NET_PROXY, port53, "allowed.test:53"},
		{PETRI_NET_NONE, ok, "proxy"},        {PETRI_NET_HOST, ok, "proxy"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		petri_sandbox_opts o = PETRI_SANDBOX_OPTS_INIT;
		o.net = cases[i].net;
		o.allow = cases[i].allow;
		petri_sandbox *sb = NULL;
		petri_error *e = NULL;
		int r = petri_sandbox_create(petri_test_ctx(), &o, &sb, &e);
		CHECK_MSG(r == -EINVAL && !sb, "case %zu: %d", i, r);
		CHECK_MSG(e && strstr(petri_error_message(e), cases[i].msg), "case %zu: '%s'", i,
			  e ? petri_error_message(e) : "");
		petri_error_free(e);
	}
	check_fds(fds);
}

/* Plain HTTP to an allowed name: curl and Python, through the proxy
 * variables and around them. */
static void test_http_allowed(void)
{
	struct srv s;
	srv_start(&s, 0);
	char *rule = fmt("allowed.test:%u=127.0.0.1", s.port);
	const char *allow[] = {rule, NULL};
	petri_sandbox *sb = proxy_sandbox(allow, 0, NULL);
	char *want = fmt("hello allowed.test:%u /x?y=1\n", s.port);
	SH_IS(sb, want, "curl -sS 'http://allowed.test:%u/x?y=1'", s.port);
	SH_IS(sb, want, "curl -sS --noproxy '*' 'http://allowed.test:%u/x?y=1'", s.port);
	SH_IS(sb, want,
	      "python3 -c \"import urllib.request as u; "
	      "print(u.urlopen('http://allowed.test:%u/x?y=1').read().decode(), end='')\"",
	      s.port);
	SH_IS(sb, want,
	      "python3 -c \"import urllib.request as u; "
	      "o = u.build_opener(u.ProxyHandler({})); "
	      "print(o.open('http://allowed.test:%u/x?y=1').read().decode(), end='')\"",
	      s.port);
	/* A request body goes along, both ways. */
	char *post = fmt("hello allowed.test:%u /post a-body\n", s.port);
	SH_IS(sb, post, "curl -sS -d a-body http://allowed.test:%u/post", s.port);
	SH_IS(sb, post, "curl -sS --noproxy '*' -d a-body http://allowed.test:%u/post", s.port);
	free(post);
	/* The name has a synthetic loopback address of its own. */
	SH_IS(sb, "127.80.\n", "getent ahostsv4 allowed.test | head -1 | cut -c1-7");
	/* Keep-alive through the transparent path: two requests, one connection. */
	SH_IS(sb, "2\n",
	      "curl -s --noproxy '*' http://allowed.test:%u/a http://allowed.test:%u/b | "
	      "grep -c hello",
	      s.port, s.port);
	petri_sandbox_destroy(sb);
	srv_stop(&s);
	free(want);
	free(rule);
}

/* HTTPS: CONNECT through the proxy and the transparent path, the
 * certificate verified by the client (so the tunnel ends at the server). */
static void test_https_allowed(void)
{
	make_tdir();
	struct tls_srv t;
	tls_start(&t);
	char *rule = fmt("allowed.test:%u=127.0.0.1", t.port);
	const char *allow[] = {rule, NULL};
	petri_sandbox *sb = proxy_sandbox(allow, 0, NULL);
	char *want = fmt("tls hello allowed.test:%u\n", t.port);
	SH_IS(sb, want, "curl -sS --cacert /t/cert.pem https://allowed.test:%u/", t.port);
	SH_IS(sb, want, "curl -sS --noproxy '*' --cacert /t/cert.pem https://allowed.test:%u/",
	      t.port);
	SH_IS(sb, want,
	      "python3 -c \"import ssl, urllib.request as u; "
	      "c = ssl.create_default_context(cafile='/t/cert.pem'); "
	      "print(u.urlopen('https://allowed.test:%u/', context=c).read().decode(), end='')\"",
	      t.port);
	SH_IS(sb, want,
	      "python3 -c \"import ssl, urllib.request as u; "
	      "c = ssl.create_default_context(cafile='/t/cert.pem'); "
	      "o = u.build_opener(u.ProxyHandler({}), u.HTTPSHandler(context=c)); "
	      "print(o.open('https://allowed.test:%u/').read().decode(), end='')\"",
	      t.port);
	petri_sandbox_destroy(sb);
	tls_stop(&t);
	free(want);
	free(rule);
}

/* A name not on the list: 403 from the proxy (HTTP and CONNECT), no
 * address from the DNS server; the server never sees a connection. */
static void test_denied_name(void)
{
	struct srv s;
	srv_start(&s, 0);
	char *rule = fmt("allowed.test:%u=127.0.0.1", s.port);
	const char *allow[] = {rule, NULL};
	petri_sandbox *sb = proxy_sandbox(allow, 0, NULL);
	SH_IS(sb, "403\n", "curl -s -o /dev/null -w '%%{http_code}\\n' http://denied.test:%u/",
	      s.port);
	SH_IS(sb, "403\n", "curl -s -o /dev/null -w '%%{http_connect}\\n' https://denied.test:%u/",
	      s.port);
	SH_IS(sb, "6\n", "curl -s --noproxy '*' http://denied.test:%u/; echo $?", s.port);
	/* A subdomain of an allowed name is another name. */
	SH_IS(sb, "403\n", "curl -s -o /dev/null -w '%%{http_code}\\n' http://a.allowed.test:%u/",
	      s.port);
	CHECK_MSG(accepted(&s) == 0, "the server saw %d connections", accepted(&s));
	petri_sandbox_destroy(sb);
	srv_stop(&s);
	free(rule);
}

/* The right name on a port it is not allowed on: refused both ways. */
static void test_wrong_port(void)
{
	struct srv s, s2;
	srv_start(&s, 0);
	srv_start(&s2, 0);
	char *rule = fmt("allowed.test:%u=127.0.0.1", s.port);
	char *rule2 = fmt("other.test:%u=127.0.0.1", s2.port); /* a listener on s2.port */
	const char *allow[] = {rule, rule2, NULL};
	petri_sandbox *sb = proxy_sandbox(allow, 0, NULL);
	SH_IS(sb, "403\n", "curl -s -o /dev/null -w '%%{http_code}\\n' http://allowed.test:%u/",
	      s2.port);
	SH_IS(sb, "403\n", "curl -s -o /dev/null -w '%%{http_connect}\\n' https://allowed.test:%u/",
	      s2.port);
	/* Closed without an answer (reset, if the request was unread). */
	SH_IS(sb, "True\n",
	      PY("nt.raw('allowed.test', %u, b'GET / HTTP/1.1\\\\r\\\\nHost: "
		 "allowed.test\\\\r\\\\n\\\\r\\\\n') in (b'', 'ECONNRESET')"),
	      s2.port);
	/* The control: the other name on its own port works. */
	char *want = fmt("hello other.test:%u /\n", s2.port);
	SH_IS(sb, want, "curl -sS --noproxy '*' http://other.test:%u/", s2.port);
	CHECK_MSG(accepted(&s2) == 1, "the second server saw %d connections", accepted(&s2));
	petri_sandbox_destroy(sb);
	srv_stop(&s);
	srv_stop(&s2);
	free(want);
	free(rule);
	free(rule2);
}

/* Plain HTTP whose Host is not the name: 421 on the first request; a
 * later request on the connection for another host ends it. */
static void test_host_mismatch(void)
{
	struct srv s;
	srv_start(&s, 0);
	char *rule = fmt("allowed.test:%u=127.0.0.1", s.port);
	const char *allow[] = {rule, NULL};
	petri_sandbox *sb = proxy_sandbox(allow, 0, NULL);
	SH_IS(sb, "421\n",
	      "curl -s --noproxy '*' -o /dev/null -w '%%{http_code}\\n' -H 'Host: evil.test' "
	      "http://allowed.test:%u/",
	      s.port);
	SH_IS(sb, "421\n",
	      "curl -s -o /dev/null -w '%%{http_code}\\n' -H 'Host: evil.test' http://allowed.test:%u/",
	      s.port);
	CHECK_MSG(accepted(&s) == 0, "the server saw %d connections", accepted(&s));
	/* Pipelined: the first is answered, the second (evil) is not sent. */
	SH_IS(sb, "1 1\n",
	      PY("(lambda d: '%%d %%d' %% (d.count(b'200 OK'), d.count(b'hello allowed.test')))("
		 "nt.raw('allowed.test', %u, b'GET /1 HTTP/1.1\\\\r\\\\nHost: allowed.test\\\\r\\\\n\\\\r\\\\n"
		 "GET /2 HTTP/1.1\\\\r\\\\nHost: evil.test\\\\r\\\\n\\\\r\\\\n'))"),
	      s.port);
	petri_sandbox_destroy(sb);
	srv_stop(&s);
	free(rule);
}

/* An upgrade the server accepts (101) still becomes a tunnel on every
 * path (the transparent one, an absolute URI, plain HTTP in a CONNECT
 * tunnel), now that the proxy waits for that answer.  An oversized head
 * gets a 400 the client can read, not a reset. */
static void test_upgrade_and_head_limit(void)
{
	struct srv s;
	srv_start(&s, 0);
	char *rule = fmt("allowed.test:%u=127.0.0.1", s.port);
	const char *allow[] = {rule, NULL};
	petri_sandbox *sb = proxy_sandbox(allow, 0, NULL);
#define UPG_HEAD                                                                                   \
	"b'GET %s HTTP/1.1\\r\\nHost: allowed.test:%u\\r\\nConnection: Upgrade\\r\\n"              \
	"Upgrade: echo\\r\\n\\r\\n'"
	SH_IS(sb, "101 ping\n",
	      PY("nt.upgrade(socket.create_connection(('allowed.test', %u)), " UPG_HEAD ")"),
	      s.port, "/upgrade", s.port);
	char *abs = fmt("http://allowed.test:%u/upgrade", s.port);
	SH_IS(sb, "101 ping\n",
	      PY("nt.upgrade(socket.create_connection(('127.0.0.1', 3128)), " UPG_HEAD ")"), abs,
	      s.port);
	SH_IS(sb, "101 ping\n",
	      PY("nt.upgrade(nt.proxy_connect('allowed.test:%u')[0], " UPG_HEAD ")"), s.port,
	      "/upgrade", s.port);
	/* Declined (200): the client still gets its answer (a control; that
	 * the bytes after it are then judged as requests is what
	 * redteam_attacks.py's front_*_upgrade* cases attack). */
	char *declined = fmt("200 hello allowed.test:%u /no\n\n", s.port);
	SH_IS(sb, declined,
	      PY("nt.upgrade(socket.create_connection(('allowed.test', %u)), " UPG_HEAD ")"),
	      s.port, "/no", s.port);
	free(declined);
	/* An upgrade to h2c is taken out of the head, so even a 101 (this
	 * server answers /upgrade so whatever was asked) makes no tunnel: the
	 * next request is judged (another host: the connection ends). */
	SH_IS(sb, "101 \n",
	      PY("nt.upgrade(socket.create_connection(('allowed.test', %u)), "
		 "b'GET /upgrade HTTP/1.1\\r\\nHost: allowed.test\\r\\nConnection: Upgrade\\r\\n"
		 "Upgrade: h2c\\r\\n\\r\\n', b'GET / HTTP/1.1\\r\\nHost: evil.test\\r\\n\\r\\n')"),
	      s.port);
	/* A 70,000-byte head: 400, readable, on both paths. */
	SH_IS(sb, "400 400\n",
	      PY("' '.join(str(nt.raw(h, p, b'GET / HTTP/1.1\\r\\nHost: allowed.test\\r\\nX: ' + "
		 "b'x' * 70000 + b'\\r\\n\\r\\n')[9:12], 'ascii') for h, p in "
		 "(('allowed.test', %u), ('127.0.0.1', 3128)))"),
	      s.port);
#undef UPG_HEAD
	petri_sandbox_destroy(sb);
	srv_stop(&s);
	free(abs);
	free(rule);
}

/* TLS without SNI: which name would the upstream serve?  Refused for a
 * name, on both paths; allowed for an IP-literal rule (nothing to name). */
static void test_tls_no_sni(void)
{
	struct tls_srv t;
	make_tdir();
	tls_start(&t);
	char *rule = fmt("allowed.test:%u=127.0.0.1", t.port);
	char *lit = fmt("127.0.0.1:%u", t.port);
	const char *allow[] = {rule, lit, NULL};
	petri_sandbox *sb = proxy_sandbox(allow, 0, NULL);
	SH_IS(sb, "closed closed HTTP/1.0 200 OK\n",
	      PY("nt.tls_nosni(socket.create_connection(('allowed.test', %u))), "
		 "nt.tls_nosni(nt.proxy_connect('allowed.test:%u')[0]), "
		 "nt.tls_nosni(nt.proxy_connect('127.0.0.1:%u')[0])"),
	      t.port, t.port, t.port);
	petri_sandbox_destroy(sb);
	tls_stop(&t);
	free(rule);
	free(lit);
}

/* A TLS ClientHello naming another host than the connection is for:
 * closed, on the transparent path and inside a CONNECT tunnel. */
static void test_sni_mismatch(void)
{
	struct tls_srv t;
	make_tdir();
	tls_start(&t);
	char *rule = fmt("allowed.test:%u=127.0.0.1", t.port);
	char *rule2 = fmt("evil.test:%u=127.0.0.1", t.port + 1);
	const char *allow[] = {rule, rule2, NULL};
	petri_sandbox *sb = proxy_sandbox(allow, 0, NULL);
	/* The controls: the right SNI works both ways. */
	SH_IS(sb, "HTTP/1.0 200 OK\n",
	      PY("nt.https_get(nt.proxy_connect('allowed.test:%u')[0], "
		 "'allowed.test')"),
	      t.port);
	SH_IS(sb, "HTTP/1.0 200 OK\n",
	      PY("nt.https_get(socket.create_connection(('allowed.test', %u)), 'allowed.test')"),
	      t.port);
	/* evil.test is even allowed (elsewhere), and the certificate names it. */
	SH_IS(sb, "closed\n",
	      PY("nt.https_get(nt.proxy_connect('allowed.test:%u')[0], 'evil.test')"), t.port);
	SH_IS(sb, "closed\n",
	      PY("nt.https_get(socket.create_connection(('allowed.test', %u)), 'evil.test')"),
	      t.port);
	SH_IS(sb, "35\n",
	      "curl -s --noproxy '*' --cacert /t/cert.pem --resolve evil.test:%u:$(getent hosts "
	      "allowed.test | cut -d' ' -f1) https://evil.test:%u/; echo $?",
	      t.port, t.port);
	petri_sandbox_destroy(sb);
	tls_stop(&t);
	free(rule);
	free(rule2);
}

/* CONNECT to literal addresses: not allowed ones are refused, and the
 * host's loopback is never dialled without =ADDR (whatever form it is
 * written in, or when a listed name resolves to it). */
static void test_connect_literals(void)
{
	struct srv s;
	srv_start(&s, 0);
	char *rule = fmt("allowed.test:%u=127.0.0.1", s.port);
	char *rule2 = fmt("localhost:%u", s.port);
	const char *allow[] = {rule, rule2, NULL};
	petri_sandbox *sb = proxy_sandbox(allow, 0, NULL);
	const char *hosts[] = {"10.9.8.7",           "127.0.0.1",  "[::1]",
			       "2130706433",         "0177.0.0.1", "127.1",
			       "[::ffff:127.0.0.1]", "localhost"};
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		char target[64];
		snprintf(target, sizeof(target), "%s:%u", hosts[i], i == 0 ? 443 : s.port);
		SH_IS(sb, "403\n", PY("nt.proxy_connect('%s')[1]"), target);
	}
	CHECK_MSG(accepted(&s) == 0, "the server saw %d connections", accepted(&s));
	/* The refusal says why: localhost resolves to loopback. */
	SH_IS(sb, "1\n",
	      "curl -s --noproxy '' -x http://127.0.0.1:3128 http://localhost:%u/ | grep -c loopback",
	      s.port);
	petri_sandbox_destroy(sb);
	srv_stop(&s);
	free(rule);
	free(rule2);
}

/* No way out but the proxy's: connect() and UDP anywhere else fail, IPv6
 * too, and the host's loopback is not the sandbox's. */
static void test_no_direct(void)
{
	struct srv s;
	srv_start(&s, 0);
	const char *allow[] = {"allowed.test", NULL};
	petri_sandbox *sb = proxy_sandbox(allow, 0, NULL);
	SH_IS(sb, "ENETUNREACH\n", PY("nt.connect('1.1.1.1', 443)"));
	SH_IS(sb, "ENETUNREACH\n", PY("nt.connect('10.255.255.53', 53)"));
	SH_IS(sb, "ENETUNREACH\n", PY("nt.connect('2606:4700::1111', 443, socket.AF_INET6)"));
	SH_IS(sb, "ECONNREFUSED\n", PY("nt.connect('::1', 3128, socket.AF_INET6)"));
	SH_IS(sb, "ECONNREFUSED\n", PY("nt.connect('127.0.0.1', %u)"), s.port);
	SH_IS(sb, "ENETUNREACH\n", PY("nt.udp('1.1.1.1', 53)"));
	SH_IS(sb, "ENETUNREACH\n", PY("nt.udp('2606:4700::1111', 53, socket.AF_INET6)"));
	/* UDP to another port of its own loopback reaches nothing. */
	SH_IS(sb, "ECONNREFUSED\n", PY("nt.udp('127.0.0.1', 5353)"));
	SH_IS(sb, "ECONNREFUSED\n", PY("nt.udp('::1', 53, socket.AF_INET6)"));
	CHECK_MSG(accepted(&s) == 0, "the server saw %d connections", accepted(&s));
	petri_sandbox_destroy(sb);
	srv_stop(&s);
}

/* The DNS server: allowed names get their synthetic address (UDP and
 * TCP, several queries on one connection); others, TXT and long-label
 * exfiltration included, NXDOMAIN. */
static void test_dns(void)
{
	const char *allow[] = {"allowed.test", "*.wild.test", NULL};
	petri_sandbox *sb = proxy_sandbox(allow, 0, NULL);
	SH_IS(sb, "0 1 127.80.0.1\n", PY("nt.dns_udp('allowed.test')"));
	SH_IS(sb, "0 1 127.80.0.2\n", PY("nt.dns_udp('a.wild.test')"));
	SH_IS(sb, "0 1 127.80.0.1\n", PY("nt.dns_udp('ALLOWED.Test')"));
	SH_IS(sb, "3 0 -\n", PY("nt.dns_udp('denied.test')"));
	SH_IS(sb, "3 0 -\n", PY("nt.dns_udp('wild.test')"));
	SH_IS(sb, "3 0 -\n", PY("nt.dns_udp('c2VjcmV0.denied.test', 16)"));
	SH_IS(sb, "3 0 -\n", PY("nt.dns_udp('x' * 63 + '.' + 'y' * 63 + '.exfil.test', 16)"));
	SH_IS(sb, "3 0 -\n", PY("nt.dns_udp('c2VjcmV0.allowed.test', 16)"));
	SH_IS(sb, "0 1 127.80.0.1 / 3 0 - / 0 1 127.80.0.3\n",
	      PY("nt.dns_tcp(['allowed.test', 'denied.test', 'b.wild.test'])"));
	petri_sandbox_destroy(sb);
}

/* Python @code (with nt.py) in @sb with @nofile descriptors. */
static struct petri_test_run py(petri_sandbox *sb, const char *code, uint32_t nofile,
				uint64_t timeout_ms)
{
	char *full =
		fmt("import sys\nsys.path.insert(0, '/t')\nimport nt, socket, time, threading\n%s",
		    code);
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.code = full;
	o.language = "python";
	o.timeout_ms = timeout_ms;
	o.nofile_max = nofile;
	struct petri_test_run r = petri_test_exec_opts(sb, &o);
	free(full);
	return r;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct bg_run {
	petri_sandbox *sb;
	const char *code;
	uint32_t nofile;
	uint64_t timeout_ms;
	struct petri_test_run r;
	pthread_t t;
};

static void *bg_main(void *arg)
{
	struct bg_run *b = arg;
	b->r = py(b->sb, b->code, b->nofile, b->timeout_ms);
	return NULL;
}

/* A plain fetch from @sb must answer within @max_ms. */
static void fetch_works(petri_sandbox *sb, uint16_t port, uint64_t max_ms, const char *why)
{
	uint64_t t0 = now_ms();
	char *want = fmt("hello allowed.test:%u /\n", port);
	char *cmd = fmt("curl -sS --max-time 20 http://allowed.test:%u/", port);
	struct petri_test_run r = sh(sb, cmd);
	uint64_t ms = now_ms() - t0;
	CHECK_MSG(r.out && strcmp(r.out, want) == 0, "%s: '%s' %s", why, r.out ? r.out : "",
		  r.err ? r.err : "");
	CHECK_MSG(ms < max_ms, "%s: the fetch took %llu ms", why, (unsigned long long)ms);
	petri_test_run_free(&r);
	free(cmd);
	free(want);
}

static void raise_nofile(void)
{
	struct rlimit rl;
	REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	rl.rlim_cur = rl.rlim_max < 16384 ? rl.rlim_max : 16384;
	REQUIRE(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	REQUIRE(rl.rlim_cur >= 8192);
}

/* 1,000 connections at once from one sandbox (through the transparent
 * path, each answered) while a second sandbox's fetches go on as usual. */
static void test_many_conns(void)
{
	raise_nofile();
	struct srv s;
	srv_start(&s, 0);
	char *rule = fmt("allowed.test:%u=127.0.0.1", s.port);
	const char *allow[] = {rule, NULL};
	petri_sandbox *a = proxy_sandbox(allow, 1100, NULL);
	petri_sandbox *b = proxy_sandbox(allow, 0, NULL);
	char *code =
		fmt("addr = socket.gethostbyname('allowed.test')\n"
		    "socks = [socket.create_connection((addr, %u), timeout=60) for i in "
		    "range(1000)]\n"
		    "for i, c in enumerate(socks):\n"
		    "    c.sendall(b'GET /%%d HTTP/1.1\\r\\nHost: allowed.test\\r\\n\\r\\n' %% i)\n"
		    "ok = 0\n"
		    "for c in socks:\n"
		    "    d = b''\n"
		    "    while b'hello' not in d:\n"
		    "        x = c.recv(4096)\n"
		    "        if not x:\n"
		    "            break\n"
		    "        d += x\n"
		    "    ok += b'hello' in d\n"
		    "open('/tmp/held', 'w').close()\n"
		    "time.sleep(3)\n"
		    "print(ok)\n",
		    s.port);
	struct bg_run bg = {.sb = a, .code = code, .nofile = 4096, .timeout_ms = 120000};
	REQUIRE(pthread_create(&bg.t, NULL, bg_main, &bg) == 0);
	/* While a's 1,000 connections are open (held 3 s once all answered). */
	for (int i = 0; i < 600 && accepted(&s) < 500; i++)
		usleep(50000);
	fetch_works(b, s.port, 5000, "the other sandbox, under load");
	pthread_join(bg.t, NULL);
	CHECK_MSG(bg.r.out && strcmp(bg.r.out, "1000\n") == 0, "1,000 connections: '%s' %s",
		  bg.r.out ? bg.r.out : "", bg.r.err ? bg.r.err : "");
	CHECK_MSG(accepted(&s) >= 1001, "the server saw %d connections", accepted(&s));
	petri_test_run_free(&bg.r);
	fetch_works(a, s.port, 5000, "the loaded sandbox, after");
	petri_sandbox_destroy(a);
	petri_sandbox_destroy(b);
	srv_stop(&s);
	free(code);
	free(rule);
}

/* Past net_max_conns a connection is closed at once; the others are
 * served; past net_max_bytes nothing more goes through. */
static void test_limits(void)
{
	struct srv s;
	srv_start(&s, 0);
	char *rule = fmt("allowed.test:%u=127.0.0.1", s.port);
	const char *allow[] = {rule, NULL};
	petri_sandbox *sb = proxy_sandbox(allow, 10, NULL);
	char *code = fmt("addr = socket.gethostbyname('allowed.test')\n"
			 "socks = []\n"
			 "for i in range(20):\n"
			 "    c = socket.create_connection((addr, %u), timeout=20)\n"
			 "    c.sendall(b'GET / HTTP/1.1\\r\\nHost: allowed.test\\r\\n\\r\\n')\n"
			 "    socks.append(c)\n"
			 "    time.sleep(0.02)\n"
			 "ok = closed = 0\n"
			 "for c in socks:\n"
			 "    try:\n"
			 "        d = c.recv(4096)\n"
			 "    except ConnectionResetError:\n"
			 "        d = b''\n"
			 "    ok += b'hello' in d\n"
			 "    closed += d == b''\n"
			 "print(ok, closed)\n",
			 s.port);
	struct petri_test_run r = py(sb, code, 0, 60000);
	CHECK_MSG(r.out && strcmp(r.out, "10 10\n") == 0, "limit 10 of 20: '%s' %s",
		  r.out ? r.out : "", r.err ? r.err : "");
	petri_test_run_free(&r);
	petri_sandbox_destroy(sb);

	/* 2,000 bytes in all: a few requests, then nothing. */
	petri_sandbox_opts o = PETRI_SANDBOX_OPTS_INIT;
	char bind[128];
	snprintf(bind, sizeof(bind), "%s:/t", tdir);
	o.net = PETRI_NET_PROXY;
	o.allow = allow;
	o.net_max_bytes = 2000;
	REQUIRE(petri_sandbox_create(petri_test_ctx(), &o, &sb, NULL) == 0);
	char *cmd = fmt("for i in $(seq 30); do curl -s --max-time 5 http://allowed.test:%u/; done "
			"| grep -c hello",
			s.port);
	r = sh(sb, cmd);
	int n = r.out ? atoi(r.out) : -1;
	CHECK_MSG(n > 0 && n < 20, "%d of 30 fetches within 2,000 bytes", n);
	petri_test_run_free(&r);
	petri_sandbox_destroy(sb);
	srv_stop(&s);
	free(cmd);
	free(code);
	free(rule);
}

/* A protocol where the server speaks first (SMTP, SSH): the transparent
 * path dials once the client has been silent a moment, and inside a
 * CONNECT tunnel the banner comes through before the client says a word;
 * the client's first bytes still go on (not TLS, not HTTP: as they are). */
static void test_server_first(void)
{
	struct srv s;
	srv_start(&s, 2);
	char *rule = fmt("banner.test:%u=127.0.0.1", s.port);
	const char *allow[] = {rule, NULL};
	petri_sandbox *sb = proxy_sandbox(allow, 0, NULL);
	char *code = fmt("def talk(c):\n"
			 "    c.settimeout(10)\n"
			 "    b = c.recv(100)\n"
			 "    c.sendall(b'EHLO x\\r\\n')\n"
			 "    return (b + c.recv(100)).decode().replace('\\r\\n', '|')\n"
			 "print(talk(socket.create_connection(('banner.test', %u))))\n"
			 "c, st = nt.proxy_connect('banner.test:%u')\n"
			 "print(st, talk(c))\n",
			 s.port, s.port);
	struct petri_test_run r = py(sb, code, 0, 60000);
	CHECK_MSG(r.out && strcmp(r.out, "220 hi|EHLO x|\n200 220 hi|EHLO x|\n") == 0, "'%s' %s",
		  r.out ? r.out : "", r.err ? r.err : "");
	petri_test_run_free(&r);
	/* Bytes that claim to be TLS but are no ClientHello: closed, unsent. */
	int before = accepted(&s);
	SH_IS(sb, "True\n",
	      PY("nt.raw('banner.test', %u, bytes([22, 3, 1, 0, 5]) + b'hello') in (b'', "
		 "'ECONNRESET')"),
	      s.port);
	CHECK_MSG(accepted(&s) == before, "the server saw %d more", accepted(&s) - before);
	petri_sandbox_destroy(sb);
	srv_stop(&s);
	free(code);
	free(rule);
}

/* Big bodies (8 MiB: past the size where a connection goes over to
 * splice(2)) arrive whole and in order on every path: the explicit proxy
 * (absolute URI, CONNECT with TLS) and the transparent one (HTTP, TLS),
 * and to a client that reads slowly; the audit's byte counts see them. */
static void test_big_transfers(void)
{
	struct srv s;
	struct tls_srv t;
	srv_start(&s, 0);
	make_tdir();
	tls_start(&t);
	char *rule = fmt("allowed.test:%u=127.0.0.1", s.port);
	char *rule2 = fmt("allowed.test:%u=127.0.0.1", t.port);
	const char *allow[] = {rule, rule2, NULL};
	petri_sandbox *sb = proxy_sandbox(allow, 0, NULL);
	char *code = fmt(
		"import ssl, urllib.request as u, hashlib\n"
		"want = b''.join(b'%%015x\\n' %% i for i in range(%u))\n"
		"ctx = ssl.create_default_context(cafile='/t/cert.pem')\n"
		"direct = u.build_opener(u.ProxyHandler({}), u.HTTPSHandler(context=ctx))\n"
		"proxied = u.build_opener(u.HTTPSHandler(context=ctx))\n"
		"for name, o in (('proxy', proxied), ('transparent', direct)):\n"
		"    for url in ('http://allowed.test:%u/big', 'https://allowed.test:%u/big'):\n"
		"        got = o.open(url, timeout=60).read()\n"
		"        print(name, url[:5], got == want, len(got))\n"
		"# a slow reader: the proxy holds back, nothing is lost\n"
		"c = socket.create_connection(('allowed.test', %u), timeout=60)\n"
		"c.sendall(b'GET /big HTTP/1.1\\r\\nHost: allowed.test\\r\\n\\r\\n')\n"
		"d = b''\n"
		"while len(d) < len(want):\n"
		"    x = c.recv(65536)\n"
		"    if not x:\n"
		"        break\n"
		"    d += x\n"
		"    if len(d) < 2 << 20:\n"
		"        time.sleep(0.01)\n"
		"print('slow', d.split(b'\\r\\n\\r\\n', 1)[1][:len(want)] == want)\n",
		BIG_BYTES / 16, s.port, t.port, s.port);
	struct petri_test_run r = py(sb, code, 0, 120000);
	const char *want = "proxy http: True 8388608\nproxy https True 8388608\n"
			   "transparent http: True 8388608\ntransparent https True 8388608\n"
			   "slow True\n";
	CHECK_MSG(r.out && strcmp(r.out, want) == 0, "'%s' %s", r.out ? r.out : "",
		  r.err ? r.err : "");
	petri_test_run_free(&r);
	petri_sandbox_destroy(sb);
	tls_stop(&t);
	srv_stop(&s);
	free(code);
	free(rule);
	free(rule2);
}

/* A client that sends its request head a byte at a time is cut off after
 * the head timeout (10 s), on the explicit proxy (408) and the transparent
 * path, while another sandbox is served. */
static void test_slowloris(void)
{
	struct srv s;
	srv_start(&s, 0);
	char *rule = fmt("allowed.test:%u=127.0.0.1", s.port);
	const char *allow[] = {rule, NULL};
	petri_sandbox *a = proxy_sandbox(allow, 0, NULL);
	petri_sandbox *b = proxy_sandbox(allow, 0, NULL);
	char *code = fmt(
		"def slow(addr, head, out, i):\n"
		"    c = socket.create_connection(addr, timeout=60)\n"
		"    t0 = time.time()\n"
		"    d = b''\n"
		"    try:\n"
		"        for ch in head * 100:\n"
		"            c.sendall(bytes([ch]))\n"
		"            c.settimeout(0.5)\n"
		"            try:\n"
		"                x = c.recv(4096)\n"
		"                d += x\n"
		"                if not x:\n"
		"                    break\n"
		"            except socket.timeout:\n"
		"                pass\n"
		"    except OSError:\n"
		"        pass\n"
		"    out[i] = '%%s %%d' %% (d.split(b' ')[1].decode() if d else 'closed', "
		"time.time() - t0)\n"
		"out = [None, None]\n"
		"ts = [threading.Thread(target=slow, args=(('127.0.0.1', 3128), "
		"b'GET http://allowed.test:%u/ HTTP/1.1\\r\\nX-Slow: ', out, 0)),\n"
		"      threading.Thread(target=slow, args=((socket.gethostbyname('allowed.test'), "
		"%u), b'GET / HTTP/1.1\\r\\nX-Slow: ', out, 1))]\n"
		"[t.start() for t in ts]\n"
		"[t.join() for t in ts]\n"
		"print(out[0])\n"
		"print(out[1])\n",
		s.port, s.port);
	struct bg_run bg = {.sb = a, .code = code, .timeout_ms = 60000};
	REQUIRE(pthread_create(&bg.t, NULL, bg_main, &bg) == 0);
	usleep(2000000);
	fetch_works(b, s.port, 3000, "the other sandbox, beside slow clients");
	pthread_join(bg.t, NULL);
	int secs0 = -1, secs1 = -1;
	char st0[16] = "", st1[16] = "";
	CHECK_MSG(bg.r.out && sscanf(bg.r.out, "%15s %d\n%15s %d", st0, &secs0, st1, &secs1) == 4,
		  "'%s' %s", bg.r.out ? bg.r.out : "", bg.r.err ? bg.r.err : "");
	CHECK_MSG(strcmp(st0, "408") == 0 && secs0 >= 9 && secs0 <= 14, "proxy: %s after %d s", st0,
		  secs0);
	CHECK_MSG(strcmp(st1, "closed") == 0 && secs1 >= 9 && secs1 <= 14,
		  "transparent: %s after %d s", st1, secs1);
	CHECK_MSG(accepted(&s) == 1, "the server saw %d connections", accepted(&s));
	petri_test_run_free(&bg.r);
	petri_sandbox_destroy(a);
	petri_sandbox_destroy(b);
	srv_stop(&s);
	free(code);
	free(rule);
}

/* An upstream that accepts and never answers holds its own clients only:
 * another sandbox is served at once, and destroying the stuck one ends
 * its connections promptly, leaving no fd behind. */
static void test_silent_upstream(void)
{
	struct srv s, quiet;
	srv_start(&s, 0);
	srv_start(&quiet, 1);
	char *rule = fmt("allowed.test:%u=127.0.0.1", s.port);
	char *rule2 = fmt("quiet.test:%u=127.0.0.1", quiet.port);
	const char *allow[] = {rule, rule2, NULL};
	petri_sandbox *b = proxy_sandbox(allow, 0, NULL);
	int fds = petri_test_count_fds();
	petri_sandbox *a = proxy_sandbox(allow, 0, NULL);
	char *code =
		fmt("import subprocess\n"
		    "ps = [subprocess.Popen(['curl', '-s', '--max-time', '8', "
		    "'http://quiet.test:%u/%%d' %% i] + (['--noproxy', '*'] if i %% 2 else [])) "
		    "for i in range(20)]\n"
		    "[p.wait() for p in ps]\n"
		    "print(sorted(set(p.returncode for p in ps)))\n",
		    quiet.port);
	struct bg_run bg = {.sb = a, .code = code, .timeout_ms = 60000};
	REQUIRE(pthread_create(&bg.t, NULL, bg_main, &bg) == 0);
	for (int i = 0; i < 200 && accepted(&quiet) < 20; i++)
		usleep(50000);
	CHECK_MSG(accepted(&quiet) == 20, "the quiet server saw %d connections", accepted(&quiet));
	fetch_works(b, s.port, 2000, "beside a stuck upstream");
	pthread_join(bg.t, NULL);
	CHECK_MSG(bg.r.out && strcmp(bg.r.out, "[28]\n") == 0, "curl: '%s'",
		  bg.r.out ? bg.r.out : "");
	petri_test_run_free(&bg.r);
	/* Stuck again, and destroyed while stuck. */
	bg.code = "import subprocess\n"
		  "ps = [subprocess.Popen(['curl', '-s', 'http://quiet.test:%u/']) for i in "
		  "range(10)]\n"
		  "time.sleep(30)\n";
	char *code2 = fmt("import subprocess\n"
			  "ps = [subprocess.Popen(['curl', '-s', 'http://quiet.test:%u/']) for i "
			  "in range(10)]\n"
			  "time.sleep(30)\n",
			  quiet.port);
	bg.code = code2;
	int before = accepted(&quiet);
	REQUIRE(pthread_create(&bg.t, NULL, bg_main, &bg) == 0);
	for (int i = 0; i < 200 && accepted(&quiet) < before + 10; i++)
		usleep(50000);
	CHECK(accepted(&quiet) == before + 10);
	petri_sandbox_cancel(a);
	pthread_join(bg.t, NULL);
	petri_test_run_free(&bg.r);
	uint64_t t0 = now_ms();
	petri_sandbox_destroy(a);
	CHECK_MSG(now_ms() - t0 < 2000, "destroy took %llu ms",
		  (unsigned long long)(now_ms() - t0));
	check_fds(fds);
	fetch_works(b, s.port, 2000, "after the other's destroy");
	petri_sandbox_destroy(b);
	srv_stop(&s);
	srv_stop(&quiet);
	free(code);
	free(code2);
	free(rule);
	free(rule2);
}

static int count_threads(void)
{
	return (int)petri_test_status_field(0, "Threads");
}

/* Everything a proxied sandbox had is gone after destroy (its sockets,
 * connections, the memory ASan would name), and the context's proxy
 * thread and loop after petri_ctx_free. */
static void test_no_leaks(void)
{
	struct srv s;
	srv_start(&s, 0);
	make_tdir();
	int fds0 = petri_test_count_fds(), threads0 = count_threads();
	char *rule = fmt("allowed.test:%u=127.0.0.1", s.port);
	const char *allow[] = {rule, NULL};
	for (int round = 0; round < 2; round++) {
		petri_sandbox *sb = proxy_sandbox(allow, 0, NULL);
		fetch_works(sb, s.port, 5000, "a fetch");
		/* Connections still open at destroy. */
		struct petri_test_run r = sh(sb,
					     "for i in 1 2 3; do (exec 3<>/dev/tcp/127.0.0.1/3128 "
					     "&& sleep 30) & done; sleep 0.5; echo ok");
		petri_test_run_free(&r);
		petri_sandbox_destroy(sb);
	}
	petri_test_ctx_free();
	check_fds(fds0);
	CHECK_MSG(count_threads() == threads0, "threads: %d before, %d after", threads0,
		  count_threads());
	srv_stop(&s);
	free(rule);
}

/* Is there a line of @text holding every one of @needles? */
static int has_line(const char *text, const char *const *needles)
{
	for (const char *l = text; l && *l;) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l) : strlen(l);
		int all = 1;
		for (const char *const *n = needles; *n && all; n++)
			all = memmem(l, len, *n, strlen(*n)) != NULL;
		if (all)
			return 1;
		l = e ? e + 1 : NULL;
	}
	return 0;
}

#define HAS_LINE(text, ...)                                                                        \
	do {                                                                                       \
		const char *const needles_[] = {__VA_ARGS__, NULL};                                \
		CHECK_MSG(has_line(text, needles_), "no line with: %s", #__VA_ARGS__);             \
	} while (0)

/* Every connection and DNS answer, allowed or refused, is in the audit
 * stream (read back with `petri audit cat`). */
static void test_audit(void)
{
	REQUIRE(getenv("PETRI_CLI")); /* (ctest sets it) */
	struct srv s;
	srv_start(&s, 0);
	make_tdir();
	char path[256];
	snprintf(path, sizeof(path), "%s-audit", tdir);
	petri_audit_opts ao = PETRI_AUDIT_OPTS_INIT;
	ao.sink = PETRI_AUDIT_SINK_FILE;
	ao.path = path;
	petri_audit *a = NULL;
	petri_error *e = NULL;
	REQUIRE(petri_audit_open(&a, &ao, &e) == 0);
	char *rule = fmt("allowed.test:%u=127.0.0.1", s.port);
	const char *allow[] = {rule, NULL};
	petri_sandbox *sb = proxy_sandbox(allow, 0, a);
	char *port = fmt("port=%u", s.port);
	char *cmd = fmt("curl -s http://allowed.test:%u/via-proxy; "
			"curl -s --noproxy '*' http://allowed.test:%u/transparent; "
			"curl -s http://denied.test:%u/; "
			"curl -s --noproxy '*' -H 'Host: evil.test' http://allowed.test:%u/; "
			"getent hosts denied.test; true",
			s.port, s.port, s.port, s.port);
	struct petri_test_run r = sh(sb, cmd);
	petri_test_run_free(&r);
	r = sh(sb, PY("nt.proxy_connect('10.9.8.7:443')[1], nt.dns_tcp(['tcp.allowed.test'])"));
	petri_test_run_free(&r);
	petri_sandbox_destroy(sb);
	REQUIRE(petri_audit_close(a, &e) == 0);

	char *out = NULL, *err = NULL;
	const char *cat[] = {"audit", "cat", path, NULL};
	int rc = petri_test_cli(cat, &out, &err);
	CHECK_MSG(rc == 0, "audit cat: %d %s", rc, err ? err : "");
	REQUIRE(out);
	HAS_LINE(out, " net_connection ", "via=proxy", "protocol=http", "name=\"allowed.test\"",
		 port, "/via-proxy", "address=\"127.0.0.1\"", "decision=allowed");
	HAS_LINE(out, " net_connection ", "via=transparent", "protocol=http",
		 "name=\"allowed.test\"", port, "/transparent", "decision=allowed");
	HAS_LINE(out, " net_connection ", "via=proxy", "name=\"denied.test\"", "decision=denied",
		 "reason=\"name not allowed\"", "http_status=403");
	HAS_LINE(out, " net_connection ", "via=transparent", "sni_or_host=\"evil.test\"",
		 "http_path=\"/\"", "decision=denied", "reason=\"host mismatch\"",
		 "http_status=421");
	/* One event for it, not a request's and a connection's. */
	const char *hm = strstr(out, "host mismatch");
	CHECK(hm && !strstr(hm + 1, "host mismatch"));
	HAS_LINE(out, " net_connection ", "name=\"10.9.8.7\"", "port=443", "decision=denied",
		 "http_status=403");
	HAS_LINE(out, " dns_query ", "qname=\"allowed.test\"", "qtype=1", "decision=allowed",
		 "answer_address=\"127.80.0.1\"");
	HAS_LINE(out, " dns_query ", "qname=\"denied.test\"", "rcode=3", "decision=denied");
	HAS_LINE(out, " dns_query ", "qname=\"tcp.allowed.test\"", "rcode=3", "decision=denied",
		 "transport=tcp");
	unlink(path);
	free(out);
	free(err);
	free(cmd);
	free(port);
	free(rule);
	srv_stop(&s);
}

/* ---- TenantVault (README "Secrets"): the proxy's side ---- */

/*
 * A test CA of its own (made with openssl in tdir: vca.pem), an HTTPS
 * server for scoped.test and free.test (one certificate, both names)
 * signed by it, given to the sandbox as upstream_ca.  TOKEN's host is
 * scoped.test (intercepted); OTHER's is allowed.test, served with the
 * self-signed cert.pem that upstream_ca does not hold (its upstream is not
 * trusted).  PLAIN's is "http://plain.test" (plain HTTP allowed).
 * free.test has no secret: tunnelled.
 *
 * The server: "/chunked" answers chunked, the Authorization value it got
 * echoed raw and base64-encoded, each cut across two chunks; "/gzip" says
 * Content-Encoding: gzip; anything else echoes the request (head and
 * body) after "match=1" when the value it was sent is VAULT_VALUE.
 */
#define VAULT_VALUE "s3cr3t-VALUE-7d0a5b"
#define VAULT_B64 "czNjcjN0LVZBTFVFLTdkMGE1Yg=="

static void vault_certs(void)
{
	make_tdir();
	char cmd[2048];
	snprintf(
		cmd, sizeof(cmd),
		"cd %s && test -f vca.pem || ("
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
		"-subj '/CN=petri vault test CA' -keyout vca.key -out vca.pem && "
		"openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=scoped.test "
		"-keyout vleaf.key -out vleaf.csr && "
		"printf 'subjectAltName=DNS:scoped.test,DNS:free.test\\n' > vext && "
		"openssl x509 -req -in vleaf.csr -CA vca.pem -CAkey vca.key -CAcreateserial -days 2 "
		"-extfile vext -out vleaf.pem && chmod 644 *.pem) >/dev/null 2>&1",
		tdir);
	REQUIRE(system(cmd) == 0);
}

/* The vault test server with @cert/@key (in tdir). */
static void vault_srv_start(struct tls_srv *t, const char *cert, const char *key)
{
	static const char prog[] =
		"import base64, http.server, os, ssl, sys\n"
		"V = sys.argv[4].encode()\n"
		"class H(http.server.BaseHTTPRequestHandler):\n"
		"    protocol_version = 'HTTP/1.1'\n"
		"    def answer(self):\n"
		"        n = int(self.headers.get('Content-Length', '0'))\n"
		"        body = self.rfile.read(n) if n else b''\n"
		"        got = self.headers.get('Authorization', '').split(' ')[-1].encode()\n"
		"        if self.headers.get('Authorization', '').startswith('Basic '):\n"
		"            got = base64.b64decode(got).split(b':', 1)[-1]\n"
		"        if self.path == '/gzip':\n"
		"            self.send_response(200)\n"
		"            self.send_header('Content-Encoding', 'gzip')\n"
		"            self.send_header('Content-Length', '3')\n"
		"            self.end_headers()\n"
		"            self.wfile.write(b'abc')\n"
		"            return\n"
		"        if self.path == '/chunked':\n"
		"            b = base64.b64encode(got)\n"
		"            parts = [b'raw=' + got[:5], got[5:] + b' b64=' + b[:7], b[7:] + b'\\n']\n"
		"            self.send_response(200)\n"
		"            self.send_header('Transfer-Encoding', 'chunked')\n"
		"            self.end_headers()\n"
		"            for p in parts:\n"
		"                self.wfile.write(b'%x\\r\\n' % len(p) + p + b'\\r\\n')\n"
		"            self.wfile.write(b'0\\r\\n\\r\\n')\n"
		"            return\n"
		"        m = b'match=%d\\n' % (got == V or V in body)\n"
		"        out = m + str(self.requestline).encode() + b'\\n' + bytes(self.headers) + body\n"
		"        self.send_response(200)\n"
		"        self.send_header('Content-Length', str(len(out)))\n"
		"        self.end_headers()\n"
		"        self.wfile.write(out)\n"
		"    do_GET = do_POST = do_PUT = answer\n"
		"    def do_HEAD(self):\n"
		"        self.send_response(200)\n"
		"        self.send_header('Content-Length', '100')\n"
		"        self.end_headers()\n"
		"    def log_message(self, *a):\n"
		"        pass\n"
		"s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)\n"
		"c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
		"c.load_cert_chain(sys.argv[1] + '/' + sys.argv[2], sys.argv[1] + '/' + sys.argv[3])\n"
		"s.socket = c.wrap_socket(s.socket, server_side=True)\n"
		"os.write(1, b'%d\\n' % s.server_address[1])\n"
		"os.close(1)\n"
		"s.serve_forever()\n";
	int p[2];
	REQUIRE(pipe2(p, O_CLOEXEC) == 0);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl("/usr/bin/python3", "python3", "-c", prog, tdir, cert, key, VAULT_VALUE,
		      (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char buf[16] = "";
	ssize_t n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	REQUIRE(n > 0);
	t->pid = pid;
	t->port = (uint16_t)atoi(buf);
	REQUIRE(t->port);
}

struct vault_env {
	struct tls_srv good; /* scoped.test, free.test */
	struct tls_srv bad;  /* allowed.test, a CA the upstream_ca lacks */
	struct srv plain;    /* plain HTTP, plain.test */
	char *rules[5];
	char *scoped, *other, *plain_host;
	petri_sandbox *sb;
};

static void vault_env_start(struct vault_env *e)
{
	memset(e, 0, sizeof(*e));
	vault_certs();
	vault_srv_start(&e->good, "vleaf.pem", "vleaf.key");
	vault_srv_start(&e->bad, "cert.pem", "key.pem");
	srv_start(&e->plain, 0);
	e->rules[0] = fmt("scoped.test:%u=127.0.0.1", e->good.port);
	e->rules[1] = fmt("free.test:%u=127.0.0.1", e->good.port);
	e->rules[2] = fmt("allowed.test:%u=127.0.0.1", e->bad.port);
	e->rules[3] = fmt("plain.test:%u=127.0.0.1", e->plain.port);
	e->rules[4] = fmt("*.wild.test:%u=127.0.0.1", e->good.port);
	e->scoped = fmt("scoped.test:%u", e->good.port);
	e->other = fmt("allowed.test:%u", e->bad.port);
	e->plain_host = fmt("http://plain.test:%u", e->plain.port);
	const char *allow[] = {e->rules[0], e->rules[1], e->rules[2],
			       e->rules[3], e->rules[4], NULL};
	const char *h1[] = {e->scoped, NULL}, *h2[] = {e->other, NULL},
		   *h3[] = {e->plain_host, NULL};
	petri_secret s1 = PETRI_SECRET_INIT, s2 = PETRI_SECRET_INIT, s3 = PETRI_SECRET_INIT;
	s1.name = "TOKEN";
	s1.value = VAULT_VALUE;
	s1.value_len = strlen(VAULT_VALUE);
	s1.hosts = h1;
	s2.name = "OTHER";
	s2.value = "other-value-31337";
	s2.value_len = strlen("other-value-31337");
	s2.hosts = h2;
	s3.name = "PLAIN";
	s3.value = "plain-value-424242";
	s3.value_len = strlen("plain-value-424242");
	s3.hosts = h3;
	const petri_secret *secrets[] = {&s1, &s2, &s3, NULL};
	char bind[128], ca[128];
	snprintf(bind, sizeof(bind), "%s:/t", tdir);
	snprintf(ca, sizeof(ca), "%s/vca.pem", tdir);
	const char *binds[] = {bind, NULL};
	petri_sandbox_opts o = PETRI_SANDBOX_OPTS_INIT;
	o.net = PETRI_NET_PROXY;
	o.allow = allow;
	o.binds = binds;
	o.secrets = secrets;
	o.upstream_ca = ca;
	petri_error *err = NULL;
	int r = petri_sandbox_create(petri_test_ctx(), &o, &e->sb, &err);
	if (r < 0)
		fprintf(stderr, "create: %s\n", petri_error_message(err));
	petri_error_free(err);
	REQUIRE(r == 0);
}

static void vault_env_stop(struct vault_env *e)
{
	petri_sandbox_destroy(e->sb);
	tls_stop(&e->good);
	tls_stop(&e->bad);
	srv_stop(&e->plain);
	for (int i = 0; i < 5; i++)
		free(e->rules[i]);
	free(e->scoped);
	free(e->other);
	free(e->plain_host);
}

/* Run @code in the vault sandbox: its stdout, which must not hold the
 * value or its base64 (checked here); free it. */
static char *vault_sh(struct vault_env *e, const char *code)
{
	struct petri_test_run r = sh(e->sb, code);
	char *out = strdup(r.out ? r.out : "");
	REQUIRE(out);
	CHECK_MSG(!strstr(out, VAULT_VALUE) && !strstr(out, VAULT_B64) &&
			  !(r.err && strstr(r.err, VAULT_VALUE)),
		  "the value reached the sandbox: %s\n%s", out, r.err ? r.err : "");
	petri_test_run_free(&r);
	return out;
}

#define VAULT_IS(e, want, ...)                                                                     \
	do {                                                                                       \
		char *code_ = fmt(__VA_ARGS__);                                                    \
		char *out_ = vault_sh(e, code_);                                                   \
		CHECK_MSG(strcmp(out_, want) == 0, "%s\n want '%s'\n got  '%s'", code_, want,      \
			  out_);                                                                   \
		free(out_);                                                                        \
		free(code_);                                                                       \
	} while (0)

/* The placeholder goes to scoped.test as the value (the server says
 * match=1), in a header, a Basic credential and a form body; the echo of
 * it comes back masked.  Through the explicit proxy and the transparent
 * path. */
static void test_vault_substitution(void)
{
	struct vault_env e;
	vault_env_start(&e);
	VAULT_IS(&e, "petri-vault-\n", "printf '%%.12s\\n' \"$TOKEN\"");
	for (int transparent = 0; transparent < 2; transparent++) {
		const char *np = transparent ? "--noproxy '*'" : "";
		VAULT_IS(
			&e, "match=1\n",
			"curl -sS %s -H \"Authorization: Bearer $TOKEN\" https://%s/echo | head -1",
			np, e.scoped);
		/* The echoed header: masked, the same length. */
		VAULT_IS(&e, "Authorization: Bearer *******************\n",
			 "curl -sS %s -H \"Authorization: Bearer $TOKEN\" https://%s/echo | "
			 "grep -a '^Authorization' | tr -d '\\r'",
			 np, e.scoped);
		VAULT_IS(&e, "match=1\n", "curl -sS %s -d \"k=$TOKEN\" https://%s/form | head -1",
			 np, e.scoped);
		VAULT_IS(&e, "match=1\n",
			 "printf 'k=%%s' \"$TOKEN\" | curl -sS %s -H 'Transfer-Encoding: chunked' "
			 "--data-binary @- https://%s/chunked-up | head -1",
			 np, e.scoped);
	}
	/* Basic auth: the placeholder inside the base64 credentials. */
	VAULT_IS(&e, "match=1\n", "curl -sS -u \"user:$TOKEN\" https://%s/basic | head -1",
		 e.scoped);
	/* A HEAD's answer has no body, whatever its Content-Length says. */
	VAULT_IS(&e, "200\n", "curl -sS -m 20 -I -o /dev/null -w '%%{http_code}\\n' https://%s/h",
		 e.scoped);
	/* A body over the rewrite bound goes as it is (the server gets it
	 * whole) unless it holds a placeholder: then the connection is cut
	 * (after the proxy's own 100 Continue, if curl waited for one: no
	 * answer from the server either way). */
	VAULT_IS(&e, "1100000\n",
		 "head -c 1100000 /dev/zero | tr '\\0' Z > /tmp/big && curl -sS --data-binary "
		 "@/tmp/big -H 'Content-Type: x/y' https://%s/big | tr -cd Z | wc -c",
		 e.scoped);
	VAULT_IS(
		&e, "000\n",
		"printf '%%s' \"$TOKEN\" >> /tmp/big && curl -s -o /dev/null -w '%%{http_code}\\n' "
		"--data-binary @/tmp/big https://%s/big | sed 's/^100$/000/'",
		e.scoped);
	/* PLAIN may go in the clear to plain.test ("http://"): substituted in
	 * the URL there (the server's echo of its path, masked, says so). */
	char *want = fmt("hello plain.test:%u /x?k=******************\n", e.plain.port);
	VAULT_IS(&e, want, "curl -sS \"http://plain.test:%u/x?k=$PLAIN\"", e.plain.port);
	VAULT_IS(&e, want, "curl -sS --noproxy '*' \"http://plain.test:%u/x?k=$PLAIN\"",
		 e.plain.port);
	free(want);
	/* Keep-alive: two requests on one connection, both substituted. */
	VAULT_IS(&e, "2\n",
		 "curl -sS -H \"Authorization: Bearer $TOKEN\" https://%s/a https://%s/b | "
		 "grep -c match=1",
		 e.scoped, e.scoped);
	vault_env_stop(&e);
}

/* What an intercepted connection refuses, answered over its TLS. */
static void test_vault_refusals(void)
{
	struct vault_env e;
	vault_env_start(&e);
	/* Host must be the SNI's name. */
	VAULT_IS(&e, "421\n",
		 "curl -s -o /dev/null -w '%%{http_code}\\n' -H 'Host: free.test:%u' https://%s/",
		 e.good.port, e.scoped);
	VAULT_IS(&e, "405\n", "curl -s -o /dev/null -w '%%{http_code}\\n' -X TRACE https://%s/",
		 e.scoped);
	/* OTHER's placeholder toward TOKEN's host: misuse, never sent. */
	VAULT_IS(&e, "403\n",
		 "curl -s -o /dev/null -w '%%{http_code}\\n' -H \"X-Key: $OTHER\" https://%s/",
		 e.scoped);
	VAULT_IS(&e, "403\n", "curl -s -o /dev/null -w '%%{http_code}\\n' \"https://%s/?k=$OTHER\"",
		 e.scoped);
	VAULT_IS(&e, "403\n",
		 "curl -s -o /dev/null -w '%%{http_code}\\n' -d \"k=$OTHER\" https://%s/",
		 e.scoped);
	/* A token with the prefix that is no secret of this sandbox's. */
	VAULT_IS(&e, "403\n",
		 "curl -s -o /dev/null -w '%%{http_code}\\n' "
		 "-H 'X: petri-vault-00000000000000000000000000000000' https://%s/",
		 e.scoped);
	/* The upstream's certificate is not trusted: 502, nothing sent. */
	VAULT_IS(&e, "502\n",
		 "curl -s -o /dev/null -w '%%{http_code}\\n' -H \"X: $OTHER\" https://%s/",
		 e.other);
	/* A compressed answer cannot be scrubbed. */
	VAULT_IS(&e, "502\n", "curl -s -o /dev/null -w '%%{http_code}\\n' https://%s/gzip",
		 e.scoped);
	/* Plain HTTP with a placeholder: to a host without it in the clear. */
	VAULT_IS(
		&e, "403\n",
		"curl -s -o /dev/null -w '%%{http_code}\\n' -H \"X: $TOKEN\" http://plain.test:%u/",
		e.plain.port);
	VAULT_IS(&e, "403\n",
		 "curl -s -o /dev/null -w '%%{http_code}\\n' --noproxy '*' "
		 "\"http://plain.test:%u/?k=$TOKEN\"",
		 e.plain.port);
	/* CONNECT to a name holding it, a DNS name holding it: refused
	 * although *.wild.test allows any other such name. */
	VAULT_IS(&e, "200\n",
		 "curl -s -o /dev/null -w '%%{http_connect}\\n' https://x.wild.test:%u/",
		 e.good.port);
	VAULT_IS(&e, "403\n",
		 "curl -s -o /dev/null -w '%%{http_connect}\\n' https://$TOKEN.wild.test:%u/",
		 e.good.port);
	VAULT_IS(&e, "0\n", PY("nt.dns_udp('x.wild.test').split()[0]"));
	VAULT_IS(&e, "3\n",
		 PY("nt.dns_udp('%%s.wild.test' %% __import__('os').environ['TOKEN'])"
		    ".split()[0]"));
	CHECK_MSG(accepted(&e.plain) == 0, "the plain server saw %d connections",
		  accepted(&e.plain));
	vault_env_stop(&e);
}

/* Responses: the value echoed raw and base64-encoded, each split across
 * chunks, comes back masked (same lengths); a host without a secret is
 * tunnelled (the client verifies the upstream's own certificate, which it
 * cannot for an intercepted one). */
static void test_vault_scrub_and_tunnel(void)
{
	struct vault_env e;
	vault_env_start(&e);
	/* (Whether base64 padding is masked too is the scrubber's say.) */
	VAULT_IS(&e, "raw=******************* b64=**************************\n",
		 "curl -sS -H \"Authorization: Bearer $TOKEN\" https://%s/chunked | cut -c1-54",
		 e.scoped);
	VAULT_IS(&e, "match=0\n", "curl -sS --cacert /t/vca.pem https://free.test:%u/ | head -1",
		 e.good.port);
	VAULT_IS(&e, "60\n", "curl -s -o /dev/null --cacert /t/vca.pem https://%s/; echo $?",
		 e.scoped);
	vault_env_stop(&e);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(env_and_resolv),
	PETRI_TEST_CASE(bad_options),
	PETRI_TEST_CASE(http_allowed),
	PETRI_TEST_CASE(https_allowed),
	PETRI_TEST_CASE(denied_name),
	PETRI_TEST_CASE(wrong_port),
	PETRI_TEST_CASE(host_mismatch),
	PETRI_TEST_CASE(sni_mismatch),
	PETRI_TEST_CASE(upgrade_and_head_limit),
	PETRI_TEST_CASE(tls_no_sni),
	PETRI_TEST_CASE(connect_literals),
	PETRI_TEST_CASE(no_direct),
	PETRI_TEST_CASE(dns),
	PETRI_TEST_CASE(many_conns),
	PETRI_TEST_CASE(limits),
	PETRI_TEST_CASE(server_first),
	PETRI_TEST_CASE(big_transfers),
	PETRI_TEST_CASE(slowloris),
	PETRI_TEST_CASE(silent_upstream),
	PETRI_TEST_CASE(no_leaks),
	PETRI_TEST_CASE(audit),
	PETRI_TEST_CASE(vault_substitution),
	PETRI_TEST_CASE(vault_refusals),
	PETRI_TEST_CASE(vault_scrub_and_tunnel),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
