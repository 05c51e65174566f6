#!/bin/sh
# Installs the Debian packages of the given groups of tools/debian-packages.txt that are missing
# (a package is missing when its command is not on PATH), and says what it installs.
#
#   tools/install-packages.sh [--required] GROUP...
#
# It installs only as root on a machine with apt-get, and not when NO_INSTALL is set to anything
# but 0 or empty; otherwise it names what is missing and the command that installs it. Without
# --required that is not an error (the tests that need a missing tool are skipped with the
# reason); with it, anything still missing at the end is (exit 1).
set -u
cd "$(dirname "$0")/.." || exit 1

required=0
if [ "${1:-}" = "--required" ]; then
  required=1
  shift
fi
[ $# -gt 0 ] || { echo "usage: tools/install-packages.sh [--required] GROUP..." >&2; exit 2; }

missing() {
  # Prints the packages of the named groups whose command is not on PATH, once each.
  for group in "$@"; do
    grep -v '^[[:space:]]*\(#\|$\)' tools/debian-packages.txt | while read -r g command package _; do
      [ "$g" = "$group" ] && ! command -v "$command" >/dev/null 2>&1 && echo "$package"
    done
  done | sort -u | tr '\n' ' ' | sed 's/ $//'
}

packages=$(missing "$@")
[ -n "$packages" ] || exit 0

why=""
if [ -n "${NO_INSTALL:-}" ] && [ "${NO_INSTALL}" != 0 ]; then
  why="NO_INSTALL=${NO_INSTALL}"
elif [ "$(id -u)" != 0 ]; then
  why="not root"
elif ! command -v apt-get >/dev/null 2>&1; then
  why="no apt-get on this machine"
fi

if [ -n "$why" ]; then
  echo "install-packages: not installing $packages ($why); to install: apt-get install $packages"
else
  echo "install-packages: installing $packages"
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086 # one word per package
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends $packages >/dev/null; }; then
    echo "install-packages: apt-get could not install $packages"
  fi
  packages=$(missing "$@")
  [ -z "$packages" ] || echo "install-packages: still missing: $packages"
fi
[ -z "$packages" ] || [ "$required" = 0 ]
