#!/usr/bin/env bash
# Runs every test of weir: installs dependencies, builds, runs ctest, then builds again with
# AddressSanitizer + UndefinedBehaviorSanitizer and runs the unit tests under them, then fuzzes
# each libFuzzer target briefly.
# WEIR_SKIP_SANITIZE=1 skips the sanitizer build (for quick local iterations only).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
# -g1 (line tables and function names: enough for a backtrace) instead of -g: the build is
# about a sixth faster, and a failing test's backtrace still names files and lines.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" >/dev/null
cmake --build build
# Every test is bounded (tests that need longer set their own TIMEOUT property): a hung test
# fails on its own instead of holding the whole run until CI's limit.
ctest --test-dir build -j2 --output-on-failure --timeout 600

if [ "${WEIR_SKIP_SANITIZE:-0}" != "1" ]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g1" \
    -DWEIR_SANITIZE=ON -DWEIR_BUILD_BENCH=OFF >/dev/null
  # Only what the unit tests need: end-to-end programs run under the sanitizers nowhere.
  cmake --build build-asan --target unit_tests
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan -j2 --output-on-failure --timeout 600 -L unit
fi

# Short fuzz runs of every libFuzzer target (scripts/fuzz.sh runs them longer).
# WEIR_SKIP_FUZZ=1 skips them (for quick local iterations only).
if [ "${WEIR_SKIP_FUZZ:-0}" != "1" ]; then
  ./scripts/fuzz.sh --seconds 20
fi
