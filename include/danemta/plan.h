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

#include "danemta/dns.h"
#include "danemta/dnssec.h"
#include "danemta/tlsa.h"

#define PLAN_HOSTS_MAX 32     /* MX hosts considered per domain */
#define PLAN_ADDRS_MAX 16     /* addresses per host */
#define PLAN_CNAME_MAX 8      /* CNAME links followed */
#define PLAN_NAME_MAX 256     /* presentation form, with the NUL */
#define PLAN_DOMAIN_MAX 253   /* a next-hop domain, without the final dot */
#define PLAN_TLSA_CANDS_MAX 2 /* [expanded, original] (RFC 7672 §2.2.2) */
#define PLAN_ERROR_MAX 160

/* How a sender must treat one host (RFC 7672 §2.2, checklist §1.4). */
enum plan_mode {
	PLAN_MODE_DANE = 0,	 /* secure usable TLSA: authenticate or skip */
	PLAN_MODE_TLS_REQUIRED,	 /* secure TLSA, all unusable: TLS or skip */
	PLAN_MODE_OPPORTUNISTIC, /* no secure TLSA: STARTTLS if offered */
	PLAN_MODE_SKIP,		 /* lookup failure: the host must not be used */
};

/* What the domain as a whole comes to. */
enum plan_policy {
	PLAN_POLICY_DANE = 0,
	PLAN_POLICY_TLS_REQUIRED,
	PLAN_POLICY_OPPORTUNISTIC,
	PLAN_POLICY_DEFER,  /* temporary: retry later */
	PLAN_POLICY_BOUNCE, /* permanent: NXDOMAIN, null MX */
};

/* The outcome of one lookup, kept apart from its DNSSEC status. */
enum plan_lookup {
	PLAN_LOOKUP_OK = 0,   /* data */
	PLAN_LOOKUP_NODATA,   /* the name exists, no records of the type */
	PLAN_LOOKUP_NXDOMAIN, /* no such name */
	PLAN_LOOKUP_ERROR,    /* SERVFAIL, timeout, REFUSED, malformed ... */
	PLAN_LOOKUP_NOT_DONE, /* not sent (e.g. TLSA under insecure addresses) */
};

struct plan_addr {
	int family;	  /* AF_INET or AF_INET6 */
	char address[46]; /* presentation form */
	enum dnssec_status dnssec;
};

struct plan_tlsa {
	struct tlsa_rr rr;
	enum tlsa_verdict verdict; /* TLSA_USABLE or why not */
};

/* One TLSA lookup at _PORT._tcp.<candidate> (RFC 7672 §2.2.3). */
struct plan_tlsa_try {
	char candidate[PLAN_NAME_MAX];	/* a candidate TLSA base domain */
	char owner[PLAN_NAME_MAX + 16]; /* _25._tcp.<candidate> */
	enum plan_lookup lookup;	/* NOT_DONE: never sent */
	enum dnssec_status dnssec;
	char cname_target[PLAN_NAME_MAX]; /* CNAME at the owner, "" if none */
	char error[PLAN_ERROR_MAX];
};

struct plan_host {
	char name[PLAN_NAME_MAX]; /* as listed in the MX RRset (unexpanded) */
	uint16_t preference;
	bool implicit; /* the domain itself (no MX, RFC 5321 §5.1) */
	enum dnssec_status dnssec; /* of the address lookups (after CNAMEs) */
	char cname_target[PLAN_NAME_MAX]; /* fully expanded name, "" if none */
	enum dnssec_status cname_dnssec;  /* of the first CNAME, if any */

	struct plan_addr addrs[PLAN_ADDRS_MAX];
	size_t naddrs;
	enum plan_lookup a_lookup, aaaa_lookup;
	/* Added: per-family status and error text, the first-link CNAME query. */
	enum dnssec_status a_dnssec, aaaa_dnssec;
	char a_error[PLAN_ERROR_MAX], aaaa_error[PLAN_ERROR_MAX];
	enum plan_lookup cname_lookup; /* NOT_DONE unless it was needed */
	char cname_error[PLAN_ERROR_MAX];
	struct plan_tlsa_try tlsa_tries[PLAN_TLSA_CANDS_MAX];
	size_t ntlsa_tries; /* candidates, tried or not */

	/* TLSA: the candidates tried, the one that gave a secure RRset. */
	char tlsa_base[PLAN_NAME_MAX]; /* "" when none */
	enum plan_lookup tlsa_lookup;
	enum dnssec_status tlsa_dnssec;
	uint32_t tlsa_ttl;
	struct plan_tlsa tlsa[TLSA_RRSET_MAX];
	size_t ntlsa;
	size_t nusable; /* records with verdict TLSA_USABLE */

