// NTLMv2 computations, NTLM message integrity and the NTLM client
// (MS-NLMP 3.1.5, 3.3.2, 3.4).
#include "auth/ntlm.h"

#include <cstring>
#include <utility>

#include "auth/byte_order.h"
#include "auth/common/utf16.h"

namespace smbgate::auth {
namespace {

using detail::Append;
using detail::PutLe32;
using detail::PutLe64;

// Sent in NEGOTIATE and AUTHENTICATE; informational only (MS-NLMP 2.2.2.10).
constexpr NtlmVersion kClientVersion{10, 0, 0, 0x0f};

// The magic constants of SIGNKEY and SEALKEY (MS-NLMP 3.4.5.2, 3.4.5.3);
// the terminating NUL is part of each.
constexpr char kClientSignMagic[] =
    "session key to client-to-server signing key magic constant";
constexpr char kServerSignMagic[] =
    "session key to server-to-client signing key magic constant";
constexpr char kClientSealMagic[] =
    "session key to client-to-server sealing key magic constant";
constexpr char kServerSealMagic[] =
    "session key to server-to-client sealing key magic constant";

template <std::size_t N>
ByteSpan MagicWithNul(const char (&s)[N]) {
  return {reinterpret_cast<const std::uint8_t*>(s), N};
}

// MD5(key || magic) without leaving a copy of the key behind.
Digest16 Md5KeyMagic(ByteSpan key, ByteSpan magic) {
  SecretBytes buf(key.size() + magic.size());
  if (!key.empty()) std::memcpy(buf.data(), key.data(), key.size());
  std::memcpy(buf.data() + key.size(), magic.data(), magic.size());
  return Md5(buf.span());
}

// UTF-8 to UTF-16LE into a buffer reserved up front, so that no reallocation
// leaves a partial copy of a secret in freed memory. UTF-16 never needs more
// than two bytes per UTF-8 byte.
bool ToUtf16Secret(std::string_view in, SecretBytes* out) {
  Bytes tmp;
  tmp.reserve(in.size() * 2);
  const bool ok = Utf8ToUtf16le(in, &tmp);
  *out = SecretBytes(ByteSpan(tmp));
  if (!tmp.empty()) SecureWipe(tmp.data(), tmp.size());
  return ok;
}

Rc4Stream SealHandle(ByteSpan exported_session_key, std::uint32_t flags,
                     NtlmDirection direction) {
  Digest16 k = NtlmSealKey(exported_session_key, flags, direction);
  Rc4Stream s(k);
  SecureWipe(k.data(), k.size());
  return s;
}

// The AV pairs of the client's NTLMv2 blob (MS-NLMP 3.1.5.1.2). The
// server's TargetInfo, in its order, with two changes:
// - MsvAvFlags: 3.1.5.1.2 sets bit 0x2 (MIC present) in the server's pair if
//   it sent one, else adds one. Its other client assertion, 0x4 (SPN from an
//   untrusted source, 2.2.2.1), is never echoed: smbgate's SPN is the one
//   its user configured. A second server MsvAvFlags is dropped.
// - MsvAvSingleHost, MsvAvTargetName and MsvAvChannelBindings describe the
//   client (2.2.2.1): whatever a server put there is dropped, never echoed
//   as if the client said it, and the client's own follow. A hostile server
//   could otherwise pick the SPN or channel binding the client "asserts".
// The client's own: Single_Host_Data (2.2.2.2: Size 48, Z4, CustomData Z(8),
// a random MachineID: only a server on this very host could use it, and
// none is), MsvAvChannelBindings Z(16) (SMB has no outer channel to bind;
// Windows sends the same) and MsvAvTargetName when an SPN is configured
// (UTF-16LE, no terminating NUL).
std::vector<AvPair> ClientAvPairs(
    const std::vector<AvPair>& server, const Bytes& spn16,
    const std::array<std::uint8_t, 32>& machine_id) {
  std::vector<AvPair> pairs;
  pairs.reserve(server.size() + 4);
  bool have_flags = false;
  for (const AvPair& p : server) {
    switch (p.av_id) {
      case ntlmssp::kMsvAvSingleHost:
      case ntlmssp::kMsvAvTargetName:
      case ntlmssp::kMsvAvChannelBindings:
        continue;
      case ntlmssp::kMsvAvFlags: {
        if (have_flags) continue;
        have_flags = true;
        // DecodeAvPairs checked the size (4).
        const std::uint32_t f =
            (detail::Le32(p.value.data()) & ~ntlmssp::kAvFlagUntrustedSpn) |
            ntlmssp::kAvFlagMicPresent;
        Bytes v;
        PutLe32(&v, f);
        pairs.push_back({ntlmssp::kMsvAvFlags, std::move(v)});
        continue;
      }
      default:
        pairs.push_back(p);
    }
  }
  if (!have_flags) {
    Bytes v;
    PutLe32(&v, ntlmssp::kAvFlagMicPresent);
    pairs.push_back({ntlmssp::kMsvAvFlags, std::move(v)});
  }
  Bytes single_host;
  PutLe32(&single_host, 48);
  single_host.insert(single_host.end(), 4 + 8, 0);  // Z4, CustomData
  Append(&single_host, machine_id);
  pairs.push_back({ntlmssp::kMsvAvSingleHost, std::move(single_host)});
  pairs.push_back({ntlmssp::kMsvAvChannelBindings, Bytes(16, 0)});
  if (!spn16.empty()) pairs.push_back({ntlmssp::kMsvAvTargetName, spn16});
  return pairs;
}

}  // namespace

// ---- NTLMv2 (MS-NLMP 3.3.2) -------------------------------------------------

char16_t NtlmUpcase(char16_t c) {
  if (c >= u'a' && c <= u'z') return static_cast<char16_t>(c - 0x20);
  if (c < 0x80) return c;
  // Latin-1 Supplement: U+00E0..U+00FE map down by 0x20 except U+00F7 (the
  // division sign); U+00FF maps to U+0178.
  if (c >= 0xe0 && c <= 0xfe && c != 0xf7)
    return static_cast<char16_t>(c - 0x20);
  if (c == 0xff) return 0x178;
  if (c >= 0x100 && c <= 0x17f) {
    // Latin Extended-A: upper/lower pairs, upper case first, except in
    // U+0139..U+0148 and U+0179..U+017E where the pairs start on odd code
    // points. U+0130, U+0131, U+0138, U+0149, U+0178 and U+017F are left as
    // they are.
    if (c == 0x130 || c == 0x131 || c == 0x138 || c == 0x149 || c == 0x178 ||
        c == 0x17f) {
      return c;
    }
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e)) {
      return (c & 1) ? c : static_cast<char16_t>(c - 1);
    }
    return (c & 1) ? static_cast<char16_t>(c - 1) : c;
  }
  // Greek: alpha..omega; final sigma (U+03C2) maps to capital sigma.
  if (c == 0x3c2) return 0x3a3;
  if (c >= 0x3b1 && c <= 0x3c9) return static_cast<char16_t>(c - 0x20);
  // Cyrillic: U+0430..U+044F down by 0x20, U+0450..U+045F down by 0x50.
  if (c >= 0x430 && c <= 0x44f) return static_cast<char16_t>(c - 0x20);
  if (c >= 0x450 && c <= 0x45f) return static_cast<char16_t>(c - 0x50);
  return c;
}

