# tests/admin/: the operating commands (server/admin.c) against a running
# build/apikeyd: user list, key list/show/revoke and audit checked against
# the API's view (a CLI revocation refused at the server's next request),
# two keyring rotations under create and authentication load losing no key,
# and a backup under create load restored into a fresh folder. test-admin-pg
# runs it on a PostgreSQL store of its own (tests/lib/store.sh).
.PHONY: test-admin test-admin-pg
test-admin: $(APIKEYD)
	$(Q)tests/admin/run.sh

test-admin-pg: $(APIKEYD)
	$(Q)APIKEYD_STORE=postgresql tests/admin/run.sh

TEST_SUITES += test-admin test-admin-pg
