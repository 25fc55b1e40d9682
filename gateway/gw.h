/*
 * certgate gateway: configuration, HTTP(S) server, authentication, routing to adapters.
 *
 * An adapter (protocols/) sees one struct gw_request per HTTP request, fully read, and fills
 * one struct gw_response.  It never touches libmicrohttpd or GnuTLS sessions directly.
 */
#ifndef CERTGATE_GW_H
#define CERTGATE_GW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "be.h"

struct be_ctx;

/* ---------------------------------------------------------------- roles and principals */

/* Roles are the backend's (enum be_role in be.h); these names stay for the gateway. */
enum gw_role {
	GW_ROLE_CLIENT = BE_ROLE_CLIENT,
	GW_ROLE_RO_ADMIN = BE_ROLE_RO_ADMIN,
	GW_ROLE_CA_ADMIN = BE_ROLE_CA_ADMIN,
	GW_ROLE_KEY_MGMT = BE_ROLE_KEY_MGMT,
	GW_ROLE_KEY_OP = BE_ROLE_KEY_OP,
	GW_ROLE_APPROVER = BE_ROLE_APPROVER,
	GW_ROLE_SERVICE = BE_ROLE_SERVICE,
};

/* Parses a role name ("client", "ro_admin", "ca_admin", "key_management", "key_operation",
 * "approver", "service"); 0 when unknown. */
unsigned gw_role_parse(const char *name);

struct gw_principal {
	char *name;
	unsigned roles;			/* GW_ROLE_* bits */
	char *password_hash;		/* "pbkdf2-sha256$<iter>$<salt b64>$<hash b64>", may be NULL */
	char **api_key_hashes;		/* "sha256$<hex>" of each API key */
	size_t n_api_keys;
	char **cert_subjects;		/* RFC 4514 subjects of client certificates that are this principal */
	size_t n_cert_subjects;
};

/* ---------------------------------------------------------------- adapters (gw_config.c) */

struct gw_config;
struct gw_route;

/* A protocol adapter as the gateway sees it: its configuration section, its part of the
 * demo, its routes.  protocols/ defines them; main registers them. */
struct gw_adapter {
	const char *name;		/* configuration section and log name, e.g. "est" */
	/* Validates its section (NULL when the file has none) against cfg — profiles and
	 * principals are loaded by then — and builds its state (*state, may stay NULL).
	 * Errors are BE_E_CONFIG naming the key path ("est.labels.x: ..."). */
	int (*init)(const struct gw_config *cfg, const json_t *section, void **state,
		    struct be_err *e);
	void (*fini)(void *state);	/* frees the state; may be NULL */
	/* Adds what `certgate init` needs for this adapter to conf (its section, extra
	 * profiles, principals via gw_demo_principal); may be NULL. */
	int (*demo)(json_t *conf, json_t *creds, struct be_err *e);
	const struct gw_route *routes;
	size_t n_routes;
};

#define GW_MAX_ADAPTERS 8

/* Registers the adapters (a static array, borrowed forever) that configuration loading,
 * `certgate init` and the server use.  Call once, before anything else. */
void gw_adapters_register(const struct gw_adapter *adapters, size_t n);
/* The registered adapters, borrowed; *n their count. */
const struct gw_adapter *gw_adapters(size_t *n);
/* The state adapter `name` built when cfg was loaded, borrowed, or NULL. */
void *gw_config_adapter(const struct gw_config *cfg, const char *name);

/* For demo hooks: adds principal `name` with `role` to the "principals" object of conf,
 * with a random password and/or API key (hashed into conf, plain into creds[name]) and an
 * optional client-certificate subject. */
int gw_demo_principal(json_t *conf, json_t *creds, const char *name, const char *role,
		      bool password, bool api_key, const char *cert_subject, struct be_err *e);

/* ---------------------------------------------------------------- configuration (gw_config.c) */

struct gw_listen {
	char *address;			/* "127.0.0.1", "::1", "0.0.0.0"; NULL for a unix socket */
	unsigned port;
	char *unix_path;		/* unix socket path, or NULL */
	bool tls;
};

