#include "auth/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace smbgate::auth {
namespace {

// OpenSSL treats a NULL key as "keep the previous key"; an empty key must
// still be a valid pointer.
const std::uint8_t kNoKey[1] = {0};
const std::uint8_t* KeyPtr(ByteSpan key) {
  return key.empty() ? kNoKey : key.data();
}

// ---- MD4, RFC 1320 ----------------------------------------------------------

std::uint32_t LoadLe32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) |
         (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) |
         (static_cast<std::uint32_t>(p[3]) << 24);
}

void StoreLe32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
  p[2] = static_cast<std::uint8_t>(v >> 16);
  p[3] = static_cast<std::uint8_t>(v >> 24);
}

// RFC 1320 3.4: the three auxiliary functions and the round constants.
constexpr std::uint32_t F(std::uint32_t x, std::uint32_t y, std::uint32_t z) {
  return (x & y) | (~x & z);
}
constexpr std::uint32_t G(std::uint32_t x, std::uint32_t y, std::uint32_t z) {
  return (x & y) | (x & z) | (y & z);
}
constexpr std::uint32_t H(std::uint32_t x, std::uint32_t y, std::uint32_t z) {
  return x ^ y ^ z;
}
constexpr std::uint32_t kRound2 = 0x5a827999;
constexpr std::uint32_t kRound3 = 0x6ed9eba1;

void Md4Block(std::uint32_t st[4], const std::uint8_t* block) {
  std::uint32_t x[16];
  for (int i = 0; i < 16; ++i) x[i] = LoadLe32(block + 4 * i);
  std::uint32_t a = st[0], b = st[1], c = st[2], d = st[3];

  // Round 1: [abcd k s] a = (a + F(b,c,d) + X[k]) <<< s.
  for (int i = 0; i < 16; i += 4) {
    a = std::rotl(a + F(b, c, d) + x[i + 0], 3);
    d = std::rotl(d + F(a, b, c) + x[i + 1], 7);
    c = std::rotl(c + F(d, a, b) + x[i + 2], 11);
    b = std::rotl(b + F(c, d, a) + x[i + 3], 19);
  }
  // Round 2: k runs down the columns: 0,4,8,12 then 1,5,9,13 ...
  for (int i = 0; i < 4; ++i) {
    a = std::rotl(a + G(b, c, d) + x[i + 0] + kRound2, 3);
    d = std::rotl(d + G(a, b, c) + x[i + 4] + kRound2, 5);
    c = std::rotl(c + G(d, a, b) + x[i + 8] + kRound2, 9);
    b = std::rotl(b + G(c, d, a) + x[i + 12] + kRound2, 13);
  }
  // Round 3: k in bit-reversed order: 0,8,4,12 then 2,10,6,14, 1,9,5,13 ...
  static constexpr int kOrder3[4] = {0, 2, 1, 3};
  for (int r = 0; r < 4; ++r) {
    const int i = kOrder3[r];
    a = std::rotl(a + H(b, c, d) + x[i + 0] + kRound3, 3);
    d = std::rotl(d + H(a, b, c) + x[i + 8] + kRound3, 9);
    c = std::rotl(c + H(d, a, b) + x[i + 4] + kRound3, 11);
    b = std::rotl(b + H(c, d, a) + x[i + 12] + kRound3, 15);
  }
  st[0] += a;
  st[1] += b;
  st[2] += c;
  st[3] += d;
  SecureWipe(x, sizeof x);
}

}  // namespace

Digest16 Md4(ByteSpan data) {
  std::uint32_t st[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
  const std::size_t n = data.size();
  std::size_t full = n / 64;
  for (std::size_t i = 0; i < full; ++i) Md4Block(st, data.data() + 64 * i);

  // RFC 1320 3.1-3.2: pad with 0x80 and zeros to 56 mod 64, then the bit
  // length as 64 bits little-endian.
  std::uint8_t tail[128] = {};
  const std::size_t rem = n - 64 * full;
  if (rem) std::memcpy(tail, data.data() + 64 * full, rem);
  tail[rem] = 0x80;
  const std::size_t tail_len = rem < 56 ? 64 : 128;
  const std::uint64_t bits = static_cast<std::uint64_t>(n) * 8;
  for (int i = 0; i < 8; ++i) {
    tail[tail_len - 8 + i] = static_cast<std::uint8_t>(bits >> (8 * i));
  }
  Md4Block(st, tail);
  if (tail_len == 128) Md4Block(st, tail + 64);
  SecureWipe(tail, sizeof tail);

  Digest16 out;
  for (int i = 0; i < 4; ++i) StoreLe32(out.data() + 4 * i, st[i]);
  SecureWipe(st, sizeof st);
  return out;
}

Digest16 Md5(ByteSpan data) {
  Digest16 out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_md5(),
                 nullptr) != 1 ||
      len != out.size()) {
    out.fill(0);
  }
  return out;
}

