// Errors of the SMB2 client (connection, message security, session, tree,
// file operations), in their own category so that what went wrong on our
// side is never confused with a malformed frame (smb2::errc, the codec's) or
// the server's NTSTATUS (ntstatus_category). ClientErrno gives each one the
// errno an application should see.
#pragma once

#include <system_error>

namespace smbgate::smb2 {

enum class client_errc {
  connection_lost = 1,        // the TCP connection closed or failed
  timeout,                    // the request's deadline passed
  cancelled,                  // the request was cancelled by the caller
  credits_exhausted,          // the server granted no credits
  no_common_dialect,          // the server offered no dialect in our range
  signing_not_supported,      // the server will not sign
  signature_mismatch,         // a signed response whose MAC is wrong
  unsigned_response,          // a response that must be signed was not
  unknown_session,            // a response names a session we do not have
  guest_session_refused,      // the server made a guest or anonymous session
  validate_negotiate_failed,  // FSCTL_VALIDATE_NEGOTIATE_INFO mismatch
  downgrade_refused,          // a reconnect reached another server or weaker parameters
  encryption_unavailable,     // encryption required (seal) but the server cannot encrypt
  unencrypted_response,       // a response that must be encrypted was not
  decryption_failed,          // an encrypted response did not decrypt
  name_invalid,               // a path that is not valid UTF-8 or too long
  io_too_large,               // a READ or WRITE above the negotiated size
  host_not_found,             // the server name could not be resolved
};

const std::error_category& client_category() noexcept;
inline std::error_code make_error_code(client_errc e) noexcept {
  return {static_cast<int>(e), client_category()};
}

// The errno for a client error: ETIMEDOUT, EINTR, EACCES (a server or
// connection that smbgate's security policy refuses), EINVAL (a name),
// EMSGSIZE (an I/O size), EIO for the rest (lost connection, tampering,
// protocol violations); never EFBIG.
int ClientErrno(client_errc e) noexcept;

}  // namespace smbgate::smb2

template <>
struct std::is_error_code_enum<smbgate::smb2::client_errc> : std::true_type {};
