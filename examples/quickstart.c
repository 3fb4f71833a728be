/* SPDX-License-Identifier: Apache-2.0 */
/*
 * quickstart.c - the smallest useful host program for libpetri.
 *
 * Creates a context and a Python sandbox, runs code that writes a file in
 * /workspace, runs code again that reads it back (the workspace persists
 * between execs of one sandbox), copies the file out with
 * petri_sandbox_read_file(), and tears everything down.
 *
 * Build: part of the project's CMake build (build/examples/quickstart), or
 *   cc quickstart.c $(pkg-config --cflags --libs libpetri) -o quickstart
 *
 * Exits 0 when every step did what it should, 1 otherwise: ctest runs it.
 */
#include <stdio.h>
#include <string.h>

#include <petri/petri.h>

#define ANSWER "6 x 7 = 42\n"

static const char write_code[] = "with open('/workspace/answer.txt', 'w') as f:\n"
				 "    f.write('%d x %d = %d\\n' % (6, 7, 6 * 7))\n"
				 "print('wrote answer.txt')\n";

static const char read_code[] = "import os\n"
				"print('files:', sorted(os.listdir('.')))\n"
				"print(open('answer.txt').read(), end='')\n";

static int fail(const char *what, int rc, petri_error *err)
{
	fprintf(stderr, "quickstart: %s failed (%d): %s\n", what, rc,
		err ? petri_error_message(err) : "no message");
	petri_error_free(err);
	return 1;
}

static void log_to_stderr(int level, const char *msg, void *userdata)
{
	fprintf(stderr, "libpetri[%d]: %s\n", level, msg);
}

/* Run @code, print what it printed and how it ended.  Returns 0 when it ran
 * and exited 0, with [out] @out holding the result. */
static int run(petri_sandbox *sb, const char *title, const char *code, petri_result **out)
{
	petri_exec_opts opts = PETRI_EXEC_OPTS_INIT;
	petri_result *res = NULL;
	petri_error *err = NULL;
	const char *data;
	size_t len;
	int rc;

	opts.code = code;
	opts.timeout_ms = 10000;
	rc = petri_sandbox_exec(sb, &opts, &res, &err);
	if (rc < 0)
		return fail(title, rc, err);

	printf("--- %s\n", title);
	data = petri_result_stdout(res, &len);
	fwrite(data, 1, len, stdout);
	data = petri_result_stderr(res, &len);
	if (len > 0) {
		printf("[stderr]\n");
		fwrite(data, 1, len, stdout);
	}
	printf("--- ended: reason=%s exit_code=%d signal=%d wall=%.1f ms cpu=%.1f ms\n",
	       petri_reason_name(petri_result_reason(res)), petri_result_exit_code(res),
	       petri_result_signal(res), petri_result_wall_ns(res) / 1e6,
	       petri_result_cpu_ns(res) / 1e6);

	if (petri_result_reason(res) != PETRI_REASON_EXITED || petri_result_exit_code(res) != 0) {
		fprintf(stderr, "quickstart: %s did not exit cleanly\n", title);
		petri_result_free(res);
		return 1;
	}
	*out = res;
	return 0;
}

static int contains(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return 1;
	return 0;
}

int main(void)
{
	petri_ctx_opts ctx_opts = PETRI_CTX_OPTS_INIT;
	petri_sandbox_opts sb_opts = PETRI_SANDBOX_OPTS_INIT;
	petri_ctx *ctx = NULL;
	petri_sandbox *sb = NULL;
	petri_result *res = NULL;
	petri_error *err = NULL;
	void *file = NULL;
	size_t file_len = 0, out_len;
	const char *out;
	int status = 1;
	int rc;

	printf("libpetri %s\n", petri_version());

	ctx_opts.log_fn = log_to_stderr;
	rc = petri_ctx_new(&ctx, &ctx_opts, &err);
	if (rc < 0) {
		fail("petri_ctx_new", rc, err);
		goto out;
	}

	sb_opts.language = "python";
	rc = petri_sandbox_create(ctx, &sb_opts, &sb, &err);
	if (rc < 0) {
		fail("petri_sandbox_create", rc, err);
		goto out;
	}
	printf("sandbox %s (init pid %d on the host)\n", petri_sandbox_id(sb),
	       petri_sandbox_init_pid(sb));

	/* 1. Write a file in the workspace. */
	if (run(sb, "exec 1: write /workspace/answer.txt", write_code, &res) != 0)
		goto out;
	petri_result_free(res);
	res = NULL;

	/* 2. A second exec sees it: state persists within one sandbox. */
	if (run(sb, "exec 2: read it back", read_code, &res) != 0)
		goto out;
	out = petri_result_stdout(res, &out_len);
	if (!contains(out, out_len, ANSWER)) {
		fprintf(stderr, "quickstart: exec 2 did not print the file's content\n");
		goto out;
	}

	/* 3. Copy the file out to the host. */
	rc = petri_sandbox_read_file(sb, "answer.txt", 0, &file, &file_len, &err);
	if (rc < 0) {
		fail("petri_sandbox_read_file", rc, err);
		goto out;
	}
	printf("--- petri_sandbox_read_file(\"answer.txt\"): %zu bytes: %.*s", file_len,
	       (int)file_len, (const char *)file);
	if (file_len != strlen(ANSWER) || memcmp(file, ANSWER, file_len) != 0) {
		fprintf(stderr, "quickstart: answer.txt holds something else than \"%s\"\n",
			"6 x 7 = 42");
		goto out;
	}

	printf("quickstart: OK\n");
	status = 0;
out:
	petri_free(file);
	petri_result_free(res);
	petri_sandbox_destroy(sb);
	petri_ctx_free(ctx);
	return status;
}
