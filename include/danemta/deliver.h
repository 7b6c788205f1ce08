/*
 * One delivery attempt to one next-hop domain under a TLS policy level
 * (RFC 7672 §2.2, §2.2.1, §3.2, checklist §1.9, §1.15-§1.17): the single
 * code path of the checker (a dry run or a recipient probe at every
 * address), the sender and the relay.  Given a destination plan, it walks
 * the hosts in preference order and each host's addresses, runs SMTP
 * sessions, and decides per recipient: delivered, deferred or bounced.
 */
#ifndef DANEMTA_DELIVER_H
#define DANEMTA_DELIVER_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

#include "danemta/dane.h"
#include "danemta/plan.h"
#include "danemta/policy.h"
#include "danemta/smtp_client.h"

#define DELIVER_REASON_MAX 2048 /* a domain's reason: every host's, joined */
#define DELIVER_MSGS_MAX SMTP_MSGS_MAX /* messages in one attempt */

/* What a DANE-enforcing sender does with the domain (the checker's verdict). */
enum deliver_verdict {
	DELIVER_DANE_AUTHENTICATED = 0, /* via a DANE-authenticated session */
	DELIVER_TLS_UNAUTHENTICATED,	/* TLS required (unusable TLSA) */
	DELIVER_OPPORTUNISTIC,		/* opportunistic TLS or plaintext */
	DELIVER_DEFER,			/* temporary: retry later */
	DELIVER_BOUNCE,			/* permanent */
};

/* "dane-authenticated", "tls-unauthenticated", "opportunistic", ... */
const char *deliver_verdict_str(enum deliver_verdict v);

struct deliver_opts {
	enum policy_level
	    level;	/* POLICY_DANE by default (zero is dane-only!) */
	bool probe_all; /* checker: every address of every host */
	bool no_plaintext_retry; /* opportunistic: no cleartext after a
				    failed handshake (RFC 7672 §2.2) */
	bool audit;		 /* DANE audit only: log a mismatch, deliver
				    over unauthenticated TLS (RFC 7672 §9.1) */
	bool no_shuffle;	 /* keep the MX order within a preference */
	const char *helo_name;	 /* our EHLO name */
	struct smtp_timeouts timeouts;
};

/* Fill o with the defaults: level dane, plaintext retry on, RFC timeouts. */
void deliver_opts_default(struct deliver_opts *o);

/* One address of one host, as the attempt left it. */
struct deliver_addr {
	char address[46];
	bool tried; /* a session ran (else: skipped) */
	enum smtp_tls_mode mode;
	enum smtp_result result; /* SMTP_RESULT_NONE when not tried */
	bool plaintext_retry;	 /* result is a cleartext retry after
				    tls_failed_reason */
	char tls_failed_reason[256];
	char reason[512];
	const char *tlsrpt_result; /* static, or NULL */
	bool tls;
	struct dane_info tlsinfo; /* valid when tls */
	bool audit_failed;	  /* audit mode: DANE would have failed */
	bool used;		  /* the mail (or the probe) went here */
};

struct deliver_host {
	const struct plan_host *host; /* into the plan */
	bool allowed;		      /* the policy lets it be tried */
	enum smtp_tls_mode mode;      /* when allowed */
	char reason[512];	      /* why it failed or was not used */
	const char *tlsrpt_result;
	size_t naddrs;
	struct deliver_addr *addrs; /* naddrs entries */
};

struct deliver_rcpt {
	enum smtp_outcome outcome; /* NONE never remains after done */
	int code;
	char enhanced[16];
	char text[512];
	char via[PLAN_NAME_MAX + 64]; /* "host[address]" when it was tried */
};

/* One message's recipients, in the order of its smtp_message. */
struct deliver_msg {
	size_t nrcpts;
	struct deliver_rcpt *rcpts;
};

struct deliver_result {
	enum deliver_verdict verdict;
	char reason[DELIVER_REASON_MAX];
	const char *tlsrpt_result; /* of the first failure, or NULL */
	enum policy_level level;
	bool downgrade;	   /* partial DANE: sent past a failed DANE host */
	char warning[512]; /* the downgrade warning, or "" */
	int used_host;	   /* index in hosts[], -1 */
	int used_addr;	   /* index in hosts[used_host].addrs, -1 */
	size_t nhosts;	   /* in plan order */
	struct deliver_host *hosts;
	size_t nrcpts; /* the first message's recipients, in order */
	struct deliver_rcpt *rcpts; /* == msgs[0].rcpts */
	size_t nmsgs;		    /* the messages given, 0 for a dry run */
	struct deliver_msg *msgs;   /* nmsgs entries, in the order given */
};

struct deliver;
typedef void (*deliver_done_fn)(struct deliver *d, void *arg);

/*
 * Start an attempt for plan on base.  msg: NULL for a dry run (EHLO,
 * STARTTLS, QUIT), a probe (data NULL: MAIL, RCPT, QUIT) or a message.
 * plan, msg, opts->helo_name and ctx are borrowed until done.  done is
 * called exactly once, from the loop.  Returns 0 with *out, or -ERR_USAGE
 * (nothing runs).  Under probe_all every address of every allowed host is
 * connected to at once and the verdict is what the walk would decide; else
 * the walk runs one session at a time and stops when every recipient is
 * decided.
 */
int deliver_start(struct event_base *base, struct dane_ctx *ctx,
    const struct plan *plan, const struct deliver_opts *opts,
    const struct smtp_message *msg, deliver_done_fn done, void *arg,
    struct deliver **out);

/*
 * deliver_start() for nmsgs messages (at most DELIVER_MSGS_MAX; msgs NULL
 * when nmsgs is 0), each with its own recipients, sent together over each
 * session the walk makes: one connection carries them all (RFC 5321 §3.3,
 * RSET between them).  A message leaves the walk once all its recipients
 * are decided; the others go on to the next address.  The verdict is the
 * session's; outcomes are per message in result->msgs.  Under probe_all at
 * most one message.  Same returns and lifetimes as deliver_start().
 */
int deliver_start_msgs(struct event_base *base, struct dane_ctx *ctx,
    const struct plan *plan, const struct deliver_opts *opts,
    const struct smtp_message *msgs, size_t nmsgs, deliver_done_fn done,
    void *arg, struct deliver **out);

/* The result; valid until deliver_free(). */
const struct deliver_result *deliver_result(const struct deliver *d);

/* Free an attempt; a running one is aborted without done.  NULL: no-op. */
void deliver_free(struct deliver *d);

/* Does this TLS mode forbid any downgrade (DANE, or TLS required)? */
bool deliver_mode_mandatory(enum smtp_tls_mode m);

/*
 * The walk's decision after one address's session (pure, for tests):
 * true when mail may flow over a session with this result; *next_host is
 * set when the rest of this host must be skipped (a DANE or TLS failure
 * under a mandatory mode, RFC 7672 §2.2.3), *retry_plain when an
 * opportunistic session should be retried in cleartext.
 */
bool deliver_decide(enum smtp_tls_mode mode, enum smtp_result r,
    bool plaintext_retry, bool *next_host, bool *retry_plain);

#endif
