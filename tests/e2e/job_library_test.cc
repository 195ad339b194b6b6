// A job library built outside weir's build (only the public headers, the system compiler and the
// commands of docs/jobs.md) runs under `weir run path/to/lib.so` with checkpoints.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "testing/output_oracle.h"
#include "testing/temp_dir.h"
#include "weir_process.h"

namespace weir::e2e {
namespace {

TEST(JobLibraryTest, BuildsAgainstThePublicHeadersAndRuns) {
  testing::TempDir tmp;
  const std::string library = tmp.Sub("liblinelengths.so");
  const std::string compile = std::string(WEIR_CXX) + " -std=c++20 -O1 -fPIC -shared -I " +
                              WEIR_SOURCE_DIR + "/include " + WEIR_SOURCE_DIR +
                              "/examples/plugin/line_lengths.cc -o " + library + " 2>&1";
  ASSERT_EQ(std::system(compile.c_str()), 0) << compile;
  std::map<std::string, testing::KeyTotals> expected;
  {
    std::ofstream in(tmp.Sub("text.txt"));
    for (int i = 0; i < 3000; ++i) {
      const std::string line(static_cast<size_t>(i % 57), 'x');
      in << line << "\n";
      ++expected[std::to_string(line.size() / 10 * 10)].count;
    }
  }
  const auto r = RunWeir({"run", "-D", "execution.checkpointing.interval=20ms", "-D",
                          "state.checkpoints.dir=" + tmp.Sub("checkpoints"), library, "--input",
                          tmp.Sub("text.txt"), "--output", tmp.Sub("out")},
                         -1, tmp.Sub("stderr.txt"));
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const Status exact = testing::CheckRunningCounts(tmp.Sub("out"), expected);
  EXPECT_TRUE(exact.ok()) << exact.message();
}

TEST(JobLibraryTest, ALibraryWithoutAJobIsOneClearError) {
  testing::TempDir tmp;
  std::ofstream(tmp.Sub("empty.cc")) << "int not_a_job() { return 1; }\n";
  const std::string library = tmp.Sub("libempty.so");
  const std::string compile =
      std::string(WEIR_CXX) + " -fPIC -shared " + tmp.Sub("empty.cc") + " -o " + library + " 2>&1";
  ASSERT_EQ(std::system(compile.c_str()), 0);
  const auto r = RunWeir({"run", library}, -1, tmp.Sub("stderr.txt"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.stderr_text.find("does not define a job"), std::string::npos) << r.stderr_text;
  const auto missing = RunWeir({"run", tmp.Sub("libmissing.so")}, -1, tmp.Sub("stderr.txt"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.stderr_text.find("cannot be loaded"), std::string::npos) << missing.stderr_text;
}

}  // namespace
}  // namespace weir::e2e
