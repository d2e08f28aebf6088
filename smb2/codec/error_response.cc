#include "smb2/codec/error_response.h"

#include "smb2/codec/body.h"
#include "smb2/codec/status.h"

namespace smbgate::smb2 {

bool HasNormalBody(Command command, std::uint32_t status) noexcept {
  if (status == status::kPending) return false;  // interim: ERROR body
  if (status < 0x80000000u) return true;         // success, informational
  if (status == status::kBufferOverflow) {
    switch (command) {
      case Command::kRead:
      case Command::kQueryInfo:
      case Command::kIoctl:
      case Command::kQueryDirectory:
      case Command::kChangeNotify:
        return true;
      default:
        return false;
    }
  }
  return status == status::kMoreProcessingRequired &&
         command == Command::kSessionSetup;
}

// MS-SMB2 2.2.2: StructureSize 9, ErrorContextCount, Reserved, ByteCount,
// ErrorData. The command is whatever failed, so the header's is not checked.
void Encode(const ErrorResponse& e, WireWriter& w) {
  w.U16(9);
  w.U8(e.error_context_count);
  w.U8(0);
  w.U32(static_cast<std::uint32_t>(e.error_data.size()));
  if (e.error_data.empty()) {
    w.U8(0);
  } else {
    w.Bytes(e.error_data);
  }
}

Result<ErrorResponse> DecodeErrorResponse(ByteSpan msg) {
  if (msg.size() < kHeaderSize + 2) return errc::malformed_response;
  WireReader r(msg);
  if (r.U32() != kProtocolId) return errc::malformed_response;
  r.Seek(kHeaderSize);
  if (r.U16() != 9) return errc::bad_structure_size;
  ErrorResponse e;
  e.error_context_count = r.U8();
  r.Skip(1);
  const std::uint32_t byte_count = r.U32();
  // ByteCount 0 comes with one ErrorData byte that some servers omit.
  e.error_data = r.Bytes(byte_count);
  if (!r.ok()) return errc::malformed_response;
  return e;
}

Result<std::vector<ErrorContext>> ParseErrorContexts(const ErrorResponse& e) {
  std::vector<ErrorContext> out;
  const ByteSpan d = e.error_data;
  std::size_t pos = 0;
  // Count is one byte: at most 255 contexts, each at least 8 bytes.
  for (unsigned i = 0; i < e.error_context_count; ++i) {
    // MS-SMB2 2.2.2.1: each context starts 8-byte aligned within ErrorData.
    pos = (pos + 7) & ~std::size_t{7};
    WireReader r(d);
    r.Seek(pos);
    const std::uint32_t len = r.U32();
    ErrorContext c;
    c.error_id = r.U32();
    c.error_context_data = r.Bytes(len);
    if (!r.ok()) return errc::malformed_response;
    out.push_back(c);
    pos = r.pos();
  }
  return out;
}

namespace {

// MS-SMB2 2.2.2.2.1 fixed part: SymLinkLength, SymLinkErrorTag, ReparseTag,
// ReparseDataLength, UnparsedPathLength, SubstituteNameOffset/Length,
// PrintNameOffset/Length, Flags; the name offsets count from PathBuffer.
constexpr std::size_t kSymLinkFixed = 28;

}  // namespace

Result<SymbolicLinkErrorResponse> ParseSymbolicLinkError(ByteSpan d) {
  WireReader r(d);
  const std::uint32_t sym_link_length = r.U32();  // bytes after this field
  const std::uint32_t tag = r.U32();
  const std::uint32_t reparse_tag = r.U32();
  r.Skip(2);  // ReparseDataLength
  SymbolicLinkErrorResponse s;
  s.unparsed_path_length = r.U16();
  const std::size_t sub_off = r.U16(), sub_len = r.U16();
  const std::size_t print_off = r.U16(), print_len = r.U16();
  s.flags = r.U32();
  if (!r.ok() || tag != kSymLinkErrorTag || reparse_tag != kIoReparseTagSymlink ||
      sym_link_length < kSymLinkFixed - 4 || !InBounds(4, sym_link_length, d.size())) {
    return errc::malformed_response;
  }
  const ByteSpan path = d.subspan(kSymLinkFixed, 4 + sym_link_length - kSymLinkFixed);
  if (!InBounds(sub_off, sub_len, path.size()) ||
      !InBounds(print_off, print_len, path.size()) ||
      !DecodeUtf16(path.subspan(sub_off, sub_len), &s.substitute_name) ||
      !DecodeUtf16(path.subspan(print_off, print_len), &s.print_name)) {
    return errc::malformed_response;
  }
  return s;
}

void Encode(const SymbolicLinkErrorResponse& s, WireWriter& w) {
  WireWriter names;
  PutUtf16(names, s.substitute_name);
  const std::size_t sub_len = names.pos();
  PutUtf16(names, s.print_name);
  const std::size_t path_len = names.pos();
  w.U32(static_cast<std::uint32_t>(kSymLinkFixed - 4 + path_len));
  w.U32(kSymLinkErrorTag);
  w.U32(kIoReparseTagSymlink);
  // ReparseDataLength: the reparse buffer after its 8-byte header.
  w.U16(static_cast<std::uint16_t>(12 + path_len));
  w.U16(s.unparsed_path_length);
  w.U16(0);
  w.U16(static_cast<std::uint16_t>(sub_len));
  w.U16(static_cast<std::uint16_t>(sub_len));
  w.U16(static_cast<std::uint16_t>(path_len - sub_len));
  w.U32(s.flags);
  w.Bytes(names.buf());
}

}  // namespace smbgate::smb2
