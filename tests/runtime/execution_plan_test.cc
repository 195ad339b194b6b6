#include "runtime/execution_plan.h"

#include <gtest/gtest.h>

#include "weir/connectors.h"
#include "weir/job.h"

namespace weir {
namespace {

JobGraph Pipeline(int sink_parallelism) {
  JobBuilder job("pipeline");
  job.AddSource(GeneratorSource<uint64_t>(10, [](uint64_t i) { return i; }), "gen")
      .Uid("gen")
      .Map([](const uint64_t& i) { return i * 2; }, "double")
      .Filter([](const uint64_t& i) { return i % 3 != 0; })
      .KeyBy([](const uint64_t& i) { return i % 5; })
      .Process<std::string>(
          [] { return std::unique_ptr<KeyedProcessFunction<uint64_t, uint64_t, std::string>>(); },
          "agg")
      .Uid("agg")
      .SinkTo(FileSink("/nonexistent"), "sink")
      .Uid("sink")
      .SetParallelism(sink_parallelism);
  return job.Build();
}

TEST(ExecutionPlanTest, ChainsForwardOperatorsAndBreaksAtKeyBy) {
  auto plan = PlanExecution(Pipeline(0), 4, 128);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_EQ(plan->vertices.size(), 2u);
  EXPECT_EQ(plan->vertices[0].operators, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(plan->vertices[1].operators, (std::vector<int>{3, 4}));
  EXPECT_TRUE(plan->vertices[1].keyed());
  EXPECT_EQ(plan->vertices[0].consumers, std::vector<int>{1});
  EXPECT_EQ(plan->vertices[1].parallelism, 4);
  // Derived uids name the place in the graph.
  EXPECT_EQ(plan->uids[1], "1-double");
  EXPECT_EQ(plan->uids[2], "2-filter");
  EXPECT_EQ(plan->TaskId(1, 3), "agg#3");
}

TEST(ExecutionPlanTest, DifferentParallelismRebalancesInsteadOfChaining) {
  auto plan = PlanExecution(Pipeline(1), 4, 128);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->vertices.size(), 3u);
  EXPECT_EQ(plan->vertices[2].operators, std::vector<int>{4});
  EXPECT_EQ(plan->vertices[2].parallelism, 1);
  EXPECT_EQ(plan->vertices[2].input_partitioning, Partitioning::kRebalance);
}

TEST(ExecutionPlanTest, RejectsBadUidsAndKeyedParallelismAboveMax) {
  JobGraph g = Pipeline(0);
  g.operators[1].uid = "gen";
  EXPECT_NE(PlanExecution(g, 1, 128).status().message().find("two operators have the uid 'gen'"),
            std::string::npos);
  g.operators[1].uid = "a/b";
  EXPECT_NE(PlanExecution(g, 1, 128).status().message().find("'a/b'"), std::string::npos);
  auto too_wide = PlanExecution(Pipeline(0), 200, 128);
  EXPECT_NE(too_wide.status().message().find("above pipeline.max-parallelism"), std::string::npos);
}

TEST(ExecutionPlanTest, RestoreCompatibility) {
  auto plan = PlanExecution(Pipeline(0), 2, 128);
  ASSERT_TRUE(plan.ok());
  CheckpointMetadata m;
  m.checkpoint_id = 4;
  EXPECT_NE(CheckRestoreCompatibility(*plan, "pipeline", m, "x/_metadata")
                .message()
                .find("records no job operators"),
            std::string::npos);
  m.operators = {{"gen", 2}, {"agg", 2}, {"sink", 2}, {"old-stateless", 3}};
  m.operator_states = {{"gen", 0, "p"}, {"gen", 1, "p"}};
  KeyedStateHandle h;
  h.backend_id = "agg_1";
  m.backends.push_back(h);
  EXPECT_TRUE(CheckRestoreCompatibility(*plan, "pipeline", m, "x/_metadata").ok());
  m.operator_states.push_back({"vanished", 0, "p"});
  m.operators.push_back({"vanished", 1});
  Status s = CheckRestoreCompatibility(*plan, "pipeline", m, "x/_metadata");
  EXPECT_NE(s.message().find("holds state of operator 'vanished'"), std::string::npos)
      << s.message();
  m.operator_states.pop_back();
  m.operators.pop_back();
  m.operators[1].parallelism = 3;
  s = CheckRestoreCompatibility(*plan, "pipeline", m, "x/_metadata");
  EXPECT_NE(s.message().find("operator 'agg' ran with parallelism 3"), std::string::npos)
      << s.message();
}

}  // namespace
}  // namespace weir
