/*
 * The delivery walk's pure parts (deliver.h): the default options and the
 * decision after one address's session (RFC 7672 §2.2, §2.2.3: where TLSA
 * applies a failed host gets nothing, the walk goes to the next MX host;
 * an opportunistic one may retry in cleartext).
 */
#include <string.h>

#include "danemta/deliver.h"

void
deliver_opts_default(struct deliver_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->level = POLICY_DANE;
	o->helo_name = "localhost";
	smtp_timeouts_default(&o->timeouts);
}

bool
deliver_mode_mandatory(enum smtp_tls_mode m)
{
	return m == SMTP_TLS_DANE || m == SMTP_TLS_REQUIRED;
}

bool
deliver_decide(enum smtp_tls_mode mode, enum smtp_result r,
    bool plaintext_retry, bool *next_host, bool *retry_plain)
{
	*next_host = false;
	*retry_plain = false;
	if (smtp_result_usable(r))
		return true;
	switch (r) {
	case SMTP_RESULT_DANE_FAILED:
	case SMTP_RESULT_STARTTLS_MISSING:
	case SMTP_RESULT_TLS_FAILED:
		/* RFC 7672 §2.2.3: where TLSA applies this host gets
		 * nothing; go to the next MX, not the next address. */
		if (deliver_mode_mandatory(mode))
			*next_host = true;
		else if (r == SMTP_RESULT_TLS_FAILED &&
		    mode == SMTP_TLS_OPPORTUNISTIC && plaintext_retry)
			*retry_plain = true;
		break;
	default:
		break;
	}
	return false;
}
