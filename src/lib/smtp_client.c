/*
 * The SMTP client session on libevent bufferevents: connection, greeting,
 * EHLO/HELO, STARTTLS (RFC 3207) through the OpenSSL filter, the reply
 * reader, the timeouts of RFC 5321 §4.5.3.2 and the downgrade rules of
 * RFC 7672 §2.2 and §3 for one connection; implicit TLS (RFC 8314 §3.3)
 * and a TLS-only handshake for reading a server's chain.  Transactions:
 * smtp_txn.c.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "danemta/buf.h"
#include "danemta/err.h"
#include "danemta/log.h"
#include "danemta/smtp_client.h"
#include "danemta/smtp_reply.h"
#include "danemta/util.h"
#include "smtp_client_priv.h"

/* Bytes libevent buffers from the peer before we have consumed a line. */
#define SMTP_INPUT_HIGHWATER ((size_t)4 * SMTP_LINE_MAX)

static const char *const state_names[] = {
    [ST_CONNECTING] = "connect",
    [ST_GREETING] = "the greeting",
    [ST_EHLO] = "EHLO",
    [ST_HELO] = "HELO",
    [ST_STARTTLS] = "STARTTLS",
    [ST_HANDSHAKE] = "the TLS handshake",
    [ST_RSET] = "RSET",
    [ST_MAIL] = "MAIL/RCPT",
    [ST_DATA] = "DATA",
    [ST_BODY] = "the message body",
    [ST_QUIT] = "QUIT",
    [ST_DONE] = "the end",
};

static void session_read_cb(struct bufferevent *bev, void *arg);
static void session_write_cb(struct bufferevent *bev, void *arg);
static void session_event_cb(struct bufferevent *bev, short what, void *arg);

static const char *
mode_str(enum smtp_tls_mode m)
{
	switch (m) {
	case SMTP_TLS_DANE:
		return "dane";
	case SMTP_TLS_REQUIRED:
		return "tls-required";
	case SMTP_TLS_OPPORTUNISTIC:
		return "opportunistic";
	default:
		return "none";
	}
}

/* TLS is mandatory in this mode (secure TLSA records exist). */
static bool
tls_mandatory(const struct smtp_session *s)
{
	return s->p.mode == SMTP_TLS_DANE || s->p.mode == SMTP_TLS_REQUIRED;
}

void
smtp_sess_timer(struct smtp_session *s, unsigned int ms)
{
	struct timeval tv;

	if (s->finishing)
		return;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	(void)evtimer_add(s->timer, &tv);
}

/* Close the connection and let the loop deliver done. */
static void
session_finish(struct smtp_session *s)
{
	if (s->finishing)
		return;
	s->finishing = true;
	s->state = ST_DONE;
	if (s->bev != NULL) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	if (s->res.result == SMTP_RESULT_NONE)
		s->res.result = SMTP_RESULT_SMTP_FAILED;
	(void)evtimer_del(s->timer);
	event_active(s->timer, EV_TIMEOUT, 1);
}

/* Record the first failure: result (NONE keeps a settled one), error, reason. */
static void
session_fail(
    struct smtp_session *s, enum smtp_result r, int err, const char *reason)
{
	if (s->res.error != 0 || s->finishing)
		return;
	s->res.error = err;
	(void)strlcpy(s->res.reason, reason, sizeof(s->res.reason));
	if (r != SMTP_RESULT_NONE)
		s->res.result = r;
	else if (s->res.result == SMTP_RESULT_NONE)
		s->res.result = SMTP_RESULT_SMTP_FAILED;
	log_warnx("smtp: [%s]:%u: %s", s->p.address, s->p.port, s->res.reason);
}

/* A failure that leaves the connection unusable: close at once. */
void
smtp_sess_abort(
    struct smtp_session *s, enum smtp_result r, int err, const char *fmt, ...)
{
	char reason[sizeof(s->res.reason)];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	session_fail(s, r, err, reason);
	session_finish(s);
}

