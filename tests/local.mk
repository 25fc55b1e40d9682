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
	tests/test-gw-config
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
tests_gw_echo_server_LDADD = $(TEST_LDADD)

e2e_tests = \
	tests/e2e-http.sh \
	tests/e2e-cli.sh \
	tests/e2e-crash.sh \
	tests/style-banned.sh
TESTS += $(e2e_tests)
EXTRA_DIST += tests/tap.h tests/lib.sh $(e2e_tests)
