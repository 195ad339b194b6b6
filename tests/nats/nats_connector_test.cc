// The NATS source and sink against a real nats-server (started per test on free ports): source
// positions survive a restore with no gap and no repeat at each split, the bounded end is kept in
// the checkpoint, reading resumes after a server restart, the exactly-once sink publishes a batch
// once however often it is published, and a too short duplicate window is refused.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "common/clock.h"
#include "connectors/nats/nats_client.h"
#include "runtime/operator_state_store.h"
#include "snapshot/restore/operator_state_redistribution.h"
#include "testing/nats_server.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"
#include "weir/nats.h"

namespace weir {
namespace {

class FakeContext final : public OperatorContext {
 public:
  // `restored`: the lists this subtask restores (as the runtime hands them out).
  FakeContext(int subtask, int parallelism, bool checkpointing = true,
              std::optional<std::vector<OperatorStateList>> restored = std::nullopt)
      : subtask_(subtask),
        parallelism_(parallelism),
        checkpointing_(checkpointing),
        store_("op", restored.has_value(), restored.value_or(std::vector<OperatorStateList>{})) {
    EXPECT_TRUE(config_.Set(config::kInterval, "1s").ok());
  }
  const std::string& job_id() const override { return job_; }
  const std::string& operator_uid() const override { return uid_; }
  int subtask() const override { return subtask_; }
  int parallelism() const override { return parallelism_; }
  bool checkpointing_enabled() const override { return checkpointing_; }
  const Configuration& configuration() const override { return config_; }
  KeyedStateBackend* keyed_state() override { return nullptr; }
  TimerService* timers() override { return nullptr; }
  std::string_view current_key() const override { return {}; }
  TaskOperatorStateStore& operator_state() override { return store_; }
  // What a checkpoint stores for this subtask, after the operator's SnapshotState.
  OperatorStateHandle Checkpointed() const {
    return {uid_, subtask_, std::nullopt, store_.Lists()};
  }
  Configuration config_;

 private:
  std::string job_ = "job1";
  std::string uid_ = "op";
  int subtask_;
  int parallelism_;
  bool checkpointing_;
  TaskOperatorStateStore store_;
};

// What each of `parallelism` subtasks restores from `checkpointed` (the runtime's rule).
std::vector<RestoredOperatorState> Redistribute(
    const std::vector<OperatorStateHandle>& checkpointed, int old_parallelism, int parallelism) {
  std::vector<const OperatorStateHandle*> handles;
  for (const auto& h : checkpointed) handles.push_back(&h);
  auto out = RedistributeOperatorState("op", handles, old_parallelism, parallelism);
  EXPECT_TRUE(out.ok()) << out.status().message();
  return out.ok() ? *out : std::vector<RestoredOperatorState>();
}

class Messages final : public Output {
 public:
  void Emit(Record r) override { all.push_back(std::any_cast<NatsMessage>(std::move(r))); }
  std::vector<NatsMessage> all;
};

class NatsConnectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<testing::NatsServer>(tmp_.Sub("store"));
    ASSERT_TRUE(server_->Start().ok());
    auto client = nats::NatsClient::Connect(server_->url(), "test");
    ASSERT_TRUE(client.ok()) << client.status().message();
    client_ = std::move(client).value();
  }

  // Messages "i" for i in [from, to), message i to subject EV.<i mod 3>.
  void Produce(int from, int to) {
    ASSERT_TRUE(client_->EnsureStream({"EV", {"EV.0", "EV.1", "EV.2"}, 0}).ok());
    for (int p = 0; p < 3; ++p) {
      std::vector<std::string> payloads;
      for (int i = from; i < to; ++i) {
        if (i % 3 == p) payloads.push_back(std::to_string(i));
      }
      ASSERT_TRUE(
          client_->PublishAll("EV." + std::to_string(p), payloads, {}, NowSteadyMs() + 10000).ok());
    }
  }

