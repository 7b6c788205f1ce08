/* libFuzzer target: dns_msg_rrsigs() and dns_msg_name() on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "danemta/buf.h"
#include "danemta/dns_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_msg_rrsig s[DNS_MSG_RRSIG_MAX];
	struct rbuf rb;
	char name[DNS_NAME_TEXT_MAX];
	size_t n;

	(void)dns_msg_rrsigs(
	    data, size, NULL, DNS_TYPE_TLSA, s, DNS_MSG_RRSIG_MAX, &n);
	(void)dns_msg_rrsigs(
	    data, size, "_25._tcp.mx1.t", DNS_TYPE_TLSA, s, 1, &n);
	rbuf_init(&rb, data, size);
	(void)dns_msg_name(&rb, name, sizeof(name));
	return 0;
}
