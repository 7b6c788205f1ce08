/*
 * One delivery attempt to one next-hop domain: the walk of RFC 7672
 * §2.2.1 and checklist §1.15/§1.17 over a destination plan under a policy
 * level.  Hosts in preference order (random within a preference), each
 * host's addresses; never a downgrade where TLSA applies (§2.2.3, §3.2);
 * an optional cleartext retry after a failed opportunistic handshake
 * (§2.2); a warning on a partial-deployment downgrade (§2.2.1).  The
 * checker runs the same walk over sessions made to every address at once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509_vfy.h>

#include "danemta/deliver.h"
#include "danemta/log.h"
#include "danemta/util.h"
#include "danemta/err.h"

/* One session (and its cleartext retry) at one address. */
struct dl_task {
	struct deliver *d;
	size_t h, a;
	struct smtp_session *s;
	struct smtp_params p;
	bool plain;		 /* this is the cleartext retry */
	struct deliver_rcpt *rc; /* probe_all: outcomes at this address */
};

/* One message of the attempt and its recipients still pending. */
struct dl_msg {
	const char **prcpts;
	size_t *pidx, npending;
};

struct deliver {
	struct event_base *base;
	struct dane_ctx *ctx;
	const struct plan *plan;
	struct deliver_opts o;
	const struct smtp_message *msg; /* nmsgs messages, or NULL */
	size_t nmsgs;
	deliver_done_fn done;
	void *arg;
	struct event *ev; /* finishing without a session */
	struct deliver_result res;

	size_t order[PLAN_HOSTS_MAX], norder, pos, apos;
	struct dl_task *tasks; /* probe_all: one per address; else one */
	size_t ntasks, running;

	/* The recipients still pending, sent with the next session. */
	struct dl_msg *dm; /* nmsgs entries */
	/* The next session's messages: those with recipients pending. */
	struct smtp_message cur[SMTP_MSGS_MAX];
	size_t curidx[SMTP_MSGS_MAX], ncur;
	const char *failed_dane; /* a DANE host that failed, for §2.2.1 */
	bool used_ok;		 /* a recipient was accepted at used_host */
	bool finished;
};

static const char *const verdict_names[] = {
    [DELIVER_DANE_AUTHENTICATED] = "dane-authenticated",
    [DELIVER_TLS_UNAUTHENTICATED] = "tls-unauthenticated",
    [DELIVER_OPPORTUNISTIC] = "opportunistic",
    [DELIVER_DEFER] = "defer",
    [DELIVER_BOUNCE] = "bounce",
};

const char *
deliver_verdict_str(enum deliver_verdict v)
{
	if ((size_t)v >= sizeof(verdict_names) / sizeof(verdict_names[0]))
		return "unknown";
	return verdict_names[v];
}

/* ---- small helpers ---- */

