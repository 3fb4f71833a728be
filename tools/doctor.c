/* SPDX-License-Identifier: Apache-2.0 */
/*
 * doctor.c - `petri doctor [--json] [--require LAYER[,LAYER...]]`: which
 * isolation layers really work on this host (the checks are hostcheck.c's,
 * the same petrid runs at start), what degrades and why.
 *
 * Exit status: 0 when every required layer works (ok or degraded), 1 when
 * one is missing (a line on stderr names each), 2 for a bad command line.
 * Without --require the required layers are those a default sandbox cannot
 * run without (hostcheck_default_required); "all" requires every layer.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "hostcheck.h"

#define EXIT_DOCTOR_MISSING 1
#define EXIT_DOCTOR_USAGE 2
#define MAX_LAYERS 16

static const char doctor_usage[] =
	"Usage: petri doctor [--json] [--require LAYER[,LAYER...]]\n"
	"\n"
	"Try each isolation layer on this host and say which work, which work with\n"
	"less (and what is lost), and which are missing (and why).\n"
	"\n"
	"  --json             one JSON object: {\"layers\": {LAYER: {\"state\", \"detail\"}},\n"
	"                     \"required\": [...], \"missing\": [...], \"ok\": bool}\n"
	"  --require LAYERS   exit 1 unless these layers work (repeatable; \"all\": every\n"
	"                     layer); default: user_namespaces,namespaces,seccomp,sandbox\n"
	"\n"
	"Layers: user_namespaces namespaces cgroups seccomp landlock memfd_exec\n"
	"        kernel_audit egress_proxy sandbox\n"
	"Exit status: 0 every required layer works, 1 one is missing, 2 bad usage.\n";

static bool known_layer(const char *name)
{
	for (size_t i = 0; hostcheck_layers[i]; i++)
		if (strcmp(hostcheck_layers[i], name) == 0)
			return true;
	return false;
}

static bool listed(const char *const *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return true;
	return false;
}

/* Add the comma-separated layers of @arg to @req (no duplicates);
 * 0, or -1 after a one-line error. */
static int add_required(const char *arg, const char **req, size_t *n)
{
	char buf[256];
	if (!*arg || strlen(arg) >= sizeof(buf))
		return fail("doctor: --require needs a list of layers (try 'petri doctor --help')");
	snprintf(buf, sizeof(buf), "%s", arg);
	char *save = NULL;
	int tokens = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		tokens++;
		if (strcmp(t, "all") == 0) {
			for (size_t i = 0; hostcheck_layers[i]; i++)
				if (!listed(req, *n, hostcheck_layers[i]))
					req[(*n)++] = hostcheck_layers[i];
			continue;
		}
		if (!known_layer(t))
			return fail("doctor: unknown layer '%.64s' (known: user_namespaces, "
				    "namespaces, cgroups, seccomp, landlock, memfd_exec, "
				    "kernel_audit, egress_proxy, sandbox, all)",
				    t);
		for (size_t i = 0; hostcheck_layers[i]; i++)
			if (strcmp(hostcheck_layers[i], t) == 0 && !listed(req, *n, t))
				req[(*n)++] = hostcheck_layers[i]; /* static storage */
	}
	if (!tokens)
		return fail("doctor: --require needs a list of layers (try 'petri doctor --help')");
	return 0;
}

static json_object *string_array(const char *const *v, size_t n)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; a && i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

int cmd_doctor(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"require", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool json = false;
	const char *req[MAX_LAYERS];
	size_t nreq = 0;
	bool explicit_req = false;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'r':
			explicit_req = true;
			if (add_required(optarg, req, &nreq) < 0)
				return EXIT_DOCTOR_USAGE;
			break;
		case 'h':
			fputs(doctor_usage, stdout);
			return 0;
		default:
			if (optopt == 'r')
				fail("doctor: --require needs a list of layers");
			else
				fail("doctor: unknown option '%.64s' (try 'petri doctor --help')",
				     argv[optind - 1]);
			return EXIT_DOCTOR_USAGE;
		}
	}
	if (optind < argc) {
		fail("doctor: unexpected argument '%.64s' (try 'petri doctor --help')",
		     argv[optind]);
		return EXIT_DOCTOR_USAGE;
	}
	if (!explicit_req)
		for (size_t i = 0; hostcheck_default_required[i]; i++)
			req[nreq++] = hostcheck_default_required[i];

	struct hostcheck_report rep;
	hostcheck_run(&rep);

	const char *missing[MAX_LAYERS];
	size_t nmissing = 0;
	for (size_t i = 0; i < nreq; i++) {
		const struct hostcheck_item *it = hostcheck_find(&rep, req[i]);
		if (!it || it->state == HC_MISSING)
			missing[nmissing++] = req[i];
	}

	if (json) {
		json_object *o = hostcheck_json(&rep);
		if (!o || json_object_object_add(o, "required", string_array(req, nreq)) < 0 ||
		    json_object_object_add(o, "missing", string_array(missing, nmissing)) < 0 ||
		    json_object_object_add(o, "ok", json_object_new_boolean(nmissing == 0)) < 0) {
			json_object_put(o);
			fail("doctor: out of memory");
			return EXIT_DOCTOR_MISSING;
		}
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		hostcheck_print(&rep, stdout);
	}
	fflush(stdout);
	for (size_t i = 0; i < nmissing; i++) {
		const struct hostcheck_item *it = hostcheck_find(&rep, missing[i]);
		fail("doctor: required layer %s is missing: %s", missing[i],
		     it ? it->detail : "not checked");
	}
	return nmissing ? EXIT_DOCTOR_MISSING : 0;
}
