/*
 * Private to the SMTP client (smtp_client.c: connection, greeting, EHLO,
 * STARTTLS; smtp_txn.c: MAIL, RCPT, DATA, RSET): the session and the calls
 * between the two.  Not installed, not for other modules.
 */
#ifndef DANEMTA_SMTP_CLIENT_PRIV_H
#define DANEMTA_SMTP_CLIENT_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "danemta/buf.h"
#include "danemta/smtp_client.h"
#include "danemta/smtp_reply.h"

enum smtp_state {
	ST_CONNECTING = 0,
	ST_GREETING,
	ST_EHLO,
	ST_HELO,
	ST_STARTTLS,
	ST_HANDSHAKE,
	ST_RSET,
	ST_MAIL, /* replies to MAIL and the RCPTs */
	ST_DATA,
	ST_BODY,
	ST_QUIT,
	ST_DONE,
};

struct smtp_session {
	struct event_base *base;
	struct dane_ctx *ctx;
	struct smtp_params p;
	smtp_done_fn done;
	void *arg;

	struct bufferevent *bev;
	struct event *timer;
	bool finishing; /* the timer now delivers done */
	enum smtp_state state;
	struct smtp_reply_parser parser;
	struct smtp_ehlo ehlo;
	bool in_tls;
	bool mail_started; /* a transaction was begun: RSET before the next */

	size_t msg;	     /* current message */
	size_t replies_left; /* in ST_MAIL */
	size_t rcpt_next;    /* which RCPT the next reply answers */
	bool mail_replied;   /* the reply to MAIL is in */
	bool mail_ok;
	size_t naccepted;
	struct wbuf body;
	bool eightbit;

	struct smtp_session_result res;
};

/* smtp_client.c */
void smtp_sess_timer(struct smtp_session *s, unsigned int ms);
void smtp_sess_send(struct smtp_session *s, const char *cmd);
void smtp_sess_quit(struct smtp_session *s);
/* Record a failure and close at once (the connection is unusable). */
void smtp_sess_abort(struct smtp_session *s, enum smtp_result r, int err,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Record a failure, say QUIT, then close. */
void smtp_sess_fail_quit(struct smtp_session *s, enum smtp_result r, int err,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* "250 2.1.0 text" of a reply's first line, sanitised, for reasons. */
void smtp_sess_reply_str(const struct smtp_reply *r, char *dst, size_t dstsz);

/* smtp_txn.c */
/* Start the next message (RSET first after a transaction), or QUIT. */
void smtp_txn_next(struct smtp_session *s);
void smtp_txn_on_rset(struct smtp_session *s, const struct smtp_reply *r);
void smtp_txn_on_mail_rcpt(struct smtp_session *s, const struct smtp_reply *r);
void smtp_txn_on_data(struct smtp_session *s, const struct smtp_reply *r);
void smtp_txn_on_body(struct smtp_session *s, const struct smtp_reply *r);
/* An evbuffer callback on the output: re-arms the data block timeout. */
void smtp_txn_drain_cb(
    struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg);

#endif
