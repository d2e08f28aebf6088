#include "smb2/client/connection.h"

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <thread>

#include "auth/crypto.h"
#include "smb2/codec/compound.h"
#include "smb2/codec/negotiate.h"
#include "smb2/codec/status.h"

namespace smbgate::smb2 {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// MS-SMB2 2.1: the Direct TCP header is one zero byte and a 24-bit length,
// so no frame can exceed 16 MiB - 1.
constexpr std::size_t kMaxFrame = (1u << 24) - 1;
// Responses that a timed-out request may still get are remembered this long
// so the credits they grant are not lost.
constexpr auto kZombieLifetime = std::chrono::minutes(5);
constexpr auto kSweepInterval = std::chrono::milliseconds(250);

std::error_code ToStd(const boost::system::error_code& ec) {
  if (ec == asio::error::operation_aborted) return client_errc::cancelled;
  if (ec == asio::error::eof || ec == asio::error::connection_reset ||
      ec == asio::error::broken_pipe) {
    return client_errc::connection_lost;
  }
  return std::error_code(ec.value(), std::system_category());
}

}  // namespace

Result<std::array<std::uint8_t, 16>> ComputeSignature(
    std::uint16_t dialect, auth::SigningAlgorithm alg, ByteSpan key,
    ByteSpan message) {
  if (message.size() < kHeaderSize) return errc::malformed_response;
  // MS-SMB2 3.1.4.1: 2.0.2 and 2.1 use HMAC-SHA256 truncated to 16 bytes;
  // 3.x AES-128-CMAC, or the algorithm 3.1.1 negotiated.
  if (dialect < kDialect300) {
    return auth::HmacSha256Trunc16(key, message);
  }
  if (dialect == kDialect311 && alg == auth::SigningAlgorithm::kAesGmac) {
    // Nonce: MessageId, then a 32-bit word whose bit 0 says the sender is
    // the server and bit 1 that the message is a CANCEL request.
    std::array<std::uint8_t, 12> nonce{};
    std::memcpy(nonce.data(), message.data() + 24, 8);
    std::uint32_t flags = 0, role = 0;
    std::uint16_t command = 0;
    std::memcpy(&flags, message.data() + 16, 4);
    std::memcpy(&command, message.data() + 12, 2);
    if (flags & kFlagServerToRedir) role |= 1;
    if (command == static_cast<std::uint16_t>(Command::kCancel)) role |= 2;
    std::memcpy(nonce.data() + 8, &role, 4);
    return auth::AesGmac128(key, nonce, message);
  }
  return auth::AesCmac128(key, message);
}

struct Connection::Impl {
  struct Pending {
    Command command;
    std::uint64_t session_id;
    std::uint16_t charge;
    ResponseHandler done;  // empty once completed by a timeout
    Clock::time_point deadline;
    std::chrono::milliseconds timeout;
    Bytes sent;
    bool interim_seen = false;
  };
  // One frame to send: a single request, or a compound chain (MS-SMB2
  // 3.2.4.1.4) whose members are sent together and answered one by one.
  struct Waiting {
    std::vector<Request> reqs;
    std::vector<ResponseHandler> dones;
    std::uint16_t charge;  // all members together
    bool related = false;
  };
  struct OutFrame {
    std::array<std::uint8_t, 4> prefix;
    Bytes message;
  };

  explicit Impl(const ConnectionOptions& o)
      : opts(o), work(asio::make_work_guard(io)), sock(io), sweep(io) {}

  ~Impl() {
    asio::post(io, [this] { Fail(client_errc::connection_lost); });
    work.reset();
    if (thread.joinable()) {
      if (thread.get_id() == std::this_thread::get_id()) {
        // Destroyed from its own handler: nothing can join; let the thread
        // finish on its own. Only reachable by misuse (see header).
        thread.detach();
      } else {
        thread.join();
      }
    }
  }

  void Start() {
    thread = std::thread([this] { io.run(); });
    io_thread_id = thread.get_id();
  }

  bool OnIoThread() const { return std::this_thread::get_id() == io_thread_id; }

