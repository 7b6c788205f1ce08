/*
 * DNSSEC-validating lookups on the libevent loop (RFC 7672 §2.1, RFC 4035
 * §4.3).  Choice: libunbound's ub_resolve_async() with a resolver thread
 * (ub_ctx_async(ctx, 1)), its ub_fd() watched by an event and drained with
 * ub_process().  The ub_result hands us the validated status, rcode, the
 * canonical name and each RDATA apart, so the only wire data we parse is
 * RDATA, not whole packets; a per-query timer plus ub_cancel() bounds every
 * lookup.  Also the bounded RDATA parsers for MX, CNAME, A and AAAA.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <unbound.h>

#include "config.h"
#include "danemta/buf.h"
#include "danemta/dns.h"
#include "danemta/err.h"
#include "danemta/log.h"
#include "danemta/util.h"

struct dns_q {
	struct dns_ctx *ctx;
	dns_cb cb;
	void *arg;
	char *name;
	uint16_t type;
	int async_id;
	bool in_ub;		 /* handed to libunbound, not yet answered */
	const char *early_error; /* error to deliver from the timer */
	struct event *timer;
	struct dns_q *prev, *next;
};

struct dns_ctx {
	struct event_base *base;
	struct ub_ctx *ub;
	struct event *ub_ev;
	FILE *devnull;
	unsigned int timeout;
	struct dns_q *queries;
	size_t in_ub; /* queries waiting on libunbound */
};

const char *
dns_lookup_str(enum dns_lookup l)
{
	switch (l) {
	case DNS_LOOKUP_DATA:
		return "data";
	case DNS_LOOKUP_NODATA:
		return "nodata";
	case DNS_LOOKUP_NXDOMAIN:
		return "nxdomain";
	case DNS_LOOKUP_ERROR:
		return "error";
	}
	return "error";
}

const char *
dns_type_str(uint16_t rrtype)
{
	static char buf[16];

	switch (rrtype) {
	case DNS_TYPE_A:
		return "A";
	case DNS_TYPE_CNAME:
		return "CNAME";
	case DNS_TYPE_MX:
		return "MX";
	case DNS_TYPE_AAAA:
		return "AAAA";
	case DNS_TYPE_TLSA:
		return "TLSA";
	}
	(void)snprintf(buf, sizeof(buf), "TYPE%u", (unsigned int)rrtype);
	return buf;
}

static const char *
rcode_str(int rcode)
{
	static const char *const names[] = {
	    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};

	if (rcode >= 0 && (size_t)rcode < sizeof(names) / sizeof(names[0]))
		return names[rcode];
	return "unexpected RCODE";
}

/* ---- RDATA parsers: hostile input ---- */

int
dns_rdata_mx(
    const uint8_t *rd, size_t len, uint16_t *pref, char *name, size_t namesz)
{
	struct rbuf rb;
	int r;

	*pref = 0;
	if (namesz > 0)
		name[0] = '\0';
	rbuf_init(&rb, rd, len);
	if ((r = rbuf_get_u16(&rb, pref)) < 0)
		return r;
	if ((r = dns_name_parse(&rb, name, namesz)) < 0)
		return r;
	return rbuf_left(&rb) == 0 ? 0 : -ERR_FORMAT;
}

int
dns_rdata_cname(const uint8_t *rd, size_t len, char *name, size_t namesz)
{
	struct rbuf rb;
	int r;

	if (namesz > 0)
		name[0] = '\0';
	rbuf_init(&rb, rd, len);
	if ((r = dns_name_parse(&rb, name, namesz)) < 0)
		return r;
	return rbuf_left(&rb) == 0 ? 0 : -ERR_FORMAT;
}

static int
rdata_addr(
    int af, size_t want, const uint8_t *rd, size_t len, char *out, size_t outsz)
{
	if (outsz > 0)
		out[0] = '\0';
	if (len != want)
		return len < want ? -ERR_TRUNCATED : -ERR_FORMAT;
	if (outsz < INET6_ADDRSTRLEN)
		return -ERR_TOOBIG;
	if (inet_ntop(af, rd, out, (socklen_t)outsz) == NULL)
		return -ERR_FORMAT;
	return 0;
}

