#include "checkpoint/checkpoint_metadata.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "common/checksum.h"
#include "common/coding.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

CheckpointMetadata Sample() {
  CheckpointMetadata m;
  m.checkpoint_id = 42;
  m.kind = CheckpointKind::kIncremental;
  m.trigger_unix_ms = 1764000000123;
  m.completed_unix_ms = 1764000000456;
  m.job_id = "job-7";
  for (int b = 0; b < 2; ++b) {
    KeyedStateHandle h;
    h.backend_id = "op_" + std::to_string(b);
    h.max_parallelism = 4096;
    h.key_group_range = KeyGroupRange::ForSubtask(4096, 2, b);
    h.kind = b == 0 ? BackendSnapshotKind::kFull : BackendSnapshotKind::kIncremental;
    h.checkpointed_bytes = 100 + b;
    h.full_bytes = 1000 + b;
    h.states = {{"count", StateKind::kValue, "i64", ""},
                {"m", StateKind::kMap, "string", "user:Point/v1"},
                {"seen", StateKind::kList, "i64", "", /*ttl=*/true}};
    h.files = {{"chk-42/op.kgs", 1000, 0xdeadbeefcafef00dULL, StateFileRole::kFullSnapshot, "", 42},
               {"shared/op-000012-ab12.sst", 77, 1, StateFileRole::kShared, "000012.sst", 40}};
    m.backends.push_back(h);
  }
  m.operators = {{"source", 2}, {"aggregate", 2}};
  m.operator_states = {{"source", 0, std::string("\x01\x00pos", 5), {}},
                       {"source",
                        1,
                        std::nullopt,
                        {{"splits", OperatorStateMode::kSplit, {"a", std::string("\0b", 2)}},
                         {"known", OperatorStateMode::kUnion, {}}}}};
  return m;
}

TEST(CheckpointMetadataTest, RoundTrip) {
  const CheckpointMetadata m = Sample();
  const std::string bytes = EncodeCheckpointMetadata(m);
  auto decoded = DecodeCheckpointMetadata(bytes, "x/_metadata");
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, m);
  EXPECT_EQ(decoded->FullBytes(), 2001u);
  EXPECT_EQ(decoded->CheckpointedBytes(), 201u);
  EXPECT_EQ(decoded->FileCount(), 4u);
}

// A version-1 file (keyed state only, written by weir before the runtime existed) still reads.
TEST(CheckpointMetadataTest, ReadsVersionOne) {
  CheckpointMetadata m = Sample();
  m.operators.clear();
  m.operator_states.clear();
  std::string bytes = EncodeCheckpointMetadata(m);
  // Version 2 appends two empty lists (one varint 0 each) to the body of version 1.
  std::string body = bytes.substr(20, bytes.size() - 28 - 2);
  std::string v1 = "WEIRCKPT";
  PutFixed32(&v1, 1);
  PutFixed64(&v1, body.size());
  v1 += body;
  PutFixed64(&v1, Hash64(v1));
  auto decoded = DecodeCheckpointMetadata(v1, "old/_metadata");
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, m);
}

// A version-2 file: operator state was one opaque string per subtask; it reads as opaque state.
TEST(CheckpointMetadataTest, ReadsVersionTwoOperatorStateAsOpaque) {
  CheckpointMetadata m = Sample();
  m.operator_states.clear();
  std::string bytes = EncodeCheckpointMetadata(m);
  // Drop the trailing "no operator states" (one varint 0), append two in version 2's layout.
  std::string body = bytes.substr(20, bytes.size() - 28 - 1);
  PutVarint64(&body, 2);
  for (int subtask = 0; subtask < 2; ++subtask) {
    PutLengthPrefixed(&body, "source");
    PutVarint64(&body, static_cast<uint64_t>(subtask));
    PutLengthPrefixed(&body, "pos" + std::to_string(subtask));
  }
  std::string v2 = "WEIRCKPT";
  PutFixed32(&v2, 2);
  PutFixed64(&v2, body.size());
  v2 += body;
  PutFixed64(&v2, Hash64(v2));
  auto decoded = DecodeCheckpointMetadata(v2, "old/_metadata");
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  m.operator_states = {{"source", 0, "pos0", {}}, {"source", 1, "pos1", {}}};
  EXPECT_EQ(*decoded, m);
}

