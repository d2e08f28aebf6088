// Names of protocol values for people: logs, errors, `smbgate check`.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "auth/smb_keys.h"
#include "smb2/codec/header.h"

namespace smbgate::smb2 {

// "2.0.2", "2.1", "3.0", "3.0.2", "3.1.1", or "unknown".
std::string_view DialectName(std::uint16_t dialect) noexcept;
// Parses the names above and mount.cifs's `vers=` spellings ("2.0", "3",
// "3.02", "3.11"). nullopt for anything else.
std::optional<std::uint16_t> ParseDialect(std::string_view s) noexcept;
// "HMAC-SHA256", "AES-128-CMAC", "AES-128-GMAC".
std::string_view SigningAlgorithmName(auth::SigningAlgorithm a) noexcept;
// "AES-128-CCM", "AES-128-GCM", "AES-256-CCM", "AES-256-GCM" for the
// MS-SMB2 2.2.3.1.2 cipher ids, "none" for 0, "unknown" otherwise.
std::string_view CipherName(std::uint16_t cipher_id) noexcept;
// "NEGOTIATE", "CREATE", ... (MS-SMB2 2.2.1.2), for logs and metrics.
std::string_view CommandName(Command c) noexcept;
// "disk", "pipe", "print", or "unknown".
std::string_view ShareTypeName(std::uint8_t share_type) noexcept;

}  // namespace smbgate::smb2
