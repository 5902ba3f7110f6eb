# tests/keysvc/: the key service and store without HTTP (Check).
KEYSVC_TEST := $(BUILD)/test_keysvc

$(BUILD)/tests/keysvc/test_keysvc.o: CFLAGS_EXTRA := $(KEYS_CFLAGS) $(call pc_cflags,check)
$(KEYSVC_TEST): $(BUILD)/tests/keysvc/test_keysvc.o $(KEYS_LIB) $(APIS_LIB) $(RT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(RT_LIBS) $(call pc_libs,check)

.PHONY: test-keysvc
test-keysvc: $(KEYSVC_TEST)
	$(Q)$(KEYSVC_TEST)

ALL_TARGETS += $(KEYSVC_TEST)
TEST_SUITES += test-keysvc
