/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kernel.c - the userspace half of the kernel audit (kernel.h): loads
 * the BPF object (skeleton generated from audit/bpf/petri_audit.bpf.c),
 * keeps the table of watched sandboxes (slot -> audit stream) in step with
 * the kernel's `watched` map, and runs the consumer thread that converts
 * ring-buffer records (audit/bpf/petri_events.h) into protobuf events and
 * reports kernel losses as Loss events with exact counts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kernel.h"
#include "audit_priv.h"
#include "internal.h"
/* The record layouts first: the skeleton's .bss type uses them. */
#include "petri_events.h"
/* clang-format off */
#include "petri_audit.skel.h"
/* clang-format on */
#include "petri_audit_btf.h"

#define POLL_MS 50
/* How long the consumer waits for room in a stream's queue before it drops
 * an event there (the ring buffer fills meanwhile). */
#define EMIT_WAIT_MS 200
#define PETRI_ID_MAX_KAUDIT 96 /* "<sandbox id>:<serial>" */

#define EXEC_LOG 64 /* execs remembered per sandbox (a ring indexed by serial) */
#define NS_LOG 16   /* exec pid namespaces remembered per sandbox (a ring) */

/* One exec of a watched sandbox, in CLOCK_MONOTONIC ns (bpf_ktime_get_ns). */
struct kexec {
	uint64_t serial;     /* 0: unused */
	uint64_t begin, end; /* end UINT64_MAX while it runs */
};

struct kwatch {
	int used;
	uint32_t gen;
	uint64_t cgroup_id;
	petri_audit *audit;
	char *sandbox_id;
	struct bpf_link *links[6];
	uint64_t drops_reported[PETRI_KEV_NKINDS];
	/* petri_kaudit_sandbox (has_sb: given) */
	int has_sb;
	struct petri_kaudit_sandbox sb;
	/* Exec attribution (consumer thread, under mu). */
	struct kexec execs[EXEC_LOG];
	uint32_t ns_inum[NS_LOG];
	uint64_t ns_serial[NS_LOG];
	uint8_t ns_cmd_ran[NS_LOG]; /* its pid 2, the command, has execve'd */
	uint32_t ns_reaper[NS_LOG]; /* host pid of its pid 1 (the reaper), 0: not seen yet */
	uint32_t ns_next;
	uint64_t last_bound; /* serial the last new exec namespace was bound to */
	uint64_t max_begun;  /* the latest exec begun */
	uint64_t id_serial;  /* the exec id in id_buf */
	char id_buf[PETRI_ID_MAX_KAUDIT];
};

struct petri_kaudit {
	struct petri_audit_bpf *skel;
	struct ring_buffer *rb;
	pthread_t thread;
	int thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_int stop;      /* set by destroy, read by the consumer without mu */
	uint64_t passes;      /* consumer loops completed (under mu) */
	uint64_t want_passes; /* unwatch waits for this many (under mu) */
	int kick_fd;          /* eventfd: wake the consumer now */
	int64_t mono_to_real; /* CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
	uint32_t next_gen;
	uint64_t lost_total;
	struct kwatch w[PETRI_KEV_MAX_SLOTS];
	/* The syscall programs are attached only while a sandbox is watched:
	 * any syscall tracepoint puts every thread of the host on the slow
	 * syscall path (~10% on openat+close), so a context with nothing
	 * watched costs the host nothing. */
	pthread_mutex_t sys_mu;
	int sys_users;                 /* watched sandboxes (under sys_mu) */
	struct bpf_link *sys_links[2]; /* sys_enter, sys_exit */
};

/* ---- libbpf messages: captured for the error, never printed ------------- */

static __thread char libbpf_last[256];
/* libbpf's print hook is the process's: one load at a time sets it. */
static pthread_mutex_t capture_mu = PTHREAD_MUTEX_INITIALIZER;
static libbpf_print_fn_t capture_old;

static int libbpf_capture(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN) {
		char line[256];

		vsnprintf(line, sizeof(line), fmt, ap);
		size_t n = strlen(line);
		while (n && line[n - 1] == '\n')
			line[--n] = 0;
		if (n)
			memcpy(libbpf_last, line, n + 1);
	}
	return 0;
}

void petri__bpf_capture_begin(void)
{
	pthread_mutex_lock(&capture_mu);
	libbpf_last[0] = 0;
	capture_old = libbpf_set_print(libbpf_capture);
}

void petri__bpf_capture_end(void)
{
	libbpf_set_print(capture_old);
	pthread_mutex_unlock(&capture_mu);
}

const char *petri__bpf_last_warning(void)
{
	return libbpf_last;
}

static int64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- record -> event ----------------------------------------------------- */

static int kind_of_type(uint32_t type)
{
	switch (type) {
	case PETRI_KEV_EXEC:
		return PETRI_AUDIT_KIND_PROCESS_EXEC;
	case PETRI_KEV_FORK:
		return PETRI_AUDIT_KIND_PROCESS_FORK;
	case PETRI_KEV_EXIT:
		return PETRI_AUDIT_KIND_PROCESS_EXIT;
	case PETRI_KEV_FILE:
		return PETRI_AUDIT_KIND_FILE_ACTIVITY;
	case PETRI_KEV_NET:
		return PETRI_AUDIT_KIND_NETWORK_ACTIVITY;
	}
	return 0;
}

