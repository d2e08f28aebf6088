#include "src/mount_options.h"

#include <arpa/inet.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "smb2/client/names.h"
#include "src/target.h"

namespace smbgate {

const char kMountUsage[] =
    "usage: smbgate mount //HOST[:PORT]/SHARE[/SUBDIR] MOUNTPOINT "
    "--credentials "
    "PATH [--config FILE] [-o OPTIONS] [--foreground]";

namespace {

class MountOptionsCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "smbgate.mount_options"; }
  std::string message(int ev) const override {
    switch (static_cast<mount_options_errc>(ev)) {
      case mount_options_errc::usage:
        return "bad usage";
      case mount_options_errc::unknown_option:
        return "unknown option";
      case mount_options_errc::bad_value:
        return "bad option value";
      case mount_options_errc::password_refused:
        return "password given as an option";
      case mount_options_errc::config_unreadable:
        return "config file unreadable";
      case mount_options_errc::config_syntax:
        return "config file malformed";
    }
    return "unknown mount options error";
  }
};

constexpr std::size_t kMaxConfigFileSize = 1 << 20;

std::string Quote(std::string_view v) {
  std::string out = "\"";
  for (char ch : v) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += ch;
    }
  }
  out += '"';
  return out;
}

bool ParseUnsigned(std::string_view s, std::uint64_t max, std::uint64_t* out) {
  if (s.empty()) return false;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
  if (ec != std::errc() || p != s.data() + s.size() || v > max) return false;
  *out = v;
  return true;
}

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return c >= '0' && c <= '9'; });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// getpwnam_r/getgrnam_r with a buffer that grows on ERANGE (large groups).
template <class Entry, class Fn>
bool LookUpName(const std::string& name, Fn fn, Entry* entry) {
  std::vector<char> buf(16384);
  for (;;) {
    Entry* found = nullptr;
    const int rc = fn(name.c_str(), entry, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (std::size_t{1} << 24)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    return rc == 0 && found != nullptr;
  }
}

// Each setter stores a valid value or explains, in `why`, what is wrong with
// it (without the option's name, which the caller adds).
using Setter = bool (*)(MountConfig*, std::string_view, std::string* why);
using FlagSetter = void (*)(MountConfig*, bool);

bool SetUid(MountConfig* c, std::string_view v, std::string* why) {
  std::uint64_t n = 0;
  // (uid_t)-1 means "no change" to chown(2); never a real owner.
  if (IsDigits(v)) {
    if (!ParseUnsigned(v, 0xFFFFFFFEu, &n)) {
      *why = Quote(v) + " is not a user id (0 to 4294967294) or a user name";
      return false;
    }
    c->uid = static_cast<uid_t>(n);
    return true;
  }
  struct passwd pw {};
  if (v.empty() || !LookUpName(std::string(v), getpwnam_r, &pw)) {
    *why = Quote(v) + " is not a user id or the name of a known user";
    return false;
  }
  c->uid = pw.pw_uid;
  return true;
}

bool SetGid(MountConfig* c, std::string_view v, std::string* why) {
  std::uint64_t n = 0;
  if (IsDigits(v)) {
    if (!ParseUnsigned(v, 0xFFFFFFFEu, &n)) {
      *why = Quote(v) + " is not a group id (0 to 4294967294) or a group name";
      return false;
    }
    c->gid = static_cast<gid_t>(n);
    return true;
  }
  struct group gr {};
  if (v.empty() || !LookUpName(std::string(v), getgrnam_r, &gr)) {
    *why = Quote(v) + " is not a group id or the name of a known group";
    return false;
  }
  c->gid = gr.gr_gid;
  return true;
}

// Octal like mount.cifs (strtoul base 8): "0644", "644", and YAML 1.2's
// "0o644".
bool ParseMode(std::string_view v, mode_t* out, std::string* why) {
  std::string_view digits = v;
  if (digits.size() > 2 && digits[0] == '0' &&
      (digits[1] == 'o' || digits[1] == 'O')) {
    digits.remove_prefix(2);
  }
  unsigned value = 0;
  bool ok = !digits.empty() && digits.size() <= 6;
  for (char ch : digits) {
    if (ch < '0' || ch > '7') {
      ok = false;
      break;
    }
    value = value * 8 + static_cast<unsigned>(ch - '0');
  }
  if (!ok || value > 07777) {
    *why = Quote(v) + " is not an octal mode like 0644 (0000 to 07777)";
    return false;
  }
  *out = static_cast<mode_t>(value);
  return true;
}

bool SetFileMode(MountConfig* c, std::string_view v, std::string* why) {
  return ParseMode(v, &c->file_mode, why);
}

bool SetDirMode(MountConfig* c, std::string_view v, std::string* why) {
  return ParseMode(v, &c->dir_mode, why);
}

bool SetDomain(MountConfig* c, std::string_view v, std::string* why) {
  const bool bad = std::any_of(v.begin(), v.end(), [](char ch) {
    const auto u = static_cast<unsigned char>(ch);
    return u < 0x20 || u == 0x7f || ch == '\\' || ch == '/' || ch == '@';
  });
  if (v.empty() || v.size() > 255 || bad) {
    *why = Quote(v) + " is not a domain name (like CORP or corp.example.com)";
    return false;
  }
  c->domain = std::string(v);
  return true;
}

bool SetVers(MountConfig* c, std::string_view v, std::string* why) {
  if (v == "default") {
    c->vers.reset();
    return true;
  }
  auto d = smb2::ParseDialect(v);
  if (!d) {
    *why = Quote(v) +
           " is not an SMB dialect (use 2.0, 2.1, 3.0, 3.02, 3.1.1 or default)";
    return false;
  }
  c->vers = *d;
  return true;
}

// Seconds from `lo` to 3600 (a decimal number) into *out; else the reason,
// with `example` as a value that would do.
bool SetSeconds(double* out, double lo, std::string_view v, std::string_view example, std::string* why) {
  double d = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d, std::chars_format::fixed);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || !std::isfinite(d) || d < lo || d > 3600) {
    *why = Quote(v) + " is not a number of seconds from " + (lo == 0 ? "0" : "1") + " to 3600 (like " +
           std::string(example) + ")";
    return false;
  }
  *out = d;
  return true;
}

