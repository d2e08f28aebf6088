// NTLMv2 as MS-NLMP specifies it, client side: the three NTLMSSP messages
// (2.2.1), the NTLMv2 response and keys (3.3.2), the AUTHENTICATE MIC
// (3.1.5.1.2) and the message signature used for the SPNEGO mechListMIC
// (3.4.4.2, extended session security). smbgate never sends LM or NTLMv1
// responses and refuses servers that cannot do NTLMv2.
//
// Decoders check every offset/length pair in size_t (off <= n &&
// len <= n - off), reject payload fields that overlap the fixed header or
// each other, and copy what they return: the client keeps the messages across
// calls.
//
// Thread-safety: the free functions are reentrant; NtlmClient and
// NtlmDirectionKeys are not synchronised (one exchange, one owner).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/common/bytes.h"
#include "auth/common/result.h"
#include "auth/crypto.h"
#include "auth/errors.h"

namespace smbgate::auth {

// ---- Constants --------------------------------------------------------------

// NegotiateFlags bits (MS-NLMP 2.2.2.5).
namespace ntlmssp {
// clang-format off
inline constexpr std::uint32_t kNegotiateUnicode                 = 0x00000001;  // A
inline constexpr std::uint32_t kNegotiateOem                     = 0x00000002;  // B
inline constexpr std::uint32_t kRequestTarget                    = 0x00000004;  // C
inline constexpr std::uint32_t kNegotiateSign                    = 0x00000010;  // D
inline constexpr std::uint32_t kNegotiateSeal                    = 0x00000020;  // E
inline constexpr std::uint32_t kNegotiateDatagram                = 0x00000040;  // F
inline constexpr std::uint32_t kNegotiateLmKey                   = 0x00000080;  // G
inline constexpr std::uint32_t kNegotiateNtlm                    = 0x00000200;  // H
inline constexpr std::uint32_t kAnonymous                        = 0x00000800;  // J
inline constexpr std::uint32_t kNegotiateOemDomainSupplied       = 0x00001000;  // K
inline constexpr std::uint32_t kNegotiateOemWorkstationSupplied  = 0x00002000;  // L
inline constexpr std::uint32_t kNegotiateAlwaysSign              = 0x00008000;  // M
inline constexpr std::uint32_t kTargetTypeDomain                 = 0x00010000;  // N
inline constexpr std::uint32_t kTargetTypeServer                 = 0x00020000;  // O
inline constexpr std::uint32_t kNegotiateExtendedSessionSecurity = 0x00080000;  // P
inline constexpr std::uint32_t kNegotiateIdentify                = 0x00100000;  // Q
inline constexpr std::uint32_t kRequestNonNtSessionKey           = 0x00400000;  // R
inline constexpr std::uint32_t kNegotiateTargetInfo              = 0x00800000;  // S
inline constexpr std::uint32_t kNegotiateVersion                 = 0x02000000;  // T
inline constexpr std::uint32_t kNegotiate128                     = 0x20000000;  // U
inline constexpr std::uint32_t kNegotiateKeyExch                 = 0x40000000;  // V
inline constexpr std::uint32_t kNegotiate56                      = 0x80000000;  // W
// clang-format on

// AV_PAIR ids (MS-NLMP 2.2.2.1).
inline constexpr std::uint16_t kMsvAvEol = 0;
inline constexpr std::uint16_t kMsvAvNbComputerName = 1;
inline constexpr std::uint16_t kMsvAvNbDomainName = 2;
inline constexpr std::uint16_t kMsvAvDnsComputerName = 3;
inline constexpr std::uint16_t kMsvAvDnsDomainName = 4;
inline constexpr std::uint16_t kMsvAvDnsTreeName = 5;
inline constexpr std::uint16_t kMsvAvFlags = 6;
inline constexpr std::uint16_t kMsvAvTimestamp = 7;
inline constexpr std::uint16_t kMsvAvSingleHost = 8;
inline constexpr std::uint16_t kMsvAvTargetName = 9;
inline constexpr std::uint16_t kMsvAvChannelBindings = 10;

// MsvAvFlags bits.
inline constexpr std::uint32_t kAvFlagAccountConstrained = 0x00000001;
inline constexpr std::uint32_t kAvFlagMicPresent = 0x00000002;
inline constexpr std::uint32_t kAvFlagUntrustedSpn = 0x00000004;

// The flags NtlmClient::Negotiate() sends: UNICODE, REQUEST_TARGET, SIGN,
// NTLM, ALWAYS_SIGN, EXTENDED_SESSIONSECURITY, VERSION, 128, KEY_EXCH, 56.
// Never LM_KEY, never OEM, never DATAGRAM.
inline constexpr std::uint32_t kClientNegotiateFlags =
    kNegotiateUnicode | kRequestTarget | kNegotiateSign | kNegotiateNtlm |
    kNegotiateAlwaysSign | kNegotiateExtendedSessionSecurity |
    kNegotiateVersion | kNegotiate128 | kNegotiateKeyExch | kNegotiate56;

// Offset of the MIC in an AUTHENTICATE_MESSAGE that carries one (2.2.1.3).
inline constexpr std::size_t kAuthenticateMicOffset = 72;
// Largest NTLMSSP message the decoders accept. Real ones are < 2 KiB; the
// fields are 16-bit, so 64 KiB is a generous bound that caps allocations.
inline constexpr std::size_t kMaxMessageSize = 64 * 1024;
// Most AV pairs a TargetInfo may hold (Windows sends about ten).
inline constexpr std::size_t kMaxAvPairs = 128;
}  // namespace ntlmssp

// ---- Messages ---------------------------------------------------------------

// VERSION (MS-NLMP 2.2.2.10). Informational only.
struct NtlmVersion {
  std::uint8_t product_major_version = 0;
  std::uint8_t product_minor_version = 0;
  std::uint16_t product_build = 0;
  std::uint8_t ntlm_revision_current = 0x0f;  // NTLMSSP_REVISION_W2K3
  bool operator==(const NtlmVersion&) const = default;
};

// One AV_PAIR (MS-NLMP 2.2.2.1); MsvAvEOL is implicit (never stored).
struct AvPair {
  std::uint16_t av_id = 0;
  Bytes value;
  bool operator==(const AvPair&) const = default;
};

// Parses an AV pair list up to MsvAvEOL (bytes after it are ignored).
// Errors: malformed_token on truncation, a missing MsvAvEOL, more than
// kMaxAvPairs pairs, or MsvAvFlags/MsvAvTimestamp of the wrong size.
Result<std::vector<AvPair>> DecodeAvPairs(ByteSpan data);
// Encodes `pairs` followed by MsvAvEOL.
Bytes EncodeAvPairs(const std::vector<AvPair>& pairs);
// The value of the first pair with `av_id`, or nullptr.
const AvPair* FindAvPair(const std::vector<AvPair>& pairs, std::uint16_t av_id);
// MsvAvTimestamp (FILETIME), if present.
std::optional<std::uint64_t> FindAvTimestamp(const std::vector<AvPair>& pairs);

// NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1). Strings are OEM bytes as on the wire.
struct NegotiateMessage {
  std::uint32_t negotiate_flags = 0;
  Bytes domain_name;
  Bytes workstation;
  std::optional<NtlmVersion> version;  // written when present
  bool operator==(const NegotiateMessage&) const = default;
};
Bytes EncodeNegotiate(const NegotiateMessage& m);
// Errors: malformed_token (bounds, signature), unexpected_message (type).
Result<NegotiateMessage> DecodeNegotiate(ByteSpan m);

// CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2).
struct ChallengeMessage {
  std::uint32_t negotiate_flags = 0;
  std::array<std::uint8_t, 8> server_challenge{};
  Bytes target_name;                // as on the wire (UTF-16LE with UNICODE)
  std::vector<AvPair> target_info;  // empty when TargetInfoFields is empty
  std::optional<NtlmVersion> version;
  bool operator==(const ChallengeMessage&) const = default;
};
// Encodes with the payload as TargetName then TargetInfo; TargetInfo (with
// its MsvAvEOL) is written when `target_info` is non-empty, VERSION when
// `version` is set. Used by tests and by the fuzz seeds.
Bytes EncodeChallenge(const ChallengeMessage& m);
// Errors: malformed_token (bounds, overlaps, signature, AV pairs, size over
// kMaxMessageSize), unexpected_message (MessageType is not 2).
Result<ChallengeMessage> DecodeChallenge(ByteSpan m);

// AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3). Strings are UTF-16LE bytes as on
// the wire.
struct AuthenticateMessage {
  std::uint32_t negotiate_flags = 0;
  Bytes lm_challenge_response;
  Bytes nt_challenge_response;
  Bytes domain_name;
  Bytes user_name;
  Bytes workstation;
  Bytes encrypted_random_session_key;
  std::optional<NtlmVersion> version;
  std::optional<std::array<std::uint8_t, 16>> mic;
  bool operator==(const AuthenticateMessage&) const = default;
};
// Encodes with the payload in the order DomainName, UserName, Workstation,
// LmChallengeResponse, NtChallengeResponse, EncryptedRandomSessionKey (the
// layout of MS-NLMP 4.2.4.3). The fixed part is 64 bytes, 72 with a version,
// 88 with a MIC (a MIC implies the version slot, zero when `version` is
// unset).
Bytes EncodeAuthenticate(const AuthenticateMessage& m);
// The version and MIC are recognised by where the payload starts: a MIC is
// present when no payload field starts before byte 88 (MS-NLMP leaves its
// presence to MsvAvFlags; this decoder is for tests and servers, which
// check that flag themselves). Errors: malformed_token (bounds, overlaps,
// signature, size), unexpected_message (MessageType is not 3).
Result<AuthenticateMessage> DecodeAuthenticate(ByteSpan m);

// ---- NTLMv2 computations (MS-NLMP 3.3.2) ------------------------------------

// The upper-case mapping NTOWFv2 applies to the user name, for one UTF-16
// code unit. Windows uses its own full table; this one covers Basic Latin,
// Latin-1 Supplement (with U+00FF -> U+0178; U+00B5 and U+00DF, which have
// no single-unit upper case in Latin-1, unchanged), Latin Extended-A (the
// paired letters; U+0131 and U+017F unchanged), basic Greek (U+03B1..U+03C9,
// final sigma to U+03A3) and basic Cyrillic (U+0430..U+045F). Everything else
// is unchanged, which matches Windows for characters without a case and
// makes NTLM fail (never succeed wrongly) for the rare cased ones outside
// these ranges.
char16_t NtlmUpcase(char16_t c);

// NTOWFv2(Passwd, User, UserDom) = HMAC_MD5(MD4(UNICODE(Passwd)),
// UNICODE(Uppercase(User) || UserDom)); the domain keeps its case. Inputs
// are UTF-8; intermediates are wiped. Precondition: valid UTF-8 (NtlmClient
// checks; on invalid input the result is all-zero and never authenticates).
std::array<std::uint8_t, 16> NtowfV2(std::string_view password,
                                     std::string_view user,
                                     std::string_view domain);

// The NTLMv2 "temp" blob: Responserversion (1) || HiResponserversion (1) ||
// Z(6) || Time || ClientChallenge || Z(4) || ServerName || Z(4), where
// ServerName is the encoded AV pair list (MsvAvEOL included).
Bytes NtlmV2Temp(std::uint64_t time,
                 const std::array<std::uint8_t, 8>& client_challenge,
                 ByteSpan av_pairs);
// NTProofStr = HMAC_MD5(ResponseKeyNT, ServerChallenge || temp).
Digest16 NtProofStr(ByteSpan response_key_nt, ByteSpan server_challenge,
                    ByteSpan temp);
// LMv2 response: HMAC_MD5(ResponseKeyLM, ServerChallenge || ClientChallenge)
// || ClientChallenge (24 bytes).
Bytes LmV2Response(ByteSpan response_key_lm, ByteSpan server_challenge,
                   const std::array<std::uint8_t, 8>& client_challenge);
// SessionBaseKey = HMAC_MD5(ResponseKeyNT, NTProofStr); for NTLMv2 it is
// also the KeyExchangeKey (3.4.5.1).
Digest16 SessionBaseKeyV2(ByteSpan response_key_nt, ByteSpan nt_proof_str);
// MIC = HMAC_MD5(ExportedSessionKey, NEGOTIATE || CHALLENGE ||
// AUTHENTICATE) with the AUTHENTICATE's MIC field zeroed (3.1.5.1.2). The
// caller passes the AUTHENTICATE as sent; this function zeroes the field in
// a copy. An AUTHENTICATE shorter than 88 bytes yields all-zero.
Digest16 ComputeMic(ByteSpan exported_session_key, ByteSpan negotiate,
                    ByteSpan challenge, ByteSpan authenticate);

// ---- Message integrity (MS-NLMP 3.4) ----------------------------------------

enum class NtlmDirection { kClientToServer, kServerToClient };

// SIGNKEY (3.4.5.2) and SEALKEY (3.4.5.3) with extended session security.
Digest16 NtlmSignKey(ByteSpan exported_session_key, NtlmDirection direction);
Digest16 NtlmSealKey(ByteSpan exported_session_key,
                     std::uint32_t negotiate_flags, NtlmDirection direction);

// One direction of an NTLM security context with extended session security,
// connection-oriented: its signing key, its RC4 sealing handle and its
// sequence number (3.4.4.2, 3.4.3).
class NtlmDirectionKeys {
 public:
  NtlmDirectionKeys(ByteSpan exported_session_key,
                    std::uint32_t negotiate_flags, NtlmDirection direction);

