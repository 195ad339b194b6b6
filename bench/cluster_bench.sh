#!/usr/bin/env bash
# Scale-out figures (docs/scale-out.md, "Measured"): a bounded nats-aggregate over etcd, NATS
# JetStream and local or S3 checkpoints (scripts/cluster.sh), on this machine:
#   - throughput with 1, 2 and 3 workers: events / (time from the workers' start to every shard
#     finished), same input, same shard count;
#   - graceful handoff pause: 2 workers run, a third joins; per shard that moves, from the moment
#     its old owner stops reading (the handoff's checkpoint recorded, the run cancelled) to the
#     new owner's "restored checkpoint" (the shard's input is read by nobody in between); and
#     the whole handoff, from the old owner's "handing shard N off" to the same end;
#   - takeover after SIGKILL: scripts/cluster-demo.sh's p50 (kill to the new owner's claim).
# Prints one line per figure and writes them as JSON to --out (default: stdout only).
#
#   bench/cluster_bench.sh [--events M] [--shards S] [--s3] [--out FILE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
events=600000 shards=6 storage=(--local) out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events=$2; shift ;;
    --shards) shards=$2; shift ;;
    --s3) storage=() ;;
    --out) out=$2; shift ;;
    *) echo "usage: bench/cluster_bench.sh [--events M] [--shards S] [--s3] [--out FILE]" >&2
       exit 2 ;;
  esac
  shift
done
# The handoff pause is read from the workers' INFO lines.
export WEIR_LOG_LEVEL=info
cluster="$root/scripts/cluster.sh"
now_ms() { date +%s%3N; }
dir=""
cleanup() { [ -n "$dir" ] && { "$cluster" stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"; }; }
trap cleanup EXIT
finished() { "$WEIR" cluster status --cluster "$ETCD" demo 2>/dev/null | awk 'NR > 3 && $2 == "(finished)"' | wc -l; }
checkpointed() { "$WEIR" cluster status --cluster "$ETCD" demo 2>/dev/null | awk 'NR > 3 && $4 != "none"' | wc -l; }

json="{\"events\": $events, \"shards\": $shards, \"cores\": $(nproc), \"throughput\": {"
sep=""
for workers in 1 2 3; do
  dir=$(mktemp -d "${TMPDIR:-/tmp}/weir-cluster-bench.XXXXXX")
  # cluster.sh produces the input first, then starts the workers: time from there.
  "$cluster" start "$dir" --workers 0 --shards "$shards" --events "$events" "${storage[@]}" >/dev/null
  # shellcheck disable=SC1090
  . "$dir/env"
  start=$(now_ms)
  for _ in $(seq "$workers"); do "$cluster" add-worker "$dir" >/dev/null; done
  deadline=$((SECONDS + 600))
  until [ "$(finished)" -eq "$shards" ]; do
    [ $SECONDS -lt $deadline ] || { echo "$workers workers: not finished in 600 s" >&2; exit 1; }
    sleep 0.2
  done
  ms=$(($(now_ms) - start))
  rate=$((events * 1000 / ms))
  echo "throughput, $workers worker(s), $shards shards: $rate events/s ($events events in $ms ms)"
  json+="$sep\"$workers\": {\"events_per_s\": $rate, \"ms\": $ms}"
  sep=", "
  cleanup
  dir=""
done
json+="}"

# Graceful handoff: two workers under way, a third joins.
dir=$(mktemp -d "${TMPDIR:-/tmp}/weir-cluster-bench.XXXXXX")
"$cluster" start "$dir" --workers 2 --shards "$shards" --events $((events * 4)) "${storage[@]}" >/dev/null
# shellcheck disable=SC1090
. "$dir/env"
until [ "$(checkpointed)" -eq "$shards" ]; do sleep 0.1; done
"$cluster" add-worker "$dir" >/dev/null
sleep 8
pauses=$(python3 - "$dir" <<'PY'
import glob, re, sys
def ms(t):
    h, m, s = t.split(":")
    return (int(h) * 3600 + int(m) * 60 + float(s)) * 1000
off, stop, job_shard, restored = {}, {}, {}, {}
for path in glob.glob(sys.argv[1] + "/worker-*.log"):
    new_owner = path.endswith("worker-3.log")
    for line in open(path, errors="replace"):
        t = line[:12]
        if m := re.search(r"handing shard (\d+) off to worker-3", line):
            off[int(m.group(1))] = ms(t)
        elif m := re.search(r"\((\w+)\) starts: .*shards/(\d+)/epoch-", line):
            job_shard[m.group(1)] = (int(m.group(2)), new_owner)
        elif m := re.search(r"job (\w+): handoff checkpoint done", line):
            stop[m.group(1)] = ms(t)
        elif new_owner and (m := re.search(r"job (\w+) restored checkpoint \d+ in", line)):
            restored[m.group(1)] = ms(t)
stopped = {job_shard[j][0]: t for j, t in stop.items() if j in job_shard}
pauses, whole = [], []
for j, (s, new) in job_shard.items():
    if new and j in restored and s in stopped and s in off:
        pauses.append(int(restored[j] - stopped[s]))
        whole.append(int(restored[j] - off[s]))
print(" ".join(map(str, sorted(pauses))) + "|" + " ".join(map(str, sorted(whole))))
PY
)
cleanup
dir=""
whole=${pauses#*|}
pauses=${pauses%|*}
if [ -n "$pauses" ]; then
  p50=$(printf '%s\n' $pauses | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
  max=$(printf '%s\n' $pauses | sort -n | tail -1)
  whole50=$(printf '%s\n' $whole | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
  echo "graceful handoff: input paused p50 $p50 ms, max $max ms; whole handoff p50 $whole50 ms" \
    "(shards moved: $(echo $pauses | wc -w))"
  json+=", \"handoff_pause_ms\": {\"p50\": $p50, \"max\": $max, \"all\": [$(echo $pauses | tr ' ' ',')]}"
  json+=", \"handoff_whole_ms\": {\"p50\": $whole50, \"all\": [$(echo $whole | tr ' ' ',')]}"
else
  echo "graceful handoff pause: no shard moved" >&2
fi

# Takeover after SIGKILL.
demo=$("$root/scripts/cluster-demo.sh" --events "$events" "${storage[@]}" | tail -1)
echo "takeover after SIGKILL (scripts/cluster-demo.sh): $demo"
p50=$(echo "$demo" | sed -n 's/.*takeover p50 \([0-9]*\) ms.*/\1/p')
json+=", \"takeover_p50_ms\": ${p50:-null}}"
[ -n "$out" ] && echo "$json" >"$out"
echo "$json"
