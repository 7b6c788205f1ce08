/*
 * OpenSSL DANE glue (RFC 7672 §3, RFC 7671 §5, §9, §10): one SSL_CTX per
 * process with DANE enabled and no local trust anchors, one SSL per
 * connection carrying the usable TLSA records and the DANE-TA reference
 * identifiers, and after the handshake the facts a caller logs and reports.
 */
#ifndef DANEMTA_DANE_H
#define DANEMTA_DANE_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "danemta/tlsa.h"

#define DANE_REFIDS_MAX 4 /* base domain + next hop + expanded + spare */
#define DANE_CHAIN_MAX 10 /* peer certificates described per session */
#define DANE_DN_MAX 256	  /* a subject or issuer, truncated */

/* The process-wide TLS client context; see dane_ctx_new(). */
struct dane_ctx;

/*
 * Make the client context: TLS >= 1.2, DANE enabled with SHA2-512 preferred
 * over SHA2-256 (digest agility, RFC 7671 §9), no default verify paths.
 * Returns 0 or -ERR_TLS; *out is freed with dane_ctx_free().
 */
int dane_ctx_new(struct dane_ctx **out);
void dane_ctx_free(struct dane_ctx *ctx); /* NULL is a no-op */

/* What one connection is asked to check. Every pointer is borrowed. */
struct dane_params {
	bool dane;	 /* authenticate with tlsa[] (mode dane) */
	const char *sni; /* server name sent; the TLSA base under DANE */
	/* DANE-TA reference identifiers besides the base (RFC 7672 §3.2.2) */
	const char *refids[DANE_REFIDS_MAX];
	size_t nrefids;
	const struct tlsa_rr *tlsa[TLSA_RRSET_MAX]; /* usable records */
	size_t ntlsa;
};

/*
 * A new SSL for one connection.  Under DANE, SSL_dane_enable(base) (which
 * also sets SNI and the primary reference identifier), each record through
 * SSL_dane_tlsa_add (PKIX usages are never added), the extra reference
 * identifiers, and DANE-EE without name checks.  *nadded is the number of
 * records OpenSSL accepted.  Returns 0, -ERR_USAGE (a DANE request without
 * a base domain), -ERR_TLS.  The caller owns *out (SSL_free, or hand it to a
 * bufferevent that frees it).
 */
int dane_ssl_new(struct dane_ctx *ctx, const struct dane_params *p, SSL **out,
    size_t *nadded);

/*
 * An X.509 name in RFC 2253 form, sanitised for logs, into dst (dstsz
 * bytes, always NUL-terminated; "" when it cannot be printed).
 */
void dane_name_str(X509_NAME *name, char *dst, size_t dstsz);

/* One certificate the server sent, leaf first. */
struct dane_cert {
	char subject[DANE_DN_MAX]; /* RFC 2253 form, sanitised */
	char issuer[DANE_DN_MAX];
	char spki_sha256[65]; /* hex SHA-256 of the DER SubjectPublicKeyInfo */
	char cert_sha256[65]; /* hex SHA-256 of the DER certificate */
};

/* What a finished handshake comes to. */
struct dane_info {
	bool dane;		/* DANE was enabled on the session */
	bool verified;		/* the X.509 / DANE verification succeeded */
	bool authenticated;	/* dane && verified && a record matched */
	long verify_code;	/* X509_V_OK or X509_V_ERR_* */
	char verify_error[128]; /* X509_verify_cert_error_string() */
	char matched[192];	/* "3 1 1 hex" of the matching record, or "" */
	int matched_depth;	/* chain depth of the match, -1 if none */
	char peername[256]; /* the reference identifier that matched, or "" */
	char sni[256];
	char version[16]; /* "TLSv1.3" */
	char cipher[64];  /* "TLS_AES_256_GCM_SHA384" */
	struct dane_cert chain[DANE_CHAIN_MAX];
	size_t nchain;
	/* RFC 8460 result-type of a DANE failure, NULL on success */
	const char *tlsrpt_result;
	char tlsrpt_reason[64]; /* failure-reason-code, or "" */
};

/*
 * Fill *out from an SSL whose handshake is complete; p is what the SSL was
 * made with.  Returns 0 (out is caller storage, cleared on entry; nothing
 * to free).
 */
int dane_info_get(SSL *ssl, const struct dane_params *p, struct dane_info *out);

/*
 * The RFC 8460 result-type for an X.509 verify code under DANE
 * (checklist §5.2 mapping); only_ta tells whether every usable record is
 * DANE-TA and top_self_issued whether the top of the sent chain is
 * self-issued (a DANE-TA no-match below a non-root means the TA was not
 * sent).  A static string.
 */
const char *dane_tlsrpt_result(
    long verify_code, bool only_ta, bool top_self_issued);

#endif
