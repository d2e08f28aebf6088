// MS-SMB2 2.2.39 / 2.2.40 SET_INFO. The MS-FSCC payloads are in fscc.h.
//
// Decoded spans point INTO the message passed to the decoder: a decoded
// struct must not outlive that buffer.
#pragma once

#include <cstdint>

#include "auth/common/result.h"
#include "smb2/codec/file_id.h"
#include "smb2/codec/fscc.h"
#include "smb2/codec/wire.h"

namespace smbgate::smb2 {

// MS-SMB2 2.2.39 SMB2 SET_INFO Request
struct SetInfoRequest {
  std::uint8_t info_type = kInfoFile;
  std::uint8_t file_info_class = 0;
  ByteSpan buffer;  // e.g. the bytes of Encode(FileBasicInformation{...})
  std::uint32_t additional_information = 0;
  FileId file_id;
};

// MS-SMB2 2.2.40 SMB2 SET_INFO Response
struct SetInfoResponse {};

// Errors of the decoders: malformed_response, bad_structure_size,
// unexpected_command.
void Encode(const SetInfoRequest& r, WireWriter& w);
Result<SetInfoRequest> DecodeSetInfoRequest(ByteSpan msg);
void Encode(const SetInfoResponse& r, WireWriter& w);
Result<SetInfoResponse> DecodeSetInfoResponse(ByteSpan msg);

}  // namespace smbgate::smb2
