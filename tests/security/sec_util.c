/* SPDX-License-Identifier: Apache-2.0 */
/* sec_util.c - helpers of the attack and fault suites (see sec_util.h). */
#include "sec_util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef SEC_ATTACK_DIR
#error "SEC_ATTACK_DIR must point at tests/security/attacks"
#endif

uint64_t sec_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

char *sec_read_host_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (n + 1 >= cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb)
				abort();
			buf = nb;
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			close(fd);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static char *read_attack(const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", SEC_ATTACK_DIR, name);
	char *s = sec_read_host_file(path, NULL);
	if (!s)
		fprintf(stderr, "cannot read attack %s: %s\n", path, strerror(errno));
	REQUIRE(s != NULL);
	return s;
}

char *sec_attack_source(const char *name)
{
	char *s = read_attack(name);
	size_t n = strlen(name);
	if (n < 3 || strcmp(name + n - 3, ".py") != 0)
		return s;
	/* Python attacks share their helpers (say, blocked, ...). */
	char *common = read_attack("attack_common.py");
	char *both = malloc(strlen(common) + 1 + strlen(s) + 1);
	REQUIRE(both != NULL);
	sprintf(both, "%s\n%s", common, s);
	free(common);
	free(s);
	return both;
}

petri_sandbox *sec_sandbox_in(petri_ctx *ctx, const petri_sandbox_opts *opts)
{
	petri_sandbox *sb = NULL;
	petri_error *e = NULL;
	int r = petri_sandbox_create(ctx, opts, &sb, &e);
	if (r < 0)
		fprintf(stderr, "petri_sandbox_create: %s\n", petri_error_message(e));
	petri_error_free(e);
	REQUIRE(r == 0 && sb);
	return sb;
}

petri_sandbox *sec_sandbox(const petri_sandbox_opts *opts)
{
	return sec_sandbox_in(petri_test_ctx(), opts);
}

struct petri_test_run sec_exec(petri_sandbox *sb, const struct sec_exec *x)
{
	petri_exec_opts o = PETRI_EXEC_OPTS_INIT;
	o.language = x->code ? x->lang : NULL;
	o.code = x->code;
	o.argv = x->argv;
	o.env = x->env;
	o.timeout_ms = x->timeout_ms;
	o.output_kill_bytes = x->output_kill_bytes;
	o.stdout_max = x->stdout_max;
	o.stdin_data = x->stdin_data;
	o.stdin_len = x->stdin_len;
	o.on_output = x->on_output;
	o.userdata = x->userdata;
	o.nofile_max = x->nofile_max;
	return petri_test_exec_opts(sb, &o);
}

struct petri_test_run sec_exec_attack(petri_sandbox *sb, const char *name, const char *const *env,
				      uint64_t timeout_ms)
{
	const char *dot = strrchr(name, '.');
	const char *lang = dot && strcmp(dot, ".py") == 0 ? "python" : "sh";
	char *code = sec_attack_source(name);
	struct sec_exec x = {.lang = lang, .code = code, .env = env, .timeout_ms = timeout_ms};
	struct petri_test_run r = sec_exec(sb, &x);
	free(code);
	return r;
}

void sec_install_binary(petri_sandbox *sb, const char *host_path, const char *name)
{
	size_t len = 0;
	char *bin = sec_read_host_file(host_path, &len);
	if (!bin)
		fprintf(stderr, "cannot read %s: %s\n", host_path, strerror(errno));
	REQUIRE(bin != NULL);
	petri_error *e = NULL;
	int r = petri_sandbox_write_file(sb, name, bin, len, 0755, &e);
	if (r < 0) {
		fprintf(stderr,
			"NOTE: petri_sandbox_write_file(%s): %s; copying it through stdin\n", name,
			petri_error_message(e));
		char script[512];
		snprintf(script, sizeof(script),
			 "cat > '/workspace/%s' && chmod 0755 '/workspace/%s'", name, name);
		const char *argv[] = {"/bin/sh", "-c", script, NULL};
		struct sec_exec x = {
			.argv = argv, .stdin_data = bin, .stdin_len = len, .timeout_ms = 20000};
		struct petri_test_run run = sec_exec(sb, &x);
		if (run.rc != 0 || run.exit_code != 0)
			sec_dump("copy binary through stdin", &run);
		r = run.rc == 0 && run.exit_code == 0 ? 0 : -1;
		petri_test_run_free(&run);
	}
	petri_error_free(e);
	free(bin);
	REQUIRE(r == 0);
}

