/*
 * Plans for people and programs: JSON (docs/check-json.md: schema 1 for the
 * plan alone, schema 2 for danemta check's objects) and the human trace of the RFC 7672 §2.2 steps (checklist §1.16: unexpanded
 * MX names, DNSSEC status of each lookup, candidates, base, records).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "danemta/buf.h"
#include "danemta/dane.h"
#include "danemta/report.h"
#include "danemta/util.h"

#define REPORT_TEXT_MAX ((size_t)1 << 20)

static json_t *
str_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

static void
set(json_t *o, const char *k, json_t *v)
{
	if (v == NULL || json_object_set_new(o, k, v) != 0)
		abort(); /* jansson out of memory, or a bug here */
}

static json_t *
tlsa_json(const struct plan_tlsa *t)
{
	json_t *o = json_object();
	char why[TLSA_VERDICT_TEXT_MAX];
	char *hex = hex_encode(t->rr.data, t->rr.len);

	set(o, "usage", json_integer(t->rr.usage));
	set(o, "selector", json_integer(t->rr.selector));
	set(o, "mtype", json_integer(t->rr.mtype));
	set(o, "data", json_string(hex));
	set(o, "usable", json_boolean(t->verdict == TLSA_USABLE));
	if (t->verdict == TLSA_USABLE) {
		set(o, "reason", json_null());
	} else {
		(void)tlsa_verdict_explain(
		    &t->rr, t->verdict, why, sizeof(why));
		set(o, "reason", json_string(why));
	}
	free(hex);
	return o;
}

static json_t *
try_json(const struct plan_tlsa_try *t)
{
	json_t *o = json_object();

	set(o, "base", json_string(t->candidate));
	set(o, "owner", json_string(t->owner));
	set(o, "lookup", json_string(plan_lookup_str(t->lookup)));
	set(o, "dnssec",
	    t->lookup == PLAN_LOOKUP_NOT_DONE
		? json_null()
		: json_string(dnssec_status_str(t->dnssec)));
	set(o, "cname_target", str_or_null(t->cname_target));
	set(o, "error", str_or_null(t->error));
	return o;
}

static json_t *
lookup_status(enum plan_lookup l, enum dnssec_status s)
{
	return l == PLAN_LOOKUP_NOT_DONE ? json_null()
					 : json_string(dnssec_status_str(s));
}

static void
host_addrs_json(json_t *o, const struct plan_host *h)
{
	json_t *a = json_array(), *x;
	size_t i;

	for (i = 0; i < h->naddrs; i++) {
		x = json_object();
		set(x, "family",
		    json_string(
			h->addrs[i].family == AF_INET6 ? "ipv6" : "ipv4"));
		set(x, "address", json_string(h->addrs[i].address));
		set(x, "dnssec",
		    json_string(dnssec_status_str(h->addrs[i].dnssec)));
		(void)json_array_append_new(a, x);
	}
	set(o, "addresses", a);
	set(o, "a_lookup", json_string(plan_lookup_str(h->a_lookup)));
	set(o, "a_dnssec", lookup_status(h->a_lookup, h->a_dnssec));
	set(o, "a_error", str_or_null(h->a_error));
	set(o, "aaaa_lookup", json_string(plan_lookup_str(h->aaaa_lookup)));
	set(o, "aaaa_dnssec", lookup_status(h->aaaa_lookup, h->aaaa_dnssec));
	set(o, "aaaa_error", str_or_null(h->aaaa_error));
}

static json_t *
host_json(const struct plan_host *h)
{
	json_t *o = json_object(), *a;
	size_t i;

	set(o, "name", json_string(h->name));
	set(o, "preference", json_integer(h->preference));
	set(o, "implicit", json_boolean(h->implicit));
	set(o, "dnssec", json_string(dnssec_status_str(h->dnssec)));
	set(o, "cname_target", str_or_null(h->cname_target));
	set(o, "cname_dnssec",
	    h->cname_target[0] == '\0' ||
		    h->cname_dnssec == DNSSEC_INDETERMINATE
		? json_null()
		: json_string(dnssec_status_str(h->cname_dnssec)));
	host_addrs_json(o, h);
	a = json_array();
	for (i = 0; i < h->ntlsa_tries; i++)
		(void)json_array_append_new(a, try_json(&h->tlsa_tries[i]));
	set(o, "tlsa_candidates", a);
	set(o, "tlsa_base", str_or_null(h->tlsa_base));
	set(o, "tlsa_lookup", json_string(plan_lookup_str(h->tlsa_lookup)));
	set(o, "tlsa_dnssec", lookup_status(h->tlsa_lookup, h->tlsa_dnssec));
	set(o, "tlsa_ttl",
	    h->tlsa_base[0] != '\0' ? json_integer(h->tlsa_ttl) : json_null());
	a = json_array();
	for (i = 0; i < h->ntlsa; i++)
		(void)json_array_append_new(a, tlsa_json(&h->tlsa[i]));
	set(o, "tlsa", a);
	set(o, "tlsa_usable", json_integer((json_int_t)h->nusable));
	set(o, "mode", json_string(plan_mode_str(h->mode)));
	set(o, "reason", json_string(h->reason));
	return o;
}

