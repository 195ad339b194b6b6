// Fuzzes the YAML configuration reader: any text is accepted (every key known, every value valid)
// or refused with one error; a refused text changes no setting.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "weir/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;  // configuration files are small
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  weir::Configuration config;
  if (!config.Set(weir::config::kParallelism, "3").ok()) std::abort();
  const auto before = config.values();
  const weir::Status s = config.LoadYamlString(text, "fuzz.yaml");
  if (!s.ok()) {
    if (config.values() != before) std::abort();
    if (s.message().find("fuzz.yaml") == std::string::npos) std::abort();
    return 0;
  }
  // Whatever was accepted reads back as a valid value of its key.
  for (const auto& [key, value] : config.values()) {
    weir::Configuration check;
    if (!check.Set(key, value).ok()) std::abort();
  }
  return 0;
}
