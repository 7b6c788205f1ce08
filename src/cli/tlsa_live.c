/*
 * The live check `danemta tlsa verify` and `danemta tlsa rollover` share
 * (tlsa_live.h): the plan of a host or of a mail domain's MX hosts, a dry
 * run of delivery to every address, each TLSA record matched against each
 * presented chain (RFC 7671 §8, RFC 7672 §9.2), and one single-record DANE
 * session for the records the chain digests cannot decide.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/x509_vfy.h>

#include "danemta/dane.h"
#include "danemta/deliver.h"
#include "danemta/diag.h"
#include "danemta/log.h"
#include "danemta/plan.h"
#include "danemta/smtp_client.h"
#include "danemta/util.h"
#include "cli.h"
#include "cli_util.h"
#include "resolver_opts.h"
#include "tlsa_live.h"

#define VERIFY_HELO "danemta-verify.invalid"

/* One single-record DANE session (a record the digests cannot decide). */
struct live_extra {
	struct live_run *run;
	size_t ai, rec;
	struct smtp_params p;
	struct smtp_session *s;
};

struct live_run {
	struct tlsa_live *lv;
	struct event_base *base;
	struct dns_ctx *dns;
	struct dane_ctx *tls;
	size_t pending;
	struct live_extra *extras;
	size_t nextras;
};

bool
tlsa_live_counts(const struct plan_host *h, size_t i)
{
	return h->tlsa[i].verdict == TLSA_USABLE ||
	    h->tlsa[i].verdict == TLSA_UNUSABLE_PRUNED;
}

enum live_group
tlsa_live_group(
    const struct plan_host *h, const struct diag_addr *a, size_t rec)
{
	const struct tlsa_rr *r = &h->tlsa[rec].rr, *q;
	enum live_group g = LIVE_GROUP_NONE;
	size_t j;

	for (j = 0; j < h->ntlsa; j++) {
		q = &h->tlsa[j].rr;
		if (!tlsa_live_counts(h, j) || q->usage != r->usage ||
		    q->selector != r->selector || q->mtype != r->mtype)
			continue;
		if (a->match[j] >= 0)
			return LIVE_GROUP_MATCH;
		if (a->match[j] == DIAG_MATCH_UNKNOWN)
			g = LIVE_GROUP_UNKNOWN;
	}
	return g;
}

static void
live_step_done(struct live_run *run)
{
	if (--run->pending == 0)
		(void)event_base_loopexit(run->base, NULL);
}

static void
extra_done(struct smtp_session *s, void *arg)
{
	struct live_extra *x = arg;
	const struct smtp_session_result *res = smtp_session_result(s);
	struct diag_addr *a = &x->run->lv->addrs[x->ai];

	if (res->result == SMTP_RESULT_DANE_AUTHENTICATED)
		a->match[x->rec] = res->tlsinfo.matched_depth >= 0
		    ? res->tlsinfo.matched_depth
		    : 0;
	else if (res->tls &&
	    res->tlsinfo.verify_code == X509_V_ERR_DANE_NO_MATCH)
		a->match[x->rec] = DIAG_MATCH_NONE;
	smtp_session_free(s);
	x->s = NULL;
	live_step_done(x->run);
}

static void
extra_start(struct live_run *run, size_t ai, size_t rec)
{
	struct tlsa_live *lv = run->lv;
	const struct plan_host *h = &lv->plan->hosts[lv->addrs[ai].host];
	struct live_extra *x = &run->extras[run->nextras];

	memset(x, 0, sizeof(*x));
	if (smtp_params_from_plan(&x->p, lv->plan, h, lv->addrs[ai].addr) < 0)
		return;
	x->run = run;
	x->ai = ai;
	x->rec = rec;
	x->p.port = lv->plan->opts.port ? lv->plan->opts.port : 25;
	x->p.helo_name = VERIFY_HELO;
	x->p.mode = SMTP_TLS_DANE;
	x->p.tls.dane = true;
	x->p.tls.tlsa[0] = &h->tlsa[rec].rr;
	x->p.tls.ntlsa = 1;
	smtp_timeouts_all(&x->p.timeouts,
	    1000 * (lv->timeout ? lv->timeout : LIVE_TIMEOUT_DEFAULT));
	if (smtp_session_start(
		run->base, run->tls, &x->p, extra_done, x, &x->s) < 0)
		return;
	run->nextras++;
	run->pending++;
}

