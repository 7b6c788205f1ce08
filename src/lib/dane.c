/*
 * OpenSSL DANE glue for SMTP (RFC 7672 §3.1-§3.2, §8.1; RFC 7671 §5, §9,
 * §10): DANE-EE without name or date checks, DANE-TA with name checks
 * against the RFC 7672 §3.2.2 reference identifiers, PKIX usages never
 * used, no local trust anchors, and the post-handshake facts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "danemta/buf.h"
#include "danemta/dane.h"
#include "danemta/err.h"
#include "danemta/log.h"
#include "danemta/util.h"

struct dane_ctx {
	SSL_CTX *ssl_ctx;
};

int
dane_ctx_new(struct dane_ctx **out)
{
	struct dane_ctx *ctx = NULL;
	SSL_CTX *sc = NULL;
	int r = -ERR_TLS;

	*out = NULL;
	if ((sc = SSL_CTX_new(TLS_client_method())) == NULL)
		goto out;
	if (SSL_CTX_set_min_proto_version(sc, TLS1_2_VERSION) != 1)
		goto out;
	/* Verification results are recorded, never enforced by OpenSSL:
	 * the session decides (and logs) what a failure means. */
	SSL_CTX_set_verify(sc, SSL_VERIFY_NONE, NULL);
	if (SSL_CTX_dane_enable(sc) <= 0)
		goto out;
	/* Agility: a higher ordinal is preferred (RFC 7671 §9). */
	if (SSL_CTX_dane_mtype_set(sc, EVP_sha256(), TLSA_MTYPE_SHA256, 1) <= 0)
		goto out;
	if (SSL_CTX_dane_mtype_set(sc, EVP_sha512(), TLSA_MTYPE_SHA512, 2) <= 0)
		goto out;
	/* Session resumption would skip verification on the second
	 * connection; each delivery attempt authenticates afresh. */
	SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
	(void)SSL_CTX_set_options(sc, SSL_OP_NO_TICKET);
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->ssl_ctx = sc;
	sc = NULL;
	*out = ctx;
	r = 0;
out:
	if (r < 0)
		log_warnx("tls: cannot create the client context");
	SSL_CTX_free(sc);
	return r;
}

void
dane_ctx_free(struct dane_ctx *ctx)
{
	if (ctx == NULL)
		return;
	SSL_CTX_free(ctx->ssl_ctx);
	free(ctx);
}

/*
 * Add one record: 1 added, 0 not.  SSL_dane_tlsa_add's 0 (unusable) and
 * <0 (error) both leave the record out, which can only narrow what
 * authenticates; a session with no record left fails DANE.
 */
static int
dane_add_record(SSL *ssl, const struct tlsa_rr *rr)
{
	char err[160];
	int n;

	/* PKIX-TA(0) and PKIX-EE(1) are not used in SMTP (RFC 7672 §3.1.3),
	 * although OpenSSL would accept them. */
	if (rr->usage != TLSA_USAGE_DANE_TA &&
	    rr->usage != TLSA_USAGE_DANE_EE) {
		log_info("DANE: record %u %u %u ignored (PKIX usage)",
		    rr->usage, rr->selector, rr->mtype);
		return 0;
	}
	n = SSL_dane_tlsa_add(
	    ssl, rr->usage, rr->selector, rr->mtype, rr->data, rr->len);
	if (n > 0)
		return 1;
	ERR_error_string_n(ERR_peek_last_error(), err, sizeof(err));
	ERR_clear_error();
	log_warnx("DANE: record %u %u %u %s by OpenSSL (%s)", rr->usage,
	    rr->selector, rr->mtype, n == 0 ? "unusable" : "refused", err);
	return 0;
}

static int
dane_ssl_setup(SSL *ssl, const struct dane_params *p, size_t *nadded)
{
	size_t i;

	if (SSL_dane_enable(ssl, p->sni) <= 0)
		return -ERR_TLS;
	/* RFC 7672 §3.2.1: DANE-EE authenticates the key, not a name. */
	(void)SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	/* RFC 7672 §3.2.3: '*' only as the whole leftmost label; OpenSSL
	 * never matches multi-label wildcards unless asked. */
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	for (i = 0; i < p->nrefids; i++) {
		if (p->refids[i] == NULL || p->refids[i][0] == '\0' ||
		    strcasecmp(p->refids[i], p->sni) == 0)
			continue;
		if (SSL_add1_host(ssl, p->refids[i]) != 1)
			return -ERR_TLS;
	}
	for (i = 0; i < p->ntlsa; i++)
		*nadded += (size_t)dane_add_record(ssl, p->tlsa[i]);
	return 0;
}

int
dane_ssl_new(struct dane_ctx *ctx, const struct dane_params *p, SSL **out,
    size_t *nadded)
{
	SSL *ssl = NULL;
	int r = -ERR_TLS;

	*out = NULL;
	*nadded = 0;
	if (p->dane && (p->sni == NULL || p->sni[0] == '\0'))
		return -ERR_USAGE;
	if ((ssl = SSL_new(ctx->ssl_ctx)) == NULL)
		goto out;
	if (p->dane) {
		if ((r = dane_ssl_setup(ssl, p, nadded)) < 0)
			goto out;
	} else if (p->sni != NULL && p->sni[0] != '\0') {
		if (SSL_set_tlsext_host_name(ssl, p->sni) != 1) {
			r = -ERR_TLS;
			goto out;
		}
	}
	*out = ssl;
	ssl = NULL;
	r = 0;
out:
	if (r < 0)
		ERR_clear_error();
	SSL_free(ssl);
	return r;
}

