/*
 * EST request paths (RFC 7030 section 3.2.2), split by est.c before routing; exposed for the
 * unit test and the fuzz driver.
 */
#ifndef CERTGATE_EST_PATH_H
#define CERTGATE_EST_PATH_H

#include <stddef.h>

enum est_path_result {
	EST_PATH_OK = 0,
	EST_PATH_NOT_EST = -1,		/* not below /.well-known/est/ */
	EST_PATH_BAD_SHAPE = -2,	/* more than two segments, or a label not a segment */
	EST_PATH_BAD_OP = -3,		/* the last segment is no operation (label still set) */
};

/* Splits the raw request path (not percent-decoded: '%' is in no label or operation, so an
 * encoding is an unknown name) /.well-known/est/[<label>/]<operation>.  A segment is
 * [A-Za-z0-9._-]{1,64}.  *label points into path (borrowed, *label_len bytes, not
 * NUL-terminated) or is NULL for the default; *op is an enum est_op, -1 when unknown.
 * Returns an enum est_path_result; whether the label is configured is the caller's to
 * check. */
int est_path_split(const char *path, const char **label, size_t *label_len, int *op);

#endif
