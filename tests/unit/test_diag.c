/* Unit tests for diag.c: each diagnostic from a hand-built plan and chain
 * (plans and chains as the resolver and dane.c fill them; no I/O). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "danemta/diag.h"
#include "danemta/util.h"

static const uint8_t D32[32] = {0xab, 0xcd};

static struct plan *
plan_one(uint8_t u, uint8_t s, uint8_t m, size_t len)
{
	struct plan *p = xcalloc(1, sizeof(*p));
	struct plan_host *h = &p->hosts[0];

	(void)strlcpy(p->domain, "example.test", sizeof(p->domain));
	p->opts.port = 25;
	p->mx_lookup = PLAN_LOOKUP_OK;
	p->mx_dnssec = DNSSEC_SECURE;
	p->nhosts = 1;
	(void)strlcpy(h->name, "mx1.example.test", sizeof(h->name));
	(void)strlcpy(h->tlsa_base, h->name, sizeof(h->tlsa_base));
	h->dnssec = DNSSEC_SECURE;
	h->naddrs = 1;
	(void)strlcpy(h->addrs[0].address, "192.0.2.1", 46);
	h->tlsa_dnssec = DNSSEC_SECURE;
	h->tlsa_lookup = PLAN_LOOKUP_OK;
	h->tlsa_ttl = 60;
	h->mode = PLAN_MODE_DANE;
	h->ntlsa = 1;
	h->tlsa[0].rr.usage = u;
	h->tlsa[0].rr.selector = s;
	h->tlsa[0].rr.mtype = m;
	h->tlsa[0].rr.data = xcalloc(1, len ? len : 1);
	memcpy(h->tlsa[0].rr.data, D32, len < 32 ? len : 32);
	h->tlsa[0].rr.len = len;
	h->tlsa[0].verdict = tlsa_classify(&h->tlsa[0].rr);
	h->nusable = h->tlsa[0].verdict == TLSA_USABLE;
	return p;
}

static bool
has(const struct diag_list *l, enum diag_id id)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].id == id)
			return true;
	return false;
}

static void
run(struct plan *p, const struct diag_addr *a, size_t na,
    const struct diag_dns *dns, struct diag_list *l)
{
	struct diag_input in = {p, dns, a, na, 1000000, 0};

	diag_compute(&in, l);
}

/* Records alone (no connection). */
static void
test_records(void **state)
{
	static const struct {
		uint8_t u, s, m;
		size_t len;
		enum diag_id want;
	} t[] = {
	    {3, 0, 1, 32, DIAG_FRAGILE_3_0_X},
	    {1, 1, 1, 32, DIAG_PKIX_USAGE_PORT_25},
	    {0, 0, 1, 32, DIAG_PKIX_USAGE_PORT_25},
	    {3, 1, 1, 31, DIAG_BAD_DIGEST_LENGTH},
	    {3, 1, 2, 32, DIAG_BAD_DIGEST_LENGTH},
	    {3, 1, 2, 64, DIAG_SHA512_ONLY},
	    {2, 0, 0, 20, DIAG_FULL_RECORDS},
	};
	struct diag_list l;
	struct plan *p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		p = plan_one(t[i].u, t[i].s, t[i].m, t[i].len);
		run(p, NULL, 0, NULL, &l);
		assert_true(has(&l, t[i].want));
		plan_free(p);
	}
	/* healthy 3 1 1: nothing */
	p = plan_one(3, 1, 1, 32);
	run(p, NULL, 0, NULL, &l);
	assert_int_equal(l.n, 0);
	/* not on another port for PKIX usages */
	plan_free(p);
	p = plan_one(1, 1, 1, 32);
	p->opts.port = 443;
	run(p, NULL, 0, NULL, &l);
	assert_false(has(&l, DIAG_PKIX_USAGE_PORT_25));
	plan_free(p);
}

static void
test_dns_findings(void **state)
{
	struct diag_list l;
	struct diag_dns dns;
	struct plan *p = plan_one(3, 1, 1, 32);

	(void)state;
	memset(&dns, 0, sizeof(dns));
	dns.rrsig_expiration[0] = 1000000 + 2 * 86400;
	dns.orig_ttl[0] = 172800;
	run(p, NULL, 0, &dns, &l);
	assert_true(has(&l, DIAG_RRSIG_EXPIRING));
	assert_true(has(&l, DIAG_TLSA_TTL_LONG));
	dns.rrsig_expiration[0] = 1000000 + 4 * 86400;
	dns.orig_ttl[0] = 86400;
	run(p, NULL, 0, &dns, &l);
	assert_int_equal(l.n, 0);
	dns.nwrong = 1;
	(void)strlcpy(dns.wrong[0].owner, "_465._tcp.mx1.example.test",
	    sizeof(dns.wrong[0].owner));
	dns.nunsigned = 1;
	run(p, NULL, 0, &dns, &l);
	assert_true(has(&l, DIAG_TLSA_WRONG_OWNER));
	assert_true(has(&l, DIAG_TLSA_UNSIGNED_ZONE));
	/* lookup error, insecure host, partial */
	p->hosts[0].ntlsa_tries = 1;
	p->hosts[0].tlsa_tries[0].lookup = PLAN_LOOKUP_ERROR;
	p->hosts[1] = p->hosts[0];
	p->hosts[1].ntlsa = 0;
	p->hosts[1].ntlsa_tries = 0;
	p->hosts[1].mode = PLAN_MODE_OPPORTUNISTIC;
	p->nhosts = 2;
	run(p, NULL, 0, NULL, &l);
	assert_true(has(&l, DIAG_TLSA_LOOKUP_BROKEN));
	assert_true(has(&l, DIAG_PARTIAL_TLSA));
	p->hosts[1].dnssec = DNSSEC_INSECURE;
	run(p, NULL, 0, NULL, &l);
	assert_true(has(&l, DIAG_INSECURE_MX_HOST));
	p->nhosts = 1;
	plan_free(p);
}

