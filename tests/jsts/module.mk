# tests/jsts/: the official JSON-Schema-Test-Suite through validators that
# oapigen's schema compiler generates (draft4 files as OpenAPI 3.0, draft
# 2020-12 files as OpenAPI 3.1). See run.sh for what is skipped and why.
JSTS_GEN := $(BUILD)/jsts_gen

$(BUILD)/tests/jsts/jsts_gen.o: CFLAGS_EXTRA := $(GEN_CFLAGS)
$(JSTS_GEN): $(BUILD)/tests/jsts/jsts_gen.o $(GEN_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(GEN_LIBS)

.PHONY: test-jsts jsts-optional
test-jsts: $(JSTS_GEN) $(RT_LIB)
	$(Q)tests/jsts/run.sh required

jsts-optional: $(JSTS_GEN) $(RT_LIB)
	$(Q)tests/jsts/run.sh optional

TEST_SUITES += test-jsts
