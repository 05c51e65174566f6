#!/bin/sh
# ./netkit as a launcher, installed by `make` when deno compile's runtime is unavailable: it runs
# the same main.ts with the pinned Deno and the same permission set ("netkit" in deno.json) that
# the compiled binary has built in. NETKIT_EXE lets netkit start itself again (daemons' -d).
# NETKIT_DENO_DIR: another copy of the tree's Deno cache (the kernel lane's own, for one).
root=$(dirname -- "$(readlink -f -- "$0")")
NETKIT_EXE="$root/$(basename -- "$0")" DENO_DIR="${NETKIT_DENO_DIR:-$root/.deno}" DENO_NO_UPDATE_CHECK=1 \
  exec "$root/tools/deno/node_modules/@deno/linux-x64-glibc/deno" \
  run --quiet --no-prompt --cached-only --frozen -P=netkit --v8-flags=--expose-gc --config "$root/deno.json" "$root/main.ts" "$@"
