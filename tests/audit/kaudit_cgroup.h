/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kaudit_cgroup.h - a cgroup2 directory of the test's own for the kernel
 * audit tests that drive petri__kaudit_watch() directly (not through a
 * sandbox): they put a child into it and watch its id.
 */
#ifndef KAUDIT_CGROUP_H
#define KAUDIT_CGROUP_H

#include <stdint.h>

/* Make "petri-kaudit-@tag-PID" below the cgroup2 mount (the unified
 * hierarchy of a hybrid host, or /sys/fs/cgroup), removed at exit.  Returns
 * an O_PATH fd of it (as cgroup.c opens one) and sets *@id to its inode
 * number, the BPF cgroup id; -1 without a cgroup2 mount. */
int kaudit_test_cgroup(const char *tag, uint64_t *id);

#endif
