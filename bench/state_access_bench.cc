// state_access_bench: what the keyed-state layer costs, per state backend, over raw RocksDB.
//
//   state_access_bench [--keys N] [--value-bytes B] [--rounds R] [--changelog]
//                      [--set key=value ...] [--json FILE]
//
// On the same keys (int64 0..N-1 in a shuffled order) and values, measures ops/s of
//   weir:  SetCurrentKey + ValueState<std::string>::Update / ::Value, and MapState, through
//          each backend (rocksdb, hashmap) made by its factory as a job makes it
//   raw:   rocksdb::DB::Put / ::Get on an 8-byte key, same options (WAL off)
// and prints them with the RocksDB backend's ratio to raw RocksDB. Each figure is the median of
// R rounds. Printed, not asserted. --changelog also measures each weir backend with
// state.backend.changelog.enabled, in the same rounds (one after the other: the machine's speed
// drifts): every change also appended to a state-change log, which its writer's threads write to
// the bench's directory as the size threshold fills (no checkpoints). What the logging costs per
// operation.
#include <rocksdb/db.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "bench_util.h"
#include "state/changelog/changelog_keyed_state_backend.h"
#include "state/changelog/changelog_options.h"
#include "state/state_backends.h"
#include "storage/checkpoint_storage.h"
#include "weir/config.h"