/* Match every record at every address that presented a chain. */
static void
live_match(struct live_run *run)
{
	struct tlsa_live *lv = run->lv;
	const struct deliver_result *dr = lv->dr;
	const struct deliver_host *dh;
	const struct deliver_addr *da;
	const struct plan_host *h;
	struct diag_addr *a;
	size_t i, j, k;

	for (i = 0; i < dr->nhosts; i++) {
		dh = &dr->hosts[i];
		h = dh->host;
		for (j = 0; j < dh->naddrs && lv->naddrs < LIVE_ADDRS_MAX;
		     j++) {
			da = &dh->addrs[j];
			if (!da->tried)
				continue;
			a = &lv->addrs[lv->naddrs++];
			a->host = (size_t)(h - lv->plan->hosts);
			a->addr = j;
			a->tried = true;
			a->result = da->result;
			a->reason = da->reason;
			a->tlsinfo = da->tls ? &da->tlsinfo : NULL;
			for (k = 0; k < h->ntlsa; k++)
				a->match[k] = a->tlsinfo
				    ? diag_match_chain(
					  &h->tlsa[k].rr, a->tlsinfo)
				    : DIAG_MATCH_UNKNOWN;
		}
	}
	run->extras = xcalloc(LIVE_ADDRS_MAX * (size_t)4, sizeof(*run->extras));
	for (i = 0; i < lv->naddrs; i++) {
		a = &lv->addrs[i];
		h = &lv->plan->hosts[a->host];
		if (a->tlsinfo == NULL)
			continue;
		for (k = 0; k < h->ntlsa; k++)
			if (a->match[k] == DIAG_MATCH_UNKNOWN &&
			    tlsa_live_counts(h, k) &&
			    h->tlsa[k].rr.usage >= TLSA_USAGE_DANE_TA &&
			    run->nextras < LIVE_ADDRS_MAX * (size_t)4)
				extra_start(run, i, k);
	}
}

static void
live_delivered(struct deliver *d, void *arg)
{
	struct live_run *run = arg;

	run->lv->dr = deliver_result(d);
	live_match(run);
	live_step_done(run);
}

static void
live_looked_up(void *arg)
{
	live_step_done(arg);
}

static bool
plan_connectable(const struct plan *p)
{
	size_t i;

	for (i = 0; i < p->nhosts; i++)
		if (p->hosts[i].mode != PLAN_MODE_SKIP &&
		    p->hosts[i].naddrs > 0)
			return true;
	return false;
}

static void
live_planned(struct plan *p, void *arg)
{
	struct live_run *run = arg;
	struct tlsa_live *lv = run->lv;
	struct deliver_opts o;

	lv->plan = p;
	run->pending++;
	if (diag_lookup_start(run->dns, p, &lv->ddns, live_looked_up, run) == 0)
		run->pending++;
	if (lv->connect && plan_connectable(p)) {
		deliver_opts_default(&o);
		o.level = POLICY_DANE;
		o.probe_all = true;
		o.no_shuffle = true;
		o.no_plaintext_retry = true;
		o.helo_name = VERIFY_HELO;
		smtp_timeouts_all(&o.timeouts,
		    1000 * (lv->timeout ? lv->timeout : LIVE_TIMEOUT_DEFAULT));
		if (deliver_start(run->base, run->tls, p, &o, NULL,
			live_delivered, run, &lv->dlv) == 0)
			run->pending++;
	}
	live_step_done(run);
}

int
tlsa_live_run(struct tlsa_live *lv)
{
	struct live_run run;
	struct plan_opts po;
	char *errmsg = NULL;
	size_t i;
	int status = EX_OK;

	memset(&run, 0, sizeof(run));
	run.lv = lv;
	if (cli_loop_new("tlsa", &lv->dns, &run.base, &run.dns, &errmsg) < 0) {
		(void)snprintf(lv->error, sizeof(lv->error), "%s", errmsg);
		free(errmsg);
		return EX_UNAVAILABLE;
	}
	if (dane_ctx_new(&run.tls) < 0) {
		(void)snprintf(lv->error, sizeof(lv->error),
		    "cannot make the TLS client context");
		status = EX_UNAVAILABLE;
		goto out;
	}
	memset(&po, 0, sizeof(po));
	po.port = lv->port ? lv->port : 25;
	po.no_mx = !lv->mx;
	run.pending = 1;
	if (plan_start(run.dns, lv->name, &po, live_planned, &run) < 0) {
		(void)snprintf(lv->error, sizeof(lv->error),
		    "%s: not a valid %s name", lv->name,
		    lv->mx ? "domain" : "host");
		status = EX_USAGE;
		goto out;
	}
	(void)event_base_dispatch(run.base);
out:
	for (i = 0; i < run.nextras; i++)
		smtp_session_free(run.extras[i].s);
	free(run.extras);
	cli_loop_free(run.base, run.dns, run.tls);
	return status;
}

void
tlsa_live_clear(struct tlsa_live *lv)
{
	deliver_free(lv->dlv);
	lv->dlv = NULL;
	lv->dr = NULL;
	plan_free(lv->plan);
	lv->plan = NULL;
}

int
tlsa_live_opt(int ch, char *arg, struct tlsa_live *lv, const char **errstr)
{
	int r;

	*errstr = NULL;
	if ((r = resolver_opt(ch, arg, &lv->dns)) != 0)
		return r;
	switch (ch) {
	case LIVE_OPT_PORT:
		lv->port = (uint16_t)strtonum(arg, 1, 65535, errstr);
		break;
	case LIVE_OPT_TIMEOUT:
		lv->timeout =
		    (unsigned int)strtonum(arg, 1, LIVE_TIMEOUT_MAX, errstr);
		break;
	default:
		return 0;
	}
	return *errstr != NULL ? -1 : 1;
}

int
tlsa_live_getopt(int argc, char **argv, const char *shortopts,
    const struct option *opts, struct tlsa_live *lv, const char **errstr)
{
	int ch, r;

	while ((ch = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		if ((r = tlsa_live_opt(ch, optarg, lv, errstr)) == 0)
			return ch;
		if (r < 0)
			return LIVE_OPT_BAD;
	}
	return -1;
}
