/*
 * The DNSSEC-validating resolver of libdanemta: libunbound driven by the
 * caller's libevent loop.  Every answer carries its lookup outcome (data,
 * NODATA, NXDOMAIN, error) and its DNSSEC status (RFC 4035 §4.3, RFC 7672
 * §2.1.1) kept apart, so that "no records" is never confused with "error".
 */
#ifndef DANEMTA_DNS_H
#define DANEMTA_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "danemta/dnssec.h"

struct event_base;
struct dns_ctx;

#define DNS_TYPE_A 1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_MX 15
#define DNS_TYPE_AAAA 28
#define DNS_TYPE_TLSA 52

#define DNS_RRSET_MAX 256      /* records per answer we accept */
#define DNS_NAME_TEXT_MAX 1024 /* presentation form with \DDD escapes, NUL */
#define DNS_TIMEOUT_DEFAULT 10 /* seconds */
#define DNS_TIMEOUT_MAX 3600
#define DNS_CONFIG_LIST_MAX 16 /* resolvers, trust anchor files */

struct dns_config {
	const char *resolvers[DNS_CONFIG_LIST_MAX]; /* "ADDR[@PORT]" */
	size_t nresolvers;
	const char
	    *trust_anchors[DNS_CONFIG_LIST_MAX]; /* zone-file DS/DNSKEY */
	size_t ntrust_anchors;
	const char *unbound_config; /* NULL: none */
	unsigned int timeout;	    /* per query, seconds; 0: the default */
};

enum dns_lookup {
	DNS_LOOKUP_DATA = 0, /* records of the type */
	DNS_LOOKUP_NODATA,   /* the name exists, no records of the type */
	DNS_LOOKUP_NXDOMAIN, /* no such name */
	DNS_LOOKUP_ERROR,    /* SERVFAIL, bogus, timeout, REFUSED, ... */
};

struct dns_rdata {
	const uint8_t *data;
	size_t len;
};

/*
 * One answer, borrowed by the callback: every pointer in it is valid only
 * until the callback returns.  dnssec is DNSSEC_BOGUS for a validation
 * failure and DNSSEC_INDETERMINATE for any other error (no status could be
 * determined); both come with lookup DNS_LOOKUP_ERROR and a text in error.
 */
struct dns_answer {
	const char *qname;
	uint16_t qtype;
	enum dns_lookup lookup;
	enum dnssec_status dnssec;
	int rcode;	       /* DNS RCODE, -1 when no response */
	const char *canonname; /* target of a CNAME chain, NULL if none */
	uint32_t ttl;
	const struct dns_rdata *rdata;
	size_t nrdata;
	const char *error; /* NULL unless lookup is DNS_LOOKUP_ERROR */
	const uint8_t
	    *packet; /* the whole answer message (for RRSIGs), or NULL */
	size_t packet_len;
};

typedef void (*dns_cb)(const struct dns_answer *ans, void *arg);

/*
 * A resolver on base.  With no resolvers it recurses from the root hints;
 * with no trust anchor and no unbound configuration it trusts the root key
 * DANEMTA_ROOT_KEY.  Returns NULL on failure with *errmsg set to a
 * malloc'ed one-line text (caller frees).  Free with dns_ctx_free().
 */
struct dns_ctx *dns_ctx_new(
    struct event_base *base, const struct dns_config *cfg, char **errmsg);
/* Cancels every pending query (no callback runs) and frees; NULL is a no-op. */
void dns_ctx_free(struct dns_ctx *ctx);
struct event_base *dns_ctx_base(struct dns_ctx *ctx);
unsigned int dns_ctx_timeout(const struct dns_ctx *ctx);

/*
 * Look up name/rrtype in class IN.  cb runs exactly once, always from the
 * event loop (never from inside dns_query), unless dns_ctx_free() comes
 * first; failures, the timeout included, arrive as DNS_LOOKUP_ERROR.
 */
void dns_query(struct dns_ctx *ctx, const char *name, uint16_t rrtype,
    dns_cb cb, void *arg);

/* "A", "MX", ..., or "TYPEnnn" in a static buffer (not reentrant). */
const char *dns_type_str(uint16_t rrtype);
/* "data", "nodata", "nxdomain", "error" */
const char *dns_lookup_str(enum dns_lookup l);

/*
 * Wire-format domain name (uncompressed, as libunbound hands them out) at
 * the cursor -> presentation form without the final dot ("." for the
 * root), bytes outside [A-Za-z0-9_-] escaped as \DDD.  Returns 0,
 * -ERR_TRUNCATED, -ERR_FORMAT (compression pointer, bad label length) or
 * -ERR_TOOBIG (over 255 octets or out too small).
 */
struct rbuf;
int dns_name_parse(struct rbuf *rb, char *out, size_t outsz);

/* Names equal, case-insensitively, ignoring one final dot on each side. */
bool dns_name_eq(const char *a, const char *b);

/*
 * RDATA parsers (hostile input, bounded, pure).  Each returns 0 or
 * -ERR_FORMAT / -ERR_TRUNCATED / -ERR_TOOBIG; trailing bytes are an error.
 * Names come out as dns_name_parse() writes them; addresses in the
 * presentation form of inet_ntop() (out of at least 46 bytes).
 */
int dns_rdata_mx(
    const uint8_t *rd, size_t len, uint16_t *pref, char *name, size_t namesz);
int dns_rdata_cname(const uint8_t *rd, size_t len, char *name, size_t namesz);
int dns_rdata_a(const uint8_t *rd, size_t len, char *out, size_t outsz);
int dns_rdata_aaaa(const uint8_t *rd, size_t len, char *out, size_t outsz);

#endif
