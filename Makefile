# netkit build. `make` builds everything and produces ./netkit; `make test` checks and tests it.
# Nothing here needs the network except the first install of Deno and the npm dependencies.

DENO_VERSION := $(shell sed -n 's/.*"deno": *"\([0-9.]*\)".*/\1/p' tools/deno/package.json)
DENO         := tools/deno/node_modules/@deno/linux-x64-glibc/deno
export DENO_DIR := $(CURDIR)/.deno
export DENO_NO_UPDATE_CHECK := 1

CC      ?= cc
CFLAGS  := -O2 -g -Wall -Wextra -Werror -std=gnu11 -fPIC -fvisibility=default
C_SRC   := $(wildcard c/*.c)
C_OBJ   := $(patsubst c/%.c,build/obj/%.o,$(C_SRC))
LIB     := build/libnetkit.so
BENCH_LIB := build/libnetkit_bench.so

# deno compile needs the denort runtime of exactly this Deno version. It is only on
# dl.deno.land; use DENORT_BIN, or the archive deno caches after a download elsewhere.
DENORT_ZIP := dl/release/v$(DENO_VERSION)/denort-x86_64-unknown-linux-gnu.zip
DENORT_CACHED := $(firstword $(wildcard $(DENO_DIR)/$(DENORT_ZIP) $(HOME)/.cache/deno/$(DENORT_ZIP)))
# The package list is read at run time by `netkit doctor` (lib/doctor/tools.ts).
# --expose-gc: the relay collects closed QUIC connections itself (see lib/l2/relay.ts).
# The command modules too: lib/cli/program.ts imports them by computed URL (see commandModule()).
COMPILE_FLAGS := --quiet -P=netkit --v8-flags=--expose-gc --include $(LIB) \
	$(addprefix --include ,$(filter-out %_test.ts,$(wildcard lib/cli/*.ts))) \
	--include tools/debian-packages.txt

TS_SRC := $(shell find main.ts lib ffi -name '*.ts' 2>/dev/null)

.PHONY: all deno deps lib dist docs check-libdir install uninstall test bench clean distclean

all: netkit

deno: $(DENO)
$(DENO): tools/deno/package.json tools/deno/package-lock.json
	@echo "installing Deno $(DENO_VERSION) from npm into tools/deno/"
	@# npm ci installs exactly the locked, integrity-checked versions and never rewrites the lock.
	npm ci --prefix tools/deno --no-audit --no-fund --loglevel=error
	@test -x $@ || { echo "make: Deno binary missing after npm install: $@" >&2; exit 1; }
	@touch $@

deps: .deno/.cached
.deno/.cached: $(DENO) deno.json deno.lock
	$(DENO) install --frozen --quiet
	@touch $@

lib: $(LIB)
build/obj/%.o: c/%.c c/netkit.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@
$(LIB): $(C_OBJ)
	$(CC) -shared -o $@ $^

$(BENCH_LIB): bench/recv_loop.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -shared -o $@ $<

# ./netkit: the compiled single binary when denort is at hand, otherwise a launcher that runs
# the same main.ts with the pinned Deno and the same permission set ("netkit" in deno.json).
netkit: $(LIB) .deno/.cached $(TS_SRC) tools/launcher.sh
	@if [ -n "$(DENORT_BIN)$(DENORT_CACHED)" ] && $(MAKE) --no-print-directory dist; then \
	  cp dist/netkit $@; echo "./netkit: compiled single binary (dist/netkit)"; \
	else \
	  cp tools/launcher.sh $@ && chmod +x $@; \
	  echo "./netkit: launcher running main.ts with Deno $(DENO_VERSION) (no denort for deno compile; see make dist)"; \
	fi

dist: $(LIB) .deno/.cached
	@if [ -n "$(DENORT_BIN)" ]; then \
	  test -f "$(DENORT_BIN)" || { echo "make dist: DENORT_BIN=$(DENORT_BIN) does not exist" >&2; exit 1; }; \
	elif [ -n "$(DENORT_CACHED)" ]; then \
	  mkdir -p $(DENO_DIR)/$(dir $(DENORT_ZIP)); \
	  [ -f $(DENO_DIR)/$(DENORT_ZIP) ] || cp $(DENORT_CACHED) $(DENO_DIR)/$(DENORT_ZIP); \
	else \
	  echo "make dist: cannot build the single binary: deno compile needs the denort runtime for Deno $(DENO_VERSION)," >&2; \
	  echo "  which is only published on dl.deno.land (not reachable from here; no npm or Debian package has it)." >&2; \
	  echo "  Download denort-x86_64-unknown-linux-gnu.zip for v$(DENO_VERSION) on a connected machine, unzip it, then run:" >&2; \
	  echo "    DENORT_BIN=/path/to/denort make dist" >&2; \
	  echo "  or put the zip at $(DENO_DIR)/$(DENORT_ZIP). ./netkit works meanwhile as a launcher." >&2; \
	  exit 1; \
	fi
	@mkdir -p dist
	$(DENO) compile $(COMPILE_FLAGS) --output dist/netkit main.ts
	@echo "dist/netkit: single binary with $(LIB) embedded"

# Man pages and bash/zsh completions, generated from the command tree (tools/gen_docs.ts), so
# they say what --help says. `make install` makes them; `make docs` alone to look at them.
DOCS := build/docs
DOCS_SRC := $(wildcard tools/gen_docs.ts tools/docs/*)
docs: $(DOCS)/.made
$(DOCS)/.made: $(LIB) .deno/.cached $(TS_SRC) $(DOCS_SRC)
	$(DENO) run --quiet -P=netkit --frozen --cached-only tools/gen_docs.ts $(DOCS)
	@touch $@

# make install [PREFIX=/usr/local] [DESTDIR=]: the compiled binary when ./netkit is one;
# otherwise the launcher with the tree it runs (main.ts, lib, ffi, libnetkit, deno.json and
# deno.lock, the package list, the pinned Deno and its npm cache) in $(PREFIX)/lib/netkit, and
# $(PREFIX)/bin/netkit a symbolic link to that launcher (it finds its tree through the link).
# Plus the man pages, the completions, the systemd units (ExecStart=$(BINDIR)/netkit) and the
# Wireshark dissector for LSoE (tshark -X lua_script:$(WIRESHARKDIR)/lsoe.lua).
PREFIX         ?= /usr/local
BINDIR         ?= $(PREFIX)/bin
NETKIT_LIBDIR  ?= $(PREFIX)/lib/netkit
MANDIR         ?= $(PREFIX)/share/man
BASHCOMPDIR    ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR     ?= $(PREFIX)/share/zsh/site-functions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
WIRESHARKDIR   ?= $(PREFIX)/share/netkit/wireshark
UNITS := $(patsubst packaging/systemd/%.in,%,$(wildcard packaging/systemd/*.service.in))
# What the launcher runs; tests (*_test.ts, _testing.ts) stay behind.
RUNTIME_TS = main.ts $(shell find lib ffi -name '*.ts' ! -name '*_test.ts' ! -name '_testing.ts')

# Both remove the whole $(DESTDIR)$(NETKIT_LIBDIR): it must be a directory of netkit's own. The
# recipes use it unquoted, so white space would split it into other paths to remove
# ("/usr x/netkit"), and "." or ".." components could name one above ("/usr/../netkit").
check-libdir:
	@case '$(NETKIT_LIBDIR)' in *[!A-Za-z0-9_./+@-]* | */../* | */./* | *//* ) bad=1;; \
	  /?*/netkit) bad=;; *) bad=1;; esac; \
	if [ -n "$$bad" ]; then \
	  echo "make: NETKIT_LIBDIR=$(NETKIT_LIBDIR) must be an absolute path ending in /netkit," \
	    "of letters, digits and _.+@- only, without . or .. components" >&2; \
	  exit 1; fi; \
	case '$(DESTDIR)' in *[!A-Za-z0-9_./+@-]*) \
	  echo "make: DESTDIR=$(DESTDIR) may hold letters, digits and _.+@-/ only" >&2; exit 1;; esac

