/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kaudit_loss.c - kernel losses are real and never silent.
 *
 * The kernel audit is loaded with a one-page ring buffer (a test-only knob),
 * and a child in a cgroup of our own performs an exactly known burst:
 * NOPEN opens of /dev/null and NFORK forks whose children exit at once, then
 * exits itself.  It runs no exec and no other audited syscall, so the
 * stream must hold, per kind:
 *
 *   file_activity:  events + lost == NOPEN
 *   process_fork:   events + lost == NFORK
 *   process_exit:   events + lost == NFORK + 1
 *
 * where "lost" is the sum of the Loss events of that kind, which must equal
 * the kind's `lost` in StreamEnd, whose `written` must equal the events in
 * the stream; total_lost is the sum of every Loss count, lost_unreported 0.
 * The kernel must really have dropped records (a Loss{KERNEL_RINGBUF} with
 * a count > 0 and a kseq window).  Root only; under CI=true a BPF load
 * failure fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel.h"
#include "audit_priv.h"
#include "audit_stream.h"
#include "kaudit_cgroup.h"
#include "petri_test.h"

#define NOPEN 30000
#define NFORK 200
#define RINGBUF_BYTES 4096

/* The burst, in a child born in the cgroup: only open, fork and exit. */
static void burst(void)
{
	for (int i = 0; i < NOPEN; i++) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			_exit(2);
		close(fd);
	}
	for (int i = 0; i < NFORK; i++) {
		pid_t p = fork();
		if (p == 0)
			_exit(0);
		if (p < 0)
			_exit(3);
		while (waitpid(p, NULL, 0) < 0 && errno == EINTR)
			;
	}
	_exit(0);
}

struct kind_tally {
	uint64_t events;     /* in the stream */
	uint64_t lost;       /* sum of its Loss counts (any where) */
	uint64_t lost_kring; /* of which in the kernel ring buffer */
	uint64_t end_written, end_lost;
};

