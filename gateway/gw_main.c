/*
 * certgate: the daemon and its command line.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "be_issue.h"
#include "be_crlpub.h"
#include "be_keypool.h"
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
		"  serve -c FILE           run the gateway (SIGHUP reloads FILE)\n"
		"  check -c FILE           check a configuration as serve would load it\n"
		"  issue -c FILE ...       issue a certificate offline\n"
		"  list -c FILE ...        list issued certificates\n"
		"  revoke -c FILE SERIAL   revoke (or --reactivate) a certificate\n"
		"  audit -c FILE           print the audit log\n"
		"  hash-password           hash a password (stdin) for certgate.json\n"
		"  hash-api-key            hash an API key (stdin) for certgate.json\n"
		"  request -c FILE list|show ID|approve ID|reject ID|cancel ID|expire --as NAME\n"
		"                          decide requests waiting for approval (the approver's\n"
		"                          password or --api-key-file proves who decides)\n"
		"  approve ...             TSB approver: list tasks, sign an approval or rejection\n"
		"  version                 print the version\n\n"
		"See certgate(8) and certgate.json(5).\n");
}

/* sd_notify(3) without libsystemd: one datagram to the socket systemd names in
 * $NOTIFY_SOCKET (a path, or '@' for the abstract namespace); nothing when it is unset. */
static void
notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	size_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return;
	len = strlen(path);
	if (len < 2 || len >= sizeof(sun.sun_path))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, len);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (const struct sockaddr *)&sun,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		gw_log(GW_LOG_DEBUG, "sd_notify: %s", strerror(errno));
	close(fd);
}

static void
log_listeners(const struct gw_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_listen; i++) {
		const struct gw_listen *l = &cfg->listen[i];

		if (l->unix_path != NULL)
			gw_log(GW_LOG_INFO, "listening on unix:%s%s", l->unix_path,
			       l->tls ? " (TLS)" : "");
		else
			gw_log(GW_LOG_INFO, "listening on %s%s%s:%u (%s)",
			       strchr(l->address, ':') ? "[" : "", l->address,
			       strchr(l->address, ':') ? "]" : "", l->port,
			       l->tls ? "https" : "http");
	}
}

/* SIGHUP: read the file again; a configuration that does not load is refused and the
 * running one keeps serving. */
/* The key pool fills from the start, so that the first server-keygen requests find keys
 * ready (be_keypool_take would otherwise start it with the first one). */
static void
start_keypool(const struct gw_config *cfg)
{
	if (cfg->be->keypool != NULL && be_keypool_start(cfg->be->keypool) != BE_OK)
		gw_log(GW_LOG_WARNING, "the key pool could not start its threads; server-generated "
		       "keys are made during each request");
}

static void
crl_log(bool error, const char *msg)
{
	gw_log(error ? GW_LOG_ERROR : GW_LOG_INFO, "%s", msg);
}

/* The CRL publisher builds every CA's CRL at once, then whenever a revocation changes and
 * before nextUpdate (be_crlpub.h). */
static void
start_crlpub(const struct gw_config *cfg)
{
	struct be_err e = { 0, "" };

	if (cfg->be->crlpub == NULL)
		return;
	be_crlpub_set_log(cfg->be->crlpub, crl_log);
	if (be_crlpub_start(cfg->be->crlpub, &e) != BE_OK)
		gw_log(GW_LOG_ERROR, "%s; CRLs are not published", e.msg);
}

static void
reload(struct gw_server *srv, const char *conf)
{
	struct gw_config *next = NULL;
	struct be_err e = { 0, "" };
	struct timespec ts;
	char msg[96];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
	notify(msg);
	gw_log(GW_LOG_INFO, "SIGHUP: reloading %s", conf);
	if (gw_config_reload(conf, gw_server_config(srv), &next, &e) != BE_OK) {
		gw_log(GW_LOG_ERROR, "reload refused, the previous configuration keeps serving: %s",
		       e.msg);
		gw_metrics_reload(false);
		notify("READY=1\nSTATUS=reload refused; previous configuration serving");
		return;
	}
	gw_proxy_warnings(next);
	/* The running configuration's CRLs are served until next's publisher has built. */
	be_crlpub_adopt(next->be->crlpub, gw_server_config(srv)->be->crlpub);
	if (gw_server_reload(srv, next, &e) != BE_OK) {	/* frees next */
		gw_log(GW_LOG_ERROR, "reload refused, the previous configuration keeps serving: %s",
		       e.msg);
		gw_metrics_reload(false);
		notify("READY=1\nSTATUS=reload refused; previous configuration serving");
		return;
	}
	/* next is the server's current configuration; only a later reload (this thread)
	 * could free it. */
	gw_log_apply(next);
	start_keypool(next);
	start_crlpub(next);
	gw_metrics_reload(true);
	gw_log(GW_LOG_INFO, "configuration reloaded");
	notify("READY=1\nSTATUS=serving");
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
		gw_log(GW_LOG_ERROR, "%s", e.msg);
		goto out;
	}
	gw_log_apply(cfg);
	gw_proxy_warnings(cfg);
	n = gw_adapter_routes(routes, sizeof(routes) / sizeof(routes[0]));
	if (gw_server_start(cfg, routes, n, &srv, &e) != BE_OK) {
		gw_log(GW_LOG_ERROR, "%s", e.msg);
		goto out;
	}
	log_listeners(cfg);
	start_keypool(cfg);
	start_crlpub(cfg);
	gw_server_adopt_config(srv);
	cfg = NULL;
	notify("READY=1\nSTATUS=serving");
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(srv, conf);
			continue;
		}
		break;
	}
	notify("STOPPING=1");
	gw_log(GW_LOG_INFO, "signal %d, stopping", sig);
	if (be_crypto_failed()) {
		/* A thread may be inside a key generation that never ends (be_key.h): joining
		 * it would hang.  Every issued certificate is committed already; exit now, with
		 * a failure status so that a supervisor restarts certgate. */
		gw_log(GW_LOG_ERROR, "the crypto library failed: exiting without waiting for "
		       "its threads");
		_exit(EXIT_FAILURE);
	}
	rc = 0;
out:
	gw_server_stop(srv);
	gw_config_free(cfg);
	return rc;
}

/* `certgate check -c FILE`: loads the configuration as serve would (opening the CA keys and
 * the store), prints the warnings serve would print, and exits 0 when it would start. */
static int
gw_cmd_check(int argc, char **argv)
{
	struct gw_config *cfg = NULL;
	struct be_err e = { 0, "" };
	const char *conf = NULL;
	int rc = 1;

	if (argc == 3 && (strcmp(argv[1], "-c") == 0 || strcmp(argv[1], "--config") == 0)) {
		conf = argv[2];
	} else if (argc != 1) {
		fprintf(stderr, "usage: certgate check [-c FILE]\n");
		return 2;
	}
	if (conf == NULL)
		conf = CERTGATE_SYSCONFDIR "/certgate.json";
	if (gw_config_load(conf, &cfg, &e) != BE_OK) {
		fprintf(stderr, "certgate: %s\n", e.msg);
		goto out;
	}
	gw_proxy_warnings(cfg);
	printf("%s: ok\n", conf);
	rc = 0;
out:
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
		{ "check", gw_cmd_check },
		{ "issue", gw_cmd_issue },
		{ "list", gw_cmd_list },
		{ "revoke", gw_cmd_revoke },
		{ "audit", gw_cmd_audit },
		{ "hash-password", gw_cmd_hash_password },
		{ "hash-api-key", gw_cmd_hash_api_key },
		{ "approve", gw_cmd_approve },
		{ "request", gw_cmd_request },
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
