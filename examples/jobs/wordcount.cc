// wordcount: lines of a file (or directory) -> words -> count per word in keyed state -> an
// exactly-once file sink of "word,count" lines, one per occurrence (the running count).
#include <cctype>

#include "bundled_jobs.h"
#include "job_args.h"
#include "weir/connectors.h"
#include "weir/job.h"

namespace weir::examples {
namespace {

class CountWords final : public KeyedProcessFunction<std::string, std::string, std::string> {
 public:
  Status Open(KeyedStateBackend& state, const RuntimeInfo&) override {
    WEIR_ASSIGN_OR_RETURN(count_, state.GetValueState(ValueStateDescriptor<int64_t>{"count"}));
    return Status::OK();
  }
  Status ProcessElement(const std::string& word, Context&, Collector<std::string>& out) override {
    WEIR_ASSIGN_OR_RETURN(std::optional<int64_t> count, count_->Value());
    const int64_t next = count.value_or(0) + 1;
    WEIR_RETURN_IF_ERROR(count_->Update(next));
    out.Collect(word + "," + std::to_string(next));
    return Status::OK();
  }

 private:
  ValueState<int64_t>* count_ = nullptr;
};

void SplitWords(const std::string& line, Collector<std::string>& out) {
  std::string word;
  for (char c : line) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (!word.empty()) {
      out.Collect(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) out.Collect(std::move(word));
}

}  // namespace

Result<JobGraph> BuildWordCount(const std::vector<std::string>& args) {
  CLI::App app{"count words", "wordcount"};
  std::string input, output;
  app.add_option("--input", input, "a text file or a directory of them")->required();
  int64_t rate = 0;
  app.add_option("--output", output, "directory of the committed output")->required();
  app.add_option("--rate", rate, "lines per second over all source subtasks; 0: unbounded")
      ->check(CLI::NonNegativeNumber);
  WEIR_RETURN_IF_ERROR(ParseJobArgs(app, args));

  JobBuilder job("wordcount");
  job.AddSource(FileSource(input, rate), "lines")
      .Uid("lines")
      .FlatMap<std::string>(&SplitWords, "split")
      .Uid("split")
      .KeyBy([](const std::string& word) { return word; })
      .Process<std::string>(MakeFactory<CountWords>(), "count")
      .Uid("count")
      .SinkTo(FileSink(output), "sink")
      .Uid("sink");
  return job.Build();
}

}  // namespace weir::examples
