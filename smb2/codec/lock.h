// MS-SMB2 2.2.26 / 2.2.27 LOCK.
#pragma once

#include <cstdint>
#include <vector>

#include "auth/common/result.h"
#include "smb2/codec/file_id.h"
#include "smb2/codec/wire.h"

namespace smbgate::smb2 {

// MS-SMB2 2.2.26.1 SMB2_LOCK_ELEMENT Flags
inline constexpr std::uint32_t kLockFlagSharedLock = 0x00000001;
inline constexpr std::uint32_t kLockFlagExclusiveLock = 0x00000002;
inline constexpr std::uint32_t kLockFlagUnlock = 0x00000004;
inline constexpr std::uint32_t kLockFlagFailImmediately = 0x00000010;

// Cap on LockCount before allocation (each element is 24 bytes, so a
// message can hold at most this many anyway when under 1.5 MiB).
inline constexpr std::size_t kMaxLockElements = 65535;

// MS-SMB2 2.2.26.1 SMB2_LOCK_ELEMENT
struct LockElement {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::uint32_t flags = 0;
};

// MS-SMB2 2.2.26 SMB2 LOCK Request. LockSequenceNumber (4 bits) and
// LockSequenceIndex (28 bits) share one 32-bit field on the wire.
struct LockRequest {
  std::uint8_t lock_sequence_number = 0;  // low 4 bits used
  std::uint32_t lock_sequence_index = 0;  // low 28 bits used
  FileId file_id;
  std::vector<LockElement> locks;  // at least one
};

// MS-SMB2 2.2.27 SMB2 LOCK Response
struct LockResponse {};

// Errors of the decoders: malformed_response (LockCount 0 or past the
// message), bad_structure_size, unexpected_command.
void Encode(const LockRequest& r, WireWriter& w);
Result<LockRequest> DecodeLockRequest(ByteSpan msg);
void Encode(const LockResponse& r, WireWriter& w);
Result<LockResponse> DecodeLockResponse(ByteSpan msg);

}  // namespace smbgate::smb2
