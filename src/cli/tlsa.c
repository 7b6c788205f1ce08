/*
 * danemta tlsa create: TLSA records from a certificate, a chain, a key or
 * the chain a live server presents (tlsa_connect.c), as zone-file lines or
 * JSON (RFC 6698 §2, RFC 7671 §5 and §8, RFC 7672
 * §3.1: 3 1 1 by default, 2 0 1 for issuers, current + next for rollovers).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/x509.h>

#include "danemta/dane.h"
#include "danemta/err.h"
#include "danemta/buf.h"
#include "danemta/log.h"
#include "danemta/tlsa.h"
#include "danemta/util.h"
#include "cli.h"
#include "resolver_opts.h"
#include "tlsa_connect.h"

#define CREATE_RECORDS_MAX ((size_t)2 * TLSA_CHAIN_MAX)
#define CREATE_SUBJECT_MAX 256
#define CREATE_WARNINGS_MAX 8
#define HOSTNAME_MAX 253

struct record {
	struct tlsa_rr rr;
	char role[32];
	char subject[CREATE_SUBJECT_MAX];
};

struct create {
	uint8_t usage, selector, mtype;
	bool ta, json, comments;
	const char *host;
	long long port, ttl;	  /* ttl < 0: none */
	bool port_set, conn_opts; /* --port; an option of --connect */
	const char *file, *next;
	const char *connect; /* --connect HOST[:PORT], or NULL */
	struct tlsa_connect conn;
	struct record rec[CREATE_RECORDS_MAX];
	size_t nrec;
	const char *warn[CREATE_WARNINGS_MAX];
	size_t nwarn;
};

static void
create_usage(FILE *f)
{
	(void)fprintf(f,
	    "usage: danemta tlsa create [--usage U] [--selector S] "
	    "[--mtype M] [--ta]\n"
	    "           [--next KEY|CERT] [--host NAME] [--port N] "
	    "[--ttl SECONDS] [--json]\n"
	    "           CERT|CHAIN|KEY|-\n"
	    "       danemta tlsa create [OPTION]... --connect HOST[:PORT]\n"
	    "           [--starttls smtp|none] [--sni NAME] "
	    "[--timeout SECONDS]\n"
	    "           [resolver options]\n"
	    "  U, S, M: a number or an RFC 7218 name (dane-ee, spki, "
	    "sha2-256...);\n"
	    "  the default is 3 1 1, or 2 0 1 with --ta (one record per "
	    "issuer).\n"
	    "  --connect reads the chain the server presents: STARTTLS on "
	    "ports 25\n"
	    "  and 587, implicit TLS elsewhere (SMTP after it on 465 "
	    "only).\n" RESOLVER_OPTS_USAGE);
}

static void
tlsa_usage(FILE *f)
{
	(void)fprintf(f,
	    "usage: danemta tlsa VERB [OPTION]... ARG...\n"
	    "  create    TLSA records from a certificate, key or server\n"
	    "  explain   how an SMTP client treats given TLSA records\n"
	    "  rollover  is it safe to switch to a new certificate or key?\n"
	    "  verify    do the published records match the live servers?\n"
	    "Run 'danemta tlsa VERB --help' for its options, "
	    "or see danemta-tlsa(1).\n");
}

static int
errx_data(const char *file, const char *why, int status)
{
	(void)fprintf(stderr, "danemta: tlsa create: %s: %s\n", file, why);
	return status;
}

/* Read a whole file (or stdin for "-") into a new buffer, capped. */
static int
read_input(const char *file, uint8_t **buf, size_t *len)
{
	FILE *f;
	size_t n;
	uint8_t *p;
	int status = EX_OK;

	*buf = NULL;
	*len = 0;
	f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
	if (f == NULL)
		return errx_data(file, strerror(errno), EX_NOINPUT);
	p = xmalloc(TLSA_INPUT_MAX + 1);
	n = fread(p, 1, TLSA_INPUT_MAX + 1, f);
	if (ferror(f))
		status =
		    errx_data(file, strerror(errno ? errno : EIO), EX_NOINPUT);
	else if (n > TLSA_INPUT_MAX)
		status = errx_data(file, "larger than 1 MiB", EX_DATAERR);
	if (f != stdin)
		(void)fclose(f);
	if (status != EX_OK) {
		free(p);
		return status;
	}
	*buf = p;
	*len = n;
	return EX_OK;
}