namespace {

using Clock = std::chrono::steady_clock;

double OpsPerSecond(size_t ops, const std::function<void()>& body) {
  const auto start = Clock::now();
  body();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return static_cast<double>(ops) / seconds;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "state_access_bench: %s failed\n", what);
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  size_t keys = 200000, value_bytes = 100, rounds = 3;
  std::string json_path;
  bool changelog = false;
  weir::Configuration config;  // of the weir backends (--set)
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const char* arg = i + 1 < argc ? argv[i + 1] : nullptr;
    const size_t v = arg ? std::strtoull(arg, nullptr, 10) : 0;
    if (flag == "--changelog") {
      changelog = true;
      continue;
    }
    if (arg && flag == "--json")
      json_path = arg;
    else if (arg && flag == "--keys")
      keys = v;
    else if (arg && flag == "--value-bytes")
      value_bytes = v;
    else if (arg && flag == "--rounds")
      rounds = v;
    else if (arg && flag == "--set") {
      const auto [key, value] = weir::bench::ParseSetting("state_access_bench", arg);
      weir::bench::Check("state_access_bench", config.Set(key, value), "--set " + key);
    } else {
      std::fprintf(stderr,
                   "usage: state_access_bench [--keys N] [--value-bytes B] [--rounds R] "
                   "[--changelog] [--set key=value ...] [--json FILE]\n");
      return 2;
    }
    ++i;  // the flag's value
  }
  const std::string dir = std::filesystem::temp_directory_path() / "weir-state-access-bench";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  std::vector<int64_t> order(keys);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(42));
  const std::string value(value_bytes, 'v');

  // The logged backends' configuration and their log, shared as a process's is.
  weir::Configuration logged_config = config;
  weir::bench::Check("state_access_bench",
                     logged_config.Set(weir::config::kChangelogEnabled.key, "true"),
                     "the changelog's configuration");
  weir::CheckpointStorage storage =
      weir::CheckpointStorage::ForJob(weir::NewPosixFileSystem(), dir + "/checkpoints", "bench");
  std::shared_ptr<weir::ChangelogWriter> changelog_writer;
  if (changelog) {
    Check(storage.Initialize().ok(), "initialize the checkpoint storage");
    changelog_writer =
        weir::ChangelogWriter::Start(storage, weir::ChangelogWriterOptionsFrom(logged_config));
  }

  const auto key_serializer_ptr = weir::DefaultSerializer<int64_t>();
  const auto& key_serializer = *key_serializer_ptr;
  const int64_t map_keys = std::max<int64_t>(1, static_cast<int64_t>(keys) / 100);
  const auto raw_map_key = [](int64_t k, int64_t m) {
    std::string key(reinterpret_cast<const char*>(&k), sizeof(k));
    return key.append(reinterpret_cast<const char*>(&m), sizeof(m));
  };

  // One round of every operation through a weir backend; ops/s per operation. Each backend lives
  // through all rounds, as the raw database does: later rounds overwrite.
  std::map<std::string, std::unique_ptr<weir::CheckpointableKeyedStateBackend>> backends;
  const auto measure_backend = [&](const std::string& type, bool logged) {
    auto& backend = backends[type + (logged ? "-changelog" : "")];
    if (!backend) {
      weir::KeyedStateBackendParameters p;
      p.backend_id = "bench_0";
      p.local_dir = dir + "/" + type + (logged ? "-changelog" : "");
      p.config = logged ? &logged_config : &config;
      if (logged) {
        p.checkpoint_storage = &storage;
        p.changelog_writer = changelog_writer;
      }
      auto made = weir::CreateKeyedStateBackend(type, p, nullptr);
      Check(made.ok(), "make backend");
      backend = std::move(made).value();
    }
    auto state = *backend->GetValueState(weir::ValueStateDescriptor<std::string>{"v"});
    // MapState: keys / 100 keys with 100 entries each.
    auto map = *backend->GetMapState(weir::MapStateDescriptor<int64_t, std::string>{"m"});
    std::vector<double> ops;
    ops.push_back(OpsPerSecond(keys, [&] {
      for (int64_t k : order) {
        Check(backend->SetCurrentKey(key_serializer, k).ok() && state->Update(value).ok(), "put");
      }
    }));
    ops.push_back(OpsPerSecond(keys, [&] {
      for (int64_t k : order) {
        Check(backend->SetCurrentKey(key_serializer, k).ok(), "set key");
        auto v = state->Value();
        Check(v.ok() && v->has_value(), "get");
      }
    }));
    ops.push_back(OpsPerSecond(keys, [&] {
      auto all = backend->GetKeys("v", key_serializer);
      Check(all.ok() && all->size() == keys, "iterate");
    }));
    ops.push_back(OpsPerSecond(map_keys * 100, [&] {
      for (int64_t k = 0; k < map_keys; ++k) {
        Check(backend->SetCurrentKey(key_serializer, k).ok(), "set key");
        for (int64_t m = 0; m < 100; ++m) Check(map->Put(m, value).ok(), "map put");
      }
    }));
    ops.push_back(OpsPerSecond(map_keys * 100, [&] {
      for (int64_t k = 0; k < map_keys; ++k) {
        Check(backend->SetCurrentKey(key_serializer, k).ok(), "set key");
        for (int64_t m = 0; m < 100; ++m) {
          auto v = map->Get(m);
          Check(v.ok() && v->has_value(), "map get");
        }
      }
    }));
    ops.push_back(OpsPerSecond(map_keys * 100, [&] {
      for (int64_t k = 0; k < map_keys; ++k) {
        Check(backend->SetCurrentKey(key_serializer, k).ok(), "set key");
        size_t n = 0;
        Check(map->ForEach([&](const int64_t&, const std::string&) { return ++n > 0; }).ok() &&
                  n == 100,
              "map iterate");
      }
    }));
    return ops;
  };

  // raw RocksDB, configured like the backend
  rocksdb::DB* raw = nullptr;
  rocksdb::Options raw_options;
  raw_options.create_if_missing = true;
  raw_options.max_background_jobs = 2;
  Check(rocksdb::DB::Open(raw_options, dir + "/raw", &raw).ok(), "open raw RocksDB");
  rocksdb::WriteOptions no_wal;
  no_wal.disableWAL = true;
  const auto measure_raw = [&] {
    std::vector<double> ops;
    ops.push_back(OpsPerSecond(keys, [&] {
      std::string key;
      for (int64_t k : order) {
        key.assign(reinterpret_cast<const char*>(&k), sizeof(k));
        Check(raw->Put(no_wal, key, value).ok(), "raw put");
      }
    }));
    ops.push_back(OpsPerSecond(keys, [&] {
      std::string key, out;
      for (int64_t k : order) {
        key.assign(reinterpret_cast<const char*>(&k), sizeof(k));
        Check(raw->Get(rocksdb::ReadOptions(), key, &out).ok(), "raw get");
      }
    }));
    ops.push_back(OpsPerSecond(keys, [&] {
      std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions()));
      size_t n = 0;
      std::string copy;
      for (it->SeekToFirst(); it->Valid(); it->Next(), ++n) copy.assign(it->key().data(), 8);
      Check(n >= keys, "raw iterate");
    }));
    ops.push_back(OpsPerSecond(map_keys * 100, [&] {
      for (int64_t k = 0; k < map_keys; ++k) {
        for (int64_t m = 0; m < 100; ++m) {
          Check(raw->Put(no_wal, "m" + raw_map_key(k, m), value).ok(), "raw map put");
        }
      }
    }));
    ops.push_back(OpsPerSecond(map_keys * 100, [&] {
      std::string out;
      for (int64_t k = 0; k < map_keys; ++k) {
        for (int64_t m = 0; m < 100; ++m) {
          Check(raw->Get(rocksdb::ReadOptions(), "m" + raw_map_key(k, m), &out).ok(), "raw get");
        }
      }
    }));
    ops.push_back(OpsPerSecond(map_keys * 100, [&] {
      std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions()));
      for (int64_t k = 0; k < map_keys; ++k) {
        const std::string prefix = "m" + std::string(reinterpret_cast<const char*>(&k), 8);
        size_t n = 0;
        std::string copy;
        for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next(), ++n) {
          copy.assign(it->value().data(), it->value().size());
        }
        Check(n == 100, "raw map iterate");
      }
    }));
    return ops;
  };

  constexpr size_t kOperations = 6;
  // [operation][round]
  std::vector<std::vector<double>> rocks(kOperations), hashmap(kOperations), direct(kOperations);
  std::vector<std::vector<double>> rocks_logged(kOperations), hashmap_logged(kOperations);
  for (size_t r = 0; r < rounds; ++r) {
    const auto add = [](std::vector<std::vector<double>>& to, const std::vector<double>& ops) {
      for (size_t i = 0; i < kOperations; ++i) to[i].push_back(ops[i]);
    };
    add(rocks, measure_backend("rocksdb", false));
    if (changelog) add(rocks_logged, measure_backend("rocksdb", true));
    add(hashmap, measure_backend("hashmap", false));
    if (changelog) add(hashmap_logged, measure_backend("hashmap", true));
    add(direct, measure_raw());
  }
  delete raw;
  backends.clear();
  changelog_writer.reset();
  std::filesystem::remove_all(dir);

  std::printf("state access, %zu keys, %zu-byte values, median of %zu rounds, one thread\n", keys,
              value_bytes, rounds);
  std::printf("%-14s %16s %16s %18s %12s\n", "operation", "rocksdb ops/s", "hashmap ops/s",
              "raw RocksDB ops/s", "rocksdb / raw");
  nlohmann::json rows = nlohmann::json::array();
  const char* names[kOperations] = {"value put", "value get", "value iterate",
                                    "map put",   "map get",   "map iterate"};
  for (size_t i = 0; i < kOperations; ++i) {
    const auto& w = rocks[i];
    const double ratio = Median(w) / Median(direct[i]);
    std::printf("%-14s %16.0f %16.0f %18.0f %12.2f\n", names[i], Median(w), Median(hashmap[i]),
                Median(direct[i]), ratio);
    nlohmann::json row = {{"operation", names[i]},
                          {"weir_ops_per_s", Median(w)},
                          {"weir_min", *std::min_element(w.begin(), w.end())},
                          {"weir_max", *std::max_element(w.begin(), w.end())},
                          {"hashmap_ops_per_s", Median(hashmap[i])},
                          {"raw_ops_per_s", Median(direct[i])},
                          {"ratio", ratio}};
    if (changelog) {
      // Each round's logged figure against the same round's unlogged one, then the median.
      const auto per_round = [&](const std::vector<double>& logged, const std::vector<double>& of) {
        std::vector<double> r;
        for (size_t k = 0; k < logged.size(); ++k) r.push_back(logged[k] / of[k]);
        return Median(r);
      };
      const double rocks_ratio = per_round(rocks_logged[i], w);
      const double hashmap_ratio = per_round(hashmap_logged[i], hashmap[i]);
      std::printf("%-14s %16.0f %16.0f %18s %12s  with changelog (%.1f%%, %.1f%% of without)\n", "",
                  Median(rocks_logged[i]), Median(hashmap_logged[i]), "", "", 100 * rocks_ratio,
                  100 * hashmap_ratio);
      row["changelog_ops_per_s"] = Median(rocks_logged[i]);
      row["changelog_ratio"] = rocks_ratio;
      row["hashmap_changelog_ops_per_s"] = Median(hashmap_logged[i]);
      row["hashmap_changelog_ratio"] = hashmap_ratio;
    }
    rows.push_back(row);
  }
  if (!json_path.empty()) {
    std::ofstream(json_path) << nlohmann::json{{"keys", keys},
                                               {"value_bytes", value_bytes},
                                               {"rounds", rounds},
                                               {"changelog", changelog},
                                               {"rows", rows}}
                                    .dump(2)
                             << "\n";
  }
  return 0;
}