  // Resolves and connects with a deadline; runs the reader afterwards.
  Result<void> Connect() {
    std::promise<std::error_code> p;
    auto f = p.get_future();
    asio::post(io, [this, &p] {
      auto resolver = std::make_shared<tcp::resolver>(io);
      auto timer = std::make_shared<asio::steady_timer>(io, opts.connect_timeout);
      auto finished = std::make_shared<bool>(false);
      auto finish = [this, &p, finished, timer, resolver](std::error_code ec) {
        if (*finished) return;
        *finished = true;
        timer->cancel();
        resolver->cancel();
        if (ec) {
          boost::system::error_code ignored;
          sock.close(ignored);
        }
        p.set_value(ec);
      };
      timer->async_wait([finish, this](const boost::system::error_code& ec) {
        if (ec) return;
        boost::system::error_code ignored;
        sock.close(ignored);
        finish(client_errc::timeout);
      });
      resolver->async_resolve(
          opts.host, std::to_string(opts.port),
          [this, finish](const boost::system::error_code& ec, tcp::resolver::results_type r) {
            if (ec) return finish(ToStd(ec));
            asio::async_connect(sock, r,
                                [this, finish](const boost::system::error_code& ec2, const tcp::endpoint& ep) {
                                  if (ec2) return finish(ToStd(ec2));
                                  peer_str = ep.address().is_v6()
                                                 ? "[" + ep.address().to_string() + "]:" + std::to_string(ep.port())
                                                 : ep.address().to_string() + ":" + std::to_string(ep.port());
                                  boost::system::error_code ignored;
                                  sock.set_option(tcp::no_delay(true), ignored);
                                  open = true;
                                  ReadHeader();
                                  ArmSweep();
                                  finish({});
                                });
          });
    });
    std::error_code ec = f.get();
    if (ec) return ec;
    return {};
  }

  std::uint16_t ChargeFor(const Request& r) const {
    if (!negotiated.large_mtu || r.payload_size <= 65536) return 1;
    return static_cast<std::uint16_t>((r.payload_size - 1) / 65536 + 1);
  }

  void Submit(Waiting w) {
    if (!open) {
      for (auto& d : w.dones) d(client_errc::connection_lost);
      return;
    }
    std::uint32_t charge = 0;
    for (const Request& r : w.reqs) {
      if (r.message.size() < kHeaderSize) {
        for (auto& d : w.dones) d(errc::malformed_response);
        return;
      }
      charge += ChargeFor(r);
    }
    w.charge = static_cast<std::uint16_t>(std::min<std::uint32_t>(charge, 0xffff));
    waiting.push_back(std::move(w));
    Dispatch();
  }

  void Dispatch() {
    while (open && !waiting.empty() && credits >= waiting.front().charge) {
      Waiting w = std::move(waiting.front());
      waiting.pop_front();
      SendNow(std::move(w));
    }
    if (open && !waiting.empty() && credits < waiting.front().charge && in_flight == 0) {
      // No response can grant more: the server starved us (MS-SMB2 3.2.4.1.3
      // requires it to leave at least one credit).
      Fail(client_errc::credits_exhausted);
    }
  }

