/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_hooks.c - the events the library itself knows about, sent to the
 * sandbox's audit stream: lifecycle, exec start and end with the result,
 * each limit the exec hit, and the egress proxy's connections and DNS
 * exchanges.  The kernel (eBPF) events join the same stream through the
 * audit layer.  Emitting never waits for the sink; a
 * full queue is counted and reported in the stream as a Loss.
 */
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include "host.h"
#include "net/net.h"
#include "net/vault.h"

#include <seccomp.h>

#include "audit_priv.h"
#include "events.h"
#include "kernel.h"
#include "petri/audit.h"

/*
 * The kernel half's load off the caller's path.  A stream opened with a
 * context whose kernel audit is not loaded yet starts the load on a thread
 * of its own and returns: its StreamHeader (which says whether the kernel
 * half is on) is sealed when the first event comes, typically the
 * sandbox's SandboxCreated at the end of petri_sandbox_create(), so the
 * BPF load and verification (~15-25 ms) run on the other core while the
 * sandbox is built (`petri run --audit`).  The stream's bytes are the same
 * as if it had waited at open (the header keeps the time, ids and
 * monotonic_ns of the open); nothing runs in the sandbox before it is
 * watched (petri__kaudit_watch_sandbox waits for the load).
 *
 * The load's outcome is shared, refcounted, by the context and the
 * streams waiting for it, so either may go first.
 */
struct petri__kaudit_load {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs; /* under mu */
	int done; /* under mu; then on and reason are set */
	int on;
	char reason[256];
	struct petri_ctx *ctx; /* the loader thread's; the context waits for it */
};

static void load_release(void *arg)
{
	struct petri__kaudit_load *l = arg;
	pthread_mutex_lock(&l->mu);
	int last = --l->refs == 0;
	pthread_mutex_unlock(&l->mu);
	if (last) {
		pthread_mutex_destroy(&l->mu);
		pthread_cond_destroy(&l->cv);
		free(l);
	}
}

static void load_wait(struct petri__kaudit_load *l)
{
	pthread_mutex_lock(&l->mu);
	while (!l->done)
		pthread_cond_wait(&l->cv, &l->mu);
	pthread_mutex_unlock(&l->mu);
}

/* The header's kernel_audit fields (petri__audit_header_wait.state). */
static void load_state(void *arg, int *on, char *reason, size_t n)
{
	struct petri__kaudit_load *l = arg;
	load_wait(l);
	*on = l->on;
	snprintf(reason, n, "%s", l->on ? "" : l->reason);
}

/* Load into @ctx (unless it was meanwhile): 1 on, 0 off (ctx->kaudit_reason).
 * The load runs without ctx->lock: sandboxes are created meanwhile. */
static int load_into(struct petri_ctx *ctx)
{
	struct petri_kaudit *k = NULL;
	petri_error *e = NULL;
	int r = petri__kaudit_open(&k, &e);

	pthread_mutex_lock(&ctx->lock);
	if (!ctx->kaudit_tried) {
		ctx->kaudit_tried = 1;
		ctx->kaudit = r < 0 ? NULL : k;
		if (r < 0) {
			snprintf(ctx->kaudit_reason, sizeof(ctx->kaudit_reason), "%s",
				 petri_error_message(e));
			petri__log(ctx, PETRI_LOG_WARN, "%s", ctx->kaudit_reason);
		}
		k = NULL;
	}
	int on = ctx->kaudit != NULL;
	pthread_mutex_unlock(&ctx->lock);
	petri__kaudit_close(k); /* (another load won) */
	petri_error_free(e);
	return on;
}

static void *loader_main(void *arg)
{
	struct petri__kaudit_load *l = arg;
	struct petri_ctx *ctx = l->ctx;
	int on = load_into(ctx);

	pthread_mutex_lock(&ctx->lock);
	char reason[256];
	snprintf(reason, sizeof(reason), "%s", ctx->kaudit_reason);
	pthread_mutex_unlock(&ctx->lock);
	pthread_mutex_lock(&l->mu);
	l->on = on;
	snprintf(l->reason, sizeof(l->reason), "%s", reason);
	l->done = 1;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	load_release(l); /* the thread's own hold */
	return NULL;
}