static const char *syscall_name(uint32_t nr)
{
#if defined(__x86_64__)
	switch (nr) {
	/* clang-format off */
	case 2: return "open";
	case 257: return "openat";
	case 437: return "openat2";
	case 85: return "creat";
	case 133: return "mknod";
	case 259: return "mknodat";
	case 132: return "utime";
	case 235: return "utimes";
	case 261: return "futimesat";
	case 280: return "utimensat";
	case 87: return "unlink";
	case 263: return "unlinkat";
	case 82: return "rename";
	case 264: return "renameat";
	case 316: return "renameat2";
	case 83: return "mkdir";
	case 258: return "mkdirat";
	case 84: return "rmdir";
	case 90: return "chmod";
	case 91: return "fchmod";
	case 268: return "fchmodat";
	case 452: return "fchmodat2";
	case 92: return "chown";
	case 94: return "lchown";
	case 93: return "fchown";
	case 260: return "fchownat";
	case 76: return "truncate";
	case 77: return "ftruncate";
	case 86: return "link";
	case 265: return "linkat";
	case 88: return "symlink";
	case 266: return "symlinkat";
	case 50: return "listen";
	case 43: return "accept";
	case 288: return "accept4";
	case 42: return "connect";
	case 49: return "bind";
	case 44: return "sendto";
	case 46: return "sendmsg";
	case 307: return "sendmmsg";
		/* clang-format on */
	}
#endif
	(void)nr;
	return "";
}

/* Room for any path path_of() makes: the record's bytes plus a '/' per
 * component and the NUL. */
#define PATH_OUT (PETRI_KEV_PATH + PETRI_KEV_NAME + PETRI_KEV_MAX_DEPTH + 2)
/* ... and a directory path_of() made, a '/' and a user path. */
#define FULL_OUT (PATH_OUT + 1 + PETRI_KEV_UPATH)

/* The path in @buf (@cap bytes, a PETRI_KEV_PATH_* layout) into @out
 * (FULL_OUT bytes), NUL-terminated; its length. */
static size_t path_of(const char *buf, size_t cap, uint32_t layout, uint32_t ncomp, char *out)
{
	if (layout == PETRI_KEV_PATH_USER) {
		if (cap > PETRI_KEV_UPATH)
			cap = PETRI_KEV_UPATH;
		size_t n = strnlen(buf, cap);
		memcpy(out, buf, n);
		out[n] = 0;
		return n;
	}
	out[0] = 0;
	if (layout != PETRI_KEV_PATH_KERNEL)
		return 0;
	if (cap > PETRI_KEV_PATH + PETRI_KEV_NAME)
		cap = PETRI_KEV_PATH + PETRI_KEV_NAME;
	/* Components leaf first: find them, then join root first. */
	const char *comp[PETRI_KEV_MAX_DEPTH];
	size_t len[PETRI_KEV_MAX_DEPTH], n = 0, off = 0;

	while (n < ncomp && n < PETRI_KEV_MAX_DEPTH && off < cap) {
		comp[n] = buf + off;
		len[n] = strnlen(buf + off, cap - off);
		off += len[n] + 1;
		n++;
	}
	char *p = out;
	if (!n)
		*p++ = '/';
	while (n--) {
		*p++ = '/';
		memcpy(p, comp[n], len[n]);
		p += len[n];
	}
	*p = 0;
	return (size_t)(p - out);
}

struct ev_strings {
	char *a, *b, *c;
	char **argv;
};

static uint32_t overflow_uid = 65534;

/* The uid inside the sandbox's user namespace of the kernel uid @kuid. */
static uint32_t uid_inside(const struct kwatch *w, uint32_t kuid)
{
	if (!w->has_sb)
		return kuid;
	return kuid == w->sb.host_uid ? w->sb.inside_uid : overflow_uid;
}

/* @serial when that exec had begun at @t, else 0: the reaper init keeps
 * ready for the next exec belongs to no exec until the request comes (and
 * to none at all when the sandbox is destroyed first). */
static uint64_t begun(const struct kwatch *w, uint64_t serial, uint64_t t)
{
	const struct kexec *e = &w->execs[serial % EXEC_LOG];

	if (e->serial == serial)
		return e->begin <= t ? serial : 0;
	return serial < w->max_begun ? serial : 0; /* long gone from the log */
}

/* Is @h, of a task in the namespace of ns slot @slot (bound to an exec), from a new
 * namespace that got the number of that exec's freed one?  The kernel
 * reuses a pid namespace's inode number once it is freed, and init makes
 * one namespace per exec.  An exec's namespace dies with its reaper (pid 1
 * there), which after the exec's end only exits: so a record of pid 1 that
 * is not its exit, made after that exec ended, is the reaper of a new
 * namespace. */
static int reused_ns(const struct kwatch *w, uint32_t slot, const struct petri_kev_hdr *h)
{
	uint64_t serial = w->ns_serial[slot];
	const struct kexec *e = &w->execs[serial % EXEC_LOG];

	/* A pid 1 other than the one seen there is another namespace's, even
	 * when all it does is exit (a warm reaper killed unused at destroy). */
	if (h->pid_inside == 1 && w->ns_reaper[slot] && h->pid_host != w->ns_reaper[slot])
		return 1;
	return h->pid_inside == 1 && h->type != PETRI_KEV_EXIT && e->serial == serial &&
	       e->end != UINT64_MAX && e->end < h->ktime_ns;
}

/* The serial of the exec the record @h belongs to (0: none).  A record of a
 * task in an exec's pid namespace (exec_ns) belongs to the exec that
 * namespace was bound to; the first record of a new namespace binds it to
 * the exec after the last one bound (init creates one namespace per exec,
 * in order, the next exec's while it waits for the request), skipping an
 * exec that had ended before the record was made (its reaper never got
 * that far).  A record of init itself belongs to the exec running then. */
static uint64_t exec_of(struct kwatch *w, const struct petri_kev_hdr *h)
{
	if (!w->has_sb)
		return 0;
	if (h->exec_ns) {
		uint32_t slot = w->ns_next % NS_LOG;
		int found = 0;
		for (uint32_t i = 0; i < NS_LOG && !found; i++) {
			if (w->ns_inum[i] != h->exec_ns)
				continue;
			if (!reused_ns(w, i, h)) {
				if (h->pid_inside == 1 && !w->ns_reaper[i])
					w->ns_reaper[i] = h->pid_host;
				return begun(w, w->ns_serial[i], h->ktime_ns);
			}
			slot = i; /* a new namespace with a freed one's number */
			found = 1;
		}
		uint64_t s = w->last_bound + 1;
		while (w->execs[s % EXEC_LOG].serial == s &&
		       w->execs[s % EXEC_LOG].end < h->ktime_ns)
			s++;
		if (!found)
			w->ns_next++;
		w->ns_inum[slot] = h->exec_ns;
		w->ns_serial[slot] = s;
		w->ns_cmd_ran[slot] = 0;
		w->ns_reaper[slot] = h->pid_inside == 1 ? h->pid_host : 0;
		w->last_bound = s;
		return begun(w, s, h->ktime_ns);
	}
	for (int i = 0; i < EXEC_LOG; i++)
		if (w->execs[i].serial && w->execs[i].begin <= h->ktime_ns &&
		    h->ktime_ns <= w->execs[i].end)
			return w->execs[i].serial;
	return 0;
}

