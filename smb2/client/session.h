// Session and Tree: SESSION_SETUP with NTLMv2 inside SPNEGO (MS-SMB2 3.2.4.2.3,
// 3.2.5.3), key derivation and signing (3.2.5.3.1), LOGOFF, TREE_CONNECT with
// FSCTL_VALIDATE_NEGOTIATE_INFO (3.2.4.2.4, 3.2.5.5), TREE_DISCONNECT.
//
// Thread-safety: the objects are immutable once set up; every member may be
// called from any thread except the Connection's I/O thread (they block).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "auth/common/result.h"
#include "auth/ntlm.h"
#include "smb2/client/connection.h"

namespace smbgate::smb2 {

class Session {
 public:
  // Authenticates on `conn` (blocking). Errors: the server's NTSTATUS
  // (STATUS_LOGON_FAILURE, ...), auth::errc for a bad or tampered token,
  // client_errc::guest_session_refused, client_errc::unsigned_response or
  // client_errc::signature_mismatch for a final response that does not verify.
  // `target_spn` is sent as MsvAvTargetName ("cifs/<server name>"); empty
  // sends none.
  static Result<std::shared_ptr<Session>> Setup(std::shared_ptr<Connection> conn,
                                                auth::NtlmCredentials creds,
                                                std::string target_spn = {});
  ~Session();

  std::uint64_t id() const noexcept { return id_; }
  Connection& connection() const noexcept { return *conn_; }
  const std::shared_ptr<Connection>& connection_ptr() const noexcept { return conn_; }
  std::chrono::microseconds setup_duration() const noexcept { return setup_duration_; }
  // Whether every message of this session is encrypted (the server set
  // SMB2_SESSION_FLAG_ENCRYPT_DATA, or ConnectionOptions::seal).
  bool encrypted() const noexcept { return encrypted_; }
  // Sends LOGOFF; the session is unusable afterwards.
  Result<void> Logoff();

 private:
  Session(std::shared_ptr<Connection> conn, std::uint64_t id) : conn_(std::move(conn)), id_(id) {}
  std::shared_ptr<Connection> conn_;
  std::uint64_t id_;
  std::chrono::microseconds setup_duration_{0};
  bool logged_off_ = false;
  bool encrypted_ = false;
};

class Tree {
 public:
  // TREE_CONNECT to `unc` ("\\host\share"), then, on 3.0 and 3.0.2,
  // FSCTL_VALIDATE_NEGOTIATE_INFO. Errors: NTSTATUS (STATUS_BAD_NETWORK_NAME,
  // STATUS_ACCESS_DENIED), client_errc::validate_negotiate_failed,
  // client_errc::encryption_unavailable.
  static Result<std::shared_ptr<Tree>> Connect(std::shared_ptr<Session> session,
                                               const std::string& unc);
  ~Tree();

  std::uint32_t id() const noexcept { return id_; }
  std::uint8_t share_type() const noexcept { return share_type_; }
  std::uint32_t share_flags() const noexcept { return share_flags_; }
  // SMB2_SHARE_CAP_* of the TREE_CONNECT response (MS-SMB2 2.2.10).
  std::uint32_t share_capabilities() const noexcept { return share_capabilities_; }
  std::uint32_t maximal_access() const noexcept { return maximal_access_; }
  const std::string& unc() const noexcept { return unc_; }
  // Whether this tree's messages are encrypted (its session's are, the share
  // sets SHI1005_FLAGS_ENCRYPT_DATA, or ConnectionOptions::seal).
  bool encrypted() const noexcept { return encrypted_; }
  Session& session() const noexcept { return *session_; }
  Connection& connection() const noexcept { return session_->connection(); }

  Result<void> Disconnect();

 private:
  Tree(std::shared_ptr<Session> s, std::uint32_t id, std::string unc)
      : session_(std::move(s)), id_(id), unc_(std::move(unc)) {}
  Result<void> ValidateNegotiate();

  std::shared_ptr<Session> session_;
  std::uint32_t id_;
  std::string unc_;
  std::uint8_t share_type_ = 0;
  std::uint32_t share_flags_ = 0;
  std::uint32_t share_capabilities_ = 0;
  std::uint32_t maximal_access_ = 0;
  bool disconnected_ = false;
  bool encrypted_ = false;
};

// A request with the 64-byte header region reserved and the body encoded.
template <class Body>
Request MakeRequest(Command cmd, const Body& body, std::uint64_t session_id, std::uint32_t tree_id) {
  Request r;
  r.command = cmd;
  WireWriter w;
  w.Zeros(kHeaderSize);
  Encode(body, w);
  r.message = w.Take();
  r.session_id = session_id;
  r.tree_id = tree_id;
  return r;
}

// The NTSTATUS of a response as an error code, or success.
inline std::error_code StatusError(const Response& r) {
  return r.status() == 0 ? std::error_code{} : MakeNtStatusError(r.status());
}

}  // namespace smbgate::smb2
