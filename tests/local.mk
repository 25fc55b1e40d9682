# tests/: TAP unit tests per module and end-to-end tests against the real daemon.
TEST_LDADD = protocols/libprotocols.a gateway/libgateway.a backend/libbackend.a $(DEPS_LIBS)

unit_tests = \
	tests/test-be-name \
	tests/test-be-csr \
	tests/test-be-key \
	tests/test-be-encode \
	tests/test-be-store \
	tests/test-be-issue \
	tests/test-be-request \
	tests/test-gw-auth \
	tests/test-gw-config \
	tests/test-gw-framing \
	tests/test-be-cms \
	tests/test-be-keystore \
	tests/test-be-keypool \
	tests/test-be-goodkey \
	tests/test-be-ocsp \
	tests/test-be-crl \
	tests/test-be-hex \
	tests/test-be-utf8 \
	tests/test-be-pct \
	tests/test-be-buf
check_PROGRAMS += $(unit_tests) tests/gw-echo-server
TESTS += $(unit_tests)

tests_test_be_name_LDADD = $(TEST_LDADD)
tests_test_be_csr_LDADD = $(TEST_LDADD)
tests_test_be_key_LDADD = $(TEST_LDADD)
tests_test_be_encode_LDADD = $(TEST_LDADD)
tests_test_be_store_LDADD = $(TEST_LDADD)
tests_test_be_issue_LDADD = $(TEST_LDADD)
tests_test_be_request_LDADD = $(TEST_LDADD)
tests_test_gw_auth_LDADD = $(TEST_LDADD)
tests_test_gw_config_LDADD = $(TEST_LDADD)
tests_test_gw_framing_LDADD = $(TEST_LDADD)
tests_gw_echo_server_LDADD = $(TEST_LDADD)
tests_test_be_cms_LDADD = $(TEST_LDADD)
tests_test_be_keystore_LDADD = $(TEST_LDADD)
tests_test_be_keypool_LDADD = $(TEST_LDADD)
tests_test_be_goodkey_LDADD = $(TEST_LDADD)

# The LD_PRELOAD shim of tests/e2e-collide.sh: a shared object, built without the
# sanitizers (per-target flags replace AM_CFLAGS / AM_LDFLAGS).
check_PROGRAMS += tests/serial-collide.so
tests_serial_collide_so_SOURCES = tests/serial-collide.c
tests_serial_collide_so_CFLAGS = -std=c11 -fPIC $(WARN_CFLAGS) $(GNUTLS_CFLAGS)
tests_serial_collide_so_LDFLAGS = -shared
tests_serial_collide_so_LDADD = -ldl
tests_test_be_ocsp_LDADD = $(TEST_LDADD)
tests_test_be_crl_LDADD = $(TEST_LDADD)
tests_test_be_hex_LDADD = $(TEST_LDADD)
tests_test_be_utf8_LDADD = $(TEST_LDADD)
tests_test_be_pct_LDADD = $(TEST_LDADD)
tests_test_be_buf_LDADD = $(TEST_LDADD)

# Benchmark (not part of make check): `make bench`.
EXTRA_PROGRAMS = tests/bench/bench-ceiling tests/bench/bench-load tests/bench/bench-crl
tests_bench_bench_ceiling_LDADD = $(TEST_LDADD)
tests_bench_bench_crl_LDADD = $(TEST_LDADD)
tests_bench_bench_load_LDADD = $(TEST_LDADD)
CLEANFILES += $(EXTRA_PROGRAMS)
EXTRA_DIST += tests/bench/run.sh tests/bench/ocsp.sh
bench: certgate tests/bench/bench-ceiling tests/bench/bench-load
EXTRA_DIST += tests/bench/run.sh
bench: certgate tests/bench/bench-ceiling tests/bench/bench-load tests/bench/bench-crl
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	bash $(top_srcdir)/tests/bench/run.sh
.PHONY: bench

e2e_tests = \
	tests/e2e-http.sh \
	tests/e2e-cli.sh \
	tests/e2e-crash.sh \
	tests/e2e-est.sh \
	tests/e2e-sesam.sh \
	tests/e2e-tsb.sh \
	tests/e2e-collide.sh \
	tests/e2e-iot.sh \
	tests/e2e-nginx.sh \
	tests/e2e-ops.sh \
	tests/e2e-framing.sh \
	tests/e2e-names.sh \
	tests/e2e-ocsp.sh \
	tests/e2e-crl.sh \
	tests/e2e-faults.sh \
	tests/man-keys.sh \
	tests/style-banned.sh
TESTS += $(e2e_tests)
EXTRA_DIST += tests/tap.h tests/testlib.h tests/lib.sh $(e2e_tests) tests/seeds

# Unit tests of the protocols/ and gateway/ parsers (the fuzz drivers below replay theirs).
parser_tests = \
	tests/test-sesam-form \
	tests/test-est-path \
	tests/test-gw-proxy \
	tests/test-tsb-body \
	tests/test-sesam-pseudo \
	tests/test-iot-body
check_PROGRAMS += $(parser_tests)
TESTS += $(parser_tests)
tests_test_sesam_form_LDADD = $(TEST_LDADD)
tests_test_est_path_LDADD = $(TEST_LDADD)
tests_test_gw_proxy_LDADD = $(TEST_LDADD)
tests_test_tsb_body_LDADD = $(TEST_LDADD)
tests_test_sesam_pseudo_LDADD = $(TEST_LDADD)
tests_test_iot_body_LDADD = $(TEST_LDADD)

