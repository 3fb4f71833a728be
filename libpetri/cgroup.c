/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup.c - the sandboxes' cgroups.  Owns: detecting the host's layout (pure
 * cgroup v2 with the memory and pids controllers, or the v1 controllers of a
 * hybrid host plus its unified hierarchy), creating one cgroup per sandbox
 * below the host process's own cgroup with the memory and pids limits (and
 * the CPU limit of a sandbox that has one: cpu.max, or the v1 CFS quota),
 * reading the counters that say why an exec ended, and removing everything
 * again -- including the empty cgroups a SIGKILLed host leaves behind.
 *
 * Every directory we create is "<own cgroup>/petri-<hostpid>-<suffix>" in
 * each hierarchy; nothing outside our own cgroup is ever touched.  With
 * PETRI_CTX_F_CGROUP_LEAF on pure v2, a host whose cgroup holds processes
 * moves itself into "<own cgroup>/petri-host" (cgroup v2 enables controllers
 * only for cgroups without processes) and its sandboxes go beside that leaf.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "internal.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

#define CG_RMDIR_TIMEOUT_NS 1000000000ull /* how long teardown waits for EBUSY */
#define CG_MAX_DEPTH 16                   /* sub-cgroups we descend into */
#define CG_SMALL_FILE 4096                /* every keyed file we parse fits */
#define CG_LEAF_WAIT_NS 500000000ull      /* how long a host in its leaf waits for others */

/* The leaf that PETRI_CTX_F_CGROUP_LEAF moves the host process into, beside
 * its sandboxes' cgroups.  Not a "petri-<pid>-" name, so the sweep never
 * takes it; and the library never removes it: other hosts may share it, and
 * the service manager removes it with the service's cgroup. */
#define CG_HOST_LEAF "petri-host"

/* --- small file helpers ------------------------------------------------- */

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

static int path_join(char *buf, const char *dir, const char *name)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", dir, name);
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

static bool path_exists(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;
	return path_join(path, dir, name) == 0 && stat(path, &st) == 0;
}

/* Write @str with a single write(2): a cgroup file takes one value per write. */
static int write_file(const char *path, const char *str)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = strlen(str);
	/* EINTR is no answer: the memory controller's limit writes give up
	 * at once when the writing thread has a signal pending (v1
	 * memory.limit_in_bytes on a fresh cgroup, seen in petrid's soak:
	 * a create failed with "write .../memory.limit_in_bytes: EINTR").
	 * The signal is delivered on the way out; write again. */
	for (int tries = 0;; tries++) {
		ssize_t n = write(fd, str, len);
		if (n < 0 && errno == EINTR && tries < 1000)
			continue;
		if (n < 0)
			return -errno;
		return (size_t)n == len ? 0 : -EIO;
	}
}

/* Read what fits of @fd from offset 0 into @buf (NUL-terminated).  pread at
 * offset 0 makes a seq_file regenerate its content, so an fd kept open can be
 * read again and again. */
