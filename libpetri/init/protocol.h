/* SPDX-License-Identifier: Apache-2.0 */
/*
 * protocol.h - what the host library and a sandbox's init share: init's
 * configuration, the control messages between them, the exec request, and
 * the entry points of init that the host calls.  This is the only header of
 * the library that files on both sides include; it holds nothing that
 * allocates or needs libc beyond its declarations.
 *
 * Data goes one way through it: the host fills struct petri_init_cfg and
 * sends requests; init answers with messages.  init never calls back into
 * the host's objects.
 */
#ifndef PETRI_PROTOCOL_H
#define PETRI_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/filter.h>

#include "petri/petri.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The user and group the code runs as inside, and sizes both sides use. */
#define PETRI_SANDBOX_UID 1000
#define PETRI_SANDBOX_GID 1000
#define PETRI_ID_MAX 48
#define PETRI_MAX_BINDS 64
#define PETRI_PATH_MAX 4096

/* mount_setattr(2) flags both sides use (the host for the idmapped
 * workspace, init for its mounts), named here because <linux/mount.h> and
 * <sys/mount.h> collide on older C libraries. */
#define PETRI_MOUNT_ATTR_RDONLY 0x00000001
#define PETRI_MOUNT_ATTR_NOSUID 0x00000002
#define PETRI_MOUNT_ATTR_NODEV 0x00000004
#define PETRI_MOUNT_ATTR_NOEXEC 0x00000008
#define PETRI_MOUNT_ATTR_IDMAP 0x00100000

/*
 * The default seccomp profile, compiled once with libseccomp into a classic
 * BPF program so that a freshly forked child can install it without
 * allocating (libseccomp allocates; between fork and exec we must not).
 */
struct petri_seccomp_prog {
	struct sock_fprog fprog; /* .filter is malloc'd */
};

/* One bind, parsed on the host. */
struct petri_bind {
	char src[PETRI_PATH_MAX];
	char dst[PETRI_PATH_MAX];
	int rw;
	int sockets; /* 1: a plain bind, host unix sockets in it reachable;
		      * 0 (default): see mounts.c, bind_dir_no_sockets() */
};

/*
 * Everything init needs.  An exec'd init gets it as a memfd holding this
 * struct (pointers zeroed), then nbinds binds, then seccomp_len filter
 * instructions; a forked one reads the host's copy.  Either way init never
 * allocates.
 */
#define PETRI_UNIX_GUARD_HOOKED 1
#define PETRI_UNIX_GUARD_ALONE 2

#define PETRI_INIT_CFG_MAGIC 0x50494e31u
struct petri_init_cfg {
	uint32_t magic;
	uint32_t seccomp_len; /* instructions following the binds (memfd form) */
	int execed;           /* init runs the embedded executable, not a fork */
	char id[PETRI_ID_MAX + 1];
	char hostname[65];
	char rootfs[PETRI_PATH_MAX]; /* "" = host /usr etc. */
	char workspace_dir[PETRI_PATH_MAX];
	struct petri_bind *binds;
	int nbinds;
	uint64_t tmp_bytes;
	uint64_t workspace_bytes;
	uint32_t net;
	uint32_t flags;
	int landlock;
	int host_is_root;
	int sync_fd;  /* read: host says go (uid maps written) */
	int ctl_fd;   /* init's end of the control socket */
	int close_fd; /* host's end, closed in the child */
	int drop_groups;
	const struct petri_seccomp_prog *seccomp;
	int workspace_tree_fd; /* detached idmapped mount of workspace_dir made by the host, or -1 */
	/* Per-user kernel counts (petri_sandbox_opts; defaults applied). */
	uint32_t inotify_instances;
	uint32_t inotify_watches;
	uint32_t sigpending;
	uint64_t msgqueue_bytes;
	/* TenantVault (net/vault.h): a sealed memfd of ca_size bytes, the
	 * sandbox's CA bundle (the host's /etc/ssl/certs/ca-certificates.crt,
	 * then the vault's CA), whose last ca_len bytes are the vault's CA
	 * alone; -1 when the sandbox has no secrets.  init maps it (no
	 * malloc), writes /etc/petri/ca-certificates.crt and vault-ca.pem and
	 * binds the bundle over /etc/ssl/certs/ca-certificates.crt (mounts.c). */
	int ca_fd;
	uint64_t ca_size;
	uint64_t ca_len;
	/* A warm pool's sandbox (it may get PETRI_MSG_RESET): init keeps its
	 * network's counters as they are when it is first ready. */
	int poolable;
	/* Host unix sockets on a writable bind, the workspace directory or a
	 * custom root must stay out of reach (unix_guard.c on the host,
	 * unix_broker.c here): the code's connect(), and sendto() with an
	 * address, are USER_NOTIF, performed on its behalf by a broker the
	 * reaper forks when the socket is the sandbox's own, and a cgroup
	 * hook refuses any pathname unix address from a task under
	 * seccomp.  Set by the host, never for a pooled sandbox:
	 * PETRI_UNIX_GUARD_HOOKED, or PETRI_UNIX_GUARD_ALONE where the host
	 * could not attach the programs (the reaper then also checks the
	 * addresses of sendmsg and sendmmsg). */
	int unix_guard;
};

/* ---- wire protocol (SOCK_SEQPACKET; one struct per message) ---- */

