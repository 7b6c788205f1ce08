/* danemta: dispatch to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "danemta/log.h"
#include "cli.h"

const struct cli_command cli_commands[] = {
    {"check", "check mail domains' DANE (--dns-only: DNS)", cmd_check},
    {"help", "show the commands, or a command's usage", cmd_help},
    {"send", "deliver a message to its recipients' MX hosts", cmd_send},
    {"tlsa", "TLSA records: create, explain, verify, rollover", cmd_tlsa},
    {"version", "print the version and the libraries in use", cmd_version},
    {NULL, NULL, NULL},
};

static void
usage(FILE *f)
{
	const struct cli_command *c;

	(void)fprintf(f,
	    "usage: danemta COMMAND [OPTION]... [ARG]...\n\n"
	    "commands:\n");
	for (c = cli_commands; c->name != NULL; c++)
		(void)fprintf(f, "  %-10s %s\n", c->name, c->summary);
	(void)fprintf(f,
	    "\nRun 'danemta COMMAND --help' for a command's "
	    "options, or see danemta(1).\n");
}

int
cmd_help(int argc, char **argv)
{
	const struct cli_command *c;
	char *args[] = {NULL, "--help", NULL};

	if (argc < 2) {
		usage(stdout);
		return EX_OK;
	}
	for (c = cli_commands; c->name != NULL; c++) {
		if (strcmp(c->name, argv[1]) == 0 && c->run != cmd_help) {
			args[0] = argv[1];
			return c->run(2, args);
		}
	}
	(void)fprintf(stderr, "danemta: unknown command '%s'\n", argv[1]);
	return EX_USAGE;
}

int
main(int argc, char **argv)
{
	const struct cli_command *c;

	log_init("danemta", LOG_LEVEL_WARN, 0);
	if (argc < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cmd_help(1, argv + 1);
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
		return cmd_version(1, argv + 1);
	for (c = cli_commands; c->name != NULL; c++)
		if (strcmp(c->name, argv[1]) == 0)
			return c->run(argc - 1, argv + 1);
	(void)fprintf(stderr,
	    "danemta: unknown command '%s' (try 'danemta help')\n", argv[1]);
	return EX_USAGE;
}
