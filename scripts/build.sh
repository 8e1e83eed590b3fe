#!/usr/bin/env bash
# Builds the optimised tree (build/); --sanitize adds the ASan/UBSan tree
# (build-asan/) for the unit and integration tests, --fuzz the clang
# libFuzzer tree (build-fuzz/).
set -eu
cd "$(dirname "$0")/.."
setup_and_build() {  # dir, meson options...
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then meson setup "$dir" "$@" >/dev/null; fi
  ninja -C "$dir"
}
setup_and_build build
for what in "$@"; do
  case $what in
    --sanitize) setup_and_build build-asan -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false \
                  -Doptimization=1 ;;
    --fuzz) CXX=clang++ setup_and_build build-fuzz -Dbuildtype=debug -Doptimization=1 -Dfuzz=true \
              -Db_sanitize=address,undefined -Db_lundef=false ;;
    *) echo "usage: build.sh [--sanitize] [--fuzz]" >&2; exit 2 ;;
  esac
done
