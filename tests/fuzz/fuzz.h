/*
 * certgate's fuzz drivers (libFuzzer's interface).  Each tests/fuzz/fuzz-<name>.c defines
 * LLVMFuzzerTestOneInput and may define LLVMFuzzerInitialize.  `make check` links each with
 * fuzz-replay.c (gcc, the configured sanitizers) and replays tests/fuzz/corpus/<name>/;
 * `make fuzz` links them with clang's libFuzzer and runs them (tests/fuzz/run.sh).
 */
#ifndef CERTGATE_FUZZ_H
#define CERTGATE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated malloc()ed copy of data (what a header or path arrives as: text up to
 * the first NUL), or NULL when out of memory. */
static inline char *
fuzz_text(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s != NULL) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

#endif