enum petri_msg_type {
	PETRI_MSG_READY = 1,   /* init -> host, with the /workspace fd */
	PETRI_MSG_SETUP_ERROR, /* init -> host */
	PETRI_MSG_EXEC,        /* host -> init, with the request memfd + stdio fds;
				* stage: PETRI_EXEC_STAGE_* bits */
	PETRI_MSG_STARTED,     /* init -> host */
	PETRI_MSG_DONE,        /* init -> host */
	PETRI_MSG_KILL,        /* host -> init */
	PETRI_MSG_DENIAL,      /* reaper -> host: stage = syscall nr, status = pid inside,
				* exec_id = audit arch | PETRI_DENIAL_PID_IN_CREDS,
				* cpu_ns = denials not reported before */
	PETRI_MSG_LISTEN,      /* host -> init, with a reply socket: stage = address
			      * family, status = port, exec_id = PETRI_LISTEN_*
			      * flags; answered on the reply socket by LISTENING
			      * with the fd, or SETUP_ERROR */
	PETRI_MSG_LISTENING,   /* init -> host */
	PETRI_MSG_RESET,       /* host -> init (warm pool recycling, see petri_warm):
				* kill and reap every reaper, fresh writable tmpfs
				* mounts, new IPC and cgroup namespaces, a new boot id,
				* then check that no process but init and no socket is
				* left; answered by READY (with the new /workspace fd)
				* or SETUP_ERROR saying what was found (err EBUSY: not
				* clean) or which step failed.  The host has moved init
				* into its new cgroups before sending it.
				* stage = PETRI_RESET_QUIESCE: only kill and reap the
				* reapers (sent by the destroy itself, so that nothing
				* of the tenant runs on while the reset waits its
				* turn); answered, once they are reaped, by READY with
				* stage PETRI_RESET_QUIESCE and no fd: the destroy
				* stops auditing only then. */
};

#define PETRI_RESET_QUIESCE 1

/* PETRI_MSG_EXEC's stage bits. */
#define PETRI_EXEC_STAGE_LAST 0x1u /* the last exec: prepare no next one */
#define PETRI_EXEC_STAGE_DEFER_WARM                                                                \
	0x2u /* a warm pool's sandbox: fork the next reaper only if no message comes in the
	      * 2 ms after the exec (a destroy that follows would make it reset) */

#define PETRI_STAGE_MSG_MAX 256

/* PETRI_MSG_LISTEN's flags (exec_id): the socket init makes in the
 * sandbox's network namespace is by default TCP, listening, bound to the
 * family's loopback address. */
#define PETRI_LISTEN_UDP 0x1u /* a UDP socket, bound (nothing listens) */
#define PETRI_LISTEN_ANY 0x2u /* bound to the unspecified address (0.0.0.0, ::) */

/* In a DENIAL's exec_id, above the 32-bit audit arch: the message's
 * SCM_CREDENTIALS pid is the denying task (the report channel is a unix
 * socket; the host's end has SO_PASSCRED), translated by the kernel into the
 * receiver's pid namespace. */
#define PETRI_DENIAL_PID_IN_CREDS (1ull << 32)

struct petri_msg {
	uint32_t type;
	uint32_t stage; /* which setup step failed (SETUP_ERROR, DONE) */
	int32_t err;    /* errno of the failure, 0 if none */
	int32_t status; /* wait status of the main process (DONE) */
	uint64_t exec_id;
	uint64_t cpu_ns; /* rusage of the exec's whole process tree */
	uint64_t maxrss; /* bytes */
	char text[PETRI_STAGE_MSG_MAX];
};

/* The exec request, serialised into a memfd: this header, then argc+envc
 * NUL-terminated strings, cwd, then code_len bytes of code. */
struct petri_exec_req {
	uint32_t magic;
	uint32_t argc;
	uint32_t envc;
	uint32_t flags;
	uint64_t code_len;
	uint64_t cpu_s;
	uint64_t fsize;
	uint64_t nofile;
	uint64_t nproc;     /* 0: no RLIMIT_NPROC (cgroup pids in force) */
	char code_name[32]; /* file name for the code under /run/petri, or "" */
};
#define PETRI_EXEC_REQ_MAGIC 0x50455831u

/* ---- entry points of init, called by the host too ---- */

/* init.c */
_Noreturn void petri__init_main(const struct petri_init_cfg *cfg);

/* The init executable (init_main.c), embedded at build time (init_image.S);
 * absent (equal symbols) in a build without it. */
extern const unsigned char petri__init_image[];
extern const unsigned char petri__init_image_end[];

/* Send/receive a message with up to @nfds fds. */
int petri__msg_send(int sock, const struct petri_msg *m, const int *fds, int nfds);
int petri__msg_recv(int sock, struct petri_msg *m, int *fds, int *nfds);
/* The exec's report channel (a SOCK_SEQPACKET socket pair with SO_PASSCRED
 * on the host's end): send @m with SCM_CREDENTIALS naming @pid (a task of
 * the sender's pid namespace, which the kernel translates for the
 * receiver), and receive one message with the credentials' pid in
 * *@cred_pid (0 when none came).  Bytes sent/received, or -errno. */
ssize_t petri__msg_send_cred(int sock, const struct petri_msg *m, int32_t pid);
ssize_t petri__msg_recv_cred(int sock, struct petri_msg *m, uint32_t *cred_pid);
/* Write all @len bytes to @fd, retrying on EINTR.  0 or -errno.
 * Async-signal-safe (used inside init). */
int petri__write_all(int fd, const void *buf, size_t len);

#endif /* PETRI_PROTOCOL_H */
