# tests/generator/: fixture specs -> golden outputs, compiled and linked;
# refused documents with their expected "file: /pointer: what" messages.
.PHONY: test-generator
test-generator: $(OAPIGEN) $(RT_LIB)
	$(Q)tests/generator/run.sh

TEST_SUITES += test-generator
