#include "smb2/codec/close.h"

#include "smb2/codec/body.h"

namespace smbgate::smb2 {

// MS-SMB2 2.2.15: StructureSize 24, Flags, Reserved (4), FileId.
void Encode(const CloseRequest& q, WireWriter& w) {
  w.U16(24);
  w.U16(q.flags);
  w.U32(0);
  Encode(q.file_id, w);
}

Result<CloseRequest> DecodeCloseRequest(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kClose, 24);
  if (!body) return body.error();
  WireReader& r = *body;
  CloseRequest q;
  q.flags = r.U16();
  r.Skip(4);
  q.file_id = ReadFileId(r);
  if (!r.ok()) return errc::malformed_response;
  return q;
}

// MS-SMB2 2.2.16: StructureSize 60, Flags, Reserved (4), four times,
// AllocationSize, EndofFile, FileAttributes.
void Encode(const CloseResponse& p, WireWriter& w) {
  w.U16(60);
  w.U16(p.flags);
  w.U32(0);
  w.U64(p.creation_time);
  w.U64(p.last_access_time);
  w.U64(p.last_write_time);
  w.U64(p.change_time);
  w.U64(p.allocation_size);
  w.U64(p.end_of_file);
  w.U32(p.file_attributes);
}

Result<CloseResponse> DecodeCloseResponse(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kClose, 60);
  if (!body) return body.error();
  WireReader& r = *body;
  CloseResponse p;
  p.flags = r.U16();
  r.Skip(4);
  p.creation_time = r.U64();
  p.last_access_time = r.U64();
  p.last_write_time = r.U64();
  p.change_time = r.U64();
  p.allocation_size = r.U64();
  p.end_of_file = r.U64();
  p.file_attributes = r.U32();
  if (!r.ok()) return errc::malformed_response;
  return p;
}

// MS-SMB2 2.2.17: StructureSize 24, Reserved1 (2), Reserved2 (4), FileId.
void Encode(const FlushRequest& q, WireWriter& w) {
  w.U16(24);
  w.U16(0);
  w.U32(0);
  Encode(q.file_id, w);
}

Result<FlushRequest> DecodeFlushRequest(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kFlush, 24);
  if (!body) return body.error();
  WireReader& r = *body;
  FlushRequest q;
  r.Skip(6);
  q.file_id = ReadFileId(r);
  if (!r.ok()) return errc::malformed_response;
  return q;
}

// MS-SMB2 2.2.18: StructureSize 4, Reserved.
void Encode(const FlushResponse&, WireWriter& w) {
  w.U16(4);
  w.U16(0);
}

Result<FlushResponse> DecodeFlushResponse(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kFlush, 4);
  if (!body) return body.error();
  return FlushResponse{};
}

}  // namespace smbgate::smb2
