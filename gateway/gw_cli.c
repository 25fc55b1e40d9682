/*
 * Offline subcommands on the same backend as the daemon: issue, list, revoke, audit, and
 * the credential hashers for certgate.json.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pwd.h>
#include <termios.h>
#include <unistd.h>

#include "be_issue.h"
#include "be_request.h"
#include "gw.h"
#include "gw_cli.h"

#define CLI_ROLES (BE_ROLE_CA_ADMIN | BE_ROLE_RO_ADMIN | BE_ROLE_CLIENT)

int
gw_cli_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char *end = NULL;
	unsigned long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int
load(const char *path, struct gw_config **cfg)
{
	struct be_err e = { 0, "" };

	if (path == NULL) {
		fprintf(stderr, "certgate: -c FILE is required\n");
		return -1;
	}
	if (gw_config_load(path, cfg, &e) != BE_OK) {
		fprintf(stderr, "certgate: %s\n", e.msg);
		return -1;
	}
	return 0;
}

/* "CN=a,O=b\, c" (RFC 4514 order or any) or "/C=DE/O=b/CN=a" (OpenSSL order). */
static int
parse_subject(const char *s, struct be_name *out, struct be_err *e)
{
	char buf[1024], val[1024];
	char sepc = ',';
	size_t i = 0, bl = 0;
	int rc = BE_OK;

	if (strlen(s) >= sizeof(buf))
		return be_err_set(e, BE_E_MALFORMED, "--subject: too long");
	if (s[0] == '/') {
		sepc = '/';
		s++;
	}
	for (;; i++) {
		char c = s[i];

		if (c == '\\' && s[i + 1] != '\0') {
			buf[bl++] = s[++i];
			continue;
		}
		if (c != sepc && c != '\0') {
			buf[bl++] = c;
			continue;
		}
		buf[bl] = '\0';
		if (bl > 0) {
			char *eq = strchr(buf, '=');
			enum be_dn_attr a;
			size_t vl;

			if (eq == NULL)
				return be_err_set(e, BE_E_MALFORMED, "--subject: \"%s\" lacks '='", buf);
			*eq = '\0';
			while (buf[0] == ' ')
				memmove(buf, buf + 1, strlen(buf));
			if (be_dn_lookup(buf, &a) != BE_OK)
				return be_err_set(e, BE_E_MALFORMED, "--subject: unknown attribute %s",
						  buf);
			vl = strlen(eq + 1);
			memcpy(val, eq + 1, vl + 1);
			if ((rc = be_name_add(out, a, val, vl, e)) != BE_OK)
				return rc;
		}
		bl = 0;
		if (c == '\0')
			break;
	}
	return rc;
}

static int
write_out(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd;
	bool ok;

	if (path == NULL || strcmp(path, "-") == 0)
		return fwrite(data, 1, len, stdout) == len ? 0 : -1;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		fprintf(stderr, "certgate: %s: %s\n", path, strerror(errno));
		return -1;
	}
	/* fsync of a device such as /dev/null fails with EINVAL: nothing to make durable. */
	ok = write(fd, data, len) == (ssize_t)len && (fsync(fd) == 0 || errno == EINVAL);
	close(fd);
	if (!ok)
		fprintf(stderr, "certgate: %s: write failed\n", path);
	return ok ? 0 : -1;
}

