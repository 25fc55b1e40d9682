/*
 * An LD_PRELOAD shim for tests/e2e-faults.sh: makes getrandom(2) fail, the way a broken
 * entropy source would, so that the daemon's handling of a crypto-library failure can be
 * seen with the real GnuTLS.
 *
 *   SHIM_GETRANDOM_TRIGGER=FILE   while FILE exists, the next call fails once (EIO) and
 *                                 FILE is removed; later calls succeed again
 *   SHIM_GETRANDOM_THREAD=NAME    only a call from a thread of that name (prctl
 *                                 PR_SET_NAME, /proc/thread-self/comm) fails: GnuTLS seeds
 *                                 one generator per thread, at the thread's first draw
 *   SHIM_GETRANDOM_RESEED=1       while FILE exists, time(2) in those threads reads three
 *                                 hours ahead: GnuTLS 3.7 reseeds a thread's generator from
 *                                 getrandom every two hours, at its next draw, so the failure
 *                                 lands inside whatever that thread is doing (a key
 *                                 generation), as it would at a real reseed
 *
 * Each failure is counted in the file named by SHIM_GETRANDOM_LOG (one line per failure), if
 * set, so that the test can tell that the failure happened.  Built by the tests only, never
 * installed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

ssize_t getrandom(void *buf, size_t len, unsigned int flags);
time_t time(time_t *t);

typedef ssize_t (*getrandom_fn)(void *, size_t, unsigned int);

/* True when SHIM_GETRANDOM_THREAD is unset or names the calling thread. */
static int
thread_matches(void)
{
	const char *want = getenv("SHIM_GETRANDOM_THREAD");
	char name[32];
	ssize_t n;
	int fd;

	if (want == NULL)
		return 1;
	fd = open("/proc/thread-self/comm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, name, sizeof(name) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	name[n] = '\0';
	if (name[n - 1] == '\n')
		name[n - 1] = '\0';
	return strcmp(name, want) == 0;
}

static void
note_failure(void)
{
	const char *log = getenv("SHIM_GETRANDOM_LOG");
	static const char line[] = "getrandom failed\n";
	int fd;

	if (log == NULL)
		return;
	fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	(void)!write(fd, line, sizeof(line) - 1);
	close(fd);
}

ssize_t
getrandom(void *buf, size_t len, unsigned int flags)
{
	static getrandom_fn real;
	const char *trigger = getenv("SHIM_GETRANDOM_TRIGGER");

	if (trigger != NULL && thread_matches() && unlink(trigger) == 0) {
		note_failure();
		errno = EIO;
		return -1;
	}
	if (real == NULL)
		real = (getrandom_fn)(void (*)(void))dlsym(RTLD_NEXT, "getrandom");
	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return real(buf, len, flags);
}

time_t
time(time_t *t)
{
	const char *trigger = getenv("SHIM_GETRANDOM_TRIGGER");
	const char *reseed = getenv("SHIM_GETRANDOM_RESEED");
	struct timespec ts;
	time_t now;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		ts.tv_sec = (time_t)-1;
	now = ts.tv_sec;
	if (trigger != NULL && reseed != NULL && strcmp(reseed, "1") == 0 &&
	    access(trigger, F_OK) == 0 && thread_matches())
		now += 3 * 3600;
	if (t != NULL)
		*t = now;
	return now;
}
