/*
 * Unit tests for policy.c (levels, the per-destination table and its
 * malformed inputs, level x plan -> session mode) and for the pure walk
 * decision of deliver.c (deliver_decide).  Plans are filled by hand: these
 * are pure functions; the walk itself is tested against the world.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "danemta/deliver.h"
#include "danemta/policy.h"
#include "danemta/util.h"
#include "danemta/err.h"

static void
test_levels(void **state)
{
	static const char *const names[] = {
	    "dane-only", "dane", "encrypt", "may", "none"};
	static const char *const bad[] = {
	    "", "DANE", "dane ", "secure", "verify", "dane-onl", "mayy"};
	enum policy_level l;
	size_t i;

	(void)state;
	for (i = 0; i < 5; i++) {
		assert_int_equal(policy_level_parse(names[i], &l), 0);
		assert_int_equal(l, (enum policy_level)i);
		assert_string_equal(policy_level_str(l), names[i]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(policy_level_parse(bad[i], &l), -ERR_FORMAT);
}

struct lookup_case {
	const char *domain;
	enum policy_level want;
};

static void
test_table_lookup(void **state)
{
	static const char text[] =
	    "# broken DANE: bypass\n"
	    "broken.example\tmay\n"
	    "  Bank.Example.   dane-only   # trailing comment\n"
	    ".bank.example encrypt\n"
	    ".example none\n"
	    "\n"
	    "[192.0.2.1] none\r\n"
	    "plain.test none";
	static const struct lookup_case cases[] = {
	    {"broken.example", POLICY_MAY},
	    {"BROKEN.example.", POLICY_MAY},
	    {"bank.example", POLICY_DANE_ONLY},
	    {"mx.bank.example", POLICY_ENCRYPT},
	    {"a.b.bank.example", POLICY_ENCRYPT},
	    {"other.example", POLICY_NONE},
	    {"example", POLICY_DANE},
	    {"xbank.example", POLICY_NONE},
	    {"plain.test", POLICY_NONE},
	    {"sub.plain.test", POLICY_DANE},
	    {"[192.0.2.1]", POLICY_NONE},
	    {"unrelated.net", POLICY_DANE},
	    {"", POLICY_DANE},
	};
	struct policy_table *t = NULL;
	char err[POLICY_ERROR_MAX];
	size_t i;

	(void)state;
	assert_int_equal(
	    policy_table_parse(text, strlen(text), &t, err, sizeof(err)), 0);
	assert_int_equal(policy_table_count(t), 6);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(policy_lookup(t, cases[i].domain, POLICY_DANE),
		    cases[i].want);
	assert_int_equal(
	    policy_lookup(NULL, "bank.example", POLICY_MAY), POLICY_MAY);
	policy_table_free(t);
	policy_table_free(NULL);
}

struct bad_case {
	const char *text;
	size_t len; /* 0: strlen */
	int err;
	const char *msg; /* a substring of the error text */
};

static void
test_table_malformed(void **state)
{
	static char longline[POLICY_LINE_MAX + 20];
	static const struct bad_case cases[] = {
	    {"example.com\n", 0, -ERR_FORMAT, "line 1: a domain without"},
	    {"ok.test may\nexample.com dane extra\n", 0, -ERR_FORMAT,
		"line 2: more than two fields"},
	    {"example.com secure\n", 0, -ERR_FORMAT, "line 1: unknown level"},
	    {"example.com DANE\n", 0, -ERR_FORMAT, "unknown level"},
	    {"exa mple.com may\n", 0, -ERR_FORMAT, "more than two"},
	    {"-bad.test may\n", 0, -ERR_FORMAT, "not a domain"},
	    {"bad..test may\n", 0, -ERR_FORMAT, "not a domain"},
	    {". may\n", 0, -ERR_FORMAT, "not a domain"},
	    {"..test may\n", 0, -ERR_FORMAT, "not a domain"},
	    {".[192.0.2.1] none\n", 0, -ERR_FORMAT, "not a domain"},
	    {"a\xc3\xa9.test may\n", 0, -ERR_FORMAT, "not a domain"},
	    {"a.test may\nA.TEST. none\n", 0, -ERR_FORMAT,
		"duplicate entry for a.test"},
	    {"a.test may\n\0b.test none\n", 24, -ERR_FORMAT, "line 2: NUL"},
	    {NULL, 0, -ERR_TOOBIG, "line 1: line too long"},
	};
	struct policy_table *t = (struct policy_table *)1;
	char err[POLICY_ERROR_MAX];
	size_t i, len;

	(void)state;
	memset(longline, 'a', sizeof(longline) - 1);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *text = cases[i].text ? cases[i].text : longline;

		len = cases[i].len ? cases[i].len : strlen(text);
		assert_int_equal(
		    policy_table_parse(text, len, &t, err, sizeof(err)),
		    cases[i].err);
		assert_null(t);
		if (strstr(err, cases[i].msg) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err,
			    cases[i].msg);
	}
	/* Empty and comment-only tables are valid and empty. */
	assert_int_equal(policy_table_parse("", 0, &t, err, sizeof(err)), 0);
	assert_int_equal(policy_table_count(t), 0);
	policy_table_free(t);
	assert_int_equal(
	    policy_table_parse("# x\n\n  # y\n", 11, &t, err, sizeof(err)), 0);
	policy_table_free(t);
	assert_int_equal(
	    policy_table_load("/nonexistent/policy", &t, err, sizeof(err)),
	    -ERR_IO);
	assert_null(t);
}