static ssize_t pread_all(int fd, char *buf, size_t size)
{
	size_t len = 0;
	while (len + 1 < size) {
		ssize_t n = pread(fd, buf + len, size - 1 - len, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

static ssize_t read_file(const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return pread_all(fd, buf, size);
}

/* Read a whole file of unknown size (cgroup.procs) into a malloc'd string. */
static int read_all(const char *path, char **out)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (cap - len < 1024) {
			char *p = realloc(buf, cap ? cap * 2 : 4096);
			if (!p)
				return -ENOMEM;
			buf = p;
			cap = cap ? cap * 2 : 4096;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = TAKE_PTR(buf);
	return 0;
}

/* A cgroup number: decimal, or "max" (= UINT64_MAX). */
static int parse_u64(const char *s, uint64_t *out)
{
	while (*s == ' ' || *s == '\t')
		s++;
	if (strncmp(s, "max", 3) == 0) {
		*out = UINT64_MAX;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -errno;
	*out = v;
	return 0;
}

/* The value of "@key <n>" in a flat-keyed file such as memory.events.
 * -ENOENT when the file is missing, -ENODATA when the key is. */
static int read_u64_key(const char *path, const char *key, uint64_t *out)
{
	char buf[CG_SMALL_FILE];
	ssize_t n = read_file(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	size_t klen = strlen(key);
	for (char *line = buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
			return parse_u64(line + klen + 1, out);
	}
	return -ENODATA;
}

static int read_u64_key_at(const char *dir, const char *file, const char *key, uint64_t *out)
{
	char path[PATH_MAX];
	int r = path_join(path, dir, file);
	return r < 0 ? r : read_u64_key(path, key, out);
}

static int read_u64_at(const char *dir, const char *file, uint64_t *out)
{
	char path[PATH_MAX], buf[64];
	int r = path_join(path, dir, file);
	if (r < 0)
		return r;
	ssize_t n = read_file(path, buf, sizeof(buf));
	return n < 0 ? (int)n : parse_u64(buf, out);
}

/* Does the @sep-separated @list contain the word @word? */
static bool list_has(const char *list, char sep, const char *word)
{
	size_t wlen = strlen(word);
	const char *p = list;
	while (p) {
		size_t len = strcspn(p, (char[]){sep, '\n', '\0'});
		if (len == wlen && strncmp(p, word, wlen) == 0)
			return true;
		p = p[len] == sep ? p + len + 1 : NULL;
	}
	return false;
}

/* Why a mode was not chosen, for the log line that explains the fallback. */
static void _printf_(3, 4) set_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* --- where our cgroups are ---------------------------------------------- */

/* /proc/self/cgroup and /proc/self/mountinfo, read once per detection. */
struct self_view {
	char *cgroup;
	char *mountinfo;
};

static void self_view_release(struct self_view *v)
{
	free(v->cgroup);
	free(v->mountinfo);
}

/* A malloc'd copy of the line at *@p (without its newline), *@p moved past
 * it; NULL when out of memory. */
static char *take_line(const char **p)
{
	size_t n = strcspn(*p, "\n");
	char *line = strndup(*p, n);
	*p += n + ((*p)[n] == '\n');
	return line;
}

/* Our cgroup path (relative to the hierarchy's root as we see it) in the v1
 * hierarchy holding @controller, or in the unified one when @controller is
 * NULL, from /proc/self/cgroup ("4:memory:/a/b", "0::/a/b"). */
static int self_cgroup_path(const struct self_view *v, const char *controller, char **out)
{
	for (const char *p = v->cgroup; *p;) {
		_cleanup_free_ char *line = take_line(&p);
		if (!line)
			return -ENOMEM;
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c1 = *c2 = '\0';
		const char *ctrls = c1 + 1;
		bool match = controller ? list_has(ctrls, ',', controller) :
					  strcmp(line, "0") == 0 && *ctrls == '\0';
		if (!match)
			continue;
		*out = strdup(c2 + 1);
		return *out ? 0 : -ENOMEM;
	}
	return -ENOENT;
}

/* mountinfo escapes ' ', '\t', '\n' and '\\' as "\ooo". */
static void unescape_octal(char *s)
{
	char *w = s;
	for (const char *r = s; *r; w++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 4;
		} else {
			*w = *r++;
		}
	}
	*w = '\0';
}

struct mount_line {
	char *root;  /* the mount's root inside its filesystem */
	char *point; /* where it is mounted */
	char *fstype;
	char *super_opts; /* for cgroup v1: the controllers, e.g. "rw,memory" */
};

/* Split one /proc/self/mountinfo line in place:
 * "id parent maj:min root point opts [optional...] - fstype source superopts". */
static int split_mountinfo(char *line, struct mount_line *m)
{
	char *save = NULL;
	int field = 0, after = -1;
	*m = (struct mount_line){0};
	for (char *tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		if (after < 0) {
			if (field == 3)
				m->root = tok;
			else if (field == 4)
				m->point = tok;
			else if (field >= 6 && strcmp(tok, "-") == 0)
				after = 0;
			field++;
			continue;
		}
		if (after == 0)
			m->fstype = tok;
		else if (after == 2)
			m->super_opts = tok;
		after++;
	}
	if (!m->root || !m->point || !m->fstype || !m->super_opts)
		return -EINVAL;
	unescape_octal(m->root);
	unescape_octal(m->point);
	return 0;
}

/* The part of @path below the mount root @root, or NULL when @path is not
 * inside this mount (a bind mount of another subtree). */
static const char *below_root(const char *path, const char *root)
{
	if (strcmp(root, "/") == 0)
		return path;
	size_t n = strlen(root);
	if (strncmp(path, root, n) != 0 || (path[n] != '/' && path[n] != '\0'))
		return NULL;
	return path + n;
}

/* A path from /proc/self/cgroup we can safely append to a mount point: no
 * ".." (we are outside our cgroup namespace's root) and not deleted. */
static bool cgroup_path_usable(const char *p)
{
	size_t n = strlen(p);
	static const char deleted[] = " (deleted)";
	if (p[0] != '/' || strstr(p, "/..") || strstr(p, "//"))
		return false;
	return n < sizeof(deleted) - 1 || strcmp(p + n - (sizeof(deleted) - 1), deleted) != 0;
}

static bool mount_matches(const struct mount_line *m, const char *controller)
{
	if (!controller)
		return strcmp(m->fstype, "cgroup2") == 0;
	return strcmp(m->fstype, "cgroup") == 0 && list_has(m->super_opts, ',', controller);
}

/* The directory of our own cgroup in the hierarchy of @controller (NULL:
 * unified), e.g. "/sys/fs/cgroup/memory/process_api/x".  -ENOENT when that
 * hierarchy is not mounted where we can see our cgroup. */
static int own_cgroup_dir(const struct self_view *v, const char *controller, char **out)
{
	_cleanup_free_ char *cgpath = NULL;
	int r = self_cgroup_path(v, controller, &cgpath);
	if (r < 0)
		return r;
	if (!cgroup_path_usable(cgpath))
		return -ENOENT;
	for (const char *p = v->mountinfo; *p;) {
		_cleanup_free_ char *line = take_line(&p);
		if (!line)
			return -ENOMEM;
		struct mount_line m;
		if (split_mountinfo(line, &m) < 0 || !mount_matches(&m, controller))
			continue;
		const char *rel = below_root(cgpath, m.root);
		if (!rel)
			continue;
		if (strcmp(rel, "/") == 0)
			rel = "";
		if (asprintf(out, "%s%s", m.point, rel) < 0)
			return -ENOMEM;
		return 0;
	}
	return -ENOENT;
}

/* --- killing and removing ----------------------------------------------- */

/* The pids listed in @text (one per line).  0 means a task of a pid
 * namespace we cannot see. */
static int parse_pids(const char *text, int **pids, size_t *n)
{
	size_t count = 0, cap = 0;
	int *v = NULL;
	for (const char *p = text; *p;) {
		char *end;
		long pid = strtol(p, &end, 10);
		if (end == p)
			break;
		if (count == cap) {
			int *nv = realloc(v, (cap ? cap * 2 : 16) * sizeof(*v));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
			cap = cap ? cap * 2 : 16;
		}
		v[count++] = (int)pid;
		p = end;
		while (*p == '\n')
			p++;
	}
	*pids = v;
	*n = count;
	return 0;
}

static int read_procs(const char *dir, int **pids, size_t *n)
{
	char path[PATH_MAX];
	_cleanup_free_ char *text = NULL;
	int r = path_join(path, dir, "cgroup.procs");
	if (r < 0)
		return r;
	r = read_all(path, &text);
	return r < 0 ? r : parse_pids(text, pids, n);
}

static bool pid_listed(const int *pids, size_t n, int pid)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

/* SIGKILL every process listed in @dir/cgroup.procs.  A pid read from the
 * file may be reused before we signal it, so pin each with a pidfd and only
 * signal those the file still lists afterwards: then the pidfd is the task
 * in our cgroup (or a dead one, which ignores the signal). */
static int kill_procs(const char *dir)
{
	_cleanup_free_ int *before = NULL, *after = NULL, *fds = NULL;
	size_t nb = 0, na = 0;
	int r = read_procs(dir, &before, &nb);
	if (r < 0 || nb == 0)
		return r;
	fds = malloc(nb * sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	bool have_pidfd = true;
	for (size_t i = 0; i < nb; i++) {
		fds[i] = before[i] > 0 ? (int)syscall(SYS_pidfd_open, before[i], 0) : -1;
		if (fds[i] < 0 && errno == ENOSYS)
			have_pidfd = false;
	}
	r = read_procs(dir, &after, &na);
	for (size_t i = 0; i < nb; i++) {
		if (r == 0 && before[i] > 0 && pid_listed(after, na, before[i])) {
			if (fds[i] >= 0)
				syscall(SYS_pidfd_send_signal, fds[i], SIGKILL, NULL, 0);
			else if (!have_pidfd)
				kill(before[i], SIGKILL); /* kernel < 5.3: best we can do */
		}
		if (fds[i] >= 0)
			close(fds[i]);
	}
	return r;
}

/* Kill what runs in @dir: cgroup.kill takes the whole subtree at once on v2
 * (>= 5.14); otherwise signal the tasks one by one. */
static void kill_tasks(const char *dir, bool v2)
{
	char path[PATH_MAX];
	if (v2 && path_join(path, dir, "cgroup.kill") == 0 && write_file(path, "1") == 0)
		return;
	kill_procs(dir);
}

static bool is_dir_entry(int dfd, const struct dirent *de)
{
	struct stat st;
	if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
		return false;
	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	return fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int remove_cgroup_at(const char *dir, bool v2, uint64_t deadline, int depth);

/* Sub-cgroups go first: a cgroup with children cannot be removed. */
static void remove_children(const char *dir, bool v2, uint64_t deadline, int depth)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	_cleanup_(closedirp) DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		if (is_dir_entry(dfd, de) && path_join(path, dir, de->d_name) == 0)
			remove_cgroup_at(path, v2, deadline, depth + 1);
	}
}

/* Kill the tasks of @dir and its sub-cgroups, then rmdir them all, retrying
 * while the kernel still tears the tasks down (EBUSY) until @deadline. */
static int remove_cgroup_at(const char *dir, bool v2, uint64_t deadline, int depth)
{
	if (depth > CG_MAX_DEPTH)
		return -ELOOP;
	/* Usually empty already: the kernel took every process down with the
	 * pid namespace of init.  Then no kill, which would cost a grace
	 * period (cgroup.kill takes cgroup_threadgroup_rwsem, ~10 ms here). */
	if (rmdir(dir) == 0 || errno == ENOENT)
		return 0;
	kill_tasks(dir, v2);
	remove_children(dir, v2, deadline, depth);
	for (unsigned ms = 1;; ms = ms < 32 ? ms * 2 : 50) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		int r = -errno;
		if (r != -EBUSY || petri__now_ns() >= deadline)
			return r;
		sleep_ms(ms);
		kill_tasks(dir, v2); /* v1: a task may have forked meanwhile */
	}
}

/* --- sweeping what dead hosts left -------------------------------------- */

/* The inode number of our pid namespace (0: unknown), read once: a fork
 * keeps its parent's pid namespace. */
static unsigned long long own_pidns(void)
{
	static unsigned long long ino;
	static int done;
	if (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
		struct stat st;
		unsigned long long v = stat("/proc/self/ns/pid", &st) == 0 ? st.st_ino : 0;
		__atomic_store_n(&ino, v, __ATOMIC_RELAXED);
		__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
	}
	return __atomic_load_n(&ino, __ATOMIC_RELAXED);
}

void petri__cgroup_name(char *buf, size_t size, uint64_t serial)
{
	snprintf(buf, size, "petri-%d-%llu-%llu", (int)getpid(), (unsigned long long)serial,
		 own_pidns());
}

/*
 * The host pid in "petri-<pid>-<serial>[-<ns>]", or 0 when the name is not
 * ours to judge: another name, or one made in another pid namespace.  There
 * <pid> names another process (or none) of ours, and the cgroup's tasks
 * may be out of our sight: two hosts in different pid namespaces that share
 * a cgroup parent (containers, `unshare --pid`) would each take the other's
 * cgroups for a dead host's, remove one just made and still empty, or kill
 * a live sandbox.  A name without <ns> (from a version before it) is judged
 * as before.
 */
static int stale_name_pid(const char *name)
{
	if (strncmp(name, "petri-", 6) != 0 || name[6] < '1' || name[6] > '9')
		return 0;
	char *end;
	errno = 0;
	long pid = strtol(name + 6, &end, 10);
	if (errno || *end != '-' || pid <= 0 || pid > INT_MAX)
		return 0;
	const char *serial = end + 1;
	(void)strtoull(serial, &end, 10);
	if (end == serial)
		return 0;
	if (*end == '-') {
		const char *ns = end + 1;
		errno = 0;
		unsigned long long ino = strtoull(ns, &end, 10);
		if (errno || end == ns || *end || ino != own_pidns())
			return 0;
	} else if (*end) {
		return 0;
	}
	return (int)pid;
}

/* Count the tasks in @dir and its sub-cgroups that we can see.  Returns -1
 * when one lives in a pid namespace we cannot see: v2 lists such a task as
 * pid 0 (v1 leaves it out, but it also never shows us one to kill). */
static long visible_tasks(const char *dir, int depth)
{
	_cleanup_free_ int *pids = NULL;
	size_t n = 0;
	if (depth > CG_MAX_DEPTH)
		return -1;
	if (read_procs(dir, &pids, &n) < 0)
		return 0;
	if (pid_listed(pids, n, 0))
		return -1;
	long total = (long)n;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return total;
	_cleanup_(closedirp) DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return total;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		if (!is_dir_entry(dfd, de) || path_join(path, dir, de->d_name) < 0)
			continue;
		long sub = visible_tasks(path, depth + 1);
		if (sub < 0)
			return -1;
		total += sub;
	}
	return total;
}

/* Remove one "petri-<pid>-*" cgroup whose host pid is gone from our pid
 * namespace.  The name's pid only means something in the namespace of the
 * host that made it, and a host in another container may share this parent:
 * so a cgroup holding tasks we cannot see is left alone, and one holding no
 * visible task gets a single rmdir, no waiting.  Visible tasks are leftovers
 * of a dead host of ours: kill them and wait for the rmdir as usual. */
static void sweep_one(struct petri_ctx *ctx, const char *path, int pid, bool v2)
{
	long tasks = visible_tasks(path, 0);
	if (tasks < 0) {
		petri__log(ctx, PETRI_LOG_DEBUG, "cgroup %s: tasks of another pid namespace, kept",
			   path);
		return;
	}
	uint64_t deadline = tasks > 0 ? petri__now_ns() + CG_RMDIR_TIMEOUT_NS : 0;
	int r = remove_cgroup_at(path, v2, deadline, 0);
	if (r == -EBUSY && tasks == 0)
		petri__log(ctx, PETRI_LOG_DEBUG, "cgroup %s: busy (another pid namespace?), kept",
			   path);
	else if (r < 0)
		petri__log(ctx, PETRI_LOG_WARN, "remove stale cgroup %s: %s", path, strerror(-r));
	else
		petri__log(ctx, PETRI_LOG_INFO, "removed stale cgroup %s (host pid %d gone)", path,
			   pid);
}

/* Remove "petri-<pid>-*" below @parent whose host pid is gone ("petri-host",
 * the hosts' shared leaf, is no such name).  A host that
 * dies by SIGKILL takes its sandboxes with it (PDEATHSIG, pid namespace), but
 * their empty cgroup directories stay. */
void petri__cgroup_sweep(struct petri_ctx *ctx, const char *parent, int v2)
{
	int dfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	_cleanup_(closedirp) DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		int pid = stale_name_pid(de->d_name);
		if (pid == 0 || !is_dir_entry(dfd, de) || path_join(path, parent, de->d_name) < 0)
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue; /* alive (or not ours to signal): in use */
		sweep_one(ctx, path, pid, v2);
	}
}

static void sweep_layout(struct petri_ctx *ctx, const struct petri_cgroup_layout *l)
{
	if (l->v2_parent)
		petri__cgroup_sweep(ctx, l->v2_parent, 1);
	if (l->v1_memory_parent)
		petri__cgroup_sweep(ctx, l->v1_memory_parent, 0);
	if (l->v1_pids_parent)
		petri__cgroup_sweep(ctx, l->v1_pids_parent, 0);
	if (l->v1_cpu_parent)
		petri__cgroup_sweep(ctx, l->v1_cpu_parent, 0);
}

/* --- layout detection --------------------------------------------------- */

/* Create and remove a child of @parent, proving we may create cgroups there;
 * the child must also have each file of the NULL-terminated @need: a
 * controller's interface files show that it is active in the child. */
/*
 * Can we create sandbox cgroups below @parent?  A permission check, not a
 * trial mkdir/rmdir: in three hierarchies those cost ~0.3 ms of every
 * context (so of every `petri run`).  The files a child needs are there by
 * construction: a v1 controller hierarchy gives every child its files, and
 * for v2 petri__cgroup_v2_parent() has made sure memory and pids are in subtree_control.
 * Anything else (cgroup.max.descendants, say) surfaces at create time with
 * the file's name in the error.
 */
static int probe_parent(const char *parent)
{
	if (faccessat(AT_FDCWD, parent, W_OK | X_OK, AT_EACCESS) < 0)
		return -errno;
	return 0;
}

/* Enable cpu for the children too when it is available (only a sandbox with
 * a CPU limit needs it, so its absence is no error): *@cpu says whether it
 * is on.  @path is the cgroup.subtree_control holding @subtree. */
static void enable_v2_cpu(struct petri_ctx *ctx, const char *path, const char *subtree, int *cpu)
{
	*cpu = list_has(subtree, ' ', "cpu");
	if (*cpu)
		return;
	int r = write_file(path, "+cpu");
	*cpu = r == 0;
	if (r < 0)
		petri__log(ctx, PETRI_LOG_DEBUG, "cannot enable cpu in %s (no CPU limits): %s",
			   path, strerror(-r));
}

/* The space-separated @ctrls ("memory pids") as "+memory +pids" (@plus) or
 * as "memory and pids" for messages. */
static int ctrl_words(const char *ctrls, bool plus, char *buf, size_t size)
{
	size_t len = 0;
	buf[0] = '\0';
	for (const char *p = ctrls + strspn(ctrls, " "); *p; p += strspn(p, " ")) {
		int n = (int)strcspn(p, " ");
		const char *sep = len == 0 ? "" : plus ? " " : " and ";
		int w = snprintf(buf + len, size - len, "%s%s%.*s", sep, plus ? "+" : "", n, p);
		if (w < 0 || (size_t)w >= size - len)
			return -ENAMETOOLONG;
		len += (size_t)w;
		p += n;
	}
	return len ? 0 : -EINVAL;
}

/* Does the space-separated @list hold every word of @ctrls? */
static bool has_all(const char *list, const char *ctrls)
{
	for (const char *p = ctrls + strspn(ctrls, " "); *p; p += strspn(p, " ")) {
		size_t n = strcspn(p, " ");
		char word[NAME_MAX + 1];
		if (n >= sizeof(word))
			return false;
		memcpy(word, p, n);
		word[n] = '\0';
		if (!list_has(list, ' ', word))
			return false;
		p += n;
	}
	return true;
}

/* One attempt at enabling @ctrls (@plus: "+memory +pids"), and cpu when
 * @want_cpu, through the cgroup.subtree_control file @path. */
static int try_enable(struct petri_ctx *ctx, const char *path, const char *ctrls, const char *plus,
		      int want_cpu, int *cpu, char *why, size_t whylen)
{
	char buf[CG_SMALL_FILE];
	ssize_t n = read_file(path, buf, sizeof(buf));
	if (n < 0) {
		set_why(why, whylen, "read %s: %s", path, strerror((int)-n));
		return (int)n;
	}
	if (want_cpu)
		enable_v2_cpu(ctx, path, buf, cpu);
	if (has_all(buf, ctrls))
		return 0;
	int r = write_file(path, plus);
	if (r < 0)
		set_why(why, whylen, "write %s to %s: %s", plus, path, strerror(-r));
	return r;
}

/* Move this whole process (every thread: its pid goes to cgroup.procs) into
 * "@dir/petri-host" (@leaf), creating it, or joining the one another host of
 * ours made. */
static int move_into_leaf(const char *dir, char *leaf, char *why, size_t whylen)
{
	char path[PATH_MAX], num[16];
	struct stat st;
	int r = path_join(leaf, dir, CG_HOST_LEAF);
	if (r == 0)
		r = path_join(path, leaf, "cgroup.procs");
	if (r < 0) {
		set_why(why, whylen, "%s/%s: %s", dir, CG_HOST_LEAF, strerror(-r));
		return r;
	}
	if (mkdir(leaf, 0755) < 0) {
		r = -errno;
		if (r != -EEXIST) {
			set_why(why, whylen, "mkdir %s: %s", leaf, strerror(-r));
			return r;
		}
		if (lstat(leaf, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
			set_why(why, whylen, "%s exists and is not a cgroup of uid %u", leaf,
				(unsigned)geteuid());
			return -EPERM;
		}
	}
	snprintf(num, sizeof(num), "%d", (int)getpid());
	r = write_file(path, num);
	if (r < 0)
		set_why(why, whylen, "write %s to %s: %s", num, path, strerror(-r));
	return r;
}

/* After our move into the leaf, enable @ctrls in @path, waiting a little
 * while other hosts of ours that share @path's cgroup follow us (each sees
 * EBUSY until the last one has moved). */
static int enable_after_move(struct petri_ctx *ctx, const char *path, const char *ctrls,
			     const char *plus, int want_cpu, int *cpu, char *why, size_t whylen)
{
	uint64_t deadline = petri__now_ns() + CG_LEAF_WAIT_NS;
	for (unsigned ms = 1;; ms = ms < 32 ? ms * 2 : 50) {
		int r = try_enable(ctx, path, ctrls, plus, want_cpu, cpu, why, whylen);
		if (r != -EBUSY || petri__now_ns() >= deadline)
			return r;
		sleep_ms(ms);
	}
}

/* Make sure @ctrls (and cpu when @want_cpu) are enabled for children of
 * @dir, moving this process into "@dir/petri-host" first when @leaf and @dir
 * holds processes; *@cpu: whether cpu is. */
static int enable_v2_controllers(struct petri_ctx *ctx, const char *dir, const char *ctrls,
				 int want_cpu, int leaf, int *cpu, char *why, size_t whylen)
{
	char path[PATH_MAX], leafdir[PATH_MAX], plus[256], words[256];
	*cpu = 0;
	int r = path_join(path, dir, "cgroup.subtree_control");
	if (r == 0)
		r = ctrl_words(ctrls, true, plus, sizeof(plus));
	if (r == 0)
		r = ctrl_words(ctrls, false, words, sizeof(words));
	if (r < 0) {
		set_why(why, whylen, "cgroup %s, controllers \"%s\": %s", dir, ctrls, strerror(-r));
		return r;
	}
	r = try_enable(ctx, path, ctrls, plus, want_cpu, cpu, why, whylen);
	if (r != -EBUSY)
		return r;
	if (!leaf) {
		petri__log(
			ctx, PETRI_LOG_WARN,
			"cannot enable %s in %s: our cgroup holds processes (cgroup v2 allows "
			"controllers only for cgroups without them); set PETRI_CTX_F_CGROUP_LEAF "
			"to move this process into %s/%s beside its sandboxes, or run the host in "
			"a leaf of a delegated cgroup, e.g. systemd-run -p Delegate=yes",
			words, path, dir, CG_HOST_LEAF);
		return r;
	}
	r = move_into_leaf(dir, leafdir, why, whylen);
	if (r < 0)
		return r;
	r = enable_after_move(ctx, path, ctrls, plus, want_cpu, cpu, why, whylen);
	if (r == 0)
		petri__log(ctx, PETRI_LOG_INFO,
			   "moved this process (pid %d) into %s to enable %s for the sandboxes' "
			   "cgroups in %s",
			   (int)getpid(), leafdir, words, dir);
	else if (r == -EBUSY)
		petri__log(
			ctx, PETRI_LOG_WARN,
			"cannot enable %s in %s: processes that are not petri hosts are still in "
			"%s after this one moved into %s (cgroup v2 allows controllers only for "
			"cgroups without them); run the host in a cgroup of its own, e.g. "
			"systemd-run -p Delegate=yes",
			words, path, dir, leafdir);
	return r;
}

int petri__cgroup_v2_parent(struct petri_ctx *ctx, const char *own, const char *ctrls, int leaf,
			    char **parent, int *cpu, char *why, size_t whylen)
{
	char path[PATH_MAX], buf[CG_SMALL_FILE], words[256];
	_cleanup_free_ char *dir = strdup(own);
	if (!dir)
		return -ENOMEM;
	/* Already in the leaf (moved by an earlier context of this process,
	 * or started by a host that was): the sandboxes go beside it. */
	char *slash = strrchr(dir, '/');
	if (leaf && slash && slash != dir && strcmp(slash + 1, CG_HOST_LEAF) == 0)
		*slash = '\0';
	int r = path_join(path, dir, "cgroup.controllers");
	ssize_t n = r < 0 ? r : read_file(path, buf, sizeof(buf));
	if (n < 0) {
		set_why(why, whylen, "read %s: %s", path, strerror((int)-n));
		return (int)n;
	}
	if (!has_all(buf, ctrls)) {
		if (ctrl_words(ctrls, false, words, sizeof(words)) < 0)
			snprintf(words, sizeof(words), "%s", ctrls);
		set_why(why, whylen, "%s controllers not available in %s", words, dir);
		return -EOPNOTSUPP;
	}
	r = enable_v2_controllers(ctx, dir, ctrls, list_has(buf, ' ', "cpu"), leaf, cpu, why,
				  whylen);
	if (r < 0)
		return r;
	r = probe_parent(dir);
	if (r == 0 && !path_exists(dir, "cgroup.kill"))
		petri__log(ctx, PETRI_LOG_DEBUG, "%s: no cgroup.kill, killing task by task", dir);
	if (r < 0) {
		set_why(why, whylen, "create a cgroup below %s: %s", dir, strerror(-r));
		return r;
	}
	*parent = TAKE_PTR(dir);
	return 0;
}

/* v1: the memory and pids hierarchies, each writable below our cgroup. */
static int detect_v1(const struct self_view *v, struct petri_cgroup_layout *l, char *why,
		     size_t whylen)
{
	_cleanup_free_ char *mem = NULL, *pids = NULL;
	int r = own_cgroup_dir(v, "memory", &mem);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		set_why(why, whylen, "no v1 memory hierarchy");
		return r;
	}
	r = own_cgroup_dir(v, "pids", &pids);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		set_why(why, whylen, "no v1 pids hierarchy");
		return r;
	}
	r = probe_parent(mem);
	if (r < 0) {
		set_why(why, whylen, "create a cgroup below %s: %s", mem, strerror(-r));
		return r;
	}
	r = probe_parent(pids);
	if (r < 0) {
		set_why(why, whylen, "create a cgroup below %s: %s", pids, strerror(-r));
		return r;
	}
	l->v1_memory_parent = TAKE_PTR(mem);
	l->v1_pids_parent = TAKE_PTR(pids);
	l->mode = PETRI_CGROUP_V1;
	/* The cpu controller ("cpu,cpuacct") only serves CPU limits: without
	 * it the sandboxes work, and one that asks for a CPU limit fails. */
	_cleanup_free_ char *cpu = NULL;
	r = own_cgroup_dir(v, "cpu", &cpu);
	if (r == -ENOMEM)
		return r;
	if (r == 0 && probe_parent(cpu) == 0 && path_exists(cpu, "cpu.cfs_quota_us"))
		l->v1_cpu_parent = TAKE_PTR(cpu);
	return 0;
}

