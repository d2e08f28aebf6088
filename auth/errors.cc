#include "auth/errors.h"

#include <string>

namespace smbgate::auth {
namespace {

class AuthCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "auth"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::malformed_token: return "malformed authentication token from the server";
      case errc::unexpected_message: return "unexpected authentication message from the server";
      case errc::ntlmv2_unavailable: return "the server's NTLM challenge does not allow NTLMv2 (smbgate never uses LM or NTLMv1)";
      case errc::mechanism_rejected: return "the server does not accept NTLMSSP";
      case errc::mic_mismatch: return "the server's SPNEGO mechListMIC does not verify (possible tampering)";
      case errc::invalid_credentials: return "invalid credentials (empty user name or text that is not UTF-8)";
      case errc::crypto_failure: return "a cryptographic operation failed";
      case errc::invalid_state: return "authentication step called out of order";
      case errc::aead_tag_mismatch: return "an encrypted message does not authenticate (wrong key or tampering)";
    }
    return "unknown auth error";
  }
};

}  // namespace

const std::error_category& auth_category() noexcept {
  static const AuthCategory c;
  return c;
}

}  // namespace smbgate::auth
