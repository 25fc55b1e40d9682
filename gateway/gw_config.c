/*
 * certgate.json: read once with jansson, every key checked, every error with its path.
 */
#include "config.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "be_issue.h"
#include "be_json.h"
#include "be_crlpub.h"
#include "be_goodkey.h"
#include "be_keypool.h"
#include "gw.h"

#define C BE_E_CONFIG
#define CONFIG_MAX (4 * 1024 * 1024)

static const struct gw_adapter *registered;
static size_t n_registered;

void
gw_adapters_register(const struct gw_adapter *adapters, size_t n)
{
	registered = adapters;
	n_registered = n < GW_MAX_ADAPTERS ? n : GW_MAX_ADAPTERS;
}

const struct gw_adapter *
gw_adapters(size_t *n)
{
	*n = n_registered;
	return registered;
}

size_t
gw_adapter_routes(struct gw_route *out, size_t max)
{
	size_t i, j, n = 0;

	for (i = 0; i < n_registered; i++)
		for (j = 0; j < registered[i].n_routes && n < max; j++)
			out[n++] = registered[i].routes[j];
	return n;
}

void *
gw_config_adapter(const struct gw_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->n_adapters; i++)
		if (strcmp(cfg->adapters[i].name, name) == 0)
			return cfg->adapter_state[i];
	return NULL;
}

static int
adapters_init(struct gw_config *cfg, struct be_err *e)
{
	size_t i;
	int rc;

	cfg->adapters = registered;
	for (i = 0; i < n_registered; i++) {
		const struct gw_adapter *a = &registered[i];
		json_t *sec = json_object_get(cfg->root, a->name);

		cfg->n_adapters = i + 1;
		if (sec != NULL && !json_is_object(sec))
			return be_err_set(e, C, "%s: must be an object", a->name);
		if (sec != NULL && a->init == NULL)
			return be_err_set(e, C, "%s: unknown key (this front end takes no "
					  "configuration)", a->name);
		if (a->init != NULL &&
		    (rc = a->init(cfg, sec, &cfg->adapter_state[i], e)) != BE_OK)
			return rc;
	}
	return BE_OK;
}

/* Top-level keys: the gateway's own and one per registered adapter. */
static int
top_keys(const json_t *root, struct be_err *e)
{
	static const char *const own[] = {
		"state_dir", "store", "listen", "tls", "limits", "cas", "profiles", "principals",
		"keypool", "proxy", "metrics", "log", "weak_keys", "crl",
	};
	const char *key;
	json_t *v;
	size_t i;

	if (!json_is_object(root))
		return be_err_set(e, C, "document: must be an object");
	json_object_foreach((json_t *)root, key, v) {
		bool known = false;

		for (i = 0; i < sizeof(own) / sizeof(own[0]) && !known; i++)
			known = strcmp(own[i], key) == 0;
		for (i = 0; i < n_registered && !known; i++)
			known = strcmp(registered[i].name, key) == 0;
		if (!known)
			return be_err_set(e, C, "%.64s: unknown key", key);
	}
	return BE_OK;
}

static char *
path_in(const struct gw_config *cfg, const char *p)
{
	return be_path_join(cfg->dir, p);
}

