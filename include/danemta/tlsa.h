/*
 * TLSA records (RFC 6698 §2, RFC 7671, RFC 7218 names): wire RDATA and
 * presentation form in both directions, classification into usable and
 * unusable for SMTP (RFC 7672 §3.1.3), digest-agility pruning (RFC 7671 §9)
 * and generation from certificates and keys.  Pure: no I/O.
 */
#ifndef DANEMTA_TLSA_H
#define DANEMTA_TLSA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define TLSA_RRTYPE 52
#define TLSA_RDATA_MAX 65535 /* a DNS RDATA can be no longer */
#define TLSA_RRSET_MAX 64    /* records per RRset we accept */
#define TLSA_TEXT_MAX (2 * TLSA_RDATA_MAX + 256)

enum tlsa_usage {
	TLSA_USAGE_PKIX_TA = 0,
	TLSA_USAGE_PKIX_EE = 1,
	TLSA_USAGE_DANE_TA = 2,
	TLSA_USAGE_DANE_EE = 3,
	TLSA_USAGE_PRIVATE = 255,
};

enum tlsa_selector {
	TLSA_SELECTOR_CERT = 0,
	TLSA_SELECTOR_SPKI = 1,
	TLSA_SELECTOR_PRIVATE = 255,
};

enum tlsa_mtype {
	TLSA_MTYPE_FULL = 0,
	TLSA_MTYPE_SHA256 = 1,
	TLSA_MTYPE_SHA512 = 2,
	TLSA_MTYPE_PRIVATE = 255,
};

/* One record; data is owned by the struct. */
struct tlsa_rr {
	uint8_t usage;
	uint8_t selector;
	uint8_t mtype;
	uint8_t *data;
	size_t len;
};

/*
 * Why a record cannot be used to authenticate an SMTP server.  TLSA_USABLE
 * is 0.  Parsing and classification are separate: unknown parameter values
 * parse fine and are then classified here.
 */
enum tlsa_verdict {
	TLSA_USABLE = 0,
	TLSA_UNUSABLE_PKIX_USAGE, /* usage 0 or 1: not used in SMTP */
	TLSA_UNUSABLE_USAGE,	  /* usage not 0-3 */
	TLSA_UNUSABLE_SELECTOR,	  /* selector not 0 or 1 */
	TLSA_UNUSABLE_MTYPE,	  /* matching type not 0, 1 or 2 */
	TLSA_UNUSABLE_EMPTY,	  /* no association data */
	TLSA_UNUSABLE_DIGEST_LENGTH, /* SHA2-256 not 32 or SHA2-512 not 64 octets */
	TLSA_UNUSABLE_BAD_CERT, /* x 0 0 whose data is not a DER certificate */
	TLSA_UNUSABLE_BAD_SPKI, /* x 1 0 whose data is not a DER SPKI */
	TLSA_UNUSABLE_PRUNED, /* usable, but a stronger digest of its group exists */
};

void tlsa_rr_clear(struct tlsa_rr *rr); /* frees data; zeroes the struct */
void tlsa_rr_copy(struct tlsa_rr *dst, const struct tlsa_rr *src);

/*
 * Wire RDATA -> record.  Only RDLENGTH < 3 or > TLSA_RDATA_MAX is an error
 * (-ERR_FORMAT / -ERR_TOOBIG).  out is caller storage, cleared on entry.
 */
int tlsa_rdata_parse(const uint8_t *rd, size_t len, struct tlsa_rr *out);
/* Record -> wire RDATA, appended to a newly allocated buffer (caller frees). */
int tlsa_rdata_encode(const struct tlsa_rr *rr, uint8_t **out, size_t *outlen);

/*
 * Presentation form -> record: "U S M HEX", numbers 0-255 or RFC 7218
 * mnemonics (case-insensitive), whitespace inside the hex, one pair of
 * parentheses, or the RFC 3597 form "\# LEN HEX".  Strict: trailing
 * garbage, odd hex digits, non-hex, out-of-range numbers are -ERR_FORMAT.
 * An owner/class/type prefix is not accepted here (see tlsa_zone_line_parse).
 */
int tlsa_text_parse(const char *text, size_t len, struct tlsa_rr *out);
/* Record -> "U S M hex" (numbers, lower-case hex, no spaces); caller frees. */
char *tlsa_format(const struct tlsa_rr *rr);

