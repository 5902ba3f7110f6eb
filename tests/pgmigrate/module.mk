# tests/pgmigrate/: `apikeyd migrate` from a SQLite store made by the real
# apikeyd (every family, keys deactivated, revoked and deleted) into a fresh
# PostgreSQL server of the suite's own (tests/lib/pg.sh); apikeyd started on
# the copy with the same secret: every key answers as before, lists are the
# same, new ids continue past the old ones; the refusals.
.PHONY: test-pgmigrate
test-pgmigrate: $(APIKEYD)
	$(Q)tests/pgmigrate/run.sh

TEST_SUITES += test-pgmigrate
