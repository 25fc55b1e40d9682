/*
 * The enrollment-profile API's request body (iot_ops.c), validated without issuing:
 * exposed for the fuzz driver and unit tests.
 */
#ifndef CERTGATE_IOT_BODY_H
#define CERTGATE_IOT_BODY_H

#include "iot.h"

/* Validates an enrollment body (POST /iot/api/v1/certificate) against enrollment profile ep
 * as iot_op_enroll does before be_issue: the JSON shape (known keys, types, {id, value}
 * arrays), the key source (csr parsed by be_csr_parse, or server_side_key_gen with its
 * key_type, output format, PKCS#12 password and encryption_certificate), the names and the
 * device attributes.  enrollment_profile_id must be present but is not looked up (ep is the
 * caller's).  Returns 0 or the code with e naming the key. */
int iot_enroll_check(const struct iot_eprofile *ep, const unsigned char *body, size_t len,
		     struct be_err *e);

#endif
