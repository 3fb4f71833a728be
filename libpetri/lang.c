/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lang.c - how each supported language runs a piece of code: the file the
 * code is written to inside the exec and the interpreter's argv.
 */
#include "lang_go.h"
#include "host.h"

static const char *const python_argv[] = {"/usr/bin/python3", NULL};
static const char *const node_argv[] = {"/usr/bin/node", NULL};
static const char *const sh_argv[] = {"/bin/sh", NULL};
static const char *const go_argv[] = {"/bin/sh", "-c", PETRI_GO_BUILD_EXEC, "go", NULL};

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