  // NTLMSSP_MESSAGE_SIGNATURE over `message` with the next sequence number:
  // Version 1 || Checksum (HMAC_MD5(SigningKey, SeqNum || Message)[0..8],
  // RC4-encrypted with the sealing handle when KEY_EXCH was negotiated) ||
  // SeqNum. Advances the sequence number.
  std::array<std::uint8_t, 16> Sign(ByteSpan message);
  // SEAL (3.4.3): encrypts `message` in place with the sealing handle, then
  // signs the plaintext. Advances the sequence number.
  std::array<std::uint8_t, 16> Seal(MutableByteSpan message);
  // Recomputes the signature the peer should have made for `message` with
  // this direction's next sequence number and compares in constant time.
  // Advances the state whatever the outcome.
  bool Verify(ByteSpan message, ByteSpan signature);

  std::uint32_t sequence_number() const { return seq_; }

 private:
  Digest16 Hmac(ByteSpan message) const;
  std::array<std::uint8_t, 16> FinishSignature(const Digest16& hmac);

  SecretBytes sign_key_;
  Rc4Stream seal_;
  std::uint32_t seq_ = 0;
  bool key_exch_ = false;
};

// ---- The client -------------------------------------------------------------

// What the client authenticates as. Strings are UTF-8. `domain` may be empty
// (a local account); `workstation` is sent as-is (may be empty).
struct NtlmCredentials {
  std::string user;
  std::string domain;
  SecretString password;
  std::string workstation;
};

// One NTLMv2 client exchange: Negotiate(), then Authenticate(challenge).
// Randomness (client challenge, ExportedSessionKey) and the clock come in
// through the constructor so tests are deterministic. Movable, not copyable.
class NtlmClient {
 public:
  explicit NtlmClient(NtlmCredentials credentials,
                      RandomSource random = OsRandom(),
                      FiletimeClock clock = SystemFiletimeClock());
  NtlmClient(NtlmClient&&) noexcept;
  NtlmClient& operator=(NtlmClient&&) noexcept;
  NtlmClient(const NtlmClient&) = delete;
  NtlmClient& operator=(const NtlmClient&) = delete;
  ~NtlmClient();

