/*
 * Unit tests for the plan rules (plan_rules.c) and the report (report.c):
 * next-hop names, the MX answer, address answers and TLSA candidates, TLSA
 * answers, modes and the domain policy, as tables of cases.  Answers are
 * built by hand here: these are the pure functions the resolver glue
 * feeds; the glue itself is tested against the world (integration).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "danemta/plan.h"
#include "danemta/report.h"
#include "danemta/util.h"
#include "danemta/err.h"

#define S DNSSEC_SECURE
#define I DNSSEC_INSECURE
#define B DNSSEC_BOGUS
#define X DNSSEC_INDETERMINATE

static struct dns_answer
answer(uint16_t qtype, enum dns_lookup l, enum dnssec_status s,
    const struct dns_rdata *rd, size_t n, const char *canon)
{
	struct dns_answer a;

	memset(&a, 0, sizeof(a));
	a.qname = "q.test";
	a.qtype = qtype;
	a.lookup = l;
	a.dnssec = s;
	a.rcode = l == DNS_LOOKUP_ERROR ? 2 : l == DNS_LOOKUP_NXDOMAIN ? 3 : 0;
	a.rdata = rd;
	a.nrdata = n;
	a.canonname = canon;
	a.ttl = 300;
	if (l == DNS_LOOKUP_ERROR)
		a.error =
		    s == B ? "DNSSEC bogus: signature expired" : "SERVFAIL";
	return a;
}

static struct plan *
new_plan(const char *domain, const struct plan_opts *o)
{
	struct plan *p = xmalloc(sizeof(*p));

	plan_init(p, domain, o);
	return p;
}

/* ---- names ---- */

struct name_case {
	const char *in;
	int expect;
	int literal;
	const char *out;
};

static void
test_domain_parse(void **state)
{
	char l63[64], n253[254], n254[255];
	const struct name_case cases[] = {
	    {"example.com", 0, 0, "example.com"},
	    {"Example.COM.", 0, 0, "Example.COM"},
	    {"localhost", 0, 0, "localhost"},
	    {"_srv.x-y.test", 0, 0, "_srv.x-y.test"},
	    {"xn--bcher-kva.example", 0, 0, "xn--bcher-kva.example"},
	    {l63, 0, 0, l63},
	    {n253, 0, 0, n253},
	    {"[192.0.2.1]", 0, AF_INET, "192.0.2.1"},
	    {"[IPv6:2001:db8::1]", 0, AF_INET6, "2001:db8::1"},
	    {"[ipv6:::1]", 0, AF_INET6, "::1"},
	    /* malformed */
	    {"", -ERR_FORMAT, 0, NULL},
	    {".", -ERR_FORMAT, 0, NULL},
	    {"example..com", -ERR_FORMAT, 0, NULL},
	    {".example.com", -ERR_FORMAT, 0, NULL},
	    {"example.com..", -ERR_FORMAT, 0, NULL},
	    {"-a.example", -ERR_FORMAT, 0, NULL},
	    {"a-.example", -ERR_FORMAT, 0, NULL},
	    {"exa mple.com", -ERR_FORMAT, 0, NULL},
	    {"ex\xc3\xa9.com", -ERR_FORMAT, 0, NULL},
	    {"a/b.com", -ERR_FORMAT, 0, NULL},
	    {"a\\046b.com", -ERR_FORMAT, 0, NULL},
	    {"user@example.com", -ERR_FORMAT, 0, NULL},
	    {"*.example.com", -ERR_FORMAT, 0, NULL},
	    {n254, -ERR_TOOBIG, 0, NULL},
	    {"[192.0.2.1", -ERR_FORMAT, 0, NULL},
	    {"[300.0.2.1]", -ERR_FORMAT, 0, NULL},
	    {"[]", -ERR_FORMAT, 0, NULL},
	    {"[IPv6:]", -ERR_FORMAT, 0, NULL},
	    {"[IPv6:192.0.2.1]", -ERR_FORMAT, 0, NULL},
	    {"[2001:db8::1]", -ERR_FORMAT, 0, NULL},
	    {"[192.0.2.1]x", -ERR_FORMAT, 0, NULL},
	};
	char out[PLAN_NAME_MAX], over[80];
	const char *why;
	int literal;
	size_t i;

	memset(l63, 'a', 63);
	l63[63] = '\0';
	memset(n253, 'b', 253);
	for (i = 63; i < 253; i += 64)
		n253[i] = '.';
	n253[253] = '\0';
	memcpy(n254, n253, 253);
	n254[253] = 'c';
	n254[254] = '\0';
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case %zu: %s\n", i, cases[i].in);
		assert_int_equal(plan_domain_parse(cases[i].in, out,
				     sizeof(out), &literal, &why),
		    cases[i].expect);
		if (cases[i].expect == 0) {
			assert_int_equal(literal, cases[i].literal);
			assert_string_equal(out, cases[i].out);
		} else {
			assert_non_null(why);
		}
	}
	/* A label of 64 is the over-long-label error, not a generic one. */
	memset(over, 'a', 64);
	(void)strlcpy(over + 64, ".com", sizeof(over) - 64);
	assert_int_equal(
	    plan_domain_parse(over, out, sizeof(out), &literal, &why),
	    -ERR_TOOBIG);
	assert_string_equal(why, "label longer than 63 octets");
}

