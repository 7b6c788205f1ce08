/*
 * libFuzzer target for smtp_reply.c: the input is what a hostile server
 * sends.  It is split into lines with smtp_line_next(), fed line by line,
 * and every complete reply goes through smtp_ehlo_parse().  The invariants
 * the SMTP client relies on are checked; a broken one aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "danemta/err.h"
#include "danemta/smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok)
{
	if (!ok)
		abort();
}

/* What the client may assume of a reply smtp_reply_feed() handed over. */
static void
check_reply(const struct smtp_reply *rep)
{
	size_t i, n, nl = 0;
	const char *e = rep->enhanced;

	check(rep->code >= 200 && rep->code <= 599);
	check(rep->nlines >= 1 && rep->nlines <= SMTP_REPLY_LINES_MAX);
	check(rep->text != NULL);
	n = strlen(rep->text);
	check(n <= SMTP_REPLY_MAX);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)rep->text[i];

		if (c == '\n')
			nl++;
		else
			check(c == '\t' || (c >= 0x20 && c < 0x7f));
	}
	check(nl + 1 == rep->nlines);
	check(memchr(e, '\0', sizeof(rep->enhanced)) != NULL);
	if (e[0] != '\0') {
		check(e[0] - '0' == rep->code / 100 && e[1] == '.');
		check(strncmp(rep->text, e, strlen(e)) == 0);
	}
}

static void
check_ehlo(const struct smtp_reply *rep)
{
	struct smtp_ehlo eh;
	int r;

	r = smtp_ehlo_parse(rep, &eh);
	if (rep->code == 250)
		check(r == 0);
	else
		check(r == -ERR_USAGE && !eh.starttls && !eh.size_given);
	if (!eh.size_given)
		check(eh.size == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply_parser p;
	struct smtp_reply rep;
	size_t off = 0, ll, cons;
	int r;

	smtp_reply_parser_init(&p);
	while (off < size) {
		r = smtp_line_next(data + off, size - off, &ll, &cons);
		if (r == 0)
			break;
		if (r < 0) {
			/* a client would hang up; skip the line to go on */
			check(r == -ERR_TOOBIG && size - off >= SMTP_LINE_MAX);
			off += SMTP_LINE_MAX;
			continue;
		}
		check(r == 1 && ll < cons && cons <= SMTP_LINE_MAX &&
		    cons <= size - off);
		check(data[off + cons - 1] == '\n');
		r = smtp_reply_feed(&p, data + off, ll, &rep);
		off += cons;
		if (r < 0) {
			check(r == -ERR_PROTO || r == -ERR_TOOBIG);
			check(rep.text == NULL && p.code == 0 && p.nlines == 0);
			continue;
		}
		if (r == 0) {
			check(rep.text == NULL && p.code != 0 && p.nlines > 0);
			continue;
		}
		check(r == 1 && p.code == 0 && p.nlines == 0);
		check_reply(&rep);
		check_ehlo(&rep);
		smtp_reply_clear(&rep);
	}
	smtp_reply_parser_clear(&p);
	return 0;
}
