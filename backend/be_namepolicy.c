/*
 * The name policy of a profile over the final subjectAltName list (be_namepolicy.h).
 *
 * Every source of names ends here once the list is complete: a name promoted from the CN
 * by cn_as_dns meets the same rules as one from a CSR's extension or a request's fields.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "be.h"
#include "be_namepolicy.h"
#include "be_profile.h"

#define WHY_MAX 256
#define PATTERNS_TEXT_MAX 96

static const char *const san_labels[BE_SAN__COUNT] = { "DNS", "email", "IP", "URI" };

bool
be_namepolicy_pattern_valid(const char *pattern, char *why, size_t whysize)
{
	const char *rest = pattern;

	if (strncmp(pattern, "**.", 3) == 0)
		rest = pattern + 3;
	else if (strncmp(pattern, "*.", 2) == 0)
		rest = pattern + 2;
	if (strchr(rest, '*') != NULL) {
		snprintf(why, whysize, "\"*\" and \"**\" stand only as the whole left-most label, "
			 "as in \"*.example.com\" or \"**.example.com\"");
		return false;
	}
	return be_dns_name_valid(rest, strlen(rest), false, why, whysize);
}

bool
be_namepolicy_pattern_match(const char *pattern, const char *name)
{
	const char *suffix;
	size_t sl, nl;
	bool any_depth;

	if (strncmp(pattern, "**.", 3) == 0) {
		suffix = pattern + 3;
		any_depth = true;
	} else if (strncmp(pattern, "*.", 2) == 0) {
		suffix = pattern + 2;
		any_depth = false;
	} else {
		return strcasecmp(pattern, name) == 0;
	}
	sl = strlen(suffix);
	nl = strlen(name);
	/* at least one non-empty label, a dot, then the suffix */
	if (nl < sl + 2 || name[nl - sl - 1] != '.' || strcasecmp(name + nl - sl, suffix) != 0)
		return false;
	return any_depth || memchr(name, '.', nl - sl - 1) == NULL;
}

/* A CN a TLS client could take for a host name (RFC 6125 6.4.4 lets a client fall back to
 * the CN when a certificate has no DNS name): only letters, digits, hyphens, dots and '*',
 * at least one dot, and a letter in the last label (so "192.0.2.1" and "v1.2" are not);
 * one trailing dot is looked past, to be refused as invalid. */
static bool
cn_is_host(const char *cn)
{
	size_t i, len = strlen(cn), last = 0;
	bool dot = false, letter = false;
	char c;

	if (len > 1 && cn[len - 1] == '.')
		len--;
	for (i = 0; i < len; i++) {
		c = cn[i];
		if (c == '.') {
			dot = true;
			last = i + 1;
		} else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '-' || c == '*')) {
			return false;
		}
	}
	for (i = last; i < len; i++)
		if ((cn[i] >= 'a' && cn[i] <= 'z') || (cn[i] >= 'A' && cn[i] <= 'Z'))
			letter = true;
	return dot && letter;
}

/* The profile's patterns as "a, b, c" (cut with "...") for a sentence. */
static const char *
patterns_text(const struct be_profile *p, char *buf, size_t size)
{
	size_t i, o = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; i < p->n_dns_patterns; i++) {
		n = snprintf(buf + o, size - o, "%s%s", i > 0 ? ", " : "", p->dns_patterns[i]);
		if (n < 0 || (size_t)n >= size - o) {
			if (size > 4)
				memcpy(buf + size - 4, "...", 4);
			break;
		}
		o += (size_t)n;
	}
	return buf;
}

/* The rules a DNS name meets wherever it appears; what names the place ("SAN DNS",
 * "subject CN"). */
static int
dns_allowed(const struct be_profile *p, const char *what, const char *name, struct be_err *e)
{
	char list[PATTERNS_TEXT_MAX];
	size_t i;
	int rc = BE_OK;

	if (be_dns_is_wildcard(name) && !p->san_wildcards) {
		rc = be_err_set(e, BE_E_POLICY, "%s:%.253s not allowed by profile %s "
				"(san.wildcards is false)", what, name, p->name);
		goto out;
	}
	if (p->n_dns_patterns == 0)
		goto out;
	for (i = 0; i < p->n_dns_patterns; i++)
		if (be_namepolicy_pattern_match(p->dns_patterns[i], name))
			goto out;
	rc = be_err_set(e, BE_E_POLICY, "%s:%.253s not allowed by profile %s (dns_patterns: %s)",
			what, name, p->name, patterns_text(p, list, sizeof(list)));
out:
	return rc;
}

