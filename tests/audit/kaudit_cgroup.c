/* SPDX-License-Identifier: Apache-2.0 */
/* kaudit_cgroup.c - see kaudit_cgroup.h. */
#include "kaudit_cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel.h"
#include "petri_test.h"

struct petri_kaudit *kaudit_test_open(uint32_t ringbuf_bytes)
{
	struct petri_kaudit *k = NULL;
	petri_error *err = NULL;
	if (geteuid() != 0)
		petri_test_skip("kernel audit needs root");
	int r = ringbuf_bytes ? petri__kaudit_open_sized(&k, ringbuf_bytes, &err) :
				petri__kaudit_open(&k, &err);
	if (r < 0) {
		char why[512];
		snprintf(why, sizeof(why), "kernel audit: %s", petri_error_message(err));
		petri_test_skip(why);
	}
	petri_error_free(err);
	return k;
}

pid_t kaudit_test_fork(int cgfd)
{
	struct clone_args ca;
	memset(&ca, 0, sizeof(ca));
	ca.flags = CLONE_INTO_CGROUP;
	ca.exit_signal = SIGCHLD;
	ca.cgroup = (uint64_t)cgfd;
	pid_t pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	REQUIRE(pid >= 0);
	return pid;
}

int kaudit_test_wait(pid_t pid)
{
	int st = -1;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

static char cg_path[256];

static void cleanup_cgroup(void)
{
	if (cg_path[0])
		rmdir(cg_path);
}

int kaudit_test_cgroup(const char *tag, uint64_t *id)
{
	const char *roots[] = {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"};
	struct statfs sf;
	struct stat st;

	for (size_t i = 0; i < 2; i++) {
		if (statfs(roots[i], &sf) || sf.f_type != CGROUP2_SUPER_MAGIC)
			continue;
		snprintf(cg_path, sizeof(cg_path), "%s/petri-kaudit-%s-%d", roots[i], tag,
			 (int)getpid());
		if (mkdir(cg_path, 0755) && errno != EEXIST) {
			cg_path[0] = 0;
			break;
		}
		atexit(cleanup_cgroup);
		int fd = open(cg_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st))
			break;
		*id = (uint64_t)st.st_ino;
		return fd;
	}
	petri_test_skip("no writable cgroup v2 hierarchy");
}

petri_audit *kaudit_test_stream(char *path, uint32_t queue_events)
{
	int fd = mkstemp(path);
	REQUIRE(fd >= 0);
	close(fd);
	petri_audit_opts ao = PETRI_AUDIT_OPTS_INIT;
	ao.sink = PETRI_AUDIT_SINK_FILE;
	ao.path = path;
	ao.kernel_audit = 1;
	if (queue_events)
		ao.queue_events = queue_events;
	petri_audit *a = NULL;
	petri_error *err = NULL;
	int r = petri_audit_open(&a, &ao, &err);
	if (r < 0)
		fprintf(stderr, "petri_audit_open: %s\n", petri_error_message(err));
	REQUIRE(r == 0);
	return a;
}
