/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hostcheck.h - which isolation layers really work on this host: the checks
 * behind `petri doctor`, which petrid also runs at start (and refuses to
 * start when its config needs a layer that is missing).
 *
 * Each check tries the real thing where it can (a user namespace with a
 * mapping, a seccomp filter in a forked child, loading a BPF program of each
 * type the audit and the proxy use, a memfd exec) rather than reading
 * version numbers.
 */
#ifndef PETRI_TOOLS_HOSTCHECK_H
#define PETRI_TOOLS_HOSTCHECK_H

#include <stddef.h>
#include <stdio.h>

#include <json-c/json.h>

/* States of one layer. */
#define HC_OK 0       /* works fully */
#define HC_DEGRADED 1 /* works with less (the detail says what is lost) */
#define HC_MISSING 2  /* does not work: configurations that need it fail */

/* Layer names (stable: `petri doctor --require NAME`, petrid's log, JSON). */
#define HC_USERNS "user_namespaces"
#define HC_NAMESPACES "namespaces" /* pid, mount, net, uts, ipc, cgroup */
#define HC_CGROUPS "cgroups"       /* v2 or v1, which controllers */
#define HC_SECCOMP "seccomp"
#define HC_LANDLOCK "landlock"
#define HC_KERNEL_AUDIT "kernel_audit" /* the BPF audit programs load */
#define HC_EGRESS "egress_proxy"       /* net proxy: DNS and proxy sockets on the sandbox lo */
#define HC_MEMFD_EXEC "memfd_exec"
#define HC_SANDBOX "sandbox" /* end to end: a default sandbox runs /bin/true */

struct hostcheck_item {
	const char *layer; /* HC_* name above */
	int state;         /* HC_OK, HC_DEGRADED, HC_MISSING */
	char detail[512];  /* one line: what works, what is lost and why */
};

struct hostcheck_report {
	struct hostcheck_item items[16];
	size_t n;
};

/* Every layer name, in report order, NULL-terminated. */
extern const char *const hostcheck_layers[];
/* The layers a default sandbox cannot run without (the default of `petri
 * doctor --require`), NULL-terminated: user_namespaces, namespaces,
 * seccomp, sandbox.  The others degrade: no cgroup means rlimits, no
 * Landlock one wall less, no memfd exec a slower init, no kernel audit only
 * the library's own events, no egress proxy only `net none|host`. */
extern const char *const hostcheck_default_required[];

/* "ok", "degraded" or "missing". */
const char *hostcheck_state_name(int state);

/* Run every check (tens of ms; forks short-lived children).  Never fails:
 * a check that cannot run reports its layer HC_MISSING with the reason. */
void hostcheck_run(struct hostcheck_report *r);

/* The item for @layer, or NULL for an unknown name. */
const struct hostcheck_item *hostcheck_find(const struct hostcheck_report *r, const char *layer);

/* Print the report, one line per layer, to @f. */
void hostcheck_print(const struct hostcheck_report *r, FILE *f);

/* The report as a JSON object {"layers": {NAME: {"state": "ok|degraded|missing",
 * "detail": ...}}, "ok": bool (no layer missing)}, or NULL on ENOMEM.  Owned
 * by the caller. */
json_object *hostcheck_json(const struct hostcheck_report *r);

#endif /* PETRI_TOOLS_HOSTCHECK_H */
