// SMB 2.x/3.x session keys (MS-SMB2 3.2.5.3.1 on the client, 3.3.5.5.3 on
// the server) and the choice of signing algorithm per dialect.
//
// Thread-safety: pure functions, reentrant.
#pragma once

#include <cstdint>

#include "auth/common/bytes.h"
#include "auth/common/smb2_ids.h"

namespace smbgate::auth {

// The MAC of a signed SMB2 message (MS-SMB2 3.1.4.1).
enum class SigningAlgorithm {
  kHmacSha256,  // 2.0.2, 2.1: HMAC-SHA256 truncated to 16 bytes
  kAesCmac,     // 3.0, 3.0.2, and 3.1.1 unless AES-GMAC was negotiated
  kAesGmac,     // 3.1.1 with SMB2_SIGNING_CAPABILITIES selecting AES-GMAC
};

// The algorithm for `dialect`; `gmac_negotiated` only matters for 3.1.1
// (SMB2_SIGNING_CAPABILITIES, MS-SMB2 3.2.5.2).
SigningAlgorithm SigningAlgorithmFor(std::uint16_t dialect,
                                     bool gmac_negotiated = false);

// Keys of one session. The directions are the client's: encryption_key
// protects client->server messages, decryption_key server->client ones.
struct SmbSessionKeys {
  SecretBytes signing_key;
  SecretBytes encryption_key;  // empty for 2.x
  SecretBytes decryption_key;  // empty for 2.x
  SecretBytes application_key;
};

// Derives the session's keys from the GSS session key (for NTLM the
// ExportedSessionKey) per MS-SMB2 3.2.5.3.1. Session.SessionKey is the first
// 16 bytes of `session_key`, right-padded with zeros when shorter (3.2.1.3).
//   2.0.2 / 2.1: signing and application key = SessionKey; no
//                encryption.
//   3.0 / 3.0.2: KDF(SessionKey, label, context) with
//                "SMB2AESCMAC\0"/"SmbSign\0", "SMB2APP\0"/"SmbRpc\0",
//                "SMB2AESCCM\0"/"ServerIn \0" (encryption, client->server),
//                "SMB2AESCCM\0"/"ServerOut\0" (decryption, server->client).
//   3.1.1:       KDF(SessionKey, label, preauth_hash) with "SMBSigningKey\0",
//                "SMBAppKey\0", "SMBC2SCipherKey\0" (encryption),
//                "SMBS2CCipherKey\0" (decryption).
// `preauth_hash` (64 bytes, Session.PreauthIntegrityHashValue after the last
// SESSION_SETUP request) is used for 3.1.1 only. An unknown dialect yields
// empty keys (the caller negotiated it, so that is a bug there).
SmbSessionKeys DeriveSmbKeys(std::uint16_t dialect, ByteSpan session_key,
                             ByteSpan preauth_hash);

// As above, for a 3.1.1 connection whose Connection.CipherId is `cipher_id`:
// with AES-256-CCM/GCM the encryption and decryption keys are 32 bytes (KDF
// 'L' = 256, MS-SMB2 3.1.4.2) derived from the full session key
// (Session.FullSessionKey); other keys as above.
SmbSessionKeys DeriveSmbKeys(std::uint16_t dialect, ByteSpan session_key,
                             ByteSpan preauth_hash, std::uint16_t cipher_id);

}  // namespace smbgate::auth