/* A network for address lists (proxy.trusted, metrics.allow): an address with a prefix
 * length, or every unix-socket peer. */
struct gw_net {
	int family;			/* AF_INET, AF_INET6, or AF_UNIX (any unix-socket peer) */
	unsigned char addr[16];		/* network order; IPv4 in the first 4 bytes */
	unsigned prefix;		/* bits */
};

enum gw_log_format {
	GW_LOG_TEXT = 0,		/* "certgate: ..." lines */
	GW_LOG_JSON,			/* one JSON object per line */
};

enum gw_log_level {
	GW_LOG_ERROR = 0,
	GW_LOG_WARNING,
	GW_LOG_INFO,			/* the default: access lines and start-up messages */
	GW_LOG_DEBUG,
};

struct gw_config {
	char *path;			/* the file it was read from */
	char *dir;			/* its directory: relative paths in the file are relative to it */
	char *state_dir;
	char *store_path;		/* SQLite file */

	struct gw_listen *listen;
	size_t n_listen;

	/* HTTPS listener */
	char *tls_cert_file;		/* server certificate chain, PEM */
	char *tls_key_file;
	char *tls_client_ca_file;	/* CAs whose client certificates are requested; may be NULL */
	char *tls_priorities;		/* GnuTLS priority string */

	/* limits */
	size_t max_body;		/* request body cap, bytes */
	size_t conn_memory;		/* per-connection memory limit, bytes */
	unsigned conn_timeout;		/* seconds */
	unsigned store_wait;		/* seconds a request may wait for the store */
	unsigned threads;		/* worker threads per listener; 0: one per connection */
	unsigned per_ip_connections;	/* 0 = no limit */

	struct gw_principal *principals;
	size_t n_principals;

	/* Trusted reverse proxies ("proxy", gw_proxy.c).  Without the section no peer is
	 * trusted, and forwarded-client headers are refused from everyone. */
	bool proxy;			/* the section is present */
	struct gw_net *proxy_trusted;	/* owned */
	size_t n_proxy_trusted;
	char *proxy_cert_header;	/* "X-SSL-Client-Cert" unless configured; owned */
	char *proxy_verify_header;	/* "X-SSL-Client-Verify" unless configured; owned */
	bool proxy_https;		/* the proxy always terminates TLS */

	/* Who may read /metrics ("metrics", gw_metrics.c): peers in metrics_allow (loopback
	 * when the section is absent), or the principals named (by client certificate, or
	 * Basic over a secure channel). */
	bool metrics_enabled;
	struct gw_net *metrics_allow;	/* owned */
	size_t n_metrics_allow;
	char **metrics_principals;	/* owned */
	size_t n_metrics_principals;

	/* Logging ("log", gw_log.c). */
	enum gw_log_format log_format;
	enum gw_log_level log_level;

	/* The whole parsed document, for adapters' own sections (borrowed by them). */
	json_t *root;
	struct be_ctx *be;		/* CAs, profiles, store: owned */
	/* be->store belongs to another configuration (gw_config_reload shares it) and is not
	 * closed with this one; gw_server_reload moves the ownership to the newest. */
	bool store_borrowed;

	const struct gw_adapter *adapters;	/* the registered adapters, borrowed */
	size_t n_adapters;
	void *adapter_state[GW_MAX_ADAPTERS];	/* owned, freed by each adapter's fini */
};

/* Reads and validates the configuration file.  Unknown keys, wrong types and missing
 * required keys are BE_E_CONFIG with the key's path ("profiles.IoT.validity_days: ...").
 * Opens the CA keys and the store.  *out: caller frees with gw_config_free(). */
int gw_config_load(const char *path, struct gw_config **out, struct be_err *e);
void gw_config_free(struct gw_config *cfg);
/* As gw_config_load, for a reload while running serves: when the file names the same store,
 * the new configuration shares running's open store (cfg->store_borrowed) instead of
 * opening the database a second time in this process; the store path is compared as a
 * file.  running is borrowed and must outlive *out unless ownership of the store moves
 * (gw_server_reload does that). */
