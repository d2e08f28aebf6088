#include "smb2/codec/session_setup.h"

#include "smb2/codec/body.h"

namespace smbgate::smb2 {
namespace {

constexpr std::size_t kRequestFixedEnd = kHeaderSize + 24;
constexpr std::size_t kResponseFixedEnd = kHeaderSize + 8;

// The four-byte bodies (StructureSize 4, Reserved) of LOGOFF and ECHO.
void EncodeEmpty(WireWriter& w) {
  w.U16(4);
  w.U16(0);
}
template <class T>
Result<T> DecodeEmpty(ByteSpan msg, Command cmd) {
  auto body = OpenBody(msg, cmd, 4);
  if (!body) return body.error();
  return T{};
}

}  // namespace

// MS-SMB2 2.2.5: StructureSize 25, Flags, SecurityMode, Capabilities,
// Channel, SecurityBufferOffset, SecurityBufferLength, PreviousSessionId,
// Buffer.
void Encode(const SessionSetupRequest& q, WireWriter& w) {
  w.U16(25);
  w.U8(q.flags);
  w.U8(q.security_mode);
  w.U32(q.capabilities);
  w.U32(q.channel);
  w.U16(static_cast<std::uint16_t>(kRequestFixedEnd));
  w.U16(static_cast<std::uint16_t>(q.security_buffer.size()));
  w.U64(q.previous_session_id);
  const std::size_t buffer_start = w.pos();
  w.Bytes(q.security_buffer);
  PadEmptyBuffer(w, buffer_start);
}

Result<SessionSetupRequest> DecodeSessionSetupRequest(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kSessionSetup, 25);
  if (!body) return body.error();
  WireReader& r = *body;
  SessionSetupRequest q;
  q.flags = r.U8();
  q.security_mode = r.U8();
  q.capabilities = r.U32();
  q.channel = r.U32();
  const std::uint16_t off = r.U16();
  const std::uint16_t len = r.U16();
  q.previous_session_id = r.U64();
  q.security_buffer = Field(r, off, len, kRequestFixedEnd);
  if (!r.ok()) return errc::malformed_response;
  return q;
}

// MS-SMB2 2.2.6: StructureSize 9, SessionFlags, SecurityBufferOffset,
// SecurityBufferLength, Buffer.
void Encode(const SessionSetupResponse& p, WireWriter& w) {
  w.U16(9);
  w.U16(p.session_flags);
  w.U16(static_cast<std::uint16_t>(kResponseFixedEnd));
  w.U16(static_cast<std::uint16_t>(p.security_buffer.size()));
  w.Bytes(p.security_buffer);
}

Result<SessionSetupResponse> DecodeSessionSetupResponse(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kSessionSetup, 9);
  if (!body) return body.error();
  WireReader& r = *body;
  SessionSetupResponse p;
  p.session_flags = r.U16();
  const std::uint16_t off = r.U16();
  const std::uint16_t len = r.U16();
  p.security_buffer = Field(r, off, len, kResponseFixedEnd);
  if (!r.ok()) return errc::malformed_response;
  return p;
}

void Encode(const LogoffRequest&, WireWriter& w) { EncodeEmpty(w); }
Result<LogoffRequest> DecodeLogoffRequest(ByteSpan msg) {
  return DecodeEmpty<LogoffRequest>(msg, Command::kLogoff);
}
void Encode(const LogoffResponse&, WireWriter& w) { EncodeEmpty(w); }
Result<LogoffResponse> DecodeLogoffResponse(ByteSpan msg) {
  return DecodeEmpty<LogoffResponse>(msg, Command::kLogoff);
}
void Encode(const EchoRequest&, WireWriter& w) { EncodeEmpty(w); }
Result<EchoRequest> DecodeEchoRequest(ByteSpan msg) {
  return DecodeEmpty<EchoRequest>(msg, Command::kEcho);
}
void Encode(const EchoResponse&, WireWriter& w) { EncodeEmpty(w); }
Result<EchoResponse> DecodeEchoResponse(ByteSpan msg) {
  return DecodeEmpty<EchoResponse>(msg, Command::kEcho);
}

}  // namespace smbgate::smb2
