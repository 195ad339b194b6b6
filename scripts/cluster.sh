#!/usr/bin/env bash
# A weir cluster on 127.0.0.1 (docs/cluster.md): etcd, nats-server with JetStream, the Ceph RADOS
# Gateway of scripts/rgw.sh (checkpoints on S3) and weir workers running a bounded nats-aggregate
# over stream EV (partitioned into shards by `weir nats produce --shards`) into stream OUT; with
# --groups G also the totals per key mod G (a second keyBy through the repartition stream
# demo-groups) into stream GOUT.
#
#   scripts/cluster.sh start DIR [--workers N] [--shards S] [--events M] [--keys K] [--groups G]
#                                [--payload-bytes B] [--standby-replicas R] [--unbounded]
#                                [--local]
#                                 starts everything (N = 3, S = 3, M = 1000000, K = 10000,
#                                 G = 0: none; B = 0: bytes of payload state per key;
#                                 R = 0: cluster.standby-replicas; --unbounded: the workers
#                                 wait for more input at its end instead of finishing;
#                                 --local: checkpoints in DIR/checkpoints, not S3)
#   scripts/cluster.sh stop DIR          stops every process of DIR by its PID
#   scripts/cluster.sh kill-worker DIR I SIGKILL to worker I (1-based)
#   scripts/cluster.sh add-worker DIR    starts one more worker
#   scripts/cluster.sh status DIR        `weir cluster status` of the job
#
# DIR/env holds the endpoints (ETCD, NATS, WEIR, …); DIR/worker-I.log each worker's output.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:?start|stop|kill-worker|add-worker|status}
dir=$(realpath -m "${2:?directory}")
shift 2

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_for() {  # wait_for SECONDS COMMAND...: until COMMAND succeeds
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}
stop_pidfile() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 0
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$1"
}

start_worker() {
  # shellcheck disable=SC1091
  . "$dir/env"
  local i=$1 extra=()
  if [ "${GROUPS_OF_KEYS:-0}" -gt 0 ]; then
    extra+=(--groups "$GROUPS_OF_KEYS" --group-output GOUT)
  fi
  extra+=(--payload-bytes "${PAYLOAD_BYTES:-0}")
  [ "${UNBOUNDED:-0}" = 1 ] || extra+=(--bounded)
  # shellcheck disable=SC2086
  "$WEIR" worker --cluster "$ETCD" --job demo --id "worker-$i" --config "$dir/weir.yaml" \
    nats-aggregate --server "$NATS" --input EV --output OUT "${extra[@]}" \
    >"$dir/worker-$i.log" 2>&1 &
  echo $! >"$dir/pids/worker-$i.pid"
  echo "$i" >"$dir/workers"
}

