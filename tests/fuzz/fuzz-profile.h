/*
 * A permissive certgate profile for the drivers whose parsers consult one (names, SANs,
 * key types): every subject attribute optional, every SAN type, the usual key types, every
 * output.  Built in memory: no CA, nothing is signed.
 */
#ifndef CERTGATE_FUZZ_PROFILE_H
#define CERTGATE_FUZZ_PROFILE_H

#include <string.h>

#include "be_profile.h"

static inline void
fuzz_profile(struct be_profile *p)
{
	static const struct be_keyspec keys[] = {
		{ BE_KEY_RSA, 2048 }, { BE_KEY_RSA, 3072 }, { BE_KEY_EC, 256 },
		{ BE_KEY_EC, 384 }, { BE_KEY_ED25519, 256 },
	};
	size_t i;

	memset(p, 0, sizeof(*p));
	p->name = (char *)"fuzz";
	p->validity_days = 30;
	p->max_validity_days = 365;
	memcpy(p->key_types, keys, sizeof(keys));
	p->n_key_types = sizeof(keys) / sizeof(keys[0]);
	p->server_key = keys[2];
	p->server_keygen = true;
	p->client_keys = true;
	for (i = 0; i < BE_DN__COUNT; i++)
		p->subject[i] = BE_FIELD_OPTIONAL;
	p->san_types = (1u << BE_SAN__COUNT) - 1;
	p->san_max = 8;
	p->outputs = BE_OUT_PEM | BE_OUT_DER | BE_OUT_PKCS7 | BE_OUT_PKCS12 | BE_OUT_CMS;
}

#endif
