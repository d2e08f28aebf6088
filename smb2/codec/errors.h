// Error codes of the SMB2 codec (the client's are in smb2/client/errors.h) and the NTSTATUS error
// category, so a server's status is never lost on its way up.
#pragma once

#include <cstdint>
#include <system_error>

namespace smbgate::smb2 {

enum class errc {
  malformed_response = 1,  // a frame or field failed a bounds/shape check
  bad_structure_size,      // StructureSize differs from the spec's value
  unexpected_command,      // response command does not match the request
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
