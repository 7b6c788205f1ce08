/*
 * TLS security levels and the per-destination policy table: the TLS mode
 * of each host of a destination plan (RFC 7672 §2.2 opportunistic
 * DANE, §6 mandatory DANE, §9.1 a local bypass for broken DANE).  The
 * table parser reads a local file; it is still strict and bounded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "danemta/policy.h"
#include "danemta/util.h"
#include "danemta/err.h"

struct policy_entry {
	char *name; /* lower case, no final dot; ".x" for a suffix entry */
	enum policy_level level;
};

struct policy_table {
	struct policy_entry *v; /* sorted by name */
	size_t n, cap;
};

static const char *const level_names[] = {
    [POLICY_DANE_ONLY] = "dane-only",
    [POLICY_DANE] = "dane",
    [POLICY_ENCRYPT] = "encrypt",
    [POLICY_MAY] = "may",
    [POLICY_NONE] = "none",
};

const char *
policy_level_str(enum policy_level l)
{
	if ((size_t)l >= sizeof(level_names) / sizeof(level_names[0]))
		return "unknown";
	return level_names[l];
}

int
policy_level_parse(const char *s, enum policy_level *out)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum policy_level)i;
			return 0;
		}
	}
	return -ERR_FORMAT;
}

static int
refuse(const char **tlsrpt, const char *rpt)
{
	*tlsrpt = rpt;
	return -ERR_NOTFOUND;
}

int
policy_host_mode(enum policy_level l, const struct plan *p,
    const struct plan_host *h, enum smtp_tls_mode *mode, char *why,
    size_t whysz, const char **tlsrpt)
{
	*mode = SMTP_TLS_NONE;
	*tlsrpt = NULL;
	why[0] = '\0';
	if (h->naddrs == 0) {
		(void)snprintf(why, whysz, "%s: %s", h->name,
		    h->reason[0] ? h->reason : "no address");
		return refuse(tlsrpt, NULL);
	}
	switch (l) {
	case POLICY_DANE_ONLY:
		if (!plan_mx_secure(p)) {
			(void)snprintf(why, whysz,
			    "dane-required: the MX RRset of %s is not "
			    "DNSSEC-secure",
			    p->domain);
			return refuse(tlsrpt, "dane-required");
		}
		if (h->mode != PLAN_MODE_DANE) {
			(void)snprintf(why, whysz,
			    "dane-required: %s has no usable TLSA record (%s)",
			    h->name, h->reason);
			return refuse(tlsrpt, "dane-required");
		}
		*mode = SMTP_TLS_DANE;
		return 0;
	case POLICY_DANE:
		switch (h->mode) {
		case PLAN_MODE_DANE:
			*mode = SMTP_TLS_DANE;
			return 0;
		case PLAN_MODE_TLS_REQUIRED:
			*mode = SMTP_TLS_REQUIRED;
			return 0;
		case PLAN_MODE_OPPORTUNISTIC:
			*mode = SMTP_TLS_OPPORTUNISTIC;
			return 0;
		default:
			(void)snprintf(
			    why, whysz, "%s skipped: %s", h->name, h->reason);
			return refuse(tlsrpt,
			    h->tlsa_lookup == PLAN_LOOKUP_ERROR
				? "dnssec-invalid"
				: NULL);
		}
	case POLICY_ENCRYPT:
		*mode = SMTP_TLS_REQUIRED;
		return 0;
	case POLICY_MAY:
		*mode = SMTP_TLS_OPPORTUNISTIC;
		return 0;
	case POLICY_NONE:
		*mode = SMTP_TLS_NONE;
		return 0;
	}
	(void)snprintf(why, whysz, "%s: unknown policy level", h->name);
	return refuse(tlsrpt, NULL);
}

/* ---- the table ---- */

static int
entry_cmp(const void *a, const void *b)
{
	const struct policy_entry *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static void
table_add(struct policy_table *t, const char *name, enum policy_level l)
{
	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 16 : 2 * t->cap;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	t->v[t->n].name = xstrdup(name);
	t->v[t->n].level = l;
	t->n++;
}

/* Lower-case name without a final dot into out; 0 or -ERR_FORMAT. */
static int
name_norm(const char *in, size_t len, char *out, size_t outsz)
{
	char tmp[PLAN_NAME_MAX + 1], clean[PLAN_NAME_MAX];
	const char *why;
	size_t i, off = in[0] == '.' ? 1 : 0;
	int literal;

	if (len <= off || len - off >= sizeof(tmp))
		return -ERR_FORMAT;
	memcpy(tmp, in + off, len - off);
	tmp[len - off] = '\0';
	if (plan_domain_parse(tmp, clean, sizeof(clean), &literal, &why) < 0)
		return -ERR_FORMAT;
	if (literal != 0 && off == 1)
		return -ERR_FORMAT;
	if (literal != 0)
		(void)strlcpy(clean, tmp, sizeof(clean));
	for (i = 0; clean[i] != '\0'; i++)
		if (clean[i] >= 'A' && clean[i] <= 'Z')
			clean[i] = (char)(clean[i] - 'A' + 'a');
	if (snprintf(out, outsz, "%s%s", off ? "." : "", clean) >= (int)outsz)
		return -ERR_FORMAT;
	return 0;
}

/* Split one line (no LF) into at most three blank-separated fields. */
static size_t
split_fields(char *line, char *f[3])
{
	size_t n = 0;
	char *p = line;

	while (*p != '\0' && n < 3) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			break;
		f[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '#')
			p++;
		if (*p == '#') {
			*p = '\0';
			break;
		}
		if (*p != '\0')
			*p++ = '\0';
	}
	return n;
}

