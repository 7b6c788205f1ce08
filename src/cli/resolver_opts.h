/*
 * The resolver options shared by every command that resolves:
 * --resolver ADDR[@PORT] (repeatable), --trust-anchor FILE (repeatable),
 * --unbound-config FILE, --dns-timeout SECONDS.
 */
#ifndef DANEMTA_CLI_RESOLVER_OPTS_H
#define DANEMTA_CLI_RESOLVER_OPTS_H

#include <getopt.h>

#include "danemta/dns.h"

/* getopt_long values, out of the range of short options. */
enum {
	RESOLVER_OPT_RESOLVER = 0x1000,
	RESOLVER_OPT_TRUST_ANCHOR,
	RESOLVER_OPT_UNBOUND_CONFIG,
	RESOLVER_OPT_DNS_TIMEOUT,
};

/* clang-format off */
/* Entries to put in a command's struct option table. */
#define RESOLVER_LONG_OPTIONS \
	{"resolver", required_argument, NULL, RESOLVER_OPT_RESOLVER}, \
	{"trust-anchor", required_argument, NULL, RESOLVER_OPT_TRUST_ANCHOR}, \
	{"unbound-config", required_argument, NULL, RESOLVER_OPT_UNBOUND_CONFIG}, \
	{"dns-timeout", required_argument, NULL, RESOLVER_OPT_DNS_TIMEOUT}

/* Lines for a command's usage text. */
#define RESOLVER_OPTS_USAGE \
	"  --resolver ADDR[@PORT]  query this recursive resolver (repeatable);\n" \
	"                          answers are still validated here\n" \
	"  --trust-anchor FILE     DS or DNSKEY records, zone-file form\n" \
	"                          (repeatable)\n" \
	"  --unbound-config FILE   a libunbound configuration file\n" \
	"  --dns-timeout SECONDS   per-lookup deadline (default 10)\n"
/* clang-format on */

/*
 * Handle one getopt_long() result.  Returns 1 when ch was a resolver
 * option (cfg updated), 0 when it is not one, -1 on a bad value (a
 * one-line message already printed on stderr: exit with EX_USAGE).
 * cfg keeps pointers to the argument strings.
 */
int resolver_opt(int ch, char *arg, struct dns_config *cfg);

/* Parse ADDR[@PORT] (IPv4 or IPv6 address, port 1-65535): 0 or -1. */
int resolver_addr_check(const char *s);

#endif
