/*
 * EST request paths (est_path_split, RFC 7030 3.2.2): /.well-known/est/[<label>/]<op>.
 */
#include "config.h"

#include "est.h"
#include "est_path.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = fuzz_text(data, size);
	const char *label;
	size_t label_len, i;
	int op, r;

	if (path == NULL)
		return 0;
	r = est_path_split(path, &label, &label_len, &op);
	/* what the router relies on */
	if ((r == EST_PATH_OK) != (op >= 0 && op < EST_OP__COUNT))
		abort();
	if (label != NULL) {
		if (label < path || label + label_len > path + strlen(path) || label_len == 0 ||
		    label_len > EST_LABEL_MAX)
			abort();
		for (i = 0; i < label_len; i++)
			if (label[i] == '/' || label[i] == '%')
				abort();
	}
	free(path);
	return 0;
}
