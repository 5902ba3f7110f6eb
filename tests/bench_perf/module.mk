# tests/bench_perf/: the request path against an external bare ulfius server
# (bare_ulfius, plain and TLS), before and after (issue #16); see bench.sh.
# make bench-perf is part of make bench; make test-perf holds its
# behaviour checks (TLS session resumption), with no timing in them.
BARE_ULFIUS := $(BUILD)/tests/bench_perf/bare_ulfius
MKUSERS     := $(BUILD)/tests/bench_perf/mkusers
CHURN       := $(BUILD)/tests/bench_perf/churn
# tests/server/module.mk defines LOADGEN after this file is read (prerequisites
# expand at once), so name its path here
PERF_LOADGEN := $(BUILD)/tests/server/loadgen

$(BUILD)/tests/bench_perf/bare_ulfius.o: CFLAGS_EXTRA = $(call pc_cflags,libulfius gnutls jansson) -Iserver
$(BARE_ULFIUS): $(BUILD)/tests/bench_perf/bare_ulfius.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,libulfius liborcania libmicrohttpd jansson) -lpthread

$(BUILD)/tests/bench_perf/mkusers.o: CFLAGS_EXTRA = $(KEYS_CFLAGS)
$(MKUSERS): $(BUILD)/tests/bench_perf/mkusers.o $(KEYS_LIB) $(APIS_LIB) $(RT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(RT_LIBS)

$(CHURN): $(BUILD)/tests/bench_perf/churn.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^

ALL_TARGETS += $(BARE_ULFIUS) $(MKUSERS) $(CHURN)

.PHONY: test-perf
test-perf: $(APIKEYD) $(PERF_LOADGEN)
	$(Q)APIKEYD=$(CURDIR)/$(APIKEYD) LOADGEN=$(CURDIR)/$(PERF_LOADGEN) ./tests/bench_perf/test.sh

TEST_SUITES += test-perf

.PHONY: bench-perf
bench-perf: $(APIKEYD) $(PERF_LOADGEN) $(BARE_ULFIUS) $(MKUSERS) $(CHURN)
	$(Q)APIKEYD=$(CURDIR)/$(APIKEYD) LOADGEN=$(CURDIR)/$(PERF_LOADGEN) BARE_ULFIUS=$(CURDIR)/$(BARE_ULFIUS) \
	  MKUSERS=$(CURDIR)/$(MKUSERS) CHURN=$(CURDIR)/$(CHURN) ./tests/bench_perf/bench.sh

BENCH_TARGETS += bench-perf
