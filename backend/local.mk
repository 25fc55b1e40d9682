# backend/: profiles, CSR parsing, key generation, signing, encodings, storage, audit.
noinst_LIBRARIES += backend/libbackend.a

backend_libbackend_a_SOURCES = \
	backend/be.h \
	backend/be_err.c \
	backend/be_json.h backend/be_json.c \
	backend/be_asn1.h backend/be_asn1.c \
	backend/be_keyspec.c \
	backend/be_name.c \
	backend/be_text.c \
	backend/be_csr.h backend/be_csr.c \
	backend/be_key.h backend/be_key.c \
	backend/be_encode.c \
	backend/be_store.h backend/be_store.c \
	backend/be_ca.h backend/be_ca.c \
	backend/be_profile.h backend/be_profile.c \
	backend/be_issue.h backend/be_issue.c
nodist_backend_libbackend_a_SOURCES = backend/certgate_asn1_tab.c

BUILT_SOURCES += backend/certgate_asn1_tab.c
CLEANFILES += backend/certgate_asn1_tab.c
EXTRA_DIST += backend/certgate.asn

backend/certgate_asn1_tab.c: $(top_srcdir)/backend/certgate.asn
	$(AM_V_GEN)$(MKDIR_P) backend && \
	$(ASN1PARSER) -o $@ -n certgate_asn1_tab $(top_srcdir)/backend/certgate.asn