std::array<std::uint8_t, 16> NtowfV2(std::string_view password,
                                     std::string_view user,
                                     std::string_view domain) {
  SecretBytes pw16, user16, dom16;
  if (!ToUtf16Secret(password, &pw16) || !ToUtf16Secret(user, &user16) ||
      !ToUtf16Secret(domain, &dom16)) {
    return {};
  }
  for (std::size_t i = 0; i + 1 < user16.size(); i += 2) {
    const auto u = static_cast<char16_t>(user16[i] | (user16[i + 1] << 8));
    const char16_t up = NtlmUpcase(u);
    user16[i] = static_cast<std::uint8_t>(up);
    user16[i + 1] = static_cast<std::uint8_t>(up >> 8);
  }
  SecretBytes user_dom(user16.size() + dom16.size());
  if (!user16.empty())
    std::memcpy(user_dom.data(), user16.data(), user16.size());
  if (!dom16.empty()) {
    std::memcpy(user_dom.data() + user16.size(), dom16.data(), dom16.size());
  }
  Digest16 nt_hash = Md4(pw16.span());  // NTOWFv1, MS-NLMP 3.3.1
  auto out = HmacMd5(nt_hash, user_dom.span());
  SecureWipe(nt_hash.data(), nt_hash.size());
  return out;
}

