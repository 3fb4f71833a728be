/* SPDX-License-Identifier: Apache-2.0 */
/*
 * host_norm_standin.c - a minimal, weak petri__net_host_norm for builds
 * without libpetri/net/policy.c (the real one, with IDNA and every IP
 * literal form): lower case, one trailing dot dropped, labels of 1 to 63
 * letters, digits, '-' or '_', at most 253 characters; a dotted-quad IPv4
 * literal sets @addr.  The DNS fuzz target links it (it fuzzes dns.c;
 * policy.c has its own target).
 */
#include <arpa/inet.h>

#include "net/net.h"

__attribute__((weak)) int petri__net_host_norm(const char *in, size_t len,
					       char out[PETRI_NET_HOST_MAX],
					       struct petri_net_addr *addr)
{
	if (len && in[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return -EINVAL;
	char buf[PETRI_NET_HOST_MAX];
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == '.') {
			if (label == 0)
				return -EINVAL;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			   c == '_') {
			if (++label > 63)
				return -EINVAL;
		} else {
			return -EINVAL;
		}
		buf[i] = c;
	}
	if (label == 0)
		return -EINVAL;
	buf[len] = '\0';
	struct in_addr v4;
	memset(addr, 0, sizeof(*addr));
	if (inet_pton(AF_INET, buf, &v4) == 1) {
		addr->family = AF_INET;
		memcpy(addr->a, &v4, 4);
	}
	memcpy(out, buf, len + 1);
	return 0;
}
