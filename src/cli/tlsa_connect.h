/*
 * The live-server input of `danemta tlsa create --connect HOST[:PORT]`:
 * resolve HOST (A, then AAAA), run a message-less SMTP session (STARTTLS,
 * implicit TLS or a bare TLS handshake) and keep the chain the server
 * presented.  Private to the CLI.
 */
#ifndef DANEMTA_CLI_TLSA_CONNECT_H
#define DANEMTA_CLI_TLSA_CONNECT_H

#include <stdint.h>

#include <openssl/x509.h>

#include "danemta/dns.h"
#include "danemta/smtp_client.h"

#define CONNECT_ADDRS_MAX 16	   /* addresses of HOST tried, in order */
#define CONNECT_TIMEOUT_DEFAULT 30 /* seconds per SMTP or TLS step */
#define CONNECT_TIMEOUT_MAX 600
#define CONNECT_ADDR_TEXT 46 /* INET6_ADDRSTRLEN */

/* --starttls */
enum connect_starttls {
	CONNECT_STARTTLS_AUTO = 0, /* smtp on 25 and 587, none elsewhere */
	CONNECT_STARTTLS_SMTP,
	CONNECT_STARTTLS_NONE, /* implicit TLS: SMTP after it on 465 only */
};

struct tlsa_connect {
	/* inputs */
	struct dns_config dns;
	struct smtp_target target; /* the parsed HOST[:PORT] */
	uint16_t port;		   /* when target.port is 0; 0: 25 */
	enum connect_starttls starttls;
	const char *sni;      /* NULL: target.host when it is a name */
	unsigned int timeout; /* seconds; 0: CONNECT_TIMEOUT_DEFAULT */
	/* results */
	uint16_t used_port;
	char address[CONNECT_ADDR_TEXT]; /* the address that answered */
	STACK_OF(X509) * chain; /* leaf first, owned; see tlsa_connect_clear */
};

/*
 * Parse --starttls ARG ("smtp" or "none"): 0 or -1.
 */
int tlsa_connect_starttls_parse(const char *arg, enum connect_starttls *out);

/*
 * Resolve, connect and take the chain of the first address that completes
 * a TLS handshake.  Returns EX_OK with tc->chain set, or an exit status
 * (EX_NOHOST, EX_TEMPFAIL, EX_UNAVAILABLE, EX_SOFTWARE) after printing one
 * line on stderr (a line more for each address that failed before another
 * was tried).
 */
int tlsa_connect_fetch(struct tlsa_connect *tc);

/* Free tc->chain; the inputs are left alone. */
void tlsa_connect_clear(struct tlsa_connect *tc);

#endif
