// A job built outside weir's build, as a shared library against weir's public headers only:
// counts the lines of a text file (or directory) by length, in buckets of 10 characters, with
// keyed state, and writes "bucket,count" lines (the running count) to an exactly-once file sink.
//
//   c++ -std=c++20 -O2 -fPIC -shared -I <weir checkout>/include line_lengths.cc -o
//   liblinelengths.so weir run ./liblinelengths.so --input README.md --output /tmp/line-lengths
//
// (See docs/jobs.md.)
#include <weir/connectors.h>
#include <weir/job.h>
#include <weir/job_plugin.h>

#include <string>
#include <vector>

namespace {

class CountPerBucket final : public weir::KeyedProcessFunction<int64_t, int64_t, std::string> {
 public:
  weir::Status Open(weir::KeyedStateBackend& state, const weir::RuntimeInfo&) override {
    WEIR_ASSIGN_OR_RETURN(count_,
                          state.GetValueState(weir::ValueStateDescriptor<int64_t>{"count"}));
    return weir::Status::OK();
  }
  weir::Status ProcessElement(const int64_t& bucket, Context&,
                              weir::Collector<std::string>& out) override {
    WEIR_ASSIGN_OR_RETURN(std::optional<int64_t> count, count_->Value());
    const int64_t next = count.value_or(0) + 1;
    WEIR_RETURN_IF_ERROR(count_->Update(next));
    out.Collect(std::to_string(bucket) + "," + std::to_string(next));
    return weir::Status::OK();
  }

 private:
  weir::ValueState<int64_t>* count_ = nullptr;
};

weir::Result<weir::JobGraph> BuildLineLengths(const std::vector<std::string>& args) {
  std::string input, output;
  for (size_t i = 0; i + 1 < args.size(); i += 2) {
    if (args[i] == "--input")
      input = args[i + 1];
    else if (args[i] == "--output")
      output = args[i + 1];
    else
      return weir::Status::InvalidArgument("line-lengths: unknown argument " + args[i]);
  }
  if (input.empty() || output.empty()) {
    return weir::Status::InvalidArgument(
        "line-lengths: --input FILE and --output DIR are required");
  }
  weir::JobBuilder job("line-lengths");
  job.AddSource(weir::FileSource(input), "lines")
      .Uid("lines")
      .Map([](const std::string& line) { return static_cast<int64_t>(line.size() / 10 * 10); },
           "bucket")
      .KeyBy([](const int64_t& bucket) { return bucket; })
      .Process<std::string>(weir::MakeFactory<CountPerBucket>(), "count")
      .Uid("count")
      .SinkTo(weir::FileSink(output), "sink")
      .Uid("sink");
  return job.Build();
}

}  // namespace

WEIR_JOB(BuildLineLengths)
