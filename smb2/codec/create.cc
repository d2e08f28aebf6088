#include "smb2/codec/create.h"

#include <algorithm>

#include "smb2/codec/body.h"

namespace smbgate::smb2 {
namespace {

constexpr std::size_t kRequestFixedEnd = kHeaderSize + 56;    // 0x78
constexpr std::size_t kResponseFixedEnd = kHeaderSize + 88;   // 0x98
// MS-SMB2 2.2.13.2: Next, NameOffset, NameLength, Reserved, DataOffset,
// DataLength, then the name and the 8-aligned data.
constexpr std::size_t kContextFixed = 16;

ByteSpan AsSpan(const std::string& s) { return AsBytes(s); }
ByteSpan AsSpan(ByteSpan s) { return s; }
ByteSpan AsSpan(const Bytes& b) { return b; }

// Writes a chain of contexts (CreateContext or CreateContextView). The chain
// starts 8-aligned, so aligning from its start aligns from the header.
template <class C>
void WriteContexts(const std::vector<C>& contexts, WireWriter& w) {
  for (std::size_t i = 0; i < contexts.size(); ++i) {
    const C& c = contexts[i];
    const ByteSpan name = AsSpan(c.name);
    const ByteSpan data = AsSpan(c.data);
    const std::size_t start = w.pos();
    w.U32(0);  // Next, set below
    w.U16(static_cast<std::uint16_t>(kContextFixed));
    w.U16(static_cast<std::uint16_t>(name.size()));
    w.U16(0);
    const std::size_t data_offset_field = w.pos();
    w.U16(0);
    w.U32(static_cast<std::uint32_t>(data.size()));
    w.Bytes(name);
    if (!data.empty()) {
      AlignFrom(w, start, 8);
      w.PutU16At(data_offset_field, static_cast<std::uint16_t>(w.pos() - start));
      w.Bytes(data);
    }
    if (i + 1 < contexts.size()) {
      AlignFrom(w, start, 8);
      w.PutU32At(start, static_cast<std::uint32_t>(w.pos() - start));
    }
  }
}

Result<std::vector<CreateContextView>> ContextsAt(WireReader& r,
                                                  std::uint32_t off,
                                                  std::uint32_t len,
                                                  std::size_t min_off) {
  ByteSpan chain = Field(r, off, len, min_off);
  if (!r.ok() || (len != 0 && off % 8 != 0)) return errc::malformed_response;
  return ParseCreateContexts(chain);
}

template <class T>
bool ReadArray(WireReader& r, T* a) {
  ByteSpan s = r.Bytes(a->size());
  if (!r.ok()) return false;
  std::copy(s.begin(), s.end(), a->begin());
  return true;
}

}  // namespace

Result<std::vector<CreateContextView>> ParseCreateContexts(ByteSpan chain) {
  std::vector<CreateContextView> out;
  const std::size_t n = chain.size();
  std::size_t pos = 0;
  if (n == 0) return out;
  // Ends at the context whose Next is 0; a nonzero Next must leave room for
  // another context (a short one fails the reads below).
  while (true) {
    if (out.size() == kMaxCreateContexts) return errc::malformed_response;
    WireReader r(chain);
    r.Seek(pos);
    const std::uint32_t next = r.U32();
    const std::uint16_t name_off = r.U16();
    const std::uint16_t name_len = r.U16();
    r.Skip(2);
    const std::uint16_t data_off = r.U16();
    const std::uint32_t data_len = r.U32();
    if (!r.ok()) return errc::malformed_response;
    // The context ends at Next, or at the end of the chain for the last one.
    if (next != 0 &&
        (next % 8 != 0 || next < kContextFixed || !InBounds(pos, next, n))) {
      return errc::malformed_response;
    }
    const ByteSpan ctx = chain.subspan(pos, next ? next : n - pos);
    if (name_len == 0 || name_len > kMaxCreateContextName ||
        name_off < kContextFixed ||
        !InBounds(name_off, name_len, ctx.size())) {
      return errc::malformed_response;
    }
    CreateContextView v;
    const ByteSpan name = ctx.subspan(name_off, name_len);
    v.name.assign(name.begin(), name.end());
    if (data_len != 0) {
      if (data_off < kContextFixed || !InBounds(data_off, data_len, ctx.size())) {
        return errc::malformed_response;
      }
      v.data = ctx.subspan(data_off, data_len);
    }
    out.push_back(std::move(v));
    if (next == 0) break;
    pos += next;
  }
  return out;
}

void EncodeCreateContexts(const std::vector<CreateContextView>& contexts,
                          WireWriter& w) {
  WriteContexts(contexts, w);
}

const CreateContextView* FindCreateContext(
    const std::vector<CreateContextView>& contexts, std::string_view name) {
  for (const CreateContextView& c : contexts) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// MS-SMB2 2.2.13: StructureSize 57, SecurityFlags, RequestedOplockLevel,
// ImpersonationLevel, SmbCreateFlags (8), Reserved (8), DesiredAccess,
// FileAttributes, ShareAccess, CreateDisposition, CreateOptions, NameOffset,
// NameLength, CreateContextsOffset, CreateContextsLength, Buffer.
void Encode(const CreateRequest& q, WireWriter& w) {
  const std::size_t base = HeaderBase(w);
  w.U16(57);
  w.U8(q.security_flags);
  w.U8(q.requested_oplock_level);
  w.U32(q.impersonation_level);
  w.U64(0);
  w.U64(0);
  w.U32(q.desired_access);
  w.U32(q.file_attributes);
  w.U32(q.share_access);
  w.U32(q.create_disposition);
  w.U32(q.create_options);
  // NameOffset points at the buffer even for an empty name (2.2.13).
  w.U16(static_cast<std::uint16_t>(kRequestFixedEnd));
  const std::size_t name_length_field = w.pos();
  w.U16(0);
  const std::size_t contexts_fields = w.pos();
  w.U32(0);
  w.U32(0);
  const std::size_t buffer_start = w.pos();
  PutUtf16(w, q.name);
  w.PutU16At(name_length_field, static_cast<std::uint16_t>(w.pos() - buffer_start));
  if (!q.contexts.empty()) {
    AlignFrom(w, base, 8);
    const std::size_t start = w.pos();
    WriteContexts(q.contexts, w);
    w.PutU32At(contexts_fields, static_cast<std::uint32_t>(start - base));
    w.PutU32At(contexts_fields + 4, static_cast<std::uint32_t>(w.pos() - start));
  }
  PadEmptyBuffer(w, buffer_start);
}

Result<CreateRequest> DecodeCreateRequest(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kCreate, 57);
  if (!body) return body.error();
  WireReader& r = *body;
  CreateRequest q;
  q.security_flags = r.U8();
  q.requested_oplock_level = r.U8();
  q.impersonation_level = r.U32();
  r.Skip(16);
  q.desired_access = r.U32();
  q.file_attributes = r.U32();
  q.share_access = r.U32();
  q.create_disposition = r.U32();
  q.create_options = r.U32();
  const std::uint16_t name_off = r.U16();
  const std::uint16_t name_len = r.U16();
  const std::uint32_t ctx_off = r.U32();
  const std::uint32_t ctx_len = r.U32();
  ByteSpan name = Field(r, name_off, name_len, kRequestFixedEnd);
  if (!r.ok() || !DecodeUtf16(name, &q.name)) return errc::malformed_response;
  auto contexts = ContextsAt(r, ctx_off, ctx_len, kRequestFixedEnd);
  if (!contexts) return contexts.error();
  for (const CreateContextView& c : *contexts) {
    q.contexts.push_back({c.name, Bytes(c.data.begin(), c.data.end())});
  }
  return q;
}

// MS-SMB2 2.2.14: StructureSize 89, OplockLevel, Flags, CreateAction, four
// times, AllocationSize, EndofFile, FileAttributes, Reserved2, FileId,
// CreateContextsOffset, CreateContextsLength, Buffer.
void Encode(const CreateResponse& p, WireWriter& w) {
  const std::size_t base = HeaderBase(w);
  w.U16(89);
  w.U8(p.oplock_level);
  w.U8(p.flags);
  w.U32(p.create_action);
  w.U64(p.creation_time);
  w.U64(p.last_access_time);
  w.U64(p.last_write_time);
  w.U64(p.change_time);
  w.U64(p.allocation_size);
  w.U64(p.end_of_file);
  w.U32(p.file_attributes);
  w.U32(0);
  Encode(p.file_id, w);
  const std::size_t contexts_fields = w.pos();
  w.U32(0);
  w.U32(0);
  if (!p.contexts.empty()) {
    AlignFrom(w, base, 8);
    const std::size_t start = w.pos();
    WriteContexts(p.contexts, w);
    w.PutU32At(contexts_fields, static_cast<std::uint32_t>(start - base));
    w.PutU32At(contexts_fields + 4, static_cast<std::uint32_t>(w.pos() - start));
  }
}

Result<CreateResponse> DecodeCreateResponse(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kCreate, 89);
  if (!body) return body.error();
  WireReader& r = *body;
  CreateResponse p;
  p.oplock_level = r.U8();
  p.flags = r.U8();
  p.create_action = r.U32();
  p.creation_time = r.U64();
  p.last_access_time = r.U64();
  p.last_write_time = r.U64();
  p.change_time = r.U64();
  p.allocation_size = r.U64();
  p.end_of_file = r.U64();
  p.file_attributes = r.U32();
  r.Skip(4);
  p.file_id = ReadFileId(r);
  const std::uint32_t ctx_off = r.U32();
  const std::uint32_t ctx_len = r.U32();
  if (!r.ok()) return errc::malformed_response;
  auto contexts = ContextsAt(r, ctx_off, ctx_len, kResponseFixedEnd);
  if (!contexts) return contexts.error();
  p.contexts = std::move(*contexts);
  return p;
}

