/*
 * Unit tests for smtp_reply.c: line splitting, multi-line replies, enhanced
 * status codes, EHLO keywords, and a table of every malformed reply the
 * parser must refuse.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "danemta/buf.h"
#include "danemta/err.h"
#include "danemta/smtp_reply.h"

#define S(x) (x), sizeof(x) - 1			 /* a literal and its length */
#define B(x) (const uint8_t *)(x), sizeof(x) - 1 /* the same as bytes */

/*
 * Split bytes into lines and feed them until the first complete reply or
 * error.  Returns the last smtp_reply_feed() result, 0 when the bytes ran
 * out mid-reply; *used is how many bytes were consumed.
 */
static int
parse_bytes(struct smtp_reply_parser *p, const uint8_t *buf, size_t len,
    struct smtp_reply *rep, size_t *used)
{
	size_t off = 0, ll, cons;
	int r = 0;

	memset(rep, 0, sizeof(*rep));
	while (off < len) {
		r = smtp_line_next(buf + off, len - off, &ll, &cons);
		if (r <= 0)
			break;
		r = smtp_reply_feed(p, buf + off, ll, rep);
		off += cons;
		if (r != 0)
			break;
	}
	if (used != NULL)
		*used = off;
	return r;
}

static int
parse_one(const char *in, size_t len, struct smtp_reply *rep)
{
	struct smtp_reply_parser p;
	int r;

	smtp_reply_parser_init(&p);
	r = parse_bytes(&p, (const uint8_t *)in, len, rep, NULL);
	smtp_reply_parser_clear(&p);
	return r;
}

/* --- good replies --- */

static const struct {
	const char *in;
	size_t len;
	int code;
	const char *enhanced;
	const char *text;
	size_t nlines;
} good[] = {
    {S("220 mx.example ESMTP\r\n"), 220, "", "mx.example ESMTP", 1},
    {S("250 ok\n"), 250, "", "ok", 1},
    {S("250\r\n"), 250, "", "", 1},
    {S("250 \r\n"), 250, "", "", 1},
    {S("354 go ahead\r\n"), 354, "", "go ahead", 1},
    {S("421 4.3.2 shutting down\r\n"), 421, "4.3.2", "4.3.2 shutting down", 1},
    {S("599 x\r\n"), 599, "", "x", 1},
    {S("200 x\r\n"), 200, "", "x", 1},
    {S("250-mx.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n"), 250, "",
	"mx.example\nPIPELINING\nSTARTTLS", 3},
    {S("250-a\n250-b\r\n250 c\n"), 250, "", "a\nb\nc", 3},
    {S("250-\r\n250-\r\n250\r\n"), 250, "", "\n\n", 3},
    {S("550-5.7.1 first\r\n550 5.7.1 second\r\n"), 550, "5.7.1",
	"5.7.1 first\n5.7.1 second", 2},
    /* sanitising: controls, DEL and 8-bit bytes become '?', TAB stays */
    {S("250 caf\xc3\xa9 \x1b[31m\tx\x7f\r\n"), 250, "", "caf?? ?[31m\tx?", 1},
    {S("250 a\rb\r\n"), 250, "", "a?b", 1},
    {S("250 a\r\r\n"), 250, "", "a?", 1},
    /* the multi-line separator may be anything after the first 4 bytes */
    {S("250-x-y z\r\n250 last line\r\n"), 250, "", "x-y z\nlast line", 2},
};

static void
test_good_replies(void **state)
{
	struct smtp_reply rep;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		print_message("good[%zu]\n", i);
		assert_int_equal(parse_one(good[i].in, good[i].len, &rep), 1);
		assert_int_equal(rep.code, good[i].code);
		assert_string_equal(rep.enhanced, good[i].enhanced);
		assert_string_equal(rep.text, good[i].text);
		assert_int_equal(rep.nlines, good[i].nlines);
		smtp_reply_clear(&rep);
		assert_null(rep.text);
	}
}

/* --- enhanced status codes (RFC 3463) --- */

