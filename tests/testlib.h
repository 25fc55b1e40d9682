/*
 * Scratch-directory and file helpers shared by the C tests that check our output with the
 * openssl command line.  Include once per test program, after tap.h.
 */
#ifndef CERTGATE_TESTLIB_H
#define CERTGATE_TESTLIB_H

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[PATH_MAX];

static bool
tmp_setup(const char *tag)
{
	const char *base = getenv("TMPDIR");
	int n;

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	n = snprintf(tmpdir, sizeof(tmpdir), "%s/certgate-test-%s-XXXXXX", base, tag);
	if (n < 0 || (size_t)n >= sizeof(tmpdir))
		return false;
	return mkdtemp(tmpdir) != NULL;
}

static void
tmp_cleanup(void)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int n;

	if (tmpdir[0] == '\0')
		return;
	d = opendir(tmpdir);
	if (d != NULL) {
		for (de = readdir(d); de != NULL; de = readdir(d)) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			n = snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
			if (n > 0 && (size_t)n < sizeof(path))
				unlink(path);
		}
		closedir(d);
	}
	if (rmdir(tmpdir) != 0)
		tap_diag("could not remove %s: %s", tmpdir, strerror(errno));
}

static bool
write_file(const char *name, const void *data, size_t len)
{
	char path[PATH_MAX];
	FILE *f;
	bool ok;
	int n;

	n = snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return false;
	f = fopen(path, "wb");
	if (f == NULL)
		return false;
	ok = fwrite(data, 1, len, f) == len;
	if (fclose(f) != 0)
		ok = false;
	return ok;
}

/* Reads a file of the scratch directory; *out malloc()ed and NUL-terminated. */
static bool
read_file(const char *name, char **out, size_t *len)
{
	char path[PATH_MAX];
	char *buf = NULL, *nb;
	size_t cap = 0, used = 0, got;
	FILE *f;
	int n;

	*out = NULL;
	*len = 0;
	n = snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return false;
	f = fopen(path, "rb");
	if (f == NULL)
		return false;
	for (;;) {
		if (cap - used < 4096) {
			nb = realloc(buf, cap + 8192);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return false;
			}
			buf = nb;
			cap += 8192;
		}
		got = fread(buf + used, 1, cap - used - 1, f);
		used += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[used] = '\0';
	*out = buf;
	*len = used;
	return true;
}

#endif