/* Start loading @ctx's kernel audit on a thread: the load, held for the
 * caller, or NULL when it is loaded (or tried) already or no thread could
 * be started (the caller then loads it itself). */
static struct petri__kaudit_load *load_start(struct petri_ctx *ctx)
{
	struct petri__kaudit_load *l = NULL;

	pthread_mutex_lock(&ctx->lock);
	if (ctx->kaudit_tried)
		goto out;
	if ((l = ctx->kaudit_load)) {
		pthread_mutex_lock(&l->mu);
		l->refs++;
		pthread_mutex_unlock(&l->mu);
		goto out;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		goto out;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->refs = 3; /* the context's, the thread's, the caller's */
	l->ctx = ctx;
	pthread_attr_t at;
	pthread_t t;
	sigset_t all, old;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old); /* the host's handlers never run there */
	int r = pthread_create(&t, &at, loader_main, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&at);
	if (r) {
		pthread_mutex_destroy(&l->mu);
		pthread_cond_destroy(&l->cv);
		free(l);
		l = NULL;
		goto out;
	}
	ctx->kaudit_load = l;
out:
	pthread_mutex_unlock(&ctx->lock);
	return l;
}

/* The one place a stream learns whether the kernel half is on: the
 * StreamHeader says so, and only the library knows the context. */
PETRI_API int petri_audit_open(petri_audit **out, const petri_audit_opts *opts, petri_error **err)
{
	petri_audit_opts o;
	if (!out || !opts)
		return petri__err(err, EINVAL, "audit open: missing output or options");
	int r = petri__opts_copy(&o, sizeof(o), opts, err, "petri_audit_opts");
	if (r < 0)
		return r;
	if (opts->sz <= offsetof(petri_audit_opts, fd))
		o.fd = -1; /* the default of a field the caller does not know */
	o.sz = sizeof(o);
	if (o.ctx && !o.kernel_audit) {
		struct petri__kaudit_load *l = load_start(o.ctx);
		if (l) {
			struct petri__audit_header_wait w = {load_state, load_release, l};
			o.ctx = NULL;
			return petri__audit_open_stream_deferred(out, &o, &w, err);
		}
		int on = petri__kaudit_ensure(o.ctx);
		o.kernel_audit = on == 1;
		o.kernel_audit_reason = on == 1 ? NULL : o.ctx->kaudit_reason;
	}
	o.ctx = NULL;
	return petri__audit_open_stream(out, &o, err);
}

int petri__kaudit_ensure(struct petri_ctx *ctx)
{
	pthread_mutex_lock(&ctx->lock);
	struct petri__kaudit_load *l = ctx->kaudit_tried ? NULL : ctx->kaudit_load;
	pthread_mutex_unlock(&ctx->lock);
	if (l) /* a load on its thread: wait for it (it holds no ctx->lock) */
		load_wait(l);
	pthread_mutex_lock(&ctx->lock);
	if (!ctx->kaudit_tried) {
		petri_error *e = NULL;
		ctx->kaudit_tried = 1;
		if (petri__kaudit_open(&ctx->kaudit, &e) < 0) {
			ctx->kaudit = NULL;
			snprintf(ctx->kaudit_reason, sizeof(ctx->kaudit_reason), "%s",
				 petri_error_message(e));
			petri__log(ctx, PETRI_LOG_WARN, "%s", ctx->kaudit_reason);
			petri_error_free(e);
		}
	}
	int on = ctx->kaudit != NULL;
	pthread_mutex_unlock(&ctx->lock);
	return on;
}

void petri__kaudit_close_ctx(struct petri_ctx *ctx)
{
	if (ctx->kaudit_load) { /* the loader thread uses the context until done */
		load_wait(ctx->kaudit_load);
		load_release(ctx->kaudit_load);
		ctx->kaudit_load = NULL;
	}
	petri__kaudit_close(ctx->kaudit);
	ctx->kaudit = NULL;
}

