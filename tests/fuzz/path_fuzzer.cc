// Fuzzes the checks that stand between outside input and a path: the relative-path grammar, the
// identifier grammar and the storage-path schemes. Whatever they accept must be harmless: no
// component that leaves the directory, no separator or control character in an identifier, no
// scheme weir does not know.
#include <cctype>
#include <cstdlib>
#include <string>
#include <string_view>

#include "io/file_system.h"
#include "io/owned_directory.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (weir::ValidateRelativePath(input).ok()) {
    if (input.empty() || input.front() == '/') std::abort();
    if (input == ".." || input.rfind("../", 0) == 0 || input.find("/../") != std::string::npos ||
        (input.size() >= 3 && input.substr(input.size() - 3) == "/..")) {
      std::abort();
    }
    for (unsigned char c : input) {
      if (c < 0x20 || c == 0x7f) std::abort();
    }
  }
  if (weir::ValidateIdentifier("fuzz", input).ok()) {
    if (input.empty() || input.size() > 128 || input.front() == '.') std::abort();
    if (input.find_first_of("/\\\n\r\t ") != std::string_view::npos) std::abort();
  }
  if (auto normalized = weir::NormalizeStoragePath(input); normalized.ok()) {
    const size_t sep = normalized->find("://");
    if (sep != std::string::npos && normalized->rfind("s3://", 0) != 0) {
      // Only a string that is not a scheme at all ("./a://b") may keep a "://".
      const std::string scheme = normalized->substr(0, sep);
      if (!scheme.empty() && scheme.find_first_of("/.") == std::string::npos &&
          std::isalpha(static_cast<unsigned char>(scheme.front())) &&
          scheme.find_first_not_of(
              "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-") ==
              std::string::npos) {
        std::abort();
      }
    }
  }
  return 0;
}