int
gw_cmd_issue(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "profile", required_argument, NULL, 'p' },
		{ "csr", required_argument, NULL, 'r' },
		{ "pubkey", required_argument, NULL, 'k' },
		{ "keygen", optional_argument, NULL, 'g' },
		{ "subject", required_argument, NULL, 's' },
		{ "dns", required_argument, NULL, 'D' },
		{ "ip", required_argument, NULL, 'I' },
		{ "email", required_argument, NULL, 'E' },
		{ "uri", required_argument, NULL, 'U' },
		{ "days", required_argument, NULL, 'd' },
		{ "out", required_argument, NULL, 'o' },
		{ "key-out", required_argument, NULL, 'K' },
		{ "p12-out", required_argument, NULL, 'P' },
		{ "p12-pass", required_argument, NULL, 'w' },
		{ "chain", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	struct gw_config *cfg = NULL;
	struct be_err e = { 0, "" };
	struct be_request req;
	struct be_result res;
	struct be_op_ctx op;
	struct be_csr *csr = NULL;
	struct be_name subject = { NULL, 0 };
	struct be_sans sans = { NULL, 0 };
	gnutls_pubkey_t pub = NULL;
	struct be_keyspec pubspec;
	gnutls_datum_t pem = { NULL, 0 };
	gnutls_datum_t certs[9];
	const char *conf = NULL, *profile = NULL, *csr_file = NULL, *pub_file = NULL,
		   *out = NULL, *key_out = NULL, *p12_out = NULL, *p12_pass = NULL, *subj = NULL;
	unsigned char *buf = NULL;
	size_t len = 0, i;
	bool keygen = false, chain = false, have_sans = false;
	int c, rc = 1;

	memset(&req, 0, sizeof(req));
	memset(&res, 0, sizeof(res));
	memset(&op, 0, sizeof(op));
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		enum be_san_type t;

		switch (c) {
		case 'c': conf = optarg; break;
		case 'p': profile = optarg; break;
		case 'r': csr_file = optarg; break;
		case 'k': pub_file = optarg; break;
		case 'g':
			keygen = true;
			if (optarg != NULL && be_keyspec_parse(optarg, &req.keygen) != BE_OK) {
				fprintf(stderr, "certgate issue: unknown key type %s\n", optarg);
				goto out;
			}
			break;
		case 's': subj = optarg; break;
		case 'D': case 'I': case 'E': case 'U':
			t = c == 'D' ? BE_SAN_DNS : c == 'I' ? BE_SAN_IP :
			    c == 'E' ? BE_SAN_EMAIL : BE_SAN_URI;
			/* Validated here; a refusal is reported (and audited) once the
			 * configuration is loaded. */
			(void)be_sans_add(&sans, t, optarg, strlen(optarg), &e);
			have_sans = true;
			break;
		case 'd':
			if (gw_cli_uint(optarg, 1, 36500, &req.validity_days) != 0) {
				fprintf(stderr, "certgate issue: --days: 1..36500\n");
				goto out;
			}
			break;
		case 'o': out = optarg; break;
		case 'K': key_out = optarg; break;
		case 'P': p12_out = optarg; break;
		case 'w': p12_pass = optarg; break;
		case 'C': chain = true; break;
		default:
			goto usage;
		}
	}
	if (optind != argc || profile == NULL ||
	    (csr_file != NULL) + (pub_file != NULL) + keygen != 1)
		goto usage;
	if (load(conf, &cfg) != 0)
		goto out;
	req.adapter = op.adapter = "cli";
	req.operation = op.operation = "issue";
	req.principal.name = op.principal.name = "cli";
	req.principal.roles = op.principal.roles = CLI_ROLES;
	if ((req.profile = be_ctx_profile(cfg->be, profile)) == NULL) {
		be_err_set(&e, BE_E_NOTFOUND, "no profile named %s", profile);
		goto refused;
	}
	if (e.code != 0)
		goto refused;
	if (subj != NULL && parse_subject(subj, &subject, &e) != BE_OK)
		goto refused;
	if (csr_file != NULL || pub_file != NULL) {
		if (be_file_read(csr_file ? csr_file : pub_file, 1 << 20, &buf, &len, &e) != BE_OK)
			goto refused;
		if (csr_file != NULL ? be_csr_parse(buf, len, 0, &csr, &e) != BE_OK :
		    be_pubkey_parse(buf, len, &pub, &pubspec, &e) != BE_OK)
			goto refused;
	}
	req.csr = csr;
	req.pubkey = pub;
	req.subject = subj != NULL ? &subject : NULL;
	req.sans = have_sans ? &sans : NULL;
	if (keygen) {
		req.key_fmt = p12_out != NULL ? BE_KEYFMT_PKCS12 : BE_KEYFMT_PEM;
		req.key_syntax = BE_KEY_PKCS8;
		req.p12_password = p12_pass;
		if (p12_out == NULL && key_out == NULL) {
			fprintf(stderr, "certgate issue: --keygen needs --key-out or --p12-out\n");
			goto out;
		}
	}
	if (be_issue(cfg->be, &req, &res, &e) != BE_OK) {
		fprintf(stderr, "certgate issue: refused: %s\n", e.msg);
		goto out;
	}
	if (res.pending) {
		fprintf(stderr, "certgate issue: request %lld waits for approval\n",
			(long long)res.request_id);
		rc = 0;
		goto out;
	}
	certs[0] = res.cert;
	for (i = 0; chain && i < res.n_chain && i < 8; i++)
		certs[i + 1] = res.chain[i];
	if (be_encode_pem_certs(certs, chain ? 1 + i : 1, &pem, &e) != BE_OK ||
	    write_out(out, pem.data, pem.size, 0644) != 0)
		goto out;
	if (res.key_out.data != NULL &&
	    write_out(p12_out != NULL ? p12_out : key_out, res.key_out.data, res.key_out.size,
		      0600) != 0)
		goto out;
	fprintf(stderr, "issued serial %s (%s)\n", res.serial_hex, res.serial_dec);
	if (res.p12_password[0] != '\0')
		fprintf(stderr, "PKCS#12 password: %s\n", res.p12_password);
	rc = 0;
	goto out;
