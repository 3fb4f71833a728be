/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pool.c - the warm pool (petri_warm in petri.h, README "Warm pool and
 * recycling"): per language, sandboxes built ahead of time by one refill
 * thread per context, taken by petri_sandbox_create() in O(1), and the
 * recycling of destroyed ones.  It also holds the two entry points of a
 * sandbox's life that choose between the pool and sandbox.c:
 * petri_sandbox_create() takes from a pool or builds, and
 * petri_sandbox_destroy() recycles or tears down.  sandbox.c never calls
 * the pool.
 *
 * Locking: pools->lock guards the ready stacks, the counts and the queues,
 * and is held only for O(1) work (and, once a second, a scan of the ready
 * sandboxes' pidfds).  The refill thread never holds it while it builds or
 * resets a sandbox, so a create never waits for the refill: an empty pool
 * is a miss, and the create builds its own sandbox.
 *
 * The refill thread does one thing at a time, recycles first (they are
 * cheaper than builds and already counted against the pool's target), then
 * builds for the pool furthest below its target.  A build that fails backs
 * off (100 ms doubling to 5 s) so that a host refusing namespaces does not
 * burn a CPU.
 */
#include <poll.h>
#include <sys/eventfd.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "defaults.h"
#include "host.h"

#define POOLS_MAX 16
#define POOL_COUNT_MAX 1024
#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000
#define SCAN_MS 1000 /* how often ready sandboxes are checked for a dead init */
/* After a take, the refill thread waits this long before it builds for that
 * pool: a sandbox being used now usually comes back through recycling,
 * which costs less than a build, and a build that lands in a pool the
 * recycle has filled is wasted.  (A create never waits for it: an empty
 * pool is a miss.) */
#define BUILD_DELAY_MS 1000
/* Resets in flight at once: init does its part in parallel, so that the
 * kernel's waits (an RCU grace period per unmount) overlap. */
#define RESETS_MAX 32
#define RESET_TIMEOUT_MS 10000

struct petri_pool {
	char language[16];
	int has_language;
	uint32_t target;
	petri_sandbox **ready; /* a stack of nready, capacity target */
	uint32_t nready;
	uint32_t building;  /* builds in flight for this pool (0 or 1) */
	uint32_t recycling; /* recycles in flight for this pool */
	uint64_t retry_at;  /* ns: no build before (after a failure) */
	uint64_t build_at;  /* ns: no build before (a take lets destroys refill first) */
	uint32_t backoff;   /* ms of the next back-off */
	int last_err;       /* errno of the last failed build, 0 after a success */
	petri_pool_stats s; /* the counts (ready, target filled in on read) */
};

struct petri_pools {
	pthread_mutex_t lock;
	int wake_fd;            /* eventfd: the refill thread polls it */
	pthread_cond_t changed; /* petri_ctx_pool_wait waits on it */
	pthread_t thread;
	int running;
	int stopping;
	size_t n;
	struct petri_pool pool[POOLS_MAX];
	petri_sandbox *recycle;       /* to reset, oldest first (linked by ->next) */
	petri_sandbox **recycle_tail; /* where the next one goes */
	petri_sandbox *dead;          /* taken out of a pool with init gone: to free */
};

static uint64_t now_ns(void)
{
	return petri__now_ns();
}

static int same_language(const struct petri_pool *p, const char *language)
{
	if (!language || !*language)
		return !p->has_language;
	return p->has_language && strcmp(p->language, language) == 0;
}

static int find_pool(const struct petri_pools *ps, const char *language)
{
	for (size_t i = 0; i < ps->n; i++)
		if (same_language(&ps->pool[i], language))
			return (int)i;
	return -1;
}

int petri__warm_check(const petri_warm *warm, uint32_t nwarm, petri_error **err)
{
	if (nwarm > POOLS_MAX)
		return petri__err(err, EINVAL, "petri_ctx_opts: nwarm %u is above %d", nwarm,
				  POOLS_MAX);
	if (nwarm && !warm)
		return petri__err(err, EINVAL, "petri_ctx_opts: nwarm %u but warm is NULL", nwarm);
	for (uint32_t i = 0; i < nwarm; i++) {
		const petri_warm *w = &warm[i];
		const char *name = w->language ? w->language : "(none)";
		petri_error *e = NULL;
		if (w->language && !petri__lang_find(w->language, &e)) {
			/* errnum 0 (EINVAL): e's message says the cause already. */
			int r = petri__err(err, 0, "petri_ctx_opts: warm[%u]: %s", i,
					   petri_error_message(e));
			petri_error_free(e);
			return r;
		}
		if (w->count < 1 || w->count > POOL_COUNT_MAX)
			return petri__err(err, EINVAL,
					  "petri_ctx_opts: warm[%u] (%s): count %u is not in 1..%d",
					  i, name, w->count, POOL_COUNT_MAX);
		if (w->reserved)
			return petri__err(err, EINVAL,
					  "petri_ctx_opts: warm[%u] (%s): reserved must be 0", i,
					  name);
		for (uint32_t j = 0; j < i; j++) {
			const char *a = warm[j].language, *b = w->language;
			if ((!a && !b) || (a && b && strcmp(a, b) == 0))
				return petri__err(
					err, EINVAL,
					"petri_ctx_opts: warm[%u]: language %s has a pool "
					"already (warm[%u])",
					i, name, j);
		}
	}
	return 0;
}

/* ---- the refill thread ---- */

/* Tear down sandboxes that will not be pooled (outside the lock). */
static void free_list(petri_sandbox *sb)
{
	while (sb) {
		petri_sandbox *next = sb->next;
		petri__sandbox_free(sb, 0);
		sb = next;
	}
}

/* Under lock: move the ready sandboxes whose init is gone to ps->dead. */
static void scan_dead(struct petri_pools *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		struct petri_pool *p = &ps->pool[i];
		for (uint32_t k = 0; k < p->nready;) {
			petri_sandbox *sb = p->ready[k];
			if (petri_sandbox_init_pid(sb) >= 0) {
				k++;
				continue;
			}
			p->ready[k] = p->ready[--p->nready];
			p->s.discarded++;
			sb->next = ps->dead;
			ps->dead = sb;
		}
	}
}

/* Under lock: put @sb in pool @p if it has room (1), else 0.  A build
 * (@recycled 0) does not take the room a recycle in flight was promised
 * by its destroy: the recycled sandbox lands, the build is torn down. */
static int land(struct petri_pools *ps, struct petri_pool *p, petri_sandbox *sb, int recycled)
{
	uint32_t promised = recycled ? 0 : p->recycling;
	if (ps->stopping || p->nready + promised >= p->target)
		return 0;
	p->ready[p->nready++] = sb;
	pthread_cond_broadcast(&ps->changed);
	return 1;
}

/* The end of a recycle: back in the pool when @r is 0 and there is room,
 * else torn down. */
static void recycle_done(petri_ctx *ctx, struct petri_pools *ps, petri_sandbox *sb, int r,
			 petri_error *e)
{
	struct petri_pool *p = &ps->pool[sb->pool];
	if (r < 0)
		petri__log(ctx, PETRI_LOG_DEBUG, "pool: sandbox not recycled: %s",
			   e ? petri_error_message(e) : strerror(-r));
	petri_error_free(e);
	pthread_mutex_lock(&ps->lock);
	p->recycling--;
	int kept = r == 0 && land(ps, p, sb, 1);
	if (kept) {
		p->s.recycled++;
	} else {
		p->s.discarded++;
		if (r < 0 && r != -EBUSY)
			p->s.failed++; /* a step failed; EBUSY: init found it dirty */
	}
	pthread_cond_broadcast(&ps->changed);
	pthread_mutex_unlock(&ps->lock);
	if (!kept)
		petri__sandbox_free(sb, 0);
}

struct resetting {
	petri_sandbox *sb;
	struct petri_cgroup old;
	uint64_t deadline;
};

static int reset_start(petri_ctx *ctx, struct petri_pools *ps, petri_sandbox *sb,
		       struct resetting *out)
{
	petri_error *e = NULL;
	*out = (struct resetting){
		.sb = sb,
		.old = {.mode = PETRI_CGROUP_NONE, .v2_dirfd = -1, .v2_peak_fd = -1},
		.deadline = now_ns() + RESET_TIMEOUT_MS * 1000000ull};
	int r = petri__sandbox_reset_start(sb, &out->old, &e);
	if (r < 0) {
		petri__cgroup_destroy(&out->old);
		recycle_done(ctx, ps, sb, r, e);
	}
	return r;
}

static void reset_finish(petri_ctx *ctx, struct petri_pools *ps, struct resetting *rs, int expired)
{
	petri_error *e = NULL;
	int r;
	if (expired) {
		r = petri__err(&e, ETIMEDOUT, "sandbox init did not answer the reset");
		petri__cgroup_destroy(&rs->old);
	} else {
		r = petri__sandbox_reset_finish(rs->sb, &rs->old, &e);
	}
	recycle_done(ctx, ps, rs->sb, r, e);
}

/* Under lock: the pool to build for next, or -1, and until when to sleep
 * (*@wake_at, ns) when none is due. */
static int next_build(struct petri_pools *ps, uint64_t now, uint64_t *wake_at)
{
	int best = -1;
	uint32_t best_gap = 0;
	for (size_t i = 0; i < ps->n; i++) {
		struct petri_pool *p = &ps->pool[i];
		uint32_t have = p->nready + p->building + p->recycling;
		if (have >= p->target)
			continue;
		uint64_t at = p->retry_at > p->build_at ? p->retry_at : p->build_at;
		if (at > now) {
			if (at < *wake_at)
				*wake_at = at;
			continue;
		}
		/* The emptiest pool first, relative to its target. */
		uint32_t gap = (p->target - have) * 1024u / p->target;
		if (best < 0 || gap > best_gap) {
			best = (int)i;
			best_gap = gap;
		}
	}
	return best;
}

static void build_one(petri_ctx *ctx, struct petri_pools *ps, int i)
{
	struct petri_pool *p = &ps->pool[i];
	petri_sandbox *sb = NULL;
	petri_error *e = NULL;
	int r = petri__sandbox_build_warm(ctx, p->has_language ? p->language : NULL, &sb, &e);
	if (r < 0)
		petri__log(ctx, PETRI_LOG_WARN, "pool %s: build failed: %s",
			   p->has_language ? p->language : "(none)", petri_error_message(e));
	petri_error_free(e);
	pthread_mutex_lock(&ps->lock);
	p->building--;
	if (r < 0) {
		p->s.failed++;
		p->last_err = -r;
		p->retry_at = now_ns() + (uint64_t)p->backoff * 1000000ull;
		p->backoff = p->backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : p->backoff * 2;
	} else {
		sb->pool = i;
		p->s.created++;
		p->last_err = 0;
		p->backoff = RETRY_MIN_MS;
		if (!land(ps, p, sb, 0)) {
			p->s.discarded++;
			sb->next = ps->dead;
			ps->dead = sb;
		}
	}
	pthread_cond_broadcast(&ps->changed);
	pthread_mutex_unlock(&ps->lock);
}

static void wake(struct petri_pools *ps)
{
	uint64_t one = 1;
	(void)!write(ps->wake_fd, &one, sizeof(one));
}

/*
 * The refill thread.  Recycles first: each is started (host half, then
 * init's reset) and its answer collected when init sends it, up to
 * RESETS_MAX at once.  Builds only when no reset is in flight (a build
 * blocks the thread for milliseconds), one at a time.
 */
static void *refill_main(void *arg)
{
	petri_ctx *ctx = arg;
	struct petri_pools *ps = ctx->pools;
	struct resetting rs[RESETS_MAX];
	struct pollfd pfd[RESETS_MAX + 1];
	size_t nrs = 0;
	uint64_t next_scan = now_ns() + SCAN_MS * 1000000ull;

	pthread_mutex_lock(&ps->lock);
	while (!ps->stopping) {
		if (ps->dead) {
			petri_sandbox *dead = ps->dead;
			ps->dead = NULL;
			pthread_mutex_unlock(&ps->lock);
			free_list(dead);
			pthread_mutex_lock(&ps->lock);
			continue;
		}
		if (ps->recycle && nrs < RESETS_MAX) {
			petri_sandbox *sb = ps->recycle;
			ps->recycle = sb->next;
			if (!ps->recycle)
				ps->recycle_tail = &ps->recycle;
			sb->next = NULL;
			pthread_mutex_unlock(&ps->lock);
			if (reset_start(ctx, ps, sb, &rs[nrs]) == 0)
				nrs++;
			pthread_mutex_lock(&ps->lock);
			continue;
		}
		uint64_t now = now_ns();
		if (now >= next_scan) {
			scan_dead(ps);
			next_scan = now + SCAN_MS * 1000000ull;
			if (ps->dead)
				continue;
		}
		uint64_t wake_at = next_scan;
		int i = nrs ? -1 : next_build(ps, now, &wake_at);
		if (i >= 0) {
			ps->pool[i].building++;
			pthread_mutex_unlock(&ps->lock);
			build_one(ctx, ps, i);
			pthread_mutex_lock(&ps->lock);
			continue;
		}
		pthread_mutex_unlock(&ps->lock);

		for (size_t k = 0; k < nrs; k++) {
			pfd[k] = (struct pollfd){.fd = rs[k].sb->ctl_fd, .events = POLLIN};
			if (rs[k].deadline < wake_at)
				wake_at = rs[k].deadline;
		}
		pfd[nrs] = (struct pollfd){.fd = ps->wake_fd, .events = POLLIN};
		uint64_t wait_ns = wake_at > now ? wake_at - now : 0;
		int n = poll(pfd, nrs + 1, (int)((wait_ns + 999999) / 1000000));
		uint64_t v;
		if (n > 0 && (pfd[nrs].revents & POLLIN))
			(void)!read(ps->wake_fd, &v, sizeof(v));
		now = now_ns();
		for (size_t k = 0; k < nrs;) {
			int expired = now >= rs[k].deadline;
			if (n > 0 && (pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
				expired = 0;
			else if (!expired) {
				k++;
				continue;
			}
			reset_finish(ctx, ps, &rs[k], expired);
			rs[k] = rs[--nrs];
			pfd[k] = pfd[nrs];
		}
		pthread_mutex_lock(&ps->lock);
	}
	pthread_mutex_unlock(&ps->lock);
	/* Stopping: the resets in flight are torn down. */
	for (size_t k = 0; k < nrs; k++)
		reset_finish(ctx, ps, &rs[k], 1);
	return NULL;
}

/* ---- the context's side ---- */

int petri__pools_new(petri_ctx *ctx, const petri_warm *warm, uint32_t nwarm, petri_error **err)
{
	int r = petri__warm_check(warm, nwarm, err);
	if (r < 0 || nwarm == 0)
		return r;
	struct petri_pools *ps = calloc(1, sizeof(*ps));
	if (!ps)
		return petri__err(err, ENOMEM, "warm pool");
	pthread_mutex_init(&ps->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ps->changed, &ca);
	ps->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_condattr_destroy(&ca);
	ps->recycle_tail = &ps->recycle;
	ps->n = nwarm;
	if (ps->wake_fd < 0) {
		r = petri__err(err, errno, "warm pool: eventfd");
		ctx->pools = ps;
		petri__pools_free(ctx);
		return r;
	}
	for (uint32_t i = 0; i < nwarm; i++) {
		struct petri_pool *p = &ps->pool[i];
		if (warm[i].language) {
			/* The canonical name (the table's), as sandboxes carry it. */
			snprintf(p->language, sizeof(p->language), "%s",
				 petri__lang_find(warm[i].language, NULL)->name);
			p->has_language = 1;
		}
		p->target = warm[i].count;
		p->backoff = RETRY_MIN_MS;
		p->ready = calloc(p->target, sizeof(*p->ready));
		if (!p->ready) {
			ctx->pools = ps;
			petri__pools_free(ctx);
			return petri__err(err, ENOMEM, "warm pool");
		}
	}
	ctx->pools = ps;
	/* Blocks every signal, as the supervisor does: the host's handlers
	 * run on its own threads. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&ps->thread, NULL, refill_main, ctx);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		petri__pools_free(ctx);
		return petri__err(err, r, "start the warm pool's refill thread");
	}
	ps->running = 1;
	return 0;
}

void petri__pools_stop(petri_ctx *ctx)
{
	struct petri_pools *ps = ctx->pools;
	if (!ps)
		return;
	pthread_mutex_lock(&ps->lock);
	ps->stopping = 1;
	pthread_cond_broadcast(&ps->changed);
	pthread_mutex_unlock(&ps->lock);
	wake(ps);
	if (ps->running)
		pthread_join(ps->thread, NULL);
	ps->running = 0;
}

/* Every sandbox the pool holds, ready, queued or dead, one by one. */
static void for_each_held(struct petri_pools *ps, void (*fn)(petri_sandbox *))
{
	for (size_t i = 0; i < ps->n; i++)
		for (uint32_t k = 0; k < ps->pool[i].nready; k++)
			fn(ps->pool[i].ready[k]);
	for (petri_sandbox *sb = ps->recycle; sb; sb = sb->next)
		fn(sb);
	for (petri_sandbox *sb = ps->dead; sb; sb = sb->next)
		fn(sb);
}

void petri__pools_kill(petri_ctx *ctx)
{
	if (ctx->pools)
		for_each_held(ctx->pools, petri__sandbox_kill_init);
}

void petri__pools_free(petri_ctx *ctx)
{
	struct petri_pools *ps = ctx->pools;
	if (!ps)
		return;
	petri__pools_stop(ctx);
	for (size_t i = 0; i < ps->n; i++) {
		struct petri_pool *p = &ps->pool[i];
		while (p->nready)
			petri__sandbox_free(p->ready[--p->nready], 0);
		free(p->ready);
	}
	free_list(ps->recycle);
	free_list(ps->dead);
	pthread_mutex_destroy(&ps->lock);
	pthread_cond_destroy(&ps->changed);
	if (ps->wake_fd >= 0)
		close(ps->wake_fd);
	free(ps);
	ctx->pools = NULL;
}

static int pool_match(petri_ctx *ctx, const petri_sandbox_opts *o)
{
	if (!ctx->pools || !petri__sandbox_opts_poolable(ctx, o))
		return -1;
	return find_pool(ctx->pools, o->language);
}

static petri_sandbox *pool_take(petri_ctx *ctx, int i)
{
	struct petri_pools *ps = ctx->pools;
	struct petri_pool *p = &ps->pool[i];
	petri_sandbox *sb = NULL;
	pthread_mutex_lock(&ps->lock);
	while (p->nready) {
		sb = p->ready[--p->nready];
		if (petri_sandbox_init_pid(sb) >= 0)
			break;
		/* Its init was killed while it waited: the refill thread frees
		 * it and builds another. */
		p->s.discarded++;
		sb->next = ps->dead;
		ps->dead = sb;
		sb = NULL;
	}
	if (sb)
		p->s.hits++;
	else
		p->s.misses++;
	/* A deferral already pending is not pushed further: under a steady
	 * stream of takes (one a second or more) the pool must still refill.
	 * Without recycling nothing comes back to wait for. */
	uint64_t now = now_ns();
	if (!(ctx->flags & PETRI_CTX_F_NO_RECYCLE) && p->build_at <= now)
		p->build_at = now + BUILD_DELAY_MS * 1000000ull;
	pthread_mutex_unlock(&ps->lock);
	wake(ps); /* to schedule the build */
	if (sb)
		sb->next = NULL;
	return sb;
}

/* PETRI_MSG_RESET stage QUIESCE, and init's answer once every process of
 * the tenant is reaped: 0, or -errno (no answer within QUIESCE_MS). */
#define QUIESCE_MS 5000
static int quiesce(petri_sandbox *sb)
{
	struct petri_msg m = {.type = PETRI_MSG_RESET, .stage = PETRI_RESET_QUIESCE};
	int r = petri__msg_send(sb->ctl_fd, &m, NULL, 0);
	if (r < 0)
		return r;
	struct pollfd p = {.fd = sb->ctl_fd, .events = POLLIN};
	int n;
	do
		n = poll(&p, 1, QUIESCE_MS);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n < 0 ? -errno : -ETIMEDOUT;
	int fds[1], nfds = 1;
	r = petri__msg_recv(sb->ctl_fd, &m, fds, &nfds);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (r <= 0)
		return r < 0 ? r : -EPIPE;
	return m.type == PETRI_MSG_READY && m.stage == PETRI_RESET_QUIESCE ? 0 : -EPROTO;
}

static int pool_recycle(petri_sandbox *sb)
{
	petri_ctx *ctx = sb->ctx;
	struct petri_pools *ps = ctx->pools;
	if (!ps || sb->pool < 0 || (ctx->flags & PETRI_CTX_F_NO_RECYCLE))
		return 0;
	/* Not after a PETRI_EXEC_LAST exec (init is on its way out), nor a
	 * sandbox whose init died or is running an exec. */
	if (sb->finished || sb->dead || sb->killed ||
	    __atomic_load_n(&sb->busy, __ATOMIC_ACQUIRE) || petri_sandbox_init_pid(sb) < 0)
		return 0;
	struct petri_pool *p = &ps->pool[sb->pool];
	pthread_mutex_lock(&ps->lock);
	/* Builds in flight do not count: a recycle costs less, and a build
	 * that lands in a full pool is torn down. */
	int take = !ps->stopping && p->nready + p->recycling < p->target;
	if (take)
		p->recycling++;
	else
		p->s.discarded++; /* full: torn down by the caller, as without a pool */
	pthread_mutex_unlock(&ps->lock);
	if (!take)
		return 0;

	/* Every process of the tenant dies now (init kills and reaps its
	 * reapers, and answers), not when the reset's turn comes; the audit
	 * watches until then, as a destroy without a pool does.  No answer in
	 * time: torn down by the caller instead. */
	if (quiesce(sb) < 0) {
		pthread_mutex_lock(&ps->lock);
		p->recycling--;
		p->s.discarded++;
		p->s.failed++;
		pthread_mutex_unlock(&ps->lock);
		return 0;
	}
	/* The tenant's last words, then nothing of it reaches its stream. */
	petri__kaudit_unwatch_sandbox(sb);
	petri__audit_sandbox_destroyed(sb, 0);
	sb->audit = NULL;

	pthread_mutex_lock(&ps->lock);
	sb->next = NULL;
	*ps->recycle_tail = sb;
	ps->recycle_tail = &sb->next;
	pthread_mutex_unlock(&ps->lock);
	wake(ps);
	return 1;
}

/* ---- the sandbox's lifecycle: create takes or builds, destroy recycles or tears down ---- */

PETRI_API int petri_sandbox_create(petri_ctx *ctx, const petri_sandbox_opts *opts,
				   petri_sandbox **out, petri_error **err)
{
	petri_sandbox_opts o;
	int r;

	if (!ctx || !out)
		return petri__err(err, EINVAL, "petri_sandbox_create: %s is NULL",
				  ctx ? "out" : "ctx");
	if ((r = petri__sandbox_opts_read(&o, opts, err)) < 0)
		return r;
	/* A ready sandbox when one matches, else built here (and recycled by
	 * its destroy all the same). */
	int pool = pool_match(ctx, &o);
	petri_sandbox *sb = pool >= 0 ? pool_take(ctx, pool) : NULL;
	if (sb) {
		if ((r = petri__sandbox_take(sb, &o, err)) < 0) {
			petri__sandbox_free(sb, 0);
			return r;
		}
		*out = sb;
		return 0;
	}
	return petri__sandbox_build(ctx, &o, pool, out, err);
}

PETRI_API void petri_sandbox_destroy(petri_sandbox *sb)
{
	if (!sb)
		return;
	petri__sandbox_unlink(sb);
	if (pool_recycle(sb))
		return;
	petri__sandbox_free(sb, 1);
}

/* ---- public ---- */

PETRI_API int petri_ctx_pool_stats(petri_ctx *ctx, const char *language, petri_pool_stats *out)
{
	if (!ctx || !out || out->sz < 2 * sizeof(uint32_t) || out->sz > 4096)
		return -EINVAL;
	struct petri_pools *ps = ctx->pools;
	int i = ps ? find_pool(ps, language) : -1;
	if (i < 0)
		return -ENOENT;
	pthread_mutex_lock(&ps->lock);
	petri_pool_stats s = ps->pool[i].s;
	s.ready = ps->pool[i].nready;
	s.target = ps->pool[i].target;
	pthread_mutex_unlock(&ps->lock);
	s.sz = out->sz;
	size_t n = out->sz < sizeof(s) ? out->sz : sizeof(s);
	if (out->sz > sizeof(s))
		memset((char *)out + sizeof(s), 0, out->sz - sizeof(s));
	memcpy(out, &s, n);
	return 0;
}

PETRI_API int petri_ctx_pool_wait(petri_ctx *ctx, uint64_t timeout_ms)
{
	if (!ctx)
		return -EINVAL;
	struct petri_pools *ps = ctx->pools;
	if (!ps)
		return 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (timeout_ms > UINT32_MAX)
		timeout_ms = UINT32_MAX;
	ts.tv_sec += (time_t)(timeout_ms / 1000);
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	int r = 0;
	pthread_mutex_lock(&ps->lock);
	for (;;) {
		int full = 1, failed = 0;
		for (size_t i = 0; i < ps->n; i++) {
			const struct petri_pool *p = &ps->pool[i];
			if (p->nready < p->target) {
				full = 0;
				if (p->last_err)
					failed = p->last_err;
			}
		}
		if (full)
			break;
		if (failed || ps->stopping) {
			r = failed ? -failed : -ECANCELED;
			break;
		}
		if (timeout_ms == 0 ||
		    pthread_cond_timedwait(&ps->changed, &ps->lock, &ts) == ETIMEDOUT) {
			r = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&ps->lock);
	return r;
}

PETRI_API int64_t petri_sandbox_reuses(const petri_sandbox *sb)
{
	return sb ? (int64_t)sb->reuses : -1;
}
