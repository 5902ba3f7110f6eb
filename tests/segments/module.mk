# tests/segments/: path templates that share their segment with other text
# ("{sid}.json", "v{major}.{minor}"), over real HTTP on loopback: the
# segment-templates fixture's golden generated code.
SEG_GEN  := tests/generator/golden/segment_templates
SEG_SRCS := tests/segments/test_segments.c $(SEG_GEN)/segment_templates_api.c $(SEG_GEN)/segment_templates_spec.c
SEG_OBJS := $(SEG_SRCS:%.c=$(BUILD)/%.o)
SEG_BIN  := $(BUILD)/test_segments

$(SEG_OBJS): CFLAGS_EXTRA := $(RT_CFLAGS) -I$(SEG_GEN) $(call pc_cflags,check)
$(SEG_BIN): $(SEG_OBJS) $(RT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(RT_LIBS) $(call pc_libs,check)

.PHONY: test-segments
test-segments: $(SEG_BIN)
	$(Q)$(SEG_BIN)

ALL_TARGETS += $(SEG_BIN)
TEST_SUITES += test-segments
