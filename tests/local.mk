# tests/: TAP unit tests per module and end-to-end tests against the real daemon.
TEST_LDADD = protocols/libprotocols.a gateway/libgateway.a backend/libbackend.a $(DEPS_LIBS)

unit_tests = \
	tests/test-be-name \
	tests/test-be-csr \
	tests/test-be-key \
	tests/test-be-encode \
	tests/test-be-store \
	tests/test-be-issue \
	tests/test-gw-auth \
	tests/test-gw-config \
	tests/test-gw-framing \
	tests/test-be-cms \
	tests/test-be-keystore \
	tests/test-be-keypool \
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
tests_test_gw_auth_LDADD = $(TEST_LDADD)
tests_test_gw_config_LDADD = $(TEST_LDADD)
tests_test_gw_framing_LDADD = $(TEST_LDADD)
tests_gw_echo_server_LDADD = $(TEST_LDADD)
tests_test_be_cms_LDADD = $(TEST_LDADD)
tests_test_be_keystore_LDADD = $(TEST_LDADD)
tests_test_be_keypool_LDADD = $(TEST_LDADD)
tests_test_be_hex_LDADD = $(TEST_LDADD)
tests_test_be_utf8_LDADD = $(TEST_LDADD)
tests_test_be_pct_LDADD = $(TEST_LDADD)
tests_test_be_buf_LDADD = $(TEST_LDADD)

# Benchmark (not part of make check): `make bench`.
EXTRA_PROGRAMS = tests/bench/bench-ceiling tests/bench/bench-load
tests_bench_bench_ceiling_LDADD = $(TEST_LDADD)
tests_bench_bench_load_LDADD = $(TEST_LDADD)
CLEANFILES += $(EXTRA_PROGRAMS)
EXTRA_DIST += tests/bench/run.sh
bench: certgate tests/bench/bench-ceiling tests/bench/bench-load
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
	tests/e2e-iot.sh \
	tests/e2e-nginx.sh \
	tests/e2e-ops.sh \
	tests/e2e-framing.sh \
	tests/e2e-names.sh \
	tests/man-keys.sh \
	tests/style-banned.sh
TESTS += $(e2e_tests)
EXTRA_DIST += tests/tap.h tests/testlib.h tests/lib.sh $(e2e_tests) tests/seeds
