// Runs the `weir` binary on real checkpoint directories.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "testing/checkpoint_helpers.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

struct CliRun {
  int exit_code;
  std::string out;
  std::string err;
};

CliRun Weir(const std::string& args, const testing::TempDir& tmp) {
  const std::string err_path = tmp.Sub("stderr.txt");
  const std::string cmd = std::string(WEIR_BINARY) + " " + args + " 2>" + err_path;
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  const int status = pclose(p);
  std::string err;
  if (FILE* e = fopen(err_path.c_str(), "r")) {
    while (size_t n = fread(buf, 1, sizeof(buf), e)) err.append(buf, n);
    fclose(e);
  }
  return {WEXITSTATUS(status), out, err};
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(storage_.Initialize().ok());
    RocksDbBackendOptions o;
    o.backend_id = "counter_0";
    o.local_dir = tmp_.Sub("local");
    auto b = std::move(RocksDbKeyedStateBackend::Open(o)).value();
    auto v = *b->GetValueState(ValueStateDescriptor<int64_t>{"count"});
    auto m = *b->GetMapState(MapStateDescriptor<std::string, int64_t>{"per-page"});
    for (uint64_t id = 1; id <= 3; ++id) {
      for (int i = 0; i < 100 * static_cast<int>(id); ++i) {
        ASSERT_TRUE(b->SetCurrentKey(*DefaultSerializer<int64_t>(), i).ok());
        ASSERT_TRUE(v->Update(i).ok());
        ASSERT_TRUE(m->Put("p", i).ok());
      }
      ASSERT_TRUE(testing::TakeFullCheckpoint(*b, storage_, id, "job-a").ok());
    }
    ASSERT_TRUE(storage_.CreateCheckpointDir(4).ok());  // pending, never completed
  }

  testing::TempDir tmp_;
  CheckpointStorage storage_ =
      CheckpointStorage::ForJob(NewPosixFileSystem(), tmp_.Sub("checkpoints"), "job-a");
};

TEST_F(CliTest, ListJsonHasOneObjectPerCompletedCheckpoint) {
  for (const std::string& dir : {tmp_.Sub("checkpoints"), storage_.job_dir()}) {
    const CliRun r = Weir("checkpoints list --json " + dir, tmp_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto rows = nlohmann::json::parse(r.out);
    ASSERT_EQ(rows.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      const auto& row = rows[i];
      EXPECT_EQ(row["id"], i + 1);
      EXPECT_EQ(row["kind"], "full");
      EXPECT_EQ(row["path"], storage_.MetadataPath(i + 1));
      EXPECT_EQ(row["files"], 1);
      EXPECT_EQ(row["checkpointed_bytes"], row["full_bytes"]);
      EXPECT_GT(row["full_bytes"].get<uint64_t>(), 0u);
      EXPECT_EQ(row["completed_at"].get<std::string>().size(), 24u);  // 2023-11-14T22:13:20.006Z
      EXPECT_EQ(row["completed_at"].get<std::string>().back(), 'Z');
    }
    EXPECT_LT(rows[0]["full_bytes"], rows[2]["full_bytes"]);
  }
}

TEST_F(CliTest, ListTableNamesEveryCheckpoint) {
  const CliRun r = Weir("checkpoints list " + tmp_.Sub("checkpoints"), tmp_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int id = 1; id <= 3; ++id) {
    EXPECT_NE(r.out.find(storage_.MetadataPath(id)), std::string::npos) << r.out;
  }
  EXPECT_EQ(r.out.find("chk-4"), std::string::npos) << "a pending checkpoint was listed";
}

TEST_F(CliTest, InspectShowsEveryFilePerBackendAndState) {
  for (const std::string& path : {storage_.CheckpointDir(2), storage_.MetadataPath(2)}) {
    const CliRun r = Weir("checkpoints inspect --json " + path, tmp_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["id"], 2);
    ASSERT_EQ(j["backends"].size(), 1u);
    const auto& b = j["backends"][0];
    EXPECT_EQ(b["backend_id"], "counter_0");
    ASSERT_EQ(b["states"].size(), 2u);
    EXPECT_EQ(b["states"][1]["name"], "per-page");
    EXPECT_EQ(b["states"][1]["key_serializer"], "string");
    ASSERT_EQ(b["files"].size(), 1u);
    EXPECT_EQ(b["files"][0]["path"], "chk-2/counter_0.kgs");
    EXPECT_EQ(b["files"][0]["uploaded"], true);
  }
  const CliRun text = Weir("checkpoints inspect " + storage_.CheckpointDir(2), tmp_);
  ASSERT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("chk-2/counter_0.kgs"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("per-page"), std::string::npos);
}

TEST_F(CliTest, WrongPathsAreOneClearLineAndNonZeroExit) {
  const std::vector<std::string> bad = {
      "checkpoints inspect " + tmp_.Sub("nope"),
      "checkpoints inspect " + storage_.CheckpointDir(4),
      "checkpoints inspect " + storage_.SharedDir(),
      "checkpoints list " + tmp_.Sub("nope"),
  };
  for (const auto& args : bad) {
    const CliRun r = Weir(args, tmp_);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
    EXPECT_EQ(r.err.rfind("weir: ", 0), 0u) << r.err;
    EXPECT_TRUE(r.out.empty());
  }
}

TEST_F(CliTest, MalformedMetadataIsNamed) {
  testing::FlipByte(storage_.MetadataPath(2), 30);
  const auto before = testing::FileSize(storage_.MetadataPath(2));
  for (const std::string& args : {"checkpoints inspect " + storage_.CheckpointDir(2),
                                  "checkpoints list " + storage_.job_dir()}) {
    const CliRun r = Weir(args, tmp_);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find(storage_.MetadataPath(2)), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("checksum mismatch"), std::string::npos) << r.err;
  }
  EXPECT_EQ(testing::FileSize(storage_.MetadataPath(2)), before);  // read-only
}

}  // namespace
}  // namespace weir

