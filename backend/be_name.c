/*
 * Subject names and subjectAltNames: the attribute table, and validation of every value
 * before it enters a struct be_name or struct be_sans.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <idn2.h>

#include "be.h"
#include "be_utf8.h"

#define NAME_MAX_RDNS 32
#define SANS_MAX 64
#define URI_MAX 1024
#define QUOTE_MAX 40

/*
 * Upper bounds are RFC 5280 Appendix A (ub-common-name 64, ub-locality-name 128,
 * ub-state-name 128, ub-organization-name 64, ub-organizational-unit-name 64, ub-title 64,
 * ub-serial-number 64, ub-pseudonym 128, ub-emailaddress-length 255).  surname, givenName,
 * initials and generationQualifier are X520name there, bounded only by ub-name 32768; the
 * X.411 bounds (40 / 16 / 5 / 3) belong to X.400 addresses and refuse real names, so certgate
 * uses 64 for them as a policy.  X.520 ub-street-address 128; a domainComponent is one DNS
 * label (63, RFC 1035 2.3.4); uid and organizationIdentifier have no bound and get 64.
 */
static const struct be_dn_info dn_table[BE_DN__COUNT] = {
	{ BE_DN_CN, "CN", "commonName", "2.5.4.3", 64 },
	{ BE_DN_SN, "SN", "surname", "2.5.4.4", 64 },
	{ BE_DN_SERIALNUMBER, "serialNumber", "serialNumber", "2.5.4.5", 64 },
	{ BE_DN_C, "C", "country", "2.5.4.6", 2 },
	{ BE_DN_L, "L", "locality", "2.5.4.7", 128 },
	{ BE_DN_ST, "ST", "stateOrProvinceName", "2.5.4.8", 128 },
	{ BE_DN_STREET, "street", "streetAddress", "2.5.4.9", 128 },
	{ BE_DN_O, "O", "organizationName", "2.5.4.10", 64 },
	{ BE_DN_OU, "OU", "organizationUnitName", "2.5.4.11", 64 },
	{ BE_DN_TITLE, "title", "title", "2.5.4.12", 64 },
	{ BE_DN_GN, "GN", "givenName", "2.5.4.42", 64 },
	{ BE_DN_INITIALS, "initials", "initials", "2.5.4.43", 64 },
	{ BE_DN_GENQ, "generationQualifier", "generationQualifier", "2.5.4.44", 64 },
	{ BE_DN_PSEUDONYM, "pseudonym", "pseudonym", "2.5.4.65", 128 },
	{ BE_DN_ORGID, "organizationIdentifier", "organizationIdentifier", "2.5.4.97", 64 },
	{ BE_DN_UID, "UID", "uid", "0.9.2342.19200300.100.1.1", 64 },
	{ BE_DN_DC, "DC", "domainComponent", "0.9.2342.19200300.100.1.25", 63 },
	{ BE_DN_E, "E", "email", "1.2.840.113549.1.9.1", 255 },
};

/* Further spellings front ends use (RFC 4519 names where the table holds the TSB one). */
static const struct {
	const char *name;
	enum be_dn_attr attr;
} dn_alias[] = {
	{ "countryName", BE_DN_C },
	{ "localityName", BE_DN_L },
	{ "organizationalUnitName", BE_DN_OU },
	{ "emailAddress", BE_DN_E },
	{ "userId", BE_DN_UID },
	{ "S", BE_DN_ST },
};

/* ISO 3166-1 alpha-2: the 249 officially assigned codes (user-assigned codes such as XK and
 * exceptionally reserved ones such as UK or EU are not countries). */
