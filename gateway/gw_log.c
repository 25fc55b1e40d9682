/*
 * Logging: application messages and one access line per request, to stderr, as text
 * ("certgate: ...") or as JSON lines.  Under systemd stderr is a journald stream: each line
 * then starts with its syslog priority ("<6>", sd-daemon(3)), which journald takes as the
 * entry's priority and strips.
 *
 * Callers never pass key material, passwords or request bodies; the access line holds the
 * path without its query, and every field is cut and escaped so a client cannot forge lines.
 */
#include "config.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "be_json.h"
#include "be_utf8.h"
#include "gw.h"

#define LINE_MAX_BYTES 8192
#define LINE_RESERVE 256		/* room kept for the fields after a JSON string */
#define MSG_MAX 1024
#define PATH_FIELD_MAX 128
#define NAME_FIELD_MAX 64

static atomic_int log_format = GW_LOG_TEXT;
static atomic_int log_level = GW_LOG_INFO;
static atomic_int journal = -1;		/* stderr is a journald stream: -1 unknown, 0, 1 */

static const char *const level_names[] = { "error", "warning", "info", "debug" };
static const char level_prio[] = { '3', '4', '6', '7' };

/* ---------------------------------------------------------------- configuration */

int
gw_log_parse(struct gw_config *cfg, const json_t *root, struct be_err *e)
{
	static const char *const keys[] = { "format", "level", NULL };
	const json_t *log = NULL;
	const char *format = NULL, *level = NULL;
	size_t i;
	int rc;

	cfg->log_format = GW_LOG_TEXT;
	cfg->log_level = GW_LOG_INFO;
	if ((rc = be_json_obj(root, "", "log", false, &log, BE_E_CONFIG, e)) != BE_OK ||
	    log == NULL)
		goto out;
	if ((rc = be_json_keys(log, "log", keys, BE_E_CONFIG, e)) != BE_OK ||
	    (rc = be_json_str(log, "log", "format", false, &format, BE_E_CONFIG, e)) != BE_OK ||
	    (rc = be_json_str(log, "log", "level", false, &level, BE_E_CONFIG, e)) != BE_OK)
		goto out;
	if (format != NULL) {
		if (strcmp(format, "json") == 0) {
			cfg->log_format = GW_LOG_JSON;
		} else if (strcmp(format, "text") != 0) {
			rc = be_err_set(e, BE_E_CONFIG, "log.format: must be \"text\" or \"json\"");
			goto out;
		}
	}
	if (level != NULL) {
		for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
			if (strcmp(level, level_names[i]) == 0)
				break;
		if (i == sizeof(level_names) / sizeof(level_names[0])) {
			rc = be_err_set(e, BE_E_CONFIG, "log.level: must be \"error\", \"warning\", "
					"\"info\" or \"debug\"");
			goto out;
		}
		cfg->log_level = (enum gw_log_level)i;
	}
	rc = BE_OK;
out:
	return rc;
}

void
gw_log_apply(const struct gw_config *cfg)
{
	atomic_store(&log_format, (int)cfg->log_format);
	atomic_store(&log_level, (int)cfg->log_level);
}

bool
gw_log_enabled(enum gw_log_level level)
{
	return (int)level <= atomic_load(&log_level);
}

/* systemd.exec(5): JOURNAL_STREAM holds "device:inode" of the stream stderr was connected
 * to; when stderr still is that stream, journald reads our lines. */
static bool
on_journal(void)
{
	const char *js;
	struct stat st;
	char want[64];
	int j = atomic_load(&journal);

	if (j >= 0)
		return j == 1;
	js = getenv("JOURNAL_STREAM");
	j = 0;
	if (js != NULL && fstat(2, &st) == 0) {
		snprintf(want, sizeof(want), "%llu:%llu", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino);
		j = strcmp(js, want) == 0;
	}
	atomic_store(&journal, j);
	return j == 1;
}

/* ---------------------------------------------------------------- line building */

struct line {
	char b[LINE_MAX_BYTES];
	size_t n;
};

static void
put(struct line *l, const char *s, size_t len)
{
	if (len > sizeof(l->b) - 2 - l->n)		/* room for "\n\0" */
		len = sizeof(l->b) - 2 - l->n;
	memcpy(l->b + l->n, s, len);
	l->n += len;
}

