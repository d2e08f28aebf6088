#include "smb2/codec/status.h"

#include <algorithm>
#include <array>
#include <cstdio>

namespace smbgate::smb2 {
namespace {

struct StatusRow {
  std::uint32_t value;
  const char* name;
  const char* explanation;
};

// Sorted by value: looked up by binary search (checked by a unit test).
constexpr StatusRow kRows[] = {
    {status::kSuccess, "STATUS_SUCCESS", nullptr},
    {status::kPending, "STATUS_PENDING", nullptr},
    {status::kNotifyEnumDir, "STATUS_NOTIFY_ENUM_DIR", nullptr},
    {status::kBufferOverflow, "STATUS_BUFFER_OVERFLOW", nullptr},
    {status::kNoMoreFiles, "STATUS_NO_MORE_FILES", nullptr},
    {status::kInvalidParameter, "STATUS_INVALID_PARAMETER", "the server rejected a parameter"},
    {status::kNoSuchFile, "STATUS_NO_SUCH_FILE", "no such file"},
    {status::kEndOfFile, "STATUS_END_OF_FILE", nullptr},
    {status::kMoreProcessingRequired, "STATUS_MORE_PROCESSING_REQUIRED", nullptr},
    {status::kAccessDenied, "STATUS_ACCESS_DENIED", "access denied by the server"},
    {status::kBufferTooSmall, "STATUS_BUFFER_TOO_SMALL", nullptr},
    {status::kObjectNameInvalid, "STATUS_OBJECT_NAME_INVALID", "the name is not valid on the server"},
    {status::kObjectNameNotFound, "STATUS_OBJECT_NAME_NOT_FOUND", "no such file or directory"},
    {status::kObjectNameCollision, "STATUS_OBJECT_NAME_COLLISION", "the name exists already"},
    {status::kObjectPathNotFound, "STATUS_OBJECT_PATH_NOT_FOUND", "a directory on the path does not exist"},
    {status::kSharingViolation, "STATUS_SHARING_VIOLATION", "the file is open elsewhere in a conflicting mode"},
    {status::kDeletePending, "STATUS_DELETE_PENDING", "the file is being deleted"},
    {status::kLogonFailure, "STATUS_LOGON_FAILURE", "wrong user name or password, or the account is locked"},
    {status::kAccountRestriction, "STATUS_ACCOUNT_RESTRICTION", "the account may not log on now or from here"},
    {status::kPasswordExpired, "STATUS_PASSWORD_EXPIRED", "the password has expired: set a new one"},
    {status::kAccountDisabled, "STATUS_ACCOUNT_DISABLED", "the account is disabled"},
    {status::kFileIsADirectory, "STATUS_FILE_IS_A_DIRECTORY", "it is a directory"},
    {status::kNotSupported, "STATUS_NOT_SUPPORTED", "the server does not support this"},
    {status::kNetworkNameDeleted, "STATUS_NETWORK_NAME_DELETED", "the share was disconnected"},
    {status::kBadNetworkName, "STATUS_BAD_NETWORK_NAME", "no such share on the server: check the share name"},
    {status::kRequestNotAccepted, "STATUS_REQUEST_NOT_ACCEPTED", "the server accepts no more connections"},
    {status::kDirectoryNotEmpty, "STATUS_DIRECTORY_NOT_EMPTY", "the directory is not empty"},
    {status::kNotADirectory, "STATUS_NOT_A_DIRECTORY", "a path component is not a directory"},
    {status::kCancelled, "STATUS_CANCELLED", nullptr},
    {status::kFileClosed, "STATUS_FILE_CLOSED", "the handle was closed"},
    {status::kUserSessionDeleted, "STATUS_USER_SESSION_DELETED", "the server ended the session"},
    {status::kAccountLockedOut, "STATUS_ACCOUNT_LOCKED_OUT", "the account is locked out"},
    {status::kNetworkSessionExpired, "STATUS_NETWORK_SESSION_EXPIRED", "the session expired and must be set up again"},
};

const StatusRow* Find(std::uint32_t s) noexcept {
  auto it = std::lower_bound(std::begin(kRows), std::end(kRows), s,
                             [](const StatusRow& r, std::uint32_t v) { return r.value < v; });
  return (it != std::end(kRows) && it->value == s) ? it : nullptr;
}

}  // namespace

const char* NtStatusName(std::uint32_t s) noexcept {
  if (const StatusRow* r = Find(s)) return r->name;
  // One buffer per thread keeps the function reentrant across threads.
  thread_local char buf[24];
  std::snprintf(buf, sizeof buf, "NTSTATUS 0x%08X", s);
  return buf;
}

const char* NtStatusExplanation(std::uint32_t s) noexcept {
  const StatusRow* r = Find(s);
  return r ? r->explanation : nullptr;
}

bool NtStatusTableIsSorted() noexcept {
  return std::is_sorted(std::begin(kRows), std::end(kRows),
                        [](const StatusRow& a, const StatusRow& b) { return a.value < b.value; });
}

}  // namespace smbgate::smb2
