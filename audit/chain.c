/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chain.c - the hash of the audit chain, SHA-256(prev_hash || record bytes
 * before the hash field) (audit/README.md), computed by OpenSSL's libcrypto
 * (which uses the CPU's SHA extensions where it has them).  One hasher per
 * writer and per reader: the digest is fetched once and the context is
 * reused for every event, so an event costs no allocation and no algorithm
 * lookup.  A hasher is not thread-safe; the writer uses its own under its
 * lock.
 */
#include <errno.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "audit_priv.h"

struct petri__audit_hasher {
	EVP_MD *md;
	EVP_MD_CTX *ctx;
};

int petri__audit_hasher_new(petri__audit_hasher **out)
{
	petri__audit_hasher *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
	h->ctx = EVP_MD_CTX_new();
	if (!h->md || !h->ctx) {
		int r = h->ctx ? -ENOSYS : -ENOMEM; /* no SHA-256 in the providers */
		petri__audit_hasher_free(h);
		return r;
	}
	*out = h;
	return 0;
}

void petri__audit_hasher_free(petri__audit_hasher *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	EVP_MD_free(h->md);
	free(h);
}

int petri__audit_chain_hash(petri__audit_hasher *h, const uint8_t *prev, size_t prev_len,
			    const uint8_t *body, size_t body_len, uint8_t out[PETRI_SHA256_LEN])
{
	unsigned int n = 0;
	if (EVP_DigestInit_ex2(h->ctx, h->md, NULL) != 1 ||
	    (prev_len && EVP_DigestUpdate(h->ctx, prev, prev_len) != 1) ||
	    (body_len && EVP_DigestUpdate(h->ctx, body, body_len) != 1) ||
	    EVP_DigestFinal_ex(h->ctx, out, &n) != 1 || n != PETRI_SHA256_LEN)
		return -EIO;
	return 0;
}