install: check-libdir netkit docs
	@set -e; \
	if [ -f dist/netkit ] && cmp -s netkit dist/netkit; then \
	  install -D -m 755 dist/netkit $(DESTDIR)$(BINDIR)/netkit; \
	else \
	  tree=$(DESTDIR)$(NETKIT_LIBDIR); rm -rf $$tree; \
	  install -D -m 755 tools/launcher.sh $$tree/netkit; \
	  for f in $(RUNTIME_TS) deno.json deno.lock tools/debian-packages.txt; do \
	    install -D -m 644 $$f $$tree/$$f; done; \
	  install -D -m 755 $(LIB) $$tree/$(LIB); \
	  install -D -m 755 $(DENO) $$tree/$(DENO); \
	  mkdir -p $$tree/.deno && cp -R .deno/npm $$tree/.deno/; \
	  mkdir -p $(DESTDIR)$(BINDIR); ln -sfr $$tree/netkit $(DESTDIR)$(BINDIR)/netkit; \
	fi
	install -d $(DESTDIR)$(MANDIR)/man8
	install -m 644 $(DOCS)/man8/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -D -m 644 $(DOCS)/bash/netkit $(DESTDIR)$(BASHCOMPDIR)/netkit
	install -D -m 644 $(DOCS)/zsh/_netkit $(DESTDIR)$(ZSHCOMPDIR)/_netkit
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	@for unit in $(UNITS); do \
	  sed 's|@BINDIR@|$(BINDIR)|g' packaging/systemd/$$unit.in > $(DESTDIR)$(SYSTEMDUNITDIR)/$$unit; \
	  chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$unit; done
	install -D -m 644 tools/lsoe.lua $(DESTDIR)$(WIRESHARKDIR)/lsoe.lua
	@echo "installed netkit in $(DESTDIR)$(PREFIX); units: systemctl daemon-reload, then e.g." \
	  "systemctl enable --now netkit-mroute.service"

