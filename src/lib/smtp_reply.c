/*
 * SMTP reply parser: splits network bytes into lines, assembles multi-line
 * replies (RFC 5321 §4.2, §4.5.3.1.5), picks out the enhanced status code
 * (RFC 3463 §2) and reads the EHLO keywords (RFC 5321 §4.1.1.1, RFC 1870,
 * RFC 2920, RFC 3207, RFC 6152, RFC 6531, RFC 2034).  Pure: no I/O.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "danemta/buf.h"
#include "danemta/err.h"
#include "danemta/smtp_reply.h"

#define SMTP_ENH_DIGITS_MAX 3	/* subject and detail: 1*3DIGIT (RFC 3463) */
#define SMTP_SIZE_DIGITS_MAX 20 /* UINT64_MAX has 20 digits */

static int
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

void
smtp_reply_parser_init(struct smtp_reply_parser *p)
{
	p->code = 0;
	p->nlines = 0;
	wbuf_init(&p->text, SMTP_REPLY_MAX);
}

void
smtp_reply_parser_clear(struct smtp_reply_parser *p)
{
	wbuf_clear(&p->text);
	p->code = 0;
	p->nlines = 0;
}

/* Forget the reply being assembled but keep the storage. */
static void
parser_reset(struct smtp_reply_parser *p)
{
	wbuf_reset(&p->text);
	p->code = 0;
	p->nlines = 0;
}

void
smtp_reply_clear(struct smtp_reply *r)
{
	if (r == NULL)
		return;
	free(r->text);
	memset(r, 0, sizeof(*r));
}

int
smtp_line_next(
    const uint8_t *buf, size_t len, size_t *linelen, size_t *consumed)
{
	const uint8_t *nl;
	size_t scan = len < SMTP_LINE_MAX ? len : SMTP_LINE_MAX;
	size_t n;

	*linelen = 0;
	*consumed = 0;
	nl = scan > 0 ? memchr(buf, '\n', scan) : NULL;
	if (nl == NULL)
		return len >= SMTP_LINE_MAX ? -ERR_TOOBIG : 0;
	n = (size_t)(nl - buf);
	*consumed = n + 1;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	*linelen = n;
	return 1;
}

/*
 * An enhanced status code at the start of s (the first line's text):
 * class "." subject "." detail, followed by SP, TAB or the end of the line.
 * Copies it into enh when its class is the reply's first digit.
 */
static void
enhanced_parse(const char *s, int code, char enh[16])
{
	size_t i = 0, part, n;

	enh[0] = '\0';
	/* RFC 3463 has no class 3 */
	if (code / 100 == 3 || s[0] != '0' + code / 100 || s[1] != '.')
		return;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (n = 0; is_digit((uint8_t)s[i]); n++, i++)
			if (n == SMTP_ENH_DIGITS_MAX)
				return;
		if (n == 0 || (part == 0 && s[i++] != '.'))
			return;
	}
	if (s[i] != '\0' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n')
		return;
	/* "5.999.999" is the longest that gets here */
	memcpy(enh, s, i);
	enh[i] = '\0';
}

/* Printable ASCII and TAB stay; every other byte becomes '?'. */
static int
text_add(struct wbuf *wb, const uint8_t *s, size_t n)
{
	size_t i;
	uint8_t c;

	for (i = 0; i < n; i++) {
		c = s[i];
		if ((c < 0x20 && c != '\t') || c >= 0x7f)
			c = '?';
		if (wbuf_addc(wb, c) < 0)
			return -ERR_TOOBIG;
	}
	return 0;
}

/* Check one line's shape; *code and *last describe it. */
static int
line_check(const uint8_t *line, size_t len, int *code, int *last)
{
	if (len > SMTP_LINE_MAX)
		return -ERR_TOOBIG;
	if (len < 3 || line[0] < '2' || line[0] > '5' || !is_digit(line[1]) ||
	    !is_digit(line[2]))
		return -ERR_PROTO;
	if (memchr(line, '\0', len) != NULL)
		return -ERR_PROTO;
	*code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (len == 3 || line[3] == ' ')
		*last = 1;
	else if (line[3] == '-')
		*last = 0;
	else
		return -ERR_PROTO;
	return 0;
}

