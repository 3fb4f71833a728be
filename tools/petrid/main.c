/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - petrid's process, the top layer: options, the config and its
 * reloads, the host checks, the undertaker, the timer, signals and the
 * drain.  It plugs the layers together (the dispatcher and the exec hooks
 * into http.c and registry.c); nothing calls into it.
 *
 * Order at start matters: the undertaker is forked before any thread
 * exists (a fork of a threaded process may only exec), the host checks run
 * before the library's context starts its supervisor thread, and every
 * thread is created with SIGHUP/SIGINT/SIGTERM blocked, so that only the
 * main thread, in sigwaitinfo(), sees them.  With a warm pool ("warm"),
 * the pooled context (whose refill thread starts with it) replaces the
 * first one after all of that (warm_context()).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "petrid.h"
#include "stream.h"
#ifdef PETRID_HOSTCHECK
#include "hostcheck.h"
#endif

static const char *config_path;
/* The config petrid started with (a reference of its own): the warm pool
 * is made from it once, and a reload compares its "warm" with this one. */
static struct pd_config *start_cfg;
static int undertaker_fd = -1;
static volatile int timer_stop;

static void library_log(int level, const char *msg, void *userdata)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	(void)userdata;
	pd_log("libpetri %s: %s", names[level & 3], msg);
}

/* ---- the undertaker ---- */

/* Whether a "petri-<pid>-*" cgroup is left under @dir (a few levels). */
static bool cgroups_left(const char *dir, const char *prefix, int depth)
{
	DIR *d = opendir(dir);
	bool found = false;
	if (!d)
		return false;
	struct dirent *de;
	while (!found && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
			found = true;
			break;
		}
		if (depth > 0) {
			char sub[4096];
			snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
			found = cgroups_left(sub, prefix, depth - 1);
		}
	}
	closedir(d);
	return found;
}

/* The child forked at start: it waits for the pipe to petrid to close.  A
 * clean exit writes 'X' first; otherwise petrid died (SIGKILL, a crash):
 * its sandboxes died with it (parent-death signal), and this removes what
 * they leave, their cgroups (a context's creation sweeps those of dead
 * hosts), and petrid's unix sockets. */
static void undertaker(int fd, pid_t parent, char **unix_paths)
{
	char c = 0, prefix[32];
	ssize_t n;
	prctl(PR_SET_NAME, "petrid-undertkr");
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	while ((n = read(fd, &c, 1)) != 0) {
		if (n < 0 && errno != EINTR)
			break;
		if (n == 1 && c == 'X')
			_exit(0);
	}
	pd_log("undertaker: petrid %d died: sweeping what it left", (int)parent);
	for (size_t i = 0; unix_paths && unix_paths[i]; i++)
		if (strncmp(unix_paths[i], "unix:", 5) == 0)
			unlink(unix_paths[i] + 5);
	snprintf(prefix, sizeof(prefix), "petri-%d-", (int)parent);
	int64_t deadline = pd_mono_ms() + 30000;
	bool left = true;
	while (pd_mono_ms() < deadline) {
		/* The sweep only takes cgroups whose host pid is gone. */
		if (kill(parent, 0) == 0) {
			usleep(50 * 1000);
			continue;
		}
		petri_ctx *ctx = NULL;
		petri_ctx_opts o = PETRI_CTX_OPTS_INIT;
		o.log_level = PETRI_LOG_WARN;
		o.log_fn = library_log;
		/* Born in <own>/petri-host on pure cgroup v2 (see main()): the
		 * sandboxes' cgroups are beside it, in <own>. */
		o.flags = PETRI_CTX_F_CGROUP_LEAF;
		if (petri_ctx_new(&ctx, &o, NULL) == 0)
			petri_ctx_free(ctx);
		left = cgroups_left("/sys/fs/cgroup", prefix, 3);
		if (!left)
			break;
		usleep(200 * 1000);
	}
	pd_log("undertaker: %s", left ? "cgroups of petrid remain after 30 s" : "swept");
	_exit(left ? 1 : 0);
}

/* Every exit but a kill tells the undertaker that all is cleaned up. */
static void release_undertaker(void)
{
	if (undertaker_fd < 0)
		return;
	ssize_t w = write(undertaker_fd, "X", 1);
	(void)w;
	close(undertaker_fd);
	undertaker_fd = -1;
}