/*
 * Is @h an action of petri's own processes in the sandbox rather than of the
 * code: init and each exec's reaper (pid 1 of their pid namespaces; the code
 * cannot make a pid namespace, its seccomp profile refuses every namespace
 * flag), or the command (pid 2 of an exec's namespace) before its execve,
 * while the library sets it up?  Their file and network actions (masking
 * /proc, writing the code file, Landlock's rule paths) are kept out of the
 * stream, as init's set-up is; their process events stay.  Call after
 * exec_of() has bound @h's namespace.
 */
static int library_record(struct kwatch *w, const struct petri_kev_hdr *h)
{
	if (h->pid_inside == 1)
		return h->type == PETRI_KEV_FILE || h->type == PETRI_KEV_NET;
	if (h->pid_inside != 2 || !h->exec_ns)
		return 0;
	for (uint32_t i = 0; i < NS_LOG; i++) {
		if (w->ns_inum[i] != h->exec_ns)
			continue;
		if (h->type == PETRI_KEV_EXEC)
			w->ns_cmd_ran[i] = 1;
		return (h->type == PETRI_KEV_FILE || h->type == PETRI_KEV_NET) && !w->ns_cmd_ran[i];
	}
	return 0;
}

/* The exec id of @serial ("" for 0), formatted once per exec. */
static char no_exec_id[1];

static char *exec_id_of(struct kwatch *w, uint64_t serial)
{
	if (!serial)
		return no_exec_id;
	if (w->id_serial != serial) {
		snprintf(w->id_buf, sizeof(w->id_buf), "%s:%llu", w->sandbox_id,
			 (unsigned long long)serial);
		w->id_serial = serial;
	}
	return w->id_buf;
}

static void fill_process(Petri__Audit__V1__Process *p, const struct kwatch *w,
			 const struct petri_kev_hdr *h, char *comm)
{
	p->pid_inside = h->pid_inside;
	p->pid_host = h->pid_host;
	p->ppid = h->ppid_inside;
	p->uid = uid_inside(w, h->uid);
	memcpy(comm, h->comm, PETRI_KEV_COMM);
	comm[PETRI_KEV_COMM] = 0;
	p->comm = comm;
}

static void emit_exec(struct kwatch *w, petri_pb_event *ev, const struct petri_kev_exec *r,
		      size_t size)
{
	Petri__Audit__V1__ProcessExec b = PETRI__AUDIT__V1__PROCESS_EXEC__INIT;
	char filename[PETRI_KEV_FILENAME + 1], cwd[PATH_OUT], exe[PATH_OUT];
	/* argv: the NUL-separated bytes, NUL-terminated once more, and at most
	 * one string per two bytes. */
	char args[PETRI_KEV_ARGS + 1], *argv[PETRI_KEV_ARGS / 2 + 1];
	size_t alen = r->args_len <= PETRI_KEV_ARGS ? r->args_len : PETRI_KEV_ARGS;
	size_t argc = 0;

	memcpy(args, r->args, alen);
	args[alen] = 0;
	for (size_t i = 0; i < alen && argc < sizeof(argv) / sizeof(argv[0]); argc++) {
		argv[argc] = args + i;
		i += strlen(args + i) + 1;
	}
	memcpy(filename, r->filename, PETRI_KEV_FILENAME);
	filename[PETRI_KEV_FILENAME] = 0;
	cwd[0] = 0;
	if (r->cwd_ncomp)
		path_of(r->cwd, sizeof(r->cwd), PETRI_KEV_PATH_KERNEL, r->cwd_ncomp, cwd);

	b.n_argv = argc;
	b.argv = argv;
	b.filename = filename;
	b.argv_truncated = r->args_truncated != 0;
	b.cwd = cwd;
	b.filename_truncated = r->filename_truncated != 0;
	exe[0] = 0;
	if (r->exe_ncomp)
		path_of(r->exe, sizeof(r->exe), PETRI_KEV_PATH_KERNEL, r->exe_ncomp, exe);
	b.executable = exe;
	b.executable_truncated = r->exe_truncated != 0;
	/* The process's identity is the file the kernel loaded; the name the
	 * caller gave only when that is unknown. */
	ev->process->executable = exe[0] ? exe : filename;
	ev->body_case = PETRI__AUDIT__V1__EVENT__BODY_PROCESS_EXEC;
	ev->process_exec = &b;
	petri__audit_emit_event_wait(w->audit, ev, EMIT_WAIT_MS);
	(void)size;
}

/* The relative path @path (@len bytes, FULL_OUT of room) made whole with
 * the directory it was looked up from (@dir, @dlen bytes of @ncomp
 * components, kernel layout; @dtrunc: cut short); the path as given is
 * copied to @given (PETRI_KEV_UPATH + 1 bytes).  A directory that could not
 * be resolved (a dirfd not open: the call failed) leaves @path as it is.
 * Returns the new length; sets *@trunc when the directory was cut short. */
static size_t with_dir(const char *dir, uint32_t dlen, uint32_t ncomp, uint32_t dtrunc, char *path,
		       size_t len, char *given, int *trunc)
{
	char d[PATH_OUT];

	if (!dlen && !ncomp && dtrunc)
		return len;
	if (len > PETRI_KEV_UPATH)
		len = PETRI_KEV_UPATH;
	memcpy(given, path, len);
	given[len] = 0;
	size_t n = path_of(dir, dlen, PETRI_KEV_PATH_KERNEL, ncomp, d);
	if (n == 1) /* "/" */
		n = 0;
	memcpy(path, d, n);
	path[n] = '/';
	memcpy(path + n + 1, given, len + 1);
	if (dtrunc)
		*trunc = 1;
	return n + 1 + len;
}

