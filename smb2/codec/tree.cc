#include "smb2/codec/tree.h"

#include "smb2/codec/body.h"

namespace smbgate::smb2 {
namespace {

constexpr std::size_t kRequestFixedEnd = kHeaderSize + 8;

}  // namespace

// MS-SMB2 2.2.9: StructureSize 9, Flags/Reserved, PathOffset, PathLength,
// Buffer (the UNC path in UTF-16LE, not NUL-terminated).
void Encode(const TreeConnectRequest& q, WireWriter& w) {
  w.U16(9);
  w.U16(q.flags);
  w.U16(static_cast<std::uint16_t>(kRequestFixedEnd));
  const std::size_t length_field = w.pos();
  w.U16(0);
  const std::size_t buffer_start = w.pos();
  PutUtf16(w, q.path);
  w.PutU16At(length_field, static_cast<std::uint16_t>(w.pos() - buffer_start));
  PadEmptyBuffer(w, buffer_start);
}

Result<TreeConnectRequest> DecodeTreeConnectRequest(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kTreeConnect, 9);
  if (!body) return body.error();
  WireReader& r = *body;
  TreeConnectRequest q;
  q.flags = r.U16();
  const std::uint16_t off = r.U16();
  const std::uint16_t len = r.U16();
  ByteSpan path = Field(r, off, len, kRequestFixedEnd);
  if (!r.ok() || !DecodeUtf16(path, &q.path)) return errc::malformed_response;
  return q;
}

// MS-SMB2 2.2.10: StructureSize 16, ShareType, Reserved, ShareFlags,
// Capabilities, MaximalAccess.
void Encode(const TreeConnectResponse& p, WireWriter& w) {
  w.U16(16);
  w.U8(p.share_type);
  w.U8(0);
  w.U32(p.share_flags);
  w.U32(p.capabilities);
  w.U32(p.maximal_access);
}

Result<TreeConnectResponse> DecodeTreeConnectResponse(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kTreeConnect, 16);
  if (!body) return body.error();
  WireReader& r = *body;
  TreeConnectResponse p;
  p.share_type = r.U8();
  r.Skip(1);
  p.share_flags = r.U32();
  p.capabilities = r.U32();
  p.maximal_access = r.U32();
  if (!r.ok()) return errc::malformed_response;
  return p;
}

// MS-SMB2 2.2.11 / 2.2.12: StructureSize 4, Reserved.
void Encode(const TreeDisconnectRequest&, WireWriter& w) {
  w.U16(4);
  w.U16(0);
}
Result<TreeDisconnectRequest> DecodeTreeDisconnectRequest(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kTreeDisconnect, 4);
  if (!body) return body.error();
  return TreeDisconnectRequest{};
}
void Encode(const TreeDisconnectResponse&, WireWriter& w) {
  w.U16(4);
  w.U16(0);
}
Result<TreeDisconnectResponse> DecodeTreeDisconnectResponse(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kTreeDisconnect, 4);
  if (!body) return body.error();
  return TreeDisconnectResponse{};
}

}  // namespace smbgate::smb2
