// MS-SMB2 2.2.33 / 2.2.34 QUERY_DIRECTORY, and the parsers of the directory
// information entries it returns (MS-FSCC 2.4.17 FileIdBothDirectoryInformation,
// 2.4.18 FileIdFullDirectoryInformation).
//
// Decoded spans point INTO the message passed to the decoder: a decoded
// struct must not outlive that buffer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "auth/common/result.h"
#include "smb2/codec/file_id.h"
#include "smb2/codec/wire.h"

namespace smbgate::smb2 {

// MS-SMB2 2.2.33 FileInformationClass
inline constexpr std::uint8_t kFileDirectoryInformation = 0x01;
inline constexpr std::uint8_t kFileFullDirectoryInformation = 0x02;
inline constexpr std::uint8_t kFileBothDirectoryInformation = 0x03;
inline constexpr std::uint8_t kFileNamesInformation = 0x0C;
inline constexpr std::uint8_t kFileIdBothDirectoryInformation = 0x25;
inline constexpr std::uint8_t kFileIdFullDirectoryInformation = 0x26;
inline constexpr std::uint8_t kFileIdExtdDirectoryInformation = 0x3C;

// MS-SMB2 2.2.33 Flags
inline constexpr std::uint8_t kRestartScans = 0x01;
inline constexpr std::uint8_t kReturnSingleEntry = 0x02;
inline constexpr std::uint8_t kIndexSpecified = 0x04;
inline constexpr std::uint8_t kReopen = 0x10;

// Cap on the entries parsed from one buffer (each entry is at least 80
// bytes, so a legitimate 8 MiB buffer holds fewer).
inline constexpr std::size_t kMaxDirEntries = 1u << 17;

// MS-SMB2 2.2.33 SMB2 QUERY_DIRECTORY Request
struct QueryDirectoryRequest {
  std::uint8_t file_information_class = kFileIdBothDirectoryInformation;
  std::uint8_t flags = 0;
  std::uint32_t file_index = 0;
  FileId file_id;
  // Search pattern, UTF-8 here (e.g. "*"); must be valid UTF-8.
  std::string file_name = "*";
  std::uint32_t output_buffer_length = 0;
};

// MS-SMB2 2.2.34 SMB2 QUERY_DIRECTORY Response
struct QueryDirectoryResponse {
  ByteSpan buffer;  // entries of the requested class
};

// Errors of the decoders: malformed_response (also for an invalid UTF-16
// pattern), bad_structure_size, unexpected_command.
void Encode(const QueryDirectoryRequest& r, WireWriter& w);
Result<QueryDirectoryRequest> DecodeQueryDirectoryRequest(ByteSpan msg);
void Encode(const QueryDirectoryResponse& r, WireWriter& w);
Result<QueryDirectoryResponse> DecodeQueryDirectoryResponse(ByteSpan msg);

// One directory entry, from either information class.
struct DirEntry {
  std::string name;  // UTF-8
  std::uint64_t creation_time = 0;
  std::uint64_t last_access_time = 0;
  std::uint64_t last_write_time = 0;
  std::uint64_t change_time = 0;
  std::uint64_t end_of_file = 0;
  std::uint64_t allocation_size = 0;
  std::uint32_t file_attributes = 0;
  std::uint64_t file_id = 0;
  std::uint32_t file_index = 0;
  std::uint32_t ea_size = 0;  // or the reparse tag for reparse points
  std::string short_name;     // FileIdBoth only (8.3 name; may be empty)

  friend bool operator==(const DirEntry&, const DirEntry&) = default;
};

// Parse a QUERY_DIRECTORY output buffer. The NextEntryOffset chain is checked:
// each offset a multiple of 8, strictly advancing, every entry (fixed part and
// FileNameLength) inside the buffer, at most kMaxDirEntries entries. Names
// must be valid UTF-16. Errors: malformed_response.
Result<std::vector<DirEntry>> ParseFileIdBothDirectoryInformation(ByteSpan buf);
Result<std::vector<DirEntry>> ParseFileIdFullDirectoryInformation(ByteSpan buf);

// Build such a buffer (tests, fake servers): entries 8-aligned, NextEntryOffset
// chained, last 0. Names must be valid UTF-8.
Bytes EncodeFileIdBothDirectoryInformation(const std::vector<DirEntry>& e);
Bytes EncodeFileIdFullDirectoryInformation(const std::vector<DirEntry>& e);

}  // namespace smbgate::smb2
