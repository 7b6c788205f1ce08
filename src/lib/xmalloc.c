/* Allocation wrappers: out-of-memory ends the program, so error paths are about input. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "danemta/log.h"
#include "danemta/util.h"

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fatal("xmalloc %zu", n);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		fatal("xcalloc %zu x %zu", nmemb, size);
	return p;
}

void *
xreallocarray(void *p, size_t nmemb, size_t size)
{
	void *q;

	if (size != 0 && nmemb > (size_t)-1 / size)
		fatalx("xreallocarray: %zu x %zu overflows", nmemb, size);
	q = realloc(p, nmemb * size != 0 ? nmemb * size : 1);
	if (q == NULL)
		fatal("xreallocarray %zu x %zu", nmemb, size);
	return q;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		fatal("xstrdup");
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (p == NULL)
		fatal("xstrndup");
	return p;
}

int
xasprintf(char **ret, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	/* Most results fit on the stack: one formatting pass instead of two. */
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("xasprintf");
	if ((size_t)n < sizeof(small)) {
		*ret = xstrdup(small);
		return n;
	}
	*ret = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	(void)vsnprintf(*ret, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return n;
}
