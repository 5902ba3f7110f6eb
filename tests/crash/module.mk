# tests/crash/: concurrent creates through every family, kill -9 of the real
# apikeyd in the middle, restart: every 201 survived and authenticates, and
# nothing was stored that no client sent (see run.sh for what is asserted).
.PHONY: test-crash
test-crash: $(APIKEYD)
	$(Q)tests/crash/run.sh

TEST_SUITES += test-crash
