/*
 * Good keys: the floor under every profile's key types, and the refusal of public keys
 * known to be weak, before anything is certified for them (DESIGN.md "Backend promises").
 *
 * What is accepted (certgate.json(5) "KEYS CERTGATE CERTIFIES" says the same):
 *   - RSA (rsaEncryption) with a modulus of 2048 to 16384 bits, public exponent e odd and
 *     2^16+1 <= e < 2^256 (the range CA/Browser Forum BR 6.1.6 recommends);
 *   - EC on P-256, P-384, P-521 (RFC 5480), the point on the curve (never the identity,
 *     which has no affine coordinates);
 *   - Ed25519 (RFC 8410) where a profile lists it, not one of the eight points of small
 *     order.
 * And refused as known-weak, each with a sentence naming why:
 *   - an RSA modulus that is even or has a prime factor up to 751 (one gcd with the
 *     product of the odd primes to 751, as Boulder's goodkey does);
 *   - an RSA modulus with the fingerprint of the Infineon RSALib primes (ROCA,
 *     CVE-2017-15361; Nemec et al., CCS 2017): for each of the 38 odd primes r to 167,
 *     n mod r lies in the subgroup 65537 generates modulo r;
 *   - an RSA modulus Fermat's method factors within fermat_rounds rounds (default 100):
 *     primes so close that |p - q| is small next to n^(1/4);
 *   - a key whose SubjectPublicKeyInfo SHA-256 is in a blocklist file.
 *
 * Bounded time: every check is a fixed number of bignum operations on a modulus of at most
 * 16384 bits (one gcd, 38 small remainders, fermat_rounds perfect-square tests) and one
 * binary search; test-be-goodkey reports the figures per key size.
 *
 * Configuration, the top-level "weak_keys" object of certgate.json:
 *   {"blocklist": ["debian-weak-keys.txt", "compromised.txt"], "fermat_rounds": 100}
 * A blocklist file holds one SubjectPublicKeyInfo SHA-256 per line as 64 hexadecimal
 * digits (`openssl pkey -pubin -outform DER | sha256sum`); blank lines and lines starting
 * with '#' are ignored, as is anything after the digits that follows a blank.
 */
#ifndef CERTGATE_BE_GOODKEY_H
#define CERTGATE_BE_GOODKEY_H

#include <jansson.h>

#include "be.h"

#define BE_GOODKEY_RSA_MIN_BITS		2048
#define BE_GOODKEY_RSA_MAX_BITS		16384
#define BE_GOODKEY_FERMAT_ROUNDS	100
#define BE_GOODKEY_FERMAT_MAX		100000
#define BE_GOODKEY_BLOCKLIST_MAX	(64 * 1024 * 1024)	/* bytes per file */
#define BE_GOODKEY_BLOCKLIST_FILES	16

struct be_goodkey;

/* The floor no profile can lower: BE_E_CONFIG when spec is a key type certgate never
 * certifies (RSA below BE_GOODKEY_RSA_MIN_BITS or above the maximum, an EC size other than
 * 256 / 384 / 521), with a sentence that starts with what (e.g. the key path
 * "profiles.IoT.key_types[0]") and names the floor. */
int be_goodkey_spec_check(const struct be_keyspec *spec, const char *what, struct be_err *e);

/* Validates conf (the "weak_keys" object, NULL when absent) and loads its blocklist files
 * (relative to basedir) once into a sorted table.  Errors are BE_E_CONFIG naming the key
 * path, or the file and line ("weak_keys.blocklist[0]: keys.txt line 3: not 64 hex
 * digits").  *out: caller be_goodkey_free(); never NULL on success. */
int be_goodkey_new(const json_t *conf, const char *basedir, struct be_goodkey **out,
		   struct be_err *e);
void be_goodkey_free(struct be_goodkey *gk);
/* Number of distinct digests in the blocklist; 0 when gk is NULL. */
size_t be_goodkey_blocked_count(const struct be_goodkey *gk);

/* Checks the public key pub (borrowed) of a request against the rules above.  gk may be
 * NULL: the checks without a blocklist, Fermat with BE_GOODKEY_FERMAT_ROUNDS.  Returns 0,
 * or BE_E_MALFORMED with a sentence that starts with what ("CSR key", "public key") and
 * says which rule the key breaks; BE_E_NOMEM / BE_E_CRYPTO when it could not be read. */
int be_goodkey_check(const struct be_goodkey *gk, gnutls_pubkey_t pub, const char *what,
		     struct be_err *e);

#endif
