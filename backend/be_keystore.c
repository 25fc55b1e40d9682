/*
 * The key store: a file vault (AES-256-GCM sealed PKCS#8 under a master key file) and a
 * SQLite catalogue of keys, certificates, sign requests and approvers' decisions.
 *
 * One connection behind a mutex: reads and writes are short, every write is one
 * BEGIN IMMEDIATE ... COMMIT (WAL, synchronous=FULL), and slow work (key generation, the
 * password hash, signing) happens outside the lock.  The schema is versioned with
 * PRAGMA user_version and grows by the ordered steps in migrations[].
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "be_csr.h"
#include "be_hex.h"
#include "be_json.h"
#include "be_key.h"
#include "be_cert.h"
#include "be_keystore.h"

#define KS_BUSY_MS		5000
#define KS_MASTER_LEN		32
#define KS_NONCE_LEN		12
#define KS_TAG_LEN		16
#define KS_SEAL_VERSION		1
#define KS_SEALED_MAX		(64 * 1024)
#define KS_PW_ITER		100000u
#define KS_PW_SALT		16
#define KS_PW_HASH		32
#define KS_CERT_MAX		(64 * 1024)
#define KS_LIST_MAX		1000

static const char seal_context[] = "certgate keystore v1";
static const char check_plain[] = "certgate keystore master key check";

/* ---------------------------------------------------------------- attributes */

static const struct be_ks_attr_info attr_table[] = {
	{ BE_KS_ENCRYPT, "encrypt", false },
	{ BE_KS_DECRYPT, "decrypt", false },
	{ BE_KS_VERIFY, "verify", true },
	{ BE_KS_SIGN, "sign", true },
	{ BE_KS_WRAP, "wrap", false },
	{ BE_KS_UNWRAP, "unwrap", false },
	{ BE_KS_DERIVE, "derive", false },
	{ BE_KS_BIP32, "bip32", false },
	{ BE_KS_SLIP10, "slip10", false },
	{ BE_KS_EXTRACTABLE, "extractable", false },
	{ BE_KS_MODIFIABLE, "modifiable", true },
	{ BE_KS_DESTROYABLE, "destroyable", true },
	{ BE_KS_SENSITIVE, "sensitive", true },
	{ BE_KS_COPYABLE, "copyable", false },
};

const struct be_ks_attr_info *
be_ks_attrs(size_t *n)
{
	*n = sizeof(attr_table) / sizeof(attr_table[0]);
	return attr_table;
}

static const char *const status_names[] = {
	"PENDING", "APPROVED", "EXECUTED", "FAILED", "EXPIRED", "REJECTED", "CANCELLED",
};

const char *
be_ks_status_name(enum be_ks_status s)
{
	if ((unsigned)s >= sizeof(status_names) / sizeof(status_names[0]))
		return "UNKNOWN";
	return status_names[s];
}

static int
status_parse(const char *s, enum be_ks_status *out)
{
	size_t i;

	for (i = 0; s != NULL && i < sizeof(status_names) / sizeof(status_names[0]); i++) {
		if (strcmp(s, status_names[i]) == 0) {
			*out = (enum be_ks_status)i;
			return BE_OK;
		}
	}
	return BE_E_STORE;
}

static const char *
alg_name(enum be_key_alg a)
{
	switch (a) {
	case BE_KEY_RSA:
		return "RSA";
	case BE_KEY_EC:
		return "EC";
	case BE_KEY_ED25519:
		return "ED";
	default:
		return "NONE";
	}
}

static int
alg_parse(const char *s, enum be_key_alg *out)
{
	if (s != NULL && strcmp(s, "RSA") == 0)
		*out = BE_KEY_RSA;
	else if (s != NULL && strcmp(s, "EC") == 0)
		*out = BE_KEY_EC;
	else if (s != NULL && strcmp(s, "ED") == 0)
		*out = BE_KEY_ED25519;
	else
		return BE_E_STORE;
	return BE_OK;
}

/* ---------------------------------------------------------------- small helpers */

static int
random_uid(char out[33], struct be_err *e)
{
	unsigned char r[16];

	if (gnutls_rnd(GNUTLS_RND_NONCE, r, sizeof(r)) < 0)
		return be_err_set(e, BE_E_CRYPTO, "random number generator failed");
	be_hex_encode(r, sizeof(r), out);
	return BE_OK;
}

/* A version 4 UUID (RFC 9562 section 5.4) in its text form. */
static int
random_uuid(char out[BE_KS_ID_LEN], struct be_err *e)
{
	unsigned char r[16];
	char hex[33];

	if (gnutls_rnd(GNUTLS_RND_NONCE, r, sizeof(r)) < 0)
		return be_err_set(e, BE_E_CRYPTO, "random number generator failed");
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	be_hex_encode(r, sizeof(r), hex);
	snprintf(out, BE_KS_ID_LEN, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
		 hex + 16, hex + 20);
	return BE_OK;
}

static int
datum_dup(gnutls_datum_t *dst, const void *p, size_t n, struct be_err *e)
{
	dst->data = NULL;
	dst->size = 0;
	if (n == 0)
		return BE_OK;
	if ((dst->data = gnutls_malloc(n)) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	memcpy(dst->data, p, n);
	dst->size = (unsigned)n;
	return BE_OK;
}

int
be_ks_label_check(const char *label, struct be_err *e)
{
	size_t i, n;

	if (label == NULL || label[0] == '\0')
		return be_err_set(e, BE_E_MALFORMED, "label: must not be empty");
	n = strnlen(label, BE_KS_LABEL_MAX + 1);
	if (n > BE_KS_LABEL_MAX)
		return be_err_set(e, BE_E_MALFORMED, "label: longer than %d characters",
				  BE_KS_LABEL_MAX);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)label[i];

		if (c < 0x20 || c > 0x7e || strchr("/\\%?#\"", c) != NULL)
			return be_err_set(e, BE_E_MALFORMED, "label: character %zu is not allowed "
					  "(printable ASCII without / \\ %% ? # \")", i + 1);
	}
	return BE_OK;
}

/* ---------------------------------------------------------------- key passwords */

