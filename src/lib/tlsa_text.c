/*
 * TLSA presentation form (RFC 6698 §2.2) with RFC 7218 mnemonics and the
 * RFC 3597 generic form, and single zone-file lines (RFC 1035 §5.1):
 * a strict tokenizer that allows one pair of parentheses and comments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "danemta/buf.h"
#include "danemta/err.h"
#include "danemta/tlsa.h"
#include "danemta/util.h"

#define TLSA_TTL_MAX 2147483647LL /* RFC 2181 §8 */
#define TLSA_TOKENS_MAX 65536	  /* cap on the tokenizer loop */

struct lex {
	const char *p;
	size_t len;
	size_t pos;
	int paren;	/* inside "( ... )" */
	int used_paren; /* one pair only */
	int ended;	/* a newline outside parentheses was seen */
	size_t ntok;
};

struct tok {
	const char *s;
	size_t len;
};

static void
lex_init(struct lex *lx, const char *p, size_t len)
{
	memset(lx, 0, sizeof(*lx));
	lx->p = p;
	lx->len = len;
}

static int
is_token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != ';' &&
	    c != '"';
}

/* Skip blanks, newlines (inside parentheses), comments and parentheses. */
static int
lex_skip(struct lex *lx)
{
	unsigned char c;

	while (lx->pos < lx->len) {
		c = (unsigned char)lx->p[lx->pos];
		if (c == ' ' || c == '\t' || c == '\r') {
			lx->pos++;
		} else if (c == '\n') {
			if (!lx->paren)
				lx->ended = 1;
			lx->pos++;
		} else if (c == ';') {
			while (lx->pos < lx->len && lx->p[lx->pos] != '\n')
				lx->pos++;
		} else if (c == '(') {
			if (lx->paren || lx->used_paren || lx->ended)
				return -ERR_FORMAT;
			lx->paren = lx->used_paren = 1;
			lx->pos++;
		} else if (c == ')') {
			if (!lx->paren)
				return -ERR_FORMAT;
			lx->paren = 0;
			lx->pos++;
		} else {
			return 0;
		}
	}
	return 0;
}

/* 1: a token in *t; 0: end of input; <0: malformed. */
static int
lex_next(struct lex *lx, struct tok *t)
{
	size_t start;
	int r;

	if ((r = lex_skip(lx)) < 0)
		return r;
	if (lx->pos >= lx->len)
		return lx->paren ? -ERR_FORMAT : 0;
	if (lx->ended || ++lx->ntok > TLSA_TOKENS_MAX)
		return -ERR_FORMAT;
	start = lx->pos;
	while (
	    lx->pos < lx->len && is_token_char((unsigned char)lx->p[lx->pos]))
		lx->pos++;
	if (lx->pos == start)
		return -ERR_FORMAT; /* a control or non-ASCII byte */
	if (lx->pos < lx->len) {
		unsigned char c = (unsigned char)lx->p[lx->pos];

		if (!(c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
			c == ';' || c == '(' || c == ')'))
			return -ERR_FORMAT;
	}
	t->s = lx->p + start;
	t->len = lx->pos - start;
	return 1;
}

static int
tok_eq(const struct tok *t, const char *s)
{
	return strlen(s) == t->len && strncasecmp(t->s, s, t->len) == 0;
}

