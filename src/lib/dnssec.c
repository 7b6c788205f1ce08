/* DNSSEC security status names (RFC 4035 §4.3). */
#include "danemta/dnssec.h"

const char *
dnssec_status_str(enum dnssec_status s)
{
	switch (s) {
	case DNSSEC_SECURE:
		return "secure";
	case DNSSEC_INSECURE:
		return "insecure";
	case DNSSEC_BOGUS:
		return "bogus";
	case DNSSEC_INDETERMINATE:
		return "indeterminate";
	}
	return "unknown";
}
