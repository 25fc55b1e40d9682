/*
 * The enrollment-profile API's request body (iot_enroll_check): JSON with a CSR or
 * server-side key generation options, certificate_profile_attributes and
 * device_attributes, checked against one enrollment profile.
 */
#include "config.h"

#include "fuzz.h"
#include "fuzz-profile.h"
#include "iot_body.h"

static struct be_profile profile;
static struct iot_eprofile ep;
static char *required[] = { (char *)"subject.common_name" };
static struct iot_devattr devattrs[] = { { (char *)"serial", true },
					 { (char *)"model", false } };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	gnutls_global_init();
	fuzz_profile(&profile);
	ep.id = (char *)"IOT_fuzz";
	ep.name = (char *)"fuzz";
	ep.cprof = &profile;
	ep.methods = IOT_METHOD_API;
	ep.keygen = IOT_KEYGEN_EITHER;
	memcpy(ep.key_types, profile.key_types, profile.n_key_types * sizeof(profile.key_types[0]));
	ep.n_key_types = profile.n_key_types;
	ep.default_key = profile.server_key;
	ep.required = required;
	ep.n_required = 1;
	ep.devattrs = devattrs;
	ep.n_devattrs = 2;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct be_err e = { 0, "" };

	if (iot_enroll_check(&ep, data, size, &e) != BE_OK && e.code == 0)
		abort();	/* a refusal says why */
	return 0;
}
