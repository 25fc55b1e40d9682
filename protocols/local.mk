# protocols/: one adapter per dialect; each only translates HTTP <-> be_request.
noinst_LIBRARIES += protocols/libprotocols.a

protocols_libprotocols_a_SOURCES = \
	protocols/proto.h \
	protocols/proto_routes.c
