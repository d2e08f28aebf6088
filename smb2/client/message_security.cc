#include "smb2/client/message_security.h"

#include <cstring>
#include <optional>

#include "auth/crypto.h"
#include "smb2/client/errors.h"
#include "smb2/codec/compound.h"
#include "smb2/codec/header.h"
#include "smb2/codec/negotiate.h"

namespace smbgate::smb2 {
namespace {

std::optional<auth::AeadCipher> AeadFor(std::uint16_t cipher_id) {
  switch (cipher_id) {
    case kCipherAes128Ccm: return auth::AeadCipher::kAes128Ccm;
    case kCipherAes128Gcm: return auth::AeadCipher::kAes128Gcm;
    case kCipherAes256Ccm: return auth::AeadCipher::kAes256Ccm;
    case kCipherAes256Gcm: return auth::AeadCipher::kAes256Gcm;
    default: return std::nullopt;
  }
}

}  // namespace

Result<std::array<std::uint8_t, 16>> ComputeSignature(std::uint16_t dialect, auth::SigningAlgorithm alg,
                                                      ByteSpan key, ByteSpan message) {
  if (message.size() < kHeaderSize) return errc::malformed_response;
  // MS-SMB2 3.1.4.1: 2.0.2 and 2.1 use HMAC-SHA256 truncated to 16 bytes;
  // 3.x AES-128-CMAC, or the algorithm 3.1.1 negotiated.
  if (dialect < kDialect300) return auth::HmacSha256Trunc16(key, message);
  if (dialect == kDialect311 && alg == auth::SigningAlgorithm::kAesGmac) {
    // Nonce: MessageId, then a 32-bit word whose bit 0 says the sender is
    // the server and bit 1 that the message is a CANCEL request.
    std::array<std::uint8_t, 12> nonce{};
    std::memcpy(nonce.data(), message.data() + 24, 8);
    std::uint32_t flags = 0, role = 0;
    std::uint16_t command = 0;
    std::memcpy(&flags, message.data() + 16, 4);
    std::memcpy(&command, message.data() + 12, 2);
    if (flags & kFlagServerToRedir) role |= 1;
    if (command == static_cast<std::uint16_t>(Command::kCancel)) role |= 2;
    std::memcpy(nonce.data() + 8, &role, 4);
    return auth::AesGmac128(key, nonce, message);
  }
  return auth::AesCmac128(key, message);
}

MessageSecurity::MessageSecurity(std::uint16_t dialect, auth::SigningAlgorithm signing, std::uint16_t cipher_id,
                                 bool seal)
    : dialect_(dialect), signing_(signing), cipher_id_(cipher_id), seal_(seal) {}

Result<void> MessageSecurity::AddSession(std::uint64_t session_id, auth::SmbSessionKeys keys,
                                         bool encrypt_all) {
  Keys k;
  k.signing = std::move(keys.signing_key);
  k.encrypt_all = encrypt_all || seal_;
  if (auto c = AeadFor(cipher_id_)) {
    if (keys.encryption_key.size() != auth::AeadKeySize(*c) || keys.decryption_key.size() != auth::AeadKeySize(*c)) {
      if (k.encrypt_all) return client_errc::encryption_unavailable;
    } else {
      k.encryption = std::move(keys.encryption_key);
      k.decryption = std::move(keys.decryption_key);
    }
  } else if (k.encrypt_all) {
    return client_errc::encryption_unavailable;
  }
  auth::OsRandom()(k.nonce_prefix);
  sessions_[session_id] = std::move(k);
  return {};
}

Result<void> MessageSecurity::EncryptTree(std::uint64_t session_id, std::uint32_t tree_id) {
  auto it = sessions_.find(session_id);
  if (it == sessions_.end() || it->second.encryption.empty()) return client_errc::encryption_unavailable;
  encrypted_trees_.insert({session_id, tree_id});
  return {};
}

void MessageSecurity::RemoveSession(std::uint64_t session_id) {
  sessions_.erase(session_id);
  for (auto it = encrypted_trees_.begin(); it != encrypted_trees_.end();) {
    it = it->first == session_id ? encrypted_trees_.erase(it) : std::next(it);
  }
}

bool MessageSecurity::SessionEncrypted(std::uint64_t session_id) const {
  auto it = sessions_.find(session_id);
  return it != sessions_.end() && it->second.encrypt_all;
}

Protection MessageSecurity::ProtectionFor(std::uint64_t session_id, std::uint32_t tree_id,
                                          bool sign_requested) const {
  if (session_id == 0) return Protection::kNone;
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return Protection::kNone;
  // MS-SMB2 3.2.4.1.8: encrypt when the session or the tree demands it.
  if (it->second.encrypt_all || encrypted_trees_.count({session_id, tree_id})) return Protection::kEncrypted;
  return sign_requested ? Protection::kSigned : Protection::kNone;
}

void MessageSecurity::Sign(std::uint64_t session_id, MutableByteSpan message) const {
  auto it = sessions_.find(session_id);
  if (it == sessions_.end() || message.size() < kHeaderSize) return;
  std::memset(message.data() + kSignatureOffset, 0, kSignatureSize);
  // Cannot fail for the key sizes DeriveSmbKeys makes; a failure would only
  // send a request the server refuses.
  if (auto sig = ComputeSignature(dialect_, signing_, it->second.signing.span(), message)) {
    std::memcpy(message.data() + kSignatureOffset, sig->data(), kSignatureSize);
  }
}

bool VerifyWithKey(std::uint16_t dialect, auth::SigningAlgorithm alg, ByteSpan key, MutableByteSpan message) {
  if (message.size() < kHeaderSize) return false;
  std::array<std::uint8_t, kSignatureSize> got;
  std::memcpy(got.data(), message.data() + kSignatureOffset, kSignatureSize);
  std::memset(message.data() + kSignatureOffset, 0, kSignatureSize);
  auto want = ComputeSignature(dialect, alg, key, message);
  std::memcpy(message.data() + kSignatureOffset, got.data(), kSignatureSize);
  return want && auth::ConstantTimeEqual(*want, got);
}

bool MessageSecurity::Verify(std::uint64_t session_id, MutableByteSpan message) const {
  auto it = sessions_.find(session_id);
  return it != sessions_.end() && VerifyWithKey(dialect_, signing_, it->second.signing.span(), message);
}

Result<Bytes> MessageSecurity::Encrypt(std::uint64_t session_id, ByteSpan plain) {
  auto it = sessions_.find(session_id);
  auto cipher = AeadFor(cipher_id_);
  if (it == sessions_.end() || !cipher || it->second.encryption.empty()) {
    return client_errc::encryption_unavailable;
  }
  Keys& k = it->second;
  TransformHeader t;
  // 2.2.41: the Nonce field is 16 bytes, of which CCM uses 11 and GCM 12;
  // the rest stays zero.
  std::memcpy(t.nonce.data(), k.nonce_prefix.data(), 4);
  const std::uint64_t n = ++k.nonce_counter;
  std::memcpy(t.nonce.data() + 4, &n, 8);
  if (auth::AeadNonceSize(*cipher) == 11) t.nonce[11] = 0;
  t.original_message_size = static_cast<std::uint32_t>(plain.size());
  t.session_id = session_id;
  WireWriter w;
  Encode(t, w);
  Bytes out = w.Take();
  out.resize(kTransformHeaderSize + plain.size());
  // 3.1.4.3: the AAD is the header from Nonce to SessionId.
  const ByteSpan aad(out.data() + kTransformAadOffset, kTransformAadSize);
  const ByteSpan nonce(t.nonce.data(), auth::AeadNonceSize(*cipher));
  auto tag = auth::AeadSeal(*cipher, k.encryption.span(), nonce, aad, plain, out.data() + kTransformHeaderSize);
  if (!tag) return tag.error();
  std::memcpy(out.data() + 4, tag->data(), 16);
  return out;
}

Result<DecryptedFrame> MessageSecurity::Decrypt(ByteSpan frame) const {
  auto t = DecodeTransformHeader(frame);
  if (!t) return t.error();
  auto it = sessions_.find(t->session_id);
  auto cipher = AeadFor(cipher_id_);
  if (it == sessions_.end() || !cipher || it->second.decryption.empty()) return client_errc::unknown_session;
  DecryptedFrame d;
  d.session_id = t->session_id;
  d.frame.resize(t->original_message_size);
  const ByteSpan aad = frame.subspan(kTransformAadOffset, kTransformAadSize);
  const ByteSpan nonce(t->nonce.data(), auth::AeadNonceSize(*cipher));
  if (!auth::AeadOpen(*cipher, it->second.decryption.span(), nonce, aad, frame.subspan(kTransformHeaderSize),
                      t->signature, d.frame.data())) {
    return client_errc::decryption_failed;
  }
  return d;
}

}  // namespace smbgate::smb2
