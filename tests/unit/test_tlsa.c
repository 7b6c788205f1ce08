/*
 * Unit tests for the TLSA codec (tlsa*.c): wire and text parsers with
 * tables of malformed input, zone lines, classification of the checklist
 * matrix rows 29-31, 33-34, 45-46, digest agility (RFC 7671 §9), and
 * generation from keys and certificates made here with OpenSSL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "danemta/err.h"
#include "danemta/buf.h"
#include "danemta/dnssec.h"
#include "danemta/tlsa.h"
#include "danemta/util.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* n copies of the two hex digits "xx" (n octets), in a static buffer. */
static const char *
octets(const char *xx, size_t n)
{
	static char buf[8][1024];
	static int slot;
	char *p = buf[slot++ % 8];
	size_t i;

	for (i = 0; i < n && 2 * i + 2 < sizeof(buf[0]); i++)
		memcpy(p + 2 * i, xx, 2);
	p[2 * i] = '\0';
	return p;
}

static struct tlsa_rr
text_rr(const char *text)
{
	struct tlsa_rr rr;

	assert_int_equal(tlsa_text_parse(text, strlen(text), &rr), 0);
	return rr;
}

/* ---- wire ---- */

static void
test_rdata_parse_table(void **state)
{
	static const struct {
		const char *name;
		uint8_t rd[8];
		size_t len;
		int ret;
		size_t datalen;
	} cases[] = {
	    {"RDLENGTH 0", {0}, 0, -ERR_FORMAT, 0},
	    {"RDLENGTH 1", {3}, 1, -ERR_FORMAT, 0},
	    {"RDLENGTH 2", {3, 1}, 2, -ERR_FORMAT, 0},
	    {"RDLENGTH 3: empty data parses", {3, 1, 1}, 3, 0, 0},
	    {"unknown values parse", {4, 9, 7, 0xaa}, 4, 0, 1},
	    {"255 255 255", {255, 255, 255, 1, 2}, 5, 0, 2},
	};
	struct tlsa_rr rr;
	size_t i;

	for (i = 0; i < NELEM(cases); i++) {
		print_message("case: %s\n", cases[i].name);
		assert_int_equal(
		    tlsa_rdata_parse(cases[i].rd, cases[i].len, &rr),
		    cases[i].ret);
		if (cases[i].ret == 0) {
			assert_int_equal(rr.usage, cases[i].rd[0]);
			assert_int_equal(rr.selector, cases[i].rd[1]);
			assert_int_equal(rr.mtype, cases[i].rd[2]);
			assert_int_equal(rr.len, cases[i].datalen);
			assert_memory_equal(rr.data, cases[i].rd + 3, rr.len);
		} else {
			assert_null(rr.data);
		}
		tlsa_rr_clear(&rr);
	}
}

static void
test_rdata_limits_and_encode(void **state)
{
	uint8_t *big = xcalloc(1, TLSA_RDATA_MAX + 1), *enc;
	struct tlsa_rr rr, back;
	size_t enclen;

	big[0] = 3;
	big[1] = 1;
	big[2] = 0;
	assert_int_equal(
	    tlsa_rdata_parse(big, TLSA_RDATA_MAX + 1, &rr), -ERR_TOOBIG);
	assert_int_equal(tlsa_rdata_parse(big, TLSA_RDATA_MAX, &rr), 0);
	assert_int_equal(rr.len, TLSA_RDATA_MAX - 3);
	assert_int_equal(tlsa_rdata_encode(&rr, &enc, &enclen), 0);
	assert_int_equal(enclen, TLSA_RDATA_MAX);
	assert_memory_equal(enc, big, enclen);
	assert_int_equal(tlsa_rdata_parse(enc, enclen, &back), 0);
	assert_int_equal(back.len, rr.len);
	free(enc);
	tlsa_rr_clear(&back);
	/* One octet too many cannot be encoded. */
	free(rr.data);
	rr.data = xcalloc(1, TLSA_RDATA_MAX - 2);
	rr.len = TLSA_RDATA_MAX - 2;
	assert_int_equal(tlsa_rdata_encode(&rr, &enc, &enclen), -ERR_TOOBIG);
	assert_null(enc);
	tlsa_rr_clear(&rr);
	tlsa_rr_clear(NULL);
	free(big);
}

/* ---- text ---- */

static void
test_text_parse_good(void **state)
{
	static const struct {
		const char *text;
		uint8_t u, s, m;
		const char *hex;
	} cases[] = {
	    {"3 1 1 0123456789abcdef", 3, 1, 1, "0123456789abcdef"},
	    {"3 1 1 0123456789ABCDEF", 3, 1, 1, "0123456789abcdef"},
	    {"  2 0 1 00ff  ", 2, 0, 1, "00ff"},
	    {"dane-ee spki sha2-256 abcd", 3, 1, 1, "abcd"},
	    {"DANE-TA Cert SHA2-512 abcd", 2, 0, 2, "abcd"},
	    {"PKIX-TA cert full ab", 0, 0, 0, "ab"},
	    {"PrivCert PrivSel PrivMatch ab", 255, 255, 255, "ab"},
	    {"255 255 255 ab", 255, 255, 255, "ab"},
	    {"003 01 1 ab", 3, 1, 1, "ab"},
	    {"3 1 1 ab cd\tef", 3, 1, 1, "abcdef"},
	    {"( 3 1 1 abcd\n ef01 )", 3, 1, 1, "abcdef01"},
	    {"3 1 1 ( abcd ; first half\n ef01 ) ; done", 3, 1, 1, "abcdef01"},
	    {"3 1 1 abcd\n", 3, 1, 1, "abcd"},
	    {"3 1 1 abcd\r\n", 3, 1, 1, "abcd"},
	    {"3 1 1 abcd ; comment", 3, 1, 1, "abcd"},
	    {"3 1 1", 3, 1, 1, ""},
	    {"\\# 3 030101", 3, 1, 1, ""},
	    {"\\# 5 030101 abcd", 3, 1, 1, "abcd"},
	    {"\\# 5 ( 0301\n01abcd )", 3, 1, 1, "abcd"},
	    {"\\# 4 ff0102 aa", 255, 1, 2, "aa"},
	};
	struct tlsa_rr rr;
	char *hex;
	size_t i;

	for (i = 0; i < NELEM(cases); i++) {
		print_message("case: %s\n", cases[i].text);
		rr = text_rr(cases[i].text);
		assert_int_equal(rr.usage, cases[i].u);
		assert_int_equal(rr.selector, cases[i].s);
		assert_int_equal(rr.mtype, cases[i].m);
		hex = hex_encode(rr.data, rr.len);
		assert_string_equal(hex, cases[i].hex);
		free(hex);
		tlsa_rr_clear(&rr);
	}
	/* Digits of one octet may be split by whitespace (RFC 6698 §2.2). */
	rr = text_rr("3 1 1 a bc d");
	hex = hex_encode(rr.data, rr.len);
	assert_string_equal(hex, "abcd");
	free(hex);
	tlsa_rr_clear(&rr);
}

