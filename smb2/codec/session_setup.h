// MS-SMB2 2.2.5 / 2.2.6 SESSION_SETUP, 2.2.7 / 2.2.8 LOGOFF and
// 2.2.28 / 2.2.29 ECHO.
//
// A SESSION_SETUP response with STATUS_MORE_PROCESSING_REQUIRED carries a
// normal SESSION_SETUP body (decode it with DecodeSessionSetupResponse).
// Decoded spans point INTO the message passed to the decoder: a decoded
// struct must not outlive that buffer.
#pragma once

#include <cstdint>

#include "auth/common/result.h"
#include "smb2/codec/wire.h"

namespace smbgate::smb2 {

// MS-SMB2 2.2.5 Flags
inline constexpr std::uint8_t kSessionFlagBinding = 0x01;
// MS-SMB2 2.2.5 SecurityMode (one byte here)
inline constexpr std::uint8_t kSessionSecurityModeSigningEnabled = 0x01;
inline constexpr std::uint8_t kSessionSecurityModeSigningRequired = 0x02;
// MS-SMB2 2.2.6 SessionFlags
inline constexpr std::uint16_t kSessionFlagIsGuest = 0x0001;
inline constexpr std::uint16_t kSessionFlagIsNull = 0x0002;
inline constexpr std::uint16_t kSessionFlagEncryptData = 0x0004;

// MS-SMB2 2.2.5 SMB2 SESSION_SETUP Request
struct SessionSetupRequest {
  std::uint8_t flags = 0;
  std::uint8_t security_mode = kSessionSecurityModeSigningEnabled;
  std::uint32_t capabilities = 0;  // only kCapDfs is meaningful
  std::uint32_t channel = 0;       // MUST be 0
  std::uint64_t previous_session_id = 0;
  ByteSpan security_buffer;  // GSS/SPNEGO token
};

// MS-SMB2 2.2.6 SMB2 SESSION_SETUP Response
struct SessionSetupResponse {
  std::uint16_t session_flags = 0;
  ByteSpan security_buffer;
};

// MS-SMB2 2.2.7 SMB2 LOGOFF Request
struct LogoffRequest {};
// MS-SMB2 2.2.8 SMB2 LOGOFF Response
struct LogoffResponse {};
// MS-SMB2 2.2.28 SMB2 ECHO Request
struct EchoRequest {};
// MS-SMB2 2.2.29 SMB2 ECHO Response
struct EchoResponse {};

// Encoders append the body to a writer holding the 64-byte header; decoders
// take the whole message and check Command and StructureSize. Errors:
// malformed_response, bad_structure_size, unexpected_command.
void Encode(const SessionSetupRequest& r, WireWriter& w);
Result<SessionSetupRequest> DecodeSessionSetupRequest(ByteSpan msg);
void Encode(const SessionSetupResponse& r, WireWriter& w);
Result<SessionSetupResponse> DecodeSessionSetupResponse(ByteSpan msg);

void Encode(const LogoffRequest& r, WireWriter& w);
Result<LogoffRequest> DecodeLogoffRequest(ByteSpan msg);
void Encode(const LogoffResponse& r, WireWriter& w);
Result<LogoffResponse> DecodeLogoffResponse(ByteSpan msg);

void Encode(const EchoRequest& r, WireWriter& w);
Result<EchoRequest> DecodeEchoRequest(ByteSpan msg);
void Encode(const EchoResponse& r, WireWriter& w);
Result<EchoResponse> DecodeEchoResponse(ByteSpan msg);

}  // namespace smbgate::smb2