  void SendNow(Waiting w) {
    OutFrame f;
    const std::size_t count = w.reqs.size();
    for (std::size_t i = 0; i < count; ++i) {
      Request& req = w.reqs[i];
      const std::uint16_t charge = ChargeFor(req);
      const std::uint64_t mid = next_mid;
      next_mid += charge;
      credits -= charge;
      in_flight += charge;

      // Ask for enough to keep `credits_target` in hand, a bounded step at
      // a time, as MS-SMB2 3.2.4.1.2 leaves it to the client.
      const std::uint32_t balance = credits + in_flight;
      std::uint32_t ask = charge;
      if (balance < opts.credits_target) ask += std::min<std::uint32_t>(opts.credits_target - balance, 64);

      // MS-SMB2 3.2.4.1.4: every member but the last is padded to 8 bytes
      // and NextCommand gives its padded length; the padding is signed too.
      const bool last = i + 1 == count;
      if (!last) req.message.resize((req.message.size() + 7) & ~std::size_t{7}, 0);

      Header h;
      // MS-SMB2 2.2.1.2: CreditCharge is reserved (zero) in 2.0.2.
      h.credit_charge = (negotiated.dialect == 0 || negotiated.dialect == kDialect202) ? 0 : charge;
      h.command = req.command;
      h.credits = static_cast<std::uint16_t>(std::min<std::uint32_t>(ask, 0xffff));
      h.message_id = mid;
      h.process_id = 0xFEFF;
      h.tree_id = req.tree_id;
      h.session_id = req.session_id;
      h.next_command = last ? 0 : static_cast<std::uint32_t>(req.message.size());
      if (w.related && i > 0) h.flags |= kFlagRelatedOperations;
      const SecretBytes* key = nullptr;
      if (req.sign && req.session_id != 0) {
        auto it = keys.find(req.session_id);
        if (it != keys.end()) key = &it->second;
      }
      if (key) h.flags |= kFlagSigned;
      {
        WireWriter hw;
        Encode(h, hw);
        std::memcpy(req.message.data(), hw.buf().data(), kHeaderSize);
      }
      if (key) {
        // Cannot fail for the key sizes DeriveSmbKeys makes; a failure would
        // only send a request the server refuses.
        if (auto sig = ComputeSignature(negotiated.dialect, negotiated.signing_algorithm, key->span(), req.message)) {
          std::memcpy(req.message.data() + kSignatureOffset, sig->data(), kSignatureSize);
        }
      }

      const auto timeout = req.timeout.count() ? req.timeout : opts.request_timeout;
      Pending p{req.command, req.session_id, charge, std::move(w.dones[i]), Clock::now() + timeout, timeout, {}, false};
      if (req.keep_sent) p.sent = req.message;
      pending.emplace(mid, std::move(p));
      if (count == 1) {
        f.message = std::move(req.message);
      } else {
        f.message.insert(f.message.end(), req.message.begin(), req.message.end());
      }
      stats_requests.fetch_add(1, std::memory_order_relaxed);
    }
    const std::size_t n = f.message.size();
    f.prefix = {0, static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
    out.push_back(std::move(f));
    Write();
  }

  void Write() {
    if (writing || out.empty() || !open) return;
    writing = true;
    // Gather several queued frames into one write: fewer syscalls when many
    // small requests are in flight.
    std::vector<asio::const_buffer> bufs;
    std::size_t count = 0, bytes = 0;
    for (auto& f : out) {
      if (count == 64 || (count > 0 && bytes > (4u << 20))) break;
      bufs.emplace_back(asio::buffer(f.prefix));
      bufs.emplace_back(asio::buffer(f.message));
      bytes += 4 + f.message.size();
      ++count;
    }
    asio::async_write(sock, bufs, [this, count](const boost::system::error_code& ec, std::size_t n) {
      writing = false;
      if (ec) return Fail(ToStd(ec));
      stats_bytes_sent.fetch_add(n, std::memory_order_relaxed);
      for (std::size_t i = 0; i < count && !out.empty(); ++i) out.pop_front();
      Write();
    });
  }

  void ReadHeader() {
    asio::async_read(sock, asio::buffer(len_buf), [this](const boost::system::error_code& ec, std::size_t) {
      if (ec) return Fail(ToStd(ec));
      if (len_buf[0] != 0) return Fail(errc::malformed_response);
      const std::size_t n = (std::size_t{len_buf[1]} << 16) | (std::size_t{len_buf[2]} << 8) | len_buf[3];
      if (n < 4 || n > max_frame) return Fail(errc::malformed_response);
      auto frame = std::make_shared<Bytes>(n);
      asio::async_read(sock, asio::buffer(*frame), [this, frame](const boost::system::error_code& ec2, std::size_t) {
        if (ec2) return Fail(ToStd(ec2));
        stats_bytes_received.fetch_add(frame->size() + 4, std::memory_order_relaxed);
        OnFrame(frame);
        if (open) ReadHeader();
      });
    });
  }

  void OnFrame(const std::shared_ptr<Bytes>& frame) {
    std::uint32_t protocol = 0;
    std::memcpy(&protocol, frame->data(), 4);
    if (protocol != kProtocolId) {
      // Encrypted (0xFD) or compressed (0xFC) frames: smbgate negotiated
      // neither, so the server is broken or the stream is corrupt.
      return Fail(errc::malformed_response);
    }
    auto parts = SplitCompound(*frame);
    if (!parts) return Fail(errc::malformed_response);
    for (ByteSpan msg : *parts) {
      auto h = DecodeHeader(msg);
      if (!h || !h->is_response()) return Fail(errc::malformed_response);
      OnMessage(frame, msg, *h);
      if (!open) return;
    }
    Dispatch();
  }

  void OnMessage(const std::shared_ptr<Bytes>& frame, ByteSpan msg, const Header& h) {
    stats_responses.fetch_add(1, std::memory_order_relaxed);
    if (h.message_id == kUnsolicitedMessageId) {
      // MS-SMB2 3.2.5.19: oplock/lease break notifications are not signed.
      // smbgate requests neither oplocks nor leases yet, so none is expected;
      // ignoring one is safe (the server times the break out).
      return;
    }
    auto it = pending.find(h.message_id);
    if (it == pending.end()) return;  // not ours: dropped, like the spec says
    Pending& p = it->second;
    if (h.command != p.command) return Fail(errc::unexpected_command);
    credits += h.credits;

    // MS-SMB2 3.2.5.1.5: an interim response carries the AsyncId and is not
    // signed; the final one follows.
    if (h.status == status::kPending && h.is_async()) {
      p.interim_seen = true;
      p.deadline = Clock::now() + std::max(p.timeout, std::chrono::milliseconds(120'000));
      return;
    }

    Pending done_p = std::move(p);
    pending.erase(it);
    in_flight -= done_p.charge;
    if (!done_p.done) return;  // timed out already; only the credits mattered

    // MS-SMB2 3.2.5.1.3: the key is looked up by the session of the request,
    // not by whatever SessionId the response claims.
    auto key_it = done_p.session_id ? keys.find(done_p.session_id) : keys.end();
    if (key_it != keys.end()) {
      if (!h.is_signed()) {
        stats_unsigned.fetch_add(1, std::memory_order_relaxed);
        if (opts.on_signature_failure) opts.on_signature_failure(true);
        return done_p.done(client_errc::unsigned_response);
      }
      if (h.session_id != done_p.session_id) return done_p.done(client_errc::unknown_session);
      // The frame is ours until delivered: zero the field in place instead
      // of copying the message (3.1.5.1 step 2).
      const std::size_t off = static_cast<std::size_t>(msg.data() - frame->data());
      std::array<std::uint8_t, kSignatureSize> got;
      std::memcpy(got.data(), frame->data() + off + kSignatureOffset, kSignatureSize);
      std::memset(frame->data() + off + kSignatureOffset, 0, kSignatureSize);
      auto want = ComputeSignature(negotiated.dialect, negotiated.signing_algorithm, key_it->second.span(), msg);
      if (!want || !auth::ConstantTimeEqual(*want, got)) {
        stats_bad_sig.fetch_add(1, std::memory_order_relaxed);
        if (opts.on_signature_failure) opts.on_signature_failure(false);
        return done_p.done(client_errc::signature_mismatch);
      }
    }
    if (opts.on_response) opts.on_response(h.command, h.status);
    Response r{frame, msg, h, std::move(done_p.sent)};
    done_p.done(std::move(r));
  }

  void ArmSweep() {
    sweep.expires_after(kSweepInterval);
    sweep.async_wait([this](const boost::system::error_code& ec) {
      if (ec || !open) return;
      const auto now = Clock::now();
      for (auto it = pending.begin(); it != pending.end();) {
        Pending& p = it->second;
        if (p.done && now >= p.deadline) {
          stats_timeouts.fetch_add(1, std::memory_order_relaxed);
          auto d = std::move(p.done);
          p.done = nullptr;
          p.deadline = now + kZombieLifetime;
          d(client_errc::timeout);
          ++it;
        } else if (!p.done && now >= p.deadline) {
          in_flight -= p.charge;
          it = pending.erase(it);
        } else {
          ++it;
        }
      }
      Dispatch();
      ArmSweep();
    });
  }

  void Fail(std::error_code ec) {
    if (!open && pending.empty() && waiting.empty()) {
      boost::system::error_code ignored;
      sweep.cancel();
      sock.close(ignored);
      return;
    }
    open = false;
    boost::system::error_code ignored;
    sock.shutdown(tcp::socket::shutdown_both, ignored);
    sock.close(ignored);
    sweep.cancel();
    // Every waiter learns of the loss now; none is left to time out.
    const std::error_code report = (ec == client_errc::cancelled) ? make_error_code(client_errc::connection_lost) : ec;
    auto p = std::move(pending);
    pending.clear();
    auto w = std::move(waiting);
    waiting.clear();
    // An async_write in progress still reads the frames at the front of
    // `out`: free them only when no write is running (its handler sees the
    // closed socket and frees nothing the kernel still reads).
    if (!writing) out.clear();
    for (auto& [mid, pe] : p) {
      if (pe.done) pe.done(report);
    }
    for (auto& we : w) {
      for (auto& d : we.dones) d(report);
    }
  }

  ConnectionOptions opts;
  NegotiatedState negotiated;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  tcp::socket sock;
  asio::steady_timer sweep;
  std::thread thread;
  std::thread::id io_thread_id;
  std::string peer_str;

  // I/O-thread state.
  std::atomic<bool> open{false};
  bool writing = false;
  std::uint64_t next_mid = 0;
  std::uint32_t credits = 1;  // MS-SMB2 3.2.4.1.3: one credit to start
  std::uint32_t in_flight = 0;
  std::atomic<std::size_t> max_frame{kMaxFrame};
  std::map<std::uint64_t, Pending> pending;
  std::deque<Waiting> waiting;
  std::deque<OutFrame> out;
  std::map<std::uint64_t, SecretBytes> keys;
  std::array<std::uint8_t, 4> len_buf{};

  std::atomic<std::uint64_t> stats_requests{0}, stats_responses{0}, stats_unsigned{0}, stats_bad_sig{0},
      stats_timeouts{0}, stats_bytes_sent{0}, stats_bytes_received{0};
};

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

namespace {

constexpr std::uint16_t kAllDialects[] = {kDialect202, kDialect210, kDialect300, kDialect302, kDialect311};

bool KnownDialect(std::uint16_t d) {
  return std::find(std::begin(kAllDialects), std::end(kAllDialects), d) != std::end(kAllDialects);
}

}  // namespace

Result<std::shared_ptr<Connection>> Connection::Open(const ConnectionOptions& opts, const char** failed_step) {
  const char* ignored_step = nullptr;
  const char*& step = failed_step ? *failed_step : ignored_step;
  step = "negotiate";
  if (!KnownDialect(opts.min_dialect) || !KnownDialect(opts.max_dialect) || opts.min_dialect > opts.max_dialect) {
    return client_errc::no_common_dialect;
  }
  auto impl = std::make_unique<Impl>(opts);
  impl->Start();
  if (auto c = impl->Connect(); !c) {
    step = "connect";
    return c.error();
  }
  std::shared_ptr<Connection> conn(new Connection(std::move(impl)));
  if (auto n = conn->Negotiate(); !n) return n.error();
  return conn;
}

Result<void> Connection::Negotiate() {
  Impl& i = *impl_;
  NegotiatedState& st = i.negotiated;
  const auto random = auth::OsRandom();

  NegotiateRequest nr;
  // MS-SMB2 3.2.4.2.1 (and PEERS.md): signing is always required by smbgate.
  nr.security_mode = kSecurityModeSigningEnabled | kSecurityModeSigningRequired;
  // 2.2.3: Capabilities are zero unless the client offers a 3.x dialect.
  nr.capabilities = i.opts.max_dialect >= kDialect300 ? kCapLargeMtu : 0;
  random(nr.client_guid);
  for (std::uint16_t d : kAllDialects) {
    if (d >= i.opts.min_dialect && d <= i.opts.max_dialect) nr.dialects.push_back(d);
  }
  if (i.opts.max_dialect >= kDialect311) {
    // 2.2.3.1.1: SHA-512 is the only hash; a fresh 32-byte salt each time.
    nr.preauth.hash_algorithms = {kHashAlgorithmSha512};
    nr.preauth.salt.resize(32);
    random(nr.preauth.salt);
    // 2.2.3.1.7: AES-GMAC first, AES-CMAC as the fallback (Samba before
    // 4.15 and Windows before Server 2022 know only CMAC).
    nr.signing_algorithm_ids = {kSigningAesGmac, kSigningAesCmac};
  }
  st.client_guid = nr.client_guid;
  st.client_security_mode = nr.security_mode;
  st.client_capabilities = nr.capabilities;
  st.offered_dialects = nr.dialects;

  WireWriter w;
  w.Zeros(kHeaderSize);
  Encode(nr, w);
  Request req;
  req.command = Command::kNegotiate;
  req.message = w.Take();
  req.sign = false;
  req.keep_sent = true;
  auto resp = Call(std::move(req));
  if (!resp) return resp.error();
  if (resp->status() != status::kSuccess) return MakeNtStatusError(resp->status());
  auto nresp = DecodeNegotiateResponse(resp->message);
  if (!nresp) return nresp.error();

  if (std::find(nr.dialects.begin(), nr.dialects.end(), nresp->dialect_revision) == nr.dialects.end()) {
    return client_errc::no_common_dialect;  // includes the 0x02FF wildcard
  }
  if (!(nresp->security_mode & kSecurityModeSigningEnabled)) return client_errc::signing_not_supported;
  st.dialect = nresp->dialect_revision;
  st.server_guid = nresp->server_guid;
  st.server_capabilities = nresp->capabilities;
  st.server_security_mode = nresp->security_mode;
  st.server_security_buffer.assign(nresp->security_buffer.begin(), nresp->security_buffer.end());
  st.large_mtu = st.dialect != kDialect202 && (nresp->capabilities & kCapLargeMtu);
  const std::uint32_t cap = st.large_mtu ? i.opts.max_io_size : 65536;
  st.max_read_size = std::min(nresp->max_read_size, cap);
  st.max_write_size = std::min(nresp->max_write_size, cap);
  st.max_transact_size = std::min<std::uint32_t>(nresp->max_transact_size, 1 << 20);
  if (st.max_read_size < 4096 || st.max_write_size < 4096) return errc::malformed_response;

  st.signing_algorithm = st.dialect >= kDialect300 ? auth::SigningAlgorithm::kAesCmac
                                                   : auth::SigningAlgorithm::kHmacSha256;
  if (st.dialect == kDialect311) {
    // 3.2.5.2: a 3.1.1 response must carry the preauth integrity context
    // with the hash smbgate offered.
    if (nresp->preauth_hash_algorithm != kHashAlgorithmSha512) return errc::malformed_response;
    if (nresp->signing_algorithm) {
      if (*nresp->signing_algorithm == kSigningAesGmac) {
        st.signing_algorithm = auth::SigningAlgorithm::kAesGmac;
      } else if (*nresp->signing_algorithm != kSigningAesCmac) {
        return errc::malformed_response;  // not one that was offered
      }
    }
    auth::PreauthHash ph;
    ph.Update(resp->sent);
    ph.Update(resp->message);
    st.preauth_hash.assign(ph.value().begin(), ph.value().end());
    st.preauth = ph;
  }
  // The largest response: a READ of max_read_size plus headers and padding.
  const std::size_t biggest = std::max({st.max_read_size, st.max_write_size, st.max_transact_size});
  i.max_frame = std::min(kMaxFrame, biggest + 64 * 1024);
  return {};
}
Connection::~Connection() = default;

void Connection::Send(Request req, ResponseHandler done) {
  Impl* i = impl_.get();
  Impl::Waiting w;
  w.reqs.push_back(std::move(req));
  w.dones.push_back(std::move(done));
  asio::post(i->io, [i, w = std::move(w)]() mutable { i->Submit(std::move(w)); });
}

void Connection::SendCompound(std::vector<Request> reqs, bool related,
                              std::function<void(std::vector<Result<Response>>)> done) {
  Impl* i = impl_.get();
  if (reqs.empty()) return done({});
  // Each member's handler fills its slot; the last one to finish reports.
  struct Gather {
    std::vector<std::optional<Result<Response>>> results;
    std::size_t left;
    std::function<void(std::vector<Result<Response>>)> done;
  };
  auto g = std::make_shared<Gather>();
  g->results.resize(reqs.size());
  g->left = reqs.size();
  g->done = std::move(done);
  Impl::Waiting w;
  w.related = related;
  for (std::size_t k = 0; k < reqs.size(); ++k) {
    w.reqs.push_back(std::move(reqs[k]));
    // All handlers run on the I/O thread: no lock needed.
    w.dones.push_back([g, k](Result<Response> r) {
      g->results[k].emplace(std::move(r));
      if (--g->left) return;
      std::vector<Result<Response>> out;
      out.reserve(g->results.size());
      for (auto& x : g->results) out.push_back(std::move(*x));
      g->done(std::move(out));
    });
  }
  asio::post(i->io, [i, w = std::move(w)]() mutable { i->Submit(std::move(w)); });
}

Result<Response> Connection::Call(Request req) {
  if (impl_->OnIoThread()) return client_errc::cancelled;  // would deadlock
  std::promise<Result<Response>> p;
  auto f = p.get_future();
  Send(std::move(req), [&p](Result<Response> r) { p.set_value(std::move(r)); });
  return f.get();
}

void Connection::SetSigningKey(std::uint64_t session_id, SecretBytes key) {
  Impl* i = impl_.get();
  auto shared_key = std::make_shared<SecretBytes>(std::move(key));
  asio::post(i->io, [i, session_id, shared_key] { i->keys[session_id] = std::move(*shared_key); });
}

void Connection::ForgetSession(std::uint64_t session_id) {
  Impl* i = impl_.get();
  asio::post(i->io, [i, session_id] { i->keys.erase(session_id); });
}

bool Connection::VerifySignature(ByteSpan message, ByteSpan key) const {
  if (message.size() < kHeaderSize) return false;
  Bytes copy(message.begin(), message.end());
  std::memset(copy.data() + kSignatureOffset, 0, kSignatureSize);
  auto want = ComputeSignature(impl_->negotiated.dialect, impl_->negotiated.signing_algorithm, key, copy);
  return want && auth::ConstantTimeEqual(*want, message.subspan(kSignatureOffset, kSignatureSize));
}

const NegotiatedState& Connection::negotiated() const noexcept { return impl_->negotiated; }
const ConnectionOptions& Connection::options() const noexcept { return impl_->opts; }
std::string Connection::peer() const { return impl_->peer_str; }

bool Connection::is_open() const noexcept {
  return impl_->open.load(std::memory_order_relaxed);
}

ConnectionStats Connection::stats() const noexcept {
  ConnectionStats s;
  s.requests_sent = impl_->stats_requests.load(std::memory_order_relaxed);
  s.responses_received = impl_->stats_responses.load(std::memory_order_relaxed);
  s.unsigned_responses = impl_->stats_unsigned.load(std::memory_order_relaxed);
  s.bad_signatures = impl_->stats_bad_sig.load(std::memory_order_relaxed);
  s.timeouts = impl_->stats_timeouts.load(std::memory_order_relaxed);
  s.bytes_sent = impl_->stats_bytes_sent.load(std::memory_order_relaxed);
  s.bytes_received = impl_->stats_bytes_received.load(std::memory_order_relaxed);
  return s;
}

void Connection::Close() {
  Impl* i = impl_.get();
  asio::post(i->io, [i] { i->Fail(client_errc::connection_lost); });
}

}  // namespace smbgate::smb2
