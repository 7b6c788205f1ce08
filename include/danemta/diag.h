/*
 * Diagnostics for domain owners: the common DANE-for-SMTP mistakes of
 * RFC 7671 §8-§13 and RFC 7672 §3, §9 (checklist §2.5), each with an
 * identifier, a one-line explanation and a fix, computed from a plan, a few
 * extra lookups and (when connected) the per-address session results.
 * diag_compute() is pure; diag_lookup_start() does the extra lookups.
 */
#ifndef DANEMTA_DIAG_H
#define DANEMTA_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "danemta/dane.h"
#include "danemta/plan.h"
#include "danemta/smtp_client.h"

#define DIAG_MAX 64	       /* diagnostics kept per plan */
#define DIAG_DETAIL_MAX 256    /* one diagnostic's detail text */
#define DIAG_RRSIG_WARN_DAYS 3 /* default of --rrsig-warn-days */
#define DIAG_RRSIG_WARN_DAYS_MAX 365
#define DIAG_TTL_LONG 86400 /* a TLSA TTL above this is flagged */
#define DIAG_OWNER_MAX (PLAN_NAME_MAX + 16)	/* _NNNNN._tcp.<name> */
#define DIAG_WRONG_MAX (2 * PLAN_HOSTS_MAX + 1) /* wrong-owner finds kept */

enum diag_id {
	DIAG_STALE_TLSA = 0,	 /* no usable record matches the live chain */
	DIAG_GROUP_NOT_CURRENT,	 /* a (u,s,m) group matches no live chain */
	DIAG_FRAGILE_3_0_X,	 /* DANE-EE Cert(0): changes at every renewal */
	DIAG_PKIX_USAGE_PORT_25, /* usage 0 or 1 on an SMTP server */
	DIAG_PARTIAL_TLSA,	 /* some MX hosts have TLSA, some not */
	DIAG_TA_NOT_SENT,	 /* 2 x x, the TA certificate is not sent */
	DIAG_TA_NAME_MISMATCH,	 /* 2 x x, the leaf names neither name */
	DIAG_TA_CHAIN_EXPIRED,	 /* 2 x x, a chain certificate expired */
	DIAG_TLSA_UNSIGNED_ZONE, /* TLSA where DNSSEC does not reach */
	DIAG_INSECURE_MX_HOST,	 /* secure MX, insecure host addresses */
	DIAG_TLSA_LOOKUP_BROKEN, /* SERVFAIL/REFUSED/NOTIMP/bogus on TLSA */
	DIAG_TLSA_WRONG_OWNER,	 /* TLSA at _465/_587 or at the domain */
	DIAG_BAD_DIGEST_LENGTH,	 /* SHA2-256 not 32, SHA2-512 not 64 */
	DIAG_SHA512_ONLY,	 /* a group with SHA2-512 and no SHA2-256 */
	DIAG_FULL_RECORDS,	 /* matching type Full(0) */
	DIAG_RRSIG_EXPIRING,	 /* the TLSA RRSIG expires within N days */
	DIAG_TLSA_TTL_LONG,	 /* TLSA TTL above a day */
	DIAG_STARTTLS_MISSING,	 /* STARTTLS absent or refused, TLSA present */
	DIAG__COUNT
};

enum diag_severity {
	DIAG_WARNING = 0, /* works today, but fragile or pointless */
	DIAG_ERROR,	  /* mail from validating senders fails or waits */
};

struct diag {
	enum diag_id id;
	enum diag_severity severity;
	char host[PLAN_NAME_MAX]; /* the MX host concerned, "" for the domain */
	char address[46];	  /* the address concerned, "" if none */
	char detail[DIAG_DETAIL_MAX]; /* what exactly was seen */
};

struct diag_list {
	struct diag v[DIAG_MAX];
	size_t n;
	size_t dropped; /* diagnostics over DIAG_MAX, not kept */
};

