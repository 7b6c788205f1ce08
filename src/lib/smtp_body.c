/*
 * Message bodies on the wire (RFC 5321 §2.3.8, §4.1.1.4, §4.5.2): CRLF
 * line ends, transparency dot-stuffing and the terminating ".".  Pure.
 */
#include <stdbool.h>
#include <stdint.h>

#include "danemta/buf.h"
#include "danemta/smtp_client.h"
#include "danemta/err.h"

int
smtp_body_encode(
    const uint8_t *data, size_t len, struct wbuf *out, bool *eightbit)
{
	bool bol = true;
	size_t i;
	uint8_t c;
	int r = 0;

	wbuf_init(out, SMTP_MESSAGE_MAX);
	*eightbit = false;
	for (i = 0; i < len && r == 0; i++) {
		c = data[i];
		if (c >= 0x80)
			*eightbit = true;
		if (bol && c == '.')
			r = wbuf_addc(out, '.');
		bol = false;
		if (c == '\r' || c == '\n') {
			/* CRLF, bare CR and bare LF all end one line. */
			if (c == '\r' && i + 1 < len && data[i + 1] == '\n')
				i++;
			if (r == 0)
				r = wbuf_add(out, "\r\n", 2);
			bol = true;
			continue;
		}
		if (r == 0)
			r = wbuf_addc(out, c);
	}
	if (r == 0 && !bol)
		r = wbuf_add(out, "\r\n", 2);
	if (r == 0)
		r = wbuf_add(out, ".\r\n", 3);
	if (r < 0) {
		wbuf_clear(out);
		return -ERR_TOOBIG;
	}
	return 0;
}
