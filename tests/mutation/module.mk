# tests/mutation/: a valid document broken one OpenAPI rule at a time
# (mutations.txt, jq filters on base.json); oapigen must refuse each with a
# "file: /pointer: what" message.
.PHONY: test-mutation
test-mutation: $(OAPIGEN)
	$(Q)tests/mutation/run.sh

TEST_SUITES += test-mutation
