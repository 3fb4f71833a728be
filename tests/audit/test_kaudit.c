/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kaudit.c - the kernel (eBPF) half of the audit layer, end to end:
 * load the programs, watch a cgroup v2 directory of our own, run real
 * programs in it (sh, cat, touch, rm, mkdir, python3), and decode the stream
 * field by field.  Also: nothing from a process outside the cgroup appears,
 * and a 10,000-open workload yields 10,000 open events (or events + counted
 * losses = 10,000).  Needs root; under CI=true a failure to load BPF fails.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <grp.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include "kernel.h"
#include "audit_priv.h"
#include "audit_stream.h"
#include "kaudit_cgroup.h"
#include "petri_test.h"

#define NOPEN 10000

/* Run @argv in the cgroup; its wait status. */
static int run_in(int cgfd, char *const argv[], pid_t *pid_out)
{
	pid_t pid = kaudit_test_fork(cgfd);
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid_out)
		*pid_out = pid;
	return kaudit_test_wait(pid);
}

static int closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	REQUIRE(fd >= 0);
	REQUIRE(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	REQUIRE(getsockname(fd, (struct sockaddr *)&a, &l) == 0);
	close(fd); /* nobody listens there now */
	return ntohs(a.sin_port);
}

struct seen {
	int exec_sh, exec_sh_argv, exec_cat, open_hostname, open_x, unlink_x, mkdir_d, chmod_d,
		rename_d, rmdir_d, symlink_l, fork_sh, exit_sh, exit_cat, connect, outside;
	uint64_t bulk_opens, file_lost, kernel_lost, events;
	uint32_t sh_pid_host, cat_pid_host;
};

