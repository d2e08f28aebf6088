#pragma once

namespace smbgate {

// The program's version, as printed by `smbgate --version`.
const char* Version() noexcept;

}  // namespace smbgate
