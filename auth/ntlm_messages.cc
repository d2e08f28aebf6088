// NTLMSSP message encoding and decoding (MS-NLMP 2.2.1, 2.2.2).
#include <algorithm>
#include <cstring>
#include <span>

#include "auth/byte_order.h"
#include "auth/ntlm.h"

namespace smbgate::auth {
namespace {

using detail::Append;
using detail::InBounds;
using detail::Le16;
using detail::Le32;
using detail::Le64;
using detail::PutLe16;
using detail::PutLe32;

constexpr std::uint8_t kSignature[8] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0};
constexpr std::uint32_t kNegotiateType = 1;
constexpr std::uint32_t kChallengeType = 2;
constexpr std::uint32_t kAuthenticateType = 3;

// Fixed parts (MS-NLMP 2.2.1.x) without the optional VERSION / MIC.
constexpr std::size_t kNegotiateFixed = 32;
constexpr std::size_t kChallengeFixed = 48;
constexpr std::size_t kAuthenticateFixed = 64;
constexpr std::size_t kVersionSize = 8;
constexpr std::size_t kMicSize = 16;

// A Len/MaxLen/BufferOffset triple. MaxLen is ignored on receipt (MS-NLMP
// 2.2.1: it SHOULD equal Len and MUST be ignored).
struct Field {
  std::size_t off = 0;
  std::size_t len = 0;
};

Field ReadField(ByteSpan m, std::size_t at) {
  return {Le32(m.data() + at + 4), Le16(m.data() + at)};
}

// Checks the payload fields of one message: each non-empty field lies inside
// the message and after the fixed header, and no two non-empty fields share
// a byte. Empty fields may point anywhere (Windows sends offset 0 for them).
bool FieldsValid(std::span<const Field> fields, std::size_t header,
                 std::size_t n) {
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const Field& a = fields[i];
    if (a.len == 0) continue;
    if (!InBounds(a.off, a.len, n) || a.off < header) return false;
    for (std::size_t j = 0; j < i; ++j) {
      const Field& b = fields[j];
      if (b.len == 0) continue;
      // Both in bounds, so these sums are at most n.
      if (a.off < b.off + b.len && b.off < a.off + a.len) return false;
    }
  }
  return true;
}

// The smallest offset of a non-empty field, or n when there is none: where
// the fixed part ends at the latest.
std::size_t PayloadStart(std::span<const Field> fields, std::size_t n) {
  std::size_t start = n;
  for (const Field& f : fields) {
    if (f.len != 0) start = std::min(start, f.off);
  }
  return start;
}

Bytes Slice(ByteSpan m, const Field& f) {
  if (f.len == 0) return {};
  const auto s = m.subspan(f.off, f.len);
  return Bytes(s.begin(), s.end());
}

// Checks the signature and message type. malformed_token for a short buffer
// or a wrong signature, unexpected_message for another message type.
Result<void> CheckHeader(ByteSpan m, std::uint32_t type, std::size_t fixed) {
  if (m.size() < 12 || m.size() > ntlmssp::kMaxMessageSize ||
      std::memcmp(m.data(), kSignature, sizeof kSignature) != 0) {
    return errc::malformed_token;
  }
  if (Le32(m.data() + 8) != type) return errc::unexpected_message;
  if (m.size() < fixed) return errc::malformed_token;
  return {};
}

NtlmVersion ReadVersion(const std::uint8_t* p) {
  NtlmVersion v;
  v.product_major_version = p[0];
  v.product_minor_version = p[1];
  v.product_build = Le16(p + 2);
  v.ntlm_revision_current = p[7];
  return v;
}

void PutVersion(Bytes* out, const NtlmVersion& v) {
  out->push_back(v.product_major_version);
  out->push_back(v.product_minor_version);
  PutLe16(out, v.product_build);
  out->insert(out->end(), 3, 0);  // Reserved
  out->push_back(v.ntlm_revision_current);
}

void PutHeader(Bytes* out, std::uint32_t type) {
  out->assign(std::begin(kSignature), std::end(kSignature));
  PutLe32(out, type);
}

// Writes a Len/MaxLen/BufferOffset triple at `at` for `len` bytes at `off`.
void StoreField(Bytes* out, std::size_t at, std::size_t off, std::size_t len) {
  detail::StoreLe16(out->data() + at, static_cast<std::uint16_t>(len));
  detail::StoreLe16(out->data() + at + 2, static_cast<std::uint16_t>(len));
  detail::StoreLe32(out->data() + at + 4, static_cast<std::uint32_t>(off));
}

