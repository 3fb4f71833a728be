/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_symbols - the ABI of libpetri.so is exactly the public header:
 *  - every dynamic symbol the library defines is a petri_* function declared
 *    with PETRI_API in include/petri/petri.h (no internal petri__* helper, no
 *    symbol of a static dependency such as libseccomp leaks out);
 *  - every function the header declares is exported;
 *  - petri_version() returns PETRI_VERSION_STRING, which is
 *    "MAJOR.MINOR.PATCH" of the PETRI_VERSION_* macros.
 * The library inspected is the one this test is linked against (found with
 * dladdr), read with `nm -D --defined-only`.
 */
#include <ctype.h>
#include <dlfcn.h>

#include "api_common.h"

#define MAX_SYMS 512

struct names {
	char *v[MAX_SYMS];
	int n;
};

static void add_name(struct names *s, const char *name, size_t len)
{
	REQUIRE(s->n < MAX_SYMS);
	s->v[s->n++] = strndup(name, len);
}

static int has_name(const struct names *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->v[i], name) == 0)
			return 1;
	return 0;
}

/* Function names declared "PETRI_API <type> <name>(" in the header. */
static void header_functions(const char *path, struct names *out)
{
	FILE *f = fopen(path, "re");
	REQUIRE(f);
	char line[1024];
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "PETRI_API ");
		if (!p || strncmp(line, "#", 1) == 0)
			continue;
		char *paren = strchr(p, '(');
		if (!paren)
			continue;
		char *end = paren;
		while (end > p && isspace((unsigned char)end[-1]))
			end--;
		char *start = end;
		while (start > p && (isalnum((unsigned char)start[-1]) || start[-1] == '_'))
			start--;
		if (end > start)
			add_name(out, start, (size_t)(end - start));
	}
	fclose(f);
}

int main(void)
{
	/* 1. Version. */
	char want[64];
	snprintf(want, sizeof(want), "%d.%d.%d", PETRI_VERSION_MAJOR, PETRI_VERSION_MINOR,
		 PETRI_VERSION_PATCH);
	CHECK_MSG(strcmp(PETRI_VERSION_STRING, want) == 0, "PETRI_VERSION_STRING %s, macros say %s",
		  PETRI_VERSION_STRING, want);
	CHECK(petri_version() != NULL);
	CHECK_MSG(petri_version() && strcmp(petri_version(), PETRI_VERSION_STRING) == 0,
		  "petri_version() '%s' != PETRI_VERSION_STRING '%s'", petri_version(),
		  PETRI_VERSION_STRING);

	/* 2. Which library are we linked against? */
	Dl_info info;
	REQUIRE(dladdr((void *)petri_version, &info) && info.dli_fname);
	fprintf(stderr, "library: %s\n", info.dli_fname);
	CHECK_MSG(strstr(info.dli_fname, "libpetri.so") != NULL,
		  "petri_version comes from %s, not the shared library", info.dli_fname);

	const char *src = getenv("PETRI_SOURCE_DIR");
	REQUIRE(src);
	char hdr[4096];
	snprintf(hdr, sizeof(hdr), "%s/include/petri/petri.h", src);
	static struct names declared, exported;
	header_functions(hdr, &declared);
	REQUIRE(declared.n >= 30); /* the parser found the API, not nothing */
	snprintf(hdr, sizeof(hdr), "%s/include/petri/audit.h", src);
	header_functions(hdr, &declared);

	/* 3. Its defined dynamic symbols. */
	char cmd[4400];
	snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s'", info.dli_fname);
	FILE *p = popen(cmd, "r");
	REQUIRE(p);
	char line[1024];
	int versions = 0;
	while (fgets(line, sizeof(line), p)) {
		/* "<addr> <type> <name>[@@VERSION]" */
		char addr[64], type[8], name[900];
		if (sscanf(line, "%63s %7s %899s", addr, type, name) != 3) {
			CHECK_MSG(0, "unparsable nm line: %s", line);
			continue;
		}
		char *at = strchr(name, '@');
		if (at)
			*at = '\0';
		if (strcmp(type, "A") == 0 && strncmp(name, "PETRI_", 6) == 0) {
			versions++; /* the version node of the linker script */
			continue;
		}
		CHECK_MSG(strncmp(name, "petri_", 6) == 0 && strncmp(name, "petri__", 7) != 0,
			  "exported symbol '%s' (type %s) is not public API", name, type);
		CHECK_MSG(has_name(&declared, name),
			  "exported symbol '%s' is not declared PETRI_API in petri.h", name);
		if (!has_name(&exported, name))
			add_name(&exported, name, strlen(name));
	}
	int st = pclose(p);
	REQUIRE(st == 0);
	CHECK_MSG(versions >= 1, "no symbol version node (version script not applied?)");
	for (int i = 0; i < declared.n; i++)
		CHECK_MSG(has_name(&exported, declared.v[i]), "'%s' is declared but not exported",
			  declared.v[i]);
	fprintf(stderr, "%d functions declared, %d exported\n", declared.n, exported.n);
	return petri_test_done();
}
