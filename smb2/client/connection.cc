#include "smb2/client/connection.h"

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <cstring>
#include <deque>
#include <future>
#include <thread>

#include "auth/crypto.h"
#include "smb2/client/message_security.h"
#include "smb2/client/request_table.h"
#include "smb2/client/tcp_transport.h"
#include "smb2/codec/compound.h"
#include "smb2/codec/negotiate.h"
#include "smb2/codec/notify.h"
#include "smb2/codec/status.h"

namespace smbgate::smb2 {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// Responses that a timed-out request may still get are remembered this long
// so the credits they grant are not lost.
constexpr auto kZombieLifetime = std::chrono::minutes(5);
constexpr auto kSweepInterval = std::chrono::milliseconds(250);
// The DirectTCP maximum (MS-SMB2 2.1) until NEGOTIATE sets a smaller one.
constexpr std::size_t kMaxFrame = (1u << 24) - 1;

constexpr std::uint16_t kAllDialects[] = {kDialect202, kDialect210, kDialect300, kDialect302, kDialect311};

bool KnownDialect(std::uint16_t d) {
  return std::find(std::begin(kAllDialects), std::end(kAllDialects), d) != std::end(kAllDialects);
}

// MS-SMB2 3.3.4.1.1 lets a server answer a request of a session it lost or
// expired without a signature (it may no longer have the key). Such an
// answer can only end in a new session setup, which authenticates itself,
// so it is taken unsigned; it never carries data.
bool SessionGoneStatus(std::uint32_t s) {
  return s == status::kUserSessionDeleted || s == status::kNetworkSessionExpired;
}

}  // namespace

struct Connection::Impl {
  // One frame to send: a single request, or a compound chain (MS-SMB2
  // 3.2.4.1.4) whose members are sent together and answered one by one.
  struct Waiting {
    std::vector<Request> reqs;
    std::vector<ResponseHandler> dones;
    std::uint16_t charge = 0;  // all members together
    bool related = false;
  };

  explicit Impl(const ConnectionOptions& o)
      : opts(o),
        work(asio::make_work_guard(io)),
        sweep(io),
        table(o.credits_target),
        security(std::make_unique<MessageSecurity>(0, auth::SigningAlgorithm::kHmacSha256, 0, false)) {}

  ~Impl() {
    asio::post(io, [this] { Fail(client_errc::connection_lost); });
    work.reset();
    if (thread.joinable()) {
      if (thread.get_id() == std::this_thread::get_id()) {
        // Destroyed from its own handler: nothing can join; let the thread finish on its
        // own. ~Connection hands that case to another thread, so only misuse gets here.
        thread.detach();
      } else {
        thread.join();
      }
    }
    // The transport's sockets belong to `io`: gone before it is.
    transport.reset();
  }

  void Start() {
    thread = std::thread([this] { io.run(); });
    io_thread_id = thread.get_id();
  }

  bool OnIoThread() const { return std::this_thread::get_id() == io_thread_id; }

  // Runs `fn` on the I/O thread and waits for it.
  template <class F>
  auto RunOnIo(F fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto f = task.get_future();
    asio::post(io, [&task] { task(); });
    return f.get();
  }

  // Takes the connected transport and starts reading on the I/O thread.
  void Attach(std::unique_ptr<Transport> t) {
    RunOnIo([this, &t] {
      transport = std::move(t);
      peer_str = transport->peer();
      open = true;
      transport->Start({[this](std::shared_ptr<Bytes> f) { OnFrame(std::move(f)); },
                        [this](std::error_code ec) { Fail(ec); }});
      ArmSweep();
      return 0;
    });
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
    while (open && !waiting.empty() && table.CanSend(waiting.front().charge)) {
      Waiting w = std::move(waiting.front());
      waiting.pop_front();
      SendNow(std::move(w));
    }
    if (open && !waiting.empty() && table.Starved(waiting.front().charge)) {
      // No response can grant more: the server starved us (MS-SMB2 3.2.4.1.3
      // requires it to leave at least one credit).
      Fail(client_errc::credits_exhausted);
    }
  }