/* The last pid of the "NSpid:" line of /proc/@pid/status and how many
 * levels it has; 0 when unreadable. */
static int nspid_last(int pid, int *levels)
{
	char p[64], buf[2048];
	snprintf(p, sizeof(p), "/proc/%d/status", pid);
	FILE *f = fopen(p, "re");
	int last = 0;
	*levels = 0;
	if (!f)
		return 0;
	while (fgets(buf, sizeof(buf), f)) {
		if (strncmp(buf, "NSpid:", 6) != 0)
			continue;
		char *save = NULL;
		for (char *t = strtok_r(buf + 6, " \t\n", &save); t;
		     t = strtok_r(NULL, " \t\n", &save)) {
			last = atoi(t);
			(*levels)++;
		}
		break;
	}
	fclose(f);
	return last;
}

/* The level of @pid's pid namespace: the entries of its NSpid line, less
 * one (0 when it cannot be read, e.g. no /proc). */
static uint32_t pidns_level(int pid)
{
	int levels;
	nspid_last(pid, &levels);
	return levels ? (uint32_t)levels - 1 : 0;
}

/* Once the sandbox is ready: every exec's processes are in the cgroup. */
void petri__kaudit_watch_sandbox(struct petri_sandbox *sb)
{
	petri_error *e = NULL;
	if (!sb->audit || !sb->cgroup.id || !petri__kaudit_ensure(sb->ctx))
		return;
	/* A one-exec sandbox's exec runs in init's own pid namespace, not one
	 * level below: described as a sandbox whose init is one level up, its
	 * records (init as the exec's pid 1, the command as its pid 2) bind to
	 * the exec as a reaper's namespace does. */
	uint32_t level = pidns_level(sb->pid);
	if (sb->one_exec && level > 0)
		level--;
	struct petri_kaudit_sandbox ks = {
		.inside_uid = PETRI_SANDBOX_UID,
		.host_uid = (uint32_t)sb->host_uid,
		.init_pidns_level = level,
	};
	if (petri__kaudit_watch(sb->ctx->kaudit, sb->cgroup.id, sb->cgroup.v2_dirfd, sb->audit,
				sb->id, &ks, &e) < 0) {
		petri__log(sb->ctx, PETRI_LOG_WARN, "sandbox %s: kernel audit: %s", sb->id,
			   petri_error_message(e));
		petri_error_free(e);
		return;
	}
	sb->kwatched = 1;
}

/* After the sandbox's processes are reaped, so that their exits are in. */
void petri__kaudit_unwatch_sandbox(struct petri_sandbox *sb)
{
	if (sb->kwatched)
		petri__kaudit_unwatch(sb->ctx->kaudit, sb->cgroup.id);
	sb->kwatched = 0;
}

static void exec_id(const struct petri_sandbox *sb, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%llu", sb->id, (unsigned long long)sb->exec_serial);
}

/* "host" when init shares our network namespace, else "none" (the only
 * other mode a sandbox can be created with today): what is in force, read
 * from the kernel rather than from the options. */
static const char *network_mode(const struct petri_sandbox *sb)
{
	char path[64];
	struct stat ours, theirs;

	if (sb->net == PETRI_NET_PROXY)
		return "proxy";
	snprintf(path, sizeof(path), "/proc/%d/ns/net", sb->pid);
	if (stat("/proc/self/ns/net", &ours) < 0 || stat(path, &theirs) < 0)
		return "";
	return ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev ? "host" : "none";
}

void petri__audit_sandbox_created(const struct petri_sandbox *sb)
{
	if (!sb->audit)
		return;
	struct petri__sandbox_created c = {
		.language = sb->language,
		.cgroup_id = sb->cgroup.id,
		.init_pid_host = (uint32_t)sb->pid,
		.host_uid = (uint32_t)sb->host_uid,
		.network = network_mode(sb),
		/* Without a cgroup nothing caps memory (README); pids then
		 * fall back to RLIMIT_NPROC of the sandbox's uid. */
		.memory_limit_bytes = sb->cgroup.mode == PETRI_CGROUP_NONE ? 0 : sb->memory_bytes,
		.pids_limit = sb->pids_max,
	};
	petri__audit_emit_sandbox_created(sb->audit, sb->id, &c);
}

