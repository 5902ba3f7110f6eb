# tests/fuzz/: fuzz targets for what hostile requests reach first: every
# route of the five APIs (security, parameters, request bodies, handlers),
# the parameter parser, the API-key token parser, the Bearer/JWT parser,
# the JSON pull reader against jansson.
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="route jwt"]
#       libFuzzer (clang, -fsanitize=fuzzer,address,undefined), built by a
#       second make into build-fuzz/ so its objects never mix with build/;
#       seeds from the spec examples (fuzz_seeds) and tests/fuzz/seeds/;
#       the growing corpus stays in build-fuzz/corpus/<target>/, crashes go
#       to build-fuzz/crash-<target>-*. Prints executions per second.
#   make test-fuzz-replay (part of make test)
#       the same targets with replay.c's main instead of libFuzzer: every
#       seed and every committed regression input (tests/fuzz/regress/) once.
FUZZ_NAMES   := route params token jwt jread
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build-fuzz
FUZZ_SEEDS   := $(BUILD)/fuzz-seeds/.done

ifeq ($(FUZZ),1)
ALL_CFLAGS  += -fsanitize=fuzzer-no-link
FUZZ_DRIVER := -fsanitize=fuzzer
FUZZ_DRIVER_OBJ :=
else
FUZZ_DRIVER :=
FUZZ_DRIVER_OBJ := $(BUILD)/tests/fuzz/replay.o
endif

FUZZ_CFLAGS := $(KEYS_CFLAGS)
$(BUILD)/tests/fuzz/%.o: CFLAGS_EXTRA = $(FUZZ_CFLAGS)
$(BUILD)/tests/fuzz/fuzz_seeds.o: CFLAGS_EXTRA = $(GEN_CFLAGS)
$(BUILD)/tests/fuzz/fuzz_jread.o: CFLAGS_EXTRA = $(RT_CFLAGS) -Itests/runtime

fuzz_libs_route  := $(KEYS_LIB) $(APIS_LIB) $(RT_LIB)
fuzz_libs_params := $(RT_LIB)
fuzz_libs_token  := $(KEYS_LIB) $(APIS_LIB) $(RT_LIB)
fuzz_libs_jwt    := $(KEYS_LIB) $(APIS_LIB) $(RT_LIB)
fuzz_libs_jread  := $(RT_LIB)

$(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_DRIVER_OBJ) $(KEYS_LIB) $(APIS_LIB) $(RT_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) $(FUZZ_DRIVER) -o $@ $< $(FUZZ_DRIVER_OBJ) $(fuzz_libs_$*) $(RT_LIBS)

$(BUILD)/fuzz_seeds: $(BUILD)/tests/fuzz/fuzz_seeds.o $(GEN_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(GEN_LIBS)

# the route and params seeds, extracted from the documents' examples
$(FUZZ_SEEDS): $(BUILD)/fuzz_seeds $(SPECS)
	$(Q)rm -rf $(dir $@) && mkdir -p $(dir $@)route $(dir $@)params
	$(Q)$(BUILD)/fuzz_seeds $(dir $@) $(SPECS) && touch $@


.PHONY: fuzz fuzz-run test-fuzz-replay
fuzz:
	$(Q)./scripts/install-deps.sh fuzz
	$(Q)$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang SANITIZE=address,undefined FUZZ=1 fuzz-run

fuzz-run: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%) $(FUZZ_SEEDS)
	$(Q)tests/fuzz/run.sh $(BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

test-fuzz-replay: $(FUZZ_NAMES:%=$(BUILD)/fuzz/%) $(FUZZ_SEEDS)
	$(Q)for t in $(FUZZ_NAMES); do d=; \
	  for s in $(BUILD)/fuzz-seeds/$$t tests/fuzz/seeds/$$t tests/fuzz/regress/$$t; do [ ! -d $$s ] || d="$$d $$s"; done; \
	  $(BUILD)/fuzz/$$t $$d || exit 1; done

ALL_TARGETS += $(FUZZ_NAMES:%=$(BUILD)/fuzz/%) $(BUILD)/fuzz_seeds $(FUZZ_SEEDS)
TEST_SUITES += test-fuzz-replay
.SECONDARY: $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz/fuzz_%.o) $(BUILD)/tests/fuzz/replay.o
