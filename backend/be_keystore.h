/*
 * The key store behind the TSB-style API (PROTOCOLS.md section 3): named private keys that
 * never leave it unless they are extractable, their attributes and approval policies, the
 * certificates imported for them, and the sign requests that wait for approvals.
 *
 * Two layers.  A vault holds the private key material and hands out gnutls_privkey_t
 * handles; the file vault seals each key (PKCS#8) with AES-256-GCM under a master key kept
 * in a 0600 file in the state directory, and a PKCS#11 vault can take its place later
 * (struct be_vault_ops).  The catalogue is its own SQLite database (WAL, synchronous=FULL,
 * schema versioned with PRAGMA user_version), separate from the certificate store: keys
 * (label, attributes, password hash, policy, public key, vault handle, certificate), sign
 * requests and the approvers' decisions.  Every write is one BEGIN IMMEDIATE transaction, so
 * concurrent decisions on one request are serialised and one of them alone sees the quorum
 * reached.
 *
 * Every function is safe to call from several threads at once.  Errors common to all:
 * BE_E_STORE (SQLite's message), BE_E_UNAVAILABLE (another process holds the write lock past
 * the busy timeout), BE_E_NOMEM.  Secrets (passwords, key material) never appear in an error.
 */
#ifndef CERTGATE_BE_KEYSTORE_H
#define CERTGATE_BE_KEYSTORE_H

#include "be.h"
#include "be_ca.h"

struct be_keystore;

#define BE_KS_LABEL_MAX		128	/* characters, printable ASCII */
#define BE_KS_PASSWORD_MAX	256	/* bytes */
#define BE_KS_ID_LEN		37	/* request ids: UUID text plus NUL */

/* ---------------------------------------------------------------- vaults */

/* Where private key material lives.  A vault returns an opaque handle for each key that the
 * catalogue stores with it (the sealed key for the file vault, a PKCS#11 URL for a token);
 * label and uid are passed to every call so a handle is bound to its key. */
struct be_vault_ops {
	const char *name;		/* "file"; "pkcs11" later */
	/* Generates a key of spec.  *handle (gnutls_malloc()ed) is what the catalogue keeps;
	 * *pub the public key (caller gnutls_pubkey_deinit()s).  extractable keys must be
	 * exportable later. */
	int (*generate)(void *impl, const char *label, const char *uid,
			const struct be_keyspec *spec, bool extractable, gnutls_datum_t *handle,
			gnutls_pubkey_t *pub, struct be_err *e);
	/* A signing handle for the key; *out caller gnutls_privkey_deinit()s. */
	int (*load)(void *impl, const char *label, const char *uid, const gnutls_datum_t *handle,
		    gnutls_privkey_t *out, struct be_err *e);
	/* The key itself (only ever called for extractable keys); *out caller
	 * gnutls_x509_privkey_deinit()s. */
	int (*export_key)(void *impl, const char *label, const char *uid,
			  const gnutls_datum_t *handle, gnutls_x509_privkey_t *out,
			  struct be_err *e);
	/* Destroys the key material (a token object; nothing for sealed blobs). */
	int (*destroy)(void *impl, const char *label, const char *uid,
		       const gnutls_datum_t *handle, struct be_err *e);
	void (*free)(void *impl);
};

/* ---------------------------------------------------------------- opening */

/* Opens (creating and migrating as needed) the catalogue at db_path with the file vault
 * whose master key is master_key_path: 32 random bytes, created with mode 0600 on first start
 * when the catalogue holds no key yet.  A missing master key for a catalogue that has keys,
 * a key file readable by group or others, or a key that does not open the catalogue's check
 * value is BE_E_CONFIG with a sentence.  *out: caller be_keystore_close(). */
int be_keystore_open(const char *db_path, const char *master_key_path, struct be_keystore **out,
		     struct be_err *e);
/* Opens the catalogue at db_path with another vault (a PKCS#11 token): ops is borrowed
 * forever, impl is taken (ops->free releases it, also on failure). */
