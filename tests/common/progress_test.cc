#include "common/progress.h"

#include <gtest/gtest.h>

#include <vector>

namespace weir {
namespace {

struct Fake {
  int64_t now = 0;
  std::vector<std::string> lines;
  ProgressOptions Options(bool terminal) {
    ProgressOptions o;
    o.terminal = terminal;
    o.interval_ms = 1000;
    o.first_report_ms = 500;
    o.now_ms = [this] { return now; };
    o.write = [this](std::string_view l) { lines.emplace_back(l); };
    return o;
  }
};

TEST(ProgressTest, QuickOperationsPrintNothing) {
  Fake f;
  {
    Progress p("verify x", 3, 3 << 20, f.Options(false));
    p.Add(3, 3 << 20);
    f.now = 400;
  }
  EXPECT_TRUE(f.lines.empty());
}

TEST(ProgressTest, ReportsFilesBytesShareAndRateEveryInterval) {
  Fake f;
  Progress p("restore of op_0", 10, 100 << 20, f.Options(false));
  f.now = 600;
  p.Add(2, 20 << 20);  // first report: after first_report_ms
  f.now = 900;
  p.Add(1, 10 << 20);  // within the interval: quiet
  f.now = 2000;
  p.Add(2, 20 << 20);
  p.Finish();
  p.Finish();  // idempotent
  ASSERT_EQ(f.lines.size(), 3u);
  EXPECT_EQ(f.lines[0], "restore of op_0: 2/10 files, 20.0/100.0 MiB (20%), 33.3 MiB/s");
  EXPECT_EQ(f.lines[1], "restore of op_0: 5/10 files, 50.0/100.0 MiB (50%), 25.0 MiB/s");
  EXPECT_EQ(f.lines[2],
            "restore of op_0: 5/10 files, 50.0/100.0 MiB (50%), 25.0 MiB/s \xE2\x80\x94 done");
}

}  // namespace
}  // namespace weir
