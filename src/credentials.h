// Loading the SMB user name, domain and password from a Kubernetes Secret
// volume or a mount.cifs-style credentials file.
#pragma once

#include <string>
#include <system_error>
#include <vector>

#include "auth/common/bytes.h"
#include "auth/common/result.h"

namespace smbgate {

// What NTLMv2 needs to authenticate. `domain` may be empty (a local account
// of the server). Move-only because of the password.
struct Credentials {
  std::string user;
  std::string domain;
  SecretString password;
};

// Why LoadCredentials failed. The error_code tells the kind; the one-line
// message for the operator (path and fix) comes through `error_message`.
enum class credentials_errc {
  not_found = 1,  // the path (or a required file in the directory) is missing
  unreadable,    // open/read failed: permissions, not a regular file, I/O error
  too_large,     // a file is over kMaxCredentialsFileSize
  invalid_utf8,  // a file is not valid UTF-8 or holds a NUL byte
  missing_username,  // no username file / `username=` line
  missing_password,  // no password file / `password=` line
  empty_username,    // the user name is empty (or only a domain part)
  domain_conflict,   // DOMAIN\user or user@domain and an explicit domain
                     // disagree
  malformed,  // a duplicated key in a credentials file, an empty domain part
};

const std::error_category& credentials_category() noexcept;
inline std::error_code make_error_code(credentials_errc e) noexcept {
  return {static_cast<int>(e), credentials_category()};
}

// Files larger than this are refused: a credentials file is a few lines.
inline constexpr std::size_t kMaxCredentialsFileSize = 64 * 1024;

// Unix time of the last change of the credentials at `path`: for a Secret
// volume the kubelet's `..data` swap (the link's own mtime), else the
// newest of the directory's `username`/`password`/`domain` files or the
// file itself. 0 when nothing can be stat'ed.
double CredentialsChangedTime(const std::string& path);

// Loads credentials from `path`, which is either
//  - a directory holding the files `username`, `password` and optionally
//    `domain` (a Kubernetes Secret mounted as a volume; the kubelet's
//    `..data` symlink layout is read through, from one snapshot), where one
//    trailing "\n" or "\r\n" is stripped from each file and nothing else; or
//  - a file in the mount.cifs credentials format: `username=`, `password=`,
//    `domain=` lines (also `user=`, `pass=`, `passwd=`, `dom=`, `workgroup=`;
//    keys are case-insensitive), blank lines and `#` comments ignored, the
//    value being everything after the first `=` up to the end of the line
//    (a trailing "\r" removed), so a password may hold `=`, spaces, anything.
// The user name may be `user`, `DOMAIN\user` (or `DOMAIN/user`), or
// `user@domain`, a user principal name: that one is kept whole in `user`
// with `domain` empty, as Windows sends a UPN in NTLM, so the DC finds the
// account by its UPN (an alternative UPN suffix, a UPN whose user part is
// not the account name). An explicit domain that differs from the user
// name's domain part is an error.
//
// On failure returns a credentials_errc and, if `error_message` is not null,
// stores one line naming the path and the fix. Non-fatal findings (a password
// file readable by group or others outside a Kubernetes Secret volume, an
// unknown key, ...) are appended to `warnings` if not null. The password never
// appears in any message; it is read into buffers that are wiped when freed.
// Thread-safe (no shared state).
Result<Credentials> LoadCredentials(const std::string& path,
                                    std::vector<std::string>* warnings,
                                    std::string* error_message);

// Splits `DOMAIN\user`, `DOMAIN/user` or `user@domain` into user and domain;
// a plain `user` leaves `domain` empty. The backslash form wins over `@`
// (`DOM\a@b` is user "a@b" in DOM). False if the user or the domain part
// is empty. Exposed for tests.
[[nodiscard]] bool SplitUserName(std::string_view full, std::string* user,
                                 std::string* domain);

}  // namespace smbgate

template <>
struct std::is_error_code_enum<smbgate::credentials_errc> : std::true_type {};
