/*
 * Diagnostics for domain owners (RFC 7671 §5, §8-§13; RFC 7672 §2.2.2,
 * §3.1, §9.2; checklist §2.5): which common DANE mistake a plan, a few
 * extra lookups and the live chains show, each with an explanation and a
 * fix.  diag_compute() is pure; the lookups are in diag_lookup.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509_vfy.h>

#include "danemta/buf.h"
#include "danemta/diag.h"
#include "danemta/util.h"

#define DIAG_TEXT_MAX ((size_t)1 << 20)

static const struct {
	const char *name;
	enum diag_severity severity;
	const char *explain;
	const char *fix;
} diag_table[DIAG__COUNT] = {
    [DIAG_STALE_TLSA] = {"stale-tlsa", DIAG_ERROR,
	"no usable TLSA record matches the certificate chain the server "
	"presents now: validating senders defer all mail",
	"publish a record for the current certificate or key (danemta tlsa "
	"create), or deploy the certificate the records describe"},
    [DIAG_GROUP_NOT_CURRENT] = {"group-not-current", DIAG_ERROR,
	"a (usage, selector, matching type) group matches only a past or "
	"future chain (RFC 7671 §8)",
	"add a record of that group for the current chain, or remove the "
	"group until the matching certificate is deployed"},
    [DIAG_FRAGILE_3_0_X] = {"fragile-3-0-x", DIAG_WARNING,
	"DANE-EE Cert(0) records change at every certificate renewal, even "
	"with the same key",
	"publish 3 1 1 (the key's digest) and reuse the key on renewal"},
    [DIAG_PKIX_USAGE_PORT_25] = {"pkix-usage-on-port-25", DIAG_WARNING,
	"usages 0 (PKIX-TA) and 1 (PKIX-EE) are not used for SMTP (RFC 7672 "
	"§3.1.3): senders do unauthenticated TLS",
	"replace them with 3 1 1 or 2 0 1 records"},
    [DIAG_PARTIAL_TLSA] = {"partial-tlsa", DIAG_WARNING,
	"some MX hosts have secure TLSA records and some have none: mail to "
	"those is not protected",
	"publish TLSA records for every MX host"},
    [DIAG_TA_NOT_SENT] = {"ta-not-sent", DIAG_ERROR,
	"a DANE-TA (2 x x) record names a certificate the server does not "
	"send (RFC 7671 §5.2.2)",
	"send the trust-anchor certificate in the chain (even a root), or "
	"publish 3 1 1 or a record for an intermediate that is sent"},
    [DIAG_TA_NAME_MISMATCH] = {"ta-name-mismatch", DIAG_ERROR,
	"under DANE-TA the leaf certificate must name the MX host or the "
	"domain (RFC 7672 §3.2.2), and it names neither",
	"add the MX host name to the certificate's subjectAltName, or "
	"publish 3 1 1 (no name checks)"},
    [DIAG_TA_CHAIN_EXPIRED] = {"ta-chain-expired", DIAG_ERROR,
	"under DANE-TA a certificate of the chain is expired or not yet "
	"valid (3 1 1 would have survived)",
	"renew the expired certificate, or publish 3 1 1"},
    [DIAG_TLSA_UNSIGNED_ZONE] = {"tlsa-unsigned-zone", DIAG_WARNING,
	"TLSA records in a zone DNSSEC does not reach have no effect",
	"sign the zone and publish its DS in the parent"},
    [DIAG_INSECURE_MX_HOST] = {"insecure-mx-host", DIAG_WARNING,
	"the MX RRset is secure but this host's addresses are not: DANE "
	"cannot apply to it",
	"sign the host's zone (with a DS in its parent), or use an MX host "
	"in a signed zone"},
    [DIAG_TLSA_LOOKUP_BROKEN] = {"tlsa-lookup-broken", DIAG_ERROR,
	"the TLSA lookup fails (SERVFAIL, REFUSED, NOTIMP, timeout or a "
	"bogus denial): validating senders defer (RFC 7672 §2.2.2)",
	"fix the authoritative servers: answer TLSA queries with data or a "
	"signed denial of existence"},
    [DIAG_TLSA_WRONG_OWNER] = {"tlsa-wrong-owner", DIAG_WARNING,
	"TLSA records sit at an owner SMTP senders never ask",
	"publish them at _25._tcp.<MX host> (the name in the MX record)"},
    [DIAG_BAD_DIGEST_LENGTH] = {"bad-digest-length", DIAG_ERROR,
	"a record's digest has the wrong length for its matching type: it "
	"is unusable",
	"regenerate it (danemta tlsa create): SHA2-256 is 32 octets, "
	"SHA2-512 64"},
    [DIAG_SHA512_ONLY] = {"sha512-only", DIAG_WARNING,
	"a group has SHA2-512 records but no SHA2-256 (the only mandatory "
	"digest, RFC 7671 §2)",
	"publish the matching SHA2-256 (x x 1) record next to it"},
    [DIAG_FULL_RECORDS] = {"full-records", DIAG_WARNING,
	"Full(0) records are large (UDP fragmentation, RFC 7671 §10.1.2)",
	"publish SHA2-256 digests (x x 1) instead"},
    [DIAG_RRSIG_EXPIRING] = {"rrsig-expiring", DIAG_WARNING,
	"the TLSA RRset's signature expires soon; once expired every "
	"validating sender defers",
	"re-sign the zone (and check the signer runs regularly)"},
    [DIAG_TLSA_TTL_LONG] = {"tlsa-ttl-long", DIAG_WARNING,
	"the TLSA TTL is longer than a day: a broken record stays in caches "
	"that long, and rollovers must wait twice the TTL",
	"lower the TTL (an hour is plenty)"},
    [DIAG_STARTTLS_MISSING] = {"starttls-missing-with-tlsa", DIAG_ERROR,
	"the host publishes TLSA but does not offer STARTTLS (or refuses "
	"it): validating senders defer (RFC 7672 §9.2)",
	"offer STARTTLS to every client, before any greylisting"},
};

const char *
diag_name(enum diag_id id)
{
	return (unsigned int)id < DIAG__COUNT ? diag_table[id].name : NULL;
}

const char *
diag_explain(enum diag_id id)
{
	return (unsigned int)id < DIAG__COUNT ? diag_table[id].explain : "";
}

const char *
diag_fix(enum diag_id id)
{
	return (unsigned int)id < DIAG__COUNT ? diag_table[id].fix : "";
}

const char *
diag_severity_str(enum diag_severity s)
{
	return s == DIAG_ERROR ? "error" : "warning";
}

int
diag_match_chain(const struct tlsa_rr *rr, const struct dane_info *info)
{
	char *hex;
	size_t i, n = info->nchain;
	int depth = DIAG_MATCH_NONE;

	if (rr->mtype != TLSA_MTYPE_SHA256 || rr->len != 32 ||
	    rr->selector > TLSA_SELECTOR_SPKI)
		return DIAG_MATCH_UNKNOWN;
	/* end-entity usages match the leaf only */
	if (rr->usage == TLSA_USAGE_PKIX_EE || rr->usage == TLSA_USAGE_DANE_EE)
		n = n > 0 ? 1 : 0;
	hex = hex_encode(rr->data, rr->len);
	for (i = 0; i < n && depth < 0; i++)
		if (strcasecmp(hex,
			rr->selector == TLSA_SELECTOR_CERT
			    ? info->chain[i].cert_sha256
			    : info->chain[i].spki_sha256) == 0)
			depth = (int)i;
	free(hex);
	return depth;
}

