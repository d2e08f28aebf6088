// MS-SMB2 2.2.21 / 2.2.22 WRITE.
//
// Decoded spans point INTO the message passed to the decoder: a decoded
// struct must not outlive that buffer.
#pragma once

#include <cstdint>

#include "auth/common/result.h"
#include "smb2/codec/file_id.h"
#include "smb2/codec/wire.h"

namespace smbgate::smb2 {

// MS-SMB2 2.2.21 Flags
inline constexpr std::uint32_t kWriteFlagWriteThrough = 0x00000001;
inline constexpr std::uint32_t kWriteFlagWriteUnbuffered = 0x00000002;

// Header + the 48-byte fixed part: where the encoder puts the data (2.2.21).
inline constexpr std::uint16_t kWriteRequestDataOffset = 0x70;

// MS-SMB2 2.2.21 SMB2 WRITE Request. DataOffset is 0x70 on encode; write
// channel info is not supported (no RDMA).
struct WriteRequest {
  std::uint64_t offset = 0;
  FileId file_id;
  std::uint32_t channel = 0;
  std::uint32_t remaining_bytes = 0;
  std::uint32_t flags = 0;
  ByteSpan data;
};

// MS-SMB2 2.2.22 SMB2 WRITE Response
struct WriteResponse {
  std::uint32_t count = 0;
  std::uint32_t remaining = 0;
};

// Errors of the decoders: malformed_response, bad_structure_size,
// unexpected_command.
void Encode(const WriteRequest& r, WireWriter& w);
Result<WriteRequest> DecodeWriteRequest(ByteSpan msg);
void Encode(const WriteResponse& r, WireWriter& w);
Result<WriteResponse> DecodeWriteResponse(ByteSpan msg);

}  // namespace smbgate::smb2