namespace weir {
namespace {

class CliIncrementalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RocksDbBackendOptions o;
    o.backend_id = "agg_0";
    o.local_dir = tmp_.Sub("local");
    backend_ = std::move(RocksDbKeyedStateBackend::Open(o)).value();
    strategy_ = std::make_unique<IncrementalSnapshotStrategy>(*backend_, storage_, pool_);
    coordinator_ =
        std::make_unique<CheckpointCoordinator>(storage_, CoordinatorOptions{"job-b", 2, {}});
    ASSERT_TRUE(coordinator_->Recover().ok());
    coordinator_->AddListener(strategy_.get());
    auto v = *backend_->GetValueState(ValueStateDescriptor<int64_t>{"count"});
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < 2000; i += round + 1) {
        ASSERT_TRUE(backend_->SetCurrentKey(*DefaultSerializer<int64_t>(), i).ok());
        ASSERT_TRUE(v->Update(i * round).ok());
      }
      ASSERT_TRUE(testing::TakeCheckpoint(*coordinator_, {{backend_.get(), strategy_.get()}}).ok());
    }
    coordinator_->cleaner().WaitIdle();
  }

  std::string SharedFileOf(uint64_t id, bool inherited) {
    auto m = *ReadCheckpointMetadata(storage_.fs(), storage_.MetadataPath(id));
    for (const auto& f : m.backends[0].files) {
      if (f.role == StateFileRole::kShared && (f.written_by_checkpoint != id) == inherited) {
        return *storage_.ResolveRelative(f.path);
      }
    }
    ADD_FAILURE() << "no such file";
    return "";
  }

  testing::TempDir tmp_;
  ThreadPool pool_{2};
  CheckpointStorage storage_ =
      CheckpointStorage::ForJob(NewPosixFileSystem(), tmp_.Sub("checkpoints"), "job-b");
  std::unique_ptr<RocksDbKeyedStateBackend> backend_;
  std::unique_ptr<IncrementalSnapshotStrategy> strategy_;
  std::unique_ptr<CheckpointCoordinator> coordinator_;
};

TEST_F(CliIncrementalTest, ListAndInspectShowUploadedAndInheritedBytes) {
  const CliRun list = Weir("checkpoints list --json " + tmp_.Sub("checkpoints"), tmp_);
  ASSERT_EQ(list.exit_code, 0) << list.err;
  const auto rows = nlohmann::json::parse(list.out);
  ASSERT_EQ(rows.size(), 2u);  // num-retained 2: checkpoint 1 was subsumed
  EXPECT_EQ(rows[0]["id"], 2);
  EXPECT_EQ(rows[1]["kind"], "incremental");
  EXPECT_LT(rows[1]["checkpointed_bytes"].get<uint64_t>(), rows[1]["full_bytes"].get<uint64_t>());

  const CliRun inspect = Weir("checkpoints inspect --json " + storage_.CheckpointDir(3), tmp_);
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  const auto j = nlohmann::json::parse(inspect.out);
  int inherited = 0, uploaded = 0;
  for (const auto& f : j["backends"][0]["files"]) {
    if (f["uploaded"].get<bool>()) {
      ++uploaded;
    } else {
      ++inherited;
      EXPECT_LT(f["written_by_checkpoint"].get<uint64_t>(), 3u);
    }
  }
  EXPECT_GT(inherited, 0);
  EXPECT_GT(uploaded, 0);
  const CliRun text = Weir("checkpoints inspect " + storage_.CheckpointDir(3), tmp_);
  EXPECT_NE(text.out.find("inherited from checkpoint"), std::string::npos) << text.out;
}

