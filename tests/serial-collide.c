/*
 * An LD_PRELOAD shim for tests/e2e-collide.sh: makes certgate draw, as its next serial
 * numbers, one that a certificate of the same issuer already has, so that the store refuses
 * it as a duplicate and the path under test must draw again.
 *
 * be_serial_new (backend/be_ca.c) takes 9 octets from gnutls_rnd(GNUTLS_RND_NONCE, ..., 9)
 * and then the time in milliseconds from clock_gettime(CLOCK_REALTIME) for the 6 octets
 * before them.  With CERTGATE_COLLIDE_SERIAL = a taken serial (32 hex digits: 40, 6 octets of
 * time, 9 random octets) and CERTGATE_COLLIDE_COUNT = N, the next N such draws (in any
 * thread) return exactly that serial; everything else passes through.  Built without the
 * sanitizers; the test sets ASAN_OPTIONS=verify_asan_link_order=0.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#define SERIAL_OCTETS	16
#define TIME_OCTETS	6
#define RANDOM_OCTETS	9

static unsigned char victim[SERIAL_OCTETS];
static atomic_long left = -1;			/* -1: not read from the environment yet */
static _Thread_local long long pending_ms = -1;	/* a collided draw wants its time next */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void
setup(void)
{
	const char *s = getenv("CERTGATE_COLLIDE_SERIAL"), *n = getenv("CERTGATE_COLLIDE_COUNT");
	long count = 0, expect = -1;
	size_t i;

	if (s != NULL && n != NULL && strlen(s) == 2 * SERIAL_OCTETS) {
		for (i = 0; i < SERIAL_OCTETS; i++) {
			int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

			if (hi < 0 || lo < 0)
				break;
			victim[i] = (unsigned char)(hi << 4 | lo);
		}
		if (i == SERIAL_OCTETS)
			count = strtol(n, NULL, 10);
	}
	atomic_compare_exchange_strong(&left, &expect, count < 0 ? 0 : count);
}

int
gnutls_rnd(gnutls_rnd_level_t level, void *data, size_t len)
{
	static int (*real)(gnutls_rnd_level_t, void *, size_t);
	long n;
	size_t i;

	if (atomic_load(&left) < 0)
		setup();
	if (level == GNUTLS_RND_NONCE && len == RANDOM_OCTETS) {
		n = atomic_load(&left);
		while (n > 0 && !atomic_compare_exchange_weak(&left, &n, n - 1))
			;
		if (n > 0) {
			memcpy(data, victim + 1 + TIME_OCTETS, RANDOM_OCTETS);
			pending_ms = 0;
			for (i = 1; i <= TIME_OCTETS; i++)
				pending_ms = pending_ms << 8 | victim[i];
			return 0;
		}
	}
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "gnutls_rnd");
	return real != NULL ? real(level, data, len) : GNUTLS_E_RANDOM_FAILED;
}

int
clock_gettime(clockid_t clk, struct timespec *ts)
{
	static int (*real)(clockid_t, struct timespec *);

	if (clk == CLOCK_REALTIME && pending_ms >= 0) {
		ts->tv_sec = (time_t)(pending_ms / 1000);
		ts->tv_nsec = (long)(pending_ms % 1000) * 1000000L;
		pending_ms = -1;
		return 0;
	}
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "clock_gettime");
	return real != NULL ? real(clk, ts) : -1;
}
