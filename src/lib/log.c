/*
 * Logging to stderr, syslog or a caller's sink.  The only global state of
 * the library: the log destination is a process-wide choice.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "danemta/log.h"

#define LOG_LINE_MAX 4096

static const char *log_ident = "danemta";
static int log_level = LOG_LEVEL_INFO;
static int log_syslog;
static log_sink_fn log_sink;
static void *log_sink_arg;

void
log_init(const char *ident, int level, int use_syslog)
{
	log_ident = ident;
	log_level = level;
	log_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_set_level(int level)
{
	log_level = level;
}

int
log_get_level(void)
{
	return log_level;
}

void
log_set_sink(log_sink_fn fn, void *arg)
{
	log_sink = fn;
	log_sink_arg = arg;
}

static void
log_emit(int level, const char *line)
{
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

	if (level > log_level)
		return;
	if (log_sink != NULL)
		log_sink(level, line, log_sink_arg);
	else if (log_syslog)
		syslog(prio[level], "%s", line);
	else
		(void)fprintf(stderr, "%s: %s\n", log_ident, line);
}

void
log_vlog(int level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];

	if (level > log_level)
		return;
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	log_emit(level, line);
}

static void log_errno(int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
log_errno(int level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	int saved = errno;
	size_t n;

	(void)vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	(void)snprintf(line + n, sizeof(line) - n, ": %s", strerror(saved));
	log_emit(level, line);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_errno(LOG_LEVEL_WARN, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_LEVEL_WARN, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_LEVEL_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_LEVEL_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_errno(LOG_LEVEL_ERR, fmt, ap);
	va_end(ap);
	exit(70);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_LEVEL_ERR, fmt, ap);
	va_end(ap);
	exit(70);
}

char *
log_sanitise(char *dst, size_t dstsz, const void *src, size_t len)
{
	const unsigned char *s = src;
	size_t i;

	if (dstsz == 0)
		return dst;
	for (i = 0; i < len && i + 1 < dstsz; i++)
		if (s[i] >= 0x20 && s[i] < 0x7f)
			dst[i] = (char)s[i];
		else
			dst[i] = '?';
	dst[i] = '\0';
	return dst;
}