void petri__audit_sandbox_destroyed(const struct petri_sandbox *sb, int died)
{
	if (sb->audit)
		petri_audit_emit_sandbox_destroyed(sb->audit, sb->id, died ? "died" : "destroyed",
						   NULL);
}

void petri__audit_exec_started(const struct petri_sandbox *sb, const char *const *argv,
			       const char *cwd, const char *language,
			       const struct petri_exec_limits *lim)
{
	char id[PETRI_ID_MAX + 24];
	if (!sb->audit)
		return;
	exec_id(sb, id, sizeof(id));
	/* Before the request goes to init: every kernel event of the exec
	 * comes after this. */
	if (sb->kwatched)
		petri__kaudit_exec_begin(sb->ctx->kaudit, sb->cgroup.id, sb->exec_serial);
	petri__audit_emit_exec_started(sb->audit, sb->id, id, argv, cwd, language, lim->timeout_ms);
}

/*
 * @pid_host comes from the kernel (the report's SCM_CREDENTIALS, init.c:
 * send_denial): the denying task's pid in our pid namespace, pinned while it
 * waited for its answer, so no /proc search runs per denial (a flood of
 * denials once cost the host ~1.7 ms of CPU each, outside every cgroup).
 */
void petri__audit_seccomp_denial(struct petri_sandbox *sb, const struct petri_msg *m,
				 uint32_t pid_host)
{
	char id[PETRI_ID_MAX + 24];
	if (!sb->audit)
		return;
	exec_id(sb, id, sizeof(id));
	int nr = (int)m->stage;
	char *name = seccomp_syscall_resolve_num_arch((uint32_t)m->exec_id, nr);
	/* text: "comm\0executable", as the reaper read them. */
	char text[sizeof(m->text)];
	memcpy(text, m->text, sizeof(text));
	text[sizeof(text) - 1] = '\0';
	size_t comm_len = strlen(text);
	petri_audit_process proc = {
		.pid_inside = (uint32_t)m->status,
		.pid_host = pid_host,
		.ppid = m->err > 0 ? (uint32_t)m->err : 0,
		.uid = m->maxrss ? (uint32_t)(m->maxrss - 1) : PETRI_SANDBOX_UID,
		.comm = comm_len ? text : NULL,
		.executable = comm_len + 1 < sizeof(text) && text[comm_len + 1] ?
				      text + comm_len + 1 :
				      NULL,
	};
	petri_audit_emit_denial(sb->audit, sb->id, id, &proc, PETRI_AUDIT_DENIAL_SECCOMP,
				name ? name : "unknown", nr, "denied by the seccomp filter (EPERM)",
				NULL);
	free(name);
}

void petri__audit_denials_unreported(const struct petri_sandbox *sb, uint64_t count)
{
	if (sb->audit && count)
		petri__audit_report_unreported(sb->audit, PETRI_AUDIT_KIND_POLICY_DENIAL, count);
}

/* The limit @bit of an exec run under @lim and the usage seen, in the
 * units of LimitHit (audit.proto). */
