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

void be_strv_free(char **v, size_t n);
/* strdup that returns NULL for NULL. */
char *be_strdup(const char *s);

#endif