/* The unified hierarchy: V2 mode when it has the controllers; otherwise still
 * a place for each sandbox's cgroup id and CLONE_INTO_CGROUP if writable. */
static int detect_unified(struct petri_ctx *ctx, const struct self_view *v, int leaf,
			  struct petri_cgroup_layout *l, char *why, size_t whylen)
{
	_cleanup_free_ char *dir = NULL;
	int r = own_cgroup_dir(v, NULL, &dir);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		set_why(why, whylen, "no cgroup2 mount holding our cgroup");
		return 0;
	}
	char *parent = NULL;
	r = petri__cgroup_v2_parent(ctx, dir, "memory pids", leaf, &parent, &l->v2_cpu, why,
				    whylen);
	if (r == -ENOMEM)
		return r;
	if (r == 0) {
		l->mode = PETRI_CGROUP_V2;
		l->v2_parent = parent;
		return 0;
	}
	r = probe_parent(dir);
	if (r == 0)
		l->v2_parent = TAKE_PTR(dir);
	else
		petri__log(ctx, PETRI_LOG_DEBUG, "no cgroup below %s: %s", dir, strerror(-r));
	return 0;
}

int petri__cgroup_layout_detect(struct petri_ctx *ctx, int leaf, struct petri_cgroup_layout *out)
{
	struct petri_cgroup_layout l = {.mode = PETRI_CGROUP_NONE};
	char v2why[512] = "", v1why[512] = "";
	struct self_view v = {0};
	int r = read_all("/proc/self/cgroup", &v.cgroup);
	if (r == 0)
		r = read_all("/proc/self/mountinfo", &v.mountinfo);
	if (r == 0)
		r = detect_unified(ctx, &v, leaf, &l, v2why, sizeof(v2why));
	else
		snprintf(v2why, sizeof(v2why), "read /proc/self: %s", strerror(-r));
	if (r == 0 && l.mode == PETRI_CGROUP_NONE)
		r = detect_v1(&v, &l, v1why, sizeof(v1why));
	self_view_release(&v);
	if (r < 0 && r != -ENOMEM)
		r = 0; /* no /proc: no cgroups, as below */
	if (r == -ENOMEM) {
		petri__cgroup_layout_release(&l);
		return r;
	}
	if (l.mode == PETRI_CGROUP_NONE)
		petri__log(ctx, PETRI_LOG_WARN,
			   "no cgroup for memory and pids limits (v2: %s; v1: %s)%s; using rlimits",
			   v2why, v1why,
			   geteuid() != 0 ? " (not root and no delegated cgroup)" : "");
	else
		petri__log(ctx, PETRI_LOG_DEBUG,
			   "cgroups: %s, unified %s, memory %s, pids %s, cpu %s",
			   l.mode == PETRI_CGROUP_V2 ? "v2" : "v1", l.v2_parent ? l.v2_parent : "-",
			   l.v1_memory_parent ? l.v1_memory_parent : "-",
			   l.v1_pids_parent ? l.v1_pids_parent : "-",
			   l.mode == PETRI_CGROUP_V2 ? (l.v2_cpu ? "cpu.max" : "-") :
			   l.v1_cpu_parent           ? l.v1_cpu_parent :
						       "-");
	sweep_layout(ctx, &l);
	*out = l;
	return 0;
}

