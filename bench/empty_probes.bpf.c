/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * empty_probes.bpf.c - two raw_tp programs that do nothing, attached to
 * sys_enter and sys_exit by bench/empty_probes: the least any audit built
 * on those hooks (the only ones that see file syscalls on these kernels)
 * can cost a syscall.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("raw_tp/sys_enter")
int empty_enter(void *ctx)
{
	return 0;
}

SEC("raw_tp/sys_exit")
int empty_exit(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
