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
#include "resolver_opts.h"

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

/* getopt_long values of the options both commands take. */
enum {
	LIVE_OPT_PORT = 0x1200, /* --port N */
	LIVE_OPT_TIMEOUT,	/* --timeout SECONDS */
	LIVE_OPT_BAD,		/* tlsa_live_getopt(): a bad value */
};

/* clang-format off */
/* The end of both commands' struct option tables. */
#define LIVE_LONG_OPTIONS_END \
	{"port", required_argument, NULL, LIVE_OPT_PORT}, \
	{"timeout", required_argument, NULL, LIVE_OPT_TIMEOUT}, \
	{"help", no_argument, NULL, 'h'}, \
	RESOLVER_LONG_OPTIONS, \
	{NULL, 0, NULL, 0}
/* clang-format on */

/*
 * Handle one getopt_long() result: a resolver option (resolver_opts.h),
 * --port or --timeout.  Returns 1 when ch was one of them (lv updated), 0
 * when not, -1 on a bad value: *errstr says why (the caller prints it), or
 * is NULL when the message is already on stderr.
 */
int tlsa_live_opt(int ch, char *arg, struct tlsa_live *lv, const char **errstr);

/*
 * getopt_long() that handles the options of tlsa_live_opt() itself: the
 * next other option, -1 at the end, or LIVE_OPT_BAD after a bad value
 * (*errstr as tlsa_live_opt() sets it).  The caller resets optind first.
 */
struct option;
int tlsa_live_getopt(int argc, char **argv, const char *shortopts,
    const struct option *opts, struct tlsa_live *lv, const char **errstr);
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
