/*
 * TLSA records: wire RDATA (RFC 6698 §2.1), RFC 7218 names, classification
 * into usable and unusable for SMTP (RFC 6698 §4.1, RFC 7672 §3.1.3,
 * RFC 7671 §9) and digest-agility pruning (RFC 7671 §9).  The presentation
 * form is in tlsa_text.c, generation in tlsa_gen.c.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "danemta/buf.h"
#include "danemta/err.h"
#include "danemta/tlsa.h"
#include "danemta/util.h"

struct tlsa_name {
	uint8_t value;
	const char *name;
};

static const struct tlsa_name usage_names[] = {
    {TLSA_USAGE_PKIX_TA, "PKIX-TA"},
    {TLSA_USAGE_PKIX_EE, "PKIX-EE"},
    {TLSA_USAGE_DANE_TA, "DANE-TA"},
    {TLSA_USAGE_DANE_EE, "DANE-EE"},
    {TLSA_USAGE_PRIVATE, "PrivCert"},
};

static const struct tlsa_name selector_names[] = {
    {TLSA_SELECTOR_CERT, "Cert"},
    {TLSA_SELECTOR_SPKI, "SPKI"},
    {TLSA_SELECTOR_PRIVATE, "PrivSel"},
};

static const struct tlsa_name mtype_names[] = {
    {TLSA_MTYPE_FULL, "Full"},
    {TLSA_MTYPE_SHA256, "SHA2-256"},
    {TLSA_MTYPE_SHA512, "SHA2-512"},
    {TLSA_MTYPE_PRIVATE, "PrivMatch"},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

void
tlsa_rr_clear(struct tlsa_rr *rr)
{
	if (rr == NULL)
		return;
	free(rr->data);
	memset(rr, 0, sizeof(*rr));
}

void
tlsa_rr_copy(struct tlsa_rr *dst, const struct tlsa_rr *src)
{
	dst->usage = src->usage;
	dst->selector = src->selector;
	dst->mtype = src->mtype;
	dst->len = src->len;
	/* One spare byte so that an empty record still owns a buffer. */
	dst->data = xmalloc(src->len + 1);
	if (src->len > 0)
		memcpy(dst->data, src->data, src->len);
}

int
tlsa_rdata_parse(const uint8_t *rd, size_t len, struct tlsa_rr *out)
{
	struct rbuf rb;
	const uint8_t *p;

	memset(out, 0, sizeof(*out));
	if (len > TLSA_RDATA_MAX)
		return -ERR_TOOBIG;
	if (len < 3 || rd == NULL)
		return -ERR_FORMAT;
	rbuf_init(&rb, rd, len);
	if (rbuf_get_u8(&rb, &out->usage) < 0 ||
	    rbuf_get_u8(&rb, &out->selector) < 0 ||
	    rbuf_get_u8(&rb, &out->mtype) < 0)
		return -ERR_FORMAT;
	out->len = rbuf_left(&rb);
	if (rbuf_get_ref(&rb, out->len, &p) < 0)
		return -ERR_FORMAT;
	out->data = xmalloc(out->len + 1);
	if (out->len > 0)
		memcpy(out->data, p, out->len);
	return 0;
}

int
tlsa_rdata_encode(const struct tlsa_rr *rr, uint8_t **out, size_t *outlen)
{
	uint8_t *p;

	*out = NULL;
	*outlen = 0;
	if (rr->len > TLSA_RDATA_MAX - 3)
		return -ERR_TOOBIG;
	if (rr->len > 0 && rr->data == NULL)
		return -ERR_USAGE;
	p = xmalloc(rr->len + 3);
	p[0] = rr->usage;
	p[1] = rr->selector;
	p[2] = rr->mtype;
	if (rr->len > 0)
		memcpy(p + 3, rr->data, rr->len);
	*out = p;
	*outlen = rr->len + 3;
	return 0;
}

static const char *
name_of(const struct tlsa_name *t, size_t n, uint8_t v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].value == v)
			return t[i].name;
	return NULL;
}