TEST_F(CliIncrementalTest, VerifyIsCleanThenFindsOrphansMissingAndCorruptFiles) {
  CliRun r = Weir("checkpoints verify --json " + storage_.job_dir(), tmp_);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["checkpoints"].size(), 2u);
  EXPECT_TRUE(j["missing"].empty());
  EXPECT_TRUE(j["corrupt"].empty());
  EXPECT_TRUE(j["orphans"].empty());

  // An orphan: a shared file no checkpoint references, and a checkpoint that never completed.
  {
    std::ofstream(storage_.SharedDir() + "/agg_0-000099-dead.sst") << "leftover";
    std::filesystem::create_directories(storage_.CheckpointDir(9) + "/agg_0");
    std::ofstream(storage_.CheckpointDir(9) + "/agg_0/MANIFEST-000001") << "partial";
  }
  r = Weir("checkpoints verify --json " + tmp_.Sub("checkpoints"), tmp_);
  EXPECT_EQ(r.exit_code, 0) << "orphans alone are not damage";
  j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["orphans"].size(), 2u) << r.out;

  // gc: a dry run by default; the grace period protects fresh files.
  r = Weir("checkpoints gc --grace 0 " + storage_.job_dir(), tmp_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("would delete"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(storage_.SharedDir() + "/agg_0-000099-dead.sst"));
  r = Weir("checkpoints gc --delete " + storage_.job_dir(), tmp_);  // default grace 1h
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(storage_.SharedDir() + "/agg_0-000099-dead.sst"));
  r = Weir("checkpoints gc --delete --grace 0 --json " + storage_.job_dir(), tmp_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["deleted"].size(), 2u);
  EXPECT_FALSE(std::filesystem::exists(storage_.SharedDir() + "/agg_0-000099-dead.sst"));
  EXPECT_FALSE(std::filesystem::exists(storage_.CheckpointDir(9)));
  r = Weir("checkpoints verify --json " + storage_.job_dir(), tmp_);
  EXPECT_TRUE(nlohmann::json::parse(r.out)["orphans"].empty());

  // Damage: a corrupt inherited file and a missing uploaded one.
  testing::FlipByte(SharedFileOf(3, /*inherited=*/true), 100);
  std::filesystem::remove(SharedFileOf(3, /*inherited=*/false));
  r = Weir("checkpoints verify --json " + storage_.job_dir(), tmp_);
  EXPECT_NE(r.exit_code, 0);
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["missing"].size(), 1u) << r.out;
  EXPECT_GE(j["corrupt"].size(), 1u) << r.out;
  r = Weir("checkpoints verify " + storage_.job_dir(), tmp_);
  EXPECT_NE(r.out.find("MISSING"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CORRUPT"), std::string::npos) << r.out;
}

TEST_F(CliIncrementalTest, GcRefusesWhenMetadataIsUnreadableAndBadGraceIsAnError) {
  testing::FlipByte(storage_.MetadataPath(2), 25);
  CliRun r = Weir("checkpoints gc --delete --grace 0 " + storage_.job_dir(), tmp_);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("refusing"), std::string::npos) << r.err;
  r = Weir("checkpoints verify " + storage_.job_dir(), tmp_);
  EXPECT_NE(r.exit_code, 0);
  r = Weir("checkpoints gc --grace soon " + storage_.job_dir(), tmp_);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--grace"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace weir

namespace weir {
namespace {

// The command line's own conventions: --version, unknown commands named, exit code 2 for usage
// errors, every bundled job listed.
TEST(CliConventionsTest, VersionUsageErrorsAndHelp) {
  testing::TempDir tmp;
  const CliRun version = Weir("--version", tmp);
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out.rfind("weir ", 0), 0u) << version.out;
  EXPECT_NE(version.out.find("(commit "), std::string::npos) << version.out;
  EXPECT_NE(version.out.find("RocksDB 7."), std::string::npos) << version.out;

  const CliRun bogus = Weir("bogus", tmp);
  EXPECT_EQ(bogus.exit_code, 2);
  EXPECT_NE(bogus.err.find("unknown command 'bogus'"), std::string::npos) << bogus.err;
  EXPECT_NE(bogus.err.find("savepoint"), std::string::npos) << bogus.err;
  EXPECT_EQ(Weir("", tmp).exit_code, 2);
  EXPECT_EQ(Weir("run", tmp).exit_code, 2);
  EXPECT_EQ(Weir("checkpoints list", tmp).exit_code, 2);
  EXPECT_EQ(Weir("savepoint --type", tmp).exit_code, 2);
  // A command that runs and fails is 1.
  EXPECT_EQ(Weir("checkpoints list " + tmp.Sub("missing"), tmp).exit_code, 1);

  const CliRun help = Weir("--help", tmp);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Exit codes"), std::string::npos) << help.out;
  const CliRun run_help = Weir("run --help", tmp);
  EXPECT_EQ(run_help.exit_code, 0);
  for (const char* job : {"wordcount", "keyed-aggregate", "nats-aggregate"}) {
    EXPECT_NE(run_help.out.find(job), std::string::npos) << job << "\n" << run_help.out;
  }
}

}  // namespace
}  // namespace weir
