#include "state/changelog/changelog_writer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <set>
#include <string>
#include <thread>

#include "common/checksum.h"
#include "testing/fault_injecting_file_system.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

using namespace std::chrono_literals;

class ChangelogWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = std::make_shared<testing::FaultInjectingFileSystem>(NewPosixFileSystem());
    storage_ = std::make_unique<CheckpointStorage>(fs_, dir_.path() + "/job");
    ASSERT_TRUE(storage_->Initialize().ok());
  }
  std::shared_ptr<ChangelogWriter> Start(
      std::chrono::milliseconds delay = 10ms, uint64_t threshold = uint64_t{10} << 20,
      ChangelogCompression compression = ChangelogCompression::kNone) {
    ChangelogWriterOptions options;
    options.persist_delay = delay;
    options.persist_size_threshold = threshold;
    options.compression = compression;
    options.retry.initial_backoff_ms = 1;
    return ChangelogWriter::Start(*storage_, options);
  }
  static void Put(StateChangelog& log, const std::string& key, const std::string& value) {
    log.Append(StateChangeOp::kPut, log.StateId("count"), 7, key, "", "", value);
  }
  // The records of `segments`, read back from storage, as "key=value" (after checking each
  // file's size and checksum against its handle).
  std::vector<std::string> ReadBack(const std::vector<ChangelogSegment>& segments) {
    std::vector<std::string> out;
    for (const auto& s : segments) {
      auto path = storage_->ResolveRelative(s.file.path);
      EXPECT_TRUE(path.ok());
      auto bytes = fs_->ReadFileToString(*path);
      EXPECT_TRUE(bytes.ok());
      EXPECT_EQ(bytes->size(), s.file.size);
      EXPECT_EQ(Hash64(*bytes), s.file.checksum);
      std::string_view chunk = std::string_view(*bytes).substr(s.offset, s.length);
      auto decoded = DecodeChangelogChunk(&chunk);
      EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
      EXPECT_TRUE(chunk.empty());
      EXPECT_EQ(decoded->first_sequence, s.first_sequence);
      EXPECT_EQ(decoded->last_sequence(), s.last_sequence);
      EXPECT_TRUE(ForEachStateChange(*decoded, [&](const StateChange& c) {
                    out.push_back(std::string(c.key) + "=" + std::string(c.value));
                    return Status::OK();
                  }).ok());
    }
    return out;
  }

  // The log files in the storage, by name.
  std::set<std::string> LogFiles() {
    std::set<std::string> names;
    auto entries = fs_->ListDir(storage_->ChangelogFilesDir());
    EXPECT_TRUE(entries.ok());
    for (const auto& e : *entries) {
      if (e.name.rfind("changelog-", 0) == 0) names.insert(e.name);
    }
    return names;
  }
  // Waits up to 5 s for the log files to be `expected` (the writer's threads delete them).
  void ExpectLogFiles(const std::set<std::string>& expected) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (LogFiles() != expected && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    EXPECT_EQ(LogFiles(), expected);
  }
  // Persists a change of each log, which go to one file (the persist delay is 50 ms), and
  // returns its name.
  std::string PersistRound(StateChangelog& a, StateChangelog& b, const std::string& tag) {
    const std::set<std::string> before = LogFiles();
    Put(a, "a" + tag, "1");
    Put(b, "b" + tag, "2");
    auto da = a.Persist(a.last_sequence());
    auto db = b.Persist(b.last_sequence());
    EXPECT_TRUE(da.get().ok());
    EXPECT_TRUE(db.get().ok());
    std::set<std::string> added;
    for (const auto& name : LogFiles()) {
      if (before.count(name) == 0) added.insert(name);
    }
    EXPECT_EQ(added.size(), 1u) << tag;
    return added.empty() ? "" : *added.begin();
  }

  testing::TempDir dir_;
  std::shared_ptr<testing::FaultInjectingFileSystem> fs_;
  std::unique_ptr<CheckpointStorage> storage_;
};