static void
puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static void
putf(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
putf(struct line *l, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(l, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void
kv(struct line *l, const char *key, const char *value)
{
	puts_(l, key);
	puts_(l, value);
}

/* s as text: control characters become '?', so one message stays one line. */
static void
put_text(struct line *l, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p != '\0'; p++)
		put(l, *p < 0x20 || *p == 0x7f ? "?" : (const char *)p, 1);
}

/* s as a JSON string (RFC 8259 section 7), invalid UTF-8 replaced by U+FFFD; cut with
 * "..." where the line would not keep room for the rest of the object. */
static void
put_json_str(struct line *l, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	if (s == NULL) {
		puts_(l, "null");
		return;
	}
	puts_(l, "\"");
	while (*p != '\0') {
		if (l->n > sizeof(l->b) - LINE_RESERVE) {
			puts_(l, "...");
			break;
		}
		if (*p == '"' || *p == '\\') {
			put(l, "\\", 1);
			put(l, (const char *)p, 1);
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			putf(l, "\\u%04x", *p);
			p++;
		} else if ((n = be_utf8_next(p, strnlen((const char *)p, 4), NULL)) == 0) {
			puts_(l, "\\ufffd");
			p++;
		} else {
			put(l, (const char *)p, n);
			p += n;
		}
	}
	puts_(l, "\"");
}

static void
put_ts(struct line *l)
{
	struct timespec ts;
	struct tm tm;
	char buf[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	if (gmtime_r(&ts.tv_sec, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		puts_(l, "null");
		return;
	}
	putf(l, "\"%s.%03ldZ\"", buf, ts.tv_nsec / 1000000);
}

static void
line_start(struct line *l, enum gw_log_level level, int format)
{
	l->n = 0;
	if (on_journal()) {
		put(l, "<", 1);
		put(l, &level_prio[level], 1);
		put(l, ">", 1);
	}
	if (format == GW_LOG_JSON) {
		puts_(l, "{\"ts\":");
		put_ts(l);
		putf(l, ",\"level\":\"%s\"", level_names[level]);
	} else {
		puts_(l, "certgate: ");
	}
}

static void
line_end(struct line *l, int format)
{
	if (format == GW_LOG_JSON)
		puts_(l, "}");
	l->b[l->n++] = '\n';
	l->b[l->n] = '\0';
	fwrite(l->b, 1, l->n, stderr);
	fflush(stderr);
}

/* ---------------------------------------------------------------- messages */

void
gw_log(enum gw_log_level level, const char *fmt, ...)
{
	struct line l;
	char msg[MSG_MAX];
	int format = atomic_load(&log_format);
	va_list ap;

	if (!gw_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	line_start(&l, level, format);
	if (format == GW_LOG_JSON) {
		puts_(&l, ",\"msg\":");
		put_json_str(&l, msg);
	} else {
		if (level == GW_LOG_ERROR || level == GW_LOG_WARNING) {
			puts_(&l, level_names[level]);
			puts_(&l, ": ");
		}
		put_text(&l, msg);
	}
	line_end(&l, format);
}

/* ---------------------------------------------------------------- access lines */

/* Copies src for the log: printable ASCII but space, '"' and '\\' as is, the rest as %XX;
 * at most max source bytes, "..." when cut. */
static void
field(char *dst, size_t cap, const char *src, size_t max)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;

	if (src == NULL)
		src = "-";
	for (i = 0; src[i] != '\0' && o + 4 < cap; i++) {
		unsigned char c = (unsigned char)src[i];

		if (i >= max) {
			dst[o++] = '.';
			dst[o++] = '.';
			dst[o++] = '.';
			break;
		}
		if (c > 0x20 && c < 0x7f && c != '"' && c != '\\') {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '%';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
}

void
gw_log_access(const struct gw_access *a)
{
	char id[40], peer[NAME_FIELD_MAX * 3 + 8], proxy[NAME_FIELD_MAX * 3 + 8];
	char method[NAME_FIELD_MAX + 8], path[PATH_FIELD_MAX * 3 + 8];
	char adapter[NAME_FIELD_MAX * 3 + 8], op[NAME_FIELD_MAX * 3 + 8];
	char principal[NAME_FIELD_MAX * 3 + 8], profile[NAME_FIELD_MAX * 3 + 8];
	char end[40];
	struct line l;
	int format = atomic_load(&log_format);
	double ms = (double)a->latency_us / 1000.0;

	gw_metrics_request(a->adapter, a->operation, a->status);
	if (!gw_log_enabled(GW_LOG_INFO))
		return;
	field(id, sizeof(id), a->id, 32);
	field(peer, sizeof(peer), a->peer, NAME_FIELD_MAX);
	field(proxy, sizeof(proxy), a->proxy, NAME_FIELD_MAX);
	field(method, sizeof(method), a->method, 16);
	field(path, sizeof(path), a->path, PATH_FIELD_MAX);
	field(adapter, sizeof(adapter), a->adapter, NAME_FIELD_MAX);
	field(op, sizeof(op), a->operation, NAME_FIELD_MAX);
	field(principal, sizeof(principal), a->principal, NAME_FIELD_MAX);
	field(profile, sizeof(profile), a->profile, NAME_FIELD_MAX);
	field(end, sizeof(end), a->end, 32);
	line_start(&l, GW_LOG_INFO, format);
	if (format == GW_LOG_JSON) {
		puts_(&l, ",\"msg\":\"access\",\"id\":");
		put_json_str(&l, id);
		puts_(&l, ",\"peer\":");
		put_json_str(&l, peer);
		puts_(&l, ",\"proxy\":");
		put_json_str(&l, a->proxy != NULL ? proxy : NULL);
		puts_(&l, ",\"method\":");
		put_json_str(&l, method);
		puts_(&l, ",\"path\":");
		put_json_str(&l, path);
		putf(&l, ",\"status\":%u", a->status);
		puts_(&l, ",\"adapter\":");
		put_json_str(&l, a->adapter != NULL ? adapter : NULL);
		puts_(&l, ",\"operation\":");
		put_json_str(&l, a->operation != NULL ? op : NULL);
		puts_(&l, ",\"principal\":");
		put_json_str(&l, a->principal != NULL ? principal : NULL);
		puts_(&l, ",\"profile\":");
		put_json_str(&l, a->profile != NULL ? profile : NULL);
		putf(&l, ",\"bytes\":%zu,\"latency_ms\":%.3f,\"secure\":%s", a->bytes, ms,
		     a->secure ? "true" : "false");
		puts_(&l, ",\"end\":");
		put_json_str(&l, end);
	} else {
		kv(&l, "access id=", id);
		kv(&l, " peer=", peer);
		kv(&l, " proxy=", proxy);
		kv(&l, " method=", method);
		kv(&l, " path=\"", path);
		putf(&l, "\" status=%u", a->status);
		kv(&l, " adapter=", adapter);
		kv(&l, " op=", op);
		kv(&l, " principal=", principal);
		kv(&l, " profile=", profile);
		putf(&l, " bytes=%zu ms=%.3f secure=%s", a->bytes, ms, a->secure ? "yes" : "no");
		kv(&l, " end=", end);
	}
	line_end(&l, format);
}
