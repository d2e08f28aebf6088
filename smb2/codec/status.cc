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
    {status::kNotifyCleanup, "STATUS_NOTIFY_CLEANUP", nullptr},
    {status::kNotifyEnumDir, "STATUS_NOTIFY_ENUM_DIR", nullptr},
    {status::kBufferOverflow, "STATUS_BUFFER_OVERFLOW", nullptr},
    {status::kNoMoreFiles, "STATUS_NO_MORE_FILES", nullptr},
    {status::kStoppedOnSymlink, "STATUS_STOPPED_ON_SYMLINK", nullptr},
    {status::kUnsuccessful, "STATUS_UNSUCCESSFUL", "the operation failed on the server"},
    {status::kNotImplemented, "STATUS_NOT_IMPLEMENTED", "the server does not implement this"},
    {status::kInvalidInfoClass, "STATUS_INVALID_INFO_CLASS", "the server does not support this information class"},
    {status::kInfoLengthMismatch, "STATUS_INFO_LENGTH_MISMATCH", nullptr},
    {status::kInvalidHandle, "STATUS_INVALID_HANDLE", "the handle is no longer valid"},
    {status::kInvalidParameter, "STATUS_INVALID_PARAMETER", "the server rejected a parameter"},
    {status::kNoSuchFile, "STATUS_NO_SUCH_FILE", "no such file"},
    {status::kInvalidDeviceRequest, "STATUS_INVALID_DEVICE_REQUEST", "the server does not support this request here"},
    {status::kEndOfFile, "STATUS_END_OF_FILE", nullptr},
    {status::kMoreProcessingRequired, "STATUS_MORE_PROCESSING_REQUIRED", nullptr},
    {status::kAccessDenied, "STATUS_ACCESS_DENIED", "access denied by the server"},
    {status::kBufferTooSmall, "STATUS_BUFFER_TOO_SMALL", nullptr},
    {status::kObjectNameInvalid, "STATUS_OBJECT_NAME_INVALID", "the name is not valid on the server"},
    {status::kObjectNameNotFound, "STATUS_OBJECT_NAME_NOT_FOUND", "no such file or directory"},
    {status::kObjectNameCollision, "STATUS_OBJECT_NAME_COLLISION", "the name exists already"},
    {status::kObjectPathNotFound, "STATUS_OBJECT_PATH_NOT_FOUND", "a directory on the path does not exist"},
    {status::kSharingViolation, "STATUS_SHARING_VIOLATION", "the file is open elsewhere in a conflicting mode"},
    {status::kQuotaExceeded, "STATUS_QUOTA_EXCEEDED", "the quota on the server is exceeded"},
    {status::kFileLockConflict, "STATUS_FILE_LOCK_CONFLICT", "a byte-range lock held elsewhere conflicts"},
    {status::kLockNotGranted, "STATUS_LOCK_NOT_GRANTED", "the byte-range lock is held elsewhere"},
    {status::kDeletePending, "STATUS_DELETE_PENDING", "the file is being deleted"},
    {status::kNoSuchUser, "STATUS_NO_SUCH_USER", "no such user"},
    {status::kWrongPassword, "STATUS_WRONG_PASSWORD", "wrong password"},
    {status::kLogonFailure, "STATUS_LOGON_FAILURE", "wrong user name or password, or the account is locked"},
    {status::kAccountRestriction, "STATUS_ACCOUNT_RESTRICTION", "the account may not log on now or from here"},
    {status::kInvalidLogonHours, "STATUS_INVALID_LOGON_HOURS", "the account may not log on at this time"},
    {status::kInvalidWorkstation, "STATUS_INVALID_WORKSTATION", "the account may not log on from this machine"},
    {status::kPasswordExpired, "STATUS_PASSWORD_EXPIRED", "the password has expired: set a new one"},
    {status::kAccountDisabled, "STATUS_ACCOUNT_DISABLED", "the account is disabled"},
    {status::kRangeNotLocked, "STATUS_RANGE_NOT_LOCKED", "the byte range was not locked"},
    {status::kDiskFull, "STATUS_DISK_FULL", "the share is full"},
    {status::kInsufficientResources, "STATUS_INSUFFICIENT_RESOURCES", "the server is out of resources"},
    {status::kMediaWriteProtected, "STATUS_MEDIA_WRITE_PROTECTED", "the share is read-only"},
    {status::kFileIsADirectory, "STATUS_FILE_IS_A_DIRECTORY", "it is a directory"},
    {status::kNotSupported, "STATUS_NOT_SUPPORTED", "the server does not support this"},
    {status::kNetworkNameDeleted, "STATUS_NETWORK_NAME_DELETED", "the share was disconnected"},
    {status::kNetworkAccessDenied, "STATUS_NETWORK_ACCESS_DENIED", "access to the share denied"},
    {status::kBadNetworkName, "STATUS_BAD_NETWORK_NAME", "no such share on the server: check the share name"},
    {status::kRequestNotAccepted, "STATUS_REQUEST_NOT_ACCEPTED", "the server accepts no more connections"},
    {status::kNotSameDevice, "STATUS_NOT_SAME_DEVICE", "source and target are on different devices"},
    {status::kDirectoryNotEmpty, "STATUS_DIRECTORY_NOT_EMPTY", "the directory is not empty"},
    {status::kNotADirectory, "STATUS_NOT_A_DIRECTORY", "a path component is not a directory"},
    {status::kCancelled, "STATUS_CANCELLED", nullptr},
    {status::kCannotDelete, "STATUS_CANNOT_DELETE", "the file cannot be deleted (read-only or in use)"},
    {status::kFileClosed, "STATUS_FILE_CLOSED", "the handle was closed"},
    {status::kLogonTypeNotGranted, "STATUS_LOGON_TYPE_NOT_GRANTED", "the account may not log on over the network"},
    {status::kAccountExpired, "STATUS_ACCOUNT_EXPIRED", "the account has expired"},
    {status::kUserSessionDeleted, "STATUS_USER_SESSION_DELETED", "the server ended the session"},
    {status::kInsuffServerResources, "STATUS_INSUFF_SERVER_RESOURCES", "the server is out of resources"},
    {status::kPasswordMustChange, "STATUS_PASSWORD_MUST_CHANGE", "the password must be changed before logging on"},
    {status::kAccountLockedOut, "STATUS_ACCOUNT_LOCKED_OUT", "the account is locked out"},
    {status::kPathNotCovered, "STATUS_PATH_NOT_COVERED", "the path is on another server (DFS referral needed)"},
    {status::kTooManyLinks, "STATUS_TOO_MANY_LINKS", "too many hard links"},
    {status::kNotAReparsePoint, "STATUS_NOT_A_REPARSE_POINT", "not a symbolic link or reparse point"},
    {status::kIoReparseTagNotHandled, "STATUS_IO_REPARSE_TAG_NOT_HANDLED", "a reparse point the server cannot follow"},
    {status::kNetworkSessionExpired, "STATUS_NETWORK_SESSION_EXPIRED", "the session expired and must be set up again"},
    {status::kFileTooLarge, "STATUS_FILE_TOO_LARGE", "the file is too large for the share"},
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
