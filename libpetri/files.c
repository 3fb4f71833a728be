/* SPDX-License-Identifier: Apache-2.0 */
/*
 * files.c - putting files into and getting them out of /workspace.
 *
 * The host holds an O_PATH fd of the sandbox's /workspace (sent by init), so
 * it never walks a path through the sandbox's mount namespace.  Every lookup
 * below it is openat2() with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV: a symlink, a ".." or a mount
 * planted by the sandboxed code makes the call fail instead of escaping.
 * Removal and listing resolve the parent (or the directory) the same way
 * and then only ever act on one name relative to that directory fd
 * (unlinkat, fstatat AT_SYMLINK_NOFOLLOW), so the last component is never
 * followed either.
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "host.h"

#define RESOLVE_SAFE                                                                               \
	(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)

static int openat2_safe(int dirfd, const char *path, uint64_t flags, uint64_t mode)
{
	struct open_how how = {
		.flags = flags | O_CLOEXEC | O_NOFOLLOW, .mode = mode, .resolve = RESOLVE_SAFE};
	int fd;
	do
		fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return fd < 0 ? -errno : fd;
}

/* Strip "/workspace/" or "/", and refuse empty names, ".." and NULs. */
static int clean_path(const char *in, char *out, size_t outlen, petri_error **err)
{
	if (!in || !*in)
		return petri__err(err, EINVAL, "file path is empty");
	if (strcmp(in, "/workspace") == 0)
		return petri__err(err, EISDIR, "/workspace is a directory, not a file");
	if (strncmp(in, "/workspace/", 11) == 0)
		in += 11;
	while (*in == '/')
		in++;
	size_t n = strlen(in);
	if (n == 0 || n >= outlen)
		return petri__err(err, n ? ENAMETOOLONG : EINVAL, "file path '%.64s'", in);
	for (const char *c = in; *c;) {
		const char *e = strchrnul(c, '/');
		size_t l = (size_t)(e - c);
		if (l == 2 && c[0] == '.' && c[1] == '.')
			return petri__err(err, EPERM, "file path '%.64s' leaves /workspace", in);
		c = *e ? e + 1 : e;
	}
	memcpy(out, in, n + 1);
	while (n > 0 && out[n - 1] == '/')
		out[--n] = '\0';
	return 0;
}

/*
 * A root host works in the workspace as the sandbox's user: host root is not
 * mapped in the sandbox (creating files as it fails with EOVERFLOW), and the
 * code must own what the host puts there.  setfsuid() is per thread.
 */
struct fsid {
	int changed;
	uid_t uid;
	gid_t gid;
};

static struct fsid become_sandbox_user(petri_sandbox *sb)
{
	struct fsid old = {0};
	if (!sb->ctx->is_root)
		return old;
	old.changed = 1;
	old.gid = (gid_t)setfsgid(sb->host_gid);
	old.uid = (uid_t)setfsuid(sb->host_uid);
	return old;
}

static void restore_user(const struct fsid *old)
{
	if (!old->changed)
		return;
	setfsuid(old->uid);
	setfsgid(old->gid);
}

/* Open the directory @rel below the workspace with @flags (| O_DIRECTORY).
 * A symlink as its last component fails with ENOTDIR under O_NOFOLLOW |
 * O_PATH | O_DIRECTORY: report it as the symlink it is (ELOOP), as a
 * symlink earlier on the way is. */