static void check_event(const Petri__Audit__V1__Event *ev, struct seen *s, pid_t sh_pid,
			const char *x, const char *d, const char *l, const char *bulk, int port,
			const char *outside)
{
	const Petri__Audit__V1__Process *p = ev->process;

	s->events++;
	if (p && p->pid_host == (uint32_t)getpid() && ev->body_case >= 22 && ev->body_case <= 26)
		s->outside++;
	switch (ev->body_case) {
	case PETRI__AUDIT__V1__EVENT__BODY_PROCESS_EXEC: {
		const Petri__Audit__V1__ProcessExec *b = ev->process_exec;

		CHECK(strcmp(ev->sandbox_id, "sb-kaudit") == 0);
		if (strcmp(b->filename, "/bin/sh") == 0 && p->pid_host == (uint32_t)sh_pid) {
			s->exec_sh++;
			CHECK(p->pid_inside == p->pid_host); /* no pid namespace here */
			CHECK(p->ppid == (uint32_t)getpid());
			CHECK(strcmp(p->comm, "sh") == 0);
			/* the file the kernel loaded, not the name given */
			char *real = realpath("/bin/sh", NULL);
			CHECK(real && strcmp(p->executable, real) == 0 &&
			      strcmp(b->executable, real) == 0);
			free(real);
			CHECK(b->cwd[0] == '/');
			if (b->n_argv == 3 && strcmp(b->argv[0], "/bin/sh") == 0 &&
			    strcmp(b->argv[1], "-c") == 0 &&
			    strstr(b->argv[2], "cat /etc/hostname"))
				s->exec_sh_argv++;
		}
		if (strcmp(p->comm, "cat") == 0 && b->n_argv == 2 &&
		    strcmp(b->argv[1], "/etc/hostname") == 0) {
			s->exec_cat++;
			s->cat_pid_host = p->pid_host;
			CHECK(p->ppid == (uint32_t)sh_pid);
		}
		break;
	}
	case PETRI__AUDIT__V1__EVENT__BODY_PROCESS_FORK:
		if (p->pid_host == (uint32_t)sh_pid && !ev->process_fork->is_thread &&
		    ev->process_fork->child_pid_host > 0)
			s->fork_sh++;
		break;
	case PETRI__AUDIT__V1__EVENT__BODY_PROCESS_EXIT:
		if (p->pid_host == (uint32_t)sh_pid) {
			s->exit_sh++;
			CHECK(ev->process_exit->exit_code == 3);
			CHECK(ev->process_exit->signal == 0);
		}
		if (strcmp(p->comm, "cat") == 0 && ev->process_exit->exit_code == 0)
			s->exit_cat++;
		break;
	case PETRI__AUDIT__V1__EVENT__BODY_FILE_ACTIVITY: {
		const Petri__Audit__V1__FileActivity *f = ev->file_activity;
		int kf = f->path_source ==
			 PETRI__AUDIT__V1__FILE_ACTIVITY__PATH_SOURCE__PATH_SOURCE_KERNEL_FILE;
		int um = f->path_source ==
			 PETRI__AUDIT__V1__FILE_ACTIVITY__PATH_SOURCE__PATH_SOURCE_USER_MEMORY;

		if (strcmp(f->path, outside) == 0)
			s->outside++;
		if (f->op == PETRI__AUDIT__V1__FILE_ACTIVITY__OP__OP_OPEN &&
		    strcmp(f->path, "/etc/hostname") == 0 && strcmp(p->comm, "cat") == 0) {
			s->open_hostname++;
			CHECK(kf);
			CHECK(f->result >= 0);
			CHECK((f->flags & O_ACCMODE) == O_RDONLY);
			CHECK(strncmp(f->syscall, "open", 4) == 0);
		}
		if (f->op == PETRI__AUDIT__V1__FILE_ACTIVITY__OP__OP_OPEN &&
		    strcmp(f->path, x) == 0 && strcmp(p->comm, "touch") == 0) {
			s->open_x++;
			CHECK(kf);
			CHECK(f->flags & O_CREAT);
		}
		if (f->op == PETRI__AUDIT__V1__FILE_ACTIVITY__OP__OP_UNLINK &&
		    strcmp(f->path, x) == 0) {
			s->unlink_x++;
			CHECK(um);
			CHECK(f->result == 0);
			CHECK(strcmp(p->comm, "rm") == 0);
		}
		if (f->op == PETRI__AUDIT__V1__FILE_ACTIVITY__OP__OP_MKDIR &&
		    strcmp(f->path, d) == 0) {
			s->mkdir_d++;
			CHECK(f->result == 0 && um);
			CHECK((f->mode & 0777) == 0777 || (f->mode & 0777) == 0755);
		}
		if (f->op == PETRI__AUDIT__V1__FILE_ACTIVITY__OP__OP_CHMOD && strstr(f->path, d)) {
			s->chmod_d++;
			CHECK((f->mode & 07777) == 0700);
		}
		if (f->op == PETRI__AUDIT__V1__FILE_ACTIVITY__OP__OP_RENAME &&
		    strcmp(f->path, d) == 0) {
			s->rename_d++;
			CHECK(strncmp(f->path2, d, strlen(d)) == 0 && strstr(f->path2, "2"));
			CHECK(f->path2_source ==
			      PETRI__AUDIT__V1__FILE_ACTIVITY__PATH_SOURCE__PATH_SOURCE_USER_MEMORY);
		}
		if (f->op == PETRI__AUDIT__V1__FILE_ACTIVITY__OP__OP_RMDIR && strstr(f->path, d))
			s->rmdir_d++;
		if (f->op == PETRI__AUDIT__V1__FILE_ACTIVITY__OP__OP_SYMLINK &&
		    strcmp(f->path2, l) == 0) {
			s->symlink_l++;
			CHECK(strcmp(f->path, "target") == 0);
		}
		if (f->op == PETRI__AUDIT__V1__FILE_ACTIVITY__OP__OP_OPEN &&
		    strncmp(f->path, bulk, strlen(bulk)) == 0 && f->path[strlen(bulk)] == '/') {
			s->bulk_opens++;
			CHECK(kf && f->result >= 0);
		}
		break;
	}
	case PETRI__AUDIT__V1__EVENT__BODY_NETWORK_ACTIVITY: {
		const Petri__Audit__V1__NetworkActivity *n = ev->network_activity;

		if (n->op == PETRI__AUDIT__V1__NETWORK_ACTIVITY__OP__OP_CONNECT &&
		    n->port == (uint32_t)port) {
			s->connect++;
			CHECK(n->family == AF_INET);
			CHECK(strcmp(n->address_text, "127.0.0.1") == 0);
			CHECK(n->address.len == 4 && n->address.data[0] == 127 &&
			      n->address.data[3] == 1);
			CHECK(n->protocol == IPPROTO_TCP);
			CHECK(strncmp(p->comm, "python3", 7) == 0);
		}
		break;
	}
	case PETRI__AUDIT__V1__EVENT__BODY_LOSS:
		if (ev->loss->where == PETRI__AUDIT__V1__LOSS__WHERE__WHERE_KERNEL_RINGBUF)
			s->kernel_lost += ev->loss->count;
		if (ev->loss->kind == PETRI__AUDIT__V1__EVENT_KIND__EVENT_KIND_FILE_ACTIVITY)
			s->file_lost += ev->loss->count;
		break;
	default:
		break;
	}
}

