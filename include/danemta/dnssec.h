/*
 * DNSSEC security status of an answer (RFC 4035 §4.3), as used throughout
 * libdanemta.  An indeterminate answer is treated like a bogus one (a
 * lookup error, RFC 7672 §2.1.1); insecure is not an error.
 */
#ifndef DANEMTA_DNSSEC_H
#define DANEMTA_DNSSEC_H

enum dnssec_status {
	DNSSEC_SECURE = 0,
	DNSSEC_INSECURE,
	DNSSEC_BOGUS,
	DNSSEC_INDETERMINATE,
};

/* "secure", "insecure", "bogus", "indeterminate" */
const char *dnssec_status_str(enum dnssec_status s);

#endif