static json_t *
plan_json(const struct plan *p, int schema, const char *reason_key)
{
	json_t *o = json_object(), *hosts = json_array();
	size_t i;

	set(o, "schema", json_integer(schema));
	set(o, "domain", json_string(p->domain));
	set(o, "domain_expanded", str_or_null(p->domain_expanded));
	set(o, "address_literal", json_boolean(p->address_literal));
	set(o, "port", json_integer(p->opts.port));
	set(o, "mx_lookup", json_string(plan_lookup_str(p->mx_lookup)));
	set(o, "mx_dnssec", lookup_status(p->mx_lookup, p->mx_dnssec));
	set(o, "mx_error", str_or_null(p->mx_error));
	set(o, "null_mx", json_boolean(p->null_mx));
	for (i = 0; i < p->nhosts; i++)
		(void)json_array_append_new(hosts, host_json(&p->hosts[i]));
	set(o, "hosts", hosts);
	set(o, "policy", json_string(plan_policy_str(p->policy)));
	set(o, reason_key, json_string(p->reason));
	return o;
}

json_t *
report_plan_json(const struct plan *p)
{
	return plan_json(p, REPORT_SCHEMA, "reason");
}

json_t *
report_check_json(const struct plan *p)
{
	return plan_json(p, REPORT_CHECK_SCHEMA, "policy_reason");
}

/* ---- the human trace ---- */

static void
text_lookup(struct wbuf *wb, const char *what, enum plan_lookup l,
    enum dnssec_status s, const char *err)
{
	switch (l) {
	case PLAN_LOOKUP_OK:
		break;
	case PLAN_LOOKUP_NODATA:
	case PLAN_LOOKUP_NXDOMAIN:
		(void)wbuf_printf(wb, "; %s %s %s", what, plan_lookup_str(l),
		    dnssec_status_str(s));
		break;
	case PLAN_LOOKUP_ERROR:
		(void)wbuf_printf(wb, "; %s %s: %s", what, dnssec_status_str(s),
		    err[0] != '\0' ? err : "error");
		break;
	case PLAN_LOOKUP_NOT_DONE:
		break;
	}
}

static void
text_tlsa_rr(struct wbuf *wb, const struct plan_tlsa *t, bool verbose)
{
	char why[TLSA_VERDICT_TEXT_MAX];
	char *hex = hex_encode(t->rr.data, t->rr.len);
	bool cut = !verbose && strlen(hex) > REPORT_HEX_SHORT;

	if (cut)
		hex[REPORT_HEX_SHORT] = '\0';
	(void)wbuf_printf(wb, " %u %u %u %s%s", t->rr.usage, t->rr.selector,
	    t->rr.mtype, hex, cut ? "\xe2\x80\xa6" : "");
	if (t->verdict == TLSA_USABLE) {
		(void)wbuf_addstr(wb, " usable;");
	} else {
		(void)tlsa_verdict_explain(
		    &t->rr, t->verdict, why, sizeof(why));
		(void)wbuf_printf(wb, " unusable (%s);", why);
	}
	free(hex);
}

static void
text_tlsa(struct wbuf *wb, const struct plan_host *h, bool verbose)
{
	const struct plan_tlsa_try *t;
	size_t i, j;

	for (i = 0; i < h->ntlsa_tries; i++) {
		t = &h->tlsa_tries[i];
		(void)wbuf_printf(wb, "; TLSA %s", t->owner);
		if (t->cname_target[0] != '\0')
			(void)wbuf_printf(wb, " (CNAME %s)", t->cname_target);
		if (t->lookup == PLAN_LOOKUP_NOT_DONE) {
			(void)wbuf_addstr(wb, " not queried");
			continue;
		}
		if (t->lookup == PLAN_LOOKUP_ERROR) {
			(void)wbuf_printf(wb, " %s: %s",
			    dnssec_status_str(t->dnssec), t->error);
			continue;
		}
		(void)wbuf_printf(wb, " %s", dnssec_status_str(t->dnssec));
		if (t->lookup != PLAN_LOOKUP_OK) {
			(void)wbuf_printf(
			    wb, " %s", plan_lookup_str(t->lookup));
			continue;
		}
		if (strcmp(h->tlsa_base, t->candidate) != 0) {
			(void)wbuf_addstr(wb, " (not used)");
			continue;
		}
		(void)wbuf_addstr(wb, ":");
		for (j = 0; j < h->ntlsa; j++)
			text_tlsa_rr(wb, &h->tlsa[j], verbose);
		if (h->ntlsa > 0)
			wb->data[--wb->len] = '\0'; /* the last ';' */
	}
}

