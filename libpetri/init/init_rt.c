/* SPDX-License-Identifier: Apache-2.0 */
/*
 * init_rt.c - the C runtime of petri-init: its entry point, the relocation
 * of its own static PIE image, and the libc functions init.c, mounts.c,
 * landlock.c and msg.c call, each a raw system call or a few lines of C.
 *
 * Why not glibc: linked statically it costs every sandbox ~0.3 ms before
 * main() (probing CPU features and caches with cpuid, which traps to the
 * hypervisor on a VM) and makes the image ~750 KB, which the library copies
 * into a memfd for each context.  This runtime starts in microseconds and
 * the image is ~40 KB.
 *
 * The declarations are glibc's headers' (the same structs and constants as
 * the library's build of the same files); only the definitions are ours.
 * Single-threaded: errno is a plain variable, shared with the CLONE_VM
 * children, which only run while their parent waits.  Built with
 * -ffreestanding (so the compiler does not turn the loops below into calls
 * to themselves) and without stack protector (there is no TLS for its
 * canary).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clone_asm.h"

#if !defined(__x86_64__)
#error "petri-init's runtime is written for x86_64 (CMakeLists.txt builds it only there)"
#endif

int main(int argc, char **argv);

static int rt_errno;

int *__errno_location(void)
{
	return &rt_errno;
}

/* ---- system calls ---- */

static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

static long ret_errno(long r)
{
	if (r < 0 && r > -4096) {
		rt_errno = (int)-r;
		return -1;
	}
	return r;
}

#define SC(n, a, b, c, d, e, f)                                                                    \
	ret_errno(sys6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f)))

long syscall(long n, ...)
{
	va_list ap;
	long a[6];
	va_start(ap, n);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	return SC(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}

_Noreturn void _exit(int status)
{
	for (;;)
		sys6(SYS_exit_group, status, 0, 0, 0, 0, 0);
}

/* The mode argument exists only with O_CREAT or O_TMPFILE. */
#define OPEN_MODE(flags, last)                                                                     \
	({                                                                                         \
		mode_t mode_ = 0;                                                                  \
		if ((flags) & (O_CREAT | __O_TMPFILE)) {                                           \
			va_list ap_;                                                               \
			va_start(ap_, last);                                                       \
			mode_ = va_arg(ap_, mode_t);                                               \
			va_end(ap_);                                                               \
		}                                                                                  \
		mode_;                                                                             \
	})

int open(const char *path, int flags, ...)
{
	return (int)SC(SYS_openat, AT_FDCWD, path, flags, OPEN_MODE(flags, flags), 0, 0);
}

int openat(int dfd, const char *path, int flags, ...)
{
	return (int)SC(SYS_openat, dfd, path, flags, OPEN_MODE(flags, flags), 0, 0);
}

ssize_t read(int fd, void *buf, size_t n)
{
	return SC(SYS_read, fd, buf, n, 0, 0, 0);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	return SC(SYS_write, fd, buf, n, 0, 0, 0);
}

int close(int fd)
{
	return (int)SC(SYS_close, fd, 0, 0, 0, 0, 0);
}

int dup2(int from, int to)
{
	return (int)SC(SYS_dup2, from, to, 0, 0, 0, 0);
}

int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	long arg = va_arg(ap, long);
	va_end(ap);
	return (int)SC(SYS_fcntl, fd, cmd, arg, 0, 0, 0);
}

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	long arg = va_arg(ap, long);
	va_end(ap);
	return (int)SC(SYS_ioctl, fd, req, arg, 0, 0, 0);
}

int fstat(int fd, struct stat *st)
{
	return (int)SC(SYS_fstat, fd, st, 0, 0, 0, 0);
}

int stat(const char *restrict path, struct stat *restrict st)
{
	return (int)SC(SYS_newfstatat, AT_FDCWD, path, st, 0, 0, 0);
}

int fstatat(int dfd, const char *restrict path, struct stat *restrict st, int flags)
{
	return (int)SC(SYS_newfstatat, dfd, path, st, flags, 0, 0);
}

int access(const char *path, int mode)
{
	return (int)SC(SYS_faccessat, AT_FDCWD, path, mode, 0, 0, 0);
}

int chdir(const char *path)
{
	return (int)SC(SYS_chdir, path, 0, 0, 0, 0, 0);
}

