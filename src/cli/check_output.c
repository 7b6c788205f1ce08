/*
 * danemta check: the report of one checked domain (check.h), as a text
 * trace or as one JSON object a line (the schema in docs/), with each
 * session of the full check and the verdict of a DANE sender.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "danemta/buf.h"
#include "danemta/log.h"
#include "danemta/report.h"
#include "danemta/util.h"
#include "check.h"

/* One address's session, as JSON members added to its object. */
static void
json_add_session(
    json_t *ao, const struct deliver_host *dh, const struct deliver_addr *a)
{
	const struct dane_info *ti = &a->tlsinfo;
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
	(void)json_object_set_new(
	    ao, "chain", a->tls ? report_chain_json(ti) : json_array());
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

char *
check_output_json(const struct check_job *job, const struct check_problems *pr,
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

char *
check_output_text(const struct check_job *job, const struct check_problems *pr,
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