void petri__cgroup_layout_release(struct petri_cgroup_layout *layout)
{
	free(layout->v2_parent);
	free(layout->v1_memory_parent);
	free(layout->v1_pids_parent);
	free(layout->v1_cpu_parent);
	*layout = (struct petri_cgroup_layout){.mode = PETRI_CGROUP_NONE};
}

/* --- one sandbox's cgroups ---------------------------------------------- */

static bool valid_name(const char *name)
{
	return name && *name && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
	       !strchr(name, '/') && strlen(name) < NAME_MAX;
}

/* mkdir "@parent/@name"; *@dir is set only once the directory exists, so
 * destroy removes exactly what we created.  An existing directory is an
 * error: it is someone else's. */
static int make_dir(const char *parent, const char *name, char **dir, petri_error **err)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s", parent, name) < 0)
		return petri__err(err, ENOMEM, "cgroup path");
	if (mkdir(path, 0755) < 0)
		return petri__err(err, errno, "mkdir %s", path);
	*dir = TAKE_PTR(path);
	return 0;
}

static int set_value(const char *dir, const char *file, const char *value, petri_error **err)
{
	char path[PATH_MAX];
	int r = path_join(path, dir, file);
	if (r == 0)
		r = write_file(path, value);
	return r < 0 ? petri__err(err, -r, "write %s/%s", dir, file) : 0;
}

