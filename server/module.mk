# server/: build/apikeyd = server/*.o + the handlers' library (KEYS_LIB, when
# handlers/ exists) + the runtime (RT_LIB) + the system libraries.
SERVER_SRCS := $(sort $(wildcard server/*.c))
SERVER_OBJS := $(SERVER_SRCS:%.c=$(BUILD)/%.o)
# the docs page's files (server/docs.h), written at build time
DOCS_ASSETS_C := $(BUILD)/server/docs_assets.c
SERVER_OBJS += $(DOCS_ASSETS_C:%.c=%.o)
APIKEYD     := $(BUILD)/apikeyd
# keysvc/keysvc.h present: build the key service into apikeyd
SERVER_HAVE_KEYSVC := $(if $(wildcard keysvc/keysvc.h),-DAPIKEYD_HAVE_KEYSVC)
# libsystemd found: sd_notify for systemd's Type=notify (server/notify.h)
SERVER_HAVE_SYSTEMD := $(shell $(PKG_CONFIG) --exists libsystemd 2>/dev/null && echo -DAPIKEYD_HAVE_SYSTEMD)
SERVER_LIBS := $(if $(SERVER_HAVE_SYSTEMD),$(call pc_libs,libsystemd))
SERVER_CFLAGS = $(call pc_cflags,$(PKGS_RUNTIME)) -Iserver -Iruntime -Ihandlers -Ikeysvc \
                $(addprefix -I,$(wildcard generated/*)) $(SERVER_HAVE_KEYSVC) $(SERVER_HAVE_SYSTEMD) \
                $(if $(SERVER_HAVE_SYSTEMD),$(call pc_cflags,libsystemd))

$(SERVER_OBJS): CFLAGS_EXTRA = $(SERVER_CFLAGS)

$(DOCS_ASSETS_C): server/swagger-ui/embed.sh server/swagger-ui/embed.js server/swagger-ui/docs.js \
                  server/swagger-ui/docs.css server/swagger-ui/package-lock.json
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  EMBED   $@")
	$(Q)server/swagger-ui/embed.sh $@
$(DOCS_ASSETS_C:%.c=%.o): $(DOCS_ASSETS_C)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(CFLAGS_EXTRA) -c $< -o $@

$(APIKEYD): $(SERVER_OBJS) $(KEYS_LIB) $(APIS_LIB) $(RT_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(SERVER_OBJS) $(KEYS_LIB) $(APIS_LIB) $(RT_LIB) $(RT_LIBS) $(SERVER_LIBS) -lm

ALL_TARGETS += $(APIKEYD)
