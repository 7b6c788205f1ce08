/*
 * Logging: one event per line, subsystem first ("dns: ...", "smtp: ...").
 * Commands log to stderr; the daemon to syslog.  Remote text must go
 * through log_sanitise() before it is logged.
 */
#ifndef DANEMTA_LOG_H
#define DANEMTA_LOG_H

#include <stddef.h>
#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* ident: program name; level: most verbose level printed; syslog: 0 = stderr. */
void log_init(const char *ident, int level, int use_syslog);
void log_set_level(int level);
int log_get_level(void);

/*
 * A callback that receives every line at or above the current level instead
 * of stderr (used by tests and by commands that collect a trace).  NULL
 * restores stderr.
 */
typedef void (*log_sink_fn)(int level, const char *line, void *arg);
void log_set_sink(log_sink_fn fn, void *arg);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_vlog(int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
__attribute__((noreturn)) void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/*
 * Copy at most len bytes of untrusted text into dst (size dstsz, always
 * NUL-terminated), replacing control and non-ASCII bytes with '?'.
 * Returns dst.
 */
char *log_sanitise(char *dst, size_t dstsz, const void *src, size_t len);

/* A security invariant: stays on in release builds. */
#define ASSERT_SECURE(cond)                                                    \
	do {                                                                   \
		if (!(cond))                                                   \
			fatalx("invariant failed: %s (%s:%d)", #cond,          \
			    __FILE__, __LINE__);                               \
	} while (0)

#endif
