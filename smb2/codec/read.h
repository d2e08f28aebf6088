// MS-SMB2 2.2.19 / 2.2.20 READ.
//
// STATUS_BUFFER_OVERFLOW on READ (named pipes) is a success with data: the
// body is a normal READ Response. Decoded spans point INTO the message passed
// to the decoder: a decoded struct must not outlive that buffer.
#pragma once

#include <cstdint>

#include "auth/common/result.h"
#include "smb2/codec/file_id.h"
#include "smb2/codec/wire.h"

namespace smbgate::smb2 {

// MS-SMB2 2.2.19 Flags
inline constexpr std::uint8_t kReadFlagReadUnbuffered = 0x01;
inline constexpr std::uint8_t kReadFlagRequestCompressed = 0x02;
// MS-SMB2 2.2.19 / 2.2.21 Channel
inline constexpr std::uint32_t kChannelNone = 0x00000000;

// The offset of READ data that a server normally uses: header + 16-byte
// fixed part (2.2.20).
inline constexpr std::uint8_t kReadResponseDataOffset = 0x50;

// MS-SMB2 2.2.19 SMB2 READ Request. The request carries a one-byte Buffer
// even when it is empty (the encoder writes it); read channel info is not
// supported (no RDMA).
struct ReadRequest {
  std::uint8_t padding = 0x50;  // where the client wants the data placed
  std::uint8_t flags = 0;
  std::uint32_t length = 0;
  std::uint64_t offset = 0;
  FileId file_id;
  std::uint32_t minimum_count = 0;
  std::uint32_t channel = kChannelNone;
  std::uint32_t remaining_bytes = 0;
};

// MS-SMB2 2.2.20 SMB2 READ Response
struct ReadResponse {
  std::uint8_t data_offset = kReadResponseDataOffset;  // header-relative
  std::uint32_t data_length = 0;
  std::uint32_t data_remaining = 0;
  std::uint32_t flags = 0;  // 3.1.1 SMB2_READFLAG_RESPONSE_RDMA_TRANSFORM
  ByteSpan data;            // data_length bytes at data_offset
};

// Errors of the decoders: malformed_response (DataOffset/DataLength outside
// the message or inside the fixed part), bad_structure_size,
// unexpected_command.
void Encode(const ReadRequest& r, WireWriter& w);
Result<ReadRequest> DecodeReadRequest(ByteSpan msg);
// Writes the data at header-relative offset r.data_offset when that is at or
// past the end of the fixed part (zero padding in between), else right after
// the fixed part; DataOffset is set to where it went.
void Encode(const ReadResponse& r, WireWriter& w);
Result<ReadResponse> DecodeReadResponse(ByteSpan msg);

}  // namespace smbgate::smb2