int
smtp_reply_feed(struct smtp_reply_parser *p, const uint8_t *line, size_t len,
    struct smtp_reply *out)
{
	int code = 0, last = 0, r;

	memset(out, 0, sizeof(*out));
	if ((r = line_check(line, len, &code, &last)) < 0)
		goto out;
	r = -ERR_PROTO;
	if (p->code != 0 && code != p->code)
		goto out;
	r = -ERR_TOOBIG;
	if (p->nlines >= SMTP_REPLY_LINES_MAX)
		goto out;
	if (p->nlines > 0 && wbuf_addc(&p->text, '\n') < 0)
		goto out;
	if (len > 4 && text_add(&p->text, line + 4, len - 4) < 0)
		goto out;
	p->code = code;
	p->nlines++;
	if (!last)
		return 0;
	out->code = code;
	out->nlines = p->nlines;
	out->text = wbuf_steal(&p->text);
	enhanced_parse(out->text, code, out->enhanced);
	r = 1;
out:
	/* after a complete reply or an error, start afresh */
	parser_reset(p);
	return r;
}

/* Parse the SIZE argument; 1 when it is 1*20DIGIT within uint64_t. */
static int
size_parse(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;
	unsigned d;

	if (n == 0 || n > SMTP_SIZE_DIGITS_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		if (!is_digit((uint8_t)s[i]))
			return 0;
		d = (unsigned)(s[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return 0;
		x = x * 10 + d;
	}
	*v = x;
	return 1;
}

static int
keyword_is(const char *kw, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(kw, name, n) == 0;
}

/* One keyword line: "KEYWORD" or "KEYWORD SP params". */
static void
ehlo_line(const char *s, size_t n, struct smtp_ehlo *e)
{
	size_t kn, a;

	/* lenient: a stray blank before the keyword must not hide STARTTLS */
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	for (kn = 0; kn < n && s[kn] != ' ' && s[kn] != '\t'; kn++)
		;
	if (keyword_is(s, kn, "STARTTLS"))
		e->starttls = true;
	else if (keyword_is(s, kn, "PIPELINING"))
		e->pipelining = true;
	else if (keyword_is(s, kn, "8BITMIME"))
		e->eightbitmime = true;
	else if (keyword_is(s, kn, "SMTPUTF8"))
		e->smtputf8 = true;
	else if (keyword_is(s, kn, "ENHANCEDSTATUSCODES"))
		e->enhancedstatuscodes = true;
	else if (keyword_is(s, kn, "SIZE")) {
		e->size_given = true;
		for (a = kn; a < n && (s[a] == ' ' || s[a] == '\t'); a++)
			;
		while (n > a && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		/* "SIZE" alone or a bad argument: no limit we can rely on */
		if (!size_parse(s + a, n - a, &e->size))
			e->size = 0;
	}
}

int
smtp_ehlo_parse(const struct smtp_reply *r, struct smtp_ehlo *out)
{
	const char *s, *nl;
	size_t n, i;

	memset(out, 0, sizeof(*out));
	if (r->code != 250 || r->text == NULL)
		return -ERR_USAGE;
	/* skip the greeting line */
	if ((s = strchr(r->text, '\n')) == NULL)
		return 0;
	s++;
	for (i = 0; i < SMTP_REPLY_LINES_MAX && *s != '\0'; i++) {
		nl = strchr(s, '\n');
		n = nl != NULL ? (size_t)(nl - s) : strlen(s);
		ehlo_line(s, n, out);
		if (nl == NULL)
			break;
		s = nl + 1;
	}
	return 0;
}
