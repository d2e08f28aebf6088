// Transport: how a Connection's frames travel. The real one is TCP with the
// 4-byte Direct TCP header (MS-SMB2 2.1, smb2/client/tcp_transport.h); unit
// tests script a fake one. A frame is the payload of one transport packet
// (an SMB2 message, a compound chain or a TRANSFORM_HEADER frame).
//
// Threading: every member is called on the connection's I/O thread, and the
// handlers are called there too.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include "auth/common/bytes.h"
#include "auth/common/result.h"

namespace smbgate::smb2 {

struct ConnectionOptions;

class Transport {
 public:
  struct Handlers {
    // One received frame. Called for each frame in order until on_error.
    std::function<void(std::shared_ptr<Bytes> frame)> on_frame;
    // The transport failed or was closed by the peer; called at most once,
    // and nothing more is delivered afterwards.
    std::function<void(std::error_code)> on_error;
  };

  virtual ~Transport() = default;
  // Starts delivering received frames.
  virtual void Start(Handlers handlers) = 0;
  // Queues one frame for sending; frames leave in the order queued.
  virtual void Send(Bytes frame) = 0;
  // Stops reading and writing and closes; no handler runs afterwards.
  virtual void Close() = 0;
  // Frames larger than this are a protocol error (on_error).
  virtual void SetMaxFrame(std::size_t bytes) = 0;
  // The remote end as "host:port", for messages.
  virtual std::string peer() const = 0;
};

// Runs a function on the connection's I/O thread (later, never inline).
using Post = std::function<void(std::function<void()>)>;
// Makes a connected transport (blocking the caller, not the I/O thread);
// `post` is how it hands its work and its handlers to the I/O thread.
using TransportFactory = std::function<Result<std::unique_ptr<Transport>>(const ConnectionOptions&, Post post)>;

}  // namespace smbgate::smb2