static const struct {
	const char *in;
	const char *enhanced;
} enhanced[] = {
    {"250 2.1.5 ok\r\n", "2.1.5"},
    {"250 2.1.5\r\n", "2.1.5"},
    {"250 2.0.0\tqueued\r\n", "2.0.0"},
    {"550 5.7.1 relay denied\r\n", "5.7.1"},
    {"451 4.3.0 try later\r\n", "4.3.0"},
    {"250 2.999.999 max\r\n", "2.999.999"},
    {"250 2.01.005 leading zeros\r\n", "2.01.005"},
    {"250-2.1.5 first\r\n250 2.1.6 second\r\n", "2.1.5"},
    {"250-hello\r\n250 2.1.5 only on a later line\r\n", ""},
    {"250 5.1.1 class differs\r\n", ""},
    {"550 2.0.0 class differs\r\n", ""},
    {"354 3.0.0 no class 3\r\n", ""},
    {"250 2.1 short\r\n", ""},
    {"250 2.1.\r\n", ""},
    {"250 2..5\r\n", ""},
    {"250 2.1.5x\r\n", ""},
    {"250 2.1.5.\r\n", ""},
    {"250 2.1000.5\r\n", ""},
    {"250 2.1.1000\r\n", ""},
    {"250 02.1.5\r\n", ""},
    {"250 .1.5\r\n", ""},
    {"250  2.1.5 space first\r\n", ""},
    {"250 2:1:5\r\n", ""},
    {"250 2\r\n", ""},
    {"250\r\n", ""},
};

static void
test_enhanced_codes(void **state)
{
	struct smtp_reply rep;
	size_t i;

	for (i = 0; i < sizeof(enhanced) / sizeof(enhanced[0]); i++) {
		print_message("enhanced[%zu] %s", i, enhanced[i].in);
		assert_int_equal(
		    parse_one(enhanced[i].in, strlen(enhanced[i].in), &rep), 1);
		assert_string_equal(rep.enhanced, enhanced[i].enhanced);
		smtp_reply_clear(&rep);
	}
}

/* --- malformed replies --- */

static const struct {
	const char *in;
	size_t len;
	int err;
} bad[] = {
    {S("99 ok\r\n"), -ERR_PROTO},
    {S("099 ok\r\n"), -ERR_PROTO},
    {S("600 ok\r\n"), -ERR_PROTO},
    {S("999 ok\r\n"), -ERR_PROTO},
    {S("100 ok\r\n"), -ERR_PROTO},
    {S("199 ok\r\n"), -ERR_PROTO},
    {S("000\r\n"), -ERR_PROTO},
    {S("25\r\n"), -ERR_PROTO},
    {S("2\r\n"), -ERR_PROTO},
    {S("250x\r\n"), -ERR_PROTO},
    {S("250x ok\r\n"), -ERR_PROTO},
    {S("250\tok\r\n"), -ERR_PROTO},
    {S("250_ok\r\n"), -ERR_PROTO},
    {S("2500 ok\r\n"), -ERR_PROTO},
    {S("abc ok\r\n"), -ERR_PROTO},
    {S("2a0 ok\r\n"), -ERR_PROTO},
    {S("25a ok\r\n"), -ERR_PROTO},
    {S("ok 250\r\n"), -ERR_PROTO},
    {S(" 250 ok\r\n"), -ERR_PROTO},
    {S("-250 ok\r\n"), -ERR_PROTO},
    {S("\r\n"), -ERR_PROTO},
    {S("\n"), -ERR_PROTO},
    {S("\r\r\n"), -ERR_PROTO},
    {S("\xff\xfe\xfd\r\n"), -ERR_PROTO},
    {S("250-a\r\n251 b\r\n"), -ERR_PROTO},
    {S("250-a\r\n550 b\r\n"), -ERR_PROTO},
    {S("250-a\r\n250-b\r\n25 c\r\n"), -ERR_PROTO},
    {S("250-a\r\n\r\n"), -ERR_PROTO},
    {S("250-a\r\n250x\r\n"), -ERR_PROTO},
    {S("250 a\0b\r\n"), -ERR_PROTO},
    {S("250\0\r\n"), -ERR_PROTO},
    {S("2\0"
       "50 ok\r\n"),
	-ERR_PROTO},
    {S("250-a\r\n250 \0\r\n"), -ERR_PROTO},
};

static void
test_malformed(void **state)
{
	struct smtp_reply rep;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("bad[%zu]\n", i);
		assert_int_equal(
		    parse_one(bad[i].in, bad[i].len, &rep), bad[i].err);
		assert_null(rep.text);
		assert_int_equal(rep.code, 0);
	}
}

