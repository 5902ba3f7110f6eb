# tests/verify/: apikeyd as the key service of other people's APIs (issue
# 13) through the real apikeyd over HTTP: the apikeyd API at /v1, the keys'
# attributes on all six APIs, verify and /v1/auth, on a clock the test moves
# (the test API's /__test/clock). Runs on PostgreSQL too (test-verify-pg).
.PHONY: test-verify
test-verify: $(APIKEYD)
	$(Q)tests/verify/run.sh

TEST_SUITES += test-verify
