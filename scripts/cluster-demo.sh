#!/usr/bin/env bash
# The scale-out demo (docs/cluster.md): a bounded nats-aggregate across 3 workers on etcd, NATS
# JetStream and S3 (scripts/cluster.sh), one worker killed with SIGKILL in the middle; waits for
# the end, checks the output stream for exactly-once (every key's counts 1..n once, with the sums
# of the input), stops everything, and prints as its last line
#   exactly-once: yes|no, takeover p50 N ms
# (takeover: from the kill to the new owner's claim of each shard the killed worker held).
#
#   scripts/cluster-demo.sh [--events M] [--groups G] [--local]
#     (M = 1000000; --groups: also per key mod G through a repartition stream, checked too;
#      --local: no S3)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
events=1000000 groups=0 extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events=$2; shift ;;
    --groups) groups=$2; shift ;;
    --local) extra+=(--local) ;;
    *) echo "usage: scripts/cluster-demo.sh [--events M] [--groups G] [--local]" >&2; exit 2 ;;
  esac
  shift
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/weir-cluster-demo.XXXXXX")
trap '"$root/scripts/cluster.sh" stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
"$root/scripts/cluster.sh" start "$dir" --workers 3 --shards 3 --events "$events" --groups "$groups" "${extra[@]}"
# shellcheck disable=SC1091
. "$dir/env"
now_ms() { date +%s%3N; }
shards() { "$WEIR" cluster status --cluster "$ETCD" demo 2>/dev/null | awk 'NR > 3'; }

# The job is under way: every worker runs a shard and every shard has completed a checkpoint.
deadline=$((SECONDS + 120))
until [ "$(shards | awk '$4 != "none"' | wc -l)" -eq "$SHARDS" ] &&
  [ "$(shards | awk '$2 ~ /^worker-/ {print $2}' | sort -u | wc -l)" -eq 3 ]; do
  [ $SECONDS -lt $deadline ] || { echo "the shards were not spread within 120 s" >&2; exit 1; }
  sleep 0.1
done
# Kill worker-2 in the middle; time the claims of its shards by the others.
lost=$(shards | awk '$2 == "worker-2" {print $1 ":" $3}')
"$root/scripts/cluster.sh" kill-worker "$dir" 2 >/dev/null
killed=$(now_ms)
echo "killed worker-2, which held shards: ${lost:-none}"
takeovers=()
for entry in $lost; do
  shard=${entry%%:*} epoch=${entry##*:}
  until shards | awk -v s="$shard" -v e="$epoch" '$1 == s && ($3 > e || $2 == "(finished)") {f=1} END {exit !f}'; do
    [ $(($(now_ms) - killed)) -lt 60000 ] || { echo "shard $shard not taken over in 60 s" >&2; break; }
    sleep 0.05
  done
  takeovers+=($(($(now_ms) - killed)))
done
# The end: every shard finished.
deadline=$((SECONDS + 300))
until [ "$(shards | awk '$2 == "(finished)"' | wc -l)" -eq "$SHARDS" ]; do
  [ $SECONDS -lt $deadline ] || { echo "the job did not finish within 300 s" >&2; break; }
  sleep 0.2
done
"$WEIR" nats dump --server "$NATS" --stream OUT >"$dir/out.txt"
: >"$dir/groups.txt"
[ "$groups" -gt 0 ] && "$WEIR" nats dump --server "$NATS" --stream GOUT >"$dir/groups.txt"
exact=$(python3 - "$dir/out.txt" "$EVENTS" "$KEYS" "$groups" "$dir/groups.txt" <<'PY'
import sys
path, events, keys = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
groups, group_path = int(sys.argv[4]), sys.argv[5]
M = (1 << 64) - 1
def splitmix(x):
    x = (x + 0x9e3779b97f4a7c15) & M
    x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & M
    x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & M
    return x ^ (x >> 31)
want = {}  # key -> list of running sums
for i in range(events):
    k = i if i < keys else splitmix(i) % keys
    s = want.setdefault(k, [])
    s.append((s[-1] if s else 0) + i)
seen = set()
ok = True
for line in open(path):
    k, c, s = map(int, line.strip().split(","))
    if (k, c) in seen or k not in want or c > len(want[k]) or want[k][c - 1] != s:
        ok = False
    seen.add((k, c))
ok = ok and len(seen) == events
if groups > 0:
    # Per group (key mod G): counts 1..n once, the last with the sum of the group's values.
    total = {}
    for k, sums in want.items():
        c, s = total.get(k % groups, (0, 0))
        total[k % groups] = (c + len(sums), s + sums[-1])
    lines = {}
    for line in open(group_path):
        g, c, s = map(int, line.strip().split(","))
        ok = ok and (g, c) not in lines
        lines[(g, c)] = s
    for g, (n, s) in total.items():
        ok = ok and all((g, c) in lines for c in range(1, n + 1)) and lines.get((g, n)) == s
    ok = ok and len(lines) == events
print("yes" if ok else "no")
PY
)
p50=n/a
if [ ${#takeovers[@]} -gt 0 ]; then
  p50=$(printf '%s\n' "${takeovers[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
fi
echo "exactly-once: $exact, takeover p50 $p50 ms"
