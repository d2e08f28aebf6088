#include "smb2/codec/fscc.h"

#include "smb2/codec/body.h"

namespace smbgate::smb2 {
namespace {

// Reads a FileNameLength-prefixed UTF-16 name whose length field was just
// read; the name follows at the reader's position.
bool ReadName(WireReader& r, std::uint32_t len, std::string* out) {
  ByteSpan name = r.Bytes(len);
  return r.ok() && DecodeUtf16(name, out);
}

void WriteBasic(const FileBasicInformation& v, WireWriter& w) {
  w.U64(v.creation_time);
  w.U64(v.last_access_time);
  w.U64(v.last_write_time);
  w.U64(v.change_time);
  w.U32(v.file_attributes);
  w.U32(0);
}
FileBasicInformation ReadBasic(WireReader& r) {
  FileBasicInformation v;
  v.creation_time = r.U64();
  v.last_access_time = r.U64();
  v.last_write_time = r.U64();
  v.change_time = r.U64();
  v.file_attributes = r.U32();
  r.Skip(4);
  return v;
}

void WriteStandard(const FileStandardInformation& v, WireWriter& w) {
  w.U64(v.allocation_size);
  w.U64(v.end_of_file);
  w.U32(v.number_of_links);
  w.U8(v.delete_pending ? 1 : 0);
  w.U8(v.directory ? 1 : 0);
  w.U16(0);
}
FileStandardInformation ReadStandard(WireReader& r) {
  FileStandardInformation v;
  v.allocation_size = r.U64();
  v.end_of_file = r.U64();
  v.number_of_links = r.U32();
  v.delete_pending = r.U8() != 0;
  v.directory = r.U8() != 0;
  r.Skip(2);
  return v;
}

}  // namespace

// MS-FSCC 2.4.7: four times, FileAttributes, Reserved.
Bytes Encode(const FileBasicInformation& v) {
  WireWriter w;
  WriteBasic(v, w);
  return w.Take();
}
Result<FileBasicInformation> ParseFileBasicInformation(ByteSpan b) {
  WireReader r(b);
  FileBasicInformation v = ReadBasic(r);
  if (!r.ok()) return errc::malformed_response;
  return v;
}

// MS-FSCC 2.4.41: AllocationSize, EndOfFile, NumberOfLinks, DeletePending,
// Directory, Reserved (2).
Bytes Encode(const FileStandardInformation& v) {
  WireWriter w;
  WriteStandard(v, w);
  return w.Take();
}
Result<FileStandardInformation> ParseFileStandardInformation(ByteSpan b) {
  WireReader r(b);
  FileStandardInformation v = ReadStandard(r);
  if (!r.ok()) return errc::malformed_response;
  return v;
}

// MS-FSCC 2.4.22: IndexNumber.
Bytes Encode(const FileInternalInformation& v) {
  WireWriter w;
  w.U64(v.index_number);
  return w.Take();
}
Result<FileInternalInformation> ParseFileInternalInformation(ByteSpan b) {
  WireReader r(b);
  FileInternalInformation v;
  v.index_number = r.U64();
  if (!r.ok()) return errc::malformed_response;
  return v;
}

// MS-FSCC 2.4.2: BasicInformation (40), StandardInformation (24),
// InternalInformation (8), EaInformation (4), AccessInformation (4),
// PositionInformation (8), ModeInformation (4), AlignmentInformation (4),
// NameInformation (FileNameLength + FileName).
Bytes Encode(const FileAllInformation& v) {
  WireWriter w;
  WriteBasic(v.basic, w);
  WriteStandard(v.standard, w);
  w.U64(v.internal.index_number);
  w.U32(v.ea_size);
  w.U32(v.access_flags);
  w.U64(v.current_byte_offset);
  w.U32(v.mode);
  w.U32(v.alignment_requirement);
  w.U32(static_cast<std::uint32_t>(Utf16Size(v.name)));
  PutUtf16(w, v.name);
  return w.Take();
}
Result<FileAllInformation> ParseFileAllInformation(ByteSpan b) {
  WireReader r(b);
  FileAllInformation v;
  v.basic = ReadBasic(r);
  v.standard = ReadStandard(r);
  v.internal.index_number = r.U64();
  v.ea_size = r.U32();
  v.access_flags = r.U32();
  v.current_byte_offset = r.U64();
  v.mode = r.U32();
  v.alignment_requirement = r.U32();
  const std::uint32_t len = r.U32();
  if (!ReadName(r, len, &v.name)) return errc::malformed_response;
  return v;
}

// MS-FSCC 2.4.29: four times, AllocationSize, EndOfFile, FileAttributes,
// Reserved.
Bytes Encode(const FileNetworkOpenInformation& v) {
  WireWriter w;
  w.U64(v.creation_time);
  w.U64(v.last_access_time);
  w.U64(v.last_write_time);
  w.U64(v.change_time);
  w.U64(v.allocation_size);
  w.U64(v.end_of_file);
  w.U32(v.file_attributes);
  w.U32(0);
  return w.Take();
}
Result<FileNetworkOpenInformation> ParseFileNetworkOpenInformation(ByteSpan b) {
  WireReader r(b);
  FileNetworkOpenInformation v;
  v.creation_time = r.U64();
  v.last_access_time = r.U64();
  v.last_write_time = r.U64();
  v.change_time = r.U64();
  v.allocation_size = r.U64();
  v.end_of_file = r.U64();
  v.file_attributes = r.U32();
  r.Skip(4);
  if (!r.ok()) return errc::malformed_response;
  return v;
}

// MS-FSCC 2.4.13: EndOfFile.
Bytes Encode(const FileEndOfFileInformation& v) {
  WireWriter w;
  w.U64(v.end_of_file);
  return w.Take();
}
Result<FileEndOfFileInformation> ParseFileEndOfFileInformation(ByteSpan b) {
  WireReader r(b);
  FileEndOfFileInformation v;
  v.end_of_file = r.U64();
  if (!r.ok()) return errc::malformed_response;
  return v;
}

// MS-FSCC 2.4.4: AllocationSize.
Bytes Encode(const FileAllocationInformation& v) {
  WireWriter w;
  w.U64(v.allocation_size);
  return w.Take();
}
Result<FileAllocationInformation> ParseFileAllocationInformation(ByteSpan b) {
  WireReader r(b);
  FileAllocationInformation v;
  v.allocation_size = r.U64();
  if (!r.ok()) return errc::malformed_response;
  return v;
}

// MS-FSCC 2.4.37.2: ReplaceIfExists (1), Reserved (7), RootDirectory (8),
// FileNameLength (4), FileName.
Bytes Encode(const FileRenameInformation& v) {
  WireWriter w;
  w.U8(v.replace_if_exists ? 1 : 0);
  w.Zeros(7);
  w.U64(v.root_directory);
  w.U32(static_cast<std::uint32_t>(Utf16Size(v.file_name)));
  PutUtf16(w, v.file_name);
  w.U16(0);  // NUL after the name, outside FileNameLength (see fscc.h)
  return w.Take();
}
Result<FileRenameInformation> ParseFileRenameInformation(ByteSpan b) {
  WireReader r(b);
  FileRenameInformation v;
  v.replace_if_exists = r.U8() != 0;
  r.Skip(7);
  v.root_directory = r.U64();
  const std::uint32_t len = r.U32();
  if (!ReadName(r, len, &v.file_name)) return errc::malformed_response;
  return v;
}

// MS-FSCC 2.4.11: DeletePending (1).
Bytes Encode(const FileDispositionInformation& v) {
  return Bytes{static_cast<std::uint8_t>(v.delete_pending ? 1 : 0)};
}
Result<FileDispositionInformation> ParseFileDispositionInformation(ByteSpan b) {
  WireReader r(b);
  FileDispositionInformation v;
  v.delete_pending = r.U8() != 0;
  if (!r.ok()) return errc::malformed_response;
  return v;
}

// MS-FSCC 2.5.9: VolumeCreationTime, VolumeSerialNumber, VolumeLabelLength,
// SupportsObjects (1), Reserved (1), VolumeLabel.
Bytes Encode(const FileFsVolumeInformation& v) {
  WireWriter w;
  w.U64(v.volume_creation_time);
  w.U32(v.volume_serial_number);
  w.U32(static_cast<std::uint32_t>(Utf16Size(v.volume_label)));
  w.U8(v.supports_objects ? 1 : 0);
  w.U8(0);
  PutUtf16(w, v.volume_label);
  return w.Take();
}
Result<FileFsVolumeInformation> ParseFileFsVolumeInformation(ByteSpan b) {
  WireReader r(b);
  FileFsVolumeInformation v;
  v.volume_creation_time = r.U64();
  v.volume_serial_number = r.U32();
  const std::uint32_t len = r.U32();
  v.supports_objects = r.U8() != 0;
  r.Skip(1);
  if (!ReadName(r, len, &v.volume_label)) return errc::malformed_response;
  return v;
}

// MS-FSCC 2.5.8: TotalAllocationUnits, AvailableAllocationUnits,
// SectorsPerAllocationUnit, BytesPerSector.
Bytes Encode(const FileFsSizeInformation& v) {
  WireWriter w;
  w.U64(v.total_allocation_units);
  w.U64(v.available_allocation_units);
  w.U32(v.sectors_per_allocation_unit);
  w.U32(v.bytes_per_sector);
  return w.Take();
}
Result<FileFsSizeInformation> ParseFileFsSizeInformation(ByteSpan b) {
  WireReader r(b);
  FileFsSizeInformation v;
  v.total_allocation_units = r.U64();
  v.available_allocation_units = r.U64();
  v.sectors_per_allocation_unit = r.U32();
  v.bytes_per_sector = r.U32();
  if (!r.ok()) return errc::malformed_response;
  return v;
}

// MS-FSCC 2.5.4: TotalAllocationUnits, CallerAvailableAllocationUnits,
// ActualAvailableAllocationUnits, SectorsPerAllocationUnit, BytesPerSector.
Bytes Encode(const FileFsFullSizeInformation& v) {
  WireWriter w;
  w.U64(v.total_allocation_units);
  w.U64(v.caller_available_allocation_units);
  w.U64(v.actual_available_allocation_units);
  w.U32(v.sectors_per_allocation_unit);
  w.U32(v.bytes_per_sector);
  return w.Take();
}
Result<FileFsFullSizeInformation> ParseFileFsFullSizeInformation(ByteSpan b) {
  WireReader r(b);
  FileFsFullSizeInformation v;
  v.total_allocation_units = r.U64();
  v.caller_available_allocation_units = r.U64();
  v.actual_available_allocation_units = r.U64();
  v.sectors_per_allocation_unit = r.U32();
  v.bytes_per_sector = r.U32();
  if (!r.ok()) return errc::malformed_response;
  return v;
}

// MS-FSCC 2.5.1: FileSystemAttributes, MaximumComponentNameLength,
// FileSystemNameLength, FileSystemName.
Bytes Encode(const FileFsAttributeInformation& v) {
  WireWriter w;
  w.U32(v.file_system_attributes);
  w.U32(v.maximum_component_name_length);
  w.U32(static_cast<std::uint32_t>(Utf16Size(v.file_system_name)));
  PutUtf16(w, v.file_system_name);
  return w.Take();
}
Result<FileFsAttributeInformation> ParseFileFsAttributeInformation(ByteSpan b) {
  WireReader r(b);
  FileFsAttributeInformation v;
  v.file_system_attributes = r.U32();
  v.maximum_component_name_length = r.U32();
  const std::uint32_t len = r.U32();
  if (!ReadName(r, len, &v.file_system_name)) return errc::malformed_response;
  return v;
}

}  // namespace smbgate::smb2
