/* SPDX-License-Identifier: Apache-2.0 */
/*
 * petri_events.h - the records the kernel half of the audit layer
 * (petri_audit.bpf.c) puts in its ring buffer, shared with the userspace
 * consumer (libpetri/audit_bpf.c).  Fixed-width fields, explicit padding,
 * every struct a multiple of 8 bytes, so both compilers lay them out alike.
 */
#ifndef PETRI_EVENTS_H
#define PETRI_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define PETRI_KEV_MAX_SLOTS 64 /* sandboxes watched at once */
#define PETRI_KEV_NKINDS 8     /* drop counters per slot, indexed by PETRI_KEV_* */
#define PETRI_KEV_COMM 16
#define PETRI_KEV_FILENAME 256   /* exec filename */
#define PETRI_KEV_ARGS 2048      /* argv bytes (NUL-separated) */
#define PETRI_KEV_NAME 256       /* one path component (NAME_MAX + NUL) */
#define PETRI_KEV_PATH 2048      /* path bytes; the buffer has PETRI_KEV_NAME slack */
#define PETRI_KEV_UPATH 4096     /* a path read from user memory (PATH_MAX) */
#define PETRI_KEV_MAX_DEPTH 40   /* dentry components walked */
#define PETRI_KEV_WATCH_WORDS 64 /* watch_bits: a 4096-bit filter of watched cgroup ids */

/* Record types; also the index of the drop counter. */
#define PETRI_KEV_EXEC 1
#define PETRI_KEV_FORK 2
#define PETRI_KEV_EXIT 3
#define PETRI_KEV_FILE 4
#define PETRI_KEV_NET 5

/* File operations (values of petri.audit.v1.FileActivity.Op). */
#define PETRI_KEV_F_OPEN 1
#define PETRI_KEV_F_CREATE 2
#define PETRI_KEV_F_UNLINK 3
#define PETRI_KEV_F_RENAME 4
#define PETRI_KEV_F_MKDIR 5
#define PETRI_KEV_F_RMDIR 6
#define PETRI_KEV_F_CHMOD 7
#define PETRI_KEV_F_CHOWN 8
#define PETRI_KEV_F_TRUNCATE 9
#define PETRI_KEV_F_LINK 10
#define PETRI_KEV_F_SYMLINK 11
#define PETRI_KEV_F_MKNOD 12
#define PETRI_KEV_F_SET_TIMES 13

/* Path layouts. */
#define PETRI_KEV_PATH_NONE 0
#define PETRI_KEV_PATH_KERNEL 1 /* components leaf first, each NUL-terminated */
#define PETRI_KEV_PATH_USER 2   /* one NUL-terminated string from user memory */

/* Network operations (values of petri.audit.v1.NetworkActivity.Op). */
#define PETRI_KEV_N_CONNECT 1
#define PETRI_KEV_N_BIND 2
#define PETRI_KEV_N_LISTEN 3
#define PETRI_KEV_N_ACCEPT 4
#define PETRI_KEV_N_SENDTO 5
#define PETRI_KEV_N_SENDMSG 6

#define PETRI_KEV_UNIX_PATH 108 /* sizeof(sun_path) */

/* Which argument of an audited syscall holds what (-1: none); op and net
 * 0: not audited (the programs' .rodata table sc_table). */
struct petri_kev_sc {
	__s8 op, path, path2, flags, mode, fd, uid, gid; /* op: PETRI_KEV_F_* */
	__u8 net; /* PETRI_KEV_N_*: listen/accept, or 0xff: a call whose cgroup hook
		   * left a record in `net_pending` (connect, bind, sendto, sendmsg) */
	/* Directory a relative path / path2 is resolved against: the index of
	 * a dirfd argument (AT_FDCWD: the cwd), PETRI_KEV_DIR_CWD (a call
	 * without one: the cwd) or PETRI_KEV_DIR_NONE (not a path lookup:
	 * symlink's target). */
	__s8 dir, dir2;
	__u8 pad;
};

#define PETRI_KEV_DIR_CWD -1
#define PETRI_KEV_DIR_NONE -2

/* The value of the `watched` map (key: cgroup v2 id). */
struct petri_kev_watch {
	__u32 slot;
	__u32 gen; /* bumped per watch, so stale records of a reused slot are dropped */
	/* Level of the pid namespaces of the sandbox's execs (each exec runs
	 * under its own reaper in a pid namespace nested in the sandbox's):
	 * records carry the inum of the task's ancestor namespace at that
	 * level, 0 for a task above it (init).  0: not known, none recorded. */
	__u32 exec_level;
	__u32 pad;
};

/* Per (slot, kind) loss accounting, in the object's .bss (mmap'ed). */
struct petri_kev_drop {
	__u64 count;      /* records that found the ring buffer full */
	__u64 first_kseq; /* first kseq lost since userspace last reset it (0: none) */
	__u64 last_kseq;  /* last kseq lost */
};

struct petri_kev_hdr {
	__u32 type; /* PETRI_KEV_* */
	__u32 slot;
	__u32 gen;
	__u32 pid_host; /* tgid in the initial pid namespace */
	__u64 kseq;     /* per slot, from 1; a gap means lost records */
	__u64 ktime_ns; /* CLOCK_MONOTONIC */
	__u32 tid_host;
	__u32 pid_inside; /* tgid in the task's own pid namespace */
	__u32 ppid_inside;
	__u32 uid;     /* kernel (host) uid: userspace maps it into the sandbox's user ns */
	__u32 exec_ns; /* inum of the task's pid namespace at the watch's exec_level, or 0 */
	__u32 pad;
	char comm[PETRI_KEV_COMM];
};

