/*
 * danemta tlsa verify: does every (usage, selector, matching type) group of
 * a host's published TLSA RRset match the chain its servers present now
 * (RFC 7671 §8, made mandatory by RFC 7672 §9.2; checklist §2.2, §2.6)?
 * The check is a dry run of delivery (deliver.h, every address), plus one
 * single-record DANE session for records the chain digests cannot decide.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "danemta/buf.h"
#include "danemta/dane.h"
#include "danemta/deliver.h"
#include "danemta/diag.h"
#include "danemta/log.h"
#include "danemta/plan.h"
#include "danemta/report.h"
#include "danemta/smtp_client.h"
#include "danemta/util.h"
#include "cli.h"
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
	if ((run.base = event_base_new()) == NULL)
		fatalx("tlsa: cannot create the event loop");
	if ((run.dns = dns_ctx_new(run.base, &lv->dns, &errmsg)) == NULL) {
		(void)snprintf(lv->error, sizeof(lv->error), "%s", errmsg);
		free(errmsg);
		event_base_free(run.base);
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
	dns_ctx_free(run.dns);
	dane_ctx_free(run.tls);
	event_base_free(run.base);
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

/* ---- danemta tlsa verify ---- */

/* Exit statuses (documented in danemta-tlsa(1)). */
#define VERIFY_EXIT_MISMATCH 1	/* a group or every record fails */
#define VERIFY_EXIT_NO_TLSA 2	/* no secure usable TLSA to verify */
#define VERIFY_EXIT_UNREACHED 3 /* no address presented a chain */

struct verify_args {
	struct tlsa_live lv;
	bool json;
	unsigned int warn_days;
};

static void
verify_usage(FILE *f)
{
	(void)fprintf(f,
	    "usage: danemta tlsa verify [--mx] [--port N] [--json] "
	    "[--timeout SECONDS]\n"
	    "           [--rrsig-warn-days N] [resolver options] HOST\n"
	    "  --mx                HOST is a mail domain: verify its MX hosts\n"
	    "  --port N            TLSA at _N._tcp.HOST, connect to N "
	    "(default 25)\n"
	    "  --timeout SECONDS   per SMTP step (default %d)\n"
	    "  --rrsig-warn-days N flag TLSA signatures expiring within N "
	    "days (default %d)\n" RESOLVER_OPTS_USAGE
	    "exit: 0 every group matches at every address, 1 a group or every "
	    "record\nfails, 2 no secure TLSA, 3 no address answered, 64 usage, "
	    "69 resolver\nunavailable, 75 the TLSA lookup failed\n",
	    LIVE_TIMEOUT_DEFAULT, DIAG_RRSIG_WARN_DAYS);
}

enum { OPT_MX = 0x2100, OPT_PORT, OPT_JSON, OPT_TIMEOUT, OPT_WARN };

static int
verify_parse(int argc, char **argv, struct verify_args *a)
{
	static const struct option opts[] = {
	    {"mx", no_argument, NULL, OPT_MX},
	    {"port", required_argument, NULL, OPT_PORT},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"rrsig-warn-days", required_argument, NULL, OPT_WARN},
	    {"help", no_argument, NULL, 'h'},
	    RESOLVER_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	const char *errstr = NULL;
	int ch, r;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if ((r = resolver_opt(ch, optarg, &a->lv.dns)) != 0) {
			if (r < 0)
				return EX_USAGE;
			continue;
		}
		switch (ch) {
		case OPT_MX:
			a->lv.mx = true;
			break;
		case OPT_PORT:
			a->lv.port =
			    (uint16_t)strtonum(optarg, 1, 65535, &errstr);
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_TIMEOUT:
			a->lv.timeout = (unsigned int)strtonum(
			    optarg, 1, LIVE_TIMEOUT_MAX, &errstr);
			break;
		case OPT_WARN:
			a->warn_days = (unsigned int)strtonum(
			    optarg, 1, DIAG_RRSIG_WARN_DAYS_MAX, &errstr);
			break;
		case 'h':
			verify_usage(stdout);
			return -1;
		default:
			verify_usage(stderr);
			return EX_USAGE;
		}
		if (errstr != NULL) {
			(void)fprintf(stderr, "danemta: tlsa verify: %s: %s\n",
			    optarg, errstr);
			return EX_USAGE;
		}
	}
	if (optind != argc - 1) {
		verify_usage(stderr);
		return EX_USAGE;
	}
	a->lv.name = argv[optind];
	return EX_OK;
}

