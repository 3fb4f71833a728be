/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exec.c - running one command in a sandbox, host side: validate the
 * request, ship it to init with the stdio pipes, pump stdin/stdout/stderr
 * with bounded capture, enforce the wall timeout and output limit, and turn
 * what happened into a result with a precise reason.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "host.h"
#include "net/vault.h"

#define MAX_ARG_BYTES (1u << 20)
#define MAX_ARGS 4096
#define MAX_CODE_BYTES (8u << 20)

static const char *const default_env[] = {
	"PATH=/usr/local/bin:/usr/bin:/bin",
	"HOME=/home/sandbox",
	"LANG=C.UTF-8",
	"TMPDIR=/tmp",
	"USER=sandbox",
	"LOGNAME=sandbox",
	"SHELL=/bin/sh",
	NULL,
}; /* then each language's (lang.c) */

/* PETRI_NET_PROXY: the way out is the host's proxy on the sandbox's own
 * loopback (net/net.h); defaults the sandbox's and the exec's env override. */
static const char *const proxy_env[] = {
	"HTTP_PROXY=http://127.0.0.1:3128",
	"HTTPS_PROXY=http://127.0.0.1:3128",
	"http_proxy=http://127.0.0.1:3128",
	"https_proxy=http://127.0.0.1:3128",
	"NO_PROXY=localhost,127.0.0.1,::1",
	"no_proxy=localhost,127.0.0.1,::1",
	NULL,
};

/* A sandbox with secrets (TenantVault): every TLS client trusts the
 * sandbox's bundle (the system's CAs and the vault's CA, init/mounts.c);
 * node adds the CA alone (a whole bundle would double its start), or the
 * bundle in a custom root, which has no /etc/petri (a missing file would
 * be a warning on every node start). */
static const char *const vault_env[] = {
	"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
	"REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt",
	"CURL_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt",
	"GIT_SSL_CAINFO=/etc/ssl/certs/ca-certificates.crt",
	NULL,
};
#define VAULT_NODE_CA "NODE_EXTRA_CA_CERTS=/etc/petri/vault-ca.pem"
#define VAULT_NODE_CA_CUSTOM_ROOT "NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt"

PETRI_API void petri_exec_opts_init(petri_exec_opts *opts)
{
	if (opts)
		*opts = (petri_exec_opts)PETRI_EXEC_OPTS_INIT;
}

/* ---- the request ---- */

struct strbuf {
	char *p;
	size_t len, cap;
};

static int sb_add(struct strbuf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->len + n)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np)
			return -ENOMEM;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

static int sb_add_str(struct strbuf *b, const char *s)
{
	return sb_add(b, s, strlen(s) + 1);
}

/* Is "K=..." overridden by a later list? */
static int env_key_in(const char *kv, const char *const *list)
{
	size_t k = (size_t)(strchr(kv, '=') - kv);
	for (; list && *list; list++)
		if (strncmp(*list, kv, k + 1) == 0)
			return 1;
	return 0;
}

static int check_strv(const char *what, const char *const *v, int is_env, size_t *bytes,
		      petri_error **err)
{
	size_t n = 0;
	for (; v && v[n]; n++) {
		if (n >= MAX_ARGS)
			return petri__err(err, E2BIG, "%s: more than %d entries", what, MAX_ARGS);
		size_t l = strlen(v[n]);
		*bytes += l + 1;
		if (*bytes > MAX_ARG_BYTES)
			return petri__err(err, E2BIG, "%s: longer than %u bytes in all", what,
					  MAX_ARG_BYTES);
		if (is_env) {
			const char *eq = strchr(v[n], '=');
			if (!eq || eq == v[n])
				return petri__err(err, EINVAL, "%s entry '%.64s': expected K=V",
						  what, v[n]);
		}
	}
	return 0;
}

/*
 * The limits of an exec: the caller's, else the defaults.  Without an
 * explicit CPU limit, one no process can reach before the wall timeout
 * (every CPU busy for the whole time, plus a second), so that a busy loop
 * ends as "timeout", not in a race with SIGXCPU.
 */
