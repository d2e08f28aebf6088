// MS-SMB2 2.2.2 SMB2 ERROR Response and its error contexts (2.2.2.1,
// 2.2.2.2).
//
// A failed request of any command is answered with this body; the NTSTATUS
// itself is in the header. Three statuses are not failures and come with the
// command's normal response body instead:
//   - STATUS_BUFFER_OVERFLOW on READ, QUERY_INFO, IOCTL (and CHANGE_NOTIFY /
//     QUERY_DIRECTORY): success with truncated data;
//   - STATUS_MORE_PROCESSING_REQUIRED on SESSION_SETUP: the next leg of the
//     authentication exchange;
//   - STATUS_PENDING with the async flag: an interim response (this body,
//     ignored by the client).
// IsErrorBody() tells the caller which decoder to use.
//
// Decoded spans point INTO the message passed to the decoder: a decoded
// struct must not outlive that buffer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "auth/common/result.h"
#include "smb2/codec/header.h"
#include "smb2/codec/wire.h"

namespace smbgate::smb2 {

// True when a response with this status and command carries the command's
// normal body: success and informational statuses other than STATUS_PENDING,
// STATUS_BUFFER_OVERFLOW on READ / QUERY_INFO / IOCTL / QUERY_DIRECTORY /
// CHANGE_NOTIFY, STATUS_MORE_PROCESSING_REQUIRED on SESSION_SETUP. False when
// it carries an ERROR Response (errors, interim STATUS_PENDING).
bool HasNormalBody(Command command, std::uint32_t status) noexcept;

// MS-SMB2 2.2.2.1 SMB2 ERROR Context Response
struct ErrorContext {
  std::uint32_t error_id = 0;  // 0 = SMB2_ERROR_ID_DEFAULT
  ByteSpan error_context_data;
};
inline constexpr std::uint32_t kErrorIdDefault = 0x00000000;
inline constexpr std::uint32_t kErrorIdShareRedirect = 0x72645253;

// MS-SMB2 2.2.2 SMB2 ERROR Response
struct ErrorResponse {
  std::uint8_t error_context_count = 0;
  // ByteCount bytes of ErrorData (3.1.1: error contexts when the count is
  // nonzero; otherwise e.g. a Symbolic Link Error Response for
  // STATUS_STOPPED_ON_SYMLINK, or the 4-byte required size for
  // STATUS_BUFFER_TOO_SMALL).
  ByteSpan error_data;
};

// Appends the body (StructureSize 9). An empty ErrorData is written as one
// zero byte with ByteCount 0, as MS-SMB2 2.2.2 requires.
void Encode(const ErrorResponse& r, WireWriter& w);
// Decodes the ERROR Response body of `msg` (any command). Errors:
// malformed_response, bad_structure_size.
Result<ErrorResponse> DecodeErrorResponse(ByteSpan msg);

// Splits ErrorData into the 3.1.1 error contexts (each 8-byte aligned,
// capped at `error_context_count`). Errors: malformed_response.
Result<std::vector<ErrorContext>> ParseErrorContexts(const ErrorResponse& r);

// MS-SMB2 2.2.2.2.1 Symbolic Link Error Response, returned with
// STATUS_STOPPED_ON_SYMLINK when a path crosses a symbolic link.
struct SymbolicLinkErrorResponse {
  std::uint16_t unparsed_path_length = 0;  // bytes of the path not yet parsed
  std::string substitute_name;             // UTF-8
  std::string print_name;                  // UTF-8
  std::uint32_t flags = 0;                 // kSymlinkFlagRelative
};
inline constexpr std::uint32_t kSymLinkErrorTag = 0x4C4D5953;  // "SYML"
inline constexpr std::uint32_t kIoReparseTagSymlink = 0xA000000C;
inline constexpr std::uint32_t kSymlinkFlagRelative = 0x00000001;

// Parses ErrorData (or the data of a default error context) as a Symbolic
// Link Error Response. Errors: malformed_response.
Result<SymbolicLinkErrorResponse> ParseSymbolicLinkError(ByteSpan error_data);
// Appends the Symbolic Link Error Response (for tests and fakes).
void Encode(const SymbolicLinkErrorResponse& s, WireWriter& w);

}  // namespace smbgate::smb2