TEST_F(ChangelogWriterTest, BackendsPersistingTogetherShareOneFile) {
  auto writer = Start(50ms);
  auto a = writer->Register("agg_0");
  auto b = writer->Register("agg_1");
  Put(*a, "a1", "1");
  Put(*a, "a2", "2");
  Put(*b, "b1", "3");
  auto da = a->Persist(a->last_sequence());
  auto db = b->Persist(b->last_sequence());
  ASSERT_TRUE(da.get().ok());
  ASSERT_TRUE(db.get().ok());
  EXPECT_EQ(writer->files_written(), 1u);
  auto sa = a->Segments(0, 2);
  auto sb = b->Segments(0, 1);
  ASSERT_TRUE(sa.ok() && sb.ok());
  ASSERT_EQ(sa->size(), 1u);
  ASSERT_EQ(sb->size(), 1u);
  EXPECT_EQ((*sa)[0].file, (*sb)[0].file);
  EXPECT_EQ((*sa)[0].file.path.rfind("shared/changelog-", 0), 0u) << (*sa)[0].file.path;
  EXPECT_EQ(ReadBack(*sa), (std::vector<std::string>{"a1=1", "a2=2"}));
  EXPECT_EQ(ReadBack(*sb), (std::vector<std::string>{"b1=3"}));
  // Persisting what is already durable costs nothing.
  EXPECT_TRUE(a->Persist(2).get().ok());
  EXPECT_EQ(writer->files_written(), 1u);
}

// A file a checkpoint may reference (a segment of it went out through Segments()) stays, for
// the registry to delete; a file that no log needs any more and no checkpoint took is deleted by
// the writer, whether its logs truncated it (a materialization holds its changes) or closed (the
// last batches of a cancelled job).
TEST_F(ChangelogWriterTest, AFileNoCheckpointTookIsDeletedOnceNoLogNeedsIt) {
  auto writer = Start(50ms);
  auto a = writer->Register("agg_0");
  auto b = writer->Register("agg_1");
  const std::string taken_by_a = PersistRound(*a, *b, "1");  // sequences 1 of each
  ASSERT_TRUE(a->Segments(0, 1).ok());                       // a checkpoint takes a's chunk
  const std::string taken_by_none = PersistRound(*a, *b, "2");
  const std::string taken_by_b = PersistRound(*a, *b, "3");
  ASSERT_TRUE(b->Segments(2, 3).ok());
  const std::string closed_untaken = PersistRound(*a, *b, "4");
  ExpectLogFiles({taken_by_a, taken_by_none, taken_by_b, closed_untaken});

  // Truncated by one log only: the other still needs every file.
  a->Truncate(3);
  ExpectLogFiles({taken_by_a, taken_by_none, taken_by_b, closed_untaken});
  // Truncated by both: the file nobody took goes, those a checkpoint took stay.
  b->Truncate(3);
  ExpectLogFiles({taken_by_a, taken_by_b, closed_untaken});
  // Closing the logs: their last file, which no checkpoint took, goes with them.
  a.reset();
  ExpectLogFiles({taken_by_a, taken_by_b, closed_untaken});
  b.reset();
  ExpectLogFiles({taken_by_a, taken_by_b});
}

TEST_F(ChangelogWriterTest, SegmentsAfterASequenceAndTruncation) {
  auto writer = Start(0ms);
  auto log = writer->Register("agg_0");
  for (int batch = 0; batch < 3; ++batch) {
    for (int i = 0; i < 4; ++i) Put(*log, "k" + std::to_string(batch * 4 + i), "v");
    ASSERT_TRUE(log->Persist(log->last_sequence()).get().ok());
  }
  EXPECT_EQ(log->persisted_sequence(), 12u);
  auto all = log->Segments(0, 12);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
  // After 6: the segment holding 5..8 (replay skips what it already has) and 9..12.
  auto tail = log->Segments(6, 12);
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->size(), 2u);
  EXPECT_EQ((*tail)[0].first_sequence, 5u);
  EXPECT_EQ((*tail)[1].last_sequence, 12u);
  EXPECT_TRUE(log->Segments(12, 12)->empty());
  // Changes not persisted are refused, not silently left out.
  Put(*log, "k13", "v");
  EXPECT_FALSE(log->Segments(6, 13).ok());
  // Truncation forgets whole segments only.
  log->Truncate(6);
  ASSERT_TRUE(log->Segments(6, 12).ok());
  EXPECT_FALSE(log->Segments(0, 12).ok()) << "1..4 were truncated";
}