/* A number 0-255 (at most three digits) or a name from the table. */
static int
value_parse(const struct tlsa_name *t, size_t n, const char *s, uint8_t *out)
{
	size_t i, len;
	unsigned v = 0;

	if (s == NULL)
		return -ERR_FORMAT;
	len = strlen(s);
	if (len >= 1 && len <= 3 && strspn(s, "0123456789") == len) {
		for (i = 0; i < len; i++)
			v = v * 10 + (unsigned)(s[i] - '0');
		if (v > 255)
			return -ERR_RANGE;
		*out = (uint8_t)v;
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (strcasecmp(t[i].name, s) == 0) {
			*out = t[i].value;
			return 0;
		}
	}
	return -ERR_FORMAT;
}

const char *
tlsa_usage_name(uint8_t usage)
{
	return name_of(usage_names, NELEM(usage_names), usage);
}

const char *
tlsa_selector_name(uint8_t selector)
{
	return name_of(selector_names, NELEM(selector_names), selector);
}

const char *
tlsa_mtype_name(uint8_t mtype)
{
	return name_of(mtype_names, NELEM(mtype_names), mtype);
}

int
tlsa_usage_parse(const char *s, uint8_t *out)
{
	return value_parse(usage_names, NELEM(usage_names), s, out);
}

int
tlsa_selector_parse(const char *s, uint8_t *out)
{
	return value_parse(selector_names, NELEM(selector_names), s, out);
}

int
tlsa_mtype_parse(const char *s, uint8_t *out)
{
	return value_parse(mtype_names, NELEM(mtype_names), s, out);
}

size_t
tlsa_mtype_digest_len(uint8_t mtype)
{
	switch (mtype) {
	case TLSA_MTYPE_SHA256:
		return 32;
	case TLSA_MTYPE_SHA512:
		return 64;
	default:
		return 0;
	}
}

/* Does the whole of p..p+len decode as one DER certificate? */
static bool
is_der_cert(const uint8_t *p, size_t len)
{
	const unsigned char *q = p;
	X509 *x;
	bool ok;

	if (len > LONG_MAX)
		return false;
	/* A failed decode is an answer here, not an error to leave queued. */
	(void)ERR_set_mark();
	x = d2i_X509(NULL, &q, (long)len);
	ok = x != NULL && q == p + len;
	X509_free(x);
	(void)ERR_pop_to_mark();
	return ok;
}

static bool
is_der_spki(const uint8_t *p, size_t len)
{
	const unsigned char *q = p;
	EVP_PKEY *k;
	bool ok;

	if (len > LONG_MAX)
		return false;
	(void)ERR_set_mark();
	k = d2i_PUBKEY(NULL, &q, (long)len);
	ok = k != NULL && q == p + len;
	EVP_PKEY_free(k);
	(void)ERR_pop_to_mark();
	return ok;
}

enum tlsa_verdict
tlsa_classify(const struct tlsa_rr *rr)
{
	size_t want;

	if (rr->usage == TLSA_USAGE_PKIX_TA || rr->usage == TLSA_USAGE_PKIX_EE)
		return TLSA_UNUSABLE_PKIX_USAGE;
	if (rr->usage != TLSA_USAGE_DANE_TA && rr->usage != TLSA_USAGE_DANE_EE)
		return TLSA_UNUSABLE_USAGE;
	if (rr->selector != TLSA_SELECTOR_CERT &&
	    rr->selector != TLSA_SELECTOR_SPKI)
		return TLSA_UNUSABLE_SELECTOR;
	if (rr->mtype > TLSA_MTYPE_SHA512)
		return TLSA_UNUSABLE_MTYPE;
	if (rr->len == 0 || rr->data == NULL)
		return TLSA_UNUSABLE_EMPTY;
	if (rr->mtype != TLSA_MTYPE_FULL) {
		want = tlsa_mtype_digest_len(rr->mtype);
		return rr->len == want ? TLSA_USABLE
				       : TLSA_UNUSABLE_DIGEST_LENGTH;
	}
	if (rr->selector == TLSA_SELECTOR_CERT)
		return is_der_cert(rr->data, rr->len) ? TLSA_USABLE
						      : TLSA_UNUSABLE_BAD_CERT;
	return is_der_spki(rr->data, rr->len) ? TLSA_USABLE
					      : TLSA_UNUSABLE_BAD_SPKI;
}

