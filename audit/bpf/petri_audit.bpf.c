/* SPDX-License-Identifier: Apache-2.0 OR GPL-2.0-only */
/*
 * petri_audit.bpf.c - the kernel half of the audit layer (DESIGN.md "Audit").
 *
 * One object serves every sandbox of the host process.  Every program first
 * looks the current task's cgroup v2 id up in `watched` (cgroup id -> slot)
 * and returns when it is not there, so the rest of the host pays one map
 * lookup (and, for sys_enter/sys_exit, only for the file syscalls we audit).
 *
 *   raw_tp/sched_process_exec   exec: filename, argv from the new mm, cwd
 *   raw_tp/sched_process_fork   fork/clone (threads marked)
 *   raw_tp/sched_process_exit   exit of a thread group (wait status)
 *   raw_tp/sys_enter, sys_exit  file syscalls: arguments stashed per task at
 *                               entry, the record built at exit; the path of
 *                               a successful open (and of f* calls) is
 *                               resolved from the kernel's struct file;
 *                               listen/accept/accept4: the addresses of the
 *                               socket (struct sock) and the result
 *   cgroup/connect4/6, sendmsg4/6, bind4/6
 *                               the kernel's copy of the address; attached to
 *                               each sandbox's cgroup by userspace; always allow
 *
 * raw_tp rather than tp_btf: the programs read everything with CO-RE
 * probes anyway, and raw_tp needs no attach BTF id, so libbpf does not
 * parse the whole vmlinux BTF (with the build's minimal BTF, see
 * audit/bpf/gen_min_btf.cmake) - about 7 ms of every load.
 *
 * Records go to one ring buffer; when it is full the record is counted in
 * drops[slot][kind] (with its kseq), never dropped silently.  Only x86_64's
 * syscall numbers are known to the syscall probes (see sc_table).
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "petri_events.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define O_WRONLY 01
#define O_CREAT 0100
#define O_TRUNC 01000
#define AT_REMOVEDIR 0x200

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((void *)(ptr) - __builtin_offsetof(type, member)))
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PETRI_KEV_MAX_SLOTS);
	__type(key, __u64); /* cgroup v2 id */
	__type(value, struct petri_kev_watch);
} watched SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

/* Arguments of a syscall between sys_enter and sys_exit, per thread (task
 * storage: created for watched threads only, freed with the thread). */
struct pending_call {
	__u64 args[6];
	__s64 nr; /* -1: none */
	/* The thread's pid and parent's pid inside its pid namespace, kept
	 * between calls (fill_hdr_cached()): valid while the parent is the
	 * one whose host tgid is parent_tgid. */
	__u32 pid_inside;
	__u32 ppid_inside;
	__u32 parent_tgid;
	__u32 ids_valid;
	__u32 exec_ns; /* valid with ids_valid (a task's pid namespace never changes) */
	__u32 pad;
	/* A hash and the length of the path / path2 argument as read at
	 * sys_enter (len 0: not read), compared with the copy read at
	 * sys_exit: a thread that rewrote the buffer in between is caught. */
	__u64 hash[2];
	__u32 hlen[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pending_call);
} pending SEC(".maps");

/* A file record is built here (per CPU) and copied into the ring buffer
 * with its real length: most paths are short, the record's room is not. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct petri_kev_file);
} file_scratch SEC(".maps");

/* Mapped by userspace (skeleton .bss). */
struct petri_kev_drop drops[PETRI_KEV_MAX_SLOTS][PETRI_KEV_NKINDS];
__u64 kseq[PETRI_KEV_MAX_SLOTS];
/* Bit (id % 4096) is set for the cgroup id of every watched sandbox: most
 * host tasks are turned away by one load, before any map lookup. */
__u64 watch_bits[PETRI_KEV_WATCH_WORDS];

static __always_inline const struct petri_kev_watch *watch_lookup(void)
{
	__u64 cg = bpf_get_current_cgroup_id();

	if (!(watch_bits[(cg >> 6) & (PETRI_KEV_WATCH_WORDS - 1)] & (1ull << (cg & 63))))
		return NULL;
	return bpf_map_lookup_elem(&watched, &cg);
}

/* The next kseq of @w's slot (every record, lost or not, takes one). */
static __always_inline __u64 next_kseq(const struct petri_kev_watch *w)
{
	__u32 slot = w->slot;

	if (slot >= PETRI_KEV_MAX_SLOTS)
		return 0;
	return __sync_fetch_and_add(&kseq[slot], 1) + 1;
}

/* Count the record @k of @type as lost (the ring buffer was full). */
static __always_inline void count_drop(const struct petri_kev_watch *w, __u32 type, __u64 k)
{
	__u32 slot = w->slot;

	if (slot >= PETRI_KEV_MAX_SLOTS || type >= PETRI_KEV_NKINDS)
		return;
	struct petri_kev_drop *d = &drops[slot][type];

	/* The kseq window first, the count last: userspace reads the count,
	 * then the window, so a counted drop has its kseqs. */
	d->last_kseq = k;
	__sync_val_compare_and_swap(&d->first_kseq, 0, k);
	__sync_fetch_and_add(&d->count, 1);
}

/* Wake the consumer only once a part of the ring buffer is used (1/64,
 * see audit_bpf.c); it also polls every few tens of ms.  A wakeup per
 * record cost more than the record (two context switches). */
const volatile __u64 wake_bytes = 1; /* set by userspace: 1/64 of the ring */

static __always_inline __u64 wake_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wake_bytes ? BPF_RB_FORCE_WAKEUP :
									     BPF_RB_NO_WAKEUP;
}

/* Reserve a record of @type for the sandbox @w; count it as lost when the
 * ring buffer is full. */
static __always_inline void *reserve(const struct petri_kev_watch *w, __u32 type, __u64 size,
				     __u64 *kseq_out)
{
	__u64 k = next_kseq(w);

	if (!k || type >= PETRI_KEV_NKINDS)
		return NULL;
	void *e = bpf_ringbuf_reserve(&events, size, 0);
	if (!e) {
		count_drop(w, type, k);
		return NULL;
	}
	*kseq_out = k;
	return e;
}

/* The nr of @p in the namespace at @level (0 when @p is not seen there). */
static __always_inline __u32 pid_nr_at(struct pid *p, __u32 level, struct pid_namespace *ns)
{
	struct upid u = {};

	if (!p || level > 32 || BPF_CORE_READ(p, level) < level)
		return 0;
	bpf_core_read(&u, sizeof(u), &p->numbers[level]);
	if (ns && u.ns != ns)
		return 0;
	return (__u32)u.nr;
}

/* The pid of the current thread's group and of its parent, in the thread's
 * own pid namespace, and the inum of its pid namespace at @exec_level (the
 * exec's own namespace: the task belongs to that exec), 0 when the task
 * is above that level or @exec_level is 0. */
static __always_inline void pids_inside(__u32 *pid, __u32 *ppid, __u32 exec_level, __u32 *exec_ns)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct pid *p = BPF_CORE_READ(t, group_leader, thread_pid);
	__u32 level = BPF_CORE_READ(p, level);
	struct upid u = {};

	if (level <= 32)
		bpf_core_read(&u, sizeof(u), &p->numbers[level]);
	*pid = (__u32)u.nr;
	struct pid *pp = BPF_CORE_READ(t, group_leader, real_parent, group_leader, thread_pid);
	*ppid = pid_nr_at(pp, level, u.ns);
	*exec_ns = 0;
	if (exec_level && exec_level <= level && exec_level <= 32) {
		struct upid e = {};

		bpf_core_read(&e, sizeof(e), &p->numbers[exec_level]);
		*exec_ns = BPF_CORE_READ(e.ns, ns.inum);
	}
}

