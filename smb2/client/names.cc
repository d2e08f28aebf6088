#include "smb2/client/names.h"

#include "smb2/codec/negotiate.h"
#include "smb2/codec/tree.h"

namespace smbgate::smb2 {

std::string_view DialectName(std::uint16_t dialect) noexcept {
  switch (dialect) {
    case kDialect202: return "2.0.2";
    case kDialect210: return "2.1";
    case kDialect300: return "3.0";
    case kDialect302: return "3.0.2";
    case kDialect311: return "3.1.1";
    default: return "unknown";
  }
}

std::optional<std::uint16_t> ParseDialect(std::string_view s) noexcept {
  if (s == "2.0" || s == "2.0.2" || s == "2.02") return kDialect202;
  if (s == "2.1" || s == "2.10") return kDialect210;
  if (s == "3" || s == "3.0" || s == "3.00") return kDialect300;
  if (s == "3.0.2" || s == "3.02") return kDialect302;
  if (s == "3.1.1" || s == "3.11") return kDialect311;
  return std::nullopt;
}

std::string_view SigningAlgorithmName(auth::SigningAlgorithm a) noexcept {
  switch (a) {
    case auth::SigningAlgorithm::kHmacSha256: return "HMAC-SHA256";
    case auth::SigningAlgorithm::kAesCmac: return "AES-128-CMAC";
    case auth::SigningAlgorithm::kAesGmac: return "AES-128-GMAC";
  }
  return "unknown";
}

std::string_view ShareTypeName(std::uint8_t share_type) noexcept {
  switch (share_type) {
    case kShareTypeDisk: return "disk";
    case kShareTypePipe: return "pipe";
    case kShareTypePrint: return "print";
    default: return "unknown";
  }
}

}  // namespace smbgate::smb2