static int open_dir_safe(petri_sandbox *sb, const char *rel, uint64_t flags)
{
	int fd = openat2_safe(sb->workspace_fd, rel, flags | O_DIRECTORY, 0);
	if (fd == -ENOTDIR) {
		struct stat st;
		if (fstatat(sb->workspace_fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			fd = -ELOOP;
	}
	return fd;
}

/* The directory @rel is in, below the workspace (an O_PATH fd in *@fd, to
 * close, or -1 for the workspace itself), and its last component in
 * *@name.  0, or -errno. */
static int open_parent(petri_sandbox *sb, char *rel, int *fd, const char **name)
{
	char *slash = strrchr(rel, '/');
	*fd = -1;
	*name = rel;
	if (!slash)
		return 0;
	*slash = '\0';
	int r = open_dir_safe(sb, rel, O_PATH);
	*slash = '/';
	if (r < 0)
		return r;
	*fd = r;
	*name = slash + 1;
	return 0;
}

/* Create each parent directory of @rel below the workspace. */
static int make_parents(petri_sandbox *sb, char *rel, petri_error **err)
{
	for (char *s = strchr(rel, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		int dfd = openat2_safe(sb->workspace_fd, rel, O_PATH | O_DIRECTORY, 0);
		if (dfd == -ENOENT) {
			_cleanup_close_ int parent = -1;
			const char *name;
			int r = open_parent(sb, rel, &parent, &name);
			if (r < 0) {
				*s = '/';
				return petri__err(err, r, "open directory of %s", rel);
			}
			int pfd = parent >= 0 ? parent : sb->workspace_fd;
			if (mkdirat(pfd, name, 0755) < 0 && errno != EEXIST) {
				int e = errno;
				*s = '/';
				return petri__err(err, e, "mkdir /workspace/%s", rel);
			}
			dfd = openat2_safe(sb->workspace_fd, rel, O_PATH | O_DIRECTORY, 0);
		}
		if (dfd == -ENOTDIR) { /* a symlink planted there: say so */
			struct stat st;
			if (fstatat(sb->workspace_fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode))
				dfd = -ELOOP;
		}
		if (dfd < 0) {
			*s = '/';
			return petri__err(err, dfd, "open /workspace/%s", rel);
		}
		close(dfd);
		*s = '/';
	}
	return 0;
}

static int write_open_file(petri_sandbox *sb, char *rel, int fd, const void *data, size_t len,
			   uint32_t mode, petri_error **err);

static int write_file(petri_sandbox *sb, const char *path, const void *data, size_t len,
		      uint32_t mode, petri_error **err)
{
	char rel[PETRI_PATH_MAX];
	int r;
	if (!sb)
		return petri__err(err, EINVAL, "petri_sandbox_write_file: sandbox is NULL");
	if (!data && len)
		return petri__err(err, EINVAL, "petri_sandbox_write_file: data is NULL");
	if (sb->dead || sb->workspace_fd < 0)
		return petri__err(err, ESRCH, "sandbox %s is no longer running", sb->id);
	if ((r = clean_path(path, rel, sizeof(rel), err)) < 0)
		return r;
	if (path[strlen(path) - 1] == '/')
		return petri__err(err, EISDIR, "file path '%.64s' names a directory", path);
	if ((r = make_parents(sb, rel, err)) < 0)
		return r;
	/* O_NONBLOCK: a FIFO planted by the code must not hang the host (open
	 * fails with ENXIO); the type check below refuses it anyway.  No
	 * O_TRUNC before we know it is a regular file. */
	int fd = openat2_safe(sb->workspace_fd, rel, O_WRONLY | O_CREAT | O_NONBLOCK,
			      (mode ? mode : 0644) & 07777);
	if (fd < 0)
		return petri__err(err, fd, "open /workspace/%s", rel);
	r = write_open_file(sb, rel, fd, data, len, mode, err);
	close(fd);
	/* host.h: no clone of init still holds a copy of @fd (ETXTBSY). */
	petri__write_settle();
	return r;
}

/* write_file's part with @fd open: its checks, the write, and the cleanup
 * of a failed write. */
static int write_open_file(petri_sandbox *sb, char *rel, int fd, const void *data, size_t len,
			   uint32_t mode, petri_error **err)
{
	int r;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return petri__err(err, EINVAL, "/workspace/%s is not a regular file", rel);
	if (ftruncate(fd, 0) < 0 || fcntl(fd, F_SETFL, 0) < 0)
		return petri__err(err, errno, "truncate /workspace/%s", rel);
	if (fchmod(fd, (mode ? mode : 0644) & 07777) < 0)
		return petri__err(err, errno, "chmod /workspace/%s", rel);
	r = petri__write_all(fd, data, len);
	if (r < 0) {
		/* No partial file stays behind (a full workspace, a file size
		 * limit): what was there is gone already, truncated above. */
		_cleanup_close_ int parent = -1;
		const char *name;
		struct stat now;
		/* Only if the name still is the file we wrote. */
		if (open_parent(sb, rel, &parent, &name) == 0) {
			int pfd = parent >= 0 ? parent : sb->workspace_fd;
			if (fstatat(pfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
			    now.st_ino == st.st_ino && now.st_dev == st.st_dev)
				unlinkat(pfd, name, 0);
		}
		return petri__err(err, r, "write /workspace/%s", rel);
	}
	return 0;
}

static int read_file(petri_sandbox *sb, const char *path, uint64_t max, void **data, size_t *len,
		     petri_error **err)
{
	char rel[PETRI_PATH_MAX];
	int r;
	if (!sb || !data || !len)
		return petri__err(err, EINVAL, "petri_sandbox_read_file: NULL argument");
	if (sb->dead || sb->workspace_fd < 0)
		return petri__err(err, ESRCH, "sandbox %s is no longer running", sb->id);
	if ((r = clean_path(path, rel, sizeof(rel), err)) < 0)
		return r;
	if (!max)
		max = DEFAULT_READ_MAX;
	/* O_NONBLOCK: a FIFO planted by the code must not hang the host. */
	_cleanup_close_ int fd = openat2_safe(sb->workspace_fd, rel, O_RDONLY | O_NONBLOCK, 0);
	if (fd < 0)
		return petri__err(err, fd, "open /workspace/%s", rel);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return petri__err(err, errno, "stat /workspace/%s", rel);
	if (!S_ISREG(st.st_mode))
		return petri__err(err, EINVAL, "/workspace/%s is not a regular file", rel);
	if ((uint64_t)st.st_size > max)
		return petri__err(err, EFBIG, "/workspace/%s is %lld bytes, more than %llu", rel,
				  (long long)st.st_size, (unsigned long long)max);
	size_t cap = (size_t)st.st_size + 1, n = 0;
	_cleanup_free_ char *buf = malloc(cap);
	if (!buf)
		return petri__err(err, ENOMEM, "read /workspace/%s", rel);
	for (;;) {
		if (n == cap) {
			/* it grew while we read: keep going up to max */
			if (cap > max)
				return petri__err(err, EFBIG, "/workspace/%s grew past %llu bytes",
						  rel, (unsigned long long)max);
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				return petri__err(err, ENOMEM, "read /workspace/%s", rel);
			buf = nb;
			cap *= 2;
		}
		ssize_t rd = read(fd, buf + n, cap - n);
		if (rd < 0) {
			if (errno == EINTR)
				continue;
			return petri__err(err, errno, "read /workspace/%s", rel);
		}
		if (rd == 0)
			break;
		n += (size_t)rd;
	}
	if (n > max)
		return petri__err(err, EFBIG, "/workspace/%s is larger than %llu bytes", rel,
				  (unsigned long long)max);
	*data = TAKE_PTR(buf);
	*len = n;
	return 0;
}

static int remove_file(petri_sandbox *sb, const char *path, petri_error **err)
{
	char rel[PETRI_PATH_MAX];
	int r;
	if (sb->dead || sb->workspace_fd < 0)
		return petri__err(err, ESRCH, "sandbox %s is no longer running", sb->id);
	if ((r = clean_path(path, rel, sizeof(rel), err)) < 0)
		return r;
	int want_dir = path[strlen(path) - 1] == '/';
	_cleanup_close_ int parent = -1;
	const char *name;
	if ((r = open_parent(sb, rel, &parent, &name)) < 0)
		return petri__err(err, r, "remove /workspace/%s: open its directory", rel);
	if (strcmp(name, ".") == 0)
		return petri__err(err, EINVAL, "remove /workspace/%s: names a directory by '.'",
				  rel);
	int pfd = parent >= 0 ? parent : sb->workspace_fd;
	/* unlinkat() never follows the name it removes: a symlink goes, its
	 * target stays.  Try a non-directory first, then an empty directory
	 * (no stat in between for the code to race). */
	if (!want_dir && unlinkat(pfd, name, 0) == 0)
		return 0;
	if (!want_dir && errno != EISDIR)
		return petri__err(err, errno, "remove /workspace/%s", rel);
	if (unlinkat(pfd, name, AT_REMOVEDIR) < 0) {
		int e = errno == EEXIST ? ENOTEMPTY : errno;
		return petri__err(err, e, "remove directory /workspace/%s", rel);
	}
	return 0;
}

/* --- listing ------------------------------------------------------------ */

/* The names kept so far: a max-heap by name of at most cap entries, so a
 * directory of millions of entries costs memory for @max names only. */
struct name_heap {
	char **v;
	size_t n, cap;
};

static void heap_swap(char **a, char **b)
{
	char *t = *a;
	*a = *b;
	*b = t;
}

static void heap_up(struct name_heap *h, size_t i)
{
	while (i > 0 && strcmp(h->v[(i - 1) / 2], h->v[i]) < 0) {
		heap_swap(&h->v[(i - 1) / 2], &h->v[i]);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct name_heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, big = i;
		if (l < h->n && strcmp(h->v[l], h->v[big]) > 0)
			big = l;
		if (r < h->n && strcmp(h->v[r], h->v[big]) > 0)
			big = r;
		if (big == i)
			return;
		heap_swap(&h->v[i], &h->v[big]);
		i = big;
	}
}

/* Keep @name if it is among the @cap smallest seen; 1 if one was dropped
 * (this one or a larger one kept before), 0 if not, -ENOMEM. */
static int heap_offer(struct name_heap *h, const char *name)
{
	if (h->n == h->cap && strcmp(name, h->v[0]) >= 0)
		return 1;
	char *copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	if (h->n == h->cap) {
		free(h->v[0]);
		h->v[0] = copy;
		heap_down(h, 0);
		return 1;
	}
	h->v[h->n] = copy;
	heap_up(h, h->n++);
	return 0;
}

static void heap_free(struct name_heap *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->v[i]);
	free(h->v);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint32_t dirent_type(mode_t m)
{
	if (S_ISREG(m))
		return PETRI_DIRENT_FILE;
	if (S_ISDIR(m))
		return PETRI_DIRENT_DIR;
	if (S_ISLNK(m))
		return PETRI_DIRENT_SYMLINK;
	return PETRI_DIRENT_OTHER;
}

/* One block: the entries, then their names (NUL-terminated), in name
 * order.  Entries that vanished since readdir (the code may be running)
 * are left out.  *@out NULL on ENOMEM. */
static int build_block(int dfd, struct name_heap *h, petri_dirent **out, size_t *count)
{
	size_t names = 0;
	for (size_t i = 0; i < h->n; i++)
		names += strlen(h->v[i]) + 1;
	size_t head = (h->n ? h->n : 1) * sizeof(petri_dirent);
	petri_dirent *e = malloc(head + names);
	if (!e)
		return -ENOMEM;
	char *np = (char *)e + head;
	size_t k = 0;
	for (size_t i = 0; i < h->n; i++) {
		struct stat st;
		if (fstatat(dfd, h->v[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		size_t l = strlen(h->v[i]) + 1;
		memcpy(np, h->v[i], l);
		e[k] = (petri_dirent){.name = np,
				      .type = dirent_type(st.st_mode),
				      .mode = (uint32_t)(st.st_mode & 07777),
				      .size = (uint64_t)st.st_size,
				      .mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
						  st.st_mtim.tv_nsec};
		np += l;
		k++;
	}
	*out = e;
	*count = k;
	return 0;
}

/* "" / "/" / NULL / "/workspace" / "/workspace/": the workspace itself. */
static int is_workspace_root(const char *path)
{
	if (!path)
		return 1;
	if (strncmp(path, "/workspace", 10) == 0 && (path[10] == '\0' || path[10] == '/'))
		path += 10;
	while (*path == '/')
		path++;
	return *path == '\0';
}

static int list_dir(petri_sandbox *sb, const char *path, uint32_t max, petri_dirent **entries,
		    size_t *n, int *truncated, petri_error **err)
{
	char rel[PETRI_PATH_MAX] = ".";
	int r;
	if (sb->dead || sb->workspace_fd < 0)
		return petri__err(err, ESRCH, "sandbox %s is no longer running", sb->id);
	if (!is_workspace_root(path) && (r = clean_path(path, rel, sizeof(rel), err)) < 0)
		return r;
	int dfd = open_dir_safe(sb, rel, O_RDONLY | O_NONBLOCK);
	if (dfd < 0)
		return petri__err(err, dfd, "list /workspace/%s", strcmp(rel, ".") ? rel : "");
	/* fdopendir() owns dfd from here (closedir closes it). */
	DIR *d = fdopendir(dfd);
	if (!d) {
		int e = errno;
		close(dfd);
		return petri__err(err, e, "list /workspace/%s", rel);
	}
	struct name_heap h = {.cap = max ? max : DEFAULT_LIST_MAX};
	int dropped = 0;
	r = 0;
	h.v = malloc(sizeof(*h.v) * (h.cap < 64 ? h.cap : 64));
	size_t vcap = h.v ? (h.cap < 64 ? h.cap : 64) : 0;
	if (!h.v)
		r = -ENOMEM;
	for (struct dirent *de; r == 0;) {
		errno = 0;
		if (!(de = readdir(d))) {
			r = -errno;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (h.n == vcap && h.n < h.cap) { /* grow up to cap, not beyond */
			size_t nc = vcap * 2 < h.cap ? vcap * 2 : h.cap;
			char **nv = realloc(h.v, sizeof(*nv) * nc);
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			h.v = nv;
			vcap = nc;
		}
		int o = heap_offer(&h, de->d_name);
		if (o < 0)
			r = o;
		else
			dropped |= o;
	}
	petri_dirent *block = NULL;
	size_t count = 0;
	if (r == 0) {
		qsort(h.v, h.n, sizeof(*h.v), cmp_names);
		r = build_block(dirfd(d), &h, &block, &count);
	}
	heap_free(&h);
	closedir(d);
	if (r < 0)
		return petri__err(err, r, "list /workspace/%s", strcmp(rel, ".") ? rel : "");
	*entries = block;
	*n = count;
	if (truncated)
		*truncated = dropped;
	return 0;
}

PETRI_API int petri_sandbox_write_file(petri_sandbox *sb, const char *path, const void *data,
				       size_t len, uint32_t mode, petri_error **err)
{
	if (!sb)
		return petri__err(err, EINVAL, "petri_sandbox_write_file: sandbox is NULL");
	struct fsid old = become_sandbox_user(sb);
	int r = write_file(sb, path, data, len, mode, err);
	restore_user(&old);
	return r;
}

PETRI_API int petri_sandbox_read_file(petri_sandbox *sb, const char *path, uint64_t max,
				      void **data, size_t *len, petri_error **err)
{
	if (!sb)
		return petri__err(err, EINVAL, "petri_sandbox_read_file: NULL argument");
	struct fsid old = become_sandbox_user(sb);
	int r = read_file(sb, path, max, data, len, err);
	restore_user(&old);
	return r;
}

PETRI_API int petri_sandbox_remove_file(petri_sandbox *sb, const char *path, petri_error **err)
{
	if (!sb)
		return petri__err(err, EINVAL, "petri_sandbox_remove_file: sandbox is NULL");
	struct fsid old = become_sandbox_user(sb);
	int r = remove_file(sb, path, err);
	restore_user(&old);
	return r;
}

PETRI_API int petri_sandbox_list_dir(petri_sandbox *sb, const char *path, uint32_t max,
				     petri_dirent **entries, size_t *n, int *truncated,
				     petri_error **err)
{
	if (!sb || !entries || !n)
		return petri__err(err, EINVAL, "petri_sandbox_list_dir: NULL argument");
	struct fsid old = become_sandbox_user(sb);
	int r = list_dir(sb, path, max, entries, n, truncated, err);
	restore_user(&old);
	return r;
}
