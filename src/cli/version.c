/* danemta version: the program's version and the libraries it runs on. */
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <unbound.h>

#include "config.h"
#include "cli.h"

int
cmd_version(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		(void)printf("usage: danemta version\n");
		return EX_OK;
	}
	if (argc > 1) {
		(void)fprintf(stderr, "usage: danemta version\n");
		return EX_USAGE;
	}
	(void)printf("danemta %s\n", DANEMTA_VERSION);
	(void)printf("  %s\n", OpenSSL_version(OPENSSL_VERSION));
	(void)printf("  libunbound %s\n", ub_version());
	(void)printf("  libevent %s\n", event_get_version());
	(void)printf("  jansson %s\n", jansson_version_str());
	return EX_OK;
}
