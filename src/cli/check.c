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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "danemta/deliver.h"
#include "danemta/diag.h"
#include "danemta/dns.h"
#include "danemta/log.h"
#include "danemta/plan.h"
#include "danemta/policy.h"
#include "danemta/util.h"
#include "danemta/err.h"
#include "cli.h"
#include "cli_util.h"
#include "resolver_opts.h"
#include "check.h"

#define CHECK_JOBS_DEFAULT 16
#define CHECK_JOBS_MAX 1024
#define CHECK_DOMAINS_MAX 1000000
#define CHECK_LINE_MAX 1024

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
	job->out = run->json
	    ? check_output_json(job, &pr, dl)
	    : check_output_text(job, &pr, dl, run->verbose > 0);
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
	    "  --helo NAME         our EHLO name (default: this host's "
	    "name if fully\n"
	    "                      qualified, else localhost)\n"
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
	struct delivery_args d;
	bool json, dns_only, no_diag;
	int verbose;
	unsigned int rrsig_warn_days;
	size_t jobs;
	const char *file;
};

enum {
	OPT_DNS_ONLY = 0x2000,
	OPT_JSON,
	OPT_RRSIG_WARN,
	OPT_NO_DIAG,
};

static int
parse_args(int argc, char **argv, struct check_args *a)
{
	static const struct option opts[] = {
	    {"dns-only", no_argument, NULL, OPT_DNS_ONLY},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"port", required_argument, NULL, DELIVERY_OPT_PORT},
	    {"dane-insecure-mx", no_argument, NULL, DELIVERY_OPT_INSECURE_MX},
	    {"policy", required_argument, NULL, DELIVERY_OPT_POLICY},
	    {"policy-file", required_argument, NULL, DELIVERY_OPT_POLICY_FILE},
	    {"helo", required_argument, NULL, DELIVERY_OPT_HELO},
	    {"timeout", required_argument, NULL, DELIVERY_OPT_TIMEOUT},
	    {"dane-audit", no_argument, NULL, DELIVERY_OPT_AUDIT},
	    {"no-plaintext-retry", no_argument, NULL, DELIVERY_OPT_NO_PLAIN},
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
	delivery_args_init(&a->d, cli_helo_default());
	/* A check waits less than a sender: 30 s per step. */
	smtp_timeouts_all(&a->d.dopts.timeouts, 30 * 1000);
	optind = 0; /* glibc: a full reset, in case getopt ran before */
	while ((ch = getopt_long(argc, argv, "j:f:vh", opts, NULL)) != -1) {
		if ((r = resolver_opt(ch, optarg, &a->dns)) != 0) {
			if (r < 0)
				return EX_USAGE;
			continue;
		}
		if (delivery_opt(ch, optarg, &a->d, &errstr) != 0)
			goto next;
		switch (ch) {
		case OPT_DNS_ONLY:
			a->dns_only = true;
			break;
		case OPT_JSON:
			a->json = true;
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
	next:
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
	size_t i;
	int r;

	memset(&run, 0, sizeof(run));
	run.dns_only = a->dns_only;
	run.dopts = a->d.dopts;
	run.level = a->d.level;
	run.table = table;
	if (!a->dns_only && (r = dane_ctx_new(&run.tls)) < 0) {
		(void)fprintf(stderr, "danemta check: TLS: %s\n", err_str(r));
		return EX_SOFTWARE;
	}
	if (cli_loop_open("check", &a->dns, &base, &run.dns) < 0) {
		dane_ctx_free(run.tls);
		return EX_UNAVAILABLE;
	}
	run.popts = a->d.popts;
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
	cli_loop_free(base, run.dns, run.tls);
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
	int r;

	if ((r = parse_args(argc, argv, &a)) != EX_OK)
		return r < 0 ? EX_OK : r;
	if (!cli_log_verbose(a.verbose) && !a.dns_only)
		/* The report says it all; -v shows the log. */
		log_set_level(LOG_LEVEL_ERR);
	if ((r = cli_policy_load("check", a.d.policy_file, &table)) != EX_OK)
		return r;
	if ((r = collect_domains(argc, argv, &a, &d)) == EX_OK)
		r = run_checks(&a, &d, table);
	domains_free(&d);
	policy_table_free(table);
	return r;
}