// ---- RC4 --------------------------------------------------------------------

Rc4Stream::Rc4Stream(ByteSpan key) {
  const std::uint8_t zero = 0;
  const std::uint8_t* k = key.empty() ? &zero : key.data();
  const std::size_t klen =
      key.empty() ? 1 : std::min<std::size_t>(key.size(), 256);
  for (int i = 0; i < 256; ++i) s_[i] = static_cast<std::uint8_t>(i);
  std::uint8_t j = 0;
  for (int i = 0; i < 256; ++i) {
    j = static_cast<std::uint8_t>(j + s_[i] + k[i % klen]);
    std::swap(s_[i], s_[j]);
  }
}

Rc4Stream::Rc4Stream(Rc4Stream&& o) noexcept : s_(o.s_), i_(o.i_), j_(o.j_) {
  o.Wipe();
}

Rc4Stream& Rc4Stream::operator=(Rc4Stream&& o) noexcept {
  if (this != &o) {
    s_ = o.s_;
    i_ = o.i_;
    j_ = o.j_;
    o.Wipe();
  }
  return *this;
}

Rc4Stream::~Rc4Stream() { Wipe(); }

void Rc4Stream::Wipe() noexcept {
  SecureWipe(s_.data(), s_.size());
  i_ = j_ = 0;
}

void Rc4Stream::Apply(ByteSpan in, std::uint8_t* out) {
  for (std::size_t n = 0; n < in.size(); ++n) {
    i_ = static_cast<std::uint8_t>(i_ + 1);
    j_ = static_cast<std::uint8_t>(j_ + s_[i_]);
    std::swap(s_[i_], s_[j_]);
    out[n] = in[n] ^ s_[static_cast<std::uint8_t>(s_[i_] + s_[j_])];
  }
}

void Rc4(ByteSpan key, ByteSpan in, std::uint8_t* out) {
  Rc4Stream rc4(key);
  rc4.Apply(in, out);
}

// ---- MACs -------------------------------------------------------------------

Digest16 HmacMd5(ByteSpan key, ByteSpan data) {
  Digest16 out{};
  unsigned int len = 0;
  if (key.size() > INT_MAX ||
      !HMAC(EVP_md5(), KeyPtr(key), static_cast<int>(key.size()), data.data(),
            data.size(), out.data(), &len) ||
      len != out.size()) {
    out.fill(0);
  }
  return out;
}

std::array<std::uint8_t, 32> HmacSha256(ByteSpan key, ByteSpan data) {
  std::array<std::uint8_t, 32> out{};
  unsigned int len = 0;
  if (key.size() > INT_MAX ||
      !HMAC(EVP_sha256(), KeyPtr(key), static_cast<int>(key.size()),
            data.data(), data.size(), out.data(), &len) ||
      len != out.size()) {
    out.fill(0);
  }
  return out;
}

Digest16 HmacSha256Trunc16(ByteSpan key, ByteSpan data) {
  auto full = HmacSha256(key, data);
  Digest16 out;
  std::memcpy(out.data(), full.data(), out.size());
  SecureWipe(full.data(), full.size());
  return out;
}

Result<Digest16> AesCmac128(ByteSpan key, ByteSpan data) {
  if (key.size() != 16) return errc::crypto_failure;
  using MacPtr = std::unique_ptr<EVP_MAC, decltype(&EVP_MAC_free)>;
  using CtxPtr = std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)>;
  MacPtr mac(EVP_MAC_fetch(nullptr, "CMAC", nullptr), &EVP_MAC_free);
  if (!mac) return errc::crypto_failure;
  CtxPtr ctx(EVP_MAC_CTX_new(mac.get()), &EVP_MAC_CTX_free);
  if (!ctx) return errc::crypto_failure;
  char cipher[] = "AES-128-CBC";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0),
      OSSL_PARAM_construct_end()};
  Digest16 out{};
  std::size_t len = 0;
  if (EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1 ||
      (!data.empty() &&
       EVP_MAC_update(ctx.get(), data.data(), data.size()) != 1) ||
      EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1 ||
      len != out.size()) {
    return errc::crypto_failure;
  }
  return out;
}

