/*
 * danemta check: what a DANE sender would do for each mail domain.  With
 * --dns-only it stops after the RFC 7672 §2.2 destination plan (MX, CNAME,
 * addresses, TLSA, per-host mode, policy); the full check then runs the
 * delivery walk of deliver.c as a dry run (or a recipient probe for
 * user@domain) against every address of every MX host and reports each
 * session and the verdict of a DANE-enforcing sender.  Both modes add the
 * domain owner's diagnostics (diag.h: common DANE mistakes, RFC 7671 §8-§13,
 * RFC 7672 §3, §9), from a few extra lookups and, when connected, the
 * presented chains.  Many domains run concurrently on one event loop and
 * one resolver; output keeps the input order.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/x509_vfy.h>
#include <jansson.h>

#include "danemta/buf.h"
#include "danemta/deliver.h"
#include "danemta/diag.h"
#include "danemta/dns.h"
#include "danemta/log.h"
#include "danemta/plan.h"
#include "danemta/policy.h"
#include "danemta/report.h"
#include "danemta/util.h"
#include "danemta/err.h"
#include "cli.h"
#include "resolver_opts.h"

#define CHECK_JOBS_DEFAULT 16
#define CHECK_JOBS_MAX 1024
#define CHECK_DOMAINS_MAX 1000000
#define CHECK_LINE_MAX 1024
#define CHECK_PROBLEMS_MAX 16
#define CHECK_TEXT_MAX ((size_t)2 << 20) /* one domain's trace */
#define CHECK_HELO_DEFAULT "localhost"

/* What a finished domain contributes to the exit status ("status"). */
enum check_verdict {
	CHECK_OK = 0,	  /* resolved, no problem */
	CHECK_INCOMPLETE, /* the MX lookup could not finish: retry */
	CHECK_PROBLEM,	  /* something would defer, bounce or fall back */
};

enum check_state {
	CHECK_QUEUED = 0,
	CHECK_PLANNING,	  /* plan_start() running */
	CHECK_PLANNED,	  /* plan ready; the full check connects here */
	CHECK_CONNECTING, /* deliver_start() and/or diag lookups running */
	CHECK_DONE,	  /* output rendered, waiting for its turn */
};

struct check_run;

struct check_job {
	struct check_run *run;
	const char *domain;
	const char *rcpt; /* "user@domain" to probe, or NULL */
	enum check_state state;
	struct plan *plan;
	struct deliver *dl;
	struct smtp_message probe;
	struct diag_dns *ddns; /* the diagnostics' extra lookups */
	size_t pending;	       /* deliver_start() and diag lookups running */
	char *out;
	enum check_verdict verdict;
};

struct check_run {
	struct dns_ctx *dns;
	struct dane_ctx *tls;
	struct plan_opts popts;
	struct deliver_opts dopts;
	enum policy_level level;
	const struct policy_table *table;
	bool json, dns_only, no_diag;
	int verbose;
	unsigned int rrsig_warn_days;
	struct check_job *jobs;
	size_t njobs, next_start, next_out, running, jmax;
	size_t nproblem, nincomplete;
};

struct check_problems {
	char text[CHECK_PROBLEMS_MAX][320];
	size_t n;
	size_t ndiag; /* the last ndiag come from error diagnostics */
	enum check_verdict verdict;
};

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
static void
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
static void
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
static void
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
static void
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