struct petri_kev_exec {
	struct petri_kev_hdr h;
	__u32 args_len; /* bytes of args used */
	__u32 args_truncated;
	__u32 cwd_ncomp; /* cwd components (leaf first) in cwd, 0: unknown */
	__u32 cwd_truncated;
	__u32 filename_truncated; /* bprm->filename did not fit in filename */
	__u32 exe_ncomp;          /* components of exe (leaf first), 0: unknown */
	__u32 exe_truncated;
	__u32 pad0;
	char filename[PETRI_KEV_FILENAME];
	char args[PETRI_KEV_ARGS];
	char cwd[PETRI_KEV_PATH + PETRI_KEV_NAME];
	/* The new image's own file (bprm->file), walked from its dentry. */
	char exe[PETRI_KEV_PATH + PETRI_KEV_NAME];
};

struct petri_kev_fork {
	struct petri_kev_hdr h;
	__u32 child_pid_host;
	__u32 child_tid_host;
	__u32 child_pid_inside;
	__u32 is_thread;
};

struct petri_kev_exit {
	struct petri_kev_hdr h;
	__u32 exit_code; /* task->exit_code (wait status) */
	__u32 group_dead;
};

/* Variable size: the ring buffer holds the fixed part and path_len +
 * path2_len + dir_len + dir2_len bytes of data (path, path2, then the
 * directories a relative path / path2 from user memory was looked up
 * from, each PETRI_KEV_PATH_KERNEL, right after one another). */
/* Bounds of each part of a file record's data (the verifier checks each
 * write against them). */
#define PETRI_KEV_DIR_MAX (PETRI_KEV_PATH + PETRI_KEV_NAME)
#define PETRI_KEV_PATH1_MAX PETRI_KEV_UPATH /* > PETRI_KEV_DIR_MAX: either layout */
#define PETRI_KEV_FILE_DATA (PETRI_KEV_PATH1_MAX + PETRI_KEV_UPATH + 2 * PETRI_KEV_DIR_MAX)

struct petri_kev_file {
	struct petri_kev_hdr h;
	__u32 op; /* PETRI_KEV_F_* */
	__u32 syscall_nr;
	__s32 result;
	__u32 flags;
	__u32 mode;
	__u32 uid;
	__u32 gid;
	__u32 path_layout; /* PETRI_KEV_PATH_* */
	__u32 path_ncomp;
	__u32 path_truncated;
	__u32 path2_layout;
	__u32 path_len;  /* bytes of data holding the path */
	__u32 path2_len; /* bytes of data after it holding path2 */
	__u32 path2_truncated;
	__u32 raced;     /* PETRI_KEV_RACED_*: user memory changed during the call */
	__u32 dir_known; /* PETRI_KEV_DIR_KNOWN_*: dir / dir2 were resolved */
	__u32 pad1;
	__u32 dir_len, dir_ncomp, dir_truncated;
	__u32 dir2_len, dir2_ncomp, dir2_truncated;
	char data[PETRI_KEV_FILE_DATA];
};

#define PETRI_KEV_RACED_PATH 1
#define PETRI_KEV_RACED_PATH2 2
#define PETRI_KEV_DIR_KNOWN_1 1
#define PETRI_KEV_DIR_KNOWN_2 2

/* A network operation.  connect/bind/sendto/sendmsg: the address is the
 * kernel's copy the cgroup socket hook saw; the record waits in
 * `net_pending` until the call's sys_exit adds its result (syscall_nr set,
 * from_hook 1).  listen/accept/accept4 at sys_exit: the socket's own
 * addresses read from its struct sock after the call (unix sockets: the
 * sun_path of struct unix_sock's address), and its result.  syscall_nr 0:
 * a hook record whose call's exit was not seen (sendmmsg), result 0.
 * A connect/bind/sendto/sendmsg no hook saw (a unix socket, a send without
 * an address, a call that failed before the hook) is built at sys_exit:
 * the address from the socket's struct sock (bind, connect that worked; a
 * send without an address: the connected peer), else from the caller's
 * sockaddr (from_user). */
struct petri_kev_net {
	struct petri_kev_hdr h;
	__u32 op; /* PETRI_KEV_N_* */
	__u32 family;
	__u32 protocol;
	__u32 sock_type;
	__u32 port;       /* host byte order: the peer's, or the local one (bind, listen) */
	__u32 local_port; /* host byte order, with has_local */
	__s32 result;     /* listen: 0; accept: the new fd; or -errno */
	__u32 syscall_nr; /* 0: a cgroup socket hook */
	__u32 has_addr;   /* addr/port are set */
	__u32 has_local;  /* local_addr/local_port are set */
	__u32 from_hook;  /* the address is the cgroup hook's copy */
	__u32 path_len;   /* AF_UNIX: bytes of path (the peer's, or local for listen) */
	__u32 local_path_len;
	__u32 from_user; /* the address was read from the caller's memory at sys_exit */
	__u8 addr[16];
	__u8 local_addr[16];
	char path[PETRI_KEV_UNIX_PATH]; /* AF_UNIX sun_path bytes ([0] == 0: abstract) */
	char local_path[PETRI_KEV_UNIX_PATH];
};

#endif /* PETRI_EVENTS_H */
