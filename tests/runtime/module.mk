# tests/runtime/: unit tests of runtime/ pieces that need no HTTP (Check):
# rt_json and rt_pattern.h (test_runtime), rt_arena and rt_jread (test_rt_jread, which also
# reads every input with jansson and compares), rt_items' framings (test_rt_items),
# rt_jalloc over the generated apikeyd and feldera body parsers (test_rt_jalloc).
RTTEST_BIN   := $(BUILD)/test_runtime
JREADTEST_BIN := $(BUILD)/test_rt_jread
ITEMSTEST_BIN := $(BUILD)/test_rt_items
JALLOCTEST_BIN := $(BUILD)/test_rt_jalloc

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

# the generated apikeyd and feldera body parsers: json_t entry points to test with
$(BUILD)/tests/runtime/test_rt_jalloc.o: CFLAGS_EXTRA := $(RT_CFLAGS) $(call pc_cflags,check) -Igenerated/apikeyd -Igenerated/feldera
$(JALLOCTEST_BIN): $(BUILD)/tests/runtime/test_rt_jalloc.o $(APIS_LIB) $(RT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(RT_LIBS) $(call pc_libs,check)

.PHONY: test-runtime
test-runtime: $(RTTEST_BIN) $(JREADTEST_BIN) $(ITEMSTEST_BIN) $(JALLOCTEST_BIN)
	$(Q)$(RTTEST_BIN)
	$(Q)$(JREADTEST_BIN)
	$(Q)$(ITEMSTEST_BIN)
	$(Q)$(JALLOCTEST_BIN)

ALL_TARGETS += $(RTTEST_BIN) $(JREADTEST_BIN) $(ITEMSTEST_BIN) $(JALLOCTEST_BIN)
TEST_SUITES += test-runtime