static int set_optional(const char *dir, const char *file, const char *value, petri_error **err)
{
	return path_exists(dir, file) ? set_value(dir, file, value, err) : 0;
}

/* The CFS period of a CPU limit, and the quota that gives @cpus_milli
 * thousandths of a CPU per period (at least the kernel's 1 ms minimum). */
#define CG_CPU_PERIOD_US 100000u
static uint64_t cpu_quota_us(uint32_t cpus_milli)
{
	uint64_t q = (uint64_t)cpus_milli * CG_CPU_PERIOD_US / 1000u;
	return q < 1000u ? 1000u : q;
}

/* 0 means no limit: new cgroups start unlimited, so nothing is written. */
static int limits_v2(const struct petri_cgroup *cg, uint64_t memory_bytes, uint32_t pids_max,
		     uint32_t cpus_milli, petri_error **err)
{
	char num[32];
	int r = 0;
	if (memory_bytes) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)memory_bytes);
		r = set_value(cg->v2_dir, "memory.max", num, err);
		if (r == 0) /* the limit must hold: no escape into swap */
			r = set_optional(cg->v2_dir, "memory.swap.max", "0", err);
	}
	if (r == 0 && pids_max) {
		snprintf(num, sizeof(num), "%u", pids_max);
		r = set_value(cg->v2_dir, "pids.max", num, err);
	}
	if (r == 0 && cpus_milli) {
		snprintf(num, sizeof(num), "%llu %u", (unsigned long long)cpu_quota_us(cpus_milli),
			 CG_CPU_PERIOD_US);
		r = set_value(cg->v2_dir, "cpu.max", num, err);
	}
	return r;
}