/* ---- MX ---- */

static const uint8_t mx_mx3[] = {0, 30, 3, 'm', 'x', '3', 0};
static const uint8_t mx_mx1[] = {0, 10, 3, 'm', 'x', '1', 0};
static const uint8_t mx_mx2[] = {0, 20, 3, 'm', 'x', '2', 0};
static const uint8_t mx_mx1b[] = {0, 10, 4, 'm', 'x', '1', 'b', 0};
static const uint8_t mx_mx2_5[] = {0, 5, 3, 'M', 'X', '2', 0};
static const uint8_t mx_null[] = {0, 0, 0};
static const uint8_t mx_bad[] = {0, 10, 0xc0, 12};

#define RD(x)                                                                  \
	{                                                                      \
		x, sizeof(x)                                                   \
	}

static void
test_mx_sorted_deduplicated(void **state)
{
	const struct dns_rdata rd[] = {
	    RD(mx_mx3), RD(mx_mx1), RD(mx_mx2), RD(mx_mx1b), RD(mx_mx2_5)};
	struct dns_answer a =
	    answer(DNS_TYPE_MX, DNS_LOOKUP_DATA, S, rd, 5, NULL);
	struct plan *p = new_plan("example.test", NULL);

	plan_mx_result(p, &a);
	assert_int_equal(p->mx_lookup, PLAN_LOOKUP_OK);
	assert_int_equal(p->mx_count, 5);
	assert_int_equal(p->nhosts, 4);
	assert_string_equal(p->hosts[0].name, "MX2");
	assert_int_equal(p->hosts[0].preference, 5);
	assert_string_equal(p->hosts[1].name, "mx1");
	assert_string_equal(p->hosts[2].name, "mx1b");
	assert_string_equal(p->hosts[3].name, "mx3");
	assert_true(plan_mx_secure(p));
	assert_int_equal(p->opts.port, 25);
	plan_free(p);
}

struct mx_case {
	const char *what;
	enum dns_lookup l;
	enum dnssec_status s;
	const uint8_t *rd1, *rd2;
	size_t len1, len2;
	size_t nhosts;
	enum plan_lookup expect_lookup;
	int policy; /* -1: not decided by the MX answer */
	bool null_mx;
	bool mx_secure;
};

static void
test_mx_outcomes(void **state)
{
	const struct mx_case cases[] = {
	    {"secure NODATA: implicit MX", DNS_LOOKUP_NODATA, S, NULL, NULL, 0,
		0, 1, PLAN_LOOKUP_NODATA, -1, false, true},
	    {"insecure NODATA", DNS_LOOKUP_NODATA, I, NULL, NULL, 0, 0, 1,
		PLAN_LOOKUP_NODATA, -1, false, false},
	    {"NXDOMAIN", DNS_LOOKUP_NXDOMAIN, S, NULL, NULL, 0, 0, 0,
		PLAN_LOOKUP_NXDOMAIN, PLAN_POLICY_BOUNCE, false, false},
	    {"null MX", DNS_LOOKUP_DATA, S, mx_null, NULL, 3, 0, 0,
		PLAN_LOOKUP_OK, PLAN_POLICY_BOUNCE, true, true},
	    {"null MX among others", DNS_LOOKUP_DATA, S, mx_null, mx_mx1, 3,
		sizeof(mx_mx1), 1, PLAN_LOOKUP_OK, -1, false, true},
	    {"bogus", DNS_LOOKUP_ERROR, B, NULL, NULL, 0, 0, 0,
		PLAN_LOOKUP_ERROR, PLAN_POLICY_DEFER, false, false},
	    {"SERVFAIL", DNS_LOOKUP_ERROR, X, NULL, NULL, 0, 0, 0,
		PLAN_LOOKUP_ERROR, PLAN_POLICY_DEFER, false, false},
	    {"malformed RDATA", DNS_LOOKUP_DATA, S, mx_mx1, mx_bad,
		sizeof(mx_mx1), sizeof(mx_bad), 0, PLAN_LOOKUP_ERROR,
		PLAN_POLICY_DEFER, false, false},
	    {"2-octet RDATA", DNS_LOOKUP_DATA, S, mx_mx1, NULL, 2, 0, 0,
		PLAN_LOOKUP_ERROR, PLAN_POLICY_DEFER, false, false},
	    {"insecure MX", DNS_LOOKUP_DATA, I, mx_mx1, NULL, sizeof(mx_mx1), 0,
		1, PLAN_LOOKUP_OK, -1, false, false},
	};
	struct dns_rdata rd[2];
	struct dns_answer a;
	struct plan *p;
	size_t i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case %s\n", cases[i].what);
		n = 0;
		if (cases[i].rd1 != NULL) {
			rd[n].data = cases[i].rd1;
			rd[n++].len = cases[i].len1;
		}
		if (cases[i].rd2 != NULL) {
			rd[n].data = cases[i].rd2;
			rd[n++].len = cases[i].len2;
		}
		a = answer(DNS_TYPE_MX, cases[i].l, cases[i].s, rd, n, NULL);
		p = new_plan("example.test", NULL);
		plan_mx_result(p, &a);
		assert_int_equal(p->nhosts, cases[i].nhosts);
		assert_int_equal(p->mx_lookup, cases[i].expect_lookup);
		assert_int_equal(p->null_mx, cases[i].null_mx);
		assert_int_equal(plan_mx_secure(p), cases[i].mx_secure);
		if (cases[i].policy >= 0)
			assert_int_equal(p->policy, cases[i].policy);
		if (cases[i].expect_lookup == PLAN_LOOKUP_ERROR)
			assert_true(strlen(p->mx_error) > 0);
		if (cases[i].l == DNS_LOOKUP_NODATA) {
			assert_true(p->hosts[0].implicit);
			assert_string_equal(p->hosts[0].name, "example.test");
		}
		plan_free(p);
	}
}

