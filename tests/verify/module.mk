# tests/verify/: apikeyd as the key service of other people's APIs (issue
# 13) through the real apikeyd over HTTP: the apikeyd API at /v1, the keys'
# attributes on all six APIs, verify and /v1/auth, on a clock the test moves
# (the test API's /__test/clock). Runs on PostgreSQL too (test-verify-pg).
.PHONY: test-verify
test-verify: $(APIKEYD)
	$(Q)tests/verify/run.sh

TEST_SUITES += test-verify

# make bench: verify calls/s and /v1/auth checks/s against the bare ulfius
# endpoint with many distinct keys; nginx + auth_request against nginx alone.
.PHONY: bench-verify
bench-verify: $(APIKEYD) $(LOADGEN)
	$(Q)APIKEYD=$(CURDIR)/$(APIKEYD) LOADGEN=$(CURDIR)/$(LOADGEN) tests/verify/bench.sh

BENCH_TARGETS += bench-verify
