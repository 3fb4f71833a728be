/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_max_flood.c - the flood of test_audit_max's kernel case, run inside
 * a sandbox: two threads open a missing file with a long path (each open
 * fails, and each is one file_activity event of the kernel half) for
 * SECONDS, then the program prints how many opens it made.  Linked
 * statically, so that it opens no file of its own (no dynamic loader): the
 * stream's file_activity events are exactly its opens.
 *
 *   audit_max_flood SECONDS PATH_LEN
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char path[4096];
static double seconds;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *flood(void *arg)
{
	unsigned long *n = arg;
	double end = now() + seconds;
	while (now() < end) {
		for (int i = 0; i < 64; i++)
			if (open(path, O_RDONLY | O_CLOEXEC) >= 0)
				abort(); /* the path must not exist */
		*n += 64;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	seconds = atof(argv[1]);
	size_t len = (size_t)atoi(argv[2]);
	const char *prefix = "/nonexistent/";
	if (len < strlen(prefix) + 1 || len >= sizeof(path))
		return 2;
	memset(path, 'a', len);
	memcpy(path, prefix, strlen(prefix));
	path[len] = '\0';

	unsigned long n[2] = {0, 0};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, flood, &n[i]) != 0)
			return 3;
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("%lu\n", n[0] + n[1]);
	return 0;
}