TEST(CheckpointMetadataTest, FileRoundTripAndAtomicPublish) {
  testing::TempDir tmp;
  const auto storage = CheckpointStorage::ForJob(NewPosixFileSystem(), tmp.path(), "job-7");
  ASSERT_TRUE(storage.Initialize().ok());
  ASSERT_TRUE(WriteCheckpointMetadata(storage, Sample()).ok());
  auto read = ReadCheckpointMetadata(storage.fs(), storage.MetadataPath(42));
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, Sample());
  EXPECT_EQ(*storage.ListCompletedCheckpointIds(), std::vector<uint64_t>{42});
}

// Rewrites the version field and re-seals the checksum, as a future weir would write it.
std::string WithVersion(std::string bytes, uint32_t version) {
  std::string v;
  PutFixed32(&v, version);
  bytes.replace(8, 4, v);
  bytes.resize(bytes.size() - 8);
  PutFixed64(&bytes, Hash64(bytes));
  return bytes;
}

TEST(CheckpointMetadataTest, UnknownVersionIsRejected) {
  auto r = DecodeCheckpointMetadata(WithVersion(EncodeCheckpointMetadata(Sample()), 7), "f");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("format version 7 is not supported"), std::string::npos)
      << r.status().ToString();
}

TEST(CheckpointMetadataTest, TruncationAndFlippedBytesAreRejected) {
  const std::string bytes = EncodeCheckpointMetadata(Sample());
  for (size_t len = 0; len < bytes.size(); len += 7) {
    auto r = DecodeCheckpointMetadata(bytes.substr(0, len), "chk-42/_metadata");
    ASSERT_FALSE(r.ok()) << len;
    EXPECT_NE(r.status().message().find("chk-42/_metadata"), std::string::npos);
  }
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string damaged = bytes;
    damaged[i] ^= 0x01;
    auto r = DecodeCheckpointMetadata(damaged, "f");
    ASSERT_FALSE(r.ok()) << "flipped byte " << i << " went unnoticed";
    EXPECT_TRUE(r.status().IsCorruption());
  }
  auto not_ours = DecodeCheckpointMetadata("hello, this is not metadata at all", "f");
  EXPECT_NE(not_ours.status().message().find("bad magic"), std::string::npos);
}

TEST(CheckpointMetadataTest, PathsLeavingTheJobDirectoryAreCorruption) {
  for (const char* bad : {"../elsewhere/x.sst", "/abs/x.sst", "shared/../../x", ""}) {
    CheckpointMetadata m = Sample();
    m.backends[1].files[1].path = bad;
    auto r = DecodeCheckpointMetadata(EncodeCheckpointMetadata(m), "f");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(r.status().IsCorruption());
  }
}

TEST(CheckpointMetadataTest, TrailingBytesInBodyAreCorruption) {
  std::string bytes = EncodeCheckpointMetadata(Sample());
  bytes.resize(bytes.size() - 8);
  bytes.push_back('x');
  const uint64_t body = DecodeFixed64(bytes.data() + 12) + 1;
  std::string len;
  PutFixed64(&len, body);
  bytes.replace(12, 8, len);
  PutFixed64(&bytes, Hash64(bytes));
  EXPECT_FALSE(DecodeCheckpointMetadata(bytes, "f").ok());
}

}  // namespace
}  // namespace weir

