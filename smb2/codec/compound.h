// Frames on the wire: MS-SMB2 3.2.4.1.4 compounded messages (chained by
// NextCommand), the 2.2.41 TRANSFORM_HEADER of encrypted messages, and the
// 2.2.42 COMPRESSION_TRANSFORM_HEADER, recognised and rejected.
//
// A frame is the payload of one Direct TCP transport packet (the 4-byte
// length prefix already stripped).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "auth/common/result.h"
#include "smb2/codec/wire.h"

namespace smbgate::smb2 {

inline constexpr std::uint32_t kTransformProtocolId = 0x424D53FD;
inline constexpr std::uint32_t kCompressionProtocolId = 0x424D53FC;
inline constexpr std::size_t kTransformHeaderSize = 52;
// The AEAD associated data: the transform header from Nonce to SessionId.
inline constexpr std::size_t kTransformAadOffset = 20;
inline constexpr std::size_t kTransformAadSize = 32;
// MS-SMB2 2.2.41 Flags (3.1.1) / EncryptionAlgorithm (3.0, 3.0.2)
inline constexpr std::uint16_t kTransformFlagEncrypted = 0x0001;

enum class FrameKind {
  kSmb2,        // 0xFE 'SMB': plain SMB2 (possibly compounded)
  kTransform,   // 0xFD 'SMB': encrypted
  kCompressed,  // 0xFC 'SMB': compressed (not supported by smbgate)
  kUnknown,     // anything else, including SMB1 (0xFF 'SMB') and short
};
// Looks at the ProtocolId only.
FrameKind ClassifyFrame(ByteSpan frame) noexcept;

// Splits a received plain SMB2 frame into its messages. Each message starts
// with the 0xFE 'SMB' ProtocolId; NextCommand of each but the last is a
// multiple of 8, at least 64, strictly advancing and inside the frame; the
// last has NextCommand 0 and runs to the end of the frame. Each span includes
// its padding (what its signature covers). Errors: malformed_response
// (also for a transform or compressed frame: decrypt first).
Result<std::vector<ByteSpan>> SplitCompound(ByteSpan frame);

// Pads `message` (a whole SMB2 message) to a multiple of 8 and sets its
// NextCommand to the padded size, or, when `last`, sets NextCommand to 0
// without padding. Lets the caller sign each member after this step.
void PrepareCompoundMember(Bytes& message, bool last);
// Concatenates messages into one frame, PrepareCompoundMember on each. The
// caller sets kFlagRelatedOperations where wanted (and signs the members;
// signing after building needs each member's span, see SplitCompound).
Bytes BuildCompound(std::vector<Bytes> messages);

// MS-SMB2 2.2.41 SMB2 TRANSFORM_HEADER
struct TransformHeader {
  std::array<std::uint8_t, 16> signature{};
  std::array<std::uint8_t, 16> nonce{};  // 11 bytes used with CCM, 12 GCM
  std::uint32_t original_message_size = 0;
  std::uint16_t flags = kTransformFlagEncrypted;
  std::uint64_t session_id = 0;
};
// Appends the 52-byte header.
void Encode(const TransformHeader& t, WireWriter& w);
// Decodes the header at the start of `frame` (ProtocolId 0xFD 'SMB', the
// ciphertext being the rest of the frame, whose size must equal
// OriginalMessageSize). Errors: malformed_response.
Result<TransformHeader> DecodeTransformHeader(ByteSpan frame);

}  // namespace smbgate::smb2
