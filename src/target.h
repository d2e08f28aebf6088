// The share to mount: `//HOST[:PORT]/SHARE[/SUBDIR...]`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "auth/common/result.h"

namespace smbgate {

inline constexpr std::uint16_t kDefaultSmbPort = 445;

// A parsed target. Plain value; copyable.
struct Target {
  std::string host;  // a DNS name, NetBIOS name, IPv4 address or IPv6 address
                     // (no brackets)
  std::uint16_t port = kDefaultSmbPort;
  std::string share;
  std::string subdir;  // '/'-separated, no leading or trailing slash; empty for
                       // the share root

  // `//host:port/share`, then `/subdir` if there is one; IPv6 hosts in
  // brackets. ParseTarget reads it back to an equal Target.
  std::string ToString() const;
  // `\\host\share`, the path of SMB2 TREE_CONNECT (MS-SMB2 2.2.9).
  std::string UncPath() const;
  // The host as it goes in a URL or `host:port`: IPv6 addresses bracketed.
  std::string HostForDisplay() const;

  bool operator==(const Target&) const = default;
};

enum class target_errc {
  malformed = 1,  // not `//HOST[:PORT]/SHARE[/SUBDIR]`
  bad_host,       // empty host, bad characters, bad IPv4/IPv6 literal
  bad_port,       // not a number in 1..65535
  missing_share,  // no share name after the host
  bad_path,       // a share or subdirectory name that cannot be valid
};

const std::error_category& target_category() noexcept;
inline std::error_code make_error_code(target_errc e) noexcept {
  return {static_cast<int>(e), target_category()};
}

// The service principal name sent as NTLM MsvAvTargetName when none is
// configured: `cifs/HOST`, the host as written in the target (no port, an
// IPv6 literal without brackets), as Samba's client sends it. Thread-safe.
std::string DefaultSpn(const Target& t);

// Whether `spn` can be sent as MsvAvTargetName: `SERVICE/HOST[...]` (like
// cifs/filer.example.com), at most 256 bytes of UTF-8 without control
// characters, spaces or commas. If not, stores in `*why` (if not null) what
// is wrong, quoting the input in double quotes with control characters
// shown as '?'. Thread-safe.
bool ValidateSpn(std::string_view spn, std::string* why);

// Parses `//HOST[:PORT]/SHARE[/SUBDIR...]`, or the same with backslashes
// (`\\HOST\SHARE\dir`; the two separators may be mixed). HOST is a name, a
// dotted IPv4 address or a bracketed IPv6 address (`//[fd00::1]:4450/s`);
// PORT defaults to 445. Repeated and trailing slashes in SUBDIR are dropped;
// `.` and `..` components are refused. On failure returns a target_errc and,
// if `error_message` is not null, stores a one-line message quoting the input
// and saying what to write. Thread-safe.
Result<Target> ParseTarget(std::string_view s, std::string* error_message);

}  // namespace smbgate

template <>
struct std::is_error_code_enum<smbgate::target_errc> : std::true_type {};