static int
load(const char *file, struct tlsa_input *in)
{
	char why[256];
	uint8_t *buf;
	size_t len;
	int r, status;

	if ((status = read_input(file, &buf, &len)) != EX_OK)
		return status;
	r = tlsa_input_parse(buf, len, in, why, sizeof(why));
	free(buf);
	if (r < 0)
		return errx_data(
		    file, why[0] != '\0' ? why : err_str(r), EX_DATAERR);
	return EX_OK;
}

static void
describe_key(EVP_PKEY *k, char *dst, size_t dstsz)
{
	const char *name = EVP_PKEY_get0_type_name(k);

	(void)snprintf(dst, dstsz, "%s %d-bit public key",
	    name != NULL ? name : "unknown", EVP_PKEY_get_bits(k));
}

static int
add_record(struct create *c, const char *file, const char *role, X509 *cert,
    EVP_PKEY *key)
{
	struct record *rec;
	int r;

	if (c->nrec >= CREATE_RECORDS_MAX)
		return errx_data(file, "too many records", EX_DATAERR);
	rec = &c->rec[c->nrec];
	if (cert != NULL) {
		r = tlsa_from_cert(
		    cert, c->usage, c->selector, c->mtype, &rec->rr);
		dane_name_str(X509_get_subject_name(cert), rec->subject,
		    sizeof(rec->subject));
	} else {
		r = tlsa_from_pubkey(
		    key, c->usage, c->selector, c->mtype, &rec->rr);
		describe_key(key, rec->subject, sizeof(rec->subject));
	}
	if (r < 0)
		return errx_data(file, err_str(r), EX_SOFTWARE);
	(void)strlcpy(rec->role, role, sizeof(rec->role));
	c->nrec++;
	return EX_OK;
}

/* The records of one input: its leaf or key, or with --ta its issuers. */
static int
generate_from(
    struct create *c, const char *file, struct tlsa_input *in, const char *when)
{
	char role[32];
	int status = EX_OK, i, n;

	if (c->ta) {
		n = in->chain != NULL ? sk_X509_num(in->chain) : 0;
		if (n < 2)
			return errx_data(file,
			    c->connect != NULL && strcmp(when, "current") == 0
				? "--ta: the server sent no issuer "
				  "certificate, only its own"
				: "--ta needs a chain with the issuer "
				  "certificates after the leaf",
			    EX_DATAERR);
		for (i = 1; i < n && status == EX_OK; i++) {
			(void)snprintf(
			    role, sizeof(role), "%s issuer %d", when, i);
			status = add_record(
			    c, file, role, sk_X509_value(in->chain, i), NULL);
		}
	} else if (in->chain != NULL) {
		status = add_record(
		    c, file, when, sk_X509_value(in->chain, 0), NULL);
	} else if (c->selector != TLSA_SELECTOR_SPKI) {
		(void)fprintf(stderr,
		    "danemta: tlsa create: %s: a key gives "
		    "only SPKI (selector 1) records\n",
		    file);
		status = EX_USAGE;
	} else {
		status = add_record(c, file, when, NULL, in->key);
	}
	return status;
}

static int
generate(struct create *c, const char *file, const char *when)
{
	struct tlsa_input in = {NULL, NULL};
	int status;

	if ((status = load(file, &in)) == EX_OK)
		status = generate_from(c, file, &in, when);
	tlsa_input_clear(&in);
	return status;
}

/* The records of the chain the server presents. */
static int
generate_connect(struct create *c)
{
	struct tlsa_input in = {NULL, NULL};
	char label[SMTP_TARGET_HOST_MAX + 16];
	int status;

	if ((status = tlsa_connect_fetch(&c->conn)) != EX_OK)
		return status;
	(void)snprintf(label, sizeof(label), "%s:%u", c->conn.target.host,
	    c->conn.used_port);
	in.chain = c->conn.chain;
	status = generate_from(c, label, &in, "current");
	return status;
}

static void
warn(struct create *c, const char *msg)
{
	(void)fprintf(stderr, "danemta: warning: %s\n", msg);
	if (c->nwarn < CREATE_WARNINGS_MAX)
		c->warn[c->nwarn++] = msg;
}