static void
test_mx_capped_best_kept(void **state)
{
	uint8_t wire[40][8];
	struct dns_rdata rd[40];
	struct dns_answer a;
	struct plan *p = new_plan("example.test", NULL);
	size_t i;

	for (i = 0; i < 40; i++) {
		/* preference 40 - i, name "hNN" */
		wire[i][0] = 0;
		wire[i][1] = (uint8_t)(40 - i);
		wire[i][2] = 3;
		wire[i][3] = 'h';
		wire[i][4] = (uint8_t)('0' + i / 10);
		wire[i][5] = (uint8_t)('0' + i % 10);
		wire[i][6] = 0;
		rd[i].data = wire[i];
		rd[i].len = 7;
	}
	a = answer(DNS_TYPE_MX, DNS_LOOKUP_DATA, S, rd, 40, NULL);
	plan_mx_result(p, &a);
	assert_int_equal(p->nhosts, PLAN_HOSTS_MAX);
	for (i = 0; i < PLAN_HOSTS_MAX; i++)
		assert_int_equal(p->hosts[i].preference, i + 1);
	plan_free(p);
}

static void
test_mx_cname_expanded(void **state)
{
	const struct dns_rdata rd[] = {RD(mx_mx1)};
	struct dns_answer a =
	    answer(DNS_TYPE_MX, DNS_LOOKUP_DATA, S, rd, 1, "target.test");
	struct plan *p = new_plan("alias.test", NULL);

	plan_mx_result(p, &a);
	assert_string_equal(p->domain_expanded, "target.test");
	assert_string_equal(p->domain, "alias.test");
	plan_free(p);
}

/* ---- addresses and candidates ---- */

static const uint8_t a_rd[] = {127, 0, 1, 5};
static const uint8_t aaaa_rd[] = {0xfd, 0, [15] = 5};
static const uint8_t a_bad[] = {127, 0, 1};

struct host_case {
	const char *what;
	enum dns_lookup al;
	enum dnssec_status as;
	enum dns_lookup aaaal;
	enum dnssec_status aaaas;
	const char *canon;
	enum dns_lookup cnamel; /* the first-link query, if sent */
	enum dnssec_status cnames;
	bool mx_secure, dane_insecure_mx;
	bool needs_cname;
	size_t ncands;
	enum plan_mode mode; /* when ncands is 0 */
	const char *cand0, *cand1;
	const char *reason; /* a part of it, when ncands is 0 */
};

#define D DNS_LOOKUP_DATA
#define N DNS_LOOKUP_NODATA
#define NX DNS_LOOKUP_NXDOMAIN
#define E DNS_LOOKUP_ERROR

