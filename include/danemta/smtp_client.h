/*
 * The non-blocking SMTP client (RFC 5321, STARTTLS RFC 3207, PIPELINING
 * RFC 2920, SIZE RFC 1870, 8BITMIME RFC 6152, enhanced codes RFC 3463) on
 * a libevent loop, under the TLS policy of one host (RFC 7672 §2.2, §3).
 * One session = one connection to one address: the checker (no message,
 * or a recipient probe), the sender and the relay all run through it.
 */
#ifndef DANEMTA_SMTP_CLIENT_H
#define DANEMTA_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "danemta/buf.h"
#include "danemta/dane.h"
#include "danemta/plan.h"
#include "danemta/tlsa.h"

#define SMTP_MSGS_MAX 64    /* messages per session */
#define SMTP_RCPTS_MAX 1000 /* recipients per message */
#define SMTP_ADDR_MAX 512   /* an envelope address, with the NUL */
#define SMTP_MESSAGE_MAX ((size_t)1 << 30) /* 1 GB on the wire */

/* The TLS policy of the session (from the plan's host mode). */
enum smtp_tls_mode {
	SMTP_TLS_DANE = 0,	/* DANE-authenticated TLS or nothing */
	SMTP_TLS_REQUIRED,	/* TLS, unauthenticated, or nothing */
	SMTP_TLS_OPPORTUNISTIC, /* STARTTLS when offered, errors not fatal */
	SMTP_TLS_NONE,		/* never STARTTLS */
};

/* How TLS begins on the connection. */
enum smtp_tls_start {
	SMTP_TLS_START_STARTTLS = 0, /* SMTP in plaintext, then STARTTLS */
	SMTP_TLS_START_IMPLICIT, /* TLS at once, then the greeting (RFC 8314) */
	SMTP_TLS_START_ONLY,	 /* TLS at once, close after the handshake */
};

/* RFC 5321 §4.5.3.2 timeouts, milliseconds. */
struct smtp_timeouts {
	unsigned int connect;  /* 30 s */
	unsigned int greeting; /* 300 s: initial 220 */
	unsigned int ehlo;     /* 300 s: EHLO, HELO, RSET, QUIT replies */
	unsigned int
	    starttls;	   /* 300 s: the 220 to STARTTLS and the handshake */
	unsigned int mail; /* 300 s */
	unsigned int rcpt; /* 300 s */
	unsigned int data_init;	 /* 120 s: the 354 */
	unsigned int data_block; /* 180 s: each write of the body */
	unsigned int data_final; /* 600 s: the reply to "." */
};

/* Fill t with the RFC 5321 defaults. */
void smtp_timeouts_default(struct smtp_timeouts *t);
/* Set every timeout to ms (tests). */
void smtp_timeouts_all(struct smtp_timeouts *t, unsigned int ms);

/*
 * One message.  data == NULL makes a recipient probe (MAIL, RCPT, no
 * DATA).  Everything is borrowed until the session's done callback.  The
 * body is RFC 5322 text; line ends are normalised to CRLF and lines
 * dot-stuffed on the wire.
 */
struct smtp_message {
	const char *from; /* "" for the null reverse-path */
	const char *const *rcpts;
	size_t nrcpts;
	const uint8_t *data;
	size_t len;
};

/* What a session is asked to do; every pointer is borrowed until done. */
struct smtp_params {
	const char *address; /* IPv4 or IPv6 literal */
	uint16_t port;
	bool addr_dnssec; /* the address came from a secure lookup */
	const char *host; /* the MX host name, for logs and opportunistic SNI */
	const char *helo_name; /* our EHLO name */
	enum smtp_tls_mode mode;
	/* STARTTLS by default; IMPLICIT and ONLY need a mode other than
	 * NONE, ONLY allows no message (it never speaks SMTP) */
	enum smtp_tls_start tls_start;
	struct dane_params tls; /* base (sni), refids, usable TLSA */
	struct smtp_timeouts timeouts;
	const struct smtp_message *msgs;
	size_t nmsgs;
};

/*
 * Fill *p for one address of one host of a plan (RFC 7672 §3.2.2 reference
 * identifiers: the TLSA base, plus the original and the CNAME-expanded
 * next-hop domain when the MX RRset was secure).  Pointers go into plan,
 * which must outlive the session; msgs, helo_name and port are left to the
 * caller (port from plan->opts).  Returns 0, -ERR_USAGE for an address
 * index out of range or a host in mode skip.
 */
int smtp_params_from_plan(struct smtp_params *p, const struct plan *plan,
    const struct plan_host *host, size_t addr);