static const char *
group_str(enum live_group g)
{
	static const char *const s[] = {"match", "no-match", "unknown"};

	return s[g];
}

/* The per-address record and group states, as JSON and text. */
static json_t *
addr_json(
    const struct tlsa_live *lv, const struct diag_addr *a, struct wbuf *wb)
{
	const struct plan_host *h = &lv->plan->hosts[a->host];
	json_t *o = json_object(), *recs = json_array(), *r;
	char *text;
	size_t k;

	(void)json_object_set_new(
	    o, "address", json_string(h->addrs[a->addr].address));
	(void)json_object_set_new(
	    o, "result", json_string(smtp_result_str(a->result)));
	(void)json_object_set_new(o, "reason", json_string(a->reason));
	(void)wbuf_printf(wb, "  [%s] %s: %s\n", h->addrs[a->addr].address,
	    smtp_result_str(a->result), a->reason);
	if (a->tlsinfo != NULL && a->tlsinfo->nchain > 0) {
		(void)json_object_set_new(o, "leaf_spki_sha256",
		    json_string(a->tlsinfo->chain[0].spki_sha256));
		(void)wbuf_printf(wb, "    chain: %s (SPKI %s)\n",
		    a->tlsinfo->chain[0].subject,
		    a->tlsinfo->chain[0].spki_sha256);
	}
	for (k = 0; k < h->ntlsa; k++) {
		text = tlsa_format(&h->tlsa[k].rr);
		r = json_object();
		(void)json_object_set_new(r, "record", json_string(text));
		(void)json_object_set_new(r, "usable",
		    json_boolean(h->tlsa[k].verdict == TLSA_USABLE));
		(void)json_object_set_new(r, "match",
		    a->match[k] >= 0 ? json_integer(a->match[k])
			: a->match[k] == DIAG_MATCH_NONE ? json_false()
							 : json_null());
		(void)json_object_set_new(r, "group",
		    json_string(tlsa_live_counts(h, k)
			    ? group_str(tlsa_live_group(h, a, k))
			    : "unusable"));
		(void)json_array_append_new(recs, r);
		if (a->match[k] >= 0)
			(void)wbuf_printf(wb, "    %.40s%s  matches depth %d\n",
			    text, strlen(text) > 40 ? "..." : "", a->match[k]);
		else
			(void)wbuf_printf(wb, "    %.40s%s  %s\n", text,
			    strlen(text) > 40 ? "..." : "",
			    a->match[k] == DIAG_MATCH_NONE ? "no match"
							   : "not checked");
		free(text);
	}
	(void)json_object_set_new(o, "records", recs);
	return o;
}

/* Judge one address: 0, or VERIFY_EXIT_MISMATCH. */
static int
addr_verdict(
    const struct tlsa_live *lv, const struct diag_addr *a, struct wbuf *wb)
{
	const struct plan_host *h = &lv->plan->hosts[a->host];
	const struct tlsa_rr *r;
	size_t k, nmatch = 0;
	int st = 0;

	for (k = 0; k < h->ntlsa; k++) {
		if (h->tlsa[k].verdict == TLSA_USABLE && a->match[k] >= 0)
			nmatch++;
		if (!tlsa_live_counts(h, k) ||
		    tlsa_live_group(h, a, k) != LIVE_GROUP_NONE)
			continue;
		r = &h->tlsa[k].rr;
		(void)wbuf_printf(wb,
		    "    group %u %u %u: matches only a past or future chain "
		    "(RFC 7671 §8)\n",
		    r->usage, r->selector, r->mtype);
		st = VERIFY_EXIT_MISMATCH;
	}
	if (a->tlsinfo == NULL)
		return 0;
	if (nmatch == 0 && h->nusable > 0) {
		(void)wbuf_printf(wb, "    no usable record matches\n");
		st = VERIFY_EXIT_MISMATCH;
	}
	return st;
}

