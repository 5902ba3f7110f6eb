# tests/server/: the real build/apikeyd on random loopback ports, real
# clients (curl, gnutls-cli, openssl s_client); see run.sh.
UTF8_TEST := $(BUILD)/tests/server/utf8_test
$(BUILD)/tests/server/utf8_test.o: CFLAGS_EXTRA = -Iruntime
$(UTF8_TEST): $(BUILD)/tests/server/utf8_test.o $(BUILD)/runtime/rt_utf8.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^

# server/routes.c's cut endpoint lists against ulfius's matching over the whole list
ROUTES_TEST := $(BUILD)/tests/server/routes_test
$(BUILD)/tests/server/routes_test.o: CFLAGS_EXTRA = $(RT_CFLAGS) -Iserver
$(ROUTES_TEST): $(BUILD)/tests/server/routes_test.o $(BUILD)/server/routes.o $(RT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(RT_LIBS)

# server/gate.c's hand-over of established TLS sessions, against a
# stand-in for libmicrohttpd's MHD_add_connection (gate_test.c)
GATE_TEST := $(BUILD)/tests/server/gate_test
$(BUILD)/tests/server/gate_test.o: CFLAGS_EXTRA = $(SERVER_CFLAGS) -Iserver
$(GATE_TEST): $(BUILD)/tests/server/gate_test.o $(BUILD)/server/gate.o $(BUILD)/server/tls.o $(BUILD)/server/certgen.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,gnutls libyder) -ldl -lpthread

# server/oalloc.c under orcania's functions and ulfius's request state
OALLOC_TEST := $(BUILD)/tests/server/oalloc_test
$(BUILD)/tests/server/oalloc_test.o: CFLAGS_EXTRA = $(SERVER_CFLAGS) -Iserver
$(OALLOC_TEST): $(BUILD)/tests/server/oalloc_test.o $(BUILD)/server/oalloc.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,libulfius liborcania) -lpthread

.PHONY: test-server
test-server: $(APIKEYD) $(UTF8_TEST) $(ROUTES_TEST) $(GATE_TEST) $(OALLOC_TEST)
	$(Q)./$(OALLOC_TEST)
	$(Q)./$(UTF8_TEST)
	$(Q)./$(ROUTES_TEST)
	$(Q)./$(GATE_TEST)
	$(Q)APIKEYD=$(CURDIR)/$(APIKEYD) ./tests/server/run.sh

TEST_SUITES += test-server

# make bench: server throughput, authenticated API request vs bare endpoint
LOADGEN := $(BUILD)/tests/server/loadgen
$(BUILD)/tests/server/loadgen.o: CFLAGS_EXTRA = $(call pc_cflags,gnutls)
$(LOADGEN): $(BUILD)/tests/server/loadgen.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,gnutls) -lpthread

.PHONY: bench-server
bench-server: $(APIKEYD) $(LOADGEN)
	$(Q)APIKEYD=$(CURDIR)/$(APIKEYD) LOADGEN=$(CURDIR)/$(LOADGEN) ./tests/server/bench.sh

BENCH_TARGETS += bench-server
