#include "tests/integration/strip_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace smbgate::test {
namespace {

// MS-SMB2 2.2.1 SMB2 Packet Header: ProtocolId at 0, Flags at 16,
// NextCommand at 20, Signature at 48..64.
constexpr std::size_t kHeaderSize = 64;
constexpr std::size_t kFlagsOffset = 16;
constexpr std::size_t kNextCommandOffset = 20;
constexpr std::size_t kSignatureOffset = 48;
constexpr std::size_t kSignatureSize = 16;
constexpr std::uint32_t kFlagsSigned = 0x00000008;  // SMB2_FLAGS_SIGNED

// MS-SMB2 2.1: the Direct TCP transport puts a 4-byte big-endian length
// (its first byte zero) before each message. Samba's largest frames are a
// little over 8 MiB; anything past this is not SMB2.
constexpr std::size_t kMaxFrame = 16u << 20;
// Back-pressure: a side is not read while its output is this far behind.
constexpr std::size_t kMaxBuffered = 32u << 20;
constexpr std::size_t kReadChunk = 256u << 10;

std::string ErrnoText(int err) { return std::system_category().message(err); }

std::uint32_t LoadLe32(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return le32toh(v);
}
void StoreLe32(std::uint8_t* p, std::uint32_t v) {
  v = htole32(v);
  std::memcpy(p, &v, 4);
}

bool SetNonBlocking(int fd) {
  const int fl = ::fcntl(fd, F_GETFL);
  return fl >= 0 && ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

void SetNoDelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void Append(std::vector<std::uint8_t>* v, const std::uint8_t* p,
            std::size_t n) {
  v->insert(v->end(), p, p + n);
}

// Writes as much of `*buf` to `fd` as it takes. False on a hard error.
bool Flush(int fd, std::vector<std::uint8_t>* buf) {
  while (!buf->empty()) {
    const ssize_t n =
        ::send(fd, buf->data(), buf->size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      buf->erase(buf->begin(), buf->begin() + n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
      return true;
    return false;
  }
  return true;
}

}  // namespace

// One proxied connection. Each side is read until EOF; after one side's
// EOF what it sent is still delivered to the other, then both are closed
// (SMB2 has no use for half-closed connections).
struct StripProxy::Conn {
  int client = -1;
  int server = -1;
  std::vector<std::uint8_t> to_server;  // from the client, not yet written
  std::vector<std::uint8_t> partial;    // from the server, frame incomplete
  std::vector<std::uint8_t> client_partial;  // from the client, incomplete
  std::vector<std::uint8_t> to_client;  // rewritten frames, not yet written
  bool client_eof = false;
  bool server_eof = false;
  bool dead = false;

  ~Conn() {
    if (client >= 0) ::close(client);
    if (server >= 0) ::close(server);
  }
  bool Done() const {
    if (dead) return true;
    if (client_eof) return to_server.empty();
    if (server_eof) return to_client.empty();
    return false;
  }
};

StripProxy::StripProxy(std::string upstream_host, std::uint16_t upstream_port,
                       Mode mode)
    : upstream_host_(std::move(upstream_host)),
      upstream_port_(upstream_port),
      mode_(mode) {}

StripProxy::~StripProxy() { Stop(); }

bool StripProxy::DowngradeNegotiate(std::uint8_t* p, std::size_t size,
                                    std::uint16_t max_dialect) {
  // MS-SMB2 2.2.3: after the 64-byte header, StructureSize (36),
  // DialectCount, ..., and the Dialects array at body offset 36.
  constexpr std::size_t kBody = kHeaderSize;
  if (size < kBody + 36 || !(p[0] == 0xFE && p[1] == 'S' && p[2] == 'M' && p[3] == 'B')) return false;
  if (p[12] != 0 || p[13] != 0) return false;  // not NEGOTIATE
  const std::size_t count = p[kBody + 2] | (p[kBody + 3] << 8);
  if (size < kBody + 36 + 2 * count) return false;
  std::size_t keep = 0;
  while (keep < count) {
    const std::uint16_t d = static_cast<std::uint16_t>(p[kBody + 36 + 2 * keep] | (p[kBody + 37 + 2 * keep] << 8));
    if (d > max_dialect) break;
    ++keep;
  }
  if (keep == count || keep == 0) return false;
  p[kBody + 2] = static_cast<std::uint8_t>(keep);
  p[kBody + 3] = 0;
  return true;
}

int StripProxy::RewriteFrame(std::uint8_t* p, std::size_t size, Mode mode,
                             int* messages_seen) {
  int changed = 0;
  if (mode == Mode::kCorruptEncrypted) {
    // MS-SMB2 2.2.41: 52 bytes of TRANSFORM_HEADER, then the ciphertext.
    if (size > 52 && p[0] == 0xFD && p[1] == 'S' && p[2] == 'M' && p[3] == 'B') {
      if (messages_seen) ++*messages_seen;
      p[size - 1] ^= 0x01;
      return 1;
    }
    return 0;
  }
  std::size_t off = 0;
  // Each message of a compound (MS-SMB2 3.3.4.1.3) starts NextCommand bytes
  // after the previous one; a bad offset ends the walk and leaves the rest.
  while (off <= size && size - off >= kHeaderSize) {
    std::uint8_t* h = p + off;
    if (!(h[0] == 0xFE && h[1] == 'S' && h[2] == 'M' && h[3] == 'B')) break;
    if (messages_seen) ++*messages_seen;
    const std::uint32_t flags = LoadLe32(h + kFlagsOffset);
    std::uint8_t* sig = h + kSignatureOffset;
    switch (mode) {
      case Mode::kPassThrough:
        break;
      case Mode::kStripSignatures: {
        bool any = (flags & kFlagsSigned) != 0;
        for (std::size_t i = 0; i < kSignatureSize; ++i)
          any = any || sig[i] != 0;
        if (any) {
          StoreLe32(h + kFlagsOffset, flags & ~kFlagsSigned);
          std::memset(sig, 0, kSignatureSize);
          ++changed;
        }
        break;
      }
      case Mode::kCorruptEncrypted:
        break;
      case Mode::kCorruptSignatures:
        // Unsigned responses (NEGOTIATE, interim replies) have nothing to
        // corrupt; flipping bits there would test something else.
        if ((flags & kFlagsSigned) != 0) {
          sig[5] ^= 0x20;
          ++changed;
        }
        break;
    }
    const std::uint32_t next = LoadLe32(h + kNextCommandOffset);
    if (next == 0 || next < kHeaderSize || next > size - off) break;
    off += next;
  }
  return changed;
}

bool StripProxy::Start(std::string* error) {
  if (worker_.joinable()) return true;
  // Only loopback upstreams: this is a test tool that rewrites traffic.
  in_addr a4{};
  in6_addr a6{};
  int family = 0;
  if (::inet_pton(AF_INET, upstream_host_.c_str(), &a4) == 1) {
    family = AF_INET;
    if ((ntohl(a4.s_addr) >> 24) != 127) family = 0;
  } else if (::inet_pton(AF_INET6, upstream_host_.c_str(), &a6) == 1) {
    family = IN6_IS_ADDR_LOOPBACK(&a6) ? AF_INET6 : 0;
  }
  if (family == 0) {
    *error = "strip proxy: upstream '" + upstream_host_ +
             "' is not a loopback address literal (127.0.0.0/8 or ::1)";
    return false;
  }

  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) {
    *error = "strip proxy: socket: " + ErrnoText(errno);
    return false;
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 16) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    *error = "strip proxy: listen on 127.0.0.1: " + ErrnoText(errno);
    ::close(listen_fd_);
    listen_fd_ = -1;
    return false;
  }
  port_ = ntohs(a.sin_port);
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    *error = "strip proxy: pipe: " + ErrnoText(errno);
    ::close(listen_fd_);
    listen_fd_ = -1;
    return false;
  }
  worker_ = std::thread([this] { Run(); });
  return true;
}

