/*
 * The resolver options of every command that resolves (--resolver,
 * --trust-anchor, --unbound-config, --dns-timeout) into a dns_config.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "danemta/util.h"
#include "resolver_opts.h"

int
resolver_addr_check(const char *s)
{
	char addr[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16];
	const char *at = strrchr(s, '@'), *errstr = NULL;
	size_t len = at != NULL ? (size_t)(at - s) : strlen(s);

	if (len == 0 || len >= sizeof(addr))
		return -1;
	memcpy(addr, s, len);
	addr[len] = '\0';
	if (inet_pton(AF_INET, addr, bin) != 1 &&
	    inet_pton(AF_INET6, addr, bin) != 1)
		return -1;
	if (at != NULL) {
		(void)strtonum(at + 1, 1, 65535, &errstr);
		if (errstr != NULL)
			return -1;
	}
	return 0;
}

static int
add(const char **list, size_t *n, const char *what, char *arg)
{
	if (*n >= DNS_CONFIG_LIST_MAX) {
		(void)fprintf(stderr, "danemta: at most %d %s options\n",
		    DNS_CONFIG_LIST_MAX, what);
		return -1;
	}
	list[(*n)++] = arg;
	return 1;
}

int
resolver_opt(int ch, char *arg, struct dns_config *cfg)
{
	const char *errstr = NULL;

	switch (ch) {
	case RESOLVER_OPT_RESOLVER:
		if (resolver_addr_check(arg) < 0) {
			(void)fprintf(stderr,
			    "danemta: --resolver %s: expected an IP address, "
			    "optionally @PORT\n",
			    arg);
			return -1;
		}
		return add(cfg->resolvers, &cfg->nresolvers, "--resolver", arg);
	case RESOLVER_OPT_TRUST_ANCHOR:
		return add(cfg->trust_anchors, &cfg->ntrust_anchors,
		    "--trust-anchor", arg);
	case RESOLVER_OPT_UNBOUND_CONFIG:
		cfg->unbound_config = arg;
		return 1;
	case RESOLVER_OPT_DNS_TIMEOUT:
		cfg->timeout =
		    (unsigned int)strtonum(arg, 1, DNS_TIMEOUT_MAX, &errstr);
		if (errstr != NULL) {
			(void)fprintf(stderr,
			    "danemta: --dns-timeout %s: %s (1-%d seconds)\n",
			    arg, errstr, DNS_TIMEOUT_MAX);
			return -1;
		}
		return 1;
	}
	return 0;
}