refused:
	fprintf(stderr, "certgate issue: refused: %s\n", e.msg);
	be_audit_refusal(cfg->be, &op, req.profile != NULL ? req.profile->name : profile, e.msg);
	goto out;
usage:
	fprintf(stderr, "usage: certgate issue -c FILE --profile NAME (--csr FILE | --pubkey FILE "
		"| --keygen[=TYPE]) [--subject DN] [--dns N] [--ip A] [--email M] [--uri U] "
		"[--days N] [--out FILE] [--key-out FILE | --p12-out FILE [--p12-pass PW]] "
		"[--chain]\n");
	rc = 2;
out:
	be_datum_free(&pem);
	be_result_clear(&res);
	be_csr_free(csr);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	be_name_clear(&subject);
	be_sans_clear(&sans);
	free(buf);
	gw_config_free(cfg);
	return rc;
}

static int
status_parse(const char *s)
{
	if (strcmp(s, "valid") == 0)
		return BE_CERT_VALID;
	if (strcmp(s, "revoked") == 0)
		return BE_CERT_REVOKED;
	if (strcmp(s, "hold") == 0)
		return BE_CERT_HOLD;
	return -2;
}

static void
print_time(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
}

int
gw_cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "profile", required_argument, NULL, 'p' },
		{ "status", required_argument, NULL, 's' },
		{ "serial", required_argument, NULL, 'n' },
		{ "deleted", no_argument, NULL, 'd' },
		{ "limit", required_argument, NULL, 'l' },
		{ "offset", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct gw_config *cfg = NULL;
	struct be_cert_filter f;
	struct be_cert_rec *recs = NULL;
	struct be_err e = { 0, "" };
	const char *conf = NULL;
	size_t n = 0, total = 0, i;
	unsigned u;
	int c, rc = 1;

	memset(&f, 0, sizeof(f));
	f.status = -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'p': f.profile = optarg; break;
		case 'n': f.serial = optarg; break;
		case 'd': f.include_deleted = true; break;
		case 's':
			if ((f.status = status_parse(optarg)) == -2)
				goto usage;
			break;
		case 'l':
			if (gw_cli_uint(optarg, 1, 100000, &u) != 0)
				goto usage;
			f.limit = u;
			break;
		case 'o':
			if (gw_cli_uint(optarg, 0, 1u << 31, &u) != 0)
				goto usage;
			f.offset = u;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc)
		goto usage;
	if (load(conf, &cfg) != 0)
		goto out;
	if (be_store_cert_list(cfg->be->store, &f, &recs, &n, &total, &e) != BE_OK) {
		fprintf(stderr, "certgate list: %s\n", e.msg);
		goto out;
	}
	printf("%-34s %-8s %-22s %-20s %s\n", "SERIAL", "STATUS", "NOT AFTER", "PROFILE",
	       "SUBJECT");
	for (i = 0; i < n; i++) {
		char na[32];

		print_time(recs[i].not_after, na, sizeof(na));
		printf("%-34s %-8s %-22s %-20s %s%s\n", recs[i].serial,
		       be_cert_status_name(recs[i].status), na, recs[i].profile ? recs[i].profile : "",
		       recs[i].subject ? recs[i].subject : "", recs[i].deleted ? " (deleted)" : "");
	}
	fprintf(stderr, "%zu of %zu certificates\n", n, total);
	rc = 0;
	goto out;
