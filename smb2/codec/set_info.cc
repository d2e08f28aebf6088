#include "smb2/codec/set_info.h"

#include "smb2/codec/body.h"

namespace smbgate::smb2 {
namespace {

constexpr std::size_t kRequestFixedEnd = kHeaderSize + 32;  // 0x60

}  // namespace

// MS-SMB2 2.2.39: StructureSize 33, InfoType, FileInfoClass, BufferLength,
// BufferOffset, Reserved, AdditionalInformation, FileId, Buffer.
void Encode(const SetInfoRequest& q, WireWriter& w) {
  w.U16(33);
  w.U8(q.info_type);
  w.U8(q.file_info_class);
  w.U32(static_cast<std::uint32_t>(q.buffer.size()));
  w.U16(static_cast<std::uint16_t>(kRequestFixedEnd));
  w.U16(0);
  w.U32(q.additional_information);
  Encode(q.file_id, w);
  const std::size_t buffer_start = w.pos();
  w.Bytes(q.buffer);
  PadEmptyBuffer(w, buffer_start);
}

Result<SetInfoRequest> DecodeSetInfoRequest(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kSetInfo, 33);
  if (!body) return body.error();
  WireReader& r = *body;
  SetInfoRequest q;
  q.info_type = r.U8();
  q.file_info_class = r.U8();
  const std::uint32_t len = r.U32();
  const std::uint16_t off = r.U16();
  r.Skip(2);
  q.additional_information = r.U32();
  q.file_id = ReadFileId(r);
  q.buffer = Field(r, off, len, kRequestFixedEnd);
  if (!r.ok()) return errc::malformed_response;
  return q;
}

// MS-SMB2 2.2.40: StructureSize 2.
void Encode(const SetInfoResponse&, WireWriter& w) { w.U16(2); }

Result<SetInfoResponse> DecodeSetInfoResponse(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kSetInfo, 2);
  if (!body) return body.error();
  return SetInfoResponse{};
}

}  // namespace smbgate::smb2