/* One address's session, as JSON members added to its object. */
static void
json_add_session(
    json_t *ao, const struct deliver_host *dh, const struct deliver_addr *a)
{
	const struct dane_info *ti = &a->tlsinfo;
	json_t *chain = json_array();
	size_t i;

	(void)json_object_set_new(ao, "result",
	    json_string(a->tried ? smtp_result_str(a->result) : "skipped"));
	(void)json_object_set_new(ao, "result_reason",
	    json_string(a->tried ? a->reason : dh->reason));
	(void)json_object_set_new(ao, "tls_mode",
	    a->tried
		? json_string(a->mode == SMTP_TLS_DANE	      ? "dane"
			  : a->mode == SMTP_TLS_REQUIRED      ? "tls-required"
			  : a->mode == SMTP_TLS_OPPORTUNISTIC ? "opportunistic"
							      : "none")
		: json_null());
	(void)json_object_set_new(
	    ao, "plaintext_retry", json_boolean(a->plaintext_retry));
	(void)json_object_set_new(ao, "tlsrpt_result",
	    a->tlsrpt_result ? json_string(a->tlsrpt_result) : json_null());
	(void)json_object_set_new(ao, "used", json_boolean(a->used));
	(void)json_object_set_new(ao, "matched",
	    a->tls && ti->matched[0] ? json_string(ti->matched) : json_null());
	(void)json_object_set_new(ao, "matched_depth",
	    a->tls && ti->matched[0] ? json_integer(ti->matched_depth)
				     : json_null());
	(void)json_object_set_new(
	    ao, "sni", a->tls ? json_string(ti->sni) : json_null());
	(void)json_object_set_new(
	    ao, "tls_version", a->tls ? json_string(ti->version) : json_null());
	(void)json_object_set_new(
	    ao, "cipher", a->tls ? json_string(ti->cipher) : json_null());
	(void)json_object_set_new(ao, "verify_error",
	    a->tls && !ti->verified ? json_string(ti->verify_error)
				    : json_null());
	for (i = 0; a->tls && i < ti->nchain; i++)
		(void)json_array_append_new(chain,
		    json_pack("{s:i,s:s,s:s,s:s,s:s}", "depth", (int)i,
			"subject", ti->chain[i].subject, "issuer",
			ti->chain[i].issuer, "spki_sha256",
			ti->chain[i].spki_sha256, "cert_sha256",
			ti->chain[i].cert_sha256));
	(void)json_object_set_new(ao, "chain", chain);
}

static void
json_add_delivery(json_t *o, const struct check_job *job)
{
	const struct deliver_result *r = deliver_result(job->dl);
	json_t *hosts = json_object_get(o, "hosts"), *dv, *rc = json_null();
	size_t i, j;

	for (i = 0; i < r->nhosts && i < json_array_size(hosts); i++) {
		json_t *addrs =
		    json_object_get(json_array_get(hosts, i), "addresses");

		for (j = 0;
		     j < r->hosts[i].naddrs && j < json_array_size(addrs); j++)
			json_add_session(json_array_get(addrs, j), &r->hosts[i],
			    &r->hosts[i].addrs[j]);
	}
	if (job->rcpt != NULL && r->nrcpts == 1)
		rc = json_pack("{s:s,s:s,s:i,s:s,s:s,s:s?}", "address",
		    job->rcpt, "outcome", smtp_outcome_str(r->rcpts[0].outcome),
		    "code", r->rcpts[0].code, "enhanced", r->rcpts[0].enhanced,
		    "text", r->rcpts[0].text, "via",
		    r->rcpts[0].via[0] ? r->rcpts[0].via : NULL);
	/* verdict and reason are top-level members (schema 2) */
	dv = json_pack("{s:s,s:s?,s:s?,s:o}", "policy",
	    policy_level_str(r->level), "warning",
	    r->warning[0] ? r->warning : NULL, "tlsrpt_result",
	    r->tlsrpt_result, "recipient", rc);
	(void)json_object_set_new(o, "delivery", dv);
}

static void
text_add_delivery(struct wbuf *wb, const struct check_job *job)
{
	const struct deliver_result *r = deliver_result(job->dl);
	const struct deliver_addr *a;
	size_t i, j;

	for (i = 0; i < r->nhosts; i++) {
		for (j = 0; j < r->hosts[i].naddrs; j++) {
			a = &r->hosts[i].addrs[j];
			(void)wbuf_printf(wb, "  %s[%s]:%u: %s",
			    r->hosts[i].host->name, a->address,
			    job->plan->opts.port ? job->plan->opts.port : 25,
			    a->tried ? smtp_result_str(a->result) : "skipped");
			if (a->tls)
				(void)wbuf_printf(wb, " (%s, %s%s%s)",
				    a->tlsinfo.version, a->tlsinfo.cipher,
				    a->tlsinfo.matched[0] ? ", matched " : "",
				    a->tlsinfo.matched);
			if (a->plaintext_retry)
				(void)wbuf_printf(wb, " after TLS failed: %s",
				    a->tls_failed_reason);
			if (!a->tried || !smtp_result_usable(a->result))
				(void)wbuf_printf(wb, ": %s",
				    a->tried ? a->reason : r->hosts[i].reason);
			(void)wbuf_addstr(wb, "\n");
		}
	}
	if (job->rcpt != NULL && r->nrcpts == 1)
		(void)wbuf_printf(wb, "  recipient %s: %s: %s\n", job->rcpt,
		    smtp_outcome_str(r->rcpts[0].outcome), r->rcpts[0].text);
	(void)wbuf_printf(wb, "%s: verdict %s (%s, policy %s)\n", job->domain,
	    deliver_verdict_str(r->verdict), r->reason,
	    policy_level_str(r->level));
}

