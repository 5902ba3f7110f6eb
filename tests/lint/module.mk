# tests/lint/: the third-party OpenAPI linter (npm @redocly/cli, pinned in
# tests/lint/package-lock.json, installed into tests/lint/node_modules) over
# every document in openapi/, with redocly.yaml's rules: zero errors allowed,
# and examples must validate against their schemas.
LINT_DIR   := tests/lint
LINT_SPECS := $(sort $(wildcard openapi/*.yaml))
REDOCLY    := $(LINT_DIR)/node_modules/.bin/redocly

$(LINT_DIR)/node_modules/.installed: $(LINT_DIR)/package-lock.json
	$(Q)cd $(LINT_DIR) && npm ci --no-audit --no-fund --loglevel=error >/dev/null
	$(Q)touch $@

.PHONY: test-lint
test-lint: $(LINT_DIR)/node_modules/.installed
	$(Q)p=0; f=0; for s in $(LINT_SPECS); do \
	  if REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
	     $(REDOCLY) lint --config redocly.yaml --max-problems 50 "$$s" >$(BUILD)/lint.log 2>&1 \
	     && ! grep -qE 'You have [0-9]+ warning' $(BUILD)/lint.log; then \
	    echo "ok      $$s"; p=$$((p+1)); \
	  else echo "FAILED  $$s"; grep -v '[║╔╚]' $(BUILD)/lint.log; f=$$((f+1)); fi; \
	done; echo "lint: $$p passed, $$f failed"; [ $$f -eq 0 ]

TEST_SUITES += test-lint