static __always_inline void fill_hdr_common(struct petri_kev_hdr *h,
					    const struct petri_kev_watch *w, __u32 type, __u64 k)
{
	__u64 pt = bpf_get_current_pid_tgid();

	h->type = type;
	h->slot = w->slot;
	h->gen = w->gen;
	h->kseq = k;
	h->ktime_ns = bpf_ktime_get_ns();
	h->pid_host = pt >> 32;
	h->tid_host = (__u32)pt;
	h->uid = (__u32)bpf_get_current_uid_gid();
	h->pad = 0;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

static __always_inline void fill_hdr(struct petri_kev_hdr *h, const struct petri_kev_watch *w,
				     __u32 type, __u64 k)
{
	fill_hdr_common(h, w, type, k);
	pids_inside(&h->pid_inside, &h->ppid_inside, w->exec_level, &h->exec_ns);
}

/* fill_hdr() for the syscall probes: the pids inside come from the
 * thread's task storage @pc while its parent stays the same (one direct
 * load to check, instead of eight reads of the pid structures). */
static __always_inline void fill_hdr_cached(struct petri_kev_hdr *h,
					    const struct petri_kev_watch *w, __u32 type, __u64 k,
					    struct pending_call *pc)
{
	/* (BPF_CORE_READ, not a direct load through the BTF task pointer:
	 * the verifier searches vmlinux BTF by name for each such load, which
	 * cost ~12 ms of every load of the object) */
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	/* (every thread of a group has the leader's real_parent: copy_process
	 * gives a thread its creator's, reparenting moves them all) */
	__u32 ptgid = BPF_CORE_READ(t, real_parent, tgid);

	fill_hdr_common(h, w, type, k);
	if (!pc->ids_valid || pc->parent_tgid != ptgid) {
		pids_inside(&pc->pid_inside, &pc->ppid_inside, w->exec_level, &pc->exec_ns);
		pc->parent_tgid = ptgid;
		pc->ids_valid = 1;
	}
	h->pid_inside = pc->pid_inside;
	h->ppid_inside = pc->ppid_inside;
	h->exec_ns = pc->exec_ns;
}

/* fill_hdr_cached() as a global function: verified once, on its own,
 * instead of once per distinct state of each caller's paths into it (the
 * pid walk is the costliest part to verify). */
__noinline int petri_fill_hdr(struct petri_kev_hdr *h, const struct petri_kev_watch *w, __u32 type,
			      __u64 k, struct pending_call *pc)
{
	if (!h || !w || !pc)
		return 0;
	fill_hdr_cached(h, w, type, k, pc);
	return 0;
}

/* *@pp (a struct path: mnt, dentry) in one read instead of two. */
static __always_inline void read_path(const struct path *pp, struct dentry **d, struct vfsmount **m)
{
	struct path p = {};

	bpf_core_read(&p, sizeof(p), pp);
	*d = p.dentry;
	*m = p.mnt;
}

/* Per-CPU scratch for a path walk (the bounded loop runs in bpf_loop(), whose
 * callback the verifier checks once, and writes here; the result is then
 * copied into the record with one constant-size read). */
struct path_buf {
	char b[PETRI_KEV_PATH + PETRI_KEV_NAME];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_buf);
} scratch SEC(".maps");

struct walk_ctx {
	struct dentry *d;
	struct vfsmount *vm;
	struct dentry *vm_root; /* vm->mnt_root, read once per mount */
	struct mount *mnt;
	struct dentry *root_d;
	struct vfsmount *root_m;
	char *buf;
	__u32 off, n, done, trunc;
};

/* A dentry's d_parent and d_name (hash_len, name), adjacent in struct
 * dentry: one read instead of two where the running kernel lays them out
 * so (CO-RE offsets, constants once relocated). */
struct dentry_head {
	__u64 parent, hash_len, name;
};

static __always_inline void dentry_head(struct dentry *d, struct dentry **parent, const char **name)
{
	if (bpf_core_field_offset(struct dentry, d_name) ==
		    bpf_core_field_offset(struct dentry, d_parent) + 8 &&
	    bpf_core_field_offset(struct qstr, name) == 8) {
		struct dentry_head h = {};

		bpf_probe_read_kernel(&h, sizeof(h),
				      (void *)d + bpf_core_field_offset(struct dentry, d_parent));
		*parent = (struct dentry *)h.parent;
		*name = (const char *)h.name;
	} else {
		*parent = BPF_CORE_READ(d, d_parent);
		*name = (const char *)BPF_CORE_READ(d, d_name.name);
	}
}

static long walk_step(__u32 i, struct walk_ctx *c)
{
	struct dentry *d = c->d;
	struct vfsmount *vm = c->vm;
	struct mount *mnt = c->mnt;

	if (!d || (d == c->root_d && vm == c->root_m)) {
		c->done = 1;
		return 1;
	}
	if (d == c->vm_root) {
		struct mount *mp = BPF_CORE_READ(mnt, mnt_parent);

		if (mp == mnt) { /* the namespace's root mount */
			c->done = 1;
			return 1;
		}
		c->d = BPF_CORE_READ(mnt, mnt_mountpoint);
		c->mnt = mp;
		vm = &mp->mnt;
		c->vm = vm;
		c->vm_root = BPF_CORE_READ(vm, mnt_root);
		return 0;
	}
	struct dentry *parent;
	const char *name;

	dentry_head(d, &parent, &name);
	if (d == parent) { /* not reachable from the root (pipe, anon, ...) */
		c->done = 1;
		return 1;
	}
	__u32 off = c->off;

	if (off >= PETRI_KEV_PATH) {
		c->trunc = 1;
		return 1;
	}
	long r = bpf_probe_read_kernel_str(c->buf + (off & (PETRI_KEV_PATH - 1)), PETRI_KEV_NAME,
					   name);
	if (r <= 0) {
		c->trunc = 1;
		return 1;
	}
	c->off = off + (__u32)r;
	c->n++;
	c->d = parent;
	return 0;
}

/* Walk from (@d, @vm) up to the task's root, writing the components leaf
 * first, each NUL-terminated, into @buf (map memory of PETRI_KEV_PATH +
 * PETRI_KEV_NAME bytes).  Returns the number of components; *@len the
 * bytes used; *@trunc when cut short. */
static __always_inline __u32 walk_into(struct dentry *d, struct vfsmount *vm, char *buf, __u32 *len,
				       __u32 *trunc)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct fs_struct *fs = BPF_CORE_READ(t, fs);
	struct walk_ctx c = {
		.d = d,
		.vm = vm,
		.vm_root = BPF_CORE_READ(vm, mnt_root),
		.mnt = container_of(vm, struct mount, mnt),
		.buf = buf,
	};

	read_path(&fs->root, &c.root_d, &c.root_m);

	bpf_loop(PETRI_KEV_MAX_DEPTH, walk_step, &c, 0);
	if (!c.done)
		c.trunc = 1;
	*trunc = c.trunc;
	*len = c.off;
	return c.n;
}

/*
 * walk_into() of the kernel pointers @d and @vm into @out, as a global
 * function: verified once instead of at each of its four callers (see
 * petri_str_hash).  Returns the components | truncated << 8 | bytes << 16.
 */
