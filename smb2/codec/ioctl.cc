#include "smb2/codec/ioctl.h"

#include <algorithm>

#include "smb2/codec/body.h"
#include "smb2/codec/negotiate.h"

namespace smbgate::smb2 {
namespace {

constexpr std::size_t kRequestFixedEnd = kHeaderSize + 56;   // 0x78
constexpr std::size_t kResponseFixedEnd = kHeaderSize + 48;  // 0x70

template <class A>
bool ReadArray(WireReader& r, A* a) {
  ByteSpan s = r.Bytes(a->size());
  if (!r.ok()) return false;
  std::copy(s.begin(), s.end(), a->begin());
  return true;
}

}  // namespace

// MS-SMB2 2.2.31: StructureSize 57, Reserved, CtlCode, FileId, InputOffset,
// InputCount, MaxInputResponse, OutputOffset, OutputCount,
// MaxOutputResponse, Flags, Reserved2, Buffer.
void Encode(const IoctlRequest& q, WireWriter& w) {
  w.U16(57);
  w.U16(0);
  w.U32(q.ctl_code);
  Encode(q.file_id, w);
  // Offsets of absent buffers are 0 ("the client SHOULD set this value to
  // 0", 2.2.31).
  w.U32(q.input.empty() ? 0 : static_cast<std::uint32_t>(kRequestFixedEnd));
  w.U32(static_cast<std::uint32_t>(q.input.size()));
  w.U32(q.max_input_response);
  w.U32(0);
  w.U32(0);
  w.U32(q.max_output_response);
  w.U32(q.flags);
  w.U32(0);
  const std::size_t buffer_start = w.pos();
  w.Bytes(q.input);
  PadEmptyBuffer(w, buffer_start);
}

Result<IoctlRequest> DecodeIoctlRequest(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kIoctl, 57);
  if (!body) return body.error();
  WireReader& r = *body;
  IoctlRequest q;
  r.Skip(2);
  q.ctl_code = r.U32();
  q.file_id = ReadFileId(r);
  const std::uint32_t in_off = r.U32();
  const std::uint32_t in_count = r.U32();
  q.max_input_response = r.U32();
  const std::uint32_t out_off = r.U32();
  const std::uint32_t out_count = r.U32();
  q.max_output_response = r.U32();
  q.flags = r.U32();
  q.input = Field(r, in_off, in_count, kRequestFixedEnd);
  (void)Field(r, out_off, out_count, kRequestFixedEnd);
  if (!r.ok()) return errc::malformed_response;
  return q;
}

// MS-SMB2 2.2.32: StructureSize 49, Reserved, CtlCode, FileId, InputOffset,
// InputCount, OutputOffset, OutputCount, Flags, Reserved2, Buffer.
void Encode(const IoctlResponse& p, WireWriter& w) {
  const std::size_t base = HeaderBase(w);
  w.U16(49);
  w.U16(0);
  w.U32(p.ctl_code);
  Encode(p.file_id, w);
  const std::size_t fields = w.pos();
  w.U32(0);
  w.U32(static_cast<std::uint32_t>(p.input.size()));
  w.U32(0);
  w.U32(static_cast<std::uint32_t>(p.output.size()));
  w.U32(p.flags);
  w.U32(0);
  if (!p.input.empty()) {
    w.PutU32At(fields, static_cast<std::uint32_t>(w.pos() - base));
    w.Bytes(p.input);
  }
  if (!p.output.empty()) {
    AlignFrom(w, base, 8);
    w.PutU32At(fields + 8, static_cast<std::uint32_t>(w.pos() - base));
    w.Bytes(p.output);
  }
}

Result<IoctlResponse> DecodeIoctlResponse(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kIoctl, 49);
  if (!body) return body.error();
  WireReader& r = *body;
  IoctlResponse p;
  r.Skip(2);
  p.ctl_code = r.U32();
  p.file_id = ReadFileId(r);
  const std::uint32_t in_off = r.U32();
  const std::uint32_t in_count = r.U32();
  const std::uint32_t out_off = r.U32();
  const std::uint32_t out_count = r.U32();
  p.flags = r.U32();
  p.input = Field(r, in_off, in_count, kResponseFixedEnd);
  p.output = Field(r, out_off, out_count, kResponseFixedEnd);
  if (!r.ok()) return errc::malformed_response;
  return p;
}