static void limit_values(const struct petri_sandbox *sb, const struct petri_exec_limits *lim,
			 const struct petri_result *res, uint32_t bit, uint64_t *value,
			 uint64_t *observed)
{
	*value = *observed = 0;
	switch (bit) {
	case PETRI_LIMIT_MEMORY:
		*value = lim->memory_bytes;
		*observed = res->peak_memory;
		if (!*observed) { /* the sandbox died of it: exec.c took no stats */
			struct petri_cgroup_stats st = {0};
			if (petri__cgroup_read_stats(&sb->cgroup, &st) == 0)
				*observed = st.peak_memory;
		}
		break;
	case PETRI_LIMIT_PIDS:
		/* The kernel refused a fork with pids_max tasks in the cgroup. */
		*value = *observed = lim->pids_max;
		break;
	case PETRI_LIMIT_TIMEOUT:
		*value = lim->timeout_ms;
		*observed = res->wall_ns / 1000000u;
		break;
	case PETRI_LIMIT_CPU:
		*value = lim->cpu_ms;
		*observed = res->cpu_ns / 1000000u;
		break;
	case PETRI_LIMIT_OUTPUT: {
		uint64_t total = res->out_total[0] + res->out_total[1];

		if (total > lim->output_kill_bytes || !(res->truncated[0] || res->truncated[1])) {
			*value = lim->output_kill_bytes;
			*observed = total;
		} else {
			int idx = res->truncated[0] ? 0 : 1;
			*value = lim->output_max[idx];
			*observed = res->out_total[idx];
		}
		break;
	}
	case PETRI_LIMIT_FILE_SIZE:
		/* The size the write would have reached is not known here. */
		*value = lim->file_size_max;
		break;
	}
}

void petri__audit_exec_ended(const struct petri_sandbox *sb, const struct petri_exec_limits *lim,
			     const struct petri_result *res)
{
	char id[PETRI_ID_MAX + 24];
	if (!sb->audit)
		return;
	exec_id(sb, id, sizeof(id));
	if (sb->kwatched) {
		petri__kaudit_exec_end(sb->ctx->kaudit, sb->cgroup.id, sb->exec_serial);
		/* Every process of the exec is gone: its kernel events are all
		 * in the ring buffer.  Stream them before the exec's end. */
		petri__kaudit_sync(sb->ctx->kaudit);
	}
	for (uint32_t bit = 1; bit; bit <<= 1) {
		uint64_t value, observed;

		if (!(res->limits_hit & bit) || !petri_limit_name(bit))
			continue;
		limit_values(sb, lim, res, bit, &value, &observed);
		petri_audit_emit_limit_hit(sb->audit, sb->id, id, NULL, petri_limit_name(bit),
					   value, observed, NULL);
	}
	petri_audit_exec_result r = {
		.sz = sizeof(r),
		.exit_code = res->exit_code,
		.signal = res->signal,
		.reason = res->reason,
		.limits_hit = res->limits_hit,
		.wall_ns = res->wall_ns,
		.cpu_ns = res->cpu_ns,
		.peak_memory_bytes = res->peak_memory,
	};
	petri_audit_emit_exec_ended(sb->audit, sb->id, id, NULL, &r, NULL);
}

void petri__audit_exec_failed(const struct petri_sandbox *sb, const struct petri_exec_limits *lim,
			      uint64_t wall_ns)
{
	struct petri_result res = {
		.exit_code = -1, .reason = PETRI_REASON_FAILED, .wall_ns = wall_ns};
	petri__audit_exec_ended(sb, lim, &res);
}

/* ---- the egress proxy's events (libpetri/net/, on the proxy's thread) ----
 * These run on the context's proxy thread, not the thread that runs @sb's
 * execs, while that thread may emit to the same stream: the stream is
 * thread-safe (writer.c takes its lock for each event), and of @sb these
 * read only what does not change while the proxy serves it (id, audit)
 * and running_exec, atomically.  The proxy detaches from a sandbox before
 * petri__audit_sandbox_destroyed(), so no event follows its destruction.
 * The host side cannot tell which process of the sandbox made a
 * connection: the events have no process. */

/* The id of the exec running now, or "" when none is (a background
 * process left by an earlier exec, or none at all). */
static void running_exec_id(const struct petri_sandbox *sb, char *buf, size_t len)
{
	uint64_t serial = __atomic_load_n(&sb->running_exec, __ATOMIC_ACQUIRE);
	if (serial)
		snprintf(buf, len, "%s:%llu", sb->id, (unsigned long long)serial);
	else
		buf[0] = '\0';
}

