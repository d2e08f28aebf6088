#include "smb2/codec/read.h"

#include "smb2/codec/body.h"

namespace smbgate::smb2 {
namespace {

constexpr std::size_t kRequestFixedEnd = kHeaderSize + 48;
constexpr std::size_t kResponseFixedEnd = kHeaderSize + 16;  // 0x50

}  // namespace

// MS-SMB2 2.2.19: StructureSize 49, Padding, Flags, Length, Offset, FileId,
// MinimumCount, Channel, RemainingBytes, ReadChannelInfoOffset,
// ReadChannelInfoLength, Buffer (one byte at least).
void Encode(const ReadRequest& q, WireWriter& w) {
  w.U16(49);
  w.U8(q.padding);
  w.U8(q.flags);
  w.U32(q.length);
  w.U64(q.offset);
  Encode(q.file_id, w);
  w.U32(q.minimum_count);
  w.U32(q.channel);
  w.U32(q.remaining_bytes);
  w.U16(0);
  w.U16(0);
  w.U8(0);
}

Result<ReadRequest> DecodeReadRequest(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kRead, 49);
  if (!body) return body.error();
  WireReader& r = *body;
  ReadRequest q;
  q.padding = r.U8();
  q.flags = r.U8();
  q.length = r.U32();
  q.offset = r.U64();
  q.file_id = ReadFileId(r);
  q.minimum_count = r.U32();
  q.channel = r.U32();
  q.remaining_bytes = r.U32();
  const std::uint16_t info_off = r.U16();
  const std::uint16_t info_len = r.U16();
  (void)Field(r, info_off, info_len, kRequestFixedEnd);
  if (!r.ok()) return errc::malformed_response;
  return q;
}

// MS-SMB2 2.2.20: StructureSize 17, DataOffset (1 byte), Reserved,
// DataLength, DataRemaining, Flags/Reserved2, Buffer.
void Encode(const ReadResponse& p, WireWriter& w) {
  const std::size_t base = HeaderBase(w);
  const std::size_t offset =
      p.data_offset >= kResponseFixedEnd ? p.data_offset : kResponseFixedEnd;
  w.U16(17);
  w.U8(static_cast<std::uint8_t>(offset));
  w.U8(0);
  w.U32(static_cast<std::uint32_t>(p.data.size()));
  w.U32(p.data_remaining);
  w.U32(p.flags);
  w.Zeros(offset - (w.pos() - base));
  w.Bytes(p.data);
}

Result<ReadResponse> DecodeReadResponse(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kRead, 17);
  if (!body) return body.error();
  WireReader& r = *body;
  ReadResponse p;
  p.data_offset = r.U8();
  r.Skip(1);
  p.data_length = r.U32();
  p.data_remaining = r.U32();
  p.flags = r.U32();
  p.data = Field(r, p.data_offset, p.data_length, kResponseFixedEnd);
  if (!r.ok()) return errc::malformed_response;
  return p;
}

}  // namespace smbgate::smb2
