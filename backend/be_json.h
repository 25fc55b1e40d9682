/*
 * Strict reading of JSON objects (configuration and request bodies): unknown keys, wrong
 * types and missing required keys are errors whose sentence names the key's path.
 */
#ifndef CERTGATE_BE_JSON_H
#define CERTGATE_BE_JSON_H

#include <jansson.h>

#include "be.h"

/* Parses text (len bytes) as one JSON value, rejecting duplicate keys (JSON_REJECT_DUPLICATES)
 * and trailing data.  *out is a new reference the caller json_decref()s.  code is the error
 * code to use (BE_E_CONFIG for files, BE_E_MALFORMED for requests); what names the input. */
int be_json_parse(const char *text, size_t len, const char *what, int code, json_t **out,
		  struct be_err *e);

/* obj must be an object whose every key is in allowed (NULL-terminated). */
int be_json_keys(const json_t *obj, const char *path, const char *const *allowed, int code,
		 struct be_err *e);

/* Reads obj[key] as a string (borrowed) into *out; absent: *out = NULL and an error only when
 * required.  Empty strings and strings containing NUL are refused. */
int be_json_str(const json_t *obj, const char *path, const char *key, bool required,
		const char **out, int code, struct be_err *e);
/* Reads an integer within [min, max]; absent leaves *out unchanged unless required. */
int be_json_uint(const json_t *obj, const char *path, const char *key, bool required,
		 unsigned long long min, unsigned long long max, unsigned long long *out, int code,
		 struct be_err *e);
/* Reads a boolean; absent leaves *out unchanged unless required. */
int be_json_bool(const json_t *obj, const char *path, const char *key, bool required,
		 bool *out, int code, struct be_err *e);
/* Reads an array of non-empty strings; *out is a malloc()ed array of malloc()ed strings the
 * caller frees with be_strv_free(); absent: *out = NULL, *n = 0. */
int be_json_strv(const json_t *obj, const char *path, const char *key, bool required,
		 char ***out, size_t *n, int code, struct be_err *e);
/* Reads obj[key] as an object (borrowed) or NULL when absent and not required. */
int be_json_obj(const json_t *obj, const char *path, const char *key, bool required,
		const json_t **out, int code, struct be_err *e);

/* Reading modes for the _m readers below (bits).  Clients written in Java or Go send null
 * (or, from Go, "") for a field they do not set; their wire formats are read with these. */
enum be_json_mode {
	BE_JSON_STRICT = 0,		/* as the readers above */
	BE_JSON_NULL_ABSENT = 1u << 0,	/* a JSON null counts as absent */
	BE_JSON_EMPTY_ABSENT = 1u << 1,	/* an empty string counts as absent (required: refused
					 * as empty) */
};

/* obj[key] (borrowed), or NULL when absent, when obj is not an object, or when it is null
 * and mode has BE_JSON_NULL_ABSENT. */
const json_t *be_json_get(const json_t *obj, const char *key, unsigned mode);
/* As be_json_str / _uint / _bool / _obj, in mode. */
int be_json_str_m(const json_t *obj, const char *path, const char *key, bool required,
		  unsigned mode, const char **out, int code, struct be_err *e);
int be_json_uint_m(const json_t *obj, const char *path, const char *key, bool required,
		   unsigned mode, unsigned long long min, unsigned long long max,
		   unsigned long long *out, int code, struct be_err *e);
int be_json_bool_m(const json_t *obj, const char *path, const char *key, bool required,
		   unsigned mode, bool *out, int code, struct be_err *e);
int be_json_obj_m(const json_t *obj, const char *path, const char *key, bool required,
		  unsigned mode, const json_t **out, int code, struct be_err *e);

void be_strv_free(char **v, size_t n);
/* strdup that returns NULL for NULL. */
char *be_strdup(const char *s);

#endif