usage:
	fprintf(stderr, "usage: certgate list -c FILE [--profile P] [--status valid|revoked|hold] "
		"[--serial HEX] [--deleted] [--limit N] [--offset N]\n");
	rc = 2;
out:
	be_cert_recs_free(recs, n);
	gw_config_free(cfg);
	return rc;
}

static int
reason_parse(const char *s, int *out)
{
	static const char *const names[] = {
		"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
		"superseded", "cessationOfOperation", "certificateHold", NULL,
		"removeFromCRL", "privilegeWithdrawn", "aACompromise",
	};
	unsigned u;
	int i;

	for (i = 0; i < 11; i++) {
		if (names[i] != NULL && strcmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	if (gw_cli_uint(s, 0, 10, &u) != 0)
		return -1;
	*out = (int)u;
	return 0;
}

int
gw_cmd_revoke(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "reason", required_argument, NULL, 'r' },
		{ "reactivate", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct gw_config *cfg = NULL;
	struct be_err e = { 0, "" };
	struct be_op_ctx op;
	const char *conf = NULL;
	bool reactivate = false;
	int c, reason = 0, rc = 1, r;

	memset(&op, 0, sizeof(op));
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'a': reactivate = true; break;
		case 'r':
			if (reason_parse(optarg, &reason) != 0)
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	if (optind + 1 != argc)
		goto usage;
	if (load(conf, &cfg) != 0)
		goto out;
	op.adapter = "cli";
	op.operation = reactivate ? "reactivate" : "revoke";
	op.principal.name = "cli";
	op.principal.roles = CLI_ROLES;
	r = reactivate ? be_cert_reactivate(cfg->be, &op, argv[optind], &e) :
	    be_cert_revoke(cfg->be, &op, argv[optind], reason, &e);
	if (r != BE_OK) {
		fprintf(stderr, "certgate %s: %s\n", op.operation, e.msg);
		goto out;
	}
	fprintf(stderr, "%s %s\n", argv[optind], reactivate ? "reactivated" :
		reason == 6 ? "on hold" : "revoked");
	rc = 0;
	goto out;
usage:
	fprintf(stderr, "usage: certgate revoke -c FILE SERIAL [--reason NAME|N] | "
		"certgate revoke -c FILE SERIAL --reactivate\n");
	rc = 2;
out:
	gw_config_free(cfg);
	return rc;
}

static int
audit_print(const struct be_audit_rec *a, void *arg)
{
	char at[32];

	(void)arg;
	print_time(a->at, at, sizeof(at));
	printf("%lld %s %s %s %s principal=%s profile=%s peer=%s serial=%s: %s\n",
	       (long long)a->id, at, a->adapter ? a->adapter : "-",
	       a->operation ? a->operation : "-", a->outcome ? a->outcome : "-",
	       a->principal ? a->principal : "-", a->profile ? a->profile : "-",
	       a->peer ? a->peer : "-", a->serial ? a->serial : "-", a->reason ? a->reason : "");
	return 0;
}

int
gw_cmd_audit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "after", required_argument, NULL, 'a' },
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct gw_config *cfg = NULL;
	struct be_err e = { 0, "" };
	const char *conf = NULL;
	unsigned after = 0, limit = 1000;
	int c, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'a':
			if (gw_cli_uint(optarg, 0, 0x7fffffff, &after) != 0)
				goto usage;
			break;
		case 'l':
			if (gw_cli_uint(optarg, 1, 1000000, &limit) != 0)
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc)
		goto usage;
	if (load(conf, &cfg) != 0)
		goto out;
	if (be_store_audit_scan(cfg->be->store, after, limit, audit_print, NULL, &e) != BE_OK) {
		fprintf(stderr, "certgate audit: %s\n", e.msg);
		goto out;
	}
	rc = 0;
	goto out;