static void reason_add(struct deliver *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
reason_add(struct deliver *d, const char *fmt, ...)
{
	char *r = d->res.reason;
	size_t n = strlen(r);
	va_list ap;

	if (n + 3 >= sizeof(d->res.reason))
		return;
	if (n > 0) {
		(void)strlcat(r, "; ", sizeof(d->res.reason));
		n += 2;
	}
	va_start(ap, fmt);
	(void)vsnprintf(r + n, sizeof(d->res.reason) - n, fmt, ap);
	va_end(ap);
}

static void
first_tlsrpt(struct deliver *d, const char *t)
{
	if (d->res.tlsrpt_result == NULL)
		d->res.tlsrpt_result = t;
}

static uint16_t
plan_port(const struct plan *p)
{
	return p->opts.port != 0 ? p->opts.port : 25;
}

/* Hosts in preference order; shuffled within one preference (§1.15). */
static void
make_order(struct deliver *d)
{
	const struct plan *p = d->plan;
	size_t i, j, k, t;

	d->norder = p->nhosts;
	for (i = 0; i < p->nhosts; i++)
		d->order[i] = i;
	if (d->o.no_shuffle || d->o.probe_all)
		return;
	for (i = 0; i < p->nhosts; i = j) {
		for (j = i + 1; j < p->nhosts &&
		     p->hosts[j].preference == p->hosts[i].preference;
		     j++)
			;
		for (k = j - 1; k > i; k--) {
			t = i + arc4random_uniform((uint32_t)(k - i + 1));
			size_t x = d->order[k];
			d->order[k] = d->order[t];
			d->order[t] = x;
		}
	}
}

/* Why a host runs without DANE, in the words of the log lines. */
static void
log_host_plan(
    struct deliver *d, const struct plan_host *h, const struct deliver_host *dh)
{
	const struct plan *p = d->plan;

	if (!dh->allowed) {
		log_info("deliver: %s: %s", p->domain, dh->reason);
		return;
	}
	if (d->o.level != POLICY_DANE || h->mode != PLAN_MODE_OPPORTUNISTIC)
		return;
	if (p->address_literal)
		log_info(
		    "DANE: %s is an address literal (optional TLS)", p->domain);
	else if (!plan_mx_secure(p))
		log_info("DANE: insecure name %s (falling back to optional "
			 "TLS)",
		    p->domain);
	else if (h->dnssec != DNSSEC_SECURE)
		log_info("DANE: insecure name %s (falling back to optional "
			 "TLS)",
		    h->cname_target[0] ? h->cname_target : h->name);
	else
		log_info("DANE: no secure TLSA records for %s (optional TLS)",
		    h->name);
}

static void
hosts_init(struct deliver *d)
{
	const struct plan *p = d->plan;
	struct deliver_host *dh;
	size_t i, j;

	d->res.nhosts = p->nhosts;
	d->res.hosts = xcalloc(p->nhosts + 1, sizeof(*d->res.hosts));
	for (i = 0; i < p->nhosts; i++) {
		dh = &d->res.hosts[i];
		dh->host = &p->hosts[i];
		dh->naddrs = p->hosts[i].naddrs;
		dh->addrs = xcalloc(dh->naddrs + 1, sizeof(*dh->addrs));
		for (j = 0; j < dh->naddrs; j++)
			(void)strlcpy(dh->addrs[j].address,
			    p->hosts[i].addrs[j].address,
			    sizeof(dh->addrs[j].address));
		dh->allowed = policy_host_mode(d->o.level, p, &p->hosts[i],
				  &dh->mode, dh->reason, sizeof(dh->reason),
				  &dh->tlsrpt_result) == 0;
		log_host_plan(d, &p->hosts[i], dh);
	}
}

/* Every message's recipients start pending; msgs[0] is also rcpts. */
static void
rcpts_init(struct deliver *d)
{
	size_t i, k, n, nm = d->nmsgs > 0 ? d->nmsgs : 1;
	struct dl_msg *dm;

	d->res.nmsgs = d->nmsgs;
	d->res.msgs = xcalloc(nm, sizeof(*d->res.msgs));
	d->dm = xcalloc(nm, sizeof(*d->dm));
	for (k = 0; k < nm; k++) {
		n = k < d->nmsgs ? d->msg[k].nrcpts : 0;
		dm = &d->dm[k];
		d->res.msgs[k].nrcpts = n;
		d->res.msgs[k].rcpts =
		    xcalloc(n + 1, sizeof(struct deliver_rcpt));
		dm->prcpts = xcalloc(n + 1, sizeof(*dm->prcpts));
		dm->pidx = xcalloc(n + 1, sizeof(*dm->pidx));
		for (i = 0; i < n; i++) {
			dm->prcpts[i] = d->msg[k].rcpts[i];
			dm->pidx[i] = i;
		}
		dm->npending = n;
	}
	d->res.nrcpts = d->res.msgs[0].nrcpts;
	d->res.rcpts = d->res.msgs[0].rcpts;
}

/* The next session carries every message with recipients pending. */
static void
cur_build(struct deliver *d)
{
	size_t k;

	d->ncur = 0;
	for (k = 0; k < d->nmsgs; k++) {
		if (d->dm[k].npending == 0)
			continue;
		d->cur[d->ncur] = d->msg[k];
		d->cur[d->ncur].rcpts = d->dm[k].prcpts;
		d->cur[d->ncur].nrcpts = d->dm[k].npending;
		d->curidx[d->ncur++] = k;
	}
}

/* ---- finishing ---- */

static void
finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct deliver *d = arg;

	(void)fd;
	(void)what;
	d->done(d, d->arg);
}