void
dane_name_str(X509_NAME *name, char *dst, size_t dstsz)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;

	dst[0] = '\0';
	if (bio == NULL)
		return;
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
		n = BIO_get_mem_data(bio, &p);
		if (n > 0 && p != NULL)
			(void)log_sanitise(dst, dstsz, p, (size_t)n);
	}
	BIO_free(bio);
}

static void
dane_digest_hex(const uint8_t *der, size_t len, char dst[65])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *hex;

	dst[0] = '\0';
	if (EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		return;
	hex = hex_encode(md, mdlen);
	(void)strlcpy(dst, hex, 65);
	free(hex);
}

static void
dane_cert_describe(X509 *x, struct dane_cert *c)
{
	unsigned char *der = NULL;
	int n;

	dane_name_str(X509_get_subject_name(x), c->subject, sizeof(c->subject));
	dane_name_str(X509_get_issuer_name(x), c->issuer, sizeof(c->issuer));
	if ((n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der)) > 0)
		dane_digest_hex(der, (size_t)n, c->spki_sha256);
	OPENSSL_free(der);
	der = NULL;
	if ((n = i2d_X509(x, &der)) > 0)
		dane_digest_hex(der, (size_t)n, c->cert_sha256);
	OPENSSL_free(der);
}

static void
dane_matched_str(SSL *ssl, struct dane_info *out)
{
	uint8_t usage, selector, mtype;
	const unsigned char *data = NULL;
	size_t dlen = 0, hexmax;
	char *hex;

	out->matched_depth =
	    SSL_get0_dane_tlsa(ssl, &usage, &selector, &mtype, &data, &dlen);
	if (out->matched_depth < 0 || data == NULL) {
		out->matched_depth = -1;
		return;
	}
	/* A full certificate (x x 0) does not fit; its head identifies it. */
	hexmax = (sizeof(out->matched) - 16) / 2;
	hex = hex_encode(data, dlen < hexmax ? dlen : hexmax);
	(void)snprintf(out->matched, sizeof(out->matched), "%u %u %u %s%s",
	    usage, selector, mtype, hex, dlen > hexmax ? "..." : "");
	free(hex);
}

const char *
dane_tlsrpt_result(long verify_code, bool only_ta, bool top_self_issued)
{
	switch (verify_code) {
	case X509_V_OK:
		return NULL;
	case X509_V_ERR_HOSTNAME_MISMATCH:
		return "certificate-host-mismatch";
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "certificate-expired";
	case X509_V_ERR_DANE_NO_MATCH:
		if (only_ta && !top_self_issued)
			return "certificate-not-trusted";
		return "validation-failure";
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_PATH_LENGTH_EXCEEDED:
	case X509_V_ERR_INVALID_CA:
		return "certificate-not-trusted";
	default:
		return "validation-failure";
	}
}

static void
dane_failure_map(SSL *ssl, const struct dane_params *p, struct dane_info *out)
{
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	bool only_ta = p->ntlsa > 0, top_self = false;
	X509 *top;
	size_t i;
	int n;

	for (i = 0; i < p->ntlsa; i++)
		if (p->tlsa[i]->usage != TLSA_USAGE_DANE_TA)
			only_ta = false;
	if (chain != NULL && (n = sk_X509_num(chain)) > 0) {
		top = sk_X509_value(chain, n - 1);
		top_self = X509_check_issued(top, top) == X509_V_OK;
	}
	out->tlsrpt_result =
	    dane_tlsrpt_result(out->verify_code, only_ta, top_self);
	if (out->verify_code == X509_V_ERR_DANE_NO_MATCH)
		(void)strlcpy(out->tlsrpt_reason, "dane-no-match",
		    sizeof(out->tlsrpt_reason));
	else
		(void)snprintf(out->tlsrpt_reason, sizeof(out->tlsrpt_reason),
		    "x509-error-%ld", out->verify_code);
}

int
dane_info_get(SSL *ssl, const struct dane_params *p, struct dane_info *out)
{
	STACK_OF(X509) * chain;
	const char *s;
	size_t i, n;

	memset(out, 0, sizeof(*out));
	out->matched_depth = -1;
	out->dane = p->dane;
	out->verify_code = SSL_get_verify_result(ssl);
	out->verified = out->verify_code == X509_V_OK;
	(void)strlcpy(out->verify_error,
	    X509_verify_cert_error_string(out->verify_code),
	    sizeof(out->verify_error));
	(void)strlcpy(out->version, SSL_get_version(ssl), sizeof(out->version));
	if ((s = SSL_get_cipher_name(ssl)) != NULL)
		(void)strlcpy(out->cipher, s, sizeof(out->cipher));
	if ((s = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) != NULL)
		(void)strlcpy(out->sni, s, sizeof(out->sni));
	if (p->dane) {
		dane_matched_str(ssl, out);
		if ((s = SSL_get0_peername(ssl)) != NULL)
			(void)log_sanitise(
			    out->peername, sizeof(out->peername), s, strlen(s));
		out->authenticated = out->verified && out->matched_depth >= 0;
		if (!out->authenticated)
			dane_failure_map(ssl, p, out);
	}
	if ((chain = SSL_get_peer_cert_chain(ssl)) != NULL) {
		n = (size_t)sk_X509_num(chain);
		for (i = 0; i < n && i < DANE_CHAIN_MAX; i++)
			dane_cert_describe(
			    sk_X509_value(chain, (int)i), &out->chain[i]);
		out->nchain = i;
	}
	return 0;
}