Bytes NtlmV2Temp(std::uint64_t time,
                 const std::array<std::uint8_t, 8>& client_challenge,
                 ByteSpan av_pairs) {
  Bytes t = {1, 1, 0, 0, 0, 0, 0, 0};  // Responserversion, Hi..., Z(6)
  PutLe64(&t, time);
  Append(&t, client_challenge);
  t.insert(t.end(), 4, 0);
  Append(&t, av_pairs);
  t.insert(t.end(), 4, 0);
  return t;
}

Digest16 NtProofStr(ByteSpan response_key_nt, ByteSpan server_challenge,
                    ByteSpan temp) {
  Bytes data(server_challenge.begin(), server_challenge.end());
  Append(&data, temp);
  return HmacMd5(response_key_nt, data);
}

Bytes LmV2Response(ByteSpan response_key_lm, ByteSpan server_challenge,
                   const std::array<std::uint8_t, 8>& client_challenge) {
  Bytes data(server_challenge.begin(), server_challenge.end());
  Append(&data, client_challenge);
  const Digest16 mac = HmacMd5(response_key_lm, data);
  Bytes out(mac.begin(), mac.end());
  Append(&out, client_challenge);
  return out;
}

Digest16 SessionBaseKeyV2(ByteSpan response_key_nt, ByteSpan nt_proof_str) {
  return HmacMd5(response_key_nt, nt_proof_str);
}

Digest16 ComputeMic(ByteSpan exported_session_key, ByteSpan negotiate,
                    ByteSpan challenge, ByteSpan authenticate) {
  constexpr std::size_t kMicEnd = ntlmssp::kAuthenticateMicOffset + 16;
  if (authenticate.size() < kMicEnd) return {};
  Bytes data(negotiate.begin(), negotiate.end());
  Append(&data, challenge);
  const std::size_t auth_at = data.size();
  Append(&data, authenticate);
  std::memset(data.data() + auth_at + ntlmssp::kAuthenticateMicOffset, 0, 16);
  return HmacMd5(exported_session_key, data);
}

// ---- Message integrity (MS-NLMP 3.4) ----------------------------------------

Digest16 NtlmSignKey(ByteSpan exported_session_key, NtlmDirection direction) {
  return Md5KeyMagic(exported_session_key,
                     direction == NtlmDirection::kClientToServer
                         ? MagicWithNul(kClientSignMagic)
                         : MagicWithNul(kServerSignMagic));
}

Digest16 NtlmSealKey(ByteSpan exported_session_key,
                     std::uint32_t negotiate_flags, NtlmDirection direction) {
  // 3.4.5.3 with extended session security: 128-, 56- or 40-bit key
  // material, by the negotiated strength.
  std::size_t n = 5;
  if (negotiate_flags & ntlmssp::kNegotiate128) {
    n = 16;
  } else if (negotiate_flags & ntlmssp::kNegotiate56) {
    n = 7;
  }
  const ByteSpan key =
      exported_session_key.first(std::min(n, exported_session_key.size()));
  return Md5KeyMagic(key, direction == NtlmDirection::kClientToServer
                              ? MagicWithNul(kClientSealMagic)
                              : MagicWithNul(kServerSealMagic));
}