static enum deliver_verdict
verdict_of(const struct deliver_addr *a)
{
	switch (a->result) {
	case SMTP_RESULT_DANE_AUTHENTICATED:
		return DELIVER_DANE_AUTHENTICATED;
	case SMTP_RESULT_TLS_UNAUTHENTICATED:
		/* Audit mode: DANE verified although it was not enforced. */
		if (a->tls && a->tlsinfo.dane && a->tlsinfo.authenticated)
			return DELIVER_DANE_AUTHENTICATED;
		return DELIVER_TLS_UNAUTHENTICATED;
	default:
		return DELIVER_OPPORTUNISTIC;
	}
}

/* Every host failed: the domain's reason is each host's. */
static void
explain_failure(struct deliver *d)
{
	const struct plan *p = d->plan;
	size_t i, j;

	if (p->policy == PLAN_POLICY_BOUNCE || p->nhosts == 0) {
		d->res.verdict = p->policy == PLAN_POLICY_BOUNCE
		    ? DELIVER_BOUNCE
		    : DELIVER_DEFER;
		reason_add(d, "%s", p->reason);
		if (p->mx_lookup == PLAN_LOOKUP_ERROR)
			first_tlsrpt(d, "dnssec-invalid");
		return;
	}
	d->res.verdict = DELIVER_DEFER;
	for (i = 0; i < d->norder; i++) {
		const struct deliver_host *dh = &d->res.hosts[d->order[i]];
		bool any = false;

		if (!dh->allowed) {
			reason_add(d, "%s", dh->reason);
			first_tlsrpt(d, dh->tlsrpt_result);
			continue;
		}
		for (j = 0; j < dh->naddrs; j++) {
			if (!dh->addrs[j].tried)
				continue;
			any = true;
			reason_add(d, "%s[%s]: %s", dh->host->name,
			    dh->addrs[j].address, dh->addrs[j].reason);
			first_tlsrpt(d, dh->addrs[j].tlsrpt_result);
		}
		if (!any)
			reason_add(d, "%s: not tried", dh->host->name);
	}
}

/* Recipients still pending become temporary failures with the reason. */
static void
rcpts_defer(struct deliver *d)
{
	struct deliver_rcpt *rr;
	size_t i, k;

	for (k = 0; k < d->nmsgs; k++)
		for (i = 0; i < d->res.msgs[k].nrcpts; i++) {
			rr = &d->res.msgs[k].rcpts[i];
			if (rr->outcome == SMTP_OUTCOME_OK ||
			    rr->outcome == SMTP_OUTCOME_PERM)
				continue;
			rr->outcome = d->res.verdict == DELIVER_BOUNCE
			    ? SMTP_OUTCOME_PERM
			    : SMTP_OUTCOME_TEMP;
			if (rr->text[0] == '\0' || d->res.used_host < 0)
				(void)strlcpy(
				    rr->text, d->res.reason, sizeof(rr->text));
		}
}

/* A usable session where no recipient was accepted: defer or bounce. */
static void
rcpts_judge(struct deliver *d)
{
	size_t i, k, n = 0, nperm = 0;

	for (k = 0; k < d->nmsgs; k++)
		for (i = 0; i < d->res.msgs[k].nrcpts; i++, n++) {
			if (d->res.msgs[k].rcpts[i].outcome == SMTP_OUTCOME_OK)
				return;
			if (d->res.msgs[k].rcpts[i].outcome ==
			    SMTP_OUTCOME_PERM)
				nperm++;
		}
	if (n == 0)
		return;
	d->res.verdict = nperm == n ? DELIVER_BOUNCE : DELIVER_DEFER;
	reason_add(d, "refused: %s", d->res.rcpts[0].text);
}

static void
finish(struct deliver *d)
{
	const struct deliver_addr *a;

	if (d->finished)
		return;
	d->finished = true;
	if (d->res.used_host >= 0) {
		a = &d->res.hosts[d->res.used_host].addrs[d->res.used_addr];
		d->res.verdict = verdict_of(a);
		(void)snprintf(d->res.reason, sizeof(d->res.reason),
		    "%s via %s[%s]", smtp_result_str(a->result),
		    d->res.hosts[d->res.used_host].host->name, a->address);
		rcpts_judge(d);
	} else {
		explain_failure(d);
	}
	rcpts_defer(d);
	if (d->res.verdict == DELIVER_DEFER)
		log_warnx("deliver: %s: deferred: %s", d->plan->domain,
		    d->res.reason);
	else if (d->res.verdict == DELIVER_BOUNCE)
		log_warnx(
		    "deliver: %s: bounced: %s", d->plan->domain, d->res.reason);
	event_active(d->ev, EV_TIMEOUT, 1);
}

