#include "smb2/codec/cancel.h"

#include "smb2/codec/body.h"

namespace smbgate::smb2 {

// MS-SMB2 2.2.30: StructureSize 4, Reserved.
void Encode(const CancelRequest&, WireWriter& w) {
  w.U16(4);
  w.U16(0);
}

Result<CancelRequest> DecodeCancelRequest(ByteSpan msg) {
  auto body = OpenBody(msg, Command::kCancel, 4);
  if (!body) return body.error();
  return CancelRequest{};
}

}  // namespace smbgate::smb2
