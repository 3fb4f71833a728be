/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_floor - the floor under `petri run` and bwrap: what the kernel alone
 * charges for a process in the namespaces they both make.
 *
 *   ns_floor [PROGRAM [ARGS...]]
 *
 * clone()s a child into new user, pid, mount, network, UTS, IPC and cgroup
 * namespaces (as `bwrap --unshare-all` does), writes its uid/gid maps as a
 * root host does (one id), and waits for it.  The child execs PROGRAM
 * (nothing else: no mounts, no root filesystem, no /proc, no seccomp, no
 * cgroups) or, without one, just exits.  Exit status: the child's.  Timed
 * side by side with the others by bench/run_vs_bwrap.sh.
 */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char stack[65536] __attribute__((aligned(16)));

struct child {
	int go[2];
	char **argv;
};

static int child_main(void *arg)
{
	struct child *c = arg;
	char b;
	close(c->go[1]);
	if (read(c->go[0], &b, 1) != 1) /* until the maps are written */
		return 126;
	if (!c->argv[0])
		return 0;
	execv(c->argv[0], c->argv);
	return 127;
}

static int write_file(int pid, const char *name, const char *text)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	FILE *f = fopen(path, "we");
	if (!f)
		return -1;
	int r = fputs(text, f) < 0 ? -1 : 0;
	return fclose(f) != 0 ? -1 : r;
}

int main(int argc, char **argv)
{
	struct child c = {.argv = argv + 1};
	(void)argc;
	if (pipe(c.go) < 0)
		return perror("pipe"), 125;
	int pid = clone(child_main, stack + sizeof(stack),
			CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS |
				CLONE_NEWIPC | CLONE_NEWCGROUP | SIGCHLD,
			&c);
	if (pid < 0)
		return perror("clone"), 125;
	close(c.go[0]);
	char map[64];
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)geteuid());
	if (write_file(pid, "uid_map", map) < 0 || write_file(pid, "setgroups", "deny") < 0)
		return perror("uid_map"), 125;
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)getegid());
	if (write_file(pid, "gid_map", map) < 0 || write(c.go[1], "g", 1) != 1)
		return perror("gid_map"), 125;
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return perror("waitpid"), 125;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
