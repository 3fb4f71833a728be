/* SPDX-License-Identifier: Apache-2.0 OR GPL-2.0-only */
/*
 * petri_unix_guard.bpf.c - the kernel backstop against host unix sockets
 * (loaded and attached by libpetri/unix_guard.c).
 *
 * A sandbox whose filesystem can hold host sockets (a writable bind, a
 * workspace directory, a custom root) has its code's connect() brokered by
 * the exec's reaper (USER_NOTIF), which lets a connect the kernel should
 * simply run go on with SECCOMP_USER_NOTIF_FLAG_CONTINUE.  Between that
 * check and the kernel's own copy of the address the code can change the
 * address in its memory; these two programs see the kernel's copy, after
 * the copy, and refuse (the syscall fails with EPERM) every *pathname*
 * unix address given by a task under seccomp.  The sandbox's code always
 * runs under the sandbox's filter and cannot drop it; init, the reaper and
 * the reaper's broker children have no filter and pass, as do abstract
 * addresses (sun_path[0] == 0), which the network namespace confines.
 *
 * Attached to the sandbox's cgroup (BPF_F_ALLOW_MULTI) for
 * BPF_CGROUP_UNIX_CONNECT (connect(2) of stream, seqpacket and datagram
 * sockets) and BPF_CGROUP_UNIX_SENDMSG (sendto/sendmsg with an address on
 * a datagram socket), both Linux 6.7+.  The sections are the inet ones
 * because libbpf before 1.3 does not know cgroup/connect_unix: the loader
 * sets the expected attach type before the load.
 *
 * The context is the kernel's struct bpf_sock_addr_kern (its sockaddr is
 * the kernel's copy, uaddrlen its length).  It is read with CO-RE probe
 * reads instead of through bpf_cast_to_kern_ctx(): that kfunc makes libbpf
 * parse the whole vmlinux BTF at every load (~20 ms instead of ~0.5 ms
 * with the build's minimal BTF, audit/bpf/gen_min_btf.cmake).
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* 1: let the kernel go on; 0: refuse with EPERM.  A read that fails
 * refuses (for a task under seccomp). */
static __always_inline int allowed(struct bpf_sock_addr *ctx)
{
	struct bpf_sock_addr_kern *k = (struct bpf_sock_addr_kern *)ctx;
	struct task_struct *t = bpf_get_current_task_btf();
	struct sockaddr_un *sun = NULL;
	__u32 len = 0;
	char c0 = 0;

	if (t->seccomp.mode == 0)
		return 1;
	if (bpf_probe_read_kernel(&len, sizeof(len), &k->uaddrlen))
		return 0;
	/* The kernel validated the address before the hook (longer than
	 * sun_family); one of the family alone would be unnamed. */
	if (len <= sizeof(sun->sun_family))
		return 1;
	if (bpf_probe_read_kernel(&sun, sizeof(sun), &k->uaddr) ||
	    bpf_probe_read_kernel(&c0, sizeof(c0), &sun->sun_path[0]))
		return 0;
	return c0 == 0; /* abstract */
}

SEC("cgroup/connect4")
int petri_unix_connect(struct bpf_sock_addr *ctx)
{
	return allowed(ctx);
}

SEC("cgroup/sendmsg4")
int petri_unix_sendmsg(struct bpf_sock_addr *ctx)
{
	return allowed(ctx);
}