static void
chain(struct dane_info *ti, const char *spki, const char *sub, const char *iss)
{
	struct dane_cert *c = &ti->chain[ti->nchain++];

	(void)strlcpy(c->spki_sha256, spki, sizeof(c->spki_sha256));
	(void)strlcpy(c->cert_sha256, spki, sizeof(c->cert_sha256));
	(void)strlcpy(c->subject, sub, sizeof(c->subject));
	(void)strlcpy(c->issuer, iss, sizeof(c->issuer));
}

static void
test_connected(void **state)
{
	struct diag_list l;
	struct dane_info ti;
	struct diag_addr a;
	struct plan *p = plan_one(3, 1, 1, 32);
	char *hex = hex_encode(D32, 32);

	(void)state;
	memset(&ti, 0, sizeof(ti));
	memset(&a, 0, sizeof(a));
	chain(&ti, "00", "CN=leaf", "CN=int");
	a.tried = true;
	a.result = SMTP_RESULT_DANE_FAILED;
	a.tlsinfo = &ti;
	a.match[0] = diag_match_chain(&p->hosts[0].tlsa[0].rr, &ti);
	assert_int_equal(a.match[0], DIAG_MATCH_NONE);
	run(p, &a, 1, NULL, &l);
	assert_true(has(&l, DIAG_STALE_TLSA));
	/* matching leaf: nothing */
	(void)strlcpy(ti.chain[0].spki_sha256, hex, 65);
	a.match[0] = diag_match_chain(&p->hosts[0].tlsa[0].rr, &ti);
	assert_int_equal(a.match[0], 0);
	run(p, &a, 1, NULL, &l);
	assert_int_equal(l.n, 0);
	/* STARTTLS missing */
	a.result = SMTP_RESULT_STARTTLS_MISSING;
	run(p, &a, 1, NULL, &l);
	assert_true(has(&l, DIAG_STARTTLS_MISSING));
	plan_free(p);

	/* 2 0 1 not in a chain whose top is not self-issued: TA not sent */
	p = plan_one(2, 0, 1, 32);
	a.result = SMTP_RESULT_DANE_FAILED;
	memset(&ti, 0, sizeof(ti));
	chain(&ti, "00", "CN=leaf", "CN=int");
	chain(&ti, "01", "CN=int", "CN=root");
	a.match[0] = diag_match_chain(&p->hosts[0].tlsa[0].rr, &ti);
	run(p, &a, 1, NULL, &l);
	assert_true(has(&l, DIAG_TA_NOT_SENT));
	assert_false(has(&l, DIAG_STALE_TLSA));
	/* the TA sent, name mismatch, then expired */
	(void)strlcpy(ti.chain[1].cert_sha256, hex, 65);
	a.match[0] = diag_match_chain(&p->hosts[0].tlsa[0].rr, &ti);
	assert_int_equal(a.match[0], 1);
	ti.verify_code = X509_V_ERR_HOSTNAME_MISMATCH;
	run(p, &a, 1, NULL, &l);
	assert_true(has(&l, DIAG_TA_NAME_MISMATCH));
	ti.verify_code = X509_V_ERR_CERT_HAS_EXPIRED;
	run(p, &a, 1, NULL, &l);
	assert_true(has(&l, DIAG_TA_CHAIN_EXPIRED));
	plan_free(p);
	free(hex);
}

static void
test_render(void **state)
{
	struct diag_list l;
	struct plan *p = plan_one(3, 0, 1, 32);
	json_t *j;
	char *t;
	size_t i;

	(void)state;
	for (i = 0; i < DIAG__COUNT; i++) {
		assert_non_null(diag_name((enum diag_id)i));
		assert_true(strlen(diag_fix((enum diag_id)i)) > 0);
	}
	assert_null(diag_name(DIAG__COUNT));
	run(p, NULL, 0, NULL, &l);
	j = diag_json(&l);
	assert_int_equal(json_array_size(j), 1);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(j, 0), "id")),
	    "fragile-3-0-x");
	json_decref(j);
	t = diag_text(&l);
	assert_non_null(strstr(t, "fragile-3-0-x mx1.example.test"));
	assert_non_null(strstr(t, "fix: "));
	free(t);
	plan_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_records),
	    cmocka_unit_test(test_dns_findings),
	    cmocka_unit_test(test_connected),
	    cmocka_unit_test(test_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