static char *
render_json(const struct check_job *job, const struct check_problems *pr,
    const struct diag_list *dl)
{
	const struct plan *p = job->plan;
	const struct deliver_result *r;
	json_t *o = report_check_json(p), *a = json_array();
	static const char *const status[] = {"ok", "incomplete", "problem"};
	char *s, *line;
	size_t i;

	/* the delivery verdict of a DANE sender: full check only */
	if (job->dl != NULL) {
		r = deliver_result(job->dl);
		(void)json_object_set_new(
		    o, "verdict", json_string(deliver_verdict_str(r->verdict)));
		(void)json_object_set_new(o, "reason", json_string(r->reason));
	}
	(void)json_object_set_new(
	    o, "status", json_string(status[pr->verdict]));
	for (i = 0; i < pr->n; i++)
		(void)json_array_append_new(a, json_string(pr->text[i]));
	(void)json_object_set_new(o, "problems", a);
	(void)json_object_set_new(
	    o, "diagnostics", job->run->no_diag ? json_null() : diag_json(dl));
	if (job->dl != NULL)
		json_add_delivery(o, job);
	if (job->rcpt != NULL)
		(void)json_object_set_new(
		    o, "recipient", json_string(job->rcpt));
	s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	if (s == NULL)
		fatalx("check: cannot encode JSON");
	(void)xasprintf(&line, "%s\n", s);
	free(s);
	return line;
}

static char *
render_text(const struct check_job *job, const struct check_problems *pr,
    const struct diag_list *dl, bool verbose)
{
	struct wbuf wb;
	char *trace = report_plan_text(job->plan, verbose), *dt;
	size_t i;

	wbuf_init(&wb, CHECK_TEXT_MAX);
	(void)wbuf_addstr(&wb, trace);
	if (job->dl != NULL)
		text_add_delivery(&wb, job);
	/* the error diagnostics' problems are shown below, with a fix */
	for (i = 0; i + pr->ndiag < pr->n; i++)
		(void)wbuf_printf(&wb, "  %s: %s\n",
		    pr->verdict == CHECK_INCOMPLETE ? "incomplete" : "problem",
		    pr->text[i]);
	if (dl->n > 0) {
		dt = diag_text(dl);
		(void)wbuf_printf(&wb, "%s: problems:\n%s", job->domain, dt);
		free(dt);
	}
	free(trace);
	return wbuf_steal(&wb);
}

static void check_start_more(struct check_run *run);

/* Print every finished job whose predecessors are printed. */
static void
check_flush(struct check_run *run)
{
	struct check_job *job;

	while (run->next_out < run->njobs) {
		job = &run->jobs[run->next_out];
		if (job->state != CHECK_DONE)
			break;
		(void)fputs(job->out, stdout);
		(void)fflush(stdout);
		free(job->out);
		job->out = NULL;
		run->next_out++;
	}
}

