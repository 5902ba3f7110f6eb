# tests/generator/: fixture specs -> golden outputs, compiled and linked;
# refused documents with their expected "file: /pointer: what" messages;
# load_json: the generator's JSON reader against jansson's parser;
# strtab: gen_strtab against a plain list.
LOAD_JSON_TEST := $(BUILD)/load_json_test
STRTAB_TEST := $(BUILD)/strtab_test
$(BUILD)/tests/generator/strtab.o: CFLAGS_EXTRA := $(GEN_CFLAGS)
$(STRTAB_TEST): $(BUILD)/tests/generator/strtab.o $(GEN_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(GEN_LIBS)
$(BUILD)/tests/generator/load_json.o: CFLAGS_EXTRA := $(GEN_CFLAGS)
$(LOAD_JSON_TEST): $(BUILD)/tests/generator/load_json.o $(GEN_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(GEN_LIBS)

.PHONY: test-generator
test-generator: $(OAPIGEN) $(RT_LIB) $(LOAD_JSON_TEST) $(STRTAB_TEST)
	$(Q)tests/generator/run.sh

TEST_SUITES += test-generator
