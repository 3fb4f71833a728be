/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kaudit_idle.c - a context with the kernel audit loaded costs the
 * host's syscalls nothing while it watches no sandbox: its sys_enter and
 * sys_exit programs are attached (any syscall tracepoint sends every thread
 * of the host down the slow syscall path) only from the first watched
 * sandbox to the last.  Counts this process's raw tracepoint links to
 * sys_enter/sys_exit: 0 with nothing watched, 2 with one or two sandboxes
 * watched, 0 again after both are destroyed.  Root only; under CI=true a
 * kernel audit that does not load fails.
 */
#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "petri/audit.h"
#include "petri_test.h"

/* Is @id the id of a BPF program this process holds an fd of (not counting
 * @skip_fd: the fd of the link being looked at, whose fdinfo names its
 * program too, whoever made the link)? */
static int our_prog(uint32_t id, int skip_fd)
{
	DIR *d = opendir("/proc/self/fdinfo");
	if (!d)
		return 0;
	struct dirent *de;
	int found = 0;
	while (!found && (de = readdir(d))) {
		char path[300], line[128];
		if (de->d_name[0] == '.' || atoi(de->d_name) == skip_fd)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%s", de->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "prog_id:", 8) == 0 && strtoul(line + 8, NULL, 10) == id)
				found = 1;
		fclose(f);
	}
	closedir(d);
	return found;
}

/* Raw tracepoint links of our programs to sys_enter or sys_exit. */
static int sys_links(void)
{
	uint32_t id = 0;
	int n = 0;
	while (bpf_link_get_next_id(id, &id) == 0) {
		int fd = bpf_link_get_fd_by_id(id);
		if (fd < 0)
			continue;
		char tp[64] = "";
		struct bpf_link_info info;
		memset(&info, 0, sizeof(info));
		info.raw_tracepoint.tp_name = (uint64_t)(uintptr_t)tp;
		info.raw_tracepoint.tp_name_len = sizeof(tp);
		uint32_t len = sizeof(info);
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
		    info.type == BPF_LINK_TYPE_RAW_TRACEPOINT &&
		    (strcmp(tp, "sys_enter") == 0 || strcmp(tp, "sys_exit") == 0) &&
		    our_prog(info.prog_id, fd))
			n++;
		close(fd);
	}
	return n;
}

static petri_sandbox *watched_sandbox(petri_ctx *ctx, petri_audit *a)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.audit = a;
	petri_sandbox *sb = NULL;
	petri_error *e = NULL;
	int r = petri_sandbox_create(ctx, &so, &sb, &e);
	if (r < 0) {
		fprintf(stderr, "create: %s\n", petri_error_message(e));
		exit(1);
	}
	return sb;
}

/* The case's context, kernel audit loaded (else skip; a failure under
 * CI=true), and a stream its sandboxes are watched into. */
static char path[] = "/tmp/petri-kaudit-idle-XXXXXX";
static petri_audit *audit;

static petri_ctx *start(void)
{
	if (geteuid() != 0)
		petri_test_skip("kernel audit needs root");
	petri_ctx *ctx = petri_test_ctx();
	const char *why = NULL;
	if (petri_ctx_kernel_audit(ctx, &why) != 1)
		petri_test_skip(why && *why ? why : "kernel audit did not load");
	int fd = mkstemp(path);
	REQUIRE(fd >= 0);
	close(fd);
	petri_audit_opts ao = PETRI_AUDIT_OPTS_INIT;
	ao.sink = PETRI_AUDIT_SINK_FILE;
	ao.path = path;
	ao.ctx = ctx;
	petri_error *e = NULL;
	REQUIRE(petri_audit_open(&audit, &ao, &e) == 0);
	return ctx;
}

static void finish(void)
{
	REQUIRE(petri_audit_close(audit, NULL) == 0);
	unlink(path);
}

/* Loaded, nothing watched: no syscall links. */
static void test_nothing_watched(void)
{
	start();
	CHECK_MSG(sys_links() == 0, "loaded, nothing watched: %d syscall links", sys_links());
	finish();
}

/* Attached from the first watched sandbox to the last. */
static void test_first_to_last(void)
{
	petri_ctx *ctx = start();
	CHECK_MSG(sys_links() == 0, "loaded, nothing watched: %d syscall links", sys_links());
	petri_sandbox *one = watched_sandbox(ctx, audit);
	CHECK_MSG(sys_links() == 2, "one sandbox watched: %d syscall links", sys_links());
	petri_sandbox *two = watched_sandbox(ctx, audit);
	CHECK_MSG(sys_links() == 2, "two sandboxes watched: %d syscall links", sys_links());
	petri_sandbox_destroy(one);
	CHECK_MSG(sys_links() == 2, "one of two destroyed: %d syscall links", sys_links());
	petri_sandbox_destroy(two);
	CHECK_MSG(sys_links() == 0, "both destroyed: %d syscall links", sys_links());
	finish();
}

/* And again: attaching works after a detach. */
static void test_reattach(void)
{
	petri_ctx *ctx = start();
	petri_sandbox *one = watched_sandbox(ctx, audit);
	CHECK_MSG(sys_links() == 2, "first sandbox watched: %d syscall links", sys_links());
	petri_sandbox_destroy(one);
	CHECK_MSG(sys_links() == 0, "first destroyed: %d syscall links", sys_links());
	petri_sandbox *again = watched_sandbox(ctx, audit);
	CHECK_MSG(sys_links() == 2, "watched again: %d syscall links", sys_links());
	petri_sandbox_destroy(again);
	CHECK_MSG(sys_links() == 0, "destroyed again: %d syscall links", sys_links());
	finish();
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(nothing_watched),
	PETRI_TEST_CASE(first_to_last),
	PETRI_TEST_CASE(reattach),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
