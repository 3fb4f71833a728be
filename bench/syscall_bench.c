/* SPDX-License-Identifier: Apache-2.0 */
/*
 * syscall_bench.c - ns per openat+close pair in this process (run it outside
 * any sandbox): the cost the audit programs add to host processes they do
 * not watch.  Usage: syscall_bench [ITERATIONS]; prints the median of 7 runs.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	double runs[7];
	for (int r = 0; r < 7; r++) {
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (long i = 0; i < n; i++) {
			int fd = openat(AT_FDCWD, "/etc/hostname", O_RDONLY | O_CLOEXEC);
			if (fd >= 0)
				close(fd);
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		runs[r] = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) /
			  (double)n;
	}
	qsort(runs, 7, sizeof(double), cmp);
	printf("%.1f\n", runs[3]);
	return 0;
}