static int
verify_report(struct verify_args *va, const struct diag_list *dl)
{
	struct tlsa_live *lv = &va->lv;
	const struct plan *p = lv->plan;
	struct wbuf wb;
	json_t *o = report_plan_json(p), *addrs = json_array();
	char *s, *dt;
	size_t i, reached = 0, secure = 0, broken = 0;
	int st = 0, r;

	wbuf_init(&wb, (size_t)4 << 20);
	for (i = 0; i < p->nhosts; i++) {
		if (p->hosts[i].tlsa_dnssec == DNSSEC_SECURE &&
		    p->hosts[i].ntlsa > 0)
			secure++;
		if (p->hosts[i].tlsa_lookup == PLAN_LOOKUP_ERROR)
			broken++;
		(void)wbuf_printf(&wb, "%s: %s, %zu TLSA record%s (%s)\n",
		    p->hosts[i].name, plan_mode_str(p->hosts[i].mode),
		    p->hosts[i].ntlsa, p->hosts[i].ntlsa == 1 ? "" : "s",
		    p->hosts[i].reason);
	}
	for (i = 0; i < lv->naddrs; i++) {
		(void)json_array_append_new(
		    addrs, addr_json(lv, &lv->addrs[i], &wb));
		if (lv->addrs[i].tlsinfo != NULL)
			reached++;
		if ((r = addr_verdict(lv, &lv->addrs[i], &wb)) > st)
			st = r;
	}
	if (st == 0 && reached > 0 && diag_has_error(dl))
		st = VERIFY_EXIT_MISMATCH; /* matches, yet senders fail */
	if (secure == 0)
		st = broken > 0 ? EX_TEMPFAIL : VERIFY_EXIT_NO_TLSA;
	else if (reached == 0 && st == 0)
		st = VERIFY_EXIT_UNREACHED;
	dt = diag_text(dl);
	(void)wbuf_printf(&wb, "%s%s", dl->n > 0 ? "problems:\n" : "", dt);
	(void)wbuf_printf(&wb, "verdict: %s\n",
	    st == 0 ? "ok: every group matches the current chain"
		: st == VERIFY_EXIT_MISMATCH
		? "FAIL: the RFC 7671 §8 invariant "
		  "does not hold"
		: st == VERIFY_EXIT_NO_TLSA   ? "no secure TLSA RRset to verify"
		: st == VERIFY_EXIT_UNREACHED ? "no address presented a chain"
					      : "the TLSA lookup failed");
	free(dt);
	(void)json_object_set_new(o, "addresses", addrs);
	(void)json_object_set_new(o, "diagnostics", diag_json(dl));
	(void)json_object_set_new(o, "exit", json_integer(st));
	if (va->json) {
		if ((s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII)) ==
		    NULL)
			fatalx("tlsa verify: cannot encode JSON");
		(void)printf("%s\n", s);
		free(s);
	} else
		(void)fputs((const char *)wb.data, stdout);
	json_decref(o);
	wbuf_clear(&wb);
	return st;
}

int
tlsa_verify(int argc, char **argv)
{
	struct verify_args *va = xcalloc(1, sizeof(*va));
	struct diag_list *dl = xcalloc(1, sizeof(*dl));
	struct diag_input in;
	int st;

	if ((st = verify_parse(argc, argv, va)) != EX_OK) {
		st = st < 0 ? EX_OK : st;
		goto out;
	}
	va->lv.connect = true;
	if ((st = tlsa_live_run(&va->lv)) != EX_OK) {
		(void)fprintf(
		    stderr, "danemta: tlsa verify: %s\n", va->lv.error);
		goto out;
	}
	memset(&in, 0, sizeof(in));
	in.plan = va->lv.plan;
	in.dns = &va->lv.ddns;
	in.addrs = va->lv.addrs;
	in.naddrs = va->lv.naddrs;
	in.now = time(NULL);
	in.rrsig_warn_days = va->warn_days;
	diag_compute(&in, dl);
	st = verify_report(va, dl);
	if (st == VERIFY_EXIT_UNREACHED)
		(void)fprintf(stderr,
		    "danemta: tlsa verify: %s: no address presented a "
		    "certificate chain (%s)\n",
		    va->lv.name,
		    va->lv.naddrs > 0 ? va->lv.addrs[0].reason
				      : "no address to connect to");
out:
	tlsa_live_clear(&va->lv);
	free(dl);
	free(va);
	return st;
}
