#include "smb2/codec/negotiate.h"

#include <algorithm>

#include "smb2/codec/body.h"

namespace smbgate::smb2 {
namespace {

constexpr std::uint16_t kRequestStructureSize = 36;
constexpr std::uint16_t kResponseStructureSize = 65;
constexpr std::size_t kRequestFixedEnd = kHeaderSize + 36;
constexpr std::size_t kResponseFixedEnd = kHeaderSize + 64;

bool Offers311(const std::vector<std::uint16_t>& dialects) {
  return std::find(dialects.begin(), dialects.end(), kDialect311) !=
         dialects.end();
}

// MS-SMB2 2.2.3.1: ContextType, DataLength, Reserved (4), Data; contexts
// after the first start 8-byte aligned (relative to the header).
struct ContextWriter {
  WireWriter& w;
  std::size_t base;
  std::uint16_t count = 0;

  void Add(std::uint16_t type, ByteSpan data) {
    if (count++) AlignFrom(w, base, 8);
    w.U16(type);
    w.U16(static_cast<std::uint16_t>(data.size()));
    w.U32(0);
    w.Bytes(data);
  }
};

Bytes AlgorithmList(const std::vector<std::uint16_t>& ids) {
  WireWriter d;
  d.U16(static_cast<std::uint16_t>(ids.size()));
  for (std::uint16_t id : ids) d.U16(id);
  return d.Take();
}

Bytes PreauthData(const std::vector<std::uint16_t>& hashes, ByteSpan salt) {
  WireWriter d;
  d.U16(static_cast<std::uint16_t>(hashes.size()));
  d.U16(static_cast<std::uint16_t>(salt.size()));
  for (std::uint16_t id : hashes) d.U16(id);
  d.Bytes(salt);
  return d.Take();
}

// Reads `count` contexts starting at header-relative `off` of `msg`.
Result<std::vector<NegotiateContext>> ReadContexts(ByteSpan msg,
                                                   std::size_t off,
                                                   std::size_t count) {
  if (count > kMaxNegotiateContexts || off % 8 != 0) {
    return errc::malformed_response;
  }
  std::vector<NegotiateContext> out;
  out.reserve(count);
  WireReader r(msg);
  std::size_t pos = off;
  for (std::size_t i = 0; i < count; ++i) {
    pos = (pos + 7) & ~std::size_t{7};
    r.Seek(pos);
    NegotiateContext c;
    c.context_type = r.U16();
    const std::uint16_t len = r.U16();
    r.Skip(4);
    c.data = r.Bytes(len);  // DataLength checked inside the message
    if (!r.ok()) return errc::malformed_response;
    out.push_back(c);
    pos = r.pos();
  }
  return out;
}

// Count-prefixed list of 16-bit ids (encryption, signing contexts).
bool ReadAlgorithmList(ByteSpan data, std::vector<std::uint16_t>* ids) {
  WireReader r(data);
  const std::uint16_t n = r.U16();
  if (!r.ok() || n == 0 || n > kMaxNegotiateAlgorithms ||
      !InBounds(2, std::size_t{n} * 2, data.size())) {
    return false;
  }
  ids->clear();
  for (std::uint16_t i = 0; i < n; ++i) ids->push_back(r.U16());
  return r.ok();
}

// SMB2_PREAUTH_INTEGRITY_CAPABILITIES: HashAlgorithmCount, SaltLength,
// HashAlgorithms, Salt.
bool ReadPreauth(ByteSpan data, std::vector<std::uint16_t>* hashes,
                 ByteSpan* salt) {
  WireReader r(data);
  const std::uint16_t n = r.U16();
  const std::uint16_t salt_len = r.U16();
  if (!r.ok() || n == 0 || n > kMaxNegotiateAlgorithms ||
      !InBounds(4, std::size_t{n} * 2, data.size())) {
    return false;
  }
  hashes->clear();
  for (std::uint16_t i = 0; i < n; ++i) hashes->push_back(r.U16());
  *salt = r.Bytes(salt_len);
  return r.ok();
}

bool IsTyped(std::uint16_t type) {
  return type == kPreauthIntegrityCapabilities ||
         type == kEncryptionCapabilities || type == kSigningCapabilities;
}

}  // namespace

void Encode(const NegotiateRequest& q, WireWriter& w) {
  const std::size_t base = HeaderBase(w);
  w.U16(kRequestStructureSize);
  w.U16(static_cast<std::uint16_t>(q.dialects.size()));
  w.U16(q.security_mode);
  w.U16(0);
  w.U32(q.capabilities);
  w.Bytes(q.client_guid);
  const bool with_contexts = Offers311(q.dialects);
  const std::size_t context_fields = w.pos();
  if (with_contexts) {
    w.U32(0);  // NegotiateContextOffset, set below
    w.U16(0);  // NegotiateContextCount, set below
    w.U16(0);
  } else {
    w.U64(q.client_start_time);
  }
  for (std::uint16_t d : q.dialects) w.U16(d);
  if (!with_contexts) return;
  AlignFrom(w, base, 8);
  const std::size_t off = w.pos() - base;
  ContextWriter cw{w, base};
  cw.Add(kPreauthIntegrityCapabilities,
         PreauthData(q.preauth.hash_algorithms, q.preauth.salt));
  if (!q.cipher_ids.empty()) {
    cw.Add(kEncryptionCapabilities, AlgorithmList(q.cipher_ids));
  }
  if (!q.signing_algorithm_ids.empty()) {
    cw.Add(kSigningCapabilities, AlgorithmList(q.signing_algorithm_ids));
  }
  for (const NegotiateContext& c : q.other_contexts) {
    cw.Add(c.context_type, c.data);
  }
  w.PutU32At(context_fields, static_cast<std::uint32_t>(off));
  w.PutU16At(context_fields + 4, cw.count);
}

Result<NegotiateRequest> DecodeNegotiateRequest(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kNegotiate, kRequestStructureSize);
  if (!body) return body.error();
  WireReader& r = *body;
  NegotiateRequest q;
  const std::uint16_t dialect_count = r.U16();
  q.security_mode = r.U16();
  r.Skip(2);
  q.capabilities = r.U32();
  ByteSpan guid = r.Bytes(16);
  const std::uint32_t context_offset = r.U32();
  const std::uint16_t context_count = r.U16();
  r.Seek(r.pos() - 6);
  q.client_start_time = r.U64();
  if (!r.ok() || dialect_count == 0 || dialect_count > kMaxDialects ||
      !InBounds(kRequestFixedEnd, std::size_t{dialect_count} * 2, msg.size())) {
    return errc::malformed_response;
  }
  std::copy(guid.begin(), guid.end(), q.client_guid.begin());
  for (std::uint16_t i = 0; i < dialect_count; ++i) q.dialects.push_back(r.U16());
  if (!Offers311(q.dialects)) return q;
  q.client_start_time = 0;
  if (context_offset < r.pos()) return errc::malformed_response;
  auto contexts = ReadContexts(msg, context_offset, context_count);
  if (!contexts) return contexts.error();
  bool preauth = false, enc = false, sign = false;
  for (const NegotiateContext& c : *contexts) {
    bool ok = true;
    switch (c.context_type) {
      case kPreauthIntegrityCapabilities: {
        ByteSpan salt;
        ok = !preauth && ReadPreauth(c.data, &q.preauth.hash_algorithms, &salt);
        q.preauth.salt.assign(salt.begin(), salt.end());
        preauth = true;
        break;
      }
      case kEncryptionCapabilities:
        ok = !enc && ReadAlgorithmList(c.data, &q.cipher_ids);
        enc = true;
        break;
      case kSigningCapabilities:
        ok = !sign && ReadAlgorithmList(c.data, &q.signing_algorithm_ids);
        sign = true;
        break;
      default:
        q.other_contexts.push_back(c);
    }
    if (!ok) return errc::malformed_response;
  }
  // MS-SMB2 3.3.5.4: a 3.1.1 request carries exactly one PREAUTH context.
  if (!preauth) return errc::malformed_response;
  return q;
}

