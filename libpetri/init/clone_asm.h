/* SPDX-License-Identifier: Apache-2.0 */
/*
 * clone_asm.h - the x86_64 instructions around a clone(2)/clone3(2) syscall
 * whose child runs a C function on a stack of its own: in the child (rax is
 * 0) call fn(arg) and exit(2) with its return value; the parent goes on at
 * label 1.  After the syscall the child has every register but rax, rcx and
 * r11, so %[fn] and %[arg] must be "r" operands, and the asm must list
 * rcx, r11 and memory as clobbered and provide [nr_exit] "i"(SYS_exit).
 * Used by the supervisor (clone3, sandbox.c) and by petri-init's clone()
 * (init_rt.c), where libc offers no such call.
 */
#ifndef PETRI_CLONE_ASM_H
#define PETRI_CLONE_ASM_H

#define PETRI_CLONE_RUN_ASM                                                                        \
	"syscall\n\t"                                                                              \
	"test %%rax, %%rax\n\t"                                                                    \
	"jnz 1f\n\t"                                                                               \
	"mov %[arg], %%rdi\n\t"                                                                    \
	"mov %[fn], %%rcx\n\t"                                                                     \
	"xor %%ebp, %%ebp\n\t" /* after reading the operands: one may be rbp */                    \
	"call *%%rcx\n\t"                                                                          \
	"mov %%eax, %%edi\n\t"                                                                     \
	"mov %[nr_exit], %%eax\n\t"                                                                \
	"syscall\n\t"                                                                              \
	"hlt\n"                                                                                    \
	"1:"

#endif