static void add(struct diag_list *l, enum diag_id id, const char *host,
    const char *addr, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Add a diagnostic unless the same id is already there for host/addr. */
static void
add(struct diag_list *l, enum diag_id id, const char *host, const char *addr,
    const char *fmt, ...)
{
	struct diag *d;
	va_list ap;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].id == id && strcmp(l->v[i].host, host) == 0 &&
		    strcmp(l->v[i].address, addr) == 0)
			return;
	if (l->n >= DIAG_MAX) {
		l->dropped++;
		return;
	}
	d = &l->v[l->n++];
	d->id = id;
	d->severity = diag_table[id].severity;
	(void)strlcpy(d->host, host, sizeof(d->host));
	(void)strlcpy(d->address, addr, sizeof(d->address));
	va_start(ap, fmt);
	(void)vsnprintf(d->detail, sizeof(d->detail), fmt, ap);
	va_end(ap);
}

/* Record-level findings of one host's RRset (secure or not). */
static void
host_records(
    const struct plan *p, const struct plan_host *h, struct diag_list *l)
{
	const struct tlsa_rr *rr;
	unsigned int has256[4][2] = {{0}}, has512[4][2] = {{0}};
	unsigned int hasfull[4][2] = {{0}};
	size_t i;
	enum tlsa_verdict v;

	for (i = 0; i < h->ntlsa; i++) {
		rr = &h->tlsa[i].rr;
		v = h->tlsa[i].verdict;
		if (v == TLSA_UNUSABLE_DIGEST_LENGTH)
			add(l, DIAG_BAD_DIGEST_LENGTH, h->name, "",
			    "%u %u %u with %zu octets of data", rr->usage,
			    rr->selector, rr->mtype, rr->len);
		if (rr->usage <= TLSA_USAGE_PKIX_EE && p->opts.port == 25)
			add(l, DIAG_PKIX_USAGE_PORT_25, h->name, "",
			    "%u %u %u record (%s) at _25._tcp.%s", rr->usage,
			    rr->selector, rr->mtype, tlsa_usage_name(rr->usage),
			    h->tlsa_base);
		if (rr->usage == TLSA_USAGE_DANE_EE &&
		    rr->selector == TLSA_SELECTOR_CERT)
			add(l, DIAG_FRAGILE_3_0_X, h->name, "",
			    "3 0 %u record: a new record at every renewal",
			    rr->mtype);
		if (rr->mtype == TLSA_MTYPE_FULL && rr->len > 0)
			add(l, DIAG_FULL_RECORDS, h->name, "",
			    "%u %u 0 record of %zu octets", rr->usage,
			    rr->selector, rr->len);
		if (rr->usage > 3 || rr->selector > 1)
			continue;
		if (v != TLSA_USABLE && v != TLSA_UNUSABLE_PRUNED &&
		    v != TLSA_UNUSABLE_PKIX_USAGE)
			continue;
		if (rr->mtype == TLSA_MTYPE_SHA256)
			has256[rr->usage][rr->selector]++;
		else if (rr->mtype == TLSA_MTYPE_SHA512)
			has512[rr->usage][rr->selector]++;
		else if (rr->mtype == TLSA_MTYPE_FULL)
			hasfull[rr->usage][rr->selector]++;
	}
	for (i = 0; i < 8; i++)
		if (has512[i / 2][i % 2] > 0 && has256[i / 2][i % 2] == 0 &&
		    hasfull[i / 2][i % 2] == 0)
			add(l, DIAG_SHA512_ONLY, h->name, "",
			    "%zu %zu 2 without %zu %zu 1", i / 2, i % 2, i / 2,
			    i % 2);
}