static void
test_text_parse_malformed(void **state)
{
	static const char *const bad[] = {
	    "",
	    "   ",
	    "3",
	    "3 1",
	    "3 1 1 abc",  /* odd hex */
	    "3 1 1 ab c", /* odd hex over two words */
	    "3 1 1 zz",	  /* non-hex */
	    "3 1 1 0xab",
	    "3 1 1 ab-cd",
	    "256 1 1 ab", /* 256 as a number */
	    "3 256 1 ab",
	    "3 1 256 ab",
	    "1000 1 1 ab",
	    "0003 1 1 ab", /* more than three digits */
	    "-1 1 1 ab",
	    "+3 1 1 ab",
	    "3.0 1 1 ab",
	    "DANE-XX 1 1 ab",
	    "3 SPKY 1 ab",
	    "3 1 SHA2-384 ab",
	    "3 1 1 abcd junk", /* junk after data */
	    "3 1 1 abcd \"cd\"",
	    "3 1 1 abcd\nef", /* a newline outside parentheses */
	    "3 1 1\nabcd",
	    "( 3 1 1 abcd", /* unbalanced parentheses */
	    "3 1 1 abcd )",
	    ")3 1 1 abcd(",
	    "( 3 1 1 ( abcd ) )",
	    "( 3 1 ) 1 ( abcd )", /* one pair only */
	    "3 1 1 ab\001cd",
	    "3 1 1 ab\xc3\xa9",
	    "\\#",
	    "\\# 4 030101", /* bad \# length */
	    "\\# 2 030101",
	    "\\# 3 03010101",
	    "\\# 2 0301", /* RDLENGTH < 3 */
	    "\\# 0",
	    "\\# x 030101",
	    "\\# -3 030101",
	    "\\# 65536 030101",
	    "\\# 3 030 101", /* odd words */
	    "\\# 3 03010g",
	    "\\#3 030101",
	    "# 3 030101",
	    "\\# 3 030101 junk",
	};
	struct tlsa_rr rr;
	size_t i;

	for (i = 0; i < NELEM(bad); i++) {
		print_message("case: '%s'\n", bad[i]);
		assert_int_equal(
		    tlsa_text_parse(bad[i], strlen(bad[i]), &rr), -ERR_FORMAT);
		assert_null(rr.data);
		assert_int_equal(rr.len, 0);
	}
	/* An embedded NUL is not the end of the text. */
	assert_int_equal(tlsa_text_parse("3 1 1 ab\0cd", 11, &rr), -ERR_FORMAT);
	/* Only len bytes are read. */
	rr = text_rr("3 1 1 abcd");
	tlsa_rr_clear(&rr);
	assert_int_equal(tlsa_text_parse("3 1 1 abcdzz", 10, &rr), 0);
	assert_int_equal(rr.len, 2);
	tlsa_rr_clear(&rr);
	assert_int_equal(
	    tlsa_text_parse("3 1 1", TLSA_TEXT_MAX + 1, &rr), -ERR_TOOBIG);
}

static void
test_text_too_long_data(void **state)
{
	size_t n = 2 * (TLSA_RDATA_MAX - 2) + 6;
	char *t = xmalloc(n + 1);
	struct tlsa_rr rr;

	memcpy(t, "3 1 0 ", 6);
	memset(t + 6, 'a', n - 6);
	t[n] = '\0';
	/* 65533 octets of data make a 65536-octet RDATA. */
	assert_int_equal(tlsa_text_parse(t, n, &rr), -ERR_TOOBIG);
	assert_int_equal(tlsa_text_parse(t, n - 2, &rr), 0);
	assert_int_equal(rr.len, TLSA_RDATA_MAX - 3);
	tlsa_rr_clear(&rr);
	free(t);
}

static void
test_format_round_trip(void **state)
{
	static const char *const texts[] = {
	    "3 1 1 abcdef",
	    "( DANE-TA cert sha2-256\n 00 11 22 33 )",
	    "\\# 4 ff0102 aa",
	    "3 1 1",
	};
	static const char *const want[] = {
	    "3 1 1 abcdef",
	    "2 0 1 00112233",
	    "255 1 2 aa",
	    "3 1 1",
	};
	struct tlsa_rr rr, back;
	uint8_t *wire;
	size_t wlen, i;
	char *s;

	for (i = 0; i < NELEM(texts); i++) {
		rr = text_rr(texts[i]);
		s = tlsa_format(&rr);
		assert_string_equal(s, want[i]);
		back = text_rr(s);
		assert_int_equal(back.len, rr.len);
		assert_memory_equal(back.data, rr.data, rr.len);
		assert_int_equal(tlsa_rdata_encode(&back, &wire, &wlen), 0);
		tlsa_rr_clear(&back);
		assert_int_equal(tlsa_rdata_parse(wire, wlen, &back), 0);
		assert_int_equal(back.usage, rr.usage);
		assert_int_equal(back.selector, rr.selector);
		assert_int_equal(back.mtype, rr.mtype);
		free(wire);
		free(s);
		tlsa_rr_clear(&back);
		tlsa_rr_clear(&rr);
	}
}