	enum plan_mode mode;
	char reason[256]; /* why this mode, for people */
};

struct plan_opts {
	uint16_t port;	       /* 25 unless set; TLSA at _PORT._tcp */
	bool dane_insecure_mx; /* use DANE on hosts of an insecure MX RRset */
	bool no_mx; /* the domain is a host (relay): skip the MX lookup */
};

struct plan {
	char domain[PLAN_NAME_MAX];	     /* the next-hop domain as given */
	char domain_expanded[PLAN_NAME_MAX]; /* after CNAMEs, "" if none */
	enum plan_lookup mx_lookup;
	enum dnssec_status mx_dnssec;
	bool null_mx;
	bool address_literal;	       /* "[192.0.2.1]": DANE does not apply */
	char mx_error[PLAN_ERROR_MAX]; /* when mx_lookup is an error */
	size_t mx_count; /* records in the MX RRset (hosts may be fewer) */

	struct plan_host hosts[PLAN_HOSTS_MAX];
	size_t nhosts;

	enum plan_policy policy;
	char reason[256];
	struct plan_opts opts;
};

const char *plan_mode_str(enum plan_mode m); /* "dane", "tls-required", ... */
const char *plan_policy_str(
    enum plan_policy p); /* "dane", ..., "defer", "bounce" */
const char *plan_lookup_str(enum plan_lookup l);

void plan_free(struct plan *p); /* frees the TLSA data and p; NULL is a no-op */

struct dns_ctx;
typedef void (*plan_done_cb)(struct plan *p, void *arg);

/*
 * Build the plan for domain on the resolver.  Returns 0 and later calls
 * done exactly once from the event loop, handing over p (free it with
 * plan_free()); or returns -ERR_FORMAT / -ERR_TOOBIG for a domain that is
 * not a valid name (see plan_domain_parse), and never calls done.  opts
 * may be NULL (port 25).  Lookups of different hosts run concurrently.
 */
int plan_start(struct dns_ctx *dns, const char *domain,
    const struct plan_opts *opts, plan_done_cb done, void *arg);

/*
 * The pure rules the asynchronous glue feeds (plan_rules.c), exported for
 * the unit tests and for commands that explain a plan.
 */

/*
 * A next-hop domain as given by a person: LDH labels (plus '_') of 1-63
 * octets, no leading or trailing '-', at most 253 octets, one optional
 * final dot (removed); or an address literal "[192.0.2.1]" /
 * "[IPv6:2001:db8::1]" (*literal set to AF_INET / AF_INET6, out gets the
 * bare address).  Returns 0, -ERR_FORMAT or -ERR_TOOBIG with *why a
 * static text.
 */
int plan_domain_parse(
    const char *in, char *out, size_t outsz, int *literal, const char **why);

/* Start a plan: p zeroed, domain copied, every lookup NOT_DONE. */
void plan_init(
    struct plan *p, const char *domain, const struct plan_opts *opts);
/* The plan for an address literal: one opportunistic host, policy set. */
void plan_set_literal(struct plan *p, int family, const char *addr);
/*
 * The MX answer: status, expanded name, null MX, the hosts sorted by
 * preference (stable within a preference, duplicates dropped, at most
 * PLAN_HOSTS_MAX) or the implicit MX on NODATA.  Sets the policy when
 * there is no host to look at (error, NXDOMAIN, null MX).
 */
void plan_mx_result(struct plan *p, const struct dns_answer *ans);
/* Is the server set securely known: MX (or its NODATA) secure, or no_mx? */
bool plan_mx_secure(const struct plan *p);
/* Add one A or AAAA answer to a host (malformed RDATA fails the family). */
void plan_host_addr_result(struct plan_host *h, const struct dns_answer *ans);
/* After both address answers: is the first-link CNAME query needed? */
bool plan_host_needs_cname(
    const struct plan_host *h, bool mx_secure, const struct plan_opts *o);
void plan_host_cname_result(struct plan_host *h, const struct dns_answer *a);
/*
 * After the address (and CNAME) answers: either the host is decided
 * (mode and reason set, returns 0, no TLSA query to send) or the TLSA
 * candidates are filled in h->tlsa_tries and their number returned.
 */
size_t plan_host_candidates(
    struct plan_host *h, bool mx_secure, const struct plan_opts *o);
/*
 * The TLSA answer for candidate i.  Returns true when the next candidate
 * must be tried, false when the host is decided (mode and reason set).
 */
bool plan_host_tlsa_result(
    struct plan_host *h, size_t i, const struct dns_answer *ans);
/* Classify and prune h->tlsa, count usable, set DANE or TLS-required. */
void plan_host_classify(struct plan_host *h);
/* The domain's policy from its MX outcome and its hosts' modes. */
void plan_set_policy(struct plan *p);

#endif
