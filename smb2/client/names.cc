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

std::string_view CipherName(std::uint16_t cipher_id) noexcept {
  switch (cipher_id) {
    case 0: return "none";
    case kCipherAes128Ccm: return "AES-128-CCM";
    case kCipherAes128Gcm: return "AES-128-GCM";
    case kCipherAes256Ccm: return "AES-256-CCM";
    case kCipherAes256Gcm: return "AES-256-GCM";
    default: return "unknown";
  }
}

std::string_view CommandName(Command c) noexcept {
  switch (c) {
    case Command::kNegotiate: return "NEGOTIATE";
    case Command::kSessionSetup: return "SESSION_SETUP";
    case Command::kLogoff: return "LOGOFF";
    case Command::kTreeConnect: return "TREE_CONNECT";
    case Command::kTreeDisconnect: return "TREE_DISCONNECT";
    case Command::kCreate: return "CREATE";
    case Command::kClose: return "CLOSE";
    case Command::kFlush: return "FLUSH";
    case Command::kRead: return "READ";
    case Command::kWrite: return "WRITE";
    case Command::kLock: return "LOCK";
    case Command::kIoctl: return "IOCTL";
    case Command::kCancel: return "CANCEL";
    case Command::kEcho: return "ECHO";
    case Command::kQueryDirectory: return "QUERY_DIRECTORY";
    case Command::kChangeNotify: return "CHANGE_NOTIFY";
    case Command::kQueryInfo: return "QUERY_INFO";
    case Command::kSetInfo: return "SET_INFO";
    case Command::kOplockBreak: return "OPLOCK_BREAK";
  }
  return "UNKNOWN";
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
