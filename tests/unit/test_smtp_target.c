/*
 * Unit tests for what smtp_client.c added for `danemta tlsa create
 * --connect`: smtp_target_parse() (HOST[:PORT] from a command line, with a
 * table of malformed inputs) and the implicit-TLS / TLS-only parameters
 * that smtp_session_start() must refuse before anything runs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "danemta/err.h"
#include "danemta/smtp_client.h"

struct target_case {
	const char *in;
	const char *host; /* NULL: refused with -ERR_FORMAT */
	uint16_t port;
	bool literal;
};

static const struct target_case target_cases[] = {
    /* accepted */
    {"mx1.good.test", "mx1.good.test", 0, false},
    {"mx1.good.test.", "mx1.good.test", 0, false},
    {"mx1.good.test:25", "mx1.good.test", 25, false},
    {"MX1.Good.TEST.:465", "MX1.Good.TEST", 465, false},
    {"localhost", "localhost", 0, false},
    {"a-b.c:65535", "a-b.c", 65535, false},
    {"1", "1", 0, false},
    {"127.0.1.2", "127.0.1.2", 0, true},
    {"127.0.1.2:2525", "127.0.1.2", 2525, true},
    {"::1", "::1", 0, true},
    {"2001:db8::25", "2001:db8::25", 0, true},
    {"[::1]", "::1", 0, true},
    {"[2001:db8::1]:587", "2001:db8::1", 587, true},
    /* malformed */
    {"", NULL, 0, false},
    {":25", NULL, 0, false},
    {"mx:", NULL, 0, false},
    {"mx:0", NULL, 0, false},
    {"mx:025", NULL, 0, false},
    {"mx:65536", NULL, 0, false},
    {"mx:99999", NULL, 0, false},
    {"mx:123456", NULL, 0, false},
    {"mx:-1", NULL, 0, false},
    {"mx:+25", NULL, 0, false},
    {"mx:25x", NULL, 0, false},
    {"mx: 25", NULL, 0, false},
    {"mx:25:26", NULL, 0, false},
    {".", NULL, 0, false},
    {"..", NULL, 0, false},
    {"mx..test", NULL, 0, false},
    {".mx.test", NULL, 0, false},
    {"mx.test..", NULL, 0, false},
    {"-mx.test", NULL, 0, false},
    {"mx-.test", NULL, 0, false},
    {"mx.test-", NULL, 0, false},
    {"mx_1.test", NULL, 0, false},
    {"mx 1.test", NULL, 0, false},
    {"mx\t.test", NULL, 0, false},
    {"mx\xc3\xa9.test", NULL, 0, false},
    {"user@mx.test", NULL, 0, false},
    {"mx.test/25", NULL, 0, false},
    {"[127.0.0.1]", NULL, 0, false},
    {"[mx.test]:25", NULL, 0, false},
    {"[::1", NULL, 0, false},
    {"[]", NULL, 0, false},
    {"[]:25", NULL, 0, false},
    {"[::1]25", NULL, 0, false},
    {"[::1]:", NULL, 0, false},
    {"[::1]:0", NULL, 0, false},
    {"[::1]]", NULL, 0, false},
    {"::1:25x", NULL, 0, false},
    {"fe80::1%eth0", NULL, 0, false},
    {"127.0.0.1:25:25", NULL, 0, false},
    {"a123456789012345678901234567890123456789012345678901234567890123.test",
	NULL, 0, false},
};

static void
test_target_table(void **state)
{
	struct smtp_target t;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(target_cases) / sizeof(target_cases[0]); i++) {
		const struct target_case *c = &target_cases[i];

		r = smtp_target_parse(c->in, strlen(c->in), &t);
		if (c->host == NULL) {
			if (r != -ERR_FORMAT)
				fail_msg("'%s' was accepted", c->in);
			assert_string_equal(t.host, "");
			continue;
		}
		if (r != 0)
			fail_msg("'%s' was refused", c->in);
		assert_string_equal(t.host, c->host);
		assert_int_equal(t.port, c->port);
		assert_int_equal(t.literal, c->literal);
	}
}

/* Lengths and bytes a C string cannot show. */
static void
test_target_lengths(void **state)
{
	char name[400];
	struct smtp_target t;
	size_t i;

	(void)state;
	/* a NUL inside the given length */
	assert_int_equal(smtp_target_parse("mx\0.test", 8, &t), -ERR_FORMAT);
	/* only len bytes are read */
	assert_int_equal(smtp_target_parse("mx.test:25", 7, &t), 0);
	assert_string_equal(t.host, "mx.test");
	assert_int_equal(t.port, 0);
	/* 253 octets is the longest name; 254 is refused */
	for (i = 0; i < sizeof(name); i++)
		name[i] = (i % 50 == 49) ? '.' : 'a';
	assert_int_equal(smtp_target_parse(name, 253, &t), 0);
	assert_int_equal(strlen(t.host), 253);
	assert_int_equal(smtp_target_parse(name, 254, &t), -ERR_FORMAT);
	assert_int_equal(
	    smtp_target_parse(name, sizeof(name), &t), -ERR_FORMAT);
	/* 253 octets and the final dot */
	name[253] = '.';
	assert_int_equal(smtp_target_parse(name, 254, &t), 0);
	assert_int_equal(strlen(t.host), 253);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_target_table),
	    cmocka_unit_test(test_target_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
