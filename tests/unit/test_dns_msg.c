/* Unit tests for dns_msg.c: RRSIG facts from whole DNS messages, and a
 * table of malformed messages the parser must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "danemta/buf.h"
#include "danemta/dns_msg.h"
#include "danemta/err.h"

/* Header: 1 question, 2 answers; TLSA RR then its RRSIG, names compressed. */
static const uint8_t good_msg[] = {
    0x12, 0x34, 0x81, 0xa0, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
    /* question @12: _25._tcp.mx1.t. TLSA IN */
    3, '_', '2', '5', 4, '_', 't', 'c', 'p', 3, 'm', 'x', '1', 1, 't', 0, 0x00,
    0x34, 0x00, 0x01,
    /* answer 1: ptr to 12, TLSA IN ttl 60, rdlen 4: 3 1 1 aa */
    0xc0, 0x0c, 0x00, 0x34, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04, 3,
    1, 1, 0xaa,
    /* answer 2: ptr to 12, RRSIG IN ttl 60 */
    0xc0, 0x0c, 0x00, 0x2e, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 23, 0x00,
    0x34, 13, 5, 0x00, 0x02, 0xa3,
    0x00,		    /* covers TLSA, alg, labels, ttl 172800 */
    0x70, 0x00, 0x00, 0x02, /* expiration */
    0x60, 0x00, 0x00, 0x01, /* inception */
    0x12, 0x34,		    /* key tag */
    0xc0, 25,		    /* signer: pointer to "t" */
    0xde, 0xad, 0xbe,	    /* signature */
};

static void
test_good(void **state)
{
	struct dns_msg_rrsig s[4];
	uint8_t m[sizeof(good_msg)];
	size_t n = 9;

	(void)state;
	memcpy(m, good_msg, sizeof(m));
	/* the signer pointer: offset of "t" label = 12 + 4 + 5 + 4 = 25 */
	m[sizeof(m) - 5] = 0xc0;
	m[sizeof(m) - 4] = 25;
	assert_int_equal(dns_msg_rrsigs(m, sizeof(m), "_25._tcp.mx1.t.",
			     DNS_TYPE_TLSA, s, 4, &n),
	    0);
	assert_int_equal(n, 1);
	assert_int_equal(s[0].orig_ttl, 172800);
	assert_int_equal(s[0].expiration, 0x70000002u);
	assert_int_equal(s[0].inception, 0x60000001u);
	assert_int_equal(s[0].key_tag, 0x1234);
	assert_int_equal(s[0].algorithm, 13);
	assert_string_equal(s[0].signer, "t");
	assert_string_equal(s[0].owner, "_25._tcp.mx1.t");
	/* another type or owner: nothing */
	assert_int_equal(dns_msg_rrsigs(m, sizeof(m), NULL, 1, s, 4, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(
	    dns_msg_rrsigs(m, sizeof(m), "other.t", DNS_TYPE_TLSA, s, 4, &n),
	    0);
	assert_int_equal(n, 0);
}

static void
test_names(void **state)
{
	static const struct {
		const uint8_t msg[16];
		size_t len, pos;
		int r;
		const char *out;
	} t[] = {
	    {{1, 'a', 0}, 3, 0, 0, "a"}, {{0}, 1, 0, 0, "."},
	    {{1, 'a', 0, 0xc0, 0x00}, 5, 3, 0, "a"},
	    {{1, 0x01, 0}, 3, 0, 0, "\\001"},
	    /* malformed */
	    {{1, 'a'}, 2, 0, -ERR_TRUNCATED, NULL},	/* no root label */
	    {{5, 'a'}, 2, 0, -ERR_TRUNCATED, NULL},	/* label past the end */
	    {{0xc0, 0x00}, 2, 0, -ERR_FORMAT, NULL},	/* points at itself */
	    {{0xc0, 0x02, 0}, 3, 0, -ERR_FORMAT, NULL}, /* forward pointer */
	    {{0xc0}, 1, 0, -ERR_TRUNCATED, NULL},	/* half a pointer */
	    {{0x40, 0}, 2, 0, -ERR_FORMAT, NULL},	/* extended label */
	    {{0x80, 0}, 2, 0, -ERR_FORMAT, NULL},	/* reserved type */
	    {{1, 'a', 0xc0, 0x00}, 4, 0, -ERR_FORMAT, NULL}, /* loop */
	};
	struct rbuf rb;
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		rbuf_init(&rb, t[i].msg, t[i].len);
		rb.pos = t[i].pos;
		assert_int_equal(dns_msg_name(&rb, out, sizeof(out)), t[i].r);
		if (t[i].out != NULL)
			assert_string_equal(out, t[i].out);
	}
}

static void
test_long_name(void **state)
{
	uint8_t m[300];
	struct rbuf rb;
	char out[1024];
	size_t i;

	(void)state;
	/* 64 labels of 4 octets: 320 octets on the wire, over 255 */
	memset(m, 0, sizeof(m));
	for (i = 0; i + 5 < sizeof(m); i += 4) {
		m[i] = 3;
		m[i + 1] = m[i + 2] = m[i + 3] = 'x';
	}
	rbuf_init(&rb, m, sizeof(m));
	assert_int_equal(dns_msg_name(&rb, out, sizeof(out)), -ERR_TOOBIG);
	rbuf_init(&rb, m, 9);
	m[8] = 0;
	assert_int_equal(dns_msg_name(&rb, out, 4), -ERR_TOOBIG);
}

/* Malformed whole messages: each is a mutation of good_msg. */
static void
test_malformed(void **state)
{
	static const struct {
		size_t len; /* truncate to this length (0: keep) */
		size_t at;  /* patch offset */
		uint8_t v;  /* patch value */
		int r;
	} t[] = {
	    {5, 0, 0x12, -ERR_TRUNCATED},  /* half a header */
	    {30, 0, 0x12, -ERR_TRUNCATED}, /* question cut */
	    {40, 0, 0x12, -ERR_TRUNCATED}, /* answer header cut */
	    {50, 0, 0x12, -ERR_TRUNCATED}, /* RDATA cut */
	    {0, 7, 9, -ERR_TRUNCATED},	   /* ancount 9 */
	    {0, 4, 0xff, -ERR_TOOBIG},	   /* qdcount 65280+ */
	    {0, 42, 0x30, -ERR_TRUNCATED}, /* RDLENGTH past the end */
	    {0, 59, 10, -ERR_FORMAT},	   /* RRSIG rdata too short */
	    {0, 32, 0xc0, -ERR_FORMAT},	   /* answer name: bad pointer */
	};
	uint8_t m[sizeof(good_msg)];
	struct dns_msg_rrsig s[2];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memcpy(m, good_msg, sizeof(m));
		m[sizeof(m) - 4] = 25;
		m[t[i].at] = t[i].v;
		if (t[i].at == 32)
			m[33] = 0x40; /* forward pointer */
		assert_int_equal(
		    dns_msg_rrsigs(m, t[i].len ? t[i].len : sizeof(m), NULL,
			DNS_TYPE_TLSA, s, 2, &n),
		    t[i].r);
	}
	assert_int_equal(dns_msg_rrsigs(m, DNS_MSG_MAX + 1, NULL, 52, s, 2, &n),
	    -ERR_TOOBIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_long_name),
	    cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