static const struct host_case host_cases[] = {
    {"secure A, secure no AAAA", D, S, N, S, NULL, 0, 0, true, false, false, 1,
	0, "mx1.test", NULL, NULL},
    {"secure A and AAAA", D, S, D, S, NULL, 0, 0, true, false, false, 1, 0,
	"mx1.test", NULL, NULL},
    {"insecure addresses: no TLSA", D, I, N, I, NULL, 0, 0, true, false, false,
	0, PLAN_MODE_OPPORTUNISTIC, NULL, NULL, "no TLSA lookup"},
    {"A secure, AAAA insecure: insecure", D, S, D, I, NULL, 0, 0, true, false,
	false, 0, PLAN_MODE_OPPORTUNISTIC, NULL, NULL, "addresses insecure"},
    {"A bogus", E, B, D, S, NULL, 0, 0, true, false, false, 0, PLAN_MODE_SKIP,
	NULL, NULL, "A lookup bogus"},
    {"AAAA bogus", D, S, E, B, NULL, 0, 0, true, false, false, 0,
	PLAN_MODE_SKIP, NULL, NULL, "AAAA lookup bogus"},
    {"A SERVFAIL, AAAA secure: use AAAA", E, X, D, S, NULL, 0, 0, true, false,
	false, 1, 0, "mx1.test", NULL, NULL},
    {"AAAA SERVFAIL, A insecure", D, I, E, X, NULL, 0, 0, true, false, false, 0,
	PLAN_MODE_OPPORTUNISTIC, NULL, NULL, "insecure"},
    {"both SERVFAIL", E, X, E, X, NULL, 0, 0, true, false, false, 0,
	PLAN_MODE_SKIP, NULL, NULL, "address lookup failed"},
    {"A SERVFAIL, no AAAA", E, X, N, S, NULL, 0, 0, true, false, false, 0,
	PLAN_MODE_SKIP, NULL, NULL, "address lookup failed"},
    {"no addresses", N, S, N, S, NULL, 0, 0, true, false, false, 0,
	PLAN_MODE_SKIP, NULL, NULL, "no address records"},
    {"NXDOMAIN", NX, S, NX, S, NULL, 0, 0, true, false, false, 0,
	PLAN_MODE_SKIP, NULL, NULL, "no address records"},
    {"insecure MX", D, S, N, S, NULL, 0, 0, false, false, false, 0,
	PLAN_MODE_OPPORTUNISTIC, NULL, NULL, "MX RRset not secure"},
    {"insecure MX, dane_insecure_mx", D, S, N, S, NULL, 0, 0, false, true,
	false, 1, 0, "mx1.test", NULL, NULL},
    {"insecure MX, dane_insecure_mx, insecure host", D, I, N, I, NULL, 0, 0,
	false, true, false, 0, PLAN_MODE_OPPORTUNISTIC, NULL, NULL,
	"no TLSA lookup"},
    {"secure CNAME: expanded first", D, S, N, S, "mx.provider.test", 0, 0, true,
	false, false, 2, 0, "mx.provider.test", "mx1.test", NULL},
    {"secure first link, insecure target", D, I, N, I, "mx.unsigned.test", D, S,
	true, false, true, 1, 0, "mx1.test", NULL, NULL},
    {"insecure CNAME", D, I, N, I, "mx.unsigned.test", D, I, true, false, true,
	0, PLAN_MODE_OPPORTUNISTIC, NULL, NULL, "insecure CNAME"},
    {"CNAME query bogus", D, I, N, I, "mx.unsigned.test", E, B, true, false,
	true, 0, PLAN_MODE_SKIP, NULL, NULL, "CNAME lookup failed"},
    {"CNAME gone", D, I, N, I, "mx.unsigned.test", N, S, true, false, true, 0,
	PLAN_MODE_SKIP, NULL, NULL, "CNAME lookup failed"},
    {"CNAME, insecure MX: no query", D, I, N, I, "mx.unsigned.test", 0, 0,
	false, false, false, 0, PLAN_MODE_OPPORTUNISTIC, NULL, NULL,
	"MX RRset not secure"},
};

static void
run_host_case(const struct host_case *c)
{
	const struct dns_rdata ra[] = {RD(a_rd)}, raaaa[] = {RD(aaaa_rd)};
	const uint8_t cname_rd[] = {1, 'x', 0};
	const struct dns_rdata rc[] = {RD(cname_rd)};
	struct plan_opts o = {25, c->dane_insecure_mx, false};
	struct plan_host *h = xcalloc(1, sizeof(*h));
	struct dns_answer a;
	size_t n;

	(void)strlcpy(h->name, "mx1.test", sizeof(h->name));
	a = answer(DNS_TYPE_A, c->al, c->as, ra, c->al == D ? 1 : 0, c->canon);
	plan_host_addr_result(h, &a);
	a = answer(DNS_TYPE_AAAA, c->aaaal, c->aaaas, raaaa,
	    c->aaaal == D ? 1 : 0, c->canon);
	plan_host_addr_result(h, &a);
	assert_int_equal(
	    plan_host_needs_cname(h, c->mx_secure, &o), c->needs_cname);
	if (c->needs_cname) {
		a = answer(DNS_TYPE_CNAME, c->cnamel, c->cnames, rc,
		    c->cnamel == D ? 1 : 0, NULL);
		plan_host_cname_result(h, &a);
	}
	n = plan_host_candidates(h, c->mx_secure, &o);
	assert_int_equal(n, c->ncands);
	assert_int_equal(h->ntlsa_tries, c->ncands);
	if (n == 0) {
		assert_int_equal(h->mode, c->mode);
		assert_non_null(strstr(h->reason, c->reason));
	}
	if (n >= 1) {
		assert_string_equal(h->tlsa_tries[0].candidate, c->cand0);
		assert_int_equal(h->tlsa_tries[0].lookup, PLAN_LOOKUP_NOT_DONE);
		assert_true(
		    strncmp(h->tlsa_tries[0].owner, "_25._tcp.", 9) == 0);
	}
	if (n == 2)
		assert_string_equal(h->tlsa_tries[1].candidate, c->cand1);
	free(h);
}

static void
test_host_rules(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(host_cases) / sizeof(host_cases[0]); i++) {
		print_message("case %s\n", host_cases[i].what);
		run_host_case(&host_cases[i]);
	}
}

