/*
 * A ZIP archive of "stored" (uncompressed) entries, PKWARE APPNOTE.TXT 6.3.x: a local file
 * header and the data per entry (4.3.7), the central directory (4.3.12) and the end of
 * central directory record (4.3.16).  No compression, encryption, data descriptors or
 * ZIP64: every size and offset fits in 32 bits.  Entries may hold private keys, so files
 * carry Unix mode 0600 and every buffer is wiped on failure.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "be_cms.h"

#define ZIP_ENTRIES_MAX 1024
#define ZIP_NAME_MAX 255
#define ZIP_TOTAL_MAX 0xFFFF0000u	/* stays clear of ZIP64 (APPNOTE 4.4.8) */

#define ZIP_LOCAL_SIG 0x04034b50u	/* 4.3.7 */
#define ZIP_CENTRAL_SIG 0x02014b50u	/* 4.3.12 */
#define ZIP_END_SIG 0x06054b50u		/* 4.3.16 */
#define ZIP_LOCAL_LEN 30
#define ZIP_CENTRAL_LEN 46
#define ZIP_END_LEN 22
#define ZIP_VERSION_NEEDED 10		/* 4.4.3.2: 1.0, stored */
#define ZIP_VERSION_MADE (3 << 8 | 30)	/* 4.4.2: UNIX, APPNOTE 3.0 */
#define ZIP_MODE_FILE 0100600u		/* S_IFREG | 0600 in the external attributes */

/* CRC-32 (ISO 3309, reflected polynomial 0xEDB88320, APPNOTE 4.4.7), four bits at a time. */
static uint32_t
crc32_of(const unsigned char *p, size_t n)
{
	static const uint32_t t[16] = {
		0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4,
		0x4DB26158, 0x5005713C, 0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C,
		0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C };
	uint32_t c = 0xFFFFFFFFu;
	size_t i;

	for (i = 0; i < n; i++) {
		c ^= p[i];
		c = (c >> 4) ^ t[c & 15];
		c = (c >> 4) ^ t[c & 15];
	}
	return ~c;
}

static unsigned char *
put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v & 0xff);
	p[1] = (unsigned char)((v >> 8) & 0xff);
	return p + 2;
}

static unsigned char *
put32(unsigned char *p, uint32_t v)
{
	p = put16(p, v & 0xffff);
	return put16(p, v >> 16);
}

/* A relative path of printable ASCII without "\", empty, "." or ".." components. */
static bool
name_ok(const char *name, size_t len)
{
	size_t i, start = 0;

	if (len == 0 || len > ZIP_NAME_MAX)
		return false;
	for (i = 0; i <= len; i++) {
		if (i == len || name[i] == '/') {
			if (i == start || (i - start == 1 && name[start] == '.') ||
			    (i - start == 2 && name[start] == '.' && name[start + 1] == '.'))
				return false;
			start = i + 1;
		} else if ((unsigned char)name[i] < 0x20 || (unsigned char)name[i] > 0x7e ||
			   name[i] == '\\') {
			return false;
		}
	}
	return true;
}

/* APPNOTE 4.4.6 MS-DOS time and date of now (UTC; the format has no zone). */
static void
dos_now(unsigned *dtime, unsigned *ddate)
{
	time_t now = time(NULL);
	struct tm tm;

	*dtime = 0;
	*ddate = (0 << 9) | (1 << 5) | 1;	/* 1980-01-01 */
	if (gmtime_r(&now, &tm) == NULL || tm.tm_year < 80 || tm.tm_year > 207)
		return;
	*dtime = (unsigned)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
	*ddate = (unsigned)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
}