static int limits_v1(const struct petri_cgroup *cg, uint64_t memory_bytes, uint32_t pids_max,
		     uint32_t cpus_milli, petri_error **err)
{
	char num[32];
	/* A child inherits oom_kill_disable from its parent; we want the OOM
	 * killer, not a sandbox frozen at its limit. */
	int r = set_value(cg->v1_memory_dir, "memory.oom_control", "0", err);
	if (r == 0 && memory_bytes) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)memory_bytes);
		/* memsw may never be below limit_in_bytes: set that one first. */
		r = set_value(cg->v1_memory_dir, "memory.limit_in_bytes", num, err);
		if (r == 0)
			r = set_optional(cg->v1_memory_dir, "memory.memsw.limit_in_bytes", num,
					 err);
		/* v1 charges socket buffers to the cgroup only once a TCP limit
		 * is set; without it a sandbox parks gigabytes in loopback TCP
		 * queues and can push the host's global tcp_mem over its limit.
		 * (v2 charges them to memory.max by itself.) */
		if (r == 0)
			r = set_optional(cg->v1_memory_dir, "memory.kmem.tcp.limit_in_bytes", num,
					 err);
	}
	if (r == 0 && pids_max) {
		snprintf(num, sizeof(num), "%u", pids_max);
		r = set_value(cg->v1_pids_dir, "pids.max", num, err);
	}
	if (r == 0 && cpus_milli) {
		if (!cg->v1_cpu_dir)
			return petri__err(err, EOPNOTSUPP, "CPU limit without a v1 cpu cgroup");
		/* The period first: the quota is checked against it. */
		snprintf(num, sizeof(num), "%u", CG_CPU_PERIOD_US);
		r = set_value(cg->v1_cpu_dir, "cpu.cfs_period_us", num, err);
		snprintf(num, sizeof(num), "%llu", (unsigned long long)cpu_quota_us(cpus_milli));
		if (r == 0)
			r = set_value(cg->v1_cpu_dir, "cpu.cfs_quota_us", num, err);
	}
	return r;
}

