/*
 * certgate's ASN.1 definitions (backend/certgate.asn), compiled by asn1Parser and loaded
 * once per process.
 */
#ifndef CERTGATE_BE_ASN1_H
#define CERTGATE_BE_ASN1_H

#include <libtasn1.h>

#include "be.h"

/* The CERTGATE module's definitions, borrowed; NULL if any module failed to load (a build
 * bug).  Thread-safe: the first call loads every module. */
asn1_node be_asn1_defs(void);

/* The definitions of the module a type name ("CMS.EnvelopedData") belongs to, borrowed, or
 * NULL for an unknown module.  Use with asn1_create_element(). */
asn1_node be_asn1_module(const char *type);

/* Creates an element of type name ("CERTGATE.DirectoryString") and decodes der into it with
 * strict DER; the whole input must be consumed.  *out is a new element the caller deletes
 * with asn1_delete_structure().  BE_E_MALFORMED with what (a human name) in the sentence. */
int be_asn1_decode(const char *type, const unsigned char *der, size_t len, const char *what,
		   asn1_node *out, struct be_err *e);

/* DER-encodes el.  *out is gnutls_malloc()ed; caller frees with be_datum_free. */
int be_asn1_encode(asn1_node el, gnutls_datum_t *out, struct be_err *e);

/* Reads the value at path in el with a size query then the read.  *out malloc()ed with a
 * NUL appended (not counted in *len); caller frees. */
int be_asn1_read(asn1_node el, const char *path, unsigned char **out, size_t *len,
		 struct be_err *e);

#endif
