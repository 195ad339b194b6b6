// The S3 FileSystem against a real Ceph RADOS Gateway (one per test program, scripts/rgw.sh):
// small and multipart files, parallel ranged reads, paginated listings, batched deletes, no
// lingering parts, retries on throttling and 5xx but not on 4xx, credentials kept out of errors.
#include "io/s3/s3_file_system.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>

#include "testing/rgw_server.h"

namespace weir {
namespace {

class S3FileSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    rgw_ = testing::SharedRgw(&error);
    ASSERT_NE(rgw_, nullptr) << error;
    s3::S3Options o;
    o.endpoint = rgw_->endpoint().endpoint;
    o.path_style = true;
    o.access_key = rgw_->endpoint().access_key;
    o.secret_key = rgw_->endpoint().secret_key;
    o.part_size = 5 << 20;
    o.retry.initial_backoff_ms = 5;
    client_ = std::make_shared<s3::S3Client>(o);
    fs_ = s3::NewS3FileSystem(client_);
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = "s3://" + rgw_->endpoint().bucket + "/fs-test/" + info->name();
    Status clean = fs_->DeleteRecursively(root_);
    ASSERT_TRUE(clean.ok()) << clean.message();
  }

  std::string Path(const std::string& name) const { return root_ + "/" + name; }
  // The object key of Path(name) (tests run in parallel: each looks only below its own prefix).
  std::string Key(const std::string& name) const {
    return root_.substr(root_.find('/', 5) + 1) + "/" + name;
  }

  Status Write(const std::string& path, const std::string& data) {
    WEIR_ASSIGN_OR_RETURN(auto f, fs_->NewWritableFile(path));
    for (size_t at = 0; at < data.size(); at += 1 << 20) {
      WEIR_RETURN_IF_ERROR(f->Append(std::string_view(data).substr(at, 1 << 20)));
    }
    WEIR_RETURN_IF_ERROR(f->Sync());
    return f->Close();
  }

  static std::string Bytes(size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
  }

  testing::RgwServer* rgw_ = nullptr;
  std::shared_ptr<s3::S3Client> client_;
  std::shared_ptr<FileSystem> fs_;
  std::string root_;
};

TEST_F(S3FileSystemTest, SmallFileRoundTrip) {
  ASSERT_TRUE(Write(Path("dir/a.txt"), "hello s3").ok());
  auto st = fs_->Stat(Path("dir/a.txt"));
  ASSERT_TRUE(st.ok()) << st.status().message();
  EXPECT_FALSE(st->is_directory);
  EXPECT_EQ(st->size, 8u);
  auto dir = fs_->Stat(Path("dir"));
  ASSERT_TRUE(dir.ok());
  EXPECT_TRUE(dir->is_directory);
  auto text = fs_->ReadFileToString(Path("dir/a.txt"));
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "hello s3");
  EXPECT_EQ(fs_->Stat(Path("missing")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(fs_->NewReadableFile(Path("missing")).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(fs_->PublishAtomically(Path("dir/_metadata"), "meta").ok());
  auto entries = fs_->ListDir(Path("dir"));
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].name, "_metadata");
  EXPECT_EQ((*entries)[1].name, "a.txt");
  auto top = fs_->ListDir(root_);
  ASSERT_TRUE(top.ok());
  ASSERT_EQ(top->size(), 1u);
  EXPECT_TRUE((*top)[0].is_directory);
  EXPECT_EQ((*top)[0].name, "dir");
  ASSERT_TRUE(fs_->Rename(Path("dir/a.txt"), Path("dir/b.txt")).ok());
  EXPECT_FALSE(*fs_->Exists(Path("dir/a.txt")));
  EXPECT_TRUE(*fs_->Exists(Path("dir/b.txt")));
  ASSERT_TRUE(fs_->DeleteFile(Path("dir/b.txt")).ok());
  EXPECT_FALSE(*fs_->Exists(Path("dir/b.txt")));
}

TEST_F(S3FileSystemTest, LargeFileIsAMultipartUploadAndReadsBackInParallelRanges) {
  const std::string data = Bytes((23 << 20) + 12345, 1);
  ASSERT_TRUE(Write(Path("big.sst"), data).ok());
  auto f = fs_->NewReadableFile(Path("big.sst"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->Size(), data.size());
  std::string all;
  ASSERT_TRUE((*f)->ReadAt(0, data.size() + 100, &all).ok());
  EXPECT_TRUE(all == data);
  std::string middle;
  ASSERT_TRUE((*f)->ReadAt(7 << 20, 9 << 20, &middle).ok());
  EXPECT_TRUE(middle == data.substr(7 << 20, 9 << 20));
  std::string past;
  ASSERT_TRUE((*f)->ReadAt(data.size() + 5, 10, &past).ok());
  EXPECT_TRUE(past.empty());
  // A completed upload leaves no parts behind.
  auto uploads = client_->ListMultipartUploads(rgw_->endpoint().bucket, Key(""));
  ASSERT_TRUE(uploads.ok());
  EXPECT_TRUE(uploads->empty());
}

TEST_F(S3FileSystemTest, AnAbandonedUploadIsAbortedAndLeavesNoParts) {
  {
    auto f = fs_->NewWritableFile(Path("abandoned.sst"));
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append(Bytes(12 << 20, 2)).ok());  // two parts sent
  }                                                      // destroyed without Close
  auto uploads = client_->ListMultipartUploads(rgw_->endpoint().bucket, Key(""));
  ASSERT_TRUE(uploads.ok());
  EXPECT_TRUE(uploads->empty());
  EXPECT_FALSE(*fs_->Exists(Path("abandoned.sst")));
}

