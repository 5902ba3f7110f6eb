# tests/bench_store/: durable creates per second, group commit vs one fsync
# per insert, measured in the same run (make bench-store; part of make bench).
BENCH_STORE := $(BUILD)/bench_store

$(BUILD)/tests/bench_store/bench_store.o: CFLAGS_EXTRA := $(KEYS_CFLAGS)
$(BENCH_STORE): $(BUILD)/tests/bench_store/bench_store.o $(KEYS_LIB) $(APIS_LIB) $(RT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(RT_LIBS)

.PHONY: bench-store
bench-store: $(BENCH_STORE)
	$(Q)$(BENCH_STORE)

ALL_TARGETS += $(BENCH_STORE)
BENCH_TARGETS += bench-store