  // Polls until `n` messages came (or the input ended, or 10 s passed).
  static void PollUntil(SourceOperator& source, Messages& out, size_t n, bool* ended = nullptr) {
    const int64_t deadline = NowSteadyMs() + 10000;
    while (out.all.size() < n && NowSteadyMs() < deadline) {
      auto poll = source.Poll(out, std::min<size_t>(64, n - out.all.size()));
      ASSERT_TRUE(poll.ok()) << poll.status().message();
      if (poll->state == SourcePoll::State::kEndOfInput) {
        if (ended != nullptr) *ended = true;
        return;
      }
    }
  }

  std::unique_ptr<SourceOperator> OpenSource(FakeContext& ctx, bool bounded) {
    NatsSourceOptions options;
    options.server = server_->url();
    options.stream = "EV";
    options.bounded = bounded;
    auto source = NatsSource(options).factory();
    Status s = source->Open(ctx, std::nullopt);
    EXPECT_TRUE(s.ok()) << s.message();
    return source;
  }

  testing::TempDir tmp_;
  std::unique_ptr<testing::NatsServer> server_;
  std::unique_ptr<nats::NatsClient> client_;
};

// Every split's sequences, in emission order, per subject.
std::map<std::string, std::vector<uint64_t>> BySubject(const std::vector<NatsMessage>& all) {
  std::map<std::string, std::vector<uint64_t>> out;
  for (const auto& m : all) out[m.subject].push_back(m.sequence);
  return out;
}

TEST_F(NatsConnectorTest, PositionsSurviveRestoreWithoutGapOrRepeat) {
  Produce(0, 3000);
  std::vector<NatsMessage> committed;
  for (int subtask = 0; subtask < 2; ++subtask) {
    FakeContext ctx(subtask, 2);
    auto first = OpenSource(ctx, /*bounded=*/true);
    Messages before;
    PollUntil(*first, before, 400);
    auto state = first->SnapshotState(1);
    ASSERT_TRUE(state.ok());
    Messages lost;  // emitted after the checkpoint: the failure takes them back
    PollUntil(*first, lost, 300);
    EXPECT_EQ(lost.all.size(), 300u);
    first->Close();

    FakeContext restored(subtask, 2, true, ctx.Checkpointed().lists);
    auto second = OpenSource(restored, /*bounded=*/true);
    Messages after;
    bool ended = false;
    PollUntil(*second, after, 10000, &ended);
    EXPECT_TRUE(ended);
    committed.insert(committed.end(), before.all.begin(), before.all.end());
    committed.insert(committed.end(), after.all.begin(), after.all.end());
    // Subtask 0 reads EV.0 and EV.2, subtask 1 EV.1.
    std::set<std::string> subjects;
    for (const auto& m : before.all) subjects.insert(m.subject);
    for (const auto& m : after.all) subjects.insert(m.subject);
    const std::set<std::string> mine =
        subtask == 0 ? std::set<std::string>{"EV.0", "EV.2"} : std::set<std::string>{"EV.1"};
    EXPECT_EQ(subjects, mine);
  }
  // Per subject: exactly the messages published to it, in order.
  std::map<std::string, std::vector<int>> payloads;
  for (const auto& m : committed) payloads[m.subject].push_back(std::stoi(m.payload));
  ASSERT_EQ(payloads.size(), 3u);
  for (int p = 0; p < 3; ++p) {
    const auto& got = payloads["EV." + std::to_string(p)];
    std::vector<int> want;
    for (int i = p; i < 3000; i += 3) want.push_back(i);
    EXPECT_EQ(got, want) << "subject EV." << p;
  }
  for (const auto& [subject, seqs] : BySubject(committed)) {
    EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end())) << subject;
  }
}