/* Decimal digits only, at most maxdigits, value <= max. */
static int
tok_number(const struct tok *t, size_t maxdigits, long long max, long long *v)
{
	size_t i;

	*v = 0;
	if (t->len == 0 || t->len > maxdigits)
		return -ERR_FORMAT;
	for (i = 0; i < t->len; i++) {
		if (t->s[i] < '0' || t->s[i] > '9')
			return -ERR_FORMAT;
		*v = *v * 10 + (t->s[i] - '0');
	}
	return *v <= max ? 0 : -ERR_FORMAT;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Append the hex digits of t to wb.  *half carries a pending high nibble
 * (-1 when none) so that RFC 6698 hex may be split anywhere by whitespace.
 */
static int
hex_append(struct wbuf *wb, const struct tok *t, int *half)
{
	size_t i;
	int v;

	for (i = 0; i < t->len; i++) {
		if ((v = hexval(t->s[i])) < 0)
			return -ERR_FORMAT;
		if (*half < 0) {
			*half = v;
			continue;
		}
		if (wbuf_addc(wb, (uint8_t)(*half << 4 | v)) < 0)
			return -ERR_TOOBIG;
		*half = -1;
	}
	return 0;
}

/* "\# LEN HEX...": RFC 3597 §5, each word an even number of digits. */
static int
parse_generic(struct lex *lx, struct tlsa_rr *out)
{
	struct wbuf wb;
	struct tok t;
	long long want;
	int half = -1, r;

	if ((r = lex_next(lx, &t)) <= 0)
		return r < 0 ? r : -ERR_FORMAT;
	if (tok_number(&t, 5, TLSA_RDATA_MAX, &want) < 0)
		return -ERR_FORMAT;
	wbuf_init(&wb, TLSA_RDATA_MAX);
	while ((r = lex_next(lx, &t)) > 0) {
		if (t.len % 2 != 0) {
			r = -ERR_FORMAT;
			break;
		}
		if ((r = hex_append(&wb, &t, &half)) < 0)
			break;
	}
	if (r == 0 && (size_t)want != wb.len)
		r = -ERR_FORMAT;
	if (r == 0)
		r = tlsa_rdata_parse(wb.data, wb.len, out);
	wbuf_clear(&wb);
	return r;
}

/* "U S M HEX..." once the first token is known. */
static int
parse_fields(struct lex *lx, const struct tok *first, struct tlsa_rr *out)
{
	struct tok t[3];
	char num[16];
	uint8_t v[3];
	struct wbuf wb;
	struct tok h;
	int half = -1, r, i;

	t[0] = *first;
	for (i = 1; i < 3; i++)
		if ((r = lex_next(lx, &t[i])) <= 0)
			return r < 0 ? r : -ERR_FORMAT;
	for (i = 0; i < 3; i++) {
		if (t[i].len >= sizeof(num))
			return -ERR_FORMAT;
		memcpy(num, t[i].s, t[i].len);
		num[t[i].len] = '\0';
		if (i == 0)
			r = tlsa_usage_parse(num, &v[i]);
		else if (i == 1)
			r = tlsa_selector_parse(num, &v[i]);
		else
			r = tlsa_mtype_parse(num, &v[i]);
		if (r < 0)
			return -ERR_FORMAT;
	}
	wbuf_init(&wb, TLSA_RDATA_MAX - 3);
	while ((r = lex_next(lx, &h)) > 0)
		if ((r = hex_append(&wb, &h, &half)) < 0)
			break;
	if (r == 0 && half >= 0)
		r = -ERR_FORMAT; /* odd number of hex digits */
	if (r == 0) {
		out->usage = v[0];
		out->selector = v[1];
		out->mtype = v[2];
		out->len = wb.len;
		out->data = xmalloc(wb.len + 1);
		if (wb.len > 0)
			memcpy(out->data, wb.data, wb.len);
	}
	wbuf_clear(&wb);
	return r;
}

static int
parse_rdata(struct lex *lx, struct tlsa_rr *out)
{
	struct tok t;
	int r;

	if ((r = lex_next(lx, &t)) <= 0)
		return r < 0 ? r : -ERR_FORMAT;
	if (t.len == 2 && t.s[0] == '\\' && t.s[1] == '#')
		return parse_generic(lx, out);
	return parse_fields(lx, &t, out);
}

int
tlsa_text_parse(const char *text, size_t len, struct tlsa_rr *out)
{
	struct lex lx;
	int r;

	memset(out, 0, sizeof(*out));
	if (len > TLSA_TEXT_MAX)
		return -ERR_TOOBIG;
	if (text == NULL)
		return -ERR_FORMAT;
	lex_init(&lx, text, len);
	if ((r = parse_rdata(&lx, out)) < 0)
		tlsa_rr_clear(out);
	return r;
}

char *
tlsa_format(const struct tlsa_rr *rr)
{
	char *hex, *s;

	if (rr->len == 0) {
		(void)xasprintf(
		    &s, "%u %u %u", rr->usage, rr->selector, rr->mtype);
		return s;
	}
	hex = hex_encode(rr->data, rr->len);
	(void)xasprintf(
	    &s, "%u %u %u %s", rr->usage, rr->selector, rr->mtype, hex);
	free(hex);
	return s;
}

/* A domain name in the letters-digits-hyphen-underscore style of owners. */
static int
owner_check(const struct tok *t)
{
	size_t i, label = 0, labels = 0;
	char c;

	if (t->len == 1 && t->s[0] == '.')
		return 0;
	if (t->len > 254 || (t->len == 254 && t->s[253] != '.'))
		return -ERR_FORMAT;
	for (i = 0; i < t->len; i++) {
		c = t->s[i];
		if (c == '.') {
			if (label == 0)
				return -ERR_FORMAT;
			label = 0;
			labels++;
			continue;
		}
		if (c == '*' &&
		    !(label == 0 && labels == 0 &&
			(i + 1 == t->len || t->s[i + 1] == '.')))
			return -ERR_FORMAT;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '-' || c == '_' ||
			c == '*'))
			return -ERR_FORMAT;
		if (++label > 63)
			return -ERR_FORMAT;
	}
	return 0;
}

