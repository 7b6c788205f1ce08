/*
 * danemta check: the judgement of one checked domain (check.h): the
 * destination plan (RFC 7672 §2.2), the sessions of the full check and the
 * domain owner's error diagnostics (diag.h) make its "problems" list and
 * its status.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509_vfy.h>

#include "danemta/util.h"
#include "check.h"

static void problem(struct check_problems *pr, enum check_verdict v,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
problem(struct check_problems *pr, enum check_verdict v, const char *fmt, ...)
{
	va_list ap;

	if (v > pr->verdict)
		pr->verdict = v;
	if (pr->n >= CHECK_PROBLEMS_MAX)
		return;
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start above */
	(void)vsnprintf(pr->text[pr->n++], sizeof(pr->text[0]), fmt, ap);
	va_end(ap);
}

/* Judge a plan for the exit status and the "problems" list. */
void
check_judge(const struct plan *p, struct check_problems *pr)
{
	const struct plan_host *h;
	const char *dane_host = NULL, *opp_host = NULL;
	size_t i;

	memset(pr, 0, sizeof(*pr));
	if (p->mx_lookup == PLAN_LOOKUP_ERROR && p->mx_dnssec != DNSSEC_BOGUS) {
		problem(pr, CHECK_INCOMPLETE, "MX lookup did not finish: %s",
		    p->mx_error);
		return;
	}
	if (p->policy == PLAN_POLICY_BOUNCE || p->policy == PLAN_POLICY_DEFER)
		problem(pr, CHECK_PROBLEM, "mail would %s: %s",
		    p->policy == PLAN_POLICY_BOUNCE ? "bounce" : "be deferred",
		    p->reason);
	for (i = 0; i < p->nhosts; i++) {
		h = &p->hosts[i];
		if (h->mode == PLAN_MODE_SKIP)
			problem(pr, CHECK_PROBLEM, "%s skipped: %s", h->name,
			    h->reason);
		else if (h->mode == PLAN_MODE_TLS_REQUIRED)
			problem(pr, CHECK_PROBLEM,
			    "%s: every TLSA record is unusable", h->name);
		if (h->mode == PLAN_MODE_DANE && dane_host == NULL)
			dane_host = h->name;
		if (h->mode == PLAN_MODE_OPPORTUNISTIC && opp_host == NULL)
			opp_host = h->name;
	}
	if (dane_host != NULL && opp_host != NULL)
		problem(pr, CHECK_PROBLEM,
		    "partial DANE: %s has secure TLSA, %s does not "
		    "(a downgrade to %s is possible)",
		    dane_host, opp_host, opp_host);
}

/* The full check: failed sessions, the verdict, a downgrade. */
void
check_judge_delivery(const struct deliver_result *r, struct check_problems *pr)
{
	const struct deliver_host *dh;
	const struct deliver_addr *a;
	size_t i, j;

	for (i = 0; i < r->nhosts; i++) {
		dh = &r->hosts[i];
		for (j = 0; j < dh->naddrs; j++) {
			a = &dh->addrs[j];
			if (a->tried && !smtp_result_usable(a->result))
				problem(pr, CHECK_PROBLEM, "%s[%s]: %s: %s",
				    dh->host->name, a->address,
				    smtp_result_str(a->result), a->reason);
			else if (a->plaintext_retry)
				problem(pr, CHECK_PROBLEM,
				    "%s[%s]: TLS failed (%s), plaintext only",
				    dh->host->name, a->address,
				    a->tls_failed_reason);
			else if (a->audit_failed)
				problem(pr, CHECK_PROBLEM,
				    "%s[%s]: DANE authentication fails "
				    "(audit mode): %s",
				    dh->host->name, a->address,
				    a->tlsinfo.verify_error);
		}
	}
	if (r->verdict == DELIVER_DEFER || r->verdict == DELIVER_BOUNCE)
		problem(pr, CHECK_PROBLEM, "a DANE sender would %s: %s",
		    r->verdict == DELIVER_DEFER ? "defer" : "bounce",
		    r->reason);
	if (r->downgrade)
		problem(pr, CHECK_PROBLEM, "%s", r->warning);
}

/*
 * The diagnostics' view of the sessions: each tried address with its chain
 * and every record of its host matched against that chain.  A DANE session
 * that failed with "no match" also settles the usable records the chain's
 * SHA2-256 digests cannot decide (x x 2, x x 0): none of them matches.
 * Returns a new array (caller frees) of *n entries, or NULL.
 */
static struct diag_addr *
check_diag_addrs(
    const struct plan *p, const struct deliver_result *r, size_t *n)
{
	const struct deliver_addr *da;
	const struct plan_host *h;
	struct diag_addr *v, *a;
	size_t i, j, k, total = 0;
	bool no_match;

	*n = 0;
	for (i = 0; i < r->nhosts; i++)
		total += r->hosts[i].naddrs;
	if (total == 0)
		return NULL;
	v = xcalloc(total, sizeof(*v));
	for (i = 0; i < r->nhosts; i++) {
		h = r->hosts[i].host;
		for (j = 0; j < r->hosts[i].naddrs; j++) {
			da = &r->hosts[i].addrs[j];
			if (!da->tried)
				continue;
			a = &v[(*n)++];
			a->host = (size_t)(h - p->hosts);
			a->addr = j;
			a->tried = true;
			a->result = da->result;
			a->reason = da->reason;
			a->tlsinfo = da->tls ? &da->tlsinfo : NULL;
			no_match = da->tls && da->tlsinfo.dane &&
			    da->tlsinfo.verify_code == X509_V_ERR_DANE_NO_MATCH;
			for (k = 0; k < h->ntlsa && k < TLSA_RRSET_MAX; k++) {
				a->match[k] = a->tlsinfo != NULL
				    ? diag_match_chain(
					  &h->tlsa[k].rr, a->tlsinfo)
				    : DIAG_MATCH_UNKNOWN;
				if (no_match &&
				    a->match[k] == DIAG_MATCH_UNKNOWN &&
				    h->tlsa[k].verdict == TLSA_USABLE)
					a->match[k] = DIAG_MATCH_NONE;
			}
		}
	}
	return v;
}

/* The domain owner's diagnostics: DNS only, or with the sessions. */
void
check_diagnose(const struct check_job *job, struct diag_list *dl)
{
	struct diag_input in;
	struct diag_addr *addrs = NULL;
	size_t n = 0;

	memset(&in, 0, sizeof(in));
	if (job->dl != NULL)
		addrs =
		    check_diag_addrs(job->plan, deliver_result(job->dl), &n);
	in.plan = job->plan;
	in.dns = job->ddns;
	in.addrs = addrs;
	in.naddrs = n;
	in.now = time(NULL);
	in.rrsig_warn_days = job->run->rrsig_warn_days;
	diag_compute(&in, dl);
	free(addrs);
}

/* An error diagnostic makes the check's status "problem". */
void
check_judge_diag(const struct diag_list *dl, struct check_problems *pr)
{
	const struct diag *d;
	size_t i, before = pr->n;

	for (i = 0; i < dl->n; i++) {
		d = &dl->v[i];
		if (d->severity != DIAG_ERROR)
			continue;
		problem(pr, CHECK_PROBLEM, "%s: %s%s%s%s: %s", diag_name(d->id),
		    d->host[0] ? d->host : "(domain)", d->address[0] ? "[" : "",
		    d->address, d->address[0] ? "]" : "", d->detail);
	}
	pr->ndiag = pr->n - before;
}