static void exec_limits(struct petri_exec_limits *l, const petri_sandbox *sb,
			const petri_exec_opts *o)
{
	memset(l, 0, sizeof(*l));
	l->timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	if (o->cpu_ms) {
		l->cpu_ms = o->cpu_ms;
	} else {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		l->cpu_ms = l->timeout_ms * (uint64_t)(ncpu > 0 ? ncpu : 1) + 1000;
	}
	l->cpu_s = (l->cpu_ms + 999) / 1000;
	l->output_max[0] = o->stdout_max ? o->stdout_max : DEFAULT_OUTPUT_MAX;
	l->output_max[1] = o->stderr_max ? o->stderr_max : DEFAULT_OUTPUT_MAX;
	l->output_kill_bytes = o->output_kill_bytes ? o->output_kill_bytes : DEFAULT_OUTPUT_KILL;
	l->file_size_max = o->file_size_max ? o->file_size_max : DEFAULT_FSIZE;
	l->nofile_max = o->nofile_max ? o->nofile_max : DEFAULT_NOFILE;
	/* Without a cgroup, RLIMIT_NPROC (per uid) is the best pids bound there is. */
	l->nproc = sb->ctx->cgroups.mode == PETRI_CGROUP_NONE ? sb->pids_max : 0;
	l->memory_bytes = sb->memory_bytes;
	l->pids_max = sb->pids_max;
}

/* Add "K=V" unless a later list (the sandbox's, the exec's) overrides it. */
static int add_env(struct strbuf *b, const char *kv, const char *const *later1,
		   const char *const *later2, uint32_t *envc)
{
	if (env_key_in(kv, later1) || env_key_in(kv, later2))
		return 0;
	(*envc)++;
	return sb_add_str(b, kv);
}

static int build_request(petri_sandbox *sb, const petri_exec_opts *o,
			 const struct petri_exec_limits *lim, int *memfd_out, petri_error **err)
{
	struct petri_exec_req req = {.magic = PETRI_EXEC_REQ_MAGIC};
	_cleanup_free_ char *buf = NULL;
	struct strbuf b = {0};
	const struct petri_lang *lang = NULL;
	const char *const *sb_env = (const char *const *)sb->env;
	size_t bytes = 0;
	int r;

	if ((r = check_strv("argv", o->argv, 0, &bytes, err)) < 0 ||
	    (r = check_strv("args", o->args, 0, &bytes, err)) < 0 ||
	    (r = check_strv("env", o->env, 1, &bytes, err)) < 0)
		return r;
	if (o->code || o->code_file) {
		const char *ln = o->language ? o->language : sb->language;
		if (!ln || !*ln)
			return petri__err(err, EINVAL, "exec: code given but no language set");
		if (!(lang = petri__lang_find(ln, err)))
			return -EINVAL;
	} else if (o->language && !petri__lang_find(o->language, err)) {
		return -EINVAL;
	}
	if (o->code) {
		req.code_len = strlen(o->code);
		if (req.code_len > MAX_CODE_BYTES)
			return petri__err(err, E2BIG, "exec: code is larger than %u bytes",
					  MAX_CODE_BYTES);
		snprintf(req.code_name, sizeof(req.code_name), "%s", lang->file);
	}
	if (o->cwd && (o->cwd[0] != '/' || strlen(o->cwd) >= PETRI_PATH_MAX))
		return petri__err(err, EINVAL, "exec: cwd must be an absolute path");

	req.cpu_s = lim->cpu_s;
	req.fsize = lim->file_size_max;
	req.nofile = lim->nofile_max;
	req.nproc = lim->nproc;

	/* argv: the language's prefix, the source file and the code's args;
	 * or the caller's argv. */
	if (lang) {
		char path[64];
		snprintf(path, sizeof(path), "/run/petri/%s", lang->file);
		for (const char *const *a = lang->argv; *a; a++, req.argc++)
			r = r < 0 ? r : sb_add_str(&b, *a);
		r = r < 0 ? r : sb_add_str(&b, o->code_file ? o->code_file : path);
		req.argc++;
		for (const char *const *a = o->args; a && *a; a++, req.argc++)
			r = r < 0 ? r : sb_add_str(&b, *a);
	}
	for (const char *const *a = o->argv; a && *a; a++, req.argc++)
		r = r < 0 ? r : sb_add_str(&b, *a);
	if (req.argc == 0)
		return petri__err(err, EINVAL, "exec: neither argv nor code given");

	/* env: defaults (and the proxy's) < the languages' < the vault's
	 * (placeholders, CA bundle) < sandbox env < exec env (later wins: a
	 * caller may set NAME to something else; the value itself is never
	 * put anywhere, only its placeholder). */
	for (const char *const *e = default_env; *e; e++)
		r = r < 0 ? r : add_env(&b, *e, sb_env, o->env, &req.envc);
	for (const char *const *e = proxy_env; sb->net == PETRI_NET_PROXY && *e; e++)
		r = r < 0 ? r : add_env(&b, *e, sb_env, o->env, &req.envc);
	const struct petri_lang *l;
	for (size_t i = 0; (l = petri__lang_at(i)); i++)
		for (const char *const *e = l->env; *e; e++)
			r = r < 0 ? r : add_env(&b, *e, sb_env, o->env, &req.envc);
	for (const char *const *e = vault_env; sb->vault && *e; e++)
		r = r < 0 ? r : add_env(&b, *e, sb_env, o->env, &req.envc);
	if (sb->vault)
		r = r < 0 ? r :
			    add_env(&b, sb->custom_root ? VAULT_NODE_CA_CUSTOM_ROOT : VAULT_NODE_CA,
				    sb_env, o->env, &req.envc);
	for (size_t i = 0; sb->vault && i < petri__vault_count(sb->vault); i++) {
		char kv[128]; /* name <= 64, placeholder PETRI_VAULT_TOKEN_LEN */
		snprintf(kv, sizeof(kv), "%s=%s", petri__vault_name(sb->vault, i),
			 petri__vault_placeholder(sb->vault, i));
		r = r < 0 ? r : add_env(&b, kv, sb_env, o->env, &req.envc);
	}
	for (const char *const *e = sb_env; *e; e++)
		r = r < 0 ? r : add_env(&b, *e, o->env, NULL, &req.envc);
	for (const char *const *e = o->env; e && *e; e++, req.envc++)
		r = r < 0 ? r : sb_add_str(&b, *e);
	r = r < 0 ? r : sb_add_str(&b, o->cwd ? o->cwd : "/workspace");
	if (o->code)
		r = r < 0 ? r : sb_add(&b, o->code, req.code_len);
	buf = b.p;
	if (r < 0)
		return petri__err(err, r, "exec request");

	_cleanup_close_ int fd = memfd_create("petri-exec", MFD_CLOEXEC);
	if (fd < 0)
		return petri__err(err, errno, "memfd_create");
	struct iovec iov[2] = {{&req, sizeof(req)}, {buf, b.len}};
	size_t total = sizeof(req) + b.len;
	ssize_t w = pwritev(fd, iov, 2, 0);
	if (w != (ssize_t)total) {
		/* pwritev on a memfd writes everything or fails */
		return petri__err(err, w < 0 ? errno : EIO, "write exec request");
	}
	*memfd_out = TAKE_FD(fd);
	return 0;
}

