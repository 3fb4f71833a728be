/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - the `petri` command-line tool: checks the size of the command
 * line and hands it to the command named first.
 *
 *   petri run [OPTIONS] -- PROGRAM [ARGS...]                      run.c
 *   petri run [OPTIONS] --lang LANG (-c CODE [-- ARGS] | FILE [ARGS])
 *   petri audit cat|json|verify FILE                               audit.c
 *   petri doctor [--json] [--require LAYER[,LAYER...]]              doctor.c
 *   petri --help | --version
 *
 * All the sandbox logic lives in libpetri: the tool only translates.
 * A failure of petri itself is exactly one line "petri: <reason>" on
 * stderr and exit status 125 (cli.h, output.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define ARG_LEN_MAX (64 * 1024) /* longest accepted argument */
#define ARGS_MAX 4096           /* most arguments accepted */

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
		print_usage();
		return 0;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		print_version();
		return 0;
	}
	if (strcmp(cmd, "audit") == 0)
		return cmd_audit(argc - 1, argv + 1);
	if (strcmp(cmd, "doctor") == 0)
		return cmd_doctor(argc - 1, argv + 1);
	fail("unknown command '%.64s' (try 'petri --help')", cmd);
	return EXIT_PETRI;
}