/* "pbkdf2-sha256$<iter>$<salt b64>$<hash b64>" of password. */
static int
pw_hash(const char *password, char **out, struct be_err *e)
{
	unsigned char salt[KS_PW_SALT], hash[KS_PW_HASH];
	gnutls_datum_t k = { (unsigned char *)(uintptr_t)password, (unsigned)strlen(password) };
	gnutls_datum_t s = { salt, sizeof(salt) };
	char *s64 = NULL, *h64 = NULL, *r = NULL;
	size_t cap;
	int rc = BE_OK;

	*out = NULL;
	if (gnutls_rnd(GNUTLS_RND_RANDOM, salt, sizeof(salt)) < 0 ||
	    gnutls_pbkdf2(GNUTLS_MAC_SHA256, &k, &s, KS_PW_ITER, hash, sizeof(hash)) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot hash the key password");
		goto out;
	}
	if (be_base64_encode(salt, sizeof(salt), 0, &s64) != BE_OK ||
	    be_base64_encode(hash, sizeof(hash), 0, &h64) != BE_OK) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	cap = strlen(s64) + strlen(h64) + 40;
	if ((r = malloc(cap)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	snprintf(r, cap, "pbkdf2-sha256$%u$%s$%s", KS_PW_ITER, s64, h64);
	*out = r;
out:
	be_memzero(hash, sizeof(hash));
	free(s64);
	free(h64);
	return rc;
}

/* True when password matches the stored hash (strictly parsed; anything odd never
 * matches). */
static bool
pw_verify(const char *stored, const char *password)
{
	const char *p = stored, *salt, *hash;
	unsigned char *sd = NULL, *hd = NULL, got[KS_PW_HASH];
	size_t sl = 0, hl = 0;
	unsigned long iter = 0;
	gnutls_datum_t k, s;
	bool ok = false;

	if (stored == NULL || password == NULL || strncmp(p, "pbkdf2-sha256$", 14) != 0)
		return false;
	p += 14;
	while (*p >= '0' && *p <= '9' && iter < 100000000ul)
		iter = iter * 10 + (unsigned long)(*p++ - '0');
	if (*p != '$' || iter < 1000 || iter > 10000000ul)
		return false;
	salt = p + 1;
	if ((hash = strchr(salt, '$')) == NULL)
		return false;
	if (be_base64_decode(salt, (size_t)(hash - salt), &sd, &sl, NULL) != BE_OK ||
	    be_base64_decode(hash + 1, strlen(hash + 1), &hd, &hl, NULL) != BE_OK ||
	    sl < 8 || hl != KS_PW_HASH)
		goto out;
	k.data = (unsigned char *)(uintptr_t)password;
	k.size = (unsigned)strlen(password);
	s.data = sd;
	s.size = (unsigned)sl;
	if (gnutls_pbkdf2(GNUTLS_MAC_SHA256, &k, &s, (unsigned)iter, got, sizeof(got)) < 0)
		goto out;
	ok = be_ct_equal(got, sizeof(got), hd, hl);
out:
	be_memzero(got, sizeof(got));
	free(sd);
	free(hd);
	return ok;
}

/* ---------------------------------------------------------------- the file vault */

struct file_vault {
	unsigned char mk[KS_MASTER_LEN];
};

static int
seal_aad(const char *label, const char *uid, unsigned char **aad, size_t *len,
	 struct be_err *e)
{
	size_t a = sizeof(seal_context), b = strlen(uid) + 1, c = strlen(label);

	if ((*aad = malloc(a + b + c)) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	memcpy(*aad, seal_context, a);
	memcpy(*aad + a, uid, b);
	memcpy(*aad + a + b, label, c);
	*len = a + b + c;
	return BE_OK;
}

/* blob = version || nonce || AES-256-GCM(mk, nonce, aad, plain) || tag */
static int
seal(const struct file_vault *fv, const char *label, const char *uid,
     const gnutls_datum_t *plain, gnutls_datum_t *blob, struct be_err *e)
{
	gnutls_aead_cipher_hd_t h = NULL;
	gnutls_datum_t key = { (unsigned char *)(uintptr_t)fv->mk, KS_MASTER_LEN };
	unsigned char *aad = NULL, *b = NULL;
	size_t aadlen = 0, clen, blen = 1 + KS_NONCE_LEN + plain->size + KS_TAG_LEN;
	int rc = BE_OK;

	blob->data = NULL;
	blob->size = 0;
	if ((rc = seal_aad(label, uid, &aad, &aadlen, e)) != BE_OK)
		goto out;
	if ((b = gnutls_malloc(blen)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	b[0] = KS_SEAL_VERSION;
	clen = blen - 1 - KS_NONCE_LEN;
	if (gnutls_rnd(GNUTLS_RND_NONCE, b + 1, KS_NONCE_LEN) < 0 ||
	    gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_256_GCM, &key) < 0) {
		h = NULL;
		rc = be_err_set(e, BE_E_CRYPTO, "cannot seal the key");
		goto out;
	}
	if (gnutls_aead_cipher_encrypt(h, b + 1, KS_NONCE_LEN, aad, aadlen, KS_TAG_LEN,
				       plain->data, plain->size, b + 1 + KS_NONCE_LEN,
				       &clen) < 0 || clen != plain->size + KS_TAG_LEN) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot seal the key");
		goto out;
	}
	blob->data = b;
	blob->size = (unsigned)blen;
	b = NULL;
out:
	if (h != NULL)
		gnutls_aead_cipher_deinit(h);
	gnutls_free(b);
	free(aad);
	return rc;
}

static int
unseal(const struct file_vault *fv, const char *label, const char *uid,
       const gnutls_datum_t *blob, gnutls_datum_t *plain, struct be_err *e)
{
	gnutls_aead_cipher_hd_t h = NULL;
	gnutls_datum_t key = { (unsigned char *)(uintptr_t)fv->mk, KS_MASTER_LEN };
	unsigned char *aad = NULL, *p = NULL;
	size_t aadlen = 0, plen = 0;
	int rc = BE_OK;

	plain->data = NULL;
	plain->size = 0;
	if (blob->size < 1 + KS_NONCE_LEN + KS_TAG_LEN + 1 || blob->size > KS_SEALED_MAX ||
	    blob->data[0] != KS_SEAL_VERSION) {
		rc = be_err_set(e, BE_E_STORE, "key %s: sealed material is damaged", label);
		goto out;
	}
	if ((rc = seal_aad(label, uid, &aad, &aadlen, e)) != BE_OK)
		goto out;
	plen = blob->size - 1 - KS_NONCE_LEN - KS_TAG_LEN;
	if ((p = gnutls_malloc(plen + KS_TAG_LEN)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	plen += KS_TAG_LEN;
	if (gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_256_GCM, &key) < 0) {
		h = NULL;
		rc = be_err_set(e, BE_E_CRYPTO, "cannot unseal the key");
		goto out;
	}
	if (gnutls_aead_cipher_decrypt(h, blob->data + 1, KS_NONCE_LEN, aad, aadlen, KS_TAG_LEN,
				       blob->data + 1 + KS_NONCE_LEN,
				       blob->size - 1 - KS_NONCE_LEN, p, &plen) < 0) {
		rc = be_err_set(e, BE_E_STORE, "key %s: sealed material does not open under the "
				"master key", label);
		goto out;
	}
	plain->data = p;
	plain->size = (unsigned)plen;
	p = NULL;
out:
	if (h != NULL)
		gnutls_aead_cipher_deinit(h);
	if (p != NULL) {
		be_memzero(p, plen);
		gnutls_free(p);
	}
	free(aad);
	return rc;
}

static int
fv_generate(void *impl, const char *label, const char *uid, const struct be_keyspec *spec,
	    bool extractable, gnutls_datum_t *handle, gnutls_pubkey_t *pub, struct be_err *e)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_datum_t der = { NULL, 0 };
	int rc;

	(void)extractable;
	*pub = NULL;
	if ((rc = be_key_generate(spec, &key, e)) != BE_OK ||
	    (rc = be_key_export(key, BE_KEY_PKCS8, false, &der, e)) != BE_OK ||
	    (rc = seal(impl, label, uid, &der, handle, e)) != BE_OK ||
	    (rc = be_key_pubkey(key, pub, e)) != BE_OK)
		goto out;
out:
	if (rc != BE_OK)
		be_datum_free(handle);
	be_datum_wipe(&der);
	if (key != NULL)
		gnutls_x509_privkey_deinit(key);
	return rc;
}

static int
fv_load(void *impl, const char *label, const char *uid, const gnutls_datum_t *handle,
	gnutls_privkey_t *out, struct be_err *e)
{
	gnutls_datum_t der = { NULL, 0 };
	gnutls_privkey_t k = NULL;
	int rc;

	*out = NULL;
	if ((rc = unseal(impl, label, uid, handle, &der, e)) != BE_OK)
		goto out;
	if (gnutls_privkey_init(&k) < 0) {
		k = NULL;
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (gnutls_privkey_import_x509_raw(k, &der, GNUTLS_X509_FMT_DER, NULL, 0) < 0) {
		rc = be_err_set(e, BE_E_STORE, "key %s: sealed material is not a key", label);
		goto out;
	}
	*out = k;
	k = NULL;
out:
	if (k != NULL)
		gnutls_privkey_deinit(k);
	be_datum_wipe(&der);
	return rc;
}

static int
fv_export(void *impl, const char *label, const char *uid, const gnutls_datum_t *handle,
	  gnutls_x509_privkey_t *out, struct be_err *e)
{
	gnutls_datum_t der = { NULL, 0 };
	gnutls_x509_privkey_t k = NULL;
	int rc;

	*out = NULL;
	if ((rc = unseal(impl, label, uid, handle, &der, e)) != BE_OK)
		goto out;
	if (gnutls_x509_privkey_init(&k) < 0) {
		k = NULL;
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (gnutls_x509_privkey_import2(k, &der, GNUTLS_X509_FMT_DER, NULL, 0) < 0) {
		rc = be_err_set(e, BE_E_STORE, "key %s: sealed material is not a key", label);
		goto out;
	}
	*out = k;
	k = NULL;
out:
	if (k != NULL)
		gnutls_x509_privkey_deinit(k);
	be_datum_wipe(&der);
	return rc;
}

static int
fv_destroy(void *impl, const char *label, const char *uid, const gnutls_datum_t *handle,
	   struct be_err *e)
{
	(void)impl;
	(void)label;
	(void)uid;
	(void)handle;
	(void)e;
	return BE_OK;	/* the sealed blob is the key; the catalogue overwrites it */
}

static void
fv_free(void *impl)
{
	struct file_vault *fv = impl;

	if (fv == NULL)
		return;
	be_memzero(fv->mk, sizeof(fv->mk));
	free(fv);
}

static const struct be_vault_ops file_vault_ops = {
	.name = "file",
	.generate = fv_generate,
	.load = fv_load,
	.export_key = fv_export,
	.destroy = fv_destroy,
	.free = fv_free,
};

static int
read_exact(int fd, unsigned char *buf, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* Reads the master key; creates it (0600, O_EXCL) when absent and may_create. */
static int
master_key_load(const char *path, bool may_create, unsigned char mk[KS_MASTER_LEN],
		struct be_err *e)
{
	struct stat st;
	unsigned char extra;
	int fd = -1, rc = BE_OK, tries;

	for (tries = 0; tries < 2; tries++) {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0 || errno != ENOENT)
			break;
		if (!may_create) {
			rc = be_err_set(e, BE_E_CONFIG, "%s: the key store's master key is missing; "
					"the keys it holds cannot be opened", path);
			goto out;
		}
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 && errno == EEXIST)
			continue;	/* another process made it first */
		if (fd < 0) {
			rc = be_err_set(e, BE_E_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (gnutls_rnd(GNUTLS_RND_KEY, mk, KS_MASTER_LEN) < 0) {
			rc = be_err_set(e, BE_E_CRYPTO, "random number generator failed");
			unlink(path);
			goto out;
		}
		if (write(fd, mk, KS_MASTER_LEN) != KS_MASTER_LEN || fsync(fd) != 0) {
			rc = be_err_set(e, BE_E_IO, "%s: %s", path, strerror(errno));
			unlink(path);
			goto out;
		}
		goto out;
	}
	if (fd < 0) {
		rc = be_err_set(e, BE_E_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = be_err_set(e, BE_E_CONFIG, "%s: not a regular file", path);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		rc = be_err_set(e, BE_E_CONFIG, "%s: the master key is readable by group or others "
				"(mode %03o; chmod 600)", path, (unsigned)(st.st_mode & 0777));
		goto out;
	}
	if (st.st_size != KS_MASTER_LEN || read_exact(fd, mk, KS_MASTER_LEN) != 0 ||
	    read(fd, &extra, 1) != 0) {
		rc = be_err_set(e, BE_E_CONFIG, "%s: not a master key (%d bytes expected)", path,
				KS_MASTER_LEN);
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	if (rc != BE_OK)
		be_memzero(mk, KS_MASTER_LEN);
	return rc;
}

/* ---------------------------------------------------------------- the catalogue */

struct be_keystore {
	sqlite3 *db;
	pthread_mutex_t mu;
	bool mu_ready;
	const struct be_vault_ops *vault;
	void *vault_impl;
};

struct migration {
	int version;
	const char *sql;
};

static const struct migration migrations[] = {
	{ 1,
	  "CREATE TABLE meta ("
	  " name TEXT PRIMARY KEY,"
	  " value BLOB NOT NULL"
	  ");"
	  "CREATE TABLE keys ("
	  " id INTEGER PRIMARY KEY,"
	  " uid TEXT NOT NULL UNIQUE,"
	  " label TEXT NOT NULL UNIQUE,"
	  " algorithm TEXT NOT NULL CHECK (algorithm IN ('RSA', 'EC', 'ED')),"
	  " bits INTEGER NOT NULL,"
	  " attributes INTEGER NOT NULL,"
	  " password TEXT,"
	  " policy TEXT,"
	  " public_key BLOB NOT NULL,"
	  " vault TEXT NOT NULL,"
	  " handle BLOB NOT NULL,"
	  " certificate BLOB,"
	  " created_at INTEGER NOT NULL,"
	  " updated_at INTEGER NOT NULL"
	  ");"
	  "CREATE TABLE requests ("
	  " id TEXT PRIMARY KEY,"
	  " key_label TEXT NOT NULL,"
	  " key_uid TEXT NOT NULL,"
	  " principal TEXT,"
	  " status TEXT NOT NULL CHECK (status IN ('PENDING', 'APPROVED', 'EXECUTED', 'FAILED',"
	  "  'EXPIRED', 'REJECTED', 'CANCELLED')),"
	  " created_at INTEGER NOT NULL,"
	  " updated_at INTEGER NOT NULL,"
	  " ready_at INTEGER NOT NULL DEFAULT 0,"
	  " executed_at INTEGER NOT NULL DEFAULT 0,"
	  " policy TEXT,"
	  " data TEXT NOT NULL,"
	  " body TEXT NOT NULL,"
	  " serial TEXT NOT NULL,"
	  " result TEXT,"
	  " reason TEXT,"
	  " CHECK ((status = 'EXECUTED') = (result IS NOT NULL))"
	  ");"
	  "CREATE INDEX requests_status ON requests (status, created_at);"
	  "CREATE INDEX requests_key ON requests (key_label, status);"
	  "CREATE TABLE decisions ("
	  " seq INTEGER PRIMARY KEY,"
	  " request_id TEXT NOT NULL REFERENCES requests (id),"
	  " approver TEXT NOT NULL,"
	  " approve INTEGER NOT NULL CHECK (approve IN (0, 1)),"
	  " at INTEGER NOT NULL,"
	  " UNIQUE (request_id, approver)"
	  ");" },
};

#define NMIGRATIONS	(sizeof(migrations) / sizeof(migrations[0]))
#define SCHEMA_VERSION	(migrations[NMIGRATIONS - 1].version)

static int
db_fail(struct be_keystore *ks, int r, const char *doing, struct be_err *e)
{
	int base = r & 0xff;

	if (base == SQLITE_BUSY || base == SQLITE_LOCKED)
		return be_err_set(e, BE_E_UNAVAILABLE, "the key store is busy; could not %s",
				  doing);
	if (base == SQLITE_NOMEM)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	/* As the certificate store (be_store.c db_fail): try again later, nothing was kept. */
	if (base == SQLITE_FULL || (base == SQLITE_IOERR && ks->db != NULL &&
				    sqlite3_system_errno(ks->db) == ENOSPC))
		return be_err_set(e, BE_E_UNAVAILABLE, "the key store could not %s: disk full",
				  doing);
	if (base == SQLITE_IOERR)
		return be_err_set(e, BE_E_UNAVAILABLE, "the key store could not %s: I/O error "
				  "(%s)", doing, ks->db != NULL ? sqlite3_errmsg(ks->db) : "");
	return be_err_set(e, BE_E_STORE, "the key store could not %s: %s", doing,
			  ks->db != NULL ? sqlite3_errmsg(ks->db) : sqlite3_errstr(r));
}

static int
exec_sql(struct be_keystore *ks, const char *sql, const char *doing, struct be_err *e)
{
	int r = sqlite3_exec(ks->db, sql, NULL, NULL, NULL);

	return r == SQLITE_OK ? BE_OK : db_fail(ks, r, doing, e);
}

static int
prep(struct be_keystore *ks, const char *sql, sqlite3_stmt **st, struct be_err *e)
{
	int r = sqlite3_prepare_v2(ks->db, sql, -1, st, NULL);

	if (r != SQLITE_OK) {
		*st = NULL;
		return db_fail(ks, r, "prepare a statement", e);
	}
	return BE_OK;
}

static int
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return s != NULL ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) :
	       sqlite3_bind_null(st, i);
}

static int
bind_blob(sqlite3_stmt *st, int i, const gnutls_datum_t *d)
{
	return d != NULL && d->size > 0 ?
	       sqlite3_bind_blob(st, i, d->data, (int)d->size, SQLITE_TRANSIENT) :
	       sqlite3_bind_null(st, i);
}

static char *
col_strdup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t != NULL ? strdup((const char *)t) : NULL;
}

/* A nullable text column: *out stays NULL for NULL; -1 when out of memory. */
static int
col_opt(sqlite3_stmt *st, int i, char **out)
{
	*out = NULL;
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return 0;
	return (*out = col_strdup(st, i)) != NULL ? 0 : -1;
}

static int
col_datum(sqlite3_stmt *st, int i, gnutls_datum_t *d, struct be_err *e)
{
	const void *p = sqlite3_column_blob(st, i);
	int n = sqlite3_column_bytes(st, i);

	return datum_dup(d, p, p != NULL && n > 0 ? (size_t)n : 0, e);
}

static void
rollback(struct be_keystore *ks)
{
	if (!sqlite3_get_autocommit(ks->db))
		sqlite3_exec(ks->db, "ROLLBACK", NULL, NULL, NULL);
}

static int
migrate(struct be_keystore *ks, struct be_err *e)
{
	sqlite3_stmt *st = NULL;
	char sql[64];
	int64_t v = 0;
	size_t i;
	int rc = BE_OK;

	for (;;) {
		if ((rc = exec_sql(ks, "BEGIN IMMEDIATE", "begin a schema migration", e)) != BE_OK)
			goto out;
		if ((rc = prep(ks, "PRAGMA user_version", &st, e)) != BE_OK)
			goto out;
		if (sqlite3_step(st) != SQLITE_ROW) {
			rc = db_fail(ks, sqlite3_errcode(ks->db), "read its schema version", e);
			goto out;
		}
		v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		st = NULL;
		if (v > SCHEMA_VERSION) {
			rc = be_err_set(e, BE_E_STORE, "key store schema version %" PRId64 " is newer "
					"than this certgate (%d)", v, SCHEMA_VERSION);
			goto out;
		}
		for (i = 0; i < NMIGRATIONS && migrations[i].version <= v; i++)
			;
		if (i == NMIGRATIONS)
			break;
		if ((rc = exec_sql(ks, migrations[i].sql, "migrate its schema", e)) != BE_OK)
			goto out;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", migrations[i].version);
		if ((rc = exec_sql(ks, sql, "record its schema version", e)) != BE_OK ||
		    (rc = exec_sql(ks, "COMMIT", "commit a schema migration", e)) != BE_OK)
			goto out;
	}
	rc = exec_sql(ks, "COMMIT", "end a schema check", e);
out:
	sqlite3_finalize(st);
	if (rc != BE_OK)
		rollback(ks);
	return rc;
}

/* Whether the catalogue holds a master key check or any key (then the key must exist). */
static int
catalogue_used(struct be_keystore *ks, bool *used, gnutls_datum_t *check, struct be_err *e)
{
	sqlite3_stmt *st = NULL;
	int rc, r;

	*used = false;
	if ((rc = prep(ks, "SELECT value FROM meta WHERE name = 'check'", &st, e)) != BE_OK)
		goto out;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		*used = true;
		rc = col_datum(st, 0, check, e);
		goto out;
	}
	if (r != SQLITE_DONE) {
		rc = db_fail(ks, r, "read its master key check", e);
		goto out;
	}
	sqlite3_finalize(st);
	if ((rc = prep(ks, "SELECT count(*) FROM keys", &st, e)) != BE_OK)
		goto out;
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = db_fail(ks, sqlite3_errcode(ks->db), "count its keys", e);
		goto out;
	}
	*used = sqlite3_column_int64(st, 0) > 0;
out:
	sqlite3_finalize(st);
	return rc;
}

static int
master_check(struct be_keystore *ks, const char *mk_path, const gnutls_datum_t *check,
	     struct be_err *e)
{
	gnutls_datum_t plain = { NULL, 0 }, blob = { NULL, 0 };
	const gnutls_datum_t cp = { (unsigned char *)(uintptr_t)check_plain, sizeof(check_plain) };
	sqlite3_stmt *st = NULL;
	int rc = BE_OK, r;

	if (check->size > 0) {
		if (unseal(ks->vault_impl, "check", "check", check, &plain, NULL) != BE_OK ||
		    !be_ct_equal(plain.data, plain.size, check_plain, sizeof(check_plain)))
			rc = be_err_set(e, BE_E_CONFIG, "%s: this master key does not open the key "
					"store", mk_path);
		goto out;
	}
	if ((rc = seal(ks->vault_impl, "check", "check", &cp, &blob, e)) != BE_OK ||
	    (rc = prep(ks, "INSERT OR IGNORE INTO meta (name, value) VALUES ('check', ?1)", &st,
		       e)) != BE_OK)
		goto out;
	bind_blob(st, 1, &blob);
	if ((r = sqlite3_step(st)) != SQLITE_DONE)
		rc = db_fail(ks, r, "record its master key check", e);
out:
	sqlite3_finalize(st);
	be_datum_wipe(&plain);
	be_datum_free(&blob);
	return rc;
}

static int
file_precreate(const char *path, struct be_err *e)
{
	/* O_EXCL: see be_store.c — closing a second descriptor of a file SQLite holds open
	 * would drop the process's POSIX locks on it. */
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0 && errno == EEXIST)
		return BE_OK;
	if (fd < 0)
		return be_err_set(e, BE_E_IO, "the key store %s could not be created: %s", path,
				  strerror(errno));
	close(fd);
	return BE_OK;
}

/* The catalogue alone: file, connection options, schema. */
static int
catalogue_open(const char *db_path, struct be_keystore **out, struct be_err *e)
{
	struct be_keystore *ks = NULL;
	char mode[16] = "";
	sqlite3_stmt *st = NULL;
	int r, rc = BE_OK;

	*out = NULL;
	if (sqlite3_threadsafe() == 0) {
		rc = be_err_set(e, BE_E_STORE, "SQLite was built without thread support");
		goto out;
	}
	if ((ks = calloc(1, sizeof(*ks))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (pthread_mutex_init(&ks->mu, NULL) != 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	ks->mu_ready = true;
	if ((rc = file_precreate(db_path, e)) != BE_OK)
		goto out;
	r = sqlite3_open_v2(db_path, &ks->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE, NULL);
	if (r != SQLITE_OK) {
		rc = be_err_set(e, BE_E_STORE, "the key store %s could not be opened: %s", db_path,
				ks->db != NULL ? sqlite3_errmsg(ks->db) : sqlite3_errstr(r));
		goto out;
	}
	sqlite3_extended_result_codes(ks->db, 1);
	sqlite3_busy_timeout(ks->db, KS_BUSY_MS);
	sqlite3_db_config(ks->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	sqlite3_db_config(ks->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
	if ((rc = exec_sql(ks, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;"
			   " PRAGMA secure_delete = ON;", "set its connection options", e)) != BE_OK)
		goto out;
	if ((rc = prep(ks, "PRAGMA journal_mode = WAL", &st, e)) != BE_OK)
		goto out;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
		snprintf(mode, sizeof(mode), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	st = NULL;
	if (strcmp(mode, "wal") != 0) {
		rc = be_err_set(e, BE_E_STORE, "the key store %s could not switch to write-ahead "
				"logging", db_path);
		goto out;
	}
	if ((rc = migrate(ks, e)) != BE_OK)
		goto out;
	*out = ks;
	ks = NULL;
out:
	sqlite3_finalize(st);
	be_keystore_close(ks);
	return rc;
}

int
be_keystore_open(const char *db_path, const char *master_key_path, struct be_keystore **out,
		 struct be_err *e)
{
	struct be_keystore *ks = NULL;
	struct file_vault *fv = NULL;
	gnutls_datum_t check = { NULL, 0 };
	bool used = false;
	int rc;

	*out = NULL;
	if ((fv = calloc(1, sizeof(*fv))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = catalogue_open(db_path, &ks, e)) != BE_OK ||
	    (rc = catalogue_used(ks, &used, &check, e)) != BE_OK ||
	    (rc = master_key_load(master_key_path, !used, fv->mk, e)) != BE_OK)
		goto out;
	ks->vault = &file_vault_ops;
	ks->vault_impl = fv;
	fv = NULL;
	if ((rc = master_check(ks, master_key_path, &check, e)) != BE_OK)
		goto out;
	*out = ks;
	ks = NULL;
out:
	be_datum_free(&check);
	fv_free(fv);
	be_keystore_close(ks);
	return rc;
}

int
be_keystore_open_vault(const char *db_path, const struct be_vault_ops *ops, void *impl,
		       struct be_keystore **out, struct be_err *e)
{
	struct be_keystore *ks = NULL;
	int rc;

	*out = NULL;
	if ((rc = catalogue_open(db_path, &ks, e)) != BE_OK) {
		ops->free(impl);
		goto out;
	}
	ks->vault = ops;
	ks->vault_impl = impl;
	*out = ks;
out:
	return rc;
}

void
be_keystore_close(struct be_keystore *ks)
{
	if (ks == NULL)
		return;
	if (ks->vault != NULL)
		ks->vault->free(ks->vault_impl);
	sqlite3_close(ks->db);
	if (ks->mu_ready)
		pthread_mutex_destroy(&ks->mu);
	free(ks);
}

/* ---------------------------------------------------------------- keys */

void
be_ks_key_free(struct be_ks_key *k)
{
	if (k == NULL)
		return;
	free(k->label);
	free(k->policy);
	be_datum_free(&k->spki);
	be_datum_free(&k->cert);
	free(k);
}

#define KEY_COLS "id, uid, label, algorithm, bits, attributes, password IS NOT NULL, policy," \
		 " public_key, certificate, created_at, updated_at"

static int
key_row(sqlite3_stmt *st, struct be_ks_key **out, struct be_err *e)
{
	struct be_ks_key *k = NULL;
	const unsigned char *uid;
	int rc = BE_OK;

	*out = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	k->id = sqlite3_column_int64(st, 0);
	uid = sqlite3_column_text(st, 1);
	snprintf(k->uid, sizeof(k->uid), "%s", uid != NULL ? (const char *)uid : "");
	if ((k->label = col_strdup(st, 2)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (alg_parse((const char *)sqlite3_column_text(st, 3), &k->spec.alg) != BE_OK) {
		rc = be_err_set(e, BE_E_STORE, "key %s: unknown algorithm in the key store",
				k->label);
		goto out;
	}
	k->spec.bits = (unsigned)sqlite3_column_int64(st, 4);
	k->attrs = (unsigned)sqlite3_column_int64(st, 5);
	k->has_password = sqlite3_column_int(st, 6) != 0;
	if (col_opt(st, 7, &k->policy) != 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = col_datum(st, 8, &k->spki, e)) != BE_OK ||
	    (rc = col_datum(st, 9, &k->cert, e)) != BE_OK)
		goto out;
	k->created_at = sqlite3_column_int64(st, 10);
	k->updated_at = sqlite3_column_int64(st, 11);
	*out = k;
	k = NULL;
out:
	be_ks_key_free(k);
	return rc;
}

/* Under ks->mu. */
static int
key_get_locked(struct be_keystore *ks, const char *label, struct be_ks_key **out,
	       struct be_err *e)
{
	sqlite3_stmt *st = NULL;
	int rc, r;

	*out = NULL;
	if ((rc = prep(ks, "SELECT " KEY_COLS " FROM keys WHERE label = ?1", &st, e)) != BE_OK)
		goto out;
	bind_text(st, 1, label);
	r = sqlite3_step(st);
	if (r == SQLITE_DONE) {
		rc = be_err_set(e, BE_E_NOTFOUND, "key %s does not exist", label);
		goto out;
	}
	if (r != SQLITE_ROW) {
		rc = db_fail(ks, r, "read a key", e);
		goto out;
	}
	rc = key_row(st, out, e);
out:
	sqlite3_finalize(st);
	return rc;
}

int
be_keystore_key_get(struct be_keystore *ks, const char *label, struct be_ks_key **out,
		    struct be_err *e)
{
	int rc;

	pthread_mutex_lock(&ks->mu);
	rc = key_get_locked(ks, label, out, e);
	pthread_mutex_unlock(&ks->mu);
	return rc;
}

/* The vault handle and the password hash of key id (uid must match). */
static int
key_secret(struct be_keystore *ks, const struct be_ks_key *k, gnutls_datum_t *handle,
	   char **pw, struct be_err *e)
{
	sqlite3_stmt *st = NULL;
	int rc, r;

	if (handle != NULL) {
		handle->data = NULL;
		handle->size = 0;
	}
	if (pw != NULL)
		*pw = NULL;
	pthread_mutex_lock(&ks->mu);
	if ((rc = prep(ks, "SELECT handle, password, vault FROM keys WHERE id = ?1 AND uid = ?2",
		       &st, e)) != BE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, k->id);
	bind_text(st, 2, k->uid);
	r = sqlite3_step(st);
	if (r == SQLITE_DONE) {
		rc = be_err_set(e, BE_E_NOTFOUND, "key %s no longer exists", k->label);
		goto out;
	}
	if (r != SQLITE_ROW) {
		rc = db_fail(ks, r, "read a key", e);
		goto out;
	}
	if (sqlite3_column_text(st, 2) == NULL ||
	    strcmp((const char *)sqlite3_column_text(st, 2), ks->vault->name) != 0) {
		rc = be_err_set(e, BE_E_CONFIG, "key %s lives in another vault than \"%s\"",
				k->label, ks->vault->name);
		goto out;
	}
	if (handle != NULL && (rc = col_datum(st, 0, handle, e)) != BE_OK)
		goto out;
	if (pw != NULL && sqlite3_column_type(st, 1) != SQLITE_NULL &&
	    (*pw = col_strdup(st, 1)) == NULL)
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ks->mu);
	return rc;
}

int
be_keystore_key_list(struct be_keystore *ks, char ***labels, size_t *n, struct be_err *e)
{
	sqlite3_stmt *st = NULL;
	char **v = NULL, **nv;
	size_t cnt = 0;
	int rc, r;

	*labels = NULL;
	*n = 0;
	pthread_mutex_lock(&ks->mu);
	if ((rc = prep(ks, "SELECT label FROM keys ORDER BY id", &st, e)) != BE_OK)
		goto out;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if ((nv = realloc(v, (cnt + 1) * sizeof(*v))) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		v = nv;
		if ((v[cnt] = col_strdup(st, 0)) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		cnt++;
	}
	if (r != SQLITE_DONE) {
		rc = db_fail(ks, r, "list its keys", e);
		goto out;
	}
	*labels = v;
	*n = cnt;
	v = NULL;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ks->mu);
	be_strv_free(v, cnt);
	return rc;
}

int
be_keystore_key_create(struct be_keystore *ks, const struct be_ks_new_key *nk,
		       struct be_ks_key **out, struct be_err *e)
{
	struct be_ks_key *probe = NULL;
	gnutls_datum_t handle = { NULL, 0 }, spki = { NULL, 0 };
	gnutls_pubkey_t pub = NULL;
	sqlite3_stmt *st = NULL;
	char uid[33], *pw = NULL;
	time_t now = time(NULL);
	bool locked = false, generated = false;
	int rc, r;

	if (out != NULL)
		*out = NULL;
	if ((rc = be_ks_label_check(nk->label, e)) != BE_OK)
		goto out;
	if (nk->password != NULL && strlen(nk->password) > BE_KS_PASSWORD_MAX) {
		rc = be_err_set(e, BE_E_MALFORMED, "password: longer than %d characters",
				BE_KS_PASSWORD_MAX);
		goto out;
	}
	if (nk->policy != NULL && (nk->attrs & BE_KS_EXTRACTABLE)) {
		rc = be_err_set(e, BE_E_POLICY, "key %s: a key with an approval policy cannot be "
				"extractable", nk->label);
		goto out;
	}
	rc = be_keystore_key_get(ks, nk->label, &probe, NULL);
	if (rc == BE_OK) {
		rc = be_err_set(e, BE_E_CONFLICT, "key %s exists already", nk->label);
		goto out;
	}
	if (rc != BE_E_NOTFOUND) {
		rc = be_err_set(e, rc, "the key store could not be read");
		goto out;
	}
	if ((rc = random_uid(uid, e)) != BE_OK)
		goto out;
	if (nk->password != NULL && nk->password[0] != '\0' &&
	    (rc = pw_hash(nk->password, &pw, e)) != BE_OK)
		goto out;
	if ((rc = ks->vault->generate(ks->vault_impl, nk->label, uid, &nk->spec,
				      (nk->attrs & BE_KS_EXTRACTABLE) != 0, &handle, &pub, e)) != BE_OK)
		goto out;
	generated = true;
	if (gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot encode the public key");
		goto out;
	}
	pthread_mutex_lock(&ks->mu);
	locked = true;
	if ((rc = prep(ks, "INSERT INTO keys (uid, label, algorithm, bits, attributes, password,"
		       " policy, public_key, vault, handle, created_at, updated_at)"
		       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)", &st, e)) != BE_OK)
		goto out;
	bind_text(st, 1, uid);
	bind_text(st, 2, nk->label);
	bind_text(st, 3, alg_name(nk->spec.alg));
	sqlite3_bind_int64(st, 4, nk->spec.bits);
	sqlite3_bind_int64(st, 5, nk->attrs);
	bind_text(st, 6, pw);
	bind_text(st, 7, nk->policy);
	bind_blob(st, 8, &spki);
	bind_text(st, 9, ks->vault->name);
	bind_blob(st, 10, &handle);
	sqlite3_bind_int64(st, 11, (int64_t)now);
	r = sqlite3_step(st);
	if ((r & 0xff) == SQLITE_CONSTRAINT) {
		rc = be_err_set(e, BE_E_CONFLICT, "key %s exists already", nk->label);
		goto out;
	}
	if (r != SQLITE_DONE) {
		rc = db_fail(ks, r, "record the key", e);
		goto out;
	}
	generated = false;
	if (out != NULL)
		rc = key_get_locked(ks, nk->label, out, e);
out:
	sqlite3_finalize(st);
	if (locked)
		pthread_mutex_unlock(&ks->mu);
	if (generated)
		(void)ks->vault->destroy(ks->vault_impl, nk->label, uid, &handle, NULL);
	be_ks_key_free(probe);
	be_datum_wipe(&handle);
	be_datum_free(&spki);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	free(pw);
	return rc;
}

int
be_keystore_key_auth(struct be_keystore *ks, const struct be_ks_key *k, const char *password,
		     struct be_err *e)
{
	char *pw = NULL;
	int rc;

	if (!k->has_password)
		return BE_OK;
	if ((rc = key_secret(ks, k, NULL, &pw, e)) != BE_OK)
		goto out;
	if (password == NULL || password[0] == '\0') {
		rc = be_err_set(e, BE_E_FORBIDDEN, "key %s is protected by a password; none was "
				"given", k->label);
		goto out;
	}
	if (strlen(password) > BE_KS_PASSWORD_MAX || !pw_verify(pw, password)) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "wrong password for key %s", k->label);
		goto out;
	}
out:
	free(pw);
	return rc;
}

int
be_keystore_key_delete(struct be_keystore *ks, const char *label, int64_t now,
		       size_t *cancelled, struct be_err *e)
{
	struct be_ks_key *k = NULL;
	gnutls_datum_t handle = { NULL, 0 };
	sqlite3_stmt *st = NULL;
	char reason[BE_KS_LABEL_MAX + 40];
	bool locked = false;
	int rc, r;

	if (cancelled != NULL)
		*cancelled = 0;
	if ((rc = be_keystore_key_get(ks, label, &k, e)) != BE_OK)
		goto out;
	if (!(k->attrs & BE_KS_DESTROYABLE)) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "key %s is not destroyable", label);
		goto out;
	}
	if ((rc = key_secret(ks, k, &handle, NULL, e)) != BE_OK)
		goto out;
	snprintf(reason, sizeof(reason), "key %s was deleted", label);
	pthread_mutex_lock(&ks->mu);
	locked = true;
	if ((rc = exec_sql(ks, "BEGIN IMMEDIATE", "begin a transaction", e)) != BE_OK)
		goto out;
	if ((rc = prep(ks, "UPDATE requests SET status = 'CANCELLED', reason = ?1,"
		       " updated_at = ?2 WHERE key_uid = ?3 AND status IN ('PENDING', 'APPROVED')",
		       &st, e)) != BE_OK)
		goto out;
	bind_text(st, 1, reason);
	sqlite3_bind_int64(st, 2, now);
	bind_text(st, 3, k->uid);
	if ((r = sqlite3_step(st)) != SQLITE_DONE) {
		rc = db_fail(ks, r, "cancel the key's requests", e);
		goto out;
	}
	if (cancelled != NULL)
		*cancelled = (size_t)sqlite3_changes(ks->db);
	sqlite3_finalize(st);
	st = NULL;
	/* Zeros first: secure_delete then clears the freed pages of the row. */
	if ((rc = prep(ks, "UPDATE keys SET handle = zeroblob(length(handle)) WHERE id = ?1",
		       &st, e)) != BE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, k->id);
	if ((r = sqlite3_step(st)) != SQLITE_DONE) {
		rc = db_fail(ks, r, "wipe the key", e);
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = prep(ks, "DELETE FROM keys WHERE id = ?1", &st, e)) != BE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, k->id);
	if ((r = sqlite3_step(st)) != SQLITE_DONE) {
		rc = db_fail(ks, r, "delete the key", e);
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = exec_sql(ks, "COMMIT", "commit the deletion", e)) != BE_OK)
		goto out;
	/* The old pages of the row may still be in the WAL: fold it in and truncate it. */
	(void)sqlite3_wal_checkpoint_v2(ks->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	/* The record goes first, the material after: a failure in between can leave an
	 * orphaned token object, never a record whose key is gone. */
	rc = ks->vault->destroy(ks->vault_impl, k->label, k->uid, &handle, e);
out:
	sqlite3_finalize(st);
	if (locked) {
		if (rc != BE_OK)
			rollback(ks);
		pthread_mutex_unlock(&ks->mu);
	}
	be_datum_free(&handle);
	be_ks_key_free(k);
	return rc;
}

int
be_keystore_key_export(struct be_keystore *ks, const struct be_ks_key *k, gnutls_datum_t *der,
		       struct be_err *e)
{
	gnutls_datum_t handle = { NULL, 0 };
	gnutls_x509_privkey_t key = NULL;
	int rc;

	der->data = NULL;
	der->size = 0;
	if (!(k->attrs & BE_KS_EXTRACTABLE)) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "key %s is not extractable", k->label);
		goto out;
	}
	if (k->attrs & BE_KS_SENSITIVE) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "key %s is sensitive: its value cannot be "
				"exported in plain", k->label);
		goto out;
	}
	if ((rc = key_secret(ks, k, &handle, NULL, e)) != BE_OK ||
	    (rc = ks->vault->export_key(ks->vault_impl, k->label, k->uid, &handle, &key,
					e)) != BE_OK ||
	    (rc = be_key_export(key, BE_KEY_PKCS8, false, der, e)) != BE_OK)
		goto out;
out:
	if (key != NULL)
		gnutls_x509_privkey_deinit(key);
	be_datum_free(&handle);
	return rc;
}

int
be_keystore_key_signer(struct be_keystore *ks, const struct be_ks_key *k, gnutls_privkey_t *out,
		       struct be_err *e)
{
	gnutls_datum_t handle = { NULL, 0 };
	int rc;

	*out = NULL;
	if (!(k->attrs & BE_KS_SIGN)) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "key %s may not sign (attribute sign is false)",
				k->label);
		goto out;
	}
	if ((rc = key_secret(ks, k, &handle, NULL, e)) != BE_OK)
		goto out;
	rc = ks->vault->load(ks->vault_impl, k->label, k->uid, &handle, out, e);