int
be_namepolicy_check(const struct be_profile *p, const struct be_name *subject,
		    const struct be_sans *sans, struct be_err *e)
{
	const struct be_san *s;
	const char *cn;
	char why[WHY_MAX], lower[254];
	size_t i, j;
	int rc = BE_OK;

	for (i = 0; i < sans->n; i++) {
		s = &sans->v[i];
		if ((int)s->type < 0 || s->type >= BE_SAN__COUNT) {
			rc = be_err_set(e, BE_E_INTERNAL, "subjectAltName of unknown type %d",
					(int)s->type);
			goto out;
		}
		if (!(p->san_types & (1u << s->type))) {
			rc = be_err_set(e, BE_E_POLICY, "SAN %s:%.80s not allowed by profile %s "
					"(san.types has no %s)", san_labels[s->type], s->value,
					p->name, be_san_type_name(s->type));
			goto out;
		}
		if (s->type == BE_SAN_DNS && (rc = dns_allowed(p, "SAN DNS", s->value, e)) != BE_OK)
			goto out;
		for (j = 0; j < i; j++) {
			if (be_san_equal(&sans->v[j], s)) {
				rc = be_err_set(e, BE_E_MALFORMED, "SAN %s:%.80s is listed twice "
						"(as %s:%.80s); list each name once",
						san_labels[s->type], s->value, san_labels[s->type],
						sans->v[j].value);
				goto out;
			}
		}
	}
	if (sans->n > p->san_max) {
		rc = be_err_set(e, BE_E_POLICY, "%zu subjectAltName entries; profile %s allows at "
				"most %u (san.max)", sans->n, p->name, p->san_max);
		goto out;
	}
	cn = be_name_get(subject, BE_DN_CN);
	if (cn != NULL && cn_is_host(cn)) {
		if (!be_dns_name_valid(cn, strlen(cn), true, why, sizeof(why))) {
			rc = be_err_set(e, BE_E_POLICY, "subject CN \"%.64s\" reads as a host name "
					"but is not a valid one: %s", cn, why);
			goto out;
		}
		for (i = 0; cn[i] != '\0' && i + 1 < sizeof(lower); i++)
			lower[i] = (char)(cn[i] >= 'A' && cn[i] <= 'Z' ? cn[i] - 'A' + 'a' : cn[i]);
		lower[i] = '\0';
		if ((rc = dns_allowed(p, "subject CN", lower, e)) != BE_OK)
			goto out;
	}
	if (subject->n == 0 && sans->n == 0) {
		rc = be_err_set(e, BE_E_POLICY, "the certificate would have neither a subject nor a "
				"subjectAltName (RFC 5280 4.1.2.6)");
		goto out;
	}
out:
	return rc;
}

int
be_namepolicy_sans(const struct be_profile *p, const struct be_sans *in,
		   const struct be_name *subject, struct be_sans *out, struct be_err *e)
{
	const struct be_san *s;
	const char *cn;
	char why[WHY_MAX];
	size_t i;
	bool listed = false;
	int rc = BE_OK;

	for (i = 0; in != NULL && i < in->n; i++) {
		s = &in->v[i];
		rc = s->type == BE_SAN_IP ? be_sans_add_ip_raw(out, s->ip, s->iplen, e) :
		     be_sans_add(out, s->type, s->value, strlen(s->value), e);
		if (rc != BE_OK)
			goto out;
	}
	cn = be_name_get(subject, BE_DN_CN);
	if (p->cn_as_dns && (p->san_types & (1u << BE_SAN_DNS)) && cn != NULL &&
	    cn_is_host(cn) && be_dns_name_valid(cn, strlen(cn), true, why, sizeof(why))) {
		for (i = 0; i < out->n; i++)
			if (out->v[i].type == BE_SAN_DNS && strcasecmp(out->v[i].value, cn) == 0)
				listed = true;
		if (!listed && (rc = be_sans_add(out, BE_SAN_DNS, cn, strlen(cn), e)) != BE_OK)
			goto out;
	}
	rc = be_namepolicy_check(p, subject, out, e);
out:
	return rc;
}