static void
test_host_addr_parsing(void **state)
{
	const struct dns_rdata good[] = {RD(a_rd), RD(a_rd)};
	const struct dns_rdata bad[] = {RD(a_rd), RD(a_bad)};
	struct plan_host *h = xcalloc(1, sizeof(*h));
	struct dns_rdata many[PLAN_ADDRS_MAX + 4];
	struct dns_answer a;
	size_t i;

	a = answer(DNS_TYPE_A, D, S, good, 2, NULL);
	plan_host_addr_result(h, &a);
	assert_int_equal(h->naddrs, 2);
	assert_string_equal(h->addrs[0].address, "127.0.1.5");
	assert_int_equal(h->addrs[0].family, AF_INET);
	assert_int_equal(h->addrs[0].dnssec, S);
	/* A malformed record fails the family and adds nothing. */
	memset(h, 0, sizeof(*h));
	a = answer(DNS_TYPE_A, D, S, bad, 2, NULL);
	plan_host_addr_result(h, &a);
	assert_int_equal(h->naddrs, 0);
	assert_int_equal(h->a_lookup, PLAN_LOOKUP_ERROR);
	assert_non_null(strstr(h->a_error, "malformed A RDATA (3 octets)"));
	/* More addresses than the cap: the first ones kept, no overflow. */
	memset(h, 0, sizeof(*h));
	for (i = 0; i < PLAN_ADDRS_MAX + 4; i++)
		many[i] = good[0];
	a = answer(DNS_TYPE_A, D, S, many, PLAN_ADDRS_MAX + 4, NULL);
	plan_host_addr_result(h, &a);
	assert_int_equal(h->naddrs, PLAN_ADDRS_MAX);
	free(h);
}

/* ---- TLSA ---- */

/* A TLSA RDATA: usage, selector, mtype, then n bytes of v. */
static struct dns_rdata
tlsa_rd(uint8_t *buf, uint8_t u, uint8_t s, uint8_t m, size_t n, uint8_t v)
{
	struct dns_rdata r;

	buf[0] = u;
	buf[1] = s;
	buf[2] = m;
	memset(buf + 3, v, n);
	r.data = buf;
	r.len = 3 + n;
	return r;
}

static struct plan_host *
host_with_cands(const char *expanded, uint16_t port)
{
	struct plan_host *h = xcalloc(1, sizeof(*h));
	struct plan_opts o = {port, false, false};
	const struct dns_rdata ra[] = {RD(a_rd)};
	struct dns_answer a = answer(DNS_TYPE_A, D, S, ra, 1, expanded);

	(void)strlcpy(h->name, "mx1.test", sizeof(h->name));
	plan_host_addr_result(h, &a);
	a = answer(DNS_TYPE_AAAA, N, S, NULL, 0, expanded);
	plan_host_addr_result(h, &a);
	assert_int_equal(
	    plan_host_candidates(h, true, &o), expanded != NULL ? 2 : 1);
	return h;
}

static void
host_free(struct plan_host *h)
{
	size_t i;

	for (i = 0; i < h->ntlsa; i++)
		tlsa_rr_clear(&h->tlsa[i].rr);
	free(h);
}

static void
test_tlsa_dane_and_tls_required(void **state)
{
	uint8_t b1[80], b2[80], b3[80];
	struct dns_rdata rd[3];
	struct dns_answer a;
	struct plan_host *h;

	/* One usable 3 1 1: DANE at the host name. */
	h = host_with_cands(NULL, 25);
	assert_string_equal(h->tlsa_tries[0].owner, "_25._tcp.mx1.test");
	rd[0] = tlsa_rd(b1, 3, 1, 1, 32, 0x2a);
	rd[1] = tlsa_rd(b2, 0, 0, 1, 32, 0x11);
	a = answer(DNS_TYPE_TLSA, D, S, rd, 2, NULL);
	assert_false(plan_host_tlsa_result(h, 0, &a));
	assert_int_equal(h->mode, PLAN_MODE_DANE);
	assert_string_equal(h->tlsa_base, "mx1.test");
	assert_int_equal(h->ntlsa, 2);
	assert_int_equal(h->nusable, 1);
	assert_int_equal(h->tlsa[0].verdict, TLSA_USABLE);
	assert_int_equal(h->tlsa[1].verdict, TLSA_UNUSABLE_PKIX_USAGE);
	assert_int_equal(h->tlsa_ttl, 300);
	host_free(h);

	/* Only unusable: PKIX-EE, a short SHA2-256, unknown mtype. */
	h = host_with_cands(NULL, 25);
	rd[0] = tlsa_rd(b1, 1, 1, 1, 32, 0x2a);
	rd[1] = tlsa_rd(b2, 3, 1, 1, 31, 0x2a);
	rd[2] = tlsa_rd(b3, 3, 1, 3, 32, 0x2a);
	a = answer(DNS_TYPE_TLSA, D, S, rd, 3, NULL);
	assert_false(plan_host_tlsa_result(h, 0, &a));
	assert_int_equal(h->mode, PLAN_MODE_TLS_REQUIRED);
	assert_int_equal(h->nusable, 0);
	assert_int_equal(h->tlsa[1].verdict, TLSA_UNUSABLE_DIGEST_LENGTH);
	assert_int_equal(h->tlsa[2].verdict, TLSA_UNUSABLE_MTYPE);
	host_free(h);
}