Result<Digest16> AesGmac128(ByteSpan key, ByteSpan nonce12, ByteSpan data) {
  if (key.size() != 16 || nonce12.size() != 12) return errc::crypto_failure;
  using CtxPtr =
      std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;
  CtxPtr ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  if (!ctx) return errc::crypto_failure;
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_gcm(), nullptr, nullptr,
                         nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, 12, nullptr) !=
          1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(),
                         nonce12.data()) != 1) {
    return errc::crypto_failure;
  }
  // All of `data` is additional authenticated data (out == NULL); fed in
  // chunks because the length parameter is an int.
  std::size_t off = 0;
  while (off < data.size()) {
    const int chunk =
        static_cast<int>(std::min<std::size_t>(data.size() - off, 1 << 30));
    int outl = 0;
    if (EVP_EncryptUpdate(ctx.get(), nullptr, &outl, data.data() + off,
                          chunk) != 1) {
      return errc::crypto_failure;
    }
    off += static_cast<std::size_t>(chunk);
  }
  std::uint8_t none[16];
  int outl = 0;
  Digest16 tag{};
  if (EVP_EncryptFinal_ex(ctx.get(), none, &outl) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, tag.data()) !=
          1) {
    return errc::crypto_failure;
  }
  return tag;
}

// ---- AEAD for SMB 3.x encryption, MS-SMB2 3.1.4.3 ---------------------------

namespace {

using CipherCtxPtr =
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// The Signature field of the TRANSFORM_HEADER (MS-SMB2 2.2.41).
constexpr int kAeadTagSize = 16;

bool IsCcm(AeadCipher c) {
  return c == AeadCipher::kAes128Ccm || c == AeadCipher::kAes256Ccm;
}

// An explicit fetch resolves the algorithm in the provider tables (a lock
// and string lookups); the legacy EVP_aes_*() handles would repeat that on
// every init, i.e. on every message. One fetch per cipher, kept for the
// life of the process; a failed fetch stays null and every call fails.
const EVP_CIPHER* FetchedCipher(AeadCipher c) {
  switch (c) {
    case AeadCipher::kAes128Ccm: {
      static EVP_CIPHER* const cipher =
          EVP_CIPHER_fetch(nullptr, "AES-128-CCM", nullptr);
      return cipher;
    }
    case AeadCipher::kAes128Gcm: {
      static EVP_CIPHER* const cipher =
          EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
      return cipher;
    }
    case AeadCipher::kAes256Ccm: {
      static EVP_CIPHER* const cipher =
          EVP_CIPHER_fetch(nullptr, "AES-256-CCM", nullptr);
      return cipher;
    }
    case AeadCipher::kAes256Gcm: {
      static EVP_CIPHER* const cipher =
          EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
      return cipher;
    }
  }
  return nullptr;
}

bool AeadArgsOk(AeadCipher c, ByteSpan key, ByteSpan nonce, ByteSpan aad,
                std::size_t text_len, const std::uint8_t* out) {
  constexpr auto kMaxLen = static_cast<std::size_t>(INT_MAX);
  return key.size() == AeadKeySize(c) && nonce.size() == AeadNonceSize(c) &&
         aad.size() <= kMaxLen && text_len <= kMaxLen &&
         (text_len == 0 || out != nullptr);
}

// Sets `ctx` up for one message, up to and including the AAD. The order is
// CCM's: its tag length and nonce length are fixed when the key is set, and
// the message length must be known before the AAD because all three go into
// the first CBC-MAC block B0 (RFC 3610 2.2). CCM also checks the tag while
// decrypting rather than at the final step, so for decryption the expected
// tag goes in here. GCM takes its expected tag just before the final step.
bool StartAead(EVP_CIPHER_CTX* ctx, AeadCipher c, ByteSpan key, ByteSpan nonce,
               ByteSpan aad, std::size_t text_len,
               const std::uint8_t* expected_tag, int enc) {
  const EVP_CIPHER* cipher = FetchedCipher(c);
  if (cipher == nullptr ||
      EVP_CipherInit_ex2(ctx, cipher, nullptr, nullptr, enc, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN,
                          static_cast<int>(nonce.size()), nullptr) != 1) {
    return false;
  }
  const bool ccm = IsCcm(c);
  // OpenSSL copies the tag; the ctrl interface only lacks a const pointer.
  if (ccm &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, kAeadTagSize,
                          const_cast<std::uint8_t*>(expected_tag)) != 1) {
    return false;
  }
  if (EVP_CipherInit_ex2(ctx, nullptr, key.data(), nonce.data(), enc,
                         nullptr) != 1) {
    return false;
  }
  int outl = 0;
  if (ccm && EVP_CipherUpdate(ctx, nullptr, &outl, nullptr,
                              static_cast<int>(text_len)) != 1) {
    return false;
  }
  return aad.empty() || EVP_CipherUpdate(ctx, nullptr, &outl, aad.data(),
                                         static_cast<int>(aad.size())) == 1;
}

