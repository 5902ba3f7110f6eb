# tests/server/: the real build/apikeyd on random loopback ports, real
# clients (curl, gnutls-cli, openssl s_client); see run.sh.
.PHONY: test-server
test-server: $(APIKEYD)
	$(Q)APIKEYD=$(CURDIR)/$(APIKEYD) ./tests/server/run.sh

TEST_SUITES += test-server