static void
test_tlsa_agility(void **state)
{
	uint8_t b1[80], b2[80], b3[80];
	struct dns_rdata rd[3];
	struct dns_answer a;
	struct plan_host *h = host_with_cands(NULL, 25);

	rd[0] = tlsa_rd(b1, 3, 1, 1, 32, 0x01);
	rd[1] = tlsa_rd(b2, 3, 1, 2, 64, 0x02);
	rd[2] = tlsa_rd(b3, 2, 0, 1, 32, 0x03);
	a = answer(DNS_TYPE_TLSA, D, S, rd, 3, NULL);
	assert_false(plan_host_tlsa_result(h, 0, &a));
	assert_int_equal(h->tlsa[0].verdict, TLSA_UNUSABLE_PRUNED);
	assert_int_equal(h->tlsa[1].verdict, TLSA_USABLE);
	assert_int_equal(h->tlsa[2].verdict, TLSA_USABLE); /* other group */
	assert_int_equal(h->nusable, 2);
	assert_int_equal(h->mode, PLAN_MODE_DANE);
	host_free(h);
	/* A malformed 3 1 2 does not prune a good 3 1 1. */
	h = host_with_cands(NULL, 25);
	rd[0] = tlsa_rd(b1, 3, 1, 1, 32, 0x01);
	rd[1] = tlsa_rd(b2, 3, 1, 2, 32, 0x02);
	a = answer(DNS_TYPE_TLSA, D, S, rd, 2, NULL);
	assert_false(plan_host_tlsa_result(h, 0, &a));
	assert_int_equal(h->tlsa[0].verdict, TLSA_USABLE);
	assert_int_equal(h->tlsa[1].verdict, TLSA_UNUSABLE_DIGEST_LENGTH);
	assert_int_equal(h->mode, PLAN_MODE_DANE);
	host_free(h);
}

struct tlsa_case {
	const char *what;
	enum dns_lookup l0; /* answer for candidate 0 */
	enum dnssec_status s0;
	bool data_at_1; /* candidate 1 has secure 3 1 1 */
	bool next;	/* plan_host_tlsa_result(0) asks for more */
	enum plan_mode mode;
	const char *base;
	const char *reason;
};

static void
test_tlsa_candidates(void **state)
{
	static const struct tlsa_case cases[] = {
	    {"secure NODATA at expanded: original", N, S, true, true,
		PLAN_MODE_DANE, "mx1.test", "usable"},
	    {"secure NXDOMAIN at expanded: original", NX, S, true, true,
		PLAN_MODE_DANE, "mx1.test", "usable"},
	    {"insecure data at expanded: original", D, I, true, true,
		PLAN_MODE_DANE, "mx1.test", "usable"},
	    {"nothing anywhere: opportunistic", N, S, false, true,
		PLAN_MODE_OPPORTUNISTIC, "", "no secure TLSA"},
	    {"SERVFAIL at expanded: skip, no next", E, X, true, false,
		PLAN_MODE_SKIP, "", "SERVFAIL"},
	    {"bogus at expanded: skip", E, B, true, false, PLAN_MODE_SKIP, "",
		"bogus"},
	    {"secure at expanded: expanded", D, S, true, false, PLAN_MODE_DANE,
		"mx.provider.test", "usable"},
	};
	uint8_t b[80];
	struct dns_rdata rd[1];
	struct dns_answer a;
	struct plan_host *h;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case %s\n", cases[i].what);
		h = host_with_cands("mx.provider.test", 25);
		rd[0] = tlsa_rd(b, 3, 1, 1, 32, 0x2a);
		a = answer(DNS_TYPE_TLSA, cases[i].l0, cases[i].s0, rd,
		    cases[i].l0 == D ? 1 : 0, NULL);
		assert_int_equal(
		    plan_host_tlsa_result(h, 0, &a), cases[i].next);
		if (cases[i].next) {
			a = cases[i].data_at_1
			    ? answer(DNS_TYPE_TLSA, D, S, rd, 1, NULL)
			    : answer(DNS_TYPE_TLSA, NX, S, NULL, 0, NULL);
			assert_false(plan_host_tlsa_result(h, 1, &a));
		} else {
			assert_int_equal(
			    h->tlsa_tries[1].lookup, PLAN_LOOKUP_NOT_DONE);
		}
		assert_int_equal(h->mode, cases[i].mode);
		assert_string_equal(h->tlsa_base, cases[i].base);
		assert_non_null(strstr(h->reason, cases[i].reason));
		host_free(h);
	}
}

