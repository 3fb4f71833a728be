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

#endif /* PETRI_INIT_PRIV_H */
