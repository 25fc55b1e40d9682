/*
 * A tiny TAP producer for certgate's unit tests (run by automake's tap-driver.sh).
 */
#ifndef CERTGATE_TAP_H
#define CERTGATE_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

static inline void
tap_plan(int n)
{
	printf("1..%d\n", n);
}

static inline int tap_ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline int
tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%s %d - ", cond ? "ok" : "not ok", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		tap_failed++;
	fflush(stdout);
	return cond;
}

static inline void
tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* Ends with a plan for the tests run (no plan was printed before) and the exit status. */
static inline int
tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

/* Evaluates got and want once each. */
#define TAP_IS_INT(got, want, name) \
	tap_is_int((long long)(got), (long long)(want), name)

static inline int
tap_is_int(long long got, long long want, const char *name)
{
	return tap_ok(got == want, "%s (got %lld want %lld)", name, got, want);
}

#endif