static int
is_class(const struct tok *t)
{
	long long v;
	struct tok n;

	if (tok_eq(t, "IN") || tok_eq(t, "CH") || tok_eq(t, "HS") ||
	    tok_eq(t, "CS"))
		return 1;
	if (t->len > 5 && strncasecmp(t->s, "CLASS", 5) == 0) {
		n.s = t->s + 5;
		n.len = t->len - 5;
		return tok_number(&n, 5, 65535, &v) == 0;
	}
	return 0;
}

/* Owner, then at most one TTL and one class in either order, then the type. */
static int
zone_prefix(struct lex *lx, char *owner, size_t ownersz)
{
	struct tok t;
	long long ttl;
	int seen_ttl = 0, seen_class = 0;

	if (lx->len == 0 || !is_token_char((unsigned char)lx->p[0]))
		return -ERR_FORMAT; /* an owner must start the line */
	if (lex_next(lx, &t) <= 0)
		return -ERR_FORMAT;
	if (owner_check(&t) < 0)
		return -ERR_FORMAT;
	if (owner != NULL) {
		if (t.len >= ownersz)
			return -ERR_TOOBIG;
		memcpy(owner, t.s, t.len);
		owner[t.len] = '\0';
	}
	for (;;) {
		if (lex_next(lx, &t) <= 0)
			return -ERR_FORMAT;
		if (tok_eq(&t, "TLSA") || tok_eq(&t, "TYPE52"))
			return 0;
		if (!seen_ttl && tok_number(&t, 10, TLSA_TTL_MAX, &ttl) == 0)
			seen_ttl = 1;
		else if (!seen_class && is_class(&t))
			seen_class = 1;
		else
			return -ERR_FORMAT;
	}
}

int
tlsa_zone_line_parse(const char *line, size_t len, char *owner, size_t ownersz,
    struct tlsa_rr *out)
{
	struct lex lx;
	int r;

	memset(out, 0, sizeof(*out));
	if (owner != NULL && ownersz > 0)
		owner[0] = '\0';
	if (len > TLSA_TEXT_MAX + 1024)
		return -ERR_TOOBIG;
	if (line == NULL)
		return -ERR_FORMAT;
	lex_init(&lx, line, len);
	if ((r = zone_prefix(&lx, owner, ownersz)) < 0)
		goto out;
	r = parse_rdata(&lx, out);
out:
	if (r < 0) {
		tlsa_rr_clear(out);
		if (owner != NULL && ownersz > 0)
			owner[0] = '\0';
	}
	return r;
}