int mkdir(const char *path, mode_t mode)
{
	return (int)SC(SYS_mkdirat, AT_FDCWD, path, mode, 0, 0, 0);
}

int rmdir(const char *path)
{
	return (int)SC(SYS_unlinkat, AT_FDCWD, path, AT_REMOVEDIR, 0, 0, 0);
}

int symlink(const char *target, const char *path)
{
	return (int)SC(SYS_symlinkat, target, AT_FDCWD, path, 0, 0, 0);
}

ssize_t readlinkat(int dfd, const char *restrict path, char *restrict buf, size_t len)
{
	return SC(SYS_readlinkat, dfd, path, buf, len, 0, 0);
}

int mount(const char *src, const char *dst, const char *type, unsigned long flags, const void *data)
{
	return (int)SC(SYS_mount, src, dst, type, flags, data, 0);
}

int umount2(const char *target, int flags)
{
	return (int)SC(SYS_umount2, target, flags, 0, 0, 0, 0);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long r = sys6(SYS_mmap, (long)addr, (long)len, prot, flags, fd, off);
	if (r < 0 && r > -4096) {
		rt_errno = (int)-r;
		return MAP_FAILED;
	}
	return (void *)r;
}

int munmap(void *addr, size_t len)
{
	return (int)SC(SYS_munmap, addr, len, 0, 0, 0, 0);
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	return (int)SC(SYS_poll, fds, n, timeout, 0, 0, 0);
}

int prctl(int option, ...)
{
	va_list ap;
	unsigned long a[4];
	va_start(ap, option);
	for (int i = 0; i < 4; i++)
		a[i] = va_arg(ap, unsigned long);
	va_end(ap);
	return (int)SC(SYS_prctl, option, a[0], a[1], a[2], a[3], 0);
}

int pipe2(int fds[2], int flags)
{
	return (int)SC(SYS_pipe2, fds, flags, 0, 0, 0, 0);
}

int socket(int domain, int type, int proto)
{
	return (int)SC(SYS_socket, domain, type, proto, 0, 0, 0);
}

int socketpair(int domain, int type, int proto, int sv[2])
{
	return (int)SC(SYS_socketpair, domain, type, proto, sv, 0, 0);
}

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	return (int)SC(SYS_bind, fd, addr, len, 0, 0, 0);
}

int listen(int fd, int backlog)
{
	return (int)SC(SYS_listen, fd, backlog, 0, 0, 0, 0);
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	return (int)SC(SYS_setsockopt, fd, level, name, val, len, 0);
}

ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	return SC(SYS_sendmsg, fd, m, flags, 0, 0, 0);
}

ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	return SC(SYS_recvmsg, fd, m, flags, 0, 0, 0);
}

int sethostname(const char *name, size_t len)
{
	return (int)SC(SYS_sethostname, name, len, 0, 0, 0, 0);
}

int setdomainname(const char *name, size_t len)
{
	return (int)SC(SYS_setdomainname, name, len, 0, 0, 0, 0);
}

pid_t setsid(void)
{
	return (pid_t)SC(SYS_setsid, 0, 0, 0, 0, 0, 0);
}

int getrlimit(__rlimit_resource_t res, struct rlimit *rl)
{
	return (int)SC(SYS_prlimit64, 0, res, NULL, rl, 0, 0);
}

int setrlimit(__rlimit_resource_t res, const struct rlimit *rl)
{
	return (int)SC(SYS_prlimit64, 0, res, rl, NULL, 0, 0);
}

int getrusage(__rusage_who_t who, struct rusage *ru)
{
	return (int)SC(SYS_getrusage, who, ru, 0, 0, 0, 0);
}

pid_t waitpid(pid_t pid, int *status, int options)
{
	return (pid_t)SC(SYS_wait4, pid, status, options, NULL, 0, 0);
}

int waitid(idtype_t type, id_t id, siginfo_t *info, int options)
{
	return (int)SC(SYS_waitid, type, id, info, options, NULL, 0);
}

int execve(const char *path, char *const argv[], char *const envp[])
{
	return (int)SC(SYS_execve, path, argv, envp, 0, 0, 0);
}

/* The kernel's struct sigaction; only SIG_DFL and SIG_IGN are ever set, so
 * no SA_RESTORER trampoline is needed. */