void
smtp_sess_send(struct smtp_session *s, const char *cmd)
{
	if (s->finishing || s->bev == NULL)
		return;
	log_debug("smtp: [%s]:%u > %s", s->p.address, s->p.port, cmd);
	if (bufferevent_write(s->bev, cmd, strlen(cmd)) != 0 ||
	    bufferevent_write(s->bev, "\r\n", 2) != 0)
		smtp_sess_abort(
		    s, SMTP_RESULT_NONE, -ERR_IO, "cannot queue a command");
}

void
smtp_sess_quit(struct smtp_session *s)
{
	s->state = ST_QUIT;
	smtp_sess_timer(s, s->p.timeouts.ehlo);
	smtp_sess_send(s, "QUIT");
}

/* A failure of policy or of the peer's replies: say QUIT, then close. */
void
smtp_sess_fail_quit(
    struct smtp_session *s, enum smtp_result r, int err, const char *fmt, ...)
{
	char reason[sizeof(s->res.reason)];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	session_fail(s, r, err, reason);
	smtp_sess_quit(s);
}

/* "250 2.1.0 text" for reasons, the text shortened. */
void
smtp_sess_reply_str(const struct smtp_reply *r, char *dst, size_t dstsz)
{
	char text[256];
	const char *t = r->text != NULL ? r->text : "";
	size_t n = strcspn(t, "\n");

	(void)log_sanitise(text, sizeof(text), t, n);
	(void)snprintf(dst, dstsz, "%d %s", r->code, text);
}

static void
send_ehlo(struct smtp_session *s)
{
	char *cmd;

	s->state = ST_EHLO;
	smtp_sess_timer(s, s->p.timeouts.ehlo);
	(void)xasprintf(&cmd, "EHLO %s", s->p.helo_name);
	smtp_sess_send(s, cmd);
	free(cmd);
}

static void
on_greeting(struct smtp_session *s, const struct smtp_reply *r)
{
	char rs[300];

	smtp_sess_reply_str(r, rs, sizeof(rs));
	(void)strlcpy(s->res.greeting, rs, sizeof(s->res.greeting));
	if (r->code / 100 != 2) {
		smtp_sess_fail_quit(s, SMTP_RESULT_SMTP_FAILED, -ERR_PROTO,
		    "greeting refused: %s", rs);
		return;
	}
	send_ehlo(s);
}

/* STARTTLS is not there, or was refused: what the mode makes of it. */
static void
no_starttls(struct smtp_session *s, const char *why)
{
	if (tls_mandatory(s)) {
		s->res.tlsrpt_result = "starttls-not-supported";
		smtp_sess_fail_quit(s, SMTP_RESULT_STARTTLS_MISSING, -ERR_PROTO,
		    "%s; TLS is required (%s), nothing is sent", why,
		    mode_str(s->p.mode));
		return;
	}
	if (s->p.mode == SMTP_TLS_OPPORTUNISTIC)
		log_info("smtp: [%s]:%u: %s; continuing in plaintext",
		    s->p.address, s->p.port, why);
	s->res.result = SMTP_RESULT_PLAINTEXT;
	smtp_txn_next(s);
}

static void
on_ehlo(struct smtp_session *s, const struct smtp_reply *r)
{
	char rs[300], *cmd;

	smtp_sess_reply_str(r, rs, sizeof(rs));
	if (r->code / 100 != 2) {
		if (s->in_tls || tls_mandatory(s)) {
			/* A HELO-only server cannot offer STARTTLS. */
			if (!s->in_tls)
				s->res.tlsrpt_result = "starttls-not-supported";
			smtp_sess_fail_quit(s,
			    s->in_tls ? SMTP_RESULT_NONE
				      : SMTP_RESULT_STARTTLS_MISSING,
			    -ERR_PROTO, "EHLO refused: %s", rs);
			return;
		}
		s->state = ST_HELO;
		smtp_sess_timer(s, s->p.timeouts.ehlo);
		(void)xasprintf(&cmd, "HELO %s", s->p.helo_name);
		smtp_sess_send(s, cmd);
		free(cmd);
		return;
	}
	s->res.ehlo_done = true;
	if (smtp_ehlo_parse(r, &s->ehlo) < 0)
		memset(&s->ehlo, 0, sizeof(s->ehlo));
	s->res.pipelining = s->ehlo.pipelining;
	s->res.size_limit = s->ehlo.size;
	if (s->in_tls) {
		smtp_txn_next(s);
		return;
	}
	s->res.starttls_offered = s->ehlo.starttls;
	if (s->p.mode == SMTP_TLS_NONE) {
		s->res.result = SMTP_RESULT_PLAINTEXT;
		smtp_txn_next(s);
		return;
	}
	if (!s->ehlo.starttls) {
		no_starttls(s, "STARTTLS not offered");
		return;
	}
	s->state = ST_STARTTLS;
	smtp_sess_timer(s, s->p.timeouts.starttls);
	smtp_sess_send(s, "STARTTLS");
}