/* Degraded mode: without privileges open fails with -EPERM and says why. */
static void check_unprivileged(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct petri_kaudit *k = NULL;
		petri_error *e = NULL;

		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(2);
		int r = petri__kaudit_open(&k, &e);
		const char *m = petri_error_message(e);
		_exit(r == -EPERM && k == NULL && strstr(m, "kernel audit off") ? 0 : 1);
	}
	REQUIRE(pid > 0);
	int st = -1;
	waitpid(pid, &st, 0);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "unprivileged open: status %d", st);
}

/* One case's watched cgroup and its stream. */
struct kt {
	struct petri_kaudit *k;
	int cgfd;
	uint64_t cgid;
	char path[64];
	petri_audit *a;
	petri_audit_stats stats;
};

/* The names the workloads use (this process's pid in each). */
static char x[64], d[64], l[64], bulk[64], outside[80];

static void kt_start(struct kt *t, const char *tag)
{
	petri_error *err = NULL;

	if (geteuid() != 0)
		petri_test_skip("kernel audit needs root");
	snprintf(x, sizeof(x), "/tmp/petri-kaudit-x-%d", (int)getpid());
	snprintf(d, sizeof(d), "/tmp/petri-kaudit-d-%d", (int)getpid());
	snprintf(l, sizeof(l), "/tmp/petri-kaudit-l-%d", (int)getpid());
	snprintf(bulk, sizeof(bulk), "/tmp/petri-kaudit-bulk-%d", (int)getpid());
	snprintf(outside, sizeof(outside), "/tmp/petri-kaudit-outside-%d", (int)getpid());
	/* The whole vmlinux BTF, as on a kernel other than the build's (the
	 * other kernel tests use the build's minimal BTF). */
	petri__kaudit_no_min_btf = 1;
	t->k = kaudit_test_open(0);
	t->cgfd = kaudit_test_cgroup(tag, &t->cgid);
	snprintf(t->path, sizeof(t->path), "/tmp/petri-kaudit-XXXXXX");
	t->a = kaudit_test_stream(t->path, 1u << 16);
	int r = petri__kaudit_watch(t->k, t->cgid, t->cgfd, t->a, "sb-kaudit", NULL, &err);
	if (r)
		fprintf(stderr, "watch: %s\n", petri_error_message(err));
	petri_error_free(err);
	REQUIRE(r == 0);
	CHECK(petri__kaudit_watch(t->k, t->cgid, t->cgfd, t->a, "sb-kaudit", NULL, NULL) ==
	      -EEXIST);
}

/* A process outside the cgroup (this one) makes a file: it must never show
 * up. */
