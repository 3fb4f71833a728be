/* SPDX-License-Identifier: Apache-2.0 */
/*
 * petri.c - the `petri` command-line tool.
 *
 *   petri run [OPTIONS] -- PROGRAM [ARGS...]
 *   petri run [OPTIONS] --lang python|node|go|sh (-c CODE | FILE [ARGS...])
 *
 * It parses and validates the whole command line first, then creates one
 * sandbox with libpetri, runs one program (or piece of code) in it, reports
 * the result (output streamed live, or one JSON object with --json),
 * destroys the sandbox and turns the result into an exit status.  All the
 * sandbox logic lives in libpetri: this file only translates.
 *
 * Exit status (the contract in DESIGN.md "CLI"): the program's own; 128+N
 * when it was killed by signal N; 124 on timeout; 125 when petri itself
 * fails, with exactly one line "petri: <reason>" on stderr; 126 / 127 when
 * the program cannot be executed / does not exist.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lang_go.h" /* libpetri/: how Go code runs, as the library does */
#include "petri/audit.h"
#include "petri/petri.h"

#define EXIT_TIMEOUT 124
#define EXIT_PETRI 125
#define EXIT_NOEXEC 126
#define EXIT_NOTFOUND 127

#define ARG_LEN_MAX (64 * 1024)          /* longest accepted argument */
#define ARGS_MAX 4096                    /* most arguments accepted */
#define STDIN_MAX ((size_t)256 << 20)    /* --stdin input kept in memory */
#define FILE_MAX ((size_t)64 << 20)      /* FILE copied into /workspace */
#define DURATION_MAX_MS 1000000000000ull /* ~31 years: deadlines never overflow */
#define LOG_DEFER_MAX (64 * 1024)

#define SANDBOX_WORKSPACE "/workspace/"

#define _printf_(a, b) __attribute__((format(printf, a, b)))

/* ------------------------------------------------------------------------
 * Messages.  Every failure of petri itself is one line "petri: <reason>";
 * text from the command line or the library is made single-line first.
 * ---------------------------------------------------------------------- */

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			/* Inherited O_NONBLOCK (a terminal or pipe shared with
			 * someone who set it): wait instead of dropping output. */
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			poll(&pfd, 1, -1);
			continue;
		}
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Replace control characters so that a message stays on one line. */
static void make_single_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* Print "petri: <message>" as one line on stderr; returns -1 so that
 * parsers can `return fail(...)`. */
_printf_(1, 2) static int fail(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	memcpy(line, "petri: ", 7);
	va_start(ap, fmt);
	int n = vsnprintf(line + 7, sizeof(line) - 8, fmt, ap);
	va_end(ap);
	if (n < 0)
		line[7] = '\0';
	make_single_line(line);
	size_t len = strlen(line);
	line[len++] = '\n';
	write_all(STDERR_FILENO, line, len);
	return -1;
}

/* Library diagnostics.  Until the sandbox exists they are held back: if
 * creating it fails, the error itself is the one line the user sees; if it
 * succeeds, they are printed then.  With -v they are printed at once. */
static struct {
	pthread_mutex_t lock;
	bool deferring;
	char *buf;
	size_t len;
} logger = {.lock = PTHREAD_MUTEX_INITIALIZER};

