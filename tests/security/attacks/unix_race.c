/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unix_race.c - untrusted code that races a unix connect guard, built
 * static and run inside a sandbox by test_attack_unix_sockets.
 *
 * A guard that looks at a connect()'s address or socket and then lets the
 * kernel make the call reads the code's memory and fd table twice; threads
 * of the code may change both in between.  Each race mode runs for MS ms
 * and at least RACE_MIN_ATTEMPTS calls (at most 8 x MS), and prints one
 * line:
 *
 *   CHECK race_MODE OK attempts=N [errno name=count ...]
 *   CHECK race_MODE ESCAPED connected=K attempts=N ...
 *
 * where "connected" counts calls that succeeded: nothing inside listens on
 * the abstract name and nothing exists at the /tmp path, so a call that
 * succeeds reached the host's socket.  The C test also counts what the
 * host received.
 *
 *   unix_race path HOST MS    connect() with an address two threads keep
 *                             rewriting: an abstract name, a missing path
 *                             in /tmp, the host socket HOST
 *   unix_race sendto HOST MS  the same with sendto() on a datagram socket
 *   unix_race family HOST MS  an address rewritten between AF_INET
 *                             127.0.0.1:1 (nothing listens) and HOST
 *   unix_race fd HOST MS      connect(N, HOST) while a thread dup2()s an
 *                             AF_INET and an AF_UNIX socket onto N in turn
 *   unix_race backlog         a blocking connect() to a full listener of
 *                             the code's own blocks, and meanwhile the
 *                             sandbox answers the code's other calls
 *
 * Static and unsanitized, so it makes no system call the test did not ask for.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/keyctl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define RACE_FD 100 /* the fd the "fd" race swaps sockets on */

union addr {
	struct sockaddr sa;
	struct sockaddr_un un;
	struct sockaddr_in in;
};

/* The address the racing threads rewrite and the connecting one uses. */
static union addr shared;
static union addr variants[3];
static int nvariants;
#define RACE_MIN_ATTEMPTS 1000

static atomic_int stop;

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void set_path(union addr *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->un.sun_family = AF_UNIX;
	snprintf(a->un.sun_path, sizeof(a->un.sun_path), "%s", path);
}

static void set_abstract(union addr *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->un.sun_family = AF_UNIX;
	snprintf(a->un.sun_path + 1, sizeof(a->un.sun_path) - 1, "%s", name);
}

static void set_inet(union addr *a)
{
	memset(a, 0, sizeof(*a));
	a->in.sin_family = AF_INET;
	a->in.sin_port = htons(1);
	a->in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* Each writer starts at another variant, so the two tear each other's
 * copies too. */
static void *rewrite(void *arg)
{
	int i = (int)(long)arg;
	while (!atomic_load(&stop)) {
		memcpy(&shared, &variants[i], sizeof(shared));
		i = (i + 1) % nvariants;
	}
	return NULL;
}

/* A socket whose blocking calls give up after 100 ms: a connect to a full
 * backlog (the host's, should the guard let one through) must not stall
 * the race. */
static int race_socket(int type)
{
	struct timeval tv = {.tv_usec = 100000};
	int s = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (s >= 0)
		setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return s;
}

/* Swap an AF_INET and an AF_UNIX socket onto RACE_FD. */
static void *swap_fd(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s >= 0) {
			dup2(s, RACE_FD);
			close(s);
		}
		s = race_socket(SOCK_STREAM);
		if (s >= 0) {
			dup2(s, RACE_FD);
			close(s);
		}
	}
	return NULL;
}

struct tally {
	long attempts, connected;
	long err[4]; /* ECONNREFUSED, ENOENT, EPERM, other */
};

static void count(struct tally *t, int r)
{
	t->attempts++;
	if (r == 0)
		t->connected++;
	else if (errno == ECONNREFUSED)
		t->err[0]++;
	else if (errno == ENOENT)
		t->err[1]++;
	else if (errno == EPERM)
		t->err[2]++;
	else
		t->err[3]++;
}

static int race(const char *mode, const char *host, long ms)
{
	pthread_t th[2];
	int nthreads = 2;
	void *(*fn)(void *) = rewrite;
	int type = strcmp(mode, "sendto") == 0 ? SOCK_DGRAM : SOCK_STREAM;

	if (strcmp(mode, "path") == 0 || strcmp(mode, "sendto") == 0) {
		set_abstract(&variants[0], "petri-unix-race-nobody");
		set_path(&variants[1], "/tmp/petri-unix-race-missing");
		set_path(&variants[2], host);
		nvariants = 3;
	} else if (strcmp(mode, "family") == 0) {
		set_inet(&variants[0]);
		set_path(&variants[1], host);
		nvariants = 2;
	} else if (strcmp(mode, "fd") == 0) {
		set_path(&variants[0], host);
		nvariants = 1;
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0 || dup2(s, RACE_FD) < 0)
			return 1;
		close(s);
		fn = swap_fd;
		nthreads = 1;
	} else {
		return 2;
	}
	memcpy(&shared, &variants[0], sizeof(shared));
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, fn, (void *)(long)i) != 0)
			return 1;

	/* MS ms, and on until RACE_MIN_ATTEMPTS (a slow host: a sanitized
	 * one forks slowly, and every brokered call forks), at most 8 x MS. */
	struct tally t = {0};
	long start = now_ms(), end = start + ms, cap = start + 8 * ms;
	for (long n; (n = now_ms()) < end || (t.attempts < RACE_MIN_ATTEMPTS && n < cap);) {
		if (strcmp(mode, "fd") == 0) {
			count(&t, connect(RACE_FD, &shared.sa, sizeof(shared.un)));
			continue;
		}
		int s = race_socket(type);
		if (s < 0)
			return 1;
		if (type == SOCK_DGRAM)
			count(&t,
			      sendto(s, "race", 4, 0, &shared.sa, sizeof(shared.un)) < 0 ? -1 : 0);
		else
			count(&t, connect(s, &shared.sa, sizeof(shared.un)));
		close(s);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	printf("CHECK race_%s %s connected=%ld attempts=%ld ECONNREFUSED=%ld ENOENT=%ld EPERM=%ld "
	       "other=%ld\n",
	       mode, t.connected ? "ESCAPED" : "OK", t.connected, t.attempts, t.err[0], t.err[1],
	       t.err[2], t.err[3]);
	return 0;
}