out:
	be_datum_free(&handle);
	return rc;
}

/* ---------------------------------------------------------------- certificates */

/* Strict DER certificate; *crt caller deinit()s. */
static int
cert_spki(gnutls_x509_crt_t crt, gnutls_datum_t *spki, struct be_err *e)
{
	gnutls_pubkey_t pub = NULL;
	int rc = BE_OK;

	if (gnutls_pubkey_init(&pub) < 0 || gnutls_pubkey_import_x509(pub, crt, 0) < 0 ||
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, spki) < 0)
		rc = be_err_set(e, BE_E_MALFORMED, "certificate: its public key cannot be read");
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	return rc;
}

int
be_keystore_cert_import(struct be_keystore *ks, const char *label, const char *b64, size_t len,
			gnutls_datum_t *out, struct be_err *e)
{
	struct be_ks_key *k = NULL;
	unsigned char *raw = NULL;
	size_t rawlen = 0, i;
	gnutls_datum_t der = { NULL, 0 }, spki = { NULL, 0 };
	gnutls_x509_crt_t crt = NULL;
	sqlite3_stmt *st = NULL;
	bool locked = false;
	int rc, r;

	if (out != NULL) {
		out->data = NULL;
		out->size = 0;
	}
	for (i = 0; i < len && (b64[i] == ' ' || b64[i] == '\t' || b64[i] == '\r' ||
				b64[i] == '\n'); i++)
		;
	if (len - i >= 5 && memcmp(b64 + i, "-----", 5) == 0) {
		rc = be_err_set(e, BE_E_MALFORMED, "certificate: must be bare base64 of the DER "
				"certificate, without the PEM BEGIN / END lines");
		goto out;
	}
	if (len > KS_CERT_MAX * 2) {
		rc = be_err_set(e, BE_E_TOOBIG, "certificate: larger than %d bytes", KS_CERT_MAX);
		goto out;
	}
	if ((rc = be_base64_decode(b64, len, &raw, &rawlen, e)) != BE_OK) {
		be_err_clear(e);
		rc = be_err_set(e, BE_E_MALFORMED, "certificate: not base64 (RFC 4648 4)");
		goto out;
	}
	if (rawlen == 0 || rawlen > KS_CERT_MAX) {
		rc = be_err_set(e, BE_E_MALFORMED, "certificate: empty or larger than %d bytes",
				KS_CERT_MAX);
		goto out;
	}
	der.data = raw;
	der.size = (unsigned)rawlen;
	if ((rc = be_cert_import(&der, &crt, e)) != BE_OK ||
	    (rc = cert_spki(crt, &spki, e)) != BE_OK ||
	    (rc = be_keystore_key_get(ks, label, &k, e)) != BE_OK)
		goto out;
	if (!be_ct_equal(spki.data, spki.size, k->spki.data, k->spki.size)) {
		rc = be_err_set(e, BE_E_POLICY, "certificate: its public key does not match key %s",
				label);
		goto out;
	}
	pthread_mutex_lock(&ks->mu);
	locked = true;
	if ((rc = prep(ks, "UPDATE keys SET certificate = ?1, updated_at = ?2"
		       " WHERE id = ?3 AND uid = ?4", &st, e)) != BE_OK)
		goto out;
	bind_blob(st, 1, &der);
	sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
	sqlite3_bind_int64(st, 3, k->id);
	bind_text(st, 4, k->uid);
	if ((r = sqlite3_step(st)) != SQLITE_DONE) {
		rc = db_fail(ks, r, "record the certificate", e);
		goto out;
	}
	if (sqlite3_changes(ks->db) != 1) {
		rc = be_err_set(e, BE_E_NOTFOUND, "key %s no longer exists", label);
		goto out;
	}
	if (out != NULL)
		rc = datum_dup(out, der.data, der.size, e);
out:
	sqlite3_finalize(st);
	if (locked)
		pthread_mutex_unlock(&ks->mu);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	be_datum_free(&spki);
	be_ks_key_free(k);
	free(raw);
	return rc;
}

