// MS-SMB2 2.2.37 / 2.2.38 QUERY_INFO. The MS-FSCC payloads are in fscc.h.
//
// STATUS_BUFFER_OVERFLOW on QUERY_INFO is a success with truncated data: the
// body is a normal QUERY_INFO Response. Decoded spans point INTO the message
// passed to the decoder: a decoded struct must not outlive that buffer.
#pragma once

#include <cstdint>

#include "auth/common/result.h"
#include "smb2/codec/file_id.h"
#include "smb2/codec/fscc.h"
#include "smb2/codec/wire.h"

namespace smbgate::smb2 {

// MS-SMB2 2.2.37 Flags
inline constexpr std::uint32_t kSlRestartScan = 0x00000001;
inline constexpr std::uint32_t kSlReturnSingleEntry = 0x00000002;
inline constexpr std::uint32_t kSlIndexSpecified = 0x00000004;

// MS-SMB2 2.2.37 SMB2 QUERY_INFO Request
struct QueryInfoRequest {
  std::uint8_t info_type = kInfoFile;
  std::uint8_t file_info_class = 0;
  std::uint32_t output_buffer_length = 0;
  ByteSpan input_buffer;  // quota / EA queries only; usually empty
  std::uint32_t additional_information = 0;
  std::uint32_t flags = 0;
  FileId file_id;
};

// MS-SMB2 2.2.38 SMB2 QUERY_INFO Response
struct QueryInfoResponse {
  ByteSpan buffer;
};

// Errors of the decoders: malformed_response, bad_structure_size,
// unexpected_command.
void Encode(const QueryInfoRequest& r, WireWriter& w);
Result<QueryInfoRequest> DecodeQueryInfoRequest(ByteSpan msg);
void Encode(const QueryInfoResponse& r, WireWriter& w);
Result<QueryInfoResponse> DecodeQueryInfoResponse(ByteSpan msg);

}  // namespace smbgate::smb2
