// Log: one line per event on stderr, "<UTC time> <LEVEL> <message>". Thread-safe (one write per
// line). WEIR_LOG_LEVEL=warn (or error) quiets info lines.
#pragma once

#include <string_view>

namespace weir {

enum class LogLevel { kInfo = 0, kWarn = 1, kError = 2 };

// `text` with control characters (and DEL) shown as \xNN: safe in a log line. Log() applies it
// to every message, so a crafted identifier cannot forge or break log lines.
std::string EscapeForLog(std::string_view text);

void Log(LogLevel level, std::string_view message);
inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarn(std::string_view m) { Log(LogLevel::kWarn, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }

}  // namespace weir
