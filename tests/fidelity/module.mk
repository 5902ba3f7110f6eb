# tests/fidelity/: what a client written against each vendor's docs sees,
# through the real apikeyd over HTTP (see run.sh for the docs each check
# comes from).
.PHONY: test-fidelity
test-fidelity: $(APIKEYD)
	$(Q)tests/fidelity/run.sh

TEST_SUITES += test-fidelity
