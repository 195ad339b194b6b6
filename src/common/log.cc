#include "common/log.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <string>

namespace weir {
namespace {

LogLevel MinLevel() {
  static const LogLevel level = [] {
    const char* env = std::getenv("WEIR_LOG_LEVEL");
    const std::string v = env ? env : "";
    if (v == "warn") return LogLevel::kWarn;
    if (v == "error") return LogLevel::kError;
    return LogLevel::kInfo;
  }();
  return level;
}

}  // namespace

std::string EscapeForLog(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

void Log(LogLevel level, std::string_view message) {
  if (level < MinLevel()) return;
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
  static const char* kNames[] = {"INFO ", "WARN ", "ERROR"};
  std::string line = std::string(stamp) + "." + std::to_string(1000 + ms).substr(1) + " " +
                     kNames[static_cast<int>(level)] + " " + EscapeForLog(message) + "\n";
  // One write(2) per line, so lines from several threads do not interleave.
  (void)!::write(2, line.data(), line.size());
}

}  // namespace weir