static const char *log_level_name(int level)
{
	switch (level) {
	case PETRI_LOG_ERROR:
		return "error";
	case PETRI_LOG_WARN:
		return "warning";
	case PETRI_LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

static void log_defer(const char *line, size_t len)
{
	if (logger.len + len > LOG_DEFER_MAX)
		return;
	char *nbuf = realloc(logger.buf, logger.len + len);
	if (!nbuf)
		return;
	memcpy(nbuf + logger.len, line, len);
	logger.buf = nbuf;
	logger.len += len;
}

static void on_log(int level, const char *msg, void *userdata)
{
	char line[1200];

	(void)userdata;
	snprintf(line, sizeof(line) - 1, "petri: %s: %s", log_level_name(level), msg);
	make_single_line(line);
	size_t len = strlen(line);
	line[len++] = '\n';
	pthread_mutex_lock(&logger.lock);
	if (logger.deferring)
		log_defer(line, len);
	else
		write_all(STDERR_FILENO, line, len);
	pthread_mutex_unlock(&logger.lock);
}

static uint32_t log_level_for(int verbosity)
{
	if (verbosity < 0)
		return PETRI_LOG_ERROR;
	if (verbosity == 0)
		return PETRI_LOG_WARN;
	return verbosity == 1 ? PETRI_LOG_INFO : PETRI_LOG_DEBUG;
}

/* Stop holding diagnostics back; print them (@print) or drop them. */
static void log_release(bool print)
{
	pthread_mutex_lock(&logger.lock);
	if (print && logger.len > 0)
		write_all(STDERR_FILENO, logger.buf, logger.len);
	free(logger.buf);
	logger.buf = NULL;
	logger.len = 0;
	logger.deferring = false;
	pthread_mutex_unlock(&logger.lock);
}

/* ------------------------------------------------------------------------
 * The parsed command line.
 * ---------------------------------------------------------------------- */

/* A growable NULL-terminated vector of strings it owns. */
struct strv {
	char **v;
	size_t n;
};

static int strv_push(struct strv *sv, const char *s)
{
	char *copy = strdup(s);
	char **nv = copy ? realloc(sv->v, (sv->n + 2) * sizeof(*nv)) : NULL;

	if (!nv) {
		free(copy);
		return fail("out of memory");
	}
	nv[sv->n++] = copy;
	nv[sv->n] = NULL;
	sv->v = nv;
	return 0;
}

static void strv_free(struct strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

static const char *const *strv_or_null(const struct strv *sv)
{
	return sv->n ? (const char *const *)sv->v : NULL;
}

struct cli {
	/* sandbox */
	uint64_t memory_bytes, tmp_bytes, workspace_bytes;
	uint32_t pids_max;
	uint32_t net;
	bool net_proxy;
	const char *hostname, *id, *rootfs;
	char *workspace_dir; /* resolved */
	struct strv binds, env, allow;
	const char *audit_path;
	/* exec */
	const char *lang, *code, *file, *cwd, *stdin_path;
	uint64_t timeout_ms, cpu_ms, output_max, output_kill, file_size_max;
	uint32_t nofile_max;
	char **args; /* what follows the options (borrowed from argv) */
	int nargs;
	bool saw_dashdash; /* the options ended with "--" */
	/* output */
	bool json;
	int verbosity; /* -1 quiet, 0 default, 1 info, 2+ debug */
	/* prepared from the above before the sandbox is created */
	char *stdin_data;
	size_t stdin_len;
	char *file_data;
	size_t file_len;
	uint32_t file_mode;
	const char *file_name; /* basename of file */
	char *file_inside;     /* "/workspace/<file_name>" */
	const char **exec_argv;
};

static void cli_free(struct cli *c)
{
	free(c->workspace_dir);
	strv_free(&c->binds);
	strv_free(&c->env);
	strv_free(&c->allow);
	free(c->stdin_data);
	free(c->file_data);
	free(c->file_inside);
	free(c->exec_argv);
}

/* ------------------------------------------------------------------------
 * Values: sizes, durations, counts, names.
 * ---------------------------------------------------------------------- */

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static char lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* A decimal number "123" or "1.5" (up to 9 fractional digits count).
 * Returns 0, -EINVAL (malformed) or -ERANGE. */
static int parse_decimal(const char **pp, uint64_t *ip, uint64_t *frac, uint64_t *scale)
{
	const char *p = *pp;

	*ip = 0;
	*frac = 0;
	*scale = 1;
	if (!is_digit(*p))
		return -EINVAL;
	for (; is_digit(*p); p++) {
		uint64_t d = (uint64_t)(*p - '0');
		if (*ip > (UINT64_MAX - d) / 10)
			return -ERANGE;
		*ip = *ip * 10 + d;
	}
	if (*p == '.') {
		p++;
		if (!is_digit(*p))
			return -EINVAL;
		for (; is_digit(*p); p++) {
			if (*scale < 1000000000ull) {
				*frac = *frac * 10 + (uint64_t)(*p - '0');
				*scale *= 10;
			}
		}
	}
	*pp = p;
	return 0;
}

/* ip.frac * unit, truncated; -ERANGE past UINT64_MAX. */
static int scale_decimal(uint64_t ip, uint64_t frac, uint64_t scale, uint64_t unit, uint64_t *out)
{
	unsigned __int128 v = (unsigned __int128)ip * unit;

	v += (unsigned __int128)frac * unit / scale;
	if (v > UINT64_MAX)
		return -ERANGE;
	*out = (uint64_t)v;
	return 0;
}

/* SIZE: bytes, or N[.N] with K, M, G or T (powers of 1024, any case),
 * optionally followed by B or iB: "512K", "1.5g", "256MiB", "4096". */
static int parse_size(const char *opt, const char *s, uint64_t *out)
{
	const char *p = s;
	uint64_t ip, frac, scale, unit = 1, v;
	int r = parse_decimal(&p, &ip, &frac, &scale);

	if (r == -ERANGE)
		return fail("%s: invalid size '%.64s' (too large)", opt, s);
	if (r < 0)
		return fail("%s: invalid size '%.64s'", opt, s);
	switch (lower(*p)) {
	case 'k':
		unit = 1ull << 10;
		break;
	case 'm':
		unit = 1ull << 20;
		break;
	case 'g':
		unit = 1ull << 30;
		break;
	case 't':
		unit = 1ull << 40;
		break;
	}
	if (unit > 1) {
		p++;
		if (lower(*p) == 'i' && lower(p[1]) == 'b')
			p++;
	}
	if (lower(*p) == 'b')
		p++;
	if (*p != '\0' || (unit == 1 && frac != 0))
		return fail("%s: invalid size '%.64s'", opt, s);
	if (scale_decimal(ip, frac, scale, unit, &v) < 0)
		return fail("%s: invalid size '%.64s' (too large)", opt, s);
	if (v == 0)
		return fail("%s: invalid size '%.64s' (must be greater than 0)", opt, s);
	*out = v;
	return 0;
}

/* DURATION: seconds "10", "0.5", or with a unit "500ms", "2s", "1.5m", "1h".
 * Stored in milliseconds, rounded up so that a positive value stays so. */
static int parse_duration(const char *opt, const char *s, uint64_t *out_ms)
{
	const char *p = s;
	uint64_t ip, frac, scale, unit_us, us;
	int r = parse_decimal(&p, &ip, &frac, &scale);

	if (r == -ERANGE)
		return fail("%s: invalid duration '%.64s' (too large)", opt, s);
	if (r < 0)
		return fail("%s: invalid duration '%.64s'", opt, s);
	if (strcmp(p, "") == 0 || strcmp(p, "s") == 0)
		unit_us = 1000000;
	else if (strcmp(p, "ms") == 0)
		unit_us = 1000;
	else if (strcmp(p, "m") == 0)
		unit_us = 60000000;
	else if (strcmp(p, "h") == 0)
		unit_us = 3600000000ull;
	else
		return fail("%s: invalid duration '%.64s'", opt, s);
	if (scale_decimal(ip, frac, scale, unit_us, &us) < 0 || us / 1000 >= DURATION_MAX_MS)
		return fail("%s: invalid duration '%.64s' (too large)", opt, s);
	if (us == 0)
		return fail("%s: invalid duration '%.64s' (must be greater than 0)", opt, s);
	*out_ms = (us + 999) / 1000;
	return 0;
}

/* A count: 1 .. UINT32_MAX. */
static int parse_count(const char *opt, const char *s, uint32_t *out)
{
	const char *p = s;
	uint64_t ip, frac, scale;
	int r = parse_decimal(&p, &ip, &frac, &scale);

	if (r == -ERANGE || (r == 0 && ip > UINT32_MAX))
		return fail("%s: invalid number '%.64s' (too large)", opt, s);
	if (r < 0 || *p != '\0' || scale != 1)
		return fail("%s: invalid number '%.64s'", opt, s);
	if (ip == 0)
		return fail("%s: invalid number '%.64s' (must be greater than 0)", opt, s);
	*out = (uint32_t)ip;
	return 0;
}

static bool is_env_name(const char *s, size_t len)
{
	if (len == 0 || is_digit(s[0]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(is_digit(s[i]) || s[i] == '_' || (lower(s[i]) >= 'a' && lower(s[i]) <= 'z')))
			return false;
	return true;
}

static int parse_env(struct cli *c, const char *s)
{
	const char *eq = strchr(s, '=');

	if (!eq)
		return fail("--env: expected NAME=VALUE, got '%.64s'", s);
	if (!is_env_name(s, (size_t)(eq - s)))
		return fail("--env: invalid variable name '%.*s'", (int)(eq - s > 64 ? 64 : eq - s),
			    s);
	return strv_push(&c->env, s);
}

/* --bind SRC:DST[:rw|:ro].  SRC must exist; it is passed on resolved, so
 * that a relative path means what it means here. */
static int parse_bind(struct cli *c, const char *s)
{
	const char *c1 = strchr(s, ':');
	const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	const char *mode = c2 ? c2 + 1 : NULL;

	if (!c1 || c1 == s || (c2 ? c2 : c1 + strlen(c1)) == c1 + 1)
		return fail("--bind: expected SRC:DST[:rw|:ro], got '%.64s'", s);
	if (mode && strcmp(mode, "rw") != 0 && strcmp(mode, "ro") != 0)
		return fail("--bind: invalid mode '%.16s' in '%.64s' (expected rw or ro)", mode, s);
	if (c1[1] != '/')
		return fail("--bind: destination must be an absolute path in '%.64s'", s);

	char *src = strndup(s, (size_t)(c1 - s));
	if (!src)
		return fail("out of memory");
	char *real = realpath(src, NULL);
	if (!real) {
		int e = errno;
		fail("--bind: %s: %s", src, strerror(e));
		free(src);
		return -1;
	}
	free(src);
	if (strchr(real, ':')) {
		fail("--bind: source path '%s' contains ':'", real);
		free(real);
		return -1;
	}

	char *spec = NULL;
	int r = asprintf(&spec, "%s%s", real, c1);
	free(real);
	if (r < 0)
		return fail("out of memory");
	r = strv_push(&c->binds, spec);
	free(spec);
	return r;
}

static bool is_host_char(char ch)
{
	return is_digit(ch) || (lower(ch) >= 'a' && lower(ch) <= 'z') || ch == '-' || ch == '.' ||
	       ch == '_' || ch == '*';
}

/* --allow HOST[:PORT], HOST a name, an IPv4 address or [IPv6]. */
static int parse_allow(struct cli *c, const char *s)
{
	const char *p = s, *port = NULL;

	if (*p == '[') {
		const char *close = strchr(p, ']');
		if (!close || close == p + 1 ||
		    strspn(p + 1, "0123456789abcdefABCDEF:.") != (size_t)(close - p - 1))
			return fail("--allow: invalid host in '%.64s'", s);
		p = close + 1;
	} else {
		while (is_host_char(*p))
			p++;
		if (p == s)
			return fail("--allow: invalid host in '%.64s'", s);
	}
	if (*p == ':')
		port = p + 1;
	else if (*p != '\0')
		return fail("--allow: invalid host in '%.64s' (write IPv6 as [ADDR]:PORT)", s);
	if (port) {
		uint64_t ip, frac, scale;
		const char *q = port;
		if (parse_decimal(&q, &ip, &frac, &scale) < 0 || *q != '\0' || scale != 1 ||
		    ip == 0 || ip > 65535)
			return fail("--allow: invalid port in '%.64s'", s);
	}
	return strv_push(&c->allow, s);
}

static int parse_net(struct cli *c, const char *s)
{
	c->net_proxy = false;
	if (strcmp(s, "none") == 0)
		c->net = PETRI_NET_NONE;
	else if (strcmp(s, "host") == 0)
		c->net = PETRI_NET_HOST;
	else if (strcmp(s, "proxy") == 0)
		c->net_proxy = true;
	else
		return fail("--net: unknown mode '%.64s' (expected none, proxy or host)", s);
	return 0;
}

static const char *const languages[] = {"python", "node", "go", "sh"};

static int parse_lang(struct cli *c, const char *s)
{
	for (size_t i = 0; i < sizeof(languages) / sizeof(languages[0]); i++) {
		if (strcmp(s, languages[i]) == 0) {
			c->lang = languages[i];
			return 0;
		}
	}
	return fail("--lang: unknown language '%.64s' (expected python, node, go or sh)", s);
}

static int parse_workspace(struct cli *c, const char *s)
{
	struct stat st;

	if (stat(s, &st) < 0)
		return fail("--workspace: %s: %s", s, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return fail("--workspace: %s: %s", s, strerror(ENOTDIR));
	free(c->workspace_dir);
	c->workspace_dir = realpath(s, NULL);
	if (!c->workspace_dir)
		return fail("--workspace: %s: %s", s, strerror(errno));
	return 0;
}

static int parse_nonempty(const char *opt, const char *s, const char **out)
{
	if (*s == '\0')
		return fail("%s: must not be empty", opt);
	*out = s;
	return 0;
}

/* ------------------------------------------------------------------------
 * Usage.
 * ---------------------------------------------------------------------- */

static const char usage_text[] =
	"Usage:\n"
	"  petri run [OPTIONS] -- PROGRAM [ARGS...]\n"
	"  petri run [OPTIONS] --lang python|node|go|sh -c CODE [-- ARGS...]\n"
	"  petri run [OPTIONS] --lang python|node|go|sh FILE [ARGS...]\n"
	"  petri audit cat FILE     print an audit stream, one line per event\n"
	"  petri audit json FILE    JSON lines with OCSF classes\n"
	"  petri audit verify FILE  check the hash chain and completeness\n"
	"  petri help | --help\n"
	"  petri --version\n"
	"\n"
	"Run a program or a piece of code in a fresh libpetri sandbox (new user, pid,\n"
	"mount, network, uts, ipc and cgroup namespaces; seccomp; resource limits),\n"
	"then destroy the sandbox.  Nothing of the host is visible unless granted.\n"
	"\n"
	"Code:\n"
	"  --lang LANG              python, node, go or sh\n"
	"  -c, --code CODE          run CODE; ARGS after -- become its arguments\n"
	"  FILE                     a host file, copied into /workspace and run there\n"
	"Limits:\n"
	"  --timeout DURATION       wall-clock limit (default 30s); seconds, decimals\n"
	"                           allowed (0.5), or with a unit: 500ms, 2s, 1.5m, 1h\n"
	"  --cpu DURATION           CPU time per process (default: more than --timeout allows)\n"
	"  --memory SIZE            memory limit (default 512M)\n"
	"  --pids N                 processes and threads (default 256)\n"
	"  --tmp-size SIZE          size of /tmp (default 64M)\n"
	"  --workspace-size SIZE    size of the /workspace tmpfs (default 256M)\n"
	"  --file-size SIZE         largest file a process may write (default 1G)\n"
	"  --nofile N               open files per process (default 1024)\n"
	"  --output-limit SIZE      output captured per stream with --json (default 1M)\n"
	"  --output-kill SIZE       kill the program after SIZE bytes of output in all\n"
	"                           (default 64M)\n"
	"                           SIZE: bytes, or a number with K, M, G or T (powers\n"
	"                           of 1024, any case, optional B or iB): 512K, 1.5G\n"
	"Environment and files:\n"
	"  -e, --env NAME=VALUE     set an environment variable (repeatable)\n"
	"  --bind SRC:DST[:rw|:ro]  show host path SRC at DST, read-only unless :rw\n"
	"                           (repeatable)\n"
	"  --workspace DIR          use host directory DIR as /workspace (read-write)\n"
	"  --cwd DIR                working directory inside (default /workspace)\n"
	"  --stdin FILE|-           feed FILE (- : petri's own stdin) to the program;\n"
	"                           by default its stdin is empty\n"
	"  --hostname NAME          hostname inside (default petri)\n"
	"  --id ID                  sandbox id ([A-Za-z0-9_-], at most 48)\n"
	"  --rootfs DIR             custom root directory, bound read-only\n"
	"Network:\n"
	"  --net none|proxy|host    none (default): loopback only; host: the host's\n"
	"                           network (trusted code only); proxy: not available yet\n"
	"  --allow HOST[:PORT]      destination allowed through the proxy (repeatable;\n"
	"                           needs --net proxy)\n"
	"Output:\n"
	"  --json                   print one JSON object instead of streaming output:\n"
	"                           exit_code, signal, reason, wall_ms, cpu_ms,\n"
	"                           peak_memory_bytes, stdout, stderr, stdout_truncated,\n"
	"                           stderr_truncated, limits_hit, sandbox_id, ...;\n"
	"                           reason \"failed\" and error when it cannot start\n"
	"  --audit PATH             write the audit stream (protobuf, hash-chained) to PATH\n"
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

static void print_version(void)
{
	printf("petri %s (libpetri %s)\n", PETRI_VERSION_STRING, petri_version());
}

/* ------------------------------------------------------------------------
 * Option parsing.
 * ---------------------------------------------------------------------- */

enum {
	OPT_TIMEOUT = 256,
	OPT_CPU,
	OPT_MEMORY,
	OPT_PIDS,
	OPT_TMP_SIZE,
	OPT_WORKSPACE_SIZE,
	OPT_FILE_SIZE,
	OPT_NOFILE,
	OPT_OUTPUT_LIMIT,
	OPT_OUTPUT_KILL,
	OPT_BIND,
	OPT_WORKSPACE,
	OPT_CWD,
	OPT_STDIN,
	OPT_HOSTNAME,
	OPT_ID,
	OPT_ROOTFS,
	OPT_NET,
	OPT_ALLOW,
	OPT_LANG,
	OPT_JSON,
	OPT_AUDIT,
	OPT_VERSION,
};

static const struct option run_options[] = {
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"cpu", required_argument, NULL, OPT_CPU},
	{"memory", required_argument, NULL, OPT_MEMORY},
	{"pids", required_argument, NULL, OPT_PIDS},
	{"tmp-size", required_argument, NULL, OPT_TMP_SIZE},
	{"workspace-size", required_argument, NULL, OPT_WORKSPACE_SIZE},
	{"file-size", required_argument, NULL, OPT_FILE_SIZE},
	{"nofile", required_argument, NULL, OPT_NOFILE},
	{"output-limit", required_argument, NULL, OPT_OUTPUT_LIMIT},
	{"output-kill", required_argument, NULL, OPT_OUTPUT_KILL},
	{"env", required_argument, NULL, 'e'},
	{"bind", required_argument, NULL, OPT_BIND},
	{"workspace", required_argument, NULL, OPT_WORKSPACE},
	{"cwd", required_argument, NULL, OPT_CWD},
	{"stdin", required_argument, NULL, OPT_STDIN},
	{"hostname", required_argument, NULL, OPT_HOSTNAME},
	{"id", required_argument, NULL, OPT_ID},
	{"rootfs", required_argument, NULL, OPT_ROOTFS},
	{"net", required_argument, NULL, OPT_NET},
	{"allow", required_argument, NULL, OPT_ALLOW},
	{"lang", required_argument, NULL, OPT_LANG},
	{"code", required_argument, NULL, 'c'},
	{"json", no_argument, NULL, OPT_JSON},
	{"audit", required_argument, NULL, OPT_AUDIT},
	{"quiet", no_argument, NULL, 'q'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

/* "+": stop at the first non-option, so that the program's own options
 * stay its own.  ":": report a missing argument as ':'. */
static const char run_shortopts[] = "+:c:e:qvh";

static const char *long_name(int val)
{
	for (const struct option *o = run_options; o->name; o++)
		if (o->val == val)
			return o->name;
	return NULL;
}

/* How many long options begin with @prefix (getopt_long() accepts unique
 * abbreviations). */
static int count_prefixed(const char *prefix, size_t len)
{
	int n = 0;

	for (const struct option *o = run_options; o->name; o++)
		n += strncmp(o->name, prefix, len) == 0;
	return n;
}

/* Describe the option getopt_long() just stopped at, as the user wrote it. */
static int bad_option(int ret, char **argv)
{
	const char *name = optopt >= 256 ? long_name(optopt) : NULL;
	const char *arg = argv[optind - 1];

	if (ret == ':' && name)
		return fail("option '--%s' requires an argument", name);
	if (ret == ':')
		return fail("option '-%c' requires an argument", optopt);
	if (name)
		return fail("option '--%s' does not take an argument", name);
	if (optopt > 0 && optopt < 256 && strncmp(arg, "--", 2) != 0)
		return fail("unknown option '-%c'", optopt);
	int len = (int)strcspn(arg, "=");
	if (count_prefixed(arg + 2, (size_t)len - 2) > 1)
		return fail("ambiguous option '%.*s'", len, arg);
	return fail("unknown option '%.*s'", len, arg);
}

/* 1: stop and exit 0 (--help, --version); 0: go on; -1: error. */
static int apply_option(struct cli *c, int opt, const char *arg)
{
	switch (opt) {
	case OPT_TIMEOUT:
		return parse_duration("--timeout", arg, &c->timeout_ms);
	case OPT_CPU:
		return parse_duration("--cpu", arg, &c->cpu_ms);
	case OPT_MEMORY:
		return parse_size("--memory", arg, &c->memory_bytes);
	case OPT_PIDS:
		return parse_count("--pids", arg, &c->pids_max);
	case OPT_TMP_SIZE:
		return parse_size("--tmp-size", arg, &c->tmp_bytes);
	case OPT_WORKSPACE_SIZE:
		return parse_size("--workspace-size", arg, &c->workspace_bytes);
	case OPT_FILE_SIZE:
		return parse_size("--file-size", arg, &c->file_size_max);
	case OPT_NOFILE:
		return parse_count("--nofile", arg, &c->nofile_max);
	case OPT_OUTPUT_LIMIT:
		return parse_size("--output-limit", arg, &c->output_max);
	case OPT_OUTPUT_KILL:
		return parse_size("--output-kill", arg, &c->output_kill);
	case 'e':
		return parse_env(c, arg);
	case OPT_BIND:
		return parse_bind(c, arg);
	case OPT_WORKSPACE:
		return parse_workspace(c, arg);
	case OPT_CWD:
		if (arg[0] != '/')
			return fail("--cwd: must be an absolute path, got '%.64s'", arg);
		c->cwd = arg;
		return 0;
	case OPT_STDIN:
		return parse_nonempty("--stdin", arg, &c->stdin_path);
	case OPT_HOSTNAME:
		return parse_nonempty("--hostname", arg, &c->hostname);
	case OPT_ID:
		return parse_nonempty("--id", arg, &c->id);
	case OPT_ROOTFS:
		return parse_nonempty("--rootfs", arg, &c->rootfs);
	case OPT_NET:
		return parse_net(c, arg);
	case OPT_ALLOW:
		return parse_allow(c, arg);
	case OPT_LANG:
		return parse_lang(c, arg);
	case 'c':
		c->code = arg;
		return 0;
	case OPT_JSON:
		c->json = true;
		return 0;
	case OPT_AUDIT:
		return parse_nonempty("--audit", arg, &c->audit_path);
	case 'q':
		c->verbosity = -1;
		return 0;
	case 'v':
		c->verbosity = c->verbosity < 0 ? 1 : c->verbosity + 1;
		return 0;
	case 'h':
		fputs(usage_text, stdout);
		return 1;
	case OPT_VERSION:
		print_version();
		return 1;
	}
	return fail("internal error: unhandled option %d", opt);
}

/* Parse "run [OPTIONS] [--] REST..." (argv[0] is "run"). */
static int parse_run_args(struct cli *c, int argc, char **argv)
{
	int opt, options_end = 1;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, run_shortopts, run_options, NULL)) != -1) {
		if (opt == '?' || opt == ':')
			return bad_option(opt, argv);
		int r = apply_option(c, opt, optarg);
		if (r != 0)
			return r;
		options_end = optind;
	}
	/* getopt_long() skips a "--" that ends the options, and only then. */
	c->saw_dashdash = optind == options_end + 1 && strcmp(argv[options_end], "--") == 0;
	c->args = argv + optind;
	c->nargs = argc - optind;
	return 0;
}

/* ------------------------------------------------------------------------
 * Validation and preparation: everything that can fail before the sandbox
 * exists, so that a bad command line leaves nothing behind.
 * ---------------------------------------------------------------------- */

/* Read all of @fd, at most @max bytes. */
static int read_all(int fd, size_t max, char **out, size_t *out_len)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;

	for (;;) {
		if (len == cap) {
			/* Room for one byte past @max, to tell "exactly max" from "more". */
			size_t ncap = cap ? cap * 2 : 64 * 1024;
			if (ncap > max + 1)
				ncap = max + 1;
			char *nbuf = realloc(buf, ncap);
			if (!nbuf) {
				free(buf);
				return -ENOMEM;
			}
			buf = nbuf;
			cap = ncap;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			free(buf);
			return -EFBIG;
		}
	}
	*out = buf;
	*out_len = len;
	return 0;
}

static int read_stdin_input(struct cli *c)
{
	bool own = strcmp(c->stdin_path, "-") == 0;
	int fd = own ? STDIN_FILENO : open(c->stdin_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return fail("--stdin: %s: %s", c->stdin_path, strerror(errno));
	int r = read_all(fd, STDIN_MAX, &c->stdin_data, &c->stdin_len);
	if (!own)
		close(fd);
	if (r == -EFBIG)
		return fail("--stdin: %s: larger than %zu MiB", c->stdin_path, STDIN_MAX >> 20);
	if (r < 0)
		return fail("--stdin: %s: %s", c->stdin_path, strerror(-r));
	return 0;
}

static int read_code_file(struct cli *c)
{
	struct stat st;
	int fd = open(c->file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return fail("%s: %s", c->file, strerror(errno));
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return fail("%s: %s", c->file, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		if (S_ISDIR(st.st_mode))
			return fail("%s: %s", c->file, strerror(EISDIR));
		return fail("%s: not a regular file", c->file);
	}
	int r = read_all(fd, FILE_MAX, &c->file_data, &c->file_len);
	close(fd);
	if (r == -EFBIG)
		return fail("%s: larger than %zu MiB", c->file, FILE_MAX >> 20);
	if (r < 0)
		return fail("%s: %s", c->file, strerror(-r));
	c->file_mode = (st.st_mode & 0111) ? 0755 : 0644;
	const char *slash = strrchr(c->file, '/');
	c->file_name = slash ? slash + 1 : c->file;
	if (asprintf(&c->file_inside, SANDBOX_WORKSPACE "%s", c->file_name) < 0) {
		c->file_inside = NULL;
		return fail("out of memory");
	}
	return 0;
}

/* Go cannot run code from an argument: with ARGS, the code goes to a file
 * in the sandbox's /tmp first.  Without ARGS the library does this itself. */
static const char go_code_wrapper[] =
	"d=$(mktemp -d) && printf '%s' \"$1\" >\"$d/main.go\" || exit; shift; "
	"set -- \"$d/main.go\" \"$@\"; " PETRI_GO_BUILD_EXEC;

/* The argv prefix that runs @lang on CODE given as argument(s). */
static size_t code_argv_prefix(const struct cli *c, const char **v)
{
	size_t n = 0;

	if (strcmp(c->lang, "python") == 0) {
		v[n++] = "python3";
		v[n++] = "-c";
		v[n++] = c->code;
	} else if (strcmp(c->lang, "node") == 0) {
		v[n++] = "node";
		v[n++] = "-e";
		v[n++] = c->code;
		v[n++] = "--";
	} else if (strcmp(c->lang, "sh") == 0) {
		v[n++] = "sh";
		v[n++] = "-c";
		v[n++] = c->code;
		v[n++] = "sh";
	} else {
		v[n++] = "sh";
		v[n++] = "-c";
		v[n++] = go_code_wrapper;
		v[n++] = "petri-go";
		v[n++] = c->code;
	}
	return n;
}

/* The argv prefix that runs @lang on the copied FILE. */
static size_t file_argv_prefix(const struct cli *c, const char **v)
{
	size_t n = 0;

	if (strcmp(c->lang, "python") == 0) {
		v[n++] = "python3";
	} else if (strcmp(c->lang, "node") == 0) {
		v[n++] = "node";
	} else if (strcmp(c->lang, "sh") == 0) {
		v[n++] = "sh";
	} else {
		v[n++] = "sh";
		v[n++] = "-c";
		v[n++] = PETRI_GO_BUILD_EXEC;
		v[n++] = "petri-go";
	}
	v[n++] = c->file_inside;
	return n;
}

/* exec_argv: NULL when the library runs c->code itself. */
static int build_exec_argv(struct cli *c)
{
	size_t n = 0;

	if (c->code && c->nargs == 0)
		return 0;
	c->exec_argv = calloc((size_t)c->nargs + 8, sizeof(*c->exec_argv));
	if (!c->exec_argv)
		return fail("out of memory");
	if (c->code)
		n = code_argv_prefix(c, c->exec_argv);
	else if (c->file)
		n = file_argv_prefix(c, c->exec_argv);
	for (int i = 0; i < c->nargs; i++)
		c->exec_argv[n++] = c->args[i];
	c->exec_argv[n] = NULL;
	return 0;
}

int petri_audit_main(int argc, char **argv); /* petri_audit.c */

/* --audit PATH: the stream's file is opened before the sandbox exists, so a
 * bad path fails early and nothing runs unaudited. */
static int audit_open(const struct cli *c, petri_ctx *ctx, petri_audit **out)
{
	petri_audit_opts ao = PETRI_AUDIT_OPTS_INIT;
	petri_error *err = NULL;
	const char *why = NULL;
	*out = NULL;
	if (!c->audit_path)
		return 0;
	ao.sink = PETRI_AUDIT_SINK_FILE;
	ao.path = c->audit_path;
	/* The header says whether kernel events (eBPF) are in the stream. */
	ao.kernel_audit = petri_ctx_kernel_audit(ctx, &why) == 1;
	ao.kernel_audit_reason = ao.kernel_audit ? NULL : why;
	int rc = petri_audit_open(out, &ao, &err);
	if (rc < 0) {
		fail("--audit %s: %s", c->audit_path, petri_error_message(err));
		petri_error_free(err);
		return -1;
	}
	return 0;
}

/* Close the stream; an incomplete stream is petri's failure. */
static int audit_close(const struct cli *c, petri_audit *a)
{
	petri_error *err = NULL;
	if (!a)
		return 0;
	int rc = petri_audit_close(a, &err);
	if (rc < 0) {
		fail("audit stream %s is incomplete: %s", c->audit_path, petri_error_message(err));
		petri_error_free(err);
		return -1;
	}
	return 0;
}

/* Decide what runs: PROGRAM, -c CODE or FILE, and check the combinations. */
static int resolve_target(struct cli *c)
{
	if (c->code && !c->lang)
		return fail("-c needs --lang python|node|go|sh");
	if (!c->lang) {
		if (c->nargs == 0)
			return fail(
				"missing program (usage: petri run [OPTIONS] -- PROGRAM [ARGS...])");
		return 0;
	}
	if (c->code) {
		/* -c CODE FILE is ambiguous: arguments for CODE follow "--". */
		if (c->nargs > 0 && !c->saw_dashdash)
			return fail("give either -c CODE or FILE, not both (arguments for -c "
				    "CODE go after --)");
		return 0;
	}
	if (c->nargs == 0)
		return fail("--lang %s needs -c CODE or FILE", c->lang);
	c->file = c->args[0];
	c->args++;
	c->nargs--;
	return 0;
}

static int validate(struct cli *c)
{
	if (c->allow.n > 0 && !c->net_proxy)
		return fail("--allow needs --net proxy");
	if (c->net_proxy)
		return fail("--net proxy is not available yet");
	if (resolve_target(c) < 0)
		return -1;
	if (c->file && read_code_file(c) < 0)
		return -1;
	if (c->stdin_path && read_stdin_input(c) < 0)
		return -1;
	return build_exec_argv(c);
}

/* Arguments are C strings (no NUL can hide inside), but their number and
 * length are bounded before anything else looks at them. */
static int check_arg_sizes(int argc, char **argv)
{
	if (argc - 1 > ARGS_MAX)
		return fail("too many arguments (%d; at most %d)", argc - 1, ARGS_MAX);
	for (int i = 1; i < argc; i++) {
		size_t len = strnlen(argv[i], ARG_LEN_MAX + 1);
		if (len > ARG_LEN_MAX)
			return fail("argument %d is too long (more than %d bytes)", i, ARG_LEN_MAX);
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Signals: SIGINT, SIGTERM and SIGHUP cancel the running exec.  The handler
 * only records the signal and writes a byte to a pipe; a watcher thread
 * calls petri_sandbox_cancel(), which must not run in a handler.  Handlers
 * (unlike ignored or blocked signals) do not leak into the sandboxed
 * program: execve() resets them.
 * ---------------------------------------------------------------------- */

static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};

static struct {
	int pipe[2];
	volatile sig_atomic_t received;
	pthread_t thread;
	bool running;
	bool quitting;        /* the quit byte was written */
	pthread_mutex_t lock; /* guards sb against destroy, and started */
	pthread_cond_t cond;
	bool started;
	petri_sandbox *sb;
} watcher = {
	.pipe = {-1, -1},
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static void on_stop_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	if (!watcher.received)
		watcher.received = sig;
	ssize_t n = write(watcher.pipe[1], &b, 1);
	(void)n;
	errno = saved;
}

/* SIGPIPE is caught, not ignored, so that write() reports EPIPE here while
 * the sandboxed program still gets the default action after execve(). */
static void on_sigpipe(int sig)
{
	(void)sig;
}

static void cancel_published(void)
{
	pthread_mutex_lock(&watcher.lock);
	if (watcher.sb)
		petri_sandbox_cancel(watcher.sb);
	pthread_mutex_unlock(&watcher.lock);
}

/* After a signal, cancel again every 50 ms: an exec that was just about to
 * start when the first cancel came must not get away. */
static void *watch_signals(void *arg)
{
	bool stopping = false;

	(void)arg;
	pthread_mutex_lock(&watcher.lock);
	watcher.started = true;
	pthread_cond_signal(&watcher.cond);
	pthread_mutex_unlock(&watcher.lock);
	for (;;) {
		struct pollfd pfd = {.fd = watcher.pipe[0], .events = POLLIN};
		unsigned char b = 1;
		if (poll(&pfd, 1, stopping ? 50 : -1) > 0 && read(watcher.pipe[0], &b, 1) == 1) {
			if (b == 0)
				return NULL;
			stopping = true;
		}
		if (stopping)
			cancel_published();
	}
}

static void publish_sandbox(petri_sandbox *sb)
{
	pthread_mutex_lock(&watcher.lock);
	watcher.sb = sb;
	pthread_mutex_unlock(&watcher.lock);
}

static int watcher_start(void)
{
	struct sigaction sa = {.sa_handler = on_stop_signal, .sa_flags = SA_RESTART};
	sigset_t all, old;

	if (pipe2(watcher.pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return fail("pipe: %s", strerror(errno));
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&watcher.thread, NULL, watch_signals, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		return fail("pthread_create: %s", strerror(r));
	watcher.running = true;
	/* Let the thread finish starting before libpetri clones anything: a
	 * child cloned while glibc is half-way through pthread_create() hangs
	 * in its first setresgid() (glibc's setxid waits for that thread). */
	pthread_mutex_lock(&watcher.lock);
	while (!watcher.started)
		pthread_cond_wait(&watcher.cond, &watcher.lock);
	pthread_mutex_unlock(&watcher.lock);

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		sigaction(stop_signals[i], &sa, NULL);
	sa.sa_handler = on_sigpipe;
	sigaction(SIGPIPE, &sa, NULL);
	return 0;
}

/* Ask the thread to end once there is nothing left to cancel; it does so
 * while the sandbox is torn down.  The pipe stays open until exit: a late
 * signal still has somewhere to go (watcher.received). */
static void watcher_quit(void)
{
	unsigned char quit = 0;

	if (watcher.running && !watcher.quitting) {
		write_all(watcher.pipe[1], &quit, 1);
		watcher.quitting = true;
	}
}

static void watcher_stop(void)
{
	if (!watcher.running)
		return;
	watcher_quit();
	pthread_join(watcher.thread, NULL);
	watcher.running = false;
}

/* ------------------------------------------------------------------------
 * Output: live streaming, or one JSON object.
 * ---------------------------------------------------------------------- */

struct stream_state {
	bool broken_pipe;   /* a reader went away: the exec was stopped */
	bool dead[3];       /* stream index -> forwarding failed, dropped since */
	int write_errno[3]; /* first error other than EPIPE */
};

static int on_output(int stream, const char *data, size_t len, void *userdata)
{
	struct stream_state *st = userdata;
	int fd = stream == PETRI_STREAM_STDERR ? STDERR_FILENO : STDOUT_FILENO;

	if (st->dead[fd])
		return 0;
	int r = write_all(fd, data, len);
	if (r == -EPIPE) {
		/* What SIGPIPE would have done to the program writing there. */
		st->broken_pipe = true;
		return 1;
	}
	if (r < 0) {
		st->dead[fd] = true;
		st->write_errno[fd] = -r;
	}
	return 0;
}

/* Length of the well-formed UTF-8 sequence at @s, or 0 with [out] @bad the
 * number of bytes one U+FFFD replaces (the maximal ill-formed subpart, as
 * Unicode recommends).  Overlongs, surrogates and > U+10FFFF are ill-formed. */
static size_t utf8_sequence(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned char c0 = s[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (c0 < 0x80)
		return 1;
	if (c0 >= 0xc2 && c0 <= 0xdf) {
		need = 2;
	} else if (c0 >= 0xe0 && c0 <= 0xef) {
		need = 3;
		lo = c0 == 0xe0 ? 0xa0 : 0x80;
		hi = c0 == 0xed ? 0x9f : 0xbf;
	} else if (c0 >= 0xf0 && c0 <= 0xf4) {
		need = 4;
		lo = c0 == 0xf0 ? 0x90 : 0x80;
		hi = c0 == 0xf4 ? 0x8f : 0xbf;
	} else {
		*bad = 1;
		return 0;
	}
	for (i = 1; i < need && i < n; i++) {
		unsigned char min = i == 1 ? lo : 0x80, max = i == 1 ? hi : 0xbf;
		if (s[i] < min || s[i] > max)
			break;
	}
	if (i == need)
		return need;
	*bad = i;
	return 0;
}

/* A JSON string holding @len bytes of program output. */
static void json_string(FILE *f, const char *data, size_t len)
{
	const unsigned char *s = (const unsigned char *)data;
	size_t i = 0;

	putc('"', f);
	while (i < len) {
		size_t bad = 0, n = utf8_sequence(s + i, len - i, &bad);
		unsigned char ch = s[i];
		if (n == 0) {
			fputs("\\ufffd", f);
			i += bad;
			continue;
		}
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch == '\t')
			fputs("\\t", f);
		else if (ch == '\r')
			fputs("\\r", f);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fwrite(s + i, 1, n, f);
		i += n;
	}
	putc('"', f);
}

static void json_cstring(FILE *f, const char *s)
{
	json_string(f, s ? s : "", s ? strlen(s) : 0);
}

static void json_limits(FILE *f, uint32_t hit)
{
	bool first = true;

	putc('[', f);
	for (uint32_t bit = 1; bit; bit <<= 1) {
		if (!(hit & bit) || !petri_limit_name(bit))
			continue;
		fprintf(f, "%s\"%s\"", first ? "" : ",", petri_limit_name(bit));
		first = false;
	}
	putc(']', f);
}

/* The result as one JSON object on one line.  Returns 0 or -errno. */
/* What --json prints: an exec's result, or (@error set) a program that
 * could not be started. */
struct json_out {
	int exit_code; /* -1: null */
	int signal;    /* 0: null */
	const char *reason, *error;
	double wall_ms, cpu_ms;
	uint64_t peak_memory, out_total, err_total, denials;
	const char *out, *err;
	size_t out_len, err_len;
	bool out_truncated, err_truncated;
	uint32_t limits_hit;
};

static int print_json_out(const struct json_out *j, const petri_sandbox *sb)
{
	FILE *f = stdout;

	if (j->exit_code < 0)
		fputs("{\"exit_code\":null", f);
	else
		fprintf(f, "{\"exit_code\":%d", j->exit_code);
	if (j->signal > 0)
		fprintf(f, ",\"signal\":%d", j->signal);
	else
		fputs(",\"signal\":null", f);
	fputs(",\"reason\":", f);
	json_cstring(f, j->reason);
	if (j->error) {
		fputs(",\"error\":", f);
		json_cstring(f, j->error);
	}
	fprintf(f, ",\"wall_ms\":%.3f,\"cpu_ms\":%.3f,\"peak_memory_bytes\":%llu", j->wall_ms,
		j->cpu_ms, (unsigned long long)j->peak_memory);
	fputs(",\"stdout\":", f);
	json_string(f, j->out ? j->out : "", j->out ? j->out_len : 0);
	fputs(",\"stderr\":", f);
	json_string(f, j->err ? j->err : "", j->err ? j->err_len : 0);
	fprintf(f, ",\"stdout_truncated\":%s,\"stderr_truncated\":%s",
		j->out_truncated ? "true" : "false", j->err_truncated ? "true" : "false");
	fprintf(f, ",\"stdout_total_bytes\":%llu,\"stderr_total_bytes\":%llu",
		(unsigned long long)j->out_total, (unsigned long long)j->err_total);
	fputs(",\"limits_hit\":", f);
	json_limits(f, j->limits_hit);
	fprintf(f, ",\"seccomp_denials\":%llu", (unsigned long long)j->denials);
	fputs(",\"sandbox_id\":", f);
	json_cstring(f, petri_sandbox_id(sb));
	fputs("}\n", f);
	if (fflush(f) != 0 || ferror(f))
		return errno ? -errno : -EIO;
	return 0;
}

static int print_json(const petri_result *res, const petri_sandbox *sb)
{
	int sig = petri_result_signal(res), code = petri_result_exit_code(res);
	struct json_out j = {
		.exit_code = sig > 0 ? -1 : code,
		.signal = sig,
		.reason = petri_reason_name(petri_result_reason(res)),
		.wall_ms = (double)petri_result_wall_ns(res) / 1e6,
		.cpu_ms = (double)petri_result_cpu_ns(res) / 1e6,
		.peak_memory = petri_result_peak_memory_bytes(res),
		.out_total = petri_result_stdout_total(res),
		.err_total = petri_result_stderr_total(res),
		.denials = petri_result_seccomp_denials(res),
		.out_truncated = petri_result_stdout_truncated(res),
		.err_truncated = petri_result_stderr_truncated(res),
		.limits_hit = petri_result_limits_hit(res),
	};
	j.out = petri_result_stdout(res, &j.out_len);
	j.err = petri_result_stderr(res, &j.err_len);
	return print_json_out(&j, sb);
}

/* --json when the program could not be started (126, 127): the same object,
 * reason "failed", exit_code the status, and the library's message. */
static void print_json_failed(const petri_sandbox *sb, int status, const char *msg, double wall_ms)
{
	struct json_out j = {
		.exit_code = status, .reason = "failed", .error = msg, .wall_ms = wall_ms};
	print_json_out(&j, sb);
}

/* ------------------------------------------------------------------------
 * Running.
 * ---------------------------------------------------------------------- */

/* The exit status for a result (see the usage text), or -1 when there is
 * none to give (the sandbox died under the program). */
static int result_status(const petri_result *res, const struct stream_state *st)
{
	int reason = petri_result_reason(res);
	int sig = petri_result_signal(res), code = petri_result_exit_code(res);

	if (reason == PETRI_REASON_TIMEOUT)
		return EXIT_TIMEOUT;
	if (reason == PETRI_REASON_KILLED && st->broken_pipe)
		return 128 + SIGPIPE;
	if (sig > 0)
		return 128 + sig;
	if (code >= 0)
		return code;
	return -1;
}

/* Report a result and pick the exit status. */
static int report(const struct cli *c, const petri_result *res, petri_sandbox *sb,
		  const struct stream_state *st)
{
	int werr = c->json ? -print_json(res, sb) : st->write_errno[STDOUT_FILENO];

	if (werr == EPIPE)
		return 128 + SIGPIPE;
	if (werr != 0) {
		fail("write to stdout: %s", strerror(werr));
		return EXIT_PETRI;
	}
	int status = result_status(res, st);
	if (status < 0) {
		fail("sandbox %s died during the exec (%s)", petri_sandbox_id(sb),
		     petri_reason_name(petri_result_reason(res)));
		return EXIT_PETRI;
	}
	return status;
}

/* One-line error from the library, and the status for it. */
static int library_failure(int rc, petri_error *err, int status)
{
	const char *msg = petri_error_message(err);

	fail("%s", *msg ? msg : strerror(-rc));
	petri_error_free(err);
	return status;
}

static void fill_sandbox_opts(const struct cli *c, petri_sandbox_opts *o)
{
	o->language = c->lang;
	o->id = c->id;
	o->hostname = c->hostname;
	o->rootfs = c->rootfs;
	o->workspace_dir = c->workspace_dir;
	o->binds = strv_or_null(&c->binds);
	o->env = strv_or_null(&c->env);
	o->memory_bytes = c->memory_bytes;
	o->tmp_bytes = c->tmp_bytes;
	o->workspace_bytes = c->workspace_bytes;
	o->pids_max = c->pids_max;
	o->net = c->net;
}

static void fill_exec_opts(const struct cli *c, struct stream_state *st, petri_exec_opts *o)
{
	o->argv = c->exec_argv;
	o->code = c->exec_argv ? NULL : c->code;
	o->language = c->lang;
	o->cwd = c->cwd;
	o->stdin_data = c->stdin_data;
	o->stdin_len = c->stdin_len;
	o->timeout_ms = c->timeout_ms;
	o->cpu_ms = c->cpu_ms;
	o->stdout_max = c->output_max;
	o->stderr_max = c->output_max;
	o->output_kill_bytes = c->output_kill;
	o->file_size_max = c->file_size_max;
	o->nofile_max = c->nofile_max;
	if (!c->json) {
		o->on_output = on_output;
		o->userdata = st;
	}
}

/* Copy FILE in, run, report.  The sandbox exists and is published. */
static int run_in_sandbox(const struct cli *c, petri_sandbox *sb)
{
	petri_exec_opts eo = PETRI_EXEC_OPTS_INIT;
	struct stream_state st = {0};
	petri_result *res = NULL;
	petri_error *err = NULL;
	int rc;

	if (c->file) {
		rc = petri_sandbox_write_file(sb, c->file_name, c->file_data, c->file_len,
					      c->file_mode, &err);
		if (rc < 0)
			return library_failure(rc, err, EXIT_PETRI);
	}
	if (watcher.received)
		return 128 + watcher.received;
	fill_exec_opts(c, &st, &eo);
	eo.flags |= PETRI_EXEC_LAST; /* the sandbox is destroyed after it */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = petri_sandbox_exec(sb, &eo, &res, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* A --cwd that is missing inside (the library's "chdir DIR: ..."): a
	 * bad option, not a program that cannot be found or run. */
	if (rc < 0 && c->cwd && strstr(petri_error_message(err), ": chdir ") != NULL)
		return library_failure(rc, err, EXIT_PETRI);
	if ((rc == -ENOENT || rc == -EACCES) && c->json)
		print_json_failed(sb, rc == -ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC,
				  *petri_error_message(err) ? petri_error_message(err) :
							      strerror(-rc),
				  (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
					  (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	if (rc == -ENOENT)
		return library_failure(rc, err, EXIT_NOTFOUND);
	if (rc == -EACCES)
		return library_failure(rc, err, EXIT_NOEXEC);
	if (rc < 0)
		return library_failure(rc, err,
				       watcher.received ? 128 + watcher.received : EXIT_PETRI);
	int status = report(c, res, sb, &st);
	petri_result_free(res);
	return watcher.received ? 128 + watcher.received : status;
}

static int run(const struct cli *c)
{
	petri_ctx_opts co = PETRI_CTX_OPTS_INIT;
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	petri_ctx *ctx = NULL;
	petri_sandbox *sb = NULL;
	petri_audit *audit = NULL;
	petri_error *err = NULL;
	int rc, status;

	co.log_fn = on_log;
	co.log_level = log_level_for(c->verbosity);
	logger.deferring = c->verbosity <= 0;
	if (watcher_start() < 0)
		return EXIT_PETRI;

	rc = petri_ctx_new(&ctx, &co, &err);
	if (rc < 0) {
		log_release(false);
		status = library_failure(rc, err, EXIT_PETRI);
		goto out;
	}
	if (audit_open(c, ctx, &audit) < 0) {
		log_release(false);
		status = EXIT_PETRI;
		goto out;
	}
	fill_sandbox_opts(c, &so);
	so.audit = audit;
	rc = petri_sandbox_create(ctx, &so, &sb, &err);
	log_release(rc == 0);
	if (rc < 0) {
		status = library_failure(rc, err, EXIT_PETRI);
		goto out;
	}
	publish_sandbox(sb);
	status = run_in_sandbox(c, sb);
	publish_sandbox(NULL);
	watcher_quit();
out:
	/* The context destroys the sandbox: it kills init and ends its own
	 * thread in parallel. */
	petri_ctx_free(ctx);
	if (audit_close(c, audit) < 0)
		status = EXIT_PETRI;
	watcher_stop();
	if (watcher.received)
		status = 128 + watcher.received;
	return status;
}

static int cmd_run(int argc, char **argv)
{
	struct cli c = {0};
	int status;
	int r = parse_run_args(&c, argc, argv);

	if (r > 0)
		status = 0; /* --help or --version */
	else if (r < 0 || validate(&c) < 0)
		status = EXIT_PETRI;
	else
		status = run(&c);
	cli_free(&c);
	return status;
}

int main(int argc, char **argv)
{
	if (check_arg_sizes(argc, argv) < 0)
		return EXIT_PETRI;
	if (argc < 2) {
		fail("missing command (try 'petri --help')");
		return EXIT_PETRI;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		print_version();
		return 0;
	}
	if (strcmp(cmd, "audit") == 0)
		return petri_audit_main(argc - 1, argv + 1);
	fail("unknown command '%.64s' (try 'petri --help')", cmd);
	return EXIT_PETRI;
}
