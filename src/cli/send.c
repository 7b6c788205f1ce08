/*
 * danemta send: deliver RFC 5322 messages (one per FILE, all to the same
 * recipients) straight to the recipients' MX hosts, recipients grouped by
 * domain, domains in parallel on one event loop, each domain through the
 * one delivery path of deliver.c under its policy level (RFC 7672
 * opportunistic DANE by default); the messages share each session, up to
 * DELIVER_MSGS_MAX per connection.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <jansson.h>

#include "danemta/deliver.h"
#include "danemta/dns.h"
#include "danemta/log.h"
#include "danemta/plan.h"
#include "danemta/policy.h"
#include "danemta/util.h"
#include "danemta/err.h"
#include "cli.h"
#include "cli_util.h"
#include "resolver_opts.h"

#define SEND_MESSAGE_MAX ((size_t)35 << 20) /* 35 MB read from the input */
#define SEND_RCPTS_MAX 1000		    /* recipients per run */
#define SEND_MSGS_MAX 10000		    /* input files per run */
#define SEND_READ_CHUNK ((size_t)64 << 10)
#define PATH_MAX_SHOWN 1024 /* a file name in a report line */

struct send_domain;

struct send_rcpt {
	const char *addr;
	struct send_domain *dom;
	struct deliver_rcpt *out;	/* one per message */
	enum deliver_verdict *security; /* of the session each went over */
};

/* One input file: one message. */
struct send_msg {
	const char *path;
	uint8_t *data;
	size_t len;
};

struct send_domain {
	struct send_run *run;
	char name[PLAN_NAME_MAX];
	const char *rcpts[SEND_RCPTS_MAX];
	size_t idx[SEND_RCPTS_MAX], nrcpts;
	enum policy_level level;
	struct smtp_message msgs[DELIVER_MSGS_MAX];
	size_t first, nbatch; /* the messages of the running attempt */
	struct plan *plan;
	struct deliver *dl;
	enum deliver_verdict verdict;
	char reason[DELIVER_REASON_MAX];
	char warning[512];
	bool done;
};

struct send_run {
	struct dns_ctx *dns;
	struct dane_ctx *tls;
	struct deliver_opts dopts;
	struct plan_opts popts;
	struct send_rcpt rcpts[SEND_RCPTS_MAX];
	size_t nrcpts;
	struct send_domain *doms;
	size_t ndoms, running;
	struct send_msg *msgs;
	size_t nmsgs;
	const char *from;
};

struct send_args {
	struct dns_config dns;
	struct delivery_args d;
	const char *from;
	const char *const *inputs;
	size_t ninputs;
	const char *to[SEND_RCPTS_MAX];
	size_t nto;
	bool json;
	int verbose;
};

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "usage: danemta send --from ADDR --to ADDR... [options] "
	    "[FILE|-]...\n"
	    "  FILE                 one message; several share connections\n"
	    "  --from ADDR          envelope sender ('' for the null "
	    "sender)\n"
	    "  --to ADDR            a recipient (repeatable)\n"
	    "  --policy LEVEL       dane-only, dane (default), encrypt, may, "
	    "none\n"
	    "  --policy-file FILE   per-domain levels: 'domain level' per "
	    "line\n"
	    "  --port N             SMTP port: TLSA at _N._tcp (default 25)\n"
	    "  --helo NAME          our EHLO name (default %s)\n"
	    "  --timeout SECONDS    every SMTP timeout (default: RFC 5321)\n"
	    "  --dane-insecure-mx   use DANE on hosts of an insecure MX RRset\n"
	    "  --dane-audit         log DANE failures, deliver anyway over "
	    "TLS\n"
	    "  --no-plaintext-retry no cleartext retry after a failed "
	    "opportunistic handshake\n"
	    "  --json               the outcomes as JSON on stdout\n"
	    "  -v                   log every decision; twice: the SMTP "
	    "dialogue\n" RESOLVER_OPTS_USAGE
	    "exit: 0 all accepted, 75 some deferred, 69 some refused for "
	    "good,\n64 usage, 66 no input (see danemta-send(1))\n",
	    cli_helo_default());
}

enum {
	OPT_FROM = 0x2100,
	OPT_TO,
	OPT_JSON,
};