case "$cmd" in
  start)
    workers=3 shards=3 events=1000000 keys=10000 groups=0 payload=0 standbys=0 unbounded=0 local=0
    while [ $# -gt 0 ]; do
      case "$1" in
        --workers) workers=$2; shift ;;
        --shards) shards=$2; shift ;;
        --events) events=$2; shift ;;
        --keys) keys=$2; shift ;;
        --groups) groups=$2; shift ;;
        --payload-bytes) payload=$2; shift ;;
        --standby-replicas) standbys=$2; shift ;;
        --unbounded) unbounded=1 ;;
        --local) local=1 ;;
        *) echo "cluster.sh start: unknown option $1" >&2; exit 2 ;;
      esac
      shift
    done
    mkdir -p "$dir/pids"
    weir="$root/build/weir"
    [ -x "$weir" ] || { echo "cluster.sh: build weir first ($weir)" >&2; exit 1; }
    etcd_port=$(free_port) etcd_peer=$(free_port) nats_port=$(free_port)
    etcd --name n1 --data-dir "$dir/etcd" --log-level warn \
      --listen-client-urls "http://127.0.0.1:$etcd_port" \
      --advertise-client-urls "http://127.0.0.1:$etcd_port" \
      --listen-peer-urls "http://127.0.0.1:$etcd_peer" \
      --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
      --initial-cluster "n1=http://127.0.0.1:$etcd_peer" >"$dir/etcd.log" 2>&1 &
    echo $! >"$dir/pids/etcd.pid"
    nats-server -js -sd "$dir/nats" -a 127.0.0.1 -p "$nats_port" >"$dir/nats.log" 2>&1 &
    echo $! >"$dir/pids/nats.pid"
    wait_for 20 curl -sf "http://127.0.0.1:$etcd_port/health"
    {
      echo "ETCD=etcd://127.0.0.1:$etcd_port"
      echo "NATS=nats://127.0.0.1:$nats_port"
      echo "WEIR=$weir"
      echo "EVENTS=$events"
      echo "KEYS=$keys"
      echo "SHARDS=$shards"
      echo "GROUPS_OF_KEYS=$groups"
      echo "PAYLOAD_BYTES=$payload"
      echo "UNBOUNDED=$unbounded"
    } >"$dir/env"
    {
      echo "execution.checkpointing.interval: 500ms"
      echo "state.backend.incremental: true"
      echo "parallelism.default: 1"
      echo "cluster.shards: $shards"
      echo "cluster.lease-ttl: 2s"
      echo "cluster.standby-replicas: $standbys"
      echo "state.backend.rocksdb.localdir: $dir/local"
      # Each worker serves the cluster view on a free port (its log says which).
      echo "rest.port: 0"
    } >"$dir/weir.yaml"
    if [ "$local" = 1 ]; then
      echo "state.checkpoints.dir: $dir/checkpoints" >>"$dir/weir.yaml"
    else
      "$root/scripts/rgw.sh" start "$dir/rgw" >/dev/null
      # shellcheck disable=SC2046
      eval $(tr ' ' '\n' <"$dir/rgw/endpoint" | sed 's/^/RGW_/')
      {
        echo "state.checkpoints.dir: s3://$RGW_bucket/checkpoints"
        echo "s3.endpoint: $RGW_endpoint"
        echo "s3.path-style-access: true"
        echo "s3.access-key: $RGW_access_key"
        echo "s3.secret-key: $RGW_secret_key"
      } >>"$dir/weir.yaml"
    fi
    wait_for 20 bash -c "echo >/dev/tcp/127.0.0.1/$nats_port"
    "$weir" nats produce --server "nats://127.0.0.1:$nats_port" --stream EV --shards "$shards" \
      --events "$events" --keys "$keys" 2>>"$dir/produce.log"
    echo 0 >"$dir/workers"
    for i in $(seq "$workers"); do start_worker "$i"; done
    echo "cluster in $dir: $workers workers, $shards shards, $events events (env: $dir/env)"
    ;;
  add-worker)
    n=$(cat "$dir/workers")
    start_worker $((n + 1))
    echo "worker-$((n + 1)) started"
    ;;
  kill-worker)
    i=${1:?worker number}
    stop_pidfile "$dir/pids/worker-$i.pid"
    echo "worker-$i killed"
    ;;
  status)
    # shellcheck disable=SC1091
    . "$dir/env"
    "$WEIR" cluster status --cluster "$ETCD" demo
    grep -ho "cluster view at http://[^ ]*" "$dir"/worker-*.log | sort -u || true
    ;;
  stop)
    for f in "$dir"/pids/worker-*.pid; do [ -e "$f" ] && stop_pidfile "$f"; done
    stop_pidfile "$dir/pids/nats.pid"
    stop_pidfile "$dir/pids/etcd.pid"
    [ -d "$dir/rgw" ] && "$root/scripts/rgw.sh" stop "$dir/rgw"
    echo "cluster in $dir stopped"
    ;;
  *)
    echo "usage: scripts/cluster.sh start|stop|kill-worker|add-worker|status DIR ..." >&2
    exit 2
    ;;
esac