/* ---- sessions ---- */

static void task_done(struct smtp_session *s, void *arg);

static void
task_params(struct dl_task *t)
{
	struct deliver *d = t->d;
	const struct plan_host *h = &d->plan->hosts[t->h];
	struct deliver_host *dh = &d->res.hosts[t->h];
	struct smtp_params *p = &t->p;

	memset(p, 0, sizeof(*p));
	if (!t->plain &&
	    (dh->mode == SMTP_TLS_DANE ||
		(d->o.level <= POLICY_DANE && h->mode != PLAN_MODE_SKIP))) {
		(void)smtp_params_from_plan(p, d->plan, h, t->a);
		p->mode = dh->mode;
	} else {
		p->address = h->addrs[t->a].address;
		p->addr_dnssec = h->addrs[t->a].dnssec == DNSSEC_SECURE;
		p->host = h->name;
		p->mode = t->plain ? SMTP_TLS_NONE : dh->mode;
		p->tls.sni = h->name;
	}
	/* Audit only (RFC 7672 §9.1): verify, but do not enforce. */
	if (p->mode == SMTP_TLS_DANE && d->o.audit)
		p->mode = SMTP_TLS_REQUIRED;
	p->port = plan_port(d->plan);
	p->helo_name = d->o.helo_name;
	p->timeouts = d->o.timeouts;
	if (d->msg != NULL) {
		p->msgs = d->cur;
		p->nmsgs = d->ncur;
	}
}

static int
task_start(struct dl_task *t)
{
	struct deliver *d = t->d;
	struct deliver_addr *a = &d->res.hosts[t->h].addrs[t->a];
	int r;

	task_params(t);
	a->tried = true;
	a->mode = t->p.mode;
	r = smtp_session_start(d->base, d->ctx, &t->p, task_done, t, &t->s);
	if (r < 0) {
		a->result = SMTP_RESULT_SMTP_FAILED;
		(void)snprintf(a->reason, sizeof(a->reason),
		    "cannot start a session: %s", err_str(r));
		return r;
	}
	d->running++;
	return 0;
}

/* Copy what the session came to into the address's record. */
static void
record_session(struct dl_task *t, const struct smtp_session_result *sr)
{
	struct deliver *d = t->d;
	struct deliver_addr *a = &d->res.hosts[t->h].addrs[t->a];

	if (t->plain) {
		a->plaintext_retry = true;
		(void)strlcpy(a->tls_failed_reason, a->reason,
		    sizeof(a->tls_failed_reason));
	}
	a->result = sr->result;
	(void)strlcpy(a->reason,
	    sr->reason[0] ? sr->reason : smtp_result_str(sr->result),
	    sizeof(a->reason));
	a->tlsrpt_result = sr->tlsrpt_result;
	if (!t->plain || sr->tls) {
		a->tls = sr->tls;
		if (sr->tls)
			a->tlsinfo = sr->tlsinfo;
	}
	if (sr->tls && t->p.tls.dane && t->p.mode != SMTP_TLS_DANE &&
	    !sr->tlsinfo.authenticated) {
		a->audit_failed = true;
		log_warnx("DANE audit: %s[%s] fails DANE authentication (%s); "
			  "delivering anyway (audit mode)",
		    d->plan->hosts[t->h].name, a->address,
		    sr->tlsinfo.verify_error);
	}
}

/*
 * Recipient outcomes of the session's message k (a usable session); true
 * when one was accepted.
 */
static bool
record_rcpts(struct dl_task *t, const struct smtp_session_result *sr, size_t k,
    struct deliver_rcpt *out, const size_t *idx, size_t n)
{
	const struct smtp_msg_result *mr;
	const struct plan_host *h = &t->d->plan->hosts[t->h];
	struct deliver_rcpt *rr;
	bool ok, any = false;
	size_t j;

