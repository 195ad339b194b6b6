#include "state/changelog/changelog_format.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string_view>

#include "common/checksum.h"
#include "common/coding.h"
#include "common/page_aligned.h"

namespace weir {
namespace {

struct Decoded {
  StateChangeOp op;
  uint32_t state_id;
  int key_group;
  std::string key, ns, user_key, value;
};

std::vector<Decoded> Records(const ChangelogChunk& chunk) {
  std::vector<Decoded> out;
  Status s = ForEachStateChange(chunk, [&](const StateChange& c) {
    out.push_back({c.op, c.state_id, c.key_group, std::string(c.key), std::string(c.ns),
                   std::string(c.user_key), std::string(c.value)});
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

ChangelogChunk SampleChunk(const std::string& backend, uint64_t first, int n) {
  StateChangeEncoder e;
  for (int i = 0; i < n; ++i) {
    const std::string k = "key" + std::to_string(i % 7);
    switch (i % 4) {
      case 0:
        e.Add(StateChangeOp::kPut, 1, i % 128, k, "", "", std::string(100, 'a' + i % 26));
        break;
      case 1:
        e.Add(StateChangeOp::kAppend, 2, i % 128, k, "w1", "", "element" + std::to_string(i));
        break;
      case 2:
        e.Add(StateChangeOp::kDelete, 3, i % 128, k, "", "mk" + std::to_string(i), "");
        break;
      default:
        e.Add(StateChangeOp::kClear, 2, i % 128, k, "w1", "", "");
    }
  }
  ChangelogChunk chunk;
  chunk.backend_id = backend;
  chunk.first_sequence = first;
  chunk.records = e.Take(&chunk.count);
  chunk.states = {{1, "count"}, {2, "window-contents"}, {3, "index"}};
  return chunk;
}

TEST(ChangelogFormatTest, FileOfChunksRoundTripsWithEveryOperation) {
  for (auto compression : {ChangelogCompression::kNone, ChangelogCompression::kLz4}) {
    const ChangelogChunk a = SampleChunk("agg_0", 1, 1000);
    const ChangelogChunk b = SampleChunk("agg_1", 41, 3);
    std::string file = EncodeChangelogHeader() + EncodeChangelogChunk(a, compression) +
                       EncodeChangelogChunk(b, compression);
    if (compression == ChangelogCompression::kLz4) {
      EXPECT_LT(file.size(), a.records.size() / 2) << "repetitive records compress";
    }
    auto chunks = DecodeChangelogFile(file);
    ASSERT_TRUE(chunks.ok()) << chunks.status().ToString();
    ASSERT_EQ(chunks->size(), 2u);
    EXPECT_EQ((*chunks)[0].backend_id, "agg_0");
    EXPECT_EQ((*chunks)[0].first_sequence, 1u);
    EXPECT_EQ((*chunks)[0].last_sequence(), 1000u);
    EXPECT_EQ((*chunks)[1].backend_id, "agg_1");
    EXPECT_EQ((*chunks)[1].last_sequence(), 43u);
    EXPECT_EQ((*chunks)[0].states, a.states);
    const auto records = Records((*chunks)[0]);
    ASSERT_EQ(records.size(), 1000u);
    EXPECT_EQ(records[0].op, StateChangeOp::kPut);
    EXPECT_EQ(records[0].value, std::string(100, 'a'));
    EXPECT_EQ(records[1].op, StateChangeOp::kAppend);
    EXPECT_EQ(records[1].ns, "w1");
    EXPECT_EQ(records[1].value, "element1");
    EXPECT_EQ(records[2].op, StateChangeOp::kDelete);
    EXPECT_EQ(records[2].user_key, "mk2");
    EXPECT_EQ(records[3].op, StateChangeOp::kClear);
    EXPECT_EQ(records[999].key_group, 999 % 128);
  }
}

TEST(ChangelogFormatTest, IncompressibleRecordsAreStoredAsIs) {
  std::mt19937_64 rng(7);
  StateChangeEncoder e;
  std::string noise(4000, 0);
  for (auto& c : noise) c = static_cast<char>(rng());
  e.Add(StateChangeOp::kPut, 0, 5, "k", "", "", noise);
  ChangelogChunk chunk{"b", 1, 0, {{0, "s"}}, ""};
  chunk.records = e.Take(&chunk.count);
  std::string bytes = EncodeChangelogChunk(chunk, ChangelogCompression::kLz4);
  std::string_view in = bytes;
  auto decoded = DecodeChangelogChunk(&in);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(Records(*decoded)[0].value, noise);
}

TEST(ChangelogFormatTest, EveryFlippedByteOrTruncationIsCorruption) {
  const std::string file =
      EncodeChangelogHeader() +
      EncodeChangelogChunk(SampleChunk("agg_0", 1, 50), ChangelogCompression::kLz4);
  for (size_t i = 0; i < file.size(); ++i) {
    std::string damaged = file;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x40);
    auto r = DecodeChangelogFile(damaged);
    ASSERT_FALSE(r.ok()) << "byte " << i;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().ToString();
  }
  for (size_t n = 0; n < file.size(); ++n) {
    auto r = DecodeChangelogFile(file.substr(0, n));
    // Cut exactly after the header, a file is empty and valid; anywhere else it is corrupt.
    EXPECT_EQ(r.ok(), n == kChangelogHeaderSize) << "truncated to " << n;
  }
}

// A crafted chunk with a valid checksum: sizes and names are still checked before use.
TEST(ChangelogFormatTest, CraftedChunksWithValidChecksumsAreRefused) {
  const auto wrap = [](const std::string& body) {
    std::string out;
    PutFixed32(&out, static_cast<uint32_t>(body.size()));
    out += body;
    PutFixed64(&out, Hash64(body));
    return out;
  };
  const auto body = [](uint64_t first, uint64_t count, uint8_t compression, uint64_t raw_size,
                       const std::string& payload, uint32_t state_id) {
    std::string b;
    PutLengthPrefixed(&b, "agg_0");
    PutVarint64(&b, first);
    PutVarint64(&b, count);
    PutVarint32(&b, 1);
    PutVarint32(&b, state_id);
    PutLengthPrefixed(&b, "s");
    b.push_back(static_cast<char>(compression));
    PutVarint64(&b, raw_size);
    PutLengthPrefixed(&b, payload);
    return b;
  };
  StateChangeEncoder e;
  e.Add(StateChangeOp::kPut, 9, 3, "k", "", "u", "v");
  uint64_t n = 0;
  const std::string records = e.Take(&n);
  struct Case {
    const char* what;
    std::string chunk;
  } cases[] = {
      {"sequence 0", wrap(body(0, 1, 0, records.size(), records, 9))},
      {"no records", wrap(body(1, 0, 0, 0, "", 9))},
      {"wrapping range", wrap(body(~uint64_t{0}, 2, 0, records.size(), records, 9))},
      {"unknown compression", wrap(body(1, 1, 7, records.size(), records, 9))},
      {"huge lz4 claim", wrap(body(1, 1, 1, uint64_t{1} << 29, "xx", 9))},
      {"raw size mismatch", wrap(body(1, 1, 0, records.size() + 1, records, 9))},
      {"state not listed", wrap(body(1, 1, 0, records.size(), records, 8))},
      {"more records claimed", wrap(body(1, 2, 0, records.size(), records, 9))},
      {"first record flagged same context",
       wrap(body(1, 1, 0, records.size(), std::string(1, '\x81') + records.substr(1), 9))},
  };
  for (const auto& c : cases) {
    const std::string file = EncodeChangelogHeader() + c.chunk;
    auto chunks = DecodeChangelogFile(file);
    Status s = chunks.ok() ? ForEachStateChange((*chunks)[0],
                                                [](const StateChange&) { return Status::OK(); })
                           : chunks.status();
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << c.what << ": " << s.ToString();
  }
}

TEST(ChangelogFormatTest, ForeignFilesAreNamedAsSuch) {
  auto r = DecodeChangelogFile("SST\0\0\0\0\0\0\0\0\0\0");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("WEIRDSTL"), std::string::npos);
  std::string v3(kChangelogMagic);
  PutFixed32(&v3, 3);
  r = DecodeChangelogFile(v3);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("version 3"), std::string::npos);
}

// Files of version 1 (no record flagged same context) are still read.
TEST(ChangelogFormatTest, VersionOneFilesAreRead) {
  const ChangelogChunk chunk = SampleChunk("agg_0", 1, 100);  // no two records share a key
  std::string v1(kChangelogMagic);
  PutFixed32(&v1, 1);
  v1 += EncodeChangelogChunk(chunk, ChangelogCompression::kNone);
  auto decoded = DecodeChangelogFile(v1);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->size(), 1u);
  EXPECT_EQ(Records((*decoded)[0]).size(), 100u);
}

// Records of one key and namespace after each other carry them once; a change of key, key group
// or namespace gives the context in full again.
TEST(ChangelogFormatTest, RecordsOfOneContextCarryItOnce) {
  StateChangeEncoder e;
  const std::string key(8, 'k'), other(8, 'o');
  e.Add(StateChangeOp::kPut, 1, 5, key, "", "", "1");
  e.Add(StateChangeOp::kPut, 2, 5, key, "", "", "2");
  e.Add(StateChangeOp::kAppend, 3, 5, key, "", "", "3");
  e.Add(StateChangeOp::kPut, 1, 5, key, "ns", "", "4");  // another namespace
  e.Add(StateChangeOp::kDelete, 2, 5, key, "ns", "uk", "");
  e.Add(StateChangeOp::kPut, 1, 6, key, "ns", "", "5");    // another key group
  e.Add(StateChangeOp::kPut, 1, 6, other, "ns", "", "6");  // another key
  e.Add(StateChangeOp::kClear, 2, 6, other, "ns", "", "");
  ChangelogChunk chunk;
  chunk.backend_id = "agg_0";
  chunk.first_sequence = 1;
  chunk.states = {{1, "a"}, {2, "b"}, {3, "c"}};
  chunk.records = e.Take(&chunk.count);
  // Four records flagged (the 2nd, 3rd, 5th and 8th): op, state id and value only. (No other
  // byte of these records has the flag's bit set.)
  size_t flagged = 0;
  for (char c : chunk.records) flagged += (static_cast<uint8_t>(c) & kSameContextFlag) ? 1 : 0;
  EXPECT_EQ(flagged, 4u);
  const auto records = Records(chunk);
  ASSERT_EQ(records.size(), 8u);
  const std::vector<std::string> keys = {key, key, key, key, key, key, other, other};
  const std::vector<int> groups = {5, 5, 5, 5, 5, 6, 6, 6};
  const std::vector<std::string> namespaces = {"", "", "", "ns", "ns", "ns", "ns", "ns"};
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].key, keys[i]) << i;
    EXPECT_EQ(records[i].key_group, groups[i]) << i;
    EXPECT_EQ(records[i].ns, namespaces[i]) << i;
  }
  EXPECT_EQ(records[4].user_key, "uk");
  EXPECT_EQ(records[5].value, "5");
  EXPECT_EQ(records[7].op, StateChangeOp::kClear);
}

