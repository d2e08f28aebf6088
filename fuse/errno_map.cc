#include "fuse/errno_map.h"

#include <algorithm>
#include <cerrno>
#include <iterator>

#include "smb2/client/errors.h"
#include "smb2/codec/errors.h"

namespace smbgate::fuse {
namespace {

struct Row {
  std::uint32_t status;
  int err;
};

// Sorted by status (checked by a unit test). Choices follow what the Linux
// cifs client reports for the same status, so applications see the same
// errno on either client. Values from MS-ERREF 2.3.1.
constexpr Row kTable[] = {
    {0x00000000, 0},             // STATUS_SUCCESS
    {0x80000005, 0},             // STATUS_BUFFER_OVERFLOW: partial data, not an error
    {0x80000006, ENODATA},       // STATUS_NO_MORE_FILES
    {0x8000002D, ELOOP},         // STATUS_STOPPED_ON_SYMLINK
    {0xC0000001, EIO},           // STATUS_UNSUCCESSFUL
    {0xC0000002, EOPNOTSUPP},    // STATUS_NOT_IMPLEMENTED
    {0xC0000003, EOPNOTSUPP},    // STATUS_INVALID_INFO_CLASS
    {0xC0000004, EINVAL},        // STATUS_INFO_LENGTH_MISMATCH
    {0xC0000008, EBADF},         // STATUS_INVALID_HANDLE
    {0xC000000D, EINVAL},        // STATUS_INVALID_PARAMETER
    {0xC000000F, ENOENT},        // STATUS_NO_SUCH_FILE
    {0xC0000010, EOPNOTSUPP},    // STATUS_INVALID_DEVICE_REQUEST
    {0xC0000011, ENODATA},       // STATUS_END_OF_FILE
    {0xC0000022, EACCES},        // STATUS_ACCESS_DENIED
    {0xC0000023, EINVAL},        // STATUS_BUFFER_TOO_SMALL
    {0xC0000033, EINVAL},        // STATUS_OBJECT_NAME_INVALID
    {0xC0000034, ENOENT},        // STATUS_OBJECT_NAME_NOT_FOUND
    {0xC0000035, EEXIST},        // STATUS_OBJECT_NAME_COLLISION
    {0xC0000039, EINVAL},        // STATUS_OBJECT_PATH_INVALID
    {0xC000003A, ENOENT},        // STATUS_OBJECT_PATH_NOT_FOUND
    {0xC000003B, EINVAL},        // STATUS_OBJECT_PATH_SYNTAX_BAD
    {0xC0000043, EBUSY},         // STATUS_SHARING_VIOLATION
    {0xC0000044, EDQUOT},        // STATUS_QUOTA_EXCEEDED
    {0xC0000054, EACCES},        // STATUS_FILE_LOCK_CONFLICT
    {0xC0000055, EAGAIN},        // STATUS_LOCK_NOT_GRANTED
    {0xC0000056, EBUSY},         // STATUS_DELETE_PENDING
    {0xC0000061, EPERM},         // STATUS_PRIVILEGE_NOT_HELD
    {0xC0000064, EACCES},        // STATUS_NO_SUCH_USER
    {0xC000006A, EACCES},        // STATUS_WRONG_PASSWORD
    {0xC000006D, EACCES},        // STATUS_LOGON_FAILURE
    {0xC000006E, EACCES},        // STATUS_ACCOUNT_RESTRICTION
    {0xC000006F, EACCES},        // STATUS_INVALID_LOGON_HOURS
    {0xC0000070, EACCES},        // STATUS_INVALID_WORKSTATION
    {0xC0000071, EKEYEXPIRED},   // STATUS_PASSWORD_EXPIRED
    {0xC0000072, EKEYREVOKED},   // STATUS_ACCOUNT_DISABLED
    {0xC000007E, ENOLCK},        // STATUS_RANGE_NOT_LOCKED
    {0xC000007F, ENOSPC},        // STATUS_DISK_FULL
    {0xC000009A, ENOMEM},        // STATUS_INSUFFICIENT_RESOURCES
    {0xC00000A2, EROFS},         // STATUS_MEDIA_WRITE_PROTECTED
    {0xC00000BA, EISDIR},        // STATUS_FILE_IS_A_DIRECTORY
    {0xC00000BB, EOPNOTSUPP},    // STATUS_NOT_SUPPORTED
    {0xC00000C9, EIO},           // STATUS_NETWORK_NAME_DELETED (reconnect follows)
    {0xC00000CA, EACCES},        // STATUS_NETWORK_ACCESS_DENIED
    {0xC00000CC, ENOENT},        // STATUS_BAD_NETWORK_NAME
    {0xC00000D0, EAGAIN},        // STATUS_REQUEST_NOT_ACCEPTED
    {0xC00000D4, EXDEV},         // STATUS_NOT_SAME_DEVICE
    {0xC0000101, ENOTEMPTY},     // STATUS_DIRECTORY_NOT_EMPTY
    {0xC0000103, ENOTDIR},       // STATUS_NOT_A_DIRECTORY
    {0xC0000106, ENAMETOOLONG},  // STATUS_NAME_TOO_LONG
    {0xC0000120, ECANCELED},     // STATUS_CANCELLED
    {0xC0000121, EACCES},        // STATUS_CANNOT_DELETE
    {0xC0000128, EBADF},         // STATUS_FILE_CLOSED
    {0xC0000203, EIO},           // STATUS_USER_SESSION_DELETED (reconnect follows)
    {0xC0000205, ENOMEM},        // STATUS_INSUFF_SERVER_RESOURCES
    {0xC0000224, EKEYEXPIRED},   // STATUS_PASSWORD_MUST_CHANGE
    {0xC0000234, EACCES},        // STATUS_ACCOUNT_LOCKED_OUT
    {0xC0000257, ENOENT},        // STATUS_PATH_NOT_COVERED (DFS)
    {0xC0000265, EMLINK},        // STATUS_TOO_MANY_LINKS
    {0xC0000275, EINVAL},        // STATUS_NOT_A_REPARSE_POINT
    {0xC0000279, EOPNOTSUPP},    // STATUS_IO_REPARSE_TAG_NOT_HANDLED
    {0xC000035C, EIO},           // STATUS_NETWORK_SESSION_EXPIRED (re-auth follows)
    {0xC0000904, EFBIG},         // STATUS_FILE_TOO_LARGE
};

}  // namespace

int ErrnoForStatus(std::uint32_t status) noexcept {
  auto it = std::lower_bound(std::begin(kTable), std::end(kTable), status,
                             [](const Row& r, std::uint32_t s) { return r.status < s; });
  if (it != std::end(kTable) && it->status == status) return it->err;
  return status == 0 ? 0 : EIO;
}

int ErrnoFor(const std::error_code& ec) noexcept {
  if (!ec) return 0;
  if (smb2::IsNtStatus(ec)) return ErrnoForStatus(smb2::NtStatusOf(ec));
  if (ec.category() == smb2::client_category()) {
    return smb2::ClientErrno(static_cast<smb2::client_errc>(ec.value()));
  }
  // The codec's errors all mean the server sent something malformed.
  if (ec.category() == smb2::smb2_category()) return EIO;
  if (ec.category() == std::system_category() || ec.category() == std::generic_category()) {
    return ec.value() > 0 ? ec.value() : EIO;
  }
  return EIO;
}

const char* ErrnoName(int err) noexcept {
  switch (err) {
    case 0: return "0";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EXDEV: return "EXDEV";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case EFBIG: return "EFBIG";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case EMLINK: return "EMLINK";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOLCK: return "ENOLCK";
    case ENOSYS: return "ENOSYS";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ELOOP: return "ELOOP";
    case ENODATA: return "ENODATA";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENOTCONN: return "ENOTCONN";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EDQUOT: return "EDQUOT";
    case ECANCELED: return "ECANCELED";
    case EKEYEXPIRED: return "EKEYEXPIRED";
    case EKEYREVOKED: return "EKEYREVOKED";
    case EINTR: return "EINTR";
    case ERANGE: return "ERANGE";
    default: return "EOTHER";
  }
}

bool ErrnoTableIsSorted() noexcept {
  return std::is_sorted(std::begin(kTable), std::end(kTable),
                        [](const Row& a, const Row& b) { return a.status < b.status; }) &&
         std::adjacent_find(std::begin(kTable), std::end(kTable),
                            [](const Row& a, const Row& b) { return a.status == b.status; }) == std::end(kTable);
}

}  // namespace smbgate::fuse
