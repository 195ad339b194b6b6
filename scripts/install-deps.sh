#!/usr/bin/env bash
# Installs every Debian package that weir's build, tests, benchmarks and examples need.
# Idempotent: when everything is present it prints nothing and exits 0.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  librocksdb-dev        # keyed state (brings snappy, lz4, zstd, zlib, bzip2, gflags)
  libjemalloc-dev       # the allocator weir links: bounded fragmentation under RocksDB's churn
  rocksdb-tools         # db_bench: bench/run.sh measures the hot path against it
  libgtest-dev libgmock-dev
  libbenchmark-dev
  libcli11-dev          # the weir command line
  libyaml-cpp-dev       # YAML configuration files (weir run --config)
  nlohmann-json3-dev    # --json output of the CLI
  libxxhash-dev         # key-group hash and file checksums (XXH3-64)
  libabsl-dev           # Abseil's hash maps: the write-back cache's row index
  liblz4-dev            # compression of the state-change log
  libfmt-dev
  libnats-dev nats-server   # NATS JetStream connector and the server its tests start
  etcd-server etcd-client   # a job across processes: leases, assignment and fencing in etcd
  libcurl4-openssl-dev libpugixml-dev libssl-dev  # S3 storage: SigV4 by curl, XML, MD5
  ceph-mon ceph-osd radosgw ceph-common # a single-node Ceph RADOS Gateway the S3 tests start
  libcpp-httplib-dev    # the REST API, dashboard and /metrics a running job serves
  chromium              # headless, for the dashboard's browser test
  python3 gnuplot-nox   # bench/run.sh: the report and its plots
  clang libclang-rt-14-dev   # libFuzzer targets (scripts/fuzz.sh)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
