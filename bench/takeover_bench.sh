#!/usr/bin/env bash
# Takeover after a SIGKILL with large shards (docs/benchmarks.md, "Scale-out"): a bounded
# nats-aggregate whose keys each keep a 1 KiB payload, so that every shard holds about
# --mib-per-shard of state, across 3 workers (scripts/cluster.sh; checkpoints on the Ceph RADOS
# Gateway unless --local). Once every shard's latest checkpoint holds that much, the worker with
# the most shards is killed with SIGKILL; per shard it held, the takeover is the time from the
# kill to its new owner's "restored checkpoint" (the restore's end: its source reads from there
# on). A new worker is added after each kill, and the next kill waits until every shard has
# checkpointed again (and, with standby replicas, every shard's standby holds a copy). Prints one
# line per takeover and a summary against the goal (p50 <= lease TTL + 2 s); --out writes the
# figures as JSON. --standby-replicas R (default 1; 0: none, every takeover downloads the state).
#
#   bench/takeover_bench.sh [--mib-per-shard M] [--shards S] [--kills K] [--standby-replicas R]
#                           [--local] [--out FILE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mib=256 shards=3 kills=3 standbys=1 idle=0 storage=() out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --mib-per-shard) mib=$2; shift ;;
    --shards) shards=$2; shift ;;
    --kills) kills=$2; shift ;;
    --standby-replicas) standbys=$2; shift ;;
    --idle-input) idle=1 ;;
    --local) storage=(--local) ;;
    --out) out=$2; shift ;;
    *) echo "usage: bench/takeover_bench.sh [--mib-per-shard M] [--shards S] [--kills K]" \
         "[--standby-replicas R] [--idle-input] [--local] [--out FILE]" >&2
       exit 2 ;;
  esac
  shift
done
export WEIR_LOG_LEVEL=info
# The shards' checkpoints and those they subsume must fit the gateway's memory-backed store.
export WEIR_RGW_MEMSTORE_GIB=${WEIR_RGW_MEMSTORE_GIB:-12}
cluster="$root/scripts/cluster.sh"
payload=1024
keys=$((mib * 1024 * 1024 / (payload + 64) * shards))
# Every key once (the state's full size), then more, so that the job runs on through the kills.
events=$((keys * (kills + 2)))
[ "$events" -ge 1500000 ] || events=1500000
# --idle-input: every key twice, then the job waits for more (unbounded): the kills come once
# the input is caught up, checkpoints are quick and the standbys are current.
unbounded=()
# (10% more keys: with fewer overwrites in the SSTs the state is smaller per key.)
if [ "$idle" = 1 ]; then keys=$((keys * 11 / 10)) events=$((keys * 2)) unbounded=(--unbounded); fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/weir-takeover-bench.XXXXXX")
trap '"$cluster" stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
now_ms() { date +%s%3N; }
"$cluster" start "$dir" --workers 3 --shards "$shards" --keys "$keys" --events "$events" \
  --payload-bytes "$payload" --standby-replicas "$standbys" "${unbounded[@]}" "${storage[@]}" \
  >/dev/null
