/*
 * Bounded DNS message parser (RFC 1035 §4.1, §4.1.4 compression) for the
 * RRSIG facts of an answer (RFC 4034 §3.1): inception, expiration,
 * original TTL, signer.  Every read goes through an rbuf; pointers may only
 * point backwards and are capped, so a hostile message cannot loop.  The
 * one wire-name parser of the library lives here: compressed names in whole
 * messages, uncompressed ones in libunbound's RDATA (dns_name_parse).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "danemta/buf.h"
#include "danemta/dns.h"
#include "danemta/dns_msg.h"
#include "danemta/err.h"

static bool
plain(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Append one label's presentation form. */
static int
add_label(struct wbuf *wb, const uint8_t *lab, size_t n)
{
	size_t i;
	int r;

	if (wb->len > 0 && (r = wbuf_addc(wb, '.')) < 0)
		return r;
	for (i = 0; i < n; i++) {
		r = plain(lab[i])
		    ? wbuf_addc(wb, lab[i])
		    : wbuf_printf(wb, "\\%03u", (unsigned int)lab[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * One label (or pointer, when compressed) at cur; *done set at the root
 * label.  Without compression a pointer is a bad label type.
 */
static int
name_step(struct rbuf *cur, struct rbuf *rb, bool compressed, size_t *limit,
    size_t *ptrs, size_t *wire, struct wbuf *wb, bool *done)
{
	const uint8_t *lab;
	size_t start = cur->pos, target;
	uint8_t n, lo;
	int r;

	if ((r = rbuf_get_u8(cur, &n)) < 0)
		return r;
	if (compressed && (n & 0xc0) == 0xc0) {
		if ((r = rbuf_get_u8(cur, &lo)) < 0)
			return r;
		if (*ptrs == 0)
			rb->pos = cur->pos;
		target = (size_t)(n & 0x3f) << 8 | lo;
		/*
		 * Each pointer must go before the label it sits in and before
		 * the previous pointer's target: strictly decreasing, so no
		 * name can loop.
		 */
		if (++*ptrs > DNS_MSG_PTR_MAX || target >= start ||
		    target >= *limit)
			return -ERR_FORMAT;
		*limit = target;
		cur->pos = target;
		return 0;
	}
	if (n > 63)
		return -ERR_FORMAT; /* 0x40 and 0x80 label types */
	*wire += 1 + (size_t)n;
	if (*wire > 255)
		return -ERR_TOOBIG;
	if (n == 0) {
		*done = true;
		return 0;
	}
	if ((r = rbuf_get_ref(cur, n, &lab)) < 0)
		return r;
	return add_label(wb, lab, n);
}

/* A wire name at rb's cursor; pointers are followed only when compressed. */
static int
name_parse(struct rbuf *rb, bool compressed, char *out, size_t outsz)
{
	struct rbuf cur = *rb;
	struct wbuf wb;
	size_t ptrs = 0, wire = 0, steps, limit = SIZE_MAX;
	bool done = false;
	int r = -ERR_TOOBIG;

	if (outsz < 2)
		return -ERR_TOOBIG;
	out[0] = '\0';
	wbuf_init(&wb, outsz - 1);
	/* 128 labels + DNS_MSG_PTR_MAX pointers bound the loop */
	for (steps = 0; !done && steps < 128 + DNS_MSG_PTR_MAX + 1; steps++)
		if ((r = name_step(&cur, rb, compressed, &limit, &ptrs, &wire,
			 &wb, &done)) < 0)
			goto out;
	r = -ERR_FORMAT;
	if (!done)
		goto out;
	if (ptrs == 0)
		rb->pos = cur.pos;
	if (wb.len == 0 && (r = wbuf_addc(&wb, '.')) < 0)
		goto out;
	memcpy(out, wb.data, wb.len);
	out[wb.len] = '\0';
	r = 0;
out:
	wbuf_clear(&wb);
	return r;
}

int
dns_msg_name(struct rbuf *rb, char *out, size_t outsz)
{
	return name_parse(rb, true, out, outsz);
}

int
dns_name_parse(struct rbuf *rb, char *out, size_t outsz)
{
	return name_parse(rb, false, out, outsz);
}

int
dns_msg_header_parse(const uint8_t *msg, size_t len, struct dns_msg_header *out)
{
	struct rbuf rb;

	memset(out, 0, sizeof(*out));
	rbuf_init(&rb, msg, len);
	if (rbuf_get_u16(&rb, &out->id) < 0 ||
	    rbuf_get_u16(&rb, &out->flags) < 0 ||
	    rbuf_get_u16(&rb, &out->qdcount) < 0 ||
	    rbuf_get_u16(&rb, &out->ancount) < 0 ||
	    rbuf_get_u16(&rb, &out->nscount) < 0 ||
	    rbuf_get_u16(&rb, &out->arcount) < 0)
		return -ERR_TRUNCATED;
	return 0;
}

bool
dns_name_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 1 && a[la - 1] == '.')
		la--;
	if (lb > 1 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* RRSIG RDATA (RFC 4034 §3.1) within msg: names may be compressed there. */
static int
rrsig_parse(const uint8_t *msg, size_t len, size_t rdpos, size_t rdlen,
    struct dns_msg_rrsig *s)
{
	struct rbuf rb;
	int r;

	rbuf_init(&rb, msg, rdpos + rdlen);
	rb.pos = rdpos;
	(void)len;
	if (rbuf_get_u16(&rb, &s->type_covered) < 0 ||
	    rbuf_get_u8(&rb, &s->algorithm) < 0 ||
	    rbuf_get_u8(&rb, &s->labels) < 0 ||
	    rbuf_get_u32(&rb, &s->orig_ttl) < 0 ||
	    rbuf_get_u32(&rb, &s->expiration) < 0 ||
	    rbuf_get_u32(&rb, &s->inception) < 0 ||
	    rbuf_get_u16(&rb, &s->key_tag) < 0)
		return -ERR_FORMAT;
	if ((r = dns_msg_name(&rb, s->signer, sizeof(s->signer))) < 0)
		return r == -ERR_TRUNCATED ? -ERR_FORMAT : r;
	/* the signature itself must not be empty */
	return rbuf_left(&rb) > 0 ? 0 : -ERR_FORMAT;
}

/* Skip the question section. */
static int
skip_questions(struct rbuf *rb, uint16_t qd)
{
	char name[DNS_NAME_TEXT_MAX];
	size_t i;
	int r;

	for (i = 0; i < qd; i++) {
		if ((r = dns_msg_name(rb, name, sizeof(name))) < 0)
			return r;
		if ((r = rbuf_skip(rb, 4)) < 0)
			return r;
	}
	return 0;
}

int
dns_msg_rrsigs(const uint8_t *msg, size_t len, const char *owner, uint16_t type,
    struct dns_msg_rrsig *out, size_t max, size_t *n)
{
	struct dns_msg_header h;
	struct dns_msg_rrsig s;
	struct rbuf rb;
	char name[DNS_NAME_TEXT_MAX];
	uint16_t rtype, rclass, rdlen;
	uint32_t ttl;
	size_t i;
	int r;

	*n = 0;
	if (len > DNS_MSG_MAX)
		return -ERR_TOOBIG;
	if ((r = dns_msg_header_parse(msg, len, &h)) < 0)
		return r;
	if ((size_t)h.qdcount + h.ancount > DNS_MSG_RR_MAX)
		return -ERR_TOOBIG;
	rbuf_init(&rb, msg, len);
	rb.pos = DNS_MSG_HEADER;
	if ((r = skip_questions(&rb, h.qdcount)) < 0)
		return r;
	for (i = 0; i < h.ancount; i++) {
		if ((r = dns_msg_name(&rb, name, sizeof(name))) < 0)
			return r;
		if (rbuf_get_u16(&rb, &rtype) < 0 ||
		    rbuf_get_u16(&rb, &rclass) < 0 ||
		    rbuf_get_u32(&rb, &ttl) < 0 ||
		    rbuf_get_u16(&rb, &rdlen) < 0)
			return -ERR_TRUNCATED;
		if (rbuf_left(&rb) < rdlen)
			return -ERR_TRUNCATED;
		if (rtype == DNS_TYPE_RRSIG) {
			memset(&s, 0, sizeof(s));
			if ((r = rrsig_parse(msg, len, rb.pos, rdlen, &s)) < 0)
				return r;
			if (s.type_covered == type &&
			    (owner == NULL || dns_name_eq(name, owner)) &&
			    *n < max) {
				(void)snprintf(
				    s.owner, sizeof(s.owner), "%s", name);
				s.ttl = ttl;
				out[(*n)++] = s;
			}
		}
		(void)rbuf_skip(&rb, rdlen);
	}
	return 0;
}
