// The AWS credential and region chain (io/s3/aws_config.h) with an injected environment and
// shared files in a temporary HOME: precedence, profiles, session tokens, malformed files.
#include "io/s3/aws_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "io/s3/s3_client.h"

namespace weir::s3 {
namespace {

class AwsConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/weir-aws-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    home_ = tmpl;
    std::filesystem::create_directories(home_ + "/.aws");
    env_["HOME"] = home_;
  }
  void TearDown() override { std::filesystem::remove_all(home_); }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(home_ + "/.aws/" + name) << text;
  }
  EnvLookup Env() const {
    return [this](const char* name) -> const char* {
      auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    };
  }
  Result<AwsSettings> Resolve(const Configuration& config = {}) {
    return ResolveAwsSettings(config, Env());
  }

  std::string home_;
  std::map<std::string, std::string> env_;
};

constexpr char kCredentials[] =
    "# comment\n"
    "[default]\n"
    "aws_access_key_id = DEFAULTKEY\n"
    "aws_secret_access_key = default-secret\n"
    "\n"
    "[ceph]\n"
    "aws_access_key_id=CEPHKEY\r\n"
    "aws_secret_access_key=ceph-secret\r\n"
    "aws_session_token = ceph-token\n";
constexpr char kConfig[] =
    "[default]\n"
    "region = eu-west-1\n"
    "[profile ceph]\n"
    "region = us-west-2\n"
    "endpoint_url = http://127.0.0.1:7480\n"
    "s3 =\n"
    "  addressing_style = path\n"
    "  max_concurrent_requests = 4\n"
    "output = json\n";

TEST_F(AwsConfigTest, TheDefaultProfileOfTheSharedFiles) {
  Write("credentials", kCredentials);
  Write("config", kConfig);
  auto s = Resolve();
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->access_key, "DEFAULTKEY");
  EXPECT_EQ(s->secret_key, "default-secret");
  EXPECT_EQ(s->session_token, "");
  EXPECT_EQ(s->region, "eu-west-1");
  EXPECT_EQ(s->endpoint, "");
  EXPECT_FALSE(s->path_style);
  EXPECT_NE(s->credentials_source.find("profile 'default'"), std::string::npos);
}

TEST_F(AwsConfigTest, AwsProfileSelectsCredentialsRegionEndpointAndAddressing) {
  Write("credentials", kCredentials);
  Write("config", kConfig);
  env_["AWS_PROFILE"] = "ceph";
  auto s = Resolve();
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->access_key, "CEPHKEY");
  EXPECT_EQ(s->secret_key, "ceph-secret");
  EXPECT_EQ(s->session_token, "ceph-token");
  EXPECT_EQ(s->region, "us-west-2");
  EXPECT_EQ(s->endpoint, "http://127.0.0.1:7480");
  EXPECT_TRUE(s->path_style);
}

TEST_F(AwsConfigTest, AwsDefaultProfileIsTheOlderNameAndAwsProfileWins) {
  Write("credentials", kCredentials);
  env_["AWS_DEFAULT_PROFILE"] = "ceph";
  auto s = Resolve();
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->access_key, "CEPHKEY");
  env_["AWS_PROFILE"] = "default";
  s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->access_key, "DEFAULTKEY");
}

TEST_F(AwsConfigTest, CredentialsInTheConfigFileCount) {
  Write("config", "[profile only-config]\naws_access_key_id = K\naws_secret_access_key = S\n");
  env_["AWS_PROFILE"] = "only-config";
  auto s = Resolve();
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->access_key, "K");
  EXPECT_EQ(s->region, "us-east-1");
}