static void
on_helo(struct smtp_session *s, const struct smtp_reply *r)
{
	char rs[300];

	if (r->code / 100 != 2) {
		smtp_sess_reply_str(r, rs, sizeof(rs));
		smtp_sess_fail_quit(s, SMTP_RESULT_SMTP_FAILED, -ERR_PROTO,
		    "HELO refused: %s", rs);
		return;
	}
	s->res.result = SMTP_RESULT_PLAINTEXT;
	smtp_txn_next(s);
}

static void
start_tls(struct smtp_session *s)
{
	struct bufferevent *filter;
	SSL *ssl = NULL;
	int r;

	r = dane_ssl_new(s->ctx, &s->p.tls, &ssl, &s->res.tlsa_added);
	if (r < 0) {
		smtp_sess_abort(s, SMTP_RESULT_TLS_FAILED, r,
		    "cannot set up TLS: %s", err_str(r));
		return;
	}
	if (s->p.mode == SMTP_TLS_DANE && s->res.tlsa_added == 0) {
		SSL_free(ssl);
		s->res.tlsrpt_result = "tlsa-invalid";
		smtp_sess_abort(s, SMTP_RESULT_DANE_FAILED, -ERR_TLS,
		    "DANE: none of the TLSA records of %s is usable",
		    s->p.tls.sni);
		return;
	}
	filter = bufferevent_openssl_filter_new(s->base, s->bev, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (filter == NULL) {
		SSL_free(ssl);
		smtp_sess_abort(
		    s, SMTP_RESULT_TLS_FAILED, -ERR_TLS, "cannot start TLS");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(filter, 1);
	s->bev = filter;
	(void)evbuffer_add_cb(
	    bufferevent_get_output(s->bev), smtp_txn_drain_cb, s);
	bufferevent_setcb(
	    s->bev, session_read_cb, session_write_cb, session_event_cb, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, SMTP_INPUT_HIGHWATER);
	(void)bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->state = ST_HANDSHAKE;
	smtp_sess_timer(s, s->p.timeouts.starttls);
}

static void
on_starttls(struct smtp_session *s, const struct smtp_reply *r)
{
	char rs[300], why[340];

	if (r->code / 100 != 2) {
		smtp_sess_reply_str(r, rs, sizeof(rs));
		(void)snprintf(why, sizeof(why), "STARTTLS refused: %s", rs);
		no_starttls(s, why);
		return;
	}
	/* Bytes after the 220 were sent before TLS and must not be taken as
	 * if they came over it (the STARTTLS injection of CVE-2011-0411). */
	if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0) {
		smtp_sess_abort(s, SMTP_RESULT_TLS_FAILED, -ERR_PROTO,
		    "data after the reply to STARTTLS (injection attempt?)");
		return;
	}
	start_tls(s);
}

static void
log_dane_outcome(struct smtp_session *s)
{
	const struct dane_info *ti = &s->res.tlsinfo;
	char head[64];
	size_t n;

	if (ti->authenticated) {
		/* "3 1 1 " and the first 8 hex digits identify the record. */
		n = strcspn(ti->matched, " ");
		n += 1 + strcspn(ti->matched + n + 1, " ");
		n += 1 + strcspn(ti->matched + n + 1, " ");
		(void)snprintf(
		    head, sizeof(head), "%.*s", (int)(n + 9), ti->matched);
		log_info("DANE: validated successfully (%s\xe2\x80\xa6, "
			 "depth %d)",
		    head, ti->matched_depth);
		return;
	}
	log_warnx("X.509 error: %s (%ld)", ti->verify_error, ti->verify_code);
	if (ti->verify_code == X509_V_ERR_DANE_NO_MATCH)
		log_warnx("DANE: no certificate matches the TLSA records of %s",
		    s->p.tls.sni);
	else
		log_warnx("DANE: verification failed for %s (%s)", s->p.tls.sni,
		    ti->tlsrpt_result);
}

/* A failure after the handshake: QUIT when SMTP has been spoken. */
static void
fail_after_handshake(
    struct smtp_session *s, enum smtp_result r, int err, const char *reason)
{
	if (s->p.tls_start == SMTP_TLS_START_STARTTLS)
		smtp_sess_fail_quit(s, r, err, "%s", reason);
	else
		smtp_sess_abort(s, r, err, "%s", reason);
}

/* After the handshake of implicit TLS: the greeting, or the end. */
static void
after_implicit_handshake(struct smtp_session *s)
{
	if (s->p.tls_start == SMTP_TLS_START_ONLY) {
		s->res.completed = true;
		session_finish(s);
		return;
	}
	s->state = ST_GREETING;
	smtp_sess_timer(s, s->p.timeouts.greeting);
	/* The greeting may have come with the handshake's last flight. */
	if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0)
		session_read_cb(s->bev, s);
}

