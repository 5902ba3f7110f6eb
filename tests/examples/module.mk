# tests/examples/: every examples/*/ builds out of tree against this source
# tree's runtime (make APIKEYD_SRC=...), and the petstore example answers
# over real HTTP as run.sh checks with curl.
.PHONY: test-examples
test-examples: $(OAPIGEN) $(RT_LIB)
	$(Q)BUILD=$(BUILD) tests/examples/run.sh

TEST_SUITES += test-examples
