/*
 * Bounded read cursor and capped write buffer: the one way outside input is
 * read and output is built.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "danemta/buf.h"
#include "danemta/err.h"
#include "danemta/util.h"

#define WBUF_MIN_SIZE 64

void
rbuf_init(struct rbuf *rb, const void *data, size_t len)
{
	rb->data = data;
	rb->len = len;
	rb->pos = 0;
}

size_t
rbuf_left(const struct rbuf *rb)
{
	return rb->len - rb->pos;
}

int
rbuf_get_ref(struct rbuf *rb, size_t n, const uint8_t **p)
{
	if (rbuf_left(rb) < n)
		return -ERR_TRUNCATED;
	*p = rb->data + rb->pos;
	rb->pos += n;
	return 0;
}

int
rbuf_skip(struct rbuf *rb, size_t n)
{
	const uint8_t *p;

	return rbuf_get_ref(rb, n, &p);
}

int
rbuf_get_u8(struct rbuf *rb, uint8_t *v)
{
	const uint8_t *p;

	if (rbuf_get_ref(rb, 1, &p) < 0)
		return -ERR_TRUNCATED;
	*v = p[0];
	return 0;
}

int
rbuf_get_u16(struct rbuf *rb, uint16_t *v)
{
	const uint8_t *p;

	if (rbuf_get_ref(rb, 2, &p) < 0)
		return -ERR_TRUNCATED;
	*v = (uint16_t)(p[0] << 8 | p[1]);
	return 0;
}

int
rbuf_get_u32(struct rbuf *rb, uint32_t *v)
{
	const uint8_t *p;

	if (rbuf_get_ref(rb, 4, &p) < 0)
		return -ERR_TRUNCATED;
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
	    (uint32_t)p[3];
	return 0;
}

void
wbuf_init(struct wbuf *wb, size_t max)
{
	wb->data = NULL;
	wb->len = 0;
	wb->size = 0;
	wb->max = max;
}

void
wbuf_clear(struct wbuf *wb)
{
	free(wb->data);
	wbuf_init(wb, wb->max);
}

void
wbuf_reset(struct wbuf *wb)
{
	wb->len = 0;
	if (wb->data != NULL)
		wb->data[0] = '\0';
}

/* Make room for n more bytes plus the terminating NUL. */
static int
wbuf_reserve(struct wbuf *wb, size_t n)
{
	size_t need, size;

	if (n > wb->max || wb->len > wb->max - n)
		return -ERR_TOOBIG;
	need = wb->len + n + 1;
	if (need <= wb->size)
		return 0;
	size = wb->size ? wb->size : WBUF_MIN_SIZE;
	while (size < need)
		size *= 2;
	wb->data = xreallocarray(wb->data, 1, size);
	wb->size = size;
	return 0;
}

int
wbuf_add(struct wbuf *wb, const void *p, size_t n)
{
	if (wbuf_reserve(wb, n) < 0)
		return -ERR_TOOBIG;
	if (n > 0)
		memcpy(wb->data + wb->len, p, n);
	wb->len += n;
	wb->data[wb->len] = '\0';
	return 0;
}

int
wbuf_addc(struct wbuf *wb, uint8_t c)
{
	return wbuf_add(wb, &c, 1);
}

int
wbuf_addstr(struct wbuf *wb, const char *s)
{
	return wbuf_add(wb, s, strlen(s));
}

int
wbuf_printf(struct wbuf *wb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ERR_FORMAT;
	if (wbuf_reserve(wb, (size_t)n) < 0)
		return -ERR_TOOBIG;
	va_start(ap, fmt);
	(void)vsnprintf((char *)wb->data + wb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	wb->len += (size_t)n;
	return 0;
}

void
wbuf_consume(struct wbuf *wb, size_t n)
{
	if (n >= wb->len) {
		wbuf_reset(wb);
		return;
	}
	memmove(wb->data, wb->data + n, wb->len - n);
	wb->len -= n;
	wb->data[wb->len] = '\0';
}

char *
wbuf_steal(struct wbuf *wb)
{
	char *s = (char *)wb->data;

	if (s == NULL)
		s = xstrdup("");
	wbuf_init(wb, wb->max);
	return s;
}

char *
hex_encode(const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *s = xcalloc(2, n + 1);
	size_t i;

	for (i = 0; i < n; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 0xf];
	}
	return s;
}
