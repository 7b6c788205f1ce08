/*
 * What the files of `danemta check` share (private to the CLI): a job per
 * domain, the run, the problems list; check_judge.c judges a finished job
 * (plan, sessions, diagnostics), check_output.c renders it as text or JSON.
 */
#ifndef DANEMTA_CLI_CHECK_H
#define DANEMTA_CLI_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "danemta/deliver.h"
#include "danemta/diag.h"
#include "danemta/dns.h"
#include "danemta/plan.h"
#include "danemta/policy.h"

#define CHECK_PROBLEMS_MAX 16
#define CHECK_TEXT_MAX ((size_t)2 << 20) /* one domain's trace */

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

/* Judge a plan for the exit status and the "problems" list (clears pr). */
void check_judge(const struct plan *p, struct check_problems *pr);
/* The full check: failed sessions, the verdict, a downgrade. */
void check_judge_delivery(
    const struct deliver_result *r, struct check_problems *pr);
/* An error diagnostic makes the check's status "problem". */
void check_judge_diag(const struct diag_list *dl, struct check_problems *pr);
/* The domain owner's diagnostics: DNS only, or with the sessions. */
void check_diagnose(const struct check_job *job, struct diag_list *dl);

/*
 * A finished job's report: one JSON line, or the text trace.  Returns a
 * new string the caller frees.
 */
char *check_output_json(const struct check_job *job,
    const struct check_problems *pr, const struct diag_list *dl);
char *check_output_text(const struct check_job *job,
    const struct check_problems *pr, const struct diag_list *dl, bool verbose);

#endif
