#include "smb2/codec/write.h"

#include "smb2/codec/body.h"

namespace smbgate::smb2 {
namespace {

constexpr std::size_t kRequestFixedEnd = kHeaderSize + 48;  // 0x70

}  // namespace

// MS-SMB2 2.2.21: StructureSize 49, DataOffset, Length, Offset, FileId,
// Channel, RemainingBytes, WriteChannelInfoOffset, WriteChannelInfoLength,
// Flags, Buffer.
void Encode(const WriteRequest& q, WireWriter& w) {
  w.U16(49);
  w.U16(kWriteRequestDataOffset);
  w.U32(static_cast<std::uint32_t>(q.data.size()));
  w.U64(q.offset);
  Encode(q.file_id, w);
  w.U32(q.channel);
  w.U32(q.remaining_bytes);
  w.U16(0);
  w.U16(0);
  w.U32(q.flags);
  const std::size_t buffer_start = w.pos();
  w.Bytes(q.data);
  PadEmptyBuffer(w, buffer_start);
}

Result<WriteRequest> DecodeWriteRequest(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kWrite, 49);
  if (!body) return body.error();
  WireReader& r = *body;
  WriteRequest q;
  const std::uint16_t data_off = r.U16();
  const std::uint32_t length = r.U32();
  q.offset = r.U64();
  q.file_id = ReadFileId(r);
  q.channel = r.U32();
  q.remaining_bytes = r.U32();
  const std::uint16_t info_off = r.U16();
  const std::uint16_t info_len = r.U16();
  q.flags = r.U32();
  q.data = Field(r, data_off, length, kRequestFixedEnd);
  (void)Field(r, info_off, info_len, kRequestFixedEnd);
  if (!r.ok()) return errc::malformed_response;
  return q;
}

// MS-SMB2 2.2.22: StructureSize 17, Reserved, Count, Remaining,
// WriteChannelInfoOffset, WriteChannelInfoLength.
void Encode(const WriteResponse& p, WireWriter& w) {
  w.U16(17);
  w.U16(0);
  w.U32(p.count);
  w.U32(p.remaining);
  w.U16(0);
  w.U16(0);
}

Result<WriteResponse> DecodeWriteResponse(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kWrite, 17);
  if (!body) return body.error();
  WireReader& r = *body;
  WriteResponse p;
  r.Skip(2);
  p.count = r.U32();
  p.remaining = r.U32();
  if (!r.ok()) return errc::malformed_response;
  return p;
}

}  // namespace smbgate::smb2
