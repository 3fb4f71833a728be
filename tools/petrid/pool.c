/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pool.c - the fixed pool of workers that run what blocks on a sandbox
 * (create, delete, files) off the MHD threads, and the watcher: one thread
 * with an epoll set of the suspended connections' sockets, which reports a
 * client that hangs up (EPOLLRDHUP/EPOLLHUP) so its exec is cancelled.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "petrid.h"

struct job {
	void (*fn)(void *);
	void *arg;
	struct job *next;
};

static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;
static struct job *qhead, *qtail;
static bool qstop;
static pthread_t workers[PD_POOL_THREADS];
static size_t nworkers;

static void *worker(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&qlock);
		while (!qhead && !qstop)
			pthread_cond_wait(&qcond, &qlock);
		struct job *j = qhead;
		if (!j) {
			pthread_mutex_unlock(&qlock);
			return NULL;
		}
		qhead = j->next;
		if (!qhead)
			qtail = NULL;
		pthread_mutex_unlock(&qlock);
		j->fn(j->arg);
		free(j);
		pthread_mutex_lock(&pd.lock);
		pd.jobs--;
		pthread_cond_broadcast(&pd.cond);
		pthread_mutex_unlock(&pd.lock);
	}
}

int pd_pool_start(void)
{
	for (size_t i = 0; i < PD_POOL_THREADS; i++) {
		if (pthread_create(&workers[i], NULL, worker, NULL) != 0)
			return -1;
		nworkers++;
	}
	return 0;
}

void pd_pool_stop(void)
{
	pthread_mutex_lock(&qlock);
	qstop = true;
	pthread_cond_broadcast(&qcond);
	pthread_mutex_unlock(&qlock);
	for (size_t i = 0; i < nworkers; i++)
		pthread_join(workers[i], NULL);
	nworkers = 0;
}

int pd_pool_submit(void (*fn)(void *), void *arg)
{
	struct job *j = malloc(sizeof(*j));
	if (!j)
		return -1;
	*j = (struct job){fn, arg, NULL};
	pthread_mutex_lock(&pd.lock);
	pd.jobs++;
	pthread_mutex_unlock(&pd.lock);
	pthread_mutex_lock(&qlock);
	if (qtail)
		qtail->next = j;
	else
		qhead = j;
	qtail = j;
	pthread_cond_signal(&qcond);
	pthread_mutex_unlock(&qlock);
	return 0;
}

/* ---- the watcher ---- */

#define WATCH_SLOTS 8192

struct slot {
	bool used, fired;
	int fd;
	void (*fn)(void *);
	void *arg;
};

static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[WATCH_SLOTS];
static int epfd = -1;
static volatile int wstop;
static pthread_t wthread;

int pd_watch_add(int fd, void (*fn)(void *), void *arg)
{
	int found = -1;
	pthread_mutex_lock(&wlock);
	for (int i = 0; i < WATCH_SLOTS && epfd >= 0; i++) {
		if (slots[i].used)
			continue;
		struct epoll_event ev = {.events = EPOLLRDHUP | EPOLLHUP | EPOLLERR,
					 .data.u64 = (uint64_t)i};
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			break;
		slots[i] = (struct slot){true, false, fd, fn, arg};
		found = i;
		break;
	}
	pthread_mutex_unlock(&wlock);
	return found;
}

void pd_watch_remove(int i)
{
	if (i < 0 || i >= WATCH_SLOTS)
		return;
	pthread_mutex_lock(&wlock);
	if (slots[i].used && !slots[i].fired)
		epoll_ctl(epfd, EPOLL_CTL_DEL, slots[i].fd, NULL);
	slots[i].used = false;
	pthread_mutex_unlock(&wlock);
}

static void *watcher(void *arg)
{
	struct epoll_event ev[32];
	(void)arg;
	while (!wstop) {
		int n = epoll_wait(epfd, ev, 32, 500);
		for (int k = 0; k < n; k++) {
			int i = (int)ev[k].data.u64;
			pthread_mutex_lock(&wlock);
			struct slot *s = &slots[i];
			if (s->used && !s->fired) {
				/* Once: its owner still removes the slot. */
				s->fired = true;
				epoll_ctl(epfd, EPOLL_CTL_DEL, s->fd, NULL);
				s->fn(s->arg);
			}
			pthread_mutex_unlock(&wlock);
		}
	}
	return NULL;
}

int pd_watch_start(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -1;
	return pthread_create(&wthread, NULL, watcher, NULL) == 0 ? 0 : -1;
}

void pd_watch_stop(void)
{
	wstop = 1;
	pthread_join(wthread, NULL);
	close(epfd);
	epfd = -1;
}
