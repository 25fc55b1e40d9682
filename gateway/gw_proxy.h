/*
 * The parsers of the forwarded-client headers a trusted reverse proxy sends (gw_proxy.c),
 * exposed for their unit tests and fuzz drivers; the daemon reaches them only through
 * gw_proxy_apply() (gw.h).
 */
#ifndef CERTGATE_GW_PROXY_H
#define CERTGATE_GW_PROXY_H

#include "gw.h"

/* URL-escaped PEM (nginx $ssl_client_escaped_cert, RFC 3986 section 2.1 escapes) to one DER
 * certificate.  Strict: malformed escapes, %00 and anything but one PEM CERTIFICATE block
 * (be_der_from_text) are refused with BE_E_MALFORMED; at most 32 KiB of header.  On success
 * out->data is gnutls_malloc()ed, the caller frees it (be_datum_free); on failure out is
 * untouched. */
int gw_proxy_cert_from_header(const char *v, gnutls_datum_t *out, struct be_err *e);

/* RFC 7239 section 5.2 / de-facto X-Forwarded-For: "client, proxy1, proxy2".  The client is
 * the rightmost hop that is not in cfg's proxy.trusted (each trusted proxy appends the
 * address it saw); when every hop is trusted, the leftmost.  Every element must be an IP
 * literal; at most 64 of them and 4096 bytes.  Writes the client's address in canonical
 * text form into out (cap bytes, INET6_ADDRSTRLEN suffice).  BE_E_MALFORMED naming the
 * element. */
int gw_proxy_client_from_xff(const struct gw_config *cfg, const char *v, char *out, size_t cap,
			     struct be_err *e);

#endif
