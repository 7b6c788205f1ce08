/*
 * danemta tlsa create --connect: the chain a live server presents, taken
 * through the library's SMTP client (one message-less session: EHLO,
 * STARTTLS (RFC 3207), handshake, EHLO, QUIT; or implicit TLS, RFC 8314
 * §3.3, on 465; or a bare TLS handshake on other ports).  HOST is resolved
 * with the library's resolver, A before AAAA.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "danemta/dane.h"
#include "danemta/dns.h"
#include "danemta/err.h"
#include "danemta/log.h"
#include "danemta/smtp_client.h"
#include "danemta/util.h"
#include "cli.h"
#include "tlsa_connect.h"

#define CONNECT_HELO "danemta-tlsa.invalid"
#define CONNECT_WHY_MAX 600

struct resolve {
	struct event_base *base;
	int pending;
	char addrs[2][CONNECT_ADDRS_MAX][CONNECT_ADDR_TEXT]; /* A, AAAA */
	size_t naddrs[2];
	enum dns_lookup lookup[2];
	char error[2][256];
};

struct attempt {
	struct event_base *base;
	struct smtp_session *s;
	bool done;
};

int
tlsa_connect_starttls_parse(const char *arg, enum connect_starttls *out)
{
	if (strcmp(arg, "smtp") == 0)
		*out = CONNECT_STARTTLS_SMTP;
	else if (strcmp(arg, "none") == 0)
		*out = CONNECT_STARTTLS_NONE;
	else
		return -1;
	return 0;
}

static void
errx_connect(const struct tlsa_connect *tc, const char *addr, const char *why)
{
	(void)fprintf(stderr, "danemta: tlsa create: %s:%u%s%s%s: %s\n",
	    tc->target.host, tc->used_port, addr != NULL ? " [" : "",
	    addr != NULL ? addr : "", addr != NULL ? "]" : "", why);
}

/* Addresses of one answer into the list of its type (A: [0], AAAA: [1]). */
static void
resolve_cb(const struct dns_answer *ans, void *arg)
{
	struct resolve *rs = arg;
	int k = ans->qtype == DNS_TYPE_AAAA;
	char(*list)[CONNECT_ADDR_TEXT] = rs->addrs[k];
	const char *e = ans->error != NULL ? ans->error : "lookup failed";
	size_t i;
	int r;

	rs->lookup[k] = ans->lookup;
	if (ans->lookup == DNS_LOOKUP_ERROR)
		(void)log_sanitise(
		    rs->error[k], sizeof(rs->error[k]), e, strlen(e));
	for (i = 0; ans->lookup == DNS_LOOKUP_DATA && i < ans->nrdata &&
	     rs->naddrs[k] < CONNECT_ADDRS_MAX;
	     i++) {
		r = k ? dns_rdata_aaaa(ans->rdata[i].data, ans->rdata[i].len,
			    list[rs->naddrs[k]], CONNECT_ADDR_TEXT)
		      : dns_rdata_a(ans->rdata[i].data, ans->rdata[i].len,
			    list[rs->naddrs[k]], CONNECT_ADDR_TEXT);
		if (r == 0)
			rs->naddrs[k]++;
	}
	if (--rs->pending == 0)
		(void)event_base_loopexit(rs->base, NULL);
}

/* HOST's addresses, A first, into out; the count or -exit status. */
static int
resolve(struct tlsa_connect *tc, struct event_base *base,
    char (*out)[CONNECT_ADDR_TEXT])
{
	struct resolve *rs = xcalloc(1, sizeof(*rs));
	struct dns_ctx *dns;
	char *errmsg = NULL, why[CONNECT_WHY_MAX];
	size_t i, n = 0;
	int k, status = 0;

	rs->base = base;
	if ((dns = dns_ctx_new(base, &tc->dns, &errmsg)) == NULL) {
		(void)snprintf(why, sizeof(why), "resolver: %s",
		    errmsg != NULL ? errmsg : "cannot start");
		errx_connect(tc, NULL, why);
		free(errmsg);
		free(rs);
		return -EX_UNAVAILABLE;
	}
	rs->pending = 2;
	dns_query(dns, tc->target.host, DNS_TYPE_A, resolve_cb, rs);
	dns_query(dns, tc->target.host, DNS_TYPE_AAAA, resolve_cb, rs);
	(void)event_base_dispatch(base);
	dns_ctx_free(dns);
	for (k = 0; k < 2; k++)
		for (i = 0; i < rs->naddrs[k] && n < CONNECT_ADDRS_MAX; i++)
			memcpy(out[n++], rs->addrs[k][i], CONNECT_ADDR_TEXT);
	if (n > 0) {
		status = (int)n;
	} else if (rs->pending > 0) {
		errx_connect(
		    tc, NULL, "cannot resolve: the lookup did not end");
		status = -EX_TEMPFAIL;
	} else if (rs->lookup[0] == DNS_LOOKUP_ERROR ||
	    rs->lookup[1] == DNS_LOOKUP_ERROR) {
		(void)snprintf(why, sizeof(why), "cannot resolve: %s",
		    rs->error[rs->lookup[0] == DNS_LOOKUP_ERROR ? 0 : 1]);
		errx_connect(tc, NULL, why);
		status = -EX_TEMPFAIL;
	} else {
		errx_connect(tc, NULL,
		    rs->lookup[0] == DNS_LOOKUP_NXDOMAIN
			? "no such host (NXDOMAIN)"
			: "the host has no IPv4 or IPv6 address");
		status = -EX_NOHOST;
	}
	free(rs);
	return status;
}