static void
check_job_finish(struct check_job *job)
{
	struct check_run *run = job->run;
	struct check_problems pr;
	struct diag_list *dl = xcalloc(1, sizeof(*dl));

	check_judge(job->plan, &pr);
	if (!run->no_diag)
		check_diagnose(job, dl);
	if (job->dl != NULL && pr.verdict != CHECK_INCOMPLETE)
		check_judge_delivery(deliver_result(job->dl), &pr);
	if (pr.verdict != CHECK_INCOMPLETE)
		check_judge_diag(dl, &pr);
	job->verdict = pr.verdict;
	if (pr.verdict == CHECK_PROBLEM)
		run->nproblem++;
	else if (pr.verdict == CHECK_INCOMPLETE)
		run->nincomplete++;
	job->out = run->json ? render_json(job, &pr, dl)
			     : render_text(job, &pr, dl, run->verbose > 0);
	free(dl);
	free(job->ddns);
	job->ddns = NULL;
	deliver_free(job->dl);
	job->dl = NULL;
	plan_free(job->plan);
	job->plan = NULL;
	job->state = CHECK_DONE;
	run->running--;
	check_flush(run);
	check_start_more(run);
}

/* One of the job's concurrent steps ended; the last one finishes it. */
static void
check_job_step_done(struct check_job *job)
{
	if (--job->pending == 0)
		check_job_finish(job);
}

static void
check_job_connected(struct deliver *dl, void *arg)
{
	(void)dl;
	check_job_step_done(arg);
}

static void
check_job_looked_up(void *arg)
{
	check_job_step_done(arg);
}

/*
 * The plan is ready.  The diagnostics' extra lookups start; --dns-only
 * stops there, the full check also runs the delivery walk as a dry run (or
 * a recipient probe) at every address.
 */
static void
check_job_planned(struct plan *p, void *arg)
{
	struct check_job *job = arg;
	struct check_run *run = job->run;
	struct deliver_opts o = run->dopts;
	int r;

	job->plan = p;
	job->state = CHECK_PLANNED;
	job->ddns = xcalloc(1, sizeof(*job->ddns));
	job->pending = 1; /* this function, until its end */
	if (!run->no_diag &&
	    diag_lookup_start(
		run->dns, p, job->ddns, check_job_looked_up, job) == 0)
		job->pending++;
	if (run->dns_only) {
		check_job_step_done(job);
		return;
	}
	o.level = policy_lookup(run->table, p->domain, run->level);
	o.probe_all = true;
	job->probe.from = "";
	job->probe.rcpts = &job->rcpt;
	job->probe.nrcpts = 1;
	job->state = CHECK_CONNECTING;
	r = deliver_start(dns_ctx_base(run->dns), run->tls, p, &o,
	    job->rcpt != NULL ? &job->probe : NULL, check_job_connected, job,
	    &job->dl);
	if (r < 0)
		fatalx("check: %s: deliver_start: %s", job->domain, err_str(r));
	job->pending++;
	check_job_step_done(job);
}

static void
check_start_more(struct check_run *run)
{
	struct check_job *job;

	while (run->running < run->jmax && run->next_start < run->njobs) {
		job = &run->jobs[run->next_start++];
		job->run = run;
		job->state = CHECK_PLANNING;
		run->running++;
		/* Names were checked before the loop started. */
		if (plan_start(run->dns, job->domain, &run->popts,
			check_job_planned, job) < 0)
			fatalx("check: %s: invalid domain", job->domain);
	}
}

/* ---- input ---- */

struct domain_list {
	char **v;
	size_t n, cap;
};

static void
domains_add(struct domain_list *d, const char *s)
{
	if (d->n == d->cap) {
		d->cap = d->cap == 0 ? 64 : 2 * d->cap;
		d->v = xreallocarray(d->v, d->cap, sizeof(*d->v));
	}
	d->v[d->n++] = xstrdup(s);
}

static void
domains_free(struct domain_list *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->v[i]);
	free(d->v);
}

/* "user@domain": the domain part, else s itself. */
static const char *
arg_domain(const char *s)
{
	const char *at = strrchr(s, '@');

	return at != NULL ? at + 1 : s;
}

