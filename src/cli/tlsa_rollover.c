/*
 * danemta tlsa rollover: the gate an ACME deploy hook runs before it
 * switches a mail server to a new certificate or key (RFC 7671 §8.1, §8.4;
 * RFC 7672 §4; checklist §2.3): is a record for the new one published,
 * DNSSEC-valid, for at least twice the TTL, and does the current chain
 * still match every group?  First-seen times live in a small state file.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "danemta/err.h"
#include "danemta/buf.h"
#include "danemta/log.h"
#include "danemta/tlsa.h"
#include "danemta/util.h"
#include "cli.h"
#include "resolver_opts.h"
#include "tlsa_live.h"

#define ROLL_STATE_FILE "rollover-state"
#define ROLL_STATE_LINE_MAX 1024
#define ROLL_STATE_LINES_MAX 10000
#define ROLL_PUBLISH_MAX 16

/* Exit statuses (documented in danemta-tlsa(1)). */
#define ROLL_EXIT_UNPUBLISHED 1 /* publish the printed records first */
#define ROLL_EXIT_TOO_RECENT 2	/* published, wait until the safe time */
#define ROLL_EXIT_CURRENT 3	/* the current chain is not covered */

struct roll_state_line {
	char owner[DIAG_OWNER_MAX];
	char *record;
	long long first_seen;
};

struct roll {
	struct tlsa_live lv;
	const char *cert_file, *key_file, *state_dir;
	bool json;
	struct tlsa_input in;
	char owner[DIAG_OWNER_MAX];
	struct roll_state_line *st;
	size_t nst;
	time_t now;
};

static void
roll_usage(FILE *f)
{
	(void)fprintf(f,
	    "usage: danemta tlsa rollover (--new-cert FILE | --new-key FILE) "
	    "[--port N]\n"
	    "           [--state-dir DIR] [--json] [--timeout SECONDS] "
	    "[resolver options] HOST\n"
	    "  --state-dir DIR  first-seen times of records (default "
	    "$XDG_STATE_HOME/danemta,\n"
	    "                   else /var/lib/danemta)\n" RESOLVER_OPTS_USAGE
	    "exit: 0 safe to switch now, 1 publish the printed records first, "
	    "2 published\ntoo recently (wait), 3 the current chain is not "
	    "covered, 64 usage, 65 bad\ninput file, 66 unreadable file, 69 "
	    "resolver unavailable, 73 state file not\nwritable, 75 DNS or "
	    "servers did not answer\n");
}

static int
roll_fail(const char *what, const char *why, int status)
{
	(void)fprintf(stderr, "danemta: tlsa rollover: %s: %s\n", what, why);
	return status;
}

static int
roll_load(struct roll *ro)
{
	const char *file = ro->cert_file ? ro->cert_file : ro->key_file;
	char why[256];
	uint8_t *buf = xmalloc(TLSA_INPUT_MAX + 1);
	size_t n;
	FILE *f = fopen(file, "rb");
	int r;

	if (f == NULL) {
		free(buf);
		return roll_fail(file, strerror(errno), EX_NOINPUT);
	}
	n = fread(buf, 1, TLSA_INPUT_MAX + 1, f);
	(void)fclose(f);
	if (n > TLSA_INPUT_MAX) {
		free(buf);
		return roll_fail(file, "larger than 1 MiB", EX_DATAERR);
	}
	r = tlsa_input_parse(buf, n, &ro->in, why, sizeof(why));
	free(buf);
	if (r < 0)
		return roll_fail(file, why, EX_DATAERR);
	if (ro->cert_file != NULL && ro->in.chain == NULL)
		return roll_fail(
		    file, "--new-cert: no certificate in the file", EX_DATAERR);
	return EX_OK;
}

/* ---- the state file: "OWNER FIRST-SEEN U S M HEX" per line ---- */

static char *
state_path(const struct roll *ro)
{
	char *p;

	(void)xasprintf(&p, "%s/%s", ro->state_dir, ROLL_STATE_FILE);
	return p;
}

