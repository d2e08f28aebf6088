// Helpers shared by the PDU codecs of smb2/codec (not used by the client):
// opening a message body at offset 64 with its header and StructureSize
// checked, locating offset/length buffers, and UTF-16 names.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "auth/common/result.h"
#include "smb2/codec/header.h"
#include "smb2/codec/wire.h"

namespace smbgate::smb2 {

// Checks that `msg` starts with an SMB2 header (ProtocolId 0xFE 'SMB') whose
// Command is `cmd`, that the body holds at least the fixed part of a
// structure of `structure_size` (StructureSize rounded down to even: an odd
// size counts the first byte of a variable Buffer, which may be absent), and
// that StructureSize on the wire equals `structure_size`. Returns a reader
// over the whole message positioned just after StructureSize (offset 66).
// Errors: malformed_response (short, bad ProtocolId), unexpected_command,
// bad_structure_size.
Result<WireReader> OpenBody(ByteSpan msg, Command cmd,
                            std::uint16_t structure_size);

// A variable field [off, off+len) of the message read by `r`, header-relative
// as on the wire. A zero length yields an empty span whatever the offset (some
// servers send offset 0 then). Otherwise the field must start at or after
// `min_off` (the end of the fixed part: a buffer may not overlap the header or
// the fixed fields) and lie inside the message; if not, `r`'s sticky error is
// set and an empty span returned.
ByteSpan Field(WireReader& r, std::size_t off, std::size_t len,
               std::size_t min_off);

// Offset of the body's start inside a writer that holds the 64-byte header
// of the message being encoded just before the body: w.pos() - base is
// header-relative. Encoders call it first.
inline std::size_t HeaderBase(const WireWriter& w) {
  return w.pos() >= kHeaderSize ? w.pos() - kHeaderSize : 0;
}

// Pads with zeros to a multiple of `align` counted from `base` (the start of
// the message being written, see HeaderBase).
inline void AlignFrom(WireWriter& w, std::size_t base, std::size_t align) {
  while ((w.pos() - base) % align) w.U8(0);
}

// Appends `s` as UTF-16LE. Precondition: `s` is valid UTF-8 (see
// IsValidName). A violation is not silently mapped to another name: each
// invalid sequence becomes U+0000, which no server accepts in a name, so the
// request fails on the server (STATUS_OBJECT_NAME_INVALID) instead of
// touching a different file.
void PutUtf16(WireWriter& w, std::string_view s);
// The number of bytes PutUtf16 writes for `s`.
std::size_t Utf16Size(std::string_view s);
// True when `s` is valid UTF-8 (and can be sent as a name).
bool IsValidName(std::string_view s);
// Decodes UTF-16LE to UTF-8; false on an odd length or unpaired surrogate.
[[nodiscard]] bool DecodeUtf16(ByteSpan in, std::string* out);

// Buffers of odd-StructureSize requests carry at least one byte (MS-SMB2
// 2.2.x: StructureSize counts it "regardless of how long Buffer[] actually
// is"; smbclient sends it, e.g. the 121-byte CREATE of the share root). Writes
// a zero byte when nothing was written since `buffer_start`. Response
// encoders do not pad (Samba 4.17's server sends 80-byte WRITE and 152-byte
// CREATE responses), except the ERROR Response, whose byte 2.2.2 requires.
inline void PadEmptyBuffer(WireWriter& w, std::size_t buffer_start) {
  if (w.pos() == buffer_start) w.U8(0);
}

}  // namespace smbgate::smb2
