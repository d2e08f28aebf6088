#include "smb2/codec/compound.h"

#include "smb2/codec/header.h"

namespace smbgate::smb2 {
namespace {

constexpr std::size_t kNextCommandOffset = 20;

std::uint32_t ProtocolIdAt(ByteSpan s, std::size_t off) {
  WireReader r(s);
  r.Seek(off);
  const std::uint32_t id = r.U32();
  return r.ok() ? id : 0;
}

}  // namespace

FrameKind ClassifyFrame(ByteSpan frame) noexcept {
  switch (ProtocolIdAt(frame, 0)) {
    case kProtocolId: return FrameKind::kSmb2;
    case kTransformProtocolId: return FrameKind::kTransform;
    case kCompressionProtocolId: return FrameKind::kCompressed;
    default: return FrameKind::kUnknown;
  }
}

Result<std::vector<ByteSpan>> SplitCompound(ByteSpan frame) {
  std::vector<ByteSpan> out;
  const std::size_t n = frame.size();
  std::size_t off = 0;
  // Every member is at least 64 bytes, so the loop runs at most n/64 times.
  while (true) {
    if (!InBounds(off, kHeaderSize, n) || ProtocolIdAt(frame, off) != kProtocolId) {
      return errc::malformed_response;
    }
    WireReader r(frame);
    r.Seek(off + kNextCommandOffset);
    const std::uint32_t next = r.U32();
    if (!r.ok()) return errc::malformed_response;
    if (next == 0) {
      out.push_back(frame.subspan(off));
      return out;
    }
    // MS-SMB2 3.3.5.2.7 / 3.2.5.1.9: each member 8-byte aligned; the next
    // header must fit in the frame after this member.
    if (next % 8 != 0 || next < kHeaderSize || !InBounds(off, next, n) ||
        n - off - next < kHeaderSize) {
      return errc::malformed_response;
    }
    out.push_back(frame.subspan(off, next));
    off += next;
  }
}

void PrepareCompoundMember(Bytes& message, bool last) {
  if (message.size() < kHeaderSize) return;  // not a message; left alone
  WireWriter w(&message);
  if (last) {
    w.PutU32At(kNextCommandOffset, 0);
    return;
  }
  w.Align(8);
  w.PutU32At(kNextCommandOffset, static_cast<std::uint32_t>(message.size()));
}

Bytes BuildCompound(std::vector<Bytes> messages) {
  Bytes frame;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    PrepareCompoundMember(messages[i], i + 1 == messages.size());
    frame.insert(frame.end(), messages[i].begin(), messages[i].end());
  }
  return frame;
}

// MS-SMB2 2.2.41: ProtocolId, Signature, Nonce, OriginalMessageSize,
// Reserved, Flags/EncryptionAlgorithm, SessionId.
void Encode(const TransformHeader& t, WireWriter& w) {
  w.U32(kTransformProtocolId);
  w.Bytes(t.signature);
  w.Bytes(t.nonce);
  w.U32(t.original_message_size);
  w.U16(0);
  w.U16(t.flags);
  w.U64(t.session_id);
}

Result<TransformHeader> DecodeTransformHeader(ByteSpan frame) {
  WireReader r(frame);
  if (r.U32() != kTransformProtocolId) return errc::malformed_response;
  TransformHeader t;
  ByteSpan sig = r.Bytes(16);
  ByteSpan nonce = r.Bytes(16);
  t.original_message_size = r.U32();
  r.Skip(2);
  t.flags = r.U16();
  t.session_id = r.U64();
  if (!r.ok()) return errc::malformed_response;
  std::copy(sig.begin(), sig.end(), t.signature.begin());
  std::copy(nonce.begin(), nonce.end(), t.nonce.begin());
  // Flags (3.1.1) and EncryptionAlgorithm (3.0.x, AES-128-CCM) are both
  // 0x0001; AES-CCM and AES-GCM ciphertext is as long as the plaintext.
  if (t.flags != kTransformFlagEncrypted ||
      frame.size() - kTransformHeaderSize != t.original_message_size) {
    return errc::malformed_response;
  }
  return t;
}

}  // namespace smbgate::smb2
