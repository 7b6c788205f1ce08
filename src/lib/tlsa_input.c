/*
 * Certificates, chains and keys from PEM (RFC 7468) or DER bytes, the
 * input of TLSA generation (RFC 6698 §2.1.2: the DER certificate or
 * SubjectPublicKeyInfo).  Strict: every DER object must be consumed whole;
 * an encrypted key is refused rather than prompted for.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "danemta/err.h"
#include "danemta/log.h"
#include "danemta/tlsa.h"
#include "danemta/util.h"

struct input_ctx {
	struct tlsa_input *in;
	char *why;
	size_t whysz;
	int nkeys;
};

/* Record a one-line reason (when the caller wants one) and return err. */
static int
fail(struct input_ctx *c, int err, const char *why)
{
	if (c->why != NULL && c->whysz > 0)
		(void)strlcpy(c->why, why, c->whysz);
	return err;
}

void
tlsa_input_clear(struct tlsa_input *in)
{
	if (in == NULL)
		return;
	sk_X509_pop_free(in->chain, X509_free);
	EVP_PKEY_free(in->key);
	memset(in, 0, sizeof(*in));
}

static int
add_cert(struct input_ctx *c, X509 *x)
{
	if (c->in->chain == NULL)
		c->in->chain = sk_X509_new_null();
	if (c->in->chain == NULL)
		fatalx("tlsa: out of memory");
	if (sk_X509_num(c->in->chain) >= TLSA_CHAIN_MAX) {
		X509_free(x);
		return fail(
		    c, -ERR_TOOBIG, "too many certificates in the chain");
	}
	if (!sk_X509_push(c->in->chain, x))
		fatalx("tlsa: out of memory");
	return 0;
}

static int
add_key(struct input_ctx *c, EVP_PKEY *k)
{
	if (++c->nkeys > 1) {
		EVP_PKEY_free(k);
		return fail(c, -ERR_FORMAT, "more than one key");
	}
	c->in->key = k;
	return 0;
}

/* One PEM block's DER, by its label. */
static int
pem_block(struct input_ctx *c, const char *name, const char *header,
    const unsigned char *der, long len)
{
	const unsigned char *p = der;
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	char msg[96], label[48];

	if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0 ||
	    strstr(header, "ENCRYPTED") != NULL)
		return fail(c, -ERR_UNSUPPORTED,
		    "the key is protected by a passphrase; decrypt it first");
	if (strcmp(name, "CERTIFICATE") == 0 ||
	    strcmp(name, "X509 CERTIFICATE") == 0)
		x = d2i_X509(NULL, &p, len);
	else if (strcmp(name, "TRUSTED CERTIFICATE") == 0)
		x = d2i_X509_AUX(NULL, &p, len);
	else if (strcmp(name, "PUBLIC KEY") == 0)
		k = d2i_PUBKEY(NULL, &p, len);
	else if (strcmp(name, "RSA PUBLIC KEY") == 0)
		k = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, len);
	else if (strcmp(name, "PRIVATE KEY") == 0 ||
	    strcmp(name, "RSA PRIVATE KEY") == 0 ||
	    strcmp(name, "EC PRIVATE KEY") == 0 ||
	    strcmp(name, "DSA PRIVATE KEY") == 0)
		k = d2i_AutoPrivateKey(NULL, &p, len);
	else
		return 0; /* EC PARAMETERS, CRLs...: not ours */
	if ((x == NULL && k == NULL) || p != der + len) {
		X509_free(x);
		EVP_PKEY_free(k);
		(void)snprintf(msg, sizeof(msg), "malformed PEM %s block",
		    log_sanitise(label, sizeof(label), name, strlen(name)));
		return fail(c, -ERR_FORMAT, msg);
	}
	return x != NULL ? add_cert(c, x) : add_key(c, k);
}

static int
parse_pem(struct input_ctx *c, const uint8_t *buf, size_t len)
{
	BIO *bio;
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	long dlen = 0;
	unsigned long e;
	int r = 0, blocks;

	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
		fatalx("tlsa: out of memory");
	for (blocks = 0; r == 0 && blocks <= 4 * TLSA_CHAIN_MAX; blocks++) {
		ERR_clear_error();
		if (!PEM_read_bio(bio, &name, &header, &der, &dlen)) {
			e = ERR_peek_last_error();
			if (blocks == 0 || ERR_GET_LIB(e) != ERR_LIB_PEM ||
			    ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
				r = fail(c, -ERR_FORMAT,
				    "truncated or malformed PEM");
			break;
		}
		r = pem_block(c, name, header, der, dlen);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
		name = header = NULL;
		der = NULL;
	}
	if (r == 0 && blocks > 4 * TLSA_CHAIN_MAX)
		r = fail(c, -ERR_TOOBIG, "too many PEM blocks");
	BIO_free(bio);
	return r;
}

/* Concatenated DER certificates, or a single key. */
static int
parse_der(struct input_ctx *c, const uint8_t *buf, size_t len)
{
	const unsigned char *p = buf, *end = buf + len;
	X509 *x;
	EVP_PKEY *k;
	X509_SIG *sig;
	int r;

	while (p < end && (x = d2i_X509(NULL, &p, (long)(end - p))) != NULL)
		if ((r = add_cert(c, x)) < 0)
			return r;
	if (c->in->chain != NULL)
		return p == end
		    ? 0
		    : fail(c, -ERR_FORMAT, "junk after a DER certificate");
	p = buf;
	if ((k = d2i_PUBKEY(NULL, &p, (long)len)) != NULL && p == end)
		return add_key(c, k);
	EVP_PKEY_free(k);
	p = buf;
	if ((k = d2i_AutoPrivateKey(NULL, &p, (long)len)) != NULL && p == end)
		return add_key(c, k);
	EVP_PKEY_free(k);
	p = buf;
	sig = d2i_X509_SIG(NULL, &p, (long)len);
	X509_SIG_free(sig);
	if (sig != NULL && p == end)
		return fail(c, -ERR_UNSUPPORTED,
		    "the key is protected by a passphrase; decrypt it first");
	return fail(c, -ERR_FORMAT, "not a certificate or key (PEM or DER)");
}

static bool
has_pem_begin(const uint8_t *buf, size_t len, const char *pat, size_t patlen)
{
	size_t i;

	for (i = 0; i + patlen <= len; i++)
		if (memcmp(buf + i, pat, patlen) == 0)
			return true;
	return false;
}

int
tlsa_input_parse(const uint8_t *buf, size_t len, struct tlsa_input *out,
    char *why, size_t whysz)
{
	struct input_ctx c = {out, why, whysz, 0};
	static const char begin[] = "-----BEGIN ";
	int r;

	memset(out, 0, sizeof(*out));
	if (why != NULL && whysz > 0)
		why[0] = '\0';
	if (len > TLSA_INPUT_MAX || len > INT_MAX)
		return fail(&c, -ERR_TOOBIG, "input larger than 1 MiB");
	if (len == 0 || buf == NULL)
		return fail(&c, -ERR_FORMAT, "empty input");
	if (has_pem_begin(buf, len, begin, sizeof(begin) - 1))
		r = parse_pem(&c, buf, len);
	else
		r = parse_der(&c, buf, len);
	if (r == 0 && out->chain == NULL && out->key == NULL)
		r = fail(&c, -ERR_NOTFOUND, "no certificate or key found");
	if (r == 0 && out->chain != NULL && out->key != NULL) {
		/* A certificate with its key: the certificate is the input. */
		EVP_PKEY_free(out->key);
		out->key = NULL;
	}
	ERR_clear_error();
	return r;
}