static int
state_line(struct roll *ro, char *line, size_t lineno, const char *path)
{
	struct roll_state_line *l = &ro->st[ro->nst];
	struct tlsa_rr rr;
	char *sp1, *sp2, where[64];
	const char *errstr = NULL;

	(void)snprintf(where, sizeof(where), "%s:%zu", path, lineno);
	if ((sp1 = strchr(line, ' ')) == NULL ||
	    (sp2 = strchr(sp1 + 1, ' ')) == NULL ||
	    (size_t)(sp1 - line) >= sizeof(l->owner))
		return roll_fail(where, "malformed state line", EX_DATAERR);
	*sp1 = *sp2 = '\0';
	l->first_seen = strtonum(sp1 + 1, 0, 1LL << 40, &errstr);
	if (errstr != NULL ||
	    tlsa_text_parse(sp2 + 1, strlen(sp2 + 1), &rr) < 0)
		return roll_fail(where, "malformed state line", EX_DATAERR);
	(void)strlcpy(l->owner, line, sizeof(l->owner));
	l->record = tlsa_format(&rr);
	tlsa_rr_clear(&rr);
	ro->nst++;
	return EX_OK;
}

static int
state_read(struct roll *ro)
{
	char *path = state_path(ro), *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t len;
	FILE *f;
	int st = EX_OK;

	ro->st =
	    xcalloc(ROLL_STATE_LINES_MAX + ROLL_PUBLISH_MAX + TLSA_RRSET_MAX,
		sizeof(*ro->st));
	if ((f = fopen(path, "r")) == NULL) {
		free(path);
		return errno == ENOENT
		    ? EX_OK
		    : roll_fail(ro->state_dir, strerror(errno), EX_NOINPUT);
	}
	while (st == EX_OK && (len = getline(&line, &cap, f)) != -1) {
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if ((size_t)len > ROLL_STATE_LINE_MAX ||
		    (size_t)len != strlen(line) ||
		    ro->nst >= ROLL_STATE_LINES_MAX)
			st = roll_fail(path, "line too long or too many lines",
			    EX_DATAERR);
		else
			st = state_line(ro, line, lineno, path);
	}
	free(line);
	(void)fclose(f);
	free(path);
	return st;
}

static long long
state_first_seen(const struct roll *ro, const char *record)
{
	size_t i;

	for (i = 0; i < ro->nst; i++)
		if (strcasecmp(ro->st[i].owner, ro->owner) == 0 &&
		    strcmp(ro->st[i].record, record) == 0)
			return ro->st[i].first_seen;
	return -1;
}