usage:
	fprintf(stderr, "usage: certgate audit -c FILE [--after ID] [--limit N]\n");
	rc = 2;
out:
	gw_config_free(cfg);
	return rc;
}

/* Reads one line of a secret from stdin (echo off when a terminal). */
static int
read_secret(const char *prompt, char *buf, size_t len)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) != 0;
	size_t n;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	if (fgets(buf, (int)len, stdin) == NULL)
		buf[0] = '\0';
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return n > 0 ? 0 : -1;
}

int
gw_cmd_hash_password(int argc, char **argv)
{
	char pw[512];
	char *hash = NULL;
	unsigned iter = 100000;
	int rc = 1;

	if (argc == 3 && strcmp(argv[1], "--iterations") == 0) {
		if (gw_cli_uint(argv[2], 10000, 10000000, &iter) != 0)
			goto usage;
	} else if (argc != 1) {
		goto usage;
	}
	if (read_secret("password: ", pw, sizeof(pw)) != 0) {
		fprintf(stderr, "certgate hash-password: empty password\n");
		goto out;
	}
	if (gw_auth_hash_password(pw, iter, &hash) != 0) {
		fprintf(stderr, "certgate hash-password: failed\n");
		goto out;
	}
	printf("%s\n", hash);
	rc = 0;
	goto out;
usage:
	fprintf(stderr, "usage: certgate hash-password [--iterations N] < password\n");
	rc = 2;
out:
	be_memzero(pw, sizeof(pw));
	free(hash);
	return rc;
}

int
gw_cmd_hash_api_key(int argc, char **argv)
{
	char key[512];
	char *hash = NULL;
	int rc = 1;

	if (argc != 1) {
		fprintf(stderr, "usage: certgate hash-api-key < key\n");
		return 2;
	}
	if (read_secret("API key: ", key, sizeof(key)) != 0 ||
	    gw_auth_hash_api_key(key, &hash) != 0) {
		fprintf(stderr, "certgate hash-api-key: failed\n");
		goto out;
	}
	printf("%s\n", hash);
	rc = 0;
out:
	be_memzero(key, sizeof(key));
	free(hash);
	return rc;
}

