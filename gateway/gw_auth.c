/*
 * Authentication: role names, password hashes (PBKDF2-HMAC-SHA256) with a success cache,
 * API key hashes, HTTP Basic (RFC 7617) and TLS client certificates.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <gnutls/crypto.h>

#include "be_csr.h"
#include "be_hex.h"
#include "be_presented.h"
#include "gw.h"

#define PBKDF2_PREFIX "pbkdf2-sha256$"
#define PBKDF2_MIN_ITER 1000u
#define PBKDF2_MAX_ITER 10000000u
#define PBKDF2_SALT_LEN 16
#define PBKDF2_SALT_MIN 8
#define PBKDF2_SALT_MAX 64
#define PBKDF2_HASH_LEN 32
#define STORED_HASH_MAX 256
#define PASSWORD_MAX 1024
#define APIKEY_PREFIX "sha256$"
#define APIKEY_MAX 1024
#define BASIC_HEADER_MAX 4096
#define USER_MAX 255

#define CACHE_SLOTS 1024u	/* direct-mapped; a collision evicts the older entry */

/* ---------------------------------------------------------------- roles */

unsigned
gw_role_parse(const char *name)
{
	return name != NULL ? be_role_parse(name) : 0;
}

/* ---------------------------------------------------------------- base64 and hex (RFC 4648) */

/* Strict base64 of exactly want bytes (no whitespace) into out; 0 or -1. */
static int
b64_exact(const char *in, size_t len, unsigned char *out, size_t cap, size_t *outlen)
{
	unsigned char *dec = NULL;
	size_t n = 0, i;
	int rc = -1;

	for (i = 0; i < len; i++)
		if (in[i] == ' ' || in[i] == '\t' || in[i] == '\r' || in[i] == '\n')
			goto out;
	if (be_base64_decode(in, len, &dec, &n, NULL) != BE_OK || n > cap)
		goto out;
	memcpy(out, dec, n);
	*outlen = n;
	rc = 0;
out:
	if (dec != NULL) {
		be_memzero(dec, n);
		free(dec);
	}
	return rc;
}

/* ---------------------------------------------------------------- password hashes */

struct pbkdf2_hash {
	unsigned iter;
	unsigned char salt[PBKDF2_SALT_MAX];
	size_t salt_len;
	unsigned char hash[PBKDF2_HASH_LEN];
};

/* Parses "pbkdf2-sha256$<iter>$<salt b64>$<hash b64>" strictly.  0 or -1. */
static int
pbkdf2_parse(const char *s, struct pbkdf2_hash *h)
{
	const char *p, *salt, *hash, *end;
	unsigned long iter = 0;
	size_t n, len;

	if (s == NULL)
		return -1;
	len = strnlen(s, STORED_HASH_MAX + 1);
	if (len > STORED_HASH_MAX)
		return -1;
	end = s + len;
	if (strncmp(s, PBKDF2_PREFIX, strlen(PBKDF2_PREFIX)) != 0)
		return -1;
	p = s + strlen(PBKDF2_PREFIX);
	if (*p < '1' || *p > '9')
		return -1;		/* no sign, no leading zero, not empty */
	for (n = 0; *p >= '0' && *p <= '9'; p++, n++) {
		if (n >= 8)
			return -1;
		iter = iter * 10 + (unsigned long)(*p - '0');
	}
	if (*p != '$' || iter < PBKDF2_MIN_ITER || iter > PBKDF2_MAX_ITER)
		return -1;
	salt = p + 1;
	p = memchr(salt, '$', (size_t)(end - salt));
	if (p == NULL)
		return -1;
	hash = p + 1;
	if (memchr(hash, '$', (size_t)(end - hash)) != NULL)
		return -1;
	if (b64_exact(salt, (size_t)(p - salt), h->salt, sizeof(h->salt), &h->salt_len) != 0 ||
	    h->salt_len < PBKDF2_SALT_MIN)
		return -1;
	if (b64_exact(hash, (size_t)(end - hash), h->hash, sizeof(h->hash), &n) != 0 ||
	    n != PBKDF2_HASH_LEN)
		return -1;
	h->iter = (unsigned)iter;
	return 0;
}

