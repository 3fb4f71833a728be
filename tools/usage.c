/* SPDX-License-Identifier: Apache-2.0 */
/*
 * usage.c - what `petri --help` and `petri --version` print, and the list of
 * languages (from the library) that the help and the errors name.  A leaf:
 * main.c and run.c both call it, it calls only libpetri.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage_head[] =
	"Usage:\n"
	"  petri run [OPTIONS] -- PROGRAM [ARGS...]\n"
	"  petri run [OPTIONS] --lang LANG -c CODE [-- ARGS...]\n"
	"  petri run [OPTIONS] --lang LANG FILE [ARGS...]\n"
	"  petri audit cat FILE     print an audit stream, one line per event\n"
	"  petri audit json FILE    JSON lines with OCSF classes\n"
	"  petri audit verify FILE  check the hash chain and completeness\n"
	"  petri doctor [--json] [--require LAYER[,LAYER...]]\n"
	"                           which isolation layers work on this host, and why\n"
	"                           not (exit 1 when a required one is missing)\n"
	"  petri help | --help\n"
	"  petri --version\n"
	"\n"
	"Run a program or a piece of code in a fresh libpetri sandbox (new user, pid,\n"
	"mount, network, uts, ipc and cgroup namespaces; seccomp; resource limits),\n"
	"then destroy the sandbox.  Nothing of the host is visible unless granted.\n"
	"\n"
	"Code:\n";

/* Then "  --lang LANG   <the library's languages>". */

