/*
 * Buffers with a hard maximum.  All outside input is read through a
 * struct rbuf, whose getters return -ERR_TRUNCATED instead of over-reading;
 * output is built in a struct wbuf that refuses to grow past its cap.
 */
#ifndef DANEMTA_BUF_H
#define DANEMTA_BUF_H

#include <stddef.h>
#include <stdint.h>

/* A read cursor over borrowed bytes. */
struct rbuf {
	const uint8_t *data;
	size_t len;
	size_t pos;
};

void rbuf_init(struct rbuf *rb, const void *data, size_t len);
size_t rbuf_left(const struct rbuf *rb);
int rbuf_get_u8(struct rbuf *rb, uint8_t *v);
int rbuf_get_u16(struct rbuf *rb, uint16_t *v); /* network order */
int rbuf_get_u32(struct rbuf *rb, uint32_t *v); /* network order */
/* Borrow n bytes: *p points into the buffer. */
int rbuf_get_ref(struct rbuf *rb, size_t n, const uint8_t **p);
int rbuf_skip(struct rbuf *rb, size_t n);

/* A growable byte buffer with a cap; always NUL-terminated for convenience. */
struct wbuf {
	uint8_t *data;
	size_t len;
	size_t size;
	size_t max;
};

void wbuf_init(struct wbuf *wb, size_t max);
void wbuf_clear(struct wbuf *wb); /* frees the storage */
void wbuf_reset(struct wbuf *wb); /* keeps the storage, len = 0 */
int wbuf_add(struct wbuf *wb, const void *p, size_t n);
int wbuf_addc(struct wbuf *wb, uint8_t c);
int wbuf_addstr(struct wbuf *wb, const char *s);
int wbuf_printf(struct wbuf *wb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Remove the first n bytes. */
void wbuf_consume(struct wbuf *wb, size_t n);
/* Take ownership of the NUL-terminated contents; the wbuf is left empty. */
char *wbuf_steal(struct wbuf *wb);

/* Lower-case hex of n bytes into a new string (caller frees). */
char *hex_encode(const uint8_t *p, size_t n);

#endif