int gw_config_reload(const char *path, struct gw_config *running, struct gw_config **out,
		     struct be_err *e);
const struct gw_principal *gw_config_principal(const struct gw_config *cfg, const char *name);

/* Reads the "proxy", "metrics" and "log" sections (each may be absent) into cfg; errors
 * are BE_E_CONFIG naming the key path.  Called by gw_config_load(). */
int gw_proxy_parse(struct gw_config *cfg, const json_t *root, struct be_err *e);
int gw_metrics_parse(struct gw_config *cfg, const json_t *root, struct be_err *e);
int gw_log_parse(struct gw_config *cfg, const json_t *root, struct be_err *e);
/* Frees what those put into cfg. */
void gw_proxy_conf_free(struct gw_config *cfg);
void gw_metrics_conf_free(struct gw_config *cfg);

/* Parses a JSON array of networks ("10.0.0.0/8", "127.0.0.1", "::1", "fd00::/8", "unix").
 * *out: caller frees (free()); an empty array gives *n = 0. */
int gw_nets_parse(const json_t *arr, const char *path, struct gw_net **out, size_t *n,
		  struct be_err *e);
/* True when the peer address text (as in gw_request.peer: an IPv4 or IPv6 literal, or
 * "unix") lies in one of nets.  IPv4-mapped IPv6 addresses match as IPv4. */
bool gw_nets_match(const struct gw_net *nets, size_t n, const char *peer);

/* Start-up and reload checks that do not refuse the configuration: warns (gw_log) about
 * what cannot work as configured, e.g. profiles with pop_linking behind a TLS-terminating
 * proxy. */
void gw_proxy_warnings(const struct gw_config *cfg);

/* ---------------------------------------------------------------- logging (gw_log.c) */

/* Makes cfg's log format and level the process's (atomically; call after loading and after
 * each reload).  Until then: text, info. */
void gw_log_apply(const struct gw_config *cfg);
/* True when messages of level are written. */
bool gw_log_enabled(enum gw_log_level level);
/* One application message to stderr (journald under systemd) in the configured format.
 * Never pass key material, passwords or request bodies. */