int
dns_rdata_a(const uint8_t *rd, size_t len, char *out, size_t outsz)
{
	return rdata_addr(AF_INET, 4, rd, len, out, outsz);
}

int
dns_rdata_aaaa(const uint8_t *rd, size_t len, char *out, size_t outsz)
{
	return rdata_addr(AF_INET6, 16, rd, len, out, outsz);
}

/* ---- the resolver ---- */

static void
ub_ev_update(struct dns_ctx *ctx)
{
	/* Watch libunbound's pipe only while answers are due: the loop can end. */
	if (ctx->in_ub > 0)
		(void)event_add(ctx->ub_ev, NULL);
	else
		(void)event_del(ctx->ub_ev);
}

static void
q_unlink(struct dns_q *q)
{
	struct dns_ctx *ctx = q->ctx;

	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		ctx->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	if (q->in_ub) {
		q->in_ub = false;
		ctx->in_ub--;
		ub_ev_update(ctx);
	}
	event_free(q->timer);
	q->timer = NULL;
}

static void
q_free(struct dns_q *q)
{
	if (q == NULL)
		return;
	free(q->name);
	free(q);
}

static void
q_fail(struct dns_q *q, const char *error)
{
	struct dns_answer a;

	memset(&a, 0, sizeof(a));
	a.qname = q->name;
	a.qtype = q->type;
	a.lookup = DNS_LOOKUP_ERROR;
	a.dnssec = DNSSEC_INDETERMINATE;
	a.rcode = -1;
	a.error = error;
	q_unlink(q);
	q->cb(&a, q->arg);
	q_free(q);
}

/* Sort a ub_result into lookup + status (checklist §1.1). */
static void
classify(int err, const struct ub_result *res, struct dns_answer *a, char *ebuf,
    size_t esz)
{
	a->dnssec = DNSSEC_INDETERMINATE;
	a->lookup = DNS_LOOKUP_ERROR;
	a->rcode = -1;
	if (err != 0) {
		(void)snprintf(ebuf, esz, "resolver: %s", ub_strerror(err));
		return;
	}
	a->rcode = res->rcode;
	if (res->bogus) {
		const char *why = res->why_bogus != NULL ? res->why_bogus : "";
		char clean[200];

		a->dnssec = DNSSEC_BOGUS;
		(void)log_sanitise(clean, sizeof(clean), why, strlen(why));
		(void)snprintf(ebuf, esz, "DNSSEC bogus%s%s",
		    clean[0] != '\0' ? ": " : "", clean);
		return;
	}
	if (res->rcode == 0 || res->rcode == 3) {
		a->dnssec = res->secure ? DNSSEC_SECURE : DNSSEC_INSECURE;
		if (res->rcode == 3)
			a->lookup = DNS_LOOKUP_NXDOMAIN;
		else
			a->lookup =
			    res->havedata ? DNS_LOOKUP_DATA : DNS_LOOKUP_NODATA;
		return;
	}
	(void)snprintf(ebuf, esz, "%s", rcode_str(res->rcode));
}

