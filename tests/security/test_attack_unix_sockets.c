/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_attack_unix_sockets - a bind of a host directory, the workspace
 * directory or a custom root does not hand the code the host's daemons
 * through the unix sockets in it.
 *
 * The host makes a directory with a unix stream listener (s.sock), a
 * seqpacket listener (q.sock) and a datagram socket (d.sock), all mode 0777
 * so that only the sandbox's policy, not their permissions, stands in the
 * way, and binds it at /hostdir.  attacks/unix_sockets.py connects to the
 * listeners and sends to the datagram socket by an absolute path, a
 * relative one, a symlink in /tmp to the socket and to the directory, "..",
 * from another cwd and through /proc/self/cwd; sends with sendmsg and
 * through a connected datagram socket; then binds and uses sockets of its
 * own (stream, seqpacket and datagram, in /tmp, /workspace, the bind when
 * writable, relative, abstract, multiprocessing's), and TCP on its loopback.
 *
 * A read-only bind (SRC:DST and SRC:DST:ro) refuses every host case with
 * ECONNREFUSED (an overlay), and the host's sockets receive nothing at all,
 * while every socket of the sandbox's own works.  With the "sockets" option
 * (SRC:DST:ro,sockets, SRC:DST:sockets, SRC:DST:rw,sockets) every host case
 * reaches the host, which counts each connection and datagram, and the bind
 * keeps its mode.  A bind whose source is itself a socket is refused
 * without the option (EACCES, a message naming it) and reaches the host
 * with it.  Files in a read-only bind stay readable and listed, including a
 * subdirectory and a file the host adds after the sandbox started.  The CLI
 * takes the option and reports a bad one in one line (exit 125).  From an
 * unprivileged host (nobody), whose own 0600 socket -- an ssh agent's --
 * the sandbox user could open, a read-only bind refuses it too.
 *
 * An rw bind without "sockets", the workspace directory and a custom root
 * make the sandbox guarded: every connect or sendto to a host socket there
 * fails with ECONNREFUSED, every sendmsg to a pathname with EPERM (its own
 * too: the guard's limit), and the sockets it makes itself work, sendto
 * included, the peer's credentials being the sandbox user's.  attacks/unix_race.c races that
 * guard (the address rewritten under a connect or sendto, its family
 * flipped, the fd swapped) without reaching the host once, and shows that a
 * connect blocked on a full backlog of its own stalls nothing else.  A
 * one-byte pathname without its NUL (3 bytes) is the guard's too, from a
 * root host and an unprivileged one (no cgroup program); a "sockets" bind
 * below a directory the code owns stays the only one that passes when the
 * code swaps that directory for a symlink to the writable bind; and from
 * an unprivileged host a sendmsg() to a host socket must not get through,
 * nor a sendmmsg() whose headers run into an unmapped page.
 */
#include "sec_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* The host half: a directory with a stream listener, a seqpacket listener
 * and a datagram socket. */
struct host_socks {
	char dir[64];
	int stream;    /* listening, non-blocking */
	int seqpacket; /* listening, non-blocking */
	int dgram;     /* bound, non-blocking */
};

static int host_bind(const char *dir, const char *name, int type)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/%s", dir, name);
	int s = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	REQUIRE(s >= 0);
	REQUIRE(bind(s, (struct sockaddr *)&a, sizeof(a)) == 0);
	REQUIRE(chmod(a.sun_path, 0777) == 0);
	if (type != SOCK_DGRAM)
		REQUIRE(listen(s, 64) == 0);
	return s;
}

/* s.sock, q.sock and d.sock in the existing directory h->dir. */
static void host_socks_bind(struct host_socks *h)
{
	h->stream = host_bind(h->dir, "s.sock", SOCK_STREAM);
	h->seqpacket = host_bind(h->dir, "q.sock", SOCK_SEQPACKET);
	h->dgram = host_bind(h->dir, "d.sock", SOCK_DGRAM);
}

/* A new directory made from mkdtemp template @tmpl, with the sockets. */
static void host_socks_in(struct host_socks *h, const char *tmpl)
{
	snprintf(h->dir, sizeof(h->dir), "%s", tmpl);
	REQUIRE(mkdtemp(h->dir) != NULL && chmod(h->dir, 0755) == 0);
	host_socks_bind(h);
}

static void host_socks_open(struct host_socks *h)
{
	host_socks_in(h, "/tmp/petri-unixsock-XXXXXX");
}

/* Close the sockets and remove the directory with whatever the sandbox
 * left in it (a writable one gets sockets of its own). */
static void host_socks_close(struct host_socks *h)
{
	close(h->stream);
	close(h->seqpacket);
	close(h->dgram);
	DIR *d = opendir(h->dir);
	struct dirent *de;
	while (d && (de = readdir(d)))
		unlinkat(dirfd(d), de->d_name, 0);
	if (d)
		closedir(d);
	rmdir(h->dir);
}

/* Connections listener @s has waiting (each accepted and closed). */
static int host_accepted(int s)
{
	int n = 0, c;
	while ((c = accept4(s, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		close(c);
		n++;
	}
	return n;
}

static int host_connections(const struct host_socks *h)
{
	return host_accepted(h->stream);
}

/* Datagrams waiting on the host's datagram socket (each read). */
static int host_datagrams(const struct host_socks *h)
{
	char buf[64];
	int n = 0;
	while (recv(h->dgram, buf, sizeof(buf), 0) >= 0)
		n++;
	return n;
}

/* How unix_sockets.py spells the path of each host socket. */
static const char *const spellings[] = {
	"absolute", "relative", "symlink", "symlink_dir", "dotdot", "other_cwd", "proc_cwd",
};
#define NSPELL (int)(sizeof(spellings) / sizeof(*spellings))
static const char *const own_cases[] = {
	"own_stream_tmp",      "own_stream_workspace", "own_stream_relative",
	"own_stream_abstract", "own_dgram_abstract",   "own_dgram_connected_tmp",
	"own_tcp_loopback",    "own_mp_listener_tmp",  "own_seqpacket_sendto_tmp",
};
/* Datagrams to a pathname of the sandbox's own: sendto is brokered; sendmsg
 * is the guard's limit (EPERM). */
static const char *const own_path_sendtos[] = {"own_dgram_tmp", "own_dgram_workspace"};
/* What each listener of the sandbox's own (own_listener()) reports. */
static const char *const own_listener_checks[] = {
	"listen", "absolute", "relative", "peercred", "peername", "nonblock",
};

/* What the host's sockets answer the sandbox. */
enum reach {
	REFUSED, /* a read-only bind's overlay: ECONNREFUSED to everything */
	REACHED, /* "sockets", or no guard: every call reaches the host */
	GUARDED, /* the guard: connect, sendto ECONNREFUSED; pathname sendmsg EPERM */
};

/* The host's sockets as the attack found them, and what the host received. */
static void expect_host_side(const struct petri_test_run *r, struct host_socks *h, int writable,
			     enum reach reach, const char *what)
{
	const char *conn = reach == REACHED ? "REACHED" : "BLOCKED ECONNREFUSED";
	const char *send = conn;
	const char *sendmsg = reach == GUARDED ? "BLOCKED EPERM" : conn;
	char name[64];
	for (int i = 0; i < NSPELL; i++) {
		snprintf(name, sizeof(name), "stream_%s", spellings[i]);
		sec_expect(r, name, conn);
		snprintf(name, sizeof(name), "seqpacket_%s", spellings[i]);
		sec_expect(r, name, conn);
		snprintf(name, sizeof(name), "dgram_%s", spellings[i]);
		sec_expect(r, name, send);
	}
	sec_expect(r, "dgram_sendmsg", sendmsg);
	sec_expect(r, "dgram_connect", conn);
	if (!writable)
		sec_expect(r, "write_in_bind", "BLOCKED EROFS");
	int want = reach == REACHED ? NSPELL : 0;
	int conns = host_connections(h), seqs = host_accepted(h->seqpacket);
	int grams = host_datagrams(h);
	CHECK_MSG(conns == want, "%s: the host's stream listener got %d connections", what, conns);
	CHECK_MSG(seqs == want, "%s: the host's seqpacket listener got %d connections", what, seqs);
	CHECK_MSG(grams == (reach == REACHED ? NSPELL + 2 : 0), "%s: the host got %d datagrams",
		  what, grams);
}

/* The sandbox's own sockets, in the host's directory too when @writable
 * (sends to a pathname aside). */
static void expect_own_side(const struct petri_test_run *r, int writable)
{
	static const char *const kinds[] = {"stream", "seqpacket"};
	static const char *const wheres[] = {"tmp", "workspace", "hostdir"};
	char name[64];
	for (size_t i = 0; i < sizeof(own_cases) / sizeof(*own_cases); i++)
		sec_expect(r, own_cases[i], "OK");
	for (int k = 0; k < 2; k++)
		for (int w = 0; w < (writable ? 3 : 2); w++)
			for (size_t c = 0; c < sizeof(own_listener_checks) / sizeof(char *); c++) {
				snprintf(name, sizeof(name), "own_%s_%s_%s", kinds[k], wheres[w],
					 own_listener_checks[c]);
				sec_expect(r, name, "OK");
			}
}

/* Which part of the attack's findings a case judges. */
#define HOST_SIDE 1 /* the host's sockets */
#define OWN_SIDE 2  /* the sandbox's own */
#define OWN_SENDS 4 /* sends to a pathname of the sandbox's own */

/*
 * Run the attack in @sb, which sees the host's sockets @h in @inside
 * (writable or not), and CHECK the verdicts of the halves in @sides.
 */
static void attack_host_socks(petri_sandbox *sb, struct host_socks *h, const char *inside,
			      int writable, enum reach reach, int sides, const char *what)
{
	char hostdir[128];
	snprintf(hostdir, sizeof(hostdir), "HOSTDIR=%s", inside);
	const char *env[] = {hostdir, writable ? "WRITABLE=1" : NULL, NULL};
	struct petri_test_run r = sec_exec_attack(sb, "unix_sockets.py", env, 60000);
	if (sides & HOST_SIDE)
		expect_host_side(&r, h, writable, reach, what);
	if (sides & OWN_SIDE)
		expect_own_side(&r, writable);
	for (size_t i = 0; (sides & OWN_SENDS) && i < sizeof(own_path_sendtos) / sizeof(char *);
	     i++)
		sec_expect(&r, own_path_sendtos[i], "OK");
	if (sides & OWN_SENDS) {
		sec_expect(&r, "own_dgram_sendmsg_tmp", reach == GUARDED ? "FAILED EPERM" : "OK");
		if (writable)
			sec_expect(&r, "own_dgram_hostdir", "OK");
	}
	sec_expect_no_escape(&r);
	if (petri_test_failures)
		sec_dump(what, &r);
	petri_test_run_free(&r);
}

/* Bind the host directory at /hostdir with options @opts ("" for none) and
 * run the attack. */
static void run_attack(const char *opts, enum reach reach, int sides)
{
	struct host_socks h;
	host_socks_open(&h);
	char spec[256];
	snprintf(spec, sizeof(spec), "%s:/hostdir%s%s", h.dir, *opts ? ":" : "", opts);
	const char *binds[] = {spec, NULL};
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.binds = binds;
	int writable = strstr(opts, "rw") != NULL;
	/* Writable for the sandbox user, whatever host uid it has. */
	REQUIRE(!writable || chmod(h.dir, 0777) == 0);
	petri_sandbox *sb = sec_sandbox(&so);
	attack_host_socks(sb, &h, "/hostdir", writable, reach, sides, spec);
	petri_sandbox_destroy(sb);
	host_socks_close(&h);
}

/* The end of a case: what the sandbox said if a check failed, then nothing
 * of the run, the sandbox or the host's sockets left. */
static void finish_run(struct petri_test_run *r, petri_sandbox *sb, struct host_socks *h,
		       const char *what)
{
	if (petri_test_failures)
		sec_dump(what, r);
	petri_test_run_free(r);
	petri_sandbox_destroy(sb);
	host_socks_close(h);
}

static void test_ro_default_refuses(void)
{
	run_attack("", REFUSED, HOST_SIDE | OWN_SIDE | OWN_SENDS);
}

static void test_ro_explicit_refuses(void)
{
	run_attack("ro", REFUSED, HOST_SIDE | OWN_SIDE | OWN_SENDS);
}

static void test_ro_sockets_reaches(void)
{
	run_attack("ro,sockets", REACHED, HOST_SIDE | OWN_SIDE | OWN_SENDS);
}

static void test_sockets_alone_is_ro(void)
{
	run_attack("sockets", REACHED, HOST_SIDE | OWN_SIDE | OWN_SENDS);
}

/* Create a sandbox with one bind @spec: 0 or the negative errno, with the
 * message in @msg. */
static int try_bind(const char *spec, petri_sandbox **sb, char *msg, size_t msglen)
{
	const char *binds[] = {spec, NULL};
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.binds = binds;
	petri_error *e = NULL;
	*sb = NULL;
	int r = petri_sandbox_create(petri_test_ctx(), &so, sb, &e);
	snprintf(msg, msglen, "%s", r < 0 ? petri_error_message(e) : "");
	petri_error_free(e);
	return r;
}

static void test_socket_file_bind(void)
{
	struct host_socks h;
	host_socks_open(&h);
	char spec[256], msg[512];
	petri_sandbox *sb;
	snprintf(spec, sizeof(spec), "%s/s.sock:/agent.sock", h.dir);
	int r = try_bind(spec, &sb, msg, sizeof(msg));
	CHECK_MSG(r == -EACCES && strstr(msg, "unix socket") && strstr(msg, "sockets"),
		  "bind of a socket without the option: %d '%s'", r, msg);
	if (r == 0)
		petri_sandbox_destroy(sb);

	snprintf(spec, sizeof(spec), "%s/s.sock:/agent.sock:ro,sockets", h.dir);
	r = try_bind(spec, &sb, msg, sizeof(msg));
	REQUIRE(r == 0);
	struct sec_exec x = {.lang = "python",
			     .code = "import socket\n"
				     "s = socket.socket(socket.AF_UNIX)\n"
				     "s.connect('/agent.sock')\n"
				     "print('REACHED')\n",
			     .timeout_ms = 30000};
	struct petri_test_run run = sec_exec(sb, &x);
	CHECK(run.exit_code == 0 && strstr(run.out, "REACHED"));
	CHECK(host_connections(&h) == 1);
	finish_run(&run, sb, &h, "socket bind with sockets");
}

static void test_bind_options(void)
{
	static const struct {
		const char *opts;
		int err; /* 0: accepted */
		const char *says;
	} cases[] = {
		{"ro,sockets", 0, NULL},
		{"sockets,rw", 0, NULL},
		{"rw", 0, NULL},
		{"bogus", EINVAL, "unknown option 'bogus'"},
		{"ro,rw", EINVAL, "more than one of ro and rw"},
		{"ro,", EINVAL, "unknown option ''"},
		{"socket", EINVAL, "unknown option 'socket'"},
	};
	char dir[] = "/tmp/petri-unixsock-opts-XXXXXX";
	REQUIRE(mkdtemp(dir) != NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char spec[256], msg[512];
		petri_sandbox *sb;
		snprintf(spec, sizeof(spec), "%s:/data:%s", dir, cases[i].opts);
		int r = try_bind(spec, &sb, msg, sizeof(msg));
		CHECK_MSG(r == -cases[i].err && (!cases[i].says || strstr(msg, cases[i].says)),
			  "bind '%s': %d '%s'", spec, r, msg);
		if (r == 0)
			petri_sandbox_destroy(sb);
	}
	rmdir(dir);
}

/* Through the overlay the directory still reads as the host's: listing,
 * a subdirectory, and a file the host adds after the sandbox was made. */
static void test_ro_files_still_visible(void)
{
	char dir[] = "/tmp/petri-unixsock-files-XXXXXX", p[256];
	REQUIRE(mkdtemp(dir) != NULL && chmod(dir, 0755) == 0);
	snprintf(p, sizeof(p), "%s/sub", dir);
	REQUIRE(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/sub/a.txt", dir);
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	REQUIRE(fd >= 0 && write(fd, "alpha", 5) == 5 && close(fd) == 0);
	char spec[256];
	snprintf(spec, sizeof(spec), "%s:/data", dir);
	const char *binds[] = {spec, NULL};
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.binds = binds;
	petri_sandbox *sb = sec_sandbox(&so);
	snprintf(p, sizeof(p), "%s/later.txt", dir);
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	REQUIRE(fd >= 0 && write(fd, "beta", 4) == 4 && close(fd) == 0);
	struct sec_exec x = {
		.lang = "sh",
		.code = "ls /data | tr '\\n' ' '; echo; cat /data/sub/a.txt "
			"/data/later.txt; echo; touch /data/x 2>/dev/null || echo EROFS",
		.timeout_ms = 30000};
	struct petri_test_run run = sec_exec(sb, &x);
	CHECK_MSG(run.exit_code == 0 && strcmp(run.out, "later.txt sub \nalphabeta\nEROFS\n") == 0,
		  "got '%s'", run.out);
	if (petri_test_failures)
		sec_dump("files through the bind", &run);
	petri_test_run_free(&run);
	petri_sandbox_destroy(sb);
	unlink(p);
	snprintf(p, sizeof(p), "%s/sub/a.txt", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/sub", dir);
	rmdir(p);
	rmdir(dir);
}

/* What the CLI cases run: connect to the host's listener at /h. */
static const char cli_connect_code[] = "import socket\n"
				       "s = socket.socket(socket.AF_UNIX)\n"
				       "try:\n"
				       "    s.connect('/h/s.sock'); print('REACHED')\n"
				       "except OSError as e:\n"
				       "    print('BLOCKED', e.errno)\n";

static void test_cli_sockets_option(void)
{
	struct host_socks h;
	host_socks_open(&h);
	char spec[256];
	snprintf(spec, sizeof(spec), "%s:/h", h.dir);
	const char *refused[] = {"run", "--bind",         spec, "--lang", "python",
				 "-c",  cli_connect_code, NULL};
	char *out = NULL, *err = NULL;
	int st = petri_test_cli(refused, &out, &err);
	CHECK_MSG(st == 0 && out && strcmp(out, "BLOCKED 111\n") == 0, "default: %d '%s' '%s'", st,
		  out, err);
	free(out);
	free(err);

	snprintf(spec, sizeof(spec), "%s:/h:ro,sockets", h.dir);
	const char *allowed[] = {"run", "--bind",         spec, "--lang", "python",
				 "-c",  cli_connect_code, NULL};
	st = petri_test_cli(allowed, &out, &err);
	CHECK_MSG(st == 0 && out && strcmp(out, "REACHED\n") == 0, "ro,sockets: %d '%s' '%s'", st,
		  out, err);
	CHECK(host_connections(&h) == 1);
	free(out);
	free(err);

	snprintf(spec, sizeof(spec), "%s:/h:ro,socket", h.dir);
	const char *bad[] = {"run", "--bind", spec, "--", "/bin/true", NULL};
	st = petri_test_cli(bad, &out, &err);
	CHECK_MSG(st == 125 && err && strstr(err, "invalid option 'socket'") &&
			  strchr(err, '\n') == err + strlen(err) - 1,
		  "bad option: %d '%s'", st, err);
	free(out);
	free(err);
	host_socks_close(&h);
}

/*
 * Become nobody (an unprivileged host) with the host's sockets in a
 * directory nobody owns, in @h; the CLI nobody will run.
 */
static void nobody_host_socks(struct host_socks *h)
{
	if (geteuid() != 0)
		petri_test_skip("needs root to become an unprivileged user (nobody)");
	REQUIRE(getenv("PETRI_CLI") != NULL);
	snprintf(h->dir, sizeof(h->dir), "/tmp/petri-unixsock-XXXXXX");
	REQUIRE(mkdtemp(h->dir) != NULL && chown(h->dir, 65534, 65534) == 0);
	REQUIRE(setgroups(0, NULL) == 0 && setresgid(65534, 65534, 65534) == 0 &&
		setresuid(65534, 65534, 65534) == 0);
	if (access(getenv("PETRI_CLI"), X_OK) != 0) {
		rmdir(h->dir);
		petri_test_skip("the build tree is not executable by nobody");
	}
	host_socks_bind(h);
}

/*
 * An unprivileged host maps the sandbox user onto its own uid, so a socket
 * only that uid may open (an ssh agent's, mode 0600) is the one at risk:
 * as nobody, bind such a socket, and run the CLI with a read-only bind of
 * its directory, then with ",sockets".
 */
static void test_unprivileged_host_agent(void)
{
	struct host_socks h;
	nobody_host_socks(&h);
	char p[128];
	snprintf(p, sizeof(p), "%s/s.sock", h.dir);
	REQUIRE(chmod(p, 0600) == 0);
	static const char *const opts[] = {"", ":ro,sockets"};
	for (int i = 0; i < 2; i++) {
		char spec[256], *out = NULL, *err = NULL;
		snprintf(spec, sizeof(spec), "%s:/h%s", h.dir, opts[i]);
		const char *args[] = {"run", "--bind",         spec, "--lang", "python",
				      "-c",  cli_connect_code, NULL};
		int st = petri_test_cli(args, &out, &err);
		const char *want = i ? "REACHED\n" : "BLOCKED 111\n";
		CHECK_MSG(st == 0 && out && strcmp(out, want) == 0, "%s: %d '%s' '%s'", spec, st,
			  out, err);
		CHECK(host_connections(&h) == i);
		free(out);
		free(err);
	}
	host_socks_close(&h);
}

/*
 * A read-only bind of a directory with a mount below it: the kernel makes
 * no overlay layer of it (the submount is locked in the sandbox's user
 * namespace and the layer would show what it covers), so creation fails,
 * with a message that says why and what to do, instead of the README's
 * old promise ("not shown") or a bare "Invalid argument".  With 'sockets'
 * (a plain recursive bind) the submount's files show.  In a mount
 * namespace of this case's own, so the host's mounts are untouched.
 */
static void test_ro_bind_with_submount(void)
{
	REQUIRE(unshare(CLONE_NEWNS) == 0);
	REQUIRE(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	char dir[] = "/tmp/petri-unixsock-sub-XXXXXX", sub[64], file[80];
	REQUIRE(mkdtemp(dir) != NULL && chmod(dir, 0755) == 0);
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	REQUIRE(mkdir(sub, 0755) == 0);
	REQUIRE(mount("tmpfs", sub, "tmpfs", 0, "size=64k,mode=0755") == 0);
	snprintf(file, sizeof(file), "%s/f", sub);
	int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	REQUIRE(fd >= 0 && write(fd, "in the submount\n", 16) == 16);
	close(fd);

	char spec[128], msg[512];
	petri_sandbox *sb;
	snprintf(spec, sizeof(spec), "%s:/data", dir);
	int r = try_bind(spec, &sb, msg, sizeof(msg));
	CHECK_MSG(r == -EINVAL && strstr(msg, "mounts below") && strstr(msg, "sockets"),
		  "read-only bind of a source with a submount: %d '%s'", r, msg);
	if (r == 0)
		petri_sandbox_destroy(sb);

	snprintf(spec, sizeof(spec), "%s:/data:ro,sockets", dir);
	REQUIRE(try_bind(spec, &sb, msg, sizeof(msg)) == 0);
	const char *argv[] = {"/bin/cat", "/data/sub/f", NULL};
	struct sec_exec x = {.argv = argv, .timeout_ms = 20000};
	struct petri_test_run run = sec_exec(sb, &x);
	CHECK_MSG(run.exit_code == 0 && run.out && strstr(run.out, "in the submount"),
		  "the submount through 'sockets': exit %d", run.exit_code);
	if (petri_test_failures)
		sec_dump("submount with sockets", &run);
	petri_test_run_free(&run);
	petri_sandbox_destroy(sb);
	umount2(sub, MNT_DETACH);
	rmdir(sub);
	rmdir(dir);
}

/* An rw bind (without "sockets") makes the sandbox guarded: the host's
 * sockets in it are out of reach ... */
static void test_rw_refuses(void)
{
	run_attack("rw", GUARDED, HOST_SIDE);
}

/* ... while the sandbox's own work, in the bind too ... */
static void test_rw_own_sockets(void)
{
	run_attack("rw", GUARDED, OWN_SIDE);
}

/* ... and a datagram to a pathname of its own: sendto() is brokered, in the
 * bind too; sendmsg() is refused (the guard's limit; a datagram socket
 * connect()ed to its own still sends, OWN_SIDE). */
static void test_rw_own_pathname_sends(void)
{
	run_attack("rw", GUARDED, OWN_SENDS);
}

static void test_rw_sockets_reaches(void)
{
	run_attack("rw,sockets", REACHED, HOST_SIDE | OWN_SIDE | OWN_SENDS);
}

/*
 * The workspace directory, owned by an ordinary uid (one owned by root may
 * be refused, test_attack_workspace_dir), with the host's sockets in it,
 * owned by that uid too: the idmapped mount shows them as the sandbox
 * user's, where a root-owned one would be refused anyway (EACCES, its
 * owner has no id there).
 */
static void workspace_dir_attack(int sides)
{
	if (geteuid() != 0)
		petri_test_skip("needs root to give the workspace directory to another uid");
	struct host_socks h;
	host_socks_open(&h);
	REQUIRE(chown(h.dir, 4242, 4242) == 0);
	static const char *const socks[] = {"s.sock", "q.sock", "d.sock"};
	for (int i = 0; i < 3; i++) {
		char p[128];
		snprintf(p, sizeof(p), "%s/%s", h.dir, socks[i]);
		REQUIRE(chown(p, 4242, 4242) == 0);
	}
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.workspace_dir = h.dir;
	petri_sandbox *sb = sec_sandbox(&so);
	attack_host_socks(sb, &h, "/workspace", 1, GUARDED, sides, "workspace_dir");
	petri_sandbox_destroy(sb);
	host_socks_close(&h);
}

static void test_workspace_dir_refuses(void)
{
	workspace_dir_attack(HOST_SIDE);
}

static void test_workspace_dir_own_sockets(void)
{
	workspace_dir_attack(OWN_SIDE);
}

/* A custom root (the host's "/", as the other tests make one) with the
 * host's sockets in /var/tmp, a directory the sandbox sees from it. */
static void rootfs_attack(int sides)
{
	struct host_socks h;
	host_socks_in(&h, "/var/tmp/petri-unixsock-XXXXXX");
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.rootfs = "/";
	petri_sandbox *sb = sec_sandbox(&so);
	attack_host_socks(sb, &h, h.dir, 0, GUARDED, sides, "rootfs /");
	petri_sandbox_destroy(sb);
	host_socks_close(&h);
}

static void test_rootfs_refuses(void)
{
	rootfs_attack(HOST_SIDE);
}

static void test_rootfs_own_sockets(void)
{
	rootfs_attack(OWN_SIDE);
}

#ifndef SEC_UNIX_RACE_BIN
#error "SEC_UNIX_RACE_BIN must name the built attacks/unix_race.c"
#endif

/* A guarded sandbox (the host's sockets in an rw bind at /hostdir) with
 * attacks/unix_race.c in its /workspace. */
static petri_sandbox *race_sandbox(struct host_socks *h)
{
	char spec[128];
	const char *binds[] = {spec, NULL};
	host_socks_open(h);
	snprintf(spec, sizeof(spec), "%s:/hostdir:rw", h->dir);
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.binds = binds;
	petri_sandbox *sb = sec_sandbox(&so);
	sec_install_binary(sb, SEC_UNIX_RACE_BIN, "unix_race");
	return sb;
}

/*
 * unix_race @mode against the host socket @sock for 2 s: it must report no
 * call that succeeded, after at least 1000 attempts (else it raced
 * nothing), and the host must have received nothing.
 */
static void run_race(const char *mode, const char *sock)
{
	struct host_socks h;
	petri_sandbox *sb = race_sandbox(&h);
	char target[64], name[32], buf[256];
	snprintf(target, sizeof(target), "/hostdir/%s", sock);
	snprintf(name, sizeof(name), "race_%s", mode);
	const char *argv[] = {"/workspace/unix_race", mode, target, "2000", NULL};
	struct sec_exec x = {.argv = argv, .timeout_ms = 30000};
	struct petri_test_run r = sec_exec(sb, &x);
	sec_expect(&r, name, "OK");
	sec_expect_no_escape(&r);
	const char *v = sec_verdict(r.out, name, buf, sizeof(buf));
	const char *a = v ? strstr(v, "attempts=") : NULL;
	long attempts = a ? atol(a + 9) : 0;
	CHECK_MSG(attempts >= 1000, "%s: only %ld attempts", name, attempts);
	int conns = host_connections(&h), grams = host_datagrams(&h);
	CHECK_MSG(conns == 0, "%s: the host's listener accepted %d connections", name, conns);
	CHECK_MSG(grams == 0, "%s: the host got %d datagrams", name, grams);
	finish_run(&r, sb, &h, name);
}

/* The address rewritten between an abstract name, a missing path in /tmp
 * and the host's socket. */
static void test_race_path(void)
{
	run_race("path", "s.sock");
}

/* The same race for a pathname sendto(). */
static void test_race_sendto(void)
{
	run_race("sendto", "d.sock");
}

/* sun_family rewritten between AF_INET and AF_UNIX. */
static void test_race_family(void)
{
	run_race("family", "s.sock");
}

/* The fd connected swapped between an AF_INET and an AF_UNIX socket. */
static void test_race_fd(void)
{
	run_race("fd", "s.sock");
}

/*
 * A blocking connect to a full listener of the sandbox's own waits, the
 * sandbox meanwhile answers the same program's other calls (a denied one,
 * another connect) at once, and the connect completes once the listener
 * accepts.
 */
static void test_full_backlog_blocks_alone(void)
{
	struct host_socks h;
	petri_sandbox *sb = race_sandbox(&h);
	const char *argv[] = {"/workspace/unix_race", "backlog", NULL};
	struct sec_exec x = {.argv = argv, .timeout_ms = 30000};
	struct petri_test_run r = sec_exec(sb, &x);
	sec_expect(&r, "backlog_queued", "OK");
	sec_expect(&r, "backlog_blocks", "OK");
	sec_expect(&r, "backlog_denied_prompt", "OK");
	sec_expect(&r, "backlog_other_connect", "OK");
	sec_expect(&r, "backlog_completes", "OK");
	sec_expect_no_escape(&r);
	finish_run(&r, sb, &h, "full backlog");
}

/*
 * A low RLIMIT_NOFILE (5: the three stdio fds and two more) still runs,
 * exec after exec, guarded or not, and is in force: the command's last
 * steps open nothing above it (the guard's listener is made before the
 * limit, in the reaper's fd table).
 */
static void test_low_nofile(void)
{
	for (int g = 0; g < 2; g++) {
		struct host_socks h;
		host_socks_open(&h);
		char spec[256];
		snprintf(spec, sizeof(spec), "%s:/hostdir:rw", h.dir);
		const char *const bind[] = {spec, NULL};
		petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
		so.binds = g ? NULL : bind;
		petri_sandbox *sb = sec_sandbox(&so);
		const char *argv[] = {"/bin/sh", "-c", "ulimit -n", NULL};
		for (int i = 0; i < 3; i++) {
			struct sec_exec x = {.argv = argv, .timeout_ms = 20000, .nofile_max = 5};
			struct petri_test_run r = sec_exec(sb, &x);
			CHECK_MSG(r.rc == 0 && r.exit_code == 0 && r.out &&
					  strcmp(r.out, "5\n") == 0,
				  "%s, exec %d: rc %d exit %d out '%s' err '%s'",
				  g ? "unguarded" : "guarded", i, r.rc, r.exit_code, r.out, r.err);
			petri_test_run_free(&r);
		}
		petri_sandbox_destroy(sb);
		host_socks_close(&h);
	}
}

/* The CLI: --bind SRC:DST:rw refuses the host's socket, rw,sockets reaches it. */
static void test_cli_rw(void)
{
	struct host_socks h;
	host_socks_open(&h);
	static const char *const opts[] = {"rw", "rw,sockets"};
	static const char *const want[] = {"BLOCKED 111\n", "REACHED\n"};
	for (int i = 0; i < 2; i++) {
		char spec[256], *out = NULL, *err = NULL;
		snprintf(spec, sizeof(spec), "%s:/h:%s", h.dir, opts[i]);
		const char *args[] = {"run", "--bind",         spec, "--lang", "python",
				      "-c",  cli_connect_code, NULL};
		int st = petri_test_cli(args, &out, &err);
		CHECK_MSG(st == 0 && out && strcmp(out, want[i]) == 0, "%s: %d '%s' '%s'", spec, st,
			  out, err);
		int conns = host_connections(&h);
		CHECK_MSG(conns == i, "%s: the host got %d connections", spec, conns);
		free(out);
		free(err);
	}
	host_socks_close(&h);
}

/*
 * The code that makes a one-character pathname address without its NUL:
 * sun_family and "s", 3 bytes (the length a caller counting strlen()
 * gives).  The kernel reads it as the path "s" (relative to the cwd, here
 * /tmp, where "s" and "d" are symlinks to the host's stream and datagram
 * sockets in the bind at @dir).  Prints "s" and "d" with REACHED or
 * BLOCKED and the errno number.
 */
static void short_address_code(char *buf, size_t len, const char *dir)
{
	snprintf(buf, len,
		 "import ctypes, os, socket, struct\n"
		 "libc = ctypes.CDLL(None, use_errno=True)\n"
		 "os.chdir('/tmp')\n"
		 "for n, kind in (('s', socket.SOCK_STREAM), ('d', socket.SOCK_DGRAM)):\n"
		 "    os.symlink('%s/' + n + '.sock', n)\n"
		 "    s = socket.socket(socket.AF_UNIX, kind)\n"
		 "    a = struct.pack('=H', socket.AF_UNIX) + n.encode()\n"
		 "    if kind == socket.SOCK_STREAM:\n"
		 "        r = libc.connect(s.fileno(), a, 3)\n"
		 "    else:\n"
		 "        r = libc.sendto(s.fileno(), b'x', 1, 0, a, 3)\n"
		 "    print(n, 'REACHED' if r >= 0 else 'BLOCKED %%d' %% ctypes.get_errno())\n",
		 dir);
}

/*
 * A 3-byte pathname address is a pathname to the kernel, but the reaper
 * took it for an unnamed one and let the call go on: only the cgroup
 * program stopped it (EPERM), and where that program is missing (an
 * unprivileged host, test_unprivileged_rw_short_address) it reached the
 * host.  The guard itself must answer it, like any other pathname:
 * ECONNREFUSED, nothing received.
 */
static void test_short_address(void)
{
	struct host_socks h;
	host_socks_open(&h);
	char spec[128], code[1024];
	snprintf(spec, sizeof(spec), "%s:/hostdir:rw", h.dir);
	REQUIRE(chmod(h.dir, 0777) == 0);
	const char *binds[] = {spec, NULL};
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.binds = binds;
	petri_sandbox *sb = sec_sandbox(&so);
	short_address_code(code, sizeof(code), "/hostdir");
	struct sec_exec x = {.lang = "python", .code = code, .timeout_ms = 30000};
	struct petri_test_run r = sec_exec(sb, &x);
	CHECK_MSG(r.exit_code == 0 && r.out && strcmp(r.out, "s BLOCKED 111\nd BLOCKED 111\n") == 0,
		  "3-byte addresses: exit %d '%s'", r.exit_code, r.out);
	int conns = host_connections(&h), grams = host_datagrams(&h);
	CHECK_MSG(conns == 0 && grams == 0, "the host got %d connections, %d datagrams", conns,
		  grams);
	finish_run(&r, sb, &h, "short address");
}

/*
 * As nobody (an unprivileged host: no cgroup program, the guard alone),
 * the host's sockets in a directory nobody owns, bound rw at /h: run
 * @code with the CLI; it must print no REACHED, and the host must have
 * received nothing.
 */
static void unprivileged_rw(const char *what, const char *code)
{
	struct host_socks h;
	nobody_host_socks(&h);
	char spec[256], *out = NULL, *err = NULL;
	snprintf(spec, sizeof(spec), "%s:/h:rw", h.dir);
	const char *args[] = {"run", "--bind", spec, "--lang", "python", "-c", code, NULL};
	int st = petri_test_cli(args, &out, &err);
	CHECK_MSG(st == 0 && out && !strstr(out, "REACHED"), "%s: %d '%s' '%s'", what, st, out,
		  err);
	int conns = host_connections(&h), grams = host_datagrams(&h);
	CHECK_MSG(conns == 0 && grams == 0, "%s: the host got %d connections, %d datagrams", what,
		  conns, grams);
	free(out);
	free(err);
	host_socks_close(&h);
}

static void test_unprivileged_rw_short_address(void)
{
	char code[1024];
	short_address_code(code, sizeof(code), "/h");
	unprivileged_rw("3-byte addresses", code);
}

/*
 * sendmsg() hides its address behind msg_name, which the seccomp filter
 * cannot read: the cgroup program refuses a pathname there, and without
 * it (an unprivileged host) the reaper, which reads msg_name itself.
 */
static void test_unprivileged_rw_sendmsg(void)
{
	static const char code[] = "import socket\n"
				   "g = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
				   "try:\n"
				   "    g.sendmsg([b'x'], [], 0, '/h/d.sock'); print('REACHED')\n"
				   "except OSError as e:\n"
				   "    print('BLOCKED', e.errno)\n";
	unprivileged_rw("sendmsg", code);
}

/*
 * sendmmsg() whose first header, addressed to the host's socket, ends a
 * page and whose second lies on the next, unmapped one: the reaper's read
 * of both fell short and it let the call go on, and the kernel sent the
 * first message before it failed on the second.
 */
static void test_unprivileged_rw_sendmmsg_short_read(void)
{
	static const char code[] =
		"import ctypes, socket\n"
		"c = ctypes.CDLL(None)\n"
		"c.mmap.restype = ctypes.c_void_p\n"
		"c.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,\n"
		"                   ctypes.c_int, ctypes.c_long]\n"
		"c.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]\n"
		"base = c.mmap(None, 8192, 3, 0x22, -1, 0)\n"
		"c.munmap(base + 4096, 4096)\n"
		"name = ctypes.create_string_buffer(b'\\x01\\x00/h/d.sock\\x00', 12)\n"
		"data = ctypes.create_string_buffer(b'x', 1)\n"
		"iov = (ctypes.c_uint64 * 2)(ctypes.addressof(data), 1)\n"
		"at = base + 4096 - 64  # struct mmsghdr: 64 bytes\n"
		"hdr = (ctypes.c_uint64 * 7).from_address(at)\n"
		"hdr[0] = ctypes.addressof(name); hdr[1] = 12\n"
		"hdr[2] = ctypes.addressof(iov); hdr[3] = 1\n"
		"g = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
		"nr = {'x86_64': 307, 'aarch64': 269}[__import__('os').uname().machine]\n"
		"r = c.syscall(nr, g.fileno(), ctypes.c_void_p(at), 2, 0)\n"
		"print('REACHED' if r > 0 else 'BLOCKED', r)\n";
	unprivileged_rw("sendmmsg, short read", code);
}

/*
 * A "sockets" bind whose destination lies below a directory the code owns
 * (/home/sandbox/.ssh, made by init for the mount point): the broker found
 * the bind by resolving its destination at each call, so the code renames
 * .ssh away, puts a symlink to the writable bind /hostdir in its place and
 * a file agent.sock there, and every socket in /hostdir passed for one on
 * the "sockets" bind -- the host's daemon's too.
 */
static void test_sockets_bind_dst_swapped(void)
{
	struct host_socks h, agent;
	host_socks_open(&h);
	host_socks_open(&agent);
	REQUIRE(chmod(h.dir, 0777) == 0);
	char rw[128], sock[160];
	snprintf(rw, sizeof(rw), "%s:/hostdir:rw", h.dir);
	snprintf(sock, sizeof(sock), "%s/s.sock:/home/sandbox/.ssh/agent.sock:sockets", agent.dir);
	const char *binds[] = {rw, sock, NULL};
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.binds = binds;
	petri_sandbox *sb = sec_sandbox(&so);
	static const char code[] = "import os, socket\n"
				   "def conn(p):\n"
				   "    s = socket.socket(socket.AF_UNIX)\n"
				   "    try:\n"
				   "        s.connect(p); return 'REACHED'\n"
				   "    except OSError as e:\n"
				   "        return 'BLOCKED %d' % e.errno\n"
				   "print('agent', conn('/home/sandbox/.ssh/agent.sock'))\n"
				   "os.rename('/home/sandbox/.ssh', '/home/sandbox/.ssh-away')\n"
				   "os.symlink('/hostdir', '/home/sandbox/.ssh')\n"
				   "open('/hostdir/agent.sock', 'w').close()\n"
				   "print('host', conn('/hostdir/s.sock'))\n";
	struct sec_exec x = {.lang = "python", .code = code, .timeout_ms = 30000};
	struct petri_test_run r = sec_exec(sb, &x);
	CHECK_MSG(r.exit_code == 0 && r.out &&
			  strcmp(r.out, "agent REACHED\nhost BLOCKED 111\n") == 0,
		  "exit %d '%s'", r.exit_code, r.out);
	CHECK(host_connections(&agent) == 1);
	int conns = host_connections(&h);
	CHECK_MSG(conns == 0, "the host's listener accepted %d connections", conns);
	finish_run(&r, sb, &agent, "sockets bind destination swapped");
	host_socks_close(&h);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(ro_default_refuses),
	PETRI_TEST_CASE(ro_explicit_refuses),
	PETRI_TEST_CASE(ro_sockets_reaches),
	PETRI_TEST_CASE(sockets_alone_is_ro),
	PETRI_TEST_CASE(socket_file_bind),
	PETRI_TEST_CASE(bind_options),
	PETRI_TEST_CASE(ro_files_still_visible),
	PETRI_TEST_CASE(cli_sockets_option),
	PETRI_TEST_CASE(unprivileged_host_agent),
	PETRI_TEST_CASE(ro_bind_with_submount),
	PETRI_TEST_CASE(rw_refuses),
	PETRI_TEST_CASE(rw_own_sockets),
	PETRI_TEST_CASE(rw_own_pathname_sends),
	PETRI_TEST_CASE(rw_sockets_reaches),
	PETRI_TEST_CASE(workspace_dir_refuses),
	PETRI_TEST_CASE(workspace_dir_own_sockets),
	PETRI_TEST_CASE(rootfs_refuses),
	PETRI_TEST_CASE(rootfs_own_sockets),
	PETRI_TEST_CASE(race_path),
	PETRI_TEST_CASE(race_sendto),
	PETRI_TEST_CASE(race_family),
	PETRI_TEST_CASE(race_fd),
	PETRI_TEST_CASE(full_backlog_blocks_alone),
	PETRI_TEST_CASE(cli_rw),
	PETRI_TEST_CASE(low_nofile),
	PETRI_TEST_CASE(short_address),
	PETRI_TEST_CASE(unprivileged_rw_short_address),
	PETRI_TEST_CASE(unprivileged_rw_sendmsg),
	PETRI_TEST_CASE(unprivileged_rw_sendmmsg_short_read),
	PETRI_TEST_CASE(sockets_bind_dst_swapped),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