int
be_keystore_cert_delete(struct be_keystore *ks, const char *label, struct be_err *e)
{
	sqlite3_stmt *st = NULL;
	struct be_ks_key *k = NULL;
	int rc, r;

	pthread_mutex_lock(&ks->mu);
	if ((rc = key_get_locked(ks, label, &k, e)) != BE_OK)
		goto out;
	if (k->cert.size == 0) {
		rc = be_err_set(e, BE_E_NOTFOUND, "key %s has no certificate", label);
		goto out;
	}
	if ((rc = prep(ks, "UPDATE keys SET certificate = NULL, updated_at = ?1 WHERE id = ?2",
		       &st, e)) != BE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, (int64_t)time(NULL));
	sqlite3_bind_int64(st, 2, k->id);
	if ((r = sqlite3_step(st)) != SQLITE_DONE)
		rc = db_fail(ks, r, "remove the certificate", e);
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ks->mu);
	be_ks_key_free(k);
	return rc;
}

/* ---------------------------------------------------------------- operations with a key */

static gnutls_digest_algorithm_t
default_hash(const struct be_keyspec *k)
{
	if (k->alg == BE_KEY_ED25519)
		return GNUTLS_DIG_UNKNOWN;
	if (k->alg == BE_KEY_EC && k->bits > 384)
		return GNUTLS_DIG_SHA512;
	if (k->alg == BE_KEY_EC && k->bits > 256)
		return GNUTLS_DIG_SHA384;
	return GNUTLS_DIG_SHA256;
}

