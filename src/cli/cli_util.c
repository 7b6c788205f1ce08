/*
 * Command-line plumbing the delivering commands share (cli_util.h): one
 * parser for the delivery options, the policy file, -v, and the event loop
 * with its resolver, so check, send and the TLSA tools set them up alike.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "danemta/log.h"
#include "danemta/util.h"
#include "cli.h"
#include "cli_util.h"

const char *
cli_helo_default(void)
{
	static char name[256];
	size_t i;

	/* RFC 5321 §4.1.1.1: a fully qualified domain name, when we have one. */
	if (gethostname(name, sizeof(name) - 1) != 0 ||
	    strchr(name, '.') == NULL)
		return "localhost";
	for (i = 0; name[i] != '\0'; i++)
		if (!(name[i] == '.' || name[i] == '-' ||
			(name[i] >= '0' && name[i] <= '9') ||
			(name[i] >= 'a' && name[i] <= 'z') ||
			(name[i] >= 'A' && name[i] <= 'Z')))
			return "localhost";
	return name;
}

void
delivery_args_init(struct delivery_args *a, const char *helo)
{
	memset(a, 0, sizeof(*a));
	deliver_opts_default(&a->dopts);
	a->dopts.helo_name = helo;
	a->level = POLICY_DANE;
}

int
delivery_opt(
    int ch, const char *arg, struct delivery_args *a, const char **errstr)
{
	long long n;

	*errstr = NULL;
	switch (ch) {
	case DELIVERY_OPT_POLICY:
		if (policy_level_parse(arg, &a->level) < 0)
			*errstr = "unknown level (dane-only, dane, encrypt, "
				  "may, none)";
		break;
	case DELIVERY_OPT_POLICY_FILE:
		a->policy_file = arg;
		break;
	case DELIVERY_OPT_PORT:
		a->popts.port = (uint16_t)strtonum(arg, 1, 65535, errstr);
		break;
	case DELIVERY_OPT_HELO:
		a->dopts.helo_name = arg;
		break;
	case DELIVERY_OPT_TIMEOUT:
		n = strtonum(arg, 1, DELIVERY_TIMEOUT_MAX, errstr);
		if (*errstr == NULL)
			smtp_timeouts_all(
			    &a->dopts.timeouts, (unsigned int)n * 1000);
		break;
	case DELIVERY_OPT_INSECURE_MX:
		a->popts.dane_insecure_mx = true;
		break;
	case DELIVERY_OPT_AUDIT:
		a->dopts.audit = true;
		break;
	case DELIVERY_OPT_NO_PLAIN:
		a->dopts.no_plaintext_retry = true;
		break;
	default:
		return 0;
	}
	return *errstr != NULL ? -1 : 1;
}

int
cli_policy_load(const char *cmd, const char *path, struct policy_table **table)
{
	char err[POLICY_ERROR_MAX];

	*table = NULL;
	if (path == NULL)
		return EX_OK;
	if (policy_table_load(path, table, err, sizeof(err)) < 0) {
		(void)fprintf(stderr, "danemta %s: %s: %s\n", cmd, path, err);
		return EX_CONFIG;
	}
	return EX_OK;
}

bool
cli_log_verbose(int verbose)
{
	if (verbose > 1)
		log_set_level(LOG_LEVEL_DEBUG);
	else if (verbose > 0)
		log_set_level(LOG_LEVEL_INFO);
	return verbose > 0;
}

int
cli_loop_new(const char *cmd, const struct dns_config *cfg,
    struct event_base **base, struct dns_ctx **dns, char **errmsg)
{
	*errmsg = NULL;
	*dns = NULL;
	if ((*base = event_base_new()) == NULL)
		fatalx("%s: cannot create the event loop", cmd);
	if ((*dns = dns_ctx_new(*base, cfg, errmsg)) == NULL) {
		event_base_free(*base);
		*base = NULL;
		return -1;
	}
	return 0;
}

int
cli_loop_open(const char *cmd, const struct dns_config *cfg,
    struct event_base **base, struct dns_ctx **dns)
{
	char *errmsg = NULL;

	if (cli_loop_new(cmd, cfg, base, dns, &errmsg) < 0) {
		(void)fprintf(stderr, "danemta %s: %s\n", cmd, errmsg);
		free(errmsg);
		return -1;
	}
	return 0;
}

void
cli_loop_free(
    struct event_base *base, struct dns_ctx *dns, struct dane_ctx *tls)
{
	dns_ctx_free(dns);
	dane_ctx_free(tls);
	if (base != NULL)
		event_base_free(base);
}
