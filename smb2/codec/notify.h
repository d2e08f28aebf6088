// MS-SMB2 2.2.35 / 2.2.36 CHANGE_NOTIFY with the MS-FSCC 2.7.1
// FILE_NOTIFY_INFORMATION entries, and the OPLOCK_BREAK command: oplock and
// lease break notifications (2.2.23.1 / 2.2.23.2), acknowledgments
// (2.2.24.1 / 2.2.24.2) and responses (2.2.25.1 / 2.2.25.2).
//
// A break notification arrives unsolicited (MessageId 0xFFFF...FF, command
// OPLOCK_BREAK); the two kinds share the command and differ by StructureSize
// (24 oplock, 44 lease): see ClassifyOplockBreak. Decoded spans point INTO
// the message passed to the decoder: a decoded struct must not outlive that
// buffer.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "auth/common/result.h"
#include "smb2/codec/file_id.h"
#include "smb2/codec/wire.h"

namespace smbgate::smb2 {

// MS-SMB2 2.2.35 Flags
inline constexpr std::uint16_t kWatchTree = 0x0001;
// MS-SMB2 2.2.35 CompletionFilter
inline constexpr std::uint32_t kFileNotifyChangeFileName = 0x00000001;
inline constexpr std::uint32_t kFileNotifyChangeDirName = 0x00000002;
inline constexpr std::uint32_t kFileNotifyChangeAttributes = 0x00000004;
inline constexpr std::uint32_t kFileNotifyChangeSize = 0x00000008;
inline constexpr std::uint32_t kFileNotifyChangeLastWrite = 0x00000010;
inline constexpr std::uint32_t kFileNotifyChangeLastAccess = 0x00000020;
inline constexpr std::uint32_t kFileNotifyChangeCreation = 0x00000040;
inline constexpr std::uint32_t kFileNotifyChangeEa = 0x00000080;
inline constexpr std::uint32_t kFileNotifyChangeSecurity = 0x00000100;
inline constexpr std::uint32_t kFileNotifyChangeStreamName = 0x00000200;
inline constexpr std::uint32_t kFileNotifyChangeStreamSize = 0x00000400;
inline constexpr std::uint32_t kFileNotifyChangeStreamWrite = 0x00000800;

// MS-FSCC 2.7.1 Action
inline constexpr std::uint32_t kFileActionAdded = 0x00000001;
inline constexpr std::uint32_t kFileActionRemoved = 0x00000002;
inline constexpr std::uint32_t kFileActionModified = 0x00000003;
inline constexpr std::uint32_t kFileActionRenamedOldName = 0x00000004;
inline constexpr std::uint32_t kFileActionRenamedNewName = 0x00000005;
inline constexpr std::uint32_t kFileActionAddedStream = 0x00000006;
inline constexpr std::uint32_t kFileActionRemovedStream = 0x00000007;
inline constexpr std::uint32_t kFileActionModifiedStream = 0x00000008;

inline constexpr std::size_t kMaxNotifyEntries = 1u << 16;

// MS-SMB2 2.2.35 SMB2 CHANGE_NOTIFY Request
struct ChangeNotifyRequest {
  std::uint16_t flags = 0;
  std::uint32_t output_buffer_length = 0;
  FileId file_id;
  std::uint32_t completion_filter = 0;
};

// MS-SMB2 2.2.36 SMB2 CHANGE_NOTIFY Response
struct ChangeNotifyResponse {
  ByteSpan buffer;  // FILE_NOTIFY_INFORMATION entries
};

// MS-FSCC 2.7.1 FILE_NOTIFY_INFORMATION
struct FileNotifyInformation {
  std::uint32_t action = 0;
  std::string file_name;  // UTF-8, relative to the watched directory

  friend bool operator==(const FileNotifyInformation&,
                         const FileNotifyInformation&) = default;
};

// Errors of the decoders: malformed_response, bad_structure_size,
// unexpected_command.
void Encode(const ChangeNotifyRequest& r, WireWriter& w);
Result<ChangeNotifyRequest> DecodeChangeNotifyRequest(ByteSpan msg);
void Encode(const ChangeNotifyResponse& r, WireWriter& w);
Result<ChangeNotifyResponse> DecodeChangeNotifyResponse(ByteSpan msg);

// Parses the entries: NextEntryOffset a multiple of 4 (MS-FSCC 2.7.1: DWORD
// aligned), strictly advancing, inside the buffer, at most kMaxNotifyEntries;
// names valid UTF-16. Errors: malformed_response.
Result<std::vector<FileNotifyInformation>> ParseFileNotifyInformation(
    ByteSpan buf);
// Builds such a buffer (entries 4-aligned).
Bytes EncodeFileNotifyInformation(const std::vector<FileNotifyInformation>& e);

// MS-SMB2 2.2.23.2 Flags
inline constexpr std::uint32_t kNotifyBreakLeaseFlagAckRequired = 0x00000001;

// MS-SMB2 2.2.23.1 Oplock Break Notification; the same layout is the
// 2.2.24.1 Oplock Break Acknowledgment and 2.2.25.1 Oplock Break Response
// (StructureSize 24).
struct OplockBreak {
  std::uint8_t oplock_level = 0;
  FileId file_id;
};

// MS-SMB2 2.2.23.2 Lease Break Notification (StructureSize 44)
struct LeaseBreakNotification {
  std::uint16_t new_epoch = 0;
  std::uint32_t flags = 0;
  std::array<std::uint8_t, 16> lease_key{};
  std::uint32_t current_lease_state = 0;
  std::uint32_t new_lease_state = 0;
  std::uint32_t break_reason = 0;
  std::uint32_t access_mask_hint = 0;
  std::uint32_t share_mask_hint = 0;
};

// MS-SMB2 2.2.24.2 Lease Break Acknowledgment; the same layout is the
// 2.2.25.2 Lease Break Response (StructureSize 36).
struct LeaseBreakAck {
  std::uint32_t flags = 0;
  std::array<std::uint8_t, 16> lease_key{};
  std::uint32_t lease_state = 0;
  std::uint64_t lease_duration = 0;
};

enum class OplockBreakKind {
  kOplock,     // StructureSize 24: OplockBreak
  kLease,      // StructureSize 44: LeaseBreakNotification
  kLeaseAck,   // StructureSize 36: LeaseBreakAck (ack or response)
};
// Tells the OPLOCK_BREAK bodies apart by StructureSize. Errors:
// malformed_response (short, not OPLOCK_BREAK), bad_structure_size.
Result<OplockBreakKind> ClassifyOplockBreak(ByteSpan msg);

// Errors of the decoders: malformed_response, bad_structure_size,
// unexpected_command.
void Encode(const OplockBreak& r, WireWriter& w);
Result<OplockBreak> DecodeOplockBreak(ByteSpan msg);
void Encode(const LeaseBreakNotification& r, WireWriter& w);
Result<LeaseBreakNotification> DecodeLeaseBreakNotification(ByteSpan msg);
void Encode(const LeaseBreakAck& r, WireWriter& w);
Result<LeaseBreakAck> DecodeLeaseBreakAck(ByteSpan msg);

}  // namespace smbgate::smb2
