# tests/adversarial/: the attacks of the security audit (SECURITY.md), each
# as raw requests against the real apikeyd on loopback, bounded in count and
# time, asserting the attack is refused. One suite per script:
# tests/adversarial/<topic>.sh is `make test-adversarial-<topic>`. Each
# tests/adversarial/<tool>.c is a small client (raw sockets, many
# connections) built into $(BUILD)/adversarial/<tool>, for the scripts
# ($ADV_BIN names that folder).
ADV_SCRIPTS := $(sort $(wildcard tests/adversarial/*.sh))
ADV_SUITES  := $(patsubst tests/adversarial/%.sh,test-adversarial-%,$(ADV_SCRIPTS))
ADV_TOOLS   := $(patsubst tests/adversarial/%.c,$(BUILD)/adversarial/%,$(sort $(wildcard tests/adversarial/*.c)))

$(BUILD)/adversarial/%: tests/adversarial/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(call pc_cflags,gnutls) -o $@ $< $(ALL_LDFLAGS) $(call pc_libs,gnutls) -lpthread

.PHONY: $(ADV_SUITES)
$(ADV_SUITES): test-adversarial-%: tests/adversarial/%.sh $(APIKEYD) $(ADV_TOOLS)
	$(Q)ADV_BIN=$(CURDIR)/$(BUILD)/adversarial tests/adversarial/$*.sh

ALL_TARGETS += $(ADV_TOOLS)
TEST_SUITES += $(ADV_SUITES)

# $(BUILD)/apikeyd-faults: apikeyd with store fault injection
# (keysvc/store_fault.c; store.c compiled -DSTORE_FAULTS reads
# APIKEYD_STORE_FAULT). A test binary: never installed, and build/apikeyd
# holds none of it. Its store.o comes before libkeysvc.a, so the archive's
# store.o is never linked.
APIKEYD_FAULTS := $(BUILD)/apikeyd-faults
FAULTS_OBJS := $(BUILD)/faults/store.o $(BUILD)/faults/store_fault.o

$(BUILD)/faults/%.o: keysvc/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $< (faults)")
	$(Q)$(CC) $(ALL_CFLAGS) $(KEYSVC_CFLAGS) -DSTORE_FAULTS -c $< -o $@

$(APIKEYD_FAULTS): $(SERVER_OBJS) $(FAULTS_OBJS) $(KEYS_LIB) $(APIS_LIB) $(RT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(SERVER_OBJS) $(FAULTS_OBJS) $(KEYS_LIB) $(APIS_LIB) $(RT_LIB) $(RT_LIBS) $(SERVER_LIBS) -lm

# storefail checks each 5xx against its document with the contract checkers
test-adversarial-storefail: $(APIKEYD_FAULTS) $(foreach a,heron feldera nebula nebula_uuid fastapi,$(BUILD)/contract/check_$(a))
ALL_TARGETS += $(APIKEYD_FAULTS)
