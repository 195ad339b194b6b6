#include "web/metrics.h"

#include <fmt/format.h>

#include <map>

namespace weir::web {
namespace {

// Label values escape backslash, double quote and newline.
std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

class Exposition {
 public:
  explicit Exposition(std::string job_labels) : job_labels_(std::move(job_labels)) {}
  // One metric family with one sample per label set ("" = the job's labels only).
  void Family(const std::string& name, const char* type, const std::string& help,
              const std::vector<std::pair<std::string, double>>& samples) {
    text_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    for (const auto& [labels, value] : samples) {
      text_ += name + "{" + job_labels_ + (labels.empty() ? "" : "," + labels) + "} " +
               fmt::format("{}", value) + "\n";
    }
  }
  void One(const std::string& name, const char* type, const std::string& help, double value) {
    Family(name, type, help, {{"", value}});
  }
  std::string text() const { return text_; }

 private:
  std::string job_labels_;
  std::string text_;
};

}  // namespace

std::string PrometheusText(JobRuntime& job, int64_t now) {
  Exposition e("job_id=\"" + Escape(job.job_id()) + "\",job_name=\"" + Escape(job.graph().name) +
               "\"");
  const JobStatusView st = job.status();
  e.One("weir_job_uptime_seconds", "gauge", "Seconds since the job started.",
        st.start_unix_ms == 0 ? 0 : static_cast<double>(now - st.start_unix_ms) / 1e3);
  e.One("weir_job_restarts_total", "counter", "Restarts after failures.", st.restarts);
  e.One("weir_job_running", "gauge", "1 while the job runs.",
        st.state == JobState::kRunning ? 1 : 0);

  const auto stats = job.checkpoint_stats();
  const CheckpointStatsSnapshot s = stats.value_or(CheckpointStatsSnapshot{});
  e.One("weir_checkpoints_completed_total", "counter", "Checkpoints completed.",
        static_cast<double>(s.completed));
  e.One("weir_checkpoints_failed_total", "counter",
        "Checkpoints failed, declined, expired or aborted.", static_cast<double>(s.failed));
  e.One("weir_checkpoints_in_progress", "gauge", "Checkpoints in progress.",
        static_cast<double>(s.in_progress));
  e.One("weir_checkpoints_restored_total", "counter", "Restores from a checkpoint.",
        static_cast<double>(s.restored));
  const CheckpointStats last = s.latest_completed.value_or(CheckpointStats{});
  e.One("weir_last_checkpoint_id", "gauge", "Id of the latest completed checkpoint (0: none).",
        static_cast<double>(last.checkpoint_id));
  e.One("weir_last_checkpoint_duration_seconds", "gauge",
        "End-to-end duration of the latest completed checkpoint.",
        static_cast<double>(last.end_unix_ms - last.trigger_unix_ms) / 1e3);
  e.One("weir_last_checkpoint_size_bytes", "gauge", "Bytes the latest completed checkpoint wrote.",
        static_cast<double>(last.checkpointed_bytes));
  e.One("weir_last_checkpoint_full_size_bytes", "gauge",
        "Full state size the latest completed checkpoint describes.",
        static_cast<double>(last.full_bytes));
  e.One("weir_last_checkpoint_completed_timestamp_seconds", "gauge",
        "Unix time of the latest completed checkpoint (0: none).",
        static_cast<double>(last.end_unix_ms) / 1e3);

  // Per operator (the head of each task chain), summed over its subtasks.
  // Watermarks: the least over the subtasks, kMinWatermark while one has none.
  std::map<std::string, Task::Metrics> by_operator;
  for (const auto& m : job.task_metrics()) {
    auto [it, first] = by_operator.try_emplace(m.head_uid);
    auto& sum = it->second;
    sum.records_in += m.records_in;
    sum.records_out += m.records_out;
    sum.backpressure_ns += m.backpressure_ns;
    sum.input_watermark =
        first ? m.input_watermark : std::min(sum.input_watermark, m.input_watermark);
    sum.output_watermark =
        first ? m.output_watermark : std::min(sum.output_watermark, m.output_watermark);
  }
  std::vector<std::pair<std::string, double>> in, out, blocked, input_wm, output_wm;
  for (const auto& [uid, m] : by_operator) {
    const std::string label = "operator=\"" + Escape(uid) + "\"";
    in.push_back({label, static_cast<double>(m.records_in)});
    out.push_back({label, static_cast<double>(m.records_out)});
    blocked.push_back({label, static_cast<double>(m.backpressure_ns) / 1e9});
    // Only operators with a watermark: an absent sample says "none" better than -2^63.
    if (m.input_watermark != kMinWatermark) {
      input_wm.push_back({label, static_cast<double>(m.input_watermark) / 1e3});
    }
    if (m.output_watermark != kMinWatermark) {
      output_wm.push_back({label, static_cast<double>(m.output_watermark) / 1e3});
    }
  }
  e.Family("weir_operator_records_in_total", "counter",
           "Records the operator's subtasks received from their input channels.", in);
  e.Family("weir_operator_records_out_total", "counter",
           "Records the operator's subtasks sent to the next operator.", out);
  e.Family("weir_operator_backpressure_seconds_total", "counter",
           "Time the operator's subtasks waited on full output channels (backpressure).", blocked);
  e.Family("weir_operator_input_watermark_seconds", "gauge",
           "Event time (Unix seconds) the operator's input watermark reached: the least over its "
           "subtasks (Flink's currentInputWatermark); absent until every subtask has one.",
           input_wm);
  e.Family("weir_operator_output_watermark_seconds", "gauge",
           "Event time (Unix seconds) of the watermark the operator's chain last emitted: the "
           "least over its subtasks (Flink's currentOutputWatermark).",
           output_wm);
  return e.text();
}

}  // namespace weir::web