	if (sr->nmsgs == 0)
		return true;
	if (k >= sr->nmsgs)
		return false;
	mr = &sr->msgs[k];
	for (j = 0; j < n && j < mr->nrcpts; j++) {
		const struct smtp_rcpt_result *x = &mr->rcpts[j];

		rr = &out[idx != NULL ? idx[j] : j];
		ok = x->outcome == SMTP_OUTCOME_OK &&
		    (t->d->cur[k].data == NULL ||
			mr->outcome == SMTP_OUTCOME_OK);
		rr->outcome = ok		      ? SMTP_OUTCOME_OK
		    : x->outcome == SMTP_OUTCOME_PERM ? SMTP_OUTCOME_PERM
						      : SMTP_OUTCOME_NONE;
		any = any || ok;
		rr->code = x->code != 0 ? x->code : mr->code;
		(void)strlcpy(rr->enhanced,
		    x->enhanced[0] ? x->enhanced : mr->enhanced,
		    sizeof(rr->enhanced));
		(void)strlcpy(rr->text,
		    x->text[0]	      ? x->text
			: mr->text[0] ? mr->text
				      : sr->reason,
		    sizeof(rr->text));
		(void)snprintf(rr->via, sizeof(rr->via), "%s[%s]", h->name,
		    h->addrs[t->a].address);
	}
	return any;
}

/* Every message's outcomes from a usable session; true when one went. */
static bool
record_msgs(struct dl_task *t, const struct smtp_session_result *sr)
{
	struct deliver *d = t->d;
	bool any = false;
	size_t k, m;

	for (k = 0; k < d->ncur; k++) {
		m = d->curidx[k];
		if (record_rcpts(t, sr, k, d->res.msgs[m].rcpts, d->dm[m].pidx,
			d->dm[m].npending))
			any = true;
	}
	return any;
}

/*
 * After a usable session in send mode: keep only pending recipients.
 * Returns how many remain over all messages.
 */
static size_t
pending_compact(struct deliver *d)
{
	struct dl_msg *dm;
	size_t i, k, n, total = 0;

	for (k = 0; k < d->nmsgs; k++) {
		dm = &d->dm[k];
		for (i = 0, n = 0; i < dm->npending; i++) {
			enum smtp_outcome o =
			    d->res.msgs[k].rcpts[dm->pidx[i]].outcome;

			if (o == SMTP_OUTCOME_OK || o == SMTP_OUTCOME_PERM)
				continue;
			dm->prcpts[n] = dm->prcpts[i];
			dm->pidx[n] = dm->pidx[i];
			n++;
		}
		dm->npending = n;
		total += n;
	}
	return total;
}

static void walk_next(struct deliver *d);

static void
log_next_mx(struct deliver *d, const struct dl_task *t)
{
	const struct deliver_addr *a = &d->res.hosts[t->h].addrs[t->a];
	const char *name = d->plan->hosts[t->h].name;

	if (a->result == SMTP_RESULT_DANE_FAILED &&
	    a->tlsinfo.verify_code == X509_V_ERR_DANE_NO_MATCH)
		log_warnx("DANE: no certificate matches the TLSA records of "
			  "%s; trying next MX",
		    t->p.tls.sni != NULL ? t->p.tls.sni : name);
	else
		log_warnx("deliver: %s[%s]: %s; %s", name, a->address,
		    a->reason, "this host gets nothing, trying next MX");
}

/* The walk of send mode, after one session. */
static void
walk_after(struct dl_task *t, const struct smtp_session_result *sr)
{
	struct deliver *d = t->d;
	struct deliver_host *dh = &d->res.hosts[t->h];
	struct deliver_addr *a = &dh->addrs[t->a];
	bool next_host, retry_plain, any;

	if (deliver_decide(dh->mode, a->result, !d->o.no_plaintext_retry,
		&next_host, &retry_plain)) {
		any = d->msg == NULL || record_msgs(t, sr);
		/* The session the mail went over; else the first usable. */
		if (d->res.used_host < 0 || (any && !d->used_ok)) {
			d->res.used_host = (int)t->h;
			d->res.used_addr = (int)t->a;
			d->used_ok = any;
		}
		a->used = a->used || any;
		if (pending_compact(d) == 0 || d->msg == NULL) {
			finish(d);
			return;
		}
		d->apos++;
	} else if (retry_plain && !t->plain) {
		log_info("deliver: %s[%s]: %s; retrying in cleartext "
			 "(RFC 7672 §2.2)",
		    dh->host->name, a->address, a->reason);
		t->plain = true;
		if (task_start(t) == 0)
			return;
		d->apos++;
	} else if (next_host) {
		if (dh->mode == SMTP_TLS_DANE && d->failed_dane == NULL)
			d->failed_dane = dh->host->name;
		log_next_mx(d, t);
		d->pos++;
		d->apos = 0;
	} else {
		d->apos++;
	}
	walk_next(d);
}