bool SetActimeo(MountConfig* c, std::string_view v, std::string* why) {
  return SetSeconds(&c->actimeo, 0, v, "1 or 0.5", why);
}

bool SetCloseTimeo(MountConfig* c, std::string_view v, std::string* why) {
  return SetSeconds(&c->closetimeo, 0, v, "1, or 0 to close at once", why);
}

bool SetSoftTimeout(MountConfig* c, std::string_view v, std::string* why) {
  return SetSeconds(&c->soft_timeout, 1, v, "60", why);
}

bool SetCache(MountConfig* c, std::string_view v, std::string* why) {
  if (v == "strict") {
    c->cache = MountConfig::Cache::kStrict;
  } else if (v == "loose") {
    c->cache = MountConfig::Cache::kLoose;
  } else if (v == "none") {
    c->cache = MountConfig::Cache::kNone;
  } else {
    *why = Quote(v) + " is not a cache mode (use strict, loose or none)";
    return false;
  }
  return true;
}

bool ParseIoSize(std::string_view v, std::uint32_t* out, std::string* why) {
  std::uint64_t n = 0;
  if (!ParseUnsigned(v, 16u << 20, &n) || (n != 0 && n < 4096)) {
    *why = Quote(v) +
           " is not a size in bytes from 4096 to 16777216 (or 0 for the "
           "server's maximum)";
    return false;
  }
  *out = static_cast<std::uint32_t>(n);
  return true;
}

bool SetRsize(MountConfig* c, std::string_view v, std::string* why) {
  return ParseIoSize(v, &c->rsize, why);
}

bool SetWsize(MountConfig* c, std::string_view v, std::string* why) {
  return ParseIoSize(v, &c->wsize, why);
}

bool SetLogLevel(MountConfig* c, std::string_view v, std::string* why) {
  auto level = ParseLogLevel(v);
  if (!level) {
    *why = Quote(v) +
           " is not a log level (use trace, debug, info, warn or error)";
    return false;
  }
  c->log_level = std::string(LogLevelName(*level));
  return true;
}

bool SetLogFormat(MountConfig* c, std::string_view v, std::string* why) {
  if (v == "text") {
    c->log_format = LogFormat::kText;
  } else if (v == "json") {
    c->log_format = LogFormat::kJson;
  } else {
    *why = Quote(v) + " is not a log format (use text or json)";
    return false;
  }
  return true;
}

