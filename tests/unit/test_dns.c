/*
 * Unit tests for dns.c's pure parts: wire names and the MX, CNAME, A and
 * AAAA RDATA parsers, each with a table of malformed (hostile) inputs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "danemta/buf.h"
#include "danemta/dns.h"
#include "danemta/err.h"

struct name_case {
	const char *what;
	const uint8_t *wire;
	size_t len;
	int expect;
	const char *text;
};

#define W(...)                                                                 \
	(const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})

static void
test_name_parse(void **state)
{
	const struct name_case cases[] = {
	    {"root", W(0), 0, "."},
	    {"two labels", W(3, 'm', 'x', '1', 4, 't', 'e', 's', 't', 0), 0,
		"mx1.test"},
	    {"underscore, hyphen", W(3, '_', '2', '5', 2, 'a', '-', 0), 0,
		"_25.a-"},
	    {"escaped dot and space", W(3, 'a', '.', ' ', 0), 0, "a\\046\\032"},
	    {"escaped high byte", W(1, 0xff, 0), 0, "\\255"},
	    {"empty input", W(0), -ERR_TRUNCATED, NULL}, /* len 0 below */
	    {"no final label", W(1, 'a'), -ERR_TRUNCATED, NULL},
	    {"label past end", W(5, 'a', 'b', 0), -ERR_TRUNCATED, NULL},
	    {"compression pointer", W(0xc0, 0x0c), -ERR_FORMAT, NULL},
	    {"extended label type", W(0x41, 'a', 0), -ERR_FORMAT, NULL},
	    {"label of 64", W(64), -ERR_FORMAT, NULL},
	};
	char out[DNS_NAME_TEXT_MAX];
	struct rbuf rb;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rbuf_init(&rb, cases[i].wire,
		    strcmp(cases[i].what, "empty input") == 0 ? 0
							      : cases[i].len);
		assert_int_equal(
		    dns_name_parse(&rb, out, sizeof(out)), cases[i].expect);
		if (cases[i].text != NULL)
			assert_string_equal(out, cases[i].text);
	}
}

static void
test_name_parse_limits(void **state)
{
	uint8_t wire[300];
	char out[DNS_NAME_TEXT_MAX], small[8];
	struct rbuf rb;
	size_t i, pos = 0;

	/* 4 labels of 63 + root = 256 octets: one over the 255 cap. */
	for (i = 0; i < 4; i++) {
		wire[pos++] = 63;
		memset(wire + pos, 'a', 63);
		pos += 63;
	}
	wire[pos++] = 0;
	rbuf_init(&rb, wire, pos);
	assert_int_equal(dns_name_parse(&rb, out, sizeof(out)), -ERR_TOOBIG);
	/* 3 labels of 63 + one of 61 + root = 255 octets: accepted. */
	wire[3 * 64] = 61;
	wire[3 * 64 + 62] = 0;
	rbuf_init(&rb, wire, 3 * 64 + 63);
	assert_int_equal(dns_name_parse(&rb, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), 253);
	/* Output buffer too small is refused, not overrun. */
	rbuf_init(&rb, wire, pos);
	assert_int_equal(
	    dns_name_parse(&rb, small, sizeof(small)), -ERR_TOOBIG);
	/* 128 one-octet labels would pass 255 first: capped either way. */
	memset(wire, 0, sizeof(wire));
	for (i = 0; i < 140; i++) {
		wire[2 * i] = 1;
		wire[2 * i + 1] = 'a';
	}
	rbuf_init(&rb, wire, 281);
	assert_int_equal(dns_name_parse(&rb, out, sizeof(out)), -ERR_TOOBIG);
}

struct mx_case {
	const char *what;
	const uint8_t *rd;
	size_t len;
	int expect;
	uint16_t pref;
	const char *name;
};