/* ---- output capture ---- */

struct pump {
	petri_result *res;
	const struct petri_exec_limits *lim;
	petri_output_fn on_output;
	void *userdata;
	int killed_by_callback;
	int over_limit;
	/* TenantVault: stdout's and stderr's scrubbers (NULL: no secrets), so
	 * no value reaches the caller, however the output is cut. */
	struct petri_vault_scrub *scrub[2];
	struct pump_stream {
		struct pump *p;
		int idx;
	} stream[2];
};

/* Output as the caller sees it (scrubbed when the sandbox has secrets):
 * the streaming callback, and the buffer up to its cap. */
static int deliver(struct pump *p, int idx, const char *data, size_t n)
{
	petri_result *res = p->res;
	if (p->on_output && !p->killed_by_callback) {
		if (p->on_output(idx + 1, data, n, p->userdata) != 0)
			p->killed_by_callback = 1;
	}
	uint64_t cap = p->lim->output_max[idx];
	size_t room = cap > res->out_len[idx] ? cap - res->out_len[idx] : 0;
	size_t take = n < room ? n : room;
	if (take < n)
		res->truncated[idx] = 1;
	if (take) {
		if (res->out_len[idx] + take > res->out_cap[idx]) {
			size_t nc = res->out_cap[idx] ? res->out_cap[idx] * 2 : 16384;
			while (nc < res->out_len[idx] + take)
				nc *= 2;
			if (nc > cap)
				nc = cap;
			char *np = realloc(res->out[idx], nc + 1);
			if (!np)
				return -ENOMEM;
			res->out[idx] = np;
			res->out_cap[idx] = nc;
		}
		memcpy(res->out[idx] + res->out_len[idx], data, take);
		res->out_len[idx] += take;
		res->out[idx][res->out_len[idx]] = '\0';
	}
	return 0;
}

static int deliver_scrubbed(void *arg, const char *data, size_t n)
{
	struct pump_stream *s = arg;
	return deliver(s->p, s->idx, data, n);
}

/* @n raw bytes read from stdout (0) or stderr (1): the limits count them
 * as they came; the caller gets them through the scrubber. */
static int capture(struct pump *p, int idx, const char *data, size_t n)
{
	petri_result *res = p->res;
	res->out_total[idx] += n;
	int r = p->scrub[idx] ? petri__vault_scrub_feed(p->scrub[idx], data, n, deliver_scrubbed,
							&p->stream[idx]) :
				deliver(p, idx, data, n);
	if (res->out_total[0] + res->out_total[1] > p->lim->output_kill_bytes)
		p->over_limit = 1;
	return r;
}

