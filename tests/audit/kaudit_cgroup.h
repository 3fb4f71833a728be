/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kaudit_cgroup.h - for the kernel audit tests that drive
 * petri__kaudit_watch() directly (not through a sandbox): a cgroup2
 * directory of the test's own, to put a child into and watch, and the
 * stream the events go to.
 */
#ifndef KAUDIT_CGROUP_H
#define KAUDIT_CGROUP_H

#include <stdint.h>
#include <sys/types.h>

#include "petri/audit.h"

struct petri_kaudit;

/* The kernel audit, loaded with a ring buffer of @ringbuf_bytes (0: the
 * default); the test is skipped when it cannot be (not root, no BPF). */
struct petri_kaudit *kaudit_test_open(uint32_t ringbuf_bytes);

/* Fork into the cgroup of @cgfd (clone3 CLONE_INTO_CGROUP): 0 in the child,
 * its pid in the parent. */
pid_t kaudit_test_fork(int cgfd);

/* Wait for @pid; its wait status. */
int kaudit_test_wait(pid_t pid);

/* Make "petri-kaudit-@tag-PID" below the cgroup2 mount (the unified
 * hierarchy of a hybrid host, or /sys/fs/cgroup), removed at exit.  Returns
 * an O_PATH fd of it (as cgroup.c opens one) and sets *@id to its inode
 * number, the BPF cgroup id.  Without a writable cgroup2 hierarchy the test
 * is skipped. */
int kaudit_test_cgroup(const char *tag, uint64_t *id);

/* A stream into a new file made from the mkstemp() template @path, its
 * header saying kernel audit is on; @queue_events 0: the default queue.
 * The test cannot go on without it. */
petri_audit *kaudit_test_stream(char *path, uint32_t queue_events);

#endif