namespace weir {
namespace {

// The checksum proves nothing about who wrote the bytes: identifiers that may become paths are
// checked against the grammar.
TEST(CheckpointMetadataTest, CraftedIdentifiersAreCorruption) {
  const std::vector<std::function<void(CheckpointMetadata&)>> crafts = {
      [](CheckpointMetadata& m) { m.job_id = "x/../../somewhere"; },
      [](CheckpointMetadata& m) { m.backends[0].backend_id = "../op"; },
      [](CheckpointMetadata& m) { m.backends[1].files[1].local_name = "a/b.sst"; },
      [](CheckpointMetadata& m) {
        m.operators.push_back({"uid\nINFO forged", 1});
      },
      [](CheckpointMetadata& m) {
        m.operator_states.push_back({".hidden", 0, "", {}});
      },
  };
  for (const auto& craft : crafts) {
    CheckpointMetadata m = Sample();
    craft(m);
    auto decoded = DecodeCheckpointMetadata(EncodeCheckpointMetadata(m), "chk-42/_metadata");
    ASSERT_FALSE(decoded.ok());
    EXPECT_TRUE(decoded.status().IsCorruption()) << decoded.status().ToString();
    EXPECT_EQ(decoded.status().message().find('\n'), std::string::npos);
  }
}

// A changelog checkpoint: a backend's materialization plus the log segments after it.
CheckpointMetadata ChangelogSample() {
  CheckpointMetadata m = Sample();
  m.kind = CheckpointKind::kChangelog;
  KeyedStateHandle& h = m.backends[1];
  h.kind = BackendSnapshotKind::kChangelog;
  h.files = {
      {"shared/op_1-materialization-7-ab.kgs", 500, 3, StateFileRole::kMaterialization, "", 0},
      {"shared/changelog-w-1.dstl", 300, 4, StateFileRole::kChangelog, "", 0},
      {"shared/changelog-w-2.dstl", 200, 5, StateFileRole::kChangelog, "", 0}};
  h.materialized_sequence = 10;
  h.changelog_sequence = 40;
  h.changelog = {{"shared/changelog-w-1.dstl", 12, 100, 5, 25},
                 {"shared/changelog-w-2.dstl", 12, 80, 26, 40}};
  return m;
}

TEST(CheckpointMetadataTest, ChangelogHandlesRoundTrip) {
  const CheckpointMetadata m = ChangelogSample();
  auto decoded = DecodeCheckpointMetadata(EncodeCheckpointMetadata(m), "chk-42/_metadata");
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, m);
  EXPECT_STREQ(CheckpointKindName(decoded->kind), "changelog");
}

// A changelog checkpoint over an incremental materialization: the inner backend's native files
// (SSTs, and its MANIFEST, CURRENT and OPTIONS as kMaterialization files named by RocksDB's
// names), all in shared/, and the states they hold.
CheckpointMetadata IncrementalChangelogSample() {
  CheckpointMetadata m = ChangelogSample();
  KeyedStateHandle& h = m.backends[1];
  h.files[0] = {"shared/op_1-000012-aa.sst", 900, 6, StateFileRole::kShared, "000012.sst", 0};
  h.files.push_back({"shared/op_1-000013-bb.sst", 700, 7, StateFileRole::kShared, "000013.sst", 3});
  h.files.push_back({"shared/op_1-materialization-7-cc-MANIFEST-000005", 80, 8,
                     StateFileRole::kMaterialization, "MANIFEST-000005", 0});
  h.files.push_back({"shared/op_1-materialization-7-cc-CURRENT", 16, 9,
                     StateFileRole::kMaterialization, "CURRENT", 0});
  h.materialization_states = {h.states[0]};
  return m;
}

TEST(CheckpointMetadataTest, IncrementalMaterializationsRoundTrip) {
  const CheckpointMetadata m = IncrementalChangelogSample();
  ASSERT_FALSE(m.backends[1].materialization_states.empty());
  auto decoded = DecodeCheckpointMetadata(EncodeCheckpointMetadata(m), "chk-42/_metadata");
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, m);
}