/* ---- zone lines ---- */

static void
test_zone_line_table(void **state)
{
	static const struct {
		const char *line;
		int ret;
		const char *owner;
	} cases[] = {
	    {"_25._tcp.mx.example.test. 3600 IN TLSA 3 1 1 abcd", 0,
		"_25._tcp.mx.example.test."},
	    {"_25._tcp.mx.example.test. IN 3600 TLSA 3 1 1 abcd", 0,
		"_25._tcp.mx.example.test."},
	    {"_25._tcp.mx.example.test. IN TLSA 3 1 1 abcd", 0,
		"_25._tcp.mx.example.test."},
	    {"_25._tcp.mx.example.test. 300 TLSA 3 1 1 abcd", 0,
		"_25._tcp.mx.example.test."},
	    {"_25._tcp.mx TLSA 3 1 1 abcd\n", 0, "_25._tcp.mx"},
	    {"_25._tcp.MX.Example.Test. tlsa dane-ee spki sha2-256 abcd", 0,
		"_25._tcp.MX.Example.Test."},
	    {"*._tcp.mx.example.test. IN TLSA 3 1 1 abcd", 0,
		"*._tcp.mx.example.test."},
	    {"_25._tcp.mx.example.test. CLASS1 TYPE52 \\# 5 030101abcd", 0,
		"_25._tcp.mx.example.test."},
	    {"_25._tcp.mx.example.test. IN TLSA ( 3 1 1\n ab\n cd ) ; x", 0,
		"_25._tcp.mx.example.test."},
	    {" _25._tcp.mx.example.test. IN TLSA 3 1 1 abcd", -ERR_FORMAT, ""},
	    {"_25._tcp.mx.example.test. IN IN TLSA 3 1 1 abcd", -ERR_FORMAT,
		""},
	    {"_25._tcp.mx.example.test. 1 2 TLSA 3 1 1 abcd", -ERR_FORMAT, ""},
	    {"_25._tcp.mx.example.test. 2147483648 TLSA 3 1 1 abcd",
		-ERR_FORMAT, ""},
	    {"_25._tcp.mx.example.test. IN A 192.0.2.1", -ERR_FORMAT, ""},
	    {"_25._tcp.mx.example.test. IN TYPE53 3 1 1 abcd", -ERR_FORMAT, ""},
	    {"_25._tcp.mx.example.test. IN TLSA", -ERR_FORMAT, ""},
	    {"_25._tcp.mx.example.test. IN TLSA 3 1 1 abc", -ERR_FORMAT, ""},
	    {"_25._tcp.mx.example.test. IN TLSA 3 1 1 abcd extra", -ERR_FORMAT,
		""},
	    {"_25._tcp..example.test. IN TLSA 3 1 1 abcd", -ERR_FORMAT, ""},
	    {"_25._tcp.m*x.example.test. IN TLSA 3 1 1 abcd", -ERR_FORMAT, ""},
	    {"_25._tcp.*.example.test. IN TLSA 3 1 1 abcd", -ERR_FORMAT, ""},
	    {"_25._tcp.mx!.example. IN TLSA 3 1 1 abcd", -ERR_FORMAT, ""},
	    {"@ IN TLSA 3 1 1 abcd", -ERR_FORMAT, ""},
	    {"", -ERR_FORMAT, ""},
	    {"_25._tcp.mx.example.test.", -ERR_FORMAT, ""},
	    {"_25._tcp.mx.example.test. IN TLSA ( 3 1 1 abcd", -ERR_FORMAT, ""},
	};
	char owner[256];
	struct tlsa_rr rr;
	size_t i;

	for (i = 0; i < NELEM(cases); i++) {
		print_message("case: '%s'\n", cases[i].line);
		assert_int_equal(
		    tlsa_zone_line_parse(cases[i].line, strlen(cases[i].line),
			owner, sizeof(owner), &rr),
		    cases[i].ret);
		assert_string_equal(owner, cases[i].owner);
		if (cases[i].ret == 0) {
			assert_int_equal(rr.usage, 3);
			assert_int_equal(rr.len, 2);
			assert_int_equal(rr.data[0], 0xab);
		}
		tlsa_rr_clear(&rr);
	}
}

static void
test_zone_line_owner_limits(void **state)
{
	const char *line = "_25._tcp.mx.example.test. IN TLSA 3 1 1 abcd";
	char small[8], label[80], *l;
	struct tlsa_rr rr;

	assert_int_equal(
	    tlsa_zone_line_parse(line, strlen(line), small, sizeof(small), &rr),
	    -ERR_TOOBIG);
	assert_string_equal(small, "");
	assert_int_equal(
	    tlsa_zone_line_parse(line, strlen(line), NULL, 0, &rr), 0);
	tlsa_rr_clear(&rr);
	/* A 64-octet label. */
	memset(label, 'a', 64);
	label[64] = '\0';
	(void)xasprintf(&l, "%s.example. IN TLSA 3 1 1 abcd", label);
	assert_int_equal(
	    tlsa_zone_line_parse(l, strlen(l), NULL, 0, &rr), -ERR_FORMAT);
	free(l);
	label[63] = '\0';
	(void)xasprintf(&l, "%s.example. IN TLSA 3 1 1 abcd", label);
	assert_int_equal(tlsa_zone_line_parse(l, strlen(l), NULL, 0, &rr), 0);
	tlsa_rr_clear(&rr);
	free(l);
}

/* ---- names ---- */