static int
parse_listen(struct gw_config *cfg, const json_t *root, struct be_err *e)
{
	static const char *const keys[] = { "address", "port", "unix", "tls", NULL };
	json_t *arr = json_object_get(root, "listen"), *it;
	size_t i;
	int rc;

	if (arr == NULL) {
		if ((cfg->listen = calloc(1, sizeof(*cfg->listen))) == NULL ||
		    (cfg->listen[0].address = strdup("127.0.0.1")) == NULL)
			return be_err_set(e, BE_E_NOMEM, "out of memory");
		cfg->listen[0].port = 8443;
		cfg->listen[0].tls = true;
		cfg->n_listen = 1;
		return BE_OK;
	}
	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > 16)
		return be_err_set(e, C, "listen: must be an array of 1 to 16 listeners");
	if ((cfg->listen = calloc(json_array_size(arr), sizeof(*cfg->listen))) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	json_array_foreach(arr, i, it) {
		struct gw_listen *l = &cfg->listen[i];
		char path[32];
		const char *addr = NULL, *unix_path = NULL;
		unsigned long long port = 0;

		snprintf(path, sizeof(path), "listen[%zu]", i);
		cfg->n_listen++;
		if ((rc = be_json_keys(it, path, keys, C, e)) != BE_OK ||
		    (rc = be_json_str(it, path, "address", false, &addr, C, e)) != BE_OK ||
		    (rc = be_json_str(it, path, "unix", false, &unix_path, C, e)) != BE_OK ||
		    (rc = be_json_uint(it, path, "port", false, 1, 65535, &port, C, e)) != BE_OK ||
		    (rc = be_json_bool(it, path, "tls", false, &l->tls, C, e)) != BE_OK)
			return rc;
		if ((addr == NULL) == (unix_path == NULL))
			return be_err_set(e, C, "%s: give either address and port, or unix", path);
		if (addr != NULL && port == 0)
			return be_err_set(e, C, "%s.port: required with address", path);
		if (unix_path != NULL && port != 0)
			return be_err_set(e, C, "%s.port: not with unix", path);
		l->port = (unsigned)port;
		if (addr != NULL && (l->address = strdup(addr)) == NULL)
			return be_err_set(e, BE_E_NOMEM, "out of memory");
		if (unix_path != NULL && (l->unix_path = path_in(cfg, unix_path)) == NULL)
			return be_err_set(e, BE_E_NOMEM, "out of memory");
	}
	return BE_OK;
}

