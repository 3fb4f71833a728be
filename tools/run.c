/* SPDX-License-Identifier: Apache-2.0 */
/*
 * run.c - `petri run`:
 *
 *   petri run [OPTIONS] -- PROGRAM [ARGS...]
 *   petri run [OPTIONS] --lang LANG -c CODE [-- ARGS...]
 *   petri run [OPTIONS] --lang LANG FILE [ARGS...]
 *
 * It parses and validates the whole command line first, then creates one
 * sandbox with libpetri, runs one program (or piece of code) in it, reports
 * the result (output.c: output streamed live, or one JSON object with
 * --json), destroys the sandbox and turns the result into an exit status.
 * Languages are the library's: CODE runs as petri_exec_opts.code with
 * ARGS as .args; FILE is copied into /workspace and run from there as
 * .code_file with ARGS.
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
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "petri/audit.h"

#define STDIN_MAX ((size_t)256 << 20) /* --stdin input kept in memory */
#define FILE_MAX ((size_t)64 << 20)   /* FILE copied into /workspace */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SECRET_FILE_MAX (4096 + 2)       /* a value (4096) and its "\r\n" */
#define DURATION_MAX_MS 1000000000000ull /* ~31 years: deadlines never overflow */
#define LOG_DEFER_MAX (64 * 1024)

#define SANDBOX_WORKSPACE "/workspace/"

/* ------------------------------------------------------------------------
 * Messages of the library.
 * ---------------------------------------------------------------------- */

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
	uint32_t inotify_instances, inotify_watches, sigpending;
	uint64_t msgqueue_bytes;
	uint32_t cpus_milli;
	uint32_t net_max_conns;
	uint64_t net_max_bytes;
	uint32_t net;
	bool net_proxy;
	bool net_given; /* --net was given (else --secret means proxy) */
	const char *hostname, *id, *rootfs;
	char *workspace_dir; /* resolved */
	struct strv binds, env, allow;
	/* --secret NAME@HOSTS[=@FILE]: the value is read in validate(), from
	 * the environment variable NAME or FILE, never from the command line. */
	struct cli_secret {
		char *name;        /* owned; the spec up to '@' */
		struct strv hosts; /* split at ',' */
		const char *file;  /* borrowed from argv, or NULL: the env var */
		char *value;       /* owned, wiped before it is freed */
		size_t value_len;
	} secrets[64];
	size_t nsecrets;
	petri_secret secret_opts[64];
	const petri_secret *secret_list[65];
	const char *upstream_ca;
	const char *audit_path;
	uint64_t audit_max; /* 0: the library's default */
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
};

