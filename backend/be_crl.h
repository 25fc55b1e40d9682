/*
 * Certificate revocation lists (RFC 5280 section 5): the DER encoding of a CRL and its
 * signature with the CA's key handle.  The TBSCertList is written directly with a small DER
 * writer (the ASN.1 is declared in certgate.asn, CERTGATE.CertificateList, against which
 * the tests decode it strictly): building it through GnuTLS' crl API costs a libtasn1 node
 * per entry, too slow for a million entries.  Publishing (when, which shards) lives in
 * be_crlpub.h.
 */
#ifndef CERTGATE_BE_CRL_H
#define CERTGATE_BE_CRL_H

#include "be.h"

struct be_ca;

/* RFC 5280 5.3.1 CRLReason values certgate writes. */
#define BE_CRL_REASON_UNSPECIFIED	0
#define BE_CRL_REASON_HOLD		6

/* A CRL being built: the revokedCertificates entries, DER-encoded as they are added. */
struct be_crl_builder;

/* A new, empty builder; *out: caller be_crl_builder_free(). */
int be_crl_builder_new(struct be_crl_builder **out, struct be_err *e);
void be_crl_builder_free(struct be_crl_builder *b);
/* Number of entries added so far. */
size_t be_crl_builder_count(const struct be_crl_builder *b);

/* Adds one revoked certificate (RFC 5280 5.1.2.6): serial (the magnitude, big-endian;
 * leading zero octets are dropped; its DER INTEGER at most 20 octets), revocation date, and
 * the CRLReason
 * (0..10 but 7 and 8; unspecified (0) writes no reasonCode extension, as 5.3.1 says).
 * BE_E_MALFORMED for a bad serial or reason. */
int be_crl_builder_add(struct be_crl_builder *b, const unsigned char *serial, size_t len,
		       time_t revoked_at, int reason, struct be_err *e);
/* As be_crl_builder_add, with the serial as the store spells it (hex). */
int be_crl_builder_add_hex(struct be_crl_builder *b, const char *serial_hex,
			   time_t revoked_at, int reason, struct be_err *e);

struct be_crl_params {
	uint64_t number;		/* cRLNumber (5.2.3), monotonic per issuer */
	time_t this_update;		/* 5.1.2.4 */
	time_t next_update;		/* 5.1.2.5, after this_update */
	/* A partition (shard): the IssuingDistributionPoint (5.2.5, critical) names this URI
	 * as its distributionPoint fullName, as the CRLDistributionPoints of the certificates
	 * it covers do.  NULL: a complete CRL without the extension. */
	const char *idp_uri;
};

/* Encodes the CertificateList (5.1) of ca with b's entries and p: version v2, the CA's
 * subject as issuer, authorityKeyIdentifier (5.2.1, the CA's subjectKeyIdentifier),
 * cRLNumber, and the IDP when p->idp_uri is set; signs the TBSCertList with ca->key (the
 * handle certificates are signed with: a file key or PKCS#11) and ca->hash.
 * b is borrowed and may be reused.  *der is gnutls_malloc()ed; caller be_datum_free().
 * BE_E_UNAVAILABLE when the key does not sign; BE_E_CRYPTO for an algorithm the writer
 * does not know (RSA-PSS keys). */
int be_crl_encode(const struct be_ca *ca, const struct be_crl_builder *b,
		  const struct be_crl_params *p, gnutls_datum_t *der, struct be_err *e);

/* The partition (0..shards-1) a certificate belongs to, from its serial (the last four
 * octets, which be_serial_new draws from the CSPRNG); 0 when shards <= 1. */
unsigned be_crl_shard(const unsigned char *serial, size_t len, unsigned shards);
/* The URL of partition shard of the CRL at base: "-<shard>" inserted before a trailing
 * ".crl", else appended.  Into buf (NUL-terminated); BE_E_TOOBIG when it does not fit. */
int be_crl_shard_url(const char *base, unsigned shard, char *buf, size_t len,
		     struct be_err *e);

#endif