// A writer thread appends every chunk of a batch to one buffer, through one scratch buffer for
// the compressed records: a chunk after a larger or an incompressible one decodes as itself.
TEST(ChangelogFormatTest, ChunksAppendedThroughOneScratchBufferDecodeAsThemselves) {
  std::mt19937_64 rng(5);
  StateChangeEncoder e;
  for (int i = 0; i < 50; ++i) {
    std::string noise(200, '\0');
    for (auto& c : noise) c = static_cast<char>(rng());
    e.Add(StateChangeOp::kPut, 1, i, "k" + std::to_string(i), "", "", noise);
  }
  ChangelogChunk incompressible;
  incompressible.backend_id = "agg_2";
  incompressible.first_sequence = 7;
  incompressible.records = e.Take(&incompressible.count);
  incompressible.states = {{1, "count"}};
  const std::vector<ChangelogChunk> chunks = {SampleChunk("agg_0", 1, 2000), incompressible,
                                              SampleChunk("agg_1", 9, 5)};
  std::string file = EncodeChangelogHeader();
  std::string scratch;
  for (const auto& c : chunks) {
    const size_t at = file.size();
    AppendChangelogChunk(&file, c, ChangelogCompression::kLz4, &scratch);
    EXPECT_EQ(file.substr(at), EncodeChangelogChunk(c, ChangelogCompression::kLz4));
  }
  auto decoded = DecodeChangelogFile(file);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->size(), chunks.size());
  for (size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_EQ((*decoded)[i].backend_id, chunks[i].backend_id);
    EXPECT_EQ((*decoded)[i].first_sequence, chunks[i].first_sequence);
    EXPECT_EQ((*decoded)[i].count, chunks[i].count);
    EXPECT_EQ((*decoded)[i].records, chunks[i].records);
  }
}

