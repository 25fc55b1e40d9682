# gateway/: the daemon and CLI.
noinst_LIBRARIES += gateway/libgateway.a

gateway_libgateway_a_SOURCES = \
	gateway/gw.h \
	gateway/gw_config.c \
	gateway/gw_auth.c \
	gateway/gw_response.c \
	gateway/gw_http.c

bin_PROGRAMS += certgate
certgate_SOURCES = \
	gateway/gw_main.c \
	gateway/gw_init.c \
	gateway/gw_cli.c
certgate_LDADD = gateway/libgateway.a protocols/libprotocols.a backend/libbackend.a $(DEPS_LIBS)
