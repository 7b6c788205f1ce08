/*
 * libFuzzer target for the TLSA codec: the first byte picks the parser
 * (wire RDATA, presentation text, zone line, certificate/key input), the
 * rest is the input.  Whatever parses must round-trip: parse -> encode
 * (or format) -> parse gives the same record; classification must not
 * crash.  A broken invariant aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "danemta/err.h"
#include "danemta/tlsa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok)
{
	if (!ok)
		abort();
}

static int
same(const struct tlsa_rr *a, const struct tlsa_rr *b)
{
	return a->usage == b->usage && a->selector == b->selector &&
	    a->mtype == b->mtype && a->len == b->len &&
	    (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* A parsed record must survive wire and text round trips. */
static void
round_trip(const struct tlsa_rr *rr)
{
	struct tlsa_rr back;
	enum tlsa_verdict v;
	char why[TLSA_VERDICT_TEXT_MAX];
	uint8_t *wire;
	size_t wlen;
	char *text;

	check(tlsa_rdata_encode(rr, &wire, &wlen) == 0);
	check(wlen == rr->len + 3);
	check(tlsa_rdata_parse(wire, wlen, &back) == 0);
	check(same(rr, &back));
	tlsa_rr_clear(&back);
	free(wire);

	text = tlsa_format(rr);
	check(tlsa_text_parse(text, strlen(text), &back) == 0);
	check(same(rr, &back));
	tlsa_rr_clear(&back);
	free(text);

	v = tlsa_classify(rr);
	check(tlsa_verdict_str(v) != NULL);
	check(tlsa_verdict_explain(rr, v, why, sizeof(why)) < sizeof(why));
	tlsa_prune_digests(rr, &v, 1);
}

static void
input_case(const uint8_t *p, size_t n)
{
	struct tlsa_input in = {NULL, NULL};
	struct tlsa_rr rr;

	if (tlsa_input_parse(p, n, &in, NULL, 0) == 0) {
		check(in.chain != NULL || in.key != NULL);
		if (in.chain != NULL) {
			check(sk_X509_num(in.chain) >= 1);
			if (tlsa_from_cert(sk_X509_value(in.chain, 0), 3, 1, 1,
				&rr) == 0) {
				check(rr.len == 32);
				check(tlsa_matches_cert(
				    &rr, sk_X509_value(in.chain, 0)));
				tlsa_rr_clear(&rr);
			}
		} else if (tlsa_from_pubkey(in.key, 3, 1, 1, &rr) == 0) {
			check(rr.len == 32);
			tlsa_rr_clear(&rr);
		}
	}
	tlsa_input_clear(&in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tlsa_rr rr;
	char owner[256];
	const uint8_t *p = data + 1;
	size_t n;
	int r = -1;

	if (size < 1)
		return 0;
	n = size - 1;
	switch (data[0] % 4) {
	case 0:
		r = tlsa_rdata_parse(p, n, &rr);
		check(r == 0 || r == -ERR_FORMAT || r == -ERR_TOOBIG);
		check(r != 0 || rr.len == n - 3);
		break;
	case 1:
		r = tlsa_text_parse((const char *)p, n, &rr);
		check(r == 0 || r == -ERR_FORMAT || r == -ERR_TOOBIG);
		break;
	case 2:
		r = tlsa_zone_line_parse(
		    (const char *)p, n, owner, sizeof(owner), &rr);
		check(r == 0 || r == -ERR_FORMAT || r == -ERR_TOOBIG);
		check(r != 0 || strlen(owner) > 0);
		break;
	default:
		input_case(p, n);
		return 0;
	}
	if (r == 0)
		round_trip(&rr);
	else
		check(rr.data == NULL && rr.len == 0);
	tlsa_rr_clear(&rr);
	return 0;
}