static int
check_domain_arg(const char *where, const char *s)
{
	char name[PLAN_NAME_MAX], clean[80];
	const char *why = "bad recipient address", *at = strrchr(s, '@');
	size_t i;
	int literal;

	for (i = 0; at != NULL && s + i < at; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f ||
		    strchr("<>()\\,;", s[i]) != NULL)
			break;
	if ((at == NULL ||
		(at > s && s + i == at && strlen(s) < SMTP_ADDR_MAX)) &&
	    plan_domain_parse(
		arg_domain(s), name, sizeof(name), &literal, &why) == 0)
		return 0;
	(void)log_sanitise(clean, sizeof(clean), s, strlen(s));
	(void)fprintf(stderr, "danemta check: %sinvalid domain \"%s%s\": %s\n",
	    where, clean, strlen(s) >= sizeof(clean) ? "..." : "", why);
	return -1;
}

/* One domain per line; blank lines and '#' comments skipped. */
static int
read_domains(const char *path, struct domain_list *d)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char *line = NULL, where[64];
	size_t cap = 0, lineno = 0, before = d->n;
	ssize_t len;
	int r = EX_OK;

	if (f == NULL) {
		(void)fprintf(
		    stderr, "danemta check: %s: %s\n", path, strerror(errno));
		return EX_NOINPUT;
	}
	while ((len = getline(&line, &cap, f)) != -1) {
		lineno++;
		while (len > 0 && strchr(" \t\r\n", line[len - 1]) != NULL)
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		(void)snprintf(where, sizeof(where),
		    "%s:%zu: ", f == stdin ? "stdin" : "line", lineno);
		if ((size_t)len != strlen(line) || len > CHECK_LINE_MAX ||
		    check_domain_arg(where, line) < 0) {
			if ((size_t)len != strlen(line) || len > CHECK_LINE_MAX)
				(void)fprintf(stderr,
				    "danemta check: %s"
				    "invalid domain line\n",
				    where);
			r = EX_USAGE;
			break;
		}
		if (d->n >= CHECK_DOMAINS_MAX) {
			(void)fprintf(stderr,
			    "danemta check: over %d domains\n",
			    CHECK_DOMAINS_MAX);
			r = EX_USAGE;
			break;
		}
		domains_add(d, line);
	}
	if (r == EX_OK && ferror(f)) {
		(void)fprintf(stderr, "danemta check: %s: read error\n", path);
		r = EX_IOERR;
	}
	if (r == EX_OK && d->n == before) {
		(void)fprintf(stderr, "danemta check: %s: no domains\n",
		    f == stdin ? "stdin" : path);
		r = EX_USAGE;
	}
	free(line);
	if (f != stdin)
		(void)fclose(f);
	return r;
}

/* ---- the command ---- */

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "usage: danemta check [--dns-only] [-v] [-j N] [--json] "
	    "[--port N]\n"
	    "           [--dane-insecure-mx] [--no-diagnostics] "
	    "[--rrsig-warn-days N]\n"
	    "           [delivery options] [resolver options]\n"
	    "           [-f FILE|-] [DOMAIN|USER@DOMAIN...]\n"
	    "  --dns-only          resolve and judge DNS only (no connection)\n"
	    "  --policy LEVEL      dane-only, dane (default), encrypt, may, "
	    "none\n"
	    "  --policy-file FILE  per-domain levels: 'domain level' per line\n"
	    "  --helo NAME         our EHLO name (default " CHECK_HELO_DEFAULT
	    ")\n"
	    "  --timeout SECONDS   every SMTP timeout (default 30)\n"
	    "  --dane-audit        DANE failures do not stop the session\n"
	    "  --no-plaintext-retry  no cleartext retry after a failed "
	    "handshake\n"
	    "  -j N                domains checked at once (default %d)\n"
	    "  --json              one JSON object per domain per line\n"
	    "  --port N            SMTP port: TLSA at _N._tcp (default 25)\n"
	    "  --no-diagnostics    no domain-owner diagnostics (and none of "
	    "their lookups)\n"
	    "  --rrsig-warn-days N flag TLSA signatures expiring within N "
	    "days (default %d)\n"
	    "  --dane-insecure-mx  use DANE on hosts of an insecure MX RRset\n"
	    "  -f FILE             read domains from FILE, one a line "
	    "('-': stdin)\n"
	    "  -v                  full TLSA data; twice: resolver debug "
	    "log\n" RESOLVER_OPTS_USAGE
	    "exit: 0 no problem, 1 a problem found, 64 usage, 69 resolver\n"
	    "unavailable, 75 a lookup could not finish (see "
	    "danemta-check(1))\n",
	    CHECK_JOBS_DEFAULT, DIAG_RRSIG_WARN_DAYS);
}