int
be_zip_bundle(const struct be_zip_entry *entries, size_t n, unsigned char **out,
	      size_t *out_len, struct be_err *e)
{
	unsigned char *buf = NULL, *p;
	uint32_t *crcs = NULL;
	uint64_t total = ZIP_END_LEN, offset = 0, cd_start, cd_len;
	unsigned dtime, ddate;
	size_t i, j, nl;
	int rc = BE_OK;

	*out = NULL;
	*out_len = 0;
	if (entries == NULL || n == 0 || n > ZIP_ENTRIES_MAX) {
		rc = be_err_set(e, BE_E_INTERNAL, "ZIP: %zu entries; 1 to %u", n,
				ZIP_ENTRIES_MAX);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (entries[i].name == NULL ||
		    !name_ok(entries[i].name, strlen(entries[i].name))) {
			rc = be_err_set(e, BE_E_INTERNAL, "ZIP: entry %zu has no acceptable file "
					"name (relative, printable ASCII, at most %u)", i,
					ZIP_NAME_MAX);
			goto out;
		}
		if (entries[i].data == NULL && entries[i].len > 0) {
			rc = be_err_set(e, BE_E_INTERNAL, "ZIP: entry %s has no data",
					entries[i].name);
			goto out;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(entries[i].name, entries[j].name) == 0) {
				rc = be_err_set(e, BE_E_INTERNAL, "ZIP: file name %s twice",
						entries[i].name);
				goto out;
			}
		}
		nl = strlen(entries[i].name);
		total += ZIP_LOCAL_LEN + ZIP_CENTRAL_LEN + 2 * (uint64_t)nl + entries[i].len;
		if (entries[i].len > ZIP_TOTAL_MAX || total > ZIP_TOTAL_MAX) {
			rc = be_err_set(e, BE_E_TOOBIG, "ZIP: archive over %u bytes",
					ZIP_TOTAL_MAX);
			goto out;
		}
	}
	if ((buf = malloc((size_t)total)) == NULL ||
	    (crcs = calloc(n, sizeof(*crcs))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	dos_now(&dtime, &ddate);
	p = buf;
	for (i = 0; i < n; i++) {	/* 4.3.7 local file header + file data */
		nl = strlen(entries[i].name);
		crcs[i] = crc32_of(entries[i].data, entries[i].len);
		p = put32(p, ZIP_LOCAL_SIG);
		p = put16(p, ZIP_VERSION_NEEDED);
		p = put16(p, 0);		/* general purpose flags */
		p = put16(p, 0);		/* method: stored */
		p = put16(p, dtime);
		p = put16(p, ddate);
		p = put32(p, crcs[i]);
		p = put32(p, (uint32_t)entries[i].len);	/* compressed */
		p = put32(p, (uint32_t)entries[i].len);	/* uncompressed */
		p = put16(p, (unsigned)nl);
		p = put16(p, 0);		/* extra field length */
		memcpy(p, entries[i].name, nl);
		p += nl;
		if (entries[i].len > 0)
			memcpy(p, entries[i].data, entries[i].len);
		p += entries[i].len;
	}
	cd_start = (uint64_t)(p - buf);
	for (i = 0; i < n; i++) {	/* 4.3.12 central directory header */
		nl = strlen(entries[i].name);
		p = put32(p, ZIP_CENTRAL_SIG);
		p = put16(p, ZIP_VERSION_MADE);
		p = put16(p, ZIP_VERSION_NEEDED);
		p = put16(p, 0);
		p = put16(p, 0);
		p = put16(p, dtime);
		p = put16(p, ddate);
		p = put32(p, crcs[i]);
		p = put32(p, (uint32_t)entries[i].len);
		p = put32(p, (uint32_t)entries[i].len);
		p = put16(p, (unsigned)nl);
		p = put16(p, 0);		/* extra field length */
		p = put16(p, 0);		/* file comment length */
		p = put16(p, 0);		/* disk number start */
		p = put16(p, 0);		/* internal attributes */
		p = put32(p, ZIP_MODE_FILE << 16);	/* external attributes */
		p = put32(p, (uint32_t)offset);
		memcpy(p, entries[i].name, nl);
		p += nl;
		offset += ZIP_LOCAL_LEN + nl + entries[i].len;
	}
	cd_len = (uint64_t)(p - buf) - cd_start;
	/* 4.3.16 end of central directory record */
	p = put32(p, ZIP_END_SIG);
	p = put16(p, 0);			/* number of this disk */
	p = put16(p, 0);			/* disk with the central directory */
	p = put16(p, (unsigned)n);
	p = put16(p, (unsigned)n);
	p = put32(p, (uint32_t)cd_len);
	p = put32(p, (uint32_t)cd_start);
	p = put16(p, 0);			/* comment length */
	if ((uint64_t)(p - buf) != total) {
		rc = be_err_set(e, BE_E_INTERNAL, "ZIP: size mismatch");
		goto out;
	}
	*out = buf;
	*out_len = (size_t)total;
	buf = NULL;
out:
	if (buf != NULL) {
		be_memzero(buf, (size_t)total);
		free(buf);
	}
	free(crcs);
	return rc;
}
