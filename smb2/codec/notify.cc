#include "smb2/codec/notify.h"

#include <algorithm>

#include "smb2/codec/body.h"

namespace smbgate::smb2 {
namespace {

constexpr std::size_t kResponseFixedEnd = kHeaderSize + 8;  // 0x48
// MS-FSCC 2.7.1: NextEntryOffset, Action, FileNameLength, FileName.
constexpr std::size_t kNotifyFixed = 12;

bool ReadKey(WireReader& r, std::array<std::uint8_t, 16>* key) {
  ByteSpan s = r.Bytes(16);
  if (!r.ok()) return false;
  std::copy(s.begin(), s.end(), key->begin());
  return true;
}

}  // namespace

// MS-SMB2 2.2.35: StructureSize 32, Flags, OutputBufferLength, FileId,
// CompletionFilter, Reserved.
void Encode(const ChangeNotifyRequest& q, WireWriter& w) {
  w.U16(32);
  w.U16(q.flags);
  w.U32(q.output_buffer_length);
  Encode(q.file_id, w);
  w.U32(q.completion_filter);
  w.U32(0);
}

Result<ChangeNotifyRequest> DecodeChangeNotifyRequest(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kChangeNotify, 32);
  if (!body) return body.error();
  WireReader& r = *body;
  ChangeNotifyRequest q;
  q.flags = r.U16();
  q.output_buffer_length = r.U32();
  q.file_id = ReadFileId(r);
  q.completion_filter = r.U32();
  if (!r.ok()) return errc::malformed_response;
  return q;
}

// MS-SMB2 2.2.36: StructureSize 9, OutputBufferOffset, OutputBufferLength,
// Buffer.
void Encode(const ChangeNotifyResponse& p, WireWriter& w) {
  w.U16(9);
  w.U16(static_cast<std::uint16_t>(kResponseFixedEnd));
  w.U32(static_cast<std::uint32_t>(p.buffer.size()));
  w.Bytes(p.buffer);
}

Result<ChangeNotifyResponse> DecodeChangeNotifyResponse(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kChangeNotify, 9);
  if (!body) return body.error();
  WireReader& r = *body;
  ChangeNotifyResponse p;
  const std::uint16_t off = r.U16();
  const std::uint32_t len = r.U32();
  p.buffer = Field(r, off, len, kResponseFixedEnd);
  if (!r.ok()) return errc::malformed_response;
  return p;
}

Result<std::vector<FileNotifyInformation>> ParseFileNotifyInformation(
    ByteSpan buf) {
  std::vector<FileNotifyInformation> out;
  const std::size_t n = buf.size();
  if (n == 0) return out;
  std::size_t pos = 0;
  while (true) {
    if (out.size() == kMaxNotifyEntries) return errc::malformed_response;
    WireReader r(buf);
    r.Seek(pos);
    const std::uint32_t next = r.U32();
    FileNotifyInformation e;
    e.action = r.U32();
    const std::uint32_t name_len = r.U32();
    ByteSpan name = r.Bytes(name_len);
    if (!r.ok() || !DecodeUtf16(name, &e.file_name)) {
      return errc::malformed_response;
    }
    out.push_back(std::move(e));
    if (next == 0) return out;
    if (next % 4 != 0 || next < kNotifyFixed + std::size_t{name_len} ||
        !InBounds(pos, next, n)) {
      return errc::malformed_response;
    }
    pos += next;
  }
}

Bytes EncodeFileNotifyInformation(const std::vector<FileNotifyInformation>& e) {
  WireWriter w;
  for (std::size_t i = 0; i < e.size(); ++i) {
    const std::size_t start = w.pos();
    w.U32(0);
    w.U32(e[i].action);
    w.U32(static_cast<std::uint32_t>(Utf16Size(e[i].file_name)));
    PutUtf16(w, e[i].file_name);
    if (i + 1 < e.size()) {
      w.Align(4);
      w.PutU32At(start, static_cast<std::uint32_t>(w.pos() - start));
    }
  }
  return w.Take();
}

Result<OplockBreakKind> ClassifyOplockBreak(ByteSpan msg) {
  if (msg.size() < kHeaderSize + 2) return errc::malformed_response;
  WireReader r(msg);
  if (r.U32() != kProtocolId) return errc::malformed_response;
  r.Seek(12);
  if (r.U16() != static_cast<std::uint16_t>(Command::kOplockBreak)) {
    return errc::malformed_response;
  }
  r.Seek(kHeaderSize);
  switch (r.U16()) {
    case 24: return OplockBreakKind::kOplock;
    case 44: return OplockBreakKind::kLease;
    case 36: return OplockBreakKind::kLeaseAck;
    default: return errc::bad_structure_size;
  }
}

// MS-SMB2 2.2.23.1 / 2.2.24.1 / 2.2.25.1: StructureSize 24, OplockLevel,
// Reserved (1), Reserved2 (4), FileId.
void Encode(const OplockBreak& b, WireWriter& w) {
  w.U16(24);
  w.U8(b.oplock_level);
  w.U8(0);
  w.U32(0);
  Encode(b.file_id, w);
}

Result<OplockBreak> DecodeOplockBreak(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kOplockBreak, 24);
  if (!body) return body.error();
  WireReader& r = *body;
  OplockBreak b;
  b.oplock_level = r.U8();
  r.Skip(5);
  b.file_id = ReadFileId(r);
  if (!r.ok()) return errc::malformed_response;
  return b;
}

// MS-SMB2 2.2.23.2: StructureSize 44, NewEpoch, Flags, LeaseKey,
// CurrentLeaseState, NewLeaseState, BreakReason, AccessMaskHint,
// ShareMaskHint.
void Encode(const LeaseBreakNotification& b, WireWriter& w) {
  w.U16(44);
  w.U16(b.new_epoch);
  w.U32(b.flags);
  w.Bytes(b.lease_key);
  w.U32(b.current_lease_state);
  w.U32(b.new_lease_state);
  w.U32(b.break_reason);
  w.U32(b.access_mask_hint);
  w.U32(b.share_mask_hint);
}

Result<LeaseBreakNotification> DecodeLeaseBreakNotification(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kOplockBreak, 44);
  if (!body) return body.error();
  WireReader& r = *body;
  LeaseBreakNotification b;
  b.new_epoch = r.U16();
  b.flags = r.U32();
  if (!ReadKey(r, &b.lease_key)) return errc::malformed_response;
  b.current_lease_state = r.U32();
  b.new_lease_state = r.U32();
  b.break_reason = r.U32();
  b.access_mask_hint = r.U32();
  b.share_mask_hint = r.U32();
  if (!r.ok()) return errc::malformed_response;
  return b;
}

// MS-SMB2 2.2.24.2 / 2.2.25.2: StructureSize 36, Reserved, Flags, LeaseKey,
// LeaseState, LeaseDuration.
void Encode(const LeaseBreakAck& a, WireWriter& w) {
  w.U16(36);
  w.U16(0);
  w.U32(a.flags);
  w.Bytes(a.lease_key);
  w.U32(a.lease_state);
  w.U64(a.lease_duration);
}

Result<LeaseBreakAck> DecodeLeaseBreakAck(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kOplockBreak, 36);
  if (!body) return body.error();
  WireReader& r = *body;
  LeaseBreakAck a;
  r.Skip(2);
  a.flags = r.U32();
  if (!ReadKey(r, &a.lease_key)) return errc::malformed_response;
  a.lease_state = r.U32();
  a.lease_duration = r.U64();
  if (!r.ok()) return errc::malformed_response;
  return a;
}

}  // namespace smbgate::smb2