void gw_log(enum gw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One request as the access log records it; every string may be NULL (written "-"). */
struct gw_access {
	const char *id;			/* request id */
	const char *peer;		/* client address (from X-Forwarded-For when proxied) */
	const char *proxy;		/* the trusted proxy's address, or NULL */
	const char *method, *path;	/* path without the query */
	unsigned status;		/* 0 when no answer was sent */
	const char *adapter, *operation, *principal, *profile;
	size_t bytes;			/* response body bytes */
	uint64_t latency_us;
	bool secure;			/* TLS, ours or the proxy's */
	const char *end;		/* how the request ended: "ok", "client-abort", ... */
};

/* Writes one access line (level info) and counts the request for /metrics. */
void gw_log_access(const struct gw_access *a);

/* ---------------------------------------------------------------- metrics (gw_metrics.c) */

/* Counts one answered request for certgate_requests_total (lock-free; labels are copied,
 * values over 47 bytes cut; NULL counts as "none"). */
void gw_metrics_request(const char *adapter, const char *operation, unsigned status);
/* Counts a configuration reload attempt. */
void gw_metrics_reload(bool ok);

/* ---------------------------------------------------------------- authentication (gw_auth.c) */

/* Hashes a password for the configuration: "pbkdf2-sha256$<iter>$<salt>$<hash>" with a
 * random 16-byte salt.  *out malloc()ed; caller frees. */
int gw_auth_hash_password(const char *password, unsigned iterations, char **out);
/* Verifies password against a stored hash in constant time.  The stored hash is parsed
 * strictly (iterations 1000..10000000, salt 8..64 bytes, hash 32 bytes, canonical base64);
 * anything else never verifies.  Successful verifications are remembered in a fixed-size
 * table keyed by HMAC-SHA256(per-process key, stored_hash || 0 || password), so the slow
 * hash runs once per credential, not once per request.  Thread-safe. */
bool gw_auth_check_password(const char *stored_hash, const char *password);
/* "sha256$<hex>" of an API key.  *out malloc()ed; caller frees. */
int gw_auth_hash_api_key(const char *key, char **out);

/* Authenticates an Authorization header value "Basic <base64(user-id:password)>" (RFC 7617;
 * the user-id has no ':', the password may).  *principal (borrowed from cfg) on success.
 * Does the same password-hashing work whether the user exists or not.  Returns 0 or
 * BE_E_UNAUTH (absent, malformed, over-long, unknown user, wrong password) with the reason
 * in e; the reason never holds the password. */
int gw_auth_basic(const struct gw_config *cfg, const char *authorization,
		  const struct gw_principal **principal, struct be_err *e);
/* The principal named user if password is its password, checked exactly as gw_auth_basic
 * checks a Basic credential (same limits, same hashing work for unknown users); for the CLI,
 * whose administrators prove who they are.  0 and *principal (borrowed) or BE_E_UNAUTH. */
int gw_auth_password(const struct gw_config *cfg, const char *user, const char *password,
		     const struct gw_principal **principal, struct be_err *e);
/* Finds the principal holding API key `key` (compared as SHA-256 hashes, in constant time,
 * over all principals and keys).  Returns 0 and *principal (borrowed) or BE_E_UNAUTH. */
int gw_auth_api_key(const struct gw_config *cfg, const char *key,
		    const struct gw_principal **principal, struct be_err *e);

/* The CAs trusted for client certificates plus the principals' subjects, normalised.
 * The server builds one at start from cfg->tls_client_ca_file (see gw_request.client_trust);
 * code verifying forwarded certificates may build its own. */
struct gw_client_trust;

/* Loads the PEM CA certificates in ca_file and the cert_subjects of cfg's principals
 * (RFC 4514; one that does not parse is BE_E_CONFIG).  cfg is borrowed for the lifetime of
 * *out; caller frees with gw_client_trust_free(). */
int gw_client_trust_new(const struct gw_config *cfg, const char *ca_file,
			struct gw_client_trust **out, struct be_err *e);
void gw_client_trust_free(struct gw_client_trust *t);
/* Verifies a client certificate chain (DER, leaf first, as in gw_request.peer_certs): the
 * leaf chains to a trusted CA, every certificate is within its validity, the leaf's key usage
 * (when present) allows digitalSignature and its extended key usage (when present) includes
 * clientAuth, and a leaf one of certgate's CAs issued is valid in its store (recorded, not
 * revoked, on hold or deleted: be_presented_check).  On success *subject (if not NULL) is the leaf's RFC 4514 subject (malloc()ed,
 * caller frees) and, if principal is not NULL, *principal is the principal (borrowed) whose
 * cert_subjects holds that subject; no such principal is BE_E_UNAUTH.  Pass principal NULL
 * to verify only (EST re-enroll).  t may be NULL (no client CA): BE_E_UNAUTH.
 * Returns 0 or BE_E_UNAUTH with the reason in e. */
int gw_auth_client_cert(const struct gw_client_trust *t, const gnutls_datum_t *certs,
			size_t n_certs, const struct gw_principal **principal, char **subject,
			struct be_err *e);

/* ---------------------------------------------------------------- requests and responses */

#define GW_MAX_HEADERS 12
#define GW_MAX_PEER_CERTS 8

struct gw_request {
	char id[17];			/* random hex id, also in the log and audit */
	const char *method;		/* "GET", "POST", ... */
	const char *path;		/* raw path as sent (not percent-decoded), no query */
	const char *peer;		/* client address as text: an IPv4 or IPv6 literal or
					 * "unix"; when proxied, the client's as the trusted
					 * proxy forwarded it (X-Forwarded-For) */
	const char *proxy;		/* when proxied, the proxy's address; else NULL */
	bool tls;			/* arrived over our TLS listener */
	/* The client's channel is TLS: our own listener, or a trusted proxy that terminated
	 * TLS (then peer_certs are the ones the proxy forwarded).  Basic credentials are
	 * accepted only when secure. */
	bool secure;
	bool proxied;			/* came through a trusted reverse proxy */
	const unsigned char *body;	/* the whole body (chunked bodies reassembled) */
	size_t body_len;

	/* Client certificate chain as presented (leaf first), DER; not yet verified against
	 * any CA: adapters call gw_auth_client_cert() or the backend to verify. */
	gnutls_datum_t peer_certs[GW_MAX_PEER_CERTS];
	size_t n_peer_certs;
	/* RFC 7030 3.5 channel binding of the TLS connection (tls-unique on TLS 1.2,
	 * tls-exporter on TLS 1.3); empty when not available. */
	unsigned char binding[64];
	size_t binding_len;

	const struct gw_config *cfg;	/* borrowed for the request's lifetime */
	/* CAs for client certificates (from cfg->tls_client_ca_file), for
	 * gw_auth_client_cert(); NULL when none is configured.  Borrowed. */
	const struct gw_client_trust *client_trust;
	void *impl;			/* the server's connection handle */
};

/* Value of a request header (case-insensitive name), borrowed, or NULL.  When the header
 * was sent more than once this is the first. */
const char *gw_request_header(const struct gw_request *r, const char *name);
/* How many times header name was sent. */
size_t gw_request_header_count(const struct gw_request *r, const char *name);
/* Value of a query-string argument, percent-decoded, borrowed, or NULL. */
const char *gw_request_arg(const struct gw_request *r, const char *name);
/* True when the request's Content-Type is media type (RFC 9110 section 8.3: type/subtype,
 * case-insensitive, parameters allowed). */
bool gw_request_media_is(const struct gw_request *r, const char *type);

/* Request framing (gw_framing.c, RFC 9112 section 6): feed every header line to
 * gw_framing_header(), then gw_framing_verdict() returns NULL when the body's length is
 * unambiguous (chunked or length set) or a static sentence naming what is wrong. */
struct gw_framing {
	size_t n_length, n_te, n_codings, n_chunked;
	bool bad_length, other_coding;
	uint64_t length;		/* the Content-Length, when n_length == 1 */
	bool chunked;			/* set by gw_framing_verdict() */
};
void gw_framing_init(struct gw_framing *f);
void gw_framing_header(struct gw_framing *f, const char *name, const char *value);
const char *gw_framing_verdict(struct gw_framing *f, bool http10);

struct gw_response {
	unsigned status;
	char *content_type;		/* owned */
	unsigned char *body;		/* owned; wiped before free when `secret` */
	size_t body_len;
	bool secret;			/* body holds key material: wipe, send Cache-Control: no-store */
	struct {
		char *name, *value;	/* owned */
	} headers[GW_MAX_HEADERS];
	size_t n_headers;
	/* For the access log (borrowed static strings or NULL). */
	const char *adapter, *operation;
	char *principal, *profile;	/* owned copies or NULL */
};

/* Sets status, content type and a copy of body. Returns 0 or BE_E_NOMEM. */
int gw_response_set(struct gw_response *resp, unsigned status, const char *content_type,
		    const void *body, size_t len);
/* Takes ownership of body (malloc()ed). */
int gw_response_take(struct gw_response *resp, unsigned status, const char *content_type,
		     unsigned char *body, size_t len);
/* A plain-text body "<sentence>\n". */
int gw_response_text(struct gw_response *resp, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Serialises j (compact, sorted as inserted) as application/json; does not take j. */
int gw_response_json(struct gw_response *resp, unsigned status, const json_t *j);
/* Adds a header (copied). */
int gw_response_header(struct gw_response *resp, const char *name, const char *value);
void gw_response_clear(struct gw_response *resp);

/* An adapter's entry point: answer req in resp; return 0 (even for error replies) or a
 * negative code when no reply could be formed (the server answers 500). */
typedef int (*gw_handler_fn)(struct gw_request *req, struct gw_response *resp);

/* An adapter's form of the refusals the server answers itself for a request routed to it:
 * 413 when the body is over limits.max_body (by Content-Length, or as it streams in), 500
 * when the handler returned < 0 or set a status outside 200..599.  Fills resp (empty on
 * entry, owned by the server as a handler's is) with exactly `status` and a body in the
 * adapter's error format and content type that says reason (a sentence; borrowed for the
 * call).  req is the request as far as it was read: its body may be empty.  Returns 0, or a
 * negative code: then, as when resp carries another status, the server clears resp and
 * answers reason as plain text. */
typedef int (*gw_error_fn)(struct gw_request *req, struct gw_response *resp, unsigned status,
			   const char *reason);

struct gw_route {
	const char *prefix;		/* path prefix, e.g. "/.well-known/est/" */
	gw_handler_fn handle;
	gw_error_fn error;		/* may be NULL: the server's refusals are plain text */
};

/* ---------------------------------------------------------------- server (gw_http.c) */

struct gw_server;

/* Starts listeners for every cfg->listen entry with routes (n_routes entries, longest
 * prefix wins; copied).  cfg is borrowed until gw_server_stop().  *out: caller stops it. */
int gw_server_start(const struct gw_config *cfg, const struct gw_route *routes, size_t n_routes,
		    struct gw_server **out, struct be_err *e);
/* Every route of the registered adapters (at most max) into out; returns how many. */
size_t gw_adapter_routes(struct gw_route *out, size_t max);

/* Hands the configuration gw_server_start() borrowed over to the server, which frees it
 * when no request uses it any more (after a reload replaced it, or at stop). */
void gw_server_adopt_config(struct gw_server *srv);
/* The configuration new requests get, borrowed: valid until the next gw_server_reload() or
 * gw_server_stop(), so only the thread that reloads may hold it. */
struct gw_config *gw_server_config(struct gw_server *srv);
/* Makes cfg (taken: the server frees it) the configuration of every request that starts
 * from now on; requests in flight keep the one they started with, which is freed when the
 * last of them completes (unless it is the one gw_server_start borrowed).  When cfg shares
 * the current configuration's store (gw_config_reload), the store now belongs to cfg.  Listeners, TLS
 * keys and connection limits stay as they were started (a warning says so when cfg changes
 * them).  On failure (BE_E_CONFIG: e.g. the client CA file does not load) cfg is freed and
 * the old configuration keeps serving. */
int gw_server_reload(struct gw_server *srv, struct gw_config *cfg, struct be_err *e);

/* Stops accepting, finishes requests in flight, frees the server. NULL is a no-op. */
void gw_server_stop(struct gw_server *srv);

/* ---------------------------------------------------------------- forwarded requests (gw_proxy.c) */

/* Applies a reverse proxy's forwarded headers to req (PROTOCOLS.md section 5), at the start of
 * the request.  From a peer in cfg->proxy_trusted: the client certificate (URL-escaped PEM, as
 * nginx's $ssl_client_escaped_cert) replaces req->peer_certs, the verify result is checked for
 * consistency, req->peer becomes the rightmost untrusted X-Forwarded-For hop (written into
 * peer_buf), req->proxy the proxy's address (proxy_buf), req->secure follows proxy.https or
 * X-Forwarded-Proto, req->proxied is set and the channel binding is cleared.  From any other
 * peer, any of those headers is refused.  Returns 0, or the HTTP status to answer (400 for a
 * malformed header from a trusted proxy, 403 for a forwarded header from an untrusted peer)
 * with the reason in e. */
unsigned gw_proxy_apply(struct gw_request *req, char *peer_buf, size_t peer_cap,
			char *proxy_buf, size_t proxy_cap, struct be_err *e);

/* The /metrics route: Prometheus text exposition format 0.0.4. */
int gw_metrics_handle(struct gw_request *req, struct gw_response *resp);

#endif