/* Remember every record of the RRset seen now; tmp + rename. */
static int
state_write(struct roll *ro, const struct plan_host *h)
{
	char *path = state_path(ro), *tmp, *rec;
	size_t i;
	FILE *f;
	int st = EX_OK;

	for (i = 0; i < h->ntlsa; i++) {
		rec = tlsa_format(&h->tlsa[i].rr);
		if (strlen(rec) + strlen(ro->owner) + 24 >
			ROLL_STATE_LINE_MAX ||
		    state_first_seen(ro, rec) >= 0) {
			free(rec);
			continue;
		}
		(void)strlcpy(
		    ro->st[ro->nst].owner, ro->owner, sizeof(ro->st[0].owner));
		ro->st[ro->nst].record = rec;
		ro->st[ro->nst++].first_seen = (long long)ro->now;
	}
	(void)mkdir(ro->state_dir, 0700);
	(void)xasprintf(&tmp, "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL)
		st = roll_fail(ro->state_dir, strerror(errno), EX_CANTCREAT);
	else {
		(void)fprintf(f,
		    "# danemta tlsa rollover: owner first-seen "
		    "record\n");
		for (i = 0; i < ro->nst; i++)
			(void)fprintf(f, "%s %lld %s\n", ro->st[i].owner,
			    ro->st[i].first_seen, ro->st[i].record);
		if (fclose(f) != 0 || rename(tmp, path) != 0)
			st = roll_fail(path, strerror(errno), EX_CANTCREAT);
	}
	free(tmp);
	free(path);
	return st;
}

/* ---- matching the new certificate or key ---- */

static bool
new_matches(const struct roll *ro, const struct tlsa_rr *rr)
{
	struct tlsa_rr t;
	bool m = false;
	int i, n;

	if (ro->in.chain == NULL) {
		if (rr->selector != TLSA_SELECTOR_SPKI ||
		    tlsa_from_pubkey(
			ro->in.key, rr->usage, rr->selector, rr->mtype, &t) < 0)
			return false;
		m = t.len == rr->len && memcmp(t.data, rr->data, t.len) == 0;
		tlsa_rr_clear(&t);
		return m;
	}
	n = sk_X509_num(ro->in.chain);
	if (rr->usage == TLSA_USAGE_DANE_EE || rr->usage == TLSA_USAGE_PKIX_EE)
		n = n > 0 ? 1 : 0;
	for (i = 0; i < n && !m; i++)
		m = tlsa_matches_cert(rr, sk_X509_value(ro->in.chain, i));
	return m;
}

/* The record of group (u,s,m) for the new certificate or key. */
static int
new_record(const struct roll *ro, const struct tlsa_rr *g, struct tlsa_rr *out)
{
	X509 *c;

	if (ro->in.chain == NULL)
		return g->selector == TLSA_SELECTOR_SPKI
		    ? tlsa_from_pubkey(
			  ro->in.key, g->usage, g->selector, g->mtype, out)
		    : -ERR_UNSUPPORTED;
	if (g->usage == TLSA_USAGE_DANE_TA || g->usage == TLSA_USAGE_PKIX_TA) {
		if (sk_X509_num(ro->in.chain) < 2)
			return -ERR_NOTFOUND;
		c = sk_X509_value(ro->in.chain, 1);
	} else
		c = sk_X509_value(ro->in.chain, 0);
	return tlsa_from_cert(c, g->usage, g->selector, g->mtype, out);
}

struct roll_verdict {
	int status;
	long long since; /* -1: unknown */
	const char *source;
	uint32_t ttl;
	long long safe_at;
	size_t ncovering, nreached;
	bool current_ok;
};

static bool
same_group(const struct tlsa_rr *a, const struct tlsa_rr *b)
{
	return a->usage == b->usage && a->selector == b->selector &&
	    a->mtype == b->mtype;
}

/* Records to publish: one per group not covered by the new one. */
static size_t
roll_publish(const struct roll *ro, const struct plan_host *h,
    struct tlsa_rr *pub, json_t *ja, struct wbuf *wb)
{
	struct tlsa_rr def = {
	    TLSA_USAGE_DANE_EE, TLSA_SELECTOR_SPKI, TLSA_MTYPE_SHA256, NULL, 0};
	size_t i, j, n = 0;
	bool done, any = false;
	char *t;

	for (i = 0; i <= h->ntlsa && n < ROLL_PUBLISH_MAX; i++) {
		if (i < h->ntlsa && !tlsa_live_counts(h, i))
			continue;
		if (i == h->ntlsa && any)
			break;
		any = true;
		done = false;
		for (j = 0; j < h->ntlsa && i < h->ntlsa; j++)
			if (tlsa_live_counts(h, j) &&
			    same_group(&h->tlsa[j].rr, &h->tlsa[i].rr) &&
			    (new_matches(ro, &h->tlsa[j].rr) || j < i))
				done = true; /* covered, or group seen */
		for (j = 0; j < n && !done; j++)
			done = same_group(
			    &pub[j], i < h->ntlsa ? &h->tlsa[i].rr : &def);
		if (done)
			continue;
		if (new_record(ro, i < h->ntlsa ? &h->tlsa[i].rr : &def,
			&pub[n]) < 0) {
			(void)wbuf_printf(wb,
			    "  cannot make a %u %u %u record from %s\n",
			    h->tlsa[i].rr.usage, h->tlsa[i].rr.selector,
			    h->tlsa[i].rr.mtype,
			    ro->in.chain ? "this chain" : "a bare key");
			continue;
		}
		t = tlsa_format(&pub[n]);
		(void)wbuf_printf(wb, "%s. IN TLSA %s\n", ro->owner, t);
		(void)json_array_append_new(ja, json_string(t));
		free(t);
		n++;
	}
	return n;
}

/* Publication time of the records covering the new one. */
static void
roll_timing(
    const struct roll *ro, const struct plan_host *h, struct roll_verdict *v)
{
	long long fs, inc = ro->lv.ddns.rrsig_inception[0];
	size_t i;
	char *t;

	v->since = -1;
	for (i = 0; i < h->ntlsa; i++) {
		if (!tlsa_live_counts(h, i) || !new_matches(ro, &h->tlsa[i].rr))
			continue;
		v->ncovering++;
		t = tlsa_format(&h->tlsa[i].rr);
		fs = state_first_seen(ro, t);
		free(t);
		if (fs < 0)
			fs = (long long)ro->now;
		/* the earliest evidence of the record being published */
		if (inc > 0 && inc < fs) {
			fs = inc;
			v->source = "RRSIG inception (the signer's claim)";
		} else
			v->source = fs == (long long)ro->now
			    ? "first seen by this tool (now)"
			    : "first seen by this tool (state file)";
		if (v->since < 0 || fs > v->since)
			v->since = fs;
	}
	v->ttl = h->tlsa_ttl;
	if (ro->lv.ddns.orig_ttl[0] > v->ttl)
		v->ttl = ro->lv.ddns.orig_ttl[0];
	v->safe_at = v->since + 2 * (long long)v->ttl;
}

static void
roll_current(const struct roll *ro, const struct plan_host *h,
    struct roll_verdict *v, struct wbuf *wb)
{
	const struct diag_addr *a;
	size_t i, k;

	v->current_ok = true;
	for (i = 0; i < ro->lv.naddrs; i++) {
		a = &ro->lv.addrs[i];
		if (a->tlsinfo == NULL)
			continue;
		v->nreached++;
		for (k = 0; k < h->ntlsa; k++) {
			if (!tlsa_live_counts(h, k) ||
			    tlsa_live_group(h, a, k) == LIVE_GROUP_MATCH)
				continue;
			v->current_ok = false;
			(void)wbuf_printf(wb,
			    "  [%s] group %u %u %u does not match the current "
			    "chain\n",
			    h->addrs[a->addr].address, h->tlsa[k].rr.usage,
			    h->tlsa[k].rr.selector, h->tlsa[k].rr.mtype);
		}
	}
}

static int
roll_judge(struct roll *ro, json_t *o, struct wbuf *wb)
{
	const struct plan_host *h = &ro->lv.plan->hosts[0];
	struct tlsa_rr pub[ROLL_PUBLISH_MAX];
	struct roll_verdict v;
	json_t *ja = json_array();
	char when[64];
	size_t npub, i;
	time_t t;

	memset(&v, 0, sizeof(v));
	memset(pub, 0, sizeof(pub));
	(void)wbuf_printf(wb, "%s: TLSA %s, %zu record%s, TTL %u\n", ro->owner,
	    h->tlsa_dnssec == DNSSEC_SECURE ? "secure" : "NOT secure", h->ntlsa,
	    h->ntlsa == 1 ? "" : "s", h->tlsa_ttl);
	(void)wbuf_printf(wb, "records to publish first:\n");
	npub = roll_publish(ro, h, pub, ja, wb);
	if (npub == 0)
		(void)wbuf_printf(wb, "  none: the new %s is covered\n",
		    ro->in.chain ? "certificate" : "key");
	(void)json_object_set_new(o, "publish", ja);
	roll_timing(ro, h, &v);
	roll_current(ro, h, &v, wb);
	if (npub > 0 || v.ncovering == 0)
		v.status = ROLL_EXIT_UNPUBLISHED;
	else if (v.nreached == 0)
		v.status = EX_TEMPFAIL;
	else if (!v.current_ok)
		v.status = ROLL_EXIT_CURRENT;
	else if ((long long)ro->now < v.safe_at)
		v.status = ROLL_EXIT_TOO_RECENT;
	if (v.since >= 0) {
		t = (time_t)v.safe_at;
		(void)strftime(
		    when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
		(void)wbuf_printf(wb,
		    "published since: %lld (%s); 2 x TTL = %u s; safe from "
		    "%s\n",
		    v.since, v.source, 2 * v.ttl, when);
		(void)json_object_set_new(
		    o, "published_since", json_integer(v.since));
		(void)json_object_set_new(o, "source", json_string(v.source));
		(void)json_object_set_new(o, "safe_at", json_string(when));
	}
	(void)json_object_set_new(o, "ttl", json_integer(v.ttl));
	(void)json_object_set_new(
	    o, "current_covered", json_boolean(v.current_ok && v.nreached));
	for (i = 0; i < npub; i++)
		tlsa_rr_clear(&pub[i]);
	return v.status;
}

static int
roll_parse(int argc, char **argv, struct roll *ro)
{
	enum { O_CERT = 0x2200, O_KEY, O_STATE, O_JSON };
	static const struct option opts[] = {
	    {"new-cert", required_argument, NULL, O_CERT},
	    {"new-key", required_argument, NULL, O_KEY},
	    {"state-dir", required_argument, NULL, O_STATE},
	    {"json", no_argument, NULL, O_JSON},
	    LIVE_LONG_OPTIONS_END,
	};
	const char *errstr = NULL;
	int ch;

	optind = 0;
	while ((ch = tlsa_live_getopt(
		    argc, argv, "h", opts, &ro->lv, &errstr)) != -1) {
		if (ch == LIVE_OPT_BAD) {
			if (errstr == NULL)
				return EX_USAGE; /* already said */
		} else if (ch == O_CERT)
			ro->cert_file = optarg;
		else if (ch == O_KEY)
			ro->key_file = optarg;
		else if (ch == O_STATE)
			ro->state_dir = optarg;
		else if (ch == O_JSON)
			ro->json = true;
		else if (ch == 'h') {
			roll_usage(stdout);
			return -1;
		} else {
			roll_usage(stderr);
			return EX_USAGE;
		}
		if (errstr != NULL)
			return roll_fail(optarg, errstr, EX_USAGE);
	}
	if (optind != argc - 1 ||
	    (ro->cert_file == NULL) == (ro->key_file == NULL)) {
		roll_usage(stderr);
		return EX_USAGE;
	}
	ro->lv.name = argv[optind];
	return EX_OK;
}

static void
roll_state_dir(struct roll *ro, char **owned)
{
	const char *x = getenv("XDG_STATE_HOME");

	*owned = NULL;
	if (ro->state_dir != NULL)
		return;
	if (x != NULL && x[0] == '/') {
		(void)xasprintf(owned, "%s/danemta", x);
		ro->state_dir = *owned;
	} else
		ro->state_dir = "/var/lib/danemta";
}

static int
roll_output(struct roll *ro, json_t *o, struct wbuf *wb, int st)
{
	char *s;

	(void)wbuf_printf(wb, "verdict: %s\n",
	    st == 0			      ? "safe to switch now"
		: st == ROLL_EXIT_UNPUBLISHED ? "NOT safe: publish the records "
						"above, then wait 2 x TTL"
		: st == ROLL_EXIT_TOO_RECENT  ? "NOT safe yet: wait until the "
						"time above"
		: st == ROLL_EXIT_CURRENT
		? "NOT safe: the current chain is not "
		  "covered by every group"
		: "unknown: no server answered");
	(void)json_object_set_new(o, "exit", json_integer(st));
	if (ro->json) {
		if ((s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII)) ==
		    NULL)
			fatalx("tlsa rollover: cannot encode JSON");
		(void)printf("%s\n", s);
		free(s);
	} else
		(void)fputs((const char *)wb->data, stdout);
	return st;
}

int
tlsa_rollover(int argc, char **argv)
{
	struct roll *ro = xcalloc(1, sizeof(*ro));
	struct wbuf wb;
	json_t *o = json_object();
	char *owned = NULL;
	size_t i;
	int st, w;

	wbuf_init(&wb, (size_t)1 << 20);
	ro->now = time(NULL);
	if ((st = roll_parse(argc, argv, ro)) != EX_OK) {
		st = st < 0 ? EX_OK : st;
		goto out;
	}
	roll_state_dir(ro, &owned);
	if ((st = roll_load(ro)) != EX_OK || (st = state_read(ro)) != EX_OK)
		goto out;
	ro->lv.connect = true;
	if ((st = tlsa_live_run(&ro->lv)) != EX_OK) {
		(void)roll_fail(ro->lv.name, ro->lv.error, st);
		goto out;
	}
	(void)snprintf(ro->owner, sizeof(ro->owner), "_%u._tcp.%s",
	    (unsigned int)(ro->lv.port ? ro->lv.port : 25),
	    ro->lv.plan->hosts[0].name);
	if (ro->lv.plan->nhosts == 0 ||
	    ro->lv.plan->hosts[0].tlsa_lookup == PLAN_LOOKUP_ERROR) {
		st = roll_fail(
		    ro->lv.name, "the TLSA lookup failed", EX_TEMPFAIL);
		goto out;
	}
	(void)json_object_set_new(o, "host", json_string(ro->lv.name));
	(void)json_object_set_new(o, "owner", json_string(ro->owner));
	st = roll_judge(ro, o, &wb);
	if (ro->lv.plan->hosts[0].tlsa_dnssec == DNSSEC_SECURE &&
	    (w = state_write(ro, &ro->lv.plan->hosts[0])) != EX_OK)
		st = st ? st : w;
	st = roll_output(ro, o, &wb, st);
out:
	for (i = 0; ro->st != NULL && i < ro->nst; i++)
		free(ro->st[i].record);
	free(ro->st);
	tlsa_input_clear(&ro->in);
	tlsa_live_clear(&ro->lv);
	json_decref(o);
	wbuf_clear(&wb);
	free(owned);
	free(ro);
	return st;
}
