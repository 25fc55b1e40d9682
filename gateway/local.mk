# gateway/: the daemon and CLI.
noinst_LIBRARIES += gateway/libgateway.a

gateway_libgateway_a_SOURCES = \
	gateway/gw.h \
	gateway/gw_config.c \
	gateway/gw_auth.c \
	gateway/gw_response.c \
	gateway/gw_http.c \
	gateway/gw_framing.c \
	gateway/gw_cli.h \
	gateway/gw_cli.c \
	gateway/gw_init.c \
	gateway/gw_approve.c \
	gateway/gw_proxy.h gateway/gw_proxy.c \
	gateway/gw_metrics.c \
	gateway/gw_log.c

bin_PROGRAMS += certgate
certgate_SOURCES = gateway/gw_main.c
certgate_LDADD = protocols/libprotocols.a gateway/libgateway.a backend/libbackend.a $(DEPS_LIBS)
