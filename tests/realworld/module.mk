# tests/realworld/: oapigen on every 3.0/3.1 YAML document of @readme/oas-examples
# (npm, test data only). Each must compile through check-spec or be refused
# with "file: /pointer: what is unsupported".
REALWORLD_DIR := tests/realworld

$(REALWORLD_DIR)/node_modules/.installed: $(REALWORLD_DIR)/package-lock.json
	$(Q)cd $(REALWORLD_DIR) && npm ci --no-audit --no-fund --loglevel=error >/dev/null
	$(Q)touch $@

.PHONY: test-realworld
test-realworld: $(REALWORLD_DIR)/node_modules/.installed $(OAPIGEN) $(RT_LIB)
	$(Q)$(REALWORLD_DIR)/run.sh

TEST_SUITES += test-realworld