// Restored at another parallelism (2 -> 3 -> 1), every subject's position moves to its new
// owner: each message is emitted exactly once over the three runs, in order per subject.
TEST_F(NatsConnectorTest, PositionsMoveToNewSubtasksWhenRescaled) {
  Produce(0, 3000);
  std::vector<NatsMessage> committed;
  std::vector<OperatorStateHandle> checkpoint;
  int old_parallelism = 0;
  for (const int parallelism : {2, 3, 1}) {
    std::vector<RestoredOperatorState> restored;
    if (old_parallelism > 0) restored = Redistribute(checkpoint, old_parallelism, parallelism);
    std::vector<OperatorStateHandle> next;
    for (int subtask = 0; subtask < parallelism; ++subtask) {
      std::optional<std::vector<OperatorStateList>> lists;
      if (old_parallelism > 0) lists = restored[static_cast<size_t>(subtask)].lists;
      FakeContext ctx(subtask, parallelism, true, lists);
      auto source = OpenSource(ctx, /*bounded=*/true);
      Messages before;
      bool ended = false;
      // The last run reads to the end; the others stop after a checkpoint.
      PollUntil(*source, before, parallelism == 1 ? 100000 : 300, &ended);
      ASSERT_TRUE(source->SnapshotState(1).ok());
      next.push_back(ctx.Checkpointed());
      Messages lost;  // after the checkpoint: taken back by the failure
      if (parallelism != 1) PollUntil(*source, lost, 50);
      source->Close();
      committed.insert(committed.end(), before.all.begin(), before.all.end());
    }
    checkpoint = std::move(next);
    old_parallelism = parallelism;
  }
  std::map<std::string, std::vector<int>> payloads;
  for (const auto& m : committed) payloads[m.subject].push_back(std::stoi(m.payload));
  for (int p = 0; p < 3; ++p) {
    std::vector<int> want;
    for (int i = p; i < 3000; i += 3) want.push_back(i);
    EXPECT_EQ(payloads["EV." + std::to_string(p)], want) << "subject EV." << p;
  }
}

TEST_F(NatsConnectorTest, BoundedEndIsKeptInTheCheckpoint) {
  Produce(0, 300);
  FakeContext ctx(0, 1);
  auto first = OpenSource(ctx, /*bounded=*/true);
  Messages before;
  PollUntil(*first, before, 100);
  auto state = first->SnapshotState(1);
  ASSERT_TRUE(state.ok());
  first->Close();
  Produce(300, 600);  // after the job first started: beyond its end
  FakeContext restored(0, 1, true, ctx.Checkpointed().lists);
  auto second = OpenSource(restored, /*bounded=*/true);
  Messages after;
  bool ended = false;
  PollUntil(*second, after, 10000, &ended);
  EXPECT_TRUE(ended);
  EXPECT_EQ(before.all.size() + after.all.size(), 300u);
  // A job started now reads all 600.
  FakeContext fresh_ctx(0, 1);
  auto fresh = OpenSource(fresh_ctx, /*bounded=*/true);
  Messages all;
  PollUntil(*fresh, all, 10000, &ended);
  EXPECT_EQ(all.all.size(), 600u);
}

TEST_F(NatsConnectorTest, ReadingResumesAfterAServerRestart) {
  Produce(0, 1500);
  FakeContext ctx(0, 1);
  auto source = OpenSource(ctx, /*bounded=*/false);
  Messages out;
  PollUntil(*source, out, 500);
  server_->Kill();
  ASSERT_TRUE(server_->Start().ok());
  auto client = nats::NatsClient::Connect(server_->url(), "test");
  ASSERT_TRUE(client.ok());
  client_ = std::move(client).value();
  Produce(1500, 3000);
  PollUntil(*source, out, 3000);
  ASSERT_EQ(out.all.size(), 3000u);
  std::map<std::string, std::vector<int>> payloads;
  for (const auto& m : out.all) payloads[m.subject].push_back(std::stoi(m.payload));
  for (int p = 0; p < 3; ++p) {
    std::vector<int> want;
    for (int i = p; i < 3000; i += 3) want.push_back(i);
    EXPECT_EQ(payloads["EV." + std::to_string(p)], want) << "subject EV." << p;
  }
}