/* @a as text, or "" for none. */
static const char *addr_text(const struct petri_net_addr *a, char *buf, size_t cap)
{
	buf[0] = '\0';
	if (a->family == AF_INET || a->family == AF_INET6)
		inet_ntop(a->family, a->a, buf, (socklen_t)cap);
	return buf;
}

void petri__audit_net_conn(const struct petri_sandbox *sb, const struct petri_net_conn_info *c)
{
	char id[PETRI_ID_MAX + 24], addr[INET6_ADDRSTRLEN];
	if (!sb->audit || !c)
		return;
	running_exec_id(sb, id, sizeof(id));
	struct petri__net_connection e = {
		.via = c->via == PETRI_NET_VIA_TRANSPARENT ?
			       PETRI__AUDIT__V1__NET_CONNECTION__VIA__VIA_TRANSPARENT :
		       c->via == PETRI_NET_VIA_PROXY ?
			       PETRI__AUDIT__V1__NET_CONNECTION__VIA__VIA_PROXY :
			       PETRI__AUDIT__V1__NET_CONNECTION__VIA__VIA_UNSPECIFIED,
		.protocol = c->protocol == PETRI_NET_PROTO_TLS ?
				    PETRI__AUDIT__V1__NET_CONNECTION__PROTOCOL__PROTOCOL_TLS :
			    c->protocol == PETRI_NET_PROTO_HTTP ?
				    PETRI__AUDIT__V1__NET_CONNECTION__PROTOCOL__PROTOCOL_HTTP :
				    PETRI__AUDIT__V1__NET_CONNECTION__PROTOCOL__PROTOCOL_OPAQUE,
		.name = c->name,
		.port = c->port,
		.sni_or_host = c->sni_host,
		.http_method = c->method,
		.http_path = c->path,
		.address = addr_text(&c->addr, addr, sizeof(addr)),
		.bytes_up = c->bytes_up,
		.bytes_down = c->bytes_down,
		.start_time_unix_nano = c->start_ns,
		.duration_ns = c->duration_ns,
		.decision = c->allowed ? PETRI__AUDIT__V1__NET_DECISION__NET_DECISION_ALLOWED :
					 PETRI__AUDIT__V1__NET_DECISION__NET_DECISION_DENIED,
		.reason = c->reason,
		.http_status = c->status > 0 ? (uint32_t)c->status : 0,
		.upstream_errno = c->error,
	};
	petri__audit_emit_net_connection(sb->audit, sb->id, id, &e);
}

void petri__audit_net_dns(const struct petri_sandbox *sb, const struct petri_net_dns_info *d,
			  int tcp)
{
	char id[PETRI_ID_MAX + 24], answer[INET_ADDRSTRLEN] = "";
	if (!sb->audit || !d)
		return;
	running_exec_id(sb, id, sizeof(id));
	if (d->answer) {
		struct in_addr in = {.s_addr = htonl(d->answer)};
		inet_ntop(AF_INET, &in, answer, sizeof(answer));
	}
	struct petri__dns_query e = {
		.qname = d->qname,
		.qname_truncated = d->qname_truncated,
		.qtype = d->qtype,
		.rcode = d->rcode > 0 ? (uint32_t)d->rcode : 0,
		.decision = d->allowed ? PETRI__AUDIT__V1__NET_DECISION__NET_DECISION_ALLOWED :
					 PETRI__AUDIT__V1__NET_DECISION__NET_DECISION_DENIED,
		.reason = d->reason,
		.answer_address = answer,
		.transport = tcp ? PETRI__AUDIT__V1__DNS_QUERY__TRANSPORT__TRANSPORT_TCP :
				   PETRI__AUDIT__V1__DNS_QUERY__TRANSPORT__TRANSPORT_UDP,
	};
	petri__audit_emit_dns_query(sb->audit, sb->id, id, &e);
}

void petri__audit_net_suppressed(const struct petri_sandbox *sb, int dns, uint64_t count)
{
	if (sb->audit && count)
		petri__audit_report_rate_limited(
			sb->audit,
			dns ? PETRI_AUDIT_KIND_DNS_QUERY : PETRI_AUDIT_KIND_NET_CONNECTION, count);
}

