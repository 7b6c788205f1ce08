/*
 * tls-floor: the bare-OpenSSL floor for one SMTP STARTTLS session (RFC 3207
 * over RFC 5321): connect, greeting, EHLO, STARTTLS, a full TLS 1.3
 * handshake (no resumption), QUIT; N times in a row in one process.  Prints
 * sessions per second and the CPU (user + system, getrusage) per session.
 * Its sessions use libssl and libcrypto only (libdanemta only parses the
 * --tlsa text), so bench/handshake can put danemta's client beside it;
 * --tlsa makes OpenSSL's own DANE code do the verification.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "danemta/tlsa.h"

#define FLOOR_LINE_MAX 1024   /* one reply line (RFC 5321 §4.5.3.1.5: 512) */
#define FLOOR_REPLY_MAX 16384 /* a whole multi-line reply */
#define FLOOR_SESSIONS_MAX 10000000L
#define FLOOR_TLSA_MAX 8
#define FLOOR_TLSA_DATA_MAX 64

enum floor_verify {
	FLOOR_VERIFY_NONE = 0,
	FLOOR_VERIFY_CA,   /* PKIX against --ca, name from --name */
	FLOOR_VERIFY_DANE, /* OpenSSL DANE against --tlsa records */
};

struct floor_tlsa {
	uint8_t usage, selector, mtype;
	unsigned char data[FLOOR_TLSA_DATA_MAX];
	size_t len;
};

struct floor_opts {
	struct sockaddr_in sin;
	const char *name; /* SNI, DANE base domain, PKIX reference id */
	const char *helo;
	const char *ca;
	enum floor_verify verify;
	struct floor_tlsa tlsa[FLOOR_TLSA_MAX];
	size_t ntlsa;
	long n;
	int ehlo2;
	int json;
};

/* Reply reader on the plain socket or on the TLS stream. */
struct floor_conn {
	int fd;
	SSL *ssl;
	char buf[FLOOR_REPLY_MAX];
	size_t len;
};

static __attribute__((noreturn)) void
usage(void)
{
	(void)fprintf(stderr,
	    "usage: tls-floor --connect ADDR:PORT [-n N] [--name NAME]\n"
	    "    [--ca FILE | --tlsa \"U S M HEX\"...] [--helo NAME] [--ehlo2]"
	    " [--json]\n");
	exit(64);
}

static long
number(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		usage();
	return v;
}

static void
parse_connect(struct floor_opts *o, const char *arg)
{
	char host[64];
	const char *colon = strrchr(arg, ':');
	size_t n;

	if (colon == NULL || (n = (size_t)(colon - arg)) == 0 ||
	    n >= sizeof(host))
		usage();
	memcpy(host, arg, n);
	host[n] = '\0';
	o->sin.sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &o->sin.sin_addr) != 1)
		usage();
	o->sin.sin_port = htons((uint16_t)number(colon + 1, 1, 65535));
}

/* "U S M HEX" as dig prints it (tlsa_text_parse); the fields OpenSSL needs. */
static void
parse_tlsa(struct floor_opts *o, const char *arg)
{
	struct floor_tlsa *t;
	struct tlsa_rr rr;

	if (o->ntlsa >= FLOOR_TLSA_MAX ||
	    tlsa_text_parse(arg, strlen(arg), &rr) < 0)
		usage();
	if (rr.len == 0 || rr.len > sizeof(t->data)) {
		tlsa_rr_clear(&rr);
		usage();
	}
	t = &o->tlsa[o->ntlsa++];
	t->usage = rr.usage;
	t->selector = rr.selector;
	t->mtype = rr.mtype;
	memcpy(t->data, rr.data, rr.len);
	t->len = rr.len;
	tlsa_rr_clear(&rr);
	o->verify = FLOOR_VERIFY_DANE;
}

