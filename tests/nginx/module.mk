# tests/nginx/: Debian's nginx (installed through scripts/install-deps.sh
# when missing) with auth_request /v1/auth in front of a small upstream,
# against the real apikeyd, on free loopback ports (issue 13).
.PHONY: test-nginx
test-nginx: $(APIKEYD)
	$(Q)tests/nginx/run.sh

TEST_SUITES += test-nginx