struct k_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

sighandler_t signal(int sig, sighandler_t handler)
{
	if (handler != SIG_DFL && handler != SIG_IGN) {
		rt_errno = EINVAL;
		return SIG_ERR;
	}
	struct k_sigaction sa = {.handler = handler}, old;
	if (SC(SYS_rt_sigaction, sig, &sa, &old, sizeof(sa.mask), 0, 0) < 0)
		return SIG_ERR;
	return old.handler;
}

int sigemptyset(sigset_t *set)
{
	memset(set, 0, sizeof(*set));
	return 0;
}

int sigprocmask(int how, const sigset_t *restrict set, sigset_t *restrict old)
{
	return (int)SC(SYS_rt_sigprocmask, how, set, old, sizeof(uint64_t), 0, 0);
}

/*
 * clone(2) with a function to run on @stack, as glibc's: the child calls
 * fn(arg) and exits with its return value.  After the syscall the child
 * has every register but rax, rcx and r11.
 */
int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	pid_t *ptid = va_arg(ap, pid_t *);
	void *tls = va_arg(ap, void *);
	pid_t *ctid = va_arg(ap, pid_t *);
	va_end(ap);
	/* Keep the stack 16-byte aligned for the call below. */
	stack = (void *)((uintptr_t)stack & ~(uintptr_t)15);
	register long r10 __asm__("r10") = (long)ctid;
	register long r8 __asm__("r8") = (long)tls;
	long ret;
	__asm__ volatile(PETRI_CLONE_RUN_ASM
			 : "=a"(ret)
			 : "a"((long)SYS_clone), "D"((long)flags), "S"(stack), "d"(ptid), "r"(r10),
			   "r"(r8), [fn] "r"(fn), [arg] "r"(arg), [nr_exit] "i"(SYS_exit)
			 : "rcx", "r11", "memory");
	return (int)ret_errno(ret);
}

/* ---- memory and strings ---- */

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	if (d < s) {
		while (n--)
			*d++ = *s++;
	} else {
		while (n--)
			d[n] = s[n];
	}
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

void *memchr(const void *p, int c, size_t n)
{
	const unsigned char *s = p;
	for (; n; n--, s++)
		if (*s == (unsigned char)c)
			return (void *)s;
	return NULL;
}

size_t strlen(const char *s)
{
	const char *p = s;
	while (*p)
		p++;
	return (size_t)(p - s);
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		if (!*a)
			break;
	}
	return 0;
}

char *strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c)
			return (char *)s;
		if (!*s)
			return NULL;
	}
}

char *strrchr(const char *s, int c)
{
	const char *last = NULL;
	for (;; s++) {
		if (*s == (char)c)
			last = s;
		if (!*s)
			return (char *)last;
	}
}

unsigned long long strtoull(const char *restrict s, char **restrict end, int base)
{
	unsigned long long v = 0;
	const char *p = s;
	while (*p == ' ' || *p == '\t')
		p++;
	if (base == 0)
		base = 10;
	const char *digits = p;
	for (;; p++) {
		int d;
		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'a' && *p <= 'z')
			d = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'Z')
			d = *p - 'A' + 10;
		else
			break;
		if (d >= base)
			break;
		v = v * (unsigned)base + (unsigned)d;
	}
	if (end)
		*end = (char *)(p == digits ? s : p);
	return v;
}

long strtol(const char *restrict s, char **restrict end, int base)
{
	const char *p = s;
	while (*p == ' ' || *p == '\t')
		p++;
	int neg = *p == '-';
	if (*p == '-' || *p == '+')
		p++;
	char *e;
	unsigned long long v = strtoull(p, &e, base);
	if (end)
		*end = e == p ? (char *)s : e;
	return neg ? -(long)v : (long)v;
}

struct cmsghdr *__cmsg_nxthdr(struct msghdr *m, struct cmsghdr *c)
{
	if (c->cmsg_len < sizeof(struct cmsghdr))
		return NULL;
	c = (struct cmsghdr *)((unsigned char *)c + CMSG_ALIGN(c->cmsg_len));
	unsigned char *end = (unsigned char *)m->msg_control + m->msg_controllen;
	if ((unsigned char *)(c + 1) > end || (unsigned char *)c + CMSG_ALIGN(c->cmsg_len) > end)
		return NULL;
	return c;
}