static void
attempt_done(struct smtp_session *s, void *arg)
{
	struct attempt *at = arg;

	(void)s;
	at->done = true;
	(void)event_base_loopexit(at->base, NULL);
}

static enum smtp_tls_start
tls_start_of(const struct tlsa_connect *tc)
{
	bool smtp = tc->starttls == CONNECT_STARTTLS_SMTP ||
	    (tc->starttls == CONNECT_STARTTLS_AUTO &&
		(tc->used_port == 25 || tc->used_port == 587));

	if (smtp)
		return SMTP_TLS_START_STARTTLS;
	return tc->used_port == 465 ? SMTP_TLS_START_IMPLICIT
				    : SMTP_TLS_START_ONLY;
}

/* Why a session gave no chain, for one line on stderr. */
static void
fail_reason(const struct smtp_session_result *res, bool implicit, bool last,
    char *dst, size_t dstsz)
{
	const char *r =
	    res->reason[0] != '\0' ? res->reason : smtp_result_str(res->result);
	int n = (int)strlen(r);

	/* The library's "; TLS is required ..., nothing is sent" is about
	 * mail; here the hint is the other way to reach the server. */
	if (res->result == SMTP_RESULT_STARTTLS_MISSING) {
		n = (int)strcspn(r, ";");
		(void)snprintf(dst, dstsz,
		    "%.*s (for a server that speaks TLS first, use "
		    "--starttls none)%s",
		    n, r, last ? "" : "; trying the next address");
		return;
	}
	if (res->result == SMTP_RESULT_TLS_FAILED && implicit) {
		(void)snprintf(dst, dstsz,
		    "%.*s (for a server that speaks SMTP first, use "
		    "--starttls smtp)%s",
		    n, r, last ? "" : "; trying the next address");
		return;
	}
	(void)snprintf(dst, dstsz, "%.*s%s", n, r,
	    last ? "" : "; trying the next address");
}

/* One session to one address: EX_OK with tc->chain, or EX_UNAVAILABLE. */
static int
try_address(struct tlsa_connect *tc, struct event_base *base,
    struct dane_ctx *tls, const char *addr, bool last)
{
	const struct smtp_session_result *res;
	struct attempt at = {base, NULL, false};
	struct smtp_params p;
	char why[CONNECT_WHY_MAX];
	int status = EX_UNAVAILABLE;

	memset(&p, 0, sizeof(p));
	p.address = addr;
	p.port = tc->used_port;
	p.host = tc->target.host;
	p.helo_name = CONNECT_HELO;
	/* Any certificate will do: the point is to read it. */
	p.mode = SMTP_TLS_REQUIRED;
	p.tls_start = tls_start_of(tc);
	p.tls.sni = tc->sni != NULL ? tc->sni
	    : tc->target.literal    ? NULL
				    : tc->target.host;
	smtp_timeouts_all(&p.timeouts,
	    1000 * (tc->timeout ? tc->timeout : CONNECT_TIMEOUT_DEFAULT));
	if (smtp_session_start(base, tls, &p, attempt_done, &at, &at.s) < 0) {
		errx_connect(tc, addr, "cannot start a session");
		return EX_SOFTWARE;
	}
	while (!at.done)
		if (event_base_dispatch(base) < 0)
			break;
	res = smtp_session_result(at.s);
	if (at.done && res->tls && res->peer_chain != NULL &&
	    sk_X509_num(res->peer_chain) > 0) {
		tc->chain = X509_chain_up_ref(res->peer_chain);
		(void)strlcpy(tc->address, addr, sizeof(tc->address));
		status = tc->chain != NULL ? EX_OK : EX_SOFTWARE;
	} else {
		fail_reason(res, p.tls_start != SMTP_TLS_START_STARTTLS, last,
		    why, sizeof(why));
		errx_connect(tc, addr, why);
	}
	smtp_session_free(at.s);
	return status;
}

int
tlsa_connect_fetch(struct tlsa_connect *tc)
{
	char(*addrs)[CONNECT_ADDR_TEXT] = NULL;
	struct event_base *base = NULL;
	struct dane_ctx *tls = NULL;
	int status = EX_UNAVAILABLE, n, i, level = log_get_level();

	tc->chain = NULL;
	tc->used_port = tc->target.port ? tc->target.port
	    : tc->port			? tc->port
					: 25;
	/* The library's warnings would repeat the one line said here. */
	if (level == LOG_LEVEL_WARN)
		log_set_level(LOG_LEVEL_ERR);
	if ((base = event_base_new()) == NULL || dane_ctx_new(&tls) < 0) {
		errx_connect(tc, NULL, "cannot set up the event loop or TLS");
		status = EX_SOFTWARE;
		goto out;
	}
	addrs = xcalloc(CONNECT_ADDRS_MAX, sizeof(*addrs));
	if (tc->target.literal) {
		(void)strlcpy(addrs[0], tc->target.host, sizeof(addrs[0]));
		n = 1;
	} else if ((n = resolve(tc, base, addrs)) < 0) {
		status = -n;
		goto out;
	}
	for (i = 0; i < n; i++) {
		status = try_address(tc, base, tls, addrs[i], i + 1 == n);
		if (status != EX_UNAVAILABLE)
			break;
	}
out:
	log_set_level(level);
	free(addrs);
	dane_ctx_free(tls);
	if (base != NULL)
		event_base_free(base);
	return status;
}

void
tlsa_connect_clear(struct tlsa_connect *tc)
{
	if (tc->chain != NULL)
		sk_X509_pop_free(tc->chain, X509_free);
	tc->chain = NULL;
}
