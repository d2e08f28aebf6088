// The `smbgate mount` command line and its YAML config file: what to mount,
// where, with which mount.cifs-style options.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "auth/common/result.h"
#include "src/logging.h"

namespace smbgate {

// The usage line of `smbgate mount`, without a trailing newline.
extern const char kMountUsage[];

// Everything `smbgate mount` was asked to do, after the command line and the
// config file were merged (command line beats file beats these defaults).
// Plain value; copyable. Holds no secret: the password stays in the
// credentials file.
struct MountConfig {
  std::string target;       // `//HOST[:PORT]/SHARE[/SUBDIR]`, not yet parsed
                            // (ParseTarget in src/target.h does that)
  std::string mountpoint;   // as given; not checked for existence here
  std::string credentials;  // path of a Secret directory or credentials file
  std::string config_path;  // the --config file, empty if none

  // Owner of every file; nullopt means the mounting user's (the caller
  // decides, normally getuid()/getgid()).
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  mode_t file_mode = 0755;  // permission bits only, at most 07777
  mode_t dir_mode = 0755;
  bool read_only = false;
  std::string domain;  // `domain=`; empty: the credentials' domain, if any
  std::optional<std::uint16_t> vers;  // a pinned dialect (0x0202 ... 0x0311);
                                      // nullopt: negotiate the best
  // `seal` (as mount.cifs): encrypt every session and tree, on every
  // connection including reconnects (smb2::ConnectionOptions::seal).
  bool seal = false;
  // `spn=`: the service principal name sent as NTLM MsvAvTargetName
  // (checked by ValidateSpn); empty: DefaultSpn(target), `cifs/HOST`.
  std::string spn;
  double actimeo = 1.0;  // attribute and entry cache seconds, 0..3600
  // `closetimeo=` (as mount.cifs): seconds a file closed under a
  // handle-caching lease keeps its SMB handle for a reopen, 0..3600; 0
  // closes at once.
  double closetimeo = 1.0;
  // `hard` (the default): a request waits for a lost server as long as it
  // takes (the application's signals still interrupt it); `soft`: it fails
  // with EIO after `soft_timeout` seconds (1..3600) without a connection.
  bool hard = true;
  double soft_timeout = 60.0;
  enum class Cache { kStrict, kLoose, kNone };
  Cache cache = Cache::kStrict;
  std::uint32_t rsize = 0;  // bytes per READ; 0: the server's maximum
  std::uint32_t wsize = 0;  // bytes per WRITE; 0: the server's maximum
  bool allow_other = false;
  std::string log_level = "info";  // trace, debug, info, warn or error
  using LogFormat = ::smbgate::LogFormat;
  LogFormat log_format = LogFormat::kText;
  // Where /metrics, /healthz and /readyz are served. The address is an IP
  // literal without brackets ("127.0.0.1", "::1"). Port 0: off.
  std::string metrics_address;
  std::uint16_t metrics_port = 0;
  bool foreground = false;
};

// The kinds of failure of ParseMountArgs; the one-line message says more.
enum class mount_options_errc {
  usage = 1,          // a missing or extra argument, an unknown --flag
  unknown_option,     // an unknown -o name or config key
  bad_value,          // a value out of range, of the wrong type or form
  password_refused,   // password= given: it belongs in the credentials file
  config_unreadable,  // the --config file cannot be read
  config_syntax,      // the --config file is not a YAML mapping
};

const std::error_category& mount_options_category() noexcept;
inline std::error_code make_error_code(mount_options_errc e) noexcept {
  return {static_cast<int>(e), mount_options_category()};
}

// Parses the arguments after "mount":
//   //HOST[:PORT]/SHARE[/SUBDIR] MOUNTPOINT --credentials PATH
//   [--config FILE] [-o OPTIONS]... [--foreground|-f]
// (`--credentials=PATH`, `--config=FILE`, `-oOPTIONS` too; `--` ends the
// options). Reads the --config file if there is one; its `share`,
// `mountpoint` and `credentials` keys may stand in for the arguments. `-o`
// takes comma-separated names (see ApplyMountOption); values cannot hold a
// comma. Mount(8)'s generic options (defaults, _netdev, nofail,
// x-systemd.*, ...) are accepted and ignored.
//
// On failure returns a mount_options_errc and stores in `*error` (if not
// null) one line naming the option or key (and for the config file, its path
// and line) and what to write instead; usage errors end with the usage line.
// A password is never accepted and no value of an unknown option is echoed.
// The caller exits with status 2. Thread-safe except for the user and group
// name look-ups (getpwnam_r/getgrnam_r, which are thread-safe but may read
// NSS configuration).
Result<MountConfig> ParseMountArgs(const std::vector<std::string>& args,
                                   std::string* error);

// Applies one `-o` item (`name` or `name=value`) to `config`, as the command
// line does. Exposed for the config loader and for tests. Generic mount(8)
// options are accepted and change nothing. Errors as for ParseMountArgs;
// `*error` gets the message without any "mount:" prefix.
Result<void> ApplyMountOption(std::string_view item, MountConfig* config,
                              std::string* error);

// Applies the YAML text of a config file to `config`. `display_path` is used
// in messages only (`config PATH:LINE: ...`). Each key is a -o name or one of
// `share`, `mountpoint`, `credentials`, `foreground`; flags (`ro`, `rw`,
// `allow_other`, `seal`, `foreground`) take a boolean. An empty document
// changes nothing. Never throws. Thread-safe as ParseMountArgs.
Result<void> ApplyConfigYaml(std::string_view yaml,
                             std::string_view display_path, MountConfig* config,
                             std::string* error);

// Reads `path` (at most 1 MiB) and applies it with ApplyConfigYaml.
Result<void> ApplyConfigFile(const std::string& path, MountConfig* config,
                             std::string* error);

}  // namespace smbgate

template <>
struct std::is_error_code_enum<smbgate::mount_options_errc> : std::true_type {};
