/*
 * Strict JSON reading with key paths in every error.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "be_json.h"

char *
be_strdup(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

void
be_strv_free(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static const char *
sep(const char *path)
{
	return path[0] != '\0' ? "." : "";
}

int
be_json_parse(const char *text, size_t len, const char *what, int code, json_t **out,
	      struct be_err *e)
{
	json_error_t jerr;
	json_t *j;

	*out = NULL;
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		return be_err_set(e, code, "%s: invalid JSON at line %d column %d: %s", what,
				  jerr.line, jerr.column, jerr.text);
	*out = j;
	return BE_OK;
}

int
be_json_keys(const json_t *obj, const char *path, const char *const *allowed, int code,
	     struct be_err *e)
{
	const char *key;
	json_t *v;
	size_t i;

	if (!json_is_object(obj))
		return be_err_set(e, code, "%s: must be an object", path[0] ? path : "document");
	json_object_foreach((json_t *)obj, key, v) {
		bool known = false;

		for (i = 0; allowed[i] != NULL; i++) {
			if (strcmp(allowed[i], key) == 0) {
				known = true;
				break;
			}
		}
		if (!known)
			return be_err_set(e, code, "%s%s%.64s: unknown key", path, sep(path), key);
	}
	return BE_OK;
}

const json_t *
be_json_get(const json_t *obj, const char *key, unsigned mode)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	if (v != NULL && json_is_null(v) && (mode & BE_JSON_NULL_ABSENT))
		return NULL;
	return v;
}

int
be_json_str_m(const json_t *obj, const char *path, const char *key, bool required,
	      unsigned mode, const char **out, int code, struct be_err *e)
{
	const json_t *v = be_json_get(obj, key, mode);

	*out = NULL;
	if (v == NULL) {
		if (required)
			return be_err_set(e, code, "%s%s%s: required", path, sep(path), key);
		return BE_OK;
	}
	if (!json_is_string(v))
		return be_err_set(e, code, "%s%s%s: must be a string", path, sep(path), key);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return be_err_set(e, code, "%s%s%s: contains a NUL character", path, sep(path),
				  key);
	if (json_string_length(v) == 0) {
		if (!required && (mode & BE_JSON_EMPTY_ABSENT))
			return BE_OK;
		return be_err_set(e, code, "%s%s%s: must not be empty", path, sep(path), key);
	}
	*out = json_string_value(v);
	return BE_OK;
}

int
be_json_str(const json_t *obj, const char *path, const char *key, bool required,
	    const char **out, int code, struct be_err *e)
{
	return be_json_str_m(obj, path, key, required, BE_JSON_STRICT, out, code, e);
}

int
be_json_uint_m(const json_t *obj, const char *path, const char *key, bool required,
	       unsigned mode, unsigned long long min, unsigned long long max,
	       unsigned long long *out, int code, struct be_err *e)
{
	const json_t *v = be_json_get(obj, key, mode);
	json_int_t i;

	if (v == NULL) {
		if (required)
			return be_err_set(e, code, "%s%s%s: required", path, sep(path), key);
		return BE_OK;
	}
	if (!json_is_integer(v))
		return be_err_set(e, code, "%s%s%s: must be an integer", path, sep(path), key);
	i = json_integer_value(v);
	if (i < 0 || (unsigned long long)i < min || (unsigned long long)i > max)
		return be_err_set(e, code, "%s%s%s: must be between %llu and %llu", path,
				  sep(path), key, min, max);
	*out = (unsigned long long)i;
	return BE_OK;
}

int
be_json_uint(const json_t *obj, const char *path, const char *key, bool required,
	     unsigned long long min, unsigned long long max, unsigned long long *out, int code,
	     struct be_err *e)
{
	return be_json_uint_m(obj, path, key, required, BE_JSON_STRICT, min, max, out, code, e);
}

int
be_json_bool_m(const json_t *obj, const char *path, const char *key, bool required,
	       unsigned mode, bool *out, int code, struct be_err *e)
{
	const json_t *v = be_json_get(obj, key, mode);

	if (v == NULL) {
		if (required)
			return be_err_set(e, code, "%s%s%s: required", path, sep(path), key);
		return BE_OK;
	}
	if (!json_is_boolean(v))
		return be_err_set(e, code, "%s%s%s: must be true or false", path, sep(path), key);
	*out = json_is_true(v);
	return BE_OK;
}

int
be_json_bool(const json_t *obj, const char *path, const char *key, bool required, bool *out,
	     int code, struct be_err *e)
{
	return be_json_bool_m(obj, path, key, required, BE_JSON_STRICT, out, code, e);
}

int
be_json_strv(const json_t *obj, const char *path, const char *key, bool required, char ***out,
	     size_t *n, int code, struct be_err *e)
{
	json_t *v = json_object_get(obj, key), *it;
	char **arr = NULL;
	size_t i, cnt = 0;
	int rc = BE_OK;

	*out = NULL;
	*n = 0;
	if (v == NULL) {
		if (required)
			rc = be_err_set(e, code, "%s%s%s: required", path, sep(path), key);
		goto out;
	}
	if (!json_is_array(v)) {
		rc = be_err_set(e, code, "%s%s%s: must be an array of strings", path, sep(path),
				key);
		goto out;
	}
	if ((arr = calloc(json_array_size(v) + 1, sizeof(*arr))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(v, i, it) {
		if (!json_is_string(it) || json_string_length(it) == 0 ||
		    strlen(json_string_value(it)) != json_string_length(it)) {
			rc = be_err_set(e, code, "%s%s%s[%zu]: must be a non-empty string", path,
					sep(path), key, i);
			goto out;
		}
		if ((arr[cnt] = strdup(json_string_value(it))) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		cnt++;
	}
	*out = arr;
	*n = cnt;
	arr = NULL;
out:
	be_strv_free(arr, cnt);
	return rc;
}

int
be_json_obj_m(const json_t *obj, const char *path, const char *key, bool required,
	      unsigned mode, const json_t **out, int code, struct be_err *e)
{
	const json_t *v = be_json_get(obj, key, mode);

	*out = NULL;
	if (v == NULL) {
		if (required)
			return be_err_set(e, code, "%s%s%s: required", path, sep(path), key);
		return BE_OK;
	}
	if (!json_is_object(v))
		return be_err_set(e, code, "%s%s%s: must be an object", path, sep(path), key);
	*out = v;
	return BE_OK;
}

int
be_json_obj(const json_t *obj, const char *path, const char *key, bool required,
	    const json_t **out, int code, struct be_err *e)
{
	return be_json_obj_m(obj, path, key, required, BE_JSON_STRICT, out, code, e);
}