void Encode(const NegotiateResponse& p, WireWriter& w) {
  const std::size_t base = HeaderBase(w);
  w.U16(kResponseStructureSize);
  w.U16(p.security_mode);
  w.U16(p.dialect_revision);
  const std::size_t count_field = w.pos();
  w.U16(0);
  w.Bytes(p.server_guid);
  w.U32(p.capabilities);
  w.U32(p.max_transact_size);
  w.U32(p.max_read_size);
  w.U32(p.max_write_size);
  w.U64(p.system_time);
  w.U64(p.server_start_time);
  w.U16(static_cast<std::uint16_t>(p.security_buffer.empty() ? 0 : kResponseFixedEnd));
  w.U16(static_cast<std::uint16_t>(p.security_buffer.size()));
  const std::size_t offset_field = w.pos();
  w.U32(0);
  w.Bytes(p.security_buffer);
  if (p.dialect_revision == kDialect311) {
    AlignFrom(w, base, 8);
    const std::size_t off = w.pos() - base;
    ContextWriter cw{w, base};
    if (p.preauth_hash_algorithm) {
      cw.Add(kPreauthIntegrityCapabilities,
             PreauthData({*p.preauth_hash_algorithm}, p.preauth_salt));
    }
    if (p.cipher) cw.Add(kEncryptionCapabilities, AlgorithmList({*p.cipher}));
    if (p.signing_algorithm) {
      cw.Add(kSigningCapabilities, AlgorithmList({*p.signing_algorithm}));
    }
    for (const NegotiateContext& c : p.other_contexts) {
      if (!IsTyped(c.context_type)) cw.Add(c.context_type, c.data);
    }
    w.PutU16At(count_field, cw.count);
    w.PutU32At(offset_field, static_cast<std::uint32_t>(off));
  }
}

