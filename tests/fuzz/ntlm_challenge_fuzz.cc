// libFuzzer target: the NTLM CHALLENGE_MESSAGE decoder and the client's
// processing of a challenge (MS-NLMP 2.2.1.2, 3.1.5.1.2).
//
// Invariants checked besides memory safety (ASan/UBSan):
//  - a decoded challenge re-encodes to bytes that decode to the same value;
//  - whenever NtlmClient::Authenticate() accepts the input, its output is an
//    AUTHENTICATE_MESSAGE that DecodeAuthenticate() accepts, with a MIC.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "auth/ntlm.h"

namespace {

using smbgate::ByteSpan;
using smbgate::MutableByteSpan;
using smbgate::SecretString;
namespace auth = smbgate::auth;

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const ByteSpan in(data, size);

  auto challenge = auth::DecodeChallenge(in);
  if (challenge) {
    auto again = auth::DecodeChallenge(auth::EncodeChallenge(*challenge));
    Check(again.has_value() && *again == *challenge);
  }

  std::uint8_t counter = 0;
  auth::NtlmClient client(
      {"fuzz", "DOMAIN", SecretString("p@ss, \"word\""), "WS"},
      [&counter](MutableByteSpan out) {
        for (auto& b : out) b = counter++;
      },
      [] { return std::uint64_t{0x01d0aecbadf5a1a1}; });
  client.SetTargetSpn("cifs/fuzz");
  client.Negotiate();
  auto authenticate = client.Authenticate(in);
  // Authenticate() decodes with DecodeChallenge(): it cannot accept what the
  // decoder rejected.
  Check(!authenticate || challenge);
  if (authenticate) {
    auto decoded = auth::DecodeAuthenticate(*authenticate);
    Check(decoded.has_value() && decoded->mic.has_value());
    Check(client.session_key().size() == 16);
    const auto mic = client.SignMic(in);
    Check(mic.size() == 16);
    (void)client.VerifyMic(in, in);
  }
  return 0;
}
