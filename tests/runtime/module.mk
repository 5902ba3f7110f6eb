# tests/runtime/: unit tests of runtime/ pieces that need no HTTP (Check).
RTTEST_BIN := $(BUILD)/test_runtime

$(BUILD)/tests/runtime/test_rt_json.o: CFLAGS_EXTRA := $(RT_CFLAGS) $(call pc_cflags,check)
$(RTTEST_BIN): $(BUILD)/tests/runtime/test_rt_json.o $(RT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(RT_LIBS) $(call pc_libs,check)

.PHONY: test-runtime
test-runtime: $(RTTEST_BIN)
	$(Q)$(RTTEST_BIN)

ALL_TARGETS += $(RTTEST_BIN)
TEST_SUITES += test-runtime
