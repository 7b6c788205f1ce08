/*
 * SMTP reply parsing (RFC 5321 §4.2, enhanced codes RFC 3463, EHLO keywords
 * RFC 5321 §4.1.1.1): pure functions over bytes from the network, the first
 * line of defence against hostile servers.  No I/O.
 */
#ifndef DANEMTA_SMTP_REPLY_H
#define DANEMTA_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "danemta/buf.h"

#define SMTP_LINE_MAX 2048   /* one reply line with CRLF (RFC: 512; lenient) */
#define SMTP_REPLY_MAX 65536 /* a whole multi-line reply */
#define SMTP_REPLY_LINES_MAX 256 /* lines in one reply */

struct smtp_reply {
	int code;	   /* 200..599 */
	char enhanced[16]; /* "2.1.5" when the server sent one, else "" */
	char *
	    text; /* every line's text after the code, sanitised, '\n'-joined */
	size_t nlines;
};

/* Accumulates the lines of one multi-line reply. */
struct smtp_reply_parser {
	int code; /* of the first line, 0 before it */
	size_t nlines;
	struct wbuf text;
};

void smtp_reply_parser_init(struct smtp_reply_parser *p);
void smtp_reply_parser_clear(struct smtp_reply_parser *p);
void smtp_reply_clear(struct smtp_reply *r); /* frees text */

/*
 * Find the next line in buf[0..len): returns 1 with *linelen (without the
 * CRLF or bare LF) and *consumed (with it) when a whole line is there, 0
 * when more bytes are needed, -ERR_TOOBIG when SMTP_LINE_MAX bytes hold no
 * line end.
 */
int smtp_line_next(
    const uint8_t *buf, size_t len, size_t *linelen, size_t *consumed);

/*
 * Feed one line (without its line end).  Returns 0 when the reply continues
 * ("250-"), 1 when it is complete and *out is filled (the parser is then
 * ready for the next reply), or a negative ERR_*: -ERR_PROTO for a bad code
 * (not [2-5][0-9][0-9]), a code that changes between lines, a bad separator,
 * a NUL byte; -ERR_TOOBIG for a line over SMTP_LINE_MAX or a reply past
 * SMTP_REPLY_MAX or SMTP_REPLY_LINES_MAX.
 * *out is zeroed on entry (smtp_reply_clear() a finished reply first); on 1
 * the caller owns out->text.  After 1 or an error the parser starts a new
 * reply.  Text keeps printable ASCII and TAB; other bytes become '?'.
 */
int smtp_reply_feed(struct smtp_reply_parser *p, const uint8_t *line,
    size_t len, struct smtp_reply *out);

/* What an EHLO reply advertises. */
struct smtp_ehlo {
	bool starttls;
	bool pipelining;
	bool eightbitmime;
	bool smtputf8;
	bool enhancedstatuscodes;
	bool size_given;
	uint64_t size; /* 0 = no limit stated */
};

/*
 * Parse the keyword lines of a 250 EHLO reply (the first line is the
 * greeting).  Returns 0, or -ERR_USAGE when r is not a 250 reply.  Keywords
 * are case-insensitive, unknown ones ignored.  "SIZE" without an argument or
 * with a bad one (not 1*20DIGIT, over UINT64_MAX) gives size_given, size 0.
 */
int smtp_ehlo_parse(const struct smtp_reply *r, struct smtp_ehlo *out);

#endif