static void
test_names_and_parsers(void **state)
{
	static const struct {
		const char *s;
		int which; /* 0 usage, 1 selector, 2 mtype */
		int ret;
		uint8_t v;
	} cases[] = {
	    {"dane-ee", 0, 0, 3},
	    {"DANE-TA", 0, 0, 2},
	    {"pkix-ta", 0, 0, 0},
	    {"PKIX-EE", 0, 0, 1},
	    {"privcert", 0, 0, 255},
	    {"3", 0, 0, 3},
	    {"255", 0, 0, 255},
	    {"256", 0, -ERR_RANGE, 0},
	    {"dane", 0, -ERR_FORMAT, 0},
	    {"", 0, -ERR_FORMAT, 0},
	    {" 3", 0, -ERR_FORMAT, 0},
	    {"spki", 0, -ERR_FORMAT, 0},
	    {"cert", 1, 0, 0},
	    {"SPKI", 1, 0, 1},
	    {"PrivSel", 1, 0, 255},
	    {"1", 1, 0, 1},
	    {"full", 1, -ERR_FORMAT, 0},
	    {"full", 2, 0, 0},
	    {"sha2-256", 2, 0, 1},
	    {"SHA2-512", 2, 0, 2},
	    {"privmatch", 2, 0, 255},
	    {"sha256", 2, -ERR_FORMAT, 0},
	    {"2", 2, 0, 2},
	    {"1x", 2, -ERR_FORMAT, 0},
	};
	size_t i;
	uint8_t v;
	int r;

	for (i = 0; i < NELEM(cases); i++) {
		print_message("case: %s\n", cases[i].s);
		v = 99;
		if (cases[i].which == 0)
			r = tlsa_usage_parse(cases[i].s, &v);
		else if (cases[i].which == 1)
			r = tlsa_selector_parse(cases[i].s, &v);
		else
			r = tlsa_mtype_parse(cases[i].s, &v);
		assert_int_equal(r, cases[i].ret);
		if (r == 0)
			assert_int_equal(v, cases[i].v);
	}
	assert_string_equal(tlsa_usage_name(3), "DANE-EE");
	assert_string_equal(tlsa_usage_name(0), "PKIX-TA");
	assert_string_equal(tlsa_usage_name(255), "PrivCert");
	assert_null(tlsa_usage_name(4));
	assert_string_equal(tlsa_selector_name(1), "SPKI");
	assert_string_equal(tlsa_selector_name(0), "Cert");
	assert_null(tlsa_selector_name(2));
	assert_string_equal(tlsa_mtype_name(1), "SHA2-256");
	assert_string_equal(tlsa_mtype_name(2), "SHA2-512");
	assert_string_equal(tlsa_mtype_name(0), "Full");
	assert_null(tlsa_mtype_name(3));
	assert_string_equal(dnssec_status_str(DNSSEC_SECURE), "secure");
	assert_string_equal(dnssec_status_str(DNSSEC_INSECURE), "insecure");
	assert_string_equal(dnssec_status_str(DNSSEC_BOGUS), "bogus");
	assert_string_equal(
	    dnssec_status_str(DNSSEC_INDETERMINATE), "indeterminate");
}

/* ---- keys and certificates made at test time ---- */

static X509 *
make_cert(EVP_PKEY *key, const char *cn)
{
	X509 *x = X509_new();
	X509_NAME *name;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 42), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	name = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
			     (const unsigned char *)cn, -1, -1, 0),
	    1);
	assert_int_equal(X509_set_issuer_name(x, name), 1);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	return x;
}

struct pki {
	EVP_PKEY *ec, *rsa;
	X509 *ec_cert, *rsa_cert;
};

static int
pki_setup(void **state)
{
	struct pki *p = xcalloc(1, sizeof(*p));

	p->ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	p->rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (p->ec == NULL || p->rsa == NULL)
		return -1;
	p->ec_cert = make_cert(p->ec, "mx.example.test");
	p->rsa_cert = make_cert(p->rsa, "ca.example.test");
	*state = p;
	return 0;
}

static int
pki_teardown(void **state)
{
	struct pki *p = *state;

	X509_free(p->ec_cert);
	X509_free(p->rsa_cert);
	EVP_PKEY_free(p->ec);
	EVP_PKEY_free(p->rsa);
	free(p);
	return 0;
}

/* DER by another route than the library's: through a memory BIO. */
static size_t
der_via_bio(X509 *cert, EVP_PKEY *key, uint8_t **out)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;

	assert_non_null(b);
	if (cert != NULL)
		assert_int_equal(i2d_X509_bio(b, cert), 1);
	else
		assert_int_equal(i2d_PUBKEY_bio(b, key), 1);
	n = BIO_get_mem_data(b, &p);
	assert_true(n > 0);
	*out = xmalloc((size_t)n);
	memcpy(*out, p, (size_t)n);
	BIO_free(b);
	return (size_t)n;
}

static void
expect_digest(
    const struct tlsa_rr *rr, const char *alg, const uint8_t *in, size_t inlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	size_t mdlen = 0;

	assert_int_equal(
	    EVP_Q_digest(NULL, alg, NULL, in, inlen, md, &mdlen), 1);
	assert_int_equal(rr->len, mdlen);
	assert_memory_equal(rr->data, md, mdlen);
}