int be_keystore_open_vault(const char *db_path, const struct be_vault_ops *ops, void *impl,
			   struct be_keystore **out, struct be_err *e);
void be_keystore_close(struct be_keystore *ks);

/* ---------------------------------------------------------------- keys */

/* Key attributes as TSB names them (bits of be_ks_key.attrs). */
enum be_ks_attr {
	BE_KS_ENCRYPT = 1u << 0,
	BE_KS_DECRYPT = 1u << 1,
	BE_KS_VERIFY = 1u << 2,
	BE_KS_SIGN = 1u << 3,
	BE_KS_WRAP = 1u << 4,
	BE_KS_UNWRAP = 1u << 5,
	BE_KS_DERIVE = 1u << 6,
	BE_KS_BIP32 = 1u << 7,
	BE_KS_SLIP10 = 1u << 8,
	BE_KS_EXTRACTABLE = 1u << 9,
	BE_KS_MODIFIABLE = 1u << 10,
	BE_KS_DESTROYABLE = 1u << 11,
	BE_KS_SENSITIVE = 1u << 12,
	BE_KS_COPYABLE = 1u << 13,
};

struct be_ks_attr_info {
	unsigned bit;
	const char *name;		/* "sign", "extractable", ... */
	bool dflt;			/* value when a request leaves it out */
};

/* The attribute table, borrowed; *n its length. */
const struct be_ks_attr_info *be_ks_attrs(size_t *n);

struct be_ks_key {
	int64_t id;
	char uid[33];			/* random, hex; binds the vault handle to this key */
	char *label;
	struct be_keyspec spec;
	unsigned attrs;			/* BE_KS_* */
	bool has_password;
	char *policy;			/* canonical JSON of the approval policy (be_policy), or NULL */
	gnutls_datum_t spki;		/* SubjectPublicKeyInfo, DER */
	gnutls_datum_t cert;		/* imported certificate, DER; empty when none */
	int64_t created_at, updated_at;
};

void be_ks_key_free(struct be_ks_key *k);

/* Checks a label: 1..BE_KS_LABEL_MAX printable ASCII characters (space included) without
 * '/', '\\', '%', '?', '#' or '"'.  BE_E_MALFORMED with a sentence naming what. */
int be_ks_label_check(const char *label, struct be_err *e);

struct be_ks_new_key {
	const char *label;
	const char *password;		/* NULL or "": the key has none */
	struct be_keyspec spec;		/* RSA 2048..8192, EC P-256/384/521, Ed25519 */
	unsigned attrs;
	const char *policy;		/* canonical JSON (be_policy_encode), or NULL */
};

/* Generates a key in the vault and records it.  The password is kept as a PBKDF2-SHA256
 * hash.  A key with a policy must not be extractable (BE_E_POLICY).  BE_E_CONFLICT when the
 * label is taken.  *out (may be NULL) receives the record; caller be_ks_key_free(). */
int be_keystore_key_create(struct be_keystore *ks, const struct be_ks_new_key *nk,
			   struct be_ks_key **out, struct be_err *e);
/* The record of label; BE_E_NOTFOUND.  *out: caller be_ks_key_free(). */
int be_keystore_key_get(struct be_keystore *ks, const char *label, struct be_ks_key **out,
			struct be_err *e);
/* All labels in creation order.  *labels: malloc()ed array of malloc()ed strings; caller
 * be_strv_free(*labels, *n). */
int be_keystore_key_list(struct be_keystore *ks, char ***labels, size_t *n, struct be_err *e);
/* Checks password (NULL or "" for none) against the key's, in constant time after the slow
 * hash.  A key without a password takes any.  BE_E_FORBIDDEN "wrong password for key X". */
int be_keystore_key_auth(struct be_keystore *ks, const struct be_ks_key *k, const char *password,
			 struct be_err *e);
/* Destroys the key and deletes its record; its PENDING and APPROVED requests become
 * CANCELLED in the same transaction (*cancelled, may be NULL, receives how many).  The
 * sealed material is overwritten first (secure_delete, WAL truncated).  A key whose
 * destroyable attribute is false is BE_E_FORBIDDEN. */
