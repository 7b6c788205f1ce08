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
	    "69 resolver\nunavailable, 75 a DNS lookup failed\n",
	    LIVE_TIMEOUT_DEFAULT, DIAG_RRSIG_WARN_DAYS);
}

enum { OPT_MX = 0x2100, OPT_JSON, OPT_WARN };

static int
verify_parse(int argc, char **argv, struct verify_args *a)
{
	static const struct option opts[] = {
	    {"mx", no_argument, NULL, OPT_MX},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"rrsig-warn-days", required_argument, NULL, OPT_WARN},
	    LIVE_LONG_OPTIONS_END,
	};
	const char *errstr = NULL;
	int ch;

	optind = 0;
	while ((ch = tlsa_live_getopt(
		    argc, argv, "h", opts, &a->lv, &errstr)) != -1) {
		switch (ch) {
		case LIVE_OPT_BAD:
			if (errstr == NULL)
				return EX_USAGE; /* already said */
			break;
		case OPT_MX:
			a->lv.mx = true;
			break;
		case OPT_JSON:
			a->json = true;
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
	/* The reason often only repeats the result: print it when it adds. */
	if (a->reason == NULL ||
	    strcmp(a->reason, smtp_result_str(a->result)) == 0)
		(void)wbuf_printf(wb, "  [%s] %s\n", h->addrs[a->addr].address,
		    smtp_result_str(a->result));
	else
		(void)wbuf_printf(wb, "  [%s] %s: %s\n",
		    h->addrs[a->addr].address, smtp_result_str(a->result),
		    a->reason);
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
		/* A failed TLSA, address or CNAME lookup: nothing to verify
		 * yet, which is a temporary DNS failure, not "no TLSA". */
		if (p->hosts[i].tlsa_lookup == PLAN_LOOKUP_ERROR ||
		    p->hosts[i].mode == PLAN_MODE_SKIP)
			broken++;
		(void)wbuf_printf(&wb, "%s: %s, %zu TLSA record%s (%s)\n",
		    p->hosts[i].name, plan_mode_str(p->hosts[i].mode),
		    p->hosts[i].ntlsa, p->hosts[i].ntlsa == 1 ? "" : "s",
		    p->hosts[i].reason);
	}
	if (p->mx_lookup == PLAN_LOOKUP_ERROR) {
		broken++;
		(void)wbuf_printf(&wb, "%s: %s\n", p->domain, p->reason);
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
					      : "a DNS lookup failed");
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
