/*
 * The extra lookups behind the diagnostics (checklist §2.5 items 5-7):
 * TLSA at owners senders never ask (_465/_587 of the MX hosts, the mail
 * domain itself), TLSA under insecure hosts the plan does not query, and
 * the TLSA RRSIG of each host (expiry, original TTL: RFC 4034 §3.1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "danemta/diag.h"
#include "danemta/dns.h"
#include "danemta/dns_msg.h"
#include "danemta/err.h"
#include "danemta/util.h"

enum lookup_kind {
	KIND_WRONG = 0, /* found TLSA here is a wrong owner */
	KIND_UNSIGNED,	/* found insecure TLSA here has no effect */
	KIND_RRSIG,	/* read the TLSA RRSIG of a host */
};

struct diag_lookup;

struct diag_q {
	struct diag_lookup *lk;
	enum lookup_kind kind;
	size_t host;
	char owner[DIAG_OWNER_MAX];
};

struct diag_lookup {
	struct diag_dns *out;
	diag_done_cb done;
	void *arg;
	size_t pending;
	struct diag_q *qs;
	size_t nqs, cap;
};

static void
q_add(struct diag_lookup *lk, enum lookup_kind kind, size_t host, int port,
    const char *name)
{
	struct diag_q *q;
	size_t len = strlen(name);

	if (lk->nqs == lk->cap)
		return;
	q = &lk->qs[lk->nqs];
	if (snprintf(q->owner, sizeof(q->owner), "_%d._tcp.%.*s", port,
		(int)(len > 0 && name[len - 1] == '.' ? len - 1 : len),
		name) >= (int)sizeof(q->owner))
		return;
	q->lk = lk;
	q->kind = kind;
	q->host = host;
	lk->nqs++;
}

static void
rrsig_facts(struct diag_dns *out, size_t host, const uint8_t *pkt, size_t len)
{
	struct dns_msg_rrsig sig[DNS_MSG_RRSIG_MAX];
	size_t n = 0, i;

	if (pkt == NULL || host >= PLAN_HOSTS_MAX ||
	    dns_msg_rrsigs(
		pkt, len, NULL, DNS_TYPE_TLSA, sig, DNS_MSG_RRSIG_MAX, &n) < 0)
		return;
	for (i = 0; i < n; i++) {
		if (out->rrsig_expiration[host] == 0 ||
		    sig[i].expiration < out->rrsig_expiration[host])
			out->rrsig_expiration[host] = sig[i].expiration;
		if (sig[i].inception > out->rrsig_inception[host])
			out->rrsig_inception[host] = sig[i].inception;
		if (sig[i].orig_ttl > out->orig_ttl[host])
			out->orig_ttl[host] = sig[i].orig_ttl;
	}
}

static void
q_done(const struct dns_answer *ans, void *arg)
{
	struct diag_q *q = arg;
	struct diag_lookup *lk = q->lk;
	struct diag_dns *o = lk->out;
	struct diag_owner *w = NULL;

	if (ans->lookup == DNS_LOOKUP_DATA && ans->nrdata > 0) {
		if (q->kind == KIND_WRONG && o->nwrong < DIAG_WRONG_MAX)
			w = &o->wrong[o->nwrong++];
		else if (q->kind == KIND_UNSIGNED &&
		    ans->dnssec == DNSSEC_INSECURE &&
		    o->nunsigned < PLAN_HOSTS_MAX)
			w = &o->unsigned_tlsa[o->nunsigned++];
		else if (q->kind == KIND_RRSIG && ans->dnssec == DNSSEC_SECURE)
			rrsig_facts(o, q->host, ans->packet, ans->packet_len);
		if (w != NULL) {
			(void)strlcpy(w->owner, q->owner, sizeof(w->owner));
			w->dnssec = ans->dnssec;
			w->nrr = ans->nrdata;
		}
	}
	if (--lk->pending > 0)
		return;
	lk->done(lk->arg);
	free(lk->qs);
	free(lk);
}

/* Is the domain one of its own MX hosts (then _25._tcp.<domain> is right)? */
static bool
domain_is_host(const struct plan *p)
{
	size_t i;

	for (i = 0; i < p->nhosts; i++)
		if (strcasecmp(p->hosts[i].name, p->domain) == 0)
			return true;
	return false;
}

int
diag_lookup_start(struct dns_ctx *dns, const struct plan *p,
    struct diag_dns *out, diag_done_cb done, void *arg)
{
	struct diag_lookup *lk = xcalloc(1, sizeof(*lk));
	const struct plan_host *h;
	int port = p->opts.port ? p->opts.port : 25;
	size_t i;

	lk->out = out;
	lk->done = done;
	lk->arg = arg;
	lk->cap = 4 * PLAN_HOSTS_MAX + 1;
	lk->qs = xcalloc(lk->cap, sizeof(*lk->qs));
	for (i = 0; i < p->nhosts; i++) {
		h = &p->hosts[i];
		if (h->ntlsa == 0 && h->mode != PLAN_MODE_SKIP) {
			if (port != 465)
				q_add(lk, KIND_WRONG, i, 465, h->name);
			if (port != 587)
				q_add(lk, KIND_WRONG, i, 587, h->name);
		}
		if (h->ntlsa_tries == 0 && h->naddrs > 0 &&
		    h->dnssec == DNSSEC_INSECURE)
			q_add(lk, KIND_UNSIGNED, i, port, h->name);
		if (h->tlsa_base[0] != '\0' && h->ntlsa > 0)
			q_add(lk, KIND_RRSIG, i, port, h->tlsa_base);
	}
	if (!p->opts.no_mx && p->nhosts > 0 && !domain_is_host(p) &&
	    !p->null_mx)
		q_add(lk, KIND_WRONG, 0, port, p->domain);
	if (lk->nqs == 0) {
		free(lk->qs);
		free(lk);
		return -ERR_USAGE;
	}
	lk->pending = lk->nqs;
	for (i = 0; i < lk->nqs; i++)
		dns_query(
		    dns, lk->qs[i].owner, DNS_TYPE_TLSA, q_done, &lk->qs[i]);
	return 0;
}
