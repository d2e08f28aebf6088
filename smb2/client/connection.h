// Connection: one connection to an SMB2/3 server, composed of three parts
// with one job each: a Transport (the socket and the MS-SMB2 2.1 framing,
// smb2/client/transport.h), MessageSecurity (each session's keys: sign,
// verify, encrypt, decrypt; message_security.h) and a RequestTable (message
// ids, credits, deadlines; request_table.h). The Connection itself does
// NEGOTIATE (3.2.4.2), sends requests with the protection their session and
// tree need, and hands each response that passed it to its request.
//
// Asio stays inside connection.cc and tcp_transport.cc: this header is
// included widely.
//
// Threading: every public member is thread-safe. Work runs on one internal
// I/O thread (the connection's strand); response handlers run on that thread
// and must not block (hand longer work elsewhere). Blocking helpers such as
// Call() must never be used from a handler.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/common/bytes.h"
#include "auth/common/result.h"
#include "auth/crypto.h"
#include "auth/smb_keys.h"
#include "smb2/client/errors.h"
#include "smb2/client/message.h"
#include "smb2/client/transport.h"
#include "smb2/codec/header.h"

namespace smbgate::smb2 {

struct ConnectionOptions {
  std::string host;
  std::uint16_t port = 445;
  // Dialect range offered in NEGOTIATE (kDialect202 .. kDialect311).
  std::uint16_t min_dialect = 0x0202;
  std::uint16_t max_dialect = 0x0311;
  std::chrono::milliseconds connect_timeout{10'000};
  // Deadline of each request; an interim STATUS_PENDING restarts it.
  std::chrono::milliseconds request_timeout{60'000};
  // Upper bound for one READ or WRITE (the server's limits also apply).
  std::uint32_t max_io_size = 8 * 1024 * 1024;
  // Credits smbgate tries to keep in hand: how many requests can be in
  // flight at once (MS-SMB2 3.2.4.1.2).
  std::uint16_t credits_target = 512;
  // Encrypt every session and tree whatever the server asks (mount.cifs
  // `seal`). Needs SMB 3.x: against a 2.x-only server the session setup
  // fails with errc::encryption_unavailable.
  bool seal = false;
  // Connection.ClientGuid (MS-SMB2 3.2.4.2.2.2); all zero: a random one.
  // Reconnects of one mount reuse it, as durable and replayed opens are
  // found by it (3.3.5.9.12).
  std::array<std::uint8_t, 16> client_guid{};
  // Observers for metrics and logs, called on the I/O thread (must be
  // quick): every final response with its status and the time since its
  // request was sent, and every response
  // dropped for failing its protection, with the reason
  // (client_errc::unsigned_response, signature_mismatch,
  // unencrypted_response, decryption_failed, unknown_session).
  std::function<void(Command, std::uint32_t status, std::chrono::nanoseconds elapsed)> on_response;
  std::function<void(std::error_code reason)> on_protection_failure;
};

// What NEGOTIATE settled, kept so a reconnect can check it is talking to the
// same server with the same parameters.
struct LeaseBreakNotification;

struct NegotiatedState {
  std::uint16_t dialect = 0;
  std::array<std::uint8_t, 16> server_guid{};
  std::array<std::uint8_t, 16> client_guid{};
  std::uint32_t server_capabilities = 0;
  std::uint32_t client_capabilities = 0;
  std::uint16_t server_security_mode = 0;
  std::uint16_t client_security_mode = 0;
  std::vector<std::uint16_t> offered_dialects;
  std::uint32_t max_read_size = 0;   // min(server, options)
  std::uint32_t max_write_size = 0;  // min(server, options)
  std::uint32_t max_transact_size = 0;
  auth::SigningAlgorithm signing_algorithm = auth::SigningAlgorithm::kHmacSha256;
  // Connection.CipherId (MS-SMB2 2.2.3.1.2 ids): AES-128-CCM for 3.0/3.0.2
  // servers with SMB2_GLOBAL_CAP_ENCRYPTION, the ENCRYPTION_CAPABILITIES
  // choice in 3.1.1; 0 when the server cannot encrypt.
  std::uint16_t cipher_id = 0;
  Bytes server_security_buffer;  // the SPNEGO hint of the NEGOTIATE response
  Bytes preauth_hash;            // 3.1.1: after NEGOTIATE request+response
  auth::PreauthHash preauth;     // the same, to continue into SESSION_SETUP
  bool large_mtu = false;        // multi-credit requests allowed
};



// How Connection::Open went: the step that failed, and how long each step
// that finished took (the NEGOTIATE time is one round trip to the server).
struct OpenReport {
  const char* failed_step = nullptr;  // "dns", "connect" or "negotiate"
  std::chrono::microseconds dns{0};
  std::chrono::microseconds connect{0};
  std::chrono::microseconds negotiate{0};
};

class Connection {
 public:
  // Connects over TCP and negotiates (blocking the caller). Errors:
  // client_errc::*, connection errors as system error codes, NTSTATUS of
  // NEGOTIATE, client_errc::encryption_unavailable when `seal` is set and
  // the server cannot encrypt. On failure `failed_step` (if given) is set to
  // "connect" or "negotiate".
  static Result<std::shared_ptr<Connection>> Open(const ConnectionOptions& opts,
                                                  const char** failed_step = nullptr);
  // The same, reporting the failed step ("dns", "connect", "negotiate") and
  // each step's time in `report`.
  static Result<std::shared_ptr<Connection>> Open(const ConnectionOptions& opts, OpenReport* report);
  // The same over the transport `make_transport` returns (unit tests).
  static Result<std::shared_ptr<Connection>> Open(const ConnectionOptions& opts, const TransportFactory& make_transport,
                                                  const char** failed_step = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Queues a request; `done` runs exactly once, on the I/O thread, with the
  // final response (any status), or an error (timeout, connection_lost,
  // malformed_response). A response that fails its protection (unsigned,
  // mis-signed, not encrypted, not decrypting) is dropped without touching
  // the request; if no genuine one comes, the request fails at its deadline
  // with that reason (unsigned_response, signature_mismatch,
  // unencrypted_response, decryption_failed) instead of timeout.
  void Send(Request req, ResponseHandler done);

  // Sends `reqs` as one compound frame (MS-SMB2 3.2.4.1.4), each member
  // signed (or the whole frame encrypted); with `related`, members after the
  // first carry SMB2_FLAGS_RELATED_OPERATIONS (use FileId 0xFFFF... for "the
  // handle the first member opened"). `done` runs once, on the I/O thread,
  // with one result per member in order.
  void SendCompound(std::vector<Request> reqs, bool related,
                    std::function<void(std::vector<Result<Response>>)> done);

  // Send() and wait. Never call from a response handler.
  Result<Response> Call(Request req);

  // Installs a session's keys once its setup succeeded (blocking): its
  // requests are signed, or with `encrypt_all` encrypted, and its responses
  // must verify (MS-SMB2 3.2.4.1.1, 3.2.4.1.8, 3.2.5.1.3). Errors:
  // client_errc::encryption_unavailable.
  Result<void> AddSession(std::uint64_t session_id, auth::SmbSessionKeys keys, bool encrypt_all);
  // Encrypts every message of one tree (blocking). Errors as AddSession.
  Result<void> EncryptTree(std::uint64_t session_id, std::uint32_t tree_id);
  void ForgetSession(std::uint64_t session_id);

  // The ChannelSequence every request carries from now on (3.x dialects,
  // MS-SMB2 2.2.1.2, 3.2.4.1.1): a reconnect raises it, so the server can
  // tell requests replayed on the new channel from stale ones of the old.
  void SetChannelSequence(std::uint16_t sequence);
  // Receives each lease break notification (MS-SMB2 2.2.23.2, 3.2.5.19.2),
  // on the I/O thread (must be quick; may call Send). Oplock breaks are
  // ignored: smbgate requests leases, never oplocks.
  void SetLeaseBreakHandler(std::function<void(const LeaseBreakNotification&)> handler);

  // Verifies a message's signature with an explicit key (the final
  // SESSION_SETUP response, checked by Session before it installs the key).
  bool VerifySignature(ByteSpan message, ByteSpan key) const;

  const NegotiatedState& negotiated() const noexcept;
  const ConnectionOptions& options() const noexcept;
  // False once the connection failed or was closed.
  bool is_open() const noexcept;
  // Remote endpoint as "host:port" for messages.
  std::string peer() const;

  // Fails every pending request with client_errc::connection_lost and
  // closes.
  void Close();

  struct Impl;

 private:
  explicit Connection(std::unique_ptr<Impl> impl);
  // Attaches the transport and negotiates.
  static Result<std::shared_ptr<Connection>> Finish(std::unique_ptr<Impl> impl, std::unique_ptr<Transport> t,
                                                    OpenReport* report);
  Result<void> Negotiate();
  std::unique_ptr<Impl> impl_;
};

}  // namespace smbgate::smb2