// A materialization that is both a key-group stream and native files, SSTs without the native
// files that make them a database, native states without native files, or a changelog
// snapshot's file outside shared/: each one clear Corruption.
TEST(CheckpointMetadataTest, InconsistentIncrementalMaterializationsAreCorruption) {
  const std::vector<std::pair<std::string, std::function<void(KeyedStateHandle&)>>> crafts = {
      {"inconsistent",
       [](KeyedStateHandle& h) {
         h.files.push_back({"shared/op_1-materialization-7-ab.kgs", 500, 3,
                            StateFileRole::kMaterialization, "", 0});
       }},
      {"inconsistent",
       [](KeyedStateHandle& h) {
         std::erase_if(h.files, [](const StateFileHandle& f) {
           return f.role == StateFileRole::kMaterialization;
         });
       }},
      {"outside shared/", [](KeyedStateHandle& h) { h.files[0].path = "chk-42/op_1-12.sst"; }},
      {"outside shared/", [](KeyedStateHandle& h) { h.files[0].role = StateFileRole::kPrivate; }},
  };
  for (const auto& [expected, craft] : crafts) {
    CheckpointMetadata m = IncrementalChangelogSample();
    craft(m.backends[1]);
    auto decoded = DecodeCheckpointMetadata(EncodeCheckpointMetadata(m), "chk-42/_metadata");
    ASSERT_FALSE(decoded.ok()) << expected;
    EXPECT_TRUE(decoded.status().IsCorruption()) << decoded.status().ToString();
    EXPECT_NE(decoded.status().message().find(expected), std::string::npos)
        << decoded.status().ToString();
  }
  // Native states with a key-group stream materialization.
  CheckpointMetadata m = ChangelogSample();
  m.backends[1].materialization_states = {m.backends[1].states[0]};
  auto decoded = DecodeCheckpointMetadata(EncodeCheckpointMetadata(m), "chk-42/_metadata");
  EXPECT_TRUE(decoded.status().IsCorruption()) << decoded.status().ToString();
}

// Segments that skip or repeat changes, name a file the handle does not hold, or files of the
// changelog roles outside shared/ or claimed by a checkpoint: each one clear Corruption.
TEST(CheckpointMetadataTest, InconsistentChangelogsAreCorruption) {
  const std::vector<std::pair<std::string, std::function<void(KeyedStateHandle&)>>> crafts = {
      {"not the next one", [](KeyedStateHandle& h) { h.changelog[1].first_sequence = 27; }},
      {"not the next one", [](KeyedStateHandle& h) { h.changelog[0].first_sequence = 12; }},
      {"misses changes", [](KeyedStateHandle& h) { h.changelog_sequence = 41; }},
      {"not its file", [](KeyedStateHandle& h) { h.changelog[0].path = "shared/other.dstl"; }},
      {"written outside checkpoints",
       [](KeyedStateHandle& h) { h.files[1].written_by_checkpoint = 42; }},
      {"written outside checkpoints",
       [](KeyedStateHandle& h) { h.files[2].path = "chk-42/changelog-w-2.dstl"; }},
      {"inconsistent",
       [](KeyedStateHandle& h) { h.files[2].role = StateFileRole::kMaterialization; }},
      {"not a changelog one",
       [](KeyedStateHandle& h) { h.kind = BackendSnapshotKind::kIncremental; }},
  };
  for (const auto& [expected, craft] : crafts) {
    CheckpointMetadata m = ChangelogSample();
    craft(m.backends[1]);
    auto decoded = DecodeCheckpointMetadata(EncodeCheckpointMetadata(m), "chk-42/_metadata");
    ASSERT_FALSE(decoded.ok()) << expected;
    EXPECT_TRUE(decoded.status().IsCorruption()) << decoded.status().ToString();
    EXPECT_NE(decoded.status().message().find(expected), std::string::npos)
        << decoded.status().ToString();
  }
}

TEST(CheckpointMetadataTest, ReaderRefusesHugeSparseFilesFifosAndLinks) {
  testing::TempDir tmp;
  auto fs = NewPosixFileSystem();
  const std::string huge = tmp.Sub("huge");
  { std::ofstream f(huge); }
  std::filesystem::resize_file(huge, kMaxMetadataBytes + 1);  // sparse: no disk, no memory
  auto r = ReadCheckpointMetadata(*fs, huge);
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
  EXPECT_NE(r.status().message().find("MiB"), std::string::npos);
  const std::string fifo = tmp.Sub("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  r = ReadCheckpointMetadata(*fs, fifo);  // must not block
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
  std::ofstream(tmp.Sub("real")) << EncodeCheckpointMetadata(Sample());
  std::filesystem::create_symlink(tmp.Sub("real"), tmp.Sub("link"));
  r = ReadCheckpointMetadata(*fs, tmp.Sub("link"));
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
  EXPECT_TRUE(ReadCheckpointMetadata(*fs, tmp.Sub("real")).ok());
}

}  // namespace
}  // namespace weir