uninstall: check-libdir
	rm -f $(DESTDIR)$(BINDIR)/netkit $(DESTDIR)$(MANDIR)/man8/netkit.8 \
	  $(DESTDIR)$(MANDIR)/man8/netkit-*.8 $(DESTDIR)$(BASHCOMPDIR)/netkit \
	  $(DESTDIR)$(ZSHCOMPDIR)/_netkit $(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(UNITS)) \
	  $(DESTDIR)$(WIRESHARKDIR)/lsoe.lua
	@# netkit's own share directory, once empty (a WIRESHARKDIR elsewhere is left alone).
	@rmdir $(DESTDIR)$(PREFIX)/share/netkit/wireshark $(DESTDIR)$(PREFIX)/share/netkit 2>/dev/null || true
	rm -rf $(DESTDIR)$(NETKIT_LIBDIR)

# make test installs the Debian packages the tests use (tools/debian-packages.txt) when it runs as
# root with apt-get, unless NO_INSTALL=1; a test whose tool or kernel feature is missing is skipped
# with the reason, and the closing block lists every skipped test by reason. After `make`, nothing
# here uses the network but apt.
TEST_REPORT := build/test-report.xml
TEST_SKIPS  := build/test-skips.jsonl
LANE_REPORT := build/lane-report.xml
test: netkit $(BENCH_LIB)
	@NO_INSTALL=$(NO_INSTALL) tools/install-packages.sh test
	$(DENO) fmt --check
	$(DENO) lint
	$(DENO) check --frozen --cached-only
	$(DENO) doc --lint $(filter-out %_test.ts,$(TS_SRC))
	@rm -f $(TEST_REPORT) $(TEST_SKIPS) $(LANE_REPORT)
	@NO_COLOR=1 NETKIT_TEST_SKIPS=$(CURDIR)/$(TEST_SKIPS) NETKIT_LANE_REPORT=$(CURDIR)/$(LANE_REPORT) \
	  $(DENO) test -P --parallel --doc --frozen --cached-only --junit-path=$(TEST_REPORT); rc=$$?; \
	$(DENO) run -P=test --frozen --cached-only tools/skip_summary.ts $(TEST_REPORT) $(TEST_SKIPS) \
	  $(LANE_REPORT) || rc=1; \
	exit $$rc

bench: netkit $(BENCH_LIB)
	$(DENO) run -P=test bench/packet_io.ts
	$(DENO) run -P=test bench/lacp.ts
	$(DENO) run -P=test bench/mroute.ts
	$(DENO) run -P=test bench/l2.ts
	$(DENO) run -P=test bench/l2_peers.ts
	$(DENO) run -P=test bench/vnet.ts
	$(DENO) run -P=test bench/lsoe.ts
	$(DENO) run -P=test bench/cli.ts

clean:
	rm -rf build dist netkit cov

distclean: clean
	rm -rf .deno tools/deno/node_modules