void sec_dump(const char *what, const struct petri_test_run *r)
{
	fprintf(stderr,
		"--- %s: rc=%d (%s) reason=%s exit=%d signal=%d limits=0x%x wall=%llums "
		"out_total=%llu trunc=%d\n",
		what, r->rc, r->errmsg, petri_reason_name(r->reason), r->exit_code, r->signal,
		r->limits, (unsigned long long)(r->wall_ns / 1000000),
		(unsigned long long)r->out_total, r->out_trunc);
	fprintf(stderr, "--- stdout (%zu bytes):\n%.*s\n--- stderr (%zu bytes):\n%.*s\n---\n",
		r->out_len, (int)(r->out_len > 8192 ? 8192 : r->out_len), r->out, r->err_len,
		(int)(r->err_len > 4096 ? 4096 : r->err_len), r->err);
}

const char *sec_verdict(const char *out, const char *name, char *buf, size_t buflen)
{
	size_t nl = strlen(name);
	for (const char *l = out; l && *l;) {
		const char *end = strchrnul(l, '\n');
		if (strncmp(l, "CHECK ", 6) == 0 && strncmp(l + 6, name, nl) == 0 &&
		    l[6 + nl] == ' ') {
			const char *v = l + 7 + nl;
			size_t n = (size_t)(end - v);
			if (n >= buflen)
				n = buflen - 1;
			memcpy(buf, v, n);
			buf[n] = '\0';
			return buf;
		}
		l = *end ? end + 1 : end;
	}
	return NULL;
}

static int verdict_matches(const char *v, const char *accepted)
{
	const char *a = accepted;
	for (;;) {
		const char *bar = strchrnul(a, '|');
		size_t n = (size_t)(bar - a);
		if (strncmp(v, a, n) == 0 && (v[n] == '\0' || v[n] == ' '))
			return 1;
		if (!*bar)
			return 0;
		a = bar + 1;
	}
}

void sec_expect_at(const char *file, int line, const struct petri_test_run *r, const char *name,
		   const char *accepted)
{
	char buf[1024];
	const char *v = sec_verdict(r->out, name, buf, sizeof(buf));
	if (!v) {
		fprintf(stderr, "%s:%d: CHECK failed: attack reported nothing for '%s' (want %s)\n",
			file, line, name, accepted);
		petri_test_failures++;
	} else if (!verdict_matches(v, accepted)) {
		fprintf(stderr, "%s:%d: CHECK failed: '%s' reported '%s', want %s\n", file, line,
			name, v, accepted);
		petri_test_failures++;
	}
}

/* Is @item (length @n) one of the ','-separated @csv? */
static int csv_has(const char *csv, const char *item, size_t n)
{
	for (const char *c = csv; c && *c;) {
		const char *e = strchrnul(c, ',');
		if ((size_t)(e - c) == n && strncmp(c, item, n) == 0)
			return 1;
		c = *e ? e + 1 : e;
	}
	return 0;
}

void sec_expect_list_at(const char *file, int line, const struct petri_test_run *r,
			const char *name, const char *allowed, const char *required)
{
	char buf[4096];
	const char *v = sec_verdict(r->out, name, buf, sizeof(buf));
	if (!v || strncmp(v, "LIST", 4) != 0 || (v[4] != ' ' && v[4] != '\0')) {
		fprintf(stderr, "%s:%d: CHECK failed: '%s' reported '%s', want a LIST\n", file,
			line, name, v ? v : "(nothing)");
		petri_test_failures++;
		return;
	}
	const char *list = v[4] ? v + 5 : "";
	for (const char *c = list; *c;) {
		const char *e = strchrnul(c, ',');
		if (!csv_has(allowed, c, (size_t)(e - c))) {
			fprintf(stderr, "%s:%d: CHECK failed: '%s' lists '%.*s', allowed only %s\n",
				file, line, name, (int)(e - c), c, allowed);
			petri_test_failures++;
		}
		c = *e ? e + 1 : e;
	}
	for (const char *c = required; c && *c;) {
		const char *e = strchrnul(c, ',');
		if (!csv_has(list, c, (size_t)(e - c))) {
			fprintf(stderr, "%s:%d: CHECK failed: '%s' lacks '%.*s' (got '%s')\n", file,
				line, name, (int)(e - c), c, list);
			petri_test_failures++;
		}
		c = *e ? e + 1 : e;
	}
}