const char *
tlsa_verdict_str(enum tlsa_verdict v)
{
	switch (v) {
	case TLSA_USABLE:
		return "usable";
	case TLSA_UNUSABLE_PKIX_USAGE:
		return "PKIX usages (0, 1) are not used in SMTP";
	case TLSA_UNUSABLE_USAGE:
		return "unknown certificate usage";
	case TLSA_UNUSABLE_SELECTOR:
		return "unknown selector";
	case TLSA_UNUSABLE_MTYPE:
		return "unknown matching type";
	case TLSA_UNUSABLE_EMPTY:
		return "no certificate association data";
	case TLSA_UNUSABLE_DIGEST_LENGTH:
		return "wrong digest length";
	case TLSA_UNUSABLE_BAD_CERT:
		return "association data is not a DER certificate";
	case TLSA_UNUSABLE_BAD_SPKI:
		return "association data is not a DER SubjectPublicKeyInfo";
	case TLSA_UNUSABLE_PRUNED:
		return "a stronger digest of the same usage and selector "
		       "exists";
	}
	return "unknown verdict";
}

size_t
tlsa_verdict_explain(
    const struct tlsa_rr *rr, enum tlsa_verdict v, char *buf, size_t bufsz)
{
	const char *name;
	int n;

	switch (v) {
	case TLSA_UNUSABLE_PKIX_USAGE:
		n = snprintf(buf, bufsz, "%s is not used in SMTP",
		    tlsa_usage_name(rr->usage));
		break;
	case TLSA_UNUSABLE_USAGE:
		n = snprintf(buf, bufsz, "certificate usage %u is not usable",
		    rr->usage);
		break;
	case TLSA_UNUSABLE_SELECTOR:
		n = snprintf(
		    buf, bufsz, "selector %u is not usable", rr->selector);
		break;
	case TLSA_UNUSABLE_MTYPE:
		n = snprintf(
		    buf, bufsz, "matching type %u is not usable", rr->mtype);
		break;
	case TLSA_UNUSABLE_DIGEST_LENGTH:
		name = tlsa_mtype_name(rr->mtype);
		n = snprintf(buf, bufsz,
		    "%s digest must be %zu octets, got %zu",
		    name != NULL ? name : "digest",
		    tlsa_mtype_digest_len(rr->mtype), rr->len);
		break;
	default:
		n = snprintf(buf, bufsz, "%s", tlsa_verdict_str(v));
		break;
	}
	return n < 0 ? 0 : (size_t)n;
}

/* Higher is stronger; 0 for Full(0), which is never pruned. */
static int
digest_strength(uint8_t mtype)
{
	switch (mtype) {
	case TLSA_MTYPE_SHA256:
		return 1;
	case TLSA_MTYPE_SHA512:
		return 2;
	default:
		return 0;
	}
}

void
tlsa_prune_digests(
    const struct tlsa_rr *rrs, enum tlsa_verdict *verdicts, size_t n)
{
	/* Usable records have usage 2 or 3 and selector 0 or 1. */
	int best[2][2] = {{0, 0}, {0, 0}};
	size_t i;
	int u, s;

	for (i = 0; i < n; i++) {
		if (verdicts[i] != TLSA_USABLE || rrs[i].usage < 2 ||
		    rrs[i].usage > 3 || rrs[i].selector > 1)
			continue;
		u = rrs[i].usage - 2;
		s = rrs[i].selector;
		if (digest_strength(rrs[i].mtype) > best[u][s])
			best[u][s] = digest_strength(rrs[i].mtype);
	}
	for (i = 0; i < n; i++) {
		if (verdicts[i] != TLSA_USABLE || rrs[i].usage < 2 ||
		    rrs[i].usage > 3 || rrs[i].selector > 1 ||
		    rrs[i].mtype == TLSA_MTYPE_FULL)
			continue;
		u = rrs[i].usage - 2;
		s = rrs[i].selector;
		if (digest_strength(rrs[i].mtype) < best[u][s])
			verdicts[i] = TLSA_UNUSABLE_PRUNED;
	}
}