/* "stale-tlsa", ...; a static string (NULL for an id out of range). */
const char *diag_name(enum diag_id id);
/* The one-line explanation and the fix: static strings. */
const char *diag_explain(enum diag_id id);
const char *diag_fix(enum diag_id id);
const char *diag_severity_str(enum diag_severity s); /* "warning", "error" */

/* The result of matching one record against a presented chain. */
#define DIAG_MATCH_NONE (-1)	/* matches no certificate presented */
#define DIAG_MATCH_UNKNOWN (-2) /* cannot tell from the chain's digests */

/*
 * Match rr against the chain of info (whose certificates are known by their
 * SHA2-256 digests): the depth of the first matching certificate (only
 * depth 0 for usages 1 and 3), DIAG_MATCH_NONE, or DIAG_MATCH_UNKNOWN for
 * records that are not SHA2-256 or have an unknown selector.
 */
int diag_match_chain(const struct tlsa_rr *rr, const struct dane_info *info);

/* One connected (or tried) address of a plan's host. */
struct diag_addr {
	size_t host;		 /* index into plan->hosts */
	size_t addr;		 /* index into that host's addrs */
	bool tried;		 /* a session ran */
	enum smtp_result result; /* of the session under the host's mode */
	const struct dane_info *tlsinfo; /* the chain; NULL without TLS */
	const char *reason;		 /* the session's, for people */
	/* per host->tlsa[i]: a depth >= 0, DIAG_MATCH_NONE or _UNKNOWN */
	int match[TLSA_RRSET_MAX];
};

/* TLSA found where it has no effect. */
struct diag_owner {
	char owner[DIAG_OWNER_MAX]; /* without the final dot */
	enum dnssec_status dnssec;
	size_t nrr;
};

/* What diag_lookup_start() finds; zero it before use. */
struct diag_dns {
	struct diag_owner wrong[DIAG_WRONG_MAX]; /* _465/_587/domain owners */
	size_t nwrong;
	struct diag_owner unsigned_tlsa[PLAN_HOSTS_MAX]; /* insecure TLSA */
	size_t nunsigned;
	/* per host: the TLSA RRSIG's expiration and original TTL, 0 unknown */
	uint32_t rrsig_expiration[PLAN_HOSTS_MAX];
	uint32_t rrsig_inception[PLAN_HOSTS_MAX];
	uint32_t orig_ttl[PLAN_HOSTS_MAX];
};

struct diag_input {
	const struct plan *plan;
	const struct diag_dns *dns; /* NULL: no extra lookups done */
	const struct diag_addr *addrs;
	size_t naddrs;
	time_t now;
	unsigned int rrsig_warn_days; /* 0: DIAG_RRSIG_WARN_DAYS */
};

/*
 * Every diagnostic the input shows, in diag_id order per host, at most one
 * of each id per host (and per address for connection findings).  out is
 * caller storage, cleared on entry.  Pure.
 */
void diag_compute(const struct diag_input *in, struct diag_list *out);

/* Does the list hold an error (not only warnings)? */
bool diag_has_error(const struct diag_list *l);

/*
 * JSON array of {"id","severity","host","address","detail","explanation",
 * "fix"} (caller json_decref()s it); text: one "  problem: ID host: detail"
 * line per diagnostic with indented "why:" and "fix:" lines, ending in
 * '\n', "" for an empty list (caller frees).
 */
json_t *diag_json(const struct diag_list *l);
char *diag_text(const struct diag_list *l);

/*
 * The extra lookups: TLSA at _465._tcp and _587._tcp of every host without
 * TLSA at its port, at _PORT._tcp.<domain> when the domain is not one of
 * its MX hosts, at _PORT._tcp.<host> for insecure hosts (the plan does not
 * ask there), and the TLSA RRSIG of every host with a TLSA base.  done runs
 * once from the event loop when every answer is in (out filled).  Returns
 * 0, or -ERR_USAGE when there is nothing to ask (done never runs).
 * dns, plan and out must outlive the lookups.
 */
typedef void (*diag_done_cb)(void *arg);
int diag_lookup_start(struct dns_ctx *dns, const struct plan *p,
    struct diag_dns *out, diag_done_cb done, void *arg);

#endif