// MS-SMB2 2.2.14.2.5: QueryStatus, MaximalAccess.
Result<MaximalAccessResponse> ParseMaximalAccessResponse(ByteSpan data) {
  WireReader r(data);
  MaximalAccessResponse m;
  m.query_status = r.U32();
  m.maximal_access = r.U32();
  if (!r.ok()) return errc::malformed_response;
  return m;
}
Bytes EncodeMaximalAccessResponse(const MaximalAccessResponse& m) {
  WireWriter w;
  w.U32(m.query_status);
  w.U32(m.maximal_access);
  return w.Take();
}

// MS-SMB2 2.2.14.2.9: DiskFileId (8), VolumeId (8), Reserved (16).
Result<QueryOnDiskIdResponse> ParseQueryOnDiskIdResponse(ByteSpan data) {
  WireReader r(data);
  QueryOnDiskIdResponse q;
  q.disk_file_id = r.U64();
  q.volume_id = r.U64();
  r.Skip(16);
  if (!r.ok()) return errc::malformed_response;
  return q;
}
Bytes EncodeQueryOnDiskIdResponse(const QueryOnDiskIdResponse& q) {
  WireWriter w;
  w.U64(q.disk_file_id);
  w.U64(q.volume_id);
  w.Zeros(16);
  return w.Take();
}

