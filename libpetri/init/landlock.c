/* SPDX-License-Identifier: Apache-2.0 */
/*
 * landlock.c - a Landlock ruleset for code in the sandbox: read and execute
 * anywhere in the (already minimal) root, write only below the writable
 * mounts, and no signals to processes outside the sandbox's domain.  It is a
 * second wall behind the read-only mounts: a mount mistake alone does not
 * make a host path writable.
 */
#include <fcntl.h>
#include <stddef.h>
#include <linux/landlock.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "init_priv.h"

/* Debian 12's kernel headers predate Landlock ABI 3+; the values are ABI. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#define PETRI_LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define PETRI_LL_SCOPE_SIGNAL (1ULL << 1)

struct petri_ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4 */
	uint64_t scoped;             /* ABI 6 */
};

static int ll_create(const struct petri_ll_ruleset_attr *attr, size_t size, uint32_t flags)
{
	return (int)syscall(SYS_landlock_create_ruleset, attr, size, flags);
}

static int ll_add_path(int ruleset, const char *path, uint64_t access)
{
	int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct landlock_path_beneath_attr pb = {.allowed_access = access, .parent_fd = fd};
	int r = 0;
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
		r = -errno;
	close(fd);
	return r;
}

static uint64_t fs_rights_for_abi(int abi)
{
	uint64_t r = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
		     LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |
		     LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
		     LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
		     LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
		     LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
		     LANDLOCK_ACCESS_FS_MAKE_SYM;
	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return r;
}

int petri__landlock_ruleset(const char *const *writable)
{
	int abi = ll_create(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0)
		return errno == ENOSYS || errno == EOPNOTSUPP ? -EOPNOTSUPP : -errno;

	struct petri_ll_ruleset_attr attr = {.handled_access_fs = fs_rights_for_abi(abi)};
	size_t attr_size = sizeof(uint64_t);
	if (abi >= 6) {
		/* No signals to processes outside the exec's Landlock domain
		 * (init, the host); TCP is left to the network namespace. */
		attr.scoped = PETRI_LL_SCOPE_SIGNAL | PETRI_LL_SCOPE_ABSTRACT_UNIX_SOCKET;
		attr_size = sizeof(attr);
	}
	int rs = ll_create(&attr, attr_size, 0);
	if (rs < 0)
		return -errno;

	const uint64_t read_exec = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE |
				   LANDLOCK_ACCESS_FS_READ_DIR;
	int r = ll_add_path(rs, "/", read_exec);
	for (; r == 0 && writable && *writable; writable++) {
		r = ll_add_path(rs, *writable, fs_rights_for_abi(abi));
		if (r == -ENOENT)
			r = 0;
	}
	if (r < 0) {
		close(rs);
		return r;
	}
	return rs;
}

int petri__landlock_restrict(int ruleset_fd)
{
	if (syscall(SYS_landlock_restrict_self, ruleset_fd, 0) < 0)
		return -errno;
	return 0;
}
