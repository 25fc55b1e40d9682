/*
 * se.SAM request bodies (sesam_form_parse): the input's first line is the Content-Type
 * header, the rest the body (urlencoded, multipart/form-data or JSON).
 */
#include "config.h"

#include "fuzz.h"
#include "sesam.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	struct sesam_form *f = calloc(1, sizeof(*f));
	struct be_err e = { 0, "" };
	char *ct = NULL;
	size_t i;

	if (f == NULL || nl == NULL)
		goto out;
	if ((ct = fuzz_text(data, (size_t)(nl - data))) == NULL)
		goto out;
	sesam_form_parse(ct[0] != '\0' ? ct : NULL, nl + 1, size - (size_t)(nl - data) - 1, f,
			 &e);
	/* every field is what the header promises: a name, a NUL-terminated value of len */
	for (i = 0; i < f->n; i++)
		if (strlen(f->v[i].value) != f->v[i].len || sesam_form_get(f, f->v[i].name) == NULL)
			abort();
	sesam_form_clear(f);
out:
	free(ct);
	free(f);
	return 0;
}