static void start_undertaker(const struct pd_config *cfg)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		pd_log("undertaker: pipe: %s", strerror(errno));
		return;
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		close(p[1]);
		/* Only the pipe and stdio: no listen socket or file of petrid. */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != p[0])
				close(fd);
		undertaker(p[0], parent, cfg->listen);
	}
	close(p[0]);
	if (pid < 0) {
		pd_log("undertaker: fork: %s", strerror(errno));
		close(p[1]);
		return;
	}
	undertaker_fd = p[1];
	atexit(release_undertaker);
}

/* ---- host checks ---- */

static bool config_needs_egress(const struct pd_config *cfg)
{
	for (size_t i = 0; i < cfg->ntenants; i++)
		if (cfg->tenants[i].allow[0] || cfg->tenants[i].nsecrets)
			return true;
	return false;
}

static bool config_has_audit(const struct pd_config *cfg)
{
	for (size_t i = 0; i < cfg->ntenants; i++)
		if (cfg->tenants[i].has_audit)
			return true;
	return false;
}

/* Run the checks, log them; false when the config needs a missing layer. */
static bool host_checks(const struct pd_config *cfg, bool print)
{
#ifdef PETRID_HOSTCHECK
	struct hostcheck_report r;
	static const char *const states[] = {"ok", "degraded", "missing"};
	hostcheck_run(&r, PETRI_CTX_F_CGROUP_LEAF);
	bool ok = true;
	for (size_t i = 0; i < r.n; i++) {
		const struct hostcheck_item *it = &r.items[i];
		bool needed = strcmp(it->layer, HC_USERNS) == 0 ||
			      strcmp(it->layer, HC_NAMESPACES) == 0 ||
			      strcmp(it->layer, HC_SECCOMP) == 0 ||
			      strcmp(it->layer, "sandbox") == 0 ||
			      (strcmp(it->layer, HC_EGRESS) == 0 && config_needs_egress(cfg)) ||
			      (strcmp(it->layer, HC_KERNEL_AUDIT) == 0 &&
			       cfg->require_kernel_audit && config_has_audit(cfg));
		pd_log("host: %s: %s: %s%s", it->layer, states[it->state % 3], it->detail,
		       needed && it->state == HC_MISSING ? " (needed by the config)" : "");
		if (needed && it->state == HC_MISSING)
			ok = false;
	}
	if (print)
		hostcheck_print(&r, stdout);
	return ok;
#else
	(void)cfg;
	(void)print;
	(void)config_needs_egress;
	(void)config_has_audit;
	pd_log("host: checks not built in (tools/hostcheck.c missing)");
	return true;
#endif
}

/* ---- the timer ---- */

static void *timer_thread(void *arg)
{
	(void)arg;
	int64_t last_expire = 0;
	while (!timer_stop) {
		usleep(250 * 1000);
		pd_exec_tick();
		pd_stream_tick();
		pd_http_tick();
		if (pd_mono_ms() - last_expire >= 500) {
			last_expire = pd_mono_ms();
			if (!pd.draining)
				pd_registry_expire();
		}
	}
	return NULL;
}

/* ---- reload and drain ---- */

static void reload(void)
{
	char err[512];
	struct pd_config *c = pd_config_load(config_path, err, sizeof(err));
	if (!c) {
		pd_log("reload refused, the old config stays: config: %s", err);
		return;
	}
	if (strcmp(c->node, pd.node) != 0)
		pd_log("reload: node changed: ignored until restart");
	bool same_listen = pd_strv_len(c->listen) == pd_strv_len(pd.cfg->listen);
	for (size_t i = 0; same_listen && c->listen[i]; i++)
		same_listen = strcmp(c->listen[i], pd.cfg->listen[i]) == 0;
	if (!same_listen)
		pd_log("reload: listen changed: ignored until restart");
	/* The warm pool belongs to the library context, made once at start. */
	if (!pd_config_same_pool(c, start_cfg))
		pd_log("reload: warm or recycle changed: ignored until restart");
	if (pd_audit_apply(c, err, sizeof(err)) < 0) {
		pd_log("reload refused, the old config stays: %s", err);
		pd_config_free(c);
		return;
	}
	pthread_mutex_lock(&pd.lock);
	struct pd_config *old = pd.cfg;
	pd.cfg = c;
	pthread_mutex_unlock(&pd.lock);
	pd_config_put(old);
	pd_log("config reloaded: %zu tenants", c->ntenants);
}

