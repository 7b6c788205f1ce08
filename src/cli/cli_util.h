/*
 * Command-line plumbing the delivering commands share (private to the
 * CLI): the delivery options of check and send, the policy file, the log
 * level of -v, and the event loop with its resolver.
 */
#ifndef DANEMTA_CLI_UTIL_H
#define DANEMTA_CLI_UTIL_H

#include <stdbool.h>

#include <event2/event.h>

#include "danemta/dane.h"
#include "danemta/deliver.h"
#include "danemta/dns.h"
#include "danemta/plan.h"
#include "danemta/policy.h"

#define DELIVERY_TIMEOUT_MAX 3600 /* --timeout, seconds */

/* getopt_long values, out of the range of short and resolver options. */
enum {
	DELIVERY_OPT_POLICY = 0x1100,
	DELIVERY_OPT_POLICY_FILE,
	DELIVERY_OPT_PORT,
	DELIVERY_OPT_HELO,
	DELIVERY_OPT_TIMEOUT,
	DELIVERY_OPT_INSECURE_MX,
	DELIVERY_OPT_AUDIT,
	DELIVERY_OPT_NO_PLAIN,
};

/* What the delivery options set. */
struct delivery_args {
	struct plan_opts popts;
	struct deliver_opts dopts;
	enum policy_level level;
	const char *policy_file;
};

/* This host's name when it is fully qualified, else "localhost". */
const char *cli_helo_default(void);

/* Defaults: deliver_opts_default(), level dane, EHLO name helo. */
void delivery_args_init(struct delivery_args *a, const char *helo);

/*
 * Handle one getopt_long() result (--policy, --policy-file, --port,
 * --helo, --timeout, --dane-insecure-mx, --dane-audit,
 * --no-plaintext-retry).  Returns 1 when ch was one of them (a updated),
 * 0 when it is not one, -1 on a bad value with *errstr saying why (the
 * caller prints it).  a keeps pointers to the argument strings.
 */
int delivery_opt(
    int ch, const char *arg, struct delivery_args *a, const char **errstr);

/*
 * Load --policy-file into *table (NULL without one).  Returns EX_OK, or
 * EX_CONFIG after "danemta CMD: FILE: why" on stderr.
 */
int cli_policy_load(
    const char *cmd, const char *path, struct policy_table **table);

/*
 * The log level of -v: info once, debug twice.  Returns false when
 * verbose is 0 (the level untouched).
 */
bool cli_log_verbose(int verbose);

/*
 * A new event loop and a resolver on it.  Returns 0, or -1 with *errmsg
 * the resolver's error (caller frees) and nothing left allocated.  An
 * event loop that cannot be made ends the program ("CMD: ...").
 */
int cli_loop_new(const char *cmd, const struct dns_config *cfg,
    struct event_base **base, struct dns_ctx **dns, char **errmsg);

/* As cli_loop_new(); the error as "danemta CMD: why" on stderr. */
int cli_loop_open(const char *cmd, const struct dns_config *cfg,
    struct event_base **base, struct dns_ctx **dns);

/* Free the resolver, the TLS context and the loop (each may be NULL). */
void cli_loop_free(
    struct event_base *base, struct dns_ctx *dns, struct dane_ctx *tls);

#endif