static const char iso3166[] =
	"ADAEAFAGAIALAMAOAQARASATAUAWAXAZ"
	"BABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZ"
	"CACCCDCFCGCHCICKCLCMCNCOCRCUCVCWCXCYCZ"
	"DEDJDKDMDODZ"
	"ECEEEGEHERESET"
	"FIFJFKFMFOFR"
	"GAGBGDGEGFGGGHGIGLGMGNGPGQGRGSGTGUGWGY"
	"HKHMHNHRHTHU"
	"IDIEILIMINIOIQIRISIT"
	"JEJMJOJP"
	"KEKGKHKIKMKNKPKRKWKYKZ"
	"LALBLCLILKLRLSLTLULVLY"
	"MAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZ"
	"NANCNENFNGNINLNONPNRNUNZ"
	"OM"
	"PAPEPFPGPHPKPLPMPNPRPSPTPWPY"
	"QA"
	"RERORSRURW"
	"SASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZ"
	"TCTDTFTGTHTJTKTLTMTNTOTRTTTVTWTZ"
	"UAUGUMUSUYUZ"
	"VAVCVEVGVIVNVU"
	"WFWS"
	"YEYT"
	"ZAZMZW";

enum text_fault {
	TEXT_OK = 0,
	TEXT_NUL,
	TEXT_CONTROL,
	TEXT_UTF8,
};

/* Strict UTF-8 (RFC 3629 4: no overlong forms, no surrogates, nothing above U+10FFFF) without
 * NUL, C0, DEL or C1 characters; counts characters into *nchars. */
static enum text_fault
text_check(const unsigned char *s, size_t len, size_t *nchars)
{
	size_t i = 0, n = 0, k;
	uint32_t cp;

	while (i < len) {
		if ((k = be_utf8_next(s + i, len - i, &cp)) == 0)
			return TEXT_UTF8;
		if (cp == 0)
			return TEXT_NUL;
		if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f))
			return TEXT_CONTROL;
		i += k;
		n++;
	}
	*nchars = n;
	return TEXT_OK;
}

/* Writes a safe, shortened rendering of untrusted bytes into buf: printable ASCII as is,
 * '"' and '\' escaped, everything else as \xNN, "..." when cut. */
static const char *
quote(const char *s, size_t len, char *buf, size_t bufsize)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;
	unsigned char c;

	for (i = 0; i < len && i < QUOTE_MAX; i++) {
		c = (unsigned char)s[i];
		if (o + 5 >= bufsize)
			break;
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 0xf];
		}
	}
	if (i < len && o + 4 <= bufsize) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

static bool
is_printable_string_char(unsigned char c)
{
	/* X.680 41.4 PrintableString */
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr(" '()+,-./:=?", c) != NULL;
}