/* An envelope address: printable, no blanks or brackets, one '@'. */
static int
addr_check(const char *s, bool null_ok)
{
	const char *at = strrchr(s, '@');
	size_t i, n = strlen(s);

	if (n == 0)
		return null_ok ? 0 : -1;
	if (n >= SMTP_ADDR_MAX || at == NULL || at == s || at[1] == '\0')
		return -1;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f ||
		    strchr("<>()\\,;", s[i]) != NULL)
			return -1;
	return 0;
}

/* One option of send's own, or a delivery option (cli_util.h). */
static int
parse_opt(int ch, char *arg, struct send_args *a)
{
	const char *errstr = NULL;
	int r;

	if ((r = delivery_opt(ch, arg, &a->d, &errstr)) < 0 &&
	    ch == DELIVERY_OPT_POLICY) {
		(void)fprintf(
		    stderr, "danemta send: --policy %s: unknown level\n", arg);
		return -1;
	}
	if (r == 0) {
		switch (ch) {
		case OPT_FROM:
			a->from = arg;
			break;
		case OPT_TO:
			if (a->nto >= SEND_RCPTS_MAX) {
				(void)fprintf(stderr,
				    "danemta send: over %d --to\n",
				    SEND_RCPTS_MAX);
				return -1;
			}
			a->to[a->nto++] = arg;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case 'v':
			a->verbose++;
			break;
		default:
			return -1;
		}
	}
	if (errstr != NULL) {
		(void)fprintf(stderr, "danemta send: %s: %s\n", arg, errstr);
		return -1;
	}
	return 0;
}

/* The FILEs: none is the standard input; "-" at most once. */
static int
input_args(int argc, char **argv, struct send_args *a)
{
	static const char *const stdin_only[] = {"-"};
	size_t i, nstdin = 0;

	if (optind >= argc) {
		a->inputs = stdin_only;
		a->ninputs = 1;
		return 0;
	}
	a->inputs = (const char *const *)&argv[optind];
	a->ninputs = (size_t)(argc - optind);
	if (a->ninputs > SEND_MSGS_MAX) {
		(void)fprintf(stderr, "danemta send: over %d input files\n",
		    SEND_MSGS_MAX);
		return -1;
	}
	for (i = 0; i < a->ninputs; i++)
		if (strcmp(a->inputs[i], "-") == 0)
			nstdin++;
	if (nstdin > 1) {
		(void)fprintf(stderr,
		    "danemta send: the standard input ('-') once at most\n");
		return -1;
	}
	return 0;
}

