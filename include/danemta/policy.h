/*
 * TLS security levels for outgoing mail and the per-destination table that
 * picks one per next-hop domain (RFC 7672 §2.2, §6 mandatory DANE, §9.1
 * the local "disable DANE for this destination" bypass).  Levels follow
 * Postfix's smtp_tls_security_level: dane-only, dane, encrypt, may, none.
 */
#ifndef DANEMTA_POLICY_H
#define DANEMTA_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "danemta/plan.h"
#include "danemta/smtp_client.h"

#define POLICY_TABLE_ENTRIES_MAX 100000	   /* lines with an entry */
#define POLICY_LINE_MAX 1024		   /* octets per line, with the LF */
#define POLICY_FILE_MAX ((size_t)16 << 20) /* the whole table */
#define POLICY_ERROR_MAX 256

enum policy_level {
	POLICY_DANE_ONLY = 0, /* DANE-authenticated TLS or defer */
	POLICY_DANE,	/* the plan's modes (RFC 7672 opportunistic DANE) */
	POLICY_ENCRYPT, /* TLS required, never authenticated, no DANE */
	POLICY_MAY,	/* STARTTLS when offered, no DANE */
	POLICY_NONE,	/* plaintext, STARTTLS never sent */
};

/* "dane-only", "dane", "encrypt", "may", "none". */
const char *policy_level_str(enum policy_level l);
/* Parse a level name: 0 or -ERR_FORMAT. */
int policy_level_parse(const char *s, enum policy_level *out);

/*
 * How one host of a plan is used under a level.  Returns 0 with *mode set
 * when the host may be tried, or -ERR_NOTFOUND when it must not be used,
 * with why (a text for people, at most whysz bytes) and *tlsrpt a static
 * RFC 8460 result-type or NULL.  dane-only: only hosts in plan mode dane,
 * and only under a secure MX RRset ("dane-required" otherwise); dane: the
 * plan's mode (skip stays skip); encrypt, may, none: TLSA is ignored, any
 * host with addresses is tried with TLS required, opportunistic TLS or no
 * TLS.
 */
int policy_host_mode(enum policy_level l, const struct plan *p,
    const struct plan_host *h, enum smtp_tls_mode *mode, char *why,
    size_t whysz, const char **tlsrpt);

/* A loaded table; see policy_table_parse(). */
struct policy_table;

/*
 * Parse a table: one "DOMAIN LEVEL" per line separated by blanks; '#'
 * starts a comment (whole line or after the entry); blank lines are
 * skipped.  DOMAIN is an exact next-hop domain ("example.com") or a
 * suffix entry with a leading dot (".example.com": every domain below
 * example.com, not example.com itself).  Names are compared without case
 * and a final dot.  A duplicate domain, an unknown level, a third field,
 * a NUL byte or an over-long line is an error.  Returns 0 with *out (free
 * with policy_table_free()) or -ERR_FORMAT / -ERR_TOOBIG with err set to
 * "line N: why" (errsz bytes).
 */
int policy_table_parse(const char *text, size_t len, struct policy_table **out,
    char *err, size_t errsz);
/* Read and parse a file (at most POLICY_FILE_MAX); -ERR_IO when unreadable. */
int policy_table_load(
    const char *path, struct policy_table **out, char *err, size_t errsz);
void policy_table_free(struct policy_table *t); /* NULL is a no-op */
size_t policy_table_count(const struct policy_table *t);

/*
 * The level for a next-hop domain: an exact entry first, else the longest
 * matching suffix entry, else def.  t may be NULL (def).
 */
enum policy_level policy_lookup(
    const struct policy_table *t, const char *domain, enum policy_level def);

#endif
