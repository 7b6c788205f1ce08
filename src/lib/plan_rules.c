/*
 * The rules of the RFC 7672 §2.2 destination plan as pure functions: the
 * next-hop name check, the MX answer (§2.2.1, RFC 7505), address answers
 * and TLSA candidates (§2.2.2), TLSA answers (§2.2.3), per-host modes and
 * the domain policy (checklist §1.17).  No I/O: plan.c feeds them answers.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "danemta/err.h"
#include "danemta/plan.h"
#include "danemta/util.h"

/* Text into a fixed field; cut short silently, a reason is not data. */
static void textf(char *dst, size_t dstsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
textf(char *dst, size_t dstsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start above */
	(void)vsnprintf(dst, dstsz, fmt, ap);
	va_end(ap);
}

/* ---- the next-hop domain ---- */

static int
parse_literal(const char *in, size_t len, char *out, size_t outsz, int *literal,
    const char **why)
{
	char tmp[64];
	unsigned char bin[16];
	const char *a = in + 1;
	size_t alen = len - 2;
	int af = AF_INET;

	*why = "malformed address literal";
	if (len < 3 || in[len - 1] != ']')
		return -ERR_FORMAT;
	if (alen > 5 && strncasecmp(a, "IPv6:", 5) == 0) {
		af = AF_INET6;
		a += 5;
		alen -= 5;
	}
	if (alen == 0 || alen >= sizeof(tmp) || alen >= outsz)
		return -ERR_FORMAT;
	memcpy(tmp, a, alen);
	tmp[alen] = '\0';
	if (inet_pton(af, tmp, bin) != 1)
		return -ERR_FORMAT;
	(void)strlcpy(out, tmp, outsz);
	*literal = af;
	*why = NULL;
	return 0;
}

static bool
ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int
plan_domain_parse(
    const char *in, char *out, size_t outsz, int *literal, const char **why)
{
	size_t len, i, lab = 0;

	*literal = 0;
	*why = NULL;
	if (outsz > 0)
		out[0] = '\0';
	len = strnlen(in, PLAN_NAME_MAX + 1);
	if (len == 0) {
		*why = "empty domain";
		return -ERR_FORMAT;
	}
	if (in[0] == '[')
		return parse_literal(in, len, out, outsz, literal, why);
	if (len > 1 && in[len - 1] == '.')
		len--; /* one final dot: fully qualified */
	if (len > PLAN_DOMAIN_MAX || len >= outsz) {
		*why = "name longer than 253 octets";
		return -ERR_TOOBIG;
	}
	for (i = 0; i <= len; i++) {
		if (i == len || in[i] == '.') {
			if (lab == 0) {
				*why = "empty label";
				return -ERR_FORMAT;
			}
			if (lab > 63) {
				*why = "label longer than 63 octets";
				return -ERR_TOOBIG;
			}
			if (in[i - 1] == '-' || in[i - lab] == '-') {
				*why = "label begins or ends with '-'";
				return -ERR_FORMAT;
			}
			lab = 0;
			continue;
		}
		if (!ldh(in[i])) {
			*why = "character not allowed in a domain name";
			return -ERR_FORMAT;
		}
		lab++;
	}
	memcpy(out, in, len);
	out[len] = '\0';
	return 0;
}

/* ---- the plan skeleton ---- */

static void
host_init(struct plan_host *h, const char *name, uint16_t pref)
{
	memset(h, 0, sizeof(*h));
	(void)strlcpy(h->name, name, sizeof(h->name));
	h->preference = pref;
	h->dnssec = DNSSEC_INDETERMINATE;
	h->cname_dnssec = DNSSEC_INDETERMINATE;
	h->a_lookup = h->aaaa_lookup = PLAN_LOOKUP_NOT_DONE;
	h->a_dnssec = h->aaaa_dnssec = DNSSEC_INDETERMINATE;
	h->cname_lookup = PLAN_LOOKUP_NOT_DONE;
	h->tlsa_lookup = PLAN_LOOKUP_NOT_DONE;
	h->tlsa_dnssec = DNSSEC_INDETERMINATE;
	h->mode = PLAN_MODE_SKIP;
	(void)strlcpy(h->reason, "not looked up", sizeof(h->reason));
}

void
plan_init(struct plan *p, const char *domain, const struct plan_opts *opts)
{
	memset(p, 0, sizeof(*p));
	(void)strlcpy(p->domain, domain, sizeof(p->domain));
	p->mx_lookup = PLAN_LOOKUP_NOT_DONE;
	p->mx_dnssec = DNSSEC_INDETERMINATE;
	p->policy = PLAN_POLICY_DEFER;
	(void)strlcpy(p->reason, "not resolved", sizeof(p->reason));
	if (opts != NULL)
		p->opts = *opts;
	if (p->opts.port == 0)
		p->opts.port = 25;
	if (p->opts.no_mx) {
		p->nhosts = 1;
		host_init(&p->hosts[0], domain, 0);
		p->hosts[0].implicit = true;
	}
}

void
plan_set_literal(struct plan *p, int family, const char *addr)
{
	struct plan_host *h = &p->hosts[0];

	p->address_literal = true;
	p->mx_dnssec = DNSSEC_INSECURE;
	p->nhosts = 1;
	host_init(h, p->domain, 0);
	h->implicit = true;
	h->dnssec = DNSSEC_INSECURE;
	h->naddrs = 1;
	h->addrs[0].family = family;
	h->addrs[0].dnssec = DNSSEC_INSECURE;
	(void)strlcpy(h->addrs[0].address, addr, sizeof(h->addrs[0].address));
	h->mode = PLAN_MODE_OPPORTUNISTIC;
	(void)strlcpy(h->reason,
	    "address literal: DANE does not apply (RFC 7672 §2.2)",
	    sizeof(h->reason));
	p->policy = PLAN_POLICY_OPPORTUNISTIC;
	(void)strlcpy(p->reason, h->reason, sizeof(p->reason));
}

static enum plan_lookup
lookup_of(enum dns_lookup l)
{
	switch (l) {
	case DNS_LOOKUP_DATA:
		return PLAN_LOOKUP_OK;
	case DNS_LOOKUP_NODATA:
		return PLAN_LOOKUP_NODATA;
	case DNS_LOOKUP_NXDOMAIN:
		return PLAN_LOOKUP_NXDOMAIN;
	case DNS_LOOKUP_ERROR:
		break;
	}
	return PLAN_LOOKUP_ERROR;
}

static void
set_error(char *dst, size_t dstsz, const struct dns_answer *a)
{
	(void)strlcpy(
	    dst, a->error != NULL ? a->error : "lookup failed", dstsz);
}

/* ---- MX (RFC 7672 §2.2.1) ---- */

/* Insert keeping preference order, stable; a name already there keeps the best. */
static void
mx_add(struct plan *p, const char *name, uint16_t pref)
{
	size_t i, at;

	for (i = 0; i < p->nhosts; i++) {
		if (strcasecmp(p->hosts[i].name, name) != 0)
			continue;
		if (p->hosts[i].preference <= pref)
			return;
		memmove(&p->hosts[i], &p->hosts[i + 1],
		    (p->nhosts - i - 1) * sizeof(p->hosts[0]));
		p->nhosts--;
		break;
	}
	for (at = p->nhosts; at > 0 && p->hosts[at - 1].preference > pref; at--)
		;
	if (at >= PLAN_HOSTS_MAX)
		return; /* worse than every host we keep */
	if (p->nhosts == PLAN_HOSTS_MAX)
		p->nhosts--; /* drop the worst */
	memmove(&p->hosts[at + 1], &p->hosts[at],
	    (p->nhosts - at) * sizeof(p->hosts[0]));
	p->nhosts++;
	host_init(&p->hosts[at], name, pref);
}

static int
mx_parse_all(struct plan *p, const struct dns_answer *ans)
{
	char name[PLAN_NAME_MAX];
	uint16_t pref;
	size_t i;
	int r;

	for (i = 0; i < ans->nrdata; i++) {
		r = dns_rdata_mx(ans->rdata[i].data, ans->rdata[i].len, &pref,
		    name, sizeof(name));
		if (r < 0) {
			textf(p->mx_error, sizeof(p->mx_error),
			    "malformed MX RDATA (%zu octets): %s",
			    ans->rdata[i].len, err_str(r));
			return r;
		}
		if (strcmp(name, ".") == 0) {
			/* RFC 7505: "." alone is null MX; among others it is no host. */
			if (ans->nrdata == 1)
				p->null_mx = true;
			continue;
		}
		mx_add(p, name, pref);
	}
	return 0;
}

void
plan_mx_result(struct plan *p, const struct dns_answer *ans)
{
	p->mx_lookup = lookup_of(ans->lookup);
	p->mx_dnssec = ans->dnssec;
	p->nhosts = 0;
	if (ans->canonname != NULL)
		(void)strlcpy(p->domain_expanded, ans->canonname,
		    sizeof(p->domain_expanded));
	switch (p->mx_lookup) {
	case PLAN_LOOKUP_ERROR:
		set_error(p->mx_error, sizeof(p->mx_error), ans);
		break;
	case PLAN_LOOKUP_NODATA:
		/* RFC 5321 §5.1: the domain is its own, implicit, MX. */
		p->nhosts = 1;
		host_init(&p->hosts[0], p->domain, 0);
		p->hosts[0].implicit = true;
		break;
	case PLAN_LOOKUP_OK:
		p->mx_count = ans->nrdata;
		if (mx_parse_all(p, ans) < 0) {
			p->mx_lookup = PLAN_LOOKUP_ERROR;
			p->nhosts = 0;
		}
		break;
	case PLAN_LOOKUP_NXDOMAIN:
	case PLAN_LOOKUP_NOT_DONE:
		break;
	}
	if (p->nhosts == 0)
		plan_set_policy(p);
}

bool
plan_mx_secure(const struct plan *p)
{
	if (p->opts.no_mx)
		return true;
	return (p->mx_lookup == PLAN_LOOKUP_OK ||
		   p->mx_lookup == PLAN_LOOKUP_NODATA) &&
	    p->mx_dnssec == DNSSEC_SECURE;
}

/* ---- addresses (RFC 7672 §2.2.2) ---- */

void
plan_host_addr_result(struct plan_host *h, const struct dns_answer *ans)
{
	bool v6 = ans->qtype == DNS_TYPE_AAAA;
	enum plan_lookup *lk = v6 ? &h->aaaa_lookup : &h->a_lookup;
	enum dnssec_status *st = v6 ? &h->aaaa_dnssec : &h->a_dnssec;
	char *err = v6 ? h->aaaa_error : h->a_error;
	struct plan_addr tmp[PLAN_ADDRS_MAX];
	size_t i, n = 0;
	int r;

	*lk = lookup_of(ans->lookup);
	*st = ans->dnssec;
	if (*lk == PLAN_LOOKUP_ERROR)
		set_error(err, PLAN_ERROR_MAX, ans);
	if (ans->canonname != NULL && h->cname_target[0] == '\0')
		(void)strlcpy(
		    h->cname_target, ans->canonname, sizeof(h->cname_target));
	if (*lk != PLAN_LOOKUP_OK)
		return;
	for (i = 0; i < ans->nrdata && n + h->naddrs < PLAN_ADDRS_MAX; i++) {
		r = (v6 ? dns_rdata_aaaa : dns_rdata_a)(ans->rdata[i].data,
		    ans->rdata[i].len, tmp[n].address, sizeof(tmp[n].address));
		if (r < 0) {
			/* Malformed answer: the whole family failed. */
			*lk = PLAN_LOOKUP_ERROR;
			*st = DNSSEC_INDETERMINATE;
			textf(err, PLAN_ERROR_MAX,
			    "malformed %s RDATA (%zu octets)",
			    v6 ? "AAAA" : "A", ans->rdata[i].len);
			return;
		}
		tmp[n].family = v6 ? AF_INET6 : AF_INET;
		tmp[n].dnssec = ans->dnssec;
		n++;
	}
	memcpy(&h->addrs[h->naddrs], tmp, n * sizeof(tmp[0]));
	h->naddrs += n;
}

static bool
answered(enum plan_lookup l)
{
	return l == PLAN_LOOKUP_OK || l == PLAN_LOOKUP_NODATA ||
	    l == PLAN_LOOKUP_NXDOMAIN;
}

/*
 * Address status of the host: bogus on either family skips the host; a
 * family that failed otherwise (SERVFAIL, timeout) is left out and the
 * other one decides; secure only if every answered family is secure.
 * Returns false (mode SKIP set) when the host cannot be used.
 */
static bool
host_addr_status(struct plan_host *h)
{
	bool a_ok = answered(h->a_lookup), aaaa_ok = answered(h->aaaa_lookup);

	if (h->a_dnssec == DNSSEC_BOGUS || h->aaaa_dnssec == DNSSEC_BOGUS) {
		h->mode = PLAN_MODE_SKIP;
		textf(h->reason, sizeof(h->reason), "%s lookup bogus: %s",
		    h->a_dnssec == DNSSEC_BOGUS ? "A" : "AAAA",
		    h->a_dnssec == DNSSEC_BOGUS ? h->a_error : h->aaaa_error);
		return false;
	}
	if (h->naddrs == 0) {
		h->mode = PLAN_MODE_SKIP;
		if (!a_ok || !aaaa_ok)
			textf(h->reason, sizeof(h->reason),
			    "address lookup failed: %s",
			    !a_ok ? h->a_error : h->aaaa_error);
		else
			(void)strlcpy(
			    h->reason, "no address records", sizeof(h->reason));
		return false;
	}
	h->dnssec = DNSSEC_SECURE;
	if ((a_ok && h->a_dnssec != DNSSEC_SECURE) ||
	    (aaaa_ok && h->aaaa_dnssec != DNSSEC_SECURE))
		h->dnssec = DNSSEC_INSECURE;
	return true;
}

bool
plan_host_needs_cname(
    const struct plan_host *h, bool mx_secure, const struct plan_opts *o)
{
	struct plan_host tmp = *h;

	/* Only insecure addresses behind an alias need the first link's status. */
	if (h->cname_target[0] == '\0' || (!mx_secure && !o->dane_insecure_mx))
		return false;
	return host_addr_status(&tmp) && tmp.dnssec == DNSSEC_INSECURE;
}

void
plan_host_cname_result(struct plan_host *h, const struct dns_answer *a)
{
	h->cname_lookup = lookup_of(a->lookup);
	h->cname_dnssec = a->dnssec;
	if (h->cname_lookup == PLAN_LOOKUP_ERROR) {
		set_error(h->cname_error, sizeof(h->cname_error), a);
	} else if (h->cname_lookup != PLAN_LOOKUP_OK) {
		/* The alias the address answers followed is gone: no status. */
		h->cname_lookup = PLAN_LOOKUP_ERROR;
		h->cname_dnssec = DNSSEC_INDETERMINATE;
		(void)strlcpy(h->cname_error,
		    "CNAME not found at the host name", sizeof(h->cname_error));
	}
}

static void
add_candidate(struct plan_host *h, const char *name, uint16_t port)
{
	struct plan_tlsa_try *t = &h->tlsa_tries[h->ntlsa_tries++];

	memset(t, 0, sizeof(*t));
	(void)strlcpy(t->candidate, name, sizeof(t->candidate));
	t->lookup = PLAN_LOOKUP_NOT_DONE;
	t->dnssec = DNSSEC_INDETERMINATE;
	if (strlen(name) + 13 >= sizeof(t->owner))
		t->owner[0] = '\0'; /* caught below */
	else
		textf(t->owner, sizeof(t->owner), "_%u._tcp.%s",
		    (unsigned int)port, name);
}

size_t
plan_host_candidates(
    struct plan_host *h, bool mx_secure, const struct plan_opts *o)
{
	size_t i;

	h->ntlsa_tries = 0;
	if (!host_addr_status(h))
		return 0;
	h->mode = PLAN_MODE_OPPORTUNISTIC;
	if (!mx_secure && !o->dane_insecure_mx) {
		(void)strlcpy(h->reason,
		    "MX RRset not secure: DANE does not apply, no TLSA lookup",
		    sizeof(h->reason));
		return 0;
	}
	if (h->dnssec != DNSSEC_SECURE) {
		if (h->cname_target[0] == '\0') {
			(void)strlcpy(h->reason,
			    "addresses insecure: no TLSA lookup",
			    sizeof(h->reason));
			return 0;
		}
		if (h->cname_lookup == PLAN_LOOKUP_ERROR) {
			h->mode = PLAN_MODE_SKIP;
			textf(h->reason, sizeof(h->reason),
			    "CNAME lookup failed: %s", h->cname_error);
			return 0;
		}
		if (h->cname_dnssec != DNSSEC_SECURE) {
			(void)strlcpy(h->reason,
			    "insecure CNAME: DANE does not apply, no TLSA "
			    "lookup",
			    sizeof(h->reason));
			return 0;
		}
		/* Secure first link, insecure target: the original name only. */
		add_candidate(h, h->name, o->port);
	} else {
		if (h->cname_target[0] != '\0') {
			h->cname_dnssec = DNSSEC_SECURE;
			add_candidate(h, h->cname_target, o->port);
		}
		add_candidate(h, h->name, o->port);
	}
	for (i = 0; i < h->ntlsa_tries; i++) {
		if (h->tlsa_tries[i].owner[0] == '\0') {
			h->mode = PLAN_MODE_SKIP;
			(void)strlcpy(h->reason, "TLSA owner name too long",
			    sizeof(h->reason));
			return 0;
		}
	}
	return h->ntlsa_tries;
}

/* ---- TLSA (RFC 7672 §2.2.3) ---- */

static int
tlsa_take(struct plan_host *h, const struct plan_tlsa_try *t,
    const struct dns_answer *ans)
{
	size_t i;

	if (ans->nrdata > TLSA_RRSET_MAX) {
		textf(h->reason, sizeof(h->reason),
		    "TLSA RRset of %zu records, over %d", ans->nrdata,
		    TLSA_RRSET_MAX);
		return -ERR_TOOBIG;
	}
	for (i = 0; i < ans->nrdata; i++) {
		if (tlsa_rdata_parse(ans->rdata[i].data, ans->rdata[i].len,
			&h->tlsa[h->ntlsa].rr) < 0) {
			textf(h->reason, sizeof(h->reason),
			    "TLSA lookup %s: malformed RDATA (%zu octets)",
			    t->owner, ans->rdata[i].len);
			return -ERR_FORMAT;
		}
		h->ntlsa++;
	}
	return 0;
}

bool
plan_host_tlsa_result(
    struct plan_host *h, size_t i, const struct dns_answer *ans)
{
	struct plan_tlsa_try *t = &h->tlsa_tries[i];
	size_t j;

	t->lookup = lookup_of(ans->lookup);
	t->dnssec = ans->dnssec;
	if (ans->canonname != NULL)
		(void)strlcpy(
		    t->cname_target, ans->canonname, sizeof(t->cname_target));
	h->tlsa_lookup = t->lookup;
	h->tlsa_dnssec = t->dnssec;
	if (t->lookup == PLAN_LOOKUP_ERROR) {
		/* §2.1.2: a TLSA lookup error makes the host unusable. */
		set_error(t->error, sizeof(t->error), ans);
		h->mode = PLAN_MODE_SKIP;
		textf(h->reason, sizeof(h->reason), "TLSA lookup %s failed: %s",
		    t->owner, t->error);
		return false;
	}
	if (t->lookup == PLAN_LOOKUP_OK && t->dnssec == DNSSEC_SECURE) {
		if (tlsa_take(h, t, ans) < 0) {
			t->lookup = h->tlsa_lookup = PLAN_LOOKUP_ERROR;
			(void)strlcpy(t->error, h->reason, sizeof(t->error));
			for (j = 0; j < h->ntlsa; j++)
				tlsa_rr_clear(&h->tlsa[j].rr);
			h->ntlsa = 0;
			h->mode = PLAN_MODE_SKIP;
			return false;
		}
		/* Only a parsed secure RRset makes a base domain. */
		(void)strlcpy(h->tlsa_base, t->candidate, sizeof(h->tlsa_base));
		h->tlsa_ttl = ans->ttl;
		plan_host_classify(h);
		return false;
	}
	if (i + 1 < h->ntlsa_tries)
		return true;
	h->mode = PLAN_MODE_OPPORTUNISTIC;
	(void)strlcpy(h->reason, "no secure TLSA records", sizeof(h->reason));
	return false;
}

void
plan_host_classify(struct plan_host *h)
{
	struct tlsa_rr rrs[TLSA_RRSET_MAX];
	enum tlsa_verdict v[TLSA_RRSET_MAX];
	size_t i;

	for (i = 0; i < h->ntlsa; i++) {
		rrs[i] = h->tlsa[i].rr; /* shallow: data stays owned by h */
		v[i] = tlsa_classify(&h->tlsa[i].rr);
	}
	tlsa_prune_digests(rrs, v, h->ntlsa);
	h->nusable = 0;
	for (i = 0; i < h->ntlsa; i++) {
		h->tlsa[i].verdict = v[i];
		if (v[i] == TLSA_USABLE)
			h->nusable++;
	}
	if (h->nusable > 0) {
		h->mode = PLAN_MODE_DANE;
		textf(h->reason, sizeof(h->reason),
		    "%zu usable TLSA record%s at %s", h->nusable,
		    h->nusable == 1 ? "" : "s", h->tlsa_base);
	} else {
		h->mode = PLAN_MODE_TLS_REQUIRED;
		textf(h->reason, sizeof(h->reason),
		    "secure TLSA RRset at %s, every record unusable: TLS "
		    "without authentication",
		    h->tlsa_base);
	}
}

/* ---- the domain ---- */

static enum plan_policy
policy_of(enum plan_mode m)
{
	switch (m) {
	case PLAN_MODE_DANE:
		return PLAN_POLICY_DANE;
	case PLAN_MODE_TLS_REQUIRED:
		return PLAN_POLICY_TLS_REQUIRED;
	case PLAN_MODE_OPPORTUNISTIC:
		return PLAN_POLICY_OPPORTUNISTIC;
	case PLAN_MODE_SKIP:
		break;
	}
	return PLAN_POLICY_DEFER;
}

static void
policy_from_hosts(struct plan *p)
{
	const struct plan_host *h;
	size_t i;

	for (i = 0; i < p->nhosts; i++) {
		h = &p->hosts[i];
		if (h->mode == PLAN_MODE_SKIP)
			continue;
		p->policy = policy_of(h->mode);
		textf(p->reason, sizeof(p->reason), "%s%s%s: %s",
		    i > 0 ? "better hosts skipped; " : "",
		    !plan_mx_secure(p) && h->mode == PLAN_MODE_DANE
			? "MX RRset insecure, DANE for the host only; "
			: "",
		    h->name, h->reason);
		return;
	}
	p->policy = PLAN_POLICY_DEFER;
	textf(p->reason, sizeof(p->reason), "no usable host: %s",
	    p->nhosts == 1 ? p->hosts[0].reason : "every MX host skipped");
}

void
plan_set_policy(struct plan *p)
{
	if (p->address_literal)
		return;
	switch (p->mx_lookup) {
	case PLAN_LOOKUP_ERROR:
		p->policy = PLAN_POLICY_DEFER;
		textf(p->reason, sizeof(p->reason), "MX lookup failed: %s",
		    p->mx_error);
		return;
	case PLAN_LOOKUP_NXDOMAIN:
		p->policy = PLAN_POLICY_BOUNCE;
		(void)strlcpy(p->reason, "domain does not exist (NXDOMAIN)",
		    sizeof(p->reason));
		return;
	case PLAN_LOOKUP_OK:
		if (p->null_mx) {
			p->policy = PLAN_POLICY_BOUNCE;
			(void)strlcpy(p->reason,
			    "null MX: the domain accepts no mail (RFC 7505)",
			    sizeof(p->reason));
			return;
		}
		if (p->nhosts == 0) {
			p->policy = PLAN_POLICY_DEFER;
			(void)strlcpy(p->reason,
			    "MX RRset lists no usable host", sizeof(p->reason));
			return;
		}
		break;
	case PLAN_LOOKUP_NODATA:
	case PLAN_LOOKUP_NOT_DONE:
		break;
	}
	policy_from_hosts(p);
}