static void
test_overlong_line(void **state)
{
	struct smtp_reply_parser p;
	struct smtp_reply rep;
	uint8_t *line = malloc(SMTP_LINE_MAX + 2);
	size_t ll, cons;

	assert_non_null(line);
	memset(line, 'x', SMTP_LINE_MAX + 2);
	memcpy(line, "250 ", 4);
	smtp_reply_parser_init(&p);
	/* longest accepted: SMTP_LINE_MAX bytes fed as one line */
	assert_int_equal(smtp_reply_feed(&p, line, SMTP_LINE_MAX, &rep), 1);
	assert_int_equal(strlen(rep.text), SMTP_LINE_MAX - 4);
	smtp_reply_clear(&rep);
	assert_int_equal(
	    smtp_reply_feed(&p, line, SMTP_LINE_MAX + 1, &rep), -ERR_TOOBIG);
	/* on the wire: SMTP_LINE_MAX bytes without a line end */
	assert_int_equal(
	    smtp_line_next(line, SMTP_LINE_MAX, &ll, &cons), -ERR_TOOBIG);
	assert_int_equal(
	    smtp_line_next(line, SMTP_LINE_MAX + 2, &ll, &cons), -ERR_TOOBIG);
	line[SMTP_LINE_MAX] = '\n';
	assert_int_equal(
	    smtp_line_next(line, SMTP_LINE_MAX + 1, &ll, &cons), -ERR_TOOBIG);
	smtp_reply_parser_clear(&p);
	free(line);
}

static void
test_too_many_lines(void **state)
{
	struct smtp_reply_parser p;
	struct smtp_reply rep;
	size_t i;

	smtp_reply_parser_init(&p);
	for (i = 0; i < SMTP_REPLY_LINES_MAX - 1; i++)
		assert_int_equal(smtp_reply_feed(&p, B("250-x"), &rep), 0);
	assert_int_equal(smtp_reply_feed(&p, B("250 x"), &rep), 1);
	assert_int_equal(rep.nlines, SMTP_REPLY_LINES_MAX);
	smtp_reply_clear(&rep);

	for (i = 0; i < SMTP_REPLY_LINES_MAX; i++)
		assert_int_equal(smtp_reply_feed(&p, B("250-x"), &rep), 0);
	assert_int_equal(smtp_reply_feed(&p, B("250 x"), &rep), -ERR_TOOBIG);
	assert_null(rep.text);
	/* the parser starts afresh after the error */
	assert_int_equal(smtp_reply_feed(&p, B("221 bye"), &rep), 1);
	assert_string_equal(rep.text, "bye");
	smtp_reply_clear(&rep);
	smtp_reply_parser_clear(&p);
}

static void
test_reply_too_big(void **state)
{
	struct smtp_reply_parser p;
	struct smtp_reply rep;
	uint8_t line[SMTP_LINE_MAX];
	size_t i, total = 0;
	int r = 0;

	memset(line, 'y', sizeof(line));
	memcpy(line, "250-", 4);
	smtp_reply_parser_init(&p);
	for (i = 0; i < SMTP_REPLY_LINES_MAX && r == 0; i++) {
		r = smtp_reply_feed(&p, line, sizeof(line), &rep);
		total += sizeof(line) - 4 + (i > 0);
		if (r == 0)
			assert_true(total <= SMTP_REPLY_MAX);
	}
	assert_int_equal(r, -ERR_TOOBIG);
	assert_true(total > SMTP_REPLY_MAX);
	assert_null(rep.text);
	smtp_reply_parser_clear(&p);
}

/* --- line splitting --- */

static const struct {
	const char *in;
	size_t len;
	int r;
	size_t linelen, consumed;
} lines[] = {
    {S("250 ok\r\n"), 1, 6, 8},
    {S("250 ok\n"), 1, 6, 7},
    {S("250 ok\r\nnext"), 1, 6, 8},
    {S("250 ok\nnext\n"), 1, 6, 7},
    {S("250 ok"), 0, 0, 0},
    {S("250 ok\r"), 0, 0, 0},
    {S(""), 0, 0, 0},
    {S("\r"), 0, 0, 0},
    {S("\r\r\r"), 0, 0, 0},
    {S("\r\n"), 1, 0, 2},
    {S("\n"), 1, 0, 1},
    {S("\n\n"), 1, 0, 1},
    {S("a\rb\n"), 1, 3, 4},
    {S("a\r\r\n"), 1, 2, 4},
    {S("\0\n"), 1, 1, 2},
};

