# tests/scale/: oapigen's time grows linearly with the document (a synthetic
# document at N and 4N paths and schemas, YAML and JSON; CPU-time ratio).
.PHONY: test-scale
test-scale: $(OAPIGEN)
	$(Q)tests/scale/run.sh

TEST_SUITES += test-scale
