# protocols/: one adapter per dialect; each only translates HTTP <-> be_request.
noinst_LIBRARIES += protocols/libprotocols.a

protocols_libprotocols_a_SOURCES = \
	protocols/proto.h \
	protocols/proto_routes.c \
	protocols/est.h protocols/est.c protocols/est_ops.c \
	protocols/sesam.h protocols/sesam.c protocols/sesam_ops.c protocols/sesam_form.c \
	protocols/tsb.h protocols/tsb.c protocols/tsb_ops.c \
	protocols/iot.h protocols/iot.c protocols/iot_ops.c \
	protocols/est_path.h protocols/sesam_pseudo.h protocols/iot_body.h protocols/tsb_body.h \
	protocols/ocsp.c \
	protocols/crl.c