__noinline __u64 petri_walk(__u64 d, __u64 vm, struct path_buf *out)
{
	__u32 len = 0, trunc = 0, n;

	if (!out)
		return 1 << 8;
	n = walk_into((struct dentry *)d, (struct vfsmount *)vm, out->b, &len, &trunc);
	return n | (__u64)trunc << 8 | (__u64)len << 16;
}

#define WALK_N(r) ((__u32)(r)&0xff)
#define WALK_TRUNC(r) ((__u32)((r) >> 8) & 1)
#define WALK_LEN(r) ((__u32)((r) >> 16))

/* walk_into() through the per-CPU scratch, copied to @out (PETRI_KEV_PATH
 * + PETRI_KEV_NAME bytes of ring-buffer memory). */
static __always_inline __u32 walk_path(struct dentry *d, struct vfsmount *vm, char *out,
				       __u32 *trunc)
{
	__u32 zero = 0, n;
	struct path_buf *pb = bpf_map_lookup_elem(&scratch, &zero);

	if (!pb) {
		*trunc = 1;
		return 0;
	}
	__u64 r = petri_walk((__u64)d, (__u64)vm, pb);

	n = WALK_N(r);
	*trunc = WALK_TRUNC(r);
	if (n)
		bpf_probe_read_kernel(out, PETRI_KEV_PATH + PETRI_KEV_NAME, pb->b);
	return n;
}

/* struct fdtable's first two fields, read at once where the running
 * kernel lays them out so (max_fds at 0, fd at 8). */
struct fdtable_head {
	__u32 max_fds, pad;
	__u64 fd;
};

static __always_inline struct file *fd_file(long fd)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	struct file **arr;
	struct file *f = NULL;
	__u64 max;

	if (bpf_core_field_offset(struct fdtable, max_fds) == 0 &&
	    bpf_core_field_offset(struct fdtable, fd) == 8) {
		struct fdtable_head h = {};

		bpf_probe_read_kernel(&h, sizeof(h), fdt);
		max = h.max_fds;
		arr = (struct file **)h.fd;
	} else {
		max = BPF_CORE_READ(fdt, max_fds);
		arr = BPF_CORE_READ(fdt, fd);
	}
	if (fd < 0 || (__u64)fd >= max)
		return NULL;
	bpf_core_read(&f, sizeof(f), &arr[fd]);
	return f;
}

/* ---- process lifecycle ------------------------------------------------- */