static int
pbkdf2_derive(const char *password, size_t pwlen, const unsigned char *salt, size_t salt_len,
	      unsigned iter, unsigned char out[PBKDF2_HASH_LEN])
{
	gnutls_datum_t key = { (unsigned char *)(uintptr_t)password, (unsigned)pwlen };
	gnutls_datum_t s = { (unsigned char *)(uintptr_t)salt, (unsigned)salt_len };

	if (gnutls_pbkdf2(GNUTLS_MAC_SHA256, &key, &s, iter, out, PBKDF2_HASH_LEN) < 0)
		return BE_E_CRYPTO;
	return 0;
}

int
gw_auth_hash_password(const char *password, unsigned iterations, char **out)
{
	unsigned char salt[PBKDF2_SALT_LEN], hash[PBKDF2_HASH_LEN];
	char *salt64 = NULL, *hash64 = NULL;
	char *s = NULL;
	size_t pwlen, cap;
	int rc;

	*out = NULL;
	if (password == NULL || iterations < PBKDF2_MIN_ITER || iterations > PBKDF2_MAX_ITER) {
		rc = BE_E_MALFORMED;
		goto out;
	}
	pwlen = strlen(password);
	if (pwlen == 0 || pwlen > PASSWORD_MAX) {
		rc = BE_E_MALFORMED;
		goto out;
	}
	if (gnutls_rnd(GNUTLS_RND_RANDOM, salt, sizeof(salt)) < 0) {
		rc = BE_E_CRYPTO;
		goto out;
	}
	rc = pbkdf2_derive(password, pwlen, salt, sizeof(salt), iterations, hash);
	if (rc != 0)
		goto out;
	if (be_base64_encode(salt, sizeof(salt), 0, &salt64) != BE_OK ||
	    be_base64_encode(hash, sizeof(hash), 0, &hash64) != BE_OK) {
		rc = BE_E_NOMEM;
		goto out;
	}
	cap = strlen(PBKDF2_PREFIX) + 10 + 1 + strlen(salt64) + 1 + strlen(hash64) + 1;
	s = malloc(cap);
	if (s == NULL) {
		rc = BE_E_NOMEM;
		goto out;
	}
	snprintf(s, cap, "%s%u$%s$%s", PBKDF2_PREFIX, iterations, salt64, hash64);
	*out = s;
	s = NULL;
	rc = 0;
out:
	be_memzero(hash, sizeof(hash));
	free(salt64);
	free(hash64);
	free(s);
	return rc;
}

/* The success cache.  Entries are HMAC tags, never passwords or hashes of them alone. */
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char cache_key[32];
static int cache_ready;
static struct {
	unsigned char tag[32];
	int used;
} cache[CACHE_SLOTS];

static void
cache_init(void)
{
	if (gnutls_rnd(GNUTLS_RND_KEY, cache_key, sizeof(cache_key)) == 0)
		cache_ready = 1;
}

/* tag = HMAC-SHA256(cache_key, stored || 0 || password).  0 or -1. */
static int
cache_tag(const char *stored, const char *password, size_t pwlen, unsigned char tag[32])
{
	gnutls_hmac_hd_t h = NULL;
	int rc = -1;

	pthread_once(&cache_once, cache_init);
	if (!cache_ready)
		goto out;
	if (gnutls_hmac_init(&h, GNUTLS_MAC_SHA256, cache_key, sizeof(cache_key)) < 0) {
		h = NULL;
		goto out;
	}
	if (gnutls_hmac(h, stored, strlen(stored) + 1) < 0 ||	/* includes the 0 separator */
	    gnutls_hmac(h, password, pwlen) < 0)
		goto out;
	gnutls_hmac_output(h, tag);
	rc = 0;
out:
	if (h != NULL)
		gnutls_hmac_deinit(h, NULL);
	return rc;
}

static size_t
cache_slot(const unsigned char tag[32])
{
	return (((size_t)tag[0] << 8) | tag[1]) % CACHE_SLOTS;
}