void sec_expect_no_escape_at(const char *file, int line, const struct petri_test_run *r,
			     int need_done)
{
	int done = 0;
	for (const char *l = r->out; *l;) {
		const char *end = strchrnul(l, '\n');
		if (strncmp(l, "CHECK ", 6) == 0 && strstr(l, " ESCAPED") &&
		    strstr(l, " ESCAPED") < end) {
			fprintf(stderr, "%s:%d: CHECK failed: attack escaped: %.*s\n", file, line,
				(int)(end - l), l);
			petri_test_failures++;
		}
		if (end - l == 4 && strncmp(l, "DONE", 4) == 0)
			done = 1;
		l = *end ? end + 1 : end;
	}
	if (need_done && !done) {
		fprintf(stderr, "%s:%d: CHECK failed: the attack did not finish (no DONE line)\n",
			file, line);
		petri_test_failures++;
	}
}

int sec_pid_alive(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	const char *rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

int sec_count_uid_procs(uid_t lo, uid_t hi, pid_t *pids, int max)
{
	DIR *d = opendir("/proc");
	int n = 0;
	if (!d)
		return -1;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		char path[300], line[256];
		snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		int hit = 0, zombie = 0;
		while (fgets(line, sizeof(line), f)) {
			unsigned long u[4];
			if (strncmp(line, "State:", 6) == 0 && strchr(line, 'Z'))
				zombie = 1;
			if (sscanf(line, "Uid: %lu %lu %lu %lu", &u[0], &u[1], &u[2], &u[3]) == 4) {
				for (int i = 0; i < 4; i++)
					if (u[i] >= lo && u[i] <= hi)
						hit = 1;
				break;
			}
		}
		fclose(f);
		(void)zombie; /* a zombie still holds its uid: count it as a leftover too */
		if (hit) {
			if (pids && n < max)
				pids[n] = (pid_t)atoi(de->d_name);
			n++;
		}
	}
	closedir(d);
	return n;
}

int sec_wait_uid_procs_gone(uid_t lo, uid_t hi, int ms)
{
	uint64_t deadline = sec_now_ms() + (uint64_t)ms;
	int n;
	for (;;) {
		n = sec_count_uid_procs(lo, hi, NULL, 0);
		if (n == 0 || sec_now_ms() >= deadline)
			return n;
		usleep(20000);
	}
}

uint32_t sec_private_uid_base(void)
{
	static uint32_t base;
	/* Windows of SEC_PRIVATE_RANGES ranges from 0xc8000000 + one window up;
	 * 222 fit below the last range the library may use (0xfffe0000). */
	if (!base)
		base = 0xc8000000u +
		       (1u + (uint32_t)getpid() % 222u) * (SEC_PRIVATE_RANGES * 0x10000u);
	return base;
}

uid_t sec_private_uid_last(void)
{
	return (uid_t)(sec_private_uid_base() + SEC_PRIVATE_RANGES * 0x10000u - 1);
}

petri_ctx *sec_private_ctx(void)
{
	static petri_ctx *ctx;
	if (!ctx) {
		petri_ctx_opts o = PETRI_CTX_OPTS_INIT;
		petri_error *e = NULL;
		o.host_uid_base = sec_private_uid_base();
		int r = petri_ctx_new(&ctx, &o, &e);
		if (r < 0)
			fprintf(stderr, "petri_ctx_new: %s\n", petri_error_message(e));
		petri_error_free(e);
		REQUIRE(r == 0);
	}
	return ctx;
}

uid_t sec_private_uid(unsigned n)
{
	/* A caller-chosen base gives the sandbox of process-wide serial n the
	 * range base + (n % ranges) * 65536, uid 1000 inside at +1000. */
	return (uid_t)(sec_private_uid_base() + (n % SEC_PRIVATE_RANGES) * 0x10000u + 1000u);
}