// The whole message in one update: CCM accepts exactly one, and for GCM it
// lets OpenSSL's AES-NI/VAES loop run over the message without splitting
// it. CCM needs the call even for an empty message (it computes or checks
// the tag there), with non-null pointers: OpenSSL reads a null input with
// an output as the final step.
bool AeadUpdate(EVP_CIPHER_CTX* ctx, ByteSpan in, std::uint8_t* out) {
  static const std::uint8_t kNoInput[1] = {0};
  std::uint8_t no_output[1];
  const std::uint8_t* src = in.empty() ? kNoInput : in.data();
  std::uint8_t* dst = in.empty() ? no_output : out;
  int outl = 0;
  return EVP_CipherUpdate(ctx, dst, &outl, src, static_cast<int>(in.size())) ==
             1 &&
         static_cast<std::size_t>(outl) == in.size();
}

}  // namespace

std::size_t AeadNonceSize(AeadCipher c) noexcept {
  switch (c) {
    case AeadCipher::kAes128Ccm:
    case AeadCipher::kAes256Ccm:
      return 11;
    case AeadCipher::kAes128Gcm:
    case AeadCipher::kAes256Gcm:
      return 12;
  }
  return 0;
}

std::size_t AeadKeySize(AeadCipher c) noexcept {
  switch (c) {
    case AeadCipher::kAes128Ccm:
    case AeadCipher::kAes128Gcm:
      return 16;
    case AeadCipher::kAes256Ccm:
    case AeadCipher::kAes256Gcm:
      return 32;
  }
  return 0;
}

Result<Digest16> AeadSeal(AeadCipher c, ByteSpan key, ByteSpan nonce,
                          ByteSpan aad, ByteSpan plaintext, std::uint8_t* out) {
  if (!AeadArgsOk(c, key, nonce, aad, plaintext.size(), out)) {
    return errc::crypto_failure;
  }
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  std::uint8_t none[16];
  int outl = 0;
  Digest16 tag{};
  if (!ctx ||
      !StartAead(ctx.get(), c, key, nonce, aad, plaintext.size(), nullptr, 1) ||
      !AeadUpdate(ctx.get(), plaintext, out) ||
      EVP_EncryptFinal_ex(ctx.get(), none, &outl) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, kAeadTagSize,
                          tag.data()) != 1) {
    return errc::crypto_failure;
  }
  return tag;
}