// MS-SMB2 2.2.31.4: Capabilities, Guid, SecurityMode, DialectCount,
// Dialects.
Bytes EncodeValidateNegotiateInfoRequest(const ValidateNegotiateInfoRequest& v) {
  WireWriter w;
  w.U32(v.capabilities);
  w.Bytes(v.guid);
  w.U16(v.security_mode);
  w.U16(static_cast<std::uint16_t>(v.dialects.size()));
  for (std::uint16_t d : v.dialects) w.U16(d);
  return w.Take();
}

Result<ValidateNegotiateInfoRequest> DecodeValidateNegotiateInfoRequest(
    ByteSpan payload) {
  WireReader r(payload);
  ValidateNegotiateInfoRequest v;
  v.capabilities = r.U32();
  if (!ReadArray(r, &v.guid)) return errc::malformed_response;
  v.security_mode = r.U16();
  const std::uint16_t count = r.U16();
  if (!r.ok() || count == 0 || count > kMaxDialects ||
      !InBounds(r.pos(), std::size_t{count} * 2, payload.size())) {
    return errc::malformed_response;
  }
  for (std::uint16_t i = 0; i < count; ++i) v.dialects.push_back(r.U16());
  return v;
}

// MS-SMB2 2.2.32.6: Capabilities, Guid, SecurityMode, Dialect.
Bytes EncodeValidateNegotiateInfoResponse(
    const ValidateNegotiateInfoResponse& v) {
  WireWriter w;
  w.U32(v.capabilities);
  w.Bytes(v.guid);
  w.U16(v.security_mode);
  w.U16(v.dialect);
  return w.Take();
}

Result<ValidateNegotiateInfoResponse> DecodeValidateNegotiateInfoResponse(
    ByteSpan payload) {
  WireReader r(payload);
  ValidateNegotiateInfoResponse v;
  v.capabilities = r.U32();
  if (!ReadArray(r, &v.guid)) return errc::malformed_response;
  v.security_mode = r.U16();
  v.dialect = r.U16();
  if (!r.ok()) return errc::malformed_response;
  return v;
}

namespace {

// MS-FSCC 2.1.2.4: ReparseTag, ReparseDataLength, Reserved,
// SubstituteNameOffset, SubstituteNameLength, PrintNameOffset,
// PrintNameLength, Flags, PathBuffer; name offsets count from PathBuffer and
// ReparseDataLength counts the bytes after the first 8.
constexpr std::size_t kReparseHeader = 8;
constexpr std::size_t kSymlinkFixed = 20;

}  // namespace

Result<SymlinkReparseBuffer> DecodeSymlinkReparseBuffer(ByteSpan payload) {
  WireReader r(payload);
  const std::uint32_t tag = r.U32();
  const std::uint16_t data_len = r.U16();
  r.Skip(2);
  const std::size_t sub_off = r.U16(), sub_len = r.U16();
  const std::size_t print_off = r.U16(), print_len = r.U16();
  SymlinkReparseBuffer s;
  s.flags = r.U32();
  if (!r.ok() || tag != kReparseTagSymlink ||
      data_len < kSymlinkFixed - kReparseHeader ||
      !InBounds(kReparseHeader, data_len, payload.size())) {
    return errc::malformed_response;
  }
  const ByteSpan path = payload.subspan(
      kSymlinkFixed, kReparseHeader + data_len - kSymlinkFixed);
  if (!InBounds(sub_off, sub_len, path.size()) ||
      !InBounds(print_off, print_len, path.size()) ||
      !DecodeUtf16(path.subspan(sub_off, sub_len), &s.substitute_name) ||
      !DecodeUtf16(path.subspan(print_off, print_len), &s.print_name)) {
    return errc::malformed_response;
  }
  return s;
}

Bytes EncodeSymlinkReparseBuffer(const SymlinkReparseBuffer& s) {
  WireWriter names;
  PutUtf16(names, s.substitute_name);
  const std::size_t sub_len = names.pos();
  PutUtf16(names, s.print_name);
  const std::size_t path_len = names.pos();
  WireWriter w;
  w.U32(kReparseTagSymlink);
  w.U16(static_cast<std::uint16_t>(kSymlinkFixed - kReparseHeader + path_len));
  w.U16(0);
  w.U16(0);
  w.U16(static_cast<std::uint16_t>(sub_len));
  w.U16(static_cast<std::uint16_t>(sub_len));
  w.U16(static_cast<std::uint16_t>(path_len - sub_len));
  w.U32(s.flags);
  w.Bytes(names.buf());
  return w.Take();
}

}  // namespace smbgate::smb2