struct check_args {
	struct dns_config dns;
	struct plan_opts popts;
	struct deliver_opts dopts;
	enum policy_level level;
	bool json, dns_only, no_diag;
	int verbose;
	unsigned int rrsig_warn_days;
	size_t jobs;
	const char *file, *policy_file;
};

enum {
	OPT_DNS_ONLY = 0x2000,
	OPT_JSON,
	OPT_PORT,
	OPT_DANE_INSECURE_MX,
	OPT_POLICY,
	OPT_POLICY_FILE,
	OPT_HELO,
	OPT_TIMEOUT,
	OPT_AUDIT,
	OPT_NO_PLAIN,
	OPT_RRSIG_WARN,
	OPT_NO_DIAG,
};

static int
parse_args(int argc, char **argv, struct check_args *a)
{
	static const struct option opts[] = {
	    {"dns-only", no_argument, NULL, OPT_DNS_ONLY},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"port", required_argument, NULL, OPT_PORT},
	    {"dane-insecure-mx", no_argument, NULL, OPT_DANE_INSECURE_MX},
	    {"policy", required_argument, NULL, OPT_POLICY},
	    {"policy-file", required_argument, NULL, OPT_POLICY_FILE},
	    {"helo", required_argument, NULL, OPT_HELO},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"dane-audit", no_argument, NULL, OPT_AUDIT},
	    {"no-plaintext-retry", no_argument, NULL, OPT_NO_PLAIN},
	    {"rrsig-warn-days", required_argument, NULL, OPT_RRSIG_WARN},
	    {"no-diagnostics", no_argument, NULL, OPT_NO_DIAG},
	    {"help", no_argument, NULL, 'h'},
	    RESOLVER_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	const char *errstr = NULL;
	int ch, r;

	memset(a, 0, sizeof(*a));
	a->jobs = CHECK_JOBS_DEFAULT;
	a->level = POLICY_DANE;
	deliver_opts_default(&a->dopts);
	a->dopts.helo_name = CHECK_HELO_DEFAULT;
	/* A check waits less than a sender: 30 s per step. */
	smtp_timeouts_all(&a->dopts.timeouts, 30 * 1000);
	optind = 0; /* glibc: a full reset, in case getopt ran before */
	while ((ch = getopt_long(argc, argv, "j:f:vh", opts, NULL)) != -1) {
		if ((r = resolver_opt(ch, optarg, &a->dns)) != 0) {
			if (r < 0)
				return EX_USAGE;
			continue;
		}
		switch (ch) {
		case OPT_DNS_ONLY:
			a->dns_only = true;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_PORT:
			a->popts.port =
			    (uint16_t)strtonum(optarg, 1, 65535, &errstr);
			break;
		case OPT_DANE_INSECURE_MX:
			a->popts.dane_insecure_mx = true;
			break;
		case OPT_POLICY:
			if (policy_level_parse(optarg, &a->level) < 0)
				errstr = "unknown level (dane-only, dane, "
					 "encrypt, may, none)";
			break;
		case OPT_POLICY_FILE:
			a->policy_file = optarg;
			break;
		case OPT_HELO:
			a->dopts.helo_name = optarg;
			break;
		case OPT_TIMEOUT:
			smtp_timeouts_all(&a->dopts.timeouts,
			    (unsigned int)strtonum(optarg, 1, 3600, &errstr) *
				1000);
			break;
		case OPT_AUDIT:
			a->dopts.audit = true;
			break;
		case OPT_NO_PLAIN:
			a->dopts.no_plaintext_retry = true;
			break;
		case OPT_NO_DIAG:
			a->no_diag = true;
			break;
		case OPT_RRSIG_WARN:
			a->rrsig_warn_days = (unsigned int)strtonum(
			    optarg, 1, DIAG_RRSIG_WARN_DAYS_MAX, &errstr);
			break;
		case 'j':
			a->jobs = (size_t)strtonum(
			    optarg, 1, CHECK_JOBS_MAX, &errstr);
			break;
		case 'f':
			a->file = optarg;
			break;
		case 'v':
			a->verbose++;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			usage(stderr);
			return EX_USAGE;
		}
		if (errstr != NULL) {
			(void)fprintf(
			    stderr, "danemta check: %s: %s\n", optarg, errstr);
			return EX_USAGE;
		}
	}
	return EX_OK;
}

