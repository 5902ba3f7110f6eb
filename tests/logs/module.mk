# tests/logs/: --log-format json parsed line by line with jq, X-Request-Id
# kept or made, sent back and logged, no key material in either format.
# See run.sh.
.PHONY: test-logs
test-logs: $(APIKEYD)
	$(Q)tests/logs/run.sh

TEST_SUITES += test-logs
