/*
 * String and memory functions from OpenBSD that glibc 2.36 lacks, written
 * for danemta: strlcpy, strlcat, strtonum, freezero.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "danemta/util.h"

size_t
strlcpy(char *dst, const char *src, size_t dstsize)
{
	size_t srclen = strlen(src);

	if (dstsize > 0) {
		size_t n = srclen < dstsize - 1 ? srclen : dstsize - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return srclen;
}

size_t
strlcat(char *dst, const char *src, size_t dstsize)
{
	size_t dlen = strnlen(dst, dstsize);

	if (dlen == dstsize)
		return dstsize + strlen(src);
	return dlen + strlcpy(dst + dlen, src, dstsize - dlen);
}

long long
strtonum(
    const char *nptr, long long minval, long long maxval, const char **errstr)
{
	long long v;
	char *end;

	*errstr = NULL;
	if (minval > maxval || nptr == NULL || *nptr == '\0') {
		*errstr = "invalid";
		return 0;
	}
	errno = 0;
	v = strtoll(nptr, &end, 10);
	if (*end != '\0' || end == nptr) {
		*errstr = "invalid";
		return 0;
	}
	if ((v == LLONG_MIN && errno == ERANGE) || v < minval) {
		*errstr = "too small";
		return 0;
	}
	if ((v == LLONG_MAX && errno == ERANGE) || v > maxval) {
		*errstr = "too large";
		return 0;
	}
	return v;
}

void
freezero(void *p, size_t n)
{
	if (p == NULL)
		return;
	explicit_bzero(p, n);
	free(p);
}