static void
on_handshake(struct smtp_session *s)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
	struct dane_info *ti = &s->res.tlsinfo;
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	char why[sizeof(s->res.reason)];

	s->in_tls = true;
	s->res.tls = true;
	if (chain != NULL && s->res.peer_chain == NULL)
		s->res.peer_chain = X509_chain_up_ref(chain);
	(void)dane_info_get(ssl, &s->p.tls, ti);
	log_info(
	    "Connection is now using TLS (%s, %s)", ti->version, ti->cipher);
	if (s->p.mode == SMTP_TLS_DANE) {
		log_dane_outcome(s);
		if (!ti->authenticated) {
			s->res.tlsrpt_result = ti->tlsrpt_result;
			(void)snprintf(why, sizeof(why),
			    "DANE authentication of %s failed: %s (%ld); "
			    "nothing is sent",
			    s->p.tls.sni, ti->verify_error, ti->verify_code);
			fail_after_handshake(
			    s, SMTP_RESULT_DANE_FAILED, -ERR_TLS, why);
			return;
		}
		s->res.result = SMTP_RESULT_DANE_AUTHENTICATED;
	} else {
		if (!ti->verified)
			log_info("X.509 error: %s (%ld)", ti->verify_error,
			    ti->verify_code);
		s->res.result = s->p.mode == SMTP_TLS_REQUIRED
		    ? SMTP_RESULT_TLS_UNAUTHENTICATED
		    : SMTP_RESULT_TLS;
	}
	if (s->p.tls_start != SMTP_TLS_START_STARTTLS) {
		after_implicit_handshake(s);
		return;
	}
	memset(&s->ehlo, 0, sizeof(s->ehlo));
	send_ehlo(s);
}

static void
on_reply(struct smtp_session *s, const struct smtp_reply *r)
{
	char rs[300];

	smtp_sess_reply_str(r, rs, sizeof(rs));
	log_debug("smtp: [%s]:%u < %s", s->p.address, s->p.port, rs);
	switch (s->state) {
	case ST_GREETING:
		on_greeting(s, r);
		break;
	case ST_EHLO:
		on_ehlo(s, r);
		break;
	case ST_HELO:
		on_helo(s, r);
		break;
	case ST_STARTTLS:
		on_starttls(s, r);
		break;
	case ST_RSET:
		smtp_txn_on_rset(s, r);
		break;
	case ST_MAIL:
		smtp_txn_on_mail_rcpt(s, r);
		break;
	case ST_DATA:
		smtp_txn_on_data(s, r);
		break;
	case ST_BODY:
		smtp_txn_on_body(s, r);
		break;
	case ST_QUIT:
		session_finish(s);
		break;
	default:
		smtp_sess_abort(s, SMTP_RESULT_NONE, -ERR_PROTO,
		    "unexpected reply during %s: %s", state_names[s->state],
		    rs);
		break;
	}
}