/* DNS findings of one host: lookup errors, security, TTL, RRSIG. */
static void
host_dns(const struct diag_input *in, size_t hi, struct diag_list *l)
{
	const struct plan *p = in->plan;
	const struct plan_host *h = &p->hosts[hi];
	const struct plan_tlsa_try *t;
	unsigned int days =
	    in->rrsig_warn_days ? in->rrsig_warn_days : DIAG_RRSIG_WARN_DAYS;
	uint32_t ttl = h->tlsa_ttl, exp;
	size_t i;

	for (i = 0; i < h->ntlsa_tries; i++) {
		t = &h->tlsa_tries[i];
		if (t->lookup == PLAN_LOOKUP_ERROR)
			add(l, DIAG_TLSA_LOOKUP_BROKEN, h->name, "", "%s: %s",
			    t->owner, t->error[0] ? t->error : "lookup error");
		else if (t->lookup == PLAN_LOOKUP_OK &&
		    t->dnssec == DNSSEC_INSECURE)
			add(l, DIAG_TLSA_UNSIGNED_ZONE, h->name, "",
			    "%s%s%s: insecure TLSA RRset", t->owner,
			    t->cname_target[0] ? " -> " : "", t->cname_target);
	}
	if (plan_mx_secure(p) && !p->opts.no_mx &&
	    h->dnssec == DNSSEC_INSECURE && h->naddrs > 0)
		add(l, DIAG_INSECURE_MX_HOST, h->name, "",
		    "secure MX, insecure addresses%s%s",
		    h->cname_target[0] ? " (via CNAME to " : "",
		    h->cname_target[0] ? h->cname_target : "");
	if (in->dns != NULL && hi < PLAN_HOSTS_MAX) {
		if (in->dns->orig_ttl[hi] > ttl)
			ttl = in->dns->orig_ttl[hi];
		exp = in->dns->rrsig_expiration[hi];
		if (exp != 0 && h->ntlsa > 0 &&
		    (int64_t)exp - (int64_t)in->now < (int64_t)days * 86400)
			add(l, DIAG_RRSIG_EXPIRING, h->name, "",
			    "TLSA RRSIG expires in %.1f days (warning at %u)",
			    ((double)exp - (double)in->now) / 86400.0, days);
	}
	if (h->ntlsa > 0 && ttl > DIAG_TTL_LONG)
		add(l, DIAG_TLSA_TTL_LONG, h->name, "",
		    "TLSA TTL %u s (%.1f days)", ttl, ttl / 86400.0);
}