Result<void> AeadOpen(AeadCipher c, ByteSpan key, ByteSpan nonce, ByteSpan aad,
                      ByteSpan ciphertext, ByteSpan tag, std::uint8_t* out) {
  const std::size_t n = ciphertext.size();
  auto fail = [&](errc e) -> Result<void> {
    if (n != 0 && out != nullptr) std::memset(out, 0, n);
    return e;
  };
  if (!AeadArgsOk(c, key, nonce, aad, n, out) ||
      tag.size() != static_cast<std::size_t>(kAeadTagSize)) {
    return fail(errc::crypto_failure);
  }
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  if (!ctx || !StartAead(ctx.get(), c, key, nonce, aad, n, tag.data(), 0)) {
    return fail(errc::crypto_failure);
  }
  if (IsCcm(c)) {
    // Everything before this step succeeded, so a failure here is CCM
    // rejecting the tag (OpenSSL also wipes its output then).
    if (!AeadUpdate(ctx.get(), ciphertext, out)) {
      return fail(errc::aead_tag_mismatch);
    }
    return {};
  }
  std::uint8_t none[16];
  int outl = 0;
  if (!AeadUpdate(ctx.get(), ciphertext, out) ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, kAeadTagSize,
                          const_cast<std::uint8_t*>(tag.data())) != 1) {
    return fail(errc::crypto_failure);
  }
  // GCM compares the tag (in constant time) here.
  if (EVP_DecryptFinal_ex(ctx.get(), none, &outl) != 1) {
    return fail(errc::aead_tag_mismatch);
  }
  return {};
}

SecretBytes Sp800108Kdf(ByteSpan key, ByteSpan label, ByteSpan context,
                        std::size_t out_bits) {
  if (out_bits == 0 || out_bits % 8 != 0 || out_bits > 0xffffffffu) return {};
  const std::size_t out_len = out_bits / 8;
  SecretBytes out(out_len);

  // Fixed input, SP800-108 5.1: [i]_2 || Label || 0x00 || Context || [L]_2.
  Bytes input(4 + label.size() + 1 + context.size() + 4);
  std::uint8_t* p = input.data() + 4;
  if (!label.empty()) std::memcpy(p, label.data(), label.size());
  p += label.size();
  *p++ = 0x00;
  if (!context.empty()) std::memcpy(p, context.data(), context.size());
  p += context.size();
  const auto l = static_cast<std::uint32_t>(out_bits);
  p[0] = static_cast<std::uint8_t>(l >> 24);
  p[1] = static_cast<std::uint8_t>(l >> 16);
  p[2] = static_cast<std::uint8_t>(l >> 8);
  p[3] = static_cast<std::uint8_t>(l);

  std::size_t done = 0;
  for (std::uint32_t i = 1; done < out_len; ++i) {
    input[0] = static_cast<std::uint8_t>(i >> 24);
    input[1] = static_cast<std::uint8_t>(i >> 16);
    input[2] = static_cast<std::uint8_t>(i >> 8);
    input[3] = static_cast<std::uint8_t>(i);
    auto block = HmacSha256(key, input);
    const std::size_t take = std::min(block.size(), out_len - done);
    std::memcpy(out.data() + done, block.data(), take);
    SecureWipe(block.data(), block.size());
    done += take;
  }
  return out;
}

bool ConstantTimeEqual(ByteSpan a, ByteSpan b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// ---- Pre-authentication integrity hash --------------------------------------

PreauthHash::PreauthHash() = default;

void PreauthHash::Update(ByteSpan message) {
  using CtxPtr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;
  CtxPtr ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  unsigned int len = 0;
  std::array<std::uint8_t, 64> next{};
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha512(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), h_.data(), h_.size()) != 1 ||
      (!message.empty() &&
       EVP_DigestUpdate(ctx.get(), message.data(), message.size()) != 1) ||
      EVP_DigestFinal_ex(ctx.get(), next.data(), &len) != 1 ||
      len != next.size()) {
    next.fill(0);
  }
  h_ = next;
}

// ---- Injected randomness and time -------------------------------------------

RandomSource OsRandom() {
  return [](MutableByteSpan out) {
    std::size_t off = 0;
    while (off < out.size()) {
      const int chunk =
          static_cast<int>(std::min<std::size_t>(out.size() - off, 1 << 20));
      if (RAND_bytes(out.data() + off, chunk) != 1) std::abort();
      off += static_cast<std::size_t>(chunk);
    }
  };
}

FiletimeClock SystemFiletimeClock() {
  return [] {
    // MS-DTYP 2.3.3: 100 ns ticks since 1601-01-01; the Unix epoch is
    // 11644473600 s later.
    constexpr std::uint64_t kEpochDelta = 116444736000000000ull;
    const auto since_unix = std::chrono::duration_cast<
        std::chrono::duration<std::int64_t, std::ratio<1, 10000000>>>(
        std::chrono::system_clock::now().time_since_epoch());
    return kEpochDelta + static_cast<std::uint64_t>(since_unix.count());
  };
}

}  // namespace smbgate::auth