static void
session_read_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct smtp_reply reply;
	const uint8_t *p;
	size_t n, linelen, consumed;
	int r;

	memset(&reply, 0, sizeof(reply));
	while (!s->finishing && bev == s->bev &&
	    (n = evbuffer_get_length(in)) > 0) {
		if (n > SMTP_LINE_MAX)
			n = SMTP_LINE_MAX;
		p = evbuffer_pullup(in, (ev_ssize_t)n);
		r = smtp_line_next(p, n, &linelen, &consumed);
		if (r == 0)
			break;
		if (r < 0) {
			smtp_sess_abort(s, SMTP_RESULT_NONE, r,
			    "reply line longer than %d bytes during %s",
			    SMTP_LINE_MAX, state_names[s->state]);
			break;
		}
		r = smtp_reply_feed(&s->parser, p, linelen, &reply);
		(void)evbuffer_drain(in, consumed);
		if (r < 0) {
			smtp_sess_abort(s, SMTP_RESULT_NONE, r,
			    "malformed reply during %s: %s",
			    state_names[s->state], err_str(r));
			break;
		}
		if (r == 1) {
			on_reply(s, &reply);
			smtp_reply_clear(&reply);
		}
	}
	smtp_reply_clear(&reply);
}

static void
session_write_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_session *s = arg;

	/* The whole body is out: now the wait for the final reply. */
	if (s->state == ST_BODY)
		smtp_sess_timer(s, s->p.timeouts.data_final);
}

static void
tls_error_str(struct bufferevent *bev, char *dst, size_t dstsz)
{
	unsigned long e;

	dst[0] = '\0';
	/* libevent also queues SSL_get_error()'s small codes (library 0),
	 * which print as "error:00000001:lib(0)"; only real reasons count. */
	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (ERR_GET_LIB(e) != 0)
			ERR_error_string_n(e, dst, dstsz);
	if (dst[0] == '\0')
		(void)strlcpy(dst,
		    "connection closed during the handshake, or no TLS "
		    "from the server",
		    dstsz);
}

static void
session_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session *s = arg;
	char why[256];
	int saved = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED) {
		if (s->state == ST_CONNECTING &&
		    s->p.tls_start != SMTP_TLS_START_STARTTLS) {
			start_tls(s);
		} else if (s->state == ST_CONNECTING) {
			s->state = ST_GREETING;
			smtp_sess_timer(s, s->p.timeouts.greeting);
		} else if (s->state == ST_HANDSHAKE) {
			on_handshake(s);
		}
		return;
	}
	if (s->state == ST_CONNECTING) {
		smtp_sess_abort(s, SMTP_RESULT_CONNECT_FAILED, -ERR_IO,
		    "connect to [%s]:%u failed: %s", s->p.address, s->p.port,
		    evutil_socket_error_to_string(saved));
		return;
	}
	if (s->state == ST_HANDSHAKE) {
		tls_error_str(bev, why, sizeof(why));
		if (tls_mandatory(s))
			s->res.tlsrpt_result = "validation-failure";
		smtp_sess_abort(s, SMTP_RESULT_TLS_FAILED, -ERR_TLS,
		    "TLS handshake failed: %s", why);
		return;
	}
	if (s->state == ST_QUIT) {
		session_finish(s); /* closing after QUIT is fine */
		return;
	}
	smtp_sess_abort(s, SMTP_RESULT_NONE,
	    (what & BEV_EVENT_EOF) ? -ERR_CLOSED : -ERR_IO,
	    "connection %s during %s",
	    (what & BEV_EVENT_EOF) ? "closed by the server" : "failed",
	    state_names[s->state]);
}

static void
session_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;

	if (s->finishing) {
		s->done(s, s->arg);
		return;
	}
	if (s->state == ST_CONNECTING)
		smtp_sess_abort(s, SMTP_RESULT_CONNECT_FAILED, -ERR_TIMEOUT,
		    "connect to [%s]:%u timed out", s->p.address, s->p.port);
	else if (s->state == ST_QUIT)
		session_finish(s);
	else
		smtp_sess_abort(s,
		    s->state == ST_HANDSHAKE ? SMTP_RESULT_TLS_FAILED
					     : SMTP_RESULT_NONE,
		    -ERR_TIMEOUT, "timeout during %s", state_names[s->state]);
}