static void
test_tlsa_malformed_and_port(void **state)
{
	static const uint8_t two[] = {3, 1};
	uint8_t b[80];
	struct dns_rdata rd[TLSA_RRSET_MAX + 1];
	struct dns_answer a;
	struct plan_host *h;
	size_t i;

	/* A 2-octet RDATA in a secure RRset: a malformed answer, the host is skipped. */
	h = host_with_cands(NULL, 2525);
	assert_string_equal(h->tlsa_tries[0].owner, "_2525._tcp.mx1.test");
	rd[0] = tlsa_rd(b, 3, 1, 1, 32, 0x2a);
	rd[1].data = two;
	rd[1].len = sizeof(two);
	a = answer(DNS_TYPE_TLSA, D, S, rd, 2, NULL);
	assert_false(plan_host_tlsa_result(h, 0, &a));
	assert_int_equal(h->mode, PLAN_MODE_SKIP);
	assert_int_equal(h->ntlsa, 0);
	assert_int_equal(h->tlsa_tries[0].lookup, PLAN_LOOKUP_ERROR);
	assert_string_equal(h->tlsa_base, ""); /* found by the fuzzer */
	assert_non_null(strstr(h->reason, "malformed RDATA (2 octets)"));
	host_free(h);
	/* Over TLSA_RRSET_MAX records: refused, host skipped. */
	h = host_with_cands(NULL, 25);
	for (i = 0; i < TLSA_RRSET_MAX + 1; i++)
		rd[i] = tlsa_rd(b, 3, 1, 1, 32, 0x2a);
	a = answer(DNS_TYPE_TLSA, D, S, rd, TLSA_RRSET_MAX + 1, NULL);
	assert_false(plan_host_tlsa_result(h, 0, &a));
	assert_int_equal(h->mode, PLAN_MODE_SKIP);
	assert_int_equal(h->ntlsa, 0);
	host_free(h);
	/* A CNAME at the TLSA owner: base stays the candidate. */
	h = host_with_cands(NULL, 25);
	rd[0] = tlsa_rd(b, 2, 0, 1, 32, 0x2a);
	a = answer(DNS_TYPE_TLSA, D, S, rd, 1, "tlsa._dane.test");
	assert_false(plan_host_tlsa_result(h, 0, &a));
	assert_string_equal(h->tlsa_base, "mx1.test");
	assert_string_equal(h->tlsa_tries[0].cname_target, "tlsa._dane.test");
	assert_int_equal(h->mode, PLAN_MODE_DANE);
	host_free(h);
}

/* ---- policy ---- */

struct policy_case {
	const char *what;
	enum plan_mode m[3];
	size_t n;
	bool mx_insecure;
	enum plan_policy policy;
	const char *reason;
};

static void
test_policy(void **state)
{
	static const struct policy_case cases[] = {
	    {"one DANE host", {PLAN_MODE_DANE}, 1, false, PLAN_POLICY_DANE,
		"mx0"},
	    {"first skipped, second DANE", {PLAN_MODE_SKIP, PLAN_MODE_DANE}, 2,
		false, PLAN_POLICY_DANE, "better hosts skipped"},
	    {"all skipped", {PLAN_MODE_SKIP, PLAN_MODE_SKIP}, 2, false,
		PLAN_POLICY_DEFER, "no usable host"},
	    {"no preemption by a worse DANE host",
		{PLAN_MODE_OPPORTUNISTIC, PLAN_MODE_DANE}, 2, false,
		PLAN_POLICY_OPPORTUNISTIC, "mx0"},
	    {"TLS required", {PLAN_MODE_TLS_REQUIRED}, 1, false,
		PLAN_POLICY_TLS_REQUIRED, "mx0"},
	    {"insecure MX with a DANE host", {PLAN_MODE_DANE}, 1, true,
		PLAN_POLICY_DANE, "MX RRset insecure"},
	};
	struct plan *p;
	size_t i, j;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case %s\n", cases[i].what);
		p = new_plan("example.test", NULL);
		p->mx_lookup = PLAN_LOOKUP_OK;
		p->mx_dnssec = cases[i].mx_insecure ? I : S;
		p->nhosts = cases[i].n;
		for (j = 0; j < cases[i].n; j++) {
			(void)snprintf(p->hosts[j].name,
			    sizeof(p->hosts[j].name), "mx%zu", j);
			p->hosts[j].mode = cases[i].m[j];
			(void)strlcpy(p->hosts[j].reason, "why",
			    sizeof(p->hosts[j].reason));
		}
		plan_set_policy(p);
		assert_int_equal(p->policy, cases[i].policy);
		assert_non_null(strstr(p->reason, cases[i].reason));
		plan_free(p);
	}
}

static void
test_literal(void **state)
{
	struct plan *p = new_plan("[192.0.2.1]", NULL);

	plan_set_literal(p, AF_INET, "192.0.2.1");
	plan_set_policy(p);
	assert_int_equal(p->policy, PLAN_POLICY_OPPORTUNISTIC);
	assert_int_equal(p->nhosts, 1);
	assert_int_equal(p->hosts[0].mode, PLAN_MODE_OPPORTUNISTIC);
	assert_string_equal(p->hosts[0].addrs[0].address, "192.0.2.1");
	assert_non_null(strstr(p->reason, "address literal"));
	plan_free(p);
}

