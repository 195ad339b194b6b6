// Fuzzes the file source's record reader: for any file content, the lines it emits joined with
// '\n' are the content (without a final newline), and a restore from any position it reported
// emits exactly the rest. Also feeds arbitrary bytes as a restored position: refused or used,
// never a crash.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "weir/connectors.h"

namespace {

class Context final : public weir::OperatorContext {
 public:
  const std::string& job_id() const override { return id_; }
  const std::string& operator_uid() const override { return id_; }
  int subtask() const override { return 0; }
  int parallelism() const override { return 1; }
  bool checkpointing_enabled() const override { return true; }
  const weir::Configuration& configuration() const override { return config_; }
  weir::KeyedStateBackend* keyed_state() override { return nullptr; }
  weir::TimerService* timers() override { return nullptr; }
  std::string_view current_key() const override { return {}; }

 private:
  std::string id_ = "fuzz";
  weir::Configuration config_;
};

class Lines final : public weir::Output {
 public:
  void Emit(weir::Record r) override { lines.push_back(std::any_cast<std::string>(r)); }
  std::vector<std::string> lines;
};

// Reads everything from `restored` on; the positions after each poll of `batch` lines go to
// `positions`.
std::vector<std::string> ReadAll(const std::string& path,
                                 const std::optional<std::string>& restored, size_t batch,
                                 std::vector<std::string>* positions, bool* refused) {
  Context ctx;
  auto source = weir::FileSource(path).factory();
  Lines out;
  if (!source->Open(ctx, restored).ok()) {
    *refused = true;
    return {};
  }
  while (true) {
    auto poll = source->Poll(out, batch);
    if (!poll.ok()) std::abort();
    if (positions != nullptr) positions->push_back(*source->SnapshotState(0));
    if (poll->state == weir::SourcePoll::State::kEndOfInput) break;
  }
  return out.lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const std::string path = "/tmp/weir-fuzz-file-source-" + std::to_string(::getpid());
  const size_t batch = 1 + data[0] % 4;
  const std::string content(reinterpret_cast<const char*>(data) + 1, size - 1);
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << content;
  }
  bool refused = false;
  std::vector<std::string> positions;
  const auto lines = ReadAll(path, std::nullopt, batch, &positions, &refused);
  if (refused) std::abort();
  std::string joined;
  for (size_t i = 0; i < lines.size(); ++i) joined += (i ? "\n" : "") + lines[i];
  std::string expected = content;
  if (!expected.empty() && expected.back() == '\n') expected.pop_back();
  if (joined != expected) std::abort();
  // Resuming from each reported position emits exactly the remaining lines.
  size_t emitted = 0;
  for (size_t p = 0; p < positions.size(); ++p) {
    emitted = std::min(lines.size(), (p + 1) * batch);
    const auto rest = ReadAll(path, positions[p], batch, nullptr, &refused);
    if (refused) std::abort();
    if (rest != std::vector<std::string>(lines.begin() + static_cast<long>(emitted), lines.end())) {
      std::abort();
    }
  }
  // The content as a position: refused, or it names this file and reads on from somewhere.
  refused = false;
  (void)ReadAll(path, content, batch, nullptr, &refused);
  return 0;
}
