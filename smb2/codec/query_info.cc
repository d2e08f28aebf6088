#include "smb2/codec/query_info.h"

#include "smb2/codec/body.h"

namespace smbgate::smb2 {
namespace {

constexpr std::size_t kRequestFixedEnd = kHeaderSize + 40;  // 0x68
constexpr std::size_t kResponseFixedEnd = kHeaderSize + 8;  // 0x48

}  // namespace

// MS-SMB2 2.2.37: StructureSize 41, InfoType, FileInfoClass,
// OutputBufferLength, InputBufferOffset, Reserved, InputBufferLength,
// AdditionalInformation, Flags, FileId, Buffer.
void Encode(const QueryInfoRequest& q, WireWriter& w) {
  w.U16(41);
  w.U8(q.info_type);
  w.U8(q.file_info_class);
  w.U32(q.output_buffer_length);
  w.U16(q.input_buffer.empty() ? 0 : static_cast<std::uint16_t>(kRequestFixedEnd));
  w.U16(0);
  w.U32(static_cast<std::uint32_t>(q.input_buffer.size()));
  w.U32(q.additional_information);
  w.U32(q.flags);
  Encode(q.file_id, w);
  const std::size_t buffer_start = w.pos();
  w.Bytes(q.input_buffer);
  PadEmptyBuffer(w, buffer_start);
}

Result<QueryInfoRequest> DecodeQueryInfoRequest(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kQueryInfo, 41);
  if (!body) return body.error();
  WireReader& r = *body;
  QueryInfoRequest q;
  q.info_type = r.U8();
  q.file_info_class = r.U8();
  q.output_buffer_length = r.U32();
  const std::uint16_t off = r.U16();
  r.Skip(2);
  const std::uint32_t len = r.U32();
  q.additional_information = r.U32();
  q.flags = r.U32();
  q.file_id = ReadFileId(r);
  q.input_buffer = Field(r, off, len, kRequestFixedEnd);
  if (!r.ok()) return errc::malformed_response;
  return q;
}

// MS-SMB2 2.2.38: StructureSize 9, OutputBufferOffset, OutputBufferLength,
// Buffer.
void Encode(const QueryInfoResponse& p, WireWriter& w) {
  w.U16(9);
  w.U16(static_cast<std::uint16_t>(kResponseFixedEnd));
  w.U32(static_cast<std::uint32_t>(p.buffer.size()));
  w.Bytes(p.buffer);
}

Result<QueryInfoResponse> DecodeQueryInfoResponse(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kQueryInfo, 9);
  if (!body) return body.error();
  WireReader& r = *body;
  QueryInfoResponse p;
  const std::uint16_t off = r.U16();
  const std::uint32_t len = r.U32();
  p.buffer = Field(r, off, len, kResponseFixedEnd);
  if (!r.ok()) return errc::malformed_response;
  return p;
}

}  // namespace smbgate::smb2
