// Fuzzes the file source's record reader: for any file content, the lines it emits joined with
// '\n' are the content (without a final newline), and a restore from any position it reported
// emits exactly the rest. Also feeds arbitrary bytes as a restored position (an entry of its
// position list, and the opaque state of an older checkpoint): refused or used, never a crash.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "weir/connectors.h"

namespace {

// Lists by name; the mode is not checked here (the runtime's store is tested on its own).
class Store final : public weir::OperatorStateStore {
 public:
  explicit Store(std::optional<std::vector<std::string>> positions) {
    restored_ = positions.has_value();
    if (positions) lists_["file-positions"] = *positions;
  }
  bool is_restored() const override { return restored_; }
  weir::Result<std::vector<std::string>*> GetListState(std::string_view name) override {
    return &lists_[std::string(name)];
  }
  weir::Result<std::vector<std::string>*> GetUnionListState(std::string_view name) override {
    return &lists_[std::string(name)];
  }
  std::vector<std::string> positions() { return lists_["file-positions"]; }

 private:
  bool restored_ = false;
  std::map<std::string, std::vector<std::string>> lists_;
};

class Context final : public weir::OperatorContext {
 public:
  explicit Context(std::optional<std::vector<std::string>> positions)
      : store_(std::move(positions)) {}
  const std::string& job_id() const override { return id_; }
  const std::string& operator_uid() const override { return id_; }
  int subtask() const override { return 0; }
  int parallelism() const override { return 1; }
  bool checkpointing_enabled() const override { return true; }
  const weir::Configuration& configuration() const override { return config_; }
  weir::KeyedStateBackend* keyed_state() override { return nullptr; }
  weir::TimerService* timers() override { return nullptr; }
  std::string_view current_key() const override { return {}; }
  Store& operator_state() override { return store_; }

 private:
  std::string id_ = "fuzz";
  weir::Configuration config_;
  Store store_;
};

class Lines final : public weir::Output {
 public:
  void Emit(weir::Record r) override { lines.push_back(std::any_cast<std::string>(r)); }
  std::vector<std::string> lines;
};

using Positions = std::vector<std::string>;  // the source's position list

// Reads everything from `restored` (a position list) or `legacy` (an older checkpoint's opaque
// state) on; the positions after each poll of `batch` lines go to `positions`.
std::vector<std::string> ReadAll(const std::string& path, const std::optional<Positions>& restored,
                                 const std::optional<std::string>& legacy, size_t batch,
                                 std::vector<Positions>* positions, bool* refused) {
  Context ctx(restored);
  auto source = weir::FileSource(path).factory();
  Lines out;
  if (!source->Open(ctx, legacy).ok()) {
    *refused = true;
    return {};
  }
  while (true) {
    auto poll = source->Poll(out, batch);
    if (!poll.ok()) std::abort();
    if (positions != nullptr) {
      if (!source->SnapshotState(0).ok()) std::abort();
      positions->push_back(ctx.operator_state().positions());
    }
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
  std::vector<Positions> positions;
  const auto lines = ReadAll(path, std::nullopt, std::nullopt, batch, &positions, &refused);
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
    const auto rest = ReadAll(path, positions[p], std::nullopt, batch, nullptr, &refused);
    if (refused) std::abort();
    if (rest != std::vector<std::string>(lines.begin() + static_cast<long>(emitted), lines.end())) {
      std::abort();
    }
  }
  // The content as a position: refused, or it names this file and reads on from somewhere.
  refused = false;
  (void)ReadAll(path, Positions{content}, std::nullopt, batch, nullptr, &refused);
  refused = false;
  (void)ReadAll(path, std::nullopt, content, batch, nullptr, &refused);
  return 0;
}