static void
test_line_next(void **state)
{
	size_t i, ll = 99, cons = 99;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		print_message("lines[%zu]\n", i);
		assert_int_equal(smtp_line_next((const uint8_t *)lines[i].in,
				     lines[i].len, &ll, &cons),
		    lines[i].r);
		assert_int_equal(ll, lines[i].linelen);
		assert_int_equal(cons, lines[i].consumed);
	}
}

static void
test_line_next_limits(void **state)
{
	uint8_t buf[SMTP_LINE_MAX + 1];
	size_t ll, cons;

	memset(buf, 'z', sizeof(buf));
	/* CRLF ending exactly at the cap */
	buf[SMTP_LINE_MAX - 2] = '\r';
	buf[SMTP_LINE_MAX - 1] = '\n';
	assert_int_equal(smtp_line_next(buf, sizeof(buf), &ll, &cons), 1);
	assert_int_equal(ll, SMTP_LINE_MAX - 2);
	assert_int_equal(cons, SMTP_LINE_MAX);
	/* bare LF ending at the cap */
	buf[SMTP_LINE_MAX - 2] = 'z';
	assert_int_equal(smtp_line_next(buf, sizeof(buf), &ll, &cons), 1);
	assert_int_equal(ll, SMTP_LINE_MAX - 1);
	assert_int_equal(cons, SMTP_LINE_MAX);
	/* one byte short of the cap with no line end: wait for more */
	assert_int_equal(smtp_line_next(buf, SMTP_LINE_MAX - 1, &ll, &cons), 0);
	/* the cap reached with no line end */
	buf[SMTP_LINE_MAX - 1] = 'z';
	assert_int_equal(
	    smtp_line_next(buf, SMTP_LINE_MAX, &ll, &cons), -ERR_TOOBIG);
	assert_int_equal(ll, 0);
	assert_int_equal(cons, 0);
}

/*
 * A session's worth of server bytes: greeting, EHLO reply, a refusal and a
 * goodbye, with mixed line ends.
 */
static const char session[] = "220 mx.example ESMTP ready\r\n"
			      "250-mx.example greets you\r\n"
			      "250-PIPELINING\n"
			      "250-SIZE 10240000\r\n"
			      "250-starttls\r\n"
			      "250 ENHANCEDSTATUSCODES\r\n"
			      "550-5.1.1 no such\r\n"
			      "550 5.1.1 user\n"
			      "221 2.0.0 bye\r\n";

static const struct {
	int code;
	const char *enhanced;
	const char *text;
} session_replies[] = {
    {220, "", "mx.example ESMTP ready"},
    {250, "",
	"mx.example greets you\nPIPELINING\nSIZE 10240000\nstarttls\n"
	"ENHANCEDSTATUSCODES"},
    {550, "5.1.1", "5.1.1 no such\n5.1.1 user"},
    {221, "2.0.0", "2.0.0 bye"},
};

#define NSESSION (sizeof(session_replies) / sizeof(session_replies[0]))

/*
 * Play the session through a receive buffer as a client would, handing
 * over step bytes at a time (then split at 'cut' for the two-part run).
 * Returns the number of replies, checked against session_replies.
 */
static size_t
play_session(size_t step, size_t cut)
{
	struct smtp_reply_parser p;
	struct smtp_reply rep;
	struct wbuf in;
	size_t off = 0, n, ll, cons, nrep = 0, len = sizeof(session) - 1;
	int r;

	smtp_reply_parser_init(&p);
	wbuf_init(&in, SMTP_LINE_MAX * 2);
	while (off < len) {
		n = cut != 0 ? (off < cut ? cut - off : len - off) : step;
		if (n > len - off)
			n = len - off;
		assert_int_equal(wbuf_add(&in, session + off, n), 0);
		off += n;
		while ((r = smtp_line_next(in.data, in.len, &ll, &cons)) == 1) {
			r = smtp_reply_feed(&p, in.data, ll, &rep);
			wbuf_consume(&in, cons);
			assert_true(r >= 0);
			if (r == 0)
				continue;
			assert_true(nrep < NSESSION);
			assert_int_equal(rep.code, session_replies[nrep].code);
			assert_string_equal(
			    rep.enhanced, session_replies[nrep].enhanced);
			assert_string_equal(
			    rep.text, session_replies[nrep].text);
			smtp_reply_clear(&rep);
			nrep++;
		}
		assert_int_equal(r, 0);
	}
	assert_int_equal(in.len, 0);
	wbuf_clear(&in);
	smtp_reply_parser_clear(&p);
	return nrep;
}

