// Asking a server for a DFS referral: FSCTL_DFS_GET_REFERRALS (MS-SMB2
// 3.2.4.20.3, 2.2.31) on a tree connect to the server's IPC$, with a
// REQ_GET_DFS_REFERRAL (MS-DFSC 2.2.2) for the path, decoded into a
// RESP_GET_DFS_REFERRAL (MS-DFSC 2.2.4).
#pragma once

#include <memory>
#include <string>

#include "auth/common/result.h"
#include "smb2/client/session.h"
#include "smb2/codec/dfs_referral.h"

namespace smbgate::smb2 {

// Connects `session` to \\server\IPC$, sends the referral request for
// `path` ("\server\share\link\rest", MS-DFSC 3.1.4.2), disconnects the IPC$
// tree. Blocking: never call on a connection's I/O thread. Errors: the
// server's NTSTATUS (STATUS_NOT_FOUND: no link covers the path;
// STATUS_FS_DRIVER_REQUIRED: the server does no DFS), errc::malformed_response.
Result<DfsReferralResponse> GetDfsReferral(const std::shared_ptr<Session>& session, const std::string& server,
                                           const std::string& path);

}  // namespace smbgate::smb2
