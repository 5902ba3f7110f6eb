# handlers/: one file per API family (the HTTP shapes of its key
# management) over the key service (keysvc/), in build/libkeys.a. KEYS_LIB
# names both archives, handlers first, so a program linking it gets the
# families and the key service they call.
HANDLERS_SRCS := $(sort $(wildcard handlers/*.c))
HANDLERS_OBJS := $(HANDLERS_SRCS:%.c=$(BUILD)/%.o)
HANDLERS_LIB  := $(BUILD)/libkeys.a
KEYS_LIB      := $(HANDLERS_LIB) $(BUILD)/libkeysvc.a
KEYS_CFLAGS := $(call pc_cflags,$(PKGS_RUNTIME)) -Ihandlers -Ikeysvc -Iruntime $(addprefix -I,$(wildcard generated/*))

$(HANDLERS_OBJS): CFLAGS_EXTRA := $(KEYS_CFLAGS)

$(HANDLERS_LIB): $(HANDLERS_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

ALL_TARGETS += $(HANDLERS_LIB)

# The committed generator output of every API (generated/<api>/*.c) in
# build/libapis.a; apikeyd links it with the handlers.
APIS_SRCS := $(sort $(wildcard generated/*/*.c))
APIS_OBJS := $(APIS_SRCS:%.c=$(BUILD)/%.o)
APIS_LIB  := $(BUILD)/libapis.a

$(APIS_OBJS): CFLAGS_EXTRA := $(call pc_cflags,$(PKGS_RUNTIME)) -Iruntime $(addprefix -I,$(wildcard generated/*))

$(APIS_LIB): $(APIS_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

ALL_TARGETS += $(APIS_LIB)
