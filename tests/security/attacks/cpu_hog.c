/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cpu_hog.c - untrusted load for test_fault_cpu, run inside a sandbox.
 *
 *   cpu_hog spin THREADS MS
 *       THREADS threads spin for MS ms of wall time, then the program exits.
 *   cpu_hog deny PROCS THREADS FLOOD_MS LINGER_MS
 *       PROCS processes of THREADS threads each call keyctl (denied by the
 *       seccomp profile) in a loop for FLOOD_MS ms, then every thread stays
 *       alive, idle, for LINGER_MS ms (so the host can look at the denying
 *       tasks while they still exist), then everything exits.
 *
 * Static and unsanitized, so it makes no system call the test did not ask for.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long spin_ms, flood_ms, linger_ms;

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void *spin(void *arg)
{
	volatile unsigned long n = 0;
	long end = now_ms() + spin_ms;
	(void)arg;
	while (now_ms() < end)
		for (int i = 0; i < 10000; i++)
			n++;
	return NULL;
}

static void *deny(void *arg)
{
	long end = now_ms() + flood_ms;
	(void)arg;
	while (now_ms() < end)
		syscall(SYS_keyctl, 0, 0, 0, 0, 0);
	struct timespec ts = {linger_ms / 1000, (linger_ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
	return NULL;
}

static void run_threads(int n, void *(*fn)(void *))
{
	pthread_t t[64];
	if (n < 1 || n > 64)
		_exit(2);
	for (int i = 1; i < n; i++)
		if (pthread_create(&t[i], NULL, fn, NULL) != 0)
			_exit(3);
	fn(NULL);
	for (int i = 1; i < n; i++)
		pthread_join(t[i], NULL);
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "spin") == 0) {
		spin_ms = atol(argv[3]);
		run_threads(atoi(argv[2]), spin);
		return 0;
	}
	if (argc == 6 && strcmp(argv[1], "deny") == 0) {
		int procs = atoi(argv[2]), threads = atoi(argv[3]);
		flood_ms = atol(argv[4]);
		linger_ms = atol(argv[5]);
		for (int i = 0; i < procs; i++) {
			pid_t p = fork();
			if (p == 0) {
				run_threads(threads, deny);
				_exit(0);
			}
			if (p < 0)
				return 4;
		}
		while (wait(NULL) > 0)
			;
		return 0;
	}
	return 2;
}
