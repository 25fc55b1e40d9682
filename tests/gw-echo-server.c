/*
 * gw-echo-server: the gateway's HTTP layer with an adapter that echoes what it was given,
 * for tests/e2e-http.sh.  The configuration is built by hand, not read from a file.
 *
 *   gw-echo-server -p HTTP_PORT [-s HTTPS_PORT -c CERT -k KEY] [-a CLIENT_CA]
 *                  [-b MAX_BODY] [-6 IPV6_HTTP_PORT] [-u UNIX_SOCKET] [-t THREADS]
 *
 * Routes:
 *   /echo/    JSON {method, path, body_len, body_sha256, tls, n_peer_certs, binding_len,
 *             principal (Basic credentials or client certificate, else null), a (query)}
 *   /auth/    the same, but only with valid Basic credentials (else 401 + WWW-Authenticate)
 *   /secret/  a body marked secret (Cache-Control: no-store)
 *   /json/    as /echo/, but .../fail returns an error and .../bad-status sets status 999;
 *             the server's own refusals come from its error hook as JSON {status, error}
 *   /badhook/ as /json/, with an error hook that fails (.../wrong-status: answers 200)
 * Principals: "alice" / "secret-pass"; "dev1" bound to client certificate subject "CN=dev1".
 * Prints "ready" when listening; stops cleanly on SIGTERM or SIGINT.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "gw.h"

static const char *
principal_of(struct gw_request *req, bool basic_only, struct be_err *e)
{
	const struct gw_principal *p = NULL;
	const char *auth = gw_request_header(req, "Authorization");

	if (auth != NULL || basic_only) {
		if (gw_auth_basic(req->cfg, auth, &p, e) != 0)
			return NULL;
		return p->name;
	}
	if (req->n_peer_certs > 0 &&
	    gw_auth_client_cert(req->client_trust, req->peer_certs, req->n_peer_certs, &p,
				NULL, e) == 0)
		return p->name;
	return NULL;
}

static int
echo_reply(struct gw_request *req, struct gw_response *resp, const char *principal)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char d[32];
	char dhex[65];
	json_t *j = NULL;
	const char *a;
	size_t i;
	int rc = BE_E_NOMEM;

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, req->body, req->body_len, d) < 0) {
		rc = BE_E_CRYPTO;
		goto out;
	}
	for (i = 0; i < 32; i++) {
		dhex[2 * i] = hex[d[i] >> 4];
		dhex[2 * i + 1] = hex[d[i] & 15];
	}
	dhex[64] = '\0';
	a = gw_request_arg(req, "a");
	j = json_object();
	if (j == NULL ||
	    json_object_set_new(j, "method", json_string(req->method)) != 0 ||
	    json_object_set_new(j, "path", json_string(req->path)) != 0 ||
	    json_object_set_new(j, "body_len", json_integer((json_int_t)req->body_len)) != 0 ||
	    json_object_set_new(j, "body_sha256", json_string(dhex)) != 0 ||
	    json_object_set_new(j, "tls", json_boolean(req->tls)) != 0 ||
	    json_object_set_new(j, "n_peer_certs",
				json_integer((json_int_t)req->n_peer_certs)) != 0 ||
	    json_object_set_new(j, "binding_len",
				json_integer((json_int_t)req->binding_len)) != 0 ||
	    json_object_set_new(j, "principal",
				principal != NULL ? json_string(principal) : json_null()) != 0 ||
	    json_object_set_new(j, "a", a != NULL ? json_string(a) : json_null()) != 0 ||
	    json_object_set_new(j, "peer", json_string(req->peer)) != 0)
		goto out;
	if (principal != NULL) {
		resp->principal = strdup(principal);
		if (resp->principal == NULL)
			goto out;
	}
	rc = gw_response_json(resp, 200, j);
out:
	json_decref(j);
	return rc;
}

static int
handle_echo(struct gw_request *req, struct gw_response *resp)
{
	struct be_err e = { 0, "" };

	resp->adapter = "echo";
	resp->operation = "echo";
	return echo_reply(req, resp, principal_of(req, false, &e));
}

static int
handle_auth(struct gw_request *req, struct gw_response *resp)
{
	struct be_err e = { 0, "" };
	const char *who;
	int rc;

	resp->adapter = "echo";
	resp->operation = "auth";
	who = principal_of(req, true, &e);
	if (who == NULL) {
		fprintf(stderr, "gw-echo-server: id=%s peer=%s: %s\n", req->id, req->peer, e.msg);
		rc = gw_response_text(resp, 401, "authentication required");
		if (rc == 0)
			rc = gw_response_header(resp, "WWW-Authenticate",
						"Basic realm=\"certgate\"");
		return rc;
	}
	return echo_reply(req, resp, who);
}

static int
handle_secret(struct gw_request *req, struct gw_response *resp)
{
	static const char key[] = "-----BEGIN PRIVATE KEY-----\nnot really\n"
				  "-----END PRIVATE KEY-----\n";

	resp->adapter = "echo";
	resp->operation = "secret";
	resp->secret = true;
	return gw_response_set(resp, 200, "application/pkcs8", key, sizeof(key) - 1);
}

/* /json/ and /badhook/: the echo, or a handler failing as the path says. */
static int
handle_json(struct gw_request *req, struct gw_response *resp)
{
	size_t n = strlen(req->path);

	resp->adapter = "echo";
	resp->operation = "json";
	if (n >= 5 && strcmp(req->path + n - 5, "/fail") == 0)
		return BE_E_INTERNAL;
	if (n >= 11 && strcmp(req->path + n - 11, "/bad-status") == 0)
		return gw_response_text(resp, 999, "no such status");
	return echo_reply(req, resp, NULL);
}