/* Records that take part in the RFC 7671 §8 invariant: usable types. */
static bool
in_group(enum tlsa_verdict v)
{
	return v == TLSA_USABLE || v == TLSA_UNUSABLE_PRUNED;
}

/* Which usable groups (u,s,m) match; stale and not-current findings. */
static void
addr_groups(const struct plan_host *h, const struct diag_addr *a,
    const char *addr, struct diag_list *l)
{
	const struct tlsa_rr *r, *q;
	size_t i, j, usable = 0, matched = 0, unknown = 0;
	bool gm;

	for (i = 0; i < h->ntlsa; i++) {
		if (h->tlsa[i].verdict != TLSA_USABLE)
			continue;
		usable++;
		if (a->match[i] >= 0)
			matched++;
		else if (a->match[i] == DIAG_MATCH_UNKNOWN)
			unknown++;
	}
	if (usable == 0)
		return;
	if (matched == 0 && unknown == 0) {
		add(l, DIAG_STALE_TLSA, h->name, addr,
		    "none of %zu usable records matches the presented chain "
		    "(leaf SPKI SHA-256 %.16s...)",
		    usable, a->tlsinfo->chain[0].spki_sha256);
		return;
	}
	for (i = 0; i < h->ntlsa; i++) {
		r = &h->tlsa[i].rr;
		if (!in_group(h->tlsa[i].verdict))
			continue;
		gm = false;
		for (j = 0; j < h->ntlsa && !gm; j++) {
			q = &h->tlsa[j].rr;
			if (in_group(h->tlsa[j].verdict) &&
			    q->usage == r->usage &&
			    q->selector == r->selector &&
			    q->mtype == r->mtype &&
			    a->match[j] != DIAG_MATCH_NONE)
				gm = true;
		}
		if (!gm)
			add(l, DIAG_GROUP_NOT_CURRENT, h->name, addr,
			    "group %u %u %u: no record matches the presented "
			    "chain",
			    r->usage, r->selector, r->mtype);
	}
}