/* The hash to sign with: the requested one for RSA / EC, none for Ed25519. */
static int
sign_hash(const struct be_ks_key *k, enum be_key_alg want, gnutls_digest_algorithm_t hash,
	  gnutls_digest_algorithm_t *out, struct be_err *e)
{
	static const char *const names[] = { "", "RSA", "EC", "Ed25519" };

	if (want != BE_KEY_NONE && want != k->spec.alg)
		return be_err_set(e, BE_E_POLICY, "signatureAlgorithm is for %s keys; key %s is %s",
				  names[want], k->label, names[k->spec.alg]);
	if (k->spec.alg == BE_KEY_ED25519)
		*out = GNUTLS_DIG_UNKNOWN;
	else if (hash == GNUTLS_DIG_UNKNOWN)
		*out = default_hash(&k->spec);
	else if (hash == GNUTLS_DIG_SHA256 || hash == GNUTLS_DIG_SHA384 ||
		 hash == GNUTLS_DIG_SHA512)
		*out = hash;
	else
		return be_err_set(e, BE_E_POLICY, "signatureAlgorithm: only SHA-256, SHA-384 and "
				  "SHA-512 are supported");
	return BE_OK;
}

/* An attribute GnuTLS has no string type for (organizationIdentifier, X.520 2.5.4.97, is
 * an UnboundedDirectoryString): its value as a DER UTF8String (X.690 8.23, 10.1). */
