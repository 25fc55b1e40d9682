/*
 * Request framing (gateway/gw_framing.c, RFC 9112 section 6): every ambiguous way to say how
 * long a body is gets a reason; the unambiguous ones get their length or chunked.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "gw.h"
#include "tap.h"

/* Feeds NULL-terminated name/value pairs; returns the verdict. */
static const char *
verdict(struct gw_framing *f, bool http10, const char *const *h)
{
	gw_framing_init(f);
	for (; h[0] != NULL; h += 2)
		gw_framing_header(f, h[0], h[1]);
	return gw_framing_verdict(f, http10);
}

static void
refused(const char *name, bool http10, const char *const *h, const char *needle)
{
	struct gw_framing f;
	const char *why = verdict(&f, http10, h);

	tap_ok(why != NULL && strstr(why, needle) != NULL, "/framing/refused/%s: \"%s\"", name,
	       why != NULL ? why : "(accepted)");
}

int
main(void)
{
	struct gw_framing f;
	const char *why;

	{
		static const char *const h[] = { "Host", "x", NULL };

		why = verdict(&f, false, h);
		tap_ok(why == NULL && f.n_length == 0 && !f.chunked, "/framing/no-body");
	}
	{
		static const char *const h[] = { "content-length", " 42 ", NULL };

		why = verdict(&f, false, h);
		tap_ok(why == NULL && f.n_length == 1 && f.length == 42 && !f.chunked,
		       "/framing/length: 42, OWS trimmed, name case-insensitive");
	}
	{
		static const char *const h[] = { "Content-Length", "18446744073709551615", NULL };

		why = verdict(&f, false, h);
		tap_ok(why == NULL && f.length == UINT64_MAX, "/framing/length: 2^64-1 fits");
	}
	{
		static const char *const h[] = { "Transfer-Encoding", "Chunked", NULL };

		why = verdict(&f, false, h);
		tap_ok(why == NULL && f.chunked, "/framing/chunked: coding name case-insensitive");
	}
	{
		static const char *const h[] = { "Content-Length", "5", "Content-Length", "5", NULL };
		refused("two-equal-lengths", false, h, "more than once");
	}
	{
		static const char *const h[] = { "Content-Length", "5", "Content-Length", "6", NULL };
		refused("two-different-lengths", false, h, "more than once");
	}
	{
		static const char *const h[] = { "Content-Length", "5, 5", NULL };
		refused("length-list", false, h, "not a decimal number");
	}
	{
		static const char *const h[] = { "Content-Length", "-1", NULL };
		refused("negative-length", false, h, "not a decimal number");
	}
	{
		static const char *const h[] = { "Content-Length", "+5", NULL };
		refused("signed-length", false, h, "not a decimal number");
	}
	{
		static const char *const h[] = { "Content-Length", "12abc", NULL };
		refused("length-with-letters", false, h, "not a decimal number");
	}
	{
		static const char *const h[] = { "Content-Length", "", NULL };
		refused("empty-length", false, h, "not a decimal number");
	}
	{
		static const char *const h[] = { "Content-Length", "18446744073709551616", NULL };
		refused("length-over-2^64", false, h, "not a decimal number");
	}
	{
		static const char *const h[] = { "Content-Length", "5", "Transfer-Encoding",
						  "chunked", NULL };
		refused("length-and-chunked", false, h, "both Content-Length and Transfer-Encoding");
	}
	{
		static const char *const h[] = { "Transfer-Encoding", "chunked", "Content-Length",
						  "5", NULL };
		refused("chunked-and-length", false, h, "both Content-Length and Transfer-Encoding");
	}
	{
		static const char *const h[] = { "Transfer-Encoding", "gzip", NULL };
		refused("gzip", false, h, "other than chunked");
	}
	{
		static const char *const h[] = { "Transfer-Encoding", "gzip, chunked", NULL };
		refused("gzip-chunked", false, h, "other than chunked");
	}
	{
		static const char *const h[] = { "Transfer-Encoding", "chunked;x=1", NULL };
		refused("chunked-with-parameter", false, h, "other than chunked");
	}
	{
		static const char *const h[] = { "Transfer-Encoding", "chunked, chunked", NULL };
		refused("chunked-twice-one-line", false, h, "more than once");
	}
	{
		static const char *const h[] = { "Transfer-Encoding", "chunked", "Transfer-Encoding",
						  "chunked", NULL };
		refused("chunked-twice-two-lines", false, h, "more than once");
	}
	{
		static const char *const h[] = { "Transfer-Encoding", "chunked", "Transfer-Encoding",
						  "identity", NULL };
		refused("chunked-then-identity", false, h, "other than chunked");
	}
	{
		static const char *const h[] = { "Transfer-Encoding", " , ", NULL };
		refused("empty-coding-list", false, h, "empty Transfer-Encoding");
	}
	{
		static const char *const h[] = { "Transfer-Encoding", "chunked", NULL };
		refused("http10-chunked", true, h, "HTTP/1.0");
	}
	{
		static const char *const h[] = { "Content-Length", "5", NULL };

		why = verdict(&f, true, h);
		tap_ok(why == NULL && f.length == 5, "/framing/http10-length: accepted");
	}
	return tap_done();
}
