# tests/sighup/: SIGHUP re-reads a running apikeyd's settings: the JWT key
# file and jwt-* settings, log-level; what needs a restart is named. See run.sh.
.PHONY: test-sighup
test-sighup: $(APIKEYD)
	$(Q)tests/sighup/run.sh

TEST_SUITES += test-sighup
