# tests/pipeline/: the generated request pipeline end to end over real HTTP
# (and HTTPS with client certificates): the kitchen, styles, dynamic, mtls,
# forms, stripe_customers, custom_auth, openapi32 and pcre_limits fixtures' golden generated code, registered on loopback.
PIPE_GOLDEN := kitchen styles dynamic mtls forms stripe_customers custom_auth openapi32 pcre_limits
PIPE_SRCS := tests/pipeline/test_pipeline.c \
             $(foreach g,$(PIPE_GOLDEN),tests/generator/golden/$(g)/$(g)_api.c tests/generator/golden/$(g)/$(g)_spec.c)
PIPE_OBJS := $(PIPE_SRCS:%.c=$(BUILD)/%.o)
PIPE_BIN  := $(BUILD)/test_pipeline
PIPE_CERTS := $(BUILD)/tests/pipeline/certs

$(PIPE_OBJS): CFLAGS_EXTRA := $(RT_CFLAGS) $(foreach g,$(PIPE_GOLDEN),-Itests/generator/golden/$(g)) $(call pc_cflags,check)
$(PIPE_BIN): $(PIPE_OBJS) $(RT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(RT_LIBS) $(call pc_libs,check)

.PHONY: test-pipeline
test-pipeline: $(PIPE_BIN)
	$(Q)tests/pipeline/certs.sh $(PIPE_CERTS)
	$(Q)PIPE_CERTS=$(PIPE_CERTS) $(PIPE_BIN)

ALL_TARGETS += $(PIPE_BIN)
TEST_SUITES += test-pipeline