/* Start the session of the next address in the walk, or finish. */
static void
walk_next(struct deliver *d)
{
	struct dl_task *t = &d->tasks[0];
	struct deliver_host *dh;

	while (d->pos < d->norder) {
		dh = &d->res.hosts[d->order[d->pos]];
		if (!dh->allowed || d->apos >= dh->naddrs) {
			d->pos++;
			d->apos = 0;
			continue;
		}
		if (d->failed_dane != NULL &&
		    !deliver_mode_mandatory(dh->mode) &&
		    d->res.warning[0] == '\0') {
			(void)snprintf(d->res.warning, sizeof(d->res.warning),
			    "DANE: %s failed, %s has no DANE: delivering "
			    "without authentication (partial DANE deployment, "
			    "RFC 7672 §2.2.1)",
			    d->failed_dane, dh->host->name);
			log_warnx("%s", d->res.warning);
			d->res.downgrade = true;
		}
		cur_build(d);
		t->h = d->order[d->pos];
		t->a = d->apos;
		t->plain = false;
		if (task_start(t) == 0)
			return;
		d->apos++;
	}
	finish(d);
}

/* The checker: what the walk decides from every address's session. */
static void
probe_evaluate(struct deliver *d)
{
	struct deliver_host *dh;
	struct dl_task *t;
	bool next_host, plain;
	size_t i, j, k;

	for (i = 0; i < d->norder; i++) {
		dh = &d->res.hosts[d->order[i]];
		if (!dh->allowed)
			continue;
		for (j = 0; j < dh->naddrs; j++) {
			next_host = false;
			for (k = 0, t = NULL; k < d->ntasks; k++)
				if (d->tasks[k].h == d->order[i] &&
				    d->tasks[k].a == j)
					t = &d->tasks[k];
			if (t == NULL ||
			    !deliver_decide(dh->mode, dh->addrs[j].result,
				false, &next_host, &plain)) {
				if (next_host) {
					if (dh->mode == SMTP_TLS_DANE &&
					    d->failed_dane == NULL)
						d->failed_dane = dh->host->name;
					break;
				}
				continue;
			}
			for (k = 0; k < d->res.nrcpts; k++)
				d->res.rcpts[k] = t->rc[k];
			if (d->failed_dane != NULL &&
			    !deliver_mode_mandatory(dh->mode)) {
				d->res.downgrade = true;
				(void)snprintf(d->res.warning,
				    sizeof(d->res.warning),
				    "DANE: %s failed, a sender falls back to "
				    "%s without DANE (partial DANE "
				    "deployment, RFC 7672 §2.2.1)",
				    d->failed_dane, dh->host->name);
				log_warnx("%s", d->res.warning);
			}
			d->res.used_host = (int)d->order[i];
			d->res.used_addr = (int)j;
			dh->addrs[j].used = true;
			return;
		}
	}
}

static void
task_done(struct smtp_session *s, void *arg)
{
	struct dl_task *t = arg;
	struct deliver *d = t->d;
	const struct smtp_session_result *sr = smtp_session_result(s);
	struct deliver_addr *a = &d->res.hosts[t->h].addrs[t->a];
	bool next_host, retry_plain;

	/* The session is ours to free once its result is copied. */
	t->s = NULL;
	d->running--;
	record_session(t, sr);
	if (!d->o.probe_all) {
		walk_after(t, sr);
		smtp_session_free(s);
		return;
	}
	if (deliver_decide(d->res.hosts[t->h].mode, a->result,
		!d->o.no_plaintext_retry, &next_host, &retry_plain)) {
		if (d->msg != NULL)
			(void)record_rcpts(
			    t, sr, 0, t->rc, NULL, d->res.nrcpts);
	} else if (retry_plain && !t->plain) {
		t->plain = true;
		(void)task_start(t);
	}
	smtp_session_free(s);
	if (d->running == 0) {
		probe_evaluate(d);
		finish(d);
	}
}

