/*
 * Unit tests for backend/be_buf.c: growth across the first allocation and doublings, the
 * upper bound, take and free.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "be_buf.h"
#include "tap.h"

int
main(void)
{
	struct be_buf b = { 0 };
	unsigned char chunk[700], *p;
	size_t i, len, bad = 0;

	for (i = 0; i < sizeof(chunk); i++)
		chunk[i] = (unsigned char)(i * 7);
	TAP_IS_INT(be_buf_add(&b, chunk, 0), BE_OK, "/buf/add-nothing");
	tap_ok(b.len == 0, "/buf/add-nothing/len-0");
	for (i = 0; i < 10; i++)
		if (be_buf_add(&b, chunk, sizeof(chunk)) != BE_OK)
			bad++;
	TAP_IS_INT(bad, 0, "/buf/grow/ten-adds");
	TAP_IS_INT(b.len, 7000, "/buf/grow/len");
	tap_ok(b.cap >= b.len, "/buf/grow/cap-covers-len");
	for (i = 0, bad = 0; i < 7000; i++)
		if (b.p[i] != chunk[i % sizeof(chunk)])
			bad++;
	TAP_IS_INT(bad, 0, "/buf/grow/contents-survive-growth");
	TAP_IS_INT(be_buf_str(&b, "end"), BE_OK, "/buf/str");
	tap_ok(b.len == 7003 && memcmp(b.p + 7000, "end", 3) == 0, "/buf/str/appended-without-nul");
	p = be_buf_take(&b, &len);
	tap_ok(p != NULL && len == 7003 && b.p == NULL && b.len == 0 && b.cap == 0,
	       "/buf/take/empties-buffer");
	free(p);
	TAP_IS_INT(be_buf_str(&b, "again"), BE_OK, "/buf/reuse-after-take");
	be_buf_free(&b);
	tap_ok(b.p == NULL && b.len == 0 && b.cap == 0, "/buf/free/empties-buffer");
	be_buf_free(&b);
	be_buf_free(NULL);
	tap_ok(1, "/buf/free/twice-and-NULL");

	b.max = 10;
	b.secret = true;
	TAP_IS_INT(be_buf_add(&b, "0123456789", 10), BE_OK, "/buf/max/up-to-max");
	TAP_IS_INT(be_buf_add(&b, "x", 1), BE_E_TOOBIG, "/buf/max/one-past-max");
	TAP_IS_INT(b.len, 10, "/buf/max/unchanged-after-refusal");
	TAP_IS_INT(be_buf_add(&b, chunk, (size_t)-1), BE_E_TOOBIG, "/buf/size-overflow");
	be_buf_free(&b);
	p = be_buf_take(&b, NULL);
	tap_ok(p == NULL, "/buf/take/empty-is-NULL");
	return tap_done();
}
