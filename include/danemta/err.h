/*
 * Library error codes.  Every libdanemta function that can fail returns 0 or
 * one of these, negated; err_str() turns one into text a person can read.
 */
#ifndef DANEMTA_ERR_H
#define DANEMTA_ERR_H

enum err_code {
	ERR_OK = 0,
	ERR_FORMAT,	 /* malformed input */
	ERR_TRUNCATED,	 /* input ended before a field did */
	ERR_TOOBIG,	 /* input over a named limit */
	ERR_RANGE,	 /* a value out of its allowed range */
	ERR_NOTFOUND,	 /* no such thing */
	ERR_IO,		 /* an operating system call failed; see errno */
	ERR_DNS,	 /* the resolver failed */
	ERR_TIMEOUT,	 /* a deadline passed */
	ERR_TLS,	 /* TLS library failure */
	ERR_CRYPTO,	 /* libcrypto failure (key, certificate, digest) */
	ERR_UNSUPPORTED, /* valid but not supported here */
	ERR_BADSTATE,	 /* called at the wrong time */
	ERR_USAGE,	 /* bad argument from the caller */
	ERR_PROTO,	 /* a peer broke its protocol */
	ERR_CLOSED,	 /* the peer closed the connection */
	ERR__COUNT
};

/* Text for ERR_* (positive or negated); a static string, never NULL. */
const char *err_str(int err);

#endif
