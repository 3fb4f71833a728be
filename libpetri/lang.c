/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lang.c - everything the library knows about the languages code can be
 * written in: the file the code is written to inside the exec, the argv that
 * runs a source file, and the environment each toolchain needs.  Nothing
 * else (exec.c, sandbox.c, the petri CLI) names a language.
 */
#include <stdio.h>

#include "host.h"

/*
 * Go: not `go run`, which reports every non-zero exit as its own status 1
 * (and a signal as "signal: killed", status 1).  The program is built next
 * to the build cache and executed in the shell's place, so that its exit
 * status, its signal and its argv are its own (os.Args[0] is the built
 * binary).  Like `go run`, without DWARF (a third of a cold link) unless
 * GOFLAGS sets link flags.  $1 is the source file, the rest the program's
 * arguments.
 */
#define GO_BUILD_DIR "/home/sandbox/.cache/petri-go"
#define GO_BUILD_EXEC                                                                              \
	"b=" GO_BUILD_DIR "; l=-ldflags=-w; case \"$GOFLAGS\" in *ldflags*) l=;; esac; "           \
	"mkdir -p \"$b\" && /usr/bin/go build $l -o \"$b/main\" \"$1\" || exit; shift; "           \
	"exec \"$b/main\" \"$@\""

static const char *const python_argv[] = {"/usr/bin/python3", NULL};
static const char *const node_argv[] = {"/usr/bin/node", NULL};
static const char *const go_argv[] = {"/bin/sh", "-c", GO_BUILD_EXEC, "go", NULL};
static const char *const sh_argv[] = {"/bin/sh", NULL};

/* Set for every exec, not only for code in the language: a program run by
 * argv (`go build`, `python3 x.py`) meets the same toolchain settings. */
static const char *const python_env[] = {"PYTHONDONTWRITEBYTECODE=1", NULL};
static const char *const go_env[] = {
	"GOCACHE=/home/sandbox/.cache/go-build",
	"GOPATH=/home/sandbox/go",
	"GOPROXY=off",             /* no network: fail at once, not after a dial */
	"GOTOOLCHAIN=local",       /* never download the toolchain a go.mod asks for */
	"GOFLAGS=-buildvcs=false", /* a /workspace under git is not an error */
	NULL,
};
static const char *const no_env[] = {NULL};

/* The order of petri_language_name() and of the "expected ..." list. */
static const struct petri_lang langs[] = {
	{"python", "main.py", python_argv, python_env},
	{"node", "main.js", node_argv, no_env},
	{"go", "main.go", go_argv, go_env},
	{"sh", "main.sh", sh_argv, no_env},
};

PETRI_API const char *petri_language_name(uint32_t i)
{
	return i < ARRAY_SIZE(langs) ? langs[i].name : NULL;
}

const struct petri_lang *petri__lang_at(size_t i)
{
	return i < ARRAY_SIZE(langs) ? &langs[i] : NULL;
}

const struct petri_lang *petri__lang_find(const char *name, petri_error **err)
{
	char known[64] = "";
	size_t n = ARRAY_SIZE(langs);

	for (size_t i = 0; name && i < n; i++)
		if (strcmp(langs[i].name, name) == 0)
			return &langs[i];
	/* "python, node, go or sh" */
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(known);
		snprintf(known + len, sizeof(known) - len, "%s%s",
			 i == 0     ? "" :
			 i + 1 == n ? " or " :
				      ", ",
			 langs[i].name);
	}
	petri__err(err, EINVAL, "unknown language '%.32s' (expected %s)", name ? name : "", known);
	return NULL;
}
