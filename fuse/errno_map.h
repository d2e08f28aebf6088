// The one NTSTATUS-to-errno table of smbgate, and the mapping of every other
// error the smb2 client reports.
#pragma once

#include <cstdint>
#include <system_error>

namespace smbgate::fuse {

// errno for an NTSTATUS; EIO for anything not in the table. 0 for success.
int ErrnoForStatus(std::uint32_t status) noexcept;
// errno for any error from the smb2 client: NTSTATUS, smb2::errc, system
// errors (kept as they are), anything else EIO. 0 for no error.
int ErrnoFor(const std::error_code& ec) noexcept;
// "ENOENT", "EIO", ... for metrics labels; "0" for 0.
const char* ErrnoName(int err) noexcept;
// For the unit test: true when the table is sorted by status.
bool ErrnoTableIsSorted() noexcept;

}  // namespace smbgate::fuse
