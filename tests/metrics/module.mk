# tests/metrics/: GET /metrics scraped by a real Prometheus (Debian's
# prometheus, started on loopback by the test), counter values checked
# through its HTTP API, the page checked by promtool; where /metrics is
# served (--metrics). See run.sh.
.PHONY: test-metrics
test-metrics: $(APIKEYD)
	$(Q)tests/metrics/run.sh

TEST_SUITES += test-metrics
