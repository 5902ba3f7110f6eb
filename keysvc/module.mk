# keysvc/: the key service (rules shared by every family), its caches, the
# failed-authentication limiter, tokens and the store (the only SQL), in
# build/libkeysvc.a. It knows nothing of HTTP: handlers/ call it, it calls
# only the store.
# store_fault.c is for the test binary apikeyd-faults only (tests/adversarial/module.mk)
KEYSVC_SRCS := $(filter-out keysvc/store_fault.c,$(sort $(wildcard keysvc/*.c)))
KEYSVC_OBJS := $(KEYSVC_SRCS:%.c=$(BUILD)/%.o)
KEYSVC_LIB  := $(BUILD)/libkeysvc.a
KEYSVC_CFLAGS := $(call pc_cflags,$(PKGS_RUNTIME)) -Ikeysvc

$(KEYSVC_OBJS): CFLAGS_EXTRA := $(KEYSVC_CFLAGS)

$(KEYSVC_LIB): $(KEYSVC_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

ALL_TARGETS += $(KEYSVC_LIB)