  // Sets the service principal name sent as MsvAvTargetName ("cifs/host"),
  // which servers with SPN hardening (SmbServerNameHardeningLevel) check.
  // Empty (the default) sends none. Call before Authenticate(). A target
  // name in the server's CHALLENGE is never used instead (see
  // Authenticate()).
  void SetTargetSpn(std::string spn);

  // The NEGOTIATE_MESSAGE (flags ntlmssp::kClientNegotiateFlags, no domain
  // or workstation, a version). Starts (or restarts) the exchange.
  Bytes Negotiate();

  // Processes the server's CHALLENGE_MESSAGE and returns the
  // AUTHENTICATE_MESSAGE: NTLMv2 response over the server's AV pairs, less
  // the ones only a client asserts (MsvAvSingleHost, MsvAvTargetName,
  // MsvAvChannelBindings: a server's are dropped, never echoed), with the
  // MIC bit set in MsvAvFlags (the server's value, if it sent one, without
  // its UNTRUSTED_SPN bit), then the client's own MsvAvSingleHost (a random
  // MachineID), MsvAvChannelBindings (Z(16), as Windows sends without
  // channel bindings) and MsvAvTargetName when set; each exactly once. The
  // time is the server's MsvAvTimestamp when present (then
  // LmChallengeResponse is Z(24), 3.1.5.1.2) else the clock's; with KEY_EXCH
  // a random ExportedSessionKey RC4-encrypted with the KeyExchangeKey; and
  // the MIC. The random source gives the client challenge (8 bytes), the
  // MachineID (32) and, with KEY_EXCH, the ExportedSessionKey (16), in that
  // order.
  // Errors: invalid_state (Negotiate() not called, or already
  // authenticated), invalid_credentials (empty user, text not UTF-8),
  // malformed_token / unexpected_message (from DecodeChallenge),
  // ntlmv2_unavailable (no TargetInfo, no EXTENDED_SESSIONSECURITY, or no
  // UNICODE in the challenge).
  Result<Bytes> Authenticate(ByteSpan challenge);

