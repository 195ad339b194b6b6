// nats_bench: nats-aggregate's events/s with incremental checkpoints every second against the
// raw JetStream consume rate of the same client (weir's NATS reader) on the same stream. Starts
// its own nats-server on 127.0.0.1 (free ports, store under --dir), fills stream EV with
// `weir nats produce`'s events, then prints, each measured in this run:
//   publish       the producer's asynchronous publish rate (messages/s)
//   raw 1 reader  one ordered consumer over the whole stream, one thread
//   raw splits    the job's layout: 2 threads, each reading its subjects as the source does
//   job ...       nats-aggregate --bounded (parallelism 2) end to end, events/s over wall time,
//                 with checkpointing off and every second (incremental, exactly-once sink)
// Printed, never asserted.
//
//   nats_bench [--events M] [--keys N] [--subjects P] [--dir D] [--quick]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bundled_jobs.h"
#include "common/clock.h"
#include "connectors/nats/nats_client.h"
#include "runtime/job_runtime.h"
#include "splitmix64.h"
#include "testing/nats_server.h"

namespace {

using namespace weir;

struct Args {
  uint64_t events = 2000000;
  uint64_t keys = 100000;
  int subjects = 4;
  std::string dir = "/tmp/weir-nats-bench";
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    const auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (k == "--events") {
      a.events = std::stoull(next());
    } else if (k == "--keys") {
      a.keys = std::stoull(next());
    } else if (k == "--subjects") {
      a.subjects = std::stoi(next());
    } else if (k == "--dir") {
      a.dir = next();
    } else if (k == "--quick") {
      a.events = 300000, a.keys = 20000;
    } else {
      std::fprintf(stderr, "unknown argument %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

void Check(const Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    std::exit(1);
  }
}

double Seconds(int64_t start_ms) { return static_cast<double>(NowSteadyMs() - start_ms) / 1e3; }

// CPU seconds (user + system) used so far by process `pid` (0: this process).
double CpuSeconds(pid_t pid) {
  const std::string path = pid == 0 ? "/proc/self/stat" : "/proc/" + std::to_string(pid) + "/stat";
  std::ifstream in(path);
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && (fields >> f); ++i) {
    if (i == 14 || i == 15) ticks += std::stod(f);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

pid_t g_server_pid = 0;
double g_server_cpu = 0, g_own_cpu = 0;

void StartPhase() {
  g_server_cpu = CpuSeconds(g_server_pid);
  g_own_cpu = CpuSeconds(0);
}

// One row: messages, wall time, rate, and the CPU seconds nats-server and this process used
// since StartPhase().
void Row(const char* what, uint64_t n, double seconds) {
  std::printf("%-42s %10llu %8.2f %12.0f %10.2f %10.2f\n", what, static_cast<unsigned long long>(n),
              seconds, static_cast<double>(n) / seconds, CpuSeconds(g_server_pid) - g_server_cpu,
              CpuSeconds(0) - g_own_cpu);
  std::fflush(stdout);
}

void Produce(nats::NatsClient& client, const Args& a) {
  nats::StreamSpec spec{"EV", {}, 0};
  for (int p = 0; p < a.subjects; ++p) spec.subjects.push_back("EV." + std::to_string(p));
  auto stream = client.EnsureStream(spec);
  Check(stream.status());
  StartPhase();
  const int64_t start = NowSteadyMs();
  std::vector<std::vector<std::string>> batches(static_cast<size_t>(a.subjects));
  for (uint64_t i = 0; i < a.events; ++i) {
    auto& b = batches[i % static_cast<uint64_t>(a.subjects)];
    b.push_back(std::to_string(examples::KeyOfEvent(i, a.keys)) + "," + std::to_string(i));
    if (b.size() == 8192 || i + 1 == a.events) {
      Check(client.PublishAll(spec.subjects[i % static_cast<uint64_t>(a.subjects)], b, {},
                              NowSteadyMs() + 60000));
      b.clear();
    }
  }
  for (size_t p = 0; p < batches.size(); ++p) {
    if (!batches[p].empty()) {
      Check(client.PublishAll(spec.subjects[p], batches[p], {}, NowSteadyMs() + 60000));
    }
  }
  Row("publish (async, 8192 per batch)", a.events, Seconds(start));
}

// Reads `subjects` to their end (n messages in all), round robin as the source does.
uint64_t ReadSubjects(nats::NatsClient& client, const std::vector<std::string>& subjects,
                      uint64_t n) {
  std::vector<std::unique_ptr<nats::SubjectReader>> readers;
  for (const auto& s : subjects) {
    auto r = nats::SubjectReader::Open(client, "EV", s, 0);
    Check(r.status());
    readers.push_back(std::move(r).value());
  }
  uint64_t got = 0;
  const int64_t deadline = NowSteadyMs() + 120000;
  while (got < n && NowSteadyMs() < deadline) {
    bool any = false;
    for (auto& r : readers) {
      for (int k = 0; k < 64; ++k) {
        auto m = r->Next(0);
        Check(m.status());
        if (!m->has_value()) break;
        ++got;
        any = true;
      }
    }
    if (!any) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return got;
}

void RawConsume(const std::string& url, const Args& a) {
  {
    auto client = nats::NatsClient::Connect(url, "bench");
    Check(client.status());
    StartPhase();
    const int64_t start = NowSteadyMs();
    const uint64_t got = ReadSubjects(**client, {">"}, a.events);
    Row("raw consume: 1 reader, 1 thread", got, Seconds(start));
  }
  std::vector<uint64_t> got(2, 0);
  StartPhase();
  const int64_t start = NowSteadyMs();
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      auto client = nats::NatsClient::Connect(url, "bench");
      Check(client.status());
      std::vector<std::string> mine;
      uint64_t n = 0;
      for (int p = t; p < a.subjects; p += 2) {
        mine.push_back("EV." + std::to_string(p));
        n += a.events / static_cast<uint64_t>(a.subjects) +
             (static_cast<uint64_t>(p) < a.events % static_cast<uint64_t>(a.subjects) ? 1 : 0);
      }
      got[static_cast<size_t>(t)] = ReadSubjects(**client, mine, n);
    });
  }
  for (auto& t : threads) t.join();
  Row("raw consume: splits on 2 threads", got[0] + got[1], Seconds(start));
}

void RunJob(const std::string& url, const Args& a, const std::string& interval, int run) {
  namespace fs = std::filesystem;
  const std::string dir = a.dir + "/job";
  fs::remove_all(dir);
  Configuration config;
  const auto set = [&](std::string_view key, const std::string& value) {
    Check(config.Set(key, value));
  };
  set(config::kParallelism, "2");
  set(config::kLocalDir, dir + "/local");
  set(config::kRestartStrategy, "none");
  if (!interval.empty()) {
    set(config::kInterval, interval);
    set(config::kCheckpointsDir, dir + "/checkpoints");
    set(config::kIncremental, "true");
  }
  auto graph = examples::BuildNatsAggregate(
      {"--server", url, "--input", "EV", "--output", "OUT" + std::to_string(run), "--bounded"});
  Check(graph.status());
  auto job = JobRuntime::Create(std::move(graph).value(), config);
  Check(job.status());
  StartPhase();
  const int64_t start = NowSteadyMs();
  const JobResult result = (*job)->Run();
  const double seconds = Seconds(start);
  Check(result.status);
  const std::string what = interval.empty() ? "job: checkpointing off"
                                            : "job: incremental checkpoints every " + interval;
  Row(what.c_str(), a.events, seconds);
  fs::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = Parse(argc, argv);
  std::filesystem::remove_all(a.dir);
  testing::NatsServer server(a.dir + "/nats-store");
  Check(server.Start());
  std::printf(
      "nats-aggregate over JetStream: %llu events, %llu keys, %d subjects, nats-server %s\n",
      static_cast<unsigned long long>(a.events), static_cast<unsigned long long>(a.keys),
      a.subjects, server.url().c_str());
  std::printf("%-42s %10s %8s %12s %10s %10s\n", "what", "messages", "wall s", "messages/s",
              "server cpu", "weir cpu");
  g_server_pid = server.pid();
  {
    auto client = nats::NatsClient::Connect(server.url(), "bench");
    Check(client.status());
    Produce(**client, a);
  }
  RawConsume(server.url(), a);
  RunJob(server.url(), a, "", 0);
  RunJob(server.url(), a, "1s", 1);
  server.Stop();
  std::filesystem::remove_all(a.dir);
  return 0;
}
