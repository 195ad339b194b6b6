#!/usr/bin/env bash
# A single-node Ceph cluster with a RADOS Gateway (real S3) on 127.0.0.1, for tests and benchmarks.
#
#   scripts/rgw.sh start DIR [PORT]   starts mon + osd (memstore) + radosgw under DIR, creates
#                                     user "weir" and bucket "weir-test", prints (and writes to
#                                     DIR/endpoint) "endpoint=http://127.0.0.1:PORT access_key=…
#                                     secret_key=… bucket=weir-test"; PORT "auto" (the default)
#                                     takes the first free pair from 17480 on
#   scripts/rgw.sh stop DIR           stops every daemon of DIR by its PID
#   scripts/rgw.sh session-token DIR  temporary credentials of user "weir" from the gateway's STS
#                                     (GetSessionToken): prints "access_key=… secret_key=…
#                                     session_token=…"
#
# Start to a working endpoint takes about 13 s and 420 MB of memory. The objects live in memory
# (memstore): WEIR_RGW_MEMSTORE_GIB (default 2) bounds them; a full store refuses every write
# (the gateway's requests then time out), so benchmarks with large state raise it. Deleted
# objects are reclaimed by the gateway's garbage collector within about a minute.
#
# The packages come from scripts/install-deps.sh. Nothing listens beyond 127.0.0.1; auth between
# the daemons is off (they are alone on loopback).
set -euo pipefail

cmd=${1:?start|stop}
dir=$(realpath -m "${2:?directory}")
port=${3:-auto}
access_key=weir-test-access
secret_key=weir-test-secret-0123456789abcdef
bucket=weir-test

stop() {
  for pidfile in "$dir"/run/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

if [ "$cmd" = stop ]; then
  stop
  exit 0
fi
if [ "$cmd" = session-token ]; then
  read -r endpoint access secret _ <"$dir/endpoint"
  answer=$(curl -s --aws-sigv4 "aws:amz:us-east-1:sts" --user "${access#*=}:${secret#*=}" \
    -X POST "${endpoint#*=}/" -d "Action=GetSessionToken&Version=2011-06-15&DurationSeconds=3600")
  field() { sed -n "s|.*<$1>\([^<]*\)</$1>.*|\1|p" <<<"$answer"; }
  [ -n "$(field SessionToken)" ] || { echo "rgw.sh: GetSessionToken answered: $answer" >&2; exit 1; }
  echo "access_key=$(field AccessKeyId) secret_key=$(field SecretAccessKey) session_token=$(field SessionToken)"
  exit 0
fi
[ "$cmd" = start ] || { echo "usage: rgw.sh start|stop DIR [PORT]" >&2; exit 2; }

export PATH=$PATH:/usr/sbin:/sbin
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [ "$port" = auto ]; then
  port=17480
  while listening "$port" || listening $((port + 1)); do port=$((port + 2)); done
fi
stop
rm -rf "$dir"
mkdir -p "$dir"/{run,log,mon,osd}
fsid=$(cat /proc/sys/kernel/random/uuid)
mon_port=$((port + 1))
conf="$dir/ceph.conf"
cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = 127.0.0.1:$mon_port
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = $((${WEIR_RGW_MEMSTORE_GIB:-2} << 30))
run dir = $dir/run
log file = $dir/log/\$name.log
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok
mon data = $dir/mon/\$name
osd data = $dir/osd/\$name
keyring = $dir/keyring
ms bind ipv4 = true
ms bind ipv6 = false
public addr = 127.0.0.1
mon warn on pool no redundancy = false
osd max object name len = 460
osd max object namespace len = 64
[client.rgw.weir]
rgw frontends = beast endpoint=127.0.0.1:$port tcp_nodelay=1
ms mon client mode = crc secure
rgw data = $dir/rgw
# STS (GetSessionToken) for tests of temporary credentials; the key encrypts session tokens.
rgw sts key = weir-sts-key-016
rgw s3 auth use sts = true
# Deleted objects' data is freed by garbage collection, by default two hours later: far too
# late for a memory-backed store that checkpoints fill and subsume continuously.
rgw gc obj min wait = 30
rgw gc processor period = 30
EOF
ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --add a "127.0.0.1:$mon_port" --fsid "$fsid" "$dir/monmap" >/dev/null
log="$dir/log/start.log"
ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring" >>"$log" 2>&1
ceph-mon -c "$conf" -i a >>"$log" 2>&1
osd_uuid=$(cat /proc/sys/kernel/random/uuid)
osd_id=$(ceph -c "$conf" osd new "$osd_uuid")
mkdir -p "$dir/osd/osd.$osd_id"
ceph-osd -c "$conf" -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" >/dev/null 2>&1
ceph-osd -c "$conf" -i "$osd_id" >>"$log" 2>&1
for _ in $(seq 300); do
  ceph -c "$conf" osd stat 2>/dev/null | grep -q "1 up" && break
  sleep 0.1
done
mkdir -p "$dir/rgw"
radosgw -c "$conf" -n client.rgw.weir >>"$log" 2>&1
for _ in $(seq 600); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  sleep 0.1
done
curl -s -o /dev/null "http://127.0.0.1:$port/" || { echo "rgw.sh: radosgw did not answer on port $port; logs in $dir/log" >&2; stop; exit 1; }
radosgw-admin -c "$conf" user create --uid weir --display-name weir \
  --access-key "$access_key" --secret "$secret_key" >>"$log" 2>&1
# Let the user ask STS for temporary credentials (session-token below): a user policy allowing
# sts:GetSessionToken, put through the gateway's IAM API (which needs the user-policy cap).
radosgw-admin -c "$conf" caps add --uid weir --caps "user-policy=*" >>"$log" 2>&1
policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:GetSessionToken"],"Resource":"*"}]}'
code=$(curl -s -o "$dir/log/policy.xml" -w "%{http_code}" --aws-sigv4 "aws:amz:us-east-1:iam" \
  --user "$access_key:$secret_key" -X POST "http://127.0.0.1:$port/" \
  --data-urlencode "Action=PutUserPolicy" --data-urlencode "PolicyName=weir-sts" \
  --data-urlencode "UserName=weir" --data-urlencode "PolicyDocument=$policy")
[ "$code" = 200 ] || { echo "rgw.sh: PutUserPolicy answered $code" >&2; stop; exit 1; }
# The bucket, through S3 itself (curl signs SigV4).
code=$(curl -s -o "$dir/log/bucket.xml" -w "%{http_code}" --aws-sigv4 "aws:amz:us-east-1:s3" \
  --user "$access_key:$secret_key" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
  -X PUT "http://127.0.0.1:$port/$bucket")
[ "$code" = 200 ] || { echo "rgw.sh: creating bucket $bucket answered $code" >&2; stop; exit 1; }
echo "endpoint=http://127.0.0.1:$port access_key=$access_key secret_key=$secret_key bucket=$bucket" |
  tee "$dir/endpoint"