SEC("raw_tp/sched_process_exec")
int BPF_PROG(petri_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	const struct petri_kev_watch *w = watch_lookup();
	struct petri_kev_exec *e;
	__u64 k;

	if (!w)
		return 0;
	e = reserve(w, PETRI_KEV_EXEC, sizeof(*e), &k);
	if (!e)
		return 0;
	fill_hdr(&e->h, w, PETRI_KEV_EXEC, k);
	const char *fname = BPF_CORE_READ(bprm, filename);
	long fl = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), fname);

	/* Cut short when the last byte read is not the string's end. */
	e->filename_truncated = 0;
	if (fl >= (long)sizeof(e->filename)) {
		char c = 0;

		bpf_probe_read_kernel(&c, 1, fname + sizeof(e->filename) - 1);
		e->filename_truncated = c != 0;
	}

	struct mm_struct *mm = BPF_CORE_READ(p, mm);
	__u64 start = BPF_CORE_READ(mm, arg_start), end = BPF_CORE_READ(mm, arg_end);
	__u64 len = end > start ? end - start : 0;

	e->args_truncated = 0;
	if (len > PETRI_KEV_ARGS) {
		len = PETRI_KEV_ARGS;
		e->args_truncated = 1;
	}
	e->args_len = 0;
	if (len && bpf_probe_read_user(e->args, len, (void *)start) == 0)
		e->args_len = len;

	struct fs_struct *fs = BPF_CORE_READ(p, fs);
	struct dentry *pd;
	struct vfsmount *pm;

	read_path(&fs->pwd, &pd, &pm);
	e->cwd_truncated = 0;
	e->cwd_ncomp = walk_path(pd, pm, e->cwd, &e->cwd_truncated);
	/* The executable's identity: the file the kernel loaded, whatever
	 * name ("/././..", a symlink, a relative path) the caller gave. */
	struct file *xf = BPF_CORE_READ(bprm, file);

	e->exe_truncated = 0;
	e->exe_ncomp = 0;
	e->pad0 = 0;
	if (xf) {
		read_path(&xf->f_path, &pd, &pm);
		e->exe_ncomp = walk_path(pd, pm, e->exe, &e->exe_truncated);
	}
	bpf_ringbuf_submit(e, wake_flags());
	return 0;
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(petri_fork, struct task_struct *parent, struct task_struct *child)
{
	const struct petri_kev_watch *w = watch_lookup();
	struct petri_kev_fork *e;
	__u64 k;

	if (!w)
		return 0;
	e = reserve(w, PETRI_KEV_FORK, sizeof(*e), &k);
	if (!e)
		return 0;
	fill_hdr(&e->h, w, PETRI_KEV_FORK, k);
	e->child_pid_host = BPF_CORE_READ(child, tgid);
	e->child_tid_host = BPF_CORE_READ(child, pid);
	e->is_thread = e->child_pid_host != e->child_tid_host;
	struct pid *cp = BPF_CORE_READ(child, thread_pid);
	e->child_pid_inside = pid_nr_at(cp, BPF_CORE_READ(cp, level), NULL);
	bpf_ringbuf_submit(e, wake_flags());
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(petri_exit, struct task_struct *p, bool group_dead)
{
	const struct petri_kev_watch *w;
	struct petri_kev_exit *e;
	__u64 k;

	if (!group_dead) /* a thread; the group's exit comes with the last one */
		return 0;
	w = watch_lookup();
	if (!w)
		return 0;
	e = reserve(w, PETRI_KEV_EXIT, sizeof(*e), &k);
	if (!e)
		return 0;
	fill_hdr(&e->h, w, PETRI_KEV_EXIT, k);
	e->exit_code = BPF_CORE_READ(p, exit_code);
	e->group_dead = 1;
	bpf_ringbuf_submit(e, wake_flags());
	return 0;
}

/* ---- file syscalls ----------------------------------------------------- */

/* Which argument holds what (-1: none) for one audited syscall; op 0 and
 * net 0: not audited.  A table in .rodata, read with the syscall number as
 * index: the verifier then checks one path for every syscall instead of
 * one per switch case (sys_exit: 12k instructions and 15 ms to verify). */
#define sc_info petri_kev_sc

#define SC_MAX 512
/* dir/dir2: PETRI_KEV_DIR_CWD unless set (FD: a dirfd argument). */
#define F(o, p, p2, fl, m, f, u, g) F2(o, p, p2, fl, m, f, u, g, DCWD, DCWD)
#define F2(o, p, p2, fl, m, f, u, g, d, d2)                                                        \
	{                                                                                          \
		o, p, p2, fl, m, f, u, g, 0, d, d2, 0                                              \
	}
#define DCWD PETRI_KEV_DIR_CWD
#define DNONE PETRI_KEV_DIR_NONE
#define NET_HOOKED 0xff /* the cgroup hook left a record in net_pending */
#define N(n)                                                                                       \
	{                                                                                          \
		0, -1, -1, -1, -1, -1, -1, -1, n, DNONE, DNONE, 0                                  \
	}

/* x86_64 numbers.  flags -2: openat2's struct open_how; -3: creat. */
const volatile struct sc_info sc_table[SC_MAX] = {
#if defined(__TARGET_ARCH_x86)
	/* clang-format off */
	[2]   = F(PETRI_KEV_F_OPEN, 0, -1, 1, 2, -1, -1, -1),      /* open */
	[257] = F2(PETRI_KEV_F_OPEN, 1, -1, 2, 3, -1, -1, -1, 0, DNONE), /* openat */
	[437] = F2(PETRI_KEV_F_OPEN, 1, -1, -2, -1, -1, -1, -1, 0, DNONE), /* openat2 */
	[85]  = F(PETRI_KEV_F_CREATE, 0, -1, -3, 1, -1, -1, -1),   /* creat */
	[133] = F(PETRI_KEV_F_MKNOD, 0, -1, -1, 1, -1, -1, -1),    /* mknod */
	[259] = F2(PETRI_KEV_F_MKNOD, 1, -1, -1, 2, -1, -1, -1, 0, DNONE), /* mknodat */
	[87]  = F(PETRI_KEV_F_UNLINK, 0, -1, -1, -1, -1, -1, -1),  /* unlink */
	[263] = F2(PETRI_KEV_F_UNLINK, 1, -1, 2, -1, -1, -1, -1, 0, DNONE), /* unlinkat */
	[82]  = F(PETRI_KEV_F_RENAME, 0, 1, -1, -1, -1, -1, -1),   /* rename */
	[264] = F2(PETRI_KEV_F_RENAME, 1, 3, -1, -1, -1, -1, -1, 0, 2), /* renameat */
	[316] = F2(PETRI_KEV_F_RENAME, 1, 3, 4, -1, -1, -1, -1, 0, 2), /* renameat2 */
	[83]  = F(PETRI_KEV_F_MKDIR, 0, -1, -1, 1, -1, -1, -1),    /* mkdir */
	[258] = F2(PETRI_KEV_F_MKDIR, 1, -1, -1, 2, -1, -1, -1, 0, DNONE), /* mkdirat */
	[84]  = F(PETRI_KEV_F_RMDIR, 0, -1, -1, -1, -1, -1, -1),   /* rmdir */
	[90]  = F(PETRI_KEV_F_CHMOD, 0, -1, -1, 1, -1, -1, -1),    /* chmod */
	[91]  = F(PETRI_KEV_F_CHMOD, -1, -1, -1, 1, 0, -1, -1),    /* fchmod */
	[268] = F2(PETRI_KEV_F_CHMOD, 1, -1, -1, 2, -1, -1, -1, 0, DNONE), /* fchmodat */
	[452] = F2(PETRI_KEV_F_CHMOD, 1, -1, 3, 2, -1, -1, -1, 0, DNONE), /* fchmodat2 */
	[92]  = F(PETRI_KEV_F_CHOWN, 0, -1, -1, -1, -1, 1, 2),     /* chown */
	[94]  = F(PETRI_KEV_F_CHOWN, 0, -1, -1, -1, -1, 1, 2),     /* lchown */
	[93]  = F(PETRI_KEV_F_CHOWN, -1, -1, -1, -1, 0, 1, 2),     /* fchown */
	[260] = F2(PETRI_KEV_F_CHOWN, 1, -1, 4, -1, -1, 2, 3, 0, DNONE), /* fchownat */
	[76]  = F(PETRI_KEV_F_TRUNCATE, 0, -1, -1, -1, -1, -1, -1), /* truncate */
	[77]  = F(PETRI_KEV_F_TRUNCATE, -1, -1, -1, -1, 0, -1, -1), /* ftruncate */
	[86]  = F(PETRI_KEV_F_LINK, 0, 1, -1, -1, -1, -1, -1),     /* link */
	[265] = F2(PETRI_KEV_F_LINK, 1, 3, 4, -1, -1, -1, -1, 0, 2), /* linkat */
	[88]  = F2(PETRI_KEV_F_SYMLINK, 0, 1, -1, -1, -1, -1, -1, DNONE, DCWD), /* symlink */
	[266] = F2(PETRI_KEV_F_SYMLINK, 0, 2, -1, -1, -1, -1, -1, DNONE, 1), /* symlinkat */
	/* set times; utimensat with a NULL path works on its fd argument */
	[132] = F(PETRI_KEV_F_SET_TIMES, 0, -1, -1, -1, -1, -1, -1), /* utime */
	[235] = F(PETRI_KEV_F_SET_TIMES, 0, -1, -1, -1, -1, -1, -1), /* utimes */
	[261] = F2(PETRI_KEV_F_SET_TIMES, 1, -1, -1, -1, -1, -1, -1, 0, DNONE), /* futimesat */
	[280] = F2(PETRI_KEV_F_SET_TIMES, 1, -1, 3, -1, 0, -1, -1, 0, DNONE), /* utimensat */
	[50]  = N(PETRI_KEV_N_LISTEN),                             /* listen */
	[43]  = N(PETRI_KEV_N_ACCEPT),                             /* accept */
	[288] = N(PETRI_KEV_N_ACCEPT),                             /* accept4 */
	[42]  = N(NET_HOOKED),                                     /* connect */
	[49]  = N(NET_HOOKED),                                     /* bind */
	[44]  = N(NET_HOOKED),                                     /* sendto */
	[46]  = N(NET_HOOKED),                                     /* sendmsg */
	[307] = N(NET_HOOKED),                                     /* sendmmsg */
/* clang-format on */
#endif
};

/* Is syscall @nr audited?  Its entry in *@s. */
static __always_inline int sc_lookup(long nr, struct sc_info *s)
{
	if ((__u64)nr >= SC_MAX)
		return 0;
	*s = sc_table[nr];
	return s->op || s->net;
}

static __always_inline __u64 arg_of(const struct pending_call *c, int i)
{
	return (i >= 0 && i < 6) ? c->args[i] : 0;
}

/* ---- paths from user memory: read at entry and at exit ----------------- */

/* A user path read at sys_enter (per CPU: too big for the stack). */
struct ustr_buf {
	char b[PETRI_KEV_UPATH];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ustr_buf);
} ustr SEC(".maps");

struct hash_ctx {
	const char *buf; /* read with bpf_probe_read_kernel, past what the verifier knows */
	__u32 len;
	__u64 h;
};

/* One 8-byte word of the string into the hash (FNV-1a over words; the
 * bytes past the string's end are masked off). */
static long hash_step(__u32 i, struct hash_ctx *c)
{
	__u64 word = 0;
	__u32 off = i * 8;

	const char *b = c->buf;

	if (off >= c->len || off >= PETRI_KEV_UPATH || !b)
		return 1;
	bpf_probe_read_kernel(&word, sizeof(word), b + off);
	if (c->len - off < 8)
		word &= (1ull << ((c->len - off) * 8)) - 1;
	c->h = (c->h ^ word) * 0x100000001b3ull;
	return 0;
}

/*
 * A hash of the @len bytes at @buf (map memory: read through
 * bpf_probe_read_kernel, so @len may pass the one byte the verifier knows).
 *
 * A global function: the verifier checks it once, on its own, instead of
 * once per call site and per path into it - with these helpers inlined
 * into sys_exit's branches, loading the object took ~60 ms more.
 */
__noinline __u64 petri_str_hash(const char *buf, __u32 len)
{
	struct hash_ctx c = {.buf = buf, .len = len, .h = 0xcbf29ce484222325ull};

	bpf_loop(PETRI_KEV_UPATH / 8, hash_step, &c, 0);
	return c.h;
}