NtlmDirectionKeys::NtlmDirectionKeys(ByteSpan exported_session_key,
                                     std::uint32_t negotiate_flags,
                                     NtlmDirection direction)
    : sign_key_(16),
      seal_(SealHandle(exported_session_key, negotiate_flags, direction)),
      key_exch_((negotiate_flags & ntlmssp::kNegotiateKeyExch) != 0) {
  Digest16 k = NtlmSignKey(exported_session_key, direction);
  std::memcpy(sign_key_.data(), k.data(), k.size());
  SecureWipe(k.data(), k.size());
}

Digest16 NtlmDirectionKeys::Hmac(ByteSpan message) const {
  // 3.4.4.2: HMAC_MD5(SigningKey, SeqNum || Message).
  Bytes data;
  data.reserve(4 + message.size());
  PutLe32(&data, seq_);
  Append(&data, message);
  return HmacMd5(sign_key_.span(), data);
}

std::array<std::uint8_t, 16> NtlmDirectionKeys::FinishSignature(
    const Digest16& hmac) {
  // Version 1 || Checksum || SeqNum, the checksum being the first 8 bytes of
  // the HMAC, RC4-encrypted with the sealing handle when KEY_EXCH was
  // negotiated. The handle's keystream carries on from message to message
  // (connection-oriented).
  std::array<std::uint8_t, 16> sig{};
  sig[0] = 1;
  if (key_exch_) {
    seal_.Apply(ByteSpan(hmac).first(8), sig.data() + 4);
  } else {
    std::memcpy(sig.data() + 4, hmac.data(), 8);
  }
  detail::StoreLe32(sig.data() + 12, seq_);
  ++seq_;
  return sig;
}

std::array<std::uint8_t, 16> NtlmDirectionKeys::Sign(ByteSpan message) {
  return FinishSignature(Hmac(message));
}

std::array<std::uint8_t, 16> NtlmDirectionKeys::Seal(MutableByteSpan message) {
  // 3.4.3: the checksum is over the plaintext, but the RC4 handle encrypts
  // the message before it encrypts the checksum.
  const Digest16 hmac = Hmac(message);
  seal_.Apply(message, message.data());
  return FinishSignature(hmac);
}

bool NtlmDirectionKeys::Verify(ByteSpan message, ByteSpan signature) {
  const auto expected = Sign(message);
  return ConstantTimeEqual(expected, signature);
}

// ---- NtlmClient (MS-NLMP 3.1.5) ---------------------------------------------

NtlmClient::NtlmClient(NtlmCredentials credentials, RandomSource random,
                       FiletimeClock clock)
    : credentials_(std::move(credentials)),
      random_(std::move(random)),
      clock_(std::move(clock)) {}

NtlmClient::NtlmClient(NtlmClient&&) noexcept = default;
NtlmClient& NtlmClient::operator=(NtlmClient&&) noexcept = default;
NtlmClient::~NtlmClient() = default;

void NtlmClient::SetTargetSpn(std::string spn) { target_spn_ = std::move(spn); }

Bytes NtlmClient::Negotiate() {
  NegotiateMessage m;
  m.negotiate_flags = ntlmssp::kClientNegotiateFlags;
  m.version = kClientVersion;
  negotiate_ = EncodeNegotiate(m);
  state_ = State::kNegotiated;
  flags_ = 0;
  session_key_ = SecretBytes();
  client_to_server_.reset();
  server_to_client_.reset();
  return negotiate_;
}