static void cli_free(struct cli *c)
{
	free(c->workspace_dir);
	strv_free(&c->binds);
	strv_free(&c->env);
	strv_free(&c->allow);
	for (size_t i = 0; i < c->nsecrets; i++) {
		struct cli_secret *cs = &c->secrets[i];
		free(cs->name);
		strv_free(&cs->hosts);
		if (cs->value)
			explicit_bzero(cs->value, cs->value_len);
		free(cs->value);
	}
	free(c->stdin_data);
	free(c->file_data);
	free(c->file_inside);
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

/* CPUS: a decimal number of CPUs, "0.5", "2", "1.25"; stored in thousandths
 * (digits past the third decimal are dropped).  The library checks the range
 * (at least 0.01, at most the CPUs online). */
static int parse_cpus(const char *opt, const char *s, uint32_t *out)
{
	const char *p = s;
	uint64_t ip, frac, scale, milli;
	int r = parse_decimal(&p, &ip, &frac, &scale);

	if (r == -ERANGE)
		return fail("%s: invalid number of CPUs '%.64s' (too large)", opt, s);
	if (r < 0 || *p != '\0')
		return fail(
			"%s: invalid number of CPUs '%.64s' (a decimal number such as 0.5 or 2)",
			opt, s);
	if (scale_decimal(ip, frac, scale, 1000, &milli) < 0 || milli > UINT32_MAX)
		return fail("%s: invalid number of CPUs '%.64s' (too large)", opt, s);
	if (milli == 0)
		return fail("%s: invalid number of CPUs '%.64s' (must be greater than 0)", opt, s);
	*out = (uint32_t)milli;
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

/* The options of --bind: a comma-separated list of ro, rw, sockets. */
static int check_bind_opts(const char *opts, const char *s)
{
	int modes = 0;
	for (const char *o = opts; o;) {
		const char *comma = strchr(o, ',');
		size_t n = comma ? (size_t)(comma - o) : strlen(o);
		if ((n == 2 && (strncmp(o, "rw", 2) == 0 || strncmp(o, "ro", 2) == 0)))
			modes++;
		else if (!(n == 7 && strncmp(o, "sockets", 7) == 0))
			return fail("--bind: invalid option '%.*s' in '%.64s' (expected ro, rw or "
				    "sockets)",
				    (int)(n > 16 ? 16 : n), o, s);
		o = comma ? comma + 1 : NULL;
	}
	if (modes > 1)
		return fail("--bind: more than one of ro and rw in '%.64s'", s);
	return 0;
}

/* --bind SRC:DST[:ro|rw][,sockets].  SRC must exist; it is passed on
 * resolved, so that a relative path means what it means here. */
static int parse_bind(struct cli *c, const char *s)
{
	const char *c1 = strchr(s, ':');
	const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	const char *mode = c2 ? c2 + 1 : NULL;

	if (!c1 || c1 == s || (c2 ? c2 : c1 + strlen(c1)) == c1 + 1)
		return fail("--bind: expected SRC:DST[:ro|rw][,sockets], got '%.64s'", s);
	if (mode && check_bind_opts(mode, s) < 0)
		return -1;
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

/* --allow HOST[:PORT][=ADDR]: the library checks each entry (one parser,
 * petri__net_policy_parse) and says which one is wrong. */
static int parse_allow(struct cli *c, const char *s)
{
	return strv_push(&c->allow, s);
}

static int parse_net(struct cli *c, const char *s)
{
	c->net_proxy = false;
	c->net_given = true;
	if (strcmp(s, "none") == 0) {
		c->net = PETRI_NET_NONE;
	} else if (strcmp(s, "host") == 0) {
		c->net = PETRI_NET_HOST;
	} else if (strcmp(s, "proxy") == 0) {
		c->net = PETRI_NET_PROXY;
		c->net_proxy = true;
	} else {
		return fail("--net: unknown mode '%.64s' (expected none, proxy or host)", s);
	}
	return 0;
}

static int parse_lang(struct cli *c, const char *s)
{
	char known[128];

	for (uint32_t i = 0; petri_language_name(i); i++) {
		if (strcmp(s, petri_language_name(i)) == 0) {
			c->lang = petri_language_name(i);
			return 0;
		}
	}
	language_list(known, sizeof(known));
	return fail("--lang: unknown language '%.64s' (expected %s)", s, known);
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

/*
 * --secret NAME@HOST[,HOST...] or NAME@HOST[,HOST...]=@FILE (README
 * "Secrets").  Only the shape is checked here; the library checks the
 * name and the hosts (one parser), and the value is read in validate().
 * No message ever shows a value: there is none on the command line.
 */
#define SECRET_SPEC "NAME@HOST[,HOST...][=@FILE]"
static int read_all(int fd, size_t max, char **out, size_t *out_len);

static int parse_secret(struct cli *c, const char *s)
{
	const char *at = strchr(s, '@');
	if (!at || at == s || !at[1])
		return fail("--secret: expected %s, got '%.64s'", SECRET_SPEC, s);
	if (c->nsecrets == ARRAY_SIZE(c->secrets))
		return fail("--secret: more than %zu secrets", ARRAY_SIZE(c->secrets));
	struct cli_secret *cs = &c->secrets[c->nsecrets];
	const char *hosts = at + 1, *file = strstr(hosts, "=@");
	size_t hlen = file ? (size_t)(file - hosts) : strlen(hosts);
	if (file && !file[2])
		return fail("--secret %.*s: '=@' needs a FILE", (int)(at - s), s);
	if (hlen == 0)
		return fail("--secret %.*s: no HOST (expected %s)", (int)(at - s), s, SECRET_SPEC);
	/* NAME is also the variable the value is read from: a shell name. */
	size_t nlen = (size_t)(at - s);
	bool name_ok = nlen <= 64 && !is_digit(s[0]);
	for (size_t i = 0; i < nlen && name_ok; i++)
		name_ok = s[i] == '_' || is_digit(s[i]) || (s[i] >= 'A' && s[i] <= 'Z') ||
			  (s[i] >= 'a' && s[i] <= 'z');
	if (!name_ok)
		return fail("--secret %.*s: NAME must match [A-Za-z_][A-Za-z0-9_]{0,63}",
			    (int)(nlen > 64 ? 64 : nlen), s);
	cs->name = strndup(s, nlen);
	char *list = strndup(hosts, hlen);
	if (!cs->name || !list) {
		free(list);
		free(cs->name);
		cs->name = NULL;
		return fail("out of memory");
	}
	c->nsecrets++; /* cli_free() frees it from here on */
	cs->file = file ? file + 2 : NULL;
	int r = 0;
	for (char *h = list, *next; h && r == 0; h = next) {
		next = strchr(h, ',');
		if (next)
			*next++ = '\0';
		if (!*h)
			r = fail("--secret %s: empty HOST in '%.64s'", cs->name, hosts);
		else
			r = strv_push(&cs->hosts, h);
	}
	free(list);
	return r;
}

/* A secret's value: the environment variable NAME, or the whole FILE with
 * a single trailing newline ("\n" or "\r\n") dropped.  Empty: refused. */
static int read_secret_value(struct cli_secret *cs)
{
	if (!cs->file) {
		const char *v = getenv(cs->name);
		if (!v || !*v)
			return fail("--secret %s: the environment variable %s is not set or empty "
				    "(the value comes from it, or use %s@HOSTS=@FILE)",
				    cs->name, cs->name, cs->name);
		cs->value_len = strlen(v);
		cs->value = strdup(v);
		if (!cs->value)
			return fail("out of memory");
		/* Not left in petri's own environment for the whole run: the
		 * bytes are wiped where they are (what /proc/PID/environ shows,
		 * and what a child would inherit), then the variable goes. */
		explicit_bzero((char *)v, cs->value_len);
		unsetenv(cs->name);
		return 0;
	}
	int fd = open(cs->file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail("--secret %s: %s: %s", cs->name, cs->file, strerror(errno));
	int r = read_all(fd, SECRET_FILE_MAX, &cs->value, &cs->value_len);
	close(fd);
	if (r == -EFBIG)
		return fail("--secret %s: %s: larger than %d bytes", cs->name, cs->file,
			    SECRET_FILE_MAX);
	if (r < 0)
		return fail("--secret %s: %s: %s", cs->name, cs->file, strerror(-r));
	if (cs->value_len && cs->value[cs->value_len - 1] == '\n')
		cs->value_len--;
	if (cs->value_len && cs->value[cs->value_len - 1] == '\r')
		cs->value_len--;
	if (cs->value_len == 0)
		return fail("--secret %s: %s is empty", cs->name, cs->file);
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
 * Option parsing.
 * ---------------------------------------------------------------------- */

enum {
	OPT_TIMEOUT = 256,
	OPT_CPU,
	OPT_MEMORY,
	OPT_PIDS,
	OPT_CPUS,
	OPT_TMP_SIZE,
	OPT_WORKSPACE_SIZE,
	OPT_FILE_SIZE,
	OPT_NOFILE,
	OPT_OUTPUT_LIMIT,
	OPT_OUTPUT_KILL,
	OPT_INOTIFY_INSTANCES,
	OPT_INOTIFY_WATCHES,
	OPT_SIGPENDING,
	OPT_MSGQUEUE,
	OPT_BIND,
	OPT_WORKSPACE,
	OPT_CWD,
	OPT_STDIN,
	OPT_HOSTNAME,
	OPT_ID,
	OPT_ROOTFS,
	OPT_NET,
	OPT_ALLOW,
	OPT_SECRET,
	OPT_UPSTREAM_CA,
	OPT_NET_MAX_CONNS,
	OPT_NET_MAX_BYTES,
	OPT_LANG,
	OPT_JSON,
	OPT_AUDIT,
	OPT_AUDIT_MAX,
	OPT_VERSION,
};

static const struct option run_options[] = {
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"cpu", required_argument, NULL, OPT_CPU},
	{"memory", required_argument, NULL, OPT_MEMORY},
	{"pids", required_argument, NULL, OPT_PIDS},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"tmp-size", required_argument, NULL, OPT_TMP_SIZE},
	{"workspace-size", required_argument, NULL, OPT_WORKSPACE_SIZE},
	{"file-size", required_argument, NULL, OPT_FILE_SIZE},
	{"nofile", required_argument, NULL, OPT_NOFILE},
	{"output-limit", required_argument, NULL, OPT_OUTPUT_LIMIT},
	{"output-kill", required_argument, NULL, OPT_OUTPUT_KILL},
	{"inotify-instances", required_argument, NULL, OPT_INOTIFY_INSTANCES},
	{"inotify-watches", required_argument, NULL, OPT_INOTIFY_WATCHES},
	{"sigpending", required_argument, NULL, OPT_SIGPENDING},
	{"msgqueue", required_argument, NULL, OPT_MSGQUEUE},
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
	{"secret", required_argument, NULL, OPT_SECRET},
	{"upstream-ca", required_argument, NULL, OPT_UPSTREAM_CA},
	{"net-max-conns", required_argument, NULL, OPT_NET_MAX_CONNS},
	{"net-max-bytes", required_argument, NULL, OPT_NET_MAX_BYTES},
	{"lang", required_argument, NULL, OPT_LANG},
	{"code", required_argument, NULL, 'c'},
	{"json", no_argument, NULL, OPT_JSON},
	{"audit", required_argument, NULL, OPT_AUDIT},
	{"audit-max", required_argument, NULL, OPT_AUDIT_MAX},
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

/* --audit-max SIZE|unlimited: the stream's size bound (petri_audit_opts
 * .max_bytes), at least PETRI_AUDIT_MAX_BYTES_MIN. */
static int parse_audit_max(struct cli *c, const char *arg)
{
	if (strcmp(arg, "unlimited") == 0) {
		c->audit_max = PETRI_AUDIT_MAX_BYTES_UNLIMITED;
		return 0;
	}
	if (parse_size("--audit-max", arg, &c->audit_max) < 0)
		return -1;
	if (c->audit_max == PETRI_AUDIT_MAX_BYTES_UNLIMITED)
		return fail("--audit-max: invalid size '%.64s' (too large; or 'unlimited')", arg);
	if (c->audit_max < PETRI_AUDIT_MAX_BYTES_MIN)
		return fail("--audit-max: invalid size '%.64s' (at least 256K, or 'unlimited')",
			    arg);
	return 0;
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
	case OPT_CPUS:
		return parse_cpus("--cpus", arg, &c->cpus_milli);
	case OPT_TMP_SIZE:
		return parse_size("--tmp-size", arg, &c->tmp_bytes);
	case OPT_WORKSPACE_SIZE:
		return parse_size("--workspace-size", arg, &c->workspace_bytes);
	case OPT_FILE_SIZE:
		return parse_size("--file-size", arg, &c->file_size_max);
	case OPT_NOFILE:
		return parse_count("--nofile", arg, &c->nofile_max);
	case OPT_INOTIFY_INSTANCES:
		return parse_count("--inotify-instances", arg, &c->inotify_instances);
	case OPT_INOTIFY_WATCHES:
		return parse_count("--inotify-watches", arg, &c->inotify_watches);
	case OPT_SIGPENDING:
		return parse_count("--sigpending", arg, &c->sigpending);
	case OPT_MSGQUEUE:
		return parse_size("--msgqueue", arg, &c->msgqueue_bytes);
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
	case OPT_SECRET:
		return parse_secret(c, arg);
	case OPT_UPSTREAM_CA:
		return parse_nonempty("--upstream-ca", arg, &c->upstream_ca);
	case OPT_NET_MAX_CONNS:
		return parse_count("--net-max-conns", arg, &c->net_max_conns);
	case OPT_NET_MAX_BYTES:
		return parse_size("--net-max-bytes", arg, &c->net_max_bytes);
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
	case OPT_AUDIT_MAX:
		return parse_audit_max(c, arg);
	case 'q':
		c->verbosity = -1;
		return 0;
	case 'v':
		c->verbosity = c->verbosity < 0 ? 1 : c->verbosity + 1;
		return 0;
	case 'h':
		print_usage();
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

/* --audit PATH: the stream's file is opened before the sandbox exists, so a
 * bad path fails early and nothing runs unaudited. */
static int audit_open(const struct cli *c, petri_ctx *ctx, petri_audit **out)
{
	petri_audit_opts ao = PETRI_AUDIT_OPTS_INIT;
	petri_error *err = NULL;
	*out = NULL;
	if (!c->audit_path)
		return 0;
	ao.sink = PETRI_AUDIT_SINK_FILE;
	ao.path = c->audit_path;
	ao.max_bytes = c->audit_max;
	/* The header says whether kernel events (eBPF) are in the stream: the
	 * library loads them on another thread while the sandbox is created,
	 * and seals the header once it knows (petri_audit_open). */
	ao.ctx = ctx;
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
	if (c->code && !c->lang) {
		char known[128];
		language_list(known, sizeof(known));
		return fail("-c needs --lang LANG (%s)", known);
	}
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
	if (c->audit_max && !c->audit_path)
		return fail("--audit-max needs --audit PATH");
	if (c->nsecrets && !c->net_given) {
		/* A secret is only ever sent through the proxy: it is the mode
		 * --secret asks for unless another was named. */
		c->net = PETRI_NET_PROXY;
		c->net_proxy = true;
	}
	if (c->nsecrets && !c->net_proxy)
		return fail("--secret needs --net proxy (secrets are only ever sent through it)");
	if (c->upstream_ca && !c->nsecrets)
		return fail("--upstream-ca needs --secret (it verifies secret-bound hosts only)");
	if (c->net_proxy && c->allow.n == 0 && c->nsecrets == 0)
		return fail("--net proxy needs at least one --allow HOST[:PORT][=ADDR] or "
			    "--secret " SECRET_SPEC);
	for (size_t i = 0; i < c->nsecrets; i++)
		if (read_secret_value(&c->secrets[i]) < 0)
			return -1;
	if ((c->net_max_conns || c->net_max_bytes) && !c->net_proxy)
		return fail("--net-max-conns and --net-max-bytes need --net proxy");
	if (resolve_target(c) < 0)
		return -1;
	if (c->file && read_code_file(c) < 0)
		return -1;
	if (c->stdin_path && read_stdin_input(c) < 0)
		return -1;
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
	pthread_mutex_t lock; /* guards sb against destroy */
	petri_sandbox *sb;
} watcher = {
	.pipe = {-1, -1},
	.lock = PTHREAD_MUTEX_INITIALIZER,
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
	/* Not waited for: it needs to run only once a signal comes.  (A child
	 * cloned meanwhile never calls glibc's set*id(), which would wait for
	 * a thread half-way through pthread_create(): libpetri's children
	 * change ids by raw system calls.) */

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

/* Not joined: waiting for it to be scheduled and end would delay the
 * exit, which ends it anyway (it touches nothing but the pipe and, under
 * the lock, the published sandbox, which is NULL by now). */
static void watcher_stop(void)
{
	if (!watcher.running)
		return;
	watcher_quit();
	pthread_detach(watcher.thread);
	watcher.running = false;
}

/* ------------------------------------------------------------------------
 * Running.
 * ---------------------------------------------------------------------- */

static void fill_sandbox_opts(struct cli *c, petri_sandbox_opts *o)
{
	for (size_t i = 0; i < c->nsecrets; i++) {
		petri_secret *s = &c->secret_opts[i];
		*s = (petri_secret)PETRI_SECRET_INIT;
		s->name = c->secrets[i].name;
		s->value = c->secrets[i].value;
		s->value_len = c->secrets[i].value_len;
		s->hosts = strv_or_null(&c->secrets[i].hosts);
		c->secret_list[i] = s;
	}
	c->secret_list[c->nsecrets] = NULL;
	o->secrets = c->nsecrets ? c->secret_list : NULL;
	o->upstream_ca = c->upstream_ca;
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
	o->inotify_instances_max = c->inotify_instances;
	o->inotify_watches_max = c->inotify_watches;
	o->sigpending_max = c->sigpending;
	o->msgqueue_bytes = c->msgqueue_bytes;
	o->cpus_milli = c->cpus_milli;
	o->net = c->net;
	o->allow = strv_or_null(&c->allow);
	o->net_max_conns = c->net_max_conns;
	o->net_max_bytes = c->net_max_bytes;
}

static void fill_exec_opts(const struct cli *c, struct stream_state *st, petri_exec_opts *o)
{
	/* c->args ends with argv's own NULL. */
	const char *const *args = c->nargs ? (const char *const *)c->args : NULL;

	if (c->code) {
		o->code = c->code;
		o->args = args;
	} else if (c->file) {
		o->code_file = c->file_inside;
		o->args = args;
	} else {
		o->argv = args;
	}
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
		report_failed_json(sb, rc == -ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC,
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
	int status = report_result(res, sb, c->json, &st);
	petri_result_free(res);
	return watcher.received ? 128 + watcher.received : status;
}

static int run(struct cli *c)
{
	petri_ctx_opts co = PETRI_CTX_OPTS_INIT;
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	petri_ctx *ctx = NULL;
	petri_sandbox *sb = NULL;
	petri_audit *audit = NULL;
	petri_error *err = NULL;
	int rc, status;

	/* This thread outlives the sandbox: no supervisor thread needed. */
	co.flags |= PETRI_CTX_F_CALLER_THREAD;
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
	so.flags |= PETRI_SANDBOX_F_ONE_EXEC; /* its one exec is its last */
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

int cmd_run(int argc, char **argv)
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