// MS-SMB2 2.2.13.2.8: LeaseKey, LeaseState, LeaseFlags, LeaseDuration (32
// bytes); 2.2.13.2.10 adds ParentLeaseKey, Epoch, Reserved (52 bytes).
Result<Lease> ParseLease(ByteSpan data) {
  WireReader r(data);
  Lease l;
  if (!ReadArray(r, &l.lease_key)) return errc::malformed_response;
  l.lease_state = r.U32();
  l.lease_flags = r.U32();
  l.lease_duration = r.U64();
  if (data.size() >= 52) {
    l.v2 = true;
    if (!ReadArray(r, &l.parent_lease_key)) return errc::malformed_response;
    l.epoch = r.U16();
    r.Skip(2);
  }
  if (!r.ok()) return errc::malformed_response;
  return l;
}
Bytes EncodeLease(const Lease& l) {
  WireWriter w;
  w.Bytes(l.lease_key);
  w.U32(l.lease_state);
  w.U32(l.lease_flags);
  w.U64(l.lease_duration);
  if (l.v2) {
    w.Bytes(l.parent_lease_key);
    w.U16(l.epoch);
    w.U16(0);
  }
  return w.Take();
}

// MS-SMB2 2.2.13.2.11: Timeout, Flags, Reserved (8), CreateGuid.
Result<DurableHandleRequestV2> ParseDurableHandleRequestV2(ByteSpan data) {
  WireReader r(data);
  DurableHandleRequestV2 d;
  d.timeout = r.U32();
  d.flags = r.U32();
  r.Skip(8);
  if (!ReadArray(r, &d.create_guid)) return errc::malformed_response;
  return d;
}
Bytes EncodeDurableHandleRequestV2(const DurableHandleRequestV2& d) {
  WireWriter w;
  w.U32(d.timeout);
  w.U32(d.flags);
  w.U64(0);
  w.Bytes(d.create_guid);
  return w.Take();
}

// MS-SMB2 2.2.14.2.12: Timeout, Flags.
Result<DurableHandleResponseV2> ParseDurableHandleResponseV2(ByteSpan data) {
  WireReader r(data);
  DurableHandleResponseV2 d;
  d.timeout = r.U32();
  d.flags = r.U32();
  if (!r.ok()) return errc::malformed_response;
  return d;
}
Bytes EncodeDurableHandleResponseV2(const DurableHandleResponseV2& d) {
  WireWriter w;
  w.U32(d.timeout);
  w.U32(d.flags);
  return w.Take();
}

// MS-SMB2 2.2.13.2.12: FileId, CreateGuid, Flags.
Result<DurableHandleReconnectV2> ParseDurableHandleReconnectV2(ByteSpan data) {
  WireReader r(data);
  DurableHandleReconnectV2 d;
  d.file_id = ReadFileId(r);
  if (!ReadArray(r, &d.create_guid)) return errc::malformed_response;
  d.flags = r.U32();
  if (!r.ok()) return errc::malformed_response;
  return d;
}
Bytes EncodeDurableHandleReconnectV2(const DurableHandleReconnectV2& d) {
  WireWriter w;
  Encode(d.file_id, w);
  w.Bytes(d.create_guid);
  w.U32(d.flags);
  return w.Take();
}

}  // namespace smbgate::smb2