# shellcheck disable=SC1091
. "$dir/env"
status() { "$WEIR" cluster status --cluster "$ETCD" demo 2>/dev/null | awk 'NR > 3'; }
# The smallest state of any shard's latest completed checkpoint (MiB), from the workers' REST
# views of the shards they run.
smallest_state_mib() {
  python3 - "$dir" "$shards" <<'PY'
import glob, json, re, sys, urllib.request
d, shards = sys.argv[1], int(sys.argv[2])
sizes = {}
for log in glob.glob(d + "/worker-*.log"):
    ports = re.findall(r"cluster view at http://127.0.0.1:(\d+)/", open(log, errors="replace").read())
    if not ports:
        continue
    try:
        view = json.load(urllib.request.urlopen("http://127.0.0.1:%s/shards" % ports[-1], timeout=2))
    except Exception:
        continue
    for s in view.get("shards", []):
        latest = ((s.get("checkpoints") or {}).get("latest") or {}).get("completed")
        if latest:
            sizes[s["shard"]] = latest["state_size"]
print(min(sizes.values()) // (1 << 20) if len(sizes) == shards else 0)
PY
}
json="{\"mib_per_shard\": $mib, \"standby_replicas\": $standbys, \"idle_input\": $idle, \"shards\": $shards, \"cores\": $(nproc), \"lease_ttl_ms\": 2000, \"storage\": \"$([ ${#storage[@]} -eq 0 ] && echo s3 || echo local)\", \"takeovers\": ["
# From the workers' logs: "<ms from the kill to the restore's end> <restore ms>" of shard $2's
# first restore after the kill at $3 (epoch ms), or exit 1 if there is none yet.
cat >"$dir/restored.py" <<'PY'
import datetime, glob, re, sys
d, shard, killed = sys.argv[1], sys.argv[2], int(sys.argv[3])
day = datetime.datetime.fromtimestamp(killed / 1000, datetime.timezone.utc).replace(
    hour=0, minute=0, second=0, microsecond=0)
def ms(t):
    h, m, s = t.split(":")
    delta = datetime.timedelta(hours=int(h), minutes=int(m), seconds=float(s))
    return int((day + delta).timestamp() * 1000)
jobs, done = {}, None
for log in glob.glob(d + "/worker-*.log"):
    for line in open(log, errors="replace"):
        if m := re.search(r"\((\w+)\) starts: .*shards/(\d+)/epoch-", line):
            jobs[m.group(1)] = m.group(2)
        elif m := re.search(r"job (\w+) restored checkpoint \d+ in (\d+) ms", line):
            t = ms(line[:12])
            if jobs.get(m.group(1)) == shard and t > killed and (done is None or t < done[0]):
                done = (t, int(m.group(2)))
if done is None:
    sys.exit(1)
print(done[0] - killed, done[1])
PY
# With standby replicas: whether every shard's standbys hold a copy of its latest checkpoint or
# the one before (`weir cluster status` on stdin; each standby's REST view, GET /shards).
cat >"$dir/standbys_ready.py" <<'PY'
import glob, json, re, sys, urllib.request
d = sys.argv[1]
ports = {}
for log in glob.glob(d + "/worker-*.log"):
    found = re.findall(r"cluster view at http://127.0.0.1:(\d+)/", open(log, errors="replace").read())
    if found:
        ports[log.split("/")[-1][:-4]] = found[-1]
ok, pairs = True, 0
for line in sys.stdin:
    fields = line.split()
    if "standbys:" not in fields or len(fields) < 4 or not fields[3].isdigit():
        continue
    shard, latest = int(fields[0]), int(fields[3])
    for worker in line.split("standbys:")[1].split():
        pairs += 1
        try:
            view = json.load(urllib.request.urlopen("http://127.0.0.1:%s/shards" % ports[worker], timeout=2))
            held = {c["shard"]: c["checkpoint"] for c in view.get("standby-copies", [])}
        except Exception:
            held = {}
        ok = ok and held.get(shard, 0) >= latest - 1
sys.exit(0 if ok and pairs > 0 else 1)
PY
standbys_ready() {
  [ "$standbys" -eq 0 ] && return 0
  status | python3 "$dir/standbys_ready.py" "$dir"
}
sep="" all=()
for kill in $(seq "$kills"); do
  deadline=$((SECONDS + 900))
  until state=$(smallest_state_mib) && [ "$state" -ge "$mib" ] &&
    [ "$(status | awk '$2 ~ /^worker-/' | wc -l)" -eq "$shards" ] && standbys_ready; do
    [ $SECONDS -lt $deadline ] || { echo "shards did not reach $mib MiB in 900 s" >&2; exit 1; }
    sleep 1
  done
  victim=$(status | awk '{print $2}' | grep '^worker-' | sort | uniq -c | sort -rn | head -1 | awk '{print $2}')
  held=$(status | awk -v w="$victim" '$2 == w {print $1}' | xargs)
  "$cluster" kill-worker "$dir" "${victim#worker-}" >/dev/null
  killed=$(now_ms)
  echo "kill $kill: SIGKILL to $victim (shards $held; smallest shard state $state MiB)"
  # Each shard it held: the new owner's restore of it ends.
  for shard in $held; do
    until result=$(python3 "$dir/restored.py" "$dir" "$shard" "$killed"); do
      [ $(($(now_ms) - killed)) -lt 120000 ] || { echo "shard $shard not taken over" >&2; exit 1; }
      sleep 0.2
    done
    read -r takeover restore <<<"$result"
    echo "  shard $shard: taken over in $takeover ms (its restore $restore ms)"
    json+="$sep{\"shard\": $shard, \"state_mib\": $state, \"takeover_ms\": $takeover, \"restore_ms\": $restore}"
    sep=", "
    all+=("$takeover")
  done
  "$cluster" add-worker "$dir" >/dev/null
done
p50=$(printf '%s\n' "${all[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
max=$(printf '%s\n' "${all[@]}" | sort -n | tail -1)
met=$([ "$p50" -le 4000 ] && echo yes || echo no)
echo "takeover with >= $mib MiB per shard: p50 $p50 ms, max $max ms over ${#all[@]}" \
  "(goal: p50 <= lease TTL 2 s + 2 s: $met)"
json+="], \"p50_ms\": $p50, \"max_ms\": $max, \"goal_met\": \"$met\"}"
[ -z "$out" ] || echo "$json" >"$out"