/* @r holds @size bytes: the fixed part and the path_len + path2_len +
 * dir_len + dir2_len bytes of data. */
static void emit_file(struct kwatch *w, petri_pb_event *ev, const struct petri_kev_file *r,
		      size_t size)
{
	Petri__Audit__V1__FileActivity b = PETRI__AUDIT__V1__FILE_ACTIVITY__INIT;
	size_t room = size - offsetof(struct petri_kev_file, data);
	char path[FULL_OUT], path2[FULL_OUT], given[PETRI_KEV_UPATH + 1],
		given2[PETRI_KEV_UPATH + 1];
	int trunc = r->path_truncated != 0, trunc2 = r->path2_truncated != 0;

	if ((size_t)r->path_len > room || (size_t)r->path2_len > room - r->path_len ||
	    (size_t)r->dir_len > room - r->path_len - r->path2_len ||
	    (size_t)r->dir2_len > room - r->path_len - r->path2_len - r->dir_len)
		return;
	const char *dir = r->data + r->path_len + r->path2_len;
	size_t plen = path_of(r->data, r->path_len, r->path_layout, r->path_ncomp, path);
	size_t p2len = path_of(r->data + r->path_len, r->path2_len, r->path2_layout, 0, path2);

	given[0] = given2[0] = 0;
	if (r->dir_known & PETRI_KEV_DIR_KNOWN_1)
		plen = with_dir(dir, r->dir_len, r->dir_ncomp, r->dir_truncated, path, plen, given,
				&trunc);
	if (r->dir_known & PETRI_KEV_DIR_KNOWN_2)
		p2len = with_dir(dir + r->dir_len, r->dir2_len, r->dir2_ncomp, r->dir2_truncated,
				 path2, p2len, given2, &trunc2);

	b.op = (Petri__Audit__V1__FileActivity__Op)r->op;
	b.path = path;
	b.path2 = path2;
	b.flags = r->flags;
	b.mode = r->mode;
	b.result = r->result;
	b.path_source = (Petri__Audit__V1__FileActivity__PathSource)r->path_layout;
	b.path2_source = (Petri__Audit__V1__FileActivity__PathSource)r->path2_layout;
	b.syscall = (char *)syscall_name(r->syscall_nr);
	b.uid = r->uid;
	b.gid = r->gid;
	b.path_truncated = trunc;
	b.path2_truncated = trunc2;
	b.path_raced = (r->raced & PETRI_KEV_RACED_PATH) != 0;
	b.path2_raced = (r->raced & PETRI_KEV_RACED_PATH2) != 0;
	b.path_given = given;
	b.path2_given = given2;
	if (!petri__audit_utf8_valid(path, plen)) {
		b.path_raw.data = (uint8_t *)path;
		b.path_raw.len = plen;
	}
	if (!petri__audit_utf8_valid(path2, p2len)) {
		b.path2_raw.data = (uint8_t *)path2;
		b.path2_raw.len = p2len;
	}
	ev->body_case = PETRI__AUDIT__V1__EVENT__BODY_FILE_ACTIVITY;
	ev->file_activity = &b;
	petri__audit_emit_event_wait(w->audit, ev, EMIT_WAIT_MS);
}

/* @a (4 or 16 bytes by @family) as protobuf bytes and text, into @buf/@text. */
static void net_addr(uint32_t family, const uint8_t *a, uint8_t buf[16],
		     char text[INET6_ADDRSTRLEN], ProtobufCBinaryData *out)
{
	int v6 = family == AF_INET6;

	text[0] = 0;
	if (family != AF_INET && !v6)
		return;
	memcpy(buf, a, 16);
	out->data = buf;
	out->len = v6 ? 16 : 4;
	inet_ntop(v6 ? AF_INET6 : AF_INET, buf, text, INET6_ADDRSTRLEN);
}

/* A unix socket's sun_path bytes @p (@len) as protobuf bytes (a path name
 * without its NUL; an abstract name whole, leading NUL included) and text
 * (an abstract name as "@" and the name, each NUL in it shown as "@", the
 * notation of ss(8)). */
static void unix_addr(const char *p, uint32_t len, char text[PETRI_KEV_UNIX_PATH + 2],
		      ProtobufCBinaryData *out)
{
	if (len > PETRI_KEV_UNIX_PATH)
		len = PETRI_KEV_UNIX_PATH;
	text[0] = 0;
	if (!len)
		return;
	if (p[0]) {
		len = (uint32_t)strnlen(p, len);
		memcpy(text, p, len);
		text[len] = 0;
	} else {
		for (uint32_t i = 0; i < len; i++)
			text[i] = p[i] ? p[i] : '@';
		text[len] = 0;
	}
	out->data = (uint8_t *)p;
	out->len = len;
}