static void
test_generate_from_cert_and_key(void **state)
{
	struct pki *p = *state;
	X509 *certs[2] = {p->ec_cert, p->rsa_cert};
	EVP_PKEY *keys[2] = {p->ec, p->rsa};
	struct tlsa_rr rr, kr;
	uint8_t *der, *spki;
	size_t derlen, spkilen, i;

	for (i = 0; i < 2; i++) {
		derlen = der_via_bio(certs[i], NULL, &der);
		spkilen = der_via_bio(NULL, keys[i], &spki);

		assert_int_equal(tlsa_from_cert(certs[i], 3, 1, 1, &rr), 0);
		assert_int_equal(rr.usage, 3);
		assert_int_equal(rr.selector, 1);
		assert_int_equal(rr.mtype, 1);
		expect_digest(&rr, "SHA256", spki, spkilen);
		assert_int_equal(tlsa_classify(&rr), TLSA_USABLE);
		/* The key alone gives the same 3 1 1. */
		assert_int_equal(tlsa_from_pubkey(keys[i], 3, 1, 1, &kr), 0);
		assert_int_equal(kr.len, rr.len);
		assert_memory_equal(kr.data, rr.data, rr.len);
		tlsa_rr_clear(&kr);
		tlsa_rr_clear(&rr);

		assert_int_equal(tlsa_from_cert(certs[i], 3, 0, 1, &rr), 0);
		expect_digest(&rr, "SHA256", der, derlen);
		tlsa_rr_clear(&rr);
		assert_int_equal(tlsa_from_cert(certs[i], 2, 1, 2, &rr), 0);
		expect_digest(&rr, "SHA512", spki, spkilen);
		tlsa_rr_clear(&rr);
		assert_int_equal(tlsa_from_pubkey(keys[i], 3, 1, 2, &rr), 0);
		expect_digest(&rr, "SHA512", spki, spkilen);
		tlsa_rr_clear(&rr);
		assert_int_equal(tlsa_from_cert(certs[i], 2, 0, 2, &rr), 0);
		expect_digest(&rr, "SHA512", der, derlen);
		tlsa_rr_clear(&rr);

		/* Full(0): the DER itself, which classifies as usable. */
		assert_int_equal(tlsa_from_cert(certs[i], 3, 0, 0, &rr), 0);
		assert_int_equal(rr.len, derlen);
		assert_memory_equal(rr.data, der, derlen);
		assert_int_equal(tlsa_classify(&rr), TLSA_USABLE);
		tlsa_rr_clear(&rr);
		assert_int_equal(tlsa_from_pubkey(keys[i], 3, 1, 0, &rr), 0);
		assert_int_equal(rr.len, spkilen);
		assert_memory_equal(rr.data, spki, spkilen);
		assert_int_equal(tlsa_classify(&rr), TLSA_USABLE);
		tlsa_rr_clear(&rr);
		free(der);
		free(spki);
	}
	/* Bad combinations. */
	assert_int_equal(tlsa_from_pubkey(p->ec, 3, 0, 1, &rr), -ERR_USAGE);
	assert_int_equal(tlsa_from_cert(p->ec_cert, 3, 2, 1, &rr), -ERR_USAGE);
	assert_int_equal(tlsa_from_cert(p->ec_cert, 3, 1, 3, &rr), -ERR_USAGE);
	assert_int_equal(
	    tlsa_from_cert(p->ec_cert, 3, 255, 1, &rr), -ERR_USAGE);
	assert_int_equal(tlsa_from_pubkey(p->ec, 3, 1, 255, &rr), -ERR_USAGE);
	assert_null(rr.data);
}

static void
test_matches_cert(void **state)
{
	struct pki *p = *state;
	static const uint8_t params[][2] = {
	    {0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 1}, {1, 2}};
	struct tlsa_rr rr;
	size_t i;

	for (i = 0; i < NELEM(params); i++) {
		assert_int_equal(tlsa_from_cert(p->ec_cert, 1, params[i][0],
				     params[i][1], &rr),
		    0);
		assert_true(tlsa_matches_cert(&rr, p->ec_cert));
		assert_false(tlsa_matches_cert(&rr, p->rsa_cert));
		rr.data[rr.len - 1] ^= 1;
		assert_false(tlsa_matches_cert(&rr, p->ec_cert));
		rr.data[rr.len - 1] ^= 1;
		rr.len--;
		assert_false(tlsa_matches_cert(&rr, p->ec_cert));
		tlsa_rr_clear(&rr);
	}
	rr = text_rr("3 1 3 abcd");
	assert_false(tlsa_matches_cert(&rr, p->ec_cert));
	tlsa_rr_clear(&rr);
}

/* ---- classification and agility ---- */

static void
classify_text(const char *text, enum tlsa_verdict want, const char *why)
{
	struct tlsa_rr rr = text_rr(text);
	char buf[TLSA_VERDICT_TEXT_MAX];

	print_message("classify: %.40s -> %s\n", text, why);
	assert_int_equal(tlsa_classify(&rr), want);
	(void)tlsa_verdict_explain(&rr, want, buf, sizeof(buf));
	assert_string_equal(buf, why);
	tlsa_rr_clear(&rr);
}