/* RFC 7671 §5, §10.1.2 and RFC 7672 §3.1 advice on what to publish. */
static void
advise(struct create *c)
{
	if (c->usage == TLSA_USAGE_DANE_EE && c->selector == TLSA_SELECTOR_CERT)
		warn(c,
		    "3 0 x records change at every certificate renewal, "
		    "even with the same key; prefer 3 1 1");
	if (c->port == 25 && c->usage == TLSA_USAGE_PKIX_TA)
		warn(c,
		    "PKIX-TA (0) is not used in SMTP (RFC 7672 3.1.3): "
		    "senders treat it as unusable; use 3 1 1 or 2 0 1");
	if (c->port == 25 && c->usage == TLSA_USAGE_PKIX_EE)
		warn(c,
		    "PKIX-EE (1) is not used in SMTP (RFC 7672 3.1.3): "
		    "senders treat it as unusable; use 3 1 1");
	if (c->usage > TLSA_USAGE_DANE_EE)
		warn(c, "this certificate usage is not usable in SMTP");
	if (c->usage == TLSA_USAGE_DANE_TA && c->selector == TLSA_SELECTOR_SPKI)
		warn(c,
		    "DANE-TA records should use Cert (0): 2 1 x lets a "
		    "subordinate CA escape the issuer's constraints");
	if (c->mtype == TLSA_MTYPE_FULL)
		warn(c,
		    "Full (0) records are large and not recommended "
		    "(RFC 7671 10.1.2); prefer SHA2-256");
	if (c->mtype == TLSA_MTYPE_SHA512)
		warn(c,
		    "SHA2-512 only: also publish SHA2-256 (1) records, "
		    "the only digest every sender must support "
		    "(RFC 7671 2)");
}

static void
print_text(const struct create *c, const char *owner)
{
	const struct record *rec;
	char *rdata;
	size_t i;

	for (i = 0; i < c->nrec; i++) {
		rec = &c->rec[i];
		rdata = tlsa_format(&rec->rr);
		if (c->comments)
			(void)printf("; %s: %s\n", rec->role, rec->subject);
		if (owner == NULL)
			(void)printf("%s\n", rdata);
		else if (c->ttl >= 0)
			(void)printf(
			    "%s %lld IN TLSA %s\n", owner, c->ttl, rdata);
		else
			(void)printf("%s IN TLSA %s\n", owner, rdata);
		free(rdata);
	}
}

static int
print_json(const struct create *c, const char *owner)
{
	json_t *root, *recs, *warns, *o;
	char *rdata, *hex;
	size_t i;
	int r;

	root = json_object();
	recs = json_array();
	warns = json_array();
	(void)json_object_set_new(
	    root, "owner", owner != NULL ? json_string(owner) : json_null());
	(void)json_object_set_new(root, "port", json_integer(c->port));
	(void)json_object_set_new(
	    root, "ttl", c->ttl >= 0 ? json_integer(c->ttl) : json_null());
	for (i = 0; i < c->nrec; i++) {
		rdata = tlsa_format(&c->rec[i].rr);
		hex = hex_encode(c->rec[i].rr.data, c->rec[i].rr.len);
		o = json_pack("{s:s, s:i, s:i, s:i, s:s, s:s, s:s}", "role",
		    c->rec[i].role, "usage", c->rec[i].rr.usage, "selector",
		    c->rec[i].rr.selector, "mtype", c->rec[i].rr.mtype, "data",
		    hex, "rdata", rdata, "subject", c->rec[i].subject);
		(void)json_array_append_new(recs, o);
		free(rdata);
		free(hex);
	}
	for (i = 0; i < c->nwarn; i++)
		(void)json_array_append_new(warns, json_string(c->warn[i]));
	(void)json_object_set_new(root, "records", recs);
	(void)json_object_set_new(root, "warnings", warns);
	r = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	(void)printf("\n");
	json_decref(root);
	return r == 0 ? EX_OK : EX_IOERR;
}

