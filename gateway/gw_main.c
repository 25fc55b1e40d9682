/*
 * certgate: the daemon and its command line.
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be_issue.h"
#include "gw.h"
#include "gw_cli.h"
#include "proto.h"

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: certgate COMMAND [ARGS]\n\n"
		"  init DIR [--rsa] [--https-port N] [--http-port N]\n"
		"                          write a working demo (CAs, TLS, certgate.json)\n"
		"  serve -c FILE           run the gateway\n"
		"  issue -c FILE ...       issue a certificate offline\n"
		"  list -c FILE ...        list issued certificates\n"
		"  revoke -c FILE SERIAL   revoke (or --reactivate) a certificate\n"
		"  audit -c FILE           print the audit log\n"
		"  hash-password           hash a password (stdin) for certgate.json\n"
		"  hash-api-key            hash an API key (stdin) for certgate.json\n"
		"  version                 print the version\n\n"
		"See certgate(8) and certgate.json(5).\n");
}

int
gw_cmd_serve(int argc, char **argv)
{
	struct gw_config *cfg = NULL;
	struct gw_server *srv = NULL;
	struct be_err e = { 0, "" };
	struct gw_route routes[64];
	const char *conf = NULL;
	sigset_t set;
	size_t n;
	int i, sig = 0, rc = 1;

	for (i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
		    i + 1 < argc) {
			conf = argv[++i];
		} else {
			fprintf(stderr, "usage: certgate serve -c FILE\n");
			return 2;
		}
	}
	if (conf == NULL)
		conf = CERTGATE_SYSCONFDIR "/certgate.json";
	/* Signals go to sigwait below, not to the server's threads. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (gw_config_load(conf, &cfg, &e) != BE_OK) {
		fprintf(stderr, "certgate: %s\n", e.msg);
		goto out;
	}
	n = gw_adapter_routes(routes, sizeof(routes) / sizeof(routes[0]));
	if (gw_server_start(cfg, routes, n, &srv, &e) != BE_OK) {
		fprintf(stderr, "certgate: %s\n", e.msg);
		goto out;
	}
	for (i = 0; (size_t)i < cfg->n_listen; i++) {
		const struct gw_listen *l = &cfg->listen[i];

		if (l->unix_path != NULL)
			fprintf(stderr, "certgate: listening on unix:%s%s\n", l->unix_path,
				l->tls ? " (TLS)" : "");
		else
			fprintf(stderr, "certgate: listening on %s%s%s:%u (%s)\n",
				strchr(l->address, ':') ? "[" : "", l->address,
				strchr(l->address, ':') ? "]" : "", l->port, l->tls ? "https" : "http");
	}
	fflush(stderr);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			fprintf(stderr, "certgate: SIGHUP: configuration reload is not supported "
				"yet; restart to apply changes\n");
			continue;
		}
		break;
	}
	fprintf(stderr, "certgate: signal %d, stopping\n", sig);
	rc = 0;
out:
	gw_server_stop(srv);
	gw_config_free(cfg);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "init", gw_cmd_init },
		{ "serve", gw_cmd_serve },
		{ "issue", gw_cmd_issue },
		{ "list", gw_cmd_list },
		{ "revoke", gw_cmd_revoke },
		{ "audit", gw_cmd_audit },
		{ "hash-password", gw_cmd_hash_password },
		{ "hash-api-key", gw_cmd_hash_api_key },
	};
	const struct gw_adapter *adapters;
	size_t i, n;
	int rc;

	adapters = proto_adapters(&n);
	gw_adapters_register(adapters, n);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("certgate %s (GnuTLS %s)\n", PACKAGE_VERSION, gnutls_check_version(NULL));
		return 0;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (gnutls_global_init() < 0) {
		fprintf(stderr, "certgate: GnuTLS initialisation failed\n");
		return 1;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name) == 0) {
			rc = cmds[i].fn(argc - 1, argv + 1);
			gnutls_global_deinit();
			return rc;
		}
	}
	fprintf(stderr, "certgate: unknown command %s\n", argv[1]);
	usage(stderr);
	gnutls_global_deinit();
	return 2;
}
