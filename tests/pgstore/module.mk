# tests/pgstore/: the HTTP suites once more with the PostgreSQL store: each
# starts a real PostgreSQL server of its own (tests/lib/pg.sh: initdb as the
# postgres user, a Unix socket in the suite's scratch folder, no TCP port)
# and stops it when done (tests/lib/store.sh, APIKEYD_STORE=postgresql).
PG_STORE_SUITES := api auth fidelity contract crash verify
.PHONY: $(PG_STORE_SUITES:%=test-%-pg)
$(PG_STORE_SUITES:%=test-%-pg): test-%-pg:
	$(Q)APIKEYD_STORE=postgresql $(MAKE) --no-print-directory test-$*

TEST_SUITES += $(PG_STORE_SUITES:%=test-%-pg)