static int open_v2_dir(struct petri_cgroup *cg, petri_error **err)
{
	struct stat st;
	cg->v2_dirfd = open(cg->v2_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cg->v2_dirfd < 0)
		return petri__err(err, errno, "open %s", cg->v2_dir);
	if (fstat(cg->v2_dirfd, &st) < 0)
		return petri__err(err, errno, "stat %s", cg->v2_dir);
	cg->id = (uint64_t)st.st_ino;
	return 0;
}

/* memory.peak resets per open file (kernel >= 6.12): a write resets the
 * watermark seen by reads through that same fd only.  So one fd lives as
 * long as the cgroup, and every reset and read goes through it. */
static void open_peak_fd(struct petri_cgroup *cg)
{
	char path[PATH_MAX];
	if (path_join(path, cg->v2_dir, "memory.peak") < 0)
		return;
	cg->v2_peak_fd = open(path, O_RDWR | O_CLOEXEC);
	if (cg->v2_peak_fd < 0) /* older kernels: read-only file, no reset */
		cg->v2_peak_fd = open(path, O_RDONLY | O_CLOEXEC);
}

static int create_dirs(const struct petri_cgroup_layout *layout, const char *name, int with_cpu,
		       struct petri_cgroup *cg, petri_error **err)
{
	int r = 0;
	if (layout->v2_parent)
		r = make_dir(layout->v2_parent, name, &cg->v2_dir, err);
	if (r == 0 && cg->mode == PETRI_CGROUP_V1) {
		if (!layout->v1_memory_parent || !layout->v1_pids_parent)
			return petri__err(err, EINVAL, "cgroup layout v1 without parents");
		r = make_dir(layout->v1_memory_parent, name, &cg->v1_memory_dir, err);
		if (r == 0)
			r = make_dir(layout->v1_pids_parent, name, &cg->v1_pids_dir, err);
		if (r == 0 && with_cpu) {
			if (!layout->v1_cpu_parent)
				return petri__err(err, EOPNOTSUPP,
						  "CPU limit: no writable v1 cpu controller");
			r = make_dir(layout->v1_cpu_parent, name, &cg->v1_cpu_dir, err);
		}
	}
	if (r == 0 && cg->mode == PETRI_CGROUP_V2 && !cg->v2_dir)
		return petri__err(err, EINVAL, "cgroup layout v2 without parent");
	return r;
}

int petri__cgroup_cpu_supported(const struct petri_cgroup_layout *layout, petri_error **err)
{
	if (layout->mode == PETRI_CGROUP_V2 && layout->v2_cpu)
		return 0;
	if (layout->mode == PETRI_CGROUP_V1 && layout->v1_cpu_parent)
		return 0;
	if (layout->mode == PETRI_CGROUP_V2)
		return petri__err(err, EOPNOTSUPP,
				  "CPU limit: the cpu controller is not enabled for %s's children "
				  "(cgroup v2: delegate it, e.g. systemd-run -p Delegate=yes)",
				  layout->v2_parent);
	if (layout->mode == PETRI_CGROUP_V1)
		return petri__err(err, EOPNOTSUPP,
				  "CPU limit: no writable v1 cpu controller below our cgroup");
	return petri__err(err, EOPNOTSUPP,
			  "CPU limit: this host gives libpetri no cgroup (see the log)");
}

int petri__cgroup_set_limits(const struct petri_cgroup *cg, uint64_t memory_bytes,
			     uint32_t pids_max, uint32_t cpus_milli, petri_error **err)
{
	if (cg->mode == PETRI_CGROUP_V2)
		return limits_v2(cg, memory_bytes, pids_max, cpus_milli, err);
	if (cg->mode == PETRI_CGROUP_V1)
		return limits_v1(cg, memory_bytes, pids_max, cpus_milli, err);
	return cpus_milli ? petri__err(err, EOPNOTSUPP, "CPU limit without a cgroup") : 0;
}