TEST_F(ChangelogWriterTest, ChangesPastTheSizeThresholdArePersistedUnasked) {
  auto writer = Start(10s, 64 << 10);
  auto log = writer->Register("agg_0");
  for (int i = 0; i < 2000; ++i) Put(*log, "key" + std::to_string(i), std::string(100, 'x'));
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (log->persisted_sequence() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_GT(log->persisted_sequence(), 0u);
  EXPECT_GE(writer->files_written(), 1u);
}

// The owner hands its changes over in steps (a sixteenth of the size threshold here: 4 KiB);
// one larger than a step goes over on its own. Every size keeps its place in the log.
// With and without lz4 (the records of several blocks made one piece for it).
TEST_F(ChangelogWriterTest, ChangesOfEverySizeKeepTheirOrder) {
  for (auto compression : {ChangelogCompression::kNone, ChangelogCompression::kLz4}) {
    auto writer = Start(10s, 64 << 10, compression);
    auto log = writer->Register("agg_0");
    std::vector<std::string> expected;
    for (int i = 0; i < 300; ++i) {
      const size_t size = i % 50 == 7 ? 5000 : i % 50 == 8 ? 70000 : static_cast<size_t>(i % 13);
      const std::string value(size, static_cast<char>('a' + i % 26));
      Put(*log, "k" + std::to_string(i), value);
      expected.push_back("k" + std::to_string(i) + "=" + value);
    }
    ASSERT_TRUE(log->Persist(300).get().ok());
    auto segments = log->Segments(0, 300);
    ASSERT_TRUE(segments.ok()) << segments.status().ToString();
    EXPECT_EQ(ReadBack(*segments), expected);
    if (compression == ChangelogCompression::kLz4) {
      EXPECT_LT(writer->bytes_written(), 200000u) << "repeated letters compress";
    } else {
      EXPECT_GT(writer->bytes_written(), 400000u);
    }
  }
}

// Blocks go to the writer and come back to be filled again, batch after batch (by size and
// by request): every change is read back once, in order, whatever block it was encoded in, with
// its key (three changes a key: most carry it once, a block's first one in full).
TEST_F(ChangelogWriterTest, BlocksFilledAgainKeepEveryChangeInOrder) {
  auto writer = Start(1ms, 256 << 10);
  auto log = writer->Register("agg_0");
  std::vector<std::string> expected;
  for (int i = 1; i <= 30000; ++i) {
    const std::string value(static_cast<size_t>(i % 97), static_cast<char>('a' + i % 26));
    Put(*log, "k" + std::to_string(i / 3), value);
    expected.push_back("k" + std::to_string(i / 3) + "=" + value);
    if (i % 1000 == 0) {
      ASSERT_TRUE(log->Persist(static_cast<uint64_t>(i)).get().ok());
    }
  }
  ASSERT_TRUE(log->Persist(30000).get().ok());
  EXPECT_GT(writer->files_written(), 5u);  // by size as well as by request
  auto segments = log->Segments(0, 30000);
  ASSERT_TRUE(segments.ok()) << segments.status().ToString();
  EXPECT_EQ(ReadBack(*segments), expected);
}

// The blocks the logs keep for reuse stay within max_in_flight for the whole process, however
// many logs there are and however much each once had in flight; closing a log gives its back.
TEST_F(ChangelogWriterTest, KeptBlocksStayWithinTheInFlightLimit) {
  ChangelogWriterOptions options;
  options.persist_delay = 1ms;
  options.persist_size_threshold = 256 << 10;  // blocks of 16 KiB
  options.max_in_flight = 1 << 20;
  auto writer = ChangelogWriter::Start(*storage_, options);
  std::vector<std::unique_ptr<StateChangelog>> logs;
  for (int b = 0; b < 4; ++b) logs.push_back(writer->Register("agg_" + std::to_string(b)));
  const std::string value(200, 'v');
  for (int round = 0; round < 3; ++round) {
    for (auto& log : logs) {
      for (int i = 0; i < 5000; ++i) Put(*log, "k" + std::to_string(i), value);  // ~1 MiB each
      ASSERT_TRUE(log->Persist(log->last_sequence()).get().ok());
      EXPECT_LE(writer->kept_block_bytes(), int64_t{1} << 20);
    }
  }
  EXPECT_GT(writer->kept_block_bytes(), 0);
  logs.clear();
  EXPECT_EQ(writer->kept_block_bytes(), 0);
}

// A storage slower than the changes backpressures their owner: the changes in flight stay within
// dstl.dfs.upload.max-in-flight while every sync of a log file takes 100 ms (without the limit
// all of them would pile up while the first batches sync), and all of them become durable in
// order.
TEST_F(ChangelogWriterTest, ASlowStorageBackpressuresTheOwnerAtTheInFlightLimit) {
  fs_->AddRule({.op = testing::FsOp::kSync, .path_contains = "changelog-", .latency_ms = 100});
  ChangelogWriterOptions options;
  options.persist_size_threshold = 64 << 10;  // hand-over steps of 4 KiB
  options.max_in_flight = 256 << 10;
  options.upload_threads = 2;
  auto writer = ChangelogWriter::Start(*storage_, options);
  auto log = writer->Register("agg_0");
  std::atomic<bool> done{false};
  int64_t most = 0;
  std::thread sampler([&] {
    while (!done) {
      most = std::max(most, writer->in_flight_bytes());
      std::this_thread::sleep_for(1ms);
    }
  });
  const std::string value(1000, 'v');
  constexpr int kChanges = 1000;  // about 1 MiB
  for (int i = 0; i < kChanges; ++i) Put(*log, "k" + std::to_string(i), value);
  const Status persisted = log->Persist(kChanges).get();
  done = true;
  sampler.join();
  ASSERT_TRUE(persisted.ok()) << persisted.ToString();
  EXPECT_GT(most, 0);
  EXPECT_LE(most, int64_t{256 << 10}) << "in flight past the limit";
  EXPECT_EQ(writer->in_flight_bytes(), 0);
  auto segments = log->Segments(0, kChanges);
  ASSERT_TRUE(segments.ok()) << segments.status().ToString();
  const std::vector<std::string> read = ReadBack(*segments);
  ASSERT_EQ(read.size(), static_cast<size_t>(kChanges));
  for (int i = 0; i < kChanges; ++i) ASSERT_EQ(read[i], "k" + std::to_string(i) + "=" + value);
}

// A failed log's changes can never be durable: it drops them rather than holding them in memory
// or making its owner wait for room that would never come; the other logs are not affected.
TEST_F(ChangelogWriterTest, AFailedLogDropsItsChangesAndHoldsNoRoom) {
  fs_->AddRule({.op = testing::FsOp::kSync, .path_contains = "changelog-", .transient = false});
  ChangelogWriterOptions options;
  options.persist_size_threshold = 64 << 10;
  options.max_in_flight = 64 << 10;
  options.retry.initial_backoff_ms = 1;
  auto writer = ChangelogWriter::Start(*storage_, options);
  auto failing = writer->Register("agg_0");
  Put(*failing, "k", "v");
  ASSERT_FALSE(failing->Persist(1).get().ok());
  fs_->ClearRules();
  auto appended = std::async(std::launch::async, [&] {
    for (int i = 0; i < 1000; ++i) Put(*failing, "k" + std::to_string(i), std::string(1000, 'v'));
  });
  ASSERT_EQ(appended.wait_for(20s), std::future_status::ready) << "the owner waits for room";
  EXPECT_EQ(writer->in_flight_bytes(), 0);
  auto healthy = writer->Register("agg_1");
  for (int i = 0; i < 200; ++i) Put(*healthy, "h" + std::to_string(i), std::string(1000, 'v'));
  EXPECT_TRUE(healthy->Persist(200).get().ok());
}

// A closed log's changes not yet taken no longer count against the limit.
TEST_F(ChangelogWriterTest, ClosingALogReleasesTheRoomItsChangesHeld) {
  auto writer = Start(10s, uint64_t{1} << 20);  // nothing is written unasked below 1 MiB
  auto log = writer->Register("agg_0");
  for (int i = 0; i < 100; ++i) Put(*log, "k" + std::to_string(i), std::string(1000, 'v'));
  EXPECT_GT(writer->in_flight_bytes(), 0);
  log.reset();
  EXPECT_EQ(writer->in_flight_bytes(), 0);
}

TEST_F(ChangelogWriterTest, TransientFailuresAreRetried) {
  fs_->AddRule({.op = testing::FsOp::kAppend, .path_contains = "changelog-", .times = 2});
  auto writer = Start();
  auto log = writer->Register("agg_0");
  Put(*log, "k", "v");
  Status s = log->Persist(1).get();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ReadBack(*log->Segments(0, 1)), std::vector<std::string>{"k=v"});
}

