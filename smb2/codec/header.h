// MS-SMB2 2.2.1 SMB2 Packet Header (sync 2.2.1.2 and async 2.2.1.1 forms).
#pragma once

#include <array>
#include <cstdint>

#include "auth/common/result.h"
#include "smb2/codec/errors.h"
#include "smb2/codec/wire.h"

namespace smbgate::smb2 {

// MS-SMB2 2.2.1.2 Command codes.
enum class Command : std::uint16_t {
  kNegotiate = 0x0000,
  kSessionSetup = 0x0001,
  kLogoff = 0x0002,
  kTreeConnect = 0x0003,
  kTreeDisconnect = 0x0004,
  kCreate = 0x0005,
  kClose = 0x0006,
  kFlush = 0x0007,
  kRead = 0x0008,
  kWrite = 0x0009,
  kLock = 0x000A,
  kIoctl = 0x000B,
  kCancel = 0x000C,
  kEcho = 0x000D,
  kQueryDirectory = 0x000E,
  kChangeNotify = 0x000F,
  kQueryInfo = 0x0010,
  kSetInfo = 0x0011,
  kOplockBreak = 0x0012,
};

// MS-SMB2 2.2.1.2 Flags.
inline constexpr std::uint32_t kFlagServerToRedir = 0x00000001;
inline constexpr std::uint32_t kFlagAsyncCommand = 0x00000002;
inline constexpr std::uint32_t kFlagRelatedOperations = 0x00000004;
inline constexpr std::uint32_t kFlagSigned = 0x00000008;
inline constexpr std::uint32_t kFlagPriorityMask = 0x00000070;
inline constexpr std::uint32_t kFlagDfsOperations = 0x10000000;
inline constexpr std::uint32_t kFlagReplayOperation = 0x20000000;

inline constexpr std::size_t kHeaderSize = 64;
inline constexpr std::size_t kSignatureOffset = 48;
inline constexpr std::size_t kSignatureSize = 16;
inline constexpr std::uint32_t kProtocolId = 0x424D53FE;  // 0xFE 'S' 'M' 'B'
// MS-SMB2 2.2.1: MessageId of oplock/lease break notifications.
inline constexpr std::uint64_t kUnsolicitedMessageId = 0xFFFFFFFFFFFFFFFFull;

struct Header {
  std::uint16_t credit_charge = 0;
  // Status in responses; ChannelSequence (low 16 bits) in 3.x requests.
  std::uint32_t status = 0;
  Command command = Command::kNegotiate;
  // CreditRequest in requests, CreditResponse in responses.
  std::uint16_t credits = 0;
  std::uint32_t flags = 0;
  std::uint32_t next_command = 0;
  std::uint64_t message_id = 0;
  // Sync form: process_id (reserved) and tree_id; async form: async_id.
  std::uint32_t process_id = 0;
  std::uint32_t tree_id = 0;
  std::uint64_t async_id = 0;
  std::uint64_t session_id = 0;
  std::array<std::uint8_t, kSignatureSize> signature{};

  bool is_async() const noexcept { return flags & kFlagAsyncCommand; }
  bool is_response() const noexcept { return flags & kFlagServerToRedir; }
  bool is_signed() const noexcept { return flags & kFlagSigned; }
};

// Appends the 64-byte header. The async form is written when the flag is set.
void Encode(const Header& h, WireWriter& w);
// Decodes the header at the start of `msg`: checks ProtocolId and
// StructureSize (64). Errors: errc::malformed_response,
// errc::bad_structure_size.
Result<Header> DecodeHeader(ByteSpan msg);

// One whole message: the header, then the body of `pdu` (any request or
// response struct of smb2/codec with an `Encode(const T&, WireWriter&)`).
template <class T>
Bytes EncodeMessage(const Header& h, const T& pdu) {
  WireWriter w;
  Encode(h, w);
  Encode(pdu, w);
  return w.Take();
}

}  // namespace smbgate::smb2