/* ---- formatting: %s %c %d %u %x %ld %lu %lld %llu %zu %%, no widths ---- */

struct out {
	char *buf;
	size_t cap;
	size_t len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->cap)
		o->buf[o->len] = c;
	o->len++;
}

static void put_u(struct out *o, unsigned long long v, unsigned base)
{
	char tmp[24];
	int n = 0;
	do
		tmp[n++] = "0123456789abcdef"[v % base];
	while ((v /= base) && n < (int)sizeof(tmp));
	while (n)
		put(o, tmp[--n]);
}

int vsnprintf(char *restrict buf, size_t cap, const char *restrict fmt, va_list ap)
{
	struct out o = {buf, cap, 0};
	for (const char *f = fmt; *f; f++) {
		if (*f != '%') {
			put(&o, *f);
			continue;
		}
		int lng = 0;
		f++;
		while (*f == 'l' || *f == 'z') {
			lng++;
			f++;
		}
		switch (*f) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			for (s = s ? s : "(null)"; *s; s++)
				put(&o, *s);
			break;
		}
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case 'd':
		case 'i': {
			long long v = lng ? va_arg(ap, long long) : va_arg(ap, int);
			unsigned long long u = (unsigned long long)v;
			if (v < 0) {
				put(&o, '-');
				u = -u;
			}
			put_u(&o, u, 10);
			break;
		}
		case 'u':
		case 'x':
			put_u(&o, lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned),
			      *f == 'x' ? 16 : 10);
			break;
		case '%':
			put(&o, '%');
			break;
		default: /* not supported: show it */
			put(&o, '%');
			if (!*f)
				f--;
			else
				put(&o, *f);
		}
	}
	if (cap)
		buf[o.len < cap ? o.len : cap - 1] = '\0';
	return (int)o.len;
}

int snprintf(char *restrict buf, size_t cap, const char *restrict fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

/* ---- entry ---- */

extern const Elf64_Ehdr __ehdr_start __attribute__((visibility("hidden")));
extern Elf64_Dyn _DYNAMIC[] __attribute__((visibility("hidden")));

/*
 * Apply our own R_X86_64_RELATIVE relocations (the kernel loaded us at a
 * random base; there is no dynamic loader), then make the RELRO part
 * read-only.  Runs before any relocated pointer is used.
 */
static void relocate(void)
{
	uintptr_t base = (uintptr_t)&__ehdr_start;
	const Elf64_Rela *rela = NULL;
	size_t relasz = 0;
	for (const Elf64_Dyn *d = _DYNAMIC; d->d_tag != DT_NULL; d++) {
		if (d->d_tag == DT_RELA)
			rela = (const Elf64_Rela *)(base + d->d_un.d_ptr);
		else if (d->d_tag == DT_RELASZ)
			relasz = d->d_un.d_val;
	}
	for (size_t i = 0; rela && i < relasz / sizeof(*rela); i++) {
		if (ELF64_R_TYPE(rela[i].r_info) != R_X86_64_RELATIVE)
			_exit(127);
		*(uintptr_t *)(base + rela[i].r_offset) = base + (uintptr_t)rela[i].r_addend;
	}
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + __ehdr_start.e_phoff);
	for (int i = 0; i < __ehdr_start.e_phnum; i++) {
		if (ph[i].p_type != PT_GNU_RELRO)
			continue;
		uintptr_t start = (base + ph[i].p_vaddr) & ~(uintptr_t)4095;
		uintptr_t end = (base + ph[i].p_vaddr + ph[i].p_memsz) & ~(uintptr_t)4095;
		if (end > start)
			sys6(SYS_mprotect, (long)start, (long)(end - start), PROT_READ, 0, 0, 0);
	}
}

/* Called by _start below with the initial stack: argc, argv..., NULL. */
void petri__rt_start(long *sp) __attribute__((visibility("hidden"), used, noreturn));
void petri__rt_start(long *sp)
{
	relocate();
	int argc = (int)sp[0];
	_exit(main(argc, (char **)(sp + 1)));
}

__asm__(".text\n"
	".globl _start\n"
	".type _start, @function\n"
	"_start:\n"
	"	xor %ebp, %ebp\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call petri__rt_start\n"
	"	hlt\n");