static void
on_ub_result(void *arg, int err, struct ub_result *res)
{
	struct dns_q *q = arg;
	struct dns_answer a;
	struct dns_rdata *rds = NULL;
	uint8_t *store = NULL, *pkt = NULL;
	char *canon = NULL;
	char ebuf[256] = "";
	size_t n = 0, total = 0, i, off = 0;

	memset(&a, 0, sizeof(a));
	a.qname = q->name;
	a.qtype = q->type;
	classify(err, res, &a, ebuf, sizeof(ebuf));
	if (res != NULL && a.lookup == DNS_LOOKUP_DATA) {
		a.ttl = (uint32_t)(res->ttl < 0 ? 0 : res->ttl);
		while (n <= DNS_RRSET_MAX && res->data[n] != NULL)
			total += (size_t)res->len[n++];
		if (n > DNS_RRSET_MAX) {
			a.lookup = DNS_LOOKUP_ERROR;
			a.dnssec = DNSSEC_INDETERMINATE;
			(void)snprintf(ebuf, sizeof(ebuf),
			    "answer over %d records", DNS_RRSET_MAX);
			n = 0;
		}
		rds = xcalloc(n + 1, sizeof(*rds));
		store = xmalloc(total + 1);
		for (i = 0; i < n; i++) {
			memcpy(store + off, res->data[i], (size_t)res->len[i]);
			rds[i].data = store + off;
			rds[i].len = (size_t)res->len[i];
			off += (size_t)res->len[i];
		}
		a.rdata = rds;
		a.nrdata = n;
	}
	if (res != NULL && res->canonname != NULL &&
	    !dns_name_eq(res->canonname, q->name) &&
	    a.lookup != DNS_LOOKUP_ERROR) {
		canon = xstrdup(res->canonname);
		/* Presentation form without the final dot, as everywhere here. */
		total = strlen(canon);
		if (total > 1 && canon[total - 1] == '.')
			canon[total - 1] = '\0';
	}
	if (res != NULL && res->answer_packet != NULL && res->answer_len > 0) {
		pkt = xmalloc((size_t)res->answer_len);
		memcpy(pkt, res->answer_packet, (size_t)res->answer_len);
		a.packet = pkt;
		a.packet_len = (size_t)res->answer_len;
	}
	ub_resolve_free(res);
	a.canonname = canon;
	a.error = a.lookup == DNS_LOOKUP_ERROR ? ebuf : NULL;
	log_debug("dns: %s %s: %s %s%s%s", q->name, dns_type_str(q->type),
	    dns_lookup_str(a.lookup), dnssec_status_str(a.dnssec),
	    a.error != NULL ? ": " : "", a.error != NULL ? a.error : "");
	q_unlink(q);
	q->cb(&a, q->arg);
	q_free(q);
	free(canon);
	free(rds);
	free(store);
	free(pkt);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dns_q *q = arg;
	char ebuf[64];

	if (q->in_ub) {
		(void)ub_cancel(q->ctx->ub, q->async_id);
		(void)snprintf(ebuf, sizeof(ebuf), "timed out after %u s",
		    q->ctx->timeout);
		log_debug(
		    "dns: %s %s: %s", q->name, dns_type_str(q->type), ebuf);
		q_fail(q, ebuf);
		return;
	}
	q_fail(q, q->early_error != NULL ? q->early_error : "resolver failure");
}

static void
on_ub_fd(evutil_socket_t fd, short what, void *arg)
{
	struct dns_ctx *ctx = arg;
	int r;

	if ((r = ub_process(ctx->ub)) != 0)
		log_warnx("dns: ub_process: %s", ub_strerror(r));
}

void
dns_query(struct dns_ctx *ctx, const char *name, uint16_t rrtype, dns_cb cb,
    void *arg)
{
	struct dns_q *q = xcalloc(1, sizeof(*q));
	struct timeval tv = {0, 0};
	int r;

	q->ctx = ctx;
	q->cb = cb;
	q->arg = arg;
	q->name = xstrdup(name);
	q->type = rrtype;
	q->next = ctx->queries;
	if (ctx->queries != NULL)
		ctx->queries->prev = q;
	ctx->queries = q;
	q->timer = evtimer_new(ctx->base, on_timer, q);
	if (q->timer == NULL)
		fatalx("dns: cannot create a timer");
	r = ub_resolve_async(
	    ctx->ub, q->name, rrtype, 1, q, on_ub_result, &q->async_id);
	if (r != 0) {
		q->early_error = ub_strerror(r);
	} else {
		q->in_ub = true;
		ctx->in_ub++;
		ub_ev_update(ctx);
		tv.tv_sec = (time_t)ctx->timeout;
	}
	(void)evtimer_add(q->timer, &tv);
}

static int
readable(const char *what, const char *path, char **errmsg)
{
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		(void)xasprintf(errmsg, "cannot read %s %s: %s", what, path,
		    strerror(errno));
		return -ERR_IO;
	}
	(void)fclose(f);
	return 0;
}

static int
ub_err(int r, const char *what, const char *val, char **errmsg)
{
	if (r == 0)
		return 0;
	(void)xasprintf(errmsg, "%s %s: %s", what, val, ub_strerror(r));
	return -ERR_DNS;
}

