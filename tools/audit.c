/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit.c - `petri audit cat|json|verify FILE`: read an audit stream
 * (FILE or "-" for stdin) with libpetri's hardened reader.
 *   cat     one human-readable line per event
 *   json    one OCSF-style JSON object per line
 *   verify  exit 0 only for an intact, complete chain (header first,
 *           StreamEnd last); otherwise "first bad seq N: ..." and exit 1
 * cat and json print every good event, then stop at the first bad one (or
 * at an end without StreamEnd) with a one-line error and exit 1; with
 * --no-verify they decode without checking seq, chain or completeness
 * (a damaged stream, or one still being written).  Hostile input gets a one-line error, never a crash.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "petri/audit.h"

#define EXIT_BAD 1   /* the stream is damaged or incomplete */
#define EXIT_USAGE 2 /* bad command line, unreadable file */

static const char usage[] =
	"usage: petri audit cat [--no-verify] FILE\n"
	"       petri audit json [--no-verify] FILE\n"
	"       petri audit verify FILE\n"
	"FILE is a petri.audit.v1 stream (varint-delimited Events); '-' reads stdin.\n";

static int open_reader(const char *file, uint32_t flags, petri_audit_reader **r)
{
	petri_audit_reader_opts o = PETRI_AUDIT_READER_OPTS_INIT;
	petri_error *err = NULL;
	o.flags = flags;
	if (strcmp(file, "-") == 0) {
		o.source = PETRI_AUDIT_SRC_FD;
		o.fd = 0;
	} else {
		o.source = PETRI_AUDIT_SRC_PATH;
		o.path = file;
	}
	if (petri_audit_reader_open(r, &o, &err) < 0) {
		fprintf(stderr, "petri audit: %s\n", petri_error_message(err));
		petri_error_free(err);
		return -1;
	}
	return 0;
}

static int cmd_verify(const char *file)
{
	petri_audit_reader *r;
	if (open_reader(file, 0, &r) < 0)
		return EXIT_USAGE;
	petri_error *err = NULL;
	uint64_t bad = 0;
	int rc = petri_audit_reader_verify(r, &bad, &err);
	if (rc < 0) {
		fprintf(stderr, "petri audit verify: %s: first bad seq %" PRIu64 ": %s\n", file,
			bad, petri_error_message(err));
		petri_error_free(err);
		petri_audit_reader_close(r);
		return EXIT_BAD;
	}
	printf("%s: intact, complete chain\n", file);
	petri_audit_reader_close(r);
	return 0;
}

static int cmd_dump(const char *file, uint32_t format, int no_verify)
{
	petri_audit_reader *r;
	if (open_reader(file, no_verify ? PETRI_AUDIT_READER_F_NO_VERIFY : 0, &r) < 0)
		return EXIT_USAGE;
	petri_error *err = NULL;
	int n, status = 0;
	while ((n = petri_audit_reader_next(r, &err)) > 0) {
		char *line = NULL;
		if (petri_audit_reader_format(r, format, &line, &err) < 0)
			break;
		puts(line);
		petri_free(line);
	}
	/* At the end: a verified stream must also be complete (StreamEnd). */
	if (n == 0 && !err && !no_verify)
		petri_audit_reader_verify(r, NULL, &err);
	if (err) {
		fflush(stdout);
		fprintf(stderr, "petri audit: %s: %s\n", file, petri_error_message(err));
		petri_error_free(err);
		status = EXIT_BAD;
	}
	petri_audit_reader_close(r);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "petri audit: write output: %s\n", strerror(errno));
		status = EXIT_BAD;
	}
	return status;
}

/* argv[0] is "audit". */
int cmd_audit(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
			  strcmp(argv[1], "help") == 0)) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc < 2) {
		fprintf(stderr, "petri audit: missing command (cat, json or verify)\n");
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	int no_verify = 0, i = 2;
	if (i < argc && strcmp(argv[i], "--no-verify") == 0 && strcmp(cmd, "verify") != 0) {
		no_verify = 1;
		i++;
	}
	if (i + 1 != argc) {
		fprintf(stderr,
			"petri audit %.16s: expected exactly one FILE (try 'petri audit --help')\n",
			cmd);
		return EXIT_USAGE;
	}
	const char *file = argv[i];
	if (strcmp(cmd, "verify") == 0)
		return cmd_verify(file);
	if (strcmp(cmd, "cat") == 0)
		return cmd_dump(file, PETRI_AUDIT_FORMAT_TEXT, no_verify);
	if (strcmp(cmd, "json") == 0)
		return cmd_dump(file, PETRI_AUDIT_FORMAT_JSON, no_verify);
	fprintf(stderr, "petri audit: unknown command '%.64s' (cat, json or verify)\n", cmd);
	return EXIT_USAGE;
}
