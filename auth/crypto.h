// Cryptographic primitives for NTLM and SMB 2/3: hashes, MACs, the SP800-108
// KDF, the SMB 3.1.1 pre-authentication hash, and the injected random source
// and clock. OpenSSL 3 (default provider) for everything except MD4 and RC4,
// which OpenSSL 3 keeps in the legacy provider that slim images lack; those
// two are implemented here from their specifications.
//
// Thread-safety: every free function is reentrant. Objects (Rc4, PreauthHash)
// are not synchronised; use one per thread or lock outside.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "auth/common/bytes.h"
#include "auth/common/result.h"
#include "auth/errors.h"

namespace smbgate::auth {

using Digest16 = std::array<std::uint8_t, 16>;

// MD4 (RFC 1320). Only for NTOWFv2 (MS-NLMP 3.3.2); never for anything new.
Digest16 Md4(ByteSpan data);

// MD5 (RFC 1321), for SIGNKEY/SEALKEY (MS-NLMP 3.4.5.2, 3.4.5.3).
// All-zero on the (default-provider-impossible) OpenSSL failure.
Digest16 Md5(ByteSpan data);

// RC4 stream cipher (the "RC4Init"/"RC4" handle of MS-NLMP 6). The state
// carries over between Apply() calls, as NTLM's sealing handle requires
// (MS-NLMP 3.4.4.2). The key schedule is wiped on destruction.
class Rc4Stream {
 public:
  // Keys longer than 256 bytes use their first 256; an empty key behaves as
  // a single zero byte.
  explicit Rc4Stream(ByteSpan key);
  Rc4Stream(const Rc4Stream&) = delete;
  Rc4Stream& operator=(const Rc4Stream&) = delete;
  Rc4Stream(Rc4Stream&& o) noexcept;
  Rc4Stream& operator=(Rc4Stream&& o) noexcept;
  ~Rc4Stream();

  // XORs `in.size()` bytes of keystream into out[0..n). `out` may equal
  // in.data().
  void Apply(ByteSpan in, std::uint8_t* out);

