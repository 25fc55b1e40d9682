/*
 * The headers a trusted reverse proxy forwards (gateway/gw_proxy.c): the client certificate
 * (nginx $ssl_client_escaped_cert) and X-Forwarded-For.  The input is one header value.
 */
#include "config.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "gw_proxy.h"

static struct gw_config cfg;
static struct gw_net nets[2];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	gnutls_global_init();
	/* trusted: 10.0.0.0/8 and ::1 */
	nets[0].family = AF_INET;
	nets[0].prefix = 8;
	nets[0].addr[0] = 10;
	nets[1].family = AF_INET6;
	nets[1].prefix = 128;
	nets[1].addr[15] = 1;
	cfg.proxy = true;
	cfg.proxy_trusted = nets;
	cfg.n_proxy_trusted = 2;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v = fuzz_text(data, size), client[INET6_ADDRSTRLEN];
	gnutls_datum_t der = { NULL, 0 };
	struct be_err e = { 0, "" };
	unsigned char a[16];

	if (v == NULL)
		return 0;
	if (gw_proxy_cert_from_header(v, &der, &e) == BE_OK)
		be_datum_free(&der);
	be_err_clear(&e);
	/* the client is always an address literal */
	if (gw_proxy_client_from_xff(&cfg, v, client, sizeof(client), &e) == BE_OK &&
	    inet_pton(AF_INET, client, a) != 1 && inet_pton(AF_INET6, client, a) != 1)
		abort();
	free(v);
	return 0;
}