// `PORT` (loopback), `IPV4:PORT`, `[IPV6]:PORT`, `localhost:PORT`, or `off`.
bool SetMetrics(MountConfig* c, std::string_view v, std::string* why) {
  if (v == "off") {
    c->metrics_address.clear();
    c->metrics_port = 0;
    return true;
  }
  const std::string bad =
      Quote(v) +
      " is not ADDRESS:PORT, [IPV6]:PORT or PORT (like 127.0.0.1:9100 or "
      "9100; port 1 to 65535)";
  std::string address = "127.0.0.1";
  std::string_view port = v;
  if (!IsDigits(v)) {
    std::string_view host;
    if (!v.empty() && v.front() == '[') {
      const auto close = v.find("]:");
      if (close == std::string_view::npos) {
        *why = bad;
        return false;
      }
      host = v.substr(1, close - 1);
      port = v.substr(close + 2);
      in6_addr a6{};
      if (inet_pton(AF_INET6, std::string(host).c_str(), &a6) != 1) {
        *why = bad;
        return false;
      }
    } else {
      const auto colon = v.rfind(':');
      if (colon == std::string_view::npos || colon == 0) {
        *why = bad;
        return false;
      }
      host = v.substr(0, colon);
      port = v.substr(colon + 1);
      in_addr a4{};
      if (host.find(':') != std::string_view::npos) {
        *why = Quote(v) +
               " has an IPv6 address without brackets (write [::1]:9100)";
        return false;
      }
      if (host == "localhost") host = "127.0.0.1";
      if (inet_pton(AF_INET, std::string(host).c_str(), &a4) != 1) {
        *why = Quote(v) +
               " does not start with an IP address (names other than localhost "
               "are not resolved)";
        return false;
      }
    }
    address = std::string(host);
  }
  std::uint64_t p = 0;
  if (!ParseUnsigned(port, 65535, &p) || p == 0) {
    *why = bad;
    return false;
  }
  c->metrics_address = address;
  c->metrics_port = static_cast<std::uint16_t>(p);
  return true;
}

bool SetCredentials(MountConfig* c, std::string_view v, std::string* why) {
  if (v.empty()) {
    *why = "the path is empty";
    return false;
  }
  c->credentials = std::string(v);
  return true;
}

bool SetShare(MountConfig* c, std::string_view v, std::string* why) {
  std::string msg;
  if (!ParseTarget(v, &msg)) {
    *why = msg;
    return false;
  }
  c->target = std::string(v);
  return true;
}

bool SetMountpoint(MountConfig* c, std::string_view v, std::string* why) {
  if (v.empty()) {
    *why = "the path is empty";
    return false;
  }
  c->mountpoint = std::string(v);
  return true;
}

bool SetSpn(MountConfig* c, std::string_view v, std::string* why) {
  if (!ValidateSpn(v, why)) return false;
  c->spn = std::string(v);
  return true;
}

void SetReadOnly(MountConfig* c, bool on) { c->read_only = on; }
void SetReadWrite(MountConfig* c, bool on) { c->read_only = !on; }
void SetAllowOther(MountConfig* c, bool on) { c->allow_other = on; }
void SetForeground(MountConfig* c, bool on) { c->foreground = on; }
void SetSeal(MountConfig* c, bool on) { c->seal = on; }
void SetHard(MountConfig* c, bool on) { c->hard = on; }
void SetSoft(MountConfig* c, bool on) { c->hard = !on; }

struct Option {
  std::string_view name;
  Setter set = nullptr;       // options with a value
  FlagSetter flag = nullptr;  // flags: no value on the command line, a
                              // boolean in the config file
  bool config_only = false;   // a key of the config file, not an -o name
};

// Sorted by name (the "known" lists in messages use this order).
constexpr Option kOptions[] = {
    {"actimeo", SetActimeo},
    {"allow_other", nullptr, SetAllowOther},
    {"cache", SetCache},
    {"closetimeo", SetCloseTimeo},
    {"credentials", SetCredentials},
    {"dir_mode", SetDirMode},
    {"domain", SetDomain},
    {"file_mode", SetFileMode},
    {"foreground", nullptr, SetForeground, true},
    {"gid", SetGid},
    {"hard", nullptr, SetHard},
    {"log_format", SetLogFormat},
    {"log_level", SetLogLevel},
    {"metrics", SetMetrics},
    {"mountpoint", SetMountpoint, nullptr, true},
    {"ro", nullptr, SetReadOnly},
    {"rsize", SetRsize},
    {"rw", nullptr, SetReadWrite},
    {"seal", nullptr, SetSeal},
    {"share", SetShare, nullptr, true},
    {"soft", nullptr, SetSoft},
    {"soft_timeout", SetSoftTimeout},
    {"spn", SetSpn},
    {"uid", SetUid},
    {"vers", SetVers},
    {"wsize", SetWsize},
};

