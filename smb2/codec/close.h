// MS-SMB2 2.2.15 / 2.2.16 CLOSE and 2.2.17 / 2.2.18 FLUSH.
#pragma once

#include <cstdint>

#include "auth/common/result.h"
#include "smb2/codec/file_id.h"
#include "smb2/codec/wire.h"

namespace smbgate::smb2 {

// MS-SMB2 2.2.15 Flags
inline constexpr std::uint16_t kCloseFlagPostqueryAttrib = 0x0001;

// MS-SMB2 2.2.15 SMB2 CLOSE Request
struct CloseRequest {
  std::uint16_t flags = 0;
  FileId file_id;
};

// MS-SMB2 2.2.16 SMB2 CLOSE Response. The attribute fields are meaningful
// only when `flags` has kCloseFlagPostqueryAttrib (else the server sends 0).
struct CloseResponse {
  std::uint16_t flags = 0;
  std::uint64_t creation_time = 0;
  std::uint64_t last_access_time = 0;
  std::uint64_t last_write_time = 0;
  std::uint64_t change_time = 0;
  std::uint64_t allocation_size = 0;
  std::uint64_t end_of_file = 0;
  std::uint32_t file_attributes = 0;
};

// MS-SMB2 2.2.17 SMB2 FLUSH Request
struct FlushRequest {
  FileId file_id;
};
// MS-SMB2 2.2.18 SMB2 FLUSH Response
struct FlushResponse {};

// Errors of the decoders: malformed_response, bad_structure_size,
// unexpected_command.
void Encode(const CloseRequest& r, WireWriter& w);
Result<CloseRequest> DecodeCloseRequest(ByteSpan msg);
void Encode(const CloseResponse& r, WireWriter& w);
Result<CloseResponse> DecodeCloseResponse(ByteSpan msg);

void Encode(const FlushRequest& r, WireWriter& w);
Result<FlushRequest> DecodeFlushRequest(ByteSpan msg);
void Encode(const FlushResponse& r, WireWriter& w);
Result<FlushResponse> DecodeFlushResponse(ByteSpan msg);

}  // namespace smbgate::smb2
