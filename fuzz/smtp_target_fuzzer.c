/*
 * libFuzzer target for smtp_target_parse() (smtp_client.c): HOST[:PORT]
 * as typed on a command line.  Invariants: a refused input leaves the
 * result empty; an accepted one gives a NUL-terminated, non-empty host of
 * printable characters with no final dot and a port only when one was typed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "danemta/err.h"
#include "danemta/smtp_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok)
{
	if (!ok)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_target t;
	size_t n, i;
	int r;

	r = smtp_target_parse((const char *)data, size, &t);
	n = strnlen(t.host, sizeof(t.host));
	check(n < sizeof(t.host));
	if (r < 0) {
		check(r == -ERR_FORMAT && n == 0 && t.port == 0 && !t.literal);
		return 0;
	}
	check(r == 0 && n > 0 && t.host[n - 1] != '.');
	for (i = 0; i < n; i++)
		check(t.host[i] > 0x20 && t.host[i] < 0x7f);
	check(t.port == 0 || memchr(data, ':', size) != NULL);
	return 0;
}
