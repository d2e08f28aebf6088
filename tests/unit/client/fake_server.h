// A scripted SMB2 "server" on 127.0.0.1 for unit tests of the Connection:
// it accepts one TCP connection, hands each received message to a script,
// and sends whatever frames the script returns. Real sockets, fake server.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "auth/common/bytes.h"
#include "smb2/codec/header.h"

namespace smbgate::test {

class FakeServer {
 public:
  struct Reply {
    std::vector<Bytes> frames;  // each sent with its own 4-byte length
    bool close_after = false;   // drop the connection after sending
  };
  // Called on the server thread with each request message (no length).
  using Script = std::function<Reply(const Bytes& request, const smb2::Header& h)>;

  explicit FakeServer(Script script);
  ~FakeServer();

  std::uint16_t port() const { return port_; }
  // Requests seen so far (copies).
  std::vector<Bytes> requests();
  // Sends a frame unprompted (e.g. a late response).
  void SendRaw(const Bytes& frame_with_length);
  void CloseClient();

  // A response message: header (response flag, given status, mid, credits)
  // plus an encoded body.
  template <class Body>
  static Bytes Response(const smb2::Header& req, std::uint32_t status, const Body& body,
                        std::uint16_t credits = 64) {
    smb2::Header h = req;
    h.flags = smb2::kFlagServerToRedir;
    h.status = status;
    h.credits = credits;
    h.signature = {};
    h.next_command = 0;  // each response goes in its own frame
    smb2::WireWriter w;
    smb2::Encode(h, w);
    Encode(body, w);  // found by argument-dependent lookup
    return w.Take();
  }

 private:
  void Run();
  Script script_;
  int listen_fd_ = -1;
  std::atomic<int> client_fd_{-1};
  std::mutex fd_mu_;  // closing the client descriptor vs. writing to it
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<Bytes> requests_;
  std::atomic<bool> stop_{false};
};

}  // namespace smbgate::test