static void collect(struct pd_sandbox *s, void *arg)
{
	struct pd_sandbox ***p = arg;
	s->refs++;
	s->removed = true;
	*(*p)++ = s;
}

static void cancel_one(struct pd_sandbox *s, void *arg)
{
	(void)arg;
	pd_exec_cancel_locked(s);
}

static void wait_until(bool (*done)(void), int64_t ms)
{
	int64_t deadline = pd_mono_ms() + ms;
	pthread_mutex_lock(&pd.lock);
	while (!done() && pd_mono_ms() < deadline) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&pd.cond, &pd.lock, &ts);
	}
	pthread_mutex_unlock(&pd.lock);
}

static bool no_execs(void)
{
	return pd.execs_running == 0;
}

static bool no_jobs(void)
{
	return pd.jobs == 0;
}

static size_t count_live(void)
{
	size_t n = 0;
	for (size_t b = 0; b < sizeof(pd.buckets) / sizeof(pd.buckets[0]); b++)
		for (struct pd_sandbox *s = pd.buckets[b]; s; s = s->next)
			n += !s->tomb;
	return n;
}

static void drain(pthread_t timer)
{
	unsigned secs = pd.cfg->drain_timeout;
	pd_log("draining: new requests get 503, running execs have %u s", secs);
	pd.draining = 1;
	wait_until(no_execs, (int64_t)secs * 1000);
	pthread_mutex_lock(&pd.lock);
	if (pd.execs_running)
		pd_log("drain: cancelling %u running execs", pd.execs_running);
	pd_registry_each(NULL, cancel_one, NULL);
	pthread_mutex_unlock(&pd.lock);
	wait_until(no_jobs, 30000);

	pthread_mutex_lock(&pd.lock);
	size_t n = count_live();
	struct pd_sandbox **all = calloc(n + 1, sizeof(*all)), **p = all;
	if (all)
		pd_registry_each(NULL, collect, &p);
	pthread_mutex_unlock(&pd.lock);
	for (size_t i = 0; all && all[i]; i++)
		pd_sandbox_retire(all[i], PD_DESTROY_DRAINED);
	free(all);

	/* Let streams send their last event before the daemons close. */
	int64_t deadline = pd_mono_ms() + 2000;
	while (pd_stream_count() > 0 && pd_mono_ms() < deadline)
		usleep(20 * 1000);
	timer_stop = 1;
	pthread_join(timer, NULL);
	pd_http_stop();
	pd_pool_stop();
	pd_watch_stop();
	pd_audit_close_all();
	petri_ctx_free(pd.ctx);
	pd.ctx = NULL;
	release_undertaker();
	pd_log("stopped");
}

/* The node's warm pool ("warm", "recycle"): the library's refill thread
 * starts with the context, so the pooled context replaces the first one
 * only now, after the undertaker's fork and the host checks, with the
 * signals blocked (the thread inherits the mask).  Already in the
 * petri-host leaf, the new context uses its parent as the first did. */
