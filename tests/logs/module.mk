# tests/logs/: --log-format json parsed line by line with jq, X-Request-Id
# kept or made, sent back and logged, no key material in either format.
# See run.sh.
# server/log.c's per-thread buffers of access lines, from inside (log_slots_test.c)
LOG_SLOTS_TEST := $(BUILD)/tests/logs/log_slots_test
$(BUILD)/tests/logs/log_slots_test.o: CFLAGS_EXTRA = $(SERVER_CFLAGS) -Iserver
$(LOG_SLOTS_TEST): $(BUILD)/tests/logs/log_slots_test.o $(BUILD)/server/log.o $(KEYS_LIB) $(RT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(RT_LIBS) $(SERVER_LIBS) -lpthread

# server/log.c when standard error's reader stops reading (log_stall_test.c)
LOG_STALL_TEST := $(BUILD)/tests/logs/log_stall_test
$(BUILD)/tests/logs/log_stall_test.o: CFLAGS_EXTRA = $(SERVER_CFLAGS) -Iserver
$(LOG_STALL_TEST): $(BUILD)/tests/logs/log_stall_test.o $(BUILD)/server/log.o $(KEYS_LIB) $(RT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(RT_LIBS) $(SERVER_LIBS) -lpthread

# a Unix datagram socket standing in for syslog's or the journal's (dgram_sink.c)
LOG_DGRAM_SINK := $(BUILD)/tests/logs/dgram_sink
$(LOG_DGRAM_SINK): $(BUILD)/tests/logs/dgram_sink.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^

.PHONY: test-logs
test-logs: $(APIKEYD) $(LOG_SLOTS_TEST) $(LOG_STALL_TEST) $(LOG_DGRAM_SINK)
	$(Q)./$(LOG_SLOTS_TEST)
	$(Q)./$(LOG_STALL_TEST)
	$(Q)./$(LOG_STALL_TEST) syslog
	$(Q)tests/logs/run.sh

TEST_SUITES += test-logs