const Option* FindOption(std::string_view name, bool config_file) {
  for (const auto& o : kOptions) {
    if (o.name == name && (config_file || !o.config_only)) return &o;
  }
  return nullptr;
}

// Mount(8)'s own options that fstab lines and systemd mount units pass to
// every helper; they mean nothing to smbgate. `user=NAME` is what mount(8)
// adds for a user mount (the SMB user name is in the credentials file).
bool IsGenericMountOption(std::string_view name, bool has_value) {
  static constexpr std::string_view kFlags[] = {
      "defaults", "auto",   "noauto",   "user",    "users",      "nouser",
      "_netdev",  "nofail", "exec",     "noexec",  "suid",       "nosuid",
      "dev",      "nodev",  "relatime", "noatime", "nodiratime", "strictatime",
      "lazytime", "async",  "owner",    "group"};
  if (name.rfind("x-", 0) == 0 || name.rfind("X-", 0) == 0) return true;
  if (name == "comment") return true;
  if (name == "user") return true;  // `user` and `user=NAME`
  if (has_value) return false;
  return std::find(std::begin(kFlags), std::end(kFlags), name) !=
         std::end(kFlags);
}

bool IsPasswordName(std::string_view name) {
  const std::string n = Lower(name);
  return n == "password" || n == "pass" || n == "passwd" || n == "password2";
}

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min(
          {row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// ` (did you mean "cache"?); known options: a, b, ...`
std::string KnownList(std::string_view name, bool config_file) {
  std::string best;
  std::size_t best_d = 3;
  std::string list;
  for (const auto& o : kOptions) {
    if (o.config_only && !config_file) continue;
    if (!list.empty()) list += ", ";
    list += o.name;
    const std::size_t d = EditDistance(Lower(name), o.name);
    if (d < best_d && d < o.name.size()) {
      best_d = d;
      best = std::string(o.name);
    }
  }
  std::string out;
  if (!best.empty()) out += " (did you mean \"" + best + "\"?)";
  out += config_file ? "; known keys: " : "; known options: ";
  return out + list;
}

// Why the user name is not an option: a hint for mount.cifs habits.
std::string UnknownOptionMessage(std::string_view name, bool config_file) {
  std::string msg =
      std::string(config_file ? "unknown key " : "unknown option ") +
      Quote(name);
  if (Lower(name) == "username") {
    return msg +
           ": the user name goes in the credentials file (--credentials PATH)";
  }
  return msg + KnownList(name, config_file);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

std::optional<bool> ParseYamlBool(std::string_view v) {
  const std::string l = Lower(v);
  if (l == "true" || l == "yes" || l == "on") return true;
  if (l == "false" || l == "no" || l == "off") return false;
  return std::nullopt;
}

// Prefixes `config PATH:LINE: ` (line from a 0-based yaml-cpp mark).
std::string At(std::string_view path, int line0) {
  std::string out = "config " + std::string(path);
  if (line0 >= 0) out += ":" + std::to_string(line0 + 1);
  return out + ": ";
}

std::string NodeKind(const YAML::Node& n) {
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a mapping";
  return "a non-scalar";
}

}  // namespace

const std::error_category& mount_options_category() noexcept {
  static const MountOptionsCategory category;
  return category;
}

Result<void> ApplyMountOption(std::string_view item, MountConfig* config,
                              std::string* error) {
  std::string scratch;
  if (error == nullptr) error = &scratch;
  const auto eq = item.find('=');
  const std::string_view name = item.substr(0, eq);
  const bool has_value = eq != std::string_view::npos;
  const std::string_view value =
      has_value ? item.substr(eq + 1) : std::string_view();
  if (IsPasswordName(name)) {
    *error = std::string(name) +
             "= is refused: any user can read a program's arguments; put the "
             "password in "
             "the credentials file (--credentials PATH)";
    return mount_options_errc::password_refused;
  }
  if (name == "cred")
    return ApplyMountOption("credentials" + std::string(item.substr(4)), config,
                            error);
  const Option* o = FindOption(name, false);
  if (o == nullptr) {
    if (IsGenericMountOption(name, has_value)) return {};
    *error = UnknownOptionMessage(name, false);
    return mount_options_errc::unknown_option;
  }
  if (o->flag != nullptr) {
    if (has_value) {
      *error = "option " + std::string(name) + " takes no value (write just " +
               std::string(name) + ")";
      return mount_options_errc::bad_value;
    }
    o->flag(config, true);
    return {};
  }
  if (!has_value) {
    *error = "option " + std::string(name) + " needs a value (" +
             std::string(name) + "=...)";
    return mount_options_errc::bad_value;
  }
  std::string why;
  if (!o->set(config, value, &why)) {
    *error = "option " + std::string(name) + ": " + why;
    return mount_options_errc::bad_value;
  }
  return {};
}

Result<void> ApplyConfigYaml(std::string_view yaml,
                             std::string_view display_path, MountConfig* config,
                             std::string* error) {
  std::string scratch;
  if (error == nullptr) error = &scratch;
  // yaml-cpp reports every problem by throwing; none of it leaves this
  // function.
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsDefined() || root.IsNull()) return {};
    if (!root.IsMap()) {
      *error =
          At(display_path, root.Mark().line) +
          "the file must be a mapping of `key: value` lines (like `uid: "
          "1000`), not " +
          (root.IsScalar() ? std::string("a single value") : NodeKind(root));
      return mount_options_errc::config_syntax;
    }
    // Work on a copy: a bad key leaves `config` untouched.
    MountConfig c = *config;
    std::map<std::string, int> seen;
    for (auto it = root.begin(); it != root.end(); ++it) {
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      const int key_line = key.Mark().line;
      const int value_line =
          value.Mark().line >= 0 ? value.Mark().line : key_line;
      if (!key.IsScalar()) {
        *error = At(display_path, key_line) +
                 "a key must be a plain name, not " + NodeKind(key);
        return mount_options_errc::config_syntax;
      }
      const std::string name = key.Scalar();
      if (auto [prev, inserted] = seen.emplace(name, key_line); !inserted) {
        *error = At(display_path, key_line) + "key " + Quote(name) +
                 " appears twice (first on line " +
                 std::to_string(prev->second + 1) + ")";
        return mount_options_errc::config_syntax;
      }
      if (IsPasswordName(name)) {
        *error = At(display_path, key_line) + "key " + Quote(name) +
                 " is refused: put the password in the credentials file "
                 "(credentials: PATH)";
        return mount_options_errc::password_refused;
      }
      const Option* o = name == "cred" ? nullptr : FindOption(name, true);
      if (o == nullptr) {
        *error = At(display_path, key_line) + UnknownOptionMessage(name, true);
        return mount_options_errc::unknown_option;
      }
      if (!value.IsDefined() || value.IsNull()) {
        *error = At(display_path, key_line) + name + ": needs a value";
        return mount_options_errc::bad_value;
      }
      if (!value.IsScalar()) {
        *error = At(display_path, value_line) + name + ": " + NodeKind(value) +
                 " where a single value belongs";
        return mount_options_errc::bad_value;
      }
      const std::string text(Trim(value.Scalar()));
      if (o->flag != nullptr) {
        auto b = ParseYamlBool(text);
        if (!b) {
          *error = At(display_path, value_line) + name + ": " + Quote(text) +
                   " is not a boolean (use true or false)";
          return mount_options_errc::bad_value;
        }
        o->flag(&c, *b);
        continue;
      }
      std::string why;
      if (!o->set(&c, text, &why)) {
        *error = At(display_path, value_line) + name + ": " + why;
        return mount_options_errc::bad_value;
      }
    }
    *config = std::move(c);
    return {};
  } catch (const YAML::Exception& e) {
    // e.msg holds no value from the file, only what went wrong.
    *error = At(display_path, e.mark.line) + "not valid YAML: " + e.msg;
    return mount_options_errc::config_syntax;
  } catch (const std::exception& e) {
    *error = At(display_path, -1) + "cannot be read: " + e.what();
    return mount_options_errc::config_syntax;
  }
}

