/*
 * The destination plan of RFC 7672 §2.2 for one next-hop domain: the MX
 * RRset and its DNSSEC status, then per host in preference order the CNAME
 * expansion, addresses, TLSA base domain, classified TLSA records and the
 * mode a sender must use.  A plain data structure: built by plan_start()
 * (asynchronous, on the dns.h resolver), read by the checker, the sender and
 * the relay, printed by nobody here.
 */
#ifndef DANEMTA_PLAN_H
#define DANEMTA_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "danemta/dnssec.h"
#include "danemta/tlsa.h"

#define PLAN_HOSTS_MAX 32	/* MX hosts considered per domain */
#define PLAN_ADDRS_MAX 16	/* addresses per host */
#define PLAN_CNAME_MAX 8	/* CNAME links followed */
#define PLAN_NAME_MAX 256	/* presentation form, with the NUL */

/* How a sender must treat one host (RFC 7672 §2.2, checklist §1.4). */
enum plan_mode {
	PLAN_MODE_DANE = 0,	/* secure usable TLSA: authenticate or skip */
	PLAN_MODE_TLS_REQUIRED,	/* secure TLSA, all unusable: TLS or skip */
	PLAN_MODE_OPPORTUNISTIC,	/* no secure TLSA: STARTTLS if offered */
	PLAN_MODE_SKIP,		/* lookup failure: the host must not be used */
};

/* What the domain as a whole comes to. */
enum plan_policy {
	PLAN_POLICY_DANE = 0,
	PLAN_POLICY_TLS_REQUIRED,
	PLAN_POLICY_OPPORTUNISTIC,
	PLAN_POLICY_DEFER,	/* temporary: retry later */
	PLAN_POLICY_BOUNCE,	/* permanent: NXDOMAIN, null MX */
};

/* The outcome of one lookup, kept apart from its DNSSEC status. */
enum plan_lookup {
	PLAN_LOOKUP_OK = 0,	/* data */
	PLAN_LOOKUP_NODATA,	/* the name exists, no records of the type */
	PLAN_LOOKUP_NXDOMAIN,	/* no such name */
	PLAN_LOOKUP_ERROR,	/* SERVFAIL, timeout, REFUSED, malformed ... */
	PLAN_LOOKUP_NOT_DONE,	/* not sent (e.g. TLSA under insecure addresses) */
};

struct plan_addr {
	int family;		/* AF_INET or AF_INET6 */
	char address[46];	/* presentation form */
	enum dnssec_status dnssec;
};

struct plan_tlsa {
	struct tlsa_rr rr;
	enum tlsa_verdict verdict;	/* TLSA_USABLE or why not */
};

struct plan_host {
	char name[PLAN_NAME_MAX];	/* as listed in the MX RRset (unexpanded) */
	uint16_t preference;
	bool implicit;			/* the domain itself (no MX, RFC 5321 §5.1) */
	enum dnssec_status dnssec;	/* of the address lookups (after CNAMEs) */
	char cname_target[PLAN_NAME_MAX];	/* fully expanded name, "" if none */
	enum dnssec_status cname_dnssec;	/* of the first CNAME, if any */

	struct plan_addr addrs[PLAN_ADDRS_MAX];
	size_t naddrs;
	enum plan_lookup a_lookup, aaaa_lookup;

	/* TLSA: the candidates tried, the one that gave a secure RRset. */
	char tlsa_base[PLAN_NAME_MAX];	/* "" when none */
	enum plan_lookup tlsa_lookup;
	enum dnssec_status tlsa_dnssec;
	uint32_t tlsa_ttl;
	struct plan_tlsa tlsa[TLSA_RRSET_MAX];
	size_t ntlsa;
	size_t nusable;		/* records with verdict TLSA_USABLE */

	enum plan_mode mode;
	char reason[256];	/* why this mode, for people */
};

struct plan_opts {
	uint16_t port;		/* 25 unless set; TLSA at _PORT._tcp */
	bool dane_insecure_mx;	/* use DANE on hosts of an insecure MX RRset */
	bool no_mx;		/* the domain is a host (relay): skip the MX lookup */
};

struct plan {
	char domain[PLAN_NAME_MAX];	/* the next-hop domain as given */
	char domain_expanded[PLAN_NAME_MAX];	/* after CNAMEs, "" if none */
	enum plan_lookup mx_lookup;
	enum dnssec_status mx_dnssec;
	bool null_mx;

	struct plan_host hosts[PLAN_HOSTS_MAX];
	size_t nhosts;

	enum plan_policy policy;
	char reason[256];
	struct plan_opts opts;
};

const char *plan_mode_str(enum plan_mode m);	/* "dane", "tls-required", ... */
const char *plan_policy_str(enum plan_policy p);	/* "dane", ..., "defer", "bounce" */
const char *plan_lookup_str(enum plan_lookup l);

void plan_free(struct plan *p);	/* frees the TLSA data and p; NULL is a no-op */

#endif
