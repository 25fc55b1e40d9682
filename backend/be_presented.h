/*
 * The one answer to "is this certificate a client presented ours, valid now, not revoked,
 * not deleted, and issued by which CA?", for every front end that authenticates by
 * certificate (EST re-enroll, the IoT API's client certificates, certificates a trusted
 * proxy forwards: all arrive as the request's peer certificates).
 */
#ifndef CERTGATE_BE_PRESENTED_H
#define CERTGATE_BE_PRESENTED_H

#include "be_issue.h"

/* Checks der (the leaf) against ctx's CAs — only want_ca when not NULL — and the store:
 *   BE_OK           issued by one of them (signature verified), within its validity at now,
 *                   recorded in the store byte for byte, VALID and not deleted; *rec (a new
 *                   record, caller be_cert_rec_free()) and *ca (borrowed from ctx) are set;
 *   BE_E_NOTFOUND   no CA of ctx (or not want_ca) issued it: not certgate's certificate,
 *                   which the caller may still accept on other grounds;
 *   BE_E_FORBIDDEN  certgate's, but not yet valid, expired, unknown to the store (or not
 *                   the recorded certificate), revoked, on hold or deleted — the sentence
 *                   says which and names the serial;
 *   BE_E_MALFORMED  not a DER certificate; store errors as be_store.h.
 * rec and ca may be NULL. */
int be_presented_check(struct be_ctx *ctx, const struct be_ca *want_ca,
		       const gnutls_datum_t *der, time_t now, struct be_cert_rec **rec,
		       const struct be_ca **ca, struct be_err *e);

#endif
