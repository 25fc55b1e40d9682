/*
 * Replays a fuzz driver's corpus without libFuzzer (p11-kit's layout): every file of
 * $top_srcdir/tests/fuzz/corpus/<name>/ (name from the program's own name, fuzz-<name>), or
 * of the files and directories given as arguments, is fed once to LLVMFuzzerTestOneInput.
 * TAP: one line per input.  A crash, a sanitizer report or a leak fails the program.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define INPUT_MAX (1024 * 1024)

/* A driver without one has this. */
__attribute__((weak)) int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static int n_run, n_bad;

static void
replay_file(const char *path)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	FILE *f;

	n_run++;
	if ((f = fopen(path, "rb")) == NULL) {
		printf("not ok %d - %s: %s\n", n_run, path, strerror(errno));
		n_bad++;
		return;
	}
	/* One byte more than the limit, to tell an over-long input. */
	if ((buf = malloc(INPUT_MAX + 1)) != NULL)
		len = fread(buf, 1, INPUT_MAX + 1, f);
	if (buf == NULL || ferror(f) || len > INPUT_MAX) {
		printf("not ok %d - %s: unreadable or longer than %d bytes\n", n_run, path,
		       INPUT_MAX);
		n_bad++;
	} else {
		/* A copy of exactly len bytes, so that ASan sees every over-read. */
		unsigned char *in = malloc(len > 0 ? len : 1);

		if (in == NULL) {
			printf("not ok %d - %s: out of memory\n", n_run, path);
			n_bad++;
		} else {
			memcpy(in, buf, len);
			LLVMFuzzerTestOneInput(in, len);
			free(in);
			printf("ok %d - %s (%zu bytes)\n", n_run, path, len);
		}
	}
	fflush(stdout);
	free(buf);
	fclose(f);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of dir in name order (a stable TAP numbering). */
static void
replay_dir(const char *dir)
{
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		printf("not ok %d - %s: %s\n", ++n_run, dir, strerror(errno));
		n_bad++;
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char **grown;

		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((grown = realloc(names, cap * sizeof(*names))) == NULL)
				break;
			names = grown;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			break;
		n++;
	}
	closedir(d);
	if (n == 0) {
		printf("not ok %d - %s: an empty corpus\n", ++n_run, dir);
		n_bad++;
		free(names);
		return;
	}
	qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		replay_file(path);
		free(names[i]);
	}
	free(names);
}

static void
replay(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		replay_dir(path);
	else
		replay_file(path);
}

int
main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/'), *srcdir = getenv("top_srcdir");
	char dir[4096];
	int i;

	base = base != NULL ? base + 1 : argv[0];
	if (strncmp(base, "lt-", 3) == 0)
		base += 3;
	if (strncmp(base, "fuzz-", 5) == 0)
		base += 5;
	LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		for (i = 1; i < argc; i++)
			replay(argv[i]);
	} else {
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s",
			 srcdir != NULL ? srcdir : ".", base);
		replay_dir(dir);
	}
	printf("1..%d\n", n_run);
	return n_bad ? 1 : 0;
}