TEST_F(ChangelogWriterTest, ABatchThatCannotBePersistedFailsItsLogsForGood) {
  fs_->AddRule({.op = testing::FsOp::kSync, .path_contains = "changelog-", .transient = false});
  auto writer = Start();
  auto failing = writer->Register("agg_0");
  Put(*failing, "k", "v");
  Status s = failing->Persist(1).get();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("state-change log batch shared/changelog-"), std::string::npos)
      << s.ToString();
  fs_->ClearRules();
  // Its change is lost from the log: no later persist may claim the log is complete.
  Put(*failing, "k2", "v");
  EXPECT_FALSE(failing->Persist(2).get().ok());
  EXPECT_FALSE(failing->Segments(0, 2).ok());
  // A backend that joins afterwards is not affected.
  auto healthy = writer->Register("agg_1");
  Put(*healthy, "h", "1");
  EXPECT_TRUE(healthy->Persist(1).get().ok());
}

// Batches are written at the same time but count as durable in the order they were taken: a
// checkpoint's batch that finishes first waits for the slow threshold batch before it.
TEST_F(ChangelogWriterTest, ABatchWrittenBeforeAnEarlierOneWaitsForIt) {
  fs_->AddRule({.op = testing::FsOp::kSync, .path_contains = "-1.dstl", .latency_ms = 1000});
  auto writer = Start(1ms);
  auto log = writer->Register("agg_0");
  Put(*log, "k1", "v1");
  auto first = log->Persist(1);
  std::this_thread::sleep_for(100ms);  // the first batch is taken and being synced
  Put(*log, "k2", "v2");
  auto second = log->Persist(2);
  EXPECT_EQ(second.wait_for(300ms), std::future_status::timeout);
  EXPECT_EQ(log->persisted_sequence(), 0u);
  ASSERT_TRUE(first.get().ok());
  ASSERT_TRUE(second.get().ok());
  EXPECT_EQ(writer->files_written(), 2u);
  auto segments = log->Segments(0, 2);
  ASSERT_TRUE(segments.ok()) << segments.status().ToString();
  EXPECT_EQ(ReadBack(*segments), (std::vector<std::string>{"k1=v1", "k2=v2"}));
}

