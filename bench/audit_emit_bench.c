/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_emit_bench.c - CPU per event of the audit stream's userspace half
 * for the kernel consumer's most common event (a file open: process,
 * sandbox and exec ids, a path from the kernel): encode, UTF-8 check, seal
 * (seq, SHA-256 chain), queue, and the writer thread's batched write to a
 * file.  protobuf-c's get_packed_size + pack and the hand-written encoder
 * (audit/encode.c) alternate, ROUNDS rounds of N events each; the process's
 * CPU time (emitter and writer threads) per event is printed for each
 * variant: median and best round, and the ratio of the medians.
 * Usage: audit_emit_bench [N [ROUNDS]]   (default 200000 events, 9 rounds)
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "audit_priv.h"

static double cpu_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

static double round_ns(int fast, long n)
{
	char path[] = "/tmp/petri-emit-bench-XXXXXX";
	int fd = mkstemp(path);
	petri_audit_opts o = PETRI_AUDIT_OPTS_INIT;
	petri_audit *a = NULL;

	if (fd < 0)
		return -1;
	close(fd);
	o.sink = PETRI_AUDIT_SINK_FILE;
	o.path = path;
	o.queue_events = 1u << 16;
	if (petri_audit_open(&a, &o, NULL) < 0)
		return -1;
	petri__audit_no_fast = !fast;
	Petri__Audit__V1__Event ev = PETRI__AUDIT__V1__EVENT__INIT;
	Petri__Audit__V1__Process p = PETRI__AUDIT__V1__PROCESS__INIT;
	Petri__Audit__V1__FileActivity f = PETRI__AUDIT__V1__FILE_ACTIVITY__INIT;
	char path_buf[] = "/etc/hostname";

	p.pid_inside = 2;
	p.pid_host = 123456;
	p.ppid = 1;
	p.uid = 1000;
	p.comm = "python3";
	ev.sandbox_id = "sb_00002ba80001";
	ev.exec_id = "sb_00002ba80001:1";
	ev.process = &p;
	f.op = PETRI__AUDIT__V1__FILE_ACTIVITY__OP__OP_OPEN;
	f.path = path_buf;
	f.flags = 0x80000;
	f.result = 3;
	f.path_source = PETRI__AUDIT__V1__FILE_ACTIVITY__PATH_SOURCE__PATH_SOURCE_KERNEL_FILE;
	f.syscall = "openat";
	ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_FILE_ACTIVITY;
	ev.file_activity = &f;

	double t0 = cpu_ns();
	long dropped = 0;
	for (long i = 0; i < n; i++) {
		ev.time_unix_nano = 1795699441115846461ull + (uint64_t)i * 1000;
		dropped += petri__audit_emit_event_wait(a, &ev, 1000) == PETRI_AUDIT_DROPPED;
	}
	petri_audit_close(a, NULL); /* waits for the writer: its CPU is in */
	double t = cpu_ns() - t0;
	unlink(path);
	petri__audit_no_fast = 0;
	if (dropped)
		fprintf(stderr, "%ld dropped\n", dropped);
	return t / (double)n;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	int rounds = argc > 2 ? atoi(argv[2]) : 9;
	double t[2][64];

	if (n <= 0 || rounds <= 0 || rounds > 64) {
		fprintf(stderr, "usage: audit_emit_bench [EVENTS [ROUNDS (1..64)]]\n");
		return 2;
	}
	for (int r = 0; r < rounds; r++)
		for (int fast = 0; fast < 2; fast++) {
			t[fast][r] = round_ns(fast, n);
			if (t[fast][r] < 0) {
				fprintf(stderr, "audit_emit_bench: cannot open a stream in /tmp\n");
				return 1;
			}
		}
	double med[2];
	for (int v = 0; v < 2; v++) {
		qsort(t[v], (size_t)rounds, sizeof(double), cmp_double);
		med[v] = rounds % 2 ? t[v][rounds / 2] :
				      (t[v][rounds / 2 - 1] + t[v][rounds / 2]) / 2;
	}
	printf("file event, userspace CPU per event (emit + writer), %d rounds x %ld events:\n",
	       rounds, n);
	printf("  protobuf-c pack:       median %.0f ns, best %.0f ns\n", med[0], t[0][0]);
	printf("  hand-written encoder:  median %.0f ns, best %.0f ns\n", med[1], t[1][0]);
	printf("  protobuf-c / hand-written (medians): %.2f\n", med[0] / med[1]);
	return 0;
}
