/*
 * TLSA generation and matching (RFC 6698 §2.1.2-§2.1.4): the selected
 * bytes are the DER certificate (Cert) or DER SubjectPublicKeyInfo (SPKI),
 * given whole (Full) or as their SHA2-256 or SHA2-512 digest.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "danemta/err.h"
#include "danemta/tlsa.h"
#include "danemta/util.h"

/* The digest for a matching type, or NULL for Full(0) and unknown types. */
static const EVP_MD *
mtype_md(uint8_t mtype)
{
	switch (mtype) {
	case TLSA_MTYPE_SHA256:
		return EVP_sha256();
	case TLSA_MTYPE_SHA512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

/* The selected DER bytes; *der is OpenSSL memory (OPENSSL_free). */
static int
cert_selected(X509 *cert, uint8_t selector, unsigned char **der, int *len)
{
	*der = NULL;
	if (selector == TLSA_SELECTOR_CERT)
		*len = i2d_X509(cert, der);
	else if (selector == TLSA_SELECTOR_SPKI)
		*len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), der);
	else
		return -ERR_USAGE;
	return *len > 0 && *der != NULL ? 0 : -ERR_CRYPTO;
}

/* Full or digest of der into out; out->usage etc. set by the caller. */
static int
associate(
    const unsigned char *der, size_t len, uint8_t mtype, struct tlsa_rr *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const EVP_MD *alg;

	if (mtype == TLSA_MTYPE_FULL) {
		if (len > TLSA_RDATA_MAX - 3)
			return -ERR_TOOBIG;
		out->data = xmalloc(len + 1);
		memcpy(out->data, der, len);
		out->len = len;
		return 0;
	}
	if ((alg = mtype_md(mtype)) == NULL)
		return -ERR_USAGE;
	if (!EVP_Digest(der, len, md, &mdlen, alg, NULL))
		return -ERR_CRYPTO;
	out->data = xmalloc(mdlen);
	memcpy(out->data, md, mdlen);
	out->len = mdlen;
	return 0;
}

static int
check_params(uint8_t selector, uint8_t mtype)
{
	if (selector != TLSA_SELECTOR_CERT && selector != TLSA_SELECTOR_SPKI)
		return -ERR_USAGE;
	if (mtype != TLSA_MTYPE_FULL && mtype_md(mtype) == NULL)
		return -ERR_USAGE;
	return 0;
}

/*
 * The record over der (the selected part, len octets) when r is 0; frees
 * der either way.  Returns r or associate()'s error, out cleared on error.
 */
static int
record_from_der(unsigned char *der, int len, int r, uint8_t usage,
    uint8_t selector, uint8_t mtype, struct tlsa_rr *out)
{
	if (r == 0) {
		out->usage = usage;
		out->selector = selector;
		out->mtype = mtype;
		r = associate(der, (size_t)len, mtype, out);
	}
	OPENSSL_free(der);
	if (r < 0)
		tlsa_rr_clear(out);
	return r;
}

int
tlsa_from_cert(X509 *cert, uint8_t usage, uint8_t selector, uint8_t mtype,
    struct tlsa_rr *out)
{
	unsigned char *der = NULL;
	int len = 0, r;

	memset(out, 0, sizeof(*out));
	if (cert == NULL || check_params(selector, mtype) < 0)
		return -ERR_USAGE;
	r = cert_selected(cert, selector, &der, &len);
	return record_from_der(der, len, r, usage, selector, mtype, out);
}

int
tlsa_from_pubkey(EVP_PKEY *key, uint8_t usage, uint8_t selector, uint8_t mtype,
    struct tlsa_rr *out)
{
	unsigned char *der = NULL;
	int len, r;

	memset(out, 0, sizeof(*out));
	if (key == NULL || selector != TLSA_SELECTOR_SPKI ||
	    check_params(selector, mtype) < 0)
		return -ERR_USAGE;
	len = i2d_PUBKEY(key, &der);
	r = len <= 0 || der == NULL ? -ERR_CRYPTO : 0;
	return record_from_der(der, len, r, usage, selector, mtype, out);
}

bool
tlsa_matches_cert(const struct tlsa_rr *rr, X509 *cert)
{
	struct tlsa_rr mine;
	bool match;

	if (rr == NULL || rr->data == NULL ||
	    tlsa_from_cert(cert, rr->usage, rr->selector, rr->mtype, &mine) < 0)
		return false;
	match = mine.len == rr->len &&
	    CRYPTO_memcmp(mine.data, rr->data, rr->len) == 0;
	tlsa_rr_clear(&mine);
	return match;
}