/* DANE-TA findings of one connected address. */
static bool
addr_ta(const struct plan_host *h, const struct diag_addr *a, const char *addr,
    struct diag_list *l)
{
	const struct dane_info *ti = a->tlsinfo;
	const struct dane_cert *top;
	size_t i, nta = 0, tamatch = 0;

	for (i = 0; i < h->ntlsa; i++) {
		if (h->tlsa[i].verdict != TLSA_USABLE ||
		    h->tlsa[i].rr.usage != TLSA_USAGE_DANE_TA)
			continue;
		/* 2 0 0 carries the certificate itself: it need not be sent */
		if (h->tlsa[i].rr.selector == TLSA_SELECTOR_CERT &&
		    h->tlsa[i].rr.mtype == TLSA_MTYPE_FULL)
			return false;
		nta++;
		if (a->match[i] != DIAG_MATCH_NONE)
			tamatch++;
	}
	if (nta == 0 || ti->nchain == 0)
		return false;
	top = &ti->chain[ti->nchain - 1];
	if (tamatch == 0 && strcmp(top->subject, top->issuer) != 0) {
		add(l, DIAG_TA_NOT_SENT, h->name, addr,
		    "no 2 x x record matches a sent certificate; the chain "
		    "ends at %s, issued by %s (not sent)",
		    top->subject, top->issuer);
		return true;
	}
	if (tamatch == 0)
		return false;
	if (ti->verify_code == X509_V_ERR_HOSTNAME_MISMATCH)
		add(l, DIAG_TA_NAME_MISMATCH, h->name, addr,
		    "leaf %s does not name %s", ti->chain[0].subject,
		    h->tlsa_base);
	if (ti->verify_code == X509_V_ERR_CERT_HAS_EXPIRED ||
	    ti->verify_code == X509_V_ERR_CERT_NOT_YET_VALID)
		add(l, DIAG_TA_CHAIN_EXPIRED, h->name, addr, "%s (%ld)",
		    ti->verify_error, ti->verify_code);
	return false;
}

static void
addr_findings(
    const struct diag_input *in, const struct diag_addr *a, struct diag_list *l)
{
	const struct plan_host *h;
	const char *addr;

	if (a->host >= in->plan->nhosts || !a->tried)
		return;
	h = &in->plan->hosts[a->host];
	if (a->addr >= h->naddrs)
		return;
	addr = h->addrs[a->addr].address;
	if (h->ntlsa == 0 || h->tlsa_dnssec != DNSSEC_SECURE)
		return;
	if (a->result == SMTP_RESULT_STARTTLS_MISSING) {
		add(l, DIAG_STARTTLS_MISSING, h->name, addr, "%s",
		    a->reason && a->reason[0] ? a->reason
					      : "STARTTLS not offered");
		return;
	}
	if (a->tlsinfo == NULL || a->tlsinfo->nchain == 0)
		return;
	if (addr_ta(h, a, addr, l))
		return;
	addr_groups(h, a, addr, l);
}