  // The ExportedSessionKey (16 bytes) after a successful Authenticate();
  // empty before. This is the SMB session key.
  const SecretBytes& session_key() const { return session_key_; }
  // The flags of the AUTHENTICATE_MESSAGE (0 before Authenticate()).
  std::uint32_t negotiated_flags() const { return flags_; }

  // The NTLMSSP_MESSAGE_SIGNATURE (16 bytes) of `data` in the client->server
  // direction, as the SPNEGO mechListMIC needs (MS-SPNG 3.3.5.1). Empty
  // before a successful Authenticate().
  Bytes SignMic(ByteSpan data);
  // Checks the server->client signature of `data`. Errors: invalid_state
  // before Authenticate(), mic_mismatch (compared in constant time).
  Result<void> VerifyMic(ByteSpan data, ByteSpan signature);

 private:
  enum class State { kInitial, kNegotiated, kAuthenticated };

  NtlmCredentials credentials_;
  RandomSource random_;
  FiletimeClock clock_;
  std::string target_spn_;
  State state_ = State::kInitial;
  Bytes negotiate_;
  std::uint32_t flags_ = 0;
  SecretBytes session_key_;
  std::optional<NtlmDirectionKeys> client_to_server_;
  std::optional<NtlmDirectionKeys> server_to_client_;
};

}  // namespace smbgate::auth
