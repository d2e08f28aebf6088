#include "auth/smb_keys.h"

#include <algorithm>
#include <string_view>

#include "auth/crypto.h"

namespace smbgate::auth {
namespace {

// A label or context string including its terminating NUL, as MS-SMB2
// 3.2.5.3.1 specifies them ("SMB2AESCMAC" is 12 bytes on the wire).
template <std::size_t N>
ByteSpan WithNul(const char (&s)[N]) {
  return {reinterpret_cast<const std::uint8_t*>(s), N};
}

}  // namespace

SigningAlgorithm SigningAlgorithmFor(std::uint16_t dialect,
                                     bool gmac_negotiated) {
  if (dialect < smb2::kDialect300) return SigningAlgorithm::kHmacSha256;
  if (dialect == smb2::kDialect311 && gmac_negotiated) {
    return SigningAlgorithm::kAesGmac;
  }
  return SigningAlgorithm::kAesCmac;
}

SmbSessionKeys DeriveSmbKeys(std::uint16_t dialect, ByteSpan session_key,
                             ByteSpan preauth_hash) {
  return DeriveSmbKeys(dialect, session_key, preauth_hash, 0);
}

SmbSessionKeys DeriveSmbKeys(std::uint16_t dialect, ByteSpan session_key,
                             ByteSpan preauth_hash, std::uint16_t cipher_id) {
  // MS-SMB2 3.2.1.3: Session.SessionKey is the first 16 bytes of the GSS
  // key, right-padded with zeros.
  SecretBytes key16(16);
  std::copy_n(session_key.begin(),
              std::min<std::size_t>(16, session_key.size()), key16.data());

  SmbSessionKeys k;
  switch (dialect) {
    case smb2::kDialect202:
    case smb2::kDialect210:
      k.signing_key = key16.Clone();
      k.application_key = key16.Clone();
      return k;
    case smb2::kDialect300:
    case smb2::kDialect302:
      k.signing_key =
          Sp800108Kdf(key16.span(), WithNul("SMB2AESCMAC"), WithNul("SmbSign"));
      k.application_key =
          Sp800108Kdf(key16.span(), WithNul("SMB2APP"), WithNul("SmbRpc"));
      // Note the space: "ServerIn " is as long as "ServerOut".
      k.encryption_key = Sp800108Kdf(key16.span(), WithNul("SMB2AESCCM"),
                                     WithNul("ServerIn "));
      k.decryption_key = Sp800108Kdf(key16.span(), WithNul("SMB2AESCCM"),
                                     WithNul("ServerOut"));
      return k;
    case smb2::kDialect311: {
      k.signing_key =
          Sp800108Kdf(key16.span(), WithNul("SMBSigningKey"), preauth_hash);
      k.application_key =
          Sp800108Kdf(key16.span(), WithNul("SMBAppKey"), preauth_hash);
      const bool aes256 =
          cipher_id == smb2::kCipherAes256Ccm || cipher_id == smb2::kCipherAes256Gcm;
      // MS-SMB2 3.2.5.3.1: the AES-256 ciphers key the KDF with
      // Session.FullSessionKey and ask for 256 bits.
      const ByteSpan cipher_key = aes256 ? session_key : key16.span();
      const std::size_t bits = aes256 ? 256 : 128;
      k.encryption_key = Sp800108Kdf(cipher_key, WithNul("SMBC2SCipherKey"),
                                     preauth_hash, bits);
      k.decryption_key = Sp800108Kdf(cipher_key, WithNul("SMBS2CCipherKey"),
                                     preauth_hash, bits);
      return k;
    }
    default:
      return k;
  }
}

}  // namespace smbgate::auth