static void
test_classify_matrix(void **state)
{
	struct pki *p = *state;
	char *t, *der_hex, *spki_hex;
	struct tlsa_rr full;
	char h32[80], h31[80];

	(void)snprintf(h32, sizeof(h32), "%s", octets("5a", 32));
	(void)snprintf(h31, sizeof(h31), "%s", octets("5a", 31));
	/* Row 29: PKIX usages. */
	(void)xasprintf(&t, "0 0 1 %s", h32);
	classify_text(
	    t, TLSA_UNUSABLE_PKIX_USAGE, "PKIX-TA is not used in SMTP");
	free(t);
	(void)xasprintf(&t, "1 1 1 %s", h32);
	classify_text(
	    t, TLSA_UNUSABLE_PKIX_USAGE, "PKIX-EE is not used in SMTP");
	free(t);
	/* Row 30: unknown parameters. */
	(void)xasprintf(&t, "4 0 1 %s", h32);
	classify_text(
	    t, TLSA_UNUSABLE_USAGE, "certificate usage 4 is not usable");
	free(t);
	(void)xasprintf(&t, "3 2 1 %s", h32);
	classify_text(t, TLSA_UNUSABLE_SELECTOR, "selector 2 is not usable");
	free(t);
	(void)xasprintf(&t, "3 1 3 %s", h32);
	classify_text(t, TLSA_UNUSABLE_MTYPE, "matching type 3 is not usable");
	free(t);
	(void)xasprintf(&t, "255 1 1 %s", h32);
	classify_text(
	    t, TLSA_UNUSABLE_USAGE, "certificate usage 255 is not usable");
	free(t);
	(void)xasprintf(&t, "3 255 1 %s", h32);
	classify_text(t, TLSA_UNUSABLE_SELECTOR, "selector 255 is not usable");
	free(t);
	(void)xasprintf(&t, "3 1 255 %s", h32);
	classify_text(
	    t, TLSA_UNUSABLE_MTYPE, "matching type 255 is not usable");
	free(t);
	/* Row 31: malformed data. */
	(void)xasprintf(&t, "3 1 1 %s", h31);
	classify_text(t, TLSA_UNUSABLE_DIGEST_LENGTH,
	    "SHA2-256 digest must be 32 octets, got 31");
	free(t);
	(void)xasprintf(&t, "3 1 1 %s00", h32);
	classify_text(t, TLSA_UNUSABLE_DIGEST_LENGTH,
	    "SHA2-256 digest must be 32 octets, got 33");
	free(t);
	(void)xasprintf(&t, "3 1 2 %s", h32);
	classify_text(t, TLSA_UNUSABLE_DIGEST_LENGTH,
	    "SHA2-512 digest must be 64 octets, got 32");
	free(t);
	classify_text("3 0 0 308201", TLSA_UNUSABLE_BAD_CERT,
	    "association data is not a DER certificate");
	classify_text("3 1 0 3000", TLSA_UNUSABLE_BAD_SPKI,
	    "association data is not a DER SubjectPublicKeyInfo");
	classify_text(
	    "3 1 1", TLSA_UNUSABLE_EMPTY, "no certificate association data");
	classify_text(
	    "2 0 0", TLSA_UNUSABLE_EMPTY, "no certificate association data");
	(void)xasprintf(&t, "3 1 1 %s", h32);
	classify_text(t, TLSA_USABLE, "usable");
	free(t);
	(void)xasprintf(&t, "2 0 2 %s%s", h32, h32);
	classify_text(t, TLSA_USABLE, "usable");
	free(t);

	/* x 0 0 and x 1 0 must be consumed exactly: a trailing byte spoils. */
	assert_int_equal(tlsa_from_cert(p->rsa_cert, 2, 0, 0, &full), 0);
	der_hex = hex_encode(full.data, full.len);
	tlsa_rr_clear(&full);
	(void)xasprintf(&t, "2 0 0 %s", der_hex);
	classify_text(t, TLSA_USABLE, "usable");
	free(t);
	(void)xasprintf(&t, "2 0 0 %s00", der_hex);
	classify_text(t, TLSA_UNUSABLE_BAD_CERT,
	    "association data is not a DER certificate");
	free(t);
	/* The cert DER is not an SPKI. */
	(void)xasprintf(&t, "3 1 0 %s", der_hex);
	classify_text(t, TLSA_UNUSABLE_BAD_SPKI,
	    "association data is not a DER SubjectPublicKeyInfo");
	free(t);
	assert_int_equal(tlsa_from_cert(p->ec_cert, 3, 1, 0, &full), 0);
	spki_hex = hex_encode(full.data, full.len);
	tlsa_rr_clear(&full);
	(void)xasprintf(&t, "3 1 0 %s", spki_hex);
	classify_text(t, TLSA_USABLE, "usable");
	free(t);
	(void)xasprintf(&t, "3 1 0 %sff", spki_hex);
	classify_text(t, TLSA_UNUSABLE_BAD_SPKI,
	    "association data is not a DER SubjectPublicKeyInfo");
	free(t);
	(void)xasprintf(&t, "3 0 0 %s", spki_hex);
	classify_text(t, TLSA_UNUSABLE_BAD_CERT,
	    "association data is not a DER certificate");
	free(t);
	free(der_hex);
	free(spki_hex);
	assert_string_equal(tlsa_verdict_str(TLSA_UNUSABLE_PRUNED),
	    "a stronger digest of the same usage and selector exists");
}

/*
 * Run classification and pruning over an RRset given as text records,
 * matched against a certificate: returns whether any surviving record
 * matches, and checks the verdicts.
 */
static bool
rrset_outcome(X509 *cert, const char *const *texts,
    const enum tlsa_verdict *want, size_t n)
{
	struct tlsa_rr rrs[8];
	enum tlsa_verdict v[8];
	bool matched = false;
	size_t i;

	assert_true(n <= 8);
	for (i = 0; i < n; i++) {
		rrs[i] = text_rr(texts[i]);
		v[i] = tlsa_classify(&rrs[i]);
	}
	tlsa_prune_digests(rrs, v, n);
	for (i = 0; i < n; i++) {
		print_message(
		    "  %.30s... -> %s\n", texts[i], tlsa_verdict_str(v[i]));
		assert_int_equal(v[i], want[i]);
		if (v[i] == TLSA_USABLE && tlsa_matches_cert(&rrs[i], cert))
			matched = true;
		tlsa_rr_clear(&rrs[i]);
	}
	return matched;
}

/* The text of a record of cert with these parameters. */
static char *
rec_text(X509 *cert, uint8_t u, uint8_t s, uint8_t m)
{
	struct tlsa_rr rr;
	char *t;

	assert_int_equal(tlsa_from_cert(cert, u, s, m, &rr), 0);
	t = tlsa_format(&rr);
	tlsa_rr_clear(&rr);
	return t;
}

