/*
 * danemta tlsa explain: decode TLSA records as a domain owner wrote them
 * (presentation form, RFC 3597 "\# LEN HEX", or whole zone-file lines) and
 * say how an SMTP client will treat each one: usable or not and why
 * (RFC 6698 §2, RFC 7672 §3.1.3), and which survive digest agility
 * (RFC 7671 §9) when they form one RRset.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "danemta/err.h"
#include "danemta/tlsa.h"
#include "danemta/util.h"
#include "cli.h"

#define EXPLAIN_LINE_MAX 8192 /* one record from standard input */

struct explain {
	struct tlsa_rr rrs[TLSA_RRSET_MAX];
	char *owners[TLSA_RRSET_MAX];
	enum tlsa_verdict verdicts[TLSA_RRSET_MAX];
	size_t n;
	bool json;
};

static void
explain_usage(FILE *f)
{
	(void)fprintf(f,
	    "usage: danemta tlsa explain [--json] RECORD...\n"
	    "       danemta tlsa explain [--json] -   (one record per line)\n"
	    "RECORD is \"U S M HEX\", \"\\# LEN HEX\" or a zone-file line\n"
	    "\"_25._tcp.mx.example. [TTL] IN TLSA U S M HEX\".\n");
}

/* Parse one record, as RDATA text or as a zone line; 0 or -ERR_*. */
static int
explain_parse(const char *text, struct tlsa_rr *rr, char **owner)
{
	char name[1024];
	size_t len = strlen(text);

	*owner = NULL;
	if (tlsa_text_parse(text, len, rr) == 0)
		return 0;
	if (tlsa_zone_line_parse(text, len, name, sizeof(name), rr) == 0) {
		*owner = xstrdup(name);
		return 0;
	}
	return -ERR_FORMAT;
}

static int
explain_add(struct explain *ex, const char *text)
{
	if (ex->n == TLSA_RRSET_MAX) {
		(void)fprintf(stderr,
		    "danemta: tlsa explain: more than %d records\n",
		    TLSA_RRSET_MAX);
		return EX_DATAERR;
	}
	if (explain_parse(text, &ex->rrs[ex->n], &ex->owners[ex->n]) < 0) {
		(void)fprintf(stderr,
		    "danemta: tlsa explain: not a TLSA record (need \"U S M "
		    "HEX\" with at least the three octets usage, selector, "
		    "matching type): %.80s\n",
		    text);
		return EX_DATAERR;
	}
	ex->n++;
	return EX_OK;
}

static int
explain_read_stdin(struct explain *ex)
{
	char line[EXPLAIN_LINE_MAX];
	size_t len;
	int r;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		len = strcspn(line, "\r\n");
		if (line[len] == '\0' && !feof(stdin)) {
			(void)fprintf(stderr,
			    "danemta: tlsa explain: line "
			    "longer than %d bytes\n",
			    EXPLAIN_LINE_MAX);
			return EX_DATAERR;
		}
		line[len] = '\0';
		if (line[strspn(line, " \t")] == '\0' || line[0] == ';')
			continue;
		if ((r = explain_add(ex, line)) != EX_OK)
			return r;
	}
	if (ex->n == 0) {
		(void)fprintf(stderr, "danemta: tlsa explain: no records\n");
		return EX_DATAERR;
	}
	return EX_OK;
}

static void
explain_print_one(const struct explain *ex, size_t i, json_t *arr)
{
	const struct tlsa_rr *rr = &ex->rrs[i];
	char why[TLSA_VERDICT_TEXT_MAX];
	char *text = tlsa_format(rr);
	const char *u = tlsa_usage_name(rr->usage);
	const char *s = tlsa_selector_name(rr->selector);
	const char *m = tlsa_mtype_name(rr->mtype);
	bool usable = ex->verdicts[i] == TLSA_USABLE;

	why[0] = '\0';
	if (!usable)
		(void)tlsa_verdict_explain(
		    rr, ex->verdicts[i], why, sizeof(why));
	if (arr != NULL) {
		(void)json_array_append_new(arr,
		    json_pack("{s:s?,s:i,s:i,s:i,s:s,s:b,s:s?}", "owner",
			ex->owners[i], "usage", rr->usage, "selector",
			rr->selector, "mtype", rr->mtype, "record", text,
			"usable", usable, "reason", usable ? NULL : why));
	} else {
		(void)printf("%s%s%s (%s %s %s): %s%s%s\n",
		    ex->owners[i] ? ex->owners[i] : "",
		    ex->owners[i] ? " " : "", text, u ? u : "unknown",
		    s ? s : "unknown", m ? m : "unknown",
		    usable ? "usable" : "unusable", usable ? "" : ": ", why);
	}
	free(text);
}

int
tlsa_explain(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'J'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct explain ex;
	json_t *arr = NULL;
	size_t i, nusable = 0;
	int ch, r = EX_OK;

	memset(&ex, 0, sizeof(ex));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'J':
			ex.json = true;
			break;
		case 'h':
			explain_usage(stdout);
			return EX_OK;
		default:
			explain_usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind == argc) {
		explain_usage(stderr);
		return EX_USAGE;
	}
	if (argc - optind == 1 && strcmp(argv[optind], "-") == 0)
		r = explain_read_stdin(&ex);
	else
		for (i = (size_t)optind; i < (size_t)argc && r == EX_OK; i++)
			r = explain_add(&ex, argv[i]);
	if (r != EX_OK)
		goto out;

	for (i = 0; i < ex.n; i++)
		ex.verdicts[i] = tlsa_classify(&ex.rrs[i]);
	tlsa_prune_digests(ex.rrs, ex.verdicts, ex.n);
	if (ex.json)
		arr = json_array();
	for (i = 0; i < ex.n; i++) {
		explain_print_one(&ex, i, arr);
		nusable += ex.verdicts[i] == TLSA_USABLE;
	}
	if (arr != NULL) {
		char *s = json_dumps(arr, JSON_COMPACT);

		(void)printf("%s\n", s);
		free(s);
		json_decref(arr);
	} else if (nusable == 0) {
		(void)printf(
		    "no usable record: a DANE client must use TLS but "
		    "cannot authenticate the server (RFC 7672 §2.2)\n");
	}
	/* 0: every record usable; 1: some record an SMTP client ignores. */
	r = nusable == ex.n ? EX_OK : 1;
out:
	for (i = 0; i < ex.n; i++) {
		tlsa_rr_clear(&ex.rrs[i]);
		free(ex.owners[i]);
	}
	return r;
}
