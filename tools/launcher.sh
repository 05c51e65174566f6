#!/bin/sh
# ./netkit as a launcher, installed by `make` when deno compile's runtime is unavailable: it runs
# the same main.ts with the pinned Deno and the same permission set ("netkit" in deno.json) that
# the compiled binary has built in. NETKIT_EXE lets netkit start itself again (daemons' -d).
# NETKIT_DENO_DIR: another copy of the tree's Deno cache (the kernel lane's own, for one).
#
# Start-up time matters (client commands run in loops; see bench/cli.ts): no process is forked
# before Deno but readlink, and that only when this file is reached through a symbolic link.
# --no-check and --cached-only: nothing is type-checked or fetched, as in the compiled binary.
self=$0
case $self in */*) ;; *) self=./$self ;; esac
if [ -L "$self" ]; then self=$(readlink -f -- "$self"); fi
case $self in /*) ;; ./*) self=$PWD/${self#./} ;; *) self=$PWD/$self ;; esac
root=${self%/*}
NETKIT_EXE=$self DENO_DIR="${NETKIT_DENO_DIR:-$root/.deno}" DENO_NO_UPDATE_CHECK=1 \
  exec "$root/tools/deno/node_modules/@deno/linux-x64-glibc/deno" \
  run --quiet --no-prompt --no-check --cached-only --frozen -P=netkit --v8-flags=--expose-gc \
  --config "$root/deno.json" "$root/main.ts" "$@"