static void
test_agility_and_mixed_rrsets(void **state)
{
	struct pki *p = *state;
	X509 *leaf = p->ec_cert, *other = p->rsa_cert;
	char *m311 = rec_text(leaf, 3, 1, 1), *m312 = rec_text(leaf, 3, 1, 2);
	char *m310 = rec_text(leaf, 3, 1, 0), *x312 = rec_text(other, 3, 1, 2);
	char *x311 = rec_text(other, 3, 1, 1), *m111 = rec_text(leaf, 1, 1, 1);
	char *x202 = rec_text(other, 2, 0, 2), *x201 = rec_text(other, 2, 0, 1);
	char bad311[80], bad312[80];

	(void)snprintf(bad311, sizeof(bad311), "3 1 1 %s", octets("00", 31));
	(void)snprintf(bad312, sizeof(bad312), "3 1 2 %s", octets("00", 32));

	/* Row 33: an unusable 1 1 1 that matches + a usable 3 1 1 that
	 * does not: no match. */
	{
		const char *s[] = {m111, x311};
		const enum tlsa_verdict w[] = {
		    TLSA_UNUSABLE_PKIX_USAGE, TLSA_USABLE};
		assert_false(rrset_outcome(leaf, s, w, 2));
	}
	/* Row 34: a malformed 3 1 1 + a matching 3 1 1. */
	{
		const char *s[] = {bad311, m311};
		const enum tlsa_verdict w[] = {
		    TLSA_UNUSABLE_DIGEST_LENGTH, TLSA_USABLE};
		assert_true(rrset_outcome(leaf, s, w, 2));
	}
	/* Row 45: 3 1 1 matches, 3 1 2 does not: 3 1 1 is pruned. */
	{
		const char *s[] = {m311, x312};
		const enum tlsa_verdict w[] = {
		    TLSA_UNUSABLE_PRUNED, TLSA_USABLE};
		assert_false(rrset_outcome(leaf, s, w, 2));
	}
	/* Row 46a: 3 1 1 matches + a malformed 3 1 2 (dropped before
	 * pruning). */
	{
		const char *s[] = {m311, bad312};
		const enum tlsa_verdict w[] = {
		    TLSA_USABLE, TLSA_UNUSABLE_DIGEST_LENGTH};
		assert_true(rrset_outcome(leaf, s, w, 2));
	}
	/* Row 46b: 3 1 0 matches + 3 1 2 mismatch: Full is kept. */
	{
		const char *s[] = {m310, x312};
		const enum tlsa_verdict w[] = {TLSA_USABLE, TLSA_USABLE};
		assert_true(rrset_outcome(leaf, s, w, 2));
	}
	/* Row 46c: 3 1 1 matches + 2 0 2 mismatch: another group. */
	{
		const char *s[] = {m311, x202};
		const enum tlsa_verdict w[] = {TLSA_USABLE, TLSA_USABLE};
		assert_true(rrset_outcome(leaf, s, w, 2));
	}
	/* RFC 7671 §9: 3 1 1 + 3 1 2 + 3 1 0, SHA2-512 preferred: a match
	 * on 3 1 1 alone is not accepted; 3 1 0 or 3 1 2 are. */
	{
		const char *s[] = {m311, x312, x311};
		const enum tlsa_verdict w[] = {
		    TLSA_UNUSABLE_PRUNED, TLSA_USABLE, TLSA_UNUSABLE_PRUNED};
		assert_false(rrset_outcome(leaf, s, w, 3));
	}
	{
		const char *s[] = {m311, m312, m310};
		const enum tlsa_verdict w[] = {
		    TLSA_UNUSABLE_PRUNED, TLSA_USABLE, TLSA_USABLE};
		assert_true(rrset_outcome(leaf, s, w, 3));
	}
	/* Checklist §1.14: a 2 0 1 survives next to a 3 1 2. */
	{
		const char *s[] = {x201, m312, m311};
		const enum tlsa_verdict w[] = {
		    TLSA_USABLE, TLSA_USABLE, TLSA_UNUSABLE_PRUNED};
		assert_true(rrset_outcome(leaf, s, w, 3));
	}
	/* Unusable records never raise the bar: a PKIX 1 1 2 does not
	 * prune a 3 1 1, nor does a 3 0 2 (other selector). */
	{
		char *m112 = rec_text(leaf, 1, 1, 2),
		     *x302 = rec_text(other, 3, 0, 2);
		const char *s[] = {m112, x302, m311};
		const enum tlsa_verdict w[] = {
		    TLSA_UNUSABLE_PKIX_USAGE, TLSA_USABLE, TLSA_USABLE};
		assert_true(rrset_outcome(leaf, s, w, 3));
		free(m112);
		free(x302);
	}
	tlsa_prune_digests(NULL, NULL, 0);
	free(m311);
	free(m312);
	free(m310);
	free(x312);
	free(x311);
	free(m111);
	free(x202);
	free(x201);
}

/* ---- input files ---- */

static char *
pem_of(X509 *cert, EVP_PKEY *priv, EVP_PKEY *pub, const char *pass)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *s;
	long n;

	assert_non_null(b);
	if (cert != NULL)
		assert_int_equal(PEM_write_bio_X509(b, cert), 1);
	if (priv != NULL)
		assert_int_equal(
		    PEM_write_bio_PrivateKey(b, priv,
			pass != NULL ? EVP_aes_128_cbc() : NULL,
			(const unsigned char *)pass,
			pass != NULL ? (int)strlen(pass) : 0, NULL, NULL),
		    1);
	if (pub != NULL)
		assert_int_equal(PEM_write_bio_PUBKEY(b, pub), 1);
	n = BIO_get_mem_data(b, &p);
	s = xstrndup(p, (size_t)n);
	BIO_free(b);
	return s;
}

static int
input_parse_str(const char *s, size_t len, struct tlsa_input *in)
{
	char why[128];
	int r;

	r = tlsa_input_parse((const uint8_t *)s, len, in, why, sizeof(why));
	print_message("  -> %d %s\n", r, why);
	if (r < 0)
		assert_true(why[0] != '\0');
	return r;
}

