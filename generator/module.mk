# generator/: oapigen. Everything but main.c goes into build/libgen.a so test
# drivers can link the generator's modules; oapigen = main.o + libgen.a.
# The generator never links the runtime.
GEN_SRCS := $(sort $(filter-out generator/main.c,$(wildcard generator/*.c)))
GEN_OBJS := $(GEN_SRCS:%.c=$(BUILD)/%.o)
GEN_LIB  := $(BUILD)/libgen.a
GEN_CFLAGS := $(call pc_cflags,$(PKGS_GEN)) -Igenerator -Iruntime
GEN_LIBS   := $(call pc_libs,$(PKGS_GEN))
OAPIGEN  := $(BUILD)/oapigen

$(GEN_OBJS) $(BUILD)/generator/main.o: CFLAGS_EXTRA := $(GEN_CFLAGS)

$(GEN_LIB): $(GEN_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(OAPIGEN): $(BUILD)/generator/main.o $(GEN_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(GEN_LIBS)

ALL_TARGETS += $(GEN_LIB) $(if $(wildcard generator/main.c),$(OAPIGEN))

# make generate: rewrite generated/<api>/ from every openapi/<api>.yaml.
SPECS := $(sort $(wildcard openapi/*.yaml))
GENERATED_DIR ?= generated
.PHONY: generate check-spec
generate: $(OAPIGEN)
	$(Q)for s in $(SPECS); do n=$$(basename $$s .yaml); \
	  $(OAPIGEN) -o $(GENERATED_DIR)/$$n $$s || exit 1; done

# make check-spec SPEC=path/to/any.yaml: generate into a temporary folder,
# compile with the project's warnings-as-errors and link against runtime/.
check-spec: $(OAPIGEN) $(RT_LIB)
	$(Q)test -n "$(SPEC)" || { echo "usage: make check-spec SPEC=path/to/spec.yaml" >&2; exit 2; }
	$(Q)scripts/check-spec.sh "$(SPEC)" "$(CC)" "$(ALL_CFLAGS) $(RT_CFLAGS)" "$(RT_LIB) $(RT_LIBS) $(ALL_LDFLAGS)"
