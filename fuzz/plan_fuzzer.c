/*
 * libFuzzer target for the hostile-input parsers of the destination plan:
 * the MX, CNAME, A and AAAA RDATA parsers of dns.c, the next-hop name
 * check, and the plan rules fed whole answers (MX, A/AAAA, TLSA) whose
 * records come from the input.  Invariants the sender relies on are
 * checked; a broken one aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "danemta/dns.h"
#include "danemta/plan.h"
#include "danemta/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_RECORDS_MAX 80

static void
check(int ok)
{
	if (!ok)
		abort();
}

/* Split the input into records: a length octet, then that many octets. */
static size_t
split(const uint8_t *p, size_t n, struct dns_rdata *rd)
{
	size_t k = 0, l;

	while (n > 0 && k < FUZZ_RECORDS_MAX) {
		l = p[0];
		p++;
		n--;
		if (l > n)
			l = n;
		rd[k].data = p;
		rd[k++].len = l;
		p += l;
		n -= l;
	}
	return k;
}

static void
one_record_parsers(const uint8_t *p, size_t n)
{
	char name[DNS_NAME_TEXT_MAX], addr[64];
	uint16_t pref;

	if (dns_rdata_mx(p, n, &pref, name, sizeof(name)) == 0)
		check(strlen(name) > 0 && strlen(name) < sizeof(name));
	if (dns_rdata_cname(p, n, name, sizeof(name)) == 0)
		check(strlen(name) > 0);
	if (dns_rdata_a(p, n, addr, sizeof(addr)) == 0)
		check(n == 4);
	if (dns_rdata_aaaa(p, n, addr, sizeof(addr)) == 0)
		check(n == 16);
}

static void
name_check(const uint8_t *p, size_t n)
{
	char in[300], out[PLAN_NAME_MAX];
	const char *why;
	int literal;

	if (n >= sizeof(in))
		n = sizeof(in) - 1;
	memcpy(in, p, n);
	in[n] = '\0';
	if (plan_domain_parse(in, out, sizeof(out), &literal, &why) == 0)
		check(strlen(out) <= PLAN_DOMAIN_MAX);
	else
		check(why != NULL);
}

static void
plan_rules(uint8_t sel, const struct dns_rdata *rd, size_t k)
{
	struct plan *p = calloc(1, sizeof(*p));
	struct plan_host *h;
	struct dns_answer a;
	size_t i, nc;

	if (p == NULL)
		return;
	plan_init(p, "fuzz.test", NULL);
	memset(&a, 0, sizeof(a));
	a.lookup = DNS_LOOKUP_DATA;
	a.dnssec = sel & 1 ? DNSSEC_SECURE : DNSSEC_INSECURE;
	a.rdata = rd;
	a.nrdata = k;
	a.qtype = DNS_TYPE_MX;
	plan_mx_result(p, &a);
	check(p->nhosts <= PLAN_HOSTS_MAX);
	for (i = 1; i < p->nhosts; i++)
		check(p->hosts[i - 1].preference <= p->hosts[i].preference);
	if (p->nhosts == 0) {
		plan_init(p, "fuzz.test", NULL);
		p->nhosts = 1;
		(void)strlcpy(
		    p->hosts[0].name, "mx.fuzz.test", sizeof(p->hosts[0].name));
	}
	h = &p->hosts[0];
	a.qtype = sel & 2 ? DNS_TYPE_AAAA : DNS_TYPE_A;
	plan_host_addr_result(h, &a);
	check(h->naddrs <= PLAN_ADDRS_MAX);
	a.qtype = sel & 2 ? DNS_TYPE_A : DNS_TYPE_AAAA;
	a.lookup = DNS_LOOKUP_NODATA;
	plan_host_addr_result(h, &a);
	nc = plan_host_candidates(h, true, &p->opts);
	check(nc <= PLAN_TLSA_CANDS_MAX);
	if (nc > 0) {
		a.qtype = DNS_TYPE_TLSA;
		a.lookup = DNS_LOOKUP_DATA;
		a.dnssec = DNSSEC_SECURE;
		(void)plan_host_tlsa_result(h, 0, &a);
		check(h->ntlsa <= TLSA_RRSET_MAX && h->nusable <= h->ntlsa);
		/* A TLSA base means DANE or TLS-required, never less. */
		if (h->tlsa_base[0] != '\0')
			check(h->mode == PLAN_MODE_DANE ||
			    h->mode == PLAN_MODE_TLS_REQUIRED);
	}
	plan_set_policy(p);
	plan_free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_rdata rd[FUZZ_RECORDS_MAX];
	size_t k;

	if (size < 1)
		return 0;
	one_record_parsers(data + 1, size - 1);
	name_check(data + 1, size - 1);
	k = split(data + 1, size - 1, rd);
	plan_rules(data[0], rd, k);
	return 0;
}