static bool
cache_lookup(const unsigned char tag[32])
{
	size_t i = cache_slot(tag);
	bool hit;

	pthread_mutex_lock(&cache_lock);
	hit = cache[i].used && be_ct_equal(cache[i].tag, 32, tag, 32);
	pthread_mutex_unlock(&cache_lock);
	return hit;
}

static void
cache_insert(const unsigned char tag[32])
{
	size_t i = cache_slot(tag);

	pthread_mutex_lock(&cache_lock);
	memcpy(cache[i].tag, tag, 32);
	cache[i].used = 1;
	pthread_mutex_unlock(&cache_lock);
}

/* Verifies without the cache; *ok false when anything fails. */
static void
password_verify(const struct pbkdf2_hash *h, const char *password, size_t pwlen, bool *ok)
{
	unsigned char got[PBKDF2_HASH_LEN];

	*ok = false;
	if (pbkdf2_derive(password, pwlen, h->salt, h->salt_len, h->iter, got) == 0)
		*ok = be_ct_equal(got, sizeof(got), h->hash, sizeof(h->hash));
	be_memzero(got, sizeof(got));
}

bool
gw_auth_check_password(const char *stored_hash, const char *password)
{
	struct pbkdf2_hash h;
	unsigned char tag[32];
	bool ok = false, have_tag = false;
	size_t pwlen;

	if (stored_hash == NULL || password == NULL)
		goto out;
	if (pbkdf2_parse(stored_hash, &h) != 0)
		goto out;
	pwlen = strnlen(password, PASSWORD_MAX + 1);
	if (pwlen == 0 || pwlen > PASSWORD_MAX)
		goto out;
	have_tag = cache_tag(stored_hash, password, pwlen, tag) == 0;
	if (have_tag && cache_lookup(tag)) {
		ok = true;
		goto out;
	}
	password_verify(&h, password, pwlen, &ok);
	if (ok && have_tag)
		cache_insert(tag);
out:
	be_memzero(tag, sizeof(tag));
	return ok;
}

/* ---------------------------------------------------------------- API keys */

static int
apikey_digest(const char *key, size_t len, unsigned char out[32])
{
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, key, len, out) < 0)
		return BE_E_CRYPTO;
	return 0;
}

int
gw_auth_hash_api_key(const char *key, char **out)
{
	unsigned char d[32];
	char *s = NULL;
	size_t len, pl = strlen(APIKEY_PREFIX);
	int rc;

	*out = NULL;
	if (key == NULL) {
		rc = BE_E_MALFORMED;
		goto out;
	}
	len = strnlen(key, APIKEY_MAX + 1);
	if (len == 0 || len > APIKEY_MAX) {
		rc = BE_E_MALFORMED;
		goto out;
	}
	rc = apikey_digest(key, len, d);
	if (rc != 0)
		goto out;
	s = malloc(pl + 64 + 1);
	if (s == NULL) {
		rc = BE_E_NOMEM;
		goto out;
	}
	memcpy(s, APIKEY_PREFIX, pl);
	be_hex_encode(d, sizeof(d), s + pl);
	*out = s;
	s = NULL;
	rc = 0;
out:
	be_memzero(d, sizeof(d));
	free(s);
	return rc;
}

/* Parses "sha256$<64 hex>".  0 or -1. */
static int
apikey_parse(const char *s, unsigned char out[32])
{
	size_t pl = strlen(APIKEY_PREFIX);

	if (s == NULL || strncmp(s, APIKEY_PREFIX, pl) != 0 || strnlen(s + pl, 65) != 64)
		return -1;
	return be_hex_decode(s + pl, 64, out, 32, 0);
}

