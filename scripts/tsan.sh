#!/usr/bin/env bash
# ThreadSanitizer run of the tests whose threads matter: the runtime (tasks, channels, barriers,
# restarts) and the checkpoint coordinator/cleaner. Not part of CI (it takes a separate build);
# docs/reliability.md records its last result.
#
#   scripts/tsan.sh [--build-dir build-tsan]
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-tsan
[ "${1:-}" = "--build-dir" ] && build=$2
./scripts/install-deps.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEIR_SANITIZE_THREAD=ON \
  -DWEIR_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target runtime_test checkpoint_test
export TSAN_OPTIONS="halt_on_error=1 suppressions=$PWD/tests/tsan.supp"
export WEIR_LOG_LEVEL=error
"$build/tests/runtime_test"
"$build/tests/checkpoint_test"
echo "tsan: clean"
