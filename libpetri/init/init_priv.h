/* SPDX-License-Identifier: Apache-2.0 */
/*
 * init_priv.h - declarations shared by the files of init/ only (see
 * README.md here for what code in this folder may use).
 */
#ifndef PETRI_INIT_PRIV_H
#define PETRI_INIT_PRIV_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol.h"

/* mounts.c (run inside init, malloc-free) */
int petri__rootfs_build(const struct petri_init_cfg *cfg, char *msg, size_t msglen);
int petri__proc_mount(const char *target, char *msg, size_t msglen);
int petri__proc_mask(const char *target, char *msg, size_t msglen);
/* PETRI_MSG_RESET (after pivot_root, no reaper left): fresh tmpfs mounts at
 * /tmp, /home/sandbox, /workspace and /dev/shm with the options the build
 * gave them, a new devpts instance, and a new boot id.  0 or -errno with
 * @msg saying which step failed. */
int petri__rootfs_reset(const struct petri_init_cfg *cfg, char *msg, size_t msglen);

/* landlock.c --------------------------------------------------------------- */

/* Create a Landlock ruleset (inside the sandbox, after pivot_root) that
 * allows reading and executing everything under / and writing under each of
 * the NULL-terminated @writable paths.  Returns the ruleset fd, -EOPNOTSUPP
 * when the kernel has no Landlock, or another negative errno. */
int petri__landlock_ruleset(const char *const *writable);
/* Apply it to the calling thread (async-signal-safe).  Returns 0 or -errno. */
int petri__landlock_restrict(int ruleset_fd);

/* init.c: clone3 (clone where a host's profile refuses clone3) of a child
 * with @flags | CLONE_PIDFD and SIGCHLD; the pid (0 in the child) or -1. */
pid_t petri__clone_pidfd(uint64_t flags, int *pidfd);

/* unix_broker.c ------------------------------------------------------------ */

struct pollfd;
struct seccomp_notif;

/* @in behind a prefix that makes the native connect(), and sendto() with an
 * address (and with @mode PETRI_UNIX_GUARD_ALONE, sendmsg() and sendmmsg()),
 * SECCOMP_RET_USER_NOTIF (an mmap'd copy in @out).  0 or -errno. */
int petri__guard_filter(const struct petri_seccomp_prog *in, int mode,
			struct petri_seccomp_prog *out);
struct seccomp_data;
/* Is @d the native connect() or sendto() (or, with PETRI_UNIX_GUARD_ALONE,
 * sendmsg() or sendmmsg()): the only notifications besides denials? */
int petri__broker_takes(const struct seccomp_data *d);
/* The native audit arch, for reports. */
uint32_t petri__broker_arch(void);
/* Answer @req, a connect() or sendto(): let it go on, or start a broker that answers it
 * when it ends (petri__broker_reaped); a sendmsg() or sendmmsg(): let it go
 * on unless it is addressed to a pathname.  0, or -errno to answer with now. */
int petri__broker_start(int notify_fd, const struct seccomp_notif *req,
			const struct petri_init_cfg *cfg);
/* Map the brokers' table, shared with the brokers the caller forks: once
 * per reaper, never in init, whose reapers would share it (one that exits
 * with a broker in flight would leave the next its slot).  0 or -errno. */
int petri__broker_table(void);
/* The most brokered calls in flight at once (more: EAGAIN). */
#define PETRI_BROKER_MAX 32
/* Poll entries for the brokers running (their pidfds), at most @max. */
int petri__broker_pollfds(struct pollfd *p, int max);
struct petri_broker_end {
	uint64_t id;  /* the notification */
	uint32_t tid; /* the caller */
	uint32_t nr;  /* its syscall */
	int64_t val;  /* the call's return value */
	int err;      /* and errno, or 0 */
	int refused;  /* not a socket the sandbox may reach (err ECONNREFUSED) */
};
/* Note bind @i (with the "sockets" option) as init attaches it, @fd its
 * source: the broker's later test of a file on that bind.  0 or -errno. */
int petri__broker_sockets_bind(int i, int fd);
/* @pid, reaped: 1 and @end filled if it was a broker, else 0. */
int petri__broker_reaped(pid_t pid, struct petri_broker_end *end);
void petri__broker_answer(int notify_fd, const struct petri_broker_end *end);

#endif /* PETRI_INIT_PRIV_H */
