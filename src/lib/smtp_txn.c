/*
 * Mail transactions of an SMTP client session (RFC 5321 §3.3, §4.1.1.2-
 * §4.1.1.5): MAIL with SIZE (RFC 1870) and BODY=8BITMIME (RFC 6152), RCPT
 * pipelined when offered (RFC 2920), DATA, RSET between messages, and the
 * per-recipient and per-message outcomes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "danemta/buf.h"
#include "danemta/log.h"
#include "danemta/smtp_client.h"
#include "danemta/smtp_reply.h"
#include "danemta/util.h"
#include "danemta/err.h"
#include "smtp_client_priv.h"

/* Outcome of a reply code. */
static enum smtp_outcome
outcome_of(int code)
{
	if (code / 100 == 2 || code / 100 == 3)
		return SMTP_OUTCOME_OK;
	return code / 100 == 4 ? SMTP_OUTCOME_TEMP : SMTP_OUTCOME_PERM;
}

static void
rcpt_set(struct smtp_rcpt_result *rr, enum smtp_outcome o, int code,
    const char *enh, const char *text)
{
	rr->outcome = o;
	rr->code = code;
	(void)strlcpy(rr->enhanced, enh, sizeof(rr->enhanced));
	(void)strlcpy(rr->text, text, sizeof(rr->text));
}

static void
msg_set(struct smtp_msg_result *mr, enum smtp_outcome o, int code,
    const char *enh, const char *text)
{
	mr->outcome = o;
	mr->code = code;
	(void)strlcpy(mr->enhanced, enh, sizeof(mr->enhanced));
	(void)strlcpy(mr->text, text, sizeof(mr->text));
}

/* Recipients not yet decided get o (a refused message). */
static void
msg_fail_pending(struct smtp_msg_result *mr, enum smtp_outcome o, int code,
    const char *enh, const char *text, bool accepted_too)
{
	size_t i;

	for (i = 0; i < mr->nrcpts; i++) {
		struct smtp_rcpt_result *rr = &mr->rcpts[i];

		if (rr->outcome == SMTP_OUTCOME_NONE ||
		    (accepted_too && rr->outcome == SMTP_OUTCOME_OK))
			rcpt_set(rr, o, code, enh, text);
	}
	msg_set(mr, o, code, enh, text);
}

static void
send_mail_rcpts(struct smtp_session *s)
{
	const struct smtp_message *m = &s->p.msgs[s->msg];
	struct smtp_msg_result *mr = &s->res.msgs[s->msg];
	struct wbuf cmd;
	size_t i;

	wbuf_init(&cmd, SIZE_MAX);
	(void)wbuf_printf(&cmd, "MAIL FROM:<%s>", m->from);
	if (s->ehlo.size_given && m->data != NULL)
		(void)wbuf_printf(&cmd, " SIZE=%zu", s->body.len);
	if (s->eightbit && s->ehlo.eightbitmime)
		(void)wbuf_addstr(&cmd, " BODY=8BITMIME");
	s->state = ST_MAIL;
	s->mail_started = true;
	s->mail_replied = false;
	s->mail_ok = false;
	s->naccepted = 0;
	s->rcpt_next = 0;
	s->replies_left = 1 + (s->ehlo.pipelining ? mr->nrcpts : 0);
	smtp_sess_timer(s, s->p.timeouts.mail);
	smtp_sess_send(s, (char *)cmd.data);
	for (i = 0; s->ehlo.pipelining && i < mr->nrcpts; i++) {
		wbuf_reset(&cmd);
		(void)wbuf_printf(&cmd, "RCPT TO:<%s>", m->rcpts[i]);
		smtp_sess_send(s, (char *)cmd.data);
	}
	wbuf_clear(&cmd);
}