static bool
is_ascii(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

static bool
is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

static bool host_check(const char *s, size_t len, bool wildcard, char *why,
		       size_t whysize);

/* RFC 5891 5.4: an A-label ("xn--" and Punycode, already lower-cased, NUL-terminated) is
 * valid when it decodes to a U-label that IDNA2008 (RFC 5892, without the UTS #46 mapping)
 * permits and that encodes back to exactly the same A-label.  libidn2 does both steps. */
static bool
alabel_ok(const char *label, char *why, size_t whysize)
{
	char *u = NULL;
	uint8_t *back = NULL;
	char q[4 * QUOTE_MAX + 8];
	bool ok = false;
	int rc;

	if ((rc = idn2_to_unicode_8z8z(label, &u, 0)) == IDN2_OK &&
	    (rc = idn2_lookup_u8((const uint8_t *)u, &back, IDN2_NO_TR46)) == IDN2_OK &&
	    strcmp((const char *)back, label) != 0)
		rc = IDN2_ALABEL_ROUNDTRIP_FAILED;
	if (rc != IDN2_OK) {
		snprintf(why, whysize, "label \"%s\" is not a valid IDNA2008 A-label "
			 "(RFC 5891 5.4: %s)", quote(label, strlen(label), q, sizeof(q)),
			 idn2_strerror(rc));
		goto out;
	}
	ok = true;
out:
	idn2_free(back);
	idn2_free(u);
	return ok;
}

/* Explains why the non-ASCII name s is refused, with its A-label form (IDNA2008 with the
 * UTS #46 non-transitional mapping, as browsers look names up) when it has one. */
static void
ulabel_why(const char *s, size_t len, char *why, size_t whysize)
{
	char copy[4 * 253 + 1], q[4 * QUOTE_MAX + 8], alt[256];
	uint8_t *a = NULL;
	size_t nchars;

	if (text_check((const unsigned char *)s, len, &nchars) != TEXT_OK || len >= sizeof(copy)) {
		snprintf(why, whysize, "not an ASCII host name");
		goto out;
	}
	memcpy(copy, s, len);
	copy[len] = '\0';
	if (idn2_lookup_u8((const uint8_t *)copy, &a, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) ==
	    IDN2_OK && host_check((const char *)a, strlen((const char *)a), false, alt,
				  sizeof(alt))) {
		snprintf(why, whysize, "U-labels are refused: write it as A-labels, \"%s\" "
			 "(IDNA2008, RFC 5890 2.3.2.1, RFC 5280 7.2)",
			 quote((const char *)a, strlen((const char *)a), q, sizeof(q)));
		goto out;
	}
	snprintf(why, whysize, "U-labels are refused and this one has no IDNA2008 A-label form "
		 "(RFC 5890 2.3.2.1, RFC 5280 7.2)");
out:
	idn2_free(a);
}

/* RFC 1035 2.3.1 preferred name syntax as RFC 5280 4.2.1.6 requires for dNSName (with the
 * RFC 1123 2.1 relaxation for a leading digit): labels of 1-63 letters, digits and hyphens,
 * not starting or ending with a hyphen, total <= 253 octets, no trailing dot; the last label
 * not all-numeric (RFC 3696 2).  Internationalised labels only as A-labels that pass
 * IDNA2008 (alabel_ok); other labels with "--" in positions 3-4 are reserved (RFC 5890
 * 2.3.1).  With wildcard, the whole left-most label may be "*" when at least two labels
 * follow.  Letters compare case-insensitively.  Returns true, or false with a sentence in
 * why. */
static bool
host_check(const char *s, size_t len, bool wildcard, char *why, size_t whysize)
{
	char label[64], q[4 * QUOTE_MAX + 8];
	size_t i, k, start, lablen, nlabels = 0;
	bool numeric = true;
	unsigned char c;

	if (len == 0) {
		snprintf(why, whysize, "empty");
		return false;
	}
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80) {
			ulabel_why(s, len, why, whysize);
			return false;
		}
	}
	if (len > 253) {
		snprintf(why, whysize, "longer than 253 octets (RFC 1035 2.3.4)");
		return false;
	}
	if (s[len - 1] == '.') {
		snprintf(why, whysize, "ends with a dot: certificates carry names without the root's "
			 "dot (RFC 5280 4.2.1.6)");
		return false;
	}
	start = 0;
	if (len > 2 && s[0] == '*' && s[1] == '.' && wildcard)
		start = 2;
	for (i = start; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '*') {
			snprintf(why, whysize, wildcard ?
				 "'*' is allowed only as the whole left-most label, as in "
				 "\"*.example.com\"" : "no wildcard is allowed here");
			return false;
		}
		if (c != '.' && !is_ldh(c)) {
			snprintf(why, whysize, "character \"%s\" is not a letter, digit, hyphen or "
				 "dot (RFC 1035 2.3.1)", quote(s + i, 1, q, sizeof(q)));
			return false;
		}
	}
	for (i = start; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		lablen = i - start;
		if (lablen == 0) {
			snprintf(why, whysize, "has an empty label");
			return false;
		}
		if (lablen > 63) {
			snprintf(why, whysize, "label \"%s\" is longer than 63 octets "
				 "(RFC 1035 2.3.4)", quote(s + start, lablen, q, sizeof(q)));
			return false;
		}
		for (k = 0; k < lablen; k++) {
			c = (unsigned char)s[start + k];
			label[k] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
		}
		label[lablen] = '\0';
		if (label[0] == '-' || label[lablen - 1] == '-') {
			snprintf(why, whysize, "label \"%s\" begins or ends with a hyphen "
				 "(RFC 1035 2.3.1)", quote(label, lablen, q, sizeof(q)));
			return false;
		}
		if (lablen >= 4 && label[2] == '-' && label[3] == '-') {
			if (label[0] != 'x' || label[1] != 'n') {
				snprintf(why, whysize, "label \"%s\" has \"--\" in the third and "
					 "fourth positions but is not an A-label (RFC 5890 2.3.1)",
					 quote(label, lablen, q, sizeof(q)));
				return false;
			}
			if (!alabel_ok(label, why, whysize))
				return false;
		}
		numeric = true;
		for (k = 0; k < lablen; k++)
			if (label[k] < '0' || label[k] > '9')
				numeric = false;
		nlabels++;
		start = i + 1;
	}
	if (numeric) {
		snprintf(why, whysize, "the last label is all digits (RFC 3696 2)");
		return false;
	}
	if (s[0] == '*' && nlabels < 2) {
		snprintf(why, whysize, "a wildcard needs at least two labels after \"*.\"");
		return false;
	}
	return true;
}