TEST_F(NatsConnectorTest, SubjectFilterChoosesSplits) {
  Produce(0, 30);
  FakeContext ctx(0, 1);
  NatsSourceOptions options;
  options.server = server_->url();
  options.stream = "EV";
  options.subject_filter = "EV.1";
  options.bounded = true;
  auto source = NatsSource(options).factory();
  ASSERT_TRUE(source->Open(ctx, std::nullopt).ok());
  Messages out;
  bool ended = false;
  PollUntil(*source, out, 100, &ended);
  EXPECT_TRUE(ended);
  ASSERT_EQ(out.all.size(), 10u);
  for (const auto& m : out.all) EXPECT_EQ(m.subject, "EV.1");

  options.subject_filter = "OTHER.>";
  auto wrong = NatsSource(options).factory();
  Status s = wrong->Open(ctx, std::nullopt);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("OTHER.>"), std::string::npos) << s.message();
}

uint64_t MessagesIn(nats::NatsClient& client, const std::string& stream) {
  auto view = client.GetStream(stream);
  return view.ok() ? view->messages : 0;
}

TEST_F(NatsConnectorTest, ExactlyOnceSinkPublishesABatchOnceAfterItsCheckpointCompletes) {
  FakeContext ctx(0, 1);
  NatsSinkOptions options;
  options.server = server_->url();
  options.stream = "OUT";
  auto sink = NatsSink(options).factory();
  Messages unused;
  ASSERT_TRUE(sink->Open(ctx, std::nullopt, unused).ok());
  const auto record = [](int i) { return "record-" + std::string(20, 'x') + std::to_string(i); };
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(sink->ProcessRecord(record(i)).ok());
  ASSERT_TRUE(sink->SnapshotState(1).ok());
  const OperatorStateHandle state = ctx.Checkpointed();
  EXPECT_GT(state.Bytes(), 100 * 30u);         // the batch is in the checkpoint
  EXPECT_EQ(MessagesIn(*client_, "OUT"), 0u);  // nothing before the checkpoint completes
  for (int i = 100; i < 150; ++i) ASSERT_TRUE(sink->ProcessRecord(std::string("y")).ok());
  ASSERT_TRUE(sink->NotifyCheckpointComplete(1).ok());
  // Published by the sink's publisher thread; once confirmed, later checkpoints no longer hold
  // the batch, only the 50 records after checkpoint 1.
  EXPECT_TRUE(testing::WaitFor([&] { return MessagesIn(*client_, "OUT") == 100; }));
  uint64_t id = 2;
  EXPECT_TRUE(testing::WaitFor([&] {
    auto next = sink->SnapshotState(id++);
    return next.ok() && ctx.Checkpointed().Bytes() < 50 * 3 + 200;
  }));
  sink->Close();
  // A failure after the publication: the restored sink publishes checkpoint 1's batch again;
  // the stream drops every copy. Records 100..149 were never checkpointed: not published.
  for (int restore = 0; restore < 2; ++restore) {
    auto again = NatsSink(options).factory();
    FakeContext restored(0, 1, true, state.lists);
    ASSERT_TRUE(again->Open(restored, std::nullopt, unused).ok());
    again->Close();
  }
  EXPECT_EQ(MessagesIn(*client_, "OUT"), 100u);
}

