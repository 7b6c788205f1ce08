/*
 * Unit tests for dane.c: what goes into an SSL (SNI = TLSA base, reference
 * identifiers, flags, which records OpenSSL takes) and the RFC 8460 mapping.
 * Handshakes against real servers are in tests/integration.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "danemta/dane.h"
#include "danemta/err.h"

static uint8_t d32[32], d31[31], d64[64], junk[40];

struct add_case {
	struct tlsa_rr rr;
	size_t added; /* 1 when OpenSSL must take it */
};

/* Usable records are taken; unusable or malformed ones never are. */
static const struct add_case add_cases[] = {
    {{3, 1, 1, d32, sizeof(d32)}, 1}, {{3, 0, 1, d32, sizeof(d32)}, 1},
    {{3, 1, 2, d64, sizeof(d64)}, 1}, {{2, 0, 1, d32, sizeof(d32)}, 1},
    {{2, 1, 2, d64, sizeof(d64)}, 1},
    {{0, 0, 1, d32, sizeof(d32)}, 0},	/* PKIX-TA: not in SMTP */
    {{1, 1, 1, d32, sizeof(d32)}, 0},	/* PKIX-EE: not in SMTP */
    {{3, 1, 1, d31, sizeof(d31)}, 0},	/* SHA2-256 of 31 octets */
    {{3, 1, 2, d32, sizeof(d32)}, 0},	/* SHA2-512 of 32 octets */
    {{3, 0, 0, junk, sizeof(junk)}, 0}, /* not a DER certificate */
    {{3, 1, 0, junk, sizeof(junk)}, 0}, /* not a DER SPKI */
    {{4, 0, 1, d32, sizeof(d32)}, 0},	/* unknown usage */
    {{3, 2, 1, d32, sizeof(d32)}, 0},	/* unknown selector */
    {{3, 1, 3, d32, sizeof(d32)}, 0},	/* unknown matching type */
    {{255, 1, 1, d32, sizeof(d32)}, 0}, /* private usage */
    {{3, 1, 1, d32, 0}, 0},		/* empty */
};

static void
test_records_added(void **state)
{
	struct dane_ctx *ctx = NULL;
	struct dane_params p;
	size_t i, n;
	SSL *ssl;

	memset(junk, 0x30, sizeof(junk));
	assert_int_equal(dane_ctx_new(&ctx), 0);
	for (i = 0; i < sizeof(add_cases) / sizeof(add_cases[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.dane = true;
		p.sni = "mx1.dane.test";
		p.tlsa[0] = &add_cases[i].rr;
		p.ntlsa = 1;
		assert_int_equal(dane_ssl_new(ctx, &p, &ssl, &n), 0);
		if (n != add_cases[i].added)
			fail_msg("case %zu: %zu added", i, n);
		SSL_free(ssl);
	}
	dane_ctx_free(ctx);
}

static void
test_ssl_setup(void **state)
{
	struct dane_ctx *ctx = NULL;
	struct tlsa_rr rr = {3, 1, 1, d32, sizeof(d32)};
	struct dane_params p;
	X509_VERIFY_PARAM *vp;
	size_t n;
	SSL *ssl;

	assert_int_equal(dane_ctx_new(&ctx), 0);
	memset(&p, 0, sizeof(p));
	p.dane = true;
	p.sni = "mx.provider.net";
	p.refids[0] = "example.org";
	p.refids[1] = "MX.provider.net"; /* the base again: not doubled */
	p.refids[2] = "example.com";
	p.nrefids = 3;
	p.tlsa[0] = &rr;
	p.ntlsa = 1;
	assert_int_equal(dane_ssl_new(ctx, &p, &ssl, &n), 0);
	assert_int_equal(n, 1);
	/* RFC 7672 §8.1: SNI is the TLSA base domain */
	assert_string_equal(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name),
	    "mx.provider.net");
	vp = SSL_get0_param(ssl);
	assert_string_equal(
	    X509_VERIFY_PARAM_get0_host(vp, 0), "mx.provider.net");
	assert_string_equal(X509_VERIFY_PARAM_get0_host(vp, 1), "example.org");
	assert_string_equal(X509_VERIFY_PARAM_get0_host(vp, 2), "example.com");
	assert_null(X509_VERIFY_PARAM_get0_host(vp, 3));
	assert_true(X509_VERIFY_PARAM_get_hostflags(vp) &
	    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	assert_false(X509_VERIFY_PARAM_get_hostflags(vp) &
	    X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS);
	/* DANE-EE without name checks (RFC 7672 §3.2.1) */
	assert_true(
	    SSL_dane_clear_flags(ssl, 0) & DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	/* no local trust anchors */
	assert_int_equal(sk_X509_OBJECT_num(X509_STORE_get0_objects(
			     SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl)))),
	    0);
	SSL_free(ssl);

	/* DANE without a base domain is refused */
	p.sni = NULL;
	assert_int_equal(dane_ssl_new(ctx, &p, &ssl, &n), -ERR_USAGE);
	assert_null(ssl);
	p.sni = "";
	assert_int_equal(dane_ssl_new(ctx, &p, &ssl, &n), -ERR_USAGE);

	/* opportunistic: SNI only, no DANE */
	memset(&p, 0, sizeof(p));
	p.sni = "mx1.example.com";
	assert_int_equal(dane_ssl_new(ctx, &p, &ssl, &n), 0);
	assert_int_equal(n, 0);
	assert_string_equal(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name),
	    "mx1.example.com");
	assert_null(X509_VERIFY_PARAM_get0_host(SSL_get0_param(ssl), 0));
	SSL_free(ssl);
	dane_ctx_free(ctx);
}

struct rpt_case {
	long code;
	bool only_ta, top_self;
	const char *result;
};

static const struct rpt_case rpt_cases[] = {
    {X509_V_OK, false, false, NULL},
    {X509_V_ERR_DANE_NO_MATCH, false, false, "validation-failure"},
    {X509_V_ERR_DANE_NO_MATCH, true, true, "validation-failure"},
    {X509_V_ERR_DANE_NO_MATCH, true, false, "certificate-not-trusted"},
    {X509_V_ERR_HOSTNAME_MISMATCH, true, true, "certificate-host-mismatch"},
    {X509_V_ERR_CERT_HAS_EXPIRED, true, true, "certificate-expired"},
    {X509_V_ERR_CERT_NOT_YET_VALID, true, true, "certificate-expired"},
    {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, true, false,
	"certificate-not-trusted"},
    {X509_V_ERR_PATH_LENGTH_EXCEEDED, true, true, "certificate-not-trusted"},
    {X509_V_ERR_CERT_SIGNATURE_FAILURE, true, true, "validation-failure"},
};

static void
test_tlsrpt_mapping(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(rpt_cases) / sizeof(rpt_cases[0]); i++) {
		const struct rpt_case *c = &rpt_cases[i];
		const char *r =
		    dane_tlsrpt_result(c->code, c->only_ta, c->top_self);

		if (c->result == NULL)
			assert_null(r);
		else
			assert_string_equal(r, c->result);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_records_added),
	    cmocka_unit_test(test_ssl_setup),
	    cmocka_unit_test(test_tlsrpt_mapping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