static __always_inline __u64 str_hash(const char *buf, __u32 len)
{
	return petri_str_hash(buf, len);
}

/* Read the user string at @uptr now (sys_enter) and keep its hash. */
#define SHORT_PATH 64

/* petri_str_hash() of the @len (1..SHORT_PATH-1) bytes in @w, unrolled:
 * the same words, masks and steps, without bpf_loop and a helper call
 * per word. */
static __always_inline __u64 short_hash(const __u64 *w, __u32 len)
{
	__u64 h = 0xcbf29ce484222325ull;

#pragma unroll
	for (__u32 k = 0; k < SHORT_PATH / 8; k++) {
		__u32 off = k * 8;
		__u64 word = w[k];

		if (off >= len)
			break;
		if (len - off < 8)
			word &= (1ull << ((len - off) * 8)) - 1;
		h = (h ^ word) * 0x100000001b3ull;
	}
	return h;
}

static __always_inline void enter_hash(struct pending_call *c, int i, __u64 uptr)
{
	__u32 zero = 0;
	struct ustr_buf *b;
	long r;

	if (i < 0 || i > 1)
		return;
	c->hlen[i] = 0;
	if (!uptr)
		return;
	/* Most paths are short: read onto the stack and hashed there.  A
	 * read that filled the buffer may have been cut: read again whole. */
	__u64 w[SHORT_PATH / 8] = {};

	r = bpf_probe_read_user_str(w, sizeof(w), (void *)uptr);
	if (r <= 0)
		return;
	if (r < SHORT_PATH) {
		c->hlen[i] = (__u32)r;
		c->hash[i] = short_hash(w, (__u32)r);
		return;
	}
	b = bpf_map_lookup_elem(&ustr, &zero);
	if (!b)
		return;
	r = bpf_probe_read_user_str(b->b, sizeof(b->b), (void *)uptr);
	if (r <= 0)
		return;
	c->hlen[i] = (__u32)r;
	c->hash[i] = str_hash(b->b, (__u32)r);
}

/* Did the string read at exit (@buf, @r bytes or an error) differ from
 * the one read at entry? */
static __always_inline int raced(const struct pending_call *c, int i, const char *buf, long r)
{
	__u32 hl = i ? c->hlen[1] : c->hlen[0];

	if (r <= 0 || !hl)
		return (r > 0) != (hl > 0);
	if ((__u32)r != hl)
		return 1;
	return str_hash(buf, (__u32)r) != (i ? c->hash[1] : c->hash[0]);
}

/* r10 r9 r8 ax cx dx si di: adjacent in x86_64's struct pt_regs. */
struct arg_regs {
	__u64 r10, r9, r8, ax, cx, dx, si, di;
};

#define REG_AT(f, i)                                                                               \
	(bpf_core_field_offset(struct pt_regs, f) ==                                               \
	 bpf_core_field_offset(struct pt_regs, r10) + 8 * (i))

/* The six syscall arguments (di si dx r10 r8 r9) of @regs: one read of
 * the registers' block where the running kernel lays it out so. */
static __always_inline void syscall_args(struct pt_regs *regs, __u64 *args)
{
	if (REG_AT(r9, 1) && REG_AT(r8, 2) && REG_AT(dx, 5) && REG_AT(si, 6) && REG_AT(di, 7)) {
		struct arg_regs a = {};

		bpf_probe_read_kernel(&a, sizeof(a),
				      (void *)regs + bpf_core_field_offset(struct pt_regs, r10));
		args[0] = a.di;
		args[1] = a.si;
		args[2] = a.dx;
		args[3] = a.r10;
		args[4] = a.r8;
		args[5] = a.r9;
	} else {
		args[0] = BPF_CORE_READ(regs, di);
		args[1] = BPF_CORE_READ(regs, si);
		args[2] = BPF_CORE_READ(regs, dx);
		args[3] = BPF_CORE_READ(regs, r10);
		args[4] = BPF_CORE_READ(regs, r8);
		args[5] = BPF_CORE_READ(regs, r9);
	}
}

SEC("raw_tp/sys_enter")
int BPF_PROG(petri_sys_enter, struct pt_regs *regs, long id)
{
	struct sc_info s;

	if (!sc_lookup(id, &s))
		return 0;
	if (!watch_lookup())
		return 0;

	struct pending_call *c = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0,
						      BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!c)
		return 0;
	c->nr = id;
	syscall_args(regs, c->args);
	if (s.op) {
		c->hlen[0] = c->hlen[1] = 0;
		if (s.path >= 0)
			enter_hash(c, 0, arg_of(c, s.path));
		if (s.path2 >= 0)
			enter_hash(c, 1, arg_of(c, s.path2));
	}
	return 0;
}

#define S_IFMT 00170000
#define S_IFSOCK 0140000

/* The struct sock behind @fd, or NULL when @fd is not a socket. */
static __always_inline struct sock *fd_sock(long fd)
{
	struct file *f = fd >= 0 ? fd_file(fd) : NULL;

	if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *so = BPF_CORE_READ(f, private_data);

	return BPF_CORE_READ(so, sk);
}

