# tests/docs/: the docs page (server/docs.h) in Debian's chromium, driven by
# playwright-core (pinned in tests/docs/package-lock.json, installed into
# tests/docs/node_modules; no browser is downloaded). Screenshots in
# $(BUILD)/docs/.
DOCS_TEST := tests/docs

$(DOCS_TEST)/node_modules/.installed: $(DOCS_TEST)/package-lock.json
	$(Q)cd $(DOCS_TEST) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
	$(Q)touch $@

.PHONY: test-docs
test-docs: $(APIKEYD) $(DOCS_TEST)/node_modules/.installed
	$(Q)APIKEYD=$(CURDIR)/$(APIKEYD) ./$(DOCS_TEST)/run.sh

TEST_SUITES += test-docs
