# tests/generator/: fixture specs -> golden outputs, compiled and linked;
# refused documents with their expected "file: /pointer: what" messages;
# load_json: the generator's JSON reader against jansson's parser.
LOAD_JSON_TEST := $(BUILD)/load_json_test
$(BUILD)/tests/generator/load_json.o: CFLAGS_EXTRA := $(GEN_CFLAGS)
$(LOAD_JSON_TEST): $(BUILD)/tests/generator/load_json.o $(GEN_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(GEN_LIBS)

.PHONY: test-generator
test-generator: $(OAPIGEN) $(RT_LIB) $(LOAD_JSON_TEST)
	$(Q)tests/generator/run.sh

TEST_SUITES += test-generator