Result<void> ApplyConfigFile(const std::string& path, MountConfig* config,
                             std::string* error) {
  std::string scratch;
  if (error == nullptr) error = &scratch;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "config " + path +
             ": cannot open: " + std::generic_category().message(errno);
    return mount_options_errc::config_unreadable;
  }
  std::string text;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxConfigFileSize) {
      *error =
          "config " + path + ": larger than 1 MiB; is this the right file?";
      return mount_options_errc::config_unreadable;
    }
  }
  if (in.bad()) {
    *error = "config " + path + ": cannot read (is it a directory?)";
    return mount_options_errc::config_unreadable;
  }
  return ApplyConfigYaml(text, path, config, error);
}

Result<MountConfig> ParseMountArgs(const std::vector<std::string>& args,
                                   std::string* error) {
  std::string scratch;
  if (error == nullptr) error = &scratch;
  auto usage_error = [&](const std::string& msg) {
    *error = "mount: " + msg + "\n" + kMountUsage;
    return mount_options_errc::usage;
  };

  std::vector<std::string> positional;
  std::vector<std::string> items;  // -o items, in order
  std::optional<std::string> credentials;
  std::optional<std::string> config_path;
  bool foreground = false;
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options_done || a.empty() || a[0] != '-' || a == "-") {
      positional.push_back(a);
      continue;
    }
    // `--name VALUE` or `--name=VALUE`; false if `a` is not --name.
    std::string value;
    bool missing = false;
    auto take = [&](std::string_view name) {
      if (a == name) {
        if (i + 1 >= args.size()) {
          missing = true;
        } else {
          value = args[++i];
        }
        return true;
      }
      if (a.size() > name.size() && a.compare(0, name.size(), name) == 0 &&
          a[name.size()] == '=') {
        value = a.substr(name.size() + 1);
        return true;
      }
      return false;
    };
    if (a == "--") {
      options_done = true;
    } else if (take("--credentials")) {
      if (missing || value.empty())
        return usage_error("--credentials needs a PATH");
      credentials = value;
    } else if (take("--config")) {
      if (missing || value.empty()) return usage_error("--config needs a FILE");
      config_path = value;
    } else if (a == "--foreground" || a == "-f") {
      foreground = true;
    } else if (a == "-o") {
      if (i + 1 >= args.size())
        return usage_error("-o needs OPTIONS (like -o uid=1000,ro)");
      items.push_back(args[++i]);
    } else if (a.rfind("-o", 0) == 0) {
      items.push_back(a.substr(2));
    } else {
      // Only the flag's name: `--credentials-file=x` should not be echoed
      // whole.
      return usage_error("unknown argument " + a.substr(0, a.find('=')));
    }
  }
  if (positional.size() > 2) {
    return usage_error("unexpected argument " + Quote(positional[2]) +
                       " (one share and one mountpoint)");
  }

  MountConfig c;
  if (config_path) {
    std::string msg;
    if (auto r = ApplyConfigFile(*config_path, &c, &msg); !r) {
      *error = "mount: " + msg;
      return r.error();
    }
    c.config_path = *config_path;
  }
  for (const std::string& list : items) {
    std::string_view rest = list;
    while (true) {
      const auto comma = rest.find(',');
      const std::string_view item = Trim(rest.substr(0, comma));
      if (!item.empty()) {
        std::string msg;
        if (auto r = ApplyMountOption(item, &c, &msg); !r) {
          *error = "mount: " + msg;
          return r.error();
        }
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (credentials) c.credentials = *credentials;
  if (foreground) c.foreground = true;
  if (!positional.empty()) {
    std::string msg;
    if (!ParseTarget(positional[0], &msg)) {
      *error = "mount: " + msg;
      return mount_options_errc::bad_value;
    }
    c.target = positional[0];
  }
  if (positional.size() > 1) {
    if (positional[1].empty()) return usage_error("the mountpoint is empty");
    c.mountpoint = positional[1];
  }
  if (c.target.empty())
    return usage_error("the share (//HOST/SHARE) is missing");
  if (c.mountpoint.empty()) return usage_error("the MOUNTPOINT is missing");
  if (c.credentials.empty()) {
    return usage_error(
        "--credentials PATH is missing (a Secret directory or a credentials "
        "file)");
  }
  return c;
}

}  // namespace smbgate
