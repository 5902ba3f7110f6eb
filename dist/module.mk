# dist/: `make install` and what it installs beside the programs: the
# systemd unit (apikeyd.service.in), its account (apikeyd.sysusers), the
# default config (apikeyd.conf, never over an existing one), the man pages
# (apikeyd.8, oapigen.1) and the runtime's pkg-config file (apikeyd-rt.pc.in).
#   make install [PREFIX=/usr/local] [DESTDIR=]   FHS paths under PREFIX;
#       with PREFIX=/usr the config and unit go to /etc and /usr/lib/systemd
#   make uninstall                                 removes what install wrote
#                                                  (not the config file)
PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
MANDIR      ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# /usr's configuration is /etc (FHS); any other prefix keeps its own etc/
SYSCONFDIR  ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
INSTALL     ?= install

APIKEYD_VERSION := $(shell sed -n 's/^\#define APIKEYD_VERSION "\(.*\)"/\1/p' server/version.h)
# the headers generated code and handler authors include (rt_pattern.h is
# the runtime's and the generator's own)
RT_PUBLIC_HEADERS := $(filter-out runtime/rt_pattern.h,$(wildcard runtime/*.h)) runtime/rt_schema_flags.def
DIST_OUT := $(BUILD)/dist
# the .pc file's libdir and includedir say ${prefix}/... when under PREFIX, so
# pkgconf --define-prefix can move the whole tree (tests/install)
PC_REL = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))
DIST_SED = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
               -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(call PC_REL,$(LIBDIR))|g' \
               -e 's|@INCLUDEDIR@|$(call PC_REL,$(INCLUDEDIR))|g' -e 's|@VERSION@|$(APIKEYD_VERSION)|g'

.PHONY: install uninstall FORCE
# the paths are make variables: rewrite every time, so PREFIX=... is never stale
$(DIST_OUT)/apikeyd.service $(DIST_OUT)/apikeyd-rt.pc: $(DIST_OUT)/%: dist/%.in FORCE
	@mkdir -p $(dir $@)
	$(Q)$(DIST_SED) $< >$@

install: all $(DIST_OUT)/apikeyd.service $(DIST_OUT)/apikeyd-rt.pc
	$(Q)$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
	  $(DESTDIR)$(INCLUDEDIR)/apikeyd-rt $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 \
	  $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(SYSCONFDIR)/apikeyd
	$(Q)$(INSTALL) -m 0755 $(APIKEYD) $(OAPIGEN) $(DESTDIR)$(BINDIR)/
	$(Q)$(INSTALL) -m 0644 $(RT_LIB) $(DESTDIR)$(LIBDIR)/libapikeyd-rt.a
	$(Q)$(INSTALL) -m 0644 $(RT_PUBLIC_HEADERS) $(DESTDIR)$(INCLUDEDIR)/apikeyd-rt/
	$(Q)$(INSTALL) -m 0644 $(DIST_OUT)/apikeyd-rt.pc $(DESTDIR)$(PKGCONFIGDIR)/
	$(Q)$(INSTALL) -m 0644 dist/oapigen.1 $(DESTDIR)$(MANDIR)/man1/
	$(Q)$(INSTALL) -m 0644 dist/apikeyd.8 $(DESTDIR)$(MANDIR)/man8/
	$(Q)$(INSTALL) -m 0644 $(DIST_OUT)/apikeyd.service $(DESTDIR)$(UNITDIR)/
	$(Q)$(INSTALL) -m 0644 dist/apikeyd.sysusers $(DESTDIR)$(SYSUSERSDIR)/apikeyd.conf
	$(Q)test -e $(DESTDIR)$(SYSCONFDIR)/apikeyd/apikeyd.conf || \
	  $(INSTALL) -m 0644 dist/apikeyd.conf $(DESTDIR)$(SYSCONFDIR)/apikeyd/apikeyd.conf
	@echo "installed apikeyd $(APIKEYD_VERSION) under $(DESTDIR)$(PREFIX)"

uninstall:
	$(Q)rm -f $(DESTDIR)$(BINDIR)/apikeyd $(DESTDIR)$(BINDIR)/oapigen \
	  $(DESTDIR)$(LIBDIR)/libapikeyd-rt.a $(DESTDIR)$(PKGCONFIGDIR)/apikeyd-rt.pc \
	  $(DESTDIR)$(MANDIR)/man1/oapigen.1 $(DESTDIR)$(MANDIR)/man8/apikeyd.8 \
	  $(DESTDIR)$(UNITDIR)/apikeyd.service $(DESTDIR)$(SYSUSERSDIR)/apikeyd.conf
	$(Q)rm -rf $(DESTDIR)$(INCLUDEDIR)/apikeyd-rt