int
gw_auth_api_key(const struct gw_config *cfg, const char *key,
		const struct gw_principal **principal, struct be_err *e)
{
	const struct gw_principal *found = NULL;
	unsigned char want[32], have[32];
	size_t i, j, len;
	bool eq;
	int rc;

	*principal = NULL;
	if (key == NULL) {
		rc = be_err_set(e, BE_E_UNAUTH, "no API key");
		goto out;
	}
	len = strnlen(key, APIKEY_MAX + 1);
	if (len == 0 || len > APIKEY_MAX) {
		rc = be_err_set(e, BE_E_UNAUTH, "API key empty or longer than %d bytes",
				APIKEY_MAX);
		goto out;
	}
	rc = apikey_digest(key, len, want);
	if (rc != 0) {
		be_err_set(e, rc, "cannot hash the API key");
		goto out;
	}
	for (i = 0; i < cfg->n_principals; i++) {
		for (j = 0; j < cfg->principals[i].n_api_keys; j++) {
			if (apikey_parse(cfg->principals[i].api_key_hashes[j], have) != 0)
				continue;
			eq = be_ct_equal(have, sizeof(have), want, sizeof(want));
			if (eq && found == NULL)
				found = &cfg->principals[i];
		}
	}
	if (found == NULL) {
		rc = be_err_set(e, BE_E_UNAUTH, "unknown API key");
		goto out;
	}
	*principal = found;
	rc = 0;
out:
	be_memzero(want, sizeof(want));
	be_memzero(have, sizeof(have));
	return rc;
}

/* ---------------------------------------------------------------- HTTP Basic (RFC 7617) */

static bool
has_ctl(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return true;
	return false;
}

/* The same PBKDF2 work a configured user costs, for a user that does not exist. */
static void
basic_dummy_work(const struct gw_config *cfg, const char *password, size_t pwlen)
{
	static const unsigned char salt[PBKDF2_SALT_LEN] = "certgate-nouser";
	struct pbkdf2_hash h;
	unsigned char got[PBKDF2_HASH_LEN];
	size_t i;

	for (i = 0; i < cfg->n_principals; i++)
		if (pbkdf2_parse(cfg->principals[i].password_hash, &h) == 0)
			break;
	if (i == cfg->n_principals)
		return;
	(void)pbkdf2_derive(password, pwlen, salt, sizeof(salt), h.iter, got);
	be_memzero(got, sizeof(got));
}

/* The principal named user (ulen bytes) if password (pwlen bytes, NUL-terminated) is its
 * password; the same PBKDF2 work whether the user exists or not. */
static int
user_password(const struct gw_config *cfg, const char *user, size_t ulen, const char *pw,
	      size_t pwlen, const struct gw_principal **principal, struct be_err *e)
{
	const struct gw_principal *found = NULL;
	bool eq, ok = false;
	size_t i;

	for (i = 0; i < cfg->n_principals; i++) {
		const char *name = cfg->principals[i].name;

		if (name == NULL)
			continue;
		eq = be_ct_equal(name, strlen(name), user, ulen);
		if (eq && found == NULL)
			found = &cfg->principals[i];
	}
	if (found != NULL && found->password_hash != NULL)
		ok = gw_auth_check_password(found->password_hash, pw);
	else
		basic_dummy_work(cfg, pw, pwlen);
	if (!ok)
		return be_err_set(e, BE_E_UNAUTH, "wrong user or password");
	*principal = found;
	return 0;
}