# Fuzz drivers (p11-kit's layout).  tests/fuzz/fuzz-<name>.c defines LLVMFuzzerTestOneInput;
# make check links it with tests/fuzz/fuzz-replay.c (the configured compiler and
# sanitizers) and replays every file of tests/fuzz/corpus/<name>/.  `make fuzz` builds the
# same drivers with clang's libFuzzer, ASan and UBSan and runs each for FUZZ_TIME seconds
# (`make fuzz FUZZ_TARGETS="csr pem" FUZZ_TIME=300`).  A new driver: one line below, its
# source and its corpus directory.
fuzz_drivers = \
	tests/fuzz/fuzz-csr \
	tests/fuzz/fuzz-pem \
	tests/fuzz/fuzz-pseudo-csr \
	tests/fuzz/fuzz-iot-body \
	tests/fuzz/fuzz-tsb-body \
	tests/fuzz/fuzz-sesam-form \
	tests/fuzz/fuzz-proxy-headers \
	tests/fuzz/fuzz-est-path
check_PROGRAMS += $(fuzz_drivers)
TESTS += $(fuzz_drivers)
check_LIBRARIES = tests/fuzz/libfuzzreplay.a
tests_fuzz_libfuzzreplay_a_SOURCES = tests/fuzz/fuzz-replay.c tests/fuzz/fuzz.h
# Automake links a program that names no _LDADD of its own with $(LDADD): here only the
# fuzz drivers do.  main() sits in an archive, so a program with its own never pulls it in.
LDADD = tests/fuzz/libfuzzreplay.a $(TEST_LDADD)
EXTRA_DIST += tests/fuzz/fuzz-profile.h tests/fuzz/run.sh tests/fuzz/corpus

FUZZ_CC = clang
FUZZ_TIME = 60
FUZZ_TARGETS =
FUZZ_DIR = tests/fuzz/build
FUZZ_CFLAGS = -std=c11 -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
fuzz_cppflags = $(DEFS) $(DEFAULT_INCLUDES) $(AM_CPPFLAGS) $(CPPFLAGS) \
	$(GNUTLS_CFLAGS) $(MHD_CFLAGS) $(TASN1_CFLAGS) $(JANSSON_CFLAGS) $(SQLITE_CFLAGS) \
	$(NETTLE_CFLAGS)
fuzz_sources = $(backend_libbackend_a_SOURCES) $(nodist_backend_libbackend_a_SOURCES) \
	$(protocols_libprotocols_a_SOURCES) $(gateway_libgateway_a_SOURCES)
# fuzz-build compiles the libraries' sources with $(FUZZ_CC) into $(FUZZ_DIR) (again when
# the source or any header is newer) and links each driver with libFuzzer; fuzz runs them
# (tests/fuzz/run.sh).
fuzz: fuzz-build
	FUZZ_TIME='$(FUZZ_TIME)' top_srcdir='$(abs_top_srcdir)' \
	$(SHELL) $(srcdir)/tests/fuzz/run.sh $(FUZZ_DIR) \
	  `test -n '$(FUZZ_TARGETS)' && echo '$(FUZZ_TARGETS)' || \
	   for d in $(fuzz_drivers); do basename $$d | sed 's/^fuzz-//'; done`
fuzz-build: $(BUILT_SOURCES)
	@$(MKDIR_P) $(FUZZ_DIR)
	@set -e; objs=; \
	for src in $(fuzz_sources) ; do \
	  case $$src in *.c) ;; *) continue ;; esac; \
	  s=$$src; test -f $$s || s=$(srcdir)/$$src; \
	  o=$(FUZZ_DIR)/`echo $$src | sed 's|/|_|g; s|\.c$$|.o|'`; \
	  if test ! -f $$o || test $$s -nt $$o || test -n "`find $(srcdir)/backend \
	      $(srcdir)/protocols $(srcdir)/gateway -name '*.h' -newer $$o | head -n 1`"; then \
	    echo "  FUZZCC   $$src"; \
	    $(FUZZ_CC) $(FUZZ_CFLAGS) $(fuzz_cppflags) -c $$s -o $$o; \
	  fi; \
	  objs="$$objs $$o"; \
	done; \
	for d in $(fuzz_drivers); do \
	  n=`basename $$d`; \
	  echo "  FUZZLD   $(FUZZ_DIR)/$$n"; \
	  $(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(fuzz_cppflags) \
	    -I$(srcdir)/tests/fuzz $(srcdir)/$$d.c $$objs $(DEPS_LIBS) $(LIBS) \
	    -o $(FUZZ_DIR)/$$n.new && mv -f $(FUZZ_DIR)/$$n.new $(FUZZ_DIR)/$$n; \
	done
fuzz-clean:
	rm -rf $(FUZZ_DIR)
.PHONY: fuzz fuzz-build fuzz-clean
	tests/e2e-goodkey.sh \
	tests/man-keys.sh \
	tests/style-banned.sh
TESTS += $(e2e_tests)
EXTRA_DIST += tests/tap.h tests/testlib.h tests/lib.sh $(e2e_tests) tests/seeds tests/weakkey.py
# An LD_PRELOAD shim that tests/e2e-faults.sh builds itself.
EXTRA_DIST += tests/shim-getrandom.c
