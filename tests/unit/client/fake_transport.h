// A scripted Transport for unit tests of the Connection: no socket; each
// frame the connection sends is handed to a script on the connection's I/O
// thread, and the frames the script returns are delivered back as received
// frames, in order.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "smb2/client/transport.h"

namespace smbgate::test {

class FakeTransport final : public smb2::Transport {
 public:
  // Takes one sent frame (as it left: plain, compound or TRANSFORM_HEADER)
  // and returns the frames to deliver.
  using Script = std::function<std::vector<Bytes>(const Bytes& frame)>;

  // What the test keeps: every frame sent, and a way to deliver more.
  struct Shared {
    std::mutex mu;
    std::vector<Bytes> sent;
    FakeTransport* live = nullptr;  // while the connection owns it
  };

  // The factory for Connection::Open.
  static smb2::TransportFactory Factory(Script script, std::shared_ptr<Shared> shared) {
    return [script, shared](const smb2::ConnectionOptions&,
                            smb2::Post post) -> Result<std::unique_ptr<smb2::Transport>> {
      return std::unique_ptr<smb2::Transport>(new FakeTransport(script, shared, std::move(post)));
    };
  }

  ~FakeTransport() override {
    std::lock_guard<std::mutex> l(shared_->mu);
    shared_->live = nullptr;
  }

  void Start(Handlers h) override { handlers_ = std::move(h); }
  void Send(Bytes frame) override {
    if (closed_) return;
    {
      std::lock_guard<std::mutex> l(shared_->mu);
      shared_->sent.push_back(frame);
    }
    for (Bytes& reply : script_(frame)) Deliver(std::move(reply));
  }
  void Close() override { closed_ = true; }
  void SetMaxFrame(std::size_t) override {}
  std::string peer() const override { return "fake:0"; }

 private:
  FakeTransport(Script script, std::shared_ptr<Shared> shared, smb2::Post post)
      : script_(std::move(script)), shared_(std::move(shared)), post_(std::move(post)) {
    std::lock_guard<std::mutex> l(shared_->mu);
    shared_->live = this;
  }
  void Deliver(Bytes frame) {
    auto f = std::make_shared<Bytes>(std::move(frame));
    post_([this, f] {
      if (!closed_) handlers_.on_frame(f);
    });
  }

  Script script_;
  std::shared_ptr<Shared> shared_;
  smb2::Post post_;
  Handlers handlers_;
  bool closed_ = false;
};

}  // namespace smbgate::test
