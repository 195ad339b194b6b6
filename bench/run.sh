#!/usr/bin/env bash
# The benchmark suite: builds the benchmark programs in Release, runs every scenario with
# repeats, keeps the figures as JSON under bench/results/<UTC time>/ and writes docs/benchmarks.md
# (tables: medians with min and max; SVG plots under docs/benchmarks/) with the machine, the date
# and the commit.
#
#   bench/run.sh [--quick] [--resume bench/results/<time>]
#
# --quick scales every scenario down (minutes); the default runs at full size (state of several
# GiB, about an hour). Figures are printed and reported, never asserted.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
quick=0
resume=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    # --resume DIR: go on with an interrupted run in DIR, skipping every step whose results exist
    --resume) resume=$2; shift ;;
    *) echo "usage: bench/run.sh [--quick] [--resume bench/results/<time>]" >&2; exit 2 ;;
  esac
  shift
done

"$root/scripts/install-deps.sh"
build="$root/build-release"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target state_access_bench checkpoint_bench runtime_bench \
  steady_state_bench rescale_bench savepoint_bench memory_bench nexmark_bench >/dev/null

out="$root/bench/results/$(date -u +%Y%m%dT%H%M%SZ)"
[ -n "$resume" ] && out=$(cd "$resume" && pwd)
mkdir -p "$out"
if [ -n "$resume" ]; then
  echo "{\"commit\": \"$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)\", \"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"}" \
    >"$out/resumed.json"
fi
# Runs a step unless its result file exists (--resume).
step() {
  local result=$1
  shift
  [ -n "$resume" ] && [ -s "$result" ] && return 0
  "$@" >/dev/null
}
work=${TMPDIR:-/tmp}/weir-bench
# Made here: on --resume the steps that would have made it may all be skipped.
mkdir -p "$work"
export WEIR_LOG_LEVEL=warn

