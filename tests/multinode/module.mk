# tests/multinode/: three apikeyd nodes on loopback over one real PostgreSQL
# server (started by the suite): a key made on one node works on the others
# at once, revocation reaches every node within milliseconds (measured by
# build/multinode/prop), a killed listener connection, concurrent
# revocations from two nodes, crashes of a node and of PostgreSQL under
# create load, and PostgreSQL down.
MULTINODE_PROP := $(BUILD)/multinode/prop

$(MULTINODE_PROP): tests/multinode/prop.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(call pc_cflags,jansson) -o $@ $< $(ALL_LDFLAGS) $(call pc_libs,jansson) -lpthread

.PHONY: test-multinode
test-multinode: $(APIKEYD) $(MULTINODE_PROP)
	$(Q)PROP=$(CURDIR)/$(MULTINODE_PROP) tests/multinode/run.sh

ALL_TARGETS += $(MULTINODE_PROP)
TEST_SUITES += test-multinode