static void emit_net(struct kwatch *w, petri_pb_event *ev, const struct petri_kev_net *r)
{
	Petri__Audit__V1__NetworkActivity b = PETRI__AUDIT__V1__NETWORK_ACTIVITY__INIT;
	char text[PETRI_KEV_UNIX_PATH + 2] = "", ltext[PETRI_KEV_UNIX_PATH + 2] = "";
	uint8_t addr[16], laddr[16];

	b.op = (Petri__Audit__V1__NetworkActivity__Op)r->op;
	b.family = r->family;
	b.protocol = r->protocol;
	b.socket_type = r->sock_type;
	b.result = r->result;
	if (r->family == AF_UNIX) {
		if (r->has_addr)
			unix_addr(r->path, r->path_len, text, &b.address);
		if (r->has_local)
			unix_addr(r->local_path, r->local_path_len, ltext, &b.local_address);
	} else {
		if (r->has_addr) {
			b.port = r->port;
			net_addr(r->family, r->addr, addr, text, &b.address);
		}
		if (r->has_local) {
			b.local_port = r->local_port;
			net_addr(r->family, r->local_addr, laddr, ltext, &b.local_address);
		}
	}
	b.address_text = text;
	b.local_address_text = ltext;
	b.syscall = (char *)(r->syscall_nr ? syscall_name(r->syscall_nr) : "");
	if (r->from_hook || !r->syscall_nr)
		b.source = PETRI__AUDIT__V1__NETWORK_ACTIVITY__SOURCE__SOURCE_CGROUP_HOOK;
	else if (r->op == PETRI_KEV_N_LISTEN || r->op == PETRI_KEV_N_ACCEPT)
		b.source = PETRI__AUDIT__V1__NETWORK_ACTIVITY__SOURCE__SOURCE_SOCKET;
	else
		b.source = PETRI__AUDIT__V1__NETWORK_ACTIVITY__SOURCE__SOURCE_SYSCALL;
	b.address_from_user = r->from_user != 0;
	ev->body_case = PETRI__AUDIT__V1__EVENT__BODY_NETWORK_ACTIVITY;
	ev->network_activity = &b;
	petri__audit_emit_event_wait(w->audit, ev, EMIT_WAIT_MS);
}

static int handle_record(void *ctx, void *data, size_t size)
{
	struct petri_kaudit *k = ctx;
	const struct petri_kev_hdr *h = data;

	if (size < sizeof(*h) || h->slot >= PETRI_KEV_MAX_SLOTS)
		return 0;
	pthread_mutex_lock(&k->mu);
	struct kwatch *w = &k->w[h->slot];
	if (!w->used || w->gen != h->gen) /* a record of an unwatched sandbox */
		goto out;

	petri_pb_event ev = PETRI__AUDIT__V1__EVENT__INIT;
	Petri__Audit__V1__Process proc = PETRI__AUDIT__V1__PROCESS__INIT;
	char comm[PETRI_KEV_COMM + 1];

	fill_process(&proc, w, h, comm);
	ev.sandbox_id = w->sandbox_id;
	ev.exec_id = exec_id_of(w, exec_of(w, h));
	if (library_record(w, h))
		goto out;
	ev.process = &proc;
	ev.time_unix_nano = (uint64_t)((int64_t)h->ktime_ns + k->mono_to_real);

	switch (h->type) {
	case PETRI_KEV_EXEC:
		if (size >= sizeof(struct petri_kev_exec))
			emit_exec(w, &ev, data, size);
		break;
	case PETRI_KEV_FORK:
		if (size >= sizeof(struct petri_kev_fork)) {
			const struct petri_kev_fork *r = data;
			Petri__Audit__V1__ProcessFork b = PETRI__AUDIT__V1__PROCESS_FORK__INIT;

			b.child_pid_inside = r->child_pid_inside;
			b.child_pid_host = r->child_tid_host;
			b.is_thread = r->is_thread != 0;
			ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_PROCESS_FORK;
			ev.process_fork = &b;
			petri__audit_emit_event_wait(w->audit, &ev, EMIT_WAIT_MS);
		}
		break;
	case PETRI_KEV_EXIT:
		if (size >= sizeof(struct petri_kev_exit)) {
			const struct petri_kev_exit *r = data;
			Petri__Audit__V1__ProcessExit b = PETRI__AUDIT__V1__PROCESS_EXIT__INIT;
			uint32_t sig = r->exit_code & 0x7f;

			b.exit_code = sig ? -1 : (int32_t)((r->exit_code >> 8) & 0xff);
			b.signal = (int32_t)sig;
			b.core_dumped = sig && (r->exit_code & 0x80);
			ev.body_case = PETRI__AUDIT__V1__EVENT__BODY_PROCESS_EXIT;
			ev.process_exit = &b;
			petri__audit_emit_event_wait(w->audit, &ev, EMIT_WAIT_MS);
		}
		break;
	case PETRI_KEV_FILE:
		if (size >= offsetof(struct petri_kev_file, data))
			emit_file(w, &ev, data, size);
		break;
	case PETRI_KEV_NET:
		if (size >= sizeof(struct petri_kev_net))
			emit_net(w, &ev, data);
		break;
	}
out:
	pthread_mutex_unlock(&k->mu);
	return 0;
}

/* Report the kernel losses of slot @s that no Loss event reported yet. */
static void report_drops_locked(struct petri_kaudit *k, int s)
{
	struct kwatch *w = &k->w[s];

	for (int t = 1; t < PETRI_KEV_NKINDS; t++) {
		struct petri_kev_drop *d = &k->skel->bss->drops[s][t];
		uint64_t count = __atomic_load_n(&d->count, __ATOMIC_ACQUIRE);
		uint64_t delta = count - w->drops_reported[t];

		if (!delta || !kind_of_type((uint32_t)t))
			continue;
		/* The kseq window is best effort (the kernel sets first_kseq with a
		 * compare-and-swap from 0); the count is exact. */
		uint64_t first = __atomic_exchange_n(&d->first_kseq, 0, __ATOMIC_ACQ_REL);
		uint64_t last = __atomic_load_n(&d->last_kseq, __ATOMIC_ACQUIRE);

		/* (first > last: drops on two CPUs at once stored out of order) */
		uint64_t lo = first && first < last ? first : last;
		uint64_t hi = first > last ? first : last;

		/* Into the stream's totals now, and a Loss event as soon as its
		 * queue has room: a full queue cannot drop the count. */
		petri__audit_report_loss(w->audit, kind_of_type((uint32_t)t), delta, lo, hi);
		w->drops_reported[t] = count;
		k->lost_total += delta;
	}
}

/* Wait for records, a kick (unwatch wants a pass now) or POLL_MS, then
 * consume.  Without the kick an unwatch waited up to two idle polls. */
