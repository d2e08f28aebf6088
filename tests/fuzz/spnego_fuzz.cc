// libFuzzer target: the SPNEGO decoders (RFC 4178 4.2, MS-SPNG 2.2) and the
// SpnegoNtlmClient steps that consume server tokens.
//
// Invariants checked besides memory safety (ASan/UBSan): a decoded token
// re-encodes to DER that decodes to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "auth/spnego.h"

namespace {

using smbgate::ByteSpan;
using smbgate::MutableByteSpan;
using smbgate::SecretString;
namespace auth = smbgate::auth;

void Check(bool ok) {
  if (!ok) std::abort();
}

auth::SpnegoNtlmClient MakeClient() {
  return auth::SpnegoNtlmClient(auth::NtlmClient(
      {"fuzz", "DOMAIN", SecretString("secret"), "WS"},
      [](MutableByteSpan out) {
        for (auto& b : out) b = 0x5a;
      },
      [] { return std::uint64_t{1}; }));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const ByteSpan in(data, size);

  auto init = auth::DecodeNegTokenInit(in);
  if (init) {
    auto again = auth::DecodeNegTokenInit(auth::EncodeNegTokenInit(*init));
    Check(again.has_value() && *again == *init);
  }
  auto resp = auth::DecodeNegTokenResp(in);
  if (resp) {
    auto again = auth::DecodeNegTokenResp(auth::EncodeNegTokenResp(*resp));
    Check(again.has_value() && *again == *resp);
  }
  // A token cannot be both kinds.
  Check(!(init && resp));

  // The input as the NEGOTIATE hint...
  {
    auto client = MakeClient();
    (void)client.Start(in);
  }
  // ...as the server's first reply (carrying a CHALLENGE)...
  {
    auto client = MakeClient();
    Check(client.Start({}).has_value());
    auto next = client.Continue(in);
    if (next) Check(auth::DecodeNegTokenResp(*next).has_value());
  }
  // ...and as the final reply.
  if (resp && resp->response_token) {
    auto client = MakeClient();
    Check(client.Start({}).has_value());
    if (client.Continue(in)) (void)client.Finish(in);
  }
  return 0;
}
