# handlers/: the key service, the store and one file per API family, in
# build/libkeys.a. Only store.c speaks SQL.
KEYS_SRCS := $(sort $(wildcard handlers/*.c))
KEYS_OBJS := $(KEYS_SRCS:%.c=$(BUILD)/%.o)
KEYS_LIB  := $(BUILD)/libkeys.a
KEYS_CFLAGS := $(call pc_cflags,$(PKGS_RUNTIME)) -Ihandlers -Iruntime $(addprefix -I,$(wildcard generated/*))

$(KEYS_OBJS): CFLAGS_EXTRA := $(KEYS_CFLAGS)

$(KEYS_LIB): $(KEYS_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

ALL_TARGETS += $(KEYS_LIB)

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