static void *consumer(void *arg)
{
	struct petri_kaudit *k = arg;
	pthread_setname_np(pthread_self(), "petri-kaudit"); /* for top, perf, bench */
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN};
	if (ep >= 0) {
		epoll_ctl(ep, EPOLL_CTL_ADD, ring_buffer__epoll_fd(k->rb), &ev);
		epoll_ctl(ep, EPOLL_CTL_ADD, k->kick_fd, &ev);
	}

	while (!atomic_load(&k->stop)) {
		pthread_mutex_lock(&k->mu);
		int hurry = k->passes < k->want_passes;
		pthread_mutex_unlock(&k->mu);
		struct epoll_event got[2];
		if (ep >= 0)
			epoll_wait(ep, got, 2, hurry ? 0 : POLL_MS);
		else
			ring_buffer__poll(k->rb, hurry ? 0 : POLL_MS);
		uint64_t v;
		while (read(k->kick_fd, &v, sizeof(v)) > 0)
			;
		ring_buffer__consume(k->rb);
		pthread_mutex_lock(&k->mu);
		k->mono_to_real = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
		for (int s = 0; s < PETRI_KEV_MAX_SLOTS; s++)
			if (k->w[s].used)
				report_drops_locked(k, s);
		k->passes++;
		pthread_cond_broadcast(&k->cv);
		pthread_mutex_unlock(&k->mu);
	}
	return NULL;
}

/* ---- API ----------------------------------------------------------------- */

int petri__kaudit_no_min_btf;

