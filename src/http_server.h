// A small HTTP/1.1 server for `/healthz`, `/readyz` and `/metrics`
// (Boost.Beast behind this header), on a thread of its own.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "auth/common/result.h"

namespace smbgate {

// What the endpoints report. Each is called on the server's thread, so it
// must be thread-safe with respect to the rest of the program, quick, and
// not block; an exception it throws becomes a 500 response.
struct HttpHandlers {
  // The process and its event loop are alive. Missing: always healthy.
  std::function<bool()> healthy;
  // Mounted with a good session. Missing: never ready.
  std::function<bool()> ready;
  // Why not ready, for the 503 body (a few words). Missing: "not ready".
  std::function<std::string()> not_ready_reason;
  // The Prometheus text (e.g. GlobalMetrics().RenderPrometheus()).
  // Missing: /metrics is 404.
  std::function<std::string()> metrics;
};

// Bounds on what a client can make the server hold.
struct HttpServerLimits {
  std::size_t max_connections = 16;               // more are closed at once
  std::chrono::milliseconds read_timeout{10000};  // per request and response
  std::size_t max_request_bytes = 8192;           // header and body together
};

// Serves
//   GET /healthz  200 "ok" when healthy(), else 503
//   GET /readyz   200 "ready" when ready(), else 503 with the reason
//   GET /metrics  200, text/plain; version=0.0.4
// HEAD as GET without a body; other methods 405; other paths 404; a query
// string is ignored. Keep-alive is honoured within the limits.
class HttpServer {
 public:
  using Handlers = HttpHandlers;

  // Binds `address` (an IPv4 or IPv6 literal without brackets) and `port`
  // (0: a free port, see port()) and starts the server's thread. A
  // non-loopback address is allowed but logged as a warning. Errors:
  // std::errc::invalid_argument for an address that is not an IP literal;
  // the system's error for a failed bind or listen (EADDRINUSE, EACCES, ...).
  static Result<std::unique_ptr<HttpServer>> Start(
      std::string address, std::uint16_t port, HttpHandlers handlers,
      HttpServerLimits limits = {});

  // Stops: Stop() then release everything.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Closes the listening socket and every connection and joins the thread;
  // no handler runs after it returns. Idempotent. Call it from any thread
  // but the server's own (not from a handler).
  void Stop();

  // The bound port (the chosen one when Start was given 0). Thread-safe.
  std::uint16_t port() const noexcept;

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace smbgate
