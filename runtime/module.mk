# runtime/: the small library generated code calls (build/libaprt.a).
# Every runtime/*.c is part of it.
RT_SRCS := $(sort $(wildcard runtime/*.c))
RT_OBJS := $(RT_SRCS:%.c=$(BUILD)/%.o)
RT_LIB  := $(BUILD)/libaprt.a
RT_CFLAGS := $(call pc_cflags,$(PKGS_RUNTIME)) -Iruntime
RT_LIBS   := $(call pc_libs,$(PKGS_RUNTIME)) $(LIBS_NOPC) -lpthread -lm

$(RT_OBJS): CFLAGS_EXTRA := $(RT_CFLAGS)

$(RT_LIB): $(RT_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

ALL_TARGETS += $(RT_LIB)