int
gw_auth_basic(const struct gw_config *cfg, const char *authorization,
	      const struct gw_principal **principal, struct be_err *e)
{
	unsigned char *dec = NULL;
	const char *p, *tok;
	char *user, *pw, *colon;
	size_t len, toklen, declen = 0, cap = 0, ulen, pwlen;
	int rc;

	*principal = NULL;
	if (authorization == NULL) {
		rc = be_err_set(e, BE_E_UNAUTH, "no credentials");
		goto out;
	}
	len = strnlen(authorization, BASIC_HEADER_MAX + 1);
	if (len > BASIC_HEADER_MAX) {
		rc = be_err_set(e, BE_E_UNAUTH, "Authorization header longer than %d bytes",
				BASIC_HEADER_MAX);
		goto out;
	}
	/* RFC 7235 section 2.1: the scheme is case-insensitive, then 1*SP, then token68 */
	p = authorization;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "Basic", 5) != 0 || (p[5] != ' ' && p[5] != '\t')) {
		rc = be_err_set(e, BE_E_UNAUTH, "RFC 7617 section 2: not a Basic credential");
		goto out;
	}
	p += 5;
	while (*p == ' ' || *p == '\t')
		p++;
	tok = p;
	while (*p != '\0' && *p != ' ' && *p != '\t')
		p++;
	toklen = (size_t)(p - tok);
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0' || toklen == 0) {
		rc = be_err_set(e, BE_E_UNAUTH, "RFC 7617 section 2: malformed credentials");
		goto out;
	}
	cap = toklen / 4 * 3 + 1;
	dec = malloc(cap);
	if (dec == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (b64_exact(tok, toklen, dec, cap - 1, &declen) != 0) {
		rc = be_err_set(e, BE_E_UNAUTH, "RFC 7617 section 2: credentials are not base64");
		goto out;
	}
	dec[declen] = '\0';
	colon = memchr(dec, ':', declen);
	if (colon == NULL) {
		rc = be_err_set(e, BE_E_UNAUTH, "RFC 7617 section 2: no ':' in user-pass");
		goto out;
	}
	user = (char *)dec;
	*colon = '\0';
	pw = colon + 1;
	ulen = (size_t)(colon - user);
	pwlen = declen - ulen - 1;
	if (ulen == 0 || ulen > USER_MAX || pwlen > PASSWORD_MAX) {
		rc = be_err_set(e, BE_E_UNAUTH, "RFC 7617 section 2: user-id empty or too long");
		goto out;
	}
	if (has_ctl(user, ulen) || has_ctl(pw, pwlen)) {
		rc = be_err_set(e, BE_E_UNAUTH,
				"RFC 7617 section 2: control character in user-id or password");
		goto out;
	}
	rc = user_password(cfg, user, ulen, pw, pwlen, principal, e);
out:
	if (dec != NULL)
		be_memzero(dec, cap);
	free(dec);
	return rc;
}

int
gw_auth_password(const struct gw_config *cfg, const char *user, const char *password,
		 const struct gw_principal **principal, struct be_err *e)
{
	size_t ulen = strnlen(user, USER_MAX + 1), pwlen = strnlen(password, PASSWORD_MAX + 1);

	*principal = NULL;
	if (ulen == 0 || ulen > USER_MAX || pwlen > PASSWORD_MAX)
		return be_err_set(e, BE_E_UNAUTH, "user name empty or too long, or password too "
				  "long");
	if (has_ctl(user, ulen) || has_ctl(password, pwlen))
		return be_err_set(e, BE_E_UNAUTH, "control character in user name or password");
	return user_password(cfg, user, ulen, password, pwlen, principal, e);
}

/* ---------------------------------------------------------------- client certificates */

struct trust_subject {
	char *dn;				/* normalised RFC 4514 */
	const struct gw_principal *principal;
};

struct gw_client_trust {
	gnutls_x509_trust_list_t list;
	struct trust_subject *subjects;
	size_t n_subjects;
	struct be_ctx *be;		/* borrowed from the configuration, may be NULL */
};

void
gw_client_trust_free(struct gw_client_trust *t)
{
	size_t i;

	if (t == NULL)
		return;
	if (t->list != NULL)
		gnutls_x509_trust_list_deinit(t->list, 1);
	for (i = 0; i < t->n_subjects; i++)
		free(t->subjects[i].dn);
	free(t->subjects);
	free(t);
}

/* Copies a datum into a NUL-terminated malloc()ed string. */
static char *
datum_strdup(const gnutls_datum_t *d)
{
	char *s = malloc((size_t)d->size + 1);

	if (s == NULL)
		return NULL;
	memcpy(s, d->data, d->size);
	s[d->size] = '\0';
	return s;
}

/* Renders an RFC 4514 string the way GnuTLS renders a certificate's subject.  0 or -1. */
static int
dn_normalise(const char *in, char **out)
{
	gnutls_x509_dn_t dn = NULL;
	gnutls_datum_t d = { NULL, 0 };
	const char *err = NULL;
	int rc = -1;

	*out = NULL;
	if (in == NULL || in[0] == '\0')
		goto out;
	if (gnutls_x509_dn_init(&dn) < 0) {
		dn = NULL;
		goto out;
	}
	if (gnutls_x509_dn_set_str(dn, in, &err) < 0)
		goto out;
	if (gnutls_x509_dn_get_str2(dn, &d, 0) < 0 || d.data == NULL || d.size == 0)
		goto out;
	*out = datum_strdup(&d);
	if (*out == NULL)
		goto out;
	rc = 0;
out:
	gnutls_free(d.data);
	if (dn != NULL)
		gnutls_x509_dn_deinit(dn);
	return rc;
}