static int
collect_domains(
    int argc, char **argv, const struct check_args *a, struct domain_list *d)
{
	int i, r;

	for (i = optind; i < argc; i++) {
		if (check_domain_arg("", argv[i]) < 0)
			return EX_USAGE;
		domains_add(d, argv[i]);
	}
	if (a->file != NULL && (r = read_domains(a->file, d)) != EX_OK)
		return r;
	if (d->n == 0) {
		(void)fprintf(stderr, "danemta check: no domain given\n");
		usage(stderr);
		return EX_USAGE;
	}
	return EX_OK;
}

static int
run_checks(const struct check_args *a, struct domain_list *d,
    const struct policy_table *table)
{
	struct check_run run;
	struct event_base *base;
	char *errmsg = NULL;
	size_t i;
	int r;

	memset(&run, 0, sizeof(run));
	run.dns_only = a->dns_only;
	run.dopts = a->dopts;
	run.level = a->level;
	run.table = table;
	if (!a->dns_only && (r = dane_ctx_new(&run.tls)) < 0) {
		(void)fprintf(stderr, "danemta check: TLS: %s\n", err_str(r));
		return EX_SOFTWARE;
	}
	if ((base = event_base_new()) == NULL)
		fatalx("check: cannot create the event loop");
	if ((run.dns = dns_ctx_new(base, &a->dns, &errmsg)) == NULL) {
		(void)fprintf(stderr, "danemta check: %s\n", errmsg);
		free(errmsg);
		event_base_free(base);
		return EX_UNAVAILABLE;
	}
	run.popts = a->popts;
	run.json = a->json;
	run.verbose = a->verbose;
	run.rrsig_warn_days = a->rrsig_warn_days;
	run.no_diag = a->no_diag;
	run.jmax = a->jobs;
	run.njobs = d->n;
	run.jobs = xcalloc(d->n, sizeof(*run.jobs));
	for (i = 0; i < d->n; i++) {
		run.jobs[i].domain = arg_domain(d->v[i]);
		if (run.jobs[i].domain != d->v[i])
			run.jobs[i].rcpt = d->v[i];
	}
	check_start_more(&run);
	(void)event_base_dispatch(base);
	if (run.next_out != run.njobs)
		fatalx("check: event loop ended with %zu domains unfinished",
		    run.njobs - run.next_out);
	dns_ctx_free(run.dns);
	dane_ctx_free(run.tls);
	event_base_free(base);
	free(run.jobs);
	if (run.nproblem > 0)
		return 1;
	return run.nincomplete > 0 ? EX_TEMPFAIL : EX_OK;
}

int
cmd_check(int argc, char **argv)
{
	struct check_args a;
	struct domain_list d = {NULL, 0, 0};
	struct policy_table *table = NULL;
	char err[POLICY_ERROR_MAX];
	int r;

	if ((r = parse_args(argc, argv, &a)) != EX_OK)
		return r < 0 ? EX_OK : r;
	if (a.verbose > 1)
		log_set_level(LOG_LEVEL_DEBUG);
	else if (a.verbose > 0)
		log_set_level(LOG_LEVEL_INFO);
	else if (!a.dns_only)
		/* The report says it all; -v shows the log. */
		log_set_level(LOG_LEVEL_ERR);
	if (a.policy_file != NULL &&
	    policy_table_load(a.policy_file, &table, err, sizeof(err)) < 0) {
		(void)fprintf(
		    stderr, "danemta check: %s: %s\n", a.policy_file, err);
		return EX_CONFIG;
	}
	if ((r = collect_domains(argc, argv, &a, &d)) == EX_OK)
		r = run_checks(&a, &d, table);
	domains_free(&d);
	policy_table_free(table);
	return r;
}