int be_keystore_key_delete(struct be_keystore *ks, const char *label, int64_t now,
			   size_t *cancelled, struct be_err *e);
/* The private key as PKCS#8 DER, only when the key is extractable and not sensitive
 * (BE_E_FORBIDDEN otherwise).  The caller checked the password.  *der gnutls_malloc()ed;
 * release with be_datum_wipe(). */
int be_keystore_key_export(struct be_keystore *ks, const struct be_ks_key *k, gnutls_datum_t *der,
			   struct be_err *e);
/* A signing handle for k; caller gnutls_privkey_deinit().  BE_E_FORBIDDEN when the sign
 * attribute is false. */
int be_keystore_key_signer(struct be_keystore *ks, const struct be_ks_key *k,
			   gnutls_privkey_t *out, struct be_err *e);

/* ---------------------------------------------------------------- certificates */

/* Stores the certificate (bare base64 of DER, whitespace allowed, no PEM armour: TSB's
 * import/plain) for key label, replacing any.  Strict DER; its public key must be the key's
 * (BE_E_POLICY "does not match").  BE_E_NOTFOUND for an unknown label.  *der (may be NULL)
 * receives the DER, gnutls_malloc()ed. */
int be_keystore_cert_import(struct be_keystore *ks, const char *label, const char *b64,
			    size_t len, gnutls_datum_t *der, struct be_err *e);
/* Removes the certificate of key label; BE_E_NOTFOUND when there is none. */
int be_keystore_cert_delete(struct be_keystore *ks, const char *label, struct be_err *e);

/* ---------------------------------------------------------------- operations with a key */

/* What a certification request made with a stored key holds (RFC 2986). */
struct be_ks_csr_req {
	const struct be_name *subject;	/* validated; most significant first */
	enum be_key_alg sig_alg;	/* BE_KEY_NONE, or must be the key's algorithm */
	gnutls_digest_algorithm_t hash;	/* GNUTLS_DIG_UNKNOWN: SHA-256 (SHA-384 for P-384,
					 * SHA-512 for P-521; none for Ed25519) */
	unsigned key_usage;		/* GNUTLS_KEY_* requested (0: no extension) */
	char *const *eku;		/* dotted OIDs */
	size_t n_eku;
};

/* A PKCS#10 request signed by key k: the subject, an extensionRequest with keyUsage
 * (critical), extendedKeyUsage, basicConstraints cA when keyCertSign is asked, and the
 * subjectKeyIdentifier.  *pem: "NEW CERTIFICATE REQUEST" PEM, gnutls_malloc()ed,
 * NUL-terminated; caller be_datum_free().  BE_E_POLICY for a signature algorithm that does
 * not fit the key or key usages the key type cannot have. */
int be_keystore_csr(struct be_keystore *ks, const struct be_ks_key *k,
		    const struct be_ks_csr_req *r, gnutls_datum_t *pem, struct be_err *e);

/* A CA made of stored key k and its imported certificate, the issuer be_issue signs with
 * under a profile whose issuer is the key store (be_issuer.h): the
 * certificate must be a CA certificate (basicConstraints cA, keyCertSign when keyUsage is
 * present) valid at now; hash is the signature hash (GNUTLS_DIG_UNKNOWN for Ed25519).
 * *out: caller be_ca_free().  BE_E_POLICY with a sentence when k cannot act as a CA. */
int be_keystore_ca(struct be_keystore *ks, const struct be_ks_key *k,
		   gnutls_digest_algorithm_t hash, time_t now, struct be_ca **out,
		   struct be_err *e);

/* ---------------------------------------------------------------- sign requests */