static int
ctx_configure(struct dns_ctx *ctx, const struct dns_config *cfg, char **errmsg)
{
	size_t i;

	if (ub_err(ub_ctx_async(ctx->ub, 1), "resolver", "threads", errmsg))
		return -ERR_DNS;
	if (cfg->unbound_config != NULL) {
		if (readable("unbound configuration", cfg->unbound_config,
			errmsg) < 0 ||
		    ub_err(ub_ctx_config(ctx->ub, cfg->unbound_config),
			"unbound configuration", cfg->unbound_config, errmsg))
			return -ERR_DNS;
	}
	for (i = 0; i < cfg->nresolvers; i++)
		if (ub_err(ub_ctx_set_fwd(ctx->ub, cfg->resolvers[i]),
			"resolver", cfg->resolvers[i], errmsg))
			return -ERR_USAGE;
	/* A resolver named on the command line may well be on loopback. */
	if (cfg->nresolvers > 0 &&
	    ub_err(ub_ctx_set_option(ctx->ub, "do-not-query-localhost:", "no"),
		"option", "do-not-query-localhost", errmsg))
		return -ERR_DNS;
	for (i = 0; i < cfg->ntrust_anchors; i++)
		if (readable("trust anchor", cfg->trust_anchors[i], errmsg) <
			0 ||
		    ub_err(ub_ctx_add_ta_file(ctx->ub, cfg->trust_anchors[i]),
			"trust anchor", cfg->trust_anchors[i], errmsg))
			return -ERR_DNS;
	/* The root key is the default only when nothing else says what to trust. */
	if (cfg->ntrust_anchors == 0 && cfg->unbound_config == NULL) {
		if (readable("root trust anchor", DANEMTA_ROOT_KEY, errmsg) <
			0 ||
		    ub_err(ub_ctx_add_ta_file(ctx->ub, DANEMTA_ROOT_KEY),
			"trust anchor", DANEMTA_ROOT_KEY, errmsg))
			return -ERR_DNS;
	}
	if (log_get_level() < LOG_LEVEL_DEBUG && ctx->devnull != NULL)
		(void)ub_ctx_debugout(ctx->ub, ctx->devnull);
	return 0;
}

struct dns_ctx *
dns_ctx_new(
    struct event_base *base, const struct dns_config *cfg, char **errmsg)
{
	struct dns_ctx *ctx = xcalloc(1, sizeof(*ctx));

	*errmsg = NULL;
	ctx->base = base;
	ctx->timeout = cfg->timeout != 0 ? cfg->timeout : DNS_TIMEOUT_DEFAULT;
	if (ctx->timeout > DNS_TIMEOUT_MAX)
		ctx->timeout = DNS_TIMEOUT_MAX;
	ctx->devnull = fopen("/dev/null", "w");
	if ((ctx->ub = ub_ctx_create()) == NULL) {
		*errmsg = xstrdup("cannot create a libunbound context");
		goto fail;
	}
	if (ctx_configure(ctx, cfg, errmsg) < 0)
		goto fail;
	ctx->ub_ev = event_new(
	    base, ub_fd(ctx->ub), EV_READ | EV_PERSIST, on_ub_fd, ctx);
	if (ctx->ub_ev == NULL) {
		*errmsg = xstrdup("cannot watch the resolver");
		goto fail;
	}
	return ctx;
fail:
	dns_ctx_free(ctx);
	return NULL;
}

void
dns_ctx_free(struct dns_ctx *ctx)
{
	struct dns_q *q, *next;

	if (ctx == NULL)
		return;
	for (q = ctx->queries; q != NULL; q = next) {
		next = q->next;
		if (q->in_ub)
			(void)ub_cancel(ctx->ub, q->async_id);
		event_free(q->timer);
		q_free(q);
	}
	ctx->queries = NULL;
	ctx->in_ub = 0;
	if (ctx->ub_ev != NULL)
		event_free(ctx->ub_ev);
	if (ctx->ub != NULL)
		ub_ctx_delete(ctx->ub);
	if (ctx->devnull != NULL)
		(void)fclose(ctx->devnull);
	free(ctx);
}

struct event_base *
dns_ctx_base(struct dns_ctx *ctx)
{
	return ctx->base;
}

unsigned int
dns_ctx_timeout(const struct dns_ctx *ctx)
{
	return ctx->timeout;
}