/* The stream's end: what its scrubber held back goes out (once). */
static int capture_end(struct pump *p, int idx)
{
	if (!p->scrub[idx])
		return 0;
	int r = petri__vault_scrub_end(p->scrub[idx], deliver_scrubbed, &p->stream[idx]);
	petri__vault_scrub_free(p->scrub[idx]);
	p->scrub[idx] = NULL;
	return r;
}

/* ---- the exec ---- */

static void send_kill(petri_sandbox *sb)
{
	struct petri_msg m = {.type = PETRI_MSG_KILL, .exec_id = sb->exec_serial};
	petri__msg_send(sb->ctl_fd, &m, NULL, 0);
}

static void mark_dead(petri_sandbox *sb)
{
	sb->dead = 1;
}

static int start(petri_sandbox *sb, int memfd, int stdio[3], int report, uint32_t flags,
		 petri_error **err)
{
	struct petri_msg m = {.type = PETRI_MSG_EXEC,
			      .stage = ((flags & PETRI_EXEC_LAST) ? PETRI_EXEC_STAGE_LAST : 0) |
				       (sb->pool >= 0 ? PETRI_EXEC_STAGE_DEFER_WARM : 0),
			      .exec_id = sb->exec_serial};
	int fds[5] = {memfd, stdio[0], stdio[1], stdio[2], report};
	int r = petri__msg_send(sb->ctl_fd, &m, fds, 5);
	if (r < 0) {
		mark_dead(sb);
		return petri__err(err, ESRCH, "sandbox %s is no longer running", sb->id);
	}
	return 0;
}

static uint32_t reason_and_flags(petri_result *res, const struct petri_msg *done,
				 const struct petri_cgroup_stats *before,
				 const struct petri_cgroup_stats *after,
				 const struct petri_exec_limits *lim, int timed_out, int cancelled,
				 int output_killed)
{
	int st = done->status;
	uint32_t hit = 0;
	if (done->err == -1) {
		/* Our kill took the whole exec down: its own status is lost. */
		res->exit_code = -1;
		res->signal = SIGKILL;
	} else if (WIFEXITED(st)) {
		res->exit_code = WEXITSTATUS(st);
		res->signal = 0;
	} else {
		res->exit_code = -1;
		res->signal = WTERMSIG(st);
	}
	if (after->oom_kills > before->oom_kills)
		hit |= PETRI_LIMIT_MEMORY;
	if (after->pids_max_hits > before->pids_max_hits)
		hit |= PETRI_LIMIT_PIDS;
	if (res->truncated[0] || res->truncated[1] || output_killed)
		hit |= PETRI_LIMIT_OUTPUT;
	if (timed_out)
		hit |= PETRI_LIMIT_TIMEOUT;
	/* SIGXCPU is the CPU limit only when the CPU time was spent: a program
	 * that sends it to itself must not read as having hit the limit.  The
	 * kernel checks RLIMIT_CPU against the tick-sampled user + system time,
	 * cpu_ns is the scheduler's exact runtime: under load the first runs
	 * ahead (measured: SIGXCPU at 0.958 s for a 1 s limit), so half the
	 * limit is the bar (test_results_reasons checks the same). */
	if ((res->signal == SIGXCPU && 2 * res->cpu_ns >= lim->cpu_s * 1000000000ull) ||
	    (res->signal == SIGKILL && !timed_out && !cancelled && !(hit & PETRI_LIMIT_MEMORY) &&
	     res->cpu_ns >= lim->cpu_s * 1000000000ull))
		hit |= PETRI_LIMIT_CPU;
	if (res->signal == SIGXFSZ)
		hit |= PETRI_LIMIT_FILE_SIZE;

	int failed = res->exit_code != 0;
	if (hit & PETRI_LIMIT_MEMORY && failed)
		res->reason = PETRI_REASON_MEMORY;
	else if (cancelled)
		res->reason = PETRI_REASON_KILLED;
	else if (output_killed)
		res->reason = PETRI_REASON_OUTPUT_LIMIT;
	else if (hit & PETRI_LIMIT_PIDS && failed)
		res->reason = PETRI_REASON_PIDS;
	else if (timed_out)
		res->reason = PETRI_REASON_TIMEOUT;
	else if (hit & PETRI_LIMIT_CPU)
		res->reason = PETRI_REASON_CPU;
	else if (hit & PETRI_LIMIT_FILE_SIZE)
		res->reason = PETRI_REASON_FILE_SIZE;
	else if (res->signal == SIGSYS)
		res->reason = PETRI_REASON_SECCOMP;
	else if (res->signal)
		res->reason = PETRI_REASON_SIGNALED;
	else
		res->reason = PETRI_REASON_EXITED;
	return hit;
}

