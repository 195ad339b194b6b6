#!/usr/bin/env bash
# The benchmark suite: builds the benchmark programs in Release, runs every scenario with
# repeats, keeps the figures as JSON under bench/results/<UTC time>/ and writes docs/benchmarks.md
# (tables: medians with min and max; SVG plots under docs/benchmarks/) with the machine, the date
# and the commit.
#
#   bench/run.sh [--quick]
#
# --quick scales every scenario down (minutes); the default runs at full size (state of several
# GiB, about an hour). Figures are printed and reported, never asserted.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
quick=0
[ "${1:-}" = "--quick" ] && quick=1

"$root/scripts/install-deps.sh"
build="$root/build-release"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target state_access_bench checkpoint_bench runtime_bench \
  steady_state_bench >/dev/null

out="$root/bench/results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
work=${TMPDIR:-/tmp}/weir-bench
export WEIR_LOG_LEVEL=warn

{
  echo "{"
  echo "  \"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
  echo "  \"commit\": \"$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)\","
  echo "  \"quick\": $quick,"
  echo "  \"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')\","
  echo "  \"cores\": $(nproc),"
  echo "  \"memory_gib\": $(awk '/MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo),"
  echo "  \"os\": \"$(. /etc/os-release && echo "$PRETTY_NAME")\","
  echo "  \"disk\": \"$(df -h "${TMPDIR:-/tmp}" | awk 'NR==2 {print $1 " (" $2 ")"}')\""
  echo "}"
} >"$out/machine.json"

# Checkpoint cost: state sizes x fractions of keys changed, each repeated. ~118 bytes of state per
# key (100-byte values).
if [ $quick = 1 ]; then
  sizes="32:290000 128:1150000"
  repeats=2
else
  sizes="256:2300000 1024:9100000 4096:36400000"
  repeats=3
fi
for size in $sizes; do
  mib=${size%%:*}
  keys=${size##*:}
  for change in 0.1 1 10; do
    for r in $(seq "$repeats"); do
      echo "checkpoint cost: ${mib} MiB, ${change}% changed, run $r of $repeats"
      "$build/bench/checkpoint_bench" --keys "$keys" --change-percent "$change" --dir "$work/cp" \
        --json "$out/checkpoint-${mib}MiB-${change}pct-$r.json" >/dev/null
    done
  done
done

# Steady state: incremental checkpoints under continuous updates (400k keys x 200 bytes, 10% of
# the keys updated between checkpoints, 200 checkpoints: the baseline of the benchmark issue).
echo "steady state"
if [ $quick = 1 ]; then
  "$build/bench/steady_state_bench" --quick --dir "$work/ss" --json "$out/steady-state.json" >/dev/null
else
  "$build/bench/steady_state_bench" --dir "$work/ss" --json "$out/steady-state.json" >/dev/null
fi

# Job overhead: keyed-aggregate with checkpointing off and every 10 s, 1 s, 200 ms.
if [ $quick = 1 ]; then
  events=600000 keys=60000
else
  events=6000000 keys=600000
fi
for r in $(seq "$repeats"); do
  echo "job overhead: run $r of $repeats"
  "$build/bench/runtime_bench" --events $events --keys $keys --modes off \
    --dir "$work/rt" --json "$out/runtime-off-$r.json" >/dev/null
  for interval in 10s 1s 200ms; do
    "$build/bench/runtime_bench" --events $events --keys $keys --interval $interval \
      --modes full,incremental --dir "$work/rt" --json "$out/runtime-$interval-$r.json" >/dev/null
  done
done

# State access through weir against raw RocksDB, one thread.
echo "state access"
"$build/bench/state_access_bench" --keys $([ $quick = 1 ] && echo 200000 || echo 2000000) \
  --rounds $((repeats + 2)) --json "$out/state-access.json" >/dev/null

rm -rf "$work"
python3 "$root/bench/report.py" "$out" "$root/docs"
echo "results in $out; report in docs/benchmarks.md"