static void
test_session_whole_and_partial(void **state)
{
	size_t cut;

	assert_int_equal(play_session(sizeof(session), 0), NSESSION);
	for (cut = 1; cut < sizeof(session) - 1; cut++)
		assert_int_equal(play_session(0, cut), NSESSION);
	assert_int_equal(play_session(7, 0), NSESSION);
}

static void
test_session_byte_at_a_time(void **state)
{
	assert_int_equal(play_session(1, 0), NSESSION);
}

static void
test_parser_reuse_and_clear(void **state)
{
	struct smtp_reply_parser p;
	struct smtp_reply rep;

	smtp_reply_parser_init(&p);
	assert_int_equal(smtp_reply_feed(&p, B("250-half"), &rep), 0);
	assert_int_equal(p.code, 250);
	assert_int_equal(
	    smtp_reply_feed(&p, B("251 changed"), &rep), -ERR_PROTO);
	assert_int_equal(p.code, 0);
	assert_int_equal(p.nlines, 0);
	assert_int_equal(smtp_reply_feed(&p, B("251 fresh"), &rep), 1);
	assert_int_equal(rep.code, 251);
	assert_string_equal(rep.text, "fresh");
	smtp_reply_clear(&rep);
	/* clearing mid-reply frees what was gathered */
	assert_int_equal(smtp_reply_feed(&p, B("250-pending"), &rep), 0);
	smtp_reply_parser_clear(&p);
	assert_null(p.text.data);
	smtp_reply_clear(NULL);
}

/* --- EHLO keywords --- */

static const struct {
	const char *in;
	size_t len;
	struct smtp_ehlo want;
} ehlo[] = {
    {S("250 mx.example\r\n"), {0}},
    {S("250 STARTTLS\r\n"), {0}}, /* the greeting line is not a keyword */
    {S("250-mx.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
       "250-ENHANCEDSTATUSCODES\r\n250-SIZE 52428800\r\n250 STARTTLS\r\n"),
	{true, true, true, true, true, true, 52428800}},
    {S("250-mx\r\n250 starttls\r\n"), {.starttls = true}},
    {S("250-mx\r\n250 StartTLS\r\n"), {.starttls = true}},
    {S("250-mx\r\n250 STARTTLS now\r\n"), {.starttls = true}},
    {S("250-mx\r\n250 STARTTLS\t\r\n"), {.starttls = true}},
    {S("250-mx\r\n250 STARTTLSX\r\n"), {0}},
    {S("250-mx\r\n250 STARTTL\r\n"), {0}},
    {S("250-mx\r\n250 X-STARTTLS\r\n"), {0}},
    {S("250-mx\r\n250  STARTTLS\r\n"), {.starttls = true}},
    {S("250-mx\r\n250 \tpipelining\r\n"), {.pipelining = true}},
    {S("250-mx\r\n250 STARTTLS\0\r\n"), {0}}, /* NUL: reply refused */
    {S("250-mx\r\n250-pipelining\r\n250 8bitmime\r\n"),
	{.pipelining = true, .eightbitmime = true}},
    {S("250-mx\r\n250-smtputf8\r\n250 enhancedstatuscodes\r\n"),
	{.smtputf8 = true, .enhancedstatuscodes = true}},
    {S("250-mx\r\n250-AUTH PLAIN LOGIN\r\n250-DSN\r\n250 CHUNKING\r\n"), {0}},
    {S("250-mx\r\n250 SIZE\r\n"), {.size_given = true, .size = 0}},
    {S("250-mx\r\n250 size 1000\r\n"), {.size_given = true, .size = 1000}},
    {S("250-mx\r\n250 SIZE 0\r\n"), {.size_given = true, .size = 0}},
    {S("250-mx\r\n250 SIZE 000123\r\n"), {.size_given = true, .size = 123}},
    {S("250-mx\r\n250 SIZE  77  \r\n"), {.size_given = true, .size = 77}},
    {S("250-mx\r\n250 SIZE 18446744073709551615\r\n"),
	{.size_given = true, .size = UINT64_MAX}},
    {S("250-mx\r\n250 SIZE 18446744073709551616\r\n"),
	{.size_given = true, .size = 0}},
    {S("250-mx\r\n250 SIZE 000000000000000000001\r\n"),
	{.size_given = true, .size = 0}},
    {S("250-mx\r\n250 SIZE abc\r\n"), {.size_given = true, .size = 0}},
    {S("250-mx\r\n250 SIZE -1\r\n"), {.size_given = true, .size = 0}},
    {S("250-mx\r\n250 SIZE 10k\r\n"), {.size_given = true, .size = 0}},
    {S("250-mx\r\n250 SIZE 1 2\r\n"), {.size_given = true, .size = 0}},
    {S("250-mx\r\n250 SIZE 0x10\r\n"), {.size_given = true, .size = 0}},
    {S("250-mx\r\n250 SIZE +5\r\n"), {.size_given = true, .size = 0}},
    {S("250-mx\r\n250 SIZE\xff"
       "5\r\n"),
	{0}}, /* "SIZE?5": another word */
    {S("250-mx\r\n250 SIZES 5\r\n"), {0}},
    {S("250-mx\r\n250-\r\n250 \r\n"), {0}},
    {S("250-mx\r\n250-SIZE 5\r\n250 SIZE 9\r\n"),
	{.size_given = true, .size = 9}},
};

