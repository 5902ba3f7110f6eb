# tests/runtime/: unit tests of runtime/ pieces that need no HTTP (Check):
# rt_json and rt_pattern.h (test_runtime), rt_arena and rt_jread (test_rt_jread, which also
# reads every input with jansson and compares), rt_items' framings (test_rt_items).
RTTEST_BIN   := $(BUILD)/test_runtime
JREADTEST_BIN := $(BUILD)/test_rt_jread
ITEMSTEST_BIN := $(BUILD)/test_rt_items

$(BUILD)/tests/runtime/%.o: CFLAGS_EXTRA := $(RT_CFLAGS) $(call pc_cflags,check)
$(RTTEST_BIN): $(BUILD)/tests/runtime/test_rt_json.o $(RT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(RT_LIBS) $(call pc_libs,check)

$(JREADTEST_BIN): $(BUILD)/tests/runtime/test_rt_jread.o $(RT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(RT_LIBS) $(call pc_libs,check)

$(ITEMSTEST_BIN): $(BUILD)/tests/runtime/test_rt_items.o $(RT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(RT_LIBS) $(call pc_libs,check)

.PHONY: test-runtime
test-runtime: $(RTTEST_BIN) $(JREADTEST_BIN) $(ITEMSTEST_BIN)
	$(Q)$(RTTEST_BIN)
	$(Q)$(JREADTEST_BIN)
	$(Q)$(ITEMSTEST_BIN)

ALL_TARGETS += $(RTTEST_BIN) $(JREADTEST_BIN) $(ITEMSTEST_BIN)
TEST_SUITES += test-runtime
