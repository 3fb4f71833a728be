/* SPDX-License-Identifier: Apache-2.0 */
/*
 * counters.c - untrusted code that exhausts a kernel counter, built static
 * and run inside a sandbox by test_attack_counters.
 *
 *   counters hog COUNTER    take as much of COUNTER as the kernel gives, print
 *                           "HELD <n> <errno name>" and keep it until killed
 *   counters try COUNTER    take one unit, print "TRY OK" or "TRY <errno name>"
 *   counters count COUNTER  like hog, but exit once it has printed HELD
 *
 * COUNTER is one of: inotify (instances), sigpending (queued real-time
 * signals; "try" also creates a POSIX timer, which reserves one), aio
 * (io_setup contexts), mqueue (POSIX message queue bytes), memlock (SysV
 * shared memory locked with SHM_LOCK, not in the test: it did not fail
 * before either).
 *
 * The same file is compiled into the test itself, so the host side (root)
 * makes exactly the calls the sandbox makes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *counters_errname(int e)
{
	switch (e) {
	case 0:
		return "OK";
	case EPERM:
		return "EPERM";
	case EAGAIN:
		return "EAGAIN";
	case EMFILE:
		return "EMFILE";
	case ENFILE:
		return "ENFILE";
	case ENOMEM:
		return "ENOMEM";
	case ENOSPC:
		return "ENOSPC";
	case ENOSYS:
		return "ENOSYS";
	case EINVAL:
		return "EINVAL";
	case EACCES:
		return "EACCES";
	default:
		return "OTHER";
	}
}

/* One unit of @what: 0 or an errno.  @n numbers the unit (queue names). */
static int counters_take(const char *what, long n)
{
	if (strcmp(what, "inotify") == 0)
		return inotify_init1(IN_CLOEXEC) < 0 ? errno : 0;
	if (strcmp(what, "sigpending") == 0) {
		union sigval v = {.sival_int = (int)n};
		return sigqueue(getpid(), SIGRTMIN, v) < 0 ? errno : 0;
	}
	if (strcmp(what, "timer") == 0) {
		struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN};
		timer_t t;
		return timer_create(CLOCK_MONOTONIC, &ev, &t) < 0 ? errno : 0;
	}
	if (strcmp(what, "aio") == 0 || strcmp(what, "aio1") == 0) {
		aio_context_t ctx = 0;
		unsigned nr = what[3] ? 1 : 32767;
		return syscall(SYS_io_setup, nr, &ctx) < 0 ? errno : 0;
	}
	if (strcmp(what, "mqueue") == 0) {
		char name[64];
		snprintf(name, sizeof(name), "/petri-counters-%d-%ld", (int)getpid(), n);
		struct mq_attr a = {.mq_maxmsg = 10, .mq_msgsize = 1024};
		mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600, &a);
		if (q == (mqd_t)-1)
			return errno;
		/* The host removes its own at once: the queue's bytes stay
		 * charged while the descriptor is open. */
		mq_unlink(name);
		return 0;
	}
	if (strcmp(what, "memlock") == 0) {
		int id = shmget(IPC_PRIVATE, 1 << 20, IPC_CREAT | 0600);
		if (id < 0)
			return errno;
		int e = shmctl(id, SHM_LOCK, NULL) < 0 ? errno : 0;
		if (e) /* keep only the locked ones */
			shmctl(id, IPC_RMID, NULL);
		return e;
	}
	return EINVAL;
}

/* Block SIGRTMIN so that queued ones stay pending. */
static void counters_block(void)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &s, NULL);
}

#ifndef COUNTERS_NO_MAIN
int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: counters hog|try COUNTER\n");
		return 2;
	}
	counters_block();
	setvbuf(stdout, NULL, _IONBF, 0);
	if (strcmp(argv[1], "try") == 0) {
		int e = counters_take(argv[2], 0);
		if (e == 0 && strcmp(argv[2], "sigpending") == 0)
			e = counters_take("timer", 0);
		printf("TRY %s\n", counters_errname(e));
		return 0;
	}
	long n = 0;
	int e = 0;
	/* Bounded: every counter here has a limit far below this. */
	while (n < 10000000 && (e = counters_take(argv[2], n)) == 0)
		n++;
	printf("HELD %ld %s\n", n, counters_errname(e));
	if (strcmp(argv[1], "count") == 0)
		return 0;
	for (;;)
		pause();
}
#endif
