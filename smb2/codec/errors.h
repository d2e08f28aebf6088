// Error codes of the smb2 module (codec and client) and the NTSTATUS error
// category, so a server's status is never lost on its way up.
#pragma once

#include <cstdint>
#include <system_error>

namespace smbgate::smb2 {

enum class errc {
  malformed_response = 1,  // a frame or field failed a bounds/shape check
  bad_structure_size,      // StructureSize differs from the spec's value
  unexpected_command,      // response command does not match the request
  signature_mismatch,      // a signed response whose MAC is wrong
  unsigned_response,       // a response that must be signed was not
  connection_lost,         // the TCP connection closed or failed
  timeout,                 // the request's deadline passed
  no_common_dialect,       // the server offered no dialect in our range
  signing_not_supported,   // the server will not sign
  guest_session_refused,   // the server made a guest or anonymous session
  unknown_session,         // a response names a session we do not have
  credits_exhausted,       // the server granted no credits
  validate_negotiate_failed,  // FSCTL_VALIDATE_NEGOTIATE_INFO mismatch
  name_invalid,            // a path that is not valid UTF-8 or too long
  cancelled,               // the request was cancelled by the caller
  too_large,               // a length above a negotiated or fixed limit
};

const std::error_category& smb2_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), smb2_category()};
}

// The NTSTATUS category: value() is the 32-bit status as an int, message()
// is "STATUS_NAME (plain-words explanation)".
const std::error_category& ntstatus_category() noexcept;
inline std::error_code MakeNtStatusError(std::uint32_t status) noexcept {
  return {static_cast<int>(status), ntstatus_category()};
}
inline bool IsNtStatus(const std::error_code& ec) noexcept {
  return ec.category() == ntstatus_category();
}
inline std::uint32_t NtStatusOf(const std::error_code& ec) noexcept {
  return static_cast<std::uint32_t>(ec.value());
}

}  // namespace smbgate::smb2

template <>
struct std::is_error_code_enum<smbgate::smb2::errc> : std::true_type {};
