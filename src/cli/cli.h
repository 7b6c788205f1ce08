/*
 * The danemta command: one file per subcommand, each exporting
 * cmd_<name>(argc, argv) with argv[0] the subcommand name, returning an
 * exit status from sysexits.h (EX_OK, EX_USAGE, ...).
 */
#ifndef DANEMTA_CLI_H
#define DANEMTA_CLI_H

#include <sysexits.h>

struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

int cmd_check(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_tlsa(int argc, char **argv);
int tlsa_explain(int argc, char **argv);  /* tlsa_explain.c */
int tlsa_verify(int argc, char **argv);	  /* tlsa_verify.c */
int tlsa_rollover(int argc, char **argv); /* tlsa_rollover.c */
int cmd_version(int argc, char **argv);
int cmd_help(int argc, char **argv);

/* The table in main.c, ending with a NULL name. */
extern const struct cli_command cli_commands[];

#endif
