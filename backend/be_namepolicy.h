/*
 * The names a profile allows (certgate.json(5) "san"): one policy, applied once to the final
 * subjectAltName list, after every source has added to it (the CSR's extension or the
 * request's fields, then the CN when the profile has cn_as_dns), and to a CN that a TLS
 * client could take for a host name.
 */
#ifndef CERTGATE_BE_NAMEPOLICY_H
#define CERTGATE_BE_NAMEPOLICY_H

#include "be.h"

struct be_profile;

/* True when pattern is a dns_patterns entry: a host name (that name only), "*.NAME" (exactly
 * one label below NAME) or "**.NAME" (one or more labels below NAME); false with a sentence
 * in why. */
bool be_namepolicy_pattern_valid(const char *pattern, char *why, size_t whysize);

/* True when DNS name (a wildcard "*.x" counts as one label) is one pattern allows;
 * case-insensitive. */
bool be_namepolicy_pattern_match(const char *pattern, const char *name);

/* Assembles into out (empty on entry; caller be_sans_clear()s it) the final subjectAltName
 * list of a certificate of profile p: each entry of in (borrowed, may be NULL) validated
 * again, then subject's CN as a DNS name when p has cn_as_dns and the CN is a valid host
 * name not listed yet; then be_namepolicy_check() on the result.  0, or BE_E_POLICY /
 * BE_E_MALFORMED with a sentence naming the name and the rule. */
int be_namepolicy_sans(const struct be_profile *p, const struct be_sans *in,
		       const struct be_name *subject, struct be_sans *out, struct be_err *e);

/* The name policy of profile p over a final list sans and subject (both borrowed):
 * each name's type is in san.types; DNS names are not wildcards unless san.wildcards and
 * match one of dns_patterns when there are any (BE_E_POLICY); no name is listed twice (DNS
 * case-insensitive, IP by address, e-mail with a case-insensitive domain: BE_E_MALFORMED);
 * at most san.max names; a CN that looks like a host name (letters, digits, hyphens, dots,
 * a letter in the last label) is a valid one and passes the same wildcard and pattern rules
 * (RFC 6125 6.4.4: clients may fall back to it); and the certificate has a subject or a
 * name (RFC 5280 4.1.2.6). */
int be_namepolicy_check(const struct be_profile *p, const struct be_name *subject,
			const struct be_sans *sans, struct be_err *e);

#endif
