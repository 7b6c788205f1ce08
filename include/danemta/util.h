/*
 * Small helpers shared by the library and the commands: allocation that
 * ends the program on out-of-memory, and string functions glibc lacks.
 */
#ifndef DANEMTA_UTIL_H
#define DANEMTA_UTIL_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
int xasprintf(char **ret, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

size_t strlcpy(char *dst, const char *src, size_t dstsize);
size_t strlcat(char *dst, const char *src, size_t dstsize);
long long strtonum(
    const char *nptr, long long minval, long long maxval, const char **errstr);
void freezero(void *p, size_t n);

#endif