static bool
host_ok(const char *s, size_t len, bool wildcard)
{
	char why[8];

	return host_check(s, len, wildcard, why, sizeof(why));
}

bool
be_dns_name_valid(const char *s, size_t len, bool wildcard, char *why, size_t whysize)
{
	return host_check(s, len, wildcard, why, whysize);
}

bool
be_dns_is_wildcard(const char *name)
{
	return name != NULL && name[0] == '*' && name[1] == '.';
}

/* RFC 5322 3.4.1 addr-spec restricted to a dot-atom local part (RFC 5322 3.2.3; no quoted
 * strings, no comments) of at most 64 octets (RFC 5321 4.5.3.1.1) and a host-name domain;
 * at most 254 octets in all. */
static bool
addr_spec_ok(const char *s, size_t len)
{
	static const char atext[] = "!#$%&'*+-/=?^_`{|}~";
	const char *at;
	size_t i, local;
	unsigned char c;

	if (len == 0 || len > 254 || (at = memchr(s, '@', len)) == NULL)
		return false;
	local = (size_t)(at - s);
	if (local == 0 || local > 64 || s[0] == '.' || s[local - 1] == '.')
		return false;
	for (i = 0; i < local; i++) {
		c = (unsigned char)s[i];
		if (c == '.') {
			if (s[i + 1] == '.')
				return false;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || (c != '\0' && strchr(atext, c) != NULL)))
			return false;
	}
	return host_ok(at + 1, len - local - 1, false);
}