static int
parse_args(int argc, char **argv, struct send_args *a)
{
	static const struct option opts[] = {
	    {"from", required_argument, NULL, OPT_FROM},
	    {"to", required_argument, NULL, OPT_TO},
	    {"policy", required_argument, NULL, DELIVERY_OPT_POLICY},
	    {"policy-file", required_argument, NULL, DELIVERY_OPT_POLICY_FILE},
	    {"port", required_argument, NULL, DELIVERY_OPT_PORT},
	    {"helo", required_argument, NULL, DELIVERY_OPT_HELO},
	    {"timeout", required_argument, NULL, DELIVERY_OPT_TIMEOUT},
	    {"dane-insecure-mx", no_argument, NULL, DELIVERY_OPT_INSECURE_MX},
	    {"dane-audit", no_argument, NULL, DELIVERY_OPT_AUDIT},
	    {"no-plaintext-retry", no_argument, NULL, DELIVERY_OPT_NO_PLAIN},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    RESOLVER_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	size_t i;
	int ch, r;

	memset(a, 0, sizeof(*a));
	delivery_args_init(&a->d, cli_helo_default());
	optind = 0;
	while ((ch = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		if ((r = resolver_opt(ch, optarg, &a->dns)) != 0) {
			if (r < 0)
				return EX_USAGE;
			continue;
		}
		if (ch == 'h') {
			usage(stdout);
			return -1;
		}
		if (parse_opt(ch, optarg, a) < 0) {
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (a->from == NULL || a->nto == 0) {
		(void)fprintf(
		    stderr, "danemta send: --from and --to are required\n");
		usage(stderr);
		return EX_USAGE;
	}
	if (input_args(argc, argv, a) < 0)
		return EX_USAGE;
	if (addr_check(a->from, true) < 0) {
		(void)fprintf(stderr,
		    "danemta send: --from %s: not an address\n", a->from);
		return EX_USAGE;
	}
	for (i = 0; i < a->nto; i++) {
		if (addr_check(a->to[i], false) < 0) {
			(void)fprintf(stderr,
			    "danemta send: --to %s: not an address\n",
			    a->to[i]);
			return EX_USAGE;
		}
	}
	return EX_OK;
}

/* Up to max bytes of f into a buffer that grows as the input comes. */
static uint8_t *
read_all(FILE *f, size_t max, size_t *len)
{
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0, got;

	do {
		if (n == cap) {
			cap = cap == 0 ? SEND_READ_CHUNK : cap * 2;
			if (cap > max)
				cap = max;
			buf = xreallocarray(buf, cap, 1);
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0 && n < max);
	*len = n;
	return buf;
}

/* Read a whole message before connecting anywhere. */
static int
read_message(const char *path, uint8_t **data, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	uint8_t *buf;
	size_t n;
	int r = EX_OK;

	*data = NULL;
	*len = 0;
	if (f == NULL) {
		(void)fprintf(
		    stderr, "danemta send: %s: %s\n", path, strerror(errno));
		return EX_NOINPUT;
	}
	buf = read_all(f, SEND_MESSAGE_MAX + 1, &n);
	if (ferror(f)) {
		(void)fprintf(stderr, "danemta send: %s: read error\n", path);
		r = EX_IOERR;
	} else if (n > SEND_MESSAGE_MAX) {
		(void)fprintf(stderr,
		    "danemta send: %s: message over %zu bytes\n", path,
		    SEND_MESSAGE_MAX);
		r = EX_DATAERR;
	} else if (n == 0) {
		(void)fprintf(
		    stderr, "danemta send: %s: empty message\n", path);
		r = EX_DATAERR;
	}
	if (f != stdin)
		(void)fclose(f);
	if (r != EX_OK) {
		free(buf);
		return r;
	}
	*data = buf;
	*len = n;
	return EX_OK;
}

/*
 * Every FILE, read whole before connecting anywhere, and room for each
 * recipient's outcome per message.
 */
static int
read_messages(struct send_run *run, const struct send_args *a)
{
	size_t i;
	int r;

	run->msgs = xcalloc(a->ninputs, sizeof(*run->msgs));
	for (i = 0; i < a->ninputs; i++) {
		run->msgs[i].path = a->inputs[i];
		r = read_message(
		    a->inputs[i], &run->msgs[i].data, &run->msgs[i].len);
		run->nmsgs = i + 1;
		if (r != EX_OK)
			return r;
	}
	for (i = 0; i < run->nrcpts; i++) {
		run->rcpts[i].out =
		    xcalloc(run->nmsgs, sizeof(*run->rcpts[i].out));
		run->rcpts[i].security =
		    xcalloc(run->nmsgs, sizeof(*run->rcpts[i].security));
	}
	return EX_OK;
}

/* Group the recipients by domain (compared without case). */
static int
group_rcpts(struct send_run *run, const struct send_args *a,
    const struct policy_table *table)
{
	struct send_domain *d;
	const char *why, *dom;
	char name[PLAN_NAME_MAX];
	size_t i, j;
	int literal;

	run->doms = xcalloc(a->nto, sizeof(*run->doms));
	for (i = 0; i < a->nto; i++) {
		dom = strrchr(a->to[i], '@') + 1;
		if (plan_domain_parse(dom, name, sizeof(name), &literal, &why) <
		    0) {
			(void)fprintf(stderr, "danemta send: --to %s: %s\n",
			    a->to[i], why);
			return EX_USAGE;
		}
		if (literal)
			(void)strlcpy(name, dom, sizeof(name));
		for (j = 0; j < run->ndoms; j++)
			if (strcasecmp(run->doms[j].name, name) == 0)
				break;
		d = &run->doms[j];
		if (j == run->ndoms) {
			run->ndoms++;
			d->run = run;
			(void)strlcpy(d->name, name, sizeof(d->name));
			d->level = policy_lookup(table, name, a->d.level);
		}
		run->rcpts[i].addr = a->to[i];
		run->rcpts[i].dom = d;
		d->idx[d->nrcpts] = i;
		d->rcpts[d->nrcpts++] = a->to[i];
	}
	run->nrcpts = a->nto;
	return EX_OK;
}

static void domain_batch(struct send_domain *d);

/* The domain's verdict: the first attempt's, or a later failure's. */
static void
domain_verdict(struct send_domain *d, const struct deliver_result *res)
{
	bool failed =
	    d->verdict == DELIVER_DEFER || d->verdict == DELIVER_BOUNCE;

	if (d->first == 0 ||
	    (!failed &&
		(res->verdict == DELIVER_DEFER ||
		    res->verdict == DELIVER_BOUNCE))) {
		d->verdict = res->verdict;
		(void)strlcpy(d->reason, res->reason, sizeof(d->reason));
	}
	if (d->warning[0] == '\0')
		(void)strlcpy(d->warning, res->warning, sizeof(d->warning));
}

static void
domain_delivered(struct deliver *dl, void *arg)
{
	struct send_domain *d = arg;
	const struct deliver_result *res = deliver_result(dl);
	struct send_rcpt *sr;
	size_t i, k, m;

	domain_verdict(d, res);
	for (k = 0; k < d->nbatch && k < res->nmsgs; k++) {
		m = d->first + k;
		for (i = 0; i < d->nrcpts && i < res->msgs[k].nrcpts; i++) {
			sr = &d->run->rcpts[d->idx[i]];
			sr->out[m] = res->msgs[k].rcpts[i];
			sr->security[m] = res->verdict;
		}
	}
	deliver_free(dl);
	d->dl = NULL;
	d->first += d->nbatch;
	if (d->first < d->run->nmsgs) {
		domain_batch(d);
		return;
	}
	plan_free(d->plan);
	d->plan = NULL;
	d->done = true;
	d->run->running--;
}

/* The next DELIVER_MSGS_MAX messages (or fewer) over one walk. */
static void
domain_batch(struct send_domain *d)
{
	struct deliver_opts o = d->run->dopts;
	const struct send_msg *sm;
	size_t k;
	int r;

	o.level = d->level;
	d->nbatch = d->run->nmsgs - d->first;
	if (d->nbatch > DELIVER_MSGS_MAX)
		d->nbatch = DELIVER_MSGS_MAX;
	for (k = 0; k < d->nbatch; k++) {
		sm = &d->run->msgs[d->first + k];
		d->msgs[k].from = d->run->from;
		d->msgs[k].rcpts = d->rcpts;
		d->msgs[k].nrcpts = d->nrcpts;
		d->msgs[k].data = sm->data;
		d->msgs[k].len = sm->len;
	}
	if (d->run->nmsgs > 1)
		log_info("deliver: %s: messages %zu-%zu of %zu", d->name,
		    d->first + 1, d->first + d->nbatch, d->run->nmsgs);
	r = deliver_start_msgs(dns_ctx_base(d->run->dns), d->run->tls, d->plan,
	    &o, d->msgs, d->nbatch, domain_delivered, d, &d->dl);
	if (r < 0)
		fatalx("send: %s: deliver_start: %s", d->name, err_str(r));
}

static void
domain_planned(struct plan *p, void *arg)
{
	struct send_domain *d = arg;

	d->plan = p;
	log_info("deliver: %s: policy level %s, plan %s (%s)", d->name,
	    policy_level_str(d->level), plan_policy_str(p->policy), p->reason);
	d->first = 0;
	domain_batch(d);
}

static const char *
rcpt_status(const struct deliver_rcpt *out)
{
	switch (out->outcome) {
	case SMTP_OUTCOME_OK:
		return "delivered";
	case SMTP_OUTCOME_PERM:
		return "bounced";
	default:
		return "deferred";
	}
}

static void
report_text(const struct send_run *run)
{
	const struct send_rcpt *r;
	const struct deliver_rcpt *out;
	char file[PATH_MAX_SHOWN];
	size_t i, m;

	for (i = 0; i < run->ndoms; i++)
		if (run->doms[i].warning[0] != '\0')
			(void)fprintf(stderr, "danemta send: %s: warning: %s\n",
			    run->doms[i].name, run->doms[i].warning);
	for (m = 0; m < run->nmsgs; m++) {
		/* With several messages, each line names its file. */
		file[0] = '\0';
		if (run->nmsgs > 1)
			(void)snprintf(
			    file, sizeof(file), "%s: ", run->msgs[m].path);
		for (i = 0; i < run->nrcpts; i++) {
			r = &run->rcpts[i];
			out = &r->out[m];
			if (out->outcome == SMTP_OUTCOME_OK)
				(void)fprintf(stderr,
				    "danemta send: %s%s: delivered via %s "
				    "(%s): %s\n",
				    file, r->addr, out->via,
				    deliver_verdict_str(r->security[m]),
				    out->text);
			else
				(void)fprintf(stderr,
				    "danemta send: %s%s: %s: %s\n", file,
				    r->addr, rcpt_status(out), out->text);
		}
	}
}

static void
report_json(const struct send_run *run)
{
	json_t *o = json_object(), *ra = json_array(), *da = json_array();
	const struct send_rcpt *r;
	const struct send_domain *d;
	const struct deliver_rcpt *out;
	json_t *e;
	size_t i, m;

	/* Recipient by recipient, message by message (the FILEs' order). */
	for (m = 0; m < run->nmsgs; m++)
		for (i = 0; i < run->nrcpts; i++) {
			r = &run->rcpts[i];
			out = &r->out[m];
			e = json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:s?,s:s?}",
			    "rcpt", r->addr, "domain", r->dom->name, "outcome",
			    rcpt_status(out), "code", out->code, "enhanced",
			    out->enhanced, "text", out->text, "via",
			    out->via[0] ? out->via : NULL, "security",
			    out->outcome == SMTP_OUTCOME_OK
				? deliver_verdict_str(r->security[m])
				: NULL);
			if (run->nmsgs > 1) {
				(void)json_object_set_new(
				    e, "message", json_integer((json_int_t)m));
				(void)json_object_set_new(
				    e, "file", json_string(run->msgs[m].path));
			}
			(void)json_array_append_new(ra, e);
		}
	for (i = 0; i < run->ndoms; i++) {
		d = &run->doms[i];
		(void)json_array_append_new(da,
		    json_pack("{s:s,s:s,s:s,s:s,s:s?}", "domain", d->name,
			"policy", policy_level_str(d->level), "verdict",
			deliver_verdict_str(d->verdict), "reason", d->reason,
			"warning", d->warning[0] ? d->warning : NULL));
	}
	(void)json_object_set_new(o, "recipients", ra);
	(void)json_object_set_new(o, "domains", da);
	(void)json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	(void)fputc('\n', stdout);
	json_decref(o);
}

static int
exit_status(const struct send_run *run)
{
	size_t i, m, ntemp = 0, nperm = 0;

	for (m = 0; m < run->nmsgs; m++)
		for (i = 0; i < run->nrcpts; i++) {
			if (run->rcpts[i].out[m].outcome == SMTP_OUTCOME_PERM)
				nperm++;
			else if (run->rcpts[i].out[m].outcome !=
			    SMTP_OUTCOME_OK)
				ntemp++;
		}
	if (ntemp > 0)
		return EX_TEMPFAIL;
	return nperm > 0 ? EX_UNAVAILABLE : EX_OK;
}

static int
run_send(struct send_run *run, const struct send_args *a)
{
	struct event_base *base;
	size_t i;
	int r;

	if (cli_loop_open("send", &a->dns, &base, &run->dns) < 0)
		return EX_UNAVAILABLE;
	if ((r = dane_ctx_new(&run->tls)) < 0)
		fatalx("send: TLS: %s", err_str(r));
	for (i = 0; i < run->ndoms; i++) {
		run->running++;
		if (plan_start(run->dns, run->doms[i].name, &run->popts,
			domain_planned, &run->doms[i]) < 0)
			fatalx("send: %s: invalid domain", run->doms[i].name);
	}
	(void)event_base_dispatch(base);
	if (run->running != 0)
		fatalx("send: the event loop ended with %zu domains pending",
		    run->running);
	cli_loop_free(base, run->dns, run->tls);
	if (a->json)
		report_json(run);
	report_text(run);
	return exit_status(run);
}

int
cmd_send(int argc, char **argv)
{
	static struct send_run run;
	struct policy_table *table = NULL;
	struct send_args a;
	size_t i;
	int r;

	if ((r = parse_args(argc, argv, &a)) != EX_OK)
		return r < 0 ? EX_OK : r;
	(void)cli_log_verbose(a.verbose);
	if ((r = cli_policy_load("send", a.d.policy_file, &table)) != EX_OK)
		return r;
	memset(&run, 0, sizeof(run));
	run.dopts = a.d.dopts;
	run.popts = a.d.popts;
	run.from = a.from;
	if ((r = group_rcpts(&run, &a, table)) == EX_OK &&
	    (r = read_messages(&run, &a)) == EX_OK)
		r = run_send(&run, &a);
	policy_table_free(table);
	free(run.doms);
	for (i = 0; i < run.nmsgs; i++)
		free(run.msgs[i].data);
	free(run.msgs);
	for (i = 0; i < run.nrcpts; i++) {
		free(run.rcpts[i].out);
		free(run.rcpts[i].security);
	}
	return r;
}
