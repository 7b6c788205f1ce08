/*
 * smtp-probe: run one libdanemta SMTP session against ADDR:PORT under a
 * TLS mode given on the command line (no DNS, no plan) and print the
 * session result as JSON.  A test tool: it lets the integration tests drive
 * smtp_client.c and dane.c directly.  --repeat M runs M sessions one after
 * the other in this process (bench/handshake's in-process client loop).
 */
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "danemta/dane.h"
#include "danemta/log.h"
#include "danemta/report.h"
#include "danemta/smtp_client.h"
#include "danemta/tlsa.h"
#include "danemta/util.h"
#include "danemta/err.h"

#define PROBE_FILE_MAX (64u * 1024u * 1024u)
#define PROBE_RCPTS_MAX 64
#define PROBE_REPEAT_MAX 1000000

struct probe {
	char addr[64];
	uint16_t port;
	struct smtp_params p;
	struct tlsa_rr rrs[TLSA_RRSET_MAX];
	size_t nrrs;
	const char *rcpts[PROBE_RCPTS_MAX];
	size_t nrcpts;
	struct smtp_message msgs[SMTP_MSGS_MAX];
	uint8_t *bodies[SMTP_MSGS_MAX];
	size_t nmsgs;
	const char *from;
	int probe_only;
	long long repeat;
};

/* What --repeat saw: sessions by result, and what they cost. */
struct probe_tally {
	size_t by_result[SMTP_RESULT_SMTP_FAILED + 1];
	size_t authenticated, completed;
	double wall_s, user_s, sys_s;
};

static __attribute__((noreturn)) void
usage(void)
{
	(void)fprintf(stderr,
	    "usage: smtp-probe --connect ADDR:PORT "
	    "--mode dane|tls-required|opportunistic|none\n"
	    "    [--base NAME] [--refid NAME]... [--tlsa \"U S M HEX\"]...\n"
	    "    [--from A --to B... [--message FILE]... [--probe]]\n"
	    "    [--helo NAME] [--timeout S] [--dnssec] [--repeat M] [-v]\n");
	exit(64);
}

static void
parse_connect(struct probe *pr, const char *arg)
{
	const char *colon = strrchr(arg, ':'), *errstr = NULL;
	const char *start = arg;
	size_t n;

	if (colon == NULL)
		usage();
	n = (size_t)(colon - arg);
	if (arg[0] == '[' && n >= 2 && arg[n - 1] == ']') {
		start = arg + 1;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(pr->addr))
		usage();
	memcpy(pr->addr, start, n);
	pr->addr[n] = '\0';
	pr->port = (uint16_t)strtonum(colon + 1, 1, 65535, &errstr);
	if (errstr != NULL)
		usage();
}

static enum smtp_tls_mode
parse_mode(const char *s)
{
	if (strcmp(s, "dane") == 0)
		return SMTP_TLS_DANE;
	if (strcmp(s, "tls-required") == 0)
		return SMTP_TLS_REQUIRED;
	if (strcmp(s, "opportunistic") == 0)
		return SMTP_TLS_OPPORTUNISTIC;
	if (strcmp(s, "none") == 0)
		return SMTP_TLS_NONE;
	usage();
}

static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = xmalloc(PROBE_FILE_MAX);

	if (f == NULL)
		fatal("%s", path);
	*len = fread(buf, 1, PROBE_FILE_MAX, f);
	if (ferror(f) || !feof(f))
		fatalx("%s: unreadable or over %u bytes", path, PROBE_FILE_MAX);
	(void)fclose(f);
	return buf;
}

static void
add_tlsa(struct probe *pr, const char *text)
{
	int r;

	if (pr->nrrs >= TLSA_RRSET_MAX)
		usage();
	r = tlsa_text_parse(text, strlen(text), &pr->rrs[pr->nrrs]);
	if (r < 0)
		fatalx("--tlsa \"%s\": %s", text, err_str(r));
	pr->p.tls.tlsa[pr->p.tls.ntlsa++] = &pr->rrs[pr->nrrs++];
}

