#include "smb2/client/errors.h"

#include <cerrno>
#include <string>

namespace smbgate::smb2 {
namespace {

class ClientCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "smb2-client"; }
  std::string message(int ev) const override {
    switch (static_cast<client_errc>(ev)) {
      case client_errc::connection_lost: return "connection to the server lost";
      case client_errc::timeout: return "no response from the server in time";
      case client_errc::cancelled: return "request cancelled";
      case client_errc::credits_exhausted: return "the server granted no credits";
      case client_errc::no_common_dialect: return "no SMB dialect in common with the server";
      case client_errc::signing_not_supported: return "the server does not sign messages";
      case client_errc::signature_mismatch: return "response signature does not verify";
      case client_errc::unsigned_response: return "response that must be signed was not signed";
      case client_errc::unknown_session: return "response for an unknown session";
      case client_errc::guest_session_refused:
        return "the server offered a guest or anonymous session, which smbgate refuses";
      case client_errc::validate_negotiate_failed:
        return "negotiation was tampered with (VALIDATE_NEGOTIATE_INFO mismatch)";
      case client_errc::downgrade_refused:
        return "the server's identity or security parameters changed (possible downgrade); refused";
      case client_errc::encryption_unavailable:
        return "encryption is required (seal) but the server cannot encrypt (SMB 3.0 or later with encryption needed)";
      case client_errc::unencrypted_response: return "response that must be encrypted was not encrypted";
      case client_errc::decryption_failed: return "encrypted response does not decrypt (tampered or corrupt)";
      case client_errc::name_invalid: return "invalid file name";
      case client_errc::io_too_large: return "read or write larger than the negotiated size";
      case client_errc::host_not_found: return "the server name could not be resolved (DNS)";
    }
    return "unknown smb2 client error";
  }
};

}  // namespace

const std::error_category& client_category() noexcept {
  static const ClientCategory c;
  return c;
}

int ClientErrno(client_errc e) noexcept {
  switch (e) {
    case client_errc::timeout: return ETIMEDOUT;
    case client_errc::cancelled: return EINTR;
    case client_errc::guest_session_refused:
    case client_errc::encryption_unavailable:
    case client_errc::signing_not_supported:
    case client_errc::downgrade_refused: return EACCES;
    case client_errc::name_invalid: return EINVAL;
    case client_errc::io_too_large: return EMSGSIZE;
    case client_errc::host_not_found: return EHOSTUNREACH;
    case client_errc::connection_lost:
    case client_errc::credits_exhausted:
    case client_errc::no_common_dialect:
    case client_errc::signature_mismatch:
    case client_errc::unsigned_response:
    case client_errc::unknown_session:
    case client_errc::validate_negotiate_failed:
    case client_errc::unencrypted_response:
    case client_errc::decryption_failed: return EIO;
  }
  return EIO;
}

}  // namespace smbgate::smb2
