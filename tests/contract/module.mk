# tests/contract/: contract tests driven by the OpenAPI documents themselves
# (tests/contract/contract.mjs, Node; ajv, ajv-formats and yaml pinned in
# package-lock.json and installed into tests/contract/node_modules). Every
# response goes through ajv and through build/contract/check_<api>, a filter
# built from that API's generated C (<api>_validate_response) and the runtime.
#   make test-contract      the five documents against the real apikeyd over HTTPS
#   make contract SPEC=your.yaml URL=https://host:port [CREDENTIAL=...] [CONTRACT_ARGS=...]
#                           your document against your running server
CONTRACT_DIR  := tests/contract
CONTRACT_APIS := $(notdir $(wildcard generated/*))
CONTRACT_CHECKERS := $(CONTRACT_APIS:%=$(BUILD)/contract/check_%)

$(CONTRACT_DIR)/node_modules/.installed: $(CONTRACT_DIR)/package-lock.json
	$(Q)cd $(CONTRACT_DIR) && npm ci --no-audit --no-fund --loglevel=error >/dev/null
	$(Q)touch $@

# one checker object per API: checker.c with that API's header
$(BUILD)/contract/%/checker.o: $(CONTRACT_DIR)/checker.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(RT_CFLAGS) -Igenerated/$* -DCHECK_API=$* -DCHECK_HEADER=$*_api.h -c $< -o $@

define CONTRACT_CHECKER_RULE
$$(BUILD)/contract/check_$(1): $$(BUILD)/contract/$(1)/checker.o $$(BUILD)/generated/$(1)/$(1)_api.o $$(BUILD)/generated/$(1)/$(1)_spec.o $$(RT_LIB)
	@$$(if $$(Q),echo "  LD      $$@")
	$$(Q)$$(CC) $$(ALL_LDFLAGS) -o $$@ $$^ $$(RT_LIBS)
endef
$(foreach a,$(CONTRACT_APIS),$(eval $(call CONTRACT_CHECKER_RULE,$(a))))

.PHONY: test-contract contract
test-contract: $(APIKEYD) $(OAPIGEN) $(RT_LIB) $(CONTRACT_CHECKERS) $(CONTRACT_DIR)/node_modules/.installed
	$(Q)BUILD_DIR="$(CURDIR)/$(BUILD)" CC="$(CC)" CFLAGS_ALL="$(ALL_CFLAGS) $(RT_CFLAGS)" LIBS="$(RT_LIB) $(RT_LIBS) $(ALL_LDFLAGS)" $(CONTRACT_DIR)/run.sh

# make contract: oapigen on SPEC, a checker from its output, then the runner
# against the server at URL.
contract: $(OAPIGEN) $(RT_LIB) $(CONTRACT_DIR)/node_modules/.installed
	$(Q)test -n "$(SPEC)" && test -n "$(URL)" || { echo "usage: make contract SPEC=path/to/spec.yaml URL=https://host:port [CREDENTIAL=...] [CONTRACT_ARGS='--cacert FILE ...']" >&2; exit 2; }
	$(Q)BUILD_DIR="$(CURDIR)/$(BUILD)" CC="$(CC)" CFLAGS_ALL="$(ALL_CFLAGS) $(RT_CFLAGS)" LIBS="$(RT_LIB) $(RT_LIBS) $(ALL_LDFLAGS)" \
	  $(CONTRACT_DIR)/user.sh "$(SPEC)" "$(URL)" "$(CREDENTIAL)" $(CONTRACT_ARGS)

ALL_TARGETS += $(CONTRACT_CHECKERS)
TEST_SUITES += test-contract
