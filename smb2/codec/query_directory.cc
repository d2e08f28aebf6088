#include "smb2/codec/query_directory.h"

#include "smb2/codec/body.h"

namespace smbgate::smb2 {
namespace {

constexpr std::size_t kRequestFixedEnd = kHeaderSize + 32;  // 0x60
constexpr std::size_t kResponseFixedEnd = kHeaderSize + 8;  // 0x48

// MS-FSCC 2.4.17 FileIdBothDirectoryInformation: NextEntryOffset,
// FileIndex, CreationTime, LastAccessTime, LastWriteTime, ChangeTime,
// EndOfFile, AllocationSize, FileAttributes, FileNameLength, EaSize,
// ShortNameLength (1), Reserved1 (1), ShortName (24), Reserved2 (2), FileId,
// FileName. MS-FSCC 2.4.18 FileIdFullDirectoryInformation is the same up to
// EaSize, then Reserved (4), FileId, FileName.
constexpr std::size_t kBothFixed = 104;
constexpr std::size_t kFullFixed = 80;
constexpr std::size_t kShortNameBytes = 24;

enum class DirClass { kIdBoth, kIdFull };

Result<std::vector<DirEntry>> ParseEntries(ByteSpan buf, DirClass cls) {
  const std::size_t fixed = cls == DirClass::kIdBoth ? kBothFixed : kFullFixed;
  std::vector<DirEntry> out;
  const std::size_t n = buf.size();
  if (n == 0) return out;
  std::size_t pos = 0;
  while (true) {
    if (out.size() == kMaxDirEntries || !InBounds(pos, fixed, n)) {
      return errc::malformed_response;
    }
    WireReader r(buf);
    r.Seek(pos);
    const std::uint32_t next = r.U32();
    DirEntry e;
    e.file_index = r.U32();
    e.creation_time = r.U64();
    e.last_access_time = r.U64();
    e.last_write_time = r.U64();
    e.change_time = r.U64();
    e.end_of_file = r.U64();
    e.allocation_size = r.U64();
    e.file_attributes = r.U32();
    const std::uint32_t name_len = r.U32();
    e.ea_size = r.U32();
    if (cls == DirClass::kIdBoth) {
      const std::uint8_t short_len = r.U8();
      r.Skip(1);
      ByteSpan short_name = r.Bytes(kShortNameBytes);
      r.Skip(2);
      if (short_len > kShortNameBytes ||
          !DecodeUtf16(short_name.first(short_len), &e.short_name)) {
        return errc::malformed_response;
      }
    } else {
      r.Skip(4);
    }
    e.file_id = r.U64();
    // The name must lie in the buffer and, when another entry follows, before
    // it: NextEntryOffset covers the fixed part and the name.
    ByteSpan name = r.Bytes(name_len);
    if (!r.ok() || !DecodeUtf16(name, &e.name)) return errc::malformed_response;
    out.push_back(std::move(e));
    if (next == 0) return out;
    // MS-FSCC 2.4: entries are 8-byte aligned; the chain strictly advances.
    if (next % 8 != 0 || next < fixed + std::size_t{name_len} ||
        !InBounds(pos, next, n)) {
      return errc::malformed_response;
    }
    pos += next;
  }
}

Bytes EncodeEntries(const std::vector<DirEntry>& entries, DirClass cls) {
  WireWriter w;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const DirEntry& e = entries[i];
    const std::size_t start = w.pos();
    w.U32(0);  // NextEntryOffset, set below
    w.U32(e.file_index);
    w.U64(e.creation_time);
    w.U64(e.last_access_time);
    w.U64(e.last_write_time);
    w.U64(e.change_time);
    w.U64(e.end_of_file);
    w.U64(e.allocation_size);
    w.U32(e.file_attributes);
    w.U32(static_cast<std::uint32_t>(Utf16Size(e.name)));
    w.U32(e.ea_size);
    if (cls == DirClass::kIdBoth) {
      WireWriter short_name;
      PutUtf16(short_name, e.short_name);
      Bytes s = short_name.Take();
      if (s.size() > kShortNameBytes) s.resize(kShortNameBytes);
      w.U8(static_cast<std::uint8_t>(s.size()));
      w.U8(0);
      w.Bytes(s);
      w.Zeros(kShortNameBytes - s.size());
      w.U16(0);
    } else {
      w.U32(0);
    }
    w.U64(e.file_id);
    PutUtf16(w, e.name);
    if (i + 1 < entries.size()) {
      w.Align(8);
      w.PutU32At(start, static_cast<std::uint32_t>(w.pos() - start));
    }
  }
  return w.Take();
}

}  // namespace