/* A plan with one host in the given state. */
static void
plan_one(struct plan *p, enum dnssec_status mx, enum plan_mode mode,
    size_t naddrs, enum plan_lookup tlsa_lookup)
{
	struct plan_host *h = &p->hosts[0];

	plan_init(p, "example.test", NULL);
	p->mx_lookup = PLAN_LOOKUP_OK;
	p->mx_dnssec = mx;
	p->nhosts = 1;
	(void)strlcpy(h->name, "mx1.example.test", sizeof(h->name));
	h->mode = mode;
	h->naddrs = naddrs;
	if (naddrs > 0)
		(void)strlcpy(h->addrs[0].address, "192.0.2.1",
		    sizeof(h->addrs[0].address));
	h->tlsa_lookup = tlsa_lookup;
	(void)strlcpy(h->reason, "why", sizeof(h->reason));
}

struct mode_case {
	enum policy_level level;
	enum dnssec_status mx;
	enum plan_mode pmode;
	size_t naddrs;
	enum plan_lookup tlsa;
	int ret;
	enum smtp_tls_mode mode;
	const char *tlsrpt;
	const char *why;
};

#define D PLAN_MODE_DANE
#define R PLAN_MODE_TLS_REQUIRED
#define O PLAN_MODE_OPPORTUNISTIC
#define K PLAN_MODE_SKIP
#define SEC DNSSEC_SECURE
#define INS DNSSEC_INSECURE
#define OK PLAN_LOOKUP_OK
#define ERR PLAN_LOOKUP_ERROR
#define NF (-ERR_NOTFOUND)