/* The first line of file path into buf (secret); 0 or -1 with a message on stderr. */
static int
read_secret_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	buf[0] = '\0';
	if (f == NULL) {
		fprintf(stderr, "certgate request: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fgets(buf, (int)len, f) == NULL)
		buf[0] = '\0';
	fclose(f);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (n == 0) {
		fprintf(stderr, "certgate request: %s: empty\n", path);
		return -1;
	}
	return 0;
}

/* Who acts on a request from the command line: the principal whose own credential (its
 * password, from --password-file or the terminal, or its API key from --api-key-file) checks
 * exactly as over HTTP (gw_auth_password, gw_auth_api_key).  *who borrows from cfg. */
static int
cli_approver(const struct gw_config *cfg, const char *as, const char *pw_file,
	     const char *key_file, const struct gw_principal **who, struct be_err *e)
{
	char secret[1024];
	int rc;

	*who = NULL;
	secret[0] = '\0';
	if (pw_file != NULL && key_file != NULL) {
		rc = be_err_set(e, BE_E_MALFORMED, "give --password-file or --api-key-file, not "
				"both");
		goto out;
	}
	if (key_file != NULL) {
		if (read_secret_file(key_file, secret, sizeof(secret)) != 0) {
			rc = be_err_set(e, BE_E_UNAUTH, "no API key in %s", key_file);
			goto out;
		}
		if ((rc = gw_auth_api_key(cfg, secret, who, e)) != BE_OK)
			goto out;
		if (as != NULL && strcmp(as, (*who)->name) != 0) {
			rc = be_err_set(e, BE_E_UNAUTH, "the API key in %s is not %s's", key_file,
					as);
			*who = NULL;
		}
		goto out;
	}
	if (as == NULL) {
		rc = be_err_set(e, BE_E_UNAUTH, "--as NAME is required: the principal who decides, "
				"proven by its password or --api-key-file");
		goto out;
	}
	if (pw_file != NULL ? read_secret_file(pw_file, secret, sizeof(secret)) != 0 :
	    read_secret("password: ", secret, sizeof(secret)) != 0) {
		rc = be_err_set(e, BE_E_UNAUTH, "no password for %s", as);
		goto out;
	}
	rc = gw_auth_password(cfg, as, secret, who, e);
out:
	be_memzero(secret, sizeof(secret));
	return rc;
}

static void
request_show(const struct be_req_rec *r)
{
	printf("id: %lld\nstatus: %s\napprovals: %u/%u\nprofile: %s\nprincipal: %s\n"
	       "adapter: %s\ncsr: %s\nreason: %s\nrecord: %s\n", (long long)r->id,
	       be_req_status_name(r->status), r->approvals, r->approvals_needed,
	       r->profile ? r->profile : "", r->principal ? r->principal : "",
	       r->adapter ? r->adapter : "", r->csr_der.size > 0 ? "yes" : "no",
	       r->reason ? r->reason : "", r->data ? r->data : "");
}

/* `certgate request -c FILE list [--status S] | show ID | approve ID | reject ID
 * [--reason TEXT] | cancel ID | expire`: any request, whichever front end made it, under the
 * backend's rules (be_request.h).  Deciding needs the acting principal's credential; the
 * audit names it and the Unix user who ran the command. */
int
gw_cmd_request(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "status", required_argument, NULL, 's' },
		{ "reason", required_argument, NULL, 'r' },
		{ "as", required_argument, NULL, 'a' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "api-key-file", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const names[] = { "PENDING", "APPROVED", "ISSUED", "REJECTED",
					     "CANCELLED", "EXPIRED", "FAILED" };
	struct gw_config *cfg = NULL;
	struct be_err e = { 0, "" };
	struct be_req_rec *recs = NULL, *one = NULL;
	const struct gw_principal *who = NULL;
	struct be_op_ctx op;
	struct passwd *pw;
	const char *conf = NULL, *reason = NULL, *as = NULL, *pw_file = NULL, *key_file = NULL;
	const char *verb;
	char *end = NULL, unix_user[96], why[BE_ERR_MSG_MAX + 160];
	long long id = 0;
	size_t n = 0, i, expired = 0;
	bool approved = false;
	int c, status = BE_REQ_PENDING, rc = 1, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'r': reason = optarg; break;
		case 'a': as = optarg; break;
		case 'p': pw_file = optarg; break;
		case 'k': key_file = optarg; break;
		case 's':
			status = -2;
			for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
				if (strcasecmp(optarg, names[i]) == 0)
					status = (int)i;
			if (strcasecmp(optarg, "all") == 0)
				status = -1;
			if (status == -2)
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	if (optind >= argc)
		goto usage;
	verb = argv[optind];
	if (strcmp(verb, "list") == 0 || strcmp(verb, "expire") == 0) {
		if (optind + 1 != argc)
			goto usage;
	} else if (strcmp(verb, "approve") == 0 || strcmp(verb, "reject") == 0 ||
		   strcmp(verb, "cancel") == 0 || strcmp(verb, "show") == 0) {
		if (optind + 2 != argc)
			goto usage;
		errno = 0;
		id = strtoll(argv[optind + 1], &end, 10);
		if (errno != 0 || *end != '\0' || id <= 0)
			goto usage;
	} else {
		goto usage;
	}
	if (load(conf, &cfg) != 0)
		goto out;
	if (strcmp(verb, "list") == 0) {
		if (be_store_req_list(cfg->be->store, status, 0, 1000, &recs, &n, &e) != BE_OK) {
			fprintf(stderr, "certgate request: %s\n", e.msg);
			goto out;
		}
		printf("%-8s %-10s %-9s %-24s %-16s %s\n", "ID", "STATUS", "APPROVALS", "PROFILE",
		       "PRINCIPAL", "ADAPTER");
		for (i = 0; i < n; i++)
			printf("%-8lld %-10s %u/%-7u %-24s %-16s %s\n", (long long)recs[i].id,
			       be_req_status_name(recs[i].status), recs[i].approvals,
			       recs[i].approvals_needed, recs[i].profile ? recs[i].profile : "",
			       recs[i].principal ? recs[i].principal : "",
			       recs[i].adapter ? recs[i].adapter : "");
		rc = 0;
		goto out;
	}
	if (strcmp(verb, "show") == 0) {
		if (be_store_req_get(cfg->be->store, id, &one, &e) != BE_OK) {
			fprintf(stderr, "certgate request show: %s\n", e.msg);
			goto out;
		}
		request_show(one);
		rc = 0;
		goto out;
	}

	/* Deciding: prove who acts first; a refusal at any step is audited. */
	pw = getpwuid(geteuid());
	snprintf(unix_user, sizeof(unix_user), "unix:%s(%lu)", pw != NULL && pw->pw_name != NULL ?
		 pw->pw_name : "?", (unsigned long)geteuid());
	memset(&op, 0, sizeof(op));
	op.adapter = "cli";
	op.operation = verb;
	op.peer = unix_user;
	if (cli_approver(cfg, as, pw_file, key_file, &who, &e) != BE_OK) {
		snprintf(why, sizeof(why), "certgate request %s%s%s by %s, claiming to be %s: %s",
			 verb, id > 0 ? " " : "", id > 0 ? argv[optind + 1] : "", unix_user,
			 as != NULL ? as : key_file != NULL ? "the holder of an API key" : "nobody",
			 e.msg);
		be_audit_refusal(cfg->be, &op, NULL, why);
		fprintf(stderr, "certgate request %s: %s\n", verb, e.msg);
		goto out;
	}
	op.principal.name = who->name;
	op.principal.roles = who->roles;
	if (strcmp(verb, "approve") == 0)
		r = be_request_approve(cfg->be, &op, id, &approved, &e);
	else if (strcmp(verb, "reject") == 0)
		r = be_request_reject(cfg->be, &op, id, reason, &e);
	else if (strcmp(verb, "cancel") == 0)
		r = be_request_cancel(cfg->be, &op, id, &e);
	else
		r = be_request_expire(cfg->be, &op, &expired, &e);
	if (r != BE_OK) {
		fprintf(stderr, "certgate request %s: %s\n", verb, e.msg);
		goto out;
	}
	if (strcmp(verb, "approve") == 0)
		fprintf(stderr, "request %lld %s\n", id, approved ? "approved" :
			"has this approval; more are needed");
	else if (strcmp(verb, "expire") == 0)
		fprintf(stderr, "%zu request(s) expired\n", expired);
	else
		fprintf(stderr, "request %lld %s\n", id, verb[0] == 'r' ? "rejected" : "cancelled");
	rc = 0;
	goto out;
usage:
	fprintf(stderr, "usage: certgate request -c FILE list [--status S|all] | show ID\n"
		"       certgate request -c FILE approve ID | reject ID [--reason TEXT] | "
		"cancel ID | expire\n"
		"               --as NAME [--password-file FILE] | --api-key-file FILE\n");
	rc = 2;
out:
	be_req_rec_free(one);
	be_req_recs_free(recs, n);
	gw_config_free(cfg);
	return rc;
}