static void
parse_args(struct probe *pr, int argc, char **argv)
{
	const char *errstr = NULL;
	long long secs;
	int i;

	for (i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(o, "-v") == 0) {
			log_set_level(LOG_LEVEL_DEBUG);
			continue;
		}
		if (strcmp(o, "--probe") == 0) {
			pr->probe_only = 1;
			continue;
		}
		if (strcmp(o, "--dnssec") == 0) {
			pr->p.addr_dnssec = true;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(o, "--connect") == 0)
			parse_connect(pr, v);
		else if (strcmp(o, "--mode") == 0)
			pr->p.mode = parse_mode(v);
		else if (strcmp(o, "--base") == 0)
			pr->p.tls.sni = v;
		else if (strcmp(o, "--refid") == 0 &&
		    pr->p.tls.nrefids < DANE_REFIDS_MAX)
			pr->p.tls.refids[pr->p.tls.nrefids++] = v;
		else if (strcmp(o, "--tlsa") == 0)
			add_tlsa(pr, v);
		else if (strcmp(o, "--from") == 0)
			pr->from = v;
		else if (strcmp(o, "--to") == 0 && pr->nrcpts < PROBE_RCPTS_MAX)
			pr->rcpts[pr->nrcpts++] = v;
		else if (strcmp(o, "--message") == 0 &&
		    pr->nmsgs < SMTP_MSGS_MAX) {
			pr->bodies[pr->nmsgs] =
			    read_file(v, &pr->msgs[pr->nmsgs].len);
			pr->msgs[pr->nmsgs].data = pr->bodies[pr->nmsgs];
			pr->nmsgs++;
		} else if (strcmp(o, "--helo") == 0)
			pr->p.helo_name = v;
		else if (strcmp(o, "--timeout") == 0) {
			secs = strtonum(v, 1, 3600, &errstr);
			if (errstr != NULL)
				usage();
			smtp_timeouts_all(
			    &pr->p.timeouts, (unsigned int)secs * 1000);
		} else if (strcmp(o, "--repeat") == 0) {
			pr->repeat = strtonum(v, 1, PROBE_REPEAT_MAX, &errstr);
			if (errstr != NULL)
				usage();
		} else
			usage();
	}
}

static json_t *
tls_json(const struct dane_info *ti)
{
	json_t *o = json_object();

	(void)json_object_set_new(o, "version", json_string(ti->version));
	(void)json_object_set_new(o, "cipher", json_string(ti->cipher));
	(void)json_object_set_new(o, "sni", json_string(ti->sni));
	(void)json_object_set_new(o, "dane", json_boolean(ti->dane));
	(void)json_object_set_new(o, "verified", json_boolean(ti->verified));
	(void)json_object_set_new(
	    o, "authenticated", json_boolean(ti->authenticated));
	(void)json_object_set_new(
	    o, "verify_code", json_integer(ti->verify_code));
	(void)json_object_set_new(
	    o, "verify_error", json_string(ti->verify_error));
	(void)json_object_set_new(o, "matched",
	    ti->matched[0] ? json_string(ti->matched) : json_null());
	(void)json_object_set_new(
	    o, "matched_depth", json_integer(ti->matched_depth));
	(void)json_object_set_new(o, "peername",
	    ti->peername[0] ? json_string(ti->peername) : json_null());
	(void)json_object_set_new(o, "chain", report_chain_json(ti));
	return o;
}

static json_t *
msgs_json(const struct probe *pr, const struct smtp_session_result *res)
{
	json_t *a = json_array(), *m, *rc;
	size_t i, j;

	for (i = 0; i < res->nmsgs; i++) {
		const struct smtp_msg_result *mr = &res->msgs[i];

		rc = json_array();
		for (j = 0; j < mr->nrcpts; j++)
			(void)json_array_append_new(rc,
			    json_pack("{s:s,s:s,s:i,s:s,s:s}", "rcpt",
				pr->rcpts[j], "outcome",
				smtp_outcome_str(mr->rcpts[j].outcome), "code",
				mr->rcpts[j].code, "enhanced",
				mr->rcpts[j].enhanced, "text",
				mr->rcpts[j].text));
		m = json_pack("{s:s,s:i,s:s,s:s,s:o}", "outcome",
		    smtp_outcome_str(mr->outcome), "code", mr->code, "enhanced",
		    mr->enhanced, "text", mr->text, "recipients", rc);
		(void)json_array_append_new(a, m);
	}
	return a;
}

/* The --repeat figures: sessions/s and CPU per session (getrusage). */
static json_t *
tally_json(const struct probe *pr, const struct probe_tally *t)
{
	json_t *o = json_object(), *by = json_object();
	double cpu = t->user_s + t->sys_s, n = (double)pr->repeat;
	size_t i;

	for (i = 0; i <= SMTP_RESULT_SMTP_FAILED; i++)
		if (t->by_result[i] > 0)
			(void)json_object_set_new(by,
			    smtp_result_str((enum smtp_result)i),
			    json_integer((json_int_t)t->by_result[i]));
	(void)json_object_set_new(o, "sessions", json_integer(pr->repeat));
	(void)json_object_set_new(o, "results", by);
	(void)json_object_set_new(
	    o, "authenticated", json_integer((json_int_t)t->authenticated));
	(void)json_object_set_new(
	    o, "completed", json_integer((json_int_t)t->completed));
	(void)json_object_set_new(o, "wall_s", json_real(t->wall_s));
	(void)json_object_set_new(o, "user_s", json_real(t->user_s));
	(void)json_object_set_new(o, "sys_s", json_real(t->sys_s));
	(void)json_object_set_new(
	    o, "cpu_ms_per_session", json_real(cpu * 1e3 / n));
	(void)json_object_set_new(
	    o, "sessions_per_s", json_real(t->wall_s > 0 ? n / t->wall_s : 0));
	return o;
}

