/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_attack_init_fds - the sandbox's own processes (init, and each exec's
 * reaper) hold none of the host's file descriptors.
 *
 * init starts with every fd of the host that is not O_CLOEXEC (executed
 * from its image, the default) or every fd at all (forked, the fallback;
 * ctest runs this test in both modes), so unless it closes them it keeps
 * copies of what the host had open:
 * the host's files, its listening sockets (in the HOST's network
 * namespace), pipes to its log collector, other sandboxes' control sockets.
 * init runs inside the sandbox's namespaces with every capability of the
 * sandbox's user namespace, and each reaper is pid 1 of the namespace the
 * untrusted code runs in.  The code cannot take these fds today (seccomp
 * refuses pidfd_getfd, and ptrace access to pid 1 fails because it has
 * capabilities the code lacks and lives outside its Landlock domain), but
 * any slip in those layers turns them into a way out.  "Nothing of the host
 * that was not granted" should hold for the sandbox's own processes too.
 *
 * The host opens a file (with and without O_CLOEXEC), a TCP listener and a
 * pipe, then creates a sandbox and, while an exec runs, compares every fd of
 * init and of the reaper (by device and inode) with them.
 */
#include "sec_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct held {
	const char *what;
	struct stat st;
};

static int count_leaks(pid_t pid, const char *who, const struct held *h, size_t n)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	struct dirent *de;
	int leaks = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char p[128], link[256] = "";
		struct stat st;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (stat(p, &st) < 0)
			continue;
		ssize_t l = readlink(p, link, sizeof(link) - 1);
		link[l > 0 ? l : 0] = '\0';
		for (size_t i = 0; i < n; i++) {
			if (st.st_dev == h[i].st.st_dev && st.st_ino == h[i].st.st_ino) {
				fprintf(stderr, "%s (pid %d) holds the host's %s as fd %s (%s)\n",
					who, (int)pid, h[i].what, de->d_name, link);
				leaks++;
			}
		}
	}
	closedir(d);
	return leaks;
}

struct exec_thread {
	petri_sandbox *sb;
	struct petri_test_run r;
};

static void *run_sleep(void *arg)
{
	struct exec_thread *t = arg;
	const char *argv[] = {"/bin/sleep", "3", NULL};
	struct sec_exec x = {.argv = argv, .timeout_ms = 20000};
	t->r = sec_exec(t->sb, &x);
	return NULL;
}

static void test_init_fds(void)
{
	char path[] = "/tmp/petri-sec-initfd-XXXXXX";
	int f1 = mkstemp(path);
	int f2 = open(path, O_RDONLY | O_CLOEXEC);
	int lsock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int pfd[2];
	REQUIRE(f1 >= 0 && f2 >= 0 && lsock >= 0 && pipe(pfd) == 0);
	REQUIRE(bind(lsock, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(lsock, 1) == 0);
	struct held h[3] = {{"temporary file", {0}}, {"listening TCP socket", {0}}, {"pipe", {0}}};
	REQUIRE(fstat(f1, &h[0].st) == 0 && fstat(lsock, &h[1].st) == 0 &&
		fstat(pfd[1], &h[2].st) == 0);

	petri_sandbox *sb = sec_sandbox(NULL);
	pid_t init = petri_sandbox_init_pid(sb);
	REQUIRE(init > 0);
	CHECK_MSG(count_leaks(init, "the sandbox's init", h, 3) == 0,
		  "the sandbox's init holds host fds");

	/* While an exec runs: its reaper is init's child. */
	struct exec_thread t = {.sb = sb};
	pthread_t th;
	REQUIRE(pthread_create(&th, NULL, run_sleep, &t) == 0);
	pid_t reaper = 0;
	for (int i = 0; i < 200 && !reaper; i++) {
		char p[128];
		snprintf(p, sizeof(p), "/proc/%d/task/%d/children", (int)init, (int)init);
		char *c = sec_read_host_file(p, NULL);
		if (c && *c)
			reaper = (pid_t)atoi(c);
		free(c);
		if (!reaper)
			usleep(10000);
	}
	CHECK_MSG(reaper > 0, "did not find the exec's reaper");
	if (reaper > 0)
		CHECK_MSG(count_leaks(reaper, "the exec's reaper (pid 1 of the code's namespace)",
				      h, 3) == 0,
			  "the exec's reaper holds host fds");
	pthread_join(th, NULL);
	CHECK(t.r.rc == 0 && t.r.exit_code == 0);
	petri_test_run_free(&t.r);

	petri_sandbox_destroy(sb);
	close(f1);
	close(f2);
	close(lsock);
	close(pfd[0]);
	close(pfd[1]);
	unlink(path);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(init_fds),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
