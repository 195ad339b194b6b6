// Flink's configuration files as a Flink user brings them: Flink's own sample config.yaml (every
// key it documents) loads with one warning per key weir has no use for and sets the keys weir
// shares; a file with Flink 2.x key names and Flink's value spellings runs a job whose checkpoints
// follow it (interval, incremental, retained count, directory).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "testing/temp_dir.h"
#include "weir_process.h"

namespace weir::e2e {
namespace {

std::string Sample() {
  return std::string(WEIR_SOURCE_DIR) + "/tests/e2e/testdata/flink-sample-config.yaml";
}

TEST(FlinkConfigTest, FlinksSampleConfigLoadsWithOneWarningPerIgnoredKey) {
  testing::TempDir tmp;
  const ProcessResult r = RunWeir({"config", "check", "--config", Sample()}, -1, tmp.Sub("err"));
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const std::string out = WeirOutput("config check --config " + Sample());
  // The keys weir shares with Flink, under weir's names, with the sample's values.
  for (const char* line :
       {"parallelism.default: 1\n", "state.backend.type: hashmap\n",
        "state.backend.incremental: false\n", "execution.checkpointing.interval: 3min\n",
        "execution.checkpointing.max-concurrent-checkpoints: 1\n",
        "execution.checkpointing.mode: EXACTLY_ONCE\n",
        "execution.checkpointing.unaligned: false\n",
        "state.checkpoints.dir: hdfs://namenode-host:port/flink-checkpoints\n",
        "rest.bind-address: localhost\n", "rest.port: 8081\n"}) {
    EXPECT_NE(out.find(line), std::string::npos) << line << " not in:\n" << out;
  }
  // Every cluster key is named once in a warning, nothing else is said.
  std::istringstream lines(r.stderr_text);
  std::set<std::string> warned;
  std::string l;
  while (std::getline(lines, l)) {
    const size_t a = l.find("configuration key '"), b = l.find("' is Flink's and has no effect");
    ASSERT_TRUE(a != std::string::npos && b != std::string::npos) << "not a warning: " << l;
    const std::string key = l.substr(a + 19, b - a - 19);
    EXPECT_TRUE(warned.insert(key).second) << key << " warned twice";
  }
  for (const char* key : {"env.java.opts.all",
                          "jobmanager.bind-host",
                          "jobmanager.rpc.address",
                          "jobmanager.rpc.port",
                          "jobmanager.memory.process.size",
                          "jobmanager.execution.failover-strategy",
                          "jobmanager.archive.fs.dir",
                          "taskmanager.bind-host",
                          "taskmanager.host",
                          "taskmanager.numberOfTaskSlots",
                          "taskmanager.memory.process.size",
                          "taskmanager.memory.network.fraction",
                          "fs.default-scheme",
                          "high-availability.type",
                          "high-availability.storageDir",
                          "high-availability.zookeeper.quorum",
                          "high-availability.zookeeper.client.acl",
                          "rest.address",
                          "rest.bind-port",
                          "web.submit.enable",
                          "web.cancel.enable",
                          "io.tmp.dirs",
                          "classloader.resolve.order",
                          "security.kerberos.login.keytab",
                          "zookeeper.sasl.service-name",
                          "zookeeper.sasl.login-context-name",
                          "historyserver.web.port",
                          "historyserver.archive.fs.dir"}) {
    EXPECT_TRUE(warned.count(key)) << key << " not warned about";
  }
}

TEST(FlinkConfigTest, AnUnknownKeyStaysAnErrorWithASuggestion) {
  testing::TempDir tmp;
  std::ofstream(tmp.Sub("typo.yaml")) << "execution:\n  checkpointing:\n    intervall: 1s\n";
  const ProcessResult r =
      RunWeir({"config", "check", "--config", tmp.Sub("typo.yaml")}, -1, tmp.Sub("err"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.stderr_text.find("unknown configuration key 'execution.checkpointing.intervall'"),
            std::string::npos)
      << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("did you mean 'execution.checkpointing.interval'"),
            std::string::npos)
      << r.stderr_text;
}

TEST(FlinkConfigTest, Flink2NamesAndSpellingsRunAJobWithThoseCheckpoints) {
  testing::TempDir tmp;
  const std::string dir = tmp.Sub("checkpoints");
  std::ofstream(tmp.Sub("config.yaml")) << "# Flink 2.x names, Flink's spellings of values\n"
                                        << "parallelism.default: 2\n"
                                        << "state.backend.type: rocksdb\n"
                                        << "execution:\n"
                                        << "  checkpointing:\n"
                                        << "    interval: 100 ms\n"
                                        << "    incremental: TRUE\n"
                                        << "    dir: " << dir << "\n"
                                        << "    num-retained: 3\n"
                                        << "    timeout: 1 min\n"
                                        << "    unaligned:\n"
                                        << "      enabled: False\n"
                                        << "restart-strategy:\n"
                                        << "  type: fixed-delay\n"
                                        << "jobmanager.memory.process.size: 1600m\n";
  const ProcessResult r =
      RunWeir({"run", "--config", tmp.Sub("config.yaml"), "-D",
               "state.backend.rocksdb.localdir=" + tmp.Sub("local"), "keyed-aggregate", "--events",
               "40000", "--keys", "500", "--rate", "40000", "--output", tmp.Sub("out")},
              -1, tmp.Sub("err"));
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("'jobmanager.memory.process.size' is Flink's"), std::string::npos)
      << r.stderr_text;
  const auto listed = nlohmann::json::parse(WeirOutput("checkpoints list --json " + dir));
  ASSERT_TRUE(listed.is_array());
  EXPECT_EQ(listed.size(), 3u) << listed.dump();  // num-retained
  for (const auto& c : listed) {
    EXPECT_EQ(c["path"].get<std::string>().rfind(dir, 0), 0u) << c.dump();  // dir
    if (c["id"].get<int>() > 1) {
      EXPECT_EQ(c["kind"], "incremental") << c.dump();
    }
  }
}

}  // namespace
}  // namespace weir::e2e