static void
print_result(const struct probe *pr, const struct smtp_session_result *res,
    const struct probe_tally *tally)
{
	json_t *o = json_object();

	(void)json_object_set_new(
	    o, "result", json_string(smtp_result_str(res->result)));
	(void)json_object_set_new(o, "reason", json_string(res->reason));
	(void)json_object_set_new(o, "error",
	    res->error ? json_string(err_str(res->error)) : json_null());
	(void)json_object_set_new(o, "completed", json_boolean(res->completed));
	(void)json_object_set_new(o, "tlsrpt_result",
	    res->tlsrpt_result ? json_string(res->tlsrpt_result) : json_null());
	(void)json_object_set_new(o, "greeting", json_string(res->greeting));
	(void)json_object_set_new(
	    o, "starttls_offered", json_boolean(res->starttls_offered));
	(void)json_object_set_new(
	    o, "pipelining", json_boolean(res->pipelining));
	(void)json_object_set_new(
	    o, "size_limit", json_integer((json_int_t)res->size_limit));
	(void)json_object_set_new(
	    o, "tlsa_added", json_integer((json_int_t)res->tlsa_added));
	(void)json_object_set_new(
	    o, "tls", res->tls ? tls_json(&res->tlsinfo) : json_null());
	(void)json_object_set_new(o, "messages", msgs_json(pr, res));
	if (tally != NULL)
		(void)json_object_set_new(o, "repeat", tally_json(pr, tally));
	(void)json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	(void)fputc('\n', stdout);
	json_decref(o);
}

static void
probe_done(struct smtp_session *s, void *arg)
{
	event_base_loopbreak(arg);
}

static double
tv_s(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static double
now_s(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Run the session pr->repeat times in a row on one loop and one TLS
 * context; the last session is returned for printing, *t gets the rest.
 */
static struct smtp_session *
run_sessions(struct probe *pr, struct event_base *base, struct dane_ctx *ctx,
    struct probe_tally *t)
{
	struct smtp_session *s = NULL;
	const struct smtp_session_result *res;
	struct rusage ru0, ru1;
	double w0;
	long long i;
	int r;

	(void)getrusage(RUSAGE_SELF, &ru0);
	w0 = now_s();
	for (i = 0; i < pr->repeat; i++) {
		smtp_session_free(s);
		if ((r = smtp_session_start(
			 base, ctx, &pr->p, probe_done, base, &s)) < 0)
			fatalx("smtp_session_start: %s", err_str(r));
		(void)event_base_dispatch(base);
		res = smtp_session_result(s);
		if ((size_t)res->result <= SMTP_RESULT_SMTP_FAILED)
			t->by_result[res->result]++;
		if (res->tls && res->tlsinfo.authenticated)
			t->authenticated++;
		if (res->completed)
			t->completed++;
	}
	t->wall_s = now_s() - w0;
	(void)getrusage(RUSAGE_SELF, &ru1);
	t->user_s = tv_s(&ru1.ru_utime) - tv_s(&ru0.ru_utime);
	t->sys_s = tv_s(&ru1.ru_stime) - tv_s(&ru0.ru_stime);
	return s;
}

int
main(int argc, char **argv)
{
	static struct probe pr;
	static struct probe_tally tally;
	struct event_base *base;
	struct dane_ctx *ctx = NULL;
	struct smtp_session *s = NULL;
	bool repeat;
	size_t i;
	int r;

	log_init("smtp-probe", LOG_LEVEL_INFO, 0);
	smtp_timeouts_default(&pr.p.timeouts);
	pr.p.helo_name = "client.danemta.test";
	pr.p.mode = SMTP_TLS_OPPORTUNISTIC;
	parse_args(&pr, argc, argv);
	if (pr.port == 0)
		usage();
	repeat = pr.repeat > 0;
	if (!repeat)
		pr.repeat = 1;
	if (pr.from != NULL && pr.probe_only && pr.nmsgs == 0) {
		pr.msgs[0].data = NULL;
		pr.nmsgs = 1;
	}
	for (i = 0; i < pr.nmsgs; i++) {
		pr.msgs[i].from = pr.from != NULL ? pr.from : "";
		pr.msgs[i].rcpts = pr.rcpts;
		pr.msgs[i].nrcpts = pr.nrcpts;
	}
	pr.p.address = pr.addr;
	pr.p.port = pr.port;
	pr.p.host = pr.p.tls.sni;
	pr.p.tls.dane = pr.p.mode == SMTP_TLS_DANE;
	pr.p.msgs = pr.msgs;
	pr.p.nmsgs = pr.nmsgs;
	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new");
	if ((r = dane_ctx_new(&ctx)) < 0)
		fatalx("dane_ctx_new: %s", err_str(r));
	s = run_sessions(&pr, base, ctx, &tally);
	print_result(&pr, smtp_session_result(s), repeat ? &tally : NULL);
	smtp_session_free(s);
	dane_ctx_free(ctx);
	event_base_free(base);
	for (i = 0; i < pr.nrrs; i++)
		tlsa_rr_clear(&pr.rrs[i]);
	for (i = 0; i < pr.nmsgs; i++)
		free(pr.bodies[i]);
	return 0;
}
