#include "io/s3/aws_config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "io/s3/s3_options.h"

namespace weir::s3 {
namespace {

std::string Trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

std::string Lookup(const EnvLookup& env, const char* name) {
  const char* v = env(name);
  return v ? std::string(v) : std::string();
}

// One of the two shared files: its path and, when it exists, its sections.
struct SharedFile {
  std::string path;
  AwsIniFile sections;
};

Result<SharedFile> LoadSharedFile(const EnvLookup& env, const char* override_var,
                                  const char* default_name) {
  SharedFile file;
  file.path = Lookup(env, override_var);
  if (file.path.empty()) {
    const std::string home = Lookup(env, "HOME");
    if (home.empty()) return file;  // no home: no shared files
    file.path = home + "/.aws/" + default_name;
  } else if (file.path.starts_with("~/")) {
    file.path = Lookup(env, "HOME") + file.path.substr(1);
  }
  std::ifstream in(file.path, std::ios::binary);
  if (!in) return file;  // like every AWS client: a missing file is an empty one
  std::ostringstream text;
  text << in.rdbuf();
  WEIR_ASSIGN_OR_RETURN(file.sections, ParseAwsIni(text.str(), file.path));
  return file;
}

// The profile's section: "[name]" in the credentials file; "[profile name]" (or "[default]") in
// the config file.
const std::map<std::string, std::string>* Section(const SharedFile& file,
                                                  const std::string& profile, bool config_file) {
  const std::string name = config_file && profile != "default" ? "profile " + profile : profile;
  auto it = file.sections.find(name);
  if (it == file.sections.end() && config_file && profile == "default") {
    it = file.sections.find("profile default");
  }
  return it == file.sections.end() ? nullptr : &it->second;
}

std::string Get(const std::map<std::string, std::string>* section, const std::string& key) {
  if (section == nullptr) return "";
  auto it = section->find(key);
  return it == section->end() ? "" : it->second;
}

// Takes the credentials of `section` if it has any; an access key without a secret (or the
// reverse) is an error naming where.
Result<bool> TakeProfileCredentials(const std::map<std::string, std::string>* section,
                                    const std::string& where, AwsSettings* out) {
  const std::string key = Get(section, "aws_access_key_id");
  const std::string secret = Get(section, "aws_secret_access_key");
  if (key.empty() && secret.empty()) return false;
  if (key.empty() || secret.empty()) {
    return Status::InvalidArgument(where + " has " +
                                   (key.empty()
                                        ? "aws_secret_access_key but no aws_access_key_id"
                                        : "aws_access_key_id but no aws_secret_access_key"));
  }
  out->access_key = key;
  out->secret_key = secret;
  out->session_token = Get(section, "aws_session_token");
  if (out->session_token.empty()) out->session_token = Get(section, "aws_security_token");
  out->credentials_source = where;
  return true;
}

}  // namespace

EnvLookup ProcessEnvironment() {
  return [](const char* name) -> const char* { return std::getenv(name); };
}

Result<AwsIniFile> ParseAwsIni(std::string_view text, const std::string& source) {
  AwsIniFile file;
  std::string section;
  bool in_section = false;
  std::string nested;  // the key of an "s3 =" block being read, or empty
  int line_no = 0;
  size_t at = 0;
  while (at <= text.size()) {
    const size_t end = std::min(text.find('\n', at), text.size());
    const std::string_view raw = text.substr(at, end - at);
    at = end + 1;
    ++line_no;
    const std::string line = Trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    // (Values are never quoted in messages: they may be secrets.)
    const std::string where = source + ":" + std::to_string(line_no);
    if (line[0] == '[') {
      if (line.back() != ']') {
        return Status::InvalidArgument(where + ": a section header without its closing ']'");
      }
      section = Trim(line.substr(1, line.size() - 2));
      in_section = true;
      nested.clear();
      file[section];
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidArgument(where + ": expected 'name = value' or '[section]'");
    }
    if (!in_section) {
      return Status::InvalidArgument(where + ": a setting before the first [section]");
    }
    const std::string key = Trim(line.substr(0, eq));
    const std::string value = Trim(line.substr(eq + 1));
    if (key.empty()) return Status::InvalidArgument(where + ": a setting without a name");
    const bool indented = raw.starts_with(' ') || raw.starts_with('\t');
    if (indented && !nested.empty()) {
      file[section][nested + "." + key] = value;
      continue;
    }
    nested = value.empty() ? key : "";
    if (!value.empty()) file[section][key] = value;
  }
  return file;
}

Result<AwsSettings> ResolveAwsSettings(const Configuration& config, const EnvLookup& env) {
  AwsSettings out;
  // AWS_DEFAULT_PROFILE: the older name the AWS CLI still reads.
  std::string explicit_profile = Lookup(env, "AWS_PROFILE");
  if (explicit_profile.empty()) explicit_profile = Lookup(env, "AWS_DEFAULT_PROFILE");
  const std::string profile = explicit_profile.empty() ? "default" : explicit_profile;
  WEIR_ASSIGN_OR_RETURN(const SharedFile credentials,
                        LoadSharedFile(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials"));
  WEIR_ASSIGN_OR_RETURN(const SharedFile shared_config,
                        LoadSharedFile(env, "AWS_CONFIG_FILE", "config"));
  const auto* cred_section = Section(credentials, profile, /*config_file=*/false);
  const auto* config_section = Section(shared_config, profile, /*config_file=*/true);

  // Credentials: the first source that has any.
  const std::string key_option(config::kS3AccessKey.key), secret_option(config::kS3SecretKey.key);
  out.access_key = config.Get(config::kS3AccessKey);
  out.secret_key = config.Get(config::kS3SecretKey);
  const std::string env_key = Lookup(env, "AWS_ACCESS_KEY_ID");
  const std::string env_secret = Lookup(env, "AWS_SECRET_ACCESS_KEY");
  if (!out.access_key.empty() || !out.secret_key.empty()) {
    // A key from the configuration and a secret from elsewhere would be a guess: both or none.
    if (out.access_key.empty() || out.secret_key.empty()) {
      return Status::InvalidArgument((out.access_key.empty() ? secret_option : key_option) +
                                     " is set but " +
                                     (out.access_key.empty() ? key_option : secret_option) +
                                     " is not: set both, or neither to use the AWS chain");
    }
    out.credentials_source = key_option + " and " + secret_option;
  } else if (!env_key.empty() || !env_secret.empty()) {
    if (env_key.empty() || env_secret.empty()) {
      return Status::InvalidArgument(
          std::string(env_key.empty() ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID") +
          " is set but " + (env_key.empty() ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY") +
          " is not");
    }
    out.access_key = env_key;
    out.secret_key = env_secret;
    out.session_token = Lookup(env, "AWS_SESSION_TOKEN");
    out.credentials_source = "the environment (AWS_ACCESS_KEY_ID)";
  } else {
    if (!explicit_profile.empty() && cred_section == nullptr && config_section == nullptr) {
      return Status::InvalidArgument(
          "AWS profile '" + profile + "' (AWS_PROFILE) is in neither " +
          (credentials.path.empty() ? "~/.aws/credentials" : credentials.path) + " nor " +
          (shared_config.path.empty() ? "~/.aws/config" : shared_config.path));
    }
    WEIR_ASSIGN_OR_RETURN(
        bool found, TakeProfileCredentials(
                        cred_section, "profile '" + profile + "' of " + credentials.path, &out));
    if (!found) {
      WEIR_ASSIGN_OR_RETURN(
          found, TakeProfileCredentials(
                     config_section, "profile '" + profile + "' of " + shared_config.path, &out));
    }
    if (!found) {
      return Status::InvalidArgument(
          "S3 credentials missing: set s3.access-key and s3.secret-key, or AWS_ACCESS_KEY_ID and "
          "AWS_SECRET_ACCESS_KEY, or give profile '" +
          profile + "' an aws_access_key_id and aws_secret_access_key in " +
          (credentials.path.empty() ? "~/.aws/credentials" : credentials.path));
    }
  }

  // Region, endpoint and addressing: explicit keys first, then the environment, then the profile.
  if (config.IsSet(config::kS3Region.key)) {
    out.region = config.Get(config::kS3Region);
  } else if (std::string r = Lookup(env, "AWS_REGION"); !r.empty()) {
    out.region = r;
  } else if (std::string d = Lookup(env, "AWS_DEFAULT_REGION"); !d.empty()) {
    out.region = d;
  } else if (std::string p = Get(config_section, "region"); !p.empty()) {
    out.region = p;
  } else {
    out.region = config.Get(config::kS3Region);
  }
  out.endpoint = config.Get(config::kS3Endpoint);
  if (out.endpoint.empty()) out.endpoint = Lookup(env, "AWS_ENDPOINT_URL_S3");
  if (out.endpoint.empty()) out.endpoint = Lookup(env, "AWS_ENDPOINT_URL");
  if (out.endpoint.empty()) out.endpoint = Get(config_section, "endpoint_url");
  if (config.IsSet(config::kS3PathStyle.key)) {
    out.path_style = config.Get(config::kS3PathStyle);
  } else {
    out.path_style = Get(config_section, "s3.addressing_style") == "path";
  }
  return out;
}

}  // namespace weir::s3