  void SendNow(Waiting w) {
    const std::size_t count = w.reqs.size();
    // Members of one frame share their session and tree, so one protection.
    const Protection protection =
        security->ProtectionFor(w.reqs[0].session_id, w.reqs[0].tree_id, w.reqs[0].sign);
    Bytes frame;
    std::vector<std::uint64_t> mids;
    for (std::size_t i = 0; i < count; ++i) {
      Request& req = w.reqs[i];
      const std::uint16_t charge = ChargeFor(req);
      const std::uint16_t ask = table.CreditRequest(charge);
      const std::uint64_t mid = table.Allocate(charge);

      Header h;
      // MS-SMB2 2.2.1.2: CreditCharge is reserved (zero) in 2.0.2.
      h.credit_charge = (negotiated.dialect == 0 || negotiated.dialect == kDialect202) ? 0 : charge;
      h.command = req.command;
      h.credits = ask;
      h.message_id = mid;
      h.process_id = 0xFEFF;
      h.tree_id = req.tree_id;
      h.session_id = req.session_id;
      if (w.related && i > 0) h.flags |= kFlagRelatedOperations;
      if (req.dfs_operations) h.flags |= kFlagDfsOperations;
      if (negotiated.dialect >= kDialect300) {
        // MS-SMB2 2.2.1.2: ChannelSequence in the low 16 bits of Status.
        h.status = channel_sequence;
        if (req.replay) h.flags |= kFlagReplayOperation;
      }
      // MS-SMB2 3.2.4.1.1: an encrypted message is not signed as well.
      if (protection == Protection::kSigned) h.flags |= kFlagSigned;
      {
        WireWriter hw;
        Encode(h, hw);
        std::memcpy(req.message.data(), hw.buf().data(), kHeaderSize);
      }
      PrepareCompoundMember(req.message, i + 1 == count);
      if (protection == Protection::kSigned) security->Sign(req.session_id, req.message);

      const auto timeout = req.timeout.count() ? req.timeout : opts.request_timeout;
      RequestTable::Entry e;
      e.done = std::move(w.dones[i]);
      e.command = req.command;
      e.session_id = req.session_id;
      e.charge = charge;
      e.protection = protection;
      e.sent_at = Clock::now();
      e.deadline = e.sent_at + timeout;
      e.timeout = timeout;
      if (req.keep_sent) e.sent = req.message;
      table.Add(mid, std::move(e));
      mids.push_back(mid);
      if (count == 1) {
        frame = std::move(req.message);
      } else {
        frame.insert(frame.end(), req.message.begin(), req.message.end());
      }
    }
    if (protection == Protection::kEncrypted) {
      auto sealed = security->Encrypt(w.reqs[0].session_id, frame);
      if (!sealed) {
        for (std::uint64_t mid : mids) {
          auto e = table.Take(mid);
          e.done(sealed.error());
        }
        return;
      }
      frame = std::move(*sealed);
    }
    transport->Send(std::move(frame));
  }

  void OnFrame(std::shared_ptr<Bytes> frame) {
    bool encrypted = false;
    std::uint64_t sealed_session = 0;
    switch (ClassifyFrame(*frame)) {
      case FrameKind::kSmb2:
        break;
      case FrameKind::kTransform: {
        // MS-SMB2 3.2.5.1.1.1: decrypt with the key of the session the
        // transform header names.
        auto d = security->Decrypt(*frame);
        if (!d) {
          // Which request it answered is inside the ciphertext: every
          // encrypted request learns of it if no genuine answer comes.
          NoteDropped(d.error(), std::nullopt);
          return;
        }
        sealed_session = d->session_id;
        encrypted = true;
        frame = std::make_shared<Bytes>(std::move(d->frame));
        if (ClassifyFrame(*frame) != FrameKind::kSmb2) return Fail(errc::malformed_response);
        break;
      }
      default:
        // Compressed (0xFC) frames: smbgate never negotiates compression,
        // so the server is broken or the stream is corrupt.
        return Fail(errc::malformed_response);
    }
    auto parts = SplitCompound(*frame);
    if (!parts) return Fail(errc::malformed_response);
    for (ByteSpan msg : *parts) {
      auto h = DecodeHeader(msg);
      if (!h || !h->is_response()) return Fail(errc::malformed_response);
      const std::size_t off = static_cast<std::size_t>(msg.data() - frame->data());
      OnMessage(frame, MutableByteSpan(frame->data() + off, msg.size()), *h, encrypted, sealed_session);
      if (!open) return;
    }
    Dispatch();
  }

