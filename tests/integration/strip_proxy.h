// A hostile man in the middle for negative tests: a TCP proxy on 127.0.0.1
// that forwards to a loopback SMB server and rewrites the server's responses
// so the client's signature checks can be tested against a real server.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace smbgate::test {

class StripProxy {
 public:
  enum class Mode {
    kPassThrough,        // forward both ways unchanged
    kStripSignatures,    // clear SMB2_FLAGS_SIGNED and zero the signature of
                         // every response
    kCorruptSignatures,  // flip one bit of the signature of every signed
                         // response
    kCorruptEncrypted,   // flip one ciphertext bit of every encrypted
                         // (TRANSFORM_HEADER) response
  };

  // Forwards to `upstream_host:upstream_port`, which must be a loopback
  // address (127.0.0.0/8 or ::1): this proxy never talks to a real network.
  StripProxy(std::string upstream_host, std::uint16_t upstream_port, Mode mode);
  StripProxy(const StripProxy&) = delete;
  StripProxy& operator=(const StripProxy&) = delete;
  // Stops the worker and closes every connection.
  ~StripProxy();

  // Listens on 127.0.0.1 and a free port and starts the worker thread.
  [[nodiscard]] bool Start(std::string* error);
  // Joins the worker and closes every socket. Idempotent.
  void Stop();

  // Takes effect for the next response frame; thread-safe. Switching after
  // the session is set up lets a test attack only the signed traffic.
  void set_mode(Mode m) { mode_.store(m); }
  // Rewrites the client's NEGOTIATE requests to offer only the dialects up
  // to `max_dialect` (0x0210: a downgrade to SMB 2.1), as a man in the
  // middle would; 0 (the default) leaves them alone. Thread-safe; takes
  // effect for the next NEGOTIATE.
  void set_downgrade(std::uint16_t max_dialect) { downgrade_.store(max_dialect); }
  // Replaces the server's next plain response to `command` (an MS-SMB2
  // 2.2.1 command code) with an unsigned STATUS_USER_SESSION_DELETED error
  // response of the same MessageId: what a server that lost the session
  // answers. One-shot; thread-safe.
  void ExpireSessionOnNext(std::uint16_t command) {
    expire_command_.store(command);
    expire_armed_.store(true);
  }
  // Drops the server's next plain response to `command` and closes both
  // sides of that connection: the request was carried out, its answer lost
  // with the network (what replay must cope with). One-shot; thread-safe.
  void CutOnNextResponse(std::uint16_t command) {
    cut_command_.store(command);
    cut_armed_.store(true);
  }
  std::uint64_t cuts() const { return cuts_.load(); }
  // Responses replaced that way so far.
  std::uint64_t expired() const { return expired_.load(); }
  // NEGOTIATE requests rewritten so far.
  std::uint64_t downgraded() const { return downgraded_.load(); }
  Mode mode() const { return mode_.load(); }

  const std::string& host() const { return host_; }  // "127.0.0.1"
  std::uint16_t port() const { return port_; }

  // Counters, thread-safe.
  std::uint64_t connections() const { return connections_.load(); }
  // Server-to-client SMB2 messages seen (each message of a compound counts).
  std::uint64_t responses() const { return responses_.load(); }
  // Of those, the ones changed by the current mode.
  std::uint64_t rewritten() const { return rewritten_.load(); }

  // Rewrites the SMB2 messages of one frame payload (after the 4-byte
  // length) in place according to `mode`, following NextCommand through a
  // compound; leaves non-SMB2 payloads (transform, compression) alone.
  // Returns how many messages were changed. Exposed for tests.
  static int RewriteFrame(std::uint8_t* payload, std::size_t size, Mode mode,
                          int* messages_seen);
  // Cuts the dialect list of a NEGOTIATE request frame payload to the
  // dialects <= max_dialect (they are sent in ascending order); returns
  // whether it changed anything. Exposed for tests.
  static bool DowngradeNegotiate(std::uint8_t* payload, std::size_t size,
                                 std::uint16_t max_dialect);

 private:
  struct Conn;
  void Run();

  std::string upstream_host_;
  std::uint16_t upstream_port_;
  std::atomic<Mode> mode_;
  std::string host_ = "127.0.0.1";
  std::uint16_t port_ = 0;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};  // a pipe: Stop() writes a byte to end Run()
  std::thread worker_;
  std::atomic<std::uint64_t> connections_{0};
  std::atomic<std::uint64_t> responses_{0};
  std::atomic<std::uint64_t> rewritten_{0};
  std::atomic<std::uint16_t> downgrade_{0};
  std::atomic<std::uint16_t> expire_command_{0};
  std::atomic<bool> expire_armed_{false};
  std::atomic<std::uint64_t> expired_{0};
  std::atomic<std::uint16_t> cut_command_{0};
  std::atomic<bool> cut_armed_{false};
  std::atomic<std::uint64_t> cuts_{0};
  std::atomic<std::uint64_t> downgraded_{0};
};

}  // namespace smbgate::test