static void
send_rcpt(struct smtp_session *s, size_t i)
{
	char *cmd;

	s->replies_left = 1;
	smtp_sess_timer(s, s->p.timeouts.rcpt);
	(void)xasprintf(&cmd, "RCPT TO:<%s>", s->p.msgs[s->msg].rcpts[i]);
	smtp_sess_send(s, cmd);
	free(cmd);
}

/* Refuse a message locally; false when it may go. */
static bool
message_refuse(struct smtp_session *s)
{
	const struct smtp_message *m = &s->p.msgs[s->msg];
	struct smtp_msg_result *mr = &s->res.msgs[s->msg];
	char why[200];

	if (mr->nrcpts == 0) {
		msg_set(mr, SMTP_OUTCOME_PERM, 0, "", "no recipients");
		return true;
	}
	if (m->data == NULL)
		return false;
	if (smtp_body_encode(m->data, m->len, &s->body, &s->eightbit) < 0) {
		msg_fail_pending(mr, SMTP_OUTCOME_PERM, 0, "5.3.4",
		    "message too big to send", false);
		return true;
	}
	if (s->ehlo.size_given && s->ehlo.size > 0 &&
	    s->body.len > s->ehlo.size) {
		(void)snprintf(why, sizeof(why),
		    "message size %zu exceeds the server's limit %llu",
		    s->body.len, (unsigned long long)s->ehlo.size);
		log_info("smtp: [%s]:%u: %s", s->p.address, s->p.port, why);
		msg_fail_pending(mr, SMTP_OUTCOME_PERM, 0, "5.3.4", why, false);
		wbuf_clear(&s->body);
		return true;
	}
	return false;
}

/* Start the next message, or QUIT when none is left. */
void
smtp_txn_next(struct smtp_session *s)
{
	ASSERT_SECURE(smtp_result_usable(s->res.result));
	ASSERT_SECURE(s->p.mode != SMTP_TLS_DANE ||
	    s->res.result == SMTP_RESULT_DANE_AUTHENTICATED);
	for (; s->msg < s->p.nmsgs; s->msg++) {
		wbuf_clear(&s->body);
		if (!message_refuse(s))
			break;
	}
	if (s->msg >= s->p.nmsgs) {
		s->res.completed = true;
		smtp_sess_quit(s);
		return;
	}
	if (s->mail_started) {
		s->state = ST_RSET;
		smtp_sess_timer(s, s->p.timeouts.ehlo);
		smtp_sess_send(s, "RSET");
		return;
	}
	send_mail_rcpts(s);
}

static void
message_done(struct smtp_session *s)
{
	wbuf_clear(&s->body);
	s->msg++;
	smtp_txn_next(s);
}

void
smtp_txn_on_rset(struct smtp_session *s, const struct smtp_reply *r)
{
	char rs[300];

	if (r->code / 100 != 2) {
		smtp_sess_reply_str(r, rs, sizeof(rs));
		smtp_sess_fail_quit(
		    s, SMTP_RESULT_NONE, -ERR_PROTO, "RSET refused: %s", rs);
		return;
	}
	send_mail_rcpts(s);
}

/* All MAIL and RCPT replies are in: DATA, or the next message. */
static void
after_rcpts(struct smtp_session *s)
{
	const struct smtp_message *m = &s->p.msgs[s->msg];
	struct smtp_msg_result *mr = &s->res.msgs[s->msg];
	bool temp = false;
	size_t i;

	if (!s->mail_ok || s->naccepted == 0) {
		for (i = 0; i < mr->nrcpts; i++)
			if (mr->rcpts[i].outcome == SMTP_OUTCOME_TEMP)
				temp = true;
		if (s->mail_ok)
			msg_set(mr,
			    temp ? SMTP_OUTCOME_TEMP : SMTP_OUTCOME_PERM, 0, "",
			    "no recipient accepted");
		message_done(s);
		return;
	}
	if (m->data == NULL) {
		/* A probe: the accepted recipients are the answer. */
		msg_set(mr, SMTP_OUTCOME_OK, 0, "", "recipients probed");
		message_done(s);
		return;
	}
	s->state = ST_DATA;
	smtp_sess_timer(s, s->p.timeouts.data_init);
	smtp_sess_send(s, "DATA");
}