TEST_F(S3FileSystemTest, ListingsPaginateAndDeletesBatch) {
  // 1100 objects: more than one ListObjectsV2 page and more than one DeleteObjects batch.
  std::vector<std::string> keys;
  for (int i = 0; i < 1100; ++i) {
    keys.push_back("fs-test/ListingsPaginateAndDeletesBatch/shared/f" + std::to_string(i));
  }
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    writers.emplace_back([&, t] {
      for (size_t i = static_cast<size_t>(t); i < keys.size(); i += 8) {
        if (!client_->PutObject(rgw_->endpoint().bucket, keys[i], "x").ok()) ++failures;
      }
    });
  }
  for (auto& w : writers) w.join();
  ASSERT_EQ(failures.load(), 0);
  auto entries = fs_->ListDir(Path("shared"));
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ(entries->size(), 1100u);
  ASSERT_TRUE(fs_->DeleteRecursively(root_).ok());
  auto after = fs_->ListDir(Path("shared"));
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
  EXPECT_EQ(fs_->Stat(Path("shared")).status().code(), StatusCode::kNotFound);
}

TEST_F(S3FileSystemTest, ThrottlingAndServerErrorsAreRetriedClientErrorsAreNot) {
  std::atomic<int> calls{0};
  client_->SetFaultHook([&](const s3::S3Request& r) -> std::optional<s3::S3Response> {
    if (r.method != "PUT") return std::nullopt;
    const int n = calls++;
    if (n == 0) return s3::S3Response{503, "<Error><Code>SlowDown</Code></Error>", {}};
    if (n == 1) return s3::S3Response{500, "<Error><Code>InternalError</Code></Error>", {}};
    return std::nullopt;
  });
  EXPECT_TRUE(Write(Path("retried"), "data").ok());
  EXPECT_EQ(calls.load(), 3);
  calls = 0;
  client_->SetFaultHook([&](const s3::S3Request& r) -> std::optional<s3::S3Response> {
    if (r.method != "PUT") return std::nullopt;
    ++calls;
    return s3::S3Response{403, "<Error><Code>AccessDenied</Code></Error>", {}};
  });
  Status s = Write(Path("denied"), "data");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(calls.load(), 1);
  EXPECT_NE(s.message().find("AccessDenied"), std::string::npos) << s.message();
  // Throttling that does not stop: the retries end, the error is retryable.
  client_->SetFaultHook([&](const s3::S3Request&) -> std::optional<s3::S3Response> {
    return s3::S3Response{503, "<Error><Code>SlowDown</Code></Error>", {}};
  });
  s = Write(Path("throttled"), "data");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.retryable());
  client_->SetFaultHook(nullptr);
}

TEST_F(S3FileSystemTest, AWrongSecretIsAClearErrorThatDoesNotShowIt) {
  s3::S3Options o = client_->options();
  o.secret_key = "not-the-secret-0000";
  auto wrong = s3::NewS3FileSystem(std::make_shared<s3::S3Client>(o));
  auto w = wrong->NewWritableFile(Path("x"));
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Append("x").ok());
  Status s = (*w)->Close();
  EXPECT_FALSE(s.ok());
  // The S3 error code follows the status (RGW says AccessDenied, AWS SignatureDoesNotMatch).
  const std::regex coded("HTTP 403 (AccessDenied|SignatureDoesNotMatch|InvalidAccessKeyId)");
  EXPECT_TRUE(std::regex_search(s.message(), coded)) << s.message();
  EXPECT_NE(s.message().find("(request id "), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(Path("x")), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("not-the-secret"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find(rgw_->endpoint().secret_key), std::string::npos);

  // A HEAD answer has no body: the error code still shows (a one-byte GET learns it).
  auto head = wrong->Stat(Path("x"));
  ASSERT_FALSE(head.ok());
  EXPECT_TRUE(std::regex_search(head.status().message(), coded)) << head.status().message();
}

// The AWS chain (io/s3/aws_config.h) against the gateway: a client built as weir builds one, from
// a configuration and an environment, with a HOME of the test's own.
class S3CredentialChainTest : public S3FileSystemTest {
 protected:
  void SetUp() override {
    S3FileSystemTest::SetUp();
    char tmpl[] = "/tmp/weir-aws-home-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    home_ = tmpl;
    std::filesystem::create_directories(home_ + "/.aws");
    env_["HOME"] = home_;
  }
  void TearDown() override { std::filesystem::remove_all(home_); }