static int
conn_write(struct floor_conn *c, const char *s)
{
	size_t len = strlen(s), off = 0;
	ssize_t w;
	int r;

	while (off < len) {
		if (c->ssl != NULL) {
			r = SSL_write(c->ssl, s + off, (int)(len - off));
			if (r <= 0)
				return -1;
			off += (size_t)r;
			continue;
		}
		w = send(c->fd, s + off, len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

/*
 * Read one whole reply; returns its code (200-599) or -1.  Bytes after the
 * last line stay in c->buf: the caller refuses them before STARTTLS.
 */
static int
conn_reply(struct floor_conn *c)
{
	size_t start = 0, i;
	ssize_t got;
	int code;

	for (;;) {
		for (i = start; i < c->len; i++) {
			if (c->buf[i] != '\n')
				continue;
			if (i - start < 4 || i - start > FLOOR_LINE_MAX ||
			    c->buf[start] < '2' || c->buf[start] > '5')
				return -1;
			code = (c->buf[start] - '0') * 100 +
			    (c->buf[start + 1] - '0') * 10 +
			    (c->buf[start + 2] - '0');
			if (c->buf[start + 3] == '-') {
				start = i + 1;
				continue;
			}
			memmove(c->buf, c->buf + i + 1, c->len - i - 1);
			c->len -= i + 1;
			return code;
		}
		if (c->len >= sizeof(c->buf))
			return -1;
		if (c->ssl != NULL)
			got = SSL_read(c->ssl, c->buf + c->len,
			    (int)(sizeof(c->buf) - c->len));
		else
			got = recv(
			    c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (got < 0 && c->ssl == NULL && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		c->len += (size_t)got;
	}
}

static int
command(struct floor_conn *c, const char *line, int want)
{
	if (conn_write(c, line) < 0)
		return -1;
	return conn_reply(c) == want ? 0 : -1;
}

static SSL_CTX *
ctx_new(const struct floor_opts *o)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		return NULL;
	/* Every session is a full handshake: no tickets, no cache. */
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	(void)SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (o->verify == FLOOR_VERIFY_CA) {
		if (SSL_CTX_load_verify_locations(ctx, o->ca, NULL) != 1)
			goto fail;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else if (o->verify == FLOOR_VERIFY_DANE) {
		if (SSL_CTX_dane_enable(ctx) <= 0)
			goto fail;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static int
tls_start(const struct floor_opts *o, SSL_CTX *ctx, struct floor_conn *c)
{
	size_t i;
	int r;

	if ((c->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		return -1;
	if (o->name != NULL && SSL_set_tlsext_host_name(c->ssl, o->name) != 1)
		return -1;
	if (o->verify == FLOOR_VERIFY_CA && o->name != NULL &&
	    SSL_set1_host(c->ssl, o->name) != 1)
		return -1;
	if (o->verify == FLOOR_VERIFY_DANE) {
		if (SSL_dane_enable(c->ssl, o->name) <= 0)
			return -1;
		/* RFC 7672 §3.1.1: no name checks for DANE-EE. */
		SSL_dane_set_flags(c->ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
		for (i = 0; i < o->ntlsa; i++) {
			r = SSL_dane_tlsa_add(c->ssl, o->tlsa[i].usage,
			    o->tlsa[i].selector, o->tlsa[i].mtype,
			    o->tlsa[i].data, o->tlsa[i].len);
			if (r < 0)
				return -1;
		}
	}
	if (SSL_connect(c->ssl) != 1)
		return -1;
	if (o->verify != FLOOR_VERIFY_NONE &&
	    SSL_get_verify_result(c->ssl) != X509_V_OK)
		return -1;
	return 0;
}

/* One session; 0 or -1 with the failing step in *step. */
static int
session(const struct floor_opts *o, SSL_CTX *ctx, const char *ehlo,
    const char **step)
{
	static struct floor_conn c;
	int one = 1, r = -1;

	c.len = 0;
	c.ssl = NULL;
	*step = "connect";
	if ((c.fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	(void)setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c.fd, (const struct sockaddr *)&o->sin, sizeof(o->sin)) < 0)
		goto out;
	*step = "greeting";
	if (conn_reply(&c) != 220)
		goto out;
	*step = "EHLO";
	if (command(&c, ehlo, 250) < 0)
		goto out;
	*step = "STARTTLS";
	if (command(&c, "STARTTLS\r\n", 220) < 0 || c.len != 0)
		goto out;
	*step = "handshake";
	if (tls_start(o, ctx, &c) < 0)
		goto out;
	*step = "EHLO after STARTTLS";
	if (o->ehlo2 && command(&c, ehlo, 250) < 0)
		goto out;
	*step = "QUIT";
	if (command(&c, "QUIT\r\n", 221) < 0)
		goto out;
	r = 0;
out:
	if (c.ssl != NULL) {
		if (SSL_is_init_finished(c.ssl))
			(void)SSL_shutdown(c.ssl);
		SSL_free(c.ssl);
	}
	(void)close(c.fd);
	return r;
}

static double
tv_sec(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static double
cpu_now(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return tv_sec(ru.ru_utime) + tv_sec(ru.ru_stime);
}

static double
wall_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
parse_args(int argc, char **argv, struct floor_opts *o)
{
	static const struct option longopts[] = {
	    {"connect", required_argument, NULL, 'c'},
	    {"name", required_argument, NULL, 'N'},
	    {"ca", required_argument, NULL, 'A'},
	    {"tlsa", required_argument, NULL, 'T'},
	    {"helo", required_argument, NULL, 'H'},
	    {"ehlo2", no_argument, NULL, 'E'},
	    {"json", no_argument, NULL, 'J'},
	    {NULL, 0, NULL, 0},
	};
	int ch, have_connect = 0;

	memset(o, 0, sizeof(*o));
	o->n = 100;
	o->helo = "tls-floor.invalid";
	while ((ch = getopt_long(argc, argv, "n:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			parse_connect(o, optarg);
			have_connect = 1;
			break;
		case 'n':
			o->n = number(optarg, 1, FLOOR_SESSIONS_MAX);
			break;
		case 'N':
			o->name = optarg;
			break;
		case 'A':
			o->ca = optarg;
			o->verify = FLOOR_VERIFY_CA;
			break;
		case 'T':
			parse_tlsa(o, optarg);
			break;
		case 'H':
			o->helo = optarg;
			break;
		case 'E':
			o->ehlo2 = 1;
			break;
		case 'J':
			o->json = 1;
			break;
		default:
			usage();
		}
	}
	if (!have_connect || optind != argc || (o->ca != NULL && o->ntlsa) ||
	    (o->ntlsa && o->name == NULL))
		usage();
}

int
main(int argc, char **argv)
{
	struct floor_opts o;
	SSL_CTX *ctx;
	char ehlo[300];
	const char *step = "";
	double w0, c0, wall, cpu;
	long i;

	parse_args(argc, argv, &o);
	if (snprintf(ehlo, sizeof(ehlo), "EHLO %s\r\n", o.helo) >=
	    (int)sizeof(ehlo))
		usage();
	if ((ctx = ctx_new(&o)) == NULL) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	w0 = wall_now();
	c0 = cpu_now();
	for (i = 0; i < o.n; i++) {
		if (session(&o, ctx, ehlo, &step) < 0) {
			(void)fprintf(stderr,
			    "tls-floor: session %ld failed at %s\n", i + 1,
			    step);
			ERR_print_errors_fp(stderr);
			SSL_CTX_free(ctx);
			return 1;
		}
	}
	cpu = cpu_now() - c0;
	wall = wall_now() - w0;
	SSL_CTX_free(ctx);
	if (o.json)
		(void)printf(
		    "{\"sessions\": %ld, \"wall_s\": %.6f, "
		    "\"cpu_s\": %.6f, \"sessions_per_s\": %.2f, "
		    "\"cpu_ms_per_session\": %.4f, \"verify\": \"%s\"}\n",
		    o.n, wall, cpu, (double)o.n / wall, cpu * 1e3 / (double)o.n,
		    o.verify == FLOOR_VERIFY_DANE     ? "dane"
			: o.verify == FLOOR_VERIFY_CA ? "ca"
						      : "none");
	else
		(void)printf("%ld sessions in %.3f s: %.1f sessions/s, "
			     "%.4f ms CPU per session\n",
		    o.n, wall, (double)o.n / wall, cpu * 1e3 / (double)o.n);
	return 0;
}
