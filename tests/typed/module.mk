# tests/typed/: renaming a body property in a copy of openapi/heron.yaml
# makes handlers/heron.c stop compiling, naming the field (run.sh); and the
# kitchen fixture's generated model readers and writers round-trip
# documents to jansson's exact bytes (roundtrip.c); and every response
# example of the five APIs goes through its model to the bytes the json_t
# path sends (bytes.c).
TYPED_CFLAGS := $(ALL_CFLAGS) $(call pc_cflags,$(PKGS_RUNTIME)) -Ihandlers -Ikeysvc -Iruntime \
                $(addprefix -I,$(filter-out generated/heron,$(wildcard generated/*)))
TYPED_RT_SRCS := tests/typed/roundtrip.c tests/generator/golden/kitchen/kitchen_api.c \
                 tests/generator/golden/kitchen/kitchen_spec.c tests/generator/golden/models/models_api.c \
                 tests/generator/golden/models/models_spec.c
TYPED_RT_OBJS := $(patsubst %.c,$(BUILD)/tests/typed/rt/%.o,$(notdir $(TYPED_RT_SRCS)))
TYPED_RT_BIN  := $(BUILD)/typed_roundtrip

$(BUILD)/tests/typed/rt/%.o: tests/typed/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(RT_CFLAGS) -Itests/generator/golden/kitchen -Itests/generator/golden/models -c -o $@ $<
$(BUILD)/tests/typed/rt/%.o: tests/generator/golden/kitchen/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(RT_CFLAGS) -Itests/generator/golden/kitchen -c -o $@ $<
$(BUILD)/tests/typed/rt/%.o: tests/generator/golden/models/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(RT_CFLAGS) -Itests/generator/golden/models -c -o $@ $<
$(TYPED_RT_BIN): $(TYPED_RT_OBJS) $(RT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(RT_LIBS)

# bytes.c: the five APIs' generated code, and the table of their typed
# responses read from the headers' builder prototypes
TYPED_APIS      := fastapi feldera heron nebula nebula_uuid
TYPED_BYTES_BIN := $(BUILD)/typed_bytes
TYPED_BYTES_INC := $(BUILD)/tests/typed/typed_models.inc
$(TYPED_BYTES_INC): $(foreach a,$(TYPED_APIS),generated/$(a)/$(a)_api.h) tests/typed/module.mk
	@mkdir -p $(dir $@)
	$(Q)for a in $(TYPED_APIS); do \
		sed -n "s/^int $${a}_\([A-Za-z0-9_]*\)_respond_\([0-9X]*\|default\)(rt_ctx \*ctx\(, int status\)\{0,1\}, const \([A-Za-z0-9_]*\) \*body.*/M($$a, \1, \2, \4)/p" \
			generated/$$a/$${a}_api.h || exit 1; \
	done >$@.tmp && test -s $@.tmp && mv $@.tmp $@
$(BUILD)/tests/typed/bytes.o: tests/typed/bytes.c $(TYPED_BYTES_INC)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(RT_CFLAGS) $(addprefix -Igenerated/,$(TYPED_APIS)) -I$(dir $(TYPED_BYTES_INC)) -c -o $@ $<
$(TYPED_BYTES_BIN): $(BUILD)/tests/typed/bytes.o $(APIS_LIB) $(RT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(RT_LIBS)

.PHONY: test-typed
test-typed: $(OAPIGEN) $(TYPED_RT_BIN) $(TYPED_BYTES_BIN)
	$(Q)$(TYPED_RT_BIN)
	$(Q)$(TYPED_BYTES_BIN)
	$(Q)tests/typed/run.sh "$(CC)" "$(TYPED_CFLAGS)"

ALL_TARGETS += $(TYPED_RT_BIN) $(TYPED_BYTES_BIN)
TEST_SUITES += test-typed