static int
parse_tls(struct gw_config *cfg, const json_t *root, struct be_err *e)
{
	static const char *const keys[] = { "certificate", "key", "client_ca", "priorities",
					    NULL };
	const json_t *tls = NULL;
	const char *cert = NULL, *key = NULL, *ca = NULL, *prio = NULL;
	bool need = false;
	size_t i;
	int rc;

	for (i = 0; i < cfg->n_listen; i++)
		need |= cfg->listen[i].tls;
	if ((rc = be_json_obj(root, "", "tls", need, &tls, C, e)) != BE_OK)
		return rc;
	if (tls == NULL)
		return BE_OK;
	/* Behind a proxy with no TLS listener of its own, certgate may still need client_ca
	 * (to verify forwarded client certificates) without a certificate and key. */
	if ((rc = be_json_keys(tls, "tls", keys, C, e)) != BE_OK ||
	    (rc = be_json_str(tls, "tls", "certificate", need, &cert, C, e)) != BE_OK ||
	    (rc = be_json_str(tls, "tls", "key", need || cert != NULL, &key, C, e)) != BE_OK ||
	    (rc = be_json_str(tls, "tls", "client_ca", false, &ca, C, e)) != BE_OK ||
	    (rc = be_json_str(tls, "tls", "priorities", false, &prio, C, e)) != BE_OK)
		return rc;
	if (cert == NULL && key != NULL)
		return be_err_set(e, C, "tls.certificate: required with tls.key");
	if ((cert != NULL && (cfg->tls_cert_file = path_in(cfg, cert)) == NULL) ||
	    (key != NULL && (cfg->tls_key_file = path_in(cfg, key)) == NULL) ||
	    (ca != NULL && (cfg->tls_client_ca_file = path_in(cfg, ca)) == NULL) ||
	    (cfg->tls_priorities = strdup(prio != NULL ? prio :
					  "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2")) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	return BE_OK;
}

/* limits.threads: a pool of 1..256 worker threads per listener, or "per-connection" (0): a
 * thread for each connection, so that concurrent requests are served side by side and all
 * meet in the store's group commit. */
static int
parse_threads(const json_t *limits, unsigned long long *threads, struct be_err *e)
{
	const json_t *v = json_object_get(limits, "threads");

	if (v != NULL && json_is_string(v)) {
		if (strcmp(json_string_value(v), "per-connection") != 0)
			return be_err_set(e, BE_E_CONFIG, "limits.threads: must be an integer "
					  "1..256 or \"per-connection\"");
		*threads = 0;
		return BE_OK;
	}
	return be_json_uint(limits, "limits", "threads", false, 1, 256, threads, C, e);
}

static int
parse_limits(struct gw_config *cfg, const json_t *root, struct be_err *e)
{
	static const char *const keys[] = { "max_body", "connection_memory", "timeout",
					    "threads", "per_ip_connections", "store_wait", NULL };
	const json_t *l = NULL;
	unsigned long long body = 1024 * 1024, mem = 128 * 1024, timeout = 30, threads = 8,
			   per_ip = 0, store_wait = 5;
	int rc;

	if ((rc = be_json_obj(root, "", "limits", false, &l, C, e)) != BE_OK)
		return rc;
	if (l != NULL &&
	    ((rc = be_json_keys(l, "limits", keys, C, e)) != BE_OK ||
	     (rc = be_json_uint(l, "limits", "max_body", false, 1024, 64ull << 20, &body, C,
				e)) != BE_OK ||
	     (rc = be_json_uint(l, "limits", "connection_memory", false, 16 * 1024, 16ull << 20,
				&mem, C, e)) != BE_OK ||
	     (rc = be_json_uint(l, "limits", "timeout", false, 1, 3600, &timeout, C, e)) != BE_OK ||
	     (rc = parse_threads(l, &threads, e)) != BE_OK ||
	     (rc = be_json_uint(l, "limits", "per_ip_connections", false, 0, 65535, &per_ip, C,
				e)) != BE_OK ||
	     (rc = be_json_uint(l, "limits", "store_wait", false, 1, 600, &store_wait, C,
				e)) != BE_OK))
		return rc;
	cfg->store_wait = (unsigned)store_wait;
	cfg->max_body = (size_t)body;
	cfg->conn_memory = (size_t)mem;
	cfg->conn_timeout = (unsigned)timeout;
	cfg->threads = (unsigned)threads;
	cfg->per_ip_connections = (unsigned)per_ip;
	return BE_OK;
}

static int
parse_principals(struct gw_config *cfg, const json_t *root, struct be_err *e)
{
	static const char *const keys[] = { "roles", "password", "api_keys", "certificates",
					    NULL };
	const json_t *ps = NULL;
	const char *name;
	json_t *v;
	int rc;

	if ((rc = be_json_obj(root, "", "principals", false, &ps, C, e)) != BE_OK || ps == NULL)
		return rc;
	if ((cfg->principals = calloc(json_object_size(ps) + 1, sizeof(*cfg->principals))) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	json_object_foreach((json_t *)ps, name, v) {
		struct gw_principal *p = &cfg->principals[cfg->n_principals];
		char path[96];
		char **roles = NULL;
		size_t n_roles = 0, i;
		const char *pw = NULL;

		snprintf(path, sizeof(path), "principals.%.64s", name);
		cfg->n_principals++;
		if ((p->name = strdup(name)) == NULL)
			return be_err_set(e, BE_E_NOMEM, "out of memory");
		if ((rc = be_json_keys(v, path, keys, C, e)) != BE_OK ||
		    (rc = be_json_strv(v, path, "roles", true, &roles, &n_roles, C, e)) != BE_OK)
			return rc;
		for (i = 0; i < n_roles; i++) {
			unsigned bit = be_role_parse(roles[i]);

			if (bit == 0) {
				rc = be_err_set(e, C, "%s.roles[%zu]: unknown role \"%.32s\"", path, i,
						roles[i]);
				be_strv_free(roles, n_roles);
				return rc;
			}
			p->roles |= bit;
		}
		be_strv_free(roles, n_roles);
		if ((rc = be_json_str(v, path, "password", false, &pw, C, e)) != BE_OK ||
		    (rc = be_json_strv(v, path, "api_keys", false, &p->api_key_hashes,
				       &p->n_api_keys, C, e)) != BE_OK ||
		    (rc = be_json_strv(v, path, "certificates", false, &p->cert_subjects,
				       &p->n_cert_subjects, C, e)) != BE_OK)
			return rc;
		if (pw != NULL && strncmp(pw, "pbkdf2-sha256$", 14) != 0)
			return be_err_set(e, C, "%s.password: must be a hash made by `certgate "
					  "hash-password` (pbkdf2-sha256$...)", path);
		if (pw != NULL && (p->password_hash = strdup(pw)) == NULL)
			return be_err_set(e, BE_E_NOMEM, "out of memory");
		for (i = 0; i < p->n_api_keys; i++)
			if (strncmp(p->api_key_hashes[i], "sha256$", 7) != 0 ||
			    strlen(p->api_key_hashes[i]) != 7 + 64)
				return be_err_set(e, C, "%s.api_keys[%zu]: must be a hash made by "
						  "`certgate hash-api-key` (sha256$<64 hex>)", path,
						  i);
	}
	return BE_OK;
}

static int
make_dir(const char *path, struct be_err *e)
{
	struct stat st;

	if (stat(path, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return be_err_set(e, C, "state_dir: %s is not a directory", path);
		return BE_OK;
	}
	if (mkdir(path, 0700) != 0)
		return be_err_set(e, BE_E_IO, "state_dir: cannot create %s: %s", path,
				  strerror(errno));
	return BE_OK;
}

/* The same store file: shared rather than opened a second time (see gw_config_reload). */
static bool
same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	if (strcmp(a, b) == 0)
		return true;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static int
config_load(const char *path, struct gw_config *running, struct gw_config **out,
	    struct be_err *e)
{
	struct gw_config *cfg = NULL;
	bool share;
	unsigned char *text = NULL;
	char *tmp = NULL, real[PATH_MAX];
	const char *s = NULL;
	size_t len;
	int rc;

	*out = NULL;
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = be_file_read(path, CONFIG_MAX, &text, &len, e)) != BE_OK) {
		e->code = C;
		goto out;
	}
	if ((rc = be_json_parse((const char *)text, len, path, C, &cfg->root, e)) != BE_OK)
		goto out;
	if (realpath(path, real) == NULL) {
		rc = be_err_set(e, BE_E_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((cfg->path = strdup(real)) == NULL || (tmp = strdup(real)) == NULL ||
	    (cfg->dir = strdup(dirname(tmp))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = top_keys(cfg->root, e)) != BE_OK ||
	    (rc = be_json_str(cfg->root, "", "state_dir", true, &s, C, e)) != BE_OK)
		goto out;
	if ((cfg->state_dir = path_in(cfg, s)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = be_json_str(cfg->root, "", "store", false, &s, C, e)) != BE_OK)
		goto out;
	if (s != NULL) {
		if (strncmp(s, "sqlite:", 7) != 0) {
			rc = be_err_set(e, C, "store: only sqlite:<file> is built in");
			goto out;
		}
		cfg->store_path = be_path_join(cfg->state_dir, s + 7);
	} else {
		cfg->store_path = be_path_join(cfg->state_dir, "certgate.db");
	}
	if (cfg->store_path == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = parse_listen(cfg, cfg->root, e)) != BE_OK ||
	    (rc = parse_tls(cfg, cfg->root, e)) != BE_OK ||
	    (rc = parse_limits(cfg, cfg->root, e)) != BE_OK ||
	    (rc = parse_principals(cfg, cfg->root, e)) != BE_OK ||
	    (rc = gw_proxy_parse(cfg, cfg->root, e)) != BE_OK ||
	    (rc = gw_metrics_parse(cfg, cfg->root, e)) != BE_OK ||
	    (rc = gw_log_parse(cfg, cfg->root, e)) != BE_OK ||
	    (rc = make_dir(cfg->state_dir, e)) != BE_OK)
		goto out;
	share = running != NULL && running->be != NULL && running->be->store != NULL &&
		same_file(cfg->store_path, running->store_path);
	if ((rc = be_ctx_new(json_object_get(cfg->root, "cas"),
			     json_object_get(cfg->root, "profiles"),
			     share ? NULL : cfg->store_path, cfg->dir, &cfg->be, e)) != BE_OK)
		goto out;
	if (share) {
		cfg->be->store = running->be->store;
		cfg->store_borrowed = true;
	}
	if (!share)	/* limits apply at start (certgate(8) SIGHUP) */
		be_store_set_wait(cfg->be->store, cfg->store_wait * 1000u);
	if ((rc = be_goodkey_new(json_object_get(cfg->root, "weak_keys"), cfg->dir,
				 &cfg->be->goodkey, e)) != BE_OK ||
	    (rc = be_keypool_new(json_object_get(cfg->root, "keypool"), cfg->be,
				 &cfg->be->keypool, e)) != BE_OK ||
	    (rc = be_crlpub_new(json_object_get(cfg->root, "crl"), cfg->be, &cfg->be->crlpub,
				e)) != BE_OK ||
	    (rc = adapters_init(cfg, e)) != BE_OK)
		goto out;
	*out = cfg;
	cfg = NULL;
out:
	free(tmp);
	free(text);
	gw_config_free(cfg);
	return rc;
}

int
gw_config_load(const char *path, struct gw_config **out, struct be_err *e)
{
	return config_load(path, NULL, out, e);
}

int
gw_config_reload(const char *path, struct gw_config *running, struct gw_config **out,
		 struct be_err *e)
{
	return config_load(path, running, out, e);
}

void
gw_config_free(struct gw_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	/* The CRL publisher's thread reads the store and the TSB adapter's key store: stop
	 * it while both are there. */
	if (cfg->be != NULL) {
		be_crlpub_free(cfg->be->crlpub);
		cfg->be->crlpub = NULL;
	}
	for (i = 0; i < cfg->n_adapters; i++)
		if (cfg->adapters[i].fini != NULL && cfg->adapter_state[i] != NULL)
			cfg->adapters[i].fini(cfg->adapter_state[i]);
	if (cfg->store_borrowed && cfg->be != NULL)
		cfg->be->store = NULL;		/* another configuration's */
	be_ctx_free(cfg->be);
	for (i = 0; i < cfg->n_principals; i++) {
		struct gw_principal *p = &cfg->principals[i];

		free(p->name);
		free(p->password_hash);
		be_strv_free(p->api_key_hashes, p->n_api_keys);
		be_strv_free(p->cert_subjects, p->n_cert_subjects);
	}
	free(cfg->principals);
	gw_proxy_conf_free(cfg);
	gw_metrics_conf_free(cfg);
	for (i = 0; i < cfg->n_listen; i++) {
		free(cfg->listen[i].address);
		free(cfg->listen[i].unix_path);
	}
	free(cfg->listen);
	free(cfg->tls_cert_file);
	free(cfg->tls_key_file);
	free(cfg->tls_client_ca_file);
	free(cfg->tls_priorities);
	free(cfg->state_dir);
	free(cfg->store_path);
	free(cfg->path);
	free(cfg->dir);
	if (cfg->root != NULL)
		json_decref(cfg->root);
	free(cfg);
}

const struct gw_principal *
gw_config_principal(const struct gw_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->n_principals; i++)
		if (strcmp(cfg->principals[i].name, name) == 0)
			return &cfg->principals[i];
	return NULL;
}
