#include "smb2/codec/lock.h"

#include "smb2/codec/body.h"

namespace smbgate::smb2 {
namespace {

constexpr std::size_t kLockElementSize = 24;
constexpr std::size_t kLocksStart = kHeaderSize + 24;

}  // namespace

// MS-SMB2 2.2.26: StructureSize 48, LockCount, LockSequenceNumber (low 4
// bits) / LockSequenceIndex (high 28 bits), FileId, Locks. StructureSize
// counts one lock element.
void Encode(const LockRequest& q, WireWriter& w) {
  w.U16(48);
  w.U16(static_cast<std::uint16_t>(q.locks.size()));
  w.U32((q.lock_sequence_index << 4) | (q.lock_sequence_number & 0x0F));
  Encode(q.file_id, w);
  for (const LockElement& l : q.locks) {
    w.U64(l.offset);
    w.U64(l.length);
    w.U32(l.flags);
    w.U32(0);
  }
}

Result<LockRequest> DecodeLockRequest(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kLock, 48);
  if (!body) return body.error();
  WireReader& r = *body;
  LockRequest q;
  const std::uint16_t count = r.U16();
  const std::uint32_t seq = r.U32();
  q.lock_sequence_number = static_cast<std::uint8_t>(seq & 0x0F);
  q.lock_sequence_index = seq >> 4;
  q.file_id = ReadFileId(r);
  // All elements must be in the message before any is allocated.
  if (!r.ok() || count == 0 || count > kMaxLockElements ||
      !InBounds(kLocksStart, std::size_t{count} * kLockElementSize, msg.size())) {
    return errc::malformed_response;
  }
  q.locks.reserve(count);
  for (std::uint16_t i = 0; i < count; ++i) {
    LockElement l;
    l.offset = r.U64();
    l.length = r.U64();
    l.flags = r.U32();
    r.Skip(4);
    q.locks.push_back(l);
  }
  if (!r.ok()) return errc::malformed_response;
  return q;
}

// MS-SMB2 2.2.27: StructureSize 4, Reserved.
void Encode(const LockResponse&, WireWriter& w) {
  w.U16(4);
  w.U16(0);
}

Result<LockResponse> DecodeLockResponse(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kLock, 4);
  if (!body) return body.error();
  return LockResponse{};
}

}  // namespace smbgate::smb2