static int
set_dn_raw(gnutls_x509_crq_t crq, const char *oid, const char *value)
{
	unsigned char der[4 + 256];
	size_t n = strlen(value), h;

	if (n > 255)
		return GNUTLS_E_INVALID_REQUEST;
	der[0] = 0x0c;
	if (n < 128) {
		der[1] = (unsigned char)n;
		h = 2;
	} else {
		der[1] = 0x81;
		der[2] = (unsigned char)n;
		h = 3;
	}
	memcpy(der + h, value, n);
	return gnutls_x509_crq_set_dn_by_oid(crq, oid, 1, der, (unsigned)(h + n));
}

int
be_keystore_csr(struct be_keystore *ks, const struct be_ks_key *k,
		const struct be_ks_csr_req *r, gnutls_datum_t *pem, struct be_err *e)
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_privkey_t priv = NULL;
	gnutls_datum_t out = { NULL, 0 }, kid = { NULL, 0 }, ext = { NULL, 0 };
	gnutls_digest_algorithm_t hash = GNUTLS_DIG_UNKNOWN;
	unsigned char id[20];
	size_t i;
	int rc = BE_OK, x;

	pem->data = NULL;
	pem->size = 0;
	if ((rc = sign_hash(k, r->sig_alg, r->hash, &hash, e)) != BE_OK)
		goto out;
	if (k->spec.alg != BE_KEY_RSA &&
	    (r->key_usage & (GNUTLS_KEY_KEY_ENCIPHERMENT | GNUTLS_KEY_DATA_ENCIPHERMENT))) {
		rc = be_err_set(e, BE_E_POLICY, "keyUsage: only RSA keys encipher (RFC 5480 3, "
				"RFC 8410 5); key %s is not one", k->label);
		goto out;
	}
	if (k->spec.alg != BE_KEY_EC &&
	    (r->key_usage & (GNUTLS_KEY_KEY_AGREEMENT | GNUTLS_KEY_ENCIPHER_ONLY |
			     GNUTLS_KEY_DECIPHER_ONLY))) {
		rc = be_err_set(e, BE_E_POLICY, "keyUsage: key agreement needs an EC key "
				"(RFC 5480 3); key %s is not one", k->label);
		goto out;
	}
	if ((rc = be_keystore_key_signer(ks, k, &priv, e)) != BE_OK)
		goto out;
	if (gnutls_x509_crq_init(&crq) < 0 || gnutls_pubkey_init(&pub) < 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (gnutls_pubkey_import(pub, &k->spki, GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_x509_crq_set_version(crq, 1) < 0 || gnutls_x509_crq_set_pubkey(crq, pub) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot build the certification request");
		goto out;
	}
	for (i = 0; r->subject != NULL && i < r->subject->n; i++) {
		const struct be_rdn *rdn = &r->subject->v[i];

		/* A failed call leaves a half-made RDN behind: pick the way first. */
		if (gnutls_x509_dn_oid_known(be_dn_info(rdn->attr)->oid))
			x = gnutls_x509_crq_set_dn_by_oid(crq, be_dn_info(rdn->attr)->oid, 0,
							  rdn->value, (unsigned)strlen(rdn->value));
		else
			x = set_dn_raw(crq, be_dn_info(rdn->attr)->oid, rdn->value);
		if (x < 0) {
			rc = be_err_set(e, BE_E_POLICY, "subject %s: cannot be encoded (%s)",
					be_dn_info(rdn->attr)->ldap, gnutls_strerror(x));
			goto out;
		}
	}
	/* RFC 2985 5.4.2 extensionRequest: what the key will be used for. */
	if (r->key_usage != 0 && gnutls_x509_crq_set_key_usage(crq, r->key_usage) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot encode keyUsage");
		goto out;
	}
	if ((r->key_usage & GNUTLS_KEY_KEY_CERT_SIGN) &&
	    gnutls_x509_crq_set_basic_constraints(crq, 1, -1) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot encode basicConstraints");
		goto out;
	}
	for (i = 0; i < r->n_eku; i++) {
		if (gnutls_x509_crq_set_key_purpose_oid(crq, r->eku[i], 0) < 0) {
			rc = be_err_set(e, BE_E_POLICY, "extendedKeyUsage %s cannot be encoded",
					r->eku[i]);
			goto out;
		}
	}
	if ((rc = be_pubkey_key_id(pub, id, e)) != BE_OK)
		goto out;
	kid.data = id;
	kid.size = sizeof(id);
	if (gnutls_x509_ext_export_subject_key_id(&kid, &ext) < 0 ||
	    gnutls_x509_crq_set_extension_by_oid(crq, "2.5.29.14", ext.data, ext.size, 0) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot encode subjectKeyIdentifier");
		goto out;
	}
	x = gnutls_x509_crq_privkey_sign(crq, priv, hash, 0);
	if (x < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "key %s could not sign the request: %s", k->label,
				gnutls_strerror(x));
		goto out;
	}
	if (gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_PEM, &out) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot encode the certification request");
		goto out;
	}
	if ((pem->data = gnutls_malloc((size_t)out.size + 1)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(pem->data, out.data, out.size);
	pem->data[out.size] = '\0';
	pem->size = out.size;
out:
	be_datum_free(&out);
	be_datum_free(&ext);
	if (priv != NULL)
		gnutls_privkey_deinit(priv);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	if (crq != NULL)
		gnutls_x509_crq_deinit(crq);
	return rc;
}

int
be_keystore_ca(struct be_keystore *ks, const struct be_ks_key *k, gnutls_digest_algorithm_t hash,
	       time_t now, struct be_ca **out, struct be_err *e)
{
	struct be_ca *ca = NULL;
	unsigned crit = 0, is_ca = 0, ku = 0;
	int x, rc = BE_OK;

	*out = NULL;
	if (k->cert.size == 0) {
		rc = be_err_set(e, BE_E_POLICY, "key %s has no certificate; import its CA "
				"certificate first (/v1/certificate/import/plain)", k->label);
		goto out;
	}
	if ((ca = calloc(1, sizeof(*ca))) == NULL || (ca->name = strdup(k->label)) == NULL ||
	    (ca->chain = calloc(1, sizeof(*ca->chain))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = be_cert_import(&k->cert, &ca->crt, e)) != BE_OK)
		goto out;
	x = gnutls_x509_crt_get_basic_constraints(ca->crt, &crit, &is_ca, NULL);
	if (x < 0 || !is_ca) {
		rc = be_err_set(e, BE_E_POLICY, "key %s: its certificate is not a CA certificate "
				"(RFC 5280 4.2.1.9 basicConstraints cA)", k->label);
		goto out;
	}
	x = gnutls_x509_crt_get_key_usage(ca->crt, &ku, &crit);
	if (x >= 0 && !(ku & GNUTLS_KEY_KEY_CERT_SIGN)) {
		rc = be_err_set(e, BE_E_POLICY, "key %s: its certificate's keyUsage lacks "
				"keyCertSign (RFC 5280 4.2.1.3)", k->label);
		goto out;
	}
	if (gnutls_x509_crt_get_activation_time(ca->crt) > now ||
	    gnutls_x509_crt_get_expiration_time(ca->crt) <= now) {
		rc = be_err_set(e, BE_E_POLICY, "key %s: its certificate is not valid now",
				k->label);
		goto out;
	}
	ca->not_after = gnutls_x509_crt_get_expiration_time(ca->crt);
	ca->ski_len = sizeof(ca->ski);
	if (gnutls_x509_crt_get_subject_key_id(ca->crt, ca->ski, &ca->ski_len, &crit) < 0) {
		ca->ski_len = sizeof(ca->ski);
		if (gnutls_x509_crt_get_key_id(ca->crt, GNUTLS_KEYID_USE_SHA1, ca->ski,
					       &ca->ski_len) < 0) {
			rc = be_err_set(e, BE_E_CRYPTO, "key %s: cannot compute a key identifier",
					k->label);
			goto out;
		}
	}
	be_serial_hex(ca->ski, ca->ski_len, ca->id, sizeof(ca->id));
	if ((rc = datum_dup(&ca->chain[0], k->cert.data, k->cert.size, e)) != BE_OK)
		goto out;
	ca->n_chain = 1;
	if ((rc = sign_hash(k, BE_KEY_NONE, hash, &ca->hash, e)) != BE_OK ||
	    (rc = be_keystore_key_signer(ks, k, &ca->key, e)) != BE_OK)
		goto out;
	*out = ca;
	ca = NULL;
out:
	be_ca_free(ca);
	return rc;
}

/* ---------------------------------------------------------------- sign requests */

void
be_ks_req_free(struct be_ks_req *r)
{
	size_t i;

	if (r == NULL)
		return;
	free(r->key_label);
	free(r->principal);
	free(r->policy);
	free(r->data);
	free(r->body);
	free(r->result);
	free(r->reason);
	for (i = 0; i < r->n_dec; i++)
		free(r->dec[i].approver);
	free(r->dec);
	free(r);
}

static void
req_clear(struct be_ks_req *r)
{
	size_t i;

	free(r->key_label);
	free(r->principal);
	free(r->policy);
	free(r->data);
	free(r->body);
	free(r->result);
	free(r->reason);
	for (i = 0; i < r->n_dec; i++)
		free(r->dec[i].approver);
	free(r->dec);
	memset(r, 0, sizeof(*r));
}

void
be_ks_reqs_free(struct be_ks_req *r, size_t n)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < n; i++)
		req_clear(&r[i]);
	free(r);
}