static int
parse_line(struct policy_table *t, char *line, const char **why)
{
	char *f[3] = {NULL, NULL, NULL}, name[PLAN_NAME_MAX + 2];
	enum policy_level l;
	size_t n = split_fields(line, f);

	if (n == 0)
		return 0;
	if (n == 1) {
		*why = "a domain without a level";
		return -ERR_FORMAT;
	}
	if (n == 3) {
		*why = "more than two fields";
		return -ERR_FORMAT;
	}
	if (name_norm(f[0], strlen(f[0]), name, sizeof(name)) < 0) {
		*why = "not a domain name (or .domain suffix)";
		return -ERR_FORMAT;
	}
	if (policy_level_parse(f[1], &l) < 0) {
		*why = "unknown level (dane-only, dane, encrypt, may, none)";
		return -ERR_FORMAT;
	}
	if (t->n >= POLICY_TABLE_ENTRIES_MAX) {
		*why = "too many entries";
		return -ERR_TOOBIG;
	}
	table_add(t, name, l);
	return 0;
}

static void
table_clear(struct policy_table *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->v[i].name);
	free(t->v);
	t->v = NULL;
	t->n = t->cap = 0;
}

int
policy_table_parse(const char *text, size_t len, struct policy_table **out,
    char *err, size_t errsz)
{
	struct policy_table *t = xcalloc(1, sizeof(*t));
	char line[POLICY_LINE_MAX + 1];
	const char *why = NULL, *nl;
	size_t pos = 0, lineno = 0, ll, i;
	int r = 0;

	*out = NULL;
	err[0] = '\0';
	if (len > POLICY_FILE_MAX) {
		(void)snprintf(err, errsz, "over %zu bytes", POLICY_FILE_MAX);
		r = -ERR_TOOBIG;
		goto out;
	}
	while (pos < len && r == 0) {
		lineno++;
		nl = memchr(text + pos, '\n', len - pos);
		ll = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
		if (ll >= POLICY_LINE_MAX) {
			why = "line too long";
			r = -ERR_TOOBIG;
		} else if (memchr(text + pos, '\0', ll) != NULL) {
			why = "NUL byte";
			r = -ERR_FORMAT;
		} else {
			memcpy(line, text + pos, ll);
			line[ll] = '\0';
			if (ll > 0 && line[ll - 1] == '\r')
				line[ll - 1] = '\0';
			r = parse_line(t, line, &why);
		}
		pos += ll + 1;
	}
	if (r < 0) {
		(void)snprintf(err, errsz, "line %zu: %s", lineno, why);
		goto out;
	}
	if (t->n > 1) /* qsort() of NULL is undefined */
		qsort(t->v, t->n, sizeof(*t->v), entry_cmp);
	for (i = 1; i < t->n; i++) {
		if (strcmp(t->v[i - 1].name, t->v[i].name) == 0) {
			(void)snprintf(
			    err, errsz, "duplicate entry for %s", t->v[i].name);
			r = -ERR_FORMAT;
			goto out;
		}
	}
	*out = t;
	t = NULL;
out:
	policy_table_free(t);
	return r;
}

int
policy_table_load(
    const char *path, struct policy_table **out, char *err, size_t errsz)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n;
	int r = -ERR_IO;

	*out = NULL;
	if (f == NULL) {
		(void)snprintf(err, errsz, "%s", strerror(errno));
		return -ERR_IO;
	}
	buf = xmalloc(POLICY_FILE_MAX + 1);
	n = fread(buf, 1, POLICY_FILE_MAX + 1, f);
	if (ferror(f))
		(void)snprintf(err, errsz, "read error");
	else
		r = policy_table_parse(buf, n, out, err, errsz);
	(void)fclose(f);
	free(buf);
	return r;
}

void
policy_table_free(struct policy_table *t)
{
	if (t == NULL)
		return;
	table_clear(t);
	free(t);
}

size_t
policy_table_count(const struct policy_table *t)
{
	return t == NULL ? 0 : t->n;
}

static const struct policy_entry *
table_find(const struct policy_table *t, const char *name)
{
	struct policy_entry key = {(char *)(uintptr_t)name, POLICY_DANE};

	return bsearch(&key, t->v, t->n, sizeof(*t->v), entry_cmp);
}

enum policy_level
policy_lookup(
    const struct policy_table *t, const char *domain, enum policy_level def)
{
	const struct policy_entry *e;
	char name[PLAN_NAME_MAX + 2];
	const char *p;

	if (t == NULL || t->n == 0 ||
	    name_norm(domain, strlen(domain), name, sizeof(name)) < 0 ||
	    name[0] == '.')
		return def;
	if ((e = table_find(t, name)) != NULL)
		return e->level;
	/* Longest suffix first: ".b.c" of "a.b.c", then ".c". */
	for (p = strchr(name, '.'); p != NULL; p = strchr(p + 1, '.'))
		if ((e = table_find(t, p)) != NULL)
			return e->level;
	return def;
}
