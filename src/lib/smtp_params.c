/*
 * SMTP client parameters and names: the RFC 5321 §4.5.3.2 timeouts, the
 * result and outcome names, and the mapping of a destination plan's host
 * to a session (RFC 7672 §2.2 modes, §3.2.2 reference identifiers).
 */
#include <string.h>
#include <strings.h>

#include "danemta/plan.h"
#include "danemta/smtp_client.h"
#include "danemta/err.h"

void
smtp_timeouts_default(struct smtp_timeouts *t)
{
	t->connect = 30 * 1000;
	t->greeting = 300 * 1000;
	t->ehlo = 300 * 1000;
	t->starttls = 300 * 1000;
	t->mail = 300 * 1000;
	t->rcpt = 300 * 1000;
	t->data_init = 120 * 1000;
	t->data_block = 180 * 1000;
	t->data_final = 600 * 1000;
}

void
smtp_timeouts_all(struct smtp_timeouts *t, unsigned int ms)
{
	t->connect = t->greeting = t->ehlo = t->starttls = ms;
	t->mail = t->rcpt = t->data_init = t->data_block = t->data_final = ms;
}

const char *
smtp_result_str(enum smtp_result r)
{
	static const char *const names[] = {
	    [SMTP_RESULT_NONE] = "none",
	    [SMTP_RESULT_DANE_AUTHENTICATED] = "dane-authenticated",
	    [SMTP_RESULT_TLS] = "tls",
	    [SMTP_RESULT_TLS_UNAUTHENTICATED] = "tls-unauthenticated",
	    [SMTP_RESULT_PLAINTEXT] = "plaintext",
	    [SMTP_RESULT_STARTTLS_MISSING] = "starttls-missing",
	    [SMTP_RESULT_TLS_FAILED] = "tls-failed",
	    [SMTP_RESULT_DANE_FAILED] = "dane-failed",
	    [SMTP_RESULT_CONNECT_FAILED] = "connect-failed",
	    [SMTP_RESULT_SMTP_FAILED] = "smtp-failed",
	};

	if ((size_t)r >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[r];
}

bool
smtp_result_usable(enum smtp_result r)
{
	return r == SMTP_RESULT_DANE_AUTHENTICATED || r == SMTP_RESULT_TLS ||
	    r == SMTP_RESULT_TLS_UNAUTHENTICATED || r == SMTP_RESULT_PLAINTEXT;
}

const char *
smtp_outcome_str(enum smtp_outcome o)
{
	switch (o) {
	case SMTP_OUTCOME_OK:
		return "ok";
	case SMTP_OUTCOME_TEMP:
		return "temp";
	case SMTP_OUTCOME_PERM:
		return "perm";
	default:
		return "none";
	}
}

static enum smtp_tls_mode
mode_from_plan(enum plan_mode m)
{
	switch (m) {
	case PLAN_MODE_DANE:
		return SMTP_TLS_DANE;
	case PLAN_MODE_TLS_REQUIRED:
		return SMTP_TLS_REQUIRED;
	default:
		return SMTP_TLS_OPPORTUNISTIC;
	}
}

static void
refid_add(struct dane_params *t, const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0' || t->nrefids >= DANE_REFIDS_MAX)
		return;
	for (i = 0; i < t->nrefids; i++)
		if (strcasecmp(t->refids[i], name) == 0)
			return;
	t->refids[t->nrefids++] = name;
}

int
smtp_params_from_plan(struct smtp_params *p, const struct plan *plan,
    const struct plan_host *host, size_t addr)
{
	struct dane_params *t = &p->tls;
	size_t i;

	if (addr >= host->naddrs || host->mode == PLAN_MODE_SKIP)
		return -ERR_USAGE;
	p->address = host->addrs[addr].address;
	p->addr_dnssec = host->addrs[addr].dnssec == DNSSEC_SECURE;
	p->host = host->name;
	p->mode = mode_from_plan(host->mode);
	memset(t, 0, sizeof(*t));
	t->dane = p->mode == SMTP_TLS_DANE;
	t->sni = host->tlsa_base[0] != '\0' ? host->tlsa_base : host->name;
	if (t->dane && (plan->mx_dnssec == DNSSEC_SECURE || host->implicit)) {
		/* RFC 7672 §3.2.2: the next-hop domain, original and expanded. */
		refid_add(t, plan->domain);
		refid_add(t, plan->domain_expanded);
	} else if (t->dane) {
		/* An insecure MX: its host name is the only identifier. */
		refid_add(t, host->name);
	}
	for (i = 0; t->dane && i < host->ntlsa; i++)
		if (host->tlsa[i].verdict == TLSA_USABLE &&
		    t->ntlsa < TLSA_RRSET_MAX)
			t->tlsa[t->ntlsa++] = &host->tlsa[i].rr;
	return 0;
}