static bool
country_ok(const char *s, size_t len)
{
	size_t i;

	if (len != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z')
		return false;
	for (i = 0; i + 1 < sizeof(iso3166); i += 2)
		if (iso3166[i] == s[0] && iso3166[i + 1] == s[1])
			return true;
	return false;
}

const struct be_dn_info *
be_dn_info(enum be_dn_attr a)
{
	if ((int)a < 0 || a >= BE_DN__COUNT)
		return NULL;
	return &dn_table[a];
}

int
be_dn_lookup(const char *name, enum be_dn_attr *out)
{
	size_t i;
	int rc = BE_E_NOTFOUND;

	if (name == NULL)
		goto out;
	for (i = 0; i < BE_DN__COUNT; i++) {
		if (strcasecmp(name, dn_table[i].key) == 0 ||
		    strcasecmp(name, dn_table[i].ldap) == 0 ||
		    strcmp(name, dn_table[i].oid) == 0) {
			*out = dn_table[i].attr;
			rc = BE_OK;
			goto out;
		}
	}
	for (i = 0; i < sizeof(dn_alias) / sizeof(dn_alias[0]); i++) {
		if (strcasecmp(name, dn_alias[i].name) == 0) {
			*out = dn_alias[i].attr;
			rc = BE_OK;
			goto out;
		}
	}
out:
	return rc;
}

/* Checks value for attribute info; returns 0 or BE_E_POLICY with a sentence. */
static int
dn_value_check(const struct be_dn_info *info, const char *value, size_t len,
	       struct be_err *e)
{
	char q[4 * QUOTE_MAX + 8];
	size_t i, nchars = 0;
	int rc = BE_OK;

	if (len == 0) {
		rc = be_err_set(e, BE_E_POLICY, "subject %s: empty value", info->key);
		goto out;
	}
	/* a C that is not two letters is refused below as not a country code */
	if (len > 4 * (size_t)info->max_len && info->attr != BE_DN_C) {
		rc = be_err_set(e, BE_E_POLICY, "subject %s: longer than %u characters",
				info->key, info->max_len);
		goto out;
	}
	switch (text_check((const unsigned char *)value, len, &nchars)) {
	case TEXT_OK:
		break;
	case TEXT_NUL:
		rc = be_err_set(e, BE_E_POLICY, "subject %s: contains a NUL byte", info->key);
		goto out;
	case TEXT_CONTROL:
		rc = be_err_set(e, BE_E_POLICY, "subject %s: \"%s\" contains a control character",
				info->key, quote(value, len, q, sizeof(q)));
		goto out;
	case TEXT_UTF8:
		rc = be_err_set(e, BE_E_POLICY, "subject %s: \"%s\" is not valid UTF-8 (RFC 3629)",
				info->key, quote(value, len, q, sizeof(q)));
		goto out;
	}
	if (nchars > info->max_len && info->attr != BE_DN_C) {
		rc = be_err_set(e, BE_E_POLICY, "subject %s: longer than %u characters",
				info->key, info->max_len);
		goto out;
	}
	if (value[0] == ' ' || value[len - 1] == ' ') {
		rc = be_err_set(e, BE_E_POLICY, "subject %s: \"%s\" has a leading or trailing space",
				info->key, quote(value, len, q, sizeof(q)));
		goto out;
	}
	switch (info->attr) {
	case BE_DN_C:
		/* RFC 5280 A.1: X520countryName, PrintableString (SIZE (2)), ISO 3166 code */
		if (!country_ok(value, len))
			rc = be_err_set(e, BE_E_POLICY,
					"subject C: \"%s\" is not an ISO 3166-1 alpha-2 country code",
					quote(value, len, q, sizeof(q)));
		break;
	case BE_DN_SERIALNUMBER:
		/* RFC 5280 A.1: X520SerialNumber is a PrintableString */
		for (i = 0; i < len; i++) {
			if (!is_printable_string_char((unsigned char)value[i])) {
				rc = be_err_set(e, BE_E_POLICY,
						"subject serialNumber: \"%s\" has characters outside "
						"PrintableString (RFC 5280 A.1)",
						quote(value, len, q, sizeof(q)));
				break;
			}
		}
		break;
	case BE_DN_DC:
		/* RFC 4519 2.4: domainComponent is an IA5String */
		if (!is_ascii(value, len))
			rc = be_err_set(e, BE_E_POLICY,
					"subject DC: \"%s\" has characters outside IA5String "
					"(RFC 4519 2.4)", quote(value, len, q, sizeof(q)));
		break;
	case BE_DN_E:
		/* RFC 5280 A.1: emailAddress is an IA5String; RFC 2985 5.2.1 */
		if (!is_ascii(value, len) || !addr_spec_ok(value, len))
			rc = be_err_set(e, BE_E_POLICY,
					"subject E: \"%s\" is not an e-mail address (RFC 5322 3.4.1 "
					"addr-spec in IA5String)", quote(value, len, q, sizeof(q)));
		break;
	default:
		break;
	}
out:
	return rc;
}

int
be_name_add(struct be_name *n, enum be_dn_attr a, const char *value, size_t len,
	    struct be_err *e)
{
	const struct be_dn_info *info;
	struct be_rdn *v = NULL;
	char *copy = NULL;
	int rc = BE_OK;

	if ((info = be_dn_info(a)) == NULL) {
		rc = be_err_set(e, BE_E_INTERNAL, "subject: unknown attribute %d", (int)a);
		goto out;
	}
	if (n->n >= NAME_MAX_RDNS) {
		rc = be_err_set(e, BE_E_POLICY, "subject: more than %d attributes", NAME_MAX_RDNS);
		goto out;
	}
	if (value == NULL)
		len = 0;
	if ((rc = dn_value_check(info, value, len, e)) != BE_OK)
		goto out;
	if ((copy = malloc(len + 1)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(copy, value, len);
	copy[len] = '\0';
	if ((v = realloc(n->v, (n->n + 1) * sizeof(*v))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	n->v = v;
	n->v[n->n].attr = a;
	n->v[n->n].value = copy;
	n->n++;
	copy = NULL;
out:
	free(copy);
	return rc;
}

const char *
be_name_get(const struct be_name *n, enum be_dn_attr a)
{
	size_t i;

	for (i = 0; i < n->n; i++)
		if (n->v[i].attr == a)
			return n->v[i].value;
	return NULL;
}

bool
be_name_equal(const struct be_name *a, const struct be_name *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (a->v[i].attr != b->v[i].attr || strcmp(a->v[i].value, b->v[i].value) != 0)
			return false;
	return true;
}

/* RFC 4514 2.4: the characters escaped with a backslash anywhere in a value. */
static bool
rfc4514_special(char c)
{
	return c == '"' || c == '+' || c == ',' || c == ';' || c == '<' || c == '>' ||
	       c == '\\';
}

char *
be_name_to_string(const struct be_name *n)
{
	const char *key, *val;
	char *s = NULL;
	size_t i, j, r, vlen, size = 1, o = 0;

	for (i = 0; i < n->n; i++)
		size += strlen(dn_table[n->v[i].attr].key) + 2 + 2 * strlen(n->v[i].value);
	if ((s = malloc(size)) == NULL)
		goto out;
	/* RFC 4514 2.1: the last RDN of the sequence comes first */
	for (r = n->n; r > 0; r--) {
		i = r - 1;
		key = dn_table[n->v[i].attr].key;
		val = n->v[i].value;
		vlen = strlen(val);
		if (r != n->n)
			s[o++] = ',';
		memcpy(s + o, key, strlen(key));
		o += strlen(key);
		s[o++] = '=';
		for (j = 0; j < vlen; j++) {
			if (rfc4514_special(val[j]) ||
			    (j == 0 && (val[j] == '#' || val[j] == ' ')) ||
			    (j == vlen - 1 && val[j] == ' '))
				s[o++] = '\\';
			s[o++] = val[j];
		}
	}
	s[o] = '\0';
out:
	return s;
}

int
be_name_copy(struct be_name *dst, const struct be_name *src)
{
	size_t i;
	int rc = BE_OK;

	dst->v = NULL;
	dst->n = 0;
	if (src->n == 0)
		goto out;
	if ((dst->v = calloc(src->n, sizeof(*dst->v))) == NULL) {
		rc = BE_E_NOMEM;
		goto out;
	}
	for (i = 0; i < src->n; i++) {
		dst->v[i].attr = src->v[i].attr;
		if ((dst->v[i].value = strdup(src->v[i].value)) == NULL) {
			rc = BE_E_NOMEM;
			goto out;
		}
		dst->n++;
	}
out:
	if (rc != BE_OK)
		be_name_clear(dst);
	return rc;
}

void
be_name_clear(struct be_name *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n; i++)
		free(n->v[i].value);
	free(n->v);
	n->v = NULL;
	n->n = 0;
}

/* ---------------------------------------------------------------- subjectAltName */

static const char *const san_names[BE_SAN__COUNT] = { "dns", "email", "ip", "uri" };
static const char *const san_labels[BE_SAN__COUNT] = { "DNS", "email", "IP", "URI" };

/* RFC 3986 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ":" and a
 * non-empty rest of printable ASCII without spaces (RFC 5280 4.2.1.6: no relative URIs). */
static bool
uri_ok(const char *s, size_t len)
{
	size_t i, colon = 0;
	unsigned char c;

	if (len == 0 || len > URI_MAX)
		return false;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f)
			return false;
		if (colon > 0)
			continue;
		if (c == ':' && i > 0)
			colon = i;
		else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' ||
				      c == '.'))))
			return false;
	}
	return colon > 0 && colon + 1 < len;
}

