# tests/api/: every operation of the five families through the real apikeyd
# over HTTPS on loopback.
.PHONY: test-api
test-api: $(APIKEYD)
	$(Q)tests/api/run.sh

TEST_SUITES += test-api