enum be_ks_status {
	BE_KS_PENDING = 0,	/* waiting for approvals */
	BE_KS_APPROVED,		/* quorum reached; executes once the timelock has passed */
	BE_KS_EXECUTED,		/* done: result holds the certificate */
	BE_KS_FAILED,
	BE_KS_EXPIRED,		/* the timeout passed before the quorum */
	BE_KS_REJECTED,		/* rejections made the quorum unreachable */
	BE_KS_CANCELLED,	/* by the requester, or the key was deleted */
};

/* "PENDING", "APPROVED", ... */
const char *be_ks_status_name(enum be_ks_status s);

struct be_ks_decision {
	char *approver;			/* base64 SubjectPublicKeyInfo DER */
	bool approve;
	int64_t at;
};

struct be_ks_req {
	char id[BE_KS_ID_LEN];		/* UUID, set by the store */
	char *key_label;
	char key_uid[33];		/* the key's uid: a later key of the same label is
					 * another key */
	char *principal;		/* who asked */
	enum be_ks_status status;
	int64_t created_at, updated_at;
	int64_t ready_at;		/* APPROVED: when the timelock lets it execute */
	int64_t executed_at;
	char *policy;			/* the key's policy when the request was made */
	char *data;			/* the normalised request (JSON) */
	char *body;			/* what approvers sign (see be_policy_token) */
	char serial[41];		/* unused, empty: be_issue draws the serial when the
					 * request executes (kept for older catalogues) */
	char *result;			/* EXECUTED: the certificate, PEM */
	char *reason;			/* FAILED / REJECTED / EXPIRED / CANCELLED: why */
	struct be_ks_decision *dec;	/* in the order they were recorded */
	size_t n_dec;
};

void be_ks_req_free(struct be_ks_req *r);
void be_ks_reqs_free(struct be_ks_req *r, size_t n);

/* Records request r (borrowed); sets r->id, created_at (when 0) and updated_at.  The key
 * r->key_label with uid r->key_uid must exist (BE_E_NOTFOUND). */
int be_keystore_req_insert(struct be_keystore *ks, struct be_ks_req *r, struct be_err *e);
/* The request with its decisions; BE_E_NOTFOUND.  *out: caller be_ks_req_free(). */
int be_keystore_req_get(struct be_keystore *ks, const char *id, struct be_ks_req **out,
			struct be_err *e);
/* Requests in status (or -1 for all), oldest first, at most limit (0 = 1000). */
int be_keystore_req_list(struct be_keystore *ks, int status, size_t limit,
			 struct be_ks_req **out, size_t *n, struct be_err *e);

/* Decides the next state of a request from its record (policy, decisions, times).  Returns
 * the new status (and sets *ready_at when APPROVED; *why a static sentence for a final
 * state, may stay NULL), or a negative BE_E_* code. */
typedef int (*be_ks_eval_fn)(const struct be_ks_req *r, int64_t now, int64_t *ready_at,
			     const char **why, void *arg);

/* In one write transaction: loads request id and its decisions; when add is not NULL the
 * request must be PENDING (BE_E_STATE "request X is EXPIRED") and add is recorded
 * (BE_E_CONFLICT when that approver decided already); then eval gives the new status, which
 * is stored when it differs.  *out (may be NULL) receives the record as committed; caller
 * be_ks_req_free().  The transaction makes concurrent decisions see each other: of two
 * approvals that complete a quorum, exactly one returns the transition to APPROVED, and
 * *changed (may be NULL) tells the caller whether this call made the change. */
int be_keystore_req_update(struct be_keystore *ks, const char *id,
			   const struct be_ks_decision *add, be_ks_eval_fn eval, void *arg,
			   int64_t now, struct be_ks_req **out, bool *changed, struct be_err *e);
/* Moves request id from status from to status to (EXECUTED with result, FAILED / CANCELLED
 * with reason) with updated_at / executed_at = now.  BE_E_STATE when it is not in from any
 * more ("request X is EXECUTED, not APPROVED"). */
int be_keystore_req_finish(struct be_keystore *ks, const char *id, enum be_ks_status from,
			   enum be_ks_status to, const char *result, const char *reason,
			   int64_t now, struct be_err *e);

#endif
