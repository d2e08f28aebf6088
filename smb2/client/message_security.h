// MessageSecurity: the keys of every session on one connection and what they
// protect: signing and verification of SMB2 messages (MS-SMB2 3.1.4.1,
// 3.2.4.1.1, 3.2.5.1.3), encryption into and decryption out of the
// TRANSFORM_HEADER (2.2.41, 3.1.4.3, 3.2.4.1.8, 3.2.5.1.1.1), and the rule of
// which request needs which protection.
//
// Pure: no sockets, no Asio, no logging. Thread-safety: none; the Connection
// uses it from its I/O thread only.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <utility>

#include "auth/common/bytes.h"
#include "auth/common/result.h"
#include "auth/smb_keys.h"

namespace smbgate::smb2 {

// What a request is sent with, and so what its response must carry; decided
// when the request is sent (MS-SMB2 3.2.4.1.1, 3.2.4.1.8).
enum class Protection {
  kNone,       // NEGOTIATE, SESSION_SETUP before the key, session-less ECHO
  kSigned,     // the response must be signed with the session's key
  kEncrypted,  // the response must come in a TRANSFORM_HEADER of the session
};

// A decrypted frame: the plain SMB2 frame (possibly a compound chain) and the
// session whose key opened it.
struct DecryptedFrame {
  Bytes frame;
  std::uint64_t session_id = 0;
};

class MessageSecurity {
 public:
  // `dialect` and `signing` as negotiated; `cipher_id` is
  // NegotiatedState::cipher_id (0: the connection cannot encrypt); with
  // `seal` every session is encrypted.
  MessageSecurity(std::uint16_t dialect, auth::SigningAlgorithm signing, std::uint16_t cipher_id, bool seal);

  // Installs a session's keys once its setup succeeded. With `encrypt_all`
  // (SMB2_SESSION_FLAG_ENCRYPT_DATA, or seal) every message of the session
  // is encrypted. Errors: client_errc::encryption_unavailable when
  // encryption is wanted but the connection has no cipher, or a key does
  // not fit the cipher.
  Result<void> AddSession(std::uint64_t session_id, auth::SmbSessionKeys keys, bool encrypt_all);
  // Encrypts the messages of one tree of a session (SHI1005_FLAGS_ENCRYPT_DATA
  // in TREE_CONNECT). Errors as AddSession.
  Result<void> EncryptTree(std::uint64_t session_id, std::uint32_t tree_id);
  void RemoveSession(std::uint64_t session_id);
  bool HasSession(std::uint64_t session_id) const { return sessions_.count(session_id) != 0; }
  bool SessionEncrypted(std::uint64_t session_id) const;

  // The protection of a request to (session_id, tree_id); kNone for session
  // 0 or a session without keys yet (its setup).
  Protection ProtectionFor(std::uint64_t session_id, std::uint32_t tree_id, bool sign_requested) const;

  // Sets SMB2_FLAGS_SIGNED already present in `message`'s header and writes
  // its signature (the field taken as zero). `message` is one whole SMB2
  // message with its compound padding.
  void Sign(std::uint64_t session_id, MutableByteSpan message) const;
  // Whether `message` carries a valid signature of `session_id`'s key. The
  // signature field is zeroed in place while computing (the caller owns the
  // frame) and restored afterwards.
  bool Verify(std::uint64_t session_id, MutableByteSpan message) const;

  // Wraps a plain SMB2 frame (one message or a compound chain, unsigned) of
  // `session_id` into TRANSFORM_HEADER + ciphertext with a fresh nonce.
  Result<Bytes> Encrypt(std::uint64_t session_id, ByteSpan plain);
  // Opens a TRANSFORM_HEADER frame. Errors: errc::malformed_response for a
  // bad header, client_errc::unknown_session for a session without
  // encryption keys, client_errc::decryption_failed for a tag that does not
  // verify.
  Result<DecryptedFrame> Decrypt(ByteSpan frame) const;

  std::uint16_t dialect() const { return dialect_; }
  auth::SigningAlgorithm signing_algorithm() const { return signing_; }
  std::uint16_t cipher_id() const { return cipher_id_; }

 private:
  struct Keys {
    SecretBytes signing;
    SecretBytes encryption;  // client to server
    SecretBytes decryption;  // server to client
    bool encrypt_all = false;
    // Nonce: 64-bit counter after a random prefix per session, so no two
    // messages of a session share one (MS-SMB2 3.2.4.1.8).
    std::uint64_t nonce_counter = 0;
    std::array<std::uint8_t, 4> nonce_prefix{};
  };

  std::uint16_t dialect_;
  auth::SigningAlgorithm signing_;
  std::uint16_t cipher_id_;
  bool seal_;
  std::map<std::uint64_t, Keys> sessions_;
  std::set<std::pair<std::uint64_t, std::uint32_t>> encrypted_trees_;
};

// Whether `message` carries a valid signature made with `key` (MS-SMB2
// 3.1.5.1 step 2: computed with the signature field zeroed, which is done in
// place and undone). Compared in constant time.
bool VerifyWithKey(std::uint16_t dialect, auth::SigningAlgorithm alg, ByteSpan key, MutableByteSpan message);

// Signature of `message` (signature field taken as zero) per MS-SMB2 3.1.4.1.
// The AES-GMAC nonce (MessageId, role and CANCEL bits) is read from the
// message's own header.
Result<std::array<std::uint8_t, 16>> ComputeSignature(std::uint16_t dialect, auth::SigningAlgorithm alg,
                                                      ByteSpan key, ByteSpan message);

}  // namespace smbgate::smb2
