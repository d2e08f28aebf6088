// NTSTATUS values (MS-ERREF 2.3.1) that smbgate handles by name, with their
// names and plain-words explanations for error messages.
#pragma once

#include <cstdint>

namespace smbgate::smb2 {

namespace status {
inline constexpr std::uint32_t kSuccess = 0x00000000;
inline constexpr std::uint32_t kPending = 0x00000103;
inline constexpr std::uint32_t kNotifyEnumDir = 0x0000010C;
inline constexpr std::uint32_t kBufferOverflow = 0x80000005;
inline constexpr std::uint32_t kNoMoreFiles = 0x80000006;
inline constexpr std::uint32_t kInvalidParameter = 0xC000000D;
inline constexpr std::uint32_t kNoSuchFile = 0xC000000F;
inline constexpr std::uint32_t kEndOfFile = 0xC0000011;
inline constexpr std::uint32_t kMoreProcessingRequired = 0xC0000016;
inline constexpr std::uint32_t kAccessDenied = 0xC0000022;
inline constexpr std::uint32_t kBufferTooSmall = 0xC0000023;
inline constexpr std::uint32_t kObjectNameInvalid = 0xC0000033;
inline constexpr std::uint32_t kObjectNameNotFound = 0xC0000034;
inline constexpr std::uint32_t kObjectNameCollision = 0xC0000035;
inline constexpr std::uint32_t kObjectPathNotFound = 0xC000003A;
inline constexpr std::uint32_t kSharingViolation = 0xC0000043;
inline constexpr std::uint32_t kDeletePending = 0xC0000056;
inline constexpr std::uint32_t kLogonFailure = 0xC000006D;
inline constexpr std::uint32_t kAccountRestriction = 0xC000006E;
inline constexpr std::uint32_t kPasswordExpired = 0xC0000071;
inline constexpr std::uint32_t kAccountDisabled = 0xC0000072;
inline constexpr std::uint32_t kNotSupported = 0xC00000BB;
inline constexpr std::uint32_t kNetworkNameDeleted = 0xC00000C9;
inline constexpr std::uint32_t kBadNetworkName = 0xC00000CC;
inline constexpr std::uint32_t kRequestNotAccepted = 0xC00000D0;
inline constexpr std::uint32_t kFileIsADirectory = 0xC00000BA;
inline constexpr std::uint32_t kDirectoryNotEmpty = 0xC0000101;
inline constexpr std::uint32_t kNotADirectory = 0xC0000103;
inline constexpr std::uint32_t kCancelled = 0xC0000120;
inline constexpr std::uint32_t kFileClosed = 0xC0000128;
inline constexpr std::uint32_t kUserSessionDeleted = 0xC0000203;
inline constexpr std::uint32_t kAccountLockedOut = 0xC0000234;
inline constexpr std::uint32_t kNetworkSessionExpired = 0xC000035C;
inline constexpr std::uint32_t kNotifyCleanup = 0x0000010B;
inline constexpr std::uint32_t kStoppedOnSymlink = 0x8000002D;
inline constexpr std::uint32_t kUnsuccessful = 0xC0000001;
inline constexpr std::uint32_t kNotImplemented = 0xC0000002;
inline constexpr std::uint32_t kInvalidInfoClass = 0xC0000003;
inline constexpr std::uint32_t kInfoLengthMismatch = 0xC0000004;
inline constexpr std::uint32_t kInvalidHandle = 0xC0000008;
inline constexpr std::uint32_t kInvalidDeviceRequest = 0xC0000010;
inline constexpr std::uint32_t kQuotaExceeded = 0xC0000044;
inline constexpr std::uint32_t kFileLockConflict = 0xC0000054;
inline constexpr std::uint32_t kLockNotGranted = 0xC0000055;
inline constexpr std::uint32_t kNoSuchUser = 0xC0000064;
inline constexpr std::uint32_t kWrongPassword = 0xC000006A;
inline constexpr std::uint32_t kInvalidLogonHours = 0xC000006F;
inline constexpr std::uint32_t kInvalidWorkstation = 0xC0000070;
inline constexpr std::uint32_t kRangeNotLocked = 0xC000007E;
inline constexpr std::uint32_t kDiskFull = 0xC000007F;
inline constexpr std::uint32_t kInsufficientResources = 0xC000009A;
inline constexpr std::uint32_t kMediaWriteProtected = 0xC00000A2;
inline constexpr std::uint32_t kNetworkAccessDenied = 0xC00000CA;
inline constexpr std::uint32_t kNotSameDevice = 0xC00000D4;
inline constexpr std::uint32_t kCannotDelete = 0xC0000121;
inline constexpr std::uint32_t kLogonTypeNotGranted = 0xC000015B;
inline constexpr std::uint32_t kAccountExpired = 0xC0000193;
inline constexpr std::uint32_t kInsuffServerResources = 0xC0000205;
inline constexpr std::uint32_t kPasswordMustChange = 0xC0000224;
inline constexpr std::uint32_t kPathNotCovered = 0xC0000257;
inline constexpr std::uint32_t kTooManyLinks = 0xC0000265;
inline constexpr std::uint32_t kNotAReparsePoint = 0xC0000275;
inline constexpr std::uint32_t kIoReparseTagNotHandled = 0xC0000279;
inline constexpr std::uint32_t kFileTooLarge = 0xC0000904;
}  // namespace status

// "STATUS_LOGON_FAILURE", or "NTSTATUS 0x%08X" for a value not in the table.
const char* NtStatusName(std::uint32_t s) noexcept;
// Plain words for a person ("wrong user name or password, or the account is
// locked"), or nullptr when there is nothing useful to add.
const char* NtStatusExplanation(std::uint32_t s) noexcept;

}  // namespace smbgate::smb2

namespace smbgate::smb2 {
// For the unit test of the table's order.
bool NtStatusTableIsSorted() noexcept;
}  // namespace smbgate::smb2
