#include "runtime/execution_plan.h"

#include <gtest/gtest.h>

#include "runtime/restore_assignment.h"
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
  EXPECT_NE(CheckRestoreCompatibility(*plan, "pipeline", m, "x/_metadata", false)
                .message()
                .find("records no job operators"),
            std::string::npos);
  m.operators = {{"gen", 2}, {"agg", 2}, {"sink", 2}, {"old-stateless", 3}};
  m.operator_states = {{"gen", 0, std::nullopt, {{"splits", OperatorStateMode::kSplit, {"a"}}}},
                       {"gen", 1, std::nullopt, {{"splits", OperatorStateMode::kSplit, {"b"}}}}};
  KeyedStateHandle h;
  h.backend_id = "agg_1";
  m.backends.push_back(h);
  EXPECT_TRUE(CheckRestoreCompatibility(*plan, "pipeline", m, "x/_metadata", false).ok());
  // State of an operator the job no longer has: refused, naming it, unless allowed.
  m.operator_states.push_back({"vanished", 0, "p", {}});
  m.operators.push_back({"vanished", 1});
  Status s = CheckRestoreCompatibility(*plan, "pipeline", m, "x/_metadata", false);
  EXPECT_NE(s.message().find("operator(s) 'vanished'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("--allow-non-restored-state"), std::string::npos) << s.message();
  EXPECT_TRUE(CheckRestoreCompatibility(*plan, "pipeline", m, "x/_metadata", true).ok());
  m.operator_states.pop_back();
  m.operators.pop_back();
  // Keyed state and list state restore at another parallelism.
  m.operators[0].parallelism = 3;
  m.operators[1].parallelism = 3;
  EXPECT_TRUE(CheckRestoreCompatibility(*plan, "pipeline", m, "x/_metadata", false).ok());
  // Opaque operator state does not.
  m.operator_states[0].opaque = "pos";
  s = CheckRestoreCompatibility(*plan, "pipeline", m, "x/_metadata", false);
  EXPECT_NE(s.message().find("operator 'gen' ran with parallelism 3"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("opaque operator state"), std::string::npos) << s.message();
  // Keyed state of an operator that is not keyed in the job.
  m.operator_states[0].opaque.reset();
  m.backends[0].backend_id = "gen_0";
  s = CheckRestoreCompatibility(*plan, "pipeline", m, "x/_metadata", false);
  EXPECT_NE(s.message().find("the job's operator is not keyed"), std::string::npos) << s.message();
  // A changed max parallelism is refused, naming both values.
  m.backends[0].backend_id = "agg_0";
  m.backends[0].max_parallelism = 64;
  s = CheckRestoreCompatibility(*plan, "pipeline", m, "x/_metadata", true);
  EXPECT_NE(s.message().find("max parallelism 64, the job has 128"), std::string::npos)
      << s.message();
}

// Which handles each subtask restores after a rescale, and the refusal of handles that do not
// tile the key groups.
TEST(ExecutionPlanTest, RestoreAssignmentByKeyGroupRange) {
  auto plan = PlanExecution(Pipeline(0), 3, 128);
  ASSERT_TRUE(plan.ok());
  CheckpointMetadata m;
  m.checkpoint_id = 9;
  m.operators = {{"gen", 2}, {"agg", 2}, {"sink", 2}};
  for (int s = 0; s < 2; ++s) {
    KeyedStateHandle h;
    h.backend_id = "agg_" + std::to_string(s);
    h.key_group_range = KeyGroupRange::ForSubtask(128, 2, s);
    m.backends.push_back(h);
    m.operator_states.push_back(
        {"gen",
         s,
         std::nullopt,
         {{"splits", OperatorStateMode::kSplit, {"g" + std::to_string(s), "h"}},
          {"seen", OperatorStateMode::kUnion, {"u" + std::to_string(s)}}}});
  }
  auto a = AssignRestoredState(*plan, m, "x/_metadata");
  ASSERT_TRUE(a.ok()) << a.status().message();
  // 3 subtasks over [0,42] [43,85] [86,127]; the old halves are [0,63] [64,127].
  const auto ids = [&](int subtask) {
    std::vector<std::string> out;
    for (const auto& h : a->KeyedHandles("agg", KeyGroupRange::ForSubtask(128, 3, subtask))) {
      out.push_back(h.backend_id);
    }
    return out;
  };
  EXPECT_EQ(ids(0), (std::vector<std::string>{"agg_0"}));
  EXPECT_EQ(ids(1), (std::vector<std::string>{"agg_0", "agg_1"}));
  EXPECT_EQ(ids(2), (std::vector<std::string>{"agg_1"}));
  // Split entries g0 h g1 h over 3 subtasks: 2, 1, 1; the union list whole to each.
  ASSERT_NE(a->OperatorState("gen", 0), nullptr);
  EXPECT_EQ(a->OperatorState("gen", 0)->lists[0].entries, (std::vector<std::string>{"g0", "h"}));
  EXPECT_EQ(a->OperatorState("gen", 1)->lists[0].entries, (std::vector<std::string>{"g1"}));
  EXPECT_EQ(a->OperatorState("gen", 2)->lists[0].entries, (std::vector<std::string>{"h"}));
  for (int s = 0; s < 3; ++s) {
    EXPECT_EQ(a->OperatorState("gen", s)->lists[1].entries, (std::vector<std::string>{"u0", "u1"}));
  }
  EXPECT_EQ(a->OperatorState("sink", 0), nullptr);  // no state in the checkpoint
  // At the same parallelism split lists stay with their subtask, union lists go to all.
  auto same = AssignRestoredState(*PlanExecution(Pipeline(0), 2, 128), m, "x/_metadata");
  ASSERT_TRUE(same.ok()) << same.status().message();
  EXPECT_EQ(same->OperatorState("gen", 1)->lists[0].entries, (std::vector<std::string>{"g1", "h"}));
  EXPECT_EQ(same->OperatorState("gen", 1)->lists[1].entries,
            (std::vector<std::string>{"u0", "u1"}));
  // Handles that leave key groups out, or hold one twice, are corrupt.
  m.backends[1].key_group_range.start = 70;
  auto gap = AssignRestoredState(*plan, m, "x/_metadata");
  EXPECT_NE(gap.status().message().find("lacks key groups 64 to 69"), std::string::npos)
      << gap.status().message();
  m.backends[1].key_group_range.start = 60;
  auto twice = AssignRestoredState(*plan, m, "x/_metadata");
  EXPECT_NE(twice.status().message().find("holds key group 60 twice"), std::string::npos)
      << twice.status().message();
}

}  // namespace
}  // namespace weir