// Appends `payload` fields after the fixed part already in `out`, filling
// their triples at the given header positions, in order.
struct PayloadItem {
  std::size_t field_at;
  ByteSpan data;
};
void AppendPayload(Bytes* out, std::span<const PayloadItem> items) {
  for (const PayloadItem& it : items) {
    // Lengths are 16-bit on the wire; our own messages never come close.
    const std::size_t len = std::min<std::size_t>(it.data.size(), 0xffff);
    StoreField(out, it.field_at, out->size(), len);
    out->insert(out->end(), it.data.begin(),
                it.data.begin() + static_cast<std::ptrdiff_t>(len));
  }
}

}  // namespace

// ---- AV pairs (MS-NLMP 2.2.2.1) ---------------------------------------------

Result<std::vector<AvPair>> DecodeAvPairs(ByteSpan data) {
  std::vector<AvPair> pairs;
  std::size_t pos = 0;
  while (true) {
    if (!InBounds(pos, 4, data.size())) return errc::malformed_token;
    const std::uint16_t id = Le16(data.data() + pos);
    const std::size_t len = Le16(data.data() + pos + 2);
    pos += 4;
    if (!InBounds(pos, len, data.size())) return errc::malformed_token;
    // MsvAvEOL ends the list; anything after it is not part of it.
    if (id == ntlmssp::kMsvAvEol) return pairs;
    if ((id == ntlmssp::kMsvAvFlags && len != 4) ||
        (id == ntlmssp::kMsvAvTimestamp && len != 8)) {
      return errc::malformed_token;
    }
    if (pairs.size() == ntlmssp::kMaxAvPairs) return errc::malformed_token;
    const auto v = data.subspan(pos, len);
    pairs.push_back({id, Bytes(v.begin(), v.end())});
    pos += len;
  }
}

Bytes EncodeAvPairs(const std::vector<AvPair>& pairs) {
  Bytes out;
  for (const AvPair& p : pairs) {
    const std::size_t len = std::min<std::size_t>(p.value.size(), 0xffff);
    PutLe16(&out, p.av_id);
    PutLe16(&out, static_cast<std::uint16_t>(len));
    out.insert(out.end(), p.value.begin(),
               p.value.begin() + static_cast<std::ptrdiff_t>(len));
  }
  PutLe16(&out, ntlmssp::kMsvAvEol);
  PutLe16(&out, 0);
  return out;
}

const AvPair* FindAvPair(const std::vector<AvPair>& pairs,
                         std::uint16_t av_id) {
  for (const AvPair& p : pairs) {
    if (p.av_id == av_id) return &p;
  }
  return nullptr;
}

std::optional<std::uint64_t> FindAvTimestamp(const std::vector<AvPair>& pairs) {
  const AvPair* p = FindAvPair(pairs, ntlmssp::kMsvAvTimestamp);
  if (!p || p->value.size() != 8) return std::nullopt;
  return Le64(p->value.data());
}

// ---- NEGOTIATE_MESSAGE (2.2.1.1) --------------------------------------------

Bytes EncodeNegotiate(const NegotiateMessage& m) {
  Bytes out;
  PutHeader(&out, kNegotiateType);
  PutLe32(&out, m.negotiate_flags);
  out.resize(kNegotiateFixed);  // DomainNameFields, WorkstationFields
  if (m.version) PutVersion(&out, *m.version);
  const PayloadItem items[] = {{16, m.domain_name}, {24, m.workstation}};
  AppendPayload(&out, items);
  return out;
}

Result<NegotiateMessage> DecodeNegotiate(ByteSpan m) {
  SMBGATE_TRY_VOID(CheckHeader(m, kNegotiateType, kNegotiateFixed));
  NegotiateMessage out;
  out.negotiate_flags = Le32(m.data() + 12);
  const Field fields[] = {ReadField(m, 16), ReadField(m, 24)};
  if (!FieldsValid(fields, kNegotiateFixed, m.size())) {
    return errc::malformed_token;
  }
  const std::size_t start = PayloadStart(fields, m.size());
  if ((out.negotiate_flags & ntlmssp::kNegotiateVersion) &&
      start >= kNegotiateFixed + kVersionSize) {
    out.version = ReadVersion(m.data() + kNegotiateFixed);
  }
  out.domain_name = Slice(m, fields[0]);
  out.workstation = Slice(m, fields[1]);
  return out;
}

// ---- CHALLENGE_MESSAGE (2.2.1.2) --------------------------------------------

