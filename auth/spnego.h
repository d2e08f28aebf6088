// SPNEGO (RFC 4178, with the MS-SPNG extensions Windows and Samba use)
// carrying NTLMSSP, as SMB2 SESSION_SETUP needs it (MS-SMB2 3.2.5.3,
// MS-SPNG 3.3.5). Tokens are hand-written, bounds-checked DER (auth/der.h).
//
// Thread-safety: the codec functions are reentrant; SpnegoNtlmClient is not
// synchronised (one exchange, one owner).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "auth/common/bytes.h"
#include "auth/common/result.h"
#include "auth/errors.h"
#include "auth/ntlm.h"

namespace smbgate::auth {

// Mechanism OIDs as DER contents (no tag or length).
namespace oid {
// 1.3.6.1.5.5.2, SPNEGO itself (RFC 4178 4.1).
inline constexpr std::uint8_t kSpnego[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x02};
// 1.3.6.1.4.1.311.2.2.10, NTLMSSP (MS-NLMP 1.9).
inline constexpr std::uint8_t kNtlmssp[] = {0x2b, 0x06, 0x01, 0x04, 0x01,
                                            0x82, 0x37, 0x02, 0x02, 0x0a};
// 1.2.840.113554.1.2.2, Kerberos 5 (RFC 4121).
inline constexpr std::uint8_t kKerberos5[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
                                              0x12, 0x01, 0x02, 0x02};
// 1.2.840.48018.1.2.2, the Microsoft Kerberos 5 OID (MS-SPNG 1.9).
inline constexpr std::uint8_t kMsKerberos5[] = {0x2a, 0x86, 0x48, 0x82, 0xf7,
                                                0x12, 0x01, 0x02, 0x02};
// 1.3.6.1.4.1.311.2.2.30, NEGOEX (MS-NEGOEX).
inline constexpr std::uint8_t kNegoex[] = {0x2b, 0x06, 0x01, 0x04, 0x01,
                                           0x82, 0x37, 0x02, 0x02, 0x1e};
}  // namespace oid

// Dotted form of an OID's DER contents ("1.3.6.1.4.1.311.2.2.10"), for
// messages; "?" when the encoding is invalid.
std::string OidToString(ByteSpan oid);

// Most mechanisms a MechTypeList may list before the decoder gives up.
inline constexpr std::size_t kMaxMechTypes = 32;

// NegTokenInit (RFC 4178 4.2.1), read also as MS-SPNG 2.2.1 NegTokenInit2
// (the form of the SMB2 NEGOTIATE response, where [3] is negHints and the
// mechListMIC moves to [4]).
struct NegTokenInit {
  std::vector<Bytes> mech_types;   // OID contents, in preference order
  std::optional<Bytes> req_flags;  // ContextFlags BIT STRING contents
  std::optional<Bytes> mech_token;
  std::optional<std::string> neg_hints_name;  // NegTokenInit2 hintName
  std::optional<Bytes> neg_hints_address;     // NegTokenInit2 hintAddress
  std::optional<Bytes> mech_list_mic;
  bool operator==(const NegTokenInit&) const = default;
};

// negState (RFC 4178 4.2.2).
enum class NegState : std::uint8_t {
  kAcceptCompleted = 0,
  kAcceptIncomplete = 1,
  kReject = 2,
  kRequestMic = 3,
};

// NegTokenResp (RFC 4178 4.2.2).
struct NegTokenResp {
  std::optional<NegState> neg_state;
  std::optional<Bytes> supported_mech;  // OID contents
  std::optional<Bytes> response_token;
  std::optional<Bytes> mech_list_mic;
  bool operator==(const NegTokenResp&) const = default;
};

// The DER MechTypeList (SEQUENCE OF OID): the bytes the mechListMIC covers
// (RFC 4178 5).
Bytes EncodeMechTypeList(const std::vector<Bytes>& mech_types);

// An initial context token: [APPLICATION 0] { SPNEGO OID, [0] NegTokenInit }
// (RFC 2743 3.1, RFC 4178 4.2). With neg_hints_* set, [3] carries negHints
// and the mechListMIC goes to [4] (NegTokenInit2); otherwise the
// mechListMIC is [3].
Bytes EncodeNegTokenInit(const NegTokenInit& t);
// [1] NegTokenResp.
Bytes EncodeNegTokenResp(const NegTokenResp& t);

// Accepts the initial-context-token form and the bare [0] NegotiationToken.
// Errors: malformed_token (bad DER, lengths past their element, trailing
// bytes, missing or empty mechTypes, more than kMaxMechTypes, wrong inner
// types, fields out of order), unexpected_message (a well-formed token of
// another kind, e.g. a NegTokenResp or another mechanism's token).
Result<NegTokenInit> DecodeNegTokenInit(ByteSpan token);
// Errors: malformed_token (as above, and a negState outside 0..3),
// unexpected_message (not a [1] token).
Result<NegTokenResp> DecodeNegTokenResp(ByteSpan token);

// The SPNEGO side of SMB2 SESSION_SETUP with NTLMSSP as the only mechanism:
// Start() -> Continue() -> Finish(), one call per SESSION_SETUP round trip.
class SpnegoNtlmClient {
 public:
  explicit SpnegoNtlmClient(NtlmClient ntlm);

  // `server_hint` is the NEGOTIATE response's security buffer (a
  // NegTokenInit2 listing the server's mechanisms), possibly empty
  // (MS-SMB2 3.2.5.2 lets the client pick). Returns the first SESSION_SETUP
  // token: NegTokenInit{mechTypes = [NTLMSSP], mechToken = NTLM NEGOTIATE}.
  // Errors: malformed_token (bad hint), mechanism_rejected (the hint does
  // not list NTLMSSP), invalid_state (called twice).
  Result<Bytes> Start(ByteSpan server_hint);

  // Takes the server's NegTokenResp (accept-incomplete or request-mic,
  // supportedMech NTLMSSP when present, responseToken = CHALLENGE) and
  // returns NegTokenResp{responseToken = AUTHENTICATE, mechListMIC = the
  // NTLM signature of our MechTypeList}. Errors: malformed_token,
  // unexpected_message (wrong token kind or state, no responseToken),
  // mechanism_rejected (reject, or another mechanism chosen), the NTLM
  // errors of NtlmClient::Authenticate, invalid_state (out of order).
  Result<Bytes> Continue(ByteSpan server_token);

  // Takes the final SESSION_SETUP response's security buffer: a NegTokenResp
  // accept-completed whose mechListMIC, when present, must verify; or an
  // empty buffer, which MS-SMB2 permits (3.2.5.3.1). Errors:
  // malformed_token, unexpected_message (not accept-completed),
  // mechanism_rejected (reject), mic_mismatch, invalid_state.
  Result<void> Finish(ByteSpan server_token);

  // The ExportedSessionKey once Continue() succeeded (the SMB session key
  // for DeriveSmbKeys); empty before.
  const SecretBytes& session_key() const { return ntlm_.session_key(); }
  // True once Finish() succeeded.
  bool complete() const { return state_ == State::kDone; }

 private:
  enum class State { kInitial, kStarted, kContinued, kDone };

  NtlmClient ntlm_;
  Bytes mech_types_der_;
  State state_ = State::kInitial;
};

}  // namespace smbgate::auth
