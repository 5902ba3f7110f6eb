# tests/pipeline/: the generated request pipeline end to end over real HTTP:
# the kitchen, styles and dynamic fixtures' golden generated code,
# registered on loopback.
PIPE_GEN  := tests/generator/golden/kitchen
PIPE_GEN2 := tests/generator/golden/styles
PIPE_GEN3 := tests/generator/golden/dynamic
PIPE_SRCS := tests/pipeline/test_pipeline.c $(PIPE_GEN)/kitchen_api.c $(PIPE_GEN)/kitchen_spec.c \
             $(PIPE_GEN2)/styles_api.c $(PIPE_GEN2)/styles_spec.c \
             $(PIPE_GEN3)/dynamic_api.c $(PIPE_GEN3)/dynamic_spec.c
PIPE_OBJS := $(PIPE_SRCS:%.c=$(BUILD)/%.o)
PIPE_BIN  := $(BUILD)/test_pipeline

$(PIPE_OBJS): CFLAGS_EXTRA := $(RT_CFLAGS) -I$(PIPE_GEN) -I$(PIPE_GEN2) -I$(PIPE_GEN3) $(call pc_cflags,check)
$(PIPE_BIN): $(PIPE_OBJS) $(RT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(RT_LIBS) $(call pc_libs,check)

.PHONY: test-pipeline
test-pipeline: $(PIPE_BIN)
	$(Q)$(PIPE_BIN)

ALL_TARGETS += $(PIPE_BIN)
TEST_SUITES += test-pipeline
