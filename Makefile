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

.PHONY: all deno deps lib test clean distclean

all: $(LIB) .deno/.cached

deno: $(DENO)
$(DENO): tools/deno/package.json tools/deno/package-lock.json
	@echo "installing Deno $(DENO_VERSION) from npm into tools/deno/"
	@# npm ci rejects the lock npm 11 writes (it omits other platforms' optional packages); npm install
	@# still installs exactly the locked, integrity-checked versions.
	npm install --prefix tools/deno --no-audit --no-fund --loglevel=error
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

test: $(LIB) .deno/.cached
	$(DENO) fmt --check
	$(DENO) lint
	$(DENO) check
	NO_COLOR=1 $(DENO) test -P --parallel

clean:
	rm -rf build cov

distclean: clean
	rm -rf .deno tools/deno/node_modules
