// Error codes of the auth module.
#pragma once

#include <system_error>

namespace smbgate::auth {

enum class errc {
  malformed_token = 1,     // an NTLMSSP or SPNEGO token failed a bounds check
  unexpected_message,      // wrong NTLMSSP message type or SPNEGO choice
  ntlmv2_unavailable,      // CHALLENGE lacks target info / NTLM2 session flags
  mechanism_rejected,      // server SPNEGO did not accept NTLMSSP
  mic_mismatch,            // server mechListMIC does not verify
  invalid_credentials,     // empty user name, text not valid UTF-8, ...
  crypto_failure,          // an OpenSSL call failed
  invalid_state,           // API called out of order (a bug in the caller)
  aead_tag_mismatch,       // an encrypted SMB message failed authentication
};

const std::error_category& auth_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), auth_category()};
}

}  // namespace smbgate::auth

template <>
struct std::is_error_code_enum<smbgate::auth::errc> : std::true_type {};
