/* SPDX-License-Identifier: Apache-2.0 */
/*
 * init_main.c - main() of petri-init, the executable a sandbox's init runs.
 *
 * The library embeds this small static program and executes it from a
 * sealed memfd in the sandbox's new namespaces (sandbox.c).  Starting init
 * from its own image instead of forking the host keeps the cost of a
 * sandbox, and of every exec in it, independent of the host's size: a fork
 * copies the page tables of everything the host has mapped (a Python or Go
 * runtime, a model's weights), and init forks again for each exec.
 *
 * The host's supervisor raised every capability into the ambient set before
 * the execveat (it runs as host root, which has no id in the sandbox's user
 * namespace, so it is not that namespace's root and the kernel would not
 * grant them otherwise); init's configuration comes as a memfd named on the
 * command line.
 */
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "init_priv.h"

static struct petri_seccomp_prog seccomp_prog;

/* Map the configuration memfd and point its pointers into the mapping. */
static const struct petri_init_cfg *load_cfg(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size < sizeof(struct petri_init_cfg))
		return NULL;
	size_t len = (size_t)st.st_size;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	struct petri_init_cfg *cfg = (struct petri_init_cfg *)p;
	size_t binds_len = (size_t)cfg->nbinds * sizeof(struct petri_bind);
	if (cfg->magic != PETRI_INIT_CFG_MAGIC || cfg->nbinds < 0 ||
	    cfg->nbinds > PETRI_MAX_BINDS || cfg->seccomp_len > BPF_MAXINSNS ||
	    len != sizeof(*cfg) + binds_len + cfg->seccomp_len * sizeof(struct sock_filter))
		return NULL;
	cfg->binds = cfg->nbinds ? (struct petri_bind *)(p + sizeof(*cfg)) : NULL;
	cfg->seccomp = NULL;
	if (cfg->seccomp_len) {
		seccomp_prog.fprog.len = (unsigned short)cfg->seccomp_len;
		seccomp_prog.fprog.filter = (struct sock_filter *)(p + sizeof(*cfg) + binds_len);
		cfg->seccomp = &seccomp_prog;
	}
	cfg->execed = 1;
	return cfg;
}

int main(int argc, char **argv)
{
	char *end = NULL;
	long fd = argc == 2 ? strtol(argv[1], &end, 10) : -1;
	if (fd < 3 || !end || *end) {
		static const char usage[] = "petri-init: started by libpetri only\n";
		petri__write_all(2, usage, sizeof(usage) - 1);
		return 2;
	}
	const struct petri_init_cfg *cfg = load_cfg((int)fd);
	if (!cfg) {
		static const char bad[] = "petri-init: not a sandbox configuration\n";
		petri__write_all(2, bad, sizeof(bad) - 1);
		return 2;
	}
	close((int)fd);
	prctl(PR_SET_NAME, "petri-init", 0, 0, 0);
	/* The ambient and inheritable sets only carried our capabilities
	 * through the execveat; nothing we start may inherit them. */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) == 0) {
		data[0].inheritable = data[1].inheritable = 0;
		syscall(SYS_capset, &hdr, data);
	}
	petri__init_main(cfg);
}