static void
probe_start(struct deliver *d)
{
	struct deliver_host *dh;
	size_t i, j, n = 0;

	for (i = 0; i < d->res.nhosts; i++)
		if (d->res.hosts[i].allowed)
			n += d->res.hosts[i].naddrs;
	d->tasks = xcalloc(n + 1, sizeof(*d->tasks));
	cur_build(d);
	for (i = 0; i < d->res.nhosts; i++) {
		dh = &d->res.hosts[i];
		for (j = 0; dh->allowed && j < dh->naddrs; j++) {
			struct dl_task *t = &d->tasks[d->ntasks++];

			t->d = d;
			t->h = i;
			t->a = j;
			t->rc = xcalloc(d->res.nrcpts + 1, sizeof(*t->rc));
		}
	}
	for (i = 0; i < d->ntasks; i++)
		(void)task_start(&d->tasks[i]);
	if (d->running == 0) {
		probe_evaluate(d);
		finish(d);
	}
}

static bool
msgs_valid(const struct smtp_message *msgs, size_t nmsgs, bool probe_all)
{
	size_t k;

	if ((msgs == NULL) != (nmsgs == 0) || nmsgs > DELIVER_MSGS_MAX ||
	    (probe_all && nmsgs > 1))
		return false;
	for (k = 0; k < nmsgs; k++)
		if (msgs[k].nrcpts == 0 || msgs[k].nrcpts > SMTP_RCPTS_MAX ||
		    msgs[k].from == NULL || msgs[k].rcpts == NULL)
			return false;
	return true;
}

int
deliver_start(struct event_base *base, struct dane_ctx *ctx,
    const struct plan *plan, const struct deliver_opts *opts,
    const struct smtp_message *msg, deliver_done_fn done, void *arg,
    struct deliver **out)
{
	return deliver_start_msgs(
	    base, ctx, plan, opts, msg, msg != NULL ? 1 : 0, done, arg, out);
}

int
deliver_start_msgs(struct event_base *base, struct dane_ctx *ctx,
    const struct plan *plan, const struct deliver_opts *opts,
    const struct smtp_message *msgs, size_t nmsgs, deliver_done_fn done,
    void *arg, struct deliver **out)
{
	struct deliver *d;

	*out = NULL;
	if (base == NULL || ctx == NULL || plan == NULL || opts == NULL ||
	    done == NULL || opts->helo_name == NULL ||
	    plan->nhosts > PLAN_HOSTS_MAX ||
	    !msgs_valid(msgs, nmsgs, opts->probe_all))
		return -ERR_USAGE;
	d = xcalloc(1, sizeof(*d));
	d->base = base;
	d->ctx = ctx;
	d->plan = plan;
	d->o = *opts;
	d->msg = msgs;
	d->nmsgs = nmsgs;
	d->done = done;
	d->arg = arg;
	d->res.level = opts->level;
	d->res.used_host = d->res.used_addr = -1;
	if ((d->ev = evtimer_new(base, finish_cb, d)) == NULL)
		fatalx("deliver: cannot allocate an event");
	rcpts_init(d);
	make_order(d);
	hosts_init(d);
	*out = d;
	if (d->o.probe_all) {
		probe_start(d);
	} else {
		d->tasks = xcalloc(1, sizeof(*d->tasks));
		d->ntasks = 1;
		d->tasks[0].d = d;
		walk_next(d);
	}
	return 0;
}

const struct deliver_result *
deliver_result(const struct deliver *d)
{
	return &d->res;
}

void
deliver_free(struct deliver *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->ntasks; i++) {
		smtp_session_free(d->tasks[i].s);
		free(d->tasks[i].rc);
	}
	free(d->tasks);
	if (d->ev != NULL)
		event_free(d->ev);
	for (i = 0; i < d->res.nhosts; i++)
		free(d->res.hosts[i].addrs);
	free(d->res.hosts);
	for (i = 0; d->dm != NULL && i < (d->nmsgs > 0 ? d->nmsgs : 1); i++) {
		free(d->res.msgs[i].rcpts);
		free(d->dm[i].prcpts);
		free(d->dm[i].pidx);
	}
	free(d->res.msgs);
	free(d->dm);
	free(d);
}
