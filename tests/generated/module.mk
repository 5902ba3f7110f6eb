# tests/generated/: generated/ must be exactly what `make generate` writes
# from openapi/ now (it is committed, never hand-edited).
.PHONY: test-generated
test-generated: $(OAPIGEN)
	$(Q)tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	$(MAKE) -s --no-print-directory generate GENERATED_DIR=$$tmp/generated && \
	if diff -r generated $$tmp/generated >$$tmp/diff; then echo "generated: 1 passed, 0 failed"; \
	else sed 's/^/  /' $$tmp/diff | head -40; echo "generated/ is stale: run make generate and commit"; \
	echo "generated: 0 passed, 1 failed"; exit 1; fi

TEST_SUITES += test-generated
