# tests/install/: make install (dist/module.mk) as a packager and a generator
# user see it; see run.sh. notify_listen is the systemd end of sd_notify.
NOTIFY_LISTEN := $(BUILD)/tests/install/notify_listen
$(NOTIFY_LISTEN): $(BUILD)/tests/install/notify_listen.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^

ALL_TARGETS += $(NOTIFY_LISTEN)

.PHONY: test-install
test-install: $(APIKEYD) $(OAPIGEN) $(RT_LIB) $(NOTIFY_LISTEN)
	$(Q)MAKE="$(MAKE)" NOTIFY_LISTEN=$(CURDIR)/$(NOTIFY_LISTEN) ./tests/install/run.sh

TEST_SUITES += test-install
