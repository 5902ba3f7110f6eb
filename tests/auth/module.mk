# tests/auth/: authentication through the real apikeyd over HTTP: JWTs made
# with openssl (PEM key and JWKS), 429 with Retry-After per client address,
# every key on every family, last_used without a write per request, the
# audit table read with sqlite3.
.PHONY: test-auth
test-auth: $(APIKEYD)
	$(Q)tests/auth/run.sh

TEST_SUITES += test-auth
