#include "smb2/client/tcp_transport.h"

#include <boost/asio.hpp>
#include <deque>
#include <future>

#include "smb2/client/connection.h"
#include "smb2/client/errors.h"

namespace smbgate::smb2 {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// MS-SMB2 2.1: the Direct TCP header is one zero byte and a 24-bit length,
// so no frame can exceed 16 MiB - 1.
constexpr std::size_t kMaxFrame = (1u << 24) - 1;

std::error_code ToStd(const boost::system::error_code& ec) {
  if (ec == asio::error::operation_aborted) return client_errc::cancelled;
  if (ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe) {
    return client_errc::connection_lost;
  }
  // The resolver's errors have categories of their own; their values are
  // not errno values.
  if (ec.category() == asio::error::get_netdb_category() || ec.category() == asio::error::get_addrinfo_category()) {
    return client_errc::host_not_found;
  }
  return std::error_code(ec.value(), std::system_category());
}

class TcpTransport final : public Transport {
 public:
  TcpTransport(tcp::socket sock, std::string peer) : sock_(std::move(sock)), peer_(std::move(peer)) {}

  void Start(Handlers h) override {
    handlers_ = std::move(h);
    ReadHeader();
  }

  void Send(Bytes frame) override {
    if (closed_) return;
    OutFrame f;
    const std::size_t n = frame.size();
    f.prefix = {0, static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8),
                static_cast<std::uint8_t>(n)};
    f.message = std::move(frame);
    out_.push_back(std::move(f));
    Write();
  }

  void Close() override {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_both, ignored);
    sock_.close(ignored);
    // An async_write in progress still reads the frames at the front of
    // `out_`: free them only when no write is running (its handler sees
    // the closed socket and frees nothing the kernel still reads).
    if (!writing_) out_.clear();
  }

  void SetMaxFrame(std::size_t bytes) override { max_frame_ = std::min(bytes, kMaxFrame); }
  std::string peer() const override { return peer_; }

 private:
  struct OutFrame {
    std::array<std::uint8_t, 4> prefix;
    Bytes message;
  };

  void Fail(std::error_code ec) {
    if (closed_) return;
    Close();
    if (handlers_.on_error) handlers_.on_error(ec);
  }

  void Write() {
    if (writing_ || out_.empty() || closed_) return;
    writing_ = true;
    // Gather several queued frames into one write: fewer syscalls when many
    // small requests are in flight.
    std::vector<asio::const_buffer> bufs;
    std::size_t count = 0, bytes = 0;
    for (auto& f : out_) {
      if (count == 64 || (count > 0 && bytes > (4u << 20))) break;
      bufs.emplace_back(asio::buffer(f.prefix));
      bufs.emplace_back(asio::buffer(f.message));
      bytes += 4 + f.message.size();
      ++count;
    }
    asio::async_write(sock_, bufs, [this, count](const boost::system::error_code& ec, std::size_t) {
      writing_ = false;
      if (closed_) {
        out_.clear();
        return;
      }
      if (ec) return Fail(ToStd(ec));
      for (std::size_t i = 0; i < count && !out_.empty(); ++i) out_.pop_front();
      Write();
    });
  }

  void ReadHeader() {
    asio::async_read(sock_, asio::buffer(len_buf_), [this](const boost::system::error_code& ec, std::size_t) {
      if (closed_) return;
      if (ec) return Fail(ToStd(ec));
      if (len_buf_[0] != 0) return Fail(errc::malformed_response);
      const std::size_t n = (std::size_t{len_buf_[1]} << 16) | (std::size_t{len_buf_[2]} << 8) | len_buf_[3];
      if (n < 4 || n > max_frame_) return Fail(errc::malformed_response);
      auto frame = std::make_shared<Bytes>(n);
      asio::async_read(sock_, asio::buffer(*frame), [this, frame](const boost::system::error_code& ec2, std::size_t) {
        if (closed_) return;
        if (ec2) return Fail(ToStd(ec2));
        handlers_.on_frame(frame);
        if (!closed_) ReadHeader();
      });
    });
  }

  tcp::socket sock_;
  std::string peer_;
  Handlers handlers_;
  std::deque<OutFrame> out_;
  std::array<std::uint8_t, 4> len_buf_{};
  std::size_t max_frame_ = kMaxFrame;
  bool writing_ = false;
  bool closed_ = false;
};

}  // namespace

Result<std::unique_ptr<Transport>> ConnectTcp(asio::io_context& io, const ConnectionOptions& opts,
                                              OpenReport* report) {
  struct State {
    explicit State(asio::io_context& io) : resolver(io), timer(io), sock(io) {}
    tcp::resolver resolver;
    asio::steady_timer timer;
    tcp::socket sock;
    std::string peer;
    bool finished = false;
    bool resolved = false;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point resolved_at;
    std::promise<std::error_code> done;
  };
  auto st = std::make_shared<State>(io);
  auto f = st->done.get_future();
  asio::post(io, [st, &opts] {
    auto finish = [st](std::error_code ec) {
      if (st->finished) return;
      st->finished = true;
      st->timer.cancel();
      st->resolver.cancel();
      if (ec) {
        boost::system::error_code ignored;
        st->sock.close(ignored);
      }
      st->done.set_value(ec);
    };
    st->timer.expires_after(opts.connect_timeout);
    st->timer.async_wait([st, finish](const boost::system::error_code& ec) {
      if (ec) return;
      boost::system::error_code ignored;
      st->sock.close(ignored);
      finish(client_errc::timeout);
    });
    st->resolver.async_resolve(
        opts.host, std::to_string(opts.port),
        [st, finish](const boost::system::error_code& ec, tcp::resolver::results_type r) {
          if (ec) return finish(ToStd(ec));
          st->resolved = true;
          st->resolved_at = std::chrono::steady_clock::now();
          asio::async_connect(st->sock, r, [st, finish](const boost::system::error_code& ec2, const tcp::endpoint& ep) {
            if (ec2) return finish(ToStd(ec2));
            const std::string addr = ep.address().to_string();
            st->peer = (ep.address().is_v6() ? "[" + addr + "]" : addr) + ":" + std::to_string(ep.port());
            boost::system::error_code ignored;
            st->sock.set_option(tcp::no_delay(true), ignored);
            finish({});
          });
        });
  });
  std::error_code ec = f.get();
  if (report) {
    using std::chrono::duration_cast;
    using std::chrono::microseconds;
    const auto now = std::chrono::steady_clock::now();
    // Read after the promise: the I/O thread wrote these before setting it.
    if (st->resolved) {
      report->dns = duration_cast<microseconds>(st->resolved_at - st->started);
      report->connect = duration_cast<microseconds>(now - st->resolved_at);
    }
    report->failed_step = ec ? (st->resolved ? "connect" : "dns") : nullptr;
  }
  if (ec) return ec;
  return std::unique_ptr<Transport>(new TcpTransport(std::move(st->sock), std::move(st->peer)));
}

}  // namespace smbgate::smb2