/* Classify one record for SMTP (RFC 7672 §3.1.3, RFC 7671 §9). */
enum tlsa_verdict tlsa_classify(const struct tlsa_rr *rr);
/* A short reason for a verdict, e.g. "PKIX-TA is not used in SMTP". */
const char *tlsa_verdict_str(enum tlsa_verdict v);
/* RFC 7218 names: "DANE-EE", "SPKI", "SHA2-256", or NULL when unknown. */
const char *tlsa_usage_name(uint8_t usage);
const char *tlsa_selector_name(uint8_t selector);
const char *tlsa_mtype_name(uint8_t mtype);
/* Parse a number 0-255 or a mnemonic ("dane-ee", "spki", "sha2-256"...). */
int tlsa_usage_parse(const char *s, uint8_t *out);
int tlsa_selector_parse(const char *s, uint8_t *out);
int tlsa_mtype_parse(const char *s, uint8_t *out);

/*
 * Digest agility (RFC 7671 §9).  verdicts[i] holds tlsa_classify() of
 * rrs[i] on entry; in each (usage, selector) group of usable records, every
 * record whose digest is weaker than the strongest digest present becomes
 * TLSA_UNUSABLE_PRUNED.  Full(0) records are never pruned.  Strength order:
 * SHA2-512 > SHA2-256.
 */
void tlsa_prune_digests(
    const struct tlsa_rr *rrs, enum tlsa_verdict *verdicts, size_t n);

/*
 * Generate a record from a certificate or a public key.  A key can only
 * give selector 1.  Returns 0, -ERR_USAGE for a bad parameter combination,
 * -ERR_CRYPTO on a libcrypto failure.
 */
int tlsa_from_cert(X509 *cert, uint8_t usage, uint8_t selector, uint8_t mtype,
    struct tlsa_rr *out);
int tlsa_from_pubkey(EVP_PKEY *key, uint8_t usage, uint8_t selector,
    uint8_t mtype, struct tlsa_rr *out);
/* Does rr (any usage) match this certificate by its selector and mtype? */
bool tlsa_matches_cert(const struct tlsa_rr *rr, X509 *cert);

/*
 * Added by the TLSA codec: helpers for the tools and the checker.
 */

/* 32 for SHA2-256, 64 for SHA2-512, 0 for any other matching type. */
size_t tlsa_mtype_digest_len(uint8_t mtype);

#define TLSA_VERDICT_TEXT_MAX 128 /* enough for any tlsa_verdict_explain */
/*
 * Like tlsa_verdict_str() but with the record's values, e.g. "SHA2-256
 * digest must be 32 octets, got 31" or "PKIX-EE is not used in SMTP".
 * snprintf semantics: writes at most bufsz bytes, NUL-terminated; returns
 * the length the full text needs.
 */
size_t tlsa_verdict_explain(
    const struct tlsa_rr *rr, enum tlsa_verdict v, char *buf, size_t bufsz);

/*
 * One zone-file line "OWNER [TTL] [CLASS] TLSA RDATA" (TTL and class in
 * either order; type TLSA or TYPE52; RDATA as for tlsa_text_parse, so a
 * parenthesised record may span lines).  The owner must start the line;
 * it is copied into owner (ownersz bytes; owner may be NULL to skip it).
 * Returns 0, -ERR_FORMAT, or -ERR_TOOBIG (an owner longer than ownersz).
 */
int tlsa_zone_line_parse(const char *line, size_t len, char *owner,
    size_t ownersz, struct tlsa_rr *out);

/*
 * Certificates or a key read from PEM or DER bytes, for generating records.
 * PEM may hold several blocks: every CERTIFICATE block in order (leaf first)
 * makes the chain; otherwise exactly one PRIVATE KEY / PUBLIC KEY block
 * (any algorithm; traditional RSA/EC forms too).  EC PARAMETERS blocks are
 * skipped.  DER is one or more concatenated certificates, or one key.
 */
#define TLSA_INPUT_MAX ((size_t)1024 * 1024) /* bytes of one input file */
#define TLSA_CHAIN_MAX 16		     /* certificates of one chain */

struct tlsa_input {
	STACK_OF(X509) * chain; /* leaf first; NULL when a key was given */
	EVP_PKEY *key;		/* set only when no certificate was given */
};

/*
 * Returns 0; -ERR_FORMAT (truncated or malformed PEM, DER that is no
 * certificate or key, several keys); -ERR_NOTFOUND (PEM with neither a
 * certificate nor a key); -ERR_UNSUPPORTED (a passphrase-protected key:
 * never prompts); -ERR_TOOBIG (over TLSA_INPUT_MAX or TLSA_CHAIN_MAX).
 * why (whysz bytes, may be NULL) receives a one-line reason on failure.
 * out is caller storage, cleared on entry; release it with
 * tlsa_input_clear() (also after a failure).
 */
int tlsa_input_parse(const uint8_t *buf, size_t len, struct tlsa_input *out,
    char *why, size_t whysz);
void tlsa_input_clear(struct tlsa_input *in);

#endif
