// memory_bench: the process's peak resident memory against RocksDB's memory budget, for state
// shaped like a job's: S states × P subtasks (one RocksDB backend per subtask, as the runtime
// makes them, slot = subtask) × K keys per state, each subtask on its own thread.
//
//   memory_bench [--states S] [--subtasks P] [--keys K] [--value-bytes V] [--budget-mb M]
//                [--managed true|false] [--dir D] [--json FILE]
//
// Each subtask writes every key of every state once (incompressible V-byte values), then
// updates and reads K × S random rows. Prints the budget, the process's RSS before the backends
// opened (its baseline: binary, heap, threads), the peak RSS (VmHWM) and the peak above the
// baseline against the budget, the shared cache's peak usage, and rows/s. A job with 2M keys
// over 4 subtasks and 20 states is --states 20 --subtasks 4 --keys 500000 (bench/run.sh's full
// size).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "state/rocksdb/rocksdb_keyed_state_backend.h"
#include "state/rocksdb/rocksdb_shared_memory.h"
#include "state/state_backends.h"
#include "weir/config.h"

namespace {

using weir::bench::Check;

constexpr const char* kProgram = "memory_bench";

// A field of /proc/self/status in bytes ("VmHWM", "VmRSS").
uint64_t ProcStatusBytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      return std::strtoull(line.c_str() + field.size() + 1, nullptr, 10) * 1024;
    }
  }
  return 0;
}

double Mib(uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

}  // namespace

int main(int argc, char** argv) {
  uint64_t states = 20, subtasks = 4, keys = 200000, value_bytes = 100, budget_mb = 256;
  std::string managed = "true", json_path,
              dir = std::filesystem::temp_directory_path() / "weir-memory-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    const uint64_t n = std::strtoull(value.c_str(), nullptr, 10);
    if (flag == "--states") {
      states = n;
    } else if (flag == "--subtasks") {
      subtasks = n;
    } else if (flag == "--keys") {
      keys = n;
    } else if (flag == "--value-bytes") {
      value_bytes = n;
    } else if (flag == "--budget-mb") {
      budget_mb = n;
    } else if (flag == "--managed") {
      managed = value;
    } else if (flag == "--json") {
      json_path = value;
    } else if (flag == "--dir") {
      dir = value;  // wiped at the start and the end: two runs need two directories
    } else {
      std::fprintf(stderr,
                   "usage: memory_bench [--states S] [--subtasks P] [--keys K] [--value-bytes V] "
                   "[--budget-mb M] [--managed true|false] [--dir D] [--json FILE]\n");
      return 2;
    }
  }
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  weir::Configuration config;
  Check(kProgram, config.Set("state.backend.rocksdb.memory.managed", managed), "config");
  Check(kProgram, config.Set("taskmanager.memory.managed.size", std::to_string(budget_mb) + " mb"),
        "config");

  const uint64_t baseline = ProcStatusBytes("VmRSS");
  std::vector<std::unique_ptr<weir::CheckpointableKeyedStateBackend>> backends;
  for (uint64_t s = 0; s < subtasks; ++s) {
    weir::KeyedStateBackendParameters p;
    p.backend_id = "op_" + std::to_string(s);
    p.local_dir = dir + "/" + p.backend_id;
    p.config = &config;
    p.slot = static_cast<int>(s);
    auto made = weir::CreateKeyedStateBackend("rocksdb", p, nullptr);
    Check(kProgram, made.status(), "open backend");
    backends.push_back(std::move(made).value());
  }
  const auto* rocksdb = dynamic_cast<weir::RocksDbKeyedStateBackend*>(backends.front().get());
  const auto memory = rocksdb != nullptr ? rocksdb->shared_memory() : nullptr;

  std::atomic<bool> done{false};
  std::atomic<uint64_t> peak_usage{0};
  std::thread sampler([&] {
    while (!done) {
      if (memory) peak_usage = std::max<uint64_t>(peak_usage, memory->usage());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  const auto start = weir::bench::Clock::now();
  std::vector<std::thread> threads;
  for (uint64_t s = 0; s < subtasks; ++s) {
    threads.emplace_back([&, s] {
      auto& backend = *backends[s];
      std::vector<weir::ValueState<std::string>*> handles;
      for (uint64_t k = 0; k < states; ++k) {
        auto state = backend.GetValueState(
            weir::ValueStateDescriptor<std::string>{"state-" + std::to_string(k)});
        Check(kProgram, state.status(), "register state");
        handles.push_back(*state);
      }
      const auto key_serializer = weir::DefaultSerializer<int64_t>();
      std::string value(value_bytes, '\0');
      for (uint64_t key = 0; key < keys; ++key) {
        Check(kProgram, backend.SetCurrentKey(*key_serializer, static_cast<int64_t>(key)), "key");
        for (uint64_t k = 0; k < states; ++k) {
          weir::bench::FillIncompressible(value, key * 131 + k + s * 7919);
          Check(kProgram, handles[k]->Update(value), "write");
        }
      }
      std::mt19937_64 rng(s);
      for (uint64_t i = 0; i < keys * states; ++i) {
        Check(kProgram, backend.SetCurrentKey(*key_serializer, static_cast<int64_t>(rng() % keys)),
              "key");
        auto* state = handles[rng() % states];
        if (i % 2 == 0) {
          Check(kProgram, state->Value().status(), "read");
        } else {
          weir::bench::FillIncompressible(value, rng());
          Check(kProgram, state->Update(value), "update");
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = weir::bench::Seconds(start);
  done = true;
  sampler.join();
  const uint64_t peak = ProcStatusBytes("VmHWM");
  const uint64_t budget = budget_mb << 20;
  const uint64_t rows = 2 * keys * states * subtasks;
  std::printf("%llu states x %llu subtasks x %llu keys, %llu-byte values, managed memory %s\n",
              static_cast<unsigned long long>(states), static_cast<unsigned long long>(subtasks),
              static_cast<unsigned long long>(keys), static_cast<unsigned long long>(value_bytes),
              managed.c_str());
  std::printf("budget                %9.1f MiB\n", Mib(budget));
  std::printf("RSS before backends   %9.1f MiB\n", Mib(baseline));
  std::printf("peak RSS              %9.1f MiB\n", Mib(peak));
  std::printf("peak RSS - baseline   %9.1f MiB = %.2f x the budget\n", Mib(peak - baseline),
              static_cast<double>(peak - baseline) / static_cast<double>(budget));
  if (memory) std::printf("shared cache peak     %9.1f MiB\n", Mib(peak_usage));
  std::printf("rows written or read  %9.0f /s (%llu in %.1f s)\n",
              static_cast<double>(rows) / seconds, static_cast<unsigned long long>(rows), seconds);
  if (!json_path.empty()) {
    nlohmann::json j = {{"states", states},
                        {"subtasks", subtasks},
                        {"keys", keys},
                        {"value_bytes", value_bytes},
                        {"managed", managed},
                        {"budget_bytes", budget},
                        {"baseline_rss", baseline},
                        {"peak_rss", peak},
                        {"shared_cache_peak", peak_usage.load()},
                        {"rows_per_second", static_cast<double>(rows) / seconds}};
    std::ofstream(json_path) << j.dump(2) << "\n";
  }
  backends.clear();
  std::filesystem::remove_all(dir);
  return 0;
}