/* Read the local (@local) or the peer's address of @sk into @a / @port. */
static __always_inline void sock_addr(struct sock *sk, __u32 family, int local, __u8 *a,
				      __u32 *port)
{
	__builtin_memset(a, 0, 16);
	if (local)
		*port = BPF_CORE_READ(sk, __sk_common.skc_num);
	else
		*port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		__u32 v = local ? BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr) :
				  BPF_CORE_READ(sk, __sk_common.skc_daddr);

		__builtin_memcpy(a, &v, 4);
	} else if (family == AF_INET6) {
		if (local)
			bpf_core_read(a, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		else
			bpf_core_read(a, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

#define AF_UNIX 1

/* The sun_path of a unix socket's bound address (struct unix_sock's addr,
 * set by bind or, for an accepted socket, copied from the listener) into
 * @out; its length in bytes (abstract names start with a NUL), 0 when
 * unbound. */
static __always_inline __u32 unix_path(struct sock *sk, char *out)
{
	struct unix_sock *u = (struct unix_sock *)sk;
	struct unix_address *ua = sk ? BPF_CORE_READ(u, addr) : NULL;
	int len;

	if (!ua)
		return 0;
	len = BPF_CORE_READ(ua, len) - (int)sizeof(__u16); /* minus sun_family */
	if (len <= 0)
		return 0;
	__u32 n = (__u32)len;

	if (n > PETRI_KEV_UNIX_PATH)
		n = PETRI_KEV_UNIX_PATH;
	if (bpf_probe_read_kernel(out, n, ua->name[0].sun_path))
		return 0;
	return n;
}

/* listen/accept/accept4 at sys_exit: the addresses come from the kernel's
 * struct sock (the listening socket's for listen and a failed accept, the
 * new connection's for a successful one), never from user memory. */
static __always_inline int net_exit(const struct petri_kev_watch *w, __u32 op, long id, long ret,
				    struct pending_call *pc)
{
	struct petri_kev_net *e;
	__u64 k;

	e = reserve(w, PETRI_KEV_NET, sizeof(*e), &k);
	if (!e)
		return 0;
	fill_hdr_cached(&e->h, w, PETRI_KEV_NET, k, pc);
	e->op = op;
	e->result = (__s32)ret;
	e->syscall_nr = (__u32)id;
	e->family = e->protocol = e->sock_type = e->port = e->local_port = 0;
	e->has_addr = e->has_local = 0;
	e->from_hook = e->path_len = e->local_path_len = e->from_user = 0;
	__builtin_memset(e->addr, 0, sizeof(e->addr));
	__builtin_memset(e->local_addr, 0, sizeof(e->local_addr));

	int accepted = op == PETRI_KEV_N_ACCEPT && ret >= 0;
	struct sock *sk = fd_sock(accepted ? ret : (long)(int)pc->args[0]);

	if (sk) {
		__u32 family = BPF_CORE_READ(sk, __sk_common.skc_family);

		e->family = family;
		e->protocol = BPF_CORE_READ(sk, sk_protocol);
		e->sock_type = BPF_CORE_READ(sk, sk_type);
		if (family == AF_INET || family == AF_INET6) {
			sock_addr(sk, family, 1, e->local_addr, &e->local_port);
			e->has_local = 1;
			if (accepted) {
				sock_addr(sk, family, 0, e->addr, &e->port);
				e->has_addr = 1;
			} else if (op == PETRI_KEV_N_LISTEN) {
				__builtin_memcpy(e->addr, e->local_addr, 16);
				e->port = e->local_port;
				e->has_addr = 1;
			}
		} else if (family == AF_UNIX) {
			/* The socket's own name, and for an accepted connection
			 * the connecting socket's (its peer, often unbound). */
			e->local_path_len = unix_path(sk, e->local_path);
			e->has_local = 1;
			if (accepted) {
				struct unix_sock *u = (struct unix_sock *)sk;

				e->path_len = unix_path(BPF_CORE_READ(u, peer), e->path);
				e->has_addr = 1;
			} else if (op == PETRI_KEV_N_LISTEN) {
				e->path_len = unix_path(sk, e->path);
				e->has_addr = 1;
			}
		}
	}
	bpf_ringbuf_submit(e, wake_flags());
	return 0;
}

/* connect/bind/sendto/sendmsg records wait here, per thread, from the
 * cgroup hook (which sees the kernel's copy of the address before the call
 * completes) to the call's sys_exit (which adds the result). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct petri_kev_net);
} net_pending SEC(".maps");

/* Per-CPU room to build a hook record in (too big for the BPF stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct petri_kev_net);
} net_scratch SEC(".maps");

/* Send the waiting record @p (of the sandbox @w) with the result @ret of the
 * call @id (0: unknown, result 0), and forget it. */
static __always_inline void net_pending_emit(const struct petri_kev_watch *w, __u64 tid,
					     struct petri_kev_net *p, long id, long ret)
{
	struct petri_kev_net *e;
	__u64 k;

	e = reserve(w, PETRI_KEV_NET, sizeof(*e), &k);
	if (e) {
		__builtin_memcpy(e, p, sizeof(*e));
		e->h.kseq = k;
		e->result = (__s32)ret;
		e->syscall_nr = (__u32)id;
		if (id == 44 && e->op == PETRI_KEV_N_SENDMSG)
			e->op = PETRI_KEV_N_SENDTO;
		bpf_ringbuf_submit(e, wake_flags());
	}
	bpf_map_delete_elem(&net_pending, &tid);
}

#define AT_FDCWD -100

/*
 * The directory the dirfd argument @dir of the call (PETRI_KEV_DIR_CWD or
 * AT_FDCWD: the cwd) names, walked into @e's data at @off; sets dir_len,
 * dir_ncomp and dir_truncated (dir2_* with @second) and returns the length.
 * A dirfd that is not open (the call failed then) gives length 0 and
 * truncated.  Global, so verified once (see petri_str_hash).
 */
__noinline __u32 petri_dir_into(const struct pending_call *pc, int dir, struct petri_kev_file *e,
				__u32 off, __u32 second)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct dentry *d;
	struct vfsmount *m;
	__u32 zero = 0, len = 0, ncomp = 0, trunc = 0;
	long dfd = AT_FDCWD;

	if (!pc || !e)
		return 0;
	if (dir >= 0 && dir < 6)
		dfd = (long)(int)pc->args[dir];
	d = NULL;
	m = NULL;
	if (dfd == AT_FDCWD) {
		struct fs_struct *fs = BPF_CORE_READ(t, fs);

		read_path(&fs->pwd, &d, &m);
	} else {
		struct file *f = fd_file(dfd);

		if (f)
			read_path(&f->f_path, &d, &m);
	}
	struct path_buf *pb = bpf_map_lookup_elem(&scratch, &zero);

	if (!d || !pb) {
		trunc = 1;
	} else {
		__u64 wr = petri_walk((__u64)d, (__u64)m, pb);

		ncomp = WALK_N(wr);
		trunc = WALK_TRUNC(wr);
		len = WALK_LEN(wr);
		if (len > PETRI_KEV_DIR_MAX)
			len = PETRI_KEV_DIR_MAX;
		/* (bounded here, just before the write: the verifier loses the
		 * bound of a value kept across bpf_loop) */
		__u32 o = off;

		barrier_var(o);
		if (o > PETRI_KEV_FILE_DATA - PETRI_KEV_DIR_MAX)
			len = ncomp = 0;
		else if (len && bpf_probe_read_kernel(e->data + o, len, pb->b))
			len = ncomp = 0;
	}
	if (second) {
		e->dir2_len = len;
		e->dir2_ncomp = ncomp;
		e->dir2_truncated = trunc;
	} else {
		e->dir_len = len;
		e->dir_ncomp = ncomp;
		e->dir_truncated = trunc;
	}
	return len;
}

struct user_msghdr_head {
	__u64 name;
	__u32 namelen;
};

/* The sockaddr a connect/bind/sendto/sendmsg/sendmmsg call named (user
 * memory), or 0; its length in *@alen. */
static __always_inline __u64 call_addr(long id, const struct pending_call *pc, __u32 *alen)
{
	struct user_msghdr_head m = {};

	switch (id) {
	case 42: /* connect */
	case 49: /* bind */
		*alen = (__u32)pc->args[2];
		return pc->args[1];
	case 44: /* sendto */
		*alen = (__u32)pc->args[5];
		return pc->args[4];
	case 46:  /* sendmsg */
	case 307: /* sendmmsg: the first message's (struct mmsghdr starts with it) */
		bpf_probe_read_user(&m, sizeof(m), (void *)pc->args[1]);
		*alen = m.namelen;
		return m.name;
	}
	return 0;
}

/* A connect/bind/sendto/sendmsg no cgroup hook recorded: a unix socket (its
 * hooks are not used), a send without an address (connected UDP, a
 * connected unix socket: the hook runs only for an address), or a call that
 * failed before the hook.  The address comes from the kernel's struct sock
 * where it holds the answer (a bound unix socket's name after bind, the
 * peer's after connect, the connected peer of a send without an address),
 * else from the caller's sockaddr (from_user: racy).  Global, so verified
 * once on its own (see petri_str_hash). */
__noinline int petri_net_unhooked(const struct petri_kev_watch *w, long id, long ret,
				  struct pending_call *pc)
{
	struct petri_kev_net *e;
	__u64 k;
	__u32 alen = 0;

	if (!w || !pc)
		return 0;
	__u64 ua = call_addr(id, pc, &alen);
	struct sock *sk = fd_sock((long)(int)pc->args[0]);

	/* A send without an address on a connection (stream, seqpacket)
	 * goes to the peer its connect or accept recorded: data, not a
	 * destination, and as many records as writes. */
	if (sk && !ua && id != 42 && id != 49) {
		__u32 type = BPF_CORE_READ(sk, sk_type);

		if (type == SOCK_STREAM || type == SOCK_SEQPACKET)
			return 0;
	}
	e = reserve(w, PETRI_KEV_NET, sizeof(*e), &k);
	if (!e)
		return 0;
	petri_fill_hdr(&e->h, w, PETRI_KEV_NET, k, pc);
	e->op = id == 42 ? PETRI_KEV_N_CONNECT :
		id == 49 ? PETRI_KEV_N_BIND :
		id == 44 ? PETRI_KEV_N_SENDTO :
			   PETRI_KEV_N_SENDMSG;
	e->result = (__s32)ret;
	e->syscall_nr = (__u32)id;
	e->family = e->protocol = e->sock_type = e->port = e->local_port = 0;
	e->has_addr = e->has_local = 0;
	e->from_hook = e->path_len = e->local_path_len = e->from_user = 0;
	__builtin_memset(e->addr, 0, sizeof(e->addr));
	__builtin_memset(e->local_addr, 0, sizeof(e->local_addr));

	__u16 ufam = 0;

	if (ua)
		bpf_probe_read_user(&ufam, sizeof(ufam), (void *)ua);
	if (sk) {
		e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
		e->protocol = BPF_CORE_READ(sk, sk_protocol);
		e->sock_type = BPF_CORE_READ(sk, sk_type);
	} else {
		e->family = ufam;
	}
	/* Decide from the record's own copies (loads the verifier does not
	 * know the value of): the paths through here then merge instead of
	 * multiplying by op and family (~10,000 instructions to verify). */
	__u32 op = *(volatile __u32 *)&e->op, family = *(volatile __u32 *)&e->family;
	int ok = ret >= 0 && sk;

	if (family == AF_UNIX) {
		/* The kernel's answer: a bind's own name, a connect's peer, the
		 * connected peer of a send without an address. */
		struct sock *src = NULL;

		if (ok && op == PETRI_KEV_N_BIND)
			src = sk;
		else if (ok && (op == PETRI_KEV_N_CONNECT || !ua))
			src = BPF_CORE_READ((struct unix_sock *)sk, peer);
		if (ok && (op == PETRI_KEV_N_BIND || op == PETRI_KEV_N_CONNECT || !ua)) {
			e->path_len = unix_path(src, e->path);
			e->has_addr = 1;
		} else if (ua && alen > sizeof(__u16)) {
			__u32 n = alen - sizeof(__u16);

			if (n > PETRI_KEV_UNIX_PATH)
				n = PETRI_KEV_UNIX_PATH;
			/* a path name ends at its NUL; an abstract one is whole */
			if (!bpf_probe_read_user(e->path, n, (void *)(ua + sizeof(__u16)))) {
				e->path_len = n;
				e->has_addr = 1;
				e->from_user = 1;
			}
		}
		e->local_path_len = unix_path(sk, e->local_path);
		e->has_local = e->local_path_len > 0;
	} else if (family == AF_INET || family == AF_INET6) {
		if (ua && (ufam == AF_INET || ufam == AF_INET6)) {
			/* sockaddr_in: port at 2, address at 4; _in6: address at 8 */
			__u16 port = 0;

			bpf_probe_read_user(&port, sizeof(port), (void *)(ua + 2));
			e->port = bpf_ntohs(port);
			bpf_probe_read_user(e->addr, ufam == AF_INET ? 4 : 16,
					    (void *)(ua + (ufam == AF_INET ? 4 : 8)));
			e->family = ufam;
			e->has_addr = 1;
			e->from_user = 1;
		} else if (sk && !ua) {
			sock_addr(sk, family, 0, e->addr, &e->port);
			e->has_addr = 1;
		}
	}
	bpf_ringbuf_submit(e, wake_flags());
	return 0;
}

/*
 * A path of a file call from user memory at @uptr (@how: UP_SECOND for
 * path2, UP_LOOKUP when it names a lookup, not symlink's target), read
 * now (sys_exit) into @e's data at @off: sets its layout, its truncated
 * flag, its raced bit (the entry read differed) and, when it is relative
 * and UP_LOOKUP, its dir_known bit.  Returns its length in bytes (NUL included).  Global, so
 * verified once (see petri_str_hash).
 */
#define UP_SECOND 1
#define UP_LOOKUP 2

__noinline __u32 petri_user_path(const struct pending_call *pc, struct petri_kev_file *e, __u32 off,
				 __u64 uptr, __u32 how)
{
	int second = how & UP_SECOND;
	long r;

	if (!pc || !e)
		return 0;
	barrier_var(off);
	if (off > PETRI_KEV_PATH1_MAX)
		return 0;
	r = bpf_probe_read_user_str(e->data + off, PETRI_KEV_UPATH, (void *)uptr);
	if (raced(pc, second, e->data + off, r))
		e->raced |= second ? PETRI_KEV_RACED_PATH2 : PETRI_KEV_RACED_PATH;
	if (r <= 0)
		return 0;
	if (r > PETRI_KEV_UPATH)
		r = PETRI_KEV_UPATH;
	int rel = e->data[off] != '/' && (how & UP_LOOKUP);

	if (second) {
		e->path2_layout = PETRI_KEV_PATH_USER;
		e->path2_truncated = r >= PETRI_KEV_UPATH;
		if (rel)
			e->dir_known |= PETRI_KEV_DIR_KNOWN_2;
	} else {
		e->path_layout = PETRI_KEV_PATH_USER;
		e->path_truncated = r >= PETRI_KEV_UPATH;
		if (rel)
			e->dir_known |= PETRI_KEV_DIR_KNOWN_1;
	}
	return (__u32)r;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(petri_sys_exit, struct pt_regs *regs, long ret)
{
	struct sc_info s;
	__u32 nop = 0;

	/* Every task leaves at the table unless the call is audited (one
	 * read of the syscall number: cheaper than the cgroup id, which
	 * costs more than the prefilter saves), then host tasks at the
	 * prefilter; only then is the thread's task storage looked up (the
	 * costliest step: a trylock and an RCU-trace section). */
	long id = BPF_CORE_READ(regs, orig_ax);

	if (!sc_lookup(id, &s))
		return 0;
	nop = s.net;
	const struct petri_kev_watch *w = watch_lookup();

	if (!w)
		return 0;
	struct pending_call *pc = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0, 0);
	if (!pc || pc->nr != id)
		return 0;

	/* The arguments stay in pc (map memory: indexing it with a variable
	 * is cheap to verify) until this thread's next sys_enter. */
	pc->nr = -1;
	if (nop == NET_HOOKED) {
		__u64 tid = bpf_get_current_pid_tgid();
		struct petri_kev_net *p = bpf_map_lookup_elem(&net_pending, &tid);

		/* No record: the call failed before its hook, or the socket
		 * family has none (unix, netlink), or no address was given. */
		if (p && p->h.gen == w->gen && p->h.slot == w->slot) {
			net_pending_emit(w, tid, p, id, ret);
			return 0;
		}
		if (p)
			bpf_map_delete_elem(&net_pending, &tid);
		return petri_net_unhooked(w, id, ret, pc);
	}
	if (nop)
		return net_exit(w, nop, id, ret, pc);

	__u32 zero = 0;
	struct petri_kev_file *e = bpf_map_lookup_elem(&file_scratch, &zero);
	__u64 k = next_kseq(w);

	if (!e || !k)
		return 0;
	fill_hdr_cached(&e->h, w, PETRI_KEV_FILE, k, pc);
	e->op = s.op;
	e->syscall_nr = (__u32)id;
	e->result = (__s32)ret;
	e->flags = s.flags >= 0 ? (__u32)arg_of(pc, s.flags) : 0;
	e->mode = s.mode >= 0 ? (__u32)arg_of(pc, s.mode) : 0;
	e->uid = s.uid >= 0 ? (__u32)arg_of(pc, s.uid) : 0;
	e->gid = s.gid >= 0 ? (__u32)arg_of(pc, s.gid) : 0;
	if (s.flags == -3) {
		e->flags = O_CREAT | O_WRONLY | O_TRUNC;
	} else if (s.flags == -2) {
		__u64 how[2] = {};

		bpf_probe_read_user(how, sizeof(how), (void *)arg_of(pc, 2));
		e->flags = (__u32)how[0];
		e->mode = (__u32)how[1];
	}
	if (s.op == PETRI_KEV_F_UNLINK && (e->flags & AT_REMOVEDIR))
		e->op = PETRI_KEV_F_RMDIR;

	e->path_layout = PETRI_KEV_PATH_NONE;
	e->path_ncomp = 0;
	e->path_truncated = 0;
	e->path2_layout = PETRI_KEV_PATH_NONE;
	e->path_len = 0;
	e->path2_len = 0;
	e->path2_truncated = 0;
	e->raced = 0;
	e->dir_known = 0;
	e->pad1 = 0;
	e->dir_len = e->dir_ncomp = e->dir_truncated = 0;
	e->dir2_len = e->dir2_ncomp = e->dir2_truncated = 0;

	/* The file the call worked on, from the kernel: the new fd of a
	 * successful open, or the fd argument of fchmod/fchown/ftruncate (and
	 * of utimensat without a path). */
	long fd = -1;
	__u64 upath = s.path >= 0 ? arg_of(pc, s.path) : 0;

	if (s.op == PETRI_KEV_F_OPEN || s.op == PETRI_KEV_F_CREATE)
		fd = ret;
	else if (s.fd >= 0 && !upath)
		fd = (long)(int)arg_of(pc, s.fd);
	struct file *f = fd >= 0 ? fd_file(fd) : NULL;
	__u32 len = 0;

	if (f) {
		struct dentry *fd_d;
		struct vfsmount *fd_m;

		read_path(&f->f_path, &fd_d, &fd_m);
		__u64 wr = petri_walk((__u64)fd_d, (__u64)fd_m, (struct path_buf *)e->data);

		e->path_ncomp = WALK_N(wr);
		e->path_truncated = WALK_TRUNC(wr);
		len = WALK_LEN(wr);
		e->path_layout = PETRI_KEV_PATH_KERNEL;
	} else if (upath) {
		len = petri_user_path(pc, e, 0, upath, s.dir != PETRI_KEV_DIR_NONE ? UP_LOOKUP : 0);
	}
	if (len > PETRI_KEV_PATH1_MAX)
		len = PETRI_KEV_PATH1_MAX;
	e->path_len = len;
	__u32 len2 = 0;

	if (s.path2 >= 0)
		len2 = petri_user_path(pc, e, len, arg_of(pc, s.path2),
				       UP_SECOND | (s.dir2 != PETRI_KEV_DIR_NONE ? UP_LOOKUP : 0));
	e->path2_len = len2;
	__u32 off = len + len2;

	/* A relative path: the directory it was looked up from, from the
	 * kernel's objects (the dirfd's file, or the cwd), after the call. */
	if (e->dir_known & PETRI_KEV_DIR_KNOWN_1)
		off += petri_dir_into(pc, s.dir, e, off, 0);
	if (e->dir_known & PETRI_KEV_DIR_KNOWN_2)
		off += petri_dir_into(pc, s.dir2, e, off, 1);
	__u64 size = __builtin_offsetof(struct petri_kev_file, data) + off;

	if (size > sizeof(*e))
		size = sizeof(*e);
	if (bpf_ringbuf_output(&events, e, size, wake_flags()))
		count_drop(w, PETRI_KEV_FILE, k);
	return 0;
}

/* ---- network (cgroup socket hooks: the kernel's copy of the address) ---- */

/* @v6 is a constant: a v4 hook may not read user_ip6 and the other way round. */
static __always_inline int net_event(struct bpf_sock_addr *ctx, __u32 op, int v6)
{
	const struct petri_kev_watch *w = watch_lookup();
	struct petri_kev_net *e;
	__u32 zero = 0;
	__u64 tid = bpf_get_current_pid_tgid();

	if (!w)
		return 1;
	/* A record of this thread still waiting (sendmmsg: one hook per
	 * message, one exit): send it without a result. */
	struct petri_kev_net *old = bpf_map_lookup_elem(&net_pending, &tid);
	if (old)
		net_pending_emit(w, tid, old, 0, 0);
	e = bpf_map_lookup_elem(&net_scratch, &zero);
	if (!e)
		return 1;
	fill_hdr(&e->h, w, PETRI_KEV_NET, 0); /* kseq at sys_exit */
	e->op = op;
	e->family = ctx->user_family;
	e->protocol = ctx->protocol;
	e->sock_type = ctx->type;
	e->port = bpf_ntohs((__u16)ctx->user_port);
	e->local_port = 0;
	e->result = 0;
	e->syscall_nr = 0;
	e->has_addr = 1;
	e->has_local = 0;
	e->from_hook = 1;
	e->path_len = e->local_path_len = e->from_user = 0;
	__builtin_memset(e->addr, 0, sizeof(e->addr));
	__builtin_memset(e->local_addr, 0, sizeof(e->local_addr));
	if (!v6) {
		__u32 a = ctx->user_ip4;

		__builtin_memcpy(e->addr, &a, 4);
	} else {
		__u32 a[4];

		a[0] = ctx->user_ip6[0];
		a[1] = ctx->user_ip6[1];
		a[2] = ctx->user_ip6[2];
		a[3] = ctx->user_ip6[3];
		__builtin_memcpy(e->addr, a, 16);
	}
	/* (path/local_path are not sent for inet records: never read) */
	if (bpf_map_update_elem(&net_pending, &tid, e, BPF_ANY))
		count_drop(w, PETRI_KEV_NET, next_kseq(w));
	return 1;
}

SEC("cgroup/connect4")
int petri_connect4(struct bpf_sock_addr *ctx)
{
	return net_event(ctx, PETRI_KEV_N_CONNECT, 0);
}

SEC("cgroup/connect6")
int petri_connect6(struct bpf_sock_addr *ctx)
{
	return net_event(ctx, PETRI_KEV_N_CONNECT, 1);
}

SEC("cgroup/sendmsg4")
int petri_sendmsg4(struct bpf_sock_addr *ctx)
{
	return net_event(ctx, PETRI_KEV_N_SENDMSG, 0);
}

SEC("cgroup/sendmsg6")
int petri_sendmsg6(struct bpf_sock_addr *ctx)
{
	return net_event(ctx, PETRI_KEV_N_SENDMSG, 1);
}

SEC("cgroup/bind4")
int petri_bind4(struct bpf_sock_addr *ctx)
{
	return net_event(ctx, PETRI_KEV_N_BIND, 0);
}

SEC("cgroup/bind6")
int petri_bind6(struct bpf_sock_addr *ctx)
{
	return net_event(ctx, PETRI_KEV_N_BIND, 1);
}