// The pending batches of two subtasks, restored at parallelism 1 (and again, as after a second
// failure): every batch is published once, under the ids it was closed with.
TEST_F(NatsConnectorTest, ExactlyOnceSinkBatchesArePublishedOnceWhenRescaled) {
  NatsSinkOptions options;
  options.server = server_->url();
  options.stream = "OUT";
  Messages unused;
  std::vector<OperatorStateHandle> checkpoint;
  for (int subtask = 0; subtask < 2; ++subtask) {
    FakeContext ctx(subtask, 2);
    auto sink = NatsSink(options).factory();
    ASSERT_TRUE(sink->Open(ctx, std::nullopt, unused).ok());
    for (int i = 0; i < 40; ++i) {
      ASSERT_TRUE(sink->ProcessRecord(std::to_string(subtask) + "-" + std::to_string(i)).ok());
    }
    ASSERT_TRUE(sink->SnapshotState(1).ok());
    for (int i = 40; i < 60; ++i) ASSERT_TRUE(sink->ProcessRecord(std::string("late")).ok());
    ASSERT_TRUE(sink->SnapshotState(2).ok());
    checkpoint.push_back(ctx.Checkpointed());
    sink->Close();  // fails before checkpoint 2 completes: nothing was published
  }
  EXPECT_EQ(MessagesIn(*client_, "OUT"), 0u);
  // Checkpoint 2 completed; the job restores it at parallelism 1, twice.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto restored = Redistribute(checkpoint, 2, 1);
    ASSERT_EQ(restored.size(), 1u);
    FakeContext ctx(0, 1, true, restored[0].lists);
    auto sink = NatsSink(options).factory();
    ASSERT_TRUE(sink->Open(ctx, std::nullopt, unused).ok());
    sink->Close();
  }
  EXPECT_EQ(MessagesIn(*client_, "OUT"), 120u);
  // Restored at parallelism 3, the four batches go to three subtasks: still published once.
  auto restored = Redistribute(checkpoint, 2, 3);
  size_t batches = 0;
  for (int subtask = 0; subtask < 3; ++subtask) {
    batches += restored[static_cast<size_t>(subtask)].lists.at(0).entries.size();
    FakeContext ctx(subtask, 3, true, restored[static_cast<size_t>(subtask)].lists);
    auto sink = NatsSink(options).factory();
    ASSERT_TRUE(sink->Open(ctx, std::nullopt, unused).ok());
    sink->Close();
  }
  EXPECT_EQ(batches, 4u);
  EXPECT_EQ(MessagesIn(*client_, "OUT"), 120u);
}

TEST_F(NatsConnectorTest, ExactlyOnceSinkRefusesAShortDuplicateWindow) {
  ASSERT_TRUE(client_->EnsureStream({"SHORT", {"SHORT"}, 1000}).ok());
  FakeContext ctx(0, 1);
  NatsSinkOptions options;
  options.server = server_->url();
  options.stream = "SHORT";
  auto sink = NatsSink(options).factory();
  Messages unused;
  Status s = sink->Open(ctx, std::nullopt, unused);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("SHORT"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("duplicate window"), std::string::npos) << s.message();
  // At-least-once needs no window.
  options.delivery = NatsDelivery::kAtLeastOnce;
  auto plain = NatsSink(options).factory();
  EXPECT_TRUE(plain->Open(ctx, std::nullopt, unused).ok());
  plain->Close();
}

TEST_F(NatsConnectorTest, UnreachableServerIsOneClearError) {
  server_->Kill();
  FakeContext ctx(0, 1);
  NatsSourceOptions options;
  options.server = server_->url();
  options.stream = "EV";
  auto source = NatsSource(options).factory();
  Status s = source->Open(ctx, std::nullopt);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(server_->url()), std::string::npos) << s.message();
}

class Strings final : public Output {
 public:
  void Emit(Record r) override { all.push_back(std::any_cast<std::string>(std::move(r))); }
  std::vector<std::string> all;
};

// A repartition of two shards named "groups" (stream job1-groups): record "i" goes to shard
// i mod 2.
NatsRepartitionOptions Repartition(const std::string& server, int shard) {
  NatsRepartitionOptions r;
  r.server = server;
  r.name = "groups";
  r.shard = shard;
  r.shards = 2;
  return r;
}
int ShardOfNumber(const std::string& record) { return std::stoi(record) % 2; }