static bool
hostname_ok(const char *h)
{
	size_t i, label = 0, len = strlen(h);

	if (len == 0 || len > HOSTNAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		if (h[i] == '.') {
			if (label == 0 || (i > 0 && h[i - 1] == '-'))
				return false;
			label = 0;
		} else if ((h[i] >= 'a' && h[i] <= 'z') ||
		    (h[i] >= 'A' && h[i] <= 'Z') ||
		    (h[i] >= '0' && h[i] <= '9') ||
		    (h[i] == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return h[len - 1] != '-';
}

static int
bad_usage(const char *what, const char *arg)
{
	(void)fprintf(stderr, "danemta: tlsa create: %s '%s'\n", what, arg);
	create_usage(stderr);
	return EX_USAGE;
}

/* The --connect options: 1 when ch was one, 0 when not, -1 on a bad value. */
static int
connect_option(struct create *c, int ch, const char *arg)
{
	const char *errstr = NULL;

	switch (ch) {
	case 'c':
		if (smtp_target_parse(arg, strlen(arg), &c->conn.target) < 0) {
			(void)bad_usage(
			    "--connect: expected HOST[:PORT] or [IPV6]:PORT, "
			    "not",
			    arg);
			return -1;
		}
		c->connect = arg;
		return 1;
	case 'S':
		if (tlsa_connect_starttls_parse(arg, &c->conn.starttls) < 0) {
			(void)bad_usage(
			    "--starttls: expected smtp or none, not", arg);
			return -1;
		}
		return 1;
	case 'N':
		if (!hostname_ok(arg)) {
			(void)bad_usage("--sni: bad host name", arg);
			return -1;
		}
		c->conn.sni = arg;
		return 1;
	case 'T':
		c->conn.timeout = (unsigned int)strtonum(
		    arg, 1, CONNECT_TIMEOUT_MAX, &errstr);
		if (errstr != NULL) {
			(void)bad_usage(
			    "--timeout: expected 1 to 600 seconds, not", arg);
			return -1;
		}
		return 1;
	}
	return 0;
}

/* Option values into c; EX_OK or EX_USAGE. */
static int
parse_options(struct create *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"usage", required_argument, NULL, 'u'},
	    {"selector", required_argument, NULL, 's'},
	    {"mtype", required_argument, NULL, 'm'},
	    {"ta", no_argument, NULL, 'a'},
	    {"next", required_argument, NULL, 'n'},
	    {"host", required_argument, NULL, 'H'},
	    {"port", required_argument, NULL, 'p'},
	    {"ttl", required_argument, NULL, 't'},
	    {"json", no_argument, NULL, 'j'},
	    {"connect", required_argument, NULL, 'c'},
	    {"starttls", required_argument, NULL, 'S'},
	    {"sni", required_argument, NULL, 'N'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    RESOLVER_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	const char *errstr;
	bool set_u = false, set_s = false, set_m = false;
	uint8_t u = 0, s = 0, m = 0;
	int ch, r;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "u:s:m:h", opts, NULL)) != -1) {
		if ((r = resolver_opt(ch, optarg, &c->conn.dns)) == 0)
			r = connect_option(c, ch, optarg);
		if (r < 0)
			return EX_USAGE;
		if (r > 0) {
			c->conn_opts |= ch != 'c';
			continue;
		}
		switch (ch) {
		case 'u':
			if (tlsa_usage_parse(optarg, &u) < 0)
				return bad_usage("bad usage", optarg);
			set_u = true;
			break;
		case 's':
			if (tlsa_selector_parse(optarg, &s) < 0)
				return bad_usage("bad selector", optarg);
			set_s = true;
			break;
		case 'm':
			if (tlsa_mtype_parse(optarg, &m) < 0)
				return bad_usage("bad matching type", optarg);
			set_m = true;
			break;
		case 'a':
			c->ta = true;
			break;
		case 'n':
			c->next = optarg;
			break;
		case 'H':
			if (!hostname_ok(optarg))
				return bad_usage("bad host name", optarg);
			c->host = optarg;
			break;
		case 'p':
			c->port = strtonum(optarg, 1, 65535, &errstr);
			if (errstr != NULL)
				return bad_usage("bad port", optarg);
			c->port_set = true;
			break;
		case 't':
			c->ttl = strtonum(optarg, 0, 2147483647, &errstr);
			if (errstr != NULL)
				return bad_usage("bad TTL", optarg);
			break;
		case 'j':
			c->json = true;
			break;
		case 'h':
			create_usage(stdout);
			return -1;
		default:
			return bad_usage(
			    "unknown or incomplete option", argv[optind - 1]);
		}
	}
	c->usage =
	    set_u ? u : (c->ta ? TLSA_USAGE_DANE_TA : TLSA_USAGE_DANE_EE);
	c->selector =
	    set_s ? s : (c->ta ? TLSA_SELECTOR_CERT : TLSA_SELECTOR_SPKI);
	c->mtype = set_m ? m : TLSA_MTYPE_SHA256;
	return EX_OK;
}

