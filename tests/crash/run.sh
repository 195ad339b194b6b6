#!/usr/bin/env bash
# The long crash test of `weir run`: kill / failpoint-crash and resume cycles, then exactly-once,
# verify and gc checks (tests/crash/kill_resume_driver.cc). CI runs 24 cycles through ctest.
#
#   tests/crash/run.sh [--cycles 1000] [--seed S] [--build-dir build]
set -euo pipefail
cd "$(dirname "$0")/../.."
cycles=1000
seed=$(date +%s)
build=build
while [ $# -gt 0 ]; do
  case "$1" in
    --cycles) cycles=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    *) echo "usage: $0 [--cycles N] [--seed S] [--build-dir DIR]" >&2; exit 2 ;;
  esac
done
[ -d "$build" ] || cmake -S . -B "$build" -G Ninja >/dev/null
cmake --build "$build" --target weir kill_resume_driver >/dev/null
# A copy of the binaries, so that rebuilding the tree during a long run does not disturb it.
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
cp "$build/weir" "$build/tests/kill_resume_driver" "$copy/"
echo "crash run: $cycles cycles, seed $seed"
"$copy/kill_resume_driver" --cycles "$cycles" --seed "$seed" --weir "$copy/weir"