static void
text_host(struct wbuf *wb, const struct plan *p, const struct plan_host *h,
    bool verbose)
{
	size_t i;

	if (h->implicit)
		(void)wbuf_printf(wb, "  %s[implicit MX]", h->name);
	else
		(void)wbuf_printf(wb, "  %s[%u]", h->name, h->preference);
	if (!p->address_literal && p->mx_lookup != PLAN_LOOKUP_NOT_DONE)
		(void)wbuf_printf(
		    wb, ": MX %s", dnssec_status_str(p->mx_dnssec));
	else
		(void)wbuf_addstr(wb, ":");
	if (h->cname_target[0] != '\0')
		(void)wbuf_printf(wb, "; CNAME %s%s%s", h->cname_target,
		    h->cname_dnssec != DNSSEC_INDETERMINATE ? " first link "
							    : "",
		    h->cname_dnssec != DNSSEC_INDETERMINATE
			? dnssec_status_str(h->cname_dnssec)
			: "");
	else if (h->cname_lookup == PLAN_LOOKUP_ERROR)
		(void)wbuf_printf(wb, "; CNAME error: %s", h->cname_error);
	for (i = 0; i < h->naddrs; i++)
		(void)wbuf_printf(wb, "; %s %s %s",
		    h->addrs[i].family == AF_INET6 ? "AAAA" : "A",
		    h->addrs[i].address, dnssec_status_str(h->addrs[i].dnssec));
	text_lookup(wb, "A", h->a_lookup, h->a_dnssec, h->a_error);
	text_lookup(wb, "AAAA", h->aaaa_lookup, h->aaaa_dnssec, h->aaaa_error);
	text_tlsa(wb, h, verbose);
	(void)wbuf_printf(
	    wb, " => %s (%s)\n", plan_mode_str(h->mode), h->reason);
}

char *
report_plan_text(const struct plan *p, bool verbose)
{
	struct wbuf wb;
	size_t i;

	wbuf_init(&wb, REPORT_TEXT_MAX);
	(void)wbuf_printf(&wb, "%s", p->domain);
	if (p->domain_expanded[0] != '\0')
		(void)wbuf_printf(&wb, " (CNAME %s)", p->domain_expanded);
	if (p->address_literal)
		(void)wbuf_addstr(&wb, ": address literal");
	else if (p->mx_lookup == PLAN_LOOKUP_ERROR)
		(void)wbuf_printf(&wb, ": MX %s: %s",
		    dnssec_status_str(p->mx_dnssec), p->mx_error);
	else if (p->mx_lookup == PLAN_LOOKUP_OK)
		(void)wbuf_printf(&wb, ": MX %s, %zu record%s%s",
		    dnssec_status_str(p->mx_dnssec), p->mx_count,
		    p->mx_count == 1 ? "" : "s",
		    p->null_mx ? " (null MX)" : "");
	else if (p->mx_lookup != PLAN_LOOKUP_NOT_DONE)
		(void)wbuf_printf(&wb, ": MX %s %s",
		    plan_lookup_str(p->mx_lookup),
		    dnssec_status_str(p->mx_dnssec));
	(void)wbuf_addstr(&wb, "\n");
	for (i = 0; i < p->nhosts; i++)
		text_host(&wb, p, &p->hosts[i], verbose);
	(void)wbuf_printf(&wb, "%s: policy %s (%s)\n", p->domain,
	    plan_policy_str(p->policy), p->reason);
	return wbuf_steal(&wb);
}

json_t *
report_chain_json(const struct dane_info *ti)
{
	json_t *chain = json_array();
	size_t i;

	for (i = 0; i < ti->nchain; i++)
		(void)json_array_append_new(chain,
		    json_pack("{s:i,s:s,s:s,s:s,s:s}", "depth", (int)i,
			"subject", ti->chain[i].subject, "issuer",
			ti->chain[i].issuer, "spki_sha256",
			ti->chain[i].spki_sha256, "cert_sha256",
			ti->chain[i].cert_sha256));
	return chain;
}