static void
domain_findings(const struct diag_input *in, struct diag_list *l)
{
	const struct plan *p = in->plan;
	const char *with = NULL, *without = NULL;
	size_t i;

	for (i = 0; i < p->nhosts; i++) {
		if (p->hosts[i].mode == PLAN_MODE_DANE ||
		    p->hosts[i].mode == PLAN_MODE_TLS_REQUIRED)
			with = with ? with : p->hosts[i].name;
		else if (p->hosts[i].mode == PLAN_MODE_OPPORTUNISTIC &&
		    p->hosts[i].dnssec == DNSSEC_SECURE)
			without = without ? without : p->hosts[i].name;
	}
	if (with != NULL && without != NULL && plan_mx_secure(p))
		add(l, DIAG_PARTIAL_TLSA, "", "",
		    "%s has secure TLSA, %s has none", with, without);
	if (in->dns == NULL)
		return;
	for (i = 0; i < in->dns->nwrong && i < DIAG_WRONG_MAX; i++)
		add(l, DIAG_TLSA_WRONG_OWNER, "", "",
		    "%zu TLSA record%s at %s (%s)", in->dns->wrong[i].nrr,
		    in->dns->wrong[i].nrr == 1 ? "" : "s",
		    in->dns->wrong[i].owner,
		    dnssec_status_str(in->dns->wrong[i].dnssec));
	for (i = 0; i < in->dns->nunsigned && i < PLAN_HOSTS_MAX; i++)
		add(l, DIAG_TLSA_UNSIGNED_ZONE, "", "",
		    "%zu TLSA record%s at %s (insecure)",
		    in->dns->unsigned_tlsa[i].nrr,
		    in->dns->unsigned_tlsa[i].nrr == 1 ? "" : "s",
		    in->dns->unsigned_tlsa[i].owner);
}

void
diag_compute(const struct diag_input *in, struct diag_list *out)
{
	const struct plan_host *h;
	size_t i;

	memset(out, 0, sizeof(*out));
	domain_findings(in, out);
	for (i = 0; i < in->plan->nhosts; i++) {
		h = &in->plan->hosts[i];
		host_dns(in, i, out);
		/* records under a secure base only: others have no effect */
		if (h->tlsa_dnssec == DNSSEC_SECURE)
			host_records(in->plan, h, out);
	}
	for (i = 0; i < in->naddrs; i++)
		addr_findings(in, &in->addrs[i], out);
}

bool
diag_has_error(const struct diag_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].severity == DIAG_ERROR)
			return true;
	return false;
}

json_t *
diag_json(const struct diag_list *l)
{
	json_t *a = json_array(), *o;
	const struct diag *d;
	size_t i;

	for (i = 0; i < l->n; i++) {
		d = &l->v[i];
		o = json_object();
		(void)json_object_set_new(
		    o, "id", json_string(diag_name(d->id)));
		(void)json_object_set_new(
		    o, "severity", json_string(diag_severity_str(d->severity)));
		(void)json_object_set_new(o, "host", json_string(d->host));
		(void)json_object_set_new(
		    o, "address", json_string(d->address));
		(void)json_object_set_new(o, "detail", json_string(d->detail));
		(void)json_object_set_new(
		    o, "explanation", json_string(diag_explain(d->id)));
		(void)json_object_set_new(
		    o, "fix", json_string(diag_fix(d->id)));
		(void)json_array_append_new(a, o);
	}
	return a;
}

char *
diag_text(const struct diag_list *l)
{
	struct wbuf wb;
	const struct diag *d;
	size_t i;

	wbuf_init(&wb, DIAG_TEXT_MAX);
	for (i = 0; i < l->n; i++) {
		d = &l->v[i];
		(void)wbuf_printf(&wb, "  %s: %s %s%s%s%s%s: %s\n",
		    diag_severity_str(d->severity), diag_name(d->id), d->host,
		    d->address[0] ? " [" : "", d->address,
		    d->address[0] ? "]" : "", d->host[0] ? "" : "(domain)",
		    d->detail);
		(void)wbuf_printf(&wb, "      why: %s\n", diag_explain(d->id));
		(void)wbuf_printf(&wb, "      fix: %s\n", diag_fix(d->id));
	}
	if (l->dropped > 0)
		(void)wbuf_printf(
		    &wb, "  (%zu more diagnostics not shown)\n", l->dropped);
	if (wbuf_addstr(&wb, "") < 0 || wb.data == NULL)
		return xstrdup("");
	return wbuf_steal(&wb);
}