static void
test_input_parse(void **state)
{
	struct pki *p = *state;
	struct tlsa_input in = {NULL, NULL};
	char *leaf = pem_of(p->ec_cert, NULL, NULL, NULL);
	char *ca = pem_of(p->rsa_cert, NULL, NULL, NULL);
	char *key = pem_of(NULL, p->rsa, NULL, NULL);
	char *pub = pem_of(NULL, NULL, p->ec, NULL);
	char *enc = pem_of(NULL, p->ec, NULL, "secret");
	char *chain, *trunc, *both;
	uint8_t *der, *buf;
	size_t derlen;

	/* A chain, leaf first. */
	(void)xasprintf(&chain, "subject=leaf\n%s\ntext between\n%s", leaf, ca);
	assert_int_equal(input_parse_str(chain, strlen(chain), &in), 0);
	assert_int_equal(sk_X509_num(in.chain), 2);
	assert_int_equal(X509_cmp(sk_X509_value(in.chain, 0), p->ec_cert), 0);
	assert_int_equal(X509_cmp(sk_X509_value(in.chain, 1), p->rsa_cert), 0);
	assert_null(in.key);
	tlsa_input_clear(&in);
	/* Certificate and key together: the certificate wins. */
	(void)xasprintf(&both, "%s%s", key, leaf);
	assert_int_equal(input_parse_str(both, strlen(both), &in), 0);
	assert_int_equal(sk_X509_num(in.chain), 1);
	assert_null(in.key);
	tlsa_input_clear(&in);
	free(both);
	/* Keys. */
	assert_int_equal(input_parse_str(key, strlen(key), &in), 0);
	assert_null(in.chain);
	assert_int_equal(EVP_PKEY_eq(in.key, p->rsa), 1);
	tlsa_input_clear(&in);
	assert_int_equal(input_parse_str(pub, strlen(pub), &in), 0);
	assert_int_equal(EVP_PKEY_eq(in.key, p->ec), 1);
	tlsa_input_clear(&in);
	/* DER certificate, DER key. */
	derlen = der_via_bio(p->ec_cert, NULL, &der);
	assert_int_equal(input_parse_str((char *)der, derlen, &in), 0);
	assert_int_equal(sk_X509_num(in.chain), 1);
	tlsa_input_clear(&in);
	/* DER with a trailing byte; DER cut short. */
	buf = xmalloc(derlen + 1);
	memcpy(buf, der, derlen);
	buf[derlen] = 0;
	assert_int_equal(
	    input_parse_str((char *)buf, derlen + 1, &in), -ERR_FORMAT);
	tlsa_input_clear(&in);
	assert_int_equal(
	    input_parse_str((char *)buf, derlen - 10, &in), -ERR_FORMAT);
	tlsa_input_clear(&in);
	free(buf);
	free(der);
	derlen = der_via_bio(NULL, p->ec, &der);
	assert_int_equal(input_parse_str((char *)der, derlen, &in), 0);
	assert_int_equal(EVP_PKEY_eq(in.key, p->ec), 1);
	tlsa_input_clear(&in);
	free(der);

	/* Malformed input. */
	assert_int_equal(
	    input_parse_str(enc, strlen(enc), &in), -ERR_UNSUPPORTED);
	tlsa_input_clear(&in);
	trunc = xstrndup(leaf, strlen(leaf) / 2);
	assert_int_equal(
	    input_parse_str(trunc, strlen(trunc), &in), -ERR_FORMAT);
	tlsa_input_clear(&in);
	free(trunc);
	(void)xasprintf(&trunc, "%s%.*s", leaf, (int)(strlen(ca) - 30), ca);
	assert_int_equal(
	    input_parse_str(trunc, strlen(trunc), &in), -ERR_FORMAT);
	tlsa_input_clear(&in);
	free(trunc);
	{
		static const char *const bad[] = {
		    "",
		    "hello world\n",
		    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END "
		    "CERTIFICATE-----\n",
		    "-----BEGIN CERTIFICATE-----\n!!!!\n-----END "
		    "CERTIFICATE-----\n",
		    "-----BEGIN CERTIFICATE",
		    "\x30\x03\x02\x01\x01",
		};
		static const int want[] = {-ERR_FORMAT, -ERR_FORMAT,
		    -ERR_FORMAT, -ERR_FORMAT, -ERR_FORMAT, -ERR_FORMAT};
		size_t i;

		for (i = 0; i < NELEM(bad); i++) {
			print_message("case: input %zu\n", i);
			assert_int_equal(
			    input_parse_str(bad[i], strlen(bad[i]), &in),
			    want[i]);
			assert_null(in.chain);
			assert_null(in.key);
			tlsa_input_clear(&in);
		}
	}
	/* PEM with neither a certificate nor a key. */
	{
		const char *params = "-----BEGIN EC PARAMETERS-----\n"
				     "BggqhkjOPQMBBw==\n"
				     "-----END EC PARAMETERS-----\n";

		assert_int_equal(input_parse_str(params, strlen(params), &in),
		    -ERR_NOTFOUND);
		tlsa_input_clear(&in);
	}
	/* Two keys are ambiguous. */
	(void)xasprintf(&both, "%s%s", key, pub);
	assert_int_equal(input_parse_str(both, strlen(both), &in), -ERR_FORMAT);
	tlsa_input_clear(&in);
	free(both);
	free(chain);
	free(leaf);
	free(ca);
	free(key);
	free(pub);
	free(enc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rdata_parse_table),
	    cmocka_unit_test(test_rdata_limits_and_encode),
	    cmocka_unit_test(test_text_parse_good),
	    cmocka_unit_test(test_text_parse_malformed),
	    cmocka_unit_test(test_text_too_long_data),
	    cmocka_unit_test(test_format_round_trip),
	    cmocka_unit_test(test_zone_line_table),
	    cmocka_unit_test(test_zone_line_owner_limits),
	    cmocka_unit_test(test_names_and_parsers),
	};
	const struct CMUnitTest pki_tests[] = {
	    cmocka_unit_test(test_generate_from_cert_and_key),
	    cmocka_unit_test(test_matches_cert),
	    cmocka_unit_test(test_classify_matrix),
	    cmocka_unit_test(test_agility_and_mixed_rrsets),
	    cmocka_unit_test(test_input_parse),
	};
	int fails;

	fails = cmocka_run_group_tests_name("tlsa codec", tests, NULL, NULL);
	fails += cmocka_run_group_tests_name(
	    "tlsa pki", pki_tests, pki_setup, pki_teardown);
	return fails;
}