  s3::EnvLookup Env() const {
    return [this](const char* name) -> const char* {
      auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    };
  }
  void WriteAws(const std::string& name, const std::string& text) {
    std::ofstream(home_ + "/.aws/" + name) << text;
  }
  // Writes, lists and reads back a file through a client of the chain.
  Status RoundTrip(const Configuration& config, const std::string& name) {
    WEIR_ASSIGN_OR_RETURN(s3::S3Options o, s3::S3OptionsFromConfig(config, Env()));
    o.retry.initial_backoff_ms = 5;
    auto fs = s3::NewS3FileSystem(std::make_shared<s3::S3Client>(o));
    WEIR_ASSIGN_OR_RETURN(auto f, fs->NewWritableFile(Path(name)));
    WEIR_RETURN_IF_ERROR(f->Append("through the chain"));
    WEIR_RETURN_IF_ERROR(f->Close());
    WEIR_ASSIGN_OR_RETURN(FileStatus st, fs->Stat(Path(name)));
    if (st.size != 17) return Status::Internal("size " + std::to_string(st.size));
    return Status::OK();
  }

  std::string home_;
  std::map<std::string, std::string> env_;
};

TEST_F(S3CredentialChainTest, AProfileOfTheSharedFilesNeedsNoS3Key) {
  const auto& gw = rgw_->endpoint();
  WriteAws("credentials",
           "[default]\naws_access_key_id = not-this-one\n"
           "aws_secret_access_key = nor-this\n\n[rgw]\naws_access_key_id = " +
               gw.access_key + "\naws_secret_access_key = " + gw.secret_key + "\n");
  WriteAws("config", "[profile rgw]\nregion = us-east-1\nendpoint_url = " + gw.endpoint +
                         "\ns3 =\n    addressing_style = path\n");
  env_["AWS_PROFILE"] = "rgw";
  Status s = RoundTrip(Configuration{}, "profile");
  EXPECT_TRUE(s.ok()) << s.message();

  // The default profile's keys are wrong: without AWS_PROFILE the gateway refuses them, by code.
  env_.erase("AWS_PROFILE");
  Configuration config;
  ASSERT_TRUE(config.Set("s3.endpoint", gw.endpoint).ok());
  ASSERT_TRUE(config.Set("s3.path.style.access", "TRUE").ok());
  s = RoundTrip(config, "default-profile");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(std::regex_search(
      s.message(), std::regex("HTTP 403 (AccessDenied|SignatureDoesNotMatch|InvalidAccessKeyId)")))
      << s.message();
  EXPECT_EQ(s.message().find("nor-this"), std::string::npos) << s.message();
}

TEST_F(S3CredentialChainTest, TheEnvironmentNeedsNoS3KeyEither) {
  const auto& gw = rgw_->endpoint();
  env_["AWS_ACCESS_KEY_ID"] = gw.access_key;
  env_["AWS_SECRET_ACCESS_KEY"] = gw.secret_key;
  env_["AWS_ENDPOINT_URL"] = gw.endpoint;
  env_["AWS_REGION"] = "us-east-1";
  Configuration config;
  ASSERT_TRUE(config.Set("s3.path.style.access", "true").ok());
  Status s = RoundTrip(config, "environment");
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST_F(S3CredentialChainTest, ASessionTokenFromStsIsSentAndNeverShown) {
  std::string token;
  auto temporary = rgw_->SessionCredentials(&token);
  ASSERT_TRUE(temporary.ok()) << temporary.status().message();
  env_["AWS_ACCESS_KEY_ID"] = temporary->access_key;
  env_["AWS_SECRET_ACCESS_KEY"] = temporary->secret_key;
  env_["AWS_SESSION_TOKEN"] = token;
  Configuration config;
  ASSERT_TRUE(config.Set("s3.endpoint", temporary->endpoint).ok());
  ASSERT_TRUE(config.Set("s3.path-style-access", "true").ok());
  Status s = RoundTrip(config, "session");
  EXPECT_TRUE(s.ok()) << s.message();

  // The same temporary keys without their token are refused: the token is what was sent.
  env_.erase("AWS_SESSION_TOKEN");
  s = RoundTrip(config, "session-without-token");
  EXPECT_FALSE(s.ok());

  // A wrong secret with the token: refused, and neither the token nor a secret is in the error.
  env_["AWS_SESSION_TOKEN"] = token;
  env_["AWS_SECRET_ACCESS_KEY"] = "wrong-temporary-secret";
  s = RoundTrip(config, "session-wrong-secret");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("HTTP 403"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find(token), std::string::npos);
  EXPECT_EQ(s.message().find("wrong-temporary-secret"), std::string::npos);
}

}  // namespace
}  // namespace weir