static void
test_host_mode(void **state)
{
	static const struct mode_case cases[] = {
	    /* dane-only: DANE hosts of a secure MX RRset only */
	    {POLICY_DANE_ONLY, SEC, D, 1, OK, 0, SMTP_TLS_DANE, NULL, ""},
	    {POLICY_DANE_ONLY, SEC, R, 1, OK, NF, 0, "dane-required",
		"no usable TLSA"},
	    {POLICY_DANE_ONLY, SEC, O, 1, OK, NF, 0, "dane-required",
		"no usable TLSA"},
	    {POLICY_DANE_ONLY, INS, D, 1, OK, NF, 0, "dane-required",
		"not DNSSEC-secure"},
	    {POLICY_DANE_ONLY, SEC, K, 1, ERR, NF, 0, "dane-required", ""},
	    /* dane: the plan's modes */
	    {POLICY_DANE, SEC, D, 1, OK, 0, SMTP_TLS_DANE, NULL, ""},
	    {POLICY_DANE, SEC, R, 1, OK, 0, SMTP_TLS_REQUIRED, NULL, ""},
	    {POLICY_DANE, INS, O, 1, OK, 0, SMTP_TLS_OPPORTUNISTIC, NULL, ""},
	    {POLICY_DANE, SEC, K, 1, ERR, NF, 0, "dnssec-invalid", "skipped"},
	    {POLICY_DANE, SEC, K, 0, OK, NF, 0, NULL, "why"},
	    /* encrypt, may, none: TLSA ignored, a skipped host is used */
	    {POLICY_ENCRYPT, SEC, D, 1, OK, 0, SMTP_TLS_REQUIRED, NULL, ""},
	    {POLICY_ENCRYPT, SEC, K, 1, ERR, 0, SMTP_TLS_REQUIRED, NULL, ""},
	    {POLICY_MAY, SEC, D, 1, OK, 0, SMTP_TLS_OPPORTUNISTIC, NULL, ""},
	    {POLICY_MAY, INS, O, 1, OK, 0, SMTP_TLS_OPPORTUNISTIC, NULL, ""},
	    {POLICY_NONE, SEC, D, 1, OK, 0, SMTP_TLS_NONE, NULL, ""},
	    {POLICY_NONE, SEC, K, 0, ERR, NF, 0, NULL, "why"},
	};
	struct plan *p = xcalloc(1, sizeof(*p));
	enum smtp_tls_mode m;
	const char *rpt;
	char why[256];
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct mode_case *c = &cases[i];

		plan_one(p, c->mx, c->pmode, c->naddrs, c->tlsa);
		r = policy_host_mode(
		    c->level, p, &p->hosts[0], &m, why, sizeof(why), &rpt);
		if (r != c->ret)
			fail_msg(
			    "case %zu: %d, want %d (%s)", i, r, c->ret, why);
		if (r == 0)
			assert_int_equal(m, c->mode);
		if (c->tlsrpt == NULL)
			assert_null(rpt);
		else
			assert_string_equal(rpt, c->tlsrpt);
		if (strstr(why, c->why) == NULL)
			fail_msg(
			    "case %zu: \"%s\" lacks \"%s\"", i, why, c->why);
	}
	free(p);
}

struct decide_case {
	enum smtp_tls_mode mode;
	enum smtp_result r;
	bool retry_opt;
	bool usable, next_host, retry_plain;
};

static void
test_decide(void **state)
{
	static const struct decide_case cases[] = {
	    {SMTP_TLS_DANE, SMTP_RESULT_DANE_AUTHENTICATED, true, true, false,
		false},
	    {SMTP_TLS_DANE, SMTP_RESULT_DANE_FAILED, true, false, true, false},
	    {SMTP_TLS_DANE, SMTP_RESULT_STARTTLS_MISSING, true, false, true,
		false},
	    {SMTP_TLS_DANE, SMTP_RESULT_TLS_FAILED, true, false, true, false},
	    {SMTP_TLS_DANE, SMTP_RESULT_CONNECT_FAILED, true, false, false,
		false},
	    {SMTP_TLS_DANE, SMTP_RESULT_SMTP_FAILED, true, false, false, false},
	    {SMTP_TLS_REQUIRED, SMTP_RESULT_TLS_FAILED, true, false, true,
		false},
	    {SMTP_TLS_REQUIRED, SMTP_RESULT_TLS_UNAUTHENTICATED, true, true,
		false, false},
	    {SMTP_TLS_OPPORTUNISTIC, SMTP_RESULT_TLS_FAILED, true, false, false,
		true},
	    {SMTP_TLS_OPPORTUNISTIC, SMTP_RESULT_TLS_FAILED, false, false,
		false, false},
	    {SMTP_TLS_OPPORTUNISTIC, SMTP_RESULT_PLAINTEXT, true, true, false,
		false},
	    {SMTP_TLS_OPPORTUNISTIC, SMTP_RESULT_TLS, true, true, false, false},
	    {SMTP_TLS_NONE, SMTP_RESULT_PLAINTEXT, true, true, false, false},
	    {SMTP_TLS_NONE, SMTP_RESULT_SMTP_FAILED, true, false, false, false},
	};
	bool nh, rp;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct decide_case *c = &cases[i];

		assert_int_equal(
		    deliver_decide(c->mode, c->r, c->retry_opt, &nh, &rp),
		    c->usable);
		assert_int_equal(nh, c->next_host);
		assert_int_equal(rp, c->retry_plain);
	}
	assert_string_equal(deliver_verdict_str(DELIVER_DEFER), "defer");
	assert_string_equal(deliver_verdict_str(DELIVER_DANE_AUTHENTICATED),
	    "dane-authenticated");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_levels),
	    cmocka_unit_test(test_table_lookup),
	    cmocka_unit_test(test_table_malformed),
	    cmocka_unit_test(test_host_mode),
	    cmocka_unit_test(test_decide),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
