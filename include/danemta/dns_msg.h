/*
 * A bounded parser of whole DNS messages (RFC 1035 §4.1, name compression
 * §4.1.4) for the facts the answer records do not carry: the RRSIGs
 * (RFC 4034 §3.1) covering a type at a name, with their inception,
 * expiration, original TTL and signer.  Hostile input: every read checked,
 * compression pointers capped, records per message capped.  Pure.
 */
#ifndef DANEMTA_DNS_MSG_H
#define DANEMTA_DNS_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "danemta/buf.h"
#include "danemta/dns.h"

#define DNS_MSG_MAX 65535    /* a DNS message can be no longer */
#define DNS_MSG_HEADER 12    /* octets of the fixed header */
#define DNS_MSG_RR_MAX 1024  /* records walked per message */
#define DNS_MSG_PTR_MAX 32   /* compression pointers followed per name */
#define DNS_MSG_RRSIG_MAX 16 /* RRSIGs returned per call */
#define DNS_TYPE_RRSIG 46

struct dns_msg_header {
	uint16_t id;
	uint16_t flags; /* QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE */
	uint16_t qdcount, ancount, nscount, arcount;
};

struct dns_msg_rrsig {
	char owner[DNS_NAME_TEXT_MAX]; /* the RRset's name, no final dot */
	uint32_t ttl;		       /* of the RRSIG record itself */
	uint16_t type_covered;
	uint8_t algorithm;
	uint8_t labels;
	uint32_t orig_ttl;
	uint32_t expiration; /* seconds since 1970, serial arithmetic aside */
	uint32_t inception;
	uint16_t key_tag;
	char signer[DNS_NAME_TEXT_MAX];
};

/*
 * A possibly compressed name at rb's cursor (the cursor moves past it; a
 * pointer is followed within msg, at most DNS_MSG_PTR_MAX times, only
 * backwards) -> presentation form as dns_name_parse() writes it.  Returns
 * 0, -ERR_TRUNCATED, -ERR_FORMAT (bad label type, forward or looping
 * pointer) or -ERR_TOOBIG (over 255 octets, or out too small).
 */
int dns_msg_name(struct rbuf *rb, char *out, size_t outsz);

/* The fixed header: 0 or -ERR_TRUNCATED. */
int dns_msg_header_parse(
    const uint8_t *msg, size_t len, struct dns_msg_header *out);

/*
 * The RRSIGs in the answer section covering type at owner (case-insensitive,
 * a final dot ignored; owner NULL: any owner), at most max of them into out
 * (*n set).  Returns 0 (also with none found), -ERR_TRUNCATED,
 * -ERR_FORMAT, -ERR_TOOBIG (over DNS_MSG_MAX or DNS_MSG_RR_MAX records).
 */
int dns_msg_rrsigs(const uint8_t *msg, size_t len, const char *owner,
    uint16_t type, struct dns_msg_rrsig *out, size_t max, size_t *n);

#endif