static int
check_options(struct create *c, int argc, char **argv)
{
	char num[8];

	if (c->connect != NULL && optind != argc)
		return bad_usage(
		    "--connect takes no input file, but got", argv[optind]);
	if (c->connect == NULL && c->conn_opts)
		return bad_usage(
		    "--starttls, --sni, --timeout and the resolver "
		    "options need",
		    "--connect");
	if (c->connect == NULL && optind + 1 != argc) {
		(void)fprintf(stderr,
		    "danemta: tlsa create: expected one "
		    "input file\n");
		create_usage(stderr);
		return EX_USAGE;
	}
	c->file = c->connect != NULL ? c->connect : argv[optind];
	(void)snprintf(num, sizeof(num), "%u", c->usage);
	if (c->ta && c->usage != TLSA_USAGE_DANE_TA &&
	    c->usage != TLSA_USAGE_PKIX_TA)
		return bad_usage(
		    "--ta makes trust-anchor records, not usage", num);
	(void)snprintf(num, sizeof(num), "%u", c->selector);
	if (c->selector > TLSA_SELECTOR_SPKI)
		return bad_usage("cannot generate selector", num);
	(void)snprintf(num, sizeof(num), "%u", c->mtype);
	if (c->mtype > TLSA_MTYPE_SHA512)
		return bad_usage("cannot generate matching type", num);
	if (c->ttl >= 0 && c->host == NULL)
		return bad_usage(
		    "--ttl needs --host for a zone-file line", "--ttl");
	return EX_OK;
}

static int
tlsa_create(int argc, char **argv)
{
	struct create *c = xcalloc(1, sizeof(*c));
	char *owner = NULL;
	size_t i;
	int status;

	c->port = 25;
	c->ttl = -1;
	if ((status = parse_options(c, argc, argv)) != EX_OK) {
		status = status < 0 ? EX_OK : status;
		goto out;
	}
	if ((status = check_options(c, argc, argv)) != EX_OK)
		goto out;
	c->comments = c->ta || c->next != NULL;
	if (c->connect != NULL) {
		c->conn.port = c->port_set ? (uint16_t)c->port : 0;
		if ((status = generate_connect(c)) != EX_OK)
			goto out;
		/* The owner follows the server unless --host/--port say. */
		if (!c->port_set)
			c->port = c->conn.used_port;
		if (c->host == NULL && !c->conn.target.literal)
			c->host = c->conn.target.host;
	} else if ((status = generate(c, c->file, "current")) != EX_OK) {
		goto out;
	}
	if (c->next != NULL && (status = generate(c, c->next, "next")) != EX_OK)
		goto out;
	if (c->host != NULL)
		(void)xasprintf(&owner, "_%lld._tcp.%s%s", c->port, c->host,
		    c->host[strlen(c->host) - 1] == '.' ? "" : ".");
	advise(c);
	if (c->json)
		status = print_json(c, owner);
	else
		print_text(c, owner);
out:
	for (i = 0; i < c->nrec; i++)
		tlsa_rr_clear(&c->rec[i].rr);
	tlsa_connect_clear(&c->conn);
	free(owner);
	free(c);
	return status;
}

static const struct {
	const char *name;
	int (*run)(int, char **);
} tlsa_verbs[] = {
    {"create", tlsa_create},
    {"explain", tlsa_explain},
    {"rollover", tlsa_rollover},
    {"verify", tlsa_verify},
};

int
cmd_tlsa(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		tlsa_usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		tlsa_usage(stdout);
		return EX_OK;
	}
	for (i = 0; i < sizeof(tlsa_verbs) / sizeof(tlsa_verbs[0]); i++)
		if (strcmp(argv[1], tlsa_verbs[i].name) == 0)
			return tlsa_verbs[i].run(argc - 1, argv + 1);
	(void)fprintf(stderr, "danemta: tlsa: unknown verb '%s'\n", argv[1]);
	tlsa_usage(stderr);
	return EX_USAGE;
}
