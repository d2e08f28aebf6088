// The units the Connection sends and receives: one Request (a message to
// fill in, sign or encrypt and send) and one Response (a verified message
// with its header), and the handler that receives the outcome.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "auth/common/bytes.h"
#include "auth/common/result.h"
#include "smb2/codec/header.h"

namespace smbgate::smb2 {

// One request handed to Send(). `message` holds a 64-byte header region
// followed by the encoded body; the connection fills the header (message id,
// credits, session and tree ids, flags) and signs it.
struct Request {
  Command command = Command::kEcho;
  Bytes message;
  std::uint64_t session_id = 0;
  std::uint32_t tree_id = 0;
  // Bytes that the request sends or expects back, whichever is larger; sets
  // the CreditCharge of READ, WRITE, IOCTL, QUERY_* (MS-SMB2 3.2.4.1.5).
  std::uint32_t payload_size = 0;
  // Sign with the session's key (ignored before the session has one).
  bool sign = true;
  // Keep a copy of the request as sent (session setup's preauth hash).
  bool keep_sent = false;
  // Sent again after a lost connection: SMB2_FLAGS_REPLAY_OPERATION on 3.x
  // (MS-SMB2 3.2.4.1.1, 3.2.5.1.6), so the server can recognise a create,
  // write or lock it already carried out.
  bool replay = false;
  // SMB2_FLAGS_DFS_OPERATIONS: a CREATE on a DFS share whose name is a DFS
  // path (MS-SMB2 3.2.4.3).
  bool dfs_operations = false;
  std::chrono::milliseconds timeout{0};  // 0: the connection's default
};

// One response. `message` is a view into `frame` (kept alive by the
// shared_ptr), from the SMB2 header to the end of this message.
struct Response {
  std::shared_ptr<const Bytes> frame;
  ByteSpan message;
  Header header;
  Bytes sent;  // the request as sent, when Request::keep_sent
  bool encrypted = false;  // it came in a TRANSFORM_HEADER and decrypted
  std::uint32_t status() const noexcept { return header.status; }
};

using ResponseHandler = std::function<void(Result<Response>)>;

}  // namespace smbgate::smb2
