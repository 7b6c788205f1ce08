/*
 * Unit tests for smtp_client.c and smtp_body.c: the wire form of bodies
 * (CRLF, dot-stuffing), parameters refused before anything runs, the plan
 * to session mapping (reference identifiers, usable records), names.
 * The dialogue itself is tested against real servers in
 * tests/integration/test_smtp_client.py.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/event.h>

#include "danemta/buf.h"
#include "danemta/smtp_client.h"
#include "danemta/util.h"
#include "danemta/err.h"

struct body_case {
	const char *in;
	size_t inlen;
	const char *out;
	bool eightbit;
};

#define S(x) x, sizeof(x) - 1

static const struct body_case body_cases[] = {
    {S(""), ".\r\n", false},
    {S("a"), "a\r\n.\r\n", false},
    {S("a\n"), "a\r\n.\r\n", false},
    {S("a\r\n"), "a\r\n.\r\n", false},
    {S("a\rb"), "a\r\nb\r\n.\r\n", false},
    {S("a\r\r\nb\n"), "a\r\n\r\nb\r\n.\r\n", false},
    {S("a\n\nb"), "a\r\n\r\nb\r\n.\r\n", false},
    {S(".x\n"), "..x\r\n.\r\n", false},
    {S("x\n.\n"), "x\r\n..\r\n.\r\n", false},
    {S("x\r\n.\r\ny"), "x\r\n..\r\ny\r\n.\r\n", false},
    {S("\n.\n"), "\r\n..\r\n.\r\n", false},
    {S("..\n"), "...\r\n.\r\n", false},
    {S("x.\n.y"), "x.\r\n..y\r\n.\r\n", false},
    {S("x\r.y"), "x\r\n..y\r\n.\r\n", false},
    {S("caf\xc3\xa9\n"), "caf\xc3\xa9\r\n.\r\n", true},
    {S("\x80"), "\x80\r\n.\r\n", true},
    {S("\x7f\n"), "\x7f\r\n.\r\n", false},
};

static void
test_body_encode_table(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
		const struct body_case *c = &body_cases[i];
		struct wbuf out;
		bool eb = !c->eightbit;

		assert_int_equal(smtp_body_encode((const uint8_t *)c->in,
				     c->inlen, &out, &eb),
		    0);
		assert_int_equal(out.len, strlen(c->out));
		assert_memory_equal(out.data, c->out, out.len);
		assert_true(eb == c->eightbit);
		wbuf_clear(&out);
	}
}

static void
test_body_encode_nul_kept(void **state)
{
	static const uint8_t in[] = {'a', 0, 'b'};
	struct wbuf out;
	bool eb;

	assert_int_equal(smtp_body_encode(in, sizeof(in), &out, &eb), 0);
	assert_int_equal(out.len, 8);
	assert_memory_equal(out.data, "a\0b\r\n.\r\n", 8);
	wbuf_clear(&out);
}

static void
done_never(struct smtp_session *s, void *arg)
{
	fail_msg("done called for a session that never started");
}

static const char *const rcpts[] = {"a@b.test"};

static void
params_ok(struct smtp_params *p, struct smtp_message *m)
{
	memset(p, 0, sizeof(*p));
	memset(m, 0, sizeof(*m));
	m->from = "s@c.test";
	m->rcpts = rcpts;
	m->nrcpts = 1;
	p->address = "127.0.0.1";
	p->port = 25;
	p->helo_name = "client.test";
	p->mode = SMTP_TLS_DANE;
	p->tls.dane = true;
	p->tls.sni = "mx1.dane.test";
	smtp_timeouts_default(&p->timeouts);
	p->msgs = m;
	p->nmsgs = 1;
}

/* Parameters that must be refused before any connection is made. */
static void
test_session_start_refuses_bad_params(void **state)
{
	struct event_base *base = event_base_new();
	struct smtp_session *s = (struct smtp_session *)1;
	struct smtp_params p;
	struct smtp_message m;
	int i;

	assert_non_null(base);
	for (i = 0; i < 15; i++) {
		params_ok(&p, &m);
		switch (i) {
		case 0:
			p.address = NULL;
			break;
		case 1:
			p.address = "1.2.3";
			break;
		case 2:
			p.address =
			    "mx1.dane.test"; /* names are not resolved here */
			break;
		case 3:
			p.port = 0;
			break;
		case 4:
			p.tls.sni = NULL; /* DANE needs a base domain */
			break;
		case 5:
			p.tls.sni = "";
			break;
		case 6:
			p.helo_name = NULL;
			break;
		case 7:
			m.nrcpts = SMTP_RCPTS_MAX + 1;
			break;
		case 8:
			m.from = NULL;
			break;
		case 9:
			p.nmsgs = SMTP_MSGS_MAX + 1;
			break;
		case 10:
			p.mode = (enum smtp_tls_mode)42;
			break;
		case 11: /* TLS first, but the mode forbids TLS */
			p.tls_start = SMTP_TLS_START_IMPLICIT;
			p.mode = SMTP_TLS_NONE;
			break;
		case 12:
			p.tls_start = SMTP_TLS_START_ONLY;
			p.mode = SMTP_TLS_NONE;
			break;
		case 13: /* TLS only never reaches MAIL */
			p.tls_start = SMTP_TLS_START_ONLY;
			break;
		case 14:
			p.tls_start = (enum smtp_tls_start)7;
			break;
		}
		assert_int_equal(
		    smtp_session_start(base, NULL, &p, done_never, NULL, &s),
		    -ERR_USAGE);
		assert_null(s);
	}
	/* nothing was scheduled */
	assert_int_equal(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	event_base_free(base);
}

static void
test_timeouts_default_rfc5321(void **state)
{
	struct smtp_timeouts t;

	smtp_timeouts_default(&t);
	assert_int_equal(t.connect, 30000);
	assert_int_equal(t.greeting, 300000);
	assert_int_equal(t.mail, 300000);
	assert_int_equal(t.rcpt, 300000);
	assert_int_equal(t.data_init, 120000);
	assert_int_equal(t.data_block, 180000);
	assert_int_equal(t.data_final, 600000);
	smtp_timeouts_all(&t, 5);
	assert_int_equal(t.data_final, 5);
	assert_int_equal(t.connect, 5);
}

static void
test_names(void **state)
{
	assert_string_equal(smtp_result_str(SMTP_RESULT_DANE_AUTHENTICATED),
	    "dane-authenticated");
	assert_string_equal(smtp_result_str(SMTP_RESULT_TLS_UNAUTHENTICATED),
	    "tls-unauthenticated");
	assert_string_equal(
	    smtp_result_str(SMTP_RESULT_STARTTLS_MISSING), "starttls-missing");
	assert_string_equal(
	    smtp_result_str(SMTP_RESULT_CONNECT_FAILED), "connect-failed");
	assert_string_equal(smtp_result_str((enum smtp_result)99), "unknown");
	assert_true(smtp_result_usable(SMTP_RESULT_PLAINTEXT));
	assert_false(smtp_result_usable(SMTP_RESULT_DANE_FAILED));
	assert_false(smtp_result_usable(SMTP_RESULT_TLS_FAILED));
	assert_string_equal(smtp_outcome_str(SMTP_OUTCOME_TEMP), "temp");
}

static uint8_t digest[32];

static void
plan_make(struct plan *pl, enum dnssec_status mx, enum plan_mode mode)
{
	struct plan_host *h = &pl->hosts[0];

	memset(pl, 0, sizeof(*pl));
	(void)strlcpy(pl->domain, "example.org", sizeof(pl->domain));
	(void)strlcpy(
	    pl->domain_expanded, "example.com", sizeof(pl->domain_expanded));
	pl->mx_dnssec = mx;
	pl->nhosts = 1;
	(void)strlcpy(h->name, "mx1.example.com", sizeof(h->name));
	(void)strlcpy(h->tlsa_base, "mx.provider.net", sizeof(h->tlsa_base));
	h->naddrs = 1;
	h->addrs[0].family = 2;
	(void)strlcpy(
	    h->addrs[0].address, "192.0.2.1", sizeof(h->addrs[0].address));
	h->addrs[0].dnssec = DNSSEC_SECURE;
	h->mode = mode;
	h->ntlsa = 3;
	h->tlsa[0].rr = (struct tlsa_rr){3, 1, 1, digest, 32};
	h->tlsa[0].verdict = TLSA_USABLE;
	h->tlsa[1].rr = (struct tlsa_rr){1, 1, 1, digest, 32};
	h->tlsa[1].verdict = TLSA_UNUSABLE_PKIX_USAGE;
	h->tlsa[2].rr = (struct tlsa_rr){2, 0, 1, digest, 32};
	h->tlsa[2].verdict = TLSA_USABLE;
}

static void
test_params_from_plan_secure_mx(void **state)
{
	struct plan pl;
	struct smtp_params p;

	plan_make(&pl, DNSSEC_SECURE, PLAN_MODE_DANE);
	memset(&p, 0, sizeof(p));
	assert_int_equal(smtp_params_from_plan(&p, &pl, &pl.hosts[0], 0), 0);
	assert_int_equal(p.mode, SMTP_TLS_DANE);
	assert_true(p.tls.dane);
	assert_true(p.addr_dnssec);
	assert_string_equal(p.address, "192.0.2.1");
	assert_string_equal(p.tls.sni, "mx.provider.net");
	/* RFC 7672 §3.2.2: the next hop, original and CNAME-expanded */
	assert_int_equal(p.tls.nrefids, 2);
	assert_string_equal(p.tls.refids[0], "example.org");
	assert_string_equal(p.tls.refids[1], "example.com");
	/* only the usable records */
	assert_int_equal(p.tls.ntlsa, 2);
	assert_ptr_equal(p.tls.tlsa[0], &pl.hosts[0].tlsa[0].rr);
	assert_ptr_equal(p.tls.tlsa[1], &pl.hosts[0].tlsa[2].rr);
}

static void
test_params_from_plan_insecure_mx(void **state)
{
	struct plan pl;
	struct smtp_params p;

	/* DANE via an insecure MX: the MX host name is the only refid. */
	plan_make(&pl, DNSSEC_INSECURE, PLAN_MODE_DANE);
	assert_int_equal(smtp_params_from_plan(&p, &pl, &pl.hosts[0], 0), 0);
	assert_int_equal(p.tls.nrefids, 1);
	assert_string_equal(p.tls.refids[0], "mx1.example.com");
}

static void
test_params_from_plan_modes(void **state)
{
	struct plan pl;
	struct smtp_params p;

	plan_make(&pl, DNSSEC_SECURE, PLAN_MODE_TLS_REQUIRED);
	assert_int_equal(smtp_params_from_plan(&p, &pl, &pl.hosts[0], 0), 0);
	assert_int_equal(p.mode, SMTP_TLS_REQUIRED);
	assert_false(p.tls.dane);
	assert_int_equal(p.tls.ntlsa, 0);
	assert_string_equal(p.tls.sni, "mx.provider.net");

	plan_make(&pl, DNSSEC_SECURE, PLAN_MODE_OPPORTUNISTIC);
	pl.hosts[0].tlsa_base[0] = '\0';
	assert_int_equal(smtp_params_from_plan(&p, &pl, &pl.hosts[0], 0), 0);
	assert_int_equal(p.mode, SMTP_TLS_OPPORTUNISTIC);
	assert_string_equal(p.tls.sni, "mx1.example.com");

	plan_make(&pl, DNSSEC_SECURE, PLAN_MODE_SKIP);
	assert_int_equal(
	    smtp_params_from_plan(&p, &pl, &pl.hosts[0], 0), -ERR_USAGE);
	plan_make(&pl, DNSSEC_SECURE, PLAN_MODE_DANE);
	assert_int_equal(
	    smtp_params_from_plan(&p, &pl, &pl.hosts[0], 1), -ERR_USAGE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_body_encode_table),
	    cmocka_unit_test(test_body_encode_nul_kept),
	    cmocka_unit_test(test_session_start_refuses_bad_params),
	    cmocka_unit_test(test_timeouts_default_rfc5321),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_params_from_plan_secure_mx),
	    cmocka_unit_test(test_params_from_plan_insecure_mx),
	    cmocka_unit_test(test_params_from_plan_modes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
