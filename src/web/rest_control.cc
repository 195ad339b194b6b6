#include "web/rest_control.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "web/web_options.h"

namespace weir::web {

bool IsLoopbackAddress(std::string_view address) {
  return address == "localhost" || address == "::1" || address == "[::1]" ||
         address.starts_with("127.");
}

Result<std::string> ReadTokenFile(const std::string& path) {
  const std::string key(config::kRestTokenFile.key);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status::InvalidArgument(key + ": " + path + " cannot be read (" + std::strerror(errno) +
                                   ")");
  }
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(key + ": " + path + " is not a file");
  if ((st.st_mode & 077) != 0) {
    return Status::InvalidArgument(key + ": " + path +
                                   " is readable or writable by other users than its owner "
                                   "(chmod 600 it): a token others can read protects nothing");
  }
  std::ifstream in(path);
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ' || token.back() == '\t'))
    token.pop_back();
  while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.erase(0, 1);
  if (token.empty()) return Status::InvalidArgument(key + ": " + path + " holds no token");
  return token;
}

Result<RestControlOptions> RestControlFromConfig(const Configuration& config,
                                                 const std::string& address) {
  RestControlOptions o;
  const std::string token_file = config.Get(config::kRestTokenFile);
  if (!token_file.empty()) {
    WEIR_ASSIGN_OR_RETURN(o.token, ReadTokenFile(token_file));
  }
  const bool loopback = IsLoopbackAddress(address);
  switch (config.Get(config::kRestControl)) {
    case config::RestControl::kAuto:
      o.enabled = loopback;
      if (!o.enabled) {
        o.disabled_reason = "job control over REST is off on the non-loopback address " + address +
                            " (set " + std::string(config::kRestControl.key) + ": true with " +
                            std::string(config::kRestTokenFile.key) + ")";
      }
      break;
    case config::RestControl::kTrue:
      if (!loopback && o.token.empty()) {
        return Status::InvalidArgument(
            std::string(config::kRestControl.key) + " is true on the non-loopback address " +
            address + " but " + std::string(config::kRestTokenFile.key) +
            " is not set: anyone who reaches the port could stop the job");
      }
      o.enabled = true;
      break;
    case config::RestControl::kFalse:
      o.disabled_reason = "job control over REST is disabled (" +
                          std::string(config::kRestControl.key) + ": false)";
      break;
  }
  return o;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Every byte of `a` is compared against a byte of `b` (cycled), so the time depends only on
  // the length of `a`, the caller's input.
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  if (b.empty()) return a.empty();
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i % b.size()]);
  }
  volatile unsigned sink = diff;
  return sink == 0;
}

}  // namespace weir::web