// Writes records [from, to) as shard `shard`'s writer: one checkpoint, completed; then, if
// `end`, its end of input and the final checkpoint. Returns once all is published.
void WriteAsShard(nats::NatsClient& client, const std::string& server, int shard, int from, int to,
                  bool end) {
  const uint64_t before = MessagesIn(client, "job1-groups");
  FakeContext ctx(0, 1);
  auto sink = NatsRepartitionSink(Repartition(server, shard), ShardOfNumber).factory();
  Messages unused;
  ASSERT_TRUE(sink->Open(ctx, std::nullopt, unused).ok());
  for (int i = from; i < to; ++i) ASSERT_TRUE(sink->ProcessRecord(std::to_string(i)).ok());
  ASSERT_TRUE(sink->SnapshotState(1).ok());
  ASSERT_TRUE(sink->NotifyCheckpointComplete(1).ok());
  if (end) {
    ASSERT_TRUE(sink->Finish().ok());
    ASSERT_TRUE(sink->SnapshotState(2).ok());
    ASSERT_TRUE(sink->NotifyCheckpointComplete(2).ok());  // the final one: waits for the publish
  }
  const uint64_t published = static_cast<uint64_t>(to - from) + (end ? 2 : 0);  // + a marker each
  EXPECT_TRUE(
      testing::WaitFor([&] { return MessagesIn(client, "job1-groups") >= before + published; }));
  sink->Close();
}

