#include "cli/nats_command.h"

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/fail.h"
#include "common/clock.h"
#include "connectors/nats/nats_client.h"
#include "shard_of.h"
#include "splitmix64.h"

namespace weir::cli {
namespace {

constexpr size_t kProduceBatch = 8192;
constexpr int64_t kPublishTimeoutMs = 60000;

struct ProduceArgs {
  std::string server = "nats://127.0.0.1:4222";
  std::string stream;
  int subjects = 1;
  int shards = 0;  // > 0: subjects S.0 .. S.<shards-1>, each event on its key's shard
  uint64_t keys = 10000;
  uint64_t events = 1000000;
};

int RunProduce(const ProduceArgs& a) {
  const std::string who = "nats produce";
  if (a.shards > 0 && a.subjects > 1) {
    return Fail("", Status::InvalidArgument(who + ": --shards and --subjects exclude each other"));
  }
  const int subjects = a.shards > 0 ? a.shards : a.subjects;
  auto client = nats::NatsClient::Connect(a.server, who);
  if (!client.ok()) return Fail("", client.status());
  nats::StreamSpec spec{a.stream, {}, 0};
  for (int p = 0; p < subjects; ++p) spec.subjects.push_back(a.stream + "." + std::to_string(p));
  auto stream = (*client)->EnsureStream(spec);
  if (!stream.ok()) return Fail("", stream.status());
  for (const auto& s : spec.subjects) {
    if (std::find(stream->subjects.begin(), stream->subjects.end(), s) == stream->subjects.end()) {
      return Fail(
          "", Status::InvalidArgument(who + ": stream " + a.stream + " exists without subject " +
                                      s + "; use another stream name"));
    }
  }
  // Per subject, one batch at a time; ids "<stream>-<i>" let a repeated run within the stream's
  // duplicate window add nothing.
  const int64_t start = NowSteadyMs();
  std::vector<std::vector<std::string>> payloads(static_cast<size_t>(subjects));
  std::vector<std::vector<std::string>> ids(static_cast<size_t>(subjects));
  auto flush = [&](size_t p) -> Status {
    if (payloads[p].empty()) return Status::OK();
    Status s = (*client)->PublishAll(spec.subjects[p], payloads[p], ids[p],
                                     NowSteadyMs() + kPublishTimeoutMs);
    payloads[p].clear();
    ids[p].clear();
    return s;
  };
  for (uint64_t i = 0; i < a.events; ++i) {
    const uint64_t key = examples::KeyOfEvent(i, a.keys);
    const size_t p = a.shards > 0 ? static_cast<size_t>(examples::ShardOfKey(key, a.shards))
                                  : static_cast<size_t>(i % static_cast<uint64_t>(subjects));
    payloads[p].push_back(std::to_string(key) + "," + std::to_string(i));
    ids[p].push_back(a.stream + "-" + std::to_string(i));
    if (payloads[p].size() >= kProduceBatch) {
      if (Status s = flush(p); !s.ok()) return Fail("", s);
    }
  }
  for (size_t p = 0; p < payloads.size(); ++p) {
    if (Status s = flush(p); !s.ok()) return Fail("", s);
  }
  const double secs = static_cast<double>(NowSteadyMs() - start) / 1000.0;
  std::cerr << "published " << a.events << " events to " << a.stream << " (" << subjects
            << (a.shards > 0 ? " shards" : " subjects") << ") in " << secs << " s\n";
  return 0;
}

struct DumpArgs {
  std::string server = "nats://127.0.0.1:4222";
  std::string stream;
  bool subjects = false;
  bool headers = false;
};

// One line of `nats dump`: [subject TAB] [headers TAB] payload.
void AppendDumpLine(const DumpArgs& a, const nats::StreamMessage& m, std::string* out) {
  if (a.subjects) out->append(m.subject).push_back('\t');
  if (a.headers) {
    std::string h;
    for (const auto& [name, value] : m.headers) {
      h += (h.empty() ? "" : " ") + name + ":" + value;
    }
    out->append(h.empty() ? "-" : h).push_back('\t');
  }
  out->append(m.payload).push_back('\n');
}

int RunDump(const DumpArgs& a) {
  const std::string& server = a.server;
  const std::string& stream_name = a.stream;
  const std::string who = "nats dump";
  auto client = nats::NatsClient::Connect(server, who);
  if (!client.ok()) return Fail("", client.status());
  auto stream = (*client)->GetStream(stream_name);
  if (!stream.ok()) return Fail("", stream.status());
  if (stream->last_sequence == 0 || stream->messages == 0) return 0;
  auto reader = nats::SubjectReader::Open(**client, stream_name, ">", 0);
  if (!reader.ok()) return Fail("", reader.status());
  (*reader)->ReadHeaders(a.headers);
  std::string out;
  while (true) {
    auto m = (*reader)->Next(10000);
    if (!m.ok()) return Fail("", m.status());
    if (!m->has_value()) {
      return Fail(
          "", Status::IOError(who + ": stream " + stream_name + " sent nothing for 10 s " +
                              "before reaching sequence " + std::to_string(stream->last_sequence)));
    }
    AppendDumpLine(a, **m, &out);
    if (out.size() >= (1 << 16)) {
      std::cout << out;
      out.clear();
    }
    if ((*m)->sequence >= stream->last_sequence) break;
  }
  std::cout << out << std::flush;
  return 0;
}

}  // namespace

void AddNatsCommand(CLI::App& app, int& exit_code) {
  auto* nats =
      app.add_subcommand("nats", "Produce the example events to, or dump, a JetStream stream");
  nats->require_subcommand(1);

  auto* produce = nats->add_subcommand(
      "produce", "Publish keyed-aggregate's events i = 0..M-1 to stream S, event i to S.<i mod P>");
  auto p = std::make_shared<ProduceArgs>();
  produce->add_option("--server", p->server, "NATS server URL")->capture_default_str();
  produce->add_option("--stream", p->stream, "Stream name (created if missing)")->required();
  produce->add_option("--subjects", p->subjects, "Subjects S.0 .. S.<P-1> (P)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  produce
      ->add_option("--shards", p->shards,
                   "Subjects S.0 .. S.<N-1>, each event on the shard of its key (weir worker)")
      ->check(CLI::Range(1, 128));
  produce->add_option("--keys", p->keys, "Distinct keys (N)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  produce->add_option("--events", p->events, "Events to publish (M)")->capture_default_str();
  produce->callback([&exit_code, p] { exit_code = RunProduce(*p); });

  auto* dump = nats->add_subcommand("dump",
                                    "Print every message of a stream in order, one line each: "
                                    "[subject TAB] [headers TAB] payload");
  auto d = std::make_shared<DumpArgs>();
  dump->add_option("--server", d->server, "NATS server URL")->capture_default_str();
  dump->add_option("--stream", d->stream, "Stream name")->required();
  dump->add_flag("--subjects", d->subjects, "Start each line with the message's subject");
  dump->add_flag("--headers", d->headers,
                 "Then its headers as 'Name:value' separated by spaces ('-' if none), e.g. the "
                 "message id Nats-Msg-Id the exactly-once sink deduplicates with");
  dump->callback([&exit_code, d] { exit_code = RunDump(*d); });
}

}  // namespace weir::cli
