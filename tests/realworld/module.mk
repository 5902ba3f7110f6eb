# tests/realworld/: oapigen on every 2.0/3.0/3.1 YAML document of @readme/oas-examples
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

# make corpus CORPUS=dir: the same tally over every OpenAPI document found
# under dir (any folder of public specs; not part of make test), with the
# time and peak memory of each. TIMEOUT=seconds bounds each step (300);
# COMPILE=0 runs oapigen alone (no check-spec).
.PHONY: corpus
corpus: $(OAPIGEN) $(RT_LIB)
	$(Q)test -n "$(CORPUS)" || { echo "usage: make corpus CORPUS=folder-of-specs [TIMEOUT=300]" >&2; exit 2; }
	$(Q)TIMEOUT=$(or $(TIMEOUT),300) COMPILE=$(or $(COMPILE),1) $(REALWORLD_DIR)/run.sh $(CORPUS)
