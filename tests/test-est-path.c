/*
 * EST request paths (est_path_split, RFC 7030 section 3.2.2): the default and labelled
 * forms of every operation, and every malformed shape refused before routing.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "est.h"
#include "est_path.h"
#include "tap.h"

static void
split_ok(const char *path, const char *label, int op)
{
	const char *l = (const char *)1;
	size_t ll = 99;
	int o = -2, r = est_path_split(path, &l, &ll, &o);

	tap_ok(r == EST_PATH_OK && o == op &&
	       (label == NULL ? l == NULL && ll == 0 :
		l != NULL && ll == strlen(label) && memcmp(l, label, ll) == 0),
	       "/est-path/ok %s: label %s, operation %d (got %d, %.*s, %d)", path,
	       label != NULL ? label : "(default)", op, r, l != NULL ? (int)ll : 6,
	       l != NULL ? l : "(none)", o);
}

static void
split_bad(const char *path, int want, const char *label)
{
	const char *l = NULL;
	size_t ll = 0;
	int o = 0, r = est_path_split(path, &l, &ll, &o);

	tap_ok(r == want && (want == EST_PATH_OK || o == -1) &&
	       (label == NULL ? l == NULL : l != NULL && ll == strlen(label) &&
		memcmp(l, label, ll) == 0),
	       "/est-path/refused %s: %d (got %d, op %d)", path, want, r, o);
}

int
main(void)
{
	char path[200], label[80];

	split_ok("/.well-known/est/cacerts", NULL, EST_OP_CACERTS);
	split_ok("/.well-known/est/simpleenroll", NULL, EST_OP_SIMPLEENROLL);
	split_ok("/.well-known/est/simplereenroll", NULL, EST_OP_SIMPLEREENROLL);
	split_ok("/.well-known/est/serverkeygen", NULL, EST_OP_SERVERKEYGEN);
	split_ok("/.well-known/est/csrattrs", NULL, EST_OP_CSRATTRS);
	split_ok("/.well-known/est/fullcmc", NULL, EST_OP_FULLCMC);
	split_ok("/.well-known/est/devices/simpleenroll", "devices", EST_OP_SIMPLEENROLL);
	split_ok("/.well-known/est/arbitraryLabel1/cacerts", "arbitraryLabel1", EST_OP_CACERTS);
	split_ok("/.well-known/est/a.b_c-9/csrattrs", "a.b_c-9", EST_OP_CSRATTRS);
	/* an operation's name is a valid label: the router decides whether it is configured */
	split_ok("/.well-known/est/cacerts/simpleenroll", "cacerts", EST_OP_SIMPLEENROLL);
	snprintf(label, sizeof(label), "%064d", 0);
	snprintf(path, sizeof(path), "/.well-known/est/%s/cacerts", label);
	split_ok(path, label, EST_OP_CACERTS);

	split_bad("/.well-known/estx/cacerts", EST_PATH_NOT_EST, NULL);
	split_bad("/.well-known/est", EST_PATH_NOT_EST, NULL);
	split_bad("/well-known/est/cacerts", EST_PATH_NOT_EST, NULL);
	split_bad("", EST_PATH_NOT_EST, NULL);
	split_bad("/.well-known/est/", EST_PATH_BAD_OP, NULL);
	split_bad("/.well-known/est/enroll", EST_PATH_BAD_OP, NULL);
	split_bad("/.well-known/est/CACERTS", EST_PATH_BAD_OP, NULL);
	split_bad("/.well-known/est/cacerts?x=1", EST_PATH_BAD_OP, NULL);
	split_bad("/.well-known/est/devices/enroll", EST_PATH_BAD_OP, "devices");
	split_bad("/.well-known/est/devices/", EST_PATH_BAD_OP, "devices");
	split_bad("/.well-known/est/cacerts/", EST_PATH_BAD_OP, "cacerts");
	split_bad("/.well-known/est/a/b/cacerts", EST_PATH_BAD_SHAPE, NULL);
	split_bad("/.well-known/est//cacerts", EST_PATH_BAD_SHAPE, NULL);
	/* a dot segment is a label name like any other, unknown to the router: nothing maps
	 * paths to files */
	split_bad("/.well-known/est/../cacerts", EST_PATH_OK, "..");
	split_bad("/.well-known/est/%2e%2e/cacerts", EST_PATH_BAD_SHAPE, NULL);
	split_bad("/.well-known/est/dev%20ices/cacerts", EST_PATH_BAD_SHAPE, NULL);
	split_bad("/.well-known/est/dev ices/cacerts", EST_PATH_BAD_SHAPE, NULL);
	snprintf(path, sizeof(path), "/.well-known/est/%065d/cacerts", 0);
	split_bad(path, EST_PATH_BAD_SHAPE, NULL);
	snprintf(path, sizeof(path), "/.well-known/est/%065d", 0);
	split_bad(path, EST_PATH_BAD_OP, NULL);
	return tap_done();
}
