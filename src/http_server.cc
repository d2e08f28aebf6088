#include "src/http_server.h"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "src/logging.h"

namespace smbgate {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

std::error_code ToStd(const boost::system::error_code& ec) {
  if (ec.category() == boost::system::system_category() ||
      ec.category() == boost::system::generic_category()) {
    return {ec.value(), std::system_category()};
  }
  return std::make_error_code(std::errc::io_error);
}

}  // namespace

class HttpServer::Impl {
 public:
  class Session;

  Impl(HttpHandlers h, HttpServerLimits l)
      : handlers(std::move(h)), limits(l) {}

  void Accept();
  http::response<http::string_body> Respond(
      const http::request<http::string_body>& req);

  // Declared before the io_context: sessions still owned by its pending
  // handlers touch `active` when the io_context destroys them.
  HttpHandlers handlers;
  HttpServerLimits limits;
  std::size_t active = 0;                        // server thread only
  std::vector<std::weak_ptr<Session>> sessions;  // server thread only
  net::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::uint16_t bound_port = 0;
  std::thread thread;
  std::atomic<bool> stopped{false};
};

// One connection: read a request, write the response, repeat while the
// client keeps the connection alive. Every read and write has a deadline.
class HttpServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Impl* server)
      : stream_(std::move(socket)), server_(server) {
    ++server_->active;
  }
  ~Session() { --server_->active; }

  void Read() {
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(server_->limits.max_request_bytes));
    parser_->body_limit(server_->limits.max_request_bytes);
    stream_.expires_after(server_->limits.read_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) {
          self->OnRead(ec);
        });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted ||
        ec == net::error::connection_reset || ec == net::error::eof) {
      Close();
      return;
    }
    if (ec) {
      // A malformed or oversized request: say so once and hang up.
      const bool too_big = ec == http::error::header_limit ||
                           ec == http::error::body_limit ||
                           ec == http::error::buffer_overflow;
      res_.emplace(
          too_big ? http::status::payload_too_large : http::status::bad_request,
          11);
      res_->set(http::field::content_type, "text/plain; charset=utf-8");
      res_->body() = too_big ? "request too large\n" : "bad request\n";
      res_->keep_alive(false);
      res_->prepare_payload();
    } else {
      res_.emplace(server_->Respond(parser_->get()));
    }
    stream_.expires_after(server_->limits.read_timeout);
    http::async_write(
        stream_, *res_,
        [self = shared_from_this()](beast::error_code wec, std::size_t) {
          self->OnWrite(wec);
        });
  }

  void OnWrite(beast::error_code ec) {
    const bool keep = res_->keep_alive();
    res_.reset();
    if (ec || !keep) {
      Close();
      return;
    }
    Read();
  }

  beast::tcp_stream stream_;
  Impl* server_;
  // One buffer for the connection, bounded like the parser: a pipelining
  // client cannot make it grow past the limit either.
  beast::flat_buffer buffer_{server_->limits.max_request_bytes};
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
};

void HttpServer::Impl::Accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      // EMFILE and the like: try again rather than stop serving for good.
      Accept();
      return;
    }
    std::erase_if(sessions, [](const auto& w) { return w.expired(); });
    if (active >= limits.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      auto s = std::make_shared<Session>(std::move(socket), this);
      sessions.push_back(s);
      s->Read();
    }
    Accept();
  });
}

http::response<http::string_body> HttpServer::Impl::Respond(
    const http::request<http::string_body>& req) {
  http::response<http::string_body> res{http::status::ok, req.version()};
  res.set(http::field::server, "smbgate");
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  std::string_view target(req.target().data(), req.target().size());
  target = target.substr(0, target.find('?'));

  const bool head = req.method() == http::verb::head;
  try {
    if (req.method() != http::verb::get && !head) {
      res.result(http::status::method_not_allowed);
      res.set(http::field::allow, "GET, HEAD");
      res.body() = "method not allowed\n";
    } else if (target == "/healthz") {
      const bool ok = !handlers.healthy || handlers.healthy();
      res.result(ok ? http::status::ok : http::status::service_unavailable);
      res.body() = ok ? "ok\n" : "unhealthy\n";
    } else if (target == "/readyz") {
      const bool ok = handlers.ready && handlers.ready();
      res.result(ok ? http::status::ok : http::status::service_unavailable);
      if (ok) {
        res.body() = "ready\n";
      } else {
        std::string why =
            handlers.not_ready_reason ? handlers.not_ready_reason() : "";
        res.body() =
            (why.empty() ? std::string("not ready") : "not ready: " + why) +
            "\n";
      }
    } else if (target == "/metrics" && handlers.metrics) {
      res.set(http::field::content_type,
              "text/plain; version=0.0.4; charset=utf-8");
      res.body() = handlers.metrics();
    } else {
      res.result(http::status::not_found);
      res.body() = "not found (try /healthz, /readyz or /metrics)\n";
    }
  } catch (...) {
    res.result(http::status::internal_server_error);
    res.body() = "internal error\n";
  }
  res.prepare_payload();
  if (head) {
    // Content-Length stays that of the GET response; no body is sent.
    res.body().clear();
  }
  return res;
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(std::string address,
                                                      std::uint16_t port,
                                                      HttpHandlers handlers,
                                                      HttpServerLimits limits) {
  beast::error_code ec;
  const net::ip::address addr = net::ip::make_address(address, ec);
  if (ec) return std::make_error_code(std::errc::invalid_argument);
  if (limits.max_connections == 0) limits.max_connections = 1;
  auto impl = std::make_unique<Impl>(std::move(handlers), limits);
  const tcp::endpoint endpoint(addr, port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec && addr.is_v6())
    impl->acceptor.set_option(net::ip::v6_only(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return ToStd(ec);
  impl->bound_port = impl->acceptor.local_endpoint(ec).port();
  if (ec) return ToStd(ec);
  if (!addr.is_loopback()) {
    LogWarn(
        "the metrics and health endpoints listen on a non-loopback address: "
        "anyone who can "
        "reach it can read them",
        {{"address", address}, {"port", impl->bound_port}});
  }
  impl->Accept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] {
    for (;;) {
      try {
        raw->ioc.run();
        return;
      } catch (const std::exception& e) {
        LogError("http server: unexpected exception; continuing",
                 {{"error", e.what()}});
      } catch (...) {
        LogError("http server: unexpected exception; continuing");
      }
    }
  });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::Stop() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  // The server's thread is gone: its sockets may be closed from here.
  beast::error_code ec;
  impl_->acceptor.close(ec);
  for (auto& w : impl_->sessions) {
    if (auto s = w.lock()) s->Close();
  }
}

std::uint16_t HttpServer::port() const noexcept { return impl_->bound_port; }

}  // namespace smbgate