static void
test_ehlo(void **state)
{
	struct smtp_reply rep;
	struct smtp_ehlo e;
	size_t i;
	int r;

	for (i = 0; i < sizeof(ehlo) / sizeof(ehlo[0]); i++) {
		print_message("ehlo[%zu]\n", i);
		r = parse_one(ehlo[i].in, ehlo[i].len, &rep);
		memset(&e, 0xa5, sizeof(e));
		if (r != 1) {
			assert_int_equal(r, -ERR_PROTO);
			assert_int_equal(smtp_ehlo_parse(&rep, &e), -ERR_USAGE);
		} else
			assert_int_equal(smtp_ehlo_parse(&rep, &e), 0);
		assert_int_equal(e.starttls, ehlo[i].want.starttls);
		assert_int_equal(e.pipelining, ehlo[i].want.pipelining);
		assert_int_equal(e.eightbitmime, ehlo[i].want.eightbitmime);
		assert_int_equal(e.smtputf8, ehlo[i].want.smtputf8);
		assert_int_equal(
		    e.enhancedstatuscodes, ehlo[i].want.enhancedstatuscodes);
		assert_int_equal(e.size_given, ehlo[i].want.size_given);
		assert_true(e.size == ehlo[i].want.size);
		smtp_reply_clear(&rep);
	}
}

static void
test_ehlo_not_250(void **state)
{
	struct smtp_reply rep;
	struct smtp_ehlo e;

	assert_int_equal(
	    parse_one(S("502-5.5.1 no EHLO\r\n502 STARTTLS\r\n"), &rep), 1);
	assert_int_equal(smtp_ehlo_parse(&rep, &e), -ERR_USAGE);
	assert_false(e.starttls);
	smtp_reply_clear(&rep);
	assert_int_equal(parse_one(S("251-x\r\n251 STARTTLS\r\n"), &rep), 1);
	assert_int_equal(smtp_ehlo_parse(&rep, &e), -ERR_USAGE);
	smtp_reply_clear(&rep);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_replies),
	    cmocka_unit_test(test_enhanced_codes),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_overlong_line),
	    cmocka_unit_test(test_too_many_lines),
	    cmocka_unit_test(test_reply_too_big),
	    cmocka_unit_test(test_line_next),
	    cmocka_unit_test(test_line_next_limits),
	    cmocka_unit_test(test_session_whole_and_partial),
	    cmocka_unit_test(test_session_byte_at_a_time),
	    cmocka_unit_test(test_parser_reuse_and_clear),
	    cmocka_unit_test(test_ehlo),
	    cmocka_unit_test(test_ehlo_not_250),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