static void
test_rdata_mx(void **state)
{
	const struct mx_case cases[] = {
	    {"normal", W(0, 10, 2, 'm', 'x', 0), 0, 10, "mx"},
	    {"null MX", W(0, 0, 0), 0, 0, "."},
	    {"pref 65535", W(0xff, 0xff, 1, 'a', 0), 0, 65535, "a"},
	    {"empty", W(0), -ERR_TRUNCATED, 0, NULL}, /* len 1 */
	    {"pref only", W(0, 10), -ERR_TRUNCATED, 0, NULL},
	    {"name cut", W(0, 10, 3, 'm', 'x'), -ERR_TRUNCATED, 0, NULL},
	    {"no root label", W(0, 10, 2, 'm', 'x'), -ERR_TRUNCATED, 0, NULL},
	    {"trailing byte", W(0, 10, 0, 7), -ERR_FORMAT, 0, NULL},
	    {"pointer", W(0, 10, 0xc0, 0x0c), -ERR_FORMAT, 0, NULL},
	};
	char name[DNS_NAME_TEXT_MAX];
	uint16_t pref;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(dns_rdata_mx(cases[i].rd, cases[i].len, &pref,
				     name, sizeof(name)),
		    cases[i].expect);
		if (cases[i].expect == 0) {
			assert_int_equal(pref, cases[i].pref);
			assert_string_equal(name, cases[i].name);
		}
	}
}

static void
test_rdata_cname(void **state)
{
	char name[DNS_NAME_TEXT_MAX];
	static const uint8_t ok[] = {1, 'b', 4, 't', 'e', 's', 't', 0};
	static const uint8_t trailing[] = {1, 'b', 0, 0};
	static const uint8_t cut[] = {1, 'b', 4, 't'};

	assert_int_equal(
	    dns_rdata_cname(ok, sizeof(ok), name, sizeof(name)), 0);
	assert_string_equal(name, "b.test");
	assert_int_equal(
	    dns_rdata_cname(trailing, sizeof(trailing), name, sizeof(name)),
	    -ERR_FORMAT);
	assert_int_equal(dns_rdata_cname(cut, sizeof(cut), name, sizeof(name)),
	    -ERR_TRUNCATED);
	assert_int_equal(
	    dns_rdata_cname(ok, 0, name, sizeof(name)), -ERR_TRUNCATED);
}

static void
test_rdata_addr(void **state)
{
	static const uint8_t v4[] = {127, 0, 1, 5, 9};
	static const uint8_t v6[17] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	char out[46], small[8];
	size_t l;

	assert_int_equal(dns_rdata_a(v4, 4, out, sizeof(out)), 0);
	assert_string_equal(out, "127.0.1.5");
	for (l = 0; l < 4; l++)
		assert_int_equal(
		    dns_rdata_a(v4, l, out, sizeof(out)), -ERR_TRUNCATED);
	assert_int_equal(dns_rdata_a(v4, 5, out, sizeof(out)), -ERR_FORMAT);
	assert_int_equal(dns_rdata_aaaa(v6, 16, out, sizeof(out)), 0);
	assert_string_equal(out, "2001:db8::1");
	assert_int_equal(
	    dns_rdata_aaaa(v6, 4, out, sizeof(out)), -ERR_TRUNCATED);
	assert_int_equal(dns_rdata_aaaa(v6, 17, out, sizeof(out)), -ERR_FORMAT);
	assert_int_equal(
	    dns_rdata_aaaa(v6, 16, small, sizeof(small)), -ERR_TOOBIG);
}

static void
test_names(void **state)
{
	assert_string_equal(dns_type_str(DNS_TYPE_TLSA), "TLSA");
	assert_string_equal(dns_type_str(99), "TYPE99");
	assert_string_equal(dns_lookup_str(DNS_LOOKUP_NXDOMAIN), "nxdomain");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_parse),
	    cmocka_unit_test(test_name_parse_limits),
	    cmocka_unit_test(test_rdata_mx),
	    cmocka_unit_test(test_rdata_cname),
	    cmocka_unit_test(test_rdata_addr),
	    cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