TEST_F(AwsConfigTest, EnvironmentBeatsProfilesAndConfigurationBeatsEnvironment) {
  Write("credentials", kCredentials);
  Write("config", kConfig);
  env_["AWS_PROFILE"] = "ceph";
  env_["AWS_ACCESS_KEY_ID"] = "ENVKEY";
  env_["AWS_SECRET_ACCESS_KEY"] = "env-secret";
  env_["AWS_SESSION_TOKEN"] = "env-token";
  env_["AWS_DEFAULT_REGION"] = "ap-south-1";
  env_["AWS_ENDPOINT_URL"] = "http://env:1";
  auto s = Resolve();
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->access_key, "ENVKEY");
  EXPECT_EQ(s->session_token, "env-token");
  EXPECT_EQ(s->region, "ap-south-1");
  EXPECT_EQ(s->endpoint, "http://env:1");
  EXPECT_TRUE(s->path_style);  // still the profile's: the environment says nothing about it

  env_["AWS_REGION"] = "sa-east-1";
  env_["AWS_ENDPOINT_URL_S3"] = "http://env-s3:2";
  s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->region, "sa-east-1");
  EXPECT_EQ(s->endpoint, "http://env-s3:2");

  Configuration config;
  ASSERT_TRUE(config.Set("s3.access-key", "CONFKEY").ok());
  ASSERT_TRUE(config.Set("s3.secret-key", "conf-secret").ok());
  ASSERT_TRUE(config.Set("s3.region", "us-east-2").ok());
  ASSERT_TRUE(config.Set("s3.endpoint", "http://conf:3").ok());
  ASSERT_TRUE(config.Set("s3.path.style.access", "FALSE").ok());  // Flink's spelling
  s = Resolve(config);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->access_key, "CONFKEY");
  EXPECT_EQ(s->secret_key, "conf-secret");
  EXPECT_EQ(s->session_token, "");  // the environment's token belongs to its keys
  EXPECT_EQ(s->region, "us-east-2");
  EXPECT_EQ(s->endpoint, "http://conf:3");
  EXPECT_FALSE(s->path_style);
}

TEST_F(AwsConfigTest, FileLocationsFollowTheirVariables) {
  Write("elsewhere-credentials", "[default]\naws_access_key_id = E\naws_secret_access_key = S\n");
  Write("elsewhere-config", "[default]\nregion = eu-north-1\n");
  env_["AWS_SHARED_CREDENTIALS_FILE"] = home_ + "/.aws/elsewhere-credentials";
  env_["AWS_CONFIG_FILE"] = "~/.aws/elsewhere-config";
  auto s = Resolve();
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->access_key, "E");
  EXPECT_EQ(s->region, "eu-north-1");
}

TEST_F(AwsConfigTest, HalfACredentialOrAMissingProfileIsOneErrorNamingItAndNoSecret) {
  Write("credentials", "[half]\naws_secret_access_key = half-secret\n");
  env_["AWS_PROFILE"] = "half";
  auto s = Resolve();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("profile 'half'"), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find("no aws_access_key_id"), std::string::npos);
  EXPECT_EQ(s.status().message().find("half-secret"), std::string::npos);

  env_["AWS_PROFILE"] = "nowhere";
  s = Resolve();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("'nowhere' (AWS_PROFILE) is in neither"), std::string::npos)
      << s.status().message();

  env_.erase("AWS_PROFILE");
  env_["AWS_ACCESS_KEY_ID"] = "K";
  s = Resolve();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("AWS_SECRET_ACCESS_KEY is not"), std::string::npos)
      << s.status().message();

  env_.erase("AWS_ACCESS_KEY_ID");
  Configuration config;
  ASSERT_TRUE(config.Set("s3.secret-key", "only-secret").ok());
  s = Resolve(config);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("s3.access-key is not"), std::string::npos)
      << s.status().message();
  EXPECT_EQ(s.status().message().find("only-secret"), std::string::npos);
}

TEST_F(AwsConfigTest, NoCredentialsAnywhereSaysWhereTheyWereLookedFor) {
  auto s = Resolve();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("AWS_ACCESS_KEY_ID"), std::string::npos);
  EXPECT_NE(s.status().message().find(home_ + "/.aws/credentials"), std::string::npos)
      << s.status().message();
}

TEST_F(AwsConfigTest, MalformedFilesNameFileAndLineNotTheValue) {
  Write("credentials", "[default]\naws_access_key_id = K\nsecret-without-equals\n");
  auto s = Resolve();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find(home_ + "/.aws/credentials:3"), std::string::npos)
      << s.status().message();
  EXPECT_EQ(s.status().message().find("secret-without-equals"), std::string::npos);

  EXPECT_FALSE(ParseAwsIni("key = before-any-section\n", "f").ok());
  EXPECT_FALSE(ParseAwsIni("[unclosed\n", "f").ok());
  auto ok = ParseAwsIni("; c\n[a]\n  # indented comment\nx = 1 = 2\n", "f");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)["a"]["x"], "1 = 2");
}

TEST_F(AwsConfigTest, S3OptionsCarryTheResolvedChain) {
  Write("credentials", kCredentials);
  Write("config", kConfig);
  env_["AWS_PROFILE"] = "ceph";
  auto o = S3OptionsFromConfig(Configuration{}, Env());
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->access_key, "CEPHKEY");
  EXPECT_EQ(o->session_token, "ceph-token");
  EXPECT_EQ(o->endpoint, "http://127.0.0.1:7480");
  EXPECT_TRUE(o->path_style);
  EXPECT_EQ(o->region, "us-west-2");
}

}  // namespace
}  // namespace weir::s3