  // Why a response for `e` must be dropped, or no error when it may act.
  std::error_code CheckProtection(const RequestTable::Entry& e, MutableByteSpan msg, const Header& h,
                                  bool encrypted, std::uint64_t sealed_session) const {
    if (encrypted) {
      // An encrypted answer is at least as strong as any protection; it
      // must be of the request's session (3.2.5.1.1.1).
      if (sealed_session != h.session_id || (e.session_id != 0 && sealed_session != e.session_id)) {
        return client_errc::unknown_session;
      }
      return {};
    }
    const bool interim = h.status == status::kPending && h.is_async();
    switch (e.protection) {
      case Protection::kNone:
        return {};
      case Protection::kEncrypted:
        if (SessionGoneStatus(h.status) && !h.is_signed()) return {};
        return client_errc::unencrypted_response;
      case Protection::kSigned:
        // MS-SMB2 3.2.5.1.3: interim responses are not signed.
        if (interim) return {};
        if (!h.is_signed()) {
          return SessionGoneStatus(h.status) ? std::error_code{}
                                             : make_error_code(client_errc::unsigned_response);
        }
        // The key is the request's session's, never the one the response
        // claims.
        if (h.session_id != e.session_id) return client_errc::unknown_session;
        if (!security->Verify(e.session_id, msg)) return client_errc::signature_mismatch;
        return {};
    }
    return client_errc::unsigned_response;
  }

