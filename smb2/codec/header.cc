#include "smb2/codec/header.h"

namespace smbgate::smb2 {

// MS-SMB2 2.2.1: ProtocolId, StructureSize (64), CreditCharge,
// Status/ChannelSequence, Command, CreditRequest/Response, Flags,
// NextCommand, MessageId, then AsyncId (async) or Reserved+TreeId (sync),
// SessionId, Signature.
void Encode(const Header& h, WireWriter& w) {
  w.U32(kProtocolId);
  w.U16(kHeaderSize);
  w.U16(h.credit_charge);
  w.U32(h.status);
  w.U16(static_cast<std::uint16_t>(h.command));
  w.U16(h.credits);
  w.U32(h.flags);
  w.U32(h.next_command);
  w.U64(h.message_id);
  if (h.is_async()) {
    w.U64(h.async_id);
  } else {
    w.U32(h.process_id);
    w.U32(h.tree_id);
  }
  w.U64(h.session_id);
  w.Bytes(h.signature);
}

Result<Header> DecodeHeader(ByteSpan msg) {
  if (msg.size() < kHeaderSize) return errc::malformed_response;
  WireReader r(msg);
  if (r.U32() != kProtocolId) return errc::malformed_response;
  if (r.U16() != kHeaderSize) return errc::bad_structure_size;
  Header h;
  h.credit_charge = r.U16();
  h.status = r.U32();
  h.command = static_cast<Command>(r.U16());
  h.credits = r.U16();
  h.flags = r.U32();
  h.next_command = r.U32();
  h.message_id = r.U64();
  if (h.is_async()) {
    h.async_id = r.U64();
  } else {
    h.process_id = r.U32();
    h.tree_id = r.U32();
  }
  h.session_id = r.U64();
  ByteSpan sig = r.Bytes(kSignatureSize);
  if (!r.ok()) return errc::malformed_response;
  std::copy(sig.begin(), sig.end(), h.signature.begin());
  return h;
}

}  // namespace smbgate::smb2