int
gw_client_trust_new(const struct gw_config *cfg, const char *ca_file,
		    struct gw_client_trust **out, struct be_err *e)
{
	struct gw_client_trust *t = NULL;
	const struct gw_principal *p;
	size_t i, j, n = 0;
	int rc, got;

	*out = NULL;
	if (ca_file == NULL) {
		rc = be_err_set(e, BE_E_CONFIG, "no client CA file");
		goto out;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	t->be = cfg->be;
	if (gnutls_x509_trust_list_init(&t->list, 0) < 0) {
		t->list = NULL;
		rc = be_err_set(e, BE_E_CRYPTO, "cannot create a trust list");
		goto out;
	}
	got = gnutls_x509_trust_list_add_trust_file(t->list, ca_file, NULL, GNUTLS_X509_FMT_PEM,
						    0, 0);
	if (got <= 0) {
		rc = be_err_set(e, BE_E_CONFIG, "%s: no PEM CA certificate could be read%s%s",
				ca_file, got < 0 ? ": " : "",
				got < 0 ? gnutls_strerror(got) : "");
		goto out;
	}
	for (i = 0; i < cfg->n_principals; i++)
		n += cfg->principals[i].n_cert_subjects;
	if (n > 0) {
		t->subjects = calloc(n, sizeof(*t->subjects));
		if (t->subjects == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
	}
	for (i = 0; i < cfg->n_principals; i++) {
		p = &cfg->principals[i];
		for (j = 0; j < p->n_cert_subjects; j++) {
			if (dn_normalise(p->cert_subjects[j], &t->subjects[t->n_subjects].dn) != 0) {
				rc = be_err_set(e, BE_E_CONFIG,
						"principals.%s.cert_subjects[%zu]: not an RFC 4514 "
						"distinguished name", p->name, j);
				goto out;
			}
			t->subjects[t->n_subjects].principal = p;
			t->n_subjects++;
		}
	}
	*out = t;
	t = NULL;
	rc = 0;
out:
	gw_client_trust_free(t);
	return rc;
}

/* Key usage and extended key usage of a client leaf (RFC 5280 4.2.1.3, 4.2.1.12). */
static int
leaf_usage_check(gnutls_x509_crt_t leaf, struct be_err *e)
{
	char oid[128];
	size_t size;
	unsigned ku = 0, crit = 0, i;
	bool any = false, client = false;
	int r;

	r = gnutls_x509_crt_get_key_usage(leaf, &ku, &crit);
	if (r >= 0 && (ku & GNUTLS_KEY_DIGITAL_SIGNATURE) == 0)
		return be_err_set(e, BE_E_UNAUTH,
				  "RFC 5280 4.2.1.3: client certificate key usage lacks "
				  "digitalSignature");
	if (r < 0 && r != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return be_err_set(e, BE_E_UNAUTH, "client certificate key usage: %s",
				  gnutls_strerror(r));
	for (i = 0;; i++) {
		size = sizeof(oid);
		r = gnutls_x509_crt_get_key_purpose_oid(leaf, i, oid, &size, &crit);
		if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (r < 0)
			return be_err_set(e, BE_E_UNAUTH,
					  "client certificate extended key usage: %s",
					  gnutls_strerror(r));
		any = true;
		if (strcmp(oid, GNUTLS_KP_TLS_WWW_CLIENT) == 0)
			client = true;
	}
	if (any && !client)
		return be_err_set(e, BE_E_UNAUTH,
				  "RFC 5280 4.2.1.12: client certificate extended key usage "
				  "lacks clientAuth");
	return 0;
}

int
gw_auth_client_cert(const struct gw_client_trust *t, const gnutls_datum_t *certs,
		    size_t n_certs, const struct gw_principal **principal, char **subject,
		    struct be_err *e)
{
	gnutls_x509_crt_t crts[GW_MAX_PEER_CERTS] = { NULL };
	gnutls_typed_vdata_st vdata = { GNUTLS_DT_KEY_PURPOSE_OID,
					(unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0 };
	gnutls_datum_t dn = { NULL, 0 }, why = { NULL, 0 };
	const struct gw_principal *found = NULL;
	size_t i, n = 0;
	unsigned status = 0;
	char *subj = NULL;
	int rc, r;

	if (principal != NULL)
		*principal = NULL;
	if (subject != NULL)
		*subject = NULL;
	if (t == NULL) {
		rc = be_err_set(e, BE_E_UNAUTH, "no client CA is configured");
		goto out;
	}
	if (certs == NULL || n_certs == 0) {
		rc = be_err_set(e, BE_E_UNAUTH, "no client certificate");
		goto out;
	}
	if (n_certs > GW_MAX_PEER_CERTS) {
		rc = be_err_set(e, BE_E_UNAUTH, "client certificate chain longer than %d",
				GW_MAX_PEER_CERTS);
		goto out;
	}
	for (n = 0; n < n_certs; n++) {
		if (gnutls_x509_crt_init(&crts[n]) < 0) {
			crts[n] = NULL;
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		r = gnutls_x509_crt_import(crts[n], &certs[n], GNUTLS_X509_FMT_DER);
		if (r < 0) {
			n++;
			rc = be_err_set(e, BE_E_UNAUTH, "client certificate %zu: %s", n - 1,
					gnutls_strerror(r));
			goto out;
		}
	}
	r = gnutls_x509_trust_list_verify_crt2(t->list, crts, (unsigned)n, &vdata, 1, 0,
					       &status, NULL);
	if (r < 0) {
		rc = be_err_set(e, BE_E_UNAUTH, "client certificate verification: %s",
				gnutls_strerror(r));
		goto out;
	}
	if (status != 0) {
		if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &why,
								 0) < 0)
			why.data = NULL;
		rc = be_err_set(e, BE_E_UNAUTH, "client certificate does not verify: %s",
				why.data != NULL ? (const char *)why.data : "unknown reason");
		goto out;
	}
	rc = leaf_usage_check(crts[0], e);
	if (rc != 0)
		goto out;
	/* A certificate certgate issued authenticates only while it is valid in the store
	 * (be_presented.h); another CA's stands on the chain check above. */
	if (t->be != NULL) {
		struct be_err pe = { 0, "" };

		rc = be_presented_check(t->be, NULL, &certs[0], time(NULL), NULL, NULL, &pe);
		if (rc == BE_E_NOTFOUND) {
			rc = 0;
		} else if (rc != 0) {
			rc = be_err_set(e, rc == BE_E_NOMEM || rc == BE_E_STORE ||
					rc == BE_E_UNAVAILABLE ? rc : BE_E_UNAUTH, "%s", pe.msg);
			goto out;
		}
	}
	r = gnutls_x509_crt_get_dn3(crts[0], &dn, 0);
	if (r < 0) {
		rc = be_err_set(e, BE_E_UNAUTH, "client certificate subject: %s",
				gnutls_strerror(r));
		goto out;
	}
	subj = datum_strdup(&dn);
	if (subj == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (principal != NULL) {
		for (i = 0; i < t->n_subjects && found == NULL; i++)
			if (strcmp(t->subjects[i].dn, subj) == 0)
				found = t->subjects[i].principal;
		if (found == NULL) {
			rc = be_err_set(e, BE_E_UNAUTH,
					"client certificate \"%s\" is bound to no principal", subj);
			goto out;
		}
		*principal = found;
	}
	if (subject != NULL) {
		*subject = subj;
		subj = NULL;
	}
	rc = 0;
out:
	free(subj);
	gnutls_free(dn.data);
	gnutls_free(why.data);
	for (i = 0; i < n; i++)
		if (crts[i] != NULL)
			gnutls_x509_crt_deinit(crts[i]);
	return rc;
}
