#include "fake_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace smbgate::test {
namespace {

bool ReadAll(int fd, std::uint8_t* p, std::size_t n) {
  while (n) {
    const ssize_t r = ::read(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

void WriteAll(int fd, const std::uint8_t* p, std::size_t n) {
  while (n) {
    const ssize_t r = ::send(fd, p, n, MSG_NOSIGNAL);
    if (r <= 0) return;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
}

}  // namespace

FakeServer::FakeServer(Script script) : script_(std::move(script)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 4) != 0) {
    throw std::runtime_error("FakeServer: bind/listen failed");
  }
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { Run(); });
}

FakeServer::~FakeServer() {
  stop_ = true;
  CloseClient();
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  thread_.join();
}

void FakeServer::CloseClient() {
  // Only the server thread closes the descriptor (it may be reading it):
  // a shutdown ends its read, and it closes on the way out.
  std::lock_guard<std::mutex> l(fd_mu_);
  const int fd = client_fd_.load();
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

std::vector<Bytes> FakeServer::requests() {
  std::lock_guard<std::mutex> l(mu_);
  return requests_;
}

void FakeServer::SendRaw(const Bytes& frame) {
  std::lock_guard<std::mutex> l(fd_mu_);
  const int fd = client_fd_.load();
  if (fd >= 0) WriteAll(fd, frame.data(), frame.size());
}

void FakeServer::Run() {
  pollfd p{listen_fd_, POLLIN, 0};
  while (!stop_ && ::poll(&p, 1, 100) == 0) {
  }
  if (stop_) return;
  const int fd = ::accept(listen_fd_, nullptr, nullptr);
  if (fd < 0) return;
  client_fd_ = fd;
  for (;;) {
    std::uint8_t len[4];
    if (!ReadAll(fd, len, 4)) break;
    const std::size_t n = (std::size_t{len[1]} << 16) | (std::size_t{len[2]} << 8) | len[3];
    Bytes msg(n);
    if (!ReadAll(fd, msg.data(), n)) break;
    {
      std::lock_guard<std::mutex> l(mu_);
      requests_.push_back(msg);
    }
    auto h = smb2::DecodeHeader(msg);
    if (!h) break;
    Reply r = script_(msg, *h);
    for (const Bytes& f : r.frames) {
      const std::uint8_t pre[4] = {0, static_cast<std::uint8_t>(f.size() >> 16),
                                   static_cast<std::uint8_t>(f.size() >> 8), static_cast<std::uint8_t>(f.size())};
      std::lock_guard<std::mutex> l(fd_mu_);  // whole frames, never interleaved with SendRaw's
      WriteAll(fd, pre, 4);
      WriteAll(fd, f.data(), f.size());
    }
    if (r.close_after) break;
  }
  std::lock_guard<std::mutex> l(fd_mu_);
  client_fd_ = -1;
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

}  // namespace smbgate::test