Result<NegotiateResponse> DecodeNegotiateResponse(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kNegotiate, kResponseStructureSize);
  if (!body) return body.error();
  WireReader& r = *body;
  NegotiateResponse p;
  p.security_mode = r.U16();
  p.dialect_revision = r.U16();
  const std::uint16_t context_count = r.U16();
  ByteSpan guid = r.Bytes(16);
  p.capabilities = r.U32();
  p.max_transact_size = r.U32();
  p.max_read_size = r.U32();
  p.max_write_size = r.U32();
  p.system_time = r.U64();
  p.server_start_time = r.U64();
  const std::uint16_t sec_off = r.U16();
  const std::uint16_t sec_len = r.U16();
  const std::uint32_t context_offset = r.U32();
  p.security_buffer = Field(r, sec_off, sec_len, kResponseFixedEnd);
  if (!r.ok()) return errc::malformed_response;
  std::copy(guid.begin(), guid.end(), p.server_guid.begin());
  // MS-SMB2 2.2.4: NegotiateContextOffset/Count are reserved below 3.1.1.
  if (p.dialect_revision != kDialect311) return p;
  // The context list follows the security buffer (and its padding).
  const std::size_t min_off =
      sec_len ? std::size_t{sec_off} + sec_len : kResponseFixedEnd;
  if (context_offset < min_off) return errc::malformed_response;
  auto contexts = ReadContexts(msg, context_offset, context_count);
  if (!contexts) return contexts.error();
  // MS-SMB2 3.2.5.2: exactly one PREAUTH context with one hash algorithm;
  // at most one ENCRYPTION context with one cipher and one SIGNING context
  // with one algorithm.
  for (const NegotiateContext& c : *contexts) {
    std::vector<std::uint16_t> ids;
    switch (c.context_type) {
      case kPreauthIntegrityCapabilities: {
        ByteSpan salt;
        if (p.preauth_hash_algorithm || !ReadPreauth(c.data, &ids, &salt) ||
            ids.size() != 1) {
          return errc::malformed_response;
        }
        p.preauth_hash_algorithm = ids[0];
        p.preauth_salt = salt;
        break;
      }
      case kEncryptionCapabilities:
        if (p.cipher || !ReadAlgorithmList(c.data, &ids) || ids.size() != 1) {
          return errc::malformed_response;
        }
        p.cipher = ids[0];
        break;
      case kSigningCapabilities:
        if (p.signing_algorithm || !ReadAlgorithmList(c.data, &ids) ||
            ids.size() != 1) {
          return errc::malformed_response;
        }
        p.signing_algorithm = ids[0];
        break;
      default:
        p.other_contexts.push_back(c);
    }
  }
  if (!p.preauth_hash_algorithm) return errc::malformed_response;
  return p;
}

}  // namespace smbgate::smb2