TEST_F(ChangelogWriterTest, ALaterBatchDoesNotCoverForAnEarlierOneThatFailed) {
  fs_->AddRule({.op = testing::FsOp::kAppend, .path_contains = "-1.dstl", .latency_ms = 500});
  fs_->AddRule({.op = testing::FsOp::kSync, .path_contains = "-1.dstl", .transient = false});
  auto writer = Start(1ms);
  auto log = writer->Register("agg_0");
  Put(*log, "k1", "v1");
  auto first = log->Persist(1);
  std::this_thread::sleep_for(100ms);
  Put(*log, "k2", "v2");
  auto second = log->Persist(2);
  EXPECT_FALSE(first.get().ok());
  EXPECT_FALSE(second.get().ok());  // its own file was written, but k1 is lost
  EXPECT_EQ(log->persisted_sequence(), 0u);
  EXPECT_FALSE(log->Segments(0, 2).ok());
}

TEST_F(ChangelogWriterTest, ClosingABackendWithAPendingRequestAnswersIt) {
  auto writer = Start(10s);
  auto log = writer->Register("agg_0");
  Put(*log, "k", "v");
  auto pending = log->Persist(1);
  log.reset();
  EXPECT_EQ(pending.get().code(), StatusCode::kAborted);
}

}  // namespace
}  // namespace weir
