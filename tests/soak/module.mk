# tests/soak/: mixed traffic against one apikeyd over HTTPS for SOAK_SECONDS
# (make bench: 300 s by default; e.g. `make bench SOAK_SECONDS=30` while
# developing), then memory, store and revocation checks; see soak.sh.
SOAK_SECONDS ?= 300
SOAK_WORKERS ?= 8

.PHONY: bench-soak
bench-soak: $(APIKEYD) $(LOADGEN)
	$(Q)APIKEYD=$(CURDIR)/$(APIKEYD) LOADGEN=$(CURDIR)/$(LOADGEN) SOAK_SECONDS=$(SOAK_SECONDS) SOAK_WORKERS=$(SOAK_WORKERS) ./tests/soak/soak.sh

BENCH_TARGETS += bench-soak