// MS-SMB2 2.2.33: StructureSize 33, FileInformationClass, Flags, FileIndex,
// FileId, FileNameOffset, FileNameLength, OutputBufferLength, Buffer.
void Encode(const QueryDirectoryRequest& q, WireWriter& w) {
  w.U16(33);
  w.U8(q.file_information_class);
  w.U8(q.flags);
  w.U32(q.file_index);
  Encode(q.file_id, w);
  w.U16(static_cast<std::uint16_t>(kRequestFixedEnd));
  const std::size_t length_field = w.pos();
  w.U16(0);
  w.U32(q.output_buffer_length);
  const std::size_t buffer_start = w.pos();
  PutUtf16(w, q.file_name);
  w.PutU16At(length_field, static_cast<std::uint16_t>(w.pos() - buffer_start));
  PadEmptyBuffer(w, buffer_start);
}

Result<QueryDirectoryRequest> DecodeQueryDirectoryRequest(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kQueryDirectory, 33);
  if (!body) return body.error();
  WireReader& r = *body;
  QueryDirectoryRequest q;
  q.file_information_class = r.U8();
  q.flags = r.U8();
  q.file_index = r.U32();
  q.file_id = ReadFileId(r);
  const std::uint16_t off = r.U16();
  const std::uint16_t len = r.U16();
  q.output_buffer_length = r.U32();
  ByteSpan name = Field(r, off, len, kRequestFixedEnd);
  if (!r.ok() || !DecodeUtf16(name, &q.file_name)) {
    return errc::malformed_response;
  }
  return q;
}

// MS-SMB2 2.2.34: StructureSize 9, OutputBufferOffset, OutputBufferLength,
// Buffer.
void Encode(const QueryDirectoryResponse& p, WireWriter& w) {
  w.U16(9);
  w.U16(static_cast<std::uint16_t>(kResponseFixedEnd));
  w.U32(static_cast<std::uint32_t>(p.buffer.size()));
  w.Bytes(p.buffer);
}

Result<QueryDirectoryResponse> DecodeQueryDirectoryResponse(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kQueryDirectory, 9);
  if (!body) return body.error();
  WireReader& r = *body;
  QueryDirectoryResponse p;
  const std::uint16_t off = r.U16();
  const std::uint32_t len = r.U32();
  p.buffer = Field(r, off, len, kResponseFixedEnd);
  if (!r.ok()) return errc::malformed_response;
  return p;
}

Result<std::vector<DirEntry>> ParseFileIdBothDirectoryInformation(ByteSpan buf) {
  return ParseEntries(buf, DirClass::kIdBoth);
}
Result<std::vector<DirEntry>> ParseFileIdFullDirectoryInformation(ByteSpan buf) {
  return ParseEntries(buf, DirClass::kIdFull);
}
Bytes EncodeFileIdBothDirectoryInformation(const std::vector<DirEntry>& e) {
  return EncodeEntries(e, DirClass::kIdBoth);
}
Bytes EncodeFileIdFullDirectoryInformation(const std::vector<DirEntry>& e) {
  return EncodeEntries(e, DirClass::kIdFull);
}

}  // namespace smbgate::smb2
