#include "src/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

namespace smbgate {
namespace {

// A plain blocking TCP client over IPv4 loopback, with a receive timeout so
// a broken server fails the test instead of hanging it.
class Client {
 public:
  explicit Client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ =
        ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }

  bool Send(std::string_view s) {
    while (!s.empty()) {
      const ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      s.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Everything until the server closes (or the timeout).
  std::string ReadAll() {
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
  // What one recv returns (the first response, when it is small).
  std::string ReadOnce() {
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
  }
  // True if the server closes the connection within `ms` without a byte.
  bool ClosedWithin(int ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, ms) != 1) return false;
    char c;
    return ::recv(fd_, &c, 1, MSG_DONTWAIT) == 0 || errno == ECONNRESET;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

std::string Get(std::uint16_t port, std::string_view method,
                std::string_view path) {
  Client c(port);
  EXPECT_TRUE(c.connected());
  c.Send(std::string(method) + " " + std::string(path) +
         " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  return c.ReadAll();
}

std::string StatusLine(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

std::string Body(const std::string& response) {
  const auto p = response.find("\r\n\r\n");
  return p == std::string::npos ? "" : response.substr(p + 4);
}

struct State {
  std::atomic<bool> healthy{true};
  std::atomic<bool> ready{false};
};

HttpHandlers MakeHandlers(State* s) {
  HttpHandlers h;
  h.healthy = [s] { return s->healthy.load(); };
  h.ready = [s] { return s->ready.load(); };
  h.not_ready_reason = [] { return std::string("no SMB session"); };
  h.metrics = [] { return std::string("# TYPE x counter\nx 1\n"); };
  return h;
}

TEST(HttpServerTest, Endpoints) {
  State st;
  auto server = HttpServer::Start("127.0.0.1", 0, MakeHandlers(&st));
  ASSERT_TRUE(server) << server.error().message();
  const std::uint16_t port = (*server)->port();
  ASSERT_NE(port, 0);

  std::string r = Get(port, "GET", "/healthz");
  EXPECT_EQ(StatusLine(r), "HTTP/1.1 200 OK");
  EXPECT_EQ(Body(r), "ok\n");
  st.healthy = false;
  EXPECT_EQ(StatusLine(Get(port, "GET", "/healthz")),
            "HTTP/1.1 503 Service Unavailable");

  r = Get(port, "GET", "/readyz");
  EXPECT_EQ(StatusLine(r), "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(Body(r), "not ready: no SMB session\n");
  st.ready = true;
  r = Get(port, "GET", "/readyz");
  EXPECT_EQ(StatusLine(r), "HTTP/1.1 200 OK");
  EXPECT_EQ(Body(r), "ready\n");

  r = Get(port, "GET", "/metrics");
  EXPECT_EQ(StatusLine(r), "HTTP/1.1 200 OK");
  EXPECT_NE(r.find("Content-Type: text/plain; version=0.0.4"),
            std::string::npos)
      << r;
  EXPECT_EQ(Body(r), "# TYPE x counter\nx 1\n");
  EXPECT_EQ(Body(Get(port, "GET", "/metrics?name[]=x")),
            "# TYPE x counter\nx 1\n");

  r = Get(port, "HEAD", "/metrics");
  EXPECT_EQ(StatusLine(r), "HTTP/1.1 200 OK");
  EXPECT_NE(r.find("Content-Length: 21\r\n"), std::string::npos) << r;
  EXPECT_EQ(Body(r), "");

  EXPECT_EQ(StatusLine(Get(port, "GET", "/")), "HTTP/1.1 404 Not Found");
  EXPECT_EQ(StatusLine(Get(port, "GET", "/metricsx")),
            "HTTP/1.1 404 Not Found");
  r = Get(port, "POST", "/metrics");
  EXPECT_EQ(StatusLine(r), "HTTP/1.1 405 Method Not Allowed");
  EXPECT_NE(r.find("Allow: GET, HEAD\r\n"), std::string::npos) << r;
  EXPECT_EQ(StatusLine(Get(port, "DELETE", "/healthz")),
            "HTTP/1.1 405 Method Not Allowed");
}

TEST(HttpServerTest, MissingHandlersAndThrowingHandler) {
  HttpHandlers h;
  h.ready = []() -> bool { throw std::runtime_error("boom"); };
  auto server = HttpServer::Start("127.0.0.1", 0, h);
  ASSERT_TRUE(server);
  const std::uint16_t port = (*server)->port();
  EXPECT_EQ(StatusLine(Get(port, "GET", "/healthz")), "HTTP/1.1 200 OK");
  EXPECT_EQ(StatusLine(Get(port, "GET", "/readyz")),
            "HTTP/1.1 500 Internal Server Error");
  EXPECT_EQ(StatusLine(Get(port, "GET", "/metrics")), "HTTP/1.1 404 Not Found");
}

TEST(HttpServerTest, KeepAliveServesSeveralRequests) {
  State st;
  auto server = HttpServer::Start("127.0.0.1", 0, MakeHandlers(&st));
  ASSERT_TRUE(server);
  Client c((*server)->port());
  ASSERT_TRUE(c.connected());
  c.Send(
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string all = c.ReadAll();
  std::size_t n = 0;
  for (auto p = all.find("HTTP/1.1 "); p != std::string::npos;
       p = all.find("HTTP/1.1 ", p + 1)) {
    ++n;
  }
  EXPECT_EQ(n, 3u) << all;
  EXPECT_NE(all.find("not ready: no SMB session"), std::string::npos);
}

TEST(HttpServerTest, OversizedAndMalformedRequests) {
  State st;
  HttpServerLimits limits;
  limits.max_request_bytes = 1024;
  auto server = HttpServer::Start("127.0.0.1", 0, MakeHandlers(&st), limits);
  ASSERT_TRUE(server);
  const std::uint16_t port = (*server)->port();
  {
    Client c(port);
    c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
           std::string(4000, 'a') + "\r\n\r\n");
    const std::string r = c.ReadAll();
    EXPECT_EQ(StatusLine(r), "HTTP/1.1 413 Payload Too Large")
        << r.substr(0, 200);
  }
  {
    Client c(port);
    c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" +
           std::string(5000, 'b'));
    EXPECT_EQ(StatusLine(c.ReadAll()), "HTTP/1.1 413 Payload Too Large");
  }
  {
    Client c(port);
    c.Send("NOT HTTP AT ALL\r\n\r\n");
    EXPECT_EQ(StatusLine(c.ReadAll()), "HTTP/1.1 400 Bad Request");
  }
  // The server still serves.
  EXPECT_EQ(StatusLine(Get(port, "GET", "/healthz")), "HTTP/1.1 200 OK");
}

TEST(HttpServerTest, IdleConnectionTimesOut) {
  State st;
  HttpServerLimits limits;
  limits.read_timeout = std::chrono::milliseconds(200);
  auto server = HttpServer::Start("127.0.0.1", 0, MakeHandlers(&st), limits);
  ASSERT_TRUE(server);
  Client c((*server)->port());
  ASSERT_TRUE(c.connected());
  c.Send("GET /healthz HTTP/1.1\r\n");  // never finished
  EXPECT_TRUE(c.ClosedWithin(3000));
}

TEST(HttpServerTest, ConnectionCap) {
  State st;
  HttpServerLimits limits;
  limits.max_connections = 1;
  auto server = HttpServer::Start("127.0.0.1", 0, MakeHandlers(&st), limits);
  ASSERT_TRUE(server);
  const std::uint16_t port = (*server)->port();
  auto first = std::make_unique<Client>(port);
  ASSERT_TRUE(first->connected());
  // Make sure the server has accepted the first before the second comes.
  ASSERT_TRUE(first->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(StatusLine(first->ReadOnce()), "HTTP/1.1 200 OK");
  {
    Client second(port);
    ASSERT_TRUE(second.connected());  // the kernel accepts; the server hangs up
    EXPECT_TRUE(second.ClosedWithin(3000));
  }
  // Once the first is gone, a new connection is served.
  first.reset();
  std::string r;
  for (int i = 0; i < 50 && StatusLine(r) != "HTTP/1.1 200 OK"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    r = Get(port, "GET", "/healthz");
  }
  EXPECT_EQ(StatusLine(r), "HTTP/1.1 200 OK");
}

TEST(HttpServerTest, BindErrorsAndStop) {
  State st;
  EXPECT_EQ(HttpServer::Start("not-an-ip", 0, MakeHandlers(&st)).error(),
            std::make_error_code(std::errc::invalid_argument));
  auto server = HttpServer::Start("127.0.0.1", 0, MakeHandlers(&st));
  ASSERT_TRUE(server);
  const std::uint16_t port = (*server)->port();
  auto again = HttpServer::Start("127.0.0.1", port, MakeHandlers(&st));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), std::error_code(EADDRINUSE, std::system_category()));

  Client idle(port);  // an open connection does not hold Stop up
  ASSERT_TRUE(idle.connected());
  (*server)->Stop();
  (*server)->Stop();  // idempotent
  Client after(port);
  EXPECT_FALSE(after.connected());
  EXPECT_TRUE(idle.ClosedWithin(1000));
}

TEST(HttpServerTest, Ipv6Loopback) {
  State st;
  auto server = HttpServer::Start("::1", 0, MakeHandlers(&st));
  if (!server) GTEST_SKIP() << "no IPv6 loopback: " << server.error().message();
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons((*server)->port());
  sa.sin6_addr = in6addr_loopback;
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  const std::string req = "GET /healthz HTTP/1.0\r\n\r\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(req.size()));
  std::string out;
  char buf[1024];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  EXPECT_EQ(StatusLine(out), "HTTP/1.0 200 OK");
}

}  // namespace
}  // namespace smbgate