static int
sans_append(struct be_sans *s, const struct be_san *san, struct be_err *e)
{
	struct be_san *v;
	int rc = BE_OK;

	if (s->n >= SANS_MAX) {
		rc = be_err_set(e, BE_E_POLICY, "subjectAltName: more than %d names", SANS_MAX);
		goto out;
	}
	if ((v = realloc(s->v, (s->n + 1) * sizeof(*v))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	s->v = v;
	s->v[s->n++] = *san;
out:
	return rc;
}

static int
san_ip(struct be_san *san, const unsigned char *ip, size_t len, struct be_err *e)
{
	char text[INET6_ADDRSTRLEN];
	int rc = BE_OK;

	san->type = BE_SAN_IP;
	if (len != 4 && len != 16) {
		rc = be_err_set(e, BE_E_POLICY,
				"subjectAltName IP: %zu octets where 4 or 16 are required "
				"(RFC 5280 4.2.1.6)", len);
		goto out;
	}
	memcpy(san->ip, ip, len);
	san->iplen = (unsigned)len;
	if (inet_ntop(len == 4 ? AF_INET : AF_INET6, ip, text, sizeof(text)) == NULL ||
	    (san->value = strdup(text)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
out:
	return rc;
}

int
be_sans_add(struct be_sans *s, enum be_san_type t, const char *value, size_t len,
	    struct be_err *e)
{
	struct be_san san;
	unsigned char ip[16];
	char q[4 * QUOTE_MAX + 8], text[INET6_ADDRSTRLEN], why[256];
	size_t i;
	int rc = BE_OK;

	memset(&san, 0, sizeof(san));
	san.type = t;
	if ((int)t < 0 || t >= BE_SAN__COUNT) {
		rc = be_err_set(e, BE_E_INTERNAL, "subjectAltName: unknown type %d", (int)t);
		goto out;
	}
	if (value == NULL)
		len = 0;
	if (len == 0) {
		rc = be_err_set(e, BE_E_POLICY, "subjectAltName %s: empty value", san_labels[t]);
		goto out;
	}
	if (memchr(value, '\0', len) != NULL) {
		rc = be_err_set(e, BE_E_POLICY, "subjectAltName %s: contains a NUL byte",
				san_labels[t]);
		goto out;
	}
	switch (t) {
	case BE_SAN_DNS:
		if (!host_check(value, len, true, why, sizeof(why))) {
			rc = be_err_set(e, BE_E_POLICY,
					"subjectAltName DNS: \"%s\" is not a valid host name "
					"(RFC 5280 4.2.1.6): %s", quote(value, len, q, sizeof(q)), why);
			goto out;
		}
		break;
	case BE_SAN_EMAIL:
		if (!is_ascii(value, len) || !addr_spec_ok(value, len)) {
			rc = be_err_set(e, BE_E_POLICY,
					"subjectAltName email: \"%s\" is not an e-mail address "
					"(RFC 5280 4.2.1.6, RFC 5322 3.4.1 addr-spec)",
					quote(value, len, q, sizeof(q)));
			goto out;
		}
		break;
	case BE_SAN_IP:
		if (len >= sizeof(text)) {
			rc = be_err_set(e, BE_E_POLICY,
					"subjectAltName IP: \"%s\" is not an IPv4 or IPv6 address",
					quote(value, len, q, sizeof(q)));
			goto out;
		}
		memcpy(text, value, len);
		text[len] = '\0';
		if (inet_pton(AF_INET, text, ip) == 1) {
			rc = san_ip(&san, ip, 4, e);
		} else if (inet_pton(AF_INET6, text, ip) == 1) {
			rc = san_ip(&san, ip, 16, e);
		} else {
			rc = be_err_set(e, BE_E_POLICY,
					"subjectAltName IP: \"%s\" is not an IPv4 or IPv6 address",
					quote(value, len, q, sizeof(q)));
		}
		if (rc != BE_OK)
			goto out;
		break;
	case BE_SAN_URI:
		if (!uri_ok(value, len)) {
			rc = be_err_set(e, BE_E_POLICY,
					"subjectAltName URI: \"%s\" is not an absolute URI of at most "
					"%d printable characters (RFC 5280 4.2.1.6, RFC 3986 3)",
					quote(value, len, q, sizeof(q)), URI_MAX);
			goto out;
		}
		break;
	default:
		break;
	}
	if (san.value == NULL) {
		if ((san.value = malloc(len + 1)) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		memcpy(san.value, value, len);
		san.value[len] = '\0';
		if (t == BE_SAN_DNS)
			for (i = 0; i < len; i++)
				if (san.value[i] >= 'A' && san.value[i] <= 'Z')
					san.value[i] = (char)(san.value[i] - 'A' + 'a');
	}
	if ((rc = sans_append(s, &san, e)) != BE_OK)
		goto out;
	san.value = NULL;
out:
	free(san.value);
	return rc;
}

int
be_sans_add_ip_raw(struct be_sans *s, const unsigned char *ip, size_t len, struct be_err *e)
{
	struct be_san san;
	int rc;

	memset(&san, 0, sizeof(san));
	if ((rc = san_ip(&san, ip, len, e)) != BE_OK)
		goto out;
	if ((rc = sans_append(s, &san, e)) != BE_OK)
		goto out;
	san.value = NULL;
out:
	free(san.value);
	return rc;
}

bool
be_san_equal(const struct be_san *a, const struct be_san *b)
{
	const char *at_a, *at_b;

	if (a->type != b->type)
		return false;
	switch (a->type) {
	case BE_SAN_DNS:
		return strcasecmp(a->value, b->value) == 0;
	case BE_SAN_IP:
		return a->iplen == b->iplen && memcmp(a->ip, b->ip, a->iplen) == 0;
	case BE_SAN_EMAIL:
		/* RFC 5321 2.4: the local part is case-sensitive, the domain is not */
		at_a = strrchr(a->value, '@');
		at_b = strrchr(b->value, '@');
		if (at_a == NULL || at_b == NULL || at_a - a->value != at_b - b->value)
			return strcmp(a->value, b->value) == 0;
		return memcmp(a->value, b->value, (size_t)(at_a - a->value)) == 0 &&
		       strcasecmp(at_a, at_b) == 0;
	default:
		return strcmp(a->value, b->value) == 0;
	}
}

bool
be_sans_equal(const struct be_sans *a, const struct be_sans *b)
{
	bool used[SANS_MAX];
	size_t i, j;

	if (a->n != b->n || a->n > SANS_MAX)
		return false;
	memset(used, 0, sizeof(used));
	for (i = 0; i < a->n; i++) {
		for (j = 0; j < b->n; j++) {
			if (!used[j] && be_san_equal(&a->v[i], &b->v[j])) {
				used[j] = true;
				break;
			}
		}
		if (j == b->n)
			return false;
	}
	return true;
}

int
be_sans_copy(struct be_sans *dst, const struct be_sans *src)
{
	size_t i;
	int rc = BE_OK;

	dst->v = NULL;
	dst->n = 0;
	if (src->n == 0)
		goto out;
	if ((dst->v = calloc(src->n, sizeof(*dst->v))) == NULL) {
		rc = BE_E_NOMEM;
		goto out;
	}
	for (i = 0; i < src->n; i++) {
		dst->v[i] = src->v[i];
		if ((dst->v[i].value = strdup(src->v[i].value)) == NULL) {
			rc = BE_E_NOMEM;
			goto out;
		}
		dst->n++;
	}
out:
	if (rc != BE_OK)
		be_sans_clear(dst);
	return rc;
}

void
be_sans_clear(struct be_sans *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++)
		free(s->v[i].value);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

const char *
be_san_type_name(enum be_san_type t)
{
	if ((int)t < 0 || t >= BE_SAN__COUNT)
		return "unknown";
	return san_names[t];
}
