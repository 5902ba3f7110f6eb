# tests/typed/: renaming a body property in a copy of openapi/heron.yaml
# makes handlers/heron.c stop compiling, naming the field (run.sh); and the
# kitchen fixture's generated model readers and writers round-trip
# documents to jansson's exact bytes (roundtrip.c).
TYPED_CFLAGS := $(ALL_CFLAGS) $(call pc_cflags,$(PKGS_RUNTIME)) -Ihandlers -Ikeysvc -Iruntime \
                $(addprefix -I,$(filter-out generated/heron,$(wildcard generated/*)))
TYPED_RT_SRCS := tests/typed/roundtrip.c tests/generator/golden/kitchen/kitchen_api.c \
                 tests/generator/golden/kitchen/kitchen_spec.c
TYPED_RT_OBJS := $(patsubst %.c,$(BUILD)/tests/typed/rt/%.o,$(notdir $(TYPED_RT_SRCS)))
TYPED_RT_BIN  := $(BUILD)/typed_roundtrip

$(BUILD)/tests/typed/rt/%.o: tests/typed/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(RT_CFLAGS) -Itests/generator/golden/kitchen -c -o $@ $<
$(BUILD)/tests/typed/rt/%.o: tests/generator/golden/kitchen/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(RT_CFLAGS) -Itests/generator/golden/kitchen -c -o $@ $<
$(TYPED_RT_BIN): $(TYPED_RT_OBJS) $(RT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(RT_LIBS)

.PHONY: test-typed
test-typed: $(OAPIGEN) $(TYPED_RT_BIN)
	$(Q)$(TYPED_RT_BIN)
	$(Q)tests/typed/run.sh "$(CC)" "$(TYPED_CFLAGS)"

ALL_TARGETS += $(TYPED_RT_BIN)
TEST_SUITES += test-typed