// A chunk whose records come in pieces (the log's blocks) is the same bytes as from one string,
// and the file checksum it keeps on the way is that of the bytes appended: with and without lz4,
// for pieces empty, small and larger than the step it hashes by.
TEST(ChangelogFormatTest, AChunkInPiecesIsTheSameBytesAndChecksum) {
  for (auto compression : {ChangelogCompression::kNone, ChangelogCompression::kLz4}) {
    StateChangeEncoder e;
    for (int i = 0; i < 20000; ++i) {
      e.Add(StateChangeOp::kPut, 1, i % 7, "key-" + std::to_string(i), "", "",
            std::string(static_cast<size_t>(i % 13), static_cast<char>('a' + i % 26)));
    }
    ChangelogChunk whole;
    whole.backend_id = "agg_0";
    whole.first_sequence = 5;
    whole.states = {{1, "count"}};
    whole.records = e.Take(&whole.count);
    ASSERT_GT(whole.records.size(), size_t{100} << 10);
    const std::string_view all = whole.records;
    const std::string_view pieces[] = {all.substr(0, 10), all.substr(10, 0), all.substr(10, 70000),
                                       all.substr(70010)};
    const ChangelogChunkPieces chunk = ChunkPieces(whole, pieces);
    std::string file = EncodeChangelogHeader();
    StreamingChecksum checksum;
    checksum.Update(file);
    std::string scratch, staging;
    AppendChangelogChunk(&file, chunk, compression, &scratch, &staging, &checksum);
    const std::string expected = EncodeChangelogHeader() + EncodeChangelogChunk(whole, compression);
    EXPECT_EQ(file, expected);
    EXPECT_EQ(checksum.Digest(), Hash64(file));
    auto decoded = DecodeChangelogFile(file);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    ASSERT_EQ(decoded->size(), 1u);
    EXPECT_EQ((*decoded)[0].records, whole.records);

    // The writer's page-aligned file: the same bytes, starting on a page boundary.
    PageAlignedBuffer aligned;
    aligned.append(EncodeChangelogHeader());
    AppendChangelogChunk(&aligned, chunk, compression, &scratch, &staging, nullptr);
    PageAlignedBuffer::Fence();
    EXPECT_EQ(std::string_view(aligned), std::string_view(expected));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(aligned.data()) % kPageBytes, 0u);
  }
}

}  // namespace
}  // namespace weir
