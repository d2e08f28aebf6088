// libFuzzer target for encrypted frames: the TRANSFORM_HEADER decoder and
// decryption with the real ciphers (MS-SMB2 2.2.41, 3.1.4.3), then the
// compound split and header decoder over what decrypts. The first byte
// picks the cipher and the mode:
//   bit 7 clear: the rest is a received frame, decrypted with a fixed key
//                (nearly always refused: the tag must not verify);
//   bit 7 set:   the rest is a plaintext frame, sealed with the session's
//                key and opened again, so the code after a successful
//                decryption sees arbitrary plaintext; the round trip must
//                give back the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "smb2/client/message_security.h"
#include "smb2/codec/compound.h"
#include "smb2/codec/header.h"
#include "smb2/codec/negotiate.h"

namespace {

using namespace smbgate;

smb2::MessageSecurity& SecurityFor(std::uint16_t cipher) {
  static smb2::MessageSecurity* all[4] = {};
  auto*& s = all[cipher - 1];
  if (!s) {
    s = new smb2::MessageSecurity(smb2::kDialect311, auth::SigningAlgorithm::kAesGmac, cipher, false);
    const std::size_t n = cipher == smb2::kCipherAes256Ccm || cipher == smb2::kCipherAes256Gcm ? 32 : 16;
    auth::SmbSessionKeys k;
    k.signing_key = SecretBytes(16);
    k.encryption_key = SecretBytes(n);
    k.decryption_key = SecretBytes(n);
    for (std::size_t i = 0; i < n; ++i) {
      k.encryption_key[i] = static_cast<std::uint8_t>(i);
      k.decryption_key[i] = static_cast<std::uint8_t>(i);  // the same: a round trip opens
    }
    if (!s->AddSession(1, std::move(k), true)) std::abort();
  }
  return *s;
}

void Parse(ByteSpan plain) {
  auto parts = smb2::SplitCompound(plain);
  if (!parts) return;
  for (ByteSpan m : *parts) (void)smb2::DecodeHeader(m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint16_t cipher = static_cast<std::uint16_t>((data[0] & 3) + 1);
  smb2::MessageSecurity& sec = SecurityFor(cipher);
  const ByteSpan rest(data + 1, size - 1);
  if (!(data[0] & 0x80)) {
    if (auto d = sec.Decrypt(rest)) Parse(d->frame);
    return 0;
  }
  auto sealed = sec.Encrypt(1, rest);
  if (!sealed) std::abort();
  auto opened = sec.Decrypt(*sealed);
  if (!opened || opened->frame.size() != rest.size() ||
      !std::equal(rest.begin(), rest.end(), opened->frame.begin())) {
    std::abort();  // a sealed frame must open to the same bytes
  }
  Parse(opened->frame);
  return 0;
}