static void
test_strings(void **state)
{
	assert_string_equal(
	    plan_mode_str(PLAN_MODE_TLS_REQUIRED), "tls-required");
	assert_string_equal(plan_policy_str(PLAN_POLICY_BOUNCE), "bounce");
	assert_string_equal(plan_lookup_str(PLAN_LOOKUP_NOT_DONE), "not-done");
}

/* ---- report ---- */

static struct plan *
dane_plan(void)
{
	const struct dns_rdata mx[] = {RD(mx_mx1)};
	uint8_t b1[80], b2[80];
	struct dns_rdata rd[2];
	struct dns_answer a = answer(DNS_TYPE_MX, D, S, mx, 1, NULL);
	struct plan *p = new_plan("example.test", NULL);
	const struct dns_rdata ra[] = {RD(a_rd)};

	plan_mx_result(p, &a);
	a = answer(DNS_TYPE_A, D, S, ra, 1, NULL);
	plan_host_addr_result(&p->hosts[0], &a);
	a = answer(DNS_TYPE_AAAA, N, S, NULL, 0, NULL);
	plan_host_addr_result(&p->hosts[0], &a);
	assert_int_equal(plan_host_candidates(&p->hosts[0], true, &p->opts), 1);
	rd[0] = tlsa_rd(b1, 3, 1, 1, 32, 0x2a);
	rd[1] = tlsa_rd(b2, 0, 0, 1, 32, 0x11);
	a = answer(DNS_TYPE_TLSA, D, S, rd, 2, NULL);
	assert_false(plan_host_tlsa_result(&p->hosts[0], 0, &a));
	plan_set_policy(p);
	return p;
}

static void
test_report_json(void **state)
{
	struct plan *p = dane_plan();
	json_t *o = report_plan_json(p), *h, *t;

	assert_int_equal(json_integer_value(json_object_get(o, "schema")), 1);
	assert_string_equal(
	    json_string_value(json_object_get(o, "domain")), "example.test");
	assert_string_equal(
	    json_string_value(json_object_get(o, "mx_dnssec")), "secure");
	assert_string_equal(
	    json_string_value(json_object_get(o, "policy")), "dane");
	h = json_array_get(json_object_get(o, "hosts"), 0);
	assert_string_equal(
	    json_string_value(json_object_get(h, "name")), "mx1");
	assert_int_equal(
	    json_integer_value(json_object_get(h, "preference")), 10);
	assert_true(json_is_null(json_object_get(h, "cname_target")));
	assert_string_equal(
	    json_string_value(json_object_get(h, "tlsa_base")), "mx1");
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(h, "addresses"), 0), "family")),
	    "ipv4");
	t = json_array_get(json_object_get(h, "tlsa"), 0);
	assert_true(json_is_true(json_object_get(t, "usable")));
	assert_int_equal(
	    strlen(json_string_value(json_object_get(t, "data"))), 64);
	t = json_array_get(json_object_get(h, "tlsa"), 1);
	assert_true(json_is_false(json_object_get(t, "usable")));
	assert_non_null(strstr(json_string_value(json_object_get(t, "reason")),
	    "not used in SMTP"));
	json_decref(o);
	plan_free(p);
}

static void
test_report_text(void **state)
{
	struct plan *p = dane_plan();
	char *s = report_plan_text(p, false), *v, full[128];
	size_t i;

	assert_non_null(strstr(s, "mx1[10]: MX secure; A 127.0.1.5 secure"));
	assert_non_null(strstr(s,
	    "TLSA _25._tcp.mx1 secure: 3 1 1 2a2a2a2a"
	    "\xe2\x80\xa6 usable; 0 0 1 11111111"));
	assert_non_null(strstr(s, "unusable (PKIX-TA is not used in SMTP)"));
	assert_non_null(strstr(s, "=> dane ("));
	assert_non_null(strstr(s, "example.test: policy dane"));
	v = report_plan_text(p, true);
	memset(full, 0, sizeof(full));
	(void)strlcpy(full, "3 1 1 ", sizeof(full));
	for (i = 0; i < 32; i++)
		(void)strlcat(full, "2a", sizeof(full));
	(void)strlcat(full, " usable", sizeof(full));
	assert_non_null(strstr(v, full));
	free(v);
	free(s);
	plan_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_domain_parse),
	    cmocka_unit_test(test_mx_sorted_deduplicated),
	    cmocka_unit_test(test_mx_outcomes),
	    cmocka_unit_test(test_mx_capped_best_kept),
	    cmocka_unit_test(test_mx_cname_expanded),
	    cmocka_unit_test(test_host_rules),
	    cmocka_unit_test(test_host_addr_parsing),
	    cmocka_unit_test(test_tlsa_dane_and_tls_required),
	    cmocka_unit_test(test_tlsa_agility),
	    cmocka_unit_test(test_tlsa_candidates),
	    cmocka_unit_test(test_tlsa_malformed_and_port),
	    cmocka_unit_test(test_policy),
	    cmocka_unit_test(test_literal),
	    cmocka_unit_test(test_strings),
	    cmocka_unit_test(test_report_json),
	    cmocka_unit_test(test_report_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
