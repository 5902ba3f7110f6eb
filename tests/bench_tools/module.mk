# tests/bench_tools/: the baselines that need npm tools (pinned in
# tests/bench_tools/package-lock.json, installed into its node_modules; never
# part of the build):
#   bench-gen       oapigen vs @apidevtools/swagger-parser validate (which
#                   dereferences), wall time per document; with
#                   BIG_CORPUS=dir also Stripe, GitHub and Microsoft Graph
#                   against redocly lint and swagger-parser (bench_big.sh)
#   bench-validate  oapigen-compiled validators vs ajv + ajv-formats compiled
#                   from the same schemas, validations/s, all errors collected
#   bench-parse     bytes to validated value (issue 11): the generated
#                   parsers (into the model, else an rt_value tree; the json_t
#                   beside), json_loadb + the compiled validator, and rt_jread
#                   alone, vs JSON.parse + an ajv standalone validator;
#                   callgrind instructions per body
BENCH_TOOLS := tests/bench_tools
VALGEN      := $(BUILD)/tests/bench_tools/valgen

$(BENCH_TOOLS)/node_modules/.installed: $(BENCH_TOOLS)/package-lock.json
	$(Q)cd $(BENCH_TOOLS) && npm ci --no-audit --no-fund --loglevel=error >/dev/null
	$(Q)touch $@

$(BUILD)/tests/bench_tools/valgen.o: CFLAGS_EXTRA := $(GEN_CFLAGS)
$(VALGEN): $(BUILD)/tests/bench_tools/valgen.o $(GEN_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(GEN_LIBS)

.PHONY: bench-gen bench-validate bench-parse
bench-gen: $(BENCH_TOOLS)/node_modules/.installed tests/realworld/node_modules/.installed tests/lint/node_modules/.installed $(OAPIGEN)
	$(Q)OAPIGEN=$(CURDIR)/$(OAPIGEN) BIG_CORPUS="$(BIG_CORPUS)" ./$(BENCH_TOOLS)/bench_gen.sh

bench-validate: $(BENCH_TOOLS)/node_modules/.installed tests/realworld/node_modules/.installed $(VALGEN) $(RT_LIB)
	$(Q)VALGEN=$(CURDIR)/$(VALGEN) CC="$(CC)" CFLAGS_BENCH="$(filter-out -MMD -MP,$(ALL_CFLAGS)) $(RT_CFLAGS) -I$(BENCH_TOOLS)" \
	  LIBS_BENCH="$(CURDIR)/$(RT_LIB) $(RT_LIBS) $(ALL_LDFLAGS)" ./$(BENCH_TOOLS)/bench_validate.sh

ALL_TARGETS += $(VALGEN)
bench-parse: $(BENCH_TOOLS)/node_modules/.installed tests/realworld/node_modules/.installed $(VALGEN) $(RT_LIB) $(APIS_LIB)
	$(Q)VALGEN=$(CURDIR)/$(VALGEN) CC="$(CC)" CFLAGS_BENCH="$(filter-out -MMD -MP,$(ALL_CFLAGS)) $(RT_CFLAGS) -I$(BENCH_TOOLS) $(addprefix -I$(CURDIR)/,$(wildcard generated/*))" \
	  LIBS_BENCH="$(CURDIR)/$(APIS_LIB) $(CURDIR)/$(RT_LIB) $(RT_LIBS) $(ALL_LDFLAGS)" ./$(BENCH_TOOLS)/bench_parse.sh

BENCH_TARGETS += bench-gen bench-validate bench-parse
