/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lang.c - how each supported language runs a piece of code: the file the
 * code is written to inside the exec and the interpreter's argv.
 */
#include "sandbox_priv.h"

static const char *const python_argv[] = {"/usr/bin/python3", NULL};
static const char *const node_argv[] = {"/usr/bin/node", NULL};
static const char *const sh_argv[] = {"/bin/sh", NULL};
/* Not `go run`: it reports every non-zero exit as its own status 1 (and a
 * signal as "signal: killed", status 1).  The program is built next to the
 * build cache and executed in the shell's place, so that its exit status,
 * its signal and its argv are its own.  Like `go run`, without DWARF (a
 * third of a cold link) unless GOFLAGS sets link flags.  $1 is the code
 * file. */
static const char *const go_argv[] = {
	"/bin/sh", "-c",
	"b=/home/sandbox/.cache/petri-go; l=-ldflags=-w; case \"$GOFLAGS\" in *ldflags*) l=;; "
	"esac; mkdir -p \"$b\" && /usr/bin/go build $l -o \"$b/main\" \"$1\" || exit; shift; "
	"exec \"$b/main\" \"$@\"",
	"go", NULL};

static const struct petri_lang langs[] = {
	{"python", "main.py", python_argv},
	{"node", "main.js", node_argv},
	{"sh", "main.sh", sh_argv},
	{"go", "main.go", go_argv},
};

const struct petri_lang *petri__lang_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(langs); i++)
		if (strcmp(langs[i].name, name) == 0)
			return &langs[i];
	return NULL;
}
