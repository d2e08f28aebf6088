// MS-SMB2 2.2.31 / 2.2.32 IOCTL, with the FSCTL_VALIDATE_NEGOTIATE_INFO
// payloads (2.2.31.4 / 2.2.32.6) and the reparse-point FSCTL codes.
//
// STATUS_BUFFER_OVERFLOW on IOCTL is a success with (truncated) data: the
// body is a normal IOCTL Response. Decoded spans point INTO the message passed
// to the decoder: a decoded struct must not outlive that buffer.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "auth/common/result.h"
#include "smb2/codec/file_id.h"
#include "smb2/codec/wire.h"

namespace smbgate::smb2 {

// MS-SMB2 2.2.31 Flags
inline constexpr std::uint32_t kIoctlIsFsctl = 0x00000001;

// MS-SMB2 2.2.31 CtlCode (and MS-FSCC 2.3 for the file-system controls)
inline constexpr std::uint32_t kFsctlDfsGetReferrals = 0x00060194;
inline constexpr std::uint32_t kFsctlDfsGetReferralsEx = 0x000601B0;
inline constexpr std::uint32_t kFsctlPipePeek = 0x0011400C;
inline constexpr std::uint32_t kFsctlPipeWait = 0x00110018;
inline constexpr std::uint32_t kFsctlPipeTransceive = 0x0011C017;
inline constexpr std::uint32_t kFsctlSrvCopychunk = 0x001440F2;
inline constexpr std::uint32_t kFsctlSrvEnumerateSnapshots = 0x00144064;
inline constexpr std::uint32_t kFsctlSrvRequestResumeKey = 0x00140078;
inline constexpr std::uint32_t kFsctlSrvReadHash = 0x001441BB;
inline constexpr std::uint32_t kFsctlSrvCopychunkWrite = 0x001480F2;
inline constexpr std::uint32_t kFsctlLmrRequestResiliency = 0x001401D4;
inline constexpr std::uint32_t kFsctlQueryNetworkInterfaceInfo = 0x001401FC;
inline constexpr std::uint32_t kFsctlValidateNegotiateInfo = 0x00140204;
inline constexpr std::uint32_t kFsctlGetReparsePoint = 0x000900A8;
inline constexpr std::uint32_t kFsctlSetReparsePoint = 0x000900A4;
inline constexpr std::uint32_t kFsctlDeleteReparsePoint = 0x000900AC;
inline constexpr std::uint32_t kFsctlSetSparse = 0x000900C4;
inline constexpr std::uint32_t kFsctlSetZeroData = 0x000980C8;
inline constexpr std::uint32_t kFsctlQueryAllocatedRanges = 0x000940CF;

// MS-SMB2 2.2.31 SMB2 IOCTL Request. Input is written at 0x78 (8-aligned);
// no output buffer is sent (OutputOffset/Count 0), as clients do.
struct IoctlRequest {
  std::uint32_t ctl_code = 0;
  FileId file_id;
  ByteSpan input;
  std::uint32_t max_input_response = 0;
  std::uint32_t max_output_response = 0;
  std::uint32_t flags = kIoctlIsFsctl;
};

// MS-SMB2 2.2.32 SMB2 IOCTL Response
struct IoctlResponse {
  std::uint32_t ctl_code = 0;
  FileId file_id;
  ByteSpan input;
  ByteSpan output;
  std::uint32_t flags = 0;
};

// Errors of the decoders: malformed_response (offsets/counts outside the
// message), bad_structure_size, unexpected_command.
void Encode(const IoctlRequest& r, WireWriter& w);
Result<IoctlRequest> DecodeIoctlRequest(ByteSpan msg);
// Input then output, each 8-aligned.
void Encode(const IoctlResponse& r, WireWriter& w);
Result<IoctlResponse> DecodeIoctlResponse(ByteSpan msg);

// MS-SMB2 2.2.31.4 VALIDATE_NEGOTIATE_INFO Request
struct ValidateNegotiateInfoRequest {
  std::uint32_t capabilities = 0;
  std::array<std::uint8_t, 16> guid{};
  std::uint16_t security_mode = 0;
  std::vector<std::uint16_t> dialects;
};
// MS-SMB2 2.2.32.6 VALIDATE_NEGOTIATE_INFO Response
struct ValidateNegotiateInfoResponse {
  std::uint32_t capabilities = 0;
  std::array<std::uint8_t, 16> guid{};
  std::uint16_t security_mode = 0;
  std::uint16_t dialect = 0;
};

// The IOCTL input/output payloads (not whole messages). Decoders: errors
// malformed_response (short, DialectCount 0, over kMaxDialects or past the
// buffer).
Bytes EncodeValidateNegotiateInfoRequest(const ValidateNegotiateInfoRequest& v);
Result<ValidateNegotiateInfoRequest> DecodeValidateNegotiateInfoRequest(
    ByteSpan payload);
Bytes EncodeValidateNegotiateInfoResponse(
    const ValidateNegotiateInfoResponse& v);
Result<ValidateNegotiateInfoResponse> DecodeValidateNegotiateInfoResponse(
    ByteSpan payload);

// MS-FSCC 2.1.2.4 Symbolic Link Reparse Data Buffer (the payload of
// FSCTL_GET_REPARSE_POINT / FSCTL_SET_REPARSE_POINT for IO_REPARSE_TAG_SYMLINK).
struct SymlinkReparseBuffer {
  std::string substitute_name;  // UTF-8
  std::string print_name;       // UTF-8
  std::uint32_t flags = 0;      // kSymlinkFlagRelative (error_response.h)
};
inline constexpr std::uint32_t kReparseTagSymlink = 0xA000000C;
// Errors: malformed_response (short, wrong tag, names outside PathBuffer or
// not UTF-16).
Result<SymlinkReparseBuffer> DecodeSymlinkReparseBuffer(ByteSpan payload);
// Substitute name first, then print name, in PathBuffer.
Bytes EncodeSymlinkReparseBuffer(const SymlinkReparseBuffer& s);

}  // namespace smbgate::smb2