void
smtp_txn_on_mail_rcpt(struct smtp_session *s, const struct smtp_reply *r)
{
	struct smtp_msg_result *mr = &s->res.msgs[s->msg];
	enum smtp_outcome o = outcome_of(r->code);
	char rs[300];

	smtp_sess_reply_str(r, rs, sizeof(rs));
	s->replies_left--;
	if (!s->mail_replied) {
		s->mail_replied = true;
		if (o != SMTP_OUTCOME_OK)
			msg_fail_pending(
			    mr, o, r->code, r->enhanced, rs, false);
		else
			s->mail_ok = true;
	} else if (s->rcpt_next < mr->nrcpts) {
		if (s->mail_ok)
			rcpt_set(&mr->rcpts[s->rcpt_next], o, r->code,
			    r->enhanced, rs);
		if (s->mail_ok && o == SMTP_OUTCOME_OK)
			s->naccepted++;
		/* Accepted at RCPT is not delivered: the final reply
		 * decides; until then keep OK as "accepted". */
		s->rcpt_next++;
	}
	if (s->replies_left > 0)
		return;
	if (!s->ehlo.pipelining && s->mail_ok && s->rcpt_next < mr->nrcpts) {
		send_rcpt(s, s->rcpt_next);
		return;
	}
	after_rcpts(s);
}

/* Feed the body, re-arming the data block timeout as it drains. */
void
smtp_txn_drain_cb(
    struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct smtp_session *s = arg;

	if (info->n_deleted > 0 && s->state == ST_BODY)
		smtp_sess_timer(s, s->p.timeouts.data_block);
}

void
smtp_txn_on_data(struct smtp_session *s, const struct smtp_reply *r)
{
	struct smtp_msg_result *mr = &s->res.msgs[s->msg];
	char rs[300];

	smtp_sess_reply_str(r, rs, sizeof(rs));
	if (r->code != 354) {
		msg_fail_pending(mr,
		    r->code / 100 == 2 ? SMTP_OUTCOME_TEMP
				       : outcome_of(r->code),
		    r->code, r->enhanced, rs, true);
		message_done(s);
		return;
	}
	s->state = ST_BODY;
	smtp_sess_timer(s, s->p.timeouts.data_block);
	log_debug("smtp: [%s]:%u > (%zu bytes of message)", s->p.address,
	    s->p.port, s->body.len);
	if (bufferevent_write(s->bev, s->body.data, s->body.len) != 0)
		smtp_sess_abort(
		    s, SMTP_RESULT_NONE, -ERR_IO, "cannot queue the message");
}

void
smtp_txn_on_body(struct smtp_session *s, const struct smtp_reply *r)
{
	struct smtp_msg_result *mr = &s->res.msgs[s->msg];
	enum smtp_outcome o = outcome_of(r->code);
	char rs[300];

	smtp_sess_reply_str(r, rs, sizeof(rs));
	if (s->state == ST_BODY &&
	    evbuffer_get_length(bufferevent_get_output(s->bev)) > 0) {
		/* A reply before the whole body went out. */
		smtp_sess_abort(s, SMTP_RESULT_NONE, -ERR_PROTO,
		    "reply before the end of the message: %s", rs);
		msg_fail_pending(
		    mr, SMTP_OUTCOME_TEMP, r->code, r->enhanced, rs, true);
		return;
	}
	if (r->code / 100 == 3)
		o = SMTP_OUTCOME_TEMP;
	msg_fail_pending(mr, o, r->code, r->enhanced, rs, true);
	log_info("smtp: [%s]:%u: message %zu %s: %s", s->p.address, s->p.port,
	    s->msg + 1, o == SMTP_OUTCOME_OK ? "accepted" : "refused", rs);
	message_done(s);
}