/* The blocking connect of the backlog mode, in a thread of its own. */
static union addr backlog_addr;
static atomic_int blocked_done;
static int blocked_result;

static void *blocked_connect(void *arg)
{
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	(void)arg;
	blocked_result = s < 0                                                     ? errno :
			 connect(s, &backlog_addr.sa, sizeof(backlog_addr.un)) < 0 ? errno :
										     0;
	atomic_store(&blocked_done, 1);
	return NULL;
}

static int own_listener(const char *path, int backlog)
{
	union addr a;
	set_path(&a, path);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0 || bind(s, &a.sa, sizeof(a.un)) < 0 || listen(s, backlog) < 0)
		return -1;
	return s;
}

/*
 * A blocking connect to a listener of the code's own whose backlog is full
 * waits (as on any host), and while it waits the sandbox still answers the
 * same program at once: a denied call (which the sandbox's supervisor
 * answers) and a connect to another listener of its own.  Once the
 * listener accepts, the waiting connect completes.
 */
static int backlog(void)
{
	int full = own_listener("/tmp/backlog-full.sock", 1);
	int room = own_listener("/tmp/backlog-room.sock", 8);
	if (full < 0 || room < 0) {
		printf("CHECK backlog_queued FAILED listen: %s\n", strerror(errno));
		return 0;
	}
	set_path(&backlog_addr, "/tmp/backlog-full.sock");

	/* Fill the queue with non-blocking connects until it says EAGAIN. */
	int queued = 0, e = 0;
	while (queued < 16) {
		int c = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c < 0 || connect(c, &backlog_addr.sa, sizeof(backlog_addr.un)) < 0) {
			e = errno;
			break;
		}
		queued++; /* kept open: it holds its place in the queue */
	}
	printf("CHECK backlog_queued %s queued=%d then %s\n",
	       queued >= 1 && e == EAGAIN ? "OK" : "FAILED", queued, strerror(e));

	pthread_t th;
	if (pthread_create(&th, NULL, blocked_connect, NULL) != 0)
		return 1;
	usleep(500000);
	if (atomic_load(&blocked_done))
		printf("CHECK backlog_blocks FAILED returned %s\n", strerror(blocked_result));
	else
		printf("CHECK backlog_blocks OK\n");

	long t0 = now_ms();
	long r = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
	e = r < 0 ? errno : 0;
	long dt = now_ms() - t0;
	printf("CHECK backlog_denied_prompt %s %s ms=%ld\n",
	       e == EPERM && dt < 1000 ? "OK" : "FAILED", r < 0 ? strerror(e) : "allowed", dt);

	union addr other;
	set_path(&other, "/tmp/backlog-room.sock");
	t0 = now_ms();
	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	e = c < 0 || connect(c, &other.sa, sizeof(other.un)) < 0 ? errno : 0;
	dt = now_ms() - t0;
	printf("CHECK backlog_other_connect %s %s ms=%ld\n", e == 0 && dt < 1000 ? "OK" : "FAILED",
	       strerror(e), dt);

	/* Accept what waits until the blocked connect is through (10 s at most). */
	long end = now_ms() + 10000;
	while (!atomic_load(&blocked_done) && now_ms() < end) {
		int a = accept4(full, NULL, NULL, SOCK_CLOEXEC);
		if (a < 0)
			usleep(10000);
	}
	if (!atomic_load(&blocked_done))
		printf("CHECK backlog_completes FAILED still blocked after the accepts\n");
	else
		printf("CHECK backlog_completes %s %s\n", blocked_result == 0 ? "OK" : "FAILED",
		       strerror(blocked_result));
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	int r;
	if (argc == 2 && strcmp(argv[1], "backlog") == 0)
		r = backlog();
	else if (argc == 4)
		r = race(argv[1], argv[2], atol(argv[3]));
	else
		r = 2;
	if (r == 2)
		fprintf(stderr, "usage: unix_race path|sendto|family|fd HOST MS | backlog\n");
	if (r == 0)
		printf("DONE\n");
	return r;
}
