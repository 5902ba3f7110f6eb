# tests/pgstall/: PostgreSQL stopped without closing its connections
# (SIGSTOP): requests that need it are answered 503 within a bound, not
# held until it returns. See run.sh.
.PHONY: test-pgstall
test-pgstall: $(APIKEYD)
	$(Q)tests/pgstall/run.sh

TEST_SUITES += test-pgstall
