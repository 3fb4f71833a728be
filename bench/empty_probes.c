/* SPDX-License-Identifier: Apache-2.0 */
/*
 * empty_probes.c - attach the do-nothing sys_enter/sys_exit programs of
 * empty_probes.bpf.c, print "attached", and keep them attached until stdin
 * reaches EOF.  bench/audit_bench.sh runs a workload with and without them:
 * the floor under which no audit on these hooks can go.
 *
 * Usage: empty_probes OBJECT  (root)
 */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: empty_probes OBJECT\n");
		return 2;
	}
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "empty_probes: cannot load %s\n", argv[1]);
		return 1;
	}
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, obj)
	{
		if (!bpf_program__attach(prog)) {
			fprintf(stderr, "empty_probes: cannot attach %s\n",
				bpf_program__name(prog));
			return 1;
		}
	}
	printf("attached\n");
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0)
		;
	return 0; /* exit detaches and unloads */
}
