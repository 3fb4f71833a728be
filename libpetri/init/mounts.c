/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mounts.c - the sandbox's root filesystem.  Runs inside init (a child forked
 * from a possibly multi-threaded host), so nothing here allocates: stack
 * buffers and raw syscalls only.
 *
 * The root is a fresh tmpfs.  Host trees are attached with open_tree(2) +
 * mount_setattr(2) + move_mount(2), which set nosuid/nodev/rdonly on the
 * whole cloned tree at once and never need to know which flags the host
 * locked.  Every source is pinned with an O_PATH fd before the staging tmpfs
 * is mounted over /tmp, so a bind source below /tmp is not shadowed.
 * A read-only directory bind is an overlay instead (attach_no_sockets), so
 * that no host unix socket in it can be reached.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "init_priv.h"

#define STAGE "/tmp"

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

struct petri_mount_attr {
	uint64_t attr_set;
	uint64_t attr_clr;
	uint64_t propagation;
	uint64_t userns_fd;
};

#define FAIL(what, ...)                                                                            \
	do {                                                                                       \
		int _e = errno;                                                                    \
		snprintf(msg, msglen, what, __VA_ARGS__);                                          \
		return -(_e ? _e : EINVAL);                                                        \
	} while (0)

static int sys_open_tree(int dfd, const char *path, unsigned flags)
{
	return (int)syscall(SYS_open_tree, dfd, path, flags);
}

static int sys_move_mount(int from_dfd, const char *from, int to_dfd, const char *to,
			  unsigned flags)
{
	return (int)syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags);
}

static int sys_mount_setattr(int dfd, const char *path, unsigned flags, uint64_t set)
{
	struct petri_mount_attr a = {.attr_set = set};
	return (int)syscall(SYS_mount_setattr, dfd, path, flags, &a, sizeof(a));
}

/* mkdir -p, trying the full path first: nearly every caller's parent
 * already exists, and each failed mkdir is a path walk. */