static void touch_outside(void)
{
	int ofd = open(outside, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(ofd >= 0);
	close(ofd);
	unlink(outside);
}

/* Stop watching, close the stream, decode it field by field into @s (the
 * workload's @sh_pid and @port, 0 when it has none), and print what was
 * seen. */
static void kt_finish(struct kt *t, struct seen *s, pid_t sh_pid, int port)
{
	petri_error *err = NULL;

	CHECK(petri__kaudit_unwatch(t->k, t->cgid) == 0);
	CHECK(petri__kaudit_unwatch(t->k, t->cgid) == -ENOENT);
	t->stats.sz = sizeof(t->stats);
	petri_audit_get_stats(t->a, &t->stats);
	CHECK_MSG(petri_audit_close(t->a, &err) == 0, "close: %s", petri_error_message(err));
	petri_error_free(err);
	petri__kaudit_close(t->k);
	close(t->cgfd);

	memset(s, 0, sizeof(*s));
	struct audit_events es = audit_read_path(t->path, 0); /* verified */
	for (size_t i = 0; i < es.n; i++) {
		const Petri__Audit__V1__Event *ev = es.ev[i];
		if (ev->body_case == PETRI__AUDIT__V1__EVENT__BODY_STREAM_HEADER)
			CHECK(ev->stream_header->kernel_audit);
		check_event(ev, s, sh_pid, x, d, l, bulk, port, outside);
	}
	audit_events_free(&es);

	printf("events %llu; exec sh %d (argv %d) cat %d; fork %d; exit sh %d cat %d; open hostname "
	       "%d x %d; unlink %d mkdir %d chmod %d rename %d rmdir %d symlink %d; connect %d; "
	       "outside %d; bulk opens %llu + file losses %llu (kernel losses %llu, user queue "
	       "losses %llu)\n",
	       (unsigned long long)s->events, s->exec_sh, s->exec_sh_argv, s->exec_cat, s->fork_sh,
	       s->exit_sh, s->exit_cat, s->open_hostname, s->open_x, s->unlink_x, s->mkdir_d,
	       s->chmod_d, s->rename_d, s->rmdir_d, s->symlink_l, s->connect, s->outside,
	       (unsigned long long)s->bulk_opens, (unsigned long long)s->file_lost,
	       (unsigned long long)s->kernel_lost, (unsigned long long)t->stats.lost_queue);
	CHECK(s->outside == 0);
	if (getenv("PETRI_KAUDIT_KEEP")) /* to look at it: petri audit cat PATH */
		printf("stream kept: %s\n", t->path);
	else
		unlink(t->path);
}

/* Degraded mode: without privileges open fails with -EPERM and says why. */
static void test_unprivileged(void)
{
	if (geteuid() != 0)
		petri_test_skip("dropping to nobody needs root");
	check_unprivileged();
}

/* sh, cat, touch, rm, mkdir, chmod, mv, rmdir, ln: exec, fork, exit and
 * file events with their fields; and nothing from outside the cgroup. */
static void test_shell(void)
{
	struct kt t;
	struct seen s;
	char script[512];

	kt_start(&t, "shell");
	snprintf(script, sizeof(script),
		 "cat /etc/hostname > /dev/null; touch %s; rm %s; mkdir %s; chmod 700 %s; "
		 "mv %s %s2; rmdir %s2; ln -s target %s; rm %s; exit 3",
		 x, x, d, d, d, d, d, l, l);
	pid_t sh_pid = 0;
	char *sh_argv[] = {"/bin/sh", "-c", script, NULL};
	int st = run_in(t.cgfd, sh_argv, &sh_pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
	touch_outside();
	kt_finish(&t, &s, sh_pid, 0);

	CHECK(s.exec_sh == 1 && s.exec_sh_argv == 1);
	CHECK(s.exec_cat == 1);
	CHECK(s.fork_sh >= 1);
	CHECK(s.exit_sh == 1);
	CHECK(s.exit_cat == 1);
	CHECK(s.open_hostname == 1);
	CHECK(s.open_x >= 1);
	CHECK(s.unlink_x == 1);
	CHECK(s.mkdir_d == 1);
	CHECK(s.chmod_d >= 1);
	CHECK(s.rename_d == 1);
	CHECK(s.rmdir_d == 1);
	CHECK(s.symlink_l == 1);
}

/* python3 connects to a closed port on 127.0.0.1: one connect event. */
static void test_connect(void)
{
	struct kt t;
	struct seen s;
	char py[512];

	kt_start(&t, "connect");
	int port = closed_port();
	snprintf(py, sizeof(py),
		 "import socket\ns = socket.socket()\ns.settimeout(2)\n"
		 "print(s.connect_ex(('127.0.0.1', %d)))\n",
		 port);
	char *py_argv[] = {"/usr/bin/python3", "-c", py, NULL};
	int st = run_in(t.cgfd, py_argv, NULL);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	touch_outside();
	kt_finish(&t, &s, 0, port);
	CHECK(s.connect == 1);
}

/* Every one of 10,000 opens is in the stream, or counted lost. */
static void test_bulk_opens(void)
{
	struct kt t;
	struct seen s;
	char bulkpy[512];

	kt_start(&t, "bulk");
	REQUIRE(mkdir(bulk, 0700) == 0 || errno == EEXIST);
	snprintf(bulkpy, sizeof(bulkpy),
		 "import os\nfor i in range(%d):\n"
		 "    os.close(os.open('%s/f%%d' %% i, os.O_CREAT | os.O_WRONLY, 0o600))\n",
		 NOPEN, bulk);
	char *bulk_argv[] = {"/usr/bin/python3", "-c", bulkpy, NULL};
	int st = run_in(t.cgfd, bulk_argv, NULL);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	kt_finish(&t, &s, 0, 0);

	CHECK(s.bulk_opens <= NOPEN);
	CHECK_MSG(s.bulk_opens == NOPEN || (s.file_lost && s.bulk_opens + s.file_lost >= NOPEN),
		  "bulk opens %llu, file losses %llu", (unsigned long long)s.bulk_opens,
		  (unsigned long long)s.file_lost);
	for (int i = 0; i < NOPEN; i++) {
		char f[96];
		snprintf(f, sizeof(f), "%s/f%d", bulk, i);
		unlink(f);
	}
	rmdir(bulk);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(unprivileged), PETRI_TEST_CASE(shell), PETRI_TEST_CASE(connect),
	PETRI_TEST_CASE(bulk_opens),   {NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
