# backend/: profiles, CSR parsing, key generation, signing, encodings, storage, audit.
noinst_LIBRARIES += backend/libbackend.a

backend_libbackend_a_SOURCES = \
	backend/be.h \
	backend/be_err.c \
	backend/be_json.h backend/be_json.c \
	backend/be_asn1.h backend/be_asn1.c \
	backend/be_keyspec.c \
	backend/be_name.c \
	backend/be_namepolicy.h backend/be_namepolicy.c \
	backend/be_text.c \
	backend/be_csr.h backend/be_csr.c \
	backend/be_key.h backend/be_key.c \
	backend/be_encode.c \
	backend/be_store.h backend/be_store.c \
	backend/be_ca.h backend/be_ca.c \
	backend/be_crl.h backend/be_crl.c \
	backend/be_crlpub.h backend/be_crlpub.c \
	backend/be_cert.h backend/be_cert.c \
	backend/be_profile.h backend/be_profile.c \
	backend/be_issue.h backend/be_issue.c \
	backend/be_issuer.h backend/be_issuer.c \
	backend/be_request.h backend/be_request.c \
	backend/be_presented.h backend/be_presented.c \
	backend/be_cms.h backend/be_cms.c backend/be_zip.c \
	backend/be_csrattrs.h backend/be_csrattrs.c \
	backend/be_keystore.h backend/be_keystore.c \
	backend/be_policy.h backend/be_policy.c \
	backend/be_stats.h backend/be_stats.c \
	backend/be_keypool.h backend/be_keypool.c \
	backend/be_goodkey.h backend/be_goodkey.c \
	backend/be_ocsp.h backend/be_ocsp.c \
	backend/be_hex.h backend/be_hex.c \
	backend/be_utf8.h backend/be_utf8.c \
	backend/be_pct.h backend/be_pct.c \
	backend/be_buf.h backend/be_buf.c

# ASN.1 modules: each backend/NAME.asn becomes NAME_asn1_tab.c, loaded by be_asn1.c.
asn1_tabs = backend/certgate_asn1_tab.c backend/cms_asn1_tab.c backend/est_asn1_tab.c \
	backend/ocsp_asn1_tab.c
nodist_backend_libbackend_a_SOURCES = $(asn1_tabs)

BUILT_SOURCES += $(asn1_tabs)
CLEANFILES += $(asn1_tabs)
EXTRA_DIST += backend/certgate.asn backend/cms.asn backend/est.asn backend/ocsp.asn

ASN1_GEN = $(AM_V_GEN)$(MKDIR_P) backend && $(ASN1PARSER) -o $@
backend/certgate_asn1_tab.c: $(top_srcdir)/backend/certgate.asn
	$(ASN1_GEN) -n certgate_asn1_tab $(top_srcdir)/backend/certgate.asn
backend/cms_asn1_tab.c: $(top_srcdir)/backend/cms.asn
	$(ASN1_GEN) -n cms_asn1_tab $(top_srcdir)/backend/cms.asn
backend/est_asn1_tab.c: $(top_srcdir)/backend/est.asn
	$(ASN1_GEN) -n est_asn1_tab $(top_srcdir)/backend/est.asn
backend/ocsp_asn1_tab.c: $(top_srcdir)/backend/ocsp.asn
	$(ASN1_GEN) -n ocsp_asn1_tab $(top_srcdir)/backend/ocsp.asn