static int mkdir_p(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -errno;
	char buf[PETRI_PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	char *slash = strrchr(buf, '/');
	if (!slash || slash == buf)
		return -ENOENT;
	*slash = '\0';
	int r = mkdir_p(buf, mode);
	if (r < 0)
		return r;
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int make_file_bytes(const char *path, const void *p, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	int r = petri__write_all(fd, p, n);
	close(fd);
	return r;
}

static int make_file(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	int r = petri__write_all(fd, content, content ? strlen(content) : 0);
	close(fd);
	return r;
}

/* Make a mount point at @dst shaped like the object @src_fd refers to. */
static int make_mountpoint(int src_fd, const char *dst)
{
	struct stat st;
	if (fstat(src_fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return mkdir_p(dst, 0755);
	char parent[PETRI_PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", dst);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		int r = mkdir_p(parent, 0755);
		if (r < 0)
			return r;
	}
	int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
	if (fd < 0 && errno != EEXIST)
		return -errno;
	if (fd >= 0)
		close(fd);
	return 0;
}

/* Clone the tree at (dfd, path), set @attrs on all of it, attach at @dst. */
static int attach_tree(int dfd, const char *path, const char *dst, uint64_t attrs, char *msg,
		       size_t msglen)
{
	unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE;
	if (!path || !*path) {
		path = "";
		flags |= AT_EMPTY_PATH;
	}
	int tree = sys_open_tree(dfd, path, flags);
	if (tree < 0)
		FAIL("open_tree %s", *path ? path : dst);
	if (sys_mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, attrs) < 0) {
		int e = errno;
		close(tree);
		errno = e;
		FAIL("mount_setattr %s", dst);
	}
	int r = make_mountpoint(tree, dst);
	if (r < 0) {
		close(tree);
		errno = -r;
		FAIL("create mount point %s", dst);
	}
	if (sys_move_mount(tree, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
		int e = errno;
		close(tree);
		errno = e;
		FAIL("move_mount %s", dst);
	}
	close(tree);
	return 0;
}

/*
 * A read-only directory bind without the "sockets" option: an overlay whose
 * layers are the source and an empty directory (overlayfs wants two lower
 * layers when it has no upper one), instead of a bind of the source itself.
 *
 * Why: connect() and sendto() find a pathname unix socket by its inode, and
 * a read-only mount does not stop them, so a plain bind of /run or of a home
 * directory hands the code the host's daemons and agents.  Every file seen
 * through an overlay has an overlay inode, never the host's, and no socket
 * is bound to those: connect and sendto to a host socket fail with
 * ECONNREFUSED however the path is spelled (relative, through a symlink,
 * "..", another cwd), because the kernel itself resolves it.  No syscall is
 * intercepted, so it costs nothing per call and needs no privilege beyond
 * the user namespace we already own.
 *
 * What it changes (README, "Limits of this design"): a source with mounts
 * below it is refused (EINVAL: the kernel will not make a layer of a mount
 * whose locked submounts it would uncover), st_dev differs from
 * the host's, and a file the host creates in the directory after the code
 * looked it up and found nothing may stay invisible (overlayfs caches the
 * miss: changes below a mounted overlay are outside its contract).
 */
#ifndef FSCONFIG_CMD_CREATE
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6
#endif
#define PETRI_FSOPEN_CLOEXEC 1
#define PETRI_FSMOUNT_CLOEXEC 1

/* A detached, empty, read-only tmpfs: its mount fd or -errno. */
static int empty_tree(void)
{
	int fs = (int)syscall(SYS_fsopen, "tmpfs", PETRI_FSOPEN_CLOEXEC);
	if (fs < 0)
		return -errno;
	int r = 0;
	if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", "4k", 0) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", "0555", 0) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		r = -errno;
	int m = r < 0 ? -1 :
			(int)syscall(SYS_fsmount, fs, PETRI_FSMOUNT_CLOEXEC,
				     PETRI_MOUNT_ATTR_RDONLY | PETRI_MOUNT_ATTR_NOSUID |
					     PETRI_MOUNT_ATTR_NODEV);
	if (r == 0 && m < 0)
		r = -errno;
	close(fs);
	return r < 0 ? r : m;
}

/*
 * The overlay itself: 0 or -errno (EINVAL: the kernel refused the layer).
 * Its options, and so the fd numbers of its layers, stay readable in
 * /proc/self/mountinfo: they are moved to fixed numbers first, so that every
 * sandbox shows the same line however its init's fd table was laid out
 * (pooled or not, recycled or fresh).
 */
#define OVERLAY_LOWER_FD 900
#define OVERLAY_EMPTY_FD 901
static int overlay_ro(int src_fd, const char *empty, const char *dst)
{
	char opts[PETRI_PATH_MAX + 64];
	int lower = src_fd;
	if (fcntl(OVERLAY_LOWER_FD, F_GETFD) < 0 && errno == EBADF &&
	    syscall(SYS_dup3, src_fd, OVERLAY_LOWER_FD, O_CLOEXEC) == OVERLAY_LOWER_FD)
		lower = OVERLAY_LOWER_FD;
	/* Follow no redirect and no metacopy xattr a host file may carry:
	 * the overlay only ever shows the source as it is. */
	snprintf(opts, sizeof(opts),
		 "lowerdir=/proc/self/fd/%d:%s,redirect_dir=nofollow,metacopy=off", lower, empty);
	int r = mkdir_p(dst, 0755);
	if (r == 0 && mount("overlay", dst, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV, opts) < 0)
		r = -errno;
	if (lower != src_fd)
		close(lower);
	return r;
}

static int attach_no_sockets(int src_fd, const char *empty, const char *dst, char *msg,
			     size_t msglen)
{
	int r = overlay_ro(src_fd, empty, dst);
	if (r == 0)
		return 0;
	errno = -r;
	/* The kernel refuses a layer with mounts below it that this user
	 * namespace may not uncover (they are locked): the overlay would
	 * show what they cover. */
	if (r == -EINVAL)
		FAIL("overlay for the read-only bind at %s refused: has the source mounts "
		     "below it? (a read-only bind cannot show them: bind each one, or "
		     "use the 'sockets' option)",
		     dst + strlen(STAGE));
	FAIL("overlay for the bind at %s (the 'sockets' bind option binds it directly)",
	     dst + strlen(STAGE));
}

static int mount_tmpfs(const char *dst, uint64_t size, const char *mode, unsigned long flags,
		       int owned, char *msg, size_t msglen)
{
	char opts[128];
	if (owned)
		snprintf(opts, sizeof(opts), "size=%llu,mode=%s,uid=%d,gid=%d",
			 (unsigned long long)size, mode, PETRI_SANDBOX_UID, PETRI_SANDBOX_GID);
	else
		snprintf(opts, sizeof(opts), "size=%llu,mode=%s", (unsigned long long)size, mode);
	int r = mkdir_p(dst, 0755);
	if (r < 0) {
		errno = -r;
		FAIL("mkdir %s", dst);
	}
	if (mount("tmpfs", dst, "tmpfs", flags, opts) < 0)
		FAIL("mount tmpfs on %s", dst);
	return 0;
}

/* Clear @clr on the mount at @path alone (mount_setattr). */
static int mount_clear_attr(const char *path, uint64_t clr)
{
	struct petri_mount_attr a = {.attr_clr = clr};
	return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, 0, &a, sizeof(a));
}

static int readonly(const char *path, int recursive, char *msg, size_t msglen)
{
	unsigned fl = recursive ? AT_RECURSIVE : 0;
	if (sys_mount_setattr(AT_FDCWD, path, fl, PETRI_MOUNT_ATTR_RDONLY) < 0)
		FAIL("remount %s read-only", path);
	return 0;
}

/*
 * The sandbox's own boot id, made once by init (petri__rootfs_build) in the
 * read-only root and shown at /proc/sys/kernel/random/boot_id of every
 * exec.  Each exec's /run/petri tmpfs (init.c, reaper_prepare), mounted
 * after its /proc, covers the file itself.
 */
#define BOOT_ID_FILE "/run/petri/boot_id"

/* A random (version 4) UUID in the kernel's boot_id format, newline included. */
static int make_boot_id(const char *path)
{
	unsigned char b[16];
	if (syscall(SYS_getrandom, b, sizeof(b), 0) != (long)sizeof(b))
		return -EIO;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	char s[40], *o = s;
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[b[i] >> 4];
		*o++ = hex[b[i] & 15];
	}
	*o++ = '\n';
	*o = '\0';
	return make_file(path, s, 0444);
}

/*
 * A new procfs at @target with the entries container runtimes hide masked:
 * kernel memory and keys behind /dev/null, hardware trees behind empty
 * read-only tmpfs, and the writable kernel knobs read-only.  Also what
 * names the host: its boot command line (cmdline, behind /dev/null: empty)
 * and its boot id (the sandbox's own instead).  locks: every file lock of
 * the host, with its inode, range and owner (the OFD locks on
 * /run/petri/host-ids.lock say how many sandboxes live and when they come
 * and go).
 */
int petri__proc_mount(const char *target, char *msg, size_t msglen)
{
	if (mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		FAIL("mount proc on %s", target);
	return petri__proc_mask(target, msg, msglen);
}

/* The masks of petri__proc_mount() over the procfs already at @target. */
int petri__proc_mask(const char *target, char *msg, size_t msglen)
{
	static const char *const masked_files[] = {"kcore",      "keys",        "latency_stats",
						   "timer_list", "timer_stats", "sched_debug",
						   "kmsg",       "kallsyms",    "kpagecount",
						   "kpageflags", "kpagecgroup", "config.gz",
						   "cmdline",    "locks"};
	static const char *const masked_dirs[] = {"acpi", "asound", "scsi", "driver", "tty"};
	static const char *const ro[] = {"sys", "sysrq-trigger", "irq", "bus", "fs"};
	char p[PETRI_PATH_MAX];

	int null_fd = open("/dev/null", O_PATH | O_CLOEXEC);
	if (null_fd < 0)
		FAIL("open %s", "/dev/null");
	for (size_t i = 0; i < ARRAY_SIZE(masked_files); i++) {
		snprintf(p, sizeof(p), "%s/%s", target, masked_files[i]);
		if (access(p, F_OK) < 0)
			continue;
		int tree = sys_open_tree(null_fd, "",
					 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
		if (tree < 0 ||
		    sys_move_mount(tree, "", AT_FDCWD, p, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
			int e = errno;
			if (tree >= 0)
				close(tree);
			close(null_fd);
			errno = e;
			FAIL("mask %s", p);
		}
		close(tree);
	}
	close(null_fd);
	/* One empty read-only tmpfs, attached once per masked directory: each
	 * further superblock would cost its set-up and teardown per exec. */
	int empty = -1;
	for (size_t i = 0; i < ARRAY_SIZE(masked_dirs); i++) {
		snprintf(p, sizeof(p), "%s/%s", target, masked_dirs[i]);
		struct stat st;
		if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		int r = 0;
		if (empty < 0) {
			r = mount("tmpfs", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
				  "size=0,mode=0555");
			if (r == 0)
				empty = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (r == 0 && empty < 0)
				r = -1;
		} else {
			int tree = sys_open_tree(
				empty, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
			r = tree < 0 ?
				    -1 :
				    sys_move_mount(tree, "", AT_FDCWD, p, MOVE_MOUNT_F_EMPTY_PATH);
			if (tree >= 0) {
				int e = errno;
				close(tree);
				errno = e;
			}
		}
		if (r < 0) {
			int e = errno;
			if (empty >= 0)
				close(empty);
			errno = e;
			FAIL("mask %s", p);
		}
	}
	if (empty >= 0)
		close(empty);
	for (size_t i = 0; i < ARRAY_SIZE(ro); i++) {
		snprintf(p, sizeof(p), "%s/%s", target, ro[i]);
		if (access(p, F_OK) < 0)
			continue;
		int r = attach_tree(AT_FDCWD, p, p,
				    PETRI_MOUNT_ATTR_RDONLY | PETRI_MOUNT_ATTR_NOSUID |
					    PETRI_MOUNT_ATTR_NODEV | PETRI_MOUNT_ATTR_NOEXEC,
				    msg, msglen);
		if (r < 0)
			return r;
	}
	snprintf(p, sizeof(p), "%s/sys/kernel/random/boot_id", target);
	int tree = sys_open_tree(AT_FDCWD, BOOT_ID_FILE, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	int r = tree < 0 ?
			-1 :
			sys_mount_setattr(tree, "", AT_EMPTY_PATH,
					  PETRI_MOUNT_ATTR_RDONLY | PETRI_MOUNT_ATTR_NOSUID |
						  PETRI_MOUNT_ATTR_NODEV | PETRI_MOUNT_ATTR_NOEXEC);
	if (r == 0)
		r = sys_move_mount(tree, "", AT_FDCWD, p, MOVE_MOUNT_F_EMPTY_PATH);
	if (tree >= 0) {
		int e = errno;
		close(tree);
		errno = e;
	}
	if (r < 0)
		FAIL("bind %s on %s", BOOT_ID_FILE, p);
	return 0;
}

#define DEVPTS_OPTS "newinstance,ptmxmode=0666,mode=0620,max=256"

static const char *const dev_nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};

static int build_dev(int host_root, uint64_t shm_bytes, char *msg, size_t msglen)
{
	char p[PETRI_PATH_MAX], src[64];
	int r = mount_tmpfs(STAGE "/dev", 65536, "0755", MS_NOSUID | MS_NOEXEC, 0, msg, msglen);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(dev_nodes); i++) {
		snprintf(src, sizeof(src), "dev/%s", dev_nodes[i]);
		snprintf(p, sizeof(p), STAGE "/dev/%s", dev_nodes[i]);
		/* Read-only: the nodes are the host's own inodes, writable by
		 * anyone, and a touch (times = now needs only write permission)
		 * would set the host's /dev/null times: a channel between
		 * sandboxes, and between the tenants of a recycled one.  A
		 * read-only mount still lets a device be opened for writing. */
		r = attach_tree(host_root, src, p,
				PETRI_MOUNT_ATTR_NOSUID | PETRI_MOUNT_ATTR_NOEXEC |
					PETRI_MOUNT_ATTR_RDONLY,
				msg, msglen);
		if (r < 0)
			return r;
	}
	static const char *const links[][2] = {{"/proc/self/fd", "fd"},
					       {"/proc/self/fd/0", "stdin"},
					       {"/proc/self/fd/1", "stdout"},
					       {"/proc/self/fd/2", "stderr"},
					       {"pts/ptmx", "ptmx"}};
	for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
		snprintf(p, sizeof(p), STAGE "/dev/%s", links[i][1]);
		if (symlink(links[i][0], p) < 0)
			FAIL("symlink %s", p);
	}
	/* /dev/shm, then /dev/pts: the order a reset makes them again in. */
	r = mount_tmpfs(STAGE "/dev/shm", shm_bytes, "1777", MS_NOSUID | MS_NODEV, 0, msg, msglen);
	if (r < 0)
		return r;
	if (mkdir(STAGE "/dev/pts", 0755) < 0)
		FAIL("mkdir %s", STAGE "/dev/pts");
	if (mount("devpts", STAGE "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, DEVPTS_OPTS) < 0)
		FAIL("mount devpts on %s", STAGE "/dev/pts");
	return readonly(STAGE "/dev", 0, msg, msglen);
}

/* Network mode proxy: the host's DNS server on the sandbox's own loopback
 * (libpetri/net), the only one, answering allowed names with A records. */
#define PROXY_RESOLV_CONF                                                                          \
	"# the sandbox's DNS server: petri's proxy, which answers allowed names only\n"            \
	"nameserver 127.0.0.1\n"                                                                   \
	"options timeout:2 attempts:2\n"
#define NO_RESOLV_CONF "# no DNS inside a petri sandbox unless its network allows it\n"

static int build_etc(const struct petri_init_cfg *cfg, int host_root, char *msg, size_t msglen)
{
	char buf[512], p[PETRI_PATH_MAX];
	static const char *const ro_entries[] = {
		"ld.so.cache",  "ld.so.conf", "ld.so.conf.d",   "ssl",       "ca-certificates",
		"alternatives", "localtime",  "timezone",       "protocols", "services",
		"mime.types",   "gai.conf",   "host.conf",      "python3",   "python3.11",
		"perl",         "os-release", "debian_version", "inputrc",   "magic",
	};

	if (mkdir(STAGE "/etc", 0755) < 0)
		FAIL("mkdir %s", STAGE "/etc");
	for (size_t i = 0; i < ARRAY_SIZE(ro_entries); i++) {
		snprintf(p, sizeof(p), "etc/%s", ro_entries[i]);
		struct stat st;
		if (fstatat(host_root, p, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		char dst[PETRI_PATH_MAX];
		snprintf(dst, sizeof(dst), STAGE "/etc/%s", ro_entries[i]);
		if (S_ISLNK(st.st_mode)) {
			char target[PETRI_PATH_MAX];
			ssize_t n = readlinkat(host_root, p, target, sizeof(target) - 1);
			if (n < 0)
				continue;
			target[n] = '\0';
			if (symlink(target, dst) < 0)
				FAIL("symlink %s", dst);
			continue;
		}
		int r = attach_tree(host_root, p, dst,
				    PETRI_MOUNT_ATTR_RDONLY | PETRI_MOUNT_ATTR_NOSUID |
					    PETRI_MOUNT_ATTR_NODEV,
				    msg, msglen);
		if (r < 0)
			return r;
	}

	/* Names for the ids that exist inside.  A root host maps 0..65535:
	 * root, sandbox and nobody.  An unprivileged one maps 1000 only; its
	 * nobody/nogroup stay listed as the overflow id, the owner every file
	 * of an unmapped host id shows (in both cases: host root's files), so
	 * `ls -l /usr` names it. */
	const char *root_user = cfg->host_is_root ? "root:x:0:0:root:/root:/usr/sbin/nologin\n" :
						    "";
	const char *root_group = cfg->host_is_root ? "root:x:0:\n" : "";
	char passwd[256], group[128];
	snprintf(passwd, sizeof(passwd),
		 "%ssandbox:x:1000:1000:sandbox:/home/sandbox:/bin/sh\n"
		 "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
		 root_user);
	snprintf(group, sizeof(group), "%ssandbox:x:1000:\nnogroup:x:65534:\n", root_group);
	const struct {
		const char *name;
		const char *content;
	} files[] = {
		{"passwd", passwd},
		{"group", group},
		{"nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"
				  "networks: files\nprotocols: files\nservices: files\n"},
		{"resolv.conf", cfg->net == PETRI_NET_PROXY ? PROXY_RESOLV_CONF : NO_RESOLV_CONF},
	};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(p, sizeof(p), STAGE "/etc/%s", files[i].name);
		int r = make_file(p, files[i].content, 0644);
		if (r < 0) {
			errno = -r;
			FAIL("write %s", p);
		}
	}
	snprintf(buf, sizeof(buf), "127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost\n",
		 cfg->hostname);
	int r = make_file(STAGE "/etc/hosts", buf, 0644);
	if (r == 0) {
		snprintf(buf, sizeof(buf), "%s\n", cfg->hostname);
		r = make_file(STAGE "/etc/hostname", buf, 0644);
	}
	if (r < 0) {
		errno = -r;
		FAIL("write %s", STAGE "/etc/hosts");
	}
	return 0;
}

/*
 * A custom root keeps its own /etc, but in network mode proxy its
 * resolv.conf (a regular file) is covered by ours, read-only, kept beside
 * the boot id (each exec's /run/petri hides the source, not the mount).  A
 * root without one, or with a link there, resolves as it is made to.
 */
static int custom_root_resolv(char *msg, size_t msglen)
{
	static const char src[] = STAGE "/run/petri/resolv.conf";
	static const char dst[] = STAGE "/etc/resolv.conf";
	struct stat st;
	if (fstatat(AT_FDCWD, dst, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return 0;
	int r = make_file(src, PROXY_RESOLV_CONF, 0444);
	if (r < 0) {
		errno = -r;
		FAIL("write %s", src);
	}
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
		FAIL("bind %s", dst);
	return readonly(dst, 0, msg, msglen);
}

/*
 * TenantVault: the sandbox's trust store (cfg->ca_fd, see protocol.h).
 * With the host's /etc: /etc/petri/ca-certificates.crt (the host's bundle
 * and the vault's CA) and /etc/petri/vault-ca.pem (the CA alone, for
 * NODE_EXTRA_CA_CERTS: node would parse a whole bundle at every start),
 * both in the staged /etc tmpfs, and the bundle bound read-only over the
 * host's /etc/ssl/certs/ca-certificates.crt, where every TLS library
 * looks.  A custom root keeps its own /etc: the bundle is written beside
 * the boot id and bound over the root's ca-certificates.crt only where
 * that is a regular file; the CA alone has no path there (README).  The
 * memfd is mapped, not read into a buffer: init does not allocate.
 */
#define PETRI_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
static int install_vault_ca(const struct petri_init_cfg *cfg, int custom_root, char *msg,
			    size_t msglen)
{
	if (cfg->ca_fd < 0)
		return 0;
	if (cfg->ca_len > cfg->ca_size || cfg->ca_size == 0) {
		errno = EINVAL;
		FAIL("%s", "vault CA bundle: bad size");
	}
	const char *p = mmap(NULL, cfg->ca_size, PROT_READ, MAP_PRIVATE, cfg->ca_fd, 0);
	if (p == MAP_FAILED)
		FAIL("%s", "map the vault CA bundle");
	const char *bundle = custom_root ? STAGE "/run/petri/ca-certificates.crt" :
					   STAGE "/etc/petri/ca-certificates.crt";
	int r = 0;
	if (!custom_root && mkdir(STAGE "/etc/petri", 0755) < 0 && errno != EEXIST)
		r = -errno;
	if (r == 0)
		r = make_file_bytes(bundle, p, cfg->ca_size, 0444);
	if (r == 0 && !custom_root)
		r = make_file_bytes(STAGE "/etc/petri/vault-ca.pem", p + cfg->ca_size - cfg->ca_len,
				    cfg->ca_len, 0444);
	munmap((void *)p, cfg->ca_size);
	if (r < 0) {
		errno = -r;
		FAIL("write %s", bundle);
	}
	struct stat st;
	if (fstatat(AT_FDCWD, STAGE PETRI_CA_BUNDLE, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode))
		return 0; /* no system bundle to cover: SSL_CERT_FILE names a file absent */
	if (mount(bundle, STAGE PETRI_CA_BUNDLE, NULL, MS_BIND, NULL) < 0)
		FAIL("bind %s", STAGE PETRI_CA_BUNDLE);
	return readonly(STAGE PETRI_CA_BUNDLE, 0, msg, msglen);
}

/*
 * A directory of the host's OS (/usr, and /lib and the like where they are
 * directories) at @dst: an overlay whose only layers are the host's
 * directory and an empty one (attach_no_sockets), else a read-only bind.
 *
 * Why not the bind: a lock the code takes on a file there (flock(2), or an
 * fcntl(2) read lock, which needs only read access) would be on the host's
 * inode: it would block the host's own programs that lock their file (the
 * `flock -n "$0"` idiom of a script in /usr/local/bin) and be seen by every
 * other sandbox, a channel between them.  Through an overlay the code's files
 * have overlay inodes of this sandbox's own: its locks stay in it, and so do
 * its inotify watches and the host's unix sockets it cannot reach.  What it
 * costs: about 80 us more per sandbox built, and the first lookup of each
 * file in a sandbox makes its overlay dentry (an import-heavy Python start
 * in a new sandbox is ~7 % slower; a sandbox that stays, or is recycled,
 * keeps them).  Where the kernel refuses the overlay (mounts below /usr
 * that this user namespace may not uncover), the bind it has always been.
 */
static int attach_host_dir(int host_root, const char *name, const char *dst, int *empty_fd,
			   char *msg, size_t msglen)
{
	const uint64_t ro = PETRI_MOUNT_ATTR_RDONLY | PETRI_MOUNT_ATTR_NOSUID |
			    PETRI_MOUNT_ATTR_NODEV;
	if (*empty_fd == -1) {
		*empty_fd = empty_tree(); /* -errno: no overlays, binds */
		if (*empty_fd >= 0 && fcntl(OVERLAY_EMPTY_FD, F_GETFD) < 0 && errno == EBADF &&
		    syscall(SYS_dup3, *empty_fd, OVERLAY_EMPTY_FD, O_CLOEXEC) == OVERLAY_EMPTY_FD) {
			close(*empty_fd);
			*empty_fd = OVERLAY_EMPTY_FD;
		}
	}
	int src = *empty_fd >= 0 ? openat(host_root, name, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
	if (src >= 0) {
		char empty[32];
		snprintf(empty, sizeof(empty), "/proc/self/fd/%d", *empty_fd);
		int r = overlay_ro(src, empty, dst);
		close(src);
		if (r == 0)
			return 0;
	}
	return attach_tree(host_root, name, dst, ro, msg, msglen);
}

/* /usr and the top-level links or directories that point into it. */
static int build_host_os(int host_root, char *msg, size_t msglen)
{
	static const char *const top[] = {"bin", "sbin", "lib", "lib32", "lib64", "libx32"};
	int empty_fd = -1;
	int r = attach_host_dir(host_root, "usr", STAGE "/usr", &empty_fd, msg, msglen);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < ARRAY_SIZE(top); i++) {
		struct stat st;
		char dst[64];
		snprintf(dst, sizeof(dst), STAGE "/%s", top[i]);
		if (fstatat(host_root, top[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			char target[PETRI_PATH_MAX];
			ssize_t n = readlinkat(host_root, top[i], target, sizeof(target) - 1);
			if (n < 0)
				continue;
			target[n] = '\0';
			if (symlink(target, dst) < 0) {
				r = -errno;
				snprintf(msg, msglen, "symlink %s", dst);
				goto out;
			}
		} else if (S_ISDIR(st.st_mode)) {
			r = attach_host_dir(host_root, top[i], dst, &empty_fd, msg, msglen);
			if (r < 0)
				goto out;
		}
	}
	r = 0;
out:
	if (empty_fd >= 0)
		close(empty_fd); /* the overlays hold it */
	return r;
}

/* A custom root: every top-level entry except the ones petri provides. */
static int build_custom_root(int rootfs_fd, char *msg, size_t msglen)
{
	static const char *const ours[] = {".",         "..",  "proc", "dev", "tmp",
					   "workspace", "run", "home", "sys"};
	const uint64_t ro = PETRI_MOUNT_ATTR_RDONLY | PETRI_MOUNT_ATTR_NOSUID |
			    PETRI_MOUNT_ATTR_NODEV;
	char buf[8192];
	int dfd = openat(rootfs_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		FAIL("open %s", "rootfs");
	for (;;) {
		long n = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
		if (n < 0) {
			int e = errno;
			close(dfd);
			errno = e;
			FAIL("read %s", "rootfs");
		}
		if (n == 0)
			break;
		for (long off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			off += d->d_reclen;
			int skip = 0;
			for (size_t i = 0; i < ARRAY_SIZE(ours); i++)
				skip |= strcmp(d->d_name, ours[i]) == 0;
			if (skip)
				continue;
			char dst[PETRI_PATH_MAX];
			snprintf(dst, sizeof(dst), STAGE "/%s", d->d_name);
			if (d->d_type == DT_LNK) {
				char target[PETRI_PATH_MAX];
				ssize_t l = readlinkat(dfd, d->d_name, target, sizeof(target) - 1);
				if (l < 0)
					continue;
				target[l] = '\0';
				if (symlink(target, dst) < 0) {
					int e = errno;
					close(dfd);
					errno = e;
					FAIL("symlink %s", dst);
				}
				continue;
			}
			int r = attach_tree(dfd, d->d_name, dst, ro, msg, msglen);
			if (r < 0) {
				close(dfd);
				return r;
			}
		}
	}
	close(dfd);
	return 0;
}

static int pivot(char *msg, size_t msglen)
{
	if (chdir(STAGE) < 0)
		FAIL("chdir %s", STAGE);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		FAIL("pivot_root %s", STAGE);
	if (umount2(".", MNT_DETACH) < 0)
		FAIL("detach %s", "the old root");
	if (chdir("/") < 0)
		FAIL("chdir %s", "/");
	return 0;
}

/* /tmp, /home/sandbox and /workspace (a tmpfs, the host's directory @ws_fd,
 * or the host's idmapped tree), in the staged root. */
static int mount_writable(const struct petri_init_cfg *cfg, int ws_fd, char *msg, size_t msglen)
{
	const unsigned long nsnd = MS_NOSUID | MS_NODEV;
	int r = mount_tmpfs(STAGE "/tmp", cfg->tmp_bytes, "1777", nsnd, 0, msg, msglen);
	if (r == 0)
		r = mount_tmpfs(STAGE "/home/sandbox", cfg->tmp_bytes, "0755", nsnd, 1, msg,
				msglen);
	if (r < 0)
		return r;
	if (cfg->workspace_tree_fd >= 0) {
		/* Prepared by the host (idmapped: only it may idmap a host fs). */
		if (mkdir(STAGE "/workspace", 0755) < 0 ||
		    sys_move_mount(cfg->workspace_tree_fd, "", AT_FDCWD, STAGE "/workspace",
				   MOVE_MOUNT_F_EMPTY_PATH) < 0)
			FAIL("attach workspace %s", cfg->workspace_dir);
		close(cfg->workspace_tree_fd);
	} else if (ws_fd >= 0)
		r = attach_tree(ws_fd, "", STAGE "/workspace",
				PETRI_MOUNT_ATTR_NOSUID | PETRI_MOUNT_ATTR_NODEV, msg, msglen);
	else
		r = mount_tmpfs(STAGE "/workspace", cfg->workspace_bytes, "0755", nsnd, 1, msg,
				msglen);
	return r;
}

int petri__rootfs_build(const struct petri_init_cfg *cfg, char *msg, size_t msglen)
{
	int bind_fds[PETRI_MAX_BINDS];
	int host_root = -1, rootfs_fd = -1, ws_fd = -1, r = 0;
	char p[PETRI_PATH_MAX];

	for (int i = 0; i < cfg->nbinds; i++)
		bind_fds[i] = -1;

	/* No mount event of ours may reach the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		FAIL("make %s private", "/");

	/* Pin every source before the staging tmpfs covers /tmp. */
	host_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (host_root < 0)
		FAIL("open %s", "/");
	if (cfg->rootfs[0]) {
		rootfs_fd = open(cfg->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (rootfs_fd < 0)
			FAIL("open rootfs %s", cfg->rootfs);
	}
	if (cfg->workspace_dir[0]) {
		ws_fd = open(cfg->workspace_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (ws_fd < 0)
			FAIL("open workspace %s", cfg->workspace_dir);
	}
	for (int i = 0; i < cfg->nbinds; i++) {
		bind_fds[i] = open(cfg->binds[i].src, O_PATH | O_CLOEXEC);
		if (bind_fds[i] < 0)
			FAIL("bind source %s", cfg->binds[i].src);
	}

	/* The root's own files are small; the vault's CA bundle is written
	 * into it twice (at most 2 * 4 MiB, sandbox.c). */
	uint64_t stage_bytes = (1u << 20) + (cfg->ca_fd >= 0 ? 2 * cfg->ca_size : 0);
	r = mount_tmpfs(STAGE, stage_bytes, "0755", MS_NOSUID | MS_NODEV, 0, msg, msglen);
	if (r < 0)
		return r;

	r = rootfs_fd >= 0 ? build_custom_root(rootfs_fd, msg, msglen) :
			     build_host_os(host_root, msg, msglen);
	if (r < 0)
		return r;
	if (rootfs_fd < 0) {
		r = build_etc(cfg, host_root, msg, msglen);
		if (r < 0)
			return r;
	}

	/* A root without binds or a workspace of the host's gets its writable
	 * mounts last, in the order a recycle makes them again
	 * (petri__rootfs_reset): a reset sandbox's mount table, which the code
	 * can read in /proc/self/mountinfo, is then the same as a fresh one's.
	 * Binds may land below them, so with binds they come first. */
	const int late = !cfg->rootfs[0] && !cfg->workspace_dir[0] && cfg->workspace_tree_fd < 0 &&
			 cfg->nbinds == 0;
	if (!late && (r = mount_writable(cfg, ws_fd, msg, msglen)) < 0)
		return r;
	if (mkdir_p(STAGE "/run/petri", 0755) < 0 || mkdir(STAGE "/proc", 0555) < 0)
		FAIL("mkdir %s", STAGE "/run");
	if ((r = make_boot_id(STAGE BOOT_ID_FILE)) < 0) {
		errno = -r;
		FAIL("write %s", STAGE BOOT_ID_FILE);
	}
	if (rootfs_fd >= 0 && cfg->net == PETRI_NET_PROXY &&
	    (r = custom_root_resolv(msg, msglen)) < 0)
		return r;
	if ((r = install_vault_ca(cfg, rootfs_fd >= 0, msg, msglen)) < 0)
		return r;
	if (cfg->ca_fd >= 0)
		close(cfg->ca_fd);

	/* The empty lower layer of the overlays: a detached tmpfs, reached
	 * through /proc/self/fd, so it has no path the code could see. */
	int empty_fd = -1;
	char empty[32];
	for (int i = 0; i < cfg->nbinds; i++) {
		const struct petri_bind *b = &cfg->binds[i];
		struct stat st;
		if (fstat(bind_fds[i], &st) < 0)
			FAIL("stat bind source %s", b->src);
		snprintf(p, sizeof(p), STAGE "%s", b->dst);
		if (b->sockets && (r = petri__broker_sockets_bind(i, bind_fds[i])) < 0) {
			errno = -r;
			FAIL("statx bind source %s", b->src);
		}
		if (S_ISSOCK(st.st_mode) && !b->sockets) {
			errno = EACCES; /* checked by the host too; this is the pinned file */
			FAIL("bind source %s is a unix socket (needs the 'sockets' option)",
			     b->src);
		}
		if (S_ISDIR(st.st_mode) && !b->rw && !b->sockets) {
			if (empty_fd < 0 && (empty_fd = empty_tree()) < 0) {
				errno = -empty_fd;
				FAIL("%s", "an empty tmpfs for the bind overlays");
			}
			snprintf(empty, sizeof(empty), "/proc/self/fd/%d", empty_fd);
			r = attach_no_sockets(bind_fds[i], empty, p, msg, msglen);
		} else {
			uint64_t attrs = PETRI_MOUNT_ATTR_NOSUID | PETRI_MOUNT_ATTR_NODEV;
			if (!b->rw)
				attrs |= PETRI_MOUNT_ATTR_RDONLY;
			r = attach_tree(bind_fds[i], "", p, attrs, msg, msglen);
		}
		if (r < 0)
			return r;
		close(bind_fds[i]);
	}
	if (empty_fd >= 0)
		close(empty_fd); /* the overlays hold it */

	/* The sandbox-wide /proc is never seen by code: every exec stacks its
	 * own masked procfs on it.  It exists because the kernel lets a user
	 * namespace mount proc only where a proc is already fully visible. */
	if (mount("proc", STAGE "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		FAIL("mount proc on %s", STAGE "/proc");
	r = build_dev(host_root, cfg->tmp_bytes, msg, msglen);
	if (r == 0 && late)
		r = mount_writable(cfg, ws_fd, msg, msglen);
	if (r < 0)
		return r;
	close(host_root);
	if (rootfs_fd >= 0)
		close(rootfs_fd);
	if (ws_fd >= 0)
		close(ws_fd);

	r = pivot(msg, msglen);
	if (r < 0)
		return r;
	return readonly("/", 0, msg, msglen);
}

/* One writable mount of the reset: unmounted and made again. */
struct fresh_mount {
	const char *path;
	uint64_t size;
	const char *mode;
	int owned; /* tmpfs: owned by the sandbox user; -1: devpts */
};

static int replace_mount(const struct fresh_mount *f)
{
	char msg[PETRI_STAGE_MSG_MAX];
	if (umount2(f->path, MNT_DETACH) < 0)
		return -errno;
	if (f->owned < 0)
		return mount("devpts", f->path, "devpts", MS_NOSUID | MS_NOEXEC, DEVPTS_OPTS) < 0 ?
			       -errno :
			       0;
	return mount_tmpfs(f->path, f->size, f->mode, MS_NOSUID | MS_NODEV, f->owned, msg,
			   sizeof(msg));
}

int petri__rootfs_reset(const struct petri_init_cfg *cfg, char *msg, size_t msglen)
{
	/* The writable places of a default root (petri__rootfs_build), each
	 * replaced by a new tmpfs with the same options (and /dev/pts by a new
	 * devpts instance): the old one goes with its last reference (no
	 * process of the tenant is left to hold one). */
	const struct fresh_mount fs[] = {
		{"/tmp", cfg->tmp_bytes, "1777", 0},
		{"/home/sandbox", cfg->tmp_bytes, "0755", 1},
		{"/workspace", cfg->workspace_bytes, "0755", 1},
		{"/dev/shm", cfg->tmp_bytes, "1777", 0},
		{"/dev/pts", 0, NULL, -1},
	};
	if (!cfg->poolable || cfg->rootfs[0] || cfg->workspace_dir[0] || cfg->nbinds) {
		errno = EOPNOTSUPP;
		FAIL("%s", "reset: only a default sandbox can be reset");
	}
	/* One after the other: each unmount waits for an RCU grace period,
	 * but the pool resets many sandboxes at once, so the waits overlap
	 * between sandboxes; a child per mount to overlap them here too cost
	 * more CPU (its fork and exit) than it saved. */
	for (size_t i = 0; i < ARRAY_SIZE(fs); i++) {
		int r = replace_mount(&fs[i]);
		if (r < 0) {
			errno = -r;
			FAIL("reset: replace the mount at %s", fs[i].path);
		}
	}
	/* The boot id names the sandbox: a new user gets a new one.  The root
	 * is writable only for this write (nothing of the tenant runs). */
	if (mount_clear_attr("/", PETRI_MOUNT_ATTR_RDONLY) < 0)
		FAIL("reset: make %s writable", "/");
	int r = make_boot_id(BOOT_ID_FILE);
	if (r < 0) {
		errno = -r;
		FAIL("reset: write %s", BOOT_ID_FILE);
	}
	return readonly("/", 0, msg, msglen);
}
