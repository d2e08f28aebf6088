// MS-SMB2 2.2.30 CANCEL Request. It has no response. The header carries the
// MessageId (sync) or AsyncId (async, with kFlagAsyncCommand) of the request
// to cancel, and the CANCEL itself is neither given a new MessageId nor
// charged credits (MS-SMB2 3.2.4.24).
#pragma once

#include "auth/common/result.h"
#include "smb2/codec/wire.h"

namespace smbgate::smb2 {

// MS-SMB2 2.2.30 SMB2 CANCEL Request
struct CancelRequest {};

void Encode(const CancelRequest& r, WireWriter& w);
// Errors: malformed_response, bad_structure_size, unexpected_command.
Result<CancelRequest> DecodeCancelRequest(ByteSpan msg);

}  // namespace smbgate::smb2