Result<Bytes> NtlmClient::Authenticate(ByteSpan challenge) {
  if (state_ != State::kNegotiated) return errc::invalid_state;

  // Credentials: a user name is required (anonymous is not offered) and all
  // text must be UTF-8.
  Bytes user16, domain16, workstation16, spn16;
  SecretBytes password16;
  if (credentials_.user.empty() || !Utf8ToUtf16le(credentials_.user, &user16) ||
      !Utf8ToUtf16le(credentials_.domain, &domain16) ||
      !Utf8ToUtf16le(credentials_.workstation, &workstation16) ||
      !Utf8ToUtf16le(target_spn_, &spn16) ||
      !ToUtf16Secret(credentials_.password.view(), &password16)) {
    return errc::invalid_credentials;
  }

  auto ch = DecodeChallenge(challenge);
  if (!ch) return ch.error();
  // NTLMv2 needs the server's AV pairs (they are what NTProofStr binds);
  // extended session security gives the signing/sealing keys of 3.4.5; and
  // every string here is Unicode. A server offering less gets nothing.
  constexpr std::uint32_t kRequired =
      ntlmssp::kNegotiateUnicode | ntlmssp::kNegotiateExtendedSessionSecurity;
  if ((ch->negotiate_flags & kRequired) != kRequired ||
      ch->target_info.empty()) {
    return errc::ntlmv2_unavailable;
  }
  // What both sides agreed on; TARGET_INFO is the server's to set.
  const std::uint32_t flags =
      ch->negotiate_flags &
      (ntlmssp::kClientNegotiateFlags | ntlmssp::kNegotiateTargetInfo);

  std::array<std::uint8_t, 8> client_challenge{};
  random_(client_challenge);
  std::array<std::uint8_t, 32> machine_id{};
  random_(machine_id);
  const std::vector<AvPair> pairs =
      ClientAvPairs(ch->target_info, spn16, machine_id);
  const Bytes av = EncodeAvPairs(pairs);

  const std::optional<std::uint64_t> server_time =
      FindAvTimestamp(ch->target_info);
  const std::uint64_t time = server_time ? *server_time : clock_();

  auto response_key = NtowfV2(credentials_.password.view(), credentials_.user,
                              credentials_.domain);
  const Bytes temp = NtlmV2Temp(time, client_challenge, av);
  const Digest16 proof = NtProofStr(response_key, ch->server_challenge, temp);

  AuthenticateMessage am;
  am.negotiate_flags = flags;
  // 3.1.5.1.2: with MsvAvTimestamp the LM response SHOULD be Z(24).
  am.lm_challenge_response =
      server_time
          ? Bytes(24, 0)
          : LmV2Response(response_key, ch->server_challenge, client_challenge);
  am.nt_challenge_response.assign(proof.begin(), proof.end());
  Append(&am.nt_challenge_response, temp);
  am.domain_name = std::move(domain16);
  am.user_name = std::move(user16);
  am.workstation = std::move(workstation16);
  am.version = kClientVersion;
  am.mic.emplace();
  am.mic->fill(0);

  // KeyExchangeKey = SessionBaseKey for NTLMv2 (3.4.5.1). With KEY_EXCH the
  // ExportedSessionKey is fresh randomness sent under RC4(KeyExchangeKey).
  Digest16 key_exchange_key = SessionBaseKeyV2(response_key, proof);
  SecureWipe(response_key.data(), response_key.size());
  SecretBytes exported(16);
  if (flags & ntlmssp::kNegotiateKeyExch) {
    random_(exported.mutable_span());
    am.encrypted_random_session_key.resize(16);
    Rc4(key_exchange_key, exported.span(),
        am.encrypted_random_session_key.data());
  } else {
    std::memcpy(exported.data(), key_exchange_key.data(), 16);
  }
  SecureWipe(key_exchange_key.data(), key_exchange_key.size());

  Bytes out = EncodeAuthenticate(am);
  const Digest16 mic = ComputeMic(exported.span(), negotiate_, challenge, out);
  std::memcpy(out.data() + ntlmssp::kAuthenticateMicOffset, mic.data(),
              mic.size());

  flags_ = flags;
  client_to_server_.emplace(exported.span(), flags,
                            NtlmDirection::kClientToServer);
  server_to_client_.emplace(exported.span(), flags,
                            NtlmDirection::kServerToClient);
  session_key_ = std::move(exported);
  state_ = State::kAuthenticated;
  return out;
}

Bytes NtlmClient::SignMic(ByteSpan data) {
  if (!client_to_server_) return {};
  const auto sig = client_to_server_->Sign(data);
  return Bytes(sig.begin(), sig.end());
}

Result<void> NtlmClient::VerifyMic(ByteSpan data, ByteSpan signature) {
  if (!server_to_client_) return errc::invalid_state;
  if (!server_to_client_->Verify(data, signature)) return errc::mic_mismatch;
  return {};
}

}  // namespace smbgate::auth