// Polls `source` until nothing more comes for a moment or its input ended.
bool Drain(SourceOperator& source, Strings& out) {
  int idle = 0;
  while (idle < 50) {
    auto poll = source.Poll(out, 64);
    EXPECT_TRUE(poll.ok()) << poll.status().message();
    if (!poll.ok()) return false;
    if (poll->state == SourcePoll::State::kEndOfInput) return true;
    if (poll->state == SourcePoll::State::kMoreAvailable) {
      idle = 0;
    } else {
      ++idle;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  return false;
}

TEST_F(NatsConnectorTest, RepartitionedRecordsReachTheirShardOnceAndItsReaderEndsAfterEveryWriter) {
  FakeContext reader_ctx(0, 1);
  auto reader = NatsRepartitionSource(Repartition(server_->url(), 0)).factory();
  ASSERT_TRUE(reader->Open(reader_ctx, std::nullopt).ok());  // before any writer: creates it
  WriteAsShard(*client_, server_->url(), 0, 0, 100, /*end=*/true);
  Strings got;
  EXPECT_FALSE(Drain(*reader, got));  // shard 1's writer has not ended
  EXPECT_EQ(got.all.size(), 50u);
  // A checkpoint of the reader; a second run of shard 0's writer after its end (a restore of
  // its final checkpoint) sends its markers again: they count once.
  ASSERT_TRUE(reader->SnapshotState(1).ok());
  const OperatorStateHandle checkpoint = reader_ctx.Checkpointed();
  WriteAsShard(*client_, server_->url(), 0, 0, 0, /*end=*/true);
  WriteAsShard(*client_, server_->url(), 1, 100, 200, /*end=*/false);
  EXPECT_FALSE(Drain(*reader, got));
  EXPECT_EQ(got.all.size(), 100u);
  got.all.resize(50);  // read after the checkpoint: a failure takes them back
  reader->Close();
  // Restored from its checkpoint (at another parallelism: one entry, any subtask can take it),
  // the reader goes on after what it had read, and ends with shard 1's end marker.
  FakeContext restored_ctx(0, 2, true, checkpoint.lists);
  auto restored = NatsRepartitionSource(Repartition(server_->url(), 0)).factory();
  ASSERT_TRUE(restored->Open(restored_ctx, std::nullopt).ok());
  Strings after;
  EXPECT_FALSE(Drain(*restored, after));
  WriteAsShard(*client_, server_->url(), 1, 200, 200, /*end=*/true);
  EXPECT_TRUE(Drain(*restored, after));
  std::vector<std::string> all = got.all;
  all.insert(all.end(), after.all.begin(), after.all.end());
  std::multiset<int> numbers;
  for (const auto& r : all) numbers.insert(std::stoi(r));
  EXPECT_EQ(numbers.size(), 100u);  // the even numbers of 0..199, each once
  for (int i = 0; i < 200; i += 2) EXPECT_EQ(numbers.count(i), 1u) << i;
  // Shard 1's reader got the odd ones, and ends too; a second subtask of a reader ends at once.
  FakeContext one(0, 1), other(1, 2);
  auto shard1 = NatsRepartitionSource(Repartition(server_->url(), 1)).factory();
  auto idle = NatsRepartitionSource(Repartition(server_->url(), 1)).factory();
  ASSERT_TRUE(shard1->Open(one, std::nullopt).ok());
  ASSERT_TRUE(idle->Open(other, std::nullopt).ok());
  Strings odd, none;
  EXPECT_TRUE(Drain(*shard1, odd));
  EXPECT_EQ(odd.all.size(), 100u);
  EXPECT_TRUE(Drain(*idle, none));
  EXPECT_TRUE(none.all.empty());
}

TEST_F(NatsConnectorTest, RepartitionRefusesForeignMessagesAndRecordsOfNoShard) {
  // A record that maps to no shard: one error naming the record.
  FakeContext ctx(0, 1);
  auto sink = NatsRepartitionSink(Repartition(server_->url(), 0), [](const std::string&) {
                return 2;
              }).factory();
  Messages unused;
  ASSERT_TRUE(sink->Open(ctx, std::nullopt, unused).ok());
  Status s = sink->ProcessRecord(std::string("k7"));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'k7' maps to shard 2, not one of 0..1"), std::string::npos)
      << s.message();
  sink->Close();
  // A message the stream got from elsewhere, and a marker of a shard the job does not have: the
  // reader fails with one error naming the message and the subject.
  const std::vector<std::pair<std::string, std::string>> cases = {{"groups", "garbage"},
                                                                  {"others", "E5/0/1"}};
  for (const auto& [name, payload] : cases) {
    NatsRepartitionOptions r = Repartition(server_->url(), 1);
    r.name = name;
    FakeContext reader_ctx(0, 1);
    auto reader = NatsRepartitionSource(r).factory();
    ASSERT_TRUE(reader->Open(reader_ctx, std::nullopt).ok());
    const std::string subject = "job1-" + name + ".1";
    ASSERT_TRUE(client_->PublishAll(subject, {payload}, {}, NowSteadyMs() + 10000).ok());
    Strings out;
    Result<SourcePoll> poll = SourcePoll{};
    for (int i = 0; i < 400 && poll.ok(); ++i) {
      poll = reader->Poll(out, 64);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_FALSE(poll.ok()) << payload;
    EXPECT_EQ(poll.status().code(), StatusCode::kCorruption);
    EXPECT_NE(poll.status().message().find("message 1 of " + subject), std::string::npos)
        << poll.status().message();
    reader->Close();
  }
}

TEST(SubjectCoversTest, Wildcards) {
  EXPECT_TRUE(nats::SubjectCovers("a.b", "a.b"));
  EXPECT_FALSE(nats::SubjectCovers("a.b", "a.c"));
  EXPECT_TRUE(nats::SubjectCovers("a.*", "a.b"));
  EXPECT_FALSE(nats::SubjectCovers("a.*", "a.b.c"));
  EXPECT_TRUE(nats::SubjectCovers("a.>", "a.b.c"));
  EXPECT_FALSE(nats::SubjectCovers("a.>", "a"));
  EXPECT_TRUE(nats::SubjectCovers(">", "a"));
  EXPECT_FALSE(nats::SubjectCovers("a.b", "a.*"));
  EXPECT_TRUE(nats::SubjectCovers("a.*", "a.*"));
}

}  // namespace
}  // namespace weir