static const char usage_tail[] =
	"  -c, --code CODE          run CODE; ARGS after -- become its arguments\n"
	"  FILE                     a host file, copied into /workspace and run there\n"
	"Limits:\n"
	"  --timeout DURATION       wall-clock limit (default 30s); seconds, decimals\n"
	"                           allowed (0.5), or with a unit: 500ms, 2s, 1.5m, 1h\n"
	"  --cpu DURATION           CPU time per process (default: more than --timeout allows)\n"
	"  --memory SIZE            memory limit (default 512M)\n"
	"  --pids N                 processes and threads (default 256)\n"
	"  --cpus N                 CPUs the sandbox may use at once, decimals allowed\n"
	"                           (0.5, 2); default: no limit\n"
	"  --tmp-size SIZE          size of /tmp (default 64M)\n"
	"  --workspace-size SIZE    size of the /workspace tmpfs (default 256M)\n"
	"  --file-size SIZE         largest file a process may write (default 1G)\n"
	"  --nofile N               open files per process (default 1024)\n"
	"  --output-limit SIZE      output captured per stream with --json (default 1M)\n"
	"  --output-kill SIZE       kill the program after SIZE bytes of output in all\n"
	"                           (default 64M)\n"
	"  --inotify-instances N    inotify instances of the sandbox (default 128)\n"
	"  --inotify-watches N      inotify watches of the sandbox (default 65536)\n"
	"  --sigpending N           queued signals and POSIX timers (default 4096)\n"
	"  --msgqueue SIZE          POSIX message queue bytes (default 800K)\n"
	"                           SIZE: bytes, or a number with K, M, G or T (powers\n"
	"                           of 1024, any case, optional B or iB): 512K, 1.5G\n"
	"Environment and files:\n"
	"  -e, --env NAME=VALUE     set an environment variable (repeatable)\n"
	"  --bind SRC:DST[:ro|rw][,sockets]\n"
	"                           show host path SRC at DST, read-only unless rw\n"
	"                           (repeatable); host unix sockets in a read-only\n"
	"                           directory are not reachable unless ,sockets\n"
	"                           (see README, Security model)\n"
	"  --workspace DIR          use host directory DIR as /workspace (read-write)\n"
	"  --cwd DIR                working directory inside (default /workspace)\n"
	"  --stdin FILE|-           feed FILE (- : petri's own stdin) to the program;\n"
	"                           by default its stdin is empty\n"
	"  --hostname NAME          hostname inside (default petri)\n"
	"  --id ID                  sandbox id ([A-Za-z0-9_-], at most 48)\n"
	"  --rootfs DIR             custom root directory, bound read-only\n"
	"Network:\n"
	"  --net none|proxy|host    none (default): loopback only; host: the host's\n"
	"                           network (trusted code only); proxy: loopback only,\n"
	"                           and the host's proxy and DNS for --allow'ed names\n"
	"  --allow HOST[:PORT][=ADDR]  a destination the proxy lets through (repeatable;\n"
	"                           needs --net proxy): a name, *.NAME (subdomains),\n"
	"                           an IP literal ([v6]); PORT default 80 and 443;\n"
	"                           =ADDR: the address to dial for it (as curl --resolve)\n"
	"  --secret NAME@HOST[,HOST...][=@FILE]\n"
	"                           a secret the code can use but never read (means\n"
	"                           --net proxy; repeatable): inside, $NAME holds a\n"
	"                           placeholder the proxy replaces by the value only in\n"
	"                           HTTPS requests to HOST (allowed, no --allow needed).\n"
	"                           The value comes from petri's environment variable\n"
	"                           NAME, or =@FILE: the whole file, one trailing\n"
	"                           newline dropped; never from the command line\n"
	"  --upstream-ca FILE       PEM CAs trusted, beside the system's, for the\n"
	"                           servers of --secret hosts\n"
	"  --net-max-conns N        proxied connections open at once (default 256)\n"
	"  --net-max-bytes SIZE     proxied bytes both ways, in all (default 16G)\n"
	"Output:\n"
	"  --json                   print one JSON object instead of streaming output:\n"
	"                           exit_code, signal, reason, wall_ms, cpu_ms,\n"
	"                           peak_memory_bytes, stdout, stderr, stdout_truncated,\n"
	"                           stderr_truncated, limits_hit, sandbox_id, ...;\n"
	"                           reason \"failed\" and error when it cannot start\n"
	"  --audit PATH             write the audit stream (protobuf, hash-chained) to PATH\n"
	"  --audit-max SIZE         most bytes the stream may take (default 1G; at least\n"
	"                           256K; 'unlimited'): past it the code's activity is\n"
	"                           counted as lost, not written; lifecycle events stay\n"
	"  -q, --quiet              report only errors of libpetri\n"
	"  -v, --verbose            more diagnostics (twice: debug)\n"
	"  -h, --help               show this help\n"
	"  --version                show the version\n"
	"\n"
	"Exit status:\n"
	"  the program's own; 128+N when it was killed by signal N, also when a\n"
	"  memory, pids, CPU, file size, output or seccomp limit killed it (when such\n"
	"  a limit only made it fail, its own status); 124 timeout; 125 petri itself\n"
	"  failed (bad option, cannot create the sandbox, ...), one line on stderr;\n"
	"  126 the program cannot be executed; 127 it was not found; 128+N when petri\n"
	"  got signal N (INT, TERM, HUP) and stopped the program; 141 when the reader\n"
	"  of petri's output went away.\n";

void language_list(char *buf, size_t size)
{
	size_t n = 0, len = 0;

	while (petri_language_name((uint32_t)n))
		n++;
	buf[0] = '\0';
	for (size_t i = 0; i < n && len < size; i++) {
		snprintf(buf + len, size - len, "%s%s",
			 i == 0     ? "" :
			 i + 1 == n ? " or " :
				      ", ",
			 petri_language_name((uint32_t)i));
		len = strlen(buf);
	}
}

void print_usage(void)
{
	char known[128];

	language_list(known, sizeof(known));
	fputs(usage_head, stdout);
	printf("  --lang LANG              %s\n", known);
	fputs(usage_tail, stdout);
}

void print_version(void)
{
	printf("petri %s (libpetri %s)\n", PETRI_VERSION_STRING, petri_version());
}