#define REQ_COLS "id, key_label, key_uid, principal, status, created_at, updated_at, ready_at," \
		 " executed_at, policy, data, body, serial, result, reason"

static int
req_row(sqlite3_stmt *st, struct be_ks_req *r, struct be_err *e)
{
	const unsigned char *t;

	memset(r, 0, sizeof(*r));
	t = sqlite3_column_text(st, 0);
	snprintf(r->id, sizeof(r->id), "%s", t != NULL ? (const char *)t : "");
	t = sqlite3_column_text(st, 2);
	snprintf(r->key_uid, sizeof(r->key_uid), "%s", t != NULL ? (const char *)t : "");
	if (status_parse((const char *)sqlite3_column_text(st, 4), &r->status) != BE_OK)
		return be_err_set(e, BE_E_STORE, "request %s: unknown status in the key store",
				  r->id);
	r->created_at = sqlite3_column_int64(st, 5);
	r->updated_at = sqlite3_column_int64(st, 6);
	r->ready_at = sqlite3_column_int64(st, 7);
	r->executed_at = sqlite3_column_int64(st, 8);
	t = sqlite3_column_text(st, 12);
	snprintf(r->serial, sizeof(r->serial), "%s", t != NULL ? (const char *)t : "");
	if ((r->key_label = col_strdup(st, 1)) == NULL || col_opt(st, 3, &r->principal) != 0 ||
	    col_opt(st, 9, &r->policy) != 0 || (r->data = col_strdup(st, 10)) == NULL ||
	    (r->body = col_strdup(st, 11)) == NULL || col_opt(st, 13, &r->result) != 0 ||
	    col_opt(st, 14, &r->reason) != 0)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	return BE_OK;
}

/* Appends the decisions of r (under ks->mu). */
static int
req_decisions(struct be_keystore *ks, struct be_ks_req *r, struct be_err *e)
{
	sqlite3_stmt *st = NULL;
	struct be_ks_decision *nd;
	int rc, x;

	if ((rc = prep(ks, "SELECT approver, approve, at FROM decisions WHERE request_id = ?1"
		       " ORDER BY seq", &st, e)) != BE_OK)
		goto out;
	bind_text(st, 1, r->id);
	while ((x = sqlite3_step(st)) == SQLITE_ROW) {
		if ((nd = realloc(r->dec, (r->n_dec + 1) * sizeof(*nd))) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		r->dec = nd;
		memset(&nd[r->n_dec], 0, sizeof(*nd));
		if ((nd[r->n_dec].approver = col_strdup(st, 0)) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		nd[r->n_dec].approve = sqlite3_column_int(st, 1) != 0;
		nd[r->n_dec].at = sqlite3_column_int64(st, 2);
		r->n_dec++;
	}
	if (x != SQLITE_DONE)
		rc = db_fail(ks, x, "read the decisions", e);
out:
	sqlite3_finalize(st);
	return rc;
}

static int
req_get_locked(struct be_keystore *ks, const char *id, struct be_ks_req **out, struct be_err *e)
{
	struct be_ks_req *r = NULL;
	sqlite3_stmt *st = NULL;
	int rc, x;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = prep(ks, "SELECT " REQ_COLS " FROM requests WHERE id = ?1", &st, e)) != BE_OK)
		goto out;
	bind_text(st, 1, id);
	x = sqlite3_step(st);
	if (x == SQLITE_DONE) {
		rc = be_err_set(e, BE_E_NOTFOUND, "request %.40s does not exist", id);
		goto out;
	}
	if (x != SQLITE_ROW) {
		rc = db_fail(ks, x, "read a request", e);
		goto out;
	}
	if ((rc = req_row(st, r, e)) != BE_OK || (rc = req_decisions(ks, r, e)) != BE_OK)
		goto out;
	*out = r;
	r = NULL;
out:
	sqlite3_finalize(st);
	be_ks_req_free(r);
	return rc;
}

int
be_keystore_req_get(struct be_keystore *ks, const char *id, struct be_ks_req **out,
		    struct be_err *e)
{
	int rc;

	pthread_mutex_lock(&ks->mu);
	rc = req_get_locked(ks, id, out, e);
	pthread_mutex_unlock(&ks->mu);
	return rc;
}