static int
sockaddr_make(
    const char *address, uint16_t port, struct sockaddr_storage *ss, int *sslen)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, address, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*sslen = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, address, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*sslen = sizeof(*sin6);
		return 0;
	}
	return -ERR_USAGE;
}

static int
params_check(const struct smtp_params *p)
{
	size_t i;

	if (p->address == NULL || p->helo_name == NULL || p->port == 0 ||
	    p->nmsgs > SMTP_MSGS_MAX || (p->nmsgs > 0 && p->msgs == NULL))
		return -ERR_USAGE;
	if (p->mode > SMTP_TLS_NONE || p->tls.nrefids > DANE_REFIDS_MAX ||
	    p->tls.ntlsa > TLSA_RRSET_MAX)
		return -ERR_USAGE;
	if (p->mode == SMTP_TLS_DANE &&
	    (p->tls.sni == NULL || p->tls.sni[0] == '\0'))
		return -ERR_USAGE;
	if (p->tls_start > SMTP_TLS_START_ONLY ||
	    (p->tls_start != SMTP_TLS_START_STARTTLS &&
		p->mode == SMTP_TLS_NONE) ||
	    (p->tls_start == SMTP_TLS_START_ONLY && p->nmsgs > 0))
		return -ERR_USAGE;
	for (i = 0; i < p->nmsgs; i++) {
		if (p->msgs[i].from == NULL ||
		    p->msgs[i].nrcpts > SMTP_RCPTS_MAX ||
		    strlen(p->msgs[i].from) >= SMTP_ADDR_MAX)
			return -ERR_USAGE;
		if (p->msgs[i].nrcpts > 0 && p->msgs[i].rcpts == NULL)
			return -ERR_USAGE;
	}
	return 0;
}

static void
results_alloc(struct smtp_session *s)
{
	size_t i;

	s->res.nmsgs = s->p.nmsgs;
	s->res.msgs = xcalloc(s->p.nmsgs + 1, sizeof(*s->res.msgs));
	for (i = 0; i < s->p.nmsgs; i++) {
		s->res.msgs[i].nrcpts = s->p.msgs[i].nrcpts;
		s->res.msgs[i].rcpts = xcalloc(
		    s->p.msgs[i].nrcpts + 1, sizeof(*s->res.msgs[i].rcpts));
	}
}

int
smtp_session_start(struct event_base *base, struct dane_ctx *ctx,
    const struct smtp_params *p, smtp_done_fn done, void *arg,
    struct smtp_session **out)
{
	struct smtp_session *s;
	struct sockaddr_storage ss;
	int sslen, r;

	*out = NULL;
	if ((r = params_check(p)) < 0 ||
	    (r = sockaddr_make(p->address, p->port, &ss, &sslen)) < 0)
		return r;
	s = xcalloc(1, sizeof(*s));
	s->base = base;
	s->ctx = ctx;
	s->p = *p;
	s->done = done;
	s->arg = arg;
	smtp_reply_parser_init(&s->parser);
	wbuf_init(&s->body, SMTP_MESSAGE_MAX);
	results_alloc(s);
	s->timer = evtimer_new(base, session_timer_cb, s);
	s->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (s->timer == NULL || s->bev == NULL)
		fatalx("smtp: cannot allocate libevent objects");
	bufferevent_setcb(
	    s->bev, session_read_cb, session_write_cb, session_event_cb, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, SMTP_INPUT_HIGHWATER);
	(void)evbuffer_add_cb(
	    bufferevent_get_output(s->bev), smtp_txn_drain_cb, s);
	(void)bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	log_info("Connecting to [%s]:%u (%s)", p->address, p->port,
	    p->addr_dnssec ? "DNSSEC" : "no DNSSEC");
	log_debug("smtp: [%s]:%u: mode %s%s, TLSA base %s", p->address, p->port,
	    mode_str(p->mode),
	    p->tls_start == SMTP_TLS_START_STARTTLS	  ? ""
		: p->tls_start == SMTP_TLS_START_IMPLICIT ? " (implicit TLS)"
							  : " (TLS only)",
	    p->tls.sni != NULL ? p->tls.sni : "-");
	s->state = ST_CONNECTING;
	smtp_sess_timer(s, p->timeouts.connect);
	if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&ss, sslen) <
	    0)
		smtp_sess_abort(s, SMTP_RESULT_CONNECT_FAILED, -ERR_IO,
		    "connect to [%s]:%u failed: %s", p->address, p->port,
		    strerror(errno));
	*out = s;
	return 0;
}