/* One burst, one stream: every check is about the same stream. */
static void test_burst(void)
{
	petri_error *err = NULL;
	struct petri_kaudit *k = kaudit_test_open(RINGBUF_BYTES);
	uint64_t cgid = 0;
	int cgfd = kaudit_test_cgroup("loss", &cgid);

	char path[] = "/tmp/petri-kaudit-loss-XXXXXX";
	/* The default queue: user-queue losses may add to the kernel's; both
	 * must be accounted for. */
	petri_audit *a = kaudit_test_stream(path, 0);
	REQUIRE(petri__kaudit_watch(k, cgid, cgfd, a, "sb-loss", NULL, &err) == 0);

	pid_t pid = kaudit_test_fork(cgfd);
	if (pid == 0)
		burst();
	int st = kaudit_test_wait(pid);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "burst status %d", st);

	CHECK(petri__kaudit_unwatch(k, cgid) == 0);
	uint64_t klost = petri__kaudit_lost(k);
	CHECK(petri_audit_close(a, &err) == 0);
	petri__kaudit_close(k);
	close(cgfd);

	/* Tally the stream per kind. */
	struct kind_tally t[32];
	uint64_t loss_sum = 0, loss_events = 0, total_lost = ~0ull, unreported = ~0ull;
	int saw_end = 0, bad_kseq = 0;
	memset(t, 0, sizeof(t));
	struct audit_events es = audit_read_path(path, 0); /* verified */
	for (size_t x = 0; x < es.n; x++) {
		const Petri__Audit__V1__Event *ev = es.ev[x];
		int kind = (int)ev->body_case;
		if (kind >= 16 && kind < 32)
			t[kind].events++;
		if (kind == PETRI__AUDIT__V1__EVENT__BODY_PROCESS_FORK)
			CHECK(!ev->process_fork->is_thread);
		if (kind == PETRI__AUDIT__V1__EVENT__BODY_FILE_ACTIVITY)
			CHECK(strcmp(ev->file_activity->path, "/dev/null") == 0 &&
			      ev->file_activity->result >= 0);
		if (kind == PETRI__AUDIT__V1__EVENT__BODY_LOSS) {
			const Petri__Audit__V1__Loss *l = ev->loss;
			int lk = (int)l->kind;

			REQUIRE(lk >= 16 && lk < 32);
			CHECK(l->count > 0);
			t[lk].lost += l->count;
			loss_sum += l->count;
			loss_events++;
			if (l->where == PETRI__AUDIT__V1__LOSS__WHERE__WHERE_KERNEL_RINGBUF) {
				t[lk].lost_kring += l->count;
				if (!l->first_kseq || l->last_kseq < l->first_kseq)
					bad_kseq++;
			}
		}
		if (kind == PETRI__AUDIT__V1__EVENT__BODY_STREAM_END) {
			const Petri__Audit__V1__StreamEnd *e = ev->stream_end;

			saw_end = 1;
			for (size_t i = 0; i < e->n_kinds; i++) {
				int kk = (int)e->kinds[i]->kind;
				REQUIRE(kk >= 16 && kk < 32);
				t[kk].end_written = e->kinds[i]->written;
				t[kk].end_lost = e->kinds[i]->lost;
			}
			total_lost = e->total_lost;
			unreported = e->lost_unreported;
		}
	}
	audit_events_free(&es);

	const int fk = PETRI_AUDIT_KIND_FILE_ACTIVITY, pf = PETRI_AUDIT_KIND_PROCESS_FORK,
		  px = PETRI_AUDIT_KIND_PROCESS_EXIT;
	printf("file %llu+%llu (kernel %llu), fork %llu+%llu, exit %llu+%llu; %llu Loss events, "
	       "kernel lost %llu\n",
	       (unsigned long long)t[fk].events, (unsigned long long)t[fk].lost,
	       (unsigned long long)t[fk].lost_kring, (unsigned long long)t[pf].events,
	       (unsigned long long)t[pf].lost, (unsigned long long)t[px].events,
	       (unsigned long long)t[px].lost, (unsigned long long)loss_events,
	       (unsigned long long)klost);

	/* Exact per kind. */
	CHECK(t[fk].events + t[fk].lost == NOPEN);
	CHECK(t[pf].events + t[pf].lost == NFORK);
	CHECK(t[px].events + t[px].lost == NFORK + 1);
	/* Nothing else from the kernel. */
	CHECK(t[PETRI_AUDIT_KIND_PROCESS_EXEC].events + t[PETRI_AUDIT_KIND_PROCESS_EXEC].lost == 0);
	CHECK(t[PETRI_AUDIT_KIND_NETWORK_ACTIVITY].events == 0);
	/* The kernel really dropped, and said so with kseq windows. */
	CHECK_MSG(t[fk].lost_kring > 0, "no kernel loss: the test proves nothing");
	CHECK(bad_kseq == 0);
	CHECK(klost == t[fk].lost_kring + t[pf].lost_kring + t[px].lost_kring);
	/* StreamEnd agrees with the stream, and nothing went unreported. */
	CHECK(saw_end);
	for (int kk = 16; kk < 32; kk++) {
		if (kk == PETRI_AUDIT_KIND_STREAM_END)
			continue; /* StreamEnd counts itself */
		CHECK_MSG(t[kk].end_written == t[kk].events,
			  "kind %d: end written %llu, stream %llu", kk,
			  (unsigned long long)t[kk].end_written, (unsigned long long)t[kk].events);
		CHECK_MSG(t[kk].end_lost == t[kk].lost, "kind %d: end lost %llu, Loss events %llu",
			  kk, (unsigned long long)t[kk].end_lost, (unsigned long long)t[kk].lost);
	}
	CHECK(total_lost == loss_sum);
	CHECK(unreported == 0);

	if (getenv("PETRI_KAUDIT_KEEP"))
		printf("stream kept: %s\n", path);
	else
		unlink(path);
	petri_error_free(err);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(burst),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