static int setup_error(petri_sandbox *sb, const struct petri_msg *done, petri_error **err)
{
	char text[PETRI_STAGE_MSG_MAX];
	memcpy(text, done->text, sizeof(text));
	text[sizeof(text) - 1] = '\0';
	int e = done->err > 0 ? done->err : EIO;
	return petri__err(err, e, "sandbox %s: %s", sb->id, text);
}

struct io {
	int in, out, err, report;
	const char *stdin_data;
	uint64_t stdin_left;
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/*
 * The reaper's report channel: a SOCK_SEQPACKET pair (one message per
 * petri_msg, EOF when the reaper is gone, like the pipe it replaced) whose
 * host end has SO_PASSCRED, so that a DENIAL carries the denying task's pid
 * translated by the kernel into our pid namespace (init.c: send_denial).
 */
static int make_report_channel(int fds[2])
{
	int on = 1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
		return -errno;
	if (setsockopt(fds[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0) {
		int e = errno;
		close_fd(&fds[0]);
		close_fd(&fds[1]);
		return -e;
	}
	return 0;
}

/*
 * Pump until the exec's report channel and both output pipes are at EOF.  The
 * reaper writes its DONE (or a SETUP_ERROR) to the report channel and exits;
 * EOF there means the exec's pid namespace is going away.
 */
/* How long the pump leaves the output pipes unread after sending a kill,
 * at most (pump_loop). */
#define HOLD_MAX_NS (2ull * 1000000000)

static int pump_loop(petri_sandbox *sb, struct io *io, struct pump *p, uint64_t deadline,
		     struct petri_msg *done, struct petri_msg *setup, int *timed_out,
		     int *cancelled, petri_error **err)
{
	int have_done = 0, kill_sent = 0;
	uint64_t hold_until = 0;
	char buf[65536];

	while (io->report >= 0 || io->out >= 0 || io->err >= 0) {
		struct pollfd pfd[5];
		int n = 0, i_ctl, i_cancel, i_out = -1, i_err = -1, i_in = -1;
		i_ctl = n;
		pfd[n++] = (struct pollfd){.fd = io->report, .events = POLLIN};
		i_cancel = n;
		pfd[n++] = (struct pollfd){.fd = sb->cancel_fd, .events = POLLIN};
		/* Once a kill is on its way, the output pipes are not read
		 * until the reaper reports or the writers are gone (POLLHUP,
		 * which poll reports unasked): a writer that fills them
		 * blocks, so what it writes after the decision is at most a
		 * pipe's worth, however long the kill takes to land.  The
		 * reaper's report channel may close before the command dies
		 * (a killed reaper closes its files first), so that alone does
		 * not end the hold; HOLD_MAX_NS bounds it in case a writer
		 * outlives the kill. */
		uint64_t now = petri__now_ns();
		int hold = kill_sent && !have_done && now < hold_until;
		short out_events = hold ? 0 : POLLIN;
		if (io->out >= 0) {
			i_out = n;
			pfd[n++] = (struct pollfd){.fd = io->out, .events = out_events};
		}
		if (io->err >= 0) {
			i_err = n;
			pfd[n++] = (struct pollfd){.fd = io->err, .events = out_events};
		}
		if (io->in >= 0) {
			i_in = n;
			pfd[n++] = (struct pollfd){.fd = io->in, .events = POLLOUT};
		}
		int wait_ms = -1;
		if (!kill_sent)
			wait_ms = now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
		else if (hold)
			wait_ms = (int)((hold_until - now + 999999) / 1000000);
		int rc = poll(pfd, (nfds_t)n, wait_ms);
		if (rc < 0 && errno != EINTR)
			return petri__err(err, errno, "poll");

		if (!kill_sent && petri__now_ns() >= deadline) {
			/* After DONE the command has ended by itself: the kill
			 * only hurries the rest of its pid namespace along. */
			if (!have_done)
				*timed_out = 1;
			send_kill(sb);
			kill_sent = 1;
			hold_until = petri__now_ns() + HOLD_MAX_NS;
		}
		if (rc <= 0)
			continue;
		if (pfd[i_cancel].revents & POLLIN) {
			uint64_t v;
			/* Only a cancel aimed at this exec counts: one that raced
			 * with the end of the previous exec is drained here. */
			if (read(sb->cancel_fd, &v, sizeof(v)) > 0 && !kill_sent && !have_done &&
			    __atomic_load_n(&sb->cancel_for, __ATOMIC_ACQUIRE) == sb->exec_serial) {
				*cancelled = 1;
				send_kill(sb);
				kill_sent = 1;
				hold_until = petri__now_ns() + HOLD_MAX_NS;
			}
		}
		int idx_fds[2] = {i_out, i_err};
		int *fdp[2] = {&io->out, &io->err};
		for (int s = 0; s < 2; s++) {
			if (idx_fds[s] < 0 ||
			    !(pfd[idx_fds[s]].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t r = read(*fdp[s], buf, sizeof(buf));
			if (r > 0) {
				if (capture(p, s, buf, (size_t)r) < 0)
					return petri__err(err, ENOMEM, "capture output");
			} else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
				close_fd(fdp[s]);
				if (capture_end(p, s) < 0)
					return petri__err(err, ENOMEM, "capture output");
			}
		}
		if ((p->over_limit || p->killed_by_callback) && !kill_sent && !have_done) {
			send_kill(sb);
			kill_sent = 1;
			hold_until = petri__now_ns() + HOLD_MAX_NS;
		}
		if (i_in >= 0 && (pfd[i_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
			size_t chunk = io->stdin_left > 65536 ? 65536 : (size_t)io->stdin_left;
			/* The code may close stdin early: no SIGPIPE for the host. */
			sigset_t pipe_set, old;
			sigemptyset(&pipe_set);
			sigaddset(&pipe_set, SIGPIPE);
			pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
			ssize_t w = chunk ? write(io->in, io->stdin_data, chunk) : 0;
			int werr = errno;
			if (w < 0 && werr == EPIPE) {
				struct timespec zero = {0, 0};
				sigtimedwait(&pipe_set, NULL, &zero);
			}
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			errno = werr;
			if (w > 0) {
				io->stdin_data += w;
				io->stdin_left -= (uint64_t)w;
			}
			if (io->stdin_left == 0 || (w < 0 && errno != EAGAIN && errno != EINTR))
				close_fd(&io->in);
		}
		if (io->report >= 0 && (pfd[i_ctl].revents & (POLLIN | POLLHUP | POLLERR))) {
			struct petri_msg m;
			uint32_t cred_pid;
			ssize_t r = petri__msg_recv_cred(io->report, &m, &cred_pid);
			if (r == -EINTR || r == -EAGAIN)
				continue;
			if (r == (ssize_t)sizeof(m) && m.type == PETRI_MSG_DONE) {
				*done = m;
				p->res->seccomp_denials +=
					m.exec_id; /* never reported one by one */
				petri__audit_denials_unreported(sb, m.exec_id);
				have_done = 1;
				close_fd(&io->in);
				/* DONE is the reaper's last word.  After the last
				 * exec, init has nothing left to do: its EOF on the
				 * control socket makes it exit now, so that its
				 * namespaces are torn down beside the reaper's, not
				 * after them (and before destroy waits for it). */
				if (sb->finished)
					shutdown(sb->ctl_fd, SHUT_WR);
				/* Nothing follows DONE: after the last exec, its
				 * EOF (the reaper's or init's files closed, late in
				 * its exit) is not worth waiting for. */
				if (sb->finished)
					close_fd(&io->report);
			} else if (r == (ssize_t)sizeof(m) && m.type == PETRI_MSG_SETUP_ERROR) {
				*setup = m;
			} else if (r == (ssize_t)sizeof(m) && m.type == PETRI_MSG_DENIAL) {
				/* cpu_ns: denials the reaper could not report before */
				p->res->seccomp_denials += 1 + m.cpu_ns;
				petri__audit_denials_unreported(sb, m.cpu_ns);
				petri__audit_seccomp_denial(
					sb, &m,
					m.exec_id & PETRI_DENIAL_PID_IN_CREDS ? cred_pid : 0);
			} else {
				close_fd(&io->report);
				close_fd(&io->in);
			}
		}
	}
	if (!have_done)
		done->err = -2; /* the reaper died before it could report */
	return 0;
}

static int init_alive(petri_sandbox *sb)
{
	struct pollfd p = {.fd = sb->pidfd, .events = POLLIN};
	return sb->pidfd >= 0 && poll(&p, 1, 0) == 0;
}

static int make_pipe(int fds[2], int nonblock_end)
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	if (nonblock_end >= 0)
		fcntl(fds[nonblock_end], F_SETFL, O_NONBLOCK);
	return 0;
}

PETRI_API int petri_sandbox_exec(petri_sandbox *sb, const petri_exec_opts *opts, petri_result **out,
				 petri_error **err)
{
	petri_exec_opts o;
	int r;

	if (!sb || !out)
		return petri__err(err, EINVAL, "petri_sandbox_exec: %s is NULL",
				  sb ? "out" : "sandbox");
	/* NULL opts: no default command to run. */
	if (!opts)
		return petri__err(err, EINVAL, "petri_sandbox_exec: opts is NULL");
	if ((r = petri__opts_copy(&o, sizeof(o), opts, err, "petri_exec_opts")) < 0)
		return r;
	if (o.flags & ~PETRI_EXEC_LAST)
		return petri__err(err, EINVAL, "petri_exec_opts: unknown flags 0x%x",
				  o.flags & ~PETRI_EXEC_LAST);
	if (sb->one_exec && !(o.flags & PETRI_EXEC_LAST))
		return petri__err(
			err, EINVAL,
			"exec: sandbox %s runs one exec (PETRI_SANDBOX_F_ONE_EXEC), which "
			"must be flagged PETRI_EXEC_LAST",
			sb->id);
	if (!!o.argv + !!o.code + !!o.code_file != 1)
		return petri__err(err, EINVAL,
				  "exec: give exactly one of argv, code and code_file");
	if (o.argv && !o.argv[0])
		return petri__err(err, EINVAL, "exec: argv is empty");
	if (o.argv && o.args)
		return petri__err(err, EINVAL,
				  "exec: args are for code and code_file (put them in argv)");
	if (o.code_file && (o.code_file[0] != '/' || strlen(o.code_file) >= PETRI_PATH_MAX))
		return petri__err(err, EINVAL, "exec: code_file must be an absolute path");
	if (o.stdin_len && !o.stdin_data)
		return petri__err(err, EINVAL, "exec: stdin_len without stdin_data");
	if (o.timeout_ms > 7ull * 24 * 3600 * 1000)
		return petri__err(err, EINVAL, "exec: timeout longer than a week");
	if (sb->dead)
		return petri__err(err, ESRCH, "sandbox %s is no longer running", sb->id);
	if (__atomic_exchange_n(&sb->busy, 1, __ATOMIC_ACQ_REL))
		return petri__err(err, EBUSY, "sandbox %s is already running an exec", sb->id);
	if (sb->finished) {
		__atomic_store_n(&sb->busy, 0, __ATOMIC_RELEASE);
		return petri__err(err, ESRCH, "sandbox %s has run its last exec", sb->id);
	}
	if (o.flags & PETRI_EXEC_LAST)
		sb->finished = 1; /* init exits after it, whatever its outcome */
	/* From here on petri_sandbox_cancel() aims at this exec, even before it
	 * has started. */
	__atomic_store_n(&sb->running_exec, sb->exec_serial + 1, __ATOMIC_RELEASE);

	int memfd = -1, in[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1};
	int rep[2] = {-1, -1}, audited = 0;
	struct pump p = {.lim = NULL};
	uint64_t t0 = 0;
	petri_result *res = NULL;
	struct petri_exec_limits lim;
	exec_limits(&lim, sb, &o);
	r = build_request(sb, &o, &lim, &memfd, err);
	if (r < 0)
		goto out;
	if ((r = make_pipe(in, 1)) < 0 || (r = make_pipe(outp, 0)) < 0 ||
	    (r = make_pipe(errp, 0)) < 0) {
		r = petri__err(err, r, "pipe");
		goto out;
	}
	if ((r = make_report_channel(rep)) < 0) {
		r = petri__err(err, -r, "exec report socket");
		goto out;
	}
	if (sb->ctx->is_root) {
		/* Owned by the sandbox user, so the code can reopen its stdio
		 * through /dev/stdout (/proc/self/fd/1): root's 0600 pipes refuse. */
		if (fchown(in[0], sb->host_uid, sb->host_gid) < 0 ||
		    fchown(outp[1], sb->host_uid, sb->host_gid) < 0 ||
		    fchown(errp[1], sb->host_uid, sb->host_gid) < 0) {
			r = petri__err(err, errno, "chown stdio pipes");
			goto out;
		}
	}
	res = calloc(1, sizeof(*res));
	if (!res) {
		r = petri__err(err, ENOMEM, "result");
		goto out;
	}
	p = (struct pump){
		.res = res, .lim = &lim, .on_output = o.on_output, .userdata = o.userdata};

	/* Before the exec starts: a failure here leaves nothing running. */
	for (int i = 0; i < 2; i++) {
		p.stream[i] = (struct pump_stream){&p, i};
		if (sb->vault && !(p.scrub[i] = petri__vault_scrub_new(sb->vault))) {
			r = petri__err(err, ENOMEM, "output scrubber");
			goto out;
		}
	}

	struct petri_cgroup_stats before = {0}, after = {0};
	petri__cgroup_reset_peak(&sb->cgroup);
	petri__cgroup_read_stats(&sb->cgroup, &before);

	sb->exec_serial++;
	/* A program's argv, or the arguments given to code (its language
	 * says what runs them). */
	petri__audit_exec_started(sb, o.argv ? o.argv : o.args, o.cwd ? o.cwd : "/workspace",
				  o.argv ? NULL : (o.language ? o.language : sb->language), &lim);
	audited = 1;
	t0 = petri__now_ns();
	int stdio[3] = {in[0], outp[1], errp[1]};
	r = start(sb, memfd, stdio, rep[1], o.flags, err);
	close_fd(&memfd);
	close_fd(&in[0]);
	close_fd(&outp[1]);
	close_fd(&errp[1]);
	close_fd(&rep[1]);
	if (r < 0)
		goto out;

	struct io io = {.in = in[1],
			.out = outp[0],
			.err = errp[0],
			.report = rep[0],
			.stdin_data = o.stdin_data,
			.stdin_left = o.stdin_len};
	in[1] = outp[0] = errp[0] = rep[0] = -1;
	if (!o.stdin_len)
		close_fd(&io.in);
	struct petri_msg done = {0}, setup = {0};
	int timed_out = 0, cancelled = 0;
	r = pump_loop(sb, &io, &p, t0 + lim.timeout_ms * 1000000ull, &done, &setup, &timed_out,
		      &cancelled, err);
	for (int i = 0; i < 2; i++) /* both ended at EOF, unless the loop failed */
		if (capture_end(&p, i) < 0 && r == 0)
			r = petri__err(err, ENOMEM, "capture output");
	close_fd(&io.in);
	close_fd(&io.out);
	close_fd(&io.err);
	close_fd(&io.report);
	if (r < 0)
		goto out;
	res->wall_ns = petri__now_ns() - t0;

	if (setup.type == PETRI_MSG_SETUP_ERROR && !timed_out && !cancelled) {
		r = setup_error(sb, &setup, err);
		goto out;
	}
	if (done.err == -2 && !timed_out && !cancelled && !p.over_limit && !p.killed_by_callback &&
	    !init_alive(sb)) {
		/* init is gone: the sandbox died under us (e.g. OOM killed it). */
		mark_dead(sb);
		petri__cgroup_read_stats(&sb->cgroup, &after);
		res->exit_code = -1;
		res->signal = SIGKILL;
		res->reason = after.oom_kills > before.oom_kills ? PETRI_REASON_MEMORY :
								   PETRI_REASON_SANDBOX_DIED;
		res->limits_hit = after.oom_kills > before.oom_kills ? PETRI_LIMIT_MEMORY : 0;
		goto ok;
	}
	if (done.err == -2)
		done.err = -1; /* reaper killed (by us, or the OOM killer): status lost */
	petri__cgroup_read_stats(&sb->cgroup, &after);
	res->cpu_ns = done.cpu_ns;
	/* Killed execs (timeout, cancel) take their rusage with them: the
	 * sandbox cgroup's own CPU counter still has it. */
	if (after.cpu_ns > before.cpu_ns && after.cpu_ns - before.cpu_ns > res->cpu_ns)
		res->cpu_ns = after.cpu_ns - before.cpu_ns;
	res->peak_memory = after.peak_memory ? after.peak_memory : done.maxrss;
	res->limits_hit = reason_and_flags(res, &done, &before, &after, &lim, timed_out, cancelled,
					   p.over_limit || p.killed_by_callback ? p.over_limit : 0);
	if (p.killed_by_callback && !cancelled && !p.over_limit)
		res->reason = PETRI_REASON_KILLED;
ok:
	petri__audit_exec_ended(sb, &lim, res);
	*out = TAKE_PTR(res);
	r = 0;
out:
	if (r < 0 && audited) /* every ExecStarted has its ExecEnded */
		petri__audit_exec_failed(sb, &lim, petri__now_ns() - t0);
	close_fd(&memfd);
	for (int i = 0; i < 2; i++) {
		close_fd(&in[i]);
		close_fd(&outp[i]);
		close_fd(&errp[i]);
		close_fd(&rep[i]);
	}
	for (int i = 0; i < 2; i++)
		if (p.scrub[i]) /* left only when the exec failed */
			petri__vault_scrub_free(p.scrub[i]);
	petri_result_free(res);
	__atomic_store_n(&sb->running_exec, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&sb->busy, 0, __ATOMIC_RELEASE);
	return r;
}

PETRI_API int petri_sandbox_cancel(petri_sandbox *sb)
{
	if (!sb)
		return -EINVAL;
	uint64_t target = __atomic_load_n(&sb->running_exec, __ATOMIC_ACQUIRE);
	if (target == 0)
		return 0; /* nothing running: a no-op, never a kill of the next exec */
	__atomic_store_n(&sb->cancel_for, target, __ATOMIC_RELEASE);
	uint64_t one = 1;
	if (write(sb->cancel_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}