Bytes EncodeChallenge(const ChallengeMessage& m) {
  Bytes out;
  PutHeader(&out, kChallengeType);
  out.resize(20);  // TargetNameFields
  PutLe32(&out, m.negotiate_flags);
  out.insert(out.end(), m.server_challenge.begin(), m.server_challenge.end());
  out.resize(kChallengeFixed);  // Reserved, TargetInfoFields
  if (m.version) PutVersion(&out, *m.version);
  const Bytes info =
      m.target_info.empty() ? Bytes{} : EncodeAvPairs(m.target_info);
  const PayloadItem items[] = {{12, m.target_name}, {40, info}};
  AppendPayload(&out, items);
  return out;
}

Result<ChallengeMessage> DecodeChallenge(ByteSpan m) {
  SMBGATE_TRY_VOID(CheckHeader(m, kChallengeType, kChallengeFixed));
  ChallengeMessage out;
  out.negotiate_flags = Le32(m.data() + 20);
  std::memcpy(out.server_challenge.data(), m.data() + 24, 8);
  const Field fields[] = {ReadField(m, 12), ReadField(m, 40)};
  if (!FieldsValid(fields, kChallengeFixed, m.size())) {
    return errc::malformed_token;
  }
  // VERSION sits between the fixed part and the payload when negotiated and
  // when the payload leaves room for it.
  const std::size_t start = PayloadStart(fields, m.size());
  if ((out.negotiate_flags & ntlmssp::kNegotiateVersion) &&
      start >= kChallengeFixed + kVersionSize) {
    out.version = ReadVersion(m.data() + kChallengeFixed);
  }
  out.target_name = Slice(m, fields[0]);
  if (fields[1].len != 0) {
    auto pairs = DecodeAvPairs(m.subspan(fields[1].off, fields[1].len));
    if (!pairs) return pairs.error();
    out.target_info = std::move(*pairs);
  }
  return out;
}

// ---- AUTHENTICATE_MESSAGE (2.2.1.3) -----------------------------------------

Bytes EncodeAuthenticate(const AuthenticateMessage& m) {
  Bytes out;
  PutHeader(&out, kAuthenticateType);
  out.resize(60);  // the six field triples
  PutLe32(&out, m.negotiate_flags);
  if (m.version || m.mic) {
    if (m.version) {
      PutVersion(&out, *m.version);
    } else {
      out.resize(out.size() + kVersionSize);
    }
  }
  if (m.mic) out.insert(out.end(), m.mic->begin(), m.mic->end());
  // The order of MS-NLMP 4.2.4.3; any order is valid.
  const PayloadItem items[] = {
      {28, m.domain_name},           {36, m.user_name},
      {44, m.workstation},           {12, m.lm_challenge_response},
      {20, m.nt_challenge_response}, {52, m.encrypted_random_session_key},
  };
  AppendPayload(&out, items);
  return out;
}

Result<AuthenticateMessage> DecodeAuthenticate(ByteSpan m) {
  SMBGATE_TRY_VOID(CheckHeader(m, kAuthenticateType, kAuthenticateFixed));
  AuthenticateMessage out;
  out.negotiate_flags = Le32(m.data() + 60);
  const Field fields[] = {ReadField(m, 12), ReadField(m, 20), ReadField(m, 28),
                          ReadField(m, 36), ReadField(m, 44), ReadField(m, 52)};
  if (!FieldsValid(fields, kAuthenticateFixed, m.size())) {
    return errc::malformed_token;
  }
  const std::size_t start = PayloadStart(fields, m.size());
  if ((out.negotiate_flags & ntlmssp::kNegotiateVersion) &&
      start >= kAuthenticateFixed + kVersionSize) {
    out.version = ReadVersion(m.data() + kAuthenticateFixed);
  }
  if (start >= ntlmssp::kAuthenticateMicOffset + kMicSize) {
    std::array<std::uint8_t, 16> mic;
    std::memcpy(mic.data(), m.data() + ntlmssp::kAuthenticateMicOffset, 16);
    out.mic = mic;
  }
  out.lm_challenge_response = Slice(m, fields[0]);
  out.nt_challenge_response = Slice(m, fields[1]);
  out.domain_name = Slice(m, fields[2]);
  out.user_name = Slice(m, fields[3]);
  out.workstation = Slice(m, fields[4]);
  out.encrypted_random_session_key = Slice(m, fields[5]);
  return out;
}

}  // namespace smbgate::auth