/* ---- TenantVault (net/vault.h), on the proxy's thread like the above ---- */

_Static_assert((int)PETRI_VAULT_MISUSE_HOST == PETRI__AUDIT__V1__SECRET_MISUSE__KIND__KIND_HOST &&
		       (int)PETRI_VAULT_MISUSE_PLAIN_HTTP ==
			       PETRI__AUDIT__V1__SECRET_MISUSE__KIND__KIND_PLAIN_HTTP &&
		       (int)PETRI_VAULT_MISUSE_FOREIGN ==
			       PETRI__AUDIT__V1__SECRET_MISUSE__KIND__KIND_FOREIGN &&
		       (int)PETRI_VAULT_MISUSE_DNS ==
			       PETRI__AUDIT__V1__SECRET_MISUSE__KIND__KIND_DNS &&
		       (int)PETRI_VAULT_MISUSE_UNSAFE ==
			       PETRI__AUDIT__V1__SECRET_MISUSE__KIND__KIND_UNSAFE &&
		       (int)PETRI_VAULT_MISUSE_TOO_LARGE ==
			       PETRI__AUDIT__V1__SECRET_MISUSE__KIND__KIND_TOO_LARGE,
	       "enum petri_vault_misuse is SecretMisuse.Kind");

/* A copy of @s with every value of @v masked (NULL: ""); free() it.  The
 * proxy gives the request target as the code sent it, so it holds a
 * placeholder, never a value; masking is the second wall. */
static char *scrubbed(const struct petri_vault *v, const char *s)
{
	char *c = strdup(s ? s : "");
	if (c && v)
		petri__vault_scrub_buf(v, c, strlen(c));
	return c;
}

void petri__audit_vault_use(const struct petri_sandbox *sb, int secret, const char *host,
			    uint16_t port, const char *method, const char *path)
{
	char id[PETRI_ID_MAX + 24];
	if (!sb->audit || !sb->vault || secret < 0 ||
	    (size_t)secret >= petri__vault_count(sb->vault))
		return;
	running_exec_id(sb, id, sizeof(id));
	_cleanup_free_ char *h = scrubbed(sb->vault, host), *p = scrubbed(sb->vault, path);
	if (!h || !p)
		return;
	struct petri__secret_use e = {
		.name = petri__vault_name(sb->vault, (size_t)secret),
		.host = h,
		.port = port,
		.http_method = method,
		.http_path = p,
	};
	petri__audit_emit_secret_use(sb->audit, sb->id, id, &e);
}

void petri__audit_vault_misuse(const struct petri_sandbox *sb, const struct petri_vault_finding *f,
			       const char *host, uint16_t port)
{
	char id[PETRI_ID_MAX + 24];
	if (!sb->audit || !f)
		return;
	running_exec_id(sb, id, sizeof(id));
	_cleanup_free_ char *h = scrubbed(sb->vault, host);
	if (!h)
		return;
	int known = sb->vault && f->secret >= 0 &&
		    (size_t)f->secret < petri__vault_count(sb->vault);
	/* enum petri_vault_misuse and SecretMisuse.Kind share their values. */
	struct petri__secret_misuse e = {
		.name = known ? petri__vault_name(sb->vault, (size_t)f->secret) : "",
		.kind = (int)f->misuse,
		.host = h,
		.port = port,
		.where = f->where,
		.detail = f->misuse == PETRI_VAULT_MISUSE_DNS ? "query refused: nothing was sent" :
								"request refused: nothing was sent",
	};
	petri__audit_emit_secret_misuse(sb->audit, sb->id, id, &e);
}

void petri__audit_vault_suppressed(const struct petri_sandbox *sb, int misuse, uint64_t count)
{
	if (sb->audit && count)
		petri__audit_report_rate_limited(sb->audit,
						 misuse ? PETRI_AUDIT_KIND_SECRET_MISUSE :
							  PETRI_AUDIT_KIND_SECRET_USE,
						 count);
}
