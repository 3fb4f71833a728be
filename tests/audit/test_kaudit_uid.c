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
		/* Raw syscalls: the child of a raw clone3 of a process with
		 * threads must not use glibc's setresuid(), which signals every
		 * thread glibc believes this process has and waits for them
		 * (forever: the child has only this one). */
		if (uid && (syscall(SYS_setresgid, uid, uid, uid) < 0 ||
			    syscall(SYS_setresuid, uid, uid, uid) < 0))
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

/* Watch a cgroup (map INSIDE_UID -> HOST_UID), run @argv in it as @uid,
 * and check its one exec event carries @want as the uid. */
static void check_exec_uid(uid_t uid, char *const argv[], unsigned want)
{
	struct petri_kaudit *k = kaudit_test_open(0);
	petri_error *err = NULL;
	uint64_t cgid = 0;
	int cgfd = kaudit_test_cgroup("uid", &cgid);

	char path[] = "/tmp/petri-kaudit-uid-XXXXXX";
	petri_audit *a = kaudit_test_stream(path, 0);
	struct petri_kaudit_sandbox sb = {.inside_uid = INSIDE_UID, .host_uid = HOST_UID};
	REQUIRE(petri__kaudit_watch(k, cgid, cgfd, a, "sb-uid", &sb, &err) == 0);

	int st = run_as(cgfd, uid, argv);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	CHECK(petri__kaudit_unwatch(k, cgid) == 0);
	CHECK(petri_audit_close(a, &err) == 0);
	petri__kaudit_close(k);
	close(cgfd);

	int seen = 0;
	struct audit_events es = audit_read_path(path, 0); /* verified */
	for (size_t i = 0; i < es.n; i++) {
		const Petri__Audit__V1__Event *ev = es.ev[i];
		if (ev->body_case == PETRI__AUDIT__V1__EVENT__BODY_PROCESS_EXEC && ev->process &&
		    ev->process_exec->n_argv >= 1 &&
		    strcmp(ev->process_exec->argv[0], argv[0]) == 0) {
			seen++;
			CHECK_MSG(ev->process->uid == want, "%s run as uid %u: uid %u, want %u",
				  argv[0], (unsigned)uid, ev->process->uid, want);
		}
	}
	audit_events_free(&es);
	CHECK_MSG(seen == 1, "%d exec events of %s", seen, argv[0]);
	unlink(path);
	petri_error_free(err);
}

/* Root is not mapped in the sandbox: the overflow uid. */
static void test_unmapped_root(void)
{
	char *as_root[] = {"/bin/true", NULL};
	check_exec_uid(0, as_root, overflow_uid());
}

/* The sandbox's one mapped uid: its inside uid. */
static void test_mapped_uid(void)
{
	char *as_host_uid[] = {"/bin/echo", "mapped", NULL};
	check_exec_uid(HOST_UID, as_host_uid, INSIDE_UID);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(unmapped_root),
	PETRI_TEST_CASE(mapped_uid),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
