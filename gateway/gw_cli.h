/*
 * certgate's subcommands (gw_main.c dispatches).  Each returns the process exit status.
 */
#ifndef CERTGATE_GW_CLI_H
#define CERTGATE_GW_CLI_H

int gw_cmd_init(int argc, char **argv);
int gw_cmd_serve(int argc, char **argv);
int gw_cmd_issue(int argc, char **argv);
int gw_cmd_list(int argc, char **argv);
int gw_cmd_revoke(int argc, char **argv);
int gw_cmd_audit(int argc, char **argv);
int gw_cmd_hash_password(int argc, char **argv);
int gw_cmd_hash_api_key(int argc, char **argv);
int gw_cmd_approve(int argc, char **argv);
int gw_cmd_request(int argc, char **argv);

/* Parses a decimal unsigned in [min, max]; 0 or -1. */
int gw_cli_uint(const char *s, unsigned min, unsigned max, unsigned *out);

#endif
