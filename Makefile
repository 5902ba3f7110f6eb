# apikeyd — top-level build. Each folder adds its own targets in its module.mk;
# this file holds the flags, the shared rules and the README's two commands.
#   make            build everything into build/
#   make run        install what is missing, build, start apikeyd with its defaults
#   make test       install what is missing, build, run every test suite
#   make generate   rewrite generated/ from openapi/
#   make SANITIZE=address,undefined ...   build with sanitizers into build-san/
#   make fuzz       libFuzzer targets (tests/fuzz/), built into build-fuzz/
#   make memcheck   the server tests and unit suites under valgrind
#   V=1             show full commands

SANITIZE ?=
# Sanitized objects get their own folder, so they never mix with build/.
ifeq ($(SANITIZE),)
BUILD    ?= build
else
BUILD    ?= build-san
endif
CC       ?= cc
# the test scripts find the binaries through it
export BUILD
PKG_CONFIG ?= pkg-config

ifeq ($(V),1)
Q :=
else
Q := @
endif

# Libraries of the server and runtime; the generator has its own list.
PKGS_RUNTIME := libulfius liborcania libyder jansson gnutls nettle sqlite3 libpcre2-8 librhonabwy libmicrohttpd libpq
PKGS_GEN     := libfyaml jansson libpcre2-8
PKGS_CHECK   := check
# Libraries that ship no pkg-config file, linked by name: libunistring
# (Debian libunistring-dev), the Unicode normalization tables key names are
# put in NFC with (keysvc/keyname.c).
LIBS_NOPC    := -lunistring

pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pc_libs   = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)

WARN   := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
          -Wformat=2 -Wno-format-nonliteral
CSTD   := -std=c11 -D_GNU_SOURCE
OPT    ?= -O2 -g
CFLAGS ?=
LDFLAGS ?=
ALL_CFLAGS  = $(CSTD) $(OPT) $(WARN) -MMD -MP $(CFLAGS)
ALL_LDFLAGS = $(LDFLAGS)
ifneq ($(SANITIZE),)
ALL_CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
ALL_LDFLAGS += -fsanitize=$(SANITIZE)
endif
# for test scripts that compile programs against the runtime (tests/jsts)
export SANITIZE_FLAGS := $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-sanitize-recover=all)

# Modules append to these.
ALL_TARGETS :=
TEST_SUITES :=
CLEAN_FILES :=

.PHONY: all deps run test generate clean check-spec bench
BENCH_TARGETS :=
all:

deps:
	$(Q)./scripts/install-deps.sh

# Object rule: build/<path>.o from <path>.c; each module sets per-folder flags
# through target-specific CFLAGS_EXTRA.
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(CFLAGS_EXTRA) -c $< -o $@

# runtime/ first: other modules name $(RT_LIB) in prerequisites, which make
# expands as it reads them (generator/ sorts before runtime/).
include runtime/module.mk
include $(filter-out runtime/module.mk,$(sort $(wildcard */module.mk tests/*/module.mk)))

all: $(ALL_TARGETS)

# The README's test command: set up, build, run every suite, one closing line.
test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./scripts/run-tests.sh $(TEST_SUITES)

clean:
	rm -rf $(BUILD) build-san build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# The README's run command: set up, build, start the server with its defaults
# (var/apikeyd.db, a self-signed certificate created on first start).
RUN_ARGS ?=
run: deps
	$(Q)$(MAKE) --no-print-directory all
	./$(BUILD)/apikeyd $(RUN_ARGS)

# Benchmarks: each module appends a target to BENCH_TARGETS; each writes its
# figures to $(BUILD)/bench/<target>.tsv; one table closes the run
# (stdout and $(BUILD)/bench.md, tests/bench_report/render.sh).
bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)rm -rf $(BUILD)/bench && mkdir -p $(BUILD)/bench
	$(Q)failed=""; for t in $(BENCH_TARGETS); do \
	  BENCH_DIR=$(CURDIR)/$(BUILD)/bench $(MAKE) --no-print-directory $$t || failed="$$failed $$t"; done; \
	  BENCH_DIR=$(CURDIR)/$(BUILD)/bench FAILED="$$failed" tests/bench_report/render.sh $(BUILD)/bench.md $(BENCH_TARGETS); \
	  [ -z "$$failed" ] || { echo "bench: failed:$$failed"; exit 1; }
