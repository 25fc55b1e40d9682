/*
 * TSB request bodies (tsb.c, tsb_ops.c) parsed without a call to answer: exposed for the
 * fuzz driver and unit tests.
 */
#ifndef CERTGATE_TSB_BODY_H
#define CERTGATE_TSB_BODY_H

#include <jansson.h>

#include "be.h"

/* Parses a request body as one JSON object (RFC 8259), dropping each comma that is followed
 * by '}' or ']' outside strings (TSB's real clients send them).  *out: caller
 * json_decref()s.  BE_E_MALFORMED with the reason, BE_E_NOMEM. */
int tsb_body_parse(const unsigned char *body, size_t len, json_t **out, struct be_err *e);

/* Runs every field parser of the TSB operations that take a JSON body on b, whichever
 * operation b is meant for: label, password, key specification (when "algorithm" is there)
 * and attributes, approval policy (be_policy_parse), signature algorithm, validity,
 * standardCertificateAttributes, key usages, a sign request (when
 * "certificateSigningRequest" is there, or in "signCertificateRequest"), approval signature,
 * digest and approver key (when one is there).  Absent keys are not errors.  Returns 0, or the first error's
 * code with e set. */
int tsb_body_check(const json_t *b, struct be_err *e);

#endif
