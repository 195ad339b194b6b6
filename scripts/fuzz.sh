#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for a while on a copy of its
# seed corpus (tests/fuzz/corpus/<target>/). A crash leaves its input as crash-* in the build
# directory; turn it into a regression test.
#
#   scripts/fuzz.sh [--seconds 300] [--build-dir build-fuzz]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=300
build=build-fuzz
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    *) echo "usage: $0 [--seconds N] [--build-dir DIR]" >&2; exit 2 ;;
  esac
done
./scripts/install-deps.sh
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DWEIR_BUILD_FUZZERS=ON -DWEIR_BUILD_TESTS=OFF -DWEIR_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target metadata_fuzzer config_fuzzer file_source_fuzzer path_fuzzer \
  changelog_fuzzer
for target in metadata_fuzzer config_fuzzer file_source_fuzzer path_fuzzer changelog_fuzzer; do
  corpus="$build/corpus/${target%_fuzzer}"
  mkdir -p "$corpus"
  cp -n tests/fuzz/corpus/"${target%_fuzzer}"/* "$corpus"/ 2>/dev/null || true
  echo "fuzz: $target for ${seconds}s"
  (cd "$build" && "./tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "corpus/${target%_fuzzer}" 2>&1 | tail -12)
done
