#!/usr/bin/env bash
# Builds the optimised tree (build/) and, with --sanitize, the ASan/UBSan
# tree (build-asan/) used for the unit and integration tests.
set -eu
cd "$(dirname "$0")/.."
setup_and_build() {  # dir, meson options...
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then meson setup "$dir" "$@" >/dev/null; fi
  ninja -C "$dir"
}
setup_and_build build
if [ "${1:-}" = "--sanitize" ]; then
  setup_and_build build-asan -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false -Doptimization=1
fi
