/*
 * What `danemta tlsa verify` and `danemta tlsa rollover` share: the plan of
 * one host (or one mail domain's MX hosts), a dry-run delivery to every
 * address (deliver.h, probe_all), each TLSA record matched against each
 * presented chain, and the diagnostics' extra lookups.  Private to the CLI.
 */
#ifndef DANEMTA_CLI_TLSA_LIVE_H
#define DANEMTA_CLI_TLSA_LIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "danemta/deliver.h"
#include "danemta/diag.h"
#include "danemta/dns.h"
#include "danemta/plan.h"

#define LIVE_ADDRS_MAX ((size_t)PLAN_HOSTS_MAX * PLAN_ADDRS_MAX)
#define LIVE_TIMEOUT_DEFAULT 30 /* seconds per SMTP step */
#define LIVE_TIMEOUT_MAX 600

struct tlsa_live {
	/* inputs */
	struct dns_config dns;
	const char *name; /* a host, or a mail domain with mx */
	bool mx;
	uint16_t port;
	unsigned int timeout; /* SMTP seconds, 0: the default */
	bool connect;	      /* false: DNS only */
	/* results */
	struct plan *plan;
	struct deliver *dlv; /* NULL when no session ran */
	const struct deliver_result *dr;
	struct diag_dns ddns;
	struct diag_addr addrs[LIVE_ADDRS_MAX];
	size_t naddrs;
	char error[320]; /* set when the run returns non-zero */
};

/*
 * Resolve, connect and match.  Returns EX_OK, EX_UNAVAILABLE (resolver
 * or TLS context) or EX_USAGE (an invalid name), with lv->error set.
 */
int tlsa_live_run(struct tlsa_live *lv);
void tlsa_live_clear(struct tlsa_live *lv);

/* A (usage, selector, mtype) group's state at one address. */
enum live_group {
	LIVE_GROUP_MATCH = 0, /* a record of the group matches the chain */
	LIVE_GROUP_NONE,      /* no record of the group matches */
	LIVE_GROUP_UNKNOWN,   /* could not tell */
};
enum live_group tlsa_live_group(
    const struct plan_host *h, const struct diag_addr *a, size_t rec);
/* Does record i take part in the invariant (usable or pruned)? */
bool tlsa_live_counts(const struct plan_host *h, size_t i);

#endif