/* The security outcome of the session. */
enum smtp_result {
	SMTP_RESULT_NONE = 0,		/* not finished */
	SMTP_RESULT_DANE_AUTHENTICATED, /* DANE verified TLS */
	SMTP_RESULT_TLS, /* opportunistic TLS (no DANE applies) */
	SMTP_RESULT_TLS_UNAUTHENTICATED, /* TLS required by unusable TLSA */
	SMTP_RESULT_PLAINTEXT,		 /* no TLS (allowed by the mode) */
	SMTP_RESULT_STARTTLS_MISSING, /* TLS required, STARTTLS absent or refused */
	SMTP_RESULT_TLS_FAILED,	      /* the handshake failed */
	SMTP_RESULT_DANE_FAILED,      /* no usable record matched */
	SMTP_RESULT_CONNECT_FAILED, /* TCP connect failed or timed out */
	SMTP_RESULT_SMTP_FAILED, /* the dialogue failed before TLS was settled */
};

/* "dane-authenticated", "tls", ..., "smtp-failed" */
const char *smtp_result_str(enum smtp_result r);
/* True for the outcomes after which mail may flow. */
bool smtp_result_usable(enum smtp_result r);

enum smtp_outcome {
	SMTP_OUTCOME_NONE = 0, /* not attempted (the session ended first) */
	SMTP_OUTCOME_OK, /* accepted (after the final dot; at RCPT for a probe) */
	SMTP_OUTCOME_TEMP, /* 4xx, or refused locally for a temporary reason */
	SMTP_OUTCOME_PERM, /* 5xx, or refused locally (too big) */
};

const char *smtp_outcome_str(enum smtp_outcome o); /* "ok", "temp", ... */

struct smtp_rcpt_result {
	enum smtp_outcome outcome;
	int code; /* reply code, 0 when refused locally */
	char enhanced[16];
	char text[512]; /* reply text (sanitised) or local reason */
};

struct smtp_msg_result {
	enum smtp_outcome outcome; /* of the whole message */
	int code;
	char enhanced[16];
	char text[512];
	size_t nrcpts;
	struct smtp_rcpt_result *rcpts; /* nrcpts entries */
};

struct smtp_session_result {
	enum smtp_result result;
	bool tls;		  /* a TLS session was established */
	struct dane_info tlsinfo; /* valid when tls */
	/* The certificates the server sent, leaf first (each up-ref'd), or
	 * NULL before a handshake; owned and freed by the session. */
	STACK_OF(X509) * peer_chain;
	size_t tlsa_added; /* records OpenSSL accepted */
	bool completed;	   /* ended with QUIT and its reply, or a clean close */
	int error;	   /* 0 or the negative ERR_* that ended it */
	char reason[512];  /* for people */
	const char
	    *tlsrpt_result; /* RFC 8460 result-type of a failure, or NULL */
	bool ehlo_done;
	bool starttls_offered;
	bool pipelining;
	uint64_t size_limit; /* SIZE advertised, 0 when none */
	char greeting[512];  /* sanitised */
	size_t nmsgs;
	struct smtp_msg_result *msgs; /* nmsgs entries */
};

struct smtp_session;

/* Called once, from the loop, when the session is over. */
typedef void (*smtp_done_fn)(struct smtp_session *s, void *arg);

/*
 * Start a session on base.  Returns 0 with *out (the session runs; done is
 * called later, from the loop) or -ERR_USAGE for bad parameters, in which
 * case nothing runs.  ctx must outlive the session; see smtp_params.
 */
int smtp_session_start(struct event_base *base, struct dane_ctx *ctx,
    const struct smtp_params *p, smtp_done_fn done, void *arg,
    struct smtp_session **out);

/* The result; valid until smtp_session_free(). */
const struct smtp_session_result *smtp_session_result(
    const struct smtp_session *s);

/*
 * Free a session; a running one is aborted without its done callback.
 * NULL is a no-op.  May be called from within the done callback.
 */
void smtp_session_free(struct smtp_session *s);

#define SMTP_TARGET_HOST_MAX 254 /* a host name without the final dot, NUL */

/* A server named on a command line. */
struct smtp_target {
	char host[SMTP_TARGET_HOST_MAX]; /* a name or an address literal */
	uint16_t port;			 /* 0 when none was given */
	bool literal;			 /* host is an IPv4 or IPv6 address */
};

/*
 * Parse "HOST", "HOST:PORT", "[IPV6]" or "[IPV6]:PORT" (a bare IPv6
 * literal has no port): HOST an IPv4 literal or a host name of LDH labels
 * (one final dot allowed, dropped), PORT 1-65535 in decimal.  Pure.
 * Returns 0 or -ERR_FORMAT; out is caller storage, cleared on entry.
 */
int smtp_target_parse(const char *s, size_t len, struct smtp_target *out);

/*
 * Wire form of a body: CRLF line ends (bare LF and bare CR become CRLF),
 * a leading '.' doubled, a final CRLF added when missing, then ".\r\n".
 * *eightbit tells whether any byte is >= 0x80.  Returns 0 or -ERR_TOOBIG
 * past SMTP_MESSAGE_MAX; *out is a new wbuf the caller clears.
 */
int smtp_body_encode(
    const uint8_t *data, size_t len, struct wbuf *out, bool *eightbit);

#endif
