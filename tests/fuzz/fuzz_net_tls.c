/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_net_tls - libFuzzer target for the TLS ClientHello reader of
 * libpetri/net/sniff.c (petri__net_tls_sni).  An input that starts like a
 * handshake record (0x16) is given as is (the seeds are real ClientHellos
 * made by OpenSSL); any other input is the body of a server_name
 * extension, put into a fixed TLS 1.2 ClientHello, so that the
 * extension's own parser is reached by most inputs.  The result must be
 * one of those documented, a name NUL-terminated and non-empty.  Any
 * crash, leak, undefined behaviour or abort() is a bug.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* policy.c's normaliser is not linked in (sniff.c is fuzzed alone): a
 * stand-in that refuses what no host name has, as the real one does. */
__attribute__((weak)) int petri__net_host_norm(const char *in, size_t len,
					       char out[PETRI_NET_HOST_MAX],
					       struct petri_net_addr *addr)
{
	size_t i;

	if (len && in[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		char c = in[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return -EINVAL;
		out[i] = c;
	}
	out[len] = '\0';
	memset(addr, 0, sizeof(*addr));
	return 0;
}

static void check(const uint8_t *p, size_t n)
{
	char sni[PETRI_NET_HOST_MAX];
	int r;

	memset(sni, 0xa5, sizeof(sni));
	r = petri__net_tls_sni(p, n, sni);
	if (r != 1 && r != 0 && r != -EAGAIN && r != -EINVAL)
		abort();
	if (r == 1 && (!memchr(sni, '\0', sizeof(sni)) || sni[0] == '\0'))
		abort();
	if (r == 0 && sni[0] != '\0')
		abort();
	r = petri__net_sniff_kind(p, n);
	if (r != 0 && r != 1 && r != 2 && r != -EAGAIN)
		abort();
}

static void put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t h[16384];
	size_t n = 0, ext_at, hs_at;

	if (size == 0 || data[0] == 0x16 || size > 4096) {
		check(data, size);
		return 0;
	}
	/* record, handshake header, version, random, no session, one suite,
	 * null compression, extensions: server_name = the input */
	h[n++] = 0x16, h[n++] = 3, h[n++] = 1, n += 2;
	hs_at = n;
	h[n++] = 1, h[n++] = 0, n += 2;
	h[n++] = 3, h[n++] = 3;
	memset(h + n, 0x42, 32), n += 32;
	h[n++] = 0;
	h[n++] = 0, h[n++] = 2, h[n++] = 0xc0, h[n++] = 0x2f;
	h[n++] = 1, h[n++] = 0;
	ext_at = n;
	n += 2;
	h[n++] = 0, h[n++] = 0;
	put16(h + n, size), n += 2;
	memcpy(h + n, data, size), n += size;
	put16(h + ext_at, n - ext_at - 2);
	put16(h + hs_at + 2, n - hs_at - 4);
	put16(h + 3, n - 5);
	check(h, n);
	return 0;
}