[ -n "$resume" ] || {
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
# (repeats:size:keys; the 4 GiB state is built twice, not three times, to keep the full run
# near an hour)
if [ $quick = 1 ]; then
  sizes="2:32:290000 2:128:1150000"
  repeats=2
else
  sizes="3:256:2300000 3:1024:9100000 2:4096:36400000"
  repeats=2
fi
for size in $sizes; do
  size_repeats=${size%%:*}
  size=${size#*:}
  mib=${size%%:*}
  keys=${size##*:}
  for change in 0.1 1 10; do
    for r in $(seq "$size_repeats"); do
      echo "checkpoint cost: ${mib} MiB, ${change}% changed, run $r of $size_repeats"
      step "$out/checkpoint-${mib}MiB-${change}pct-$r.json" \
        "$build/bench/checkpoint_bench" --keys "$keys" --change-percent "$change" --dir "$work/cp" \
        --json "$out/checkpoint-${mib}MiB-${change}pct-$r.json"
    done
  done
done

# Steady state and the tuning study: incremental checkpoints under continuous updates (400k keys
# x 200 bytes, 10% of the keys updated between checkpoints, 200 checkpoints: the baseline of the
# benchmark issue), once per RocksDB tuning. Run 2 (weir's defaults) is also the steady-state
# scenario.
study=(
  "1-flush_in_the_sync_part_(Flink),_L0_trigger_4:--async-flush 0"
  "2-flush_in_the_async_part_(weir_default):--async-flush 1"
  "3-async_flush,_L0_trigger_8:--l0-trigger 8"
  "4-async_flush,_L0_trigger_10:--l0-trigger 10"
  "5-async_flush,_L0_trigger_12:--l0-trigger 12"
  "6-async_flush,_universal,_size_amp_100%,_trigger_8:--compaction universal --size-amp 100 --l0-trigger 8"
  "7-async_flush,_universal,_size_amp_50%,_trigger_8:--compaction universal --size-amp 50 --l0-trigger 8"
)
for variant in "${study[@]}"; do
  name=${variant%%:*}
  echo "steady state: ${name//_/ }"
  # shellcheck disable=SC2086
  step "$out/study-$name.json" \
    "$build/bench/steady_state_bench" $([ $quick = 1 ] && echo --quick) --dir "$work/ss" \
    --json "$out/study-$name.json" ${variant#*:}
done
cp "$out/study-${study[1]%%:*}.json" "$out/steady-state.json"

# The same steady state with changelog checkpoints, one a second, materializing every minute
# (every 10 s in --quick): bytes written per checkpoint, materializations included.
echo "steady state: changelog"
# shellcheck disable=SC2046
step "$out/steady-state-changelog.json" \
  "$build/bench/steady_state_bench" $([ $quick = 1 ] && echo --quick) --dir "$work/ss" \
  --changelog --materialize-interval "$([ $quick = 1 ] && echo 10s || echo 60s)" --pace-ms 1000 \
  --json "$out/steady-state-changelog.json"

# Job overhead: keyed-aggregate with checkpointing off and full, incremental and changelog
# checkpoints every 10 s, 1 s, 200 ms.
if [ $quick = 1 ]; then
  events=600000 keys=60000
else
  events=6000000 keys=600000
fi
for r in $(seq "$repeats"); do
  echo "job overhead: run $r of $repeats"
  step "$out/runtime-off-$r.json" "$build/bench/runtime_bench" --events $events --keys $keys \
    --modes off --dir "$work/rt" --json "$out/runtime-off-$r.json"
  for interval in 10s 1s 200ms; do
    step "$out/runtime-$interval-$r.json" "$build/bench/runtime_bench" --events $events \
      --keys $keys --interval $interval --modes full,incremental,changelog --dir "$work/rt" \
      --json "$out/runtime-$interval-$r.json"
  done
  # Throughput with changelog checkpoints every 1 s against none, in adjacent pairs of one
  # process alternating their order (off, changelog, changelog, off, ...): this machine's speed
  # drifts by 10-20% over minutes, more than the difference measured, and a pair's two runs
  # share the same minute. Eight pairs a repeat: single pairs range over +-15%.
  pairs=off,changelog,changelog,off,off,changelog,changelog,off
  step "$out/throughput-pairs-$r.json" "$build/bench/runtime_bench" --events $events \
    --keys $keys --interval 1s --modes $pairs,$pairs --dir "$work/rt" \
    --json "$out/throughput-pairs-$r.json"
  # Changelog checkpoints only: can they be sustained every 100 ms?
  step "$out/runtime-100ms-$r.json" "$build/bench/runtime_bench" --events $events \
    --keys $keys --interval 100ms --modes changelog --dir "$work/rt" \
    --json "$out/runtime-100ms-$r.json"
  # The changelog's synchronous part at 1 s over 100 checkpoints or more: the runs above make
  # about 15, whose p99 is their maximum.
  step "$out/pause-1s-$r.json" "$build/bench/runtime_bench" --events $((events * 7)) \
    --keys $keys --interval 1s --modes changelog --dir "$work/rt" --json "$out/pause-1s-$r.json"
done

# Hot path: keyed-aggregate against RocksDB's own db_bench doing just its state work (a random
# read-modify-write per event) in the same shape: keys, events (2 threads = 2 subtasks, each doing
# half), value size (count + sum + 100-byte payload), lz4, no WAL.
if [ $quick = 1 ]; then
  hot_events=600000 hot_keys=60000
else
  hot_events=3000000 hot_keys=300000
fi
for r in $(seq "$repeats"); do
  echo "hot path: run $r of $repeats"
  [ -n "$resume" ] && [ -s "$out/dbbench-$r.txt" ] || {
    rm -rf "$work/dbbench"
    db_bench --benchmarks=fillrandom,updaterandom --num=$hot_keys \
      --writes=$((hot_events / 2)) --threads=2 --key_size=16 --value_size=116 --disable_wal=1 \
      --compression_type=lz4 --db="$work/dbbench" >"$out/dbbench-$r.txt.tmp" 2>&1
    mv "$out/dbbench-$r.txt.tmp" "$out/dbbench-$r.txt"
  }
  step "$out/hotpath-$r.json" "$build/bench/runtime_bench" --events $hot_events \
    --keys $hot_keys --modes off,incremental --interval 1s --dir "$work/hot" \
    --json "$out/hotpath-$r.json"
  step "$out/hothash-$r.json" "$build/bench/runtime_bench" --events $hot_events \
    --keys $hot_keys --modes off,incremental --interval 1s --dir "$work/hot" \
    --set state.backend.rocksdb.memtable=HASH_SKIPLIST --json "$out/hothash-$r.json"
done

# Nexmark query 5 (hot items over sliding event-time windows): events/s per core with checkpoints
# off and incremental every 1 s, beside Nexmark's published Flink figure; the answer is checked.
if [ $quick = 1 ]; then
  nexmark_events=1000000
else
  nexmark_events=10000000
fi
for r in $(seq "$repeats"); do
  echo "nexmark q5: run $r of $repeats"
  step "$out/nexmark-q5-$r.json" "$build/bench/nexmark_bench" --events $nexmark_events \
    --modes off,incremental --interval 1s --dir "$work/nexmark" --json "$out/nexmark-q5-$r.json"
done

# Event latency at a fixed rate, checkpointing off and on.
if [ $quick = 1 ]; then
  latency_events=400000
else
  latency_events=2400000
fi
for r in $(seq "$repeats"); do
  echo "event latency: run $r of $repeats"
  step "$out/latency-1s-$r.json" "$build/bench/runtime_bench" --events $latency_events \
    --keys $keys --rate 80000 --interval 1s --modes off,full,incremental --dir "$work/rt" \
    --json "$out/latency-1s-$r.json"
done

# Recovery: from creating a restored job to its first record, full, incremental and changelog
# (materializing every 1 s, 2 s and never during the run: the log replay's share). Each built
# checkpoint is restored three times (the median counts): a restore takes a tenth of a second,
# in which the machine's hiccups weigh.
if [ $quick = 1 ]; then
  recovery_keys="200000"
  restores=1
else
  recovery_keys="1400000 5600000"
  restores=3
fi
for k in $recovery_keys; do
  for r in $(seq "$repeats"); do
    echo "recovery: $k keys, run $r of $repeats"
    step "$out/recovery-$k-$r.json" "$build/bench/runtime_bench" --recovery --keys "$k" \
      --restores "$restores" --dir "$work/rec" --json "$out/recovery-$k-$r.json"
  done
done

# Rescaling: one checkpoint restored at another parallelism against the same parallelism.
for r in $(seq "$repeats"); do
  echo "rescaling: run $r of $repeats"
  step "$out/rescale-$r.json" "$build/bench/rescale_bench" \
    --state-mib $([ $quick = 1 ] && echo 128 || echo 1024) --dir "$work/rescale" \
    --json "$out/rescale-$r.json"
done

# Savepoints: taking and restoring each format beside full and incremental checkpoints.
for r in $(seq "$repeats"); do
  echo "savepoints: run $r of $repeats"
  step "$out/savepoint-$r.json" "$build/bench/savepoint_bench" \
    --state-mib $([ $quick = 1 ] && echo 128 || echo 1024) --dir "$work/savepoint" \
    --json "$out/savepoint-$r.json"
done

# State access through weir against raw RocksDB, one thread.
echo "state access"
step "$out/state-access.json" "$build/bench/state_access_bench" \
  --keys $([ $quick = 1 ] && echo 200000 || echo 2000000) --rounds $((repeats + 2)) \
  --json "$out/state-access.json"

# Peak RSS against RocksDB's memory budget: 20 states x 4 subtasks x 2M keys (500,000 per
# subtask; a tenth with --quick), managed memory on and off.
echo "memory budget"
for managed in true false; do
  step "$out/memory-$managed.json" "$build/bench/memory_bench" --states 20 --subtasks 4 \
    --keys $([ $quick = 1 ] && echo 50000 || echo 500000) --budget-mb 256 --managed $managed \
    --dir "$work/memory" \
    --json "$out/memory-$managed.json"
done

# Scale-out: 1/2/3 workers, graceful handoff pause, takeover after SIGKILL (uses build/weir).
echo "scale-out"
if [ -x "$root/build/weir" ]; then
  step "$out/cluster.json" "$root/bench/cluster_bench.sh" \
    --events $([ $quick = 1 ] && echo 300000 || echo 1200000) --out "$out/cluster.json"
fi

rm -rf "$work"
python3 "$root/bench/report.py" "$out" "$root/docs"
echo "results in $out; report in docs/benchmarks.md"
