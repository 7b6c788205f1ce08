/*
 * Building the RFC 7672 §2.2 destination plan on the resolver: the MX
 * lookup, then every host at once (A and AAAA together, BEFORE any TLSA,
 * §2.2.2), then its TLSA candidates one after the other (§2.2.3).  Only
 * glue: every decision is a plan_rules.c function.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "danemta/dns.h"
#include "danemta/err.h"
#include "danemta/log.h"
#include "danemta/plan.h"
#include "danemta/util.h"

struct plan_job;

struct host_job {
	struct plan_job *job;
	struct plan_host *h;
	int pending; /* address answers still due */
	size_t cand; /* TLSA candidate being looked up */
};

struct plan_job {
	struct dns_ctx *dns;
	struct plan *p;
	plan_done_cb done;
	void *arg;
	size_t hosts_left;
	struct host_job hj[PLAN_HOSTS_MAX];
};

const char *
plan_mode_str(enum plan_mode m)
{
	switch (m) {
	case PLAN_MODE_DANE:
		return "dane";
	case PLAN_MODE_TLS_REQUIRED:
		return "tls-required";
	case PLAN_MODE_OPPORTUNISTIC:
		return "opportunistic";
	case PLAN_MODE_SKIP:
		return "skip";
	}
	return "skip";
}

const char *
plan_policy_str(enum plan_policy p)
{
	switch (p) {
	case PLAN_POLICY_DANE:
		return "dane";
	case PLAN_POLICY_TLS_REQUIRED:
		return "tls-required";
	case PLAN_POLICY_OPPORTUNISTIC:
		return "opportunistic";
	case PLAN_POLICY_DEFER:
		return "defer";
	case PLAN_POLICY_BOUNCE:
		return "bounce";
	}
	return "defer";
}

const char *
plan_lookup_str(enum plan_lookup l)
{
	switch (l) {
	case PLAN_LOOKUP_OK:
		return "ok";
	case PLAN_LOOKUP_NODATA:
		return "nodata";
	case PLAN_LOOKUP_NXDOMAIN:
		return "nxdomain";
	case PLAN_LOOKUP_ERROR:
		return "error";
	case PLAN_LOOKUP_NOT_DONE:
		return "not-done";
	}
	return "error";
}

void
plan_free(struct plan *p)
{
	size_t i, j;

	if (p == NULL)
		return;
	for (i = 0; i < p->nhosts && i < PLAN_HOSTS_MAX; i++)
		for (j = 0; j < p->hosts[i].ntlsa && j < TLSA_RRSET_MAX; j++)
			tlsa_rr_clear(&p->hosts[i].tlsa[j].rr);
	free(p);
}

static void
job_finish(struct plan_job *job)
{
	struct plan *p = job->p;

	plan_set_policy(p);
	log_debug("plan: %s: %s (%s)", p->domain, plan_policy_str(p->policy),
	    p->reason);
	job->done(p, job->arg);
	free(job);
}

static void
host_done(struct host_job *hj)
{
	struct plan_job *job = hj->job;

	log_debug("plan: %s: %s: %s (%s)", job->p->domain, hj->h->name,
	    plan_mode_str(hj->h->mode), hj->h->reason);
	if (--job->hosts_left == 0)
		job_finish(job);
}

static void on_tlsa(const struct dns_answer *ans, void *arg);

static void
host_tlsa_next(struct host_job *hj)
{
	dns_query(hj->job->dns, hj->h->tlsa_tries[hj->cand].owner,
	    DNS_TYPE_TLSA, on_tlsa, hj);
}

static void
on_tlsa(const struct dns_answer *ans, void *arg)
{
	struct host_job *hj = arg;

	if (plan_host_tlsa_result(hj->h, hj->cand, ans)) {
		hj->cand++;
		host_tlsa_next(hj);
		return;
	}
	host_done(hj);
}

static void
host_after_addrs(struct host_job *hj)
{
	struct plan *p = hj->job->p;

	hj->cand = 0;
	if (plan_host_candidates(hj->h, plan_mx_secure(p), &p->opts) == 0) {
		host_done(hj);
		return;
	}
	host_tlsa_next(hj);
}

static void
on_cname(const struct dns_answer *ans, void *arg)
{
	struct host_job *hj = arg;

	plan_host_cname_result(hj->h, ans);
	host_after_addrs(hj);
}

static void
on_addr(const struct dns_answer *ans, void *arg)
{
	struct host_job *hj = arg;
	struct plan *p = hj->job->p;

	plan_host_addr_result(hj->h, ans);
	if (--hj->pending > 0)
		return;
	if (plan_host_needs_cname(hj->h, plan_mx_secure(p), &p->opts)) {
		dns_query(
		    hj->job->dns, hj->h->name, DNS_TYPE_CNAME, on_cname, hj);
		return;
	}
	host_after_addrs(hj);
}

static void
start_hosts(struct plan_job *job)
{
	struct plan *p = job->p;
	size_t i;

	if (p->nhosts == 0) {
		job_finish(job);
		return;
	}
	job->hosts_left = p->nhosts;
	for (i = 0; i < p->nhosts; i++) {
		job->hj[i].job = job;
		job->hj[i].h = &p->hosts[i];
		job->hj[i].pending = 2;
		dns_query(job->dns, p->hosts[i].name, DNS_TYPE_A, on_addr,
		    &job->hj[i]);
		dns_query(job->dns, p->hosts[i].name, DNS_TYPE_AAAA, on_addr,
		    &job->hj[i]);
	}
}

static void
on_mx(const struct dns_answer *ans, void *arg)
{
	struct plan_job *job = arg;

	plan_mx_result(job->p, ans);
	start_hosts(job);
}

static void
on_literal(evutil_socket_t fd, short what, void *arg)
{
	job_finish(arg);
}

int
plan_start(struct dns_ctx *dns, const char *domain,
    const struct plan_opts *opts, plan_done_cb done, void *arg)
{
	struct plan_job *job;
	char name[PLAN_NAME_MAX];
	const char *why;
	int literal, r;
	struct timeval tv = {0, 0};

	if ((r = plan_domain_parse(
		 domain, name, sizeof(name), &literal, &why)) < 0)
		return r;
	job = xcalloc(1, sizeof(*job));
	job->dns = dns;
	job->done = done;
	job->arg = arg;
	job->p = xmalloc(sizeof(*job->p));
	plan_init(job->p, literal ? domain : name, opts);
	if (literal) {
		plan_set_literal(job->p, literal, name);
		/* done must never run inside plan_start. */
		if (event_base_once(dns_ctx_base(dns), -1, EV_TIMEOUT,
			on_literal, job, &tv) != 0)
			fatalx("plan: cannot schedule an event");
		return 0;
	}
	if (job->p->opts.no_mx)
		start_hosts(job);
	else
		dns_query(dns, name, DNS_TYPE_MX, on_mx, job);
	return 0;
}