 private:
  void Wipe() noexcept;
  std::array<std::uint8_t, 256> s_{};
  std::uint8_t i_ = 0;
  std::uint8_t j_ = 0;
};

// One-shot RC4 ("RC4K" of MS-NLMP 6): out[0..in.size()) = RC4(key, in).
// `out` may equal in.data().
void Rc4(ByteSpan key, ByteSpan in, std::uint8_t* out);

// HMAC-MD5 (RFC 2104), the NTLMv2 PRF. All-zero on OpenSSL failure (which
// then never verifies).
Digest16 HmacMd5(ByteSpan key, ByteSpan data);

// HMAC-SHA256 (RFC 4231), full 32 bytes. All-zero on OpenSSL failure.
std::array<std::uint8_t, 32> HmacSha256(ByteSpan key, ByteSpan data);

// SMB 2.0.2/2.1 signature: the first 16 bytes of HMAC-SHA256(key, data)
// (MS-SMB2 3.1.4.1).
Digest16 HmacSha256Trunc16(ByteSpan key, ByteSpan data);

// AES-128-CMAC (RFC 4493), the SMB 3.0/3.0.2/3.1.1 signature (MS-SMB2
// 3.1.4.1). Errors: crypto_failure if the key is not 16 bytes or OpenSSL
// fails.
Result<Digest16> AesCmac128(ByteSpan key, ByteSpan data);

// AES-128-GMAC: the GCM tag over `data` as additional authenticated data and
// an empty plaintext (NIST SP800-38D), the SMB 3.1.1 signature when
// SMB2_SIGNING_CAPABILITIES selects AES-GMAC (MS-SMB2 3.1.4.1). The 12-byte
// nonce is built by the caller from the SMB2 header. Errors: crypto_failure
// on a key that is not 16 bytes, a nonce that is not 12, or an OpenSSL error.
Result<Digest16> AesGmac128(ByteSpan key, ByteSpan nonce12, ByteSpan data);

// ---- SMB 3.x message encryption (MS-SMB2 3.1.4.3, 2.2.41) ------------------
//
// The AAD of an SMB2 TRANSFORM_HEADER is its 32 bytes from Nonce through
// SessionId (header offsets 20..52); the tag is its Signature field. The
// caller builds both: these functions only run the cipher.

// SMB 3.x ciphers (MS-SMB2 2.2.3.1.2 ids 1..4).
enum class AeadCipher { kAes128Ccm, kAes128Gcm, kAes256Ccm, kAes256Gcm };

// Nonce length the cipher uses in the TRANSFORM_HEADER: 11 for CCM, 12 for
// GCM (MS-SMB2 2.2.41); the rest of the 16-byte Nonce field is not used.
std::size_t AeadNonceSize(AeadCipher c) noexcept;

// Key length: 16 for the AES-128 ciphers, 32 for AES-256.
std::size_t AeadKeySize(AeadCipher c) noexcept;

// Encrypts `plaintext` into out[0..plaintext.size()) (out may equal
// plaintext.data(); it may be null when the plaintext is empty)
// authenticating `aad`, and returns the 16-byte tag. Errors: crypto_failure
// on a key that is not AeadKeySize(c) bytes, a nonce that is not
// AeadNonceSize(c), a plaintext or aad longer than INT_MAX bytes, or an
// OpenSSL failure. Reentrant: the fetched ciphers are shared read-only, each
// call has its own context.
Result<Digest16> AeadSeal(AeadCipher c, ByteSpan key, ByteSpan nonce,
                          ByteSpan aad, ByteSpan plaintext, std::uint8_t* out);

// Decrypts `ciphertext` into out[0..ciphertext.size()) (out may equal
// ciphertext.data()) and verifies `tag` over it and `aad`. Errors:
// aead_tag_mismatch when the tag does not verify (wrong key or a changed
// message); crypto_failure for the argument errors of AeadSeal, a tag that
// is not 16 bytes, or an OpenSSL failure. On any error out[0..n) is zeroed,
// so unauthenticated plaintext is never left behind. Reentrant.
Result<void> AeadOpen(AeadCipher c, ByteSpan key, ByteSpan nonce, ByteSpan aad,
                      ByteSpan ciphertext, ByteSpan tag, std::uint8_t* out);

// SP800-108 KDF in counter mode with HMAC-SHA256 as PRF, r = 32 (MS-SMB2
// 3.1.4.2): K(i) = HMAC-SHA256(key, [i]_32BE || label || 0x00 || context ||
// [L]_32BE) for i = 1.., output = the first L bits. The SMB labels carry
// their own terminating NUL, so it is part of `label`. `out_bits` must be a
// positive multiple of 8 (128 for AES-128 keys, 256 for AES-256); otherwise
// the result is empty.
SecretBytes Sp800108Kdf(ByteSpan key, ByteSpan label, ByteSpan context,
                        std::size_t out_bits = 128);

// Constant-time equality (CRYPTO_memcmp) for MACs; false if sizes differ
// (sizes are not secret).
bool ConstantTimeEqual(ByteSpan a, ByteSpan b);

// The SMB 3.1.1 pre-authentication integrity hash (MS-SMB2 3.2.5.2,
// 3.2.5.3.1): H starts as 64 zero bytes and each NEGOTIATE / SESSION_SETUP
// message (whole SMB2 message, header included) folds in as
// H = SHA-512(H || message). Copyable: the connection's value is copied into
// each session's before its SESSION_SETUP exchange.
class PreauthHash {
 public:
  PreauthHash();
  // Folds one message in. On an (impossible in the default provider) OpenSSL
  // failure the value becomes all-zero, so derived keys never verify.
  void Update(ByteSpan message);
  // The current 64-byte value; valid until the next Update.
  ByteSpan value() const { return h_; }

 private:
  std::array<std::uint8_t, 64> h_{};
};

// Fills its argument with cryptographically secure random bytes.
using RandomSource = std::function<void(MutableByteSpan)>;
// RAND_bytes. If OpenSSL cannot produce random bytes the process aborts:
// continuing with predictable session keys would be worse than stopping.
RandomSource OsRandom();

// Returns the current time as a FILETIME: 100 ns intervals since 1601-01-01
// UTC (MS-DTYP 2.3.3).
using FiletimeClock = std::function<std::uint64_t()>;
FiletimeClock SystemFiletimeClock();

}  // namespace smbgate::auth