static int warm_context(petri_ctx_opts *co)
{
	struct petri_warm w[16];
	size_t n = pd.cfg->nwarm < 16 ? pd.cfg->nwarm : 16;
	for (size_t i = 0; i < n; i++)
		w[i] = (struct petri_warm){.language = pd.cfg->warm[i].language,
					   .count = pd.cfg->warm[i].count};
	co->warm = w;
	co->nwarm = (uint32_t)n;
	if (!pd.cfg->recycle)
		co->flags |= PETRI_CTX_F_NO_RECYCLE;
	petri_ctx *pooled = NULL;
	petri_error *perr = NULL;
	if (petri_ctx_new(&pooled, co, &perr) < 0) {
		pd_log("cannot create the library context with the warm pool: %s",
		       petri_error_message(perr));
		petri_error_free(perr);
		return -1;
	}
	co->warm = NULL;
	co->nwarm = 0;
	petri_ctx_free(pd.ctx);
	pd.ctx = pooled;
	for (size_t i = 0; i < n; i++)
		pd_log("warm pool: %u %s sandboxes%s", w[i].count,
		       w[i].language ? w[i].language : "language-less",
		       pd.cfg->recycle ? ", recycled" : ", not recycled");
	return 0;
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f, "usage: petrid --config FILE [--check]\n"
		   "  --config FILE  the JSON config (docs/petrid.md)\n"
		   "  --check        check the config and the host, then exit\n"
		   "  --version      print the version\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"check", no_argument, NULL, 'k'},
					     {"help", no_argument, NULL, 'h'},
					     {"version", no_argument, NULL, 'V'},
					     {NULL, 0, NULL, 0}};
	bool check = false;
	int o;
	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			config_path = optarg;
			break;
		case 'k':
			check = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("petrid %s\n", petri_version());
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!config_path || optind != argc) {
		usage(stderr);
		return 2;
	}
	char err[512];
	pd.cfg = pd_config_load(config_path, err, sizeof(err));
	if (!pd.cfg) {
		pd_log("config: %s", err);
		return 1;
	}
	snprintf(pd.node, sizeof(pd.node), "%s", pd.cfg->node);
	start_cfg = pd.cfg;
	start_cfg->refs++; /* no thread yet: no lock needed */
	if (check) {
		bool ok = host_checks(pd.cfg, true);
		printf("config %s: ok (%zu tenants)\n", config_path, pd.cfg->ntenants);
		pd_config_free(pd.cfg);
		return ok ? 0 : 1;
	}

	/* The context first: on pure cgroup v2 it moves petrid into
	 * <own>/petri-host so that the sandboxes' cgroups beside it can have
	 * controllers (a cgroup with processes cannot give its children any).
	 * The undertaker and the host checks' children are then born there
	 * too, and nothing but petri hosts stays in <own>.  It starts no
	 * thread, so the undertaker below is still forked single-threaded. */
	petri_ctx_opts co = PETRI_CTX_OPTS_INIT;
	co.log_level = PETRI_LOG_WARN;
	co.log_fn = library_log;
	co.flags = PETRI_CTX_F_CGROUP_LEAF;
	petri_error *perr = NULL;
	if (petri_ctx_new(&pd.ctx, &co, &perr) < 0) {
		pd_log("cannot create the library context: %s", petri_error_message(perr));
		return 1;
	}
	start_undertaker(pd.cfg);
	if (!host_checks(pd.cfg, false)) {
		pd_log("refusing to start: the config needs a layer this host lacks");
		return 1;
	}

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pd.cfg->nwarm && warm_context(&co) < 0)
		return 1;

	const char *why = NULL;
	int ka = petri_ctx_kernel_audit(pd.ctx, &why);
	pd_log("kernel audit: %s%s%s", ka == 1 ? "on" : "off", ka == 1 ? "" : ": ",
	       ka == 1 ? "" : why);
	if (ka != 1 && pd.cfg->require_kernel_audit) {
		pd_log("refusing to start: require_kernel_audit and the kernel audit is off");
		return 1;
	}
	if (pd_audit_apply(pd.cfg, err, sizeof(err)) < 0) {
		pd_log("refusing to start: %s", err);
		return 1;
	}
	pd.started_ms = pd_now_ms();
	/* The layers above plug into those below before any thread runs. */
	pd_registry_set_exec_cancel(pd_exec_cancel_locked);
	pthread_t timer;
	if (pd_pool_start() < 0 || pd_watch_start() < 0 ||
	    pthread_create(&timer, NULL, timer_thread, NULL) != 0) {
		pd_log("cannot start threads");
		return 1;
	}
	static const struct pd_http_hooks hooks = {
		.route = pd_route, .client_gone_locked = pd_exec_client_gone_locked};
	if (pd_http_start(pd.cfg, &hooks) < 0)
		return 1;
	pd_log("ready: node %s, %zu tenants, pid %d", pd.node, pd.cfg->ntenants, (int)getpid());

	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);
		if (sig == SIGHUP) {
			reload();
		} else if (sig == SIGTERM || sig == SIGINT) {
			drain(timer);
			break;
		}
	}
	pd_config_put(pd.cfg);
	pd_config_put(start_cfg);
	return 0;
}