int petri__cgroup_create(const struct petri_cgroup_layout *layout, const char *name, int with_cpu,
			 struct petri_cgroup *out, petri_error **err)
{
	struct petri_cgroup cg = {.mode = layout->mode, .v2_dirfd = -1, .v2_peak_fd = -1};
	if (!valid_name(name))
		return petri__err(err, EINVAL, "invalid cgroup name \"%s\"", name ? name : "");
	int r = create_dirs(layout, name, with_cpu, &cg, err);
	if (r == 0 && cg.v2_dir)
		r = open_v2_dir(&cg, err);
	if (r < 0) {
		petri__cgroup_destroy(&cg);
		return r;
	}
	if (cg.mode == PETRI_CGROUP_V2)
		open_peak_fd(&cg);
	*out = cg;
	return 0;
}

int petri__cgroup_attach(const struct petri_cgroup *cg, int pid, int v2, int v1, petri_error **err)
{
	char num[16];
	snprintf(num, sizeof(num), "%d", pid);
	int r = 0;
	if (v2 && cg->v2_dir)
		r = set_value(cg->v2_dir, "cgroup.procs", num, err);
	if (!v1)
		return r;
	if (r == 0 && cg->v1_memory_dir)
		r = set_value(cg->v1_memory_dir, "cgroup.procs", num, err);
	if (r == 0 && cg->v1_pids_dir)
		r = set_value(cg->v1_pids_dir, "cgroup.procs", num, err);
	if (r == 0 && cg->v1_cpu_dir)
		r = set_value(cg->v1_cpu_dir, "cgroup.procs", num, err);
	return r;
}

/* Write "0" (the calling thread) to DIR/tasks. */
static int enter_self(const char *dir)
{
	char path[PATH_MAX];
	if (path_join(path, dir, "tasks") < 0)
		return -ENAMETOOLONG;
	return write_file(path, "0");
}

int petri__cgroup_move_self_v1(const char *memory_dir, const char *pids_dir, const char *cpu_dir)
{
	int r = 0;
	if (memory_dir)
		r = enter_self(memory_dir);
	if (r == 0 && pids_dir)
		r = enter_self(pids_dir);
	if (r == 0 && cpu_dir)
		r = enter_self(cpu_dir);
	return r;
}

/* The fds are only ours when v2_dir is set: a zeroed struct has fd 0. */
static bool has_peak_fd(const struct petri_cgroup *cg)
{
	return cg->v2_dir && cg->v2_peak_fd >= 0;
}

void petri__cgroup_reset_peak(const struct petri_cgroup *cg)
{
	char path[PATH_MAX];
	if (cg->mode == PETRI_CGROUP_V1 && cg->v1_memory_dir &&
	    path_join(path, cg->v1_memory_dir, "memory.max_usage_in_bytes") == 0)
		write_file(path, "0");
	else if (cg->mode == PETRI_CGROUP_V2 && has_peak_fd(cg))
		(void)!write(cg->v2_peak_fd, "reset", 5); /* fails before 6.12: no reset */
}

static int read_peak_v2(const struct petri_cgroup *cg, uint64_t *out)
{
	char buf[64];
	if (!has_peak_fd(cg))
		return read_u64_at(cg->v2_dir, "memory.peak", out);
	ssize_t n = pread_all(cg->v2_peak_fd, buf, sizeof(buf));
	return n < 0 ? (int)n : parse_u64(buf, out);
}

/* Keep the first real error; a counter the kernel lacks (-ENOENT, -ENODATA)
 * just reads as 0. */
static void note(int *first, int r)
{
	if (r < 0 && r != -ENOENT && r != -ENODATA && *first == 0)
		*first = r;
}

int petri__cgroup_read_stats(const struct petri_cgroup *cg, struct petri_cgroup_stats *out)
{
	struct petri_cgroup_stats s = {0};
	uint64_t usec = 0;
	int r = 0;
	if (cg->mode == PETRI_CGROUP_V2 && cg->v2_dir) {
		note(&r, read_u64_key_at(cg->v2_dir, "memory.events", "oom_kill", &s.oom_kills));
		note(&r, read_u64_key_at(cg->v2_dir, "pids.events", "max", &s.pids_max_hits));
		note(&r, read_peak_v2(cg, &s.peak_memory));
	} else if (cg->mode == PETRI_CGROUP_V1 && cg->v1_memory_dir && cg->v1_pids_dir) {
		note(&r, read_u64_key_at(cg->v1_memory_dir, "memory.oom_control", "oom_kill",
					 &s.oom_kills));
		note(&r, read_u64_key_at(cg->v1_pids_dir, "pids.events", "max", &s.pids_max_hits));
		note(&r,
		     read_u64_at(cg->v1_memory_dir, "memory.max_usage_in_bytes", &s.peak_memory));
	}
	/* cpu.stat is core cgroup2, there even on hybrid hosts without controllers. */
	if (cg->v2_dir && read_u64_key_at(cg->v2_dir, "cpu.stat", "usage_usec", &usec) == 0)
		s.cpu_ns = usec * 1000;
	*out = s;
	return r;
}

int petri__cgroup_populated(const struct petri_cgroup *cg)
{
	const char *dirs[] = {cg->v2_dir, cg->v1_memory_dir, cg->v1_pids_dir, cg->v1_cpu_dir};
	int total = 0;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		_cleanup_free_ int *pids = NULL;
		size_t n = 0;
		if (!dirs[i])
			continue;
		int r = read_procs(dirs[i], &pids, &n);
		if (r < 0)
			return r;
		total += (int)n;
	}
	return total;
}

void petri__cgroup_destroy(struct petri_cgroup *cg)
{
	uint64_t deadline = petri__now_ns() + CG_RMDIR_TIMEOUT_NS;
	if (cg->v2_dir) {
		kill_tasks(cg->v2_dir, true);
		if (cg->v2_peak_fd >= 0)
			close(cg->v2_peak_fd);
		if (cg->v2_dirfd >= 0)
			close(cg->v2_dirfd);
	}
	if (cg->v1_memory_dir)
		remove_cgroup_at(cg->v1_memory_dir, false, deadline, 0);
	if (cg->v1_pids_dir)
		remove_cgroup_at(cg->v1_pids_dir, false, deadline, 0);
	if (cg->v1_cpu_dir)
		remove_cgroup_at(cg->v1_cpu_dir, false, deadline, 0);
	if (cg->v2_dir)
		remove_cgroup_at(cg->v2_dir, true, deadline, 0);
	free(cg->v2_dir);
	free(cg->v1_memory_dir);
	free(cg->v1_pids_dir);
	free(cg->v1_cpu_dir);
	*cg = (struct petri_cgroup){.mode = PETRI_CGROUP_NONE, .v2_dirfd = -1, .v2_peak_fd = -1};
}
