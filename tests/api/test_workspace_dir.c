/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_workspace_dir - petri_sandbox_opts.workspace_dir is "a host dir bound
 * read-write at /workspace" (petri.h), for an ordinary host directory: one
 * made with mkdir by the host user (here root), mode 0755.
 *  - files the host put there are visible inside;
 *  - the sandboxed code can create and change files there, and they appear
 *    on the host owned by the directory's owner;
 *  - petri_sandbox_write_file / read_file work on it;
 *  - destroy leaves the host directory and its files in place.
 */
#include <sys/stat.h>

#include "api_common.h"

static char dir[64];

static char *host_read(const char *name)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "re");
	if (!f)
		return NULL;
	char *buf = calloc(1, 4096);
	size_t n = fread(buf, 1, 4095, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

int main(void)
{
	api_watchdog(40);
	snprintf(dir, sizeof(dir), "/tmp/petri-wsdir-XXXXXX");
	REQUIRE(mkdtemp(dir));
	REQUIRE(chmod(dir, 0755) == 0); /* what mkdir(1) makes with umask 022 */
	char p[256];
	snprintf(p, sizeof(p), "%s/from_host.txt", dir);
	FILE *f = fopen(p, "we");
	REQUIRE(f);
	fputs("host data\n", f);
	fclose(f);

	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.workspace_dir = dir;
	API_STEP("create a sandbox with workspace_dir %s", dir);
	petri_sandbox *sb = api_sandbox(&so);

	/* 1. Host files are visible. */
	petri_result *r = API_SH(sb, "cat /workspace/from_host.txt");
	CHECK_OUT(r, PETRI_STREAM_STDOUT, "host data\n");
	petri_result_free(r);

	API_STEP("exec: the code writes to /workspace");
	/* 2. The code writes; the host sees it. */
	r = API_SH(sb,
		   "echo from code > /workspace/from_code.txt && mkdir -p sub && echo x > sub/y");
	char *err = api_out_str(r, PETRI_STREAM_STDERR);
	CHECK_MSG(petri_result_exit_code(r) == 0,
		  "the code cannot write to its read-write workspace %s (mode 0755, owner uid %d): "
		  "%s",
		  dir, (int)getuid(), err);
	free(err);
	petri_result_free(r);
	char *s = host_read("from_code.txt");
	CHECK_MSG(s && strcmp(s, "from code\n") == 0, "host sees from_code.txt as '%s'",
		  s ? s : "(missing)");
	free(s);
	/* ... owned by the directory's owner, not by an id no host user has. */
	struct stat fst;
	snprintf(p, sizeof(p), "%s/from_code.txt", dir);
	if (stat(p, &fst) == 0)
		CHECK_MSG(fst.st_uid == getuid() && fst.st_gid == getgid(),
			  "a file the code made in the workspace is owned by %u:%u on the host, "
			  "not by the directory's owner %u:%u",
			  (unsigned)fst.st_uid, (unsigned)fst.st_gid, (unsigned)getuid(),
			  (unsigned)getgid());

	/* 3. write_file / read_file. */
	API_STEP("write_file / read_file");
	petri_error *e = NULL;
	int rc = petri_sandbox_write_file(sb, "api/written.txt", "via api\n", 8, 0644, &e);
	CHECK_MSG(rc == 0, "write_file into workspace_dir: %s", petri_error_message(e));
	petri_error_free(e);
	s = host_read("api/written.txt");
	CHECK_MSG(s && strcmp(s, "via api\n") == 0, "host sees api/written.txt as '%s'",
		  s ? s : "(missing)");
	free(s);
	e = NULL;
	void *data = NULL;
	size_t len = 0;
	rc = petri_sandbox_read_file(sb, "from_host.txt", 0, &data, &len, &e);
	CHECK_MSG(rc == 0 && len == 10 && memcmp(data, "host data\n", 10) == 0,
		  "read_file from workspace_dir: %d %s", rc, petri_error_message(e));
	petri_free(data);
	petri_error_free(e);

	API_STEP("destroy");
	/* 4. Destroy does not take the host's directory with it. */
	petri_sandbox_destroy(sb);
	s = host_read("from_host.txt");
	CHECK_MSG(s && strcmp(s, "host data\n") == 0,
		  "destroy removed or changed the host's files");
	free(s);
	struct stat st;
	CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));

	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	petri_ctx_free(petri_test_ctx());
	return petri_test_done();
}