void StripProxy::Stop() {
  if (worker_.joinable()) {
    const char x = 'x';
    [[maybe_unused]] ssize_t n = ::write(wake_[1], &x, 1);
    worker_.join();
  }
  for (int* fd : {&listen_fd_, &wake_[0], &wake_[1]}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

void StripProxy::Run() {
  std::vector<std::unique_ptr<Conn>> conns;
  std::vector<std::uint8_t> chunk(kReadChunk);
  std::vector<pollfd> fds;

  // Connects to the server for a newly accepted client; blocking is fine on
  // loopback (it completes or is refused at once).
  auto open_upstream = [this]() -> int {
    const bool v6 = upstream_host_.find(':') != std::string::npos;
    const int fd =
        ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int rc;
    if (v6) {
      sockaddr_in6 s6{};
      s6.sin6_family = AF_INET6;
      s6.sin6_port = htons(upstream_port_);
      ::inet_pton(AF_INET6, upstream_host_.c_str(), &s6.sin6_addr);
      rc = ::connect(fd, reinterpret_cast<sockaddr*>(&s6), sizeof s6);
    } else {
      sockaddr_in s4{};
      s4.sin_family = AF_INET;
      s4.sin_port = htons(upstream_port_);
      ::inet_pton(AF_INET, upstream_host_.c_str(), &s4.sin_addr);
      rc = ::connect(fd, reinterpret_cast<sockaddr*>(&s4), sizeof s4);
    }
    if (rc != 0 || !SetNonBlocking(fd)) {
      ::close(fd);
      return -1;
    }
    SetNoDelay(fd);
    return fd;
  };

  // Moves every complete frame from `partial` to `to_client`, rewritten.
  auto take_frames = [this](Conn& c) {
    std::size_t off = 0;
    while (c.partial.size() - off >= 4) {
      const std::uint8_t* h = c.partial.data() + off;
      const std::size_t len = (std::size_t{h[0]} << 24) |
                              (std::size_t{h[1]} << 16) |
                              (std::size_t{h[2]} << 8) | h[3];
      if (len > kMaxFrame) {
        c.dead = true;  // not SMB2 over Direct TCP
        return;
      }
      if (c.partial.size() - off - 4 < len) break;
      std::uint8_t* payload = c.partial.data() + off + 4;
      // MS-SMB2 2.2.1: Command at 12, Status at 8, Flags at 16,
      // NextCommand at 20; the error body of 2.2.2 is 9 bytes.
      const bool plain = len >= kHeaderSize && payload[0] == 0xFE && payload[1] == 'S';
      if (plain && expire_armed_.load() && LoadLe32(payload + kNextCommandOffset) == 0 &&
          (payload[12] | (payload[13] << 8)) == expire_command_.load() && expire_armed_.exchange(false)) {
        std::vector<std::uint8_t> m(payload, payload + kHeaderSize);
        StoreLe32(m.data() + 8, 0xC0000203);  // STATUS_USER_SESSION_DELETED
        StoreLe32(m.data() + kFlagsOffset, LoadLe32(m.data() + kFlagsOffset) & ~kFlagsSigned);
        std::memset(m.data() + kSignatureOffset, 0, kSignatureSize);
        const std::uint8_t body[9] = {9, 0, 0, 0, 0, 0, 0, 0, 0};
        m.insert(m.end(), body, body + sizeof body);
        const std::uint8_t prefix[4] = {0, 0, 0, static_cast<std::uint8_t>(m.size())};
        Append(&c.to_client, prefix, 4);
        Append(&c.to_client, m.data(), m.size());
        ++expired_;
        off += 4 + len;
        continue;
      }
      if (plain && cut_armed_.load() && (payload[12] | (payload[13] << 8)) == cut_command_.load() &&
          !(LoadLe32(payload + 8) == 0x00000103 && (payload[kFlagsOffset] & 0x02)) && cut_armed_.exchange(false)) {
        // Not an interim STATUS_PENDING: the final answer, lost.
        ++cuts_;
        c.dead = true;
        c.partial.clear();
        return;
      }
      int seen = 0;
      const int changed = RewriteFrame(payload, len, mode_.load(), &seen);
      responses_ += static_cast<std::uint64_t>(seen);
      rewritten_ += static_cast<std::uint64_t>(changed);
      Append(&c.to_client, c.partial.data() + off, 4 + len);
      off += 4 + len;
    }
    c.partial.erase(c.partial.begin(),
                    c.partial.begin() + static_cast<std::ptrdiff_t>(off));
  };

  // Moves every complete client frame to `to_server`, NEGOTIATE requests
  // downgraded when asked.
  auto take_client_frames = [this](Conn& c) {
    std::size_t off = 0;
    while (c.client_partial.size() - off >= 4) {
      const std::uint8_t* h = c.client_partial.data() + off;
      const std::size_t len = (std::size_t{h[0]} << 24) | (std::size_t{h[1]} << 16) | (std::size_t{h[2]} << 8) | h[3];
      if (len > kMaxFrame) {
        c.dead = true;
        return;
      }
      if (c.client_partial.size() - off - 4 < len) break;
      const std::uint16_t max = downgrade_.load();
      if (max != 0 && DowngradeNegotiate(c.client_partial.data() + off + 4, len, max)) ++downgraded_;
      Append(&c.to_server, c.client_partial.data() + off, 4 + len);
      off += 4 + len;
    }
    c.client_partial.erase(c.client_partial.begin(), c.client_partial.begin() + static_cast<std::ptrdiff_t>(off));
  };

  // Reads what `fd` has; false at EOF or on an error.
  auto read_some = [&chunk](int fd, std::vector<std::uint8_t>* into) {
    const ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n > 0) {
      Append(into, chunk.data(), static_cast<std::size_t>(n));
      return true;
    }
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
  };

  for (;;) {
    fds.clear();
    fds.push_back({wake_[0], POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const auto& c : conns) {
      // A side that reached EOF is not polled any more (poll would report
      // POLLHUP on it for ever); what it sent is only flushed to the other.
      short ce = 0, se = 0;
      if (!c->client_eof && c->to_server.size() < kMaxBuffered) ce |= POLLIN;
      if (!c->server_eof &&
          c->to_client.size() + c->partial.size() < kMaxBuffered) {
        se |= POLLIN;
      }
      if (!c->to_client.empty()) ce |= POLLOUT;
      if (!c->to_server.empty()) se |= POLLOUT;
      fds.push_back({c->client_eof && !(ce & POLLOUT) ? -1 : c->client, ce, 0});
      fds.push_back({c->server_eof && !(se & POLLOUT) ? -1 : c->server, se, 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents != 0) break;  // Stop()

    for (std::size_t i = 0; i < conns.size(); ++i) {
      Conn& c = *conns[i];
      const short cr = fds[2 + 2 * i].revents;
      const short sr = fds[3 + 2 * i].revents;
      if (cr & (POLLIN | POLLHUP | POLLERR)) {
        if (!c.client_eof && !read_some(c.client, &c.client_partial))
          c.client_eof = true;
        take_client_frames(c);
      }
      if (sr & (POLLIN | POLLHUP | POLLERR)) {
        if (!c.server_eof && !read_some(c.server, &c.partial))
          c.server_eof = true;
        take_frames(c);
        // A truncated last frame goes through as it is.
        if (c.server_eof && !c.partial.empty()) {
          Append(&c.to_client, c.partial.data(), c.partial.size());
          c.partial.clear();
        }
      }
      if (!c.client_eof || !c.to_client.empty()) {
        if (!Flush(c.client, &c.to_client)) c.dead = true;
      }
      if (!c.server_eof || !c.to_server.empty()) {
        if (!Flush(c.server, &c.to_server)) c.dead = true;
      }
      // Nothing more can reach a side that hung up.
      if (c.client_eof) c.to_client.clear();
      if (c.server_eof) c.to_server.clear();
    }
    std::erase_if(conns,
                  [](const std::unique_ptr<Conn>& c) { return c->Done(); });

    if (fds[1].revents & POLLIN) {
      for (;;) {
        const int client = ::accept4(listen_fd_, nullptr, nullptr,
                                     SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (client < 0) break;
        const int server = open_upstream();
        if (server < 0) {
          ::close(client);
          continue;
        }
        SetNoDelay(client);
        auto c = std::make_unique<Conn>();
        c->client = client;
        c->server = server;
        conns.push_back(std::move(c));
        ++connections_;
      }
    }
  }
  conns.clear();
}

}  // namespace smbgate::test
