/* Error code texts for the ERR_* values of err.h. */
#include <stdlib.h>

#include "danemta/err.h"

static const char *const err_texts[ERR__COUNT] = {
    [ERR_OK] = "success",
    [ERR_FORMAT] = "malformed input",
    [ERR_TRUNCATED] = "input truncated",
    [ERR_TOOBIG] = "input too large",
    [ERR_RANGE] = "value out of range",
    [ERR_NOTFOUND] = "not found",
    [ERR_IO] = "input/output error",
    [ERR_DNS] = "DNS resolver failure",
    [ERR_TIMEOUT] = "timed out",
    [ERR_TLS] = "TLS failure",
    [ERR_CRYPTO] = "cryptographic library failure",
    [ERR_UNSUPPORTED] = "not supported",
    [ERR_BADSTATE] = "operation not valid in this state",
    [ERR_USAGE] = "invalid argument",
    [ERR_PROTO] = "protocol violation by peer",
    [ERR_CLOSED] = "connection closed by peer",
};

const char *
err_str(int err)
{
	int e = abs(err);

	if (e >= ERR__COUNT || err_texts[e] == NULL)
		return "unknown error";
	return err_texts[e];
}
