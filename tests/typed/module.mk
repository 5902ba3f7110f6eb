# tests/typed/: renaming a body property in a copy of openapi/heron.yaml
# makes handlers/heron.c stop compiling, naming the field (see run.sh).
TYPED_CFLAGS := $(ALL_CFLAGS) $(call pc_cflags,$(PKGS_RUNTIME)) -Ihandlers -Ikeysvc -Iruntime \
                $(addprefix -I,$(filter-out generated/heron,$(wildcard generated/*)))

.PHONY: test-typed
test-typed: $(OAPIGEN)
	$(Q)tests/typed/run.sh "$(CC)" "$(TYPED_CFLAGS)"

TEST_SUITES += test-typed
