/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox.c - a sandbox's lifecycle on the host side: option checking,
 * cgroups, starting init (through spawn.c), the READY handshake, and
 * teardown that leaves nothing behind.
 */
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "defaults.h"
#include "host.h"
#include "net/net.h"
#include "net/vault.h"

#define READY_TIMEOUT_MS 10000

PETRI_API void petri_sandbox_opts_init(petri_sandbox_opts *opts)
{
	if (opts)
		*opts = (petri_sandbox_opts)PETRI_SANDBOX_OPTS_INIT;
}

/* ---- option checks ---- */

static int valid_id(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > PETRI_ID_MAX)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static int valid_hostname(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || *s == '-')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-'))
			return 0;
	return 1;
}

/* An absolute path inside the sandbox: no "..", ".", "//" and not one of
 * the mounts petri owns. */
static int valid_inside_path(const char *p)
{
	size_t n = strlen(p);
	if (p[0] != '/' || n < 2 || n >= PETRI_PATH_MAX - 16)
		return 0;
	for (const char *c = p; *c;) {
		if (*c == '/') {
			c++;
			continue;
		}
		const char *e = strchrnul(c, '/');
		size_t l = (size_t)(e - c);
		if ((l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		c = e;
	}
	if (strstr(p, "//") || p[n - 1] == '/')
		return 0;
	static const char *const reserved[] = {"/proc", "/dev", "/run/petri", "/usr", "/etc",
					       "/bin",  "/lib", "/lib64",     "/sbin"};
	for (size_t i = 0; i < ARRAY_SIZE(reserved); i++) {
		size_t rl = strlen(reserved[i]);
		if (strncmp(p, reserved[i], rl) == 0 && (p[rl] == '\0' || p[rl] == '/'))
			return 0;
	}
	return 1;
}

/*
 * "SRC:DST[:OPTS]", OPTS a comma-separated list of ro (the default), rw and
 * sockets (reach host unix sockets in the bind: without it a read-only
 * directory bind is an overlay through which no host socket answers, see
 * mounts.c).
 */
static int parse_bind_opts(const char *spec, char *opts, struct petri_bind *b, petri_error **err)
{
	int seen_mode = 0;
	for (char *o = opts, *next; o; o = next) {
		next = strchr(o, ',');
		if (next)
			*next++ = '\0';
		if (strcmp(o, "rw") == 0 || strcmp(o, "ro") == 0) {
			if (seen_mode++)
				return petri__err(err, EINVAL,
						  "bind '%s': more than one of ro and rw", spec);
			b->rw = o[1] == 'w';
		} else if (strcmp(o, "sockets") == 0) {
			b->sockets = 1;
		} else {
			return petri__err(
				err, EINVAL,
				"bind '%s': unknown option '%s' (expected ro, rw or sockets)", spec,
				o);
		}
	}
	return 0;
}

static int parse_bind(const char *spec, struct petri_bind *b, petri_error **err)
{
	if (strlen(spec) >= PETRI_PATH_MAX)
		return petri__err(err, ENAMETOOLONG, "bind '%.64s...'", spec);
	char tmp[PETRI_PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", spec);
	char *dst = strchr(tmp, ':');
	if (!dst || dst == tmp)
		return petri__err(err, EINVAL, "bind '%s': expected SRC:DST[:ro|rw][,sockets]",
				  spec);
	*dst++ = '\0';
	char *opts = strchr(dst, ':');
	b->rw = 0;
	b->sockets = 0;
	if (opts) {
		*opts++ = '\0';
		int r = parse_bind_opts(spec, opts, b, err);
		if (r < 0)
			return r;
	}
	if (tmp[0] != '/')
		return petri__err(err, EINVAL, "bind '%s': source must be an absolute path", spec);
	if (!valid_inside_path(dst))
		return petri__err(err, EINVAL,
				  "bind '%s': destination must be a clean absolute path outside "
				  "/proc, /dev, /usr, /etc and /run/petri",
				  spec);
	struct stat st;
	if (stat(tmp, &st) < 0)
		return petri__err(err, errno, "bind source %s", tmp);
	if (S_ISSOCK(st.st_mode) && !b->sockets)
		return petri__err(err, EACCES,
				  "bind source %s is a unix socket: add the 'sockets' option to "
				  "let the sandbox connect to it",
				  tmp);
	snprintf(b->src, sizeof(b->src), "%s", tmp);
	snprintf(b->dst, sizeof(b->dst), "%s", dst);
	return 0;
}

static int check_dir(const char *what, const char *path, petri_error **err)
{
	struct stat st;
	if (path[0] != '/')
		return petri__err(err, EINVAL, "%s %s: must be an absolute path", what, path);
	if (strlen(path) >= PETRI_PATH_MAX)
		return petri__err(err, ENAMETOOLONG, "%s", what);
	if (stat(path, &st) < 0)
		return petri__err(err, errno, "%s %s", what, path);
	if (!S_ISDIR(st.st_mode))
		return petri__err(err, ENOTDIR, "%s %s", what, path);
	return 0;
}

static char **copy_strv(const char *const *v, int check_env, petri_error **err, int *r)
{
	size_t n = 0;
	*r = 0;
	for (; v && v[n]; n++) {
		if (n >= 4096) {
			*r = petri__err(err, E2BIG, "too many environment entries");
			return NULL;
		}
		if (check_env) {
			const char *eq = strchr(v[n], '=');
			if (!eq || eq == v[n]) {
				*r = petri__err(err, EINVAL, "env entry '%.64s': expected K=V",
						v[n]);
				return NULL;
			}
		}
	}
	char **out = calloc(n + 1, sizeof(char *));
	if (!out) {
		*r = -ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		out[i] = strdup(v[i]);
		if (!out[i]) {
			for (size_t j = 0; j < i; j++)
				free(out[j]);
			free(out);
			*r = -ENOMEM;
			return NULL;
		}
	}
	return out;
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static const char *stage_name(uint32_t stage)
{
	static const char *const names[] = {"",         "sync",    "groups",  "rootfs",
					    "hostname", "network", "landlock"};
	if (stage == 17) /* init.c's STAGE_RESET */
		return "reset";
	return stage < ARRAY_SIZE(names) ? names[stage] : "setup";
}

/* Egress through the context's proxy: init makes the listeners the proxy
 * asks for inside the network namespace, and the proxy serves them.
 * @policy is the proxy's from here on, whatever the result. */
static int serve_egress(petri_sandbox *sb, struct petri_net_policy *policy, petri_error **err)
{
	struct petri_sock_req reqs[PETRI_PROXY_MAX_SOCKETS];
	int fds[PETRI_PROXY_MAX_SOCKETS];
	size_t n = petri__proxy_sockets(policy, reqs);
	int r = petri__sandbox_sockets(sb, n, reqs, fds, err);

	if (r < 0) {
		petri__net_policy_free(policy);
		return r;
	}
	return petri__proxy_attach(sb, policy, fds, n, err);
}

static int wait_ready(petri_sandbox *sb, petri_error **err)
{
	struct pollfd p = {.fd = sb->ctl_fd, .events = POLLIN};
	int n;
	do
		n = poll(&p, 1, READY_TIMEOUT_MS);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return petri__err(err, ETIMEDOUT, "sandbox init did not become ready");
	struct petri_msg m;
	int fds[1], nfds = 1;
	int r = petri__msg_recv(sb->ctl_fd, &m, fds, &nfds);
	if (r <= 0)
		return petri__err(err, r == 0 ? ECHILD : r, "sandbox init died during setup");
	if (m.type == PETRI_MSG_SETUP_ERROR) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		m.text[sizeof(m.text) - 1] = '\0';
		return petri__err(err, m.err ? m.err : EIO, "sandbox %s: %s", stage_name(m.stage),
				  m.text);
	}
	if (m.type != PETRI_MSG_READY || nfds != 1) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		return petri__err(err, EPROTO, "sandbox init sent an unexpected message");
	}
	sb->workspace_fd = fds[0];
	return 0;
}

static void unlink_sandbox(petri_sandbox *sb)
{
	petri_ctx *ctx = sb->ctx;
	pthread_mutex_lock(&ctx->lock);
	for (petri_sandbox **p = &ctx->sandboxes; *p; p = &(*p)->next) {
		if (*p == sb) {
			*p = sb->next;
			break;
		}
	}
	pthread_mutex_unlock(&ctx->lock);
}

/* Close the control socket (init exits) and kill init (the kernel takes
 * the whole pid namespace with it), without waiting.  Whether the sandbox
 * had died before is decided first, for its SandboxDestroyed. */
void petri__sandbox_kill_init(petri_sandbox *sb)
{
	if (sb->killed)
		return;
	/* After a PETRI_EXEC_LAST exec init ends by itself; a death an exec
	 * saw (sb->dead) counts either way. */
	sb->died = sb->dead || (!sb->finished && petri_sandbox_init_pid(sb) < 0);
	if (sb->ctl_fd >= 0)
		close(sb->ctl_fd);
	sb->ctl_fd = -1;
	if (sb->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, sb->pidfd, SIGKILL, NULL, 0);
	sb->killed = 1;
}

/* Kill and reap init, remove the cgroups, free. */
static void free_sandbox(petri_sandbox *sb, int created)
{
	petri__sandbox_kill_init(sb);
	if (sb->pidfd >= 0) {
		siginfo_t si;
		while (waitid((idtype_t)P_PIDFD, (id_t)sb->pidfd, &si, WEXITED) < 0 &&
		       errno == EINTR)
			;
		close(sb->pidfd);
		sb->pidfd = -1;
	}
	sb->pid = -1;
	sb->dead = 1;
	/* Its connections end (and are audited) before its SandboxDestroyed. */
	petri__proxy_detach(sb);
	/* The proxy used it until detached; no exec runs any more. */
	petri__vault_free(sb->vault);
	sb->vault = NULL;
	petri__kaudit_unwatch_sandbox(sb);
	if (created)
		petri__audit_sandbox_destroyed(sb, sb->died);
	petri__cgroup_destroy(&sb->cgroup);
	/* Every process of the sandbox is gone: its host ids are free. */
	if (sb->host_ids_lock_fd >= 0)
		close(sb->host_ids_lock_fd);
	if (sb->workspace_fd >= 0)
		close(sb->workspace_fd);
	if (sb->cancel_fd >= 0)
		close(sb->cancel_fd);
	free_strv(sb->env);
	free_strv(sb->allow);
	free(sb);
}

void petri__sandbox_free(petri_sandbox *sb, int created)
{
	free_sandbox(sb, created);
}

void petri__sandbox_unlink(petri_sandbox *sb)
{
	unlink_sandbox(sb);
}

static int fill_init_cfg(petri_ctx *ctx, const petri_sandbox_opts *o, struct petri_init_cfg *cfg,
			 struct petri_bind **binds, petri_error **err)
{
	if (o->hostname && !valid_hostname(o->hostname))
		return petri__err(err, EINVAL, "hostname '%.64s' is not a valid host name",
				  o->hostname);
	snprintf(cfg->hostname, sizeof(cfg->hostname), "%s", o->hostname ? o->hostname : "petri");
	int r;
	if (o->rootfs) {
		if ((r = check_dir("rootfs", o->rootfs, err)) < 0)
			return r;
		snprintf(cfg->rootfs, sizeof(cfg->rootfs), "%s", o->rootfs);
	}
	if (o->workspace_dir) {
		if ((r = check_dir("workspace", o->workspace_dir, err)) < 0)
			return r;
		snprintf(cfg->workspace_dir, sizeof(cfg->workspace_dir), "%s", o->workspace_dir);
	}
	size_t nb = 0;
	while (o->binds && o->binds[nb])
		nb++;
	if (nb > PETRI_MAX_BINDS)
		return petri__err(err, E2BIG, "too many binds (%zu, at most %d)", nb,
				  PETRI_MAX_BINDS);
	if (nb) {
		*binds = calloc(nb, sizeof(**binds));
		if (!*binds)
			return petri__err(err, ENOMEM, "binds");
		for (size_t i = 0; i < nb; i++)
			if ((r = parse_bind(o->binds[i], &(*binds)[i], err)) < 0)
				return r;
	}
	cfg->binds = *binds;
	cfg->nbinds = (int)nb;
	cfg->tmp_bytes = o->tmp_bytes ? o->tmp_bytes : DEFAULT_TMP;
	cfg->workspace_bytes = o->workspace_bytes ? o->workspace_bytes : DEFAULT_WORKSPACE;
	cfg->net = o->net;
	cfg->flags = o->flags;
	cfg->landlock = ctx->landlock_abi > 0 && !(o->flags & PETRI_SANDBOX_F_NO_LANDLOCK);
	cfg->host_is_root = ctx->is_root;
	cfg->drop_groups = ctx->is_root;
	cfg->inotify_instances = o->inotify_instances_max ? o->inotify_instances_max :
							    DEFAULT_INOTIFY_INSTANCES;
	cfg->inotify_watches = o->inotify_watches_max ? o->inotify_watches_max :
							DEFAULT_INOTIFY_WATCHES;
	cfg->sigpending = o->sigpending_max ? o->sigpending_max : DEFAULT_SIGPENDING;
	cfg->msgqueue_bytes = o->msgqueue_bytes ? o->msgqueue_bytes : DEFAULT_MSGQUEUE;
	return 0;
}

/* init's configuration as a sealed memfd for an exec'd init (see
 * struct petri_init_cfg); the fd or -errno. */
static int init_cfg_memfd(const struct petri_init_cfg *cfg, const petri_ctx *ctx, petri_error **err)
{
	struct petri_init_cfg flat = *cfg;
	flat.magic = PETRI_INIT_CFG_MAGIC;
	flat.seccomp_len = ctx->seccomp.fprog.len;
	flat.binds = NULL;
	flat.seccomp = NULL;
	_cleanup_close_ int fd = memfd_create("petri-init-cfg", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return petri__err(err, errno, "memfd for the sandbox configuration");
	int r = petri__write_all(fd, &flat, sizeof(flat));
	if (r == 0 && cfg->nbinds)
		r = petri__write_all(fd, cfg->binds, (size_t)cfg->nbinds * sizeof(*cfg->binds));
	if (r == 0 && flat.seccomp_len)
		r = petri__write_all(fd, ctx->seccomp.fprog.filter,
				     flat.seccomp_len * sizeof(struct sock_filter));
	if (r == 0 && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
		r = -errno;
	if (r < 0)
		return petri__err(err, r, "write the sandbox configuration");
	return TAKE_FD(fd);
}

/* A CPU limit (thousandths of a CPU) is 0 (none) or from CPUS_MILLI_MIN to
 * the host's online CPUs: more could never bind, so it is a mistake. */
static int check_cpus(uint32_t cpus_milli, petri_error **err)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	if (!cpus_milli)
		return 0;
	if (cpus_milli < CPUS_MILLI_MIN)
		return petri__err(err, EINVAL,
				  "CPU limit %u.%03u is below the minimum of 0.010 CPUs",
				  cpus_milli / 1000, cpus_milli % 1000);
	if (online > 0 && (uint64_t)cpus_milli > (uint64_t)online * 1000u)
		return petri__err(err, EINVAL, "CPU limit %u.%03u is more than the %ld CPUs online",
				  cpus_milli / 1000, cpus_milli % 1000, online);
	return 0;
}

static int check_sandbox_opts(const petri_sandbox_opts *o, petri_error **err)
{
	if (o->flags &
	    ~(PETRI_SANDBOX_F_NO_LANDLOCK | PETRI_SANDBOX_F_NO_POOL | PETRI_SANDBOX_F_ONE_EXEC))
		return petri__err(err, EINVAL, "sandbox options: unknown flags 0x%x", o->flags);
	if (o->language && !petri__lang_find(o->language, err))
		return -EINVAL;
	if (o->id && !valid_id(o->id))
		return petri__err(err, EINVAL, "sandbox id '%.64s': use 1-48 of [A-Za-z0-9_-]",
				  o->id);
	int has_secrets = o->secrets && o->secrets[0];
	if (has_secrets && o->net != PETRI_NET_PROXY)
		return petri__err(err, EINVAL,
				  "secrets need net proxy (they are only ever sent through it)");
	if (o->upstream_ca && !has_secrets)
		return petri__err(
			err, EINVAL,
			"upstream_ca %.200s: applies to secret-bound hosts only (no secrets "
			"given)",
			o->upstream_ca);
	if (o->net == PETRI_NET_PROXY && !has_secrets && (!o->allow || !o->allow[0]))
		return petri__err(
			err, EINVAL,
			"network mode proxy needs an allowlist (allow: HOST[:PORT][=ADDR]) or "
			"secrets");
	if (o->net > PETRI_NET_PROXY)
		return petri__err(err, EINVAL, "unknown network mode %u", o->net);
	if (o->memory_bytes && o->memory_bytes < (4ull << 20))
		return petri__err(err, EINVAL, "memory limit %llu is below the 4 MiB minimum",
				  (unsigned long long)o->memory_bytes);
	if (o->tmp_bytes && o->tmp_bytes < 4096)
		return petri__err(err, EINVAL, "tmp size below 4 KiB");
	if (o->workspace_bytes && o->workspace_bytes < 4096)
		return petri__err(err, EINVAL, "workspace size below 4 KiB");
	if (o->workspace_bytes && o->workspace_dir)
		return petri__err(err, EINVAL,
				  "a workspace size applies to the tmpfs workspace, not to a host "
				  "workspace directory (limit that with the host's filesystem)");
	if (o->pids_max && o->pids_max < 4)
		return petri__err(err, EINVAL, "pids limit %u is below the minimum of 4",
				  o->pids_max);
	if (o->reserved1)
		return petri__err(err, EINVAL, "reserved1 must be 0");
	/* The kernel keeps these counts as ints (/proc/sys/user) and longs. */
	const struct {
		const char *name;
		uint64_t v, max;
	} counts[] = {
		{"inotify_instances_max", o->inotify_instances_max, INT32_MAX},
		{"inotify_watches_max", o->inotify_watches_max, INT32_MAX},
		{"sigpending_max", o->sigpending_max, INT32_MAX},
		{"msgqueue_bytes", o->msgqueue_bytes, INT64_MAX},
	};
	for (size_t i = 0; i < ARRAY_SIZE(counts); i++)
		if (counts[i].v > counts[i].max)
			return petri__err(err, EINVAL, "%s %llu is above %llu", counts[i].name,
					  (unsigned long long)counts[i].v,
					  (unsigned long long)counts[i].max);
	if (o->reserved2)
		return petri__err(err, EINVAL, "reserved2 must be 0");
	if (o->reserved3)
		return petri__err(err, EINVAL, "reserved3 must be 0");
	if (o->net != PETRI_NET_PROXY && (o->allow || o->net_max_conns || o->net_max_bytes))
		return petri__err(err, EINVAL,
				  "an allowlist and proxy limits need network mode proxy");
	return check_cpus(o->cpus_milli, err);
}

/* ---- TenantVault ---- */

/* Does a rule of @p already allow @r's host and port (so that the
 * secret's entry adds nothing, and must not: an .allow entry that pins the
 * name's address would conflict with an unpinned copy)? */
static int policy_covers(const struct petri_net_policy *p, const struct petri_net_rule *r)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct petri_net_rule *o = &p->rules[i];
		if (o->wildcard != r->wildcard || strcmp(o->host, r->host) != 0)
			continue;
		if (o->port == r->port || (o->port == 0 && (r->port == 80 || r->port == 443)))
			return 1;
	}
	return 0;
}

/*
 * The one policy of a proxied sandbox: .allow, and the hosts of the
 * secrets (petri__vault_allow) that .allow does not already name (an
 * address to dial for a secret's host comes from .allow: DESIGN.md
 * "Secrets").  @policy is set only on success.
 */
static int parse_policy(const char *const *allow, const struct petri_vault *vault,
			struct petri_net_policy *policy, petri_error **err)
{
	const char *const *extra = vault ? petri__vault_allow(vault) : NULL;
	size_t na = 0, ne = 0;
	while (allow && allow[na])
		na++;
	while (extra && extra[ne])
		ne++;
	if (ne == 0)
		return petri__net_policy_parse(policy, allow, err);
	struct petri_net_policy given = {0};
	int r;
	if (na && (r = petri__net_policy_parse(&given, allow, err)) < 0)
		return r;
	_cleanup_free_ const char **all = calloc(na + ne + 1, sizeof(*all));
	if (!all) {
		petri__net_policy_free(&given);
		return petri__err(err, ENOMEM, "allow");
	}
	size_t n = 0;
	for (size_t i = 0; i < na; i++)
		all[n++] = allow[i];
	for (size_t i = 0; i < ne && r >= 0; i++) {
		struct petri_net_policy one = {0};
		const char *entry[2] = {extra[i], NULL};
		if ((r = petri__net_policy_parse(&one, entry, err)) < 0)
			break;
		if (!policy_covers(&given, &one.rules[0]))
			all[n++] = extra[i];
		petri__net_policy_free(&one);
	}
	petri__net_policy_free(&given);
	return r < 0 ? r : petri__net_policy_parse(policy, all, err);
}

/*
 * The sandbox's trust store for init (protocol.h, ca_fd): a sealed memfd
 * holding the host's CA bundle, then the vault's CA.  No host bundle (a
 * minimal host): the vault's CA alone.  The fd or -errno.
 */
#define HOST_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define HOST_CA_BUNDLE_MAX (4u << 20) /* init's staging tmpfs holds it (mounts.c) */
static int vault_ca_memfd(const struct petri_vault *v, struct petri_init_cfg *cfg,
			  petri_error **err)
{
	size_t ca_len = 0;
	const char *ca = petri__vault_ca_pem(v, &ca_len);
	_cleanup_close_ int fd = memfd_create("petri-vault-ca", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return petri__err(err, errno, "memfd for the sandbox's CA bundle");
	_cleanup_close_ int sys = open(HOST_CA_BUNDLE, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (sys < 0 && errno != ENOENT)
		return petri__err(err, errno, "read %s", HOST_CA_BUNDLE);
	uint64_t size = 0;
	char buf[65536], last = '\n';
	int r = 0;
	for (ssize_t n; sys >= 0 && (n = read(sys, buf, sizeof(buf))) != 0;) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return petri__err(err, errno, "read %s", HOST_CA_BUNDLE);
		if ((size += (uint64_t)n) > HOST_CA_BUNDLE_MAX)
			return petri__err(err, EFBIG, "%s: larger than %u bytes", HOST_CA_BUNDLE,
					  HOST_CA_BUNDLE_MAX);
		if ((r = petri__write_all(fd, buf, (size_t)n)) < 0)
			return petri__err(err, r, "write the sandbox's CA bundle");
		last = buf[n - 1];
	}
	/* A bundle that does not end its last line would glue the PEMs. */
	if (last != '\n') {
		if ((r = petri__write_all(fd, "\n", 1)) < 0)
			return petri__err(err, r, "write the sandbox's CA bundle");
		size++;
	}
	if ((r = petri__write_all(fd, ca, ca_len)) < 0)
		return petri__err(err, r, "write the sandbox's CA bundle");
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return petri__err(err, errno, "seal the sandbox's CA bundle");
	cfg->ca_size = size + ca_len;
	cfg->ca_len = ca_len;
	return TAKE_FD(fd);
}

/* ---- host ids ---- */

/*
 * A root host maps each sandbox's ids 0..65535 onto a range of its own,
 * [start, start + 65536), as container runtimes with user namespaces do:
 * every id a program expects exists inside (root 0, sandbox 1000, nobody
 * 65534), so changing to one without the privilege fails with EPERM, not
 * EINVAL.  Host root has no inside id (0 is below every start).
 *
 * Ranges are claimed, not only hashed: every sandbox of every petri host
 * process holds an OFD write lock on the bytes of PETRI_HOST_IDS_LOCK that
 * stand for the 64 Ki-id blocks its range touches (block = id >> 16) while
 * it lives, so two live sandboxes never share an id.  The kernel drops the
 * lock with the last fd, so a host that dies frees its ranges.  The hashed
 * first choice (host pid, serial) only keeps probing short.  Where the lock
 * file cannot be used (a read-only /run, a directory not root's), ranges
 * are hashed only, and a warning says so: see README.md for the odds.
 */
#define HOST_IDS_RANGE 65536u
#define HOST_IDS_LAST_START DEFAULT_UID_BASE_MAX /* the last id stays below (uid_t)-1 */
_Static_assert(HOST_IDS_LAST_START == UINT32_MAX - HOST_IDS_RANGE, "last range start");
#define PETRI_HOST_IDS_DIR "/run/petri"
#define PETRI_HOST_IDS_LOCK "host-ids.lock"

/* The lock file, freshly opened (one open file description per sandbox:
 * OFD locks of one description never conflict with each other), or -errno.
 * Refused unless the directory is root's and writable by root alone and the
 * file is root's and root's alone (no bit for group or others): anyone
 * else could otherwise hold every range, and a read lock, which needs only
 * read access, holds them as well as a write lock. */
static int open_host_ids_lock(void)
{
	if (mkdir(PETRI_HOST_IDS_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	_cleanup_close_ int dir =
		open(PETRI_HOST_IDS_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (dir < 0)
		return -errno;
	if (fstat(dir, &st) < 0)
		return -errno;
	if (st.st_uid != 0 || (st.st_mode & 022))
		return -EPERM;
	int fd = openat(dir, PETRI_HOST_IDS_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 077)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* Claim the blocks of [start, start + 65536): 1 claimed, 0 taken, -errno. */
static int claim_host_ids(int lock_fd, uint32_t start)
{
	struct flock fl = {
		.l_type = F_WRLCK,
		.l_whence = SEEK_SET,
		.l_start = (off_t)(start >> 16),
		.l_len = (off_t)(((start + HOST_IDS_RANGE - 1) >> 16) - (start >> 16) + 1),
	};
	if (fcntl(lock_fd, F_OFD_SETLK, &fl) == 0)
		return 1;
	return errno == EAGAIN || errno == EACCES ? 0 : -errno;
}

static int choose_host_ids(petri_sandbox *sb, uint64_t serial, petri_error **err)
{
	petri_ctx *ctx = sb->ctx;
	if (!ctx->is_root) {
		/* An unprivileged host can map its own ids only: 1000 is the
		 * one id inside (and setgroups is denied). */
		sb->host_uid = ctx->uid;
		sb->host_gid = ctx->gid;
		return 0;
	}
	uint32_t base = (uint32_t)ctx->host_uid_base; /* <= HOST_IDS_LAST_START (petri_ctx_new) */
	uint32_t nslots = (HOST_IDS_LAST_START - base) / HOST_IDS_RANGE + 1;
	uint32_t first = ctx->default_uid_base ?
				 ((uint32_t)getpid() * 2654435761u + (uint32_t)serial) % nslots :
				 (uint32_t)(serial % nslots);
	int fd = open_host_ids_lock();
	if (fd < 0) {
		if (!__atomic_exchange_n(&ctx->host_ids_lock_warned, 1, __ATOMIC_RELAXED))
			petri__log(ctx, PETRI_LOG_WARN,
				   "cannot use %s/%s (%s): host id ranges are hashed, not "
				   "claimed, and two sandboxes may share one",
				   PETRI_HOST_IDS_DIR, PETRI_HOST_IDS_LOCK, strerror(-fd));
		sb->host_ids_start = base + first * HOST_IDS_RANGE;
	} else {
		uint32_t i = 0;
		for (; i < nslots; i++) {
			uint32_t start = base + ((first + i) % nslots) * HOST_IDS_RANGE;
			int r = claim_host_ids(fd, start);
			if (r < 0) {
				close(fd);
				return petri__err(err, r, "lock %s/%s", PETRI_HOST_IDS_DIR,
						  PETRI_HOST_IDS_LOCK);
			}
			if (r) {
				sb->host_ids_start = start;
				break;
			}
		}
		if (i == nslots) {
			close(fd);
			/* EAGAIN, not EBUSY (an exec already running): ranges
			 * free up as sandboxes end. */
			return petri__err(err, EAGAIN,
					  "every host id range from 0x%x up is in use by a sandbox",
					  (unsigned)base);
		}
		sb->host_ids_lock_fd = fd;
	}
	sb->host_uid = sb->host_ids_start + PETRI_SANDBOX_UID;
	sb->host_gid = sb->host_ids_start + PETRI_SANDBOX_GID;
	return 0;
}

/* Process-wide: cgroup names petri-<pid>-<serial> must not collide
 * between two contexts of one process. */
static uint64_t next_serial(void)
{
	static uint64_t process_serial;
	return __atomic_add_fetch(&process_serial, 1, __ATOMIC_RELAXED);
}

static void set_id(petri_sandbox *sb, const char *id, uint64_t serial)
{
	if (id)
		snprintf(sb->id, sizeof(sb->id), "%s", id);
	else
		snprintf(sb->id, sizeof(sb->id), "sb_%08x%04llx", (unsigned)getpid(),
			 (unsigned long long)(serial & 0xffff));
}

/* Link @sb into its context's list and announce it: from here on it is a
 * created sandbox. */
static void publish(petri_sandbox *sb)
{
	petri_ctx *ctx = sb->ctx;
	pthread_mutex_lock(&ctx->lock);
	sb->next = ctx->sandboxes;
	ctx->sandboxes = sb;
	pthread_mutex_unlock(&ctx->lock);
	petri__audit_sandbox_created(sb);
	/* From here on: init's own setup (the library's, not the code's
	 * actions) stays out of the stream; init never execs anything. */
	petri__kaudit_watch_sandbox(sb);
	petri__log(ctx, PETRI_LOG_DEBUG, "sandbox %s: init pid %d, cgroup id %llu, reuses %llu",
		   sb->id, sb->pid, (unsigned long long)sb->cgroup.id,
		   (unsigned long long)sb->reuses);
}

/* Build a sandbox for the checked options @o: everything of a create but
 * publish(). */
static int build(petri_ctx *ctx, const petri_sandbox_opts *opts, int poolable, petri_sandbox **out,
		 petri_error **err)
{
	const petri_sandbox_opts *o = opts;
	struct petri_init_cfg cfg = {.workspace_tree_fd = -1, .ca_fd = -1};
	struct petri_net_policy policy = {0};
	struct petri_vault *vault = NULL;
	_cleanup_free_ struct petri_bind *binds = NULL;
	int sync_pipe[2] = {-1, -1}, sp[2] = {-1, -1};
	int r;

	if ((r = fill_init_cfg(ctx, o, &cfg, &binds, err)) < 0)
		return r;
	cfg.poolable = poolable;
	/* Bad secrets and a bad allowlist are the caller's mistakes: found
	 * before any work (the vault's CA is made here too: it is cheap). */
	if (o->secrets && o->secrets[0] &&
	    (r = petri__vault_new(o->secrets, o->upstream_ca, &vault, err)) < 0)
		return r;
	if (o->net == PETRI_NET_PROXY && (r = parse_policy(o->allow, vault, &policy, err)) < 0) {
		petri__vault_free(vault);
		return r;
	}

	petri_sandbox *sb = calloc(1, sizeof(*sb));
	if (!sb) {
		petri__net_policy_free(&policy);
		petri__vault_free(vault);
		return petri__err(err, ENOMEM, "petri_sandbox_create");
	}
	sb->vault = TAKE_PTR(vault);
	sb->custom_root = o->rootfs != NULL;
	sb->one_exec = (o->flags & PETRI_SANDBOX_F_ONE_EXEC) != 0;
	sb->ctx = ctx;
	sb->pool = -1;
	sb->pid = -1;
	sb->pidfd = sb->ctl_fd = sb->workspace_fd = sb->cancel_fd = sb->host_ids_lock_fd = -1;
	sb->cgroup.v2_dirfd = -1;
	sb->audit = o->audit;
	sb->memory_bytes = o->memory_bytes ? o->memory_bytes : DEFAULT_MEMORY;
	sb->pids_max = o->pids_max ? o->pids_max : DEFAULT_PIDS;
	sb->cpus_milli = o->cpus_milli ? o->cpus_milli : DEFAULT_CPUS_MILLI;
	snprintf(sb->language, sizeof(sb->language), "%s", o->language ? o->language : "");
	sb->env = copy_strv(o->env, 1, err, &r);
	if (!sb->env) {
		r = r ? r : petri__err(err, ENOMEM, "env");
		goto fail;
	}
	sb->net = o->net;
	if (o->net == PETRI_NET_PROXY) {
		sb->allow = copy_strv(o->allow, 0, err, &r);
		if (!sb->allow) {
			r = r ? r : petri__err(err, ENOMEM, "allow");
			goto fail;
		}
		sb->net_max_conns = o->net_max_conns ? o->net_max_conns : DEFAULT_NET_MAX_CONNS;
		sb->net_max_bytes = o->net_max_bytes ? o->net_max_bytes : DEFAULT_NET_MAX_BYTES;
	}

	uint64_t serial = next_serial();
	set_id(sb, o->id, serial);
	snprintf(cfg.id, sizeof(cfg.id), "%s", sb->id);
	if ((r = choose_host_ids(sb, serial, err)) < 0)
		goto fail;

	sb->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sb->cancel_fd < 0) {
		r = petri__err(err, errno, "eventfd");
		goto fail;
	}
	char cgname[64];
	petri__cgroup_name(cgname, sizeof(cgname), serial);
	if (sb->cpus_milli && (r = petri__cgroup_cpu_supported(&ctx->cgroups, err)) < 0)
		goto fail;
	r = petri__cgroup_create(&ctx->cgroups, cgname, sb->cpus_milli != 0, &sb->cgroup, err);
	if (r < 0)
		goto fail;

	if (pipe2(sync_pipe, O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		r = petri__err(err, errno, "create sandbox control channel");
		goto fail;
	}
	cfg.sync_fd = sync_pipe[0];
	cfg.ctl_fd = sp[1];
	cfg.close_fd = sp[0];
	cfg.seccomp = &ctx->seccomp;
	cfg.workspace_tree_fd = -1;
	if (ctx->is_root && cfg.workspace_dir[0]) {
		r = petri__spawn_workspace_tree(sb, cfg.workspace_dir, err);
		if (r < 0)
			goto fail;
		cfg.workspace_tree_fd = r;
	}
	if (sb->vault) {
		if ((r = vault_ca_memfd(sb->vault, &cfg, err)) < 0)
			goto fail;
		cfg.ca_fd = r;
	}

	/* Host sockets can be in its filesystem: its connects are brokered,
	 * and the kernel backstop is on its cgroup before any of its
	 * processes exists (after the checks of the caller's workspace: a
	 * refused create leaves not even the context's first load behind).
	 * A host that cannot have the programs (not root or a kernel before
	 * 6.7: a failed load is logged once per context; no cgroup v2) gets
	 * the guard without them, which the README calls raceable: refusing every writable bind
	 * and workspace there would leave no way to use them at all. */
	if (petri__unix_guard_wanted(&cfg)) {
		petri_error *e = NULL;
		cfg.unix_guard = PETRI_UNIX_GUARD_HOOKED;
		if (sb->cgroup.v2_dirfd >= 0)
			r = petri__unix_guard_attach(ctx, sb->cgroup.v2_dirfd, &e);
		else
			r = petri__err(&e, EOPNOTSUPP,
				       "unix socket guard: the sandbox has no cgroup v2");
		if (r == -EOPNOTSUPP) {
			cfg.unix_guard = PETRI_UNIX_GUARD_ALONE;
			r = 0;
		}
		if (r < 0 && err && !*err)
			*err = TAKE_PTR(e);
		petri_error_free(e);
		if (r < 0)
			goto fail;
	}

	/* Not CLONE_NEWNET: init unshares its network namespace itself (the
	 * slowest to create, ~0.6 ms) while we write its id maps. */
	uint64_t flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC |
			 CLONE_NEWCGROUP;
	struct petri_spawn_req req = {.cfg = &cfg,
				      .clone_flags = flags,
				      .cgroup_fd = sb->cgroup.v2_dirfd,
				      .cfg_fd = -1,
				      .cgroup = &sb->cgroup,
				      .userns_owner = ctx->is_root ? sb->host_uid : 0};
	if (__atomic_load_n(&ctx->init_mode, __ATOMIC_RELAXED) == INIT_EXEC) {
		if ((r = init_cfg_memfd(&cfg, ctx, err)) < 0)
			goto fail;
		req.cfg_fd = r;
	}
	r = petri__spawn_init(ctx, &req);
	if (req.cfg_fd >= 0)
		close(req.cfg_fd);
	if (r < 0) {
		r = petri__err(err, r, "clone sandbox init");
		goto fail;
	}
	sb->pid = req.pid;
	sb->pidfd = req.pidfd;
	if (cfg.workspace_tree_fd >= 0)
		close(cfg.workspace_tree_fd);
	cfg.workspace_tree_fd = -1;
	if (cfg.ca_fd >= 0)
		close(cfg.ca_fd);
	cfg.ca_fd = -1;
	close(sync_pipe[0]);
	close(sp[1]);
	sync_pipe[0] = sp[1] = -1;
	sb->ctl_fd = TAKE_FD(sp[0]);

	if ((r = petri__spawn_write_id_maps(sb, sb->pid, err)) < 0)
		goto fail;
	if ((r = petri__cgroup_attach(&sb->cgroup, sb->pid, !req.in_cgroup, !req.in_v1, err)) < 0)
		goto fail;
	if (write(sync_pipe[1], "g", 1) != 1) {
		r = petri__err(err, errno, "start sandbox init");
		goto fail;
	}
	close(sync_pipe[1]);
	sync_pipe[1] = -1;
	/* While init builds the root: nothing of the code's runs before we
	 * return, and init's own use is small. */
	if ((r = petri__cgroup_set_limits(&sb->cgroup, sb->memory_bytes, sb->pids_max,
					  sb->cpus_milli, err)) < 0)
		goto fail;
	if ((r = wait_ready(sb, err)) < 0)
		goto fail;
	/* Its DNS server and proxies answer before any of its code runs. */
	if (o->net == PETRI_NET_PROXY && (r = serve_egress(sb, &policy, err)) < 0)
		goto fail;
	*out = sb;
	return 0;

fail:
	if (cfg.workspace_tree_fd >= 0)
		close(cfg.workspace_tree_fd);
	if (cfg.ca_fd >= 0)
		close(cfg.ca_fd);
	for (int i = 0; i < 2; i++) {
		if (sync_pipe[i] >= 0)
			close(sync_pipe[i]);
		if (sp[i] >= 0)
			close(sp[i]);
	}
	petri__net_policy_free(&policy);
	free_sandbox(sb, 0);
	return r;
}

int petri__sandbox_opts_read(petri_sandbox_opts *o, const petri_sandbox_opts *opts,
			     petri_error **err)
{
	int r = petri__opts_copy(o, sizeof(*o), opts, err, "petri_sandbox_opts");
	return r < 0 ? r : check_sandbox_opts(o, err);
}

int petri__sandbox_build(petri_ctx *ctx, const petri_sandbox_opts *o, int pool, petri_sandbox **out,
			 petri_error **err)
{
	petri_sandbox *sb = NULL;
	int r = build(ctx, o, pool >= 0, &sb, err);
	if (r < 0)
		return r;
	sb->pool = pool;
	publish(sb);
	*out = sb;
	return 0;
}

int petri__sandbox_build_warm(petri_ctx *ctx, const char *language, petri_sandbox **out,
			      petri_error **err)
{
	petri_sandbox_opts o = PETRI_SANDBOX_OPTS_INIT;
	o.language = language;
	return build(ctx, &o, 1, out, err);
}

int petri__sandbox_take(petri_sandbox *sb, const petri_sandbox_opts *o, petri_error **err)
{
	int r;
	char **env = copy_strv(o->env, 1, err, &r);
	if (!env)
		return r ? r : petri__err(err, ENOMEM, "env");
	uint64_t memory = o->memory_bytes ? o->memory_bytes : DEFAULT_MEMORY;
	uint32_t pids = o->pids_max ? o->pids_max : DEFAULT_PIDS;
	uint32_t cpus = o->cpus_milli ? o->cpus_milli : DEFAULT_CPUS_MILLI;
	if ((r = petri__cgroup_set_limits(&sb->cgroup, memory, pids, cpus, err)) < 0) {
		free_strv(env);
		return r;
	}
	free_strv(sb->env);
	sb->env = env;
	sb->memory_bytes = memory;
	sb->pids_max = pids;
	sb->cpus_milli = cpus;
	sb->audit = o->audit;
	set_id(sb, o->id, next_serial());
	publish(sb);
	return 0;
}

int petri__sandbox_reset_start(petri_sandbox *sb, struct petri_cgroup *old, petri_error **err)
{
	petri_ctx *ctx = sb->ctx;
	int r;

	/* What the host kept of the last user. */
	if (sb->workspace_fd >= 0)
		close(sb->workspace_fd);
	sb->workspace_fd = -1;
	uint64_t v;
	while (read(sb->cancel_fd, &v, sizeof(v)) > 0)
		;
	free_strv(sb->env);
	sb->env = NULL;
	sb->exec_serial = 0;
	__atomic_store_n(&sb->running_exec, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&sb->cancel_for, 0, __ATOMIC_RELEASE);
	sb->memory_bytes = DEFAULT_MEMORY;
	sb->pids_max = DEFAULT_PIDS;
	sb->cpus_milli = DEFAULT_CPUS_MILLI;
	snprintf(sb->id, sizeof(sb->id), "%s", "");

	/* A new cgroup (new counters, a new id for the kernel audit), init
	 * in it before it makes its new cgroup namespace. */
	struct petri_cgroup cg;
	char name[64];
	petri__cgroup_name(name, sizeof(name), next_serial());
	*old = sb->cgroup;
	if ((r = petri__cgroup_create(&ctx->cgroups, name, 0, &cg, err)) < 0) {
		sb->cgroup = *old; /* free_sandbox removes it */
		*old = (struct petri_cgroup){
			.mode = PETRI_CGROUP_NONE, .v2_dirfd = -1, .v2_peak_fd = -1};
		return r;
	}
	sb->cgroup = cg;
	/* No limits yet: the take writes them, and until then nothing but
	 * init and its next reaper runs. */
	if ((r = petri__cgroup_attach(&cg, sb->pid, 1, 1, err)) < 0)
		return r;
	struct petri_msg m = {.type = PETRI_MSG_RESET};
	if ((r = petri__msg_send(sb->ctl_fd, &m, NULL, 0)) < 0)
		return petri__err(err, r, "send the reset");
	return 0;
}

int petri__sandbox_reset_finish(petri_sandbox *sb, struct petri_cgroup *old, petri_error **err)
{
	int r = wait_ready(sb, err);
	/* Every reaper is gone with its processes: nothing may be left in the
	 * old cgroup. */
	int left = r == 0 ? petri__cgroup_populated(old) : 0;
	if (left)
		r = petri__err(err, left < 0 ? -left : EBUSY,
			       "the old cgroup still lists %d process(es)", left);
	petri__cgroup_destroy(old);
	if (r == 0)
		sb->reuses++;
	return r;
}

/* Only what a take can apply may differ from a default sandbox: see
 * petri_warm in petri.h. */
int petri__sandbox_opts_poolable(const petri_ctx *ctx, const petri_sandbox_opts *o)
{
	if (o->cpus_milli && petri__cgroup_cpu_supported(&ctx->cgroups, NULL) < 0)
		return 0;
	/* A v1 CPU limit needs a cgroup in the cpu hierarchy, which a pool's
	 * sandbox is built without. */
	if (o->cpus_milli && ctx->cgroups.mode == PETRI_CGROUP_V1)
		return 0;
	return o->flags == 0 && !o->hostname && !o->rootfs && !o->workspace_dir &&
	       (!o->binds || !o->binds[0]) && !o->tmp_bytes && !o->workspace_bytes &&
	       o->net == PETRI_NET_NONE && !o->inotify_instances_max && !o->inotify_watches_max &&
	       !o->sigpending_max && !o->msgqueue_bytes && (!o->allow || !o->allow[0]) &&
	       !o->net_max_conns && !o->net_max_bytes && (!o->secrets || !o->secrets[0]) &&
	       !o->upstream_ca;
}

/* Ask init for one socket (PETRI_MSG_LISTEN): the reply channel to read
 * the answer from (listen_recv), or -errno. */
static int listen_send(petri_sandbox *sb, const struct petri_sock_req *q, petri_error **err)
{
	if (q->family != AF_INET && q->family != AF_INET6)
		return petri__err(err, EAFNOSUPPORT,
				  "listen: address family %d (AF_INET or AF_INET6)", q->family);
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return petri__err(err, errno, "listen: reply channel");
	struct petri_msg m = {.type = PETRI_MSG_LISTEN,
			      .stage = (uint32_t)q->family,
			      .status = q->port,
			      .exec_id = q->flags};
	int r = petri__msg_send(sb->ctl_fd, &m, &sp[1], 1);
	close(sp[1]);
	if (r == -EPIPE) { /* the last exec has ended: init is on its way out */
		close(sp[0]);
		return petri__err(err, ECHILD, "sandbox %s: init is gone", sb->id);
	}
	if (r < 0) {
		close(sp[0]);
		return petri__err(err, r, "sandbox %s: send the listen request", sb->id);
	}
	return sp[0];
}

/* init's answer on @reply (closed here): the socket, or -errno. */
static int listen_recv(petri_sandbox *sb, int reply, petri_error **err)
{
	struct pollfd p = {.fd = reply, .events = POLLIN};
	int n;
	do
		n = poll(&p, 1, READY_TIMEOUT_MS);
	while (n < 0 && errno == EINTR);
	int fd = -1, nfds = 1;
	struct petri_msg m;
	int r = n > 0 ? petri__msg_recv(reply, &m, &fd, &nfds) : -ETIMEDOUT;
	close(reply);
	if (r == 0)
		r = -ECHILD; /* init closed the channel without an answer */
	if (r < 0)
		return petri__err(err, r, "sandbox %s: no answer to the listen request", sb->id);
	if (m.type == PETRI_MSG_LISTENING && nfds == 1)
		return fd;
	if (nfds == 1)
		close(fd);
	m.text[sizeof(m.text) - 1] = '\0';
	return petri__err(err, m.err ? m.err : EPROTO, "sandbox %s: %s", sb->id,
			  m.type == PETRI_MSG_SETUP_ERROR ? m.text : "unexpected answer");
}

int petri__sandbox_sockets(petri_sandbox *sb, size_t n, const struct petri_sock_req *reqs, int *fds,
			   petri_error **err)
{
	if (!sb)
		return petri__err(err, EINVAL, "petri__sandbox_sockets: sb is NULL");
	if (sb->dead || petri_sandbox_init_pid(sb) < 0)
		return petri__err(err, ECHILD, "sandbox %s: init is gone", sb->id);
	int *replies = calloc(n ? n : 1, sizeof(*replies));
	if (!replies)
		return petri__err(err, ENOMEM, "listen");
	/* Every request first, then every answer: one wake-up of init's for
	 * all of them, not one round trip each. */
	size_t sent = 0, got = 0;
	int r = 0;
	for (; sent < n; sent++)
		if ((r = replies[sent] = listen_send(sb, &reqs[sent], err)) < 0)
			break;
	int send_failed = r < 0;
	for (; got < sent && !send_failed; got++)
		if ((r = fds[got] = listen_recv(sb, replies[got], err)) < 0)
			break;
	if (r < 0) {
		/* Open: the sockets received, the channels not read (a failed
		 * listen_recv closed its own). */
		for (size_t i = 0; i < got; i++)
			close(fds[i]);
		for (size_t i = send_failed ? 0 : got + 1; i < sent; i++)
			close(replies[i]);
	}
	free(replies);
	return r < 0 ? r : 0;
}

int petri__sandbox_socket(petri_sandbox *sb, int family, uint16_t port, uint32_t flags,
			  petri_error **err)
{
	struct petri_sock_req q = {.family = family, .port = port, .flags = flags};
	int fd = -1;
	int r = petri__sandbox_sockets(sb, 1, &q, &fd, err);
	return r < 0 ? r : fd;
}

int petri__sandbox_listen(petri_sandbox *sb, int family, uint16_t port, petri_error **err)
{
	return petri__sandbox_socket(sb, family, port, 0, err);
}

PETRI_API const char *petri_sandbox_id(const petri_sandbox *sb)
{
	return sb ? sb->id : "";
}

PETRI_API int petri_sandbox_init_pid(const petri_sandbox *sb)
{
	if (!sb || sb->dead || sb->pidfd < 0)
		return -1;
	/* A pidfd polls readable once its process has exited. */
	struct pollfd p = {.fd = sb->pidfd, .events = POLLIN};
	return poll(&p, 1, 0) == 0 ? sb->pid : -1;
}

PETRI_API int64_t petri_sandbox_host_uid(const petri_sandbox *sb)
{
	return sb ? (int64_t)sb->host_uid : -1;
}

PETRI_API uint64_t petri_sandbox_cgroup_id(const petri_sandbox *sb)
{
	return sb ? sb->cgroup.id : 0;
}

PETRI_API int petri_sandbox_net_stats(const petri_sandbox *sb, petri_net_stats *out)
{
	if (!sb || !out || out->sz < 2 * sizeof(uint32_t) || out->sz > 4096)
		return -EINVAL;
	petri_net_stats s = {.sz = out->sz};
	petri__proxy_counts(sb, &s.allowed, &s.refused, &s.dns_queries);
	size_t n = out->sz < sizeof(s) ? out->sz : sizeof(s);
	if (out->sz > sizeof(s))
		memset((char *)out + sizeof(s), 0, out->sz - sizeof(s));
	memcpy(out, &s, n);
	return 0;
}