/* gw_error_fn of /json/: {"status": status, "error": reason}. */
static int
json_error(struct gw_request *req, struct gw_response *resp, unsigned status,
	   const char *reason)
{
	json_t *j = json_pack("{s:i, s:s}", "status", (int)status, "error", reason);
	int rc;

	(void)req;
	resp->adapter = "echo";
	resp->operation = "json-error";
	if (j == NULL)
		return BE_E_NOMEM;
	rc = gw_response_json(resp, status, j);
	json_decref(j);
	return rc;
}

/* gw_error_fn of /badhook/: fails, or answers another status than asked. */
static int
broken_error(struct gw_request *req, struct gw_response *resp, unsigned status,
	     const char *reason)
{
	(void)status;
	(void)reason;
	if (strstr(req->path, "/wrong-status") != NULL)
		return gw_response_text(resp, 200, "all is well");
	return BE_E_INTERNAL;
}

static int
parse_num(const char *s, unsigned long max, unsigned long *out)
{
	char *end = NULL;
	unsigned long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: gw-echo-server -p HTTP_PORT [-s HTTPS_PORT -c CERT -k KEY] "
		"[-a CLIENT_CA] [-b MAX_BODY] [-6 IPV6_HTTP_PORT] [-u UNIX_SOCKET] "
		"[-t THREADS]\n");
}

int
main(int argc, char **argv)
{
	static const struct gw_route routes[] = {
		{ "/echo/", handle_echo, NULL },
		{ "/auth/", handle_auth, NULL },
		{ "/secret/", handle_secret, NULL },
		{ "/json/", handle_json, json_error },
		{ "/badhook/", handle_json, broken_error },
	};
	struct gw_listen listen[4];
	struct gw_principal principals[2];
	char *dev1_subjects[1] = { (char *)"CN=dev1" };
	struct gw_config cfg;
	struct gw_server *srv = NULL;
	struct be_err e = { 0, "" };
	unsigned long http_port = 0, https_port = 0, v6_port = 0, max_body = 1024 * 1024;
	unsigned long threads = 2;
	const char *unix_path = NULL;
	sigset_t sigs;
	int opt, sig, ret = 1;

	memset(&cfg, 0, sizeof(cfg));
	memset(listen, 0, sizeof(listen));
	memset(principals, 0, sizeof(principals));
	while ((opt = getopt(argc, argv, "p:s:c:k:a:b:6:u:t:")) != -1) {
		unsigned long *num = NULL, max = 65535;

		switch (opt) {
		case 'p': num = &http_port; break;
		case 's': num = &https_port; break;
		case '6': num = &v6_port; break;
		case 'b': num = &max_body; max = 1UL << 30; break;
		case 't': num = &threads; max = 64; break;
		case 'c': cfg.tls_cert_file = optarg; break;
		case 'k': cfg.tls_key_file = optarg; break;
		case 'a': cfg.tls_client_ca_file = optarg; break;
		case 'u': unix_path = optarg; break;
		default: usage(); goto out;
		}
		if (num != NULL && parse_num(optarg, max, num) != 0) {
			usage();
			goto out;
		}
	}
	if (http_port == 0 || (https_port != 0 && (cfg.tls_cert_file == NULL ||
						   cfg.tls_key_file == NULL))) {
		usage();
		goto out;
	}
	listen[cfg.n_listen].address = (char *)"127.0.0.1";
	listen[cfg.n_listen++].port = (unsigned)http_port;
	if (https_port != 0) {
		listen[cfg.n_listen].address = (char *)"127.0.0.1";
		listen[cfg.n_listen].port = (unsigned)https_port;
		listen[cfg.n_listen++].tls = true;
	}
	if (v6_port != 0) {
		listen[cfg.n_listen].address = (char *)"::1";
		listen[cfg.n_listen++].port = (unsigned)v6_port;
	}
	if (unix_path != NULL)
		listen[cfg.n_listen++].unix_path = (char *)unix_path;
	cfg.listen = listen;
	cfg.max_body = max_body;
	cfg.conn_memory = 64 * 1024;
	cfg.conn_timeout = 10;
	cfg.threads = (unsigned)threads;
	cfg.per_ip_connections = 64;

	principals[0].name = (char *)"alice";
	principals[0].roles = GW_ROLE_CLIENT;
	if (gw_auth_hash_password("secret-pass", 1000, &principals[0].password_hash) != 0) {
		fprintf(stderr, "gw-echo-server: cannot hash the password\n");
		goto out;
	}
	principals[1].name = (char *)"dev1";
	principals[1].roles = GW_ROLE_CLIENT;
	principals[1].cert_subjects = dev1_subjects;
	principals[1].n_cert_subjects = 1;
	cfg.principals = principals;
	cfg.n_principals = 2;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);	/* the server's threads inherit it */

	if (gw_server_start(&cfg, routes, sizeof(routes) / sizeof(routes[0]), &srv, &e) != 0) {
		fprintf(stderr, "gw-echo-server: %s: %s\n", be_err_name(e.code), e.msg);
		goto out;
	}
	printf("ready\n");
	fflush(stdout);
	if (sigwait(&sigs, &sig) != 0)
		goto out;
	fprintf(stderr, "gw-echo-server: signal %d, stopping\n", sig);
	ret = 0;
out:
	gw_server_stop(srv);
	free(principals[0].password_hash);
	return ret;
}