  void OnMessage(const std::shared_ptr<Bytes>& frame, MutableByteSpan msg, const Header& h, bool encrypted,
                 std::uint64_t sealed_session) {
    if (h.message_id == kUnsolicitedMessageId) {
      // MS-SMB2 3.2.5.19: oplock/lease break notifications. The server
      // sends them with SessionId 0 and unsigned (3.3.4.7), so they cannot
      // be verified; the handler only ever gives up caching for a lease it
      // holds, which a forged break cannot turn into harm.
      if (h.command != Command::kOplockBreak || !lease_break_handler) return;
      auto kind = ClassifyOplockBreak(msg);
      if (!kind || *kind != OplockBreakKind::kLease) return;
      if (auto n = DecodeLeaseBreakNotification(msg)) lease_break_handler(*n);
      return;
    }
    RequestTable::Entry* e = table.Find(h.message_id);
    if (!e) return;  // not ours: dropped, as MS-SMB2 3.2.5.1.2 says
    // Verified before anything of the request is touched: a forged answer
    // neither completes it, nor extends it, nor grants credits.
    if (std::error_code bad = CheckProtection(*e, msg, h, encrypted, sealed_session)) {
      NoteDropped(bad, h.message_id);
      return;
    }
    table.Grant(h.credits);

    if (h.status == status::kPending && h.is_async()) {
      // MS-SMB2 3.2.5.1.5: an interim response; the final one follows. It
      // restarts the deadline once.
      if (!e->interim_seen) {
        e->interim_seen = true;
        e->deadline = Clock::now() + std::max(e->timeout, std::chrono::milliseconds(120'000));
      }
      return;
    }
    if (h.command != e->command) return Fail(errc::unexpected_command);
    RequestTable::Entry done = table.Take(h.message_id);
    if (!done.done) return;  // timed out already; only the credits mattered
    if (opts.on_response) opts.on_response(h.command, h.status, Clock::now() - done.sent_at);
    Response r{frame, msg, h, std::move(done.sent), encrypted};
    done.done(std::move(r));
  }

  // A response that failed its protection: counted, logged by the observer,
  // and remembered on the request it claimed to answer (all encrypted ones
  // when that cannot be known), which keeps waiting.
  void NoteDropped(std::error_code why, std::optional<std::uint64_t> mid) {
    if (opts.on_protection_failure) opts.on_protection_failure(why);
    if (mid) {
      if (auto* e = table.Find(*mid)) e->dropped = why;
      return;
    }
    for (auto& [id, e] : table.entries()) {
      if (e.protection == Protection::kEncrypted) e.dropped = why;
    }
  }

  void ArmSweep() {
    sweep.expires_after(kSweepInterval);
    sweep.async_wait([this](const boost::system::error_code& ec) {
      if (ec || !open) return;
      for (auto& [mid, why] : table.Expire(Clock::now(), kZombieLifetime)) {
        auto* e = table.Find(mid);
        auto d = std::move(e->done);
        e->done = nullptr;
        d(why);
      }
      Dispatch();
      ArmSweep();
    });
  }

  void Fail(std::error_code ec) {
    sweep.cancel();
    if (transport) transport->Close();
    if (!open && table.size() == 0 && waiting.empty()) return;
    open = false;
    // Every waiter learns of the loss now; none is left to time out.
    const std::error_code report =
        (ec == client_errc::cancelled) ? make_error_code(client_errc::connection_lost) : ec;
    auto p = table.TakeAll();
    auto w = std::move(waiting);
    waiting.clear();
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
  asio::steady_timer sweep;
  std::thread thread;
  std::thread::id io_thread_id;
  std::string peer_str;

  // I/O-thread state.
  std::atomic<bool> open{false};
  std::unique_ptr<Transport> transport;
  RequestTable table;
  // ChannelSequence of 3.x requests (SetChannelSequence); I/O thread only.
  std::uint16_t channel_sequence = 0;
  std::function<void(const LeaseBreakNotification&)> lease_break_handler;
  std::unique_ptr<MessageSecurity> security;
  std::deque<Waiting> waiting;
};

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::shared_ptr<Connection>> Connection::Open(const ConnectionOptions& opts, const char** failed_step) {
  return Open(opts, {}, failed_step);
}

Result<std::shared_ptr<Connection>> Connection::Open(const ConnectionOptions& opts, OpenReport* report) {
  OpenReport ignored;
  OpenReport& r = report ? *report : ignored;
  r.failed_step = "negotiate";
  if (!KnownDialect(opts.min_dialect) || !KnownDialect(opts.max_dialect) || opts.min_dialect > opts.max_dialect) {
    return client_errc::no_common_dialect;
  }
  if (opts.seal && opts.max_dialect < kDialect300) return client_errc::encryption_unavailable;
  auto impl = std::make_unique<Impl>(opts);
  impl->Start();
  auto t = ConnectTcp(impl->io, opts, &r);
  if (!t) return t.error();
  return Finish(std::move(impl), std::move(*t), &r);
}

Result<std::shared_ptr<Connection>> Connection::Finish(std::unique_ptr<Impl> impl, std::unique_ptr<Transport> t,
                                                       OpenReport* report) {
  impl->Attach(std::move(t));
  std::shared_ptr<Connection> conn(new Connection(std::move(impl)));
  report->failed_step = "negotiate";
  const auto t0 = std::chrono::steady_clock::now();
  if (auto n = conn->Negotiate(); !n) return n.error();
  report->negotiate =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  report->failed_step = nullptr;
  return conn;
}

Result<std::shared_ptr<Connection>> Connection::Open(const ConnectionOptions& opts,
                                                     const TransportFactory& make_transport,
                                                     const char** failed_step) {
  const char* ignored_step = nullptr;
  const char*& step = failed_step ? *failed_step : ignored_step;
  step = "negotiate";
  if (!KnownDialect(opts.min_dialect) || !KnownDialect(opts.max_dialect) || opts.min_dialect > opts.max_dialect) {
    return client_errc::no_common_dialect;
  }
  if (opts.seal && opts.max_dialect < kDialect300) return client_errc::encryption_unavailable;
  auto impl = std::make_unique<Impl>(opts);
  impl->Start();
  Impl* raw = impl.get();
  OpenReport report;
  auto t = make_transport
               ? make_transport(opts, [raw](std::function<void()> fn) { asio::post(raw->io, std::move(fn)); })
               : ConnectTcp(impl->io, opts, &report);
  if (!t) {
    step = "connect";
    return t.error();
  }
  return Finish(std::move(impl), std::move(*t), &report);
}

Result<void> Connection::Negotiate() {
  Impl& i = *impl_;
  NegotiatedState& st = i.negotiated;
  const auto random = auth::OsRandom();

  NegotiateRequest nr;
  // MS-SMB2 3.2.4.2.1: signing is always required by smbgate.
  nr.security_mode = kSecurityModeSigningEnabled | kSecurityModeSigningRequired;
  // 2.2.3: Capabilities are zero unless the client offers a 3.x dialect;
  // ENCRYPTION is how 3.0 and 3.0.2 servers learn the client can encrypt.
  // LEASING and PERSISTENT_HANDLES: smbgate asks for leases and durable
  // (or, on continuously available shares, persistent) handles (3.2.4.3.5).
  nr.capabilities = i.opts.max_dialect >= kDialect300
                        ? (kCapLargeMtu | kCapEncryption | kCapLeasing | kCapPersistentHandles)
                        : 0;
  random(nr.client_guid);
  for (std::uint16_t d : kAllDialects) {
    if (d >= i.opts.min_dialect && d <= i.opts.max_dialect) nr.dialects.push_back(d);
  }
  if (i.opts.max_dialect >= kDialect311) {
    // 2.2.3.1.1: SHA-512 is the only hash; a fresh 32-byte salt each time.
    nr.preauth.hash_algorithms = {kHashAlgorithmSha512};
    nr.preauth.salt.resize(32);
    random(nr.preauth.salt);
    // 2.2.3.1.2: the ciphers in preference order, GCM first (faster with
    // AES-NI, and the order Windows uses).
    nr.cipher_ids = {kCipherAes128Gcm, kCipherAes128Ccm, kCipherAes256Gcm, kCipherAes256Ccm};
    // 2.2.3.1.7: AES-GMAC first, AES-CMAC as the fallback (Samba before
    // 4.15 and Windows before Server 2022 know only CMAC).
    nr.signing_algorithm_ids = {kSigningAesGmac, kSigningAesCmac};
  }
  if (i.opts.client_guid != std::array<std::uint8_t, 16>{}) nr.client_guid = i.opts.client_guid;
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

  // 3.2.5.2: 3.0 and 3.0.2 encrypt with AES-128-CCM when the server sets
  // SMB2_GLOBAL_CAP_ENCRYPTION.
  if ((st.dialect == kDialect300 || st.dialect == kDialect302) && (nresp->capabilities & kCapEncryption)) {
    st.cipher_id = kCipherAes128Ccm;
  }
  if (st.dialect == kDialect311) {
    // 3.2.5.2: a 3.1.1 response must carry the preauth integrity context
    // with the hash smbgate offered.
    if (nresp->preauth_hash_algorithm != kHashAlgorithmSha512) return errc::malformed_response;
    if (nresp->signing_algorithm && *nresp->signing_algorithm != kSigningAesGmac &&
        *nresp->signing_algorithm != kSigningAesCmac) {
      return errc::malformed_response;  // not one that was offered
    }
    // 0 means no cipher in common; anything else must be one offered.
    if (nresp->cipher && *nresp->cipher != 0) {
      if (std::find(nr.cipher_ids.begin(), nr.cipher_ids.end(), *nresp->cipher) == nr.cipher_ids.end()) {
        return errc::malformed_response;
      }
      st.cipher_id = *nresp->cipher;
    }
    auth::PreauthHash ph;
    ph.Update(resp->sent);
    ph.Update(resp->message);
    st.preauth_hash.assign(ph.value().begin(), ph.value().end());
    st.preauth = ph;
  }
  st.signing_algorithm = auth::SigningAlgorithmFor(
      st.dialect, nresp->signing_algorithm && *nresp->signing_algorithm == kSigningAesGmac);
  if (i.opts.seal && st.cipher_id == 0) return client_errc::encryption_unavailable;
  // The largest response: a compound answering two requests of the largest
  // size (a listing's CREATE and two QUERY_DIRECTORY rounds of
  // max_transact_size; on 2.0.2 that is 64 KiB each) plus headers, padding
  // and a TRANSFORM_HEADER.
  const std::size_t biggest = std::max({st.max_read_size, st.max_write_size, st.max_transact_size});
  i.RunOnIo([&i, &st, biggest] {
    i.security = std::make_unique<MessageSecurity>(st.dialect, st.signing_algorithm, st.cipher_id, i.opts.seal);
    i.transport->SetMaxFrame(std::min(kMaxFrame, 2 * biggest + 64 * 1024));
    return 0;
  });
  return {};
}

Connection::~Connection() {
  if (impl_ && impl_->OnIoThread()) {
    // The last reference went away in one of this connection's own handlers (a completion
    // holding the tree or session): this thread cannot join itself, and the transport whose
    // read handler is on this stack must outlive it. Another thread finishes the teardown: it
    // joins the I/O thread once the handler has returned.
    std::thread([impl = std::move(impl_)]() mutable { impl.reset(); }).detach();
  }
}

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

Result<void> Connection::AddSession(std::uint64_t session_id, auth::SmbSessionKeys keys, bool encrypt_all) {
  Impl* i = impl_.get();
  if (i->OnIoThread()) return client_errc::cancelled;
  return i->RunOnIo([i, session_id, &keys, encrypt_all] {
    return i->security->AddSession(session_id, std::move(keys), encrypt_all);
  });
}

Result<void> Connection::EncryptTree(std::uint64_t session_id, std::uint32_t tree_id) {
  Impl* i = impl_.get();
  if (i->OnIoThread()) return client_errc::cancelled;
  return i->RunOnIo([i, session_id, tree_id] { return i->security->EncryptTree(session_id, tree_id); });
}

void Connection::ForgetSession(std::uint64_t session_id) {
  Impl* i = impl_.get();
  asio::post(i->io, [i, session_id] { i->security->RemoveSession(session_id); });
}

bool Connection::VerifySignature(ByteSpan message, ByteSpan key) const {
  Bytes copy(message.begin(), message.end());
  return VerifyWithKey(impl_->negotiated.dialect, impl_->negotiated.signing_algorithm, key, copy);
}

const NegotiatedState& Connection::negotiated() const noexcept { return impl_->negotiated; }
const ConnectionOptions& Connection::options() const noexcept { return impl_->opts; }
std::string Connection::peer() const { return impl_->peer_str; }

bool Connection::is_open() const noexcept { return impl_->open.load(std::memory_order_relaxed); }

void Connection::SetChannelSequence(std::uint16_t sequence) {
  Impl* i = impl_.get();
  asio::post(i->io, [i, sequence] { i->channel_sequence = sequence; });
}

void Connection::SetLeaseBreakHandler(std::function<void(const LeaseBreakNotification&)> handler) {
  Impl* i = impl_.get();
  asio::post(i->io, [i, handler = std::move(handler)]() mutable { i->lease_break_handler = std::move(handler); });
}

void Connection::Close() {
  Impl* i = impl_.get();
  asio::post(i->io, [i] { i->Fail(client_errc::connection_lost); });
}

}  // namespace smbgate::smb2