int petri__bpf_min_btf_fd(const unsigned char *btf, size_t btf_len, const unsigned char *notes,
			  size_t notes_len)
{
	unsigned char now[4096];
	size_t n = 0;
	ssize_t r;

	if (!btf_len || !notes_len)
		return -1;
	int fd = open("/sys/kernel/notes", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (n < sizeof(now) && (r = read(fd, now + n, sizeof(now) - n)) > 0)
		n += (size_t)r;
	close(fd);
	if (n != notes_len || memcmp(now, notes, n) != 0)
		return -1;
	int m = memfd_create("petri-bpf-btf", MFD_CLOEXEC);
	if (m < 0)
		return -1;
	if (petri__write_all(m, btf, btf_len) < 0) {
		close(m);
		return -1;
	}
	return m;
}

/* The minimal BTF of this object (petri_audit_btf.h), see above. */
static int min_btf_fd(void)
{
	if (petri__kaudit_no_min_btf)
		return -1;
	return petri__bpf_min_btf_fd(petri_min_btf, petri_min_btf_len, petri_min_btf_notes,
				     petri_min_btf_notes_len);
}

int petri__kaudit_open(struct petri_kaudit **out, petri_error **err)
{
	return petri__kaudit_open_sized(out, 0, err);
}

int petri__kaudit_open_sized(struct petri_kaudit **out, uint32_t ringbuf_bytes, petri_error **err)
{
	struct petri_kaudit *k = calloc(1, sizeof(*k));
	int r;

	if (!k)
		return petri__err(err, ENOMEM, "kernel audit: out of memory");
	k->kick_fd = -1;
	pthread_mutex_init(&k->mu, NULL);
	pthread_mutex_init(&k->sys_mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	k->mono_to_real = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	FILE *f = fopen("/proc/sys/kernel/overflowuid", "re");
	unsigned ou;
	if (f) {
		if (fscanf(f, "%u", &ou) == 1)
			overflow_uid = ou;
		fclose(f);
	}

	petri__bpf_capture_begin();
	char btf_path[64] = "";
	int btf_fd = min_btf_fd();
	if (btf_fd >= 0)
		snprintf(btf_path, sizeof(btf_path), "/proc/self/fd/%d", btf_fd);
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = btf_fd >= 0 ? btf_path : NULL);
	k->skel = petri_audit_bpf__open_opts(&oo);
	if (!k->skel) {
		r = -errno;
		if (btf_fd >= 0)
			close(btf_fd);
		petri__bpf_capture_end();
		petri__kaudit_close(k);
		return petri__err(err, -r, "kernel audit off: opening the BPF object: %s",
				  libbpf_last[0] ? libbpf_last : strerror(-r));
	}
	/* The socket hooks are attached per sandbox (petri__kaudit_watch). */
	struct bpf_program *cg[] = {k->skel->progs.petri_connect4, k->skel->progs.petri_connect6,
				    k->skel->progs.petri_sendmsg4, k->skel->progs.petri_sendmsg6,
				    k->skel->progs.petri_bind4,    k->skel->progs.petri_bind6};
	for (size_t i = 0; i < sizeof(cg) / sizeof(cg[0]); i++)
		bpf_program__set_autoattach(cg[i], false);
	/* ... and the syscall programs while a sandbox is (sys_attach). */
	bpf_program__set_autoattach(k->skel->progs.petri_sys_enter, false);
	bpf_program__set_autoattach(k->skel->progs.petri_sys_exit, false);
	r = ringbuf_bytes ? bpf_map__set_max_entries(k->skel->maps.events, ringbuf_bytes) : 0;
	/* The programs wake the consumer once 1/64 of the ring (128 KiB, ~850
	 * file records) is used: often enough that it converts a burst on the
	 * other CPU while the burst runs instead of draining it afterwards (a
	 * quarter left ~13k records for after a 20k-open run), rarely enough
	 * that wake-ups cost nothing (never more often than every 16 KiB: a
	 * ring smaller than that, a test's, is drained by the consumer's poll). */
	uint64_t wake = bpf_map__max_entries(k->skel->maps.events) / 64;
	k->skel->rodata->wake_bytes = wake > 16384 ? wake : 16384;
	if (!r)
		r = petri_audit_bpf__load(k->skel);
	if (btf_fd >= 0)
		close(btf_fd);
	if (!r)
		r = petri_audit_bpf__attach(k->skel);
	petri__bpf_capture_end();
	if (r) {
		r = r < 0 ? r : -EINVAL;
		int e = -r == EPERM || -r == EACCES ? EPERM : -r == EINVAL ? EOPNOTSUPP : -r;
		petri__kaudit_close(k);
		return petri__err(
			err, e,
			"kernel audit off: loading the BPF programs failed (%s)%s%s "
			"(needs root or CAP_BPF+CAP_PERFMON, BTF and raw tracepoint support)",
			strerror(-r), libbpf_last[0] ? ": " : "", libbpf_last);
	}
	k->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (k->kick_fd < 0) {
		r = -errno;
		petri__kaudit_close(k);
		return petri__err(err, -r, "kernel audit off: eventfd: %s", strerror(-r));
	}
	k->rb = ring_buffer__new(bpf_map__fd(k->skel->maps.events), handle_record, k, NULL);
	if (!k->rb) {
		r = -errno;
		petri__kaudit_close(k);
		return petri__err(err, -r, "kernel audit off: ring buffer: %s", strerror(-r));
	}
	r = pthread_create(&k->thread, NULL, consumer, k);
	if (r) {
		petri__kaudit_close(k);
		return petri__err(err, r, "kernel audit off: consumer thread: %s", strerror(r));
	}
	k->thread_started = 1;
	*out = k;
	return 0;
}

/* Rebuild the kernel's prefilter of watched cgroup ids (watch_bits) from
 * the slots in use.  Each word is stored whole, so a program sees either
 * the old or the new word. */
static void update_watch_bits_locked(struct petri_kaudit *k)
{
	uint64_t bits[PETRI_KEV_WATCH_WORDS] = {0};

	for (int s = 0; s < PETRI_KEV_MAX_SLOTS; s++) {
		uint64_t id = k->w[s].cgroup_id;
		if (k->w[s].used)
			bits[(id >> 6) & (PETRI_KEV_WATCH_WORDS - 1)] |= 1ull << (id & 63);
	}
	for (int i = 0; i < PETRI_KEV_WATCH_WORDS; i++)
		__atomic_store_n(&k->skel->bss->watch_bits[i], bits[i], __ATOMIC_RELEASE);
}

static int find_slot_locked(struct petri_kaudit *k, uint64_t cgroup_id)
{
	for (int s = 0; s < PETRI_KEV_MAX_SLOTS; s++)
		if (k->w[s].used && k->w[s].cgroup_id == cgroup_id)
			return s;
	return -1;
}

static void detach_links(struct kwatch *w)
{
	for (size_t i = 0; i < sizeof(w->links) / sizeof(w->links[0]); i++) {
		bpf_link__destroy(w->links[i]);
		w->links[i] = NULL;
	}
}

/* One more (@delta 1) or one fewer (-1) watched sandbox: attach the
 * syscall programs for the first, detach them after the last. */
static int sys_attach(struct petri_kaudit *k, int delta, petri_error **err)
{
	struct bpf_program *p[2] = {k->skel->progs.petri_sys_enter, k->skel->progs.petri_sys_exit};
	int r = 0;

	pthread_mutex_lock(&k->sys_mu);
	if (delta > 0 && k->sys_users == 0) {
		for (int i = 0; i < 2 && !r; i++) {
			k->sys_links[i] = bpf_program__attach(p[i]);
			if (!k->sys_links[i])
				r = petri__err(err, errno ? errno : EINVAL,
					       "kernel audit watch: attaching %s: %s",
					       bpf_program__name(p[i]), strerror(errno));
		}
	}
	if (r == 0)
		k->sys_users += delta;
	if (r < 0 || k->sys_users == 0) {
		for (int i = 0; i < 2; i++) {
			bpf_link__destroy(k->sys_links[i]);
			k->sys_links[i] = NULL;
		}
	}
	pthread_mutex_unlock(&k->sys_mu);
	return r;
}

int petri__kaudit_watch(struct petri_kaudit *k, uint64_t cgroup_id, int cgroup_dirfd,
			struct petri_audit *audit, const char *sandbox_id,
			const struct petri_kaudit_sandbox *sb, petri_error **err)
{
	if (!k || !audit || !cgroup_id)
		return petri__err(err, EINVAL, "kernel audit watch: bad arguments");

	char *id = strdup(sandbox_id ? sandbox_id : "");
	if (!id)
		return petri__err(err, ENOMEM, "kernel audit watch: out of memory");

	pthread_mutex_lock(&k->mu);
	int s = find_slot_locked(k, cgroup_id);
	if (s >= 0) {
		pthread_mutex_unlock(&k->mu);
		free(id);
		return petri__err(err, EEXIST, "kernel audit watch: cgroup %llu already watched",
				  (unsigned long long)cgroup_id);
	}
	for (s = 0; s < PETRI_KEV_MAX_SLOTS && k->w[s].used; s++)
		;
	if (s == PETRI_KEV_MAX_SLOTS) {
		pthread_mutex_unlock(&k->mu);
		free(id);
		return petri__err(err, ENOSPC, "kernel audit watch: %d sandboxes already watched",
				  PETRI_KEV_MAX_SLOTS);
	}
	struct kwatch *w = &k->w[s];

	memset(w, 0, sizeof(*w));
	w->used = 1;
	w->gen = ++k->next_gen;
	w->cgroup_id = cgroup_id;
	w->audit = audit;
	w->sandbox_id = id;
	if (sb) {
		w->has_sb = 1;
		w->sb = *sb;
	}
	/* Fresh counters for the slot: nothing in the kernel uses it now. */
	memset(k->skel->bss->drops[s], 0, sizeof(k->skel->bss->drops[s]));
	__atomic_store_n(&k->skel->bss->kseq[s], 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&k->mu);

	struct bpf_program *cg[] = {k->skel->progs.petri_connect4, k->skel->progs.petri_connect6,
				    k->skel->progs.petri_sendmsg4, k->skel->progs.petri_sendmsg6,
				    k->skel->progs.petri_bind4,    k->skel->progs.petri_bind6};
	int r = sys_attach(k, 1, err);
	int sys_counted = r == 0;

	if (!r && cgroup_dirfd >= 0) {
		for (size_t i = 0; i < sizeof(cg) / sizeof(cg[0]); i++) {
			w->links[i] = bpf_program__attach_cgroup(cg[i], cgroup_dirfd);
			if (!w->links[i]) {
				r = -errno;
				petri__err(err, -r,
					   "kernel audit watch: attaching %s to the cgroup: %s",
					   bpf_program__name(cg[i]), strerror(-r));
				break;
			}
		}
	}
	if (!r) {
		struct petri_kev_watch v = {
			.slot = (uint32_t)s,
			.gen = w->gen,
			.exec_level = sb ? sb->init_pidns_level + 1 : 0,
		};

		if (bpf_map_update_elem(bpf_map__fd(k->skel->maps.watched), &cgroup_id, &v,
					BPF_NOEXIST)) {
			r = -errno;
			petri__err(err, -r, "kernel audit watch: map update: %s", strerror(-r));
		} else {
			pthread_mutex_lock(&k->mu);
			update_watch_bits_locked(k);
			pthread_mutex_unlock(&k->mu);
		}
	}
	if (r) {
		detach_links(w);
		if (sys_counted)
			sys_attach(k, -1, NULL);
		pthread_mutex_lock(&k->mu);
		free(w->sandbox_id);
		memset(w, 0, sizeof(*w));
		pthread_mutex_unlock(&k->mu);
	}
	return r;
}

/* Have the consumer drain the ring buffer twice from now (the first pass
 * may have begun before the call), and wait for it: without end when
 * @max_ms is 0, else at most that long. */
static void drain_locked(struct petri_kaudit *k, unsigned max_ms)
{
	uint64_t target = k->passes + 2;
	if (k->want_passes < target)
		k->want_passes = target;
	uint64_t one = 1;
	if (write(k->kick_fd, &one, sizeof(one)) < 0) {
		/* the consumer still comes by within POLL_MS */
	}
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += max_ms / 1000;
	dl.tv_nsec += (long)(max_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	while (k->thread_started && !atomic_load(&k->stop) && k->passes < target) {
		if (!max_ms)
			pthread_cond_wait(&k->cv, &k->mu);
		else if (pthread_cond_timedwait(&k->cv, &k->mu, &dl) == ETIMEDOUT)
			break;
	}
}

/* Bounded: behind a stalled sink the consumer waits for queue room (once
 * per stall, up to EMIT_WAIT_MS); an exec's end never waits longer than
 * this for its kernel events, it comes out of order rather than late. */
#define SYNC_MAX_MS 1000

void petri__kaudit_sync(struct petri_kaudit *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->mu);
	drain_locked(k, SYNC_MAX_MS);
	pthread_mutex_unlock(&k->mu);
}

int petri__kaudit_unwatch(struct petri_kaudit *k, uint64_t cgroup_id)
{
	if (!k)
		return -EINVAL;
	pthread_mutex_lock(&k->mu);
	int s = find_slot_locked(k, cgroup_id);
	pthread_mutex_unlock(&k->mu);
	if (s < 0)
		return -ENOENT;
	struct kwatch *w = &k->w[s];

	bpf_map_delete_elem(bpf_map__fd(k->skel->maps.watched), &cgroup_id);
	detach_links(w);

	/* Records already in the ring buffer are delivered by the consumer:
	 * wait until it has drained the buffer twice after the delete (a
	 * program that looked the map up just before may still submit). */
	pthread_mutex_lock(&k->mu);
	drain_locked(k, 0);
	report_drops_locked(k, s);
	free(w->sandbox_id);
	memset(w, 0, sizeof(*w));
	update_watch_bits_locked(k);
	pthread_mutex_unlock(&k->mu);
	sys_attach(k, -1, NULL);
	return 0;
}

/* Note the beginning (@end 0) or the end of exec @serial, now. */
static void exec_mark(struct petri_kaudit *k, uint64_t cgroup_id, uint64_t serial, int end)
{
	if (!k || !serial)
		return;
	uint64_t now = (uint64_t)clock_ns(CLOCK_MONOTONIC);

	pthread_mutex_lock(&k->mu);
	int s = find_slot_locked(k, cgroup_id);
	if (s >= 0) {
		struct kexec *e = &k->w[s].execs[serial % EXEC_LOG];

		if (!end) {
			*e = (struct kexec){.serial = serial, .begin = now, .end = UINT64_MAX};
			if (serial > k->w[s].max_begun)
				k->w[s].max_begun = serial;
		} else if (e->serial == serial) {
			e->end = now;
		}
	}
	pthread_mutex_unlock(&k->mu);
}

void petri__kaudit_exec_begin(struct petri_kaudit *k, uint64_t cgroup_id, uint64_t serial)
{
	exec_mark(k, cgroup_id, serial, 0);
}

void petri__kaudit_exec_end(struct petri_kaudit *k, uint64_t cgroup_id, uint64_t serial)
{
	exec_mark(k, cgroup_id, serial, 1);
}

uint64_t petri__kaudit_lost(struct petri_kaudit *k)
{
	uint64_t n;

	pthread_mutex_lock(&k->mu);
	n = k->lost_total;
	pthread_mutex_unlock(&k->mu);
	return n;
}

void petri__kaudit_close(struct petri_kaudit *k)
{
	if (!k)
		return;
	for (int s = 0; s < PETRI_KEV_MAX_SLOTS; s++)
		if (k->w[s].used)
			petri__kaudit_unwatch(k, k->w[s].cgroup_id);
	if (k->thread_started) {
		uint64_t one = 1;
		atomic_store(&k->stop, 1);
		/* Wake it now rather than at its next poll (up to POLL_MS: that
		 * was ~50 ms of every `petri run --audit`). */
		if (write(k->kick_fd, &one, sizeof(one)) < 0) {
			/* it still stops within POLL_MS */
		}
		pthread_join(k->thread, NULL);
	}
	ring_buffer__free(k->rb);
	if (k->kick_fd >= 0)
		close(k->kick_fd);
	for (int i = 0; i < 2; i++)
		bpf_link__destroy(k->sys_links[i]);
	petri_audit_bpf__destroy(k->skel);
	pthread_cond_destroy(&k->cv);
	pthread_mutex_destroy(&k->mu);
	pthread_mutex_destroy(&k->sys_mu);
	free(k);
}
