/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_net_policy - libFuzzer target for the egress allowlist
 * (libpetri/net/policy.c): the input, whole and line by line, through the
 * host normaliser (what every name a sandbox sends goes through), and its
 * lines as an allowlist through the parser and the matcher.  Besides
 * crashes, leaks and undefined behaviour, it aborts when a property
 * breaks:
 *  - a normalised host is canonical: at most 253 characters of
 *    [a-z0-9-_.] in labels of 1 to 63 (or an address's text), and
 *    normalising it again gives the same text and the same address;
 *  - a parsed policy's ports are distinct, ascending, at most 64, and
 *    hold every rule's port; each rule is found by matching its own name
 *    on its own port; a wildcard never matches its bare name.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "net/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 128

static void must(int cond, const char *what, const char *ctx)
{
	if (!cond) {
		fprintf(stderr, "fuzz_net_policy: %s: '%s'\n", what, ctx);
		abort();
	}
}

static void check_name(const char *s)
{
	size_t n = strlen(s), label = 0;
	must(n >= 1 && n <= 253, "length", s);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			must(label >= 1, "empty label", s);
			label = 0;
			continue;
		}
		must((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_',
		     "character", s);
		must(++label <= 63, "label length", s);
	}
	must(label >= 1, "empty last label", s);
}

static void check_norm(const char *in, size_t len)
{
	char out[PETRI_NET_HOST_MAX];
	struct petri_net_addr a;
	if (petri__net_host_norm(in, len, out, &a) < 0)
		return;
	if (a.family == 0) {
		check_name(out);
	} else {
		must(a.family == AF_INET || a.family == AF_INET6, "family", out);
		char buf[INET6_ADDRSTRLEN];
		must(strcmp(petri__net_addr_str(&a, buf, sizeof(buf)), out) == 0, "address text",
		     out);
		must(petri__net_addr_class(&a, &a, 1) >= 0, "class", out);
		const char *why = NULL;
		int rc = petri__net_dial_check(NULL, &a, NULL, 0, &why);
		must(rc == 0 || (rc == -EACCES && why), "dial check", out);
	}
	char again[PETRI_NET_HOST_MAX];
	struct petri_net_addr b;
	must(petri__net_host_norm(out, strlen(out), again, &b) == 0, "not stable (refused)", out);
	must(strcmp(again, out) == 0, "not stable (text)", out);
	must(b.family == a.family && memcmp(a.a, b.a, sizeof(a.a)) == 0, "not stable (address)",
	     out);
}

static int has_port(const struct petri_net_policy *p, uint16_t port)
{
	for (size_t i = 0; i < p->nports; i++)
		if (p->ports[i] == port)
			return 1;
	return 0;
}

static void check_policy(const struct petri_net_policy *p)
{
	must(p->n > 0 && p->nports > 0 && p->nports <= 64, "counts", "");
	for (size_t i = 1; i < p->nports; i++)
		must(p->ports[i - 1] < p->ports[i], "ports not ascending", "");
	for (size_t i = 0; i < p->n; i++) {
		const struct petri_net_rule *r = &p->rules[i];
		uint16_t port = r->port ? r->port : 443;
		must(r->port != PETRI_NET_DNS_PORT && r->port != PETRI_NET_PROXY_PORT, "port",
		     r->host);
		must(has_port(p, port) && (r->port || has_port(p, 80)), "rule's port not listed",
		     r->host);
		if (r->literal)
			must(r->literal_addr.family != 0 && !r->wildcard, "literal", r->host);
		else
			check_name(r->host);
		const struct petri_net_rule *m = petri__net_policy_match(p, r->host, port);
		if (!r->wildcard) {
			must(m && !m->wildcard && strcmp(m->host, r->host) == 0,
			     "exact rule not found", r->host);
			must(petri__net_policy_match(p, r->host, 0) != NULL, "not found on port 0",
			     r->host);
		} else {
			must(!m || !m->wildcard || strcmp(m->host, r->host) != 0,
			     "wildcard matched its bare name", r->host);
			char sub[PETRI_NET_HOST_MAX + 8];
			snprintf(sub, sizeof(sub), "x.%s", r->host);
			must(petri__net_policy_match(p, sub, port) != NULL, "subdomain not found",
			     r->host);
		}
		const char *why;
		if (r->pinned)
			must(petri__net_dial_check(r, &r->pin, NULL, 0, &why) == 0, "pin refused",
			     r->host);
		if (r->literal)
			must(petri__net_dial_check(r, &r->literal_addr, NULL, 0, &why) == 0,
			     "literal refused", r->host);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 16384)
		return 0;
	check_norm((const char *)data, size);

	char *copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	const char *lines[MAX_LINES + 1];
	size_t n = 0;
	char *s = copy;
	for (;;) {
		char *nl = memchr(s, '\n', (size_t)(copy + size - s));
		if (nl)
			*nl = '\0';
		if (n < MAX_LINES) {
			check_norm(s, strlen(s));
			lines[n++] = s;
		}
		if (!nl)
			break;
		s = nl + 1;
	}
	if (n > 1 && lines[n - 1][0] == '\0')
		n--; /* the final newline ends the last line */
	lines[n] = NULL;

	struct petri_net_policy p;
	petri_error *err = NULL;
	int rc = petri__net_policy_parse(&p, lines, &err);
	if (rc == 0) {
		must(err == NULL, "error set on success", "");
		check_policy(&p);
		for (size_t i = 0; i < n; i++) {
			char h[PETRI_NET_HOST_MAX];
			if (petri__net_host_norm(lines[i], strlen(lines[i]), h, NULL) == 0) {
				petri__net_policy_match(&p, h, 0);
				petri__net_policy_match(&p, h, 80);
				petri__net_policy_match(&p, h, 8080);
			}
		}
		petri__net_policy_free(&p);
	} else {
		must(rc == -EINVAL && err && petri_error_message(err)[0], "error", "");
		must(!strchr(petri_error_message(err), '\n'), "message not one line",
		     petri_error_message(err));
		must(p.rules == NULL && p.n == 0, "policy not empty on error", "");
	}
	petri_error_free(err);
	free(copy);
	return 0;
}
