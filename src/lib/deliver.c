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
/* err.h's ERR_STATE clashes with OpenSSL's ERR_STATE typedef. */
#define ERR_STATE DANEMTA_ERR_STATE
#include "danemta/err.h"
#undef ERR_STATE

/* One session (and its cleartext retry) at one address. */
struct dl_task {
	struct deliver *d;
	size_t h, a;
	struct smtp_session *s;
	struct smtp_params p;
	bool plain;		 /* this is the cleartext retry */
	struct deliver_rcpt *rc; /* probe_all: outcomes at this address */
};

struct deliver {
	struct event_base *base;
	struct dane_ctx *ctx;
	const struct plan *plan;
	struct deliver_opts o;
	const struct smtp_message *msg;
	deliver_done_fn done;
	void *arg;
	struct event *ev; /* finishing without a session */
	struct deliver_result res;

	size_t order[PLAN_HOSTS_MAX], norder, pos, apos;
	struct dl_task *tasks; /* probe_all: one per address; else one */
	size_t ntasks, running;

	/* The recipients still pending, sent with the next session. */
	const char **prcpts;
	size_t *pidx, npending;
	struct smtp_message cur;
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

void
deliver_opts_default(struct deliver_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->level = POLICY_DANE;
	o->helo_name = "localhost";
	smtp_timeouts_default(&o->timeouts);
}

static bool
mode_mandatory(enum smtp_tls_mode m)
{
	return m == SMTP_TLS_DANE || m == SMTP_TLS_REQUIRED;
}

bool
deliver_decide(enum smtp_tls_mode mode, enum smtp_result r,
    bool plaintext_retry, bool *next_host, bool *retry_plain)
{
	*next_host = false;
	*retry_plain = false;
	if (smtp_result_usable(r))
		return true;
	switch (r) {
	case SMTP_RESULT_DANE_FAILED:
	case SMTP_RESULT_STARTTLS_MISSING:
	case SMTP_RESULT_TLS_FAILED:
		/* RFC 7672 §2.2.3: where TLSA applies this host gets
		 * nothing; go to the next MX, not the next address. */
		if (mode_mandatory(mode))
			*next_host = true;
		else if (r == SMTP_RESULT_TLS_FAILED &&
		    mode == SMTP_TLS_OPPORTUNISTIC && plaintext_retry)
			*retry_plain = true;
		break;
	default:
		break;
	}
	return false;
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
	if (!plan_mx_secure(p))
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

static void
rcpts_init(struct deliver *d)
{
	size_t i, n = d->msg != NULL ? d->msg->nrcpts : 0;

	d->res.nrcpts = n;
	d->res.rcpts = xcalloc(n + 1, sizeof(*d->res.rcpts));
	d->prcpts = xcalloc(n + 1, sizeof(*d->prcpts));
	d->pidx = xcalloc(n + 1, sizeof(*d->pidx));
	for (i = 0; i < n; i++) {
		d->prcpts[i] = d->msg->rcpts[i];
		d->pidx[i] = i;
	}
	d->npending = n;
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
	size_t i;

	for (i = 0; i < d->res.nrcpts; i++) {
		rr = &d->res.rcpts[i];
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
	size_t i, nperm = 0;

	if (d->res.nrcpts == 0)
		return;
	for (i = 0; i < d->res.nrcpts; i++) {
		if (d->res.rcpts[i].outcome == SMTP_OUTCOME_OK)
			return;
		if (d->res.rcpts[i].outcome == SMTP_OUTCOME_PERM)
			nperm++;
	}
	d->res.verdict =
	    nperm == d->res.nrcpts ? DELIVER_BOUNCE : DELIVER_DEFER;
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
		p->msgs = &d->cur;
		p->nmsgs = 1;
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

/* Recipient outcomes of a usable session; true when one was accepted. */
static bool
record_rcpts(struct dl_task *t, const struct smtp_session_result *sr,
    struct deliver_rcpt *out, const size_t *idx, size_t n)
{
	const struct smtp_msg_result *mr;
	const struct plan_host *h = &t->d->plan->hosts[t->h];
	struct deliver_rcpt *rr;
	bool ok, any = false;
	size_t j;

	if (sr->nmsgs == 0)
		return true;
	mr = &sr->msgs[0];
	for (j = 0; j < n && j < mr->nrcpts; j++) {
		const struct smtp_rcpt_result *x = &mr->rcpts[j];

		rr = &out[idx != NULL ? idx[j] : j];
		ok = x->outcome == SMTP_OUTCOME_OK &&
		    (t->d->msg->data == NULL || mr->outcome == SMTP_OUTCOME_OK);
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

/* After a usable session in send mode: keep only pending recipients. */
static void
pending_compact(struct deliver *d)
{
	size_t i, n = 0;

	for (i = 0; i < d->npending; i++) {
		enum smtp_outcome o = d->res.rcpts[d->pidx[i]].outcome;

		if (o == SMTP_OUTCOME_OK || o == SMTP_OUTCOME_PERM)
			continue;
		d->prcpts[n] = d->prcpts[i];
		d->pidx[n] = d->pidx[i];
		n++;
	}
	d->npending = n;
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
		any = d->msg == NULL ||
		    record_rcpts(t, sr, d->res.rcpts, d->pidx, d->npending);
		/* The session the mail went over; else the first usable. */
		if (d->res.used_host < 0 || (any && !d->used_ok)) {
			d->res.used_host = (int)t->h;
			d->res.used_addr = (int)t->a;
			d->used_ok = any;
		}
		a->used = a->used || any;
		pending_compact(d);
		if (d->msg == NULL || d->npending == 0) {
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
		if (d->failed_dane != NULL && !mode_mandatory(dh->mode) &&
		    d->res.warning[0] == '\0') {
			(void)snprintf(d->res.warning, sizeof(d->res.warning),
			    "DANE: %s failed, %s has no DANE: delivering "
			    "without authentication (partial DANE deployment, "
			    "RFC 7672 §2.2.1)",
			    d->failed_dane, dh->host->name);
			log_warnx("%s", d->res.warning);
			d->res.downgrade = true;
		}
		d->cur.rcpts = d->prcpts;
		d->cur.nrcpts = d->npending;
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
			    !mode_mandatory(dh->mode)) {
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
			(void)record_rcpts(t, sr, t->rc, NULL, d->res.nrcpts);
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
	d->cur.rcpts = d->prcpts;
	d->cur.nrcpts = d->npending;
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

int
deliver_start(struct event_base *base, struct dane_ctx *ctx,
    const struct plan *plan, const struct deliver_opts *opts,
    const struct smtp_message *msg, deliver_done_fn done, void *arg,
    struct deliver **out)
{
	struct deliver *d;

	*out = NULL;
	if (base == NULL || ctx == NULL || plan == NULL || opts == NULL ||
	    done == NULL || opts->helo_name == NULL ||
	    plan->nhosts > PLAN_HOSTS_MAX ||
	    (msg != NULL &&
		(msg->nrcpts == 0 || msg->nrcpts > SMTP_RCPTS_MAX ||
		    msg->from == NULL)))
		return -ERR_USAGE;
	d = xcalloc(1, sizeof(*d));
	d->base = base;
	d->ctx = ctx;
	d->plan = plan;
	d->o = *opts;
	d->msg = msg;
	d->done = done;
	d->arg = arg;
	d->res.level = opts->level;
	d->res.used_host = d->res.used_addr = -1;
	if ((d->ev = evtimer_new(base, finish_cb, d)) == NULL)
		fatalx("deliver: cannot allocate an event");
	if (msg != NULL) {
		d->cur = *msg;
		d->cur.nrcpts = 0;
	}
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
	free(d->res.rcpts);
	free(d->prcpts);
	free(d->pidx);
	free(d);
}
