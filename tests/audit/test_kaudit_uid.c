/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kaudit_uid.c - kernel events carry the uid inside the sandbox's user
 * namespace: the sandbox's one mapped uid becomes its inside uid, and any
 * other kernel uid the overflow uid, as the kernel itself shows unmapped ids
 * inside a namespace.  A watched cgroup with the map 1000 -> HOST_UID runs
 * /bin/true as root (unmapped: overflow) and /bin/echo as HOST_UID (mapped:
 * 1000); their exec events are checked.  Root only; under CI=true a kernel
 * audit that does not load fails.
 */
#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel.h"
#include "audit_priv.h"
#include "audit_stream.h"
#include "kaudit_cgroup.h"
#include "petri_test.h"

#define HOST_UID 4242u
#define INSIDE_UID 1000u

/* Run @argv in the cgroup, as @uid; its wait status. */
static int run_as(int cgfd, uid_t uid, char *const argv[])
{
	pid_t pid = kaudit_test_fork(cgfd);
	if (pid == 0) {
		if (uid && (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	return kaudit_test_wait(pid);
}

static unsigned overflow_uid(void)
{
	unsigned ou = 65534;
	FILE *f = fopen("/proc/sys/kernel/overflowuid", "re");
	if (f) {
		if (fscanf(f, "%u", &ou) != 1)
			ou = 65534;
		fclose(f);
	}
	return ou;
}

int main(void)
{
	struct petri_kaudit *k = kaudit_test_open(0);
	petri_error *err = NULL;
	uint64_t cgid = 0;
	int cgfd = kaudit_test_cgroup("uid", &cgid);

	char path[] = "/tmp/petri-kaudit-uid-XXXXXX";
	petri_audit *a = kaudit_test_stream(path, 0);
	struct petri_kaudit_sandbox sb = {.inside_uid = INSIDE_UID, .host_uid = HOST_UID};
	REQUIRE(petri__kaudit_watch(k, cgid, cgfd, a, "sb-uid", &sb, &err) == 0);

	char *as_root[] = {"/bin/true", NULL};
	char *as_host_uid[] = {"/bin/echo", "mapped", NULL};
	int st = run_as(cgfd, 0, as_root);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = run_as(cgfd, HOST_UID, as_host_uid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	CHECK(petri__kaudit_unwatch(k, cgid) == 0);
	CHECK(petri_audit_close(a, &err) == 0);
	petri__kaudit_close(k);
	close(cgfd);

	int seen_root = 0, seen_mapped = 0;
	unsigned ou = overflow_uid();
	struct audit_events es = audit_read_path(path, 0); /* verified */
	for (size_t i = 0; i < es.n; i++) {
		const Petri__Audit__V1__Event *ev = es.ev[i];
		if (ev->body_case == PETRI__AUDIT__V1__EVENT__BODY_PROCESS_EXEC && ev->process &&
		    ev->process_exec->n_argv >= 1) {
			const char *prog = ev->process_exec->argv[0];
			if (strcmp(prog, "/bin/true") == 0) {
				seen_root++;
				CHECK_MSG(ev->process->uid == ou, "root's exec: uid %u, want %u",
					  ev->process->uid, ou);
			} else if (strcmp(prog, "/bin/echo") == 0) {
				seen_mapped++;
				CHECK_MSG(ev->process->uid == INSIDE_UID,
					  "uid %u's exec: uid %u, want %u", HOST_UID,
					  ev->process->uid, INSIDE_UID);
			}
		}
	}
	audit_events_free(&es);
	CHECK(seen_root == 1 && seen_mapped == 1);
	unlink(path);
	petri_error_free(err);
	return petri_test_done();
}
