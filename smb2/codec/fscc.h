// MS-FSCC 2.4 file information and 2.5 file-system information structures
// carried by QUERY_INFO and SET_INFO, with their information classes.
//
// Each has `Bytes Encode...(const T&)` and `Result<T> Parse...(ByteSpan)`.
// Parsers accept a buffer longer than the structure (servers may pad) and
// reject a shorter one or names outside it (errc::malformed_response).
#pragma once

#include <cstdint>
#include <string>

#include "auth/common/result.h"
#include "smb2/codec/wire.h"

namespace smbgate::smb2 {

// MS-SMB2 2.2.37 InfoType
inline constexpr std::uint8_t kInfoFile = 0x01;
inline constexpr std::uint8_t kInfoFilesystem = 0x02;
inline constexpr std::uint8_t kInfoSecurity = 0x03;
inline constexpr std::uint8_t kInfoQuota = 0x04;

// MS-FSCC 2.4 FileInformationClass
inline constexpr std::uint8_t kFileBasicInformation = 4;
inline constexpr std::uint8_t kFileStandardInformation = 5;
inline constexpr std::uint8_t kFileInternalInformation = 6;
inline constexpr std::uint8_t kFileEaInformation = 7;
inline constexpr std::uint8_t kFileAccessInformation = 8;
inline constexpr std::uint8_t kFileNameInformation = 9;
inline constexpr std::uint8_t kFileRenameInformation = 10;
inline constexpr std::uint8_t kFileLinkInformation = 11;
inline constexpr std::uint8_t kFileDispositionInformation = 13;
inline constexpr std::uint8_t kFilePositionInformation = 14;
inline constexpr std::uint8_t kFileFullEaInformation = 15;
inline constexpr std::uint8_t kFileModeInformation = 16;
inline constexpr std::uint8_t kFileAlignmentInformation = 17;
inline constexpr std::uint8_t kFileAllInformation = 18;
inline constexpr std::uint8_t kFileAllocationInformation = 19;
inline constexpr std::uint8_t kFileEndOfFileInformation = 20;
inline constexpr std::uint8_t kFileAlternateNameInformation = 21;
inline constexpr std::uint8_t kFileStreamInformation = 22;
inline constexpr std::uint8_t kFileCompressionInformation = 28;
inline constexpr std::uint8_t kFileNetworkOpenInformation = 34;
inline constexpr std::uint8_t kFileAttributeTagInformation = 35;
inline constexpr std::uint8_t kFileDispositionInformationEx = 64;

// MS-FSCC 2.5 FileSystemInformationClass
inline constexpr std::uint8_t kFileFsVolumeInformation = 1;
inline constexpr std::uint8_t kFileFsLabelInformation = 2;
inline constexpr std::uint8_t kFileFsSizeInformation = 3;
inline constexpr std::uint8_t kFileFsDeviceInformation = 4;
inline constexpr std::uint8_t kFileFsAttributeInformation = 5;
inline constexpr std::uint8_t kFileFsControlInformation = 6;
inline constexpr std::uint8_t kFileFsFullSizeInformation = 7;
inline constexpr std::uint8_t kFileFsObjectIdInformation = 8;
inline constexpr std::uint8_t kFileFsSectorSizeInformation = 11;

// MS-SMB2 2.2.37 AdditionalInformation for InfoType SECURITY
inline constexpr std::uint32_t kOwnerSecurityInformation = 0x00000001;
inline constexpr std::uint32_t kGroupSecurityInformation = 0x00000002;
inline constexpr std::uint32_t kDaclSecurityInformation = 0x00000004;
inline constexpr std::uint32_t kSaclSecurityInformation = 0x00000008;

// MS-FSCC 2.4.7 FileBasicInformation (40 bytes). A time of 0 in SET_INFO
// means "do not change"; -1 (all ones) "stop updating it".
struct FileBasicInformation {
  std::uint64_t creation_time = 0;
  std::uint64_t last_access_time = 0;
  std::uint64_t last_write_time = 0;
  std::uint64_t change_time = 0;
  std::uint32_t file_attributes = 0;
};
Bytes Encode(const FileBasicInformation& v);
Result<FileBasicInformation> ParseFileBasicInformation(ByteSpan b);

// MS-FSCC 2.4.41 FileStandardInformation (24 bytes)
struct FileStandardInformation {
  std::uint64_t allocation_size = 0;
  std::uint64_t end_of_file = 0;
  std::uint32_t number_of_links = 0;
  bool delete_pending = false;
  bool directory = false;
};
Bytes Encode(const FileStandardInformation& v);
Result<FileStandardInformation> ParseFileStandardInformation(ByteSpan b);

// MS-FSCC 2.4.22 FileInternalInformation (8 bytes)
struct FileInternalInformation {
  std::uint64_t index_number = 0;
};
Bytes Encode(const FileInternalInformation& v);
Result<FileInternalInformation> ParseFileInternalInformation(ByteSpan b);

// MS-FSCC 2.4.2 FileAllInformation: Basic, Standard, Internal, Ea, Access,
// Position, Mode, Alignment, Name (100 bytes + name).
struct FileAllInformation {
  FileBasicInformation basic;
  FileStandardInformation standard;
  FileInternalInformation internal;
  std::uint32_t ea_size = 0;
  std::uint32_t access_flags = 0;
  std::uint64_t current_byte_offset = 0;
  std::uint32_t mode = 0;
  std::uint32_t alignment_requirement = 0;
  std::string name;  // UTF-8
};
Bytes Encode(const FileAllInformation& v);
Result<FileAllInformation> ParseFileAllInformation(ByteSpan b);

// MS-FSCC 2.4.29 FileNetworkOpenInformation (56 bytes)
struct FileNetworkOpenInformation {
  std::uint64_t creation_time = 0;
  std::uint64_t last_access_time = 0;
  std::uint64_t last_write_time = 0;
  std::uint64_t change_time = 0;
  std::uint64_t allocation_size = 0;
  std::uint64_t end_of_file = 0;
  std::uint32_t file_attributes = 0;
};
Bytes Encode(const FileNetworkOpenInformation& v);
Result<FileNetworkOpenInformation> ParseFileNetworkOpenInformation(ByteSpan b);

// MS-FSCC 2.4.13 FileEndOfFileInformation (8 bytes)
struct FileEndOfFileInformation {
  std::uint64_t end_of_file = 0;
};
Bytes Encode(const FileEndOfFileInformation& v);
Result<FileEndOfFileInformation> ParseFileEndOfFileInformation(ByteSpan b);

// MS-FSCC 2.4.4 FileAllocationInformation (8 bytes)
struct FileAllocationInformation {
  std::uint64_t allocation_size = 0;
};
Bytes Encode(const FileAllocationInformation& v);
Result<FileAllocationInformation> ParseFileAllocationInformation(ByteSpan b);

// MS-FSCC 2.4.37.2 FileRenameInformation for SMB2 (also 2.4.21.2
// FileLinkInformation, same layout): ReplaceIfExists, 7 reserved bytes,
// RootDirectory (MUST be 0 over SMB2), FileNameLength, FileName. The name is
// the full share-relative target path. The encoder appends a UTF-16 NUL after
// FileName (not counted in FileNameLength) so the buffer is never shorter
// than the 24-byte structure a server may expect.
struct FileRenameInformation {
  bool replace_if_exists = false;
  std::uint64_t root_directory = 0;
  std::string file_name;  // UTF-8; must be valid UTF-8
};
using FileLinkInformation = FileRenameInformation;
Bytes Encode(const FileRenameInformation& v);
Result<FileRenameInformation> ParseFileRenameInformation(ByteSpan b);

// MS-FSCC 2.4.11 FileDispositionInformation (1 byte)
struct FileDispositionInformation {
  bool delete_pending = false;
};
Bytes Encode(const FileDispositionInformation& v);
Result<FileDispositionInformation> ParseFileDispositionInformation(ByteSpan b);

// MS-FSCC 2.5.9 FileFsVolumeInformation (18 bytes + label)
struct FileFsVolumeInformation {
  std::uint64_t volume_creation_time = 0;
  std::uint32_t volume_serial_number = 0;
  bool supports_objects = false;
  std::string volume_label;  // UTF-8
};
Bytes Encode(const FileFsVolumeInformation& v);
Result<FileFsVolumeInformation> ParseFileFsVolumeInformation(ByteSpan b);

// MS-FSCC 2.5.8 FileFsSizeInformation (24 bytes)
struct FileFsSizeInformation {
  std::uint64_t total_allocation_units = 0;
  std::uint64_t available_allocation_units = 0;
  std::uint32_t sectors_per_allocation_unit = 0;
  std::uint32_t bytes_per_sector = 0;
};
Bytes Encode(const FileFsSizeInformation& v);
Result<FileFsSizeInformation> ParseFileFsSizeInformation(ByteSpan b);

// MS-FSCC 2.5.4 FileFsFullSizeInformation (32 bytes)
struct FileFsFullSizeInformation {
  std::uint64_t total_allocation_units = 0;
  std::uint64_t caller_available_allocation_units = 0;
  std::uint64_t actual_available_allocation_units = 0;
  std::uint32_t sectors_per_allocation_unit = 0;
  std::uint32_t bytes_per_sector = 0;
};
Bytes Encode(const FileFsFullSizeInformation& v);
Result<FileFsFullSizeInformation> ParseFileFsFullSizeInformation(ByteSpan b);

// MS-FSCC 2.5.1 FileFsAttributeInformation (12 bytes + name)
inline constexpr std::uint32_t kFileCaseSensitiveSearch = 0x00000001;
inline constexpr std::uint32_t kFileCasePreservedNames = 0x00000002;
inline constexpr std::uint32_t kFileUnicodeOnDisk = 0x00000004;
inline constexpr std::uint32_t kFilePersistentAcls = 0x00000008;
inline constexpr std::uint32_t kFileSupportsSparseFiles = 0x00000040;
inline constexpr std::uint32_t kFileSupportsReparsePoints = 0x00000080;
inline constexpr std::uint32_t kFileSupportsHardLinks = 0x00400000;
struct FileFsAttributeInformation {
  std::uint32_t file_system_attributes = 0;
  std::uint32_t maximum_component_name_length = 0;
  std::string file_system_name;  // UTF-8, e.g. "NTFS"
};
Bytes Encode(const FileFsAttributeInformation& v);
Result<FileFsAttributeInformation> ParseFileFsAttributeInformation(ByteSpan b);

}  // namespace smbgate::smb2