const struct smtp_session_result *
smtp_session_result(const struct smtp_session *s)
{
	return &s->res;
}

void
smtp_session_free(struct smtp_session *s)
{
	size_t i;

	if (s == NULL)
		return;
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	if (s->timer != NULL)
		event_free(s->timer);
	smtp_reply_parser_clear(&s->parser);
	wbuf_clear(&s->body);
	if (s->res.peer_chain != NULL)
		sk_X509_pop_free(s->res.peer_chain, X509_free);
	for (i = 0; i < s->res.nmsgs; i++)
		free(s->res.msgs[i].rcpts);
	free(s->res.msgs);
	free(s);
}

/* A host name of LDH labels, 1-63 octets each, no final dot. */
static bool
target_name_ok(const char *h, size_t len)
{
	size_t i, label = 0;

	if (len == 0 || len >= SMTP_TARGET_HOST_MAX)
		return false;
	for (i = 0; i < len; i++) {
		if (h[i] == '.') {
			if (label == 0 || h[i - 1] == '-')
				return false;
			label = 0;
		} else if (isalnum((unsigned char)h[i]) ||
		    (h[i] == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0 && h[len - 1] != '-';
}

/* "1" to "65535", decimal digits only: 0 or -ERR_FORMAT. */
static int
target_port(const char *s, size_t len, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 5 || s[0] == '0')
		return -ERR_FORMAT;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -ERR_FORMAT;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -ERR_FORMAT;
	*port = (uint16_t)v;
	return 0;
}

static int
target_parse(const char *s, size_t len, struct smtp_target *out)
{
	const char *host = s, *colon, *end;
	unsigned char bin[16];
	size_t hlen = len;
	bool dotted;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len >= SMTP_TARGET_HOST_MAX + 8 ||
	    memchr(s, '\0', len) != NULL)
		return -ERR_FORMAT;
	if (s[0] == '[') {
		if ((end = memchr(s, ']', len)) == NULL)
			return -ERR_FORMAT;
		host = s + 1;
		hlen = (size_t)(end - host);
		if (end + 1 < s + len &&
		    (end[1] != ':' ||
			target_port(end + 2, (size_t)(s + len - end - 2),
			    &out->port) < 0))
			return -ERR_FORMAT;
		if (hlen == 0 || hlen >= sizeof(out->host))
			return -ERR_FORMAT;
		memcpy(out->host, host, hlen);
		if (inet_pton(AF_INET6, out->host, bin) != 1)
			return -ERR_FORMAT;
		out->literal = true;
		return 0;
	}
	colon = memchr(s, ':', len);
	if (colon != NULL &&
	    memchr(colon + 1, ':', (size_t)(s + len - colon - 1)) == NULL) {
		hlen = (size_t)(colon - s);
		if (target_port(colon + 1, len - hlen - 1, &out->port) < 0)
			return -ERR_FORMAT;
	}
	/* The final dot of an absolute name is dropped. */
	if ((dotted = hlen > 1 && host[hlen - 1] == '.'))
		hlen--;
	if (hlen == 0 || hlen >= sizeof(out->host))
		return -ERR_FORMAT;
	memcpy(out->host, host, hlen);
	if (inet_pton(AF_INET6, out->host, bin) == 1 ||
	    inet_pton(AF_INET, out->host, bin) == 1) {
		if (dotted)
			return -ERR_FORMAT;
		out->literal = true;
		return 0;
	}
	return target_name_ok(out->host, hlen) ? 0 : -ERR_FORMAT;
}

int
smtp_target_parse(const char *s, size_t len, struct smtp_target *out)
{
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = target_parse(s, len, out)) < 0)
		memset(out, 0, sizeof(*out));
	return r;
}