int
be_keystore_req_insert(struct be_keystore *ks, struct be_ks_req *r, struct be_err *e)
{
	sqlite3_stmt *st = NULL;
	int64_t now = (int64_t)time(NULL);
	bool tx = false;
	int rc, x;

	pthread_mutex_lock(&ks->mu);
	if ((rc = random_uuid(r->id, e)) != BE_OK)
		goto out;
	if (r->created_at == 0)
		r->created_at = now;
	r->updated_at = r->created_at;
	if ((rc = exec_sql(ks, "BEGIN IMMEDIATE", "begin a transaction", e)) != BE_OK)
		goto out;
	tx = true;
	if ((rc = prep(ks, "SELECT 1 FROM keys WHERE label = ?1 AND uid = ?2", &st, e)) != BE_OK)
		goto out;
	bind_text(st, 1, r->key_label);
	bind_text(st, 2, r->key_uid);
	x = sqlite3_step(st);
	if (x == SQLITE_DONE) {
		rc = be_err_set(e, BE_E_NOTFOUND, "key %s does not exist", r->key_label);
		goto out;
	}
	if (x != SQLITE_ROW) {
		rc = db_fail(ks, x, "read a key", e);
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = prep(ks, "INSERT INTO requests (" REQ_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
		       " ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)", &st, e)) != BE_OK)
		goto out;
	bind_text(st, 1, r->id);
	bind_text(st, 2, r->key_label);
	bind_text(st, 3, r->key_uid);
	bind_text(st, 4, r->principal);
	bind_text(st, 5, be_ks_status_name(r->status));
	sqlite3_bind_int64(st, 6, r->created_at);
	sqlite3_bind_int64(st, 7, r->updated_at);
	sqlite3_bind_int64(st, 8, r->ready_at);
	sqlite3_bind_int64(st, 9, r->executed_at);
	bind_text(st, 10, r->policy);
	bind_text(st, 11, r->data);
	bind_text(st, 12, r->body);
	bind_text(st, 13, r->serial);
	bind_text(st, 14, r->result);
	bind_text(st, 15, r->reason);
	if ((x = sqlite3_step(st)) != SQLITE_DONE) {
		rc = db_fail(ks, x, "record the request", e);
		goto out;
	}
	rc = exec_sql(ks, "COMMIT", "commit the request", e);
	tx = false;
out:
	sqlite3_finalize(st);
	if (tx || rc != BE_OK)
		rollback(ks);
	pthread_mutex_unlock(&ks->mu);
	return rc;
}

int
be_keystore_req_list(struct be_keystore *ks, int status, size_t limit, struct be_ks_req **out,
		     size_t *n, struct be_err *e)
{
	struct be_ks_req *v = NULL, *nv;
	sqlite3_stmt *st = NULL;
	size_t cnt = 0, i;
	int rc, x;

	*out = NULL;
	*n = 0;
	if (limit == 0 || limit > KS_LIST_MAX)
		limit = KS_LIST_MAX;
	pthread_mutex_lock(&ks->mu);
	if ((rc = prep(ks, "SELECT " REQ_COLS " FROM requests WHERE ?1 < 0 OR status = ?2"
		       " ORDER BY created_at, rowid LIMIT ?3", &st, e)) != BE_OK)
		goto out;
	sqlite3_bind_int(st, 1, status);
	bind_text(st, 2, status >= 0 ? be_ks_status_name((enum be_ks_status)status) : "");
	sqlite3_bind_int64(st, 3, (int64_t)limit);
	while ((x = sqlite3_step(st)) == SQLITE_ROW) {
		if ((nv = realloc(v, (cnt + 1) * sizeof(*v))) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		v = nv;
		if ((rc = req_row(st, &v[cnt], e)) != BE_OK) {
			req_clear(&v[cnt]);
			goto out;
		}
		cnt++;
	}
	if (x != SQLITE_DONE) {
		rc = db_fail(ks, x, "list the requests", e);
		goto out;
	}
	for (i = 0; i < cnt; i++)
		if ((rc = req_decisions(ks, &v[i], e)) != BE_OK)
			goto out;
	*out = v;
	*n = cnt;
	v = NULL;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ks->mu);
	be_ks_reqs_free(v, cnt);
	return rc;
}

/* Stores status, ready_at and reason of r (under a transaction). */
static int
req_store_state(struct be_keystore *ks, const struct be_ks_req *r, int64_t now,
		struct be_err *e)
{
	sqlite3_stmt *st = NULL;
	int rc, x;

	if ((rc = prep(ks, "UPDATE requests SET status = ?1, ready_at = ?2, reason = ?3,"
		       " updated_at = ?4 WHERE id = ?5", &st, e)) != BE_OK)
		goto out;
	bind_text(st, 1, be_ks_status_name(r->status));
	sqlite3_bind_int64(st, 2, r->ready_at);
	bind_text(st, 3, r->reason);
	sqlite3_bind_int64(st, 4, now);
	bind_text(st, 5, r->id);
	if ((x = sqlite3_step(st)) != SQLITE_DONE)
		rc = db_fail(ks, x, "update the request", e);
out:
	sqlite3_finalize(st);
	return rc;
}

/* Applies eval to r in memory; *changed when the state moved. */
static int
req_eval(struct be_ks_req *r, be_ks_eval_fn eval, void *arg, int64_t now, bool *changed,
	 struct be_err *e)
{
	int64_t ready = r->ready_at;
	const char *why = NULL;
	int s;

	*changed = false;
	s = eval(r, now, &ready, &why, arg);
	if (s < 0)
		return be_err_set(e, s, "the request could not be evaluated");
	if ((enum be_ks_status)s == r->status && ready == r->ready_at)
		return BE_OK;
	r->status = (enum be_ks_status)s;
	r->ready_at = ready;
	if (why != NULL) {
		free(r->reason);
		if ((r->reason = strdup(why)) == NULL)
			return be_err_set(e, BE_E_NOMEM, "out of memory");
	}
	r->updated_at = now;
	*changed = true;
	return BE_OK;
}

int
be_keystore_req_update(struct be_keystore *ks, const char *id,
		       const struct be_ks_decision *add, be_ks_eval_fn eval, void *arg,
		       int64_t now, struct be_ks_req **out, bool *changed, struct be_err *e)
{
	struct be_ks_req *r = NULL;
	struct be_ks_decision *nd;
	sqlite3_stmt *st = NULL;
	bool tx = false, moved = false, moved2 = false;
	int rc, x;

	if (out != NULL)
		*out = NULL;
	if (changed != NULL)
		*changed = false;
	pthread_mutex_lock(&ks->mu);
	if ((rc = exec_sql(ks, "BEGIN IMMEDIATE", "begin a transaction", e)) != BE_OK)
		goto out;
	tx = true;
	if ((rc = req_get_locked(ks, id, &r, e)) != BE_OK)
		goto out;
	/* First what time alone has done (an expired request takes no more decisions). */
	if ((rc = req_eval(r, eval, arg, now, &moved, e)) != BE_OK)
		goto out;
	if (moved && (rc = req_store_state(ks, r, now, e)) != BE_OK)
		goto out;
	if (add != NULL) {
		if (r->status != BE_KS_PENDING) {
			if (moved) {
				if ((rc = exec_sql(ks, "COMMIT", "commit the request", e)) != BE_OK)
					goto out;
				tx = false;
			}
			rc = be_err_set(e, BE_E_STATE, "request %s is %s, not PENDING", r->id,
					be_ks_status_name(r->status));
			goto out;
		}
		if ((rc = prep(ks, "INSERT INTO decisions (request_id, approver, approve, at)"
			       " VALUES (?1, ?2, ?3, ?4)", &st, e)) != BE_OK)
			goto out;
		bind_text(st, 1, r->id);
		bind_text(st, 2, add->approver);
		sqlite3_bind_int(st, 3, add->approve ? 1 : 0);
		sqlite3_bind_int64(st, 4, add->at);
		x = sqlite3_step(st);
		if ((x & 0xff) == SQLITE_CONSTRAINT) {
			rc = be_err_set(e, BE_E_CONFLICT, "this approver has decided request %s "
					"already", r->id);
			goto out;
		}
		if (x != SQLITE_DONE) {
			rc = db_fail(ks, x, "record the decision", e);
			goto out;
		}
		if ((nd = realloc(r->dec, (r->n_dec + 1) * sizeof(*nd))) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		r->dec = nd;
		nd[r->n_dec].approver = strdup(add->approver);
		nd[r->n_dec].approve = add->approve;
		nd[r->n_dec].at = add->at;
		if (nd[r->n_dec].approver == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		r->n_dec++;
		if ((rc = req_eval(r, eval, arg, now, &moved2, e)) != BE_OK)
			goto out;
		if (moved2 && (rc = req_store_state(ks, r, now, e)) != BE_OK)
			goto out;
	}
	if ((rc = exec_sql(ks, "COMMIT", "commit the request", e)) != BE_OK)
		goto out;
	tx = false;
	if (changed != NULL)
		*changed = moved || moved2;
	if (out != NULL) {
		*out = r;
		r = NULL;
	}
out:
	sqlite3_finalize(st);
	if (tx)
		rollback(ks);
	pthread_mutex_unlock(&ks->mu);
	be_ks_req_free(r);
	return rc;
}

int
be_keystore_req_finish(struct be_keystore *ks, const char *id, enum be_ks_status from,
		       enum be_ks_status to, const char *result, const char *reason, int64_t now,
		       struct be_err *e)
{
	struct be_ks_req *r = NULL;
	sqlite3_stmt *st = NULL;
	int rc, x;

	pthread_mutex_lock(&ks->mu);
	if ((rc = prep(ks, "UPDATE requests SET status = ?1, result = ?2, reason = ?3,"
		       " updated_at = ?4, executed_at = ?5 WHERE id = ?6 AND status = ?7", &st,
		       e)) != BE_OK)
		goto out;
	bind_text(st, 1, be_ks_status_name(to));
	bind_text(st, 2, to == BE_KS_EXECUTED ? result : NULL);
	bind_text(st, 3, reason);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int64(st, 5, to == BE_KS_EXECUTED ? now : 0);
	bind_text(st, 6, id);
	bind_text(st, 7, be_ks_status_name(from));
	if ((x = sqlite3_step(st)) != SQLITE_DONE) {
		rc = db_fail(ks, x, "update the request", e);
		goto out;
	}
	if (sqlite3_changes(ks->db) == 0) {
		if ((rc = req_get_locked(ks, id, &r, e)) != BE_OK)
			goto out;
		rc = be_err_set(e, BE_E_STATE, "request %s is %s, not %s", id,
				be_ks_status_name(r->status), be_ks_status_name(from));
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ks->mu);
	be_ks_req_free(r);
	return rc;
}
