#include "smb2/codec/body.h"

#include <algorithm>

#include "auth/common/utf16.h"

namespace smbgate::smb2 {

Result<WireReader> OpenBody(ByteSpan msg, Command cmd,
                            std::uint16_t structure_size) {
  // Header, then at least the StructureSize field of the body.
  if (msg.size() < kHeaderSize + 2) return errc::malformed_response;
  WireReader r(msg);
  if (r.U32() != kProtocolId) return errc::malformed_response;
  r.Seek(12);
  if (r.U16() != static_cast<std::uint16_t>(cmd)) {
    return errc::unexpected_command;
  }
  r.Seek(kHeaderSize);
  if (r.U16() != structure_size) return errc::bad_structure_size;
  // An odd StructureSize counts the first byte of the variable Buffer; the
  // fixed part is the even size below it (MS-SMB2 2.2: "StructureSize ...
  // regardless of how long Buffer[] actually is").
  const std::size_t fixed = structure_size & ~std::size_t{1};
  if (!r.ok() || !InBounds(kHeaderSize, fixed, msg.size())) {
    return errc::malformed_response;
  }
  return r;
}

ByteSpan Field(WireReader& r, std::size_t off, std::size_t len,
               std::size_t min_off) {
  if (len == 0) return {};
  if (off < min_off) {
    r.Fail();
    return {};
  }
  return r.Slice(off, len);
}

namespace {

// Length of the UTF-8 sequence a lead byte announces (1 for a stray byte).
std::size_t SequenceLength(std::uint8_t b) {
  if (b < 0x80) return 1;
  if ((b & 0xe0) == 0xc0) return 2;
  if ((b & 0xf0) == 0xe0) return 3;
  if ((b & 0xf8) == 0xf0) return 4;
  return 1;
}

// The UTF-16LE form of `s`, invalid sequences mapped to U+0000.
Bytes ToUtf16(std::string_view s) {
  Bytes out;
  out.reserve(s.size() * 2);
  if (Utf8ToUtf16le(s, &out)) return out;
  out.clear();
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t len = std::min(
        SequenceLength(static_cast<std::uint8_t>(s[i])), s.size() - i);
    if (Utf8ToUtf16le(s.substr(i, len), &out)) {
      i += len;
    } else {
      out.push_back(0);
      out.push_back(0);
      ++i;
    }
  }
  return out;
}

}  // namespace

void PutUtf16(WireWriter& w, std::string_view s) { w.Bytes(ToUtf16(s)); }

std::size_t Utf16Size(std::string_view s) { return ToUtf16(s).size(); }

bool IsValidName(std::string_view s) {
  Bytes tmp;
  return Utf8ToUtf16le(s, &tmp);
}

bool DecodeUtf16(ByteSpan in, std::string* out) {
  out->clear();
  return Utf16leToUtf8(in, out);
}

}  // namespace smbgate::smb2
