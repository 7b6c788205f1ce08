/* Unit tests for buf.c: bounded reads never over-read, capped writes refuse growth. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "danemta/buf.h"
#include "danemta/err.h"

static void
test_rbuf_reads_in_bounds(void **state)
{
	static const uint8_t data[] = {1, 0x02, 0x03, 0xa, 0xb, 0xc, 0xd};
	struct rbuf rb;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;

	rbuf_init(&rb, data, sizeof(data));
	assert_int_equal(rbuf_get_u8(&rb, &u8), 0);
	assert_int_equal(u8, 1);
	assert_int_equal(rbuf_get_u16(&rb, &u16), 0);
	assert_int_equal(u16, 0x0203);
	assert_int_equal(rbuf_get_u32(&rb, &u32), 0);
	assert_int_equal(u32, 0x0a0b0c0d);
	assert_int_equal(rbuf_left(&rb), 0);
	assert_int_equal(rbuf_get_u8(&rb, &u8), -ERR_TRUNCATED);
}

static void
test_rbuf_truncated_reads_consume_nothing(void **state)
{
	static const uint8_t data[] = {1, 2, 3};
	struct rbuf rb;
	uint32_t u32;
	const uint8_t *p;

	rbuf_init(&rb, data, sizeof(data));
	assert_int_equal(rbuf_get_u32(&rb, &u32), -ERR_TRUNCATED);
	assert_int_equal(rbuf_left(&rb), 3);
	assert_int_equal(rbuf_get_ref(&rb, 4, &p), -ERR_TRUNCATED);
	assert_int_equal(rbuf_get_ref(&rb, 3, &p), 0);
	assert_ptr_equal(p, data);
	assert_int_equal(rbuf_skip(&rb, 1), -ERR_TRUNCATED);
}

static void
test_wbuf_cap(void **state)
{
	struct wbuf wb;

	wbuf_init(&wb, 8);
	assert_int_equal(wbuf_addstr(&wb, "abcd"), 0);
	assert_int_equal(wbuf_printf(&wb, "%d", 1234), 0);
	assert_string_equal((char *)wb.data, "abcd1234");
	assert_int_equal(wbuf_addc(&wb, 'x'), -ERR_TOOBIG);
	assert_int_equal(wbuf_printf(&wb, "y"), -ERR_TOOBIG);
	assert_int_equal(wb.len, 8);
	wbuf_consume(&wb, 3);
	assert_string_equal((char *)wb.data, "d1234");
	wbuf_clear(&wb);
	assert_null(wb.data);
}

static void
test_wbuf_steal_and_hex(void **state)
{
	static const uint8_t bytes[] = {0x00, 0x2a, 0xff};
	struct wbuf wb;
	char *s;

	wbuf_init(&wb, 100);
	s = wbuf_steal(&wb);
	assert_string_equal(s, "");
	free(s);
	assert_int_equal(wbuf_addstr(&wb, "hello"), 0);
	s = wbuf_steal(&wb);
	assert_string_equal(s, "hello");
	assert_null(wb.data);
	free(s);
	s = hex_encode(bytes, sizeof(bytes));
	assert_string_equal(s, "002aff");
	free(s);
}

static void
test_err_str(void **state)
{
	assert_string_equal(err_str(-ERR_TRUNCATED), "input truncated");
	assert_string_equal(err_str(ERR_TRUNCATED), "input truncated");
	assert_string_equal(err_str(9999), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rbuf_reads_in_bounds),
	    cmocka_unit_test(test_rbuf_truncated_reads_consume_nothing),
	    cmocka_unit_test(test_wbuf_cap),
	    cmocka_unit_test(test_wbuf_steal_and_hex),
	    cmocka_unit_test(test_err_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
